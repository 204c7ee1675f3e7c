//! The append-only file (Redis 7 multi-part layout).
//!
//! **Contract with the command layer** (see [`crate::propagate`]): every execution unit's
//! effects reach [`Aof::feed`] in one call, made while the unit holds its shard locks, so the
//! stream order of conflicting units is their execution order. `feed` appends the unit as RESP
//! commands to an in-memory buffer (inserting `SELECT` when the database changes, and a
//! `#TS:<unix>` annotation when `aof-timestamp-enabled` and the second changed) and returns the
//! stream offset just past it. It never does I/O.
//!
//! **The writer thread** owns the current incremental file. It swaps the buffer out, writes it
//! with one call, and then, by `appendfsync`:
//! * `always`: `fdatasync` after every batch, then publishes the synced offset. Everything fed
//!   while the previous fsync ran goes out in the next batch: one fsync covers all of them
//!   (group commit). A client's replies wait ([`Aof::wait_synced`]) until the synced offset
//!   reaches the end of its last unit.
//! * `everysec`: `fdatasync` at most once per second.
//! * `no`: never (the kernel decides).
//!
//! A failed write (ENOSPC, EIO) is cut back to the last complete batch, retried every second,
//! and meanwhile writes are refused with `-MISCONF Errors writing to the AOF file: ...`
//! ([`Aof::write_error`]). With `always` a failed write or fsync stops the server, as Redis
//! does (an acknowledged write must be on disk).
//!
//! **Rewrites** ([`rewrite`]) cut the stream: under every shard lock, the stream is marked to
//! switch to a new incremental file at the current buffer position and the snapshot epoch is
//! fixed, so the base holds exactly the units before the cut and the new file exactly those
//! after it. Loading is in [`load`]; the file layout in [`manifest`].

pub mod load;
pub mod manifest;
pub mod parse;
pub mod rewrite;

use crate::propagate::Effect;
use crate::server::Server;
use crate::{log_notice, log_warning};
use manifest::{AofFile, FileType, Manifest};
use parking_lot::{Condvar, Mutex};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU64, AtomicU8,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `appendfsync no`.
pub const FSYNC_NO: u8 = 0;
/// `appendfsync everysec`.
pub const FSYNC_EVERYSEC: u8 = 1;
/// `appendfsync always`.
pub const FSYNC_ALWAYS: u8 = 2;

/// The append-only file's state.
pub struct Aof {
    /// Effects are being collected (the AOF is on).
    collecting: AtomicBool,
    /// The stream not yet written out.
    stream: Mutex<Stream>,
    /// Wakes the writer thread.
    wake: Condvar,
    /// Stream offset known to be on disk (fsynced; with `appendfsync no`, written).
    synced: tokio::sync::watch::Sender<u64>,
    /// Stream offset fsynced (whatever the policy).
    fsynced: AtomicU64,
    /// Stream offset past the last unit fed (what a reply that may have observed any fed
    /// write must wait for under `appendfsync always`).
    fed: AtomicU64,
    /// The `appendfsync` policy ([`FSYNC_NO`], [`FSYNC_EVERYSEC`], [`FSYNC_ALWAYS`]).
    policy: AtomicU8,
    /// `aof-timestamp-enabled`.
    timestamps: AtomicBool,
    /// The last write (or fsync) succeeded.
    write_ok: AtomicBool,
    /// The error text of the last failed write (strerror style).
    write_err: Mutex<String>,
    /// The files: directory, names, manifest (present while the AOF is on).
    layout: Mutex<Option<Layout>>,
    /// The writer thread, while the AOF is on.
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Sequence number of the incremental file the writer appends to (0: none yet).
    pub(crate) current_seq: AtomicU64,
    /// Client id of the loader's fake client (its commands are allowed while loading).
    loader_id: AtomicU64,
    /// The AOF was turned on and its first base is not written yet (the manifest on disk
    /// does not list the current files).
    pub enabling: AtomicBool,
    /// A rewrite is running (aof_rewrite_in_progress).
    pub rewrite_in_progress: AtomicBool,
    /// A rewrite waits for a background save to end (aof_rewrite_scheduled).
    pub rewrite_scheduled: AtomicBool,
    /// Unix ms when the running rewrite started.
    pub rewrite_started_ms: AtomicI64,
    /// Duration of the last rewrite in seconds, -1 before any.
    pub last_rewrite_time_sec: AtomicI64,
    /// The last rewrite succeeded (aof_last_bgrewrite_status).
    pub last_rewrite_ok: AtomicBool,
    /// Successful rewrites (aof_rewrites).
    pub rewrites: AtomicU64,
    /// Consecutive failed rewrites.
    pub rewrite_failures: AtomicU64,
    /// Bytes of the base plus incremental files (aof_current_size).
    pub current_size: AtomicU64,
    /// Size at the last startup or rewrite (aof_base_size), the auto-rewrite reference.
    pub base_size: AtomicU64,
    /// Delayed fsyncs (aof_delayed_fsync; always 0: fsync never waits behind a rewrite).
    pub delayed_fsync: AtomicU64,
}

/// The serial stream the units are appended to.
#[derive(Default)]
struct Stream {
    /// Encoded commands not yet taken by the writer.
    buf: Vec<u8>,
    /// Database the stream's last command applied to (`None` at the start of a file: the
    /// first command is always preceded by a SELECT).
    db: Option<u32>,
    /// Bytes appended since the start (the offset `feed` returns).
    offset: u64,
    /// A switch to a new incremental file, at a position of `buf`.
    cut: Option<Cut>,
    /// The writer must flush what it has and exit.
    stop: bool,
    /// Unix second of the last `#TS` annotation.
    last_ts: i64,
    /// Someone waits for everything fed so far to be written and fsynced (shutdown, BGSAVE).
    flush_wanted: bool,
}

/// Where the writer switches to a new incremental file.
#[derive(Clone, Copy, Debug)]
struct Cut {
    /// Position in the buffer (bytes before it go to the old file).
    at: usize,
    /// Sequence number of the new file.
    seq: u64,
    /// Persist the manifest with the new file listed (false while the AOF is being turned on:
    /// the manifest is written once the base exists).
    persist: bool,
}

/// The AOF directory and its manifest.
pub struct Layout {
    /// `dir/appenddirname`.
    pub dir: PathBuf,
    /// `appendfilename` (the prefix of every file name).
    pub prefix: String,
    /// The current manifest.
    pub manifest: Manifest,
}

impl Layout {
    /// The manifest's file name.
    pub fn manifest_name(&self) -> String {
        format!("{}.manifest", self.prefix)
    }

    /// Name of incremental file `seq`.
    pub fn incr_name(&self, seq: u64) -> String {
        format!("{}.{}.incr.aof", self.prefix, seq)
    }

    /// Name of base file `seq` (`.rdb` with the RDB preamble, `.aof` without).
    pub fn base_name(&self, seq: u64, rdb: bool) -> String {
        format!(
            "{}.{}.base.{}",
            self.prefix,
            seq,
            if rdb { "rdb" } else { "aof" }
        )
    }

    /// Writes the manifest atomically.
    pub fn persist(&self) -> std::io::Result<()> {
        manifest::persist(&self.dir, &self.manifest_name(), &self.manifest)
    }

    /// The sequence number after every file listed (for a fresh set of files).
    pub fn next_seq(&self) -> u64 {
        let m = &self.manifest;
        m.base
            .iter()
            .chain(&m.incrs)
            .chain(&m.history)
            .map(|f| f.seq)
            .max()
            .unwrap_or(0)
            + 1
    }

    /// Total size of the base and incremental files.
    pub fn total_size(&self) -> u64 {
        self.manifest
            .load_order()
            .iter()
            .map(|f| {
                std::fs::metadata(self.dir.join(&f.name))
                    .map(|m| m.len())
                    .unwrap_or(0)
            })
            .sum()
    }
}

impl Default for Aof {
    fn default() -> Self {
        Aof {
            collecting: AtomicBool::new(false),
            stream: Mutex::new(Stream::default()),
            wake: Condvar::new(),
            synced: tokio::sync::watch::Sender::new(0),
            fsynced: AtomicU64::new(0),
            fed: AtomicU64::new(0),
            policy: AtomicU8::new(FSYNC_EVERYSEC),
            timestamps: AtomicBool::new(false),
            write_ok: AtomicBool::new(true),
            write_err: Mutex::new(String::new()),
            layout: Mutex::new(None),
            writer: Mutex::new(None),
            current_seq: AtomicU64::new(0),
            loader_id: AtomicU64::new(0),
            enabling: AtomicBool::new(false),
            rewrite_in_progress: AtomicBool::new(false),
            rewrite_scheduled: AtomicBool::new(false),
            rewrite_started_ms: AtomicI64::new(0),
            last_rewrite_time_sec: AtomicI64::new(-1),
            last_rewrite_ok: AtomicBool::new(true),
            rewrites: AtomicU64::new(0),
            rewrite_failures: AtomicU64::new(0),
            current_size: AtomicU64::new(0),
            base_size: AtomicU64::new(0),
            delayed_fsync: AtomicU64::new(0),
        }
    }
}

impl Aof {
    /// Whether units must be collected and fed (one atomic load on every command's path).
    #[inline]
    pub fn collecting(&self) -> bool {
        self.collecting.load(Relaxed)
    }

    /// Turns collection on or off (the AOF's on/off switch uses this; see [`enable`]).
    pub fn set_collecting(&self, on: bool) {
        self.collecting.store(on, Relaxed);
    }

    /// Appends one execution unit (already wrapped in MULTI/EXEC when it has several
    /// commands) and returns the stream offset just past it. Cheap: encodes into the shared
    /// buffer under a short mutex and wakes the writer.
    pub fn feed(&self, unit: &[Effect]) -> u64 {
        let ts = if self.timestamps.load(Relaxed) {
            crate::util::now_ms() / 1000
        } else {
            0
        };
        let mut s = self.stream.lock();
        let start = s.buf.len();
        if ts > s.last_ts {
            s.last_ts = ts;
            s.buf.extend_from_slice(format!("#TS:{ts}\r\n").as_bytes());
        }
        for e in unit {
            if s.db != Some(e.db) {
                let mut n = itoa::Buffer::new();
                let db = n.format(e.db);
                encode_command(&mut s.buf, &[b"SELECT", db.as_bytes()]);
                s.db = Some(e.db);
            }
            encode_args(&mut s.buf, &e.argv);
        }
        // `offset` counts every byte fed; the buffer only holds those not yet taken.
        s.offset += (s.buf.len() - start) as u64;
        let end = s.offset;
        self.fed.fetch_max(end, Release);
        drop(s);
        self.wake.notify_one();
        end
    }

    /// Stream offset known to be durable (see the module docs).
    pub fn synced_offset(&self) -> u64 {
        *self.synced.borrow()
    }

    /// The offset a reply must wait for under `appendfsync always` (0 otherwise): the end of
    /// everything fed so far, whoever fed it. A command that read a value written by another
    /// client (or a blocked client served by another's push) must not answer before that write
    /// is durable, as in Redis, whose event loop fsyncs before sending any reply.
    #[inline]
    pub fn reply_barrier(&self) -> u64 {
        if self.gated() {
            self.fed.load(Acquire)
        } else {
            0
        }
    }

    /// Whether replies wait for the disk at all: `appendfsync always` with the AOF on.
    #[inline]
    fn gated(&self) -> bool {
        self.policy.load(Relaxed) == FSYNC_ALWAYS && self.collecting()
    }

    /// Whether a client whose last unit ended at `offset` must wait before its replies go out:
    /// `appendfsync always`, the AOF on, and the offset not yet synced.
    #[inline]
    pub fn must_wait(&self, offset: u64) -> bool {
        offset > 0 && self.gated() && offset > self.synced_offset()
    }

    /// Waits until the stream is durable up to `offset` (returns at once when
    /// [`Aof::must_wait`] is false, and as soon as it becomes false).
    pub async fn wait_synced(&self, offset: u64) {
        if !self.must_wait(offset) {
            return;
        }
        let mut rx = self.synced.subscribe();
        // The predicate runs under the channel's read lock: it must not read the channel
        // again (a re-entrant read behind a queued writer deadlocks).
        let _ = rx.wait_for(|&v| v >= offset || !self.gated()).await;
    }

    /// The error of the last failed write while writes are refused because of it
    /// (`-MISCONF Errors writing to the AOF file: <error>`), `None` when writes are fine.
    pub fn write_error(&self) -> Option<String> {
        if self.write_ok.load(Relaxed) || !self.collecting() {
            return None;
        }
        Some(format!(
            "MISCONF Errors writing to the AOF file: {}",
            self.write_err.lock()
        ))
    }

    /// Whether the last write succeeded (INFO aof_last_write_status).
    pub fn last_write_ok(&self) -> bool {
        self.write_ok.load(Relaxed)
    }

    /// Bytes fed but not yet written (INFO aof_buffer_length).
    pub fn buffer_len(&self) -> usize {
        self.stream.lock().buf.len()
    }

    /// Marks `id` as the loader's fake client (0: none).
    pub fn set_loader(&self, id: u64) {
        self.loader_id.store(id, Relaxed);
    }

    /// Whether `id` is the loader's fake client (allowed to run commands while loading).
    #[inline]
    pub fn is_loader(&self, id: u64) -> bool {
        id != 0 && self.loader_id.load(Relaxed) == id
    }

    /// Re-reads `appendfsync` and `aof-timestamp-enabled` and wakes waiting clients.
    pub fn apply_config(&self, srv: &Server) {
        let (policy, ts) = {
            let cfg = srv.config.read();
            let p = match cfg.get_str("appendfsync").unwrap_or("everysec") {
                "always" => FSYNC_ALWAYS,
                "no" => FSYNC_NO,
                _ => FSYNC_EVERYSEC,
            };
            (p, cfg.get_bool("aof-timestamp-enabled").unwrap_or(false))
        };
        self.policy.store(policy, Relaxed);
        self.timestamps.store(ts, Relaxed);
        self.synced.send_modify(|_| {});
        self.wake.notify_one();
    }

    /// Blocks until everything fed so far is written and fsynced (SHUTDOWN, signals,
    /// turning the AOF off). Bounded by `timeout`; false when it did not complete.
    pub fn flush_and_sync(&self, timeout: Duration) -> bool {
        if self.writer.lock().is_none() {
            return true;
        }
        let target = {
            let mut s = self.stream.lock();
            s.flush_wanted = true;
            s.offset
        };
        self.wake.notify_one();
        let deadline = Instant::now() + timeout;
        loop {
            if self.fsynced.load(Relaxed) >= target {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The AOF directory and manifest (while the AOF is on).
    pub fn layout(&self) -> parking_lot::MutexGuard<'_, Option<Layout>> {
        self.layout.lock()
    }

    /// Marks a cut (switch to incremental file `seq`) at the current end of the stream. The
    /// caller must hold every shard lock (no unit can be between its locks and its feed).
    fn cut(&self, seq: u64, persist: bool) {
        let mut s = self.stream.lock();
        let at = s.buf.len();
        s.cut = Some(Cut { at, seq, persist });
        s.db = None;
        drop(s);
        self.wake.notify_one();
    }

    /// Waits (bounded) until the writer appends to incremental file `seq`.
    fn wait_switched(&self, seq: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.current_seq.load(Relaxed) < seq {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }
}

/// INFO persistence's AOF fields, as Redis orders them: those before `module_fork_*`, and
/// those after (only while the AOF is on).
#[allow(clippy::type_complexity)]
pub fn info_fields(srv: &Server) -> (Vec<(&'static str, String)>, Vec<(&'static str, String)>) {
    let a = &srv.persist.aof;
    let on = a.collecting();
    let rewriting = a.rewrite_in_progress.load(Relaxed);
    let cur_rw = if rewriting {
        (crate::util::now_ms() - a.rewrite_started_ms.load(Relaxed)) / 1000
    } else {
        -1
    };
    let ok = |b: bool| if b { "ok" } else { "err" }.to_string();
    let head = vec![
        ("aof_enabled", u8::from(on).to_string()),
        ("aof_rewrite_in_progress", u8::from(rewriting).to_string()),
        (
            "aof_rewrite_scheduled",
            u8::from(a.rewrite_scheduled.load(Relaxed)).to_string(),
        ),
        (
            "aof_last_rewrite_time_sec",
            a.last_rewrite_time_sec.load(Relaxed).to_string(),
        ),
        ("aof_current_rewrite_time_sec", cur_rw.to_string()),
        (
            "aof_last_bgrewrite_status",
            ok(a.last_rewrite_ok.load(Relaxed)),
        ),
        ("aof_rewrites", a.rewrites.load(Relaxed).to_string()),
        (
            "aof_rewrites_consecutive_failures",
            a.rewrite_failures.load(Relaxed).to_string(),
        ),
        ("aof_last_write_status", ok(a.write_ok.load(Relaxed))),
        ("aof_last_cow_size", "0".to_string()),
    ];
    let mut tail = Vec::new();
    if on {
        tail.push(("aof_current_size", a.current_size.load(Relaxed).to_string()));
        tail.push(("aof_base_size", a.base_size.load(Relaxed).to_string()));
        tail.push((
            "aof_pending_rewrite",
            u8::from(a.rewrite_scheduled.load(Relaxed)).to_string(),
        ));
        tail.push(("aof_buffer_length", a.buffer_len().to_string()));
        tail.push(("aof_pending_bio_fsync", "0".to_string()));
        tail.push((
            "aof_delayed_fsync",
            a.delayed_fsync.load(Relaxed).to_string(),
        ));
    }
    (head, tail)
}

/// Appends `argv` as a RESP multibulk request.
pub fn encode_command(out: &mut Vec<u8>, argv: &[&[u8]]) {
    encode_parts(out, argv.len(), argv.iter().copied());
}

/// [`encode_command`] over owned arguments.
pub fn encode_args(out: &mut Vec<u8>, argv: &[bytes::Bytes]) {
    encode_parts(out, argv.len(), argv.iter().map(|a| &a[..]));
}

/// The multibulk header for `n` arguments, then each argument as a bulk string.
fn encode_parts<'a>(out: &mut Vec<u8>, n: usize, parts: impl Iterator<Item = &'a [u8]>) {
    let mut num = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(num.format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in parts {
        encode_arg(out, a);
    }
}

fn encode_arg(out: &mut Vec<u8>, a: &[u8]) {
    let mut n = itoa::Buffer::new();
    out.push(b'$');
    out.extend_from_slice(n.format(a.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(a);
    out.extend_from_slice(b"\r\n");
}

/// `dir/appenddirname` and `appendfilename` from the configuration.
pub fn config_paths(srv: &Server) -> (PathBuf, String) {
    let cfg = srv.config.read();
    let dir = cfg
        .dir()
        .join(cfg.get_str("appenddirname").unwrap_or("appendonlydir"));
    let prefix = cfg
        .get_str("appendfilename")
        .unwrap_or("appendonly.aof")
        .to_string();
    (dir, prefix)
}

/// Startup with `appendonly yes` (on the loading thread, `loading` set): loads the AOF
/// directory, or, without one, creates it with a base of the current (empty) dataset as Redis
/// 7 does; then starts the writer. An error means the server must exit.
pub fn startup(srv: &Arc<Server>) -> Result<(), String> {
    srv.persist.attach(srv);
    match load::load_at_startup(srv)? {
        load::Found::Loaded(layout) => start_loaded(srv, layout),
        load::Found::Nothing => {
            log_notice!("Creating AOF base file on server start");
            enable(srv, true)
        }
    }
}

/// Starts the writer after a successful load: `layout` is the loaded manifest. The writer
/// appends to the last incremental file, or opens a new one when the manifest has none (an
/// upgraded single-file AOF, a base-only directory). Turns collection on.
pub fn start_loaded(srv: &Arc<Server>, layout: Layout) -> Result<(), String> {
    let aof = &srv.persist.aof;
    aof.apply_config(srv);
    let last = layout.manifest.incrs.last().cloned();
    let next_seq = layout.manifest.last_incr_seq() + 1;
    let size = layout.total_size();
    aof.current_size.store(size, Relaxed);
    aof.base_size.store(size, Relaxed);
    let initial = match &last {
        Some(f) => {
            let path = layout.dir.join(&f.name);
            let file = open_append(&path).map_err(|e| {
                format!(
                    "Can't open the append-only file {}: {}",
                    f.name,
                    crate::config::io_error_text(&e)
                )
            })?;
            Some((file, f.seq))
        }
        None => None,
    };
    *aof.layout.lock() = Some(layout);
    spawn_writer(srv, initial)?;
    {
        // No unit runs while every shard is held: the first one after this is collected.
        let _locks = srv.keyspace.lock(&crate::keyspace::LockPlan::All);
        if last.is_none() {
            aof.cut(next_seq, true);
        }
        aof.set_collecting(true);
    }
    crate::notify::apply_expired_logging(srv, None);
    if last.is_none() && !aof.wait_switched(next_seq, Duration::from_secs(30)) {
        return Err("Can't create the AOF incr file".into());
    }
    Ok(())
}

/// Turns the AOF on with no file to continue: at startup without an AOF (Redis 7 then writes
/// a base of the current dataset before serving) and on `CONFIG SET appendonly yes` (a
/// rewrite in the background). `wait` makes it synchronous.
pub fn enable(srv: &Arc<Server>, wait: bool) -> Result<(), String> {
    let aof = &srv.persist.aof;
    if aof.writer.lock().is_some() {
        return Ok(());
    }
    aof.apply_config(srv);
    let layout = fresh_layout(srv)?;
    let next_seq = layout.next_seq();
    *aof.layout.lock() = Some(layout);
    spawn_writer(srv, None)?;
    rewrite::start(srv, None, rewrite::Mode::Enable { seq: next_seq }, wait)
}

/// CONFIG SET side effects: `appendfsync` / `aof-timestamp-enabled` take effect at once;
/// `appendonly yes` turns the AOF on (collection starts now, the base is written in the
/// background, as Redis's rewrite on enable), `no` turns it off. `locked`: the caller holds
/// shard locks (inside EXEC), so the switch happens on a thread once they are released.
pub fn on_config_change(srv: &Server, changed: &[&'static str], locked: bool) {
    if changed
        .iter()
        .any(|n| matches!(*n, "appendfsync" | "aof-timestamp-enabled"))
    {
        srv.persist.aof.apply_config(srv);
    }
    if !changed.contains(&"appendonly") {
        return;
    }
    let Some(arc) = srv.persist.server() else {
        return;
    };
    let on = srv.config.read().get_bool("appendonly").unwrap_or(false);
    let switch = move || {
        if on {
            if let Err(e) = enable(&arc, false) {
                log_warning!("{}", e);
            }
        } else {
            disable(&arc);
        }
    };
    if locked {
        let _ = std::thread::Builder::new()
            .name("ferrokv-aofcfg".into())
            .spawn(switch);
    } else {
        switch();
    }
}

/// A layout for a new set of files: the directory is created; the files of an existing
/// manifest (read from disk) become history, deleted once the new base is installed, and the
/// sequence numbers continue after theirs.
pub fn fresh_layout(srv: &Server) -> Result<Layout, String> {
    let (dir, prefix) = config_paths(srv);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return Err(format!(
            "Can't open or create append-only dir {}: {}",
            dir.display(),
            crate::config::io_error_text(&e)
        ));
    }
    let mut layout = Layout {
        dir,
        prefix,
        manifest: Manifest::default(),
    };
    let path = layout.dir.join(layout.manifest_name());
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(old) = Manifest::parse(&text) {
            layout.manifest.history = old
                .base
                .into_iter()
                .chain(old.incrs)
                .chain(old.history)
                .map(|mut f| {
                    f.kind = FileType::History;
                    f
                })
                .collect();
        }
    }
    Ok(layout)
}

/// Turns the AOF off (`CONFIG SET appendonly no`): flushes and fsyncs what was fed, stops the
/// writer and closes the file.
pub fn disable(srv: &Server) {
    let aof = &srv.persist.aof;
    {
        let _locks = srv.keyspace.lock(&crate::keyspace::LockPlan::All);
        aof.set_collecting(false);
    }
    crate::notify::apply_expired_logging(srv, None);
    stop_writer(srv);
    *aof.layout.lock() = None;
    aof.write_ok.store(true, Relaxed);
    aof.synced.send_modify(|_| {});
}

/// Flushes, fsyncs and stops the writer thread (shutdown, `appendonly no`).
pub fn stop_writer(srv: &Server) {
    let aof = &srv.persist.aof;
    let Some(handle) = aof.writer.lock().take() else {
        return;
    };
    aof.stream.lock().stop = true;
    aof.wake.notify_one();
    let _ = handle.join();
}

/// Flushes and fsyncs the AOF before the process exits (SHUTDOWN, SIGTERM/SIGINT).
pub fn flush_for_shutdown(srv: &Server) {
    if srv.persist.aof.writer.lock().is_some() {
        log_notice!("Calling fsync() on the AOF file.");
        stop_writer(srv);
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

fn spawn_writer(srv: &Arc<Server>, initial: Option<(File, u64)>) -> Result<(), String> {
    let aof = &srv.persist.aof;
    {
        let mut s = aof.stream.lock();
        s.stop = false;
        s.db = None;
        s.buf.clear();
        s.cut = None;
        // Everything fed before (with the AOF off) counts as durable.
        let off = s.offset;
        aof.fsynced.store(off, Relaxed);
        aof.synced.send_replace(off);
    }
    if let Some((_, seq)) = &initial {
        aof.current_seq.store(*seq, Relaxed);
    } else {
        aof.current_seq.store(0, Relaxed);
    }
    aof.write_ok.store(true, Relaxed);
    let srv2 = srv.clone();
    let handle = std::thread::Builder::new()
        .name("ferrokv-aof".into())
        .spawn(move || {
            let mut w = Writer {
                srv: srv2,
                file: initial.map(|(f, _)| f),
                pending: Vec::new(),
                pending_cut: None,
                pending_end: 0,
                last_fsync: Instant::now(),
                unsynced: false,
                last_retry: Instant::now(),
            };
            w.run();
        })
        .map_err(|e| format!("Can't start the AOF writer thread: {e}"))?;
    *aof.writer.lock() = Some(handle);
    Ok(())
}

/// The writer thread's state.
struct Writer {
    srv: Arc<Server>,
    /// The current incremental file.
    file: Option<File>,
    /// Bytes taken from the stream, not yet written (all of them after a failed write).
    pending: Vec<u8>,
    /// A cut inside `pending`: (position, seq, persist manifest).
    pending_cut: Option<Cut>,
    /// Stream offset at the end of `pending`.
    pending_end: u64,
    last_fsync: Instant,
    /// Data was written since the last fsync.
    unsynced: bool,
    last_retry: Instant,
}

impl Writer {
    fn aof(&self) -> &Aof {
        &self.srv.persist.aof
    }

    fn run(&mut self) {
        loop {
            let (stop, flush) = {
                let aof = &self.srv.persist.aof;
                let mut s = aof.stream.lock();
                if s.buf.is_empty() && s.cut.is_none() && !s.stop && !s.flush_wanted {
                    let wait = if !self.pending.is_empty() || self.unsynced {
                        Duration::from_millis(100)
                    } else {
                        Duration::from_secs(1)
                    };
                    aof.wake.wait_for(&mut s, wait);
                }
                if let Some(c) = s.cut.take() {
                    self.pending_cut = Some(Cut {
                        at: self.pending.len() + c.at,
                        ..c
                    });
                }
                if self.pending.is_empty() {
                    // Double buffering: the stream gets the written (empty) buffer back.
                    std::mem::swap(&mut self.pending, &mut s.buf);
                } else {
                    self.pending.extend_from_slice(&s.buf);
                    s.buf.clear();
                }
                self.pending_end = s.offset;
                let flush = std::mem::replace(&mut s.flush_wanted, false);
                (s.stop, flush)
            };
            let failed_before = !self.aof().write_ok.load(Relaxed);
            if failed_before && !stop && self.last_retry.elapsed() < Duration::from_secs(1) {
                // A failing disk is retried once per second.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            self.last_retry = Instant::now();
            let ok = self.write_pending();
            let policy = self.aof().policy.load(Relaxed);
            if ok {
                let want_fsync = self.unsynced
                    && (stop
                        || flush
                        || policy == FSYNC_ALWAYS
                        || (policy == FSYNC_EVERYSEC
                            && self.last_fsync.elapsed() >= Duration::from_secs(1)));
                let end = self.pending_end;
                if want_fsync {
                    self.fsync(policy, end);
                } else if !self.unsynced || policy == FSYNC_NO {
                    if !self.unsynced {
                        self.aof().fsynced.fetch_max(end, Relaxed);
                    }
                    self.publish(end);
                }
            }
            if stop && (ok || self.file.is_none()) {
                if let Some(f) = &self.file {
                    let _ = f.sync_data();
                }
                let end = self.pending_end;
                self.aof().fsynced.fetch_max(end, Relaxed);
                self.publish(end);
                return;
            }
            if stop {
                // Could not write the tail: give up on it rather than hang the shutdown.
                log_warning!(
                    "Exiting with AOF data not written: {}",
                    self.aof().write_err.lock()
                );
                return;
            }
        }
    }

    fn publish(&self, end: u64) {
        self.aof().synced.send_if_modified(|v| {
            if *v < end {
                *v = end;
                true
            } else {
                false
            }
        });
    }

    fn fsync(&mut self, policy: u8, end: u64) {
        let r = match &self.file {
            Some(f) => f.sync_data(),
            None => Ok(()),
        };
        self.last_fsync = Instant::now();
        match r {
            Ok(()) => {
                self.unsynced = false;
                self.aof().fsynced.fetch_max(end, Relaxed);
                self.publish(end);
            }
            Err(e) => {
                if policy == FSYNC_ALWAYS {
                    log_warning!(
                        "Can't persist the AOF fsync error when the AOF fsync policy is 'always': {}. Exiting...",
                        crate::config::io_error_text(&e)
                    );
                    std::process::exit(1);
                }
                self.failed(&e);
            }
        }
    }

    /// Writes `pending` (switching files at a cut). False when a write failed (the bytes stay
    /// pending).
    fn write_pending(&mut self) -> bool {
        if let Some(cut) = self.pending_cut {
            if !self.write_range(0, cut.at) {
                return false;
            }
            self.pending.drain(..cut.at);
            self.pending_cut = Some(Cut { at: 0, ..cut });
            if let Err(e) = self.switch(cut) {
                self.failed(&e);
                return false;
            }
            self.pending_cut = None;
        }
        let n = self.pending.len();
        if !self.write_range(0, n) {
            return false;
        }
        self.pending.clear();
        if !self.aof().write_ok.swap(true, Relaxed) {
            log_warning!("AOF write error looks solved, Redis can write again.");
        }
        true
    }

    fn write_range(&mut self, from: usize, to: usize) -> bool {
        if from >= to {
            return true;
        }
        let Some(f) = self.file.as_mut() else {
            // No file yet (cannot happen: the first cut precedes any unit); drop the bytes.
            return true;
        };
        let good = f.metadata().map(|m| m.len()).ok();
        match f.write_all(&self.pending[from..to]) {
            Ok(()) => {
                self.unsynced = true;
                let n = (to - from) as u64;
                self.srv.persist.aof.current_size.fetch_add(n, Relaxed);
                true
            }
            Err(e) => {
                // Never leave half a batch: cut the file back to its last good size.
                if let Some(len) = good {
                    if f.set_len(len).is_err() {
                        log_warning!("Could not remove short write from the append-only file. Redis may refuse to load the AOF the next time it starts.");
                    }
                }
                if self.aof().policy.load(Relaxed) == FSYNC_ALWAYS {
                    log_warning!(
                        "Error writing to the AOF file: {}",
                        crate::config::io_error_text(&e)
                    );
                    log_warning!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                    std::process::exit(1);
                }
                self.failed(&e);
                false
            }
        }
    }

    fn failed(&mut self, e: &std::io::Error) {
        let text = crate::config::io_error_text(e);
        let aof = self.aof();
        if aof.write_ok.swap(false, Relaxed) {
            log_warning!("Error writing to the AOF file: {}", text);
        }
        *aof.write_err.lock() = text;
    }

    /// Switches to incremental file `cut.seq`: the old file is fsynced, the new one created
    /// and (unless the AOF is being turned on) listed in the persisted manifest before any byte
    /// goes to it.
    fn switch(&mut self, cut: Cut) -> std::io::Result<()> {
        if let Some(f) = &self.file {
            f.sync_data()?;
        }
        let mut guard = self.aof().layout.lock();
        let Some(layout) = guard.as_mut() else {
            return Err(std::io::Error::other("the AOF is off"));
        };
        let name = layout.incr_name(cut.seq);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(layout.dir.join(&name))?;
        let file = {
            drop(file);
            open_append(&layout.dir.join(&name))?
        };
        if !layout.manifest.incrs.iter().any(|f| f.seq == cut.seq) {
            layout.manifest.incrs.push(AofFile {
                name: name.clone(),
                seq: cut.seq,
                kind: FileType::Incr,
            });
        }
        if cut.persist {
            layout.persist()?;
        }
        log_notice!("Creating AOF incr file {} on background rewrite", name);
        drop(guard);
        self.file = Some(file);
        self.unsynced = false;
        self.aof().current_seq.store(cut.seq, Relaxed);
        Ok(())
    }
}
