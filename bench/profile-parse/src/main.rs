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

/// CPU time the whole process has used (all threads, user + system). On a
/// shared machine this is steadier than wall time, which also counts time
/// spent waiting for a core.
fn process_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Timing {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
}

impl Timing {
    fn new() -> Self {
        Timing {
            wall: Vec::new(),
            cpu: Vec::new(),
        }
    }
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let (c, t) = (process_cpu(), Instant::now());
        let out = f();
        self.wall.push(t.elapsed());
        self.cpu.push(process_cpu() - c);
        out
    }
    fn show(&self) -> String {
        format!(
            "median {:.1} ms (min {:.1}), CPU {:.1} ms",
            ms(median(self.wall.clone())),
            ms(*self.wall.iter().min().unwrap()),
            ms(median(self.cpu.clone()))
        )
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let one = weft_profile::Limits {
        threads: 1,
        ..weft_profile::Limits::default()
    };
    let auto = weft_profile::Limits {
        threads: 0,
        ..weft_profile::Limits::default()
    };
    for path in &args[2..] {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (mut p1, mut pn, mut grp) = (Timing::new(), Timing::new(), Timing::new());
        let mut summary = (0, 0, 0);
        // Alternate the two parse modes so machine noise hits both alike.
        for _ in 0..rounds {
            let snap = p1.time(|| weft_profile::parse_with(&data, one).expect("parse"));
            drop(snap);
            let snap = pn.time(|| weft_profile::parse_with(&data, auto).expect("parse"));
            let groups = grp.time(|| weft_analysis::group(&snap));
            summary = (snap.total(), snap.records.len(), groups.len());
        }
        let size = data.len() as f64 / 1e6;
        println!(
            "{path}: {size:.1} MB, {} goroutines, {} records, {} groups",
            summary.0, summary.1, summary.2
        );
        println!(
            "  parse, 1 thread:        {}  ({:.0} MB/s)",
            p1.show(),
            size / median(p1.wall.clone()).as_secs_f64()
        );
        println!(
            "  parse, auto threads:    {}  ({:.0} MB/s)",
            pn.show(),
            size / median(pn.wall.clone()).as_secs_f64()
        );
        println!("  group (weft-analysis):  {}", grp.show());
        println!(
            "  parse (1 thread) + group: {:.1} ms median wall",
            ms(median(p1.wall.clone()) + median(grp.wall.clone()))
        );
        println!(
            "  parse (auto threads, the default) + group: {:.1} ms median wall",
            ms(median(pn.wall.clone()) + median(grp.wall.clone()))
        );
    }
}

// The same allocator as the weft binary (crates/weft/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
