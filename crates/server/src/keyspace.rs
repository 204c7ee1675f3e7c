//! The databases, their shards and the locking discipline that makes every command atomic.
//!
//! Each database is split into [`SHARDS`] shards by the key's cluster hash slot (CRC16 mod 16384,
//! then slot mod SHARDS), each behind its own mutex. A command runs with a [`LockSet`]: the
//! guards of every shard it may touch, acquired up front **in ascending (db, shard) order**, held
//! for the whole (synchronous, `.await`-free) execution and released together. Because every
//! acquirer uses the same global order, multi-key commands, MULTI/EXEC and scripts cannot
//! deadlock, and no other client can observe a half-applied command.

use crate::crc16::key_slot;
use ferrokv_engine::{AccessMode, Shard};
use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::time::Duration;

/// How many times a busy shard lock is retried (with a CPU pause in between) before the thread
/// blocks on it. Critical sections never wait on I/O, so spinning is cheaper than a futex sleep
/// and wake-up; 3000 tries (~100 µs here) outlast a squashed pipeline run holding one key's shard
/// (MSET of 10 keys from 50 clients first set 200; one-key HSET/SADD/ZADD at pipeline 16 from 50
/// clients on 2 workers then measured +7-19% throughput, p99 lower, the other workloads
/// unchanged: docs/performance-notes.md, session 7).
const SPIN_TRIES: u32 = 3000;
/// How long a contended acquisition waits before it looks at the escalation and busy flags.
const WAIT_SLICE: Duration = Duration::from_micros(500);

/// Why a lock acquisition gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockAbort {
    /// A script has been running longer than `busy-reply-threshold`: the command must reply
    /// `-BUSY` instead of waiting for the script's shards.
    Busy,
}

enum Acquired<'a> {
    Got(MutexGuard<'a, Shard>),
    /// A script is acquiring a shard it did not declare: release everything and start over.
    Backoff,
    Busy,
}

/// One shard's lock, and which connection worker took it last (see [`crate::affinity`]).
/// `repr(C)` with the byte first keeps it on the lock's cache line, which the thread that just
/// took the lock owns: writing it costs nothing measurable. Aligned to a cache line so that
/// no two shards share one (two workers taking neighbouring shards would otherwise pull the
/// line back and forth), and so that [`Keyspace::prefetch_key`] knows which lines it covers.
#[repr(C, align(64))]
struct Slot {
    holder: AtomicU8,
    lock: Mutex<Shard>,
}

impl Slot {
    /// Records the calling thread as the holder after taking the lock.
    #[inline]
    fn taken(&self, key: u32) {
        self.holder.store(crate::affinity::worker(), Relaxed);
        crate::affinity::note_taken(key);
    }

    /// The first try failed: notes whose holding the caller waits for.
    #[cold]
    fn busy(&self, key: u32) {
        crate::affinity::note_wait(key, self.holder.load(Relaxed));
    }

    /// Tries the lock, then (noting the wait) retries it [`SPIN_TRIES`] times with a CPU pause
    /// in between; `None` if it is still taken, when the caller blocks its own way.
    #[inline]
    fn spin(&self, key: u32) -> Option<MutexGuard<'_, Shard>> {
        if let Some(g) = self.lock.try_lock() {
            self.taken(key);
            return Some(g);
        }
        self.busy(key);
        for _ in 0..SPIN_TRIES {
            if let Some(g) = self.lock.try_lock() {
                self.taken(key);
                return Some(g);
            }
            std::hint::spin_loop();
        }
        None
    }
}

/// Locks a shard, spinning briefly before blocking.
#[inline]
fn lock_shard(m: &Slot, key: u32) -> MutexGuard<'_, Shard> {
    if let Some(g) = m.spin(key) {
        return g;
    }
    let g = m.lock.lock();
    m.taken(key);
    g
}

/// Shards per database (a power of two; the SCAN cursor keeps the shard index in its top 16 bits).
pub const SHARDS: usize = 1024;

/// One logical database (SELECT index).
pub struct Db {
    shards: Box<[Slot]>,
    /// Each shard's [`Shard::prefetch_hint`] and the address of its (only) segment's header,
    /// published when its lock is released, so that [`Keyspace::prefetch_key`] can start
    /// fetching a key's bucket without the lock. Dense (16 KiB per database) so that reading
    /// it does not itself wait for memory.
    hints: Box<[[AtomicU64; 2]]>,
}

impl Db {
    fn new() -> Db {
        Db {
            shards: (0..SHARDS)
                .map(|_| Slot {
                    holder: AtomicU8::new(crate::affinity::NONE),
                    lock: Mutex::new(Shard::new()),
                })
                .collect(),
            hints: (0..SHARDS)
                .map(|_| [AtomicU64::new(0), AtomicU64::new(0)])
                .collect(),
        }
    }
}

/// All databases.
pub struct Keyspace {
    dbs: Box<[Db]>,
    /// How every shard tracks key access (follows `maxmemory-policy`).
    access_mode: Mutex<AccessMode>,
    /// Set while a script waits for a shard outside its plan (see [`LockSet::acquire_more`]):
    /// every multi-shard acquisition still in progress releases what it holds and starts over,
    /// so the script only ever waits for commands that are already running.
    escalating: AtomicBool,
    /// One escalation at a time.
    escalation: Mutex<()>,
    /// Set while a script is busy (past `busy-reply-threshold`): waiters give up with
    /// [`LockAbort::Busy`].
    pub script_busy: std::sync::Arc<AtomicBool>,
    /// Some shard may hold a key with a TTL or a hash with field TTLs: set when a lock on
    /// such a shard is released (see [`note_expiry_work`]), cleared by the expiry cycle at
    /// the start of each full round ([`Keyspace::take_expiry_work`]). While it stays clear
    /// the idle cycle visits no shard.
    expiry_work: AtomicBool,
}

/// Called with a shard lock still held, after whatever the holder did: flags the keyspace
/// when the shard has keys or hash fields with a TTL. A plain load first, so that a workload
/// with TTLs does not write the shared flag on every command.
#[inline]
fn note_expiry_work(ks: &Keyspace, s: &Shard) {
    if (s.volatile_len() != 0 || s.field_expiry_keys() != 0) && !ks.expiry_work.load(Relaxed) {
        ks.expiry_work.store(true, Relaxed);
    }
}

/// A single locked shard (see [`Keyspace::lock_one`]); derefs to the [`Shard`]. Releasing it
/// records whether the shard holds anything the expiry cycle must visit.
pub struct ShardGuard<'a> {
    ks: &'a Keyspace,
    guard: MutexGuard<'a, Shard>,
}

impl std::ops::Deref for ShardGuard<'_> {
    type Target = Shard;
    fn deref(&self) -> &Shard {
        &self.guard
    }
}

impl std::ops::DerefMut for ShardGuard<'_> {
    fn deref_mut(&mut self) -> &mut Shard {
        &mut self.guard
    }
}

impl Drop for ShardGuard<'_> {
    fn drop(&mut self) {
        note_expiry_work(self.ks, &self.guard);
    }
}

/// The access tracking a `maxmemory-policy` implies: LFU counters for the `*-lfu` policies, the
/// LRU clock otherwise (as Redis's `MAXMEMORY_FLAG_LFU`).
pub fn access_mode_for(policy: &str, lfu_log_factor: i64, lfu_decay_time: i64) -> AccessMode {
    if policy.ends_with("-lfu") {
        AccessMode::Lfu {
            log_factor: u32::try_from(lfu_log_factor).unwrap_or(10),
            decay_minutes: u32::try_from(lfu_decay_time).unwrap_or(1),
        }
    } else {
        AccessMode::Lru
    }
}

/// The shard a key lives in.
#[inline]
pub fn shard_of(key: &[u8]) -> usize {
    key_slot(key) as usize % SHARDS
}

/// Which shards a command needs, computed before it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockPlan {
    /// Nothing: the command does not touch the keyspace.
    None,
    /// These (db, shard) pairs; sorted and deduplicated by [`LockPlan::normalise`].
    Shards(Vec<(u32, u32)>),
    /// Every shard of one database.
    Db(u32),
    /// Every shard of every database.
    All,
}

impl LockPlan {
    /// Sorts and deduplicates an explicit shard list.
    pub fn normalise(mut self) -> LockPlan {
        if let LockPlan::Shards(v) = &mut self {
            v.sort_unstable();
            v.dedup();
        }
        self
    }

    /// The union of two plans (used for MULTI/EXEC and scripts).
    pub fn union(self, other: LockPlan) -> LockPlan {
        use LockPlan::*;
        match (self, other) {
            (All, _) | (_, All) => All,
            (None, x) | (x, None) => x,
            (Db(a), Db(b)) if a == b => Db(a),
            (Db(a), Shards(v)) | (Shards(v), Db(a)) if v.iter().all(|s| s.0 == a) => Db(a),
            (Shards(mut a), Shards(b)) => {
                a.extend(b);
                Shards(a).normalise()
            }
            _ => All,
        }
    }
}

type Held<'a> = ((u32, u32), MutexGuard<'a, Shard>);

/// The guards of a lock set, sorted by (db, shard). Most commands hold exactly one shard, which
/// is stored inline: the hot path allocates nothing.
enum Guards<'a> {
    Empty,
    One(Held<'a>),
    Many(Vec<Held<'a>>),
}

impl<'a> Guards<'a> {
    fn as_slice(&self) -> &[Held<'a>] {
        match self {
            Guards::Empty => &[],
            Guards::One(x) => std::slice::from_ref(x),
            Guards::Many(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Held<'a>] {
        match self {
            Guards::Empty => &mut [],
            Guards::One(x) => std::slice::from_mut(x),
            Guards::Many(v) => v,
        }
    }

    fn push(&mut self, h: Held<'a>) {
        match std::mem::replace(self, Guards::Empty) {
            Guards::Empty => *self = Guards::One(h),
            Guards::One(x) => *self = Guards::Many(vec![x, h]),
            Guards::Many(mut v) => {
                v.push(h);
                *self = Guards::Many(v);
            }
        }
    }

    fn reserve(&mut self, n: usize) {
        match self {
            Guards::Many(v) => v.reserve(n),
            _ if n > 1 => {
                let mut v = Vec::with_capacity(n + 1);
                if let Guards::One(x) = std::mem::replace(self, Guards::Empty) {
                    v.push(x);
                }
                *self = Guards::Many(v);
            }
            _ => {}
        }
    }
}

/// Locked shards held by one executing command (or transaction, or script).
pub struct LockSet<'a> {
    ks: &'a Keyspace,
    held: Guards<'a>,
    /// The first key of the command and its shard, so the handler's lookup of that key does not
    /// hash it again: (address, length, shard) of the argument's bytes.
    hint: Option<(usize, usize, u32)>,
    /// The same for every key of a multi-key command (MSET, DEL, ...), in argument order, set
    /// by [`LockSet::set_key_shards`]; empty otherwise.
    keys: Box<[(usize, usize, u32)]>,
    /// Where the next look-up in `keys` starts (handlers mostly walk the keys in order).
    next_key: usize,
}

impl Keyspace {
    /// `n` empty databases.
    pub fn new(n: usize) -> Keyspace {
        Keyspace {
            dbs: (0..n.max(1)).map(|_| Db::new()).collect(),
            access_mode: Mutex::new(AccessMode::Lru),
            escalating: AtomicBool::new(false),
            escalation: Mutex::new(()),
            script_busy: std::sync::Arc::new(AtomicBool::new(false)),
            expiry_work: AtomicBool::new(false),
        }
    }

    /// Whether some shard may hold a TTL (of a key or of a hash field) since the last call,
    /// and clears the flag. The expiry cycle calls it at the start of each full round over the
    /// shards: every lock released after that call on a shard with TTLs sets the flag again,
    /// and a shard that had TTLs before it is seen by the round itself, so a round that
    /// starts with `false` and finds no TTL proves there is none.
    pub fn take_expiry_work(&self) -> bool {
        self.expiry_work.load(Relaxed) && self.expiry_work.swap(false, Relaxed)
    }

    /// The current access tracking mode (OBJECT FREQ / IDLETIME read it).
    pub fn access_mode(&self) -> AccessMode {
        *self.access_mode.lock()
    }

    /// Switches every shard to access mode `m` (no-op when unchanged). Locks each shard in turn:
    /// never call it while holding the configuration lock, since handlers read the configuration
    /// while holding shards.
    pub fn set_access_mode(&self, m: AccessMode) {
        let mut cur = self.access_mode.lock();
        if *cur == m {
            return;
        }
        *cur = m;
        for db in 0..self.dbs.len() {
            self.for_each_shard(db, |_, s| s.set_access_mode(m));
        }
    }

    /// [`Keyspace::set_access_mode`] from a command that holds shard locks (CONFIG SET inside
    /// MULTI/EXEC): held shards are updated through `held`, the others locked one at a time.
    pub fn set_access_mode_held(&self, m: AccessMode, held: &mut LockSet<'_>) {
        let mut cur = self.access_mode.lock();
        if *cur == m {
            return;
        }
        *cur = m;
        for db in 0..self.dbs.len() {
            for i in 0..SHARDS {
                if let Some(s) = held.shard(db as u32, i as u32) {
                    s.set_access_mode(m);
                } else if let Some(mut s) = self.lock_one(db, i) {
                    s.set_access_mode(m);
                }
            }
        }
    }

    /// Number of databases.
    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    /// Acquires the locks of a plan in the global order.
    pub fn lock(&self, plan: &LockPlan) -> LockSet<'_> {
        loop {
            match self.lock_inner(plan, false) {
                Ok(set) => return set,
                Err(_) => continue,
            }
        }
    }

    /// [`Keyspace::lock`] for a client's command: gives up with [`LockAbort::Busy`] when a busy
    /// script holds a shard it needs.
    pub fn lock_checked(&self, plan: &LockPlan) -> Result<LockSet<'_>, LockAbort> {
        self.lock_inner(plan, true)
    }

    fn lock_inner(&self, plan: &LockPlan, abortable: bool) -> Result<LockSet<'_>, LockAbort> {
        loop {
            let mut set = LockSet {
                ks: self,
                held: Guards::Empty,
                hint: None,
                keys: Box::default(),
                next_key: 0,
            };
            let outcome = match plan {
                LockPlan::None => Ok(()),
                LockPlan::Shards(v) => {
                    set.held.reserve(v.len());
                    let mut r = Ok(());
                    for &(db, s) in v {
                        if let Some(m) = self.shard_mutex(db, s) {
                            match self.acquire(m, crate::affinity::pack(db, s), v.len() > 1) {
                                Acquired::Got(g) => set.held.push(((db, s), g)),
                                Acquired::Backoff => {
                                    r = Err(None);
                                    break;
                                }
                                Acquired::Busy => {
                                    r = Err(Some(LockAbort::Busy));
                                    break;
                                }
                            }
                        }
                    }
                    r
                }
                LockPlan::Db(db) => set.lock_db(*db),
                LockPlan::All => {
                    let mut r = Ok(());
                    for db in 0..self.dbs.len() as u32 {
                        r = set.lock_db(db);
                        if r.is_err() {
                            break;
                        }
                    }
                    r
                }
            };
            match outcome {
                Ok(()) => return Ok(set),
                Err(Some(abort)) if abortable => return Err(abort),
                Err(_) => {
                    drop(set);
                    self.wait_escalation();
                }
            }
        }
    }

    /// Takes one shard: spins briefly, then waits in slices, checking between them whether a
    /// script escalation asks multi-shard acquirers to back off (`may_backoff`) or a busy
    /// script makes the command give up.
    #[inline]
    fn acquire<'m>(&self, m: &'m Slot, key: u32, may_backoff: bool) -> Acquired<'m> {
        if let Some(g) = m.spin(key) {
            return Acquired::Got(g);
        }
        loop {
            if let Some(g) = m.lock.try_lock_for(WAIT_SLICE) {
                m.taken(key);
                return Acquired::Got(g);
            }
            if may_backoff && self.escalating.load(Relaxed) {
                return Acquired::Backoff;
            }
            if self.script_busy.load(Relaxed) {
                return Acquired::Busy;
            }
        }
    }

    fn wait_escalation(&self) {
        while self.escalating.load(Relaxed) {
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// [`Keyspace::lock_key`] that does not wait: `None` when the shard is taken (or `db`
    /// does not exist), and the caller locks the usual way later. `s` is `key`'s shard
    /// ([`shard_of`], as [`Keyspace::prefetch_key`] returns it).
    pub fn try_lock_key(&self, db: u32, key: &[u8], s: u32) -> Option<LockSet<'_>> {
        debug_assert_eq!(s as usize, shard_of(key));
        let m = self.shard_mutex(db, s)?;
        let g = m.lock.try_lock()?;
        m.taken(crate::affinity::pack(db, s));
        Some(LockSet {
            ks: self,
            held: Guards::One(((db, s), g)),
            hint: Some((key.as_ptr() as usize, key.len(), s)),
            keys: Box::default(),
            next_key: 0,
        })
    }

    pub fn lock_key(&self, db: u32, key: &[u8]) -> LockSet<'_> {
        let s = shard_of(key) as u32;
        let held = match self.shard_mutex(db, s) {
            Some(m) => Guards::One(((db, s), lock_shard(m, crate::affinity::pack(db, s)))),
            None => Guards::Empty,
        };
        LockSet {
            ks: self,
            held,
            hint: Some((key.as_ptr() as usize, key.len(), s)),
            keys: Box::default(),
            next_key: 0,
        }
    }

    /// [`Keyspace::lock_key`] for a client's command: gives up with [`LockAbort::Busy`] when a
    /// busy script holds the shard.
    pub fn lock_key_checked(&self, db: u32, key: &[u8]) -> Result<LockSet<'_>, LockAbort> {
        let s = shard_of(key) as u32;
        let held = match self.shard_mutex(db, s) {
            Some(m) => match self.acquire(m, crate::affinity::pack(db, s), false) {
                Acquired::Got(g) => Guards::One(((db, s), g)),
                // Without `may_backoff` the only other answer is Busy.
                Acquired::Busy | Acquired::Backoff => return Err(LockAbort::Busy),
            },
            None => Guards::Empty,
        };
        Ok(LockSet {
            ks: self,
            held,
            hint: Some((key.as_ptr() as usize, key.len(), s)),
            keys: Box::default(),
            next_key: 0,
        })
    }

    /// Asks the CPU to start fetching the shard of `key` (its lock line for writing, the rest
    /// of the shard's own fields for reading) ahead of a command that will lock it: the
    /// connection loop calls this for the request it parsed ahead while the current one runs
    /// ([`crate::squash`]), so that the lock and the table's header are in cache by then.
    ///
    /// With the shard's published hint (see [`publish_hint`]) it also prefetches the control
    /// bytes and the bucket where the key's probe starts, two of the three dependent loads of
    /// the lookup; the third, the entry itself, needs the bucket's content.
    ///
    /// Returns the key's shard and table hash, which [`Keyspace::try_lock_key`] and
    /// [`Shard::entry_addr`] take instead of computing them again.
    #[inline]
    pub fn prefetch_key(&self, db: u32, key: &[u8]) -> (u32, u64) {
        let s = shard_of(key);
        let hash = ferrokv_engine::table::hash_key(key);
        let at = (s as u32, hash);
        let Some(d) = self.dbs.get(db as usize) else {
            return at;
        };
        if let Some(slot) = d.shards.get(s) {
            let base: *const Slot = slot;
            crate::prefetch::for_write(base);
            let base = base.cast::<u8>();
            for line in 1..std::mem::size_of::<Slot>().div_ceil(64) {
                crate::prefetch::for_read(base.wrapping_add(line * 64));
            }
        }
        let Some([hint, seg]) = d.hints.get(s) else {
            return at;
        };
        let hint = hint.load(Relaxed);
        crate::prefetch::for_read(seg.load(Relaxed) as usize as *const u8);
        if let Some((ctrl, bucket)) = ferrokv_engine::table::hint_addresses(hint, hash) {
            crate::prefetch::for_read(ctrl as *const u8);
            // The key is usually in that bucket or the next few (at lower addresses): the
            // second line covers a displacement of up to three buckets.
            crate::prefetch::for_read(bucket as *const u8);
            crate::prefetch::for_read(bucket.wrapping_sub(48) as *const u8);
        }
        at
    }

    fn shard_mutex(&self, db: u32, s: u32) -> Option<&Slot> {
        self.dbs.get(db as usize)?.shards.get(s as usize)
    }

    /// Runs `f` on each shard of `db` in turn, locking one at a time (non-atomic walks: INFO, cron).
    pub fn for_each_shard(&self, db: usize, mut f: impl FnMut(usize, &mut Shard)) {
        if let Some(d) = self.dbs.get(db) {
            for (i, m) in d.shards.iter().enumerate() {
                let mut g = m.lock.lock();
                m.taken(crate::affinity::pack(db as u32, i as u32));
                f(i, &mut g);
                note_expiry_work(self, &g);
            }
        }
    }

    /// Locks a single shard (for work that is atomic per shard only: SCAN steps, expiry cycle).
    pub fn lock_one(&self, db: usize, shard: usize) -> Option<ShardGuard<'_>> {
        let m = self.dbs.get(db)?.shards.get(shard)?;
        let guard = m.lock.lock();
        m.taken(crate::affinity::pack(db as u32, shard as u32));
        Some(ShardGuard { ks: self, guard })
    }
}

impl Drop for LockSet<'_> {
    fn drop(&mut self) {
        for ((db, s), g) in self.held.as_slice() {
            note_expiry_work(self.ks, g);
            publish_hint(self.ks, *db, *s, g);
        }
    }
}

/// Called with a shard lock still held: publishes the shard's prefetch hint when it changed
/// (a load first, so the shared hint line is written only when the table moved).
#[inline]
fn publish_hint(ks: &Keyspace, db: u32, s: u32, shard: &Shard) {
    if let Some(h) = ks
        .dbs
        .get(db as usize)
        .and_then(|d| d.hints.get(s as usize))
    {
        let hint = shard.prefetch_hint();
        if h[0].load(Relaxed) != hint {
            h[0].store(hint, Relaxed);
            // A one-segment table's header is at the same place for every hash.
            let seg = if hint == 0 { 0 } else { shard.segment_addr(0) };
            h[1].store(seg as u64, Relaxed);
        }
    }
}

impl<'a> LockSet<'a> {
    fn lock_db(&mut self, db: u32) -> Result<(), Option<LockAbort>> {
        if let Some(d) = self.ks.dbs.get(db as usize) {
            self.held.reserve(d.shards.len());
            for (i, m) in d.shards.iter().enumerate() {
                match self
                    .ks
                    .acquire(m, crate::affinity::pack(db, i as u32), true)
                {
                    Acquired::Got(g) => self.held.push(((db, i as u32), g)),
                    Acquired::Backoff => return Err(None),
                    Acquired::Busy => return Err(Some(LockAbort::Busy)),
                }
            }
        }
        Ok(())
    }

    /// Whether no shard is held.
    pub fn is_empty(&self) -> bool {
        self.held.as_slice().is_empty()
    }

    /// Re-points the first-key hint at `key`, which must have the same bytes as the key the
    /// hint was set for (a lock set reused for the next command on that key, see
    /// [`crate::squash`]): true when the hint is there and its shard of `db` is held, false
    /// (hint unchanged) otherwise.
    pub fn rehint_same_key(&mut self, db: u32, key: &[u8]) -> bool {
        match self.hint {
            Some((_, len, s)) if len == key.len() && self.holds(db, s) => {
                self.hint = Some((key.as_ptr() as usize, len, s));
                self.keys = Box::default();
                true
            }
            _ => false,
        }
    }

    /// Whether shard `shard` of `db` is held.
    pub fn holds(&self, db: u32, shard: u32) -> bool {
        self.held
            .as_slice()
            .binary_search_by(|x| x.0.cmp(&(db, shard)))
            .is_ok()
    }

    /// Adds shards outside the original plan while already holding others (a script touching
    /// a key it did not declare). A free shard is simply taken. A contended one is waited for
    /// under escalation: the flag makes every multi-shard acquisition in progress release what
    /// it holds and start over, so the only holders left are commands that already run, which
    /// finish without waiting for anything. Only one escalation runs at a time, and only
    /// scripts (which run one at a time) escalate, so this cannot deadlock.
    pub fn acquire_more(&mut self, wanted: &LockPlan) {
        let list: Vec<(u32, u32)> = match wanted {
            LockPlan::None => Vec::new(),
            LockPlan::Shards(v) => v.clone(),
            LockPlan::Db(db) => (0..SHARDS as u32).map(|s| (*db, s)).collect(),
            LockPlan::All => (0..self.ks.dbs.len() as u32)
                .flat_map(|db| (0..SHARDS as u32).map(move |s| (db, s)))
                .collect(),
        };
        for (db, s) in list {
            if self.holds(db, s) {
                continue;
            }
            let Some(m) = self.ks.shard_mutex(db, s) else {
                continue;
            };
            let g = match m.lock.try_lock() {
                Some(g) => g,
                None => {
                    let _one = self.ks.escalation.lock();
                    self.ks.escalating.store(true, Relaxed);
                    let g = m.lock.lock();
                    self.ks.escalating.store(false, Relaxed);
                    g
                }
            };
            m.taken(crate::affinity::pack(db, s));
            self.insert_sorted(((db, s), g));
        }
    }

    fn insert_sorted(&mut self, h: Held<'a>) {
        self.held.push(h);
        if let Guards::Many(v) = &mut self.held {
            v.sort_by_key(|x| x.0);
        }
    }

    /// The locked shard `(db, shard)`. Panics are impossible by construction only if the command's
    /// lock plan covered it; a missing shard is a bug in a command's plan, reported as `None`.
    pub fn shard(&mut self, db: u32, shard: u32) -> Option<&mut Shard> {
        let key = (db, shard);
        let held = self.held.as_mut_slice();
        // Plans are sorted, so a binary search finds the guard; most commands hold one.
        let i = held.binary_search_by(|x| x.0.cmp(&key)).ok()?;
        held.get_mut(i).map(|x| &mut *x.1)
    }

    /// Hands the lock set the shard of each key argument of the command about to run, as
    /// (address, length, shard) of the argument's bytes (see `dispatch::lock_for_call`): `for_key`
    /// on those very arguments then skips the CRC16. Only for a set used by one command, whose
    /// arguments stay alive (and so at their addresses) while it runs.
    pub fn set_key_shards(&mut self, keys: Box<[(usize, usize, u32)]>) {
        self.keys = keys;
        self.next_key = 0;
    }

    /// The shard of `key` if it is one of the arguments given to [`LockSet::set_key_shards`].
    #[inline]
    fn known_shard(&mut self, key: &[u8]) -> Option<u32> {
        let n = self.keys.len();
        let at = (key.as_ptr() as usize, key.len());
        for i in 0..n {
            let j = (self.next_key + i) % n;
            if let Some(&(p, l, s)) = self.keys.get(j) {
                if (p, l) == at {
                    self.next_key = j + 1;
                    return Some(s);
                }
            }
        }
        None
    }

    /// The locked shard holding `key` in `db`.
    #[inline]
    pub fn for_key(&mut self, db: u32, key: &[u8]) -> Option<&mut Shard> {
        let s = match self.hint {
            Some((ptr, len, s)) if ptr == key.as_ptr() as usize && len == key.len() => s,
            _ => match self.known_shard(key) {
                Some(s) => s,
                None => shard_of(key) as u32,
            },
        };
        self.shard(db, s)
    }

    /// Whether every shard of `db` is held.
    pub fn holds_db(&self, db: u32) -> bool {
        self.held.as_slice().iter().filter(|x| x.0 .0 == db).count() == SHARDS
    }

    /// All held shards of `db`, in shard order.
    pub fn db_shards(&mut self, db: u32) -> impl Iterator<Item = &mut Shard> + use<'_, 'a> {
        self.held
            .as_mut_slice()
            .iter_mut()
            .filter(move |x| x.0 .0 == db)
            .map(|x| &mut *x.1)
    }

    /// All held shards with their (db, shard) coordinates.
    pub fn all_held(&mut self) -> impl Iterator<Item = ((u32, u32), &mut Shard)> + use<'_, 'a> {
        self.held
            .as_mut_slice()
            .iter_mut()
            .map(|x| (x.0, &mut *x.1))
    }

    /// Swaps the contents of two fully locked databases (SWAPDB).
    pub fn swap_dbs(&mut self, a: u32, b: u32) {
        if a == b {
            return;
        }
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let held = self.held.as_mut_slice();
        let split = held.partition_point(|x| x.0 .0 <= lo);
        let (left, right) = held.split_at_mut(split);
        let l = left.iter_mut().filter(|x| x.0 .0 == lo);
        let r = right.iter_mut().filter(|x| x.0 .0 == hi);
        for (x, y) in l.zip(r) {
            x.1.swap_content(&mut y.1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_union_and_normalise() {
        let a = LockPlan::Shards(vec![(0, 5), (0, 1), (0, 5)]).normalise();
        assert_eq!(a, LockPlan::Shards(vec![(0, 1), (0, 5)]));
        assert_eq!(a.clone().union(LockPlan::Db(0)), LockPlan::Db(0));
        assert_eq!(a.clone().union(LockPlan::Db(1)), LockPlan::All);
        assert_eq!(
            a.union(LockPlan::Shards(vec![(1, 0)])),
            LockPlan::Shards(vec![(0, 1), (0, 5), (1, 0)])
        );
    }

    #[test]
    fn lockset_finds_held_shards_only() {
        let ks = Keyspace::new(2);
        let mut set = ks.lock(&LockPlan::Shards(vec![(0, 3), (1, 7)]));
        assert!(set.shard(0, 3).is_some());
        assert!(set.shard(1, 7).is_some());
        assert!(set.shard(0, 4).is_none());
        drop(set);
        let mut all = ks.lock(&LockPlan::All);
        assert!(all.holds_db(0) && all.holds_db(1));
        assert_eq!(all.db_shards(1).count(), SHARDS);
    }

    #[test]
    fn key_shards_are_used_only_for_those_very_arguments() {
        let ks = Keyspace::new(1);
        let a = bytes::Bytes::from_static(b"alpha");
        let b = bytes::Bytes::from_static(b"beta");
        let (sa, sb) = (shard_of(&a) as u32, shard_of(&b) as u32);
        let mut set = ks.lock(&LockPlan::Shards(vec![(0, sa), (0, sb)]).normalise());
        // Deliberately swapped shards: a hinted argument must take its recorded shard.
        set.set_key_shards(
            vec![
                (a.as_ptr() as usize, a.len(), sb),
                (b.as_ptr() as usize, b.len(), sa),
            ]
            .into_boxed_slice(),
        );
        let held_b: *const Shard = set.shard(0, sb).expect("held");
        let held_a: *const Shard = set.shard(0, sa).expect("held");
        // Any order, repeated.
        for _ in 0..2 {
            assert!(std::ptr::eq(set.for_key(0, &b).expect("held"), held_a));
            assert!(std::ptr::eq(set.for_key(0, &a).expect("held"), held_b));
        }
        // Equal bytes elsewhere are hashed as usual.
        let copy = b"alpha".to_vec();
        assert!(std::ptr::eq(set.for_key(0, &copy).expect("held"), held_a));
    }
}
