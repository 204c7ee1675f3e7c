//! Persistence: RDB snapshots (SAVE, BGSAVE, save points, SHUTDOWN SAVE), loading at startup,
//! and the conversions DUMP/RESTORE share with them.
//!
//! * [`convert`]: engine entries <-> the RDB crate's neutral values.
//! * [`snapshot`]: point-in-time snapshots without `fork()`: every shard is marked at the epoch
//!   and copied out either by the snapshot thread or by the first write that would change it
//!   (serialize-before-mutate); encoding and compression happen on the snapshot thread.
//! * [`load`]: reading an RDB file into the keyspace, with INFO `loading:*` progress.
//!
//! The method and its guarantees are described in `docs/persistence.md`.

pub mod aof;
pub mod convert;
pub mod load;
pub mod snapshot;

use crate::server::Server;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};

/// Persistence state shared by the commands, the cron and INFO.
pub struct Persistence {
    /// The server itself, for background threads (set when the cron starts).
    server: OnceLock<Weak<Server>>,
    /// A background save is running (rdb_bgsave_in_progress).
    pub bgsave_in_progress: AtomicBool,
    /// BGSAVE SCHEDULE asked for a save to start when the running one ends.
    pub bgsave_scheduled: AtomicBool,
    /// Unix ms when the running background save started.
    pub bgsave_started_ms: AtomicI64,
    /// Whether the last background save succeeded (rdb_last_bgsave_status).
    pub last_bgsave_ok: AtomicBool,
    /// Duration of the last background save in seconds, -1 before any (rdb_last_bgsave_time_sec).
    pub last_bgsave_time_sec: AtomicI64,
    /// Unix ms of the last save attempt (save points retry a failed save after 5 s, as Redis).
    pub last_save_try_ms: AtomicI64,
    /// Successful saves since start (rdb_saves).
    pub rdb_saves: AtomicU64,
    /// Size of the last file written.
    pub last_save_bytes: AtomicU64,
    /// Most extra memory (bytes of copied entries) a snapshot held at once, for INFO.
    pub snapshot_peak_copy_bytes: AtomicU64,
    /// Keys loaded by the last load (INFO rdb_last_load_keys_loaded).
    pub last_load_keys: AtomicU64,
    /// Keys dropped as expired by the last load (INFO rdb_last_load_keys_expired).
    pub last_load_expired: AtomicU64,
    /// A file is being loaded (INFO `loading`).
    pub loading: AtomicBool,
    /// Unix seconds when loading started.
    pub loading_start_time: AtomicI64,
    /// Size of the file being loaded.
    pub loading_total_bytes: AtomicU64,
    /// Bytes of it read so far.
    pub loading_loaded_bytes: AtomicU64,
    /// Function libraries of the last loaded file (their source code); they are installed in
    /// the scripting engine, and snapshots write the engine's current libraries.
    pub functions: Mutex<Vec<Vec<u8>>>,
    /// One save writes at a time (SAVE, BGSAVE, SHUTDOWN, DEBUG RELOAD).
    pub save_lock: Mutex<()>,
    /// The sink of the running snapshot (FLUSHALL aborts it).
    pub current: Mutex<Option<Arc<snapshot::Sink>>>,
    /// The append-only file (see [`aof`]).
    pub aof: aof::Aof,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            server: OnceLock::new(),
            bgsave_in_progress: AtomicBool::new(false),
            bgsave_scheduled: AtomicBool::new(false),
            bgsave_started_ms: AtomicI64::new(0),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_time_sec: AtomicI64::new(-1),
            last_save_try_ms: AtomicI64::new(0),
            rdb_saves: AtomicU64::new(0),
            last_save_bytes: AtomicU64::new(0),
            snapshot_peak_copy_bytes: AtomicU64::new(0),
            last_load_keys: AtomicU64::new(0),
            last_load_expired: AtomicU64::new(0),
            loading: AtomicBool::new(false),
            loading_start_time: AtomicI64::new(0),
            loading_total_bytes: AtomicU64::new(0),
            loading_loaded_bytes: AtomicU64::new(0),
            functions: Mutex::new(Vec::new()),
            save_lock: Mutex::new(()),
            current: Mutex::new(None),
            aof: aof::Aof::default(),
        }
    }
}

impl Persistence {
    /// Records the server handle background saves need (idempotent).
    pub fn attach(&self, srv: &Arc<Server>) {
        let _ = self.server.set(Arc::downgrade(srv));
    }

    /// The server handle, when attached.
    pub fn server(&self) -> Option<Arc<Server>> {
        self.server.get().and_then(Weak::upgrade)
    }
}

/// The path of the RDB file: `dir/dbfilename`.
pub fn rdb_path(srv: &Server) -> std::path::PathBuf {
    let cfg = srv.config.read();
    cfg.dir().join(cfg.dbfilename())
}

/// True when writes must be refused after a failed save (`stop-writes-on-bgsave-error yes`
/// with save points configured), as Redis's MISCONF.
pub fn writes_refused(srv: &Server) -> bool {
    let cfg = srv.config.read();
    cfg.get_bool("stop-writes-on-bgsave-error").unwrap_or(true) && !cfg.save_params().is_empty()
}

/// The save points of the configuration (`save <seconds> <changes>` pairs).
pub fn save_points(srv: &Server) -> Vec<(i64, i64)> {
    srv.config.read().save_params()
}

/// Cron hook: starts a background save when a save point is reached (`changes` writes within
/// `seconds` since the last save), or when one was scheduled. A failed save is retried after
/// 5 seconds at the earliest, as Redis does.
pub fn cron_check(srv: &Arc<Server>) {
    let p = &srv.persist;
    aof::rewrite::cron_check(srv);
    if p.bgsave_in_progress.load(Relaxed) || p.aof.rewrite_in_progress.load(Relaxed) {
        return;
    }
    let now_ms = crate::util::now_ms();
    if p.bgsave_scheduled.swap(false, Relaxed) {
        let _ = snapshot::start_background(srv, None);
        return;
    }
    let dirty = srv.stats.dirty.load(Relaxed) as i64;
    if dirty == 0 {
        return;
    }
    let last = srv.lastsave_unix.load(Relaxed);
    let now = now_ms / 1000;
    let ok = p.last_bgsave_ok.load(Relaxed);
    let retry_ok = ok || now_ms - p.last_save_try_ms.load(Relaxed) > 5000;
    for (secs, changes) in save_points(srv) {
        if dirty >= changes && now - last > secs && retry_ok {
            crate::log_notice!("{} changes in {} seconds. Saving...", changes, secs);
            let _ = snapshot::start_background(srv, None);
            return;
        }
    }
}
