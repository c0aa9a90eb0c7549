// Live mode: `weft watch` on a running Go service; a burst of goroutines
// started by the test appears as a new group in the UI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, OUT, start, startWeft, launchBrowser, openPage, waitFor, buildGo } from '../lib.mjs';

let target, targetAddr, weft, browser, page;

before(async () => {
  const bin = buildGo(path.join(REPO, 'testdata/programs/live'), 'live');
  target = start(bin, ['-addr', '127.0.0.1:0'], { name: 'live-target' });
  targetAddr = await waitFor('the live target to listen', () => {
    if (target.exitCode !== null) throw new Error(`target exited ${target.exitCode}`);
    const m = fs.readFileSync(target.log, 'utf8').match(/listening on (\S+)/);
    return m && m[1];
  }, 30000);
  weft = await startWeft(['watch', `http://${targetAddr}`], 'weft-watch', 120000);
  browser = await launchBrowser();
  page = await openPage(browser, weft.url);
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (weft) weft.proc.stop();
  if (target) {
    await fetch(`http://${targetAddr}/release`).catch(() => {});
    target.stop();
  }
});

const burstGroups = () => page.evaluate(() => window.weft.app.groups.filter((g) => /burstWorker/.test(g.name) || /burstWorker/.test(g.entry)));

test('live: a new goroutine group appears after the target starts it', async () => {
  await waitFor('live status', async () => /live/.test(await page.locator('#status-text').textContent()));
  assert.deepEqual(await burstGroups(), [], 'no burst group before the burst');
  await page.screenshot({ path: path.join(OUT, 'live-before.png') });
  const t0 = Date.now();
  const res = await fetch(`http://${targetAddr}/burst?n=200`);
  assert.equal(res.status, 200);
  const groups = await waitFor('the burst group in the page', async () => {
    const g = await burstGroups();
    return g.length && g[0].live > 0 ? g : null;
  }, 60000, 50);
  const seenMs = Date.now() - t0;
  // Reported, not asserted (timings belong in benchmarks): target -> weft ->
  // page, and the page's own part (WebSocket message -> groups re-rendered).
  const apply = await page.evaluate(() => window.weft.app.applyMs.slice().sort((a, b) => a - b));
  const p = (q) => (apply.length ? apply[Math.min(apply.length - 1, Math.floor(q * apply.length))].toFixed(0) : 'n/a');
  console.log(`# burst group on screen ${seenMs} ms after /burst; page apply (ws message -> groups drawn) p50 ${p(0.5)} ms, max ${p(1)} ms over ${apply.length} updates`);
  // It is drawn as a node in the shape view.
  await waitFor('burst node in the shape view', async () => {
    const s = await page.evaluate(() => window.weft.shape.stats());
    return s.nodeKeys.includes(`g${groups[0].id}`);
  }, 30000);
  await new Promise((r) => setTimeout(r, 1500)); // the node moves into place for the screenshot
  await page.screenshot({ path: path.join(OUT, 'live-after.png') });
  assert.ok(groups[0].live >= 1);
  assert.deepEqual(page.errors.filter((e) => !/WebSocket/.test(e)), []);
});
