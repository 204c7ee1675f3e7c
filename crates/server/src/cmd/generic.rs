//! Generic key commands (Redis's "generic" group): DEL, UNLINK, EXISTS, TYPE, RENAME, RENAMENX,
//! COPY, MOVE, KEYS, SCAN, RANDOMKEY, TOUCH, the EXPIRE family, TTL family, PERSIST, OBJECT and
//! WAIT.
//!
//! Statistics follow Redis's lookups: commands that read a key the way `lookupKeyRead` does
//! (EXISTS, TYPE, TTL..., OBJECT, TOUCH, COPY's source) count a keyspace hit or miss; write
//! lookups (DEL, RENAME, MOVE, EXPIRE, PERSIST) do not. EXISTS, TYPE, the TTL family and OBJECT
//! do not update the key's access time (`LOOKUP_NOTOUCH`).
//!
//! # SCAN cursors
//! The keyspace of a database is [`SHARDS`] shards, each scanned in hash order
//! ([`Shard::scan`]). A cursor is `(shard index << 48) | (position >> 16)`: positions are
//! multiples of 2^16 ([`SCAN_POSITION_BITS`] = 48), so the low 48 bits hold the position exactly.
//! A full iteration returns every key present throughout exactly once, however the shards grow
//! or shrink meanwhile, because a key's place in hash order never changes.

use crate::args;
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdError, CmdResult};
use crate::glob::glob_match;
use crate::keyspace::{shard_of, LockPlan, SHARDS};
use crate::lazyfree;
use crate::notify;
use bytes::Bytes;
use ferrokv_engine::shard::lfu_decayed;
use ferrokv_engine::table::SCAN_POSITION_BITS;
use ferrokv_engine::{AccessMode, Clock, Entry, Kind, Shard};

/// Binds the group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("del", del, Locking::Keys);
    t.add("unlink", unlink, Locking::Keys);
    t.add("exists", exists, Locking::Keys);
    t.add("type", type_cmd, Locking::Keys);
    t.add("rename", rename, Locking::Keys);
    t.add("renamenx", renamenx, Locking::Keys);
    t.add("copy", copy, Locking::Custom(copy_plan));
    t.add("move", move_cmd, Locking::Custom(move_plan));
    t.add("keys", keys, Locking::Db);
    t.add("scan", scan, Locking::Manual);
    t.add("randomkey", randomkey, Locking::Db);
    t.add("touch", touch, Locking::Keys);
    t.add("expire", expire, Locking::Keys);
    t.add("pexpire", pexpire, Locking::Keys);
    t.add("expireat", expireat, Locking::Keys);
    t.add("pexpireat", pexpireat, Locking::Keys);
    t.add("ttl", ttl, Locking::Keys);
    t.add("pttl", pttl, Locking::Keys);
    t.add("expiretime", expiretime, Locking::Keys);
    t.add("pexpiretime", pexpiretime, Locking::Keys);
    t.add("persist", persist, Locking::Keys);
    t.add("object|encoding", object_encoding, Locking::Keys);
    t.add("object|freq", object_freq, Locking::Keys);
    t.add("object|idletime", object_idletime, Locking::Keys);
    t.add("object|refcount", object_refcount, Locking::Keys);
    t.add("object|help", object_help, Locking::None);
    t.add("wait", wait, Locking::None);
}

/// `ERR source and destination objects are the same`
pub const SAME_OBJECT: CmdError = CmdError::new("ERR source and destination objects are the same");
/// EXPIRE with NX plus XX, GT or LT.
pub const EXPIRE_NX_CONFLICT: CmdError =
    CmdError::new("ERR NX and XX, GT or LT options at the same time are not compatible");
/// EXPIRE with GT and LT.
pub const EXPIRE_GT_LT_CONFLICT: CmdError =
    CmdError::new("ERR GT and LT options at the same time are not compatible");
/// OBJECT FREQ without an LFU policy.
pub const FREQ_NEEDS_LFU: CmdError = CmdError::new(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
);
/// OBJECT IDLETIME under an LFU policy.
pub const IDLETIME_UNDER_LFU: CmdError = CmdError::new(
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
);
/// An integer argument outside the C `int` range (Redis's getIntFromObjectOrReply).
pub const INT_RANGE: CmdError =
    CmdError::new("ERR value is out of range, value must between -2147483648 and 2147483647");
/// WAIT's timeout argument is not an integer.
pub const WAIT_TIMEOUT_NOT_INTEGER: CmdError =
    CmdError::new("ERR timeout is not an integer or out of range");

/// Redis's OBJ_SHARED_REFCOUNT: the reference count OBJECT REFCOUNT shows for shared integers.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Redis's OBJ_SHARED_INTEGERS: integer strings in `0..10000` are shared objects.
const SHARED_INTEGERS: i64 = 10_000;

/// The command's clock without access-time updates (Redis's `LOOKUP_NOTOUCH`).
fn no_touch(c: &Ctx) -> Clock {
    Clock {
        touch: false,
        ..c.clock
    }
}

/// Whether a boolean configuration parameter is `yes`.
fn config_yes(c: &Ctx, name: &str) -> bool {
    c.srv.config.read().get_bool(name).unwrap_or(false)
}

/// Frees a removed entry; big ones go to the lazyfree thread when `lazy` or when the named
/// `lazyfree-lazy-*` parameter is on. The configuration is only read for big entries.
fn release(c: &Ctx, e: Entry, lazy: bool, param: &str) {
    if lazyfree::free_effort(&e) <= lazyfree::LAZYFREE_THRESHOLD {
        drop(e);
        return;
    }
    let lazy = lazy || config_yes(c, param);
    lazyfree::release(e, lazy);
}

// ---------------------------------------------------------------------------------------------
// DEL, UNLINK, EXISTS, TYPE, TOUCH

fn del_generic(c: &mut Ctx, lazy: bool) -> CmdResult {
    let now = c.now_ms();
    let mut removed = Vec::new();
    for i in 1..c.argv.len() {
        let key = c.arg(i);
        if let Some(e) = c.shard(key)?.remove(key, now) {
            removed.push(e);
            c.modified(key);
            c.notify(notify::GENERIC, "del", key);
        }
    }
    let n = removed.len();
    for e in removed {
        release(c, e, lazy, "lazyfree-lazy-user-del");
    }
    c.dirty(n as u64);
    c.reply.int(n as i64);
    Ok(())
}

fn del(c: &mut Ctx) -> CmdResult {
    del_generic(c, false)
}

fn unlink(c: &mut Ctx) -> CmdResult {
    del_generic(c, true)
}

fn exists(c: &mut Ctx) -> CmdResult {
    let clock = no_touch(c);
    let mut n = 0;
    for i in 1..c.argv.len() {
        let key = c.arg(i);
        let found = c.shard(key)?.get(key, &clock).is_some();
        c.hit(found);
        n += i64::from(found);
    }
    c.reply.int(n);
    Ok(())
}

fn touch(c: &mut Ctx) -> CmdResult {
    let clock = c.clock;
    let mut n = 0;
    for i in 1..c.argv.len() {
        let key = c.arg(i);
        let found = c.shard(key)?.get(key, &clock).is_some();
        c.hit(found);
        n += i64::from(found);
    }
    c.reply.int(n);
    Ok(())
}

fn type_cmd(c: &mut Ctx) -> CmdResult {
    let clock = no_touch(c);
    let key = c.arg(1);
    let kind = c.shard(key)?.get(key, &clock).map(|e| e.kind());
    c.hit(kind.is_some());
    let name = kind.map(Kind::type_name).unwrap_or("none");
    c.reply.simple(name.as_bytes());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// RENAME, RENAMENX, COPY, MOVE

fn rename_generic(c: &mut Ctx, nx: bool) -> CmdResult {
    let clock = c.clock;
    let now = c.now_ms();
    let (src, dst) = (c.arg(1), c.arg(2));
    if c.shard(src)?.get(src, &clock).is_none() {
        return Err(errors::NO_SUCH_KEY);
    }
    if src == dst {
        if nx {
            c.reply.int(0);
        } else {
            c.reply.ok();
        }
        return Ok(());
    }
    let dst_exists = c.shard(dst)?.get(dst, &clock).is_some();
    if nx && dst_exists {
        c.reply.int(0);
        return Ok(());
    }
    let Some(e) = c.shard(src)?.remove(src, now) else {
        return Err(errors::NO_SUCH_KEY);
    };
    let moved = e.into_key(dst);
    let ready = crate::blocking::kind_may_serve(moved.kind());
    if let Some(old) = c.shard(dst)?.insert(moved, now) {
        release(c, old, false, "lazyfree-lazy-server-del");
    }
    if ready {
        c.key_ready(dst);
    }
    c.dirty(1);
    c.modified(src);
    c.modified(dst);
    // Redis re-adds the destination (dbAdd: `new`), then announces the rename.
    c.notify(notify::NEW, "new", dst);
    c.notify(notify::GENERIC, "rename_from", src);
    c.notify(notify::GENERIC, "rename_to", dst);
    if nx {
        c.reply.int(1);
    } else {
        c.reply.ok();
    }
    Ok(())
}

fn rename(c: &mut Ctx) -> CmdResult {
    rename_generic(c, false)
}

fn renamenx(c: &mut Ctx) -> CmdResult {
    rename_generic(c, true)
}

/// A database index argument as the lock planners see it (no range check against the server).
fn plan_db(arg: &[u8]) -> Option<u32> {
    args::parse_i64_strict(arg).and_then(|v| u32::try_from(v).ok())
}

/// COPY locks the source's shard in the current db and the destination's shard in the target db.
fn copy_plan(argv: &[Bytes], db: u32) -> LockPlan {
    let mut dst_db = db;
    let mut j = 3;
    while let Some(a) = argv.get(j) {
        if args::is(a, "db") {
            if let Some(n) = argv.get(j + 1).and_then(|x| plan_db(x)) {
                dst_db = n;
            }
            j += 2;
        } else {
            j += 1;
        }
    }
    let mut v = Vec::with_capacity(2);
    if let Some(k) = argv.get(1) {
        v.push((db, shard_of(k) as u32));
    }
    if let Some(k) = argv.get(2) {
        v.push((dst_db, shard_of(k) as u32));
    }
    LockPlan::Shards(v).normalise()
}

/// MOVE locks the key's shard in the current db and in the target db.
fn move_plan(argv: &[Bytes], db: u32) -> LockPlan {
    let Some(k) = argv.get(1) else {
        return LockPlan::None;
    };
    let s = shard_of(k) as u32;
    let mut v = vec![(db, s)];
    if let Some(n) = argv.get(2).and_then(|x| plan_db(x)) {
        v.push((n, s));
    }
    LockPlan::Shards(v).normalise()
}

/// Parses a SELECT-style database index: not an int → "not an integer", outside the configured
/// databases → "DB index is out of range" (Redis's getIntFromObjectOrReply + selectDb).
fn db_index(c: &Ctx, arg: &[u8]) -> Result<u32, CmdError> {
    let v = args::int(arg)?;
    let v = i32::try_from(v).map_err(|_| INT_RANGE)?;
    if v < 0 || v as usize >= c.srv.keyspace.db_count() {
        return Err(errors::DB_INDEX);
    }
    Ok(v as u32)
}

fn copy(c: &mut Ctx) -> CmdResult {
    let db = c.db();
    let mut dst_db = db;
    let mut replace = false;
    let mut j = 3;
    while j < c.argv.len() {
        let a = c.arg(j);
        if args::is(a, "replace") {
            replace = true;
        } else if args::is(a, "db") && j + 1 < c.argv.len() {
            dst_db = db_index(c, c.arg(j + 1))?;
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let (src, dst) = (c.arg(1), c.arg(2));
    if dst_db == db && src == dst {
        return Err(SAME_OBJECT);
    }
    let clock = c.clock;
    let now = c.now_ms();
    let copied = match c.shard_in(db, src)?.get(src, &clock) {
        Some(e) => e.with_key(dst),
        None => {
            c.hit(false);
            c.reply.int(0);
            return Ok(());
        }
    };
    c.hit(true);
    let shard = c.shard_in(dst_db, dst)?;
    if !replace && shard.get(dst, &clock).is_some() {
        c.reply.int(0);
        return Ok(());
    }
    // The copy is a new object: it starts with fresh access data, as Redis's duplicate does.
    let mut copied = copied;
    copied.set_access(shard.new_access(&clock));
    let ready = crate::blocking::kind_may_serve(copied.kind());
    let old = shard.insert(copied, now);
    if let Some(old) = old {
        release(c, old, false, "lazyfree-lazy-server-del");
    }
    if ready {
        c.key_ready_in(dst_db, dst);
    }
    c.dirty(1);
    crate::watch::signal_modified(c, dst_db, dst);
    notify::keyspace_event_in(c, dst_db, notify::NEW, "new", dst);
    notify::keyspace_event_in(c, dst_db, notify::GENERIC, "copy_to", dst);
    c.reply.int(1);
    Ok(())
}

fn move_cmd(c: &mut Ctx) -> CmdResult {
    let db = c.db();
    let dst_db = db_index(c, c.arg(2))?;
    if dst_db == db {
        return Err(SAME_OBJECT);
    }
    let clock = c.clock;
    let now = c.now_ms();
    let key = c.arg(1);
    if c.shard_in(db, key)?.get(key, &clock).is_none() {
        c.reply.int(0);
        return Ok(());
    }
    if c.shard_in(dst_db, key)?.get(key, &clock).is_some() {
        c.reply.int(0);
        return Ok(());
    }
    let Some(e) = c.shard_in(db, key)?.remove(key, now) else {
        c.reply.int(0);
        return Ok(());
    };
    let ready = crate::blocking::kind_may_serve(e.kind());
    c.shard_in(dst_db, key)?.insert(e, now);
    if ready {
        c.key_ready_in(dst_db, key);
    }
    c.dirty(1);
    crate::watch::signal_modified(c, db, key);
    crate::watch::signal_modified(c, dst_db, key);
    notify::keyspace_event_in(c, dst_db, notify::NEW, "new", key);
    c.notify(notify::GENERIC, "move_from", key);
    notify::keyspace_event_in(c, dst_db, notify::GENERIC, "move_to", key);
    c.reply.int(1);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// KEYS, SCAN, RANDOMKEY

/// Whether a pattern matches every key: Redis skips the matcher for a lone `*` (so that the
/// empty key matches too, which `stringmatchlen` would refuse).
fn matches_all(pattern: &[u8]) -> bool {
    pattern == b"*"
}

fn keys(c: &mut Ctx) -> CmdResult {
    let db = c.db();
    let now = c.now_ms();
    let pattern = c.arg(1);
    let all = matches_all(pattern);
    let mut out: Vec<&[u8]> = Vec::new();
    let mut shards: Vec<&mut Shard> = c.locks.db_shards(db).collect();
    for shard in shards.iter_mut() {
        for e in shard.live_entries(now) {
            if all || glob_match(pattern, e.key(), false) {
                out.push(e.key());
            }
        }
    }
    c.reply.array(out.len());
    for k in out {
        c.reply.bulk(k);
    }
    Ok(())
}

/// Which options a SCAN-family command accepts besides COUNT and MATCH.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ScanExtra {
    /// SSCAN, ZSCAN: none.
    None,
    /// SCAN: `TYPE <type>`.
    Type,
    /// HSCAN: `NOVALUES`.
    NoValues,
}

/// The options of SCAN / HSCAN / SSCAN / ZSCAN (after the cursor).
pub struct ScanOptions<'a> {
    /// COUNT (default 10, at least 1).
    pub count: usize,
    /// MATCH, `None` when absent or matching everything (`*`).
    pub pattern: Option<&'a [u8]>,
    /// SCAN's TYPE.
    pub type_name: Option<&'a [u8]>,
    /// HSCAN's NOVALUES.
    pub novalues: bool,
}

/// Parses the SCAN-family options in `argv[from..]` as Redis's scanGenericCommand does:
/// a non-integer COUNT is "value is not an integer", COUNT < 1 or anything unknown (or an
/// option missing its value) is a syntax error.
pub fn parse_scan_options(
    argv: &[Bytes],
    from: usize,
    extra: ScanExtra,
) -> Result<ScanOptions<'_>, CmdError> {
    let mut o = ScanOptions {
        count: 10,
        pattern: None,
        type_name: None,
        novalues: false,
    };
    let mut i = from;
    while let Some(a) = argv.get(i) {
        let value = argv.get(i + 1).map(|b| &b[..]);
        match value {
            Some(v) if args::is(a, "count") => {
                let n = args::int(v)?;
                if n < 1 {
                    return Err(errors::SYNTAX);
                }
                o.count = usize::try_from(n).unwrap_or(usize::MAX);
                i += 2;
            }
            Some(p) if args::is(a, "match") => {
                o.pattern = (!matches_all(p)).then_some(p);
                i += 2;
            }
            Some(t) if extra == ScanExtra::Type && args::is(a, "type") => {
                o.type_name = Some(t);
                i += 2;
            }
            _ if extra == ScanExtra::NoValues && args::is(a, "novalues") => {
                o.novalues = true;
                i += 1;
            }
            _ => return Err(errors::SYNTAX),
        }
    }
    Ok(o)
}

/// Parses a SCAN cursor as Redis does with `strtoul`: a leading space, trailing garbage or an
/// overflow is "ERR invalid cursor"; an optional sign is accepted (`-1` wraps to the largest
/// cursor, as C's `strtoul` does); the empty string is cursor 0. Like Redis reading a C string,
/// parsing stops at the first NUL byte.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let s = match arg.iter().position(|&b| b == 0) {
        Some(n) => arg.get(..n).unwrap_or(arg),
        None => arg,
    };
    let Some(&first) = s.first() else {
        return Ok(0);
    };
    if matches!(first, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        return Err(errors::CURSOR);
    }
    let (neg, digits) = match first {
        b'-' => (true, s.get(1..).unwrap_or(&[])),
        b'+' => (false, s.get(1..).unwrap_or(&[])),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(errors::CURSOR);
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|x| x.checked_add(u64::from(d - b'0')))
            .ok_or(errors::CURSOR)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// Low bits of a SCAN cursor holding the position within a shard.
const CURSOR_POS_BITS: u32 = SCAN_POSITION_BITS;
const CURSOR_POS_MASK: u64 = (1u64 << CURSOR_POS_BITS) - 1;
/// The low bits of a hash-order position that are always zero (its granularity).
const POS_SHIFT: u32 = 64 - SCAN_POSITION_BITS;

/// Builds a SCAN cursor from a shard index and a hash-order position within it.
pub fn make_cursor(shard: usize, pos: u64) -> u64 {
    ((shard as u64) << CURSOR_POS_BITS) | ((pos >> POS_SHIFT) & CURSOR_POS_MASK)
}

/// Splits a SCAN cursor into a shard index and a hash-order position.
pub fn split_cursor(cursor: u64) -> (u64, u64) {
    (
        cursor >> CURSOR_POS_BITS,
        (cursor & CURSOR_POS_MASK) << POS_SHIFT,
    )
}

/// One shard's part of a SCAN call.
struct ScanStep<'p> {
    pos: u64,
    budget: usize,
    now: i64,
    pattern: Option<&'p [u8]>,
    type_name: Option<&'p [u8]>,
}

impl ScanStep<'_> {
    /// Scans `shard` from `pos`; appends matching keys to `out`. Returns the next position (or
    /// `None` at the shard's end) and the number of live keys visited.
    fn run(&self, shard: &mut Shard, out: &mut Vec<Vec<u8>>) -> (Option<u64>, usize) {
        let mut visited = 0usize;
        let next = shard.scan(self.pos, self.budget, self.now, |e| {
            visited += 1;
            if let Some(t) = self.type_name {
                if !t.eq_ignore_ascii_case(e.kind().type_name().as_bytes()) {
                    return;
                }
            }
            if let Some(p) = self.pattern {
                if !glob_match(p, e.key(), false) {
                    return;
                }
            }
            out.push(e.key().to_vec());
        });
        (next, visited)
    }
}

fn scan(c: &mut Ctx) -> CmdResult {
    let cursor = parse_cursor(c.arg(1))?;
    let ScanOptions {
        count,
        pattern,
        type_name,
        ..
    } = parse_scan_options(c.argv, 2, ScanExtra::Type)?;
    let db = c.db();
    let now = c.now_ms();
    let held = c.locks.holds_db(db);
    let (mut shard, mut pos) = split_cursor(cursor);
    let mut budget = count;
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut next_cursor = 0u64;
    while (shard as usize) < SHARDS {
        let idx = shard as usize;
        let step = ScanStep {
            pos,
            budget,
            now,
            pattern,
            type_name,
        };
        // Inside MULTI/EXEC or a script the db is already locked: use the held guard (locking
        // it again would deadlock); otherwise lock this one shard for this step only.
        let result = match c.locks.shard(db, idx as u32) {
            Some(s) => Some(step.run(s, &mut out)),
            None if held => None,
            None => c
                .srv
                .keyspace
                .lock_one(db as usize, idx)
                .map(|mut g| step.run(&mut g, &mut out)),
        };
        let Some((next, visited)) = result else {
            break;
        };
        if let Some(p) = next {
            next_cursor = make_cursor(idx, p);
            break;
        }
        shard += 1;
        pos = 0;
        budget = budget.saturating_sub(visited);
        if budget == 0 {
            if (shard as usize) < SHARDS {
                next_cursor = make_cursor(shard as usize, 0);
            }
            break;
        }
    }
    c.reply.array(2);
    c.reply
        .bulk(itoa::Buffer::new().format(next_cursor).as_bytes());
    c.reply.array(out.len());
    for k in &out {
        c.reply.bulk(k);
    }
    Ok(())
}

fn randomkey(c: &mut Ctx) -> CmdResult {
    let db = c.db();
    let now = c.now_ms();
    // Each failed attempt removes at least one expired key, so this terminates.
    loop {
        let lens: Vec<usize> = c.locks.db_shards(db).map(|s| s.len()).collect();
        let total: usize = lens.iter().sum();
        if total == 0 {
            c.reply.null();
            return Ok(());
        }
        let mut n = (c.client.next_rand64() % total as u64) as usize;
        let mut idx = 0;
        for (i, &l) in lens.iter().enumerate() {
            if n < l {
                idx = i;
                break;
            }
            n -= l;
        }
        let r = c.client.next_rand64();
        let Some(shard) = c.locks.shard(db, idx as u32) else {
            c.reply.null();
            return Ok(());
        };
        if let Some(k) = shard.random_key(r, now) {
            c.reply.bulk(&k);
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, PERSIST

#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_expire_flags(c: &Ctx) -> Result<ExpireFlags, CmdError> {
    let mut f = ExpireFlags::default();
    for i in 3..c.argv.len() {
        let a = c.arg(i);
        if args::is(a, "nx") {
            f.nx = true;
        } else if args::is(a, "xx") {
            f.xx = true;
        } else if args::is(a, "gt") {
            f.gt = true;
        } else if args::is(a, "lt") {
            f.lt = true;
        } else {
            return Err(crate::cmd_err!("ERR Unsupported option {}", c_str(a)));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(EXPIRE_NX_CONFLICT);
    }
    if f.gt && f.lt {
        return Err(EXPIRE_GT_LT_CONFLICT);
    }
    Ok(f)
}

/// An argument as Redis prints it with `%s`: up to the first NUL byte.
fn c_str(a: &[u8]) -> String {
    let end = a.iter().position(|&b| b == 0).unwrap_or(a.len());
    args::text(a.get(..end).unwrap_or(a))
}

/// EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT: `relative` adds the command time, `unit_ms` is 1000 for
/// seconds.
fn expire_generic(c: &mut Ctx, relative: bool, unit_ms: i64) -> CmdResult {
    let flags = parse_expire_flags(c)?;
    let mut when = args::int(c.arg(2))?;
    let name = c.cmd.name;
    if unit_ms != 1 {
        when = when
            .checked_mul(unit_ms)
            .ok_or_else(|| errors::invalid_expire(name))?;
    }
    if relative {
        when = when
            .checked_add(c.now_ms())
            .ok_or_else(|| errors::invalid_expire(name))?;
    }
    let clock = c.clock;
    let now = c.now_ms();
    let past = c.already_expired(when);
    let key = c.arg(1);
    let shard = c.shard(key)?;
    let Some(current) = shard.get(key, &clock).map(|e| e.expire_at()) else {
        c.reply.int(0);
        return Ok(());
    };
    let refused = (flags.nx && current.is_some())
        || (flags.xx && current.is_none())
        || (flags.gt && current.is_none_or(|cur| when <= cur))
        || (flags.lt && current.is_some_and(|cur| when >= cur));
    if refused {
        c.reply.int(0);
        return Ok(());
    }
    if past {
        // Already in the past: the key is deleted (Redis propagates this as DEL or UNLINK).
        if let Some(e) = shard.remove(key, now) {
            release(c, e, false, "lazyfree-lazy-expire");
        }
        c.notify(notify::GENERIC, "del", key);
        let lazy = config_yes(c, "lazyfree-lazy-expire");
        c.propagate(crate::propagate::del_or_unlink(key, lazy));
    } else {
        shard.set_expire(key, Some(when), now);
        c.notify(notify::GENERIC, "expire", key);
        // `PEXPIREAT key <abs ms> [flags]`, the flags kept as Redis does.
        if c.propagating() {
            let mut argv = c.argv.to_vec();
            argv[0] = Bytes::from_static(b"PEXPIREAT");
            argv[2] = crate::propagate::int_arg(when);
            c.propagate(argv);
        }
    }
    c.dirty(1);
    c.modified(key);
    c.reply.int(1);
    Ok(())
}

fn expire(c: &mut Ctx) -> CmdResult {
    expire_generic(c, true, 1000)
}

fn pexpire(c: &mut Ctx) -> CmdResult {
    expire_generic(c, true, 1)
}

fn expireat(c: &mut Ctx) -> CmdResult {
    expire_generic(c, false, 1000)
}

fn pexpireat(c: &mut Ctx) -> CmdResult {
    expire_generic(c, false, 1)
}

fn persist(c: &mut Ctx) -> CmdResult {
    let clock = c.clock;
    let now = c.now_ms();
    let key = c.arg(1);
    let shard = c.shard(key)?;
    let volatile = shard
        .get(key, &clock)
        .is_some_and(|e| e.expire_at().is_some());
    if volatile {
        shard.set_expire(key, None, now);
        c.dirty(1);
        c.modified(key);
        c.notify(notify::GENERIC, "persist", key);
    }
    c.reply.int(i64::from(volatile));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// TTL, PTTL, EXPIRETIME, PEXPIRETIME

/// -2 for a missing key, -1 for no expiry, else the remaining time (or absolute time) in ms or
/// rounded seconds.
fn ttl_generic(c: &mut Ctx, output_ms: bool, absolute: bool) -> CmdResult {
    let clock = no_touch(c);
    let now = c.now_ms();
    let key = c.arg(1);
    let found = c.shard(key)?.get(key, &clock).map(|e| e.expire_at());
    c.hit(found.is_some());
    let v = match found {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => {
            let t = if absolute { at } else { at.saturating_sub(now) }.max(0);
            if output_ms {
                t
            } else {
                t.saturating_add(500) / 1000
            }
        }
    };
    c.reply.int(v);
    Ok(())
}

fn ttl(c: &mut Ctx) -> CmdResult {
    ttl_generic(c, false, false)
}

fn pttl(c: &mut Ctx) -> CmdResult {
    ttl_generic(c, true, false)
}

fn expiretime(c: &mut Ctx) -> CmdResult {
    ttl_generic(c, false, true)
}

fn pexpiretime(c: &mut Ctx) -> CmdResult {
    ttl_generic(c, true, true)
}

// ---------------------------------------------------------------------------------------------
// OBJECT

/// What OBJECT reads about a key, looked up without touching it.
struct ObjectInfo {
    encoding: &'static str,
    access: u32,
    int_value: Option<i64>,
}

/// Looks the key up for OBJECT (counts a hit or miss; no touch). `None` means the reply (null)
/// was written.
fn object_lookup(c: &mut Ctx) -> Result<Option<ObjectInfo>, CmdError> {
    let clock = no_touch(c);
    let key = c.arg(2);
    let info = c.shard(key)?.get(key, &clock).map(|e| ObjectInfo {
        encoding: e.encoding_name(),
        access: e.access(),
        int_value: if e.kind() == Kind::StrInt {
            args::parse_i64_strict(e.str_value())
        } else {
            None
        },
    });
    c.hit(info.is_some());
    if info.is_none() {
        c.reply.null();
    }
    Ok(info)
}

fn object_encoding(c: &mut Ctx) -> CmdResult {
    if let Some(o) = object_lookup(c)? {
        c.reply.bulk(o.encoding.as_bytes());
    }
    Ok(())
}

fn object_refcount(c: &mut Ctx) -> CmdResult {
    if let Some(o) = object_lookup(c)? {
        // Integers 0..9999 are Redis's shared objects, unless maxmemory with an LRU/LFU policy
        // forbids sharing (then each value is its own object).
        let shared = match o.int_value {
            Some(v) if (0..SHARED_INTEGERS).contains(&v) => {
                let cfg = c.srv.config.read();
                let policy = cfg.maxmemory_policy();
                cfg.maxmemory() == 0 || !(policy.ends_with("-lru") || policy.ends_with("-lfu"))
            }
            _ => false,
        };
        c.reply.int(if shared { SHARED_REFCOUNT } else { 1 });
    }
    Ok(())
}

fn object_idletime(c: &mut Ctx) -> CmdResult {
    if let Some(o) = object_lookup(c)? {
        if matches!(c.srv.keyspace.access_mode(), AccessMode::Lfu { .. }) {
            return Err(IDLETIME_UNDER_LFU);
        }
        let now_secs = c.now_ms() / 1000;
        c.reply
            .int(now_secs.saturating_sub(i64::from(o.access)).max(0));
    }
    Ok(())
}

fn object_freq(c: &mut Ctx) -> CmdResult {
    if let Some(o) = object_lookup(c)? {
        let AccessMode::Lfu { decay_minutes, .. } = c.srv.keyspace.access_mode() else {
            return Err(FREQ_NEEDS_LFU);
        };
        c.reply
            .int(i64::from(lfu_decayed(o.access, decay_minutes, &c.clock)));
    }
    Ok(())
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

fn object_help(c: &mut Ctx) -> CmdResult {
    c.reply.array(OBJECT_HELP.len());
    for l in OBJECT_HELP {
        c.reply.simple(l.as_bytes());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// WAIT

/// WAIT numreplicas timeout. Without replicas no acknowledgement can ever arrive: a request for
/// zero replicas is answered at once with 0; otherwise the client blocks until the timeout (0 =
/// forever) and then gets 0, as Redis does with no replica attached.
fn wait(c: &mut Ctx) -> CmdResult {
    let numreplicas = args::int(c.arg(1))?;
    let timeout = args::parse_i64_strict(c.arg(2)).ok_or(WAIT_TIMEOUT_NOT_INTEGER)?;
    if timeout < 0 {
        return Err(errors::TIMEOUT_NEGATIVE);
    }
    let acked = 0i64;
    if acked >= numreplicas {
        c.reply.int(acked);
        return Ok(());
    }
    let deadline = if timeout == 0 {
        None
    } else {
        Some(c.now_ms().saturating_add(timeout))
    };
    c.client.block_until = Some(crate::client::TimedBlock {
        deadline_ms: deadline,
        reply_int: acked,
    });
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"+7"), Ok(7));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"12\0junk"), Ok(12));
        for bad in [
            &b" 1"[..],
            b"1 ",
            b"x",
            b"-",
            b"+",
            b"18446744073709551616",
            b"0x10",
        ] {
            assert_eq!(parse_cursor(bad), Err(errors::CURSOR), "{:?}", bad);
        }
    }

    #[test]
    fn cursor_round_trips_shard_and_position() {
        for shard in [0usize, 1, 17, SHARDS - 1] {
            for pos in [0u64, 1 << 16, 0xffff_ffff_ffff_0000, 0x1234_5678_9abc_0000] {
                let c = make_cursor(shard, pos);
                assert_eq!(split_cursor(c), (shard as u64, pos));
            }
        }
        assert_eq!(make_cursor(0, 0), 0);
    }

    #[test]
    fn lock_plans_cover_both_databases() {
        let argv: Vec<Bytes> = ["copy", "a", "b", "DB", "3", "REPLACE"]
            .iter()
            .map(|s| Bytes::from(s.to_string()))
            .collect();
        let LockPlan::Shards(v) = copy_plan(&argv, 1) else {
            panic!("not a shard plan");
        };
        assert!(v.contains(&(1, shard_of(b"a") as u32)));
        assert!(v.contains(&(3, shard_of(b"b") as u32)));
        let argv: Vec<Bytes> = ["move", "a", "5"]
            .iter()
            .map(|s| Bytes::from(s.to_string()))
            .collect();
        let s = shard_of(b"a") as u32;
        assert_eq!(move_plan(&argv, 0), LockPlan::Shards(vec![(0, s), (5, s)]));
    }
}
