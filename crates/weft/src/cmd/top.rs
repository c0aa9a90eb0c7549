//! `weft top SOURCE`: the live full-screen view (see the `weft-tui` crate).
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use weft_source::{parse_source, PollOptions, ProfileForm, SourceSpec};
use weft_tui::live::PollerFeed;
use weft_tui::trace::{TraceFeed, TraceFeedOptions, TraceStatus};
use weft_tui::TopState;

#[derive(clap::Args)]
pub struct TopArgs {
    /// A pprof base URL (`http://127.0.0.1:6060`, `:6060`), a dump file, `-`, or pid:N.
    pub source: String,
    /// Seconds between polls (never below 0.2).
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// Poll the gzipped protobuf form (`debug=0`) instead of `debug=1`; both
    /// are collected without stopping the target.
    #[arg(long)]
    pub protobuf: bool,
    /// Let `d` take a `debug=2` dump even above 10 000 goroutines. It stops
    /// the target's world for as long as formatting every stack takes.
    #[arg(long, alias = "force")]
    pub force_details: bool,
    /// Also read `/debug/pprof/goroutineleak` (Go 1.27+, or 1.26 with the
    /// experiment) every 30 s. Off by default: it runs a leak-finding GC cycle
    /// in the target, and with 100k leaked goroutines one read stalled the
    /// target's scheduler for 18 s (bench/schedgap, Go 1.27.3).
    #[arg(long)]
    pub leak_profile: bool,
    /// Do not stream the execution trace. With a URL source weft top also
    /// streams `/debug/pprof/trace` (costs the target about 1-2% while on)
    /// and shows trace findings (deadlocks, leaks) and wake flows.
    #[arg(long)]
    pub no_trace: bool,
    /// Where `w` saves the last seconds of raw trace (a standard trace file).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub save_dir: std::path::PathBuf,
    /// Save the last seconds of raw trace into DIR automatically when a
    /// deadlock or leak finding appears (at most once a minute).
    #[arg(long, value_name = "DIR")]
    pub save_on_finding: Option<std::path::PathBuf>,
}

pub fn run(args: TopArgs) -> anyhow::Result<ExitCode> {
    if !(args.interval.is_finite() && args.interval > 0.0) {
        bail!(
            "--interval must be a positive number of seconds, not {}",
            args.interval
        );
    }
    let spec = parse_source(&args.source)
        .with_context(|| format!("reading the source {:?}", args.source))?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!(
            "weft top needs a terminal; for a one-off report use `weft snapshot {}`",
            args.source
        );
    }
    let opts = PollOptions {
        interval: Duration::from_secs_f64(args.interval),
        form: if args.protobuf {
            ProfileForm::Debug0
        } else {
            ProfileForm::Debug1
        },
        force_detail: args.force_details,
        leak_profile: args.leak_profile,
        ..PollOptions::default()
    };
    for dir in std::iter::once(&args.save_dir).chain(args.save_on_finding.as_ref()) {
        if !dir.is_dir() {
            bail!(
                "{} is not a directory; give an existing directory to save traces into",
                dir.display()
            );
        }
    }
    let label = spec.describe();
    let mut state = TopState::new(label);
    let trace_base = match &spec {
        SourceSpec::Url(base) if !args.no_trace => Some(base.clone()),
        SourceSpec::Url(_) => {
            state.trace_status = TraceStatus::Disabled;
            None
        }
        _ => None,
    };
    let mut feed = PollerFeed::spawn(spec, opts);
    if let Some(base) = trace_base {
        feed = feed.with_trace(TraceFeed::spawn(
            &base,
            TraceFeedOptions {
                save_dir: args.save_dir.clone(),
                save_on_finding: args.save_on_finding.clone(),
                ..TraceFeedOptions::default()
            },
        ));
    }
    weft_tui::app::run(state, &mut feed).context("running the terminal UI")?;
    // Not joined: a trace request in flight can last 10 s. Exiting closes
    // its connection, and Go's trace handler then stops tracing at once.
    Ok(ExitCode::SUCCESS)
}
