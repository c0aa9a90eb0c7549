//! `weft open FILE`, `weft watch SOURCE`, `weft demo`: the web UI (see the
//! `weft-web` crate). Starts the server, shows a progress bar on the
//! terminal while a file loads, prints the URL, opens a browser unless
//! `--no-browser`, then serves until interrupted.
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use weft_source::SourceSpec;
use weft_web::{LoadState, Options, Server, Source};

/// Options every web subcommand takes.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to serve on. Anything but loopback requires the token that
    /// weft prints in the URL.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Do not open a browser.
    #[arg(long)]
    pub no_browser: bool,
}

#[derive(clap::Args)]
pub struct OpenArgs {
    /// An execution trace file (`runtime/trace`, `go test -trace`, `weft trace record`).
    pub file: std::path::PathBuf,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(clap::Args)]
pub struct WatchArgs {
    /// A pprof base URL (`http://127.0.0.1:6060`, `:6060`): its execution
    /// trace is streamed live. Or `pid:N`: the process's goroutine table is
    /// read from its memory (no code change, no endpoint; states, stacks and
    /// the channels goroutines wait on, without wake edges).
    pub source: String,
    /// With `pid:N`: time between two reads of the goroutine table.
    #[arg(long, default_value = "1s", value_parser = crate::cmd::snapshot::parse_duration)]
    pub interval: Duration,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(clap::Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
}

pub fn open(a: OpenArgs) -> anyhow::Result<ExitCode> {
    if !a.file.is_file() {
        bail!(
            "{} is not a file; give an execution trace file",
            a.file.display()
        );
    }
    refuse_profiles(&a.file)?;
    serve(Source::File(a.file), a.serve)
}

/// `weft open` reads execution traces; a goroutine dump or profile gets
/// a pointer to the commands that read those, before any server starts.
fn refuse_profiles(path: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Read;
    let mut head = Vec::with_capacity(64 << 10);
    std::fs::File::open(path)
        .and_then(|f| f.take(64 << 10).read_to_end(&mut head))
        .with_context(|| format!("cannot read {}", path.display()))?;
    if head.starts_with(b"go 1.") {
        return Ok(());
    }
    if let Some(form) = weft_profile::detect(&head) {
        let what = match form {
            weft_model::SourceForm::Debug2 => "a goroutine dump (debug=2 or a traceback)",
            weft_model::SourceForm::Debug1 => "a goroutine profile (debug=1)",
            weft_model::SourceForm::LeakProfile => "a goroutine leak profile",
            _ => "a goroutine profile (pprof)",
        };
        bail!(
            "{} is {what}, not an execution trace; `weft open` shows traces. \
             Use `weft snapshot {0}` for a report or `weft top {0}` to browse it",
            path.display()
        );
    }
    Ok(())
}

pub fn watch(a: WatchArgs) -> anyhow::Result<ExitCode> {
    let spec = weft_source::parse_source(&a.source)
        .with_context(|| format!("reading the source {:?}", a.source))?;
    match spec {
        SourceSpec::Url(u) => serve(Source::Live(u), a.serve),
        SourceSpec::File(p) => bail!(
            "{} is a file; `weft watch` follows a running program. Use `weft open {}`",
            p.display(),
            p.display()
        ),
        SourceSpec::Pid(pid) => {
            // Fail now, with the fix, rather than on a page that never loads.
            weft_attach::Attacher::new(pid)
                .with_context(|| format!("cannot read the goroutines of pid {pid}"))?;
            serve(
                Source::Pid {
                    pid,
                    interval: a.interval,
                },
                a.serve,
            )
        }
        SourceSpec::Stdin => bail!("weft watch needs a pprof URL, not `-`"),
    }
}

pub fn demo(a: DemoArgs) -> anyhow::Result<ExitCode> {
    serve(
        Source::Bytes {
            name: "bundled demo capture (testdata/demo/demo.trace)".into(),
            data: weft_web::DEMO_TRACE,
        },
        a.serve,
    )
}

fn serve(source: Source, a: ServeArgs) -> anyhow::Result<ExitCode> {
    let live = matches!(source, Source::Live(_) | Source::Pid { .. });
    let server = Server::start(
        source,
        Options {
            listen: a.listen,
            ..Options::default()
        },
    )?;
    let url = server.url();
    eprintln!("weft: serving {url}");
    if !a.listen.ip().is_loopback() {
        eprintln!(
            "weft: listening on {}: the token in the URL is required",
            a.listen
        );
    }
    if !a.no_browser {
        // Best effort: a machine without a desktop just has the URL above.
        let _ = std::process::Command::new("xdg-open")
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
    if !live {
        progress(&server)?;
    }
    server.wait();
    Ok(ExitCode::SUCCESS)
}

/// Shows loading progress on stderr (a bar on a terminal, nothing
/// otherwise) until the model is ready; a load error ends weft.
fn progress(server: &Server) -> anyhow::Result<()> {
    let shared = server.shared();
    let tty = std::io::stderr().is_terminal();
    let t0 = Instant::now();
    loop {
        let (state, total, err) = {
            let st = shared.status();
            (st.state, st.total_bytes, st.error.clone())
        };
        let done = shared.done_bytes.load(Ordering::Relaxed);
        if tty {
            let frac = if total > 0 {
                done as f64 / total as f64
            } else {
                0.0
            };
            let w = 30;
            let fill = ((frac * w as f64) as usize).min(w);
            eprint!(
                "\rloading [{}{}] {:5.1}% {:.1}/{:.1} MB  ",
                "#".repeat(fill),
                " ".repeat(w - fill),
                frac * 100.0,
                done as f64 / 1e6,
                total as f64 / 1e6
            );
            let _ = std::io::stderr().flush();
        }
        match state {
            LoadState::Loading => std::thread::sleep(Duration::from_millis(100)),
            LoadState::Ready => {
                if tty {
                    eprintln!();
                }
                eprintln!(
                    "weft: ready in {:.2}s ({} events)",
                    t0.elapsed().as_secs_f64(),
                    shared.events.load(Ordering::Relaxed)
                );
                return Ok(());
            }
            LoadState::Error => {
                if tty {
                    eprintln!();
                }
                bail!("{}", err.unwrap_or_else(|| "loading failed".into()));
            }
        }
    }
}
