// Findings: leaks, deadlocks, contention, scheduling latency and GC pauses
// found in the trace, each with its reasoning and links into the other
// views (group → inspector and table, goroutine → inspector, timeline at the
// moment it began).
import { getJSON, fmtNs, esc, shortFunc } from './api.js';

let app, list = [], seq = 0, lastFetch = 0;

export function init(a) {
  app = a;
  app.on('ready', load);
  app.on('update', () => { if (performance.now() - lastFetch > 1000) load(); });
  app.on('tab', (t) => { if (t === 'findings') load(); });
  document.getElementById('findings-list').addEventListener('click', (ev) => {
    const t = ev.target.closest('[data-act]');
    if (!t) return;
    const id = Number(t.dataset.id);
    switch (t.dataset.act) {
      case 'group': app.select('group', id); break;
      case 'members': app.emit('filter-group', id); app.select('group', id); app.showTab('table'); break;
      case 'shape': app.select('group', id); app.showTab('shape'); break;
      case 'timeline': app.emit('timeline-filter', { group: id, since_ns: t.dataset.since ? Number(t.dataset.since) : undefined }); break;
      case 'go': app.select('goroutine', id); break;
      default: break;
    }
  });
  window.weft.findings = () => list.slice();
}

async function load() {
  const my = ++seq;
  lastFetch = performance.now();
  try {
    const f = await getJSON('/api/findings');
    if (my !== seq) return;
    list = Array.isArray(f) ? f : (f.findings || []);
    render();
  } catch (e) {
    document.getElementById('findings-list').innerHTML = `<div class="empty">${esc(e.message)}</div>`;
  }
}

const SEV_ORDER = { error: 0, critical: 0, high: 0, warning: 1, medium: 1, info: 2, low: 2 };

function render() {
  const badge = document.getElementById('findings-count');
  badge.textContent = list.length ? String(list.length) : '';
  const el = document.getElementById('findings-list');
  if (!list.length) {
    el.innerHTML = '<div class="empty">No findings: no leaks, deadlocks or contention were detected in this capture.</div>';
    return;
  }
  const sorted = list.slice().sort((a, b) => (SEV_ORDER[a.severity] ?? 3) - (SEV_ORDER[b.severity] ?? 3));
  const t0 = (app.summary && app.summary.time && app.summary.time.start_ns) || 0;
  el.innerHTML = sorted.map((f) => {
    const groups = f.groups || [];
    const gors = f.goroutines || [];
    // A since before the capture (some findings use 0 for "unknown") is not shown.
    const since = f.since_ns !== null && f.since_ns !== undefined && f.since_ns >= t0 ? f.since_ns : '';
    return `<div class="finding sev-${esc(f.severity || 'warning')}">
      <div class="kind">${esc(f.kind)} · ${esc(f.severity || '')}${f.confidence ? ` · ${esc(f.confidence)} confidence` : ''}${since !== '' ? ` · since ${fmtNs(since - t0)}` : ''}</div>
      <div class="summary">${esc(f.summary)}</div>
      ${f.reasoning ? `<div class="muted">${esc(f.reasoning)}</div>` : ''}
      ${groups.map((g) => `<div class="links">group <a data-act="group" data-id="${g}">${esc(shortFunc(app.groupName(g)))}</a>
        <a data-act="members" data-id="${g}">members</a> <a data-act="shape" data-id="${g}">in shape</a>
        <a data-act="timeline" data-id="${g}" data-since="${since}">in timeline</a></div>`).join('')}
      ${gors.length ? `<div class="links">goroutines ${gors.slice(0, 30).map((id) => `<a data-act="go" data-id="${id}">G${id}</a>`).join(' ')}${gors.length > 30 ? ` … (${gors.length})` : ''}</div>` : ''}
    </div>`;
  }).join('');
}
