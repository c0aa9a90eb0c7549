//! The goroutine table: a slab of records with an id index and a one-entry
//! lookup cache, because the ingest path looks the same goroutine up
//! several times per event. Go hands out goroutine ids densely, so the
//! index is a plain vector up to `DENSE_IDS`; only ids past it are hashed.
use std::cell::Cell;

use crate::intern::IdMap;
use crate::model::Goroutine;

// Ids below this are indexed by a vector (4 bytes per id, at most 8 MB).
const DENSE_IDS: usize = 1 << 21;

pub(crate) struct GoTable {
    slots: Vec<Option<Goroutine>>,
    // id -> slot + 1 (0: absent), for ids below DENSE_IDS.
    dense: Vec<u32>,
    // The other ids.
    index: IdMap<i64, u32>,
    len: usize,
    free: Vec<u32>,
    last: Cell<(i64, u32)>,
}

impl Default for GoTable {
    fn default() -> Self {
        GoTable {
            slots: Vec::new(),
            dense: Vec::new(),
            index: IdMap::default(),
            len: 0,
            free: Vec::new(),
            last: Cell::new((i64::MIN, 0)),
        }
    }
}

impl GoTable {
    #[inline(always)]
    fn slot(&self, id: i64) -> Option<u32> {
        let (lid, li) = self.last.get();
        if lid == id {
            return Some(li);
        }
        let i = if (id as u64) < self.dense.len() as u64 {
            self.dense[id as usize].checked_sub(1)?
        } else if self.index.is_empty() {
            return None;
        } else {
            *self.index.get(&id)?
        };
        self.last.set((id, i));
        Some(i)
    }
    #[inline(always)]
    pub fn get(&self, id: &i64) -> Option<&Goroutine> {
        let i = self.slot(*id)?;
        self.slots[i as usize].as_ref()
    }
    #[inline(always)]
    pub fn get_mut(&mut self, id: &i64) -> Option<&mut Goroutine> {
        let i = self.slot(*id)?;
        self.slots[i as usize].as_mut()
    }
    /// The slot of goroutine `id`, for [`Self::at`] and [`Self::at_mut`]:
    /// the ingest path looks a goroutine up once per event and reaches it
    /// by slot after that. A slot stays valid until the next insert or remove.
    #[inline(always)]
    pub fn slot_of(&self, id: i64) -> Option<u32> {
        self.slot(id)
    }
    #[inline(always)]
    pub fn at(&self, slot: u32) -> &Goroutine {
        self.slots[slot as usize]
            .as_ref()
            .expect("a slot from slot_of holds a goroutine")
    }
    #[inline(always)]
    pub fn at_mut(&mut self, slot: u32) -> &mut Goroutine {
        self.slots[slot as usize]
            .as_mut()
            .expect("a slot from slot_of holds a goroutine")
    }
    pub fn insert(&mut self, id: i64, g: Goroutine) -> Option<Goroutine> {
        if let Some(i) = self.slot(id) {
            return self.slots[i as usize].replace(g);
        }
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(g);
                i
            }
            None => {
                self.slots.push(Some(g));
                (self.slots.len() - 1) as u32
            }
        };
        if (id as u64) < DENSE_IDS as u64 {
            let at = id as usize;
            if self.dense.len() <= at {
                let n = (at + 1).max(self.dense.len() * 2).min(DENSE_IDS);
                self.dense.resize(n, 0);
            }
            self.dense[at] = i + 1;
        } else {
            self.index.insert(id, i);
        }
        self.len += 1;
        self.last.set((id, i));
        None
    }
    pub fn remove(&mut self, id: &i64) -> Option<Goroutine> {
        let i = if (*id as u64) < self.dense.len() as u64 {
            let d = &mut self.dense[*id as usize];
            let i = d.checked_sub(1)?;
            *d = 0;
            i
        } else {
            self.index.remove(id)?
        };
        self.len -= 1;
        if self.last.get().0 == *id {
            self.last.set((i64::MIN, 0));
        }
        self.free.push(i);
        self.slots[i as usize].take()
    }
    pub fn values(&self) -> impl Iterator<Item = &Goroutine> {
        self.slots.iter().flatten()
    }
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Goroutine> {
        self.slots.iter_mut().flatten()
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn capacity(&self) -> usize {
        self.slots.capacity()
    }
}
