//! Loading an RDB file into the keyspace (startup, DEBUG RELOAD).
//!
//! The file is streamed (never read whole); INFO `loading:*` fields follow the progress. As a
//! master does, keys already expired are dropped. Anything wrong with the file (bad checksum,
//! truncation, a type this build cannot hold, a database index out of range, module data) is
//! an error: the caller refuses to run on a partial dataset.

use super::convert::rdb_to_entry;
use crate::keyspace::shard_of;
use crate::log_notice;
use crate::server::Server;
use ferrokv_engine::{AccessMode, Clock};
use ferrokv_rdb::{Event, RdbReader};
use std::io::BufReader;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// What a load did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Loaded {
    /// Keys inserted.
    pub keys: u64,
    /// Keys skipped because they had expired.
    pub expired: u64,
    /// Keys skipped because their collection was empty.
    pub empty: u64,
    /// Seconds it took.
    pub secs: f64,
}

/// Loads `path` into the (normally empty) keyspace. `Ok(None)` when the file does not exist.
pub fn load_file(srv: &Server, path: &Path) -> Result<Option<Loaded>, String> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "Fatal error loading the DB, check server logs. Exiting. ({}: {})",
                path.display(),
                crate::config::io_error_text(&e)
            ))
        }
    };
    let p = &srv.persist;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    p.loading_total_bytes.store(total, Relaxed);
    p.loading_loaded_bytes.store(0, Relaxed);
    p.loading_start_time
        .store(crate::util::now_ms() / 1000, Relaxed);
    p.loading.store(true, Relaxed);
    let r = load_stream(srv, BufReader::with_capacity(1 << 20, file), total);
    p.loading.store(false, Relaxed);
    r.map(Some)
}

/// Loads an RDB from `reader` (the loading flags are the caller's). Returns what was loaded and
/// the bytes consumed (the AOF loader continues after an RDB preamble from there).
pub fn load_reader(
    srv: &Server,
    reader: impl std::io::Read,
    total: u64,
) -> Result<(Loaded, u64), String> {
    load_stream_at(srv, reader, total)
}

fn load_stream(srv: &Server, reader: impl std::io::Read, total: u64) -> Result<Loaded, String> {
    load_stream_at(srv, reader, total).map(|x| x.0)
}

fn load_stream_at(
    srv: &Server,
    reader: impl std::io::Read,
    total: u64,
) -> Result<(Loaded, u64), String> {
    let started = Instant::now();
    let p = &srv.persist;
    let mut rd =
        RdbReader::new(reader).map_err(|e| format!("Short read or bad RDB header: {e}"))?;
    let limits = srv.hot.encoding_limits();
    let mode = srv.keyspace.access_mode();
    let dbs = srv.keyspace.db_count() as u64;
    let mut out = Loaded::default();
    let mut functions = Vec::new();
    let mut n = 0u64;
    let mut last_log = Instant::now();
    loop {
        let ev = rd
            .next_event()
            .map_err(|e| format!("Internal error in RDB reading: {e}"))?;
        let Some(ev) = ev else { break };
        n += 1;
        if n.is_multiple_of(1024) {
            p.loading_loaded_bytes.store(rd.bytes_read(), Relaxed);
            if last_log.elapsed().as_secs() >= 2 {
                last_log = Instant::now();
                log_notice!(
                    "Loading RDB: {}/{} bytes ({:.1}%)",
                    rd.bytes_read(),
                    total,
                    rd.bytes_read() as f64 * 100.0 / total.max(1) as f64
                );
            }
        }
        match ev {
            Event::Aux { key, value } => {
                if key == b"redis-ver" {
                    log_notice!(
                        "Loading RDB produced by version {}",
                        String::from_utf8_lossy(&value)
                    );
                } else if key == b"ctime" {
                    if let Some(t) = ferrokv_rdb::parse_canonical_i64(&value) {
                        let age = crate::util::now_ms() / 1000 - t;
                        log_notice!("RDB age {} seconds", age.max(0));
                    }
                }
            }
            Event::SelectDb(db) => {
                if db >= dbs {
                    return Err(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {dbs} databases. Exiting"
                    ));
                }
            }
            Event::ResizeDb { .. } | Event::SlotInfo { .. } => {}
            Event::Function(code) => functions.push(code),
            Event::ModuleAux { module } => {
                return Err(format!(
                    "The RDB file contains AUX module data I can't load: no matching module '{module}'"
                ));
            }
            Event::EmptyKey { db, key } => {
                out.empty += 1;
                log_notice!(
                    "rdbLoadObject skipping empty key: {} (db {})",
                    String::from_utf8_lossy(&key),
                    db
                );
            }
            Event::Key(rec) => {
                if rec.db >= dbs {
                    return Err(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {dbs} databases. Exiting"
                    ));
                }
                let now = crate::util::now_ms();
                if rec.expire_ms.is_some_and(|t| t <= now) {
                    out.expired += 1;
                    continue;
                }
                let Some(mut shard) = srv.keyspace.lock_one(rec.db as usize, shard_of(&rec.key))
                else {
                    return Err("internal error: no such shard".into());
                };
                let mut access = shard.new_access(&Clock::at(now));
                // The file's access hints, as Redis's objectSetLRUOrLFU.
                match mode {
                    AccessMode::Lru => {
                        if let Some(idle) = rec.lru_idle {
                            access = access.saturating_sub(u32::try_from(idle).unwrap_or(u32::MAX));
                        }
                    }
                    AccessMode::Lfu { .. } => {
                        if let Some(f) = rec.lfu_freq {
                            access = (access & !0xff) | u32::from(f);
                        }
                    }
                }
                let entry = rdb_to_entry(&rec.key, &rec.value, rec.expire_ms, access, &limits, now)
                    .map_err(|e| {
                        format!(
                            "Can't load key '{}' (db {}): {}",
                            String::from_utf8_lossy(&rec.key),
                            rec.db,
                            e
                        )
                    })?;
                let Some(entry) = entry else {
                    out.expired += 1;
                    continue;
                };
                // `storage-engine disk`: the key goes straight to the disk store.
                if crate::disk::import_entry(srv, rec.db as u32, &entry, now)? {
                    out.keys += 1;
                    continue;
                }
                if shard.insert(entry, now).is_some() {
                    return Err(format!(
                        "RDB has duplicated key '{}' in DB {}",
                        String::from_utf8_lossy(&rec.key),
                        rec.db
                    ));
                }
                out.keys += 1;
            }
        }
    }
    p.loading_loaded_bytes.store(rd.bytes_read(), Relaxed);
    if !functions.is_empty() {
        let codes: Vec<bytes::Bytes> = functions.iter().cloned().map(bytes::Bytes::from).collect();
        srv.scripting
            .install_all(&codes)
            .map_err(|e| format!("Failed loading the RDB's function libraries: {}", e.0))?;
    }
    *p.functions.lock() = functions;
    out.secs = started.elapsed().as_secs_f64();
    p.last_load_keys.store(out.keys, Relaxed);
    p.last_load_expired.store(out.expired, Relaxed);
    if out.expired > 0 {
        log_notice!(
            "Done loading RDB, keys loaded: {}, keys expired: {}.",
            out.keys,
            out.expired
        );
    }
    Ok((out, rd.bytes_read()))
}
