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
        // Runs go straight into per-P bucket cells, in whatever order the
        // goroutines give them: a busy capture has millions of runs, and
        // gathering and sorting them cost several times the scan.
        let mut by_p: Vec<Option<LaneCells>> = Vec::new();
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
                    by_p.resize_with(p + 1, || None);
                }
                by_p[p]
                    .get_or_insert_with(|| LaneCells::new(start, end, res))
                    .add(&Run {
                        start: s,
                        end: e,
                        goroutine: g.id,
                        group: g.group,
                    });
            }
        }
        for (p, cells) in by_p.into_iter().enumerate() {
            if let Some(cells) = cells {
                let mut pl = cells.finish();
                pl.proc = p as i64;
                out.lanes.push(pl);
            }
        }
        out
    }
}

/// One bucket of a lane: busy time, by group, and the goroutine if only
/// one ran. A bucket at a coarse resolution can hold thousands of runs of
/// thousands of goroutines, so nothing here grows with the goroutines.
#[derive(Clone, Default)]
struct Cell {
    busy: i64,
    /// The goroutine that ran, -1 if several, -2 if none yet.
    goroutine: i64,
    // The first group's time inline (most buckets see one group), others
    // aside.
    group: GroupId,
    group_ns: i64,
    more: Vec<(GroupId, i64)>,
}

impl Cell {
    fn add(&mut self, g: i64, group: GroupId, ns: i64) {
        self.goroutine = match self.goroutine {
            -2 => g,
            x if x == g => x,
            _ => -1,
        };
        if self.busy == 0 || self.group == group {
            self.group = group;
            self.group_ns += ns;
        } else {
            match self.more.iter_mut().find(|x| x.0 == group) {
                Some(x) => x.1 += ns,
                None => self.more.push((group, ns)),
            }
        }
        self.busy += ns;
    }

    // The group that ran most of the bucket (the lowest id of a tie).
    fn majority(&self) -> GroupId {
        let mut best = (self.group, self.group_ns);
        for &(g, ns) in &self.more {
            if ns > best.1 || (ns == best.1 && g < best.0) {
                best = (g, ns);
            }
        }
        best.0
    }
}

/// A lane being answered (see [`Model::proc_lanes`]): the runs of one P
/// over `[start, end)`, added in any order, in buckets of `res`. A bucket
/// at least half busy becomes a run of the group that ran most of it (a
/// run covering whole buckets keeps its goroutine), and neighbours of one
/// group are joined. Runs on one P do not overlap in a valid trace; if
/// they do, a bucket's busy time counts both.
struct LaneCells {
    start: i64,
    end: i64,
    res: i64,
    cells: Vec<Cell>,
}

impl LaneCells {
    fn new(start: i64, end: i64, res: i64) -> LaneCells {
        let n = ((end - start + res - 1) / res).max(1) as usize;
        LaneCells {
            start,
            end,
            res,
            cells: vec![
                Cell {
                    goroutine: -2,
                    ..Cell::default()
                };
                n
            ],
        }
    }

    fn bucket_start(&self, i: i64) -> i64 {
        self.start + i * self.res
    }

    /// Adds a run clipped to the range.
    fn add(&mut self, r: &Run) {
        if r.end <= r.start {
            return;
        }
        let bs = (r.start - self.start) / self.res;
        let be = (r.end - 1 - self.start) / self.res;
        if bs == be {
            self.cells[bs as usize].add(r.goroutine, r.group, r.end - r.start);
            return;
        }
        let first = self.bucket_start(bs + 1) - r.start;
        self.cells[bs as usize].add(r.goroutine, r.group, first);
        for i in bs + 1..be {
            self.cells[i as usize].add(r.goroutine, r.group, self.res);
        }
        let last = r.end - self.bucket_start(be);
        self.cells[be as usize].add(r.goroutine, r.group, last);
    }

    fn finish(self) -> ProcLane {
        let mut out = ProcLane::default();
        for (i, c) in self.cells.iter().enumerate() {
            if c.busy == 0 {
                continue;
            }
            let s = self.bucket_start(i as i64);
            let e = self.bucket_start(i as i64 + 1).min(self.end);
            if c.busy * 2 < e - s {
                continue;
            }
            let (group, g) = (c.majority(), c.goroutine);
            if let Some(last) = out.end.len().checked_sub(1) {
                if out.end[last] == s && out.group[last] == group {
                    out.end[last] = e;
                    if out.goroutine[last] != g {
                        out.goroutine[last] = -1;
                    }
                    continue;
                }
            }
            out.start.push(s);
            out.end.push(e);
            out.group.push(group);
            out.goroutine.push(g);
        }
        out
    }
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

    fn merge_runs(runs: impl Iterator<Item = Run>, start: i64, end: i64, res: i64) -> ProcLane {
        let mut l = LaneCells::new(start, end, res);
        for r in runs {
            l.add(&r);
        }
        l.finish()
    }

    #[test]
    fn cells_agree_with_each_bucket_computed_alone() {
        // Non-overlapping runs in shuffled order, short and long, against
        // each bucket's share computed from every run directly.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for res in [1, 7, 100, 1000] {
            let (start, end) = (50, 20_050);
            let mut runs = Vec::new();
            let mut t = start + (next() % 30) as i64;
            while t < end {
                let len = 1 + (next() % if next() % 8 == 0 { 3000 } else { 60 }) as i64;
                let e = (t + len).min(end);
                runs.push(run(t, e, (next() % 4) as i64, (next() % 3) as GroupId));
                t = e + (next() % 40) as i64;
            }
            let mut shuffled = runs.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, (next() % (i as u64 + 1)) as usize);
            }
            let got = merge_runs(shuffled.into_iter(), start, end, res);
            let mut want = ProcLane::default();
            let mut b = start;
            while b < end {
                let e = (b + res).min(end);
                let mut by_group = std::collections::BTreeMap::<GroupId, i64>::new();
                let mut gs = std::collections::BTreeSet::new();
                for r in &runs {
                    let ns = r.end.min(e) - r.start.max(b);
                    if ns > 0 {
                        *by_group.entry(r.group).or_default() += ns;
                        gs.insert(r.goroutine);
                    }
                }
                let busy: i64 = by_group.values().sum();
                if busy > 0 && busy * 2 >= e - b {
                    let top = *by_group.values().max().unwrap();
                    let grp = *by_group.iter().find(|x| *x.1 == top).unwrap().0;
                    let g = if gs.len() == 1 {
                        *gs.iter().next().unwrap()
                    } else {
                        -1
                    };
                    let n = want.end.len();
                    if n > 0 && want.end[n - 1] == b && want.group[n - 1] == grp {
                        want.end[n - 1] = e;
                        if want.goroutine[n - 1] != g {
                            want.goroutine[n - 1] = -1;
                        }
                    } else {
                        want.start.push(b);
                        want.end.push(e);
                        want.group.push(grp);
                        want.goroutine.push(g);
                    }
                }
                b = e;
            }
            assert_eq!(got, want, "res {res}");
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
