//! The unpickler's memo: index -> value, as `_Unpickler_MemoPut`/`MemoGet` keep it.
//!
//! Picklers number memo entries densely from 0 (`MEMOIZE` uses the entry count), so entries live
//! in a vector; the rare far-away index of a hand-made `LONG_BINPUT` goes to a map.

use std::collections::HashMap;

use crate::value::Value;

/// Indices below this are stored densely.
const DENSE_LIMIT: u64 = 1 << 24;

#[derive(Default)]
pub(crate) struct Memo {
    dense: Vec<Option<Value>>,
    sparse: HashMap<u64, Value>,
    len: usize,
}

impl Memo {
    /// Number of occupied entries (what `MEMOIZE` uses as its index).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn contains(&self, index: u64) -> bool {
        self.get(index).is_some()
    }

    pub(crate) fn get(&self, index: u64) -> Option<&Value> {
        if index < DENSE_LIMIT {
            self.dense.get(index as usize).and_then(Option::as_ref)
        } else {
            self.sparse.get(&index)
        }
    }

    pub(crate) fn insert(&mut self, index: u64, value: Value) {
        let previous = if index < DENSE_LIMIT {
            let i = index as usize;
            if i >= self.dense.len() {
                self.dense.resize(i + 1, None);
            }
            self.dense.get_mut(i).and_then(|slot| slot.replace(value))
        } else {
            self.sparse.insert(index, value)
        };
        if previous.is_none() {
            self.len += 1;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.dense.clear();
        self.sparse.clear();
        self.len = 0;
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
}
