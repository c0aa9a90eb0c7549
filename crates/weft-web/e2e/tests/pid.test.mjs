// `weft watch pid:N`: a Go program read from its memory (no endpoint used);
// the shape view shows its groups and, because memory reads name the
// channels goroutines wait on, channel nodes with the waiting groups.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, OUT, start, startWeft, launchBrowser, openPage, waitFor, buildGo } from '../lib.mjs';

let target, weft, browser, page;

before(async () => {
  const bin = buildGo(path.join(REPO, 'testdata/programs/attach'), 'attach');
  target = start(bin, ['-recv', '5', '-send', '4'], { name: 'attach-target' });
  await waitFor('the attach target to park its goroutines', () => {
    if (target.exitCode !== null) throw new Error(`target exited ${target.exitCode}`);
    return /PORT \d+/.test(fs.readFileSync(target.log, 'utf8'));
  }, 30000);
  weft = await startWeft(['watch', `pid:${target.pid}`, '--interval', '500ms'], 'weft-watch-pid', 120000);
  browser = await launchBrowser();
  page = await openPage(browser, weft.url);
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (weft) weft.proc.stop();
  if (target) target.stop();
});

test('pid: the shape view shows channel nodes and who waits on them', async () => {
  const objs = await waitFor('channel objects in the page', async () => {
    const o = await page.evaluate(() => window.weft.app.objects || []);
    return o.length >= 2 ? o : null;
  }, 60000);
  const byEntry = (re) => page.evaluate((src) => {
    const r = new RegExp(src);
    return window.weft.app.groups.find((g) => r.test(g.name) || r.test(g.entry || ''));
  }, re.source);
  const recv = await byEntry(/main\.receiver/);
  const send = await byEntry(/main\.sender/);
  assert.ok(recv && send, 'receiver and sender groups are listed');
  const waitsOf = (g, dir) => objs.filter((o) => o.waiters.some((w) => w.group === g.id && w.direction === dir));
  assert.equal(waitsOf(recv, 'recv').length, 1, 'all receivers wait on one channel');
  assert.equal(waitsOf(send, 'send').length, 1, 'all senders wait on one channel');
  const full = waitsOf(send, 'send')[0];
  assert.deepEqual([full.cap, full.len], [3, 3]);
  const s = await waitFor('channel nodes drawn', async () => {
    const st = await page.evaluate(() => window.weft.shape.stats());
    return st.objects >= 2 && st.waitEdges >= 2 ? st : null;
  }, 30000);
  assert.ok(s.nodeKeys.includes(`o${full.addr}`), 'the full channel is a node');
  assert.ok(s.nodeKeys.includes(`g${send.id}`), 'the sender group is a node');
  await new Promise((r) => setTimeout(r, 2500)); // let the layout settle for the screenshot
  await page.screenshot({ path: path.join(OUT, 'pid-shape.png') });
  assert.match(await page.locator('#status-text').textContent(), /live/);
  assert.deepEqual(page.errors.filter((e) => !/WebSocket/.test(e)), []);
});
