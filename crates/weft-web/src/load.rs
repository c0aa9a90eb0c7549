//! Getting data into the model: a trace file (or the bundled demo bytes)
//! read on a background thread while the server already answers, or a live
//! `/debug/pprof/trace` stream renewed back to back.
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use weft_source::trace_stream::TraceSink;
use weft_source::{TraceStream, TraceStreamEvent, TraceStreamOptions};
use weft_timeline::{Config, LiveFeed, Model};
use weft_trace::EventRef;

use crate::state::{Counting, LoadState, Shared};

/// Model settings for a whole file: keep every span the caps allow, since
/// the user wants to scroll through the whole capture (the caps still bound
/// memory: at most `max_spans` × 24 bytes of spans).
pub fn file_config() -> Config {
    let mut cfg = Config {
        window_ns: i64::MAX / 4,
        ..Config::default()
    };
    // Tests and benchmarks may force small caps (see `index::TUNING_ENV`).
    crate::index::tuning_from_env(&mut cfg);
    cfg
}

/// Reads a whole trace into a private model (no lock per event), then
/// publishes it; `/api/status` shows the bytes read meanwhile.
pub(crate) fn spawn_file_loader(
    shared: Arc<Shared>,
    open: Box<dyn FnOnce() -> std::io::Result<Box<dyn Read + Send>> + Send>,
) -> thread::JoinHandle<()> {
    thread::Builder::new()
        .name("weft-web-load".into())
        .spawn(move || {
            let t0 = Instant::now();
            let result = (|| -> Result<Model, String> {
                let r =
                    open().map_err(|e| format!("cannot read {}: {e}", shared.status().source))?;
                let counting = Counting {
                    inner: std::io::BufReader::with_capacity(1 << 20, r),
                    shared: shared.clone(),
                };
                let mut model = Model::new(file_config());
                // Decoding on a second thread while this one builds the
                // model: the load takes about as long as the slower half.
                let n = model
                    .ingest_reader_pipelined(counting, |n| {
                        shared.events.store(n, Ordering::Relaxed)
                    })
                    .map_err(|e| format!("{}: {e}", shared.status().source))?;
                shared.events.store(n, Ordering::Relaxed);
                if n == 0 {
                    return Err(format!(
                        "{}: the trace holds no events",
                        shared.status().source
                    ));
                }
                model.evict();
                Ok(model)
            })();
            match result {
                Ok(model) => {
                    shared.replace_model(model);
                    let mut st = shared.status();
                    st.state = LoadState::Ready;
                    st.load_secs = Some(t0.elapsed().as_secs_f64());
                }
                Err(e) => {
                    let mut st = shared.status();
                    st.state = LoadState::Error;
                    st.error = Some(e);
                }
            }
        })
        .expect("spawn loader thread")
}

/// Feeds a live stream's events into the shared model: digested on the
/// stream's decoding thread, applied a batch at a time on a second one
/// (one lock per batch, not per event), handed over whenever the stream
/// has caught up with the bytes received.
struct LiveSink {
    shared: Arc<Shared>,
    feed: LiveFeed,
}

impl LiveSink {
    fn new(shared: Arc<Shared>) -> LiveSink {
        let sh = shared.clone();
        let feed = LiveFeed::new(move |applied, f| {
            f(&mut sh.model());
            if applied > 0 {
                sh.events.fetch_add(applied as u64, Ordering::Relaxed);
                sh.touch();
                let mut st = sh.status();
                if st.state == LoadState::Loading {
                    st.state = LoadState::Ready;
                }
            }
        });
        LiveSink { shared, feed }
    }
}

impl TraceSink for LiveSink {
    fn stream_started(&mut self, _stream: u64) {
        // The new trace's string and stack ids start over.
        self.feed.restart();
    }
    fn event(&mut self, _stream: u64, ev: &EventRef<'_>) {
        if self.shared.closing.load(Ordering::Relaxed) {
            return;
        }
        self.feed.push(ev);
    }
    fn caught_up(&mut self, _stream: u64) {
        self.feed.flush();
    }
    fn stream_ended(
        &mut self,
        _stream: u64,
        _dec: &weft_trace::Decoder,
        err: Option<&weft_source::TraceSourceError>,
    ) {
        // Settles a renewal (goroutines that exited between two requests)
        // and makes whatever is left of the batch visible now.
        self.feed.stream_ended(err.is_none());
    }
}

/// A running live stream; dropping it stops the stream.
pub(crate) struct Live {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts streaming `/debug/pprof/trace` from `base` into the model.
pub(crate) fn spawn_live(shared: Arc<Shared>, base: &str) -> Live {
    let opts = TraceStreamOptions {
        // Short requests: a quiet target's events (a new goroutine group)
        // reach the model within about a second either way.
        request: Duration::from_secs(5),
        quiet_request: Duration::from_secs(1),
        ..TraceStreamOptions::default()
    };
    let stream = TraceStream::spawn(base, opts, Box::new(LiveSink::new(shared.clone())));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (stop, shared) = (stop.clone(), shared.clone());
        thread::Builder::new()
            .name("weft-web-live".into())
            .spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match stream.events().recv_timeout(Duration::from_millis(200)) {
                        Ok(TraceStreamEvent::StreamStarted { .. }) => {
                            shared.status().streams += 1;
                        }
                        Ok(TraceStreamEvent::Error { error, retry_in }) => {
                            let mut st = shared.status();
                            st.stream_errors += 1;
                            st.last_error = Some(format!(
                                "{error} (retrying in {:.1}s)",
                                retry_in.as_secs_f64()
                            ));
                        }
                        Ok(TraceStreamEvent::StreamEnded {
                            error: Some(error), ..
                        }) => {
                            let mut st = shared.status();
                            st.stream_errors += 1;
                            st.last_error = Some(error.to_string());
                        }
                        Ok(TraceStreamEvent::Stopped) => break,
                        Ok(_) => {}
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
                // Not joined: the request in flight ends on its own (the
                // stream's threads see the stop flag), and the sink drops
                // what is left, so stopping the server never waits on it.
                drop(stream);
            })
            .expect("spawn live thread")
    };
    Live {
        shared,
        stop,
        thread: Some(thread),
    }
}
