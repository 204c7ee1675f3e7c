//! How the server keeps one key's value in the disk engine.
//!
//! Until the disk crate's object API (`key_meta` / `load_value` / `apply`) is available, each
//! key is stored as one disk-engine *string* record whose bytes are a one-byte type tag
//! followed by the value: the raw bytes for a string, the DUMP payload (`ferrokv_rdb`) for a
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

/// Encodes a value into its stored record.
pub fn encode(v: &RdbValue) -> Vec<u8> {
    match v {
        RdbValue::String(s) => {
            let mut out = Vec::with_capacity(s.len() + 1);
            out.push(TAG_STRING);
            out.extend_from_slice(s);
            out
        }
        other => {
            let payload = ferrokv_rdb::dump_value(other);
            let mut out = Vec::with_capacity(payload.len() + 1);
            out.push(tag_of(other));
            out.extend_from_slice(&payload);
            out
        }
    }
}

/// Decodes a stored record.
pub fn decode(rec: &[u8]) -> Result<RdbValue, String> {
    match rec.split_first() {
        Some((&TAG_STRING, s)) => Ok(RdbValue::String(s.to_vec())),
        Some((_, payload)) => ferrokv_rdb::restore_value(payload)
            .map_err(|e| format!("corrupt value in the disk store: {e}")),
        None => Err("corrupt value in the disk store: empty record".into()),
    }
}

fn storage(e: DiskError) -> String {
    format!("disk engine error: {e}")
}

/// The value and expiry of `key` in `db`, expired or not (`None`: no such key).
pub fn load(
    eng: &DiskEngine,
    db: u16,
    key: &[u8],
) -> Result<Option<(RdbValue, Option<i64>)>, String> {
    let Some(rec) = load_raw(eng, db, key)? else {
        return Ok(None);
    };
    let exp = eng
        .expire_time(db, key, NO_EXPIRY_CLOCK)
        .map_err(storage)?
        .flatten();
    Ok(Some((decode(&rec)?, exp)))
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
    now_ms: i64,
) -> Result<(), String> {
    let ttl = match expire_ms {
        Some(t) => Ttl::At(t),
        None => Ttl::Persist,
    };
    eng.set(db, key, &encode(v), ttl, now_ms).map_err(storage)
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
            let rec = encode(&v);
            assert_eq!(type_name_of_record(&rec), v.type_name());
            assert_eq!(decode(&rec).unwrap(), v);
        }
        assert!(decode(&[]).is_err());
    }
}
