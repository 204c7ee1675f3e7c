//! How the server keeps one key's value in the disk engine.
//!
//! Until the disk crate's object API (`key_meta` / `load_value` / `apply`) is available, each
//! key is stored as one disk-engine *string* record: a one-byte type tag, a one-byte encoding
//! code (so a value that Redis keeps in a big encoding after it shrank, e.g. a `hashtable`
//! hash with few fields, comes back with that encoding), the 4-byte LRU/LFU access value,
//! then the value: the raw bytes for a string, the DUMP payload (`ferrokv_rdb`) for a
//! collection. The record carries the key's expiry, so the engine's expiry index, SCAN,
//! key counting and active expiry work unchanged. Loading a collection is O(its size) (see
//! docs/disk-engine.md §6 for what the field-level layout will change).

use ferrokv_engine_disk::{DiskEngine, DiskError, Ttl};
use ferrokv_rdb::RdbValue;

/// Tag of a plain string.
const TAG_STRING: u8 = 0;
/// Tags of collections (the DUMP payload follows).
const TAG_LIST: u8 = 1;
const TAG_SET: u8 = 2;
const TAG_ZSET: u8 = 3;
const TAG_HASH: u8 = 4;
const TAG_STREAM: u8 = 5;

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
    match rec.first() {
        Some(&TAG_LIST) => "list",
        Some(&TAG_SET) => "set",
        Some(&TAG_ZSET) => "zset",
        Some(&TAG_HASH) => "hash",
        Some(&TAG_STREAM) => "stream",
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
    let payload;
    let body: &[u8] = match v {
        RdbValue::String(s) => s,
        other => {
            payload = ferrokv_rdb::dump_value(other);
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

/// The value and expiry of `key` in `db`, expired or not (`None`: no such key).
pub fn load(eng: &DiskEngine, db: u16, key: &[u8]) -> Result<Option<Loaded>, String> {
    let Some(rec) = load_raw(eng, db, key)? else {
        return Ok(None);
    };
    let exp = eng
        .expire_time(db, key, NO_EXPIRY_CLOCK)
        .map_err(storage)?
        .flatten();
    let (v, meta) = decode_with_meta(&rec)?;
    Ok(Some((v, exp, meta)))
}

/// The stored record of `key`, expired or not.
pub fn load_raw(eng: &DiskEngine, db: u16, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
    eng.get(db, key, NO_EXPIRY_CLOCK).map_err(storage)
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
    let ttl = match expire_ms {
        Some(t) => Ttl::At(t),
        None => Ttl::Persist,
    };
    eng.set(db, key, &encode(v, meta), ttl, now_ms)
        .map_err(storage)
}

/// Deletes `key` (expired or not).
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
            assert_eq!(decode_with_meta(&rec).unwrap(), (v, meta));
        }
        assert!(decode(&[]).is_err());
        assert_eq!(encoding_name(encoding_code("skiplist")), Some("skiplist"));
        assert_eq!(encoding_name(encoding_code("no-such-encoding")), None);
        assert_eq!(encoding_name(encoding_code("embstr")), Some("embstr"));
    }
}
