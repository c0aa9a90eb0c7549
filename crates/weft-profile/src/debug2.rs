//! `debug=2` goroutine dumps and panic / fatal-error tracebacks.
//!
//! Both are the runtime's traceback text: blocks separated by blank lines,
//! each opening with a header
//!
//! ```text
//! goroutine 42 [gp=0x.. m=3 mp=0x..] [chan receive (nil chan), 3 minutes, locked to thread] {k: v}:
//! main.worker(0xc000010000, {0x4b2f20?, 0x5a0e30?})
//! 	/src/main.go:20 +0x1f [fp=0x.. sp=0x.. pc=0x..]
//! ...2 frames elided...
//! created by main.main in goroutine 1
//! 	/src/main.go:12 +0x25
//! [originating from goroutine 7]:
//! ...
//! ```
//!
//! Everything outside such blocks (panic messages, `fatal error: ...`,
//! `runtime stack:` system stacks, register dumps, `exit status 2`) is
//! skipped. A malformed header is an error; a truncated last block is kept
//! with what it has.

use std::collections::BTreeMap;

use weft_model::{Frame, Record};

use crate::infer::classify;
use crate::lines::{detect_prefix, Lines, Prefix};
use crate::strings::Interner;
use crate::ParseError;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between goroutine blocks: skip noise.
    Outside,
    /// Inside a goroutine's own stack.
    Goroutine,
    /// Inside an `[originating from goroutine N]:` ancestor stack: skipped.
    Ancestor,
}

/// Where the next `\tfile:line` line belongs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    Nothing,
    Frame,
    CreatedBy,
}

/// Inputs above this size are split at goroutine boundaries and parsed on
/// several threads (a 100k-goroutine dump is ~60 MB).
const PARALLEL_MIN: usize = 4 << 20;

pub(crate) fn parse(input: &[u8], threads: usize) -> Result<Vec<Record>, ParseError> {
    let prefix = detect_prefix(input);
    let threads = match threads {
        0 => std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4),
        n => n,
    };
    // Log-prefixed dumps are rare and small; keep them on the simple path.
    if input.len() < PARALLEL_MIN || threads < 2 || prefix != Prefix::None {
        let (records, saw_header) = parse_chunk(input, prefix)?;
        return if saw_header {
            Ok(records)
        } else {
            Err(no_header())
        };
    }
    let bounds = split_points(input, threads);
    let results: Vec<Result<(Vec<Record>, bool), ParseError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .map(|w| {
                let chunk = &input[w[0]..w[1]];
                scope.spawn(move || parse_chunk(chunk, Prefix::None))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(ParseError::at_byte(
                        0,
                        "internal error: parser thread panicked",
                    ))
                })
            })
            .collect()
    });
    let mut all = Vec::new();
    let mut saw_header = false;
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok((mut recs, saw)) => {
                saw_header |= saw;
                if all.is_empty() {
                    all = recs;
                } else {
                    all.append(&mut recs);
                }
            }
            Err(mut e) => {
                // Make the chunk-relative position absolute.
                let start = bounds[i];
                if let Some(line) = e.line.as_mut() {
                    *line += memchr::memchr_iter(b'\n', &input[..start]).count();
                }
                e.offset += start;
                return Err(e);
            }
        }
    }
    if saw_header {
        Ok(all)
    } else {
        Err(no_header())
    }
}

fn no_header() -> ParseError {
    ParseError::at_byte(0, "no goroutine header (`goroutine N [status]:`) found")
}

/// Chunk boundaries: `0`, then the start of a header line that follows a
/// blank line near each `len * k / n`, then `len`.
fn split_points(input: &[u8], n: usize) -> Vec<usize> {
    let mut points = vec![0];
    for k in 1..n {
        let from = (input.len() * k / n).max(*points.last().unwrap_or(&0));
        if let Some(i) = crate::lines::find(&input[from..], b"\n\ngoroutine ") {
            let at = from + i + 2;
            if at > *points.last().unwrap_or(&0) {
                points.push(at);
            }
        }
    }
    points.push(input.len());
    points
}

/// Parses one run of whole blocks; returns the records and whether any header was seen.
fn parse_chunk(input: &[u8], prefix: Prefix<'_>) -> Result<(Vec<Record>, bool), ParseError> {
    // Rough guess (dumps run at a few hundred bytes per goroutine) to avoid regrowing.
    let mut records = Vec::with_capacity((input.len() / 1024).min(1 << 20));
    // Frames are collected here and copied out at the exact size.
    let mut stack: Vec<Frame> = Vec::with_capacity(64);
    let mut interner = Interner::default();
    let mut state = State::Outside;
    let mut awaiting = Awaiting::Nothing;
    let mut cur = Record::default();
    let mut saw_header = false;

    for line in Lines::new(input, prefix) {
        let t = line.text;
        if t.is_empty() {
            if state != State::Outside {
                finish(&mut records, &mut cur, &mut stack);
            }
            state = State::Outside;
            awaiting = Awaiting::Nothing;
            continue;
        }
        if t.starts_with(b"goroutine ") && is_header_start(t) {
            if state != State::Outside {
                finish(&mut records, &mut cur, &mut stack);
            }
            cur = parse_header(t)
                .map_err(|(col, msg)| ParseError::at_line(line.no, line.offset + col, msg))?;
            saw_header = true;
            state = State::Goroutine;
            awaiting = Awaiting::Nothing;
            continue;
        }
        match state {
            State::Outside | State::Ancestor => {}
            State::Goroutine => {
                if t[0] == b'\t' {
                    let body = &t[1..];
                    if body.starts_with(b"goroutine running on other thread") {
                        continue;
                    }
                    let target = match awaiting {
                        Awaiting::Frame => stack.last_mut(),
                        Awaiting::CreatedBy => cur.created_by.as_mut(),
                        Awaiting::Nothing => None,
                    };
                    if let Some(frame) = target {
                        fill_file_line(frame, body, &mut interner);
                    }
                    awaiting = Awaiting::Nothing;
                } else if let Some(rest) = t.strip_prefix(b"created by ") {
                    let (func, goid) = match find_sub(rest, b" in goroutine ") {
                        Some(i) => (&rest[..i], parse_u64(&rest[i + 14..])),
                        None => (rest, None),
                    };
                    cur.created_by = Some(Frame {
                        func: interner.get(func),
                        ..Frame::default()
                    });
                    cur.creator_id = goid;
                    awaiting = Awaiting::CreatedBy;
                } else if t.starts_with(b"...") && t.ends_with(b"...") {
                    // `...additional frames elided...` or `...N frames elided...`
                    cur.frames_elided = true;
                    awaiting = Awaiting::Nothing;
                } else if t.starts_with(b"[originating from goroutine ") {
                    state = State::Ancestor;
                } else if let Some(func) = frame_func(t) {
                    stack.push(Frame {
                        func: interner.get(func),
                        ..Frame::default()
                    });
                    awaiting = Awaiting::Frame;
                } else if is_traceback_diagnostic(t) {
                    // The runtime's own notes inside a traceback (cgo frames it
                    // cannot name, unwinder complaints and their stack hexdumps):
                    // part of the block, not frames.
                    awaiting = Awaiting::Nothing;
                } else {
                    // Something else interrupted the block (a register dump
                    // printed without a blank line, interleaved log output).
                    finish(&mut records, &mut cur, &mut stack);
                    state = State::Outside;
                    awaiting = Awaiting::Nothing;
                }
            }
        }
    }
    if state != State::Outside {
        finish(&mut records, &mut cur, &mut stack);
    }
    Ok((records, saw_header))
}

fn is_traceback_diagnostic(t: &[u8]) -> bool {
    t.starts_with(b"non-Go function")
        || t.starts_with(b"runtime: ")
        || t.starts_with(b"stack: frame={")
        || t.starts_with(b"0x")
        || t.starts_with(b"!!")
}

#[inline]
fn finish(records: &mut Vec<Record>, cur: &mut Record, stack: &mut Vec<Frame>) {
    let mut rec = std::mem::take(cur);
    rec.stack = stack.drain(..).collect();
    records.push(rec);
}

/// `goroutine <digits>` followed by ` [` or ` gp=`: a header, which must then parse.
fn is_header_start(t: &[u8]) -> bool {
    let rest = &t[10..];
    let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    n > 0
        && (rest[n..].starts_with(b" [")
            || rest[n..].starts_with(b" gp=")
            || rest[n..].starts_with(b" m="))
}

/// Parses a header line; errors are (column, message).
fn parse_header(t: &[u8]) -> Result<Record, (usize, String)> {
    let mut i = 10;
    let id_start = i;
    while i < t.len() && t[i].is_ascii_digit() {
        i += 1;
    }
    let id =
        parse_u64(&t[id_start..i]).ok_or((id_start, "goroutine id out of range".to_string()))?;
    // ` gp=0x.. m=N mp=0x..` (crash tracebacks and GOTRACEBACK=system).
    while t[i..].starts_with(b" gp=") || t[i..].starts_with(b" m=") || t[i..].starts_with(b" mp=") {
        i += 1;
        while i < t.len() && t[i] != b' ' {
            i += 1;
        }
    }
    if !t[i..].starts_with(b" [") {
        return Err((i, "expected ` [status]` after the goroutine id".into()));
    }
    i += 2;
    let mut rec = Record {
        count: 1,
        ids: vec![id],
        ..Record::default()
    };
    // The status runs to `]`, or (Go 1.26) to ` labels:{...}` inside the brackets.
    let mut close = i;
    let mut labels_at = None;
    while close < t.len() && t[close] != b']' {
        if t[close] == b' ' && t[close..].starts_with(b" labels:{") {
            labels_at = Some(close);
            break;
        }
        close += 1;
    }
    if close >= t.len() {
        return Err((i, "unterminated `[status` in goroutine header".into()));
    }
    parse_status(&t[i..close], &mut rec).map_err(|(c, m)| (i + c, m))?;
    if let Some(at) = labels_at {
        close = parse_labels_runtime(t, at + 9, &mut rec.labels)?;
        if t.get(close) != Some(&b']') {
            return Err((close, "expected `]` after goroutine labels".into()));
        }
    }
    let mut j = close + 1;
    if t[j..].starts_with(b" {") {
        j += 2;
        j = parse_labels_runtime(t, j, &mut rec.labels)?;
    }
    if t.get(j) != Some(&b':') || t[j + 1..].iter().any(|b| !b.is_ascii_whitespace()) {
        return Err((j, "expected `:` at the end of the goroutine header".into()));
    }
    Ok(rec)
}

/// `chan receive (nil chan) (leaked) (scan) (durable), 5 minutes, locked to thread, synctest bubble 3`
fn parse_status(s: &[u8], rec: &mut Record) -> Result<(), (usize, String)> {
    let mut parts = split_comma_space(s);
    let base = parts.next().unwrap_or(&[]);
    let mut at = base.len();
    for part in parts {
        at += 2;
        if let Some(n) = part.strip_suffix(b" minutes") {
            rec.wait_minutes =
                Some(parse_u64(n).ok_or((at, "bad wait minutes in status".to_string()))?);
        } else if part == b"locked to thread" {
            rec.locked_to_thread = true;
        } else if part.starts_with(b"synctest bubble ") {
            // The bubble id has no field in the model; its presence is noted by `(durable)`-style statuses.
        }
        at += part.len();
    }
    let mut base = trim(base);
    let mut durable = false;
    loop {
        if let Some(b) = base.strip_suffix(b" (leaked)") {
            rec.leaked = true;
            base = b;
        } else if let Some(b) = base.strip_suffix(b" (scan)") {
            base = b;
        } else if let Some(b) = base.strip_suffix(b" (durable)") {
            durable = true;
            base = b;
        } else {
            break;
        }
    }
    if base.is_empty() {
        return Err((0, "empty goroutine status".into()));
    }
    let mut status = String::from_utf8_lossy(base).into_owned();
    if durable {
        status.push_str(" (durable)");
    }
    rec.class = classify(&status);
    rec.status = status;
    Ok(())
}

fn split_comma_space(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match find_sub(r, b", ") {
            Some(i) => {
                rest = Some(&r[i + 2..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Labels as the runtime prints them in a header: Go 1.27 `{k: v, "a b": "c\n"}`
/// after the status, Go 1.26 ` labels:{"k": "v"}` inside it (always quoted).
/// `j` points just after `{`; returns the index after `}`.
fn parse_labels_runtime(
    t: &[u8],
    mut j: usize,
    out: &mut BTreeMap<String, String>,
) -> Result<usize, (usize, String)> {
    if t.get(j) == Some(&b'}') {
        return Ok(j + 1);
    }
    loop {
        let (key, nj) = label_token(t, j, b':')?;
        if !t[nj..].starts_with(b": ") {
            return Err((nj, "expected `: ` after a label key".into()));
        }
        let (val, nj) = label_token(t, nj + 2, b',')?;
        out.insert(key, val);
        j = nj;
        if t[j..].starts_with(b", ") {
            j += 2;
        } else if t.get(j) == Some(&b'}') {
            return Ok(j + 1);
        } else {
            return Err((j, "expected `, ` or `}` in goroutine labels".into()));
        }
    }
}

/// A bare token (letters, digits, `._/`) or a quoted string.
fn label_token(t: &[u8], j: usize, _stop: u8) -> Result<(String, usize), (usize, String)> {
    if t.get(j) == Some(&b'"') {
        return crate::strings::unquote_go(t, j).map_err(|(c, m)| (c, m.to_string()));
    }
    let n = t[j..]
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/' || b == b'_')
        .count();
    Ok((String::from_utf8_lossy(&t[j..j + n]).into_owned(), j + n))
}

/// `main.(*T).m[...](0x1, {0x2?, 0x3})` -> `main.(*T).m[...]`; None if not a frame line.
#[inline]
fn frame_func(t: &[u8]) -> Option<&[u8]> {
    if !t.ends_with(b")") {
        return None;
    }
    let open = t.iter().rposition(|&b| b == b'(')?;
    // Function names have no spaces outside type-argument brackets; this
    // rejects prose that happens to end in `)`.
    if open == 0 || !name_without_spaces(&t[..open]) {
        return None;
    }
    Some(&t[..open])
}

fn name_without_spaces(name: &[u8]) -> bool {
    let mut depth = 0i32;
    for &b in name {
        match b {
            b'[' => depth += 1,
            b']' => depth -= 1,
            b' ' if depth <= 0 => return false,
            _ => {}
        }
    }
    true
}

/// `/path/file.go:123 +0x1f fp=0x.. sp=0x.. pc=0x..`
#[inline]
fn fill_file_line<'a>(frame: &mut Frame, body: &'a [u8], interner: &mut Interner<'a>) {
    // The line number is the first `:<digits>` followed by a space or the end;
    // a Windows drive colon is followed by `/` or `\`, not a digit.
    let mut i = 0;
    while let Some(k) = body[i..].iter().position(|&b| b == b':') {
        let c = i + k;
        let n = body[c + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let end = c + 1 + n;
        if n > 0 && (end == body.len() || body[end] == b' ') {
            frame.file = interner.get(&body[..c]);
            frame.line = parse_u64(&body[c + 1..end])
                .unwrap_or(0)
                .min(u32::MAX as u64) as u32;
            // `fp= sp= pc=` only with GOTRACEBACK=system or in crashes; skip the search otherwise.
            let tail = &body[end..];
            if memchr::memchr(b'=', tail).is_some() {
                if let Some(p) = find_sub(tail, b" pc=0x") {
                    let hex = &tail[p + 6..];
                    let n = hex.iter().take_while(|b| b.is_ascii_hexdigit()).count();
                    frame.pc = std::str::from_utf8(&hex[..n])
                        .ok()
                        .and_then(|h| u64::from_str_radix(h, 16).ok());
                }
            }
            return;
        }
        i = c + 1;
    }
    frame.file = interner.get(body);
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((b - b'0') as u64)?;
    }
    Some(v)
}

fn find_sub(h: &[u8], n: &[u8]) -> Option<usize> {
    crate::lines::find(h, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parallel path gives exactly what one pass gives, errors included.
    #[test]
    fn parallel_equals_sequential() {
        let block = include_bytes!("../tests/fixtures/variants.txt");
        let mut big = Vec::new();
        while big.len() < 2 * PARALLEL_MIN {
            big.extend_from_slice(block);
            big.extend_from_slice(b"\n");
        }
        let (seq, _) = parse_chunk(&big, Prefix::None).unwrap();
        let par = parse(&big, 0).unwrap();
        assert_eq!(par, parse(&big, 3).unwrap());
        assert!(seq.len() > 10_000);
        assert_eq!(seq, par);
        assert!(
            split_points(&big, 4).len() > 2,
            "the input was really split"
        );

        // A bad header late in the input reports its absolute line and byte.
        let bad_at = big.len();
        big.extend_from_slice(b"\ngoroutine 5 [oops\n");
        let lines_before = big[..bad_at].iter().filter(|&&b| b == b'\n').count();
        let e = parse(&big, 0).unwrap_err();
        assert_eq!(e.line, Some(lines_before + 2));
        assert_eq!(e.offset, bad_at + 1 + 13);
    }
}
