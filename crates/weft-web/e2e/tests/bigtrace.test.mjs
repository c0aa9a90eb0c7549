// A trace bigger than the model's caps, in the page: `weft open` of a
// capture recorded now from tests/programs/churn, once with the default
// caps (the reference: it keeps everything of this small capture) and once
// with caps forced small (WEFT_WEB_CAPS), so the loaded model drops the
// early detail. Zoomed into an early range, the page must draw that
// range's detail decoded from the file (rows laid out over that range's
// goroutines, spans equal to the reference's), and a late range must come
// from the loaded model again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { REPO, OUT, tempDir, startWeft, launchBrowser, openPage, waitFor, buildGo } from '../lib.mjs';
import { decodeTimeline, decodeProcLanes } from '../../assets/js/api.js';

let ref, capped, browser, page;

before(async () => {
  const dir = tempDir('weft-e2e-big-');
  const bin = buildGo(path.join(REPO, 'crates/weft-web/tests/programs/churn'), 'churn');
  const trace = path.join(dir, 'churn.trace');
  execFileSync(bin, ['-trace', trace, '-d', '6s', '-rate', '500'], { stdio: 'inherit', timeout: 120000 });
  assert.ok(fs.statSync(trace).size > 10000, 'the recorded trace is not empty');
  ref = await startWeft(['open', trace], 'weft-open-reference');
  const sum = await (await fetch(`${ref.base}/api/summary`)).json();
  assert.ok(sum.spans > 5000, `churn recorded too little: ${sum.spans} spans`);
  // Caps that hold about a third of the capture (as the Rust test
  // crates/weft-web/tests/indexed.rs); detail models may hold all of it.
  // At most 70% of the file's bytes decoded for one request, so the whole
  // capture (too wide) comes from the loaded model while early windows of
  // a generation or two come from the file.
  const caps = `max_spans=${Math.floor(sum.spans / 3)},max_spans_per_goroutine=500,max_wakes=${Math.floor(sum.spans / 6)},detail_models=2,detail_max_spans=${sum.spans * 2},detail_bytes=${Math.floor(fs.statSync(trace).size * 0.7)}`;
  process.env.WEFT_WEB_CAPS = caps;
  try { capped = await startWeft(['open', trace], 'weft-open-capped'); } finally { delete process.env.WEFT_WEB_CAPS; }
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (ref) ref.proc.stop();
  if (capped) capped.proc.stop();
});

const json = async (base, p) => (await fetch(`${base}${p}`)).json();

/** Goroutine id -> its spans [start, end, state] in a decoded buffer (rows with spans only). */
function spansById(b) {
  const out = new Map();
  for (let i = 0; i < b.rowIds.length; i++) {
    if (b.rowIds[i] < 0 || !b.rowLen[i]) continue;
    const v = [];
    for (let k = b.rowFirst[i]; k < b.rowFirst[i] + b.rowLen[i]; k++) v.push([b.start[k], b.end[k], b.state[k]]);
    out.set(b.rowIds[i], v);
  }
  return out;
}

test('big trace: an early range shows the detail decoded from the file, a late one the loaded model', async () => {
  // The index is scanned in the background; the summary reads the loaded model's bounds into it.
  const st = await waitFor('the index of the capped weft', async () => {
    await json(capped.base, '/api/summary');
    const s = await json(capped.base, '/api/status');
    return s.index && s.index.scan === 'ready' && Number.isInteger(s.index.resident_complete_ns) ? s : null;
  }, 60000);
  const time = (await json(capped.base, '/api/summary')).time;
  const first = time.detail_start_ns, end = time.end_ns, complete = time.resident_detail_start_ns;
  assert.equal(complete, st.index.resident_complete_ns);
  assert.ok(complete > first + (end - first) / 3, `the caps did not evict the early detail: complete from ${complete - first} of ${end - first} ns`);

  page = await openPage(browser, capped.url, { width: 1400, height: 800 });
  await page.click('#tabs button[data-tab=timeline]');
  const full = await waitFor('the timeline over the whole capture', async () => {
    const s = await page.evaluate(() => window.weft.timeline.stats());
    return s.full.end > s.full.start && s.full.start === first ? s.full : null;
  }, 30000);
  assert.equal(full.start, first, 'the page can scroll over the whole capture, early part included');
  // The whole capture is too wide to decode from the file: the early part
  // says to zoom in rather than look idle.
  await waitFor('the zoom-in hint over the early part of the whole capture', async () => {
    const s = await page.evaluate(() => window.weft.timeline.stats());
    const b = await page.evaluate(() => window.weft.timeline.buffer());
    return b && !b.fromFile && s.earlyHint;
  }, 30000);
  await page.screenshot({ path: path.join(OUT, 'timeline-big-whole.png') });

  // Zoom into 300 ms a third of the way into the early part.
  const s0 = first + Math.floor((complete - first) / 3);
  await page.evaluate(([a, b]) => window.weft.timeline.setView(a, b), [s0, s0 + 300e6]);
  const buf = await waitFor('an early buffer decoded from the file, with its own row layout', async () => {
    const b = await page.evaluate(() => window.weft.timeline.buffer());
    const lay = await page.evaluate(() => window.weft.timeline.rowsLayout());
    const s = await page.evaluate(() => window.weft.timeline.stats());
    const covers = b && b.startNs <= s.view.start && b.endNs >= s.view.end - 1;
    return covers && b.fromFile && lay.fromFile && s.spansDrawn > 0 && !s.earlyHint ? { b, lay, s } : null;
  }, 90000);
  // The toolbar text is refreshed at most every 250 ms (timeline.js,
  // updateToolbar), so it may trail the buffer by a few frames.
  await waitFor('the toolbar saying the detail is read from the file',
    async () => /from the file/.test(await page.locator('#tl-stats').textContent()), 10000);
  // The page's rows have the spans the uncapped reference gives for the same request.
  const q = `start_ns=${buf.b.startNs}&end_ns=${buf.b.endNs}&res_ns=${buf.b.resNs}&row_offset=0&row_limit=5000`;
  const want = spansById(decodeTimeline(await (await fetch(`${ref.base}/api/timeline?${q}`)).arrayBuffer()));
  const got = spansById(buf.b);
  assert.ok(got.size > 0, 'the early buffer has goroutines with spans');
  let spans = 0;
  for (const [id, v] of got) {
    assert.deepEqual(v, want.get(id), `goroutine ${id}: page vs uncapped reference`);
    spans += v.length;
  }
  // And the capped weft's loaded model alone lacks some of that early detail.
  const lay = await json(capped.base, '/api/rows?limit=1');
  assert.notEqual(lay.total_rows, buf.lay.totalRows, 'the early range is laid out over its own goroutines');
  console.log(`early range: ${got.size} goroutines, ${spans} spans on screen equal the reference's; ${buf.lay.totalRows} rows there vs ${lay.total_rows} in the loaded model`);
  await page.screenshot({ path: path.join(OUT, 'timeline-early-from-file.png') });

  // 20 ms of the capture's first moments (long evicted from the loaded
  // model), fine enough for single runs: P lanes drawn, equal to the
  // reference's for the same request.
  await page.evaluate(([a, b]) => window.weft.timeline.setView(a, b), [first + 100e6, first + 120e6]);
  const L = await waitFor('P lanes of the capture start', async () => {
    const s = await page.evaluate(() => window.weft.timeline.stats());
    const l = await page.evaluate(() => window.weft.timeline.lanes());
    const covers = l && l.startNs <= s.view.start && l.endNs >= s.view.end - 1;
    return covers && !s.lanesPending && l.runCount >= 5 && s.laneRunsDrawn > 0 ? l : null;
  }, 90000);
  const wantL = decodeProcLanes(await (await fetch(`${ref.base}/api/proc_lanes?start_ns=${L.startNs}&end_ns=${L.endNs}&res_ns=${L.resNs}`)).arrayBuffer());
  assert.equal(L.runCount, wantL.runCount, 'P-lane runs at the capture start: page vs uncapped reference');
  assert.deepEqual([L.goroutine, L.start, L.end], [[...wantL.goroutine], [...wantL.start], [...wantL.end]], 'P-lane runs at the capture start: page vs uncapped reference');
  console.log(`capture start: ${L.runCount} P-lane runs on screen equal the reference's`);

  // A late range comes from the loaded model again, with its layout.
  const l0 = complete + Math.floor((end - complete) / 2);
  await page.evaluate(([a, b]) => window.weft.timeline.setView(a, b), [l0, Math.min(end, l0 + 300e6)]);
  await waitFor('a late buffer from the loaded model', async () => {
    const b = await page.evaluate(() => window.weft.timeline.buffer());
    const lyt = await page.evaluate(() => window.weft.timeline.rowsLayout());
    const s = await page.evaluate(() => window.weft.timeline.stats());
    const covers = b && b.startNs <= s.view.start && b.endNs >= s.view.end - 1;
    return covers && !b.fromFile && !lyt.fromFile && lyt.totalRows === lay.total_rows;
  }, 60000);
  assert.deepEqual(page.errors || [], [], 'no errors in the page');
});
