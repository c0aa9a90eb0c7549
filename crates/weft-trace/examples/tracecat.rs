//! Decode a trace file and report throughput; for profiling the decoder.
//!
//!     cargo run --release -p weft-trace --example tracecat -- count FILE
//!     cargo run --release -p weft-trace --example tracecat -- dump FILE > out
//!     (TRACECAT_EACH=1: the dump through `Reader::for_each_event`)
use std::io::{BufWriter, Write};
use std::time::Instant;

// The weft binary's allocator, so figures predict `weft trace stats`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, path) = match args.as_slice() {
        [_, m, p] => (m.as_str(), p.as_str()),
        _ => {
            eprintln!("usage: tracecat count|dump|stats|none FILE");
            std::process::exit(2);
        }
    };
    let f = std::fs::File::open(path).expect("open trace");
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut r = weft_trace::Reader::new(f);
    if mode == "stats" {
        // As `weft trace stats`: decode on a second thread, buffer reserved.
        if std::env::var_os("TRACECAT_ONE_THREAD").is_none() {
            r.set_decode_thread(Some(1 << 20));
        }
        r.reserve(size.min(256 << 20) as usize);
    }
    let t0 = Instant::now();
    let mut n = 0u64;
    let mut frames = 0u64;
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut st = weft_trace::stats::Stats::default();
    if mode == "stats" {
        // What `weft trace stats` runs: the summary on the second thread
        // (TRACECAT_SERIAL: on this one).
        let res = if std::env::var_os("TRACECAT_SERIAL").is_some() {
            r.for_each_event(|ev| {
                n += 1;
                st.add(ev)
            })
        } else {
            r.for_each_event_par(|ev| {
                n += 1;
                st.add(ev)
            })
        };
        if let Err(e) = res {
            eprintln!("error: {e}");
        }
    }
    if mode == "dump" && std::env::var_os("TRACECAT_EACH").is_some() {
        // The same dump through `for_each_event` (runs expanded in place).
        if let Err(e) = r.for_each_event(|ev| {
            n += 1;
            ev.write_go(&mut out).unwrap();
            out.write_all(b"\n").unwrap();
        }) {
            eprintln!("error: {e}");
        }
    }
    while mode != "stats" && !(mode == "dump" && std::env::var_os("TRACECAT_EACH").is_some()) {
        match r.next_event() {
            Ok(Some(ev)) => {
                n += 1;
                match mode {
                    "dump" => {
                        ev.write_go(&mut out).unwrap();
                        out.write_all(b"\n").unwrap();
                    }
                    "stats" => st.add(&ev),
                    "none" => {}
                    _ => {
                        // Touch the typed view so the work is not optimised away.
                        if let Some(s) = ev.stack() {
                            frames += s.len() as u64;
                        }
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                eprintln!("error: {e}");
                break;
            }
        }
    }
    if mode == "stats" {
        st.finish(r.decoder());
        st.print(&mut out).unwrap();
    }
    out.flush().unwrap();
    let dt = t0.elapsed().as_secs_f64();
    eprintln!(
        "{n} events, {size} bytes in {dt:.3} s: {:.0} MB/s, {:.1} M events/s (frames {frames}, buffer {} KiB)",
        size as f64 / dt / 1e6,
        n as f64 / dt / 1e6,
        r.decoder().buffered_bytes() / 1024
    );
    // CPU time of this (the ordering) thread alone: with the consumer on a
    // second thread, the wall time a quiet two-core machine would give.
    if let Ok(s) = std::fs::read_to_string("/proc/thread-self/schedstat") {
        if let Some(ns) = s
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        {
            eprintln!("main thread CPU {:.3} s", ns / 1e9);
        }
    }
}
