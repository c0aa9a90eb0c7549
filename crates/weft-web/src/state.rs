//! What the server shares between its HTTP handlers, the file loader and
//! the live trace stream: the model behind one mutex (held briefly), the
//! source's status, and caches of the answers that cost a pass over every
//! goroutine (summary, findings), keyed by model version.
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use weft_timeline::Model;

/// How the server got its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `weft open FILE`.
    File,
    /// `weft watch URL`.
    Live,
    /// `weft demo`: the bundled capture.
    Demo,
}

/// Loading state as `/api/status` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadState {
    Loading,
    Ready,
    Error,
}

/// The source's status (everything of `/api/status` except live counters).
#[derive(Clone, Debug)]
pub struct Status {
    pub state: LoadState,
    pub error: Option<String>,
    pub mode: Mode,
    pub source: String,
    pub total_bytes: u64,
    pub collecting: Vec<String>,
    pub target_cost: String,
    pub streams: u64,
    pub stream_errors: u64,
    pub last_error: Option<String>,
    /// Wall time the load took (file and demo modes).
    pub load_secs: Option<f64>,
}

/// Shared by every part of the server.
pub struct Shared {
    model: Mutex<Model>,
    status: Mutex<Status>,
    /// Bytes of the source read so far.
    pub done_bytes: AtomicU64,
    /// Events ingested so far (also while a file loads into a private model).
    pub events: AtomicU64,
    /// Milliseconds since `started` at which the last event arrived (live).
    pub last_event_ms: AtomicU64,
    pub started: Instant,
    /// The server is stopping: a live stream's leftover events are dropped.
    pub closing: std::sync::atomic::AtomicBool,
    pub(crate) summary_cache: Mutex<Option<(u64, Instant, Arc<serde_json::Value>)>>,
    pub(crate) findings_cache: Mutex<Option<(u64, Instant, Arc<serde_json::Value>)>>,
    /// `pid:N`: the profile lints of the latest sample (see `sampled`).
    pub(crate) sampled_findings: Mutex<Option<Vec<weft_analysis::Finding>>>,
    /// The open file's generation index and detail cache (`weft open`).
    pub(crate) index: std::sync::OnceLock<Arc<crate::index::Index>>,
}

impl Shared {
    pub fn new(model: Model, status: Status) -> Arc<Shared> {
        Arc::new(Shared {
            model: Mutex::new(model),
            status: Mutex::new(status),
            done_bytes: AtomicU64::new(0),
            events: AtomicU64::new(0),
            last_event_ms: AtomicU64::new(0),
            started: Instant::now(),
            closing: std::sync::atomic::AtomicBool::new(false),
            summary_cache: Mutex::new(None),
            findings_cache: Mutex::new(None),
            sampled_findings: Mutex::new(None),
            index: std::sync::OnceLock::new(),
        })
    }

    /// The model. A panic in another holder must not take the server down,
    /// so a poisoned lock is used as is.
    pub fn model(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn replace_model(&self, m: Model) {
        *self.model() = m;
    }

    /// Records that an event just arrived (live mode).
    pub(crate) fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_event_ms.store(ms.max(1), Ordering::Relaxed);
    }

    /// Wall time since the last event, when any arrived.
    pub fn lag(&self) -> Option<Duration> {
        let last = self.last_event_ms.load(Ordering::Relaxed);
        if last == 0 {
            return None;
        }
        let now = self.started.elapsed().as_millis() as u64;
        Some(Duration::from_millis(now.saturating_sub(last)))
    }
}

/// Counts bytes read through it, for the progress bar and `/api/status`.
pub(crate) struct Counting<R> {
    pub inner: R,
    pub shared: Arc<Shared>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.shared
            .done_bytes
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
