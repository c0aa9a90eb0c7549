//! The one error type every parser returns: what went wrong and where.

use std::fmt;

/// A parse failure with its position in the input.
///
/// `offset` is a byte offset into the input as given (before any gzip
/// decompression for protobuf profiles, where it is the offset in the
/// decompressed bytes and the message says so). `line` is 1-based and only
/// set for text forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// 1-based line of the problem, for text forms.
    pub line: Option<usize>,
    /// What is wrong, in a sentence.
    pub message: String,
}

impl ParseError {
    pub(crate) fn at_line(line: usize, offset: usize, message: impl Into<String>) -> Self {
        ParseError {
            offset,
            line: Some(line),
            message: message.into(),
        }
    }

    pub(crate) fn at_byte(offset: usize, message: impl Into<String>) -> Self {
        ParseError {
            offset,
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {} (byte {}): {}", line, self.offset, self.message),
            None => write!(f, "byte {}: {}", self.offset, self.message),
        }
    }
}

impl std::error::Error for ParseError {}
