// Browser frame-time benchmark of weft's timeline: opens a trace with
// `weft open`, then pans and zooms the timeline programmatically (one view
// change per animation frame) and records requestAnimationFrame deltas and
// the page's own draw times. Run through run.sh.
//   node frames.mjs TRACE SECONDS
import fs from 'node:fs';
import { startWeft, launchBrowser, openPage, waitFor } from '../../crates/weft-web/e2e/lib.mjs';

const [trace, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg || 10);
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN; };
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');

const t0 = Date.now();
const weft = await startWeft(['open', trace], 'bench-weft-open', 600000);
const readyMs = Date.now() - t0;
const browser = await launchBrowser();
try {
  const page = await openPage(browser, weft.url, { width: 1600, height: 900 });
  const summary = await (await fetch(`${weft.base}/api/summary`)).json();
  await page.click('#tabs button[data-tab=timeline]');
  const results = [];
  for (const mode of ['visible rows (+40 fetched each side)', 'dense (5000 rows fetched per request)']) {
    await page.evaluate((m) => window.weft.timeline.configure({ rowMargin: m.startsWith('dense') ? 2500 : 40 }), mode);
    await page.evaluate(() => window.weft.timeline.reset());
    await waitFor('spans in the buffer', async () => (await page.evaluate(() => window.weft.timeline.stats())).spansDrawn > 0, 120000);
    // Wait for the buffer of this mode (the dense one takes a while to fetch).
    await waitFor('buffer for the mode', async () => {
      const s = await page.evaluate(() => window.weft.timeline.stats());
      return s.rowsInBuffer >= Math.min(s.totalRows, mode.startsWith('dense') ? 4000 : 50);
    }, 180000);
    const r = await page.evaluate(async (ms) => {
      const tl = window.weft.timeline;
      const full = tl.stats().full;
      const span = full.end - full.start;
      const deltas = [], spans = [];
      window.weftDrawTimes = [];
      let last = performance.now();
      const start = last;
      await new Promise((resolve) => {
        function tick(now) {
          deltas.push(now - last); last = now;
          const t = (now - start) / 1000;
          // Zoom between the whole capture and 1/200 of it while panning across.
          const w = span * Math.pow(200, -0.5 - 0.5 * Math.cos(t * 1.3));
          const c = full.start + span * (0.5 + 0.45 * Math.sin(t * 0.7));
          tl.setView(c - w / 2, c + w / 2);
          tl.scrollTo(((Math.sin(t * 0.5) + 1) / 2) * 40);
          spans.push(tl.stats().spansDrawn);
          if (now - start < ms) requestAnimationFrame(tick); else resolve();
        }
        requestAnimationFrame(tick);
      });
      const s = tl.stats();
      return { deltas: deltas.slice(1), draws: window.weftDrawTimes, spans, fetches: s.fetches, renderer: s.renderer };
    }, seconds * 1000);
    results.push({ mode, ...r });
  }
  let rss = 'n/a';
  try { rss = `${(Number(fs.readFileSync(`/proc/${weft.proc.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/)[1]) / 1024).toFixed(0)} MB`; } catch (_) { /* not linux */ }
  console.log(`trace: ${trace} (${(fs.statSync(trace).size / 1e6).toFixed(1)} MB), ${summary.total_goroutines} goroutines, ${summary.spans ?? '?'} spans in the model`);
  console.log(`weft open: ready after ${(readyMs / 1000).toFixed(2)} s (includes process start), peak RSS ${rss}`);
  console.log('| mode | renderer | frames | frame p50 ms | frame p95 ms | frame max ms | draw p50 ms | draw p95 ms | draw max ms | spans drawn per frame (median) | refetches |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.mode} | ${r.renderer} | ${r.deltas.length} | ${f1(pct(r.deltas, 0.5))} | ${f1(pct(r.deltas, 0.95))} | ${f1(Math.max(...r.deltas))} | ${f1(pct(r.draws, 0.5))} | ${f1(pct(r.draws, 0.95))} | ${f1(Math.max(...r.draws))} | ${pct(r.spans, 0.5)} | ${r.fetches} |`);
  }
} finally {
  await browser.close().catch(() => {});
  weft.proc.stop();
}
