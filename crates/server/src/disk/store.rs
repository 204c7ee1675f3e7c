//! How the server keeps one key's value in the disk engine.
//!
//! Two layouts (docs/disk-engine.md §6):
//! - **record**: strings, collections in a compact in-memory encoding (listpack, intset,
//!   listpackex) and streams are one disk-engine *string* record: a one-byte type tag, a
//!   one-byte encoding code (so a value that Redis keeps in a big encoding after it shrank comes
//!   back with that encoding), the 4-byte LRU/LFU access value, then the raw bytes of a string,
//!   the plain collection encoding of a list, set, sorted set or hash (record format 2,
//!   `TAG_PLAIN`), or the DUMP payload (`ferrokv_rdb`) of a stream (and of collections
//!   written before format 2, still read). Order-exact; loading is O(size).
//! - **field-level**: collections in a big encoding (`hashtable` hash/set, `skiplist` zset,
//!   `quicklist` list) are written with the engine's object API
//!   (`KeyWrite::Put { inline: false }`): one record per element, so the native paths
//!   (`disk/native.rs`) touch a few records per element operation and DEL is O(1). Their
//!   encoding is implied by the layout; their access value is not stored (a load gives them
//!   a fresh one).
//! - **field-level, compact**: `listpack` lists (and `listpack` sorted sets from
//!   [`COMPACT_ZSET_FIELDS_MIN`] members) are written field-level with the engine's compact
//!   flag (`KeyWrite::PutCompact`; lists also carry their listpack byte size), so their element
//!   writes are native while a load rebuilds them as `listpack` ([`stored_as`]).
//!
//! Both carry the key's expiry in the engine's metadata, so the deadline index, SCAN, key
//! counting and active expiry work on either. The write-back of a unit is one engine batch
//! ([`apply_unit`]): whole-key writes and element deltas of field-level keys together.

use ferrokv_engine_disk::{DiskEngine, DiskError, ElemDelta, KeyType, KeyWrite, Layout, MetaToken};
use ferrokv_rdb::RdbValue;

/// Tag of a plain string.
const TAG_STRING: u8 = 0;
/// Tags of collections (the DUMP payload follows).
const TAG_LIST: u8 = 1;
const TAG_SET: u8 = 2;
const TAG_ZSET: u8 = 3;
const TAG_HASH: u8 = 4;
const TAG_STREAM: u8 = 5;
/// Added to a collection's tag when the body is the engine's plain collection encoding
/// (`ferrokv_engine_disk::encode_collection_into`: varint count, length-prefixed elements,
/// scores as f64 bits; no checksum) instead of a DUMP payload. Every list, set, sorted set and
/// hash record is written so since record format 2; records with the bare tag (a DUMP payload,
/// whose CRC-64 over the whole value was a fifth of a LPUSH's CPU) are still read.
const TAG_PLAIN: u8 = 0x10;

/// A clock far in the past: the engine then treats no key as expired, so expired keys are
/// loaded with their deadline and the memory engine expires them with full Redis semantics
/// (events, propagation) on first access.
const NO_EXPIRY_CLOCK: i64 = i64::MIN;

fn tag_of(v: &RdbValue) -> u8 {
    match v {
        RdbValue::String(_) => TAG_STRING,
        RdbValue::List(_) => TAG_LIST,
        RdbValue::Set(_) => TAG_SET,
        RdbValue::ZSet(_) => TAG_ZSET,
        RdbValue::Hash(_) => TAG_HASH,
        RdbValue::Stream(_) => TAG_STREAM,
    }
}

/// The Redis type name of a stored record (TYPE / SCAN ... TYPE), from its tag.
pub fn type_name_of_record(rec: &[u8]) -> &'static str {
    match rec.first().map(|t| t & !TAG_PLAIN) {
        Some(TAG_LIST) => "list",
        Some(TAG_SET) => "set",
        Some(TAG_ZSET) => "zset",
        Some(TAG_HASH) => "hash",
        Some(TAG_STREAM) => "stream",
        _ => "string",
    }
}

/// Bytes before the value: tag, encoding code, access.
const HEADER: usize = 6;

/// Encoding names a record remembers (index + 1 is the code; 0 = whatever loading picks).
const ENCODINGS: &[&str] = &[
    "hashtable",
    "skiplist",
    "quicklist",
    "listpack",
    "intset",
    "int",
    "embstr",
    "raw",
    "listpackex",
];

/// The code of an `OBJECT ENCODING` name (0 for names not remembered).
pub fn encoding_code(name: &str) -> u8 {
    ENCODINGS
        .iter()
        .position(|e| *e == name)
        .map_or(0, |i| i as u8 + 1)
}

/// The encoding name of a code from [`encoding_code`].
pub fn encoding_name(code: u8) -> Option<&'static str> {
    ENCODINGS.get(usize::from(code).checked_sub(1)?).copied()
}

/// What a record holds besides the value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordMeta {
    /// Encoding code ([`encoding_code`]).
    pub encoding: u8,
    /// The entry's LRU/LFU access value.
    pub access: u32,
}

/// Encodes a value into its stored record.
pub fn encode(v: &RdbValue, meta: RecordMeta) -> Vec<u8> {
    if let Some(kind) = plain_kind(v) {
        let mut out = Vec::with_capacity(HEADER + plain_size_hint(v));
        out.push(tag_of(v) | TAG_PLAIN);
        out.push(meta.encoding);
        out.extend_from_slice(&meta.access.to_be_bytes());
        if ferrokv_engine_disk::encode_collection_into(v, &mut out).is_ok_and(|k| k == kind) {
            return out;
        }
    }
    let payload;
    let body: &[u8] = match v {
        RdbValue::String(s) => s,
        other => {
            // Uncompressed: the engine's blocks are LZ4-compressed already, and LZF on every
            // write-back of a listpack was a quarter of ZADD's CPU.
            payload = ferrokv_rdb::dump_value_uncompressed(other);
            &payload
        }
    };
    let mut out = Vec::with_capacity(body.len() + HEADER);
    out.push(tag_of(v));
    out.push(meta.encoding);
    out.extend_from_slice(&meta.access.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// The record of a list (compact encoding: stored as a record), written straight from its
/// elements: the bytes [`encode`] gives for the same `RdbValue::List`, without copying every
/// element into one first. `n`: the element count; `bytes`: about the elements' total size.
pub fn encode_list<'a>(
    n: usize,
    bytes: usize,
    items: impl Iterator<Item = &'a [u8]>,
    meta: RecordMeta,
) -> RdbValue {
    let mut out = Vec::with_capacity(HEADER + 10 + bytes + 2 * n);
    out.extend_from_slice(&[TAG_LIST | TAG_PLAIN, meta.encoding]);
    out.extend_from_slice(&meta.access.to_be_bytes());
    ferrokv_engine_disk::put_collection_len(&mut out, n);
    for it in items {
        ferrokv_engine_disk::put_collection_element(&mut out, it);
    }
    RdbValue::String(out)
}

/// The record of a sorted set (compact encoding), as [`encode_list`]; `each` calls its
/// argument once per (member, score) in order. `None` for a NaN score (never in memory).
pub fn encode_zset(
    n: usize,
    each: impl FnOnce(&mut dyn FnMut(&[u8], f64)),
    meta: RecordMeta,
) -> Option<RdbValue> {
    let mut out = Vec::with_capacity(HEADER + 10 + 24 * n);
    out.extend_from_slice(&[TAG_ZSET | TAG_PLAIN, meta.encoding]);
    out.extend_from_slice(&meta.access.to_be_bytes());
    ferrokv_engine_disk::put_collection_len(&mut out, n);
    let mut ok = true;
    each(&mut |m, sc| {
        ok &= ferrokv_engine_disk::put_collection_scored(&mut out, m, sc).is_ok();
    });
    ok.then_some(RdbValue::String(out))
}

/// The engine type of a collection stored with [`TAG_PLAIN`] (lists, sets, sorted sets and
/// hashes; `None` for strings and streams).
fn plain_kind(v: &RdbValue) -> Option<KeyType> {
    match v {
        RdbValue::List(_) => Some(KeyType::List),
        RdbValue::Set(_) => Some(KeyType::Set),
        RdbValue::ZSet(_) => Some(KeyType::ZSet),
        RdbValue::Hash(_) => Some(KeyType::Hash),
        RdbValue::String(_) | RdbValue::Stream(_) => None,
    }
}

/// About the size of `v` in the plain encoding (one allocation for typical values).
fn plain_size_hint(v: &RdbValue) -> usize {
    match v {
        RdbValue::List(xs) | RdbValue::Set(xs) => xs.iter().map(|x| x.len() + 2).sum::<usize>() + 4,
        RdbValue::ZSet(ps) => ps.iter().map(|(m, _)| m.len() + 10).sum::<usize>() + 4,
        RdbValue::Hash(fs) => {
            fs.iter()
                .map(|f| f.field.len() + f.value.len() + 5)
                .sum::<usize>()
                + 4
        }
        RdbValue::String(_) | RdbValue::Stream(_) => 0,
    }
}

/// Decodes a stored record.
pub fn decode(rec: &[u8]) -> Result<RdbValue, String> {
    decode_with_meta(rec).map(|(v, _)| v)
}

/// Decodes a stored record and what it says besides the value.
pub fn decode_with_meta(rec: &[u8]) -> Result<(RdbValue, RecordMeta), String> {
    let (Some(&tag), Some(&encoding), Some(access), Some(body)) = (
        rec.first(),
        rec.get(1),
        rec.get(2..HEADER),
        rec.get(HEADER..),
    ) else {
        return Err("corrupt value in the disk store: short record".into());
    };
    let mut a = [0u8; 4];
    a.copy_from_slice(access);
    let meta = RecordMeta {
        encoding,
        access: u32::from_be_bytes(a),
    };
    let v = if tag == TAG_STRING {
        RdbValue::String(body.to_vec())
    } else if tag & TAG_PLAIN != 0 {
        let kind = match tag & !TAG_PLAIN {
            TAG_LIST => KeyType::List,
            TAG_SET => KeyType::Set,
            TAG_ZSET => KeyType::ZSet,
            TAG_HASH => KeyType::Hash,
            _ => return Err("corrupt value in the disk store: bad record tag".into()),
        };
        ferrokv_engine_disk::decode_collection(kind, body)
            .map_err(|e| format!("corrupt value in the disk store: {e}"))?
    } else {
        ferrokv_rdb::restore_value(body)
            .map_err(|e| format!("corrupt value in the disk store: {e}"))?
    };
    Ok((v, meta))
}

fn storage(e: DiskError) -> String {
    format!("disk engine error: {e}")
}

/// A loaded key: value, expiry, and the record's extra data.
pub type Loaded = (RdbValue, Option<i64>, RecordMeta);

/// The access value of a field-level key (not stored): the loader gives the entry a fresh one.
/// Never a real value (those fit in 24 bits).
pub const ACCESS_FRESH: u32 = u32::MAX;

/// The big in-memory encoding a field-level collection of type `kind` is rebuilt with.
pub fn big_encoding(kind: KeyType) -> &'static str {
    match kind {
        KeyType::String => "raw",
        KeyType::List => "quicklist",
        KeyType::Set | KeyType::Hash => "hashtable",
        KeyType::ZSet => "skiplist",
        // The server keeps streams in the one-record format; a field-level stream (the engine
        // supports them) would come back in the only stream encoding there is.
        KeyType::Stream => "stream",
    }
}

/// Whether a value in the in-memory encoding `name` is stored field-level (see the module
/// docs): the big collection encodings.
pub fn is_field_level_encoding(name: &str) -> bool {
    matches!(name, "hashtable" | "skiplist" | "quicklist")
}

/// Compact (`listpack`) sorted sets with at least this many members are stored field-level
/// with the engine's *compact* flag (`KeyWrite::PutCompact`) instead of as one record, so that
/// ZADD/ZINCRBY/ZREM on them are native O(log N) writes of a few records instead of a
/// rewrite of the whole record (docs/disk-engine.md §6.1, "Compact collections
/// field-level"). Above the default `zset-max-listpack-entries` (128): measured, a native
/// ZADD (4 point reads, 3 records) costs more CPU than rewriting the cached record of a set
/// of up to 128 members (bound 1: -40% ZADD per CPU-second in the bench, bound 64: -10%), so
/// this only serves sets kept compact by raised limits.
pub const COMPACT_ZSET_FIELDS_MIN: usize = 256;

/// The same bound for compact (`listpack`) lists: LPUSH/RPUSH/LPOP/RPOP on them are native
/// (the metadata carries the listpack's byte size, so a push decides the conversion to
/// `quicklist` exactly as the memory engine does). 1 (every list): measured better than 16
/// and than records (a list record is up to 8 KB, rewritten by every push).
pub const COMPACT_LIST_FIELDS_MIN: usize = 1;

/// Whether a collection of type `kind` in the in-memory encoding `encoding` with `len`
/// elements is stored field-level *with the compact flag* (see [`COMPACT_ZSET_FIELDS_MIN`],
/// [`COMPACT_LIST_FIELDS_MIN`]): `listpack` sorted sets and lists; hashes and sets stay
/// records (their bench keys are one-field `hashtable` hashes; not measured yet for small
/// ones).
pub fn is_compact_fields(kind: KeyType, encoding: &str, len: usize) -> bool {
    let (zset, list) = compact_bounds();
    encoding == "listpack"
        && match kind {
            KeyType::ZSet => len >= zset,
            KeyType::List => len >= list,
            _ => false,
        }
}

/// ([`COMPACT_ZSET_FIELDS_MIN`], [`COMPACT_LIST_FIELDS_MIN`]), or the values of the
/// environment variables `FERROKV_DISK_COMPACT_ZSET_MIN` / `FERROKV_DISK_COMPACT_LIST_MIN`
/// read once at first use: a benchmark knob to measure other bounds with one binary (any
/// bound is correct: it only chooses between two exact layouts).
fn compact_bounds() -> (usize, usize) {
    static B: std::sync::OnceLock<(usize, usize)> = std::sync::OnceLock::new();
    *B.get_or_init(|| {
        let env = |name: &str, dflt: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(dflt)
        };
        (
            env("FERROKV_DISK_COMPACT_ZSET_MIN", COMPACT_ZSET_FIELDS_MIN),
            env("FERROKV_DISK_COMPACT_LIST_MIN", COMPACT_LIST_FIELDS_MIN),
        )
    })
}

/// How a value is stored at write-back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// One record (string layout).
    Record,
    /// Field-level, big encoding.
    Fields,
    /// Field-level with the compact flag (the in-memory encoding is `listpack`).
    Compact,
}

/// How `v` with `meta` is stored (see [`Stored`]).
pub fn stored_as(v: &RdbValue, meta: RecordMeta) -> Stored {
    let name = encoding_name(meta.encoding);
    match v {
        RdbValue::String(_) | RdbValue::Stream(_) => Stored::Record,
        _ if name.is_some_and(is_field_level_encoding) => Stored::Fields,
        RdbValue::ZSet(z) if name.is_some_and(|n| is_compact_fields(KeyType::ZSet, n, z.len())) => {
            Stored::Compact
        }
        RdbValue::List(l) if name.is_some_and(|n| is_compact_fields(KeyType::List, n, l.len())) => {
            Stored::Compact
        }
        _ => Stored::Record,
    }
}

/// How a key was stored when a unit loaded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// No such key.
    Missing,
    /// One record (string, compact collection, stream).
    Record,
    /// Field-level collection.
    Fields,
    /// Field-level collection represented in the shard by a one-element *stand-in* of the same
    /// type and expiry (commands that only read or change a key's existence, type or TTL, and
    /// expired keys): the end of the unit writes back at most its deletion or its new expiry,
    /// never the stand-in's value.
    Proxy,
}

/// What one metadata read tells about a key: its metadata and, in the string layout (records),
/// the stored record itself.
pub type MetaRead = ferrokv_engine_disk::KeyRead;

/// The metadata of a key, expired or not (`None`: no such key), with its record when it is
/// stored as one ([`MetaRead`]). One point read: [`load_known`] then needs no other read for a
/// record-layout key.
pub fn key_meta(eng: &DiskEngine, db: u16, key: &[u8]) -> Result<Option<MetaRead>, String> {
    eng.key_meta_and_string(db, key, NO_EXPIRY_CLOCK)
        .map_err(storage)
}

/// [`key_meta`], with a [`MetaToken`] of the read when `token` is set (and the engine gives
/// one: not for keys with an expiry), for [`apply_known`].
pub fn key_meta_tok(
    eng: &DiskEngine,
    db: u16,
    key: &[u8],
    token: bool,
) -> Result<(Option<MetaRead>, Option<MetaToken>), String> {
    if token {
        eng.key_meta_with_token(db, key, NO_EXPIRY_CLOCK)
            .map_err(storage)
    } else {
        key_meta(eng, db, key).map(|r| (r, None))
    }
}

/// A one-element value of type `kind`: the stand-in of an [`Origin::Proxy`] key.
pub fn stand_in(kind: KeyType) -> RdbValue {
    let x = b"x".to_vec();
    match kind {
        KeyType::String => RdbValue::String(x),
        KeyType::List => RdbValue::List(vec![x]),
        KeyType::Set => RdbValue::Set(vec![x]),
        KeyType::ZSet => RdbValue::ZSet(vec![(x, 0.0)]),
        KeyType::Hash => RdbValue::Hash(vec![ferrokv_rdb::HashField {
            field: x.clone(),
            value: x,
            expire_ms: None,
        }]),
        KeyType::Stream => RdbValue::Stream(Box::default()),
    }
}

/// The value and expiry of `key` in `db`, expired or not (`None`: no such key), and how it is
/// stored.
pub fn load_with_origin(
    eng: &DiskEngine,
    db: u16,
    key: &[u8],
) -> Result<(Option<Loaded>, Origin), String> {
    let Some(read) = key_meta(eng, db, key)? else {
        return Ok((None, Origin::Missing));
    };
    load_known(eng, db, key, read)
}

/// [`load_with_origin`] for a key whose metadata (and record) the caller just read with
/// [`key_meta`] while holding the key's shard lock: a record-layout key costs no other read.
pub fn load_known(
    eng: &DiskEngine,
    db: u16,
    key: &[u8],
    (km, record): MetaRead,
) -> Result<(Option<Loaded>, Origin), String> {
    if km.layout == Layout::String {
        let rec = match record {
            Some(r) => r,
            None => match load_raw(eng, db, key)? {
                Some(r) => r,
                None => return Ok((None, Origin::Missing)),
            },
        };
        let (v, meta) = decode_with_meta(&rec)?;
        return Ok((Some((v, km.expire_ms, meta)), Origin::Record));
    }
    let Some((v, exp)) = eng.load_value(db, key, NO_EXPIRY_CLOCK).map_err(storage)? else {
        return Ok((None, Origin::Missing));
    };
    let encoding = if km.layout == Layout::Fields && km.compact {
        encoding_code("listpack")
    } else if km.layout == Layout::Fields {
        encoding_code(big_encoding(km.kind))
    } else {
        0
    };
    let meta = RecordMeta {
        encoding,
        access: ACCESS_FRESH,
    };
    Ok((Some((v, exp, meta)), Origin::Fields))
}

/// The value and expiry of `key` in `db`, expired or not (`None`: no such key).
pub fn load(eng: &DiskEngine, db: u16, key: &[u8]) -> Result<Option<Loaded>, String> {
    load_with_origin(eng, db, key).map(|(l, _)| l)
}

/// The stored record of a key in the record layout, expired or not (`None` for a missing or
/// field-level key).
pub fn load_raw(eng: &DiskEngine, db: u16, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
    match eng.get(db, key, NO_EXPIRY_CLOCK) {
        Ok(v) => Ok(v),
        Err(DiskError::WrongType) => Ok(None),
        Err(e) => Err(storage(e)),
    }
}

/// The Redis type name of a stored key (TYPE, SCAN ... TYPE), expired or not.
pub fn type_name(eng: &DiskEngine, db: u16, key: &[u8]) -> Result<Option<&'static str>, String> {
    let Some(km) = eng.key_meta(db, key, NO_EXPIRY_CLOCK).map_err(storage)? else {
        return Ok(None);
    };
    if km.layout != Layout::String {
        return Ok(Some(km.kind.name()));
    }
    Ok(load_raw(eng, db, key)?.map(|r| type_name_of_record(&r)))
}

/// One key of a write-back: what [`apply`] turns into a `KeyWrite`.
pub enum Write {
    /// Store the value (layout from the in-memory encoding in `meta`).
    Put {
        /// Database.
        db: u16,
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: RdbValue,
        /// Absolute expiry, unix ms.
        expire_ms: Option<i64>,
        /// Encoding and access of the entry.
        meta: RecordMeta,
    },
    /// Store a record already encoded from the in-memory value ([`encode_list`],
    /// [`encode_zset`]: compact lists and sorted sets, without the intermediate `RdbValue`).
    Record {
        /// Database.
        db: u16,
        /// The key.
        key: Vec<u8>,
        /// The encoded record, as an `RdbValue::String` (how the engine stores records).
        rec: RdbValue,
        /// Absolute expiry, unix ms.
        expire_ms: Option<i64>,
    },
    /// Change only the expiry of the key (a field-level key the unit did not load).
    Expire {
        /// Database.
        db: u16,
        /// The key.
        key: Vec<u8>,
        /// Absolute expiry, unix ms.
        expire_ms: Option<i64>,
    },
    /// Delete the key.
    Delete {
        /// Database.
        db: u16,
        /// The key.
        key: Vec<u8>,
    },
}

/// Writes `writes` as ONE engine batch (atomic and durable together). A collection in a big
/// encoding goes field-level, everything else as one record.
pub fn apply(eng: &DiskEngine, writes: &[Write], now_ms: i64) -> Result<(), String> {
    apply_known(eng, writes, now_ms, &[])
}

/// [`apply`] where `known` holds the metadata reads of some keys ((db, key, token) from
/// [`key_meta_tok`]) made under the shard locks the caller still holds, with no write to those
/// keys since: the engine does not read their metadata again (`DiskEngine::apply_known`).
pub fn apply_known(
    eng: &DiskEngine,
    writes: &[Write],
    now_ms: i64,
    known: &[(u32, bytes::Bytes, MetaToken)],
) -> Result<(), String> {
    apply_tokened(eng, writes, now_ms, known).map(|_| ())
}

/// [`apply_known`] that also returns, per write, the engine's [`MetaToken`] of the state the
/// batch left the key in (`DiskEngine::apply_tokened`: `Some` for a `Put` or `Delete` whose
/// key ends without an expiry). The hot-object cache keeps it beside a resident record-layout
/// key, so that the key's next write-back reads no metadata.
pub fn apply_tokened(
    eng: &DiskEngine,
    writes: &[Write],
    now_ms: i64,
    known: &[(u32, bytes::Bytes, MetaToken)],
) -> Result<Vec<Option<MetaToken>>, String> {
    apply_unit(eng, writes, &[], &[], now_ms, known)
}

/// Element operations a native write command staged inside a multi-command unit (MULTI/EXEC,
/// a script) instead of committing them (`native.rs`): written with the unit's one batch.
/// Never empties the key (such a command takes the load path), so the key's existence, type
/// and expiry on disk stay true until the unit ends.
#[derive(Clone, Debug)]
pub enum Pending {
    /// HSET / HINCRBY pairs, or HDEL fields.
    Hash {
        /// (field, value) pairs to set.
        set: Vec<(Vec<u8>, Vec<u8>)>,
        /// Fields to delete.
        del: Vec<Vec<u8>>,
    },
    /// SADD / SREM members.
    Set {
        /// Members to add.
        add: Vec<Vec<u8>>,
        /// Members to remove.
        rem: Vec<Vec<u8>>,
    },
    /// ZADD / ZINCRBY scores, or ZREM members.
    ZSet {
        /// (score, member) pairs to add or rescore.
        set: Vec<(f64, Vec<u8>)>,
        /// Members to remove.
        rem: Vec<Vec<u8>>,
    },
    /// LPUSH / RPUSH values (`left`: at the head, in LPUSH order) or LPOP / RPOP count.
    List {
        /// Head (true) or tail.
        left: bool,
        /// Elements popped.
        pop: u64,
        /// Values pushed.
        push: Vec<Vec<u8>>,
    },
}

/// What [`Pending`] says about one element of its key: `Some(present)` when an operation of the
/// unit decided it, `None` when the stored state does.
pub type Overlay<T> = Option<Option<T>>;

fn drop_from(v: &mut Vec<Vec<u8>>, x: &[u8]) {
    v.retain(|e| e != x);
}

impl Pending {
    /// Folds `next` (operations of a later command of the unit on the same key) into these,
    /// in order. Returns `false` (nothing changed) for lists and for operations of another
    /// type: the caller then takes the load path.
    pub fn merge(&mut self, next: Pending) -> bool {
        match (self, next) {
            (Pending::Hash { set, del }, Pending::Hash { set: s2, del: d2 }) => {
                for f in d2 {
                    set.retain(|(k, _)| *k != f);
                    if !del.contains(&f) {
                        del.push(f);
                    }
                }
                for (f, v) in s2 {
                    drop_from(del, &f);
                    match set.iter_mut().find(|(k, _)| *k == f) {
                        Some(e) => e.1 = v,
                        None => set.push((f, v)),
                    }
                }
                true
            }
            (Pending::Set { add, rem }, Pending::Set { add: a2, rem: r2 }) => {
                for m in r2 {
                    drop_from(add, &m);
                    if !rem.contains(&m) {
                        rem.push(m);
                    }
                }
                for m in a2 {
                    drop_from(rem, &m);
                    if !add.contains(&m) {
                        add.push(m);
                    }
                }
                true
            }
            (Pending::ZSet { set, rem }, Pending::ZSet { set: s2, rem: r2 }) => {
                for m in r2 {
                    set.retain(|(_, k)| *k != m);
                    if !rem.contains(&m) {
                        rem.push(m);
                    }
                }
                for (sc, m) in s2 {
                    drop_from(rem, &m);
                    match set.iter_mut().find(|(_, k)| *k == m) {
                        Some(e) => e.0 = sc,
                        None => set.push((sc, m)),
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// The value of hash field `f` as these operations leave it (see [`Overlay`]).
    pub fn field(&self, f: &[u8]) -> Overlay<&[u8]> {
        match self {
            Pending::Hash { set, del } => match set.iter().find(|(k, _)| k == f) {
                Some((_, v)) => Some(Some(v)),
                None => del.iter().any(|k| k == f).then_some(None),
            },
            _ => None,
        }
    }

    /// Whether set member `m` is present after these operations (see [`Overlay`]).
    pub fn member(&self, m: &[u8]) -> Option<bool> {
        match self {
            Pending::Set { add, rem } if add.iter().any(|k| k == m) => Some(true),
            Pending::Set { rem, .. } if rem.iter().any(|k| k == m) => Some(false),
            _ => None,
        }
    }

    /// The score of sorted-set member `m` after these operations (see [`Overlay`]).
    pub fn score(&self, m: &[u8]) -> Overlay<f64> {
        match self {
            Pending::ZSet { set, rem } => match set.iter().find(|(_, k)| k == m) {
                Some((sc, _)) => Some(Some(*sc)),
                None => rem.iter().any(|k| k == m).then_some(None),
            },
            _ => None,
        }
    }

    /// The engine's view of these operations.
    pub fn delta(&self) -> ElemDelta<'_> {
        fn refs(v: &[Vec<u8>]) -> Vec<&[u8]> {
            v.iter().map(Vec::as_slice).collect()
        }
        match self {
            Pending::Hash { set, del } => ElemDelta::Hash {
                set: set.iter().map(|(f, v)| (&f[..], &v[..])).collect(),
                del: refs(del),
            },
            Pending::Set { add, rem } => ElemDelta::Set {
                add: refs(add),
                rem: refs(rem),
            },
            Pending::ZSet { set, rem } => ElemDelta::ZSet {
                set: set.iter().map(|(sc, m)| (*sc, &m[..])).collect(),
                rem: refs(rem),
            },
            Pending::List { left, pop, push } => ElemDelta::List {
                pop_left: if *left { *pop } else { 0 },
                pop_right: if *left { 0 } else { *pop },
                push_left: if *left { refs(push) } else { Vec::new() },
                push_right: if *left { Vec::new() } else { refs(push) },
            },
        }
    }
}

/// A key with [`Pending`] operations at the end of its unit.
pub struct StagedWrite<'a> {
    /// Database.
    pub db: u16,
    /// The key.
    pub key: &'a [u8],
    /// The staged operations.
    pub delta: ElemDelta<'a>,
    /// The key's expiry on disk when they were staged (kept unless the unit changed it).
    pub expire_ms: Option<i64>,
}

/// A field-level key that a unit loaded and changed, written back as the difference between
/// the value it loaded and the value it ends with ([`apply_unit`]).
pub struct DeltaWrite<'a> {
    /// Database.
    pub db: u16,
    /// The key.
    pub key: &'a [u8],
    /// The value and expiry the unit loaded (`None`: unknown, the value is rewritten).
    pub old: Option<&'a (RdbValue, Option<i64>)>,
    /// The value the unit ends with.
    pub new: &'a RdbValue,
    /// Its absolute expiry, unix ms.
    pub expire_ms: Option<i64>,
    /// Encoding and access of the entry (used when the difference cannot be written as
    /// element operations and the key is rewritten).
    pub meta: RecordMeta,
}

/// The whole write-back of a unit as ONE engine batch (one journal entry, so a crash never
/// leaves it half applied): `writes` as in [`apply_tokened`], `deltas` as element operations
/// (`KeyWrite::Delta`, O(changed elements)), or, when their difference has no element form
/// ([`elem_delta`]), as a rewrite of the whole key, and `staged` as their element operations:
/// an `Expire` write of a staged key (the unit changed the expiry of its stand-in) becomes its
/// delta with that expiry, a `Delete` of it drops them. The first tokens returned are those of
/// `writes`, in order.
pub fn apply_unit(
    eng: &DiskEngine,
    writes: &[Write],
    deltas: &[DeltaWrite<'_>],
    staged: &[StagedWrite<'_>],
    now_ms: i64,
    known: &[(u32, bytes::Bytes, MetaToken)],
) -> Result<Vec<Option<MetaToken>>, String> {
    if writes.is_empty() && deltas.is_empty() && staged.is_empty() {
        return Ok(Vec::new());
    }
    let staged_of = |db: u16, key: &[u8]| staged.iter().position(|s| s.db == db && s.key == key);
    // A staged key that the unit also rewrites whole (it loaded the key, which folded the
    // staged operations into the value, or deleted and recreated it) keeps only that write.
    let mut staged_done: Vec<bool> = staged
        .iter()
        .map(|s| {
            deltas.iter().any(|d| d.db == s.db && d.key == s.key)
                || writes.iter().any(|w| {
                    matches!(w, Write::Put { db, key, .. } | Write::Record { db, key, .. }
                        if *db == s.db && key[..] == *s.key)
                })
        })
        .collect();
    // The record form of values stored as records (owned here so the batch can borrow them).
    let records: Vec<Option<RdbValue>> = writes
        .iter()
        .map(|w| match w {
            Write::Put { value, meta, .. } => record_form(value, *meta),
            _ => None,
        })
        .collect();
    let elems: Vec<Option<ElemDelta<'_>>> = deltas
        .iter()
        .map(|d| d.old.and_then(|o| elem_delta(o, d.new)))
        .collect();
    let rewrites: Vec<Option<RdbValue>> = deltas
        .iter()
        .zip(&elems)
        .map(|(d, e)| match e {
            Some(_) => None,
            None => record_form(d.new, d.meta),
        })
        .collect();
    let mut batch: Vec<KeyWrite<'_>> = writes
        .iter()
        .zip(&records)
        .map(|(w, rec)| match w {
            Write::Put {
                db,
                key,
                value,
                expire_ms,
                meta,
            } if rec.is_none() && stored_as(value, *meta) == Stored::Compact => {
                KeyWrite::PutCompact {
                    db: *db,
                    key,
                    value,
                    expire_ms: *expire_ms,
                }
            }
            Write::Put {
                db,
                key,
                value,
                expire_ms,
                ..
            } => KeyWrite::Put {
                db: *db,
                key,
                value: rec.as_ref().unwrap_or(value),
                expire_ms: *expire_ms,
                inline: rec.is_some(),
            },
            Write::Record {
                db,
                key,
                rec,
                expire_ms,
            } => KeyWrite::Put {
                db: *db,
                key,
                value: rec,
                expire_ms: *expire_ms,
                inline: true,
            },
            Write::Expire { db, key, expire_ms } => match staged_of(*db, key) {
                Some(i) => {
                    staged_done[i] = true;
                    KeyWrite::Delta {
                        db: *db,
                        key,
                        delta: &staged[i].delta,
                        expire_ms: *expire_ms,
                    }
                }
                None => KeyWrite::Expire {
                    db: *db,
                    key,
                    expire_ms: *expire_ms,
                },
            },
            Write::Delete { db, key } => {
                if let Some(i) = staged_of(*db, key) {
                    staged_done[i] = true;
                }
                KeyWrite::Delete { db: *db, key }
            }
        })
        .collect();
    batch.extend(
        staged
            .iter()
            .zip(&staged_done)
            .filter(|(_, done)| !**done)
            .map(|(s, _)| KeyWrite::Delta {
                db: s.db,
                key: s.key,
                delta: &s.delta,
                expire_ms: s.expire_ms,
            }),
    );
    // A loaded key whose elements and expiry did not change (e.g. HSET of a field to its
    // current value) costs no write, not even a metadata read.
    let unchanged = |d: &DeltaWrite<'_>, e: &Option<ElemDelta<'_>>| {
        e.as_ref().is_some_and(ElemDelta::is_empty) && d.old.is_some_and(|o| o.1 == d.expire_ms)
    };
    batch.extend(
        deltas
            .iter()
            .zip(elems.iter().zip(&rewrites))
            .filter(|(d, (e, _))| !unchanged(d, e))
            .map(|(d, (e, rec))| match e {
                Some(delta) => KeyWrite::Delta {
                    db: d.db,
                    key: d.key,
                    delta,
                    expire_ms: d.expire_ms,
                },
                None if rec.is_none() && stored_as(d.new, d.meta) == Stored::Compact => {
                    KeyWrite::PutCompact {
                        db: d.db,
                        key: d.key,
                        value: d.new,
                        expire_ms: d.expire_ms,
                    }
                }
                None => KeyWrite::Put {
                    db: d.db,
                    key: d.key,
                    value: rec.as_ref().unwrap_or(d.new),
                    expire_ms: d.expire_ms,
                    inline: rec.is_some(),
                },
            }),
    );
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    eng.apply_tokened(&batch, now_ms, |db, key| {
        known
            .iter()
            .find(|(d, k, _)| *d == u32::from(db) && k[..] == *key)
            .map(|(_, _, t)| t)
    })
    .map_err(storage)
}

/// The one-record form of `v` when `meta` does not store it field-level.
fn record_form(v: &RdbValue, meta: RecordMeta) -> Option<RdbValue> {
    (!field_level(v, meta)).then(|| RdbValue::String(encode(v, meta)))
}

/// Whether `v` with `meta` is stored field-level (big encodings, and compact ones stored with
/// the compact flag, [`stored_as`]).
fn field_level(v: &RdbValue, meta: RecordMeta) -> bool {
    stored_as(v, meta) != Stored::Record
}

/// What [`zset_delta`] returns: (score, member) pairs to add or rescore, members to remove.
type ZsetDelta<'a> = (Vec<(f64, &'a [u8])>, Vec<&'a [u8]>);

/// The element delta of a sorted set, `(members to add or rescore, members to remove)`, by
/// one merge walk over both member lists in (score, member) order, the order both the
/// in-memory skiplist and a field-level load give: O(N) comparisons and no hashing (building
/// two hash tables of every member was most of a ZADD's write-back on a few hundred members).
/// Correct whatever the order: a pair is skipped only when both lists hold it (same member,
/// same score bits), every other element of `new` is (re)added, and an element of `old` not
/// matched is removed unless its member is (re)added; out-of-order input only costs extra
/// idempotent writes.
fn zset_delta<'a>(old: &'a [(Vec<u8>, f64)], new: &'a [(Vec<u8>, f64)]) -> ZsetDelta<'a> {
    use std::cmp::Ordering;
    let (mut i, mut j) = (0, 0);
    let mut set: Vec<(f64, &[u8])> = Vec::new();
    let mut unmatched: Vec<&[u8]> = Vec::new();
    while i < old.len() && j < new.len() {
        let (ma, sa) = (&old[i].0, old[i].1);
        let (mb, sb) = (&new[j].0, new[j].1);
        if sa.to_bits() == sb.to_bits() && ma == mb {
            i += 1;
            j += 1;
            continue;
        }
        match sa.total_cmp(&sb).then_with(|| ma.cmp(mb)) {
            Ordering::Less => {
                unmatched.push(ma);
                i += 1;
            }
            _ => {
                set.push((sb, mb));
                j += 1;
            }
        }
    }
    unmatched.extend(old[i..].iter().map(|(m, _)| m.as_slice()));
    set.extend(new[j..].iter().map(|(m, s)| (*s, m.as_slice())));
    let gone = if set.is_empty() {
        unmatched
    } else {
        let added: std::collections::HashSet<&[u8]> = set.iter().map(|(_, m)| *m).collect();
        unmatched.retain(|m| !added.contains(m));
        unmatched
    };
    (set, gone)
}

/// The difference between `old` (the value and expiry a unit loaded from a field-level key)
/// and `new` (the value it ends with) as element operations, O(changed elements) to write
/// instead of rewriting the whole collection; the expiry is set by the caller. `None` when
/// there is no such form: different types, hash field TTLs, a list changed other than at
/// one end (pushes and pops at either end are written as such; a list changed in the middle,
/// or at both ends, is rewritten).
pub fn elem_delta<'a>(
    old: &'a (RdbValue, Option<i64>),
    new: &'a RdbValue,
) -> Option<ElemDelta<'a>> {
    use std::collections::{HashMap, HashSet};
    Some(match (&old.0, new) {
        (RdbValue::Hash(a), RdbValue::Hash(b)) => {
            if a.iter().chain(b).any(|f| f.expire_ms.is_some()) {
                return None;
            }
            let before: HashMap<&[u8], &[u8]> = a
                .iter()
                .map(|f| (f.field.as_slice(), f.value.as_slice()))
                .collect();
            let after: HashSet<&[u8]> = b.iter().map(|f| f.field.as_slice()).collect();
            let set: Vec<(&[u8], &[u8])> = b
                .iter()
                .filter(|f| before.get(f.field.as_slice()) != Some(&f.value.as_slice()))
                .map(|f| (f.field.as_slice(), f.value.as_slice()))
                .collect();
            let del: Vec<&[u8]> = before
                .keys()
                .filter(|f| !after.contains(*f))
                .copied()
                .collect();
            ElemDelta::Hash { set, del }
        }
        (RdbValue::Set(a), RdbValue::Set(b)) => {
            let before: HashSet<&[u8]> = a.iter().map(Vec::as_slice).collect();
            let after: HashSet<&[u8]> = b.iter().map(Vec::as_slice).collect();
            ElemDelta::Set {
                add: after.difference(&before).copied().collect(),
                rem: before.difference(&after).copied().collect(),
            }
        }
        (RdbValue::ZSet(a), RdbValue::ZSet(b)) => {
            let (set, rem) = zset_delta(a, b);
            ElemDelta::ZSet { set, rem }
        }
        (RdbValue::List(a), RdbValue::List(b)) => {
            let (na, nb) = (a.len(), b.len());
            let (mut pop_left, mut pop_right) = (0, 0);
            let (mut push_left, mut push_right) = (Vec::new(), Vec::new());
            if nb >= na && b[nb - na..] == a[..] {
                // LPUSH: the new head, pushed last element first.
                push_left = b[..nb - na].iter().rev().map(Vec::as_slice).collect();
            } else if nb >= na && b[..na] == a[..] {
                push_right = b[na..].iter().map(Vec::as_slice).collect();
            } else if nb > 0 && nb < na && a[na - nb..] == b[..] {
                pop_left = (na - nb) as u64;
            } else if nb > 0 && nb < na && a[..nb] == b[..] {
                pop_right = (na - nb) as u64;
            } else {
                return None;
            }
            ElemDelta::List {
                pop_left,
                pop_right,
                push_left,
                push_right,
            }
        }
        _ => return None,
    })
}

/// Writes `key` (replacing whatever it held) with its expiry.
pub fn put(
    eng: &DiskEngine,
    db: u16,
    key: &[u8],
    v: &RdbValue,
    expire_ms: Option<i64>,
    meta: RecordMeta,
    now_ms: i64,
) -> Result<(), String> {
    let w = Write::Put {
        db,
        key: key.to_vec(),
        value: v.clone(),
        expire_ms,
        meta,
    };
    apply(eng, std::slice::from_ref(&w), now_ms)
}

/// Deletes `key` (expired or not). O(1) for any size.
pub fn delete(eng: &DiskEngine, db: u16, key: &[u8]) -> Result<(), String> {
    eng.del(db, key, NO_EXPIRY_CLOCK)
        .map(|_| ())
        .map_err(storage)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrokv_rdb::HashField;

    #[test]
    fn records_round_trip_with_their_type() {
        let vals = vec![
            RdbValue::String(b"hello".to_vec()),
            RdbValue::String(Vec::new()),
            RdbValue::List(vec![b"a".to_vec(), b"b".to_vec()]),
            RdbValue::Set(vec![b"1".to_vec()]),
            RdbValue::ZSet(vec![(b"m".to_vec(), 1.5)]),
            RdbValue::Hash(vec![HashField {
                field: b"f".to_vec(),
                value: b"v".to_vec(),
                expire_ms: Some(123),
            }]),
        ];
        for v in vals {
            let meta = RecordMeta {
                encoding: encoding_code("hashtable"),
                access: 0xdead_beef,
            };
            let rec = encode(&v, meta);
            assert_eq!(type_name_of_record(&rec), v.type_name());
            let plain = !matches!(v, RdbValue::String(_));
            assert_eq!(rec[0] & TAG_PLAIN != 0, plain, "{v:?}");
            assert_eq!(decode_with_meta(&rec).unwrap(), (v.clone(), meta));
            // Records of the first format (DUMP payload after the bare tag) still read back.
            if plain {
                let mut old = vec![tag_of(&v), meta.encoding];
                old.extend_from_slice(&meta.access.to_be_bytes());
                old.extend_from_slice(&ferrokv_rdb::dump_value_uncompressed(&v));
                assert_eq!(type_name_of_record(&old), v.type_name());
                assert_eq!(decode_with_meta(&old).unwrap(), (v, meta));
                // A plain record cut short is an error, not a panic.
                assert!(decode(&rec[..rec.len() - 1]).is_err());
            }
        }
        // -0, infinities and an order that is not sorted survive a plain record.
        let z = RdbValue::ZSet(vec![
            (b"b".to_vec(), f64::INFINITY),
            (b"a".to_vec(), -0.0),
            (b"c".to_vec(), f64::NEG_INFINITY),
        ]);
        let RdbValue::ZSet(back) = decode(&encode(&z, RecordMeta::default())).unwrap() else {
            panic!("not a zset");
        };
        assert_eq!(back[1].1.to_bits(), (-0.0f64).to_bits());
        assert_eq!(RdbValue::ZSet(back), z);
        assert!(decode(&[]).is_err());
        assert_eq!(encoding_name(encoding_code("skiplist")), Some("skiplist"));
        assert_eq!(encoding_name(encoding_code("no-such-encoding")), None);
        assert_eq!(encoding_name(encoding_code("embstr")), Some("embstr"));
    }

    #[test]
    fn records_encoded_from_elements_equal_encode() {
        let meta = RecordMeta {
            encoding: encoding_code("listpack"),
            access: 7,
        };
        let items: Vec<Vec<u8>> = (0..200).map(|i| vec![b'x'; i]).collect();
        let direct = encode_list(items.len(), 0, items.iter().map(Vec::as_slice), meta);
        let list = RdbValue::List(items);
        assert_eq!(direct, RdbValue::String(encode(&list, meta)));
        let pairs = vec![(b"a".to_vec(), -0.0), (b"b".to_vec(), f64::INFINITY)];
        let direct = encode_zset(
            pairs.len(),
            |f| {
                for (m, sc) in &pairs {
                    f(m, *sc);
                }
            },
            meta,
        );
        let zset = RdbValue::ZSet(pairs.clone());
        assert_eq!(direct, Some(RdbValue::String(encode(&zset, meta))));
        assert_eq!(encode_zset(1, |f| f(b"m", f64::NAN), meta), None);
    }

    fn z(v: &[(&str, f64)]) -> Vec<(Vec<u8>, f64)> {
        v.iter().map(|(m, s)| (m.as_bytes().to_vec(), *s)).collect()
    }

    /// Applies a delta to `old` the way the engine would, as a map member -> score bits.
    fn applied(
        old: &[(Vec<u8>, f64)],
        d: &ZsetDelta<'_>,
    ) -> std::collections::BTreeMap<Vec<u8>, u64> {
        let mut m: std::collections::BTreeMap<Vec<u8>, u64> =
            old.iter().map(|(k, s)| (k.clone(), s.to_bits())).collect();
        for (s, k) in &d.0 {
            m.insert(k.to_vec(), s.to_bits());
        }
        for k in &d.1 {
            m.remove(*k);
        }
        m
    }

    fn b(x: &str) -> Vec<u8> {
        x.as_bytes().to_vec()
    }

    #[test]
    fn merged_pending_operations_read_and_apply_in_order() {
        let mut p = Pending::Hash {
            set: vec![(b("a"), b("1")), (b("b"), b("2"))],
            del: vec![b("x")],
        };
        assert!(p.merge(Pending::Hash {
            set: vec![(b("x"), b("3")), (b("a"), b("4"))],
            del: vec![b("b"), b("y")],
        }));
        assert_eq!(p.field(b"a"), Some(Some(&b"4"[..])));
        assert_eq!(p.field(b"x"), Some(Some(&b"3"[..])));
        assert_eq!(p.field(b"b"), Some(None));
        assert_eq!(p.field(b"y"), Some(None));
        assert_eq!(p.field(b"z"), None);
        let stored = RdbValue::Hash(
            ["b", "y", "z"]
                .iter()
                .map(|f| HashField {
                    field: b(f),
                    value: b("0"),
                    expire_ms: None,
                })
                .collect(),
        );
        let mut got: Vec<(Vec<u8>, Vec<u8>)> = match p.delta().apply_to(stored).unwrap() {
            RdbValue::Hash(f) => f.into_iter().map(|f| (f.field, f.value)).collect(),
            other => panic!("{other:?}"),
        };
        got.sort();
        assert_eq!(
            got,
            vec![(b("a"), b("4")), (b("x"), b("3")), (b("z"), b("0"))]
        );

        let mut s = Pending::Set {
            add: vec![b("q")],
            rem: vec![b("r")],
        };
        assert!(s.merge(Pending::Set {
            add: vec![b("r")],
            rem: vec![b("q")],
        }));
        assert_eq!(
            (s.member(b"q"), s.member(b"r"), s.member(b"t")),
            (Some(false), Some(true), None)
        );
        let mut z = Pending::ZSet {
            set: vec![(1.0, b("q"))],
            rem: Vec::new(),
        };
        assert!(z.merge(Pending::ZSet {
            set: vec![(2.5, b("q"))],
            rem: vec![b("w")],
        }));
        assert_eq!(
            (z.score(b"q"), z.score(b"w"), z.score(b"t")),
            (Some(Some(2.5)), Some(None), None)
        );
        let mut l = Pending::List {
            left: true,
            pop: 0,
            push: vec![b("a")],
        };
        assert!(!l.merge(Pending::List {
            left: true,
            pop: 1,
            push: Vec::new(),
        }));
        assert!(!z.merge(Pending::Set {
            add: Vec::new(),
            rem: Vec::new(),
        }));
    }

    #[test]
    fn zset_delta_is_exact_in_order_and_correct_out_of_order() {
        let old = z(&[("a", 0.0), ("b", 0.0), ("c", 1.0), ("d", 2.0)]);
        // Sorted input: only the changes.
        let new = z(&[("a", 0.0), ("bb", 0.0), ("c", 1.0), ("b", 5.0)]);
        let d = zset_delta(&old, &new);
        assert_eq!(d.0, vec![(0.0, &b"bb"[..]), (5.0, &b"b"[..])]);
        assert_eq!(d.1, vec![&b"d"[..]]);
        // Unchanged: nothing.
        let d = zset_delta(&old, &old);
        assert!(d.0.is_empty() && d.1.is_empty());
        // Whatever the order (or -0.0 / 0.0 ties), applying the delta gives `new`.
        let cases = [
            (old.clone(), z(&[("d", 2.0), ("c", 1.0), ("a", 0.0)])),
            (z(&[("x", -0.0), ("y", 0.0)]), z(&[("y", 0.0), ("x", 0.0)])),
            (old.clone(), Vec::new()),
            (Vec::new(), old.clone()),
            (
                z(&[("c", 1.0), ("a", 3.0), ("b", 2.0)]),
                z(&[("a", 1.0), ("c", 3.0)]),
            ),
        ];
        for (o, n) in cases {
            let d = zset_delta(&o, &n);
            let want: std::collections::BTreeMap<Vec<u8>, u64> =
                n.iter().map(|(k, s)| (k.clone(), s.to_bits())).collect();
            assert_eq!(applied(&o, &d), want, "{o:?} -> {n:?}");
        }
    }
}
