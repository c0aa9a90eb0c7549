//! Errors of acquiring a snapshot, each saying what happened and what to do next.

use std::fmt;
use std::time::Duration;

/// Why a snapshot could not be had.
#[derive(Debug)]
pub enum SourceError {
    /// The source argument makes no sense.
    BadSource { arg: String, why: String },
    /// Nothing answered at the address (refused, reset, unreachable).
    Connect { url: String, message: String },
    /// The target did not answer in time.
    Timeout { url: String, after: Duration },
    /// The target answered with a non-200 status.
    Status {
        url: String,
        code: u16,
        hint: String,
    },
    /// The answer or file is larger than the cap; reading stopped there.
    TooLarge { what: String, limit: u64 },
    /// Reading a file or stdin failed.
    Io { what: String, err: std::io::Error },
    /// The bytes are not a goroutine dump or profile.
    Parse {
        what: String,
        err: weft_profile::ParseError,
    },
    /// Reading the process by pid failed.
    Attach(weft_attach::AttachError),
    /// A `debug=2` request was refused to protect the target.
    DetailRefused { reason: String },
}

impl SourceError {
    /// True for errors that mean the target is gone (refused, reset): a
    /// later success means it came back, possibly as a new process.
    pub fn is_disconnect(&self) -> bool {
        matches!(
            self,
            SourceError::Connect { .. }
                | SourceError::Attach(weft_attach::AttachError::NoProcess { .. })
        )
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::BadSource { arg, why } => write!(f, "source `{arg}`: {why}"),
            SourceError::Connect { url, message } => write!(
                f,
                "cannot reach {url}: {message}; is the program running and serving net/http/pprof on that address?"
            ),
            SourceError::Timeout { url, after } => write!(
                f,
                "{url} did not answer within {:.1}s; the target may be overloaded (raise --timeout, or poll less often with --interval)",
                after.as_secs_f64()
            ),
            SourceError::Status { url, code, hint } => write!(f, "{url} answered HTTP {code}; {hint}"),
            SourceError::TooLarge { what, limit } => write!(
                f,
                "{what} is larger than {limit} bytes; stopped reading there (raise --max-body if this is expected)"
            ),
            SourceError::Io { what, err } => write!(f, "{what}: {err}"),
            SourceError::Parse { what, err } => write!(f, "cannot read {what}: {err}"),
            SourceError::Attach(e) => write!(f, "{e}"),
            SourceError::DetailRefused { reason } => write!(f, "full goroutine dump refused: {reason}"),
        }
    }
}

// The causes are part of each message already; no `source()` chain, so
// `anyhow`'s `{:#}` does not print them twice.
impl std::error::Error for SourceError {}
