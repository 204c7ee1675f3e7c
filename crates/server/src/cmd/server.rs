//! Server commands: SHUTDOWN, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, LASTSAVE.
//!
//! Flushes take each shard's table out while every lock is held (an O(1) swap per shard), so no
//! client ever sees a half-flushed database, and the tables are dropped after the reply on the
//! lazyfree thread ([`crate::lazyfree`]) for ASYNC — and for SYNC too once the dataset is large,
//! so one client's flush never stalls the others for the time it takes to free millions of keys.

use crate::args;
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdError, CmdResult};
use crate::server::Server;
use crate::{log_notice, log_warning};
use ferrokv_engine::table::Table;

/// Binds the group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("shutdown", shutdown, Locking::None);
    t.add("dbsize", dbsize, Locking::Db);
    t.add("flushdb", flushdb, Locking::Db);
    t.add("flushall", flushall, Locking::All);
    t.add("swapdb", swapdb, Locking::All);
    t.add("time", time, Locking::None);
    t.add("lastsave", lastsave, Locking::None);
}

/// A synchronous flush of at most this many keys frees them inline (while the locks are held);
/// bigger ones are handed to the lazyfree thread like ASYNC.
pub const SYNC_FLUSH_INLINE_MAX: usize = 65_536;

/// Stops the server: no more connections, every client closed.
pub fn shutdown_now(srv: &Server) {
    log_warning!("User requested shutdown...");
    log_warning!("ferrokv is now ready to exit, bye bye...");
    // A busy script (even one that wrote) is stopped so its thread lets the server exit.
    srv.scripting.abort_for_shutdown();
    crate::persist::aof::flush_for_shutdown(srv);
    srv.begin_shutdown();
}

/// Saves the dataset before shutting down (`SHUTDOWN SAVE`, save points, signals).
pub fn save_for_shutdown(srv: &Server) -> Result<(), String> {
    crate::persist::snapshot::save_now(srv).map(|_| ())
}

fn shutdown(c: &mut Ctx) -> CmdResult {
    let (mut nosave, mut save, mut abort, mut force) = (false, false, false, false);
    let mut any = false;
    for a in c.argv.iter().skip(1) {
        if args::is(a, "NOSAVE") {
            nosave = true;
        } else if args::is(a, "SAVE") {
            save = true;
        } else if args::is(a, "NOW") {
            // No replica to wait for: every shutdown is immediate.
        } else if args::is(a, "FORCE") {
            force = true;
        } else if args::is(a, "ABORT") {
            abort = true;
            continue;
        } else {
            return Err(errors::SYNTAX);
        }
        any = true;
    }
    if (abort && any) || (nosave && save) {
        return Err(errors::SYNTAX);
    }
    if abort {
        // Shutdowns never wait for replicas here, so none can be in progress.
        return Err(errors::NO_SHUTDOWN_IN_PROGRESS);
    }
    let save = save || (!nosave && !c.srv.config.read().save_params().is_empty());
    if save {
        log_notice!("Saving the final RDB snapshot before exiting.");
        if let Err(e) = save_for_shutdown(c.srv) {
            log_warning!("Error trying to save the DB: {}", e);
            if !force {
                log_warning!(
                    "Errors trying to shut down the server. Check the logs for more information."
                );
                return Err(errors::SHUTDOWN_FAILED);
            }
        }
    }
    shutdown_now(c.srv);
    c.client.close_after_reply = true;
    Ok(())
}

fn dbsize(c: &mut Ctx) -> CmdResult {
    let db = c.db();
    let n: usize = c.locks.db_shards(db).map(|s| s.len()).sum();
    c.reply.int(n as i64);
    Ok(())
}

/// FLUSHDB/FLUSHALL's optional argument; no argument follows `lazyfree-lazy-user-flush`.
fn flush_is_async(c: &Ctx) -> Result<bool, CmdError> {
    match c.argv.len() {
        1 => Ok(c
            .srv
            .config
            .read()
            .get_bool("lazyfree-lazy-user-flush")
            .unwrap_or(false)),
        2 if args::is(c.arg(1), "ASYNC") => Ok(true),
        2 if args::is(c.arg(1), "SYNC") => Ok(false),
        _ => Err(errors::SYNTAX),
    }
}

/// Frees the tables of a flush: inline when small and synchronous, else in the background.
fn dispose(tables: Vec<Table>, keys: usize, is_async: bool) {
    if tables.is_empty() {
        return;
    }
    if is_async || keys > SYNC_FLUSH_INLINE_MAX {
        crate::lazyfree::free_later(tables, keys as u64);
    } else {
        drop(tables);
    }
}

fn flushdb(c: &mut Ctx) -> CmdResult {
    let is_async = flush_is_async(c)?;
    let db = c.db();
    crate::watch::touch_all_in_db(&mut c.locks, &c.srv.watches, db, None);
    crate::tracking::invalidate_on_flush(c.srv);
    let mut tables = Vec::new();
    let mut keys = 0usize;
    for s in c.locks.db_shards(db) {
        if !s.is_empty() {
            keys += s.len();
            tables.push(s.take_table());
        }
    }
    dispose(tables, keys, is_async);
    c.dirty(keys as u64);
    // Always propagated verbatim, even on an empty database (Redis forces it).
    c.propagate(c.argv.to_vec());
    c.reply.ok();
    Ok(())
}

fn flushall(c: &mut Ctx) -> CmdResult {
    let is_async = flush_is_async(c)?;
    for db in 0..c.srv.keyspace.db_count() as u32 {
        crate::watch::touch_all_in_db(&mut c.locks, &c.srv.watches, db, None);
    }
    // As Redis: a running background save is abandoned (before the tables go, so nothing is
    // copied for it), and with save points the (now empty) dataset is saved at once.
    let aborted = crate::persist::snapshot::abort_running(c.srv, &mut c.locks);
    crate::tracking::invalidate_on_flush(c.srv);
    let mut tables = Vec::new();
    let mut keys = 0usize;
    for (_, s) in c.locks.all_held() {
        if !s.is_empty() {
            keys += s.len();
            tables.push(s.take_table());
        }
    }
    dispose(tables, keys, is_async);
    if !c.srv.config.read().save_params().is_empty() {
        if aborted {
            // The abandoned save's thread still needs shard locks to finish: save later.
            c.srv
                .persist
                .bgsave_scheduled
                .store(true, std::sync::atomic::Ordering::Relaxed);
        } else {
            let _ = crate::persist::snapshot::save_locked(c.srv, &mut c.locks);
        }
        c.dirty(1);
    } else {
        c.dirty(keys as u64);
    }
    // Always propagated verbatim, even on an empty dataset (Redis forces it).
    c.propagate(c.argv.to_vec());
    c.reply.ok();
    Ok(())
}

/// Parses a SWAPDB index like Redis's `getIntFromObject` (a C int), with the given error.
fn db_index(arg: &[u8], err: CmdError) -> Result<i64, CmdError> {
    match args::parse_i64_strict(arg) {
        Some(v) if i32::try_from(v).is_ok() => Ok(v),
        _ => Err(err),
    }
}

fn swapdb(c: &mut Ctx) -> CmdResult {
    let a = db_index(c.arg(1), errors::INVALID_FIRST_DB)?;
    let b = db_index(c.arg(2), errors::INVALID_SECOND_DB)?;
    let n = c.srv.keyspace.db_count() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(errors::DB_INDEX);
    }
    if a != b {
        crate::watch::touch_all_in_db(&mut c.locks, &c.srv.watches, a as u32, Some(b as u32));
        crate::watch::touch_all_in_db(&mut c.locks, &c.srv.watches, b as u32, Some(a as u32));
    }
    c.locks.swap_dbs(a as u32, b as u32);
    // Clients blocked in either db now see the other db's keys (Redis's scanDatabaseForReadyKeys).
    crate::blocking::signal_db_ready(c, a as u32);
    crate::blocking::signal_db_ready(c, b as u32);
    c.dirty(1);
    c.reply.ok();
    Ok(())
}

fn time(c: &mut Ctx) -> CmdResult {
    let us = crate::util::now_us();
    c.reply.array(2);
    c.reply.bulk_int(us / 1_000_000);
    c.reply.bulk_int(us % 1_000_000);
    Ok(())
}

fn lastsave(c: &mut Ctx) -> CmdResult {
    let t = c
        .srv
        .lastsave_unix
        .load(std::sync::atomic::Ordering::Relaxed);
    c.reply.int(t);
    Ok(())
}
