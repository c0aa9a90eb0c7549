//! One generation's structural data: string and stack tables, CPU samples,
//! the clock (sync) data, and where each thread's event batches are.
//!
//! Nothing is copied out of the input: strings and batches are byte ranges
//! into the decoder's buffer (absolute trace offsets), so a generation costs
//! a few small vectors on top of its own bytes.
use crate::error::{Error, Result};
use crate::fasthash::FastMap;
use crate::spec::{ev, Version, MAX_FRAMES_PER_STACK, MAX_STRING_SIZE};
use crate::varint::{uvarint, Varint};

/// A byte range of the trace: absolute offset and length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub off: usize,
    pub len: u32,
}

/// One batch's header and where its payload is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchRef {
    pub time: u64,
    pub data: Span,
}

/// An experimental batch, kept as raw bytes so nothing is lost.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExpBatch {
    pub exp: u8,
    pub m: i64,
    pub data: Span,
}

/// A resolved stack frame: pc, function and file names, line.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FrameRec {
    pub pc: u64,
    pub func: Span,
    pub file: Span,
    pub line: u64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuSample {
    pub time: i64,
    pub m: i64,
    pub p: i64,
    pub g: i64,
    pub stack: u64,
}

/// Table keyed by the trace's ids: dense when the ids are, a map otherwise.
#[derive(Debug)]
pub(crate) struct IdTable<T: Copy> {
    dense: Vec<Option<T>>,
    sparse: FastMap<u64, T>,
}

impl<T: Copy> Default for IdTable<T> {
    fn default() -> Self {
        IdTable {
            dense: Vec::new(),
            sparse: FastMap::default(),
        }
    }
}

impl<T: Copy> IdTable<T> {
    /// Id 0 always means "none" and is always present.
    #[inline]
    pub fn contains(&self, id: u64) -> bool {
        id == 0 || self.get(id).is_some()
    }
    #[inline]
    pub fn get(&self, id: u64) -> Option<T> {
        if (id as usize as u64) == id && (id as usize) < self.dense.len() {
            if let Some(v) = self.dense[id as usize] {
                return Some(v);
            }
        }
        if self.sparse.is_empty() {
            None
        } else {
            self.sparse.get(&id).copied()
        }
    }
    fn insert(&mut self, id: u64, v: T) -> bool {
        if id == 0 || self.get(id).is_some() {
            return false;
        }
        self.sparse.insert(id, v);
        true
    }
    fn compactify(&mut self) {
        let n = self.sparse.len();
        let max = self.sparse.keys().copied().max().unwrap_or(0);
        if n == 0 || max > (2 * n as u64 + 64) {
            return;
        }
        self.dense = vec![None; max as usize + 1];
        for (&k, &v) in self.sparse.iter() {
            self.dense[k as usize] = Some(v);
        }
        self.sparse = FastMap::default();
    }
    fn for_each(&self, mut f: impl FnMut(u64, T) -> Result<()>) -> Result<()> {
        for (i, v) in self.dense.iter().enumerate() {
            if let Some(v) = v {
                f(i as u64, *v)?;
            }
        }
        for (&k, &v) in self.sparse.iter() {
            f(k, v)?;
        }
        Ok(())
    }
}

/// Tick to nanosecond conversion of a generation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    ns_per_tick: u64,
    freq: f64,
}

impl Clock {
    /// Converts a tick count to nanoseconds (Go's float64 multiply, exactly).
    #[inline(always)]
    pub fn mul(self, t: u64) -> i64 {
        // With an integer factor of at most 2^12 and t below 2^40 the float
        // product is exact, so the integer one is the same number.
        if self.ns_per_tick != 0 && t < 1 << 40 {
            return (t * self.ns_per_tick) as i64;
        }
        go_f64_to_i64(t as f64 * self.freq)
    }
}

/// All the per-generation data needed to interpret its events.
#[derive(Debug, Default)]
pub(crate) struct Generation {
    pub num: u64,
    pub min_ts: u64,
    /// Nanoseconds per tick; 0 until the frequency event is seen.
    pub freq: f64,
    /// `freq` as an integer when it is a small whole number (64 on Linux),
    /// else 0: ticks then convert with an exact integer multiply.
    pub ns_per_tick: u64,
    pub has_clock: bool,
    pub snap_time: u64,
    pub snap_mono: u64,
    pub snap_sec: u64,
    pub snap_nsec: u64,
    pub strings: IdTable<Span>,
    /// Stack id -> range in `frames`.
    pub stacks: IdTable<(u32, u32)>,
    pub frames: Vec<FrameRec>,
    pub(crate) stack_pcs: Vec<(u64, u64)>, // (pc, offset of its stack entry) while building
    pub(crate) pcs: FastMap<u64, (u64, u64, u64)>,
    pub cpu_samples: Vec<CpuSample>,
    pub exp_batches: Vec<ExpBatch>,
    /// Threads in order of first batch; batches per thread in trace order.
    pub batch_ms: Vec<i64>,
    pub batches: Vec<Vec<BatchRef>>,
    pub(crate) m_index: FastMap<i64, usize>,
    /// Absolute offset of the generation's first byte.
    pub start: usize,
    /// Absolute offset one past the generation's last byte.
    pub end: usize,
    /// Total bytes in this generation's event batches.
    pub event_bytes: u64,
}

/// A cursor over in-memory bytes with Go's `bytes.Reader` + `ReadUvarint` error texts.
struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Rd<'a> {
    fn left(&self) -> usize {
        self.b.len() - self.pos
    }
    fn byte(&mut self) -> Result<u8> {
        match self.b.get(self.pos) {
            Some(&v) => {
                self.pos += 1;
                Ok(v)
            }
            None => Err(Error::new("EOF")),
        }
    }
    fn uvarint(&mut self) -> Result<u64> {
        match uvarint(&self.b[self.pos..]) {
            Varint::Ok(v, n) => {
                self.pos += n;
                Ok(v)
            }
            Varint::Short(0) => Err(Error::new("EOF")),
            Varint::Short(_) => Err(Error::new("unexpected EOF")),
            Varint::Overflow => Err(Error::new("binary: varint overflows a 64-bit integer")),
        }
    }
}

pub(crate) fn go_f64_to_i64(x: f64) -> i64 {
    // amd64 semantics for out-of-range conversions: the "integer indefinite" value.
    if x.is_nan() || x >= 9.223372036854775807e18 || x < -9.223372036854775808e18 {
        i64::MIN
    } else {
        x as i64
    }
}

impl Generation {
    /// Converts a tick count to nanoseconds (Go's float64 multiply, exactly).
    #[inline(always)]
    pub fn mul(&self, t: u64) -> i64 {
        self.clock().mul(t)
    }

    /// The tick conversion alone (what decoding events needs).
    #[inline(always)]
    pub fn clock(&self) -> Clock {
        Clock {
            ns_per_tick: self.ns_per_tick,
            freq: self.freq,
        }
    }

    /// Adds a batch read from the trace. `buf` holds the batch payload at
    /// `data.off - base`.
    pub fn process_batch(
        &mut self,
        ver: Version,
        m: u64,
        time: u64,
        exp: u8,
        data: Span,
        buf: &[u8],
        base: usize,
    ) -> Result<()> {
        let bytes = &buf[data.off - base..data.off - base + data.len as usize];
        let first = bytes.first().copied();
        if exp == 0 && first == Some(ev::STRINGS) {
            self.add_strings(bytes, data.off)
        } else if exp == 0 && first == Some(ev::STACKS) {
            self.add_stacks(bytes, data.off)
        } else if exp == 0 && first == Some(ev::CPU_SAMPLES) {
            self.add_cpu_samples(bytes)
        } else if exp == 0
            && ((first == Some(ev::FREQUENCY) && ver < Version::Go125)
                || (first == Some(ev::SYNC) && ver >= Version::Go125))
        {
            self.set_sync(bytes, time, ver)
        } else if exp != 0 {
            self.exp_batches.push(ExpBatch {
                exp,
                m: m as i64,
                data,
            });
            Ok(())
        } else if first == Some(ev::END_OF_GENERATION) {
            Err(Error::new(
                "internal error: unexpectedly processing EndOfGeneration; broken trace?",
            ))
        } else {
            let m = m as i64;
            let i = match self.m_index.get(&m) {
                Some(&i) => i,
                None => {
                    self.batch_ms.push(m);
                    self.batches.push(Vec::new());
                    self.m_index.insert(m, self.batch_ms.len() - 1);
                    self.batch_ms.len() - 1
                }
            };
            self.event_bytes += data.len as u64;
            self.batches[i].push(BatchRef { time, data });
            Ok(())
        }
    }

    fn add_strings(&mut self, b: &[u8], abs: usize) -> Result<()> {
        let mut r = Rd { b, pos: 1 };
        while r.left() != 0 {
            let e = r.byte()?;
            if e != ev::STRING {
                return Err(Error::new(format!("expected string event, got {e}")));
            }
            let id = r.uvarint()?;
            let len = r.uvarint()?;
            if len > MAX_STRING_SIZE {
                return Err(Error::new(format!(
                    "invalid string size {len}, maximum is {MAX_STRING_SIZE}"
                )));
            }
            if (r.left() as u64) < len {
                return Err(Error::new(format!(
                    "failed to read full string: read {} but wanted {len}",
                    r.left()
                )));
            }
            let span = Span {
                off: abs + r.pos,
                len: len as u32,
            };
            r.pos += len as usize;
            if !self.strings.insert(id, span) {
                return Err(Error::new(format!(
                    "multiple strings with the same ID: id={id}"
                )));
            }
        }
        Ok(())
    }

    fn add_stacks(&mut self, b: &[u8], abs: usize) -> Result<()> {
        let mut r = Rd { b, pos: 1 };
        while r.left() != 0 {
            let entry_off = (abs + r.pos) as u64;
            let e = r.byte()?;
            if e != ev::STACK {
                return Err(Error::new(format!("expected stack event, got {e}")));
            }
            let id = r.uvarint()?;
            let n = r.uvarint()?;
            if n > MAX_FRAMES_PER_STACK {
                return Err(Error::new(format!(
                    "invalid stack size {n}, maximum is {MAX_FRAMES_PER_STACK}"
                )));
            }
            let start = self.stack_pcs.len();
            for i in 0..n {
                let ctx = |what: &str, e: Error| {
                    Error::new(format!(
                        "reading frame {}'s {what} for stack {id}: {}",
                        i + 1,
                        e.message
                    ))
                };
                let pc = r.uvarint().map_err(|e| ctx("PC", e))?;
                let func = r.uvarint().map_err(|e| ctx("funcID", e))?;
                let file = r.uvarint().map_err(|e| ctx("fileID", e))?;
                let line = r.uvarint().map_err(|e| ctx("line", e))?;
                self.stack_pcs.push((pc, entry_off));
                self.pcs.entry(pc).or_insert((func, file, line));
            }
            if !self
                .stacks
                .insert(id, (start as u32, (self.stack_pcs.len() - start) as u32))
            {
                self.stack_pcs.truncate(start);
                return Err(Error::new(format!(
                    "multiple trace.stacks with the same ID: id={id}"
                )));
            }
        }
        Ok(())
    }

    fn add_cpu_samples(&mut self, b: &[u8]) -> Result<()> {
        let mut r = Rd { b, pos: 1 };
        while r.left() != 0 {
            let e = r.byte()?;
            if e != ev::CPU_SAMPLE {
                return Err(Error::new(format!("expected CPU sample event, got {e}")));
            }
            let ts = r.uvarint()?;
            let m = r.uvarint()? as i64;
            let p = r.uvarint()? as i64;
            let g = r.uvarint()?;
            let stack = r.uvarint()?;
            self.cpu_samples.push(CpuSample {
                time: ts as i64,
                m,
                p,
                g: if g == 0 { -1 } else { g as i64 },
                stack,
            });
        }
        Ok(())
    }

    fn set_sync(&mut self, b: &[u8], time: u64, ver: Version) -> Result<()> {
        let mut r = Rd { b, pos: 0 };
        if ver >= Version::Go125 {
            r.pos = 1;
        }
        let mut last = time;
        while r.left() != 0 {
            let e = r.byte()?;
            if e == ev::FREQUENCY {
                if self.freq != 0.0 {
                    return Err(Error::new("found multiple frequency events"));
                }
                let f = r.uvarint()?;
                self.freq = 1.0 / (f as f64 / 1e9);
            } else if e == ev::CLOCK_SNAPSHOT && ver >= Version::Go125 {
                if self.has_clock {
                    return Err(Error::new("found multiple clock snapshot events"));
                }
                self.has_clock = true;
                let dt = r.uvarint()?;
                last = last.wrapping_add(dt);
                self.snap_time = last;
                self.snap_mono = r.uvarint()?;
                self.snap_sec = r.uvarint()?;
                self.snap_nsec = r.uvarint()?;
            } else {
                return Err(Error::new(format!(
                    "expected frequency or clock snapshot event, got {e}"
                )));
            }
        }
        Ok(())
    }

    /// Checks and indexes everything once the generation is complete.
    pub fn finish(&mut self, ver: Version) -> Result<()> {
        if self.freq == 0.0 {
            return Err(Error::new("no frequency event found"));
        }
        if ver >= Version::Go125 && !self.has_clock {
            return Err(Error::new("no clock snapshot event found"));
        }
        if self.freq.fract() == 0.0 && (1.0..=4096.0).contains(&self.freq) {
            self.ns_per_tick = self.freq as u64;
        }
        self.strings.compactify();
        self.stacks.compactify();
        // Resolve every frame through the generation's pc table (the first
        // record of a pc wins) and check its strings exist.
        let strings = &self.strings;
        let pcs = &self.pcs;
        let stack_pcs = &self.stack_pcs;
        let mut frames = Vec::with_capacity(stack_pcs.len());
        for &(pc, _) in stack_pcs.iter() {
            let (func, file, line) = pcs[&pc];
            frames.push(FrameRec {
                pc,
                func: strings.get(func).unwrap_or_default(),
                file: strings.get(file).unwrap_or_default(),
                line,
            });
        }
        self.stacks.for_each(|id, (start, len)| {
            for &(pc, off) in &stack_pcs[start as usize..(start + len) as usize] {
                let (func, file, _) = pcs[&pc];
                if !strings.contains(func) {
                    return Err(Error::new(format!(
                        "found invalid func string ID {func} for stack {id}"
                    ))
                    .at(off));
                }
                if !strings.contains(file) {
                    return Err(Error::new(format!(
                        "found invalid file string ID {file} for stack {id}"
                    ))
                    .at(off));
                }
            }
            Ok(())
        })?;
        self.frames = frames;
        self.stack_pcs = Vec::new();
        self.pcs = FastMap::default();
        for s in self.cpu_samples.iter_mut() {
            s.time = go_f64_to_i64(s.time as u64 as f64 * self.freq);
        }
        // Go sorts with an unstable sort; ties keep trace order here.
        self.cpu_samples.sort_by_key(|s| s.time);
        Ok(())
    }
}
