//! A sorted set (`listpack` when small, `skiplist` when big).
//!
//! Placeholder shape: the family's work fills in the encodings and operations.

use crate::packed::Packed;

/// A sorted set (`listpack` when small, `skiplist` when big).
#[derive(Clone, Debug, Default)]
pub struct ZSet {
    small: Packed,
}

impl ZSet {
    /// An empty value.
    pub fn new() -> ZSet {
        ZSet::default()
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

    /// Every (member, score) pair in ascending score order (SORT, RDB use this; keep the
    /// signature).
    pub fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        let _ = &mut f;
    }
}
