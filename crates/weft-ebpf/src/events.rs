//! Events as the BPF programs send them, and a running summary of them.

use std::collections::{BTreeMap, HashMap};

/// Which probe sent an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Goroutine `goid` was created by `parent`, to run the function at
    /// `pc`; `aux` is the pc of the `go` statement.
    Create,
    /// Goroutine `goid` is exiting.
    Exit,
    /// Goroutine `goid` is parking; `pc` is the lock it passed to
    /// `gopark` (inside the channel for channel waits), `aux` the wait
    /// reason's number.
    Park,
    /// Goroutine `goid` was made runnable (`runtime.ready`) by goroutine
    /// `other`: the one its thread was running (0 when the scheduler
    /// itself, e.g. the network poller or a timer, did it).
    Ready,
}

/// One event, as `struct event` in `bpf/goprobes.bpf.c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// The OS thread the probe fired on.
    pub tid: u32,
    /// `CLOCK_MONOTONIC` nanoseconds.
    pub ts_ns: u64,
    pub goid: u64,
    pub other: u64,
    pub pc: u64,
    pub aux: u64,
}

/// The size of `struct event`.
pub const EVENT_SIZE: usize = 48;

impl Event {
    /// Decodes one ring-buffer record; `None` for a malformed one.
    pub fn parse(b: &[u8]) -> Option<Event> {
        if b.len() < EVENT_SIZE {
            return None;
        }
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        let kind = match u32_at(0) {
            1 => EventKind::Create,
            2 => EventKind::Exit,
            3 => EventKind::Park,
            4 => EventKind::Ready,
            _ => return None,
        };
        Some(Event {
            kind,
            tid: u32_at(4),
            ts_ns: u64_at(8),
            goid: u64_at(16),
            other: u64_at(24),
            pc: u64_at(32),
            aux: u64_at(40),
        })
    }
}

/// What a run of events added up to.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub created: u64,
    pub exited: u64,
    pub parks: u64,
    pub readies: u64,
    /// Goroutines created by start function name.
    pub created_by_function: BTreeMap<String, u64>,
    /// Goroutines created by parent goid.
    pub created_by_parent: BTreeMap<u64, u64>,
    /// Goroutines seen created and still not exited: goid → start function.
    pub live: HashMap<u64, String>,
    /// Exits of goroutines seen created during the run.
    pub exited_seen_created: u64,
}

impl Summary {
    /// Adds one event; `name` symbolises a start pc.
    pub fn add<'a>(&mut self, ev: &Event, name: impl Fn(u64) -> &'a str) {
        match ev.kind {
            EventKind::Create => {
                self.created += 1;
                let f = name(ev.pc).to_string();
                *self.created_by_function.entry(f.clone()).or_default() += 1;
                *self.created_by_parent.entry(ev.other).or_default() += 1;
                self.live.insert(ev.goid, f);
            }
            EventKind::Exit => {
                self.exited += 1;
                if self.live.remove(&ev.goid).is_some() {
                    self.exited_seen_created += 1;
                }
            }
            EventKind::Park => self.parks += 1,
            EventKind::Ready => self.readies += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_bad_records_are_refused() {
        let mut b = vec![0u8; EVENT_SIZE];
        b[0] = 1;
        b[4] = 7;
        b[16] = 42;
        b[24] = 1;
        b[32] = 0x10;
        let ev = Event::parse(&b).unwrap();
        assert_eq!(ev.kind, EventKind::Create);
        assert_eq!((ev.tid, ev.goid, ev.other, ev.pc), (7, 42, 1, 0x10));
        assert!(Event::parse(&b[..47]).is_none());
        b[0] = 9;
        assert!(Event::parse(&b).is_none());
    }
}
