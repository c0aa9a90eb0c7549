//! Loading the BPF object, attaching probe sets, reading events.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::time::Duration;

use aya::maps::{Array, MapData, PerCpuArray, RingBuf};
use aya::programs::uprobe::UProbeLinkId;
use aya::programs::UProbe;
use aya::{Ebpf, EbpfLoader, Pod};

use crate::events::Event;
use crate::perms::kernel_error;
use crate::probes::{ProbeSet, Target};
use crate::{Counts, Error};

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/goprobes.bpf.o"));

/// `struct config` in the C file.
#[repr(C)]
#[derive(Clone, Copy)]
struct Config {
    tgid: u32,
    pad: u32,
    goid_off: u64,
    parent_goid_off: u64,
    startpc_off: u64,
    gopc_off: u64,
    g_m_off: u64,
    m_curg_off: u64,
}

// SAFETY: plain integers, no padding (the explicit `pad` fills the gap).
unsafe impl Pod for Config {}

/// `g.m`: the same in every supported Go version (after `stack`,
/// `stackguard0/1`, `_panic`, `_defer`).
const G_M_OFFSET: u64 = 48;

const PROGRAMS: [&str; 4] = [
    "weft_newproc1_ret",
    "weft_goexit1",
    "weft_gopark",
    "weft_ready",
];

/// Probes on one Go process. Every probe is a file descriptor of this
/// process: dropping the session, or this process dying, removes them.
pub struct Session {
    target: Target,
    // Field order matters for drop: the ring buffer before the object.
    events: RingBuf<MapData>,
    bpf: Ebpf,
    links: HashMap<ProbeSet, Vec<(&'static str, UProbeLinkId)>>,
}

impl Session {
    /// Checks privileges, parses the target and loads (but does not yet
    /// attach) the BPF programs.
    pub fn open(pid: u32) -> Result<Session, Error> {
        crate::perms::preflight()?;
        let target = Target::open(pid)?;
        let l = target.layout();
        let parent_goid_off = l.g_parent_goid.ok_or_else(|| {
            Error::Target(format!(
                "process {pid} ({}): its g has no parentGoid field",
                target.exe.go_version()
            ))
        })?;
        let config = Config {
            tgid: pid,
            pad: 0,
            goid_off: l.g_goid,
            parent_goid_off,
            startpc_off: l.g_startpc,
            gopc_off: l.g_gopc,
            g_m_off: G_M_OFFSET,
            m_curg_off: target.m_curg_offset.unwrap_or(0),
        };
        let mut bpf = EbpfLoader::new()
            .load(OBJECT)
            .map_err(|e| kernel_error("loading weft's BPF object", format!("{e:#}")))?;
        {
            let map = bpf
                .map_mut("weft_config")
                .ok_or_else(|| Error::Bpf("BPF object has no weft_config map".into()))?;
            let mut cfg: Array<_, Config> =
                Array::try_from(map).map_err(|e| Error::Bpf(format!("weft_config: {e}")))?;
            cfg.set(0, config, 0)
                .map_err(|e| kernel_error("writing weft_config", e.to_string()))?;
        }
        for name in PROGRAMS {
            let prog: &mut UProbe = bpf
                .program_mut(name)
                .ok_or_else(|| Error::Bpf(format!("BPF object has no program {name}")))?
                .try_into()
                .map_err(|e| Error::Bpf(format!("{name}: {e}")))?;
            prog.load().map_err(|e| {
                kernel_error(&format!("loading BPF program {name}"), error_chain(&e))
            })?;
        }
        let events = bpf
            .take_map("weft_events")
            .ok_or_else(|| Error::Bpf("BPF object has no weft_events map".into()))?;
        let events =
            RingBuf::try_from(events).map_err(|e| Error::Bpf(format!("weft_events: {e}")))?;
        Ok(Session {
            target,
            events,
            bpf,
            links: HashMap::new(),
        })
    }

    /// The probed process.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Attaches every probe of `set` (no-op if attached already).
    pub fn attach(&mut self, set: ProbeSet) -> Result<(), Error> {
        if self.links.contains_key(&set) {
            return Ok(());
        }
        let mut links = Vec::new();
        let points: Vec<_> = self
            .target
            .points
            .iter()
            .filter(|p| p.set == set)
            .cloned()
            .collect();
        for p in points {
            let prog: &mut UProbe = self
                .bpf
                .program_mut(p.program)
                .expect("loaded in open")
                .try_into()
                .expect("a uprobe");
            match prog.attach(
                None,
                p.file_offset,
                &self.target.exe_path,
                Some(self.target.pid as i32),
            ) {
                Ok(id) => links.push((p.program, id)),
                Err(e) => {
                    // Undo this set's probes placed so far before failing.
                    for (name, id) in links {
                        if let Some(Ok(prog)) =
                            self.bpf.program_mut(name).map(<&mut UProbe>::try_from)
                        {
                            let _ = prog.detach(id);
                        }
                    }
                    return Err(kernel_error(
                        &format!(
                            "attaching a uprobe to {} at {:#x} in process {}",
                            p.function, p.addr, self.target.pid
                        ),
                        error_chain(&e),
                    ));
                }
            }
        }
        self.links.insert(set, links);
        Ok(())
    }

    /// Removes every probe of `set`.
    pub fn detach(&mut self, set: ProbeSet) -> Result<(), Error> {
        for (name, id) in self.links.remove(&set).unwrap_or_default() {
            let prog: &mut UProbe = self
                .bpf
                .program_mut(name)
                .expect("loaded in open")
                .try_into()
                .expect("a uprobe");
            prog.detach(id)
                .map_err(|e| Error::Bpf(format!("detaching {name}: {}", error_chain(&e))))?;
        }
        Ok(())
    }

    /// Waits up to `timeout` for events and returns those available.
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<Event>, Error> {
        let mut out = self.drain();
        if out.is_empty() {
            let mut pfd = libc::pollfd {
                fd: self.events.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            // EINTR (Ctrl-C) just ends the wait early.
            unsafe { libc::poll(&mut pfd, 1, ms) };
            out = self.drain();
        }
        Ok(out)
    }

    fn drain(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(item) = self.events.next() {
            if let Some(ev) = Event::parse(&item) {
                out.push(ev);
            }
        }
        out
    }

    /// Probe hits so far, summed over CPUs.
    pub fn counts(&self) -> Result<Counts, Error> {
        let map = self
            .bpf
            .map("weft_counts")
            .ok_or_else(|| Error::Bpf("BPF object has no weft_counts map".into()))?;
        let arr: PerCpuArray<_, u64> =
            PerCpuArray::try_from(map).map_err(|e| Error::Bpf(format!("weft_counts: {e}")))?;
        let get = |i: u32| -> u64 { arr.get(&i, 0).map(|v| v.iter().copied().sum()).unwrap_or(0) };
        Ok(Counts {
            create: get(0),
            exit: get(1),
            park: get(2),
            ready: get(3),
            dropped: get(4),
            bad_reads: get(5),
        })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
