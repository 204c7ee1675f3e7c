//! The per-family operations of [`DiskEngine`] (strings, hashes, sets, sorted sets, lists),
//! keyspace-wide operations (SCAN, active expiry) and the read side of [`DiskSnapshot`].
//!
//! Every method takes the database index, the user key and `now_ms`, the command's clock (the
//! server passes one clock per command so that expiry decisions inside a command and across a
//! MULTI are consistent). Reads of an expired key delete its metadata (lazy expiry).

use crate::codec::{self, KeyType, Meta};
use crate::zindex::ZIndex;
use crate::{Batch, DiskEngine, DiskError, DiskSnapshot, Inner, MetaToken, Result};
use fjall::{Keyspace, Readable};
use std::collections::HashSet;
use std::ops::Bound;

/// What a string write does with the key's time to live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// Remove any expiry (plain SET).
    Persist,
    /// Keep the current expiry (SET KEEPTTL, SETRANGE, APPEND, INCR...).
    Keep,
    /// Expire at this unix time in ms.
    At(i64),
}

/// One end of a ZRANGEBYSCORE interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreBound {
    /// The score.
    pub value: f64,
    /// `(` bound: the score itself is excluded.
    pub exclusive: bool,
}

impl ScoreBound {
    /// An inclusive bound.
    pub fn incl(value: f64) -> ScoreBound {
        ScoreBound {
            value,
            exclusive: false,
        }
    }
}

/// Iterator over the subkey records of one collection, in subkey order (hash: field → value;
/// set: member → empty; sorted set: member → 8-byte score as returned by [`SubIter`]'s users;
/// list: value only). Holds an LSM read view: drop it promptly.
pub struct SubIter {
    it: Option<fjall::Iter>,
    /// Elements of an inline collection, already decoded.
    items: Option<std::vec::IntoIter<(Vec<u8>, Vec<u8>)>>,
    strip: usize,
    kind: KeyType,
    /// Hash field values carry the TTL header (`codec::enc_field`).
    tagged: bool,
    /// Hide hash fields whose TTL is at or before this time.
    now: Option<i64>,
}

impl Iterator for SubIter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(items) = &mut self.items {
            return items.next().map(Ok);
        }
        loop {
            let g = self.it.as_mut()?.next()?;
            return Some(match g.into_inner() {
                Ok((k, v)) => {
                    let sub = k.get(self.strip..).unwrap_or_default().to_vec();
                    if self.kind == KeyType::List {
                        Ok((v.to_vec(), Vec::new()))
                    } else if self.kind == KeyType::Hash {
                        match codec::dec_field(&v, self.tagged) {
                            Some((_, Some(at))) if self.now.is_some_and(|n| at <= n) => continue,
                            Some((val, _)) => Ok((sub, val.to_vec())),
                            None => Err(corrupt("hash field")),
                        }
                    } else {
                        Ok((sub, v.to_vec()))
                    }
                }
                Err(e) => Err(e.into()),
            });
        }
    }
}

impl SubIter {
    fn empty(kind: KeyType) -> SubIter {
        SubIter {
            it: None,
            items: None,
            strip: 0,
            kind,
            tagged: false,
            now: None,
        }
    }

    /// An iterator over already decoded elements (inline collections).
    fn from_items(kind: KeyType, items: Vec<(Vec<u8>, Vec<u8>)>) -> SubIter {
        SubIter {
            items: Some(items.into_iter()),
            ..SubIter::empty(kind)
        }
    }
}

/// Where reads come from: the live database or a snapshot.
#[derive(Clone, Copy)]
pub(crate) enum View<'a> {
    Live,
    Snap(&'a fjall::Snapshot),
}

impl View<'_> {
    pub(crate) fn get(&self, ks: &Keyspace, k: &[u8]) -> Result<Option<fjall::Slice>> {
        Ok(match self {
            View::Live => ks.get(k)?,
            View::Snap(s) => s.get(ks, k)?,
        })
    }

    pub(crate) fn range(
        &self,
        ks: &Keyspace,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
    ) -> fjall::Iter {
        match self {
            View::Live => ks.range::<Vec<u8>, _>((lo, hi)),
            View::Snap(s) => s.range::<Vec<u8>, _>(ks, (lo, hi)),
        }
    }

    pub(crate) fn prefix(&self, ks: &Keyspace, p: &[u8]) -> fjall::Iter {
        match self {
            View::Live => ks.prefix(p),
            View::Snap(s) => s.prefix(ks, p),
        }
    }
}

fn corrupt(what: &str) -> DiskError {
    DiskError::Corrupt(what.to_string())
}

pub(crate) fn prefix_end(p: &[u8]) -> Bound<Vec<u8>> {
    let mut e = p.to_vec();
    while let Some(last) = e.pop() {
        if last < 0xff {
            e.push(last + 1);
            return Bound::Excluded(e);
        }
    }
    Bound::Unbounded
}

/// Redis's start/stop normalisation for LRANGE/ZRANGE: `None` when the range is empty.
fn norm_range(start: i64, stop: i64, len: u64) -> Option<(u64, u64)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if stop < 0 { len + stop } else { stop };
    if s < 0 {
        s = 0;
    }
    if e >= len {
        e = len - 1;
    }
    if s > e || s >= len {
        return None;
    }
    Some((s as u64, e as u64))
}

fn check_score(s: f64) -> Result<f64> {
    if s.is_nan() {
        Err(DiskError::NanScore)
    } else {
        Ok(s)
    }
}

impl Inner {
    /// The metadata record of `key` in physical db `pdb`, as stored (no expiry check).
    pub(crate) fn read_meta(&self, view: View<'_>, pdb: u32, key: &[u8]) -> Result<Option<Meta>> {
        match view.get(&self.meta, &codec::meta_key(pdb, key))? {
            None => Ok(None),
            Some(raw) => Meta::decode(&raw).map(Some).ok_or_else(|| corrupt("meta")),
        }
    }

    /// The live metadata of a key; an expired key is deleted on the spot and reads as absent.
    /// Caller holds the key's lock.
    pub(crate) fn live_meta(&self, db: u16, key: &[u8], now: i64) -> Result<Option<Meta>> {
        let pdb = self.pdb(db);
        match self.read_meta(View::Live, pdb, key)? {
            Some(m) if m.expired(now) => {
                let mut b = self.batch();
                self.del_meta(&mut b, pdb, key, &m);
                self.commit(b)?;
                self.note_expired(db, key);
                Ok(None)
            }
            other => Ok(other),
        }
    }

    /// Live metadata checked against `kind` (WRONGTYPE otherwise), whatever the layout.
    fn typed_meta(&self, db: u16, key: &[u8], now: i64, kind: KeyType) -> Result<Option<Meta>> {
        match self.live_meta(db, key, now)? {
            Some(m) if m.kind != kind => Err(DiskError::WrongType),
            other => Ok(other),
        }
    }

    /// Live metadata checked against `kind`, with an inline collection first converted to
    /// field-level records (module `object`), so element operations find their records.
    pub(crate) fn typed(
        &self,
        db: u16,
        key: &[u8],
        now: i64,
        kind: KeyType,
    ) -> Result<Option<Meta>> {
        match self.typed_meta(db, key, now, kind)? {
            Some(m) if m.inline => {
                let p = self.pdb(db);
                self.promote(p, key, &m).map(Some)
            }
            other => Ok(other),
        }
    }

    /// Metadata for a write to a collection of `kind`: the existing one or a new incarnation.
    fn typed_or_new(
        &self,
        b: &mut Batch,
        db: u16,
        key: &[u8],
        now: i64,
        kind: KeyType,
    ) -> Result<(Option<Meta>, Meta)> {
        match self.typed(db, key, now, kind)? {
            Some(m) => Ok((Some(m.clone()), m)),
            None => {
                let v = self.new_version(b)?;
                Ok((None, Meta::new_collection(kind, v)))
            }
        }
    }

    /// Writes the collection's new metadata, or deletes the key when it became empty.
    pub(crate) fn finish(
        &self,
        b: &mut Batch,
        db: u32,
        key: &[u8],
        old: Option<&Meta>,
        new: &Meta,
    ) {
        if new.size == 0 {
            if let Some(o) = old {
                self.del_meta(b, db, key, o);
            }
        } else if old != Some(new) {
            self.put_meta(b, db, key, old, new);
        }
    }

    /// Stages HSET `pairs` into `b` on the field-level hash `m` of `(pdb, key)` (`exists`:
    /// whether `m` is stored already, else no record is read); updates `m.size` and returns
    /// how many fields were added. A repeated field is written once, its last value winning
    /// (as in Redis; a batch must not write a record twice).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn stage_hset(
        &self,
        b: &mut Batch,
        pdb: u32,
        key: &[u8],
        exists: bool,
        m: &mut Meta,
        pairs: &[(&[u8], &[u8])],
        now: i64,
    ) -> Result<u64> {
        let mut added = 0;
        let mut last: std::collections::HashMap<&[u8], &[u8]> = std::collections::HashMap::new();
        for (f, v) in pairs {
            last.insert(f, v);
        }
        for (f, v) in last {
            let ek = elem_key(pdb, key, m.version, f);
            match exists.then(|| self.data.get(&ek)).transpose()?.flatten() {
                // A field whose TTL passed is logically absent: it counts as added, but its
                // record (counted in the size) is overwritten.
                Some(raw) => {
                    if field_live(&raw, m, now)?.is_none() {
                        added += 1;
                    }
                }
                None => {
                    added += 1;
                    m.size += 1;
                }
            }
            b.b.insert(&self.data, ek, hash_value(m, v));
        }
        Ok(added)
    }

    /// Stages SADD `members` into `b` on the field-level set `m` (see
    /// [`stage_hset`](Self::stage_hset)); returns how many were added.
    pub(crate) fn stage_sadd(
        &self,
        b: &mut Batch,
        pdb: u32,
        key: &[u8],
        exists: bool,
        m: &mut Meta,
        members: &[&[u8]],
    ) -> Result<u64> {
        let mut fresh: HashSet<&[u8]> = HashSet::new();
        for s in members {
            if fresh.contains(s) {
                continue;
            }
            let ek = elem_key(pdb, key, m.version, s);
            if !exists || self.data.get(&ek)?.is_none() {
                fresh.insert(s);
                b.b.insert(&self.data, ek, Vec::<u8>::new());
            }
        }
        m.size += fresh.len() as u64;
        Ok(fresh.len() as u64)
    }

    /// Stages ZADD `items` (scores already checked) into `b` on the field-level sorted set `m`,
    /// counting them in the rank index `zi` (the caller writes it); returns how many members
    /// were added. The last occurrence of a member wins, as in Redis. `known[n]`, when given,
    /// is the stored score of `items[n]`'s member (`None`: not a member), which then is not read.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn stage_zadd(
        &self,
        b: &mut Batch,
        pdb: u32,
        key: &[u8],
        exists: bool,
        m: &mut Meta,
        mut zi: Option<&mut ZIndex<'_>>,
        items: &[(f64, &[u8])],
        known: Option<&[Option<f64>]>,
    ) -> Result<u64> {
        let mut added = 0;
        // Member -> (new score, its stored score when `known` gives it).
        type Last = (f64, Option<Option<f64>>);
        let mut last: std::collections::HashMap<&[u8], Last> = std::collections::HashMap::new();
        for (n, (score, member)) in items.iter().enumerate() {
            last.insert(member, (*score, known.and_then(|k| k.get(n).copied())));
        }
        for (member, (score, given)) in last {
            let ek = elem_key(pdb, key, m.version, member);
            let prev = match given {
                _ if !exists => None,
                Some(p) => p,
                None => self.data.get(&ek)?.map(|v| dec_f64(&v)).transpose()?,
            };
            match prev {
                Some(ps) if ps.to_bits() == score.to_bits() => continue,
                Some(ps) => {
                    if codec::enc_score(ps) != codec::enc_score(score) {
                        b.b.remove(&self.zscore, zscore_key(pdb, key, m.version, ps, member));
                        if let Some(zi) = zi.as_deref_mut() {
                            zi.add(ps, member, -1)?;
                            zi.add(score, member, 1)?;
                        }
                    }
                }
                None => {
                    added += 1;
                    if let Some(zi) = zi.as_deref_mut() {
                        zi.add(score, member, 1)?;
                    }
                }
            }
            b.b.insert(&self.data, ek, score.to_be_bytes().to_vec());
            b.b.insert(
                &self.zscore,
                zscore_key(pdb, key, m.version, score, member),
                Vec::<u8>::new(),
            );
        }
        m.size += added;
        Ok(added)
    }

    /// Stages the removal of `subs` (hash fields, set or sorted-set members of the stored
    /// field-level collection `m`) into `b`, counting sorted-set members out of `zi`; updates
    /// `m.size` and returns how many removed elements were logically present (a hash field
    /// past its TTL is not).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn stage_remove(
        &self,
        b: &mut Batch,
        pdb: u32,
        key: &[u8],
        m: &mut Meta,
        mut zi: Option<&mut ZIndex<'_>>,
        subs: &[&[u8]],
        now: i64,
    ) -> Result<u64> {
        let mut gone: HashSet<&[u8]> = HashSet::new();
        let mut removed = 0;
        for s in subs {
            if gone.contains(s) {
                continue;
            }
            let ek = elem_key(pdb, key, m.version, s);
            if let Some(v) = self.data.get(&ek)? {
                if m.kind == KeyType::ZSet {
                    let score = dec_f64(&v)?;
                    b.b.remove(&self.zscore, zscore_key(pdb, key, m.version, score, s));
                    if let Some(zi) = zi.as_deref_mut() {
                        zi.add(score, s, -1)?;
                    }
                }
                if m.kind != KeyType::Hash || field_live(&v, m, now)?.is_some() {
                    removed += 1;
                }
                b.b.remove(&self.data, ek);
                gone.insert(s);
            }
        }
        m.size -= gone.len() as u64;
        Ok(removed)
    }

    /// Stages LPUSH (`left`) or RPUSH of `values` into `b` on the field-level list `m`.
    pub(crate) fn stage_push(
        &self,
        b: &mut Batch,
        pdb: u32,
        key: &[u8],
        m: &mut Meta,
        values: &[&[u8]],
        left: bool,
    ) {
        for v in values {
            let idx = if left {
                m.head -= 1;
                m.head
            } else {
                m.tail += 1;
                m.tail - 1
            };
            b.b.insert(&self.data, list_key(pdb, key, m.version, idx), v.to_vec());
        }
        m.size += values.len() as u64;
        if m.compact {
            m.lp_bytes += values.iter().map(|v| lp_size(v)).sum::<u64>();
        }
    }

    /// Stages LPOP (`left`) or RPOP of up to `count` stored elements of the field-level list
    /// `m` into `b`; returns them in pop order.
    pub(crate) fn stage_pop(
        &self,
        b: &mut Batch,
        pdb: u32,
        key: &[u8],
        m: &mut Meta,
        count: u64,
        left: bool,
    ) -> Result<Vec<Vec<u8>>> {
        let n = count.min(m.size);
        let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(1 << 16));
        for _ in 0..n {
            let idx = if left {
                m.head += 1;
                m.head - 1
            } else {
                m.tail -= 1;
                m.tail
            };
            let lk = list_key(pdb, key, m.version, idx);
            let v = self
                .data
                .get(&lk)?
                .ok_or_else(|| corrupt("list element missing"))?;
            if m.compact {
                m.lp_bytes = m.lp_bytes.saturating_sub(lp_size(&v));
            }
            out.push(v.to_vec());
            b.b.remove(&self.data, lk);
        }
        m.size -= n;
        Ok(out)
    }

    /// Iterator over a field-level collection's elements; `now`: hide hash fields expired then.
    pub(crate) fn sub_iter(
        &self,
        view: View<'_>,
        db: u32,
        key: &[u8],
        m: &Meta,
        now: Option<i64>,
    ) -> SubIter {
        let p = codec::sub_prefix(db, key, m.version);
        let (ks, strip) = (&self.data, p.len());
        SubIter {
            it: Some(view.prefix(ks, &p)),
            items: None,
            strip,
            kind: m.kind,
            tagged: m.tagged,
            now,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn zrange_rank(
        &self,
        view: View<'_>,
        db: u32,
        key: &[u8],
        m: &Meta,
        start: i64,
        stop: i64,
        rev: bool,
    ) -> Result<Vec<(Vec<u8>, f64)>> {
        let Some((s, e)) = norm_range(start, stop, m.size) else {
            return Ok(Vec::new());
        };
        let take = (e - s + 1) as usize;
        let fstart = if rev { m.size - 1 - e } else { s };
        if m.ranked && fstart > 0 && matches!(view, View::Live) {
            // Seek to the first wanted rank through the rank index, read forward.
            let Some((from, skip)) = self.zindex_seek(db, key, m, fstart)? else {
                return Ok(Vec::new());
            };
            let p = codec::sub_prefix(db, key, m.version);
            let mut out = Vec::with_capacity(take.min(1024));
            for g in self
                .zscore
                .range::<Vec<u8>, _>((Bound::Included(from), prefix_end(&p)))
                .skip(skip as usize)
                .take(take)
            {
                let k = g.key()?;
                let rest = k.get(p.len()..).ok_or_else(|| corrupt("zscore"))?;
                let score = codec::dec_score(rest).ok_or_else(|| corrupt("zscore"))?;
                out.push((rest[8..].to_vec(), score));
            }
            if rev {
                out.reverse();
            }
            self.zero_signs(view, db, key, m, &mut out)?;
            return Ok(out);
        }
        let p = codec::sub_prefix(db, key, m.version);
        let it = view.prefix(&self.zscore, &p);
        let mut out = Vec::with_capacity(take.min(1024));
        let mut push = |g: fjall::Guard| -> Result<()> {
            let k = g.key()?;
            let rest = k.get(p.len()..).ok_or_else(|| corrupt("zscore"))?;
            let score = codec::dec_score(rest).ok_or_else(|| corrupt("zscore"))?;
            out.push((rest[8..].to_vec(), score));
            Ok(())
        };
        if rev {
            for g in it.rev().skip(s as usize).take(take) {
                push(g)?;
            }
        } else {
            for g in it.skip(s as usize).take(take) {
                push(g)?;
            }
        }
        self.zero_signs(view, db, key, m, &mut out)?;
        Ok(out)
    }

    /// Restores the sign of zero scores read from the score index. The index encodes `-0` as
    /// `0` (they order as equal, then by member, as in Redis), but Redis keeps and replies the
    /// `-0` a member was given; the member's own record holds the exact score. Zero scores are
    /// rare, so this costs a point read only for them.
    pub(crate) fn zero_signs(
        &self,
        view: View<'_>,
        db: u32,
        key: &[u8],
        m: &Meta,
        out: &mut [(Vec<u8>, f64)],
    ) -> Result<()> {
        for (member, score) in out.iter_mut().filter(|(_, s)| *s == 0.0) {
            if let Some(v) = view.get(&self.data, &elem_key(db, key, m.version, member))? {
                *score = dec_f64(&v)?;
            }
        }
        Ok(())
    }

    pub(crate) fn list_range(
        &self,
        view: View<'_>,
        db: u32,
        key: &[u8],
        m: &Meta,
        start: i64,
        stop: i64,
    ) -> Result<Vec<Vec<u8>>> {
        let Some((s, e)) = norm_range(start, stop, m.size) else {
            return Ok(Vec::new());
        };
        let p = codec::sub_prefix(db, key, m.version);
        let mut lo = p.clone();
        lo.extend_from_slice(&codec::enc_i64(m.head + s as i64));
        let mut hi = p;
        hi.extend_from_slice(&codec::enc_i64(m.head + e as i64));
        let mut out = Vec::with_capacity(((e - s + 1) as usize).min(1024));
        for g in view.range(&self.data, Bound::Included(lo), Bound::Included(hi)) {
            out.push(g.value()?.to_vec());
        }
        Ok(out)
    }
}

pub(crate) fn elem_key(db: u32, key: &[u8], version: u64, sub: &[u8]) -> Vec<u8> {
    let mut k = codec::sub_prefix(db, key, version);
    k.extend_from_slice(sub);
    k
}

pub(crate) fn zscore_key(db: u32, key: &[u8], version: u64, score: f64, member: &[u8]) -> Vec<u8> {
    let mut k = codec::sub_prefix(db, key, version);
    k.extend_from_slice(&codec::enc_score(score));
    k.extend_from_slice(member);
    k
}

pub(crate) fn list_key(db: u32, key: &[u8], version: u64, idx: i64) -> Vec<u8> {
    elem_key(db, key, version, &codec::enc_i64(idx))
}

/// The value of a hash field record if the field is live at `now` (not past its own TTL).
fn field_live(raw: &[u8], m: &Meta, now: i64) -> Result<Option<Vec<u8>>> {
    match codec::dec_field(raw, m.tagged) {
        Some((_, Some(at))) if at <= now => Ok(None),
        Some((v, _)) => Ok(Some(v.to_vec())),
        None => Err(corrupt("hash field")),
    }
}

/// A hash field record value without TTL in the incarnation's format (HSET clears a TTL).
fn hash_value(m: &Meta, v: &[u8]) -> Vec<u8> {
    if m.tagged {
        codec::enc_field(v, None)
    } else {
        v.to_vec()
    }
}

fn parse_i64(b: &[u8]) -> Result<i64> {
    std::str::from_utf8(b)
        .ok()
        .filter(|s| {
            !(s.starts_with('+') || s.starts_with("-0") || (s.len() > 1 && s.starts_with('0')))
        })
        .and_then(|s| s.parse().ok())
        .ok_or(DiskError::NotInteger)
}

fn dec_f64(b: &[u8]) -> Result<f64> {
    let a: [u8; 8] = b.try_into().map_err(|_| corrupt("score"))?;
    Ok(f64::from_be_bytes(a))
}

/// Keyspace-wide and string operations.
impl DiskEngine {
    /// TYPE: the key's type, `None` if it does not exist.
    pub fn key_type(&self, db: u16, key: &[u8], now_ms: i64) -> Result<Option<KeyType>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        Ok(i.live_meta(db, key, now_ms)?.map(|m| m.kind))
    }

    /// EXISTS for one key.
    pub fn exists(&self, db: u16, key: &[u8], now_ms: i64) -> Result<bool> {
        Ok(self.key_type(db, key, now_ms)?.is_some())
    }

    /// DEL/UNLINK: O(1) whatever the value's size (only the metadata record is deleted; the
    /// elements become stale and are dropped by compaction). Returns whether the key existed.
    pub fn del(&self, db: u16, key: &[u8], now_ms: i64) -> Result<bool> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(m) = i.live_meta(db, key, now_ms)? else {
            return Ok(false);
        };
        let mut b = i.batch();
        i.del_meta(&mut b, p, key, &m);
        i.commit(b)?;
        Ok(true)
    }

    /// Sets (`Some(at)`) or removes (`None`, PERSIST) the key's expiry; O(1) for any type.
    /// Returns whether the key exists. A deadline `<= now_ms` is stored as is: the key reads as
    /// absent from then on (the caller deletes it explicitly if it wants DEL semantics now).
    pub fn set_expire(&self, db: u16, key: &[u8], at: Option<i64>, now_ms: i64) -> Result<bool> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(old) = i.live_meta(db, key, now_ms)? else {
            return Ok(false);
        };
        let mut new = old.clone();
        new.expire = at;
        if new != old {
            let mut b = i.batch();
            i.put_meta(&mut b, p, key, Some(&old), &new);
            i.commit(b)?;
        }
        Ok(true)
    }

    /// TTL/PTTL/EXPIRETIME: `None` = no such key, `Some(None)` = no expiry, `Some(Some(at))` =
    /// absolute deadline in unix ms.
    pub fn expire_time(&self, db: u16, key: &[u8], now_ms: i64) -> Result<Option<Option<i64>>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        Ok(i.live_meta(db, key, now_ms)?.map(|m| m.expire))
    }

    /// GET: `None` if absent; WRONGTYPE for collections.
    pub fn get(&self, db: u16, key: &[u8], now_ms: i64) -> Result<Option<Vec<u8>>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        Ok(i.typed(db, key, now_ms, KeyType::String)?.map(|m| m.value))
    }

    /// SET: replaces whatever the key held (any type: the old incarnation's elements become
    /// stale, O(1)). `ttl` says what happens to the expiry.
    pub fn set(&self, db: u16, key: &[u8], value: &[u8], ttl: Ttl, now_ms: i64) -> Result<()> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let old = i.live_meta(db, key, now_ms)?;
        let expire = match ttl {
            Ttl::Persist => None,
            Ttl::Keep => old.as_ref().and_then(|m| m.expire),
            Ttl::At(at) => Some(at),
        };
        let new = Meta {
            expire,
            value: value.to_vec(),
            ..Meta::new_collection(KeyType::String, 0)
        };
        let mut b = i.batch();
        i.put_meta(&mut b, p, key, old.as_ref(), &new);
        i.commit(b)
    }

    /// INCRBY on a string holding an integer (missing key = 0); keeps the TTL.
    pub fn incr_by(&self, db: u16, key: &[u8], delta: i64, now_ms: i64) -> Result<i64> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let old = i.typed(db, key, now_ms, KeyType::String)?;
        let cur = match &old {
            Some(m) => parse_i64(&m.value)?,
            None => 0,
        };
        let n = cur.checked_add(delta).ok_or(DiskError::Overflow)?;
        let mut new = old.clone().unwrap_or(Meta {
            kind: KeyType::String,
            ..Meta::new_collection(KeyType::String, 0)
        });
        new.value = n.to_string().into_bytes();
        let mut b = i.batch();
        i.put_meta(&mut b, p, key, old.as_ref(), &new);
        i.commit(b)?;
        Ok(n)
    }

    /// SCAN over database `db`. `cursor` 0 starts; the returned cursor is 0 when the iteration
    /// is complete. Keys are visited in hash order and the returned cursor is the hash of the
    /// first key not returned yet, so every key present during the whole iteration is returned at least once, whatever is
    /// added or removed meanwhile (keys sharing a hash are always returned in the same call).
    /// `count` is a hint: at least `count` keys are examined unless the end is reached.
    pub fn scan(
        &self,
        db: u16,
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
        kind: Option<KeyType>,
        now_ms: i64,
    ) -> Result<(u64, Vec<Vec<u8>>)> {
        let i = &self.inner;
        let pre = codec::pdb_prefix(i.pdb(db));
        let mut lo = pre.clone();
        lo.extend_from_slice(&cursor.to_be_bytes());
        let hi = prefix_end(&pre);
        let mut out = Vec::new();
        let mut last_hash: Option<u64> = None;
        for (seen, g) in View::Live
            .range(&i.meta, Bound::Included(lo), hi)
            .enumerate()
        {
            let (k, v) = g.into_inner()?;
            let (_, h, user_key) = codec::split_meta_key(&k).ok_or_else(|| corrupt("meta key"))?;
            if seen >= count.max(1) && last_hash != Some(h) {
                return Ok((h, out));
            }
            last_hash = Some(h);
            let Some((t, exp, _)) = Meta::peek_version(&v) else {
                return Err(corrupt("meta"));
            };
            if matches!(exp, Some(at) if at <= now_ms) {
                continue;
            }
            if kind.is_some_and(|want| want != t) {
                continue;
            }
            if pattern.is_some_and(|p| !crate::glob_match(p, user_key)) {
                continue;
            }
            out.push(user_key.to_vec());
        }
        Ok((0, out))
    }

    /// Number of live keys in `db`. **O(keys)**: a stopgap for DBSIZE until a persistent
    /// counter exists (see docs/disk-engine.md §7).
    pub fn count_keys(&self, db: u16, now_ms: i64) -> Result<u64> {
        let mut n = 0;
        let pre = codec::pdb_prefix(self.inner.pdb(db));
        for g in View::Live.prefix(&self.inner.meta, &pre) {
            let v = g.value()?;
            match Meta::peek_version(&v) {
                Some((_, Some(at), _)) if at <= now_ms => {}
                Some(_) => n += 1,
                None => return Err(corrupt("meta")),
            }
        }
        Ok(n)
    }

    /// Active expiry: deletes up to `max_keys` keys (all databases) whose deadline is `<=
    /// now_ms`, returning them as (logical db, key) so the caller can send `expired`
    /// notifications and propagate DELs. Reads only the deadline index, never the whole
    /// keyspace.
    pub fn expire_sweep(&self, now_ms: i64, max_keys: usize) -> Result<Vec<(u16, Vec<u8>)>> {
        let i = &self.inner;
        let mut out = Vec::new();
        let mut start: Vec<u8> = Vec::new();
        let mut examined = 0usize;
        while out.len() < max_keys && examined < max_keys.saturating_mul(4).max(16) {
            let next = i
                .expire
                .range::<Vec<u8>, _>((Bound::Included(start.clone()), Bound::Unbounded))
                .next();
            let Some(g) = next else { break };
            let k = g.key()?;
            examined += 1;
            let (pdb, at, user_key) =
                codec::split_expire_key(&k).ok_or_else(|| corrupt("expire key"))?;
            let ldb = i.gc.dbmap.read().ldb(pdb);
            let Some(db) = ldb.filter(|_| at <= now_ms) else {
                // Nothing more is due in this physical db (or it was flushed: its entries are
                // garbage for the GC): jump to the next one.
                match prefix_end(&codec::pdb_prefix(pdb)) {
                    Bound::Excluded(e) => start = e,
                    _ => break,
                }
                continue;
            };
            let _g = i.lock(db, user_key);
            let p = i.pdb(db);
            let mut b = i.batch();
            if p == pdb {
                match i.read_meta(View::Live, p, user_key)? {
                    Some(m) if m.expire == Some(at) => {
                        i.del_meta(&mut b, p, user_key, &m);
                        out.push((db, user_key.to_vec()));
                    }
                    _ => b.b.remove(&i.expire, k.to_vec()),
                }
                i.commit(b)?;
            }
            start = k.to_vec();
            start.push(0);
        }
        Ok(out)
    }
}

/// Hash operations.
impl DiskEngine {
    /// HSET: sets every (field, value) pair; returns how many fields were added.
    pub fn hset(&self, db: u16, key: &[u8], pairs: &[(&[u8], &[u8])], now_ms: i64) -> Result<u64> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let mut b = i.batch();
        let (old, mut m) = i.typed_or_new(&mut b, db, key, now_ms, KeyType::Hash)?;
        let added = i.stage_hset(&mut b, p, key, old.is_some(), &mut m, pairs, now_ms)?;
        i.finish(&mut b, p, key, old.as_ref(), &m);
        i.commit(b)?;
        Ok(added)
    }

    /// HGET (a field whose TTL passed reads as absent).
    pub fn hget(&self, db: u16, key: &[u8], field: &[u8], now_ms: i64) -> Result<Option<Vec<u8>>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(m) = i.typed(db, key, now_ms, KeyType::Hash)? else {
            return Ok(None);
        };
        match i.data.get(elem_key(p, key, m.version, field))? {
            Some(raw) => field_live(&raw, &m, now_ms),
            None => Ok(None),
        }
    }

    /// HMGET: one entry per field, in order.
    pub fn hmget(
        &self,
        db: u16,
        key: &[u8],
        fields: &[&[u8]],
        now_ms: i64,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(m) = i.typed(db, key, now_ms, KeyType::Hash)? else {
            return Ok(vec![None; fields.len()]);
        };
        fields
            .iter()
            .map(|f| match i.data.get(elem_key(p, key, m.version, f))? {
                Some(raw) => field_live(&raw, &m, now_ms),
                None => Ok(None),
            })
            .collect()
    }

    /// HDEL: returns how many fields were removed; deletes the key when it becomes empty.
    pub fn hdel(&self, db: u16, key: &[u8], fields: &[&[u8]], now_ms: i64) -> Result<u64> {
        self.remove_members(db, key, fields, now_ms, KeyType::Hash)
    }

    /// HLEN, O(1).
    pub fn hlen(&self, db: u16, key: &[u8], now_ms: i64) -> Result<u64> {
        self.card(db, key, now_ms, KeyType::Hash)
    }

    /// HEXISTS.
    pub fn hexists(&self, db: u16, key: &[u8], field: &[u8], now_ms: i64) -> Result<bool> {
        Ok(self.hget(db, key, field, now_ms)?.is_some())
    }

    /// HGETALL / HKEYS / HVALS / HSCAN: (field, value) pairs in field byte order.
    pub fn hgetall(&self, db: u16, key: &[u8], now_ms: i64) -> Result<SubIter> {
        self.members(db, key, now_ms, KeyType::Hash)
    }

    /// HINCRBY: missing field = 0.
    pub fn hincrby(
        &self,
        db: u16,
        key: &[u8],
        field: &[u8],
        delta: i64,
        now_ms: i64,
    ) -> Result<i64> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let mut b = i.batch();
        let (old, mut m) = i.typed_or_new(&mut b, db, key, now_ms, KeyType::Hash)?;
        let ek = elem_key(p, key, m.version, field);
        let raw = if old.is_some() {
            i.data.get(&ek)?
        } else {
            None
        };
        if raw.is_none() {
            m.size += 1;
        }
        let cur = match &raw {
            Some(raw) => match field_live(raw, &m, now_ms)? {
                Some(v) => parse_i64(&v)?,
                None => 0,
            },
            None => 0,
        };
        let n = cur.checked_add(delta).ok_or(DiskError::Overflow)?;
        b.b.insert(&i.data, ek, hash_value(&m, n.to_string().as_bytes()));
        i.finish(&mut b, p, key, old.as_ref(), &m);
        i.commit(b)?;
        Ok(n)
    }

    fn card(&self, db: u16, key: &[u8], now_ms: i64, kind: KeyType) -> Result<u64> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        Ok(i.typed_meta(db, key, now_ms, kind)?.map_or(0, |m| m.size))
    }

    fn members(&self, db: u16, key: &[u8], now_ms: i64, kind: KeyType) -> Result<SubIter> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        Ok(match i.typed(db, key, now_ms, kind)? {
            Some(m) => i.sub_iter(View::Live, p, key, &m, Some(now_ms)),
            None => SubIter::empty(kind),
        })
    }

    fn remove_members(
        &self,
        db: u16,
        key: &[u8],
        subs: &[&[u8]],
        now_ms: i64,
        kind: KeyType,
    ) -> Result<u64> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(old) = i.typed(db, key, now_ms, kind)? else {
            return Ok(0);
        };
        let mut m = old.clone();
        let mut b = i.batch();
        let mut zi = (kind == KeyType::ZSet && m.ranked).then(|| ZIndex::new(i, p, key, &m, false));
        let removed = i.stage_remove(&mut b, p, key, &mut m, zi.as_mut(), subs, now_ms)?;
        if let Some(zi) = &zi {
            if m.size > 0 {
                zi.write(&mut b);
            }
        }
        i.finish(&mut b, p, key, Some(&old), &m);
        i.commit(b)?;
        Ok(removed)
    }
}

/// Set operations.
impl DiskEngine {
    /// SADD: returns how many members were added.
    pub fn sadd(&self, db: u16, key: &[u8], members: &[&[u8]], now_ms: i64) -> Result<u64> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let mut b = i.batch();
        let (old, mut m) = i.typed_or_new(&mut b, db, key, now_ms, KeyType::Set)?;
        let added = i.stage_sadd(&mut b, p, key, old.is_some(), &mut m, members)?;
        i.finish(&mut b, p, key, old.as_ref(), &m);
        i.commit(b)?;
        Ok(added)
    }

    /// SREM: returns how many members were removed.
    pub fn srem(&self, db: u16, key: &[u8], members: &[&[u8]], now_ms: i64) -> Result<u64> {
        self.remove_members(db, key, members, now_ms, KeyType::Set)
    }

    /// SISMEMBER.
    pub fn sismember(&self, db: u16, key: &[u8], member: &[u8], now_ms: i64) -> Result<bool> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(m) = i.typed(db, key, now_ms, KeyType::Set)? else {
            return Ok(false);
        };
        Ok(i.data.get(elem_key(p, key, m.version, member))?.is_some())
    }

    /// SCARD, O(1).
    pub fn scard(&self, db: u16, key: &[u8], now_ms: i64) -> Result<u64> {
        self.card(db, key, now_ms, KeyType::Set)
    }

    /// SMEMBERS / SSCAN: (member, empty) pairs in member byte order.
    pub fn smembers(&self, db: u16, key: &[u8], now_ms: i64) -> Result<SubIter> {
        self.members(db, key, now_ms, KeyType::Set)
    }
}

/// Sorted-set operations.
impl DiskEngine {
    /// ZADD (no flags; NX/XX/GT/LT/CH are decided by the caller with [`zscore`](Self::zscore)
    /// under its key lock): returns how many members were added.
    pub fn zadd(&self, db: u16, key: &[u8], items: &[(f64, &[u8])], now_ms: i64) -> Result<u64> {
        self.zadd_ext(db, key, items, now_ms, false)
    }

    /// [`zadd`](Self::zadd) that also clears the key's *compact* flag
    /// ([`KeyMeta::compact`](crate::KeyMeta::compact)) in the same batch when `clear_compact`
    /// is set: the server decided (with its `zset-max-listpack-*` limits) that this write
    /// converts the in-memory listpack to a skiplist. One-way: nothing here sets the flag.
    pub fn zadd_ext(
        &self,
        db: u16,
        key: &[u8],
        items: &[(f64, &[u8])],
        now_ms: i64,
        clear_compact: bool,
    ) -> Result<u64> {
        self.zadd_with(db, key, items, now_ms, clear_compact, None)
    }

    /// [`zadd_ext`](Self::zadd_ext) for a caller that already read the key's metadata (`token`,
    /// from [`key_meta_with_token`](Self::key_meta_with_token)) and the stored score of every
    /// member it writes (`prev[n]` for `items[n]`, `None`: not a member, e.g. with
    /// [`zscore_known`](Self::zscore_known)): neither is read again (2 point reads less for a
    /// one-member ZADD). Same contract as [`apply_known`](Self::apply_known): nothing wrote the
    /// key since those reads (the caller holds a lock every writer of the key takes). A token
    /// that does not describe a live field-level sorted set without expiry in this database is
    /// ignored (then both are read, as `zadd_ext` does).
    #[allow(clippy::too_many_arguments)]
    pub fn zadd_known(
        &self,
        db: u16,
        key: &[u8],
        token: &MetaToken,
        items: &[(f64, &[u8])],
        prev: &[Option<f64>],
        now_ms: i64,
        clear_compact: bool,
    ) -> Result<u64> {
        let known = token
            .field_meta(self.inner.pdb(db), KeyType::ZSet)
            .filter(|_| prev.len() == items.len())
            .map(|m| (m.clone(), prev));
        self.zadd_with(db, key, items, now_ms, clear_compact, known)
    }

    /// [`zscore`](Self::zscore) of a key whose metadata the caller read with `token` (see
    /// [`zadd_known`](Self::zadd_known)): one point read, the member's record.
    pub fn zscore_known(
        &self,
        db: u16,
        key: &[u8],
        token: &MetaToken,
        member: &[u8],
        now_ms: i64,
    ) -> Result<Option<f64>> {
        let i = &self.inner;
        let p = i.pdb(db);
        let Some(m) = token.field_meta(p, KeyType::ZSet) else {
            return self.zscore(db, key, member, now_ms);
        };
        let _g = i.lock(db, key);
        i.data
            .get(elem_key(p, key, m.version, member))?
            .map(|v| dec_f64(&v))
            .transpose()
    }

    /// The body of [`zadd_ext`](Self::zadd_ext) and [`zadd_known`](Self::zadd_known)
    /// (`known`: the stored metadata and the members' stored scores, not read again).
    fn zadd_with(
        &self,
        db: u16,
        key: &[u8],
        items: &[(f64, &[u8])],
        now_ms: i64,
        clear_compact: bool,
        known: Option<(Meta, &[Option<f64>])>,
    ) -> Result<u64> {
        for (s, _) in items {
            check_score(*s)?;
        }
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let mut b = i.batch();
        let (mut old, mut m, prev) = match known {
            Some((m, prev)) => (Some(m.clone()), m, Some(prev)),
            None => {
                let (old, m) = i.typed_or_new(&mut b, db, key, now_ms, KeyType::ZSet)?;
                (old, m, None)
            }
        };
        if clear_compact && m.compact && !m.ranked {
            if let Some(o) = &old {
                // A compact sorted set has no rank index: build it before it grows.
                m = i.rank_compact(p, key, o)?;
                old = Some(m.clone());
            }
        }
        let mut zi = m.ranked.then(|| ZIndex::new(i, p, key, &m, old.is_none()));
        let added = i.stage_zadd(
            &mut b,
            p,
            key,
            old.is_some(),
            &mut m,
            zi.as_mut(),
            items,
            prev,
        )?;
        if clear_compact {
            m.compact = false;
        }
        if let Some(zi) = &zi {
            zi.write(&mut b);
        }
        i.finish(&mut b, p, key, old.as_ref(), &m);
        i.commit(b)?;
        if let Some(zi) = zi {
            let big = zi.oversized();
            if !big.is_empty() {
                i.zsplit(p, key, &m, big)?;
            }
        }
        Ok(added)
    }

    /// ZINCRBY: returns the new score (NaN result → error, nothing written).
    pub fn zincrby(
        &self,
        db: u16,
        key: &[u8],
        delta: f64,
        member: &[u8],
        now_ms: i64,
    ) -> Result<f64> {
        check_score(delta)?;
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let mut b = i.batch();
        let (old, mut m) = i.typed_or_new(&mut b, db, key, now_ms, KeyType::ZSet)?;
        let ek = elem_key(p, key, m.version, member);
        let prev = if old.is_some() {
            i.data.get(&ek)?.map(|v| dec_f64(&v)).transpose()?
        } else {
            None
        };
        let n = prev.unwrap_or(0.0) + delta;
        if n.is_nan() {
            return Err(DiskError::NanScore);
        }
        let mut zi = m.ranked.then(|| ZIndex::new(i, p, key, &m, old.is_none()));
        match prev {
            Some(ps) if codec::enc_score(ps) != codec::enc_score(n) => {
                b.b.remove(&i.zscore, zscore_key(p, key, m.version, ps, member));
                if let Some(zi) = &mut zi {
                    zi.add(ps, member, -1)?;
                    zi.add(n, member, 1)?;
                }
            }
            Some(_) => {}
            None => {
                m.size += 1;
                if let Some(zi) = &mut zi {
                    zi.add(n, member, 1)?;
                }
            }
        }
        if let Some(zi) = &zi {
            zi.write(&mut b);
        }
        b.b.insert(&i.data, ek, n.to_be_bytes().to_vec());
        b.b.insert(
            &i.zscore,
            zscore_key(p, key, m.version, n, member),
            Vec::<u8>::new(),
        );
        i.finish(&mut b, p, key, old.as_ref(), &m);
        i.commit(b)?;
        if let Some(zi) = zi {
            let big = zi.oversized();
            if !big.is_empty() {
                i.zsplit(p, key, &m, big)?;
            }
        }
        Ok(n)
    }

    /// ZSCORE.
    pub fn zscore(&self, db: u16, key: &[u8], member: &[u8], now_ms: i64) -> Result<Option<f64>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(m) = i.typed(db, key, now_ms, KeyType::ZSet)? else {
            return Ok(None);
        };
        i.data
            .get(elem_key(p, key, m.version, member))?
            .map(|v| dec_f64(&v))
            .transpose()
    }

    /// ZREM: returns how many members were removed.
    pub fn zrem(&self, db: u16, key: &[u8], members: &[&[u8]], now_ms: i64) -> Result<u64> {
        self.remove_members(db, key, members, now_ms, KeyType::ZSet)
    }

    /// ZCARD, O(1).
    pub fn zcard(&self, db: u16, key: &[u8], now_ms: i64) -> Result<u64> {
        self.card(db, key, now_ms, KeyType::ZSet)
    }

    /// ZRANK / ZREVRANK. Cost: O(log N) through the rank index (module `zindex`); sorted sets
    /// created before that index existed count O(rank) records.
    pub fn zrank(
        &self,
        db: u16,
        key: &[u8],
        member: &[u8],
        rev: bool,
        now_ms: i64,
    ) -> Result<Option<u64>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(m) = i.typed(db, key, now_ms, KeyType::ZSet)? else {
            return Ok(None);
        };
        let Some(v) = i.data.get(elem_key(p, key, m.version, member))? else {
            return Ok(None);
        };
        let score = dec_f64(&v)?;
        if m.ranked {
            let r = i.zindex_rank(p, key, &m, &crate::zindex::position(score, member))?;
            return Ok(Some(if rev { m.size.saturating_sub(r + 1) } else { r }));
        }
        let target = zscore_key(p, key, m.version, score, member);
        let p = codec::sub_prefix(p, key, m.version);
        // Count from the nearer end.
        let before = if !rev {
            i.zscore
                .range::<Vec<u8>, _>((Bound::Included(p.clone()), Bound::Excluded(target)))
                .count() as u64
        } else {
            let mut after_start = target;
            after_start.push(0);
            i.zscore
                .range::<Vec<u8>, _>((Bound::Included(after_start), prefix_end(&p)))
                .count() as u64
        };
        Ok(Some(before))
    }

    /// ZRANGE start stop [REV] by rank (Redis index rules: negative = from the end). O(log N +
    /// returned) through the rank index (O(start + returned) for sorted sets created before it).
    pub fn zrange_by_rank(
        &self,
        db: u16,
        key: &[u8],
        start: i64,
        stop: i64,
        rev: bool,
        now_ms: i64,
    ) -> Result<Vec<(Vec<u8>, f64)>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(m) = i.typed(db, key, now_ms, KeyType::ZSet)? else {
            return Ok(Vec::new());
        };
        i.zrange_rank(View::Live, p, key, &m, start, stop, rev)
    }

    /// ZRANGEBYSCORE / ZREVRANGEBYSCORE (`rev`: from `max` down to `min`) with LIMIT offset
    /// count (`count` None = all). O(log N + offset + returned).
    #[allow(clippy::too_many_arguments)]
    pub fn zrange_by_score(
        &self,
        db: u16,
        key: &[u8],
        min: ScoreBound,
        max: ScoreBound,
        rev: bool,
        offset: usize,
        count: Option<usize>,
        now_ms: i64,
    ) -> Result<Vec<(Vec<u8>, f64)>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(m) = i.typed(db, key, now_ms, KeyType::ZSet)? else {
            return Ok(Vec::new());
        };
        if min.value.is_nan() || max.value.is_nan() || min.value > max.value {
            return Ok(Vec::new());
        }
        let pdb = p;
        let p = codec::sub_prefix(p, key, m.version);
        let mut lo = p.clone();
        lo.extend_from_slice(&codec::enc_score(min.value));
        let mut hi = p.clone();
        hi.extend_from_slice(&codec::enc_score(max.value));
        let hi = prefix_end(&hi);
        let it = i.zscore.range::<Vec<u8>, _>((Bound::Included(lo), hi));
        let plen = p.len();
        let decode = |g: fjall::Guard| -> Result<Option<(Vec<u8>, f64)>> {
            let k = g.key()?;
            let rest = k.get(plen..).ok_or_else(|| corrupt("zscore"))?;
            let s = codec::dec_score(rest).ok_or_else(|| corrupt("zscore"))?;
            let ok_lo = if min.exclusive {
                s > min.value
            } else {
                s >= min.value
            };
            let ok_hi = if max.exclusive {
                s < max.value
            } else {
                s <= max.value
            };
            Ok((ok_lo && ok_hi).then(|| (rest[8..].to_vec(), s)))
        };
        let limit = count.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut skipped = 0;
        let iter: Box<dyn Iterator<Item = fjall::Guard>> = if rev {
            Box::new(it.rev())
        } else {
            Box::new(it)
        };
        for g in iter {
            if out.len() >= limit {
                break;
            }
            if let Some(e) = decode(g)? {
                if skipped < offset {
                    skipped += 1;
                } else {
                    out.push(e);
                }
            }
        }
        i.zero_signs(View::Live, pdb, key, &m, &mut out)?;
        Ok(out)
    }
}

/// List operations.
impl DiskEngine {
    /// LPUSH: each value in turn becomes the new head; returns the new length.
    pub fn lpush(&self, db: u16, key: &[u8], values: &[&[u8]], now_ms: i64) -> Result<u64> {
        self.push(db, key, values, true, now_ms)
    }

    /// RPUSH: appends each value; returns the new length.
    pub fn rpush(&self, db: u16, key: &[u8], values: &[&[u8]], now_ms: i64) -> Result<u64> {
        self.push(db, key, values, false, now_ms)
    }

    fn push(&self, db: u16, key: &[u8], values: &[&[u8]], left: bool, now_ms: i64) -> Result<u64> {
        self.push_ext(db, key, values, left, now_ms, false)
    }

    /// LPUSH (`left`) or RPUSH that also clears the list's *compact* flag
    /// ([`KeyMeta::compact`](crate::KeyMeta::compact)) in the same batch when `clear_compact`
    /// is set: the server decided (`ferrokv_engine::list::append_converts` with its fill) that
    /// this push converts the in-memory listpack to a quicklist. Otherwise a compact list's
    /// listpack size grows by the new elements' sizes. Returns the new length.
    pub fn push_ext(
        &self,
        db: u16,
        key: &[u8],
        values: &[&[u8]],
        left: bool,
        now_ms: i64,
        clear_compact: bool,
    ) -> Result<u64> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let mut b = i.batch();
        let (old, mut m) = i.typed_or_new(&mut b, db, key, now_ms, KeyType::List)?;
        if clear_compact {
            m.compact = false;
            m.lp_bytes = 0;
        }
        i.stage_push(&mut b, p, key, &mut m, values, left);
        i.finish(&mut b, p, key, old.as_ref(), &m);
        i.commit(b)?;
        Ok(m.size)
    }

    /// LPOP with a count: up to `count` values from the head (empty if the key is missing).
    pub fn lpop(&self, db: u16, key: &[u8], count: u64, now_ms: i64) -> Result<Vec<Vec<u8>>> {
        self.pop(db, key, count, true, now_ms)
    }

    /// RPOP with a count: up to `count` values from the tail, last element first.
    pub fn rpop(&self, db: u16, key: &[u8], count: u64, now_ms: i64) -> Result<Vec<Vec<u8>>> {
        self.pop(db, key, count, false, now_ms)
    }

    fn pop(
        &self,
        db: u16,
        key: &[u8],
        count: u64,
        left: bool,
        now_ms: i64,
    ) -> Result<Vec<Vec<u8>>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(old) = i.typed(db, key, now_ms, KeyType::List)? else {
            return Ok(Vec::new());
        };
        let mut m = old.clone();
        let mut b = i.batch();
        let out = i.stage_pop(&mut b, p, key, &mut m, count, left)?;
        i.finish(&mut b, p, key, Some(&old), &m);
        i.commit(b)?;
        Ok(out)
    }

    /// LINDEX (negative = from the tail), O(log N).
    pub fn lindex(&self, db: u16, key: &[u8], index: i64, now_ms: i64) -> Result<Option<Vec<u8>>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(m) = i.typed(db, key, now_ms, KeyType::List)? else {
            return Ok(None);
        };
        let Some(idx) = list_pos(&m, index) else {
            return Ok(None);
        };
        Ok(i.data
            .get(list_key(p, key, m.version, idx))?
            .map(|v| v.to_vec()))
    }

    /// LLEN, O(1).
    pub fn llen(&self, db: u16, key: &[u8], now_ms: i64) -> Result<u64> {
        self.card(db, key, now_ms, KeyType::List)
    }

    /// LRANGE start stop (Redis index rules). O(log N + returned).
    pub fn lrange(
        &self,
        db: u16,
        key: &[u8],
        start: i64,
        stop: i64,
        now_ms: i64,
    ) -> Result<Vec<Vec<u8>>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(m) = i.typed(db, key, now_ms, KeyType::List)? else {
            return Ok(Vec::new());
        };
        i.list_range(View::Live, p, key, &m, start, stop)
    }

    /// LSET: `NoSuchKey` / `IndexOutOfRange` as Redis.
    pub fn lset(&self, db: u16, key: &[u8], index: i64, value: &[u8], now_ms: i64) -> Result<()> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(m) = i.typed(db, key, now_ms, KeyType::List)? else {
            return Err(DiskError::NoSuchKey);
        };
        let idx = list_pos(&m, index).ok_or(DiskError::IndexOutOfRange)?;
        let mut b = i.batch();
        let lk = list_key(p, key, m.version, idx);
        if m.compact {
            // The listpack size follows the element (the server never converts here: it runs
            // LSET of compact lists through its own handler).
            let mut new = m.clone();
            if let Some(old) = i.data.get(&lk)? {
                new.lp_bytes = new.lp_bytes.saturating_sub(lp_size(&old));
            }
            new.lp_bytes += lp_size(value);
            i.finish(&mut b, p, key, Some(&m), &new);
        }
        b.b.insert(&i.data, lk, value.to_vec());
        i.commit(b)
    }
}

/// LTRIM.
impl DiskEngine {
    /// LTRIM start stop (Redis index rules): keeps the elements in `[start, stop]`, deleting
    /// the others at both ends (the key goes when nothing remains). O(removed) record deletes,
    /// like Redis; nothing in the middle moves (list indexes are absolute).
    pub fn ltrim(&self, db: u16, key: &[u8], start: i64, stop: i64, now_ms: i64) -> Result<()> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(old) = i.typed(db, key, now_ms, KeyType::List)? else {
            return Ok(());
        };
        let mut m = old.clone();
        let (keep_lo, keep_hi) = match norm_range(start, stop, m.size) {
            Some((s, e)) => (m.head + s as i64, m.head + e as i64 + 1),
            None => (m.tail, m.tail),
        };
        let mut b = i.batch();
        for idx in (m.head..keep_lo).chain(keep_hi..m.tail) {
            let lk = list_key(p, key, m.version, idx);
            if m.compact {
                if let Some(v) = i.data.get(&lk)? {
                    m.lp_bytes = m.lp_bytes.saturating_sub(lp_size(&v));
                }
            }
            b.b.remove(&i.data, lk);
        }
        m.size = (keep_hi - keep_lo) as u64;
        if m.size > 0 {
            m.head = keep_lo;
            m.tail = keep_hi;
        }
        i.finish(&mut b, p, key, Some(&old), &m);
        i.commit(b)
    }
}

/// Absolute element index of a Redis list index, if inside the list.
fn list_pos(m: &Meta, index: i64) -> Option<i64> {
    let len = m.size as i64;
    let i = if index < 0 {
        len.checked_add(index)?
    } else {
        index
    };
    (0..len).contains(&i).then(|| m.head + i)
}

/// Information about one key in a snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyInfo {
    /// The key's type.
    pub kind: KeyType,
    /// Absolute expiry in unix ms.
    pub expire: Option<i64>,
    /// Element count (0 for strings).
    pub size: u64,
}

/// Iterator over the keys of one database in a snapshot: `(key, info)`.
pub struct KeyIter {
    it: fjall::Iter,
}

impl Iterator for KeyIter {
    type Item = Result<(Vec<u8>, KeyInfo)>;

    fn next(&mut self) -> Option<Self::Item> {
        let g = self.it.next()?;
        let r = (|| {
            let (k, v) = g.into_inner()?;
            let (_, _, user_key) = codec::split_meta_key(&k).ok_or_else(|| corrupt("meta key"))?;
            let m = Meta::decode(&v).ok_or_else(|| corrupt("meta"))?;
            Ok((
                user_key.to_vec(),
                KeyInfo {
                    kind: m.kind,
                    expire: m.expire,
                    size: m.size,
                },
            ))
        })();
        Some(r)
    }
}

/// Reads from a consistent view (no lazy expiry: a snapshot never writes).
impl DiskSnapshot {
    /// Every key of database `db` with its info, in hash order, read lazily (memory stays
    /// bounded whatever the size of the database). Expired keys are included: the caller
    /// filters with its clock, as RDB saving does.
    pub fn keys(&self, db: u16) -> KeyIter {
        KeyIter {
            it: self
                .snap
                .prefix(&self.inner.meta, codec::pdb_prefix(self.map.pdb(db))),
        }
    }

    fn meta(&self, db: u16, key: &[u8], kind: KeyType) -> Result<Option<Meta>> {
        match self
            .inner
            .read_meta(View::Snap(&self.snap), self.map.pdb(db), key)?
        {
            Some(m) if m.kind != kind => Err(DiskError::WrongType),
            other => Ok(other),
        }
    }

    /// A string value.
    pub fn get(&self, db: u16, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.meta(db, key, KeyType::String)?.map(|m| m.value))
    }

    /// All (field, value) pairs of a hash, or (member, empty) of a set: an iterator that reads
    /// lazily from the snapshot.
    pub fn elements(&self, db: u16, key: &[u8], kind: KeyType) -> Result<SubIter> {
        Ok(match self.meta(db, key, kind)? {
            Some(m) if kind != KeyType::String && m.inline => {
                let items = match crate::object::decode_inline(kind, &m.value)? {
                    ferrokv_rdb::RdbValue::List(v) => {
                        v.into_iter().map(|e| (e, Vec::new())).collect()
                    }
                    ferrokv_rdb::RdbValue::Set(v) => {
                        v.into_iter().map(|e| (e, Vec::new())).collect()
                    }
                    ferrokv_rdb::RdbValue::ZSet(v) => v
                        .into_iter()
                        .map(|(e, s)| (e, s.to_be_bytes().to_vec()))
                        .collect(),
                    ferrokv_rdb::RdbValue::Hash(v) => {
                        v.into_iter().map(|f| (f.field, f.value)).collect()
                    }
                    _ => Vec::new(),
                };
                SubIter::from_items(kind, items)
            }
            Some(m) if kind != KeyType::String => {
                self.inner
                    .sub_iter(View::Snap(&self.snap), self.map.pdb(db), key, &m, None)
            }
            _ => SubIter::empty(kind),
        })
    }

    /// All members of a sorted set with their scores, in score order.
    pub fn zrange_all(&self, db: u16, key: &[u8]) -> Result<Vec<(Vec<u8>, f64)>> {
        match self.meta(db, key, KeyType::ZSet)? {
            Some(m) if m.inline => match crate::object::decode_inline(KeyType::ZSet, &m.value)? {
                ferrokv_rdb::RdbValue::ZSet(mut v) => {
                    v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
                    Ok(v)
                }
                _ => Ok(Vec::new()),
            },
            Some(m) => self.inner.zrange_rank(
                View::Snap(&self.snap),
                self.map.pdb(db),
                key,
                &m,
                0,
                -1,
                false,
            ),
            None => Ok(Vec::new()),
        }
    }

    /// All elements of a list, head first.
    pub fn lrange_all(&self, db: u16, key: &[u8]) -> Result<Vec<Vec<u8>>> {
        match self.meta(db, key, KeyType::List)? {
            Some(m) if m.inline => match crate::object::decode_inline(KeyType::List, &m.value)? {
                ferrokv_rdb::RdbValue::List(v) => Ok(v),
                _ => Ok(Vec::new()),
            },
            Some(m) => {
                self.inner
                    .list_range(View::Snap(&self.snap), self.map.pdb(db), key, &m, 0, -1)
            }
            None => Ok(Vec::new()),
        }
    }
}

/// Bytes element `s` takes in a Redis listpack (the memory engine's rule,
/// `ferrokv_engine::list::lp_entry_size`): what [`Meta::lp_bytes`] of a compact list sums.
pub(crate) fn lp_size(s: &[u8]) -> u64 {
    ferrokv_engine::list::lp_entry_size(s) as u64
}
