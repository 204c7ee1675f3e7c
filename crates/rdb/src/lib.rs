//! `ferrokv-rdb`: Redis's RDB persistence format, with no server types.
//!
//! * [`RdbReader`] decodes an RDB file from any [`std::io::Read`] as a stream
//!   of [`Event`]s (aux fields, database selection, resize hints, function
//!   libraries, keys with their [`RdbValue`], expiry and LRU/LFU hints),
//!   verifying the trailing CRC-64. Versions 1..=12 are accepted; every value
//!   encoding Redis has written up to 7.4 is decoded, except streams and
//!   module values (clear [`Error::UnsupportedType`]). Input is treated as
//!   hostile: lengths are checked against what is present, allocations are
//!   capped, nothing panics. [`load`] reads a whole file into an [`RdbFile`].
//! * [`RdbWriter`] writes files redis-server 7.0 loads (RDB version 10, only
//!   encodings 7.0 knows), or version 12 when hash fields carry TTLs
//!   ([`WriteOptions`]).
//! * [`dump_value`] / [`restore_value`]: the DUMP/RESTORE payload (type byte,
//!   value, 2-byte RDB version, CRC-64).
//! * Codecs used by the above, usable on their own: [`crc64`], [`lzf`],
//!   [`intset`], [`listpack`], [`ziplist`] (with zipmap).
//!
//! Streams are decoded (types 15, 19, 21) into [`Stream`] and written as
//! type 19 (version 10/11) or 21 (version 12).
//!
//! Format notes: `docs/rdb.md`.

pub mod crc64;
mod decode;
mod dump;
mod encode;
mod error;
pub mod intset;
pub mod listpack;
pub mod lzf;
mod stream;
mod util;
pub mod ziplist;

pub use decode::{load, RdbFile, RdbReader};
pub use dump::{
    dump_value, dump_value_uncompressed, dump_value_with_version, restore_value,
    restore_value_with_version,
};
pub use encode::{RdbWriter, WriteOptions};
pub use error::Error;
pub use util::{parse_canonical_i64, parse_score};

/// Newest RDB version this crate reads (Redis 7.4 writes 12).
pub const MAX_VERSION: u32 = 12;

/// Value type bytes and opcodes of the format (Redis's `rdb.h` numbering).
pub mod types {
    /// Plain string (possibly int-encoded or LZF-compressed).
    pub const STRING: u8 = 0;
    /// Linked list of strings (Redis < 3.2).
    pub const LIST: u8 = 1;
    /// Set as a list of strings.
    pub const SET: u8 = 2;
    /// Sorted set with scores as text (Redis < 3.0 style).
    pub const ZSET: u8 = 3;
    /// Hash as field/value strings.
    pub const HASH: u8 = 4;
    /// Sorted set with binary double scores.
    pub const ZSET_2: u8 = 5;
    /// Module value, 4.0 release candidates.
    pub const MODULE_PRE_GA: u8 = 6;
    /// Module value.
    pub const MODULE_2: u8 = 7;
    /// Hash in the zipmap encoding (Redis < 2.6).
    pub const HASH_ZIPMAP: u8 = 9;
    /// List as one ziplist (Redis < 3.2).
    pub const LIST_ZIPLIST: u8 = 10;
    /// Set as an intset.
    pub const SET_INTSET: u8 = 11;
    /// Sorted set as a ziplist (Redis < 7.0).
    pub const ZSET_ZIPLIST: u8 = 12;
    /// Hash as a ziplist (Redis < 7.0).
    pub const HASH_ZIPLIST: u8 = 13;
    /// List as a quicklist of ziplists (Redis 3.2 .. 6.2).
    pub const LIST_QUICKLIST: u8 = 14;
    /// Stream, first layout.
    pub const STREAM_LISTPACKS: u8 = 15;
    /// Hash as a listpack (Redis 7.0+).
    pub const HASH_LISTPACK: u8 = 16;
    /// Sorted set as a listpack (Redis 7.0+).
    pub const ZSET_LISTPACK: u8 = 17;
    /// List as a quicklist of listpack or plain nodes (Redis 7.0+).
    pub const LIST_QUICKLIST_2: u8 = 18;
    /// Stream, 7.0 layout.
    pub const STREAM_LISTPACKS_2: u8 = 19;
    /// Set as a listpack (Redis 7.2+).
    pub const SET_LISTPACK: u8 = 20;
    /// Stream, 7.2 layout (consumer active time).
    pub const STREAM_LISTPACKS_3: u8 = 21;
    /// Hash with field TTLs, 7.4 release candidates (absolute TTLs).
    pub const HASH_METADATA_PRE_GA: u8 = 22;
    /// Listpack hash with field TTLs, 7.4 release candidates.
    pub const HASH_LISTPACK_EX_PRE_GA: u8 = 23;
    /// Hash with field TTLs (7.4): min expiry, then TTLs relative to it.
    pub const HASH_METADATA: u8 = 24;
    /// Listpack hash with field TTLs (7.4): min expiry, then the listpack.
    pub const HASH_LISTPACK_EX: u8 = 25;

    /// Valkey / cluster: slot sizing hint (slot, keys, expiring keys).
    pub const OP_SLOT_INFO: u8 = 244;
    /// Function library (its source code).
    pub const OP_FUNCTION2: u8 = 245;
    /// Function library, 7.0 release-candidate layout.
    pub const OP_FUNCTION_PRE_GA: u8 = 246;
    /// Module auxiliary data.
    pub const OP_MODULE_AUX: u8 = 247;
    /// LRU idle time (seconds) of the next key.
    pub const OP_IDLE: u8 = 248;
    /// LFU frequency of the next key.
    pub const OP_FREQ: u8 = 249;
    /// Auxiliary field (name, value).
    pub const OP_AUX: u8 = 250;
    /// Hash table size hints of the current database.
    pub const OP_RESIZEDB: u8 = 251;
    /// Absolute expiry of the next key, Unix milliseconds.
    pub const OP_EXPIRETIME_MS: u8 = 252;
    /// Absolute expiry of the next key, Unix seconds.
    pub const OP_EXPIRETIME: u8 = 253;
    /// Database number of the following keys.
    pub const OP_SELECTDB: u8 = 254;
    /// End of file (followed by the CRC-64 from version 5 on).
    pub const OP_EOF: u8 = 255;
}

/// One field of a hash, with its own expiry (Redis 7.4 HEXPIRE & co).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashField {
    /// Field name.
    pub field: Vec<u8>,
    /// Field value.
    pub value: Vec<u8>,
    /// Absolute expiry in Unix milliseconds, `None` when the field persists.
    pub expire_ms: Option<i64>,
}

/// A value in a neutral form, independent of the encoding it was stored in
/// (integers held in integer encodings come back as their decimal text).
/// Element order is the stored order (for sets and hashes, whatever order
/// the writer used).
#[derive(Debug, Clone, PartialEq)]
pub enum RdbValue {
    /// A string.
    String(Vec<u8>),
    /// List elements, head first.
    List(Vec<Vec<u8>>),
    /// Set members.
    Set(Vec<Vec<u8>>),
    /// Sorted set members and scores.
    ZSet(Vec<(Vec<u8>, f64)>),
    /// Hash fields.
    Hash(Vec<HashField>),
    /// A stream with its consumer groups.
    Stream(Box<Stream>),
}

/// A stream entry ID (`<ms>-<seq>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

/// One live stream entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// Its ID.
    pub id: StreamId,
    /// Field/value pairs in insertion order.
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// An entry of a consumer group's pending entries list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPending {
    /// ID of the delivered entry.
    pub id: StreamId,
    /// Last delivery time, Unix ms.
    pub delivery_time_ms: i64,
    /// Number of deliveries.
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConsumer {
    /// Consumer name.
    pub name: Vec<u8>,
    /// Last time it was seen (any interaction), Unix ms.
    pub seen_time_ms: i64,
    /// Last successful read/claim (Redis 7.2+, RDB type 21); `None` from
    /// older files (Redis then uses the seen time).
    pub active_time_ms: Option<i64>,
    /// IDs it owns; each is also in the group's [`StreamGroup::pending`].
    pub pending: Vec<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamGroup {
    /// Group name.
    pub name: Vec<u8>,
    /// Last delivered ID.
    pub last_id: StreamId,
    /// Entries read counter (lag tracking); `None` when unknown (Redis's
    /// -1, and always for pre-7.0 files).
    pub entries_read: Option<u64>,
    /// The group's pending entries list, ascending IDs.
    pub pending: Vec<StreamPending>,
    /// Its consumers.
    pub consumers: Vec<StreamConsumer>,
}

/// A stream in neutral form: live entries in ID order plus the metadata
/// Redis persists. For pre-7.0 files (RDB type 15) `first_id`,
/// `max_deleted_id` and `entries_added` are derived as Redis does on load.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stream {
    /// Live entries, ascending IDs.
    pub entries: Vec<StreamEntry>,
    /// Last ID ever generated (may exceed the last live entry).
    pub last_id: StreamId,
    /// ID of the first live entry (0-0 when empty).
    pub first_id: StreamId,
    /// Largest ID ever deleted.
    pub max_deleted_id: StreamId,
    /// Count of entries ever added.
    pub entries_added: u64,
    /// Consumer groups.
    pub groups: Vec<StreamGroup>,
}

impl RdbValue {
    /// A copy with set members, hash fields and sorted-set members in a
    /// canonical (byte) order, so values can be compared whatever order an
    /// encoding kept them in.
    pub fn sorted_clone(&self) -> RdbValue {
        match self {
            RdbValue::Set(m) => {
                let mut m = m.clone();
                m.sort();
                RdbValue::Set(m)
            }
            RdbValue::Hash(f) => {
                let mut f = f.clone();
                f.sort_by(|a, b| a.field.cmp(&b.field));
                RdbValue::Hash(f)
            }
            RdbValue::ZSet(z) => {
                let mut z = z.clone();
                z.sort_by(|a, b| a.0.cmp(&b.0));
                RdbValue::ZSet(z)
            }
            other => other.clone(),
        }
    }

    /// The Redis type name (`TYPE` command reply).
    pub fn type_name(&self) -> &'static str {
        match self {
            RdbValue::String(_) => "string",
            RdbValue::List(_) => "list",
            RdbValue::Set(_) => "set",
            RdbValue::ZSet(_) => "zset",
            RdbValue::Hash(_) => "hash",
            RdbValue::Stream(_) => "stream",
        }
    }

    /// True for a collection without elements (Redis never stores one; the
    /// reader reports such keys as [`Event::EmptyKey`] instead).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            RdbValue::String(_) => false,
            RdbValue::List(v) | RdbValue::Set(v) => v.is_empty(),
            RdbValue::ZSet(v) => v.is_empty(),
            RdbValue::Hash(v) => v.is_empty(),
            // Redis keeps empty streams (XDEL of every entry, MKSTREAM)
            RdbValue::Stream(_) => false,
        }
    }

    /// True when some hash field has a TTL (such a value needs RDB version
    /// 12 to be written).
    pub fn has_field_ttls(&self) -> bool {
        matches!(self, RdbValue::Hash(f) if f.iter().any(|h| h.expire_ms.is_some()))
    }
}

/// A key loaded from the file, with the hints that preceded it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// Database number (from the last SELECTDB; 0 before any).
    pub db: u64,
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: RdbValue,
    /// Absolute expiry, Unix milliseconds (EXPIRETIME is converted).
    pub expire_ms: Option<i64>,
    /// LRU idle time in seconds (IDLE opcode), when the file has one.
    pub lru_idle: Option<u64>,
    /// LFU frequency counter (FREQ opcode), when the file has one.
    pub lfu_freq: Option<u8>,
}

/// One item of an RDB file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An auxiliary field (`redis-ver`, `ctime`, `repl-id`, `lua`, ...);
    /// integer-encoded values come back as decimal text.
    Aux {
        /// Field name.
        key: Vec<u8>,
        /// Field value.
        value: Vec<u8>,
    },
    /// Following keys belong to this database.
    SelectDb(u64),
    /// Size hints for the current database.
    ResizeDb {
        /// Number of keys.
        db_size: u64,
        /// Number of keys with an expiry.
        expires_size: u64,
    },
    /// Valkey/cluster slot sizing hint.
    SlotInfo {
        /// Slot number.
        slot: u64,
        /// Keys in the slot.
        size: u64,
        /// Keys with an expiry in the slot.
        expires_size: u64,
    },
    /// A function library: its full source (`#!lua name=...` header
    /// included), to be passed to FUNCTION LOAD.
    Function(Vec<u8>),
    /// Module auxiliary data, skipped (its module id decoded to the 9-char
    /// module name). Redis refuses to load it when the module is absent.
    ModuleAux {
        /// The module's name.
        module: String,
    },
    /// A key.
    Key(KeyRecord),
    /// A key whose collection was empty: Redis skips such keys with a log
    /// line, the caller should too.
    EmptyKey {
        /// Database number.
        db: u64,
        /// The key.
        key: Vec<u8>,
    },
}
