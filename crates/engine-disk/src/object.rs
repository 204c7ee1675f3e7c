//! Whole-value access for the server's "load, run the in-memory handler, write back" path:
//! [`DiskEngine::key_meta`], [`DiskEngine::load_value`] and the atomic multi-key
//! [`DiskEngine::apply`].
//!
//! A collection is stored either **inline** (one metadata record holding the whole value in the
//! encoding below, for small collections whose element order must survive exactly) or
//! **field-level** (one record per element, the layout of module `ops`). Strings always live in
//! their metadata record.
//!
//! Inline value encoding (the collection's type is the metadata's type byte; integers are
//! LEB128 varints, `bytes` = varint length + bytes):
//! - list, set: `count` then `count` × `bytes` (stored order);
//! - sorted set: `count` then `count` × (`bytes` member, score as f64 bits BE) (stored order,
//!   `-0.0` and infinities exact);
//! - hash: `count` then `count` × (`bytes` field, `bytes` value, `0` | `1` + expiry i64 BE).
//!
//! The RDB DUMP payload (crates/rdb) was the first candidate, but it is not order-exact: integer
//! sets become a (sorted) intset and hashes with field TTLs a listpack ordered by expiry. It also
//! costs a CRC-64 and LZF per access, which the LSM's own block compression makes redundant.

use crate::codec::{self, KeyType, Meta};
use crate::delta::ElemDelta;
use crate::ops::View;
use crate::{Batch, DiskEngine, DiskError, DiskSnapshot, Inner, Result};
use ferrokv_rdb::{HashField, RdbValue};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Where a key's value lives on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A string, held in its metadata record.
    String,
    /// A collection held whole in its metadata record (order-exact; every access is O(size)).
    Inline,
    /// A collection stored one record per element (element operations are O(log N)).
    Fields,
}

/// What a point read of a key's metadata says (no element is read).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyMeta {
    /// The value's type.
    pub kind: KeyType,
    /// How it is stored.
    pub layout: Layout,
    /// Absolute expiry, unix ms.
    pub expire_ms: Option<i64>,
    /// Element count of a collection (including hash fields whose TTL passed but that were not
    /// reclaimed yet, as Redis's HLEN); byte length of a string.
    pub len: u64,
    /// Some hash field may carry a TTL (conservative: set when a write stored one, cleared only
    /// when the key is rewritten without any).
    pub has_field_ttl: bool,
    /// A field-level collection the server keeps in a compact in-memory encoding (written by
    /// [`KeyWrite::PutCompact`]; cleared one-way by element writes that pass the server's
    /// limits, e.g. [`DiskEngine::zadd_ext`]). Always `false` for other layouts.
    pub compact: bool,
    /// A compact list: the byte size of its elements in a Redis listpack (header included),
    /// kept exact by every element write; 0 otherwise.
    pub listpack_bytes: u64,
}

/// What one read of a key's metadata record tells ([`DiskEngine::key_meta_and_string`]): the
/// metadata and, in the string layout, the stored bytes.
pub type KeyRead = (KeyMeta, Option<Vec<u8>>);

/// A key's metadata record as one read found it ([`DiskEngine::key_meta_with_token`]), so
/// that [`DiskEngine::apply_known`] can skip reading it again. Opaque.
#[derive(Clone, Debug)]
pub struct MetaToken {
    /// Physical database of the read.
    pdb: u32,
    /// The record as read, without its value (string bytes / inline blob: only the header
    /// is needed to overwrite or delete the key); `None`: the key was missing.
    meta: Option<Meta>,
}

impl MetaToken {
    /// The record of a live field-level collection of `kind` in physical database `pdb`, as
    /// the token's read found it (`None`: another database since, missing, inline, another
    /// type, or with an expiry): what an element write may use instead of reading it again.
    pub(crate) fn field_meta(&self, pdb: u32, kind: KeyType) -> Option<&Meta> {
        self.meta
            .as_ref()
            .filter(|m| self.pdb == pdb && m.kind == kind && !m.inline && m.expire.is_none())
    }

    /// The token of a key the batch deletes (or that stays missing).
    fn missing(pdb: u32) -> MetaToken {
        MetaToken { pdb, meta: None }
    }

    /// The token of `m`, the record a batch writes: without its value, as `meta_read`'s
    /// tokens (only the header counts); `None` for a key with an expiry (the expiry sweep may
    /// delete it without the caller's lock, so its state is never known).
    fn written(pdb: u32, mut m: Meta) -> Option<MetaToken> {
        if m.expire.is_some() {
            return None;
        }
        m.value = Vec::new();
        Some(MetaToken { pdb, meta: Some(m) })
    }
}

/// One key write of an atomic [`DiskEngine::apply`].
#[derive(Clone, Copy, Debug)]
pub enum KeyWrite<'a> {
    /// Replaces the key (whatever it held: a new incarnation for collections, old element
    /// records become garbage for the compaction filter) with `value`; `inline` = store as one
    /// blob record (the server passes true when the in-memory encoding is a compact one:
    /// listpack/intset/listpackex/embstr...), false = field-level records. Strings always use
    /// the string layout and streams the field-level one (`inline` is ignored for both); an
    /// empty collection deletes the key (Redis never keeps one; an empty stream is kept, as
    /// Redis keeps it).
    Put {
        /// Logical database.
        db: u16,
        /// The key.
        key: &'a [u8],
        /// The whole new value.
        value: &'a RdbValue,
        /// Absolute expiry, unix ms.
        expire_ms: Option<i64>,
        /// Store as one inline record (see above).
        inline: bool,
    },
    /// Replaces the key with `value` (a list, set, sorted set or hash) stored **field-level**
    /// with the metadata's *compact* flag set: the server keeps the value in a compact
    /// in-memory encoding (listpack) and records that here, so that element operations on it
    /// stay O(1) records while a load rebuilds the right encoding. Element writes keep the
    /// flag; [`DiskEngine::zadd_ext`] clears it. An empty collection deletes the key; a
    /// string or stream fails the batch.
    PutCompact {
        /// Logical database.
        db: u16,
        /// The key.
        key: &'a [u8],
        /// The whole new value.
        value: &'a RdbValue,
        /// Absolute expiry, unix ms.
        expire_ms: Option<i64>,
    },
    /// Sets (`Some`) or removes (`None`) the expiry of the key if present, leaving its value
    /// alone: O(1) for any size (the server's EXPIRE/PERSIST on a field-level key it did not
    /// load).
    Expire {
        /// Logical database.
        db: u16,
        /// The key.
        key: &'a [u8],
        /// Absolute expiry, unix ms.
        expire_ms: Option<i64>,
    },
    /// Deletes the key if present (O(1) for any size).
    Delete {
        /// Logical database.
        db: u16,
        /// The key.
        key: &'a [u8],
    },
    /// Changes some elements of a collection and sets its expiry, staged in the same batch
    /// as the other writes (module `delta`): O(changed elements · log N). A missing key is
    /// created when the delta adds something; an inline one is converted to field-level
    /// records; a key of another type fails the whole call with [`DiskError::WrongType`]. The
    /// key's record is read without an expiry check (the caller found the key live).
    Delta {
        /// Logical database.
        db: u16,
        /// The key.
        key: &'a [u8],
        /// The element changes.
        delta: &'a ElemDelta<'a>,
        /// Absolute expiry (unix ms) of the key afterwards.
        expire_ms: Option<i64>,
    },
}

impl KeyWrite<'_> {
    fn target(&self) -> (u16, &[u8]) {
        match self {
            KeyWrite::Put { db, key, .. }
            | KeyWrite::PutCompact { db, key, .. }
            | KeyWrite::Expire { db, key, .. }
            | KeyWrite::Delete { db, key }
            | KeyWrite::Delta { db, key, .. } => (*db, key),
        }
    }
}

fn corrupt(what: &str) -> DiskError {
    DiskError::Corrupt(what.to_string())
}

fn unsupported_stream() -> DiskError {
    DiskError::Corrupt("a stream is never stored inline".into())
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .b
                .get(self.pos)
                .ok_or_else(|| corrupt("inline value"))?;
            self.pos += 1;
            n |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(corrupt("inline varint"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(|| corrupt("inline"))?;
        let s = self
            .b
            .get(self.pos..end)
            .ok_or_else(|| corrupt("inline value"))?;
        self.pos = end;
        Ok(s)
    }

    fn bytes(&mut self) -> Result<Vec<u8>> {
        let n = usize::try_from(self.varint()?).map_err(|_| corrupt("inline length"))?;
        Ok(self.take(n)?.to_vec())
    }

    fn i64(&mut self) -> Result<i64> {
        let a: [u8; 8] = self
            .take(8)?
            .try_into()
            .map_err(|_| corrupt("inline i64"))?;
        Ok(i64::from_be_bytes(a))
    }
}

/// Encodes a collection as an inline blob; returns its type and element count.
pub(crate) fn encode_inline(v: &RdbValue) -> Result<(KeyType, u64, Vec<u8>)> {
    let mut out = Vec::new();
    let (kind, n) = encode_inline_into(v, &mut out)?;
    Ok((kind, n, out))
}

/// Appends the inline encoding of a collection to `out` (no checksum, no compression:
/// order-exact, scores as f64 bits, hash field TTLs kept); the inverse is
/// [`decode_collection`]. For callers that store collections inside records of their own (the
/// server's record layout): O(size) with one pass over the elements and no per-element
/// allocation. Fails for strings, streams and NaN scores.
pub fn encode_collection_into(v: &RdbValue, out: &mut Vec<u8>) -> Result<KeyType> {
    encode_inline_into(v, out).map(|(k, _)| k)
}

/// Decodes a blob written by [`encode_collection_into`] for a collection of type `kind`;
/// [`DiskError::Corrupt`] for anything malformed (trailing bytes included).
pub fn decode_collection(kind: KeyType, blob: &[u8]) -> Result<RdbValue> {
    decode_inline(kind, blob)
}

/// Streaming form of [`encode_collection_into`] for a caller that holds its elements in
/// another structure (the server's in-memory lists and sorted sets): append the element count
/// with this, then each element with [`put_collection_element`] (lists, sets) or
/// [`put_collection_scored`] (sorted sets), in order. Exactly the bytes
/// [`encode_collection_into`] writes for the same value; hashes have no streaming form.
pub fn put_collection_len(out: &mut Vec<u8>, n: usize) {
    put_varint(out, n as u64);
}

/// Appends one list or set element (see [`put_collection_len`]).
pub fn put_collection_element(out: &mut Vec<u8>, item: &[u8]) {
    put_bytes(out, item);
}

/// Appends one sorted-set member and its score (see [`put_collection_len`]). A NaN score is
/// [`DiskError::NanScore`] (Redis never stores one).
pub fn put_collection_scored(out: &mut Vec<u8>, member: &[u8], score: f64) -> Result<()> {
    if score.is_nan() {
        return Err(DiskError::NanScore);
    }
    put_bytes(out, member);
    out.extend_from_slice(&score.to_bits().to_be_bytes());
    Ok(())
}

fn encode_inline_into(v: &RdbValue, out: &mut Vec<u8>) -> Result<(KeyType, u64)> {
    let (kind, n) = match v {
        RdbValue::String(_) => return Err(corrupt("a string is never inline")),
        RdbValue::Stream(_) => return Err(unsupported_stream()),
        RdbValue::List(items) | RdbValue::Set(items) => {
            put_varint(out, items.len() as u64);
            for it in items {
                put_bytes(out, it);
            }
            let kind = if matches!(v, RdbValue::List(_)) {
                KeyType::List
            } else {
                KeyType::Set
            };
            (kind, items.len())
        }
        RdbValue::ZSet(pairs) => {
            put_varint(out, pairs.len() as u64);
            for (m, s) in pairs {
                if s.is_nan() {
                    return Err(DiskError::NanScore);
                }
                put_bytes(out, m);
                out.extend_from_slice(&s.to_bits().to_be_bytes());
            }
            (KeyType::ZSet, pairs.len())
        }
        RdbValue::Hash(fields) => {
            put_varint(out, fields.len() as u64);
            for f in fields {
                put_bytes(out, &f.field);
                put_bytes(out, &f.value);
                match f.expire_ms {
                    None => out.push(0),
                    Some(at) => {
                        out.push(1);
                        out.extend_from_slice(&at.to_be_bytes());
                    }
                }
            }
            (KeyType::Hash, fields.len())
        }
    };
    Ok((kind, n as u64))
}

/// Decodes an inline blob of a collection of type `kind`.
pub(crate) fn decode_inline(kind: KeyType, blob: &[u8]) -> Result<RdbValue> {
    let mut r = Reader { b: blob, pos: 0 };
    let n = r.varint()?;
    // Every element takes at least one byte: a bound on the allocation for corrupt counts.
    let cap = usize::try_from(n).unwrap_or(usize::MAX).min(blob.len());
    let v = match kind {
        KeyType::String => return Err(corrupt("inline string")),
        KeyType::Stream => return Err(corrupt("inline stream")),
        KeyType::List | KeyType::Set => {
            let mut items = Vec::with_capacity(cap);
            for _ in 0..n {
                items.push(r.bytes()?);
            }
            if kind == KeyType::List {
                RdbValue::List(items)
            } else {
                RdbValue::Set(items)
            }
        }
        KeyType::ZSet => {
            let mut pairs = Vec::with_capacity(cap);
            for _ in 0..n {
                let m = r.bytes()?;
                let s = f64::from_bits(r.i64()? as u64);
                pairs.push((m, s));
            }
            RdbValue::ZSet(pairs)
        }
        KeyType::Hash => {
            let mut fields = Vec::with_capacity(cap);
            for _ in 0..n {
                let field = r.bytes()?;
                let value = r.bytes()?;
                let expire_ms = match r.take(1)?[0] {
                    0 => None,
                    1 => Some(r.i64()?),
                    _ => return Err(corrupt("inline hash field ttl")),
                };
                fields.push(HashField {
                    field,
                    value,
                    expire_ms,
                });
            }
            RdbValue::Hash(fields)
        }
    };
    if r.pos != blob.len() {
        return Err(corrupt("trailing bytes after inline value"));
    }
    Ok(v)
}

fn key_meta_of(m: &Meta) -> KeyMeta {
    KeyMeta {
        kind: m.kind,
        layout: if m.kind == KeyType::String {
            Layout::String
        } else if m.inline {
            Layout::Inline
        } else {
            Layout::Fields
        },
        expire_ms: m.expire,
        len: if m.kind == KeyType::String {
            m.value.len() as u64
        } else {
            m.size
        },
        has_field_ttl: m.field_ttl,
        compact: m.compact,
        listpack_bytes: if m.compact && m.kind == KeyType::List {
            m.lp_bytes
        } else {
            0
        },
    }
}

impl Inner {
    /// Reads the whole value of a key whose metadata is `m` (no expiry check).
    pub(crate) fn read_value(
        &self,
        view: View<'_>,
        db: u32,
        key: &[u8],
        m: &Meta,
    ) -> Result<RdbValue> {
        if m.kind == KeyType::String {
            return Ok(RdbValue::String(m.value.clone()));
        }
        if m.inline {
            return decode_inline(m.kind, &m.value);
        }
        let cap = usize::try_from(m.size).unwrap_or(0).min(1 << 16);
        Ok(match m.kind {
            KeyType::String => unreachable_string()?,
            KeyType::Stream => RdbValue::Stream(Box::new(self.read_stream(view, db, key, m)?)),
            KeyType::List => RdbValue::List(self.list_range(view, db, key, m, 0, -1)?),
            KeyType::ZSet => {
                let mut pairs = self.zrange_rank(view, db, key, m, 0, -1, false)?;
                // The score index folds -0 into +0; the member's data record has the exact bits.
                for (member, score) in pairs.iter_mut() {
                    if *score == 0.0 {
                        let ek = crate::ops::elem_key(db, key, m.version, member);
                        if let Some(raw) = view.get(&self.data, &ek)? {
                            let bits: [u8; 8] =
                                raw.as_ref().try_into().map_err(|_| corrupt("zset score"))?;
                            *score = f64::from_be_bytes(bits);
                        }
                    }
                }
                RdbValue::ZSet(pairs)
            }
            KeyType::Set => {
                let mut out = Vec::with_capacity(cap);
                for r in self.sub_iter(view, db, key, m, None) {
                    out.push(r?.0);
                }
                RdbValue::Set(out)
            }
            KeyType::Hash => {
                let mut out = Vec::with_capacity(cap);
                let p = codec::sub_prefix(db, key, m.version);
                for g in view.prefix(&self.data, &p) {
                    let (k, v) = g.into_inner()?;
                    let (value, expire_ms) =
                        codec::dec_field(&v, m.tagged).ok_or_else(|| corrupt("hash field"))?;
                    out.push(HashField {
                        field: k.get(p.len()..).unwrap_or_default().to_vec(),
                        value: value.to_vec(),
                        expire_ms,
                    });
                }
                RdbValue::Hash(out)
            }
        })
    }

    /// Writes `value` as a field-level incarnation with a fresh version into `b`; returns the
    /// new metadata (not yet written).
    pub(crate) fn put_fields(
        &self,
        b: &mut Batch,
        db: u32,
        key: &[u8],
        value: &RdbValue,
        expire: Option<i64>,
    ) -> Result<Meta> {
        self.put_fields_ranked(b, db, key, value, expire, true)
    }

    /// [`Inner::put_fields`]; `ranked`: build a sorted set's rank index (false for compact
    /// sorted sets: at most `zset-max-listpack-entries` members, counted in O(rank); the index
    /// is built when the flag clears, [`Inner::rank_compact`]).
    pub(crate) fn put_fields_ranked(
        &self,
        b: &mut Batch,
        db: u32,
        key: &[u8],
        value: &RdbValue,
        expire: Option<i64>,
        ranked: bool,
    ) -> Result<Meta> {
        let kind = match value {
            RdbValue::String(_) => return Err(corrupt("a string has no fields")),
            RdbValue::Stream(_) => return Err(unsupported_stream()),
            RdbValue::List(_) => KeyType::List,
            RdbValue::Set(_) => KeyType::Set,
            RdbValue::ZSet(_) => KeyType::ZSet,
            RdbValue::Hash(_) => KeyType::Hash,
        };
        if let RdbValue::ZSet(pairs) = value {
            if pairs.iter().any(|(_, s)| s.is_nan()) {
                return Err(DiskError::NanScore);
            }
        }
        let version = self.new_version(b)?;
        let mut m = Meta::new_collection(kind, version);
        m.expire = expire;
        m.ranked &= ranked;
        match value {
            RdbValue::List(items) => {
                for (idx, it) in items.iter().enumerate() {
                    b.b.insert(
                        &self.data,
                        crate::ops::list_key(db, key, version, idx as i64),
                        it.clone(),
                    );
                }
                m.tail = items.len() as i64;
                m.size = items.len() as u64;
            }
            RdbValue::Set(items) => {
                let mut seen: HashSet<&[u8]> = HashSet::with_capacity(items.len());
                for it in items {
                    if seen.insert(it) {
                        b.b.insert(
                            &self.data,
                            crate::ops::elem_key(db, key, version, it),
                            Vec::<u8>::new(),
                        );
                    }
                }
                m.size = seen.len() as u64;
            }
            RdbValue::ZSet(pairs) => {
                let last: HashMap<&[u8], f64> =
                    pairs.iter().map(|(mb, s)| (mb.as_slice(), *s)).collect();
                let mut positions = Vec::with_capacity(last.len());
                for (mb, s) in &last {
                    b.b.insert(
                        &self.data,
                        crate::ops::elem_key(db, key, version, mb),
                        s.to_be_bytes().to_vec(),
                    );
                    b.b.insert(
                        &self.zscore,
                        crate::ops::zscore_key(db, key, version, *s, mb),
                        Vec::<u8>::new(),
                    );
                    positions.push(crate::zindex::position(*s, mb));
                }
                if m.ranked {
                    positions.sort_unstable();
                    let (h, top) =
                        crate::zindex::ZIndex::new(self, db, key, &m, true).build(b, &positions);
                    m.zheight = h;
                    m.ztop = top;
                }
                m.size = last.len() as u64;
            }
            RdbValue::Hash(fields) => {
                let last: HashMap<&[u8], &HashField> =
                    fields.iter().map(|f| (f.field.as_slice(), f)).collect();
                for (f, hf) in &last {
                    m.field_ttl |= hf.expire_ms.is_some();
                    b.b.insert(
                        &self.data,
                        crate::ops::elem_key(db, key, version, f),
                        codec::enc_field(&hf.value, hf.expire_ms),
                    );
                }
                m.size = last.len() as u64;
            }
            RdbValue::String(_) | RdbValue::Stream(_) => {}
        }
        Ok(m)
    }

    /// The metadata that stores `value` (a collection) inline.
    fn inline_meta(value: &RdbValue, expire: Option<i64>) -> Result<Meta> {
        let (kind, n, blob) = encode_inline(value)?;
        let mut m = Meta::new_collection(kind, 0);
        m.expire = expire;
        m.inline = true;
        m.size = n;
        m.value = blob;
        m.field_ttl = value.has_field_ttls();
        Ok(m)
    }

    /// Builds the rank index of a sorted set stored without one (a compact sorted set, see
    /// [`Inner::put_fields_ranked`]) in its own committed batch, before a write that makes it
    /// big: logically a no-op (counts exact for the stored members), so a crash on either side
    /// is harmless. Returns the new metadata. Caller holds the key's lock. O(size), once.
    pub(crate) fn rank_compact(&self, db: u32, key: &[u8], old: &Meta) -> Result<Meta> {
        let pairs = self.zrange_rank(View::Live, db, key, old, 0, -1, false)?;
        let mut positions: Vec<Vec<u8>> = pairs
            .iter()
            .map(|(mb, s)| crate::zindex::position(*s, mb))
            .collect();
        positions.sort_unstable();
        let mut m = old.clone();
        m.ranked = true;
        let mut b = self.batch();
        let (h, top) =
            crate::zindex::ZIndex::new(self, db, key, &m, true).build(&mut b, &positions);
        m.zheight = h;
        m.ztop = top;
        self.put_meta(&mut b, db, key, Some(old), &m);
        self.commit(b)?;
        Ok(m)
    }

    /// Converts an inline collection to field-level records in its own committed batch (the
    /// logical value is unchanged, so a crash on either side of it is harmless) and returns the
    /// new metadata. Caller holds the key's lock.
    pub(crate) fn promote(&self, db: u32, key: &[u8], old: &Meta) -> Result<Meta> {
        let value = decode_inline(old.kind, &old.value)?;
        let mut b = self.batch();
        let mut m = self.put_fields(&mut b, db, key, &value, old.expire)?;
        m.field_ttl |= old.field_ttl;
        self.put_meta(&mut b, db, key, Some(old), &m);
        self.commit(b)?;
        Ok(m)
    }
}

fn unreachable_string() -> Result<RdbValue> {
    Err(corrupt("string read as collection"))
}

/// Whole-value access (see the module documentation).
impl DiskEngine {
    /// Metadata of a live key (lazily expiring it, as other reads do); None if absent. One
    /// point read, whatever the value's size.
    pub fn key_meta(&self, db: u16, key: &[u8], now_ms: i64) -> Result<Option<KeyMeta>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        Ok(i.live_meta(db, key, now_ms)?.as_ref().map(key_meta_of))
    }

    /// [`DiskEngine::key_meta`] and, for a key in the string layout ([`Layout::String`]), its
    /// bytes (what [`DiskEngine::get`] would return), from the same single point read: a
    /// caller that needs both saves the second read of the metadata record.
    pub fn key_meta_and_string(&self, db: u16, key: &[u8], now_ms: i64) -> Result<Option<KeyRead>> {
        self.meta_read(db, key, now_ms, false).map(|(r, _)| r)
    }

    /// [`DiskEngine::key_meta_and_string`] plus, when the key is missing or has no expiry, a
    /// [`MetaToken`] of the record as read, for [`DiskEngine::apply_known`].
    pub fn key_meta_with_token(
        &self,
        db: u16,
        key: &[u8],
        now_ms: i64,
    ) -> Result<(Option<KeyRead>, Option<MetaToken>)> {
        self.meta_read(db, key, now_ms, true)
    }

    /// One read of a key's metadata record: [`DiskEngine::key_meta_and_string`], with a token
    /// if `want_token` (see [`DiskEngine::key_meta_with_token`]).
    fn meta_read(
        &self,
        db: u16,
        key: &[u8],
        now_ms: i64,
        want_token: bool,
    ) -> Result<(Option<KeyRead>, Option<MetaToken>)> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let m = i.live_meta(db, key, now_ms)?;
        // A key with an expiry may be deleted by the expiry sweep at any time: no token.
        let tokened = want_token && m.as_ref().is_none_or(|m| m.expire.is_none());
        let mut kept = None;
        let r = m.map(|mut m| {
            let km = key_meta_of(&m);
            // The string moves to the caller; the token keeps the record without its value
            // (string bytes or inline blob): `apply_known` needs only the header, and copying
            // a blob per read was a measurable part of a write (docs/disk-engine.md §9).
            let value = std::mem::take(&mut m.value);
            let s = (m.kind == KeyType::String).then_some(value);
            if tokened {
                kept = Some(m);
            }
            (km, s)
        });
        let token = tokened.then(|| MetaToken {
            pdb: i.pdb(db),
            meta: kept,
        });
        Ok((r, token))
    }

    /// The whole value and its expiry (inline: decode the blob; fields: read every record, in
    /// the stored order: list by index, zset by (score, member), hash/set by subkey order).
    /// Hash fields come with their TTLs, including fields whose TTL has passed (the caller's
    /// in-memory logic expires them). O(size).
    pub fn load_value(
        &self,
        db: u16,
        key: &[u8],
        now_ms: i64,
    ) -> Result<Option<(RdbValue, Option<i64>)>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let Some(m) = i.live_meta(db, key, now_ms)? else {
            return Ok(None);
        };
        Ok(Some((
            i.read_value(View::Live, i.pdb(db), key, &m)?,
            m.expire,
        )))
    }

    /// Applies several key writes as ONE atomic fjall batch (one journal entry; durability per
    /// `Fsync`): a command's whole effect (MSET, RENAME, SMOVE, EXEC...) is all-or-nothing after
    /// a crash. When a key appears several times, its last write wins. Nothing is written if any
    /// write is invalid (a NaN score, a Delta on a key of another type). Cost: O(1) per
    /// Delete and per inline Put (plus the blob), O(elements) per field-level Put, O(changed
    /// elements) point reads per Delta. (Only a sorted set's rank-index split, which changes
    /// no element, commits after the batch.)
    pub fn apply(&self, writes: &[KeyWrite<'_>], now_ms: i64) -> Result<()> {
        self.apply_known(writes, now_ms, |_, _| None)
    }

    /// [`DiskEngine::apply`] for a caller that already read some of the keys' metadata
    /// records: `known(db, key)` gives the [`MetaToken`] of a key's read, and that key's record
    /// is not read again (one point read less per key). The caller guarantees that nothing
    /// wrote the key since that read (it held a lock that every writer of the key takes; the
    /// tokens exclude keys with an expiry, which the expiry sweep may delete at any time). A
    /// token of another physical database (SWAPDB/FLUSHDB since) is ignored.
    pub fn apply_known<'t>(
        &self,
        writes: &[KeyWrite<'_>],
        now_ms: i64,
        known: impl Fn(u16, &[u8]) -> Option<&'t MetaToken>,
    ) -> Result<()> {
        self.apply_tokened(writes, now_ms, known).map(|_| ())
    }

    /// [`DiskEngine::apply_known`] that also returns, per write, a [`MetaToken`] of the state
    /// the batch left the key in: `Some` for the last `Put`, `Delta` or `Delete` of a key whose new
    /// state has no expiry (a key with an expiry may be deleted by the expiry sweep at any
    /// time), `None` otherwise. A caller that keeps such a token beside its own copy of the key
    /// (the server's hot-object cache) can write the key again later with
    /// [`DiskEngine::apply_known`] and no metadata read ("blind write"), under the same
    /// contract: nothing else wrote the key since.
    pub fn apply_tokened<'t>(
        &self,
        writes: &[KeyWrite<'_>],
        now_ms: i64,
        known: impl Fn(u16, &[u8]) -> Option<&'t MetaToken>,
    ) -> Result<Vec<Option<MetaToken>>> {
        let _ = now_ms;
        let mut out: Vec<Option<MetaToken>> = vec![None; writes.len()];
        let mut blind = 0u64;
        let i = &self.inner;
        // Last write per key, in first-appearance order.
        let mut last: BTreeMap<(u16, &[u8]), usize> = BTreeMap::new();
        for (n, w) in writes.iter().enumerate() {
            last.insert(w.target(), n);
        }
        let _guards = i.lock_many(last.keys().map(|(db, k)| (*db, *k)));
        let mut b = i.batch();
        let mut splits = Vec::new();
        for (&(ldb, key), &n) in &last {
            let db = i.pdb(ldb);
            // A token's record lacks its value (see `meta_read`): good for Put and Delete,
            // which only look at the header; EXPIRE rewrites the whole record, so it reads it.
            let read;
            let old = match known(ldb, key) {
                Some(t) if t.pdb == db && token_suffices(&writes[n], t) => {
                    blind += 1;
                    t.meta.as_ref()
                }
                _ => {
                    read = i.read_meta(View::Live, db, key)?;
                    read.as_ref()
                }
            };
            // A delete, or a put of an empty collection (which Redis never keeps): the key goes.
            let deletes = match writes[n] {
                KeyWrite::Delete { .. } => true,
                KeyWrite::Put { value, .. } | KeyWrite::PutCompact { value, .. } => {
                    value.is_empty_collection()
                }
                KeyWrite::Delta { .. } | KeyWrite::Expire { .. } => false,
            };
            if deletes {
                if let Some(o) = old {
                    i.del_meta(&mut b, db, key, o);
                }
                out[n] = Some(MetaToken::missing(db));
                continue;
            }
            match writes[n] {
                KeyWrite::Delta {
                    delta, expire_ms, ..
                } => {
                    let new = i.stage_delta(&mut b, db, key, old, delta, expire_ms, &mut splits)?;
                    out[n] = match new {
                        Some(m) => MetaToken::written(db, m),
                        None => Some(MetaToken::missing(db)),
                    };
                }
                KeyWrite::Delete { .. } => {} // above
                KeyWrite::Expire { expire_ms, .. } => {
                    if let Some(o) = old {
                        if o.expire != expire_ms {
                            let mut new = o.clone();
                            new.expire = expire_ms;
                            i.put_meta(&mut b, db, key, Some(o), &new);
                        }
                    }
                }
                KeyWrite::PutCompact {
                    value, expire_ms, ..
                } => {
                    let mut new = match value {
                        RdbValue::String(_) => return Err(corrupt("a string has no fields")),
                        RdbValue::Stream(_) => return Err(unsupported_stream()),
                        _ => i.put_fields_ranked(&mut b, db, key, value, expire_ms, false)?,
                    };
                    new.compact = true;
                    if let RdbValue::List(items) = value {
                        new.lp_bytes = ferrokv_engine::list::LISTPACK_EMPTY_BYTES as u64
                            + items.iter().map(|v| crate::ops::lp_size(v)).sum::<u64>();
                    }
                    i.put_meta(&mut b, db, key, old, &new);
                    out[n] = MetaToken::written(db, new);
                }
                KeyWrite::Put {
                    value,
                    expire_ms,
                    inline,
                    ..
                } => {
                    let new = match value {
                        RdbValue::String(s) => {
                            let mut m = Meta::new_collection(KeyType::String, 0);
                            m.tagged = false;
                            m.expire = expire_ms;
                            m.value = s.clone();
                            m
                        }
                        // Always field-level (one record per entry), whatever `inline` says.
                        RdbValue::Stream(st) => i.put_stream(&mut b, db, key, st, expire_ms)?,
                        _ if inline && value_len(value) <= i.inline_max_len => {
                            Inner::inline_meta(value, expire_ms)?
                        }
                        _ => i.put_fields(&mut b, db, key, value, expire_ms)?,
                    };
                    i.put_meta(&mut b, db, key, old, &new);
                    out[n] = MetaToken::written(db, new);
                }
            }
        }
        i.commit(b)?;
        // Rank-index splits after the commit, still under the keys' locks (module `zindex`:
        // a split changes no element, so a crash before it leaves a correct index).
        for (pdb, key, m, big) in splits {
            i.zsplit(pdb, &key, &m, big)?;
        }
        if blind > 0 {
            i.blind_writes
                .fetch_add(blind, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(out)
    }
}

/// Whether a token's record (which lacks its value, see `meta_read`) is enough for `w`: Put and
/// Delete look only at the header; Expire rewrites the whole record and a Delta of an inline
/// collection decodes its blob, so those read the record.
fn token_suffices(w: &KeyWrite<'_>, t: &MetaToken) -> bool {
    match w {
        KeyWrite::Put { .. } | KeyWrite::PutCompact { .. } | KeyWrite::Delete { .. } => true,
        KeyWrite::Expire { .. } => false,
        KeyWrite::Delta { .. } => t.meta.as_ref().is_none_or(|m| !m.inline),
    }
}

fn value_len(v: &RdbValue) -> usize {
    match v {
        RdbValue::String(_) | RdbValue::Stream(_) => 1,
        RdbValue::List(x) | RdbValue::Set(x) => x.len(),
        RdbValue::ZSet(x) => x.len(),
        RdbValue::Hash(x) => x.len(),
    }
}

/// Whole-value reads from a consistent view.
impl DiskSnapshot {
    /// The whole value of a key and its expiry as of the snapshot (expired keys included: the
    /// caller filters with its clock, as RDB saving does), in the order of
    /// [`DiskEngine::load_value`].
    pub fn load_value(&self, db: u16, key: &[u8]) -> Result<Option<(RdbValue, Option<i64>)>> {
        let view = View::Snap(&self.snap);
        let db = self.map.pdb(db);
        let Some(m) = self.inner.read_meta(view, db, key)? else {
            return Ok(None);
        };
        Ok(Some((self.inner.read_value(view, db, key, &m)?, m.expire)))
    }
}
