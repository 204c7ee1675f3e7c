//! Point-in-time RDB snapshots without `fork()`.
//!
//! [`begin`] runs with every shard locked: that instant is the snapshot's *epoch*. Each non-empty
//! shard is marked (`Shard::snapshot_begin`) with a sink. From then on a shard's epoch content
//! is copied out exactly once, by whichever comes first:
//! * the snapshot thread, which visits the marked shards in (db, shard) order, locking one at a
//!   time just for the copy (`Shard::snapshot_flush`);
//! * a command about to change the shard (the engine's write hook: serialize-before-mutate).
//!
//! The copies (cloned entries) are queued in the [`Sink`]; only the snapshot thread converts
//! them to RDB values, encodes and compresses them, without holding any lock. The extra memory
//! is the copies waiting in the queue. When no snapshot runs, the write hook costs one branch.

use super::convert::entry_to_rdb;
use crate::keyspace::{LockPlan, LockSet};
use crate::server::Server;
use crate::{log_notice, log_warning};
use ferrokv_engine::{Entry, Shard, SnapshotSink};
use ferrokv_rdb::{KeyRecord, RdbWriter, WriteOptions};
use parking_lot::Mutex;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Where marked shards deliver their epoch content.
#[derive(Default)]
pub struct Sink {
    queue: Mutex<Vec<(u64, Vec<Entry>)>>,
    /// Approximate bytes of the queued copies.
    bytes: AtomicU64,
    /// Highest value `bytes` reached.
    peak: AtomicU64,
    /// The snapshot was abandoned: drop what arrives.
    closed: AtomicBool,
}

impl SnapshotSink for Sink {
    fn receive(&self, tag: u64, entries: Vec<Entry>) {
        if self.closed.load(Relaxed) {
            return;
        }
        let b: usize = entries.iter().map(Entry::heap_size).sum();
        let now = self.bytes.fetch_add(b as u64, Relaxed) + b as u64;
        self.peak.fetch_max(now, Relaxed);
        self.queue.lock().push((tag, entries));
    }
}

impl Sink {
    fn take(&self) -> Vec<(u64, Vec<Entry>)> {
        let mut q = std::mem::take(&mut *self.queue.lock());
        q.sort_unstable_by_key(|x| x.0);
        q
    }
}

/// A snapshot whose epoch has been fixed: what [`write`] needs.
pub struct Epoch {
    sink: Arc<Sink>,
    /// Unix ms at the epoch: keys (and hash fields) expired by then are left out.
    pub now_ms: i64,
    /// Keys and keys with an expiry per db at the epoch (RESIZEDB hints).
    dbs: Vec<(u64, u64)>,
    /// The marked shards, in (db, shard) order.
    marked: Vec<(u32, u32)>,
    /// RDB version to write: 12 when some hash has field TTLs, else 10 (Redis 7.0 loads it).
    pub version: u32,
    /// `rdb_changes_since_last_save` at the epoch (what a successful save clears).
    pub dirty_at_start: u64,
    /// Which access hints keys carry in the file, as Redis: IDLE under an LRU
    /// `maxmemory-policy`, FREQ under an LFU one, none otherwise.
    hints: Hints,
    functions: Vec<Vec<u8>>,
    /// With `storage-engine disk`: the disk store's view at the epoch (the shards are empty
    /// between commands), written after the shards (see [`crate::disk::write_snapshot`]).
    disk: Option<ferrokv_engine_disk::DiskSnapshot>,
}

/// Access hints written with each key.
#[derive(Clone, Copy)]
enum Hints {
    None,
    Lru,
    /// LFU with this decay time (minutes).
    Lfu(u32),
}

/// Fixes the epoch: `locks` must hold every shard of every database.
pub fn begin(srv: &Server, locks: &mut LockSet<'_>) -> Epoch {
    crate::disk::before_snapshot(srv, locks);
    let sink = Arc::new(Sink::default());
    let dyn_sink: Arc<dyn SnapshotSink> = sink.clone();
    let mut dbs = vec![(0u64, 0u64); srv.keyspace.db_count()];
    let mut marked = Vec::new();
    let mut field_ttls = false;
    for ((db, sh), s) in locks.all_held() {
        if s.is_empty() {
            continue;
        }
        if let Some(d) = dbs.get_mut(db as usize) {
            d.0 += s.len() as u64;
            d.1 += s.volatile_len() as u64;
        }
        field_ttls |= s.field_expiry_keys() > 0;
        s.snapshot_begin(dyn_sink.clone(), (u64::from(db) << 32) | u64::from(sh));
        marked.push((db, sh));
    }
    *srv.persist.current.lock() = Some(sink.clone());
    // Disk mode: whether a hash has field TTLs is found by the writer thread (O(data), not
    // under the locks).
    let disk = crate::disk::engine(srv).map(|e| e.snapshot());
    let policy = srv.config.read().maxmemory_policy().to_string();
    let hints = match srv.keyspace.access_mode() {
        ferrokv_engine::AccessMode::Lfu { decay_minutes, .. } if policy.ends_with("-lfu") => {
            Hints::Lfu(decay_minutes)
        }
        ferrokv_engine::AccessMode::Lru if policy.ends_with("-lru") => Hints::Lru,
        _ => Hints::None,
    };
    Epoch {
        hints,
        sink,
        now_ms: crate::util::now_ms(),
        dbs,
        marked,
        version: if field_ttls { 12 } else { 10 },
        dirty_at_start: srv.stats.dirty.load(Relaxed),
        disk,
        functions: srv
            .scripting
            .library_codes()
            .into_iter()
            .map(|b| b.to_vec())
            .collect(),
    }
}

/// Fixes the epoch by locking every shard for a moment (outside of any command).
pub fn begin_unlocked(srv: &Server) -> Epoch {
    let mut locks = srv.keyspace.lock(&LockPlan::All);
    begin(srv, &mut locks)
}

/// What a finished snapshot wrote.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    /// File size in bytes.
    pub bytes: u64,
    /// Keys written.
    pub keys: u64,
    /// Peak bytes of copied entries waiting for encoding.
    pub peak_copy_bytes: u64,
}

/// Write options from the configuration (`rdbcompression`, `rdbchecksum`, encoding limits).
fn write_options(srv: &Server, version: u32) -> WriteOptions {
    let cfg = srv.config.read();
    let lim = srv.hot.encoding_limits();
    WriteOptions {
        version,
        compression: cfg.get_bool("rdbcompression").unwrap_or(true),
        checksum: cfg.get_bool("rdbchecksum").unwrap_or(true),
        hash_max_listpack_entries: lim.hash_max_listpack_entries,
        hash_max_listpack_value: lim.hash_max_listpack_value,
        zset_max_listpack_entries: lim.zset_max_listpack_entries,
        zset_max_listpack_value: lim.zset_max_listpack_value,
        set_max_intset_entries: lim.set_max_intset_entries,
        ..WriteOptions::default()
    }
}

/// Serialises the epoch's content into `path` (through a temporary file renamed at the end).
/// `with_shard(db, shard, f)` must run `f` on that shard while it is locked. On failure every
/// shard still marked is released and the temporary file removed.
pub fn write(
    srv: &Server,
    epoch: Epoch,
    path: &Path,
    mut with_shard: impl FnMut(u32, u32, &mut dyn FnMut(&mut Shard)),
) -> Result<Written, String> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let tmp: PathBuf = dir.join(format!(
        "temp-{}-{}.rdb",
        std::process::id(),
        crate::util::now_us()
    ));
    let result = write_inner(srv, &epoch, &tmp, path, &mut with_shard);
    *srv.persist.current.lock() = None;
    if result.is_err() {
        epoch.sink.closed.store(true, Relaxed);
        for &(db, sh) in &epoch.marked {
            with_shard(db, sh, &mut |s| s.snapshot_cancel());
        }
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_inner(
    srv: &Server,
    epoch: &Epoch,
    tmp: &Path,
    path: &Path,
    with_shard: &mut impl FnMut(u32, u32, &mut dyn FnMut(&mut Shard)),
) -> Result<Written, String> {
    let file = std::fs::File::create(tmp).map_err(|e| {
        format!(
            "Failed opening the temp RDB file {} (in server root dir {}) for saving: {}",
            tmp.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            crate::config::io_error_text(&e)
        )
    })?;
    let io = |e: std::io::Error| format!("Write error saving DB on disk: {}", e);
    let version = match &epoch.disk {
        Some(d) if crate::disk::snapshot_has_field_ttls(d, srv.keyspace.db_count()) => 12,
        _ => epoch.version,
    };
    let mut w = RdbWriter::new(
        BufWriter::with_capacity(1 << 20, file),
        write_options(srv, version),
    )
    .map_err(io)?;
    let used_mem = crate::cmd::info::process_memory().rss;
    w.standard_aux(crate::REDIS_VERSION, epoch.now_ms / 1000, used_mem, false)
        .map_err(io)?;
    for f in &epoch.functions {
        w.function(f).map_err(io)?;
    }
    let mut current_db: Option<u64> = None;
    let mut keys = 0u64;
    let clock = ferrokv_engine::Clock::at(epoch.now_ms);
    let now_secs = (epoch.now_ms / 1000) as u32;
    for &(db, sh) in &epoch.marked {
        if epoch.sink.closed.load(Relaxed) {
            return Err("Background saving aborted (the dataset was flushed)".into());
        }
        with_shard(db, sh, &mut |s| {
            s.snapshot_flush();
        });
        let batch = epoch.sink.take();
        let mut freed = 0u64;
        for (tag, entries) in batch {
            let db = tag >> 32;
            if current_db != Some(db) {
                let (n, v) = epoch.dbs.get(db as usize).copied().unwrap_or((0, 0));
                // The first selection carries the size hints; a later one (copies that arrived
                // out of order) only switches databases.
                let first = current_db.is_none_or(|c| c < db);
                w.select_db(db, if first { n } else { 0 }, if first { v } else { 0 })
                    .map_err(io)?;
                current_db = Some(db);
            }
            for e in &entries {
                freed += e.heap_size() as u64;
                if e.is_expired(epoch.now_ms) {
                    continue;
                }
                let Some(value) = entry_to_rdb(e, epoch.now_ms) else {
                    continue;
                };
                let rec = KeyRecord {
                    db,
                    key: e.key().to_vec(),
                    value,
                    expire_ms: e.expire_at(),
                    lru_idle: match epoch.hints {
                        Hints::Lru => Some(u64::from(now_secs.saturating_sub(e.access()))),
                        _ => None,
                    },
                    lfu_freq: match epoch.hints {
                        Hints::Lfu(decay) => Some(ferrokv_engine::shard::lfu_decayed(
                            e.access(),
                            decay,
                            &clock,
                        )),
                        _ => None,
                    },
                };
                w.write_record(&rec).map_err(|e| e.to_string())?;
                keys += 1;
            }
        }
        let _ = epoch
            .sink
            .bytes
            .fetch_update(Relaxed, Relaxed, |b| Some(b.saturating_sub(freed)));
    }
    if let Some(snap) = &epoch.disk {
        keys += crate::disk::write_snapshot(&mut w, snap, srv.keyspace.db_count(), epoch.now_ms)?;
    }
    let out = w.finish().map_err(io)?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    drop(file);
    std::fs::rename(tmp, path).map_err(|e| {
        format!(
            "Error moving temp DB file {} on the final destination {} (in server root dir {}): {}",
            tmp.display(),
            path.display(),
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            crate::config::io_error_text(&e)
        )
    })?;
    Ok(Written {
        bytes,
        keys,
        peak_copy_bytes: epoch.sink.peak.load(Relaxed),
    })
}

/// Bookkeeping after a successful save (foreground or background).
fn saved(srv: &Server, dirty_at_start: u64, w: &Written) {
    let p = &srv.persist;
    let _ = srv
        .stats
        .dirty
        .fetch_update(Relaxed, Relaxed, |d| Some(d.saturating_sub(dirty_at_start)));
    srv.lastsave_unix
        .store(crate::util::now_ms() / 1000, Relaxed);
    p.rdb_saves.fetch_add(1, Relaxed);
    p.last_bgsave_ok.store(true, Relaxed);
    p.last_save_bytes.store(w.bytes, Relaxed);
    p.snapshot_peak_copy_bytes
        .fetch_max(w.peak_copy_bytes, Relaxed);
}

/// A synchronous save (SAVE, SHUTDOWN, DEBUG RELOAD, FLUSHALL with save points), with every
/// shard already locked by the caller. The caller must have checked that no background save
/// runs.
pub fn save_locked(srv: &Server, locks: &mut LockSet<'_>) -> Result<Written, String> {
    let _g = srv.persist.save_lock.lock();
    let path = super::rdb_path(srv);
    let now = crate::util::now_ms();
    srv.persist.last_save_try_ms.store(now, Relaxed);
    let epoch = begin(srv, locks);
    let dirty = epoch.dirty_at_start;
    let r = write(srv, epoch, &path, |db, sh, f| {
        if let Some(s) = locks.shard(db, sh) {
            f(s)
        }
    });
    match &r {
        Ok(w) => {
            saved(srv, dirty, w);
            log_notice!("DB saved on disk");
        }
        Err(e) => {
            srv.persist.last_bgsave_ok.store(false, Relaxed);
            log_warning!("{}", e);
        }
    }
    r
}

/// A synchronous save taking the locks itself (SHUTDOWN, signals). Waits for a running
/// background save to finish first.
pub fn save_now(srv: &Server) -> Result<Written, String> {
    let mut locks = srv.keyspace.lock(&LockPlan::All);
    // A background save holds the save lock; its thread needs shard locks one at a time,
    // so wait for it without holding ours.
    while srv.persist.bgsave_in_progress.load(Relaxed)
        || srv.persist.aof.rewrite_in_progress.load(Relaxed)
    {
        drop(locks);
        std::thread::sleep(std::time::Duration::from_millis(5));
        locks = srv.keyspace.lock(&LockPlan::All);
    }
    save_locked(srv, &mut locks)
}

/// Starts a background save (BGSAVE, save points). With `locks` (every shard held by the
/// calling command) the epoch is the command's instant; otherwise every shard is locked for a
/// moment. Fails when a background save is already running or no server handle is attached.
pub fn start_background(srv: &Server, locks: Option<&mut LockSet<'_>>) -> Result<(), String> {
    let Some(arc) = srv.persist.server() else {
        return Err("background saving is not available before the server runs".into());
    };
    let p = &srv.persist;
    if p.bgsave_in_progress.swap(true, Relaxed) {
        return Err("Background save already in progress".into());
    }
    let now = crate::util::now_ms();
    p.bgsave_started_ms.store(now, Relaxed);
    p.last_save_try_ms.store(now, Relaxed);
    let epoch = match locks {
        Some(l) => begin(srv, l),
        None => begin_unlocked(srv),
    };
    log_notice!("Background saving started");
    let spawned = std::thread::Builder::new()
        .name("ferrokv-bgsave".into())
        .spawn(move || {
            crate::util::background_priority();
            let srv = &*arc;
            let _g = srv.persist.save_lock.lock();
            let path = super::rdb_path(srv);
            let dirty = epoch.dirty_at_start;
            let started = std::time::Instant::now();
            let r = write(srv, epoch, &path, |db, sh, f| {
                if let Some(mut s) = srv.keyspace.lock_one(db as usize, sh as usize) {
                    f(&mut s)
                }
                // Let the connection threads run between shards: the snapshot is background
                // work and must not take a core away from clients for long stretches.
                std::thread::yield_now();
            });
            let p = &srv.persist;
            p.last_bgsave_time_sec
                .store(started.elapsed().as_secs() as i64, Relaxed);
            match r {
                Ok(w) => {
                    saved(srv, dirty, &w);
                    log_notice!("DB saved on disk");
                    log_notice!("Background saving terminated with success");
                }
                Err(e) => {
                    p.last_bgsave_ok.store(false, Relaxed);
                    log_warning!("{}", e);
                    log_warning!("Background saving error");
                }
            }
            p.bgsave_in_progress.store(false, Relaxed);
        });
    if let Err(e) = spawned {
        p.bgsave_in_progress.store(false, Relaxed);
        return Err(format!("Can't save in background: {e}"));
    }
    Ok(())
}

/// Abandons the running snapshot, if any (FLUSHALL, as Redis kills its saving child): `locks`
/// must hold every shard. The snapshot thread then fails without replacing the file.
pub fn abort_running(srv: &Server, locks: &mut LockSet<'_>) -> bool {
    let Some(sink) = srv.persist.current.lock().clone() else {
        return false;
    };
    sink.closed.store(true, Relaxed);
    for (_, s) in locks.all_held() {
        s.snapshot_cancel();
    }
    log_notice!("Background saving aborted: the dataset was flushed");
    true
}

/// Blocks until no background save runs (tests, DEBUG RELOAD, SHUTDOWN).
pub fn wait_background(srv: &Server) {
    while srv.persist.bgsave_in_progress.load(Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}
