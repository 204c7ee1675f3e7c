//! Connection affinity: a connection whose commands keep waiting for a shard held by another
//! worker thread moves to that worker (issue 8).
//!
//! redis-benchmark's HSET/SADD/ZADD/LPUSH/EVALSHA workloads hit one key from every connection.
//! Spread over two workers, both need the same shard lock all the time: they hand it back and
//! forth (spin, then futex sleep and wake-up), and the shard's data moves between the two cores'
//! caches at every hand-off. Once every connection using the key is on one worker, the worker
//! runs their commands one after the other, as Redis does, without any hand-off.
//!
//! **Detection** (hooks in [`crate::keyspace`], nothing shared written per command): every shard
//! slot has a `holder` byte next to its lock, which the thread that just took the lock sets to
//! its worker index ([`worker`]; the lock's cache line is already owned by that thread, so the
//! store costs nothing measurable). When an acquisition does not get the lock on its first
//! try, it reads that byte and records in a thread-local note which worker it waited for
//! ([`note_wait`]). The connection loop clears the note when a batch starts ([`Affinity::begin`])
//! and reads it at the batch boundary ([`Affinity::end`]).
//!
//! **Decision** (per connection, at the batch boundary): the last [`HISTORY`] batches are kept as
//! bits (waited for another worker or not); the connection migrates when at least
//! [`MIN_WAITS`] of them waited *for the same shard* (a wait for another shard starts the count
//! again), at most once per [`MIN_INTERVAL_MS`], and only towards a worker that serves at least
//! as many connections as its current one (ties go to the lower index), so two groups of
//! connections cannot swap places: they converge on one worker. A random-key workload waits in
//! a tiny fraction of its batches (measured: 14 of ~37,000 batches of SET -r 100000 P16), each
//! time for another shard, so three waits for one shard in eight batches practically never
//! happen.
//!
//! **Rebalance**: a connection that migrated remembers the shard it waited for (its *home*).
//! Once [`HOME_IDLE_MS`] have passed since it moved, when it took that shard in at most
//! [`HOME_COLD`] of its last [`HISTORY`] batches (random keys fall into any one shard now and
//! then: "not at all for a while" is not a usable test) and its worker serves more than one
//! connection more than the least loaded one, it moves there and forgets its home. So after a
//! hot-key phase the connections spread out again, while during it they stay (they touch the
//! home shard in every batch).
//!
//! **Conditions** for a migration ([`movable`]), all at a batch boundary where every reply has
//! been written and no request is half executed (unparsed bytes and the parser's state move
//! with the connection): not waiting out a CLIENT PAUSE (`pending`), not blocked (WAIT, keys),
//! no MONITOR feed, no Pub/Sub subscription, no client-side caching, no message waiting in the
//! mailbox, not closing, not killed. MULTI and WATCH state live in the `Client` and move with
//! it. The client keeps its id, registration, fd, name and every other CLIENT LIST field; only
//! the task serving it changes thread.
//!
//! Migrations are counted in INFO stats as `ferrokv_connection_migrations`; contended batches as
//! `ferrokv_contended_batches`; `ferrokv_worker_connections` lists each worker's connections.
//! `FERROKV_AFFINITY=0` in the environment turns migration off (the counters stay), for A/B
//! measurements. Measurements and open doubts: docs/performance-notes.md, "Connection
//! migration".
//!
//! **Packing** (adaptive worker count): every worker measures the fraction of wall time its
//! runtime was not parked (tokio `on_thread_park`/`on_thread_unpark` hooks add the parked time
//! to a thread-local counter: [`on_park`], [`on_unpark`]) and publishes it every
//! [`SAMPLE_MS`] ([`Sampler`]; one relaxed store per worker per sample, nothing per command).
//! Worker 0's sampler also decides the mode ([`Workers::decide`]): *packed* once the busy
//! fractions of all workers add up to less than [`PACK_BELOW`] of one core for
//! [`PACK_SAMPLES`] samples (a busier one takes back [`CALM_PENALTY`]), *spread* again once worker 0 is busier than
//! [`SPREAD_ABOVE`] for [`SPREAD_SAMPLES`] samples, unless its load is a one-shard load (at
//! least [`ONE_SHARD_ABOVE`] of its lock acquisitions took the shard of the acquisition
//! before, counted per thread by [`note_taken`]: one hot key, or scripts, which run one at a
//! time; a second worker cannot share such work, and spreading it only scattered the
//! connections for the hot-key rules to gather again: LPUSH at pipeline 16 lost ~20% of its
//! throughput and had a p99 of 6-7 ms against Redis's 1 ms), and no switch within
//! [`SWITCH_COOLDOWN_MS`] of the last one (hysteresis). While packed, the accept loop hands new connections to worker
//! 0 ([`Workers::accept_target`]) and every movable connection on another worker moves to
//! worker 0 at its next batch boundary ([`Move::Pack`]); the hot-key rules (towards a holder,
//! rebalance) rest meanwhile, since one worker has nothing to wait for. Each switch to spread
//! bumps an epoch: at its next batch boundary each connection sees the new epoch once and, if
//! its worker serves more than one connection more than the least loaded one, moves there
//! ([`Move::Rebalance`]); the hot-key consolidation then regroups any hot-key clients as
//! before. Why: on a machine with fewer cores than runnable threads (the load generator plus
//! two workers on two cores), a light load spread over two workers gets its workers preempted
//! and triples p99; one worker that keeps up serves it with lower latency and less CPU.
//! `FERROKV_PACK=0` turns packing off alone (migration for hot keys stays).

use crate::client::Client;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

/// No worker (a thread that is not a connection worker: script thread, cron, tests).
pub const NONE: u8 = u8::MAX;
/// Batches remembered per connection (bits of a `u8`).
pub const HISTORY: u32 = 8;
/// Batches among the last [`HISTORY`] that must have waited for the same shard, held by
/// another worker.
pub const MIN_WAITS: u32 = 3;
/// A connection migrates at most once per this many milliseconds.
pub const MIN_INTERVAL_MS: i64 = 100;
/// A migrated connection that has not touched its home shard for this long may be moved back
/// to a less loaded worker.
pub const HOME_IDLE_MS: i64 = 200;
/// A home shard taken in at most this many of the last [`HISTORY`] batches is cold.
pub const HOME_COLD: u32 = 1;
/// How often each worker publishes its busy fraction (ms).
pub const SAMPLE_MS: u64 = 100;
/// Pack when the workers' busy fractions add up to less than this (permille of one core)...
pub const PACK_BELOW: u32 = 600;
/// ... for this many samples (10 s: quick to spread, slow to pack again, so a load that pauses
/// for a few seconds, e.g. between the runs of a benchmark, keeps both workers). Not strictly
/// in a row: a busier sample takes back [`CALM_PENALTY`] calm ones, so a light load still packs
/// when background work (compaction, other processes) makes one sample in ten look busy.
pub const PACK_SAMPLES: u32 = 100;
/// Calm samples a busier sample takes back (see [`PACK_SAMPLES`]).
pub const CALM_PENALTY: u32 = 10;
/// Spread when the packed worker is busier than this (permille)...
pub const SPREAD_ABOVE: u32 = 850;
/// ... for this many samples in a row.
pub const SPREAD_SAMPLES: u32 = 3;
/// No switch between packed and spread within this long of the previous one (ms).
pub const SWITCH_COOLDOWN_MS: u64 = 2000;
/// A packed worker whose lock acquisitions repeat the previous one's shard at least this often
/// (permille) serves a one-shard load (one hot key, or scripts, which run one at a time): a
/// second worker cannot share that work, spreading would only scatter the connections for
/// the hot-key gathering to collect again, so it does not spread.
pub const ONE_SHARD_ABOVE: u32 = 800;

/// What a worker thread knows about its siblings: their queues (generic over the message so
/// that this module does not depend on the network layer) and how many connections each one
/// serves.
pub struct Workers<Q> {
    /// One queue per worker, by index.
    pub queues: Vec<Q>,
    /// Connections served by each worker (changed on connect, close and migration only).
    pub loads: Box<[AtomicUsize]>,
    /// Connection batches that waited for a shard held by another worker (INFO
    /// `ferrokv_contended_batches`; written only by such batches, which moved a lock's cache
    /// line between cores anyway).
    pub contended_batches: AtomicU64,
    /// Whether connections may migrate (environment `FERROKV_AFFINITY=0` turns migration off
    /// and keeps the counters, for A/B measurements).
    pub enabled: bool,
    /// Whether packing may be used (`FERROKV_PACK=0` turns it off; it also needs
    /// [`Workers::enabled`] and two workers or more).
    pub pack_enabled: bool,
    /// Each worker's busy fraction over its last sample (permille of wall time not parked).
    pub busy: Box<[AtomicU32]>,
    /// Each worker's share of lock acquisitions over its last sample that took the same shard
    /// as the acquisition before (permille; see [`ONE_SHARD_ABOVE`]).
    pub repeats: Box<[AtomicU32]>,
    /// Whether connections are packed on worker 0 now.
    pub packed: AtomicBool,
    /// Bumped at each switch from packed to spread (see [`Affinity::end`]).
    pub spread_epoch: AtomicU32,
    /// Switches between packed and spread (INFO `ferrokv_pack_switches`).
    pub switches: AtomicU64,
}

impl<Q> Workers<Q> {
    /// `queues.len()` workers serving no connection yet.
    pub fn new(queues: Vec<Q>) -> Workers<Q> {
        let loads = (0..queues.len()).map(|_| AtomicUsize::new(0)).collect();
        let busy = (0..queues.len()).map(|_| AtomicU32::new(0)).collect();
        let repeats = (0..queues.len()).map(|_| AtomicU32::new(0)).collect();
        Workers {
            queues,
            loads,
            contended_batches: AtomicU64::new(0),
            enabled: true,
            pack_enabled: true,
            busy,
            repeats,
            packed: AtomicBool::new(false),
            spread_epoch: AtomicU32::new(0),
            switches: AtomicU64::new(0),
        }
    }

    /// Whether packing applies at all: migration on, packing on, two workers or more.
    pub fn can_pack(&self) -> bool {
        self.enabled && self.pack_enabled && self.queues.len() > 1
    }

    /// Starts in packed mode when packing applies (no load yet: one worker is enough).
    pub fn start_packed(&self) {
        self.packed.store(self.can_pack(), Relaxed);
    }

    /// Whether connections are packed on worker 0 now.
    #[inline]
    pub fn is_packed(&self) -> bool {
        self.packed.load(Relaxed)
    }

    /// The worker that gets the next accepted connection: worker 0 while packed, else round
    /// robin over all by `seq` (the accept loop's counter).
    pub fn accept_target(&self, seq: usize) -> usize {
        if self.is_packed() {
            0
        } else {
            seq % self.queues.len().max(1)
        }
    }

    /// Busy fractions of all workers (permille), by index (INFO `ferrokv_worker_busy`).
    pub fn busy_permille(&self) -> Vec<u32> {
        self.busy.iter().map(|b| b.load(Relaxed)).collect()
    }

    /// Repeated-shard shares of all workers (permille), by index (INFO
    /// `ferrokv_worker_repeat_permille`; see [`ONE_SHARD_ABOVE`]).
    pub fn repeat_permille(&self) -> Vec<u32> {
        self.repeats.iter().map(|b| b.load(Relaxed)).collect()
    }

    /// Worker 0's decision after each sample: switches between packed and spread (see the
    /// module docs). `ctl` keeps the streaks; `now_ms` is a monotonic clock.
    pub fn decide(&self, ctl: &mut PackControl, now_ms: u64) {
        if !self.can_pack() {
            return;
        }
        let busy = self.busy_permille();
        let sum: u32 = busy.iter().sum();
        let first = busy.first().copied().unwrap_or(0);
        let one_shard = self
            .repeats
            .first()
            .is_some_and(|r| r.load(Relaxed) >= ONE_SHARD_ABOVE);
        let packed = self.is_packed();
        if packed {
            ctl.calm = 0;
            ctl.hot = if first > SPREAD_ABOVE && !one_shard {
                ctl.hot + 1
            } else {
                0
            };
        } else {
            ctl.hot = 0;
            ctl.calm = if sum < PACK_BELOW {
                ctl.calm + 1
            } else {
                ctl.calm.saturating_sub(CALM_PENALTY)
            };
        }
        if ctl
            .last_switch_ms
            .is_some_and(|t| now_ms.saturating_sub(t) < SWITCH_COOLDOWN_MS)
        {
            return;
        }
        if packed && ctl.hot >= SPREAD_SAMPLES {
            self.spread_epoch.fetch_add(1, Relaxed);
            self.packed.store(false, Relaxed);
        } else if !packed && ctl.calm >= PACK_SAMPLES {
            self.packed.store(true, Relaxed);
        } else {
            return;
        }
        self.switches.fetch_add(1, Relaxed);
        ctl.last_switch_ms = Some(now_ms);
        ctl.hot = 0;
        ctl.calm = 0;
    }

    /// Counts a migrating connection on worker `to` before it is sent there, so that the
    /// next decisions on this worker see it there already (no overshoot while it travels).
    pub fn reserve(&self, to: u8) {
        if let Some(l) = self.loads.get(usize::from(to)) {
            l.fetch_add(1, Relaxed);
        }
    }

    /// Undoes [`Workers::reserve`] (the connection could not be sent).
    pub fn unreserve(&self, to: u8) {
        if let Some(l) = self.loads.get(usize::from(to)) {
            l.fetch_sub(1, Relaxed);
        }
    }

    fn load(&self, w: u8) -> usize {
        self.loads
            .get(usize::from(w))
            .map_or(0, |l| l.load(Relaxed))
    }

    /// The worker serving the fewest connections (lowest index among equals).
    fn least_loaded(&self) -> u8 {
        let mut best = (usize::MAX, 0u8);
        for (i, l) in self.loads.iter().enumerate() {
            let n = l.load(Relaxed);
            if n < best.0 {
                best = (n, i as u8);
            }
        }
        best.1
    }
}

/// Worker 0's packing controller state (see [`Workers::decide`]).
#[derive(Debug, Default)]
pub struct PackControl {
    /// Samples in a row with the packed worker above [`SPREAD_ABOVE`].
    hot: u32,
    /// Samples in a row with the sum of all workers below [`PACK_BELOW`].
    calm: u32,
    /// When the mode last switched (`None`: never).
    last_switch_ms: Option<u64>,
}

thread_local! {
    /// When this worker's runtime parked (`None`: running).
    static PARKED_AT: Cell<Option<Instant>> = const { Cell::new(None) };
    /// Nanoseconds this worker's runtime spent parked so far.
    static IDLE_NS: Cell<u64> = const { Cell::new(0) };
}

/// Runtime hook (`on_thread_park`): the worker goes idle.
pub fn on_park() {
    PARKED_AT.with(|p| p.set(Some(Instant::now())));
}

/// Runtime hook (`on_thread_unpark`): the worker wakes up; the parked time is added to its
/// idle counter.
pub fn on_unpark() {
    if let Some(t) = PARKED_AT.with(|p| p.take()) {
        let ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
        IDLE_NS.with(|i| i.set(i.get().saturating_add(ns)));
    }
}

/// A worker's periodic measurement of its own busy fraction (runs on the worker, as a task
/// woken every [`SAMPLE_MS`]).
pub struct Sampler {
    index: usize,
    last: Instant,
    last_idle: u64,
    last_taken: (u64, u64),
    ctl: PackControl,
    origin: Instant,
}

impl Sampler {
    /// A sampler for worker `index`, starting now.
    pub fn new(index: usize) -> Sampler {
        let now = Instant::now();
        Sampler {
            index,
            last: now,
            last_idle: IDLE_NS.with(|i| i.get()),
            last_taken: NOTES.with(|n| n.taken.get()),
            ctl: PackControl::default(),
            origin: now,
        }
    }

    /// Publishes the busy fraction since the previous call; on worker 0 also decides the
    /// packing mode.
    pub fn sample<Q>(&mut self, workers: &Workers<Q>) {
        let now = Instant::now();
        let idle = IDLE_NS.with(|i| i.get());
        let wall = u64::try_from(now.duration_since(self.last).as_nanos()).unwrap_or(u64::MAX);
        let idle_d = idle.saturating_sub(self.last_idle).min(wall);
        self.last = now;
        self.last_idle = idle;
        if wall == 0 {
            return;
        }
        let busy = ((wall - idle_d) as u128 * 1000 / wall as u128) as u32;
        if let Some(b) = workers.busy.get(self.index) {
            b.store(busy, Relaxed);
        }
        let taken = NOTES.with(|n| n.taken.get());
        let (n, same) = (
            taken.0.wrapping_sub(self.last_taken.0),
            taken.1.wrapping_sub(self.last_taken.1),
        );
        self.last_taken = taken;
        if let Some(r) = workers.repeats.get(self.index) {
            let permille = (same.min(n) * 1000).checked_div(n).unwrap_or(0);
            r.store(u32::try_from(permille).unwrap_or(1000), Relaxed);
        }
        if self.index == 0 {
            let ms = u64::try_from(now.duration_since(self.origin).as_millis()).unwrap_or(0);
            workers.decide(&mut self.ctl, ms);
        }
    }
}

/// Per-thread notes written by the lock hooks and read by the connection loop.
struct Notes {
    /// This thread's worker index ([`NONE`] off the workers).
    worker: Cell<u8>,
    /// The worker whose holding of a shard this thread last waited for in the current batch.
    waited_for: Cell<u8>,
    /// The shard (packed by [`pack`]) that wait was for.
    waited_shard: Cell<u32>,
    /// The current connection's home shard (`u32::MAX`: none).
    home: Cell<u32>,
    /// Whether the current batch took the home shard.
    touched: Cell<bool>,
    /// Lock acquisitions by this thread, and how many took the shard of the one before
    /// ([`note_taken`]; read by the thread's own [`Sampler`]).
    taken: Cell<(u64, u64)>,
    /// The shard this thread took last (`u32::MAX - 1`: none yet).
    last_taken: Cell<u32>,
}

thread_local! {
    static NOTES: Notes = const {
        Notes {
            worker: Cell::new(NONE),
            waited_for: Cell::new(NONE),
            waited_shard: Cell::new(u32::MAX),
            home: Cell::new(u32::MAX),
            touched: Cell::new(false),
            taken: Cell::new((0, 0)),
            last_taken: Cell::new(u32::MAX - 1),
        }
    };
}

/// The key noted for the script interpreter of inline script runs (`scripting/inline.rs`),
/// which is contended like a shard: no [`pack`]ed shard reaches it (databases × shards stays
/// far below `u32::MAX`).
pub const SCRIPT_INTERPRETER: u32 = u32::MAX;

/// A (db, shard) pair as one `u32` (databases beyond 4M are not tracked).
#[inline]
pub fn pack(db: u32, shard: u32) -> u32 {
    db.wrapping_mul(crate::keyspace::SHARDS as u32)
        .wrapping_add(shard)
}

/// Makes the calling thread worker `index` (called once by each worker thread).
pub fn set_worker(index: usize) {
    let w = u8::try_from(index)
        .ok()
        .filter(|&w| w != NONE)
        .unwrap_or(NONE);
    NOTES.with(|n| n.worker.set(w));
}

/// The calling thread's worker index, [`NONE`] off the workers. What a shard's holder byte is
/// set to after each acquisition.
#[inline]
pub fn worker() -> u8 {
    NOTES.with(|n| n.worker.get())
}

/// Lock hook, after shard `key` (see [`pack`]) was taken: notes whether it is the current
/// connection's home shard.
#[inline]
pub fn note_taken(key: u32) {
    NOTES.with(|n| {
        if n.home.get() == key {
            n.touched.set(true);
        }
        // The script interpreter counts as a repeat and is not remembered: scripts run one at
        // a time, so a script load is a one-shard load whatever keys each script then takes.
        let repeat = key == SCRIPT_INTERPRETER || n.last_taken.replace(key) == key;
        let (all, same) = n.taken.get();
        n.taken
            .set((all.wrapping_add(1), same.wrapping_add(u64::from(repeat))));
    });
}

/// Lock hook, when shard `key` was busy on the first try: `holder` is the worker that last took
/// it. Waits for this thread's own worker or for a non-worker thread are not noted.
#[cold]
pub fn note_wait(key: u32, holder: u8) {
    NOTES.with(|n| {
        let me = n.worker.get();
        if holder != NONE && me != NONE && holder != me {
            n.waited_for.set(holder);
            n.waited_shard.set(key);
        }
    });
}

/// A connection's affinity state (moves with it).
#[derive(Debug, Clone, Copy)]
pub struct Affinity {
    /// One bit per batch, most recent lowest: the batch waited for another worker's shard.
    history: u8,
    /// The worker waited for most recently.
    target: u8,
    /// The shard waited for most recently (packed).
    target_shard: u32,
    /// When the connection last migrated (ms; `i64::MIN` never).
    moved_ms: i64,
    /// The shard the connection migrated for (`u32::MAX`: none).
    home: u32,
    /// One bit per batch, most recent lowest: the batch took the home shard.
    home_hist: u8,
    /// The last spread epoch this connection looked at (see [`Workers::spread_epoch`]).
    epoch: u32,
}

impl Default for Affinity {
    fn default() -> Self {
        Affinity {
            history: 0,
            target: NONE,
            target_shard: u32::MAX,
            moved_ms: i64::MIN / 2,
            home: u32::MAX,
            home_hist: 0,
            epoch: 0,
        }
    }
}

/// Why a connection should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// Towards the worker holding the shard it keeps waiting for.
    Towards(u8),
    /// Back to a less loaded worker, its hot phase over (or the workers spread again after a
    /// packed phase).
    Rebalance(u8),
    /// Onto the packing worker (0) while the load fits on one worker.
    Pack(u8),
}

impl Move {
    /// The destination worker.
    pub fn to(self) -> u8 {
        match self {
            Move::Towards(w) | Move::Rebalance(w) | Move::Pack(w) => w,
        }
    }
}

impl Affinity {
    /// Batch start: clears this thread's wait note and installs the connection's home shard.
    #[inline]
    pub fn begin(&self) {
        NOTES.with(|n| {
            n.waited_for.set(NONE);
            n.home.set(self.home);
            n.touched.set(false);
        });
    }

    /// Batch boundary: records what the batch waited for and decides whether the connection
    /// should move (the caller still checks [`movable`]). `now_ms` is the batch's clock.
    #[inline]
    pub fn end<Q>(&mut self, workers: &Workers<Q>, now_ms: i64) -> Option<Move> {
        let (me, waited, shard, touched) = NOTES.with(|n| {
            (
                n.worker.get(),
                n.waited_for.replace(NONE),
                n.waited_shard.get(),
                n.touched.get(),
            )
        });
        if me == NONE || workers.queues.len() < 2 {
            return None;
        }
        self.home_hist = (self.home_hist << 1) | u8::from(touched);
        self.history <<= 1;
        if waited != NONE {
            workers.contended_batches.fetch_add(1, Relaxed);
            if shard == self.target_shard {
                self.history |= 1;
            } else {
                // Waits count only while they are for the same shard: random keys that happen
                // to collide now and then never add up.
                self.history = 1;
                self.target_shard = shard;
            }
            self.target = waited;
        } else if self.history == 0 && self.home == u32::MAX && me == 0 {
            // The common case on worker 0 (where packing puts everyone): nothing to decide
            // unless the workers spread again.
            if workers.is_packed() || workers.spread_epoch.load(Relaxed) == self.epoch {
                return None;
            }
        }
        if now_ms - self.moved_ms < MIN_INTERVAL_MS || !workers.enabled {
            return None;
        }
        if workers.is_packed() {
            // One worker serves everything: nothing to wait for, nothing to balance.
            self.history = 0;
            self.home = u32::MAX;
            self.epoch = workers.spread_epoch.load(Relaxed);
            return (me != 0).then_some(Move::Pack(0));
        }
        let epoch = workers.spread_epoch.load(Relaxed);
        if epoch != self.epoch {
            // The workers spread again: move once if this worker has more than its share.
            self.epoch = epoch;
            let least = workers.least_loaded();
            if least != me && workers.load(me) > workers.load(least) + 1 {
                return Some(Move::Rebalance(least));
            }
        }
        if self.history == 0 && self.home == u32::MAX {
            return None;
        }
        if self.history.count_ones() >= MIN_WAITS && self.target != me {
            let (there, here) = (workers.load(self.target), workers.load(me));
            if there > here || (there == here && self.target < me) {
                return Some(Move::Towards(self.target));
            }
        }
        if self.home != u32::MAX
            && now_ms - self.moved_ms >= HOME_IDLE_MS
            && self.home_hist.count_ones() <= HOME_COLD
        {
            let least = workers.least_loaded();
            if least != me && workers.load(me) > workers.load(least) + 1 {
                return Some(Move::Rebalance(least));
            }
            // Balanced enough: the connection stays and forgets its home.
            self.home = u32::MAX;
        }
        None
    }

    /// Records a migration decided by [`Affinity::end`] at `now_ms`.
    pub fn moved(&mut self, m: Move, now_ms: i64) {
        self.moved_ms = now_ms;
        self.history = 0;
        match m {
            Move::Towards(_) => {
                self.home = self.target_shard;
                self.home_hist = u8::MAX;
            }
            Move::Rebalance(_) | Move::Pack(_) => self.home = u32::MAX,
        }
    }
}

/// Whether the connection may change worker now (see the module docs). `monitor`: it has a
/// MONITOR feed; `pending`: a command waits to be run again once a pause ends.
pub fn movable(client: &Client, monitor: bool, pending: bool) -> bool {
    !pending
        && !monitor
        && !client.wants_monitor
        && !client.close_after_reply
        && client.block_until.is_none()
        && client.blocking.parked.is_none()
        && !client.subs.active()
        && !client.tracking.on
        && !client.handle.is_killed()
        && !client
            .subs
            .mailbox
            .as_ref()
            .is_some_and(|mb| mb.has_pending())
}

/// Counts a connection on the calling thread's worker for as long as it lives (dropped at
/// close or migration).
pub struct LoadGuard<Q> {
    workers: Arc<Workers<Q>>,
    me: u8,
}

impl<Q> LoadGuard<Q> {
    /// Counts one more connection on the calling thread's worker (no-op off the workers).
    pub fn enter(workers: Arc<Workers<Q>>) -> LoadGuard<Q> {
        let me = worker();
        if let Some(l) = workers.loads.get(usize::from(me)) {
            l.fetch_add(1, Relaxed);
        }
        LoadGuard { workers, me }
    }

    /// Takes over the count of a connection migrated to the calling thread's worker, which
    /// the sending worker added with [`Workers::reserve`].
    pub fn adopt(workers: Arc<Workers<Q>>) -> LoadGuard<Q> {
        LoadGuard {
            workers,
            me: worker(),
        }
    }
}

impl<Q> Drop for LoadGuard<Q> {
    fn drop(&mut self) {
        if let Some(l) = self.workers.loads.get(usize::from(self.me)) {
            l.fetch_sub(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workers(loads: &[usize]) -> Workers<()> {
        let w = Workers::new(vec![(); loads.len()]);
        for (l, &n) in w.loads.iter().zip(loads) {
            l.store(n, Relaxed);
        }
        w
    }

    #[test]
    fn moves_after_enough_waits_and_not_before() {
        set_worker(1);
        let w = workers(&[25, 25]);
        let mut a = Affinity::default();
        let mut t = 1000;
        for i in 0..MIN_WAITS {
            a.begin();
            note_wait(pack(0, 7), 0);
            let m = a.end(&w, t);
            t += 1;
            if i + 1 < MIN_WAITS {
                assert_eq!(m, None, "batch {i}");
            } else {
                assert_eq!(m, Some(Move::Towards(0)));
                a.moved(Move::Towards(0), t);
            }
        }
        // Hysteresis: no move within MIN_INTERVAL_MS even with waits.
        for _ in 0..HISTORY {
            a.begin();
            note_wait(pack(0, 7), 0);
            assert_eq!(a.end(&w, t), None);
        }
        set_worker(usize::from(NONE));
    }

    #[test]
    fn no_move_towards_a_smaller_worker_nor_for_own_or_rare_waits() {
        set_worker(1);
        let w = workers(&[10, 40]);
        let mut a = Affinity::default();
        for t in 0..20 {
            a.begin();
            note_wait(pack(0, 7), 0);
            assert_eq!(a.end(&w, 1000 + t), None);
        }
        let w = workers(&[40, 10]);
        let mut a = Affinity::default();
        for t in 0..100 {
            a.begin();
            if t % 3 == 0 {
                note_wait(pack(0, 7), 1); // own worker: ignored
            }
            if t % 10 == 0 {
                note_wait(pack(0, 9), 0); // one batch in ten: too rare
            }
            assert_eq!(a.end(&w, 1000 + t), None);
        }
        set_worker(usize::from(NONE));
    }

    #[test]
    fn rebalances_once_the_home_shard_goes_cold() {
        set_worker(0);
        let w = workers(&[50, 0]);
        let mut a = Affinity {
            target_shard: pack(0, 7),
            ..Affinity::default()
        };
        a.moved(Move::Towards(0), 1000);
        // Still touching its home shard: stays.
        for t in (1000..1500).step_by(10) {
            a.begin();
            note_taken(pack(0, 7));
            assert_eq!(a.end(&w, t), None);
        }
        // Cold (a touch now and then does not count): moves to the idle worker.
        let mut got = None;
        for t in (1500..2000).step_by(10) {
            a.begin();
            note_taken(pack(0, if t == 1530 { 7 } else { 99 }));
            if let Some(m) = a.end(&w, t) {
                got = Some((m, t));
                break;
            }
        }
        let (m, t) = got.expect("rebalanced");
        assert_eq!(m, Move::Rebalance(1));
        // After HISTORY - HOME_COLD cold batches.
        assert!(t >= 1500 + 10 * (HISTORY - HOME_COLD - 1) as i64, "{t}");
        set_worker(usize::from(NONE));
    }

    #[test]
    fn packs_when_calm_and_spreads_when_hot_with_a_cooldown() {
        let w = workers(&[10, 10]);
        let mut ctl = PackControl::default();
        let set = |a: u32, b: u32| {
            w.busy[0].store(a, Relaxed);
            w.busy[1].store(b, Relaxed);
        };
        set(250, 250);
        for i in 0..PACK_SAMPLES {
            assert!(!w.is_packed(), "sample {i}");
            w.decide(&mut ctl, 100 * u64::from(i));
        }
        assert!(w.is_packed());
        // Saturated at once, but within the cooldown: stays packed.
        set(1000, 0);
        // (It switched at the last sample, t = 100 × (PACK_SAMPLES - 1).)
        let mut t = 100 * u64::from(PACK_SAMPLES);
        while t < 100 * u64::from(PACK_SAMPLES - 1) + SWITCH_COOLDOWN_MS {
            w.decide(&mut ctl, t);
            assert!(w.is_packed(), "{t}");
            t += 100;
        }
        // A calm sample breaks the streak.
        set(500, 0);
        w.decide(&mut ctl, t);
        set(1000, 0);
        for _ in 1..SPREAD_SAMPLES {
            t += 100;
            w.decide(&mut ctl, t);
        }
        assert!(w.is_packed());
        t += 100;
        w.decide(&mut ctl, t);
        assert!(!w.is_packed());
        assert_eq!(w.spread_epoch.load(Relaxed), 1);
        assert_eq!(w.switches.load(Relaxed), 2);
        // Two half-busy workers add up to more than one calm core: stays spread.
        set(500, 500);
        for _ in 0..50 {
            t += 100;
            w.decide(&mut ctl, t);
        }
        assert!(!w.is_packed());
        // Packed again, then saturated by a one-shard load: does not spread.
        let mut ctl = PackControl::default();
        w.packed.store(true, Relaxed);
        set(1000, 0);
        w.repeats[0].store(ONE_SHARD_ABOVE, Relaxed);
        for _ in 0..10 * SPREAD_SAMPLES {
            t += 100;
            w.decide(&mut ctl, t);
        }
        assert!(w.is_packed(), "a one-shard load spread");
        // The same saturation from many shards spreads.
        w.repeats[0].store(ONE_SHARD_ABOVE - 1, Relaxed);
        for _ in 0..SPREAD_SAMPLES {
            t += 100;
            w.decide(&mut ctl, t);
        }
        assert!(!w.is_packed());
        // Packing off: never packs.
        let mut off = workers(&[1, 1]);
        off.pack_enabled = false;
        let mut ctl = PackControl::default();
        for t in 0..50 {
            off.decide(&mut ctl, 100 * t);
        }
        assert!(!off.is_packed());
    }

    #[test]
    fn packed_connections_go_to_worker_zero_and_spread_once_per_epoch() {
        set_worker(1);
        let w = workers(&[5, 5]);
        w.packed.store(true, Relaxed);
        let mut a = Affinity::default();
        a.begin();
        assert_eq!(a.end(&w, 1000), Some(Move::Pack(0)));
        a.moved(Move::Pack(0), 1000);
        // On worker 0 while packed: stays, even after hot-key waits (nobody else to wait for).
        set_worker(0);
        let w = workers(&[10, 0]);
        w.packed.store(true, Relaxed);
        for t in 0..10 {
            a.begin();
            assert_eq!(a.end(&w, 1200 + t), None);
        }
        // Spread: one move to the least loaded worker, then no more for this epoch.
        w.packed.store(false, Relaxed);
        w.spread_epoch.store(1, Relaxed);
        a.begin();
        assert_eq!(a.end(&w, 1300), Some(Move::Rebalance(1)));
        a.moved(Move::Rebalance(1), 1300);
        for t in 0..10 {
            a.begin();
            assert_eq!(a.end(&w, 1500 + t), None);
        }
        set_worker(usize::from(NONE));
    }
}
