//! One-shot acquisition: HTTP GETs against a pprof server with caps and
//! timeouts, file and stdin reads, and the pid reader.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use weft_model::{Record, Snapshot};

use crate::{PollOptions, SourceError, SourceSpec};

/// Which concurrent form of the goroutine profile to poll. Both are
/// collected without stopping the target's world and both carry counts,
/// labels and file:line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProfileForm {
    /// `?debug=0`: gzipped protobuf. Default: it keeps the runtime frames at
    /// the top of each stack (`runtime.chanrecv1`, `runtime.selectgo`, ...),
    /// so states are exact (`chan receive`, `select`, ...), and it is the
    /// smallest on the wire.
    #[default]
    Debug0,
    /// `?debug=1`: text. Its writer hides those runtime frames; weft restores
    /// them with symbols learned from a `debug=0` fetch of the same process
    /// (one extra request per connection, repeated at most every
    /// [`SYMBOL_REFRESH`] when new stacks stay unresolved).
    Debug1,
}

impl ProfileForm {
    fn query(self) -> &'static str {
        match self {
            ProfileForm::Debug1 => "debug=1",
            ProfileForm::Debug0 => "debug=0",
        }
    }
}

/// Least time between two `debug=0` fetches made only to learn symbols for
/// `debug=1` polling.
pub const SYMBOL_REFRESH: Duration = Duration::from_secs(30);

/// Does a `debug=1` snapshot still have stacks whose hidden runtime frames
/// were not restored (their state could only be inferred as `waiting`)?
pub(crate) fn has_unresolved(snap: &Snapshot) -> bool {
    snap.records
        .iter()
        .any(|r| r.status_inferred && r.status == "waiting")
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Takes one snapshot: the concurrent goroutine profile for a URL (plus the
/// leak profile when `opts.leak_profile` and the target serves it), the
/// file's or stdin's content, or the process by pid.
pub fn fetch_once(spec: &SourceSpec, opts: &PollOptions) -> Result<Snapshot, SourceError> {
    match spec {
        SourceSpec::Url(base) => {
            let http = Http::new(opts);
            let mut snap = match opts.form {
                ProfileForm::Debug0 => http.goroutines(base, ProfileForm::Debug0, opts)?,
                ProfileForm::Debug1 => {
                    // debug=1 alone cannot tell a channel wait from a select:
                    // learn the hidden frames from one debug=0 fetch first.
                    let symbols = http.symbols(base, opts)?;
                    std::thread::sleep(opts.min_interval); // the rate bound holds here too
                    http.goroutines_with(base, ProfileForm::Debug1, Some(&symbols), opts)?
                }
            };
            // Opt-in, and guarded like debug=2: its GC cycle stalls big targets.
            if opts.leak_profile
                && (opts.force_detail || snap.total() <= opts.max_goroutines_for_detail)
            {
                // Best effort: a target without the experiment answers 404.
                if let Ok(Some(leak)) = http.leak_profile(base, opts) {
                    merge_leak_profile(&mut snap, &leak);
                }
            }
            Ok(snap)
        }
        SourceSpec::File(path) => {
            let what = path.display().to_string();
            let f = std::fs::File::open(path).map_err(|err| SourceError::Io {
                what: format!("cannot open {what}"),
                err,
            })?;
            let bytes = read_capped(f, opts.max_body_bytes, &what)?;
            finish(parse(&bytes, &what)?, &spec.describe())
        }
        SourceSpec::Stdin => {
            let bytes = read_capped(
                std::io::stdin().lock(),
                opts.max_body_bytes,
                "standard input",
            )?;
            finish(parse(&bytes, "standard input")?, "-")
        }
        SourceSpec::Pid(pid) => {
            let snap = weft_attach::snapshot(*pid, &opts.attach).map_err(SourceError::Attach)?;
            finish(snap, &spec.describe())
        }
    }
}

/// Takes one full `debug=2` dump (per-goroutine ids, wait times, creators).
///
/// It stops the target's world while every stack is formatted, so it is
/// refused when the last concurrent poll counted more than
/// `opts.max_goroutines_for_detail` goroutines, unless `opts.force_detail`.
/// For files, stdin and pids this is the same as [`fetch_once`].
pub fn fetch_detail(
    spec: &SourceSpec,
    opts: &PollOptions,
    last_total: Option<u64>,
) -> Result<Snapshot, SourceError> {
    match spec {
        SourceSpec::Url(base) => {
            check_detail_allowed(opts, last_total)?;
            let http = Http::new(opts);
            let url = format!("{base}/debug/pprof/goroutine?debug=2");
            let bytes = http.get(&url, opts)?;
            finish(parse(&bytes, &url)?, base)
        }
        _ => fetch_once(spec, opts),
    }
}

pub(crate) fn check_detail_allowed(
    opts: &PollOptions,
    last_total: Option<u64>,
) -> Result<(), SourceError> {
    if opts.force_detail {
        return Ok(());
    }
    match last_total {
        Some(n) if n > opts.max_goroutines_for_detail => Err(SourceError::DetailRefused {
            reason: format!(
                "the target has {n} goroutines (limit {}); a debug=2 dump stops the program while it formats every stack. Use --force to take it anyway",
                opts.max_goroutines_for_detail
            ),
        }),
        _ => Ok(()),
    }
}

fn parse(bytes: &[u8], what: &str) -> Result<Snapshot, SourceError> {
    weft_profile::parse(bytes).map_err(|err| SourceError::Parse {
        what: what.to_string(),
        err,
    })
}

fn finish(mut snap: Snapshot, source: &str) -> Result<Snapshot, SourceError> {
    snap.source = source.to_string();
    if snap.taken_at_ms == 0 {
        snap.taken_at_ms = now_ms();
    }
    Ok(snap)
}

/// Reads at most `limit` bytes; more is an error that says where it stopped.
fn read_capped(r: impl Read, limit: u64, what: &str) -> Result<Vec<u8>, SourceError> {
    let mut buf = Vec::new();
    r.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|err| SourceError::Io {
            what: format!("reading {what}"),
            err,
        })?;
    if buf.len() as u64 > limit {
        return Err(SourceError::TooLarge {
            what: what.to_string(),
            limit,
        });
    }
    Ok(buf)
}

/// Marks the goroutines the leak profile reports as `leaked`, splitting an
/// aggregated record when only part of it leaked. Leak records are matched
/// to goroutine records by function sequence; leaked stacks the goroutine
/// snapshot does not have (they raced with it) are ignored.
pub fn merge_leak_profile(snap: &mut Snapshot, leak: &Snapshot) {
    // Compared as debug=1 prints them (leading runtime frames and goexit
    // left out), so a debug=1 leak profile matches a debug=0 snapshot.
    fn sig(r: &Record) -> Vec<&str> {
        r.stack
            .iter()
            .map(|f| f.func.as_str())
            .skip_while(|f| f.starts_with("runtime.") || f.starts_with("internal/runtime/"))
            .filter(|f| *f != "runtime.goexit")
            .collect()
    }
    let mut extra = Vec::new();
    for lr in &leak.records {
        let want = sig(lr);
        let mut remaining = lr.count;
        for rec in snap.records.iter_mut() {
            if remaining == 0 {
                break;
            }
            if rec.leaked || rec.count == 0 || sig(rec) != want {
                continue;
            }
            if rec.count <= remaining {
                rec.leaked = true;
                remaining -= rec.count;
            } else {
                let mut part = rec.clone();
                part.count = remaining;
                part.leaked = true;
                part.ids.clear();
                rec.count -= remaining;
                remaining = 0;
                extra.push(part);
            }
        }
    }
    snap.records.extend(extra);
}

/// The HTTP side: one agent, timeouts, capped bodies, clear statuses.
pub(crate) struct Http {
    agent: ureq::Agent,
}

impl Http {
    pub(crate) fn new(opts: &PollOptions) -> Http {
        Http {
            agent: ureq::AgentBuilder::new()
                .timeout_connect(opts.timeout)
                .timeout(opts.timeout)
                .redirects(0)
                .user_agent("weft")
                .build(),
        }
    }

    pub(crate) fn goroutines(
        &self,
        base: &str,
        form: ProfileForm,
        opts: &PollOptions,
    ) -> Result<Snapshot, SourceError> {
        self.goroutines_with(base, form, None, opts)
    }

    /// Like `goroutines`; `debug=1` text is parsed with `symbols` when given.
    pub(crate) fn goroutines_with(
        &self,
        base: &str,
        form: ProfileForm,
        symbols: Option<&weft_profile::Symbols>,
        opts: &PollOptions,
    ) -> Result<Snapshot, SourceError> {
        let url = format!("{base}/debug/pprof/goroutine?{}", form.query());
        let bytes = self.get(&url, opts)?;
        let snap = match symbols {
            Some(sym) => {
                weft_profile::parse_with_symbols(&bytes, sym).map_err(|err| SourceError::Parse {
                    what: url.clone(),
                    err,
                })?
            }
            None => parse(&bytes, &url)?,
        };
        finish(snap, base)
    }

    /// Symbols for `debug=1` parsing, from one `debug=0` fetch.
    pub(crate) fn symbols(
        &self,
        base: &str,
        opts: &PollOptions,
    ) -> Result<weft_profile::Symbols, SourceError> {
        let snap = self.goroutines(base, ProfileForm::Debug0, opts)?;
        Ok(weft_profile::Symbols::from_profile(&snap))
    }

    /// `Ok(None)` when the target does not serve the leak profile (404).
    pub(crate) fn leak_profile(
        &self,
        base: &str,
        opts: &PollOptions,
    ) -> Result<Option<Snapshot>, SourceError> {
        let url = format!("{base}/debug/pprof/goroutineleak?debug=1");
        match self.get(&url, opts) {
            Ok(bytes) => Ok(Some(parse(&bytes, &url)?)),
            Err(SourceError::Status { code: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn get(&self, url: &str, opts: &PollOptions) -> Result<Vec<u8>, SourceError> {
        match self.agent.get(url).call() {
            Ok(resp) => read_body(resp.into_reader(), url, opts),
            Err(ureq::Error::Status(code, resp)) => {
                let hint = match code {
                    404 => "no pprof handler there: import _ \"net/http/pprof\" and serve http.DefaultServeMux on that address, or give the right host:port".to_string(),
                    _ => {
                        let body = resp.into_string().unwrap_or_default();
                        let first = body.lines().next().unwrap_or("").chars().take(200).collect::<String>();
                        if first.is_empty() {
                            "the target's pprof handler failed; check its logs".to_string()
                        } else {
                            format!("it said \"{first}\"; check the target's logs")
                        }
                    }
                };
                Err(SourceError::Status {
                    url: url.to_string(),
                    code,
                    hint,
                })
            }
            Err(ureq::Error::Transport(t)) => Err(transport_error(url, &t, opts.timeout)),
        }
    }
}

fn read_body(r: impl Read, url: &str, opts: &PollOptions) -> Result<Vec<u8>, SourceError> {
    read_capped(r, opts.max_body_bytes, &format!("the answer from {url}")).map_err(|e| match e {
        SourceError::Io { err, .. } if is_timeout(&err) => SourceError::Timeout {
            url: url.to_string(),
            after: opts.timeout,
        },
        SourceError::Io { err, .. } => SourceError::Connect {
            url: url.to_string(),
            message: format!("the connection broke while reading the answer: {err}"),
        },
        other => other,
    })
}

fn is_timeout(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

fn transport_error(url: &str, t: &ureq::Transport, timeout: Duration) -> SourceError {
    use std::error::Error;
    // ureq wraps io errors; a timeout shows up as one of them.
    let mut src: Option<&(dyn Error + 'static)> = t.source();
    while let Some(e) = src {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if is_timeout(io) {
                return SourceError::Timeout {
                    url: url.to_string(),
                    after: timeout,
                };
            }
        }
        src = e.source();
    }
    let message = match t.kind() {
        ureq::ErrorKind::ConnectionFailed => "connection refused or unreachable".to_string(),
        ureq::ErrorKind::Dns => "the host name does not resolve".to_string(),
        _ => t.to_string(),
    };
    SourceError::Connect {
        url: url.to_string(),
        message,
    }
}
