// Browser frame-time benchmark of weft's timeline: opens a trace with
// `weft open`, then pans and zooms the timeline programmatically (one view
// change per animation frame) and records requestAnimationFrame deltas and
// the page's own draw times. Run through run.sh.
//   node frames.mjs TRACE SECONDS
// Environment:
//   WEFT_BIN         the weft binary measured ("after")
//   WEFT_BIN_BEFORE  optional second binary ("before"): both are measured in
//                    alternating rounds in this one run (A B A B ...), each
//                    round on a fresh page, so the machine's load hits both
//   ROUNDS           rounds per binary (default 3 with WEFT_BIN_BEFORE, else 1)
//   MODES            comma list of: visible, dense (default: visible,dense
//                    alone; visible with WEFT_BIN_BEFORE)
//   QUERY, QUERY_BEFORE  URL query string for each binary's page (e.g.
//                    renderer=canvas2d), to compare page options side by side
//   ASSETS_DIR       serve the UI files from this directory instead of the
//                    binaries' embedded copies (try a front change unbuilt)
import fs from 'node:fs';
import path from 'node:path';
import { startWeft, launchBrowser, openPage, waitFor } from '../../crates/weft-web/e2e/lib.mjs';

const [trace, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg || 10);
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN; };
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const variants = [{ name: 'after', bin: path.resolve(process.env.WEFT_BIN), query: process.env.QUERY || '' }];
if (process.env.WEFT_BIN_BEFORE) variants.unshift({ name: 'before', bin: path.resolve(process.env.WEFT_BIN_BEFORE), query: process.env.QUERY_BEFORE || '' });
const rounds = Number(process.env.ROUNDS || (variants.length > 1 ? 3 : 1));
const modes = (process.env.MODES || (variants.length > 1 ? 'visible' : 'visible,dense')).split(',');
const MODE_LABEL = { visible: 'visible rows (+40 fetched each side)', dense: 'all rows (every goroutine on screen, rows packed per pixel line by the server)' };

for (const v of variants) {
  const t0 = Date.now();
  v.weft = await startWeft(['open', trace], `bench-weft-open-${v.name}`, 600000, v.bin);
  v.readyMs = Date.now() - t0;
}
const summary = await (await fetch(`${variants[0].weft.base}/api/summary`)).json();
const browser = await launchBrowser();
if (process.env.ASSETS_DIR) {
  const dir = process.env.ASSETS_DIR;
  const types = { js: 'text/javascript', css: 'text/css', html: 'text/html' };
  await browser.route(/\/(js\/[^?]+\.js|style\.css)(\?.*)?$/, (route) => {
    const rel = new URL(route.request().url()).pathname.slice(1);
    route.fulfill({ body: fs.readFileSync(`${dir}/${rel}`), contentType: types[rel.split('.').pop()] });
  });
}
const results = new Map(); // `${variant}|${mode}` -> merged samples
console.log(`load before: ${load()}`);
try {
  for (let round = 0; round < rounds; round++) {
    // Alternate the order too, so neither binary always goes first.
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      for (const mode of modes) {
        const page = await openPage(browser, v.weft.url + (v.query ? `?${v.query}` : ''), { width: 1600, height: 900 });
        try {
          await page.click('#tabs button[data-tab=timeline]');
          await page.evaluate((m) => window.weft.timeline.configure({ dense: m === 'dense' }), mode);
          if (mode === 'dense' && !(await page.evaluate(() => window.weft.timeline.stats().dense))) {
            console.log(`round ${round + 1} ${v.name} ${mode}: this binary's page has no "all rows" mode, skipped`);
            continue;
          }
          await page.evaluate(() => window.weft.timeline.reset());
          await waitFor('spans in the buffer', async () => (await page.evaluate(() => window.weft.timeline.stats())).spansDrawn > 0, 120000);
          await waitFor('buffer for the mode', async () => {
            const s = await page.evaluate(() => window.weft.timeline.stats());
            return s.rowsInBuffer >= Math.min(s.totalRows, mode === 'dense' ? s.totalRows : 50);
          }, 180000);
          const r = await page.evaluate(async (ms) => {
            const tl = window.weft.timeline;
            const full = tl.stats().full;
            const span = full.end - full.start;
            const deltas = [], spans = [], laneRuns = [], source = [];
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
                const st = tl.stats();
                spans.push(st.spansDrawn);
                source.push(st.dense ? st.sourceSpans : st.spansDrawn);
                laneRuns.push(st.laneRunsDrawn ?? 0);
                if (now - start < ms) requestAnimationFrame(tick); else resolve();
              }
              requestAnimationFrame(tick);
            });
            const s = tl.stats();
            return { deltas: deltas.slice(1), draws: window.weftDrawTimes, spans, source, laneRuns, fetches: s.fetches, renderer: s.renderer };
          }, seconds * 1000);
          const key = `${v.name}|${mode}`;
          const acc = results.get(key) || { variant: v.name, mode, deltas: [], draws: [], spans: [], source: [], fetches: 0, renderer: r.renderer, p95s: [], laneRuns: [] };
          acc.deltas.push(...r.deltas); acc.draws.push(...r.draws); acc.spans.push(...r.spans); acc.source.push(...r.source);
          acc.fetches += r.fetches; acc.p95s.push(pct(r.deltas, 0.95));
          acc.laneRuns.push(...r.laneRuns);
          results.set(key, acc);
          console.log(`round ${round + 1} ${v.name} ${mode}: frame p50 ${f1(pct(r.deltas, 0.5))} p95 ${f1(pct(r.deltas, 0.95))} max ${f1(Math.max(...r.deltas))} ms (load ${load()})`);
        } finally {
          await page.close().catch(() => {});
        }
      }
    }
  }
  const rss = (v) => { try { return `${(Number(fs.readFileSync(`/proc/${v.weft.proc.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/)[1]) / 1024).toFixed(0)} MB`; } catch (_) { return 'n/a'; } };
  console.log(`load after: ${load()}`);
  console.log(`trace: ${trace} (${(fs.statSync(trace).size / 1e6).toFixed(1)} MB), ${summary.total_goroutines} goroutines, ${summary.spans ?? '?'} spans in the model`);
  for (const v of variants) console.log(`weft open (${v.name}: ${v.bin}${v.query ? `, page ?${v.query}` : ''}): ready after ${(v.readyMs / 1000).toFixed(2)} s (includes process start), peak RSS ${rss(v)}`);
  console.log(`${rounds} round(s) of ${seconds} s per binary and mode, alternating; 1600x900 viewport`);
  console.log('| binary | mode | renderer | frames | frame p50 ms | frame p95 ms | frame max ms | frames > 33.4 ms | frames > 50 ms | p95 per round | draw p50 ms | draw p95 ms | draw max ms | spans drawn per frame (median) | model spans they stand for (median) | P-lane runs drawn per frame (median / max) | refetches |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results.values()) {
    console.log(`| ${r.variant} | ${MODE_LABEL[r.mode] || r.mode} | ${r.renderer} | ${r.deltas.length} | ${f1(pct(r.deltas, 0.5))} | ${f1(pct(r.deltas, 0.95))} | ${f1(Math.max(...r.deltas))} | ${r.deltas.filter((d) => d > 33.4).length} | ${r.deltas.filter((d) => d > 50).length} | ${r.p95s.map(f1).join(' / ')} | ${f1(pct(r.draws, 0.5))} | ${f1(pct(r.draws, 0.95))} | ${f1(Math.max(...r.draws))} | ${pct(r.spans, 0.5)} | ${pct(r.source, 0.5)} | ${pct(r.laneRuns, 0.5)} / ${Math.max(0, ...r.laneRuns)} | ${r.fetches} |`);
  }
} finally {
  await browser.close().catch(() => {});
  for (const v of variants) v.weft.proc.stop();
}
