/*!
weft's opt-in eBPF mode: uprobes on a running Go program's runtime for what
sampling the goroutine table cannot see — every goroutine's creation (with
its parent and start function) and exit, and, as a separately costed
burst, every park (with the lock/channel pointer and wait reason) and
ready (who woke whom).

```no_run
use std::time::Duration;
use weft_ebpf::{ProbeSet, Session};

weft_ebpf::preflight()?;
let mut s = Session::open(1234)?;
s.attach(ProbeSet::Lifecycle)?;
let deadline = std::time::Instant::now() + Duration::from_secs(5);
while std::time::Instant::now() < deadline {
    for ev in s.poll(Duration::from_millis(100))? {
        println!("{ev:?}");
    }
}
// Dropping the session (or weft dying, however it dies) removes the probes.
# Ok::<(), weft_ebpf::Error>(())
```

How it is built, and why:
- The BPF programs are C (`bpf/goprobes.bpf.c`, no headers needed),
  compiled by clang in `build.rs` and loaded with aya. Without clang the
  crate still builds and [`Session::open`] says how to get the mode.
- Probe points come from the executable's pclntab (`weft_attach::GoExecutable`),
  so stripped binaries work. Entry probes read Go's register ABI (args in
  AX, BX, CX, …; the current g in R14). `runtime.newproc1`'s result (the
  new g) is read by probes on each of its RET instructions, found by
  decoding the function, because uretprobes break when Go moves stacks.
- Probes are perf-event/bpf_link file descriptors owned by this process:
  the kernel removes them when the descriptors close, so they go on every
  exit path, `SIGKILL` and crashes included. Nothing is written to
  tracefs.
- Cost: a uprobe hit costs the target tens of microseconds in these VMs
  (`bench/ebpf`: 30–47 µs of lost time per hit on a loaded 2-core VM;
  the field notes say 12–15 µs idle). So the default set,
  [`ProbeSet::Lifecycle`], sits on events most programs make rarely; on a
  program that starts a goroutine per operation it is as costly as
  [`ProbeSet::ParkReady`], which fires on every channel block and wake-up
  (a ping-pong program ran at 1.5% of its speed). Callers should keep
  bursts short and watch the hit rate ([`Session::counts`]); `weft probes`
  removes a set whose rate passes `--max-rate`.

Linux, amd64, Go 1.22 to 1.27.
*/

mod events;
mod perms;
mod probes;

pub use events::{Event, EventKind, Summary};
pub use perms::{install_stop_handler, preflight, stop_requested};
pub use probes::{find_rets, ProbePoint, ProbeSet, Target};

#[cfg(not(weft_bpf))]
use std::time::Duration;

/// What can go wrong; every message says what to do about it.
#[derive(Debug)]
pub enum Error {
    /// weft was built without clang, so there is no BPF object.
    NotCompiledIn,
    /// Missing privilege or a kernel setting; the text has the exact fix.
    Permission(String),
    /// The target is not a Go program weft can probe, or is gone.
    Target(String),
    /// Loading or attaching failed for another reason.
    Bpf(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NotCompiledIn => write!(
                f,
                "eBPF support was not compiled in: install clang (apt-get install -y clang) and rebuild weft"
            ),
            Error::Permission(s) | Error::Target(s) | Error::Bpf(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for Error {}

/// Hits per probe kind (summed over CPUs) since the session was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub create: u64,
    pub exit: u64,
    pub park: u64,
    pub ready: u64,
    /// Events lost because the ring buffer was full.
    pub dropped: u64,
    /// Events with a field that could not be read from the target.
    pub bad_reads: u64,
}

#[cfg(weft_bpf)]
mod session;
#[cfg(weft_bpf)]
pub use session::Session;

/// Without clang at build time: the same API, failing with
/// [`Error::NotCompiledIn`].
#[cfg(not(weft_bpf))]
pub struct Session {
    _never: std::convert::Infallible,
}

#[cfg(not(weft_bpf))]
impl Session {
    pub fn open(_pid: u32) -> Result<Session, Error> {
        Err(Error::NotCompiledIn)
    }
    pub fn target(&self) -> &Target {
        match self._never {}
    }
    pub fn attach(&mut self, _set: ProbeSet) -> Result<(), Error> {
        match self._never {}
    }
    pub fn detach(&mut self, _set: ProbeSet) -> Result<(), Error> {
        match self._never {}
    }
    pub fn poll(&mut self, _timeout: Duration) -> Result<Vec<Event>, Error> {
        match self._never {}
    }
    pub fn counts(&self) -> Result<Counts, Error> {
        match self._never {}
    }
}

/// Whether this build has the BPF object (clang was found at build time).
pub const COMPILED_IN: bool = cfg!(weft_bpf);
