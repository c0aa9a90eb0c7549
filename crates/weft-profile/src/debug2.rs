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

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use weft_model::{Frame, Record, Stack};

use crate::infer::classify;
use crate::lines::{detect_prefix, Lines, Prefix};
use crate::strings::{FxHasher, Interner};
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

/// A frame as it appears in the input, before any string is made of it.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct RawFrame<'a> {
    func: &'a [u8],
    file: &'a [u8],
    line: u32,
    pc: Option<u64>,
}

impl Hash for RawFrame<'_> {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        // Names are long and a stack has many; the length and the ends of
        // each tell stacks apart well enough for a hash (equality still
        // compares every byte), at a fraction of hashing them whole.
        sketch(self.func, h);
        sketch(self.file, h);
        h.write_u64((self.line as u64) << 1 | self.pc.is_some() as u64);
        if let Some(pc) = self.pc {
            h.write_u64(pc);
        }
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[inline]
fn sketch<H: Hasher>(b: &[u8], h: &mut H) {
    h.write_usize(b.len());
    if b.len() >= 8 {
        let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]));
        h.write_u64(word(0));
        h.write_u64(word(b.len() - 8));
    } else {
        h.write(b);
    }
}

/// Turns raw frames into model frames, building each distinct stack (and
/// creation site) once: the 100k goroutines of a big dump share a few
/// hundred stacks, and every record of one gets a clone of the same
/// [`Stack`] (a reference-count bump) instead of its own frames.
#[derive(Default)]
struct Builder<'a> {
    names: Interner<'a>,
    stacks: FxMap<Box<[RawFrame<'a>]>, Stack>,
    creators: FxMap<RawFrame<'a>, Frame>,
}

/// Bound on each cache, so input made of unique stacks cannot grow them
/// past what the records themselves hold.
const MAX_CACHED: usize = 1 << 16;

impl<'a> Builder<'a> {
    fn frame(&mut self, raw: &RawFrame<'a>) -> Frame {
        Frame {
            func: self.names.get(raw.func),
            file: self.names.get(raw.file),
            line: raw.line,
            pc: raw.pc,
        }
    }

    #[inline]
    fn stack(&mut self, raw: &[RawFrame<'a>]) -> Stack {
        if let Some(s) = self.stacks.get(raw) {
            return s.clone();
        }
        let stack: Stack = raw.iter().map(|r| self.frame(r)).collect();
        if self.stacks.len() < MAX_CACHED {
            self.stacks.insert(raw.into(), stack.clone());
        }
        stack
    }

    #[inline]
    fn creator(&mut self, raw: &RawFrame<'a>) -> Frame {
        if let Some(f) = self.creators.get(raw) {
            return f.clone();
        }
        let f = self.frame(raw);
        if self.creators.len() < MAX_CACHED {
            self.creators.insert(*raw, f.clone());
        }
        f
    }
}

/// Frames of the goroutine block being read; its record is the last one
/// in the output (filled in place: a `Record` is big enough that moving
/// 100k of them around shows up).
#[derive(Default)]
struct Block<'a> {
    frames: Vec<RawFrame<'a>>,
    creator: Option<RawFrame<'a>>,
}

impl<'a> Block<'a> {
    #[inline]
    fn finish(&mut self, records: &mut [Record], builder: &mut Builder<'a>) {
        if let Some(rec) = records.last_mut() {
            rec.stack = builder.stack(&self.frames);
            rec.created_by = self.creator.take().map(|c| builder.creator(&c));
        }
        self.frames.clear();
        self.creator = None;
    }
}

/// Parses one run of whole blocks; returns the records and whether any header was seen.
fn parse_chunk(input: &[u8], prefix: Prefix<'_>) -> Result<(Vec<Record>, bool), ParseError> {
    // Dumps run at a few hundred bytes per goroutine; capacity never
    // touched costs no memory, regrowing a 100k-record vector does cost.
    let mut records = Vec::with_capacity((input.len() / 384).min(1 << 22));
    let mut builder = Builder::default();
    let mut block = Block::default();
    let mut state = State::Outside;
    let mut awaiting = Awaiting::Nothing;
    let mut saw_header = false;

    for line in Lines::new(input, prefix) {
        let t = line.text;
        if t.is_empty() {
            if state != State::Outside {
                block.finish(&mut records, &mut builder);
            }
            state = State::Outside;
            awaiting = Awaiting::Nothing;
            continue;
        }
        if t.starts_with(b"goroutine ") && is_header_start(t) {
            if state != State::Outside {
                block.finish(&mut records, &mut builder);
            }
            records.push(Record::default());
            let rec = records.last_mut().expect("just pushed");
            parse_header(t, rec)
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
                        Awaiting::Frame => block.frames.last_mut(),
                        Awaiting::CreatedBy => block.creator.as_mut(),
                        Awaiting::Nothing => None,
                    };
                    if let Some(frame) = target {
                        fill_file_line(frame, body);
                    }
                    awaiting = Awaiting::Nothing;
                } else if let Some(rest) = t.strip_prefix(b"created by ") {
                    let (func, goid) = match find_sub(rest, b" in goroutine ") {
                        Some(i) => (&rest[..i], parse_u64(&rest[i + 14..])),
                        None => (rest, None),
                    };
                    block.creator = Some(RawFrame {
                        func,
                        ..RawFrame::default()
                    });
                    if let Some(rec) = records.last_mut() {
                        rec.creator_id = goid;
                    }
                    awaiting = Awaiting::CreatedBy;
                } else if t.starts_with(b"...") && t.ends_with(b"...") {
                    // `...additional frames elided...` or `...N frames elided...`
                    if let Some(rec) = records.last_mut() {
                        rec.frames_elided = true;
                    }
                    awaiting = Awaiting::Nothing;
                } else if t.starts_with(b"[originating from goroutine ") {
                    state = State::Ancestor;
                } else if let Some(func) = frame_func(t) {
                    block.frames.push(RawFrame {
                        func,
                        ..RawFrame::default()
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
                    block.finish(&mut records, &mut builder);
                    state = State::Outside;
                    awaiting = Awaiting::Nothing;
                }
            }
        }
    }
    if state != State::Outside {
        block.finish(&mut records, &mut builder);
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
fn parse_header(t: &[u8], rec: &mut Record) -> Result<(), (usize, String)> {
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
    rec.count = 1;
    rec.ids = vec![id];
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
    parse_status(&t[i..close], rec).map_err(|(c, m)| (i + c, m))?;
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
    Ok(())
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
    let mut status = match std::str::from_utf8(base) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(base).into_owned(),
    };
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
    let open = memchr::memrchr(b'(', t)?;
    // Function names have no spaces outside type-argument brackets; this
    // rejects prose that happens to end in `)`.
    if open == 0 || !name_without_spaces(&t[..open]) {
        return None;
    }
    Some(&t[..open])
}

fn name_without_spaces(name: &[u8]) -> bool {
    if memchr::memchr(b' ', name).is_none() {
        return true;
    }
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
fn fill_file_line<'a>(frame: &mut RawFrame<'a>, body: &'a [u8]) {
    // The line number is the first `:<digits>` followed by a space or the end;
    // a Windows drive colon is followed by `/` or `\`, not a digit.
    let mut i = 0;
    while let Some(k) = memchr::memchr(b':', &body[i..]) {
        let c = i + k;
        let n = body[c + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let end = c + 1 + n;
        if n > 0 && (end == body.len() || body[end] == b' ') {
            frame.file = &body[..c];
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
    frame.file = body;
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

/// Substring search for the short needles and lines here: `memchr` for the
/// first byte and a compare (`memmem` builds a searcher per call, which
/// costs more than the search on a 40-byte line).
fn find_sub(h: &[u8], n: &[u8]) -> Option<usize> {
    let Some((&first, rest)) = n.split_first() else {
        return Some(0);
    };
    let mut from = 0;
    while let Some(i) = memchr::memchr(first, &h[from..]) {
        let at = from + i;
        if h[at + 1..].starts_with(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goroutines of one code path share one stack copy, whatever their
    /// arguments; a different line or function gets its own.
    #[test]
    fn identical_stacks_are_shared() {
        let dump = b"goroutine 1 [chan receive]:\nmain.w(0x1)\n\t/a.go:3 +0x1\n\
created by main.main in goroutine 9\n\t/a.go:9 +0x2\n\n\
goroutine 2 [chan receive]:\nmain.w(0x2)\n\t/a.go:3 +0x1\n\
created by main.main in goroutine 9\n\t/a.go:9 +0x2\n\n\
goroutine 3 [chan receive]:\nmain.w(0x2)\n\t/a.go:4 +0x1\n";
        let (recs, _) = parse_chunk(dump, Prefix::None).unwrap();
        assert!(weft_model::Stack::ptr_eq(&recs[0].stack, &recs[1].stack));
        assert!(!weft_model::Stack::ptr_eq(&recs[0].stack, &recs[2].stack));
        assert_eq!(recs[2].stack[0].line, 4);
        assert_eq!(recs[1].created_by, recs[0].created_by);
        assert_eq!(recs[1].created_by.as_ref().unwrap().line, 9);
        assert_eq!(recs[2].created_by, None);
    }

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
