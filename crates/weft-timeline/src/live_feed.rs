//! Feeding a shared model from a live stream on two threads.
//!
//! A live trace arrives a few kilobytes at a time on the stream's decoding
//! thread. [`LiveFeed`] digests each event there (a [`Feeder`]) and hands
//! batches to its own apply thread, which takes the model's lock once per
//! batch rather than once per event: decoding and applying overlap on two
//! cores, and readers of the model (a web request, a terminal frame) wait at
//! most one batch. [`LiveFeed::flush`] hands over a partial batch; call it
//! whenever the stream has caught up with the bytes received, so the model
//! is never behind by more than what is being decoded.
//!
//! The model must be fed only through the feed while it runs. Each new
//! stream (a renewed trace request, whose wire ids start over) begins with
//! [`LiveFeed::restart`] and ends with [`LiveFeed::stream_ended`]: a
//! goroutine that exited between two requests appears in neither, so the
//! feed watches each renewed stream's first generation, which restates
//! every live goroutine, and ends those it did not mention
//! ([`Model::end_unmentioned`]).
use std::collections::HashSet;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread;

use weft_trace::{EventRef, Transition};

use crate::digest::{Batch, Feeder};
use crate::model::Model;

/// Batches queued between the two threads: with 4096 events each, at most
/// ≈100k events (a few tens of milliseconds of a busy trace) in flight
/// before the decoding thread waits.
const QUEUE_BATCHES: usize = 24;

/// Runs `f` on the model with its lock held. The first argument is the
/// number of events just applied (0 when the feed only needs the model,
/// e.g. to start a new feeder): the place to publish progress after `f`
/// returns, still on the apply thread.
pub type WithModel = dyn Fn(usize, &mut dyn FnMut(&mut Model)) + Send + Sync;

enum Cmd {
    Apply(Batch),
    /// Answered once every batch sent before it is applied.
    Sync(SyncSender<()>),
}

/// A model fed from a decoding thread, applied on a second thread.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use weft_timeline::{Config, LiveFeed, Model};
/// # let bytes = weft_timeline::synth::trace_from_text("Trace Go1.22
/// # EventBatch gen=1 m=0 time=100 size=0
/// # ProcStatus dt=1 p=0 pstatus=1
/// # GoStatus dt=1 g=1 m=0 gstatus=2
/// # EventBatch gen=1 m=18446744073709551615 time=0 size=0
/// # Frequency freq=15625000
/// # ").unwrap();
/// let model = Arc::new(Mutex::new(Model::new(Config::default())));
/// let m = model.clone();
/// let mut feed = LiveFeed::new(move |_applied, f| f(&mut m.lock().unwrap()));
/// let mut rd = weft_trace::Reader::new(&bytes[..]);
/// while let Some(e) = rd.next_event().unwrap() {
///     feed.push(&e);
/// }
/// feed.sync(); // everything pushed is in the model now
/// assert!(model.lock().unwrap().goroutine(1).is_some());
/// ```
pub struct LiveFeed {
    feeder: Option<Feeder>,
    tx: Option<SyncSender<Cmd>>,
    worker: Option<thread::JoinHandle<()>>,
    with_model: Arc<WithModel>,
    streams: u64,
    renewal: Option<Renewal>,
    ended_between_streams: u64,
}

/// A renewed stream's first generation, being watched.
struct Renewal {
    first_gen: Option<u64>,
    start_ns: i64,
    mentioned: HashSet<i64>,
}

impl LiveFeed {
    /// Starts the apply thread; `with_model` locks the model (see
    /// [`WithModel`]).
    pub fn new(
        with_model: impl Fn(usize, &mut dyn FnMut(&mut Model)) + Send + Sync + 'static,
    ) -> Self {
        let with_model: Arc<WithModel> = Arc::new(with_model);
        let (tx, rx) = sync_channel(QUEUE_BATCHES);
        let wm = with_model.clone();
        let worker = thread::Builder::new()
            .name("weft-apply".into())
            .spawn(move || apply_loop(rx, &*wm))
            .expect("spawn the model's apply thread");
        LiveFeed {
            feeder: None,
            tx: Some(tx),
            worker: Some(worker),
            with_model,
            streams: 0,
            renewal: None,
            ended_between_streams: 0,
        }
    }

    /// Goroutines found gone at renewals so far (they exited between two
    /// streams).
    pub fn ended_between_streams(&self) -> u64 {
        self.ended_between_streams
    }

    /// Digests one event; a full batch goes to the apply thread (waiting
    /// if it is [`QUEUE_BATCHES`] behind).
    pub fn push(&mut self, e: &EventRef<'_>) {
        if self.renewal.is_some() {
            self.watch_renewal(e);
        }
        if self.feeder.is_none() {
            self.start_feeder();
        }
        if let Some(b) = self.feeder.as_mut().and_then(|f| f.push(e)) {
            self.send(Cmd::Apply(b));
        }
    }

    /// Hands the events digested so far to the apply thread.
    pub fn flush(&mut self) {
        if let Some(b) = self.feeder.as_mut().map(Feeder::flush) {
            if !b.is_empty() {
                self.send(Cmd::Apply(b));
            }
        }
    }

    /// Flushes and waits until the model holds every event pushed so far.
    pub fn sync(&mut self) {
        self.flush();
        let (done_tx, done_rx) = sync_channel(1);
        self.send(Cmd::Sync(done_tx));
        let _ = done_rx.recv();
    }

    /// A new stream begins: its string and stack ids start over, so the
    /// next event gets a fresh feeder, made once the model has applied
    /// everything of the stream before. From the second stream on, its
    /// first generation is watched (see the module docs).
    pub fn restart(&mut self) {
        if self.feeder.is_some() {
            self.sync();
            self.feeder = None;
        }
        self.streams += 1;
        self.renewal = (self.streams > 1).then(|| Renewal {
            first_gen: None,
            start_ns: i64::MIN,
            mentioned: HashSet::new(),
        });
    }

    /// The stream ended, `clean` if its last generation arrived whole: a
    /// renewal still watched is settled then (a partial generation proves
    /// nothing about who is gone). Hands over what is left.
    pub fn stream_ended(&mut self, clean: bool) {
        if clean {
            self.reconcile();
        } else {
            self.renewal = None;
        }
        self.flush();
    }

    fn watch_renewal(&mut self, e: &EventRef<'_>) {
        let Some(r) = self.renewal.as_mut() else {
            return;
        };
        let gen = e.generation();
        match r.first_gen {
            _ if gen == 0 => {}
            None => {
                r.first_gen = Some(gen);
                r.start_ns = e.time();
            }
            // The first generation is complete: everything of it must be
            // in the model before the unmentioned goroutines are ended.
            Some(first) if first != gen => return self.reconcile(),
            Some(_) => {}
        }
        if let Some(st) = e.state_transition() {
            if let Transition::Goroutine { id, .. } = st.transition {
                r.mentioned.insert(id);
            }
        }
    }

    fn reconcile(&mut self) {
        let Some(r) = self.renewal.take() else {
            return;
        };
        if r.first_gen.is_none() {
            return;
        }
        self.sync();
        let mut n = 0;
        (self.with_model)(0, &mut |m| {
            n = m.end_unmentioned(|id| r.mentioned.contains(&id), r.start_ns)
        });
        self.ended_between_streams += n as u64;
    }

    fn start_feeder(&mut self) {
        let mut feeder = None;
        (self.with_model)(0, &mut |m| feeder = Some(m.feeder()));
        self.feeder = feeder;
    }

    fn send(&mut self, cmd: Cmd) {
        // The apply thread is gone only if it panicked; `drop` reports it.
        if let Some(tx) = &self.tx {
            if tx.send(cmd).is_err() {
                self.tx = None;
            }
        }
    }
}

impl Drop for LiveFeed {
    fn drop(&mut self) {
        self.flush();
        self.tx = None;
        if let Some(w) = self.worker.take() {
            if let Err(panic) = w.join() {
                if !thread::panicking() {
                    std::panic::resume_unwind(panic);
                }
            }
        }
    }
}

fn apply_loop(rx: Receiver<Cmd>, with_model: &WithModel) {
    for cmd in rx {
        match cmd {
            Cmd::Apply(b) => {
                let n = b.len();
                let mut b = Some(b);
                with_model(n, &mut |m| {
                    if let Some(b) = b.take() {
                        m.apply_batch(b);
                    }
                });
            }
            Cmd::Sync(done) => {
                let _ = done.send(());
            }
        }
    }
}
