//! Live polling on a thread of its own. Events go out over a std channel;
//! commands (detail request, interval, stop) come in over another, so the
//! frontend never blocks on the network.
//!
//! The connection is a small state machine: connected, or disconnected with
//! a backoff. A successful poll after the target went away (refused or
//! reset) is reported as [`PollEvent::TargetRestarted`]: a pprof server that
//! is up does not refuse connections, so the process that answers again is
//! almost always a new one, and its goroutines need a new baseline.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use weft_model::Snapshot;

use crate::fetch::{
    check_detail_allowed, has_unresolved, merge_leak_profile, now_ms, Http, ProfileForm,
    SYMBOL_REFRESH,
};
use crate::{fetch_once, SourceError, SourceSpec};

/// How to poll. The defaults never stop the target's world.
#[derive(Clone, Debug)]
pub struct PollOptions {
    /// Time between polls (default 1 s).
    pub interval: Duration,
    /// Floor on the time between two requests of any kind, whatever is
    /// asked (default 200 ms): the request rate is always bounded.
    pub min_interval: Duration,
    /// Connect and whole-request timeout (default 5 s).
    pub timeout: Duration,
    /// Largest answer or file read; past it reading stops with an error (default 64 MiB).
    pub max_body_bytes: u64,
    /// Concurrent form to poll (default `debug=0`, which gives exact
    /// states; `debug=1` gets them through symbols, see [`ProfileForm`]).
    pub form: ProfileForm,
    /// Least time between two `debug=2` dumps (default 10 s).
    pub detail_min_interval: Duration,
    /// `debug=2` is refused above this many goroutines (default 10 000),
    /// counted by the last concurrent poll.
    pub max_goroutines_for_detail: u64,
    /// Take `debug=2` even above the limit.
    pub force_detail: bool,
    /// Also read `/debug/pprof/goroutineleak` when served (Go 1.27+, or 1.26
    /// with the experiment). Off by default: each read runs a leak-finding
    /// GC cycle in the target (one read stalled a 100k-goroutine target for
    /// 18 s in weft top's tests), hence also its own slow interval and the
    /// same goroutine-count guard as `debug=2`.
    pub leak_profile: bool,
    /// Time between leak-profile reads (default 30 s).
    pub leak_interval: Duration,
    /// Longest wait between retries after errors (default 30 s).
    pub max_backoff: Duration,
    /// Options for `pid:N` sources.
    pub attach: weft_attach::AttachOptions,
}

impl Default for PollOptions {
    fn default() -> Self {
        PollOptions {
            interval: Duration::from_secs(1),
            min_interval: Duration::from_millis(200),
            timeout: Duration::from_secs(5),
            max_body_bytes: 64 << 20,
            form: ProfileForm::Debug0,
            detail_min_interval: Duration::from_secs(10),
            max_goroutines_for_detail: 10_000,
            force_detail: false,
            leak_profile: false,
            leak_interval: Duration::from_secs(30),
            max_backoff: Duration::from_secs(30),
            attach: weft_attach::AttachOptions::default(),
        }
    }
}

/// What the poller thread reports.
#[derive(Debug)]
pub enum PollEvent {
    /// The first successful poll (and the first after a failure).
    Connected { source: String },
    /// A concurrent-form snapshot (leak-profile findings merged in).
    Snapshot(Snapshot),
    /// A `debug=2` dump taken on request.
    Detail(Snapshot),
    /// A requested `debug=2` dump was not taken, and why.
    DetailRefused { reason: String },
    /// A poll failed but the target is there (timeout, bad status, bad body).
    Error { message: String, retry_in: Duration },
    /// The target is gone (refused, reset); retrying with backoff.
    Disconnected { message: String, retry_in: Duration },
    /// The target answered again after being gone: treat it as a new
    /// process (start a new baseline).
    TargetRestarted { message: String },
    /// Something worth a status-line note (e.g. no leak profile served).
    Notice { message: String },
}

enum Command {
    Detail { force: bool },
    Interval(Duration),
    PollNow,
    Stop,
}

/// A running poller. Dropping it stops the thread.
pub struct Poller {
    events: Receiver<PollEvent>,
    commands: Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    /// Starts polling `spec` on a new thread.
    pub fn spawn(spec: SourceSpec, opts: PollOptions) -> Poller {
        let (ev_tx, ev_rx) = mpsc::channel();
        let (cmd_tx, cmd_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("weft-poller".into())
            .spawn(move || PollLoop::new(spec, opts, ev_tx, cmd_rx).run())
            .expect("spawning the poller thread");
        Poller {
            events: ev_rx,
            commands: cmd_tx,
            thread: Some(thread),
        }
    }

    /// The event stream.
    pub fn events(&self) -> &Receiver<PollEvent> {
        &self.events
    }

    /// Asks for one `debug=2` dump (answered by `Detail` or `DetailRefused`).
    pub fn request_detail(&self, force: bool) {
        let _ = self.commands.send(Command::Detail { force });
    }

    /// Changes the polling interval (still floored at `min_interval`).
    pub fn set_interval(&self, interval: Duration) {
        let _ = self.commands.send(Command::Interval(interval));
    }

    /// Polls as soon as the rate bound allows.
    pub fn poll_now(&self) {
        let _ = self.commands.send(Command::PollNow);
    }

    /// Stops the thread and waits for it (at most one request timeout).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[derive(PartialEq)]
enum Link {
    /// Nothing answered yet.
    New,
    Connected,
    /// The last poll found the target gone.
    Gone,
    /// The last poll failed otherwise (timeout, status, body).
    Failing,
}

struct PollLoop {
    spec: SourceSpec,
    opts: PollOptions,
    events: Sender<PollEvent>,
    commands: Receiver<Command>,
    http: Http,
    link: Link,
    /// Has the target ever answered? (for restart detection)
    ever_connected: bool,
    failures: u32,
    last_request: Option<Instant>,
    last_detail: Option<Instant>,
    last_total: Option<u64>,
    /// `None` = not known yet, `Some(false)` = target answered 404.
    leak_served: Option<bool>,
    last_leak: Option<(Instant, Snapshot)>,
    /// The "leak profile skipped: too many goroutines" note was given.
    leak_skipped_note: bool,
    attacher: Option<weft_attach::Attacher>,
    /// `debug=1` polling: PCs learned from this process's `debug=0`
    /// profiles, when they were last learned, and whether a later `debug=1`
    /// poll had stacks they did not resolve.
    symbols: Option<(Instant, weft_profile::Symbols)>,
    symbols_stale: bool,
    /// Files and stdin are read once.
    done: bool,
    /// The event receiver was dropped: the thread ends.
    closed: std::cell::Cell<bool>,
}

impl PollLoop {
    fn new(
        spec: SourceSpec,
        opts: PollOptions,
        events: Sender<PollEvent>,
        commands: Receiver<Command>,
    ) -> Self {
        PollLoop {
            http: Http::new(&opts),
            spec,
            opts,
            events,
            commands,
            link: Link::New,
            ever_connected: false,
            failures: 0,
            last_request: None,
            last_detail: None,
            last_total: None,
            leak_served: None,
            last_leak: None,
            leak_skipped_note: false,
            attacher: None,
            symbols: None,
            symbols_stale: false,
            done: false,
            closed: std::cell::Cell::new(false),
        }
    }

    fn run(mut self) {
        let mut next_poll = Instant::now();
        loop {
            let wait = if self.done {
                Duration::from_secs(3600)
            } else {
                next_poll.saturating_duration_since(Instant::now())
            };
            match self.commands.recv_timeout(wait) {
                Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Command::Interval(d)) => {
                    self.opts.interval = d;
                    next_poll = Instant::now() + self.opts.interval.max(self.opts.min_interval);
                }
                Ok(Command::PollNow) => next_poll = Instant::now(),
                Ok(Command::Detail { force }) => {
                    self.detail(force);
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.pace();
                    let retry_in = self.poll();
                    next_poll = Instant::now() + retry_in;
                }
            }
            if self.closed.get() {
                // Nobody listens any more.
                return;
            }
        }
    }

    /// Sleeps as needed so two requests are never closer than `min_interval`.
    fn pace(&mut self) {
        if let Some(t) = self.last_request {
            let since = t.elapsed();
            if since < self.opts.min_interval {
                std::thread::sleep(self.opts.min_interval - since);
            }
        }
        self.last_request = Some(Instant::now());
    }

    fn emit(&self, ev: PollEvent) -> bool {
        let ok = self.events.send(ev).is_ok();
        if !ok {
            self.closed.set(true);
        }
        ok
    }

    /// One poll; returns the time to the next one.
    fn poll(&mut self) -> Duration {
        let interval = self.opts.interval.max(self.opts.min_interval);
        match self.take() {
            Ok(snap) => {
                if self.link != Link::Connected {
                    if self.link == Link::Gone && self.ever_connected {
                        self.emit(PollEvent::TargetRestarted {
                            message: format!(
                                "{} answers again after being unreachable: a new process, so a new baseline",
                                self.spec.describe()
                            ),
                        });
                        // The new process may differ (e.g. a new Go version).
                        self.leak_served = None;
                        self.last_leak = None;
                        // Its code sits at other addresses.
                        self.symbols = None;
                    }
                    self.emit(PollEvent::Connected {
                        source: self.spec.describe(),
                    });
                }
                self.link = Link::Connected;
                self.ever_connected = true;
                self.failures = 0;
                self.last_total = Some(snap.total());
                self.emit(PollEvent::Snapshot(snap));
                if matches!(self.spec, SourceSpec::File(_) | SourceSpec::Stdin) {
                    self.done = true;
                }
                interval
            }
            Err(e) => {
                let backoff = interval
                    .saturating_mul(1u32 << self.failures.min(6))
                    .min(self.opts.max_backoff.max(interval));
                self.failures += 1;
                let message = e.to_string();
                if e.is_disconnect() {
                    self.link = Link::Gone;
                    self.emit(PollEvent::Disconnected {
                        message,
                        retry_in: backoff,
                    });
                } else {
                    if self.link != Link::Gone {
                        self.link = Link::Failing;
                    }
                    self.emit(PollEvent::Error {
                        message,
                        retry_in: backoff,
                    });
                }
                if matches!(self.spec, SourceSpec::File(_) | SourceSpec::Stdin) {
                    self.done = true;
                }
                backoff
            }
        }
    }

    fn take(&mut self) -> Result<Snapshot, SourceError> {
        match &self.spec {
            SourceSpec::Url(base) => {
                let base = base.clone();
                let mut snap = match self.opts.form {
                    ProfileForm::Debug0 => {
                        self.http
                            .goroutines(&base, ProfileForm::Debug0, &self.opts)?
                    }
                    ProfileForm::Debug1 => self.take_debug1(&base)?,
                };
                self.merge_leaks(&base, &mut snap);
                Ok(snap)
            }
            SourceSpec::Pid(pid) => {
                let pid = *pid;
                if self.attacher.is_none() {
                    self.attacher =
                        Some(weft_attach::Attacher::new(pid).map_err(SourceError::Attach)?);
                }
                let attacher = self.attacher.as_mut().expect("set above");
                match attacher.snapshot(&self.opts.attach) {
                    Ok(mut snap) => {
                        snap.source = format!("pid:{pid}");
                        if snap.taken_at_ms == 0 {
                            snap.taken_at_ms = now_ms();
                        }
                        Ok(snap)
                    }
                    Err(e) => {
                        // Re-open next time: the process may have changed.
                        self.attacher = None;
                        Err(SourceError::Attach(e))
                    }
                }
            }
            other => fetch_once(other, &self.opts),
        }
    }

    /// One `debug=1` poll with the hidden runtime frames restored. The first
    /// poll of a process, and a poll at most every [`SYMBOL_REFRESH`] after
    /// one found stacks the symbols did not cover, reads `debug=0` instead
    /// (same cost to the target) and learns its PCs; so no request is added.
    fn take_debug1(&mut self, base: &str) -> Result<Snapshot, SourceError> {
        let learn = match &self.symbols {
            None => true,
            Some((at, _)) => self.symbols_stale && at.elapsed() >= SYMBOL_REFRESH,
        };
        if learn {
            let snap = self
                .http
                .goroutines(base, ProfileForm::Debug0, &self.opts)?;
            let mut sym = self.symbols.take().map(|(_, s)| s).unwrap_or_default();
            sym.learn(&snap);
            self.symbols = Some((Instant::now(), sym));
            self.symbols_stale = false;
            return Ok(snap);
        }
        let (_, sym) = self.symbols.as_ref().expect("learned above");
        let snap = self
            .http
            .goroutines_with(base, ProfileForm::Debug1, Some(sym), &self.opts)?;
        self.symbols_stale |= has_unresolved(&snap);
        Ok(snap)
    }

    /// Reads the leak profile at its own slow interval and marks the
    /// goroutines it names; a 404 is remembered until the target restarts.
    fn merge_leaks(&mut self, base: &str, snap: &mut Snapshot) {
        if !self.opts.leak_profile || self.leak_served == Some(false) {
            return;
        }
        if !self.opts.force_detail && snap.total() > self.opts.max_goroutines_for_detail {
            if !self.leak_skipped_note {
                self.leak_skipped_note = true;
                self.emit(PollEvent::Notice {
                    message: format!(
                        "leak profile not read: {} goroutines is above the limit of {} (its GC cycle would stall the target); force to read it anyway",
                        snap.total(),
                        self.opts.max_goroutines_for_detail
                    ),
                });
            }
            return;
        }
        let due = match &self.last_leak {
            Some((at, _)) => at.elapsed() >= self.opts.leak_interval,
            None => true,
        };
        if due {
            match self.http.leak_profile(base, &self.opts) {
                Ok(Some(leak)) => {
                    self.leak_served = Some(true);
                    self.last_leak = Some((Instant::now(), leak));
                }
                Ok(None) => {
                    self.leak_served = Some(false);
                    self.emit(PollEvent::Notice {
                        message: "the target does not serve /debug/pprof/goroutineleak (Go 1.27+, or 1.26 with GOEXPERIMENT=goroutineleakprofile); leak detection uses growth only".into(),
                    });
                    return;
                }
                Err(e) => {
                    self.emit(PollEvent::Notice {
                        message: format!("leak profile unavailable this time: {e}"),
                    });
                    return;
                }
            }
        }
        if let Some((_, leak)) = &self.last_leak {
            merge_leak_profile(snap, leak);
        }
    }

    /// Serves a detail request; returns false when the frontend is gone.
    fn detail(&mut self, force: bool) -> bool {
        let SourceSpec::Url(base) = self.spec.clone() else {
            // Files, stdin and pids already give per-goroutine detail.
            return match self.take() {
                Ok(s) => self.emit(PollEvent::Detail(s)),
                Err(e) => self.emit(PollEvent::DetailRefused {
                    reason: e.to_string(),
                }),
            };
        };
        if let Some(t) = self.last_detail {
            let since = t.elapsed();
            if since < self.opts.detail_min_interval {
                let wait = self.opts.detail_min_interval - since;
                return self.emit(PollEvent::DetailRefused {
                    reason: format!(
                        "a full dump was taken {:.0}s ago; the next one is allowed in {:.0}s (dumps stop the target's world)",
                        since.as_secs_f64(),
                        wait.as_secs_f64().ceil()
                    ),
                });
            }
        }
        let mut opts = self.opts.clone();
        opts.force_detail |= force;
        if let Err(e) = check_detail_allowed(&opts, self.last_total) {
            return self.emit(PollEvent::DetailRefused {
                reason: e.to_string(),
            });
        }
        self.pace();
        self.last_detail = Some(Instant::now());
        let url = format!("{base}/debug/pprof/goroutine?debug=2");
        let res = self.http.get(&url, &opts).and_then(|bytes| {
            weft_profile::parse(&bytes).map_err(|err| SourceError::Parse {
                what: url.clone(),
                err,
            })
        });
        match res {
            Ok(mut snap) => {
                snap.source = base.clone();
                snap.taken_at_ms = now_ms();
                self.emit(PollEvent::Detail(snap))
            }
            Err(e) => self.emit(PollEvent::DetailRefused {
                reason: e.to_string(),
            }),
        }
    }
}
