/*!
Reads a running Go program's goroutines from outside, by PID, the way py-spy
reads a Python interpreter: no probes, no signals, no stop by default, just
batched `process_vm_readv` reads of the runtime's own tables.

```no_run
let opts = weft_attach::AttachOptions::default();
let snap = weft_attach::snapshot(1234, &opts)?;
for rec in &snap.records {
    println!("goroutine {:?} [{}] {:?}", rec.ids, rec.status, rec.stack.first());
}
# Ok::<(), weft_attach::AttachError>(())
```
*/

mod error;

pub use error::AttachError;

/// How to take a snapshot.
#[derive(Clone, Debug)]
pub struct AttachOptions {
    /// Stop the target (PTRACE_SEIZE + PTRACE_INTERRUPT) while reading, for a
    /// consistent snapshot. Off by default: the target must not be hurt.
    pub stop_target: bool,
    /// Read at most this many goroutines (the rest are counted as skipped).
    pub max_goroutines: usize,
    /// Unwind at most this many frames per goroutine.
    pub max_stack_depth: usize,
    /// Include runtime-internal goroutines (what `GOTRACEBACK=system` shows).
    pub include_system: bool,
}

impl Default for AttachOptions {
    fn default() -> Self {
        AttachOptions {
            stop_target: false,
            max_goroutines: 1_000_000,
            max_stack_depth: 100,
            include_system: false,
        }
    }
}

/// Takes one snapshot of process `pid`'s goroutines.
pub fn snapshot(pid: u32, opts: &AttachOptions) -> Result<weft_model::Snapshot, AttachError> {
    Attacher::new(pid)?.snapshot(opts)
}

/// Keeps a target's parsed binary (symbols, struct layouts, pclntab) so
/// repeated samples only pay for the memory reads.
pub struct Attacher {
    pid: u32,
}

impl Attacher {
    /// Opens the target and parses its binary.
    pub fn new(pid: u32) -> Result<Attacher, AttachError> {
        Err(AttachError::Unsupported {
            pid,
            what: "attaching is not implemented yet".into(),
        })
    }

    /// Takes one snapshot.
    pub fn snapshot(&mut self, _opts: &AttachOptions) -> Result<weft_model::Snapshot, AttachError> {
        Err(AttachError::Unsupported {
            pid: self.pid,
            what: "attaching is not implemented yet".into(),
        })
    }
}
