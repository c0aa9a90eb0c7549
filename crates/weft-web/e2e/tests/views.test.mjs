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
  assert.equal(s0.renderer, 'webgl2', 'WebGL2 works in headless chromium (SwiftShader)');
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
