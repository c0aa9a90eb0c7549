//! P lanes: which goroutine ran on each P (processor) over time.
//!
//! The model sees every goroutine transition on the P that performed it: a
//! goroutine starts running on the P of its `GoStart` and stops on the P of
//! its block, stop, syscall or end. After each goroutine event the model
//! calls [`Model::lane_after_goroutine`], which opens or closes that P's run
//! span; a P going idle closes its span too. Spans are kept like the
//! goroutine spans: inside the detail window and under a cap (oldest first).
//! [`Model::proc_lanes`] answers at a resolution, merging runs shorter than
//! it the way goroutine rows are merged.
use serde::{Deserialize, Serialize};

use crate::chunked::{ChunkDeque, ChunkPool};
use crate::model::{pool_room, GState, GroupId, Model, POOL_SLACK};
use crate::query::TimeRange;

/// Highest P id the lanes track (Ps are numbered 0..GOMAXPROCS).
const MAX_PROC_ID: i64 = 4096;

/// Most buckets one lane is computed on, whatever the resolution asked.
const MAX_BUCKETS: i64 = 16_384;

/// One run of a goroutine on a P; `end` is exclusive.
#[derive(Clone, Copy, Debug)]
struct Run {
    start: i64,
    end: i64,
    goroutine: i64,
    group: GroupId,
}

// Runs per full chunk of a lane (128 KiB): chunked so that a lane of a
// million runs grows without copying (a `VecDeque` doubles and copies).
const RUN_CHUNK: usize = 4096;

#[derive(Clone, Debug, Default)]
struct Lane {
    runs: ChunkDeque<RunRec, RUN_CHUNK>,
    /// (start, end) of the runs of 4.3 s or more (their `dur` is `LONG`),
    /// in time order.
    long: std::collections::VecDeque<(i64, i64)>,
}

/// A run as stored, 24 bytes: its length fits 32 bits but for rare runs
/// of seconds, whose end is kept aside ([`Lane::long`]).
#[derive(Clone, Copy, Debug)]
struct RunRec {
    start: i64,
    goroutine: i64,
    group: GroupId,
    dur: u32,
}

const LONG: u32 = u32::MAX;

impl Lane {
    fn push(&mut self, r: Run, pool: &mut ChunkPool<RunRec, RUN_CHUNK>) {
        let d = r.end - r.start;
        let dur = if (0..LONG as i64).contains(&d) {
            d as u32
        } else {
            self.long.push_back((r.start, r.end));
            LONG
        };
        self.runs.push_back(
            RunRec {
                start: r.start,
                goroutine: r.goroutine,
                group: r.group,
                dur,
            },
            pool,
        );
    }

    #[inline]
    fn pop_front(&mut self, pool: &mut ChunkPool<RunRec, RUN_CHUNK>) {
        if let Some(r) = self.runs.pop_front(pool) {
            if r.dur == LONG {
                self.long.pop_front();
            }
        }
    }

    #[inline]
    fn end(&self, r: &RunRec) -> i64 {
        if r.dur != LONG {
            return r.start + r.dur as i64;
        }
        let i = self.long.partition_point(|x| x.0 < r.start);
        self.long.get(i).map_or(r.start, |x| x.1)
    }

    #[inline]
    fn run(&self, r: &RunRec) -> Run {
        Run {
            start: r.start,
            end: self.end(r),
            goroutine: r.goroutine,
            group: r.group,
        }
    }
}

/// The per-P run spans the model keeps (bounded: window and cap).
#[derive(Clone, Debug, Default)]
pub(crate) struct LaneStore {
    lanes: Vec<Lane>,
    /// Per P (as `lanes`): the goroutine running now and since when. Apart
    /// from the runs, because every goroutine event looks for the P its
    /// goroutine runs on, and a short array is quick to scan.
    open: Vec<Option<(i64, i64)>>,
    total: usize,
    // Emptied full-size chunks of all lanes, reused before fresh memory;
    // bounded in `evict` by the room the cap leaves.
    pool: ChunkPool<RunRec, RUN_CHUNK>,
}

impl LaneStore {
    // Makes room for P `p`; false for an id out of range.
    #[inline]
    fn ensure(&mut self, p: i64) -> bool {
        if !(0..MAX_PROC_ID).contains(&p) {
            return false;
        }
        let p = p as usize;
        if self.lanes.len() <= p {
            self.lanes.resize_with(p + 1, Lane::default);
            self.open.resize(p + 1, None);
        }
        true
    }

    // The P whose open run is goroutine `id`'s.
    #[inline]
    fn running(&self, id: i64) -> Option<usize> {
        self.open
            .iter()
            .position(|o| matches!(o, Some((g, _)) if *g == id))
    }

    /// Closes P `p`'s open run at `now`; `group` gives a goroutine's group.
    #[inline(always)]
    fn close(&mut self, p: usize, now: i64, cap: usize, group: impl Fn(i64) -> GroupId) {
        let Some((g, since)) = self.open.get_mut(p).and_then(Option::take) else {
            return;
        };
        if now <= since {
            return;
        }
        self.push_run(p, since, now, g, group(g), cap);
    }

    // The closed run of `close`, stored; over the cap, the oldest run of
    // all lanes goes.
    #[inline(never)]
    fn push_run(&mut self, p: usize, since: i64, now: i64, g: i64, group: GroupId, cap: usize) {
        self.lanes[p].push(
            Run {
                start: since,
                end: now,
                goroutine: g,
                group,
            },
            &mut self.pool,
        );
        self.total += 1;
        if self.total > cap {
            // The lane whose oldest run starts first (the first such lane).
            let mut best: Option<(usize, i64)> = None;
            for (i, l) in self.lanes.iter().enumerate() {
                if let Some(r) = l.runs.front() {
                    if best.is_none_or(|(_, s)| r.start < s) {
                        best = Some((i, r.start));
                    }
                }
            }
            if let Some((i, _)) = best {
                self.lanes[i].pop_front(&mut self.pool);
                self.total -= 1;
            }
        }
    }

    /// Approximate heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.lanes
            .iter()
            .map(|l| l.runs.capacity() * 24 + l.long.capacity() * 16)
            .sum::<usize>()
            + self.pool.capacity() * 24
            + self.open.capacity() * 24
    }

    /// Forgets runs that ended before `cutoff`; `cap` is the most runs
    /// held, which bounds the pool of emptied chunks.
    pub(crate) fn evict(&mut self, cutoff: i64, cap: usize) {
        self.pool.decay();
        self.pool.limit_to(cap / RUN_CHUNK + POOL_SLACK);
        for l in &mut self.lanes {
            while matches!(l.runs.front(), Some(r) if l.end(r) < cutoff) {
                l.pop_front(&mut self.pool);
                self.total -= 1;
            }
            l.runs.trim(&mut self.pool);
        }
        self.pool
            .limit_to(pool_room(cap, self.total) / RUN_CHUNK + POOL_SLACK);
    }
}

/// One P's lane at a resolution, columnar: run `i` is `[start[i], end[i])`
/// of `goroutine[i]` (-1: several goroutines merged below the resolution)
/// in `group[i]` (the group that ran most of it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcLane {
    pub proc: i64,
    pub start: Vec<i64>,
    pub end: Vec<i64>,
    pub goroutine: Vec<i64>,
    pub group: Vec<GroupId>,
}

/// Answer to [`Model::proc_lanes`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProcLanes {
    pub range: Option<TimeRange>,
    /// The resolution used (the one asked, or coarser so that a lane has at
    /// most 16384 buckets).
    pub resolution_ns: i64,
    /// Runs before this time were evicted.
    pub detail_start_ns: i64,
    /// Lanes by P id, only Ps that were ever seen running a goroutine.
    pub lanes: Vec<ProcLane>,
}

impl Model {
    pub(crate) fn lane_cap(&self) -> usize {
        (self.cfg.max_spans / 4).max(1024)
    }

    /// Hook after every goroutine transition event (on P `p`, -1: none):
    /// a goroutine now running occupies `p`; one that stopped running
    /// leaves whichever P it was on. `after` is the goroutine's state and
    /// group after the event when the caller has them at hand.
    #[inline(always)]
    pub(crate) fn lane_after_goroutine(
        &mut self,
        p: i64,
        id: i64,
        now: i64,
        after: Option<(GState, GroupId)>,
    ) {
        let (running, own_group) = match after {
            Some((state, group)) => (state == GState::Running, Some(group)),
            None => (
                matches!(self.gs.get(&id), Some(g) if g.state == GState::Running),
                None,
            ),
        };
        let cap = self.lane_cap();
        let gs = &self.gs;
        let group = |g: i64| match own_group {
            Some(group) if g == id => group,
            _ => gs.get(&g).map_or(0, |x| x.group),
        };
        let lanes = &mut self.lanes;
        if running && lanes.ensure(p) {
            if matches!(lanes.open[p as usize], Some((g, _)) if g == id) {
                return;
            }
            // It ran elsewhere without a stop we saw: close that run first.
            if let Some(q) = lanes.running(id) {
                lanes.close(q, now, cap, group);
            }
            lanes.close(p as usize, now, cap, group);
            lanes.open[p as usize] = Some((id, now));
            return;
        }
        // Not running: close its run, looking at the event's P first.
        let here = (0..lanes.open.len() as i64).contains(&p)
            && matches!(lanes.open[p as usize], Some((g, _)) if g == id);
        let q = if here {
            Some(p as usize)
        } else {
            lanes.running(id)
        };
        if let Some(q) = q {
            lanes.close(q, now, cap, group);
        }
    }

    /// Hook after a P transition: a P that stops running ends its run.
    pub(crate) fn lane_after_proc(&mut self, p: i64, now: i64, running: bool) {
        if running || !(0..self.lanes.lanes.len() as i64).contains(&p) {
            return;
        }
        let cap = self.lane_cap();
        let gs = &self.gs;
        self.lanes
            .close(p as usize, now, cap, |g| gs.get(&g).map_or(0, |x| x.group));
    }

    /// Per-P lanes over `range` at `res_ns`: runs shorter than the
    /// resolution are merged per bucket of `res_ns` (a bucket less than half
    /// busy stays empty; a busy one takes the group that ran most of it),
    /// then neighbours of one group are joined. A run still going on ends at
    /// the newest event.
    pub fn proc_lanes(&self, range: TimeRange, res_ns: i64) -> ProcLanes {
        let start = range.start_ns.max(self.detail_start_ns());
        let end = range.end_ns;
        let len = (end - start).max(1);
        let res = res_ns.max(1).max((len + MAX_BUCKETS - 1) / MAX_BUCKETS);
        let mut out = ProcLanes {
            range: Some(range),
            resolution_ns: res,
            detail_start_ns: self.detail_start_ns(),
            lanes: Vec::new(),
        };
        if end <= start {
            return out;
        }
        for (p, (lane, &open)) in self.lanes.lanes.iter().zip(&self.lanes.open).enumerate() {
            if lane.runs.is_empty() && open.is_none() {
                continue;
            }
            // Runs are in time order: skip those that ended before the range.
            let open = open.map(|(g, since)| Run {
                start: since,
                end: self.now_ns.max(since),
                goroutine: g,
                group: self.gs.get(&g).map_or(0, |x| x.group),
            });
            let runs = lane
                .runs
                .from_partition(|r| lane.end(r) <= start)
                .map(|r| lane.run(r))
                .chain(open)
                .take_while(|r| r.start < end)
                .filter(|r| r.end > start)
                .map(|r| Run {
                    start: r.start.max(start),
                    end: r.end.min(end),
                    ..r
                });
            let mut pl = merge_runs(runs, start, end, res);
            pl.proc = p as i64;
            out.lanes.push(pl);
        }
        out
    }
}

/// Runs inside one bucket: busy time by group, and the goroutine if only
/// one ran. A bucket at a coarse resolution can hold thousands of runs of
/// thousands of goroutines, so nothing here grows with the goroutines.
#[derive(Default)]
struct Cell {
    index: i64,
    busy: i64,
    by_group: Vec<(GroupId, i64)>,
    /// The goroutine that ran, -1 if several, -2 if none yet.
    goroutine: i64,
}

/// Merges clipped, time-ordered runs below `res` (see [`Model::proc_lanes`]).
fn merge_runs(runs: impl Iterator<Item = Run>, start: i64, end: i64, res: i64) -> ProcLane {
    let mut out = ProcLane::default();
    let mut emit = |s: i64, e: i64, group: GroupId, g: i64| {
        if let Some(last) = out.end.len().checked_sub(1) {
            if out.end[last] == s && out.group[last] == group {
                out.end[last] = e;
                if out.goroutine[last] != g {
                    out.goroutine[last] = -1;
                }
                return;
            }
        }
        out.start.push(s);
        out.end.push(e);
        out.group.push(group);
        out.goroutine.push(g);
    };
    let bucket_start = |i: i64| start + i * res;
    let mut cell = Cell {
        index: -1,
        goroutine: -2,
        ..Cell::default()
    };
    let flush = |cell: &mut Cell, emit: &mut dyn FnMut(i64, i64, GroupId, i64)| {
        if cell.index >= 0 && !cell.by_group.is_empty() {
            let (s, e) = (
                bucket_start(cell.index),
                bucket_start(cell.index + 1).min(end),
            );
            if cell.busy * 2 >= e - s {
                // The group that ran most of the bucket.
                let grp = cell.by_group.iter().max_by_key(|x| x.1).map_or(0, |x| x.0);
                emit(s, e, grp, cell.goroutine);
            }
        }
        cell.by_group.clear();
        cell.busy = 0;
        cell.goroutine = -2;
    };
    let add = |cell: &mut Cell,
               emit: &mut dyn FnMut(i64, i64, GroupId, i64),
               index: i64,
               r: &Run,
               ns: i64| {
        if cell.index != index {
            flush(cell, emit);
            cell.index = index;
        }
        cell.busy += ns;
        cell.goroutine = match cell.goroutine {
            -2 => r.goroutine,
            g if g == r.goroutine => g,
            _ => -1,
        };
        // Few groups run in one bucket; the latest added is the likeliest.
        match cell.by_group.iter_mut().rev().find(|x| x.0 == r.group) {
            Some(x) => x.1 += ns,
            None => cell.by_group.push((r.group, ns)),
        }
    };
    for r in runs {
        if r.end <= r.start {
            continue;
        }
        let bs = (r.start - start) / res;
        let be = (r.end - 1 - start) / res;
        if bs == be {
            add(&mut cell, &mut emit, bs, &r, r.end - r.start);
            continue;
        }
        add(&mut cell, &mut emit, bs, &r, bucket_start(bs + 1) - r.start);
        if be > bs + 1 {
            flush(&mut cell, &mut emit);
            cell.index = -1;
            emit(bucket_start(bs + 1), bucket_start(be), r.group, r.goroutine);
        }
        add(&mut cell, &mut emit, be, &r, r.end - bucket_start(be));
    }
    flush(&mut cell, &mut emit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_runs_keep_their_ends() {
        let mut lane = Lane::default();
        let mut pool = ChunkPool::default();
        let runs = [
            run(0, 10, 1, 1),
            run(10, 10 + (1 << 33), 2, 1),
            run(20 + (1 << 33), 30 + (1 << 33), 3, 2),
            run(40 + (1 << 33), 40 + (1 << 34), 4, 2),
        ];
        for r in runs {
            lane.push(r, &mut pool);
        }
        let back: Vec<Run> = lane.runs.iter().map(|r| lane.run(r)).collect();
        assert_eq!(format!("{back:?}"), format!("{runs:?}"));
        lane.pop_front(&mut pool);
        lane.pop_front(&mut pool);
        assert_eq!(lane.long.len(), 1);
        let back: Vec<Run> = lane.runs.iter().map(|r| lane.run(r)).collect();
        assert_eq!(format!("{back:?}"), format!("{:?}", &runs[2..]));
    }

    fn run(start: i64, end: i64, goroutine: i64, group: GroupId) -> Run {
        Run {
            start,
            end,
            goroutine,
            group,
        }
    }

    #[test]
    fn runs_longer_than_the_resolution_stay_exact() {
        let l = merge_runs(
            [run(10, 50, 7, 1), run(50, 90, 8, 2), run(95, 100, 9, 2)].into_iter(),
            0,
            200,
            1,
        );
        assert_eq!(l.start, vec![10, 50, 95]);
        assert_eq!(l.end, vec![50, 90, 100]);
        assert_eq!(l.goroutine, vec![7, 8, 9]);
        assert_eq!(l.group, vec![1, 2, 2]);
    }

    #[test]
    fn short_runs_merge_into_the_majority_group() {
        // Bucket [0,10): group 1 runs 4 ns, group 2 runs 2 ns: busy 6/10.
        // Bucket [10,20): 3 ns busy only: left empty.
        // Bucket [20,30) fully group 2, [30,40) fully group 2: joined.
        let l = merge_runs(
            [
                run(0, 4, 1, 1),
                run(5, 7, 2, 2),
                run(12, 15, 3, 1),
                run(20, 40, 4, 2),
            ]
            .into_iter(),
            0,
            100,
            10,
        );
        assert_eq!(l.start, vec![0, 20]);
        assert_eq!(l.end, vec![10, 40]);
        assert_eq!(l.group, vec![1, 2]);
        assert_eq!(l.goroutine, vec![-1, 4]);
    }

    #[test]
    fn neighbours_of_one_group_join_and_forget_the_goroutine() {
        let l = merge_runs([run(0, 30, 1, 5), run(30, 60, 2, 5)].into_iter(), 0, 60, 10);
        assert_eq!(
            (l.start, l.end, l.goroutine, l.group),
            (vec![0], vec![60], vec![-1], vec![5])
        );
    }

    #[test]
    fn lanes_follow_goroutines_from_a_trace() {
        // g1 runs on P0 from the start, blocks at +10; g5 starts on P0 and
        // runs to the end of the trace.
        let text = "Trace Go1.22
EventBatch gen=1 m=0 time=100 size=0
ProcStatus dt=1 p=0 pstatus=1
GoStatus dt=1 g=1 m=0 gstatus=2
GoCreate dt=1 new_g=5 new_stack=1 stack=0
GoBlock dt=10 reason_string=1 stack=0
GoStart dt=1 g=5 g_seq=1
GoUnblock dt=1000 g=1 g_seq=1 stack=0
EventBatch gen=1 m=18446744073709551615 time=0 size=0
Frequency freq=15625000
EventBatch gen=1 m=18446744073709551615 time=0 size=0
Stacks
Stack id=1 nframes=1
\tpc=1 func=2 file=3 line=10
EventBatch gen=1 m=18446744073709551615 time=0 size=0
Strings
String id=1
\tdata=\"chan receive\"
String id=2
\tdata=\"main.worker\"
String id=3
\tdata=\"/src/main.go\"
";
        let bytes = crate::synth::trace_from_text(text).unwrap();
        let m = Model::from_reader(&bytes[..], crate::Config::default()).unwrap();
        let all = TimeRange {
            start_ns: m.first_ns(),
            end_ns: m.now_ns() + 1,
        };
        let lanes = m.proc_lanes(all, 1);
        assert_eq!(lanes.lanes.len(), 1, "{lanes:?}");
        let l = &lanes.lanes[0];
        assert_eq!(l.proc, 0);
        assert_eq!(l.goroutine, vec![1, 5], "{l:?}");
        assert!(l.end[0] <= l.start[1], "g5 starts after g1 left");
        assert!(l.end[1] > l.start[1]);
        let g5 = m.goroutine(5).unwrap();
        assert_eq!(l.group[1], g5.group);
    }
}
