//! `debug=1` goroutine profile text (and the goroutine-leak profile's `debug=1`).
//!
//! ```text
//! goroutine profile: total 57
//! 50 @ 0x4401ce 0x40a4c5 0x6b2a45 0x474ba1
//! # labels: {"route":"/leak"}
//! #	0x6b2a44	main.leakyHandler.func1+0x24	/src/main.go:20
//! #	0x474ba0	runtime.goexit+0x0		/go/src/runtime/asm_amd64.s:1700
//!
//! ```
//!
//! Columns are aligned by `text/tabwriter` with tabs, so fields are
//! separated by runs of tabs. The writer hides a leading run of `runtime.*`
//! frames; see the `infer` module for what that means for states.

use std::collections::BTreeMap;

use weft_model::{Frame, Record};

use crate::debug2::parse_u64;
use crate::infer::{classify, infer_name};
use crate::lines::{Lines, Prefix};
use crate::strings::{unquote_go, Interner};
use crate::symbols::Symbols;
use crate::ParseError;

/// Returns (is the goroutine-leak profile, records).
pub(crate) fn parse(
    input: &[u8],
    symbols: Option<&Symbols>,
) -> Result<(bool, Vec<Record>), ParseError> {
    let mut lines = Lines::new(input, Prefix::None)
        .filter(|l| !l.text.is_empty())
        .peekable();
    let first = lines
        .next()
        .ok_or_else(|| ParseError::at_byte(0, "empty input"))?;
    let t = strip_bom(first.text);
    let leak = if t.starts_with(b"goroutine profile: total ") {
        false
    } else if t.starts_with(b"goroutineleak profile: total ") {
        true
    } else {
        return Err(ParseError::at_line(
            first.no,
            first.offset,
            "expected `goroutine profile: total N` on the first line",
        ));
    };
    let total_at = t.iter().rposition(|&b| b == b' ').map_or(0, |i| i + 1);
    if parse_u64(&t[total_at..]).is_none() {
        return Err(ParseError::at_line(
            first.no,
            first.offset + total_at,
            "bad total in profile header",
        ));
    }

    let mut interner = Interner::default();
    let mut records: Vec<Record> = Vec::new();
    // PCs from the current record's `@` line, to notice (and, with symbols,
    // restore) the runtime frames the writer hid at the top.
    let mut at_pcs: Vec<u64> = Vec::new();
    let mut open = false;
    // Frames of the open record, moved into it by `finish`.
    let mut stack: Vec<Frame> = Vec::new();

    while let Some(line) = lines.next() {
        let t = line.text;
        if t[0].is_ascii_digit() {
            if open {
                let last = records.last_mut().expect("open record");
                finish(last, std::mem::take(&mut stack), &at_pcs, symbols);
            }
            let at = crate::lines::find(t, b" @").ok_or_else(|| {
                ParseError::at_line(
                    line.no,
                    line.offset,
                    "expected `COUNT @ PC...` at the start of a stack",
                )
            })?;
            let count = parse_u64(&t[..at])
                .ok_or_else(|| ParseError::at_line(line.no, line.offset, "bad stack count"))?;
            at_pcs.clear();
            for p in t[at + 2..].split(|&b| b == b' ').filter(|s| !s.is_empty()) {
                at_pcs.push(parse_hex(p).ok_or_else(|| {
                    ParseError::at_line(
                        line.no,
                        line.offset + at + 2,
                        "bad program counter after `@`",
                    )
                })?);
            }
            records.push(Record {
                count,
                leaked: leak,
                ..Record::default()
            });
            open = true;
        } else if let Some(rest) = t.strip_prefix(b"# labels: ") {
            let rec = records.last_mut().filter(|_| open).ok_or_else(|| {
                ParseError::at_line(line.no, line.offset, "`# labels:` before any stack")
            })?;
            parse_labels_json_like(rest, &mut rec.labels)
                .map_err(|(c, m)| ParseError::at_line(line.no, line.offset + 10 + c, m))?;
        } else if t[0] == b'#' {
            if !open {
                return Err(ParseError::at_line(
                    line.no,
                    line.offset,
                    "frame line before any stack",
                ));
            }
            let mut cells = t[1..].split(|&b| b == b'\t').filter(|c| !c.is_empty());
            let pc_cell = cells
                .next()
                .ok_or_else(|| ParseError::at_line(line.no, line.offset, "empty frame line"))?;
            let pc = parse_hex(pc_cell)
                .ok_or_else(|| ParseError::at_line(line.no, line.offset, "bad frame PC"))?;
            let mut frame = Frame {
                pc: Some(pc),
                ..Frame::default()
            };
            match cells.next() {
                Some(func) => {
                    let func = match func.windows(3).rposition(|w| w == b"+0x") {
                        Some(p) => &func[..p],
                        None => func,
                    };
                    frame.func = interner.get(func);
                    if let Some(fl) = cells.next() {
                        match fl.iter().rposition(|&b| b == b':') {
                            Some(c) => {
                                frame.file = interner.get(&fl[..c]);
                                frame.line =
                                    parse_u64(&fl[c + 1..]).unwrap_or(0).min(u32::MAX as u64)
                                        as u32;
                            }
                            None => frame.file = interner.get(fl),
                        }
                    }
                }
                None => frame.func = "??".to_string(),
            }
            stack.push(frame);
        } else {
            return Err(ParseError::at_line(
                line.no,
                line.offset,
                "unexpected line in debug=1 profile",
            ));
        }
    }
    if open {
        let last = records.last_mut().expect("open record");
        finish(last, stack, &at_pcs, symbols);
    }
    Ok((leak, records))
}

/// Infers the state once a record is complete. Printed frame PCs are the
/// return PC minus one; every `@` PC before the first printed frame belongs
/// to a hidden runtime frame.
fn finish(rec: &mut Record, mut stack: Vec<Frame>, at_pcs: &[u64], symbols: Option<&Symbols>) {
    let hidden = match stack.first().and_then(|f| f.pc) {
        Some(shown) => at_pcs
            .iter()
            .position(|&p| p == shown || p == shown.wrapping_add(1))
            .unwrap_or(at_pcs.len()),
        None => 0,
    };
    let mut top_hidden = hidden > 0;
    if let (true, Some(sym)) = (top_hidden, symbols) {
        if let Some(mut frames) = sym.resolve(&at_pcs[..hidden]) {
            // A hidden PC can fall inside the first shown function (its
            // inlined runtime callee was what got hidden); don't repeat it.
            while frames.last().map(|f| &f.func) == stack.first().map(|f| &f.func) {
                frames.pop();
            }
            stack.splice(0..0, frames);
            top_hidden = false;
        }
    }
    let status = infer_name(&stack, top_hidden);
    rec.stack = stack.into();
    rec.status = status.to_string();
    rec.class = classify(status);
    rec.status_inferred = true;
}

fn strip_bom(t: &[u8]) -> &[u8] {
    t.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(t)
}

pub(crate) fn parse_hex(s: &[u8]) -> Option<u64> {
    let h = s.strip_prefix(b"0x")?;
    if h.is_empty() || h.len() > 16 {
        return None;
    }
    let mut v = 0u64;
    for &b in h {
        let d = (b as char).to_digit(16)? as u64;
        v = (v << 4) | d;
    }
    Some(v)
}

/// `{"k":"v", "k2":"v2"}` (Go `%q` quoting).
fn parse_labels_json_like(
    t: &[u8],
    out: &mut BTreeMap<String, String>,
) -> Result<(), (usize, &'static str)> {
    if t.first() != Some(&b'{') {
        return Err((0, "expected `{` to open labels"));
    }
    let mut j = 1;
    if t.get(j) == Some(&b'}') {
        return Ok(());
    }
    loop {
        if t.get(j) != Some(&b'"') {
            return Err((j, "expected a quoted label key"));
        }
        let (k, nj) = unquote_go(t, j)?;
        if t.get(nj) != Some(&b':') || t.get(nj + 1) != Some(&b'"') {
            return Err((nj, "expected `:\"value\"` after a label key"));
        }
        let (v, nj) = unquote_go(t, nj + 1)?;
        out.insert(k, v);
        j = nj;
        if t[j..].starts_with(b", ") {
            j += 2;
        } else if t.get(j) == Some(&b'}') {
            return Ok(());
        } else {
            return Err((j, "expected `, ` or `}` in labels"));
        }
    }
}
