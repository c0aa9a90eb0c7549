// Goroutines & groups: a groups table (from the shared group list) and a
// goroutines table queried from the server with filters, sorting and
// paging by scrolling. Clicking a group filters the goroutines to its
// members; clicking a goroutine opens it in the inspector.
import { getJSON, fmtCount, fmtNs, esc, shortFunc, frameText } from './api.js';
import { PALETTE, colorOf } from './colors.js';

const PAGE = 200;
let app;
let groupSort = { key: 'live', desc: true };
let gorSort = { key: 'id', desc: false };
let filters = { q: '', state: '', reason: '', label: '', min_wait_ns: '', group: null };
let rows = [], total = 0, loading = false, seq = 0;
let selectedId = null, selectedGroup = null;

export function init(a) {
  app = a;
  const deb = debounce(() => reload(), 200);
  for (const [id, key] of [['f-q', 'q'], ['f-reason', 'reason'], ['f-label', 'label']]) {
    document.getElementById(id).addEventListener('input', (e) => { filters[key] = e.target.value.trim(); deb(); });
  }
  document.getElementById('f-state').addEventListener('change', (e) => { filters.state = e.target.value; reload(); });
  document.getElementById('f-wait').addEventListener('input', (e) => {
    const ms = parseFloat(e.target.value);
    filters.min_wait_ns = Number.isFinite(ms) && ms > 0 ? Math.round(ms * 1e6) : '';
    deb();
  });
  document.getElementById('f-group').addEventListener('click', () => setGroup(null));
  document.getElementById('groups-q').addEventListener('input', renderGroups);
  document.getElementById('gor-scroll').addEventListener('scroll', (e) => {
    const el = e.target;
    if (el.scrollTop + el.clientHeight > el.scrollHeight - 200) more();
  });
  app.on('groups', renderGroups);
  app.on('ready', () => reload());
  app.on('update', debounce(() => { if (app.tab === 'table') reload(true); }, 300));
  app.on('tab', (t) => { if (t === 'table') reload(true); });
  app.on('filter-group', (gid) => setGroup(gid));
  app.on('select', (s) => {
    selectedId = s && s.kind === 'goroutine' ? s.id : null;
    selectedGroup = s && s.kind === 'group' ? s.id : null;
    markSelected();
  });
  window.weft.table = { filters: () => ({ ...filters }), total: () => total, rows: () => rows.slice(), setGroup };
}

function debounce(fn, ms) { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; }

export function setGroup(gid) {
  filters.group = gid;
  const chip = document.getElementById('f-group');
  if (gid !== null && gid !== undefined) {
    chip.textContent = `group: ${shortFunc(app.groupName(gid))}`;
    chip.classList.remove('hidden');
  } else chip.classList.add('hidden');
  reload();
}

function stateBar(g) {
  const total = g.slots.reduce((a, b) => a + b, 0);
  if (!total) return '<span class="statebar"></span>';
  return `<span class="statebar">${g.slots.map((v, i) => (v ? `<i style="width:${(v / total) * 100}%;background:${PALETTE[i][0]}"></i>` : '')).join('')}</span>`;
}

const GROUP_COLS = [
  ['name', 'group (entry function)'], ['live', 'live'], ['running', 'run'], ['runnable', 'rdy'], ['waiting', 'wait'],
  ['syscall', 'sys'], ['states', 'states'], ['created', 'created'],
];

function renderGroups() {
  const q = document.getElementById('groups-q').value.trim().toLowerCase();
  let list = app.groups.filter((g) => !q || g.name.toLowerCase().includes(q) || (g.site && String(g.site.file || '').toLowerCase().includes(q)));
  const k = groupSort.key;
  list.sort((a, b) => {
    const va = a[k], vb = b[k];
    const c = typeof va === 'string' ? va.localeCompare(vb) : (va ?? -1) - (vb ?? -1);
    return groupSort.desc ? -c : c;
  });
  document.getElementById('groups-count').textContent = `${list.length} of ${app.groups.length}`;
  const t = document.getElementById('groups-table');
  t.tHead.innerHTML = `<tr>${GROUP_COLS.map(([key, label]) => `<th data-k="${key}" class="${groupSort.key === key ? 'sorted' : ''}">${label}${groupSort.key === key ? (groupSort.desc ? ' ▾' : ' ▴') : ''}</th>`).join('')}</tr>`;
  t.tHead.querySelectorAll('th').forEach((th) => th.addEventListener('click', () => {
    const key = th.dataset.k;
    if (key === 'states') return;
    groupSort = { key, desc: groupSort.key === key ? !groupSort.desc : key !== 'name' };
    renderGroups();
  }));
  t.tBodies[0].innerHTML = list.slice(0, 2000).map((g) => `<tr data-g="${g.id}" class="${g.id === filters.group || g.id === selectedGroup ? 'sel' : ''}" title="${esc(g.site ? `created at ${frameText(g.site)}` : g.name)}">
    <td class="${g.system ? 'muted' : ''}">${esc(shortFunc(g.name))}</td><td class="num">${fmtCount(g.live)}</td>
    <td class="num">${g.running}</td><td class="num">${g.runnable}</td><td class="num">${fmtCount(g.waiting)}</td><td class="num">${g.syscall}</td>
    <td>${stateBar(g)}</td><td class="num">${g.created ?? ''}</td></tr>`).join('');
  t.tBodies[0].querySelectorAll('tr').forEach((tr) => tr.addEventListener('click', () => {
    const gid = Number(tr.dataset.g);
    app.select('group', gid);
    setGroup(gid);
  }));
}

const GOR_COLS = [['id', 'id', true], ['entry', 'entry / group', true], ['state', 'state', true], ['reason', 'reason', false],
  ['wait', 'in state', true], ['label', 'label', false], ['where', 'where', false]];

function params(offset) {
  return {
    q: filters.q, state: filters.state, reason: filters.reason, label: filters.label,
    min_wait_ns: filters.min_wait_ns, group: filters.group ?? undefined,
    sort: gorSort.key, desc: gorSort.desc ? 1 : undefined, offset, limit: PAGE,
  };
}

async function reload(keepCount) {
  const my = ++seq;
  loading = true;
  try {
    const want = keepCount ? Math.max(PAGE, Math.min(rows.length, 2000)) : PAGE;
    const r = await getJSON('/api/goroutines', { ...params(0), limit: want });
    if (my !== seq) return;
    rows = r.rows || []; total = r.total ?? rows.length;
    renderGor();
  } catch (e) {
    if (my === seq) { document.getElementById('gor-count').textContent = String(e.message); }
  } finally { if (my === seq) loading = false; }
}

async function more() {
  if (loading || rows.length >= total) return;
  const my = ++seq;
  loading = true;
  try {
    const r = await getJSON('/api/goroutines', params(rows.length));
    if (my !== seq) return;
    rows = rows.concat(r.rows || []); total = r.total ?? total;
    renderGor();
  } finally { if (my === seq) loading = false; }
}

function renderGor() {
  document.getElementById('gor-count').textContent = `${fmtCount(total)} match${rows.length < total ? ` · showing ${rows.length}` : ''}`;
  const t = document.getElementById('gor-table');
  t.tHead.innerHTML = `<tr>${GOR_COLS.map(([key, label, sortable]) => `<th data-k="${key}" data-s="${sortable ? 1 : ''}" class="${gorSort.key === key ? 'sorted' : ''}">${label}${gorSort.key === key ? (gorSort.desc ? ' ▾' : ' ▴') : ''}</th>`).join('')}</tr>`;
  t.tHead.querySelectorAll('th').forEach((th) => th.addEventListener('click', () => {
    if (!th.dataset.s) return;
    const key = th.dataset.k;
    gorSort = { key, desc: gorSort.key === key ? !gorSort.desc : key === 'wait' };
    reload();
  }));
  t.tBodies[0].innerHTML = rows.map((r) => {
    const entry = r.group_name && r.group_name !== r.entry ? `${shortFunc(r.entry)} <span class="muted">· ${esc(shortFunc(r.group_name))}</span>` : esc(shortFunc(r.entry));
    return `<tr data-id="${r.id}" class="${r.id === selectedId ? 'sel' : ''}">
      <td class="num">${r.id}</td><td title="${esc(r.entry)}">${entry}</td>
      <td><span class="pill" style="background:${colorOf(r.state, r.reason)}">${esc(r.state)}</span></td>
      <td>${esc(r.reason || '')}</td><td class="num">${r.wait_ns !== undefined && r.wait_ns !== null ? fmtNs(r.wait_ns) : ''}</td>
      <td class="mono">${esc(r.label || '')}</td><td class="mono muted" title="${esc(frameText(r.where))}">${esc(r.where ? `${shortFunc(r.where.func)}:${r.where.line}` : '')}</td></tr>`;
  }).join('');
  t.tBodies[0].querySelectorAll('tr').forEach((tr) => tr.addEventListener('click', () => app.select('goroutine', Number(tr.dataset.id))));
}

function markSelected() {
  document.querySelectorAll('#gor-table tbody tr').forEach((tr) => tr.classList.toggle('sel', Number(tr.dataset.id) === selectedId));
  document.querySelectorAll('#groups-table tbody tr').forEach((tr) => tr.classList.toggle('sel', Number(tr.dataset.g) === selectedGroup || Number(tr.dataset.g) === filters.group));
}
