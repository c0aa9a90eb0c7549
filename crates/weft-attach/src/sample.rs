//! One sample of the goroutine table: read `allgs`, the `g`s, their stacks
//! and the channels they wait on, in batches, without stopping the target.
//!
//! Reads race with the running program. Every value read is checked before
//! use (status in range, goid plausible, pointers inside readable
//! mappings, stack pointers inside the goroutine's stack) and goroutines
//! that fail are re-read once, then counted in [`SampleStats`].

use std::collections::HashMap;
use std::sync::Arc;

use weft_model::{Frame, Record, WaitObject};
use weft_profile::classify;

use crate::error::{os_error, AttachError};
use crate::mem::{read_maps, AddrSpace, Memory};
use crate::pclntab::Func;
use crate::{AttachOptions, Attacher};

const G_SCAN: u32 = 0x1000;
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
    /// Goroutines re-read because the first read looked inconsistent.
    pub retried: u64,
    /// Goroutines left out because of `max_goroutines`.
    pub truncated: u64,
    /// Bytes read from the target.
    pub bytes_read: u64,
    /// Wall time of the sample, microseconds.
    pub elapsed_us: u64,
}

/// Symbolisation caches, keyed by link-time pc.
#[derive(Default)]
pub struct SymCache {
    frames: HashMap<u64, Arc<[Frame]>>,
    start: HashMap<u64, bool>,
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
#[derive(Clone, Debug)]
struct G {
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
    pc: u64,
    sp: u64,
    lo: u64,
    hi: u64,
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
        pc,
        sp,
        lo: le64(b, l.g_stack_lo),
        hi: le64(b, l.g_stack_hi),
    })
}

/// Reads the `g` structs at `ptrs` in batches.
fn read_gs(
    a: &Attacher,
    space: &AddrSpace,
    ptrs: &[u64],
    stats: &mut SampleStats,
) -> Result<Vec<Option<G>>, AttachError> {
    let len = a.bin.layout.g_read_len;
    let mut bufs: Vec<Vec<u8>> = ptrs.iter().map(|_| vec![0u8; len as usize]).collect();
    let mut reqs: Vec<(u64, &mut [u8])> = Vec::with_capacity(ptrs.len());
    let mut which = Vec::with_capacity(ptrs.len());
    for (i, (p, b)) in ptrs.iter().zip(bufs.iter_mut()).enumerate() {
        if space.contains(*p, len) {
            reqs.push((*p, b.as_mut_slice()));
            which.push(i);
        }
    }
    let ok = a
        .mem
        .read_many(&mut reqs)
        .map_err(|e| os_error(a.pid, "reading goroutines", e))?;
    drop(reqs);
    stats.bytes_read += which.len() as u64 * len;
    let mut out = vec![None; ptrs.len()];
    for (k, &i) in which.iter().enumerate() {
        if ok[k] {
            out[i] = decode_g(a, ptrs[i], &bufs[i]);
        }
    }
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

/// Visible frames (innermost first) at return address / pc `pc` (target
/// address) within `f`, with inlined calls expanded.
fn frames_for(a: &mut Attacher, f: Func, pc: u64, show_all: bool) -> Arc<[Frame]> {
    let lpc = pc - a.bias;
    let tracepc = if lpc > f.entry { lpc - 1 } else { lpc };
    let key = tracepc ^ ((show_all as u64) << 63);
    if let Some(v) = a.cache.frames.get(&key) {
        return v.clone();
    }
    let bin = &a.bin;
    let gofunc = bin.gofunc;
    // The dump elides autogenerated wrappers (`FuncIDWrapper`, e.g. the
    // `gowrap` closures of `go f(x)`); its number grew by one in Go 1.25.
    let wrapper = if bin.minor <= 24 { 22 } else { 23 };
    let read = |off: u64, len: usize| bin.static_bytes(gofunc + off, len).map(|b| b.to_vec());
    let v: Arc<[Frame]> = bin
        .pcln
        .frames_at(f, tracepc, &read)
        .into_iter()
        .filter(|sf| show_all || (show_frame(&sf.func) && sf.func_id != wrapper))
        .map(|sf| Frame {
            func: sf.func,
            file: sf.file,
            line: sf.line,
            pc: Some(pc),
        })
        .collect();
    a.cache.frames.insert(key, v.clone());
    v
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
fn unwind(
    a: &mut Attacher,
    g: &G,
    stack: &[u8],
    opts: &AttachOptions,
    elided: &mut bool,
) -> (Vec<Frame>, bool) {
    let mut frames = Vec::new();
    let (mut pc, mut sp) = (g.pc, g.sp);
    let base = g.sp;
    for _ in 0..opts.max_stack_depth.max(1) * 4 {
        let Some(f) = a.bin.pcln.find(pc.wrapping_sub(a.bias)) else {
            return (frames, false);
        };
        let name = a.bin.pcln.name(f);
        if name == "runtime.goexit" || name == "runtime.mstart" || name == "runtime.rt0_go" {
            return (frames, true);
        }
        if frames.len() >= opts.max_stack_depth {
            *elided = true;
            return (frames, true);
        }
        frames.extend(frames_for(a, f, pc, opts.include_system).iter().cloned());
        let Some(delta) = a.bin.pcln.sp_delta(f, pc - a.bias) else {
            return (frames, false);
        };
        if delta < 0 {
            return (frames, false);
        }
        let fp = sp + delta as u64 + 8;
        if fp > g.hi {
            return (frames, false);
        }
        let ra_at = fp - 8;
        let lr = if ra_at >= base && ra_at + 8 <= base + stack.len() as u64 {
            le64(stack, ra_at - base)
        } else {
            match a.mem.read_u64(ra_at) {
                Ok(v) => v,
                Err(_) => return (frames, false),
            }
        };
        if lr == 0 {
            return (frames, true);
        }
        pc = lr;
        sp = fp;
    }
    frames.truncate(opts.max_stack_depth);
    *elided = true;
    (frames, true)
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

/// Reads the stacks of `gs` (from sp up to the stack top, bounded).
fn read_stacks(
    a: &Attacher,
    space: &AddrSpace,
    gs: &[&G],
    stats: &mut SampleStats,
) -> Result<Vec<Vec<u8>>, AttachError> {
    let mut bufs: Vec<Vec<u8>> = gs
        .iter()
        .map(|g| {
            let ok = g.sp >= g.lo
                && g.sp < g.hi
                && g.hi - g.lo <= 1 << 30
                && space.contains(g.sp, g.hi - g.sp);
            vec![
                0u8;
                if ok {
                    (g.hi - g.sp).min(STACK_READ_MAX) as usize
                } else {
                    0
                }
            ]
        })
        .collect();
    let mut reqs: Vec<(u64, &mut [u8])> = Vec::new();
    let mut which = Vec::new();
    for (i, (g, b)) in gs.iter().zip(bufs.iter_mut()).enumerate() {
        if !b.is_empty() {
            stats.bytes_read += b.len() as u64;
            reqs.push((g.sp, b.as_mut_slice()));
            which.push(i);
        }
    }
    let ok = a
        .mem
        .read_many(&mut reqs)
        .map_err(|e| os_error(a.pid, "reading stacks", e))?;
    drop(reqs);
    for (k, &i) in which.iter().enumerate() {
        if !ok[k] {
            bufs[i].clear();
        }
    }
    Ok(bufs)
}

/// Takes one sample into records, one per goroutine.
pub(crate) fn take(a: &mut Attacher, opts: &AttachOptions) -> Result<Vec<Record>, AttachError> {
    let mut stats = SampleStats::default();
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
    let mut arr = vec![0u8; n * 8];
    a.mem
        .read(ptr, &mut arr)
        .map_err(|e| os_error(a.pid, "reading the allgs array", e))?;
    stats.bytes_read += arr.len() as u64 + 16;
    let ptrs: Vec<u64> = arr
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    drop(arr);

    let mut gs = read_gs(a, &space, &ptrs, &mut stats)?;
    // Entries that looked torn get one more read.
    let bad: Vec<usize> = (0..gs.len()).filter(|&i| gs[i].is_none()).collect();
    if !bad.is_empty() {
        stats.retried += bad.len() as u64;
        let again = read_gs(
            a,
            &space,
            &bad.iter().map(|&i| ptrs[i]).collect::<Vec<_>>(),
            &mut stats,
        )?;
        for (k, &i) in bad.iter().enumerate() {
            gs[i] = again[k].clone();
        }
    }
    let mut live: Vec<G> = Vec::with_capacity(gs.len());
    for g in gs.into_iter() {
        match g {
            None => stats.invalid += 1,
            Some(g) if g.status == G_DEAD || g.status == G_DEADEXTRA => stats.dead += 1,
            Some(g) => {
                if !opts.include_system && is_system(a, &g) {
                    stats.system += 1;
                } else {
                    live.push(g);
                }
            }
        }
    }

    let unwindable: Vec<&G> = live.iter().filter(|g| g.status != G_RUNNING).collect();
    let stacks = read_stacks(a, &space, &unwindable, &mut stats)?;
    let mut stack_of: HashMap<u64, Vec<u8>> = HashMap::with_capacity(stacks.len());
    for (g, s) in unwindable.iter().zip(stacks) {
        stack_of.insert(g.addr, s);
    }
    drop(unwindable);

    let now = monotonic_ns();
    let mut records = Vec::with_capacity(live.len());
    let mut waits: Vec<(usize, u64, String)> = Vec::new();
    for mut g in live {
        let mut elided = false;
        let mut stack = Vec::new();
        if g.status != G_RUNNING {
            let buf = stack_of.remove(&g.addr).unwrap_or_default();
            let (frames, complete) = unwind(a, &g, &buf, opts, &mut elided);
            stack = frames;
            if !complete {
                // It moved while we read it: re-read this g and its stack once.
                stats.retried += 1;
                let again = read_gs(a, &space, &[g.addr], &mut stats)?.pop().flatten();
                let mut ok = false;
                if let Some(g2) = again
                    .filter(|g2| g2.goid == g.goid && g2.status != G_RUNNING && g2.status != G_DEAD)
                {
                    let buf = read_stacks(a, &space, &[&g2], &mut stats)?
                        .pop()
                        .unwrap_or_default();
                    let mut e2 = false;
                    let (frames, complete) = unwind(a, &g2, &buf, opts, &mut e2);
                    if complete {
                        stack = frames;
                        elided = e2;
                        g = g2;
                        ok = true;
                    }
                }
                if !ok {
                    stats.torn_stacks += 1;
                }
            }
        }
        let status = status_string(a, &g);
        // The dump names no creator for the main goroutine, nor a hidden
        // (runtime-internal) one.
        let created_by = a
            .bin
            .pcln
            .find(g.gopc.wrapping_sub(a.bias))
            .and_then(|f| frames_for(a, f, g.gopc, true).first().cloned())
            .filter(|f| g.goid != 1 && (opts.include_system || show_frame(&f.func)));
        let wait_ns = (g.waitsince > 0
            && (g.status == G_WAITING || g.status == G_SYSCALL)
            && now > g.waitsince)
            .then(|| (now - g.waitsince) as u64);
        if g.status == G_WAITING
            && g.waiting != 0
            && (status.starts_with("chan ") || status.starts_with("select"))
        {
            waits.push((records.len(), g.waiting, status.clone()));
        }
        let _ = g.scan;
        records.push(Record {
            count: 1,
            ids: vec![g.goid],
            class: classify(&status),
            status,
            wait_minutes: wait_ns.map(|ns| ns / 60_000_000_000).filter(|&m| m > 0),
            wait_ns,
            leaked: g.status == G_LEAKED,
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
    read_waits(a, &space, &mut records, waits, &mut stats)?;
    stats.reported = records.len() as u64;
    a.stats = stats;
    Ok(records)
}

/// Follows each waiting goroutine's sudog list (`g.waiting`, then
/// `sudog.waitlink`) to the channels (`sudog.c`) and reads those.
fn read_waits(
    a: &Attacher,
    space: &AddrSpace,
    records: &mut [Record],
    waits: Vec<(usize, u64, String)>,
    stats: &mut SampleStats,
) -> Result<(), AttachError> {
    let l = a.bin.layout.clone();
    let mut chans_of: Vec<(usize, u64, String)> = Vec::new();
    let mut level: Vec<(usize, u64, String)> = waits;
    // A select has one sudog per case; bound the walk.
    for _ in 0..256 {
        level.retain(|w| space.contains(w.1, l.sudog_read_len));
        if level.is_empty() {
            break;
        }
        let mut bufs: Vec<Vec<u8>> = level
            .iter()
            .map(|_| vec![0u8; l.sudog_read_len as usize])
            .collect();
        let mut reqs: Vec<(u64, &mut [u8])> = level
            .iter()
            .zip(bufs.iter_mut())
            .map(|(w, b)| (w.1, b.as_mut_slice()))
            .collect();
        let ok = a
            .mem
            .read_many(&mut reqs)
            .map_err(|e| os_error(a.pid, "reading sudogs", e))?;
        drop(reqs);
        stats.bytes_read += bufs.len() as u64 * l.sudog_read_len;
        let mut next = Vec::new();
        for (k, (rec, _, dir)) in level.into_iter().enumerate() {
            if !ok[k] {
                continue;
            }
            let c = le64(&bufs[k], l.sudog_c);
            if c != 0 {
                chans_of.push((rec, c, dir.clone()));
            }
            let link = le64(&bufs[k], l.sudog_waitlink);
            if link != 0 {
                next.push((rec, link, dir));
            }
        }
        level = next;
    }
    let mut addrs: Vec<u64> = chans_of
        .iter()
        .map(|c| c.1)
        .filter(|&c| space.contains(c, l.hchan_read_len))
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    let mut bufs: Vec<Vec<u8>> = addrs
        .iter()
        .map(|_| vec![0u8; l.hchan_read_len as usize])
        .collect();
    let mut reqs: Vec<(u64, &mut [u8])> = addrs
        .iter()
        .zip(bufs.iter_mut())
        .map(|(a, b)| (*a, b.as_mut_slice()))
        .collect();
    let ok = a
        .mem
        .read_many(&mut reqs)
        .map_err(|e| os_error(a.pid, "reading channels", e))?;
    drop(reqs);
    stats.bytes_read += bufs.len() as u64 * l.hchan_read_len;
    let chan: HashMap<u64, (u64, u64, bool)> = addrs
        .iter()
        .enumerate()
        .filter(|(k, _)| ok[*k])
        .map(|(k, &addr)| {
            (
                addr,
                (
                    le64(&bufs[k], l.hchan_qcount),
                    le64(&bufs[k], l.hchan_dataqsiz),
                    le32(&bufs[k], l.hchan_closed) != 0,
                ),
            )
        })
        .collect();
    for (rec, c, status) in chans_of {
        let direction = if status.starts_with("select") {
            "select"
        } else if status.starts_with("chan send") {
            "send"
        } else {
            "recv"
        };
        let (len, cap, closed) = match chan.get(&c) {
            Some(&(q, d, cl)) if q <= d.max(q) && d < 1 << 40 => (Some(q), Some(d), Some(cl)),
            _ => (None, None, None),
        };
        let w = WaitObject {
            addr: c,
            kind: "chan".into(),
            direction: direction.into(),
            cap,
            len,
            closed,
        };
        if !records[rec].wait_on.contains(&w) {
            records[rec].wait_on.push(w);
        }
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
