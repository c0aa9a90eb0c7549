//! Model tests on synthetic traces written in the text form of Go's trace
//! test corpus: intervals, wake edges and flows, resolution merging,
//! incremental changes, and bounded memory on a long churning stream.
use weft_timeline::synth::trace_from_text;
use weft_timeline::{Config, GState, GoroutineFilter, Model, TimeRange, WakerKind};

const ALL: TimeRange = TimeRange {
    start_ns: i64::MIN,
    end_ns: i64::MAX,
};
const NO_M: &str = "18446744073709551615";
// 15.625 MHz: one tick is 64 ns.
const TICK: i64 = 64;

fn tables(gen: u64) -> String {
    format!(
        "EventBatch gen={gen} m={NO_M} time=0 size=0
Frequency freq=15625000
EventBatch gen={gen} m={NO_M} time=0 size=0
Stacks
Stack id=1 nframes=1
\tpc=10 func=2 file=3 line=10
Stack id=2 nframes=2
\tpc=20 func=4 file=3 line=20
\tpc=21 func=5 file=3 line=5
Stack id=3 nframes=2
\tpc=30 func=6 file=7 line=30
\tpc=31 func=4 file=3 line=21
Stack id=4 nframes=1
\tpc=40 func=2 file=3 line=12
EventBatch gen={gen} m={NO_M} time=0 size=0
Strings
String id=1
\tdata=\"chan receive\"
String id=2
\tdata=\"main.worker\"
String id=3
\tdata=\"/src/app/main.go\"
String id=4
\tdata=\"main.serve\"
String id=5
\tdata=\"main.main\"
String id=6
\tdata=\"runtime.chanrecv1\"
String id=7
\tdata=\"/go/src/runtime/chan.go\"
"
    )
}

fn model_of(text: &str, cfg: Config) -> Model {
    let bytes = trace_from_text(text).unwrap();
    Model::from_reader(&bytes[..], cfg).unwrap()
}

/// g1 (main.serve) starts worker g5, blocks on a channel; g5 wakes it 1000 ticks later.
fn small() -> String {
    format!(
        "Trace Go1.22
EventBatch gen=1 m=0 time=1000 size=0
ProcStatus dt=1 p=0 pstatus=1
GoStatus dt=1 g=1 m=0 gstatus=2
GoCreate dt=10 new_g=5 new_stack=1 stack=2
GoBlock dt=10 reason_string=1 stack=3
GoStart dt=10 g=5 g_seq=1
GoUnblock dt=1000 g=1 g_seq=1 stack=4
GoDestroy dt=10
GoStart dt=10 g=1 g_seq=2
{}",
        tables(1)
    )
}

#[test]
fn intervals_wakes_and_inspector() {
    let m = model_of(&small(), Config::default());
    let g1 = m.goroutine(1).unwrap();
    let g5 = m.goroutine(5).unwrap();
    // Creation: parent, creation site (first non-runtime frame of the creator's stack), entry.
    assert_eq!(g5.parent, Some(1));
    assert_eq!(g5.entry, "main.worker");
    let site = g5.created_at.unwrap();
    assert_eq!((site.func.as_str(), site.line), ("main.serve", 20));
    assert_eq!(g1.children, vec![5]);
    assert_eq!(g5.state, GState::Dead);
    // Wake edge g5 -> g1 with the block-to-wake latency.
    assert_eq!(g1.woken_by, vec![(5, 1)]);
    assert_eq!(g5.woke, vec![(1, 1)]);
    assert_eq!(g1.recent_wakes.len(), 1);
    let w = &g1.recent_wakes[0];
    assert_eq!(
        (w.waker, w.wakee, w.waker_kind),
        (5, 1, WakerKind::Goroutine)
    );
    assert_eq!(w.blocked_ns as i64, 1010 * TICK);
    // g1: running, waiting (chan receive, at its block stack), runnable, running.
    let h = &g1.history;
    assert_eq!(
        h.state,
        vec![
            GState::Running,
            GState::Waiting,
            GState::Runnable,
            GState::Running
        ]
    );
    assert_eq!(h.end[1] - h.start[1], 1010 * TICK);
    let rows = m.intervals(
        ALL,
        1,
        &GoroutineFilter {
            ids: vec![1],
            ..Default::default()
        },
    );
    assert_eq!(rows.strings[&rows.rows[0].reason[1]], "chan receive");
    let frames = m.stack(rows.rows[0].stack[1]);
    assert_eq!(frames[0].func, "runtime.chanrecv1");
    assert_eq!(
        m.where_frame(rows.rows[0].stack[1]).unwrap().func,
        "main.serve"
    );
    // Flows: worker group -> serve's group, one wake.
    let flows = m.wake_flows();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].count, 1);
    assert_eq!(flows[0].from_group, Some(g5.group));
    assert_eq!(flows[0].to_group, g1.group);
    assert_eq!(flows[0].blocked.max_ns as i64, 1010 * TICK);
    // Groups by creation site.
    let grp = m.group(g5.group).unwrap();
    assert_eq!((grp.created, grp.exited, grp.live), (1, 1, 0));
    assert_eq!(grp.key, "main.worker@/src/app/main.go:20");
    // Serialisable for the web UI.
    let json = serde_json::to_string(&m.goroutine(1).unwrap()).unwrap();
    assert!(json.contains("\"woken_by\":[[5,1]]"), "{json}");
    serde_json::to_string(&m.sched()).unwrap();
    serde_json::to_string(&m.groups(true)).unwrap();
}

#[test]
fn resolution_merges_short_spans() {
    // g1 blocks and is woken 50 times, each span 10 ticks (640 ns).
    let mut ev = String::new();
    let mut seq = 0;
    for _ in 0..50 {
        seq += 1;
        ev += &format!("GoBlock dt=10 reason_string=1 stack=3\nGoStart dt=10 g=5 g_seq={seq}\nGoUnblock dt=10 g=1 g_seq={seq} stack=4\nGoStop dt=10 reason_string=0 stack=0\nGoStart dt=10 g=1 g_seq={}\n", seq + 1);
        seq += 1;
    }
    // g5 is created first and keeps its own sequence numbers.
    let text = format!(
        "Trace Go1.22
EventBatch gen=1 m=0 time=1000 size=0
ProcStatus dt=1 p=0 pstatus=1
GoStatus dt=1 g=1 m=0 gstatus=2
GoCreate dt=10 new_g=5 new_stack=1 stack=2
{}
{}",
        fix_seqs(&ev),
        tables(1)
    );
    let m = model_of(&text, Config::default());
    let f = GoroutineFilter {
        ids: vec![1],
        ..Default::default()
    };
    let fine = m.intervals(ALL, 1, &f);
    assert!(
        fine.rows[0].start.len() >= 100,
        "{}",
        fine.rows[0].start.len()
    );
    let coarse = m.intervals(ALL, 100_000, &f);
    assert_eq!(coarse.rows[0].start.len(), 1, "{:?}", coarse.rows[0]);
    // A window in the middle is clipped to the range.
    let t0 = fine.rows[0].start[10] + 100;
    let mid = m.intervals(
        TimeRange {
            start_ns: t0,
            end_ns: t0 + 5000,
        },
        1,
        &f,
    );
    assert!(mid.rows[0].start[0] >= t0 && *mid.rows[0].end.last().unwrap() <= t0 + 5000);
    assert_eq!(m.goroutine(1).unwrap().wakes_in, 50);
}

// GoStart/GoUnblock sequence numbers per goroutine: g5 counts its own starts,
// g1 its unblocks and starts.
fn fix_seqs(ev: &str) -> String {
    let (mut s1, mut s5) = (0, 0);
    ev.lines()
        .map(|l| {
            if l.starts_with("GoStart dt=10 g=5") {
                s5 += 1;
                format!("GoStart dt=10 g=5 g_seq={s5}")
            } else if l.starts_with("GoUnblock") {
                s1 += 1;
                format!("GoUnblock dt=10 g=1 g_seq={s1} stack=4")
            } else if l.starts_with("GoStart dt=10 g=1") {
                s1 += 1;
                format!("GoStart dt=10 g=1 g_seq={s1}")
            } else if l.starts_with("GoStop") {
                // g5 yields so g1 can run.
                l.to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn changes_since_reports_only_what_changed() {
    let text = small();
    let bytes = trace_from_text(&text).unwrap();
    let mut m = Model::new(Config::default());
    let mut r = weft_trace::Reader::new(&bytes[..]);
    let mut versions = vec![];
    while let Some(e) = r.next_event().unwrap() {
        m.ingest(&e);
        versions.push(m.version());
    }
    assert!(versions.windows(2).all(|w| w[0] <= w[1]));
    let all = m.changes_since(0);
    assert_eq!(
        all.goroutines.iter().map(|g| g.id).collect::<Vec<_>>(),
        vec![1, 5]
    );
    let none = m.changes_since(m.version());
    assert!(none.goroutines.is_empty() && none.groups.is_empty() && !none.full_resync);
    assert_eq!(none.version, m.version());
}

/// A long stream: every generation g1 creates 300 short-lived workers that
/// wake it, 64 µs apart, for `gens` generations (~115 ms each).
fn churn(gens: u64) -> Vec<u8> {
    let mut text = String::from("Trace Go1.22\n");
    let mut next_g = 100;
    for gen in 1..=gens {
        let mut ev = format!(
            "EventBatch gen={gen} m=0 time={} size=0\nProcStatus dt=1 p=0 pstatus=1\nGoStatus dt=1 g=1 m=0 gstatus=2\n",
            1000 + (gen as i64 - 1) * 2_000_000
        );
        let mut s1 = 0;
        for _ in 0..300 {
            next_g += 1;
            s1 += 1;
            ev += &format!(
                "GoCreate dt=1000 new_g={next_g} new_stack=1 stack=2\nGoBlock dt=1000 reason_string=1 stack=3\nGoStart dt=1000 g={next_g} g_seq=1\nGoUnblock dt=1000 g=1 g_seq={s1} stack=4\nGoDestroy dt=1000\n"
            );
            s1 += 1;
            ev += &format!("GoStart dt=1000 g=1 g_seq={s1}\n");
        }
        text += &ev;
        text += &tables(gen);
    }
    trace_from_text(&text).unwrap()
}

#[test]
fn eviction_keeps_detail_bounded_on_a_long_stream() {
    let bytes = churn(120); // ~14 s of trace, 36k goroutines, ~180k spans
    let cfg = Config {
        window_ns: 1_000_000_000,
        max_spans: 5_000,
        ..Config::default()
    };
    let mut m = Model::new(cfg.clone());
    let mut r = weft_trace::Reader::new(&bytes[..]);
    let mut peak_spans = 0;
    let mut peak_kept = 0;
    let mut heap_at = vec![];
    let mut syncs = 0;
    while let Some(e) = r.next_event().unwrap() {
        m.ingest(&e);
        if e.kind() == weft_trace::EventKind::Sync {
            syncs += 1;
            let s = m.stats();
            peak_spans = peak_spans.max(s.spans);
            peak_kept = peak_kept.max(s.goroutines_kept);
            heap_at.push(s.heap_bytes);
            // Detail never reaches further back than the window.
            assert!(s.detail_start_ns >= s.now_ns - cfg.window_ns, "{s:?}");
        }
    }
    let s = m.stats();
    assert!(syncs >= 120);
    // One generation adds ~1500 spans between evictions.
    assert!(peak_spans <= cfg.max_spans + 2_500, "peak {peak_spans}");
    // Exited goroutines are forgotten once they fall out of the window:
    // at most ~one window (1 s ≈ 9 generations) of the 36k created.
    assert!(peak_kept < 4_000, "kept {peak_kept}");
    // Memory flat: the estimate late in the run is not above twice the early one.
    let (early, late) = (heap_at[20], *heap_at.last().unwrap());
    assert!(late < early * 2, "heap estimate grew {early} -> {late}");
    // Aggregates survive eviction.
    let g1 = m.goroutine(1).unwrap();
    assert_eq!(g1.wakes_in, 120 * 300);
    let workers: u64 = m
        .groups(true)
        .iter()
        .filter(|g| g.entry == "main.worker")
        .map(|g| g.created)
        .sum();
    assert_eq!(workers, 36_000);
    assert_eq!(m.wake_flows().iter().map(|f| f.count).sum::<u64>(), 36_000);
    assert!(s.wakes <= 36_000);
    // The caps also hold per goroutine.
    let tight = Config {
        max_spans_per_goroutine: 50,
        ..cfg
    };
    let m2 = Model::from_reader(&bytes[..], tight).unwrap();
    assert!(m2.goroutine(1).unwrap().history.start.len() <= 51);
    assert!(m2.goroutine(1).unwrap().history_dropped > 0);
}
