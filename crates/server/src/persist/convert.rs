//! Conversions between engine entries and the RDB crate's neutral [`RdbValue`].
//!
//! Saving copies an [`Entry`] into an `RdbValue` (skipping hash fields already expired at the
//! snapshot's time); loading and RESTORE build an engine [`Value`] from an `RdbValue`, encoded as
//! Redis would encode the same elements (listpack vs. big encodings follow the current
//! `*-max-listpack-*` limits).

use ferrokv_engine::hash::Hash;
use ferrokv_engine::list::List;
use ferrokv_engine::set::Set;
use ferrokv_engine::zset::ZSet;
use ferrokv_engine::{EncodingLimits, Entry, Value};
use ferrokv_rdb::{HashField, RdbValue};

/// Why a value could not be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConvertError {
    /// A type this build cannot hold yet (its name).
    Unsupported(&'static str),
    /// The value is inconsistent (duplicate members, empty collection...).
    Bad(&'static str),
}

impl std::fmt::Display for ConvertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConvertError::Unsupported(t) => write!(f, "unsupported type: {t}"),
            ConvertError::Bad(why) => write!(f, "bad value: {why}"),
        }
    }
}

/// The RDB form of an entry's value at `now_ms` (hash fields expired by then are left out).
/// `None` when nothing is left (a hash whose every field expired).
pub fn entry_to_rdb(e: &Entry, now_ms: i64) -> Option<RdbValue> {
    if e.kind().is_string() {
        return Some(RdbValue::String(e.str_value().to_vec()));
    }
    let v = match e.value()? {
        Value::List(l) => RdbValue::List(l.iter().map(<[u8]>::to_vec).collect()),
        Value::Hash(h) => {
            let mut fields = Vec::with_capacity(h.len());
            h.for_each(now_ms, |f, v, exp| {
                fields.push(HashField {
                    field: f.to_vec(),
                    value: v.to_vec(),
                    expire_ms: exp,
                })
            });
            RdbValue::Hash(fields)
        }
        Value::Set(s) => {
            let mut members = Vec::with_capacity(s.len());
            s.for_each_member(|m| members.push(m.to_vec()));
            RdbValue::Set(members)
        }
        Value::ZSet(z) => {
            let mut members = Vec::with_capacity(z.len());
            z.for_each(|m, score| members.push((m.to_vec(), score)));
            RdbValue::ZSet(members)
        }
    };
    if v.is_empty_collection() {
        return None;
    }
    Some(v)
}

/// Builds the entry for `key` from an RDB value. Hash fields whose TTL passed at `now_ms` are
/// dropped; `Ok(None)` when nothing is left of the value.
pub fn rdb_to_entry(
    key: &[u8],
    v: &RdbValue,
    expire_at: Option<i64>,
    access: u32,
    limits: &EncodingLimits,
    now_ms: i64,
) -> Result<Option<Entry>, ConvertError> {
    let value = match v {
        RdbValue::String(s) => return Ok(Some(Entry::new_string(key, s, expire_at, access))),
        RdbValue::List(items) => {
            if items.is_empty() {
                return Ok(None);
            }
            let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
            Value::List(List::from_items(&refs, limits.list_max_listpack_size))
        }
        RdbValue::Hash(fields) => {
            let mut h = Hash::new();
            if fields.iter().any(|f| f.expire_ms.is_some()) {
                h.enable_field_ttls();
            }
            for f in fields {
                if f.expire_ms.is_some_and(|t| t <= now_ms) {
                    continue;
                }
                if !h.set(&f.field, &f.value, false, limits) {
                    return Err(ConvertError::Bad("duplicate hash field"));
                }
                if f.expire_ms.is_some() {
                    h.set_expire(&f.field, f.expire_ms);
                }
            }
            if h.is_empty() {
                return Ok(None);
            }
            Value::Hash(h)
        }
        RdbValue::Set(members) => {
            let Some(first) = members.first() else {
                return Ok(None);
            };
            let mut set = Set::for_first(first, members.len(), limits);
            for m in members {
                if !set.add(m, limits) {
                    return Err(ConvertError::Bad("duplicate set member"));
                }
            }
            Value::Set(set)
        }
        RdbValue::ZSet(pairs) => {
            if pairs.is_empty() {
                return Ok(None);
            }
            let mut seen = std::collections::HashSet::with_capacity(pairs.len());
            for (m, score) in pairs {
                if score.is_nan() || !seen.insert(m.as_slice()) {
                    return Err(ConvertError::Bad(
                        "duplicate sorted set member or NaN score",
                    ));
                }
            }
            Value::ZSet(ZSet::from_pairs(pairs.clone(), limits))
        }
        RdbValue::Stream(_) => return Err(ConvertError::Unsupported("stream")),
    };
    Ok(Some(Entry::new_object(key, value, expire_at, access)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion
mod tests {
    use super::*;

    #[test]
    fn string_list_hash_round_trip() {
        let lim = EncodingLimits::default();
        let cases = vec![
            RdbValue::String(b"12345".to_vec()),
            RdbValue::String(vec![b'x'; 100]),
            RdbValue::List(vec![b"a".to_vec(), b"1".to_vec(), vec![b'z'; 9000]]),
            RdbValue::Set(vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]),
            RdbValue::ZSet(vec![(b"a".to_vec(), 1.0), (b"b".to_vec(), 2.5)]),
            RdbValue::Hash(vec![
                HashField {
                    field: b"f".to_vec(),
                    value: b"v".to_vec(),
                    expire_ms: None,
                },
                HashField {
                    field: b"g".to_vec(),
                    value: b"w".to_vec(),
                    expire_ms: Some(10_000_000_000_000),
                },
            ]),
        ];
        for v in cases {
            let e = rdb_to_entry(b"k", &v, Some(99), 0, &lim, 0)
                .unwrap()
                .unwrap();
            assert_eq!(e.expire_at(), Some(99));
            let mut back = entry_to_rdb(&e, 0).unwrap();
            // listpackex keeps fields with a TTL first (as Redis 7.4): compare as a set.
            if let (RdbValue::Hash(a), RdbValue::Hash(b)) = (&mut back, &v) {
                a.sort_by(|x, y| x.field.cmp(&y.field));
                let mut b = b.clone();
                b.sort_by(|x, y| x.field.cmp(&y.field));
                assert_eq!(*a, b);
                continue;
            }
            assert_eq!(back, v);
        }
    }

    #[test]
    fn expired_fields_dropped_and_empty_values_skipped() {
        let lim = EncodingLimits::default();
        let v = RdbValue::Hash(vec![HashField {
            field: b"f".to_vec(),
            value: b"v".to_vec(),
            expire_ms: Some(5),
        }]);
        assert!(rdb_to_entry(b"k", &v, None, 0, &lim, 10).unwrap().is_none());
        assert!(
            rdb_to_entry(b"k", &RdbValue::List(vec![]), None, 0, &lim, 0)
                .unwrap()
                .is_none()
        );
        let dup = RdbValue::Hash(vec![
            HashField {
                field: b"f".to_vec(),
                value: b"v".to_vec(),
                expire_ms: None,
            };
            2
        ]);
        assert!(rdb_to_entry(b"k", &dup, None, 0, &lim, 0).is_err());
    }
}
