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
