/*!
Turns goroutine snapshots into what a person acts on: groups of goroutines
doing the same thing, how each group changes over time, and named findings
(leaks, long waits, lock pile-ups, deadlocks) that say why in a sentence.

Data flow: a source (`weft-source`, `weft-profile`, `weft-attach`) produces a
[`weft_model::Snapshot`]; [`group`] folds it into [`Group`]s by stack
signature (function names only, so a rebuilt binary still matches), or
[`group_by_creation_site`] by the `go` statement; a [`Tracker`] fed one
snapshot after another keeps a bounded history per group and returns a
[`Report`] with deltas since a baseline, growth rates, leak suspicion and
[`Finding`]s. Nothing here does I/O.

```
use weft_analysis::{group, Tracker, TrackerConfig};
use weft_model::{Frame, Record, Snapshot, StateClass};

let rec = |n| Record {
    count: n,
    status: "chan receive".into(),
    class: StateClass::Blocked,
    stack: vec![
        Frame { func: "runtime.gopark".into(), ..Frame::default() },
        Frame { func: "main.handler.func1".into(), file: "main.go".into(), line: 42, pc: None },
    ]
    .into(),
    ..Record::default()
};
let snap = |t, n| Snapshot { taken_at_ms: t, records: vec![rec(n)], ..Snapshot::default() };

// "where" skips runtime plumbing.
assert_eq!(group(&snap(1, 3))[0].where_.as_ref().unwrap().func, "main.handler.func1");

let mut tracker = Tracker::new(TrackerConfig::default());
let mut report = tracker.observe(&snap(1_000, 3));
for i in 1..6 {
    report = tracker.observe(&snap(1_000 + i * 1_000, 3 + 10 * i));
}
let g = &report.groups[0];
assert_eq!(g.delta, 50);
assert!(g.leak_suspect);
assert_eq!(report.findings[0].kind, "leak");
println!("{}", report.findings[0].summary);
// 53 goroutines at main.handler.func1 (main.go:42): grew from 3 to 53 over
// 6 observations (5s) and never shrank, while blocked in chan receive
```

Public API in one breath:
- [`group`], [`group_by_creation_site`], [`where_frame`] (the documented
  rule for "where"), [`stack_key`], [`by_state`];
- [`Tracker`] (`new`, `observe`, `reset_baseline`, `clear`, `set_silenced`)
  with [`TrackerConfig`], returning [`Report`] / [`TrackedGroup`];
- [`Finding`], [`LINTS`] (names: `leak`, `long-wait`, `runtime-leak`,
  `lock-pileup`, `deadlock`).
*/

mod group;
mod lint;
/// Findings over the execution-trace model (`weft-timeline`): deadlock, partial-deadlock, leak, contention.
pub mod trace;
mod track;

pub use group::{
    by_state, group, group_by_creation_site, is_plumbing, package_of, stack_key, stack_signature,
    where_frame, Group, MAX_LABEL_VALUES, MAX_SAMPLE_IDS, MAX_WAIT_OBJECTS,
};
pub use lint::{is_lint, short_file, Finding, Lint, LINTS};
pub use track::{class_name, human_duration_ms, Report, TrackedGroup, Tracker, TrackerConfig};
