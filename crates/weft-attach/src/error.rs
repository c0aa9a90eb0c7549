//! Errors of attaching, each ending with what to do about it.
use std::fmt;

/// Why a snapshot could not be taken.
#[derive(Debug)]
pub enum AttachError {
    /// No process with this id (or it exited while being read).
    NoProcess { pid: u32 },
    /// The kernel refused to let us read the target's memory.
    Permission { pid: u32, detail: String },
    /// The target's executable is not a Go program we can read.
    NotGo { pid: u32, exe: String, why: String },
    /// A Go version or architecture weft does not know.
    Unsupported { pid: u32, what: String },
    /// The target's memory did not look like what the binary says it should.
    Inconsistent { pid: u32, what: String },
    /// Any other I/O failure, with what we were doing.
    Io {
        pid: u32,
        what: String,
        err: std::io::Error,
    },
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachError::NoProcess { pid } => write!(f, "pid {pid}: no such process (it may have exited); check the pid with `ps -p {pid}`"),
            AttachError::Permission { pid, detail } => write!(f, "pid {pid}: not allowed to read its memory: {detail}"),
            AttachError::NotGo { pid, exe, why } => write!(f, "pid {pid} ({exe}) is not a Go program weft can read: {why}"),
            AttachError::Unsupported { pid, what } => write!(f, "pid {pid}: unsupported: {what}"),
            AttachError::Inconsistent { pid, what } => write!(f, "pid {pid}: memory did not match the binary: {what}; the process may be exiting, try again"),
            AttachError::Io { pid, what, err } => write!(f, "pid {pid}: {what}: {err}"),
        }
    }
}

impl std::error::Error for AttachError {}

/// Builds the permission error with the fix that applies on this machine.
pub(crate) fn permission_error(pid: u32, os_err: &std::io::Error) -> AttachError {
    let mut fixes = Vec::new();
    let euid = unsafe { libc::geteuid() };
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .map(|s| s.trim().to_string());
    let has_cap = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("CapEff:"))
                .map(|l| l[7..].trim().to_string())
        })
        .and_then(|hex| u64::from_str_radix(&hex, 16).ok())
        .map(|caps| caps & (1 << 19) != 0); // CAP_SYS_PTRACE
    let in_container = std::path::Path::new("/.dockerenv").exists()
        || std::path::Path::new("/run/.containerenv").exists()
        || std::fs::read_to_string("/proc/1/cgroup")
            .map(|s| s.contains("docker") || s.contains("kubepods") || s.contains("containerd"))
            .unwrap_or(false);
    match scope.as_deref() {
        Some("3") => fixes.push("/proc/sys/kernel/yama/ptrace_scope is 3: no process may read another's memory until reboot; boot with a lower value".to_string()),
        Some("2") if has_cap != Some(true) => fixes.push("/proc/sys/kernel/yama/ptrace_scope is 2: only processes with CAP_SYS_PTRACE may attach; run weft with sudo (or `setcap cap_sys_ptrace+ep $(which weft)`)".to_string()),
        Some("1") if euid != 0 && has_cap != Some(true) => fixes.push("/proc/sys/kernel/yama/ptrace_scope is 1: only a parent may attach to its children; run weft with sudo, or `sudo sysctl kernel.yama.ptrace_scope=0`".to_string()),
        Some(s) => fixes.push(format!("/proc/sys/kernel/yama/ptrace_scope is {s}")),
        None => {}
    }
    if euid != 0 && has_cap != Some(true) {
        fixes.push("you are not root and lack CAP_SYS_PTRACE: if the target belongs to another user, run weft with sudo".to_string());
    }
    if in_container {
        fixes.push("this looks like a container: run it with `--cap-add SYS_PTRACE` (docker/podman) or add SYS_PTRACE to the pod's securityContext capabilities, and share the target's pid namespace".to_string());
    }
    if euid == 0 && has_cap == Some(false) {
        fixes.push("you are root but CAP_SYS_PTRACE is not in your effective capabilities (a restricted container?): add SYS_PTRACE".to_string());
    }
    AttachError::Permission {
        pid,
        detail: format!("{os_err}. {}", fixes.join("; ")),
    }
}

/// Maps an OS error while touching `/proc/PID/...` or the target's memory.
pub(crate) fn os_error(pid: u32, what: &str, err: std::io::Error) -> AttachError {
    match err.raw_os_error() {
        Some(libc::ESRCH) => AttachError::NoProcess { pid },
        Some(libc::EPERM) | Some(libc::EACCES) => permission_error(pid, &err),
        _ if err.kind() == std::io::ErrorKind::NotFound
            && !std::path::Path::new(&format!("/proc/{pid}")).exists() =>
        {
            AttachError::NoProcess { pid }
        }
        _ if err.kind() == std::io::ErrorKind::PermissionDenied => permission_error(pid, &err),
        _ => AttachError::Io {
            pid,
            what: what.to_string(),
            err,
        },
    }
}
