//! The goroutine table: a slab of records with an id index and a one-entry
//! lookup cache, because the ingest path looks the same goroutine up
//! several times per event.
use std::cell::Cell;

use crate::intern::IdMap;
use crate::model::Goroutine;

pub(crate) struct GoTable {
    slots: Vec<Option<Goroutine>>,
    index: IdMap<i64, u32>,
    free: Vec<u32>,
    last: Cell<(i64, u32)>,
}

impl Default for GoTable {
    fn default() -> Self {
        GoTable {
            slots: Vec::new(),
            index: IdMap::default(),
            free: Vec::new(),
            last: Cell::new((i64::MIN, 0)),
        }
    }
}

impl GoTable {
    #[inline]
    fn slot(&self, id: i64) -> Option<u32> {
        let (lid, li) = self.last.get();
        if lid == id {
            return Some(li);
        }
        let &i = self.index.get(&id)?;
        self.last.set((id, i));
        Some(i)
    }
    #[inline]
    pub fn get(&self, id: &i64) -> Option<&Goroutine> {
        let i = self.slot(*id)?;
        self.slots[i as usize].as_ref()
    }
    #[inline]
    pub fn get_mut(&mut self, id: &i64) -> Option<&mut Goroutine> {
        let i = self.slot(*id)?;
        self.slots[i as usize].as_mut()
    }
    #[inline]
    pub fn contains_key(&self, id: &i64) -> bool {
        self.slot(*id).is_some()
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
        self.index.insert(id, i);
        self.last.set((id, i));
        None
    }
    pub fn remove(&mut self, id: &i64) -> Option<Goroutine> {
        let i = self.index.remove(id)?;
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
        self.index.len()
    }
    pub fn capacity(&self) -> usize {
        self.slots.capacity()
    }
}
