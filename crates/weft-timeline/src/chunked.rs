//! A FIFO of plain records stored in chunks, for the model's span and wake
//! histories: appends never move what is already stored (a `VecDeque`
//! doubles and copies, which on a large trace means copying hundreds of MB
//! and faulting fresh pages for each copy), and full-size chunks emptied at
//! the front go to a [`ChunkPool`] shared by all the deques of one kind,
//! where the next chunk any of them needs is taken from.
//!
//! Why a pool rather than the allocator: a model at its caps frees and
//! needs chunks at the same rate, but the allocator hands freed pages back
//! to the kernel, and taking them again costs a page fault and the zeroing
//! of every page (on a VM, a few ms per MB: it was the largest single cost
//! of steady ingest). The pool is bounded by its owner (see
//! [`ChunkPool::limit_to`]).
//!
//! Chunks start small (many goroutines keep only a few spans) and double up
//! to `MAX` records; the records stay in time order, so lookups by time are
//! a scan over chunk ends plus a binary search inside one chunk.
//!
//! The newest chunk is held inline (not behind the chunk index), so an append
//! touches the deque and the chunk's data only; it also asks the CPU to
//! fetch the line of the next slot, because a model appends to hundreds of
//! goroutine histories in turn and each append would otherwise wait for a
//! line of memory that nothing has touched since the last one.
use std::collections::VecDeque;

/// Records in the smallest chunk.
const FIRST: usize = 4;

#[derive(Clone, Debug)]
pub(crate) struct ChunkDeque<T: Copy, const MAX: usize> {
    // The older chunks, oldest first; the sequence is `chunks` then `tail`.
    chunks: VecDeque<Vec<T>>,
    // The newest chunk, where appends go.
    tail: Vec<T>,
    // Records already popped from the first chunk of the sequence.
    head: usize,
    len: usize,
}

/// Empty chunks for any deque of one kind, by size (`FIRST` doubled up to
/// `MAX` records): a new goroutine's first small chunks come from here too,
/// as a goroutine forgotten at eviction leaves its chunks here.
#[derive(Clone, Debug)]
pub(crate) struct ChunkPool<T: Copy, const MAX: usize> {
    // By size class: chunks of `FIRST << class` records.
    free: Vec<Vec<Vec<T>>>,
    // Records the held chunks can take, and the most they may.
    held: usize,
    limit: usize,
    // By size class: whether a chunk was taken since the last `decay`.
    taken: Vec<bool>,
}

impl<T: Copy, const MAX: usize> Default for ChunkPool<T, MAX> {
    fn default() -> Self {
        ChunkPool {
            free: Vec::new(),
            held: 0,
            limit: 0,
            taken: Vec::new(),
        }
    }
}

// The size class of a chunk of `cap` records; None for sizes the deques
// never ask for.
#[inline]
fn class(cap: usize) -> Option<usize> {
    let k = (cap / FIRST).trailing_zeros() as usize;
    (cap >= FIRST && FIRST << k == cap).then_some(k)
}

impl<T: Copy, const MAX: usize> ChunkPool<T, MAX> {
    #[inline]
    fn take(&mut self, cap: usize) -> Option<Vec<T>> {
        let k = class(cap)?;
        let c = self.free.get_mut(k)?.pop()?;
        self.held -= cap;
        self.taken[k] = true;
        Some(c)
    }

    #[inline]
    fn give(&mut self, mut c: Vec<T>) {
        let cap = c.capacity();
        let Some(k) = class(cap).filter(|_| cap <= MAX) else {
            return;
        };
        if self.held + cap <= self.limit {
            if self.free.len() <= k {
                self.free.resize_with(k + 1, Vec::new);
                self.taken.resize(k + 1, false);
            }
            c.clear();
            self.free[k].push(c);
            self.held += cap;
        }
    }

    /// Holds at most `n` full chunks' worth from now on (drops the excess,
    /// small chunks first).
    pub fn limit_to(&mut self, n: usize) {
        self.limit = n.saturating_mul(MAX);
        for (k, list) in self.free.iter_mut().enumerate() {
            while self.held > self.limit && list.pop().is_some() {
                self.held -= FIRST << k;
            }
            list.shrink_to(list.len().max(4));
        }
    }

    /// Halves the chunks of each size nobody took since the last call:
    /// chunks not needed for a while go back to the allocator (a burst of
    /// goroutines that ended leaves small chunks new ones may never ask for).
    pub fn decay(&mut self) {
        for (k, (list, taken)) in self.free.iter_mut().zip(&mut self.taken).enumerate() {
            if !*taken {
                let keep = list.len() / 2;
                self.held -= (list.len() - keep) * (FIRST << k);
                list.truncate(keep);
            }
            *taken = false;
        }
    }

    /// Records the held chunks can take.
    pub fn capacity(&self) -> usize {
        self.held
    }
}

impl<T: Copy, const MAX: usize> Default for ChunkDeque<T, MAX> {
    fn default() -> Self {
        ChunkDeque {
            chunks: VecDeque::new(),
            tail: Vec::new(),
            head: 0,
            len: 0,
        }
    }
}

impl<T: Copy, const MAX: usize> ChunkDeque<T, MAX> {
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Records the storage can hold without allocating.
    pub fn capacity(&self) -> usize {
        self.chunks.iter().map(|c| c.capacity()).sum::<usize>() + self.tail.capacity()
    }

    #[inline]
    pub fn push_back(&mut self, x: T, pool: &mut ChunkPool<T, MAX>) {
        if self.tail.len() < self.tail.capacity() {
            self.tail.push(x);
            prefetch_next(&self.tail);
        } else {
            self.push_new_chunk(x, pool);
        }
        self.len += 1;
    }

    #[cold]
    fn push_new_chunk(&mut self, x: T, pool: &mut ChunkPool<T, MAX>) {
        let cap = (self.tail.capacity() * 2).clamp(FIRST.min(MAX), MAX);
        let mut c = match pool.take(cap) {
            Some(c) => c,
            None => Vec::with_capacity(cap),
        };
        c.push(x);
        let full = std::mem::replace(&mut self.tail, c);
        if !full.is_empty() {
            self.chunks.push_back(full);
        } else {
            // Only an empty tail is dropped: it holds nothing and the head
            // points into the chunk before it, if any.
            debug_assert!(self.chunks.is_empty() || self.head < self.chunks[0].len());
        }
    }

    // The first chunk of the sequence.
    #[inline]
    fn first(&self) -> &Vec<T> {
        self.chunks.front().unwrap_or(&self.tail)
    }

    #[inline]
    pub fn front(&self) -> Option<&T> {
        self.first().get(self.head)
    }

    #[inline(always)]
    pub fn pop_front(&mut self, pool: &mut ChunkPool<T, MAX>) -> Option<T> {
        let c = self.first();
        let x = *c.get(self.head)?;
        let n = c.len();
        self.head += 1;
        self.len -= 1;
        if self.head == n {
            self.first_drained(pool);
        }
        Some(x)
    }

    // The first chunk has been read to its end.
    #[cold]
    #[inline(never)]
    fn first_drained(&mut self, pool: &mut ChunkPool<T, MAX>) {
        if self.chunks.is_empty() {
            // The tail, drained: start it over.
            self.tail.clear();
        } else {
            pool.give(self.chunks.pop_front().unwrap());
        }
        self.head = 0;
    }

    /// Drops the `n` oldest records (all of them if fewer), as `n` calls
    /// of [`Self::pop_front`] would, a chunk at a time.
    pub fn drop_front(&mut self, mut n: usize, pool: &mut ChunkPool<T, MAX>) {
        n = n.min(self.len);
        while n > 0 {
            let c = self.first();
            let left = c.len() - self.head;
            if n < left {
                self.head += n;
                self.len -= n;
                return;
            }
            n -= left;
            self.len -= left;
            self.head = 0;
            if self.chunks.is_empty() {
                self.tail.clear();
            } else {
                pool.give(self.chunks.pop_front().unwrap());
            }
        }
    }

    /// Gives back memory a burst left behind: a drained tail (to the
    /// pool), and the chunk index when it is mostly empty.
    pub fn trim(&mut self, pool: &mut ChunkPool<T, MAX>) {
        if self.len == 0 && self.tail.capacity() > 0 {
            pool.give(std::mem::take(&mut self.tail));
        }
        if self.chunks.capacity() > 64 && self.chunks.capacity() > 4 * self.chunks.len() {
            self.chunks.shrink_to(2 * self.chunks.len());
        }
    }

    /// Empties the deque, handing its full-size chunks to the pool.
    pub fn release(&mut self, pool: &mut ChunkPool<T, MAX>) {
        for c in self.chunks.drain(..) {
            pool.give(c);
        }
        pool.give(std::mem::take(&mut self.tail));
        self.head = 0;
        self.len = 0;
    }

    /// Oldest to newest.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.iter_from(0, self.head)
    }

    // Chunk `i` of the sequence (`chunks.len()` is the tail).
    #[inline]
    fn chunk(&self, i: usize) -> &Vec<T> {
        self.chunks.get(i).unwrap_or(&self.tail)
    }

    fn iter_from(&self, chunk: usize, at: usize) -> impl DoubleEndedIterator<Item = &T> + '_ {
        (chunk.min(self.chunks.len() + 1)..self.chunks.len() + 1)
            .enumerate()
            .flat_map(move |(i, ci)| {
                let c = self.chunk(ci);
                if i == 0 {
                    &c[at.min(c.len())..]
                } else {
                    &c[..]
                }
            })
    }

    /// The records from the first one for which `pred` is false on; `pred`
    /// must be true for a prefix of the records and false after it (like
    /// `slice::partition_point`).
    #[cfg(test)]
    pub fn from_partition(&self, pred: impl Fn(&T) -> bool) -> impl Iterator<Item = &T> + '_ {
        let (ci, at) = self.partition(pred);
        self.iter_from(ci, at)
    }

    /// Like [`Self::from_partition`], starting one record earlier: the last
    /// record for which `pred` holds, if any, comes first.
    pub fn from_before_partition(
        &self,
        pred: impl Fn(&T) -> bool,
    ) -> impl Iterator<Item = &T> + '_ {
        let (mut ci, mut at) = self.partition(pred);
        let lo = |ci: usize| if ci == 0 { self.head } else { 0 };
        if ci < self.chunks.len() + 1 && at > lo(ci) {
            at -= 1;
        } else if ci > 0 {
            // The point is at a chunk start (or past the end): step back
            // into the chunk before, which holds records (only a drained
            // tail is ever empty, and then it is the only chunk).
            ci -= 1;
            at = self.chunk(ci).len().saturating_sub(1).max(lo(ci));
        }
        self.iter_from(ci, at)
    }

    /// How many records `pred` holds for, from the oldest (`pred` as in
    /// [`Self::from_partition`]); looks at one record per chunk and then
    /// into one chunk only.
    pub fn count_while(&self, pred: impl Fn(&T) -> bool) -> usize {
        let (ci, at) = self.partition(pred);
        if ci > self.chunks.len() {
            return self.len;
        }
        let before: usize = (0..ci).map(|j| self.chunk(j).len()).sum();
        before + at - self.head
    }

    /// Records from the `i`-th oldest on.
    #[cfg(test)]
    pub fn iter_from_index(&self, i: usize) -> impl Iterator<Item = &T> + '_ {
        let (mut ci, mut at) = (0, i + self.head);
        while ci < self.chunks.len() && at >= self.chunk(ci).len() {
            at -= self.chunk(ci).len();
            ci += 1;
        }
        self.iter_from(ci, at)
    }

    // (chunk, index in it) of the first record for which `pred` is false;
    // (chunks + 1, 0) when it holds for all.
    fn partition(&self, pred: impl Fn(&T) -> bool) -> (usize, usize) {
        // The first chunk whose last record fails the predicate holds the point.
        let n = self.chunks.len() + 1;
        let mut ci = 0;
        while ci < n {
            match self.chunk(ci).last() {
                Some(x) if pred(x) => ci += 1,
                _ => break,
            }
        }
        let at = if ci < n {
            let c = self.chunk(ci);
            let lo = if ci == 0 { self.head } else { 0 };
            lo + c[lo.min(c.len())..].partition_point(&pred)
        } else {
            0
        };
        (ci, at)
    }
}

// Asks for the cache line of the slot after the last record, so the next
// append finds it at hand. A hint only: it never faults, whatever the address.
#[inline(always)]
fn prefetch_next<T>(v: &Vec<T>) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and cannot fault;
    // the address is computed without dereferencing (wrapping_add).
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(v.as_ptr().wrapping_add(v.len()) as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_vecdeque() {
        let mut q: ChunkDeque<u64, 16> = ChunkDeque::default();
        let mut pool = ChunkPool::default();
        pool.limit_to(3);
        let mut r = VecDeque::new();
        let mut next = 0u64;
        // A deterministic mix of bursts of pushes and pops.
        let mut seed = 12345u64;
        for _ in 0..5000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let n = (seed >> 33) % 40;
            if (seed >> 20) & 1 == 0 {
                for _ in 0..n {
                    q.push_back(next, &mut pool);
                    r.push_back(next);
                    next += 1;
                }
            } else {
                if (seed >> 45) & 1 == 0 {
                    for _ in 0..n {
                        assert_eq!(q.pop_front(&mut pool), r.pop_front());
                    }
                } else {
                    q.drop_front(n as usize, &mut pool);
                    r.drain(..(n as usize).min(r.len()));
                }
            }
            assert_eq!(q.len(), r.len());
            assert_eq!(q.front(), r.front());
            assert!(q.iter().eq(r.iter()));
            assert!(q.iter().rev().eq(r.iter().rev()));
            let cut = next.saturating_sub((seed >> 40) % 50);
            let pp = r.partition_point(|&x| x < cut);
            assert_eq!(q.count_while(|&x| x < cut), pp);
            let at = (seed >> 24) as usize % (r.len() + 2);
            assert!(q.iter_from_index(at).eq(r.range(at.min(r.len())..)));
            assert!(q.from_partition(|&x| x < cut).eq(r.range(pp..)));
            assert!(q
                .from_before_partition(|&x| x < cut)
                .eq(r.range(pp.saturating_sub(1)..)));
            if (seed >> 50) % 7 == 0 {
                q.trim(&mut pool);
                pool.decay();
            }
            assert!(pool.capacity() <= 3 * 16);
        }
        assert!(q.capacity() >= q.len());
    }

    #[test]
    fn drained_single_chunk_is_reused() {
        let mut q: ChunkDeque<u32, 1024> = ChunkDeque::default();
        let mut pool = ChunkPool::default();
        for i in 0..3 {
            q.push_back(i, &mut pool);
        }
        while q.pop_front(&mut pool).is_some() {}
        assert_eq!(q.len(), 0);
        q.push_back(7, &mut pool);
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), vec![7]);
        assert_eq!(q.capacity(), FIRST);
    }

    #[test]
    fn emptied_chunks_go_round_through_the_pool() {
        let mut a: ChunkDeque<u32, 8> = ChunkDeque::default();
        let mut b: ChunkDeque<u32, 8> = ChunkDeque::default();
        let mut pool = ChunkPool::default();
        // Two full chunks' worth: 16 records.
        pool.limit_to(2);
        // Chunks of 4, 8, 8 and 8 records.
        for i in 0..28 {
            a.push_back(i, &mut pool);
        }
        assert_eq!(pool.capacity(), 0);
        for _ in 0..12 {
            a.pop_front(&mut pool);
        }
        assert_eq!(pool.capacity(), 12);
        // The pool is bounded: the next emptied chunk is dropped.
        for _ in 0..8 {
            a.pop_front(&mut pool);
        }
        assert_eq!(pool.capacity(), 12);
        assert!(a.iter().copied().eq(20..28));
        // Another deque takes its chunks from the pool, by size.
        for i in 0..4 {
            b.push_back(i, &mut pool);
        }
        assert_eq!(pool.capacity(), 8);
        b.push_back(4, &mut pool);
        assert_eq!(pool.capacity(), 0);
        assert!(b.iter().copied().eq(0..5));
        // A drained deque gives its chunks back when trimmed or released.
        while a.pop_front(&mut pool).is_some() {}
        a.trim(&mut pool);
        assert_eq!((pool.capacity(), a.capacity()), (8, 0));
        b.release(&mut pool);
        // (the 4-record chunk fits under the limit, the 8-record tail not)
        assert_eq!((pool.capacity(), b.len()), (12, 0));
        // A lower limit drops the excess, small chunks first; a pool nobody
        // took from since the last decay halves at the next.
        pool.decay();
        assert_eq!(pool.capacity(), 12);
        pool.limit_to(1);
        assert_eq!(pool.capacity(), 8);
        pool.decay();
        assert_eq!(pool.capacity(), 0);
        pool.limit_to(0);
        let mut c: ChunkDeque<u32, 8> = ChunkDeque::default();
        for i in 0..100 {
            c.push_back(i, &mut pool);
        }
        c.release(&mut pool);
        assert_eq!(pool.capacity(), 0);
        // Decay goes size by size: the size taken from stays.
        pool.limit_to(4);
        let (mut d, mut e): (ChunkDeque<u32, 8>, ChunkDeque<u32, 8>) = Default::default();
        for i in 0..28 {
            d.push_back(i, &mut pool);
        }
        d.release(&mut pool);
        assert_eq!(pool.capacity(), 28);
        for i in 0..5 {
            e.push_back(i, &mut pool);
        }
        assert_eq!(pool.capacity(), 16);
        pool.decay();
        assert_eq!(pool.capacity(), 16);
        pool.decay();
        assert_eq!(pool.capacity(), 8);
        e.release(&mut pool);
    }
}
