// Inspector: one goroutine (stack, creator and children, state history,
// who woke it and whom it woke) or one group (counts, stacks of its
// members, flows in and out, members). Every id is a link.
import { getJSON, fmtNs, fmtCount, fmtRate, esc, shortFunc, frameText } from './api.js';
import { PALETTE, colorOf, slotOf } from './colors.js';
import { normFlow } from './app.js';

let app, el, seq = 0;

export function init(a) {
  app = a;
  el = document.getElementById('inspector');
  app.on('select', (s) => show(s));
  app.on('update', () => { if (app.live && app.selection) show(app.selection, true); });
  el.addEventListener('click', (ev) => {
    const t = ev.target.closest('[data-go],[data-grp],[data-tl]');
    if (!t) return;
    if (t.dataset.go !== undefined) app.select('goroutine', Number(t.dataset.go));
    else if (t.dataset.grp !== undefined) app.select('group', Number(t.dataset.grp));
    if (t.dataset.tl !== undefined) app.emit('timeline-filter', { group: Number(t.dataset.tl) });
  });
}

const goLink = (id) => (id === -1 || id === null || id === undefined ? '<span class="muted">runtime (netpoller / timer)</span>' : `<a data-go="${id}">G${id}</a>`);
const grpLink = (id, name) => `<a data-grp="${id}">${esc(shortFunc(name ?? app.groupName(id)))}</a>`;

function stackHTML(frames) {
  if (!frames || !frames.length) return '<div class="muted">no stack recorded</div>';
  return `<div class="stack">${frames.map((f) => {
    const fn = f.func ?? f.function ?? '';
    const rt = /^(runtime|internal|sync|syscall)\./.test(fn);
    return `<div class="fr ${rt ? 'rt' : ''}"><div class="fn">${esc(fn)}</div>${f.file ? `<div class="fl">${esc(f.file)}:${f.line}</div>` : ''}</div>`;
  }).join('')}</div>`;
}

async function show(s, quiet) {
  if (!s) return;
  const my = ++seq;
  if (!quiet) el.innerHTML = '<div class="insp-empty">loading…</div>';
  try {
    if (s.kind === 'goroutine') {
      const g = await getJSON(`/api/goroutine/${s.id}`);
      if (my === seq) renderGoroutine(g);
    } else {
      const g = await getJSON(`/api/group/${s.id}`, { limit: 100 });
      if (my === seq) renderGroup(g);
    }
  } catch (e) {
    if (my === seq) el.innerHTML = `<div class="insp-empty">${esc(e.message)}</div>`;
  }
}

function historyBar(hist) {
  if (!hist || !hist.length) return '';
  const t0 = hist[0].start_ns, t1 = hist[hist.length - 1].end_ns ?? hist[hist.length - 1].start_ns;
  const span = Math.max(1, t1 - t0);
  return `<div class="histbar" title="state history, ${fmtNs(span)}">${hist.map((h) => {
    const w = ((h.end_ns ?? t1) - h.start_ns) / span * 100;
    return w > 0 ? `<i style="width:${w}%;background:${colorOf(h.state, h.reason)}" title="${esc(h.state)} ${esc(h.reason || '')} ${fmtNs((h.end_ns ?? t1) - h.start_ns)}"></i>` : '';
  }).join('')}</div>`;
}

function renderGoroutine(g) {
  const hist = g.history || [];
  const wb = g.woken_by || [], wk = g.woke || [];
  el.innerHTML = `
    <h2 id="insp-title">goroutine ${g.id}</h2>
    <div><span class="pill" style="background:${colorOf(g.state, g.reason)}">${esc(g.state)}</span> ${esc(g.reason || '')}
      <span class="muted">since ${g.since_before_trace ? 'before the trace' : fmtNs(g.since_ns - ((app.summary && app.summary.time && app.summary.time.start_ns) || 0))}</span></div>
    <div class="kv" style="margin-top:8px">
      <div>entry</div><div class="mono">${esc(g.entry)}</div>
      <div>group</div><div>${grpLink(g.group, g.group_name)} · <a data-tl="${g.group}">timeline</a></div>
      <div>creator</div><div>${g.creator !== null && g.creator !== undefined ? goLink(g.creator) : '<span class="muted">none in the trace</span>'}</div>
      ${g.created_at ? `<div>created at</div><div class="mono">${esc(frameText(g.created_at))}</div>` : ''}
      ${g.label ? `<div>labels</div><div class="mono">${esc(g.label)}</div>` : ''}
      ${g.ended_ns !== null && g.ended_ns !== undefined ? `<div>ended</div><div>${fmtNs(g.ended_ns - ((app.summary && app.summary.time && app.summary.time.start_ns) || 0))}</div>` : ''}
    </div>
    <h4>stack</h4><div id="insp-stack">${stackHTML(g.stack)}</div>
    <h4>children (${(g.children || []).length})</h4>
    <div class="links">${(g.children || []).slice(0, 200).map(goLink).join(' ') || '<span class="muted">none</span>'}${(g.children || []).length > 200 ? ' …' : ''}</div>
    <h4>woken by</h4>
    <div class="links">${wb.map((w) => `${goLink(w.goroutine)}×${w.count}`).join(' ') || '<span class="muted">nobody in the window</span>'}</div>
    <h4>woke</h4>
    <div class="links">${wk.map((w) => `${goLink(w.goroutine)}×${w.count}`).join(' ') || '<span class="muted">nobody in the window</span>'}</div>
    <h4>state history (${hist.length})</h4>
    ${historyBar(hist)}
    <table class="grid"><tbody>${hist.slice(-60).reverse().map((h) => `<tr><td><span class="sw" style="background:${colorOf(h.state, h.reason)}"></span> ${esc(h.state)}</td><td>${esc(h.reason || '')}</td><td class="num">${h.end_ns !== null && h.end_ns !== undefined ? fmtNs(h.end_ns - h.start_ns) : 'now'}</td></tr>`).join('')}</tbody></table>
    ${g.create_stack && g.create_stack.length ? `<h4>creation stack</h4>${stackHTML(g.create_stack)}` : ''}`;
}

function renderGroup(g) {
  const st = g.states || {};
  const flowsIn = (g.flows_in || []).map(normFlow), flowsOut = (g.flows_out || []).map(normFlow);
  const members = (g.members && g.members.rows) || [];
  const flowRow = (f, dir) => {
    const other = dir === 'in' ? (f.from === null ? '<span class="muted">runtime (netpoller / timer)</span>' : grpLink(f.from, f.fromName)) : grpLink(f.to);
    return `<tr><td>${other}</td><td class="num">${fmtRate(f.rate)}</td><td class="num">${f.count}</td><td class="num">${f.p50 !== null ? fmtNs(f.p50) : ''}</td></tr>`;
  };
  el.innerHTML = `
    <h2 id="insp-title">${esc(g.name || g.entry)}</h2>
    <div class="muted mono">${esc(g.key || '')}</div>
    <div class="kv" style="margin-top:8px">
      <div>live</div><div>${fmtCount(g.live)} <span class="muted">(created ${g.created ?? '?'}, exited ${g.exited ?? '?'})</span></div>
      <div>states</div><div>
        <span class="sw" style="background:${PALETTE[1][0]}"></span> ${st.running || 0} running
        <span class="sw" style="background:${PALETTE[0][0]}"></span> ${st.runnable || 0} runnable
        <span class="sw" style="background:${PALETTE[7][0]}"></span> ${st.syscall || 0} syscall</div>
      ${Object.entries(st.blocked || {}).map(([r, n]) => `<div></div><div><span class="sw" style="background:${PALETTE[slotOf('waiting', r)][0]}"></span> ${n} ${esc(r)}</div>`).join('')}
      ${g.creation_site ? `<div>created at</div><div class="mono">${esc(frameText(g.creation_site))}</div>` : ''}
      <div>views</div><div><a data-tl="${g.id}">timeline of this group</a></div>
    </div>
    <h4>where its members are</h4>
    ${(g.by_stack || []).slice(0, 8).map((b) => `<div style="margin:6px 0"><span class="pill" style="background:${colorOf(b.state, b.reason)}">${b.count}</span> ${esc(b.state || '')} ${esc(b.reason || '')}
      <span class="muted">oldest ${b.oldest_since_ns !== undefined ? fmtNs(((app.summary && app.summary.time && app.summary.time.end_ns) || 0) - b.oldest_since_ns) : ''}</span>
      ${stackHTML((b.stack || []).slice(0, 6))}</div>`).join('') || '<div class="muted">no live members</div>'}
    <h4>woken by</h4>
    <table class="grid"><thead><tr><th>group</th><th>rate</th><th>wakes</th><th>blocked p50</th></tr></thead><tbody>${flowsIn.map((f) => flowRow(f, 'in')).join('')}</tbody></table>
    <h4>wakes</h4>
    <table class="grid"><thead><tr><th>group</th><th>rate</th><th>wakes</th><th>blocked p50</th></tr></thead><tbody>${flowsOut.map((f) => flowRow(f, 'out')).join('')}</tbody></table>
    <h4>members (${g.members ? g.members.total : 0})</h4>
    <div class="links">${members.map((m) => goLink(m.id)).join(' ')}${g.members && g.members.total > members.length ? ' …' : ''}</div>`;
}
