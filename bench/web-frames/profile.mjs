// Where a timeline frame's time goes: runs the same pan/zoom as frames.mjs
// for SECONDS under Chromium tracing (CDP Tracing.start) and prints, per
// thread, the trace events that took the most time in total. A diagnosis
// tool, not a benchmark.
//   node profile.mjs TRACE SECONDS [query]   (query: extra URL query string)
//   ASSETS_DIR=crates/weft-web/assets: serve the UI files from disk instead
//   of the binary's embedded copy (try a front change without a rebuild).
import fs from 'node:fs';
import { startWeft, launchBrowser, openPage, waitFor } from '../../crates/weft-web/e2e/lib.mjs';

const [trace, secondsArg, query] = process.argv.slice(2);
const seconds = Number(secondsArg || 5);

const weft = await startWeft(['open', trace], 'profile-weft-open', 600000);
const browser = await launchBrowser();
if (process.env.ASSETS_DIR) {
  const dir = process.env.ASSETS_DIR;
  const types = { js: 'text/javascript', css: 'text/css', html: 'text/html' };
  await browser.route(/\/(js\/[^?]+\.js|style\.css)(\?.*)?$/, (route) => {
    const rel = new URL(route.request().url()).pathname.slice(1);
    route.fulfill({ body: fs.readFileSync(`${dir}/${rel}`), contentType: types[rel.split('.').pop()] });
  });
}
try {
  const page = await openPage(browser, weft.url + (query ? `?${query}` : ''), { width: 1600, height: 900 });
  await page.click('#tabs button[data-tab=timeline]');
  await page.evaluate(() => window.weft.timeline.reset());
  await waitFor('spans drawn', async () => (await page.evaluate(() => window.weft.timeline.stats())).spansDrawn > 0, 120000);
  const cdp = await page.context().newCDPSession(page);
  const events = [];
  cdp.on('Tracing.dataCollected', (m) => events.push(...m.value));
  const done = new Promise((r) => cdp.once('Tracing.tracingComplete', r));
  await cdp.send('Tracing.start', {
    categories: 'devtools.timeline,disabled-by-default-devtools.timeline,toplevel,blink,cc,gpu,viz,benchmark,v8.execute,disabled-by-default-devtools.timeline.frame',
    transferMode: 'ReportEvents',
  });
  const r = await page.evaluate(async (ms) => {
    const tl = window.weft.timeline;
    const full = tl.stats().full;
    const span = full.end - full.start;
    const deltas = [];
    window.weftDrawTimes = [];
    let last = performance.now();
    const start = last;
    await new Promise((resolve) => {
      function tick(now) {
        deltas.push(now - last); last = now;
        const t = (now - start) / 1000;
        const w = span * Math.pow(200, -0.5 - 0.5 * Math.cos(t * 1.3));
        const c = full.start + span * (0.5 + 0.45 * Math.sin(t * 0.7));
        tl.setView(c - w / 2, c + w / 2);
        tl.scrollTo(((Math.sin(t * 0.5) + 1) / 2) * 40);
        if (now - start < ms) requestAnimationFrame(tick); else resolve();
      }
      requestAnimationFrame(tick);
    });
    return { deltas: deltas.slice(1), draws: window.weftDrawTimes };
  }, seconds * 1000);
  await cdp.send('Tracing.end');
  await done;
  const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
  console.log(`renderer ${(await page.evaluate(() => window.weft.timeline.stats())).renderer}, lanes ${JSON.stringify(await page.evaluate(() => { const s = window.weft.timeline.stats(); return [s.laneCount, s.laneRunsDrawn]; }))}, errors ${JSON.stringify(page.errors)}`);
  console.log(`frames ${r.deltas.length}: p50 ${pct(r.deltas, 0.5).toFixed(1)} p95 ${pct(r.deltas, 0.95).toFixed(1)} max ${Math.max(...r.deltas).toFixed(1)} ms; draw p50 ${pct(r.draws, 0.5).toFixed(1)} p95 ${pct(r.draws, 0.95).toFixed(1)} ms`);
  // Thread names, then total self-less duration of complete ('X') events per (thread, name).
  const names = new Map();
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}:${e.tid}`, e.args.name);
  const tot = new Map();
  for (const e of events) {
    if (e.ph !== 'X' || !e.dur) continue;
    const k = `${names.get(`${e.pid}:${e.tid}`) || e.tid} | ${e.name}`;
    const v = tot.get(k) || { ms: 0, n: 0 };
    v.ms += e.dur / 1000; v.n++;
    tot.set(k, v);
  }
  const top = [...tot.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 45);
  console.log(`top events over ${seconds} s (total ms, count, mean ms):`);
  for (const [k, v] of top) console.log(`${v.ms.toFixed(0).padStart(7)} ${String(v.n).padStart(6)} ${(v.ms / v.n).toFixed(2).padStart(7)}  ${k}`);
  if (process.env.SAVE_TRACE) fs.writeFileSync(process.env.SAVE_TRACE, JSON.stringify({ traceEvents: events }));
} finally {
  await browser.close().catch(() => {});
  weft.proc.stop();
}
