//! A set (`intset`, `listpack` or `hashtable`).
//!
//! Placeholder shape: the family's work fills in the encodings and operations.

use crate::packed::Packed;

/// A set (`intset`, `listpack` or `hashtable`).
#[derive(Clone, Debug, Default)]
pub struct Set {
    small: Packed,
}

impl Set {
    /// An empty value.
    pub fn new() -> Set {
        Set::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.small.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.small.is_empty()
    }

    /// The OBJECT ENCODING name.
    pub fn encoding_name(&self) -> &'static str {
        "listpack"
    }

    /// Heap bytes owned (for MEMORY USAGE / INFO).
    pub fn heap_size(&self) -> usize {
        self.small.heap_size()
    }

    /// How many separate allocations freeing this value costs (lazy-free decisions).
    pub fn free_effort(&self) -> usize {
        1
    }

    /// Every member, in the set's internal order (SORT, ZUNIONSTORE over sets, RDB use this;
    /// keep the signature). Integers of an intset are given as their decimal text.
    pub fn for_each_member(&self, mut f: impl FnMut(&[u8])) {
        for m in self.small.iter() {
            f(m);
        }
    }
}
