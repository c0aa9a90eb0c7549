//! What the UI shows, in its own types: sources and analyses are converted
//! into these at the edge (see `adapt`), so the screen code never depends on
//! how a report was produced.

use std::time::Duration;

use weft_model::{Frame, Record, StateClass};

/// One row of the group table: goroutines that share a stack.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupView {
    /// Stable identity of the group across reports (used to keep the
    /// selection on the same group when rows move).
    pub key: String,
    pub count: u64,
    /// Change of `count` since the previous report.
    pub delta: i64,
    /// Growth per minute over the tracked history.
    pub rate_per_min: f64,
    /// The runtime's state name (`chan receive`, `select`, `running`...).
    pub state: String,
    pub class: StateClass,
    /// The first frame that is the program's own code (not `runtime.`).
    pub where_: Option<Frame>,
    pub created_by: Option<Frame>,
    /// Full stack, innermost first.
    pub stack: Vec<Frame>,
    /// Flagged by the analysis as a probable leak.
    pub leak_suspect: bool,
    /// Why it is flagged (one sentence per reason).
    pub why: Vec<String>,
    /// Count over the tracked history, oldest first.
    pub history: Vec<u64>,
}

impl GroupView {
    /// The "where" column text: function and `file:line` of the first
    /// non-runtime frame.
    pub fn where_text(&self) -> String {
        self.where_.as_ref().map(short_frame).unwrap_or_default()
    }

    pub fn created_by_text(&self) -> String {
        self.created_by
            .as_ref()
            .map(short_frame)
            .unwrap_or_default()
    }
}

/// A finding of the analysis, already phrased for people.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FindingView {
    /// Kebab-case name of the check, e.g. `goroutine-growth`.
    pub name: String,
    pub message: String,
}

/// Everything one analysed observation contributes to the screen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportView {
    pub total: u64,
    /// Change of the total since the previous report.
    pub total_delta: i64,
    /// Observations since the baseline (1 right after a start or restart).
    pub observations: usize,
    /// Goroutine count per state class name (`blocked`, `running`...).
    pub by_class: Vec<(String, u64)>,
    /// Total over the tracked history, oldest first (for the sparkline).
    pub total_history: Vec<u64>,
    pub groups: Vec<GroupView>,
    pub findings: Vec<FindingView>,
    /// `debug=1`, `debug=0`, `debug=2`, `memory`... for the status line.
    pub form: String,
}

/// Per-goroutine detail (from a `debug=2` dump) for the selected group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GoroutineDetail {
    pub id: u64,
    /// Function of the goroutine's "where" frame (to match a group when the
    /// dump's stacks differ slightly from the polled form's).
    pub where_func: String,
    pub state: String,
    pub wait_minutes: Option<u64>,
    pub creator_id: Option<u64>,
    pub labels: Vec<(String, String)>,
}

/// The answer to a details request (`d`).
#[derive(Clone, Debug, PartialEq)]
pub enum DetailsReply {
    /// Per-goroutine records of the dump; the UI picks the selected group's.
    Records(Vec<Record>),
    /// The source refused or failed, with its message (e.g. too many
    /// goroutines for a stop-the-world dump, or rate-limited).
    Refused(String),
}

/// The connection state the screen always shows.
#[derive(Clone, Debug, PartialEq)]
pub enum Connection {
    /// Before the first answer.
    Connecting,
    Connected,
    /// The last poll failed; the poller retries after `retry_in` (counted
    /// from when this state was entered).
    Disconnected {
        error: String,
        retry_in: Duration,
    },
    /// The target is there but the last poll failed (timeout, bad status,
    /// bad body); retried after `retry_in`.
    Failing {
        error: String,
        retry_in: Duration,
    },
    /// The target came back as a new process; history starts over.
    Restarted,
    /// A file: shown once, nothing to poll.
    Static,
}

/// What the main loop feeds into the UI state.
#[derive(Clone, Debug, PartialEq)]
pub enum Feed {
    Report(ReportView),
    Connection(Connection),
    Details(DetailsReply),
    /// A note for the status line (e.g. the leak profile is not served).
    Notice(String),
    /// The live trace's newest findings and flows.
    Trace(crate::trace::TraceView),
    /// The live trace's state for the header.
    TraceStatus(crate::trace::TraceStatus),
    /// Where the raw trace was saved (`w`, or on a finding), or why not.
    TraceSaved(Result<String, String>),
}

/// `func file:line` with only the file's base name, for narrow columns.
pub fn short_frame(f: &Frame) -> String {
    let base = f.file.rsplit('/').next().unwrap_or("");
    if base.is_empty() {
        f.func.clone()
    } else if f.line > 0 {
        format!("{} {}:{}", f.func, base, f.line)
    } else {
        format!("{} {}", f.func, base)
    }
}

/// Lower-case name of a state class for the header and the filter: the
/// same names the reports and the JSON use.
pub use weft_analysis::class_name;
