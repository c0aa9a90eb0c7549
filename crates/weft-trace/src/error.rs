//! The one error type: what went wrong, and where in the input.
use std::fmt;

/// A decoding error. `message` starts with the same words Go's reader uses
/// for the same problem, so callers (and the golden tests) can match on it;
/// `offset` and `generation` say where it happened when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What went wrong.
    pub message: String,
    /// Absolute byte offset in the trace of the batch or event involved.
    pub offset: Option<u64>,
    /// Generation number being decoded.
    pub generation: Option<u64>,
}

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            offset: None,
            generation: None,
        }
    }
    pub(crate) fn at(mut self, offset: u64) -> Error {
        if self.offset.is_none() {
            self.offset = Some(offset);
        }
        self
    }
    pub(crate) fn in_gen(mut self, generation: u64) -> Error {
        if self.generation.is_none() && generation != 0 {
            self.generation = Some(generation);
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match (self.offset, self.generation) {
            (Some(o), Some(g)) => write!(f, " (at byte offset {o}, generation {g})"),
            (Some(o), None) => write!(f, " (at byte offset {o})"),
            (None, Some(g)) => write!(f, " (in generation {g})"),
            (None, None) => Ok(()),
        }
    }
}

impl std::error::Error for Error {}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;
