//! Byte encodings of the on-disk layout: record keys of the `meta`, `data`, `zscore` and `expire`
//! keyspaces and the metadata value. Everything numeric is big-endian and, where records are
//! range-scanned, order-preserving (signed integers and doubles are mapped so that unsigned byte
//! order equals numeric order).

/// Type byte stored first in every metadata record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// A string value, stored inline in the metadata record.
    String,
    /// A list: one `data` record per element at an i64 index.
    List,
    /// A hash: one `data` record per field.
    Hash,
    /// A set: one `data` record per member (empty value).
    Set,
    /// A sorted set: one `data` record per member (its score) plus one `zscore` record.
    ZSet,
    /// A stream: one `data` record per entry keyed by its 16-byte ID; consumer groups, their
    /// PEL entries and consumers in `zscore` records (module `stream`).
    Stream,
}

impl KeyType {
    fn to_byte(self) -> u8 {
        match self {
            KeyType::String => 0,
            KeyType::List => 1,
            KeyType::Hash => 2,
            KeyType::Set => 3,
            KeyType::ZSet => 4,
            KeyType::Stream => 5,
        }
    }

    fn from_byte(b: u8) -> Option<KeyType> {
        Some(match b {
            0 => KeyType::String,
            1 => KeyType::List,
            2 => KeyType::Hash,
            3 => KeyType::Set,
            4 => KeyType::ZSet,
            5 => KeyType::Stream,
            _ => return None,
        })
    }

    /// The name TYPE replies with (`string`, `list`, `hash`, `set`, `zset`, `stream`).
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::List => "list",
            KeyType::Hash => "hash",
            KeyType::Set => "set",
            KeyType::ZSet => "zset",
            KeyType::Stream => "stream",
        }
    }
}

/// Stable 64-bit hash of a user key (FNV-1a folded through the splitmix64 finaliser). It orders
/// the `meta` keyspace so that SCAN cursors are plain integers; it is part of the on-disk format
/// and must never change.
pub fn key_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Physical database ids below this are written in 2 bytes (the logical id of a store that
/// never flushed, compatible with the first on-disk format); larger ones in 4 bytes with the top
/// bit set. The two forms never prefix each other (first byte < 0x80 vs >= 0x80).
pub const SHORT_PDB: u32 = 0x8000;

/// Appends the prefix encoding of physical database id `pdb` (< 2^31).
pub fn put_pdb(out: &mut Vec<u8>, pdb: u32) {
    if pdb < SHORT_PDB {
        out.extend_from_slice(&(pdb as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&(pdb | 0x8000_0000).to_be_bytes());
    }
}

/// The prefix encoding of `pdb` alone (every record of that physical database starts with it).
pub fn pdb_prefix(pdb: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(4);
    put_pdb(&mut v, pdb);
    v
}

/// Parses a physical database id prefix: (id, encoded length).
pub fn get_pdb(b: &[u8]) -> Option<(u32, usize)> {
    let first = *b.first()?;
    if first < 0x80 {
        Some((u32::from(u16::from_be_bytes([first, *b.get(1)?])), 2))
    } else {
        let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
        Some((u32::from_be_bytes(a) & 0x7fff_ffff, 4))
    }
}

/// `meta` record key: physical db + key hash (u64 BE) + user key.
pub fn meta_key(pdb: u32, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(12 + key.len());
    put_pdb(&mut k, pdb);
    k.extend_from_slice(&key_hash(key).to_be_bytes());
    k.extend_from_slice(key);
    k
}

/// Splits a `meta` record key into (physical db, hash, user key).
pub fn split_meta_key(k: &[u8]) -> Option<(u32, u64, &[u8])> {
    let (pdb, n) = get_pdb(k)?;
    let h = u64::from_be_bytes(k.get(n..n + 8)?.try_into().ok()?);
    Some((pdb, h, &k[n + 8..]))
}

/// Prefix shared by every `data`/`zscore` record of one key incarnation:
/// physical db + key length (u32 BE) + user key + version (u64 BE).
pub fn sub_prefix(pdb: u32, key: &[u8], version: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(16 + key.len() + 16);
    put_pdb(&mut k, pdb);
    k.extend_from_slice(&(key.len() as u32).to_be_bytes());
    k.extend_from_slice(key);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// Parses the prefix of a `data`/`zscore` record key into (physical db, user key, version).
pub fn split_sub_key(k: &[u8]) -> Option<(u32, &[u8], u64)> {
    let (pdb, n) = get_pdb(k)?;
    let len = u32::from_be_bytes(k.get(n..n + 4)?.try_into().ok()?) as usize;
    let start = n + 4;
    let end = start.checked_add(len)?;
    let key = k.get(start..end)?;
    let v = k.get(end..end + 8)?;
    Some((pdb, key, u64::from_be_bytes(v.try_into().ok()?)))
}

/// Splits an `expire` record key into (physical db, deadline, user key).
pub fn split_expire_key(k: &[u8]) -> Option<(u32, i64, &[u8])> {
    let (pdb, n) = get_pdb(k)?;
    let at = dec_i64(k.get(n..n + 8)?)?;
    Some((pdb, at, &k[n + 8..]))
}

/// Order-preserving encoding of an i64 (sign bit flipped).
pub fn enc_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`enc_i64`].
pub fn dec_i64(b: &[u8]) -> Option<i64> {
    let a: [u8; 8] = b.get(..8)?.try_into().ok()?;
    Some((u64::from_be_bytes(a) ^ (1 << 63)) as i64)
}

/// Order-preserving encoding of a double (NaN is never stored; -0 is folded into +0 so that equal
/// scores order by member, as Redis does).
pub fn enc_score(s: f64) -> [u8; 8] {
    let s = if s == 0.0 { 0.0 } else { s };
    let bits = s.to_bits();
    let m = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    m.to_be_bytes()
}

/// Inverse of [`enc_score`].
pub fn dec_score(b: &[u8]) -> Option<f64> {
    let a: [u8; 8] = b.get(..8)?.try_into().ok()?;
    let m = u64::from_be_bytes(a);
    let bits = if m >> 63 == 1 { m & !(1 << 63) } else { !m };
    Some(f64::from_bits(bits))
}

/// `expire` index record key: physical db + deadline (order-preserving i64 ms) + user key.
pub fn expire_key(pdb: u32, at: i64, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(12 + key.len());
    put_pdb(&mut k, pdb);
    k.extend_from_slice(&enc_i64(at));
    k.extend_from_slice(key);
    k
}

/// Decoded metadata record of one key.
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    /// Value type.
    pub kind: KeyType,
    /// Absolute expiry (unix ms), if any.
    pub expire: Option<i64>,
    /// Incarnation version of the key's subkey records (0 for strings).
    pub version: u64,
    /// Element count (collections).
    pub size: u64,
    /// List: index of the first element.
    pub head: i64,
    /// List: index one past the last element.
    pub tail: i64,
    /// String: the value itself; inline collection: the encoded value (module `object`);
    /// stream: its fixed-size metadata tail (IDs, counters; module `stream`).
    pub value: Vec<u8>,
    /// The collection is stored inline: the whole value is the blob in `value` (no subkey
    /// records; `version` is 0).
    pub inline: bool,
    /// Some hash field may carry a TTL (set by writes that store one; never cleared while the
    /// incarnation lives).
    pub field_ttl: bool,
    /// Sorted set: the rank index (module `zindex`) exists for this incarnation.
    pub ranked: bool,
    /// Rank index: number of bucket levels (>= 1).
    pub zheight: u8,
    /// Rank index: number of buckets of the top level.
    pub ztop: u64,
    /// Hash field records of this incarnation carry a one-byte header (field TTL support, see
    /// [`enc_field`]); incarnations written before that format read their values raw.
    pub tagged: bool,
    /// Field-level collection that the server keeps in a *compact* in-memory encoding
    /// (listpack): set by the writer ([`crate::KeyWrite::PutCompact`]), kept by element
    /// writes, cleared one-way by a write that passes the server's limits (e.g.
    /// [`crate::DiskEngine::zadd_ext`]). Records written before the flag existed read `false`
    /// (they were all big encodings).
    pub compact: bool,
    /// Compact list: the byte size of the same elements in a Redis listpack
    /// (`ferrokv_engine::list` rules), kept by every element write, so that the server can
    /// decide the listpack → quicklist conversion of a push without reading the elements.
    /// Stored after `tail` when `compact` is set (record format: flag bit 5).
    pub lp_bytes: u64,
}

/// Metadata flag bits (byte 1 of the record).
const F_EXPIRE: u8 = 1;
const F_INLINE: u8 = 2;
const F_FIELD_TTL: u8 = 4;
const F_TAGGED: u8 = 8;
const F_RANKED: u8 = 16;
const F_COMPACT: u8 = 32;

/// Encodes a hash field record value of a tagged incarnation: `0` + value, or `1` + expiry
/// (i64 BE, unix ms) + value.
pub fn enc_field(value: &[u8], expire_ms: Option<i64>) -> Vec<u8> {
    let mut v = Vec::with_capacity(9 + value.len());
    match expire_ms {
        None => v.push(0),
        Some(at) => {
            v.push(1);
            v.extend_from_slice(&at.to_be_bytes());
        }
    }
    v.extend_from_slice(value);
    v
}

/// Decodes a hash field record value: (value, field expiry). `tagged` says whether the
/// incarnation uses the header of [`enc_field`]; old incarnations store the value raw.
pub fn dec_field(raw: &[u8], tagged: bool) -> Option<(&[u8], Option<i64>)> {
    if !tagged {
        return Some((raw, None));
    }
    match *raw.first()? {
        0 => Some((&raw[1..], None)),
        1 => {
            let at = i64::from_be_bytes(raw.get(1..9)?.try_into().ok()?);
            Some((&raw[9..], Some(at)))
        }
        _ => None,
    }
}

impl Meta {
    /// A fresh, empty collection of `kind` with `version`.
    pub fn new_collection(kind: KeyType, version: u64) -> Meta {
        Meta {
            kind,
            expire: None,
            version,
            size: 0,
            head: 0,
            tail: 0,
            value: Vec::new(),
            inline: false,
            field_ttl: false,
            tagged: kind == KeyType::Hash,
            ranked: kind == KeyType::ZSet,
            zheight: 1,
            ztop: 1,
            compact: false,
            lp_bytes: 0,
        }
    }

    /// Whether the key is logically gone at `now_ms`.
    pub fn expired(&self, now_ms: i64) -> bool {
        matches!(self.expire, Some(at) if at <= now_ms)
    }

    /// Serialises the record.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(26 + self.value.len());
        v.push(self.kind.to_byte());
        let is_str = self.kind == KeyType::String;
        let mut flags = 0;
        if self.expire.is_some() {
            flags |= F_EXPIRE;
        }
        if self.inline && !is_str {
            flags |= F_INLINE;
        }
        if self.field_ttl {
            flags |= F_FIELD_TTL;
        }
        if self.tagged && !is_str {
            flags |= F_TAGGED;
        }
        if self.ranked && !is_str && !self.inline {
            flags |= F_RANKED;
        }
        if self.compact && !is_str && !self.inline {
            flags |= F_COMPACT;
        }
        v.push(flags);
        v.extend_from_slice(&self.expire.unwrap_or(0).to_be_bytes());
        if is_str {
            v.extend_from_slice(&self.value);
            return v;
        }
        v.extend_from_slice(&self.version.to_be_bytes());
        v.extend_from_slice(&self.size.to_be_bytes());
        if self.inline || self.kind == KeyType::Stream {
            v.extend_from_slice(&self.value);
        } else if self.ranked && self.kind == KeyType::ZSet {
            v.push(self.zheight);
            v.extend_from_slice(&self.ztop.to_be_bytes());
        } else if self.kind == KeyType::List {
            v.extend_from_slice(&self.head.to_be_bytes());
            v.extend_from_slice(&self.tail.to_be_bytes());
            if self.compact {
                v.extend_from_slice(&self.lp_bytes.to_be_bytes());
            }
        }
        v
    }

    /// Parses a record; `None` if it is corrupt.
    pub fn decode(b: &[u8]) -> Option<Meta> {
        let kind = KeyType::from_byte(*b.first()?)?;
        let flag = *b.get(1)?;
        let at = i64::from_be_bytes(b.get(2..10)?.try_into().ok()?);
        let expire = (flag & F_EXPIRE != 0).then_some(at);
        let mut m = Meta::new_collection(kind, 0);
        m.expire = expire;
        m.inline = flag & F_INLINE != 0;
        m.field_ttl = flag & F_FIELD_TTL != 0;
        m.tagged = flag & F_TAGGED != 0;
        m.ranked = flag & F_RANKED != 0;
        m.compact = flag & F_COMPACT != 0 && !m.inline && kind != KeyType::String;
        if kind == KeyType::String {
            m.value = b.get(10..)?.to_vec();
            return Some(m);
        }
        let u = |r: std::ops::Range<usize>| -> Option<u64> {
            Some(u64::from_be_bytes(b.get(r)?.try_into().ok()?))
        };
        m.version = u(10..18)?;
        m.size = u(18..26)?;
        if m.inline || kind == KeyType::Stream {
            m.value = b.get(26..)?.to_vec();
        } else if m.ranked && kind == KeyType::ZSet {
            m.zheight = *b.get(26)?;
            m.ztop = u(27..35)?;
        } else if kind == KeyType::List {
            m.head = u(26..34)? as i64;
            m.tail = u(34..42)? as i64;
            if m.compact {
                m.lp_bytes = u(42..50)?;
            }
        }
        Some(m)
    }

    /// Reads only the fields the GC filter needs (kind, expiry, version) without copying a
    /// string value.
    pub fn peek_version(b: &[u8]) -> Option<(KeyType, Option<i64>, u64)> {
        let kind = KeyType::from_byte(*b.first()?)?;
        let at = i64::from_be_bytes(b.get(2..10)?.try_into().ok()?);
        let expire = (*b.get(1)? & F_EXPIRE != 0).then_some(at);
        let version = if kind == KeyType::String {
            0
        } else {
            u64::from_be_bytes(b.get(10..18)?.try_into().ok()?)
        };
        Some((kind, expire, version))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn score_encoding_orders_like_f64() {
        let vals = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -1.0,
            -1e-300,
            0.0,
            1e-300,
            1.0,
            2.5,
            1e300,
            f64::INFINITY,
        ];
        for w in vals.windows(2) {
            assert!(enc_score(w[0]) < enc_score(w[1]), "{} < {}", w[0], w[1]);
        }
        for v in vals {
            assert_eq!(dec_score(&enc_score(v)), Some(v));
        }
        assert_eq!(enc_score(-0.0), enc_score(0.0));
    }

    #[test]
    fn i64_encoding_orders() {
        let vals = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        for w in vals.windows(2) {
            assert!(enc_i64(w[0]) < enc_i64(w[1]));
        }
        for v in vals {
            assert_eq!(dec_i64(&enc_i64(v)), Some(v));
        }
    }

    #[test]
    fn meta_roundtrip() {
        let mut m = Meta::new_collection(KeyType::List, 42);
        m.expire = Some(-3);
        m.size = 9;
        m.head = -4;
        m.tail = 5;
        assert_eq!(Meta::decode(&m.encode()), Some(m.clone()));
        m.compact = true;
        m.lp_bytes = 1234;
        assert_eq!(Meta::decode(&m.encode()), Some(m.clone()));
        let mut z = Meta::new_collection(KeyType::ZSet, 7);
        z.compact = true;
        z.size = 3;
        assert_eq!(Meta::decode(&z.encode()), Some(z.clone()));
        z.compact = false;
        assert_eq!(Meta::decode(&z.encode()), Some(z));
        let s = Meta {
            kind: KeyType::String,
            value: b"hello".to_vec(),
            ..Meta::new_collection(KeyType::String, 0)
        };
        assert_eq!(Meta::decode(&s.encode()), Some(s));
        for pdb in [0, 3, 0x7fff, 0x8000, 70_000, 0x7fff_ffff] {
            let k = sub_prefix(pdb, b"abc", 77);
            assert_eq!(split_sub_key(&k), Some((pdb, &b"abc"[..], 77)));
            let k = meta_key(pdb, b"xy");
            assert_eq!(split_meta_key(&k), Some((pdb, key_hash(b"xy"), &b"xy"[..])));
            let k = expire_key(pdb, -5, b"q");
            assert_eq!(split_expire_key(&k), Some((pdb, -5, &b"q"[..])));
        }
        // The short form is the first format's u16 db prefix.
        assert_eq!(meta_key(3, b"k")[..2], [0, 3]);
    }
}
