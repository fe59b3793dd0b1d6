//! The unpickler's memo: index -> value, as `_Unpickler_MemoPut`/`MemoGet` keep it.
//!
//! Picklers number memo entries densely from 0 (`MEMOIZE` uses the entry count), so entries at the
//! next free index extend a vector; any other index (a hand-made `LONG_BINPUT 0xFFFFFF`) goes to a
//! map. Memory therefore follows the number of entries, never the size of the highest index
//! (CPython's own memo table is dense and would allocate for it).

use std::collections::HashMap;

use crate::value::Value;

#[derive(Default)]
pub(crate) struct Memo {
    /// Entries `0..dense.len()`, every one occupied.
    dense: Vec<Value>,
    /// Entries at indices `>= dense.len()`.
    sparse: HashMap<u64, Value>,
}

/// Bytes one map entry costs (key, value, hash table control and load-factor slack).
const SPARSE_ENTRY_BYTES: usize = 64;

impl Memo {
    /// Number of occupied entries (what `MEMOIZE` uses as its index).
    pub(crate) fn len(&self) -> usize {
        self.dense.len() + self.sparse.len()
    }

    /// Heap bytes held by the table itself (not what the values share).
    pub(crate) fn table_bytes(&self) -> usize {
        self.dense.capacity() * std::mem::size_of::<Value>()
            + self.sparse.capacity() * SPARSE_ENTRY_BYTES
    }

    pub(crate) fn contains(&self, index: u64) -> bool {
        self.get(index).is_some()
    }

    pub(crate) fn get(&self, index: u64) -> Option<&Value> {
        match usize::try_from(index) {
            Ok(i) if i < self.dense.len() => self.dense.get(i),
            _ => self.sparse.get(&index),
        }
    }

    pub(crate) fn insert(&mut self, index: u64, value: Value) {
        let dense_len = self.dense.len() as u64;
        if index < dense_len {
            if let Some(slot) = usize::try_from(index)
                .ok()
                .and_then(|i| self.dense.get_mut(i))
            {
                *slot = value;
            }
        } else if index == dense_len {
            self.dense.push(value);
            // Entries put out of order earlier may now continue the dense run.
            while let Some(next) = self.sparse.remove(&(self.dense.len() as u64)) {
                self.dense.push(next);
            }
        } else {
            self.sparse.insert(index, value);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.dense = Vec::new();
        self.sparse = HashMap::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_occupied_entries_like_cpython() {
        let mut memo = Memo::default();
        memo.insert(5, Value::None);
        memo.insert(5, Value::Int(1));
        memo.insert(1 << 30, Value::None);
        assert_eq!(memo.len(), 2);
        assert!(memo.contains(5) && memo.contains(1 << 30) && !memo.contains(0));
        assert!(matches!(memo.get(5), Some(Value::Int(1))));
        memo.clear();
        assert_eq!(memo.len(), 0);
    }

    #[test]
    fn a_far_index_costs_one_entry_and_out_of_order_puts_join_the_dense_run() {
        let mut memo = Memo::default();
        memo.insert(0xFFFF_FFFF, Value::None);
        memo.insert(0x00FF_FFFF, Value::None);
        assert!(memo.table_bytes() < 4096, "{}", memo.table_bytes());
        memo.insert(2, Value::Int(2));
        memo.insert(1, Value::Int(1));
        memo.insert(0, Value::Int(0));
        assert_eq!(memo.len(), 5);
        assert!(memo.dense.len() == 3 && memo.sparse.len() == 2);
        assert!(matches!(memo.get(1), Some(Value::Int(1))));
        assert!(matches!(memo.get(2), Some(Value::Int(2))));
    }
}
