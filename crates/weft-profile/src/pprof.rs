//! `debug=0` goroutine profiles: gzipped pprof protobuf (`profile.proto`).
//!
//! A hand-written decoder for the subset weft needs (sample, location,
//! line, function, string table, sample type, label). Every length is
//! checked against the bytes that remain, so hostile input cannot make it
//! allocate more than a small multiple of its own size; decompression
//! stops at [`Limits::max_decompressed`].

use std::collections::HashMap;
use std::io::Read;

use weft_model::{Frame, Record};

use crate::infer::{classify, infer_name};
use crate::{Limits, ParseError};

/// Returns (is the goroutine-leak profile, records).
pub(crate) fn parse(input: &[u8], limits: Limits) -> Result<(bool, Vec<Record>), ParseError> {
    let owned;
    let data: &[u8] = if input.starts_with(&[0x1f, 0x8b]) {
        owned = gunzip(input, limits.max_decompressed)?;
        &owned
    } else {
        input
    };
    let prof = decode_profile(data)?;
    prof.into_records(data.len())
}

pub(crate) fn gunzip(input: &[u8], limit: usize) -> Result<Vec<u8>, ParseError> {
    let mut out = Vec::with_capacity(input.len().saturating_mul(4).min(limit).min(64 << 20));
    let dec = flate2::read::MultiGzDecoder::new(input);
    dec.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            ParseError::at_byte(
                0,
                format!("gzip: {e} (after {} decompressed bytes)", out.len()),
            )
        })?;
    if out.len() > limit {
        return Err(ParseError::at_byte(
            0,
            format!("gzip: decompressed profile exceeds the {limit}-byte limit; raise Limits::max_decompressed if it is genuine"),
        ));
    }
    Ok(out)
}

/// Cheap structural check for an uncompressed profile: every top-level
/// field is a known `Profile` field with a valid wire type and length.
pub(crate) fn looks_like_raw_profile(data: &[u8]) -> bool {
    if data.is_empty() {
        return false;
    }
    let mut r = Reader::new(data, 0);
    let mut seen_sample_type = false;
    while !r.done() {
        let Ok((field, wt)) = r.key() else {
            return false;
        };
        if !(1..=14).contains(&field) || r.skip(wt).is_err() {
            return false;
        }
        seen_sample_type |= field == 1;
    }
    seen_sample_type
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf` in the whole (decompressed) profile, for errors.
    base: usize,
}

type PResult<T> = Result<T, ParseError>;

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn err(&self, msg: &str) -> ParseError {
        ParseError::at_byte(self.base + self.pos, format!("protobuf: {msg}"))
    }

    fn varint(&mut self) -> PResult<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.err("truncated varint"));
            };
            self.pos += 1;
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    fn key(&mut self) -> PResult<(u64, u8)> {
        let k = self.varint()?;
        Ok((k >> 3, (k & 7) as u8))
    }

    fn bytes(&mut self) -> PResult<(&'a [u8], usize)> {
        let n = self.varint()?;
        let remaining = (self.buf.len() - self.pos) as u64;
        if n > remaining {
            return Err(self.err(&format!(
                "length {n} runs past the end ({remaining} bytes left)"
            )));
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok((&self.buf[start..self.pos], self.base + start))
    }

    fn skip(&mut self, wt: u8) -> PResult<()> {
        match wt {
            0 => self.varint().map(|_| ()),
            1 | 5 => {
                let n = if wt == 1 { 8 } else { 4 };
                if self.buf.len() - self.pos < n {
                    return Err(self.err("truncated fixed-width field"));
                }
                self.pos += n;
                Ok(())
            }
            2 => self.bytes().map(|_| ()),
            _ => Err(self.err(&format!("unsupported wire type {wt}"))),
        }
    }

    /// A repeated varint field, packed (wire type 2) or not (wire type 0).
    fn repeated_varint(&mut self, wt: u8, out: &mut Vec<u64>) -> PResult<()> {
        match wt {
            0 => out.push(self.varint()?),
            2 => {
                let (b, base) = self.bytes()?;
                let mut sub = Reader::new(b, base);
                while !sub.done() {
                    out.push(sub.varint()?);
                }
            }
            _ => return Err(self.err("bad wire type for a repeated integer")),
        }
        Ok(())
    }

    fn expect_varint(&mut self, wt: u8) -> PResult<u64> {
        if wt != 0 {
            return Err(self.err("expected a varint field"));
        }
        self.varint()
    }

    fn expect_bytes(&mut self, wt: u8) -> PResult<(&'a [u8], usize)> {
        if wt != 2 {
            return Err(self.err("expected a length-delimited field"));
        }
        self.bytes()
    }
}

#[derive(Default)]
struct Sample {
    locations: Vec<u64>,
    values: Vec<u64>,
    /// (key string index, string value index or None, numeric value)
    labels: Vec<(u64, Option<u64>, i64)>,
}

#[derive(Default)]
struct Location {
    address: u64,
    /// (function id, line), innermost (inlined callee) first.
    lines: Vec<(u64, i64)>,
}

#[derive(Default)]
struct Function {
    name: u64,
    file: u64,
}

#[derive(Default)]
struct Profile<'a> {
    strings: Vec<&'a [u8]>,
    sample_type: Option<(u64, usize)>,
    samples: Vec<Sample>,
    locations: HashMap<u64, Location>,
    functions: HashMap<u64, Function>,
}

fn decode_profile(data: &[u8]) -> PResult<Profile<'_>> {
    let mut p = Profile::default();
    let mut r = Reader::new(data, 0);
    while !r.done() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                let (b, base) = r.expect_bytes(wt)?;
                if p.sample_type.is_none() {
                    let mut s = Reader::new(b, base);
                    let mut ty = 0;
                    while !s.done() {
                        let (f, w) = s.key()?;
                        if f == 1 {
                            ty = s.expect_varint(w)?;
                        } else {
                            s.skip(w)?;
                        }
                    }
                    p.sample_type = Some((ty, base));
                }
            }
            2 => {
                let (b, base) = r.expect_bytes(wt)?;
                p.samples.push(decode_sample(b, base)?);
            }
            4 => {
                let (b, base) = r.expect_bytes(wt)?;
                let (id, loc) = decode_location(b, base)?;
                p.locations.insert(id, loc);
            }
            5 => {
                let (b, base) = r.expect_bytes(wt)?;
                let mut s = Reader::new(b, base);
                let (mut id, mut f) = (0, Function::default());
                while !s.done() {
                    let (k, w) = s.key()?;
                    match k {
                        1 => id = s.expect_varint(w)?,
                        2 => f.name = s.expect_varint(w)?,
                        4 => f.file = s.expect_varint(w)?,
                        _ => s.skip(w)?,
                    }
                }
                p.functions.insert(id, f);
            }
            6 => {
                let (b, _) = r.expect_bytes(wt)?;
                p.strings.push(b);
            }
            _ => r.skip(wt)?,
        }
    }
    Ok(p)
}

fn decode_sample(b: &[u8], base: usize) -> PResult<Sample> {
    let mut s = Reader::new(b, base);
    let mut out = Sample::default();
    while !s.done() {
        let (k, w) = s.key()?;
        match k {
            1 => s.repeated_varint(w, &mut out.locations)?,
            2 => s.repeated_varint(w, &mut out.values)?,
            3 => {
                let (lb, lbase) = s.expect_bytes(w)?;
                let mut l = Reader::new(lb, lbase);
                let (mut key, mut str_, mut num) = (0, None, 0i64);
                while !l.done() {
                    let (f, lw) = l.key()?;
                    match f {
                        1 => key = l.expect_varint(lw)?,
                        2 => str_ = Some(l.expect_varint(lw)?),
                        3 => num = l.expect_varint(lw)? as i64,
                        _ => l.skip(lw)?,
                    }
                }
                out.labels.push((key, str_, num));
            }
            _ => s.skip(w)?,
        }
    }
    Ok(out)
}

fn decode_location(b: &[u8], base: usize) -> PResult<(u64, Location)> {
    let mut s = Reader::new(b, base);
    let (mut id, mut loc) = (0, Location::default());
    while !s.done() {
        let (k, w) = s.key()?;
        match k {
            1 => id = s.expect_varint(w)?,
            3 => loc.address = s.expect_varint(w)?,
            4 => {
                let (lb, lbase) = s.expect_bytes(w)?;
                let mut l = Reader::new(lb, lbase);
                let (mut func, mut line) = (0, 0i64);
                while !l.done() {
                    let (f, lw) = l.key()?;
                    match f {
                        1 => func = l.expect_varint(lw)?,
                        2 => line = l.expect_varint(lw)? as i64,
                        _ => l.skip(lw)?,
                    }
                }
                loc.lines.push((func, line));
            }
            _ => s.skip(w)?,
        }
    }
    Ok((id, loc))
}

/// Shortens generic instantiations the way tracebacks and `debug=1` print
/// them (`main.F[go.shape.int].func1` -> `main.F[...].func1`), so one
/// function has one name in every form.
fn print_name(name: String) -> String {
    match (name.find('['), name.rfind(']')) {
        (Some(i), Some(j)) if i < j && &name[i + 1..j] != "..." => {
            format!("{}...{}", &name[..=i], &name[j..])
        }
        _ => name,
    }
}

impl Profile<'_> {
    fn string(&self, idx: u64) -> PResult<String> {
        match self.strings.get(idx as usize) {
            Some(s) => Ok(String::from_utf8_lossy(s).into_owned()),
            None => Err(ParseError::at_byte(
                0,
                format!(
                    "protobuf: string index {idx} out of range ({} strings)",
                    self.strings.len()
                ),
            )),
        }
    }

    fn into_records(self, data_len: usize) -> PResult<(bool, Vec<Record>)> {
        let leak = match self.sample_type {
            Some((ty, base)) => match self.strings.get(ty as usize).copied() {
                Some(b"goroutine") => false,
                Some(b"goroutineleak") => true,
                Some(other) => {
                    return Err(ParseError::at_byte(
                        base,
                        format!(
                            "pprof profile of type `{}`, not a goroutine profile",
                            String::from_utf8_lossy(other)
                        ),
                    ))
                }
                None => {
                    return Err(ParseError::at_byte(
                        base,
                        "protobuf: sample type name index out of range",
                    ))
                }
            },
            None => {
                return Err(ParseError::at_byte(
                    0,
                    "protobuf: profile has no sample type; not a pprof profile",
                ))
            }
        };
        // Frames out are bounded by a multiple of the input so a location
        // referenced many times with many lines cannot blow up memory.
        let budget = data_len.saturating_mul(16).saturating_add(1 << 16);
        let mut frames_out = 0usize;
        let mut records = Vec::with_capacity(self.samples.len());
        for s in &self.samples {
            let mut stack = Vec::with_capacity(s.locations.len());
            for id in &s.locations {
                let loc = self.locations.get(id).ok_or_else(|| {
                    ParseError::at_byte(
                        0,
                        format!("protobuf: sample refers to unknown location {id}"),
                    )
                })?;
                frames_out += loc.lines.len().max(1);
                if frames_out > budget {
                    return Err(ParseError::at_byte(
                        0,
                        "protobuf: stacks expand to far more frames than the input size allows",
                    ));
                }
                if loc.lines.is_empty() {
                    stack.push(Frame {
                        func: "??".into(),
                        pc: Some(loc.address),
                        ..Frame::default()
                    });
                }
                for &(fid, line) in &loc.lines {
                    let f = self.functions.get(&fid).ok_or_else(|| {
                        ParseError::at_byte(
                            0,
                            format!("protobuf: location {id} refers to unknown function {fid}"),
                        )
                    })?;
                    stack.push(Frame {
                        func: print_name(self.string(f.name)?),
                        file: self.string(f.file)?,
                        line: line.clamp(0, u32::MAX as i64) as u32,
                        pc: Some(loc.address),
                    });
                }
            }
            let mut rec = Record {
                count: s.values.first().copied().unwrap_or(0),
                leaked: leak,
                stack: stack.into(),
                ..Record::default()
            };
            for &(k, sv, num) in &s.labels {
                let v = match sv {
                    Some(i) if i != 0 => self.string(i)?,
                    _ => num.to_string(),
                };
                rec.labels.insert(self.string(k)?, v);
            }
            let status = infer_name(&rec.stack, false);
            rec.status = status.to_string();
            rec.class = classify(status);
            rec.status_inferred = true;
            records.push(rec);
        }
        Ok((leak, records))
    }
}
