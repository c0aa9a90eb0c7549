//! The text form of traces used by Go's test corpus (`Trace Go1.22` followed
//! by one `Name arg=value ...` line per wire event), and an encoder from it
//! to the binary format. Handy for building small test traces by hand.
//!
//! Lines: `#` starts a comment; blank lines are skipped. A `Stack` event is
//! followed by `nframes` lines `pc=.. func=.. file=.. line=..`; a `String`
//! or `ExperimentalBatch` event by a line `data="..."` (a Go-quoted string).
use crate::spec::{Version, SPECS};
use crate::varint::put_uvarint;

/// An error in the text, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextError {
    /// 1-based line number (0: end of input).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for TextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}
impl std::error::Error for TextError {}

fn is_space(c: char) -> bool {
    c.is_whitespace()
}

// Splits off the first token; `#` starts a comment.
fn token(s: &str) -> (&str, &str) {
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c == '#' {
            return ("", "");
        }
        if !is_space(c) {
            start = Some(i);
            break;
        }
    }
    let Some(st) = start else { return ("", "") };
    for (i, c) in s[st..].char_indices() {
        if is_space(c) || c == '#' {
            return (&s[st..st + i], &s[st + i..]);
        }
    }
    (&s[st..], "")
}

fn read_args(s: &str, names: &[&str]) -> Result<Vec<u64>, String> {
    let mut out = Vec::with_capacity(names.len());
    let mut rest = s;
    for name in names {
        let (tok, r) = token(rest);
        if tok.is_empty() {
            return Err("no argument".into());
        }
        let Some((k, v)) = tok.split_once('=') else {
            return Err(format!("malformed argument: {tok:?}"));
        };
        if k != *name {
            return Err(format!("expected argument {name:?}, but got {k:?}"));
        }
        let val: u64 = v
            .parse()
            .map_err(|_| format!("failed to parse argument value {v:?} for arg {k:?}"))?;
        out.push(val);
        rest = r;
    }
    if rest.chars().any(|c| !is_space(c)) {
        return Err(format!(
            "encountered unexpected non-space at the end of an event: {rest:?}"
        ));
    }
    Ok(out)
}

/// Decodes a Go string literal (`"..."` with escapes, or `` `...` ``).
pub fn go_unquote(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b'`' && b[b.len() - 1] == b'`' {
        return Ok(b[1..b.len() - 1]
            .iter()
            .copied()
            .filter(|&c| c != b'\r')
            .collect());
    }
    if b.len() < 2 || b[0] != b'"' || b[b.len() - 1] != b'"' {
        return Err("invalid syntax".into());
    }
    let body = &b[1..b.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    let hex = |d: &[u8]| -> Result<u32, String> {
        let s = std::str::from_utf8(d).map_err(|_| "invalid syntax".to_string())?;
        u32::from_str_radix(s, 16).map_err(|_| "invalid syntax".to_string())
    };
    while i < body.len() {
        let c = body[i];
        if c == b'"' || c == b'\n' {
            return Err("invalid syntax".into());
        }
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let Some(&e) = body.get(i + 1) else {
            return Err("invalid syntax".into());
        };
        i += 2;
        let simple = match e {
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(11),
            b'\\' => Some(b'\\'),
            b'"' => Some(b'"'),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            continue;
        }
        match e {
            b'x' => {
                let d = body.get(i..i + 2).ok_or("invalid syntax")?;
                out.push(hex(d)? as u8);
                i += 2;
            }
            b'u' | b'U' => {
                let n = if e == b'u' { 4 } else { 8 };
                let d = body.get(i..i + n).ok_or("invalid syntax")?;
                let v = hex(d)?;
                let ch = char::from_u32(v).ok_or("invalid syntax")?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                i += n;
            }
            b'0'..=b'7' => {
                let d = body.get(i - 1..i + 2).ok_or("invalid syntax")?;
                let mut v: u32 = 0;
                for &x in d {
                    if !(b'0'..=b'7').contains(&x) {
                        return Err("invalid syntax".into());
                    }
                    v = v * 8 + (x - b'0') as u32;
                }
                if v > 255 {
                    return Err("invalid syntax".into());
                }
                out.push(v as u8);
                i += 2;
            }
            _ => return Err("invalid syntax".into()),
        }
    }
    Ok(out)
}

/// One wire event of the text form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTextEvent {
    /// Event type.
    pub typ: u8,
    /// Arguments (for stacks: the header args then 4 per frame).
    pub args: Vec<u64>,
    /// Trailing data, for `String` and `ExperimentalBatch`.
    pub data: Option<Vec<u8>>,
}

/// Parses the text form into its version and events.
pub fn parse_text(text: &str) -> Result<(Version, Vec<RawTextEvent>), TextError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !token(l).0.is_empty());
    let err = |line: usize, m: String| TextError {
        line: line + 1,
        message: m,
    };
    let Some((ln, header)) = lines.next() else {
        return Err(TextError {
            line: 0,
            message: "empty input: expected a `Trace Go1.NN` header".into(),
        });
    };
    let (t, rest) = token(header);
    if t != "Trace" {
        return Err(err(ln, "failed to parse header".into()));
    }
    let (gv, rest) = token(rest);
    let Some(num) = gv.strip_prefix("Go1.") else {
        return Err(err(ln, "failed to parse header Go version".into()));
    };
    let v: u64 = num
        .parse()
        .map_err(|e| err(ln, format!("failed to parse header Go version: {e}")))?;
    let ver = Version::from_minor(v)
        .ok_or_else(|| err(ln, format!("unknown or unsupported Go version 1.{v}")))?;
    if rest.chars().any(|c| !is_space(c)) {
        return Err(err(
            ln,
            format!("encountered unexpected non-space at the end of the header: {rest:?}"),
        ));
    }
    let mut out = Vec::new();
    while let Some((ln, line)) = lines.next() {
        let (name, rest) = token(line);
        let typ = ver
            .type_by_name(name)
            .ok_or_else(|| err(ln, format!("unidentified event: {name}")))?;
        let spec = &SPECS[typ as usize];
        let mut args = read_args(rest, spec.args)
            .map_err(|m| err(ln, format!("reading args for {name}: {m}")))?;
        if spec.is_stack {
            let n = args[1];
            for _ in 0..n {
                let Some((fl, frame)) = lines.next() else {
                    return Err(err(
                        ln,
                        format!("unexpected EOF while reading stack: args={args:?}"),
                    ));
                };
                let f =
                    read_args(frame, &["pc", "func", "file", "line"]).map_err(|m| err(fl, m))?;
                args.extend(f);
            }
        }
        let mut data = None;
        if spec.has_data {
            let Some((dl, dline)) = lines.next() else {
                return Err(err(
                    ln,
                    format!("unexpected EOF while reading data for {name}: args={args:?}"),
                ));
            };
            let (k, v) = dline
                .split_once('=')
                .filter(|(k, _)| k.trim() == "data")
                .ok_or_else(|| err(dl, format!("malformed data: {dline:?}")))?;
            let _ = k;
            data = Some(
                go_unquote(v.trim())
                    .map_err(|e| err(dl, format!("failed to parse data: {dline:?}: {e}")))?,
            );
        }
        out.push(RawTextEvent { typ, args, data });
    }
    Ok((ver, out))
}

/// Encodes parsed events as a binary trace (header included).
pub fn encode(ver: Version, events: &[RawTextEvent]) -> Vec<u8> {
    let mut out = format!("go 1.{} trace\0\0\0", ver.minor()).into_bytes();
    for e in events {
        out.push(e.typ);
        for &a in &e.args {
            put_uvarint(&mut out, a);
        }
        if let Some(d) = &e.data {
            put_uvarint(&mut out, d.len() as u64);
            out.extend_from_slice(d);
        }
    }
    out
}

/// Sets every `EventBatch`'s `size` to the encoded length of the events
/// that follow it (up to the next batch or end-of-generation marker), so
/// hand-written traces need not count bytes.
pub fn fix_batch_sizes(events: &mut [RawTextEvent]) {
    use crate::spec::ev;
    let mut i = 0;
    while i < events.len() {
        if events[i].typ != ev::EVENT_BATCH {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        let mut size = 0u64;
        while j < events.len()
            && !matches!(
                events[j].typ,
                ev::EVENT_BATCH | ev::EXPERIMENTAL_BATCH | ev::END_OF_GENERATION
            )
        {
            let mut tmp = Vec::new();
            for &a in &events[j].args {
                put_uvarint(&mut tmp, a);
            }
            if let Some(d) = &events[j].data {
                put_uvarint(&mut tmp, d.len() as u64);
                tmp.extend_from_slice(d);
            }
            size += 1 + tmp.len() as u64;
            j += 1;
        }
        if let Some(s) = events[i].args.get_mut(3) {
            *s = size;
        }
        i = j;
    }
}

/// Text form to binary trace in one step.
pub fn text_to_binary(text: &str) -> Result<Vec<u8>, TextError> {
    let (v, evs) = parse_text(text)?;
    Ok(encode(v, &evs))
}

/// Splits a txtar archive (as Go's test corpus uses) into its comment and
/// `(name, content)` files.
pub fn parse_txtar(s: &str) -> (String, Vec<(String, String)>) {
    let mut comment = String::new();
    let mut files: Vec<(String, String)> = Vec::new();
    for line in s.split_inclusive('\n') {
        let l = line.trim_end_matches('\n');
        if let Some(name) = l.strip_prefix("-- ").and_then(|x| x.strip_suffix(" --")) {
            files.push((name.trim().to_string(), String::new()));
            continue;
        }
        match files.last_mut() {
            Some((_, body)) => body.push_str(line),
            None => comment.push_str(line),
        }
    }
    (comment, files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote() {
        assert_eq!(go_unquote(r#""a\x00b\n\"""#).unwrap(), b"a\x00b\n\"");
        assert_eq!(go_unquote(r#""\u263a\101""#).unwrap(), "☺A".as_bytes());
        assert!(go_unquote(r#""abc"#).is_err());
    }

    #[test]
    fn encodes_strings_and_stacks() {
        let t = "Trace Go1.22\n# comment\n\
                 EventBatch gen=1 m=18446744073709551615 time=0 size=9\n\
                 Strings\nString id=1\n\tdata=\"hi\\n\"\n";
        let b = text_to_binary(t).unwrap();
        assert_eq!(&b[..16], b"go 1.22 trace\0\0\0");
        assert_eq!(b[16], 1); // EventBatch
        assert!(b.ends_with(&[4, 5, 1, 3, b'h', b'i', b'\n']));
        let e = text_to_binary("Trace Go1.22\nNoSuchEvent x=1\n").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
