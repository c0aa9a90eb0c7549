//! Times weft-profile's parse (and weft-analysis grouping) on dump files.
//!
//! usage: profile-parse-bench ROUNDS FILE...
//! Prints one line per file: size, goroutines, records, and the median and
//! minimum of parse and group times over ROUNDS runs.

use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// CPU time this thread has used, from /proc (Linux). On a shared machine
/// this is steadier than wall time, which counts time spent descheduled.
fn thread_cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(
        s.split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    for path in &args[2..] {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (mut parse_t, mut group_t) = (Vec::new(), Vec::new());
        let (mut parse_cpu, mut group_cpu) = (Vec::new(), Vec::new());
        let mut summary = (0, 0, 0);
        for _ in 0..rounds {
            let (c, t) = (thread_cpu(), Instant::now());
            let snap = weft_profile::parse(&data).expect("parse");
            parse_t.push(t.elapsed());
            parse_cpu.push(thread_cpu() - c);
            let (c, t) = (thread_cpu(), Instant::now());
            let groups = weft_analysis::group(&snap);
            group_t.push(t.elapsed());
            group_cpu.push(thread_cpu() - c);
            summary = (snap.total(), snap.records.len(), groups.len());
            drop(groups);
            drop(snap);
        }
        let pm = median(parse_t.clone());
        println!(
            "{path}: {:.1} MB, {} goroutines, {} records, {} groups | parse median {:.1} ms (min {:.1}), {:.0} MB/s | group median {:.1} ms (min {:.1}) | parse+group {:.1} ms | CPU time medians: parse {:.1} ms, group {:.1} ms",
            data.len() as f64 / 1e6,
            summary.0,
            summary.1,
            summary.2,
            ms(pm),
            ms(*parse_t.iter().min().unwrap()),
            data.len() as f64 / 1e6 / pm.as_secs_f64(),
            ms(median(group_t.clone())),
            ms(*group_t.iter().min().unwrap()),
            ms(pm + median(group_t)),
            ms(median(parse_cpu)),
            ms(median(group_cpu)),
        );
    }
}
