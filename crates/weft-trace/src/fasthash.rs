//! A small, fast hasher for integer keys (ids, pcs) and short byte strings,
//! shared by the crates that index trace ids. Not DoS-resistant, and it need
//! not be: an attacker who controls the trace can already make us do work
//! proportional to its size, no more.
//!
//! ```
//! use weft_trace::fasthash::FastMap;
//! let mut m: FastMap<u64, &str> = FastMap::default();
//! m.insert(7, "seven");
//! assert_eq!(m[&7], "seven");
//! ```
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The hasher: one multiply-xorshift round per 8 bytes of key.
#[derive(Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 ^= self.0 >> 29;
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64)
    }
    #[inline]
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64)
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64)
    }
}

/// Builds [`IntHasher`]s.
pub type FastBuildHasher = BuildHasherDefault<IntHasher>;

/// A `HashMap` with [`IntHasher`].
pub type FastMap<K, V> = HashMap<K, V, FastBuildHasher>;

/// A map keyed by small integer ids (goroutine, proc and thread ids):
/// a vector while the ids stay dense, a hash map for the outliers. Growth
/// of the vector is bounded by the number of entries, so hostile ids cannot
/// make it allocate much.
#[derive(Debug)]
pub(crate) struct IdMap<V> {
    dense: Vec<Option<V>>,
    sparse: FastMap<i64, V>,
    len: usize,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap {
            dense: Vec::new(),
            sparse: FastMap::default(),
            len: 0,
        }
    }
}

impl<V> IdMap<V> {
    #[inline(always)]
    fn slot(&self, id: i64) -> Option<usize> {
        let i = id as u64;
        (i < self.dense.len() as u64).then_some(i as usize)
    }
    #[inline(always)]
    pub fn get(&self, id: &i64) -> Option<&V> {
        match self.slot(*id) {
            Some(i) => self.dense[i].as_ref(),
            None if self.sparse.is_empty() => None,
            None => self.sparse.get(id),
        }
    }
    #[inline(always)]
    pub fn get_mut(&mut self, id: &i64) -> Option<&mut V> {
        match self.slot(*id) {
            Some(i) => self.dense[i].as_mut(),
            None if self.sparse.is_empty() => None,
            None => self.sparse.get_mut(id),
        }
    }
    #[inline]
    pub fn contains_key(&self, id: &i64) -> bool {
        self.get(id).is_some()
    }
    pub fn len(&self) -> usize {
        self.len
    }
    #[inline]
    pub fn insert(&mut self, id: i64, v: V) {
        if let Some(i) = self.slot(id) {
            if self.dense[i].replace(v).is_none() {
                self.len += 1;
            }
            return;
        }
        self.insert_slow(id, v)
    }
    #[inline(never)]
    fn insert_slow(&mut self, id: i64, v: V) {
        let u = id as u64;
        // Grow the vector only while that keeps it at least a quarter full.
        if u < (4 * (self.len as u64 + 1)).max(1024) {
            // Move any sparse entries that now fit.
            let new_len = (u as usize + 1).max(self.dense.len() * 2).max(64);
            self.dense.resize_with(new_len, || None);
            let moved: Vec<i64> = self
                .sparse
                .keys()
                .copied()
                .filter(|&k| (k as u64) < new_len as u64)
                .collect();
            for k in moved {
                let x = self.sparse.remove(&k);
                self.dense[k as usize] = x;
            }
            self.dense[u as usize] = Some(v);
            self.len += 1;
            return;
        }
        if self.sparse.insert(id, v).is_none() {
            self.len += 1;
        }
    }
    #[inline]
    pub fn remove(&mut self, id: &i64) -> Option<V> {
        let r = match self.slot(*id) {
            Some(i) => self.dense[i].take(),
            None => self.sparse.remove(id),
        };
        if r.is_some() {
            self.len -= 1;
        }
        r
    }
    pub fn iter(&self) -> impl Iterator<Item = (i64, &V)> {
        self.dense
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_ref().map(|v| (i as i64, v)))
            .chain(self.sparse.iter().map(|(&k, v)| (k, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn idmap_dense_sparse_and_negative() {
        let mut m = IdMap::default();
        m.insert(5, 'a');
        m.insert(-1, 'n');
        m.insert(1 << 40, 'b');
        m.insert(3000, 'c');
        assert_eq!(m.get(&5), Some(&'a'));
        assert_eq!(m.get(&-1), Some(&'n'));
        assert_eq!(m.get(&(1 << 40)), Some(&'b'));
        assert_eq!(m.get(&3000), Some(&'c'));
        assert_eq!(m.len(), 4);
        assert_eq!(m.remove(&5), Some('a'));
        assert_eq!(m.get(&5), None);
        assert_eq!(m.len(), 3);
        assert!(m.dense.len() < 10_000);
        let mut keys: Vec<_> = m.iter().map(|(k, _)| k).collect();
        keys.sort();
        assert_eq!(keys, vec![-1, 3000, 1 << 40]);
    }
}
