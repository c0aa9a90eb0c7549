//! `weft check` (placeholder until its owner fills it in).
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CheckArgs {
    /// A pprof base URL, a file, or pid:N.
    pub source: String,
}

pub fn run(_args: CheckArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("weft check is not implemented yet")
}
