//! The live execution trace behind `weft top URL`: a `weft-source` trace
//! stream decoded into a `weft-timeline` model (digested on the stream's
//! decode thread, applied on a second: `LiveFeed`, which also settles
//! renewals), `weft-analysis` trace findings recomputed at most once a second,
//! and what the screen shows of them ([`TraceView`]: findings, the busiest
//! group-to-group wake flows).
//!
//! Tracing costs the target about 1–2% while it runs (the header says it is
//! on; `--no-trace` turns it off). One request at a time, renewed back to
//! back (see `weft_source::trace_stream`).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use weft_analysis::trace::{analyze, TraceConfig};
use weft_source::trace_stream::{AutoSaver, TraceSink};
use weft_source::{TraceSourceError, TraceStream, TraceStreamEvent, TraceStreamOptions};
use weft_timeline::{Config, LiveFeed, Model, WakerKind};
use weft_trace::{Decoder, EventRef};

use crate::view::Feed;

/// Findings that make `--save-on-finding` save the trace.
pub const SAVE_ON: &[&str] = &["deadlock", "partial-deadlock", "leak"];

/// The trace's state for the header.
#[derive(Clone, Debug, PartialEq)]
pub enum TraceStatus {
    /// Not available for this source (a file, a pid).
    Off,
    /// Turned off by the user (`--no-trace`).
    Disabled,
    /// Waiting for the first trace.
    Starting,
    /// Streaming.
    On,
    /// The last request failed; retried later (the message says when).
    Failing(String),
    /// Given up (no trace handler, a format weft cannot read).
    Unavailable(String),
}

/// One trace finding, phrased for the screen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceFindingView {
    /// `deadlock`, `partial-deadlock`, `leak`, `contention`...
    pub kind: String,
    pub summary: String,
    /// Functions involved: blocking frames, entry functions, creators.
    pub functions: Vec<String>,
    /// A deadlock or a leak: highlighted.
    pub severe: bool,
}

/// One group-to-group wake flow.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowView {
    /// Waking group (`entry@file:line`, shortened).
    pub from: String,
    /// Woken group.
    pub to: String,
    pub count: u64,
    /// Wakes per second between the first and the last.
    pub rate_per_s: f64,
    /// How long the woken goroutines had been blocked.
    pub p50_ns: u64,
    pub p99_ns: u64,
}

/// What the trace contributes to the screen, recomputed at most once a second.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceView {
    pub findings: Vec<TraceFindingView>,
    /// Busiest first.
    pub flows: Vec<FlowView>,
    /// Trace requests (streams) ingested so far.
    pub streams: u64,
    pub events: u64,
    /// Goroutines found gone at a renewal (exited between two requests).
    pub ended_between_requests: u64,
    /// How long the previous analysis took (it runs on the decode thread).
    pub analysis_ms: f64,
}

/// How many flows the view keeps.
const MAX_FLOWS: usize = 12;
/// Analysis runs at most this often.
const ANALYSE_EVERY: Duration = Duration::from_secs(1);

/// Feeds a [`Model`] from a trace stream (through a [`LiveFeed`], which
/// also ends the goroutines that exited between two requests) and
/// publishes a [`TraceView`] at most once a second, computed on the
/// stream's decode thread.
pub struct LiveModelSink {
    model: Arc<Mutex<Model>>,
    feed: LiveFeed,
    cfg: TraceConfig,
    views: Sender<TraceView>,
    last_view: Option<Instant>,
    /// Duration of the last analysis; the next waits ten times as long at
    /// least, so analysing never takes more than a tenth of the decode
    /// thread on a huge model.
    last_cost: Duration,
    events: u64,
    streams: u64,
}

impl LiveModelSink {
    /// A sink into a fresh model; views go to `views`.
    pub fn new(cfg: Config, views: Sender<TraceView>) -> LiveModelSink {
        let model = Arc::new(Mutex::new(Model::new(cfg)));
        let m = model.clone();
        let feed = LiveFeed::new(move |_, f| f(&mut m.lock().unwrap_or_else(|p| p.into_inner())));
        LiveModelSink {
            model,
            feed,
            cfg: TraceConfig::default(),
            views,
            last_view: None,
            last_cost: Duration::ZERO,
            events: 0,
            streams: 0,
        }
    }

    /// The model as applied so far (for tests and benchmarks; events
    /// pushed since the stream last caught up may still be on their way).
    pub fn model(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Goroutines ended at renewals so far.
    pub fn ended_between_requests(&self) -> u64 {
        self.feed.ended_between_streams()
    }

    /// Runs the trace findings and builds the screen's view.
    pub fn view(&self) -> TraceView {
        let m = &*self.model();
        let findings = analyze(m, &self.cfg)
            .into_iter()
            .map(|f| TraceFindingView {
                severe: SAVE_ON.contains(&f.finding.kind.as_str()),
                kind: f.finding.kind,
                summary: f.finding.summary,
                functions: f.functions,
            })
            .collect();
        let is_user = |g: u32| m.group_raw(g).is_some_and(|g| !g.system);
        let mut flows: Vec<FlowView> = m
            .wake_flows()
            .into_iter()
            .filter(|f| f.waker_kind == WakerKind::Goroutine)
            .filter(|f| f.from_group.is_some_and(is_user) && is_user(f.to_group))
            // Wakes between goroutines whose origin was not known yet (seen
            // running before the trace, no stack so far) name no group.
            .filter(|f| !(f.from_group == Some(0) && f.to_group == 0))
            .map(|f| FlowView {
                from: short_group(&m.group_key(f.from_group.unwrap_or(0))),
                to: short_group(&m.group_key(f.to_group)),
                count: f.count,
                rate_per_s: f.rate_per_s,
                p50_ns: f.blocked.p50_ns,
                p99_ns: f.blocked.p99_ns,
            })
            .collect();
        flows.sort_by(|a, b| {
            b.rate_per_s
                .partial_cmp(&a.rate_per_s)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(b.count.cmp(&a.count))
        });
        flows.truncate(MAX_FLOWS);
        TraceView {
            findings,
            flows,
            streams: self.streams,
            events: self.events,
            ended_between_requests: self.ended_between_requests(),
            analysis_ms: self.last_cost.as_secs_f64() * 1e3,
        }
    }

    fn publish(&mut self) {
        let t = Instant::now();
        let v = self.view();
        self.last_cost = t.elapsed();
        self.last_view = Some(Instant::now());
        let _ = self.views.send(v);
    }

    fn analysis_due(&self) -> bool {
        self.last_view
            .is_none_or(|t| t.elapsed() >= ANALYSE_EVERY.max(self.last_cost * 10))
    }
}

impl TraceSink for LiveModelSink {
    fn stream_started(&mut self, _stream: u64) {
        self.feed.restart();
        self.streams += 1;
    }

    fn event(&mut self, _stream: u64, ev: &EventRef<'_>) {
        self.feed.push(ev);
        self.events += 1;
        if self.events % 4096 == 0 && self.analysis_due() {
            self.feed.sync();
            self.publish();
        }
    }

    fn caught_up(&mut self, _stream: u64) {
        self.feed.flush();
    }

    fn stream_ended(&mut self, _stream: u64, _dec: &Decoder, error: Option<&TraceSourceError>) {
        self.feed.stream_ended(error.is_none());
        self.feed.sync();
        self.publish();
    }
}

/// `pkg.func@dir/file.go:12` → `pkg.func@file.go:12`, without the module path.
pub fn short_group(key: &str) -> String {
    let (func, site) = match key.split_once('@') {
        Some((f, s)) => (f, Some(s)),
        None => (key, None),
    };
    let func = func.rsplit('/').next().unwrap_or(func);
    match site {
        Some(s) => format!("{func}@{}", s.rsplit('/').next().unwrap_or(s)),
        None => func.to_string(),
    }
}

/// Options of [`TraceFeed`].
#[derive(Clone, Debug)]
pub struct TraceFeedOptions {
    pub stream: TraceStreamOptions,
    pub model: Config,
    /// Where `w` saves the raw trace.
    pub save_dir: PathBuf,
    /// Save automatically into this directory when a deadlock or leak
    /// finding appears.
    pub save_on_finding: Option<PathBuf>,
}

impl Default for TraceFeedOptions {
    fn default() -> Self {
        TraceFeedOptions {
            stream: TraceStreamOptions::default(),
            model: Config::default(),
            save_dir: PathBuf::from("."),
            save_on_finding: None,
        }
    }
}

/// The trace side of `weft top`: the stream, the views it produces, and
/// saving the raw ring.
pub struct TraceFeed {
    stream: TraceStream,
    views: Receiver<TraceView>,
    save_dir: PathBuf,
    autosave: Option<AutoSaver>,
    /// Severe findings already seen (kind and summary), so that each
    /// triggers one automatic save.
    seen: HashSet<(String, String)>,
    queued: Vec<Feed>,
    given_up: bool,
}

impl TraceFeed {
    /// Starts streaming `/debug/pprof/trace` from the pprof base URL.
    pub fn spawn(base: &str, opts: TraceFeedOptions) -> TraceFeed {
        let (tx, views) = mpsc::channel();
        let sink = LiveModelSink::new(opts.model.clone(), tx);
        let stream = TraceStream::spawn(base, opts.stream.clone(), Box::new(sink));
        let autosave = opts
            .save_on_finding
            .map(|dir| AutoSaver::new(stream.ring(), dir, Duration::from_secs(60)));
        TraceFeed {
            stream,
            views,
            save_dir: opts.save_dir,
            autosave,
            seen: HashSet::new(),
            queued: vec![Feed::TraceStatus(TraceStatus::Starting)],
            given_up: false,
        }
    }

    /// The next feed, if one is ready (never blocks).
    pub fn try_next(&mut self) -> Option<Feed> {
        if self.queued.is_empty() {
            self.poll();
        }
        if self.queued.is_empty() {
            None
        } else {
            Some(self.queued.remove(0))
        }
    }

    fn poll(&mut self) {
        while let Ok(ev) = self.stream.events().try_recv() {
            let status = match ev {
                TraceStreamEvent::StreamStarted { .. } => Some(TraceStatus::On),
                TraceStreamEvent::Error { error, retry_in } => Some(self.failed(error, retry_in)),
                TraceStreamEvent::StreamEnded {
                    error: Some(TraceSourceError::Lagged { .. }),
                    ..
                } => {
                    self.queued.push(Feed::Notice(
                        "trace: weft fell behind the target's trace rate; part of a request was kept raw, not analysed".into(),
                    ));
                    None
                }
                TraceStreamEvent::StreamEnded {
                    error: Some(error), ..
                } => Some(self.failed(error, Duration::ZERO)),
                TraceStreamEvent::Stopped if !self.given_up => {
                    Some(TraceStatus::Unavailable("the trace stream stopped".into()))
                }
                _ => None,
            };
            if let Some(s) = status {
                self.queued.push(Feed::TraceStatus(s));
            }
        }
        // Only the newest view matters.
        let mut newest = None;
        loop {
            match self.views.try_recv() {
                Ok(v) => newest = Some(v),
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
        }
        if let Some(v) = newest {
            self.autosave(&v);
            self.queued.push(Feed::Trace(v));
        }
    }

    // Retrying cannot help when there is no handler or the bytes are not
    // a trace weft reads: stop costing the target anything.
    fn failed(&mut self, error: TraceSourceError, retry_in: Duration) -> TraceStatus {
        match error {
            TraceSourceError::NotFound { .. } | TraceSourceError::Decode { .. } => {
                self.given_up = true;
                self.stream.stop();
                TraceStatus::Unavailable(error.to_string())
            }
            _ if retry_in > Duration::ZERO => TraceStatus::Failing(format!(
                "{error} (retrying in {:.0}s)",
                retry_in.as_secs_f64().ceil()
            )),
            _ => TraceStatus::Failing(error.to_string()),
        }
    }

    fn autosave(&mut self, v: &TraceView) {
        for f in v.findings.iter().filter(|f| f.severe) {
            if !self.seen.insert((f.kind.clone(), f.summary.clone())) {
                continue;
            }
            let Some(saver) = self.autosave.as_mut() else {
                continue;
            };
            let feed = match saver.finding(&f.kind) {
                None => continue, // saved moments ago; that file covers it
                Some(Ok((path, s))) => Feed::TraceSaved(Ok(format!(
                    "{} ({} generations, {} bytes) on {}",
                    path.display(),
                    s.generations,
                    s.bytes,
                    f.kind
                ))),
                Some(Err(e)) => Feed::TraceSaved(Err(format!("saving on {}: {e}", f.kind))),
            };
            self.queued.push(feed);
        }
    }

    /// Saves the last seconds of raw trace into the save directory as
    /// `weft-<unix seconds>.trace`; the answer says where or why not.
    pub fn save(&mut self) -> Feed {
        let secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let path = self.save_dir.join(format!("weft-{secs}.trace"));
        Feed::TraceSaved(match self.stream.save(&path) {
            Ok(s) => Ok(format!(
                "{} ({} generations, {} bytes)",
                path.display(),
                s.generations,
                s.bytes
            )),
            Err(e) => Err(format!("cannot save the trace to {}: {e}", path.display())),
        })
    }

    /// Stops the stream (after the request in flight) and waits for it.
    pub fn join(self) {
        self.stream.join();
    }
}
