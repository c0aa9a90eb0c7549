// State colours, shared by every view so a colour means the same thing
// everywhere (legend in the header). Blocked goroutines are coloured by the
// kind of thing they wait on, because "blocked" alone hides the story.

export const STATE_NAMES = ['runnable', 'running', 'waiting', 'syscall', 'dead'];

// Palette index -> [css colour, label]. Index order is the GPU palette order.
export const PALETTE = [
  ['#e8b53a', 'runnable'],          // 0
  ['#3fb76b', 'running'],           // 1
  ['#5b8def', 'chan'],              // 2 chan send/receive
  ['#a371f7', 'select'],            // 3
  ['#e5534b', 'sync'],              // 4 mutex, rwmutex, cond, waitgroup
  ['#39c5cf', 'network / io'],      // 5
  ['#8b949e', 'sleep / timer'],     // 6
  ['#d2a8ff', 'syscall'],           // 7
  ['#6e7681', 'other wait'],        // 8
  ['#00000000', 'dead'],            // 9
  ['#f0883e', 'gc'],                // 10
];

/** Which palette slot a blocked goroutine's reason string maps to. */
export function reasonSlot(reason) {
  const r = (reason || '').toLowerCase();
  if (!r) return 8;
  if (r.includes('select')) return 3;
  if (r.includes('chan')) return 2;
  if (r.includes('sync') || r.includes('mutex') || r.includes('cond') || r.includes('semacquire') || r.includes('waitgroup')) return 4;
  if (r.includes('network') || r.includes('io wait') || r.includes('netpoll')) return 5;
  if (r.includes('sleep') || r.includes('timer')) return 6;
  if (r.includes('gc') || r.includes('mark')) return 10;
  return 8;
}

/** Palette slot of a (state, reason) pair; state may be a number or a name. */
export function slotOf(state, reason) {
  const s = typeof state === 'number' ? STATE_NAMES[state] : String(state || '').toLowerCase();
  switch (s) {
    case 'runnable': return 0;
    case 'running': return 1;
    case 'syscall': return 7;
    case 'dead': case 'exited': return 9;
    case 'waiting': case 'blocked': return reasonSlot(reason);
    default: return 8;
  }
}

export function colorOf(state, reason) { return PALETTE[slotOf(state, reason)][0]; }

/** RGBA floats of every palette slot, for the WebGL palette uniform. */
export function paletteFloats() {
  const out = new Float32Array(PALETTE.length * 4);
  PALETTE.forEach(([c], i) => {
    const hex = c.slice(1);
    const v = (k) => parseInt(hex.slice(k, k + 2), 16) / 255;
    out.set([v(0), v(2), v(4), hex.length > 6 ? v(6) : 1], i * 4);
  });
  return out;
}

// Group colours of the P lanes (a lane shows which group ran, not a state):
// 16 hues far enough apart on a dark background; group id modulo 16, so
// neighbouring groups never share a colour.
export const GROUP_PALETTE = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7',
  '#9c755f', '#bab0ac', '#86bcb6', '#d37295', '#fabfd2', '#b6992d', '#499894', '#a0cbe8',
];

export function groupSlot(group) { return ((group % 16) + 16) % 16; }

/** RGBA floats of the group palette, for the WebGL palette uniform. */
export function groupPaletteFloats() {
  const out = new Float32Array(16 * 4);
  GROUP_PALETTE.forEach((c, i) => {
    const v = (k) => parseInt(c.slice(1 + k, 3 + k), 16) / 255;
    out.set([v(0), v(2), v(4), 1], i * 4);
  });
  return out;
}
