// Shape view: the program's concurrency structure as a force-directed graph
// on a 2D canvas. Nodes are goroutine groups (area ∝ live count, ring split
// by state), arrows are wake flows; dots travel along an arrow at a pace set
// by its wake rate so busy paths are visible at a glance. Where the source
// knows the objects goroutines wait on (pid:N: memory reads name each
// channel), channels are nodes too: a dashed line from each group to the
// channel its goroutines wait on, labelled with how many send or receive.
// Positions persist across updates so the picture moves instead of jumping.
import { PALETTE } from './colors.js';
import { fmtCount, fmtRate, fmtNs, shortFunc } from './api.js';

const MAX_NODES = 160;
const MAX_OBJECTS = 40;
let waitEdges = [];      // {a: group key, b: object key, dir, count}
let app, canvas, ctx, tip;
const nodes = new Map(); // key -> node {key, gid, x, y, vx, vy, r, g, pseudo}
let edges = [];
let view = { x: 0, y: 0, k: 1 };
let heat = 1;            // simulation temperature; cools to rest, warms on change
let hover = null, drag = null, selectedKey = null;
let userMoved = false;   // auto-fit the graph until the user pans or zooms
let dpr = 1, W = 0, H = 0;
let stats = { nodes: 0, edges: 0, frames: 0 };

export function init(a) {
  app = a;
  canvas = document.getElementById('shape-canvas');
  ctx = canvas.getContext('2d');
  tip = document.getElementById('shape-tip');
  app.on('groups', rebuild);
  app.on('select', (s) => { selectedKey = s && s.kind === 'group' ? `g${s.id}` : null; });
  app.on('tab', (t) => { if (t === 'shape') { resize(); heat = Math.max(heat, 0.3); } });
  window.addEventListener('resize', resize);
  bindInput();
  resize();
  requestAnimationFrame(frame);
  window.weft.shape = { stats: () => ({ ...stats, nodeKeys: [...nodes.keys()], waitEdges: waitEdges.length }), nodePos, nodes };
}

function resize() {
  dpr = window.devicePixelRatio || 1;
  const r = canvas.getBoundingClientRect();
  W = Math.max(1, r.width); H = Math.max(1, r.height);
  canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
}

// Wakes by no goroutine (netpoller, timers) share one pseudo-node.
function pseudoKey(f) { return `p:${f.fromName || 'netpoller / timer'}`; }

function rebuild() {
  const groups = app.groups.filter((g) => g.live > 0 || !g.system)
    .sort((a, b) => (b.live - a.live) || (a.id - b.id)).slice(0, MAX_NODES);
  const keep = new Set();
  const angle0 = nodes.size;
  for (const g of groups) {
    const key = `g${g.id}`;
    keep.add(key);
    let n = nodes.get(key);
    if (!n) {
      // New nodes enter near a linked node if there is one, else on a ring.
      const a = (nodes.size + angle0) * 2.399;
      n = { key, x: Math.cos(a) * 160, y: Math.sin(a) * 160, vx: 0, vy: 0 };
      nodes.set(key, n);
      heat = 1;
    }
    n.gid = g.id; n.g = g; n.pseudo = false;
  }
  const ids = new Set(groups.map((g) => g.id));
  edges = [];
  for (const f of app.flows) {
    if (!ids.has(f.to)) continue;
    let from;
    if (f.from === null || f.from === undefined) {
      from = pseudoKey(f);
      if (!nodes.has(from)) { nodes.set(from, { key: from, x: -200 + Math.random() * 40, y: Math.random() * 40, vx: 0, vy: 0 }); heat = 1; }
      const pn = nodes.get(from);
      pn.pseudo = true; pn.label = from.slice(2);
      keep.add(from);
    } else {
      if (!ids.has(f.from)) continue;
      from = `g${f.from}`;
    }
    edges.push({ a: from, b: `g${f.to}`, f, phase: Math.random() });
  }
  waitEdges = [];
  for (const o of (app.objects || []).slice(0, MAX_OBJECTS)) {
    const ws = (o.waiters || []).filter((w) => ids.has(w.group));
    if (!ws.length) continue;
    const key = `o${o.addr}`;
    keep.add(key);
    let n = nodes.get(key);
    if (!n) {
      const near = nodes.get(`g${ws[0].group}`);
      n = { key, x: (near ? near.x : 0) + 40, y: (near ? near.y : 0) + 40, vx: 0, vy: 0 };
      nodes.set(key, n);
      heat = 1;
    }
    n.obj = o; n.pseudo = false;
    for (const w of ws) waitEdges.push({ a: `g${w.group}`, b: key, dir: w.direction, count: w.count });
  }
  for (const k of [...nodes.keys()]) if (!keep.has(k)) nodes.delete(k);
  const maxLive = Math.max(1, ...groups.map((g) => g.live));
  for (const n of nodes.values()) {
    n.r = n.pseudo ? 12 : n.obj ? 11 : 9 + 46 * Math.sqrt((n.g.live || 0) / maxLive);
  }
  stats.nodes = nodes.size; stats.edges = edges.length; stats.objects = [...nodes.values()].filter((n) => n.obj).length;
  if (heat < 0.15) heat = 0.15; // let counts settle visibly
}

function step() {
  const list = [...nodes.values()];
  const n = list.length;
  if (!n) return;
  const rep = 9000;
  for (let i = 0; i < n; i++) {
    const a = list[i];
    for (let j = i + 1; j < n; j++) {
      const b = list[j];
      let dx = a.x - b.x, dy = a.y - b.y;
      let d2 = dx * dx + dy * dy;
      if (d2 < 1) { dx = Math.random() - 0.5; dy = Math.random() - 0.5; d2 = 1; }
      const min = a.r + b.r + 24;
      let f = rep / d2;
      if (d2 < min * min) f += (min - Math.sqrt(d2)) * 0.5;
      const d = Math.sqrt(d2);
      const fx = (dx / d) * f, fy = (dy / d) * f;
      a.vx += fx; a.vy += fy; b.vx -= fx; b.vy -= fy;
    }
  }
  for (const e of [...edges, ...waitEdges]) {
    const a = nodes.get(e.a), b = nodes.get(e.b);
    if (!a || !b || a === b) continue;
    const dx = b.x - a.x, dy = b.y - a.y;
    const d = Math.sqrt(dx * dx + dy * dy) || 1;
    const want = a.r + b.r + 90;
    const f = (d - want) * 0.02;
    a.vx += (dx / d) * f; a.vy += (dy / d) * f;
    b.vx -= (dx / d) * f; b.vy -= (dy / d) * f;
  }
  for (const p of list) {
    p.vx -= p.x * 0.004; p.vy -= p.y * 0.006; // gravity to the centre
    if (drag && drag.node === p) { p.vx = 0; p.vy = 0; continue; }
    const cap = 30 * heat + 0.5;
    p.x += Math.max(-cap, Math.min(cap, p.vx * heat));
    p.y += Math.max(-cap, Math.min(cap, p.vy * heat));
    p.vx *= 0.55; p.vy *= 0.55;
  }
  heat = Math.max(0.02, heat * 0.985);
}

function toScreen(x, y) { return [W / 2 + (x + view.x) * view.k, H / 2 + (y + view.y) * view.k]; }
function toWorld(sx, sy) { return [(sx - W / 2) / view.k - view.x, (sy - H / 2) / view.k - view.y]; }
function nodePos(key) { const n = nodes.get(key); return n ? toScreen(n.x, n.y) : null; }

// Eases the view towards the graph's bounding box.
function autoFit() {
  if (userMoved || !nodes.size) return;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const n of nodes.values()) {
    x0 = Math.min(x0, n.x - n.r); x1 = Math.max(x1, n.x + n.r);
    y0 = Math.min(y0, n.y - n.r); y1 = Math.max(y1, n.y + n.r + 16);
  }
  const k = Math.max(0.15, Math.min(1.5, Math.min((W - 80) / (x1 - x0 || 1), (H - 80) / (y1 - y0 || 1))));
  const cx = -(x0 + x1) / 2, cy = -(y0 + y1) / 2;
  view.k += (k - view.k) * 0.1; view.x += (cx - view.x) * 0.1; view.y += (cy - view.y) * 0.1;
}

function frame(t) {
  requestAnimationFrame(frame);
  if (app.tab !== 'shape') return;
  if (heat > 0.021) step();
  autoFit();
  draw(t);
  stats.frames++;
}

function draw(t) {
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, W, H);
  if (!nodes.size) {
    ctx.fillStyle = '#8b949e'; ctx.font = '14px sans-serif';
    ctx.fillText(app.groups.length ? 'no live groups' : 'loading…', 20, 30);
    return;
  }
  const maxRate = Math.max(1e-9, ...edges.map((e) => e.f.rate));
  // Edges first, under the nodes.
  for (const e of edges) {
    const a = nodes.get(e.a), b = nodes.get(e.b);
    if (!a || !b) continue;
    const [ax, ay] = toScreen(a.x, a.y), [bx, by] = toScreen(b.x, b.y);
    const hot = hover && (hover.key === e.a || hover.key === e.b);
    const w = 1 + 3 * Math.log10(1 + 9 * e.f.rate / maxRate);
    ctx.strokeStyle = hot ? '#58a6ffcc' : '#58a6ff55';
    ctx.lineWidth = w;
    if (a === b) { // self-wakes (a pool waking its own members): a loop
      ctx.beginPath(); ctx.arc(ax + a.r * view.k, ay - a.r * view.k, 14, 0, Math.PI * 2); ctx.stroke();
      continue;
    }
    const dx = bx - ax, dy = by - ay, d = Math.hypot(dx, dy) || 1;
    const ux = dx / d, uy = dy / d;
    const sx = ax + ux * a.r * view.k, sy = ay + uy * a.r * view.k;
    const ex = bx - ux * (b.r * view.k + 3), ey = by - uy * (b.r * view.k + 3);
    ctx.beginPath(); ctx.moveTo(sx, sy); ctx.lineTo(ex, ey); ctx.stroke();
    ctx.fillStyle = ctx.strokeStyle;
    ctx.beginPath();
    ctx.moveTo(ex, ey);
    ctx.lineTo(ex - ux * 9 - uy * 5, ey - uy * 9 + ux * 5);
    ctx.lineTo(ex - ux * 9 + uy * 5, ey - uy * 9 - ux * 5);
    ctx.fill();
    // Rate and latency on the edge when there is room.
    if (d > 150 && e.f.rate > 0) {
      ctx.save();
      ctx.font = '10px sans-serif'; ctx.fillStyle = '#8b949e'; ctx.textAlign = 'center';
      const label = `${fmtRate(e.f.rate)}${e.f.p50 !== null ? ` · p50 ${fmtNs(e.f.p50)}` : ''}`;
      ctx.translate(sx + (ex - sx) * 0.35, sy + (ey - sy) * 0.35); // off-centre: opposite flows do not overlap
      let ang = Math.atan2(ey - sy, ex - sx);
      if (ang > Math.PI / 2 || ang < -Math.PI / 2) ang += Math.PI;
      ctx.rotate(ang);
      ctx.fillText(label, 0, -5);
      ctx.restore();
    }
    // Travelling dots: speed grows with log(rate).
    if (e.f.rate > 0) {
      const speed = 0.05 + 0.25 * Math.log10(1 + e.f.rate) / 4;
      const ph = (e.phase + (t / 1000) * speed) % 1;
      for (let k = 0; k < 3; k++) {
        const p = (ph + k / 3) % 1;
        ctx.beginPath();
        ctx.arc(sx + (ex - sx) * p, sy + (ey - sy) * p, 2.2, 0, Math.PI * 2);
        ctx.fillStyle = '#9ecbff';
        ctx.fill();
      }
    }
  }
  // Waits on known objects: dashed, orange, with the count and direction.
  ctx.save();
  ctx.setLineDash([5, 4]);
  ctx.font = '10px sans-serif'; ctx.textAlign = 'center';
  for (const e of waitEdges) {
    const a = nodes.get(e.a), b = nodes.get(e.b);
    if (!a || !b) continue;
    const [ax, ay] = toScreen(a.x, a.y), [bx, by] = toScreen(b.x, b.y);
    const hot = hover && (hover.key === e.a || hover.key === e.b);
    ctx.strokeStyle = hot ? '#f0883ecc' : '#f0883e77';
    ctx.lineWidth = 1 + Math.log10(1 + e.count);
    ctx.beginPath(); ctx.moveTo(ax, ay); ctx.lineTo(bx, by); ctx.stroke();
    if (Math.hypot(bx - ax, by - ay) > 90) {
      ctx.fillStyle = '#f0883e';
      const verb = e.dir === 'send' ? 'send' : e.dir === 'recv' ? 'recv' : (e.dir || 'wait');
      ctx.fillText(`${fmtCount(e.count)} ${verb}`, ax + (bx - ax) * 0.6, ay + (by - ay) * 0.6 - 4);
    }
  }
  ctx.restore();
  // Nodes: a pie of state slots, then label.
  ctx.textAlign = 'center';
  for (const n of nodes.values()) {
    const [x, y] = toScreen(n.x, n.y);
    const r = n.r * view.k;
    if (n.obj) {
      // A channel: a diamond, filled by how full its buffer is.
      const o = n.obj;
      ctx.beginPath();
      ctx.moveTo(x, y - r); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r); ctx.lineTo(x - r, y); ctx.closePath();
      ctx.fillStyle = '#161b22'; ctx.fill();
      ctx.strokeStyle = hover && hover.key === n.key ? '#f0f6fc' : '#f0883e'; ctx.lineWidth = 1.5; ctx.stroke();
      if (o.cap > 0 && o.len > 0) {
        ctx.save(); ctx.clip();
        const h = 2 * r * Math.min(1, o.len / o.cap);
        ctx.fillStyle = '#f0883e88'; ctx.fillRect(x - r, y + r - h, 2 * r, h);
        ctx.restore();
      }
      ctx.fillStyle = '#c9d1d9'; ctx.font = '10px sans-serif';
      ctx.fillText(objLabel(o), x, y + r + 12);
      continue;
    }
    if (n.pseudo) {
      ctx.fillStyle = '#30363d';
      ctx.beginPath(); ctx.rect(x - r, y - r * 0.7, 2 * r, 1.4 * r); ctx.fill();
      ctx.fillStyle = '#8b949e'; ctx.font = '11px sans-serif';
      ctx.fillText(n.label, x, y + r + 12);
      continue;
    }
    const slots = n.g.slots;
    const total = slots.reduce((a, b) => a + b, 0);
    if (total > 0) {
      let a0 = -Math.PI / 2;
      slots.forEach((v, i) => {
        if (!v) return;
        const a1 = a0 + (v / total) * Math.PI * 2;
        ctx.beginPath(); ctx.moveTo(x, y); ctx.arc(x, y, r, a0, a1); ctx.closePath();
        ctx.fillStyle = PALETTE[i][0]; ctx.fill();
        a0 = a1;
      });
      // A hole makes it a ring and leaves room for the count.
      ctx.beginPath(); ctx.arc(x, y, r * 0.55, 0, Math.PI * 2); ctx.fillStyle = '#0d1117'; ctx.fill();
    } else {
      ctx.beginPath(); ctx.arc(x, y, r, 0, Math.PI * 2); ctx.strokeStyle = '#484f58'; ctx.lineWidth = 1.5; ctx.stroke();
    }
    const sel = selectedKey === n.key, hov = hover && hover.key === n.key;
    if (sel || hov) {
      ctx.beginPath(); ctx.arc(x, y, r + 4, 0, Math.PI * 2);
      ctx.strokeStyle = sel ? '#f0f6fc' : '#8b949e'; ctx.lineWidth = 2; ctx.stroke();
    }
    ctx.fillStyle = '#e6edf3';
    ctx.font = `${r > 22 ? 12 : 10}px sans-serif`;
    if (r > 12) ctx.fillText(fmtCount(n.g.live), x, y + 4);
    ctx.font = '11px sans-serif';
    ctx.fillStyle = n.g.system ? '#6e7681' : '#c9d1d9';
    ctx.fillText(shortFunc(n.g.name).slice(0, 38), x, y + r + 13);
  }
}

function pick(sx, sy) {
  const [wx, wy] = toWorld(sx, sy);
  let best = null, bd = Infinity;
  for (const n of nodes.values()) {
    const d = Math.hypot(n.x - wx, n.y - wy);
    if (d < n.r + 4 / view.k && d < bd) { best = n; bd = d; }
  }
  return best;
}

function objLabel(o) {
  const buf = o.cap === undefined ? '' : o.cap === 0 ? ' unbuffered' : ` ${o.len ?? '?'}/${o.cap}`;
  return `${o.kind} 0x${Number(o.addr).toString(16)}${buf}${o.closed ? ' closed' : ''}`;
}

function tipText(n) {
  if (n.obj) {
    const lines = [objLabel(n.obj)];
    for (const w of n.obj.waiters || []) {
      const g = app.groupById && app.groupById.get(w.group);
      lines.push(`  ${w.count} ${w.direction || 'waiting'} · ${g ? shortFunc(g.name) : `group ${w.group}`}`);
    }
    return lines.join('\n');
  }
  if (n.pseudo) return `${n.label}: wakes goroutines without being one (timers, netpoller)`;
  const g = n.g;
  const lines = [g.name, `${g.live} live · running ${g.running} · runnable ${g.runnable} · syscall ${g.syscall} · waiting ${g.waiting}`];
  if (g.blocked && typeof g.blocked === 'object') for (const [r, c] of Object.entries(g.blocked)) lines.push(`  ${r}: ${c}`);
  if (g.site && g.site.file) lines.push(`created at ${g.site.file}:${g.site.line}`);
  for (const e of edges) {
    if (e.b === n.key || e.a === n.key) {
      const other = e.b === n.key ? e.a : e.b;
      const on = nodes.get(other);
      const name = on ? (on.pseudo ? on.label : shortFunc(on.g.name)) : other;
      lines.push(`${e.b === n.key ? '← woken by' : '→ wakes'} ${name}: ${fmtRate(e.f.rate)}, ${e.f.count} wakes${e.f.p50 !== null ? `, blocked p50 ${fmtNs(e.f.p50)}` : ''}`);
    }
  }
  return lines.join('\n');
}

function bindInput() {
  canvas.addEventListener('mousemove', (ev) => {
    const r = canvas.getBoundingClientRect();
    const sx = ev.clientX - r.left, sy = ev.clientY - r.top;
    if (drag) {
      if (drag.node) { const [wx, wy] = toWorld(sx, sy); drag.node.x = wx; drag.node.y = wy; heat = Math.max(heat, 0.2); }
      else { view.x += (sx - drag.sx) / view.k; view.y += (sy - drag.sy) / view.k; drag.sx = sx; drag.sy = sy; userMoved = true; }
      drag.moved = true;
      return;
    }
    hover = pick(sx, sy);
    if (hover) {
      tip.textContent = tipText(hover);
      tip.style.left = `${Math.min(sx + 14, W - 300)}px`; tip.style.top = `${sy + 14}px`;
      tip.classList.remove('hidden');
    } else tip.classList.add('hidden');
    canvas.style.cursor = hover ? 'pointer' : 'grab';
  });
  canvas.addEventListener('mouseleave', () => { hover = null; tip.classList.add('hidden'); });
  canvas.addEventListener('mousedown', (ev) => {
    const r = canvas.getBoundingClientRect();
    const sx = ev.clientX - r.left, sy = ev.clientY - r.top;
    drag = { node: pick(sx, sy), sx, sy, moved: false };
  });
  window.addEventListener('mouseup', () => {
    if (drag && !drag.moved && drag.node && !drag.node.pseudo && !drag.node.obj) app.select('group', drag.node.gid);
    drag = null;
  });
  canvas.addEventListener('dblclick', (ev) => {
    const r = canvas.getBoundingClientRect();
    const n = pick(ev.clientX - r.left, ev.clientY - r.top);
    if (n && !n.pseudo && !n.obj) { app.emit('filter-group', n.gid); app.showTab('table'); }
  });
  canvas.addEventListener('wheel', (ev) => {
    ev.preventDefault();
    userMoved = true;
    const r = canvas.getBoundingClientRect();
    const sx = ev.clientX - r.left, sy = ev.clientY - r.top;
    const [wx, wy] = toWorld(sx, sy);
    view.k = Math.max(0.1, Math.min(6, view.k * Math.exp(-ev.deltaY * 0.0015)));
    const [nx, ny] = toWorld(sx, sy);
    view.x += nx - wx; view.y += ny - wy;
  }, { passive: false });
}
