//! Ingest throughput: decoding a trace alone vs decoding it into the model,
//! alternated in one process so machine drift hits both alike.
//!
//!   cargo run --release -p weft-timeline --example ingest_bench -- TRACE [RUNS]
//!
//! Throughput is per second of this thread's CPU time (a loaded machine
//! makes wall time meaningless; both are printed). Prints one line per run
//! and a summary with MB/s, the model/decoder
//! time ratio, the model's own size estimate and the process's peak RSS.
//!
//! Two modes, and a pace:
//! - cold (default): the whole trace into an empty model with the default
//!   configuration, as a first pass does: every span and wake lands in
//!   memory the process has never touched.
//! - steady (`STEADY=1`): the model as a long `weft watch` runs it once its
//!   caps are reached: caps small enough (`STEADY_SPANS`, default 1 Mi
//!   spans; `STEADY_WAKES`, default 256 Ki wakes) that the first part of
//!   the trace fills them, and only the rest (from `STEADY_FROM` of the
//!   bytes, default 0.6) is timed, on both sides (decode only and
//!   decode + model), while eviction keeps the model at its caps.
//! - `PACE_MBPS=20` (either mode): the timed part is fed at that rate of
//!   trace bytes in wall time, sleeping between bursts of 4096 events, as a
//!   live stream arrives; CPU time is still what is measured, but memory
//!   the model frees and asks for again is as far apart in time as live.
use std::time::Instant;

// The weft binary's allocator: the model's cost depends on it (fresh pages,
// reuse of freed chunks), so the benchmark measures what the binary does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use weft_timeline::{Config, Model};
use weft_trace::{Decoder, Status};

/// What is timed: the whole pass, or only the events from `from_event` on,
/// in this thread's CPU ns and wall seconds.
struct Timed {
    cpu_ns: u64,
    wall_s: f64,
    // Share of the events the timed part covers.
    share: f64,
}

// Starts timing at event `from_event` (the decoder reads input ahead in
// large blocks, so its byte count cannot place the start).
struct Clock {
    from_event: u64,
    seen: u64,
    started: Option<(Instant, u64)>,
    // Wall ns per event at the paced rate (`PACE_MBPS`), if any.
    pace_ns: Option<f64>,
}

impl Clock {
    fn new(from_event: u64) -> Clock {
        let mut c = Clock {
            from_event,
            seen: 0,
            started: None,
            pace_ns: PACE_NS.with(|p| p.get()),
        };
        if from_event == 0 {
            c.start();
        }
        c
    }
    fn start(&mut self) {
        perf_control("enable");
        self.started = Some((Instant::now(), thread_cpu_ns()));
    }
    #[inline]
    fn event(&mut self) {
        self.seen += 1;
        if self.seen == self.from_event {
            self.start();
        }
        if let (Some(ns), Some((t, _))) = (self.pace_ns, self.started) {
            if self.seen % 4096 == 0 {
                // Sleeping costs no CPU time: only the time to ingest counts,
                // but memory freed and asked for again is as far apart in
                // wall time as in a live stream at this rate.
                let due = ((self.seen - self.from_event.saturating_sub(1)) as f64 * ns) as u64;
                let spent = t.elapsed().as_nanos() as u64;
                if due > spent {
                    std::thread::sleep(std::time::Duration::from_nanos(due - spent));
                }
            }
        }
    }
    fn stop(&self) -> Timed {
        let (t, c) = self.started.expect("the timed part was reached");
        perf_control("disable");
        Timed {
            cpu_ns: thread_cpu_ns() - c,
            wall_s: t.elapsed().as_secs_f64(),
            share: 1.0 - self.from_event.saturating_sub(1) as f64 / self.seen.max(1) as f64,
        }
    }
}

thread_local! {
    static PACE_NS: std::cell::Cell<Option<f64>> = const { std::cell::Cell::new(None) };
}

// With `PERF_CTL=FIFO`, the timed part alone is profiled: run under
// `perf record -D -1 --control fifo:FIFO` (perf starts disabled).
fn perf_control(cmd: &str) {
    if let Ok(fifo) = std::env::var("PERF_CTL") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(fifo) {
            let _ = writeln!(f, "{cmd}");
        }
    }
}

fn decode_only(bytes: &[u8], from_event: u64) -> (u64, Timed) {
    let mut clock = Clock::new(from_event);
    let mut d = Decoder::new();
    d.feed(bytes);
    d.finish();
    let mut n = 0u64;
    loop {
        match d.advance().expect("decode") {
            Status::Event => {
                clock.event();
                let e = d.event();
                n = n.wrapping_add(e.time() as u64);
            }
            Status::End => return (n, clock.stop()),
            Status::NeedData => unreachable!("all input fed"),
        }
    }
}

fn steady() -> bool {
    std::env::var("STEADY").is_ok_and(|v| v != "0" && !v.is_empty())
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn decode_into_model(bytes: &[u8], from_event: u64) -> (Model, Timed) {
    let mut clock = Clock::new(from_event);
    let mut d = Decoder::new();
    d.feed(bytes);
    d.finish();
    let mut cfg = Config::default();
    if steady() {
        cfg.max_spans = env_num("STEADY_SPANS", 1usize << 20);
        cfg.max_wakes = env_num("STEADY_WAKES", 1usize << 18);
    }
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
            Status::Event => {
                clock.event();
                m.ingest(&d.event())
            }
            Status::End => {
                m.evict();
                return (m, clock.stop());
            }
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
    let pace_mbps: f64 = env_num("PACE_MBPS", 0.0);
    let events = if steady() || pace_mbps > 0.0 {
        let mut n = 0u64;
        let mut d = Decoder::new();
        d.feed(&bytes);
        d.finish();
        while let Status::Event = d.advance().expect("decode") {
            n += 1;
        }
        n
    } else {
        0
    };
    if pace_mbps > 0.0 {
        // The trace's bytes per event at the given rate, as wall ns per event.
        let ns = bytes.len() as f64 / events as f64 / (pace_mbps * 1e6) * 1e9;
        PACE_NS.with(|p| p.set(Some(ns)));
    }
    // Events are spread evenly enough over a stress trace that the share of
    // events stands for the share of bytes.
    let from_event = if steady() {
        (events as f64 * env_num("STEADY_FROM", 0.6f64)) as u64
    } else {
        0
    };
    let mode = if steady() { "steady" } else { "cold" };
    let (mut dec, mut model) = (vec![], vec![]);
    let mut last = None;
    let mut mb = 0.0;
    for i in 0..runs {
        let a = if std::env::var("SKIP_DECODE").is_err() {
            let (n, a) = decode_only(&bytes, from_event);
            std::hint::black_box(n);
            Some(a)
        } else {
            None
        };
        let (m, b) = decode_into_model(&bytes, from_event);
        mb = b.share * bytes.len() as f64 / 1e6;
        let (ac, bc) = (
            a.as_ref().map_or(0, |a| a.cpu_ns) as f64 / 1e9,
            b.cpu_ns as f64 / 1e9,
        );
        println!(
            "run {i}: decode {ac:.3}s CPU ({:.0} MB/s; wall {:.3}s)  decode+model {bc:.3}s CPU ({:.0} MB/s; wall {:.3}s) [{mode}, ≈{mb:.1} MB timed]",
            mb / ac,
            a.as_ref().map_or(0.0, |a| a.wall_s),
            mb / bc,
            b.wall_s,
        );
        dec.push(ac);
        model.push(bc);
        last = Some(m);
    }
    let m = last.unwrap();
    let s = m.stats();
    let (a, b) = (median(dec), median(model));
    println!(
        "trace {:.1} MB ({mode}: ≈{mb:.1} MB timed), {} events, {} goroutines kept, {} groups, {} spans, {} wakes",
        bytes.len() as f64 / 1e6,
        s.events, s.goroutines_kept, s.groups, s.spans, s.wakes
    );
    println!(
        "median per CPU-second ({mode}): decode {:.0} MB/s, decode+model {:.0} MB/s, model/decode time {:.2}x; model estimate {:.0} MB; peak RSS {:.0} MB (includes the {:.0} MB input held in memory)",
        mb / a,
        mb / b,
        b / a,
        s.heap_bytes as f64 / 1e6,
        peak_rss_kb() as f64 / 1e3,
        bytes.len() as f64 / 1e6,
    );
}
