//! One-thread decode throughput, as the model's ingest and the live stream
//! use the decoder: the `Decoder` push API (`advance`/`event`), or
//! `Reader::next_event` / `Reader::for_each_event`, with a consumer that
//! only reads each event's time (as `ingest_bench`'s decode-only side).
//!
//!   cargo run --release -p weft-trace --example push_bench -- TRACE [RUNS]
//!
//! `API=push` (default), `next` or `each`. `FROM=0.6` (default) times only
//! the events from that share on (steady, as `ingest_bench STEADY=1`);
//! `FROM=0` times the whole pass. `SINK=call`: each event goes to a
//! function that is not inlined (as `Model::ingest` is), so the whole
//! `EventRef` is built, not just what reading the time needs. Prints this thread's CPU time per run,
//! the median and ns per event. `PERF_CTL=FIFO` enables perf for the
//! timed part only (see bench/timeline/README.md).
use weft_trace::{Decoder, EventRef, Reader, Status};

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn perf_control(cmd: &str) {
    if let Ok(fifo) = std::env::var("PERF_CTL") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(fifo) {
            let _ = writeln!(f, "{cmd}");
        }
    }
}

// Starts the clock at event `from`; returns the timed CPU ns at the end.
struct Clock {
    from: u64,
    seen: u64,
    start: u64,
}

impl Clock {
    fn new(from: u64) -> Clock {
        let mut c = Clock {
            from,
            seen: 0,
            start: 0,
        };
        if from == 0 {
            c.begin();
        }
        c
    }
    fn begin(&mut self) {
        perf_control("enable");
        self.start = thread_cpu_ns();
    }
    #[inline]
    fn event(&mut self) {
        self.seen += 1;
        if self.seen == self.from {
            self.begin();
        }
    }
    fn stop(&self) -> u64 {
        let t = thread_cpu_ns() - self.start;
        perf_control("disable");
        t
    }
}

// A consumer the compiler cannot see into.
#[inline(never)]
fn sink(e: &EventRef<'_>) -> u64 {
    std::hint::black_box(e);
    e.time() as u64
}

#[inline(always)]
fn take(e: &EventRef<'_>, call: bool) -> u64 {
    if call {
        sink(e)
    } else {
        e.time() as u64
    }
}

fn run(api: &str, bytes: &[u8], from: u64) -> (u64, u64, u64) {
    let mut clock = Clock::new(from);
    let mut n = 0u64;
    let call = std::env::var("SINK").is_ok_and(|v| v == "call");
    match api {
        "push" => {
            let mut d = Decoder::new();
            d.feed(bytes);
            d.finish();
            loop {
                match d.advance().expect("decode") {
                    Status::Event => {
                        clock.event();
                        n = n.wrapping_add(take(&d.event(), call));
                    }
                    Status::End => break,
                    Status::NeedData => unreachable!("all input fed"),
                }
            }
        }
        "next" => {
            let mut r = Reader::new(bytes);
            while let Some(e) = r.next_event().expect("decode") {
                clock.event();
                n = n.wrapping_add(take(&e, call));
            }
        }
        "each" => {
            let mut r = Reader::new(bytes);
            r.for_each_event(|e| {
                clock.event();
                n = n.wrapping_add(take(e, call));
            })
            .expect("decode");
        }
        _ => panic!("API is push, next or each"),
    }
    (n, clock.stop(), clock.seen)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: push_bench TRACE [RUNS]");
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    let api = std::env::var("API").unwrap_or_else(|_| "push".into());
    let share: f64 = std::env::var("FROM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.6);
    let bytes = std::fs::read(path).expect("read trace");
    let (_, _, events) = run(api.as_str(), &bytes, u64::MAX);
    let from = (events as f64 * share) as u64;
    let timed = events - from.saturating_sub(1);
    let mb = bytes.len() as f64 / 1e6 * timed as f64 / events as f64;
    let mut t = vec![];
    for i in 0..runs {
        let (n, ns, _) = run(api.as_str(), &bytes, from);
        std::hint::black_box(n);
        println!(
            "run {i}: {:.3} s CPU, {:.1} ns/event, {:.0} MB/s",
            ns as f64 / 1e9,
            ns as f64 / timed as f64,
            mb / (ns as f64 / 1e9)
        );
        t.push(ns);
    }
    t.sort();
    let med = t[t.len() / 2] as f64;
    println!(
        "median ({api}, from {share}): {:.3} s CPU, {:.1} ns/event, {:.0} MB/s ({events} events, {timed} timed)",
        med / 1e9,
        med / timed as f64,
        mb / (med / 1e9)
    );
}
