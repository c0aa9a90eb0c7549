//! Traces larger than the model's caps, opened with full detail: an index
//! of the file's generations and a small cache of detail models decoded
//! from it on demand.
//!
//! `weft open FILE` streams the whole file into one resident model whose
//! span stores are capped, so on a big capture the early detail is gone
//! once loading ends ([`Model::detail_complete_ns`] says from when it is
//! complete). The v2 format writes each generation's batches contiguously,
//! and every generation restates every goroutine and P it mentions, so a
//! stretch of generations is itself a valid trace: the 16-byte header plus
//! those bytes. [`GenIndex`] records each generation's byte range and start
//! time (one pass over the batch headers, seeking over the batch bodies).
//! When a timeline or wakes query asks for a time range before the
//! resident detail, [`Index`] decodes just the generations overlapping it
//! (one generation of lead-in before, so the states at the window's start
//! are known) into a fresh model and answers from that; the last
//! [`Tuning::detail_models`] such models are kept, least recently used
//! first out. Goroutine ids are the trace's own, so rows match the
//! resident model's; group ids are mapped back to the resident model's by
//! group key (`entry@file:line`).
//!
//! Memory: the resident model's caps, plus at most `detail_models` detail
//! models, each under its own span cap and decoded from at most
//! `detail_bytes` of trace, plus the index (40 bytes per generation, about
//! one generation per second).
use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use serde_json::{json, Value};
use weft_timeline::{Config, GState, GoroutineFilter, GroupId, Model, TimeRange};
use weft_trace::spec::{ev, MAX_BATCH_SIZE};

use crate::rows::{self, RowFilter};
use crate::state::{LoadState, Shared};

/// The environment variable that tunes the file model's caps and the
/// detail cache, for tests and benchmarks that want a big trace's early
/// detail evicted without a huge file: comma-separated `name=value` with
/// names `max_spans`, `max_spans_per_goroutine`, `max_wakes`,
/// `max_ranges`, `detail_models`, `detail_bytes`, `detail_max_spans`
/// (see [`Tuning`]).
pub const TUNING_ENV: &str = "WEFT_WEB_CAPS";

/// How many detail models are kept and how much trace one may decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// Detail models kept (least recently used dropped first).
    pub detail_models: usize,
    /// Most bytes of trace one detail model decodes; wider ranges are
    /// answered from the resident model (zooming in gets the detail).
    pub detail_bytes: u64,
    /// Span cap of one detail model (also its per-goroutine and wake cap:
    /// it covers a few seconds, which a whole-capture per-goroutine cap
    /// must not cut); `None`: the resident model's `max_spans`.
    pub detail_max_spans: Option<usize>,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            detail_models: 2,
            detail_bytes: 48 << 20,
            detail_max_spans: None,
        }
    }
}

/// Applies [`TUNING_ENV`] to a model config and returns the cache tuning.
/// Entries it does not know are reported on stderr once and ignored.
pub fn tuning_from_env(cfg: &mut Config) -> Tuning {
    let mut t = Tuning::default();
    let Ok(spec) = std::env::var(TUNING_ENV) else {
        return t;
    };
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let parsed = item
            .split_once('=')
            .and_then(|(k, v)| v.trim().parse::<u64>().ok().map(|v| (k.trim(), v)));
        let ok = match parsed {
            Some(("max_spans", v)) => {
                cfg.max_spans = v as usize;
                true
            }
            Some(("max_spans_per_goroutine", v)) => {
                cfg.max_spans_per_goroutine = v as usize;
                true
            }
            Some(("max_wakes", v)) => {
                cfg.max_wakes = v as usize;
                true
            }
            Some(("max_ranges", v)) => {
                cfg.max_ranges = v as usize;
                true
            }
            Some(("detail_models", v)) => {
                t.detail_models = (v as usize).max(1);
                true
            }
            Some(("detail_bytes", v)) => {
                t.detail_bytes = v.max(1);
                true
            }
            Some(("detail_max_spans", v)) => {
                t.detail_max_spans = Some((v as usize).max(1));
                true
            }
            _ => false,
        };
        if !ok {
            static WARNED: OnceLock<()> = OnceLock::new();
            WARNED.get_or_init(|| {
                eprintln!(
                    "weft: ignoring {TUNING_ENV} entry {item:?} (expected name=number with a name of \
                     max_spans, max_spans_per_goroutine, max_wakes, max_ranges, detail_models, detail_bytes, detail_max_spans)"
                )
            });
        }
    }
    t
}

// ------------------------------------------------------------------ index

/// One generation of a trace file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenEntry {
    /// Generation number as written.
    pub gen: u64,
    /// Byte range `[start, end)` of its batches in the file.
    pub start: u64,
    pub end: u64,
    /// Earliest batch start time on the trace clock (ns), the same clock
    /// the decoder's event times use.
    pub start_ns: i64,
}

/// Where each generation of a trace file lies, in bytes and in time.
#[derive(Clone, Debug)]
pub struct GenIndex {
    /// The file's 16-byte header, put in front of every slice decoded.
    pub header: [u8; 16],
    pub gens: Vec<GenEntry>,
    /// File length when scanned (a file that changed since is refused).
    pub file_len: u64,
}

/// Why a file could not be indexed (it may still load: the resident model
/// then answers every query).
#[derive(Debug)]
pub struct ScanError {
    pub offset: u64,
    pub msg: String,
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.msg)
    }
}

// Reads one unsigned LEB128 varint (at most 10 bytes).
fn read_varint<R: Read>(r: &mut R, pos: &mut u64, what: &str) -> Result<u64, ScanError> {
    let mut x = 0u64;
    for i in 0..10 {
        let mut b = [0u8];
        r.read_exact(&mut b).map_err(|e| ScanError {
            offset: *pos,
            msg: format!("reading the batch's {what}: {e}"),
        })?;
        *pos += 1;
        if i == 9 && b[0] > 1 {
            break;
        }
        x |= ((b[0] & 0x7f) as u64) << (7 * i);
        if b[0] < 0x80 {
            return Ok(x);
        }
    }
    Err(ScanError {
        offset: *pos,
        msg: format!("the batch's {what} overflows 64 bits"),
    })
}

// The frequency (ticks per second) at the front of a sync batch's data:
// `Frequency freq`, from Go 1.25 after a `Sync` byte.
fn frequency_in(data: &[u8]) -> Option<u64> {
    let d = match data.first() {
        Some(&t) if t == ev::SYNC => &data[1..],
        _ => data,
    };
    if d.first() != Some(&ev::FREQUENCY) {
        return None;
    }
    match weft_trace::uvarint(&d[1..]) {
        weft_trace::Varint::Ok(f, _) if f > 0 => Some(f),
        _ => None,
    }
}

impl GenIndex {
    /// Scans a trace file's batch headers (seeking over their bodies).
    pub fn scan(path: &Path) -> Result<GenIndex, ScanError> {
        let f = File::open(path).map_err(|e| ScanError {
            offset: 0,
            msg: format!("cannot open {}: {e}", path.display()),
        })?;
        let file_len = f.metadata().map(|m| m.len()).unwrap_or(0);
        GenIndex::scan_reader(BufReader::with_capacity(64 << 10, f), file_len)
    }

    /// [`GenIndex::scan`] over any seekable reader of `len` bytes.
    pub fn scan_reader<R: Read + Seek>(mut r: R, len: u64) -> Result<GenIndex, ScanError> {
        let mut header = [0u8; 16];
        r.read_exact(&mut header).map_err(|e| ScanError {
            offset: 0,
            msg: format!("reading the 16-byte trace header: {e}"),
        })?;
        if !header.starts_with(b"go 1.") || !header[5..].windows(6).any(|w| w == b" trace") {
            return Err(ScanError {
                offset: 0,
                msg: "not a Go execution trace (header is not \"go 1.NN trace\")".into(),
            });
        }
        let mut pos = 16u64;
        let mut gens: Vec<GenEntry> = Vec::new();
        let mut seen: BTreeSet<u64> = BTreeSet::new();
        // Per generation: earliest M batch time (ticks) and the frequency.
        let mut ticks: Vec<Option<u64>> = Vec::new();
        let mut freqs: Vec<Option<u64>> = Vec::new();
        loop {
            let at = pos;
            let mut t = [0u8];
            match r.read(&mut t) {
                Ok(0) => break,
                Ok(_) => pos += 1,
                Err(e) => {
                    return Err(ScanError {
                        offset: at,
                        msg: format!("read error: {e}"),
                    })
                }
            }
            if t[0] == ev::END_OF_GENERATION {
                // Go 1.26's marker closes the generation before it.
                if let Some(g) = gens.last_mut() {
                    g.end = pos;
                }
                continue;
            }
            if t[0] == ev::EXPERIMENTAL_BATCH {
                let mut e = [0u8];
                if r.read_exact(&mut e).is_err() {
                    break; // a clean end, as the reference reader treats it
                }
                pos += 1;
            } else if t[0] != ev::EVENT_BATCH {
                return Err(ScanError {
                    offset: at,
                    msg: format!("expected a batch header, found event type {}", t[0]),
                });
            }
            let gen = read_varint(&mut r, &mut pos, "generation")?;
            let m = read_varint(&mut r, &mut pos, "thread")?;
            let time = read_varint(&mut r, &mut pos, "timestamp")?;
            let size = read_varint(&mut r, &mut pos, "size")?;
            if size > MAX_BATCH_SIZE {
                return Err(ScanError {
                    offset: at,
                    msg: format!("batch size {size} is over the format's {MAX_BATCH_SIZE}"),
                });
            }
            if pos + size > len {
                // A truncated tail: the decoder reports it; index what is whole.
                break;
            }
            let mut freq = None;
            if m == u64::MAX && t[0] == ev::EVENT_BATCH {
                let mut head = vec![0u8; (size as usize).min(16)];
                r.read_exact(&mut head).map_err(|e| ScanError {
                    offset: pos,
                    msg: format!("reading a batch: {e}"),
                })?;
                freq = frequency_in(&head);
                r.seek(SeekFrom::Current((size - head.len() as u64) as i64))
            } else {
                r.seek(SeekFrom::Current(size as i64))
            }
            .map_err(|e| ScanError {
                offset: pos,
                msg: format!("seeking over a batch: {e}"),
            })?;
            pos += size;
            match gens.last_mut() {
                Some(g) if g.gen == gen => g.end = pos,
                _ => {
                    if !seen.insert(gen) {
                        return Err(ScanError {
                            offset: at,
                            msg: format!(
                                "generation {gen}'s batches are not contiguous (it appears again after another generation)"
                            ),
                        });
                    }
                    gens.push(GenEntry {
                        gen,
                        start: at,
                        end: pos,
                        start_ns: 0,
                    });
                    ticks.push(None);
                    freqs.push(None);
                }
            }
            let i = gens.len() - 1;
            // Every batch starts at or before its events; the earliest one
            // is also the time of the generation's opening Sync event.
            if time > 0 {
                ticks[i] = Some(ticks[i].map_or(time, |x| x.min(time)));
            }
            if freq.is_some() {
                freqs[i] = freq;
            }
        }
        if gens.is_empty() {
            return Err(ScanError {
                offset: pos,
                msg: "the trace holds no generations".into(),
            });
        }
        // Ticks to nanoseconds as the decoder does it (per generation, by
        // that generation's frequency).
        let mut last_ns = i64::MIN;
        for (i, g) in gens.iter_mut().enumerate() {
            let ns = match (ticks[i], freqs[i]) {
                (Some(t), Some(f)) => (t as f64 * (1.0 / (f as f64 / 1e9))) as i64,
                _ => last_ns.max(0),
            };
            g.start_ns = ns.max(last_ns);
            last_ns = g.start_ns;
        }
        Ok(GenIndex {
            header,
            gens,
            file_len: len,
        })
    }

    /// Generations `[first, last]` to decode for `range`: those whose time
    /// overlaps it, one before as lead-in (the goroutine states at the
    /// window's start, and events of the previous generation stamped just
    /// after the next one began), and the next one when the range reaches
    /// into the last tenth of the last generation (its open spans close
    /// there).
    pub fn plan(&self, range: TimeRange) -> Option<(usize, usize)> {
        let n = self.gens.len();
        let next_start = |i: usize| {
            self.gens
                .get(i + 1)
                .map_or(i64::MAX, |g: &GenEntry| g.start_ns)
        };
        let first = (0..n).find(|&i| next_start(i) > range.start_ns)?;
        let mut last = (0..n)
            .rev()
            .find(|&i| self.gens[i].start_ns < range.end_ns)?;
        if last < first {
            last = first;
        }
        let (s, e) = (self.gens[last].start_ns, next_start(last));
        if e != i64::MAX && range.end_ns > s + (e - s) / 10 * 9 {
            last = (last + 1).min(n - 1);
        }
        Some((first.saturating_sub(1), last))
    }

    /// Bytes of trace generations `[first, last]` hold.
    pub fn bytes(&self, first: usize, last: usize) -> u64 {
        self.gens[last].end - self.gens[first].start
    }
}

// ------------------------------------------------------------------ cache

/// A detail model over generations `[first, last]` and its group ids
/// mapped to the resident model's.
struct DetailModel {
    first: usize,
    last: usize,
    model: Model,
    /// Detail group id → resident group id (0 when unknown there).
    to_resident: Vec<GroupId>,
    used: u64,
}

/// What the resident model says, read once when it is ready (a file's
/// model does not change after loading).
struct Resident {
    complete_ns: i64,
    first_ns: i64,
    keys: HashMap<String, GroupId>,
}

enum ScanState {
    Scanning,
    Ready(Arc<GenIndex>),
    Failed(String),
}

/// The index of the open file and its detail cache (see the module docs).
pub struct Index {
    // The server's state, for the resident model (weak: it owns this index).
    app: std::sync::Weak<Shared>,
    path: PathBuf,
    cfg: Config,
    tuning: Tuning,
    scan: Mutex<ScanState>,
    resident: OnceLock<Resident>,
    cache: Mutex<Vec<Arc<Mutex<DetailModel>>>>,
    // One build at a time: a second request for the same range waits and
    // finds it in the cache.
    building: Mutex<()>,
    tick: AtomicU64,
    builds: AtomicU64,
    last_build_ms: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// Starts indexing `path` in the background for the server behind `shared`.
pub(crate) fn attach(shared: &Arc<Shared>, path: PathBuf) {
    // Only a regular file can be read again (a FIFO's bytes are the loader's).
    if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
        return;
    }
    let mut cfg = crate::load::file_config();
    let tuning = tuning_from_env(&mut cfg);
    let spans = tuning.detail_max_spans.unwrap_or(cfg.max_spans);
    cfg.max_spans = spans;
    cfg.max_spans_per_goroutine = spans;
    cfg.max_wakes = cfg.max_wakes.max(spans);
    let ix = Arc::new(Index {
        app: Arc::downgrade(shared),
        path,
        cfg,
        tuning,
        scan: Mutex::new(ScanState::Scanning),
        resident: OnceLock::new(),
        cache: Mutex::new(Vec::new()),
        building: Mutex::new(()),
        tick: AtomicU64::new(0),
        builds: AtomicU64::new(0),
        last_build_ms: AtomicU64::new(0),
        last_error: Mutex::new(None),
    });
    if shared.index.set(ix.clone()).is_err() {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("weft-web-index".into())
        .spawn(move || {
            let st = match GenIndex::scan(&ix.path) {
                Ok(g) => ScanState::Ready(Arc::new(g)),
                Err(e) => ScanState::Failed(format!("{}: {e}", ix.path.display())),
            };
            *lock(&ix.scan) = st;
        });
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A detail model to answer from, with what the caller needs to map it.
struct Plan {
    ix: Arc<Index>,
    gens: Arc<GenIndex>,
    first: usize,
    last: usize,
}

impl Plan {
    /// The detail model for the planned generations (cached or decoded
    /// now); a failure is noted in the index's status and gives `None`, so
    /// the caller answers from the resident model.
    fn decode(&self) -> Option<Arc<Mutex<DetailModel>>> {
        match self.ix.detail(&self.gens, self.first, self.last) {
            Ok(d) => Some(d),
            Err(e) => {
                self.ix.note_error(e);
                None
            }
        }
    }
}

/// A row filter on resident group ids, as the detail model's group ids.
fn filter_to_detail(d: &DetailModel, f: &RowFilter) -> RowFilter {
    let mut f2 = f.clone();
    f2.groups = f.groups.as_ref().map(|s| groups_to_detail(d, s));
    f2.collapsed = groups_to_detail(d, &f.collapsed);
    f2
}

impl Index {
    fn gens(&self) -> Option<Arc<GenIndex>> {
        match &*lock(&self.scan) {
            ScanState::Ready(g) => Some(g.clone()),
            _ => None,
        }
    }

    fn resident(&self, m: &Model) -> &Resident {
        self.resident.get_or_init(|| Resident {
            complete_ns: m.detail_complete_ns(),
            first_ns: m.first_ns(),
            keys: (0..m.groups_raw().len() as GroupId)
                .map(|g| (m.group_key(g), g))
                .collect(),
        })
    }

    // The cached model covering `[first, last]`, or a new one decoded now.
    fn detail(
        &self,
        g: &GenIndex,
        first: usize,
        last: usize,
    ) -> Result<Arc<Mutex<DetailModel>>, String> {
        let find = |this: &Index| {
            let cache = lock(&this.cache);
            cache
                .iter()
                .find(|d| {
                    let d = lock(d);
                    d.first <= first && d.last >= last
                })
                .cloned()
        };
        let touch = |d: &Arc<Mutex<DetailModel>>| {
            lock(d).used = self.tick.fetch_add(1, Ordering::Relaxed) + 1;
        };
        if let Some(d) = find(self) {
            touch(&d);
            return Ok(d);
        }
        let _one = lock(&self.building);
        if let Some(d) = find(self) {
            touch(&d);
            return Ok(d);
        }
        // Make room before decoding, so memory never holds more detail
        // models than the cap, not even while one is built.
        self.drop_lru(self.tuning.detail_models.saturating_sub(1));
        let t0 = Instant::now();
        let model = self.decode(g, first, last)?;
        let res = self
            .resident
            .get()
            .ok_or("the resident model is not read yet")?;
        let mut to_resident: Vec<GroupId> = (0..model.groups_raw().len() as GroupId)
            .map(|d| res.keys.get(&model.group_key(d)).copied().unwrap_or(0))
            .collect();
        if let Some(app) = self.app.upgrade() {
            adopt_unmapped_groups(&model, &app.model(), &mut to_resident);
        }
        self.builds.fetch_add(1, Ordering::Relaxed);
        self.last_build_ms
            .store(t0.elapsed().as_millis() as u64, Ordering::Relaxed);
        let d = Arc::new(Mutex::new(DetailModel {
            first,
            last,
            model,
            to_resident,
            used: self.tick.fetch_add(1, Ordering::Relaxed) + 1,
        }));
        let mut cache = lock(&self.cache);
        // Models inside the new one's generations are no longer needed.
        cache.retain(|x| {
            let x = lock(x);
            !(x.first >= first && x.last <= last)
        });
        drop(cache);
        self.drop_lru(self.tuning.detail_models.saturating_sub(1));
        lock(&self.cache).push(d.clone());
        Ok(d)
    }

    // Drops least recently used detail models until at most `keep` remain.
    fn drop_lru(&self, keep: usize) {
        let mut cache = lock(&self.cache);
        while cache.len() > keep {
            let oldest = (0..cache.len())
                .min_by_key(|&i| lock(&cache[i]).used)
                .unwrap_or(0);
            // Dropped outside the cache lock (a big model takes a while to free).
            let gone = cache.remove(oldest);
            drop(cache);
            drop(gone);
            cache = lock(&self.cache);
        }
    }

    // Decodes the header plus generations `[first, last]` of the file.
    fn decode(&self, g: &GenIndex, first: usize, last: usize) -> Result<Model, String> {
        let mut f = File::open(&self.path)
            .map_err(|e| format!("cannot reopen {}: {e}", self.path.display()))?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len != g.file_len {
            return Err(format!(
                "{} changed since it was opened ({} bytes, now {len})",
                self.path.display(),
                g.file_len
            ));
        }
        let (start, end) = (g.gens[first].start, g.gens[last].end);
        f.seek(SeekFrom::Start(start))
            .map_err(|e| format!("{}: seek to byte {start}: {e}", self.path.display()))?;
        let body = BufReader::with_capacity(1 << 20, f.take(end - start));
        let input = std::io::Cursor::new(g.header).chain(body);
        let mut model = Model::new(self.cfg.clone());
        // Goroutines the loaded model knows to be blocked since before
        // these generations wait there too, for the reason it knows (the
        // slice itself only restates that they are waiting).
        if let Some(app) = self.app.upgrade() {
            let m = app.model();
            let from = g.gens[first].start_ns;
            for r in m.goroutines_raw() {
                if r.state == GState::Waiting && r.since_ns <= from && r.reason != 0 {
                    model.assume_waiting(r.id, m.str(r.reason));
                }
            }
        }
        let fail = |e: weft_trace::Error| {
            format!(
                "{}: decoding generations {}..={} (bytes {start}..{end}): {e}",
                self.path.display(),
                g.gens[first].gen,
                g.gens[last].gen
            )
        };
        let mut rd = weft_trace::Reader::new(input);
        while let Some(e) = rd.next_event().map_err(fail)? {
            model.ingest(&e);
        }
        model.evict();
        Ok(model)
    }

    fn note_error(&self, e: String) {
        eprintln!("weft: detail for an early range: {e}; answering from the resident model");
        *lock(&self.last_error) = Some(e);
    }
}

/// When `range` reaches before the resident model's complete detail and
/// the file is indexed, which generations to decode (cheap; takes the
/// model lock once).
fn plan_for(app: &Shared, range: TimeRange) -> Option<Plan> {
    let ix = app.index.get()?.clone();
    if app.status().state != LoadState::Ready {
        return None;
    }
    let gens = ix.gens()?;
    let complete = {
        let m = app.model();
        ix.resident(&m).complete_ns
    };
    if range.start_ns >= complete {
        return None;
    }
    let (first, last) = gens.plan(range)?;
    if gens.bytes(first, last) > ix.tuning.detail_bytes {
        return None;
    }
    Some(Plan {
        ix,
        gens,
        first,
        last,
    })
}

fn range_param(q: &HashMap<String, String>) -> Option<TimeRange> {
    let get = |k: &str| q.get(k).and_then(|s| s.trim().parse::<i64>().ok());
    let (s, e) = (get("start_ns")?, get("end_ns")?);
    (e > s).then_some(TimeRange {
        start_ns: s,
        end_ns: e,
    })
}

// A detail group whose key the resident model does not know (goroutines
// already running when the decoded generations begin have no creation
// event there, so they group by another key) maps to the resident group
// most of its goroutines belong to, where the resident model knows them.
fn adopt_unmapped_groups(detail: &Model, resident: &Model, to_resident: &mut [GroupId]) {
    let mut votes: HashMap<(GroupId, GroupId), usize> = HashMap::new();
    for g in detail.goroutines_raw() {
        if to_resident.get(g.group as usize) != Some(&0) {
            continue;
        }
        if let Some(r) = resident.goroutine_raw(g.id) {
            *votes.entry((g.group, r.group)).or_default() += 1;
        }
    }
    let mut best: HashMap<GroupId, (usize, GroupId)> = HashMap::new();
    for ((d, r), n) in votes {
        let b = best.entry(d).or_insert((0, 0));
        // Ties go to the lower resident id, so the answer is deterministic.
        if n > b.0 || (n == b.0 && r < b.1) {
            *b = (n, r);
        }
    }
    for (d, (_, r)) in best {
        to_resident[d as usize] = r;
    }
}

// Resident group ids → the detail model's (by key).
fn groups_to_detail(d: &DetailModel, set: &BTreeSet<GroupId>) -> BTreeSet<GroupId> {
    (0..d.to_resident.len() as GroupId)
        .filter(|&x| set.contains(&d.to_resident[x as usize]))
        .collect()
}

/// Flag bit of a WFTL buffer (header bytes 6..8): the rows were decoded
/// from the file for this range, not read from the resident model.
pub const FLAG_FROM_FILE: u16 = 1;

// A detail row's group in resident ids: the resident model's group for a
// goroutine it still knows (its creation may lie before the decoded
// generations), else the detail group mapped by key.
fn resident_group(d: &DetailModel, m: &Model, goroutine: i64, detail_group: GroupId) -> GroupId {
    let mapped = d
        .to_resident
        .get(detail_group as usize)
        .copied()
        .unwrap_or(0);
    if goroutine < 0 {
        return mapped;
    }
    m.goroutine_raw(goroutine).map_or(mapped, |g| g.group)
}

// Rewrites a WFTL buffer's row groups (detail ids) to resident ids and
// sets [`FLAG_FROM_FILE`].
fn patch_groups(body: &mut [u8], d: &DetailModel, m: &Model) {
    if body.len() < 48 {
        return;
    }
    let flags = u16::from_le_bytes([body[6], body[7]]) | FLAG_FROM_FILE;
    body[6..8].copy_from_slice(&flags.to_le_bytes());
    let rows = u32::from_le_bytes(body[8..12].try_into().unwrap()) as usize;
    for i in 0..rows {
        let o = 48 + i * 24;
        if o + 24 > body.len() {
            return;
        }
        let gid = i64::from_le_bytes(body[o..o + 8].try_into().unwrap());
        let dg = u32::from_le_bytes(body[o + 8..o + 12].try_into().unwrap());
        body[o + 8..o + 12].copy_from_slice(&resident_group(d, m, gid, dg).to_le_bytes());
    }
}

/// Runs `answer` on the detail model for the request's range (off the async
/// workers: it may decode), or gives `None` when the range is not one to
/// answer from the file (not indexed, not early, too wide, decode failed).
async fn from_detail<T: Send + 'static>(
    app: &Arc<Shared>,
    q: &HashMap<String, String>,
    answer: impl FnOnce(&DetailModel, TimeRange) -> Option<T> + Send + 'static,
) -> Option<T> {
    let range = range_param(q)?;
    let plan = plan_for(app, range)?;
    tokio::task::spawn_blocking(move || {
        let d = plan.decode()?;
        let d = lock(&d);
        answer(&d, range)
    })
    .await
    .ok()
    .flatten()
}

/// `/api/timeline` for a range before the resident detail: the binary
/// answer from a detail model, or `None` to answer from the resident model
/// (not indexed, range not early, too wide, or the decode failed).
pub(crate) async fn timeline(
    app: &Arc<Shared>,
    q: &HashMap<String, String>,
    f: &RowFilter,
    res_q: Option<i64>,
    offset: usize,
    limit: usize,
    pack: usize,
) -> Option<(Vec<u8>, Option<u64>)> {
    let (app2, f) = (app.clone(), f.clone());
    from_detail(app, q, move |d, range| {
        let res = rows::resolution(range, res_q);
        let mut f2 = filter_to_detail(d, &f);
        f2.alive_in = Some(range);
        let lay = rows::layout(&d.model, &f2);
        let (mut body, source) = if pack > 1 {
            let (b, n) =
                rows::encode_timeline_packed(&d.model, &f2, &lay, range, res, offset, limit, pack);
            (b, Some(n))
        } else {
            (
                rows::encode_timeline(&d.model, &f2, &lay, range, res, offset, limit),
                None,
            )
        };
        patch_groups(&mut body, d, &app2.model());
        Some((body, source))
    })
    .await
}

/// `/api/rows` with `start_ns` and `end_ns` before the resident detail: the
/// layout the timeline uses for that range (goroutines of the decoded
/// generations), with `"from_file": true`.
pub(crate) async fn rows(
    app: &Arc<Shared>,
    q: &HashMap<String, String>,
    f: &RowFilter,
    offset: usize,
    limit: usize,
) -> Option<Value> {
    let (app2, f) = (app.clone(), f.clone());
    from_detail(app, q, move |d, range| {
        let mut f2 = filter_to_detail(d, &f);
        f2.alive_in = Some(range);
        let lay = rows::layout(&d.model, &f2);
        let m = app2.model();
        let mut v = rows::layout_json(&d.model, &lay, offset, limit, |id, g| {
            resident_group(d, &m, id, g)
        });
        v["from_file"] = json!(true);
        Some(v)
    })
    .await
}

/// `/api/wakes` for a range before the resident detail (see [`timeline`]).
pub(crate) async fn wakes(
    app: &Arc<Shared>,
    q: &HashMap<String, String>,
    ids: Option<BTreeSet<i64>>,
    groups: Option<BTreeSet<GroupId>>,
    limit: usize,
) -> Option<Value> {
    from_detail(app, q, move |d, range| {
        let f = GoroutineFilter {
            ids: ids.map(|s| s.into_iter().collect()).unwrap_or_default(),
            groups: groups
                .map(|s| groups_to_detail(d, &s).into_iter().collect())
                .unwrap_or_default(),
            ..Default::default()
        };
        serde_json::to_value(d.model.wakes(range, &f, limit)).ok()
    })
    .await
}

/// `/api/proc_lanes` for a range before the resident detail: the P lanes
/// of a detail model, their groups in resident ids (see [`timeline`]).
pub(crate) async fn proc_lanes(
    app: &Arc<Shared>,
    q: &HashMap<String, String>,
    res_q: Option<i64>,
) -> Option<Vec<u8>> {
    let app2 = app.clone();
    from_detail(app, q, move |d, range| {
        let mut lanes = d.model.proc_lanes(range, rows::resolution(range, res_q));
        let m = app2.model();
        for l in &mut lanes.lanes {
            for (g, grp) in l.goroutine.iter().zip(l.group.iter_mut()) {
                *grp = resident_group(d, &m, *g, *grp);
            }
        }
        let gomaxprocs = m.sched().gomaxprocs;
        drop(m);
        Some(rows::encode_proc_lanes(&lanes, range, gomaxprocs))
    })
    .await
}

/// `/api/bands` for a range before the resident detail: GC, STW and
/// region bands from a detail model (see [`timeline`]).
pub(crate) async fn bands(app: &Arc<Shared>, q: &HashMap<String, String>) -> Option<Value> {
    from_detail(app, q, |d, range| {
        Some(crate::api::bands_json(&d.model, range))
    })
    .await
}

/// `/api/goroutine/:id` for a goroutine the resident model no longer knows
/// (it exited before the resident detail): the answer from the newest
/// cached detail model that knows it (no decode), in the same shape plus
/// `"from_file": true`. The caller must not hold the model lock.
pub(crate) fn goroutine(app: &Shared, id: i64) -> Option<Value> {
    let ix = app.index.get()?;
    let mut models: Vec<Arc<Mutex<DetailModel>>> = lock(&ix.cache).clone();
    models.sort_by_key(|d| std::cmp::Reverse(lock(d).used));
    for d in models {
        let d = lock(&d);
        let m = &d.model;
        let Some(g) = m.goroutine(id) else { continue };
        let group = d.to_resident.get(g.group as usize).copied().unwrap_or(0);
        let h = &g.history;
        let history: Vec<Value> = (0..h.start.len())
            .map(|i| json!({"start_ns": h.start[i], "end_ns": h.end[i], "state": h.state[i], "reason": m.str(h.reason[i])}))
            .collect();
        let peers = |v: &[(i64, u32)]| -> Value {
            v.iter()
                .map(|&(g, n)| json!({"goroutine": g, "count": n}))
                .collect()
        };
        let mut v = serde_json::to_value(&g).ok()?;
        v["group"] = json!(group);
        v["group_name"] = json!(m.group_raw(g.group).map(|x| m.str(x.entry)).unwrap_or(""));
        v["creator"] = json!(g.parent);
        v["history"] = Value::Array(history);
        v["woken_by"] = peers(&g.woken_by);
        v["woke"] = peers(&g.woke);
        v["from_file"] = json!(true);
        if let Some(o) = v.as_object_mut() {
            o.remove("parent");
        }
        return Some(v);
    }
    None
}

/// The `index` object of `/api/status`, for an indexed file.
pub(crate) fn status(app: &Shared) -> Option<Value> {
    let ix = app.index.get()?;
    let (state, gens, bytes, err) = match &*lock(&ix.scan) {
        ScanState::Scanning => ("scanning", 0, 0, None),
        ScanState::Ready(g) => ("ready", g.gens.len(), g.file_len, None),
        ScanState::Failed(e) => ("error", 0, 0, Some(e.clone())),
    };
    let (models, heap, spans) = {
        let cache = lock(&ix.cache);
        let mut heap = 0usize;
        let mut spans = 0usize;
        for d in cache.iter() {
            let s = lock(d).model.stats();
            heap += s.heap_bytes;
            spans += s.spans;
        }
        (cache.len(), heap, spans)
    };
    let mut v = json!({
        "scan": state,
        "generations": gens,
        "file_bytes": bytes,
        "detail_models": models,
        "detail_models_max": ix.tuning.detail_models,
        "detail_bytes_max": ix.tuning.detail_bytes,
        "detail_heap_bytes": heap,
        "detail_spans": spans,
        "detail_builds": ix.builds.load(Ordering::Relaxed),
        "last_build_ms": ix.last_build_ms.load(Ordering::Relaxed),
    });
    if let Some(r) = ix.resident.get() {
        v["resident_complete_ns"] = json!(r.complete_ns);
        v["first_ns"] = json!(r.first_ns);
    }
    if let Some(e) = err.or_else(|| lock(&ix.last_error).clone()) {
        v["error"] = json!(e);
    }
    Some(v)
}

/// For an indexed file whose index is ready, the summary's
/// `time.detail_start_ns` is the capture's start (every range has detail:
/// early ones from the file), and `time.resident_detail_start_ns` says
/// where the resident model's own detail begins.
pub(crate) fn amend_summary(app: &Shared, m: &Model, v: &mut Value) {
    let Some(ix) = app.index.get() else { return };
    if ix.gens().is_none() {
        return;
    }
    let r = ix.resident(m);
    if let Some(t) = v.get_mut("time") {
        t["resident_detail_start_ns"] = json!(r.complete_ns);
        t["detail_start_ns"] = json!(r.first_ns);
    }
}
