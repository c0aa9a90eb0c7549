//! Live execution traces: `/debug/pprof/trace` streamed, renewed back to
//! back, decoded as bytes arrive, with the last N seconds of raw trace kept
//! for saving.
//!
//! How the target is treated:
//! - **One request at a time, ever.** Go refuses a second tracer anyway; a
//!   single network thread issues trace requests strictly one after the
//!   other, and request starts are never closer than
//!   [`TraceStreamOptions::min_request_interval`].
//! - **Back to back.** When a request's body ends (the target stopped
//!   tracing) the next one goes out at once on the same keep-alive
//!   connection, before the last bytes are even decoded (decoding runs on
//!   its own thread), so the hole between two requests' coverage is the
//!   target's `trace.Stop` + `trace.Start`, milliseconds.
//! - **Why requests are renewed at all, and how long they are.** Go's
//!   handler writes the trace into the HTTP response without flushing, so up
//!   to ~6 KB (net/http's response buffers) stay in the target until more
//!   trace pushes them out or the request ends. A busy target fills that
//!   in milliseconds; a quiet one can sit on a whole generation. So a request
//!   is long ([`TraceStreamOptions::request`], default 10 s: fewer restarts,
//!   each of which restates every goroutine) when the previous one carried at
//!   least [`TraceStreamOptions::busy_bytes_per_sec`], and short
//!   ([`TraceStreamOptions::quiet_request`], default 1 s) otherwise, which
//!   bounds how late a quiet target's events arrive.
//! - **Errors say what happened** ([`TraceSourceError`]): nothing listening,
//!   no pprof (404), tracing already enabled by someone else (Go answers
//!   500 "tracing is already enabled"), timeouts, the connection breaking
//!   mid-stream (the target died), bytes that are not a trace. Failed
//!   requests are retried with exponential backoff.
//!
//! - **A slow weft never slows the target.** The socket is read as fast as
//!   bytes come; if decoding falls more than 64 MB behind, the rest of
//!   that request goes to the ring only ([`TraceSourceError::Lagged`]) and
//!   decoding resumes with the next request.
//!
//! Each request is a new trace starting with its own header, so each gets a
//! fresh [`weft_trace::Decoder`]. Events go to a [`TraceSink`] on the decode
//! thread (the trace model plugs in there); raw bytes go to the
//! [`TraceRing`], which can be saved at any time ([`TraceStream::save`], or
//! [`AutoSaver`] when a finding appears).
//!
//! Besides live URLs, [`read_trace`] feeds a trace file or a one-shot
//! snapshot URL (e.g. a `runtime/trace.FlightRecorder` served by the
//! program, Go 1.25+) through the same sink.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use weft_trace::{Decoder, EventRef, Status};

mod ring;

pub use ring::{RingOptions, SaveError, SavedTrace, TraceRing, HEADER_LEN};

/// Where a trace comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceSpec {
    /// A pprof base URL (`http://127.0.0.1:6060`): stream `/debug/pprof/trace`.
    Live(String),
    /// A trace file (from `runtime/trace`, `go test -trace`, `weft trace record`).
    File(PathBuf),
    /// A URL answering with one complete trace, e.g. a handler that writes a
    /// `runtime/trace.FlightRecorder` snapshot (Go 1.25+).
    Snapshot(String),
}

/// Reads a trace source argument: an existing file; an `http://` URL whose
/// path is not under `/debug/pprof` (a flight-recorder or other snapshot
/// endpoint, fetched once); otherwise anything [`crate::parse_source`] takes
/// as a pprof URL (streamed live).
pub fn parse_trace_source(arg: &str) -> Result<TraceSpec, crate::SourceError> {
    let t = arg.trim();
    if let Some(rest) = t.strip_prefix("http://") {
        if let Some(i) = rest.find('/') {
            let path = &rest[i..];
            if !path.starts_with("/debug/pprof") && !path.contains("/debug/pprof") && path != "/" {
                return Ok(TraceSpec::Snapshot(t.to_string()));
            }
        }
    }
    match crate::parse_source(arg)? {
        crate::SourceSpec::Url(u) => Ok(TraceSpec::Live(u)),
        crate::SourceSpec::File(p) => Ok(TraceSpec::File(p)),
        other => Err(crate::SourceError::BadSource {
            arg: arg.to_string(),
            why: format!(
                "{} cannot give an execution trace; give a pprof URL, a trace file or a snapshot URL",
                other.describe()
            ),
        }),
    }
}

/// Why a trace could not be had.
#[derive(Debug, Clone)]
pub enum TraceSourceError {
    /// Nothing answered (refused, unreachable).
    Connect {
        #[allow(missing_docs)]
        url: String,
        #[allow(missing_docs)]
        message: String,
    },
    /// No bytes for longer than the read timeout.
    Timeout {
        #[allow(missing_docs)]
        url: String,
        #[allow(missing_docs)]
        after: Duration,
    },
    /// 404: the target serves no trace handler there.
    NotFound {
        #[allow(missing_docs)]
        url: String,
    },
    /// Go refused to start tracing because a trace is already running
    /// (another `/debug/pprof/trace` client, or the program's own
    /// `runtime/trace.Start`).
    Busy {
        #[allow(missing_docs)]
        url: String,
        /// What the target said.
        said: String,
    },
    /// Another non-200 answer.
    Status {
        #[allow(missing_docs)]
        url: String,
        #[allow(missing_docs)]
        code: u16,
        #[allow(missing_docs)]
        said: String,
    },
    /// The connection broke while the trace was streaming.
    Broken {
        #[allow(missing_docs)]
        url: String,
        /// Trace bytes received before it broke.
        after_bytes: u64,
        #[allow(missing_docs)]
        message: String,
    },
    /// The bytes are not a trace weft can read.
    Decode {
        /// URL or file.
        what: String,
        #[allow(missing_docs)]
        err: weft_trace::Error,
    },
    /// Decoding fell behind the target's trace rate; the rest of this
    /// request was kept raw (in the ring) but not decoded.
    Lagged {
        #[allow(missing_docs)]
        url: String,
        /// Bytes decoded before falling behind.
        decoded_bytes: u64,
    },
    /// Reading a file failed.
    Io {
        #[allow(missing_docs)]
        what: String,
        #[allow(missing_docs)]
        message: String,
    },
}

impl std::fmt::Display for TraceSourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use TraceSourceError::*;
        match self {
            Connect { url, message } => write!(
                f,
                "cannot reach {url}: {message}; is the program running and serving net/http/pprof on that address?"
            ),
            Timeout { url, after } => write!(
                f,
                "{url} sent nothing for {:.1}s; the target may be stuck or overloaded",
                after.as_secs_f64()
            ),
            NotFound { url } => write!(
                f,
                "{url} answered 404: no trace handler there; import _ \"net/http/pprof\" and serve http.DefaultServeMux on that address"
            ),
            Busy { url, said } => write!(
                f,
                "{url}: the target is already being traced by someone else (it said \"{said}\"); Go allows one tracer at a time: another `/debug/pprof/trace` client or the program's own runtime/trace.Start holds it"
            ),
            Status { url, code, said } => write!(f, "{url} answered HTTP {code}: \"{said}\""),
            Broken { url, after_bytes, message } => write!(
                f,
                "the trace stream from {url} broke after {after_bytes} bytes ({message}); the target may have exited or restarted"
            ),
            Decode { what, err } => write!(f, "{what}: not a trace weft can read: {err}"),
            Lagged { url, decoded_bytes } => write!(
                f,
                "{url}: weft could not decode as fast as the target traced; after {decoded_bytes} bytes the rest of this request was kept raw (saveable) but not analysed, so the target is never slowed. Decoding resumes with the next request"
            ),
            Io { what, message } => write!(f, "{what}: {message}"),
        }
    }
}

impl std::error::Error for TraceSourceError {}

/// What the caller learns from a stream besides the events themselves.
#[derive(Debug, Clone)]
pub enum TraceStreamEvent {
    /// A request was answered with a trace; `version` is the format (22, 23, 25, 26).
    StreamStarted {
        #[allow(missing_docs)]
        stream: u64,
        #[allow(missing_docs)]
        version: u32,
    },
    /// A whole generation arrived and is in the ring.
    Generation {
        #[allow(missing_docs)]
        stream: u64,
        #[allow(missing_docs)]
        gen: u64,
    },
    /// A stream was fully decoded.
    StreamEnded {
        #[allow(missing_docs)]
        stream: u64,
        /// Bytes and events of the stream.
        bytes: u64,
        #[allow(missing_docs)]
        events: u64,
        /// `None` for a clean end; the reason otherwise (a broken
        /// connection is reported here only, not again as `Error`; the
        /// next request follows after the usual backoff).
        error: Option<TraceSourceError>,
    },
    /// A request got no trace (refused, 404, busy, timed out before any
    /// answer); the next try is in `retry_in`. A stream that fails after it
    /// started is reported by its `StreamEnded` instead, never twice.
    Error {
        #[allow(missing_docs)]
        error: TraceSourceError,
        #[allow(missing_docs)]
        retry_in: Duration,
    },
    /// The stream stopped (asked to, or its total duration passed).
    Stopped,
}

/// Receives decoded events, on the decode thread. The trace model
/// implements this; `stream` changes with each request (a fresh trace).
pub trait TraceSink: Send {
    /// A new stream (request or file) starts; its decoder is fresh.
    fn stream_started(&mut self, _stream: u64) {}
    /// One event, in the reference reader's order.
    fn event(&mut self, stream: u64, ev: &EventRef<'_>);
    /// Every byte received so far is decoded and delivered: the stream
    /// waits for more. A sink that buffers events hands them on here.
    fn caught_up(&mut self, _stream: u64) {}
    /// The stream ended (its last generation has been delivered when clean).
    fn stream_ended(
        &mut self,
        _stream: u64,
        _decoder: &Decoder,
        _error: Option<&TraceSourceError>,
    ) {
    }
}

/// A sink that ignores everything (when only the ring is wanted).
pub struct NoSink;
impl TraceSink for NoSink {
    fn event(&mut self, _: u64, _: &EventRef<'_>) {}
}

/// How the live stream behaves.
#[derive(Clone, Debug)]
pub struct TraceStreamOptions {
    /// Length of a request when the target's trace flows steadily.
    pub request: Duration,
    /// Length of a request for a quiet target (see the module docs).
    pub quiet_request: Duration,
    /// At or above this trace rate the target counts as busy.
    pub busy_bytes_per_sec: u64,
    /// Request starts are never closer than this.
    pub min_request_interval: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Longest silence within a request beyond its own length.
    pub read_grace: Duration,
    /// First retry delay after an error (doubles up to `max_backoff`).
    pub backoff: Duration,
    #[allow(missing_docs)]
    pub max_backoff: Duration,
    /// Stop after this much coverage (the last request is shortened to fit).
    pub total: Option<Duration>,
    /// Stop after the first failed request instead of retrying.
    pub stop_on_error: bool,
    /// What the raw ring keeps.
    pub ring: RingOptions,
    /// Refuse generations larger than this (decoder memory bound).
    pub max_generation_bytes: usize,
    /// Raw bytes allowed to wait for the decoder; beyond this the rest of
    /// the request is kept in the ring only (never blocks the target).
    pub max_decode_backlog: usize,
}

impl Default for TraceStreamOptions {
    fn default() -> Self {
        TraceStreamOptions {
            request: Duration::from_secs(10),
            quiet_request: Duration::from_secs(1),
            busy_bytes_per_sec: 64 << 10,
            min_request_interval: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(5),
            read_grace: Duration::from_secs(10),
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            total: None,
            stop_on_error: false,
            ring: RingOptions::default(),
            max_generation_bytes: 512 << 20,
            max_decode_backlog: 64 << 20,
        }
    }
}

/// Counters of a running stream.
#[derive(Clone, Debug, Default)]
pub struct StreamStats {
    /// Requests answered with a trace.
    pub streams: u64,
    /// Requests that failed.
    pub failed_requests: u64,
    /// Trace bytes received.
    pub bytes: u64,
    /// Events decoded.
    pub events: u64,
    /// Complete generations seen.
    pub generations: u64,
    /// Requests whose tail was not decoded because decoding fell behind.
    pub lagged_streams: u64,
}

/// The way to the decode thread, with the bytes in flight counted.
struct Backlog {
    tx: Sender<Msg>,
    bytes: Arc<AtomicUsize>,
    cap: usize,
}

enum Msg {
    Start(u64),
    Data(u64, Vec<u8>),
    End(u64, Option<TraceSourceError>),
}

/// A live trace stream running on its own threads. Dropping it asks the
/// threads to stop (they finish the request in flight).
pub struct TraceStream {
    events: Receiver<TraceStreamEvent>,
    ring: Arc<Mutex<TraceRing>>,
    stats: Arc<Mutex<StreamStats>>,
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl TraceStream {
    /// Starts streaming from a pprof base URL (`http://127.0.0.1:6060`).
    pub fn spawn(base: &str, opts: TraceStreamOptions, sink: Box<dyn TraceSink>) -> TraceStream {
        let (etx, events) = mpsc::channel();
        // Raw bytes waiting to be decoded are counted; past
        // `max_decode_backlog` a request's remaining bytes skip the decoder
        // rather than block the socket (see `pump`).
        let (dtx, drx) = mpsc::channel();
        let backlog = Arc::new(AtomicUsize::new(0));
        let dtx = Backlog {
            tx: dtx,
            bytes: backlog.clone(),
            cap: opts.max_decode_backlog,
        };
        let ring = Arc::new(Mutex::new(TraceRing::new(opts.ring.clone())));
        let stats = Arc::new(Mutex::new(StreamStats::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let net = {
            let (ring, stats, stop, etx) = (ring.clone(), stats.clone(), stop.clone(), etx.clone());
            let (base, opts) = (base.to_string(), opts.clone());
            thread::Builder::new()
                .name("weft-trace-net".into())
                .spawn(move || net_loop(&base, &opts, &ring, &stats, &stop, &dtx, &etx))
                .expect("spawn trace network thread")
        };
        let dec = {
            let stats = stats.clone();
            let max = opts.max_generation_bytes;
            thread::Builder::new()
                .name("weft-trace-decode".into())
                .spawn(move || decode_loop(drx, sink, max, &stats, &etx, &backlog))
                .expect("spawn trace decode thread")
        };
        TraceStream {
            events,
            ring,
            stats,
            stop,
            threads: vec![net, dec],
        }
    }

    /// Status events (streams, generations, errors).
    pub fn events(&self) -> &Receiver<TraceStreamEvent> {
        &self.events
    }

    /// The raw ring, e.g. for a UI to save on a key press.
    pub fn ring(&self) -> Arc<Mutex<TraceRing>> {
        self.ring.clone()
    }

    /// Counters so far.
    pub fn stats(&self) -> StreamStats {
        self.stats.lock().unwrap().clone()
    }

    /// Saves the ring (the latest stream's complete generations in the
    /// window) as a trace file.
    pub fn save(&self, path: &Path) -> Result<SavedTrace, SaveError> {
        self.ring.lock().unwrap().save(path)
    }

    /// Asks the threads to stop after the request in flight.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Stops and waits for the threads (at most the request in flight).
    pub fn join(mut self) {
        self.stop();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for TraceStream {
    fn drop(&mut self) {
        self.stop();
    }
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= end {
            return;
        }
        thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

fn net_loop(
    base: &str,
    opts: &TraceStreamOptions,
    ring: &Mutex<TraceRing>,
    stats: &Mutex<StreamStats>,
    stop: &AtomicBool,
    dtx: &Backlog,
    etx: &Sender<TraceStreamEvent>,
) {
    // ureq sets the read timeout per agent: the longest request plus grace.
    let read_timeout = opts.request.max(opts.quiet_request) + opts.read_grace;
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(opts.connect_timeout)
        .timeout_read(read_timeout)
        .redirects(0)
        .user_agent("weft")
        .build();
    let began = Instant::now();
    let mut stream_id = 0u64;
    let mut last_start: Option<Instant> = None;
    let mut backoff = opts.backoff;
    // Start short: the first request also measures how busy the target is.
    let mut next_len = opts.quiet_request;
    while !stop.load(Ordering::SeqCst) {
        let mut len = next_len;
        if let Some(total) = opts.total {
            let left = total.saturating_sub(began.elapsed());
            if left < Duration::from_millis(100) {
                break;
            }
            len = len.min(left);
        }
        if let Some(t) = last_start {
            sleep_unless_stopped(opts.min_request_interval.saturating_sub(t.elapsed()), stop);
        }
        last_start = Some(Instant::now());
        stream_id += 1;
        let url = format!("{base}/debug/pprof/trace?seconds={:.3}", len.as_secs_f64());
        let sent = Instant::now();
        let res = agent.get(&url).call();
        // An error after the target answered (the connection broke, a
        // timeout mid-body) ends the stream, and the decode thread reports
        // it once in `StreamEnded`; only requests that got no trace at all
        // are reported as `Error` here, so no condition is told twice.
        let mut mid_stream = false;
        let err = match res {
            Ok(resp) => {
                let (bytes, err) = pump(
                    stream_id,
                    &url,
                    resp.into_reader(),
                    ring,
                    stats,
                    dtx,
                    etx,
                    read_timeout,
                );
                // Go sends the headers with the first flushed bytes, so
                // time the rate from the request, over at least its length.
                let took = sent.elapsed().max(len).as_secs_f64();
                next_len = if bytes as f64 / took >= opts.busy_bytes_per_sec as f64 {
                    opts.request
                } else {
                    opts.quiet_request
                };
                mid_stream = true;
                err
            }
            Err(e) => Some(request_error(&url, e, read_timeout)),
        };
        match err {
            None => backoff = opts.backoff,
            Some(e) => {
                stats.lock().unwrap().failed_requests += 1;
                if opts.stop_on_error {
                    if !mid_stream {
                        let _ = etx.send(TraceStreamEvent::Error {
                            error: e,
                            retry_in: Duration::ZERO,
                        });
                    }
                    break;
                }
                if !mid_stream {
                    let _ = etx.send(TraceStreamEvent::Error {
                        error: e,
                        retry_in: backoff,
                    });
                }
                sleep_unless_stopped(backoff, stop);
                backoff = (backoff * 2).min(opts.max_backoff);
            }
        }
    }
    // Dropping dtx ends the decode thread, which then reports Stopped.
}

// Reads one response body to its end, feeding the ring and the decoder.
#[allow(clippy::too_many_arguments)]
fn pump(
    id: u64,
    url: &str,
    mut body: impl Read,
    ring: &Mutex<TraceRing>,
    stats: &Mutex<StreamStats>,
    dtx: &Backlog,
    etx: &Sender<TraceStreamEvent>,
    timeout: Duration,
) -> (u64, Option<TraceSourceError>) {
    let _ = dtx.tx.send(Msg::Start(id));
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    let mut lagging = false;
    let err = loop {
        match body.read(&mut buf) {
            Ok(0) if !ring.lock().unwrap().tail_is_whole(id) => {
                break Some(TraceSourceError::Broken {
                    url: url.to_string(),
                    after_bytes: total,
                    message: "the answer ended in the middle of the trace".into(),
                })
            }
            Ok(0) => break None,
            Ok(n) => {
                total += n as u64;
                stats.lock().unwrap().bytes += n as u64;
                let done = ring.lock().unwrap().push(id, &buf[..n], Instant::now());
                stats.lock().unwrap().generations += done.len() as u64;
                for gen in done {
                    let _ = etx.send(TraceStreamEvent::Generation { stream: id, gen });
                }
                // Never let a slow decoder block the socket: the target's
                // tracer would then buffer in the target. The raw bytes
                // still reach the ring; decoding resumes with the next request.
                if !lagging {
                    if dtx.bytes.load(Ordering::Relaxed) + n > dtx.cap {
                        lagging = true;
                        stats.lock().unwrap().lagged_streams += 1;
                    } else {
                        dtx.bytes.fetch_add(n, Ordering::Relaxed);
                        if dtx.tx.send(Msg::Data(id, buf[..n].to_vec())).is_err() {
                            break None;
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                break Some(TraceSourceError::Timeout {
                    url: url.to_string(),
                    after: timeout,
                })
            }
            Err(e) => {
                break Some(TraceSourceError::Broken {
                    url: url.to_string(),
                    after_bytes: total,
                    message: e.to_string(),
                })
            }
        }
    };
    let done = ring.lock().unwrap().end(id, err.is_none(), Instant::now());
    stats.lock().unwrap().generations += done.len() as u64;
    for gen in done {
        let _ = etx.send(TraceStreamEvent::Generation { stream: id, gen });
    }
    let end_err = err.clone().or_else(|| {
        lagging.then(|| TraceSourceError::Lagged {
            url: url.to_string(),
            decoded_bytes: 0,
        })
    });
    let _ = dtx.tx.send(Msg::End(id, end_err));
    (total, err)
}

fn request_error(url: &str, e: ureq::Error, timeout: Duration) -> TraceSourceError {
    match e {
        ureq::Error::Status(404, _) => TraceSourceError::NotFound {
            url: url.to_string(),
        },
        ureq::Error::Status(code, resp) => {
            let body = resp.into_string().unwrap_or_default();
            let said: String = body.trim().chars().take(200).collect();
            if said.contains("already enabled") || said.contains("already") && said.contains("trac")
            {
                TraceSourceError::Busy {
                    url: url.to_string(),
                    said,
                }
            } else {
                TraceSourceError::Status {
                    url: url.to_string(),
                    code,
                    said,
                }
            }
        }
        ureq::Error::Transport(t) => {
            use std::error::Error;
            let mut src: Option<&(dyn Error + 'static)> = t.source();
            while let Some(e) = src {
                if let Some(io) = e.downcast_ref::<std::io::Error>() {
                    if matches!(
                        io.kind(),
                        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                    ) {
                        return TraceSourceError::Timeout {
                            url: url.to_string(),
                            after: timeout,
                        };
                    }
                }
                src = e.source();
            }
            let message = match t.kind() {
                ureq::ErrorKind::ConnectionFailed => "connection refused or unreachable".into(),
                ureq::ErrorKind::Dns => "the host name does not resolve".into(),
                _ => t.to_string(),
            };
            TraceSourceError::Connect {
                url: url.to_string(),
                message,
            }
        }
    }
}

// Decodes one stream after another, each with a fresh decoder.
fn decode_loop(
    rx: Receiver<Msg>,
    mut sink: Box<dyn TraceSink>,
    max_gen: usize,
    stats: &Mutex<StreamStats>,
    etx: &Sender<TraceStreamEvent>,
    backlog: &AtomicUsize,
) {
    let mut cur: Option<StreamDecoder> = None;
    // The last stream's input buffer, for the next one (already backed
    // memory, see `Decoder::take_input_buffer`).
    let mut spare = Vec::new();
    for msg in rx {
        match msg {
            Msg::Start(id) => {
                if let Some(mut d) = cur.take() {
                    spare = d.dec.take_input_buffer();
                }
                let mut d = StreamDecoder::new(id, max_gen);
                d.dec.reuse_input_buffer(std::mem::take(&mut spare));
                cur = Some(d);
                sink.stream_started(id);
            }
            Msg::Data(id, bytes) => {
                backlog.fetch_sub(bytes.len(), Ordering::Relaxed);
                if let Some(d) = cur.as_mut().filter(|d| d.id == id) {
                    d.feed(&bytes, sink.as_mut(), stats, etx);
                }
            }
            Msg::End(id, err) => {
                if let Some(mut d) = cur.take().filter(|d| d.id == id) {
                    let err = d.finish(err, sink.as_mut(), stats);
                    let _ = etx.send(TraceStreamEvent::StreamEnded {
                        stream: id,
                        bytes: d.dec.bytes_consumed(),
                        events: d.events,
                        error: err,
                    });
                    spare = d.dec.take_input_buffer();
                }
            }
        }
    }
    let _ = etx.send(TraceStreamEvent::Stopped);
}

/// One stream's decoder: bytes in, events to the sink.
struct StreamDecoder {
    id: u64,
    dec: Decoder,
    events: u64,
    failed: Option<weft_trace::Error>,
    announced: bool,
    what: String,
}

impl StreamDecoder {
    fn new(id: u64, max_gen: usize) -> StreamDecoder {
        let mut dec = Decoder::new();
        dec.set_max_generation_bytes(max_gen);
        StreamDecoder {
            id,
            dec,
            events: 0,
            failed: None,
            announced: false,
            what: format!("trace stream {id}"),
        }
    }

    fn drain(&mut self, sink: &mut dyn TraceSink) -> Result<(), weft_trace::Error> {
        loop {
            match self.dec.advance()? {
                Status::Event => {
                    self.events += 1;
                    sink.event(self.id, &self.dec.event());
                }
                Status::NeedData | Status::End => return Ok(()),
            }
        }
    }

    fn feed(
        &mut self,
        bytes: &[u8],
        sink: &mut dyn TraceSink,
        stats: &Mutex<StreamStats>,
        etx: &Sender<TraceStreamEvent>,
    ) {
        if self.failed.is_some() {
            return;
        }
        self.dec.feed(bytes);
        let before = self.events;
        if let Err(e) = self.drain(sink) {
            self.failed = Some(e);
        }
        if self.events != before {
            sink.caught_up(self.id);
        }
        if !self.announced {
            if let Some(v) = self.dec.version() {
                self.announced = true;
                stats.lock().unwrap().streams += 1;
                let _ = etx.send(TraceStreamEvent::StreamStarted {
                    stream: self.id,
                    version: v as u32,
                });
            }
        }
        stats.lock().unwrap().events += self.events - before;
    }

    fn finish(
        &mut self,
        mut net_err: Option<TraceSourceError>,
        sink: &mut dyn TraceSink,
        stats: &Mutex<StreamStats>,
    ) -> Option<TraceSourceError> {
        // After a broken connection the tail is partial: deliver what was
        // whole and report the break, not the truncation it caused.
        if let Some(TraceSourceError::Lagged { decoded_bytes, .. }) = net_err.as_mut() {
            *decoded_bytes = self.dec.bytes_consumed();
        }
        if net_err.is_none() && self.failed.is_none() {
            self.dec.finish();
            let before = self.events;
            if let Err(e) = self.drain(sink) {
                self.failed = Some(e);
            }
            stats.lock().unwrap().events += self.events - before;
        }
        let err = net_err.or_else(|| {
            self.failed.clone().map(|err| TraceSourceError::Decode {
                what: self.what.clone(),
                err,
            })
        });
        sink.stream_ended(self.id, &self.dec, err.as_ref());
        err
    }
}

/// Reads a whole trace from a file or a snapshot URL into `sink` (stream
/// id 1), and into `ring` when given (so it can be saved again). Returns
/// the bytes read.
pub fn read_trace(
    spec: &TraceSpec,
    timeout: Duration,
    max_bytes: u64,
    sink: &mut dyn TraceSink,
    mut ring: Option<&mut TraceRing>,
) -> Result<u64, TraceSourceError> {
    let (what, body): (String, Box<dyn Read>) = match spec {
        TraceSpec::File(p) => {
            let what = p.display().to_string();
            let f = std::fs::File::open(p).map_err(|e| TraceSourceError::Io {
                what: format!("cannot open {what}"),
                message: e.to_string(),
            })?;
            (what, Box::new(f))
        }
        TraceSpec::Snapshot(url) | TraceSpec::Live(url) => {
            let url = match spec {
                TraceSpec::Live(base) => format!("{base}/debug/pprof/trace?seconds=1"),
                _ => url.clone(),
            };
            let agent = ureq::AgentBuilder::new()
                .timeout_connect(timeout)
                .timeout_read(timeout)
                .redirects(0)
                .user_agent("weft")
                .build();
            let resp = agent
                .get(&url)
                .call()
                .map_err(|e| request_error(&url, e, timeout))?;
            (url, Box::new(resp.into_reader()))
        }
    };
    let mut d = StreamDecoder::new(1, 512 << 20);
    d.what = what.clone();
    sink.stream_started(1);
    let stats = Mutex::new(StreamStats::default());
    let (etx, _erx) = mpsc::channel();
    let mut body = body.take(max_bytes.saturating_add(1));
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0u64;
    let net_err = loop {
        match body.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => {
                total += n as u64;
                if total > max_bytes {
                    break Some(TraceSourceError::Io {
                        what: what.clone(),
                        message: format!("larger than {max_bytes} bytes; stopped reading there"),
                    });
                }
                if let Some(r) = ring.as_deref_mut() {
                    r.push(1, &buf[..n], Instant::now());
                }
                d.feed(&buf[..n], sink, &stats, &etx);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                break Some(TraceSourceError::Broken {
                    url: what.clone(),
                    after_bytes: total,
                    message: e.to_string(),
                })
            }
        }
    };
    if let Some(r) = ring {
        r.end(1, net_err.is_none(), Instant::now());
    }
    match d.finish(net_err, sink, &stats) {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

/// Saves the ring when a finding appears, at most once per `min_interval`,
/// into `dir` as `weft-<unix seconds>-<finding>.trace`. Call
/// [`AutoSaver::finding`] from wherever findings are produced.
pub struct AutoSaver {
    ring: Arc<Mutex<TraceRing>>,
    dir: PathBuf,
    min_interval: Duration,
    last: Option<Instant>,
}

impl AutoSaver {
    #[allow(missing_docs)]
    pub fn new(ring: Arc<Mutex<TraceRing>>, dir: PathBuf, min_interval: Duration) -> AutoSaver {
        AutoSaver {
            ring,
            dir,
            min_interval,
            last: None,
        }
    }

    /// A finding named `kind` appeared: save unless one was saved recently.
    /// Returns the path and what was written, `None` when rate-limited.
    pub fn finding(&mut self, kind: &str) -> Option<Result<(PathBuf, SavedTrace), SaveError>> {
        if self.last.is_some_and(|t| t.elapsed() < self.min_interval) {
            return None;
        }
        self.last = Some(Instant::now());
        let secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let safe: String = kind
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = self.dir.join(format!("weft-{secs}-{safe}.trace"));
        Some(self.ring.lock().unwrap().save(&path).map(|s| (path, s)))
    }
}
