//! AOF rewrites (BGREWRITEAOF, `auto-aof-rewrite-*`, turning the AOF on).
//!
//! **The cut.** With every shard locked (so no execution unit is between taking its locks and
//! feeding its effects), the stream is marked to switch to a new incremental file at its
//! current end, and the snapshot epoch is fixed ([`crate::persist::snapshot::begin`]). Every
//! unit fed before the cut is in the old files *and* in the snapshot; every unit fed after it
//! goes to the new incremental file and is not in the snapshot (serialize-before-mutate copies
//! the epoch content out before a later unit changes it). The writer fsyncs the old file,
//! creates the new one and persists a manifest listing it before writing to it, so a crash
//! during the rewrite loads old base + old incrs + new incr. Once the base is written (an RDB,
//! `aof-use-rdb-preamble yes`), the manifest becomes new base + new incr and the old files are
//! history, deleted unless `aof-disable-auto-gc`.

use super::manifest::{AofFile, FileType};
use crate::keyspace::{LockPlan, LockSet};
use crate::persist::snapshot;
use crate::server::Server;
use crate::{log_notice, log_warning};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the rewrite is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// BGREWRITEAOF / auto rewrite with the AOF on.
    Rewrite,
    /// The AOF is being turned on: the first incremental file is `seq` and collection starts
    /// at the cut.
    Enable {
        /// Sequence number of the first incremental file and of the base.
        seq: u64,
    },
    /// BGREWRITEAOF with the AOF off: only a base is written, and the manifest lists just it
    /// (as Redis 7 does).
    Standalone,
}

/// How a rewrite request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// Running in the background (or done, when waited for).
    Started,
    /// Will start when the running background save ends.
    Scheduled,
}

/// BGREWRITEAOF: starts a rewrite (the AOF must be on; with it off, the AOF is turned on for
/// the time of one rewrite would differ from Redis, so this writes a fresh AOF directory by
/// turning it on and leaving collection as configured). `locks` (every shard) when called
/// from a command holding them.
pub fn bgrewriteaof(srv: &Server, locks: Option<&mut LockSet<'_>>) -> Result<Started, String> {
    let aof = &srv.persist.aof;
    if aof.rewrite_in_progress.load(Relaxed) {
        return Err("Background append only file rewriting already in progress".into());
    }
    if srv.persist.bgsave_in_progress.load(Relaxed) {
        aof.rewrite_scheduled.store(true, Relaxed);
        return Ok(Started::Scheduled);
    }
    let Some(arc) = srv.persist.server() else {
        return Err("background rewriting is not available before the server runs".into());
    };
    let mode = if aof.layout().is_none() {
        Mode::Standalone
    } else {
        Mode::Rewrite
    };
    start(&arc, locks, mode, false).map(|_| Started::Started)
}

/// Starts a rewrite. With `wait`, returns once it is done (startup).
pub fn start(
    srv: &Arc<Server>,
    locks: Option<&mut LockSet<'_>>,
    mode: Mode,
    wait: bool,
) -> Result<(), String> {
    let aof = &srv.persist.aof;
    if aof.rewrite_in_progress.swap(true, Relaxed) {
        return Err("Background append only file rewriting already in progress".into());
    }
    aof.rewrite_scheduled.store(false, Relaxed);
    aof.rewrite_started_ms.store(crate::util::now_ms(), Relaxed);
    let standalone = match mode {
        Mode::Standalone => Some(super::fresh_layout(srv)?),
        _ => None,
    };
    let (incr_seq, base_seq) = {
        let g = aof.layout();
        match (mode, g.as_ref(), standalone.as_ref()) {
            (Mode::Enable { seq }, _, _) => (seq, seq),
            (Mode::Standalone, _, Some(l)) => (0, l.next_seq()),
            (Mode::Rewrite, Some(l), _) => (
                l.manifest.last_incr_seq() + 1,
                l.manifest.base.as_ref().map(|b| b.seq).unwrap_or(0) + 1,
            ),
            _ => {
                aof.rewrite_in_progress.store(false, Relaxed);
                return Err("the AOF is off".into());
            }
        }
    };
    let mark = |locks: &mut LockSet<'_>| {
        match mode {
            // While the AOF is being turned on, the manifest waits for the first base.
            Mode::Rewrite => aof.cut(incr_seq, !aof.enabling.load(Relaxed)),
            Mode::Enable { .. } => {
                aof.enabling.store(true, Relaxed);
                aof.cut(incr_seq, false);
                aof.set_collecting(true);
            }
            Mode::Standalone => {}
        }
        snapshot::begin(srv, locks)
    };
    let epoch = match locks {
        Some(l) => mark(l),
        None => {
            let mut own = srv.keyspace.lock(&LockPlan::All);
            mark(&mut own)
        }
    };
    if matches!(mode, Mode::Enable { .. }) {
        crate::notify::apply_expired_logging(srv, None);
    }
    log_notice!("Background append only file rewriting started");
    let srv2 = srv.clone();
    let job = move || {
        let srv = &*srv2;
        let started = Instant::now();
        let r = run(srv, epoch, incr_seq, base_seq, standalone);
        let aof = &srv.persist.aof;
        aof.last_rewrite_time_sec
            .store(started.elapsed().as_secs() as i64, Relaxed);
        match r {
            Ok(()) => {
                aof.last_rewrite_ok.store(true, Relaxed);
                aof.rewrite_failures.store(0, Relaxed);
                if !wait {
                    // (Redis does not count the base written at startup.)
                    aof.rewrites.fetch_add(1, Relaxed);
                }
                log_notice!("Background AOF rewrite finished successfully");
            }
            Err(e) => {
                aof.last_rewrite_ok.store(false, Relaxed);
                aof.rewrite_failures.fetch_add(1, Relaxed);
                log_warning!("{}", e);
                log_warning!("Background AOF rewrite terminated with error");
            }
        }
        aof.rewrite_in_progress.store(false, Relaxed);
    };
    if wait {
        job();
        return if srv.persist.aof.last_rewrite_ok.load(Relaxed) {
            Ok(())
        } else {
            Err("Can't create the AOF base file".into())
        };
    }
    std::thread::Builder::new()
        .name("ferrokv-aofrw".into())
        .spawn(job)
        .map(|_| ())
        .map_err(|e| {
            srv.persist.aof.rewrite_in_progress.store(false, Relaxed);
            format!("Can't rewrite append only file in background: {e}")
        })
}

fn run(
    srv: &Server,
    epoch: snapshot::Epoch,
    incr_seq: u64,
    base_seq: u64,
    mut standalone: Option<super::Layout>,
) -> Result<(), String> {
    let aof = &srv.persist.aof;
    if standalone.is_none() && !aof.wait_switched(incr_seq, Duration::from_secs(60)) {
        return Err("Can't open the new AOF incr file (see the AOF write error)".into());
    }
    let preamble = srv
        .config
        .read()
        .get_bool("aof-use-rdb-preamble")
        .unwrap_or(true);
    let (dir, base_name) = {
        let g = aof.layout();
        let Some(l) = standalone.as_ref().or(g.as_ref()) else {
            return Err("the AOF was turned off during the rewrite".into());
        };
        (l.dir.clone(), l.base_name(base_seq, preamble))
    };
    let path = dir.join(&base_name);
    let rdb_path = if preamble {
        path.clone()
    } else {
        dir.join(format!("temp-rewriteaof-bg-{}.rdb", std::process::id()))
    };
    snapshot::write(srv, epoch, &rdb_path, |db, sh, f| {
        if let Some(mut s) = srv.keyspace.lock_one(db as usize, sh as usize) {
            f(&mut s)
        }
        std::thread::yield_now();
    })?;
    if !preamble {
        let tmp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
        let r = rdb_to_commands(&rdb_path, &tmp);
        let _ = std::fs::remove_file(&rdb_path);
        r?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| format!("Error trying to rename the temporary AOF base file: {e}"))?;
    }
    log_notice!("Successfully created the AOF base file {}", base_name);
    let gc = !srv
        .config
        .read()
        .get_bool("aof-disable-auto-gc")
        .unwrap_or(false);
    let mut g = aof.layout();
    let Some(l) = standalone.as_mut().or(g.as_mut()) else {
        return Err("the AOF was turned off during the rewrite".into());
    };
    let m = &mut l.manifest;
    let mut history: Vec<AofFile> = std::mem::take(&mut m.history);
    if let Some(old) = m.base.take() {
        history.push(old);
    }
    let (old_incrs, keep): (Vec<AofFile>, Vec<AofFile>) = std::mem::take(&mut m.incrs)
        .into_iter()
        .partition(|f| f.seq < incr_seq);
    history.extend(old_incrs);
    for h in &mut history {
        h.kind = FileType::History;
    }
    m.incrs = keep;
    m.base = Some(AofFile {
        name: base_name,
        seq: base_seq,
        kind: FileType::Base,
    });
    m.history = history;
    l.persist()
        .map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    if gc {
        for h in std::mem::take(&mut l.manifest.history) {
            log_notice!("Removing the history file {} in the background", h.name);
            let _ = std::fs::remove_file(l.dir.join(&h.name));
        }
        l.persist()
            .map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    }
    let size = l.total_size();
    drop(g);
    if standalone.is_none() {
        aof.enabling.store(false, Relaxed);
        aof.current_size.store(size, Relaxed);
        aof.base_size.store(size, Relaxed);
    }
    Ok(())
}

/// Cron hook: starts a scheduled rewrite once no background save runs, and an automatic one
/// when the AOF grew by `auto-aof-rewrite-percentage` over its size at the last rewrite and is
/// at least `auto-aof-rewrite-min-size`.
pub fn cron_check(srv: &Arc<Server>) {
    let aof = &srv.persist.aof;
    if aof.rewrite_in_progress.load(Relaxed) || srv.persist.bgsave_in_progress.load(Relaxed) {
        return;
    }
    if aof.layout().is_none() {
        return;
    }
    if aof.rewrite_scheduled.load(Relaxed) {
        let _ = start(srv, None, Mode::Rewrite, false);
        return;
    }
    // Turning the AOF on failed to write its first base: retry (Redis retries too).
    if aof.enabling.load(Relaxed)
        && crate::util::now_ms() - aof.rewrite_started_ms.load(Relaxed) > 5_000
    {
        let _ = start(srv, None, Mode::Rewrite, false);
        return;
    }
    let (pct, min) = {
        let cfg = srv.config.read();
        (
            cfg.get_u64("auto-aof-rewrite-percentage").unwrap_or(100),
            cfg.get_u64("auto-aof-rewrite-min-size").unwrap_or(64 << 20),
        )
    };
    let cur = aof.current_size.load(Relaxed);
    let base = aof.base_size.load(Relaxed).max(1);
    if pct == 0 || cur <= min {
        return;
    }
    let growth = cur.saturating_sub(base) * 100 / base;
    // A failed rewrite is retried at most once a minute.
    if !aof.last_rewrite_ok.load(Relaxed)
        && crate::util::now_ms() - aof.rewrite_started_ms.load(Relaxed) < 60_000
    {
        return;
    }
    if growth >= pct {
        log_notice!("Starting automatic rewriting of AOF on {}% growth", growth);
        let _ = start(srv, None, Mode::Rewrite, false);
    }
}

/// Items per command when a collection is written as commands (Redis's
/// `AOF_REWRITE_ITEMS_PER_CMD`).
const ITEMS_PER_CMD: usize = 64;

/// Converts the RDB file `rdb` into a command base (`aof-use-rdb-preamble no`) at `out`:
/// SELECT, then per key SET / RPUSH / SADD / ZADD / HSET (batches of 64 items), PEXPIREAT for
/// the key's TTL, HPEXPIREAT for hash fields with one, and FUNCTION LOAD for libraries.
/// Streams are refused (no command form is written for them yet).
pub fn rdb_to_commands(rdb: &std::path::Path, out: &std::path::Path) -> Result<u64, String> {
    use ferrokv_rdb::{Event, RdbReader, RdbValue};
    use std::io::Write;
    let io = |e: std::io::Error| format!("Error writing the AOF base: {e}");
    let file = std::fs::File::open(rdb).map_err(io)?;
    let mut rd = RdbReader::new(std::io::BufReader::new(file)).map_err(|e| e.to_string())?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(out).map_err(io)?);
    let mut buf = Vec::new();
    let mut db: Option<u64> = None;
    let mut num = itoa::Buffer::new();
    let fmt_f64 = |f: f64| {
        let mut v = Vec::new();
        ferrokv_resp::format_double(f, &mut v);
        v
    };
    while let Some(ev) = rd.next_event().map_err(|e| e.to_string())? {
        buf.clear();
        match ev {
            Event::Function(code) => {
                super::encode_command(&mut buf, &[b"FUNCTION", b"LOAD", b"REPLACE", &code]);
            }
            Event::Key(rec) => {
                if db != Some(rec.db) {
                    super::encode_command(&mut buf, &[b"SELECT", num.format(rec.db).as_bytes()]);
                    db = Some(rec.db);
                }
                let k = &rec.key[..];
                match &rec.value {
                    RdbValue::String(v) => super::encode_command(&mut buf, &[b"SET", k, v]),
                    RdbValue::List(items) => {
                        for chunk in items.chunks(ITEMS_PER_CMD) {
                            let mut a: Vec<&[u8]> = vec![b"RPUSH", k];
                            a.extend(chunk.iter().map(|x| &x[..]));
                            super::encode_command(&mut buf, &a);
                        }
                    }
                    RdbValue::Set(items) => {
                        for chunk in items.chunks(ITEMS_PER_CMD) {
                            let mut a: Vec<&[u8]> = vec![b"SADD", k];
                            a.extend(chunk.iter().map(|x| &x[..]));
                            super::encode_command(&mut buf, &a);
                        }
                    }
                    RdbValue::ZSet(items) => {
                        for chunk in items.chunks(ITEMS_PER_CMD) {
                            let scores: Vec<Vec<u8>> = chunk.iter().map(|x| fmt_f64(x.1)).collect();
                            let mut a: Vec<&[u8]> = vec![b"ZADD", k];
                            for (m, s) in chunk.iter().zip(&scores) {
                                a.push(s);
                                a.push(&m.0);
                            }
                            super::encode_command(&mut buf, &a);
                        }
                    }
                    RdbValue::Hash(fields) => {
                        for chunk in fields.chunks(ITEMS_PER_CMD) {
                            let mut a: Vec<&[u8]> = vec![b"HSET", k];
                            for f in chunk {
                                a.push(&f.field);
                                a.push(&f.value);
                            }
                            super::encode_command(&mut buf, &a);
                        }
                        for f in fields {
                            if let Some(t) = f.expire_ms {
                                let t = t.to_string();
                                super::encode_command(
                                    &mut buf,
                                    &[b"HPEXPIREAT", k, t.as_bytes(), b"FIELDS", b"1", &f.field],
                                );
                            }
                        }
                    }
                    RdbValue::Stream(_) => {
                        return Err(
                            "streams cannot be written in a command base yet: use aof-use-rdb-preamble yes"
                                .into(),
                        )
                    }
                }
                if let Some(t) = rec.expire_ms {
                    let t = t.to_string();
                    super::encode_command(&mut buf, &[b"PEXPIREAT", k, t.as_bytes()]);
                }
            }
            _ => {}
        }
        w.write_all(&buf).map_err(io)?;
    }
    let f = w.into_inner().map_err(|e| io(e.into_error()))?;
    f.sync_all().map_err(io)?;
    f.metadata().map(|m| m.len()).map_err(io)
}
