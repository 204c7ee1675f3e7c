//! Persistence commands: SAVE, BGSAVE, and the generic-group DUMP / RESTORE (the RDB value
//! payload with its version and CRC-64 footer, interchangeable with Redis's).

use crate::args;
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdResult};
use crate::notify;
use crate::persist::convert::{entry_to_rdb, rdb_to_entry, ConvertError};
use crate::persist::snapshot;
use ferrokv_engine::{AccessMode, Kind};
use std::sync::atomic::Ordering::Relaxed;

/// Binds the group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("save", save, Locking::All);
    t.add("bgsave", bgsave, Locking::All);
    t.add("bgrewriteaof", bgrewriteaof, Locking::All);
    t.add("dump", dump, Locking::Keys);
    t.add("restore", restore, Locking::Keys);
}

/// SAVE: a synchronous snapshot of every database into `dir/dbfilename`.
fn save(c: &mut Ctx) -> CmdResult {
    // A rewrite's snapshot is a background save too (one snapshot at a time).
    if c.srv.persist.bgsave_in_progress.load(Relaxed)
        || c.srv.persist.aof.rewrite_in_progress.load(Relaxed)
    {
        return Err(errors::BGSAVE_IN_PROGRESS);
    }
    match snapshot::save_locked(c.srv, &mut c.locks) {
        Ok(_) => {
            c.reply.ok();
            Ok(())
        }
        Err(_) => Err(errors::CmdError::new("ERR")),
    }
}

/// BGSAVE [SCHEDULE]: a point-in-time snapshot written by a background thread; the epoch is
/// this command's instant (it holds every shard).
fn bgsave(c: &mut Ctx) -> CmdResult {
    let schedule = match c.argv.len() {
        1 => false,
        2 if args::is(c.arg(1), "SCHEDULE") => true,
        _ => return Err(errors::SYNTAX),
    };
    let p = &c.srv.persist;
    if p.bgsave_in_progress.load(Relaxed) {
        if schedule {
            p.bgsave_scheduled.store(true, Relaxed);
            c.reply.simple(b"Background saving scheduled");
            return Ok(());
        }
        return Err(errors::BGSAVE_IN_PROGRESS);
    }
    if p.aof.rewrite_in_progress.load(Relaxed) {
        if schedule {
            p.bgsave_scheduled.store(true, Relaxed);
            c.reply.simple(b"Background saving scheduled");
            return Ok(());
        }
        return Err(errors::CmdError::new("ERR An AOF log rewriting in progress: can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."));
    }
    match snapshot::start_background(c.srv, Some(&mut c.locks)) {
        Ok(()) => {
            c.reply.simple(b"Background saving started");
            Ok(())
        }
        Err(e) if e.starts_with("Background save already") => Err(errors::BGSAVE_IN_PROGRESS),
        Err(e) => Err(errors::CmdError::from(format!("ERR {e}"))),
    }
}

/// BGREWRITEAOF: rewrites the AOF in the background (scheduled while a background save
/// runs); the cut is this command's instant (it holds every shard).
fn bgrewriteaof(c: &mut Ctx) -> CmdResult {
    use crate::persist::aof::rewrite::{self, Started};
    match rewrite::bgrewriteaof(c.srv, Some(&mut c.locks)) {
        Ok(Started::Started) => {
            c.reply
                .simple(b"Background append only file rewriting started");
            Ok(())
        }
        Ok(Started::Scheduled) => {
            c.reply
                .simple(b"Background append only file rewriting scheduled");
            Ok(())
        }
        Err(e) => Err(errors::CmdError::from(format!("ERR {e}"))),
    }
}

/// DUMP key: the value as a RESTORE payload (null when the key does not exist).
fn dump(c: &mut Ctx) -> CmdResult {
    let key = c.argv[1].clone();
    let clock = c.clock;
    let now = c.now_ms();
    let shard = c.shard(&key)?;
    let payload = shard
        .get(&key, &clock)
        .and_then(|e| entry_to_rdb(e, now))
        .map(|v| ferrokv_rdb::dump_value(&v));
    c.hit(payload.is_some());
    match payload {
        Some(p) => c.reply.bulk(&p),
        None => c.reply.null(),
    }
    Ok(())
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency].
fn restore(c: &mut Ctx) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < c.argv.len() {
        let a = c.arg(j);
        let more = j + 1 < c.argv.len();
        if args::is(a, "REPLACE") {
            replace = true;
        } else if args::is(a, "ABSTTL") {
            absttl = true;
        } else if args::is(a, "IDLETIME") && more && freq.is_none() {
            let v = args::int(c.arg(j + 1))?;
            if v < 0 {
                return Err(errors::INVALID_IDLETIME);
            }
            idle = Some(v);
            j += 1;
        } else if args::is(a, "FREQ") && more && idle.is_none() {
            let v = args::int(c.arg(j + 1))?;
            if !(0..=255).contains(&v) {
                return Err(errors::INVALID_FREQ);
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let key = c.argv[1].clone();
    let now = c.now_ms();
    let clock = c.clock;
    if !replace && c.shard(&key)?.contains(&key, now) {
        return Err(errors::BUSYKEY);
    }
    let mut ttl = args::int(c.arg(2))?;
    if ttl < 0 {
        return Err(errors::INVALID_TTL);
    }
    let value = match ferrokv_rdb::restore_value(c.arg(3)) {
        Ok(v) => v,
        Err(e) if e.is_version_or_checksum() => return Err(errors::DUMP_PAYLOAD),
        Err(_) => return Err(errors::BAD_DATA_FORMAT),
    };
    let limits = c.limits();
    let lazy = c
        .srv
        .config
        .read()
        .get_bool("lazyfree-lazy-server-del")
        .unwrap_or(false);
    let mode = c.srv.keyspace.access_mode();
    // (Redis's checkAlreadyExpired: a past TTL deletes the key, except while the AOF loads.)
    let loading = c.replaying();
    let shard = c.shard(&key)?;
    let mut access = shard.new_access(&clock);
    match mode {
        AccessMode::Lru => {
            if let Some(i) = idle {
                access = access.saturating_sub(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
        AccessMode::Lfu { .. } => {
            if let Some(f) = freq {
                access = (access & !0xff) | (f as u32 & 0xff);
            }
        }
    }
    // The entry is built before anything is deleted: a payload we cannot hold changes nothing.
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(now);
    }
    let expire = (ttl != 0).then_some(ttl);
    let past = expire.is_some_and(|t| t <= now && !loading);
    let entry = match rdb_to_entry(&key, &value, expire, access, &limits, now) {
        Ok(Some(e)) => e,
        Ok(None) | Err(ConvertError::Bad(_)) => return Err(errors::BAD_DATA_FORMAT),
        Err(ConvertError::Unsupported(t)) => {
            return Err(errors::CmdError::from(format!(
                "ERR Bad data format: type {t} is not supported by this build"
            )))
        }
    };
    let kind = entry.kind();
    let deleted = if replace {
        shard.remove(&key, now).map(|old| {
            crate::lazyfree::release(old, lazy);
        })
    } else {
        None
    }
    .is_some();
    if past {
        drop(entry);
        if deleted {
            c.modified(&key);
            c.notify(notify::GENERIC, "del", &key);
            c.dirty(1);
            c.propagate(crate::propagate::del_or_unlink(&key, lazy));
        }
        c.reply.ok();
        return Ok(());
    }
    shard.insert(entry, now);
    c.modified(&key);
    c.notify(notify::GENERIC, "restore", &key);
    if matches!(kind, Kind::List | Kind::ZSet) {
        c.key_ready(&key);
    }
    c.reply.ok();
    c.dirty(1);
    if expire.is_some() && !absttl {
        // A relative TTL is propagated as the absolute time, with ABSTTL appended.
        let mut argv = c.argv.to_vec();
        argv[2] = crate::propagate::int_arg(ttl);
        argv.push(bytes::Bytes::from_static(b"ABSTTL"));
        c.propagate(argv);
    }
    Ok(())
}
