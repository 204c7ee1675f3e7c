//! Values of the collection types, held by object entries (see [`crate::entry`]).
//!
//! Strings live inline in their entry's block; every other type is a [`Value`] owned by the
//! entry. Each family's module owns its encodings and operations; this enum only ties them to
//! the entry's type byte and answers the questions every type must answer (encoding name, size,
//! free effort).

use crate::entry::Kind;
use crate::hash::Hash;
use crate::list::List;
use crate::set::Set;
use crate::zset::ZSet;

/// A non-string value.
#[derive(Clone, Debug)]
pub enum Value {
    List(List),
    Hash(Hash),
    Set(Set),
    ZSet(ZSet),
}

impl Value {
    /// The type byte stored in the entry header.
    pub fn kind(&self) -> Kind {
        match self {
            Value::List(_) => Kind::List,
            Value::Hash(_) => Kind::Hash,
            Value::Set(_) => Kind::Set,
            Value::ZSet(_) => Kind::ZSet,
        }
    }

    /// The OBJECT ENCODING name of the current encoding.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::List(v) => v.encoding_name(),
            Value::Hash(v) => v.encoding_name(),
            Value::Set(v) => v.encoding_name(),
            Value::ZSet(v) => v.encoding_name(),
        }
    }

    /// Number of elements (LLEN, HLEN, SCARD, ZCARD).
    pub fn len(&self) -> usize {
        match self {
            Value::List(v) => v.len(),
            Value::Hash(v) => v.len(),
            Value::Set(v) => v.len(),
            Value::ZSet(v) => v.len(),
        }
    }

    /// True when the collection has no element (it must then be deleted, as Redis does).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned by the value.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::List(v) => v.heap_size(),
            Value::Hash(v) => v.heap_size(),
            Value::Set(v) => v.heap_size(),
            Value::ZSet(v) => v.heap_size(),
        }
    }

    /// Allocations freed when the value is dropped (Redis's lazyfreeGetFreeEffort).
    pub fn free_effort(&self) -> usize {
        match self {
            Value::List(v) => v.free_effort(),
            Value::Hash(v) => v.free_effort(),
            Value::Set(v) => v.free_effort(),
            Value::ZSet(v) => v.free_effort(),
        }
    }
}

/// The conversion thresholds of the compact encodings (the `*-max-listpack-*`,
/// `set-max-intset-entries` and `list-*` parameters), read once per command from the server's
/// configuration. Defaults are Redis's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodingLimits {
    /// `list-max-listpack-size`: positive = max entries per node, -1..-5 = 4/8/16/32/64 KiB.
    pub list_max_listpack_size: i64,
    /// `list-compress-depth` (accepted; nodes are not compressed).
    pub list_compress_depth: i64,
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub set_max_listpack_entries: usize,
    pub set_max_listpack_value: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
        }
    }
}

#[cfg(test)]
mod tests {
    /// Object entries hold a header block and a `Value`: keeping the value at 48 bytes keeps the
    /// object in mimalloc's 64-byte class (each collection key pays it once).
    #[test]
    fn values_stay_small() {
        assert!(
            std::mem::size_of::<super::Value>() <= 48,
            "{}",
            std::mem::size_of::<super::Value>()
        );
    }
}
