// Timeline view: goroutines (rows, grouped by creation site, collapsible)
// against time, drawn with WebGL2 as one instanced rectangle per span.
// The server does level of detail: for the visible time range and rows we
// ask /api/timeline at about one pixel of resolution and draw whatever
// buffer we have while the next one loads (a Worker fetches and decodes),
// so panning and zooming never wait for the network (nor its fetches and
// decoding: the Worker does those too). "All rows" packs every goroutine
// onto the screen: each pixel line is the majority state of the rows it
// covers, aggregated by the server. Above the rows, one
// lane per P (processor) shows which goroutine ran on it, coloured by group
// (/api/proc_lanes, same range and resolution, drawn by the same shader).
// Text, axis, GC/STW bands, regions and wake arrows go on a 2D overlay canvas.
import { getJSON, withParams, fmtNs, shortFunc } from './api.js';
import { PALETTE, paletteFloats, STATE_NAMES, GROUP_PALETTE, groupSlot, groupPaletteFloats } from './colors.js';

const ROW_H = 16;
const AXIS_H = 22;
const BAND_H = 14;
const GUTTER = 210;
const MIN_SPAN_NS = 1000; // a microsecond across the whole width
let ROW_MARGIN = 40;      // rows fetched above and below the visible ones (the benchmark raises it)
// "All rows": every row on screen, `pack` layout rows per line of `lineH` px.
let dense = false, pack = 1, lineH = ROW_H;
let maxDenseLines = Infinity; // tests cap the lines to pack a small capture

let app, wrap, glCanvas, ov, octx, scrollEl, spacer, tip;
let gl = null, prog = null, vao = null, bufs = {}, uni = {};
let renderer = 'none';
let soft = null;                      // software renderer's pixel buffer {img, px, w, h}
let W = 0, H = 0, dpr = 1;
let full = { start: 0, end: 1 };     // whole capture
let view = { start: 0, end: 1 };     // visible time range
let scrollRow = 0;                    // first visible row (fractional)
let totalRows = 0;
let groupsLayout = [];                // from /api/rows: [{id,name,first_row,row_count,collapsed}]
let collapsed = new Set();
let collapseAll = false;
let filter = { group: null, goroutine: null };
let data = null;                      // last decoded buffer
let pending = null;                   // {id, key}
let reqSeq = 0;
let worker = null;
let bands = { gc: [], stw: [], regions: [] }, bandsKey = '';
let procs = null;
let lanes = null, lanesKey = '', lanesWant = null, lanesInFlight = false; // P lanes (decoded WFPL)
let laneVao = null, laneBufs = {}, statePal = null, groupPal = null;
let wakes = [], wakesKey = '';
let showWakes = false, showProcs = true;
let hoverRow = -1, drag = null, selected = null;
let dirty = true;
const stats = { renderer: 'none', frames: 0, spansDrawn: 0, sourceSpans: 0, bufferSpans: 0, rowsInBuffer: 0, fetches: 0, lastFetchMs: 0, lastDecodeMs: 0, lastBytes: 0, errors: 0 };

export function init(a) {
  app = a;
  wrap = document.getElementById('tl-wrap');
  glCanvas = document.getElementById('tl-gl');
  ov = document.getElementById('tl-overlay');
  octx = ov.getContext('2d');
  scrollEl = document.getElementById('tl-scroll');
  spacer = document.getElementById('tl-spacer');
  tip = document.getElementById('tl-tip');
  initGL();
  worker = new Worker(new URL('./timeline-worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = onWorker;
  app.on('ready', onReady);
  app.on('update', () => { if (app.live) { followLive(); invalidate(); } });
  app.on('tab', (t) => { if (t === 'timeline') { resize(); invalidate(); } });
  app.on('select', (s) => { selected = s && s.kind === 'goroutine' ? s.id : null; dirty = true; });
  app.on('timeline-filter', (f) => { setFilter(f); app.showTab('timeline'); });
  window.addEventListener('resize', () => { resize(); dirty = true; });
  // The inspector or the header may resize the plot without a window resize.
  if (window.ResizeObserver) new ResizeObserver(() => { resize(); }).observe(wrap);
  bindInput();
  window.weft.timeline = {
    stats: () => ({ ...stats, view: { ...view }, full: { ...full }, scrollRow, totalRows, filter: { ...filter }, lanesPending: !!lanesInFlight || !!lanesWant, dense, pack, lineH }),
    setView, getView: () => ({ ...view }), scrollTo: (r) => { setScroll(r); }, reset: () => setView(full.start, full.end),
    visibleRowIds,
    // The frame benchmark fetches thousands of rows at once to put a million spans on the GPU.
    configure: (o) => { if (o.rowMargin !== undefined) ROW_MARGIN = o.rowMargin; if (o.rectMaxSpans !== undefined) RECT_MAX_SPANS = o.rectMaxSpans; if (o.denseLines !== undefined) { maxDenseLines = o.denseLines || Infinity; updateSpacer(); } if (o.dense !== undefined) setDense(!!o.dense); invalidate(); },
    // P lanes as decoded, and where they are drawn (CSS px inside #tl-gl).
    lanes: () => lanes && {
      laneCount: lanes.laneCount, runCount: lanes.runCount, startNs: lanes.startNs, endNs: lanes.endNs, resNs: lanes.resNs,
      laneProc: [...lanes.laneProc], laneFirst: [...lanes.laneFirst], laneLen: [...lanes.laneLen],
      goroutine: [...lanes.goroutine], start: [...lanes.start], end: [...lanes.end], group: [...lanes.group],
    },
    // The span buffer drawn now (tests compare it with the server's answers).
    buffer: () => data && {
      fromFile: data.fromFile, startNs: data.startNs, endNs: data.endNs, resNs: data.resNs, rowOffset: data.rowOffset, rowLimit: data.rowLimit,
      rowIds: [...data.rowIds], rowFirst: [...data.rowFirst], rowLen: [...data.rowLen], rowIndex: [...data.rowIndex],
      start: [...data.start], end: [...data.end], state: [...data.state],
    },
    rowsLayout: () => ({ fromFile: !!rowsRange, totalRows, groups: groupsLayout.map((g) => ({ ...g })) }),
    laneGeometry: () => ({ top: laneTop(), laneH: laneH(), gutter: GUTTER, plotW: plotW(), rowsTop: topY() }),
    xOf: (t) => xOf(t),
    groupColor: (g) => GROUP_PALETTE[groupSlot(g)],
    // Draws now and reads one pixel of the span canvas (CSS px), in the same
    // task, so it works whatever the canvas keeps after compositing.
    pixelAt: (x, y) => {
      drawSpans();
      dirty = true; // the overlay comes back on the next frame
      if (renderer === 'webgl2') {
        const out = new Uint8Array(4);
        gl.readPixels(Math.floor(x * dpr), Math.floor((H - y) * dpr) - 1, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, out);
        return [...out];
      }
      return [...glCanvas.getContext('2d').getImageData(Math.floor(x * dpr), Math.floor(y * dpr), 1, 1).data];
    },
  };
  requestAnimationFrame(frame);
}

// ---------- WebGL2 ----------

const VS = `#version 300 es
layout(location=0) in float a_start;
layout(location=1) in float a_end;
layout(location=2) in float a_row;
layout(location=3) in float a_slot;
uniform vec2 u_size;     // plot size in CSS px
uniform float u_off;     // (buffer start - view start) in ns
uniform float u_scale;   // px per ns
uniform float u_scroll;  // first visible row
uniform float u_rowh;
uniform float u_top;
uniform float u_pad;     // gap above a bar inside its row
uniform float u_barh;    // bar height
flat out int v_slot;
void main() {
  int c = gl_VertexID;
  float fx = (c == 1 || c == 2 || c == 4) ? 1.0 : 0.0;
  float fy = (c == 2 || c == 4 || c == 5) ? 1.0 : 0.0;
  float x0 = (u_off + a_start) * u_scale;
  float x1 = (u_off + a_end) * u_scale;
  x1 = max(x1, x0 + 1.0);                // keep sub-pixel spans visible
  float x = mix(x0, x1, fx);
  float y = u_top + (a_row - u_scroll) * u_rowh + u_pad + fy * u_barh;
  gl_Position = vec4(x / u_size.x * 2.0 - 1.0, 1.0 - y / u_size.y * 2.0, 0.0, 1.0);
  v_slot = int(a_slot);
}`;
const FS = `#version 300 es
precision mediump float;
uniform vec4 u_pal[16];
flat in int v_slot;
out vec4 color;
void main() { color = u_pal[v_slot]; }`;

/**
 * Is WebGL2 here rendered by the CPU (SwiftShader, llvmpipe: no usable GPU)?
 * Then every frame costs the GPU process rasterising plus a read back of
 * the whole canvas for the software compositor (measured: ~20 ms of a 33 ms
 * frame at 1600x900 in Chromium), and writing pixels ourselves is faster.
 */
function softwareGL() {
  try {
    const g = document.createElement('canvas').getContext('webgl2');
    if (!g) return { soft: true, name: 'no WebGL2' };
    const ext = g.getExtension('WEBGL_debug_renderer_info');
    const name = String(g.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : g.RENDERER) || '');
    const lose = g.getExtension('WEBGL_lose_context');
    if (lose) lose.loseContext();
    return { soft: /swiftshader|llvmpipe|softpipe|software|basic render/i.test(name), name };
  } catch (e) { return { soft: true, name: String(e) }; }
}

function initGL() {
  // ?renderer=webgl2 or ?renderer=canvas2d overrides the choice.
  const forced = new URLSearchParams(location.search).get('renderer');
  const probe = forced ? { soft: forced !== 'webgl2', name: `forced by ?renderer=${forced}` } : softwareGL();
  stats.glRenderer = probe.name;
  if (!probe.soft) {
    try {
      gl = glCanvas.getContext('webgl2', { antialias: false, alpha: true, premultipliedAlpha: false, preserveDrawingBuffer: true });
    } catch (_) { gl = null; }
  }
  if (!gl) { useSoftware(); return; }
  const sh = (type, src) => {
    const s = gl.createShader(type);
    gl.shaderSource(s, src); gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
    return s;
  };
  try {
    prog = gl.createProgram();
    gl.attachShader(prog, sh(gl.VERTEX_SHADER, VS));
    gl.attachShader(prog, sh(gl.FRAGMENT_SHADER, FS));
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog));
  } catch (e) {
    // The canvas keeps its WebGL context: draw on a fresh one.
    console.warn('WebGL2 shaders failed, drawing in software', e);
    gl = null;
    const c = document.createElement('canvas');
    c.id = glCanvas.id;
    glCanvas.replaceWith(c);
    glCanvas = c;
    useSoftware();
    return;
  }
  // One vertex array for goroutine rows, one for P lanes: same attributes.
  const makeVao = (into) => {
    const v = gl.createVertexArray();
    gl.bindVertexArray(v);
    ['start', 'end', 'row', 'slot'].forEach((name, loc) => {
      const b = gl.createBuffer();
      gl.bindBuffer(gl.ARRAY_BUFFER, b);
      gl.enableVertexAttribArray(loc);
      gl.vertexAttribPointer(loc, 1, gl.FLOAT, false, 0, 0);
      gl.vertexAttribDivisor(loc, 1);
      into[name] = b;
    });
    return v;
  };
  vao = makeVao(bufs);
  laneVao = makeVao(laneBufs);
  for (const u of ['u_size', 'u_off', 'u_scale', 'u_scroll', 'u_rowh', 'u_top', 'u_pad', 'u_barh', 'u_pal']) uni[u] = gl.getUniformLocation(prog, u);
  gl.useProgram(prog);
  statePal = new Float32Array(16 * 4);
  statePal.set(paletteFloats().subarray(0, 64));
  groupPal = groupPaletteFloats();
  gl.uniform4fv(uni.u_pal, statePal);
  gl.enable(gl.BLEND);
  gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
  renderer = 'webgl2'; stats.renderer = renderer;
}

function uploadGL(d) {
  if (!gl) return;
  gl.bindBuffer(gl.ARRAY_BUFFER, bufs.start); gl.bufferData(gl.ARRAY_BUFFER, d.start, gl.STATIC_DRAW);
  gl.bindBuffer(gl.ARRAY_BUFFER, bufs.end); gl.bufferData(gl.ARRAY_BUFFER, d.end, gl.STATIC_DRAW);
  gl.bindBuffer(gl.ARRAY_BUFFER, bufs.row); gl.bufferData(gl.ARRAY_BUFFER, d.row, gl.STATIC_DRAW);
  gl.bindBuffer(gl.ARRAY_BUFFER, bufs.slot); gl.bufferData(gl.ARRAY_BUFFER, d.slot, gl.STATIC_DRAW);
}

// ---------- layout & data ----------

function plotW() { return Math.max(1, W - GUTTER - 14); }
function topY() { return AXIS_H + BAND_H + procLaneH(); }
/** Lanes shown: the Ps in the last lanes buffer, else the Ps /api/procs knows. */
function laneCount() {
  if (!showProcs) return 0;
  if (lanes) return lanes.laneCount;
  return procs ? Math.min(procs.procs.length, 256) : 0;
}
function laneH() { const n = laneCount(); return n <= 16 ? 10 : Math.max(2, Math.floor(160 / n)); }
function laneTop() { return AXIS_H + BAND_H + 2; }
function procLaneH() { const n = laneCount(); return n ? n * laneH() + 4 : 0; }
/** Height of one drawn row (a line of packed rows in "all rows"). */
function rowH() { return dense ? lineH : ROW_H; }
function visibleRows() { return Math.max(1, Math.floor((H - topY()) / rowH())); }
/** Lines drawn in "all rows" mode. */
function denseLines() { return Math.ceil(totalRows / pack); }

/**
 * "All rows" geometry: lines as tall as fit (1 px at 100k rows, at most a
 * normal row) and how many layout rows each line stands for.
 */
function layoutDense() {
  const plotH = Math.max(1, H - topY());
  lineH = Math.max(1, Math.min(ROW_H, Math.floor(plotH / Math.max(1, totalRows))));
  pack = Math.max(1, Math.ceil(totalRows / Math.min(maxDenseLines, Math.floor(plotH / lineH))));
}

function setDense(on) {
  if (on === dense) return;
  dense = on;
  const box = document.getElementById('tl-dense');
  if (box) box.checked = on;
  data = null;
  if (on) { layoutDense(); scrollRow = 0; scrollEl.scrollTop = 0; lastScrollTop = 0; scrollTopWant = null; }
  updateSpacer();
  invalidate();
}

// The canvas's place on the page, read once per resize: reading it per
// mouse move would force a layout whenever the toolbar text just changed.
let wrapRect = null;
function canvasRect() { return wrapRect || (wrapRect = wrap.getBoundingClientRect()); }

function resize() {
  dpr = window.devicePixelRatio || 1;
  const r = wrapRect = wrap.getBoundingClientRect();
  W = Math.max(1, Math.floor(r.width)); H = Math.max(1, Math.floor(r.height));
  for (const c of [glCanvas, ov]) {
    c.style.width = `${W}px`; c.style.height = `${H}px`;
    c.width = Math.round(W * dpr); c.height = Math.round(H * dpr);
  }
  updateSpacer();
  dirty = true;
}

async function onReady() {
  const t = (app.summary && app.summary.time) || {};
  full = { start: t.detail_start_ns ?? t.start_ns ?? 0, end: t.end_ns ?? 1 };
  if (!(full.end > full.start)) full.end = full.start + 1;
  view = { ...full };
  resize();
  await Promise.all([loadRows(), loadProcs()]);
  invalidate();
}

// In live mode the right edge follows the newest data when the view was
// already at the end (like a terminal that scrolls only when at the bottom).
function followLive() {
  const t = (app.summary && app.summary.time) || {};
  if (t.end_ns === undefined) return;
  const atEnd = view.end >= full.end - (view.end - view.start) * 0.02;
  const newFull = { start: t.detail_start_ns ?? t.start_ns ?? full.start, end: t.end_ns };
  if (atEnd) {
    const span = view.end - view.start;
    const wasWhole = view.start <= full.start + span * 0.02;
    full = newFull;
    view = wasWhole ? { ...full } : { start: Math.max(full.start, full.end - span), end: full.end };
  } else full = newFull;
  loadRows();
}

function filterParams() {
  return {
    group: filter.group ?? undefined,
    collapsed: collapseAll ? 'all' : [...collapsed].join(','),
  };
}

// The row layout: the loaded model's, or for a range before its detail
// (a big trace opened with its early detail decoded from the file) that
// range's own, which `/api/rows` gives for the same start_ns/end_ns as
// the timeline buffer (`rowsRange`, null for the loaded model's).
let rowsInFlight = false, rowsRange = null;
async function loadRows(range = rowsRange) {
  if (rowsInFlight) return;
  rowsInFlight = true;
  try {
    const r = await getJSON('/api/rows', { ...filterParams(), offset: 0, limit: 1, start_ns: range ? range.start_ns : undefined, end_ns: range ? range.end_ns : undefined });
    rowsRange = range && r.from_file ? range : null;
    stats.rowsFromFile = !!rowsRange;
    totalRows = r.total_rows || 0;
    groupsLayout = r.groups || [];
    updateSpacer();
    dirty = true;
  } catch (e) { stats.errors++; console.warn(e); } finally { rowsInFlight = false; }
}

async function loadProcs() {
  try { procs = await getJSON('/api/procs'); if (!procs || !Array.isArray(procs.procs) || !procs.procs.length) procs = null; } catch (_) { procs = null; }
  dirty = true;
}

function updateSpacer() {
  if (dense) layoutDense();
  spacer.style.height = `${dense ? 0 : Math.max(0, totalRows * ROW_H + topY())}px`;
}

function invalidate() { if (data) data.stale = true; dirty = true; }

/** The request that covers the current view, or null if the buffer we have is good enough. */
function wantedRequest() {
  const span = view.end - view.start;
  // "All rows": every row, packed `pack` to a line (the server aggregates).
  const first = dense ? 0 : Math.max(0, Math.floor(scrollRow) - ROW_MARGIN);
  const limit = dense ? Math.max(1, totalRows) : Math.min(5000, visibleRows() + 2 * ROW_MARGIN);
  const res = Math.max(1, Math.floor(span / plotW()));
  if (data && !data.stale) {
    const covers = data.startNs <= view.start + 1 && data.endNs >= Math.min(view.end, full.end) - 1;
    const resOk = data.resNs <= res * 1.6 && data.resNs >= res / 2.5;
    const rowsOk = dense ? data.pack === pack && data.rowLimit >= totalRows
      : !data.pack && data.rowOffset <= Math.floor(scrollRow) &&
        data.rowOffset + data.rowLimit >= Math.min(totalRows, Math.ceil(scrollRow) + visibleRows());
    if (covers && resOk && rowsOk && data.key === filterKey()) return null;
  }
  // Fetch half a screen either side so small pans are already covered.
  const s = Math.max(full.start, view.start - span / 2);
  const e = Math.min(full.end, view.end + span / 2);
  return { start_ns: Math.floor(s), end_ns: Math.ceil(e), res_ns: res, row_offset: first, row_limit: limit, pack: dense ? pack : undefined, ...filterParams() };
}

function filterKey() { return JSON.stringify(filterParams()); }

let lastReqAt = -1e9;
const MIN_REFETCH_MS = 120; // while panning/zooming, at most ~8 requests a second: the old buffer is drawn meanwhile

function absUrl(path, params) { return new URL(withParams(path, params), location.href).href; }

function maybeFetch() {
  if (pending || !app.status || app.status.state !== 'ready') return;
  const now = performance.now();
  if (data && now - lastReqAt < MIN_REFETCH_MS) return;
  const req = wantedRequest();
  if (!req) return;
  lastReqAt = now;
  const id = ++reqSeq;
  pending = { id, key: filterKey(), rowOffset: req.row_offset, rowLimit: req.row_limit, pack: req.pack || 0, startNs: req.start_ns, endNs: req.end_ns, t0: performance.now() };
  stats.fetches++;
  worker.postMessage({ id, kind: 'timeline', pack: req.pack || 0, url: absUrl('/api/timeline', req) });
  maybeFetchBandsAndWakes();
}

// P lanes follow the view on their own (the row buffer may still be good
// when the lanes are not): same margins and resolution as the rows.
let lanesReqAt = -1e9;
function maybeFetchLanes() {
  if (!showProcs || !app.status || app.status.state !== 'ready') return;
  const now = performance.now();
  if (lanes && now - lanesReqAt < MIN_REFETCH_MS) return;
  const span = view.end - view.start;
  const res = Math.max(1, Math.floor(span / plotW()));
  if (lanes && lanesKey.endsWith(`:${app.version}`)) {
    const covers = lanes.startNs <= view.start + 1 && lanes.endNs >= Math.min(view.end, full.end) - 1;
    const resOk = lanes.resNs <= res * 1.6 && lanes.resNs >= res / 2.5;
    if (covers && resOk) return;
  }
  lanesReqAt = now;
  const s = Math.max(full.start, view.start - span / 2), e = Math.min(full.end, view.end + span / 2);
  fetchLanes({ start_ns: Math.floor(s), end_ns: Math.ceil(e), res_ns: res });
}

// P lanes for the timeline request's range and resolution; one request in
// flight, the newest wanted one follows it.
function fetchLanes(req) {
  if (!showProcs) return;
  const key = `${req.start_ns}:${req.end_ns}:${req.res_ns}:${app.version}`;
  if (key === lanesKey) return;
  lanesWant = { start_ns: req.start_ns, end_ns: req.end_ns, res_ns: req.res_ns, key };
  if (lanesInFlight) return;
  const w = lanesWant;
  lanesWant = null;
  lanesInFlight = w;
  // Fetched and decoded (with drawing rows and group colours) by the worker.
  worker.postMessage({ id: ++reqSeq, kind: 'lanes', url: absUrl('/api/proc_lanes', { start_ns: w.start_ns, end_ns: w.end_ns, res_ns: w.res_ns }) });
}

function onLanes(m) {
  const w = lanesInFlight;
  lanesInFlight = false;
  if (m.ok) { setLanes(m.data); lanesKey = w ? w.key : ''; } else { stats.errors++; stats.lastLaneError = m.error; console.warn(m.error); }
  if (lanesWant) { const n = lanesWant; lanesWant = null; fetchLanes(n); }
}

function setLanes(d) {
  const before = laneCount();
  lanes = d;
  if (gl) {
    for (const name of ['start', 'end', 'row', 'slot']) {
      gl.bindBuffer(gl.ARRAY_BUFFER, laneBufs[name]);
      gl.bufferData(gl.ARRAY_BUFFER, d[name], gl.STATIC_DRAW);
    }
  }
  stats.laneCount = d.laneCount; stats.laneRuns = d.runCount; stats.laneFetches = (stats.laneFetches || 0) + 1;
  if (laneCount() !== before) updateSpacer();
  dirty = true;
}

function onWorker(ev) {
  const m = ev.data;
  if (m.kind === 'lanes') { onLanes(m); return; }
  if (m.kind === 'bands') { if (m.ok && m.data) { bands = m.data; dirty = true; } return; }
  const p = pending;
  pending = null;
  if (!p || m.id !== p.id) { dirty = true; return; }
  if (!m.ok) {
    stats.errors++;
    stats.lastError = m.error;
    console.warn(m.error);
    // Back off a little before asking again.
    pending = { id: -1 }; setTimeout(() => { pending = null; dirty = true; }, 1000);
    return;
  }
  const d = m.data;
  d.key = p.key; d.rowOffset = p.rowOffset; d.rowLimit = p.rowLimit; d.pack = p.pack;
  // Drawing row (layout row, or line of packed rows) -> position in the buffer.
  d.rowOfGoroutine = new Map();
  d.rowPos = new Map();
  if (p.pack) {
    for (let i = 0; i < d.rowCount; i++) d.rowPos.set(Math.floor(d.rowIndex[i] / p.pack), i);
  } else {
    for (let i = 0; i < d.rowCount; i++) d.rowOfGoroutine.set(d.rowIds[i], d.rowIndex[i]);
    for (let i = 0; i < d.rowCount; i++) d.rowPos.set(d.rowIndex[i], i);
  }
  if (d.totalRows !== totalRows) { totalRows = d.totalRows; updateSpacer(); }
  // A packed answer for an old row count: ask again with the new packing.
  if (p.pack && p.pack !== pack) d.stale = true;
  // Rows decoded from the file for this range are laid out over the
  // goroutines of that range: the labels follow that layout (and go back
  // to the loaded model's when the view leaves the early range).
  const want = d.fromFile ? { start_ns: p.startNs, end_ns: p.endNs } : null;
  if (JSON.stringify(want) !== JSON.stringify(rowsRange)) loadRows(want).then(() => { dirty = true; });
  stats.fromFile = d.fromFile;
  data = d;
  uploadGL(d);
  stats.bufferSpans = d.spanCount; stats.rowsInBuffer = p.pack ? Math.min(totalRows, d.rowCount * p.pack) : d.rowCount;
  stats.sourceSpans = d.sourceSpans;
  stats.lastFetchMs = d.fetchMs; stats.lastDecodeMs = d.decodeMs; stats.lastBytes = d.bytes;
  stats.lastRoundTripMs = performance.now() - p.t0;
  dirty = true;
}

async function maybeFetchBandsAndWakes() {
  const span = view.end - view.start;
  const s = Math.floor(Math.max(full.start, view.start - span / 2)), e = Math.ceil(Math.min(full.end, view.end + span / 2));
  const bk = `${s}:${e}`;
  if (bk !== bandsKey) {
    bandsKey = bk;
    worker.postMessage({ id: ++reqSeq, kind: 'bands', url: absUrl('/api/bands', { start_ns: s, end_ns: e }) });
  }
  if (showWakes && !dense) {
    const wk = `${bk}:${filter.group}`;
    if (wk !== wakesKey) {
      wakesKey = wk;
      getJSON('/api/wakes', { start_ns: Math.floor(view.start), end_ns: Math.ceil(view.end), group: filter.group ?? undefined, limit: 4000 })
        .then((w) => { wakes = Array.isArray(w) ? w : []; dirty = true; }).catch(() => {});
    }
  }
}

// ---------- view changes ----------

export function setView(start, end) {
  let span = Math.max(MIN_SPAN_NS, end - start);
  const fullSpan = full.end - full.start;
  if (span > fullSpan) span = fullSpan;
  start = Math.max(full.start, Math.min(start, full.end - span));
  view = { start, end: start + span };
  dirty = true;
}

function zoomAt(px, factor) {
  const t = view.start + (px / plotW()) * (view.end - view.start);
  setView(t - (t - view.start) * factor, t + (view.end - t) * factor);
}

function panBy(dxPx) {
  const dt = (dxPx / plotW()) * (view.end - view.start);
  setView(view.start - dt, view.end - dt);
}

// The scroller's position as last set or seen: reading scrollTop would
// force a style and layout pass whenever the DOM changed since the last
// frame (traced: up to 38 ms on a loaded machine).
let lastScrollTop = 0, scrollTopWant = null;
function setScroll(r) {
  if (dense) return; // every row is on screen
  scrollRow = Math.max(0, Math.min(r, Math.max(0, totalRows - visibleRows() + 1)));
  scrollTopWant = Math.round(scrollRow * ROW_H); // applied at the next frame
  dirty = true;
}

function setFilter(f) {
  filter = { group: f.group ?? null, goroutine: f.goroutine ?? null };
  const chip = document.getElementById('tl-filter');
  if (filter.group !== null) {
    chip.textContent = `group: ${shortFunc(app.groupName(filter.group))}`;
    chip.classList.remove('hidden');
  } else chip.classList.add('hidden');
  if (f.since_ns !== undefined && f.since_ns !== null) {
    const span = Math.max(MIN_SPAN_NS * 1000, (full.end - f.since_ns) * 1.1);
    setView(f.since_ns - span * 0.05, f.since_ns + span);
  }
  scrollRow = 0; scrollEl.scrollTop = 0; lastScrollTop = 0; scrollTopWant = null;
  data = null;
  loadRows().then(invalidate);
  invalidate();
}

function bindInput() {
  document.getElementById('tl-zoom-in').onclick = () => zoomAt(plotW() / 2, 0.5);
  document.getElementById('tl-zoom-out').onclick = () => zoomAt(plotW() / 2, 2);
  document.getElementById('tl-reset').onclick = () => setView(full.start, full.end);
  document.getElementById('tl-wakes').onchange = (e) => { showWakes = e.target.checked; wakesKey = ''; maybeFetchBandsAndWakes(); dirty = true; };
  document.getElementById('tl-procs').onchange = (e) => { showProcs = e.target.checked; lanesKey = ''; if (!showProcs) lanes = null; updateSpacer(); invalidate(); };
  document.getElementById('tl-grouped').onchange = (e) => { collapseAll = e.target.checked; collapsed.clear(); data = null; loadRows().then(invalidate); };
  document.getElementById('tl-filter').onclick = () => setFilter({});
  scrollEl.addEventListener('scroll', () => {
    lastScrollTop = scrollEl.scrollTop;
    if (!dense) scrollRow = lastScrollTop / ROW_H;
    dirty = true;
  });
  const denseBox = document.getElementById('tl-dense');
  if (denseBox) denseBox.onchange = (e) => setDense(e.target.checked);
  glCanvas.addEventListener('wheel', (ev) => {
    ev.preventDefault();
    const r = canvasRect();
    const px = ev.clientX - r.left - GUTTER;
    if (ev.shiftKey || px < 0) setScroll(scrollRow + ev.deltaY / ROW_H);
    else if (Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) panBy(-ev.deltaX);
    else zoomAt(Math.max(0, px), Math.exp(ev.deltaY * 0.002));
  }, { passive: false });
  glCanvas.addEventListener('mousedown', (ev) => {
    const r = wrapRect = wrap.getBoundingClientRect();
    drag = { x: ev.clientX, y: ev.clientY, row: scrollRow, moved: false, px: ev.clientX - r.left, py: ev.clientY - r.top };
  });
  window.addEventListener('mousemove', (ev) => {
    const r = canvasRect();
    const px = ev.clientX - r.left, py = ev.clientY - r.top;
    if (drag) {
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) {
        panBy(dx); drag.x = ev.clientX;
        setScroll(drag.row - dy / ROW_H);
      }
      return;
    }
    if (app.tab !== 'timeline' || px < 0 || py < 0 || px > W || py > H) { tip.classList.add('hidden'); hoverRow = -1; return; }
    hover(px, py);
  });
  window.addEventListener('mouseup', (ev) => {
    if (drag && !drag.moved) click(drag.px, drag.py);
    drag = null;
  });
  window.addEventListener('keydown', (ev) => {
    if (app.tab !== 'timeline' || ev.target.tagName === 'INPUT') return;
    const k = ev.key.toLowerCase();
    if (k === 'w' || k === '+' || k === '=') zoomAt(plotW() / 2, 0.7);
    else if (k === 's' || k === '-') zoomAt(plotW() / 2, 1 / 0.7);
    else if (k === 'a' || k === 'arrowleft') panBy(plotW() * 0.2);
    else if (k === 'd' || k === 'arrowright') panBy(-plotW() * 0.2);
    else if (k === 'arrowdown') setScroll(scrollRow + 3);
    else if (k === 'arrowup') setScroll(scrollRow - 3);
    else if (k === 'pagedown') setScroll(scrollRow + visibleRows());
    else if (k === 'pageup') setScroll(scrollRow - visibleRows());
    else if (k === '0') setView(full.start, full.end);
    else return;
    ev.preventDefault();
  });
}

function rowAtY(py) {
  if (py < topY()) return -1;
  const r = Math.floor(scrollRow + (py - topY()) / rowH());
  return r < (dense ? denseLines() : totalRows) ? r : -1;
}

function timeAtX(px) { return view.start + ((px - GUTTER) / plotW()) * (view.end - view.start); }

function spanAt(row, t) {
  if (!data) return -1;
  const i = data.rowPos.get(row);
  if (i === undefined) return -1;
  const rel = t - data.startNs;
  let lo = data.rowFirst[i], hi = lo + data.rowLen[i] - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (data.end[mid] <= rel) lo = mid + 1;
    else if (data.start[mid] > rel) hi = mid - 1;
    else return mid;
  }
  return -1;
}

/** The layout group of drawing row `row` (of a line's first row in "all rows"). */
function groupOfRow(row) {
  if (dense) row *= pack;
  for (const g of groupsLayout) if (row >= g.first_row && row < g.first_row + g.row_count) return g;
  return null;
}

/** The P lane under y, or -1. */
function laneAtY(py) {
  const n = laneCount();
  if (!lanes || !n || py < laneTop() || py >= laneTop() + n * laneH()) return -1;
  return Math.min(n - 1, Math.floor((py - laneTop()) / laneH()));
}

/** Index of lane `l`'s run covering time t, or the nearest within `slop` ns; -1 if none. */
function laneRunAt(l, t, slop = 0) {
  const rel = t - lanes.startNs;
  const first = lanes.laneFirst[l], end = first + lanes.laneLen[l];
  // First run ending after rel - slop (runs are sorted and disjoint).
  let lo = first, hi = end;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (lanes.end[mid] <= rel - slop) lo = mid + 1; else hi = mid; }
  let best = -1, dist = Infinity;
  for (let i = lo; i < end && lanes.start[i] <= rel + slop; i++) {
    const d = rel < lanes.start[i] ? lanes.start[i] - rel : (rel >= lanes.end[i] ? rel - lanes.end[i] : 0);
    if (d < dist) { dist = d; best = i; }
    if (d === 0) break;
  }
  return best;
}

function placeTip(px, py, lines) {
  tip.textContent = lines.join('\n');
  tip.style.left = `${Math.min(px + 14, W - 260)}px`;
  tip.style.top = `${py + 16}px`;
  tip.classList.remove('hidden');
}

function hover(px, py) {
  const lane = laneAtY(py);
  if (lane >= 0) {
    hoverRow = -1; dirty = true;
    const lines = [`P${lanes.laneProc[lane]}`];
    if (px >= GUTTER) {
      const t = timeAtX(px);
      const i = laneRunAt(lane, t, 2 * (view.end - view.start) / plotW()); // runs are often under a pixel
      if (i >= 0) {
        const g = lanes.goroutine[i];
        lines.push(g >= 0 ? `goroutine ${g}` : 'several goroutines (below the resolution)');
        lines.push(`${shortFunc(app.groupName(lanes.group[i]))} for ${fmtNs(lanes.end[i] - lanes.start[i])}`);
      } else lines.push('idle');
      lines.push(`at ${fmtNs(t - full.start)}`);
    } else lines.push('which goroutine ran on this P, coloured by group');
    placeTip(px, py, lines);
    return;
  }
  const row = rowAtY(py);
  hoverRow = row;
  dirty = true;
  if (row < 0) { tip.classList.add('hidden'); return; }
  const g = groupOfRow(row);
  const pos = data ? data.rowPos.get(row) : undefined;
  const gid = pos !== undefined && !dense ? data.rowIds[pos] : null;
  const lines = [];
  if (dense) lines.push(`rows ${row * pack}–${Math.min(totalRows, (row + 1) * pack) - 1} (majority state of ${pack} rows; click to open)`);
  if (gid !== null && gid >= 0) lines.push(`goroutine ${gid}`);
  if (g) lines.push(`${g.name}${gid === -1 ? ` (collapsed, ${g.row_count} rows)` : ''}`);
  if (px >= GUTTER) {
    const t = timeAtX(px);
    const si = spanAt(row, t);
    if (si >= 0) {
      const st = STATE_NAMES[data.state[si]] || '?';
      const reason = data.strings[data.reason[si]] || '';
      lines.push(`${st}${reason ? `: ${reason}` : ''} for ${fmtNs(data.end[si] - data.start[si])}`);
    }
    lines.push(`at ${fmtNs(t - full.start)}`);
  } else lines.push('click to open or fold the group');
  tip.textContent = lines.join('\n');
  tip.style.left = `${Math.min(px + 14, W - 260)}px`;
  tip.style.top = `${py + 16}px`;
  tip.classList.remove('hidden');
}

function click(px, py) {
  const lane = laneAtY(py);
  if (lane >= 0 && px >= GUTTER) {
    const i = laneRunAt(lane, timeAtX(px), 2 * (view.end - view.start) / plotW());
    if (i >= 0 && lanes.goroutine[i] >= 0) app.select('goroutine', lanes.goroutine[i]);
    else if (i >= 0) app.select('group', lanes.group[i]);
    return;
  }
  const row = rowAtY(py);
  if (row < 0) return;
  if (dense) {
    // Open the rows of this line at normal height.
    setDense(false);
    setScroll(row * pack);
    return;
  }
  const g = groupOfRow(row);
  const pos = data ? data.rowPos.get(row) : undefined;
  const gid = pos !== undefined ? data.rowIds[pos] : null;
  if (px < GUTTER && g) {
    // Fold / unfold the group.
    if (g.collapsed || collapsed.has(g.id)) collapsed.delete(g.id); else collapsed.add(g.id);
    if (collapseAll) { collapseAll = false; for (const x of groupsLayout) if (x.id !== g.id) collapsed.add(x.id); }
    data = null;
    loadRows().then(invalidate);
    return;
  }
  if (gid !== null && gid >= 0) app.select('goroutine', gid);
  else if (g) app.select('group', g.id);
}

function visibleRowIds() {
  if (!data || dense) return [];
  const out = [];
  const first = Math.floor(scrollRow), n = visibleRows();
  for (let r = first; r < first + n; r++) { const p = data.rowPos.get(r); if (p !== undefined) out.push(data.rowIds[p]); }
  return out;
}

// ---------- drawing ----------

function frame() {
  requestAnimationFrame(frame);
  if (app.tab !== 'timeline') return;
  // The scroller follows scrollRow here, first, while the page's layout is
  // still clean from the last frame: written after a DOM change (or read),
  // scrollTop forces a style and layout pass on the spot.
  if (scrollTopWant !== null) {
    if (Math.abs(lastScrollTop - scrollTopWant) > 1) { scrollEl.scrollTop = scrollTopWant; lastScrollTop = scrollTopWant; }
    scrollTopWant = null;
  }
  maybeFetch();
  maybeFetchLanes();
  if (!dirty) { if (toolbarStale) updateToolbar(); return; }
  dirty = false;
  const t0 = performance.now();
  drawSpans();
  drawOverlay();
  stats.frames++;
  stats.lastDrawMs = performance.now() - t0;
  if (window.weftDrawTimes) window.weftDrawTimes.push(stats.lastDrawMs);
  updateToolbar();
}

// Toolbar text at most every 250 ms, only when it changed, and only from
// the frame callback: a DOM text change costs a style, layout (text
// shaping) and paint pass, which at 60 Hz while panning showed up as whole
// frames in Chromium traces, and from a timer between frames it made the
// next frame's scroll update force that layout.
let toolbarAt = 0, toolbarStale = false;
function updateToolbar() {
  const now = performance.now();
  if (now - toolbarAt < 250) { toolbarStale = true; return; }
  toolbarStale = false;
  toolbarAt = now;
  const set = (id, t) => { const el = document.getElementById(id); if (el.textContent !== t) el.textContent = t; };
  set('tl-range', `${fmtNs(view.start - full.start)} – ${fmtNs(view.end - full.start)}  (${fmtNs(view.end - view.start)} wide)`);
  set('tl-stats', !data ? renderer : dense
    ? `${totalRows} rows, ${pack} per line · ${data.sourceSpans} spans as ${data.spanCount} · ${renderer}`
    : `${totalRows} rows · ${data.spanCount} spans in buffer${data.fromFile ? ' · detail read from the file' : ''} · ${renderer}`);
}

function drawSpans() {
  if (renderer === 'webgl2') {
    gl.viewport(0, 0, glCanvas.width, glCanvas.height);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    // Plot area only: the gutter and the axis stay clear.
    gl.enable(gl.SCISSOR_TEST);
    const top = topY();
    gl.useProgram(prog);
    gl.bindVertexArray(vao);
    gl.uniform2f(uni.u_size, plotW(), H);
    // The vertex shader works in plot pixels; shift the viewport to the plot.
    gl.viewport(Math.round(GUTTER * dpr), 0, Math.round(plotW() * dpr), Math.round(H * dpr));
    gl.uniform1f(uni.u_scale, plotW() / (view.end - view.start));
    let s0 = 0, s1 = 0;
    if (data && data.spanCount) {
      gl.scissor(Math.round(GUTTER * dpr), 0, Math.round(plotW() * dpr), Math.max(0, Math.round((H - top) * dpr)));
      gl.uniform1f(uni.u_off, data.startNs - view.start);
      gl.uniform1f(uni.u_scroll, scrollRow);
      gl.uniform4fv(uni.u_pal, statePal);
      gl.uniform1f(uni.u_rowh, rowH());
      gl.uniform1f(uni.u_top, top);
      gl.uniform1f(uni.u_pad, dense ? 0 : 1);
      gl.uniform1f(uni.u_barh, dense ? lineH : ROW_H - 3);
      // Submit only the spans of the visible rows (rows are contiguous in the
      // span table): software GL pays for every instance, even off screen.
      [s0, s1] = visibleSpanRange();
      if (s1 > s0) {
        ['start', 'end', 'row', 'slot'].forEach((name, loc) => {
          gl.bindBuffer(gl.ARRAY_BUFFER, bufs[name]);
          gl.vertexAttribPointer(loc, 1, gl.FLOAT, false, 0, s0 * 4);
        });
        gl.drawArraysInstanced(gl.TRIANGLES, 0, 6, s1 - s0);
      }
    }
    stats.spansDrawn = s1 - s0;
    drawLanesGL();
    gl.disable(gl.SCISSOR_TEST);
    return;
  }
  drawSpansSoft();
}

// ---------- software renderer ----------
// Without a GPU the spans are written straight into a pixel buffer: one
// scan line per row from its spans, copied down to the bar's height, then
// one putImageData. The cost is bounded by the pixels on screen, whatever
// the number of spans; the overlay is then drawn on the same canvas so the
// compositor takes a single layer per frame.

/** Canvas colour '#rrggbb[aa]' as a little-endian RGBA pixel (ABGR u32). */
function pixelOf(css) {
  const v = (k) => parseInt(css.slice(1 + k, 3 + k), 16);
  const a = css.length > 7 ? v(6) : 255;
  return ((a << 24) | (v(4) << 16) | (v(2) << 8) | v(0)) >>> 0;
}
const STATE_PIXELS = Uint32Array.from(PALETTE, ([c]) => pixelOf(c));
const GROUP_PIXELS = Uint32Array.from(GROUP_PALETTE, pixelOf);
const STATE_CSS = PALETTE.map(([c]) => c);
// Up to this many spans and runs on screen, bars are filled as rectangles on
// the canvas (same pixel edges): cheaper than writing and uploading the whole
// 1600x900 pixel buffer (putImageData was the biggest part of a frame, 7-16
// ms on a loaded machine, with ~100 spans on screen). More, and the cost of
// the pixel buffer, bounded by the screen, wins.
let RECT_MAX_SPANS = 3000; // tests set it to 0 to check the pixel buffer's output

function useSoftware() {
  renderer = 'canvas2d';
  stats.renderer = renderer;
  octx = glCanvas.getContext('2d');
  ov.style.display = 'none';
}

/**
 * Paints spans i0..i1 as bars on device lines [yA, yB) of the plot: into
 * the pixel buffer, or with `S.ctx` as rectangles on the canvas (`css`
 * colours) with the same pixel edges.
 */
function paintBars(S, yA, yB, starts, ends, slots, pal, i0, i1, off, scale, css) {
  if (yB <= yA || i1 <= i0) return 0;
  const { px, w, ctx } = S;
  const xl = Math.round(GUTTER * dpr), xr = Math.min(w, Math.round((GUTTER + plotW()) * dpr));
  const base = yA * w;
  const k = scale * dpr, o = (GUTTER + off * scale) * dpr;
  let n = 0;
  for (let i = i0; i < i1; i++) {
    // Pixels whose centre the span covers, as GPU rasterisation does (edges
    // from the server's bucket grid land a hair below whole pixels).
    let a = Math.round(o + starts[i] * k), b = Math.round(o + ends[i] * k);
    if (b <= a) b = a + 1; // keep sub-pixel spans visible
    if (b <= xl || a >= xr) continue;
    if (a < xl) a = xl;
    if (b > xr) b = xr;
    if (ctx) {
      const c = css[slots[i]];
      if (S.style !== c) { ctx.fillStyle = c; S.style = c; }
      ctx.fillRect(a, yA, b - a, yB - yA);
    } else px.fill(pal[slots[i]], base + a, base + b);
    n++;
  }
  if (!ctx) for (let y = yA + 1; y < yB; y++) px.copyWithin(y * w + xl, base + xl, base + xr);
  return n;
}

function drawSpansSoft() {
  const ctx = octx;
  const w = glCanvas.width, h = glCanvas.height;
  if (!soft || soft.w !== w || soft.h !== h) {
    const img = ctx.createImageData(w, h);
    soft = { img, px: new Uint32Array(img.data.buffer), w, h };
  }
  const scale = plotW() / (view.end - view.start), top = topY();
  const clipTop = Math.round(top * dpr);
  // Few spans on screen: rectangles; many: the pixel buffer.
  let count = showProcs && lanes ? lanes.runCount : 0;
  if (data) {
    for (let r = Math.floor(scrollRow); r < scrollRow + visibleRows() + 1 && count <= RECT_MAX_SPANS; r++) {
      const i = data.rowPos.get(r);
      if (i !== undefined) count += data.rowLen[i];
    }
  }
  let S = soft;
  if (count <= RECT_MAX_SPANS) {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, w, h);
    S = { ctx, w, style: null };
  } else S.px.fill(0);
  stats.softPath = S.ctx ? 'rects' : 'pixels';
  let n = 0;
  if (data) {
    const off = data.startNs - view.start;
    const rh = rowH(), pad = dense ? 0 : 1, barh = dense ? lineH : ROW_H - 3;
    for (let r = Math.floor(scrollRow); r < scrollRow + visibleRows() + 1; r++) {
      const i = data.rowPos.get(r);
      if (i === undefined) continue;
      const y = top + (r - scrollRow) * rh + pad;
      const yA = Math.max(clipTop, Math.round(y * dpr)), yB = Math.min(h, Math.round((y + barh) * dpr));
      n += paintBars(S, yA, yB, data.start, data.end, data.slot, STATE_PIXELS, data.rowFirst[i], data.rowFirst[i] + data.rowLen[i], off, scale, STATE_CSS);
    }
  }
  stats.spansDrawn = n;
  let runs = 0;
  if (showProcs && lanes) {
    const lh = laneH(), lt = laneTop(), off = lanes.startNs - view.start, barh = lh - (lh >= 8 ? 2 : 1);
    for (let l = 0; l < lanes.laneCount; l++) {
      const y = lt + l * lh;
      const yA = Math.round(y * dpr), yB = Math.min(clipTop, Math.round((y + barh) * dpr));
      runs += paintBars(S, yA, yB, lanes.start, lanes.end, lanes.slot, GROUP_PIXELS, lanes.laneFirst[l], lanes.laneFirst[l] + lanes.laneLen[l], off, scale, GROUP_PALETTE);
    }
  }
  stats.laneRunsDrawn = runs;
  if (!S.ctx) ctx.putImageData(S.img, 0, 0);
}

/** P lanes with the span shader: lane index as the row, group colours as the palette. */
function drawLanesGL() {
  if (!showProcs || !lanes || !lanes.runCount) { stats.laneRunsDrawn = 0; return; }
  const lh = laneH(), lt = laneTop(), n = lanes.laneCount;
  gl.scissor(Math.round(GUTTER * dpr), Math.round((H - (lt + n * lh)) * dpr), Math.round(plotW() * dpr), Math.round(n * lh * dpr));
  gl.uniform4fv(uni.u_pal, groupPal);
  gl.uniform1f(uni.u_off, lanes.startNs - view.start);
  gl.uniform1f(uni.u_scroll, 0);
  gl.uniform1f(uni.u_rowh, lh);
  gl.uniform1f(uni.u_top, lt);
  gl.uniform1f(uni.u_pad, 0);
  gl.uniform1f(uni.u_barh, lh - (lh >= 8 ? 2 : 1));
  gl.bindVertexArray(laneVao);
  gl.drawArraysInstanced(gl.TRIANGLES, 0, 6, lanes.runCount);
  gl.bindVertexArray(vao);
  stats.laneRunsDrawn = lanes.runCount;
}

/** [first, end) span indices of the rows on screen (binary search in the row table). */
function visibleSpanRange() {
  const lo = Math.floor(scrollRow), hi = lo + visibleRows() + 1;
  const find = (r) => { // first row position with rowIndex >= r
    let a = 0, b = data.rowCount;
    while (a < b) { const m = (a + b) >> 1; if (data.rowIndex[m] < r) a = m + 1; else b = m; }
    return a;
  };
  const i0 = find(lo), i1 = find(hi);
  if (i1 <= i0) return [0, 0];
  return [data.rowFirst[i0], data.rowFirst[i1 - 1] + data.rowLen[i1 - 1]];
}

function xOf(t) { return GUTTER + ((t - view.start) / (view.end - view.start)) * plotW(); }

function niceStep(span, px) {
  const target = span / Math.max(1, px / 110);
  const p = Math.pow(10, Math.floor(Math.log10(target)));
  for (const m of [1, 2, 5, 10]) if (p * m >= target) return p * m;
  return p * 10;
}

function drawOverlay() {
  const c = octx;
  c.setTransform(dpr, 0, 0, dpr, 0, 0);
  if (renderer === 'webgl2') c.clearRect(0, 0, W, H); // in software the spans are on this canvas already
  const top = topY();
  const vr = visibleRows();
  // GC / STW bands across the rows (translucent) and in the band strip.
  c.save();
  c.beginPath(); c.rect(GUTTER, AXIS_H, plotW(), H - AXIS_H); c.clip();
  const band = (list, color, strip) => {
    for (const b of list || []) {
      const x0 = xOf(b.start_ns), x1 = xOf(b.end_ns);
      if (x1 < GUTTER || x0 > W) continue;
      c.fillStyle = color;
      c.fillRect(x0, strip ? AXIS_H + 2 : AXIS_H + BAND_H, Math.max(1, x1 - x0), strip ? BAND_H - 4 : H - AXIS_H - BAND_H);
    }
  };
  // A big file's early part at a zoom too wide to decode from the file:
  // say so over it, rather than leave rows that look idle.
  const resident = app.summary && app.summary.time && app.summary.time.resident_detail_start_ns;
  stats.earlyHint = false;
  if (resident !== undefined && data && !data.fromFile && view.start < resident) {
    const x0 = Math.max(GUTTER, xOf(Math.max(view.start, full.start))), x1 = Math.min(W, xOf(resident));
    if (x1 > x0) {
      c.fillStyle = '#8b949e1a';
      c.fillRect(x0, AXIS_H + BAND_H, x1 - x0, H - AXIS_H - BAND_H);
      c.fillStyle = '#8b949e';
      c.fillRect(x1 - 1, AXIS_H + BAND_H, 1, H - AXIS_H - BAND_H);
      c.fillStyle = '#8b949e'; c.font = '12px sans-serif';
      if (x1 - x0 > 220) c.fillText('zoom in to see this part: early detail is read from the file a few seconds at a time', x0 + 8, top + 16, x1 - x0 - 16);
      stats.earlyHint = true;
    }
  }
  band(bands.gc, '#f0883e18', false);
  band(bands.stw, '#f8514930', false);
  band(bands.gc, '#f0883e', true);
  band(bands.stw, '#f85149', true);
  // User regions in the strip, thin and labelled when wide enough.
  c.font = '10px sans-serif';
  for (const r of (bands.regions || []).slice(0, 3000)) {
    const x0 = xOf(r.start_ns), x1 = xOf(r.end_ns ?? view.end);
    if (x1 < GUTTER || x0 > W) continue;
    c.fillStyle = '#a371f7aa';
    c.fillRect(x0, AXIS_H + BAND_H - 4, Math.max(1, x1 - x0), 3);
    if (x1 - x0 > 60) { c.fillStyle = '#d2a8ff'; c.fillText(r.name || 'region', Math.max(x0, GUTTER) + 2, AXIS_H + 9); }
  }
  c.restore();
  // P lanes: labels in the gutter, a rule under the last lane.
  const nl = laneCount();
  if (nl) {
    const lh = laneH(), lt = laneTop();
    c.fillStyle = '#161b22'; c.fillRect(0, AXIS_H + BAND_H, GUTTER, procLaneH());
    c.font = '10px sans-serif'; c.fillStyle = '#8b949e';
    if (lanes && lh >= 9) {
      for (let l = 0; l < lanes.laneCount; l++) c.fillText(`P${lanes.laneProc[l]}`, GUTTER - 34, lt + l * lh + 8);
    }
    c.fillText(`P lanes (${lanes ? lanes.laneCount : nl} Ps)`, 6, lt + 9);
    c.strokeStyle = '#30363d'; c.beginPath(); c.moveTo(0, top - 1.5); c.lineTo(W, top - 1.5); c.stroke();
  }
  c.fillStyle = '#8b949e'; c.font = '10px sans-serif';
  c.fillText('GC / STW / regions', 6, AXIS_H + 10);
  // Time axis.
  c.fillStyle = '#161b22'; c.fillRect(0, 0, W, AXIS_H);
  const span = view.end - view.start;
  const step = niceStep(span, plotW());
  const first = Math.ceil((view.start - full.start) / step) * step + full.start;
  c.strokeStyle = '#30363d'; c.fillStyle = '#8b949e'; c.font = '11px sans-serif';
  c.beginPath();
  for (let t = first; t <= view.end; t += step) {
    const x = Math.round(xOf(t)) + 0.5;
    c.moveTo(x, AXIS_H - 6); c.lineTo(x, H);
    c.fillText(fmtNs(t - full.start), x + 3, 14);
  }
  c.globalAlpha = 0.35; c.stroke(); c.globalAlpha = 1;
  // Gutter: group and goroutine labels.
  c.fillStyle = '#161b22'; c.fillRect(0, top, GUTTER, H - top);
  c.save();
  c.beginPath(); c.rect(0, top, W, H - top); c.clip();
  c.font = '11px sans-serif';
  const firstRow = Math.floor(scrollRow);
  if (dense) {
    // One label per group where its lines begin (when there is room), a
    // rule between groups, and the hovered line.
    let lastY = -1e9;
    for (const g of groupsLayout) {
      const y = top + Math.floor(g.first_row / pack) * lineH;
      c.strokeStyle = '#30363d'; c.beginPath(); c.moveTo(0, y + 0.5); c.lineTo(GUTTER, y + 0.5); c.stroke();
      if (y - lastY < 13) continue;
      lastY = y;
      const label = `${shortFunc(g.name)} (${g.row_count})`;
      c.fillStyle = '#c9d1d9';
      c.fillText(label.length > 34 ? `${label.slice(0, 33)}…` : label, 6, y + 11);
    }
    if (hoverRow >= 0) { c.fillStyle = '#ffffff30'; c.fillRect(0, top + hoverRow * lineH, W, Math.max(1, lineH)); }
  }
  for (let r = firstRow; !dense && r < firstRow + vr + 1 && r < totalRows; r++) {
    const y = top + (r - scrollRow) * ROW_H;
    const g = groupOfRow(r);
    const pos = data ? data.rowPos.get(r) : undefined;
    const gid = pos !== undefined ? data.rowIds[pos] : null;
    if (r === hoverRow) { c.fillStyle = '#ffffff10'; c.fillRect(0, y, W, ROW_H); }
    if (gid !== null && gid === selected) { c.strokeStyle = '#f0f6fc'; c.lineWidth = 1; c.strokeRect(GUTTER + 0.5, y + 0.5, plotW() - 1, ROW_H - 1); }
    if (g && r === g.first_row) { c.strokeStyle = '#30363d'; c.beginPath(); c.moveTo(0, y + 0.5); c.lineTo(W, y + 0.5); c.stroke(); }
    let label;
    if (g && (gid === -1 || g.collapsed)) { c.fillStyle = '#c9d1d9'; label = `▸ ${shortFunc(g.name)} (${g.row_count})`; }
    else if (g && r === g.first_row) { c.fillStyle = '#c9d1d9'; label = `▾ ${shortFunc(g.name)}  ${gid !== null ? `G${gid}` : ''}`; }
    else { c.fillStyle = '#8b949e'; label = gid !== null ? `    G${gid}` : ''; }
    c.fillText(label.length > 34 ? `${label.slice(0, 33)}…` : label, 6, y + 12);
  }
  c.restore();
  // Wake arrows on demand, between visible rows.
  if (showWakes && data && wakes.length && !dense) {
    c.save();
    c.beginPath(); c.rect(GUTTER, top, plotW(), H - top); c.clip();
    // Dense wakes become a haze of thin lines; heads only when few are visible.
    const visible = [];
    for (const w of wakes) {
      const rb = data.rowOfGoroutine.get(w.wakee);
      if (rb === undefined || rb < scrollRow - 1 || rb > scrollRow + vr + 1) continue;
      const x = xOf(w.time_ns);
      if (x < GUTTER || x > W) continue;
      visible.push([w, rb, x]);
    }
    const heads = visible.length < 300;
    c.lineWidth = 1;
    c.strokeStyle = heads ? '#f0f6fcb0' : '#f0f6fc50';
    c.fillStyle = '#f0f6fcd0';
    let drawn = 0;
    for (const [w, rb, x] of visible) {
      const yb = top + (rb - scrollRow) * ROW_H + ROW_H / 2;
      const ra = w.waker >= 0 ? data.rowOfGoroutine.get(w.waker) : undefined;
      const ya = ra !== undefined ? top + (ra - scrollRow) * ROW_H + ROW_H / 2 : yb - 10;
      const xa = x - Math.min(6, Math.abs(yb - ya) * 0.2); // a slight slant tells direction
      c.beginPath(); c.moveTo(xa, ya); c.lineTo(x, yb); c.stroke();
      if (heads) {
        const dir = yb > ya ? 1 : -1;
        c.beginPath(); c.moveTo(x, yb); c.lineTo(x - 2.5, yb - 5 * dir); c.lineTo(x + 2.5, yb - 5 * dir); c.fill();
      }
      drawn++;
    }
    stats.wakesDrawn = drawn;
    c.restore();
  }
  if (!data && app.status && app.status.state === 'ready') {
    c.fillStyle = '#8b949e'; c.font = '13px sans-serif';
    c.fillText(stats.lastError ? `timeline: ${stats.lastError}` : 'loading spans…', GUTTER + 12, top + 20);
  } else if (data && totalRows === 0) {
    c.fillStyle = '#8b949e'; c.font = '13px sans-serif';
    c.fillText('no goroutines match', GUTTER + 12, top + 20);
  }
}
