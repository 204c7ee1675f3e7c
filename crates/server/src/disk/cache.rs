//! The hot-object cache of the disk mode (`disk-object-cache-size`, docs/disk-engine.md §6.0).
//!
//! Between execution units the in-memory shards are not emptied completely: recently used keys
//! stay *resident* in their shard as clean copies of what the disk store holds (every unit
//! still writes back what it changed before its locks are released, so the disk stays the
//! source of truth). A command whose key is resident skips the disk read: the load path
//! *checks the key out* of the cache ([`ObjectCache::take`]) and the end of the unit checks it
//! back in ([`ObjectCache::put`]) once the write-back succeeded.
//!
//! The bookkeeping of one (database, shard) pair is a [`ShardCache`] behind its own mutex that
//! is only ever locked while holding that shard's lock (so it is never contended); the byte
//! and key totals and the statistics are global atomics. Invariant: a key listed in a
//! `ShardCache` is in its shard's table and equal to the stored value, and is not loaded by
//! any running unit (a unit that uses it took it out of the list first).
//!
//! Eviction is LRU by the end of the unit that last used a key: each check-in appends
//! `(key, generation)` to a queue; the queue's front is the least recently used resident key
//! unless its generation is stale (the key was used again or dropped since), in which case it
//! is skipped. A read of a resident key served in place ([`ObjectCache::touch`]: a top-level
//! read-only command whose one key is resident) is not a check-in; it marks the key used, and
//! a used key at the front of the queue goes to the back once instead of being evicted
//! (second chance, as CLOCK does). O(1) amortized per eviction; the queue is compacted when stale items outnumber
//! live ones. Evicting only drops the in-memory copy (no event, no propagation, no `dirty`).

use super::store;
use crate::keyspace::SHARDS;
use bytes::Bytes;
use ferrokv_engine::Shard;
use ferrokv_engine_disk::MetaToken;
use ferrokv_rdb::RdbValue;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What the cache keeps about one resident key besides the entry in its shard.
#[derive(Debug)]
pub struct Resident {
    /// How the key is stored on disk ([`store::Origin::Record`] or [`store::Origin::Fields`]).
    pub origin: store::Origin,
    /// For a field-level hash, set or sorted set: its value and expiry as stored, the base of
    /// the next write-back's delta (`ClientDisk::originals`), so a hit needs no clone.
    pub original: Option<(RdbValue, Option<i64>)>,
    /// Bytes accounted for the key (entry, key, bookkeeping and `original`).
    pub bytes: u64,
    /// For a record-layout key stored without an expiry: the engine's token of the metadata
    /// record as the last write-back left it (`DiskEngine::apply_tokened`). A hit hands it to
    /// the unit's write-back, which then reads nothing ("blind write"). Sound because every
    /// writer of the key checks the resident copy out first (or drops it), and keys with an
    /// expiry (which the expiry sweep deletes without the shard lock) get none.
    pub token: Option<MetaToken>,
    /// Check-in number, matched against the eviction queue's items.
    gen: u64,
    /// Read in place since its check-in ([`ObjectCache::touch`]): the eviction queue gives it
    /// a second chance instead of evicting it.
    used: bool,
}

impl Resident {
    /// A resident key of `bytes` accounted bytes.
    pub fn new(
        origin: store::Origin,
        original: Option<(RdbValue, Option<i64>)>,
        bytes: u64,
    ) -> Resident {
        Resident {
            origin,
            original,
            bytes,
            token: None,
            gen: 0,
            used: false,
        }
    }
}

/// The resident keys of one (database, shard) pair.
#[derive(Default, Debug)]
pub struct ShardCache {
    /// foldhash (seeded per map) rather than SipHash: two lookups per command.
    map: HashMap<Bytes, Resident, foldhash::fast::RandomState>,
    /// Eviction order (front: least recently checked in), with stale items (see module docs).
    queue: VecDeque<(Bytes, u64)>,
    next_gen: u64,
}

impl ShardCache {
    /// Number of resident keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is resident.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Whether `key` is resident.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.map.contains_key(key)
    }
}

/// The hot-object cache: per-shard bookkeeping, budget and statistics (INFO `# Disk`).
pub struct ObjectCache {
    /// `disk-object-cache-size` in bytes (0: off).
    budget: AtomicU64,
    bytes: AtomicU64,
    keys: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    /// Indexed by `db * SHARDS + shard`.
    shards: Box<[Mutex<ShardCache>]>,
}

/// Bookkeeping bytes accounted per resident key besides its entry and name: the cache's map
/// slot, owned name and `Resident`, queue items (up to 3 per key before compaction), the
/// shard table's slot and allocation headers. Measured: with 1 KiB strings RSS grew by about
/// 1.9 KB per resident key against 1.16 KB accounted by `heap_size` + name + 96.
const PER_KEY_OVERHEAD: u64 = 400;

/// Figures of the cache for INFO.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Bytes accounted for resident keys.
    pub bytes: u64,
    /// Resident keys.
    pub keys: u64,
    /// Keys loaded from the cache instead of the disk.
    pub hits: u64,
    /// Keys loaded from the disk while the cache was on.
    pub misses: u64,
    /// Resident keys dropped to respect the budget.
    pub evictions: u64,
}

impl ObjectCache {
    /// An empty cache for `dbs` databases with a budget of `budget` bytes.
    pub fn new(dbs: usize, budget: u64) -> ObjectCache {
        ObjectCache {
            budget: AtomicU64::new(budget),
            bytes: AtomicU64::new(0),
            keys: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            shards: (0..dbs * SHARDS)
                .map(|_| Mutex::new(ShardCache::default()))
                .collect(),
        }
    }

    /// The budget in bytes (0: the cache is off).
    pub fn budget(&self) -> u64 {
        self.budget.load(Relaxed)
    }

    /// Sets the budget (CONFIG SET); the caller then trims ([`ObjectCache::trim_all`]).
    pub fn set_budget(&self, b: u64) {
        self.budget.store(b, Relaxed);
    }

    /// Whether the resident keys use more than the budget.
    pub fn over_budget(&self) -> bool {
        self.bytes.load(Relaxed) > self.budget()
    }

    /// Whether nothing is resident anywhere (cheap check before walking shards).
    pub fn is_empty(&self) -> bool {
        self.keys.load(Relaxed) == 0
    }

    /// The current figures.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            bytes: self.bytes.load(Relaxed),
            keys: self.keys.load(Relaxed),
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            evictions: self.evictions.load(Relaxed),
        }
    }

    /// Counts a key served from the cache.
    pub fn note_hit(&self) {
        self.hits.fetch_add(1, Relaxed);
    }

    /// Counts a key loaded from disk while the cache is on.
    pub fn note_miss(&self) {
        if self.budget() > 0 {
            self.misses.fetch_add(1, Relaxed);
        }
    }

    /// The bookkeeping of (db, shard `i`). Lock it only while holding that shard's lock.
    pub fn slot(&self, db: u32, i: usize) -> Option<&Mutex<ShardCache>> {
        self.shards.get(db as usize * SHARDS + i)
    }

    /// Whether `key` of `db` is resident. The caller holds the key's shard lock.
    pub fn is_resident(&self, db: u32, key: &[u8]) -> bool {
        if self.is_empty() {
            return false;
        }
        self.slot(db, crate::keyspace::shard_of(key))
            .is_some_and(|s| s.lock().contains(key))
    }

    /// Checks `key` out of the cache for a unit that is about to use it (a hit): it stays in
    /// `shard` but is no longer listed (nor accounted) until the unit ends. `None`: not
    /// resident (a listed key whose entry is gone is a stale listing, dropped here).
    pub fn take(&self, db: u32, key: &[u8], shard: &Shard) -> Option<Resident> {
        if self.is_empty() {
            return None;
        }
        let slot = self.slot(db, crate::keyspace::shard_of(key))?;
        let r = slot.lock().map.remove(key)?;
        self.bytes.fetch_sub(r.bytes, Relaxed);
        self.keys.fetch_sub(1, Relaxed);
        shard.peek(key)?;
        Some(r)
    }

    /// Notes a read of resident `key` served from its copy in place (no check-out, nothing to
    /// write back; `disk::call`): a hit, and a second chance in the eviction order. The caller
    /// holds the key's shard lock. False (nothing noted) when `key` is not resident.
    pub fn touch(&self, db: u32, key: &[u8]) -> bool {
        let Some(slot) = self.slot(db, crate::keyspace::shard_of(key)) else {
            return false;
        };
        let mut s = slot.lock();
        let Some(r) = s.map.get_mut(key) else {
            return false;
        };
        r.used = true;
        drop(s);
        self.note_hit();
        true
    }

    /// Checks `key` (whose clean entry is in its shard, held by the caller) in as resident.
    pub fn put(&self, db: u32, key: &[u8], mut r: Resident) {
        let Some(slot) = self.slot(db, crate::keyspace::shard_of(key)) else {
            return;
        };
        // An owned copy: the caller's `Bytes` may be a slice of a whole request buffer, which
        // would stay allocated as long as the key is resident.
        let key = Bytes::copy_from_slice(key);
        let mut s = slot.lock();
        s.next_gen += 1;
        r.gen = s.next_gen;
        r.used = false;
        let bytes = r.bytes;
        s.queue.push_back((key.clone(), r.gen));
        if let Some(old) = s.map.insert(key, r) {
            self.bytes.fetch_sub(old.bytes, Relaxed);
            self.keys.fetch_sub(1, Relaxed);
        }
        self.bytes.fetch_add(bytes, Relaxed);
        self.keys.fetch_add(1, Relaxed);
        if s.queue.len() > 2 * s.map.len() + 64 {
            compact(&mut s);
        }
    }

    /// Drops `key`'s resident copy, if any, from the cache and from `shard` (the disk changed
    /// behind the cache: active expiry). Silent: no event, no statistic of the shard.
    pub fn drop_key(&self, db: u32, key: &[u8], shard: &mut Shard) {
        if self.is_empty() {
            return;
        }
        let Some(slot) = self.slot(db, crate::keyspace::shard_of(key)) else {
            return;
        };
        let r = slot.lock().map.remove(key);
        if let Some(r) = r {
            self.bytes.fetch_sub(r.bytes, Relaxed);
            self.keys.fetch_sub(1, Relaxed);
            discard(shard, key);
        }
    }

    /// Drops every resident key of (db, shard `i`) from the cache and from `shard` (held by
    /// the caller): whole-database loads, snapshots, DEBUG RELOAD. O(resident keys there).
    pub fn drop_shard(&self, db: u32, i: usize, shard: &mut Shard) {
        let Some(slot) = self.slot(db, i) else {
            return;
        };
        let mut s = slot.lock();
        if s.map.is_empty() && s.queue.is_empty() {
            return;
        }
        for (k, r) in s.map.drain() {
            self.bytes.fetch_sub(r.bytes, Relaxed);
            self.keys.fetch_sub(1, Relaxed);
            discard(shard, &k);
        }
        s.queue.clear();
    }

    /// Evicts least recently used keys of (db, shard `i`) until the cache is within its budget
    /// or nothing of that shard is left. Returns how many keys were evicted.
    pub fn evict_in(&self, db: u32, i: usize, shard: &mut Shard) -> usize {
        let Some(slot) = self.slot(db, i) else {
            return 0;
        };
        let mut s = slot.lock();
        let mut n = 0;
        while self.over_budget() {
            let Some((k, gen)) = s.queue.pop_front() else {
                break;
            };
            match s.map.get_mut(&k) {
                Some(r) if r.gen == gen && r.used => {
                    // Read in place since its check-in: to the back of the queue, once.
                    r.used = false;
                    s.queue.push_back((k, gen));
                }
                Some(r) if r.gen == gen => {
                    if let Some(r) = s.map.remove(&k) {
                        self.bytes.fetch_sub(r.bytes, Relaxed);
                        self.keys.fetch_sub(1, Relaxed);
                        discard(shard, &k);
                        n += 1;
                    }
                }
                _ => {}
            }
        }
        self.evictions.fetch_add(n as u64, Relaxed);
        n
    }

    /// Evicts until within budget, visiting every shard that has resident keys, one shard
    /// lock at a time (CONFIG SET shrinking the budget; the cron when units could not evict
    /// enough from the shards they held). The caller holds no shard lock.
    pub fn trim_all(&self, srv: &crate::server::Server) {
        if !self.over_budget() {
            return;
        }
        for db in 0..srv.keyspace.db_count() {
            for i in 0..SHARDS {
                if !self.over_budget() {
                    return;
                }
                let listed = self
                    .slot(db as u32, i)
                    .is_some_and(|s| !s.lock().map.is_empty());
                if !listed {
                    continue;
                }
                if let Some(mut shard) = srv.keyspace.lock_one(db, i) {
                    self.evict_in(db as u32, i, &mut shard);
                }
            }
        }
    }
}

/// Rebuilds the queue of `s` without its stale items (keeps the order).
fn compact(s: &mut ShardCache) {
    let map = &s.map;
    let mut seen: HashSet<u64> = HashSet::with_capacity(map.len());
    s.queue
        .retain(|(k, g)| map.get(k).is_some_and(|r| r.gen == *g) && seen.insert(*g));
}

/// Removes `key` from `shard` without counting or logging it as expired (the entry is a
/// clean copy of the disk store; dropping it is no deletion).
pub fn discard(shard: &mut Shard, key: &[u8]) {
    // A clock before any deadline: the shard does not treat the entry as expiring now.
    shard.remove(key, i64::MIN);
}

/// Bytes accounted for a resident entry and, when kept, the original value of a field-level
/// collection (estimated from its elements): an estimate of the RSS the key costs, not only
/// its payload.
pub fn entry_bytes(e: &ferrokv_engine::Entry, original: Option<&RdbValue>) -> u64 {
    // Allocator size classes round blocks up (by up to a quarter).
    let heap = e.heap_size() as u64;
    let mut n = heap + heap / 4 + e.key().len() as u64 + PER_KEY_OVERHEAD;
    if let Some(v) = original {
        n += rdb_value_bytes(v);
    }
    n
}

/// Approximate heap bytes of a neutral value (element bytes plus a vector slot each).
fn rdb_value_bytes(v: &RdbValue) -> u64 {
    let n: usize = match v {
        RdbValue::String(s) => s.len(),
        RdbValue::List(l) | RdbValue::Set(l) => l.iter().map(|x| x.len() + 24).sum(),
        RdbValue::ZSet(z) => z.iter().map(|(m, _)| m.len() + 32).sum(),
        RdbValue::Hash(h) => h.iter().map(|f| f.field.len() + f.value.len() + 64).sum(),
        RdbValue::Stream(_) => 0,
    };
    n as u64
}
