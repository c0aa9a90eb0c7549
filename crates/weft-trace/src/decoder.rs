//! The streaming decoder: bytes in (as they arrive), ordered events out,
//! one generation at a time.
use std::io::Read;
use std::sync::Arc;

#[cfg(test)]
use crate::ahead::read_uv;
use crate::ahead::{decode_chunk, Ahead, ListPos, Ordered, SharedBytes};
use crate::error::{Error, Result};
use crate::event::{EventRef, RawEvent, FLAG_TABLE};
use crate::generation::{Generation, Span};
use crate::order::{Base, Entries, Ordering, Strs, NO_G, NO_M, NO_P};
use crate::spec::{ev, Version, MAX_BATCH_SIZE, SPECS, WIRE};
use crate::varint::{uvarint, Varint};

/// What [`Decoder::advance`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// An event is ready: read it with [`Decoder::event`].
    Event,
    /// More input is needed: [`Decoder::feed`] it, or call [`Decoder::finish`] at end of input.
    NeedData,
    /// The trace ended; no more events.
    End,
}

/// Reads one thread's batches of a generation. Events are decoded a chunk
/// at a time into a small array (a tight loop over the batch bytes, or by
/// the decode-ahead thread), so moving to the next event is usually an
/// index bump. A chunk never spans two batches and holds at most `CHUNK`
/// events, which bounds the decoded copy per thread whatever the batch
/// sizes are.
#[derive(Debug)]
struct Cursor {
    m: i64,
    list: u32,
    // Where decoding stands when this thread decodes itself.
    at: ListPos,
    mslot: u32,
    // The decoded chunk, the current event in it, and where its batch's
    // payload starts (event offsets in `evs` are relative to that).
    evs: Vec<Base>,
    pos: u32,
    batch_off: usize,
    // A decode error met right after the chunk's last event: reported when
    // the cursor reaches it, exactly where reading one event at a time would.
    err: Option<Error>,
    // With runs handed out in place on this thread (`keep`): chunks done
    // with since the last `fill` (run entries may still point into them)
    // and chunks free for reuse.
    retired: Vec<Vec<Base>>,
    spare: Vec<Vec<Base>>,
}

impl Cursor {
    fn new(m: i64, list: u32) -> Cursor {
        Cursor {
            m,
            list,
            at: ListPos::default(),
            mslot: u32::MAX,
            evs: Vec::new(),
            pos: 0,
            batch_off: 0,
            err: None,
            retired: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// The current event (valid while the cursor is in the frontier).
    #[inline(always)]
    fn ev(&self) -> &Base {
        &self.evs[self.pos as usize]
    }

    /// Absolute trace offset of the current event.
    #[inline(always)]
    fn ev_off(&self) -> usize {
        self.batch_off + self.ev().rel as usize
    }

    /// Moves to the thread's next event; `Ok(false)` when it has no more.
    /// `keep`: the chunk done with is kept until the next `fill` (run
    /// entries point into it).
    #[inline(always)]
    fn next_event(
        &mut self,
        gen: &Generation,
        buf: &[u8],
        base: usize,
        ahead: Option<&Ahead>,
        keep: bool,
    ) -> Result<bool> {
        if (self.pos as usize) + 1 < self.evs.len() {
            self.pos += 1;
            return Ok(true);
        }
        self.load(gen, buf, base, ahead, keep)
    }

    #[inline(never)]
    fn load(
        &mut self,
        gen: &Generation,
        buf: &[u8],
        base: usize,
        ahead: Option<&Ahead>,
        keep: bool,
    ) -> Result<bool> {
        if let Some(e) = self.err.take() {
            return Err(e);
        }
        self.pos = 0;
        if keep && ahead.is_none() {
            let fresh = self.spare.pop().unwrap_or_default();
            self.retired.push(std::mem::replace(&mut self.evs, fresh));
        }
        match ahead {
            Some(a) => {
                let c = a.next(self.list as usize, std::mem::take(&mut self.evs));
                self.evs = c.evs;
                self.batch_off = c.batch_off;
                self.err = c.err;
            }
            None => {
                let (off, err) = decode_chunk(
                    &mut self.at,
                    &gen.batches[self.list as usize],
                    gen.clock(),
                    gen.num,
                    buf,
                    base,
                    &mut self.evs,
                    ONE_THREAD_CHUNK,
                );
                self.batch_off = off;
                self.err = err;
            }
        }
        if !self.evs.is_empty() {
            return Ok(true);
        }
        match self.err.take() {
            Some(e) => Err(e),
            None => Ok(false),
        }
    }
}

// The frontier is a binary min-heap on the cursors' next event time,
// maintained exactly as the reference reader does so ties break the same way.
// The heap holds (time, cursor index) pairs, so sifting moves 16 bytes, not
// whole cursors; ties depend only on heap positions, so the order is the same.
#[derive(Debug, Clone, Copy)]
struct Slot {
    time: i64,
    idx: u32,
}

#[derive(Default)]
struct Frontier {
    cursors: Vec<Cursor>,
    heap: Vec<Slot>,
}

impl Frontier {
    #[inline]
    fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
    #[inline]
    fn min_time(&self) -> i64 {
        self.heap[0].time
    }
    fn clear(&mut self) {
        self.cursors.clear();
        self.heap.clear();
    }
    fn push(&mut self, c: Cursor) {
        self.heap.push(Slot {
            time: c.ev().time,
            idx: self.cursors.len() as u32,
        });
        self.cursors.push(c);
        let n = self.heap.len() - 1;
        sift_up(&mut self.heap, n);
    }
    // Cursors in heap order.
    fn iter(&self) -> impl Iterator<Item = &Cursor> {
        self.heap.iter().map(|s| &self.cursors[s.idx as usize])
    }
}

fn sift_up(h: &mut [Slot], mut i: usize) -> usize {
    while i > 0 && h[(i - 1) / 2].time > h[i].time {
        h.swap((i - 1) / 2, i);
        i = (i - 1) / 2;
    }
    i
}
fn sift_down(h: &mut [Slot], mut i: usize) {
    loop {
        let (l, r) = (2 * i + 1, 2 * i + 2);
        let mut m = i;
        let mut mt = if i < h.len() { h[i].time } else { i64::MAX };
        if l < h.len() && h[l].time < mt {
            mt = h[l].time;
            m = l;
        }
        if r < h.len() && h[r].time < mt {
            m = r;
        }
        if m == i {
            break;
        }
        h.swap(i, m);
        i = m;
    }
}
fn heap_update(h: &mut [Slot], i: usize) {
    if sift_up(h, i) != i {
        return;
    }
    sift_down(h, i);
}
fn heap_remove(h: &mut Vec<Slot>, mut i: usize) {
    while i > 0 {
        h.swap((i - 1) / 2, i);
        i = (i - 1) / 2;
    }
    let last = h.len() - 1;
    h.swap(0, last);
    h.pop();
    sift_down(h, 0);
}

enum BatchRead {
    Pending,
    Eof,
    Err(String),
    Ok(BatchHdr),
}

#[derive(Debug, Clone, Copy)]
struct BatchHdr {
    gen: u64,
    m: u64,
    time: u64,
    exp: u8,
    data_off: usize,
    data_len: usize,
    eog: bool,
}

// Parses the batch at the front of `b`; `eof` says whether more bytes may come.
fn read_batch(b: &[u8], eof: bool) -> BatchRead {
    let Some(&t) = b.first() else {
        return if eof {
            BatchRead::Eof
        } else {
            BatchRead::Pending
        };
    };
    if t == ev::END_OF_GENERATION {
        return BatchRead::Ok(BatchHdr {
            gen: 0,
            m: u64::MAX,
            time: 0,
            exp: 0,
            data_off: 0,
            data_len: 1,
            eog: true,
        });
    }
    if t != ev::EVENT_BATCH && t != ev::EXPERIMENTAL_BATCH {
        return BatchRead::Err(format!("expected batch event, got event {t}"));
    }
    let mut pos = 1;
    let mut exp = 0;
    if t == ev::EXPERIMENTAL_BATCH {
        match b.get(1) {
            Some(&e) => exp = e,
            // The reference reader treats this as a clean end of input.
            None if eof => return BatchRead::Eof,
            None => return BatchRead::Pending,
        }
        pos = 2;
    }
    let mut vals = [0u64; 4];
    let what = ["gen", "M ID", "timestamp", "size"];
    for (i, v) in vals.iter_mut().enumerate() {
        match uvarint(&b[pos..]) {
            Varint::Ok(x, n) => {
                *v = x;
                pos += n;
            }
            Varint::Short(n) if eof => {
                let why = if n == 0 { "EOF" } else { "unexpected EOF" };
                return BatchRead::Err(format!("error reading batch {}: {why}", what[i]));
            }
            Varint::Short(_) => return BatchRead::Pending,
            Varint::Overflow => {
                return BatchRead::Err(format!(
                    "error reading batch {}: binary: varint overflows a 64-bit integer",
                    what[i]
                ))
            }
        }
    }
    let size = vals[3];
    if size > MAX_BATCH_SIZE {
        return BatchRead::Err(format!(
            "invalid batch size {size}, maximum is {MAX_BATCH_SIZE}"
        ));
    }
    let avail = b.len() - pos;
    if (avail as u64) < size {
        if eof {
            return BatchRead::Err(format!(
                "failed to read full batch: read {avail} but wanted {size}"
            ));
        }
        return BatchRead::Pending;
    }
    BatchRead::Ok(BatchHdr {
        gen: vals[0],
        m: vals[1],
        time: vals[2],
        exp,
        data_off: pos,
        data_len: size as usize,
        eog: false,
    })
}

enum Poll<T> {
    Ready(T),
    Pending,
}

/// Streaming decoder for Go execution traces (format v2, Go 1.22+).
///
/// Feed it bytes with [`feed`](Self::feed) as they arrive, call
/// [`advance`](Self::advance) until it says [`Status::NeedData`], and read
/// each event with [`event`](Self::event). Call [`finish`](Self::finish) when
/// the input ends. Memory is bounded by the largest generation: bytes of
/// earlier generations are dropped as soon as their events are consumed.
///
/// The event order is exactly that of Go's `internal/trace` reader (the one
/// behind `go tool trace`).
pub struct Decoder {
    buf: Vec<u8>,
    base: usize,
    pos: usize,
    eof: bool,
    ver: Option<Version>,
    failed: Option<Error>,
    build: Option<Generation>,
    gen: Option<Arc<Generation>>,
    frontier: Frontier,
    cpu_next: usize,
    order: Option<Ordering>,
    last_ts: i64,
    syncs: u64,
    read_gen_err: Option<Error>,
    done: bool,
    spill: bool,
    spill_err: Option<Error>,
    spill_err_sync: bool,
    cur: RawEvent,
    max_gen_bytes: usize,
    // Events already ordered, checked and timed, waiting to be handed out
    // (the hot path works a run of events at once, not one per call).
    ready: Vec<RawEvent>,
    ready_pos: usize,
    // Events in `ready` beyond its length (run entries, only in
    // `for_each_event_par`; see `Ordering::run_fast`).
    ready_extra: usize,
    // An error met while filling `ready`, reported once it is drained.
    pending_err: Option<Error>,
    // Decode-ahead: generations with at least this many bytes of events
    // are decoded by a helper thread (None: never).
    ahead_min: Option<u64>,
    ahead: Option<Ahead>,
    // The installed generation uses the helper.
    ahead_on: bool,
    // The installed generation's bytes when split off `buf` for the helper
    // (trace offset `gbase` at index 0).
    gbuf: Option<Arc<Vec<u8>>>,
    gbase: usize,
    // The whole input, when given at once (`Decoder::with_input`): read in
    // place, `buf` stays empty.
    whole: Option<SharedBytes>,
    // Events ordered per `fill` at most.
    fill_max: usize,
    // Ordered events go to a consumer on the helper thread
    // (`Reader::for_each_event_par`): generation bytes are always shared.
    par: bool,
    // `Reader::for_each_event` is reading: without the decode-ahead, runs
    // of events go into `ready` as run entries (see `Ordering::run_fast`),
    // which it expands; nothing else may read `ready` meanwhile.
    runs_here: bool,
}

// Events decoded at once per thread when this thread decodes (see
// `Cursor::load`; the decode-ahead uses `ahead::CHUNK`). Small enough that
// every thread's chunk and the ready buffer stay in a 32 KB L1 cache: with
// 512 (24 KB a chunk) the one-thread reader took 3.5 times the L1 misses.
const ONE_THREAD_CHUNK: usize = 128;

// Events ordered per `fill`: one-by-one readers take them from there.
const FILL: usize = 256;
// With the consumer on another thread, each batch handed over is one
// `fill`: bigger batches, fewer hand-offs (4096 events are 320 KB).
const PAR_FILL: usize = 4096;

// The input bytes from trace offset `base` on.
#[inline(always)]
fn input_of<'a>(whole: &'a Option<SharedBytes>, buf: &'a [u8]) -> &'a [u8] {
    match whole {
        Some(w) => (**w).as_ref(),
        None => buf,
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

const HEADER_LEN: usize = 16;

impl Decoder {
    /// A decoder waiting for the trace header.
    pub fn new() -> Decoder {
        Decoder {
            buf: Vec::new(),
            base: 0,
            pos: 0,
            eof: false,
            ver: None,
            failed: None,
            build: None,
            gen: None,
            frontier: Frontier::default(),
            cpu_next: 0,
            order: None,
            last_ts: 0,
            syncs: 0,
            read_gen_err: None,
            done: false,
            spill: false,
            spill_err: None,
            spill_err_sync: false,
            cur: RawEvent::default(),
            max_gen_bytes: 4 << 30,
            ready: Vec::new(),
            ready_pos: 0,
            ready_extra: 0,
            pending_err: None,
            ahead_min: None,
            ahead: None,
            ahead_on: false,
            gbuf: None,
            gbase: 0,
            whole: None,
            fill_max: FILL,
            par: false,
            runs_here: false,
        }
    }

    /// A decoder over a complete trace already in memory, e.g. a mapped
    /// file: its bytes are read in place (nothing is copied, no buffer
    /// grows), and shared with the decode thread if that is on. [`feed`]
    /// and [`fill_from`] do nothing; the input is finished.
    ///
    /// [`feed`]: Self::feed
    /// [`fill_from`]: Self::fill_from
    pub fn with_input(bytes: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Decoder {
        let mut d = Decoder::new();
        d.whole = Some(bytes);
        d.eof = true;
        d
    }

    /// Decodes generations with at least `min_bytes` bytes of events on a
    /// helper thread, ahead of ordering (`None`, the default: never). The
    /// events and errors are exactly the same; the wall time of a big trace
    /// drops when a second core is free. Memory grows by a few MB of
    /// decoded chunks, and by nothing else.
    pub fn set_decode_thread(&mut self, min_bytes: Option<u64>) {
        self.ahead_min = min_bytes;
    }

    // The installed generation's task-end names.
    #[inline(always)]
    fn extra_strings(&self) -> &[Box<[u8]>] {
        self.order.as_ref().map_or(&[], |o| &o.extra_strings[..])
    }

    // The installed generation's bytes and the trace offset they start at.
    #[inline(always)]
    fn gen_bytes(&self) -> (&[u8], usize) {
        match &self.gbuf {
            Some(b) => (&b[..], self.gbase),
            None => (input_of(&self.whole, &self.buf), self.base),
        }
    }

    /// Reserves room for `n` more input bytes, e.g. the file size when it
    /// is known: the buffer then does not grow by copying (every growth
    /// touches fresh pages, which the kernel must clear).
    pub fn reserve(&mut self, n: usize) {
        self.buf.reserve(n);
    }

    /// Refuses generations larger than `n` bytes (default 4 GiB) instead of
    /// buffering them.
    pub fn set_max_generation_bytes(&mut self, n: usize) {
        self.max_gen_bytes = n;
    }

    /// The trace's format version, once the header has been read.
    pub fn version(&self) -> Option<Version> {
        self.ver
    }

    /// Bytes consumed from the input so far (batches fully read).
    pub fn bytes_consumed(&self) -> u64 {
        self.pos as u64
    }

    /// Bytes currently buffered (a measure of memory use).
    pub fn buffered_bytes(&self) -> usize {
        self.buf.capacity() + self.gbuf.as_ref().map_or(0, |b| b.capacity())
    }

    /// Number of goroutines the scheduler state machine tracks right now.
    pub fn live_goroutines(&self) -> usize {
        self.order
            .as_ref()
            .map(|o| o.live_goroutines())
            .unwrap_or(0)
    }

    // Lowest absolute offset still referenced.
    fn keep_from(&self) -> usize {
        let mut k = self.pos;
        if let Some(b) = &self.build {
            k = k.min(b.start);
        }
        // The installed generation's bytes are needed only while its events
        // are being handed out: once it is drained, the next generation is
        // read without keeping the last one (peak memory is one generation).
        if let Some(g) = self.gen.as_ref().filter(|_| self.gbuf.is_none()) {
            if self.in_generation() || self.ready_pos < self.ready.len() {
                k = k.min(g.start);
            }
        }
        k
    }

    fn compact(&mut self) {
        if self.whole.is_some() {
            return;
        }
        let k = self.keep_from();
        let dead = k - self.base;
        if dead > 0 && dead >= self.buf.len() / 2 {
            self.buf.drain(..dead);
            self.base = k;
        }
    }

    /// Takes the input buffer's allocation, emptied, for the next stream's
    /// decoder ([`reuse_input_buffer`](Self::reuse_input_buffer)): a live source
    /// opens a new stream every few seconds, and a buffer grown anew to a
    /// generation of tens of MB is fresh memory the kernel must zero each
    /// time (a few percent of a live run's CPU).
    pub fn take_input_buffer(&mut self) -> Vec<u8> {
        let mut b = std::mem::take(&mut self.buf);
        if let Some(g) = self.gbuf.take() {
            if let Ok(v) = Arc::try_unwrap(g) {
                if v.capacity() > b.capacity() {
                    b = v;
                }
            }
        }
        b.clear();
        b
    }

    /// Fills `buf` (emptied; its capacity kept) instead of a new buffer.
    /// Only before the first byte is fed; ignored after.
    pub fn reuse_input_buffer(&mut self, mut buf: Vec<u8>) {
        if self.buf.is_empty() && self.base == 0 && self.pos == 0 && self.whole.is_none() {
            buf.clear();
            self.buf = buf;
        }
    }

    /// Appends input bytes.
    pub fn feed(&mut self, data: &[u8]) {
        if self.whole.is_some() {
            return;
        }
        self.compact();
        self.buf.extend_from_slice(data);
    }

    /// Reads up to `chunk` bytes from `r` straight into the buffer. Returns
    /// the count (0 at end of input).
    pub fn fill_from<R: Read + ?Sized>(
        &mut self,
        r: &mut R,
        chunk: usize,
    ) -> std::io::Result<usize> {
        if self.whole.is_some() {
            return Ok(0);
        }
        self.compact();
        let len = self.buf.len();
        self.buf.resize(len + chunk, 0);
        let res = loop {
            match r.read(&mut self.buf[len..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                x => break x,
            }
        };
        let n = *res.as_ref().unwrap_or(&0);
        self.buf.truncate(len + n);
        res
    }

    /// Marks the end of input.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// The current event (valid after `advance` returned [`Status::Event`]).
    #[inline]
    pub fn event(&self) -> EventRef<'_> {
        // Events are handed out in place from the ready buffer.
        let cur = self
            .ready
            .get(self.ready_pos.wrapping_sub(1))
            .unwrap_or(&self.cur);
        // (The bytes are looked up once: the compiler does not merge two
        // lookups, and this runs for every event.)
        let (buf, base) = self.gen_bytes();
        let gen = if cur.typ == ev::SYNC_SYNTH && cur.flags & FLAG_TABLE == 0 {
            None
        } else {
            // (Asked again after more input was read, the drained generation's
            // bytes may be gone: no tables then rather than stale ones.)
            self.gen.as_deref().filter(|g| g.start >= base)
        };
        EventRef::new(cur, gen, self.extra_strings(), buf, base)
    }

    /// Moves to the next event.
    #[inline]
    pub fn advance(&mut self) -> Result<Status> {
        if self.ready_pos < self.ready.len() {
            self.ready_pos += 1;
            return Ok(Status::Event);
        }
        self.advance_slow()
    }

    #[inline(never)]
    fn advance_slow(&mut self) -> Result<Status> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if let Some(e) = self.pending_err.take() {
            self.failed = Some(e.clone());
            return Err(e);
        }
        if self.ver.is_none() {
            match self.read_header() {
                Ok(true) => {}
                Ok(false) => return Ok(Status::NeedData),
                Err(e) => {
                    self.failed = Some(e.clone());
                    return Err(e);
                }
            }
        }
        if self.in_generation() {
            self.fill();
            if self.ready_pos < self.ready.len() {
                return self.advance();
            }
            let e = self.pending_err.take().unwrap_or_else(|| {
                Error::new("internal error: advance successful, but queue is empty")
            });
            self.failed = Some(e.clone());
            return Err(e);
        }
        match self.step() {
            Poll::Pending => Ok(Status::NeedData),
            Poll::Ready(Ok(None)) => Ok(Status::End),
            Poll::Ready(Ok(Some(mut e))) => {
                if e.typ != ev::SYNC_SYNTH {
                    if let Some(gen) = &self.gen {
                        if let Err(err) = validate_ids(gen, &e) {
                            self.failed = Some(err.clone());
                            return Err(err);
                        }
                    }
                }
                if e.time <= self.last_ts {
                    e.time = self.last_ts.wrapping_add(1);
                }
                self.last_ts = e.time;
                self.ready.clear();
                self.ready.push(e);
                self.ready_pos = 1;
                Ok(Status::Event)
            }
            Poll::Ready(Err(e)) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    // Events of the installed generation remain (threads' batches or CPU samples).
    fn in_generation(&self) -> bool {
        match &self.gen {
            Some(g) => !self.frontier.is_empty() || self.cpu_next < g.cpu_samples.len(),
            None => false,
        }
    }

    /// Orders up to `FILL` events of the current generation into `ready`:
    /// merges the threads' batches (and CPU samples) by time through the
    /// scheduler state machine, checks their ids and forces times to
    /// strictly increase. Stops early at the generation's end or at an
    /// error, which is kept in `pending_err` for after the events before it.
    fn fill(&mut self) {
        let fill_max = self.fill_max;
        let (Some(gen), Some(order)) = (self.gen.as_deref(), self.order.as_mut()) else {
            return;
        };
        let frontier = &mut self.frontier;
        let (buf, base) = match &self.gbuf {
            Some(b) => (&b[..], self.gbase),
            None => (input_of(&self.whole, &self.buf), self.base),
        };
        let ahead = self.ahead.as_ref().filter(|_| self.ahead_on);
        // Runs of events go to the consumer thread in place, as entries
        // pointing into their decoded chunks: the decode-ahead keeps every
        // chunk it hands out until the consumer is done with it. The same
        // on this thread for `for_each_event` (when this thread decodes):
        // the cursors keep the chunks they are done with until the next
        // fill, by when the entries have been read.
        let runs = if self.par {
            ahead.is_some()
        } else {
            self.runs_here && ahead.is_none()
        };
        let keep = runs && !self.par;
        if keep {
            for c in frontier.cursors.iter_mut() {
                let Cursor { retired, spare, .. } = c;
                spare.append(retired);
            }
        }
        let mut out = std::mem::take(&mut self.ready);
        out.clear();
        self.ready_pos = 0;
        self.ready_extra = 0;
        debug_assert!(order.queue.is_empty() && order.run_extra == 0);
        std::mem::swap(&mut out, &mut order.queue);
        let mut last_ts = self.last_ts;
        'fill: while order.queued() < fill_max {
            // The hot loop: the earliest thread's next event is a common
            // goroutine transition that can be taken and whose ids exist.
            // Same steps and outcome as the general path below, minus its
            // dispatch and bookkeeping. Anything else falls through to it.
            'fast: while order.queued() < fill_max && !frontier.is_empty() {
                // The earliest thread stays earliest while its next event is
                // no later than both heap children's (sift_down would not
                // move it): run it without touching the heap.
                let heap = &mut frontier.heap;
                let bound = match (heap.get(1), heap.get(2)) {
                    (Some(l), Some(r)) => l.time.min(r.time),
                    (Some(l), None) => l.time,
                    _ => i64::MAX,
                };
                let cpu_t = gen
                    .cpu_samples
                    .get(self.cpu_next)
                    .map_or(i64::MAX, |s| s.time);
                let c = &mut frontier.cursors[heap[0].idx as usize];
                let mut pos = c.pos as usize;
                let took = if runs {
                    order.run_fast::<true>(
                        &c.evs,
                        &mut pos,
                        c.m,
                        c.mslot,
                        c.batch_off,
                        gen,
                        bound,
                        cpu_t,
                        fill_max,
                        &mut last_ts,
                    )
                } else {
                    order.run_fast::<false>(
                        &c.evs,
                        &mut pos,
                        c.m,
                        c.mslot,
                        c.batch_off,
                        gen,
                        bound,
                        cpu_t,
                        fill_max,
                        &mut last_ts,
                    )
                };
                if !took {
                    break 'fast;
                }
                let next = if pos < c.evs.len() {
                    c.pos = pos as u32;
                    Ok(true)
                } else {
                    // The chunk is used up: the next one (or the end).
                    c.pos = (pos - 1) as u32;
                    c.next_event(gen, buf, base, ahead, keep)
                };
                match next {
                    Ok(true) => {
                        let t = c.ev().time;
                        heap[0].time = t;
                        if t > bound {
                            sift_down(heap, 0);
                        }
                    }
                    Ok(false) => heap_remove(heap, 0),
                    Err(e) => {
                        self.pending_err = Some(e);
                        break 'fill;
                    }
                }
            }
            if order.queued() >= fill_max {
                break;
            }
            let start = order.queue.len();
            if self.cpu_next < gen.cpu_samples.len() {
                let s = gen.cpu_samples[self.cpu_next];
                if frontier.is_empty() || s.time < frontier.min_time() {
                    self.cpu_next += 1;
                    order.queue.push(RawEvent {
                        typ: ev::CPU_SAMPLE,
                        time: s.time,
                        args: [s.stack, 0, 0, 0],
                        g: s.g,
                        p: s.p,
                        m: s.m,
                        offset: 0,
                        flags: 0,
                    });
                }
            } else if frontier.is_empty() {
                break;
            }
            if order.queue.len() == start {
                if frontier.is_empty() {
                    break;
                }
                match try_advance(frontier, 0, order, gen, buf, base, ahead, keep) {
                    Err(e) => {
                        self.pending_err = Some(e);
                        break;
                    }
                    Ok(true) => {}
                    Ok(false) => {
                        // Rare: the earliest event can't go yet. Try the others in time
                        // order. (Insertion sort: stable, as the reference's sort is
                        // for the small frontiers real traces have.)
                        insertion_sort(&mut frontier.heap);
                        let mut ok = false;
                        for i in 1..frontier.heap.len() {
                            match try_advance(frontier, i, order, gen, buf, base, ahead, keep) {
                                Err(e) => {
                                    self.pending_err = Some(e);
                                    break 'fill;
                                }
                                Ok(true) => {
                                    ok = true;
                                    break;
                                }
                                Ok(false) => {}
                            }
                        }
                        if !ok {
                            self.pending_err = Some(broken_trace(gen, frontier, order));
                            break;
                        }
                    }
                }
            }
            for i in start..order.queue.len() {
                let e = &mut order.queue[i];
                if e.typ != ev::SYNC_SYNTH && !ids_known(gen, e.typ, &e.args) {
                    let err = validate_ids(gen, e).err().unwrap_or_else(|| {
                        Error::new("internal error: id check disagrees with itself")
                    });
                    order.queue.truncate(i);
                    self.pending_err = Some(err);
                    break 'fill;
                }
                if e.time <= last_ts {
                    e.time = last_ts.wrapping_add(1);
                }
                last_ts = e.time;
            }
        }
        self.last_ts = last_ts;
        std::mem::swap(&mut out, &mut order.queue);
        self.ready_extra = std::mem::take(&mut order.run_extra);
        self.ready = out;
    }

    fn read_header(&mut self) -> Result<bool> {
        let b = &input_of(&self.whole, &self.buf)[self.pos - self.base..];
        let bad = || Error::new("bad file format: not a Go execution trace?").at(0);
        const PREFIX: &[u8] = b"go 1.";
        let n = b.len().min(PREFIX.len());
        if b[..n] != PREFIX[..n] {
            return Err(bad());
        }
        if b.len() < HEADER_LEN {
            if self.eof {
                return Err(bad());
            }
            return Ok(false);
        }
        let digits = b[5..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 3 {
            return Err(bad());
        }
        let rest = &b[5 + digits..];
        const SUFFIX: &[u8] = b" trace\0\0\0";
        if rest.len() < SUFFIX.len() {
            if self.eof {
                return Err(bad());
            }
            return Ok(false);
        }
        if &rest[..SUFFIX.len()] != SUFFIX {
            return Err(bad());
        }
        let v: u64 = std::str::from_utf8(&b[5..5 + digits])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        let ver = match Version::from_minor(v) {
            Some(v) => v,
            None if matches!(v, 11 | 19 | 21) => {
                return Err(Error::new(format!(
                    "unsupported trace version go 1.{v}: the pre-1.22 format is not supported"
                )))
            }
            None => {
                return Err(Error::new(format!(
                    "unknown or unsupported trace version go 1.{v}"
                )))
            }
        };
        self.pos += 5 + digits + SUFFIX.len();
        self.ver = Some(ver);
        self.order = Some(Ordering::new(ver));
        Ok(true)
    }

    fn sync_event(&self, table: bool, time: i64) -> RawEvent {
        RawEvent {
            typ: ev::SYNC_SYNTH,
            time,
            args: [self.syncs, 0, 0, 0],
            g: NO_G,
            p: NO_P,
            m: NO_M,
            offset: 0,
            flags: if table { FLAG_TABLE } else { 0 },
        }
    }

    fn step(&mut self) -> Poll<Result<Option<RawEvent>>> {
        if !self.in_generation() {
            self.release_gen_bytes();
        }
        if self.done {
            return Poll::Ready(Ok(None));
        }
        let ver = self.ver.expect("header read");
        let ncpu = self.gen.as_ref().map(|g| g.cpu_samples.len()).unwrap_or(0);
        if self.frontier.is_empty() && self.cpu_next >= ncpu {
            if ver < Version::Go126 {
                return self.next_gen_with_spill();
            }
            if let Some(e) = &self.read_gen_err {
                return Poll::Ready(Err(e.clone()));
            }
            return match self.read_generation() {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Err(e)) => {
                    self.read_gen_err = Some(e);
                    self.gen = None;
                    self.syncs += 1;
                    Poll::Ready(Ok(Some(self.sync_event(false, self.last_ts))))
                }
                Poll::Ready(Ok(g)) => self.install_gen(g),
            };
        }
        // Events of the installed generation are taken by `fill`.
        Poll::Ready(Err(Error::new(
            "internal error: step called inside a generation",
        )))
    }

    fn next_gen_with_spill(&mut self) -> Poll<Result<Option<RawEvent>>> {
        if let Some(e) = &self.spill_err {
            if self.spill_err_sync {
                return Poll::Ready(Err(e.clone()));
            }
            self.spill_err_sync = true;
            self.syncs += 1;
            return Poll::Ready(Ok(Some(self.sync_event(false, self.last_ts))));
        }
        if self.gen.is_some() && !self.spill {
            self.done = true;
            self.syncs += 1;
            return Poll::Ready(Ok(Some(self.sync_event(false, self.last_ts))));
        }
        match self.read_gen_with_spill() {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => {
                self.gen = None;
                self.spill = false;
                self.spill_err = Some(e);
                self.spill_err_sync = true;
                self.syncs += 1;
                Poll::Ready(Ok(Some(self.sync_event(false, self.last_ts))))
            }
            Poll::Ready(Ok((g, spill, spill_err))) => {
                self.spill = spill;
                self.spill_err = spill_err;
                self.install_gen(Some(g))
            }
        }
    }

    fn install_gen(&mut self, g: Option<Generation>) -> Poll<Result<Option<RawEvent>>> {
        let Some(g) = g else {
            self.gen = None;
            self.done = true;
            self.syncs += 1;
            return Poll::Ready(Ok(Some(self.sync_event(false, self.last_ts))));
        };
        self.cpu_next = 0;
        self.frontier.clear();
        self.ahead_on = false;
        if self.ahead_min.is_some_and(|n| g.event_bytes >= n) {
            self.start_ahead(&g, true);
        } else if self.par && self.whole.is_none() {
            // The consumer reads the generation's bytes on another thread.
            self.start_ahead(&g, false);
        }
        if let Some(o) = self.order.as_mut() {
            o.new_generation();
        }
        self.gen = Some(Arc::new(g));
        let gen = self.gen.as_deref().unwrap();
        let (buf, base) = match &self.gbuf {
            Some(b) => (&b[..], self.gbase),
            None => (input_of(&self.whole, &self.buf), self.base),
        };
        let ahead = self.ahead.as_ref().filter(|_| self.ahead_on);
        for (i, &m) in gen.batch_ms.iter().enumerate() {
            let mut c = Cursor::new(m, i as u32);
            match c.next_event(gen, buf, base, ahead, false) {
                Err(e) => return Poll::Ready(Err(e)),
                Ok(false) => continue,
                Ok(true) => {
                    self.frontier.push(c);
                }
            }
        }
        self.syncs += 1;
        let t = gen.mul(gen.min_ts);
        Poll::Ready(Ok(Some(self.sync_event(true, t))))
    }

    // Hands generation `g` (read, not yet installed) to the decode-ahead
    // thread (if `decode`) and shares its bytes: they move out of `buf`
    // into a shared buffer (the bytes after it, at most one read's worth,
    // move to a new `buf`).
    fn start_ahead(&mut self, g: &Generation, decode: bool) {
        if decode && !self.par {
            // (In `for_each_event_par` the consumer's thread is the helper.)
            let a = self.ahead.get_or_insert_with(Ahead::external);
            if !a.restart_thread() {
                return; // no thread: decode on this one
            }
        }
        self.release_gen_bytes();
        if let Some(w) = &self.whole {
            // Read in place: share the whole input.
            if let Some(a) = self.ahead.as_ref().filter(|_| decode) {
                a.start(w.clone(), self.base, g.batches.clone(), g.clock(), g.num);
                self.ahead_on = true;
            }
            return;
        }
        if g.start < self.base || g.end < g.start || g.end - self.base > self.buf.len() {
            return;
        }
        let tail = self.buf[g.end - self.base..].to_vec();
        let bytes = Arc::new(std::mem::replace(&mut self.buf, tail));
        self.gbase = self.base;
        self.base = g.end;
        self.gbuf = Some(bytes.clone());
        if let Some(a) = self.ahead.as_ref().filter(|_| decode) {
            a.start(bytes, self.gbase, g.batches.clone(), g.clock(), g.num);
            self.ahead_on = true;
        }
    }

    // The ready events from `ready[from]` on, with what reading them on
    // another thread needs; `ready` is left empty.
    fn take_ordered(&mut self, from: usize) -> Ordered {
        let evs = std::mem::take(&mut self.ready);
        self.ready_pos = 0;
        let extra = self
            .order
            .as_ref()
            .map(|o| o.extra_strings.clone())
            .unwrap_or_default();
        let shared: Option<(SharedBytes, usize)> = match (&self.gbuf, &self.whole) {
            (Some(b), _) => Some((b.clone(), self.gbase)),
            (None, Some(w)) => Some((w.clone(), self.base)),
            (None, None) => None,
        };
        let (gen, bytes, base) = match shared {
            Some((bytes, base)) => (self.gen.clone(), bytes, base),
            None => {
                // Not shared (only a closing Sync, which needs no tables,
                // should get here): copy what the events need.
                let needs = evs[from..]
                    .iter()
                    .any(|e| !(e.typ == ev::SYNC_SYNTH && e.flags & FLAG_TABLE == 0));
                match self.gen.as_ref().filter(|g| {
                    needs && g.start >= self.base && g.end - self.base <= self.buf.len()
                }) {
                    Some(g) => {
                        let b = self.buf[g.start - self.base..g.end - self.base].to_vec();
                        (Some(g.clone()), Arc::new(b) as SharedBytes, g.start)
                    }
                    None => (None, Arc::new(Vec::new()) as SharedBytes, self.base),
                }
            }
        };
        let gen = gen.filter(|g| g.start >= base);
        Ordered {
            evs,
            from,
            gen,
            extra,
            bytes,
            base,
            chunks: Vec::new(),
        }
    }

    // The drained generation's bytes held for the helper go back to being
    // the input buffer (its pages are reused, not freed and faulted anew).
    fn release_gen_bytes(&mut self) {
        if !self.ahead_on && self.gbuf.is_none() {
            return;
        }
        self.ahead_on = false;
        if let Some(a) = &self.ahead {
            a.stop();
            if self.par {
                // The consumer may still read these bytes, and the chunks
                // its run entries point into (the cursors' last ones).
                a.drain();
            }
        }
        let Some(b) = self.gbuf.take() else {
            return;
        };
        if let Ok(mut v) = Arc::try_unwrap(b) {
            if v.capacity() > self.buf.capacity() {
                v.clear();
                v.extend_from_slice(&self.buf);
                self.buf = v;
            }
        }
    }

    fn check_gen_size(&self, g: &Generation) -> Result<()> {
        if self.pos - g.start > self.max_gen_bytes {
            return Err(Error::new(format!(
                "generation larger than the configured maximum of {} bytes",
                self.max_gen_bytes
            ))
            .at(self.pos as u64)
            .in_gen(g.num));
        }
        Ok(())
    }

    // Go 1.22-1.25: a generation ends where the next one's first batch starts
    // (which stays unread here) or at end of input.
    fn read_gen_with_spill(&mut self) -> Poll<Result<(Generation, bool, Option<Error>)>> {
        let ver = self.ver.unwrap();
        if self.build.is_none() {
            self.build = Some(Generation {
                start: self.pos,
                ..Default::default()
            });
        }
        let mut spill = false;
        let mut spill_err = None;
        loop {
            let off = self.pos;
            let g = self.build.as_mut().unwrap();
            match read_batch(
                &input_of(&self.whole, &self.buf)[off - self.base..],
                self.eof,
            ) {
                BatchRead::Pending => {
                    let g = self.build.as_ref().unwrap();
                    if let Err(e) = self.check_gen_size(g) {
                        self.build = None;
                        return Poll::Ready(Err(e));
                    }
                    return Poll::Pending;
                }
                BatchRead::Eof => break,
                BatchRead::Err(m) => {
                    let e = Error::new(m).at(off as u64);
                    if g.num != 0 {
                        spill_err = Some(e.in_gen(g.num.wrapping_add(1)));
                        break;
                    }
                    self.build = None;
                    return Poll::Ready(Err(e));
                }
                BatchRead::Ok(h) => {
                    let fail = |m: &str| Error::new(m).at(off as u64);
                    if h.gen == 0 {
                        self.build = None;
                        return Poll::Ready(Err(fail("invalid generation number 0")));
                    }
                    if g.num == 0 {
                        g.num = h.gen;
                    }
                    if h.gen == g.num.wrapping_add(1) {
                        spill = true;
                        break;
                    }
                    if h.gen != g.num {
                        self.build = None;
                        return Poll::Ready(Err(fail("generations out of order")));
                    }
                    self.pos += h.data_off + h.data_len;
                    if g.min_ts == 0 || h.time < g.min_ts {
                        g.min_ts = h.time;
                    }
                    let data = Span {
                        off: off + h.data_off,
                        len: h.data_len as u32,
                    };
                    if let Err(e) = g.process_batch(
                        ver,
                        h.m,
                        h.time,
                        h.exp,
                        data,
                        input_of(&self.whole, &self.buf),
                        self.base,
                    ) {
                        let n = g.num;
                        self.build = None;
                        return Poll::Ready(Err(e.at(off as u64).in_gen(n)));
                    }
                }
            }
        }
        let mut g = self.build.take().unwrap();
        g.end = self.pos;
        if let Err(e) = g.finish(ver) {
            // Table problems point at their entry; the rest at the generation.
            return Poll::Ready(Err(e.at(g.start as u64).in_gen(g.num)));
        }
        Poll::Ready(Ok((g, spill, spill_err)))
    }

    // Go 1.26+: a generation ends with an end-of-generation marker.
    fn read_generation(&mut self) -> Poll<Result<Option<Generation>>> {
        let ver = self.ver.unwrap();
        if self.build.is_none() {
            self.build = Some(Generation {
                start: self.pos,
                ..Default::default()
            });
        }
        loop {
            let off = self.pos;
            let g = self.build.as_mut().unwrap();
            match read_batch(
                &input_of(&self.whole, &self.buf)[off - self.base..],
                self.eof,
            ) {
                BatchRead::Pending => {
                    let g = self.build.as_ref().unwrap();
                    if let Err(e) = self.check_gen_size(g) {
                        self.build = None;
                        return Poll::Ready(Err(e));
                    }
                    return Poll::Pending;
                }
                BatchRead::Eof => {
                    let partial = !g.batch_ms.is_empty();
                    let n = g.num;
                    self.build = None;
                    if partial {
                        return Poll::Ready(Err(Error::new(
                            "incomplete generation found; trace likely truncated",
                        )
                        .at(off as u64)
                        .in_gen(n)));
                    }
                    return Poll::Ready(Ok(None));
                }
                BatchRead::Err(m) => {
                    let n = g.num;
                    self.build = None;
                    return Poll::Ready(Err(Error::new(m).at(off as u64).in_gen(n)));
                }
                BatchRead::Ok(h) => {
                    self.pos += h.data_off + h.data_len;
                    if g.num == 0 {
                        g.num = h.gen;
                    }
                    if h.eog {
                        break;
                    }
                    let fail = |m: &str| Error::new(m).at(off as u64);
                    if h.gen == 0 {
                        self.build = None;
                        return Poll::Ready(Err(fail("invalid generation number 0")));
                    }
                    if h.gen != g.num {
                        let n = g.num;
                        self.build = None;
                        return Poll::Ready(Err(fail(
                            "broken trace: missing end-of-generation event, or generations are interleaved",
                        )
                        .in_gen(n)));
                    }
                    if g.min_ts == 0 || h.time < g.min_ts {
                        g.min_ts = h.time;
                    }
                    let data = Span {
                        off: off + h.data_off,
                        len: h.data_len as u32,
                    };
                    if let Err(e) = g.process_batch(
                        ver,
                        h.m,
                        h.time,
                        h.exp,
                        data,
                        input_of(&self.whole, &self.buf),
                        self.base,
                    ) {
                        let n = g.num;
                        self.build = None;
                        return Poll::Ready(Err(e.at(off as u64).in_gen(n)));
                    }
                }
            }
        }
        let mut g = self.build.take().unwrap();
        g.end = self.pos;
        if let Err(e) = g.finish(ver) {
            // Table problems point at their entry; the rest at the generation.
            return Poll::Ready(Err(e.at(g.start as u64).in_gen(g.num)));
        }
        Poll::Ready(Ok(Some(g)))
    }
}

// Cheap check that an event's stack and string ids exist in its generation.
#[inline(always)]
fn ids_known(gen: &Generation, typ: u8, args: &[u64; 4]) -> bool {
    let w = WIRE[typ as usize];
    let mut ok = true;
    let mut m = w.stack_mask;
    while m != 0 {
        let i = m.trailing_zeros() as usize;
        ok &= gen.stacks.contains(args[i]);
        m &= m - 1;
    }
    let mut m = w.string_mask;
    while m != 0 {
        let i = m.trailing_zeros() as usize;
        ok &= gen.strings.contains(args[i]);
        m &= m - 1;
    }
    ok
}

// The full check, with the reference reader's error for the first bad id.
fn validate_ids(gen: &Generation, e: &RawEvent) -> Result<()> {
    let spec = crate::spec::spec_of(e.typ);
    for &i in spec.stack_ids {
        let id = e.args[i - 1];
        if !gen.stacks.contains(id) {
            return Err(Error::new(format!(
                "found invalid stack ID {id} for event {}",
                spec.name
            ))
            .at(e.offset)
            .in_gen(gen.num));
        }
    }
    for &i in spec.string_ids {
        let id = e.args[i - 1];
        if !gen.strings.contains(id) {
            return Err(Error::new(format!(
                "found invalid string ID {id} for event {}",
                spec.name
            ))
            .at(e.offset)
            .in_gen(gen.num));
        }
    }
    Ok(())
}

// "No thread can advance": the frontier and scheduler state, as Go prints them.
#[cold]
fn broken_trace(g: &Generation, frontier: &Frontier, order: &Ordering) -> Error {
    let mut msg = format!(
        "broken trace: failed to advance: frontier:\n[gen={}]\n\n",
        g.num
    );
    for c in frontier.iter() {
        let e = c.ev();
        let spec = &SPECS[e.typ as usize];
        msg.push_str(&format!("M {} [{} time={}", c.m, spec.name, e.time));
        for (i, a) in spec.args[1..].iter().enumerate() {
            msg.push_str(&format!(" {a}={}", e.args[i]));
        }
        msg.push_str("]\n");
    }
    msg.push('\n');
    msg.push_str(&order.dump());
    let off = frontier
        .iter()
        .next()
        .map(|c| c.ev_off() as u64)
        .unwrap_or(0);
    Error::new(msg).at(off).in_gen(g.num)
}

#[allow(clippy::too_many_arguments)]
fn try_advance(
    frontier: &mut Frontier,
    i: usize,
    order: &mut Ordering,
    gen: &Generation,
    buf: &[u8],
    base: usize,
    ahead: Option<&Ahead>,
    keep: bool,
) -> Result<bool> {
    let c = &mut frontier.cursors[frontier.heap[i].idx as usize];
    let (m, off) = (c.m, c.ev_off());
    order.cur_off = off as u64;
    if !order.advance_fast(&c.evs[c.pos as usize], gen.num, m, c.mslot) {
        let strs = Strs { buf, base };
        let ok = order
            .advance(&mut c.evs[c.pos as usize], gen, &strs, m, &mut c.mslot)
            .map_err(|e| e.at(off as u64).in_gen(gen.num))?;
        if !ok {
            return Ok(false);
        }
    }
    if c.next_event(gen, buf, base, ahead, keep)? {
        frontier.heap[i].time = c.ev().time;
        heap_update(&mut frontier.heap, i);
    } else {
        heap_remove(&mut frontier.heap, i);
    }
    Ok(true)
}

fn insertion_sort(h: &mut [Slot]) {
    // Go's sort does insertion sort up to 12 elements (identical result);
    // beyond that keep O(n log n) so many threads cannot make this quadratic.
    if h.len() > 12 {
        h.sort_by_key(|c| c.time);
        return;
    }
    for i in 1..h.len() {
        let mut j = i;
        while j > 0 && h[j].time < h[j - 1].time {
            h.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// Reads a trace from any `Read`, generation by generation.
///
/// ```no_run
/// let f = std::fs::File::open("trace.out").unwrap();
/// let mut r = weft_trace::Reader::new(f);
/// while let Some(ev) = r.next_event().unwrap() {
///     println!("{ev}");
/// }
/// ```
pub struct Reader<R> {
    r: R,
    dec: Decoder,
    chunk: usize,
}

impl Reader<std::io::Empty> {
    /// Reads a complete trace already in memory (a mapped file, say) in
    /// place; see [`Decoder::with_input`].
    pub fn from_input(bytes: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Self {
        Reader {
            r: std::io::empty(),
            dec: Decoder::with_input(bytes),
            chunk: 1 << 20,
        }
    }
}

impl<R: Read> Reader<R> {
    /// Wraps `r`; reads it in 1 MiB chunks.
    pub fn new(r: R) -> Reader<R> {
        Reader {
            r,
            dec: Decoder::new(),
            chunk: 1 << 20,
        }
    }
    /// The decoder inside (for its statistics).
    pub fn decoder(&self) -> &Decoder {
        &self.dec
    }
    /// Reserves room for `n` input bytes (see [`Decoder::reserve`]).
    pub fn reserve(&mut self, n: usize) {
        self.dec.reserve(n);
    }
    /// Decodes generations of at least `min_bytes` on a helper thread
    /// (see [`Decoder::set_decode_thread`]).
    pub fn set_decode_thread(&mut self, min_bytes: Option<u64>) {
        self.dec.set_decode_thread(min_bytes);
    }
    /// The next event, `None` at the end of the trace.
    #[inline]
    pub fn next_event(&mut self) -> Result<Option<EventRef<'_>>> {
        if self.dec.ready_pos < self.dec.ready.len() {
            self.dec.ready_pos += 1;
            return Ok(Some(self.dec.event()));
        }
        self.next_event_slow()
    }

    /// Calls `f` with every remaining event, in order, until the end of the
    /// trace or the first error. The fastest way to visit a whole trace:
    /// events go from the decoder's ready buffer to `f` without being wrapped
    /// and unwrapped one at a time.
    ///
    /// ```no_run
    /// let f = std::fs::File::open("trace.out").unwrap();
    /// let mut r = weft_trace::Reader::new(f);
    /// let mut n = 0u64;
    /// r.for_each_event(|_ev| n += 1).unwrap();
    /// ```
    pub fn for_each_event(&mut self, mut f: impl FnMut(&EventRef<'_>)) -> Result<()> {
        // Runs of events stay in their decoded chunks until this loop
        // expands them (no copy per event into the ready buffer).
        self.dec.runs_here = true;
        let res = self.for_each_run(&mut f);
        self.dec.runs_here = false;
        res
    }

    fn for_each_run(&mut self, f: &mut impl FnMut(&EventRef<'_>)) -> Result<()> {
        loop {
            let d = &mut self.dec;
            if d.ready_pos < d.ready.len() {
                // The ready run at once: the generation and its bytes are
                // looked up once, not per event.
                let (start, end) = (d.ready_pos, d.ready.len());
                d.ready_pos = end;
                d.ready_extra = 0;
                let d = &self.dec;
                let (buf, base) = d.gen_bytes();
                let gen = d.gen.as_deref().filter(|g| g.start >= base);
                let extra = d.extra_strings();
                // SAFETY: the chunks run entries point into are kept by the
                // cursors until the next `fill`, which cannot run while the
                // decoder is borrowed here.
                let mut evs = unsafe { Entries::new(&d.ready[start..end]) };
                // (One call site, so `f` is inlined into this loop.)
                while let Some(raw) = evs.next() {
                    let g = if raw.typ == ev::SYNC_SYNTH && raw.flags & FLAG_TABLE == 0 {
                        None
                    } else {
                        gen
                    };
                    f(&EventRef::new(raw, g, extra, buf, base));
                }
            }
            // The next batch; the loop above hands out its first event too.
            match self.dec.advance()? {
                Status::Event => {
                    self.dec.ready_pos -= 1;
                }
                Status::End => return Ok(()),
                Status::NeedData => self.read_more()?,
            }
        }
    }

    /// Like [`for_each_event`](Self::for_each_event), but `f` runs on a
    /// second thread while this one orders the next events: for a consumer
    /// that does real work per event, the two cores share the load. Events
    /// reach `f` in the same order, in batches of a few thousand; the call
    /// returns once `f` has seen every event (and the error, if any, comes
    /// after all the events before it, as with `for_each_event`). The same
    /// thread also does the decode-ahead if [`set_decode_thread`] is on.
    /// A panic in `f` is passed on to the caller once reading stopped.
    ///
    /// With an input read from a stream (not [`from_input`]), each
    /// generation's bytes are moved into a shared buffer (the decode-ahead
    /// does the same for big ones). If no thread can be started, `f` runs
    /// on this one.
    ///
    /// [`set_decode_thread`]: Self::set_decode_thread
    /// [`from_input`]: Reader::from_input
    ///
    /// ```no_run
    /// let f = std::fs::File::open("trace.out").unwrap();
    /// let mut r = weft_trace::Reader::new(f);
    /// let mut st = weft_trace::stats::Stats::default();
    /// r.for_each_event_par(|ev| st.add(ev)).unwrap();
    /// ```
    pub fn for_each_event_par<F>(&mut self, mut f: F) -> Result<()>
    where
        F: FnMut(&EventRef<'_>) + Send,
    {
        let helper = self
            .dec
            .ahead
            .get_or_insert_with(Ahead::external)
            .take_over();
        self.dec.par = true;
        self.dec.fill_max = PAR_FILL;
        helper.share_chunks(true);
        let outcome = std::thread::scope(|s| {
            let h = helper.clone();
            let f = &mut f;
            let consumer = std::thread::Builder::new()
                .name("weft-trace-consume".into())
                .spawn_scoped(s, move || {
                    h.serve(&mut |o: &Ordered| {
                        let buf = (*o.bytes).as_ref();
                        let gen = o.gen.as_deref();
                        // SAFETY: the chunks run entries point into are
                        // kept until this batch has been consumed.
                        let mut evs = unsafe { Entries::new(&o.evs[o.from..]) };
                        while let Some(raw) = evs.next() {
                            let g = if raw.typ == ev::SYNC_SYNTH && raw.flags & FLAG_TABLE == 0 {
                                None
                            } else {
                                gen
                            };
                            f(&EventRef::new(raw, g, &o.extra, buf, o.base));
                        }
                    })
                });
            let Ok(consumer) = consumer else {
                return None;
            };
            // However the ordering loop ends (a panic included), the
            // consumer is told to finish, so the scope's join cannot hang.
            struct Close(crate::ahead::Helper);
            impl Drop for Close {
                fn drop(&mut self) {
                    self.0.close();
                }
            }
            let close = Close(helper.clone());
            let res = self.par_loop();
            drop(close);
            let panicked = consumer.join().unwrap_or_else(Some);
            Some((res, panicked))
        });
        self.dec.par = false;
        self.dec.fill_max = FILL;
        // Everything handed over has been consumed.
        helper.share_chunks(false);
        if self.dec.ahead_on {
            // Stopped inside a generation the helper decodes (after an
            // error): its thread takes over again.
            if let Some(a) = self.dec.ahead.as_mut() {
                a.restart_thread();
            }
        }
        match outcome {
            None => self.for_each_event(f),
            Some((_, Some(p))) => std::panic::resume_unwind(p),
            Some((res, None)) => res,
        }
    }

    // The ordering side of `for_each_event_par`: every run of ready events
    // goes to the consumer as it is.
    fn par_loop(&mut self) -> Result<()> {
        loop {
            match self.dec.advance() {
                Ok(Status::Event) => {
                    let d = &mut self.dec;
                    let from = d.ready_pos - 1;
                    d.ready_extra = 0;
                    let o = d.take_ordered(from);
                    let a = d.ahead.as_ref().expect("set up by for_each_event_par");
                    d.ready = a.hand_off(o, d.fill_max + 8);
                }
                Ok(Status::End) => return Ok(()),
                Ok(Status::NeedData) => {
                    self.read_more()?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    // Feeds the decoder the next chunk of input; at the end of the input,
    // tells it so.
    fn read_more(&mut self) -> Result<()> {
        let n = self
            .dec
            .fill_from(&mut self.r, self.chunk)
            .map_err(|e| Error::new(format!("read error: {e}")))?;
        if n == 0 {
            self.dec.finish();
        }
        Ok(())
    }

    #[inline(never)]
    fn next_event_slow(&mut self) -> Result<Option<EventRef<'_>>> {
        loop {
            match self.dec.advance()? {
                Status::Event => break,
                Status::End => return Ok(None),
                Status::NeedData => {
                    self.read_more()?;
                }
            }
        }
        Ok(Some(self.dec.event()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-written traces: batch sizes are recomputed, so they may be left at 0.
    fn text_to_binary(t: &str) -> std::result::Result<Vec<u8>, crate::raw::TextError> {
        let (v, mut evs) = crate::raw::parse_text(t)?;
        crate::raw::fix_batch_sizes(&mut evs);
        Ok(crate::raw::encode(v, &evs))
    }

    fn decode(bytes: &[u8], chunk: usize) -> (Vec<String>, Option<Error>) {
        decode_with(&mut Decoder::new(), bytes, chunk)
    }

    fn decode_with(d: &mut Decoder, bytes: &[u8], chunk: usize) -> (Vec<String>, Option<Error>) {
        let (mut out, mut fed) = (Vec::new(), 0);
        loop {
            match d.advance() {
                Ok(Status::Event) => out.push(d.event().to_string()),
                Ok(Status::NeedData) if fed < bytes.len() => {
                    let n = chunk.min(bytes.len() - fed);
                    d.feed(&bytes[fed..fed + n]);
                    fed += n;
                }
                Ok(Status::NeedData) => d.finish(),
                Ok(Status::End) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn fast_varint_equals_reference() {
        // Every length 1..=10, every value class, at every slack to the end
        // of the slice, plus pseudo-random bytes: read_uv agrees with uvarint.
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for shift in 0..64 {
            for v in [1u64 << shift, (1u64 << shift) - 1, (1u64 << shift) | 1] {
                let mut b = Vec::new();
                crate::varint::put_uvarint(&mut b, v);
                cases.push(b);
            }
        }
        cases.push(vec![0x80; 11]);
        cases.push(vec![
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
        ]);
        cases.push(vec![
            0x85, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
        ]);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut b = Vec::new();
            for _ in 0..12 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly continuation bytes so long varints are common.
                b.push(if x % 3 == 0 {
                    x as u8 & 0x7f
                } else {
                    x as u8 | 0x80
                });
            }
            cases.push(b);
        }
        for c in &cases {
            for tail in 0..12 {
                let mut data = c.clone();
                data.extend(std::iter::repeat(0x7f).take(tail));
                for cut in 0..=data.len() {
                    let d = &data[..cut];
                    let mut p = 0;
                    let got = read_uv(d, &mut p);
                    let want = match uvarint(d) {
                        Varint::Ok(v, n) => Some((v, n)),
                        _ => None,
                    };
                    assert_eq!(got.map(|v| (v, p)), want, "{d:x?}");
                }
            }
        }
    }

    const TAIL: &str = "EventBatch gen=1 m=18446744073709551615 time=0 size=5
Frequency freq=15625000
EventBatch gen=1 m=18446744073709551615 time=0 size=1
Stacks
EventBatch gen=1 m=18446744073709551615 time=0 size=1
Strings
";

    #[test]
    fn ticks_scale_and_times_strictly_increase() {
        // Two events at the same tick: the second is pushed 1 ns later.
        let t = format!(
            "Trace Go1.22
EventBatch gen=1 m=0 time=10 size=8
ProcStatus dt=0 p=0 pstatus=1
GoStatus dt=0 g=1 m=0 gstatus=2
{TAIL}"
        );
        let (ev, err) = decode(&text_to_binary(&t).unwrap(), usize::MAX);
        assert!(err.is_none(), "{err:?}");
        // The opening Sync is at the earliest batch time (0 here, the
        // structural batches), forced to 1 ns past the start.
        assert!(ev[0].contains("Sync Time=1 N=1"), "{}", ev[0]);
        // 15625000 ticks/s = 64 ns per tick; batch time 10 -> 640 ns.
        assert!(ev[1].contains("Time=640 ProcID=0"), "{}", ev[1]);
        assert!(ev[2].contains("Time=641 GoID=1"), "{}", ev[2]);
        assert!(ev[3].contains("Sync Time=642 N=2"), "{}", ev[3]);
    }

    #[test]
    fn sequence_numbers_beat_timestamps() {
        // M1 unblocks g2 (seq 1) *later* by its clock than M0 starts it
        // (seq 2); the start must still come after the unblock.
        let t = format!(
            "Trace Go1.22
EventBatch gen=1 m=0 time=1 size=11
ProcStatus dt=0 p=0 pstatus=1
GoStatus dt=0 g=2 m=18446744073709551615 gstatus=4
GoStart dt=1 g=2 g_seq=2
EventBatch gen=1 m=1 time=50 size=13
ProcStatus dt=0 p=1 pstatus=1
GoStatus dt=0 g=1 m=1 gstatus=2
GoUnblock dt=1 g=2 g_seq=1 stack=0
{TAIL}"
        );
        let (ev, err) = decode(&text_to_binary(&t).unwrap(), usize::MAX);
        assert!(err.is_none(), "{err:?}");
        let unblock = ev
            .iter()
            .position(|e| e.contains("GoID=2 Waiting->Runnable"))
            .unwrap();
        let start = ev
            .iter()
            .position(|e| e.contains("GoID=2 Runnable->Running"))
            .unwrap();
        assert!(unblock < start, "{ev:#?}");
    }

    #[test]
    fn go_switch_becomes_unblock_block_start() {
        let t = format!(
            "Trace Go1.23
EventBatch gen=1 m=0 time=1 size=15
ProcStatus dt=0 p=0 pstatus=1
GoStatus dt=0 g=1 m=0 gstatus=2
GoStatus dt=0 g=2 m=18446744073709551615 gstatus=4
GoSwitch dt=1 g=2 g_seq=1
{TAIL}"
        );
        let (ev, err) = decode(&text_to_binary(&t).unwrap(), usize::MAX);
        assert!(err.is_none(), "{err:?}");
        let tail: Vec<_> = ev[4..7]
            .iter()
            .map(|e| {
                e.split(" Time=").next().unwrap().to_string()
                    + " "
                    + e.split_once(" GoID=").unwrap().1
            })
            .collect();
        assert_eq!(
            tail,
            [
                "M=0 P=0 G=1 StateTransition 2 Waiting->Runnable Reason=\"\"",
                "M=0 P=0 G=1 StateTransition 1 Running->Waiting Reason=\"\"",
                "M=0 P=0 G=-1 StateTransition 2 Runnable->Running Reason=\"\"",
            ]
        );
    }

    #[test]
    fn no_advance_possible_is_a_broken_trace() {
        // g2 waits for seq 1 that never comes.
        let t = format!(
            "Trace Go1.22
EventBatch gen=1 m=0 time=1 size=11
ProcStatus dt=0 p=0 pstatus=1
GoStatus dt=0 g=2 m=18446744073709551615 gstatus=1
GoStart dt=1 g=2 g_seq=5
{TAIL}"
        );
        let (_, err) = decode(&text_to_binary(&t).unwrap(), usize::MAX);
        let e = err.expect("must fail");
        assert!(
            e.message.starts_with("broken trace: failed to advance"),
            "{e}"
        );
        assert_eq!(e.generation, Some(1));
        assert!(e.offset.is_some());
    }

    #[test]
    fn byte_at_a_time_equals_all_at_once() {
        // Two 1.22 generations (look-ahead) and garbage at the end.
        let gen = |g: u64, seq: u64| {
            format!(
                "EventBatch gen={g} m=0 time={t} size=11
ProcStatus dt=0 p=0 pstatus=1
GoStatus dt=0 g=1 m=0 gstatus=2
GoStop dt=1 reason_string=0 stack=0
EventBatch gen={g} m=18446744073709551615 time=0 size=5
Frequency freq=15625000
EventBatch gen={g} m=18446744073709551615 time=0 size=1
Stacks
EventBatch gen={g} m=18446744073709551615 time=0 size=1
Strings
",
                t = 100 * g + seq
            )
        };
        let t = format!(
            "Trace Go1.22\n{}{}",
            gen(1, 0),
            gen(2, 0)
                .replace("gstatus=2\nGoStop", "gstatus=1\nGoStop")
                .replace(
                    "GoStop dt=1 reason_string=0 stack=0\n",
                    "GoStart dt=1 g=1 g_seq=1\n"
                )
        );
        let mut bytes = text_to_binary(&t).unwrap();
        let whole = decode(&bytes, usize::MAX);
        assert!(whole.1.is_none(), "{:?}", whole.1);
        assert_eq!(whole.0.iter().filter(|e| e.contains(" Sync ")).count(), 3);
        assert_eq!(decode(&bytes, 1), whole);
        bytes.extend_from_slice(&[7, 7, 7]);
        let (ev, err) = decode(&bytes, 1);
        assert_eq!(decode(&bytes, usize::MAX), (ev.clone(), err.clone()));
        assert!(err
            .unwrap()
            .message
            .contains("expected batch event, got event 7"));
    }

    #[test]
    fn a_reused_input_buffer_decodes_the_same() {
        let t = "Trace Go1.22
EventBatch gen=1 m=0 time=100 size=0
ProcStatus dt=0 p=0 pstatus=1
GoStatus dt=0 g=1 m=0 gstatus=2
GoStop dt=1 reason_string=0 stack=0
EventBatch gen=1 m=18446744073709551615 time=0 size=0
Frequency freq=15625000
EventBatch gen=1 m=18446744073709551615 time=0 size=0
Stacks
EventBatch gen=1 m=18446744073709551615 time=0 size=0
Strings
";
        let bytes = text_to_binary(t).unwrap();
        let want = decode(&bytes, 7);
        assert!(want.1.is_none() && !want.0.is_empty(), "{want:?}");
        // The buffer of a decoder that read a stream, handed to the next
        // one: same events, the capacity kept, nothing of the old bytes.
        let mut first = Decoder::new();
        assert_eq!(decode_with(&mut first, &bytes, 7), want);
        let mut buf = first.take_input_buffer();
        assert!(buf.is_empty());
        buf.extend_from_slice(&[7; 4096]); // stale bytes must not be read
        let cap = buf.capacity();
        let mut next = Decoder::new();
        next.reuse_input_buffer(buf);
        assert_eq!(next.buf.capacity(), cap);
        assert_eq!(decode_with(&mut next, &bytes, 7), want);
        // Once fed, a decoder keeps its own buffer.
        let mut fed = Decoder::new();
        fed.feed(&bytes[..20]);
        fed.reuse_input_buffer(vec![7; 64]);
        assert_eq!(fed.buf, bytes[..20]);
    }

    #[test]
    fn header_errors() {
        let (_, e) = decode(b"not a trace at all", usize::MAX);
        assert!(e.unwrap().message.contains("not a Go execution trace"));
        let (_, e) = decode(b"go 1.24 trace\0\0\0", usize::MAX);
        assert!(e
            .unwrap()
            .message
            .contains("unknown or unsupported trace version go 1.24"));
        let (ev, e) = decode(b"go 1.26 trace\0\0\0", usize::MAX);
        assert!(e.is_none());
        assert_eq!(ev.len(), 1, "an empty 1.26 trace is one closing Sync");
    }
}
