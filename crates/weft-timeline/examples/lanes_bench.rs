//! Query time of the P lanes beside the goroutine rows of the same view:
//! the lanes are read from every goroutine's spans at query time, so their
//! cost grows with the goroutines and spans in range.
//!
//!   cargo run --release -p weft-timeline --example lanes_bench -- TRACE [RUNS]
//!
//! Loads TRACE into a model with the default configuration, then for the
//! whole capture and for a window of 1/200 of it (in its middle) times
//! `proc_lanes` and `intervals` (rows, at most 2000, as the web UI asks) at
//! the resolution of a 1600-pixel-wide view; prints medians of RUNS
//! (default 9) of wall time (this thread's CPU time is counted in 4 ms
//! ticks on these machines, too coarse for a 1 ms query).
use std::time::Instant;

use weft_timeline::{Config, GoroutineFilter, Model, TimeRange};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: lanes_bench TRACE [RUNS]");
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(9);
    let t = Instant::now();
    let file = std::fs::File::open(path).expect("open trace");
    let m = Model::from_reader(std::io::BufReader::new(file), Config::default()).expect("decode");
    let st = m.stats();
    println!(
        "{path}: loaded in {:.2} s; {} goroutines, {} spans held",
        t.elapsed().as_secs_f64(),
        m.select(&GoroutineFilter {
            include_system: true,
            ..Default::default()
        })
        .len(),
        st.spans
    );
    let (first, now) = (m.detail_start_ns(), m.now_ns());
    let len = now - first;
    let whole = TimeRange {
        start_ns: first,
        end_ns: now + 1,
    };
    let mid = first + len / 2;
    let window = TimeRange {
        start_ns: mid,
        end_ns: mid + len / 200 + 1,
    };
    let rows = GoroutineFilter {
        limit: 2000,
        ..Default::default()
    };
    for (name, r) in [("whole capture", whole), ("1/200 window", window)] {
        let res = ((r.end_ns - r.start_ns) / 1600).max(1);
        let mut lanes_ms = Vec::new();
        let mut rows_ms = Vec::new();
        let mut lane_runs = 0;
        for _ in 0..runs {
            let c = Instant::now();
            let l = m.proc_lanes(r, res);
            lanes_ms.push(c.elapsed().as_secs_f64() * 1e3);
            lane_runs = l.lanes.iter().map(|x| x.start.len()).sum::<usize>();
            let c = Instant::now();
            let i = m.intervals(r, res, &rows);
            rows_ms.push(c.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(i);
        }
        println!(
            "{name}: proc_lanes {:.1} ms ({lane_runs} runs out), intervals (2000 rows) {:.1} ms; medians of {runs}",
            median(lanes_ms),
            median(rows_ms)
        );
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}
