//! Unsigned LEB128 varints, decoded the way the Go runtime's reader does:
//! at most 10 bytes, the 10th may only carry the top bit of a u64.

/// Result of decoding one varint from the front of a slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Varint {
    /// Value and number of bytes used.
    Ok(u64, usize),
    /// The slice ended before the last byte (`n` bytes were seen).
    Short(usize),
    /// More than 64 bits.
    Overflow,
}

/// Decodes one varint from the front of `b`.
#[inline(always)]
pub fn uvarint(b: &[u8]) -> Varint {
    // Fast path: one byte.
    if let Some(&b0) = b.first() {
        if b0 < 0x80 {
            return Varint::Ok(b0 as u64, 1);
        }
    }
    let mut x: u64 = 0;
    let mut shift = 0u32;
    for (i, &byte) in b.iter().enumerate() {
        if i == 10 {
            return Varint::Overflow;
        }
        if byte < 0x80 {
            if i == 9 && byte > 1 {
                return Varint::Overflow;
            }
            return Varint::Ok(x | (byte as u64) << shift, i + 1);
        }
        x |= ((byte & 0x7f) as u64) << shift;
        shift += 7;
    }
    if b.len() >= 10 {
        return Varint::Overflow;
    }
    Varint::Short(b.len())
}

/// Decodes a varint, treating a short read as an error (for data already in memory).
#[inline(always)]
#[allow(dead_code)]
pub fn uvarint_full(b: &[u8]) -> Option<(u64, usize)> {
    match uvarint(b) {
        Varint::Ok(v, n) => Some((v, n)),
        _ => None,
    }
}

/// Appends `v` as a varint.
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for v in [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX - 1, u64::MAX] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            assert_eq!(uvarint(&b), Varint::Ok(v, b.len()));
            assert_eq!(uvarint(&b[..b.len() - 1]), Varint::Short(b.len() - 1));
        }
    }

    #[test]
    fn padded_and_overflowing() {
        // The runtime pads batch sizes to 10 bytes; still fits.
        let padded = [0x85, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(uvarint(&padded), Varint::Ok(5, 10));
        // 10th byte with more than the top bit: overflow.
        let big = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(uvarint(&big), Varint::Overflow);
        // 11 bytes: overflow, never reads past 10.
        let long = [0x80u8; 11];
        assert_eq!(uvarint(&long), Varint::Overflow);
        assert_eq!(uvarint(&[]), Varint::Short(0));
    }
}
