//! Timeline rows for an explicit list of goroutines (a viewport page), for
//! frontends that do their own row layout: looks each id up directly instead
//! of filtering every goroutine like [`Model::intervals`].
use crate::model::{GState, Model};
use crate::query::{IntervalRow, Intervals, TimeRange};

impl Model {
    /// Like [`Model::intervals`] for exactly `ids`, in that order; unknown
    /// ids get empty rows so row `i` is always `ids[i]`.
    pub fn intervals_of(&self, ids: &[i64], range: TimeRange, resolution_ns: i64) -> Intervals {
        let res = resolution_ns.max(1);
        let mut out = Intervals {
            range: Some(range),
            resolution_ns: res,
            detail_start_ns: self.detail_start_ns(),
            ..Intervals::default()
        };
        for &id in ids {
            let mut row = IntervalRow {
                goroutine: id,
                ..IntervalRow::default()
            };
            let Some(g) = self.gs.get(&id) else {
                out.rows.push(row);
                continue;
            };
            row.group = g.group;
            let current = (g.state != GState::Dead).then_some((
                g.since_ns,
                self.now_ns,
                g.state,
                g.reason,
                g.stack,
            ));
            // Spans are sorted by start: skip those ending before the range.
            let first = g.spans.partition_point(|s| s.end <= range.start_ns);
            let spans = g
                .spans
                .range(first..)
                .take_while(|s| s.start < range.end_ns)
                .map(|s| (s.start, s.end, s.state(), s.reason(), s.stack))
                .chain(current);
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
                out.strings
                    .entry(r)
                    .or_insert_with(|| self.strs.str(r).to_string());
            }
            out.rows.push(row);
        }
        out
    }
}
