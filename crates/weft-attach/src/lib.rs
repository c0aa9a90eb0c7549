/*!
Reads a running Go program's goroutines from outside, by PID, the way py-spy
reads a Python interpreter: no probes, no signals, no stop by default, just
batched `process_vm_readv` reads of the runtime's own tables. This is the
`pid:N` source of weft; it produces the same [`weft_model::Snapshot`] as a
`debug=2` dump (one [`weft_model::Record`] per goroutine, same statuses,
same visible frames) plus what a dump cannot say: which channel each
goroutine waits on ([`weft_model::WaitObject`] with address, cap, len).

```no_run
let opts = weft_attach::AttachOptions::default();
let snap = weft_attach::snapshot(1234, &opts)?;
for rec in &snap.records {
    println!("goroutine {:?} [{}] {:?}", rec.ids, rec.status, rec.stack.first());
}
// Repeated samples: keep an Attacher, it keeps the parsed binary.
let mut a = weft_attach::Attacher::new(1234)?;
let first = a.snapshot(&opts)?;
let second = a.snapshot(&opts)?;
# let _ = (first, second);
# Ok::<(), weft_attach::AttachError>(())
```

How it works, module by module:
- `binary`: parses `/proc/PID/exe` once: Go version (`.go.buildinfo`),
  `runtime.firstmoduledata` (symbol, or found by its pointer to the
  pclntab), the addresses of `runtime.allgs` and `runtime.waitReasonStrings`
  (symbols; in stripped binaries found by their shape: a `[]*g` in `.bss`
  whose first g has goid 1, and the string array starting `"", "GC assist
  marking"`).
- `layout`: field offsets of `g`, `gobuf`, `sudog`, `hchan` from DWARF, or
  built-in tables per Go version (1.22–1.27, amd64 and arm64) for `-ldflags=-s -w`.
- `pclntab`: a reader for Go 1.20+ `.gopclntab` (function bounds, names,
  pcsp frame sizes, file/line, inlining tree), so stripped binaries unwind
  and symbolise too.
- `mem`: `process_vm_readv` with many iovecs per call, neighbouring reads
  merged (the 100k `g`s of a sample come in a few hundred ranges, decoded
  where the kernel put them), `/proc/PID/maps` to reject wild pointers.
- `sample`: one sample: the `allgs` array, the `g`s, the stacks from
  `sched.sp` (or `syscallsp`) upward, unwound with pcsp; `sudog` lists to
  channels. Reads race with the program: every value is validated, torn
  entries are re-read once and counted in [`SampleStats`]. An
  [`Attacher`] keeps, per `allgs` slot, what it last read; a goroutine
  whose `g` reads the same again, down to fields the runtime changes when
  it runs (see [`AttachOptions::reuse_stacks`]), keeps its stack, channels
  and labels, so a repeated sample of mostly parked goroutines reads
  little more than the `g`s.

Also read: pprof labels (Go 1.24+, where the label set is a slice),
`locked to thread` (`g.lockedm`), the approximate wait time
(`g.waitsince`, set by the runtime lazily, so often absent).

What it cannot do: stacks of goroutines *running* on a thread at that
instant (their registers are in the CPU, not in `g`; like the dump, such a
record has status `running` and no frames), pprof labels on Go 1.22–1.23
(a Go map there), and `sync` waits' object addresses (semaphore waits keep
no `sudog` in `g.waiting`).
Linux, Go 1.22 to 1.27, amd64 and arm64: an arm64 target is read natively
on an arm64 host, or under qemu-user on an amd64 one (the program is found
among the emulator's mappings; stacks unwind by arm64's link-register
rules).
*/

mod binary;
mod error;
mod layout;
mod mem;
mod pclntab;
mod sample;
mod stop;

pub use error::AttachError;
pub use layout::Layout;
pub use sample::SampleStats;

use std::time::Instant;

use binary::GoBinary;
use error::os_error;
use mem::{Memory, ProcessMemory};

/// How to take a snapshot.
#[derive(Clone, Debug)]
pub struct AttachOptions {
    /// Stop the target (SIGSTOP, then SIGCONT) while reading, for a
    /// consistent snapshot. Off by default: the target must not be hurt.
    pub stop_target: bool,
    /// Read at most this many goroutines (the rest are counted as skipped).
    pub max_goroutines: usize,
    /// Unwind at most this many frames per goroutine.
    pub max_stack_depth: usize,
    /// Include runtime-internal goroutines (what `GOTRACEBACK=system` shows)
    /// and their runtime frames.
    pub include_system: bool,
    /// Reuse a parked goroutine's stack, channels and labels from the
    /// previous sample of the same [`Attacher`] when its `g` reads exactly
    /// as it did then, including two fields the runtime changes whenever
    /// the goroutine runs (`waitsince`, which proves it has not run once a
    /// GC cycle has set it, and the 8-bit `trackingSeq`, which rules out
    /// every run count but multiples of 256). On by default: a repeated
    /// sample of 100k parked goroutines then reads their `g`s and little
    /// else (bench/attach). Off: every stack and sudog list is read afresh.
    pub reuse_stacks: bool,
    /// Threads the large reads of a sample (the `g`s, the stacks) are split
    /// over. 1 by default: on a small machine a second reading thread
    /// competes with the target for its cores.
    pub read_threads: usize,
}

impl Default for AttachOptions {
    fn default() -> Self {
        AttachOptions {
            stop_target: false,
            max_goroutines: 1_000_000,
            max_stack_depth: 100,
            include_system: false,
            reuse_stacks: true,
            read_threads: 1,
        }
    }
}

/// Takes one snapshot of process `pid`'s goroutines.
pub fn snapshot(pid: u32, opts: &AttachOptions) -> Result<weft_model::Snapshot, AttachError> {
    Attacher::new(pid)?.snapshot(opts)
}

/// Parses a Go executable the way [`Attacher::new`] does and symbolises
/// every function in its pclntab (name, file/line, frame size, inlining):
/// returns the Go version and the number of functions. For checking the
/// parsers on arbitrary or corrupted input; never panics.
#[doc(hidden)]
pub fn check_binary(bytes: &[u8]) -> Result<(String, usize), String> {
    let bin = GoBinary::parse(bytes)?;
    let mut n = 0;
    let read = |off: u64, len: usize| {
        bin.static_bytes(bin.gofunc.wrapping_add(off), len)
            .map(|b| b.to_vec())
    };
    while let Some(f) = bin.pcln.func_at(n) {
        let _ = bin.pcln.frames_at(f, f.entry, &read);
        let _ = bin.pcln.sp_delta(f, f.end.saturating_sub(1));
        let _ = bin.pcln.find(f.entry);
        n += 1;
    }
    let _ = bin.wait_reasons();
    Ok((bin.version, n))
}

/// Keeps a target's parsed binary (symbols, struct layouts, pclntab) and
/// symbolisation caches so repeated samples only pay for the memory reads.
pub struct Attacher {
    pid: u32,
    bin: GoBinary,
    mem: ProcessMemory,
    /// Added to link-time addresses to get the target's (non-zero for PIE).
    bias: u64,
    /// Where `runtime.allgs` (a `[]*g`) lives in the target.
    allgs: u64,
    wait_reasons: Vec<String>,
    cache: sample::SymCache,
    stats: SampleStats,
    /// Per-goroutine results and buffers kept between samples.
    state: sample::SampleState,
    /// Read buffers kept between samples (see `mem::ProcessMemory::scratch`).
    gbuf: std::cell::RefCell<Vec<u8>>,
    stackbuf: std::cell::RefCell<Vec<u8>>,
}

impl Attacher {
    /// Opens the target and parses its binary.
    pub fn new(pid: u32) -> Result<Attacher, AttachError> {
        let exe_path = format!("/proc/{pid}/exe");
        let exe_name = std::fs::read_link(&exe_path)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| exe_path.clone());
        let bytes =
            std::fs::read(&exe_path).map_err(|e| os_error(pid, "reading its executable", e))?;
        let maps = mem::read_maps(pid).map_err(|e| os_error(pid, "reading /proc/PID/maps", e))?;
        let (bin, exe_name) = match GoBinary::parse(&bytes) {
            Ok(bin) => (bin, exe_name),
            Err(why) => guest_binary(&maps, &exe_name).ok_or(AttachError::NotGo {
                pid,
                exe: exe_name.clone(),
                why,
            })?,
        };
        drop(bytes);
        let bias = if bin.is_pie {
            let exe_clean = exe_name.trim_end_matches(" (deleted)");
            let m = maps
                .iter()
                .filter(|m| m.path == exe_clean && m.offset == 0)
                .map(|m| m.start)
                .min()
                .ok_or_else(|| AttachError::Inconsistent {
                    pid,
                    what: format!("{exe_clean} is not mapped in /proc/{pid}/maps"),
                })?;
            m.wrapping_sub(bin.first_load_vaddr & !0xfff)
        } else {
            0
        };
        let mem = ProcessMemory {
            pid,
            scratch: Default::default(),
            threads: 1,
        };
        // One read of the text start tells permission problems apart early.
        let mut probe = [0u8; 8];
        if let Err(e) = mem.read(bin.pcln.text_start.wrapping_add(bias), &mut probe) {
            return Err(os_error(pid, "reading its memory", e));
        }
        let wait_reasons = bin.wait_reasons();
        if wait_reasons.len() < 10 {
            return Err(AttachError::Unsupported {
                pid,
                what: format!(
                    "cannot find runtime.waitReasonStrings in this {} binary",
                    bin.version
                ),
            });
        }
        let mut a = Attacher {
            pid,
            allgs: 0,
            bin,
            mem,
            bias,
            wait_reasons,
            cache: sample::SymCache::default(),
            stats: SampleStats::default(),
            state: Default::default(),
            gbuf: Default::default(),
            stackbuf: Default::default(),
        };
        a.allgs = match a.bin.symbols.get("runtime.allgs") {
            Some(&(addr, _)) => addr + bias,
            None => sample::find_allgs(&a)?,
        };
        Ok(a)
    }

    /// The target's Go version, as its binary records it (e.g. `go1.24.3`).
    pub fn go_version(&self) -> &str {
        &self.bin.version
    }

    /// Whether struct offsets came from DWARF (else from built-in tables).
    pub fn layout_from_dwarf(&self) -> bool {
        self.bin.layout_from_dwarf
    }

    /// The struct offsets in use.
    pub fn layout(&self) -> &Layout {
        &self.bin.layout
    }

    /// Counters of the last snapshot (goroutines read, dropped, retried).
    pub fn last_stats(&self) -> &SampleStats {
        &self.stats
    }

    /// Takes one snapshot.
    pub fn snapshot(&mut self, opts: &AttachOptions) -> Result<weft_model::Snapshot, AttachError> {
        let started = Instant::now();
        let _stopped = if opts.stop_target {
            Some(stop::Stopped::stop(self.pid)?)
        } else {
            None
        };
        self.mem.threads = opts.read_threads;
        let records = sample::take(self, opts)?;
        self.stats.elapsed_us = started.elapsed().as_micros() as u64;
        let taken_at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Ok(weft_model::Snapshot {
            source: format!("pid:{}", self.pid),
            taken_at_ms,
            form: weft_model::SourceForm::Memory,
            records,
        })
    }
}

/// The Go program a user-mode emulator runs (`qemu-aarch64 ./server` on an
/// amd64 host): `/proc/PID/exe` is the emulator, and the program is a file
/// mapped from its start. qemu-user maps a 64-bit guest at its own
/// addresses, so the guest's memory reads like a native process's.
fn guest_binary(maps: &[mem::Mapping], exe: &str) -> Option<(GoBinary, String)> {
    let exe = exe.trim_end_matches(" (deleted)");
    let mut tried: Vec<&str> = Vec::new();
    for m in maps {
        let path = m.path.trim_end_matches(" (deleted)");
        if m.offset != 0 || !path.starts_with('/') || path == exe || tried.contains(&path) {
            continue;
        }
        tried.push(path);
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        if let Ok(bin) = GoBinary::parse(&bytes) {
            return Some((bin, m.path.clone()));
        }
    }
    None
}

/// A parsed Go executable, for tools that need its functions and `g`
/// layout without reading a process (weft's eBPF mode places uprobes with
/// it). Addresses are link-time, as in the file.
pub struct GoExecutable {
    bin: GoBinary,
}

impl GoExecutable {
    /// Parses `bytes` (the whole executable); errors are plain sentences.
    /// amd64 only: the eBPF mode decodes amd64 machine code to place its
    /// probes (arm64 targets are read by sampling, [`Attacher`]).
    pub fn parse(bytes: &[u8]) -> Result<GoExecutable, String> {
        let bin = GoBinary::parse(bytes)?;
        if bin.arch != binary::Arch::Amd64 {
            return Err(format!(
                "this is an {:?} executable; the eBPF mode supports amd64 only (sampling by PID reads arm64 too)",
                bin.arch
            ));
        }
        Ok(GoExecutable { bin })
    }

    /// The Go version the executable was built with (`go1.22.5`).
    pub fn go_version(&self) -> &str {
        &self.bin.version
    }

    /// Field offsets of the runtime's structures in this executable.
    pub fn layout(&self) -> &Layout {
        &self.bin.layout
    }

    /// `[entry, end)` of the function named `name` (from the pclntab, so
    /// stripped binaries work too).
    pub fn function(&self, name: &str) -> Option<(u64, u64)> {
        let mut i = 0;
        while let Some(f) = self.bin.pcln.func_at(i) {
            if self.bin.pcln.name(f) == name {
                return Some((f.entry, f.end));
            }
            i += 1;
        }
        None
    }

    /// Name and entry of the function containing `pc`.
    pub fn function_at(&self, pc: u64) -> Option<(&str, u64)> {
        let f = self.bin.pcln.find(pc)?;
        Some((self.bin.pcln.name(f), f.entry))
    }

    /// The frame size (bytes below the return address) at `pc`, from the
    /// pclntab: 0 where the function's frame is not (or no longer) set up.
    pub fn sp_delta(&self, pc: u64) -> Option<i32> {
        let f = self.bin.pcln.find(pc)?;
        self.bin.pcln.sp_delta(f, pc)
    }

    /// `len` bytes of the file's contents at link-time address `addr`.
    pub fn bytes_at(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.bin.static_bytes(addr, len)
    }

    /// The runtime's wait reason strings, indexed by `waitReason` number.
    pub fn wait_reasons(&self) -> Vec<String> {
        self.bin.wait_reasons()
    }
}
