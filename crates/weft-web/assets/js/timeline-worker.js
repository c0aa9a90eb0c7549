// Fetches and decodes timeline buffers off the main thread, so a million
// spans never stall a frame. Posts back typed arrays (transferred, not
// copied) ready for the GPU: per-span start/end (f32, ns from the buffer's
// start), row index and palette slot.
import { decodeTimeline } from './api.js';
import { slotOf } from './colors.js';

let current = null;

self.onmessage = async (ev) => {
  const { id, url } = ev.data;
  if (current) current.abort();
  const ctrl = new AbortController();
  current = ctrl;
  const t0 = performance.now();
  try {
    const res = await fetch(url, { credentials: 'same-origin', signal: ctrl.signal });
    if (!res.ok) throw new Error(`${url.split('?')[0]}: ${res.status} ${(await res.text()).slice(0, 300)}`);
    const buf = await res.arrayBuffer();
    const t1 = performance.now();
    const d = decodeTimeline(buf);
    // Palette slot per distinct (state, reason) pair, then per span.
    const slotCache = new Map();
    const slot = new Float32Array(d.spanCount);
    const row = new Float32Array(d.spanCount);
    for (let r = 0; r < d.rowCount; r++) {
      const first = d.rowFirst[r], n = d.rowLen[r], ri = d.rowIndex[r];
      for (let i = first; i < first + n; i++) {
        row[i] = ri;
        const key = d.state[i] * 65536 + d.reason[i];
        let s = slotCache.get(key);
        if (s === undefined) { s = slotOf(d.state[i], d.strings[d.reason[i]] || ''); slotCache.set(key, s); }
        slot[i] = s;
      }
    }
    const out = { ...d, slot, row, fetchMs: t1 - t0, decodeMs: performance.now() - t1, bytes: buf.byteLength };
    self.postMessage({ id, ok: true, data: out },
      [d.rowIds.buffer, d.rowGroup.buffer, d.rowFirst.buffer, d.rowLen.buffer, d.rowIndex.buffer,
        d.start.buffer, d.end.buffer, d.state.buffer, d.reason.buffer, slot.buffer, row.buffer]);
  } catch (e) {
    if (e.name !== 'AbortError') self.postMessage({ id, ok: false, error: String(e.message || e) });
  } finally {
    if (current === ctrl) current = null;
  }
};
