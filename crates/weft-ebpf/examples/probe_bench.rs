//! The driver of `bench/ebpf/run.sh`: runs a chanbench binary and measures
//! its throughput in fixed windows, alternating unprobed / lifecycle set /
//! park-ready set in one run, then prints the ratios and the probes' hits.
//!
//! usage: probe_bench CHANBENCH_BINARY MODE WINDOW_SECS ROUNDS

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use weft_ebpf::{Counts, ProbeSet, Session};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: probe_bench CHANBENCH_BINARY MODE WINDOW_SECS ROUNDS");
        std::process::exit(2);
    }
    let window = Duration::from_secs_f64(args[3].parse().expect("WINDOW_SECS"));
    let rounds: usize = args[4].parse().expect("ROUNDS");
    let mut child = Command::new(&args[1])
        .args(["-mode", &args[2]])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting chanbench");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let child = Kill(child);
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "READY");
    let mut read_ops = || -> u64 {
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
        let mut l = String::new();
        stdout.read_line(&mut l).unwrap();
        l.trim().parse().expect("ops count")
    };
    let mut session = Session::open(child.0.id()).unwrap_or_else(|e| {
        eprintln!("probe_bench: {e}");
        std::process::exit(1)
    });
    // Warm up (the program's first second includes its start).
    std::thread::sleep(Duration::from_secs(1));

    let phases: [(&str, Option<ProbeSet>); 3] = [
        ("unprobed", None),
        ("lifecycle", Some(ProbeSet::Lifecycle)),
        ("park-ready", Some(ProbeSet::ParkReady)),
    ];
    // phase -> (ops, seconds, hits)
    let mut totals = [(0u64, 0f64, 0u64); 3];
    for round in 0..rounds {
        for (i, (name, set)) in phases.iter().enumerate() {
            if let Some(s) = set {
                session.attach(*s).unwrap();
            }
            let c0 = session.counts().unwrap();
            let (o0, t0) = (read_ops(), Instant::now());
            let deadline = t0 + window;
            // Keep the ring buffer drained, as weft would.
            while Instant::now() < deadline {
                let _ = session.poll(deadline.saturating_duration_since(Instant::now()));
            }
            let (o1, t1) = (read_ops(), Instant::now());
            let c1 = session.counts().unwrap();
            if let Some(s) = set {
                session.detach(*s).unwrap();
            }
            let hits = total(&c1) - total(&c0);
            let secs = (t1 - t0).as_secs_f64();
            eprintln!(
                "round {round} {name:>10}: {:>12.0} ops/s, {:>10.0} probe hits/s",
                (o1 - o0) as f64 / secs,
                hits as f64 / secs
            );
            totals[i].0 += o1 - o0;
            totals[i].1 += secs;
            totals[i].2 += hits;
        }
    }
    let base = totals[0].0 as f64 / totals[0].1;
    println!("mode={} window={}s rounds={rounds}", args[2], args[3]);
    println!("| probe set | ops/s | ratio to unprobed | probe hits/s | hits per op | extra time per hit |");
    println!("|---|---|---|---|---|---|");
    for (i, (name, _)) in phases.iter().enumerate() {
        let (ops, secs, hits) = totals[i];
        let rate = ops as f64 / secs;
        let ratio = rate / base;
        // Time the program lost to the probes, spread over their hits.
        let per_hit = if hits > 0 && ratio < 1.0 {
            format!("{:.1} µs", secs * (1.0 - ratio) / hits as f64 * 1e6)
        } else {
            "-".into()
        };
        println!(
            "| {name} | {rate:.0} | {ratio:.3} | {:.0} | {:.2} | {per_hit} |",
            hits as f64 / secs,
            hits as f64 / ops.max(1) as f64
        );
    }
    drop(session);
}

fn total(c: &Counts) -> u64 {
    c.create + c.exit + c.park + c.ready
}
