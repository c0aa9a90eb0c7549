//! The model and its ingest path: one call per trace event, no strings and
//! no allocation on the hot path except amortised growth of the per
//! goroutine span rings.
use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use weft_trace::{spec::ev, EventKind, EventRef, GoState, ProcState};

use crate::chunked::{ChunkDeque, ChunkPool};
use crate::digest::{digest, Op, What, WireGen};
use crate::hist::Histogram;
use crate::intern::{is_runtime_func, is_system_entry, FrameId, IdMap, Interner, StackId, StrId};
use crate::table::GoTable;

/// How much detail the model keeps. Aggregates (group counters, wake flows,
/// histograms, blocked time per site) are kept for the whole run; per-span
/// detail only inside the window and under the caps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// Full detail (spans, wakes, ranges) is kept for this long behind the newest event.
    pub window_ns: i64,
    /// Cap on state spans held over all goroutines (16 bytes each); when
    /// exceeded the oldest whole seconds are evicted first.
    pub max_spans: usize,
    /// Cap on spans per goroutine (oldest dropped first).
    pub max_spans_per_goroutine: usize,
    /// Cap on individual wake records held (24 bytes each).
    pub max_wakes: usize,
    /// Cap on GC, STW and region records held.
    pub max_ranges: usize,
    /// Width of one point of the per-group state series at start; doubles
    /// whenever the series reaches `max_series_points`.
    pub series_bucket_ns: i64,
    /// Points per group series before it is thinned.
    pub max_series_points: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            window_ns: 60_000_000_000,
            max_spans: 6 << 20,
            max_spans_per_goroutine: 16 << 10,
            max_wakes: 2 << 20,
            max_ranges: 1 << 16,
            series_bucket_ns: 100_000_000,
            max_series_points: 1024,
        }
    }
}

/// A goroutine's scheduling state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum GState {
    Runnable = 0,
    Running = 1,
    Waiting = 2,
    Syscall = 3,
    Dead = 4,
}

impl GState {
    #[inline(always)]
    fn from_go(s: GoState) -> GState {
        // By table: a match compiled to a chain of compares on every event.
        const BY_GO: [GState; 6] = {
            let mut t = [GState::Dead; 6];
            t[GoState::Runnable as usize] = GState::Runnable;
            t[GoState::Running as usize] = GState::Running;
            t[GoState::Waiting as usize] = GState::Waiting;
            t[GoState::Syscall as usize] = GState::Syscall;
            t
        };
        BY_GO[s as usize]
    }
    pub(crate) fn from_u8(v: u8) -> GState {
        match v {
            0 => GState::Runnable,
            1 => GState::Running,
            2 => GState::Waiting,
            3 => GState::Syscall,
            _ => GState::Dead,
        }
    }
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            GState::Runnable => "runnable",
            GState::Running => "running",
            GState::Waiting => "waiting",
            GState::Syscall => "syscall",
            GState::Dead => "dead",
        }
    }
}

/// Who performed a wake-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WakerKind {
    /// A goroutine of the program (channel send, unlock, wg.Done, ...).
    Goroutine,
    /// A runtime goroutine (GC worker, tracer, ...).
    Runtime,
    /// No goroutine: the netpoller, a timer, sysmon.
    NoGoroutine,
}

/// One state span of a goroutine, 16 bytes. A goroutine's spans are
/// contiguous (each state begins where the one before it ended), so a span
/// holds its start only: it ends where the next one starts, and the newest
/// ends at the goroutine's `since_ns` (see [`span_ends`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub start: i64,
    pub stack: StackId,
    // tag << 3 | state; the tag is the wait's or stop's reason, and for a
    // running span the P it ran on plus one (0: not known). A running
    // goroutine has no reason, and the P lanes are read from these spans.
    pub packed: u32,
}

impl Span {
    pub fn state(&self) -> GState {
        GState::from_u8((self.packed & 7) as u8)
    }
    pub fn reason(&self) -> StrId {
        if self.state() == GState::Running {
            0
        } else {
            self.packed >> 3
        }
    }
    /// The P a running span ran on.
    pub fn proc(&self) -> Option<i64> {
        (self.state() == GState::Running && self.packed >> 3 != 0)
            .then(|| (self.packed >> 3) as i64 - 1)
    }
}

/// Highest P id the model records a run on, plus one (Ps are numbered
/// 0..GOMAXPROCS): the P lanes have a row per P up to the highest seen.
pub(crate) const MAX_PROC_ID: i64 = 4096;

/// A running goroutine's P as a goroutine holds it: -1 when the event has
/// none or one out of range.
#[inline(always)]
pub(crate) fn proc_slot(p: i64) -> i32 {
    if (0..MAX_PROC_ID).contains(&p) {
        p as i32
    } else {
        -1
    }
}

/// One wake-up, 24 bytes (the model holds millions): the time shares a
/// word with the waker's kind, and the two goroutine ids are 48 bits each
/// (Go numbers goroutines from 1 up; 2^48 of them would take centuries).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wake {
    // time << 2 | kind (0 goroutine, 1 runtime, 2 no goroutine)
    time_kind: i64,
    // waker + 1 (0: none) in the low 48 bits, wakee in the high 48.
    ids: [u32; 3],
    /// Nanoseconds the wakee had been blocked (u32::MAX = more than 4 s or unknown).
    pub blocked_ns: u32,
}

const ID_BITS: u32 = 48;
const ID_MASK: u64 = (1 << ID_BITS) - 1;

impl Wake {
    pub fn new(time: i64, waker: i64, wakee: i64, blocked_ns: u32, kind: WakerKind) -> Wake {
        let k = match kind {
            WakerKind::Goroutine => 0,
            WakerKind::Runtime => 1,
            WakerKind::NoGoroutine => 2,
        };
        let a = (waker.wrapping_add(1) as u64) & ID_MASK;
        let b = (wakee as u64) & ID_MASK;
        Wake {
            time_kind: (time << 2) | k,
            ids: [
                a as u32,
                (a >> 32) as u32 | ((b as u32) << 16),
                (b >> 16) as u32,
            ],
            blocked_ns,
        }
    }
    #[inline]
    pub fn time(&self) -> i64 {
        self.time_kind >> 2
    }
    #[inline]
    pub fn kind(&self) -> WakerKind {
        match self.time_kind & 3 {
            0 => WakerKind::Goroutine,
            1 => WakerKind::Runtime,
            _ => WakerKind::NoGoroutine,
        }
    }
    /// The waking goroutine (-1: none).
    #[inline]
    pub fn waker(&self) -> i64 {
        (self.ids[0] as u64 | ((self.ids[1] as u64 & 0xffff) << 32)) as i64 - 1
    }
    #[inline]
    pub fn wakee(&self) -> i64 {
        ((self.ids[1] >> 16) as u64 | ((self.ids[2] as u64) << 16)) as i64
    }
}

/// Group id; 0 is "origin not known yet".
pub type GroupId = u32;
pub(crate) const NO_GROUP: GroupId = u32::MAX;

/// What the model knows about one goroutine. Fields are public for analyses;
/// frontends should prefer the query methods on [`Model`].
#[derive(Clone, Debug)]
pub struct Goroutine {
    pub id: i64,
    /// Creating goroutine (-1: unknown, e.g. created before the trace started).
    pub parent: i64,
    pub group: GroupId,
    /// Stack of the `go` statement in the creator (0: unknown).
    pub create_stack: StackId,
    /// Entry function, from GoCreate's start stack or the outermost frame seen.
    pub entry: StrId,
    /// Trace time of creation (None: before the trace).
    pub created_ns: Option<i64>,
    pub ended_ns: Option<i64>,
    pub state: GState,
    /// When the current state began.
    pub since_ns: i64,
    /// The current state began before the trace did (goroutine restated by GoStatus).
    pub since_before_trace: bool,
    /// Reason of the current wait or stop.
    pub reason: StrId,
    /// Stack where it blocked, stopped or entered a syscall (0: none).
    pub stack: StackId,
    pub label: StrId,
    pub wakes_in: u64,
    pub wakes_out: u64,
    pub last_woken_ns: Option<i64>,
    pub last_ran_ns: Option<i64>,
    /// Up to 16 distinct wakers with counts (-1: no goroutine).
    pub woken_by: Vec<(i64, u32)>,
    /// Up to 16 distinct goroutines it woke, with counts.
    pub woke: Vec<(i64, u32)>,
    pub runnable_since: i64,
    pub(crate) changed: u64,
    pub(crate) spans: ChunkDeque<Span, SPAN_CHUNK>,
    pub(crate) spans_dropped: u64,
    pub(crate) open_regions: Vec<(u64, StrId, i64)>,
    /// The P it runs on while running (-1: not known), for its running
    /// span's record.
    pub(crate) proc: i32,
    // The (reason, stack) of its last ended wait and that key's index in
    // `Model::block_recs`, and the (from, to) groups of its last wake and
    // that flow's index in `Model::flow_recs`: a goroutine tends to block
    // at the same place and be woken by the same group again, and a
    // compare is cheaper than a hash lookup per event.
    block_cache: ((StrId, StackId), u32),
    flow_cache: ((GroupId, GroupId), u32),
}

/// A group: goroutines started by the same `go` statement running the same function.
#[derive(Clone, Debug)]
pub struct Group {
    pub id: GroupId,
    /// Entry function name.
    pub entry: StrId,
    /// The `go` statement's frame (first non-runtime frame of the creator's stack).
    pub site: Option<FrameId>,
    /// Runtime-owned goroutines (GC workers, tracer, signal handling).
    pub system: bool,
    /// Live members by state (runnable, running, waiting, syscall).
    pub counts: [u32; 4],
    pub created: u64,
    pub exited: u64,
    pub wakes_in: u64,
    pub last_wake_ns: Option<i64>,
    /// Members were ever woken by a timer, the netpoller or a runtime goroutine.
    pub woken_by_runtime: bool,
    /// Wait reasons (up to 8) of members that a timer, the netpoller or a
    /// runtime goroutine ended: such waits may have a timeout case.
    pub runtime_woken_reasons: Vec<StrId>,
    pub first_seen_ns: i64,
    /// State counts sampled at each point of [`Model::series_times`].
    pub series: Vec<[u32; 4]>,
    pub(crate) changed: u64,
}

impl Group {
    /// Live members.
    pub fn live(&self) -> u64 {
        self.counts.iter().map(|&c| c as u64).sum()
    }
}

/// Aggregated wakes from one group to another.
#[derive(Clone, Debug, Default)]
pub struct Flow {
    pub count: u64,
    pub first_ns: i64,
    pub last_ns: i64,
    pub latency: Histogram,
}

/// Blocked time at one (reason, stack).
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockAgg {
    pub count: u64,
    pub total_ns: u64,
    pub max_ns: u64,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct RangeRec {
    pub start: i64,
    pub end: i64,
    pub name: StrId,
    pub g: i64,
    pub task: u64,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Proc {
    pub running_since: Option<i64>,
    pub busy_ns: u64,
    pub first_ns: i64,
}

/// User task (`trace.NewTask`).
#[derive(Clone, Debug)]
pub struct TaskRec {
    pub id: u64,
    pub parent: Option<u64>,
    pub name: StrId,
    pub goroutine: i64,
    pub start_ns: i64,
    pub end_ns: Option<i64>,
}

/// The concurrency model of one program, fed event by event.
pub struct Model {
    pub(crate) cfg: Config,
    pub(crate) strs: Interner,
    pub(crate) gs: GoTable,
    pub(crate) groups: Vec<Group>,
    group_map: IdMap<(StrId, u32), GroupId>,
    // (from, to) -> index in `flow_recs`; iterated in this map's order.
    pub(crate) flows: IdMap<(GroupId, GroupId), u32>,
    pub(crate) flow_recs: Vec<Flow>,
    // (reason, stack) -> index in `block_recs`.
    pub(crate) blocks: IdMap<(StrId, StackId), u32>,
    pub(crate) block_recs: Vec<BlockAgg>,
    pub(crate) wakes: ChunkDeque<Wake, WAKE_CHUNK>,
    // Emptied full-size chunks of the goroutines' spans and of the wakes,
    // reused before fresh memory (see `evict` for their bounds).
    pub(crate) span_pool: ChunkPool<Span, SPAN_CHUNK>,
    pub(crate) wake_pool: ChunkPool<Wake, WAKE_CHUNK>,
    pub(crate) gc: VecDeque<RangeRec>,
    pub(crate) stw: VecDeque<RangeRec>,
    pub(crate) regions: VecDeque<RangeRec>,
    pub(crate) tasks: IdMap<u64, TaskRec>,
    pub(crate) procs: IdMap<i64, Proc>,
    // Wait reasons for goroutines first seen already waiting (see
    // `assume_waiting`); empty for a model fed from a trace's start.
    assumed_waits: IdMap<i64, StrId>,
    pub(crate) sampled: crate::sampled::SampledState,
    pub(crate) heap: Vec<(i64, u64, u64)>,
    pub(crate) gomaxprocs: u64,
    gc_open: Option<i64>,
    stw_open: IdMap<i64, (i64, StrId)>,
    pub(crate) gc_count: u64,
    pub(crate) gc_total_ns: u64,
    pub(crate) stw_count: u64,
    pub(crate) stw_total_ns: u64,
    pub(crate) stw_max_ns: u64,
    pub(crate) sched_latency: Histogram,
    pub(crate) syscalls: Histogram,
    pub(crate) series_times: Vec<i64>,
    pub(crate) series_bucket_ns: i64,
    next_sample: i64,
    pub(crate) span_count: usize,
    span_secs: VecDeque<u32>,
    span_secs_base: i64,
    // [start, end) and number of the bucket `uncount_span` used last.
    span_cold: (i64, i64, i64),
    // [start, end) of trace time the newest entry of `span_secs` counts
    // (empty when it is not one bucket's), for `count_span`'s fast path.
    span_hot: (i64, i64),
    pub(crate) detail_start_ns: i64,
    // Newest span end or wake time a per-goroutine or wake cap dropped.
    complete_from_ns: i64,
    pub(crate) first_ns: Option<i64>,
    // Start of the current capture (traces may be fed back to back).
    capture_start_ns: i64,
    pub(crate) now_ns: i64,
    pub(crate) version: u64,
    pub(crate) evicted: VecDeque<(u64, i64)>,
    pub(crate) evicted_floor: u64,
    pub(crate) events: u64,
    pub(crate) generations: u64,
    last_gen: u64,
    // Which generation the interner's wire-id caches hold (for `ingest`).
    pub(crate) wire_gen: WireGen,
}

// Span counts are kept per 50 ms of end time, the granularity of cap eviction.
const SPAN_BUCKET_NS: i64 = 50_000_000;
const MAX_PEERS: usize = 16;
const EVICT_EVERY: u64 = 1 << 16;
// Spans per full chunk of a goroutine's history (24 KiB).
pub(crate) const SPAN_CHUNK: usize = 1024;
// Wakes per full chunk (96 KiB).
pub(crate) const WAKE_CHUNK: usize = 4096;
// Chunks a pool may hold beyond the room under its cap (at most 64 × 96 KiB).
pub(crate) const POOL_SLACK: usize = 64;

impl Default for Model {
    fn default() -> Self {
        Model::new(Config::default())
    }
}

impl Model {
    /// For a model fed a slice of a trace (generations from the middle of
    /// a file): goroutine `id`, if it is first seen already waiting, waits
    /// for `reason`. The trace states a wait's reason only when the wait
    /// begins, so a block that began before the slice would otherwise have
    /// none; the caller knows it from a model that read the whole trace.
    /// Call before feeding any event (it interns `reason`, and a model fed
    /// through a [`crate::Feeder`] takes its strings from the feeder).
    pub fn assume_waiting(&mut self, id: i64, reason: &str) {
        debug_assert_eq!(self.events, 0, "assume_waiting after events were fed");
        if self.events == 0 && !reason.is_empty() {
            let r = self.strs.str_id(reason.as_bytes());
            self.assumed_waits.insert(id, r);
        }
    }

    /// An empty model.
    pub fn new(cfg: Config) -> Model {
        let mut m = Model {
            series_bucket_ns: cfg.series_bucket_ns.max(1),
            cfg,
            strs: Interner::new(),
            gs: GoTable::default(),
            groups: Vec::new(),
            group_map: IdMap::default(),
            flows: IdMap::default(),
            flow_recs: Vec::new(),
            blocks: IdMap::default(),
            block_recs: Vec::new(),
            assumed_waits: IdMap::default(),
            wakes: ChunkDeque::default(),
            span_pool: ChunkPool::default(),
            wake_pool: ChunkPool::default(),
            gc: VecDeque::new(),
            stw: VecDeque::new(),
            regions: VecDeque::new(),
            tasks: IdMap::default(),
            procs: IdMap::default(),
            sampled: Default::default(),
            heap: Vec::new(),
            gomaxprocs: 0,
            gc_open: None,
            stw_open: IdMap::default(),
            gc_count: 0,
            gc_total_ns: 0,
            stw_count: 0,
            stw_total_ns: 0,
            stw_max_ns: 0,
            sched_latency: Histogram::default(),
            syscalls: Histogram::default(),
            series_times: Vec::new(),
            next_sample: i64::MIN,
            span_count: 0,
            span_secs: VecDeque::new(),
            span_secs_base: 0,
            span_cold: (i64::MAX, i64::MIN, 0),
            span_hot: (i64::MAX, i64::MIN),
            detail_start_ns: i64::MIN,
            complete_from_ns: i64::MIN,
            first_ns: None,
            capture_start_ns: 0,
            now_ns: 0,
            version: 0,
            evicted: VecDeque::new(),
            evicted_floor: 0,
            events: 0,
            generations: 0,
            last_gen: u64::MAX,
            wire_gen: WireGen::default(),
        };
        // Group 0: goroutines whose origin is not known yet.
        m.groups.push(Group {
            id: 0,
            entry: 0,
            site: None,
            system: false,
            counts: [0; 4],
            created: 0,
            exited: 0,
            wakes_in: 0,
            last_wake_ns: None,
            woken_by_runtime: false,
            runtime_woken_reasons: Vec::new(),
            first_seen_ns: 0,
            series: Vec::new(),
            changed: 0,
        });
        m
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Feeds one decoded event. Events must come in the decoder's order.
    // One call with both halves inlined into it: the digested event stays
    // in registers instead of going through memory.
    #[inline(never)]
    pub fn ingest(&mut self, e: &EventRef<'_>) {
        let op = digest(&mut self.strs, &mut self.wire_gen, e);
        self.apply(&op);
    }

    /// The model half of [`Model::ingest`]: one digested event.
    #[inline(always)]
    pub(crate) fn apply(&mut self, e: &Op) {
        let now = e.time();
        self.events += 1;
        self.now_ns = now;
        if self.first_ns.is_none() {
            self.first_ns = Some(now);
            self.capture_start_ns = now;
            self.next_sample = now - now.rem_euclid(self.series_bucket_ns) + self.series_bucket_ns;
        }
        if now >= self.next_sample {
            self.sample(now);
        }
        let gen = e.gen;
        if gen != 0 && gen != self.last_gen {
            self.last_gen = gen;
            self.generations += 1;
        }
        match e.what {
            What::Go {
                id,
                from,
                to,
                reason,
                stack,
                event_stack,
            } => {
                self.on_goroutine(e, id, from, to, reason, stack, event_stack);
            }
            What::Proc { id, from, to } => self.on_proc(now, id, from, to),
            What::Sync { first } => {
                if first {
                    // The first Sync of a trace: a new capture starts.
                    self.last_gen = u64::MAX;
                    self.capture_start_ns = now;
                }
                self.evict()
            }
            What::GcMark | What::Stw { .. } => self.on_range(e),
            What::Metric { value } => self.on_metric(now, e.typ, value),
            What::Label { label } => {
                if let Some(gr) = self.gs.get_mut(&e.g) {
                    gr.label = label;
                }
            }
            What::Task { .. } => self.on_task(e),
            What::Region { .. } => self.on_region(e),
            What::Other => {}
        }
        if self.events % EVICT_EVERY == 0 {
            self.evict();
        }
    }

    /// Reads a whole trace from `r` into a new model.
    pub fn from_reader<R: std::io::Read>(r: R, cfg: Config) -> weft_trace::Result<Model> {
        let mut m = Model::new(cfg);
        let mut rd = weft_trace::Reader::new(r);
        while let Some(e) = rd.next_event()? {
            m.ingest(&e);
        }
        m.evict();
        Ok(m)
    }

    pub(crate) fn group_for(&mut self, entry: StrId, site: Option<FrameId>, now: i64) -> GroupId {
        let key = (entry, site.map_or(0, |f| f + 1));
        if let Some(&g) = self.group_map.get(&key) {
            return g;
        }
        let id = self.groups.len() as GroupId;
        let system = is_system_entry(self.strs.str(entry));
        self.groups.push(Group {
            id,
            entry,
            site,
            system,
            counts: [0; 4],
            created: 0,
            exited: 0,
            wakes_in: 0,
            last_wake_ns: None,
            woken_by_runtime: false,
            runtime_woken_reasons: Vec::new(),
            first_seen_ns: now,
            series: vec![[0; 4]; self.series_times.len()],
            changed: self.version,
        });
        self.group_map.insert(key, id);
        id
    }

    // First frame that is not the runtime's: the `go` statement's location.
    pub(crate) fn site_of(&self, stack: StackId) -> Option<FrameId> {
        let frames = self.strs.stack(stack);
        frames
            .iter()
            .copied()
            .find(|&f| {
                !self
                    .strs
                    .str(self.strs.frame(f).func)
                    .starts_with("runtime.")
            })
            .or_else(|| frames.first().copied())
    }

    // For goroutines whose creation was not seen: the outermost frame that
    // is not goexit/runtime.main stands for the entry function.
    pub(crate) fn entry_of(&self, stack: StackId) -> StrId {
        let frames = self.strs.stack(stack);
        for &f in frames.iter().rev() {
            let func = self.strs.frame(f).func;
            let name = self.strs.str(func);
            if name == "runtime.goexit" || name == "runtime.main" {
                continue;
            }
            return func;
        }
        0
    }

    // A goroutine transition. The common case (a known goroutine changing
    // state, not created or restated) is inline in `ingest`; the rest, and
    // its own copy of the common case, is out of line.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn on_goroutine(
        &mut self,
        e: &Op,
        id: i64,
        from: GoState,
        to: GoState,
        reason: StrId,
        st_stack: StackId,
        event_stack: StackId,
    ) {
        if !matches!(from, GoState::NotExist | GoState::Undetermined)
            && !matches!(e.typ, ev::GO_STATUS | ev::GO_STATUS_STACK)
        {
            if let Some(slot) = self.gs.slot_of(id) {
                return self.on_known_goroutine(e, slot, id, GState::from_go(to), reason, st_stack);
            }
        }
        self.on_goroutine_rare(e, id, from, to, reason, st_stack, event_stack)
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn on_goroutine_rare(
        &mut self,
        e: &Op,
        id: i64,
        from: GoState,
        to: GoState,
        reason: StrId,
        st_stack: StackId,
        event_stack: StackId,
    ) {
        let now = e.time();
        let typ = e.typ;
        let to_s = GState::from_go(to);
        match from {
            GoState::NotExist => {
                // GoCreate / GoCreateBlocked / GoCreateSyscall.
                let (start, create) = (st_stack, event_stack);
                let entry = self
                    .strs
                    .stack(start)
                    .first()
                    .map_or(0, |&f| self.strs.frame(f).func);
                let site = if create != 0 {
                    self.site_of(create)
                } else {
                    None
                };
                let group = if entry == 0 && site.is_none() {
                    0
                } else {
                    self.group_for(entry, site, now)
                };
                let parent = e.goroutine();
                self.new_goroutine(
                    id,
                    parent,
                    group,
                    create,
                    entry,
                    Some(now),
                    to_s,
                    now,
                    false,
                    0,
                );
                return;
            }
            GoState::Undetermined => {
                // Restated at a generation start (or a new capture).
                if to_s == GState::Dead {
                    return;
                }
                if let Some(g) = self.gs.get(&id) {
                    if g.state != to_s {
                        // Changed between two captures: the reason is unknown.
                        let stack = st_stack;
                        self.transition(id, to_s, now, 0, stack, e.proc());
                    }
                    return;
                }
                let stack = st_stack;
                let entry = self.entry_of(stack);
                let group = if entry == 0 {
                    0
                } else {
                    self.group_for(entry, None, now)
                };
                let reason = if to_s == GState::Waiting {
                    self.assumed_wait(id)
                } else {
                    0
                };
                self.new_goroutine(id, -1, group, 0, entry, None, to_s, now, true, stack);
                if let Some(g) = self.gs.get_mut(&id) {
                    g.reason = reason;
                    g.proc = proc_slot(e.proc());
                }
                return;
            }
            _ => {}
        }
        if matches!(typ, ev::GO_STATUS | ev::GO_STATUS_STACK) {
            // A restatement at a generation start: the state goes on.
            match self.gs.get(&id) {
                Some(g) if g.state == to_s => return,
                Some(_) => {}
                None => {
                    let stack = st_stack;
                    let entry = self.entry_of(stack);
                    let group = if entry == 0 {
                        0
                    } else {
                        self.group_for(entry, None, now)
                    };
                    self.new_goroutine(id, -1, group, 0, entry, None, to_s, now, true, stack);
                    if let Some(g) = self.gs.get_mut(&id) {
                        g.proc = proc_slot(e.proc());
                    }
                    if to_s == GState::Waiting {
                        let reason = self.assumed_wait(id);
                        if let Some(g) = self.gs.get_mut(&id) {
                            g.reason = reason;
                        }
                    }
                    return;
                }
            }
        }
        // The common case from here on: one lookup, then the goroutine by slot.
        let slot = match self.gs.slot_of(id) {
            Some(slot) => slot,
            None => {
                // Not restated before use; should not happen with a valid trace.
                self.new_goroutine(id, -1, 0, 0, 0, None, GState::from_go(from), now, true, 0);
                self.gs.slot_of(id).expect("just inserted")
            }
        };
        let (reason, stack) = match typ {
            ev::GO_BLOCK | ev::GO_STOP => (reason, st_stack),
            ev::GO_SYSCALL_BEGIN => (0, st_stack),
            _ => (0, 0),
        };
        self.on_known_goroutine(e, slot, id, to_s, reason, stack)
    }

    // The transition of the goroutine in `slot` (`id`), known before it;
    // `reason` and `stack` are the wait's or stop's (block, stop) and the
    // syscall's (syscall begin), else 0. The digest gives ops of the inline
    // case just that (see its test), so they pass straight through.
    #[inline(always)]
    fn on_known_goroutine(
        &mut self,
        e: &Op,
        slot: u32,
        id: i64,
        to_s: GState,
        reason: StrId,
        stack: StackId,
    ) {
        let now = e.time();
        if stack != 0 && self.gs.at(slot).group == 0 {
            self.maybe_regroup(id, stack);
        }
        let g = self.gs.at(slot);
        let (prev_state, prev_since) = (g.state, g.since_ns);
        let (before, runnable_since) = (g.since_before_trace, g.runnable_since);
        if prev_state == GState::Waiting && to_s != GState::Waiting {
            self.on_wake(e, slot, id, now, now - prev_since);
        }
        match (prev_state, to_s) {
            (GState::Runnable, GState::Running) => {
                if !before {
                    self.sched_latency
                        .record((now - runnable_since).max(0) as u64);
                }
            }
            (GState::Syscall, _) if to_s != GState::Syscall => {
                self.syscalls.record((now - prev_since).max(0) as u64);
            }
            _ => {}
        }
        self.transition_at(slot, to_s, now, reason, stack, e.proc());
    }

    // The state GoStatus gives has no reason; keep it empty.
    // The wait reason of a goroutine first seen already waiting: the one
    // `assume_waiting` gave, else unknown (0).
    fn assumed_wait(&self, id: i64) -> StrId {
        if self.assumed_waits.is_empty() {
            return 0;
        }
        self.assumed_waits.get(&id).copied().unwrap_or(0)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_goroutine(
        &mut self,
        id: i64,
        parent: i64,
        group: GroupId,
        create_stack: StackId,
        entry: StrId,
        created_ns: Option<i64>,
        state: GState,
        now: i64,
        before: bool,
        stack: StackId,
    ) {
        self.version += 1;
        if let Some(mut old) = self.gs.remove(&id) {
            // Id reuse without a destroy we saw: close the old one's books.
            if old.state != GState::Dead {
                let gr = &mut self.groups[old.group as usize];
                gr.counts[old.state as usize] = gr.counts[old.state as usize].saturating_sub(1);
                gr.exited += 1;
            }
            self.drop_spans(&mut old);
        }
        let gr = &mut self.groups[group as usize];
        gr.created += 1;
        if state != GState::Dead {
            gr.counts[state as usize] += 1;
        }
        gr.changed = self.version;
        if group == 0 && self.groups[0].first_seen_ns == 0 {
            self.groups[0].first_seen_ns = now;
        }
        if let Some(p) = self.gs.get_mut(&parent) {
            p.changed = self.version;
        }
        // A goroutine first seen restated has been in its state at least
        // since the trace began (Go restates untouched goroutines only at
        // the end of a generation).
        let now = if before {
            self.capture_start_ns.min(now)
        } else {
            now
        };
        self.gs.insert(
            id,
            Goroutine {
                id,
                parent,
                group,
                create_stack,
                entry,
                created_ns,
                ended_ns: None,
                state,
                since_ns: now,
                since_before_trace: before,
                reason: 0,
                stack,
                label: 0,
                wakes_in: 0,
                wakes_out: 0,
                last_woken_ns: None,
                last_ran_ns: None,
                woken_by: Vec::new(),
                woke: Vec::new(),
                runnable_since: now,
                changed: self.version,
                spans: ChunkDeque::default(),
                spans_dropped: 0,
                open_regions: Vec::new(),
                proc: -1,
                block_cache: ((0, 0), u32::MAX),
                flow_cache: ((0, 0), u32::MAX),
            },
        );
    }

    // A goroutine of unknown origin is placed once a stack shows where it runs.
    fn maybe_regroup(&mut self, id: i64, stack: StackId) {
        let g = self.gs.get(&id).unwrap();
        if g.group != 0 {
            return;
        }
        let entry = self.entry_of(stack);
        if entry == 0 {
            return;
        }
        let now = self.now_ns;
        let ng = self.group_for(entry, None, now);
        let g = self.gs.get_mut(&id).unwrap();
        g.group = ng;
        g.entry = entry;
        let st = g.state;
        let (a, b) = (0usize, ng as usize);
        self.groups[a].created = self.groups[a].created.saturating_sub(1);
        self.groups[b].created += 1;
        if st != GState::Dead {
            self.groups[a].counts[st as usize] =
                self.groups[a].counts[st as usize].saturating_sub(1);
            self.groups[b].counts[st as usize] += 1;
        }
    }

    // Close the current span and enter `to` (on P `proc` when running,
    // -1: not known).
    pub(crate) fn transition(
        &mut self,
        id: i64,
        to: GState,
        now: i64,
        reason: StrId,
        stack: StackId,
        proc: i64,
    ) {
        let slot = self
            .gs
            .slot_of(id)
            .expect("transition of a known goroutine");
        self.transition_at(slot, to, now, reason, stack, proc);
    }

    // `transition` of the goroutine in `slot`.
    #[inline(always)]
    fn transition_at(
        &mut self,
        slot: u32,
        to: GState,
        now: i64,
        reason: StrId,
        stack: StackId,
        proc: i64,
    ) {
        self.version += 1;
        let version = self.version;
        let max_per = self.cfg.max_spans_per_goroutine.max(1);
        let g = self.gs.at_mut(slot);
        let from = g.state;
        let tag = if from == GState::Running {
            (g.proc + 1) as u32
        } else {
            g.reason
        };
        let span = Span {
            start: g.since_ns,
            stack: g.stack,
            packed: (tag << 3) | from as u32,
        };
        let closed_wait =
            (from == GState::Waiting).then_some((g.reason, g.stack, now - g.since_ns));
        // End of a span the per-goroutine cap dropped.
        let mut dropped = None;
        if now > span.start {
            if g.spans.len() >= max_per {
                g.spans.pop_front(&mut self.span_pool);
                g.spans_dropped += 1;
                // It ended where the next one (or the one closing now) starts.
                dropped = Some(g.spans.front().map_or(span.start, |s| s.start));
            }
            g.spans.push_back(span, &mut self.span_pool);
        }
        g.state = to;
        // A clock that steps back (skew between threads) would make spans
        // overlap; the state keeps its start so spans stay contiguous.
        g.since_ns = now.max(g.since_ns);
        g.since_before_trace = false;
        g.reason = reason;
        g.stack = stack;
        g.changed = version;
        match to {
            GState::Runnable => g.runnable_since = now,
            GState::Running => {
                g.last_ran_ns = Some(now);
                g.proc = proc_slot(proc);
            }
            GState::Dead => g.ended_ns = Some(now),
            _ => {}
        }
        let group = g.group as usize;
        let gr = &mut self.groups[group];
        if from != GState::Dead {
            gr.counts[from as usize] = gr.counts[from as usize].saturating_sub(1);
        }
        if to == GState::Dead {
            gr.exited += 1;
        } else {
            gr.counts[to as usize] += 1;
        }
        gr.changed = version;
        if let Some((r, s, d)) = closed_wait {
            let i = cached_index(
                &mut self.blocks,
                &mut self.block_recs,
                &mut self.gs.at_mut(slot).block_cache,
                (r, s),
                BlockAgg::default,
            );
            let b = &mut self.block_recs[i as usize];
            b.count += 1;
            b.total_ns += d.max(0) as u64;
            b.max_ns = b.max_ns.max(d.max(0) as u64);
        }
        if now > span.start {
            self.count_span(now, 1);
        }
        if let Some(end) = dropped {
            self.complete_from_ns = self.complete_from_ns.max(end);
            self.uncount_span(end);
        }
    }

    #[inline(always)]
    fn count_span(&mut self, end: i64, n: u32) {
        // Nearly every span ends in the newest bucket.
        if end >= self.span_hot.0 && end < self.span_hot.1 {
            if let Some(c) = self.span_secs.back_mut() {
                self.span_count += n as usize;
                *c += n;
                return;
            }
        }
        self.count_span_slow(end, n);
    }

    #[inline(never)]
    fn count_span_slow(&mut self, end: i64, n: u32) {
        self.span_count += n as usize;
        let sec = end.div_euclid(SPAN_BUCKET_NS);
        if self.span_secs.is_empty() {
            self.span_secs_base = sec;
        }
        let mut idx = sec - self.span_secs_base;
        if idx < 0 {
            idx = 0;
        }
        // A long idle gap is folded into the newest bucket rather than
        // allocating one counter per empty second.
        let idx = (idx as usize).min(self.span_secs.len() + 65536);
        while self.span_secs.len() <= idx {
            self.span_secs.push_back(0);
        }
        self.span_secs[idx] += n;
        // The newest bucket, when it is the bucket of `sec` (not one that
        // a gap or a clock going back was folded into), takes the next
        // spans that end in it without a division.
        self.span_hot =
            if idx + 1 == self.span_secs.len() && sec - self.span_secs_base == idx as i64 {
                let lo = sec.saturating_mul(SPAN_BUCKET_NS);
                (lo, lo.saturating_add(SPAN_BUCKET_NS))
            } else {
                (i64::MAX, i64::MIN)
            };
    }

    // A span the per-goroutine cap dropped: in a steady run nearly every
    // event drops one, and their ends fall in a few old buckets, so the
    // last one's bucket is remembered (a compare instead of a division).
    #[inline(always)]
    fn uncount_span(&mut self, end: i64) {
        let (lo, hi, sec) = self.span_cold;
        let sec = if end >= lo && end < hi {
            sec
        } else {
            let sec = end.div_euclid(SPAN_BUCKET_NS);
            let lo = sec.saturating_mul(SPAN_BUCKET_NS);
            self.span_cold = (lo, lo.saturating_add(SPAN_BUCKET_NS), sec);
            sec
        };
        uncount_span_in(
            &mut self.span_count,
            &mut self.span_secs,
            self.span_secs_base,
            sec,
        );
    }

    fn drop_spans(&mut self, g: &mut Goroutine) {
        for (_, end) in span_ends(g) {
            self.uncount_span(end);
        }
        g.spans.release(&mut self.span_pool);
    }

    fn on_wake(&mut self, e: &Op, wakee_slot: u32, wakee: i64, now: i64, blocked: i64) {
        let waker = e.goroutine();
        let (kind, from_group) = match self.gs.get_mut(&waker) {
            Some(w) if waker >= 0 && w.id != wakee => {
                w.wakes_out += 1;
                bump(&mut w.woke, wakee);
                let grp = w.group;
                if self.groups[grp as usize].system {
                    (WakerKind::Runtime, grp)
                } else {
                    (WakerKind::Goroutine, grp)
                }
            }
            _ if waker >= 0 && waker != wakee => (WakerKind::Goroutine, 0),
            _ => (WakerKind::NoGoroutine, NO_GROUP),
        };
        let g = self.gs.at_mut(wakee_slot);
        g.wakes_in += 1;
        g.last_woken_ns = Some(now);
        bump(
            &mut g.woken_by,
            if kind == WakerKind::NoGoroutine {
                -1
            } else {
                waker
            },
        );
        let to_group = g.group;
        let reason = g.reason;
        let gr = &mut self.groups[to_group as usize];
        gr.wakes_in += 1;
        gr.last_wake_ns = Some(now);
        if kind != WakerKind::Goroutine {
            gr.woken_by_runtime = true;
            if gr.runtime_woken_reasons.len() < 8 && !gr.runtime_woken_reasons.contains(&reason) {
                gr.runtime_woken_reasons.push(reason);
            }
        }
        // Recorded once, in the flow: block-to-wake over all wakes is the
        // flows' histograms summed (`Model::sched`).
        let blocked = blocked.max(0) as u64;
        let i = cached_index(
            &mut self.flows,
            &mut self.flow_recs,
            &mut self.gs.at_mut(wakee_slot).flow_cache,
            (from_group, to_group),
            || Flow {
                first_ns: now,
                ..Flow::default()
            },
        );
        let f = &mut self.flow_recs[i as usize];
        f.count += 1;
        f.last_ns = now;
        f.latency.record(blocked);
        self.wakes.push_back(
            Wake::new(
                now,
                if kind == WakerKind::NoGoroutine {
                    -1
                } else {
                    waker
                },
                wakee,
                blocked.min(u32::MAX as u64) as u32,
                kind,
            ),
            &mut self.wake_pool,
        );
        if self.wakes.len() > self.cfg.max_wakes {
            if let Some(w) = self.wakes.pop_front(&mut self.wake_pool) {
                self.complete_from_ns = self.complete_from_ns.max(w.time() + 1);
            }
        }
    }

    fn on_proc(&mut self, now: i64, id: i64, from: ProcState, to: ProcState) {
        let p = self.procs.entry(id).or_insert(Proc {
            first_ns: now,
            ..Proc::default()
        });
        match (from, to) {
            (_, ProcState::Running) => {
                if p.running_since.is_none() {
                    p.running_since = Some(now);
                }
            }
            (_, ProcState::Idle) | (_, ProcState::NotExist) => {
                if let Some(s) = p.running_since.take() {
                    p.busy_ns += (now - s).max(0) as u64;
                }
            }
            _ => {}
        }
    }

    fn on_range(&mut self, e: &Op) {
        let now = e.time();
        match (e.what, e.kind) {
            (What::GcMark, EventKind::RangeBegin | EventKind::RangeActive) => {
                if self.gc_open.is_none() {
                    self.gc_open = Some(now);
                }
            }
            (What::GcMark, EventKind::RangeEnd) => {
                let start = self.gc_open.take().unwrap_or(now);
                self.gc_count += 1;
                self.gc_total_ns += (now - start).max(0) as u64;
                push_capped(
                    &mut self.gc,
                    self.cfg.max_ranges,
                    RangeRec {
                        start,
                        end: now,
                        name: 0,
                        g: -1,
                        task: 0,
                    },
                );
            }
            (What::Stw { kind: k }, EventKind::RangeBegin) => {
                self.stw_open.insert(e.goroutine(), (now, k));
            }
            (What::Stw { .. }, EventKind::RangeEnd) => {
                if let Some((start, k)) = self.stw_open.remove(&e.goroutine()) {
                    let d = (now - start).max(0) as u64;
                    self.stw_count += 1;
                    self.stw_total_ns += d;
                    self.stw_max_ns = self.stw_max_ns.max(d);
                    push_capped(
                        &mut self.stw,
                        self.cfg.max_ranges,
                        RangeRec {
                            start,
                            end: now,
                            name: k,
                            g: e.goroutine(),
                            task: 0,
                        },
                    );
                }
            }
            _ => {}
        }
    }

    fn on_metric(&mut self, now: i64, typ: u8, v: u64) {
        match typ {
            ev::PROCS_CHANGE => self.gomaxprocs = v,
            ev::HEAP_ALLOC | ev::HEAP_GOAL => {
                let (mut alloc, mut goal) = self.heap.last().map_or((0, 0), |h| (h.1, h.2));
                if typ == ev::HEAP_ALLOC {
                    alloc = v
                } else {
                    goal = v
                }
                // At most one point per series bucket; the latest value wins.
                match self.heap.last_mut() {
                    Some(h) if now - h.0 < self.series_bucket_ns => *h = (h.0, alloc, goal),
                    _ => self.heap.push((now, alloc, goal)),
                }
                if self.heap.len() > self.cfg.max_series_points * 4 {
                    thin(&mut self.heap);
                }
            }
            _ => {}
        }
    }

    fn on_task(&mut self, e: &Op) {
        let What::Task { id, parent, name } = e.what else {
            return;
        };
        let now = e.time();
        if e.kind == EventKind::TaskBegin {
            if self.tasks.len() >= self.cfg.max_ranges {
                // Forget the oldest finished tasks first.
                let mut ended: Vec<(i64, u64)> = self
                    .tasks
                    .values()
                    .filter_map(|t| t.end_ns.map(|e| (e, t.id)))
                    .collect();
                ended.sort_unstable();
                for (_, id) in ended.into_iter().take(self.cfg.max_ranges / 4 + 1) {
                    self.tasks.remove(&id);
                }
            }
            if self.tasks.len() < self.cfg.max_ranges {
                self.tasks.insert(
                    id,
                    TaskRec {
                        id,
                        parent: (parent != u64::MAX && parent != 0).then_some(parent),
                        name,
                        goroutine: e.goroutine(),
                        start_ns: now,
                        end_ns: None,
                    },
                );
            }
        } else if let Some(task) = self.tasks.get_mut(&id) {
            task.end_ns = Some(now);
        }
    }

    fn on_region(&mut self, e: &Op) {
        let What::Region { task, name } = e.what else {
            return;
        };
        let now = e.time();
        let gid = e.goroutine();
        let Some(g) = self.gs.get_mut(&gid) else {
            return;
        };
        if e.kind == EventKind::RegionBegin {
            if g.open_regions.len() < 64 {
                g.open_regions.push((task, name, now));
            }
        } else if let Some(i) = g.open_regions.iter().rposition(|x| x.1 == name) {
            let (task, name, start) = g.open_regions.remove(i);
            push_capped(
                &mut self.regions,
                self.cfg.max_ranges,
                RangeRec {
                    start,
                    end: now,
                    name,
                    g: gid,
                    task,
                },
            );
        }
    }

    // What every source does when its clock starts (see `ingest`).
    pub(crate) fn set_capture_start(&mut self, now: i64) {
        self.capture_start_ns = now;
        self.next_sample = now - now.rem_euclid(self.series_bucket_ns) + self.series_bucket_ns;
    }

    pub(crate) fn sample_series_until(&mut self, now: i64) {
        if now >= self.next_sample {
            self.sample(now);
        }
    }

    fn sample(&mut self, now: i64) {
        let t = self.next_sample;
        self.series_times.push(t);
        for g in &mut self.groups {
            g.series.push(g.counts);
        }
        self.next_sample = if now - t >= self.series_bucket_ns {
            now - now.rem_euclid(self.series_bucket_ns) + self.series_bucket_ns
        } else {
            t + self.series_bucket_ns
        };
        if self.series_times.len() >= self.cfg.max_series_points.max(2) {
            thin(&mut self.series_times);
            for g in &mut self.groups {
                thin(&mut g.series);
            }
            self.series_bucket_ns *= 2;
            self.next_sample = now - now.rem_euclid(self.series_bucket_ns) + self.series_bucket_ns;
        }
    }

    /// From when the spans and wakes held are complete: the later of
    /// [`Model::detail_start_ns`] and the newest span or wake that a
    /// per-goroutine or wake cap dropped.
    pub fn detail_complete_ns(&self) -> i64 {
        self.detail_start_ns().max(self.complete_from_ns)
    }

    /// Drops detail older than the window, or more than the caps allow, and
    /// goroutines that exited before the detail window. Called on every
    /// generation boundary and every 65536 events; callers may call it too.
    pub fn evict(&mut self) {
        // The pools hold what an eviction freed for the records coming next
        // to fill, within the room the caps leave and at most an eighth of
        // a cap (a cap eviction frees a tenth), plus a few chunks for
        // goroutines at their own cap, which free a chunk and need one at
        // about the same time. Sizes nobody drew from since the last call
        // halve.
        self.span_pool.decay();
        self.wake_pool.decay();
        self.span_pool
            .limit_to(self.cfg.max_spans / SPAN_CHUNK + POOL_SLACK);
        self.wake_pool
            .limit_to(self.cfg.max_wakes / WAKE_CHUNK + POOL_SLACK);
        self.evict_detail();
        let room = pool_room(self.cfg.max_spans, self.span_count);
        self.span_pool.limit_to(room / SPAN_CHUNK + POOL_SLACK);
        let room = pool_room(self.cfg.max_wakes, self.wakes.len());
        self.wake_pool.limit_to(room / WAKE_CHUNK + POOL_SLACK);
    }

    fn evict_detail(&mut self) {
        let mut cutoff = self.now_ns.saturating_sub(self.cfg.window_ns);
        if self.span_count > self.cfg.max_spans {
            let target = self.cfg.max_spans / 10 * 9;
            let mut rem = self.span_count;
            let mut k = 0;
            while rem > target && k < self.span_secs.len() {
                rem -= self.span_secs[k] as usize;
                k += 1;
            }
            let by_bucket = (self.span_secs_base + k as i64) * SPAN_BUCKET_NS;
            // Buckets are 50 ms of trace time. A clock that stalls (after a
            // jump, the reader makes timestamps strictly increasing, so
            // events land a nanosecond apart for millions of events) puts
            // nearly every span in the newest bucket; a bucket-aligned
            // cutoff then lies past `now`, and later evictions found
            // nothing new to cut until the clock crossed it, so the cap did
            // not hold. Then cut by count, inside the bucket.
            let c = if by_bucket > self.now_ns || by_bucket <= self.detail_start_ns {
                self.cutoff_dropping(self.span_count - target)
            } else {
                by_bucket
            };
            cutoff = cutoff.max(c);
        }
        if cutoff <= self.detail_start_ns {
            return;
        }
        self.detail_start_ns = cutoff;
        let mut dead = Vec::new();
        // The span counts by end time: the buckets wholly before the cutoff
        // hold spans that all go now, so they are emptied at once below, and
        // only the spans of the bucket the cutoff falls in are read to be
        // counted out one by one. Spans evicted are never read otherwise:
        // they are the coldest memory the model holds.
        let whole = (cutoff.div_euclid(SPAN_BUCKET_NS) - self.span_secs_base)
            .clamp(0, self.span_secs.len().saturating_sub(1) as i64);
        let whole_end = (self.span_secs_base + whole).saturating_mul(SPAN_BUCKET_NS);
        let whole = whole as usize;
        // The spans that end in [whole_end, cutoff) are all counted in
        // bucket `whole` (the clamp above puts every end at or past
        // `whole_end` there, as `uncount_span` does), so they are counted
        // out in one step per goroutine.
        let mut in_whole = 0usize;
        for g in self.gs.values_mut() {
            let n = spans_ending_before(g, cutoff);
            let counted = if whole > 0 {
                spans_ending_before(g, whole_end)
            } else {
                0
            };
            in_whole += n - counted;
            g.spans.drop_front(n, &mut self.span_pool);
            // Give back ring space a burst left behind.
            g.spans.trim(&mut self.span_pool);
            if matches!(g.ended_ns, Some(t) if t < cutoff) {
                dead.push(g.id);
            }
        }
        self.span_count = self.span_count.saturating_sub(in_whole);
        if let Some(c) = self.span_secs.get_mut(whole) {
            *c -= in_whole.min(*c as usize) as u32;
        }
        for c in self.span_secs.range_mut(..whole) {
            self.span_count = self.span_count.saturating_sub(*c as usize);
            *c = 0;
        }
        for id in dead {
            if let Some(mut g) = self.gs.remove(&id) {
                self.drop_spans(&mut g);
                self.version += 1;
                self.evicted.push_back((self.version, id));
            }
        }
        while self.evicted.len() > 1 << 16 {
            if let Some((v, _)) = self.evicted.pop_front() {
                self.evicted_floor = v;
            }
        }
        while self.span_secs.len() > 1
            && (self.span_secs_base + 1) * SPAN_BUCKET_NS <= cutoff
            && self.span_secs[0] == 0
        {
            self.span_secs.pop_front();
            self.span_secs_base += 1;
        }
        while matches!(self.wakes.front(), Some(w) if w.time() < cutoff) {
            self.wakes.pop_front(&mut self.wake_pool);
        }
        for list in [&mut self.gc, &mut self.stw, &mut self.regions] {
            while matches!(list.front(), Some(r) if r.end < cutoff) {
                list.pop_front();
            }
        }
    }
}

impl Model {
    /// The earliest time `t` before which at least `n` spans end (or just
    /// after the newest span if there are fewer): a binary search over
    /// time, counting each goroutine's spans by binary search too.
    fn cutoff_dropping(&self, n: usize) -> i64 {
        let count = |t: i64| -> usize { self.gs.values().map(|g| spans_ending_before(g, t)).sum() };
        let (mut lo, mut hi) = (
            self.detail_start_ns.max(i64::MIN / 2),
            self.now_ns.saturating_add(1),
        );
        if count(hi) < n {
            return hi;
        }
        // Invariant: count(lo) < n <= count(hi).
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if count(mid) >= n {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }
}

/// A goroutine's spans, oldest first, each with its end.
pub(crate) fn span_ends(g: &Goroutine) -> impl Iterator<Item = (Span, i64)> + '_ {
    with_ends(g.spans.iter().copied(), g.since_ns)
}

/// Records a pool of emptied chunks may hold when `held` of at most `cap`
/// are held: the room left under the cap, at most an eighth of it.
pub(crate) fn pool_room(cap: usize, held: usize) -> usize {
    cap.saturating_sub(held).min(cap / 8)
}

/// How many of a goroutine's spans (the oldest) ended before `t`.
fn spans_ending_before(g: &Goroutine, t: i64) -> usize {
    // Spans are contiguous: span i ends where span i + 1 starts, the
    // newest at `since_ns`.
    let started = g.spans.count_while(|s| s.start < t);
    if started == g.spans.len() && g.since_ns < t {
        started
    } else {
        started.saturating_sub(1)
    }
}

/// Contiguous spans, each with its end: the next one's start, and `last_end`
/// for the newest.
pub(crate) fn with_ends(
    spans: impl Iterator<Item = Span>,
    last_end: i64,
) -> impl Iterator<Item = (Span, i64)> {
    let mut spans = spans.peekable();
    std::iter::from_fn(move || {
        let s = spans.next()?;
        let end = spans.peek().map_or(last_end, |n| n.start);
        Some((s, end))
    })
}

// One span fewer, in the count by end time: `sec` is the bucket of its end.
#[inline(always)]
fn uncount_span_in(count: &mut usize, secs: &mut VecDeque<u32>, base: i64, sec: i64) {
    *count = count.saturating_sub(1);
    let idx = (sec - base).max(0) as usize;
    let idx = idx.min(secs.len().saturating_sub(1));
    if let Some(c) = secs.get_mut(idx) {
        *c = c.saturating_sub(1);
    }
}

fn bump(list: &mut Vec<(i64, u32)>, who: i64) {
    if let Some(x) = list.iter_mut().find(|x| x.0 == who) {
        x.1 = x.1.saturating_add(1);
    } else if list.len() < MAX_PEERS {
        list.push((who, 1));
    }
}

// The index of `key`'s record in `recs`: from `cache` (the key a
// goroutine used last, and its index) when it matches, else from `map`,
// appending `new()` for a key not seen before; `cache` then holds `key`.
#[inline(always)]
fn cached_index<K: Copy + Eq + std::hash::Hash, T>(
    map: &mut IdMap<K, u32>,
    recs: &mut Vec<T>,
    cache: &mut (K, u32),
    key: K,
    new: impl FnOnce() -> T,
) -> u32 {
    if cache.1 != u32::MAX && cache.0 == key {
        return cache.1;
    }
    let n = recs.len() as u32;
    let i = *map.entry(key).or_insert(n);
    if i == n {
        recs.push(new());
    }
    *cache = (key, i);
    i
}

fn push_capped<T>(q: &mut VecDeque<T>, cap: usize, x: T) {
    if q.len() >= cap.max(1) {
        q.pop_front();
    }
    q.push_back(x);
}

// Keeps every other element.
fn thin<T: Copy>(v: &mut Vec<T>) {
    let mut i = 0;
    v.retain(|_| {
        i += 1;
        i % 2 == 1
    });
}

pub(crate) fn first_user_frame(strs: &Interner, stack: StackId) -> Option<FrameId> {
    strs.stack(stack)
        .iter()
        .copied()
        .find(|&f| !is_runtime_func(strs.str(strs.frame(f).func)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_records_keep_what_they_were_given() {
        for (time, waker, wakee, blocked, kind) in [
            (0i64, -1i64, 1i64, 0u32, WakerKind::NoGoroutine),
            (1_700_000_000_123_456_789, 5, 6, 17, WakerKind::Goroutine),
            (-42, 0, 0, u32::MAX, WakerKind::Runtime),
            (
                (1 << 60) - 1,
                (1 << 48) - 2,
                (1 << 48) - 1,
                1,
                WakerKind::Goroutine,
            ),
            (123, 65_535, 65_536, 9, WakerKind::Runtime),
        ] {
            let w = Wake::new(time, waker, wakee, blocked, kind);
            assert_eq!(
                (w.time(), w.waker(), w.wakee(), w.blocked_ns, w.kind()),
                (time, waker, wakee, blocked, kind)
            );
        }
        assert_eq!(std::mem::size_of::<Wake>(), 24);
        assert_eq!(std::mem::size_of::<Span>(), 16);
    }

    #[test]
    fn states_from_go_by_table() {
        use GoState::*;
        for (go, s) in [
            (Undetermined, GState::Dead),
            (NotExist, GState::Dead),
            (Runnable, GState::Runnable),
            (Running, GState::Running),
            (Waiting, GState::Waiting),
            (Syscall, GState::Syscall),
        ] {
            assert_eq!(GState::from_go(go), s);
        }
    }

    /// A goroutine transition op at `time`.
    fn go_op(time: i64, id: i64, from: GoState, to: GoState) -> Op {
        Op {
            time,
            g: -1,
            p: -1,
            gen: 1,
            typ: 0,
            kind: EventKind::StateTransition,
            what: What::Go {
                id,
                from,
                to,
                reason: 0,
                stack: 0,
                event_stack: 0,
            },
        }
    }

    // Traces recorded on a VM can carry a clock jump after which the reader
    // spaces events a nanosecond apart (seen in bench/out/stress.trace:
    // millions of events, ~4.5 s after a jump). The span cap must still hold.
    #[test]
    fn the_span_cap_holds_when_the_clock_stalls() {
        let cap = 20_000;
        let mut m = Model::new(Config {
            max_spans: cap,
            max_spans_per_goroutine: cap,
            ..Config::default()
        });
        let gs = 8;
        let mut t = 1_000_000_000i64;
        for id in 1..=gs {
            m.apply(&go_op(t, id, GoState::NotExist, GoState::Runnable));
            t += 1_000;
        }
        let mut running = vec![false; gs as usize + 1];
        let mut step = |m: &mut Model, t: i64, i: usize| {
            let id = (i as i64 % gs) + 1;
            let r = &mut running[id as usize];
            let (from, to) = if *r {
                (GoState::Running, GoState::Runnable)
            } else {
                (GoState::Runnable, GoState::Running)
            };
            *r = !*r;
            m.apply(&go_op(t, id, from, to));
        };
        // A normal second: 10 µs apart.
        for i in 0..100_000 {
            t += 10_000;
            step(&mut m, t, i);
        }
        // The jump, then 1 ns apart: 300,000 events in 0.3 ms.
        t += 4_500_000_000;
        let mut most = 0;
        for i in 0..300_000 {
            t += 1;
            step(&mut m, t, i);
            most = most.max(m.span_count);
        }
        m.evict();
        assert!(
            most <= cap + EVICT_EVERY as usize,
            "the model held {most} spans against a cap of {cap}"
        );
        assert!(m.span_count <= cap, "{} spans after evict", m.span_count);
        // What is left is the newest detail, contiguous up to now.
        assert!(
            m.detail_start_ns() > t - 300_000,
            "detail from {}",
            m.detail_start_ns()
        );
    }
}
