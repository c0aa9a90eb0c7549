//! The scheduler state machine that puts events from different threads into
//! one valid order, and validates the trace while doing so.
//!
//! Each thread's events are in program order; across threads, an event can
//! only be taken once its preconditions hold (a goroutine must be runnable
//! and at the right sequence number to start, a proc idle to be started,
//! and so on). `advance` checks one candidate event; on success it updates
//! the state and queues the event (sometimes several: a GoSwitch becomes an
//! unblock, a block or destroy, and a start).
use crate::error::{Error, Result};
use crate::event::RawEvent;
use crate::fasthash::{FastMap, IdMap};
use crate::generation::Generation;
use crate::spec::{ev, gstatus, pstatus, EventType, Version, SPECS};

/// Goroutine states as the API reports them.
pub mod gostate {
    #![allow(missing_docs)]
    pub const UNDETERMINED: u8 = 0;
    pub const NOT_EXIST: u8 = 1;
    pub const RUNNABLE: u8 = 2;
    pub const RUNNING: u8 = 3;
    pub const WAITING: u8 = 4;
    pub const SYSCALL: u8 = 5;
}
/// Proc states as the API reports them.
pub mod procstate {
    #![allow(missing_docs)]
    pub const UNDETERMINED: u8 = 0;
    pub const NOT_EXIST: u8 = 1;
    pub const RUNNING: u8 = 2;
    pub const IDLE: u8 = 3;
}

pub(crate) const NO_G: i64 = -1;
pub(crate) const NO_P: i64 = -1;
pub(crate) const NO_M: i64 = -1;
pub(crate) const NO_TASK: u64 = u64::MAX;

/// wire goroutine status -> API state
pub(crate) fn go_status_to_state(s: u64) -> u8 {
    match s as u8 {
        gstatus::RUNNABLE => gostate::RUNNABLE,
        gstatus::RUNNING => gostate::RUNNING,
        gstatus::WAITING => gostate::WAITING,
        gstatus::SYSCALL => gostate::SYSCALL,
        _ => gostate::UNDETERMINED,
    }
}
/// wire proc status -> API state
pub(crate) fn proc_status_to_state(s: u64) -> u8 {
    match s as u8 {
        pstatus::RUNNING | pstatus::SYSCALL => procstate::RUNNING,
        pstatus::IDLE | pstatus::SYSCALL_ABANDONED => procstate::IDLE,
        _ => procstate::UNDETERMINED,
    }
}

/// An event name computed only when an error message needs it.
#[derive(Clone, Copy)]
struct LazyName(Version, EventType);
impl std::fmt::Display for LazyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.event_name(self.1))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seq {
    gen: u64,
    seq: u64,
}
impl Seq {
    fn succeeds(self, b: Seq) -> bool {
        self.gen == b.gen && self.seq == b.seq.wrapping_add(1)
    }
}
impl std::fmt::Display for Seq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (gen={})", self.seq, self.gen)
    }
}

/// A range in flight on a resource: its Begin type and optional string id.
type RangeKey = (EventType, u64);

#[derive(Debug, Default)]
struct Ranges(Vec<RangeKey>);

impl Ranges {
    fn begin(&mut self, r: RangeKey) -> Result<()> {
        if self.0.contains(&r) {
            return Err(Error::new(format!(
                "discovered event already in-flight for when starting event {}",
                SPECS[r.0 as usize].name
            )));
        }
        self.0.push(r);
        Ok(())
    }
    fn active(&mut self, r: RangeKey, initial: bool) -> Result<()> {
        if initial {
            if self.0.contains(&r) {
                return Err(Error::new(format!(
                    "found named active range already in first gen: {{{} {}}}",
                    r.0, r.1
                )));
            }
            self.0.push(r);
        } else if !self.0.contains(&r) {
            return Err(Error::new(format!(
                "resource is missing active range: {} {:?}",
                SPECS[r.0 as usize].name, self.0
            )));
        }
        Ok(())
    }
    fn end(&mut self, typ: EventType) -> Result<u64> {
        let st = SPECS[typ as usize].start_ev;
        match self.0.iter().position(|r| r.0 == st) {
            Some(i) => Ok(self.0.swap_remove(i).1),
            None => Err(Error::new(format!(
                "tried to end event {}, but not in-flight",
                SPECS[st as usize].name
            ))),
        }
    }
}

fn range_key(typ: EventType, desc: u64) -> RangeKey {
    let st = SPECS[typ as usize].start_ev;
    (if st != ev::NONE { st } else { typ }, desc)
}

// A goroutine's state. What the hot loop reads (status, sequence) stays
// small, 32 bytes, so a table of many goroutines stays in cache; the rarely
// used rest is allocated on first use.
#[derive(Debug)]
struct GState {
    status: u8,
    seq: Seq,
    cold: Option<Box<GCold>>,
}

// User regions and ranges (GC mark assist, STW) in flight on a goroutine.
#[derive(Debug, Default)]
struct GCold {
    regions: Vec<(u64, Box<[u8]>)>,
    ranges: Ranges,
}

impl GState {
    fn new(status: u8, seq: Seq) -> GState {
        GState {
            status,
            seq,
            cold: None,
        }
    }

    fn cold(&mut self) -> &mut GCold {
        self.cold.get_or_insert_with(Box::default)
    }
}

#[derive(Debug)]
struct PState {
    status: u8,
    seq: Seq,
    ranges: Ranges,
}

#[derive(Debug, Clone, Copy)]
struct MState {
    g: i64,
    p: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ctx {
    pub g: i64,
    pub p: i64,
    pub m: i64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Not,
    May,
    Must,
}
use Need::*;

fn validate(c: Ctx, m: Need, p: Need, g: Need) -> Result<()> {
    if m == Must && c.m == NO_M {
        return Err(Error::new("expected a thread but didn't have one"));
    } else if m == Not && c.m != NO_M {
        return Err(Error::new("expected no thread but had one"));
    }
    if p == Must && c.p == NO_P {
        return Err(Error::new("expected a proc but didn't have one"));
    } else if p == Not && c.p != NO_P {
        return Err(Error::new("expected no proc but had one"));
    }
    if g == Must && c.g == NO_G {
        return Err(Error::new("expected a goroutine but didn't have one"));
    } else if g == Not && c.g != NO_G {
        return Err(Error::new("expected no goroutine but had one"));
    }
    Ok(())
}
fn user_go(c: Ctx) -> Result<()> {
    validate(c, Must, Must, Must)
}

const GC_UNDETERMINED: u8 = 0;
const GC_NOT_RUNNING: u8 = 1;
const GC_RUNNING: u8 = 2;

/// The event fields ordering reads and may rewrite.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Base {
    pub typ: EventType,
    /// Offset of the wire event in its batch (the decoder's bookkeeping).
    pub rel: u32,
    pub time: i64,
    pub args: [u64; 4],
}

impl Base {
    /// Index of the first "extra" slot (after the wire arguments).
    fn extra(&self) -> usize {
        SPECS[self.typ as usize].args.len() - 1
    }
}

/// Walks queued entries in order, expanding each run entry of
/// [`Ordering::run_fast`] into the events it stands for, exactly as taking
/// them one at a time would have queued them. (One loop with one place
/// that hands an event on, so a consumer's closure is inlined into it.)
pub(crate) struct Entries<'a> {
    entries: std::slice::Iter<'a, RawEvent>,
    // The rest of the current run; `out` is its last event handed out (or,
    // at its start, holds the time before it), `g_next` the goroutine
    // running after that event, `off` the run's batch offset.
    run: &'a [Base],
    out: RawEvent,
    g_next: i64,
    off: u64,
}

impl<'a> Entries<'a> {
    /// # Safety
    /// The chunks the run entries among `entries` point into are alive and
    /// unchanged for `'a` (the decoder keeps them until the batch has been
    /// consumed).
    pub unsafe fn new(entries: &'a [RawEvent]) -> Self {
        Entries {
            entries: entries.iter(),
            run: &[],
            out: RawEvent {
                typ: 0,
                time: 0,
                args: [0; 4],
                g: NO_G,
                p: NO_P,
                m: NO_M,
                offset: 0,
                flags: 0,
            },
            g_next: NO_G,
            off: 0,
        }
    }

    /// The next event.
    #[inline(always)]
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<&RawEvent> {
        loop {
            if let Some((e, rest)) = self.run.split_first() {
                self.run = rest;
                // Times forced up and goroutines tracked as `run_fast` did.
                let ts = self.out.time;
                self.out.time = if e.time <= ts {
                    ts.wrapping_add(1)
                } else {
                    e.time
                };
                self.out.g = self.g_next;
                self.g_next = match e.typ {
                    ev::GO_START => e.args[0] as i64,
                    ev::GO_UNBLOCK => self.g_next,
                    _ => NO_G,
                };
                self.out.typ = e.typ;
                self.out.args = e.args;
                self.out.offset = self.off + e.rel as u64;
                return Some(&self.out);
            }
            let r = self.entries.next()?;
            if r.typ != ev::RUN_SYNTH {
                return Some(r);
            }
            // SAFETY: the promise of `new`.
            self.run =
                unsafe { std::slice::from_raw_parts(r.args[0] as *const Base, r.args[1] as usize) };
            self.out.time = r.time;
            self.out.p = r.p;
            self.out.m = r.m;
            self.g_next = r.g;
            self.off = r.offset;
        }
    }
}

/// Scheduler state carried across generations.
#[derive(Debug)]
pub(crate) struct Ordering {
    ver: Version,
    gs: IdMap<GState>,
    ps: IdMap<PState>,
    ms: Vec<(i64, MState)>,
    m_idx: FastMap<i64, u32>,
    tasks: FastMap<u64, (Box<[u8]>, u64)>,
    gc_seq: u64,
    gc_state: u8,
    initial_gen: u64,
    /// Events taken, in order; the decoder drains it. With runs on (see
    /// [`Ordering::run_fast`]) an entry may stand for a run of events.
    pub queue: Vec<RawEvent>,
    /// Events in `queue` beyond its length (each run entry of n events
    /// counts n - 1 here).
    pub run_extra: usize,
    /// Trace offset of the event being advanced (stamped on what it queues).
    pub cur_off: u64,
    /// The current generation's task names carried over from earlier ones
    /// (for task ends), ids 1.. in order. Shared with events handed to
    /// another thread, so copied on write.
    pub extra_strings: ExtraStrings,
}

/// Task names a generation's task ends refer to (see [`Ordering::extra_strings`]).
pub(crate) type ExtraStrings = std::sync::Arc<Vec<Box<[u8]>>>;

/// Read access to the current generation's strings.
pub(crate) struct Strs<'a> {
    pub buf: &'a [u8],
    pub base: usize,
}

impl Ordering {
    pub fn new(ver: Version) -> Ordering {
        Ordering {
            ver,
            gs: IdMap::default(),
            ps: IdMap::default(),
            ms: Vec::new(),
            m_idx: FastMap::default(),
            tasks: FastMap::default(),
            gc_seq: 0,
            gc_state: GC_UNDETERMINED,
            initial_gen: 0,
            queue: Vec::new(),
            run_extra: 0,
            cur_off: 0,
            extra_strings: ExtraStrings::default(),
        }
    }

    /// A new generation starts: its task-end names start empty.
    pub fn new_generation(&mut self) {
        match std::sync::Arc::get_mut(&mut self.extra_strings) {
            Some(v) => v.clear(),
            None => self.extra_strings = ExtraStrings::default(),
        }
    }

    /// Adds a task name from an earlier generation for this one's task
    /// ends; returns its extra id (0 for "").
    fn add_extra_string(&mut self, s: &[u8]) -> u64 {
        if s.is_empty() {
            return 0;
        }
        if let Some(i) = self.extra_strings.iter().position(|x| &x[..] == s) {
            return i as u64 + 1;
        }
        let v = std::sync::Arc::make_mut(&mut self.extra_strings);
        v.push(s.into());
        v.len() as u64
    }

    /// Events queued (a run entry counts as its events).
    #[inline(always)]
    pub fn queued(&self) -> usize {
        self.queue.len() + self.run_extra
    }

    /// Number of goroutines the state machine currently knows.
    pub fn live_goroutines(&self) -> usize {
        self.gs.len()
    }

    fn name(&self, t: EventType) -> String {
        self.ver.event_name(t)
    }

    #[inline]
    fn push(&mut self, b: &Base, c: Ctx) {
        self.queue.push(RawEvent {
            typ: b.typ,
            time: b.time,
            args: b.args,
            g: c.g,
            p: c.p,
            m: c.m,
            offset: self.cur_off,
            flags: 0,
        });
    }

    fn push_made(&mut self, c: Ctx, typ: EventType, time: i64, args: &[u64]) {
        let mut a = [0u64; 4];
        a[..args.len()].copy_from_slice(args);
        self.push(
            &Base {
                typ,
                time,
                args: a,
                rel: 0,
            },
            c,
        );
    }

    fn string<'a>(gen: &Generation, s: &Strs<'a>, id: u64) -> Option<&'a [u8]> {
        if id == 0 {
            return Some(&[]);
        }
        gen.strings
            .get(id)
            .map(|sp| &s.buf[sp.off - s.base..sp.off - s.base + sp.len as usize])
    }

    fn m_get(&self, m: i64) -> Option<usize> {
        self.m_idx.get(&m).map(|&i| i as usize)
    }

    fn m_slot(&mut self, m: i64) -> usize {
        if let Some(i) = self.m_get(m) {
            return i;
        }
        self.ms.push((m, MState { g: NO_G, p: NO_P }));
        self.m_idx.insert(m, (self.ms.len() - 1) as u32);
        self.ms.len() - 1
    }

    /// The common goroutine transitions (start, block, stop, unblock) when
    /// they can be taken and are valid: updates the state, queues the event
    /// and returns true. Anything else (not ready yet, an error to report,
    /// an unknown thread, another event type) returns false with nothing
    /// changed, and `advance` then decides exactly as for any event.
    #[inline(always)]
    pub fn advance_fast(&mut self, e: &Base, gnum: u64, m: i64, slot: u32) -> bool {
        if slot == u32::MAX || self.initial_gen == 0 {
            return false;
        }
        let ms = self.ms[slot as usize].1;
        let cur = Ctx {
            g: ms.g,
            p: ms.p,
            m,
        };
        let new_g = match e.typ {
            ev::GO_START => {
                let gid = e.args[0] as i64;
                if cur.p == NO_P || cur.g != NO_G {
                    return false;
                }
                let seq = Seq {
                    gen: gnum,
                    seq: e.args[1],
                };
                match self.gs.get_mut(&gid) {
                    Some(st) if st.status == gstatus::RUNNABLE && seq.succeeds(st.seq) => {
                        st.status = gstatus::RUNNING;
                        st.seq = seq;
                    }
                    _ => return false,
                }
                gid
            }
            ev::GO_BLOCK | ev::GO_STOP => {
                if cur.p == NO_P || cur.g == NO_G {
                    return false;
                }
                match self.gs.get_mut(&cur.g) {
                    Some(st) if st.status == gstatus::RUNNING => {
                        st.status = if e.typ == ev::GO_STOP {
                            gstatus::RUNNABLE
                        } else {
                            gstatus::WAITING
                        };
                    }
                    _ => return false,
                }
                NO_G
            }
            ev::GO_UNBLOCK => {
                let gid = e.args[0] as i64;
                let seq = Seq {
                    gen: gnum,
                    seq: e.args[1],
                };
                match self.gs.get_mut(&gid) {
                    Some(st) if st.status == gstatus::WAITING && seq.succeeds(st.seq) => {
                        st.status = gstatus::RUNNABLE;
                        st.seq = seq;
                    }
                    _ => return false,
                }
                cur.g
            }
            _ => return false,
        };
        self.push(e, cur);
        self.ms[slot as usize].1.g = new_g;
        true
    }

    /// The hot loop of ordering: takes the events of one thread's decoded
    /// chunk, `evs[*pos..]`, while each is a common goroutine transition
    /// (start, block, stop, unblock) that [`advance_fast`] would take, its
    /// string and stack ids exist, no CPU sample (at `cpu_t`) comes first,
    /// and the thread stays the earliest (its next event is no later than
    /// `bound`, the earliest other thread's). Taken events are queued with
    /// their time forced past `*last_ts`; stops at `limit` queued events.
    ///
    /// Exactly what taking them one at a time through `advance_fast` does,
    /// but the thread's state stays in registers and nothing else is
    /// touched per event. Returns whether any event was taken; `*pos` is
    /// then the thread's next event (`evs.len()`: the chunk is used up).
    ///
    /// With `RUNS`, the taken events are not copied: one entry of type
    /// `ev::RUN_SYNTH` stands for them (see [`Entries`]), and the chunk
    /// they are in must stay untouched until the entry has been read.
    /// Copying 80 bytes per event into a buffer another core reads was
    /// about half of this loop's time.
    ///
    /// [`advance_fast`]: Self::advance_fast
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub fn run_fast<const RUNS: bool>(
        &mut self,
        evs: &[Base],
        pos: &mut usize,
        m: i64,
        slot: u32,
        batch_off: usize,
        gen: &Generation,
        bound: i64,
        cpu_t: i64,
        limit: usize,
        last_ts: &mut i64,
    ) -> bool {
        if slot == u32::MAX || self.initial_gen == 0 {
            return false;
        }
        let gnum = gen.num;
        let MState { mut g, p } = self.ms[slot as usize].1;
        let start = *pos;
        let mut i = start;
        let mut ts = *last_ts;
        let g0 = g;
        // Taking this many events fills the queue.
        // (At least one, as the loop always took the first event.)
        let stop = start + limit.saturating_sub(self.queued()).max(1);
        let end = evs.len().min(stop);
        if end <= i || cpu_t < evs[i].time {
            return false;
        }
        // The next event is taken only if no other thread's is earlier
        // (`bound`) and no CPU sample is: one test for both. (Stopping at
        // a later CPU sample here rather than at the top of the next turn
        // ends the run at the same event.)
        let next_bound = bound.min(cpu_t);
        while i < end {
            let e = &evs[i];
            let new_g = match e.typ {
                ev::GO_START => {
                    if p == NO_P || g != NO_G {
                        break;
                    }
                    let gid = e.args[0] as i64;
                    match self.gs.get_mut(&gid) {
                        Some(st)
                            if st.status == gstatus::RUNNABLE
                                && st.seq.gen == gnum
                                && e.args[1] == st.seq.seq.wrapping_add(1) =>
                        {
                            st.status = gstatus::RUNNING;
                            st.seq.seq = e.args[1];
                        }
                        _ => break,
                    }
                    gid
                }
                ev::GO_BLOCK | ev::GO_STOP => {
                    if !(gen.strings.contains(e.args[0]) & gen.stacks.contains(e.args[1])) {
                        break;
                    }
                    if p == NO_P || g == NO_G {
                        break;
                    }
                    match self.gs.get_mut(&g) {
                        Some(st) if st.status == gstatus::RUNNING => {
                            st.status = if e.typ == ev::GO_STOP {
                                gstatus::RUNNABLE
                            } else {
                                gstatus::WAITING
                            };
                        }
                        _ => break,
                    }
                    NO_G
                }
                ev::GO_UNBLOCK => {
                    if !gen.stacks.contains(e.args[2]) {
                        break;
                    }
                    let gid = e.args[0] as i64;
                    match self.gs.get_mut(&gid) {
                        Some(st)
                            if st.status == gstatus::WAITING
                                && st.seq.gen == gnum
                                && e.args[1] == st.seq.seq.wrapping_add(1) =>
                        {
                            st.status = gstatus::RUNNABLE;
                            st.seq.seq = e.args[1];
                        }
                        _ => break,
                    }
                    g
                }
                _ => break,
            };
            let time = if e.time <= ts {
                ts.wrapping_add(1)
            } else {
                e.time
            };
            ts = time;
            if !RUNS {
                self.queue.push(RawEvent {
                    typ: e.typ,
                    time,
                    args: e.args,
                    g,
                    p,
                    m,
                    offset: (batch_off + e.rel as usize) as u64,
                    flags: 0,
                });
            }
            g = new_g;
            i += 1;
            if i < end && evs[i].time > next_bound {
                break;
            }
        }
        if i == start {
            return false;
        }
        if RUNS {
            let n = i - start;
            self.queue.push(RawEvent {
                typ: ev::RUN_SYNTH,
                time: *last_ts,
                args: [evs[start..].as_ptr() as u64, n as u64, 0, 0],
                g: g0,
                p,
                m,
                offset: batch_off as u64,
                flags: 0,
            });
            self.run_extra += n - 1;
        }
        *pos = i;
        *last_ts = ts;
        self.ms[slot as usize].1.g = g;
        true
    }

    /// Tries to take `e`, the next event of thread `m`. Ok(false): not yet.
    /// `slot` caches where thread `m`'s state lives (u32::MAX: unknown yet).
    pub fn advance(
        &mut self,
        e: &mut Base,
        gen: &Generation,
        s: &Strs<'_>,
        m: i64,
        slot: &mut u32,
    ) -> Result<bool> {
        let gnum = gen.num;
        if self.initial_gen == 0 {
            self.initial_gen = gnum;
        }
        let mut cur = Ctx {
            g: NO_G,
            p: NO_P,
            m,
        };
        if m != NO_M {
            if *slot == u32::MAX {
                *slot = self.m_slot(m) as u32;
            }
            let ms = self.ms[*slot as usize].1;
            cur.p = ms.p;
            cur.g = ms.g;
        }
        let r = self.dispatch(e, gen, s, m, gnum, cur)?;
        if let Some(new) = r {
            if m != NO_M {
                let ms = &mut self.ms[*slot as usize].1;
                ms.p = new.p;
                ms.g = new.g;
            }
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn dispatch(
        &mut self,
        e: &mut Base,
        gen: &Generation,
        s: &Strs<'_>,
        m: i64,
        gnum: u64,
        cur: Ctx,
    ) -> Result<Option<Ctx>> {
        use ev::*;
        match e.typ {
            PROCS_CHANGE | GO_LABEL | USER_LOG => {
                user_go(cur)?;
                self.push(e, cur);
                Ok(Some(cur))
            }
            PROC_START => self.proc_start(e, gnum, cur),
            PROC_STOP => self.proc_stop(e, cur),
            PROC_STEAL => self.proc_steal(e, gnum, cur),
            PROC_STATUS => self.proc_status(e, gnum, cur),
            GO_CREATE | GO_CREATE_BLOCKED => self.go_create(e, gnum, cur),
            GO_CREATE_SYSCALL => self.go_create_syscall(e, gnum, cur),
            GO_START => self.go_start(e, gnum, cur),
            GO_DESTROY | GO_STOP | GO_BLOCK => self.go_stop_exec(e, cur),
            GO_DESTROY_SYSCALL => self.go_destroy_syscall(e, cur),
            GO_UNBLOCK => self.go_unblock(e, gnum, cur),
            GO_SYSCALL_BEGIN => self.syscall_begin(e, gnum, cur),
            GO_SYSCALL_END => self.syscall_end(e, cur),
            GO_SYSCALL_END_BLOCKED => self.syscall_end_blocked(e, cur),
            GO_STATUS | GO_STATUS_STACK => self.go_status(e, gnum, cur),
            STW_BEGIN | GC_MARK_ASSIST_BEGIN => self.go_range_begin(e, cur),
            STW_END | GC_MARK_ASSIST_END => self.go_range_end(e, cur),
            GC_MARK_ASSIST_ACTIVE => self.go_range_active(e, gnum, cur),
            GC_ACTIVE => self.gc_active(e, gnum, cur),
            GC_BEGIN => self.gc_begin(e, cur),
            GC_END => self.gc_end(e, cur),
            GC_SWEEP_ACTIVE => {
                let pid = e.args[0] as i64;
                let initial = gnum == self.initial_gen;
                let Some(ps) = self.ps.get_mut(&pid) else {
                    return Err(Error::new(format!(
                        "encountered GCSweepActive for unknown proc {pid}"
                    )));
                };
                ps.ranges.active(range_key(e.typ, 0), initial)?;
                self.push(e, cur);
                Ok(Some(cur))
            }
            GC_SWEEP_BEGIN => {
                validate(cur, Must, Must, May)?;
                // A P in the context always has a state (it was bound by a status or start).
                if let Some(ps) = self.ps.get_mut(&cur.p) {
                    ps.ranges.begin(range_key(e.typ, 0))?;
                } else {
                    return Err(Error::new(format!("uninitialized proc {}", cur.p)));
                }
                self.push(e, cur);
                Ok(Some(cur))
            }
            GC_SWEEP_END => {
                validate(cur, Must, Must, May)?;
                if let Some(ps) = self.ps.get_mut(&cur.p) {
                    ps.ranges.end(e.typ)?;
                } else {
                    return Err(Error::new(format!("uninitialized proc {}", cur.p)));
                }
                self.push(e, cur);
                Ok(Some(cur))
            }
            HEAP_ALLOC | HEAP_GOAL => {
                validate(cur, Must, Must, May)?;
                self.push(e, cur);
                Ok(Some(cur))
            }
            USER_TASK_BEGIN => self.task_begin(e, gen, s, cur),
            USER_TASK_END => self.task_end(e, cur),
            USER_REGION_BEGIN | USER_REGION_END => self.region(e, gen, s, cur),
            GO_SWITCH | GO_SWITCH_DESTROY => self.go_switch(e, gnum, cur),
            SPAN..=GOROUTINE_STACK_FREE => {
                validate(cur, Must, May, May)?;
                self.push(e, cur);
                Ok(Some(cur))
            }
            t => {
                let _ = m;
                Err(Error::new(format!(
                    "bad event type found while ordering: {t}"
                )))
            }
        }
    }

    fn proc_status(&mut self, e: &mut Base, gnum: u64, mut cur: Ctx) -> Result<Option<Ctx>> {
        let pid = e.args[0] as i64;
        let status = e.args[1];
        if status > pstatus::SYSCALL_ABANDONED as u64 {
            return Err(Error::new(format!(
                "invalid status for proc {pid}: {status}"
            )));
        }
        let status = status as u8;
        let mut old = proc_status_to_state(status as u64);
        if let Some(st) = self.ps.get_mut(&pid) {
            if status == pstatus::SYSCALL_ABANDONED && st.status == pstatus::SYSCALL {
                old = procstate::RUNNING;
                e.args[1] = pstatus::SYSCALL as u64;
            } else if status == pstatus::SYSCALL_ABANDONED
                && st.status == pstatus::SYSCALL_ABANDONED
            {
                old = procstate::IDLE;
                e.args[1] = pstatus::SYSCALL_ABANDONED as u64;
            } else if st.status != status {
                return Err(Error::new(format!(
                    "inconsistent status for proc {pid}: old {} vs. new {}",
                    pstatus::name(st.status),
                    pstatus::name(status)
                )));
            }
            st.seq = Seq { gen: gnum, seq: 0 };
        } else {
            self.ps.insert(
                pid,
                PState {
                    status,
                    seq: Seq { gen: gnum, seq: 0 },
                    ranges: Ranges::default(),
                },
            );
            old = if gnum == self.initial_gen {
                procstate::UNDETERMINED
            } else {
                procstate::NOT_EXIST
            };
        }
        let x = e.extra();
        e.args[x] = old as u64;
        let mut new = cur;
        if status == pstatus::RUNNING || status == pstatus::SYSCALL {
            new.p = pid;
        }
        if status == pstatus::SYSCALL_ABANDONED && old == procstate::RUNNING {
            let mut found = false;
            for &(mid, ref ms) in self.ms.iter() {
                if ms.p == pid {
                    cur = Ctx {
                        m: mid,
                        p: pid,
                        g: ms.g,
                    };
                    found = true;
                }
            }
            if !found {
                return Err(Error::new(format!(
                    "failed to find sched context for proc {pid} that's about to be stolen"
                )));
            }
        }
        self.push(e, cur);
        Ok(Some(new))
    }

    fn proc_start(&mut self, e: &mut Base, gnum: u64, cur: Ctx) -> Result<Option<Ctx>> {
        let pid = e.args[0] as i64;
        let seq = Seq {
            gen: gnum,
            seq: e.args[1],
        };
        match self.ps.get_mut(&pid) {
            Some(st) if st.status == pstatus::IDLE && seq.succeeds(st.seq) && cur.p == NO_P => {
                validate(cur, Must, Not, May)?;
                st.status = pstatus::RUNNING;
                st.seq = seq;
            }
            _ => return Ok(None),
        }
        self.push(e, cur);
        Ok(Some(Ctx { p: pid, ..cur }))
    }

    fn proc_stop(&mut self, e: &mut Base, cur: Ctx) -> Result<Option<Ctx>> {
        let name = LazyName(self.ver, e.typ);
        let Some(st) = self.ps.get_mut(&cur.p) else {
            return Err(Error::new(format!(
                "event {name} for proc ({}) that doesn't exist",
                cur.p
            )));
        };
        if st.status != pstatus::RUNNING && st.status != pstatus::SYSCALL {
            return Err(Error::new(format!(
                "{name} event for proc that's not Running or Syscall"
            )));
        }
        validate(cur, Must, Must, May)?;
        st.status = pstatus::IDLE;
        self.push(e, cur);
        Ok(Some(Ctx { p: NO_P, ..cur }))
    }

    fn proc_steal(&mut self, e: &mut Base, gnum: u64, cur: Ctx) -> Result<Option<Ctx>> {
        let pid = e.args[0] as i64;
        let seq = Seq {
            gen: gnum,
            seq: e.args[1],
        };
        let old = match self.ps.get(&pid) {
            Some(st)
                if (st.status == pstatus::SYSCALL || st.status == pstatus::SYSCALL_ABANDONED)
                    && seq.succeeds(st.seq) =>
            {
                st.status
            }
            _ => return Ok(None),
        };
        validate(cur, Must, May, May)?;
        let x = e.extra();
        e.args[x] = old as u64;
        {
            let st = self.ps.get_mut(&pid).expect("checked above");
            st.status = pstatus::IDLE;
            st.seq = seq;
        }
        if old == pstatus::SYSCALL_ABANDONED {
            self.push(e, cur);
            return Ok(Some(cur));
        }
        let mid = e.args[2] as i64;
        if mid == cur.m {
            if cur.p != pid {
                return Err(Error::new(format!(
                    "tried to self-steal proc {pid} (thread {mid}), but got proc {} instead",
                    cur.p
                )));
            }
            self.push(e, cur);
            return Ok(Some(Ctx { p: NO_P, ..cur }));
        }
        let Some(ms) = self.m_get(mid).map(|i| &mut self.ms[i].1) else {
            return Err(Error::new(format!(
                "stole proc from non-existent thread {mid}"
            )));
        };
        if ms.p != pid {
            return Err(Error::new(format!(
                "tried to steal proc {pid} from thread {mid}, but got proc {} instead",
                ms.p
            )));
        }
        ms.p = NO_P;
        self.push(e, cur);
        Ok(Some(cur))
    }

    fn go_status(&mut self, e: &mut Base, gnum: u64, mut cur: Ctx) -> Result<Option<Ctx>> {
        let gid = e.args[0] as i64;
        let mid = e.args[1] as i64;
        let status = e.args[2];
        if status > gstatus::WAITING as u64 {
            return Err(Error::new(format!(
                "invalid status for goroutine {gid}: {status}"
            )));
        }
        let status = status as u8;
        let mut old = go_status_to_state(status as u64);
        if let Some(st) = self.gs.get_mut(&gid) {
            if st.status != status {
                return Err(Error::new(format!(
                    "inconsistent status for goroutine {gid}: old {} vs. new {}",
                    gstatus::name(st.status),
                    gstatus::name(status)
                )));
            }
            st.seq = Seq { gen: gnum, seq: 0 };
        } else if gnum == self.initial_gen {
            self.gs
                .insert(gid, GState::new(status, Seq { gen: gnum, seq: 0 }));
            old = gostate::UNDETERMINED;
        } else {
            return Err(Error::new(format!(
                "found goroutine status for new goroutine after the first generation: id={gid} status={}",
                gstatus::name(status)
            )));
        }
        e.args[2] = (old as u64) << 32 | status as u64;
        let mut new = cur;
        if status == gstatus::RUNNING {
            new.g = gid;
        } else if status == gstatus::SYSCALL {
            if mid == NO_M {
                return Err(Error::new(format!(
                    "found goroutine {gid} in syscall without a thread"
                )));
            }
            if mid == cur.m {
                if gnum != self.initial_gen && cur.g != gid {
                    return Err(Error::new(format!(
                        "inconsistent thread for syscalling goroutine {gid}: thread has goroutine {}",
                        cur.g
                    )));
                }
                new.g = gid;
            } else {
                if let Some(ms) = self.m_get(mid).map(|i| self.ms[i].1) {
                    if ms.g != gid {
                        return Err(Error::new(format!(
                            "inconsistent thread for syscalling goroutine {gid}: thread has goroutine {}",
                            ms.g
                        )));
                    }
                    cur.g = ms.g;
                } else {
                    let i = self.m_slot(mid);
                    self.ms[i].1 = MState { g: gid, p: NO_P };
                }
                cur.m = mid;
            }
        }
        self.push(e, cur);
        Ok(Some(new))
    }

    fn go_create(&mut self, e: &mut Base, gnum: u64, cur: Ctx) -> Result<Option<Ctx>> {
        validate(cur, Must, Must, May)?;
        if let Some(st) = self.gs.get(&cur.g) {
            if st.status != gstatus::RUNNING {
                return Err(Error::new(format!(
                    "{} event for goroutine that's not Running",
                    self.name(e.typ)
                )));
            }
        }
        let newg = e.args[0] as i64;
        if self.gs.contains_key(&newg) {
            return Err(Error::new(format!(
                "tried to create goroutine ({newg}) that already exists"
            )));
        }
        let status = if e.typ == ev::GO_CREATE_BLOCKED {
            gstatus::WAITING
        } else {
            gstatus::RUNNABLE
        };
        self.gs
            .insert(newg, GState::new(status, Seq { gen: gnum, seq: 0 }));
        self.push(e, cur);
        Ok(Some(cur))
    }

    fn running_g(&mut self, e: &Base, cur: Ctx, want: u8) -> Result<&mut GState> {
        let ver = self.ver;
        let Some(st) = self.gs.get_mut(&cur.g) else {
            return Err(Error::new(format!(
                "event {} for goroutine ({}) that doesn't exist",
                ver.event_name(e.typ),
                cur.g
            )));
        };
        if st.status != want {
            return Err(Error::new(format!(
                "{} event for goroutine that's not Running",
                ver.event_name(e.typ)
            )));
        }
        Ok(st)
    }

    fn go_stop_exec(&mut self, e: &mut Base, cur: Ctx) -> Result<Option<Ctx>> {
        user_go(cur)?;
        let st = self.running_g(e, cur, gstatus::RUNNING)?;
        match e.typ {
            ev::GO_STOP => st.status = gstatus::RUNNABLE,
            ev::GO_BLOCK => st.status = gstatus::WAITING,
            _ => {
                self.gs.remove(&cur.g);
            }
        }
        self.push(e, cur);
        Ok(Some(Ctx { g: NO_G, ..cur }))
    }

    fn go_start(&mut self, e: &mut Base, gnum: u64, cur: Ctx) -> Result<Option<Ctx>> {
        let gid = e.args[0] as i64;
        let seq = Seq {
            gen: gnum,
            seq: e.args[1],
        };
        match self.gs.get_mut(&gid) {
            Some(st) if st.status == gstatus::RUNNABLE && seq.succeeds(st.seq) => {
                validate(cur, Must, Must, Not)?;
                st.status = gstatus::RUNNING;
                st.seq = seq;
            }
            _ => return Ok(None),
        }
        self.push(e, cur);
        Ok(Some(Ctx { g: gid, ..cur }))
    }

    fn go_unblock(&mut self, e: &mut Base, gnum: u64, cur: Ctx) -> Result<Option<Ctx>> {
        let gid = e.args[0] as i64;
        let seq = Seq {
            gen: gnum,
            seq: e.args[1],
        };
        match self.gs.get_mut(&gid) {
            Some(st) if st.status == gstatus::WAITING && seq.succeeds(st.seq) => {
                st.status = gstatus::RUNNABLE;
                st.seq = seq;
            }
            _ => return Ok(None),
        }
        self.push(e, cur);
        Ok(Some(cur))
    }

    fn go_switch(&mut self, e: &mut Base, gnum: u64, cur: Ctx) -> Result<Option<Ctx>> {
        user_go(cur)?;
        self.running_g(e, cur, gstatus::RUNNING)?;
        let next = e.args[0] as i64;
        let seq = Seq {
            gen: gnum,
            seq: e.args[1],
        };
        match self.gs.get(&next) {
            Some(st) if st.status == gstatus::WAITING && seq.succeeds(st.seq) => {}
            _ => return Ok(None),
        }
        self.push(e, cur);
        if e.typ == ev::GO_SWITCH {
            self.gs.get_mut(&cur.g).expect("checked").status = gstatus::WAITING;
            self.push_made(cur, ev::GO_BLOCK, e.time, &[0, 0]);
        } else {
            self.gs.remove(&cur.g);
            self.push_made(cur, ev::GO_DESTROY, e.time, &[]);
        }
        let st = self.gs.get_mut(&next).expect("checked");
        st.status = gstatus::RUNNING;
        st.seq = seq;
        self.push_made(
            Ctx { g: NO_G, ..cur },
            ev::GO_START,
            e.time,
            &[next as u64, e.args[1]],
        );
        Ok(Some(Ctx { g: next, ..cur }))
    }

    fn syscall_begin(&mut self, e: &mut Base, gnum: u64, cur: Ctx) -> Result<Option<Ctx>> {
        user_go(cur)?;
        let st = self.running_g(e, cur, gstatus::RUNNING)?;
        st.status = gstatus::SYSCALL;
        let name = LazyName(self.ver, e.typ);
        let Some(ps) = self.ps.get_mut(&cur.p) else {
            return Err(Error::new(format!(
                "uninitialized proc {} found during {name}",
                cur.p
            )));
        };
        ps.status = pstatus::SYSCALL;
        let pseq = Seq {
            gen: gnum,
            seq: e.args[0],
        };
        if !pseq.succeeds(ps.seq) {
            return Err(Error::new(format!(
                "failed to advance {name}: can't make sequence: {} -> {pseq}",
                ps.seq
            )));
        }
        ps.seq = pseq;
        self.push(e, cur);
        Ok(Some(cur))
    }

    fn syscall_end(&mut self, e: &mut Base, cur: Ctx) -> Result<Option<Ctx>> {
        user_go(cur)?;
        let st = self.running_g(e, cur, gstatus::SYSCALL)?;
        st.status = gstatus::RUNNING;
        let name = LazyName(self.ver, e.typ);
        let Some(ps) = self.ps.get_mut(&cur.p) else {
            return Err(Error::new(format!(
                "uninitialized proc {} found during {name}",
                cur.p
            )));
        };
        if ps.status != pstatus::SYSCALL {
            return Err(Error::new(format!(
                "expected proc {} in state Syscall, but got {} instead",
                cur.p,
                pstatus::name(ps.status)
            )));
        }
        ps.status = pstatus::RUNNING;
        self.push(e, cur);
        Ok(Some(cur))
    }

    fn syscall_end_blocked(&mut self, e: &mut Base, cur: Ctx) -> Result<Option<Ctx>> {
        if cur.p != NO_P {
            let Some(ps) = self.ps.get(&cur.p) else {
                return Err(Error::new(format!(
                    "uninitialized proc {} found during {}",
                    cur.p,
                    self.name(e.typ)
                )));
            };
            if ps.status == pstatus::SYSCALL {
                return Ok(None);
            }
        }
        validate(cur, Must, May, Must)?;
        let st = self.running_g(e, cur, gstatus::SYSCALL)?;
        st.status = gstatus::RUNNABLE;
        self.push(e, cur);
        Ok(Some(Ctx { g: NO_G, ..cur }))
    }

    fn go_create_syscall(&mut self, e: &mut Base, gnum: u64, cur: Ctx) -> Result<Option<Ctx>> {
        validate(cur, Must, May, Not)?;
        let newg = e.args[0] as i64;
        if self.gs.contains_key(&newg) {
            return Err(Error::new(format!(
                "tried to create goroutine ({newg}) in syscall that already exists"
            )));
        }
        self.gs.insert(
            newg,
            GState::new(gstatus::SYSCALL, Seq { gen: gnum, seq: 0 }),
        );
        self.push(e, cur);
        Ok(Some(Ctx { g: newg, ..cur }))
    }

    fn go_destroy_syscall(&mut self, e: &mut Base, cur: Ctx) -> Result<Option<Ctx>> {
        validate(cur, Must, May, Must)?;
        let name = LazyName(self.ver, e.typ);
        match self.gs.get(&cur.g) {
            None => {
                return Err(Error::new(format!(
                    "event {name} for goroutine ({}) that doesn't exist",
                    cur.g
                )))
            }
            Some(st) if st.status != gstatus::SYSCALL => {
                return Err(Error::new(format!(
                    "{name} event for goroutine that's not Syscall"
                )))
            }
            _ => {}
        }
        self.gs.remove(&cur.g);
        let mut new = Ctx { g: NO_G, ..cur };
        if cur.p != NO_P {
            let Some(ps) = self.ps.get_mut(&cur.p) else {
                return Err(Error::new(format!(
                    "found invalid proc {} during {name}",
                    cur.p
                )));
            };
            if ps.status != pstatus::SYSCALL {
                return Err(Error::new(format!(
                    "proc {} in unexpected state {} during {name}",
                    cur.p,
                    pstatus::name(ps.status)
                )));
            }
            ps.status = pstatus::SYSCALL_ABANDONED;
            new.p = NO_P;
            // A self-steal so the proc is seen leaving this thread.
            let mut a = [cur.p as u64, 0, 0, 0];
            a[3] = pstatus::SYSCALL as u64;
            self.push(
                &Base {
                    typ: ev::PROC_STEAL,
                    time: e.time,
                    args: a,
                    rel: 0,
                },
                cur,
            );
        }
        self.push(e, cur);
        Ok(Some(new))
    }

    fn task_begin(
        &mut self,
        e: &mut Base,
        gen: &Generation,
        s: &Strs<'_>,
        cur: Ctx,
    ) -> Result<Option<Ctx>> {
        let id = e.args[0];
        if self.tasks.contains_key(&id) {
            return Err(Error::new(format!("task ID conflict: {id}")));
        }
        let mut parent = e.args[1];
        if parent == 0 {
            parent = NO_TASK;
            e.args[1] = NO_TASK;
        }
        let name_id = e.args[2];
        let Some(name) = Self::string(gen, s, name_id) else {
            return Err(Error::new(format!(
                "invalid string ID {name_id} for {} event",
                e.typ
            )));
        };
        self.tasks.insert(id, (name.into(), parent));
        user_go(cur)?;
        self.push(e, cur);
        Ok(Some(cur))
    }

    fn task_end(&mut self, e: &mut Base, cur: Ctx) -> Result<Option<Ctx>> {
        let id = e.args[0];
        let x = e.extra();
        if let Some((name, parent)) = self.tasks.remove(&id) {
            e.args[x] = parent;
            e.args[x + 1] = self.add_extra_string(&name);
        } else {
            e.args[x] = NO_TASK;
            e.args[x + 1] = 0;
        }
        user_go(cur)?;
        self.push(e, cur);
        Ok(Some(cur))
    }

    fn region(
        &mut self,
        e: &mut Base,
        gen: &Generation,
        s: &Strs<'_>,
        cur: Ctx,
    ) -> Result<Option<Ctx>> {
        user_go(cur)?;
        let tid = e.args[0];
        let name_id = e.args[1];
        let Some(name) = Self::string(gen, s, name_id) else {
            return Err(Error::new(format!(
                "invalid string ID {name_id} for {} event",
                e.typ
            )));
        };
        let begin = e.typ == ev::USER_REGION_BEGIN;
        let Some(st) = self.gs.get_mut(&cur.g) else {
            return Err(Error::new(format!(
                "encountered {} without known state for current goroutine {}",
                if begin {
                    "EvUserRegionBegin"
                } else {
                    "EvUserRegionEnd"
                },
                cur.g
            )));
        };
        let regions = &mut st.cold().regions;
        if begin {
            regions.push((tid, name.into()));
        } else if let Some(last) = regions.last() {
            if last.0 != tid || &last.1[..] != name {
                return Err(Error::new(format!(
                    "misuse of region in goroutine {}: region end {{{} {}}} when the inner-most active region start event is {{{} {}}}",
                    cur.g,
                    tid,
                    String::from_utf8_lossy(name),
                    last.0,
                    String::from_utf8_lossy(&last.1)
                )));
            }
            regions.pop();
        }
        self.push(e, cur);
        Ok(Some(cur))
    }

    fn gc_active(&mut self, e: &mut Base, gnum: u64, cur: Ctx) -> Result<Option<Ctx>> {
        let seq = e.args[0];
        if gnum == self.initial_gen {
            if self.gc_state != GC_UNDETERMINED {
                return Err(Error::new(
                    "GCActive in the first generation isn't first GC event",
                ));
            }
            self.gc_seq = seq;
            self.gc_state = GC_RUNNING;
            self.push(e, cur);
            return Ok(Some(cur));
        }
        if seq != self.gc_seq.wrapping_add(1) {
            return Ok(None);
        }
        if self.gc_state != GC_RUNNING {
            return Err(Error::new(
                "encountered GCActive while GC was not in progress",
            ));
        }
        self.gc_seq = seq;
        user_go(cur)?;
        self.push(e, cur);
        Ok(Some(cur))
    }

    fn gc_begin(&mut self, e: &mut Base, cur: Ctx) -> Result<Option<Ctx>> {
        let seq = e.args[0];
        if self.gc_state == GC_UNDETERMINED {
            self.gc_seq = seq;
            self.gc_state = GC_RUNNING;
            self.push(e, cur);
            return Ok(Some(cur));
        }
        if seq != self.gc_seq.wrapping_add(1) {
            return Ok(None);
        }
        if self.gc_state == GC_RUNNING {
            return Err(Error::new(
                "encountered GCBegin while GC was already in progress",
            ));
        }
        self.gc_seq = seq;
        self.gc_state = GC_RUNNING;
        user_go(cur)?;
        self.push(e, cur);
        Ok(Some(cur))
    }

    fn gc_end(&mut self, e: &mut Base, cur: Ctx) -> Result<Option<Ctx>> {
        let seq = e.args[0];
        if seq != self.gc_seq.wrapping_add(1) {
            return Ok(None);
        }
        if self.gc_state == GC_NOT_RUNNING {
            return Err(Error::new("encountered GCEnd when GC was not in progress"));
        }
        if self.gc_state == GC_UNDETERMINED {
            return Err(Error::new(
                "encountered GCEnd when GC was in an undetermined state",
            ));
        }
        self.gc_seq = seq;
        self.gc_state = GC_NOT_RUNNING;
        user_go(cur)?;
        self.push(e, cur);
        Ok(Some(cur))
    }

    fn go_range_begin(&mut self, e: &mut Base, cur: Ctx) -> Result<Option<Ctx>> {
        user_go(cur)?;
        let desc = if e.typ == ev::STW_BEGIN { e.args[0] } else { 0 };
        let Some(st) = self.gs.get_mut(&cur.g) else {
            return Err(Error::new(format!(
                "encountered event of type {} without known state for current goroutine {}",
                e.typ, cur.g
            )));
        };
        st.cold().ranges.begin(range_key(e.typ, desc))?;
        self.push(e, cur);
        Ok(Some(cur))
    }

    fn go_range_active(&mut self, e: &mut Base, gnum: u64, cur: Ctx) -> Result<Option<Ctx>> {
        let gid = e.args[0] as i64;
        let initial = gnum == self.initial_gen;
        let name = LazyName(self.ver, e.typ);
        let Some(st) = self.gs.get_mut(&gid) else {
            return Err(Error::new(format!(
                "uninitialized goroutine {gid} found during {name}"
            )));
        };
        st.cold().ranges.active(range_key(e.typ, 0), initial)?;
        self.push(e, cur);
        Ok(Some(cur))
    }

    fn go_range_end(&mut self, e: &mut Base, cur: Ctx) -> Result<Option<Ctx>> {
        user_go(cur)?;
        let Some(st) = self.gs.get_mut(&cur.g) else {
            return Err(Error::new(format!(
                "encountered event of type {} without known state for current goroutine {}",
                e.typ, cur.g
            )));
        };
        let desc = st.cold().ranges.end(e.typ)?;
        if e.typ == ev::STW_END {
            e.args[0] = desc;
        }
        self.push(e, cur);
        Ok(Some(cur))
    }

    /// Scheduler state, for "broken trace" messages.
    pub fn dump(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let mut gs: Vec<_> = self.gs.iter().collect();
        gs.sort_by_key(|x| x.0);
        for (id, st) in gs {
            let _ = writeln!(
                s,
                "G {id} [status={} seq={}]",
                gstatus::name(st.status),
                st.seq
            );
        }
        s.push('\n');
        let mut ps: Vec<_> = self.ps.iter().collect();
        ps.sort_by_key(|x| x.0);
        for (id, st) in ps {
            let _ = writeln!(
                s,
                "P {id} [status={} seq={}]",
                pstatus::name(st.status),
                st.seq
            );
        }
        s.push('\n');
        let mut ms: Vec<_> = self.ms.iter().map(|(k, v)| (*k, v)).collect();
        ms.sort_by_key(|x| x.0);
        for (id, st) in ms {
            let _ = writeln!(s, "M {id} [g={} p={}]", st.g, st.p);
        }
        s.push('\n');
        let gc = match self.gc_state {
            GC_UNDETERMINED => "Undetermined",
            GC_NOT_RUNNING => "NotRunning",
            _ => "Running",
        };
        let _ = writeln!(s, "GC {} {gc}", self.gc_seq);
        s
    }
}
