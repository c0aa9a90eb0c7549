/*!
weft-timeline is the concurrency model of a Go program built from its
execution trace: every goroutine with its parent, creation site, state
history and block stacks; groups of goroutines started by the same `go`
statement with their state counts over time; who woke whom, aggregated into
group-to-group flows with block-to-wake latencies; per-P occupancy,
scheduling latency, syscalls, GC and stop-the-world pauses, heap metrics,
user tasks and regions. It does no I/O: a source feeds it decoded events
([`Model::ingest`]), frontends and analyses read it through the query
methods, which return plain serde types.

Memory stays bounded on endless streams: per-span detail (state spans,
single wakes, GC/STW/region ranges) is kept for a window behind the newest
event ([`Config::window_ns`], 60 s) and under hard caps
([`Config::max_spans`], per goroutine, wakes); aggregates (group counters
and series, wake flows, histograms, blocked time per site) cover the whole
run; goroutines that exited before the window are forgotten. Strings,
frames and stacks are interned once, so the ingest path does no string work
(trace ids are mapped to model ids through a per-generation cache).

```
use weft_timeline::{Config, Model, TimeRange, GoroutineFilter};

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
let bytes = weft_timeline::synth::trace_from_text(text).unwrap();
let model = Model::from_reader(&bytes[..], Config::default()).unwrap();
let g1 = model.goroutine(1).unwrap();
assert_eq!(g1.woken_by, vec![(5, 1)]);            // goroutine 5 woke goroutine 1
assert_eq!(model.goroutine(5).unwrap().entry, "main.worker");
let rows = model.intervals(
    TimeRange { start_ns: i64::MIN, end_ns: i64::MAX },
    1,
    &GoroutineFilter { ids: vec![1], ..Default::default() },
);
assert_eq!(rows.rows[0].state.len(), 3);         // running, waiting, runnable
```

API for frontends (all return serde types): [`Model::version`] and
[`Model::changes_since`] for incremental updates; [`Model::intervals`] (time
range × resolution × [`GoroutineFilter`] → columnar rows, spans below the
resolution merged) and [`Model::wakes`] for the timeline;
[`Model::groups`], [`Model::group`], [`Model::series`] for group tables and
sparklines; [`Model::wake_flows`] for the communication graph;
[`Model::goroutine`] for the inspector (stack, creator, children, history,
who woke it and whom it woke); [`Model::sched`], [`Model::ranges`],
[`Model::heap_series`], [`Model::tasks`] for scheduler/GC/heap views;
[`Model::block_sites`] for contention; [`Model::proc_lanes`] for P lanes
(which goroutine ran on each P over time); [`Model::stats`] for memory.
Analyses may read the raw records ([`Goroutine`], [`Group`], [`Flow`]).
*/

mod chunked;
mod digest;
mod hist;
mod intern;
mod live_feed;
mod model;
mod procs;
mod query;
mod rows;
mod sampled;
pub mod synth;
mod table;

pub use digest::{Batch, Feeder, Op, BATCH_EVENTS};
pub use hist::{Histogram, Percentiles};
pub use intern::{is_runtime_func, is_system_entry, FrameInfo, StackId, StrId};
pub use live_feed::{LiveFeed, WithModel};
pub use model::{
    BlockAgg, Config, Flow, GState, Goroutine, Group, GroupId, Model, TaskRec, WakerKind,
};
pub use procs::{ProcLane, ProcLanes};
pub use query::{
    BlockSite, Changes, GoroutineFilter, GoroutineInfo, GoroutineRow, GroupSummary, IntervalRow,
    Intervals, ModelStats, ProcOccupancy, RangeInfo, SchedSummary, Series, StackBucket,
    StateCounts, TimeRange, WakeEvent, WakeFlow,
};
pub use sampled::{ObjectWaiters, SampleApplied, WaitObjectNode};
