//! Hash commands: HSET and the rest of the family, Redis 7.4 hash-field expiration (HEXPIRE,
//! HTTL, HPERSIST, ...) and Redis 8.0's HGETDEL / HGETEX / HSETEX.
//!
//! Field expiry: expired fields are never visible (reads filter them at the command's time);
//! commands whose result depends on the exact field set (writes, HLEN, HRANDFIELD) first purge
//! the key's expired fields ([`purge`]: emits `hexpired`, and `del` when the hash is left
//! empty), and the shard's active cycle reclaims the rest. A key is tracked by its shard for
//! active field expiry as soon as one of its fields gets a TTL.

use crate::args;
use crate::cmd::coll;
use crate::cmd::generic::{parse_scan_options, ScanExtra, ScanOptions};
use crate::cmd::string::ldouble::LongDouble;
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdError, CmdResult};
use crate::glob::glob_match;
use crate::notify;
use bytes::Bytes;
use ferrokv_engine::hash::{FieldTtl, Hash};
use ferrokv_engine::{Kind, Value};
use ferrokv_resp::Reply;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Binds this group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("hset", hset, Locking::Keys);
    t.add("hmset", hset, Locking::Keys);
    t.add("hsetnx", hsetnx, Locking::Keys);
    t.add("hget", hget, Locking::Keys);
    t.add("hmget", hmget, Locking::Keys);
    t.add("hgetall", hgetall, Locking::Keys);
    t.add("hkeys", hkeys, Locking::Keys);
    t.add("hvals", hvals, Locking::Keys);
    t.add("hlen", hlen, Locking::Keys);
    t.add("hexists", hexists, Locking::Keys);
    t.add("hdel", hdel, Locking::Keys);
    t.add("hincrby", hincrby, Locking::Keys);
    t.add("hincrbyfloat", hincrbyfloat, Locking::Keys);
    t.add("hstrlen", hstrlen, Locking::Keys);
    t.add("hrandfield", hrandfield, Locking::Keys);
    t.add("hscan", hscan, Locking::Keys);
    t.add("hexpire", hexpire, Locking::Keys);
    t.add("hpexpire", hpexpire, Locking::Keys);
    t.add("hexpireat", hexpireat, Locking::Keys);
    t.add("hpexpireat", hpexpireat, Locking::Keys);
    t.add("httl", httl, Locking::Keys);
    t.add("hpttl", hpttl, Locking::Keys);
    t.add("hexpiretime", hexpiretime, Locking::Keys);
    t.add("hpexpiretime", hpexpiretime, Locking::Keys);
    t.add("hpersist", hpersist, Locking::Keys);
    t.add("hgetdel", hgetdel, Locking::Keys);
    t.add("hgetex", hgetex, Locking::Keys);
    t.add("hsetex", hsetex, Locking::Keys);
}

pub(crate) const HASH_NOT_INTEGER: CmdError = CmdError::new("ERR hash value is not an integer");
const HASH_NOT_FLOAT: CmdError = CmdError::new("ERR hash value is not a float");
const NAN_OR_INF: CmdError = CmdError::new("ERR value is NaN or Infinity");
const COUNT_RANGE: CmdError = CmdError::new(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
);
const OUT_OF_RANGE: CmdError = CmdError::new("ERR value is out of range");
const FIELDS_MISSING: CmdError =
    CmdError::new("ERR Mandatory argument FIELDS is missing or not at the right position");
const NUMFIELDS_POSITIVE: CmdError =
    CmdError::new("ERR Number of fields must be a positive integer");
const NUMFIELDS_GT0: CmdError = CmdError::new("ERR Parameter `numFields` should be greater than 0");
const NUMFIELDS_MISMATCH: CmdError =
    CmdError::new("ERR The `numfields` parameter must match the number of arguments");
const EXPIRE_NEGATIVE: CmdError = CmdError::new("ERR invalid expire time, must be >= 0");
const HSETEX_INVALID_NUMFIELDS: CmdError = CmdError::new("ERR invalid number of fields");
const HSETEX_MISSING_EXPIRE: CmdError = CmdError::new("ERR missing expire time");
const HSETEX_ONE_CONDITION: CmdError =
    CmdError::new("ERR Only one of FXX or FNX arguments can be specified");
const HSETEX_ONE_EXPIRY: CmdError =
    CmdError::new("ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified");

/// Largest absolute field expiry Redis accepts (EB_EXPIRE_TIME_MAX, 2^48 - 1 ms).
const HFE_MAX_ABS_TIME_MS: i64 = (1 << 48) - 1;

/// Reply codes of the HEXPIRE family, HTTL and HPERSIST.
const NO_FIELD: i64 = -2;
const NO_TTL: i64 = -1;
const CONDITION_NOT_MET: i64 = 0;
const UPDATED: i64 = 1;
const DELETED: i64 = 2;

/// Cheap pseudo-random numbers for HRANDFIELD (splitmix64 over a global counter seeded from the
/// clock; quality is ample for sampling, no cryptographic use).
fn rand_u64() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut s = STATE.load(Relaxed);
    if s == 0 {
        s = (crate::util::now_us() as u64) | 1;
    }
    let next = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    STATE.store(next, Relaxed);
    let mut z = next;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform index below `n` (`n > 0`).
fn rand_below(n: usize) -> usize {
    (rand_u64() % n as u64) as usize
}

/// The hash at `key` (WRONGTYPE rule) and the reply writer. Touches the key.
fn hash_reply<'c>(
    c: &'c mut Ctx,
    key: &[u8],
) -> Result<(Option<&'c mut Hash>, &'c mut Reply), CmdError> {
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(key)?;
    match coll::get_typed(shard, key, &clock, Kind::Hash)? {
        None => Ok((None, reply)),
        Some(Value::Hash(h)) => Ok((Some(h), reply)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

/// The hash at `key`, created empty when missing; plus the reply writer.
fn hash_create<'c>(c: &'c mut Ctx, key: &[u8]) -> Result<(&'c mut Hash, &'c mut Reply), CmdError> {
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(key)?;
    let (v, _) = coll::get_or_create(shard, key, &clock, Kind::Hash, || Value::Hash(Hash::new()))?;
    match v {
        Value::Hash(h) => Ok((h, reply)),
        _ => Err(errors::WRONGTYPE),
    }
}

/// Removes the expired fields of the hash at `key` (if it has any due), as Redis's lazy field
/// expiry does: `hexpired` event, and the key deleted with a `del` event when left empty.
/// Returns an error only for a lock-plan bug; type errors are left to the caller's lookup.
fn purge(c: &mut Ctx, key: &[u8]) -> CmdResult {
    let now = c.now_ms();
    let mut clock = c.clock;
    clock.touch = false;
    let shard = c.shard(key)?;
    if shard.field_expiry_keys() == 0 {
        return Ok(());
    }
    let (n, empty) = match shard.get_mut(key, &clock).and_then(|e| e.value_mut()) {
        Some(Value::Hash(h)) => (h.purge_expired(now), h.is_empty()),
        _ => return Ok(()),
    };
    if n == 0 {
        return Ok(());
    }
    if empty {
        coll::delete_if_empty(shard, key, now);
    }
    c.notify(notify::HASH, "hexpired", key);
    if empty {
        c.notify(notify::GENERIC, "del", key);
    }
    c.modified(key);
    Ok(())
}

/// Deletes `key` when its hash became empty (with the `del` event); returns whether it did.
fn drop_if_empty(c: &mut Ctx, key: &[u8]) -> Result<bool, CmdError> {
    let now = c.now_ms();
    let shard = c.shard(key)?;
    let gone = coll::delete_if_empty(shard, key, now);
    if gone {
        c.notify(notify::GENERIC, "del", key);
    }
    Ok(gone)
}

/// Registers `key` with its shard's active field expiry.
fn track(c: &mut Ctx, key: &[u8]) -> CmdResult {
    c.shard(key)?.track_field_expiry(key);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Basic commands
// ---------------------------------------------------------------------------------------------

fn hset(c: &mut Ctx) -> CmdResult {
    let n = c.argv.len();
    if n % 2 == 1 {
        return Err(errors::wrong_arity(c.cmd.name));
    }
    let key = c.arg(1);
    let hmset = c
        .arg(0)
        .get(1)
        .is_some_and(|b| b.eq_ignore_ascii_case(&b'm'));
    let limits = c.limits();
    purge(c, key)?;
    let argv = c.argv;
    let new_key = notify::new_key_pending(c, key);
    let (h, reply) = hash_create(c, key)?;
    let mut created = 0;
    for pair in argv.get(2..).unwrap_or(&[]).chunks_exact(2) {
        if let [f, v] = pair {
            created += i64::from(h.set(f, v, false, &limits));
        }
    }
    if hmset {
        reply.ok();
    } else {
        reply.int(created);
    }
    c.modified(key);
    if new_key {
        c.notify(notify::NEW, "new", key);
    }
    c.notify(notify::HASH, "hset", key);
    c.dirty(((n - 2) / 2) as u64);
    Ok(())
}

fn hsetnx(c: &mut Ctx) -> CmdResult {
    let (key, field, value) = (c.arg(1), c.arg(2), c.arg(3));
    let limits = c.limits();
    let now = c.now_ms();
    purge(c, key)?;
    let new_key = notify::new_key_pending(c, key);
    let (h, reply) = hash_create(c, key)?;
    if h.get_field(field, now).is_some() {
        reply.int(0);
        return Ok(());
    }
    h.set(field, value, false, &limits);
    reply.int(1);
    c.modified(key);
    if new_key {
        c.notify(notify::NEW, "new", key);
    }
    c.notify(notify::HASH, "hset", key);
    c.dirty(1);
    Ok(())
}

fn hget(c: &mut Ctx) -> CmdResult {
    let (key, field) = (c.arg(1), c.arg(2));
    let now = c.now_ms();
    let (h, reply) = hash_reply(c, key)?;
    let found = h.is_some();
    match h.and_then(|h| h.get_field(field, now)) {
        Some(v) => reply.bulk(v),
        None => reply.null(),
    }
    c.hit(found);
    Ok(())
}

fn hmget(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let now = c.now_ms();
    let argv = c.argv;
    let (h, reply) = hash_reply(c, key)?;
    let found = h.is_some();
    let fields = argv.get(2..).unwrap_or(&[]);
    reply.array(fields.len());
    for f in fields {
        match h.as_ref().and_then(|h| h.get_field(f, now)) {
            Some(v) => reply.bulk(v),
            None => reply.null(),
        }
    }
    c.hit(found);
    Ok(())
}

/// HGETALL / HKEYS / HVALS.
fn getall_generic(c: &mut Ctx, keys: bool, values: bool) -> CmdResult {
    let key = c.arg(1);
    let now = c.now_ms();
    let (h, reply) = hash_reply(c, key)?;
    let found = h.is_some();
    let pairs = h.map(|h| h.pairs(now)).unwrap_or_default();
    if keys && values {
        reply.map(pairs.len());
    } else {
        reply.array(pairs.len());
    }
    for (f, v) in pairs {
        if keys {
            reply.bulk(f);
        }
        if values {
            reply.bulk(v);
        }
    }
    c.hit(found);
    Ok(())
}

fn hgetall(c: &mut Ctx) -> CmdResult {
    getall_generic(c, true, true)
}

fn hkeys(c: &mut Ctx) -> CmdResult {
    getall_generic(c, true, false)
}

fn hvals(c: &mut Ctx) -> CmdResult {
    getall_generic(c, false, true)
}

fn hlen(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    purge(c, key)?;
    let (h, reply) = hash_reply(c, key)?;
    let found = h.is_some();
    reply.int(h.map_or(0, |h| h.len() as i64));
    c.hit(found);
    Ok(())
}

fn hexists(c: &mut Ctx) -> CmdResult {
    let (key, field) = (c.arg(1), c.arg(2));
    let now = c.now_ms();
    let (h, reply) = hash_reply(c, key)?;
    let found = h.is_some();
    reply.int(i64::from(
        h.is_some_and(|h| h.get_field(field, now).is_some()),
    ));
    c.hit(found);
    Ok(())
}

fn hstrlen(c: &mut Ctx) -> CmdResult {
    let (key, field) = (c.arg(1), c.arg(2));
    let now = c.now_ms();
    let (h, reply) = hash_reply(c, key)?;
    let found = h.is_some();
    reply.int(
        h.and_then(|h| h.get_field(field, now))
            .map_or(0, |v| v.len() as i64),
    );
    c.hit(found);
    Ok(())
}

fn hdel(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let argv = c.argv;
    purge(c, key)?;
    let (h, reply) = hash_reply(c, key)?;
    let Some(h) = h else {
        reply.int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for f in argv.get(2..).unwrap_or(&[]) {
        if h.remove(f) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    reply.int(deleted);
    if deleted > 0 {
        c.modified(key);
        c.notify(notify::HASH, "hdel", key);
        drop_if_empty(c, key)?;
        c.dirty(deleted as u64);
    }
    Ok(())
}

fn hincrby(c: &mut Ctx) -> CmdResult {
    let (key, field) = (c.arg(1), c.arg(2));
    let incr = args::int(c.arg(3))?;
    let limits = c.limits();
    let now = c.now_ms();
    purge(c, key)?;
    let new_key = notify::new_key_pending(c, key);
    let (h, reply) = hash_create(c, key)?;
    let old = match h.get_field(field, now) {
        Some(v) => args::parse_i64_strict(v).ok_or(HASH_NOT_INTEGER)?,
        None => 0,
    };
    let new = old.checked_add(incr).ok_or(errors::OVERFLOW)?;
    let text = itoa::Buffer::new().format(new).as_bytes().to_vec();
    h.set(field, &text, true, &limits);
    reply.int(new);
    c.modified(key);
    if new_key {
        c.notify(notify::NEW, "new", key);
    }
    c.notify(notify::HASH, "hincrby", key);
    c.dirty(1);
    Ok(())
}

fn hincrbyfloat(c: &mut Ctx) -> CmdResult {
    let (key, field) = (c.arg(1), c.arg(2));
    let incr = LongDouble::parse(c.arg(3)).ok_or(errors::NOT_FLOAT)?;
    if incr.is_nan_or_inf() {
        return Err(NAN_OR_INF);
    }
    let limits = c.limits();
    let now = c.now_ms();
    purge(c, key)?;
    let new_key = notify::new_key_pending(c, key);
    let (h, reply) = hash_create(c, key)?;
    let old = match h.get_field(field, now) {
        Some(v) => LongDouble::parse(v).ok_or(HASH_NOT_FLOAT)?,
        None => LongDouble::from_i64(0),
    };
    let sum = old.add(incr);
    if sum.is_nan_or_inf() {
        return Err(errors::INCR_NAN_INF);
    }
    let text = sum.to_human();
    h.set(field, text.as_bytes(), true, &limits);
    reply.bulk(text.as_bytes());
    c.modified(key);
    if new_key {
        c.notify(notify::NEW, "new", key);
    }
    c.notify(notify::HASH, "hincrbyfloat", key);
    c.dirty(1);
    // The result, not the increment (replay must not depend on float formatting).
    if c.propagating() {
        c.propagate(vec![
            Bytes::from_static(b"HSET"),
            Bytes::copy_from_slice(key),
            Bytes::copy_from_slice(field),
            Bytes::copy_from_slice(text.as_bytes()),
        ]);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// HRANDFIELD, HSCAN
// ---------------------------------------------------------------------------------------------

/// Writes one HRANDFIELD pick: the field, and with values the value too (a 2-element array per
/// pair in RESP3).
fn reply_pick(reply: &mut Reply, resp3: bool, withvalues: bool, f: &[u8], v: &[u8]) {
    if withvalues && resp3 {
        reply.array(2);
    }
    reply.bulk(f);
    if withvalues {
        reply.bulk(v);
    }
}

fn hrandfield(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let argc = c.argv.len();
    let mut count: Option<i64> = None;
    let mut withvalues = false;
    if argc >= 3 {
        let l = args::int(c.arg(2))?;
        if l == i64::MIN {
            return Err(COUNT_RANGE);
        }
        if argc > 4 || (argc == 4 && !args::is(c.arg(3), "withvalues")) {
            return Err(errors::SYNTAX);
        }
        if argc == 4 {
            withvalues = true;
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
                return Err(OUT_OF_RANGE);
            }
        }
        count = Some(l);
    }
    purge(c, key)?;
    let resp3 = c.reply.proto() == ferrokv_resp::Protocol::Resp3;
    let (h, reply) = hash_reply(c, key)?;
    let found = h.is_some();
    let Some(h) = h else {
        match count {
            None => reply.null(),
            Some(_) => reply.empty_array(),
        }
        c.hit(false);
        return Ok(());
    };
    let size = h.len();
    match count {
        None => match h.nth(rand_below(size.max(1))) {
            Some((f, _)) => reply.bulk(f),
            None => reply.null(),
        },
        Some(0) => reply.empty_array(),
        Some(l) if l < 0 || l == 1 => {
            let n = l.unsigned_abs() as usize;
            reply.array(if withvalues && !resp3 { n * 2 } else { n });
            for _ in 0..n {
                if let Some((f, v)) = h.nth(rand_below(size.max(1))) {
                    reply_pick(reply, resp3, withvalues, f, v);
                }
            }
        }
        Some(l) => {
            let n = (l as u64).min(size as u64) as usize;
            reply.array(if withvalues && !resp3 { n * 2 } else { n });
            if n == size {
                for i in 0..size {
                    if let Some((f, v)) = h.nth(i) {
                        reply_pick(reply, resp3, withvalues, f, v);
                    }
                }
            } else {
                for i in unique_positions(size, n, h.is_small()) {
                    if let Some((f, v)) = h.nth(i) {
                        reply_pick(reply, resp3, withvalues, f, v);
                    }
                }
            }
        }
    }
    c.hit(found);
    Ok(())
}

/// `n` distinct positions below `size` (`n < size`), chosen uniformly. Small hashes get them in
/// ascending (listpack) order as Redis returns them; big ones in pick order.
fn unique_positions(size: usize, n: usize, ordered: bool) -> Vec<usize> {
    let mut out: Vec<usize>;
    if n * 3 > size {
        // Remove random positions until n remain (Redis's CASE 3).
        out = (0..size).collect();
        while out.len() > n {
            let i = rand_below(out.len());
            out.swap_remove(i);
        }
    } else {
        let mut seen = std::collections::HashSet::with_capacity(n);
        out = Vec::with_capacity(n);
        while out.len() < n {
            let i = rand_below(size);
            if seen.insert(i) {
                out.push(i);
            }
        }
    }
    if ordered {
        out.sort_unstable();
    }
    out
}

fn hscan(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let cursor = crate::cmd::generic::parse_cursor(c.arg(2))?;
    let now = c.now_ms();
    let argv = c.argv;
    let (h, reply) = hash_reply(c, key)?;
    let Some(h) = h else {
        reply.array(2);
        reply.bulk(b"0");
        reply.array(0);
        c.hit(false);
        return Ok(());
    };
    let ScanOptions {
        count,
        pattern,
        novalues,
        ..
    } = parse_scan_options(argv, 3, ScanExtra::NoValues)?;
    let mut out: Vec<(&[u8], &[u8])> = Vec::new();
    let next = h.scan(cursor, count, now, |f, v| {
        if pattern.is_none_or(|p| glob_match(p, f, false)) {
            out.push((f, v));
        }
    });
    reply.array(2);
    reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    reply.array(if novalues { out.len() } else { out.len() * 2 });
    for (f, v) in out {
        reply.bulk(f);
        if !novalues {
            reply.bulk(v);
        }
    }
    c.hit(true);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Field expiry (Redis 7.4) and Redis 8.0 commands
// ---------------------------------------------------------------------------------------------

/// Redis's `parseExpireTime`: a non-negative integer in `unit_ms` units, relative to `base`
/// (0 for absolute times), within 2^48-1 ms; returns the absolute time in ms.
fn parse_expire_time(arg: &[u8], unit_ms: i64, base: i64, cmd: &str) -> Result<i64, CmdError> {
    let mut v = args::int(arg)?;
    if v < 0 {
        return Err(EXPIRE_NEGATIVE);
    }
    if unit_ms == 1000 {
        if v > HFE_MAX_ABS_TIME_MS / 1000 {
            return Err(errors::invalid_expire(cmd));
        }
        v *= 1000;
    }
    if v > HFE_MAX_ABS_TIME_MS - base {
        return Err(errors::invalid_expire(cmd));
    }
    Ok(v + base)
}

/// Checks `FIELDS numfields field...` starting at argument `at` (the FIELDS token) and
/// returns the index of the first field. `positive_err` is the command's numfields error.
fn parse_fields_block(c: &Ctx, at: usize, positive_err: CmdError) -> Result<usize, CmdError> {
    if !args::is(c.arg(at), "FIELDS") || at >= c.argv.len() {
        return Err(FIELDS_MISSING);
    }
    let n = c
        .argv
        .get(at + 1)
        .and_then(|a| args::parse_i64_strict(a))
        .filter(|&n| n >= 1)
        .ok_or(positive_err)?;
    if n as u64 != (c.argv.len() - at - 2) as u64 {
        return Err(NUMFIELDS_MISMATCH);
    }
    Ok(at + 2)
}

/// Replies an array of `code` for each field (the key does not exist).
fn reply_all(reply: &mut Reply, n: usize, code: i64) {
    reply.array(n);
    for _ in 0..n {
        reply.int(code);
    }
}

/// HEXPIRE / HPEXPIRE / HEXPIREAT / HPEXPIREAT.
fn hexpire_generic(c: &mut Ctx, unit_ms: i64, absolute: bool) -> CmdResult {
    let key = c.arg(1);
    let now = c.now_ms();
    let cmd = c.cmd.name;
    purge(c, key)?;
    {
        let clock = c.clock;
        coll::get_typed(c.shard(key)?, key, &clock, Kind::Hash)?;
    }
    let at = parse_expire_time(c.arg(2), unit_ms, if absolute { 0 } else { now }, cmd)?;
    let cond = c.arg(3);
    let cond = ["NX", "XX", "GT", "LT"]
        .into_iter()
        .find(|k| args::is(cond, k));
    let first = parse_fields_block(c, if cond.is_some() { 4 } else { 3 }, NUMFIELDS_GT0)?;
    let argv = c.argv;
    let fields = argv.get(first..).unwrap_or(&[]);
    let (h, reply) = hash_reply(c, key)?;
    let Some(h) = h else {
        reply_all(reply, fields.len(), NO_FIELD);
        return Ok(());
    };
    h.enable_field_ttls();
    reply.array(fields.len());
    let (mut updated, mut deleted) = (0u64, 0u64);
    let mut gone: Vec<&Bytes> = Vec::new();
    for f in fields {
        let code = match (h.ttl(f, now), cond) {
            (FieldTtl::Missing, _) => NO_FIELD,
            (FieldTtl::Persistent, Some("XX" | "GT")) => CONDITION_NOT_MET,
            (FieldTtl::At(_), Some("NX")) => CONDITION_NOT_MET,
            (FieldTtl::At(old), Some("GT")) if old >= at => CONDITION_NOT_MET,
            (FieldTtl::At(old), Some("LT")) if old <= at => CONDITION_NOT_MET,
            _ if at <= now => {
                h.remove(f);
                deleted += 1;
                gone.push(f);
                DELETED
            }
            _ => {
                h.set_expire(f, Some(at));
                updated += 1;
                UPDATED
            }
        };
        reply.int(code);
    }
    // Effects (Redis 7.4): fields deleted by a past time as HDEL, the others as
    // `HPEXPIREAT key <abs ms> [cond] FIELDS ...`; nothing when no field changed.
    for f in gone {
        c.propagate(hdel_effect(key, std::slice::from_ref(f)));
    }
    if updated > 0 {
        let mut argv = argv.to_vec();
        argv[0] = Bytes::from_static(b"HPEXPIREAT");
        argv[2] = crate::propagate::int_arg(at);
        c.propagate(argv);
    } else {
        c.no_propagate();
    }
    if deleted + updated > 0 {
        c.dirty(deleted + updated);
        c.modified(key);
        c.notify(
            notify::HASH,
            if deleted > 0 { "hdel" } else { "hexpire" },
            key,
        );
    }
    if !drop_if_empty(c, key)? && updated > 0 {
        track(c, key)?;
    }
    Ok(())
}

fn hexpire(c: &mut Ctx) -> CmdResult {
    hexpire_generic(c, 1000, false)
}

fn hpexpire(c: &mut Ctx) -> CmdResult {
    hexpire_generic(c, 1, false)
}

fn hexpireat(c: &mut Ctx) -> CmdResult {
    hexpire_generic(c, 1000, true)
}

fn hpexpireat(c: &mut Ctx) -> CmdResult {
    hexpire_generic(c, 1, true)
}

/// HTTL / HPTTL / HEXPIRETIME / HPEXPIRETIME: `relative` subtracts the command's time.
fn httl_generic(c: &mut Ctx, unit_ms: i64, relative: bool) -> CmdResult {
    let key = c.arg(1);
    let now = c.now_ms();
    {
        let clock = c.clock;
        coll::get_typed(c.shard(key)?, key, &clock, Kind::Hash)?;
    }
    let first = parse_fields_block(c, 2, NUMFIELDS_POSITIVE)?;
    let argv = c.argv;
    let fields = argv.get(first..).unwrap_or(&[]);
    let (h, reply) = hash_reply(c, key)?;
    let found = h.is_some();
    let Some(h) = h else {
        reply_all(reply, fields.len(), NO_FIELD);
        c.hit(false);
        return Ok(());
    };
    let base = if relative { now } else { 0 };
    reply.array(fields.len());
    for f in fields {
        reply.int(match h.ttl(f, now) {
            FieldTtl::Missing => NO_FIELD,
            FieldTtl::Persistent => NO_TTL,
            FieldTtl::At(t) if unit_ms == 1000 => (t + 999 - base) / 1000,
            FieldTtl::At(t) => t - base,
        });
    }
    c.hit(found);
    Ok(())
}

fn httl(c: &mut Ctx) -> CmdResult {
    httl_generic(c, 1000, true)
}

fn hpttl(c: &mut Ctx) -> CmdResult {
    httl_generic(c, 1, true)
}

fn hexpiretime(c: &mut Ctx) -> CmdResult {
    httl_generic(c, 1000, false)
}

fn hpexpiretime(c: &mut Ctx) -> CmdResult {
    httl_generic(c, 1, false)
}

fn hpersist(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let now = c.now_ms();
    purge(c, key)?;
    {
        let clock = c.clock;
        coll::get_typed(c.shard(key)?, key, &clock, Kind::Hash)?;
    }
    let first = parse_fields_block(c, 2, NUMFIELDS_POSITIVE)?;
    let argv = c.argv;
    let fields = argv.get(first..).unwrap_or(&[]);
    let (h, reply) = hash_reply(c, key)?;
    let Some(h) = h else {
        reply_all(reply, fields.len(), NO_FIELD);
        return Ok(());
    };
    reply.array(fields.len());
    let mut changed = false;
    for f in fields {
        reply.int(match h.ttl(f, now) {
            FieldTtl::Missing => NO_FIELD,
            FieldTtl::Persistent => NO_TTL,
            FieldTtl::At(_) => {
                h.set_expire(f, None);
                changed = true;
                UPDATED
            }
        });
    }
    if changed {
        c.notify(notify::HASH, "hpersist", key);
        c.modified(key);
        c.dirty(1);
    }
    Ok(())
}

fn hgetdel(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let now = c.now_ms();
    purge(c, key)?;
    {
        let clock = c.clock;
        coll::get_typed(c.shard(key)?, key, &clock, Kind::Hash)?;
    }
    let first = parse_fields_block(c, 2, NUMFIELDS_POSITIVE)?;
    let argv = c.argv;
    let fields = argv.get(first..).unwrap_or(&[]);
    let (mut h, reply) = hash_reply(c, key)?;
    reply.array(fields.len());
    let mut deleted = 0u64;
    let mut gone: Vec<Bytes> = Vec::new();
    for f in fields {
        let Some(h) = h.as_deref_mut() else {
            reply.null();
            continue;
        };
        match h.get_field(f, now) {
            Some(v) => {
                reply.bulk(v);
                h.remove(f);
                deleted += 1;
                gone.push(f.clone());
            }
            None => reply.null(),
        }
    }
    if deleted > 0 {
        c.propagate(hdel_effect(key, &gone));
        c.modified(key);
        c.notify(notify::HASH, "hdel", key);
        c.dirty(deleted);
        drop_if_empty(c, key)?;
    }
    Ok(())
}

fn hgetex(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let now = c.now_ms();
    let cmd = c.cmd.name;
    purge(c, key)?;
    {
        let clock = c.clock;
        coll::get_typed(c.shard(key)?, key, &clock, Kind::Hash)?;
    }
    let opt = c.arg(2);
    // (unit ms, relative) for EX/PX/EXAT/PXAT.
    let timed = [
        ("EX", 1000, true),
        ("PX", 1, true),
        ("EXAT", 1000, false),
        ("PXAT", 1, false),
    ]
    .into_iter()
    .find(|(k, _, _)| args::is(opt, k));
    let persist = args::is(opt, "PERSIST");
    let mut at: Option<i64> = None;
    let fields_at = if let Some((_, unit, relative)) = timed {
        let base = if relative { now } else { 0 };
        at = Some(parse_expire_time(c.arg(3), unit, base, cmd)?);
        4
    } else if persist {
        3
    } else {
        2
    };
    let first = parse_fields_block(c, fields_at, NUMFIELDS_POSITIVE)?;
    let argv = c.argv;
    let fields = argv.get(first..).unwrap_or(&[]);
    let (h, reply) = hash_reply(c, key)?;
    let Some(h) = h else {
        reply.array(fields.len());
        for _ in fields {
            reply.null();
        }
        return Ok(());
    };
    if persist || at.is_some() {
        h.enable_field_ttls();
    }
    reply.array(fields.len());
    let (mut updated, mut deleted) = (0u64, 0u64);
    let mut changed: Vec<Bytes> = Vec::new();
    for f in fields {
        let Some(v) = h.get_field(f, now) else {
            reply.null();
            continue;
        };
        reply.bulk(v);
        if persist {
            if matches!(h.ttl(f, now), FieldTtl::At(_)) {
                h.set_expire(f, None);
                updated += 1;
                changed.push(f.clone());
            }
        } else if let Some(t) = at {
            if t <= now {
                h.remove(f);
                deleted += 1;
            } else {
                h.set_expire(f, Some(t));
                updated += 1;
            }
            changed.push(f.clone());
        }
    }
    if updated + deleted == 0 {
        return Ok(());
    }
    // Effects: HDEL for a past time, else HPERSIST / HPEXPIREAT of the fields changed.
    let effect = match at {
        Some(t) if t <= now => hdel_effect(key, &changed),
        Some(t) => fields_effect("HPEXPIREAT", key, Some(t), &changed),
        None => fields_effect("HPERSIST", key, None, &changed),
    };
    c.propagate(effect);
    c.dirty(updated + deleted);
    c.modified(key);
    if updated > 0 {
        c.notify(
            notify::HASH,
            if persist { "hpersist" } else { "hexpire" },
            key,
        );
    } else {
        c.notify(notify::HASH, "hdel", key);
    }
    if !drop_if_empty(c, key)? && updated > 0 && !persist {
        track(c, key)?;
    }
    Ok(())
}

/// Parsed HSETEX options.
struct SetExOpts {
    fnx: bool,
    fxx: bool,
    /// Absolute expiry for EX/PX/EXAT/PXAT.
    at: Option<i64>,
    keepttl: bool,
    /// Index of the first field.
    first: usize,
}

/// Redis 8.0's `hsetexParseArgs`, with its exact errors.
fn hsetex_parse(c: &Ctx) -> Result<SetExOpts, CmdError> {
    let argc = c.argv.len();
    let now = c.now_ms();
    let cmd = c.cmd.name;
    let mut o = SetExOpts {
        fnx: false,
        fxx: false,
        at: None,
        keepttl: false,
        first: 0,
    };
    let mut i = 2;
    while i < argc {
        let a = c.arg(i);
        if args::is(a, "FIELDS") {
            if i + 3 >= argc {
                return Err(errors::wrong_arity(cmd));
            }
            let n = args::parse_i64_strict(c.arg(i + 1))
                .filter(|n| (1..=i64::from(i32::MAX)).contains(n))
                .ok_or(HSETEX_INVALID_NUMFIELDS)?;
            let remaining = argc - i - 2;
            if !remaining.is_multiple_of(2) || n as usize != remaining / 2 {
                return Err(errors::wrong_arity(cmd));
            }
            o.first = i + 2;
            return Ok(o);
        }
        let timed = [
            ("EX", 1000, true),
            ("PX", 1, true),
            ("EXAT", 1000, false),
            ("PXAT", 1, false),
        ]
        .into_iter()
        .find(|(k, _, _)| args::is(a, k));
        if let Some((_, unit, relative)) = timed {
            if o.at.is_some() || o.keepttl {
                return Err(HSETEX_ONE_EXPIRY);
            }
            if i + 1 >= argc {
                return Err(HSETEX_MISSING_EXPIRE);
            }
            i += 1;
            let base = if relative { now } else { 0 };
            o.at = Some(parse_expire_time(c.arg(i), unit, base, cmd)?);
        } else if args::is(a, "KEEPTTL") {
            if o.at.is_some() || o.keepttl {
                return Err(HSETEX_ONE_EXPIRY);
            }
            o.keepttl = true;
        } else if args::is(a, "FXX") || args::is(a, "FNX") {
            if o.fxx || o.fnx {
                return Err(HSETEX_ONE_CONDITION);
            }
            if args::is(a, "FXX") {
                o.fxx = true;
            } else {
                o.fnx = true;
            }
        } else {
            return Err(crate::cmd_err!("ERR unknown argument: {}", args::text(a)));
        }
        i += 1;
    }
    Err(errors::SYNTAX)
}

fn hsetex(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let now = c.now_ms();
    let limits = c.limits();
    let o = hsetex_parse(c)?;
    purge(c, key)?;
    let argv = c.argv;
    let pairs = argv.get(o.first..).unwrap_or(&[]);
    // FNX / FXX are checked before anything is created.
    {
        let (h, reply) = hash_reply(c, key)?;
        if o.fnx || o.fxx {
            let present = pairs
                .chunks_exact(2)
                .filter(|p| {
                    p.first()
                        .is_some_and(|f| h.as_ref().is_some_and(|h| h.get_field(f, now).is_some()))
                })
                .count();
            let ok = if o.fxx {
                present == pairs.len() / 2
            } else {
                present == 0
            };
            if !ok {
                reply.int(0);
                return Ok(());
            }
        }
    }
    let new_key = notify::new_key_pending(c, key);
    let (h, reply) = hash_create(c, key)?;
    if o.at.is_some() {
        h.enable_field_ttls();
    }
    let keep = o.keepttl || o.at.is_some();
    let (mut updated, mut deleted) = (0u64, 0u64);
    for p in pairs.chunks_exact(2) {
        let [f, v] = p else { continue };
        h.set(f, v, keep, &limits);
        if let Some(t) = o.at {
            if t <= now {
                h.remove(f);
                deleted += 1;
            } else {
                h.set_expire(f, Some(t));
                updated += 1;
            }
        }
    }
    reply.int(1);
    c.dirty((pairs.len() / 2) as u64);
    c.modified(key);
    // Effects: a relative or seconds time becomes PXAT; a past time deletes the fields.
    match o.at {
        Some(t) if t <= now => {
            let fs: Vec<Bytes> = pairs.chunks_exact(2).map(|p| p[0].clone()).collect();
            c.propagate(hdel_effect(key, &fs));
        }
        Some(t) => {
            let mut argv = vec![Bytes::from_static(b"HSETEX"), Bytes::copy_from_slice(key)];
            if o.fnx {
                argv.push(Bytes::from_static(b"FNX"));
            } else if o.fxx {
                argv.push(Bytes::from_static(b"FXX"));
            }
            argv.push(Bytes::from_static(b"PXAT"));
            argv.push(crate::propagate::int_arg(t));
            argv.extend_from_slice(&c.argv[o.first - 2..]);
            c.propagate(argv);
        }
        None => {}
    }
    if new_key {
        c.notify(notify::NEW, "new", key);
    }
    c.notify(notify::HASH, "hset", key);
    if deleted + updated > 0 {
        c.notify(
            notify::HASH,
            if deleted > 0 { "hdel" } else { "hexpire" },
            key,
        );
    }
    if !drop_if_empty(c, key)? && updated > 0 {
        track(c, key)?;
    }
    Ok(())
}

/// `HDEL key field...`: the effect of fields deleted by a command (a past expiry time, HGETDEL).
fn hdel_effect(key: &[u8], fields: &[Bytes]) -> Vec<Bytes> {
    let mut argv = vec![Bytes::from_static(b"HDEL"), Bytes::copy_from_slice(key)];
    argv.extend(fields.iter().cloned());
    argv
}

/// `<name> key [at] FIELDS n field...`: HPEXPIREAT / HPERSIST of the fields a command changed.
fn fields_effect(name: &'static str, key: &[u8], at: Option<i64>, fields: &[Bytes]) -> Vec<Bytes> {
    let mut argv = vec![Bytes::from(name), Bytes::copy_from_slice(key)];
    if let Some(t) = at {
        argv.push(crate::propagate::int_arg(t));
    }
    argv.push(Bytes::from_static(b"FIELDS"));
    argv.push(crate::propagate::int_arg(fields.len() as i64));
    argv.extend(fields.iter().cloned());
    argv
}
