// `weft demo`: the bundled capture opens and every view has data.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { OUT, startWeft, launchBrowser, openPage, canvasInk, waitFor } from '../lib.mjs';

let weft, browser, page;

before(async () => {
  weft = await startWeft(['demo'], 'weft-demo');
  browser = await launchBrowser();
  page = await openPage(browser, weft.url);
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (weft) weft.proc.stop();
});

test('demo: status says demo mode and ready', async () => {
  const s = await (await fetch(`${weft.base}/api/status`)).json();
  assert.equal(s.mode, 'demo');
  assert.equal(s.state, 'ready');
  await waitFor('status pill', async () => /demo/.test(await page.locator('#status-text').textContent()));
});

test('demo: shape, timeline and findings render the bundled capture', async () => {
  await waitFor('shape nodes', async () => (await page.evaluate(() => window.weft.shape.stats())).nodes > 0);
  assert.ok(await canvasInk(page, 'shape-canvas') > 2000);
  await new Promise((r) => setTimeout(r, 1500)); // layout settles for the screenshot only
  await page.screenshot({ path: path.join(OUT, 'demo-shape.png') });
  await page.click('#tabs button[data-tab=timeline]');
  await waitFor('timeline spans', async () => (await page.evaluate(() => window.weft.timeline.stats())).spansDrawn > 0, 60000);
  assert.ok(await canvasInk(page, 'tl-gl') > 2000);
  await page.screenshot({ path: path.join(OUT, 'demo-timeline.png') });
  const findings = await (await fetch(`${weft.base}/api/findings`)).json();
  await page.click('#tabs button[data-tab=findings]');
  await waitFor('findings rendered', async () => (findings.length
    ? (await page.locator('#findings-list .finding').count()) === findings.length
    : (await page.locator('#findings-list .empty').count()) === 1));
  await page.screenshot({ path: path.join(OUT, 'demo-findings.png') });
  // A finding's group link opens the group in the inspector.
  const link = page.locator('#findings-list [data-act=group]').first();
  if (await link.count()) {
    await link.click();
    await waitFor('group in the inspector', async () => (await page.locator('#insp-title').count()) > 0);
  }
  assert.deepEqual(page.errors, []);
});
