//! Line splitting for the text forms: CRLF endings and per-line log prefixes.
//!
//! Dumps often reach us through a logger, so each line may carry a prefix
//! such as `2024/01/02 15:04:05 ` (Go's `log` package) or
//! `I0102 15:04:05.123456   42 main.go:12] ` (glog/klog). The prefix style is
//! detected once, from the line holding the first goroutine header, and then
//! stripped from every line that has it. Lines without it pass unchanged,
//! because a logger prints its prefix only before the first line of a
//! multi-line message.

/// One line of input with its position.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line<'a> {
    /// 1-based line number.
    pub no: usize,
    /// Byte offset of `text` in the whole input.
    pub offset: usize,
    /// The line without its end of line and without a recognised log prefix.
    pub text: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prefix<'a> {
    None,
    /// Go's standard `log` package: date, time, optional micros, optional `file:line: `.
    StdLog,
    /// glog / klog: `Lmmdd hh:mm:ss.uuuuuu threadid file:line] `.
    Glog,
    /// The same literal text before every line (e.g. `log.New(w, "svc ", 0)`).
    Literal(&'a [u8]),
}

pub(crate) struct Lines<'a> {
    data: &'a [u8],
    pos: usize,
    no: usize,
    prefix: Prefix<'a>,
    /// Start of the 64-byte block `newlines` describes.
    block: usize,
    /// Bit i set: `data[block + i]` is a newline not yet consumed. Finding
    /// them 64 bytes at a time costs a fraction of a `memchr` call per
    /// line, and dump lines are short (~40 bytes).
    newlines: u64,
}

impl<'a> Lines<'a> {
    pub fn new(data: &'a [u8], prefix: Prefix<'a>) -> Self {
        Lines {
            data,
            pos: 0,
            no: 0,
            prefix,
            block: 0,
            newlines: newline_mask(data),
        }
    }

    /// Offset of the next newline, or the input length when there is none.
    #[inline]
    fn next_newline(&mut self) -> usize {
        loop {
            if self.newlines != 0 {
                let at = self.block + self.newlines.trailing_zeros() as usize;
                self.newlines &= self.newlines - 1;
                return at;
            }
            self.block += 64;
            if self.block >= self.data.len() {
                self.block = self.data.len();
                return self.data.len();
            }
            self.newlines = newline_mask(&self.data[self.block..]);
        }
    }
}

/// Newlines among the first 64 bytes of `data`, as bits.
#[inline]
fn newline_mask(data: &[u8]) -> u64 {
    match data.first_chunk::<64>() {
        Some(block) => newline_mask64(block),
        None => data
            .iter()
            .enumerate()
            .fold(0, |m, (i, &b)| m | ((b == b'\n') as u64) << i),
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn newline_mask64(block: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of x86_64; the four unaligned 16-byte loads stay
    // inside the 64-byte array.
    unsafe {
        let nl = _mm_set1_epi8(b'\n' as i8);
        let part = |i: usize| {
            let v = _mm_loadu_si128(block.as_ptr().add(i * 16) as *const __m128i);
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)) as u16 as u64
        };
        part(0) | part(1) << 16 | part(2) << 32 | part(3) << 48
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn newline_mask64(block: &[u8; 64]) -> u64 {
    block
        .iter()
        .enumerate()
        .fold(0, |m, (i, &b)| m | ((b == b'\n') as u64) << i)
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    #[inline]
    fn next(&mut self) -> Option<Line<'a>> {
        if self.pos >= self.data.len() {
            return None;
        }
        let start = self.pos;
        let end = self.next_newline();
        self.pos = end + 1;
        self.no += 1;
        let mut text = &self.data[start..end];
        if let [head @ .., b'\r'] = text {
            text = head;
        }
        let cut = prefix_len(self.prefix, text);
        Some(Line {
            no: self.no,
            offset: start + cut,
            text: &text[cut..],
        })
    }
}

/// Length of the recognised prefix at the start of `line`, 0 if none.
#[inline]
pub(crate) fn prefix_len(prefix: Prefix<'_>, line: &[u8]) -> usize {
    match prefix {
        Prefix::None => 0,
        Prefix::StdLog => stdlog_prefix(line).unwrap_or(0),
        Prefix::Glog => glog_prefix(line).unwrap_or(0),
        Prefix::Literal(p) => {
            if line.starts_with(p) {
                p.len()
            } else {
                0
            }
        }
    }
}

/// Finds the prefix style used before the first `goroutine N ` header line.
pub(crate) fn detect_prefix(data: &[u8]) -> Prefix<'_> {
    let Some(at) = find_header_start(data) else {
        return Prefix::None;
    };
    let line_start = data[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let before = &data[line_start..at];
    if before.is_empty() {
        return Prefix::None;
    }
    if stdlog_prefix(before) == Some(before.len()) {
        return Prefix::StdLog;
    }
    if glog_prefix(before) == Some(before.len()) {
        return Prefix::Glog;
    }
    // Accept a literal prefix only if it is short and not itself dump text.
    if before.len() <= 64 && !before.contains(&b'\t') {
        return Prefix::Literal(before);
    }
    Prefix::None
}

/// Offset of the first `goroutine <digit>` that looks like a dump header.
pub(crate) fn find_header_start(data: &[u8]) -> Option<usize> {
    const NEEDLE: &[u8] = b"goroutine ";
    let mut from = 0;
    while from + NEEDLE.len() < data.len() {
        let hay = &data[from..];
        let i = find(hay, NEEDLE)?;
        let at = from + i;
        let after = at + NEEDLE.len();
        if data.get(after).is_some_and(|b| b.is_ascii_digit()) {
            let mut j = after;
            while j < data.len() && data[j].is_ascii_digit() {
                j += 1;
            }
            if data[j..].starts_with(b" [") || data[j..].starts_with(b" gp=") {
                return Some(at);
            }
        }
        from = at + 1;
    }
    None
}

/// Substring search (SIMD-accelerated by `memchr`).
#[inline]
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

fn digits(s: &[u8], at: usize, n: usize) -> bool {
    s.len() >= at + n && s[at..at + n].iter().all(u8::is_ascii_digit)
}

/// `2024/01/02 15:04:05[.123456] [file.go:12: ]`
fn stdlog_prefix(s: &[u8]) -> Option<usize> {
    if !(digits(s, 0, 4)
        && s.get(4) == Some(&b'/')
        && digits(s, 5, 2)
        && s.get(7) == Some(&b'/')
        && digits(s, 8, 2))
    {
        return None;
    }
    let mut i = 10;
    if s.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    if digits(s, i, 2)
        && s.get(i + 2) == Some(&b':')
        && digits(s, i + 3, 2)
        && s.get(i + 5) == Some(&b':')
        && digits(s, i + 6, 2)
    {
        i += 8;
        if s.get(i) == Some(&b'.') {
            i += 1;
            while s.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if s.get(i) != Some(&b' ') {
            return None;
        }
        i += 1;
    }
    // Optional `file.go:NN: ` from log.Lshortfile / Llongfile.
    let rest = &s[i..];
    if let Some(sp) = rest.iter().position(|&b| b == b' ') {
        let tok = &rest[..sp];
        if tok.len() > 4 && tok.ends_with(b":") {
            let body = &tok[..tok.len() - 1];
            if let Some(c) = body.iter().rposition(|&b| b == b':') {
                if c + 1 < body.len()
                    && body[c + 1..].iter().all(u8::is_ascii_digit)
                    && body[..c].ends_with(b".go")
                {
                    i += sp + 1;
                }
            }
        }
    }
    Some(i)
}

/// `I0102 15:04:05.123456   12345 file.go:12] `
fn glog_prefix(s: &[u8]) -> Option<usize> {
    if !matches!(s.first(), Some(b'I' | b'W' | b'E' | b'F'))
        || !digits(s, 1, 4)
        || s.get(5) != Some(&b' ')
    {
        return None;
    }
    if !(digits(s, 6, 2)
        && s.get(8) == Some(&b':')
        && digits(s, 9, 2)
        && s.get(11) == Some(&b':')
        && digits(s, 12, 2))
    {
        return None;
    }
    let close = find(&s[14..], b"] ")? + 14;
    // Everything between the time and `] ` must be `.micros spaces thread file:line`.
    if s[14..close].contains(&b'\t') || close - 14 > 256 {
        return None;
    }
    Some(close + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(stdlog_prefix(b"2024/01/02 15:04:05 goroutine"), Some(20));
        assert_eq!(
            stdlog_prefix(b"2024/01/02 15:04:05.123456 main.go:12: goroutine"),
            Some(39)
        );
        assert_eq!(
            glog_prefix(b"I0102 15:04:05.123456   12345 main.go:12] goroutine"),
            Some(42)
        );
        assert_eq!(stdlog_prefix(b"goroutine 1 [running]:"), None);
    }

    #[test]
    fn crlf_and_offsets() {
        let v: Vec<_> = Lines::new(b"a\r\nbc\n\nd", Prefix::None)
            .map(|l| (l.no, l.offset, l.text.to_vec()))
            .collect();
        assert_eq!(
            v,
            vec![
                (1, 0, b"a".to_vec()),
                (2, 3, b"bc".to_vec()),
                (3, 6, vec![]),
                (4, 7, b"d".to_vec())
            ]
        );
    }

    /// Lines across 64-byte block edges, long lines and a missing last newline.
    #[test]
    fn lines_across_blocks() {
        let mut text = Vec::new();
        let mut want = Vec::new();
        for n in 0..300usize {
            let line = vec![b'a' + (n % 26) as u8; (n * 7) % 150];
            want.push(line.clone());
            text.extend_from_slice(&line);
            text.push(b'\n');
        }
        text.extend_from_slice(b"tail");
        want.push(b"tail".to_vec());
        let got: Vec<Vec<u8>> = Lines::new(&text, Prefix::None)
            .map(|l| l.text.to_vec())
            .collect();
        assert_eq!(got, want);
        let exact: Vec<_> = Lines::new(&[b'\n'; 64], Prefix::None).collect();
        assert_eq!(exact.len(), 64);
    }
}
