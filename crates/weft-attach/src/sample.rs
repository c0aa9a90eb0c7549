//! One sample of the goroutine table: read `allgs`, the `g`s, their stacks
//! and the channels they wait on, in batches, without stopping the target.
//!
//! Reads race with the running program. Every value read is checked before
//! use (status in range, goid plausible, pointers inside readable
//! mappings, stack pointers inside the goroutine's stack) and goroutines
//! that fail are re-read once, then counted in [`SampleStats`].

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use weft_model::{Frame, Record, Stack, WaitObject};
use weft_profile::classify;

use crate::binary::Arch;
use crate::error::{os_error, AttachError};
use crate::mem::{read_maps, AddrSpace, Memory};
use crate::{AttachOptions, Attacher};

const G_SCAN: u32 = 0x1000;
const G_RUNNABLE: u32 = 1;
const G_RUNNING: u32 = 2;
const G_SYSCALL: u32 = 3;
const G_WAITING: u32 = 4;
const G_DEAD: u32 = 6;
const G_LEAKED: u32 = 10;
const G_DEADEXTRA: u32 = 11;
/// `gStatusStrings`, identical in Go 1.22–1.27 where both exist.
const STATUS: [&str; 12] = [
    "idle",
    "runnable",
    "running",
    "syscall",
    "waiting",
    "",
    "dead",
    "",
    "copystack",
    "preempted",
    "leaked",
    "waiting for cgo callback",
];
/// `g`s read and decoded at a time (about 1 MB of them).
const G_SLICE: usize = 2048;
/// Bytes of a goroutine's stack read in the first batch; deeper frames are
/// read one by one.
const STACK_READ_MAX: u64 = 64 << 10;

/// Counters of one sample.
#[derive(Clone, Debug, Default)]
pub struct SampleStats {
    /// Length of `allgs` (including dead goroutines kept for reuse).
    pub allgs_len: u64,
    /// Goroutines reported.
    pub reported: u64,
    pub dead: u64,
    /// Runtime-internal goroutines left out (`include_system` off).
    pub system: u64,
    /// Entries dropped because their `g` did not look valid (torn read).
    pub invalid: u64,
    /// Goroutines whose stack could not be unwound to its end even after a
    /// re-read (they changed while being read); reported with what was read.
    pub torn_stacks: u64,
    /// Parked goroutines whose stack was reused from the previous sample.
    pub stacks_reused: u64,
    /// Goroutines re-read because the first read looked inconsistent.
    pub retried: u64,
    /// Goroutines left out because of `max_goroutines`.
    pub truncated: u64,
    /// Bytes read from the target.
    pub bytes_read: u64,
    /// Wall time of the sample, microseconds.
    pub elapsed_us: u64,
}

/// Symbolisation caches, keyed by target pc.
#[derive(Default)]
pub struct SymCache {
    pcs: HashMap<u64, PcInfo, BuildHasherDefault<PcHasher>>,
    start: HashMap<u64, bool, BuildHasherDefault<PcHasher>>,
    /// Symbolised stacks by the pcs an unwind visited (see [`UnwindKey`]):
    /// the goroutines of one code path get one shared [`Stack`], built once
    /// and kept across samples.
    by_pcs: HashMap<Box<[u64]>, Stack, BuildHasherDefault<PcHasher>>,
    /// `created by` frame per `gopc`, across samples.
    creators: HashMap<u64, Option<Frame>, BuildHasherDefault<PcHasher>>,
    /// Scratch for one unwind's key, reused.
    pcbuf: Vec<u64>,
}

/// Bound on `by_pcs` and `creators`: a program with more distinct stacks
/// than this just rebuilds them (the caches are cleared when full).
const MAX_CACHED: usize = 1 << 16;

/// What the unwinder needs to know about one pc, computed once.
#[derive(Clone)]
struct PcInfo {
    /// Visible frames at this pc (inlined calls expanded).
    frames: Arc<[Frame]>,
    /// Frame size below the return address; `None` if unknown.
    delta: Option<i32>,
    /// The walk ends here (`runtime.goexit`, `mstart`, `rt0_go`).
    stop: bool,
}

/// A multiplicative hash for pcs: they are well spread already, and SipHash
/// showed up in profiles of 100k-goroutine samples.
#[derive(Default)]
struct PcHasher(u64);

impl Hasher for PcHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}

fn le64(b: &[u8], off: u64) -> u64 {
    let o = off as usize;
    b.get(o..o + 8)
        .map(|s| u64::from_le_bytes(s.try_into().unwrap()))
        .unwrap_or(0)
}

fn le32(b: &[u8], off: u64) -> u32 {
    let o = off as usize;
    b.get(o..o + 4)
        .map(|s| u32::from_le_bytes(s.try_into().unwrap()))
        .unwrap_or(0)
}

/// The fields of one `g` that weft uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct G {
    addr: u64,
    goid: u64,
    status: u32,
    scan: bool,
    waitreason: u8,
    waitsince: i64,
    waiting: u64,
    parent: Option<u64>,
    gopc: u64,
    startpc: u64,
    labels: u64,
    lockedm: u64,
    pc: u64,
    sp: u64,
    lo: u64,
    hi: u64,
    tracking_seq: u8,
}

fn decode_g(a: &Attacher, addr: u64, b: &[u8]) -> Option<G> {
    let l = &a.bin.layout;
    let raw = le32(b, l.g_atomicstatus);
    let status = raw & !G_SCAN;
    let goid = le64(b, l.g_goid);
    if status as usize >= STATUS.len() || raw & !(G_SCAN | 0xff) != 0 || goid == 0 || goid > 1 << 48
    {
        return None;
    }
    let (pc, sp) = if status == G_SYSCALL {
        (le64(b, l.g_syscallpc), le64(b, l.g_syscallsp))
    } else {
        (le64(b, l.g_sched_pc), le64(b, l.g_sched_sp))
    };
    Some(G {
        addr,
        goid,
        status,
        scan: raw & G_SCAN != 0,
        waitreason: b.get(l.g_waitreason as usize).copied().unwrap_or(0),
        waitsince: le64(b, l.g_waitsince) as i64,
        waiting: le64(b, l.g_waiting),
        parent: l.g_parent_goid.map(|o| le64(b, o)),
        gopc: le64(b, l.g_gopc),
        startpc: le64(b, l.g_startpc),
        labels: le64(b, l.g_labels),
        lockedm: le64(b, l.g_lockedm),
        pc,
        sp,
        lo: le64(b, l.g_stack_lo),
        hi: le64(b, l.g_stack_hi),
        tracking_seq: b.get(l.g_tracking_seq as usize).copied().unwrap_or(0),
    })
}

/// Reads the `g` structs at `ptrs` in batches (one buffer, one iovec each).
fn read_gs(
    a: &Attacher,
    space: &AddrSpace,
    ptrs: &[u64],
    stats: &mut SampleStats,
) -> Result<Vec<Option<G>>, AttachError> {
    let len = a.bin.layout.g_read_len as usize;
    // Reused and only grown, as in `read_stacks`: only bytes of reads
    // that succeeded are decoded.
    let mut buf = std::mem::take(&mut *a.gbuf.borrow_mut());
    if buf.len() < ptrs.len() * len {
        buf.resize(ptrs.len() * len, 0);
    }
    let mut reqs: Vec<(u64, &mut [u8])> = Vec::with_capacity(ptrs.len());
    let mut which = Vec::with_capacity(ptrs.len());
    for (i, (p, b)) in ptrs.iter().zip(buf.chunks_mut(len)).enumerate() {
        if space.contains(*p, len as u64) {
            reqs.push((*p, b));
            which.push(i);
        }
    }
    let ok = a
        .mem
        .read_many(&mut reqs)
        .map_err(|e| os_error(a.pid, "reading goroutines", e))?;
    drop(reqs);
    stats.bytes_read += (which.len() * len) as u64;
    let mut out = vec![None; ptrs.len()];
    for (k, &i) in which.iter().enumerate() {
        if ok[k] {
            out[i] = decode_g(a, ptrs[i], &buf[i * len..(i + 1) * len]);
        }
    }
    *a.gbuf.borrow_mut() = buf;
    Ok(out)
}

/// Finds `runtime.allgs` in a stripped binary: a `[]*g` slice in `.bss`
/// whose first element is the main goroutine (goid 1) with a sane stack.
pub(crate) fn find_allgs(a: &Attacher) -> Result<u64, AttachError> {
    let (bss, ebss) = a.bin.bss;
    let not_found = |why: &str| AttachError::Unsupported {
        pid: a.pid,
        what: format!(
            "cannot find runtime.allgs in this stripped {} binary: {why}",
            a.bin.version
        ),
    };
    if bss == 0 || ebss <= bss || ebss - bss > 64 << 20 {
        return Err(not_found("moduledata gives no .bss range"));
    }
    let mut data = vec![0u8; (ebss - bss) as usize];
    a.mem
        .read(bss + a.bias, &mut data)
        .map_err(|e| os_error(a.pid, "reading .bss", e))?;
    let space =
        AddrSpace::from_maps(&read_maps(a.pid).map_err(|e| os_error(a.pid, "reading maps", e))?);
    let words: Vec<u64> = data
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let mut scratch = SampleStats::default();
    for i in 0..words.len().saturating_sub(2) {
        let (p, l, c) = (words[i], words[i + 1], words[i + 2]);
        if l == 0 || l > c || c > 1 << 26 || p % 8 != 0 || !space.contains(p, l * 8) {
            continue;
        }
        let n = l.min(4) as usize;
        let mut ptrs = vec![0u8; n * 8];
        if a.mem.read(p, &mut ptrs).is_err() {
            continue;
        }
        let ptrs: Vec<u64> = ptrs
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let gs = read_gs(a, &space, &ptrs, &mut scratch)?;
        let plausible = |g: &Option<G>| {
            g.as_ref()
                .is_some_and(|g| g.lo < g.hi && g.hi - g.lo >= 2048 && g.hi - g.lo <= 1 << 30)
        };
        if gs
            .first()
            .and_then(|g| g.as_ref())
            .is_some_and(|g| g.goid == 1)
            && gs.iter().all(plausible)
        {
            return Ok(bss + a.bias + i as u64 * 8);
        }
    }
    Err(not_found("no slice in .bss looks like it"))
}

/// What the unwinder needs at target address `pc`: visible frames
/// (innermost first, inlined calls expanded), frame size, end of walk.
fn pc_info(a: &mut Attacher, pc: u64, show_all: bool) -> Option<PcInfo> {
    let key = pc ^ ((show_all as u64) << 63);
    if let Some(v) = a.cache.pcs.get(&key) {
        return Some(v.clone());
    }
    let bin = &a.bin;
    let lpc = pc.wrapping_sub(a.bias);
    let f = bin.pcln.find(lpc)?;
    let name = bin.pcln.name(f);
    let stop = matches!(name, "runtime.goexit" | "runtime.mstart" | "runtime.rt0_go");
    // Return addresses point after the call: look up the call's position.
    let tracepc = if lpc > f.entry { lpc - 1 } else { lpc };
    let gofunc = bin.gofunc;
    // The dump elides autogenerated wrappers (`FuncIDWrapper`, e.g. the
    // `gowrap` closures of `go f(x)`); its number grew by one in Go 1.25.
    let wrapper = if bin.minor <= 24 { 22 } else { 23 };
    let read = |off: u64, len: usize| bin.static_bytes(gofunc + off, len).map(|b| b.to_vec());
    let frames: Arc<[Frame]> = if stop {
        Arc::from(Vec::new())
    } else {
        bin.pcln
            .frames_at(f, tracepc, &read)
            .into_iter()
            .filter(|sf| show_all || (show_frame(&sf.func) && sf.func_id != wrapper))
            .map(|sf| Frame {
                func: sf.func,
                file: sf.file,
                line: sf.line,
                pc: Some(pc),
            })
            .collect()
    };
    let info = PcInfo {
        frames,
        delta: bin.pcln.sp_delta(f, lpc),
        stop,
    };
    a.cache.pcs.insert(key, info.clone());
    Some(info)
}

/// [`creation_frame`], remembered per pc.
fn creation_frame_cached(a: &mut Attacher, pc: u64) -> Option<Frame> {
    if let Some(f) = a.cache.creators.get(&pc) {
        return f.clone();
    }
    let f = creation_frame(a, pc);
    if a.cache.creators.len() >= MAX_CACHED {
        a.cache.creators.clear();
    }
    a.cache.creators.insert(pc, f.clone());
    f
}

/// The innermost frame at `pc` with nothing hidden (for `created by`).
fn creation_frame(a: &mut Attacher, pc: u64) -> Option<Frame> {
    let lpc = pc.wrapping_sub(a.bias);
    let f = a.bin.pcln.find(lpc)?;
    if matches!(
        a.bin.pcln.name(f),
        "runtime.goexit" | "runtime.mstart" | "runtime.rt0_go"
    ) {
        return None;
    }
    pc_info(a, pc, true).and_then(|i| i.frames.first().cloned())
}

/// Whether the runtime's default traceback shows a frame of this function:
/// it hides unexported `runtime.` functions.
fn show_frame(name: &str) -> bool {
    if !name.contains('.') {
        return false;
    }
    match name.strip_prefix("runtime.") {
        None => true,
        Some(rest) => {
            // runtime.(*Func).Name → receiver type and method must be exported.
            let method = rest.rsplit('.').next().unwrap_or(rest);
            let exported = |s: &str| {
                s.trim_start_matches("(*")
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_uppercase())
            };
            if rest.contains('.') {
                let rcvr = rest.split('.').next().unwrap_or("");
                exported(rcvr) && exported(method)
            } else {
                exported(rest)
            }
        }
    }
}

/// Whether a goroutine starting at `startpc` is one the runtime's dump
/// hides (its entry function is in package runtime, except `runtime.main`
/// and finalizer/cleanup goroutines while they run user code).
fn is_system(a: &mut Attacher, g: &G) -> bool {
    let lpc = g.startpc.wrapping_sub(a.bias);
    let sys = match a.cache.start.get(&lpc) {
        Some(&s) => s,
        None => {
            let s = match a.bin.pcln.find(lpc) {
                Some(f) => {
                    let n = a.bin.pcln.name(f);
                    n.starts_with("runtime.")
                        && !matches!(
                            n,
                            "runtime.main" | "runtime.corostart" | "runtime.handleAsyncEvent"
                        )
                }
                None => false,
            };
            a.cache.start.insert(lpc, s);
            s
        }
    };
    if sys && g.status != G_WAITING {
        // Finalizer and cleanup goroutines count as user goroutines while
        // they run user code, i.e. while they are not parked in their wait.
        let name = a
            .bin
            .pcln
            .find(lpc)
            .map(|f| a.bin.pcln.name(f).to_string())
            .unwrap_or_default();
        if matches!(
            name.as_str(),
            "runtime.runfinq" | "runtime.runFinalizers" | "runtime.runCleanups"
        ) {
            return false;
        }
    }
    sys
}

/// Unwinds one goroutine from `pc`/`sp` using pcsp frame sizes; `stack` holds
/// the bytes from `sp` upward read in the first batch. Returns the frames
/// and whether the walk reached the goroutine's entry (`runtime.goexit`).
///
/// The walk records the pcs it visits; the frames are a function of those
/// pcs alone, so they are looked up in (or added once to) a cache of
/// shared stacks instead of being copied out for every goroutine.
fn unwind(
    a: &mut Attacher,
    g: &G,
    stack: &[u8],
    opts: &AttachOptions,
    elided: &mut bool,
) -> (Stack, bool) {
    // The key: the flag that changes which frames show, then the pcs.
    let mut key = std::mem::take(&mut a.cache.pcbuf);
    key.clear();
    key.push(opts.include_system as u64);
    let mut nframes = 0;
    let (mut pc, mut sp) = (g.pc, g.sp);
    let base = g.sp;
    let mut complete = false;
    let mut exhausted = true;
    for _ in 0..opts.max_stack_depth.max(1) * 4 {
        exhausted = false;
        let Some(info) = pc_info(a, pc, opts.include_system) else {
            break;
        };
        if info.stop {
            complete = true;
            break;
        }
        if nframes >= opts.max_stack_depth {
            *elided = true;
            complete = true;
            break;
        }
        nframes += info.frames.len();
        key.push(pc);
        let Some(delta) = info.delta.filter(|&d| d >= 0) else {
            break;
        };
        // Where the return address is, and the caller's sp. amd64: the
        // call pushed it just above this frame. arm64: the prologue saved
        // the link register at the bottom of this frame (a frameless leaf
        // would still hold it in the register, but goroutines that are
        // not running stop in functions with frames).
        let (ra_at, fp) = match a.bin.arch {
            Arch::Amd64 => match sp.checked_add(delta as u64 + 8) {
                Some(fp) if fp <= g.hi => (fp - 8, fp),
                _ => break,
            },
            Arch::Arm64 => match sp.checked_add(delta as u64) {
                Some(fp) if delta > 0 && fp <= g.hi => (sp, fp),
                _ => break,
            },
        };
        let lr = if ra_at >= base && ra_at - base + 8 <= stack.len() as u64 {
            le64(stack, ra_at - base)
        } else {
            match a.mem.read_u64(ra_at) {
                Ok(v) => v,
                Err(_) => break,
            }
        };
        if lr == 0 {
            complete = true;
            break;
        }
        pc = lr;
        sp = fp;
        exhausted = true;
    }
    // Ran out of steps: cut to the depth limit.
    let truncate = exhausted;
    if truncate {
        *elided = true;
        complete = true;
    }
    // Truncation changes the frames, so it is part of the key.
    key[0] |= (truncate as u64) << 1;
    let out = match a.cache.by_pcs.get(key.as_slice()) {
        Some(s) => s.clone(),
        None => {
            let mut frames: Vec<Frame> = Vec::with_capacity(nframes);
            for &pc in &key[1..] {
                if let Some(info) = pc_info(a, pc, opts.include_system) {
                    frames.extend(info.frames.iter().cloned());
                }
            }
            if truncate {
                frames.truncate(opts.max_stack_depth);
            }
            let s = Stack::from(frames);
            if a.cache.by_pcs.len() >= MAX_CACHED {
                a.cache.by_pcs.clear();
            }
            a.cache.by_pcs.insert(key.as_slice().into(), s.clone());
            s
        }
    };
    a.cache.pcbuf = key;
    (out, complete)
}

fn status_string(a: &Attacher, g: &G) -> String {
    if (g.status == G_WAITING || g.status == G_LEAKED) && g.waitreason != 0 {
        if let Some(s) = a.wait_reasons.get(g.waitreason as usize) {
            return s.clone();
        }
        return format!("waiting (reason {})", g.waitreason);
    }
    STATUS[g.status as usize].to_string()
}

fn monotonic_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes into `ts` only. Go's nanotime uses CLOCK_MONOTONIC too.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// The stacks of many goroutines, read into one buffer: goroutine `i`'s
/// bytes from its `sp` upward are `buf[spans[i].0..spans[i].1]`.
struct Stacks {
    buf: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Stacks {
    fn get(&self, i: usize) -> &[u8] {
        let (s, e) = self.spans[i];
        &self.buf[s..e]
    }
}

/// Reads the stacks of `gs` (from sp up to the stack top, bounded).
fn read_stacks(
    a: &Attacher,
    space: &AddrSpace,
    gs: &[&G],
    stats: &mut SampleStats,
) -> Result<Stacks, AttachError> {
    let mut spans = Vec::with_capacity(gs.len());
    let mut total = 0usize;
    for g in gs {
        let ok = g.sp >= g.lo
            && g.sp < g.hi
            && g.hi - g.lo <= 1 << 30
            && space.contains(g.sp, g.hi - g.sp);
        let n = if ok {
            (g.hi - g.sp).min(STACK_READ_MAX) as usize
        } else {
            0
        };
        spans.push((total, total + n));
        total += n;
    }
    // Reused between samples and only grown: every byte used is read
    // afresh (failed reads empty their span), so no need to zero it.
    let mut buf = std::mem::take(&mut *a.stackbuf.borrow_mut());
    // Once stacks are reused, a sample reads few of them: give back the
    // tens of MB the first sample needed.
    if buf.len() > 4 * total.max(1 << 20) {
        buf = Vec::new();
    }
    if buf.len() < total {
        buf.resize(total, 0);
    }
    let mut reqs: Vec<(u64, &mut [u8])> = Vec::with_capacity(gs.len());
    let mut which = Vec::with_capacity(gs.len());
    let mut rest: &mut [u8] = &mut buf;
    for (i, g) in gs.iter().enumerate() {
        let n = spans[i].1 - spans[i].0;
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(n);
        rest = tail;
        if n > 0 {
            reqs.push((g.sp, head));
            which.push(i);
        }
    }
    // Stack tops lie a stack apart: merging would only add copying.
    let ok = a
        .mem
        .read_many_unmerged(&mut reqs)
        .map_err(|e| os_error(a.pid, "reading stacks", e))?;
    drop(reqs);
    stats.bytes_read += total as u64;
    for (k, &i) in which.iter().enumerate() {
        if !ok[k] {
            spans[i].1 = spans[i].0;
        }
    }
    Ok(Stacks { buf, spans })
}

/// What one sample learned about the `g` at one `allgs` index, kept for
/// the next sample of the same [`Attacher`] (see [`reusable`]).
#[derive(Default)]
pub(crate) struct Kept {
    /// The g as read before its stack; `None`: nothing to reuse.
    g: Option<G>,
    stack: Stack,
    elided: bool,
    /// Channels it waits on: (address, direction).
    chans: Vec<(u64, &'static str)>,
    labels: std::collections::BTreeMap<String, String>,
}

/// State kept between samples: the per-goroutine [`Kept`] entries and the
/// large buffers, reused so a sample allocates little beyond its records.
#[derive(Default)]
pub(crate) struct SampleState {
    kept: Vec<Kept>,
    /// `(include_system, max_stack_depth)` the kept entries were built with.
    kept_for: (bool, usize),
    ptrs: Vec<u64>,
    addrs: Vec<u64>,
    gathered: crate::mem::Gathered,
    gs: Vec<Option<G>>,
    sudogs: crate::mem::Gathered,
    /// Per goroutine reported: (allgs index, stack reused).
    live: Vec<(u32, bool)>,
    /// Every channel wait: (record, channel, direction).
    chans: Vec<(usize, u64, &'static str)>,
}

/// Whether a goroutine's kept stack, channels and labels still hold: its
/// `g` reads exactly as when they were read. That compares the saved
/// pc/sp, stack bounds, status, wait reason, sudog, goid, and two fields
/// the runtime changes when the goroutine runs: `waitsince` (zeroed each
/// time the scheduler runs it, set again only by a later GC cycle, so an
/// unchanged non-zero value says it has not been scheduled) and
/// `trackingSeq` (incremented by `casgstatus` each time it stops running;
/// unchanged says it stopped a multiple of 256 times or not at all).
/// Only parked or runnable goroutines qualify, not while the GC holds
/// their scan bit (it may be moving the stack), and not the two waits the
/// runtime enters without `casgstatus` (a coroutine switch, and a
/// preemption for a stack scan), which neither field would notice.
fn reusable(g: &G, kept: &Kept, untracked: &[u8]) -> bool {
    matches!(g.status, G_RUNNABLE | G_WAITING | G_LEAKED)
        && !g.scan
        && !untracked.contains(&g.waitreason)
        && kept.g.as_ref() == Some(g)
}

/// Takes one sample into records, one per goroutine.
pub(crate) fn take(a: &mut Attacher, opts: &AttachOptions) -> Result<Vec<Record>, AttachError> {
    let mut st = std::mem::take(&mut a.state);
    let out = take_with(a, opts, &mut st);
    if out.is_err() {
        st.kept.clear();
    }
    a.state = st;
    out
}

fn take_with(
    a: &mut Attacher,
    opts: &AttachOptions,
    st: &mut SampleState,
) -> Result<Vec<Record>, AttachError> {
    let mut stats = SampleStats::default();
    let t0 = std::time::Instant::now();
    let phases = std::env::var_os("WEFT_ATTACH_PHASES").is_some();
    let phase = |what: &str| {
        if phases {
            eprintln!("{what}: {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
        }
    };
    let space = AddrSpace::from_maps(
        &read_maps(a.pid).map_err(|e| os_error(a.pid, "reading /proc/PID/maps", e))?,
    );
    let mut hdr = [0u8; 16];
    a.mem
        .read(a.allgs, &mut hdr)
        .map_err(|e| os_error(a.pid, "reading runtime.allgs", e))?;
    let (ptr, len) = (le64(&hdr, 0), le64(&hdr, 8));
    stats.allgs_len = len;
    if len > 1 << 28 || (len > 0 && !space.contains(ptr, len * 8)) {
        return Err(AttachError::Inconsistent {
            pid: a.pid,
            what: format!("runtime.allgs = {{ptr {ptr:#x}, len {len}}} is not a readable array"),
        });
    }
    let n = (len as usize).min(opts.max_goroutines);
    stats.truncated = len - n as u64;
    st.ptrs.clear();
    st.ptrs.resize(n, 0);
    {
        // SAFETY: a `[u64]` viewed as its bytes; every bit pattern is a
        // valid u64. The target (amd64 or arm64) is little-endian like us.
        let bytes =
            unsafe { std::slice::from_raw_parts_mut(st.ptrs.as_mut_ptr().cast::<u8>(), n * 8) };
        a.mem
            .read(ptr, bytes)
            .map_err(|e| os_error(a.pid, "reading the allgs array", e))?;
    }
    stats.bytes_read += n as u64 * 8 + 16;

    // The gs, neighbours merged into few large reads, decoded in place.
    let glen = a.bin.layout.g_read_len as usize;
    st.addrs.clear();
    st.addrs.extend(
        st.ptrs
            .iter()
            .map(|&p| if space.contains(p, glen as u64) { p } else { 0 }),
    );
    // In slices of `allgs`: each slice's bytes are decoded while still in
    // the cache, and the buffer stays at about a megabyte.
    st.gs.clear();
    for (c, addrs) in st.addrs.chunks(G_SLICE).enumerate() {
        stats.bytes_read += a
            .mem
            .read_gathered(addrs, glen, &mut st.gathered)
            .map_err(|e| os_error(a.pid, "reading goroutines", e))?;
        let ptrs = &st.ptrs[c * G_SLICE..c * G_SLICE + addrs.len()];
        for (i, &p) in ptrs.iter().enumerate() {
            let g = st.gathered.get(i, glen).and_then(|b| decode_g(a, p, b));
            st.gs.push(g);
        }
    }
    // Entries that looked torn get one more read.
    let bad: Vec<usize> = (0..n).filter(|&i| st.gs[i].is_none()).collect();
    if !bad.is_empty() {
        stats.retried += bad.len() as u64;
        let again = read_gs(
            a,
            &space,
            &bad.iter().map(|&i| st.ptrs[i]).collect::<Vec<_>>(),
            &mut stats,
        )?;
        for (k, &i) in bad.iter().enumerate() {
            st.gs[i] = again[k].clone();
        }
    }
    phase("gs read");

    let kept_for = (opts.include_system, opts.max_stack_depth);
    if !opts.reuse_stacks || st.kept_for != kept_for {
        st.kept.clear();
        st.kept_for = kept_for;
    }
    // Without reuse nothing is kept: `kept` stays empty.
    if opts.reuse_stacks {
        st.kept.resize_with(n, Kept::default);
        st.kept.truncate(n);
    }

    // Wait reasons entered without `casgstatus` (see `reusable`).
    let untracked: Vec<u8> = a
        .wait_reasons
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.as_str(), "coroutine" | "preempted"))
        .map(|(i, _)| i as u8)
        .collect();
    // Sort the goroutines: (allgs index, reused) for each one reported.
    let mut live = std::mem::take(&mut st.live);
    live.clear();
    for i in 0..n {
        let Some(g) = &st.gs[i] else {
            stats.invalid += 1;
            if let Some(k) = st.kept.get_mut(i) {
                *k = Kept::default();
            }
            continue;
        };
        if g.status == G_DEAD || g.status == G_DEADEXTRA {
            stats.dead += 1;
            if let Some(k) = st.kept.get_mut(i).filter(|k| k.g.is_some()) {
                *k = Kept::default();
            }
            continue;
        }
        if !opts.include_system && is_system(a, g) {
            stats.system += 1;
            continue;
        }
        let reuse = opts.reuse_stacks && reusable(g, &st.kept[i], &untracked);
        live.push((i as u32, reuse));
    }
    let unwindable: Vec<&G> = live
        .iter()
        .filter(|&&(i, reuse)| !reuse && st.gs[i as usize].as_ref().unwrap().status != G_RUNNING)
        .map(|&(i, _)| st.gs[i as usize].as_ref().unwrap())
        .collect();
    stats.stacks_reused = live.iter().filter(|l| l.1).count() as u64;
    let stacks = read_stacks(a, &space, &unwindable, &mut stats)?;
    drop(unwindable);
    phase("stacks read");

    let now = monotonic_ns();
    let mut records = Vec::with_capacity(live.len());
    // Fresh waiters: (record, first sudog, direction).
    let mut waits: Vec<(usize, u64, &'static str)> = Vec::new();
    // Every channel wait: (record, channel, direction).
    let mut chans = std::mem::take(&mut st.chans);
    chans.clear();
    let mut labelled: Vec<(usize, u64)> = Vec::new();
    let mut k = 0;
    for &(i, reused) in &live {
        let i = i as usize;
        let mut g = st.gs[i].clone().unwrap();
        let mut elided = false;
        let mut stack = Stack::default();
        let mut keep = false;
        if reused {
            let kept = &st.kept[i];
            stack = kept.stack.clone();
            elided = kept.elided;
        } else if g.status != G_RUNNING {
            let buf = stacks.get(k);
            k += 1;
            let (frames, complete) = unwind(a, &g, buf, opts, &mut elided);
            stack = frames;
            keep = complete;
            if !complete {
                // It moved while we read it: re-read this g and its stack once.
                stats.retried += 1;
                let again = read_gs(a, &space, &[g.addr], &mut stats)?.pop().flatten();
                let mut ok = false;
                if let Some(g2) = again
                    .filter(|g2| g2.goid == g.goid && g2.status != G_RUNNING && g2.status != G_DEAD)
                {
                    let st2 = read_stacks(a, &space, &[&g2], &mut stats)?;
                    let mut e2 = false;
                    let (frames, complete) = unwind(a, &g2, st2.get(0), opts, &mut e2);
                    if complete {
                        stack = frames;
                        elided = e2;
                        g = g2;
                        ok = true;
                        keep = true;
                    }
                }
                if !ok {
                    stats.torn_stacks += 1;
                }
            }
        }
        let rec = records.len();
        let status = status_string(a, &g);
        if reused {
            let kept = &st.kept[i];
            chans.extend(kept.chans.iter().map(|&(c, d)| (rec, c, d)));
        } else {
            // Kept for the next sample only when read whole and reusable.
            if opts.reuse_stacks {
                st.kept[i] = if keep {
                    Kept {
                        g: Some(g.clone()),
                        stack: stack.clone(),
                        elided,
                        ..Kept::default()
                    }
                } else {
                    Kept::default()
                };
            }
            if g.status == G_WAITING && g.waiting != 0 {
                let dir = if status.starts_with("select") {
                    Some("select")
                } else if status.starts_with("chan send") {
                    Some("send")
                } else if status.starts_with("chan receive") {
                    Some("recv")
                } else {
                    None
                };
                if let Some(dir) = dir {
                    waits.push((rec, g.waiting, dir));
                }
            }
            if g.labels != 0 && a.bin.minor >= 24 {
                labelled.push((rec, g.labels));
            }
        }
        // The dump names no creator for the main goroutine, nor a hidden
        // (runtime-internal) one.
        let created_by = creation_frame_cached(a, g.gopc)
            .filter(|f| g.goid != 1 && (opts.include_system || show_frame(&f.func)));
        let wait_ns = (g.waitsince > 0
            && (g.status == G_WAITING || g.status == G_SYSCALL)
            && now > g.waitsince)
            .then(|| (now - g.waitsince) as u64);
        records.push(Record {
            count: 1,
            ids: vec![g.goid],
            class: classify(&status),
            status,
            wait_minutes: wait_ns.map(|ns| ns / 60_000_000_000).filter(|&m| m > 0),
            wait_ns,
            leaked: g.status == G_LEAKED,
            locked_to_thread: g.lockedm != 0,
            labels: if reused {
                st.kept[i].labels.clone()
            } else {
                Default::default()
            },
            stack,
            frames_elided: elided,
            created_by: created_by.filter(|f| !f.func.is_empty()).map(|mut f| {
                f.pc = Some(g.gopc);
                f
            }),
            creator_id: g.parent.filter(|&p| p != 0),
            ..Record::default()
        });
    }
    *a.stackbuf.borrow_mut() = stacks.buf;
    phase("unwound");
    let fresh_chans = walk_sudogs(a, &space, waits, &mut st.sudogs, &mut stats)?;
    read_labels(a, &space, &mut records, &labelled, &mut stats)?;
    if opts.reuse_stacks {
        for &(rec, c, d) in &fresh_chans {
            let kept = &mut st.kept[live[rec].0 as usize];
            if kept.g.is_some() {
                kept.chans.push((c, d));
            }
        }
        for &(rec, _) in &labelled {
            let kept = &mut st.kept[live[rec].0 as usize];
            if kept.g.is_some() {
                kept.labels = records[rec].labels.clone();
            }
        }
    }
    chans.extend(fresh_chans);
    read_chans(a, &space, &mut records, &chans, &mut stats)?;
    st.chans = chans;
    st.live = live;
    phase("waits and labels read");
    stats.reported = records.len() as u64;
    a.stats = stats;
    Ok(records)
}

/// Reads one fixed-size struct at each address into one buffer; returns
/// the buffer and which reads succeeded.
fn read_structs(
    a: &Attacher,
    addrs: &[u64],
    size: usize,
    what: &str,
    stats: &mut SampleStats,
) -> Result<(Vec<u8>, Vec<bool>), AttachError> {
    let mut buf = vec![0u8; addrs.len() * size];
    let mut reqs: Vec<(u64, &mut [u8])> = addrs.iter().copied().zip(buf.chunks_mut(size)).collect();
    let ok = a
        .mem
        .read_many(&mut reqs)
        .map_err(|e| os_error(a.pid, what, e))?;
    drop(reqs);
    stats.bytes_read += buf.len() as u64;
    Ok((buf, ok))
}

/// Reads pprof labels (Go 1.24+): `g.labels` points at a label set whose
/// first word is a slice of {key, value string} pairs. (Go 1.22–1.23 keep
/// them in a Go map, which weft does not read.)
fn read_labels(
    a: &Attacher,
    space: &AddrSpace,
    records: &mut [Record],
    labelled: &[(usize, u64)],
    stats: &mut SampleStats,
) -> Result<(), AttachError> {
    const MAX_LABELS: u64 = 64;
    const MAX_STR: u64 = 4096;
    let sets: Vec<(usize, u64)> = labelled
        .iter()
        .copied()
        .filter(|&(_, p)| space.contains(p, 24))
        .collect();
    let addrs: Vec<u64> = sets.iter().map(|s| s.1).collect();
    let (hdrs, ok) = read_structs(a, &addrs, 24, "reading pprof labels", stats)?;
    // (record, array address, count)
    let mut arrays: Vec<(usize, u64, u64)> = Vec::new();
    for (k, &(rec, _)) in sets.iter().enumerate() {
        let (ptr, len) = (le64(&hdrs[k * 24..], 0), le64(&hdrs[k * 24..], 8));
        if ok[k] && len > 0 && len <= MAX_LABELS && space.contains(ptr, len * 32) {
            arrays.push((rec, ptr, len));
        }
    }
    let mut pairs: Vec<(usize, [u64; 4])> = Vec::new();
    for (rec, ptr, len) in arrays {
        let mut buf = vec![0u8; (len * 32) as usize];
        if a.mem.read(ptr, &mut buf).is_ok() {
            stats.bytes_read += buf.len() as u64;
            for c in buf.chunks_exact(32) {
                pairs.push((rec, [le64(c, 0), le64(c, 8), le64(c, 16), le64(c, 24)]));
            }
        }
    }
    // Read every key and value string in one batch.
    let mut reqs_at: Vec<(u64, u64)> = Vec::new();
    for (_, p) in &pairs {
        reqs_at.push((p[0], p[1].min(MAX_STR)));
        reqs_at.push((p[2], p[3].min(MAX_STR)));
    }
    let total: u64 = reqs_at.iter().map(|r| r.1).sum();
    let mut buf = vec![0u8; total as usize];
    let mut reqs: Vec<(u64, &mut [u8])> = Vec::with_capacity(reqs_at.len());
    let mut rest: &mut [u8] = &mut buf;
    for &(addr, len) in &reqs_at {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(len as usize);
        rest = tail;
        reqs.push((addr, head));
    }
    let ok = a
        .mem
        .read_many(&mut reqs)
        .map_err(|e| os_error(a.pid, "reading pprof labels", e))?;
    drop(reqs);
    stats.bytes_read += total;
    let mut off = 0usize;
    let mut strs = Vec::with_capacity(reqs_at.len());
    for (k, &(_, len)) in reqs_at.iter().enumerate() {
        let s = &buf[off..off + len as usize];
        off += len as usize;
        strs.push(if ok[k] || len == 0 {
            std::str::from_utf8(s).ok().map(str::to_string)
        } else {
            None
        });
    }
    for (k, (rec, _)) in pairs.iter().enumerate() {
        if let (Some(key), Some(val)) = (&strs[2 * k], &strs[2 * k + 1]) {
            records[*rec].labels.insert(key.clone(), val.clone());
        }
    }
    Ok(())
}

/// Follows each waiting goroutine's sudog list (`g.waiting`, then
/// `sudog.waitlink`) to the channels (`sudog.c`). `waits` holds (record
/// index, first sudog, direction); returns (record index, channel,
/// direction).
fn walk_sudogs(
    a: &Attacher,
    space: &AddrSpace,
    waits: Vec<(usize, u64, &'static str)>,
    gathered: &mut crate::mem::Gathered,
    stats: &mut SampleStats,
) -> Result<Vec<(usize, u64, &'static str)>, AttachError> {
    let l = &a.bin.layout;
    let sz = l.sudog_read_len as usize;
    let mut chans_of: Vec<(usize, u64, &'static str)> = Vec::new();
    let mut level = waits;
    // A select has one sudog per case; bound the walk.
    for _ in 0..256 {
        level.retain(|w| space.contains(w.1, l.sudog_read_len));
        if level.is_empty() {
            break;
        }
        let addrs: Vec<u64> = level.iter().map(|w| w.1).collect();
        stats.bytes_read += a
            .mem
            .read_gathered(&addrs, sz, gathered)
            .map_err(|e| os_error(a.pid, "reading sudogs", e))?;
        let mut next = Vec::new();
        for (k, (rec, _, dir)) in level.into_iter().enumerate() {
            let Some(b) = gathered.get(k, sz) else {
                continue;
            };
            let c = le64(b, l.sudog_c);
            if c != 0 {
                chans_of.push((rec, c, dir));
            }
            let link = le64(b, l.sudog_waitlink);
            if link != 0 {
                next.push((rec, link, dir));
            }
        }
        level = next;
    }
    Ok(chans_of)
}

/// Reads each channel waited on once and gives every waiting record its
/// [`WaitObject`]s. `chans` holds (record index, channel, direction).
fn read_chans(
    a: &Attacher,
    space: &AddrSpace,
    records: &mut [Record],
    chans: &[(usize, u64, &'static str)],
    stats: &mut SampleStats,
) -> Result<(), AttachError> {
    let l = &a.bin.layout;
    let mut addrs: Vec<u64> = chans
        .iter()
        .map(|c| c.1)
        .filter(|&c| space.contains(c, l.hchan_read_len))
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    let hz = l.hchan_read_len as usize;
    let (buf, ok) = read_structs(a, &addrs, hz, "reading channels", stats)?;
    // Exact capacities: a pushed-to empty Vec would take room for four.
    let mut per_record = vec![0u8; records.len()];
    for &(rec, _, _) in chans {
        per_record[rec] = per_record[rec].saturating_add(1);
    }
    for (rec, &n) in per_record.iter().enumerate() {
        if n > 0 {
            records[rec].wait_on.reserve_exact(n as usize);
        }
    }
    for &(rec, c, direction) in chans {
        let (len, cap, closed) = match addrs.binary_search(&c) {
            Ok(k) if ok[k] => {
                let b = &buf[k * hz..(k + 1) * hz];
                let (q, d) = (le64(b, l.hchan_qcount), le64(b, l.hchan_dataqsiz));
                // A torn or reused hchan: keep the identity, drop the numbers.
                if q <= d.max(q) && d < 1 << 40 {
                    (Some(q), Some(d), Some(le32(b, l.hchan_closed) != 0))
                } else {
                    (None, None, None)
                }
            }
            _ => (None, None, None),
        };
        // A select may list one channel twice.
        let seen = &records[rec].wait_on;
        if seen.iter().any(|w| w.addr == c && w.direction == direction) {
            continue;
        }
        records[rec].wait_on.push(WaitObject {
            addr: c,
            kind: "chan".into(),
            direction: direction.into(),
            cap,
            len,
            closed,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_frames_hidden_like_the_dump() {
        assert!(!show_frame("runtime.gopark"));
        assert!(!show_frame("runtime.chanrecv1"));
        assert!(show_frame("runtime.Gosched"));
        assert!(show_frame("runtime.(*Func).Name"));
        assert!(!show_frame("runtime.(*mheap).alloc"));
        assert!(show_frame("main.main"));
        assert!(show_frame("sync.(*Mutex).Lock"));
        assert!(!show_frame("noperiod"));
    }
}
