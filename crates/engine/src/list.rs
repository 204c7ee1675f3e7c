//! A list (OBJECT ENCODING `listpack` when small, `quicklist` when big).
//!
//! Placeholder shape: the family's work fills in the encodings and operations.

use crate::packed::Packed;

/// A list (OBJECT ENCODING `listpack` when small, `quicklist` when big).
#[derive(Clone, Debug, Default)]
pub struct List {
    small: Packed,
}

impl List {
    /// An empty value.
    pub fn new() -> List {
        List::default()
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

    /// Elements from head to tail (SORT, RDB, DEBUG DIGEST use this; keep the signature).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.small.iter()
    }
}
