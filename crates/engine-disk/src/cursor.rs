//! Resumable element iteration over one collection (HSCAN / SSCAN / ZSCAN on field-level
//! collections) without server-side state.
//!
//! Elements come in subkey (field / member byte) order. The cursor is opaque bytes: empty
//! starts, a call returns the subkey of the first element it did not return (the next call
//! starts there, inclusive), or empty when the iteration is complete (the empty subkey sorts
//! first, so it can never be a continuation point). Because the order is fixed and the cursor
//! only moves forward, an element present during the whole iteration is returned exactly once
//! (Redis only promises "at least once"); elements added or removed meanwhile may or may not
//! appear. Each call costs one seek plus `count` records.

use crate::codec::KeyType;
use crate::ops::{prefix_end, View};
use crate::{codec, DiskEngine, DiskError, Result};
use std::ops::Bound;

/// One page of a [`DiskEngine::hscan`] / [`DiskEngine::sscan`] / [`DiskEngine::zscan`]: the next
/// cursor (empty = done) and the elements.
pub type ScanPage<T> = (Vec<u8>, Vec<T>);

impl DiskEngine {
    /// Raw page of `(subkey, record value)` of a collection of `kind`, resuming at `after`,
    /// with the collection's metadata.
    #[allow(clippy::type_complexity)]
    fn sub_page(
        &self,
        db: u16,
        key: &[u8],
        after: &[u8],
        count: usize,
        kind: KeyType,
        now_ms: i64,
    ) -> Result<(Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>, Option<codec::Meta>)> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let Some(m) = i.typed(db, key, now_ms, kind)? else {
            return Ok((Vec::new(), Vec::new(), None));
        };
        let p = codec::sub_prefix(i.pdb(db), key, m.version);
        let mut lo = p.clone();
        lo.extend_from_slice(after);
        let mut out = Vec::new();
        let range = View::Live.range(&i.data, Bound::Included(lo), prefix_end(&p));
        for (examined, g) in range.enumerate() {
            let (k, v) = g.into_inner()?;
            let sub = k
                .get(p.len()..)
                .ok_or_else(|| DiskError::Corrupt("subkey".into()))?;
            if examined >= count.max(1) {
                return Ok((sub.to_vec(), out, Some(m)));
            }
            out.push((sub.to_vec(), v.to_vec()));
        }
        Ok((Vec::new(), out, Some(m)))
    }

    /// HSCAN page: up to `count` (field, value) pairs from cursor `after` (empty to start;
    /// pass the returned cursor to continue; an empty returned cursor ends the iteration).
    /// Fields past their own TTL are skipped (they still count towards `count`, as Redis counts
    /// visited slots). O(log N + count). An inline hash is converted to field-level first.
    pub fn hscan(
        &self,
        db: u16,
        key: &[u8],
        after: &[u8],
        count: usize,
        now_ms: i64,
    ) -> Result<ScanPage<(Vec<u8>, Vec<u8>)>> {
        // The record format depends on the incarnation (its metadata's `tagged` flag).
        let (next, raw, m) = self.sub_page(db, key, after, count, KeyType::Hash, now_ms)?;
        let tagged = m.is_some_and(|m| m.tagged);
        let mut out = Vec::with_capacity(raw.len());
        for (f, v) in raw {
            match codec::dec_field(&v, tagged) {
                Some((_, Some(at))) if at <= now_ms => {}
                Some((val, _)) => out.push((f, val.to_vec())),
                None => return Err(DiskError::Corrupt("hash field".into())),
            }
        }
        Ok((next, out))
    }

    /// SSCAN page: up to `count` members from cursor `after` (see [`hscan`](Self::hscan)).
    pub fn sscan(
        &self,
        db: u16,
        key: &[u8],
        after: &[u8],
        count: usize,
        now_ms: i64,
    ) -> Result<ScanPage<Vec<u8>>> {
        let (next, raw, _) = self.sub_page(db, key, after, count, KeyType::Set, now_ms)?;
        Ok((next, raw.into_iter().map(|(m, _)| m).collect()))
    }

    /// ZSCAN page: up to `count` (member, score) pairs in member byte order from cursor `after`
    /// (see [`hscan`](Self::hscan)).
    pub fn zscan(
        &self,
        db: u16,
        key: &[u8],
        after: &[u8],
        count: usize,
        now_ms: i64,
    ) -> Result<ScanPage<(Vec<u8>, f64)>> {
        let (next, raw, _) = self.sub_page(db, key, after, count, KeyType::ZSet, now_ms)?;
        raw.into_iter()
            .map(|(m, v)| {
                let a: [u8; 8] = v
                    .as_slice()
                    .try_into()
                    .map_err(|_| DiskError::Corrupt("score".into()))?;
                Ok((m, f64::from_be_bytes(a)))
            })
            .collect::<Result<Vec<_>>>()
            .map(|items| (next, items))
    }
}
