//! Interning: every function name, file, frame and stack the model keeps is
//! stored once and referred to by a small id, so the ingest path compares
//! integers, never strings. Trace stack and string ids are per generation;
//! a per-generation cache maps them to model ids, so each distinct stack is
//! resolved once per generation (about once a second), not once per event.
use serde::{Deserialize, Serialize};

/// Hash map keyed by ids, with the trace engine's fast integer hasher.
pub(crate) type IdMap<K, V> = weft_trace::fasthash::FastMap<K, V>;

/// Id of an interned string (0 is the empty string).
pub type StrId = u32;
/// Id of an interned stack (0 is the empty / unknown stack).
pub type StackId = u32;
/// Id of an interned frame.
pub type FrameId = u32;

/// One resolved frame, as stored (strings by id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FrameRec {
    pub func: StrId,
    pub file: StrId,
    pub line: u32,
}

/// A frame as the queries hand it out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameInfo {
    pub func: String,
    pub file: String,
    pub line: u32,
}

#[derive(Clone, Default)]
pub(crate) struct Interner {
    str_map: IdMap<Box<[u8]>, StrId>,
    strs: Vec<Box<str>>,
    frame_map: IdMap<FrameRec, FrameId>,
    pub frames: Vec<FrameRec>,
    stack_map: IdMap<Box<[FrameId]>, StackId>,
    // stack id -> (start, len) into stack_frames
    stacks: Vec<(u32, u32)>,
    stack_frames: Vec<FrameId>,
    // per generation: wire id -> model id
    gen: u64,
    gen_stacks: WireMap,
    gen_strs: WireMap,
    scratch: Vec<FrameId>,
}

impl Interner {
    pub fn new() -> Interner {
        let mut i = Interner::default();
        i.strs.push("".into());
        i.str_map.insert(Box::from(&b""[..]), 0);
        i.stacks.push((0, 0));
        i.stack_map.insert(Box::from(&[][..]), 0);
        i
    }

    pub fn str_id(&mut self, s: &[u8]) -> StrId {
        if let Some(&id) = self.str_map.get(s) {
            return id;
        }
        let id = self.strs.len() as StrId;
        self.strs.push(String::from_utf8_lossy(s).into());
        self.str_map.insert(s.into(), id);
        id
    }

    pub fn str(&self, id: StrId) -> &str {
        self.strs.get(id as usize).map(|s| &**s).unwrap_or("")
    }

    /// Starts a new generation: wire ids mean something else from here on.
    #[inline]
    pub fn set_generation(&mut self, gen: u64) {
        if gen != self.gen {
            self.gen = gen;
            self.gen_stacks.clear();
            self.gen_strs.clear();
        }
    }

    /// Forgets the per-generation caches (a new trace starts).
    pub fn reset_generation(&mut self) {
        self.gen = u64::MAX;
        self.gen_stacks.clear();
        self.gen_strs.clear();
    }

    /// A wire string id of the current generation, resolved through `resolve` on a miss.
    #[inline(always)]
    pub fn wire_str(&mut self, wire: u64, resolve: impl FnOnce() -> Vec<u8>) -> StrId {
        if wire == 0 {
            return 0;
        }
        if let Some(id) = self.gen_strs.get(wire) {
            return id;
        }
        self.resolve_wire_str(wire, resolve())
    }

    // Once per wire string and generation: kept out of line so that the
    // cached case above inlines into the ingest path.
    #[inline(never)]
    fn resolve_wire_str(&mut self, wire: u64, s: Vec<u8>) -> StrId {
        let id = self.str_id(&s);
        self.gen_strs.insert(wire, id);
        id
    }

    /// A trace stack of the current generation.
    #[inline(always)]
    pub fn wire_stack(&mut self, st: Option<weft_trace::Stack<'_>>) -> StackId {
        let Some(st) = st else { return 0 };
        if st.id == 0 {
            return 0;
        }
        if let Some(id) = self.gen_stacks.get(st.id) {
            return id;
        }
        self.resolve_wire_stack(st)
    }

    // Once per wire stack and generation (see `resolve_wire_str`).
    #[inline(never)]
    fn resolve_wire_stack(&mut self, st: weft_trace::Stack<'_>) -> StackId {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        for f in st.frames() {
            let func = self.str_id(f.func);
            let file = self.str_id(f.file);
            let rec = FrameRec {
                func,
                file,
                line: f.line.min(u32::MAX as u64) as u32,
            };
            scratch.push(self.frame_id(rec));
        }
        let id = self.stack_id(&scratch);
        self.scratch = scratch;
        self.gen_stacks.insert(st.id, id);
        id
    }

    /// A stack given by its frames (sampled sources), innermost first.
    pub fn stack_of(&mut self, frames: &[FrameRec]) -> StackId {
        let ids: Vec<FrameId> = frames.iter().map(|&r| self.frame_id(r)).collect();
        self.stack_id(&ids)
    }

    #[inline]
    fn frame_id(&mut self, rec: FrameRec) -> FrameId {
        match self.frame_map.get(&rec) {
            Some(&x) => x,
            None => {
                let x = self.frames.len() as FrameId;
                self.frames.push(rec);
                self.frame_map.insert(rec, x);
                x
            }
        }
    }

    #[inline]
    fn stack_id(&mut self, frames: &[FrameId]) -> StackId {
        match self.stack_map.get(frames) {
            Some(&x) => x,
            None => {
                let x = self.stacks.len() as StackId;
                self.stacks
                    .push((self.stack_frames.len() as u32, frames.len() as u32));
                self.stack_frames.extend_from_slice(frames);
                self.stack_map.insert(frames.into(), x);
                x
            }
        }
    }

    pub fn stack(&self, id: StackId) -> &[FrameId] {
        let (s, n) = self.stacks.get(id as usize).copied().unwrap_or((0, 0));
        &self.stack_frames[s as usize..(s + n) as usize]
    }

    pub fn frame(&self, id: FrameId) -> FrameRec {
        self.frames[id as usize]
    }

    pub fn frame_info(&self, id: FrameId) -> FrameInfo {
        let f = self.frame(id);
        FrameInfo {
            func: self.str(f.func).to_string(),
            file: self.str(f.file).to_string(),
            line: f.line,
        }
    }

    pub fn stack_info(&self, id: StackId) -> Vec<FrameInfo> {
        self.stack(id).iter().map(|&f| self.frame_info(f)).collect()
    }

    pub fn heap_bytes(&self) -> usize {
        self.strs.iter().map(|s| s.len() * 2 + 40).sum::<usize>()
            + self.frames.capacity() * 12 * 2
            + self.stack_frames.capacity() * 4 * 2
            + self.stacks.capacity() * (8 + 40)
            + self.gen_stacks.heap_bytes()
            + self.gen_strs.heap_bytes()
    }

    pub fn stack_count(&self) -> usize {
        self.stacks.len()
    }

    /// How many strings, frames and stacks are interned (for [`Self::delta_since`]).
    pub fn mark(&self) -> (usize, usize, usize) {
        (self.strs.len(), self.frames.len(), self.stacks.len())
    }

    /// What was interned after `mark`, for a copy of this interner to append.
    pub fn delta_since(&self, mark: (usize, usize, usize)) -> InternDelta {
        let (s, f, k) = mark;
        let mut d = InternDelta {
            base: mark,
            strs: self.strs[s..].to_vec(),
            frames: self.frames[f..].to_vec(),
            ..InternDelta::default()
        };
        for id in k..self.stacks.len() {
            let frames = self.stack(id as StackId);
            d.stack_lens.push(frames.len() as u32);
            d.stack_frames.extend_from_slice(frames);
        }
        d
    }

    /// Appends what another copy of this interner added (see [`Self::delta_since`]).
    pub fn append(&mut self, d: InternDelta) {
        assert_eq!(
            d.base,
            self.mark(),
            "interned ids out of step: batches must be applied in order to the model the feeder was made from"
        );
        for s in d.strs {
            self.str_map
                .insert(s.as_bytes().into(), self.strs.len() as StrId);
            self.strs.push(s);
        }
        for f in d.frames {
            self.frame_map.insert(f, self.frames.len() as FrameId);
            self.frames.push(f);
        }
        let mut at = 0;
        for n in d.stack_lens {
            let frames = &d.stack_frames[at..at + n as usize];
            at += n as usize;
            let id = self.stacks.len() as StackId;
            self.stacks
                .push((self.stack_frames.len() as u32, frames.len() as u32));
            self.stack_frames.extend_from_slice(frames);
            self.stack_map.insert(frames.into(), id);
        }
    }
}

/// Wire id (one generation's string or stack id) -> model id. Go numbers a
/// generation's strings and stacks densely from 1, so small ids index a
/// vector (no hashing on the ingest path); larger ones go to a map.
#[derive(Clone, Default)]
pub(crate) struct WireMap {
    // id + 1 per wire id (0: not resolved yet).
    dense: Vec<u32>,
    sparse: IdMap<u64, u32>,
}

// Wire ids below this are indexed (4 bytes each, at most 4 MiB).
const DENSE_WIRE_IDS: u64 = 1 << 20;

impl WireMap {
    #[inline(always)]
    fn get(&self, wire: u64) -> Option<u32> {
        if wire < DENSE_WIRE_IDS {
            self.dense
                .get(wire as usize)
                .and_then(|&v| v.checked_sub(1))
        } else {
            self.sparse.get(&wire).copied()
        }
    }

    fn insert(&mut self, wire: u64, id: u32) {
        if wire < DENSE_WIRE_IDS {
            let i = wire as usize;
            if self.dense.len() <= i {
                self.dense.resize(i + 1, 0);
            }
            self.dense[i] = id + 1;
        } else {
            self.sparse.insert(wire, id);
        }
    }

    fn clear(&mut self) {
        self.dense.clear();
        self.sparse.clear();
    }

    fn heap_bytes(&self) -> usize {
        self.dense.capacity() * 4 + self.sparse.capacity() * 16
    }
}

/// Strings, frames and stacks interned by one copy of an interner since a
/// mark, in id order, so another copy can append them and hand out the same ids.
#[derive(Clone, Debug, Default)]
pub(crate) struct InternDelta {
    base: (usize, usize, usize),
    strs: Vec<Box<str>>,
    frames: Vec<FrameRec>,
    stack_lens: Vec<u32>,
    stack_frames: Vec<FrameId>,
}

/// True for functions of the Go runtime and standard plumbing a person does
/// not write (used to find "the first user frame").
pub fn is_runtime_func(func: &str) -> bool {
    let pkg_end = func.rfind('/').map_or(0, |i| i + 1);
    let pkg = match func[pkg_end..].find('.') {
        Some(d) => &func[..pkg_end + d],
        None => func,
    };
    pkg == "runtime"
        || pkg.starts_with("runtime/")
        || pkg == "sync"
        || pkg.starts_with("sync/")
        || pkg.starts_with("internal/")
        || pkg == "time"
        || pkg == "syscall"
        || pkg == "os"
        || pkg == "net"
        || pkg == "io"
        || pkg == "bufio"
        || pkg.starts_with("vendor/")
}

/// True for functions whose goroutines belong to the runtime (GC workers,
/// the tracer's own reader, finalizers, signal handling).
pub fn is_system_entry(func: &str) -> bool {
    func.starts_with("runtime.")
        || func.starts_with("runtime/")
        || func.starts_with("internal/")
        || func.starts_with("os/signal.")
        || func.starts_with("unique.")
        || func.starts_with("weak.")
}
