//! Feeding the model from goroutine snapshots instead of a trace: the
//! `pid:N` source (memory reads, see weft-attach) and per-goroutine dumps.
//!
//! A snapshot says where every goroutine is at one instant, not how it got
//! there, so the model built from a series of them is coarser than a
//! trace's: a state span starts at the sample that first saw the state, a
//! goroutine missing from a sample has exited by then, and there are no
//! wake edges (no flows, no wake latencies). What samples give that a
//! trace does not is the identity of the objects goroutines wait on: which
//! channel (address, capacity, length) each blocked goroutine is parked on,
//! as a sender or a receiver. [`Model::wait_objects`] lists them for the
//! shape view and the channel findings.
use serde::Serialize;
use weft_model::{Snapshot, StateClass};

use crate::intern::{FrameRec, StackId};
use crate::model::{GState, GroupId, Model};

/// What the model keeps between samples.
#[derive(Debug, Default)]
pub(crate) struct SampledState {
    /// Goroutines the last sample saw, sorted.
    seen: Vec<i64>,
    pub(crate) samples: u64,
    pub(crate) objects: Vec<WaitObjectNode>,
}

/// An object goroutines are blocked on in the latest sample (a channel,
/// with its buffer state when known), and who waits on it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WaitObjectNode {
    /// The object's address in the target: stable while the object lives.
    pub addr: u64,
    /// `chan`, `mutex`, ...
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub len: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed: Option<bool>,
    /// Per group and direction (`send`, `recv`, `select`, or empty): how
    /// many of its goroutines wait here.
    pub waiters: Vec<ObjectWaiters>,
}

/// One group's goroutines waiting on one object in one direction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObjectWaiters {
    pub group: GroupId,
    pub direction: String,
    pub count: u64,
    /// A few of the goroutine ids (at most 16).
    pub goroutines: Vec<i64>,
}

/// What one sample changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SampleApplied {
    pub new: usize,
    pub changed: usize,
    pub exited: usize,
    /// Records without goroutine ids (aggregated forms such as `debug=0`),
    /// which a per-goroutine model cannot place.
    pub skipped_records: usize,
}

fn gstate(class: StateClass) -> GState {
    match class {
        StateClass::Running => GState::Running,
        StateClass::Runnable => GState::Runnable,
        StateClass::Syscall => GState::Syscall,
        StateClass::Dead => GState::Dead,
        _ => GState::Waiting,
    }
}

impl Model {
    /// Feeds one snapshot taken at `now_ns` (any clock, as long as it only
    /// grows between calls; the web server uses nanoseconds since the Unix
    /// epoch). Only per-goroutine records (with ids) are placed.
    pub fn ingest_snapshot(&mut self, snap: &Snapshot, now_ns: i64) -> SampleApplied {
        let now = now_ns.max(self.now_ns);
        let first = self.first_ns.is_none();
        self.now_ns = now;
        if first {
            self.first_ns = Some(now);
            self.set_capture_start(now);
        }
        self.sample_series_until(now);
        let mut applied = SampleApplied::default();
        let mut seen: Vec<i64> = Vec::with_capacity(self.sampled.seen.len());
        let mut waits: Vec<(u64, GroupId, i64, usize, usize)> = Vec::new();
        for (ri, rec) in snap.records.iter().enumerate() {
            if rec.ids.is_empty() {
                applied.skipped_records += 1;
                continue;
            }
            let stack =
                self.intern_frames(rec.stack.iter().map(|f| (&f.func[..], &f.file[..], f.line)));
            let reason = match rec.class {
                StateClass::Blocked | StateClass::Idle => self.strs.str_id(rec.status.as_bytes()),
                _ => 0,
            };
            let state = gstate(rec.class);
            for &id in &rec.ids {
                let id = id as i64;
                seen.push(id);
                let known = self.gs.get(&id).map(|g| (g.state, g.reason, g.stack));
                match known {
                    Some((s, r, st)) if s != GState::Dead => {
                        if (s, r, st) != (state, reason, stack) {
                            self.transition(id, state, now, reason, stack, -1);
                            applied.changed += 1;
                        }
                    }
                    _ => {
                        let created = rec
                            .created_by
                            .as_ref()
                            .map(|f| {
                                self.intern_frames(std::iter::once((
                                    &f.func[..],
                                    &f.file[..],
                                    f.line,
                                )))
                            })
                            .unwrap_or(0);
                        let entry = self.entry_of(stack);
                        let site = (created != 0).then(|| self.site_of(created)).flatten();
                        let group = if entry == 0 && site.is_none() {
                            0
                        } else {
                            self.group_for(entry, site, now)
                        };
                        let parent = rec.creator_id.map_or(-1, |p| p as i64);
                        // Present since before the first sample, or new
                        // since the previous one.
                        self.new_goroutine(
                            id, parent, group, created, entry, None, state, now, first, stack,
                        );
                        if let Some(g) = self.gs.get_mut(&id) {
                            g.reason = reason;
                        }
                        applied.new += 1;
                    }
                }
                if !rec.wait_on.is_empty() {
                    let group = self.gs.get(&id).map_or(0, |g| g.group);
                    for (wi, w) in rec.wait_on.iter().enumerate() {
                        waits.push((w.addr, group, id, ri, wi));
                    }
                }
            }
        }
        seen.sort_unstable();
        seen.dedup();
        let gone: Vec<i64> = self
            .sampled
            .seen
            .iter()
            .copied()
            .filter(|id| seen.binary_search(id).is_err())
            .collect();
        for id in gone {
            if self.gs.get(&id).is_some_and(|g| g.state != GState::Dead) {
                self.transition(id, GState::Dead, now, 0, 0, -1);
                applied.exited += 1;
            }
        }
        self.sampled.seen = seen;
        self.sampled.samples += 1;
        self.sampled.objects = objects(snap, waits);
        self.version += 1;
        self.evict();
        applied
    }

    /// Objects goroutines wait on in the latest sample (sampled sources
    /// only; a trace names no objects), most waiters first.
    pub fn wait_objects(&self) -> &[WaitObjectNode] {
        &self.sampled.objects
    }

    /// Snapshots fed so far with [`Model::ingest_snapshot`].
    pub fn samples(&self) -> u64 {
        self.sampled.samples
    }

    fn intern_frames<'a>(
        &mut self,
        frames: impl Iterator<Item = (&'a str, &'a str, u32)>,
    ) -> StackId {
        let recs: Vec<FrameRec> = frames
            .map(|(func, file, line)| FrameRec {
                func: self.strs.str_id(func.as_bytes()),
                file: self.strs.str_id(file.as_bytes()),
                line,
            })
            .collect();
        if recs.is_empty() {
            return 0;
        }
        self.strs.stack_of(&recs)
    }
}

// Groups the sample's waits by object: (addr, group, goroutine, record, wait index).
fn objects(
    snap: &Snapshot,
    mut waits: Vec<(u64, GroupId, i64, usize, usize)>,
) -> Vec<WaitObjectNode> {
    waits.sort_unstable_by_key(|w| (w.0, w.1, w.2));
    let mut out: Vec<WaitObjectNode> = Vec::new();
    for (addr, group, id, ri, wi) in waits {
        let w = &snap.records[ri].wait_on[wi];
        if out.last().is_none_or(|o| o.addr != addr) {
            out.push(WaitObjectNode {
                addr,
                kind: w.kind.clone(),
                cap: w.cap,
                len: w.len,
                closed: w.closed,
                waiters: Vec::new(),
            });
        }
        let node = out.last_mut().unwrap();
        match node
            .waiters
            .iter_mut()
            .find(|x| x.group == group && x.direction == w.direction)
        {
            Some(x) => {
                x.count += 1;
                if x.goroutines.len() < 16 {
                    x.goroutines.push(id);
                }
            }
            None => node.waiters.push(ObjectWaiters {
                group,
                direction: w.direction.clone(),
                count: 1,
                goroutines: vec![id],
            }),
        }
    }
    let total = |o: &WaitObjectNode| o.waiters.iter().map(|w| w.count).sum::<u64>();
    out.sort_by(|a, b| total(b).cmp(&total(a)).then(a.addr.cmp(&b.addr)));
    out
}
