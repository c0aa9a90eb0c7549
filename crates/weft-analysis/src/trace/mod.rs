//! Findings over the trace-fed model ([`weft_timeline::Model`]): deadlocks
//! (whole-program and partial), goroutine leaks, and where time goes
//! (blocked time by site, scheduling latency, GC and stop-the-world).
//!
//! A trace records who woke whom but not which channel or mutex a goroutine
//! waits on, so deadlocks and leaks are inferred from evidence, and every
//! finding says how sure it is and why:
//! - a goroutine is *stuck* when it has waited on a channel, select, lock,
//!   WaitGroup or Cond for at least [`TraceConfig::min_blocked_ns`] (or since
//!   before the trace began) and its group was never woken by a timer or the
//!   netpoller (so no timeout case will end the wait);
//! - a stuck goroutine is *dead-locked* when nothing that could wake it is
//!   still running: the groups that woke its group before are all gone or
//!   stuck themselves (high confidence), or every goroutine it started has
//!   exited (high), or its creator has exited and nothing else ever woke it
//!   (medium); a goroutine stuck in `Mutex.Lock` that long is reported
//!   regardless (high when two or more are stuck that way: a lock cycle);
//! - it is a whole-program `deadlock` when no goroutine of the program can
//!   run any more, a `partial-deadlock` while the rest of the program runs on;
//! - a group *leaks* when its blocked population keeps growing and the waits
//!   at its blocking site almost never end.
//!
//! Findings are attributed to the blocking stack's first user frame and to
//! the `go` statement that created the goroutines.

mod deadlock;
mod leak;
mod perf;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use weft_timeline::{FrameInfo, GroupId, Model, StackId};

use crate::lint::{short_file, Finding, Lint};

pub use deadlock::{stuck_goroutines, Stuck, WaitKind};

/// Thresholds of the trace findings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TraceConfig {
    /// A wait this long (with no wake) makes a goroutine a deadlock suspect.
    pub min_blocked_ns: i64,
    /// A leak needs at least this many never-woken members...
    pub leak_min_stuck: u64,
    /// ...and the blocked population to have grown by at least this much.
    pub leak_min_growth: u64,
    /// Blocking sites reported by `contention`.
    pub top_n: usize,
    /// Lints not to run.
    pub silenced: BTreeSet<String>,
}

impl Default for TraceConfig {
    fn default() -> Self {
        TraceConfig {
            min_blocked_ns: 1_000_000_000,
            leak_min_stuck: 5,
            leak_min_growth: 5,
            top_n: 5,
            silenced: BTreeSet::new(),
        }
    }
}

/// How sure a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// Goroutines of one group behind a finding.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Evidence {
    /// Group key (`entry@file:line` of the `go` statement).
    pub group: String,
    /// The goroutines' entry function.
    pub entry: String,
    /// The `go` statement that created them.
    pub created_at: Option<FrameInfo>,
    /// First user frame of the blocking stack.
    pub where_: Option<FrameInfo>,
    /// Blocking stack, function names, innermost first.
    pub stack: Vec<String>,
    pub reason: String,
    pub count: u64,
    /// A sample of goroutine ids.
    pub goroutines: Vec<i64>,
    /// Earliest time any of them blocked (trace clock, ns).
    pub blocked_since_ns: i64,
    /// Longest wait so far.
    pub blocked_ns: i64,
    /// They were already blocked when the trace began.
    pub since_before_trace: bool,
}

/// A finding from a trace, with its evidence.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TraceFinding {
    /// Name, summary, group keys and goroutine ids, as every analysis reports them.
    #[serde(flatten)]
    pub finding: Finding,
    pub severity: Severity,
    pub confidence: Confidence,
    /// Why weft believes it, in a sentence or two.
    pub reasoning: String,
    /// Functions the finding is attributed to: blocking frames, entry functions, creators.
    pub functions: Vec<String>,
    pub evidence: Vec<Evidence>,
}

/// The trace lints, in report order.
pub const TRACE_LINTS: &[Lint] = &[
    Lint {
        name: "deadlock",
        description: "no goroutine of the program can run and all wait on channels or locks (trace)",
    },
    Lint {
        name: "partial-deadlock",
        description: "goroutines wait on channels or locks that nothing still running will release, while the rest of the program runs on (trace)",
    },
    Lint {
        name: "leak",
        description: "a group's blocked population grows and its members never wake again (trace)",
    },
    Lint {
        name: "contention",
        description: "where goroutines spend blocked time, by reason and blocking site (trace)",
    },
    Lint {
        name: "sched-latency",
        description: "time goroutines wait runnable before they run (trace)",
    },
    Lint {
        name: "gc-pause",
        description: "time spent in GC marking and stop-the-world pauses (trace)",
    },
];

/// Runs every trace lint that is not silenced.
pub fn analyze(model: &Model, cfg: &TraceConfig) -> Vec<TraceFinding> {
    let on = |name: &str| !cfg.silenced.contains(name);
    let mut out = Vec::new();
    let stuck = stuck_goroutines(model, cfg);
    let leaks = if on("leak") {
        leak::leaks(model, cfg)
    } else {
        Vec::new()
    };
    let leaked: BTreeSet<GroupId> = leaks.iter().map(|l| l.0).collect();
    if on("deadlock") || on("partial-deadlock") {
        for f in deadlock::deadlocks(model, cfg, &stuck, &leaked) {
            if on(&f.finding.kind) {
                out.push(f);
            }
        }
    }
    out.extend(leaks.into_iter().map(|l| l.1));
    if on("contention") {
        out.extend(perf::contention(model, cfg));
    }
    if on("sched-latency") {
        out.extend(perf::sched_latency(model));
    }
    if on("gc-pause") {
        out.extend(perf::gc_pause(model));
    }
    out
}

/// `func (dir/file.go:line)`.
pub(crate) fn place(f: &FrameInfo) -> String {
    if f.line > 0 {
        format!("{} ({}:{})", f.func, short_file(&f.file), f.line)
    } else {
        f.func.clone()
    }
}

/// How a finding's summary names where its goroutines wait and where they
/// were started: ("main.f (x.go:12)", ", started at main.g (x.go:3)").
pub(crate) fn wait_and_start_places(ev: &Evidence) -> (String, String) {
    let at = ev
        .where_
        .as_ref()
        .map(place)
        .unwrap_or_else(|| "an unknown place".into());
    let started = ev
        .created_at
        .as_ref()
        .map(|f| format!(", started at {}", place(f)))
        .unwrap_or_default();
    (at, started)
}

pub(crate) fn evidence(
    model: &Model,
    group: GroupId,
    stack: StackId,
    reason: &str,
    ids: &[i64],
) -> Evidence {
    let g = model.group_raw(group);
    let mut since = i64::MAX;
    let mut before = false;
    let mut sample: Vec<i64> = ids.to_vec();
    sample.sort_unstable();
    for &id in ids {
        if let Some(x) = model.goroutine_raw(id) {
            since = since.min(x.since_ns);
            before |= x.since_before_trace;
        }
    }
    sample.truncate(64);
    Evidence {
        group: model.group_key(group),
        entry: g
            .map(|g| model.str(g.entry).to_string())
            .unwrap_or_default(),
        created_at: model.group(group).and_then(|s| s.created_at),
        where_: model.where_frame(stack),
        stack: model
            .stack_funcs(stack)
            .into_iter()
            .map(String::from)
            .collect(),
        reason: reason.to_string(),
        count: ids.len() as u64,
        goroutines: sample,
        blocked_since_ns: if since == i64::MAX { 0 } else { since },
        blocked_ns: if since == i64::MAX {
            0
        } else {
            model.now_ns() - since
        },
        since_before_trace: before,
    }
}

pub(crate) fn functions_of(ev: &[Evidence]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for e in ev {
        for f in [
            e.where_.as_ref().map(|f| f.func.clone()),
            Some(e.entry.clone()),
            e.created_at.as_ref().map(|f| f.func.clone()),
        ]
        .into_iter()
        .flatten()
        {
            if !f.is_empty() && !v.contains(&f) {
                v.push(f);
            }
        }
    }
    v
}

pub(crate) fn secs(ns: i64) -> String {
    let s = ns as f64 / 1e9;
    if s >= 10.0 {
        format!("{s:.0}s")
    } else if s >= 0.1 {
        format!("{s:.1}s")
    } else {
        format!("{:.1}ms", ns as f64 / 1e6)
    }
}
