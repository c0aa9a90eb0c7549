//! `weft snapshot` (placeholder until its owner fills it in).
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct SnapshotArgs {
    /// A pprof base URL, a file, or pid:N.
    pub source: String,
}

pub fn run(_args: SnapshotArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("weft snapshot is not implemented yet")
}
