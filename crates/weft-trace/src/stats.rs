//! A one-pass summary of a trace: what `weft trace stats` prints.
//!
//! Feed every event to [`Stats::add`], call [`Stats::finish`], then print.
use std::io::{self, Write};

use crate::decoder::Decoder;
use crate::event::{EventKind, EventRef, GoState, Transition};
use crate::fasthash::{FastMap, IdMap};

/// Counters gathered over a trace.
#[derive(Debug, Default)]
pub struct Stats {
    /// Format version (`go 1.NN trace`).
    pub version: Option<u32>,
    /// Total events.
    pub events: u64,
    /// Events by kind.
    pub by_kind: [u64; 15],
    /// Generations seen.
    pub generations: u64,
    /// First and last event time (ns).
    pub first_time: Option<i64>,
    #[allow(missing_docs)]
    pub last_time: i64,
    /// Goroutines created during the trace.
    pub created: u64,
    /// Goroutines that ended during the trace.
    pub ended: u64,
    /// Goroutines alive at trace start (reported as "undetermined" in the first generation).
    pub at_start: u64,
    /// Most goroutines alive at once.
    pub max_alive: u64,
    alive: i64,
    // Per reason index: (count, total ns blocked).
    blocked: Vec<(u64, i64)>,
    block_start: IdMap<(i64, u32)>,
    // Per generation: reason string id -> index in `reasons`.
    reason_cache: Vec<u32>,
    cache_gen: u64,
    reasons: Vec<Vec<u8>>,
    reason_ids: FastMap<Vec<u8>, u32>,
    /// Trace bytes read.
    pub bytes: u64,
    last_gen: u64,
}

impl Stats {
    /// Accounts one event.
    // Always inlined: it runs once per event in the consumer's loop, and
    // a call there cost as much as the work (the rare cases are calls).
    #[inline(always)]
    pub fn add(&mut self, ev: &EventRef<'_>) {
        use crate::spec::ev as wire;
        self.events += 1;
        let r = ev.raw();
        let t = r.time;
        if self.first_time.is_none() {
            self.first_time = Some(t);
        }
        self.last_time = t;
        // The transitions that make up nearly every trace, straight from the
        // record; everything else through the typed view.
        match r.typ {
            wire::GO_START | wire::GO_STOP => {
                self.by_kind[EventKind::StateTransition as usize] += 1;
            }
            wire::GO_UNBLOCK => {
                self.by_kind[EventKind::StateTransition as usize] += 1;
                self.unblocked(r.args[0] as i64, t);
            }
            wire::GO_BLOCK => {
                self.by_kind[EventKind::StateTransition as usize] += 1;
                let sid = r.args[0] as usize;
                let cached = match self.reason_cache.get(sid) {
                    Some(&c) if c != u32::MAX && ev.generation() == self.cache_gen => Some(c),
                    _ => None,
                };
                let rid = match cached {
                    Some(c) => c,
                    None => self.reason_index(ev),
                };
                self.block_start.insert(r.g, (t, rid));
            }
            _ => self.add_slow(ev),
        }
    }

    #[inline(never)]
    fn add_slow(&mut self, ev: &EventRef<'_>) {
        let kind = ev.kind();
        self.by_kind[kind as usize] += 1;
        let t = ev.time();
        if kind == EventKind::Sync {
            let g = ev.generation();
            if g != 0 && g != self.last_gen {
                self.generations += 1;
                self.last_gen = g;
            }
            return;
        }
        if kind != EventKind::StateTransition {
            return;
        }
        let Some(st) = ev.state_transition() else {
            return;
        };
        let Transition::Goroutine { id, from, to } = st.transition else {
            return;
        };
        match (from, to) {
            (GoState::Undetermined, _) => {
                self.at_start += 1;
                self.bump(1);
            }
            (GoState::NotExist, _) => {
                self.created += 1;
                self.bump(1);
            }
            (_, GoState::NotExist) => {
                self.ended += 1;
                self.bump(-1);
            }
            _ => {}
        }
        if to == GoState::Waiting && from == GoState::Running {
            let rid = self.reason_index(ev);
            self.block_start.insert(id, (t, rid));
        } else if from == GoState::Waiting {
            self.unblocked(id, t);
        }
    }

    #[inline]
    fn unblocked(&mut self, id: i64, t: i64) {
        if let Some((t0, rid)) = self.block_start.remove(&id) {
            let rid = rid as usize;
            if self.blocked.len() <= rid {
                self.blocked.resize(rid + 1, (0, 0));
            }
            let e = &mut self.blocked[rid];
            e.0 += 1;
            e.1 += t - t0;
        }
    }

    /// Block reasons with (count, total ns blocked), most time first.
    pub fn block_reasons(&self) -> Vec<(&[u8], u64, i64)> {
        let mut v: Vec<_> = self
            .blocked
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| *n > 0)
            .map(|(i, &(n, ns))| (&self.reasons[i][..], n, ns))
            .collect();
        v.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
        v
    }

    // Index of the event's block reason (a GoBlock's string id, cached per
    // generation; other events through their typed view).
    #[inline(never)]
    fn reason_index(&mut self, ev: &EventRef<'_>) -> u32 {
        // Reasons are string ids, stable within a generation: cache them.
        let sid = ev.raw().args[0] as usize;
        if ev.generation() != self.cache_gen {
            self.cache_gen = ev.generation();
            self.reason_cache.clear();
        }
        let cacheable = ev.raw().typ == crate::spec::ev::GO_BLOCK && sid < 1 << 16;
        if cacheable {
            if let Some(&r) = self.reason_cache.get(sid) {
                if r != u32::MAX {
                    return r;
                }
            }
        }
        let reason = if ev.raw().typ == crate::spec::ev::GO_BLOCK {
            ev.string(ev.raw().args[0])
        } else {
            ev.state_transition().map(|s| s.reason).unwrap_or(&[])
        };
        let r = match self.reason_ids.get(reason) {
            Some(&r) => r,
            None => {
                let r = self.reasons.len() as u32;
                self.reasons.push(reason.to_vec());
                self.reason_ids.insert(reason.to_vec(), r);
                r
            }
        };
        if cacheable {
            if self.reason_cache.len() <= sid {
                self.reason_cache.resize(sid + 1, u32::MAX);
            }
            self.reason_cache[sid] = r;
        }
        r
    }

    fn bump(&mut self, d: i64) {
        self.alive += d;
        if self.alive > self.max_alive as i64 {
            self.max_alive = self.alive as u64;
        }
    }

    /// Takes the totals the decoder knows (version, bytes).
    pub fn finish(&mut self, dec: &Decoder) {
        self.version = dec.version().map(|v| v.minor());
        self.bytes = dec.bytes_consumed();
    }

    /// Wall duration covered by the events, in nanoseconds.
    pub fn duration_ns(&self) -> i64 {
        self.first_time.map(|f| self.last_time - f).unwrap_or(0)
    }

    /// Prints the summary.
    pub fn print<W: Write>(&self, w: &mut W) -> io::Result<()> {
        let secs = self.duration_ns() as f64 / 1e9;
        match self.version {
            Some(v) => writeln!(w, "Go version:      1.{v} trace format")?,
            None => writeln!(w, "Go version:      unknown")?,
        }
        writeln!(w, "Duration:        {:.3} s", secs)?;
        writeln!(w, "Generations:     {}", self.generations)?;
        writeln!(
            w,
            "Trace size:      {} bytes ({:.1} KB/s of run time)",
            self.bytes,
            if secs > 0.0 {
                self.bytes as f64 / secs / 1e3
            } else {
                0.0
            }
        )?;
        writeln!(w, "Events:          {}", self.events)?;
        const NAMES: [EventKind; 15] = [
            EventKind::Bad,
            EventKind::Sync,
            EventKind::Metric,
            EventKind::Label,
            EventKind::StackSample,
            EventKind::RangeBegin,
            EventKind::RangeActive,
            EventKind::RangeEnd,
            EventKind::TaskBegin,
            EventKind::TaskEnd,
            EventKind::RegionBegin,
            EventKind::RegionEnd,
            EventKind::Log,
            EventKind::StateTransition,
            EventKind::Experimental,
        ];
        for k in NAMES {
            let n = self.by_kind[k as usize];
            if n > 0 {
                writeln!(w, "  {:<17}{n}", k.name())?;
            }
        }
        writeln!(
            w,
            "Goroutines:      {} at start, {} created, {} ended, {} max alive",
            self.at_start, self.created, self.ended, self.max_alive
        )?;
        let reasons = self.block_reasons();
        if !reasons.is_empty() {
            writeln!(w, "Top block reasons (total time blocked, count):")?;
            for (r, n, ns) in reasons.iter().take(10) {
                let name = if r.is_empty() {
                    "(none)".to_string()
                } else {
                    String::from_utf8_lossy(r).into_owned()
                };
                writeln!(w, "  {:<28}{:>12.3} ms {:>10}", name, *ns as f64 / 1e6, n)?;
            }
        }
        Ok(())
    }
}
