//! Program-counter symbols learned from a `debug=0` profile, to restore the
//! runtime frames `debug=1` text hides.
//!
//! The `debug=1` writer drops the leading run of `runtime.*` frames, which
//! are exactly the frames that say what a goroutine waits on
//! (`runtime.chanrecv1`, `runtime.selectgo`, ...). Its `@` line still lists
//! their return PCs, and a `debug=0` profile of the same process names every
//! PC (location addresses are return PC − 1). So one `debug=0` fetch lets
//! every later `debug=1` parse of that process report real states.

use std::collections::HashMap;

use weft_model::{Frame, Snapshot};

/// Frames by return PC, learned from pprof (`debug=0`) snapshots.
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    /// Location address (return PC − 1) → its frames, innermost first
    /// (several when calls were inlined at that PC).
    by_addr: HashMap<u64, Vec<Frame>>,
}

impl Symbols {
    /// Learns every PC in a snapshot parsed from a `debug=0` profile.
    pub fn from_profile(snapshot: &Snapshot) -> Symbols {
        let mut s = Symbols::default();
        s.learn(snapshot);
        s
    }

    /// Adds the PCs of another pprof snapshot (e.g. after new code paths appear).
    pub fn learn(&mut self, snapshot: &Snapshot) {
        for rec in &snapshot.records {
            let mut i = 0;
            while i < rec.stack.len() {
                let Some(pc) = rec.stack[i].pc else {
                    i += 1;
                    continue;
                };
                let mut j = i + 1;
                while j < rec.stack.len() && rec.stack[j].pc == Some(pc) {
                    j += 1;
                }
                self.by_addr
                    .entry(pc)
                    .or_insert_with(|| rec.stack[i..j].to_vec());
                i = j;
            }
        }
    }

    /// Number of distinct PCs known.
    pub fn len(&self) -> usize {
        self.by_addr.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }

    /// Frames for a run of return PCs (as printed on a `debug=1` `@` line),
    /// or `None` if any is unknown.
    pub(crate) fn resolve(&self, return_pcs: &[u64]) -> Option<Vec<Frame>> {
        let mut out = Vec::with_capacity(return_pcs.len() * 2);
        for &pc in return_pcs {
            let frames = self.by_addr.get(&pc.wrapping_sub(1))?;
            out.extend(frames.iter().cloned());
        }
        Some(out)
    }
}
