//! Loading a whole trace file into the model the way `weft open` does:
//! on one thread (`Model::from_reader`) vs on two (decoder thread + model
//! thread, `Model::ingest_reader_pipelined`), alternated in one process.
//!
//!   cargo run --release -p weft-timeline --example load_bench -- TRACE [RUNS]
//!
//! Prints per run the wall time and the CPU time of the whole process (both
//! threads), then medians and the wall-time ratio. Wall time is what a user
//! waits for; on a shared machine it also measures the neighbours, so
//! compare the two sides of one run (and report the load average).
use std::time::Instant;

// The weft binary's allocator, with its settings (crates/weft/Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use weft_timeline::{Config, Model};

// CPU time of the whole process (all threads), ns.
fn process_cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ')'.
    let f: Vec<&str> = s
        .rsplit_once(')')
        .map_or("", |x| x.1)
        .split_whitespace()
        .collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime, in clock ticks (100 per second on Linux).
    (field(11) + field(12)) * 10_000_000
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: load_bench TRACE [RUNS]");
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    let bytes = std::fs::read(path).expect("read trace");
    let mb = bytes.len() as f64 / 1e6;
    let (mut one, mut two) = (vec![], vec![]);
    for i in 0..runs {
        let (t, c) = (Instant::now(), process_cpu_ns());
        let a = Model::from_reader(&bytes[..], Config::default()).expect("decode");
        let (w1, c1) = (
            t.elapsed().as_secs_f64(),
            (process_cpu_ns() - c) as f64 / 1e9,
        );
        let events = a.stats().events;
        drop(a);
        let (t, c) = (Instant::now(), process_cpu_ns());
        let mut b = Model::new(Config::default());
        b.ingest_reader_pipelined(&bytes[..], |_| {})
            .expect("decode");
        b.evict();
        let (w2, c2) = (
            t.elapsed().as_secs_f64(),
            (process_cpu_ns() - c) as f64 / 1e9,
        );
        assert_eq!(b.stats().events, events, "both loads see every event");
        drop(b);
        println!(
            "run {i}: one thread {w1:.3}s wall ({:.0} MB/s), CPU {c1:.2}s  two threads {w2:.3}s wall ({:.0} MB/s), CPU {c2:.2}s",
            mb / w1,
            mb / w2
        );
        one.push(w1);
        two.push(w2);
    }
    let (a, b) = (median(one), median(two));
    println!(
        "trace {mb:.1} MB; median wall: one thread {a:.3}s ({:.0} MB/s), two threads {b:.3}s ({:.0} MB/s), two/one {:.2}x",
        mb / a,
        mb / b,
        b / a
    );
}
