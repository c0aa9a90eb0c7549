//! Driver of bench/live/run.sh.
//!
//! - `ingest FILE RUNS`: decode-only vs decode + trace-model ingest of a
//!   recorded trace through the same path the live stream uses
//!   (`read_trace` feeds 256 KiB chunks to a fresh decoder), alternated,
//!   one thread; prints MB/s medians.
//! - `live URL SECONDS [REPORT_EVERY]`: streams a live target into the
//!   trace model for SECONDS, printing throughput, weft's CPU use, the
//!   end-to-end delay of the target's "weft-mark" log events (the target
//!   logs its wall clock; weft notes the wall clock when the event reaches
//!   the model) and RSS over time.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use weft_source::trace_stream::{NoSink, TraceSink};
use weft_source::{read_trace, TraceSpec, TraceStream, TraceStreamEvent, TraceStreamOptions};
use weft_timeline::{Config, LiveFeed, Model};
use weft_trace::EventRef;

struct ModelSink(Model);
impl TraceSink for ModelSink {
    fn event(&mut self, _: u64, ev: &EventRef<'_>) {
        self.0.ingest(ev);
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn cpu_secs() -> f64 {
    // utime + stime of this process, from /proc/self/stat (clock ticks).
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn status_kb(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn ingest(file: &str, runs: usize) {
    let spec = TraceSpec::File(file.into());
    let size = std::fs::metadata(file).unwrap().len() as f64 / 1e6;
    // (wall MB/s, CPU MB/s) per run; CPU time is what one core spends, so it
    // stays meaningful on a loaded machine.
    let (mut dec, mut full, mut dec_cpu, mut full_cpu) = (vec![], vec![], vec![], vec![]);
    let mut events = 0;
    let mut heap = 0;
    for i in 0..runs {
        let (t, c) = (Instant::now(), cpu_secs());
        read_trace(
            &spec,
            Duration::from_secs(5),
            u64::MAX / 2,
            &mut NoSink,
            None,
        )
        .unwrap();
        dec.push(size / t.elapsed().as_secs_f64());
        dec_cpu.push(size / (cpu_secs() - c).max(0.01));
        let mut sink = ModelSink(Model::new(Config::default()));
        let (t, c) = (Instant::now(), cpu_secs());
        read_trace(&spec, Duration::from_secs(5), u64::MAX / 2, &mut sink, None).unwrap();
        full.push(size / t.elapsed().as_secs_f64());
        full_cpu.push(size / (cpu_secs() - c).max(0.01));
        events = sink.0.stats().events;
        heap = sink.0.stats().heap_bytes;
        eprintln!(
            "run {}/{runs}: decode {:.0} MB/s wall {:.0} MB/CPU-s, decode+model {:.0} MB/s wall {:.0} MB/CPU-s",
            i + 1, dec[i], dec_cpu[i], full[i], full_cpu[i]
        );
    }
    println!(
        "ingest: {size:.1} MB trace, {events} events; decode only {:.0} MB/s wall, {:.0} MB per CPU-second; decode + model ingest {:.0} MB/s wall, {:.0} MB per CPU-second (medians of {runs}); model ~{} MB at end, peak RSS {} MB",
        median(&mut dec),
        median(&mut dec_cpu),
        median(&mut full),
        median(&mut full_cpu),
        heap >> 20,
        status_kb("VmHWM:") / 1024
    );
}

#[derive(Default)]
struct Delays {
    marks: Vec<f64>,
}

struct LiveSink {
    model: Model,
    delays: Arc<Mutex<Delays>>,
    heap: Arc<Mutex<usize>>,
    n: u64,
}

impl TraceSink for LiveSink {
    fn event(&mut self, _: u64, ev: &EventRef<'_>) {
        self.model.ingest(ev);
        self.n += 1;
        if self.n % 1_000_000 == 0 {
            *self.heap.lock().unwrap() = self.model.stats().heap_bytes;
        }
        if let Some(log) = ev.log() {
            if log.category == b"weft-mark" {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as i64;
                if let Some(t) = std::str::from_utf8(log.message)
                    .ok()
                    .and_then(|m| m.parse::<i64>().ok())
                {
                    self.delays
                        .lock()
                        .unwrap()
                        .marks
                        .push((now - t) as f64 / 1e6);
                }
            }
        }
    }
}

/// The target's wall clock in a "weft-mark" log event, in ns.
fn mark_time(ev: &EventRef<'_>) -> Option<i64> {
    let log = ev.log()?;
    if log.category != b"weft-mark" {
        return None;
    }
    std::str::from_utf8(log.message).ok()?.parse::<i64>().ok()
}

fn wall_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

/// As `weft watch` feeds its model: digested on the stream's thread,
/// applied on a second (`LiveFeed`). A mark's delay is taken when the
/// batch holding it has been applied, i.e. when it is in the model.
struct PipelinedSink {
    feed: LiveFeed,
    /// Marks seen by the decoding thread: (event index, target time).
    pending: Arc<Mutex<Vec<(u64, i64)>>>,
    n: u64,
}

impl PipelinedSink {
    fn new(delays: Arc<Mutex<Delays>>, heap: Arc<Mutex<usize>>) -> Self {
        let model = Mutex::new(Model::new(Config::default()));
        let pending: Arc<Mutex<Vec<(u64, i64)>>> = Arc::default();
        let p = pending.clone();
        let applied = std::sync::atomic::AtomicU64::new(0);
        let feed = LiveFeed::new(move |n, f| {
            let mut m = model.lock().unwrap();
            f(&mut m);
            if n == 0 {
                return;
            }
            let before = applied.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            let done = before + n as u64;
            if before / 1_000_000 != done / 1_000_000 {
                *heap.lock().unwrap() = m.stats().heap_bytes;
            }
            drop(m);
            let now = wall_ns();
            let mut p = p.lock().unwrap();
            let k = p.partition_point(|&(i, _)| i < done);
            let mut d = delays.lock().unwrap();
            for (_, t) in p.drain(..k) {
                d.marks.push((now - t) as f64 / 1e6);
            }
        });
        PipelinedSink {
            feed,
            pending,
            n: 0,
        }
    }
}

impl TraceSink for PipelinedSink {
    fn stream_started(&mut self, _: u64) {
        self.feed.restart();
    }
    fn event(&mut self, _: u64, ev: &EventRef<'_>) {
        self.feed.push(ev);
        if let Some(t) = mark_time(ev) {
            self.pending.lock().unwrap().push((self.n, t));
        }
        self.n += 1;
    }
    fn caught_up(&mut self, _: u64) {
        self.feed.flush();
    }
    fn stream_ended(
        &mut self,
        _: u64,
        _: &weft_trace::Decoder,
        err: Option<&weft_source::TraceSourceError>,
    ) {
        self.feed.stream_ended(err.is_none());
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn live(url: &str, secs: u64, every: u64) {
    let delays = Arc::new(Mutex::new(Delays::default()));
    let heap = Arc::new(Mutex::new(0usize));
    // WEFT_LIVE_FEED=single: decode and apply on the stream's one thread
    // (the model as before); default: as `weft watch` does, on two.
    let single = std::env::var("WEFT_LIVE_FEED").is_ok_and(|v| v == "single");
    let sink: Box<dyn TraceSink> = if single {
        Box::new(LiveSink {
            model: Model::new(Config::default()),
            delays: delays.clone(),
            heap: heap.clone(),
            n: 0,
        })
    } else {
        Box::new(PipelinedSink::new(delays.clone(), heap.clone()))
    };
    println!(
        "feed: {}",
        if single {
            "single thread"
        } else {
            "pipelined (decode | apply)"
        }
    );
    let s = TraceStream::spawn(url, TraceStreamOptions::default(), sink);
    let start = Instant::now();
    let cpu0 = cpu_secs();
    let mut next = every;
    let mut errors = 0;
    let mut skip_bytes = 0u64;
    let mut t_skip = start;
    // The first 3 s (first request, which also sizes the next) are warm-up.
    let warm = Duration::from_secs(3.min(secs / 2));
    let mut cpu_warm = cpu0;
    let mut warmed = false;
    loop {
        let left = Duration::from_secs(secs).saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        match s
            .events()
            .recv_timeout(left.min(Duration::from_millis(200)))
        {
            Ok(TraceStreamEvent::Error { error, .. }) => {
                errors += 1;
                eprintln!("error: {error}");
            }
            Ok(TraceStreamEvent::StreamEnded { error: Some(e), .. }) => {
                errors += 1;
                eprintln!("stream error: {e}");
            }
            _ => {}
        }
        if !warmed && start.elapsed() >= warm {
            warmed = true;
            skip_bytes = s.stats().bytes;
            t_skip = Instant::now();
            cpu_warm = cpu_secs();
            delays.lock().unwrap().marks.clear();
        }
        if start.elapsed().as_secs() >= next {
            next += every;
            let st = s.stats();
            let (ring, ring_mem) = {
                let r = s.ring();
                let r = r.lock().unwrap();
                (r.bytes(), r.memory_bytes())
            };
            println!(
                "t={:>4}s rss={} MB ring={} MB (in memory {} MB) model~{} MB received={} MB events={} streams={} lagged={}",
                start.elapsed().as_secs(),
                status_kb("VmRSS:") / 1024,
                ring >> 20,
                ring_mem >> 20,
                *heap.lock().unwrap() >> 20,
                st.bytes >> 20,
                st.events,
                st.streams,
                st.lagged_streams
            );
        }
    }
    let st = s.stats();
    let wall = t_skip.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu_warm;
    let rate = (st.bytes - skip_bytes) as f64 / 1e6 / wall;
    let mut d = std::mem::take(&mut delays.lock().unwrap().marks);
    println!(
        "live: {:.1} s after warm-up: {:.2} MB/s of trace received and ingested, weft CPU {:.0}% of one core ({:.1} MB per CPU-second), {} streams, {} errors",
        wall,
        rate,
        cpu / wall * 100.0,
        (st.bytes - skip_bytes) as f64 / 1e6 / cpu.max(1e-9),
        st.streams,
        errors
    );
    println!(
        "delay event->model: {} marks, p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        d.len(),
        pct(&mut d, 0.5),
        pct(&mut d, 0.9),
        pct(&mut d, 1.0)
    );
    // One lock for both figures (a second lock in the same statement
    // would wait on the first's guard).
    let (ring, ring_mem) = {
        let r = s.ring();
        let r = r.lock().unwrap();
        (r.bytes(), r.memory_bytes())
    };
    println!(
        "memory at end: rss {} MB, peak rss {} MB, ring {} MB ({} MB of it in memory), {} of {} requests lagged",
        status_kb("VmRSS:") / 1024,
        status_kb("VmHWM:") / 1024,
        ring >> 20,
        ring_mem >> 20,
        st.lagged_streams,
        st.streams
    );
    s.stop();
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    match a.get(1).map(|s| s.as_str()) {
        Some("ingest") => ingest(&a[2], a.get(3).map(|r| r.parse().unwrap()).unwrap_or(5)),
        Some("live") => live(
            &a[2],
            a[3].parse().unwrap(),
            a.get(4).map(|r| r.parse().unwrap()).unwrap_or(30),
        ),
        _ => {
            eprintln!(
                "usage: live-trace-bench ingest FILE [RUNS] | live URL SECONDS [REPORT_EVERY]"
            );
            std::process::exit(2);
        }
    }
}
