//! A FIFO of plain records stored in chunks, for the model's span and wake
//! histories: appends never move what is already stored (a `VecDeque`
//! doubles and copies, which on a large trace means copying hundreds of MB
//! and faulting fresh pages for each copy), and the chunk emptied at the
//! front is kept for reuse instead of going back to the allocator.
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
    // One emptied full-size chunk, kept for the next append.
    spare: Option<Vec<T>>,
}

impl<T: Copy, const MAX: usize> Default for ChunkDeque<T, MAX> {
    fn default() -> Self {
        ChunkDeque {
            chunks: VecDeque::new(),
            tail: Vec::new(),
            head: 0,
            len: 0,
            spare: None,
        }
    }
}

impl<T: Copy, const MAX: usize> ChunkDeque<T, MAX> {
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Records the storage can hold without allocating.
    pub fn capacity(&self) -> usize {
        self.chunks.iter().map(|c| c.capacity()).sum::<usize>()
            + self.tail.capacity()
            + self.spare.as_ref().map_or(0, |c| c.capacity())
    }

    #[inline]
    pub fn push_back(&mut self, x: T) {
        if self.tail.len() < self.tail.capacity() {
            self.tail.push(x);
            prefetch_next(&self.tail);
        } else {
            self.push_new_chunk(x);
        }
        self.len += 1;
    }

    #[cold]
    fn push_new_chunk(&mut self, x: T) {
        let cap = (self.tail.capacity() * 2).clamp(FIRST.min(MAX), MAX);
        let mut c = match self.spare.take() {
            Some(c) if c.capacity() >= cap => c,
            _ => Vec::with_capacity(cap),
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

    #[inline]
    pub fn pop_front(&mut self) -> Option<T> {
        let c = self.first();
        let x = *c.get(self.head)?;
        let n = c.len();
        self.head += 1;
        self.len -= 1;
        if self.head == n {
            if self.chunks.is_empty() {
                // The tail, drained: start it over.
                self.tail.clear();
            } else {
                let mut c = self.chunks.pop_front().unwrap();
                if c.capacity() == MAX && self.spare.is_none() {
                    c.clear();
                    self.spare = Some(c);
                }
            }
            self.head = 0;
        }
        Some(x)
    }

    /// Gives back memory a burst left behind: the spare chunk unless a
    /// full chunk's worth is still held (so spares stay bounded by the
    /// records held), a drained full-size tail, and the chunk index when
    /// it is mostly empty.
    pub fn trim(&mut self) {
        if self.len < MAX {
            self.spare = None;
        }
        if self.len == 0 && self.tail.capacity() == MAX {
            self.tail = Vec::new();
        }
        if self.chunks.capacity() > 64 && self.chunks.capacity() > 4 * self.chunks.len() {
            self.chunks.shrink_to(2 * self.chunks.len());
        }
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

    /// The record after the front one.
    #[inline]
    pub fn second(&self) -> Option<&T> {
        let c = self.first();
        match c.get(self.head + 1) {
            Some(x) => Some(x),
            None if self.chunks.is_empty() => None,
            None => self.chunk(1).first(),
        }
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
                    q.push_back(next);
                    r.push_back(next);
                    next += 1;
                }
            } else {
                for _ in 0..n {
                    assert_eq!(q.pop_front(), r.pop_front());
                }
            }
            assert_eq!(q.len(), r.len());
            assert_eq!(q.front(), r.front());
            assert!(q.iter().eq(r.iter()));
            assert!(q.iter().rev().eq(r.iter().rev()));
            let cut = next.saturating_sub((seed >> 40) % 50);
            let pp = r.partition_point(|&x| x < cut);
            assert!(q.from_partition(|&x| x < cut).eq(r.range(pp..)));
            assert!(q
                .from_before_partition(|&x| x < cut)
                .eq(r.range(pp.saturating_sub(1)..)));
            assert_eq!(q.second(), r.get(1));
            if (seed >> 50) % 7 == 0 {
                q.trim();
            }
        }
        assert!(q.capacity() >= q.len());
    }

    #[test]
    fn drained_single_chunk_is_reused() {
        let mut q: ChunkDeque<u32, 1024> = ChunkDeque::default();
        for i in 0..3 {
            q.push_back(i);
        }
        while q.pop_front().is_some() {}
        assert_eq!(q.len(), 0);
        q.push_back(7);
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), vec![7]);
        assert_eq!(q.capacity(), FIRST);
    }
}
