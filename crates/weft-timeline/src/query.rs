//! Read-side API for frontends: plain serde types, built on demand from the
//! model. Nothing here changes the model.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hist::{Histogram, Percentiles};
use crate::intern::{FrameInfo, StackId, StrId};
use crate::model::{first_user_frame, GState, Goroutine, GroupId, Model, WakerKind, NO_GROUP};

/// A half-open time range `[start_ns, end_ns)` on the trace clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    pub start_ns: i64,
    pub end_ns: i64,
}

/// Which goroutines a query covers. Empty lists mean "all".
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GoroutineFilter {
    #[serde(default)]
    pub ids: Vec<i64>,
    #[serde(default)]
    pub groups: Vec<GroupId>,
    #[serde(default)]
    pub states: Vec<GState>,
    /// Substring of the entry function or of any frame of the current stack.
    #[serde(default)]
    pub func_contains: Option<String>,
    #[serde(default)]
    pub include_system: bool,
    /// At most this many rows (0: no limit).
    #[serde(default)]
    pub limit: usize,
}

/// One goroutine's timeline row in columnar form: span `i` is
/// `[start[i], end[i])` in `state[i]` for `reason[i]` (an index into
/// [`Intervals::strings`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IntervalRow {
    pub goroutine: i64,
    pub group: GroupId,
    pub start: Vec<i64>,
    pub end: Vec<i64>,
    pub state: Vec<GState>,
    pub reason: Vec<StrId>,
    /// Stack where the span began (block / stop / syscall; 0: none); see [`Model::stack`].
    pub stack: Vec<StackId>,
}

/// Answer to [`Model::intervals`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Intervals {
    pub range: Option<TimeRange>,
    pub resolution_ns: i64,
    /// Spans before this time were evicted; rows start no earlier.
    pub detail_start_ns: i64,
    pub rows: Vec<IntervalRow>,
    /// Reason strings by id, for the ids used in `rows`.
    pub strings: BTreeMap<StrId, String>,
    /// Rows left out by the filter's limit.
    pub truncated: usize,
}

/// Live members by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    pub runnable: u32,
    pub running: u32,
    pub waiting: u32,
    pub syscall: u32,
}

impl From<[u32; 4]> for StateCounts {
    fn from(c: [u32; 4]) -> Self {
        StateCounts {
            runnable: c[0],
            running: c[1],
            waiting: c[2],
            syscall: c[3],
        }
    }
}

/// Members of a group sharing one current state, reason and stack.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StackBucket {
    pub state: Option<GState>,
    pub reason: String,
    /// First frame that is not runtime or standard-library plumbing.
    pub where_: Option<FrameInfo>,
    pub stack: StackId,
    pub count: u64,
    /// Earliest `since` among them.
    pub oldest_since_ns: i64,
}

/// A group of goroutines started by the same `go` statement.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GroupSummary {
    pub id: GroupId,
    /// A stable key: `entry@file:line`.
    pub key: String,
    pub entry: String,
    pub created_at: Option<FrameInfo>,
    pub system: bool,
    pub counts: StateCounts,
    pub live: u64,
    pub created: u64,
    pub exited: u64,
    pub wakes_in: u64,
    pub last_wake_ns: Option<i64>,
    pub first_seen_ns: i64,
    /// Live members by (state, reason, stack), biggest first; at most 16.
    pub by_stack: Vec<StackBucket>,
}

/// A group's state counts over time.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Series {
    pub group: GroupId,
    pub bucket_ns: i64,
    pub times: Vec<i64>,
    pub counts: Vec<StateCounts>,
}

/// A wake-up relation between two groups.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WakeFlow {
    /// `None` when the waker was no goroutine (timer, netpoller).
    pub from_group: Option<GroupId>,
    pub to_group: GroupId,
    pub waker_kind: WakerKind,
    pub count: u64,
    pub first_ns: i64,
    pub last_ns: i64,
    /// Wakes per second between first and last.
    pub rate_per_s: f64,
    /// How long the woken goroutines had been blocked.
    pub blocked: Percentiles,
}

/// One goroutine of an [`Goroutine inspector`](Model::goroutine) or a change list.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GoroutineRow {
    pub id: i64,
    pub group: GroupId,
    pub state: Option<GState>,
    pub reason: String,
    pub since_ns: i64,
}

/// A single wake, for arrows on a timeline and the inspector.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WakeEvent {
    pub time_ns: i64,
    /// -1 when no goroutine woke it.
    pub waker: i64,
    pub wakee: i64,
    pub waker_kind: WakerKind,
    pub blocked_ns: u64,
}

/// Everything about one goroutine.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GoroutineInfo {
    pub id: i64,
    pub group: GroupId,
    pub entry: String,
    pub parent: Option<i64>,
    pub created_at: Option<FrameInfo>,
    pub create_stack: Vec<FrameInfo>,
    pub children: Vec<i64>,
    pub created_ns: Option<i64>,
    pub ended_ns: Option<i64>,
    pub state: GState,
    pub reason: String,
    pub since_ns: i64,
    pub since_before_trace: bool,
    /// Stack at the current block / stop / syscall.
    pub stack: Vec<FrameInfo>,
    pub label: String,
    /// State history inside the detail window, oldest first (at most 256 newest).
    pub history: IntervalRow,
    pub history_dropped: u64,
    /// Who woke it (waker id, -1 = no goroutine; count).
    pub woken_by: Vec<(i64, u32)>,
    /// Whom it woke.
    pub woke: Vec<(i64, u32)>,
    pub wakes_in: u64,
    pub wakes_out: u64,
    /// Recent wakes it took part in (either side), newest last; at most 64.
    pub recent_wakes: Vec<WakeEvent>,
}

/// Per-P busy time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProcOccupancy {
    pub proc: i64,
    pub busy_ns: u64,
    /// Busy time over time observed.
    pub utilization: f64,
}

/// A GC cycle, STW pause or user region.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RangeInfo {
    pub start_ns: i64,
    pub end_ns: i64,
    pub name: String,
    pub goroutine: i64,
    pub task: u64,
}

/// Scheduler, GC and memory overview.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SchedSummary {
    pub observed_ns: i64,
    pub gomaxprocs: u64,
    pub procs: Vec<ProcOccupancy>,
    /// Runnable → running.
    pub sched_latency: Percentiles,
    pub syscalls: Percentiles,
    /// Block → wake, all wakes.
    pub block_to_wake: Percentiles,
    pub gc_count: u64,
    pub gc_total_ns: u64,
    /// GC mark time over observed time.
    pub gc_fraction: f64,
    pub stw_count: u64,
    pub stw_total_ns: u64,
    pub stw_max_ns: u64,
    pub stw_fraction: f64,
    pub heap_alloc: u64,
    pub heap_goal: u64,
    pub tasks: usize,
}

/// Blocked time at one reason and stack, including waits still going on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BlockSite {
    pub reason: String,
    pub stack: StackId,
    pub where_: Option<FrameInfo>,
    pub count: u64,
    pub total_ns: u64,
    pub max_ns: u64,
    /// Goroutines blocked here right now.
    pub ongoing: u64,
}

/// What changed since a version (see [`Model::changes_since`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Changes {
    pub version: u64,
    /// The asked-for version is older than the eviction log: refetch everything.
    pub full_resync: bool,
    pub now_ns: i64,
    pub goroutines: Vec<GoroutineRow>,
    pub removed: Vec<i64>,
    pub groups: Vec<GroupSummary>,
}

/// Size of the model, for memory accounting.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ModelStats {
    pub events: u64,
    pub generations: u64,
    pub goroutines_kept: usize,
    pub goroutines_live: usize,
    pub groups: usize,
    pub spans: usize,
    pub wakes: usize,
    pub stacks: usize,
    pub flows: usize,
    pub detail_start_ns: i64,
    pub first_ns: i64,
    pub now_ns: i64,
    /// Estimate of heap bytes held by the model.
    pub heap_bytes: usize,
}

impl Model {
    /// Monotonic version; bumps on every change.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// Newest event time.
    pub fn now_ns(&self) -> i64 {
        self.now_ns
    }
    /// First event time.
    pub fn first_ns(&self) -> i64 {
        self.first_ns.unwrap_or(0)
    }
    /// Start of the detail window (spans and wakes before it are gone).
    pub fn detail_start_ns(&self) -> i64 {
        self.detail_start_ns.max(self.first_ns())
    }
    /// An interned string.
    pub fn str(&self, id: StrId) -> &str {
        self.strs.str(id)
    }
    /// Frames of an interned stack, innermost first.
    pub fn stack(&self, id: StackId) -> Vec<FrameInfo> {
        self.strs.stack_info(id)
    }
    /// Function names of an interned stack, innermost first.
    pub fn stack_funcs(&self, id: StackId) -> Vec<&str> {
        self.strs
            .stack(id)
            .iter()
            .map(|&f| self.strs.str(self.strs.frame(f).func))
            .collect()
    }
    /// The first frame of a stack that is not runtime or standard-library plumbing.
    pub fn where_frame(&self, id: StackId) -> Option<FrameInfo> {
        first_user_frame(&self.strs, id).map(|f| self.strs.frame_info(f))
    }
    /// A goroutine's raw record (for analyses).
    pub fn goroutine_raw(&self, id: i64) -> Option<&crate::Goroutine> {
        self.gs.get(&id)
    }
    /// All goroutines kept (live, and exited ones still inside the window).
    pub fn goroutines_raw(&self) -> impl Iterator<Item = &crate::Goroutine> {
        self.gs.values()
    }
    /// A group's raw record.
    pub fn group_raw(&self, id: GroupId) -> Option<&crate::Group> {
        self.groups.get(id as usize)
    }
    /// All groups (group 0 holds goroutines of not-yet-known origin).
    pub fn groups_raw(&self) -> &[crate::Group] {
        &self.groups
    }
    /// Sample times of the group series.
    pub fn series_times(&self) -> &[i64] {
        &self.series_times
    }
    /// Raw flow aggregates: ((from group or u32::MAX for no goroutine, to group), flow).
    pub fn flows_raw(&self) -> impl Iterator<Item = (GroupId, GroupId, &crate::Flow)> {
        self.flows
            .iter()
            .map(|(k, &i)| (k.0, k.1, &self.flow_recs[i as usize]))
    }

    /// Model size.
    pub fn stats(&self) -> ModelStats {
        let spans: usize =
            self.gs.values().map(|g| g.spans.capacity()).sum::<usize>() + self.span_pool.capacity();
        let peers: usize = self
            .gs
            .values()
            .map(|g| (g.woke.capacity() + g.woken_by.capacity()) * 16)
            .sum();
        let series: usize = self
            .groups
            .iter()
            .map(|g| g.series.capacity() * 16 + 200)
            .sum();
        let flows: usize = self
            .flow_recs
            .iter()
            .map(|f| f.latency.heap_bytes() + 80)
            .sum();
        let heap = spans * 16
            + peers
            + self.gs.capacity() * (std::mem::size_of::<crate::Goroutine>() + 8)
            + series
            + flows
            + (self.wakes.capacity() + self.wake_pool.capacity()) * 24
            + (self.gc.capacity() + self.stw.capacity() + self.regions.capacity()) * 40
            + self.blocks.capacity() * 40
            + self.tasks.capacity() * 64
            + self.heap.capacity() * 24
            + self.strs.heap_bytes();
        ModelStats {
            events: self.events,
            generations: self.generations,
            goroutines_kept: self.gs.len(),
            goroutines_live: self.gs.values().filter(|g| g.state != GState::Dead).count(),
            groups: self.groups.len(),
            spans: self.span_count,
            wakes: self.wakes.len(),
            stacks: self.strs.stack_count(),
            flows: self.flows.len(),
            detail_start_ns: self.detail_start_ns(),
            first_ns: self.first_ns(),
            now_ns: self.now_ns,
            heap_bytes: heap,
        }
    }

    fn passes(&self, g: &crate::Goroutine, f: &GoroutineFilter) -> bool {
        if !f.ids.is_empty() && !f.ids.contains(&g.id) {
            return false;
        }
        if !f.groups.is_empty() && !f.groups.contains(&g.group) {
            return false;
        }
        if !f.states.is_empty() && !f.states.contains(&g.state) {
            return false;
        }
        if !f.include_system && f.ids.is_empty() && self.groups[g.group as usize].system {
            return false;
        }
        if let Some(s) = &f.func_contains {
            let hit = self.strs.str(g.entry).contains(s.as_str())
                || self
                    .stack_funcs(g.stack)
                    .iter()
                    .any(|x| x.contains(s.as_str()));
            if !hit {
                return false;
            }
        }
        true
    }

    /// Goroutines matching a filter, by group then id.
    pub fn select(&self, f: &GoroutineFilter) -> Vec<i64> {
        let mut ids: Vec<(GroupId, i64)> = self
            .gs
            .values()
            .filter(|g| self.passes(g, f))
            .map(|g| (g.group, g.id))
            .collect();
        ids.sort_unstable();
        ids.into_iter().map(|x| x.1).collect()
    }

    /// Timeline rows for a time range at a resolution: spans shorter than
    /// `resolution_ns` are merged with their neighbours (the merged span
    /// takes the state that covered most of it), so a row never has more
    /// than about `range / resolution` spans.
    pub fn intervals(
        &self,
        range: TimeRange,
        resolution_ns: i64,
        f: &GoroutineFilter,
    ) -> Intervals {
        let res = resolution_ns.max(1);
        let ids = self.select(f);
        let limit = if f.limit == 0 { usize::MAX } else { f.limit };
        let mut out = Intervals {
            range: Some(range),
            resolution_ns: res,
            detail_start_ns: self.detail_start_ns(),
            truncated: ids.len().saturating_sub(limit),
            ..Intervals::default()
        };
        for id in ids.into_iter().take(limit) {
            let g = self.gs.get(&id).unwrap();
            let row = self.interval_row(id, g, range, res, &mut out.strings);
            out.rows.push(row);
        }
        out
    }

    /// One goroutine's row of `range` at resolution `res` (see
    /// [`Model::intervals`]); the reason strings it uses are added to `strings`.
    pub(crate) fn interval_row(
        &self,
        id: i64,
        g: &Goroutine,
        range: TimeRange,
        res: i64,
        strings: &mut BTreeMap<StrId, String>,
    ) -> IntervalRow {
        let mut row = IntervalRow {
            goroutine: id,
            group: g.group,
            ..IntervalRow::default()
        };
        let current = (g.state != GState::Dead).then_some((
            g.since_ns,
            self.now_ns,
            g.state,
            g.reason,
            g.stack,
        ));
        // Spans are contiguous: skip those ending before the range (those
        // before the last one starting at or before it) without looking at them.
        let spans = crate::model::with_ends(
            g.spans
                .from_before_partition(|s| s.start <= range.start_ns)
                .copied(),
            g.since_ns,
        )
        .take_while(|(s, _)| s.start < range.end_ns)
        .map(|(s, end)| (s.start, end, s.state(), s.reason(), s.stack))
        .chain(current);
        // (dominant state duration) of the last output span
        let mut dom = 0i64;
        for (s, e, st, r, k) in spans {
            let (s, e) = (s.max(range.start_ns), e.min(range.end_ns));
            if e <= s {
                continue;
            }
            let n = row.start.len();
            if n > 0 {
                let (ls, le) = (row.start[n - 1], row.end[n - 1]);
                if s - le < res && (le - ls < res || e - s < res) {
                    row.end[n - 1] = e.max(le);
                    if e - s > dom {
                        dom = e - s;
                        row.state[n - 1] = st;
                        row.reason[n - 1] = r;
                        row.stack[n - 1] = k;
                    }
                    continue;
                }
            }
            row.start.push(s);
            row.end.push(e);
            row.state.push(st);
            row.reason.push(r);
            row.stack.push(k);
            dom = e - s;
        }
        for &r in &row.reason {
            strings
                .entry(r)
                .or_insert_with(|| self.strs.str(r).to_string());
        }
        row
    }

    /// Wakes inside a time range involving goroutines that pass the filter
    /// (either side), oldest first, at most `limit`.
    pub fn wakes(&self, range: TimeRange, f: &GoroutineFilter, limit: usize) -> Vec<WakeEvent> {
        let mut out = Vec::new();
        for w in self.wakes.iter() {
            if w.time() < range.start_ns || w.time() >= range.end_ns {
                continue;
            }
            let hit = |id: i64| self.gs.get(&id).is_some_and(|g| self.passes(g, f));
            if hit(w.wakee()) || hit(w.waker()) {
                out.push(wake_event(w));
                if out.len() >= limit {
                    break;
                }
            }
        }
        out
    }

    /// Key of a group: `entry@file:line` of the `go` statement.
    pub fn group_key(&self, id: GroupId) -> String {
        let Some(g) = self.groups.get(id as usize) else {
            return String::new();
        };
        if id == 0 {
            return "(unknown origin)".into();
        }
        match g.site {
            Some(f) => {
                let fr = self.strs.frame(f);
                format!(
                    "{}@{}:{}",
                    self.strs.str(g.entry),
                    self.strs.str(fr.file),
                    fr.line
                )
            }
            None => self.strs.str(g.entry).to_string(),
        }
    }

    /// Summary of one group.
    pub fn group(&self, id: GroupId) -> Option<GroupSummary> {
        let g = self.groups.get(id as usize)?;
        let mut buckets: BTreeMap<(GState, StrId, StackId), (u64, i64)> = BTreeMap::new();
        for m in self
            .gs
            .values()
            .filter(|m| m.group == id && m.state != GState::Dead)
        {
            let b = buckets
                .entry((m.state, m.reason, m.stack))
                .or_insert((0, i64::MAX));
            b.0 += 1;
            b.1 = b.1.min(m.since_ns);
        }
        let mut by_stack: Vec<StackBucket> = buckets
            .into_iter()
            .map(|((st, r, s), (n, since))| StackBucket {
                state: Some(st),
                reason: self.state_reason_text(st, r, s),
                where_: self.where_frame(s),
                stack: s,
                count: n,
                oldest_since_ns: since,
            })
            .collect();
        by_stack.sort_by(|a, b| b.count.cmp(&a.count));
        by_stack.truncate(16);
        Some(GroupSummary {
            id,
            key: self.group_key(id),
            entry: self.strs.str(g.entry).to_string(),
            created_at: g.site.map(|f| self.strs.frame_info(f)),
            system: g.system,
            counts: g.counts.into(),
            live: g.live(),
            created: g.created,
            exited: g.exited,
            wakes_in: g.wakes_in,
            last_wake_ns: g.last_wake_ns,
            first_seen_ns: g.first_seen_ns,
            by_stack,
        })
    }

    /// All groups with live members or seen in the window, biggest first.
    pub fn groups(&self, include_system: bool) -> Vec<GroupSummary> {
        let mut v: Vec<GroupSummary> = (0..self.groups.len() as GroupId)
            .filter(|&i| include_system || !self.groups[i as usize].system)
            .filter(|&i| self.groups[i as usize].created > 0)
            .filter_map(|i| self.group(i))
            .collect();
        v.sort_by(|a, b| b.live.cmp(&a.live).then(a.id.cmp(&b.id)));
        v
    }

    /// State counts of a group over time.
    pub fn series(&self, id: GroupId) -> Option<Series> {
        let g = self.groups.get(id as usize)?;
        Some(Series {
            group: id,
            bucket_ns: self.series_bucket_ns,
            times: self.series_times.clone(),
            counts: g.series.iter().map(|&c| c.into()).collect(),
        })
    }

    /// Group-to-group wake flows, busiest first.
    pub fn wake_flows(&self) -> Vec<WakeFlow> {
        let mut v: Vec<WakeFlow> = self
            .flows
            .iter()
            .map(|(&(from, to), &i)| {
                let f = &self.flow_recs[i as usize];
                let kind = if from == NO_GROUP {
                    WakerKind::NoGoroutine
                } else if self.groups[from as usize].system {
                    WakerKind::Runtime
                } else {
                    WakerKind::Goroutine
                };
                let span = (f.last_ns - f.first_ns).max(1) as f64 / 1e9;
                WakeFlow {
                    from_group: (from != NO_GROUP).then_some(from),
                    to_group: to,
                    waker_kind: kind,
                    count: f.count,
                    first_ns: f.first_ns,
                    last_ns: f.last_ns,
                    rate_per_s: if f.count > 1 {
                        f.count as f64 / span
                    } else {
                        0.0
                    },
                    blocked: f.latency.percentiles(),
                }
            })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count));
        v
    }

    /// Everything the inspector shows about one goroutine.
    pub fn goroutine(&self, id: i64) -> Option<GoroutineInfo> {
        let g = self.gs.get(&id)?;
        let mut children: Vec<i64> = self
            .gs
            .values()
            .filter(|c| c.parent == id)
            .map(|c| c.id)
            .collect();
        children.sort_unstable();
        let full = TimeRange {
            start_ns: i64::MIN,
            end_ns: i64::MAX,
        };
        let mut history = self.intervals(
            full,
            1,
            &GoroutineFilter {
                ids: vec![id],
                ..GoroutineFilter::default()
            },
        );
        let mut row = history.rows.pop().unwrap_or_default();
        let skip = row.start.len().saturating_sub(256);
        for v in [&mut row.start, &mut row.end] {
            v.drain(..skip);
        }
        row.state.drain(..skip);
        row.reason.drain(..skip);
        row.stack.drain(..skip);
        let mut recent: Vec<WakeEvent> = self
            .wakes
            .iter()
            .rev()
            .filter(|w| w.waker() == id || w.wakee() == id)
            .take(64)
            .map(wake_event)
            .collect();
        recent.reverse();
        Some(GoroutineInfo {
            id,
            group: g.group,
            entry: self.strs.str(g.entry).to_string(),
            parent: (g.parent >= 0).then_some(g.parent),
            created_at: self.groups[g.group as usize]
                .site
                .map(|f| self.strs.frame_info(f)),
            create_stack: self.stack(g.create_stack),
            children,
            created_ns: g.created_ns,
            ended_ns: g.ended_ns,
            state: g.state,
            reason: self.state_reason_text(g.state, g.reason, g.stack),
            since_ns: g.since_ns,
            since_before_trace: g.since_before_trace,
            stack: self.stack(g.stack),
            label: self.strs.str(g.label).to_string(),
            history: row,
            history_dropped: g.spans_dropped,
            woken_by: g.woken_by.clone(),
            woke: g.woke.clone(),
            wakes_in: g.wakes_in,
            wakes_out: g.wakes_out,
            recent_wakes: recent,
        })
    }

    /// Scheduler, GC and heap overview over the whole run.
    pub fn sched(&self) -> SchedSummary {
        let observed = (self.now_ns - self.first_ns()).max(1);
        let mut procs: Vec<ProcOccupancy> = self
            .procs
            .iter()
            .map(|(&p, s)| {
                let busy = s.busy_ns
                    + s.running_since
                        .map_or(0, |t| (self.now_ns - t).max(0) as u64);
                ProcOccupancy {
                    proc: p,
                    busy_ns: busy,
                    utilization: busy as f64 / (self.now_ns - s.first_ns).max(1) as f64,
                }
            })
            .collect();
        procs.sort_by_key(|p| p.proc);
        let (heap_alloc, heap_goal) = self.heap.last().map_or((0, 0), |h| (h.1, h.2));
        SchedSummary {
            observed_ns: observed,
            gomaxprocs: self.gomaxprocs,
            procs,
            sched_latency: self.sched_latency.percentiles(),
            syscalls: self.syscalls.percentiles(),
            block_to_wake: {
                // Every wake is in exactly one flow, and flows are never
                // dropped.
                let mut all = Histogram::default();
                for f in &self.flow_recs {
                    all.add(&f.latency);
                }
                all.percentiles()
            },
            gc_count: self.gc_count,
            gc_total_ns: self.gc_total_ns,
            gc_fraction: self.gc_total_ns as f64 / observed as f64,
            stw_count: self.stw_count,
            stw_total_ns: self.stw_total_ns,
            stw_max_ns: self.stw_max_ns,
            stw_fraction: self.stw_total_ns as f64 / observed as f64,
            heap_alloc,
            heap_goal,
            tasks: self.tasks.len(),
        }
    }

    /// Heap samples (time, allocated bytes, goal bytes).
    pub fn heap_series(&self) -> &[(i64, u64, u64)] {
        &self.heap
    }

    /// GC cycles, STW pauses and user regions inside the detail window.
    pub fn ranges(&self) -> (Vec<RangeInfo>, Vec<RangeInfo>, Vec<RangeInfo>) {
        let conv = |r: &crate::model::RangeRec| RangeInfo {
            start_ns: r.start,
            end_ns: r.end,
            name: self.strs.str(r.name).to_string(),
            goroutine: r.g,
            task: r.task,
        };
        (
            self.gc.iter().map(conv).collect(),
            self.stw.iter().map(conv).collect(),
            self.regions.iter().map(conv).collect(),
        )
    }

    /// User tasks kept.
    pub fn tasks(&self) -> Vec<(u64, String, i64, Option<i64>)> {
        let mut v: Vec<_> = self
            .tasks
            .values()
            .map(|t| {
                (
                    t.id,
                    self.strs.str(t.name).to_string(),
                    t.start_ns,
                    t.end_ns,
                )
            })
            .collect();
        v.sort_by_key(|t| t.0);
        v
    }

    /// Where goroutines spent blocked time, by reason and stack (ended waits
    /// over the whole run plus waits still going on), most time first.
    pub fn block_sites(&self) -> Vec<BlockSite> {
        let mut agg: BTreeMap<(StrId, StackId), BlockSite> = BTreeMap::new();
        for (&(r, s), &i) in &self.blocks {
            let b = &self.block_recs[i as usize];
            agg.insert(
                (r, s),
                BlockSite {
                    reason: self.strs.str(r).to_string(),
                    stack: s,
                    where_: self.where_frame(s),
                    count: b.count,
                    total_ns: b.total_ns,
                    max_ns: b.max_ns,
                    ongoing: 0,
                },
            );
        }
        for g in self.gs.values().filter(|g| g.state == GState::Waiting) {
            let d = (self.now_ns - g.since_ns).max(0) as u64;
            let e = agg.entry((g.reason, g.stack)).or_insert_with(|| BlockSite {
                reason: self.wait_reason_text(g.reason, g.stack),
                stack: g.stack,
                where_: self.where_frame(g.stack),
                count: 0,
                total_ns: 0,
                max_ns: 0,
                ongoing: 0,
            });
            e.ongoing += 1;
            e.total_ns += d;
            e.max_ns = e.max_ns.max(d);
        }
        let mut v: Vec<BlockSite> = agg.into_values().collect();
        v.sort_by(|a, b| b.total_ns.cmp(&a.total_ns));
        v
    }

    /// What changed since `version`: goroutines whose state changed, those
    /// evicted, and groups whose counts changed. Poll with the returned
    /// `version`.
    pub fn changes_since(&self, version: u64) -> Changes {
        let mut goroutines: Vec<GoroutineRow> = self
            .gs
            .values()
            .filter(|g| g.changed > version)
            .map(|g| GoroutineRow {
                id: g.id,
                group: g.group,
                state: Some(g.state),
                reason: self.state_reason_text(g.state, g.reason, g.stack),
                since_ns: g.since_ns,
            })
            .collect();
        goroutines.sort_by_key(|g| g.id);
        Changes {
            version: self.version,
            full_resync: version < self.evicted_floor,
            now_ns: self.now_ns,
            goroutines,
            removed: self
                .evicted
                .iter()
                .filter(|e| e.0 > version)
                .map(|e| e.1)
                .collect(),
            groups: (0..self.groups.len() as GroupId)
                .filter(|&i| self.groups[i as usize].changed > version)
                .filter_map(|i| self.group(i))
                .collect(),
        }
    }
}

fn wake_event(w: &crate::model::Wake) -> WakeEvent {
    WakeEvent {
        time_ns: w.time(),
        waker: w.waker(),
        wakee: w.wakee(),
        waker_kind: w.kind(),
        blocked_ns: w.blocked_ns as u64,
    }
}

// Added for live streams (renewed trace requests) and for goroutines parked
// before the trace began.
impl Model {
    /// Ends every goroutine the model still holds alive that a new
    /// capture's first generation did not mention (`mentioned(id)` false),
    /// as exited at `at_ns`. Go restates every live goroutine within a
    /// generation (at its end at the latest), so after a renewed trace
    /// request a goroutine missing from the new first generation exited
    /// between the two captures; nothing else would ever end it. Returns how
    /// many were ended. Call it only once that generation is complete.
    pub fn end_unmentioned(&mut self, mentioned: impl Fn(i64) -> bool, at_ns: i64) -> usize {
        let gone: Vec<(i64, i64)> = self
            .gs
            .values()
            .filter(|g| g.state != GState::Dead && !mentioned(g.id))
            .map(|g| (g.id, g.since_ns))
            .collect();
        for &(id, since) in &gone {
            self.transition(id, GState::Dead, at_ns.max(since), 0, 0, -1);
        }
        gone.len()
    }

    /// A wait's reason for people. The trace names it when a goroutine
    /// blocks, but a goroutine parked since before the trace began is only
    /// restated with a stack: the reason is then read from that stack
    /// (`chan receive` for `runtime.chanrecv`...), and when the stack does
    /// not tell either it is `unknown (parked before trace)`, never "".
    pub fn wait_reason_text(&self, reason: StrId, stack: StackId) -> String {
        let r = self.strs.str(reason);
        if !r.is_empty() {
            return r.to_string();
        }
        let funcs = self.stack_funcs(stack);
        reason_from_stack(&funcs)
            .unwrap_or("unknown (parked before trace)")
            .to_string()
    }

    /// [`Model::wait_reason_text`] for waiting goroutines; other states
    /// keep the trace's reason (often none).
    pub fn state_reason_text(&self, state: GState, reason: StrId, stack: StackId) -> String {
        if state == GState::Waiting {
            self.wait_reason_text(reason, stack)
        } else {
            self.strs.str(reason).to_string()
        }
    }
}

/// The runtime's wait reason a blocking stack implies, innermost frame first.
fn reason_from_stack(funcs: &[&str]) -> Option<&'static str> {
    // (substring of a frame's function, the runtime's name for the wait)
    const BY_FRAME: &[(&str, &str)] = &[
        ("runtime.chanrecv", "chan receive"),
        ("runtime.chansend", "chan send"),
        ("runtime.selectgo", "select"),
        ("runtime.block", "select (no cases)"),
        ("sync.(*WaitGroup).Wait", "sync.WaitGroup.Wait"),
        ("sync.(*Cond).Wait", "sync.Cond.Wait"),
        ("sync.(*RWMutex).RLock", "sync.RWMutex.RLock"),
        ("sync.(*RWMutex).Lock", "sync.RWMutex.Lock"),
        ("sync.(*Mutex).Lock", "sync.Mutex.Lock"),
        ("sync.(*Mutex).lockSlow", "sync.Mutex.Lock"),
        ("time.Sleep", "sleep"),
        ("runtime.netpollblock", "IO wait"),
        ("internal/poll.runtime_pollWait", "IO wait"),
        ("runtime.gcBgMarkWorker", "GC worker (idle)"),
        ("runtime.forcegchelper", "force gc (idle)"),
        ("runtime.bgsweep", "GC sweep wait"),
        ("runtime.bgscavenge", "GC scavenge wait"),
        ("runtime.runfinq", "finalizer wait"),
        ("runtime.runCleanups", "cleanup wait"),
        ("os/signal.signal_recv", "signal wait"),
    ];
    for f in funcs {
        for (needle, reason) in BY_FRAME {
            if f.starts_with(needle) {
                return Some(reason);
            }
        }
    }
    None
}
