//! Timeline rows for an explicit list of goroutines (a viewport page), for
//! frontends that do their own row layout: looks each id up directly instead
//! of filtering every goroutine like [`Model::intervals`].
use crate::model::Model;
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
            let row = match self.gs.get(&id) {
                Some(g) => self.interval_row(id, g, range, res, &mut out.strings),
                // Unknown: an empty row keeps row `i` at `ids[i]`.
                None => IntervalRow {
                    goroutine: id,
                    ..IntervalRow::default()
                },
            };
            out.rows.push(row);
        }
        out
    }
}
