//! Where the probes go: runtime functions found in the target's pclntab,
//! turned into file offsets (uprobes are placed by file and offset).

use iced_x86::{Decoder, DecoderOptions, Mnemonic};
use object::{Object, ObjectSegment};
use weft_attach::{GoExecutable, Layout};

use crate::Error;

/// A group of probes attached and detached together, each with its own cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeSet {
    /// Goroutine creation (RETs of `runtime.newproc1`) and exit (entry of
    /// `runtime.goexit1`): fire once per goroutine, cheap enough to leave on.
    Lifecycle,
    /// `runtime.gopark` and `runtime.ready` entries: fire on every block
    /// and wake-up, so on a channel-heavy program they cost throughput; for
    /// bursts of bounded length.
    ParkReady,
}

impl ProbeSet {
    pub fn name(self) -> &'static str {
        match self {
            ProbeSet::Lifecycle => "lifecycle",
            ProbeSet::ParkReady => "park-ready",
        }
    }
}

/// One uprobe to place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbePoint {
    pub set: ProbeSet,
    /// The BPF program (in `bpf/goprobes.bpf.c`) that runs there.
    pub program: &'static str,
    /// The runtime function, for messages.
    pub function: &'static str,
    /// Link-time address of the probed instruction.
    pub addr: u64,
    /// Its offset in the executable file.
    pub file_offset: u64,
}

/// A Go process to probe: its parsed executable and the probe points.
pub struct Target {
    pub pid: u32,
    /// `/proc/PID/exe`, the path the uprobes are placed on.
    pub exe_path: String,
    pub exe: GoExecutable,
    pub points: Vec<ProbePoint>,
    /// Added to link-time addresses to get run-time ones (PIE builds).
    pub bias: u64,
    /// The runtime's wait reason strings, by number.
    pub wait_reasons: Vec<String>,
    /// Offset of `lock` in the runtime's `hchan`, to turn the lock a
    /// channel wait parks on into the channel's address.
    pub hchan_lock_offset: Option<u64>,
    /// Offset of `curg` in the runtime's `m`, to name the goroutine that
    /// readies another from the scheduler's stack.
    pub m_curg_offset: Option<u64>,
}

/// `m.curg`'s offset per Go minor version (amd64), read from each
/// toolchain's DWARF; the tests check the wakers it gives.
fn m_curg_offset(go_version: &str) -> Option<u64> {
    match go_minor(go_version)? {
        22..=24 => Some(192),
        25..=27 => Some(184),
        _ => None,
    }
}

fn go_minor(go_version: &str) -> Option<u32> {
    go_version
        .strip_prefix("go1.")?
        .split(['.', '-', ' '])
        .next()?
        .parse()
        .ok()
}

/// `hchan.lock`'s offset per Go minor version (amd64), read from each
/// toolchain's DWARF; the tests check it (a channel's address printed by
/// the program).
fn hchan_lock_offset(go_version: &str) -> Option<u64> {
    match go_minor(go_version)? {
        22 => Some(88),
        // Go 1.23 added hchan.timer.
        23 | 24 => Some(96),
        // Go 1.25 added hchan.bubble (testing/synctest).
        25..=27 => Some(104),
        _ => None,
    }
}

impl Target {
    /// Reads and parses `/proc/PID/exe` and finds every probe point.
    pub fn open(pid: u32) -> Result<Target, Error> {
        let exe_path = format!("/proc/{pid}/exe");
        let bytes = std::fs::read(&exe_path).map_err(|e| crate::perms::exe_read_error(pid, e))?;
        let exe = GoExecutable::parse(&bytes)
            .map_err(|e| Error::Target(format!("process {pid}: {e}")))?;
        let file = object::File::parse(&*bytes)
            .map_err(|e| Error::Target(format!("process {pid}: {e}")))?;
        let segments: Vec<(u64, u64, u64)> = file
            .segments()
            .filter_map(|s| {
                let (off, size) = s.file_range();
                Some((s.address(), off, size)).filter(|_| size > 0)
            })
            .collect();
        let to_offset = |addr: u64| {
            segments
                .iter()
                .find(|&&(va, _, size)| addr >= va && addr - va < size)
                .map(|&(va, off, _)| addr - va + off)
        };
        let func = |name: &'static str| {
            exe.function(name).ok_or_else(|| {
                Error::Target(format!(
                    "process {pid} ({}): no function {name} in its pclntab",
                    exe.go_version()
                ))
            })
        };
        let mut sites: Vec<(ProbeSet, &'static str, &'static str, u64)> = Vec::new();
        let (np_entry, np_end) = func("runtime.newproc1")?;
        let code = exe
            .bytes_at(np_entry, (np_end - np_entry) as usize)
            .ok_or_else(|| Error::Target("runtime.newproc1's code is not in the file".into()))?;
        let rets = find_rets(code, np_entry, |pc| exe.sp_delta(pc))
            .map_err(|e| Error::Target(format!("process {pid}: runtime.newproc1: {e}")))?;
        for r in rets {
            sites.push((
                ProbeSet::Lifecycle,
                "weft_newproc1_ret",
                "runtime.newproc1 (RET)",
                r,
            ));
        }
        let entry = |name: &'static str| func(name).map(|(e, _)| e);
        sites.push((
            ProbeSet::Lifecycle,
            "weft_goexit1",
            "runtime.goexit1",
            entry("runtime.goexit1")?,
        ));
        sites.push((
            ProbeSet::ParkReady,
            "weft_gopark",
            "runtime.gopark",
            entry("runtime.gopark")?,
        ));
        sites.push((
            ProbeSet::ParkReady,
            "weft_ready",
            "runtime.ready",
            entry("runtime.ready")?,
        ));
        let mut points = Vec::new();
        for (set, program, function, addr) in sites {
            let file_offset = to_offset(addr).ok_or_else(|| {
                Error::Target(format!("{function} at {addr:#x} is in no loadable segment"))
            })?;
            points.push(ProbePoint {
                set,
                program,
                function,
                addr,
                file_offset,
            });
        }
        let bias = if file.kind() == object::ObjectKind::Dynamic {
            load_bias(pid, segments.iter().map(|s| s.0).min().unwrap_or(0))
        } else {
            0
        };
        Ok(Target {
            pid,
            exe_path,
            wait_reasons: exe.wait_reasons(),
            hchan_lock_offset: hchan_lock_offset(exe.go_version()),
            m_curg_offset: m_curg_offset(exe.go_version()),
            exe,
            points,
            bias,
        })
    }

    pub fn layout(&self) -> &Layout {
        self.exe.layout()
    }

    /// The function containing run-time address `pc` ("?" when unknown).
    pub fn function_name(&self, pc: u64) -> &str {
        self.exe
            .function_at(pc.wrapping_sub(self.bias))
            .map(|(n, _)| n)
            .unwrap_or("?")
    }
}

impl Target {
    /// The name of wait reason number `n` ("?" when unknown).
    pub fn wait_reason(&self, n: u64) -> &str {
        self.wait_reasons
            .get(n as usize)
            .map(String::as_str)
            .unwrap_or("?")
    }

    /// For a park on a channel send or receive, the channel's address
    /// (what a `%p` of the channel prints in the program).
    pub fn parked_channel(&self, ev: &crate::Event) -> Option<u64> {
        if ev.kind != crate::EventKind::Park || ev.pc == 0 {
            return None;
        }
        match self.wait_reason(ev.aux) {
            "chan receive" | "chan send" => Some(ev.pc.checked_sub(self.hchan_lock_offset?)?),
            _ => None,
        }
    }
}

/// A PIE's load bias: where its first mapping starts minus its lowest vaddr.
fn load_bias(pid: u32, lowest_vaddr: u64) -> u64 {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), _, Some(off)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let path = f.nth(2);
        if off.trim_start_matches('0').is_empty() && exe.as_deref().and_then(|p| p.to_str()) == path
        {
            if let Some(start) = range.split('-').next() {
                if let Ok(start) = u64::from_str_radix(start, 16) {
                    return start.wrapping_sub(lowest_vaddr & !0xfff);
                }
            }
        }
    }
    0
}

/// The addresses of the RET instructions in a function's machine code
/// (`code` starts at link-time address `entry`). The code is decoded from
/// the entry in order; a uprobe placed mid-instruction would corrupt the
/// target, so every RET must also sit where the pclntab says the frame is
/// gone (`sp_delta` 0), and any byte that does not decode is an error.
pub fn find_rets(
    code: &[u8],
    entry: u64,
    sp_delta: impl Fn(u64) -> Option<i32>,
) -> Result<Vec<u64>, String> {
    let mut dec = Decoder::with_ip(64, code, entry, DecoderOptions::NONE);
    let mut rets = Vec::new();
    while dec.can_decode() {
        let ins = dec.decode();
        if ins.is_invalid() {
            // Go pads functions with INT3; past the last instruction, bytes
            // may not decode. Only the code before the padding counts.
            if code[(ins.ip() - entry) as usize..]
                .iter()
                .all(|&b| b == 0xcc)
            {
                break;
            }
            return Err(format!(
                "cannot decode the instruction at {:#x} (offset {})",
                ins.ip(),
                ins.ip() - entry
            ));
        }
        if ins.mnemonic() == Mnemonic::Ret {
            match sp_delta(ins.ip()) {
                Some(0) => rets.push(ins.ip()),
                d => {
                    return Err(format!(
                        "RET at {:#x} where the pclntab says the frame is {d:?} bytes: refusing to probe",
                        ins.ip()
                    ))
                }
            }
        }
    }
    if rets.is_empty() {
        return Err("no RET instruction found".into());
    }
    Ok(rets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rets_are_found_and_checked_against_the_frame() {
        // sub rsp,0x18; mov eax,1; add rsp,0x18; ret; nop; ret; int3 int3
        let code = [
            0x48, 0x83, 0xec, 0x18, 0xb8, 0x01, 0, 0, 0, 0x48, 0x83, 0xc4, 0x18, 0xc3, 0x90, 0xc3,
            0xcc, 0xcc,
        ];
        let rets = find_rets(&code, 0x1000, |_| Some(0)).unwrap();
        assert_eq!(rets, vec![0x100d, 0x100f]);
        // A RET where the frame is still there is refused.
        let err =
            find_rets(&code, 0x1000, |pc| Some(if pc == 0x100f { 8 } else { 0 })).unwrap_err();
        assert!(err.contains("0x100f"), "{err}");
        // 0xc3 inside an immediate is not a RET.
        let code = [0xb8, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3];
        assert_eq!(find_rets(&code, 0, |_| Some(0)).unwrap(), vec![5]);
        assert!(find_rets(&[0x90, 0x90], 0, |_| Some(0)).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_rets_are_real() {
        // xorshift: reproducible pseudo-random machine code.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..5000 {
            let len = (next() % 300) as usize;
            let mut code: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Sprinkle RETs so some runs find them.
            for _ in 0..len / 16 {
                let i = next() as usize % len.max(1);
                if i < code.len() {
                    code[i] = 0xc3;
                }
            }
            if let Ok(rets) = find_rets(&code, 0x40_0000, |_| Some(0)) {
                for r in rets {
                    let at = &code[(r - 0x40_0000) as usize..];
                    let ins = Decoder::with_ip(64, at, r, DecoderOptions::NONE).decode();
                    assert_eq!(ins.mnemonic(), Mnemonic::Ret, "{at:x?}");
                }
            }
            let _ = crate::events::Event::parse(&code);
        }
    }
}
