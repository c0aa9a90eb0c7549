//! The first half of ingest: a decoded event becomes an [`Op`], a small
//! owned record in which every string and stack the model needs is already
//! an interned id. The second half ([`Model::apply`]) updates the model from
//! ops alone, so the two halves can run on different threads: a decoder
//! thread digests while the model thread applies ([`Feeder`], [`Batch`]).
//!
//! `Model::ingest` runs both halves in turn on one thread; the pipelined
//! path gives the same model because both go through the same two halves
//! and the interner's new entries travel with each batch, in id order.
use weft_trace::{spec::ev, EventKind, EventRef, GoState, ProcState, RangeKind, Transition};

use crate::intern::{InternDelta, Interner, StackId, StrId};
use crate::model::Model;

/// One event, digested: what the model needs of it, with strings and
/// stacks as model ids.
#[derive(Clone, Copy, Debug)]
pub struct Op {
    pub(crate) time: i64,
    /// Goroutine running where the event happened (-1: none).
    pub(crate) g: i64,
    /// Proc (-1: none).
    pub(crate) p: i64,
    /// Generation of the event (0 for a closing Sync).
    pub(crate) gen: u64,
    pub(crate) typ: u8,
    pub(crate) kind: EventKind,
    pub(crate) what: What,
}

/// The part of an event each handler reads.
#[derive(Clone, Copy, Debug)]
pub(crate) enum What {
    Go {
        id: i64,
        from: GoState,
        to: GoState,
        /// GoBlock/GoStop reason.
        reason: StrId,
        /// The transition's stack (GoCreate: the new goroutine's start stack).
        stack: StackId,
        /// The event's own stack (GoCreate: where the `go` statement ran).
        event_stack: StackId,
    },
    Proc {
        id: i64,
        from: ProcState,
        to: ProcState,
    },
    /// A Sync; `first` for the first of a trace.
    Sync {
        first: bool,
    },
    GcMark,
    /// A stop-the-world range; the kind is resolved on begin only.
    Stw {
        kind: StrId,
    },
    Metric {
        value: u64,
    },
    Label {
        label: StrId,
    },
    Task {
        id: u64,
        parent: u64,
        name: StrId,
    },
    Region {
        task: u64,
        name: StrId,
    },
    Other,
}

impl Op {
    /// Time in nanoseconds on the trace clock.
    #[inline]
    pub fn time(&self) -> i64 {
        self.time
    }
    /// Goroutine running where the event happened (-1: none).
    #[inline]
    pub fn goroutine(&self) -> i64 {
        self.g
    }
    /// Proc where the event happened (-1: none).
    #[inline]
    pub fn proc(&self) -> i64 {
        self.p
    }
}

/// The wire-id side of interning: which generation the interner's
/// per-generation caches belong to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WireGen(u64);

impl Default for WireGen {
    fn default() -> Self {
        WireGen(u64::MAX)
    }
}

/// Digests one event, interning what it names into `strs`.
#[inline(always)]
pub(crate) fn digest(strs: &mut Interner, wg: &mut WireGen, e: &EventRef<'_>) -> Op {
    digest_with(strs, wg, e, true)
}

// `digest`, with or without the fast path for common goroutine transitions
// (the test below checks that both give the same ops).
#[inline(always)]
fn digest_with(strs: &mut Interner, wg: &mut WireGen, e: &EventRef<'_>, fast: bool) -> Op {
    let gen = e.generation();
    if gen != 0 && gen != wg.0 {
        wg.0 = gen;
        strs.set_generation(gen);
    }
    let raw = e.raw();
    // The common goroutine transitions straight from the raw event, as
    // `EventRef::state_transition` gives them (it also looks up the
    // reason's bytes, which only a wire-id cache miss needs).
    let transition = |what: What| Op {
        time: raw.time,
        g: raw.g,
        p: raw.p,
        gen,
        typ: raw.typ,
        kind: EventKind::StateTransition,
        what,
    };
    let go = |id: i64, from: GoState, to: GoState, reason: StrId, stack: StackId| {
        transition(What::Go {
            id,
            from,
            to,
            reason,
            stack,
            event_stack: 0,
        })
    };
    let a = &raw.args;
    match raw.typ {
        _ if !fast => {}
        ev::GO_START => return go(a[0] as i64, GoState::Runnable, GoState::Running, 0, 0),
        ev::GO_UNBLOCK | ev::GO_SWITCH | ev::GO_SWITCH_DESTROY => {
            return go(a[0] as i64, GoState::Waiting, GoState::Runnable, 0, 0)
        }
        ev::GO_BLOCK | ev::GO_STOP => {
            let reason = strs.wire_str(a[0], || e.string(a[0]).to_vec());
            let stack = strs.wire_stack(e.stack());
            let to = if raw.typ == ev::GO_STOP {
                GoState::Runnable
            } else {
                GoState::Waiting
            };
            return go(raw.g, GoState::Running, to, reason, stack);
        }
        ev::GO_SYSCALL_BEGIN => {
            let stack = strs.wire_stack(e.stack());
            return go(raw.g, GoState::Running, GoState::Syscall, 0, stack);
        }
        ev::GO_SYSCALL_END => return go(raw.g, GoState::Syscall, GoState::Running, 0, 0),
        ev::GO_SYSCALL_END_BLOCKED => return go(raw.g, GoState::Syscall, GoState::Runnable, 0, 0),
        _ => {}
    }
    // Most events are state transitions: ask for one first (only events of
    // that kind have one), and for the kind of the others.
    if let Some(st) = e.state_transition() {
        let what = match st.transition {
            Transition::Goroutine { id, from, to } => {
                let reason = if matches!(raw.typ, ev::GO_BLOCK | ev::GO_STOP) {
                    strs.wire_str(raw.args[0], || st.reason.to_vec())
                } else {
                    0
                };
                let event_stack = if from == GoState::NotExist {
                    strs.wire_stack(e.stack())
                } else {
                    0
                };
                What::Go {
                    id,
                    from,
                    to,
                    reason,
                    stack: strs.wire_stack(st.stack),
                    event_stack,
                }
            }
            Transition::Proc { id, from, to } => What::Proc { id, from, to },
        };
        return transition(what);
    }
    let kind = e.kind();
    let what = match kind {
        EventKind::Sync => {
            let first = matches!(e.sync(), Some((1, _)));
            if first {
                // The first Sync of a trace: generation numbers (and their
                // table ids) start over.
                strs.reset_generation();
                wg.0 = u64::MAX;
            }
            What::Sync { first }
        }
        EventKind::RangeBegin | EventKind::RangeActive | EventKind::RangeEnd => match e.range() {
            Some(r) => match r.kind {
                RangeKind::GcMark => What::GcMark,
                RangeKind::StopTheWorld(k) => What::Stw {
                    kind: if kind == EventKind::RangeBegin {
                        strs.wire_str(raw.args[0], || k.to_vec())
                    } else {
                        0
                    },
                },
                _ => What::Other,
            },
            None => What::Other,
        },
        EventKind::Metric => match e.metric() {
            Some(m) => What::Metric { value: m.value },
            None => What::Other,
        },
        EventKind::Label => match e.label() {
            Some((label, _)) => What::Label {
                label: strs.wire_str(raw.args[0], || label.to_vec()),
            },
            None => What::Other,
        },
        EventKind::TaskBegin | EventKind::TaskEnd => match e.task() {
            Some(t) => What::Task {
                id: t.id,
                parent: t.parent,
                name: if kind == EventKind::TaskBegin {
                    strs.wire_str(raw.args[2], || t.typ.to_vec())
                } else {
                    0
                },
            },
            None => What::Other,
        },
        EventKind::RegionBegin | EventKind::RegionEnd => match e.region() {
            Some(r) => What::Region {
                task: r.task,
                name: strs.wire_str(raw.args[1], || r.typ.to_vec()),
            },
            None => What::Other,
        },
        _ => What::Other,
    };
    Op {
        time: raw.time,
        g: raw.g,
        p: raw.p,
        gen,
        typ: raw.typ,
        kind,
        what,
    }
}

/// Ops of consecutive events plus the strings, frames and stacks interned
/// while digesting them, for [`Model::apply_batch`].
#[derive(Debug, Default)]
pub struct Batch {
    pub(crate) ops: Vec<Op>,
    pub(crate) strs: InternDelta,
}

impl Batch {
    /// Number of events in the batch.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    /// True when the batch holds no events.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// The decoder-side half of a pipelined ingest: digests events into
/// batches that a [`Model`] (usually on another thread) applies in order
/// with [`Model::apply_batch`]. Made from the model it will feed
/// ([`Model::feeder`]), so the ids it hands out continue the model's.
///
/// ```
/// use weft_timeline::{Config, Model};
/// # let bytes = weft_timeline::synth::trace_from_text("Trace Go1.22
/// # EventBatch gen=1 m=0 time=100 size=0
/// # ProcStatus dt=1 p=0 pstatus=1
/// # GoStatus dt=1 g=1 m=0 gstatus=2
/// # EventBatch gen=1 m=18446744073709551615 time=0 size=0
/// # Frequency freq=15625000
/// # ").unwrap();
/// let mut model = Model::new(Config::default());
/// let mut feeder = model.feeder();
/// let (tx, rx) = std::sync::mpsc::sync_channel(4);
/// std::thread::scope(|s| {
///     s.spawn(move || {
///         let mut rd = weft_trace::Reader::new(&bytes[..]);
///         while let Some(e) = rd.next_event().unwrap() {
///             if let Some(b) = feeder.push(&e) {
///                 tx.send(b).unwrap();
///             }
///         }
///         tx.send(feeder.flush()).unwrap();
///     });
///     for b in rx {
///         model.apply_batch(b);
///     }
/// });
/// assert!(model.goroutine(1).is_some());
/// ```
pub struct Feeder {
    strs: Interner,
    wg: WireGen,
    mark: (usize, usize, usize),
    ops: Vec<Op>,
    batch_len: usize,
}

/// Events per batch by default: large enough that handing a batch over
/// costs nothing per event, small enough to stay in cache.
pub const BATCH_EVENTS: usize = 4096;

impl Feeder {
    /// Digests one event; returns a full batch to hand over, if any.
    #[inline]
    pub fn push(&mut self, e: &EventRef<'_>) -> Option<Batch> {
        self.ops.push(digest(&mut self.strs, &mut self.wg, e));
        (self.ops.len() >= self.batch_len).then(|| self.flush())
    }

    /// The events digested so far as a batch (possibly empty). Cheap to
    /// call often (a live stream flushes whenever it has caught up with the
    /// bytes received): a partial batch is handed over in a buffer of its
    /// own size, and the full-size buffer stays here for the next events.
    pub fn flush(&mut self) -> Batch {
        let ops = if self.ops.len() >= self.batch_len {
            std::mem::replace(&mut self.ops, Vec::with_capacity(self.batch_len))
        } else {
            let ops = self.ops.to_vec();
            self.ops.clear();
            ops
        };
        let strs = self.strs.delta_since(self.mark);
        self.mark = self.strs.mark();
        Batch { ops, strs }
    }

    /// Sets the events per batch (at least 1).
    pub fn set_batch_len(&mut self, n: usize) {
        self.batch_len = n.max(1);
    }
}

impl Model {
    /// A [`Feeder`] whose batches continue this model: give it every event
    /// from here on and apply its batches here, in order. While a feeder is
    /// in use, feed the model only through it.
    pub fn feeder(&self) -> Feeder {
        let strs = self.strs.clone();
        Feeder {
            mark: strs.mark(),
            strs,
            wg: WireGen::default(),
            ops: Vec::with_capacity(BATCH_EVENTS),
            batch_len: BATCH_EVENTS,
        }
    }

    /// Applies a batch from this model's [`Feeder`].
    pub fn apply_batch(&mut self, b: Batch) {
        self.strs.append(b.strs);
        // The model's own wire-id caches may be stale after this (the feeder
        // kept its own); start them over should `ingest` be used again.
        self.strs.reset_generation();
        self.wire_gen = WireGen::default();
        for op in &b.ops {
            self.apply(op);
        }
    }
}

/// Batches queued between the decoder thread and the model thread.
const QUEUE_BATCHES: usize = 8;

impl Model {
    /// Reads a whole trace from `r` into this model on two threads: one
    /// decodes and digests, this one applies (a bounded queue of batches
    /// between them), so a large file loads in about the time of the slower
    /// half instead of the sum. The model ends up as [`Model::ingest`] of
    /// every event would leave it. `progress` gets the number of events
    /// applied so far after each batch. Returns the number of events; on a
    /// decoding error the events before it stay applied.
    pub fn ingest_reader_pipelined<R: std::io::Read + Send>(
        &mut self,
        r: R,
        mut progress: impl FnMut(u64),
    ) -> weft_trace::Result<u64> {
        let mut feeder = self.feeder();
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(QUEUE_BATCHES);
        std::thread::scope(|s| {
            let decoder = std::thread::Builder::new()
                .name("weft-decode".into())
                .spawn_scoped(s, move || -> weft_trace::Result<()> {
                    let mut rd = weft_trace::Reader::new(r);
                    // False once the model side has gone (it panicked).
                    let mut open = true;
                    rd.for_each_event(|e| {
                        if open {
                            if let Some(b) = feeder.push(e) {
                                open = tx.send(b).is_ok();
                            }
                        }
                    })?;
                    if open {
                        let _ = tx.send(feeder.flush());
                    }
                    Ok(())
                })
                .expect("spawn the trace decoder thread");
            let mut n = 0u64;
            for b in rx {
                n += b.len() as u64;
                self.apply_batch(b);
                progress(n);
            }
            match decoder.join() {
                Ok(r) => r.map(|()| n),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The fast path gives the ops the general one does, event by event.
    #[test]
    fn fast_path_digests_as_the_general_path() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/demo/demo.trace"
        );
        let bytes = std::fs::read(path).expect("demo trace");
        let (mut a, mut b) = (Interner::new(), Interner::new());
        let (mut wa, mut wb) = (WireGen::default(), WireGen::default());
        let mut rd = weft_trace::Reader::new(&bytes[..]);
        let mut n = 0;
        while let Some(e) = rd.next_event().unwrap() {
            let x = digest_with(&mut a, &mut wa, &e, true);
            let y = digest_with(&mut b, &mut wb, &e, false);
            assert_eq!(format!("{x:?}"), format!("{y:?}"), "event {n}");
            // What `Model::on_known_goroutine` takes as given for the
            // transitions it is handed inline (not a creation, restatement
            // or first sight): a reason only on block and stop, a stack
            // only on those and syscall begin.
            if let What::Go {
                from,
                reason,
                stack,
                ..
            } = x.what
            {
                let inline = !matches!(from, GoState::NotExist | GoState::Undetermined)
                    && !matches!(x.typ, ev::GO_STATUS | ev::GO_STATUS_STACK);
                if inline && !matches!(x.typ, ev::GO_BLOCK | ev::GO_STOP) {
                    assert_eq!(reason, 0, "event {n}");
                }
                if inline && !matches!(x.typ, ev::GO_BLOCK | ev::GO_STOP | ev::GO_SYSCALL_BEGIN) {
                    assert_eq!(stack, 0, "event {n}");
                }
            }
            n += 1;
        }
        assert!(n > 10_000, "{n} events");
    }
}
