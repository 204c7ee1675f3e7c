//! One key and its value in a single heap block.
//!
//! Redis spends a dict entry, an sds key and a `robj` (often an embedded string) per key: three
//! allocations and ~90 bytes for a 16-byte key with a 16-byte value. An [`Entry`] is one `Box<[u8]>`
//! holding a small header, the key and (for strings) the value, so the same key costs one
//! allocation of 40 bytes plus its 16-byte slot in the table.
//!
//! # Layout
//! ```text
//! [0]      flags    bit 0: has expiry
//! [1]      kind     type and encoding (see [`Kind`])
//! [2..6]   access   u32 LE: LRU clock (seconds) or LFU (ldt minutes << 8 | counter), per policy
//! [6..14]  expire   i64 LE absolute unix time in ms — present only when the flag is set
//! varint   key length (LEB128, 1..=5 bytes)
//! key bytes
//! payload  strings (int/embstr): the value bytes up to the end of the block;
//!          strings (raw): u32 LE length, then the value, then spare capacity for APPEND/SETRANGE
//! ```
//! Everything is decoded with bounds-checked slicing; nothing here is `unsafe`.
//!
//! Other types (lists, hashes, sets, sorted sets) keep the same header and key in a block of
//! their own (with the expiry slot always present, flag bit 1) next to a [`Value`].

use crate::value::Value;

/// Strings that parse as integers and are at most this long get the `int` encoding (Redis's rule).
const MAX_INT_ENCODED_LEN: usize = 20;
/// Strings up to this length are `embstr` (Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
pub const EMBSTR_SIZE_LIMIT: usize = 44;

const FLAG_EXPIRE: u8 = 1;
/// The 8-byte expiry slot is present even when `FLAG_EXPIRE` is clear (object entries).
const FLAG_SLOT: u8 = 2;
const HDR: usize = 6;

/// Type and encoding of a value, as stored in the entry header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A string holding the canonical decimal text of an i64 (OBJECT ENCODING `int`).
    StrInt = 0,
    /// A short string (OBJECT ENCODING `embstr`).
    StrEmb = 1,
    /// A string that is long or was modified in place (OBJECT ENCODING `raw`); has spare capacity.
    StrRaw = 2,
    /// A list ([`crate::list::List`]).
    List = 3,
    /// A hash ([`crate::hash::Hash`]).
    Hash = 4,
    /// A set ([`crate::set::Set`]).
    Set = 5,
    /// A sorted set ([`crate::zset::ZSet`]).
    ZSet = 6,
}

impl Kind {
    fn from_byte(b: u8) -> Kind {
        match b {
            0 => Kind::StrInt,
            1 => Kind::StrEmb,
            3 => Kind::List,
            4 => Kind::Hash,
            5 => Kind::Set,
            6 => Kind::ZSet,
            _ => Kind::StrRaw,
        }
    }

    /// The Redis data type name (`TYPE` reply).
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::StrInt | Kind::StrEmb | Kind::StrRaw => "string",
            Kind::List => "list",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
        }
    }

    /// The `OBJECT ENCODING` name of a string kind (collections: see [`Entry::encoding_name`]).
    pub fn encoding_name(self) -> &'static str {
        match self {
            Kind::StrInt => "int",
            Kind::StrEmb => "embstr",
            Kind::StrRaw | Kind::List | Kind::Hash | Kind::Set | Kind::ZSet => "raw",
        }
    }

    /// Whether the value is a string.
    pub fn is_string(self) -> bool {
        matches!(self, Kind::StrInt | Kind::StrEmb | Kind::StrRaw)
    }
}

/// Parses `s` as Redis's `string2ll` does: optional '-', no leading zeros, no '+', no spaces, fits i64.
pub fn parse_i64_strict(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > MAX_INT_ENCODED_LEN {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, s.get(1..)?),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = i64::from(c - b'0');
        v = if neg {
            v.checked_mul(10)?.checked_sub(d)?
        } else {
            v.checked_mul(10)?.checked_add(d)?
        };
    }
    Some(v)
}

/// Chooses the encoding Redis's `tryObjectEncoding` would give a freshly written string.
pub fn string_kind_for(value: &[u8]) -> Kind {
    if value.len() <= MAX_INT_ENCODED_LEN && parse_i64_strict(value).is_some() {
        Kind::StrInt
    } else if value.len() <= EMBSTR_SIZE_LIMIT {
        Kind::StrEmb
    } else {
        Kind::StrRaw
    }
}

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes a varint at `pos`; returns (value, bytes used). Entries are only built by this module,
/// so a malformed varint cannot occur; the decoder is still total (it stops at the block's end).
fn get_varint(buf: &[u8], pos: usize) -> (usize, usize) {
    let mut v: usize = 0;
    let mut shift = 0;
    let mut i = pos;
    while let Some(&b) = buf.get(i) {
        v |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 || shift >= 28 {
            break;
        }
        shift += 7;
    }
    (v, i - pos)
}

/// A key with its value, expiry and access metadata: one allocation for strings; for the other
/// types a header block (always with room for an expiry, so EXPIRE never copies a collection)
/// plus the [`Value`]. Cloning copies the key and the whole value (snapshots use it).
#[derive(Clone)]
pub struct Entry {
    repr: Repr,
}

/// 16 bytes either way: the object variant lives where the slice length would be.
#[derive(Clone)]
enum Repr {
    Inline(Box<[u8]>),
    Object(Box<Object>),
}

#[derive(Clone)]
struct Object {
    meta: Box<[u8]>,
    value: Value,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("kind", &self.kind())
            .field("expire_at", &self.expire_at())
            .finish()
    }
}

impl Entry {
    /// Builds a string entry; the encoding is chosen as Redis does for a fresh write.
    pub fn new_string(key: &[u8], value: &[u8], expire_at: Option<i64>, access: u32) -> Entry {
        Self::build(key, value, string_kind_for(value), expire_at, access, 0)
    }

    /// Builds a string entry as Redis's `createStringObject` does (no integer detection): `embstr`
    /// up to [`EMBSTR_SIZE_LIMIT`] bytes, else `raw` without spare capacity (INCRBYFLOAT results).
    pub fn new_plain_string(
        key: &[u8],
        value: &[u8],
        expire_at: Option<i64>,
        access: u32,
    ) -> Entry {
        let kind = if value.len() <= EMBSTR_SIZE_LIMIT {
            Kind::StrEmb
        } else {
            Kind::StrRaw
        };
        Self::build(key, value, kind, expire_at, access, 0)
    }

    /// Builds a string entry with the `raw` encoding and `slack` spare bytes (APPEND/SETRANGE results).
    pub fn new_raw_string(
        key: &[u8],
        value: &[u8],
        expire_at: Option<i64>,
        access: u32,
        slack: usize,
    ) -> Entry {
        Self::build(key, value, Kind::StrRaw, expire_at, access, slack)
    }

    fn build(
        key: &[u8],
        value: &[u8],
        kind: Kind,
        expire_at: Option<i64>,
        access: u32,
        slack: usize,
    ) -> Entry {
        let raw_extra = if kind == Kind::StrRaw { 4 + slack } else { 0 };
        let cap = HDR
            + if expire_at.is_some() { 8 } else { 0 }
            + varint_len(key.len())
            + key.len()
            + value.len()
            + raw_extra;
        let mut out = Vec::with_capacity(cap);
        out.push(if expire_at.is_some() { FLAG_EXPIRE } else { 0 });
        out.push(kind as u8);
        out.extend_from_slice(&access.to_le_bytes());
        if let Some(at) = expire_at {
            out.extend_from_slice(&at.to_le_bytes());
        }
        put_varint(&mut out, key.len());
        out.extend_from_slice(key);
        if kind == Kind::StrRaw {
            // Values longer than u32::MAX cannot occur: proto-max-bulk-len is capped below 4 GiB
            // for string growth by the command layer (Redis caps strings at 512 MiB).
            let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(value);
            out.resize(out.len() + slack, 0);
        } else {
            out.extend_from_slice(value);
        }
        Entry::inline(out)
    }

    #[inline]
    fn inline(out: Vec<u8>) -> Entry {
        Entry {
            repr: Repr::Inline(out.into_boxed_slice()),
        }
    }

    /// Builds an entry holding a collection value.
    pub fn new_object(key: &[u8], value: Value, expire_at: Option<i64>, access: u32) -> Entry {
        let mut meta = Vec::with_capacity(HDR + 8 + varint_len(key.len()) + key.len());
        meta.push(FLAG_SLOT | if expire_at.is_some() { FLAG_EXPIRE } else { 0 });
        meta.push(value.kind() as u8);
        meta.extend_from_slice(&access.to_le_bytes());
        meta.extend_from_slice(&expire_at.unwrap_or(0).to_le_bytes());
        put_varint(&mut meta, key.len());
        meta.extend_from_slice(key);
        Entry {
            repr: Repr::Object(Box::new(Object {
                meta: meta.into_boxed_slice(),
                value,
            })),
        }
    }

    #[inline]
    fn buf(&self) -> &[u8] {
        match &self.repr {
            Repr::Inline(b) => b,
            Repr::Object(o) => &o.meta,
        }
    }

    #[inline]
    fn buf_mut(&mut self) -> &mut [u8] {
        match &mut self.repr {
            Repr::Inline(b) => b,
            Repr::Object(o) => &mut o.meta,
        }
    }

    /// The collection value, for non-string entries.
    #[inline]
    pub fn value(&self) -> Option<&Value> {
        match &self.repr {
            Repr::Inline(_) => None,
            Repr::Object(o) => Some(&o.value),
        }
    }

    /// The collection value for in-place modification. The value's type must not change (the
    /// header's type byte is not rewritten); replace the entry to change the type.
    #[inline]
    pub fn value_mut(&mut self) -> Option<&mut Value> {
        match &mut self.repr {
            Repr::Inline(_) => None,
            Repr::Object(o) => Some(&mut o.value),
        }
    }

    /// Takes the collection value out, dropping the key (for moving values between keys).
    pub fn into_value(self) -> Option<Value> {
        match self.repr {
            Repr::Inline(_) => None,
            Repr::Object(o) => Some(o.value),
        }
    }

    /// The OBJECT ENCODING name (strings: from the kind; collections: from the value).
    pub fn encoding_name(&self) -> &'static str {
        match &self.repr {
            Repr::Inline(_) => self.kind().encoding_name(),
            Repr::Object(o) => o.value.encoding_name(),
        }
    }

    fn flags(&self) -> u8 {
        self.buf().first().copied().unwrap_or(0)
    }

    fn key_start(&self) -> (usize, usize) {
        let pos = if self.flags() & (FLAG_EXPIRE | FLAG_SLOT) != 0 {
            HDR + 8
        } else {
            HDR
        };
        let (len, used) = get_varint(self.buf(), pos);
        (pos + used, len)
    }

    /// The address of the entry's block (the one a lookup reads to compare the key), for a
    /// prefetch: taking it reads only the table's bucket, not the block.
    #[inline]
    pub fn block_addr(&self) -> usize {
        match &self.repr {
            Repr::Inline(b) => b.as_ptr() as usize,
            Repr::Object(o) => &**o as *const Object as usize,
        }
    }

    /// The key's bytes.
    pub fn key(&self) -> &[u8] {
        let (start, len) = self.key_start();
        self.buf().get(start..start + len).unwrap_or(&[])
    }

    /// Type and encoding.
    pub fn kind(&self) -> Kind {
        Kind::from_byte(self.buf().get(1).copied().unwrap_or(0))
    }

    /// Absolute expiry time in unix milliseconds, if the key is volatile.
    pub fn expire_at(&self) -> Option<i64> {
        if self.flags() & FLAG_EXPIRE == 0 {
            return None;
        }
        let b: [u8; 8] = self.buf().get(HDR..HDR + 8)?.try_into().ok()?;
        Some(i64::from_le_bytes(b))
    }

    /// True when the key has an expiry at or before `now_ms`.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        matches!(self.expire_at(), Some(at) if at <= now_ms)
    }

    /// The access field (LRU clock or LFU data, as the eviction policy interprets it).
    pub fn access(&self) -> u32 {
        match self
            .buf()
            .get(2..6)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
        {
            Some(b) => u32::from_le_bytes(b),
            None => 0,
        }
    }

    /// Overwrites the access field in place.
    pub fn set_access(&mut self, v: u32) {
        if let Some(s) = self.buf_mut().get_mut(2..6) {
            s.copy_from_slice(&v.to_le_bytes());
        }
    }

    fn payload_start(&self) -> usize {
        let (start, len) = self.key_start();
        start + len
    }

    /// The string value (for every string encoding).
    pub fn str_value(&self) -> &[u8] {
        let p = self.payload_start();
        if self.kind() == Kind::StrRaw {
            let len = self.raw_len(p);
            self.buf().get(p + 4..p + 4 + len).unwrap_or(&[])
        } else {
            self.buf().get(p..).unwrap_or(&[])
        }
    }

    fn raw_len(&self, p: usize) -> usize {
        match self
            .buf()
            .get(p..p + 4)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
        {
            Some(b) => u32::from_le_bytes(b) as usize,
            None => 0,
        }
    }

    /// Spare bytes after a raw string's value (0 for other encodings).
    pub fn raw_slack(&self) -> usize {
        if self.kind() != Kind::StrRaw {
            return 0;
        }
        let p = self.payload_start();
        self.buf().len().saturating_sub(p + 4 + self.raw_len(p))
    }

    /// Appends to a raw string in place when its spare capacity allows; returns false otherwise.
    pub fn try_append_in_place(&mut self, extra: &[u8]) -> bool {
        if self.kind() != Kind::StrRaw || self.raw_slack() < extra.len() {
            return false;
        }
        let p = self.payload_start();
        let len = self.raw_len(p);
        let start = p + 4 + len;
        let Some(dst) = self.buf_mut().get_mut(start..start + extra.len()) else {
            return false;
        };
        dst.copy_from_slice(extra);
        let new_len = u32::try_from(len + extra.len()).unwrap_or(u32::MAX);
        if let Some(l) = self.buf_mut().get_mut(p..p + 4) {
            l.copy_from_slice(&new_len.to_le_bytes());
        }
        true
    }

    /// Overwrites an `int`-encoded value with another integer text of the same length in place
    /// (INCR on a counter without reallocating); returns false when the lengths differ or the
    /// entry is not `int`-encoded. The caller guarantees `text` is a canonical integer.
    pub fn replace_int_in_place(&mut self, text: &[u8]) -> bool {
        if self.kind() != Kind::StrInt {
            return false;
        }
        let p = self.payload_start();
        match self.buf_mut().get_mut(p..) {
            Some(dst) if dst.len() == text.len() => {
                dst.copy_from_slice(text);
                true
            }
            _ => false,
        }
    }

    /// Rewrites a short string entry (`int` or `embstr`, no expiry) with `value`, which must
    /// have the same length and be of string kind `kind` (`int` or `embstr`, as
    /// [`string_kind_for`] says), and sets its access field: the SET/MSET overwrite of a
    /// same-size value without a new allocation. Returns false, changing nothing, when the
    /// entry or the value does not qualify.
    pub fn overwrite_short_string(&mut self, value: &[u8], kind: Kind, access: u32) -> bool {
        if !matches!(kind, Kind::StrInt | Kind::StrEmb)
            || !matches!(self.repr, Repr::Inline(_))
            || !matches!(self.kind(), Kind::StrInt | Kind::StrEmb)
            || self.flags() != 0
        {
            return false;
        }
        let p = self.payload_start();
        let buf = self.buf_mut();
        match buf.get_mut(p..) {
            Some(dst) if dst.len() == value.len() => dst.copy_from_slice(value),
            _ => return false,
        }
        if let Some(k) = buf.get_mut(1) {
            *k = kind as u8;
        }
        self.set_access(access);
        true
    }

    /// Mutable access to a raw string's value bytes (for SETRANGE within the current length).
    pub fn raw_value_mut(&mut self) -> Option<&mut [u8]> {
        if self.kind() != Kind::StrRaw {
            return None;
        }
        let p = self.payload_start();
        let len = self.raw_len(p);
        self.buf_mut().get_mut(p + 4..p + 4 + len)
    }

    /// Changes the expiry in place when the entry has an expiry slot (strings that already
    /// have an expiry; every collection): no copy of the value. Returns false, changing
    /// nothing, when there is no slot.
    pub(crate) fn set_expire_in_place(&mut self, at: i64) -> bool {
        let flags = self.flags();
        if flags & (FLAG_EXPIRE | FLAG_SLOT) == 0 {
            return false;
        }
        match self.buf_mut().get_mut(HDR..HDR + 8) {
            Some(slot) => slot.copy_from_slice(&at.to_le_bytes()),
            None => return false,
        }
        if let Some(f) = self.buf_mut().first_mut() {
            *f = flags | FLAG_EXPIRE;
        }
        true
    }

    /// Removes the expiry in place when the entry has an expiry slot (collections); returns
    /// false, changing nothing, otherwise.
    pub(crate) fn clear_expire_in_place(&mut self) -> bool {
        let flags = self.flags();
        if flags & FLAG_SLOT == 0 {
            return false;
        }
        if let Some(f) = self.buf_mut().first_mut() {
            *f = flags & !FLAG_EXPIRE;
        }
        true
    }

    /// This entry with a new expiry (or none); the value and access data are kept. Collections
    /// change in place; strings are rebuilt (one block).
    pub fn into_expire(mut self, expire_at: Option<i64>) -> Entry {
        match expire_at {
            Some(at) if self.set_expire_in_place(at) => self,
            None if self.clear_expire_in_place() => self,
            _ => self.with_expire(expire_at),
        }
    }

    /// A copy of this entry with a new expiry (or none); the value and access data are kept.
    pub fn with_expire(&self, expire_at: Option<i64>) -> Entry {
        if let Repr::Object(o) = &self.repr {
            return Entry::new_object(self.key(), o.value.clone(), expire_at, self.access());
        }
        let p = self.payload_start();
        let key = self.key();
        let mut out = Vec::with_capacity(self.buf().len() + 8);
        out.push(if expire_at.is_some() { FLAG_EXPIRE } else { 0 });
        out.extend_from_slice(self.buf().get(1..HDR).unwrap_or(&[0; 5]));
        if let Some(at) = expire_at {
            out.extend_from_slice(&at.to_le_bytes());
        }
        put_varint(&mut out, key.len());
        out.extend_from_slice(key);
        out.extend_from_slice(self.buf().get(p..).unwrap_or(&[]));
        Entry::inline(out)
    }

    /// This entry under another key (RENAME, MOVE): value, expiry and access kept; a
    /// collection value is moved, not copied.
    pub fn into_key(self, new_key: &[u8]) -> Entry {
        let (expire, access) = (self.expire_at(), self.access());
        match self.repr {
            Repr::Object(o) => Entry::new_object(new_key, o.value, expire, access),
            Repr::Inline(_) => self.with_key(new_key),
        }
    }

    /// A copy of this entry under another key (COPY); value, expiry and access kept.
    pub fn with_key(&self, new_key: &[u8]) -> Entry {
        if let Repr::Object(o) = &self.repr {
            return Entry::new_object(new_key, o.value.clone(), self.expire_at(), self.access());
        }
        let p = self.payload_start();
        let (kstart, klen) = self.key_start();
        let hdr_end = kstart - varint_len(klen);
        let mut out = Vec::with_capacity(self.buf().len() + new_key.len());
        out.extend_from_slice(self.buf().get(..hdr_end).unwrap_or(&[]));
        put_varint(&mut out, new_key.len());
        out.extend_from_slice(new_key);
        out.extend_from_slice(self.buf().get(p..).unwrap_or(&[]));
        Entry::inline(out)
    }

    /// Bytes of heap this entry owns (its block; for collections also the value), for MEMORY
    /// USAGE and INFO.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Inline(b) => b.len(),
            Repr::Object(o) => o.meta.len() + std::mem::size_of::<Object>() + o.value.heap_size(),
        }
    }

    /// Allocations freed when the entry is dropped (1 for strings).
    pub fn free_effort(&self) -> usize {
        match &self.repr {
            Repr::Inline(_) => 1,
            Repr::Object(o) => o.value.free_effort(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_int_parsing_follows_string2ll() {
        assert_eq!(parse_i64_strict(b"0"), Some(0));
        assert_eq!(parse_i64_strict(b"-12"), Some(-12));
        assert_eq!(parse_i64_strict(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64_strict(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1a",
            b"-",
        ] {
            assert_eq!(parse_i64_strict(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn encodings_follow_redis_thresholds() {
        assert_eq!(string_kind_for(b"12345"), Kind::StrInt);
        assert_eq!(string_kind_for(b"012"), Kind::StrEmb);
        assert_eq!(string_kind_for(&[b'a'; 44]), Kind::StrEmb);
        assert_eq!(string_kind_for(&[b'a'; 45]), Kind::StrRaw);
    }

    #[test]
    fn entry_round_trips_all_fields() {
        let long_key = vec![b'k'; 300];
        for key in [&b"k"[..], &long_key[..]] {
            for val in [&b"v"[..], b"123", &[b'x'; 100][..]] {
                for exp in [None, Some(1_700_000_000_123)] {
                    let mut e = Entry::new_string(key, val, exp, 77);
                    assert_eq!(e.key(), key);
                    assert_eq!(e.str_value(), val);
                    assert_eq!(e.expire_at(), exp);
                    assert_eq!(e.access(), 77);
                    e.set_access(5);
                    assert_eq!(e.access(), 5);
                    let e2 = e.with_expire(Some(42));
                    assert_eq!(e2.expire_at(), Some(42));
                    assert_eq!(e2.str_value(), val);
                    assert_eq!(e2.key(), key);
                    let mut e2b = e2.with_expire(Some(1));
                    assert!(e2b.set_expire_in_place(43));
                    assert_eq!(e2b.expire_at(), Some(43));
                    assert_eq!(e2b.str_value(), val);
                    assert_eq!(e2b.key(), key);
                    let e3 = e2.with_expire(None).with_key(b"other");
                    assert_eq!(e3.expire_at(), None);
                    assert_eq!(e3.key(), b"other");
                    assert_eq!(e3.str_value(), val);
                    assert_eq!(e3.kind(), e.kind());
                }
            }
        }
    }

    #[test]
    fn plain_strings_never_get_the_int_encoding() {
        let e = Entry::new_plain_string(b"k", b"5200", Some(3), 9);
        assert_eq!(e.kind(), Kind::StrEmb);
        assert_eq!(e.str_value(), b"5200");
        assert_eq!(e.expire_at(), Some(3));
        let long = [b'1'; 45];
        let e = Entry::new_plain_string(b"k", &long, None, 9);
        assert_eq!(e.kind(), Kind::StrRaw);
        assert_eq!(e.str_value(), &long[..]);
        assert_eq!(e.raw_slack(), 0);
    }

    #[test]
    fn raw_strings_append_in_place_within_slack() {
        let mut e = Entry::new_raw_string(b"key", b"abc", Some(9), 0, 4);
        assert_eq!(e.kind(), Kind::StrRaw);
        assert!(e.try_append_in_place(b"de"));
        assert_eq!(e.str_value(), b"abcde");
        assert_eq!(e.raw_slack(), 2);
        assert!(!e.try_append_in_place(b"xyz"));
        assert!(e.try_append_in_place(b"fg"));
        assert_eq!(e.str_value(), b"abcdefg");
        assert_eq!(e.expire_at(), Some(9));
        if let Some(v) = e.raw_value_mut() {
            v[0] = b'A';
        }
        assert_eq!(e.str_value(), b"Abcdefg");
        assert!(
            !e.replace_int_in_place(b"1234567"),
            "raw strings are not ints"
        );
        let mut n = Entry::new_string(b"n", b"19", None, 0);
        assert!(n.replace_int_in_place(b"20"));
        assert_eq!(n.str_value(), b"20");
        assert!(!n.replace_int_in_place(b"100"));
        assert_eq!(n.str_value(), b"20");
        let moved = e.with_key(b"k2").with_expire(None);
        assert_eq!(moved.str_value(), b"Abcdefg");
    }

    #[test]
    fn object_entries_keep_header_and_change_expiry_in_place() {
        use crate::list::List;
        let e = Entry::new_object(b"mylist", Value::List(List::new()), None, 77);
        assert_eq!(std::mem::size_of::<Entry>(), 16);
        assert_eq!(e.key(), b"mylist");
        assert_eq!(e.kind(), Kind::List);
        assert_eq!(e.kind().type_name(), "list");
        assert_eq!(e.expire_at(), None);
        assert_eq!(e.access(), 77);
        assert!(e.value().is_some());
        let e = e.into_expire(Some(1234));
        assert_eq!(e.expire_at(), Some(1234));
        assert_eq!(e.key(), b"mylist", "the key survives the in-place expiry");
        let e = e.into_key(b"other");
        assert_eq!(
            (e.key(), e.expire_at(), e.access()),
            (&b"other"[..], Some(1234), 77)
        );
        let e = e.into_expire(None);
        assert_eq!(e.expire_at(), None);
        assert!(!e.is_expired(i64::MAX));
        let c = e.with_key(b"copy");
        assert_eq!(c.key(), b"copy");
        assert_eq!(c.kind(), Kind::List);
        assert!(e.into_value().is_some());
    }
}
