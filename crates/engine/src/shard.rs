//! A shard of one database's keyspace: a [`Table`] plus expiry and access bookkeeping.
//!
//! A shard is single-threaded data: the server keeps each one behind its own lock and a command
//! holds the locks of the shards its keys live in for the whole of its execution. Every read goes
//! through [`Shard::get`]/[`Shard::get_mut`], which apply lazy expiry (an expired key is removed
//! and never returned) and update the key's access data (LRU clock or LFU counter) unless the
//! caller asked for no touch.

use crate::entry::{string_kind_for, Entry, EMBSTR_SIZE_LIMIT};
use crate::table::{Probe, Table, Upsert};
use crate::value::Value;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

/// How the per-key access field is maintained (follows `maxmemory-policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessMode {
    /// Last access time in seconds (OBJECT IDLETIME).
    Lru,
    /// Logarithmic access frequency with decay (OBJECT FREQ), Redis's LFU.
    Lfu {
        /// `lfu-log-factor`
        log_factor: u32,
        /// `lfu-decay-time` in minutes
        decay_minutes: u32,
    },
}

/// Initial LFU counter of a new key (Redis's LFU_INIT_VAL).
pub const LFU_INIT_VAL: u8 = 5;

/// The time a command runs at. One command sees one `now` throughout, as in Redis.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// Unix time in milliseconds.
    pub ms: i64,
    /// Whether reads update the key's access data (false for OBJECT, CLIENT NO-TOUCH, ...).
    pub touch: bool,
    /// Pseudo-random bits for the LFU counter's probabilistic increment.
    pub rand: u32,
}

impl Clock {
    /// A clock at `ms` that touches keys on access.
    pub fn at(ms: i64) -> Clock {
        Clock {
            ms,
            touch: true,
            rand: (ms as u32).wrapping_mul(2_654_435_761),
        }
    }

    fn secs(&self) -> u32 {
        (self.ms / 1000) as u32
    }

    fn minutes(&self) -> u16 {
        ((self.ms / 60_000) & 0xffff) as u16
    }
}

/// Counters a shard keeps for INFO (summed over shards on demand: no shared atomics on the hot path).
#[derive(Clone, Copy, Debug, Default)]
pub struct ShardStats {
    /// Keys removed because their TTL passed (lazily or by the active cycle).
    pub expired_keys: u64,
    /// Successful key lookups by read commands.
    pub keyspace_hits: u64,
    /// Failed key lookups by read commands.
    pub keyspace_misses: u64,
}

/// Receives the content of shards for a point-in-time snapshot (see [`Shard::snapshot_begin`]).
///
/// `receive` is called while the shard's lock is held, with copies of every entry the shard held
/// when the snapshot started; it must only queue them (encoding happens elsewhere).
pub trait SnapshotSink: Send + Sync {
    /// The epoch content of the shard registered with `tag`.
    fn receive(&self, tag: u64, entries: Vec<Entry>);
}

/// A snapshot waiting for this shard's content.
struct SnapState {
    sink: Arc<dyn SnapshotSink>,
    tag: u64,
    /// Keys changed since the epoch: the snapshot takes them from `before`, not the table.
    touched: HashSet<Box<[u8]>>,
    /// Epoch copies of the touched keys that existed then.
    before: Vec<Entry>,
}

/// One shard's keys.
pub struct Shard {
    /// Set while a snapshot still needs this shard's epoch content: the first write (or the
    /// snapshot thread, whichever comes first) copies the shard out and clears it.
    snap: Option<Box<SnapState>>,
    table: Table,
    /// INFO counters.
    pub stats: ShardStats,
    access_mode: AccessMode,
    /// Next segment the active expiry cycle will visit.
    expire_cursor: usize,
    /// Keys that expired since the server last drained them (for propagation and notifications).
    expired_log: Vec<Box<[u8]>>,
    /// Whether expired keys are recorded in `expired_log`.
    log_expired: bool,
    /// While the server loads an append-only file no key counts as expired (as Redis: the log
    /// replays what happened, and a key it later touches, e.g. PERSIST, must still be there).
    no_expire: bool,
    /// Keys whose hash has fields with a TTL, visited round-robin by
    /// [`Shard::active_expire_fields`] (stale names are dropped when visited).
    hfe_queue: VecDeque<Box<[u8]>>,
    /// Membership of `hfe_queue`.
    hfe_set: HashSet<Box<[u8]>>,
}

impl Default for Shard {
    fn default() -> Self {
        Self::new()
    }
}

impl Shard {
    /// An empty shard.
    pub fn new() -> Shard {
        Shard {
            snap: None,
            table: Table::new(),
            stats: ShardStats::default(),
            access_mode: AccessMode::Lru,
            expire_cursor: 0,
            expired_log: Vec::new(),
            log_expired: false,
            no_expire: false,
            hfe_queue: VecDeque::new(),
            hfe_set: HashSet::new(),
        }
    }

    /// Marks the shard as owed to a snapshot: its current content is the snapshot's (the
    /// epoch). Until the snapshot thread collects it ([`Shard::snapshot_flush`]), the first
    /// change of each key keeps a copy of the key's epoch entry (copy-on-write per key), and
    /// operations on the whole shard (flush, swap) deliver it at once. The delivery to `sink`
    /// (with `tag`) holds exactly the epoch content. A pending earlier snapshot is delivered
    /// first.
    pub fn snapshot_begin(&mut self, sink: Arc<dyn SnapshotSink>, tag: u64) {
        self.snapshot_flush();
        self.snap = Some(Box::new(SnapState {
            sink,
            tag,
            touched: HashSet::new(),
            before: Vec::new(),
        }));
    }

    /// Whether a snapshot still waits for this shard's content.
    pub fn snapshot_pending(&self) -> bool {
        self.snap.is_some()
    }

    /// Delivers the shard's content to the pending snapshot, if any (then no longer pending).
    /// Returns whether something was delivered.
    pub fn snapshot_flush(&mut self) -> bool {
        let Some(st) = self.snap.take() else {
            return false;
        };
        let SnapState {
            sink,
            tag,
            touched,
            mut before,
        } = *st;
        before.reserve(self.table.len());
        if touched.is_empty() {
            before.extend(self.table.iter().cloned());
        } else {
            before.extend(
                self.table
                    .iter()
                    .filter(|e| !touched.contains(e.key()))
                    .cloned(),
            );
        }
        sink.receive(tag, before);
        true
    }

    /// Forgets a pending snapshot without delivering (the snapshot was abandoned).
    pub fn snapshot_cancel(&mut self) {
        self.snap = None;
    }

    /// Called before a change of the whole table: one branch when no snapshot runs.
    #[inline]
    fn before_write(&mut self) {
        if self.snap.is_some() {
            self.snapshot_flush();
        }
    }

    /// Called before `key` changes: one branch when no snapshot runs; during one, the key's
    /// epoch entry is copied the first time.
    #[inline]
    fn before_write_key(&mut self, key: &[u8]) {
        if self.snap.is_some() {
            self.snapshot_keep(key);
        }
    }

    #[cold]
    fn snapshot_keep(&mut self, key: &[u8]) {
        let Some(st) = self.snap.as_deref_mut() else {
            return;
        };
        if st.touched.contains(key) {
            return;
        }
        st.touched.insert(key.into());
        if let Some(e) = self.table.get(key) {
            st.before.push(e.clone());
        }
    }

    /// Sets how access data is kept (on a `maxmemory-policy` change).
    pub fn set_access_mode(&mut self, m: AccessMode) {
        self.access_mode = m;
    }

    /// Suspends (or resumes) key expiry: while suspended, lookups, writes and the active cycle
    /// treat every key as live (append-only file loading).
    pub fn set_no_expire(&mut self, on: bool) {
        self.no_expire = on;
    }

    /// The time key expiry is judged at: `now_ms`, or the beginning of time while expiry is
    /// suspended.
    #[inline]
    fn expiry_now(&self, now_ms: i64) -> i64 {
        if self.no_expire {
            i64::MIN
        } else {
            now_ms
        }
    }

    /// Turns recording of expired keys on or off (the server turns it on when something consumes them).
    pub fn set_log_expired(&mut self, on: bool) {
        self.log_expired = on;
        if !on {
            self.expired_log.clear();
        }
    }

    /// Takes the keys expired since the last call.
    pub fn drain_expired(&mut self) -> Vec<Box<[u8]>> {
        std::mem::take(&mut self.expired_log)
    }

    /// Number of keys (expired ones not yet reclaimed included, as Redis's DBSIZE).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when the shard holds no key.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Number of keys with an expiry.
    pub fn volatile_len(&self) -> usize {
        self.table.volatile_len()
    }

    /// Where the shard's keys live, for prefetching ahead of a lookup (see
    /// [`crate::table::Table::prefetch_hint`] and [`crate::table::hint_addresses`]).
    pub fn prefetch_hint(&self) -> u64 {
        self.table.prefetch_hint()
    }

    /// The address of the segment header a lookup of a key with this [`crate::table::hash_key`]
    /// reads first, for a prefetch ([`crate::table::Table::segment_addr`]).
    pub fn segment_addr(&self, hash: u64) -> usize {
        self.table.segment_addr(hash)
    }

    /// Where the block of the entry of the key with this [`crate::table::hash_key`] most
    /// likely is, for a prefetch before the command runs ([`crate::table::Table::entry_addr`]).
    pub fn entry_addr(&self, hash: u64) -> Option<usize> {
        self.table.entry_addr(hash)
    }

    /// The access value a new key starts with.
    pub fn new_access(&self, clock: &Clock) -> u32 {
        match self.access_mode {
            AccessMode::Lru => clock.secs(),
            AccessMode::Lfu { .. } => (u32::from(clock.minutes()) << 8) | u32::from(LFU_INIT_VAL),
        }
    }

    /// The access value of a value that replaces an existing key's value (Redis's `dbOverwrite`):
    /// under LFU the old key's frequency data (`old`, read after the lookup touched it) carries
    /// over; under LRU the new value starts at the current clock like any new object.
    pub fn overwrite_access(&self, old: Option<u32>, clock: &Clock) -> u32 {
        match (self.access_mode, old) {
            (AccessMode::Lfu { .. }, Some(a)) => a,
            _ => self.new_access(clock),
        }
    }

    fn expire_now(&mut self, key: &[u8]) {
        self.before_write_key(key);
        if let Some(e) = self.table.remove(key) {
            note_expired(&mut self.stats, self.log_expired, &mut self.expired_log, &e);
        }
    }

    /// `Some(e)` if `e` (just taken out of or replaced in the table) was live; an expired one is
    /// counted and logged instead.
    fn live(&mut self, e: Entry, now_ms: i64) -> Option<Entry> {
        if e.is_expired(self.expiry_now(now_ms)) {
            note_expired(&mut self.stats, self.log_expired, &mut self.expired_log, &e);
            return None;
        }
        Some(e)
    }

    /// Reads a key: `None` if absent or expired (an expired key is removed).
    pub fn get(&mut self, key: &[u8], clock: &Clock) -> Option<&Entry> {
        let now = self.expiry_now(clock.ms);
        if self.snap.is_some() && self.table.get(key).is_some_and(|e| e.is_expired(now)) {
            self.before_write_key(key);
        }
        self.lookup(key, clock).map(|e| &*e)
    }

    /// Reads a key for in-place modification (see [`Entry`] for what may change in place).
    pub fn get_mut(&mut self, key: &[u8], clock: &Clock) -> Option<&mut Entry> {
        self.before_write_key(key);
        self.lookup(key, clock)
    }

    /// The live entry of `key` for modification, or a new one from `make` (given the access
    /// value a new key gets) when the key is missing or expired (an expired key is counted as
    /// expired), with a single table probe. A live key's access data is touched as by
    /// [`Shard::get_mut`]; a new key keeps its fresh access value. Returns the entry and
    /// whether it was created (`None` only for a malformed table).
    pub fn get_or_insert_mut(
        &mut self,
        key: &[u8],
        clock: &Clock,
        make: impl FnOnce(u32) -> Entry,
    ) -> Option<(&mut Entry, bool)> {
        self.before_write_key(key);
        let now = self.expiry_now(clock.ms);
        let access = self.new_access(clock);
        let mode = self.access_mode;
        let (e, was) = self.table.get_or_insert_with(key, now, || make(access))?;
        match was {
            None => {
                if clock.touch {
                    touch(e, mode, clock);
                }
                Some((e, false))
            }
            Some(Probe::Expired(old)) => {
                note_expired(
                    &mut self.stats,
                    self.log_expired,
                    &mut self.expired_log,
                    &old,
                );
                Some((e, true))
            }
            Some(_) => Some((e, true)),
        }
    }

    /// The lookup behind [`Shard::get`] and [`Shard::get_mut`] (no snapshot hook).
    fn lookup(&mut self, key: &[u8], clock: &Clock) -> Option<&mut Entry> {
        let mode = self.access_mode;
        let now = self.expiry_now(clock.ms);
        match self.table.lookup_mut(key, now) {
            Probe::Live(e) => {
                if clock.touch {
                    touch(e, mode, clock);
                }
                Some(e)
            }
            Probe::Missing => None,
            Probe::Expired(old) => {
                note_expired(
                    &mut self.stats,
                    self.log_expired,
                    &mut self.expired_log,
                    &old,
                );
                None
            }
        }
    }

    /// The entry stored under `key`, even if logically expired, without touching, expiring or
    /// counting it (WATCH and FLUSHDB/SWAPDB's watched-key checks, as Redis's `dictFind`).
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        self.table.get(key)
    }

    /// Whether a live key exists (does not touch it).
    pub fn contains(&mut self, key: &[u8], now_ms: i64) -> bool {
        let clock = Clock {
            ms: now_ms,
            touch: false,
            rand: 0,
        };
        self.get(key, &clock).is_some()
    }

    /// Inserts or replaces an entry; returns the previous live entry, if any.
    pub fn insert(&mut self, e: Entry, now_ms: i64) -> Option<Entry> {
        self.before_write_key(e.key());
        if let Some(Value::Hash(h)) = e.value() {
            if h.next_expiry().is_some() {
                let key: Box<[u8]> = e.key().into();
                self.track_field_expiry(&key);
            }
        }
        let old = self.table.insert(e)?;
        self.live(old, now_ms)
    }

    /// Writes `key` with a single lookup: `make` receives the current live entry (an expired one
    /// counts as absent) and builds the replacement. Returns the previous live entry.
    pub fn upsert(
        &mut self,
        key: &[u8],
        now_ms: i64,
        make: impl FnOnce(Option<&Entry>) -> Entry,
    ) -> Option<Entry> {
        self.before_write_key(key);
        let now = self.expiry_now(now_ms);
        let old = self
            .table
            .upsert(key, |old| make(old.filter(|e| !e.is_expired(now))))?;
        self.live(old, now_ms)
    }

    /// Writes a string over whatever `key` holds, with one lookup (SET/MSET semantics: the
    /// expiry becomes `expire_at`; under LFU the key keeps its access counter, as in Redis).
    /// Returns the previous live entry.
    pub fn overwrite_string(
        &mut self,
        key: &[u8],
        value: &[u8],
        expire_at: Option<i64>,
        clock: &Clock,
    ) -> Option<Entry> {
        let fresh = self.new_access(clock);
        let lfu = matches!(self.access_mode, AccessMode::Lfu { .. });
        self.upsert(key, clock.ms, |old| {
            let access = match old {
                Some(o) if lfu => o.access(),
                _ => fresh,
            };
            Entry::new_string(key, value, expire_at, access)
        })
    }

    /// [`Shard::overwrite_string`] without handing back the old entry, so that a live short
    /// string (`int`/`embstr`, no expiry) overwritten by a value of the same length and no
    /// expiry is rewritten in its block instead of being freed and allocated again (MSET, SET).
    pub fn write_string(
        &mut self,
        key: &[u8],
        value: &[u8],
        expire_at: Option<i64>,
        clock: &Clock,
    ) {
        self.before_write_key(key);
        let fresh = self.new_access(clock);
        let lfu = matches!(self.access_mode, AccessMode::Lfu { .. });
        let now = self.expiry_now(clock.ms);
        let kind = if expire_at.is_none() && value.len() <= EMBSTR_SIZE_LIMIT {
            Some(string_kind_for(value))
        } else {
            None
        };
        let outcome = self.table.modify_or_upsert(
            key,
            |e| match kind {
                Some(kind) if !e.is_expired(now) => {
                    let access = if lfu { e.access() } else { fresh };
                    e.overwrite_short_string(value, kind, access)
                }
                _ => false,
            },
            |old| {
                let access = match old {
                    Some(o) if lfu && !o.is_expired(now) => o.access(),
                    _ => fresh,
                };
                Entry::new_string(key, value, expire_at, access)
            },
        );
        if let Upsert::Replaced(old) = outcome {
            self.live(old, clock.ms);
        }
    }

    /// Removes a key; returns its entry if it was live.
    pub fn remove(&mut self, key: &[u8], now_ms: i64) -> Option<Entry> {
        self.before_write_key(key);
        let e = self.table.remove(key)?;
        self.live(e, now_ms)
    }

    /// Sets or clears the expiry of a live key; returns false if the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at: Option<i64>, now_ms: i64) -> bool {
        self.before_write_key(key);
        let now = self.expiry_now(now_ms);
        // A key that already has an expiry gets the new time written in place (no copy of a
        // possibly big value; the volatile counts do not change).
        if let (Some(t), Some(e)) = (at, self.table.get_mut(key)) {
            if !e.is_expired(now) && e.expire_at().is_some() && e.set_expire_in_place(t) {
                return true;
            }
        }
        let Some(e) = self.remove(key, now_ms) else {
            return false;
        };
        if e.expire_at() == at {
            self.table.insert(e);
        } else {
            self.table.insert(e.into_expire(at));
        }
        true
    }

    /// Drops every key.
    pub fn clear(&mut self) {
        self.before_write();
        self.table.clear();
        self.expire_cursor = 0;
        self.hfe_queue.clear();
        self.hfe_set.clear();
    }

    /// Takes the whole content out (for FLUSHALL ASYNC / SWAPDB), leaving the shard empty.
    pub fn take_table(&mut self) -> Table {
        self.before_write();
        self.expire_cursor = 0;
        self.hfe_queue.clear();
        self.hfe_set.clear();
        std::mem::take(&mut self.table)
    }

    /// Replaces the whole content (SWAPDB).
    pub fn swap_content(&mut self, other: &mut Shard) {
        self.before_write();
        other.before_write();
        std::mem::swap(&mut self.table, &mut other.table);
        self.expire_cursor = 0;
        other.expire_cursor = 0;
        std::mem::swap(&mut self.hfe_queue, &mut other.hfe_queue);
        std::mem::swap(&mut self.hfe_set, &mut other.hfe_set);
    }

    /// Registers `key` as holding a hash with field TTLs, so the active cycle
    /// ([`Shard::active_expire_fields`]) reclaims its expired fields. Idempotent.
    pub fn track_field_expiry(&mut self, key: &[u8]) {
        if !self.hfe_set.contains(key) {
            let k: Box<[u8]> = key.into();
            self.hfe_set.insert(k.clone());
            self.hfe_queue.push_back(k);
        }
    }

    /// Number of keys tracked for hash-field expiry (INFO-like introspection and tests).
    pub fn field_expiry_keys(&self) -> usize {
        self.hfe_set.len()
    }

    /// One step of active hash-field expiry: visits up to `max_keys` tracked keys round-robin,
    /// purging their expired fields; a hash left empty is deleted. Keys that no longer hold a
    /// hash with TTLs stop being tracked. Returns (fields expired, keys deleted).
    pub fn active_expire_fields(&mut self, now_ms: i64, max_keys: usize) -> (usize, usize) {
        self.active_expire_fields_into(now_ms, max_keys, &mut Vec::new())
    }

    /// [`Shard::active_expire_fields`] that also reports, in `touched`, each key that lost
    /// fields and whether it was deleted (emptied), for the server's `hexpired`/`del` events,
    /// WATCH and client-tracking invalidation.
    pub fn active_expire_fields_into(
        &mut self,
        now_ms: i64,
        max_keys: usize,
        touched: &mut Vec<(Box<[u8]>, bool)>,
    ) -> (usize, usize) {
        let mut fields = 0;
        let mut deleted = 0;
        let n = self.hfe_queue.len().min(max_keys);
        for _ in 0..n {
            let Some(key) = self.hfe_queue.pop_front() else {
                break;
            };
            let mut keep = false;
            let mut empty = false;
            self.before_write_key(&key);
            if let Some(e) = self.table.get_mut(&key) {
                if !e.is_expired(now_ms) {
                    if let Some(Value::Hash(h)) = e.value_mut() {
                        let n = h.purge_expired(now_ms);
                        fields += n;
                        empty = h.is_empty();
                        if n > 0 {
                            touched.push((key.clone(), empty));
                        }
                        keep = !empty && h.next_expiry().is_some();
                    }
                }
            }
            if empty {
                self.table.remove(&key);
                deleted += 1;
            }
            if keep {
                self.hfe_queue.push_back(key);
            } else {
                self.hfe_set.remove(&key);
            }
        }
        (fields, deleted)
    }

    /// All live keys (unordered), e.g. for KEYS; expired keys are skipped, not removed.
    pub fn live_entries(&self, now_ms: i64) -> impl Iterator<Item = &Entry> {
        let now_ms = self.expiry_now(now_ms);
        self.table.iter().filter(move |e| !e.is_expired(now_ms))
    }

    /// SCAN step in hash order from `from`; visits live keys among `budget` entries.
    /// Returns the next position or `None` at the end of the shard.
    pub fn scan(
        &mut self,
        from: u64,
        budget: usize,
        now_ms: i64,
        mut visit: impl FnMut(&Entry),
    ) -> Option<u64> {
        let mut dead: Vec<Vec<u8>> = Vec::new();
        let next = self.table.scan_from(from, budget, |e| {
            if e.is_expired(now_ms) {
                dead.push(e.key().to_vec());
            } else {
                visit(e);
            }
        });
        for k in dead {
            self.expire_now(&k);
        }
        next
    }

    /// A uniformly chosen live key, `r` being a random number; `None` if the shard is empty.
    pub fn random_key(&mut self, mut r: u64, now_ms: i64) -> Option<Vec<u8>> {
        // Like Redis, retry a bounded number of times when landing on expired keys.
        let now_ms = self.expiry_now(now_ms);
        for _ in 0..100 {
            let n = self.table.len();
            if n == 0 {
                return None;
            }
            let e = self.table.nth((r % n as u64) as usize)?;
            let key = e.key().to_vec();
            if !e.is_expired(now_ms) {
                return Some(key);
            }
            self.expire_now(&key);
            r = r.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        }
        None
    }

    /// One step of the active expiry cycle: visits segments holding volatile keys, starting where
    /// the previous step stopped, until `max_checks` entries were examined. Returns
    /// (entries examined, keys expired).
    pub fn active_expire(&mut self, now_ms: i64, max_checks: usize) -> (usize, usize) {
        if self.table.volatile_len() == 0 || self.no_expire {
            return (0, 0);
        }
        let mut checked = 0;
        let mut dead: Vec<Vec<u8>> = Vec::new();
        let segs = self.table.segment_count();
        for _ in 0..segs {
            if checked >= max_checks {
                break;
            }
            let s = self.expire_cursor % segs;
            self.expire_cursor = s + 1;
            let Some((volatile, entries)) = self.table.segment_entries(s) else {
                continue;
            };
            if volatile == 0 {
                continue;
            }
            for e in entries {
                checked += 1;
                if e.is_expired(now_ms) {
                    dead.push(e.key().to_vec());
                }
            }
        }
        let n = dead.len();
        for k in dead {
            self.expire_now(&k);
        }
        (checked, n)
    }

    /// Approximate memory held by this shard (entries plus table overhead).
    pub fn memory_bytes(&self) -> usize {
        self.table.overhead_bytes() + self.table.iter().map(Entry::heap_size).sum::<usize>()
    }
}

/// Counts a key removed because it expired, and records its name when expirations are logged.
fn note_expired(stats: &mut ShardStats, log_on: bool, log: &mut Vec<Box<[u8]>>, e: &Entry) {
    stats.expired_keys += 1;
    if log_on {
        log.push(e.key().into());
    }
}

/// Updates an entry's access field on a read, per the access mode.
fn touch(e: &mut Entry, mode: AccessMode, clock: &Clock) {
    match mode {
        AccessMode::Lru => e.set_access(clock.secs()),
        AccessMode::Lfu {
            log_factor,
            decay_minutes,
        } => {
            let counter = lfu_decayed(e.access(), decay_minutes, clock);
            let counter = lfu_log_incr(counter, log_factor, clock.rand);
            e.set_access((u32::from(clock.minutes()) << 8) | u32::from(counter));
        }
    }
}

/// The LFU counter after applying decay since its last decrement time (Redis's LFUDecrAndReturn).
pub fn lfu_decayed(access: u32, decay_minutes: u32, clock: &Clock) -> u8 {
    let ldt = (access >> 8) as u16;
    let counter = (access & 0xff) as u8;
    if decay_minutes == 0 {
        return counter;
    }
    let now = clock.minutes();
    let elapsed = if now >= ldt {
        u32::from(now - ldt)
    } else {
        65535 - u32::from(ldt) + u32::from(now)
    };
    let periods = elapsed / decay_minutes;
    if periods > u32::from(counter) {
        0
    } else {
        counter - periods as u8
    }
}

/// Redis's LFULogIncr: increments become less likely as the counter grows.
fn lfu_log_incr(counter: u8, log_factor: u32, rand: u32) -> u8 {
    if counter == 255 {
        return 255;
    }
    let r = f64::from(rand) / f64::from(u32::MAX);
    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
    let p = 1.0 / (base * f64::from(log_factor) + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion
mod tests {
    use super::*;
    use crate::Kind;

    fn s(key: &str, val: &str, exp: Option<i64>) -> Entry {
        Entry::new_string(key.as_bytes(), val.as_bytes(), exp, 0)
    }

    #[test]
    fn expired_keys_are_never_returned_and_get_removed() {
        let mut sh = Shard::new();
        sh.set_log_expired(true);
        sh.insert(s("a", "1", Some(1000)), 0);
        sh.insert(s("b", "2", None), 0);
        assert!(sh.get(b"a", &Clock::at(999)).is_some());
        assert!(sh.get(b"a", &Clock::at(1000)).is_none());
        assert_eq!(sh.len(), 1);
        assert_eq!(sh.stats.expired_keys, 1);
        assert_eq!(sh.drain_expired(), vec![Box::<[u8]>::from(&b"a"[..])]);
        assert!(sh.get(b"b", &Clock::at(5000)).is_some());
    }

    #[test]
    fn write_string_in_place_and_replacing_paths_agree() {
        let mut sh = Shard::new();
        let at = |ms| Clock::at(ms);
        let read = |sh: &mut Shard, k: &[u8]| {
            sh.get(k, &Clock::at(0))
                .map(|e| (e.str_value().to_vec(), e.kind(), e.expire_at()))
        };
        // New key, then same-size overwrites (in place), with kind changes int <-> embstr.
        sh.write_string(b"k", b"abcd", None, &at(0));
        sh.write_string(b"k", b"wxyz", None, &at(0));
        assert_eq!(
            read(&mut sh, b"k"),
            Some((b"wxyz".to_vec(), Kind::StrEmb, None))
        );
        sh.write_string(b"k", b"1234", None, &at(0));
        assert_eq!(
            read(&mut sh, b"k"),
            Some((b"1234".to_vec(), Kind::StrInt, None))
        );
        sh.write_string(b"k", b"0123", None, &at(0));
        assert_eq!(
            read(&mut sh, b"k"),
            Some((b"0123".to_vec(), Kind::StrEmb, None))
        );
        // Other sizes, long (raw) values and expiries take the replacing path.
        sh.write_string(b"k", b"12345", None, &at(0));
        assert_eq!(
            read(&mut sh, b"k"),
            Some((b"12345".to_vec(), Kind::StrInt, None))
        );
        let long = vec![b'L'; 60];
        sh.write_string(b"k", &long, None, &at(0));
        assert_eq!(read(&mut sh, b"k").map(|x| x.1), Some(Kind::StrRaw));
        sh.write_string(b"k", &long, None, &at(0));
        assert_eq!(read(&mut sh, b"k").map(|x| x.0), Some(long.clone()));
        sh.write_string(b"k", b"abcde", Some(1000), &at(0));
        assert_eq!(sh.volatile_len(), 1);
        sh.write_string(b"k", b"edcba", None, &at(0));
        assert_eq!(
            read(&mut sh, b"k"),
            Some((b"edcba".to_vec(), Kind::StrEmb, None))
        );
        assert_eq!(sh.volatile_len(), 0);
        // An expired key is replaced (and counted as expired), never rewritten in place.
        sh.write_string(b"e", b"abc", Some(10), &at(0));
        sh.write_string(b"e", b"xyz", None, &at(20));
        assert_eq!(sh.stats.expired_keys, 1);
        assert_eq!(
            read(&mut sh, b"e"),
            Some((b"xyz".to_vec(), Kind::StrEmb, None))
        );
        assert_eq!(sh.len(), 2);
        assert_eq!(sh.volatile_len(), 0);
    }

    #[test]
    fn get_or_insert_mut_creates_finds_and_replaces_expired() {
        let mut sh = Shard::new();
        sh.set_log_expired(true);
        let mut made = 0;
        // Enough keys to split segments on the way (the split happens before the insert).
        for i in 0..5000 {
            let k = format!("key:{i}");
            let (e, created) = sh
                .get_or_insert_mut(k.as_bytes(), &Clock::at(0), |a| {
                    made += 1;
                    Entry::new_string(k.as_bytes(), b"v", None, a)
                })
                .unwrap();
            assert!(created);
            assert_eq!(e.key(), k.as_bytes());
        }
        assert_eq!((sh.len(), made), (5000, 5000));
        for i in (0..5000).step_by(7) {
            let k = format!("key:{i}");
            let (e, created) = sh
                .get_or_insert_mut(k.as_bytes(), &Clock::at(0), |_| unreachable!())
                .unwrap();
            assert!(!created);
            assert_eq!(e.str_value(), b"v");
        }
        assert_eq!(sh.len(), 5000);
        // An expired key is replaced by a new entry and counted as expired.
        sh.insert(s("t", "old", Some(10)), 0);
        assert_eq!(sh.volatile_len(), 1);
        let (e, created) = sh
            .get_or_insert_mut(b"t", &Clock::at(20), |a| {
                Entry::new_string(b"t", b"new", None, a)
            })
            .unwrap();
        assert!(created);
        assert_eq!(e.str_value(), b"new");
        assert_eq!(sh.volatile_len(), 0);
        assert_eq!(sh.stats.expired_keys, 1);
        assert_eq!(sh.drain_expired(), vec![Box::<[u8]>::from(&b"t"[..])]);
        assert_eq!(sh.len(), 5001);
        for i in 0..5000 {
            assert!(sh
                .get(format!("key:{i}").as_bytes(), &Clock::at(0))
                .is_some());
        }
    }

    #[test]
    fn write_string_keeps_the_lfu_counter_and_refreshes_lru() {
        let mut sh = Shard::new();
        sh.set_access_mode(AccessMode::Lfu {
            log_factor: 10,
            decay_minutes: 1,
        });
        sh.write_string(b"k", b"aaaa", None, &Clock::at(0));
        if let Some(e) = sh.get_mut(b"k", &Clock::at(0)) {
            e.set_access(0x1234);
        }
        sh.write_string(b"k", b"bbbb", None, &Clock::at(0));
        let no_touch = Clock {
            touch: false,
            ..Clock::at(0)
        };
        assert_eq!(sh.get(b"k", &no_touch).map(|e| e.access()), Some(0x1234));
        sh.set_access_mode(AccessMode::Lru);
        sh.write_string(b"k", b"cccc", None, &Clock::at(3_600_000));
        let fresh = sh.new_access(&Clock::at(3_600_000));
        assert_eq!(sh.get(b"k", &no_touch).map(|e| e.access()), Some(fresh));
    }

    #[test]
    fn insert_over_expired_key_reports_no_previous_value() {
        let mut sh = Shard::new();
        sh.insert(s("a", "1", Some(10)), 0);
        assert!(sh.insert(s("a", "2", None), 20).is_none());
        assert!(sh.insert(s("a", "3", None), 20).is_some());
    }

    #[test]
    fn set_expire_and_persist() {
        let mut sh = Shard::new();
        sh.insert(s("a", "1", None), 0);
        assert!(sh.set_expire(b"a", Some(100), 0));
        assert_eq!(sh.volatile_len(), 1);
        assert!(sh.set_expire(b"a", Some(200), 0));
        assert_eq!(sh.volatile_len(), 1);
        assert_eq!(
            sh.get(b"a", &Clock::at(0)).and_then(|e| e.expire_at()),
            Some(200)
        );
        assert!(sh.set_expire(b"a", None, 0));
        assert_eq!(sh.volatile_len(), 0);
        assert!(!sh.set_expire(b"zz", Some(1), 0));
    }

    #[test]
    fn active_expire_reclaims_expired_keys() {
        let mut sh = Shard::new();
        for i in 0..5000 {
            let exp = if i % 2 == 0 { Some(100) } else { None };
            sh.insert(s(&format!("k{i}"), "v", exp), 0);
        }
        let mut total = 0;
        for _ in 0..100 {
            let (_, n) = sh.active_expire(200, 1000);
            total += n;
            if sh.volatile_len() == 0 {
                break;
            }
        }
        assert_eq!(total, 2500);
        assert_eq!(sh.len(), 2500);
    }

    #[test]
    fn active_field_expiry_purges_and_deletes_empty_hashes() {
        use crate::hash::Hash;
        let l = crate::value::EncodingLimits::default();
        let mut sh = Shard::new();
        for (key, fields) in [("h1", 3), ("h2", 1)] {
            let mut h = Hash::new();
            for i in 0..fields {
                h.set(format!("f{i}").as_bytes(), b"v", false, &l);
            }
            h.set_expire(b"f0", Some(100));
            sh.insert(
                Entry::new_object(key.as_bytes(), Value::Hash(h), None, 0),
                0,
            );
        }
        assert_eq!(sh.field_expiry_keys(), 2);
        assert_eq!(sh.active_expire_fields(50, 10), (0, 0));
        assert_eq!(sh.field_expiry_keys(), 2);
        assert_eq!(sh.active_expire_fields(100, 10), (2, 1));
        assert_eq!(sh.len(), 1);
        assert_eq!(sh.field_expiry_keys(), 0);
        let c = Clock::at(100);
        let left = sh.get(b"h1", &c).and_then(|e| e.value()).map(|v| v.len());
        assert_eq!(left, Some(2));
    }

    #[test]
    fn overwrite_access_keeps_lfu_data_only() {
        let mut sh = Shard::new();
        let clock = Clock::at(120_000_000);
        assert_eq!(sh.overwrite_access(Some(7), &clock), sh.new_access(&clock));
        assert_eq!(sh.overwrite_access(None, &clock), sh.new_access(&clock));
        sh.set_access_mode(AccessMode::Lfu {
            log_factor: 10,
            decay_minutes: 1,
        });
        assert_eq!(sh.overwrite_access(Some(0x1234), &clock), 0x1234);
        assert_eq!(sh.overwrite_access(None, &clock), sh.new_access(&clock));
    }

    #[test]
    fn lru_touch_updates_access_unless_disabled() {
        let mut sh = Shard::new();
        sh.insert(s("a", "1", None), 0);
        let mut c = Clock::at(50_000);
        c.touch = false;
        assert_eq!(sh.get(b"a", &c).map(|e| e.access()), Some(0));
        assert_eq!(
            sh.get(b"a", &Clock::at(50_000)).map(|e| e.access()),
            Some(50)
        );
    }

    #[test]
    fn lfu_counter_grows_and_decays() {
        let mut sh = Shard::new();
        sh.set_access_mode(AccessMode::Lfu {
            log_factor: 10,
            decay_minutes: 1,
        });
        let c0 = Clock::at(0);
        let a = sh.new_access(&c0);
        sh.insert(Entry::new_string(b"a", b"v", None, a), 0);
        let mut c = Clock::at(0);
        for i in 0..1000u32 {
            c.rand = i.wrapping_mul(2_654_435_761);
            sh.get(b"a", &c);
        }
        let acc = sh.get(b"a", &Clock::at(0)).map(|e| e.access()).unwrap_or(0);
        assert!((acc & 0xff) > u32::from(LFU_INIT_VAL));
        let later = Clock::at(10 * 60_000);
        assert!(lfu_decayed(acc, 1, &later) < (acc & 0xff) as u8);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion
mod snapshot_tests {
    use super::*;
    use collect::Collect;

    /// A sink that keeps what it receives (no external crates in the engine's tests).
    mod collect {
        use super::super::{Entry, SnapshotSink};
        use std::sync::Mutex;

        #[derive(Default)]
        pub struct Collect(pub Mutex<Vec<(u64, Vec<Entry>)>>);

        impl SnapshotSink for Collect {
            fn receive(&self, tag: u64, entries: Vec<Entry>) {
                if let Ok(mut g) = self.0.lock() {
                    g.push((tag, entries));
                }
            }
        }
    }

    fn content(entries: &[Entry]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut v: Vec<_> = entries
            .iter()
            .map(|e| (e.key().to_vec(), e.str_value().to_vec()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn delivery_is_the_epoch_content_whatever_changes_after() {
        let clock = Clock::at(1_000);
        let mut s = Shard::new();
        for i in 0..50 {
            let k = format!("k{i}");
            s.insert(Entry::new_string(k.as_bytes(), b"old", None, 0), 1_000);
        }
        let epoch: Vec<Entry> = s.table.iter().cloned().collect();
        let sink = Arc::new(Collect::default());
        s.snapshot_begin(sink.clone(), 7);
        assert!(s.snapshot_pending());
        // Changes after the epoch: overwrite, delete, create, expire, in-place.
        s.overwrite_string(b"k1", b"new", None, &clock);
        s.remove(b"k2", 1_000);
        s.insert(Entry::new_string(b"fresh", b"x", None, 0), 1_000);
        s.set_expire(b"k3", Some(5_000), 1_000);
        s.remove(b"fresh", 1_000);
        s.overwrite_string(b"k2", b"again", None, &clock);
        assert!(s.snapshot_flush());
        assert!(!s.snapshot_pending());
        assert!(!s.snapshot_flush());
        let got = sink.0.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 7);
        assert_eq!(content(&got[0].1), content(&epoch));
        let k3 = got[0].1.iter().find(|e| e.key() == b"k3").unwrap();
        assert_eq!(k3.expire_at(), None);
    }

    #[test]
    fn whole_shard_operations_deliver_first() {
        let mut s = Shard::new();
        s.insert(Entry::new_string(b"a", b"1", None, 0), 0);
        let sink = Arc::new(Collect::default());
        s.snapshot_begin(sink.clone(), 1);
        s.overwrite_string(b"a", b"2", None, &Clock::at(0));
        let _ = s.take_table();
        let got = sink.0.lock().unwrap();
        assert_eq!(content(&got[0].1), vec![(b"a".to_vec(), b"1".to_vec())]);
        drop(got);
        // No snapshot pending: writes deliver nothing.
        s.insert(Entry::new_string(b"b", b"1", None, 0), 0);
        assert_eq!(sink.0.lock().unwrap().len(), 1);
    }
}
