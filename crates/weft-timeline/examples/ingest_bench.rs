//! Ingest throughput: decoding a trace alone vs decoding it into the model,
//! alternated in one process so machine drift hits both alike.
//!
//!   cargo run --release -p weft-timeline --example ingest_bench -- TRACE [RUNS]
//!
//! Throughput is per second of this thread's CPU time (a loaded machine
//! makes wall time meaningless; both are printed). Prints one line per run
//! and a summary with MB/s, the model/decoder
//! time ratio, the model's own size estimate and the process's peak RSS.
use std::time::Instant;

// The weft binary's allocator: the model's cost depends on it (fresh pages,
// reuse of freed chunks), so the benchmark measures what the binary does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use weft_timeline::{Config, Model};
use weft_trace::{Decoder, Status};

fn decode_only(bytes: &[u8]) -> u64 {
    let mut d = Decoder::new();
    d.feed(bytes);
    d.finish();
    let mut n = 0u64;
    loop {
        match d.advance().expect("decode") {
            Status::Event => {
                let e = d.event();
                n = n.wrapping_add(e.time() as u64);
            }
            Status::End => return n,
            Status::NeedData => unreachable!("all input fed"),
        }
    }
}

fn decode_into_model(bytes: &[u8]) -> Model {
    let mut d = Decoder::new();
    d.feed(bytes);
    d.finish();
    let mut cfg = Config::default();
    // WINDOW_S: detail window in seconds (default: the model's, 60 s).
    if let Some(w) = std::env::var("WINDOW_S")
        .ok()
        .and_then(|w| w.parse::<f64>().ok())
    {
        cfg.window_ns = (w * 1e9) as i64;
    }
    let mut m = Model::new(cfg);
    loop {
        match d.advance().expect("decode") {
            Status::Event => m.ingest(&d.event()),
            Status::End => return m,
            Status::NeedData => unreachable!("all input fed"),
        }
    }
}

// On-CPU time of this thread (ns), from the scheduler's own accounting: on
// a shared, loaded machine wall time mostly measures the neighbours.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: ingest_bench TRACE [RUNS]");
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    let bytes = std::fs::read(path).expect("read trace");
    let mb = bytes.len() as f64 / 1e6;
    let (mut dec, mut model) = (vec![], vec![]);
    let mut last = None;
    for i in 0..runs {
        let (t, c) = (Instant::now(), thread_cpu_ns());
        if std::env::var("SKIP_DECODE").is_err() {
            std::hint::black_box(decode_only(&bytes));
        }
        let (wa, a) = (
            t.elapsed().as_secs_f64(),
            (thread_cpu_ns() - c) as f64 / 1e9,
        );
        let (t, c) = (Instant::now(), thread_cpu_ns());
        let m = decode_into_model(&bytes);
        let (wb, b) = (
            t.elapsed().as_secs_f64(),
            (thread_cpu_ns() - c) as f64 / 1e9,
        );
        println!(
            "run {i}: decode {a:.3}s CPU ({:.0} MB/s; wall {wa:.3}s)  decode+model {b:.3}s CPU ({:.0} MB/s; wall {wb:.3}s)",
            mb / a,
            mb / b
        );
        dec.push(a);
        model.push(b);
        last = Some(m);
    }
    let m = last.unwrap();
    let s = m.stats();
    let (a, b) = (median(dec), median(model));
    println!(
        "trace {mb:.1} MB, {} events, {} goroutines kept, {} groups, {} spans, {} wakes",
        s.events, s.goroutines_kept, s.groups, s.spans, s.wakes
    );
    println!(
        "median per CPU-second: decode {:.0} MB/s, decode+model {:.0} MB/s ({:.1}M events/s), model/decode time {:.2}x; model estimate {:.0} MB; peak RSS {:.0} MB (includes the {mb:.0} MB input held in memory)",
        mb / a,
        mb / b,
        s.events as f64 / b / 1e6,
        b / a,
        s.heap_bytes as f64 / 1e6,
        peak_rss_kb() as f64 / 1e3
    );
}
