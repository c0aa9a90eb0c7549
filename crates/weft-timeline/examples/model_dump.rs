//! Every query of the model over one trace, as JSON lines: for checking that
//! a change to the ingest path leaves the answers alone. Build it at two
//! commits, run both on the same traces and compare the outputs
//! (`bench/timeline/same.sh` does that).
//!
//!   cargo run --release -p weft-timeline --example model_dump -- TRACE [tight|capped]
//!
//! `tight` uses a short window and small caps, so eviction and every cap
//! take part; `capped` keeps the default window and per-goroutine cap but
//! small total caps, so eviction is driven by the span and wake caps. The model's own size estimate is left out (it is an
//! estimate of the storage, which such changes are meant to alter).
use serde_json::json;
use weft_timeline::{Config, GoroutineFilter, Model, TimeRange};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: model_dump TRACE [tight|capped]");
    let mut cfg = Config::default();
    if args.get(2).map(String::as_str) == Some("tight") {
        cfg.window_ns = 300_000_000;
        cfg.max_spans = 200_000;
        cfg.max_spans_per_goroutine = 50;
        cfg.max_wakes = 20_000;
        cfg.max_ranges = 100;
    }
    if args.get(2).map(String::as_str) == Some("capped") {
        cfg.max_spans = 100_000;
        cfg.max_wakes = 50_000;
    }
    let bytes = std::fs::read(path).expect("read trace");
    let m = Model::from_reader(&bytes[..], cfg).expect("decode");
    let out = |name: &str, v: serde_json::Value| println!("{name} {v}");

    let mut st = m.stats();
    st.heap_bytes = 0;
    out("stats", json!(st));
    out("version", json!(m.version()));
    out(
        "detail",
        json!([m.detail_start_ns(), m.detail_complete_ns()]),
    );
    let (first, now) = (m.first_ns(), m.now_ns());
    let all = GoroutineFilter::default();
    let ids = m.select(&all);
    out("select", json!(ids));
    // The whole run, and a few windows inside the detail window.
    let d0 = m.detail_start_ns().max(first);
    let mut ranges = vec![TimeRange {
        start_ns: i64::MIN,
        end_ns: i64::MAX,
    }];
    for k in 0..4 {
        let len = (now - d0).max(1);
        let s = d0 + len * k / 5;
        ranges.push(TimeRange {
            start_ns: s,
            end_ns: s + len / 7 + 1,
        });
    }
    for r in &ranges {
        let span = (r.end_ns.min(now) - r.start_ns.max(first)).max(1);
        for res in [1, span / 300 + 1, span / 20 + 1] {
            out("intervals", json!(m.intervals(*r, res, &all)));
            out("lanes", json!(m.proc_lanes(*r, res)));
        }
        out("wakes", json!(m.wakes(*r, &all, 1 << 20)));
    }
    out("groups", json!(m.groups(true)));
    for g in m.groups_raw() {
        out("group", json!(m.group(g.id)));
        out("series", json!(m.series(g.id)));
    }
    out("flows", json!(m.wake_flows()));
    for &id in &ids {
        out("goroutine", json!(m.goroutine(id)));
    }
    out("sched", json!(m.sched()));
    out("ranges", json!(m.ranges()));
    out("tasks", json!(m.tasks()));
    out("blocks", json!(m.block_sites()));
    out("heap", json!(m.heap_series()));
    out("changes", json!(m.changes_since(0)));
}
