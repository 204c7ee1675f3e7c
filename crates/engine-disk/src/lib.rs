//! ferrokv's disk engine: Redis data types stored field by field in an LSM tree (fjall).
//!
//! Layout (see `docs/disk-engine.md` for the full description):
//! - `meta`: one record per key, `db + hash64(key) + key` → type, expiry, version, size (+ list
//!   head/tail, or the string value itself);
//! - `data`: one record per hash field / set member / zset member / list element / stream
//!   entry, keyed by `db + len + key + version + subkey` (a stream entry's subkey is its 16-byte
//!   ID);
//! - `zscore`: the sorted-set score index, `db + len + key + version + score + member`; also
//!   a stream's consumer groups, PEL entries and consumers (module `stream`);
//! - `zcount` + `zbound`: the sorted-set rank index (counted buckets over `zscore`, module
//!   `zindex`);
//! - `expire`: the deadline index for the active expiry sweep, `db + deadline + key`;
//! - `sys`: engine bookkeeping (version reservation) and named server blobs (module `sysdata`).
//!
//! DEL/UNLINK/EXPIRE/overwrite of a collection touch only its metadata record; the records of a
//! dead incarnation are dropped later by a compaction filter (module `gc`). No fjall type appears
//! in the public API.
//!
//! Concurrency: every operation on a key runs under a striped per-key mutex inside the engine, so
//! the engine is correct on its own; the server additionally serialises a key's commands with its
//! shard locks. Each mutating call commits exactly one atomic write batch.

mod codec;
mod cursor;
mod dbs;
mod delta;
mod gc;
mod glob;
mod object;
mod ops;
mod ratelimit;
mod stream;
mod sysdata;
mod throttle;
mod zindex;

pub use codec::KeyType;
pub use cursor::ScanPage;
pub use delta::ElemDelta;
pub use gc::EXPIRY_GRACE_MS;
pub use glob::glob_match;
pub use object::{
    decode_collection, encode_collection_into, put_collection_element, put_collection_len,
    put_collection_scored, KeyMeta, KeyRead, KeyWrite, Layout, MetaToken,
};
pub use ops::{KeyInfo, KeyIter, ScoreBound, SubIter, Ttl};
pub use stream::{StreamInfo, StreamTrim, XAddId, XAddOptions};

use codec::Meta;
use fjall::config::{CompressionPolicy, PartitioningPolicy};
use fjall::{CompressionType, Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use gc::{GcFactory, GcShared, Space};
use parking_lot::{Mutex, MutexGuard};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// When the journal is forced to stable storage (mirrors `appendfsync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// Every write batch is fdatasync'ed before the call returns (`appendfsync always`).
    Always,
    /// Batches reach the OS before the call returns; a background thread fdatasyncs the journal
    /// once per second (`appendfsync everysec`).
    EverySec,
    /// Batches reach the OS before the call returns; the OS decides when to write them
    /// (`appendfsync no`). A process crash loses nothing, a power loss may.
    No,
}

/// Tuning of a [`DiskEngine`]; the memory budget is roughly `cache_bytes + memtable_bytes`.
#[derive(Clone, Debug)]
pub struct DiskOptions {
    /// Block cache capacity in bytes (shared by all keyspaces).
    pub cache_bytes: u64,
    /// Upper bound of all memtables together (active + sealed) in bytes: each keyspace gets
    /// `memtable_bytes / 20` (at least 1 MiB) per memtable and fjall stalls its writers when 4
    /// sealed memtables wait for flushing.
    pub memtable_bytes: u64,
    /// Journal persistence policy.
    pub fsync: Fsync,
    /// Journal size after which memtables are flushed so old journal files can be dropped.
    pub max_journal_bytes: u64,
    /// Background flush/compaction worker threads (0 = min(cores, 4) but at least 3: with one
    /// worker, a long compaction delays every memtable flush; with two, fjall's first worker
    /// spins while the other compacts; see module `throttle`).
    pub worker_threads: usize,
    /// Split index and filter blocks into partitions on every level (fjall's default does so
    /// only from L3 on), so a point read of a dataset much larger than the cache loads one small
    /// partition instead of a table's whole filter. Applies to keyspaces created by this open.
    /// Default `true`: measured 20x faster random reads and no write cliff on a dataset 12x the
    /// budget (docs/disk-engine.md).
    pub partition_all_levels: bool,
    /// Largest collection (element count) that [`DiskEngine::apply`] stores inline when asked
    /// to; a bigger one is stored field-level anyway, so no single record makes every access
    /// O(N). Default 512: above every default compact-encoding limit of Redis by count
    /// (`set-max-intset-entries` 512, the listpack limits 128), so the server's choice stands
    /// unless its limits were raised. Native element operations on an inline key convert it to
    /// field-level records first.
    pub inline_max_len: usize,
    /// Compaction rate limit in bytes of records rewritten per second, summed over every
    /// keyspace and worker (0 = unlimited, the default); changeable at run time with
    /// [`DiskEngine::set_compaction_rate`]. Flushes are never slowed; see module `ratelimit`
    /// and docs/disk-engine.md §8 for what it trades.
    pub compaction_rate: u64,
}

impl Default for DiskOptions {
    fn default() -> Self {
        DiskOptions {
            cache_bytes: 64 << 20,
            memtable_bytes: 64 << 20,
            fsync: Fsync::EverySec,
            max_journal_bytes: 256 << 20,
            worker_threads: 0,
            partition_all_levels: true,
            inline_max_len: 512,
            compaction_rate: 0,
        }
    }
}

/// Errors of the disk engine. The command layer maps the Redis-visible ones to Redis's texts.
#[derive(Clone, Debug, PartialEq)]
pub enum DiskError {
    /// The key holds another type (`WRONGTYPE ...`).
    WrongType,
    /// The stored value is not an integer or the result would overflow (`ERR value is not an
    /// integer or out of range` / `ERR increment or decrement would overflow`).
    NotInteger,
    /// Integer overflow of an increment.
    Overflow,
    /// The stored value is not a valid float, or the result would be NaN/infinite.
    NotFloat,
    /// A score was NaN.
    NanScore,
    /// LSET on a missing key (`ERR no such key`).
    NoSuchKey,
    /// LSET index outside the list (`ERR index out of range`).
    IndexOutOfRange,
    /// XADD with an ID not greater than the stream's last ID (`ERR The ID specified in XADD is
    /// equal or smaller than the target stream top item`).
    StreamIdTooSmall,
    /// XADD with the explicit ID 0-0 (`ERR The ID specified in XADD must be greater than 0-0`).
    StreamIdZero,
    /// XADD `<ms>-*` when the last ID has these milliseconds and the largest sequence: Redis
    /// 7.0 answers `ERR Elements are too large to be stored` (its out-of-range path).
    StreamSeqOverflow,
    /// XADD to a stream whose last ID is the largest possible one (`ERR The stream has
    /// exhausted the last possible ID, unable to add more items`).
    StreamExhausted,
    /// The operation or value is not supported by the disk engine.
    Unsupported(String),
    /// A record on disk could not be decoded.
    Corrupt(String),
    /// The storage layer failed (I/O error, poisoned database, ...).
    Storage(String),
}

impl std::fmt::Display for DiskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiskError::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            DiskError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            DiskError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            DiskError::NotFloat => f.write_str("ERR value is not a valid float"),
            DiskError::NanScore => f.write_str("ERR resulting score is not a number (NaN)"),
            DiskError::NoSuchKey => f.write_str("ERR no such key"),
            DiskError::IndexOutOfRange => f.write_str("ERR index out of range"),
            DiskError::StreamIdTooSmall => f.write_str(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            ),
            DiskError::StreamIdZero => {
                f.write_str("ERR The ID specified in XADD must be greater than 0-0")
            }
            DiskError::StreamSeqOverflow => f.write_str("ERR Elements are too large to be stored"),
            DiskError::StreamExhausted => f.write_str(
                "ERR The stream has exhausted the last possible ID, unable to add more items",
            ),
            DiskError::Unsupported(s) => write!(f, "ERR {s}"),
            DiskError::Corrupt(s) => write!(f, "ERR disk engine: corrupt record: {s}"),
            DiskError::Storage(s) => write!(f, "ERR disk engine: {s}"),
        }
    }
}

impl std::error::Error for DiskError {}

// Lets `?` convert storage errors inside the crate; hidden because the fjall type is an
// implementation detail (callers only ever see `DiskError::Storage`).
#[doc(hidden)]
impl From<fjall::Error> for DiskError {
    fn from(e: fjall::Error) -> Self {
        DiskError::Storage(e.to_string())
    }
}

/// Result of disk engine operations.
pub type Result<T> = std::result::Result<T, DiskError>;

/// Figures for INFO.
#[derive(Clone, Debug, Default)]
pub struct DiskStats {
    /// Bytes on disk (tables + journals).
    pub disk_bytes: u64,
    /// Bytes of journal files.
    pub journal_bytes: u64,
    /// Block cache capacity.
    pub cache_capacity: u64,
    /// Block cache bytes in use.
    pub cache_bytes: u64,
    /// Bytes held by memtables (active + sealed).
    pub write_buffer_bytes: u64,
    /// Memtables waiting to be flushed.
    pub outstanding_flushes: usize,
    /// Compactions running now.
    pub active_compactions: usize,
    /// Compactions completed since open.
    pub compactions_completed: usize,
    /// Stale records dropped by the GC compaction filters since open.
    pub gc_dropped: u64,
    /// Approximate number of records per keyspace: meta, data, zscore, expire.
    pub approx_records: [usize; 4],
    /// Element records made unreachable since open (DEL, expiry, overwrite or conversion of
    /// field-level collections; a sorted-set member counts twice) and not yet dropped by the GC
    /// filters: an estimate of the space compaction will reclaim (`orphaned - gc_dropped`,
    /// saturating; flushed databases are not included, see `flushed_dbs`).
    pub gc_pending_estimate: u64,
    /// Logical databases flushed (FLUSHDB/FLUSHALL) since open, whose records compaction drops.
    pub flushed_dbs: u64,
    /// Block loads (data, index and filter blocks) served by the block cache since open,
    /// summed over every keyspace.
    pub cache_hits: u64,
    /// Block loads that missed the block cache and read the table file (from the OS page
    /// cache or the device) since open, summed over every keyspace.
    pub cache_misses: u64,
    /// The largest number of level-0 tables of any keyspace. fjall slows a keyspace's writers
    /// from 20 level-0 runs on and blocks them from 30 until compaction catches up.
    pub max_l0_tables: usize,
    /// The largest number of sealed memtables waiting for a flush in any keyspace. fjall blocks
    /// a keyspace's writers while it has 4 or more.
    pub max_sealed_memtables: usize,
    /// Whether some keyspace is past one of fjall's write-stall thresholds right now (20 level-0
    /// tables or 4 sealed memtables): writers into it are being slowed down or blocked.
    pub write_stalled: bool,
    /// The bound on all memtables together (active + sealed) above which a committing writer
    /// waits for flushes: fjall 3.1 alone lets the active memtables grow past their size while
    /// its workers are busy (docs/disk-engine.md §8).
    pub write_buffer_limit: u64,
    /// Commits that waited because the write buffer was above `write_buffer_limit`, since open.
    pub writes_throttled: u64,
    /// The compaction rate limit in force, bytes per second (0 = unlimited).
    pub compaction_rate: u64,
    /// Record bytes (key + value, uncompressed) rewritten by merging compactions since open:
    /// what the rate limit meters.
    pub compaction_bytes: u64,
    /// Milliseconds compaction threads slept to respect the rate limit since open (summed over
    /// threads).
    pub compaction_throttled_ms: u64,
    /// Key writes of [`DiskEngine::apply_known`] that used a caller's token instead of reading
    /// the key's metadata record ("blind" writes of keys whose stored state the caller knew),
    /// since open.
    pub blind_writes: u64,
}

/// fjall 3.1's level-0 run count from which it slows writers (`keyspace/write_delay.rs`).
pub const L0_STALL_THRESHOLD: usize = 20;
/// fjall 3.1's sealed-memtable count from which it blocks writers (`local_backpressure`).
pub const SEALED_MEMTABLE_HALT: usize = 4;

/// What fjall's builder takes to assign compaction filters to keyspaces by name.
type FilterAssigner =
    Arc<dyn Fn(&str) -> Option<Arc<dyn fjall::compaction::filter::Factory>> + Send + Sync>;

const LOCK_STRIPES: usize = 1024;
const VERSION_RESERVE: u64 = 1 << 20;
const SYS_VERSION_KEY: &[u8] = b"version-reserved";

pub(crate) struct Inner {
    pub(crate) db: Database,
    pub(crate) meta: Keyspace,
    pub(crate) data: Keyspace,
    pub(crate) zscore: Keyspace,
    pub(crate) zcount: Keyspace,
    pub(crate) zbound: Keyspace,
    pub(crate) expire: Keyspace,
    pub(crate) sys: Keyspace,
    pub(crate) gc: Arc<GcShared>,
    /// The current [`Fsync`] policy ([`sysdata::fsync_code`]); changeable at run time.
    pub(crate) fsync: std::sync::atomic::AtomicU8,
    locks: Vec<Mutex<()>>,
    reserved: Mutex<u64>,
    /// Whether lazily expired keys are recorded for [`DiskEngine::drain_expired`].
    log_expired: std::sync::atomic::AtomicBool,
    pub(crate) expired_log: Mutex<Vec<(u16, Vec<u8>)>>,
    pub(crate) inline_max_len: usize,
    pub(crate) counters: dbs::Counters,
    flusher: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
    /// The bound on the whole write buffer (module `throttle`).
    throttle: throttle::WriteThrottle,
    /// See [`DiskStats::blind_writes`].
    pub(crate) blind_writes: AtomicU64,
}

/// A disk-backed keyspace (all 16+ databases) in one directory. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct DiskEngine {
    pub(crate) inner: Arc<Inner>,
}

/// A point-in-time read view of the whole engine (for BGSAVE / RDB export). While any snapshot
/// is alive the GC filter keeps every record, so keep them short-lived.
pub struct DiskSnapshot {
    pub(crate) inner: Arc<Inner>,
    pub(crate) snap: fjall::Snapshot,
    /// The database table as of the snapshot.
    pub(crate) map: dbs::DbMap,
}

impl Drop for DiskSnapshot {
    fn drop(&mut self) {
        self.inner.gc.snapshots.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A compaction paced by the rate limit must not hold up fjall's close.
        self.gc.limiter.closing.store(true, Ordering::Relaxed);
        if let Some((tx, handle)) = self.flusher.lock().take() {
            drop(tx);
            // The sync thread holds the engine for a moment each second; if it was the last
            // holder, this drop runs on that thread, which must not join itself.
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
        let _ = self.db.persist(PersistMode::SyncAll);
        *self.gc.meta.write() = None;
    }
}

/// Keyspaces that take bulk writes (meta, data, zscore, expire).
const WRITE_KEYSPACES: u64 = 4;
/// fjall halts a keyspace's writers once it has this many sealed memtables queued for flushing,
/// so a keyspace holds at most this many plus its active one.
const MEMTABLES_PER_KEYSPACE: u64 = 5;

/// Per-keyspace memtable size such that all memtables together stay within `memtable_bytes`
/// (fjall 3.1 does not enforce its global write-buffer bound; this is the bound that holds).
fn memtable_size(memtable_bytes: u64) -> u64 {
    (memtable_bytes / (WRITE_KEYSPACES * MEMTABLES_PER_KEYSPACE)).max(1 << 20)
}

fn keyspace_options(memtable_bytes: u64, partition_all: bool) -> KeyspaceCreateOptions {
    let o = KeyspaceCreateOptions::default()
        .data_block_compression_policy(CompressionPolicy::all(CompressionType::Lz4))
        .max_memtable_size(memtable_size(memtable_bytes));
    if partition_all {
        o.filter_block_partitioning_policy(PartitioningPolicy::all(true))
            .index_block_partitioning_policy(PartitioningPolicy::all(true))
    } else {
        o
    }
}

impl DiskEngine {
    /// Opens (or creates) the engine in directory `path`. Recovery replays only the journal
    /// tail, so open time does not grow with the dataset.
    pub fn open(path: impl AsRef<Path>, opts: DiskOptions) -> Result<DiskEngine> {
        let shared = Arc::new(GcShared::new());
        let assign_shared = shared.clone();
        let assigner: FilterAssigner = Arc::new(move |name: &str| {
            let space = match name {
                "meta" => Space::Meta,
                "data" | "zscore" | "zcount" | "zbound" => Space::Sub,
                "expire" => Space::Expire,
                "sys" => Space::Sys,
                _ => return None,
            };
            Some(Arc::new(GcFactory {
                shared: AssertUnwindSafe(assign_shared.clone()),
                space,
            })
                as Arc<dyn fjall::compaction::filter::Factory>)
        });
        // fjall 3.1 stores but does not enforce the global write-buffer bound (deprecated,
        // hidden); the per-keyspace memtable size below is the bound that holds.
        #[allow(deprecated)]
        let mut builder = Database::builder(path.as_ref())
            .cache_size(opts.cache_bytes)
            .max_write_buffer_size(Some(opts.memtable_bytes.max(1 << 20)))
            .max_journaling_size(opts.max_journal_bytes)
            .with_compaction_filter_factories(assigner);
        builder = builder.worker_threads(throttle::worker_threads(opts.worker_threads));
        let db = builder.open()?;
        let (mt, pa) = (opts.memtable_bytes, opts.partition_all_levels);
        let meta = db.keyspace("meta", || keyspace_options(mt, pa))?;
        let data = db.keyspace("data", || keyspace_options(mt, pa))?;
        let zscore = db.keyspace("zscore", || keyspace_options(mt, pa))?;
        let zcount = db.keyspace("zcount", || keyspace_options(mt, pa))?;
        let zbound = db.keyspace("zbound", || keyspace_options(mt, pa))?;
        let expire = db.keyspace("expire", || keyspace_options(mt, pa))?;
        let sys = db.keyspace("sys", || keyspace_options(mt, pa))?;
        *shared.meta.write() = Some(meta.clone());
        let reserved = match sys.get(SYS_VERSION_KEY)? {
            Some(v) => {
                let a: [u8; 8] = v
                    .as_ref()
                    .try_into()
                    .map_err(|_| DiskError::Corrupt("version reservation".into()))?;
                u64::from_be_bytes(a)
            }
            None => 1,
        };
        shared.next_version.store(reserved, Ordering::SeqCst);
        shared.limiter.set_rate(opts.compaction_rate);
        let (map, counts, seq, pending) = dbs::load(&db, &sys, &meta)?;
        *shared.dbmap.write() = map;
        let inner = Arc::new(Inner {
            db,
            meta,
            data,
            zscore,
            zcount,
            zbound,
            expire,
            sys,
            gc: shared,
            fsync: std::sync::atomic::AtomicU8::new(sysdata::fsync_code(opts.fsync)),
            locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            reserved: Mutex::new(reserved),
            log_expired: std::sync::atomic::AtomicBool::new(false),
            expired_log: Mutex::new(Vec::new()),
            inline_max_len: opts.inline_max_len,
            counters: dbs::Counters {
                counts: Mutex::new(counts),
                seq: std::sync::atomic::AtomicU64::new(seq),
                pending: std::sync::atomic::AtomicU64::new(pending),
                fold: Mutex::new(()),
            },
            flusher: Mutex::new(None),
            throttle: throttle::WriteThrottle::new(mt, memtable_size(mt)),
            blind_writes: AtomicU64::new(0),
        });
        {
            // The once-a-second journal sync runs whatever the policy (idle unless it is
            // `everysec`), so CONFIG SET appendfsync can switch policies at run time.
            let (tx, rx) = mpsc::channel::<()>();
            let weak = Arc::downgrade(&inner);
            let handle = std::thread::Builder::new()
                .name("ferrokv-disk-fsync".into())
                .spawn(move || {
                    while let Err(mpsc::RecvTimeoutError::Timeout) =
                        rx.recv_timeout(Duration::from_secs(1))
                    {
                        let Some(inner) = weak.upgrade() else { return };
                        if inner.fsync_policy() == Fsync::EverySec {
                            let _ = inner.db.persist(PersistMode::SyncData);
                        }
                    }
                })
                .map_err(|e| DiskError::Storage(e.to_string()))?;
            *inner.flusher.lock() = Some((tx, handle));
        }
        Ok(DiskEngine { inner })
    }

    /// A consistent read view of every database as of now.
    pub fn snapshot(&self) -> DiskSnapshot {
        self.inner.gc.snapshots.fetch_add(1, Ordering::SeqCst);
        // Every stripe: no flush/swap between reading the table and taking the view.
        let _all = self.inner.lock_all();
        DiskSnapshot {
            inner: self.inner.clone(),
            snap: self.inner.db.snapshot(),
            map: self.inner.gc.dbmap.read().clone(),
        }
    }

    /// Starts or stops recording keys that reads delete because they expired (lazy expiry), so
    /// the server can send `expired` notifications and propagate DELs, as Redis does on
    /// lazy expiry. Off by default.
    pub fn set_log_expired(&self, on: bool) {
        self.inner.log_expired.store(on, Ordering::Relaxed);
        if !on {
            self.inner.expired_log.lock().clear();
        }
    }

    /// Takes the keys recorded since the last call (see [`set_log_expired`](Self::set_log_expired)).
    pub fn drain_expired(&self) -> Vec<(u16, Vec<u8>)> {
        std::mem::take(&mut *self.inner.expired_log.lock())
    }

    /// Forces the journal to stable storage now (SAVE / SHUTDOWN paths).
    pub fn sync(&self) -> Result<()> {
        self.inner.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    /// Flushes memtables and runs a full compaction of every keyspace, so the GC filter sees
    /// every record (tests, DEBUG-style maintenance). Blocks; never call it on a hot path.
    pub fn compact_all(&self) -> Result<()> {
        let i = &self.inner;
        let all = [&i.meta, &i.data, &i.zscore, &i.zcount, &i.zbound, &i.expire];
        for ks in all {
            ks.rotate_memtable_and_wait()?;
        }
        // The meta keyspace first: data GC reads it.
        for ks in all {
            ks.major_compact()?;
        }
        Ok(())
    }

    /// Exact record counts of the meta, data, zscore and expire keyspaces. O(records): for
    /// tests and debugging only.
    pub fn debug_record_counts(&self) -> Result<[usize; 4]> {
        let i = &self.inner;
        Ok([
            i.meta.len()?,
            i.data.len()?,
            i.zscore.len()?,
            i.expire.len()?,
        ])
    }

    /// Engine figures for INFO.
    pub fn stats(&self) -> DiskStats {
        let i = &self.inner;
        let spaces = [
            &i.meta, &i.data, &i.zscore, &i.zcount, &i.zbound, &i.expire, &i.sys,
        ];
        // `l0_table_count` counts tables, fjall's stall counts runs (a run may hold several
        // tables), so this errs on the side of reporting a stall slightly early.
        let max_l0_tables = spaces.iter().map(|k| k.l0_table_count()).max().unwrap_or(0);
        let max_sealed_memtables = spaces
            .iter()
            .map(|k| k.sealed_memtable_count())
            .max()
            .unwrap_or(0);
        DiskStats {
            disk_bytes: i.db.disk_space().unwrap_or(0),
            journal_bytes: i.db.journal_disk_space().unwrap_or(0),
            cache_capacity: i.db.cache_capacity(),
            cache_bytes: i.db.cache_size(),
            write_buffer_bytes: i.db.write_buffer_size(),
            outstanding_flushes: i.db.outstanding_flushes(),
            active_compactions: i.db.active_compactions(),
            compactions_completed: i.db.compactions_completed(),
            gc_dropped: i.gc.dropped.load(Ordering::Relaxed),
            gc_pending_estimate: i
                .gc
                .orphaned
                .load(Ordering::Relaxed)
                .saturating_sub(i.gc.dropped.load(Ordering::Relaxed)),
            flushed_dbs: i.gc.flushed.load(Ordering::Relaxed),
            approx_records: [
                i.meta.approximate_len(),
                i.data.approximate_len(),
                i.zscore.approximate_len(),
                i.expire.approximate_len(),
            ],
            cache_hits: spaces
                .iter()
                .map(|k| k.metrics().block_load_cached_count() as u64)
                .sum(),
            cache_misses: spaces
                .iter()
                .map(|k| k.metrics().block_load_io_count() as u64)
                .sum(),
            max_l0_tables,
            max_sealed_memtables,
            write_stalled: max_l0_tables >= L0_STALL_THRESHOLD
                || max_sealed_memtables >= SEALED_MEMTABLE_HALT,
            write_buffer_limit: i.throttle.limit,
            writes_throttled: i.throttle.waits.load(Ordering::Relaxed),
            blind_writes: i.blind_writes.load(Ordering::Relaxed),
            compaction_rate: i.gc.limiter.rate(),
            compaction_bytes: i.gc.limiter.bytes.load(Ordering::Relaxed),
            compaction_throttled_ms: i.gc.limiter.throttled_us.load(Ordering::Relaxed) / 1000,
        }
    }
}

impl Inner {
    /// Records a lazily expired key if logging is on.
    pub(crate) fn note_expired(&self, db: u16, key: &[u8]) {
        if self.log_expired.load(Ordering::Relaxed) {
            self.expired_log.lock().push((db, key.to_vec()));
        }
    }

    fn stripe(db: u16, key: &[u8]) -> usize {
        let h = codec::key_hash(key) ^ u64::from(db).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h as usize) % LOCK_STRIPES
    }

    /// The striped lock serialising operations on `(db, key)`.
    pub(crate) fn lock(&self, db: u16, key: &[u8]) -> MutexGuard<'_, ()> {
        self.locks[Self::stripe(db, key)].lock()
    }

    /// The locks of several keys, taken in stripe order (no deadlock with other callers, which
    /// hold at most one stripe or take theirs in the same order).
    pub(crate) fn lock_many<'k>(
        &self,
        keys: impl Iterator<Item = (u16, &'k [u8])>,
    ) -> Vec<MutexGuard<'_, ()>> {
        let mut stripes: Vec<usize> = keys.map(|(db, k)| Self::stripe(db, k)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        stripes.into_iter().map(|s| self.locks[s].lock()).collect()
    }

    /// Every stripe lock, in order (flush/swap: no key operation runs meanwhile).
    pub(crate) fn lock_all(&self) -> Vec<MutexGuard<'_, ()>> {
        self.locks.iter().map(|l| l.lock()).collect()
    }

    /// A new write batch with the configured durability.
    pub(crate) fn batch(&self) -> Batch {
        let b = self.db.batch();
        let b = match self.fsync_policy() {
            Fsync::Always => b.durability(Some(PersistMode::SyncData)),
            Fsync::EverySec | Fsync::No => b,
        };
        Batch {
            b,
            versions: Vec::new(),
            deltas: Vec::new(),
            orphaned: 0,
            gc: self.gc.clone(),
        }
    }

    /// Hands out a fresh version for a new key incarnation written by `batch`.
    pub(crate) fn new_version(&self, batch: &mut Batch) -> Result<u64> {
        let mut inflight = self.gc.inflight.lock();
        let v = self.gc.next_version.fetch_add(1, Ordering::SeqCst);
        *inflight.entry(v).or_insert(0) += 1;
        drop(inflight);
        batch.versions.push(v);
        let mut reserved = self.reserved.lock();
        if v >= *reserved {
            // Persist the reservation before any batch uses a version above the old one, so
            // that a restart never hands out a version that is already in use.
            let r = v + VERSION_RESERVE;
            self.sys.insert(SYS_VERSION_KEY, r.to_be_bytes())?;
            if self.fsync_policy() == Fsync::Always {
                self.db.persist(PersistMode::SyncData)?;
            }
            *reserved = r;
        }
        Ok(v)
    }

    /// Commits `batch` atomically (one journal entry).
    pub(crate) fn commit(&self, batch: Batch) -> Result<()> {
        let mut batch = batch;
        let mut b = std::mem::replace(&mut batch.b, self.db.batch());
        let deltas = std::mem::take(&mut batch.deltas);
        let orphaned = batch.orphaned;
        self.write_deltas(&mut b, &deltas);
        let r = b.commit();
        // Dropping `batch` releases its versions, now that the batch is published.
        drop(batch);
        r?;
        self.throttle.wait(&self.db);
        self.gc.orphaned.fetch_add(orphaned, Ordering::Relaxed);
        if !deltas.is_empty() {
            self.count_committed(&deltas);
        }
        Ok(())
    }

    /// Writes the metadata record `new` of `(db, key)`, maintaining the expire index against
    /// the previous record `old`.
    /// `old` must be the record present now (`None` = no record), which keeps the key counter
    /// exact.
    pub(crate) fn put_meta(
        &self,
        batch: &mut Batch,
        db: u32,
        key: &[u8],
        old: Option<&Meta>,
        new: &Meta,
    ) {
        match old {
            None => batch.count(db, 1),
            Some(o) if o.version != new.version || new.inline || new.kind == KeyType::String => {
                batch.orphan(o)
            }
            Some(_) => {}
        }
        let old_exp = old.and_then(|m| m.expire);
        if old_exp != new.expire {
            if let Some(at) = old_exp {
                batch.b.remove(&self.expire, codec::expire_key(db, at, key));
            }
            if let Some(at) = new.expire {
                batch.b.insert(
                    &self.expire,
                    codec::expire_key(db, at, key),
                    Vec::<u8>::new(),
                );
            }
        }
        batch
            .b
            .insert(&self.meta, codec::meta_key(db, key), new.encode());
    }

    /// Deletes the key `(db, key)` whose metadata is `old`: O(1) whatever its size.
    pub(crate) fn del_meta(&self, batch: &mut Batch, db: u32, key: &[u8], old: &Meta) {
        batch.count(db, -1);
        batch.orphan(old);
        if let Some(at) = old.expire {
            batch.b.remove(&self.expire, codec::expire_key(db, at, key));
        }
        batch.b.remove(&self.meta, codec::meta_key(db, key));
    }
}

/// One command's atomic write batch, plus the fresh versions it allocated (kept in flight for
/// the GC's version floor until the batch is committed or dropped).
pub(crate) struct Batch {
    pub(crate) b: fjall::OwnedWriteBatch,
    versions: Vec<u64>,
    /// Key count changes per physical db (module `dbs`).
    deltas: Vec<(u32, i64)>,
    /// Element records this batch makes unreachable (stats only).
    orphaned: u64,
    gc: Arc<GcShared>,
}

impl Batch {
    /// Notes that the element records of `old` become garbage if this batch commits.
    fn orphan(&mut self, old: &Meta) {
        if old.kind != KeyType::String && !old.inline {
            let per = if old.kind == KeyType::ZSet { 2 } else { 1 };
            self.orphaned += old.size * per;
        }
    }

    fn count(&mut self, pdb: u32, d: i64) {
        match self.deltas.iter_mut().find(|(p, _)| *p == pdb) {
            Some((_, n)) => *n += d,
            None => self.deltas.push((pdb, d)),
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        for v in self.versions.drain(..) {
            self.gc.release_version(v);
        }
    }
}
