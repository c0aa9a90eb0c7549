//! Small string helpers shared by the text parsers.

/// Turns byte slices from the input into owned strings.
///
/// Kept as a seam: the model owns its strings, so each frame costs one
/// allocation whatever we do; this only avoids re-validating UTF-8 for
/// the common case and replaces invalid bytes instead of failing.
#[derive(Default)]
pub(crate) struct Interner;

impl Interner {
    #[inline]
    pub fn get(&mut self, b: &[u8]) -> String {
        match std::str::from_utf8(b) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(b).into_owned(),
        }
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
