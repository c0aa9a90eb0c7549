//! `weft watch pid:N`: the program's goroutine table read from its memory
//! (weft-attach, through weft-source's poller: one read a second, no stop)
//! and fed into the same model as a trace, as snapshots
//! ([`weft_timeline::Model::ingest_snapshot`]). A snapshot knows no wake
//! edges, so this mode's findings are not the trace analyses (those would
//! read "nobody woke it" as "nobody can"); they are the profile lints of a
//! [`weft_analysis::Tracker`] fed the same snapshots (leak, long-wait,
//! lock-pileup, stuck-channel), and the shape view gets what only memory
//! reads give: the channels goroutines wait on (`/api/objects`).
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use weft_analysis::{Tracker, TrackerConfig};
use weft_source::{PollEvent, PollOptions, Poller, SourceSpec};

use crate::state::{LoadState, Shared};

/// A running sampler; dropping it stops it.
pub(crate) struct Sampling {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Sampling {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn unix_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Starts sampling process `pid` every `interval`.
pub(crate) fn spawn_pid(shared: Arc<Shared>, pid: u32, interval: Duration) -> Sampling {
    let poller = Poller::spawn(
        SourceSpec::Pid(pid),
        PollOptions {
            interval,
            ..PollOptions::default()
        },
    );
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (stop, shared) = (stop.clone(), shared.clone());
        thread::Builder::new()
            .name("weft-web-pid".into())
            .spawn(move || {
                let mut tracker = Tracker::new(TrackerConfig::default());
                let mut samples = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let ev = match poller.events().recv_timeout(Duration::from_millis(200)) {
                        Ok(ev) => ev,
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                    };
                    match ev {
                        PollEvent::Snapshot(snap) | PollEvent::Detail(snap) => {
                            let report = tracker.observe(&snap);
                            shared.model().ingest_snapshot(&snap, unix_ns());
                            *shared
                                .sampled_findings
                                .lock()
                                .unwrap_or_else(|e| e.into_inner()) = Some(report.findings);
                            samples += 1;
                            shared.events.store(samples, Ordering::Relaxed);
                            shared.touch();
                            let mut st = shared.status();
                            st.streams = samples;
                            if st.state == LoadState::Loading {
                                st.state = LoadState::Ready;
                            }
                        }
                        PollEvent::Error { message, retry_in }
                        | PollEvent::Disconnected { message, retry_in } => {
                            let mut st = shared.status();
                            st.stream_errors += 1;
                            st.last_error = Some(format!(
                                "{message} (retrying in {:.1}s)",
                                retry_in.as_secs_f64()
                            ));
                            if st.state == LoadState::Loading && samples == 0 {
                                // Nothing to show yet: say why on the page
                                // and in /api/status rather than spin.
                                st.error = st.last_error.clone();
                            }
                        }
                        PollEvent::TargetRestarted { message } => {
                            tracker.clear();
                            shared.status().last_error = Some(message);
                        }
                        PollEvent::Connected { .. } => {
                            let mut st = shared.status();
                            st.error = None;
                        }
                        PollEvent::DetailRefused { .. } | PollEvent::Notice { .. } => {}
                    }
                }
                poller.stop();
            })
            .expect("spawn pid sampler thread")
    };
    Sampling {
        shared,
        stop,
        thread: Some(thread),
    }
}

/// `GET /api/objects`: the objects goroutines wait on in the latest sample
/// (`pid:N` sources; empty for traces, which name no objects).
pub(crate) async fn objects(
    axum::extract::State(app): axum::extract::State<crate::api::App>,
) -> axum::Json<serde_json::Value> {
    let m = app.model();
    let list = m.wait_objects();
    axum::Json(serde_json::json!({
        "samples": m.samples(),
        "objects": list,
    }))
}

/// This mode's findings in the shape of the trace findings (`/api/findings`),
/// or `None` when the source is not sampled.
pub(crate) fn findings_json(app: &Shared) -> Option<serde_json::Value> {
    let list = app
        .sampled_findings
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()?;
    let m = app.model();
    let out: Vec<serde_json::Value> = list
        .into_iter()
        .map(|f| {
            // Groups by the model's own ids (the tracker's keys are stack
            // signatures): the groups of the goroutines involved.
            let mut groups: Vec<weft_timeline::GroupId> = f
                .goroutines
                .iter()
                .filter_map(|&id| m.goroutine_raw(id as i64).map(|g| g.group))
                .collect();
            groups.sort_unstable();
            groups.dedup();
            let since = f
                .goroutines
                .iter()
                .filter_map(|&id| m.goroutine_raw(id as i64).map(|g| g.since_ns))
                .min();
            serde_json::json!({
                "kind": f.kind,
                "summary": f.summary,
                "severity": "warning",
                "confidence": "sampled",
                "reasoning": "from goroutine snapshots read from the process's memory (no wake edges are known in this mode)",
                "groups": groups,
                "group_keys": f.groups,
                "goroutines": f.goroutines,
                "since_ns": since,
                "functions": [],
                "evidence": [],
            })
        })
        .collect();
    Some(serde_json::Value::Array(out))
}
