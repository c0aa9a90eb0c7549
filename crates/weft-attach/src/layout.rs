//! Where the runtime's fields sit: `g`, `gobuf`, `sudog`, `hchan`.
//!
//! Offsets move between Go versions, so they come from the binary's own
//! DWARF when it has one; stripped binaries (`-ldflags=-s -w`) fall back to
//! per-version tables. The tables were read from each toolchain's DWARF and
//! a test checks them against it (`tests/attach.rs`).

use std::collections::HashMap;

use object::{Object, ObjectSection};

/// Field offsets (bytes) of the runtime structures weft reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub g_stack_lo: u64,
    pub g_stack_hi: u64,
    pub g_sched_sp: u64,
    pub g_sched_pc: u64,
    pub g_syscallsp: u64,
    pub g_syscallpc: u64,
    pub g_atomicstatus: u64,
    pub g_goid: u64,
    pub g_waitsince: u64,
    pub g_waitreason: u64,
    pub g_waiting: u64,
    pub g_parent_goid: Option<u64>,
    pub g_gopc: u64,
    pub g_startpc: u64,
    /// `g.labels`: pointer to the pprof label set (read for Go 1.24+).
    pub g_labels: u64,
    /// `g.lockedm`: non-zero when the goroutine is locked to its thread.
    pub g_lockedm: u64,
    /// `g.trackingSeq` (a `uint8`): the runtime adds one each time the
    /// goroutine stops running, so an unchanged value says it has not run
    /// since (modulo 256); part of the proof that a kept stack still holds.
    pub g_tracking_seq: u64,
    /// Bytes to read per g: enough to cover every field above.
    pub g_read_len: u64,
    pub sudog_c: u64,
    pub sudog_is_select: u64,
    pub sudog_waitlink: u64,
    pub sudog_read_len: u64,
    pub hchan_qcount: u64,
    pub hchan_dataqsiz: u64,
    pub hchan_closed: u64,
    pub hchan_read_len: u64,
}

impl Layout {
    fn finish(mut self) -> Layout {
        let g = [
            self.g_stack_hi,
            self.g_sched_pc,
            self.g_sched_sp,
            self.g_syscallsp,
            self.g_syscallpc,
            self.g_atomicstatus,
            self.g_goid,
            self.g_waitsince,
            self.g_waitreason,
            self.g_waiting,
            self.g_parent_goid.unwrap_or(0),
            self.g_gopc,
            self.g_startpc,
            self.g_labels,
            self.g_lockedm,
            self.g_tracking_seq,
        ];
        self.g_read_len = g.iter().max().unwrap() + 8;
        self.sudog_read_len = [self.sudog_c, self.sudog_is_select, self.sudog_waitlink]
            .iter()
            .max()
            .unwrap()
            + 8;
        self.hchan_read_len = [self.hchan_qcount, self.hchan_dataqsiz, self.hchan_closed]
            .iter()
            .max()
            .unwrap()
            + 8;
        self
    }

    /// The built-in table for Go 1.`minor` on amd64, for binaries without DWARF.
    pub fn for_version(minor: u32) -> Option<Layout> {
        // (goid, waitsince, waitreason, waiting, parentGoid, gopc, startpc,
        //  syscallsp, syscallpc, atomicstatus, sudog.isSelect, waitlink, c,
        //  labels, lockedm, trackingSeq)
        let t: [u64; 16] = match minor {
            22 => [
                152, 168, 176, 312, 272, 280, 296, 112, 120, 144, 52, 64, 80, 344, 208, 191,
            ],
            23 | 24 => [
                160, 176, 184, 320, 280, 288, 304, 112, 120, 152, 52, 64, 80, 352, 216, 199,
            ],
            25 => [
                152, 168, 176, 312, 272, 280, 296, 104, 112, 144, 52, 64, 80, 344, 208, 191,
            ],
            26 | 27 => [
                152, 168, 176, 320, 280, 288, 304, 104, 112, 144, 60, 72, 88, 352, 208, 191,
            ],
            _ => return None,
        };
        Some(
            Layout {
                g_stack_lo: 0,
                g_stack_hi: 8,
                g_sched_sp: 56,
                g_sched_pc: 64,
                g_syscallsp: t[7],
                g_syscallpc: t[8],
                g_atomicstatus: t[9],
                g_goid: t[0],
                g_waitsince: t[1],
                g_waitreason: t[2],
                g_waiting: t[3],
                g_parent_goid: Some(t[4]),
                g_gopc: t[5],
                g_startpc: t[6],
                g_labels: t[13],
                g_lockedm: t[14],
                g_tracking_seq: t[15],
                g_read_len: 0,
                sudog_c: t[12],
                sudog_is_select: t[10],
                sudog_waitlink: t[11],
                sudog_read_len: 0,
                hchan_qcount: 0,
                hchan_dataqsiz: 8,
                hchan_closed: 28,
                hchan_read_len: 0,
            }
            .finish(),
        )
    }

    /// Reads the layout from the binary's DWARF; `Ok(None)` when it has none.
    pub fn from_dwarf(file: &object::File) -> Result<Option<Layout>, String> {
        if file.section_by_name(".debug_info").is_none()
            && file.section_by_name(".zdebug_info").is_none()
        {
            return Ok(None);
        }
        let structs = dwarf_structs(
            file,
            &[
                "runtime.g",
                "runtime.gobuf",
                "runtime.sudog",
                "runtime.hchan",
                "runtime.stack",
            ],
        )?;
        let field = |s: &str, f: &str| -> Result<u64, String> {
            structs
                .get(s)
                .and_then(|m| m.get(f))
                .copied()
                .ok_or_else(|| format!("DWARF has no field {s}.{f}"))
        };
        let sched = field("runtime.g", "sched")?;
        let stack = field("runtime.g", "stack")?;
        Ok(Some(
            Layout {
                g_stack_lo: stack + field("runtime.stack", "lo")?,
                g_stack_hi: stack + field("runtime.stack", "hi")?,
                g_sched_sp: sched + field("runtime.gobuf", "sp")?,
                g_sched_pc: sched + field("runtime.gobuf", "pc")?,
                g_syscallsp: field("runtime.g", "syscallsp")?,
                g_syscallpc: field("runtime.g", "syscallpc")?,
                g_atomicstatus: field("runtime.g", "atomicstatus")?,
                g_goid: field("runtime.g", "goid")?,
                g_waitsince: field("runtime.g", "waitsince")?,
                g_waitreason: field("runtime.g", "waitreason")?,
                g_waiting: field("runtime.g", "waiting")?,
                g_parent_goid: field("runtime.g", "parentGoid").ok(),
                g_gopc: field("runtime.g", "gopc")?,
                g_startpc: field("runtime.g", "startpc")?,
                g_labels: field("runtime.g", "labels")?,
                g_lockedm: field("runtime.g", "lockedm")?,
                g_tracking_seq: field("runtime.g", "trackingSeq")?,
                g_read_len: 0,
                sudog_c: field("runtime.sudog", "c")?,
                sudog_is_select: field("runtime.sudog", "isSelect")?,
                sudog_waitlink: field("runtime.sudog", "waitlink")?,
                sudog_read_len: 0,
                hchan_qcount: field("runtime.hchan", "qcount")?,
                hchan_dataqsiz: field("runtime.hchan", "dataqsiz")?,
                hchan_closed: field("runtime.hchan", "closed")?,
                hchan_read_len: 0,
            }
            .finish(),
        ))
    }
}

type Fields = HashMap<String, u64>;

/// Member offsets of the named structure types, from DWARF.
fn dwarf_structs(file: &object::File, wanted: &[&str]) -> Result<HashMap<String, Fields>, String> {
    let load = |id: gimli::SectionId| -> Result<std::borrow::Cow<[u8]>, gimli::Error> {
        Ok(match file.section_by_name(id.name()) {
            Some(s) => s
                .uncompressed_data()
                .unwrap_or(std::borrow::Cow::Borrowed(&[])),
            None => std::borrow::Cow::Borrowed(&[]),
        })
    };
    let owned = gimli::DwarfSections::load(load).map_err(|e| format!("loading DWARF: {e}"))?;
    let dwarf = owned.borrow(|s| gimli::EndianSlice::new(s, gimli::LittleEndian));
    let mut out: HashMap<String, Fields> = HashMap::new();
    let mut units = dwarf.units();
    while let Some(header) = units.next().map_err(|e| format!("DWARF unit: {e}"))? {
        // Only the runtime's own compilation unit defines these types.
        let unit = dwarf.unit(header).map_err(|e| format!("DWARF unit: {e}"))?;
        let mut entries = unit.entries();
        let mut current: Option<String> = None;
        let mut depth: isize = 0;
        let mut struct_depth: isize = -1;
        while let Some((delta, entry)) = entries
            .next_dfs()
            .map_err(|e| format!("DWARF entry: {e}"))?
        {
            depth += delta;
            if current.is_some() && depth <= struct_depth {
                current = None;
            }
            let name = match entry.attr_value(gimli::DW_AT_name).ok().flatten() {
                Some(v) => dwarf
                    .attr_string(&unit, v)
                    .ok()
                    .map(|s| String::from_utf8_lossy(&s).into_owned()),
                None => None,
            };
            if entry.tag() == gimli::DW_TAG_structure_type {
                if let Some(n) =
                    name.filter(|n| wanted.contains(&n.as_str()) && !out.contains_key(n))
                {
                    current = Some(n.clone());
                    struct_depth = depth;
                    out.insert(n, Fields::new());
                }
            } else if entry.tag() == gimli::DW_TAG_member && depth == struct_depth + 1 {
                if let (Some(s), Some(n)) = (&current, name) {
                    if let Some(gimli::AttributeValue::Udata(off)) = entry
                        .attr_value(gimli::DW_AT_data_member_location)
                        .ok()
                        .flatten()
                    {
                        out.get_mut(s).unwrap().insert(n, off);
                    } else if let Some(v) = entry
                        .attr_value(gimli::DW_AT_data_member_location)
                        .ok()
                        .flatten()
                    {
                        if let Some(off) = v.udata_value() {
                            out.get_mut(s).unwrap().insert(n, off);
                        }
                    }
                }
            }
        }
        if wanted.iter().all(|w| out.contains_key(*w)) {
            break;
        }
    }
    Ok(out)
}
