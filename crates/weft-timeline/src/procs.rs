//! P lanes: which goroutine ran on each P (processor) over time.
//!
//! Nothing is kept for them apart from the goroutines' own spans: a
//! goroutine starts running on the P of its `GoStart`, and its running
//! span records that P (see `Span::proc`). [`Model::proc_lanes`] gathers
//! the running spans of every goroutine over a range by P and answers at a
//! resolution, merging runs shorter than it the way goroutine rows are
//! merged. So the lanes hold exactly the detail the goroutine rows hold,
//! and ingest pays one store per `GoStart` for them (a store of runs kept
//! apart cost ≈ 100 instructions per event, a fifth of the model's).
use serde::{Deserialize, Serialize};

use crate::model::{with_ends, GState, GroupId, Model, MAX_PROC_ID};
use crate::query::TimeRange;

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
    /// Runs before this time may be missing (evicted, or dropped with
    /// their goroutine's oldest spans).
    pub detail_start_ns: i64,
    /// Lanes by P id, only Ps that ran a goroutine in the range.
    pub lanes: Vec<ProcLane>,
}

impl Model {
    /// Per-P lanes over `range` at `res_ns`: runs shorter than the
    /// resolution are merged per bucket of `res_ns` (a bucket less than half
    /// busy stays empty; a busy one takes the group that ran most of it),
    /// then neighbours of one group are joined. A run still going on ends at
    /// the newest event. Reads every goroutine's spans over the range.
    pub fn proc_lanes(&self, range: TimeRange, res_ns: i64) -> ProcLanes {
        let start = range.start_ns.max(self.detail_start_ns());
        let end = range.end_ns;
        let len = (end - start).max(1);
        let res = res_ns.max(1).max((len + MAX_BUCKETS - 1) / MAX_BUCKETS);
        let mut out = ProcLanes {
            range: Some(range),
            resolution_ns: res,
            detail_start_ns: self.detail_complete_ns(),
            lanes: Vec::new(),
        };
        if end <= start {
            return out;
        }
        // Runs by P, clipped to the range.
        let mut by_p: Vec<Vec<Run>> = Vec::new();
        for g in self.gs.values() {
            let current = (g.state == GState::Running && g.proc >= 0).then_some((
                g.proc as i64,
                g.since_ns,
                self.now_ns.max(g.since_ns),
            ));
            let spans = with_ends(
                g.spans.from_before_partition(|s| s.start <= start).copied(),
                g.since_ns,
            )
            .take_while(|(s, _)| s.start < end)
            .filter_map(|(s, e)| s.proc().map(|p| (p, s.start, e)));
            for (p, s, e) in spans.chain(current) {
                let (s, e) = (s.max(start), e.min(end));
                if e <= s || !(0..MAX_PROC_ID).contains(&p) {
                    continue;
                }
                let p = p as usize;
                if by_p.len() <= p {
                    by_p.resize_with(p + 1, Vec::new);
                }
                by_p[p].push(Run {
                    start: s,
                    end: e,
                    goroutine: g.id,
                    group: g.group,
                });
            }
        }
        for (p, runs) in by_p.iter_mut().enumerate() {
            if runs.is_empty() {
                continue;
            }
            runs.sort_unstable_by_key(|r| (r.start, r.goroutine));
            // A P runs one goroutine at a time: a run whose end the trace
            // did not show (its P was taken over) ends where the next begins.
            for i in 1..runs.len() {
                let next = runs[i].start;
                let prev = &mut runs[i - 1];
                prev.end = prev.end.min(next);
            }
            let mut pl = merge_runs(runs.iter().copied(), start, end, res);
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
