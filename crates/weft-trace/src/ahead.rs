//! Decode-ahead: a helper thread turns the installed generation's batch
//! bytes into decoded event chunks while the ordering loop works through
//! the chunks decoded before, so varint decoding runs on a second core.
//!
//! Each thread (M) of the generation has a small queue of at most `DEPTH`
//! chunks (`CHUNK` events each), about `BUDGET` chunks in all, so memory
//! stays a few megabytes whatever the generation's size. The chunks are
//! exactly what [`decode_chunk`] gives the single-threaded path (same
//! events, same error at the same place), so the event order cannot depend
//! on the thread. The helper works on the thread whose queue is shortest,
//! and first on one the ordering loop is waiting for. The ordering loop
//! never waits for a chunk the helper has not started: it decodes that one
//! itself (the helper may be busy, or off the CPU on a loaded machine).
//!
//! The same helper can also run the consumer of the ordered events
//! ([`crate::Reader::for_each_event_par`]): the ordering loop hands it
//! batches of ordered events ([`Ordered`]) with what reading them needs
//! (the generation's tables and bytes), and the helper calls the consumer on
//! them between decoding chunks. Both kinds of work share one lock and one
//! wake-up, so the second core does decoding and consuming while the first
//! only orders.
use std::any::Any;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::error::Error;
use crate::event::RawEvent;
use crate::generation::{BatchRef, Clock, Generation};
use crate::order::{Base, ExtraStrings};
use crate::spec::{Wire, NUM_SPECS, WIRE};
use crate::varint::{uvarint, Varint};

/// Most events decoded at once for one thread; a chunk never spans batches.
pub(crate) const CHUNK: usize = 512;
/// Chunks decoded ahead per thread, at most (fewer when there are many
/// threads: about `BUDGET` chunks in all).
const DEPTH: usize = 8;
const BUDGET: usize = 96;
/// The helper, once idle, is woken when a queue falls to this many chunks:
/// it then refills the queues in one go (waking it for every chunk would
/// cost two system calls per chunk).
const LOW: usize = 2;

// One varint from `data` at `*p`; `None` when it is truncated or overlong.
#[inline(always)]
pub(crate) fn read_uv(data: &[u8], p: &mut usize) -> Option<u64> {
    if let Some(&b0) = data.get(*p) {
        if b0 < 0x80 {
            *p += 1;
            return Some(b0 as u64);
        }
        if let Some(&b1) = data.get(*p + 1) {
            if b1 < 0x80 {
                *p += 2;
                return Some((b0 & 0x7f) as u64 | (b1 as u64) << 7);
            }
        }
    }
    match uvarint(&data[*p..]) {
        Varint::Ok(v, k) => {
            *p += k;
            Some(v)
        }
        _ => None,
    }
}

// Bytes one event can take at most: its type and five varints (timestamp
// and four arguments) of at most 10 bytes, rounded up.
const WINDOW: usize = 64;

// One varint at `*k` of a window holding a whole event (so `*k` is at
// most 41 here and at least 10 bytes follow it: the same value, length and
// overflow as reading from the batch; the masks only let the compiler see
// the index is in bounds). `None` when it is overlong.
#[inline(always)]
fn window_uv(w: &[u8; WINDOW], k: &mut usize) -> Option<u64> {
    let i = *k;
    let b0 = w[i & (WINDOW - 1)];
    if b0 < 0x80 {
        *k = i + 1;
        return Some(b0 as u64);
    }
    let b1 = w[(i + 1) & (WINDOW - 1)];
    if b1 < 0x80 {
        *k = i + 2;
        return Some((b0 & 0x7f) as u64 | (b1 as u64) << 7);
    }
    let b2 = w[(i + 2) & (WINDOW - 1)];
    if b2 < 0x80 {
        *k = i + 3;
        return Some((b0 & 0x7f) as u64 | ((b1 & 0x7f) as u64) << 7 | (b2 as u64) << 14);
    }
    match uvarint(&w[i..]) {
        Varint::Ok(v, n) => {
            *k = i + n;
            Some(v)
        }
        _ => None,
    }
}

// `N` varints from the window into `args`; false if one is overlong.
#[inline(always)]
fn window_args<const N: usize>(w: &[u8; WINDOW], k: &mut usize, args: &mut [u64; 4]) -> bool {
    for a in args.iter_mut().take(N) {
        match window_uv(w, k) {
            Some(v) => *a = v,
            None => return false,
        }
    }
    true
}

/// Where decoding of one thread's batches stands.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ListPos {
    /// Next batch to read and the byte offset in it.
    pub idx: u32,
    pub off: u32,
    pub last_ts: i64,
}

/// Decodes up to `max` (at most CHUNK) events of the thread's current
/// batch into `evs` (cleared first). Returns the absolute offset of the batch payload (event
/// offsets are relative to it) and the decode error met right after the
/// last event, if any. No events and no error: the thread has no more.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decode_chunk(
    pos: &mut ListPos,
    batches: &[BatchRef],
    clock: Clock,
    gnum: u64,
    buf: &[u8],
    base: usize,
    evs: &mut Vec<Base>,
    max: usize,
) -> (usize, Option<Error>) {
    let max = max.min(CHUNK);
    evs.clear();
    while (pos.idx as usize) < batches.len() && batches[pos.idx as usize].data.len == pos.off {
        pos.idx += 1;
        pos.off = 0;
        pos.last_ts = 0;
    }
    let Some(b) = batches.get(pos.idx as usize) else {
        return (0, None);
    };
    let data = &buf[b.data.off - base..b.data.off - base + b.data.len as usize];
    let mut p = pos.off as usize;
    let mut last_ts = pos.last_ts;
    let bt = clock.mul(b.time);
    let mut err = None;
    evs.reserve(CHUNK);
    // While a whole event fits in the rest of the batch (a type byte and at
    // most five varints of at most 10 bytes), read it from a fixed window:
    // no length checks per byte. An event this loop cannot take (bad type,
    // overlong varint) is left to the loop below, which reports it.
    while evs.len() < max {
        let Some(w) = data.get(p..p + WINDOW) else {
            break;
        };
        let w: &[u8; WINDOW] = w.try_into().expect("window length");
        let typ = w[0];
        let nargs = WIRE[typ as usize].nargs;
        if nargs as usize > 4 {
            break;
        }
        let mut k = 1;
        let Some(ts) = window_uv(w, &mut k) else {
            break;
        };
        // Straight-line code per argument count (no loop counter).
        let mut args = [0u64; 4];
        let ok = match nargs {
            0 => true,
            1 => window_args::<1>(w, &mut k, &mut args),
            2 => window_args::<2>(w, &mut k, &mut args),
            3 => window_args::<3>(w, &mut k, &mut args),
            _ => window_args::<4>(w, &mut k, &mut args),
        };
        if !ok {
            break;
        }
        if last_ts == 0 {
            last_ts = bt;
        }
        let time = clock.mul(ts).wrapping_add(last_ts);
        last_ts = time;
        evs.push(Base {
            typ,
            rel: p as u32,
            time,
            args,
        });
        p += k;
    }
    while p < data.len() && evs.len() < max {
        let start = p;
        let typ = data[p];
        let nargs = WIRE[typ as usize].nargs;
        let fail = |m: String| Some(Error::new(m).at((b.data.off + start) as u64).in_gen(gnum));
        if nargs == Wire::INVALID {
            err = if typ as usize >= NUM_SPECS {
                fail(format!("found invalid event type: {typ}"))
            } else {
                fail(format!("found event without a timestamp: type={typ}"))
            };
            break;
        }
        p += 1;
        let Some(ts) = read_uv(data, &mut p) else {
            err = fail("found invalid uvarint for timestamp".into());
            break;
        };
        let mut e = Base {
            typ,
            rel: start as u32,
            ..Base::default()
        };
        let mut ok = true;
        for a in e.args.iter_mut().take(nargs as usize) {
            match read_uv(data, &mut p) {
                Some(v) => *a = v,
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            err = fail("found invalid uvarint".into());
            break;
        }
        if last_ts == 0 {
            last_ts = bt;
        }
        e.time = clock.mul(ts).wrapping_add(last_ts);
        last_ts = e.time;
        evs.push(e);
    }
    pos.off = p as u32;
    pos.last_ts = last_ts;
    (b.data.off, err)
}

/// Bytes shared between threads (a buffer, or a mapped file).
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// A decoded chunk of one thread's events.
pub(crate) struct Chunk {
    pub evs: Vec<Base>,
    pub batch_off: usize,
    pub err: Option<Error>,
}

/// Ordered events handed to the consumer, with what reading them needs.
pub(crate) struct Ordered {
    /// The events are `evs[from..]`.
    pub evs: Vec<RawEvent>,
    pub from: usize,
    /// The generation's tables (None: the events need none).
    pub gen: Option<Arc<Generation>>,
    pub extra: ExtraStrings,
    /// The generation's bytes, from trace offset `base`.
    pub bytes: SharedBytes,
    pub base: usize,
    /// Chunks the ordering loop was done with when it handed this batch
    /// over: run entries of this batch and earlier ones point into them,
    /// so they are reused only once it has been consumed.
    pub chunks: Vec<Vec<Base>>,
}

/// Ordered batches handed over and not yet consumed, at most: the ordering
/// loop waits beyond that (memory stays a few batches).
const MAX_OUT: usize = 4;

/// What the helper decodes: one generation's batches over its bytes.
struct Job {
    bytes: SharedBytes,
    base: usize,
    lists: Vec<Vec<BatchRef>>,
    clock: Clock,
    gnum: u64,
}

struct List {
    queue: VecDeque<Chunk>,
    pos: ListPos,
    // The helper has decoded everything (the last chunk is queued).
    done: bool,
}

#[derive(Default)]
struct State {
    job: Option<Arc<Job>>,
    // Bumped when the job changes, so a chunk decoded for an old job is dropped.
    epoch: u64,
    lists: Vec<List>,
    // Thread the ordering loop is blocked on.
    wanted: Option<usize>,
    // The helper holds a reference to the job outside the lock.
    busy: bool,
    // The thread each side is decoding a chunk of, outside the lock.
    helper_list: Option<usize>,
    main_list: Option<usize>,
    // Chunks per queue for this job.
    depth: usize,
    // Who sleeps on a condition variable (notified only then: a notify is
    // a system call).
    helper_waiting: bool,
    main_waiting: bool,
    free: Vec<Vec<Base>>,
    shutdown: bool,
    // The helper thread of `spawn` should exit (its work moves to a
    // consumer thread for a while; the state stays).
    detach: bool,
    // Ordered batches for the consumer, oldest first; buffers of consumed
    // ones; batches handed over and not consumed yet.
    ordered: VecDeque<Ordered>,
    spare: Vec<Vec<RawEvent>>,
    out: usize,
    // No more batches will come: the consumer returns once all are done.
    closing: bool,
    // Run entries point into chunks (`for_each_event_par`): a chunk the
    // ordering loop is done with waits in `retired` for the next batch
    // handed over, and is reused once that batch has been consumed.
    sharing: bool,
    retired: Vec<Vec<Base>>,
    chunk_lists: Vec<Vec<Vec<Base>>>,
}

struct Shared {
    state: Mutex<State>,
    // Signals the helper: work to do, a job change or shutdown.
    work: Condvar,
    // Signals the ordering loop: a chunk arrived, or the helper let go.
    ready: Condvar,
    // Bumped (under the lock) whenever either side may have something for
    // the other: a waiter spins on it a little before sleeping.
    changes: AtomicU64,
}

fn lock(s: &Shared) -> MutexGuard<'_, State> {
    // A panic on the helper leaves the state consistent (it is only
    // changed under the lock in small steps), so poisoning is ignored.
    s.state.lock().unwrap_or_else(|p| p.into_inner())
}

/// How long a side polls for the other before sleeping. Short: a sleep and
/// wake-up through the kernel costs two system calls and a context switch,
/// but on a busy machine a spinning thread takes the core from the one it
/// waits for (measured: a 50 us spin doubled the wall time at load 5).
const SPIN: std::time::Duration = std::time::Duration::from_micros(5);

// Tells the helper something changed (waking it if it sleeps).
fn wake_helper(s: &Shared, st: &State) {
    s.changes.fetch_add(1, AtomicOrdering::Release);
    if st.helper_waiting {
        s.work.notify_one();
    }
}

// Tells the ordering loop something changed (waking it if it sleeps).
fn wake_main(s: &Shared, st: &State) {
    s.changes.fetch_add(1, AtomicOrdering::Release);
    if st.main_waiting {
        s.ready.notify_one();
    }
}

// Waits for a change on `cv` (the caller re-checks its condition):
// polls `changes` without the lock for a while first, then sleeps.
// Both sides bump `changes` under the lock, so a change made after the
// check below finds the flag set and notifies.
fn wait_on<'a>(s: &'a Shared, mut st: MutexGuard<'a, State>, main: bool) -> MutexGuard<'a, State> {
    let seen = s.changes.load(AtomicOrdering::Acquire);
    drop(st);
    let t0 = std::time::Instant::now();
    loop {
        for _ in 0..16 {
            std::hint::spin_loop();
            if s.changes.load(AtomicOrdering::Acquire) != seen {
                return lock(s);
            }
        }
        if t0.elapsed() > SPIN {
            break;
        }
    }
    st = lock(s);
    if s.changes.load(AtomicOrdering::Acquire) != seen {
        return st;
    }
    let cv = if main { &s.ready } else { &s.work };
    if main {
        st.main_waiting = true;
    } else {
        st.helper_waiting = true;
    }
    st = cv.wait(st).unwrap_or_else(|p| p.into_inner());
    if main {
        st.main_waiting = false;
    } else {
        st.helper_waiting = false;
    }
    st
}

/// The helper thread and the queues it fills.
pub(crate) struct Ahead {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// The helper's state, for a thread that takes over its work with a
/// consumer ([`Ahead::serve`]).
#[derive(Clone)]
pub(crate) struct Helper(Arc<Shared>);

impl Helper {
    /// Runs the helper's loop on this thread, also calling `consume` on
    /// every ordered batch handed over, until [`Ahead::close`]. A panic in
    /// `consume` is caught and returned once the loop ends (batches after
    /// it are dropped unread, so the ordering loop never waits forever).
    pub fn serve(&self, consume: &mut dyn FnMut(&Ordered)) -> Option<Box<dyn Any + Send>> {
        helper(&self.0, Some(consume))
    }

    /// No more batches: [`serve`](Self::serve) returns once it consumed them.
    pub fn close(&self) {
        let mut st = lock(&self.0);
        st.closing = true;
        wake_helper(&self.0, &st);
    }

    /// Keeps the chunks the ordering loop is done with until the batches
    /// handed over after them are consumed (run entries point into them).
    /// Turned off once nothing is left to consume.
    pub fn share_chunks(&self, on: bool) {
        let mut st = lock(&self.0);
        st.sharing = on;
        if !on {
            let retired = std::mem::take(&mut st.retired);
            st.free.extend(retired);
        }
    }
}

impl Ahead {
    /// The queues without a thread: one must [`serve`](Helper::serve) them.
    pub fn external() -> Ahead {
        Ahead {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                ready: Condvar::new(),
                changes: AtomicU64::new(0),
            }),
            thread: None,
        }
    }

    /// Stops the helper thread (if any) without touching the work in
    /// progress, and returns the state for another thread to serve.
    pub fn take_over(&mut self) -> Helper {
        if let Some(t) = self.thread.take() {
            {
                let mut st = lock(&self.shared);
                st.detach = true;
                wake_helper(&self.shared, &st);
            }
            let _ = t.join();
            lock(&self.shared).detach = false;
        }
        lock(&self.shared).closing = false;
        Helper(self.shared.clone())
    }

    /// Gives the work back to a thread of its own (after [`take_over`]
    /// ended). Without a thread, decoding a generation already started
    /// would wait forever; if one cannot be started, false.
    ///
    /// [`take_over`]: Self::take_over
    pub fn restart_thread(&mut self) -> bool {
        if self.thread.is_some() {
            return true;
        }
        let s = self.shared.clone();
        match std::thread::Builder::new()
            .name("weft-trace-decode".into())
            .spawn(move || {
                helper(&s, None);
            }) {
            Ok(t) => {
                self.thread = Some(t);
                true
            }
            Err(_) => false,
        }
    }

    /// Hands ordered events to the consumer; returns an empty buffer for
    /// the next ones (waiting while `MAX_OUT` batches are unconsumed).
    pub fn hand_off(&self, mut o: Ordered, capacity: usize) -> Vec<RawEvent> {
        let mut st = lock(&self.shared);
        if !st.retired.is_empty() {
            let mut l = st.chunk_lists.pop().unwrap_or_default();
            std::mem::swap(&mut l, &mut st.retired);
            o.chunks = l;
        }
        st.ordered.push_back(o);
        st.out += 1;
        wake_helper(&self.shared, &st);
        while st.out >= MAX_OUT {
            st = wait_on(&self.shared, st, true);
        }
        st.spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(capacity))
    }

    /// Waits until every batch handed over has been consumed.
    pub fn drain(&self) {
        let mut st = lock(&self.shared);
        while st.out > 0 {
            st = wait_on(&self.shared, st, true);
        }
    }

    /// Starts decoding a generation: `lists` are its threads' batches,
    /// `bytes` hold the trace from absolute offset `base`.
    pub fn start(
        &self,
        bytes: SharedBytes,
        base: usize,
        lists: Vec<Vec<BatchRef>>,
        clock: Clock,
        gnum: u64,
    ) {
        let mut st = lock(&self.shared);
        st.epoch += 1;
        let n = lists.len();
        let old = std::mem::take(&mut st.lists);
        for l in old {
            for c in l.queue {
                st.free.push(c.evs);
            }
        }
        st.depth = (BUDGET / n.max(1)).clamp(LOW + 2, DEPTH);
        st.lists = (0..n)
            .map(|_| List {
                queue: VecDeque::with_capacity(DEPTH),
                pos: ListPos::default(),
                done: false,
            })
            .collect();
        // The chunk buffers are allocated here, on the caller's thread, and
        // circulate between the two threads without being freed: memory
        // allocated on one thread and freed on another makes the allocator
        // (mimalloc) abandon and purge pages, which costs page faults.
        let want = (st.depth + 2) * n + 2;
        while st.free.len() < want {
            st.free.push(Vec::with_capacity(CHUNK));
        }
        st.job = Some(Arc::new(Job {
            bytes,
            base,
            lists,
            clock,
            gnum,
        }));
        st.wanted = None;
        wake_helper(&self.shared, &st);
    }

    /// Drops the current job and waits until the helper holds no reference
    /// to its bytes (so the caller can take them back).
    pub fn stop(&self) {
        let mut st = lock(&self.shared);
        st.epoch += 1;
        st.job = None;
        st.wanted = None;
        let old = std::mem::take(&mut st.lists);
        for l in old {
            for c in l.queue {
                st.free.push(c.evs);
            }
        }
        while st.busy {
            st = wait_on(&self.shared, st, true);
        }
    }

    /// The next chunk of thread `list`, waiting for the helper if need be.
    /// `spent` is the chunk the caller is done with (its buffer is reused).
    /// An empty chunk without error: the thread has no more events.
    pub fn next(&self, list: usize, spent: Vec<Base>) -> Chunk {
        let mut st = lock(&self.shared);
        if spent.capacity() > 0 {
            if st.sharing {
                st.retired.push(spent);
            } else {
                st.free.push(spent);
            }
        }
        loop {
            let Some(l) = st.lists.get_mut(list) else {
                return Chunk {
                    evs: Vec::new(),
                    batch_off: 0,
                    err: Some(Error::new(
                        "internal error: decode-ahead has no such thread",
                    )),
                };
            };
            if let Some(c) = l.queue.pop_front() {
                let low = l.queue.len() <= LOW && !l.done;
                if st.wanted == Some(list) {
                    st.wanted = None;
                }
                if low {
                    wake_helper(&self.shared, &st);
                }
                return c;
            }
            if l.done {
                return Chunk {
                    evs: Vec::new(),
                    batch_off: 0,
                    err: None,
                };
            }
            let pos0 = l.pos;
            // Not decoded yet and the helper is not at it (it may be busy
            // with other work, or off the CPU): decode it here rather than
            // wait. The helper skips a thread while this side decodes it.
            if st.helper_list != Some(list) {
                if let Some(job) = st.job.clone() {
                    let mut pos = pos0;
                    let mut evs = st.free.pop().unwrap_or_default();
                    st.main_list = Some(list);
                    drop(st);
                    let (batch_off, err) = decode_chunk(
                        &mut pos,
                        &job.lists[list],
                        job.clock,
                        job.gnum,
                        (*job.bytes).as_ref(),
                        job.base,
                        &mut evs,
                        CHUNK,
                    );
                    drop(job);
                    st = lock(&self.shared);
                    st.main_list = None;
                    if st.wanted == Some(list) {
                        st.wanted = None;
                    }
                    if let Some(l) = st.lists.get_mut(list) {
                        l.pos = pos;
                        l.done = evs.is_empty() || err.is_some();
                        if !l.done {
                            // Let the helper catch up on this thread.
                            wake_helper(&self.shared, &st);
                        }
                    }
                    return Chunk {
                        evs,
                        batch_off,
                        err,
                    };
                }
            }
            st.wanted = Some(list);
            wake_helper(&self.shared, &st);
            st = wait_on(&self.shared, st, true);
        }
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        {
            let mut st = lock(&self.shared);
            st.shutdown = true;
            wake_helper(&self.shared, &st);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// The helper's loop: pick the thread that most needs chunks, decode one
// outside the lock, queue it. With a consumer, ordered batches are consumed
// too: after a chunk the ordering loop waits for, before the others.
fn helper(
    s: &Shared,
    mut consume: Option<&mut dyn FnMut(&Ordered)>,
) -> Option<Box<dyn Any + Send>> {
    let mut panicked = None;
    let mut st = lock(s);
    loop {
        if st.shutdown || (consume.is_none() && st.detach) {
            return panicked;
        }
        // (The queue it waits on is empty until it wakes and takes the
        // chunk: one is enough.)
        let wanted = st.job.as_ref().and(st.wanted).filter(|&w| {
            st.main_list != Some(w)
                && st
                    .lists
                    .get(w)
                    .is_some_and(|l| !l.done && l.queue.is_empty())
        });
        // The thread whose queue is shortest, if below `limit` chunks.
        let shortest = |st: &State, limit: usize| {
            st.job.as_ref()?;
            st.lists
                .iter()
                .enumerate()
                .filter(|&(i, l)| !l.done && l.queue.len() < limit && st.main_list != Some(i))
                .min_by_key(|(_, l)| l.queue.len())
                .map(|(i, _)| i)
        };
        // Only the chunk the ordering loop waits for comes before
        // consuming: a queue that runs dry is decoded by the ordering loop
        // itself, which (with runs handed over in place) has time to spare
        // while the consumer is the busier thread.
        let urgent = wanted;
        if let (None, Some(c)) = (urgent, consume.as_mut()) {
            if let Some(o) = st.ordered.pop_front() {
                drop(st);
                if panicked.is_none() {
                    if let Err(p) = catch_unwind(AssertUnwindSafe(|| c(&o))) {
                        panicked = Some(p);
                    }
                }
                let Ordered {
                    mut evs,
                    mut chunks,
                    ..
                } = o;
                evs.clear();
                st = lock(s);
                st.spare.push(evs);
                if chunks.capacity() > 0 {
                    st.free.append(&mut chunks);
                    st.chunk_lists.push(chunks);
                }
                st.out -= 1;
                wake_main(s, &st);
                continue;
            }
            if st.closing {
                return panicked;
            }
        }
        let pick = urgent.or_else(|| shortest(&st, st.depth));
        let Some(i) = pick else {
            st = wait_on(s, st, false);
            continue;
        };
        let job = st.job.clone().expect("picked with a job");
        let epoch = st.epoch;
        let mut pos = st.lists[i].pos;
        // The buffer freed longest ago: its lines have likely left the
        // other core's cache, so writing it does not pull them back from
        // there (the one freed last was just read by the ordering loop).
        let mut evs = if st.free.is_empty() {
            Vec::new()
        } else {
            st.free.remove(0)
        };
        st.busy = true;
        st.helper_list = Some(i);
        drop(st);

        // A bug that panics here must not leave the ordering loop waiting
        // forever: it gets an error instead.
        let decoded = catch_unwind(AssertUnwindSafe(|| {
            decode_chunk(
                &mut pos,
                &job.lists[i],
                job.clock,
                job.gnum,
                (*job.bytes).as_ref(),
                job.base,
                &mut evs,
                CHUNK,
            )
        }));
        let (batch_off, err) = decoded.unwrap_or_else(|_| {
            evs.clear();
            (
                0,
                Some(Error::new("internal error: the decode thread panicked")),
            )
        });
        drop(job);

        st = lock(s);
        st.busy = false;
        st.helper_list = None;
        if st.epoch == epoch {
            let l = &mut st.lists[i];
            l.pos = pos;
            l.done = evs.is_empty() || err.is_some();
            l.queue.push_back(Chunk {
                evs,
                batch_off,
                err,
            });
        } else {
            st.free.push(evs);
        }
        // Wake the ordering loop if it waits (for a chunk or for `busy` to clear).
        wake_main(s, &st);
    }
}
