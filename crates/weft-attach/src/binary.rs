//! What weft needs from the target's executable, parsed once: Go version,
//! struct layouts, `.gopclntab`, the runtime variables' addresses (from the
//! symbol table, or found by their shape when the binary is stripped) and
//! static data (for the inlining tree and strings).

use std::collections::HashMap;

use object::{Object, ObjectSection, ObjectSymbol};

use crate::layout::Layout;
use crate::pclntab::Pclntab;

/// `moduledata` field offsets that weft uses; stable from Go 1.20 to 1.27
/// except `gofunc`, which moved in 1.27.
const MD_TEXT: usize = 176;
const MD_BSS: usize = 224;
const MD_EBSS: usize = 232;

/// The instruction sets weft reads goroutines of. They differ in how a
/// stack unwinds: amd64 pushes the return address on the stack at each
/// call; arm64 keeps it in a register and each function's prologue saves it
/// at the bottom of its own frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    Amd64,
    Arm64,
}

/// A parsed Go executable (addresses are link-time; add the load bias).
pub struct GoBinary {
    pub version: String,
    pub arch: Arch,
    pub minor: u32,
    pub layout: Layout,
    pub layout_from_dwarf: bool,
    pub pcln: Pclntab,
    statics: Statics,
    pub symbols: HashMap<String, (u64, u64)>,
    pub gofunc: u64,
    /// `[bss, ebss)` from moduledata: where `runtime.allgs` lives.
    pub bss: (u64, u64),
    /// Lowest PT_LOAD address, to compute the PIE load bias.
    pub first_load_vaddr: u64,
    pub is_pie: bool,
}

impl GoBinary {
    /// Parses `bytes`; errors are plain sentences for `AttachError::NotGo`.
    pub fn parse(bytes: &[u8]) -> Result<GoBinary, String> {
        let file = object::File::parse(bytes)
            .map_err(|e| format!("not an executable weft can parse: {e}"))?;
        let arch = match file.architecture() {
            object::Architecture::X86_64 => Arch::Amd64,
            object::Architecture::Aarch64 => Arch::Arm64,
            other => {
                return Err(format!(
                    "architecture {other:?} is not supported (amd64 and arm64 only)"
                ))
            }
        };
        let mut sections: Vec<(u64, Vec<u8>)> = Vec::new();
        for s in file.sections() {
            if s.kind() == object::SectionKind::UninitializedData || s.address() == 0 {
                continue;
            }
            if let Ok(d) = s.data() {
                if !d.is_empty()
                    && !s.name().unwrap_or("").starts_with(".debug")
                    && !s.name().unwrap_or("").starts_with(".zdebug")
                {
                    sections.push((s.address(), d.to_vec()));
                }
            }
        }
        sections.sort_by_key(|s| s.0);
        let buildinfo = file
            .section_by_name(".go.buildinfo")
            .and_then(|s| s.data().ok())
            .ok_or("it has no .go.buildinfo section (not built by the Go toolchain)")?;
        let version = buildinfo_version(buildinfo)
            .ok_or("its .go.buildinfo has no version (Go older than 1.18?)")?;
        let minor =
            parse_minor(&version).ok_or_else(|| format!("cannot read Go version {version:?}"))?;
        let pcln_sec = file
            .section_by_name(".gopclntab")
            // PIE builds put it in a relro section.
            .or_else(|| file.section_by_name(".data.rel.ro.gopclntab"))
            .ok_or("it has no .gopclntab section")?;
        let pcln_addr = pcln_sec.address();
        let pcln_data = pcln_sec
            .data()
            .map_err(|e| format!(".gopclntab: {e}"))?
            .to_vec();

        let mut symbols = HashMap::new();
        for sym in file.symbols() {
            if let Ok(name) = sym.name() {
                if matches!(
                    name,
                    "runtime.allgs"
                        | "runtime.allglen"
                        | "runtime.waitReasonStrings"
                        | "runtime.firstmoduledata"
                        | "go:func.*"
                ) {
                    symbols.insert(name.to_string(), (sym.address(), sym.size()));
                }
            }
        }

        let statics = Statics { sections };
        // moduledata: from its symbol, else the word in .noptrdata that
        // points at the pclntab header, followed by funcnametab's pointer.
        let md = match symbols.get("runtime.firstmoduledata") {
            Some(&(a, _)) => a,
            None => statics
                .find_moduledata(pcln_addr, &pcln_data)
                .ok_or("cannot find runtime.firstmoduledata (no symbol, and no match in the data sections)")?,
        };
        let md_word = |off: usize| statics.u64_at(md.wrapping_add(off as u64));
        let text = md_word(MD_TEXT).ok_or("cannot read moduledata.text")?;
        let bss = (md_word(MD_BSS).unwrap_or(0), md_word(MD_EBSS).unwrap_or(0));
        let gofunc = match symbols.get("go:func.*") {
            Some(&(a, _)) => a,
            None => md_word(if minor >= 27 { 344 } else { 320 }).unwrap_or(0),
        };
        let pcln = Pclntab::parse(pcln_data, text)?;
        let (layout, layout_from_dwarf) = match Layout::from_dwarf(&file)? {
            Some(l) => (l, true),
            None => (
                Layout::for_version(minor)
                    .ok_or_else(|| format!("Go {version} without DWARF: weft has layout tables for Go 1.22 to 1.27 only"))?,
                false,
            ),
        };
        let bin = GoBinary {
            version,
            arch,
            minor,
            layout,
            layout_from_dwarf,
            pcln,
            statics,
            symbols,
            gofunc,
            bss,
            first_load_vaddr: file
                .segments()
                .map(|s| object::ObjectSegment::address(&s))
                .min()
                .unwrap_or(0),
            is_pie: file.kind() == object::ObjectKind::Dynamic,
        };
        Ok(bin)
    }

    /// Static bytes at a link-time address, from the file's sections.
    pub fn static_bytes(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.statics.bytes_at(addr, len)
    }

    pub fn static_u64(&self, addr: u64) -> Option<u64> {
        self.statics.u64_at(addr)
    }

    /// The runtime's wait-reason strings, read from the binary's static data:
    /// by symbol when present, else by finding the array by its first two
    /// entries ("" then "GC assist marking", true for Go 1.22–1.27).
    pub fn wait_reasons(&self) -> Vec<String> {
        let read_str = |ptr: u64, len: u64| -> Option<String> {
            if len > 200 {
                return None;
            }
            if len == 0 {
                return Some(String::new());
            }
            self.static_bytes(ptr, len as usize)
                .and_then(|b| std::str::from_utf8(b).ok())
                .map(str::to_string)
        };
        let read_array = |start: u64, max: usize| -> Vec<String> {
            let mut out = Vec::new();
            for i in 0..max {
                let (Some(p), Some(l)) = (
                    self.static_u64(start.wrapping_add(i as u64 * 16)),
                    self.static_u64(start.wrapping_add(i as u64 * 16 + 8)),
                ) else {
                    break;
                };
                match read_str(p, l) {
                    Some(s) if i == 0 || !s.is_empty() => out.push(s),
                    _ => break,
                }
            }
            out
        };
        if let Some(&(addr, size)) = self.symbols.get("runtime.waitReasonStrings") {
            return read_array(addr, (size / 16) as usize);
        }
        const FIRST: &str = "GC assist marking";
        for (base, data) in &self.statics.sections {
            for (i, w) in data.chunks_exact(8).enumerate() {
                if i < 3 || u64::from_le_bytes(w.try_into().unwrap()) != FIRST.len() as u64 {
                    continue;
                }
                let word =
                    |j: usize| u64::from_le_bytes(data[j * 8..j * 8 + 8].try_into().unwrap());
                if word(i - 2) == 0
                    && read_str(word(i - 1), FIRST.len() as u64).as_deref() == Some(FIRST)
                {
                    return read_array(base + (i as u64 - 3) * 8, 256);
                }
            }
        }
        Vec::new()
    }
}

/// The file's initialised sections (PROGBITS), by link-time address.
pub struct Statics {
    sections: Vec<(u64, Vec<u8>)>,
}

impl Statics {
    fn find_moduledata(&self, pcln_addr: u64, pcln: &[u8]) -> Option<u64> {
        let funcname_off = u64::from_le_bytes(pcln.get(32..40)?.try_into().ok()?);
        for (addr, data) in &self.sections {
            for (i, w) in data.chunks_exact(8).enumerate() {
                if u64::from_le_bytes(w.try_into().unwrap()) == pcln_addr {
                    let next = data
                        .get(i * 8 + 8..i * 8 + 16)
                        .map(|b| u64::from_le_bytes(b.try_into().unwrap()));
                    if next == Some(pcln_addr.wrapping_add(funcname_off)) {
                        return Some(addr + i as u64 * 8);
                    }
                }
            }
        }
        None
    }

    /// Static bytes at a link-time address, from the file's sections.
    pub fn bytes_at(&self, addr: u64, len: usize) -> Option<&[u8]> {
        // Sections are sorted by address and do not overlap.
        let i = self
            .sections
            .partition_point(|s| s.0 <= addr)
            .checked_sub(1)?;
        let (base, data) = &self.sections[i];
        let off = usize::try_from(addr - base).ok()?;
        data.get(off..off.checked_add(len)?)
    }

    pub fn u64_at(&self, addr: u64) -> Option<u64> {
        self.bytes_at(addr, 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    }
}

/// The Go version string from `.go.buildinfo` (Go 1.18+ inline format).
pub fn buildinfo_version(b: &[u8]) -> Option<String> {
    if b.len() < 32 || &b[..14] != b"\xff Go buildinf:" || b[15] & 2 == 0 {
        return None;
    }
    let mut p = 32;
    let mut len: usize = 0;
    let mut shift = 0;
    loop {
        let byte = *b.get(p)?;
        p += 1;
        len |= ((byte & 0x7f) as usize) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
    std::str::from_utf8(b.get(p..p + len)?)
        .ok()
        .map(str::to_string)
}

/// `go1.22.5` → 22.
pub fn parse_minor(v: &str) -> Option<u32> {
    let rest = v.strip_prefix("go1.")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_minor("go1.22.12"), Some(22));
        assert_eq!(parse_minor("go1.27rc1"), Some(27));
        assert_eq!(parse_minor("devel"), None);
        let mut b = b"\xff Go buildinf:\x08\x02".to_vec();
        b.resize(32, 0);
        b.push(9);
        b.extend_from_slice(b"go1.23.4x");
        assert_eq!(buildinfo_version(&b).as_deref(), Some("go1.23.4x"));
        b.truncate(36);
        assert_eq!(buildinfo_version(&b), None);
    }
}
