//! `weft trace` (placeholder until its owner fills it in).
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum TraceCommand {
    /// Print the parsed event stream, as `go tool trace -d=parsed` does.
    Dump { file: String },
    /// One-screen summary of a trace.
    Stats { file: String },
}

pub fn run(_c: TraceCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("weft trace is not implemented yet")
}
