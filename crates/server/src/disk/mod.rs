//! `storage-engine disk`: the command layer on top of the disk engine (`ferrokv-engine-disk`).
//!
//! The memory engine's handlers stay the one implementation of Redis semantics. In disk mode
//! the in-memory shards still exist and still serve as the locks (the dispatcher locks a
//! command's shards exactly as in memory mode); between execution units they hold only the
//! hot-object cache's *resident* keys, clean copies of what the disk store holds ([`cache`]).
//! Every handler call goes through [`call`] (from `propagate::call_handler`):
//!
//! 1. **Before the handler**, every key the command declares (the same key extraction the lock
//!    plan uses) is taken from the cache if resident, else loaded from disk into its locked
//!    shard, unless the unit already loaded it
//!    (EXEC's and a script's commands share the shards: a key an earlier command changed or
//!    deleted is not read again). Keys are loaded even when expired, with their deadline, so
//!    the memory engine expires them with its usual semantics (events, `DEL` propagation).
//!    Commands that lock a whole database (KEYS, DBSIZE, FLUSHDB, SORT ... BY, SAVE ...) load
//!    that whole database (dropping its resident keys first): O(keys), a stopgap until they
//!    get disk-native branches.
//! 2. **The handler runs unchanged.**
//! 3. **When the execution unit ends** (top-level command, whole EXEC, whole script), while its
//!    locks are still held, [`flush`] writes back the keys the unit loaded if it changed the
//!    dataset (its dirty counter grew), deletes loaded keys that are gone (deleted or expired),
//!    keeps the eligible ones resident (the cache evicts down to its budget) and drops the
//!    others from the shards.
//!
//! SCAN (which locks shard by shard) is answered from the disk engine's own hash-ordered scan,
//! and INFO keyspace counts from disk (resident keys are on disk too: nothing counts twice).
//! The active expiry cycle calls [`active_expire`], which also drops expired keys' resident
//! copies.
//!
//! The layout of one key on disk is in [`store`].

pub mod cache;
pub mod native;
mod scan;
pub mod store;
pub mod sysdata;

use crate::client::Client;
use crate::dispatch::{Ctx, Handler, Locking};
use crate::errors::{CmdError, CmdResult};
use crate::keyspace::{LockPlan, LockSet};
use crate::persist::convert::{entry_to_rdb, rdb_to_entry};
use crate::server::Server;
use bytes::Bytes;
use ferrokv_engine::Clock;
use ferrokv_engine_disk::{DiskEngine, DiskOptions, Fsync, MetaToken};
use ferrokv_rdb::RdbValue;
use std::collections::{HashMap, HashSet};

/// Clock for converting entries when writing them back: hash fields whose TTL passed are kept,
/// so the memory engine reclaims them later with its events (never silently on write-back).
const KEEP_EXPIRED_FIELDS: i64 = i64::MIN;

/// Name of the directory (under `dir`) that holds the disk engine's files.
pub const DATA_DIR: &str = "ferrokv-disk";

/// Per-client state of the execution unit running on the disk engine.
#[derive(Default, Debug)]
pub struct ClientDisk {
    /// Nesting depth of handler calls.
    depth: u32,
    /// Keys loaded by the unit: (db, key) → how the key was stored (or missing).
    loaded: HashMap<(u32, Bytes), store::Origin>,
    /// Keys the unit signalled as modified ([`note_modified`]): a field-level key the unit
    /// loaded but did not modify is not written back.
    changed: HashSet<(u32, Bytes)>,
    /// Value and expiry of field-level hashes, sets and sorted sets as loaded: the end of the
    /// unit writes only their difference ([`store::elem_delta`]).
    originals: HashMap<(u32, Bytes), (RdbValue, Option<i64>)>,
    /// The keys of [`ClientDisk::originals`] stored with the engine's compact flag (loaded in
    /// a compact encoding): their element delta is written only if the value is still
    /// compact, else the key is rewritten whole with the right flag.
    compact: HashSet<(u32, Bytes)>,
    /// Element operations that native write commands of a multi-command unit staged instead
    /// of committing (`native.rs`), (db, key) → (operations, the key's expiry on disk, its
    /// element count after them): the end of the unit writes them in its one batch. Later
    /// native commands of the unit on a hash, set or sorted set read through them and add
    /// theirs; any other command that needs the key's value loads it and folds them in
    /// ([`fold_pending`]).
    pending: HashMap<(u32, Bytes), (store::Pending, Option<i64>, u64)>,
    /// Databases the unit loaded entirely.
    whole: Vec<u32>,
    /// The client's dirty counter when the unit began.
    dirty_at_start: u64,
    /// A write command ran in the unit (written back even if it did not count as dirty).
    wrote: bool,
    /// The metadata read [`native::try_call`] just made of the command's key, (db, key, what it
    /// read), when it left the command to the load path: [`load_key`] uses it instead of
    /// reading the same record again. Valid only for the command that made it (the shard lock
    /// is held from the read to the load); [`call`] clears it once the keys are loaded.
    prefetched: Option<(u32, Bytes, Option<store::MetaRead>, Option<MetaToken>)>,
    /// The load of the running command takes [`MetaToken`]s ([`ClientDisk::tokens`]): a
    /// top-level write command that loads only by key.
    want_tokens: bool,
    /// Metadata reads of record-layout or missing keys loaded by the unit's one top-level
    /// command, (db, key, token): the write-back passes them to the engine, which then does not
    /// read those records again (`store::apply_known`). Nothing but the write-back writes these
    /// keys before the unit ends (their shard locks are held; a key with an expiry gets no
    /// token); units that load whole databases or pre-delete keys (FLUSHALL) drop them.
    tokens: Vec<(u32, Bytes, MetaToken)>,
    /// Tokens of resident keys the unit checked out of the hot-object cache while not taking
    /// tokens (reads, commands inside EXEC or a script): not used for writing, only handed back
    /// to the resident copy if the unit does not write the key ([`flush_cached`]).
    carry: Vec<(u32, Bytes, MetaToken)>,
}

impl ClientDisk {
    fn idle(&self) -> bool {
        self.loaded.is_empty() && self.whole.is_empty() && self.pending.is_empty()
    }
}

/// Records that the running unit modified `key` of `db` (called by
/// `watch::signal_modified`, which every write calls). No-op outside a disk-mode unit.
#[inline]
pub fn note_modified(client: &mut Client, db: u32, key: &[u8]) {
    if client.disk.depth > 0 {
        client
            .disk
            .changed
            .insert((db, Bytes::copy_from_slice(key)));
    }
}

/// The disk engine and what the server keeps beside it.
pub struct DiskState {
    /// The engine handle.
    pub engine: DiskEngine,
    /// Hashes with field TTLs written since start, (db, key): the active expiry cycle visits
    /// them (hashes written before a restart have their fields expired lazily only).
    hfe: parking_lot::Mutex<HashSet<(u32, Vec<u8>)>>,
    /// The hot-object cache (`disk-object-cache-size`, see [`cache`]).
    pub cache: cache::ObjectCache,
}

/// The disk engine when the server runs with `storage-engine disk`.
#[inline]
pub fn engine(srv: &Server) -> Option<&DiskEngine> {
    srv.disk.get().map(|d| &d.engine)
}

/// Whether the server runs on the disk engine.
#[inline]
pub fn enabled(srv: &Server) -> bool {
    srv.disk.get().is_some()
}

/// The hot-object cache when the server runs on the disk engine.
#[inline]
pub fn object_cache(srv: &Server) -> Option<&cache::ObjectCache> {
    srv.disk.get().map(|d| &d.cache)
}

/// Whether `c` is a native-path command whose key (first argument, client's database) is
/// resident in the hot-object cache (its shard is locked by the command). The native path is
/// then skipped, and with it its metadata read: a resident key is a clean copy below the
/// native paths' size threshold, served from memory.
fn first_key_resident(c: &mut Ctx<'_, '_>) -> bool {
    let Some(cache) = object_cache(c.srv) else {
        return false;
    };
    if cache.is_empty() || c.argv.len() < 2 || native::kind_of(c.cmd.name).is_none() {
        return false;
    }
    let db = c.client.db;
    let key = &c.argv[1];
    c.locks.for_key(db, key).is_some() && cache.is_resident(db, key)
}

/// If `c` (a top-level command without the write flag) reads exactly one key, in the
/// client's database, that is resident in the hot-object cache and live, the key's argument
/// index: the command can then run on the resident copy in place. Notes the hit (and the
/// key's use for the eviction order).
fn resident_read(c: &mut Ctx<'_, '_>) -> Option<usize> {
    let cache = object_cache(c.srv)?;
    if cache.is_empty()
        || !matches!(c.cmd.locking, Locking::Keys)
        || !c.cmd.has(crate::spec::flags::READONLY)
        || c.cmd.has(crate::spec::flags::MAY_REPLICATE)
    {
        return None;
    }
    let i = crate::dispatch::single_key_index(c.cmd.spec)?;
    let key = c.argv.get(i)?;
    let db = c.client.db;
    let now = c.clock.ms;
    let live = c
        .locks
        .for_key(db, key)
        .is_some_and(|s| s.peek(key).is_some_and(|e| !e.is_expired(now)));
    (live && cache.touch(db, key)).then_some(i)
}

/// Checks the key at argument `i` of a [`resident_read`] out of the cache as a loaded key of
/// the unit (the handler modified it, which a read-only command is not expected to do).
fn adopt_resident(c: &mut Ctx<'_, '_>, i: usize) {
    let (Some(cache), Some(key)) = (object_cache(c.srv), c.argv.get(i)) else {
        return;
    };
    let db = c.client.db;
    let Some(shard) = c.locks.for_key(db, key) else {
        return;
    };
    if let Some(r) = cache.take(db, key, shard) {
        checked_out(&mut c.client.disk, db, key, r);
        c.client.disk.wrote = true;
    }
}

/// Records resident key `r` just checked out of the cache as loaded by the unit: its origin,
/// the original of a field-level value (the base of its delta), and the token of a record
/// (the write-back then reads no metadata; kept aside when the unit takes no tokens).
fn checked_out(st: &mut ClientDisk, db: u32, key: &Bytes, r: cache::Resident) {
    st.loaded.insert((db, key.clone()), r.origin);
    if let Some(o) = r.original {
        st.originals.insert((db, key.clone()), o);
    }
    if let (Some(t), store::Origin::Record) = (r.token, r.origin) {
        if st.want_tokens {
            st.tokens.push((db, key.clone(), t));
        } else {
            st.carry.push((db, key.clone(), t));
        }
    }
}

/// Applies `disk-object-cache-size` (CONFIG SET): the new budget, and when the caller holds no
/// shard lock, evicts down to it at once (else the next cron tick does).
pub fn apply_object_cache_size(srv: &Server, holds_locks: bool) {
    let Some(cache) = object_cache(srv) else {
        return;
    };
    let b = srv
        .config
        .read()
        .get_u64("disk-object-cache-size")
        .unwrap_or(0);
    cache.set_budget(b);
    if !holds_locks {
        cache.trim_all(srv);
    }
}

/// Drops every resident key of the shards `locks` holds (a snapshot begins: in disk mode it
/// is written from the disk store, and the shards must hold only what a running unit
/// loaded). Called with every shard locked.
pub fn before_snapshot(srv: &Server, locks: &mut LockSet<'_>) {
    let Some(cache) = object_cache(srv) else {
        return;
    };
    if cache.is_empty() {
        return;
    }
    for ((db, i), shard) in locks.all_held() {
        cache.drop_shard(db, i as usize, shard);
    }
}

/// Opens the disk engine in `<dir>/ferrokv-disk` with the configured budget and journal
/// persistence (`appendfsync`). Called once at startup in disk mode.
pub fn open(srv: &Server) -> Result<(), String> {
    let (path, opts, object_cache) = {
        let cfg = srv.config.read();
        let fsync = match cfg.get_str("appendfsync") {
            Some("always") => Fsync::Always,
            Some("no") => Fsync::No,
            _ => Fsync::EverySec,
        };
        let defaults = DiskOptions::default();
        let opts = DiskOptions {
            cache_bytes: cfg
                .get_u64("disk-cache-size")
                .unwrap_or(defaults.cache_bytes),
            memtable_bytes: cfg
                .get_u64("disk-memtable-size")
                .unwrap_or(defaults.memtable_bytes),
            compaction_rate: cfg.get_u64("disk-compaction-rate").unwrap_or(0),
            fsync,
            ..defaults
        };
        let object_cache = cfg.get_u64("disk-object-cache-size").unwrap_or(0);
        (cfg.dir().join(DATA_DIR), opts, object_cache)
    };
    let eng = DiskEngine::open(&path, opts)
        .map_err(|e| format!("Can't open the disk store at {}: {e}", path.display()))?;
    crate::log_notice!("Disk engine opened at {}", path.display());
    let state = DiskState {
        engine: eng,
        hfe: parking_lot::Mutex::new(HashSet::new()),
        cache: cache::ObjectCache::new(srv.keyspace.db_count(), object_cache),
    };
    srv.disk
        .set(state)
        .map_err(|_| "the disk engine is already open".to_string())
}

/// Forces the journal to stable storage (SHUTDOWN, DEBUG RELOAD).
pub fn sync(srv: &Server) {
    if let Some(eng) = engine(srv) {
        if let Err(e) = eng.sync() {
            crate::log_warning!("Disk engine sync failed: {}", e);
        }
    }
}

/// Whether the disk store holds no key at all (startup decides whether to import the RDB).
pub fn store_is_empty(srv: &Server) -> bool {
    let Some(eng) = engine(srv) else {
        return true;
    };
    let snap = eng.snapshot();
    (0..srv.keyspace.db_count()).all(|db| snap.keys(db as u16).next().is_none())
}

/// Moves everything the RDB loader put in the shards into the disk store (startup import of
/// a dump file into an empty disk store). Returns the number of keys written.
pub fn import_loaded_shards(srv: &Server) -> Result<u64, String> {
    let Some(eng) = engine(srv) else {
        return Ok(0);
    };
    let now = crate::util::now_ms();
    let mut n = 0u64;
    for db in 0..srv.keyspace.db_count() {
        for i in 0..crate::keyspace::SHARDS {
            let Some(mut shard) = srv.keyspace.lock_one(db, i) else {
                continue;
            };
            // Nothing loaded by the RDB reader is resident: forget listings (DEBUG RELOAD).
            if let Some(d) = srv.disk.get() {
                if let Some(slot) = d.cache.slot(db as u32, i) {
                    if !slot.lock().is_empty() {
                        d.cache.drop_shard(db as u32, i, &mut shard);
                    }
                }
            }
            let table = shard.take_table();
            for e in table.iter() {
                if let Some(v) = entry_to_rdb(e, now) {
                    store::put(
                        eng,
                        db as u16,
                        e.key(),
                        &v,
                        e.expire_at(),
                        record_meta(e),
                        now,
                    )?;
                    n += 1;
                }
            }
        }
    }
    Ok(n)
}

/// Runs `handler` for the command in `c`: in disk mode loads the command's keys first and, at
/// the end of the outermost call, writes the unit back (see the module docs).
#[inline]
pub fn call(c: &mut Ctx<'_, '_>, handler: Handler) -> CmdResult {
    let Some(eng) = engine(c.srv) else {
        return handler(c);
    };
    if c.client.disk.depth == 0 && c.client.disk.idle() {
        c.client.disk.dirty_at_start = c.client.batch.dirty;
        c.client.disk.tokens.clear();
    }
    c.client.disk.want_tokens = c.client.disk.depth == 0
        && c.client.disk.idle()
        && c.cmd.has(crate::spec::flags::WRITE)
        && !matches!(c.cmd.name, "flushall" | "flushdb");
    if c.cmd.name == "scan" {
        return scan(c, eng);
    }
    if c.cmd.name == "dbsize" && c.client.disk.depth == 0 && c.client.disk.idle() {
        // Nothing of this client is resident: the store is the whole truth. O(1); counts keys
        // whose expiry passed but that were not reclaimed yet, as the memory engine does.
        let n = eng.dbsize(c.client.db as u16, c.clock.ms).map_err(|e| {
            CmdError(std::borrow::Cow::Owned(format!(
                "ERR disk engine error: {e}"
            )))
        })?;
        c.reply.int(n as i64);
        return Ok(());
    }
    if c.cmd.has(crate::spec::flags::WRITE) || c.cmd.name == "debug" {
        c.client.disk.wrote = true;
    } else if let Some(i) = (c.client.disk.depth == 0 && c.client.disk.idle())
        .then(|| resident_read(c))
        .flatten()
    {
        // A read of one resident key runs on the resident copy in place: nothing is loaded,
        // checked out or in, or written back.
        c.client.disk.depth += 1;
        let r = match scan::try_scan(c) {
            Some(r) => r,
            None => handler(c),
        };
        c.client.disk.depth -= 1;
        if c.client.batch.dirty != c.client.disk.dirty_at_start || !c.client.disk.changed.is_empty()
        {
            // The read changed its key after all: checked out now, the end of the unit writes
            // it back like any loaded key.
            adopt_resident(c, i);
        }
        if !c.client.disk.idle() {
            // The handler loaded keys (or one was adopted): they leave (or go back to the
            // cache) as usual.
            end_unit(c);
        }
        return r;
    }
    let stand_in = if first_key_resident(c) {
        native::metadata_only(c.cmd.name)
    } else {
        match native::try_call(c, eng) {
            native::Outcome::Done(r) => {
                c.client.disk.want_tokens = false;
                c.client.disk.prefetched = None;
                if c.client.disk.depth == 0 {
                    end_unit(c);
                }
                return r;
            }
            native::Outcome::StandIn => true,
            native::Outcome::Load => native::metadata_only(c.cmd.name),
        }
    };
    let loaded = load_for_command(c, eng, stand_in);
    c.client.disk.prefetched = None;
    c.client.disk.want_tokens = false;
    if let Err(e) = loaded.and_then(|()| predelete_for_flush(c, eng)) {
        c.client.disk.tokens.clear();
        crate::log_warning!("{}", e);
        if c.client.disk.depth == 0 {
            // What was loaded before the failure leaves the shards (or stays resident) cleanly.
            end_unit(c);
        }
        return Err(CmdError(std::borrow::Cow::Owned(format!("ERR {e}"))));
    }
    c.client.disk.depth += 1;
    let r = match scan::try_scan(c) {
        Some(r) => r,
        None => handler(c),
    };
    c.client.disk.depth -= 1;
    if c.client.disk.depth == 0 {
        end_unit(c);
    }
    r
}

/// Ends the unit of `c` (see [`flush`]).
pub fn end_unit(c: &mut Ctx<'_, '_>) {
    let now = c.clock.ms;
    flush(c.srv, c.client, &mut c.locks, now);
}

/// Loads the keys `c`'s command declares (or the whole databases it locks). `stand_in`: the
/// command needs only the existence, type and expiry of its keys, so a field-level key gets a
/// stand-in (see [`store::Origin::Proxy`]) instead of its whole value.
fn load_for_command(c: &mut Ctx<'_, '_>, eng: &DiskEngine, stand_in: bool) -> Result<(), String> {
    let db = c.client.db;
    let plan = match c.cmd.locking {
        Locking::None | Locking::Manual => return Ok(()),
        // Snapshots read the disk store directly (see `persist::snapshot`).
        _ if matches!(c.cmd.name, "save" | "bgsave") => return Ok(()),
        _ => crate::dispatch::lock_plan(c.cmd, c.argv, db),
    };
    let srv = c.srv;
    let clock = c.clock;
    let st = &mut c.client.disk;
    match plan {
        LockPlan::None => Ok(()),
        LockPlan::Db(d) => load_db(srv, eng, st, &mut c.locks, d, &clock),
        LockPlan::All => {
            for d in 0..srv.keyspace.db_count() {
                load_db(srv, eng, st, &mut c.locks, d as u32, &clock)?;
            }
            Ok(())
        }
        LockPlan::Shards(v) => {
            let args: Vec<&[u8]> = c.argv.iter().map(|b| &b[..]).collect();
            let mut keys = crate::spec::keys_for_dispatch(c.cmd.spec, &args);
            if keys.is_empty() && c.cmd.name == "debug" {
                // DEBUG OBJECT / DIGEST-VALUE: the keys follow the subcommand.
                keys = (2..c.argv.len()).map(|i| (i, 0)).collect();
            }
            let mut dbs: Vec<u32> = v.iter().map(|s| s.0).collect();
            dbs.dedup();
            for d in dbs {
                for (i, _) in &keys {
                    if let Some(k) = c.argv.get(*i) {
                        load_key(srv, eng, st, &mut c.locks, d, k, &clock, stand_in)?;
                    }
                }
            }
            Ok(())
        }
    }
}

/// FLUSHALL / FLUSHDB: the databases were loaded whole; their keys are deleted from the store
/// before the handler runs, so a save the handler makes (save points) sees the flushed store
/// plus the (emptied) shards. The loaded copies stay resident for WATCH and the handler; if
/// the handler fails, the end of the unit writes them back.
fn predelete_for_flush(c: &mut Ctx<'_, '_>, eng: &DiskEngine) -> Result<(), String> {
    let dbs: Vec<u32> = match c.cmd.name {
        "flushall" => (0..c.srv.keyspace.db_count() as u32).collect(),
        "flushdb" => vec![c.client.db],
        _ => return Ok(()),
    };
    c.client.disk.tokens.clear();
    for ((db, key), origin) in c.client.disk.loaded.iter_mut() {
        if *origin != store::Origin::Missing && dbs.contains(db) {
            store::delete(eng, *db as u16, key)?;
            *origin = store::Origin::Missing;
            c.client.disk.originals.remove(&(*db, key.clone()));
            c.client.disk.compact.remove(&(*db, key.clone()));
        }
    }
    Ok(())
}

/// Loads one key into its locked shard unless the unit already did. `stand_in`: see
/// [`load_for_command`]; an expired field-level key also gets a stand-in (the memory engine
/// then expires it with its usual semantics, and the end of the unit deletes it in O(1)).
#[allow(clippy::too_many_arguments)]
fn load_key(
    srv: &Server,
    eng: &DiskEngine,
    st: &mut ClientDisk,
    locks: &mut LockSet<'_>,
    db: u32,
    key: &Bytes,
    clock: &Clock,
    stand_in: bool,
) -> Result<(), String> {
    if st.whole.contains(&db) {
        return Ok(());
    }
    if let Some(origin) = st.loaded.get(&(db, key.clone())).copied() {
        if origin == store::Origin::Proxy && !stand_in {
            upgrade_proxy(srv, eng, st, locks, db, key, clock)?;
        }
        return Ok(());
    }
    // A key outside the lock plan is not loaded (the handler fails on it with its own error).
    let Some(shard) = locks.for_key(db, key) else {
        return Ok(());
    };
    if let Some(cache) = object_cache(srv) {
        if let Some(r) = cache.take(db, key, shard) {
            // An expired resident copy is not served: the disk decides (the expiry sweep may
            // have deleted and announced it already), as without the cache.
            if !shard.peek(key).is_some_and(|e| e.is_expired(clock.ms)) {
                cache.note_hit();
                checked_out(st, db, key, r);
                return Ok(());
            }
            cache::discard(shard, key);
        }
        cache.note_miss();
    }
    let (read, token) = match st.prefetched.take() {
        Some((d, k, read, token)) if d == db && k == *key => (read, token),
        _ => store::key_meta_tok(eng, db as u16, key, st.want_tokens)?,
    };
    let Some((km, record)) = read else {
        st.loaded.insert((db, key.clone()), store::Origin::Missing);
        if let Some(t) = token {
            st.tokens.push((db, key.clone(), t));
        }
        return Ok(());
    };
    if km.layout == ferrokv_engine_disk::Layout::Fields
        && (stand_in || km.expire_ms.is_some_and(|t| t <= clock.ms))
    {
        st.loaded.insert((db, key.clone()), store::Origin::Proxy);
        let l = (
            store::stand_in(km.kind),
            km.expire_ms,
            store::RecordMeta {
                encoding: 0,
                access: store::ACCESS_FRESH,
            },
        );
        return insert(srv, locks, db, key, l, clock);
    }
    let (found, origin) = store::load_known(eng, db as u16, key, (km, record))?;
    st.loaded.insert((db, key.clone()), origin);
    if let (Some(t), store::Origin::Record) = (token, origin) {
        st.tokens.push((db, key.clone(), t));
    }
    if let Some(mut l) = found {
        keep_original(st, db, key, origin, &l);
        fold_pending(st, db, key, &mut l)?;
        insert(srv, locks, db, key, l, clock)?;
    }
    Ok(())
}

/// Folds the operations a native command of the unit staged on `key` ([`ClientDisk::pending`])
/// into its value just loaded from disk (after [`keep_original`] kept the stored value, so the
/// write-back's delta covers them).
fn fold_pending(
    st: &mut ClientDisk,
    db: u32,
    key: &Bytes,
    l: &mut store::Loaded,
) -> Result<(), String> {
    if st.pending.is_empty() {
        return Ok(());
    }
    if let Some((p, _, _)) = st.pending.remove(&(db, key.clone())) {
        let v = std::mem::replace(&mut l.0, RdbValue::List(Vec::new()));
        l.0 = p
            .delta()
            .apply_to(v)
            .map_err(|e| format!("disk engine error: {e}"))?;
    }
    Ok(())
}

/// Remembers the loaded value of a field-level hash, set, sorted set or list (see
/// [`ClientDisk::originals`]).
fn keep_original(
    st: &mut ClientDisk,
    db: u32,
    key: &Bytes,
    origin: store::Origin,
    l: &store::Loaded,
) {
    if origin == store::Origin::Fields
        && matches!(
            l.0,
            RdbValue::Hash(_) | RdbValue::Set(_) | RdbValue::ZSet(_) | RdbValue::List(_)
        )
    {
        st.originals.insert((db, key.clone()), (l.0.clone(), l.1));
        if store::encoding_name(l.2.encoding).is_some_and(|n| !store::is_field_level_encoding(n)) {
            st.compact.insert((db, key.clone()));
        }
    }
}

/// Replaces the stand-in of a field-level key by its whole value (a later command of the unit
/// needs the value), keeping the expiry the unit gave the stand-in. If the stand-in is gone
/// (deleted or expired by the unit), the key is simply known to have existed on disk.
fn upgrade_proxy(
    srv: &Server,
    eng: &DiskEngine,
    st: &mut ClientDisk,
    locks: &mut LockSet<'_>,
    db: u32,
    key: &Bytes,
    clock: &Clock,
) -> Result<(), String> {
    let k = (db, key.clone());
    st.loaded.insert(k.clone(), store::Origin::Fields);
    let Some(shard) = locks.for_key(db, key) else {
        return Ok(());
    };
    let Some(exp) = shard.peek(key).map(|e| e.expire_at()) else {
        // Deleted by the unit: whatever it staged on the key goes with it.
        st.pending.remove(&k);
        return Ok(());
    };
    let (found, origin) = store::load_with_origin(eng, db as u16, key)?;
    if let Some(mut l) = found {
        keep_original(st, db, key, origin, &l);
        fold_pending(st, db, key, &mut l)?;
        let (v, disk_exp, meta) = l;
        if disk_exp != exp {
            st.changed.insert(k);
        }
        insert_into(srv, shard, key, (v, exp, meta), clock)?;
    }
    Ok(())
}

/// Loads every key of `db`.
fn load_db(
    srv: &Server,
    eng: &DiskEngine,
    st: &mut ClientDisk,
    locks: &mut LockSet<'_>,
    db: u32,
    clock: &Clock,
) -> Result<(), String> {
    st.tokens.clear();
    if st.whole.contains(&db) || !locks.holds_db(db) {
        return Ok(());
    }
    // Resident keys are loaded again like the others (the unit may move or rewrite any key).
    if let Some(cache) = object_cache(srv).filter(|c| !c.is_empty()) {
        for ((d, i), shard) in locks.all_held() {
            if d == db {
                cache.drop_shard(d, i as usize, shard);
            }
        }
    }
    // Whole-database commands may move or rewrite any key: stand-ins become real values.
    let proxies: Vec<Bytes> = st
        .loaded
        .iter()
        .filter(|((d, _), o)| *d == db && **o == store::Origin::Proxy)
        .map(|((_, k), _)| k.clone())
        .collect();
    for k in proxies {
        upgrade_proxy(srv, eng, st, locks, db, &k, clock)?;
    }
    let snap = eng.snapshot();
    for item in snap.keys(db as u16) {
        let (key, _) = item.map_err(|e| format!("disk engine error: {e}"))?;
        let key = Bytes::from(key);
        if st.loaded.contains_key(&(db, key.clone())) {
            continue;
        }
        let (found, origin) = store::load_with_origin(eng, db as u16, &key)?;
        st.loaded.insert((db, key.clone()), origin);
        if let Some(mut l) = found {
            fold_pending(st, db, &key, &mut l)?;
            insert(srv, locks, db, &key, l, clock)?;
        }
    }
    st.whole.push(db);
    Ok(())
}

/// Puts a loaded value into its shard as the memory engine would have built it.
fn insert(
    srv: &Server,
    locks: &mut LockSet<'_>,
    db: u32,
    key: &[u8],
    loaded: store::Loaded,
    clock: &Clock,
) -> Result<(), String> {
    let Some(shard) = locks.for_key(db, key) else {
        return Ok(());
    };
    insert_into(srv, shard, key, loaded, clock)
}

/// [`insert`] into a shard the caller holds.
fn insert_into(
    srv: &Server,
    shard: &mut ferrokv_engine::Shard,
    key: &[u8],
    (v, exp, meta): store::Loaded,
    clock: &Clock,
) -> Result<(), String> {
    let limits = srv.hot.encoding_limits();
    // A value written in a compact encoding stays compact even if the limits were lowered
    // since (Redis converts only when a value grows).
    let build_limits = match store::encoding_name(meta.encoding) {
        Some("listpack" | "intset" | "listpackex") => ferrokv_engine::EncodingLimits {
            hash_max_listpack_entries: usize::MAX,
            hash_max_listpack_value: usize::MAX,
            set_max_intset_entries: usize::MAX,
            set_max_listpack_entries: usize::MAX,
            set_max_listpack_value: usize::MAX,
            zset_max_listpack_entries: usize::MAX,
            zset_max_listpack_value: usize::MAX,
            ..limits
        },
        _ => limits,
    };
    // Hash fields whose TTL passed are kept (clock far in the past): the memory engine expires
    // them itself, with its events, as it does for keys.
    let access = if meta.access == store::ACCESS_FRESH {
        shard.new_access(clock)
    } else {
        meta.access
    };
    match rdb_to_entry(key, &v, exp, access, &build_limits, i64::MIN) {
        Ok(Some(mut e)) => {
            if let Some(want) = store::encoding_name(meta.encoding) {
                if e.encoding_name() != want {
                    force_encoding(&mut e, want, &build_limits);
                }
            }
            shard.insert(e, clock.ms);
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(format!("can't load key from the disk store: {e}")),
    }
}

/// What a record keeps besides the value: the encoding (so big encodings survive a reload, as
/// Redis never converts back to a compact one) and the access value (OBJECT IDLETIME/FREQ as
/// of the last write; reads do not write their access update back).
fn record_meta(e: &ferrokv_engine::Entry) -> store::RecordMeta {
    store::RecordMeta {
        encoding: store::encoding_code(e.encoding_name()),
        access: e.access(),
    }
}

/// Converts a freshly loaded collection to the encoding it had when written.
fn force_encoding(
    e: &mut ferrokv_engine::Entry,
    want: &str,
    limits: &ferrokv_engine::EncodingLimits,
) {
    use ferrokv_engine::set::{Encoding, Set};
    use ferrokv_engine::{Entry, Value};
    if e.kind().is_string() {
        let (key, exp, access) = (e.key().to_vec(), e.expire_at(), e.access());
        let v = e.str_value().to_vec();
        *e = match want {
            "embstr" => Entry::new_plain_string(&key, &v, exp, access),
            "raw" => Entry::new_raw_string(&key, &v, exp, access, 0),
            _ => return,
        };
        return;
    }
    match e.value_mut() {
        Some(Value::Hash(h)) if want == "hashtable" => h.convert(),
        Some(Value::Hash(h)) if want == "listpackex" => h.enable_field_ttls(),
        Some(Value::List(l)) if want == "quicklist" => {
            let items: Vec<Vec<u8>> = l.iter().map(<[u8]>::to_vec).collect();
            let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
            *l = ferrokv_engine::list::List::quicklist_from_items(
                &refs,
                limits.list_max_listpack_size,
            );
        }
        Some(Value::ZSet(z)) if want == "skiplist" => z.convert_to_skiplist(),
        Some(Value::Set(s)) => {
            let enc = match want {
                "hashtable" => Encoding::HashTable,
                "listpack" => Encoding::Listpack,
                "intset" => Encoding::IntSet,
                _ => return,
            };
            let mut members = Vec::with_capacity(s.len());
            s.for_each_member(|m| members.push(m.to_vec()));
            let mut n = Set::with_encoding(enc);
            for m in &members {
                n.add(m, limits);
            }
            *s = n;
        }
        _ => {}
    }
}

/// Ends an execution unit while its locks are held: writes back the keys the unit loaded (or
/// created) when it changed the dataset, deletes loaded keys that are gone, then keeps the
/// eligible keys resident in the hot-object cache ([`cache`]) and drops the others from the
/// shards. Call it where the unit's locks are about to be released (see the module docs).
pub fn flush(srv: &Server, client: &mut Client, locks: &mut LockSet<'_>, now_ms: i64) {
    let Some(state) = srv.disk.get() else {
        return;
    };
    let eng = &state.engine;
    let dirty = client.batch.dirty;
    let st = &mut client.disk;
    if st.idle() {
        // Nothing loaded (e.g. a unit of native commands only, `disk/native.rs`).
        st.dirty_at_start = dirty;
        st.changed.clear();
        st.wrote = false;
        st.tokens.clear();
        st.carry.clear();
        st.originals.clear();
        st.compact.clear();
        st.pending.clear();
        return;
    }
    let changed = st.wrote || dirty != st.dirty_at_start;
    if st.whole.is_empty() && state.cache.budget() > 0 {
        flush_cached(state, st, locks, changed, now_ms);
        st.dirty_at_start = dirty;
        return;
    }
    // Without the cache (or after a whole-database load): every shard is emptied.
    st.carry.clear();
    if !state.cache.is_empty() {
        for ((db, i), shard) in locks.all_held() {
            state.cache.drop_shard(db, i as usize, shard);
        }
    }
    // A field-level key the unit loaded and did not signal as modified is not rewritten (that
    // would be O(size)). Units that loaded whole databases (SWAPDB, FLUSHDB...) move keys
    // around without per-key signals: everything is written back.
    let trust_signals = st.whole.is_empty();
    let mut present: HashSet<(u32, Box<[u8]>)> = HashSet::new();
    let mut writes: Vec<store::Write> = Vec::new();
    let mut deltas = Vec::new();
    for ((db, _), shard) in locks.all_held() {
        if shard.is_empty() {
            continue;
        }
        let table = shard.take_table();
        for e in table.iter() {
            present.insert((db, e.key().into()));
            if !changed {
                continue;
            }
            let k = (db, Bytes::copy_from_slice(e.key()));
            match st.loaded.get(&k) {
                Some(store::Origin::Proxy) => {
                    // Never the stand-in's value: at most its new expiry.
                    if st.changed.contains(&k) {
                        writes.push(store::Write::Expire {
                            db: db as u16,
                            key: e.key().to_vec(),
                            expire_ms: e.expire_at(),
                        });
                    }
                    continue;
                }
                Some(store::Origin::Fields)
                    if trust_signals && !st.changed.contains(&k) && !converted(st, &k, e) =>
                {
                    continue;
                }
                _ => {}
            }
            if let Some(rec) = direct_record(e) {
                writes.push(store::Write::Record {
                    db: db as u16,
                    key: e.key().to_vec(),
                    rec,
                    expire_ms: e.expire_at(),
                });
                continue;
            }
            match entry_to_rdb(e, KEEP_EXPIRED_FIELDS) {
                Some(v)
                    if st.loaded.get(&k) == Some(&store::Origin::Fields)
                        && fields_layout(e)
                        && same_compactness(st, &k, e)
                        && !v.has_field_ttls()
                        && st.originals.contains_key(&k) =>
                {
                    deltas.push((k, v, e.expire_at(), record_meta(e)));
                }
                Some(v) => {
                    if v.has_field_ttls() {
                        if let Some(d) = srv.disk.get() {
                            d.hfe.lock().insert((db, e.key().to_vec()));
                        }
                    }
                    writes.push(store::Write::Put {
                        db: db as u16,
                        key: e.key().to_vec(),
                        value: v,
                        expire_ms: e.expire_at(),
                        meta: record_meta(e),
                    });
                }
                None => writes.push(store::Write::Delete {
                    db: db as u16,
                    key: e.key().to_vec(),
                }),
            }
        }
        drop(table);
    }
    for ((db, key), origin) in st.loaded.drain() {
        if origin != store::Origin::Missing && !present.contains(&(db, Box::from(&key[..]))) {
            writes.push(store::Write::Delete {
                db: db as u16,
                key: key.to_vec(),
            });
        }
    }
    st.changed.clear();
    st.whole.clear();
    st.wrote = false;
    st.dirty_at_start = dirty;
    // Only a unit that loaded no whole database keeps its tokens (see `ClientDisk::tokens`).
    let known = if trust_signals {
        std::mem::take(&mut st.tokens)
    } else {
        Vec::new()
    };
    st.tokens.clear();
    write_back(eng, st, &writes, &deltas, now_ms, &known);
    st.originals.clear();
    st.compact.clear();
    st.pending.clear();
}

/// A field-level key the unit loaded and changed, to be written as its element delta against
/// [`ClientDisk::originals`]: (key, new value, new expiry, encoding and access).
type PendingDelta = ((u32, Bytes), RdbValue, Option<i64>, store::RecordMeta);

/// Writes a unit's write-back as ONE engine batch ([`store::apply_unit`]), so a crash never
/// leaves it half applied: `writes` whole, each of `deltas` as the difference from its
/// original in [`ClientDisk::originals`] (only the changed elements; rewritten whole when it
/// has no element form or no original), and the operations native commands staged
/// ([`ClientDisk::pending`]). Returns the tokens of `writes`, or `None` after a failure
/// (logged; nothing of the unit was written).
fn write_back(
    eng: &ferrokv_engine_disk::DiskEngine,
    st: &ClientDisk,
    writes: &[store::Write],
    deltas: &[PendingDelta],
    now_ms: i64,
    known: &[(u32, Bytes, ferrokv_engine_disk::MetaToken)],
) -> Option<Vec<Option<ferrokv_engine_disk::MetaToken>>> {
    let dw: Vec<store::DeltaWrite<'_>> = deltas
        .iter()
        .map(|((db, key), v, exp, meta)| store::DeltaWrite {
            db: *db as u16,
            key,
            old: st.originals.get(&(*db, key.clone())),
            new: v,
            expire_ms: *exp,
            meta: *meta,
        })
        .collect();
    let staged: Vec<store::StagedWrite<'_>> = st
        .pending
        .iter()
        .map(|((db, key), (p, exp, _))| store::StagedWrite {
            db: *db as u16,
            key,
            delta: p.delta(),
            expire_ms: *exp,
        })
        .collect();
    match store::apply_unit(eng, writes, &dw, &staged, now_ms, known) {
        Ok(mut tokens) => {
            tokens.truncate(writes.len());
            Some(tokens)
        }
        Err(e) => {
            crate::log_warning!("Writing to the disk store failed: {}", e);
            None
        }
    }
}

/// Where the stored value of a resident field-level hash, set or sorted set comes from once
/// the unit is written back (the base of the next delta, [`cache::Resident::original`]).
enum Base {
    /// Not kept (record layout, lists).
    None,
    /// The value the write-back stored with `writes[i]`.
    Write(usize),
    /// The value the write-back stored as the delta `deltas[i]`.
    Delta(usize),
    /// Unchanged by the unit: the original it loaded, else converted from the entry.
    Kept,
}

/// A key present in its shard at the end of a unit (see [`flush_cached`]).
struct Candidate {
    db: u32,
    key: Bytes,
    /// Eligible to stay resident (else it leaves the shard after the write-back).
    keep: bool,
    /// How it is stored once written back.
    origin: store::Origin,
    base: Base,
    /// Index of the key's write in the unit's batch (its token is the next resident token).
    write: Option<usize>,
}

/// The stored record of a compact list or sorted set, encoded straight from the entry
/// (`store::encode_list` / `encode_zset`): the write-back of such a key then makes no
/// per-element copy (`entry_to_rdb`). `None` for anything else (strings, hashes, sets, big
/// encodings, which take the `RdbValue` path).
fn direct_record(e: &ferrokv_engine::Entry) -> Option<RdbValue> {
    use ferrokv_engine::Value;
    match e.value()? {
        Value::List(l) if !fields_layout(e) => {
            let bytes = l.iter().map(<[u8]>::len).sum();
            Some(store::encode_list(l.len(), bytes, l.iter(), record_meta(e)))
        }
        Value::ZSet(z) if !fields_layout(e) => {
            store::encode_zset(z.len(), |f| z.for_each(f), record_meta(e))
        }
        _ => None,
    }
}

/// Whether a field-level key is still stored as the unit loaded it: compact (flag set) and
/// still in a compact encoding, or big and still big; only then is its element delta written
/// (else it is rewritten whole, with the flag its encoding implies).
fn same_compactness(st: &ClientDisk, k: &(u32, Bytes), e: &ferrokv_engine::Entry) -> bool {
    st.compact.contains(k) != store::is_field_level_encoding(e.encoding_name())
}

/// Whether a key loaded with the engine's compact flag ([`ClientDisk::compact`]) is in a big
/// encoding now: a command may convert it without changing an element (`ZADD XX` with a long
/// member), and the conversion must reach the disk although nothing signalled a change.
fn converted(st: &ClientDisk, k: &(u32, Bytes), e: &ferrokv_engine::Entry) -> bool {
    st.compact.contains(k) && store::is_field_level_encoding(e.encoding_name())
}

/// Whether an entry is stored field-level at write-back: a big encoding, or a compact one
/// stored with the engine's compact flag (`store::is_compact_fields`).
fn fields_layout(e: &ferrokv_engine::Entry) -> bool {
    let Some(v) = e.value() else {
        return false;
    };
    let name = v.encoding_name();
    store::is_field_level_encoding(name)
        || store::is_compact_fields(kind_of_value(v), name, v.len())
}

/// The engine's type of an in-memory value.
fn kind_of_value(v: &ferrokv_engine::Value) -> ferrokv_engine_disk::KeyType {
    use ferrokv_engine::Value;
    use ferrokv_engine_disk::KeyType;
    match v {
        Value::List(_) => KeyType::List,
        Value::Hash(_) => KeyType::Hash,
        Value::Set(_) => KeyType::Set,
        Value::ZSet(_) => KeyType::ZSet,
    }
}

/// Whether an entry may stay resident: live, not a stream, no hash field TTLs (the field
/// expiry cycle works on the disk copy), and if stored field-level, not of a size the native
/// paths handle (`native::NATIVE_MIN_LEN`; field-level lists and sorted sets at any size,
/// `native::native_at_any_size`), which must never meet a resident copy.
fn cacheable(e: &ferrokv_engine::Entry, now_ms: i64) -> bool {
    use ferrokv_engine::Value;
    if e.is_expired(now_ms) || e.kind().type_name() == "stream" {
        return false;
    }
    match e.value() {
        None => true,
        Some(v) => {
            if let Value::Hash(h) = v {
                if h.next_expiry().is_some() {
                    return false;
                }
            }
            !fields_layout(e)
                || (!native::native_at_any_size(kind_of_value(v))
                    && (v.len() as u64) < native::NATIVE_MIN_LEN)
        }
    }
}

/// Keys in the shards `locks` holds that are neither resident nor loaded by the unit (a
/// handler wrote a key its command did not declare). O(held shards + loaded keys) unless the
/// counts disagree, then O(keys of that shard).
fn find_strays(
    cache: &cache::ObjectCache,
    loaded: &[((u32, Bytes), store::Origin)],
    locks: &mut LockSet<'_>,
) -> Vec<(u32, Bytes)> {
    let mut present: HashMap<(u32, usize), usize> = HashMap::new();
    for ((db, key), _) in loaded {
        if locks
            .for_key(*db, key)
            .is_some_and(|s| s.peek(key).is_some())
        {
            *present
                .entry((*db, crate::keyspace::shard_of(key)))
                .or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for ((db, i), shard) in locks.all_held() {
        if shard.is_empty() {
            continue;
        }
        let slot = cache.slot(db, i as usize).map(|s| s.lock());
        let listed = slot.as_ref().map_or(0, |s| s.len());
        let mine = present.get(&(db, i as usize)).copied().unwrap_or(0);
        if shard.len() == listed + mine {
            continue;
        }
        let keys: HashSet<&[u8]> = loaded
            .iter()
            .filter(|((d, _), _)| *d == db)
            .map(|((_, k), _)| &k[..])
            .collect();
        for e in shard.live_entries(i64::MIN) {
            if keys.contains(e.key()) || slot.as_ref().is_some_and(|s| s.contains(e.key())) {
                continue;
            }
            out.push((db, Bytes::copy_from_slice(e.key())));
        }
    }
    out
}

/// [`flush`] with the hot-object cache on, for a unit that loaded no whole database: only the
/// keys the unit loaded (and strays, [`find_strays`]) are written back; afterwards the
/// eligible ones stay resident and the cache evicts down to its budget in the held shards.
fn flush_cached(
    state: &DiskState,
    st: &mut ClientDisk,
    locks: &mut LockSet<'_>,
    changed: bool,
    now_ms: i64,
) {
    let eng = &state.engine;
    let cache = &state.cache;
    let mut loaded: Vec<((u32, Bytes), store::Origin)> = st.loaded.drain().collect();
    let declared = loaded.len();
    let strays = find_strays(cache, &loaded, locks);
    loaded.extend(strays.into_iter().map(|k| (k, store::Origin::Missing)));
    let mut writes: Vec<store::Write> = Vec::new();
    let mut deltas = Vec::new();
    let mut cands: Vec<Candidate> = Vec::with_capacity(loaded.len());
    for (idx, ((db, key), origin)) in loaded.into_iter().enumerate() {
        let Some(shard) = locks.for_key(db, &key) else {
            continue;
        };
        let Some(e) = shard.peek(&key) else {
            if origin != store::Origin::Missing {
                writes.push(store::Write::Delete {
                    db: db as u16,
                    key: key.to_vec(),
                });
            }
            continue;
        };
        let fl = fields_layout(e);
        let mut keep = idx < declared && origin != store::Origin::Proxy && cacheable(e, now_ms);
        let wants_base = fl
            && matches!(
                e.value(),
                Some(
                    ferrokv_engine::Value::Hash(_)
                        | ferrokv_engine::Value::Set(_)
                        | ferrokv_engine::Value::ZSet(_)
                        | ferrokv_engine::Value::List(_)
                )
            );
        let mut base = if wants_base { Base::Kept } else { Base::None };
        let mut write = None;
        let k = (db, key);
        if changed {
            match origin {
                store::Origin::Proxy => {
                    // Never the stand-in's value: at most its new expiry.
                    if st.changed.contains(&k) {
                        writes.push(store::Write::Expire {
                            db: db as u16,
                            key: k.1.to_vec(),
                            expire_ms: e.expire_at(),
                        });
                    }
                }
                // A field-level key the unit did not signal as modified is not rewritten.
                store::Origin::Fields if !st.changed.contains(&k) && !converted(st, &k, e) => {}
                _ if !fl
                    && direct_record(e).is_some_and(|rec| {
                        write = Some(writes.len());
                        writes.push(store::Write::Record {
                            db: db as u16,
                            key: k.1.to_vec(),
                            rec,
                            expire_ms: e.expire_at(),
                        });
                        true
                    }) => {}
                _ => match entry_to_rdb(e, KEEP_EXPIRED_FIELDS) {
                    Some(v)
                        if origin == store::Origin::Fields
                            && fl
                            && same_compactness(st, &k, e)
                            && !v.has_field_ttls()
                            && st.originals.contains_key(&k) =>
                    {
                        if wants_base {
                            base = Base::Delta(deltas.len());
                        }
                        deltas.push((k.clone(), v, e.expire_at(), record_meta(e)));
                    }
                    Some(v) => {
                        if v.has_field_ttls() {
                            state.hfe.lock().insert((db, k.1.to_vec()));
                        }
                        if wants_base {
                            base = Base::Write(writes.len());
                        }
                        write = Some(writes.len());
                        writes.push(store::Write::Put {
                            db: db as u16,
                            key: k.1.to_vec(),
                            value: v,
                            expire_ms: e.expire_at(),
                            meta: record_meta(e),
                        });
                    }
                    None => {
                        keep = false;
                        writes.push(store::Write::Delete {
                            db: db as u16,
                            key: k.1.to_vec(),
                        });
                    }
                },
            }
        }
        cands.push(Candidate {
            db: k.0,
            key: k.1,
            keep,
            origin: if fl {
                store::Origin::Fields
            } else {
                store::Origin::Record
            },
            base,
            write,
        });
    }
    st.changed.clear();
    st.wrote = false;
    let mut known = std::mem::take(&mut st.tokens);
    let mut carry = std::mem::take(&mut st.carry);
    let written = write_back(eng, st, &writes, &deltas, now_ms, &known);
    st.pending.clear();
    let ok = written.is_some();
    let mut tokens = written.unwrap_or_default();
    let mut delta_vals: Vec<Option<(RdbValue, Option<i64>)>> = deltas
        .into_iter()
        .map(|(_, v, exp, _)| Some((v, exp)))
        .collect();
    let mut write_vals: Vec<Option<(RdbValue, Option<i64>)>> = writes
        .into_iter()
        .map(|w| match w {
            store::Write::Put {
                value, expire_ms, ..
            } => Some((value, expire_ms)),
            _ => None,
        })
        .collect();
    let on = cache.budget() > 0;
    for c in cands {
        let Some(shard) = locks.for_key(c.db, &c.key) else {
            continue;
        };
        let keep = c.keep && ok && on;
        let base = match c.base {
            Base::None => None,
            Base::Write(i) => write_vals.get_mut(i).and_then(Option::take),
            Base::Delta(i) => delta_vals.get_mut(i).and_then(Option::take),
            Base::Kept if keep => st.originals.remove(&(c.db, c.key.clone())).or_else(|| {
                shard
                    .peek(&c.key)
                    .and_then(|e| entry_to_rdb(e, KEEP_EXPIRED_FIELDS).map(|v| (v, e.expire_at())))
            }),
            Base::Kept => None,
        };
        if !keep {
            cache::discard(shard, &c.key);
            continue;
        }
        let Some(e) = shard.peek(&c.key) else {
            continue;
        };
        let bytes = cache::entry_bytes(e, base.as_ref().map(|b| &b.0));
        let mut r = cache::Resident::new(c.origin, base, bytes);
        if c.origin == store::Origin::Record && e.expire_at().is_none() {
            // The stored state as this unit leaves it: the token of its write, or (the key
            // was not written) the token it was loaded with.
            r.token = match c.write {
                Some(i) => tokens.get_mut(i).and_then(Option::take),
                None if !changed => take_token(&mut known, c.db, &c.key)
                    .or_else(|| take_token(&mut carry, c.db, &c.key)),
                None => None,
            };
        }
        cache.put(c.db, &c.key, r);
    }
    st.originals.clear();
    st.compact.clear();
    if cache.over_budget() {
        for ((db, i), shard) in locks.all_held() {
            if !cache.over_budget() {
                break;
            }
            cache.evict_in(db, i as usize, shard);
        }
    }
}

/// Removes and returns the token of `(db, key)` from `list`.
fn take_token(list: &mut Vec<(u32, Bytes, MetaToken)>, db: u32, key: &[u8]) -> Option<MetaToken> {
    let i = list
        .iter()
        .position(|(d, k, _)| *d == db && k[..] == *key)?;
    Some(list.swap_remove(i).2)
}

/// Loads the keys a client WATCHes (EXEC checks whether they expired since WATCH) into the
/// shards `locks` holds. The caller ends the unit with [`flush`] in every case.
pub fn load_watched(srv: &Server, client: &mut Client, locks: &mut LockSet<'_>, now_ms: i64) {
    let Some(eng) = engine(srv) else {
        return;
    };
    if client.disk.idle() {
        client.disk.dirty_at_start = client.batch.dirty;
    }
    client.disk.want_tokens = false;
    let clock = Clock {
        ms: now_ms,
        touch: false,
        rand: 0,
    };
    let keys: Vec<(u32, Bytes)> = client
        .watch
        .keys
        .iter()
        .map(|w| (w.db, w.key.clone()))
        .collect();
    for (db, key) in keys {
        if let Err(e) = load_key(srv, eng, &mut client.disk, locks, db, &key, &clock, true) {
            crate::log_warning!("{}", e);
        }
    }
}

/// INFO keyspace in disk mode: `(keys, keys with an expiry)` of every database from the
/// engine's counters (DBSIZE's O(1) counter; the deadline index for `expires`, O(keys with a
/// TTL)), never a scan of the keys. Like Redis, both include expired keys not reclaimed yet.
/// A failed read leaves that database's figures as they were (the memory shards' counts).
pub fn keyspace_counts(srv: &Server, dbs: &mut [(usize, usize)]) {
    let Some(eng) = engine(srv) else {
        return;
    };
    for (db, slot) in dbs.iter_mut().enumerate() {
        let Ok(db) = u16::try_from(db) else {
            break;
        };
        if let (Ok(keys), Ok(volatile)) = (eng.dbsize(db, 0), eng.volatile_count(db)) {
            *slot = (
                usize::try_from(keys).unwrap_or(usize::MAX),
                usize::try_from(volatile).unwrap_or(usize::MAX),
            );
        }
    }
}

/// The active expiry cycle in disk mode: deletes due keys through the engine's deadline
/// index and announces them (`expired` events, WATCH, tracking, `DEL` propagation), each
/// under its shard lock. Returns how many keys expired.
pub fn active_expire(srv: &Server, max_keys: usize) -> usize {
    let Some(state) = srv.disk.get() else {
        return 0;
    };
    let eng = &state.engine;
    // Units evict only from the shards they hold; whatever they could not is trimmed here.
    state.cache.trim_all(srv);
    let now = crate::util::now_ms();
    let due = match eng.expire_sweep(now, max_keys) {
        Ok(d) => d,
        Err(e) => {
            crate::log_warning!("Disk engine expiry sweep failed: {}", e);
            return 0;
        }
    };
    let n = due.len();
    for (db, key) in due {
        let db = u32::from(db);
        let Some(mut guard) = srv
            .keyspace
            .lock_one(db as usize, crate::keyspace::shard_of(&key))
        else {
            continue;
        };
        // The disk copy is gone: so is the resident one (silently; announced below).
        state.cache.drop_key(db, &key, &mut guard);
        crate::watch::signal_modified_in(&srv.watches, db, &key);
        crate::tracking::invalidate_key(srv, None, &key);
        crate::propagate::feed_background(srv, vec![crate::propagate::del_effect(db, &key)]);
        guard.stats.expired_keys += 1;
        drop(guard);
        crate::notify::publish_expired(srv, db, &[key.into_boxed_slice()]);
    }
    n
}

/// SCAN on the disk engine: the cursor is the engine's hash-ordered position (a plain `u64`,
/// no server state); every key present for the whole iteration is returned at least once.
fn scan(c: &mut Ctx<'_, '_>, eng: &DiskEngine) -> CmdResult {
    use crate::cmd::generic::{parse_scan_options, ScanExtra, ScanOptions};
    let cursor = crate::cmd::generic::parse_cursor(c.arg(1))?;
    let ScanOptions {
        count,
        pattern,
        type_name,
        ..
    } = parse_scan_options(c.argv, 2, ScanExtra::Type)?;
    let db = c.db() as u16;
    let now = c.now_ms();
    let (next, keys) = eng.scan(db, cursor, count, None, None, now).map_err(|e| {
        CmdError(std::borrow::Cow::Owned(format!(
            "ERR disk engine error: {e}"
        )))
    })?;
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(keys.len());
    for k in keys {
        if pattern.is_some_and(|p| !crate::glob::glob_match(p, &k, false)) {
            continue;
        }
        if let Some(t) = type_name {
            let name = store::type_name(eng, db, &k)
                .map_err(|e| CmdError(std::borrow::Cow::Owned(format!("ERR {e}"))))?;
            match name {
                Some(n) if n.as_bytes().eq_ignore_ascii_case(t) => {}
                _ => continue,
            }
        }
        out.push(k);
    }
    let r = c.out();
    r.array(2);
    r.bulk(itoa::Buffer::new().format(next).as_bytes());
    r.array(out.len());
    for k in &out {
        r.bulk(k);
    }
    Ok(())
}

/// Whether some hash in the snapshot has field TTLs (the RDB then needs version 12).
/// O(hash data): reads every hash record.
pub fn snapshot_has_field_ttls(snap: &ferrokv_engine_disk::DiskSnapshot, dbs: usize) -> bool {
    for db in 0..dbs as u16 {
        for (key, info) in snap.keys(db).flatten() {
            let v = match info.kind {
                ferrokv_engine_disk::KeyType::String => match snap.get(db, &key) {
                    Ok(Some(rec)) if store::type_name_of_record(&rec) == "hash" => {
                        store::decode(&rec).ok()
                    }
                    _ => None,
                },
                ferrokv_engine_disk::KeyType::Hash => {
                    snap.load_value(db, &key).ok().flatten().map(|(v, _)| v)
                }
                _ => None,
            };
            if v.is_some_and(|v| v.has_field_ttls()) {
                return true;
            }
        }
    }
    false
}

/// Writes every live key of the disk snapshot into an RDB writer (SAVE, BGSAVE, SHUTDOWN,
/// DEBUG RELOAD in disk mode). Reads lazily: memory stays bounded by the largest value.
/// Returns the number of keys written.
pub fn write_snapshot<W: std::io::Write>(
    w: &mut ferrokv_rdb::RdbWriter<W>,
    snap: &ferrokv_engine_disk::DiskSnapshot,
    dbs: usize,
    now_ms: i64,
) -> Result<u64, String> {
    let io = |e: std::io::Error| format!("Write error saving DB on disk: {e}");
    let mut n = 0u64;
    for db in 0..dbs as u16 {
        let mut selected = false;
        for item in snap.keys(db) {
            let (key, info) = item.map_err(|e| format!("disk engine error: {e}"))?;
            if info.expire.is_some_and(|t| t <= now_ms) {
                continue;
            }
            let mut value = if info.kind == ferrokv_engine_disk::KeyType::String {
                let Some(rec) = snap
                    .get(db, &key)
                    .map_err(|e| format!("disk engine error: {e}"))?
                else {
                    continue;
                };
                store::decode(&rec)?
            } else {
                let Some((v, _)) = snap
                    .load_value(db, &key)
                    .map_err(|e| format!("disk engine error: {e}"))?
                else {
                    continue;
                };
                v
            };
            if let RdbValue::Hash(fields) = &mut value {
                fields.retain(|f| f.expire_ms.is_none_or(|t| t > now_ms));
            }
            if value.is_empty_collection() {
                continue;
            }
            if !selected {
                w.select_db(u64::from(db), 0, 0).map_err(io)?;
                selected = true;
            }
            let rec = ferrokv_rdb::KeyRecord {
                db: u64::from(db),
                key,
                value,
                expire_ms: info.expire,
                lru_idle: None,
                lfu_freq: None,
            };
            w.write_record(&rec).map_err(|e| e.to_string())?;
            n += 1;
        }
    }
    Ok(n)
}

/// Deletes every key of every database from the disk store (DEBUG RELOAD before loading the
/// file back). O(keys).
pub fn delete_all(srv: &Server) -> Result<(), String> {
    let Some(eng) = engine(srv) else {
        return Ok(());
    };
    if let Some(cache) = object_cache(srv).filter(|c| !c.is_empty()) {
        for db in 0..srv.keyspace.db_count() {
            for i in 0..crate::keyspace::SHARDS {
                if let Some(mut shard) = srv.keyspace.lock_one(db, i) {
                    cache.drop_shard(db as u32, i, &mut shard);
                }
            }
        }
    }
    let snap = eng.snapshot();
    for db in 0..srv.keyspace.db_count() as u16 {
        for item in snap.keys(db) {
            let (key, _) = item.map_err(|e| format!("disk engine error: {e}"))?;
            store::delete(eng, db, &key)?;
        }
    }
    Ok(())
}

/// The `# Disk` INFO section (disk mode only): the engine's figures.
pub fn info_section(srv: &Server, out: &mut String) {
    use std::fmt::Write;
    let Some(eng) = engine(srv) else {
        return;
    };
    let s = eng.stats();
    out.push_str("# Disk\r\n");
    let fsync = match eng.fsync() {
        Fsync::Always => "always",
        Fsync::EverySec => "everysec",
        Fsync::No => "no",
    };
    let _ = write!(out, "disk_fsync:{fsync}\r\n");
    let mut f = |name: &str, v: u64| {
        let _ = write!(out, "{name}:{v}\r\n");
    };
    f("disk_used_bytes", s.disk_bytes);
    f("disk_journal_bytes", s.journal_bytes);
    f("disk_cache_capacity", s.cache_capacity);
    f("disk_cache_used_bytes", s.cache_bytes);
    f("disk_write_buffer_bytes", s.write_buffer_bytes);
    f("disk_pending_flushes", s.outstanding_flushes as u64);
    f("disk_running_compactions", s.active_compactions as u64);
    f("disk_completed_compactions", s.compactions_completed as u64);
    f("disk_gc_dropped_records", s.gc_dropped);
    let [meta, data, zscore, expire] = s.approx_records;
    f("disk_records_meta", meta as u64);
    f("disk_records_data", data as u64);
    f("disk_records_zscore", zscore as u64);
    f("disk_records_expire", expire as u64);
    f("disk_cache_hits", s.cache_hits);
    f("disk_cache_misses", s.cache_misses);
    let lookups = s.cache_hits + s.cache_misses;
    // Percent with two decimals; 0 before the first block load (like Redis's hit ratios).
    let rate = if lookups == 0 {
        0.0
    } else {
        s.cache_hits as f64 * 100.0 / lookups as f64
    };
    let _ = write!(out, "disk_cache_hit_rate:{rate:.2}\r\n");
    let mut f = |name: &str, v: u64| {
        let _ = write!(out, "{name}:{v}\r\n");
    };
    f("disk_l0_tables_max", s.max_l0_tables as u64);
    f("disk_sealed_memtables_max", s.max_sealed_memtables as u64);
    f("disk_write_stalled", u64::from(s.write_stalled));
    f("disk_write_buffer_limit", s.write_buffer_limit);
    f("disk_writes_throttled", s.writes_throttled);
    f("disk_blind_writes", s.blind_writes);
    f("disk_compaction_rate", s.compaction_rate);
    f("disk_compaction_bytes", s.compaction_bytes);
    f("disk_compaction_throttled_ms", s.compaction_throttled_ms);
    f("disk_gc_pending_records_estimate", s.gc_pending_estimate);
    f("disk_flushed_dbs", s.flushed_dbs);
    if let Some(c) = object_cache(srv) {
        let cs = c.stats();
        f("disk_object_cache_budget", c.budget());
        f("disk_object_cache_bytes", cs.bytes);
        f("disk_object_cache_keys", cs.keys);
        f("disk_object_cache_hits", cs.hits);
        f("disk_object_cache_misses", cs.misses);
        f("disk_object_cache_evictions", cs.evictions);
    }
}

/// Hashes visited per cycle by [`active_expire_fields`].
const HFE_KEYS_PER_CYCLE: usize = 16;

/// The active expiry of hash fields in disk mode: loads a few hashes known to have field
/// TTLs into their (locked) shard, lets the memory engine reclaim their due fields (same
/// events and signals as the memory cycle), and writes them back. O(hash size) per visit.
pub fn active_expire_fields(srv: &Server) {
    let Some(state) = srv.disk.get() else {
        return;
    };
    let eng = &state.engine;
    let batch: Vec<(u32, Vec<u8>)> = state
        .hfe
        .lock()
        .iter()
        .take(HFE_KEYS_PER_CYCLE)
        .cloned()
        .collect();
    for (db, key) in batch {
        let now = crate::util::now_ms();
        let clock = Clock {
            ms: now,
            touch: false,
            rand: 0,
        };
        let Some(mut shard) = srv
            .keyspace
            .lock_one(db as usize, crate::keyspace::shard_of(&key))
        else {
            continue;
        };
        // Hashes with field TTLs are not kept resident; a copy from before they got one goes.
        state.cache.drop_key(db, &key, &mut shard);
        let loaded = match store::load(eng, db as u16, &key) {
            Ok(Some(l)) => l,
            Ok(None) => {
                state.hfe.lock().remove(&(db, key));
                continue;
            }
            Err(e) => {
                crate::log_warning!("{}", e);
                continue;
            }
        };
        let meta = loaded.2;
        if let Err(e) = insert_into(srv, &mut shard, &key, loaded, &clock) {
            crate::log_warning!("{}", e);
        }
        let mut hashes = Vec::new();
        shard.active_expire_fields_into(now, 256, &mut hashes);
        for (k, _) in &hashes {
            crate::watch::signal_modified_in(&srv.watches, db, k);
            crate::tracking::invalidate_key(srv, None, k);
        }
        // Only this hash leaves the shard: other keys there may be resident.
        let taken = shard.remove(&key, i64::MIN);
        let mut keep = false;
        let r = match taken.as_ref() {
            Some(e) => match entry_to_rdb(e, KEEP_EXPIRED_FIELDS) {
                Some(v) => {
                    keep = v.has_field_ttls();
                    let m = store::RecordMeta {
                        encoding: store::encoding_code(e.encoding_name()),
                        access: meta.access,
                    };
                    if hashes.is_empty() {
                        Ok(())
                    } else {
                        store::put(eng, db as u16, &key, &v, e.expire_at(), m, now)
                    }
                }
                None => store::delete(eng, db as u16, &key),
            },
            None => store::delete(eng, db as u16, &key),
        };
        drop(taken);
        let expired_keys = shard.drain_expired();
        drop(shard);
        if let Err(e) = r {
            crate::log_warning!("{}", e);
        }
        if !keep {
            state.hfe.lock().remove(&(db, key));
        }
        crate::notify::publish_expired(srv, db, &expired_keys);
        crate::notify::publish_hash_expired(srv, db, &hashes);
    }
}

/// Writes one entry read by the RDB loader into the disk store (startup import, DEBUG
/// RELOAD). Returns `false` (nothing done) when the server runs on the memory engine.
pub fn import_entry(
    srv: &Server,
    db: u32,
    e: &ferrokv_engine::Entry,
    now_ms: i64,
) -> Result<bool, String> {
    let Some(eng) = engine(srv) else {
        return Ok(false);
    };
    if let Some(v) = entry_to_rdb(e, now_ms) {
        put_entry(srv, eng, db, e, &v, now_ms)?;
    }
    Ok(true)
}

/// Stores entry `e` of database `db` as `v` (its neutral form), registering a hash with field
/// TTLs for the active field-expiry step.
fn put_entry(
    srv: &Server,
    eng: &DiskEngine,
    db: u32,
    e: &ferrokv_engine::Entry,
    v: &RdbValue,
    now_ms: i64,
) -> Result<(), String> {
    if v.has_field_ttls() {
        if let Some(d) = srv.disk.get() {
            d.hfe.lock().insert((db, e.key().to_vec()));
        }
    }
    store::put(
        eng,
        db as u16,
        e.key(),
        v,
        e.expire_at(),
        record_meta(e),
        now_ms,
    )
}
