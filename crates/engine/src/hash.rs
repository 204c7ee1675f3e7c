//! A hash (`listpack` when small, `hashtable` when big; fields may carry expiry times).
//!
//! Placeholder shape: the family's work fills in the encodings and operations.

use crate::packed::Packed;

/// A hash (`listpack` when small, `hashtable` when big; fields may carry expiry times).
#[derive(Clone, Debug, Default)]
pub struct Hash {
    small: Packed,
}

impl Hash {
    /// An empty value.
    pub fn new() -> Hash {
        Hash::default()
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

    /// The value of a field (SORT BY/GET `*->field` uses this; keep the signature). Expired
    /// fields read as missing at `now_ms`.
    pub fn get_field(&self, field: &[u8], now_ms: i64) -> Option<&[u8]> {
        let _ = now_ms;
        let off = self.small.find(field, 2)?;
        let (_, v) = self.small.at(off)?;
        self.small.get_at(v)
    }

    /// Every (field, value, expiry ms) triple (RDB, DEBUG DIGEST use this; keep the
    /// signature). Expired fields are skipped at `now_ms`.
    pub fn for_each(&self, now_ms: i64, mut f: impl FnMut(&[u8], &[u8], Option<i64>)) {
        let _ = now_ms;
        let mut it = self.small.iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            f(k, v, None);
        }
    }
}
