//! Byte-exact reproductions of the bits of Go formatting the reference
//! printer uses: `%q` string quoting and RFC 3339 times with nanoseconds.
use std::io::{self, Write};

/// Writes `s` quoted the way Go's `strconv.Quote` (`%q`) does.
pub fn write_quoted<W: Write + ?Sized>(w: &mut W, s: &[u8]) -> io::Result<()> {
    // Common case: printable ASCII with nothing to escape.
    if s.iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        w.write_all(b"\"")?;
        w.write_all(s)?;
        return w.write_all(b"\"");
    }
    let mut out = Vec::with_capacity(s.len() + 8);
    quote_into(&mut out, s);
    w.write_all(&out)
}

/// Appends the `%q` form of `s` to `out`.
pub fn quote_into(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            let r = c as u32;
            if c == '"' || c == '\\' {
                out.push(b'\\');
                out.push(c as u8);
            } else if is_print(c) {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            } else {
                match c {
                    '\x07' => out.extend_from_slice(b"\\a"),
                    '\x08' => out.extend_from_slice(b"\\b"),
                    '\x0c' => out.extend_from_slice(b"\\f"),
                    '\n' => out.extend_from_slice(b"\\n"),
                    '\r' => out.extend_from_slice(b"\\r"),
                    '\t' => out.extend_from_slice(b"\\t"),
                    '\x0b' => out.extend_from_slice(b"\\v"),
                    _ if r < 0x20 || r == 0x7f => {
                        out.extend_from_slice(b"\\x");
                        out.push(HEX[(r >> 4) as usize]);
                        out.push(HEX[(r & 15) as usize]);
                    }
                    _ if r < 0x10000 => {
                        out.extend_from_slice(b"\\u");
                        for sh in [12, 8, 4, 0] {
                            out.push(HEX[((r >> sh) & 15) as usize]);
                        }
                    }
                    _ => {
                        out.extend_from_slice(b"\\U");
                        for sh in [28, 24, 20, 16, 12, 8, 4, 0] {
                            out.push(HEX[((r >> sh) & 15) as usize]);
                        }
                    }
                }
            }
        }
        for &b in chunk.invalid() {
            out.extend_from_slice(b"\\x");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 15) as usize]);
        }
    }
    out.push(b'"');
}

/// Approximates Go's `strconv.IsPrint` (letters, marks, numbers, punctuation,
/// symbols and the ASCII space). Exact for ASCII and Latin-1; outside that,
/// format controls, separators, private use and noncharacters are treated
/// as non-printable, everything else as printable.
fn is_print(c: char) -> bool {
    let r = c as u32;
    if r < 0x80 {
        return (0x20..0x7f).contains(&r);
    }
    if r < 0xa1 {
        return false; // C1 controls and NBSP
    }
    !matches!(r,
        0xad
        | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2
        | 0x1680 | 0x180e
        | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x206f
        | 0x3000 | 0xd800..=0xdfff | 0xe000..=0xf8ff
        | 0xfeff | 0xfff0..=0xfffb | 0xfffe | 0xffff
        | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3
        | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f
        | 0xf0000..=0x10ffff
    ) && (r & 0xfffe) != 0xfffe
}

/// Formats Unix seconds and nanoseconds as Go's
/// `time.Unix(sec, nsec).Format(time.RFC3339Nano)` does in UTC.
pub fn rfc3339_nano_utc(sec: i64, nsec: i64) -> String {
    // Normalise like time.Unix: move whole seconds out of nsec.
    let mut sec = sec as i128;
    let mut nsec = nsec as i128;
    if !(0..1_000_000_000).contains(&nsec) {
        sec += nsec.div_euclid(1_000_000_000);
        nsec = nsec.rem_euclid(1_000_000_000);
    }
    let days = sec.div_euclid(86_400);
    let secs_of_day = sec.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    let mut out = String::with_capacity(40);
    if y < 0 {
        out.push('-');
    }
    out.push_str(&format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        y.abs(),
        m,
        d,
        hh,
        mm,
        ss
    ));
    if nsec != 0 {
        let frac = format!("{nsec:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i128) -> (i128, i128, i128) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &[u8]) -> String {
        let mut v = Vec::new();
        quote_into(&mut v, s);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(q(b"hello"), "\"hello\"");
        assert_eq!(q(b"a\"b\\c\n\t\x00\x7f"), r#""a\"b\\c\n\t\x00\x7f""#);
        assert_eq!(q("héllo ☺".as_bytes()), "\"héllo ☺\"");
        assert_eq!(q(b"\xff\xfe"), r#""\xff\xfe""#);
        assert_eq!(q("\u{a0}\u{200b}".as_bytes()), r#""\u00a0\u200b""#);
        assert_eq!(q("\u{e000}".as_bytes()), r#""\ue000""#);
        assert_eq!(q("\u{f0000}".as_bytes()), r#""\U000f0000""#);
    }

    #[test]
    fn rfc3339() {
        assert_eq!(
            rfc3339_nano_utc(1740755049, 123),
            "2025-02-28T15:04:09.000000123Z"
        );
        assert_eq!(rfc3339_nano_utc(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_nano_utc(0, 500_000_000), "1970-01-01T00:00:00.5Z");
        assert_eq!(rfc3339_nano_utc(-1, 0), "1969-12-31T23:59:59Z");
    }
}
