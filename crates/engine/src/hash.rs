//! A hash: `listpack` when small, `hashtable` when big; fields may carry expiry times (Redis 7.4
//! hash-field expiration).
//!
//! # Encodings
//! - **Small** (`listpack`, or `listpackex` once any field was given a TTL): the field/value pairs
//!   in one [`Packed`] buffer, in insertion order (HGETALL order matches Redis for small
//!   hashes). Field expiry times live in a parallel `Vec<i64>` that exists only once some field
//!   got a TTL (Redis switches such hashes to `listpackex` and never back).
//! - **Big** (`hashtable`): the items in a `Vec` (each field's name stored once) indexed by a
//!   `hashbrown::HashTable<u32>` of positions; fields and values of up to 22 bytes are stored
//!   in the item itself (no allocation, and the probe's field compare stays in the item's
//!   memory). Removal swaps the last item into the hole, which keeps random picks O(1) and
//!   lets HSCAN walk positions from the top down with Redis's guarantee (an item present for
//!   the whole scan is returned at least once).
//!
//! A hash converts from small to big when it gets more than `hash-max-listpack-entries` fields or
//! a field or value longer than `hash-max-listpack-value` bytes, and never converts back
//! (Redis's rule).
//!
//! # Field expiry
//! An expiry is an absolute unix time in ms (`> 0`); a field is expired at `now` when its time
//! is `<= now`. Expired fields are invisible to every read taking a `now`; [`Hash::purge_expired`]
//! removes them (commands call it before working on a hash; the shard's active cycle calls it
//! for hashes it tracks). The hash keeps a lower bound of its earliest expiry so that checking
//! whether anything is due is O(1).

use crate::packed::Packed;
use crate::table::hash_key;
use crate::value::EncodingLimits;
use hashbrown::HashTable;

/// Stored expiry meaning "no TTL" (valid expiry times are > 0).
const NO_TTL: i64 = 0;

/// The expiry state of one field at some instant (HTTL / HPERSIST / HEXPIRE conditions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldTtl {
    /// No such field (or it has expired).
    Missing,
    /// The field exists and has no expiry.
    Persistent,
    /// The field exists and expires at this unix time in ms.
    At(i64),
}

/// Bytes a [`Compact`] keeps inline.
const COMPACT_INLINE: usize = 22;

/// A field name or value of a big hash: up to [`COMPACT_INLINE`] bytes inside the item (no
/// allocation, and a field compare reads the item's own cache line), longer ones boxed.
#[derive(Clone, Debug)]
enum Compact {
    Inline { len: u8, buf: [u8; COMPACT_INLINE] },
    Heap(Box<[u8]>),
}

const _: () = assert!(std::mem::size_of::<Compact>() == 24);

impl Compact {
    /// Heap bytes held (0 when inline).
    fn heap_len(&self) -> usize {
        match self {
            Compact::Inline { .. } => 0,
            Compact::Heap(b) => b.len(),
        }
    }

    /// Replaces the bytes, reusing a boxed buffer of the same length (HSET overwriting a
    /// value with one as long, the common case, allocates nothing).
    fn set(&mut self, v: &[u8]) {
        if let Compact::Heap(b) = self {
            if b.len() == v.len() {
                b.copy_from_slice(v);
                return;
            }
        }
        *self = Compact::from(v);
    }
}

impl From<&[u8]> for Compact {
    #[inline]
    fn from(v: &[u8]) -> Compact {
        if v.len() <= COMPACT_INLINE {
            let mut buf = [0u8; COMPACT_INLINE];
            buf[..v.len()].copy_from_slice(v);
            Compact::Inline {
                len: v.len() as u8,
                buf,
            }
        } else {
            Compact::Heap(v.into())
        }
    }
}

impl std::ops::Deref for Compact {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Compact::Inline { len, buf } => &buf[..usize::from(*len)],
            Compact::Heap(b) => b,
        }
    }
}

/// One field of a big hash.
#[derive(Clone, Debug)]
struct Item {
    field: Compact,
    value: Compact,
    exp: i64,
}

/// The `hashtable` encoding: items by position plus an index from field to position.
#[derive(Clone, Debug)]
struct Big {
    items: Vec<Item>,
    index: HashTable<u32>,
    /// A lower bound of the earliest field expiry (`i64::MAX`: none).
    min_exp: i64,
}

impl Default for Big {
    fn default() -> Self {
        Big {
            items: Vec::new(),
            index: HashTable::new(),
            min_exp: i64::MAX,
        }
    }
}

/// Field expiry times of a small hash (`listpackex`): one per pair, `NO_TTL` for none.
#[derive(Clone, Debug)]
struct SmallTtl {
    exp: Vec<i64>,
    /// A lower bound of the earliest field expiry (`i64::MAX`: none).
    min_exp: i64,
}

impl Big {
    fn find(&self, f: &[u8]) -> Option<usize> {
        let items = &self.items;
        self.index
            .find(hash_key(f), |&i| {
                items.get(i as usize).is_some_and(|it| &*it.field == f)
            })
            .map(|&i| i as usize)
    }

    fn push(&mut self, item: Item) {
        let Big { items, index, .. } = self;
        let h = hash_key(&item.field);
        let pos = items.len() as u32;
        items.push(item);
        index.insert_unique(h, pos, |&i| {
            items.get(i as usize).map_or(0, |it| hash_key(&it.field))
        });
    }

    fn remove_at(&mut self, pos: usize) -> Option<Item> {
        let Big { items, index, .. } = self;
        let h = hash_key(&items.get(pos)?.field);
        if let Ok(e) = index.find_entry(h, |&i| i as usize == pos) {
            e.remove();
        }
        let last = items.len() - 1;
        if pos != last {
            let hl = items.get(last).map_or(0, |it| hash_key(&it.field));
            if let Some(slot) = index.find_mut(hl, |&i| i as usize == last) {
                *slot = pos as u32;
            }
        }
        Some(items.swap_remove(pos))
    }
}

#[derive(Clone, Debug)]
enum Enc {
    Small {
        lp: Packed,
        ttl: Option<Box<SmallTtl>>,
    },
    Big(Box<Big>),
}

/// A hash value (see the module docs for its encodings and field expiry). 40 bytes: the
/// expiry data of a small hash lives behind a pointer that is null until a field gets a TTL.
#[derive(Clone, Debug)]
pub struct Hash {
    enc: Enc,
}

impl Default for Hash {
    fn default() -> Self {
        Hash {
            enc: Enc::Small {
                lp: Packed::new(),
                ttl: None,
            },
        }
    }
}

#[inline]
fn expired(exp: i64, now_ms: i64) -> bool {
    exp != NO_TTL && exp <= now_ms
}

impl SmallTtl {
    /// Expiry data for `n` pairs without TTL.
    fn boxed(n: usize) -> Box<SmallTtl> {
        Box::new(SmallTtl {
            exp: vec![NO_TTL; n],
            min_exp: i64::MAX,
        })
    }
}

/// Moves pair `i` (at offset `off`) of a `listpackex` hash to where Redis keeps it for expiry
/// `exp`: fields with a TTL ordered by expiry (after equal ones), before the fields without TTL;
/// a field without TTL goes to the end.
fn small_reposition(lp: &mut Packed, t: &mut SmallTtl, i: usize, off: usize, exp: i64) {
    let Some((f, voff)) = lp.at(off) else { return };
    let f = f.to_vec();
    let Some(v) = lp.get_at(voff).map(<[u8]>::to_vec) else {
        return;
    };
    lp.remove_range(off, 2);
    if i < t.exp.len() {
        t.exp.remove(i);
    }
    let mut j = t.exp.len();
    if exp != NO_TTL {
        if let Some(pos) = t.exp.iter().position(|&e| e == NO_TTL || e > exp) {
            j = pos;
        }
    }
    let at = if j == t.exp.len() {
        Some(lp.end())
    } else {
        lp.offset_of(2 * j as i64)
    };
    let at = at.unwrap_or(lp.end());
    lp.insert_at(at, &f);
    lp.insert_at(at + crate::packed::encoded_len(f.len()), &v);
    t.exp.insert(j.min(t.exp.len()), exp);
}

/// Walks a small hash's pairs: (pair index, field offset, value offset, offset after the pair).
fn small_find(lp: &Packed, f: &[u8]) -> Option<(usize, usize, usize)> {
    let mut off = 0;
    let mut i = 0;
    while let Some((k, voff)) = lp.at(off) {
        if k == f {
            return Some((i, off, voff));
        }
        off = lp.at(voff)?.1;
        i += 1;
    }
    None
}

impl Hash {
    /// An empty hash (small encoding).
    pub fn new() -> Hash {
        Hash::default()
    }

    /// Number of fields, counting expired fields not yet purged (call
    /// [`Hash::purge_expired`] first for an exact count).
    pub fn len(&self) -> usize {
        match &self.enc {
            Enc::Small { lp, .. } => lp.len() / 2,
            Enc::Big(b) => b.items.len(),
        }
    }

    /// True when the hash has no field at all (the key must then be deleted).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The OBJECT ENCODING name: `listpack`, `listpackex` (small, fields may have TTLs) or
    /// `hashtable`.
    pub fn encoding_name(&self) -> &'static str {
        match &self.enc {
            Enc::Small { ttl: None, .. } => "listpack",
            Enc::Small { ttl: Some(_), .. } => "listpackex",
            Enc::Big(_) => "hashtable",
        }
    }

    /// True while the hash uses the compact (listpack) encoding.
    pub fn is_small(&self) -> bool {
        matches!(self.enc, Enc::Small { .. })
    }

    /// Heap bytes owned (for MEMORY USAGE / INFO).
    pub fn heap_size(&self) -> usize {
        match &self.enc {
            Enc::Small { lp, ttl } => {
                lp.heap_size()
                    + ttl.as_ref().map_or(0, |t| {
                        t.exp.capacity() * 8 + std::mem::size_of::<SmallTtl>()
                    })
            }
            Enc::Big(b) => {
                std::mem::size_of::<Big>()
                    + b.items.capacity() * std::mem::size_of::<Item>()
                    + b.items
                        .iter()
                        .map(|it| it.field.heap_len() + it.value.heap_len())
                        .sum::<usize>()
                    + b.index.capacity() * (std::mem::size_of::<u32>() + 1)
            }
        }
    }

    /// How many separate allocations freeing this value costs (lazy-free decisions).
    pub fn free_effort(&self) -> usize {
        match &self.enc {
            Enc::Small { .. } => 1,
            Enc::Big(b) => b.items.len(),
        }
    }

    /// The value of a field (SORT BY/GET `*->field` uses this; keep the signature). Expired
    /// fields read as missing at `now_ms`.
    pub fn get_field(&self, field: &[u8], now_ms: i64) -> Option<&[u8]> {
        match self.raw(field) {
            Some((v, exp)) if !expired(exp, now_ms) => Some(v),
            _ => None,
        }
    }

    /// Every (field, value, expiry ms) triple (RDB, DEBUG DIGEST use this; keep the
    /// signature). Expired fields are skipped at `now_ms`.
    pub fn for_each(&self, now_ms: i64, mut f: impl FnMut(&[u8], &[u8], Option<i64>)) {
        self.for_each_raw(|k, v, exp| {
            if !expired(exp, now_ms) {
                f(k, v, (exp != NO_TTL).then_some(exp));
            }
        });
    }

    /// Every pair with its stored expiry (`NO_TTL` for none), expired ones included.
    fn for_each_raw(&self, mut f: impl FnMut(&[u8], &[u8], i64)) {
        match &self.enc {
            Enc::Small { lp, ttl } => {
                let mut it = lp.iter();
                let mut i = 0;
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    let e = ttl
                        .as_ref()
                        .and_then(|t| t.exp.get(i).copied())
                        .unwrap_or(NO_TTL);
                    f(k, v, e);
                    i += 1;
                }
            }
            Enc::Big(b) => {
                for it in &b.items {
                    f(&it.field, &it.value, it.exp);
                }
            }
        }
    }

    /// The stored value and expiry of a field, expired or not.
    fn raw(&self, field: &[u8]) -> Option<(&[u8], i64)> {
        match &self.enc {
            Enc::Small { lp, ttl } => {
                let (i, _, voff) = small_find(lp, field)?;
                let e = ttl
                    .as_ref()
                    .and_then(|t| t.exp.get(i).copied())
                    .unwrap_or(NO_TTL);
                Some((lp.get_at(voff)?, e))
            }
            Enc::Big(b) => {
                let it = b.items.get(b.find(field)?)?;
                Some((&it.value, it.exp))
            }
        }
    }

    /// The expiry state of `field` at `now_ms`.
    pub fn ttl(&self, field: &[u8], now_ms: i64) -> FieldTtl {
        match self.raw(field) {
            None => FieldTtl::Missing,
            Some((_, e)) if expired(e, now_ms) => FieldTtl::Missing,
            Some((_, NO_TTL)) => FieldTtl::Persistent,
            Some((_, e)) => FieldTtl::At(e),
        }
    }

    /// Sets `field` to `value`; returns true when the field was created. An existing field
    /// keeps its expiry when `keep_ttl` (HINCRBY, HSETEX KEEPTTL), else loses it (HSET).
    /// Converts to `hashtable` when `limits` are crossed. Expired fields should have been
    /// purged first (an expired field is overwritten as if it existed).
    pub fn set(
        &mut self,
        field: &[u8],
        value: &[u8],
        keep_ttl: bool,
        limits: &EncodingLimits,
    ) -> bool {
        if self.is_small()
            && (field.len() > limits.hash_max_listpack_value
                || value.len() > limits.hash_max_listpack_value)
        {
            self.convert();
        }
        let created = match &mut self.enc {
            Enc::Small { lp, ttl } => match small_find(lp, field) {
                Some((i, off, voff)) => {
                    lp.replace_at(voff, value);
                    if !keep_ttl {
                        if let Some(t) = ttl.as_mut() {
                            if t.exp.get(i).is_some_and(|&e| e != NO_TTL) {
                                // Redis re-inserts a field that loses its TTL at the end.
                                small_reposition(lp, t, i, off, NO_TTL);
                            }
                        }
                    }
                    false
                }
                None => {
                    lp.push_back(field);
                    lp.push_back(value);
                    if let Some(t) = ttl.as_mut() {
                        t.exp.push(NO_TTL);
                    }
                    true
                }
            },
            Enc::Big(b) => match b.find(field) {
                Some(pos) => {
                    if let Some(it) = b.items.get_mut(pos) {
                        it.value.set(value);
                        if !keep_ttl {
                            it.exp = NO_TTL;
                        }
                    }
                    false
                }
                None => {
                    b.push(Item {
                        field: field.into(),
                        value: value.into(),
                        exp: NO_TTL,
                    });
                    true
                }
            },
        };
        if created && self.is_small() && self.len() > limits.hash_max_listpack_entries {
            self.convert();
        }
        created
    }

    /// Converts to the `hashtable` encoding (no-op when already big).
    pub fn convert(&mut self) {
        let Enc::Small { lp, ttl } = &self.enc else {
            return;
        };
        let mut big = Big::default();
        big.items.reserve(lp.len() / 2);
        let mut it = lp.iter();
        let mut i = 0;
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            let e = ttl
                .as_ref()
                .and_then(|t| t.exp.get(i).copied())
                .unwrap_or(NO_TTL);
            big.push(Item {
                field: k.into(),
                value: v.into(),
                exp: e,
            });
            i += 1;
        }
        big.min_exp = self.min_exp();
        self.enc = Enc::Big(Box::new(big));
    }

    /// Removes `field` (expired or not); returns whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.enc {
            Enc::Small { lp, ttl } => {
                let Some((i, off, _)) = small_find(lp, field) else {
                    return false;
                };
                lp.remove_range(off, 2);
                if let Some(t) = ttl.as_mut() {
                    if i < t.exp.len() {
                        t.exp.remove(i);
                    }
                }
                true
            }
            Enc::Big(b) => match b.find(field) {
                Some(pos) => b.remove_at(pos).is_some(),
                None => false,
            },
        }
    }

    /// Sets (`Some(unix ms)`) or clears (`None`) the expiry of an existing field; returns
    /// false when the field does not exist. A small hash becomes `listpackex` on its first TTL.
    pub fn set_expire(&mut self, field: &[u8], at: Option<i64>) -> bool {
        let stored = at.unwrap_or(NO_TTL);
        let found = match &mut self.enc {
            Enc::Small { lp, ttl } => match small_find(lp, field) {
                Some((i, off, _)) => {
                    if at.is_some() || ttl.is_some() {
                        let n = lp.len() / 2;
                        let t = ttl.get_or_insert_with(|| SmallTtl::boxed(n));
                        small_reposition(lp, t, i, off, stored);
                        t.min_exp = t.min_exp.min(at.unwrap_or(i64::MAX));
                    }
                    true
                }
                None => false,
            },
            Enc::Big(b) => match b.find(field).and_then(|p| b.items.get_mut(p)) {
                Some(it) => {
                    it.exp = stored;
                    b.min_exp = b.min_exp.min(at.unwrap_or(i64::MAX));
                    true
                }
                None => false,
            },
        };
        found
    }

    /// Prepares a small hash for field TTLs (`listpack` becomes `listpackex`), as Redis does
    /// when a command that may set field expiry starts on it, whether or not a TTL ends up set.
    pub fn enable_field_ttls(&mut self) {
        if let Enc::Small {
            lp,
            ttl: ttl @ None,
        } = &mut self.enc
        {
            *ttl = Some(SmallTtl::boxed(lp.len() / 2));
        }
    }

    /// The stored lower bound of the earliest expiry (`i64::MAX`: none).
    fn min_exp(&self) -> i64 {
        match &self.enc {
            Enc::Small { ttl: None, .. } => i64::MAX,
            Enc::Small { ttl: Some(t), .. } => t.min_exp,
            Enc::Big(b) => b.min_exp,
        }
    }

    /// A lower bound of the earliest field expiry, `None` when no field has had a TTL since
    /// the last purge.
    pub fn next_expiry(&self) -> Option<i64> {
        let m = self.min_exp();
        (m != i64::MAX).then_some(m)
    }

    /// Removes every field expired at `now_ms`; returns how many. O(1) when nothing is due.
    pub fn purge_expired(&mut self, now_ms: i64) -> usize {
        if self.min_exp() > now_ms {
            return 0;
        }
        let mut removed = 0;
        let mut min = i64::MAX;
        match &mut self.enc {
            Enc::Small { lp, ttl } => {
                if let Some(t) = ttl.as_mut() {
                    let x = &mut t.exp;
                    let mut off = 0;
                    let mut i = 0;
                    while i < x.len() {
                        let e = x.get(i).copied().unwrap_or(NO_TTL);
                        if expired(e, now_ms) {
                            lp.remove_range(off, 2);
                            x.remove(i);
                            removed += 1;
                            continue;
                        }
                        if e != NO_TTL {
                            min = min.min(e);
                        }
                        let Some((_, voff)) = lp.at(off) else { break };
                        let Some((_, next)) = lp.at(voff) else { break };
                        off = next;
                        i += 1;
                    }
                    t.min_exp = min;
                }
            }
            Enc::Big(b) => {
                let mut pos = 0;
                while pos < b.items.len() {
                    let e = b.items.get(pos).map_or(NO_TTL, |it| it.exp);
                    if expired(e, now_ms) {
                        b.remove_at(pos);
                        removed += 1;
                        continue;
                    }
                    if e != NO_TTL {
                        min = min.min(e);
                    }
                    pos += 1;
                }
                b.min_exp = min;
            }
        }
        removed
    }

    /// The pair at position `i` (0-based, in iteration order), expired or not: HRANDFIELD picks
    /// positions with it (O(1) for big hashes, O(i) for small ones).
    pub fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match &self.enc {
            Enc::Small { lp, .. } => {
                let off = lp.offset_of(2 * i as i64)?;
                let (k, voff) = lp.at(off)?;
                Some((k, lp.get_at(voff)?))
            }
            Enc::Big(b) => b.items.get(i).map(|it| (&*it.field, &*it.value)),
        }
    }

    /// Every live pair in iteration order (small hashes: insertion order).
    pub fn pairs(&self, now_ms: i64) -> Vec<(&[u8], &[u8])> {
        let mut out = Vec::with_capacity(self.len());
        match &self.enc {
            Enc::Small { lp, ttl } => {
                let mut it = lp.iter();
                let mut i = 0;
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    let e = ttl
                        .as_ref()
                        .and_then(|t| t.exp.get(i).copied())
                        .unwrap_or(NO_TTL);
                    if !expired(e, now_ms) {
                        out.push((k, v));
                    }
                    i += 1;
                }
            }
            Enc::Big(b) => {
                for it in &b.items {
                    if !expired(it.exp, now_ms) {
                        out.push((&*it.field, &*it.value));
                    }
                }
            }
        }
        out
    }

    /// One HSCAN step over a big hash: visits positions downward from `cursor - 1` (cursor 0
    /// starts at the top) until `count` live items were visited; returns the next cursor (0
    /// when done). Items present for the whole scan are visited at least once: removal moves
    /// the last item (already visited) into the hole, and additions go to the top. A small
    /// hash is visited whole and returns 0.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        now_ms: i64,
        mut visit: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        let Enc::Big(b) = &self.enc else {
            for (k, v) in self.pairs(now_ms) {
                visit(k, v);
            }
            return 0;
        };
        let n = b.items.len() as u64;
        let mut pos = if cursor == 0 || cursor > n { n } else { cursor };
        let mut seen = 0;
        while pos > 0 && seen < count {
            pos -= 1;
            if let Some(it) = b.items.get(pos as usize) {
                if !expired(it.exp, now_ms) {
                    visit(&it.field, &it.value);
                    seen += 1;
                }
            }
        }
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn limits(entries: usize, value: usize) -> EncodingLimits {
        EncodingLimits {
            hash_max_listpack_entries: entries,
            hash_max_listpack_value: value,
            ..EncodingLimits::default()
        }
    }

    #[test]
    fn small_keeps_insertion_order_and_converts_on_entries() {
        let l = limits(3, 64);
        let mut h = Hash::new();
        assert!(h.set(b"b", b"1", false, &l));
        assert!(h.set(b"a", b"2", false, &l));
        assert!(!h.set(b"b", b"3", false, &l));
        let got: Vec<_> = h
            .pairs(0)
            .into_iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        assert_eq!(
            got,
            vec![
                (b"b".to_vec(), b"3".to_vec()),
                (b"a".to_vec(), b"2".to_vec())
            ]
        );
        assert_eq!(h.encoding_name(), "listpack");
        h.set(b"c", b"x", false, &l);
        assert_eq!(h.encoding_name(), "listpack");
        h.set(b"d", b"x", false, &l);
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.len(), 4);
        assert_eq!(h.get_field(b"b", 0), Some(&b"3"[..]));
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!(h.encoding_name(), "hashtable");
    }

    fn keys(h: &Hash) -> String {
        h.pairs(0)
            .into_iter()
            .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    #[test]
    fn listpackex_keeps_redis_order() {
        let l = limits(128, 64);
        let mut h = Hash::new();
        for f in ["a", "b", "c", "d"] {
            h.set(f.as_bytes(), f.as_bytes(), false, &l);
        }
        h.enable_field_ttls();
        assert_eq!(h.encoding_name(), "listpackex");
        assert_eq!(keys(&h), "abcd");
        h.set_expire(b"c", Some(200));
        assert_eq!(keys(&h), "cabd");
        h.set_expire(b"a", Some(100));
        assert_eq!(keys(&h), "acbd");
        h.set_expire(b"b", Some(150));
        assert_eq!(keys(&h), "abcd");
        h.set_expire(b"a", None);
        assert_eq!(keys(&h), "bcda");
        h.set(b"c", b"x", false, &l);
        assert_eq!(keys(&h), "bdac");
        h.set(b"b", b"y", true, &l);
        assert_eq!(keys(&h), "bdac");
        assert_eq!(h.get_field(b"b", 0), Some(&b"y"[..]));
        assert_eq!(h.get_field(b"c", 0), Some(&b"x"[..]));
        assert_eq!(h.ttl(b"b", 0), FieldTtl::At(150));
        h.set(b"e", b"e", false, &l);
        assert_eq!(keys(&h), "bdace");
        h.set_expire(b"e", Some(150));
        assert_eq!(keys(&h), "bedac");
    }

    #[test]
    fn stays_small_in_memory() {
        assert!(
            std::mem::size_of::<Hash>() <= 40,
            "{}",
            std::mem::size_of::<Hash>()
        );
    }

    #[test]
    fn long_value_converts() {
        let l = limits(128, 4);
        let mut h = Hash::new();
        h.set(b"f", b"1234", false, &l);
        assert!(h.is_small());
        h.set(b"g", b"12345", false, &l);
        assert!(!h.is_small());
        assert_eq!(h.get_field(b"f", 0), Some(&b"1234"[..]));
    }

    #[test]
    fn field_expiry_is_lazy_and_purged() {
        for big in [false, true] {
            let l = limits(128, 64);
            let mut h = Hash::new();
            for i in 0..10 {
                h.set(format!("f{i}").as_bytes(), b"v", false, &l);
            }
            if big {
                h.convert();
            }
            assert!(h.set_expire(b"f3", Some(100)));
            assert!(h.set_expire(b"f5", Some(200)));
            assert!(!h.set_expire(b"zz", Some(100)));
            if !big {
                assert_eq!(h.encoding_name(), "listpackex");
            }
            assert_eq!(h.ttl(b"f3", 50), FieldTtl::At(100));
            assert_eq!(h.ttl(b"f4", 50), FieldTtl::Persistent);
            assert_eq!(h.ttl(b"f3", 100), FieldTtl::Missing);
            assert_eq!(h.get_field(b"f3", 100), None);
            assert_eq!(h.get_field(b"f3", 99), Some(&b"v"[..]));
            let mut n = 0;
            h.for_each(150, |_, _, _| n += 1);
            assert_eq!(n, 9);
            assert_eq!(h.purge_expired(99), 0);
            assert_eq!(h.purge_expired(150), 1);
            assert_eq!(h.len(), 9);
            assert_eq!(h.next_expiry(), Some(200));
            // HSET drops the TTL; keep_ttl keeps it.
            h.set(b"f5", b"w", true, &l);
            assert_eq!(h.ttl(b"f5", 0), FieldTtl::At(200));
            h.set(b"f5", b"w", false, &l);
            assert_eq!(h.ttl(b"f5", 0), FieldTtl::Persistent);
            assert_eq!(h.purge_expired(1000), 0);
            assert_eq!(h.next_expiry(), None);
        }
    }

    #[test]
    fn scan_visits_everything_despite_removals() {
        let l = limits(4, 64);
        let mut h = Hash::new();
        for i in 0..1000 {
            h.set(format!("f{i}").as_bytes(), b"v", false, &l);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            let mut got = Vec::new();
            cursor = h.scan(cursor, 17, 0, |k, _| got.push(k.to_vec()));
            seen.extend(got);
            // Remove some items that were already seen and some not yet seen (not counted).
            step += 1;
            let victim = format!("f{}", (step * 37) % 1000);
            if h.remove(victim.as_bytes()) {
                seen.insert(victim.into_bytes());
            }
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }

    /// Random operations against a model (BTreeMap of field -> (value, expiry)).
    #[test]
    fn model_check() {
        let mut seed: u64 = 0x1234_5678;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..20 {
            let l = limits(8 + round, 6);
            let mut h = Hash::new();
            let mut m: BTreeMap<Vec<u8>, (Vec<u8>, i64)> = BTreeMap::new();
            let mut now = 1000;
            for _ in 0..2000 {
                let id = rnd(30);
                // Some fields and values longer than a big hash item keeps inline.
                let f = if id % 3 == 0 {
                    format!("f{id:0>width$}", width = 15 + id as usize).into_bytes()
                } else {
                    format!("f{id}").into_bytes()
                };
                match rnd(6) {
                    0 | 1 => {
                        let len = if rnd(4) == 0 { 18 + rnd(10) } else { rnd(9) };
                        let v = "x".repeat(len as usize).into_bytes();
                        let keep = rnd(2) == 0;
                        let created = h.set(&f, &v, keep, &l);
                        let old = m.get(&f).cloned();
                        assert_eq!(created, old.is_none());
                        let exp = match old {
                            Some((_, e)) if keep => e,
                            _ => NO_TTL,
                        };
                        m.insert(f, (v, exp));
                    }
                    2 => {
                        assert_eq!(h.remove(&f), m.remove(&f).is_some());
                    }
                    3 => {
                        let at = if rnd(3) == 0 {
                            None
                        } else {
                            Some(now + rnd(50) as i64)
                        };
                        let ok = h.set_expire(&f, at);
                        assert_eq!(ok, m.contains_key(&f));
                        if let Some(e) = m.get_mut(&f) {
                            e.1 = at.unwrap_or(NO_TTL);
                        }
                    }
                    4 => {
                        now += rnd(10) as i64;
                        let n = h.purge_expired(now);
                        let before = m.len();
                        m.retain(|_, (_, e)| !expired(*e, now));
                        assert_eq!(n, before - m.len());
                    }
                    _ => {
                        let want = m.get(&f).filter(|(_, e)| !expired(*e, now));
                        assert_eq!(h.get_field(&f, now), want.map(|(v, _)| &v[..]));
                    }
                }
                assert_eq!(h.len(), m.len());
            }
            let mut all = BTreeMap::new();
            h.for_each(now, |k, v, e| {
                all.insert(k.to_vec(), (v.to_vec(), e.unwrap_or(NO_TTL)));
            });
            m.retain(|_, (_, e)| !expired(*e, now));
            assert_eq!(all, m);
        }
    }
}
