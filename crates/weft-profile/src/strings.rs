//! Small string helpers shared by the text parsers.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Turns byte slices from the input into owned strings, remembering the
/// ones already seen.
///
/// The model owns its strings, so every frame costs an allocation whatever
/// we do; what a dump repeats endlessly (the same few hundred function names
/// and file paths across 100k goroutines) only needs validating once, after
/// which a hit is a hash of the bytes and a copy.
pub(crate) struct Interner<'a> {
    seen: HashMap<&'a [u8], String, BuildHasherDefault<FxHasher>>,
}

impl Default for Interner<'_> {
    fn default() -> Self {
        Interner {
            seen: HashMap::default(),
        }
    }
}

impl<'a> Interner<'a> {
    #[inline]
    pub fn get(&mut self, b: &'a [u8]) -> String {
        if let Some(s) = self.seen.get(b) {
            return s.clone();
        }
        let s = match std::str::from_utf8(b) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(b).into_owned(),
        };
        // Bound the table so adversarial input full of unique names cannot grow it without limit.
        if self.seen.len() < 1 << 16 {
            self.seen.insert(b, s.clone());
        }
        s
    }
}

/// The small multiply-rotate hash rustc uses: fast for short keys, and
/// the keys here come from one input, so flooding is the input's own cost.
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        // The last 1-7 bytes as one word (the length, hashed separately by
        // slices, tells `a` from `a\0`).
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(n as u64);
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(n as u64);
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Decodes a Go-quoted string starting at `t[j] == '"'` (the escapes the
/// runtime's `printquoted` and `strconv.Quote` produce). Returns the string
/// and the index after the closing quote; errors are (index, message).
pub(crate) fn unquote_go(t: &[u8], j: usize) -> Result<(String, usize), (usize, &'static str)> {
    let mut out: Vec<u8> = Vec::new();
    let mut i = j + 1;
    loop {
        let Some(&b) = t.get(i) else {
            return Err((i, "unterminated quoted string"));
        };
        match b {
            b'"' => return Ok((String::from_utf8_lossy(&out).into_owned(), i + 1)),
            b'\\' => {
                let Some(&e) = t.get(i + 1) else {
                    return Err((i, "unterminated escape"));
                };
                i += 2;
                match e {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'v' => out.push(11),
                    b'\\' | b'"' | b'\'' => out.push(e),
                    b'x' | b'u' | b'U' => {
                        let n = match e {
                            b'x' => 2,
                            b'u' => 4,
                            _ => 8,
                        };
                        let hex = t.get(i..i + n).ok_or((i, "short hex escape"))?;
                        let s = std::str::from_utf8(hex).map_err(|_| (i, "bad hex escape"))?;
                        let v = u32::from_str_radix(s, 16).map_err(|_| (i, "bad hex escape"))?;
                        i += n;
                        if e == b'x' {
                            out.push(v as u8);
                        } else {
                            let c = char::from_u32(v).unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                    }
                    _ => return Err((i - 1, "unknown escape in quoted string")),
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unquote() {
        let (s, n) = super::unquote_go(br#""a\"b\n\x41\u00e9" rest"#, 0).unwrap();
        assert_eq!(s, "a\"b\nAé");
        assert_eq!(n, 18);
        assert!(super::unquote_go(br#""abc"#, 0).is_err());
    }
}
