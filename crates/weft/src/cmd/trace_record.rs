//! `weft trace record SOURCE -o FILE`: stream a live program's execution
//! trace for a while, keeping the last `--window` of it, and save that as a
//! standard trace file (`go tool trace FILE` and `weft trace dump FILE`
//! open it). A flight-recorder snapshot URL or a trace file is read once,
//! checked, and written out.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use weft_source::trace_stream::{NoSink, RingOptions, SavedTrace};
use weft_source::{
    parse_trace_source, read_trace, TraceRing, TraceSpec, TraceStream, TraceStreamEvent,
    TraceStreamOptions,
};

use crate::cmd::snapshot::parse_duration;

#[derive(clap::Args)]
pub struct RecordArgs {
    /// A pprof base URL (streams /debug/pprof/trace), a snapshot URL such as
    /// a flight-recorder handler (http://host:port/debug/flight), or a trace file.
    pub source: String,
    /// Where to write the trace.
    #[arg(short, long)]
    pub out: PathBuf,
    /// How long to stream from a live URL.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Keep (and save) at most this much of the most recent trace.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub window: Duration,
    /// Byte cap on the kept trace.
    #[arg(long, default_value_t = 256 << 20)]
    pub max_bytes: usize,
    /// Longest single trace request; the stream is renewed back to back.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub request: Duration,
    /// Per-request connect/read timeout beyond the request's own length.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

pub fn run(a: RecordArgs) -> anyhow::Result<ExitCode> {
    let ring_opts = RingOptions {
        window: a.window,
        max_bytes: a.max_bytes,
        ..RingOptions::default()
    };
    let saved = match parse_trace_source(&a.source)? {
        TraceSpec::Live(base) => live(&base, &a, ring_opts)?,
        spec => {
            let mut ring = TraceRing::new(RingOptions {
                window: Duration::from_secs(u64::MAX / 4),
                ..ring_opts.clone()
            });
            read_trace(&spec, a.timeout, 4 << 30, &mut NoSink, Some(&mut ring))
                .with_context(|| format!("reading {}", a.source))?;
            ring.save(&a.out)
                .with_context(|| format!("writing {}", a.out.display()))?
        }
    };
    report(&a, &saved);
    Ok(ExitCode::SUCCESS)
}

fn live(base: &str, a: &RecordArgs, ring: RingOptions) -> anyhow::Result<SavedTrace> {
    let opts = TraceStreamOptions {
        // Latency does not matter here: one request as long as allowed, so
        // the file covers as much as possible (it holds one request's trace).
        request: a.request,
        quiet_request: a.request,
        total: Some(a.duration),
        read_grace: a.timeout,
        connect_timeout: a.timeout,
        ring,
        ..TraceStreamOptions::default()
    };
    let stream = TraceStream::spawn(base, opts, Box::new(NoSink));
    let mut last_err = None;
    for ev in stream.events().iter() {
        match ev {
            TraceStreamEvent::Stopped => break,
            TraceStreamEvent::Error { error, retry_in } => {
                eprintln!("weft: {error} (retrying in {:.1}s)", retry_in.as_secs_f64());
                last_err = Some(error);
            }
            TraceStreamEvent::StreamEnded {
                error: Some(error), ..
            } => {
                eprintln!("weft: {error}");
                last_err = Some(error);
            }
            _ => {}
        }
    }
    let saved = stream.save(&a.out);
    let stats = stream.stats();
    stream.join();
    match saved {
        Ok(s) => Ok(s),
        Err(e) => match last_err {
            Some(err) => bail!("no trace recorded from {base}: {err}"),
            None => bail!(
                "no trace recorded from {base} ({} bytes received): {e}",
                stats.bytes
            ),
        },
    }
}

fn report(a: &RecordArgs, s: &SavedTrace) {
    let span =
        s.to.duration_since(s.from)
            .unwrap_or_default()
            .as_secs_f64();
    eprintln!(
        "saved {} generations ({} bytes, generations {}..={}, {:.1}s between the first and last) to {}",
        s.generations,
        s.bytes,
        s.first_gen,
        s.last_gen,
        span,
        a.out.display()
    );
    if s.left_out_older > 0 {
        eprintln!(
            "note: {} earlier generations came from an earlier trace request; one file holds one request's trace, so only the latest request's generations were saved",
            s.left_out_older
        );
    }
}
