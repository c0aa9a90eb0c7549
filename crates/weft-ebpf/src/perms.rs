//! Privilege checks with the exact fix in every message, and the Ctrl-C /
//! SIGTERM flag that lets a session end (and drop its probes) cleanly.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::Error;

const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_PTRACE: u32 = 19;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

fn effective_caps() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0)
}

fn sysctl(name: &str) -> Option<i64> {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn setcap_fix() -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "weft".into());
    format!("run weft as root (sudo), or give it the capabilities once with: sudo setcap cap_bpf,cap_perfmon,cap_sys_ptrace+ep {exe}")
}

/// Checks, before touching the kernel, that this process may load BPF
/// programs and open uprobe perf events; the error names what is missing
/// and the command that fixes it.
pub fn preflight() -> Result<(), Error> {
    if !crate::COMPILED_IN {
        return Err(Error::NotCompiledIn);
    }
    let caps = effective_caps();
    let has = |c: u32| caps & (1u64 << c) != 0;
    let admin = has(CAP_SYS_ADMIN);
    let mut missing = Vec::new();
    if !(admin || has(CAP_BPF)) {
        missing.push("CAP_BPF (to load BPF programs)");
    }
    if !(admin || has(CAP_PERFMON)) {
        missing.push("CAP_PERFMON (to open uprobe perf events)");
    }
    if !missing.is_empty() {
        // Neither sysctl can stand in for the capabilities: say so, with
        // their values, so nobody goes down that path.
        let value = |n: &str| {
            sysctl(n)
                .map(|v| v.to_string())
                .unwrap_or_else(|| "unknown".into())
        };
        return Err(Error::Permission(format!(
            "weft's eBPF mode needs {}. Fix: {}. (kernel.unprivileged_bpf_disabled={} and kernel.perf_event_paranoid={} do not matter here: uprobe programs need these capabilities at any setting.)",
            missing.join(" and "),
            setcap_fix(),
            value("kernel.unprivileged_bpf_disabled"),
            value("kernel.perf_event_paranoid"),
        )));
    }
    if let Ok(l) = std::fs::read_to_string("/sys/kernel/security/lockdown") {
        if l.contains("[confidentiality]") {
            return Err(Error::Permission(
                "the kernel is in lockdown=confidentiality mode, which forbids BPF programs from reading process memory: boot without lockdown=confidentiality (or with lockdown=integrity)".into(),
            ));
        }
    }
    // Older kernels charge BPF maps to RLIMIT_MEMLOCK; raising it is harmless.
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) };
    Ok(())
}

/// The error for a failed read of `/proc/PID/exe`.
pub(crate) fn exe_read_error(pid: u32, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::Target(format!("no process {pid}")),
        std::io::ErrorKind::PermissionDenied if effective_caps() & (1 << CAP_SYS_PTRACE) != 0 => {
            Error::Permission(format!(
                "cannot read /proc/{pid}/exe: permission denied even with CAP_SYS_PTRACE (the process belongs to another user namespace, or a security module forbids it): run weft in the target's namespace, as its owner"
            ))
        }
        std::io::ErrorKind::PermissionDenied => Error::Permission(format!(
            "cannot read /proc/{pid}/exe: permission denied (another user's process needs CAP_SYS_PTRACE). Fix: {}",
            setcap_fix()
        )),
        _ => Error::Target(format!("cannot read /proc/{pid}/exe: {e}")),
    }
}

/// Maps a kernel refusal during load/attach to a permission error.
#[cfg_attr(not(weft_bpf), allow(dead_code))]
pub(crate) fn kernel_error(what: &str, msg: String) -> Error {
    let lower = msg.to_lowercase();
    if lower.contains("operation not permitted") || lower.contains("permission denied") {
        Error::Permission(format!("{what}: {msg}: {}", setcap_fix()))
    } else {
        Error::Bpf(format!("{what}: {msg}"))
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Makes SIGINT and SIGTERM set a flag ([`stop_requested`]) instead of
/// killing the process, so the caller's loop ends and its `Session` is
/// dropped normally. (Had weft died instead, the kernel would still remove
/// the probes when it closes the descriptors.)
pub fn install_stop_handler() {
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
    }
}

/// Whether SIGINT or SIGTERM arrived since [`install_stop_handler`].
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}
