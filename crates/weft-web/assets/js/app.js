// The page's entry point: shared state, tabs, the live header and the
// WebSocket that keeps every view current. Views are separate modules that
// read `app` and listen to its events; they never talk to each other.
import { getJSON, fmtCount, fmtNs, esc } from './api.js';
import { PALETTE, slotOf } from './colors.js';
import * as shape from './shape.js';
import * as timeline from './timeline.js';
import * as table from './table.js';
import * as inspector from './inspector.js';
import * as findings from './findings.js';

const listeners = new Map();

export const app = {
  status: null,
  summary: null,
  version: 0,
  groups: [],          // normalized groups, see normGroup
  groupById: new Map(),
  flows: [],
  tab: 'shape',
  selection: null,     // {kind: 'goroutine'|'group', id}
  live: false,
  lastUpdateMs: 0,     // performance.now() of the last model update applied
  applyMs: [],         // WebSocket message -> groups re-rendered, last 200 (the live test reports them)

  on(evt, fn) { (listeners.get(evt) || listeners.set(evt, []).get(evt)).push(fn); },
  emit(evt, data) { for (const fn of listeners.get(evt) || []) { try { fn(data); } catch (e) { showError(e); } } },

  select(kind, id) {
    this.selection = { kind, id };
    this.emit('select', this.selection);
  },
  showTab(name) {
    this.tab = name;
    document.querySelectorAll('#tabs button[data-tab]').forEach((b) => b.classList.toggle('active', b.dataset.tab === name));
    document.querySelectorAll('.view').forEach((v) => v.classList.toggle('active', v.id === `view-${name}`));
    this.emit('tab', name);
  },
  groupName(id) {
    const g = this.groupById.get(id);
    return g ? g.name : (id === null || id === undefined ? '–' : `group ${id}`);
  },
};
window.weft = { app }; // for the browser tests and the benchmark

export function showError(e) {
  console.error(e);
  const el = document.getElementById('error');
  el.textContent = String(e && e.message ? e.message : e);
  el.classList.remove('hidden');
  clearTimeout(showError.t);
  showError.t = setTimeout(() => el.classList.add('hidden'), 8000);
}

// ---- normalizers: wire shapes -> view shapes ----

/** Counts of a group's live members by palette slot plus the raw state counts. */
export function normGroup(g) {
  const st = g.states || g.counts || {};
  const blocked = st.blocked || st.waiting_by_reason || {};
  const slots = new Array(PALETTE.length).fill(0);
  slots[1] += st.running || 0;
  slots[0] += st.runnable || 0;
  slots[7] += st.syscall || 0;
  let waiting = 0;
  if (typeof blocked === 'object' && Object.keys(blocked).length) {
    for (const [reason, n] of Object.entries(blocked)) { slots[slotOf('waiting', reason)] += n; waiting += n; }
  } else if (st.waiting) {
    waiting = st.waiting; slots[8] += waiting;
  }
  const site = g.creation_site || g.created_at || null;
  return {
    id: g.id,
    name: g.name || g.entry || g.key || `group ${g.id}`,
    entry: g.entry || g.name || '',
    site,
    system: !!g.system,
    live: g.live ?? ((st.running || 0) + (st.runnable || 0) + (st.syscall || 0) + waiting),
    created: g.created ?? null,
    exited: g.exited ?? null,
    running: st.running || 0, runnable: st.runnable || 0, syscall: st.syscall || 0, waiting,
    blocked,
    slots,
    raw: g,
  };
}

export function normFlow(f) {
  const lat = f.blocked || {};
  return {
    from: f.from_group ?? null,
    fromName: f.from || null,
    to: f.to_group,
    count: f.count || 0,
    rate: f.rate_per_s || 0,
    p50: f.latency_p50_ns ?? lat.p50 ?? lat.p50_ns ?? null,
    p99: f.latency_p99_ns ?? lat.p99 ?? lat.p99_ns ?? null,
    kind: f.waker_kind || null,
  };
}

// ---- data loading ----

let groupsInFlight = false, groupsAgain = false;
export async function refreshGroups(receivedAt) {
  if (groupsInFlight) { groupsAgain = typeof groupsAgain === 'number' ? groupsAgain : (receivedAt || true); return; }
  groupsInFlight = true;
  try {
    const [g, f, o] = await Promise.all([
      getJSON('/api/groups'),
      getJSON('/api/flows').catch(() => []),
      // Objects goroutines wait on: known only for pid:N sources.
      getJSON('/api/objects').catch(() => ({ objects: [] })),
    ]);
    app.objects = (o && o.objects) || [];
    const list = Array.isArray(g) ? g : (g.groups || []);
    app.groups = list.map(normGroup);
    app.groupById = new Map(app.groups.map((x) => [x.id, x]));
    app.flows = (Array.isArray(f) ? f : (f.flows || [])).map(normFlow);
    app.emit('groups');
    if (typeof receivedAt === 'number') {
      app.applyMs.push(performance.now() - receivedAt);
      if (app.applyMs.length > 200) app.applyMs.shift();
    }
  } catch (e) {
    showError(e);
  } finally {
    groupsInFlight = false;
    if (groupsAgain) { const again = groupsAgain; groupsAgain = false; refreshGroups(again); }
  }
}

// ---- header ----

function renderLegend() {
  const el = document.getElementById('legend');
  el.innerHTML = PALETTE.filter(([c, n]) => n !== 'dead' && n !== 'gc')
    .map(([c, n]) => `<span><i class="sw" style="background:${c}"></i>${esc(n)}</span>`).join('');
}

function renderStatus() {
  const s = app.status || {};
  const el = document.getElementById('status');
  const state = app.wsState === 'closed' && app.live ? 'disconnected' : (s.state || 'loading');
  el.dataset.state = state;
  let text = state;
  if (s.mode) text = `${s.mode} · ${text}`;
  if (s.lag_ms !== undefined && s.lag_ms !== null && app.live) text += ` · lag ${Math.round(s.lag_ms)} ms`;
  document.getElementById('status-text').textContent = text;
  const info = [];
  if (s.source) info.push(s.source);
  if (Array.isArray(s.collecting) && s.collecting.length) info.push(`collecting: ${s.collecting.join(', ')}`);
  if (s.target_cost) info.push(`cost: ${s.target_cost}`);
  const si = document.getElementById('source-info');
  si.textContent = info.join(' · ');
  si.title = info.join('\n');
  if (s.state === 'error' && s.error) showError(`source: ${s.error}`);
  // Loading progress (weft open on a big file).
  const p = s.progress || {};
  const prog = document.getElementById('progress');
  if (s.state === 'loading' && p.total_bytes) {
    prog.classList.remove('hidden');
    const frac = Math.min(1, (p.done_bytes || 0) / p.total_bytes);
    prog.querySelector('.bar').style.width = `${(frac * 100).toFixed(1)}%`;
    prog.querySelector('.label').textContent = `loading ${Math.round(frac * 100)}% of ${(p.total_bytes / 1e6).toFixed(1)} MB`;
  } else {
    prog.classList.add('hidden');
  }
}

function renderTotals() {
  const s = app.summary || {};
  const by = s.by_state || {};
  const live = s.live ?? s.total_goroutines ?? 0;
  const parts = [`<span><span class="big" id="total-live">${fmtCount(live)}</span> <span class="muted">live goroutines</span></span>`];
  for (const [name, slot] of [['running', 1], ['runnable', 0], ['waiting', 8], ['syscall', 7]]) {
    let n = by[name];
    if (name === 'waiting' && n === undefined) n = by.blocked;
    if (typeof n === 'object' && n) n = Object.values(n).reduce((a, b) => a + b, 0);
    if (n === undefined) continue;
    parts.push(`<span class="st" title="${name}"><i class="sw" style="background:${PALETTE[slot][0]}"></i>${fmtCount(n)}</span>`);
  }
  if (s.groups !== undefined) parts.push(`<span class="muted">${fmtCount(s.groups)} groups</span>`);
  if (s.gc_fraction !== undefined && s.gc_fraction !== null) parts.push(`<span class="muted" title="fraction of time in GC">GC ${(s.gc_fraction * 100).toFixed(1)}%</span>`);
  if (s.time) parts.push(`<span class="muted" title="captured time">${fmtNs((s.time.end_ns || 0) - (s.time.start_ns || 0))}</span>`);
  document.getElementById('totals').innerHTML = parts.join('');
  drawSpark(s.series || []);
}

function drawSpark(series) {
  const c = document.getElementById('spark');
  const ctx = c.getContext('2d');
  const W = c.width, H = c.height;
  ctx.clearRect(0, 0, W, H);
  if (!series.length) return;
  const pts = series.map((p) => (p.total ?? p.live ?? 0));
  const max = Math.max(1, ...pts);
  ctx.beginPath();
  pts.forEach((v, i) => {
    const x = series.length === 1 ? W / 2 : (i / (series.length - 1)) * (W - 2) + 1;
    const y = H - 2 - (v / max) * (H - 6);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.strokeStyle = '#58a6ff';
  ctx.lineWidth = 1.5;
  ctx.stroke();
  ctx.lineTo(W - 1, H); ctx.lineTo(1, H); ctx.closePath();
  ctx.fillStyle = '#58a6ff22';
  ctx.fill();
  ctx.fillStyle = '#8b949e';
  ctx.font = '10px sans-serif';
  ctx.fillText(fmtCount(max), 3, 10);
}

// ---- status polling and live updates ----

async function pollStatus() {
  try {
    app.status = await getJSON('/api/status');
    app.live = app.status.mode === 'live';
  } catch (e) {
    app.status = { state: 'error', error: e.message };
  }
  renderStatus();
  return app.status;
}

async function refreshSummary() {
  try {
    app.summary = await getJSON('/api/summary');
    renderTotals();
  } catch (e) { showError(e); }
}

/** A new model version: refresh what depends on it. */
function onModelUpdate(version, summary, changed, receivedAt) {
  if (version !== undefined && version === app.version && !summary) return;
  if (version !== undefined) app.version = version;
  if (summary) { app.summary = summary; renderTotals(); } else refreshSummary();
  app.lastUpdateMs = performance.now();
  refreshGroups(receivedAt);
  app.emit('update', { version, changed });
}

function connectLive() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let ws;
  try { ws = new WebSocket(`${proto}//${location.host}/api/live`); } catch (e) { return fallbackPoll(); }
  app.wsState = 'connecting';
  ws.onopen = () => { app.wsState = 'open'; renderStatus(); };
  ws.onmessage = (ev) => {
    const receivedAt = performance.now();
    let msg;
    try { msg = JSON.parse(ev.data); } catch (_) { return; }
    if (msg.status) { app.status = msg.status; renderStatus(); }
    if (msg.lag_ms !== undefined && app.status) app.status.lag_ms = msg.lag_ms;
    onModelUpdate(msg.version ?? msg.model_version, msg.summary, msg.changed_groups || msg.changed, receivedAt);
  };
  ws.onclose = () => {
    app.wsState = 'closed';
    renderStatus();
    setTimeout(connectLive, 2000); // reconnect; the header says "disconnected" meanwhile
  };
}

let fallbackTimer = null;
function fallbackPoll() {
  if (fallbackTimer) return;
  fallbackTimer = setInterval(async () => {
    const s = await pollStatus();
    if (s && s.model_version !== undefined && s.model_version !== app.version) onModelUpdate(s.model_version);
  }, 1000);
}

async function start() {
  renderLegend();
  document.querySelectorAll('#tabs button[data-tab]').forEach((b) => b.addEventListener('click', () => app.showTab(b.dataset.tab)));
  shape.init(app);
  timeline.init(app);
  table.init(app);
  inspector.init(app);
  findings.init(app);
  // Wait for the source to be loaded; the progress bar shows meanwhile.
  for (;;) {
    const s = await pollStatus();
    if (s.state === 'ready') break;
    if (s.state === 'error') return;
    await new Promise((r) => setTimeout(r, 300));
  }
  app.version = app.status.model_version ?? 0;
  await Promise.all([refreshSummary(), refreshGroups()]);
  app.emit('ready');
  document.body.dataset.ready = '1';
  connectLive();
  // The status line (lag, cost) changes without model updates in live mode.
  setInterval(() => { if (document.visibilityState === 'visible') pollStatus(); }, 2000);
  const hash = location.hash.slice(1);
  if (['shape', 'timeline', 'table', 'findings'].includes(hash)) app.showTab(hash);
}

start().catch(showError);
