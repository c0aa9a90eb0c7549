//! `weft top` (placeholder until its owner fills it in).
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct TopArgs {
    /// A pprof base URL, a file, or pid:N.
    pub source: String,
}

pub fn run(_args: TopArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("weft top is not implemented yet")
}
