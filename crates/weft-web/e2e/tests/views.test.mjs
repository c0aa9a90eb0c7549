// Every view of the web UI against the real weft binary on a real trace:
// `weft open` on a trace recorded now from programs/shop (a pipeline plus
// goroutines left blocked, so there are flows, stacks and findings).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { HERE, OUT, tempDir, startWeft, launchBrowser, openPage, canvasInk, waitFor, buildGo } from '../lib.mjs';
import { decodeTimeline, decodeProcLanes } from '../../assets/js/api.js';

let weft, browser, page, traceFile;

before(async () => {
  const dir = tempDir('weft-e2e-trace-');
  const bin = buildGo(path.join(HERE, 'programs/shop'), 'shop');
  traceFile = path.join(dir, 'shop.trace');
  execFileSync(bin, ['-trace', traceFile], { stdio: 'inherit', timeout: 120000 });
  assert.ok(fs.statSync(traceFile).size > 1000, 'the recorded trace is not empty');
  weft = await startWeft(['open', traceFile], 'weft-open');
  browser = await launchBrowser();
  page = await openPage(browser, weft.url);
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (weft) weft.proc.stop();
});

const shot = (name) => page.screenshot({ path: path.join(OUT, `${name}.png`) });
const api = async (p) => (await fetch(`${weft.base}${p}`)).json();

test('header shows the totals the server reports', async () => {
  const summary = await api('/api/summary');
  const shown = await page.locator('#total-live').textContent();
  assert.ok(shown && shown.length > 0, 'live total rendered');
  assert.equal(await page.locator('#status').getAttribute('data-state'), 'ready');
  assert.ok(summary.total_goroutines > 1, `summary has goroutines (${summary.total_goroutines})`);
  await waitFor('sparkline drawn', async () => (await canvasInk(page, 'spark')) > 0);
});

test('shape view draws the groups and flows of the trace', async () => {
  await page.click('#tabs button[data-tab=shape]');
  const groups = await api('/api/groups');
  assert.ok(groups.length > 0, 'server lists groups');
  const stats = await waitFor('shape nodes', async () => {
    const s = await page.evaluate(() => window.weft.shape.stats());
    return s.nodes > 0 && s.frames > 2 ? s : null;
  });
  const live = groups.filter((g) => g.live > 0 || !g.system);
  assert.ok(stats.nodes >= Math.min(live.length, 160) , `nodes ${stats.nodes} for ${live.length} groups`);
  assert.ok(await canvasInk(page, 'shape-canvas') > 2000, 'shape canvas has ink');
  await new Promise((r) => setTimeout(r, 1500)); // let the layout settle for the screenshot only
  await shot('shape');
  // Clicking a node opens its group in the inspector.
  const key = stats.nodeKeys.find((k) => k.startsWith('g'));
  const pos = await page.evaluate((k) => window.weft.shape.nodePos(k), key);
  const box = await page.locator('#shape-canvas').boundingBox();
  await page.mouse.click(box.x + pos[0], box.y + pos[1]);
  await waitFor('group in the inspector', async () => (await page.locator('#insp-title').count()) > 0);
  const sel = await page.evaluate(() => window.weft.app.selection);
  assert.equal(sel.kind, 'group');
});

test('timeline draws spans with WebGL2 and zooms', async () => {
  await page.click('#tabs button[data-tab=timeline]');
  const s0 = await waitFor('timeline spans', async () => {
    const s = await page.evaluate(() => window.weft.timeline.stats());
    return s.bufferSpans > 0 && s.spansDrawn > 0 ? s : null;
  }, 60000);
  // Headless chromium has no GPU: WebGL2 is SwiftShader, so the page draws
  // in software (faster there); the WebGL2 path is checked below with ?renderer=webgl2.
  assert.match(s0.glRenderer, /swiftshader/i, `WebGL2 renderer: ${s0.glRenderer}`);
  assert.equal(s0.renderer, 'canvas2d', 'software GL detected, pixels written directly');
  assert.ok(s0.totalRows > 1, `rows: ${s0.totalRows}`);
  assert.ok(await canvasInk(page, 'tl-gl') > 5000, 'span canvas has ink');
  await shot('timeline');
  // Zoom with the wheel in the middle of the plot.
  const box = await page.locator('#tl-gl').boundingBox();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5);
  for (let i = 0; i < 6; i++) await page.mouse.wheel(0, -300);
  const s1 = await waitFor('a narrower view', async () => {
    const s = await page.evaluate(() => window.weft.timeline.stats());
    const w0 = s0.view.end - s0.view.start, w1 = s.view.end - s.view.start;
    return w1 < w0 * 0.5 ? s : null;
  });
  assert.ok(s1.view.start >= s0.view.start && s1.view.end <= s0.view.end, 'zoomed inside the old range');
  // The server is asked again for the new range at a finer resolution.
  await waitFor('a refetch at the new zoom', async () => {
    const s = await page.evaluate(() => window.weft.timeline.stats());
    return s.fetches > s0.fetches && s.bufferSpans > 0 ? s : null;
  }, 60000);
  const range = await page.locator('#tl-range').textContent();
  assert.match(range, /wide/);
  // Keys: deep zoom down to microseconds.
  await page.evaluate(() => { const v = window.weft.timeline.getView(); const m = (v.start + v.end) / 2; window.weft.timeline.setView(m - 5000, m + 5000); });
  await waitFor('a microsecond view', async () => {
    const s = await page.evaluate(() => window.weft.timeline.stats());
    return s.view.end - s.view.start <= 10000 ? s : null;
  });
  await waitFor('microsecond range text', async () => /µs|ns/.test(await page.locator('#tl-range').textContent()));
  await page.keyboard.press('0');
  await waitFor('whole capture again', async () => {
    const s = await page.evaluate(() => window.weft.timeline.stats());
    return Math.abs((s.view.end - s.view.start) - (s.full.end - s.full.start)) < 2 ? s : null;
  });
  // Wake arrows on demand.
  await page.check('#tl-wakes');
  await shot('timeline-wakes');
});

/**
 * Checks the P lanes of `pg` against the server: the decoded buffer holds
 * real runs, the widest run's pixel has its group's colour, its goroutine
 * was running then (inspector API), and hovering it names the P.
 */
async function checkLanes(pg, label) {
  await pg.click('#tabs button[data-tab=timeline]');
  await pg.evaluate(() => window.weft.timeline.reset()); // whole capture
  const lanesFor = async (what) => waitFor(`${label}: P lanes of ${what}`, async () => {
    // Lanes fetched for this view (not a buffer left from an earlier one).
    const l = await pg.evaluate(() => window.weft.timeline.lanes());
    const s = await pg.evaluate(() => window.weft.timeline.stats());
    const covers = l && l.startNs <= s.view.start && l.endNs >= s.view.end - 1;
    const fineEnough = l && l.resNs <= Math.max(1, (s.view.end - s.view.start) / 990) * 1.6;
    if (covers && fineEnough && !s.lanesPending && l.runCount > 0 && s.laneRunsDrawn > 0) return { L: l, view: s.view };
    throw new Error(`lanes ${l && `${l.startNs}..${l.endNs} res ${l.resNs} runs ${l.runCount}`}, view ${JSON.stringify(s.view)}, pending ${s.lanesPending}, drawn ${s.laneRunsDrawn}, fetches ${s.laneFetches}, errors ${s.errors} ${s.lastLaneError || ''}, tab ${await pg.evaluate(() => window.weft.app.tab)}`);
  }, 60000);
  let { L, view } = await lanesFor('the whole capture');
  const procs = await api('/api/procs');
  assert.ok(L.laneCount >= 1 && L.laneCount <= Math.max(1, procs.gomaxprocs), `${L.laneCount} lanes, GOMAXPROCS ${procs.gomaxprocs}`);
  const geo = await pg.evaluate(() => window.weft.timeline.laneGeometry());
  // Pixels of a run: those whose centre it covers (as drawn), inside the plot.
  const pixels = (i) => {
    const pxOf = (t) => Math.round(geo.gutter + ((t - view.start) / (view.end - view.start)) * geo.plotW);
    const xa = pxOf(L.startNs + L.start[i]), xb = Math.max(xa + 1, pxOf(L.startNs + L.end[i]));
    return xa >= geo.gutter && xb <= geo.gutter + geo.plotW ? [xa, xb] : null;
  };
  const widest = (single) => {
    let best = -1, lane = -1;
    for (let l = 0; l < L.laneCount; l++) {
      for (let i = L.laneFirst[l]; i < L.laneFirst[l] + L.laneLen[l]; i++) {
        if ((single && L.goroutine[i] < 0) || !pixels(i)) continue;
        if (best < 0 || L.end[i] - L.start[i] > L.end[best] - L.start[best]) { best = i; lane = l; }
      }
    }
    return { best, lane };
  };
  // The widest run's middle pixel has its group's colour.
  const colourCheck = async ({ best, lane }) => {
    const [xa, xb] = pixels(best);
    const x = xa + Math.floor((xb - xa - 1) / 2) + 0.5, y = geo.top + lane * geo.laneH + 3;
    const px = await pg.evaluate(([a, b]) => window.weft.timeline.pixelAt(a, b), [x, y]);
    const want = await pg.evaluate((gr) => window.weft.timeline.groupColor(gr), L.group[best]);
    const rgb = [1, 3, 5].map((k) => parseInt(want.slice(k, k + 2), 16));
    assert.ok(rgb.every((v, k) => Math.abs(v - px[k]) <= 3) && px[3] > 200, `${label}: pixel ${px} at (${x}, ${y}) is the group colour ${want} of run [${L.start[best]}, ${L.end[best]}) in lane ${lane}`);
    return [x, y];
  };
  const any = widest(false);
  assert.ok(any.best >= 0, 'some run on screen');
  await colourCheck(any);
  // The whole capture merges most runs: ask the server at its finest for
  // the widest run of one goroutine and zoom the view onto it. The server
  // caps a lane at 16384 buckets, so over a long view its "finest" can
  // still join bursts of one goroutine into one run that splits up when
  // zoomed; then zoom again onto the widest run of the narrower view, as a
  // user would, until one goroutine's run is on screen (at most 4 times).
  let pick = { best: -1 }, tried = [];
  for (let round = 0; round < 4 && pick.best < 0; round++) {
    const fine = decodeProcLanes(await (await fetch(`${weft.base}/api/proc_lanes?start_ns=${Math.floor(view.start)}&end_ns=${Math.ceil(view.end)}&res_ns=1`)).arrayBuffer());
    let f = -1;
    for (let i = 0; i < fine.runCount; i++) if (fine.goroutine[i] >= 0 && (f < 0 || fine.end[i] - fine.start[i] > fine.end[f] - fine.start[f])) f = i;
    assert.ok(f >= 0, `the server has runs of single goroutines in ${JSON.stringify(view)}`);
    const fs0 = fine.startNs + fine.start[f], fe0 = fine.startNs + fine.end[f], fw = fe0 - fs0;
    await pg.evaluate(([a, b]) => window.weft.timeline.setView(a, b), [fs0 - 2 * fw, fe0 + 2 * fw]);
    ({ L, view } = await lanesFor(`a view around one run (round ${round})`));
    pick = widest(true);
    const singles = [];
    for (let i = 0; i < L.runCount && singles.length < 8; i++) if (L.goroutine[i] >= 0) singles.push([L.start[i], L.end[i], pixels(i)]);
    tried.push(`zoomed onto [${fs0}, ${fe0}) (goroutine ${fine.goroutine[f]}, server res ${fine.resNs}): view ${JSON.stringify(view)}, lanes ${L.startNs}..${L.endNs} res ${L.resNs}, ${L.runCount} runs, singles ${JSON.stringify(singles)}`);
  }
  if (pick.best < 0) assert.fail(`no single-goroutine run on screen after zooming ${tried.length} times; geo ${JSON.stringify(geo)}:\n${tried.join('\n')}`);
  const { best, lane } = pick;
  const [x, y] = await colourCheck(pick);
  // Its goroutine was running then: the rows of its group at full
  // resolution over the run (the server's own timeline, decoded).
  const g = L.goroutine[best], s = Math.round(L.startNs + L.start[best]), e = Math.round(L.startNs + L.end[best]);
  const tol = L.resNs + 1000;
  const res = await fetch(`${weft.base}/api/timeline?group=${L.group[best]}&system=1&start_ns=${s - tol}&end_ns=${e + tol}&res_ns=1&row_limit=5000`);
  const tl = decodeTimeline(await res.arrayBuffer());
  const row = [...tl.rowIds].indexOf(g);
  assert.ok(row >= 0, `goroutine ${g} is a row of the group ${L.group[best]} its run is coloured by`);
  let ran = false;
  for (let i = tl.rowFirst[row]; i < tl.rowFirst[row] + tl.rowLen[row]; i++) {
    if (tl.state[i] === 1 && tl.startNs + tl.start[i] <= s + tol && tl.startNs + tl.end[i] >= e - tol) ran = true;
  }
  assert.ok(ran, `goroutine ${g} was running during its P-lane run [${s}, ${e})`);
  // Hovering names the P and the goroutine.
  const box = await pg.locator('#tl-gl').boundingBox();
  await pg.mouse.move(box.x + x, box.y + y);
  await waitFor(`${label}: lane tooltip naming P${L.laneProc[lane]} and goroutine ${g}`, async () => {
    const t = await pg.locator('#tl-tip').textContent();
    if (!(t.includes(`P${L.laneProc[lane]}`) && t.includes(`goroutine ${g}`))) throw new Error(`tooltip reads ${JSON.stringify(t)}`);
    return true;
  }, 15000);
  return L;
}

test('P lanes show which goroutine ran on each P, coloured by group', async () => {
  const L = await checkLanes(page, 'software');
  await new Promise((r) => setTimeout(r, 300));
  await shot('timeline-plane');
  // The WebGL2 path draws the same lanes.
  const gl = await openPage(browser, `${weft.url}?renderer=webgl2#timeline`);
  try {
    const L2 = await checkLanes(gl, 'webgl2');
    assert.equal((await gl.evaluate(() => window.weft.timeline.stats())).renderer, 'webgl2');
    assert.ok(L2.runCount > 0);
    assert.ok(await canvasInk(gl, 'tl-gl') > 5000, 'WebGL span canvas has ink');
    await gl.screenshot({ path: path.join(OUT, 'timeline-plane-webgl2.png') });
    assert.deepEqual(gl.errors, []);
  } finally { await gl.close(); }
});

test('all rows: every row on screen, lines packed by the server with the majority state of their rows', async () => {
  await page.click('#tabs button[data-tab=timeline]');
  await page.evaluate(() => window.weft.timeline.reset());
  // The capture is small: cap the lines so that several rows share one.
  await page.evaluate(() => window.weft.timeline.configure({ denseLines: 8 }));
  await page.check('#tl-dense');
  const s = await waitFor('a packed buffer of every row', async () => {
    const st = await page.evaluate(() => window.weft.timeline.stats());
    return st.dense && st.pack > 1 && st.rowsInBuffer >= st.totalRows && st.spansDrawn > 0 && st.view.start === st.full.start ? st : null;
  }, 60000);
  const P = s.pack, total = s.totalRows;
  assert.ok(Math.ceil(total / P) <= 8, `${total} rows in at most 8 lines of ${P}`);
  // The same request the page makes, and the unpacked rows it stands for.
  const res = Math.max(1, Math.floor((s.full.end - s.full.start) / 1000));
  const q = `start_ns=${s.full.start}&end_ns=${s.full.end}&res_ns=${res}&row_offset=0&row_limit=${total}`;
  const r = await fetch(`${weft.base}/api/timeline?${q}&pack=${P}`);
  assert.equal(r.status, 200);
  const packed = decodeTimeline(await r.arrayBuffer());
  const rows = decodeTimeline(await (await fetch(`${weft.base}/api/timeline?${q}`)).arrayBuffer());
  assert.equal(rows.rowCount, total, 'unpacked: every row in one answer');
  assert.equal(packed.rowCount, Math.ceil(total / P), 'one line per pack of rows');
  for (let i = 0; i < packed.rowCount; i++) {
    assert.equal(packed.rowIndex[i], i * P, `line ${i} starts at row ${i * P}`);
    assert.equal(packed.rowIds[i], -1, 'a line is no single goroutine');
  }
  assert.equal(Number(r.headers.get('x-weft-source-spans')), rows.spanCount, 'X-Weft-Source-Spans counts the unpacked spans');
  // Waiting runs carry the reason the line's rows waited on longest.
  for (let i = 0; i < packed.rowCount; i++) {
    const wait = new Map();
    for (let rr = i * P; rr < Math.min(total, (i + 1) * P); rr++) {
      for (let j = rows.rowFirst[rr]; j < rows.rowFirst[rr] + rows.rowLen[rr]; j++) {
        if (rows.state[j] !== 2) continue;
        const why = rows.strings[rows.reason[j]];
        wait.set(why, (wait.get(why) || 0) + (rows.end[j] - rows.start[j]));
      }
    }
    const top = [...wait.entries()].sort((a, b) => b[1] - a[1]);
    for (let k = packed.rowFirst[i]; k < packed.rowFirst[i] + packed.rowLen[i]; k++) {
      if (packed.state[k] !== 2) { assert.equal(packed.reason[k], 0, 'only waiting runs have a reason'); continue; }
      const got = packed.strings[packed.reason[k]];
      // f32 sums: accept any reason within 1% of the longest.
      assert.ok(top.length && top.some(([why, t]) => why === got && t >= top[0][1] * 0.99), `line ${i}: reason ${JSON.stringify(got)} vs ${JSON.stringify(top.slice(0, 3))}`);
    }
  }
  // Majority: per bucket of res_ns, the state the line's rows spent most time in.
  let checked = 0;
  for (let i = 0; i < packed.rowCount && checked < 40; i++) {
    for (let k = packed.rowFirst[i]; k < packed.rowFirst[i] + packed.rowLen[i] && checked < 40; k++) {
      const b = Math.floor((packed.start[k] + 0.5 * res) / res); // a bucket inside the span
      if ((b + 1) * res > packed.end[k] + 1) continue;
      const per = [0, 0, 0, 0];
      for (let rr = i * P; rr < Math.min(total, (i + 1) * P); rr++) {
        for (let j = rows.rowFirst[rr]; j < rows.rowFirst[rr] + rows.rowLen[rr]; j++) {
          const a = Math.max(rows.start[j], b * res), e = Math.min(rows.end[j], (b + 1) * res);
          if (e > a && rows.state[j] < 4) per[rows.state[j]] += e - a;
        }
      }
      const best = Math.max(...per);
      if (per.filter((x) => x > best * 0.9).length !== 1) continue; // f32 times: skip near ties
      assert.equal(packed.state[k], per.indexOf(best), `line ${i} bucket ${b}: state ${packed.state[k]} vs time per state ${per}`);
      checked++;
    }
  }
  assert.ok(checked > 0, 'some bucket had a clear majority to check');
  // The page drew a line: the pixel in the middle of a line's longest span has its state's colour.
  const d = await page.evaluate(() => window.weft.timeline.stats());
  const geo = await page.evaluate(() => window.weft.timeline.laneGeometry());
  let best = -1;
  for (let k = 0; k < packed.spanCount; k++) if (best < 0 || packed.end[k] - packed.start[k] > packed.end[best] - packed.start[best]) best = k;
  const line = [...Array(packed.rowCount).keys()].find((i) => best >= packed.rowFirst[i] && best < packed.rowFirst[i] + packed.rowLen[i]);
  const x = await page.evaluate((t) => window.weft.timeline.xOf(t), s.full.start + (packed.start[best] + packed.end[best]) / 2);
  const y = geo.rowsTop + line * d.lineH + d.lineH / 2;
  const px = await page.evaluate(([xx, yy]) => window.weft.timeline.pixelAt(xx, yy), [x, y]);
  const { PALETTE, slotOf } = await import('../../assets/js/colors.js');
  const want = PALETTE[slotOf(packed.state[best], packed.strings[packed.reason[best]] || '')][0];
  const hex = `#${px.slice(0, 3).map((v) => v.toString(16).padStart(2, '0')).join('')}`;
  assert.equal(hex, want.slice(0, 7), `pixel at line ${line} (x ${x.toFixed(0)}, y ${y.toFixed(0)})`);
  // Software drawing has two paths (rectangles for few spans, a pixel buffer
  // for many): both give that pixel.
  if (d.renderer === 'canvas2d') {
    await page.evaluate(() => window.weft.timeline.configure({ rectMaxSpans: 0 }));
    const px2 = await page.evaluate(([xx, yy]) => window.weft.timeline.pixelAt(xx, yy), [x, y]);
    assert.equal(await page.evaluate(() => window.weft.timeline.stats().softPath), 'pixels');
    await page.evaluate(() => window.weft.timeline.configure({ rectMaxSpans: 3000 }));
    assert.deepEqual(px2, px, 'the pixel buffer path paints the same pixel');
  }
  await shot('timeline-all-rows');
  // Clicking a line opens its rows at normal height.
  const box = await page.locator('#tl-gl').boundingBox();
  await page.mouse.click(box.x + x, box.y + y);
  const back = await waitFor('normal rows at the clicked line', async () => {
    const st = await page.evaluate(() => window.weft.timeline.stats());
    return !st.dense ? st : null;
  });
  assert.ok(back.scrollRow <= line * P, `scrolled to row ${back.scrollRow} (at most ${line * P}, clamped at the end) for line ${line}`);
  assert.equal(await page.isChecked('#tl-dense'), false);
  await page.evaluate(() => window.weft.timeline.configure({ denseLines: 0 }));
});

test('table filters narrow the goroutines and selecting one shows its stack', async () => {
  await page.click('#tabs button[data-tab=table]');
  const total0 = await waitFor('goroutine rows', async () => {
    const n = await page.evaluate(() => window.weft.table.total());
    return n > 0 ? n : null;
  });
  assert.ok(await page.locator('#groups-table tbody tr').count() > 0, 'groups table has rows');
  // Filter by an entry function that matches some goroutines but not all
  // (the server's own answer decides which one qualifies).
  const groups = (await api('/api/groups')).filter((g) => !g.system);
  let needle = null, expected = 0;
  for (const g of groups) {
    const r = await api(`/api/goroutines?limit=1&q=${encodeURIComponent(g.entry)}`);
    if (r.total > 0 && r.total < total0) { needle = g.entry; expected = r.total; break; }
  }
  assert.ok(needle, 'some group entry narrows the goroutine list');
  await page.fill('#f-q', needle);
  const total1 = await waitFor(`the filter "${needle}" applied`, async () => {
    const f = await page.evaluate(() => window.weft.table.filters());
    const n = await page.evaluate(() => window.weft.table.total());
    return f.q === needle && n < total0 ? n : null;
  });
  assert.equal(total1, expected, `filter "${needle}" shows the server's count`);
  const shown = await page.locator('#gor-count').textContent();
  assert.match(shown, /match/);
  await shot('table-filtered');
  // State filter too.
  await page.fill('#f-q', '');
  await page.selectOption('#f-state', 'waiting');
  await waitFor('the state filter applied', async () => {
    const rows = await page.evaluate(() => window.weft.table.rows());
    const f = await page.evaluate(() => window.weft.table.filters());
    return f.state === 'waiting' && rows.every((r) => r.state === 'waiting');
  });
  await page.selectOption('#f-state', '');
  await waitFor('unfiltered again', async () => (await page.evaluate(() => window.weft.table.total())) === total0);
  // Select a goroutine that has a stack (blocked ones do).
  const blocked = (await api('/api/goroutines?state=waiting&limit=50')).rows;
  let target = null;
  for (const r of blocked) {
    const g = await api(`/api/goroutine/${r.id}`);
    if (g.stack && g.stack.length) { target = g; break; }
  }
  assert.ok(target, 'some goroutine has a stack');
  await page.fill('#f-q', target.entry);
  await waitFor('target row present', async () => (await page.locator(`#gor-table tbody tr[data-id="${target.id}"]`).count()) > 0);
  await page.click(`#gor-table tbody tr[data-id="${target.id}"]`);
  await waitFor('inspector title', async () => (await page.locator('#insp-title').textContent()) === `goroutine ${target.id}`);
  const stackText = await page.locator('#insp-stack').textContent();
  assert.ok(stackText.includes(target.stack[0].func), `stack shows ${target.stack[0].func}`);
  await shot('inspector');
});

test('findings view lists the findings the server reports', async () => {
  await page.click('#tabs button[data-tab=findings]');
  const findings = await api('/api/findings');
  await waitFor('findings rendered', async () => {
    const cards = await page.locator('#findings-list .finding').count();
    const empty = await page.locator('#findings-list .empty').count();
    return findings.length ? cards === findings.length : empty === 1;
  });
  await shot('findings');
});

test('no errors in the page', async () => {
  assert.deepEqual(page.errors.filter((e) => !/favicon/.test(e)), []);
});
