//! Measures weft-attach against a running target (used by bench/attach/run.sh):
//!
//! `attach_bench PID time N [noreuse] [threads=T]` N back-to-back snapshots
//! (default options, or every stack re-read; reads split over T threads);
//! prints timings
//! `attach_bench PID sample HZ SECS [stop] [gated] [threads=T]`  samples at HZ for SECS
//! seconds (`gated`: take one warm-up sample, print `ready` on stderr and
//! wait for a line on stdin before starting)
//!
//! Output is one `key=value` line for the script to pick up.
use std::time::{Duration, Instant};

// The weft binary's allocator, so these figures predict it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CPU time (user + system) this process has used, in ms: robust to other
/// load on the machine, unlike wall time.
fn cpu_ms() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into `ru`.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

use weft_attach::{AttachOptions, Attacher};

/// `threads=N` among the flags, else the default.
fn threads(flags: &[String]) -> usize {
    flags
        .iter()
        .find_map(|f| f.strip_prefix("threads=")?.parse().ok())
        .unwrap_or(AttachOptions::default().read_threads)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: attach_bench PID (time N [noreuse] [threads=T] | sample HZ SECS [stop] [gated] [threads=T])";
    let pid: u32 = args.first().and_then(|s| s.parse().ok()).expect(usage);
    let t0 = Instant::now();
    let mut a = Attacher::new(pid).unwrap_or_else(|e| panic!("{e}"));
    let open_ms = t0.elapsed().as_secs_f64() * 1e3;
    match args.get(1).map(String::as_str) {
        Some("time") => {
            let n: usize = args.get(2).and_then(|s| s.parse().ok()).expect(usage);
            let flags = &args[3.min(args.len())..];
            let opts = AttachOptions {
                reuse_stacks: !flags.iter().any(|f| f == "noreuse"),
                read_threads: threads(flags),
                ..Default::default()
            };
            let mut times = Vec::new();
            let mut cpu = Vec::new();
            let mut goroutines = 0;
            for _ in 0..n {
                let t = Instant::now();
                let c = cpu_ms();
                let snap = a.snapshot(&opts).unwrap_or_else(|e| panic!("{e}"));
                times.push(t.elapsed().as_secs_f64() * 1e3);
                cpu.push(cpu_ms() - c);
                goroutines = snap.records.len();
            }
            let mut warm_cpu = cpu[1..].to_vec();
            warm_cpu.sort_by(|x, y| x.partial_cmp(y).unwrap());
            let first = times[0];
            let mut warm = times[1..].to_vec();
            warm.sort_by(|x, y| x.partial_cmp(y).unwrap());
            let st = a.last_stats();
            println!(
                "open_ms={open_ms:.1} first_ms={first:.1} warm_cpu_median_ms={:.1} warm_min_ms={:.1} warm_median_ms={:.1} warm_max_ms={:.1} goroutines={goroutines} allgs={} bytes={} invalid={} torn={}",
                warm_cpu[warm_cpu.len() / 2],
                warm[0],
                warm[warm.len() / 2],
                warm[warm.len() - 1],
                st.allgs_len,
                st.bytes_read,
                st.invalid,
                st.torn_stacks
            );
        }
        Some("sample") => {
            let hz: f64 = args.get(2).and_then(|s| s.parse().ok()).expect(usage);
            let secs: f64 = args.get(3).and_then(|s| s.parse().ok()).expect(usage);
            let flags = &args[4.min(args.len())..];
            let opts = AttachOptions {
                stop_target: flags.iter().any(|f| f == "stop"),
                read_threads: threads(flags),
                ..Default::default()
            };
            if flags.iter().any(|f| f == "gated") {
                // Warm up (the first sample reads every stack), then wait
                // for the script to open its measuring window.
                a.snapshot(&opts).unwrap_or_else(|e| panic!("{e}"));
                eprintln!("ready");
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
            }
            let period = Duration::from_secs_f64(1.0 / hz);
            let end = Instant::now() + Duration::from_secs_f64(secs);
            let (mut n, mut total, mut worst) = (0, 0.0, 0.0f64);
            let mut next = Instant::now();
            let cpu0 = cpu_ms();
            while Instant::now() < end {
                let t = Instant::now();
                a.snapshot(&opts).unwrap_or_else(|e| panic!("{e}"));
                let ms = t.elapsed().as_secs_f64() * 1e3;
                total += ms;
                worst = worst.max(ms);
                n += 1;
                next += period;
                if let Some(d) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
            }
            println!(
                "samples={n} mean_ms={:.1} max_ms={worst:.1} mean_cpu_ms={:.1}",
                total / n as f64,
                (cpu_ms() - cpu0) / n as f64
            );
        }
        _ => panic!("{usage}"),
    }
}
