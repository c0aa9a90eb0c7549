// Talking to the weft server: JSON helpers, the binary timeline decoder and
// small formatting helpers. The wire format is described in docs/web-api.md;
// everything here converts it into the shapes the views use, so a change in
// the wire format touches this file only.

export async function getJSON(path, params) {
  const url = withParams(path, params);
  const res = await fetch(url, { credentials: 'same-origin' });
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try { const body = await res.text(); if (body) msg += `: ${body.slice(0, 300)}`; } catch (_) { /* keep status */ }
    throw new Error(`${path}: ${msg}`);
  }
  return res.json();
}

export async function getBinary(path, params, signal) {
  const res = await fetch(withParams(path, params), { credentials: 'same-origin', signal });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text().catch(() => '')}`);
  return res.arrayBuffer();
}

export function withParams(path, params) {
  if (!params) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/**
 * Decodes a WFTL buffer (docs/web-api.md, "Binary"): a 48-byte header, a
 * row table, packed spans and a string table, all little-endian. Span
 * times stay in one Float32Array pair (relative to the header's start_ns),
 * so a million spans cost no per-span objects and upload to the GPU as is.
 */
export function decodeTimeline(buf) {
  const dv = new DataView(buf);
  const need = (end, what) => {
    if (end > buf.byteLength) throw new Error(`timeline: ${what} needs ${end} bytes, the buffer has ${buf.byteLength}`);
  };
  need(48, 'the header');
  const magic = String.fromCharCode(dv.getUint8(0), dv.getUint8(1), dv.getUint8(2), dv.getUint8(3));
  if (magic !== 'WFTL') throw new Error(`timeline: bad magic ${JSON.stringify(magic)} at byte 0`);
  const version = dv.getUint16(4, true);
  if (version !== 1) throw new Error(`timeline: format version ${version} at byte 4, this page reads version 1`);
  const flags = dv.getUint16(6, true); // bit 0: rows decoded from the file for this range
  const rowCount = dv.getUint32(8, true);
  const spanCount = dv.getUint32(12, true);
  const startNs = Number(dv.getBigInt64(16, true));
  const endNs = Number(dv.getBigInt64(24, true));
  const resNs = Number(dv.getBigInt64(32, true));
  const stringCount = dv.getUint32(40, true);
  const totalRows = dv.getUint32(44, true);
  let off = 48;
  need(off + rowCount * 24, `${rowCount} rows`);
  const rowIds = new Float64Array(rowCount);
  const rowGroup = new Uint32Array(rowCount);
  const rowFirst = new Uint32Array(rowCount);
  const rowLen = new Uint32Array(rowCount);
  const rowIndex = new Uint32Array(rowCount);
  for (let i = 0; i < rowCount; i++, off += 24) {
    rowIds[i] = Number(dv.getBigInt64(off, true));
    rowGroup[i] = dv.getUint32(off + 8, true);
    rowFirst[i] = dv.getUint32(off + 12, true);
    rowLen[i] = dv.getUint32(off + 16, true);
    rowIndex[i] = dv.getUint32(off + 20, true);
    if (rowFirst[i] + rowLen[i] > spanCount) {
      throw new Error(`timeline: row ${i} (byte ${off}) spans ${rowFirst[i]}+${rowLen[i]} past span_count ${spanCount}`);
    }
  }
  need(off + spanCount * 12, `${spanCount} spans`);
  const start = new Float32Array(spanCount);
  const end = new Float32Array(spanCount);
  const state = new Uint8Array(spanCount);
  const reason = new Uint16Array(spanCount);
  for (let i = 0; i < spanCount; i++, off += 12) {
    start[i] = dv.getFloat32(off, true);
    end[i] = dv.getFloat32(off + 4, true);
    state[i] = dv.getUint8(off + 8);
    reason[i] = dv.getUint16(off + 10, true);
  }
  const strings = [];
  const td = new TextDecoder();
  for (let i = 0; i < stringCount; i++) {
    need(off + 2, `string ${i}`);
    const len = dv.getUint16(off, true); off += 2;
    need(off + len, `string ${i}`);
    strings.push(td.decode(new Uint8Array(buf, off, len))); off += len;
  }
  return { version, flags, fromFile: (flags & 1) !== 0, rowCount, spanCount, startNs, endNs, resNs, totalRows, rowIds, rowGroup, rowFirst, rowLen, rowIndex, start, end, state, reason, strings };
}

/**
 * Decodes a WFPL buffer (docs/web-api.md, "P lanes"): a 48-byte header, a
 * 16-byte entry per lane (P id, first run, run count), then four columns
 * over all runs: goroutine (f64, -1 = several merged), start and end (f32,
 * ns from start_ns) and group (u32).
 */
export function decodeProcLanes(buf) {
  const dv = new DataView(buf);
  const need = (end, what) => {
    if (end > buf.byteLength) throw new Error(`proc lanes: ${what} needs ${end} bytes, the buffer has ${buf.byteLength}`);
  };
  need(48, 'the header');
  const magic = String.fromCharCode(dv.getUint8(0), dv.getUint8(1), dv.getUint8(2), dv.getUint8(3));
  if (magic !== 'WFPL') throw new Error(`proc lanes: bad magic ${JSON.stringify(magic)} at byte 0`);
  const version = dv.getUint16(4, true);
  if (version !== 1) throw new Error(`proc lanes: format version ${version} at byte 4, this page reads version 1`);
  const laneCount = dv.getUint32(8, true);
  const runCount = dv.getUint32(12, true);
  const startNs = Number(dv.getBigInt64(16, true));
  const endNs = Number(dv.getBigInt64(24, true));
  const resNs = Number(dv.getBigInt64(32, true));
  const gomaxprocs = dv.getUint32(40, true);
  let off = 48;
  need(off + laneCount * 16 + runCount * 20, `${laneCount} lanes and ${runCount} runs`);
  const laneProc = new Float64Array(laneCount);
  const laneFirst = new Uint32Array(laneCount);
  const laneLen = new Uint32Array(laneCount);
  for (let i = 0; i < laneCount; i++, off += 16) {
    laneProc[i] = Number(dv.getBigInt64(off, true));
    laneFirst[i] = dv.getUint32(off + 8, true);
    laneLen[i] = dv.getUint32(off + 12, true);
    if (laneFirst[i] + laneLen[i] > runCount) {
      throw new Error(`proc lanes: lane ${i} (byte ${off}) runs ${laneFirst[i]}+${laneLen[i]} past run_count ${runCount}`);
    }
  }
  // Columns are aligned (the header and lane table are multiples of 8), so
  // typed-array views copy them out without a per-run loop.
  const goroutine = new Float64Array(buf.slice(off, off + runCount * 8)); off += runCount * 8;
  const start = new Float32Array(buf.slice(off, off + runCount * 4)); off += runCount * 4;
  const end = new Float32Array(buf.slice(off, off + runCount * 4)); off += runCount * 4;
  const group = new Uint32Array(buf.slice(off, off + runCount * 4));
  return { version, laneCount, runCount, startNs, endNs, resNs, gomaxprocs, laneProc, laneFirst, laneLen, goroutine, start, end, group };
}

// ---- formatting ----

export function fmtNs(ns) {
  if (ns === null || ns === undefined || Number.isNaN(ns)) return '–';
  const a = Math.abs(ns);
  if (a < 1e3) return `${Math.round(ns)} ns`;
  if (a < 1e6) return `${(ns / 1e3).toFixed(a < 1e4 ? 2 : 1)} µs`;
  if (a < 1e9) return `${(ns / 1e6).toFixed(a < 1e7 ? 2 : 1)} ms`;
  if (a < 120e9) return `${(ns / 1e9).toFixed(2)} s`;
  return `${(ns / 60e9).toFixed(1)} min`;
}

export function fmtCount(n) {
  if (n === null || n === undefined) return '–';
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

export function fmtRate(r) {
  if (!r) return '0/s';
  if (r >= 1000) return `${(r / 1000).toFixed(1)}k/s`;
  if (r >= 10) return `${Math.round(r)}/s`;
  return `${r.toFixed(2)}/s`;
}

export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

/** Short function name: package path dropped, receiver kept. */
export function shortFunc(f) {
  if (!f) return '';
  const slash = f.lastIndexOf('/');
  return slash >= 0 ? f.slice(slash + 1) : f;
}

export function frameText(fr) {
  if (!fr) return '';
  if (typeof fr === 'string') return fr;
  const fn = fr.func ?? fr.function ?? fr.name ?? '';
  const file = fr.file ?? '';
  const line = fr.line ?? '';
  return file ? `${fn} ${file}:${line}` : fn;
}
