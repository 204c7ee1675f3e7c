//! The sorted-set rank index: ZRANK and ZRANGE by rank in O(log N) record reads instead of
//! O(rank).
//!
//! A bucket is two records with the same key `sub_prefix(pdb, key, version)` + `level:u8` +
//! `boundary`: an empty record in keyspace `zbound` (the structure: written only when a bucket
//! is created, so range seeks over it stay cheap) and `elements:u64` `children:u64` in keyspace
//! `zcount` (hot: rewritten by every insert/delete, so it is only ever point-read: a range scan
//! over a record with thousands of unflushed versions would walk all of them). Level 0 is the `zscore` index itself (an element's
//! position key is `enc_score + member`, the `zscore` record key after the prefix). Each level
//! `1..=LEVELS` partitions the position space into buckets: the bucket with boundary `b` covers
//! `[b, next boundary of that level)`; every level has a bucket with the empty boundary; every
//! boundary of level `k + 1` is a boundary of level `k`, so a bucket is a run of whole buckets
//! of the level below (its `children`; at level 1, its elements). `elements` is the number of
//! `zscore` records the bucket covers.
//!
//! - An element insert/delete adds ±1 to the bucket containing it at every level, in the same
//!   batch as the element (one reverse seek per level; counts of one batch are accumulated in
//!   memory first, because a batch cannot read its own writes).
//! - A bucket whose children exceed `2 * B` is split into runs of `B` children **after** the
//!   batch is committed, level by level, each split one batch that also adds the new buckets to
//!   the parent's children (still under the key's lock). A split moves no element and keeps every
//!   count exact, so a crash between batches leaves a correct (merely unbalanced) index.
//! - Rank of position `t`: from the top level down, sum the `elements` of the buckets of the
//!   current run that start before the bucket containing `t`, then descend into that bucket; at
//!   level 0 count the `zscore` records from its boundary to `t`. At most about `2 * B` records
//!   per level: O(B · LEVELS) = O(log N) for a bounded number of levels. The top level is a flat
//!   list (about N / B^LEVELS buckets, 1 for N below ~2M with B = 128).
//! - Buckets are never merged: deletions leave small (even empty) buckets, so after heavy churn a
//!   run may hold more, smaller buckets than `2 * B` elements suggest; correctness is unaffected.
//!
//! Sorted sets created before the index existed have no `ranked` flag and keep the O(rank)
//! counting; every sorted set created (or rewritten by `apply`) since has the index.

use crate::codec::{self, Meta};
use crate::{Batch, DiskError, Inner, Result};
use std::collections::HashMap;
use std::ops::Bound;

/// Target number of children per bucket after a split (tiny in unit tests, so that every level
/// splits with a few hundred elements).
const B: u64 = if cfg!(test) { 4 } else { 128 };
/// Most levels above the elements (enough for 2·B^LEVELS elements per top bucket; with B = 128
/// the top level never holds more than 2·B buckets below ~10^15 elements).
const LEVELS: u8 = 6;

fn corrupt(what: &str) -> DiskError {
    DiskError::Corrupt(what.to_string())
}

fn enc(elements: u64, children: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(16);
    v.extend_from_slice(&elements.to_be_bytes());
    v.extend_from_slice(&children.to_be_bytes());
    v
}

fn dec(v: &[u8]) -> Result<(u64, u64)> {
    let e = v
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes);
    let c = v
        .get(8..16)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes);
    match (e, c) {
        (Some(e), Some(c)) => Ok((e, c)),
        _ => Err(corrupt("zcount")),
    }
}

/// Position key of an element (what follows the prefix in its `zscore` record).
pub(crate) fn position(score: f64, member: &[u8]) -> Vec<u8> {
    let mut t = codec::enc_score(score).to_vec();
    t.extend_from_slice(member);
    t
}

/// A bucket's (elements, children).
type Counts = (u64, u64);

/// A bucket found by a lookup: record key, first position, end position (exclusive; `None` =
/// the last bucket of its level).
type CachedBucket = (Vec<u8>, Vec<u8>, Option<Vec<u8>>);

/// The index of one sorted-set incarnation.
pub(crate) struct ZIndex<'a> {
    inner: &'a Inner,
    /// `sub_prefix` of the incarnation.
    prefix: Vec<u8>,
    /// The index does not exist on disk yet (a new incarnation in this batch): every level has
    /// only its empty-boundary bucket.
    fresh: bool,
    /// Counts read and changed by the current batch, by record key: (as read, now).
    overlay: HashMap<Vec<u8>, (Counts, Counts)>,
    /// Per level: the last bucket found, as (record key, position range `[start, end)`), so a
    /// batch of many elements in one bucket seeks once (filled from the third element on).
    cache: Vec<Option<CachedBucket>>,
    /// Bucket lookups done so far.
    lookups: usize,
    /// Levels in use (the metadata's `zheight`).
    height: u8,
}

impl<'a> ZIndex<'a> {
    pub(crate) fn new(inner: &'a Inner, pdb: u32, key: &[u8], m: &Meta, fresh: bool) -> Self {
        ZIndex {
            inner,
            prefix: codec::sub_prefix(pdb, key, m.version),
            fresh,
            overlay: HashMap::new(),
            cache: vec![None; usize::from(LEVELS) + 1],
            lookups: 0,
            height: if fresh { 1 } else { m.zheight.clamp(1, LEVELS) },
        }
    }

    fn level_prefix(&self, level: u8) -> Vec<u8> {
        let mut k = self.prefix.clone();
        k.push(level);
        k
    }

    fn rkey(&self, level: u8, boundary: &[u8]) -> Vec<u8> {
        let mut k = self.level_prefix(level);
        k.extend_from_slice(boundary);
        k
    }

    /// Record key of the bucket of `level` containing position `t` (as stored on disk: buckets
    /// are created only by splits, which run between batches).
    fn bucket_of(&self, level: u8, t: &[u8]) -> Result<Vec<u8>> {
        let lp = self.level_prefix(level);
        if self.fresh {
            return Ok(lp);
        }
        self.seek_bucket(&lp, t)
    }

    /// [`bucket_of`](Self::bucket_of) through the per-level cache.
    fn bucket_of_cached(&mut self, level: u8, t: &[u8]) -> Result<Vec<u8>> {
        if self.fresh {
            return Ok(self.level_prefix(level));
        }
        let slot = usize::from(level);
        if let Some((rk, start, end)) = &self.cache[slot] {
            if t >= start.as_slice() && end.as_ref().is_none_or(|e| t < e.as_slice()) {
                return Ok(rk.clone());
            }
        }
        let lp = self.level_prefix(level);
        let rk = self.seek_bucket(&lp, t)?;
        self.lookups += 1;
        if self.lookups > 2 * usize::from(self.height) {
            // A batch of more than two element changes (a score update is two): remember the
            // bucket's range (one forward seek).
            let mut after = rk.clone();
            after.push(0);
            let end = match self
                .inner
                .zbound
                .range::<Vec<u8>, _>((Bound::Included(after), crate::ops::prefix_end(&lp)))
                .next()
            {
                Some(g) => Some(suffix(&g.key()?, lp.len())?.to_vec()),
                None => None,
            };
            let start = suffix(&rk, lp.len())?.to_vec();
            self.cache[slot] = Some((rk.clone(), start, end));
        }
        Ok(rk)
    }

    /// The record key of the bucket of level prefix `lp` containing position `t` (on disk).
    fn seek_bucket(&self, lp: &[u8], t: &[u8]) -> Result<Vec<u8>> {
        let lp = lp.to_vec();
        let mut hi = lp.clone();
        hi.extend_from_slice(t);
        match self
            .inner
            .zbound
            .range::<Vec<u8>, _>((Bound::Included(lp), Bound::Included(hi)))
            .next_back()
        {
            Some(g) => Ok(g.key()?.to_vec()),
            None => Err(corrupt("zcount: missing bucket")),
        }
    }

    fn counts(&self, rk: &[u8]) -> Result<(u64, u64)> {
        if let Some((_, c)) = self.overlay.get(rk) {
            return Ok(*c);
        }
        if self.fresh {
            let level = rk.get(self.prefix.len()).copied().unwrap_or(1);
            return Ok((0, u64::from(level > 1)));
        }
        match self.inner.zcount.get(rk)? {
            Some(v) => dec(&v),
            None => Err(corrupt("zcount: missing bucket")),
        }
    }

    /// Counts element `(score, member)` in (`delta` = 1) or out (-1).
    pub(crate) fn add(&mut self, score: f64, member: &[u8], delta: i64) -> Result<()> {
        let t = position(score, member);
        for level in 1..=self.height {
            let rk = self.bucket_of_cached(level, &t)?;
            let (e0, c0) = self.counts(&rk)?;
            let orig = self.overlay.get(&rk).map_or((e0, c0), |(o, _)| *o);
            let e = e0
                .checked_add_signed(delta)
                .ok_or_else(|| corrupt("zcount underflow"))?;
            let c = if level == 1 { e } else { c0 };
            self.overlay.insert(rk, (orig, (e, c)));
        }
        Ok(())
    }

    /// Writes the changed counts into `b` (and the empty-boundary buckets of a fresh index).
    /// Counts a batch left as they were (a score update inside one bucket) are not rewritten.
    pub(crate) fn write(&self, b: &mut Batch) {
        if self.fresh {
            let lp = self.level_prefix(1);
            b.b.insert(&self.inner.zbound, lp.clone(), Vec::<u8>::new());
            if !self.overlay.contains_key(&lp) {
                b.b.insert(&self.inner.zcount, lp, enc(0, 0));
            }
        }
        for (k, (orig, (e, c))) in &self.overlay {
            if self.fresh || *orig != (*e, *c) {
                b.b.insert(&self.inner.zcount, k.clone(), enc(*e, *c));
            }
        }
    }

    /// Buckets of the batch that outgrew `2 * B` children, as (level, boundary): pass them to
    /// [`Inner::zsplit`] after committing.
    pub(crate) fn oversized(&self) -> Vec<(u8, Vec<u8>)> {
        let n = self.prefix.len();
        let mut v: Vec<(u8, Vec<u8>)> = self
            .overlay
            .iter()
            .filter(|(_, (_, (_, c)))| *c > 2 * B)
            .filter_map(|(k, _)| Some((*k.get(n)?, k.get(n + 1..)?.to_vec())))
            .collect();
        v.sort();
        v
    }

    /// Builds the whole index of `positions` (sorted, distinct) into `b`: buckets of `B`
    /// children per level, levels added until the top one has at most `2 * B` buckets.
    /// Returns (height, top-level bucket count) for the metadata.
    pub(crate) fn build(&self, b: &mut Batch, positions: &[Vec<u8>]) -> (u8, u64) {
        // (boundary, elements) of the current level's buckets, starting from the elements.
        let mut run: Vec<(&[u8], u64)> = positions.iter().map(|p| (p.as_slice(), 1)).collect();
        let mut level = 1u8;
        loop {
            let mut next: Vec<(&[u8], u64)> = Vec::with_capacity(run.len() / B as usize + 1);
            for (n, chunk) in run.chunks(B as usize).enumerate() {
                let boundary: &[u8] = if n == 0 { &[] } else { chunk[0].0 };
                let elements = chunk.iter().map(|c| c.1).sum();
                let rk = self.rkey(level, boundary);
                b.b.insert(&self.inner.zbound, rk.clone(), Vec::<u8>::new());
                b.b.insert(&self.inner.zcount, rk, enc(elements, chunk.len() as u64));
                next.push((boundary, elements));
            }
            if next.is_empty() {
                let lp = self.level_prefix(level);
                b.b.insert(&self.inner.zbound, lp.clone(), Vec::<u8>::new());
                b.b.insert(&self.inner.zcount, lp, enc(0, 0));
                return (level, 1);
            }
            if next.len() as u64 <= 2 * B || level == LEVELS {
                return (level, next.len() as u64);
            }
            run = next;
            level += 1;
        }
    }
}

/// Strips `prefix` from a record key.
fn suffix(k: &[u8], prefix_len: usize) -> Result<&[u8]> {
    k.get(prefix_len..).ok_or_else(|| corrupt("zcount key"))
}

impl Inner {
    /// Splits every bucket of the incarnation `(pdb, key, m.version)` that has more than
    /// `2 * B` children, bottom level first; one committed batch per split (see the module
    /// documentation). Caller holds the key's lock.
    pub(crate) fn zsplit(
        &self,
        pdb: u32,
        key: &[u8],
        m: &Meta,
        oversized: Vec<(u8, Vec<u8>)>,
    ) -> Result<()> {
        let mut work = std::collections::BTreeSet::from_iter(oversized);
        while let Some((level, boundary)) = work.pop_first() {
            // The metadata changes when the top level grows: re-read it for every split.
            let cur = self
                .read_meta(crate::ops::View::Live, pdb, key)?
                .filter(|c| c.version == m.version)
                .ok_or_else(|| corrupt("zsplit: sorted set gone"))?;
            let zi = ZIndex::new(self, pdb, key, &cur, false);
            if let Some(next) = self.split_bucket(&zi, &cur, pdb, key, level, &boundary)? {
                work.insert(next);
            }
        }
        Ok(())
    }

    /// Splits one bucket (and grows the index by a level when the top level gets more than
    /// `2 * B` buckets); returns the bucket to split next, if its parent is now oversized.
    fn split_bucket(
        &self,
        zi: &ZIndex<'_>,
        m: &Meta,
        pdb: u32,
        key: &[u8],
        level: u8,
        boundary: &[u8],
    ) -> Result<Option<(u8, Vec<u8>)>> {
        let lp = zi.level_prefix(level);
        let start = zi.rkey(level, boundary);
        // End of the bucket: the next boundary of this level.
        let mut after = start.clone();
        after.push(0);
        let end: Option<Vec<u8>> = match self
            .zbound
            .range::<Vec<u8>, _>((Bound::Included(after), crate::ops::prefix_end(&lp)))
            .next()
        {
            Some(g) => Some(suffix(&g.key()?, lp.len())?.to_vec()),
            None => None,
        };
        // Children: (position boundary, elements).
        let mut children: Vec<(Vec<u8>, u64)> = Vec::new();
        let (child_ks, child_prefix) = if level == 1 {
            (&self.zscore, zi.prefix.clone())
        } else {
            (&self.zbound, zi.level_prefix(level - 1))
        };
        let mut lo = child_prefix.clone();
        lo.extend_from_slice(boundary);
        let hi = match &end {
            Some(e) => {
                let mut h = child_prefix.clone();
                h.extend_from_slice(e);
                Bound::Excluded(h)
            }
            None => crate::ops::prefix_end(&child_prefix),
        };
        for g in child_ks.range::<Vec<u8>, _>((Bound::Included(lo), hi)) {
            let k = g.key()?;
            let e = if level == 1 { 1 } else { zi.counts(&k)?.0 };
            children.push((suffix(&k, child_prefix.len())?.to_vec(), e));
        }
        if children.len() as u64 <= 2 * B {
            // Recount only (the stored children count was stale).
            let mut b = self.batch();
            let e: u64 = children.iter().map(|c| c.1).sum();
            b.b.insert(&self.zcount, start, enc(e, children.len() as u64));
            self.commit(b)?;
            return Ok(None);
        }
        let mut b = self.batch();
        let mut new_buckets = 0u64;
        for (n, chunk) in children.chunks(B as usize).enumerate() {
            let e: u64 = chunk.iter().map(|c| c.1).sum();
            let bk = if n == 0 {
                start.clone()
            } else {
                new_buckets += 1;
                let bk = zi.rkey(level, &chunk[0].0);
                b.b.insert(&self.zbound, bk.clone(), Vec::<u8>::new());
                bk
            };
            b.b.insert(&self.zcount, bk, enc(e, chunk.len() as u64));
        }
        let mut up = None;
        if level < zi.height {
            let parent = zi.bucket_of(level + 1, boundary)?;
            let (e, c) = zi.counts(&parent)?;
            if c + new_buckets > 2 * B {
                up = Some((level + 1, suffix(&parent, zi.prefix.len() + 1)?.to_vec()));
            }
            b.b.insert(&self.zcount, parent, enc(e, c + new_buckets));
        } else {
            // The top level: its bucket count lives in the metadata; past 2·B, add a level
            // above with one bucket over all of them, and split that.
            let mut nm = m.clone();
            nm.ztop += new_buckets;
            if nm.ztop > 2 * B && level < LEVELS {
                let rk = zi.level_prefix(level + 1);
                b.b.insert(&self.zbound, rk.clone(), Vec::<u8>::new());
                b.b.insert(&self.zcount, rk, enc(m.size, nm.ztop));
                up = Some((level + 1, Vec::new()));
                nm.zheight = level + 1;
                nm.ztop = 1;
            }
            self.put_meta(&mut b, pdb, key, Some(m), &nm);
        }
        self.commit(b)?;
        Ok(up)
    }

    /// Range bounds of the run of level-`level` buckets in `[lo, hi)` (`hi` None = to the end
    /// of the level) in keyspace `zbound` (or, with `level` 0, of the elements in `zscore`).
    fn run_bounds(
        zi: &ZIndex<'_>,
        level: u8,
        lo: &[u8],
        hi: Option<&[u8]>,
    ) -> (Vec<u8>, Bound<Vec<u8>>, usize) {
        let lp = if level == 0 {
            zi.prefix.clone()
        } else {
            zi.level_prefix(level)
        };
        let mut from = lp.clone();
        from.extend_from_slice(lo);
        let to = match hi {
            Some(h) => {
                let mut t = lp.clone();
                t.extend_from_slice(h);
                Bound::Excluded(t)
            }
            None => crate::ops::prefix_end(&lp),
        };
        (from, to, lp.len())
    }

    /// Finds the bucket of the run `[lo, hi)` of `level` that holds position `t`, scanning from
    /// both ends at once so that a position near either end reads few records. Returns the
    /// bucket's key, the keys on the side that was scanned (`true` = the buckets before it,
    /// `false` = after it), and the next boundary after it if known (else the run's `hi`).
    #[allow(clippy::type_complexity)]
    fn locate(
        &self,
        zi: &ZIndex<'_>,
        level: u8,
        lo: &[u8],
        hi: Option<&[u8]>,
        t: &[u8],
    ) -> Result<(fjall::Slice, bool, Vec<fjall::Slice>, Option<Vec<u8>>)> {
        let (from, to, plen) = Self::run_bounds(zi, level, lo, hi);
        let mut fwd = self
            .zbound
            .range::<Vec<u8>, _>((Bound::Included(from.clone()), to.clone()));
        let mut bwd = self
            .zbound
            .range::<Vec<u8>, _>((Bound::Included(from), to))
            .rev();
        let (mut before, mut after): (Vec<fjall::Slice>, Vec<fjall::Slice>) =
            (Vec::new(), Vec::new());
        let hi_owned = hi.map(<[u8]>::to_vec);
        loop {
            match fwd.next() {
                Some(g) => {
                    let k = g.key()?;
                    if suffix(&k, plen)? > t {
                        let c = before.pop().ok_or_else(|| corrupt("zbound: run"))?;
                        let next = suffix(&k, plen)?.to_vec();
                        return Ok((c, true, before, Some(next)));
                    }
                    before.push(k);
                }
                None => {
                    let c = before.pop().ok_or_else(|| corrupt("zbound: run"))?;
                    return Ok((c, true, before, hi_owned));
                }
            }
            if let Some(g) = bwd.next() {
                let k = g.key()?;
                if suffix(&k, plen)? <= t {
                    let next = match after.last() {
                        Some(n) => Some(suffix(n, plen)?.to_vec()),
                        None => hi_owned,
                    };
                    return Ok((k, false, after, next));
                }
                after.push(k);
            }
        }
    }

    /// Number of elements before position `t` (the forward rank of an element at `t`), using
    /// the index of `(pdb, key, m)`. At each level the run is scanned from both ends and the
    /// counts are summed on the side that found the bucket first (the parent's element count
    /// gives the other side), so ranks near either end read few records.
    pub(crate) fn zindex_rank(&self, pdb: u32, key: &[u8], m: &Meta, t: &[u8]) -> Result<u64> {
        let zi = ZIndex::new(self, pdb, key, m, false);
        let mut acc = 0u64;
        let mut lo: Vec<u8> = Vec::new();
        let mut hi: Option<Vec<u8>> = None;
        let mut parent_e = m.size;
        let lp_len = zi.prefix.len() + 1;
        for level in (1..=zi.height).rev() {
            let (c, fwd_side, side, next) = self.locate(&zi, level, &lo, hi.as_deref(), t)?;
            let e_c = zi.counts(&c)?.0;
            let mut n = 0;
            for k in &side {
                n += zi.counts(k)?.0;
            }
            acc += if fwd_side {
                n
            } else {
                parent_e.saturating_sub(e_c + n)
            };
            lo = suffix(&c, lp_len)?.to_vec();
            hi = next;
            parent_e = e_c;
        }
        // Inside the bottom bucket: count `zscore` records from both ends until one reaches `t`.
        let (from, to, plen) = Self::run_bounds(&zi, 0, &lo, hi.as_deref());
        let mut fwd = self
            .zscore
            .range::<Vec<u8>, _>((Bound::Included(from.clone()), to.clone()));
        let mut bwd = self
            .zscore
            .range::<Vec<u8>, _>((Bound::Included(from), to))
            .rev();
        let (mut nf, mut nb) = (0u64, 0u64);
        loop {
            match fwd.next() {
                Some(g) => {
                    if suffix(&g.key()?, plen)? >= t {
                        return Ok(acc + nf);
                    }
                    nf += 1;
                }
                None => return Ok(acc + nf),
            }
            if let Some(g) = bwd.next() {
                let k = g.key()?;
                let pos = suffix(&k, plen)?;
                if pos <= t {
                    let at = u64::from(pos == t);
                    return Ok(acc + parent_e.saturating_sub(nb + at));
                }
                nb += 1;
            }
        }
    }

    /// The `zscore` record key where forward rank `r` starts, and how many records to skip
    /// from there. `None` if `r >= size`. Each run is walked from its nearer end (the parent's
    /// element count tells which), and so is the bottom bucket.
    pub(crate) fn zindex_seek(
        &self,
        pdb: u32,
        key: &[u8],
        m: &Meta,
        r: u64,
    ) -> Result<Option<(Vec<u8>, u64)>> {
        if r >= m.size {
            return Ok(None);
        }
        let zi = ZIndex::new(self, pdb, key, m, false);
        let mut r = r;
        let mut lo: Vec<u8> = Vec::new();
        let mut hi: Option<Vec<u8>> = None;
        let mut parent_e = m.size;
        let lp_len = zi.prefix.len() + 1;
        for level in (1..=zi.height).rev() {
            let (from, to, _) = Self::run_bounds(&zi, level, &lo, hi.as_deref());
            let it = self.zbound.range::<Vec<u8>, _>((Bound::Included(from), to));
            // (bucket key, its elements, its first rank in the run, next boundary if known).
            let mut found = None;
            if r.saturating_mul(2) < parent_e {
                let mut start = 0;
                let mut it = it;
                while let Some(g) = it.next() {
                    let k = g.key()?;
                    let e = zi.counts(&k)?.0;
                    if start + e > r {
                        let next = match it.next() {
                            Some(g) => Some(suffix(&g.key()?, lp_len)?.to_vec()),
                            None => hi.clone(),
                        };
                        found = Some((k, e, start, next));
                        break;
                    }
                    start += e;
                }
            } else {
                let mut after = 0;
                let mut prev: Option<fjall::Slice> = None;
                for g in it.rev() {
                    let k = g.key()?;
                    let e = zi.counts(&k)?.0;
                    let start = parent_e.saturating_sub(after + e);
                    if start <= r && e > 0 {
                        let next = match &prev {
                            Some(p) => Some(suffix(p, lp_len)?.to_vec()),
                            None => hi.clone(),
                        };
                        found = Some((k, e, start, next));
                        break;
                    }
                    after += e;
                    prev = Some(k);
                }
            }
            let Some((k, e, start, next)) = found else {
                return Err(corrupt("zcount: rank outside the index"));
            };
            r -= start;
            lo = suffix(&k, lp_len)?.to_vec();
            hi = next;
            parent_e = e;
        }
        let (from, to, _) = Self::run_bounds(&zi, 0, &lo, hi.as_deref());
        if r.saturating_mul(2) >= parent_e {
            // Nearer the end of the bucket: find the record from there.
            let back = parent_e - 1 - r;
            if let Some(g) = self
                .zscore
                .range::<Vec<u8>, _>((Bound::Included(from.clone()), to))
                .rev()
                .nth(back as usize)
            {
                return Ok(Some((g.key()?.to_vec(), 0)));
            }
        }
        Ok(Some((from, r)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{DiskEngine, DiskOptions, Fsync, KeyWrite};
    use ferrokv_rdb::RdbValue;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    /// The model's order: (score, member) as the `zscore` index orders them.
    fn ordered(model: &BTreeMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
        let mut v: Vec<(Vec<u8>, f64)> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
        v.sort_by_key(|a| position(a.1, &a.0));
        v
    }

    /// Every level's buckets cover exactly the elements, and each boundary nests in the level
    /// below.
    fn check_invariants(e: &DiskEngine, key: &[u8], size: u64) {
        let i = &e.inner;
        let m = i
            .read_meta(crate::ops::View::Live, 0, key)
            .unwrap()
            .unwrap();
        assert!(m.ranked);
        let zi = ZIndex::new(i, 0, key, &m, false);
        let mut below: Option<Vec<Vec<u8>>> = None;
        assert!(m.zheight >= 1);
        for level in 1..=m.zheight {
            let lp = zi.level_prefix(level);
            let mut total = 0;
            let mut bounds = Vec::new();
            for g in i.zbound.prefix(&lp) {
                let k = g.key().unwrap();
                total += zi.counts(&k).unwrap().0;
                bounds.push(k[lp.len()..].to_vec());
            }
            assert_eq!(total, size, "level {level} element total");
            if level == m.zheight {
                assert_eq!(bounds.len() as u64, m.ztop, "top bucket count");
                assert!(m.ztop <= 2 * B, "top level over 2B");
            }
            assert_eq!(
                bounds.first().map(Vec::len),
                Some(0),
                "empty boundary first"
            );
            if let Some(b) = &below {
                for x in &bounds {
                    assert!(b.contains(x), "level {level} boundary does not nest");
                }
            }
            below = Some(bounds);
        }
    }

    #[test]
    fn ranks_match_a_model_through_splits_on_every_level() {
        let dir = tempfile::tempdir().unwrap();
        let e = DiskEngine::open(
            dir.path(),
            DiskOptions {
                fsync: Fsync::No,
                ..DiskOptions::default()
            },
        )
        .unwrap();
        let mut rng = StdRng::seed_from_u64(11);
        let mut model: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
        let key = b"z";
        for round in 0..60 {
            // A batch of adds/updates (some repeated in one call), some increments, removals.
            let n = rng.gen_range(1..40);
            let items: Vec<(f64, Vec<u8>)> = (0..n)
                .map(|_| {
                    let s = f64::from(rng.gen_range(-20..20)) / 2.0;
                    (s, format!("m{}", rng.gen_range(0..1500)).into_bytes())
                })
                .collect();
            let refs: Vec<(f64, &[u8])> = items.iter().map(|(s, m)| (*s, m.as_slice())).collect();
            e.zadd(0, key, &refs, 0).unwrap();
            for (s, m) in &items {
                model.insert(m.clone(), *s);
            }
            for _ in 0..3 {
                let m = format!("m{}", rng.gen_range(0..1500)).into_bytes();
                let got = e.zincrby(0, key, 1.5, &m, 0).unwrap();
                let want = model.get(&m).copied().unwrap_or(0.0) + 1.5;
                assert_eq!(got, want);
                model.insert(m, want);
            }
            if round % 3 == 2 {
                let dels: Vec<Vec<u8>> = (0..rng.gen_range(1..30))
                    .map(|_| format!("m{}", rng.gen_range(0..1500)).into_bytes())
                    .collect();
                let refs: Vec<&[u8]> = dels.iter().map(Vec::as_slice).collect();
                e.zrem(0, key, &refs, 0).unwrap();
                for d in &dels {
                    model.remove(d);
                }
            }
            let want = ordered(&model);
            let size = want.len() as u64;
            assert_eq!(e.zcard(0, key, 0).unwrap(), size);
            check_invariants(&e, key, size);
            for _ in 0..20 {
                let r = rng.gen_range(0..want.len());
                let (m, _) = &want[r];
                assert_eq!(e.zrank(0, key, m, false, 0).unwrap(), Some(r as u64));
                assert_eq!(
                    e.zrank(0, key, m, true, 0).unwrap(),
                    Some(size - 1 - r as u64)
                );
                let len = want.len() as i64;
                let a = rng.gen_range(-len - 3..len + 3);
                let b = rng.gen_range(-len - 3..len + 3);
                let rev = rng.gen_bool(0.5);
                let got = e.zrange_by_rank(0, key, a, b, rev, 0).unwrap();
                let mut w: Vec<(Vec<u8>, f64)> = if rev {
                    want.iter().rev().cloned().collect()
                } else {
                    want.clone()
                };
                let norm = |x: i64| if x < 0 { len + x } else { x };
                let (s, t) = (norm(a).max(0), norm(b).min(len - 1));
                w = if s > t || s >= len {
                    Vec::new()
                } else {
                    w[s as usize..=t as usize].to_vec()
                };
                assert_eq!(got, w, "zrange {a} {b} rev={rev}");
            }
        }
        assert!(model.len() > 600, "enough members for several levels");
        // Bulk build through apply (field-level), then the same checks.
        let v = RdbValue::ZSet(ordered(&model));
        e.apply(
            &[KeyWrite::Put {
                db: 0,
                key: b"bulk",
                value: &v,
                expire_ms: None,
                inline: false,
            }],
            0,
        )
        .unwrap();
        check_invariants(&e, b"bulk", model.len() as u64);
        let want = ordered(&model);
        for (r, (m, _)) in want.iter().enumerate().step_by(7) {
            assert_eq!(e.zrank(0, b"bulk", m, false, 0).unwrap(), Some(r as u64));
        }
        e.zadd(0, b"bulk", &[(-100.0, b"first")], 0).unwrap();
        assert_eq!(e.zrank(0, b"bulk", &want[5].0, false, 0).unwrap(), Some(6));
        assert_eq!(
            e.zrange_by_rank(0, b"bulk", 1, 1, false, 0).unwrap(),
            vec![want[0].clone()]
        );
    }
}
