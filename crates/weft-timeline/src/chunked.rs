//! A FIFO of plain records stored in chunks, for the model's span and wake
//! histories: appends never move what is already stored (a `VecDeque`
//! doubles and copies, which on a large trace means copying hundreds of MB
//! and faulting fresh pages for each copy), and the chunk emptied at the
//! front is kept for reuse instead of going back to the allocator.
//!
//! Chunks start small (many goroutines keep only a few spans) and double up
//! to `MAX` records; the records stay in time order, so lookups by time are
//! a scan over chunk ends plus a binary search inside one chunk.
use std::collections::VecDeque;

/// Records in the smallest chunk.
const FIRST: usize = 4;

#[derive(Clone, Debug)]
pub(crate) struct ChunkDeque<T: Copy, const MAX: usize> {
    chunks: VecDeque<Vec<T>>,
    // Records already popped from the front chunk.
    head: usize,
    len: usize,
    // One emptied full-size chunk, kept for the next append.
    spare: Option<Vec<T>>,
}

impl<T: Copy, const MAX: usize> Default for ChunkDeque<T, MAX> {
    fn default() -> Self {
        ChunkDeque {
            chunks: VecDeque::new(),
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

    /// Records the storage can hold without allocating.
    pub fn capacity(&self) -> usize {
        self.chunks.iter().map(|c| c.capacity()).sum::<usize>()
            + self.spare.as_ref().map_or(0, |c| c.capacity())
    }

    #[inline]
    pub fn push_back(&mut self, x: T) {
        match self.chunks.back_mut() {
            Some(c) if c.len() < c.capacity() => c.push(x),
            _ => self.push_new_chunk(x),
        }
        self.len += 1;
    }

    #[cold]
    fn push_new_chunk(&mut self, x: T) {
        let cap = self
            .chunks
            .back()
            .map_or(FIRST, |c| (c.capacity() * 2).min(MAX))
            .max(FIRST.min(MAX));
        let mut c = match self.spare.take() {
            Some(c) if c.capacity() >= cap => c,
            _ => Vec::with_capacity(cap),
        };
        c.push(x);
        self.chunks.push_back(c);
    }

    #[inline]
    pub fn front(&self) -> Option<&T> {
        self.chunks.front().and_then(|c| c.get(self.head))
    }

    #[inline]
    pub fn pop_front(&mut self) -> Option<T> {
        let c = self.chunks.front()?;
        let x = *c.get(self.head)?;
        self.head += 1;
        self.len -= 1;
        if self.head == c.len() && (self.chunks.len() > 1 || c.len() == c.capacity()) {
            let mut c = self.chunks.pop_front().unwrap();
            self.head = 0;
            if c.capacity() == MAX && self.spare.is_none() {
                c.clear();
                self.spare = Some(c);
            }
        } else if self.len == 0 {
            // The only chunk, drained but not full: start it over.
            self.chunks[0].clear();
            self.head = 0;
        }
        Some(x)
    }

    /// Gives back memory a burst left behind: the spare chunk unless a
    /// full chunk's worth is still held (so spares stay bounded by the
    /// records held), and the chunk index when it is mostly empty.
    pub fn trim(&mut self) {
        if self.len < MAX {
            self.spare = None;
        }
        if self.chunks.capacity() > 64 && self.chunks.capacity() > 4 * self.chunks.len() {
            self.chunks.shrink_to(2 * self.chunks.len());
        }
    }

    /// Oldest to newest.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.iter_from(0, self.head)
    }

    fn iter_from(&self, chunk: usize, at: usize) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks
            .range(chunk.min(self.chunks.len())..)
            .enumerate()
            .flat_map(move |(i, c)| {
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
        // The first chunk whose last record fails the predicate holds the point.
        let mut ci = 0;
        while ci < self.chunks.len() {
            match self.chunks[ci].last() {
                Some(x) if pred(x) => ci += 1,
                _ => break,
            }
        }
        let at = match self.chunks.get(ci) {
            Some(c) => {
                let lo = if ci == 0 { self.head } else { 0 };
                lo + c[lo.min(c.len())..].partition_point(&pred)
            }
            None => 0,
        };
        self.iter_from(ci, at)
    }
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
