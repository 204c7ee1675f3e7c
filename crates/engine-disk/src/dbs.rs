//! Logical → physical databases (O(1) FLUSHDB / FLUSHALL / SWAPDB) and exact per-database key
//! counters (O(1) DBSIZE).
//!
//! Every record key starts with a *physical* database id. A logical database `d` maps to the
//! physical id `d` unless the table in `sys` (`dbmap/<d>`) says otherwise; ids handed out by
//! flushes start at 65536, from a counter persisted in the same batch as the mapping. FLUSHDB
//! maps the logical db to a fresh id, SWAPDB swaps two entries: one small batch, durable per
//! `Fsync`. A physical id that no logical db maps to is dead forever (fresh ids are never reused;
//! an identity id, once replaced, is never mapped again because only live ids get swapped), and
//! the compaction filters drop every record under a dead id.
//!
//! Key counters count metadata records per physical id (live and expired-but-not-reclaimed
//! keys, as Redis's DBSIZE). Every batch that creates or deletes metadata records also writes
//! one *delta record* `cnt/d/<pdb><seq>` → delta, so the count is exactly as durable as the
//! change it counts (a crash keeps both or neither). In memory the engine keeps the sums;
//! after [`FOLD_EVERY`] deltas, the committing thread folds them into base records
//! `cnt/b/<pdb>` (one batch that adds the deltas it read to the bases and deletes exactly those
//! deltas, so concurrent new deltas are untouched). Opening sums the bases and the unfolded
//! deltas: bounded work, independent of the dataset. A store written before counters existed
//! is counted once on open (O(keys), then marked `cnt/ok`).

use crate::codec;
use crate::{DiskEngine, DiskError, Inner, Result};
use fjall::Keyspace;
use std::collections::HashMap;
use std::sync::atomic::Ordering;

/// Deltas written between two folds.
pub(crate) const FOLD_EVERY: u64 = 4096;
/// First physical id handed out by a flush (ids below are the identity ids of logical dbs).
const FIRST_FRESH: u32 = 1 << 16;
const MAP_PREFIX: &[u8] = b"dbmap/";
const NEXT_KEY: &[u8] = b"dbnext";
const BASE_PREFIX: &[u8] = b"cnt/b/";
const DELTA_PREFIX: &[u8] = b"cnt/d/";
const COUNTED_KEY: &[u8] = b"cnt/ok";

/// The logical → physical database table.
#[derive(Clone, Debug)]
pub(crate) struct DbMap {
    /// Logical dbs not mapped to their own id.
    overrides: HashMap<u16, u32>,
    /// Next fresh physical id.
    pub(crate) next: u32,
}

impl DbMap {
    pub(crate) fn new() -> DbMap {
        DbMap {
            overrides: HashMap::new(),
            next: FIRST_FRESH,
        }
    }

    /// The physical id of logical db `db`.
    pub(crate) fn pdb(&self, db: u16) -> u32 {
        self.overrides
            .get(&db)
            .copied()
            .unwrap_or_else(|| u32::from(db))
    }

    /// The logical db that maps to physical id `pdb`, if any (dead ids map to none).
    pub(crate) fn ldb(&self, pdb: u32) -> Option<u16> {
        if let Some((&l, _)) = self.overrides.iter().find(|(_, &p)| p == pdb) {
            return Some(l);
        }
        let l = u16::try_from(pdb).ok()?;
        (!self.overrides.contains_key(&l)).then_some(l)
    }

    /// Whether records under `pdb` may be live. Ids at or above `next` were not handed out when
    /// this table was read (a compaction filter's copy may be older than the writer's).
    pub(crate) fn maybe_live(&self, pdb: u32) -> bool {
        pdb >= self.next || self.ldb(pdb).is_some()
    }
}

fn map_key(db: u16) -> Vec<u8> {
    let mut k = MAP_PREFIX.to_vec();
    k.extend_from_slice(&db.to_be_bytes());
    k
}

fn base_key(pdb: u32) -> Vec<u8> {
    let mut k = BASE_PREFIX.to_vec();
    k.extend_from_slice(&pdb.to_be_bytes());
    k
}

fn be_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

fn be_i64(b: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(b.get(..8)?.try_into().ok()?))
}

fn corrupt(what: &str) -> DiskError {
    DiskError::Corrupt(what.to_string())
}

/// Reads the mapping table and the counters at open; counts the keys once for a store written
/// before counters existed. Returns (map, counts, next delta sequence number, unfolded deltas).
pub(crate) fn load(
    db: &fjall::Database,
    sys: &Keyspace,
    meta: &Keyspace,
) -> Result<(DbMap, HashMap<u32, i64>, u64, u64)> {
    let mut map = DbMap::new();
    for g in sys.prefix(MAP_PREFIX) {
        let (k, v) = g.into_inner()?;
        let l = k.get(MAP_PREFIX.len()..).ok_or_else(|| corrupt("dbmap"))?;
        let l: [u8; 2] = l.try_into().map_err(|_| corrupt("dbmap key"))?;
        let p = be_u32(&v).ok_or_else(|| corrupt("dbmap value"))?;
        map.overrides.insert(u16::from_be_bytes(l), p);
    }
    if let Some(v) = sys.get(NEXT_KEY)? {
        map.next = be_u32(&v).ok_or_else(|| corrupt("dbnext"))?;
    }
    let mut counts: HashMap<u32, i64> = HashMap::new();
    let mut seq = 0u64;
    let mut deltas = 0u64;
    if sys.get(COUNTED_KEY)?.is_none() {
        // First open with counters: count the metadata records once.
        for g in meta.iter() {
            let k = g.key()?;
            let (pdb, _, _) = codec::split_meta_key(&k).ok_or_else(|| corrupt("meta key"))?;
            *counts.entry(pdb).or_insert(0) += 1;
        }
        let mut b = db.batch();
        for (pdb, n) in &counts {
            b.insert(sys, base_key(*pdb), n.to_be_bytes().to_vec());
        }
        b.insert(sys, COUNTED_KEY, Vec::<u8>::new());
        b.commit()?;
        return Ok((map, counts, seq, deltas));
    }
    for g in sys.prefix(BASE_PREFIX) {
        let (k, v) = g.into_inner()?;
        let pdb = be_u32(&k[BASE_PREFIX.len()..]).ok_or_else(|| corrupt("count base"))?;
        *counts.entry(pdb).or_insert(0) += be_i64(&v).ok_or_else(|| corrupt("count base"))?;
    }
    for g in sys.prefix(DELTA_PREFIX) {
        let (k, v) = g.into_inner()?;
        let rest = &k[DELTA_PREFIX.len()..];
        let pdb = be_u32(rest).ok_or_else(|| corrupt("count delta"))?;
        let s = rest
            .get(4..12)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| corrupt("count delta"))?;
        seq = seq.max(s + 1);
        deltas += 1;
        *counts.entry(pdb).or_insert(0) += be_i64(&v).ok_or_else(|| corrupt("count delta"))?;
    }
    counts.retain(|p, _| map.maybe_live(*p));
    Ok((map, counts, seq, deltas))
}

/// In-memory state of the key counters.
pub(crate) struct Counters {
    /// Key count per physical id (base + every committed delta).
    pub(crate) counts: parking_lot::Mutex<HashMap<u32, i64>>,
    /// Next delta record sequence number.
    pub(crate) seq: std::sync::atomic::AtomicU64,
    /// Delta records written since the last fold.
    pub(crate) pending: std::sync::atomic::AtomicU64,
    /// Serialises folds.
    pub(crate) fold: parking_lot::Mutex<()>,
}

impl Inner {
    /// The physical id of logical db `db` now. Callers that act on records hold the key's
    /// stripe lock, which flush/swap also take, so the answer holds for the whole operation.
    pub(crate) fn pdb(&self, db: u16) -> u32 {
        self.gc.dbmap.read().pdb(db)
    }

    /// Adds the delta records of a batch about to commit (`deltas` per physical id).
    pub(crate) fn write_deltas(&self, b: &mut fjall::OwnedWriteBatch, deltas: &[(u32, i64)]) {
        for (pdb, d) in deltas {
            let seq = self.counters.seq.fetch_add(1, Ordering::Relaxed);
            let mut k = DELTA_PREFIX.to_vec();
            k.extend_from_slice(&pdb.to_be_bytes());
            k.extend_from_slice(&seq.to_be_bytes());
            b.insert(&self.sys, k, d.to_be_bytes().to_vec());
        }
    }

    /// Applies a committed batch's deltas to the in-memory counts; folds when due.
    pub(crate) fn count_committed(&self, deltas: &[(u32, i64)]) {
        {
            let mut c = self.counters.counts.lock();
            for (pdb, d) in deltas {
                *c.entry(*pdb).or_insert(0) += d;
            }
        }
        let n = self
            .counters
            .pending
            .fetch_add(deltas.len() as u64, Ordering::Relaxed);
        if n + deltas.len() as u64 >= FOLD_EVERY {
            // Best effort: a failed fold leaves the deltas, which stay exact.
            let _ = self.fold_counts();
        }
    }

    /// Folds the delta records into the base records (see the module documentation).
    pub(crate) fn fold_counts(&self) -> Result<()> {
        let Some(_f) = self.counters.fold.try_lock() else {
            return Ok(());
        };
        self.counters.pending.store(0, Ordering::Relaxed);
        let mut sums: HashMap<u32, i64> = HashMap::new();
        let mut keys = Vec::new();
        for g in self.sys.prefix(DELTA_PREFIX) {
            let (k, v) = g.into_inner()?;
            let pdb = be_u32(&k[DELTA_PREFIX.len()..]).ok_or_else(|| corrupt("count delta"))?;
            *sums.entry(pdb).or_insert(0) += be_i64(&v).ok_or_else(|| corrupt("count delta"))?;
            keys.push(k);
        }
        if keys.is_empty() {
            return Ok(());
        }
        let map = self.gc.dbmap.read().clone();
        let mut b = self.db.batch();
        for (pdb, d) in sums {
            if map.maybe_live(pdb) {
                let base = match self.sys.get(base_key(pdb))? {
                    Some(v) => be_i64(&v).ok_or_else(|| corrupt("count base"))?,
                    None => 0,
                };
                b.insert(&self.sys, base_key(pdb), (base + d).to_be_bytes().to_vec());
            } else {
                b.remove(&self.sys, base_key(pdb));
            }
        }
        for k in keys {
            b.remove(&self.sys, k);
        }
        b.commit()?;
        Ok(())
    }
}

/// Database-level operations: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB.
impl DiskEngine {
    /// DBSIZE: keys of logical db `db` (including expired keys not reclaimed yet, as Redis
    /// counts them). O(1): an in-memory counter kept exact by every write batch.
    pub fn dbsize(&self, db: u16, now_ms: i64) -> Result<u64> {
        let _ = now_ms;
        let i = &self.inner;
        let pdb = i.pdb(db);
        let n = i.counters.counts.lock().get(&pdb).copied().unwrap_or(0);
        Ok(n.max(0) as u64)
    }

    /// Keys of logical db `db` that have an expiry (INFO keyspace `expires=`), counting expired
    /// keys not reclaimed yet, as Redis counts them (and as [`dbsize`](Self::dbsize) does).
    /// O(keys with an expiry): a prefix count of the deadline index, which `put_meta`/`del_meta`
    /// keep exact; nothing to count when no key has a TTL.
    pub fn volatile_count(&self, db: u16) -> Result<u64> {
        let i = &self.inner;
        let mut prefix = Vec::with_capacity(4);
        codec::put_pdb(&mut prefix, i.pdb(db));
        let mut n = 0u64;
        for g in i.expire.prefix(&prefix) {
            g.into_inner()?;
            n += 1;
        }
        Ok(n)
    }

    /// FLUSHDB: empties logical db `db` in O(1) (it gets a fresh physical id; the old records
    /// become garbage that compactions drop). Atomic and durable per `Fsync`.
    pub fn flush_db(&self, db: u16) -> Result<()> {
        self.remap(&[db], &[])
    }

    /// FLUSHALL: empties every logical db holding keys, O(non-empty dbs), in one batch.
    pub fn flush_all(&self) -> Result<()> {
        let i = &self.inner;
        let _all = i.lock_all();
        let map = i.gc.dbmap.read().clone();
        let mut dbs: Vec<u16> = {
            let c = i.counters.counts.lock();
            c.iter()
                .filter(|(_, &n)| n != 0)
                .filter_map(|(&p, _)| map.ldb(p))
                .collect()
        };
        dbs.sort_unstable();
        self.remap_locked(&dbs, &[])
    }

    /// SWAPDB: exchanges the contents of logical dbs `a` and `b` in O(1). Atomic and durable
    /// per `Fsync`.
    pub fn swap_db(&self, a: u16, b: u16) -> Result<()> {
        if a == b {
            return Ok(());
        }
        self.remap(&[], &[(a, b)])
    }

    fn remap(&self, flush: &[u16], swap: &[(u16, u16)]) -> Result<()> {
        let _all = self.inner.lock_all();
        self.remap_locked(flush, swap)
    }

    /// Changes the mapping (caller holds every stripe lock): `flush` dbs get fresh ids, `swap`
    /// pairs exchange theirs. One batch; memory is updated only once it is committed.
    fn remap_locked(&self, flush: &[u16], swap: &[(u16, u16)]) -> Result<()> {
        let i = &self.inner;
        let mut map = i.gc.dbmap.read().clone();
        let mut dead = Vec::new();
        for &db in flush {
            dead.push(map.pdb(db));
            let fresh = map.next;
            map.next = fresh
                .checked_add(1)
                .filter(|n| *n < 0x8000_0000)
                .ok_or_else(|| DiskError::Storage("physical database ids exhausted".into()))?;
            map.overrides.insert(db, fresh);
        }
        for &(a, b) in swap {
            let (pa, pb) = (map.pdb(a), map.pdb(b));
            map.overrides.insert(a, pb);
            map.overrides.insert(b, pa);
        }
        let mut b = i.batch();
        for (l, p) in &map.overrides {
            b.b.insert(&i.sys, map_key(*l), p.to_be_bytes().to_vec());
        }
        b.b.insert(&i.sys, NEXT_KEY, map.next.to_be_bytes().to_vec());
        // Dead ids' counts: their base records go now, unfolded deltas with the next fold.
        for p in &dead {
            b.b.remove(&i.sys, base_key(*p));
        }
        i.commit(b)?;
        *i.gc.dbmap.write() = map;
        i.gc.flushed
            .fetch_add(flush.len() as u64, Ordering::Relaxed);
        let mut c = i.counters.counts.lock();
        for p in dead {
            c.remove(&p);
        }
        Ok(())
    }
}
