//! A reader for Go's `.gopclntab` (the Go 1.20+ layout, magic 0xFFFFFFF1):
//! function bounds and names, frame sizes (pcsp), file/line tables and the
//! inlining tree. It is what makes stripped binaries readable.
//!
//! Layout, as the runtime's `symtab.go` describes it: a header with offsets
//! to five tables (function names, compilation-unit file indexes, file
//! names, pc-value tables, function table); the function table is
//! `nfunc+1` pairs of (entry offset from text start, offset of the
//! function's `_func` record); each `_func` points into the pc-value tables.

/// The header magic of Go 1.20 and later.
pub const MAGIC_GO120: u32 = 0xFFFF_FFF1;

const PCDATA_INL_TREE_INDEX: usize = 2;
const FUNCDATA_INL_TREE: usize = 3;

/// A parsed `.gopclntab` plus what is needed to resolve its offsets.
pub struct Pclntab {
    data: Vec<u8>,
    pub text_start: u64,
    nfunc: usize,
    funcname: usize,
    cu: usize,
    filetab: usize,
    pctab: usize,
    pcln: usize,
    quantum: u64,
}

/// One function's `_func` record.
#[derive(Clone, Copy, Debug)]
pub struct Func {
    pub entry: u64,
    pub end: u64,
    off: usize,
}

/// A source position of one (possibly inlined) frame.
#[derive(Clone, Debug, PartialEq)]
pub struct SrcFrame {
    pub func: String,
    /// The runtime's `funcID` of the (possibly inlined) function.
    pub func_id: u8,
    pub file: String,
    pub line: u32,
}

impl Pclntab {
    /// Parses the header. `text_start` is the module's text start
    /// (`moduledata.text`) at link-time addresses, used when the header
    /// does not store it (Go 1.27 writes 0 there).
    pub fn parse(data: Vec<u8>, text_start: u64) -> Result<Pclntab, String> {
        if data.len() < 72 {
            return Err(format!(
                ".gopclntab is {} bytes, shorter than its header",
                data.len()
            ));
        }
        let magic = u32::from_le_bytes(data[0..4].try_into().unwrap());
        if magic != MAGIC_GO120 {
            return Err(format!(
                ".gopclntab magic is {magic:#x}, expected {MAGIC_GO120:#x} (Go 1.20 or later)"
            ));
        }
        if data[7] != 8 {
            return Err(format!(
                ".gopclntab pointer size is {}, only 64-bit targets are supported",
                data[7]
            ));
        }
        let word = |off: usize| u64::from_le_bytes(data[off..off + 8].try_into().unwrap());
        let header_text = word(24);
        let mut t = Pclntab {
            nfunc: word(8) as usize,
            text_start: if header_text != 0 {
                header_text
            } else {
                text_start
            },
            funcname: word(32) as usize,
            cu: word(40) as usize,
            filetab: word(48) as usize,
            pctab: word(56) as usize,
            pcln: word(64) as usize,
            quantum: data[6].max(1) as u64,
            data,
        };
        let ftab_end = t.pcln.checked_add((t.nfunc + 1) * 8);
        if [t.funcname, t.cu, t.filetab, t.pctab, t.pcln]
            .iter()
            .any(|&o| o > t.data.len())
            || !matches!(ftab_end, Some(e) if e <= t.data.len())
        {
            return Err(format!(
                ".gopclntab header offsets point past its {} bytes",
                t.data.len()
            ));
        }
        if t.nfunc == 0 {
            return Err(".gopclntab lists no functions".into());
        }
        t.data.shrink_to_fit();
        Ok(t)
    }

    fn u32_at(&self, off: usize) -> Option<u32> {
        self.data
            .get(off..off + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    }

    fn cstr(&self, off: usize) -> Option<&str> {
        let s = self.data.get(off..)?;
        let n = s.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&s[..n]).ok()
    }

    /// The `i`th function, in address order.
    pub fn func_at(&self, i: usize) -> Option<Func> {
        if i >= self.nfunc {
            return None;
        }
        let e = self.pcln + i * 8;
        let entry = self.text_start.wrapping_add(self.u32_at(e)? as u64);
        let end = self.text_start.wrapping_add(self.u32_at(e + 8)? as u64);
        let off = self.pcln + self.u32_at(e + 4)? as usize;
        if off + 44 > self.data.len() {
            return None;
        }
        Some(Func { entry, end, off })
    }

    /// The function containing `pc` (a link-time address).
    pub fn find(&self, pc: u64) -> Option<Func> {
        if pc < self.text_start {
            return None;
        }
        let rel = pc - self.text_start;
        if rel > u32::MAX as u64 {
            return None;
        }
        let rel = rel as u32;
        // Last entry whose start <= pc (the table has nfunc+1 sorted starts).
        let (mut lo, mut hi) = (0usize, self.nfunc);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.u32_at(self.pcln + mid * 8)? <= rel {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let f = self.func_at(lo.checked_sub(1)?)?;
        (pc < f.end).then_some(f)
    }

    fn field(&self, f: Func, off: usize) -> u32 {
        self.u32_at(f.off + off).unwrap_or(0)
    }

    /// The function's name as Go prints it.
    pub fn name(&self, f: Func) -> &str {
        self.name_at(self.field(f, 4) as i32)
    }

    fn name_at(&self, name_off: i32) -> &str {
        if name_off < 0 {
            return "?";
        }
        self.cstr(self.funcname + name_off as usize).unwrap_or("?")
    }

    /// The runtime's `funcID` byte for special functions.
    pub fn func_id(&self, f: Func) -> u8 {
        self.data.get(f.off + 40).copied().unwrap_or(0)
    }

    fn npcdata(&self, f: Func) -> usize {
        self.field(f, 28) as usize
    }

    fn nfuncdata(&self, f: Func) -> usize {
        self.data.get(f.off + 43).copied().unwrap_or(0) as usize
    }

    /// Offset (from `moduledata.gofunc`) of funcdata `i`, if present.
    pub fn funcdata(&self, f: Func, i: usize) -> Option<u32> {
        if i >= self.nfuncdata(f) {
            return None;
        }
        let v = self.u32_at(f.off + 44 + self.npcdata(f) * 4 + i * 4)?;
        (v != u32::MAX).then_some(v)
    }

    fn pcdata(&self, f: Func, i: usize, pc: u64) -> Option<i32> {
        if i >= self.npcdata(f) {
            return None;
        }
        let table = self.u32_at(f.off + 44 + i * 4)?;
        if table == 0 {
            return None;
        }
        self.pcvalue(f, table, pc)
    }

    /// Decodes a pc-value table: the value in effect at `pc`.
    fn pcvalue(&self, f: Func, table: u32, pc: u64) -> Option<i32> {
        let mut p = self.pctab.checked_add(table as usize)?;
        let mut val: i32 = -1;
        let mut cur = f.entry;
        let mut first = true;
        loop {
            let (uv, n) = varint(self.data.get(p..)?)?;
            p += n;
            if uv == 0 && !first {
                return None;
            }
            first = false;
            // zig-zag decoding of the value delta
            let delta = if uv & 1 != 0 {
                !((uv >> 1) as i32)
            } else {
                (uv >> 1) as i32
            };
            val = val.wrapping_add(delta);
            let (pcd, n) = varint(self.data.get(p..)?)?;
            p += n;
            cur = cur.checked_add(pcd as u64 * self.quantum)?;
            if pc < cur {
                return Some(val);
            }
            if cur >= f.end {
                return None;
            }
        }
    }

    /// Stack-pointer delta (frame size below the return address) at `pc`.
    pub fn sp_delta(&self, f: Func, pc: u64) -> Option<i32> {
        self.pcvalue(f, self.field(f, 16), pc)
    }

    /// File and line of `pc` in `f` (innermost inlined position).
    pub fn file_line(&self, f: Func, pc: u64) -> (String, u32) {
        let line = self.pcvalue(f, self.field(f, 24), pc).unwrap_or(0).max(0) as u32;
        let file = self
            .pcvalue(f, self.field(f, 20), pc)
            .filter(|&i| i >= 0)
            .and_then(|i| self.u32_at(self.cu + (self.field(f, 32) as usize + i as usize) * 4))
            .filter(|&off| off != u32::MAX)
            .and_then(|off| self.cstr(self.filetab + off as usize))
            .unwrap_or("?")
            .to_string();
        (file, line)
    }

    /// The frames at `pc`, innermost inlined call first, the physical
    /// function last. `gofunc` reads static bytes at `moduledata.gofunc + off`.
    pub fn frames_at(
        &self,
        f: Func,
        pc: u64,
        gofunc: &dyn Fn(u64, usize) -> Option<Vec<u8>>,
    ) -> Vec<SrcFrame> {
        let mut out = Vec::new();
        let mut pc = pc;
        let tree = self.funcdata(f, FUNCDATA_INL_TREE);
        if let Some(tree) = tree {
            // Each step moves from an inlined body to its call site in the
            // parent; bound the walk so a corrupt table cannot loop.
            let mut idx = self.pcdata(f, PCDATA_INL_TREE_INDEX, pc).unwrap_or(-1);
            for _ in 0..64 {
                if idx < 0 {
                    break;
                }
                let Some(rec) = gofunc(tree as u64 + idx as u64 * 16, 16) else {
                    break;
                };
                let name_off = i32::from_le_bytes(rec[4..8].try_into().unwrap());
                let parent_pc = i32::from_le_bytes(rec[8..12].try_into().unwrap());
                let (file, line) = self.file_line(f, pc);
                out.push(SrcFrame {
                    func: self.name_at(name_off).to_string(),
                    func_id: rec[0],
                    file,
                    line,
                });
                pc = f.entry.wrapping_add(parent_pc as i64 as u64);
                idx = self.pcdata(f, PCDATA_INL_TREE_INDEX, pc).unwrap_or(-1);
            }
        }
        let (file, line) = self.file_line(f, pc);
        out.push(SrcFrame {
            func: self.name(f).to_string(),
            func_id: self.func_id(f),
            file,
            line,
        });
        out
    }
}

/// Decodes an unsigned LEB128 varint; returns the value and its length.
fn varint(b: &[u8]) -> Option<(u32, usize)> {
    let mut v: u32 = 0;
    for (i, &byte) in b.iter().enumerate().take(5) {
        v |= ((byte & 0x7f) as u32) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(varint(&[0x05]), Some((5, 1)));
        assert_eq!(varint(&[0x80, 0x01]), Some((128, 2)));
        assert_eq!(varint(&[0x80, 0x80]), None);
        assert_eq!(varint(&[]), None);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Pclntab::parse(vec![0; 10], 0).is_err());
        assert!(Pclntab::parse(vec![0xff; 200], 0).is_err());
        let mut h = vec![0u8; 80];
        h[0..4].copy_from_slice(&MAGIC_GO120.to_le_bytes());
        h[7] = 8;
        h[8] = 1; // nfunc = 1
        h[64] = 200; // function table past the end
        assert!(Pclntab::parse(h, 0).is_err());
    }
}
