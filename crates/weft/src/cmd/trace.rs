//! `weft trace`: look inside a Go execution trace file.
//!
//! `dump` prints the ordered event stream byte-for-byte as
//! `go tool trace -d=parsed` does; `stats` prints a one-screen summary.
use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;

use weft_trace::stats::Stats;
use weft_trace::Reader;

#[path = "trace_map.rs"]
mod map;
#[path = "trace_record.rs"]
mod record;

#[derive(clap::Subcommand)]
pub enum TraceCommand {
    /// Print the parsed event stream, as `go tool trace -d=parsed` does.
    Dump { file: String },
    /// One-screen summary of a trace.
    Stats { file: String },
    /// Stream a live program's trace (or read a flight-recorder snapshot)
    /// and save the most recent part as a trace file.
    Record(record::RecordArgs),
}

fn open(file: &str) -> anyhow::Result<Box<dyn Read>> {
    if file == "-" {
        return Ok(Box::new(io::stdin().lock()));
    }
    let f = std::fs::File::open(file)
        .map_err(|e| anyhow::anyhow!("cannot open trace file {file}: {e}"))?;
    Ok(Box::new(f))
}

pub fn run(c: TraceCommand) -> anyhow::Result<ExitCode> {
    match c {
        TraceCommand::Dump { file } => dump(&file),
        TraceCommand::Stats { file } => stats(&file),
        TraceCommand::Record(a) => record::run(a),
    }
}

fn dump(file: &str) -> anyhow::Result<ExitCode> {
    let mut r = Reader::new(open(file)?);
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    loop {
        match r.next_event() {
            Ok(Some(ev)) => {
                if let Err(e) = ev.write_go(&mut out).and_then(|_| out.write_all(b"\n")) {
                    if e.kind() == io::ErrorKind::BrokenPipe {
                        return Ok(ExitCode::SUCCESS);
                    }
                    return Err(e.into());
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = out.flush();
                drop(out);
                eprintln!("{e}");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

// Generations of at least this many event bytes are decoded on a second
// thread while the first orders and counts (small ones are not worth it).
const DECODE_THREAD_MIN: u64 = 1 << 20;
// Input buffer reserved up front at most (a generation's bytes must fit).
const RESERVE_MAX: u64 = 256 << 20;

fn stats(file: &str) -> anyhow::Result<ExitCode> {
    // No transparent huge pages for this short run: the allocator's huge
    // pages are cleared 2 MB at a time on first touch, most of it never
    // used (peak RSS 84 -> 78 MB on the 66 MB stress trace, same CPU time).
    // SAFETY: prctl with an integer option touches no memory of ours.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    if file != "-" {
        let f = std::fs::File::open(file)
            .map_err(|e| anyhow::anyhow!("cannot open trace file {file}: {e}"))?;
        if let Some(m) = map::Mapped::new(&f) {
            // Read in place from the page cache.
            let mut r = Reader::from_input(std::sync::Arc::new(m));
            r.set_decode_thread(Some(DECODE_THREAD_MIN));
            return summarize(&mut r);
        }
    }
    let mut r = Reader::new(open(file)?);
    r.set_decode_thread(Some(DECODE_THREAD_MIN));
    if file != "-" {
        // Room for the largest generation without growing by copying:
        // bounded by the file, untouched pages cost nothing.
        let len = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        r.reserve(len.min(RESERVE_MAX) as usize);
    }
    summarize(&mut r)
}

fn summarize<R: Read>(r: &mut Reader<R>) -> anyhow::Result<ExitCode> {
    let mut st = Stats::default();
    // Ordering on this thread, the summary (and decoding ahead) on a second.
    let res = r.for_each_event_par(|ev| st.add(ev));
    st.finish(r.decoder());
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    st.print(&mut out)?;
    out.flush()?;
    if let Err(e) = res {
        eprintln!("error: trace decoding stopped early: {e}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
