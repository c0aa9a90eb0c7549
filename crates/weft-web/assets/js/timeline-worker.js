// Fetches and decodes the timeline's data off the main thread, so neither
// the network requests nor their decoding ever stall a frame (in Chromium
// traces, starting a fetch alone cost the main thread 10-20 ms on a loaded
// machine). Three kinds of request, each with at most one in flight (a new
// one aborts the old one of its kind only):
//   timeline  WFTL spans: typed arrays (transferred, not copied) ready for
//             drawing: per-span start/end (f32, ns from the buffer's start),
//             drawing row and palette slot
//   lanes     WFPL P lanes, with the same row and slot columns added
//   bands     GC/STW/region bands (JSON)
import { decodeTimeline, decodeProcLanes } from './api.js';
import { slotOf, groupSlot } from './colors.js';

const current = new Map(); // kind -> AbortController

self.onmessage = async (ev) => {
  const { id, url, kind = 'timeline', pack = 0 } = ev.data;
  const prev = current.get(kind);
  if (prev) prev.abort();
  const ctrl = new AbortController();
  current.set(kind, ctrl);
  const t0 = performance.now();
  try {
    const res = await fetch(url, { credentials: 'same-origin', signal: ctrl.signal });
    if (!res.ok) throw new Error(`${url.split('?')[0].replace(/^.*\/api\//, '/api/')}: ${res.status} ${(await res.text()).slice(0, 300)}`);
    if (kind === 'bands') {
      self.postMessage({ id, kind, ok: true, data: await res.json() });
      return;
    }
    const buf = await res.arrayBuffer();
    const t1 = performance.now();
    if (kind === 'lanes') {
      const d = decodeProcLanes(buf);
      const row = new Float32Array(d.runCount), slot = new Float32Array(d.runCount);
      for (let l = 0; l < d.laneCount; l++) {
        for (let i = d.laneFirst[l]; i < d.laneFirst[l] + d.laneLen[l]; i++) { row[i] = l; slot[i] = groupSlot(d.group[i]); }
      }
      d.row = row; d.slot = slot;
      self.postMessage({ id, kind, ok: true, data: d },
        [d.laneProc.buffer, d.laneFirst.buffer, d.laneLen.buffer, d.goroutine.buffer, d.start.buffer, d.end.buffer, d.group.buffer, row.buffer, slot.buffer]);
      return;
    }
    const d = decodeTimeline(buf);
    // Palette slot per distinct (state, reason) pair, then per span. The
    // drawing row is the layout row, or with packed rows (`pack` layout
    // rows per line) the line.
    const slotCache = new Map();
    const slot = new Float32Array(d.spanCount);
    const row = new Float32Array(d.spanCount);
    for (let r = 0; r < d.rowCount; r++) {
      const first = d.rowFirst[r], n = d.rowLen[r];
      const ri = pack > 0 ? Math.floor(d.rowIndex[r] / pack) : d.rowIndex[r];
      for (let i = first; i < first + n; i++) {
        row[i] = ri;
        const key = d.state[i] * 65536 + d.reason[i];
        let s = slotCache.get(key);
        if (s === undefined) { s = slotOf(d.state[i], d.strings[d.reason[i]] || ''); slotCache.set(key, s); }
        slot[i] = s;
      }
    }
    // With packed rows, how many spans of the model the lines stand for.
    const sourceSpans = Number(res.headers.get('x-weft-source-spans') || d.spanCount);
    const out = { ...d, slot, row, sourceSpans, fetchMs: t1 - t0, decodeMs: performance.now() - t1, bytes: buf.byteLength };
    self.postMessage({ id, kind, ok: true, data: out },
      [d.rowIds.buffer, d.rowGroup.buffer, d.rowFirst.buffer, d.rowLen.buffer, d.rowIndex.buffer,
        d.start.buffer, d.end.buffer, d.state.buffer, d.reason.buffer, slot.buffer, row.buffer]);
  } catch (e) {
    if (e.name !== 'AbortError') self.postMessage({ id, kind, ok: false, error: String(e.message || e) });
  } finally {
    if (current.get(kind) === ctrl) current.delete(kind);
  }
};
