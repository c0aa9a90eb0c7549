//! The `weft` binary: parses the command line and hands each subcommand to
//! its module under `cmd/`. Errors become exit codes here and nowhere else.

mod cmd;

use std::process::ExitCode;

// weft's parsers and models make millions of small allocations (a 100k
// goroutine dump, a trace's spans); mimalloc parses a 100k-goroutine dump
// and groups it ≈25% faster than the system allocator (bench/profile-parse).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "weft",
    version,
    about = "See the concurrency of a running Go program"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read Go execution traces.
    #[command(subcommand)]
    Trace(cmd::trace::TraceCommand),
    /// Live terminal view of a program's goroutines.
    Top(cmd::top::TopArgs),
    /// Take one report of a program's goroutines and exit.
    Snapshot(cmd::snapshot::SnapshotArgs),
    /// Compare a program with a saved snapshot; fail on goroutine growth (CI gate).
    Check(cmd::check::CheckArgs),
    /// Open a trace file in the web UI.
    Open(cmd::web::OpenArgs),
    /// Watch a running program live in the web UI.
    Watch(cmd::web::WatchArgs),
    /// Open the web UI on the bundled demo capture.
    Demo(cmd::web::DemoArgs),
    /// Opt-in eBPF uprobes on pid:N: goroutine creation/exit (+ park/ready bursts).
    Probes(cmd::probes::ProbesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Trace(c) => cmd::trace::run(c),
        Command::Top(a) => cmd::top::run(a),
        Command::Snapshot(a) => cmd::snapshot::run(a),
        Command::Check(a) => cmd::check::run(a),
        Command::Open(a) => cmd::web::open(a),
        Command::Watch(a) => cmd::web::watch(a),
        Command::Demo(a) => cmd::web::demo(a),
        Command::Probes(a) => cmd::probes::run(a),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`weft trace dump f | head`) is not an error.
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("weft: {err:#}");
            ExitCode::from(2)
        }
    }
}
