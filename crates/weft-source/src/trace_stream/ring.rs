//! The raw-trace ring: the last N seconds of a live trace kept as bytes,
//! cut at generation boundaries, so any moment can be saved as a standard
//! trace file (`go tool trace` opens it).
//!
//! Why whole generations: each generation of a v2 trace carries its own
//! string, stack and sync tables and restates every goroutine and P, so the
//! 16-byte header followed by consecutive complete generations of one
//! stream is a valid trace (Go's flight recorder writes exactly that). A
//! generation is complete when Go 1.26's end-of-generation marker arrives,
//! when a batch of a later generation arrives, or when its stream ends
//! cleanly. Each trace request is its own stream with its own header and
//! generation numbers; generations of two streams cannot be mixed in one
//! file, so saving takes the latest stream only.
//!
//! The ring does its own batch framing (it never decodes events), so it
//! costs a few comparisons per batch and can be fed straight from the
//! socket.
//!
//! Where the bytes live: a busy program writes 10–20 MB of trace a second,
//! so 30 seconds of it would be most of weft's memory. By default each
//! generation is written, as its batches arrive, to its own file in a spool
//! directory on disk; only the last 256 KB not yet written stay in memory,
//! and the files of generations that left the ring are reused. The files
//! are unlinked as soon as they are created (the ring keeps the open file
//! handle), so the kernel reclaims them on any exit, Ctrl-C and crashes
//! included, and nothing is left behind.
use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use weft_trace::spec::{ev, MAX_BATCH_SIZE};
use weft_trace::{uvarint, Varint};

/// Length of the `go 1.NN trace\0\0\0` header.
pub const HEADER_LEN: usize = 16;

/// How much raw trace the ring keeps.
#[derive(Clone, Debug)]
pub struct RingOptions {
    /// Keep generations completed within this long of now.
    pub window: Duration,
    /// Never hold more than this many bytes (complete generations plus the
    /// one being received); the oldest generations go first.
    pub max_bytes: usize,
    /// Directory for the completed generations (unlinked files, see the
    /// module docs); `None` keeps them in memory.
    pub spool_dir: Option<PathBuf>,
}

impl Default for RingOptions {
    fn default() -> Self {
        RingOptions {
            window: Duration::from_secs(30),
            max_bytes: 1 << 30,
            spool_dir: Some(default_spool_dir()),
        }
    }
}

/// Where completed generations go by default: `$WEFT_SPOOL_DIR`, else the
/// user's cache directory (`$XDG_CACHE_HOME/weft`, `~/.cache/weft`), which
/// is on disk on the common distributions (the temporary directory often is
/// a tmpfs, that is memory), else the temporary directory.
pub fn default_spool_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env("WEFT_SPOOL_DIR") {
        return d;
    }
    if let Some(d) = env("XDG_CACHE_HOME") {
        return d.join("weft");
    }
    if let Some(h) = env("HOME") {
        return h.join(".cache").join("weft");
    }
    std::env::temp_dir()
}

/// One complete generation as it came off the wire.
#[derive(Debug)]
struct Gen {
    num: u64,
    data: GenData,
    len: usize,
    done_at: Instant,
    done_wall: SystemTime,
}

#[derive(Debug)]
enum GenData {
    Memory(Vec<u8>),
    /// An unlinked file holding exactly the generation's bytes.
    Spooled(File),
}

impl Gen {
    fn write_to<W: Write>(&self, w: &mut W) -> std::io::Result<()> {
        match &self.data {
            GenData::Memory(b) => w.write_all(b),
            GenData::Spooled(f) => {
                let mut buf = vec![0u8; (1 << 20).min(self.len.max(1))];
                let mut at = 0usize;
                while at < self.len {
                    let n = buf.len().min(self.len - at);
                    f.read_exact_at(&mut buf[..n], at as u64)?;
                    w.write_all(&buf[..n])?;
                    at += n;
                }
                Ok(())
            }
        }
    }
}

/// Writes generations to unlinked files in one directory, batch by batch
/// as they arrive.
///
/// Why not collect a generation in memory and write it when it completes:
/// at 20+ MB/s a generation is tens of MB, and a buffer grown to that and
/// freed every second is fresh memory every second, which the kernel zeroes
/// (a tenth of weft's CPU in a live profile), plus a copy per doubling.
/// Files of generations that left the ring are reused for the same reason:
/// overwriting pages already in the page cache costs a copy, a new file
/// costs new pages as well.
#[derive(Debug)]
struct Spool {
    dir: PathBuf,
    seq: u64,
    /// Why the last spool write failed (the generation was dropped).
    problem: Option<String>,
    /// The staging buffer for the open generation (reused, never freed).
    stage: Vec<u8>,
    /// Files of dropped generations, to be overwritten by new ones.
    free: Vec<File>,
    /// Bytes staged before a write ([`STAGE_BYTES`]; tests make it small).
    stage_bytes: usize,
}

/// Bytes staged before a write to the open generation's file.
const STAGE_BYTES: usize = 256 << 10;
/// Spool files kept for reuse (more would only hold disk space).
const FREE_FILES: usize = 2;

impl Spool {
    fn new(dir: PathBuf) -> Spool {
        Spool {
            dir,
            seq: 0,
            problem: None,
            stage: Vec::new(),
            free: Vec::new(),
            stage_bytes: STAGE_BYTES,
        }
    }

    fn fail(&self, what: &str, e: std::io::Error) -> String {
        format!(
            "cannot {what} a file in {} for the raw-trace ring: {e}; set WEFT_SPOOL_DIR to a writable directory on disk",
            self.dir.display()
        )
    }

    // A file for a new generation: a reused one, or a new unlinked one.
    fn file(&mut self) -> Result<File, String> {
        if let Some(f) = self.free.pop() {
            return Ok(f);
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| self.fail("create", e))?;
        self.seq += 1;
        let path = self
            .dir
            .join(format!(".weft-ring-{}-{}", std::process::id(), self.seq));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| self.fail("create", e))?;
        // Unlinked right away: the open handle keeps the data, and the
        // kernel frees it whenever weft exits, however it exits.
        let _ = std::fs::remove_file(&path);
        Ok(f)
    }

    fn recycle(&mut self, data: GenData) {
        if let GenData::Spooled(f) = data {
            if self.free.len() < FREE_FILES {
                self.free.push(f);
            }
        }
    }
}

/// The generation being received.
#[derive(Debug)]
struct OpenGen {
    num: u64,
    /// Its bytes so far.
    len: usize,
    /// In memory: all of them. Spooled: those not yet written to `file`
    /// (the spool's staging buffer, lent to this generation).
    buf: Vec<u8>,
    file: Option<File>,
}

impl OpenGen {
    fn memory_len(&self) -> usize {
        self.buf.len()
    }

    // Appends one batch; spooled, writes the staged bytes once there are
    // enough of them.
    fn append(&mut self, batch: &[u8], spool: &mut Option<Spool>) -> Result<(), String> {
        self.buf.extend_from_slice(batch);
        self.len += batch.len();
        if self.file.is_some()
            && spool
                .as_ref()
                .is_some_and(|sp| self.buf.len() >= sp.stage_bytes)
        {
            self.flush(spool)?;
        }
        Ok(())
    }

    fn flush(&mut self, spool: &mut Option<Spool>) -> Result<(), String> {
        let (Some(f), Some(sp)) = (&self.file, spool.as_ref()) else {
            return Ok(());
        };
        let at = (self.len - self.buf.len()) as u64;
        f.write_all_at(&self.buf, at)
            .map_err(|e| sp.fail("write", e))?;
        self.buf.clear();
        Ok(())
    }
}

/// Framing state of one stream (one trace request, or one file).
#[derive(Debug)]
struct Stream {
    id: u64,
    header: Vec<u8>,
    /// Bytes not yet framed (a partial batch).
    pending: Vec<u8>,
    gens: VecDeque<Gen>,
    /// The generation being received.
    open: Option<OpenGen>,
    /// The open generation outgrew the byte cap: skip it until the next one.
    skipping: Option<u64>,
    /// Framing failed; nothing more is kept from this stream.
    broken: Option<String>,
    /// Bytes seen on this stream (for error offsets).
    offset: u64,
    ended: bool,
    /// The last thing framed was an end-of-generation marker (Go 1.26+
    /// traces end with one).
    last_eog: bool,
}

/// Why saving did not happen.
#[derive(Debug)]
pub enum SaveError {
    /// No stream has a complete generation yet.
    Empty,
    /// Writing the file failed.
    Io(std::io::Error),
}

impl std::fmt::Display for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SaveError::Empty => write!(
                f,
                "no complete trace generation received yet (a generation is about one second); try again shortly"
            ),
            SaveError::Io(e) => write!(f, "cannot write the trace file: {e}"),
        }
    }
}
impl std::error::Error for SaveError {}

/// What a save wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedTrace {
    /// Stream the generations came from.
    pub stream: u64,
    /// Generations written.
    pub generations: usize,
    /// First and last generation number (per-stream numbering).
    pub first_gen: u64,
    #[allow(missing_docs)]
    pub last_gen: u64,
    /// Bytes written, header included.
    pub bytes: u64,
    /// Wall-clock time the first and last written generation arrived.
    pub from: SystemTime,
    #[allow(missing_docs)]
    pub to: SystemTime,
    /// Complete generations of older streams still in the window but left
    /// out, because one file can only hold one stream.
    pub left_out_older: usize,
}

/// The ring itself. Feed it with [`push`](Self::push) (stream id, bytes as
/// they arrive) and [`end`](Self::end); save with [`save`](Self::save).
#[derive(Debug)]
pub struct TraceRing {
    opts: RingOptions,
    streams: VecDeque<Stream>,
    bytes: usize,
    /// Of `bytes`, how many are in memory (the rest are spooled to disk).
    memory_bytes: usize,
    dropped_gens: u64,
    spool: Option<Spool>,
}

impl TraceRing {
    /// An empty ring.
    pub fn new(opts: RingOptions) -> TraceRing {
        let spool = opts.spool_dir.clone().map(Spool::new);
        TraceRing {
            opts,
            streams: VecDeque::new(),
            bytes: 0,
            memory_bytes: 0,
            dropped_gens: 0,
            spool,
        }
    }

    /// Bytes held now (complete generations, open generations, partial
    /// batches), in memory or spooled to disk.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Of [`bytes`](Self::bytes), those held in memory.
    pub fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }

    /// Why spooling to disk failed last (generations were dropped), if it did.
    pub fn spool_problem(&self) -> Option<&str> {
        self.spool.as_ref().and_then(|s| s.problem.as_deref())
    }

    /// Generations dropped so far because of the window or the byte cap.
    pub fn dropped_generations(&self) -> u64 {
        self.dropped_gens
    }

    /// Complete generations held, over all streams.
    pub fn generations(&self) -> usize {
        self.streams.iter().map(|s| s.gens.len()).sum()
    }

    /// Why a stream's bytes stopped being kept, if they did.
    pub fn stream_problem(&self, id: u64) -> Option<&str> {
        self.streams
            .iter()
            .find(|s| s.id == id)
            .and_then(|s| s.broken.as_deref())
    }

    /// Whether stream `id`, if it ended now, would end where a trace can
    /// end: after a whole batch, and for the Go 1.26+ format after an
    /// end-of-generation marker. A connection that drops mid-trace can look
    /// like a clean end of the HTTP body; this tells them apart.
    pub fn tail_is_whole(&self, id: u64) -> bool {
        let Some(s) = self.streams.iter().find(|s| s.id == id) else {
            return false;
        };
        let minor: u32 = std::str::from_utf8(s.header.get(5..7).unwrap_or(b""))
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        s.broken.is_none()
            && s.header.len() == HEADER_LEN
            && s.pending.is_empty()
            && (minor < 26 || s.last_eog)
    }

    fn stream_mut(&mut self, id: u64) -> &mut Stream {
        if !self.streams.iter().any(|s| s.id == id) {
            self.streams.push_back(Stream {
                id,
                header: Vec::with_capacity(HEADER_LEN),
                pending: Vec::new(),
                gens: VecDeque::new(),
                open: None,
                skipping: None,
                broken: None,
                offset: 0,
                ended: false,
                last_eog: false,
            });
        }
        self.streams.iter_mut().find(|s| s.id == id).unwrap()
    }

    /// Takes the next bytes of stream `id` (a new id starts a new stream).
    /// Returns the numbers of the generations this completed.
    pub fn push(&mut self, id: u64, mut data: &[u8], now: Instant) -> Vec<u64> {
        let wall = SystemTime::now();
        let cap = self.opts.max_bytes;
        let mut spool = self.spool.take();
        let s = self.stream_mut(id);
        let mut done = Vec::new();
        let before = s.held();
        let before_mem = s.held_in_memory();
        if s.broken.is_none() && !s.ended {
            if s.header.len() < HEADER_LEN {
                let n = (HEADER_LEN - s.header.len()).min(data.len());
                s.header.extend_from_slice(&data[..n]);
                data = &data[n..];
                s.offset += n as u64;
                if s.header.len() == HEADER_LEN && !s.header.starts_with(b"go 1.") {
                    s.broken = Some("the stream does not start with a Go trace header".into());
                }
            }
            if s.broken.is_none() {
                s.pending.extend_from_slice(data);
                s.frame(false, now, wall, cap, &mut spool, &mut done);
            }
        }
        self.account(id, before, before_mem);
        self.spool = spool;
        self.prune(now);
        done
    }

    // Updates the byte counts after stream `id` changed.
    fn account(&mut self, id: u64, before: usize, before_mem: usize) {
        let s = self.streams.iter().find(|s| s.id == id).unwrap();
        let (after, after_mem) = (s.held(), s.held_in_memory());
        self.bytes = self.bytes + after - before;
        self.memory_bytes = self.memory_bytes + after_mem - before_mem;
    }

    /// Marks the end of stream `id`. A clean end completes the generation
    /// being received (the 1.22–1.25 formats end a trace that way); an
    /// unclean one (connection broken, target died) drops it.
    pub fn end(&mut self, id: u64, clean: bool, now: Instant) -> Vec<u64> {
        let wall = SystemTime::now();
        let cap = self.opts.max_bytes;
        let mut spool = self.spool.take();
        let s = self.stream_mut(id);
        let before = s.held();
        let before_mem = s.held_in_memory();
        let mut done = Vec::new();
        if s.broken.is_none() && !s.ended {
            s.frame(true, now, wall, cap, &mut spool, &mut done);
            if clean && s.pending.is_empty() {
                s.close_open(now, wall, &mut spool, &mut done);
            }
        }
        s.ended = true;
        s.drop_open(&mut spool);
        s.pending = Vec::new();
        self.account(id, before, before_mem);
        self.spool = spool;
        self.prune(now);
        done
    }

    // Drops generations that left the window or do not fit under the cap,
    // and streams left with nothing.
    fn prune(&mut self, now: Instant) {
        let window = self.opts.window;
        for s in self.streams.iter_mut() {
            while let Some(g) = s.gens.front() {
                if now.duration_since(g.done_at) > window {
                    self.bytes -= g.len;
                    self.memory_bytes -= g.memory_len();
                    self.dropped_gens += 1;
                    let g = s.gens.pop_front().unwrap();
                    if let Some(sp) = self.spool.as_mut() {
                        sp.recycle(g.data);
                    }
                } else {
                    break;
                }
            }
        }
        while self.bytes > self.opts.max_bytes {
            let Some(s) = self.streams.iter_mut().find(|s| !s.gens.is_empty()) else {
                break;
            };
            let g = s.gens.pop_front().unwrap();
            self.bytes -= g.len;
            self.memory_bytes -= g.memory_len();
            self.dropped_gens += 1;
            if let Some(sp) = self.spool.as_mut() {
                sp.recycle(g.data);
            }
        }
        // Keep the newest stream even when empty: it may be receiving.
        while self.streams.len() > 1 {
            let s = &self.streams[0];
            if s.gens.is_empty() && (s.ended || s.broken.is_some()) {
                self.bytes -= s.held();
                self.memory_bytes -= s.held_in_memory();
                self.streams.pop_front();
            } else {
                break;
            }
        }
    }

    /// Writes the header and the complete generations of the latest stream
    /// that has any, as a standard trace file.
    pub fn save(&self, path: &Path) -> Result<SavedTrace, SaveError> {
        let mut f = std::fs::File::create(path).map_err(SaveError::Io)?;
        let saved = self.write_to(&mut f)?;
        f.flush().map_err(SaveError::Io)?;
        f.sync_all().map_err(SaveError::Io)?;
        Ok(saved)
    }

    /// Same as [`save`](Self::save), into any writer.
    pub fn write_to<W: Write>(&self, w: &mut W) -> Result<SavedTrace, SaveError> {
        let Some(pos) = self.streams.iter().rposition(|s| !s.gens.is_empty()) else {
            return Err(SaveError::Empty);
        };
        let s = &self.streams[pos];
        w.write_all(&s.header).map_err(SaveError::Io)?;
        let mut bytes = s.header.len() as u64;
        for g in &s.gens {
            g.write_to(w).map_err(SaveError::Io)?;
            bytes += g.len as u64;
        }
        let (first, last) = (s.gens.front().unwrap(), s.gens.back().unwrap());
        Ok(SavedTrace {
            stream: s.id,
            generations: s.gens.len(),
            first_gen: first.num,
            last_gen: last.num,
            bytes,
            from: first.done_wall,
            to: last.done_wall,
            left_out_older: self.streams.iter().take(pos).map(|s| s.gens.len()).sum(),
        })
    }
}

impl Stream {
    fn held(&self) -> usize {
        self.pending.len()
            + self.gens.iter().map(|g| g.len).sum::<usize>()
            + self.open.as_ref().map(|o| o.len).unwrap_or(0)
            + self.header.len()
    }

    fn held_in_memory(&self) -> usize {
        self.pending.len()
            + self.gens.iter().map(|g| g.memory_len()).sum::<usize>()
            + self.open.as_ref().map(|o| o.memory_len()).unwrap_or(0)
            + self.header.len()
    }

    fn close_open(
        &mut self,
        now: Instant,
        wall: SystemTime,
        spool: &mut Option<Spool>,
        done: &mut Vec<u64>,
    ) {
        let flushed = match self.open.as_mut() {
            None => return,
            Some(open) => open.flush(spool),
        };
        if let Err(why) = flushed {
            self.spool_failed(why, spool);
            return;
        }
        let mut open = self.open.take().unwrap();
        let (num, len) = (open.num, open.len);
        let data = match open.file.take() {
            None => GenData::Memory(open.buf),
            Some(f) => {
                if let Some(sp) = spool.as_mut() {
                    sp.stage = open.buf;
                }
                GenData::Spooled(f)
            }
        };
        done.push(num);
        self.gens.push_back(Gen {
            num,
            data,
            len,
            done_at: now,
            done_wall: wall,
        });
    }

    fn fail(&mut self, why: String, spool: &mut Option<Spool>) {
        self.broken = Some(format!("{why} (at byte offset {})", self.offset));
        self.drop_open(spool);
        self.pending = Vec::new();
    }

    // Drops the generation being received; its staging buffer and file go
    // back to the spool.
    fn drop_open(&mut self, spool: &mut Option<Spool>) {
        let Some(mut open) = self.open.take() else {
            return;
        };
        if let Some(sp) = spool.as_mut() {
            sp.stage = std::mem::take(&mut open.buf);
            if let Some(f) = open.file.take() {
                sp.recycle(GenData::Spooled(f));
            }
        }
    }

    // Writing the open generation to disk failed: it is dropped rather
    // than kept in memory (the memory bound matters more than this
    // generation), and so is the rest of it. Later generations retry (the
    // disk may have room again).
    fn spool_failed(&mut self, why: String, spool: &mut Option<Spool>) {
        self.skipping = self.open.as_ref().map(|o| o.num);
        if let Some(open) = self.open.as_mut() {
            // Not reused: it may fail again.
            open.file = None;
        }
        self.drop_open(spool);
        if let Some(sp) = spool.as_mut() {
            sp.problem = Some(why);
        }
    }

    // Starts the generation `num`: spooled, in a file from the start.
    fn open_gen(&mut self, num: u64, spool: &mut Option<Spool>) -> Result<(), String> {
        let (buf, file) = match spool.as_mut() {
            None => (Vec::new(), None),
            Some(sp) => {
                let f = sp.file()?;
                let mut buf = std::mem::take(&mut sp.stage);
                buf.clear();
                (buf, Some(f))
            }
        };
        self.open = Some(OpenGen {
            num,
            len: 0,
            buf,
            file,
        });
        Ok(())
    }

    // Moves every whole batch from `pending` into the open generation.
    fn frame(
        &mut self,
        eof: bool,
        now: Instant,
        wall: SystemTime,
        cap: usize,
        spool: &mut Option<Spool>,
        done: &mut Vec<u64>,
    ) {
        let mut at = 0;
        loop {
            match batch_len(&self.pending[at..]) {
                Framed::Pending => break,
                Framed::Bad(why) => {
                    self.offset += at as u64;
                    self.fail(why, spool);
                    return;
                }
                Framed::EndOfGeneration => {
                    if let Some(open) = self.open.as_mut() {
                        if let Err(why) = open.append(&[ev::END_OF_GENERATION], spool) {
                            self.spool_failed(why, spool);
                        }
                    }
                    self.skipping = None;
                    self.close_open(now, wall, spool, done);
                    self.last_eog = true;
                    at += 1;
                }
                Framed::Batch { gen, len } => {
                    match self.open.as_ref().map(|o| o.num) {
                        Some(g) if gen < g => {
                            self.offset += at as u64;
                            self.fail(
                                format!("batch of generation {gen} after generation {g}"),
                                spool,
                            );
                            return;
                        }
                        Some(g) if gen > g => self.close_open(now, wall, spool, done),
                        _ => {}
                    }
                    if self.skipping.is_some_and(|g| g != gen) {
                        self.skipping = None;
                    }
                    if self.skipping.is_none() && self.open.is_none() {
                        if let Err(why) = self.open_gen(gen, spool) {
                            self.skipping = Some(gen);
                            if let Some(sp) = spool.as_mut() {
                                sp.problem = Some(why);
                            }
                        }
                    }
                    if let Some(open) = self.open.as_mut() {
                        if open.len + len > cap {
                            // One generation larger than the whole ring:
                            // keep nothing of it rather than a broken part.
                            self.drop_open(spool);
                            self.skipping = Some(gen);
                        } else if let Err(why) = open.append(&self.pending[at..at + len], spool) {
                            self.spool_failed(why, spool);
                        }
                    }
                    self.last_eog = false;
                    at += len;
                }
            }
        }
        self.offset += at as u64;
        self.pending.drain(..at);
        if eof && !self.pending.is_empty() {
            // A partial batch at the end: the generation it belongs to is
            // incomplete and must not be saved.
            self.drop_open(spool);
        }
    }
}

impl Gen {
    fn memory_len(&self) -> usize {
        match self.data {
            GenData::Memory(_) => self.len,
            GenData::Spooled(_) => 0,
        }
    }
}

enum Framed {
    Pending,
    Bad(String),
    EndOfGeneration,
    Batch { gen: u64, len: usize },
}

// The length of the batch at the front of `b` (header included).
fn batch_len(b: &[u8]) -> Framed {
    let Some(&t) = b.first() else {
        return Framed::Pending;
    };
    let mut pos = 1;
    match t {
        ev::END_OF_GENERATION => return Framed::EndOfGeneration,
        ev::EVENT_BATCH => {}
        ev::EXPERIMENTAL_BATCH => pos = 2,
        _ => return Framed::Bad(format!("expected a batch, found event type {t}")),
    }
    if b.len() < pos {
        return Framed::Pending;
    }
    let mut vals = [0u64; 4];
    for v in vals.iter_mut() {
        match uvarint(&b[pos..]) {
            Varint::Ok(x, n) => {
                *v = x;
                pos += n;
            }
            Varint::Short(_) => return Framed::Pending,
            Varint::Overflow => return Framed::Bad("batch header varint overflows".into()),
        }
    }
    let size = vals[3];
    if size > MAX_BATCH_SIZE {
        return Framed::Bad(format!(
            "batch size {size} is over the maximum {MAX_BATCH_SIZE}"
        ));
    }
    let len = pos + size as usize;
    if b.len() < len {
        return Framed::Pending;
    }
    Framed::Batch { gen: vals[0], len }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_trace::raw::text_to_binary;
    use weft_trace::Reader;

    // A small valid 1.22 trace with `gens` generations.
    fn trace(gens: u64) -> Vec<u8> {
        let mut t = String::from("Trace Go1.22\n");
        for g in 1..=gens {
            t += &gen_text(g, 100 * g);
        }
        text_to_binary(&t).unwrap()
    }

    // Generation `g` in the text form, its first batch stamped `time`.
    fn gen_text(g: u64, time: u64) -> String {
        format!(
            "EventBatch gen={g} m=0 time={time} size=9\nProcStatus dt=1 p=0 pstatus=1\nGoStatus dt=1 g=1 m=0 gstatus=2\n\
             EventBatch gen={g} m=18446744073709551615 time=0 size=5\nFrequency freq=15625000\n\
             EventBatch gen={g} m=18446744073709551615 time=0 size=1\nStacks\n\
             EventBatch gen={g} m=18446744073709551615 time=0 size=1\nStrings\n"
        )
    }

    fn parses(bytes: &[u8]) -> u64 {
        let mut r = Reader::new(bytes);
        let mut n = 0;
        while r.next_event().expect("saved trace parses").is_some() {
            n += 1;
        }
        n
    }

    fn spool_in(dir: &Path) -> RingOptions {
        RingOptions {
            spool_dir: Some(dir.to_path_buf()),
            ..RingOptions::default()
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("weft-ring-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn spooled_generations_leave_memory_and_no_files() {
        let dir = scratch("spool");
        let t = trace(5);
        let now = Instant::now();
        let mut ring = TraceRing::new(spool_in(&dir));
        ring.push(1, &t, now);
        // Generations 1-4 are complete and spooled; 5 is still open.
        assert_eq!(ring.generations(), 4);
        assert_eq!(ring.bytes(), t.len());
        let open = ring.memory_bytes();
        assert!(
            open < t.len() / 4,
            "only the open generation and header stay in memory: {open}"
        );
        // The spool files are unlinked at once: nothing to clean up later.
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(left.is_empty(), "spool files left on disk: {left:?}");
        ring.end(1, true, now);
        assert_eq!(ring.memory_bytes(), HEADER_LEN, "only the header");
        let mut out = vec![];
        ring.write_to(&mut out).unwrap();
        assert_eq!(out, t, "the spooled ring gives back the stream");
        parses(&out);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reused_spool_files_give_back_exactly_each_generation() {
        let dir = scratch("reuse");
        // Generations of different lengths (the varint of the first
        // batch's time), so a file reused for a shorter generation still
        // holds the tail of a longer one past the new length.
        let gens: Vec<Vec<u8>> = (1..=12u64)
            .map(|g| {
                let time = if g % 3 == 0 { (1 << 50) + g } else { g };
                let t = text_to_binary(&format!("Trace Go1.22\n{}", gen_text(g, time))).unwrap();
                t[HEADER_LEN..].to_vec()
            })
            .collect();
        let longest = gens.iter().map(Vec::len).max().unwrap();
        let header = trace(1)[..HEADER_LEN].to_vec();
        let mut ring = TraceRing::new(RingOptions {
            max_bytes: HEADER_LEN + 3 * longest,
            ..spool_in(&dir)
        });
        // Several writes per generation, at staggered offsets.
        ring.spool.as_mut().unwrap().stage_bytes = 7;
        let now = Instant::now();
        ring.push(1, &header, now);
        for g in &gens {
            ring.push(1, g, now);
        }
        ring.end(1, true, now);
        let mut out = vec![];
        let s = ring.write_to(&mut out).unwrap();
        assert!(s.generations >= 2 && s.generations < 12, "{s:?}");
        let mut want = header.clone();
        for g in &gens[12 - s.generations..] {
            want.extend_from_slice(g);
        }
        assert_eq!(out, want, "the kept generations, byte for byte");
        let sp = ring.spool.as_ref().unwrap();
        assert!(
            sp.seq < 12,
            "files of dropped generations are reused: {} files for 12 generations",
            sp.seq
        );
        assert!(std::fs::read_dir(&dir).unwrap().next().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_spool_write_drops_that_generation_only() {
        let dir = scratch("write-fails");
        std::fs::create_dir_all(&dir).unwrap();
        let ro = dir.join("read-only");
        std::fs::write(&ro, b"").unwrap();
        let mut ring = TraceRing::new(spool_in(&dir));
        // The first generation gets a file that refuses writes, midway
        // (staged bytes are written every 7 bytes).
        let sp = ring.spool.as_mut().unwrap();
        sp.stage_bytes = 7;
        sp.free.push(File::open(&ro).unwrap());
        let t = trace(4);
        let now = Instant::now();
        ring.push(1, &t, now);
        ring.end(1, true, now);
        let why = ring.spool_problem().expect("the failed write is reported");
        assert!(
            why.contains("cannot write") && why.contains("WEFT_SPOOL_DIR"),
            "{why}"
        );
        let mut out = vec![];
        let s = ring.write_to(&mut out).unwrap();
        assert_eq!((s.generations, s.first_gen, s.last_gen), (3, 2, 4));
        let gen_len = (t.len() - HEADER_LEN) / 4;
        assert_eq!(
            out[HEADER_LEN..],
            t[HEADER_LEN + gen_len..],
            "generations 2-4 whole"
        );
        assert_eq!(
            ring.memory_bytes(),
            HEADER_LEN,
            "nothing of generation 1 kept in memory"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unwritable_spool_drops_generations_and_says_why() {
        let file = scratch("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let mut ring = TraceRing::new(spool_in(&file.join("sub")));
        ring.push(1, &trace(3), Instant::now());
        assert_eq!(ring.generations(), 0);
        let why = ring.spool_problem().unwrap();
        assert!(why.contains("WEFT_SPOOL_DIR"), "{why}");
        assert!(matches!(ring.write_to(&mut vec![]), Err(SaveError::Empty)));
        std::fs::remove_file(&file).unwrap();
    }

    #[test]
    fn any_chunking_gives_the_same_generations() {
        let t = trace(4);
        let dir = scratch("chunking");
        for chunk in [1, 2, 3, 7, 16, 17, 64, t.len()] {
            // Alternate memory and disk: both must give the stream back.
            let opts = if chunk % 2 == 0 {
                spool_in(&dir)
            } else {
                RingOptions {
                    spool_dir: None,
                    ..RingOptions::default()
                }
            };
            let mut ring = TraceRing::new(opts);
            let now = Instant::now();
            let mut done = vec![];
            for c in t.chunks(chunk) {
                done.extend(ring.push(1, c, now));
            }
            // 1.22 traces: the last generation completes only at a clean end.
            assert_eq!(done, [1, 2, 3], "chunk {chunk}");
            done.extend(ring.end(1, true, now));
            assert_eq!(done, [1, 2, 3, 4]);
            let mut out = vec![];
            let s = ring.write_to(&mut out).unwrap();
            assert_eq!(out, t, "chunk {chunk}: the ring gives back the stream");
            assert_eq!((s.generations, s.first_gen, s.last_gen), (4, 1, 4));
            assert!(parses(&out) > 0);
        }
    }

    #[test]
    fn unclean_end_drops_the_open_generation() {
        let t = trace(3);
        let mut ring = TraceRing::new(RingOptions::default());
        let now = Instant::now();
        ring.push(1, &t[..t.len() - 3], now);
        ring.end(1, false, now);
        let mut out = vec![];
        let s = ring.write_to(&mut out).unwrap();
        assert_eq!(s.generations, 2);
        parses(&out);
    }

    #[test]
    fn window_and_cap_drop_oldest_and_save_stays_valid() {
        let t = trace(6);
        let start = Instant::now();
        let mut ring = TraceRing::new(RingOptions {
            window: Duration::from_secs(3),
            max_bytes: 1 << 20,
            spool_dir: None,
        });
        // One chunk per second of arrival time.
        let per = t.len() / 6;
        let mut i = 0;
        for (k, c) in t[HEADER_LEN..].chunks(per).enumerate() {
            let now = start + Duration::from_secs(k as u64);
            if i == 0 {
                ring.push(1, &t[..HEADER_LEN], now);
            }
            i += 1;
            ring.push(1, c, now);
        }
        ring.end(1, true, start + Duration::from_secs(6));
        assert!(ring.generations() <= 4, "window keeps ~3 s");
        let mut out = vec![];
        let s = ring.write_to(&mut out).unwrap();
        assert!(s.first_gen > 1);
        parses(&out);

        // A cap smaller than two generations keeps one.
        let gen_len = (t.len() - HEADER_LEN) / 6;
        let mut ring = TraceRing::new(RingOptions {
            window: Duration::from_secs(60),
            max_bytes: gen_len * 2 + HEADER_LEN - 1,
            spool_dir: None,
        });
        ring.push(1, &t, start);
        ring.end(1, true, start);
        assert!(ring.bytes() <= gen_len * 2 + HEADER_LEN);
        assert_eq!(ring.generations(), 1);
        let mut out = vec![];
        assert_eq!(ring.write_to(&mut out).unwrap().first_gen, 6);
        parses(&out);
    }

    #[test]
    fn latest_stream_is_saved() {
        let t = trace(2);
        let now = Instant::now();
        let mut ring = TraceRing::new(RingOptions::default());
        ring.push(1, &t, now);
        ring.end(1, true, now);
        ring.push(2, &t, now);
        // Stream 2 has one complete generation (gen 1; gen 2 still open).
        let mut out = vec![];
        let s = ring.write_to(&mut out).unwrap();
        assert_eq!((s.stream, s.generations, s.left_out_older), (2, 1, 2));
        parses(&out);
    }

    #[test]
    fn garbage_is_refused_not_kept() {
        let now = Instant::now();
        let mut ring = TraceRing::new(RingOptions::default());
        ring.push(1, b"<html>not a trace at all</html>", now);
        assert!(ring.stream_problem(1).unwrap().contains("header"));
        let mut t = trace(1);
        t[HEADER_LEN] = 99;
        ring.push(2, &t, now);
        assert!(ring.stream_problem(2).unwrap().contains("event type 99"));
        assert!(matches!(ring.write_to(&mut vec![]), Err(SaveError::Empty)));
    }
}
