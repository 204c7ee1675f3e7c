//! String commands: GET, SET and the rest of the family (Redis 7.2 semantics).
//!
//! Encodings follow Redis: values written whole (SET, MSET, GETSET, ...) get `int`/`embstr`/`raw`
//! by content ([`Entry::new_string`]); APPEND and SETRANGE leave a `raw` string with sds-like
//! spare capacity so repeated appends are amortised O(1); the INCR family stores `int`;
//! INCRBYFLOAT stores its text like `createStringObject` (`embstr` when short).

pub(crate) mod ldouble;

use crate::args;
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdError, CmdResult};
use crate::notify;
use bytes::Bytes;
use ferrokv_engine::{Entry, Kind};
use ldouble::LongDouble;
use std::sync::atomic::Ordering::Relaxed;

/// Binds the group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("get", get, Locking::Keys);
    t.add("set", set, Locking::Keys);
    t.add("setnx", setnx, Locking::Keys);
    t.add("setex", setex, Locking::Keys);
    t.add("psetex", psetex, Locking::Keys);
    t.add("getset", getset, Locking::Keys);
    t.add("getdel", getdel, Locking::Keys);
    t.add("getex", getex, Locking::Keys);
    t.add("mget", mget, Locking::Keys);
    t.add("mset", mset, Locking::Keys);
    t.add("msetnx", msetnx, Locking::Keys);
    t.add("incr", incr, Locking::Keys);
    t.add("incrby", incrby, Locking::Keys);
    t.add("decr", decr, Locking::Keys);
    t.add("decrby", decrby, Locking::Keys);
    t.add("incrbyfloat", incrbyfloat, Locking::Keys);
    t.add("append", append, Locking::Keys);
    t.add("strlen", strlen, Locking::Keys);
    t.add("getrange", getrange, Locking::Keys);
    t.add("substr", getrange, Locking::Keys);
    t.add("setrange", setrange, Locking::Keys);
    t.add("lcs", lcs, Locking::Keys);
}

const DECREMENT_OVERFLOW: CmdError = CmdError::new("ERR decrement would overflow");
const LCS_NOT_STRING: CmdError = CmdError::new("ERR The specified keys must contain string values");
const LCS_IDX_AND_LEN: CmdError =
    CmdError::new("ERR If you want both the length and indexes, please just use IDX.");
const LCS_TOO_LONG: CmdError = CmdError::new("ERR String too long for LCS");
const LCS_OVER_LIMIT: CmdError =
    CmdError::new("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
const LCS_ALLOC_FAILED: CmdError =
    CmdError::new("ERR Insufficient memory, failed allocating transient memory for LCS");

/// sds's greedy growth (SDS_MAX_PREALLOC = 1 MiB): the spare bytes left after growing to `len`.
fn sds_slack(len: usize) -> usize {
    const MAX_PREALLOC: usize = 1024 * 1024;
    if len < MAX_PREALLOC {
        len
    } else {
        MAX_PREALLOC
    }
}

/// GET's core (Redis's `getGenericCommand`): replies the value or nil, counts the hit or miss.
fn get_generic(c: &mut Ctx, key: &[u8]) -> CmdResult {
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(key)?;
    let found = match shard.get(key, &clock) {
        Some(e) if e.kind().is_string() => {
            reply.bulk(e.str_value());
            true
        }
        Some(_) => return Err(errors::WRONGTYPE),
        None => {
            reply.null();
            false
        }
    };
    c.hit(found);
    Ok(())
}

fn get(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    get_generic(c, key)
}

/// Expiry requested by SET/GETEX-style options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireOpt {
    /// No expiry option: a write clears the TTL.
    None,
    /// KEEPTTL: the key keeps its TTL.
    Keep,
    /// Absolute unix time in ms.
    At(i64),
}

/// Converts a relative/absolute expiry argument into an absolute ms time, with Redis's checks
/// (`getExpireMillisecondsOrReply`): not an integer → "value is not an integer or out of range";
/// zero, negative or overflowing → "invalid expire time in '<cmd>' command".
pub fn expire_at(
    c: &Ctx,
    unit_ms: i64,
    absolute: bool,
    arg: &[u8],
    cmd: &str,
) -> Result<i64, errors::CmdError> {
    let v = args::int(arg)?;
    if v <= 0 {
        return Err(errors::invalid_expire(cmd));
    }
    let ms = v
        .checked_mul(unit_ms)
        .ok_or_else(|| errors::invalid_expire(cmd))?;
    let at = if absolute {
        ms
    } else {
        ms.checked_add(c.now_ms())
            .ok_or_else(|| errors::invalid_expire(cmd))?
    };
    if at <= 0 {
        return Err(errors::invalid_expire(cmd));
    }
    Ok(at)
}

// Option flags of Redis's parseExtendedStringArgumentsOrReply.
const F_NX: u32 = 1;
const F_XX: u32 = 2;
const F_GET: u32 = 4;
const F_KEEPTTL: u32 = 8;
const F_PERSIST: u32 = 16;
const F_EX: u32 = 32;
const F_PX: u32 = 64;
const F_EXAT: u32 = 128;
const F_PXAT: u32 = 256;
const F_ANY_EXPIRE: u32 = F_EX | F_PX | F_EXAT | F_PXAT;

/// Parsed SET/GETEX options: flags plus the unconverted expiry argument.
struct ExtOpts<'a> {
    flags: u32,
    expire: Option<&'a [u8]>,
}

impl ExtOpts<'_> {
    fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// (unit in ms, absolute) of the expiry option given.
    fn unit(&self) -> (i64, bool) {
        if self.has(F_EX) {
            (1000, false)
        } else if self.has(F_PX) {
            (1, false)
        } else if self.has(F_EXAT) {
            (1000, true)
        } else {
            (1, true)
        }
    }
}

/// Redis's option parser for SET (`for_set`) and GETEX, with its exact acceptance rules: an
/// option may repeat (the last expiry wins), conflicting ones are a syntax error.
fn parse_ext<'a>(
    argv: &'a [bytes::Bytes],
    start: usize,
    for_set: bool,
) -> Result<ExtOpts<'a>, CmdError> {
    let mut o = ExtOpts {
        flags: 0,
        expire: None,
    };
    let mut j = start;
    while let Some(a) = argv.get(j) {
        let a: &[u8] = a;
        let next = argv.get(j + 1).map(|b| &b[..]);
        let f = o.flags;
        let expire_opt = |name: &str, me: u32| {
            args::is(a, name)
                && f & (F_KEEPTTL | F_PERSIST) == 0
                && f & (F_ANY_EXPIRE & !me) == 0
                && next.is_some()
        };
        if for_set && args::is(a, "NX") && f & F_XX == 0 {
            o.flags |= F_NX;
        } else if for_set && args::is(a, "XX") && f & F_NX == 0 {
            o.flags |= F_XX;
        } else if for_set && args::is(a, "GET") {
            o.flags |= F_GET;
        } else if for_set && args::is(a, "KEEPTTL") && f & (F_PERSIST | F_ANY_EXPIRE) == 0 {
            o.flags |= F_KEEPTTL;
        } else if !for_set && args::is(a, "PERSIST") && f & (F_KEEPTTL | F_ANY_EXPIRE) == 0 {
            o.flags |= F_PERSIST;
        } else if let Some(flag) = [
            ("EX", F_EX),
            ("PX", F_PX),
            ("EXAT", F_EXAT),
            ("PXAT", F_PXAT),
        ]
        .iter()
        .find(|(n, me)| expire_opt(n, *me))
        .map(|(_, me)| *me)
        {
            o.flags |= flag;
            o.expire = next;
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// Redis's `setGenericCommand`. `replies` = (ok, aborted) as integers for SETNX, else None
/// (OK / nil).
fn set_generic(
    c: &mut Ctx,
    key: &[u8],
    val: &[u8],
    flags: u32,
    expire: Option<i64>,
    int_replies: bool,
) -> CmdResult {
    let get = flags & F_GET != 0;
    if get {
        get_generic(c, key)?;
    }
    let clock = c.clock;
    let created = notify::wants(c, notify::NEW) && !c.shard(key)?.contains(key, clock.ms);
    let (shard, reply) = c.shard_reply(key)?;
    if flags & (F_NX | F_XX | F_KEEPTTL) == 0 {
        // Plain overwrite: one lookup does it all.
        shard.write_string(key, val, expire, &clock);
        if !get {
            if int_replies {
                reply.int(1);
            } else {
                reply.ok();
            }
        }
        c.dirty(1);
        c.modified(key);
        notify_set(c, key, created, expire.is_some());
        return Ok(());
    }
    let old = shard.get(key, &clock).map(|e| (e.expire_at(), e.access()));
    let found = old.is_some();
    if (flags & F_NX != 0 && found) || (flags & F_XX != 0 && !found) {
        if !get {
            if int_replies {
                reply.int(0);
            } else {
                reply.null();
            }
        }
        return Ok(());
    }
    let at = match expire {
        Some(t) => Some(t),
        None if flags & F_KEEPTTL != 0 => old.and_then(|o| o.0),
        None => None,
    };
    let access = shard.overwrite_access(old.map(|o| o.1), &clock);
    shard.insert(Entry::new_string(key, val, at, access), clock.ms);
    if !get {
        if int_replies {
            reply.int(1);
        } else {
            reply.ok();
        }
    }
    c.dirty(1);
    c.modified(key);
    notify_set(c, key, created, expire.is_some());
    Ok(())
}

/// The events of a SET: `new` (when the key was created), `set`, then `expire` with a TTL.
fn notify_set(c: &mut Ctx, key: &[u8], created: bool, expire: bool) {
    if created {
        c.notify(notify::NEW, "new", key);
    }
    c.notify(notify::STRING, "set", key);
    if expire {
        c.notify(notify::GENERIC, "expire", key);
    }
}

fn set(c: &mut Ctx) -> CmdResult {
    let o = parse_ext(c.argv, 3, true)?;
    let expire = match o.expire {
        Some(arg) => {
            let (unit, abs) = o.unit();
            Some(expire_at(c, unit, abs, arg, "set")?)
        }
        None => None,
    };
    let (key, val) = (c.arg(1), c.arg(2));
    let dirty = c.client.batch.dirty;
    set_generic(c, key, val, o.flags, expire, false)?;
    if c.client.batch.dirty == dirty || !c.propagating() {
        return Ok(());
    }
    // As Redis: a relative or seconds expiry becomes `SET key value PXAT <ms>` (dropping the
    // other options); otherwise the request is kept, without its GET option.
    match expire {
        Some(at) if !o.has(F_PXAT) => c.propagate(set_pxat(key, val, at)),
        _ if o.has(F_GET) => {
            let argv: Vec<Bytes> = c.argv[..3]
                .iter()
                .chain(c.argv[3..].iter().filter(|a| !args::is(a, "GET")))
                .cloned()
                .collect();
            c.propagate(argv);
        }
        _ => {}
    }
    Ok(())
}

/// `SET key value PXAT <at>`: the effect of a SET-like command with an expiry.
fn set_pxat(key: &[u8], val: &[u8], at: i64) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"SET"),
        Bytes::copy_from_slice(key),
        Bytes::copy_from_slice(val),
        Bytes::from_static(b"PXAT"),
        crate::propagate::int_arg(at),
    ]
}

fn setnx(c: &mut Ctx) -> CmdResult {
    let (key, val) = (c.arg(1), c.arg(2));
    set_generic(c, key, val, F_NX, None, true)
}

fn setex(c: &mut Ctx) -> CmdResult {
    let at = expire_at(c, 1000, false, c.arg(2), "setex")?;
    let (key, val) = (c.arg(1), c.arg(3));
    set_generic(c, key, val, 0, Some(at), false)?;
    if c.propagating() {
        c.propagate(set_pxat(key, val, at));
    }
    Ok(())
}

fn psetex(c: &mut Ctx) -> CmdResult {
    let at = expire_at(c, 1, false, c.arg(2), "psetex")?;
    let (key, val) = (c.arg(1), c.arg(3));
    set_generic(c, key, val, 0, Some(at), false)?;
    if c.propagating() {
        c.propagate(set_pxat(key, val, at));
    }
    Ok(())
}

fn getset(c: &mut Ctx) -> CmdResult {
    let (key, val) = (c.arg(1), c.arg(2));
    get_generic(c, key)?;
    let clock = c.clock;
    let shard = c.shard(key)?;
    let old = shard.get(key, &clock).map(|e| e.access());
    let access = shard.overwrite_access(old, &clock);
    shard.insert(Entry::new_string(key, val, None, access), clock.ms);
    c.dirty(1);
    c.modified(key);
    notify_set(c, key, old.is_none(), false);
    // Propagated as SET (Redis rewrites the command name only).
    if c.propagating() {
        let mut argv = c.argv.to_vec();
        argv[0] = Bytes::from_static(b"SET");
        c.propagate(argv);
    }
    Ok(())
}

fn getdel(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    get_generic(c, key)?;
    let now = c.now_ms();
    if c.shard(key)?.remove(key, now).is_some() {
        c.dirty(1);
        c.modified(key);
        c.notify(notify::GENERIC, "del", key);
        c.propagate(crate::propagate::del_or_unlink(key, false));
    }
    Ok(())
}

fn getex(c: &mut Ctx) -> CmdResult {
    let o = parse_ext(c.argv, 2, false)?;
    let key = c.arg(1);
    let clock = c.clock;
    let shard = c.shard(key)?;
    let value = match shard.get(key, &clock) {
        None => None,
        Some(e) if !e.kind().is_string() => return Err(errors::WRONGTYPE),
        Some(e) => Some((e.str_value().to_vec(), e.expire_at().is_some())),
    };
    let Some((value, volatile)) = value else {
        c.hit(false);
        c.reply.null();
        return Ok(());
    };
    c.hit(true);
    let expire = match o.expire {
        Some(arg) => {
            let (unit, abs) = o.unit();
            Some(expire_at(c, unit, abs, arg, "getex")?)
        }
        None => None,
    };
    c.reply.bulk(&value);
    let now = c.now_ms();
    // An absolute time already past deletes the key (not while the AOF loads).
    let absolute = o.has(F_EXAT | F_PXAT) && expire.is_none_or(|at| c.already_expired(at));
    let shard = c.shard(key)?;
    let changed = match expire {
        Some(at) if absolute && at <= now => shard.remove(key, now).is_some(),
        Some(at) => shard.set_expire(key, Some(at), now),
        None if o.has(F_PERSIST) => volatile && shard.set_expire(key, None, now),
        None => false,
    };
    if changed {
        c.dirty(1);
        c.modified(key);
        let event = match expire {
            Some(at) if absolute && at <= now => "del",
            Some(_) => "expire",
            None => "persist",
        };
        c.notify(notify::GENERIC, event, key);
        // Effects: the absolute expiry, PERSIST, or the deletion of a key already expired
        // (UNLINK under lazyfree-lazy-expire, as Redis).
        let effect = match expire {
            Some(at) if absolute && at <= now => {
                crate::propagate::del_or_unlink(key, lazy_expire(c))
            }
            Some(at) => crate::propagate::pexpireat(key, at),
            None => vec![Bytes::from_static(b"PERSIST"), Bytes::copy_from_slice(key)],
        };
        c.propagate(effect);
    }
    Ok(())
}

fn mget(c: &mut Ctx) -> CmdResult {
    let n = c.argv.len() - 1;
    c.reply.array(n);
    let clock = c.clock;
    for i in 1..=n {
        let key = c.arg(i);
        let (shard, reply) = c.shard_reply(key)?;
        let found = match shard.get(key, &clock) {
            Some(e) if e.kind().is_string() => {
                reply.bulk(e.str_value());
                true
            }
            Some(_) => {
                reply.null();
                true
            }
            None => {
                reply.null();
                false
            }
        };
        c.hit(found);
    }
    Ok(())
}

fn mset_generic(c: &mut Ctx, nx: bool) -> CmdResult {
    if c.argv.len() & 1 == 0 {
        return Err(errors::wrong_arity(c.cmd.name));
    }
    let now = c.now_ms();
    if nx {
        for i in (1..c.argv.len()).step_by(2) {
            let key = c.arg(i);
            if c.shard(key)?.contains(key, now) {
                c.reply.int(0);
                return Ok(());
            }
        }
    }
    let clock = c.clock;
    let events = notify::wants(c, notify::STRING);
    let news = notify::wants(c, notify::NEW);
    for i in (1..c.argv.len()).step_by(2) {
        let (key, val) = (c.arg(i), c.arg(i + 1));
        // The key's shard once (CRC16 of the key), for both the lookup and the write.
        let shard = c.shard(key)?;
        let created = news && !shard.contains(key, clock.ms);
        shard.write_string(key, val, None, &clock);
        c.modified(key);
        if events || created {
            notify_set(c, key, created, false);
        }
    }
    c.dirty(((c.argv.len() - 1) / 2) as u64);
    if nx {
        c.reply.int(1);
    } else {
        c.reply.ok();
    }
    Ok(())
}

fn mset(c: &mut Ctx) -> CmdResult {
    mset_generic(c, false)
}

fn msetnx(c: &mut Ctx) -> CmdResult {
    mset_generic(c, true)
}

/// Redis's `incrDecrCommand`: the value must be a canonical integer; the result is `int`-encoded
/// and keeps the key's TTL.
fn incr_decr(c: &mut Ctx, by: i64) -> CmdResult {
    let key = c.arg(1);
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(key)?;
    let mut buf = itoa::Buffer::new();
    let (new, expire, access) = match shard.get_mut(key, &clock) {
        Some(e) if !e.kind().is_string() => return Err(errors::WRONGTYPE),
        Some(e) => {
            let old = args::parse_i64_strict(e.str_value()).ok_or(errors::NOT_INTEGER)?;
            let new = old.checked_add(by).ok_or(errors::OVERFLOW)?;
            if e.replace_int_in_place(buf.format(new).as_bytes()) {
                reply.int(new);
                c.dirty(1);
                c.modified(key);
                c.notify(notify::STRING, "incrby", key);
                return Ok(());
            }
            (new, e.expire_at(), Some(e.access()))
        }
        None => (by, None, None),
    };
    let created = access.is_none();
    let access = shard.overwrite_access(access, &clock);
    let text = buf.format(new);
    shard.insert(
        Entry::new_string(key, text.as_bytes(), expire, access),
        clock.ms,
    );
    reply.int(new);
    c.dirty(1);
    c.modified(key);
    if created {
        c.notify(notify::NEW, "new", key);
    }
    c.notify(notify::STRING, "incrby", key);
    Ok(())
}

fn incr(c: &mut Ctx) -> CmdResult {
    incr_decr(c, 1)
}

fn decr(c: &mut Ctx) -> CmdResult {
    incr_decr(c, -1)
}

fn incrby(c: &mut Ctx) -> CmdResult {
    let by = args::int(c.arg(2))?;
    incr_decr(c, by)
}

fn decrby(c: &mut Ctx) -> CmdResult {
    let by = args::int(c.arg(2))?;
    if by == i64::MIN {
        return Err(DECREMENT_OVERFLOW);
    }
    incr_decr(c, -by)
}

fn incrbyfloat(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let incr_arg = c.arg(2);
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(key)?;
    let (old, expire, access) = match shard.get(key, &clock) {
        Some(e) if !e.kind().is_string() => return Err(errors::WRONGTYPE),
        Some(e) => {
            let v = if e.kind() == Kind::StrInt {
                args::parse_i64_strict(e.str_value()).map(LongDouble::from_i64)
            } else {
                LongDouble::parse(e.str_value())
            };
            (v.ok_or(errors::NOT_FLOAT)?, e.expire_at(), Some(e.access()))
        }
        None => (LongDouble::from_i64(0), None, None),
    };
    let by = LongDouble::parse(incr_arg).ok_or(errors::NOT_FLOAT)?;
    let sum = old.add(by);
    if sum.is_nan_or_inf() {
        return Err(errors::INCR_NAN_INF);
    }
    let text = sum.to_human();
    let created = access.is_none();
    let access = shard.overwrite_access(access, &clock);
    shard.insert(
        Entry::new_plain_string(key, text.as_bytes(), expire, access),
        clock.ms,
    );
    reply.bulk(text.as_bytes());
    c.dirty(1);
    c.modified(key);
    if created {
        c.notify(notify::NEW, "new", key);
    }
    c.notify(notify::STRING, "incrbyfloat", key);
    // The result, not the increment: replay must not depend on float formatting.
    if c.propagating() {
        c.propagate(vec![
            Bytes::from_static(b"SET"),
            Bytes::copy_from_slice(key),
            Bytes::copy_from_slice(text.as_bytes()),
            Bytes::from_static(b"KEEPTTL"),
        ]);
    }
    Ok(())
}

fn append(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let extra = c.arg(2);
    let clock = c.clock;
    let max = c.srv.hot.proto_max_bulk_len.load(Relaxed);
    let shard = c.shard(key)?;
    let mut created = false;
    let total = match shard.get_mut(key, &clock) {
        None => {
            let access = shard.new_access(&clock);
            shard.insert(Entry::new_string(key, extra, None, access), clock.ms);
            created = true;
            extra.len()
        }
        Some(e) => {
            if !e.kind().is_string() {
                return Err(errors::WRONGTYPE);
            }
            let old_len = e.str_value().len();
            if (old_len as u64).saturating_add(extra.len() as u64) > max {
                return Err(errors::STRING_TOO_LONG);
            }
            let total = old_len + extra.len();
            if !e.try_append_in_place(extra) {
                // Redis unshares the value into an exact-size raw sds, then grows it greedily.
                let slack = if extra.is_empty() {
                    0
                } else {
                    sds_slack(total)
                };
                let mut v = Vec::with_capacity(total);
                v.extend_from_slice(e.str_value());
                v.extend_from_slice(extra);
                let ne = Entry::new_raw_string(key, &v, e.expire_at(), e.access(), slack);
                shard.insert(ne, clock.ms);
            }
            total
        }
    };
    c.reply.int(total as i64);
    c.dirty(1);
    c.modified(key);
    if created {
        c.notify(notify::NEW, "new", key);
    }
    c.notify(notify::STRING, "append", key);
    Ok(())
}

fn strlen(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(key)?;
    let found = match shard.get(key, &clock) {
        Some(e) if !e.kind().is_string() => return Err(errors::WRONGTYPE),
        Some(e) => {
            reply.int(e.str_value().len() as i64);
            true
        }
        None => {
            reply.int(0);
            false
        }
    };
    c.hit(found);
    Ok(())
}

fn getrange(c: &mut Ctx) -> CmdResult {
    let mut start = args::int(c.arg(2))?;
    let mut end = args::int(c.arg(3))?;
    let key = c.arg(1);
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(key)?;
    let found = match shard.get(key, &clock) {
        Some(e) if !e.kind().is_string() => return Err(errors::WRONGTYPE),
        Some(e) => {
            let s = e.str_value();
            let len = s.len() as i64;
            if start < 0 && end < 0 && start > end {
                reply.bulk(b"");
            } else {
                if start < 0 {
                    start += len;
                }
                if end < 0 {
                    end += len;
                }
                start = start.max(0);
                end = end.max(0);
                if end >= len {
                    end = len - 1;
                }
                if start > end || len == 0 {
                    reply.bulk(b"");
                } else {
                    reply.bulk(s.get(start as usize..=end as usize).unwrap_or(b""));
                }
            }
            true
        }
        None => {
            reply.bulk(b"");
            false
        }
    };
    c.hit(found);
    Ok(())
}

fn setrange(c: &mut Ctx) -> CmdResult {
    let offset = args::int(c.arg(2))?;
    if offset < 0 {
        return Err(errors::OFFSET_OUT_OF_RANGE);
    }
    let key = c.arg(1);
    let val = c.arg(3);
    let clock = c.clock;
    let max = c.srv.hot.proto_max_bulk_len.load(Relaxed);
    let too_long = (offset as u64).saturating_add(val.len() as u64) > max;
    let off = offset as usize;
    let shard = c.shard(key)?;
    let total = match shard.get_mut(key, &clock) {
        None if val.is_empty() => 0,
        None => {
            if too_long {
                return Err(errors::STRING_TOO_LONG);
            }
            let end = off + val.len();
            let mut v = vec![0u8; end];
            if let Some(dst) = v.get_mut(off..end) {
                dst.copy_from_slice(val);
            }
            let access = shard.new_access(&clock);
            shard.insert(Entry::new_raw_string(key, &v, None, access, 0), clock.ms);
            c.dirty(1);
            c.modified(key);
            c.notify(notify::NEW, "new", key);
            c.notify(notify::STRING, "setrange", key);
            end
        }
        Some(e) if !e.kind().is_string() => return Err(errors::WRONGTYPE),
        Some(e) if val.is_empty() => e.str_value().len(),
        Some(e) => {
            if too_long {
                return Err(errors::STRING_TOO_LONG);
            }
            let end = off + val.len();
            let len = e.str_value().len();
            let grow = end.saturating_sub(len);
            let in_place = e.kind() == Kind::StrRaw
                && (grow == 0
                    || (e.raw_slack() >= grow && e.try_append_in_place(&vec![0u8; grow])));
            if in_place {
                if let Some(dst) = e.raw_value_mut().and_then(|v| v.get_mut(off..end)) {
                    dst.copy_from_slice(val);
                }
            } else {
                // Redis unshares into an exact-size raw sds, then grows it greedily if needed.
                let new_len = len.max(end);
                let mut v = Vec::with_capacity(new_len);
                v.extend_from_slice(e.str_value());
                v.resize(new_len, 0);
                if let Some(dst) = v.get_mut(off..end) {
                    dst.copy_from_slice(val);
                }
                let slack = if grow > 0 { sds_slack(new_len) } else { 0 };
                let ne = Entry::new_raw_string(key, &v, e.expire_at(), e.access(), slack);
                shard.insert(ne, clock.ms);
            }
            c.dirty(1);
            c.modified(key);
            c.notify(notify::STRING, "setrange", key);
            len.max(end)
        }
    };
    c.reply.int(total as i64);
    Ok(())
}

fn lcs(c: &mut Ctx) -> CmdResult {
    let clock = c.clock;
    let mut vals: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut bad_type = false;
    for (i, slot) in vals.iter_mut().enumerate() {
        let key = c.arg(1 + i);
        let found = match c.shard(key)?.get(key, &clock) {
            Some(e) if !e.kind().is_string() => {
                bad_type = true;
                true
            }
            Some(e) => {
                *slot = e.str_value().to_vec();
                true
            }
            None => false,
        };
        c.hit(found);
    }
    if bad_type {
        return Err(LCS_NOT_STRING);
    }
    let (mut getidx, mut getlen, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut j = 3;
    while j < c.argv.len() {
        let opt = c.arg(j);
        let more = c.argv.len() - 1 - j;
        if args::is(opt, "IDX") {
            getidx = true;
        } else if args::is(opt, "LEN") {
            getlen = true;
        } else if args::is(opt, "WITHMATCHLEN") {
            withmatchlen = true;
        } else if args::is(opt, "MINMATCHLEN") && more > 0 {
            minmatchlen = args::int(c.arg(j + 1))?.max(0);
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    if getidx && getlen {
        return Err(LCS_IDX_AND_LEN);
    }
    let [a, b] = vals;
    if a.len() >= (u32::MAX - 1) as usize || b.len() >= (u32::MAX - 1) as usize {
        return Err(LCS_TOO_LONG);
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    let bytes = cells.checked_mul(4).ok_or(LCS_ALLOC_FAILED)?;
    if bytes > c.srv.hot.proto_max_bulk_len.load(Relaxed) {
        return Err(LCS_OVER_LIMIT);
    }
    let cells = usize::try_from(cells).map_err(|_| LCS_ALLOC_FAILED)?;
    let mut t: Vec<u32> = Vec::new();
    t.try_reserve_exact(cells).map_err(|_| LCS_ALLOC_FAILED)?;
    t.resize(cells, 0);
    let w = blen + 1;
    let at = |t: &Vec<u32>, i: usize, j: usize| t.get(j + i * w).copied().unwrap_or(0);
    for i in 1..=alen {
        for j in 1..=blen {
            let v = if a.get(i - 1) == b.get(j - 1) {
                at(&t, i - 1, j - 1) + 1
            } else {
                at(&t, i - 1, j).max(at(&t, i, j - 1))
            };
            if let Some(cell) = t.get_mut(j + i * w) {
                *cell = v;
            }
        }
    }
    let total = at(&t, alen, blen);
    let computelcs = getidx || !getlen;
    let mut result = vec![0u8; if computelcs { total as usize } else { 0 }];
    let mut idx = total as usize;
    let reply = &mut *c.reply;
    let mut deferred = None;
    if getidx {
        reply.map(2);
        reply.bulk(b"matches");
        deferred = Some(reply.begin_deferred());
    }
    let mut ranges = 0usize;
    let (mut i, mut j) = (alen, blen);
    // alen in arange_start means "no range open", as in Redis.
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0usize, 0usize, 0usize);
    while computelcs && i > 0 && j > 0 {
        let mut emit = false;
        if a.get(i - 1) == b.get(j - 1) {
            if let (Some(r), Some(&ch)) = (result.get_mut(idx.wrapping_sub(1)), a.get(i - 1)) {
                *r = ch;
            }
            if a_start == alen {
                a_start = i - 1;
                a_end = i - 1;
                b_start = j - 1;
                b_end = j - 1;
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx = idx.wrapping_sub(1);
            i -= 1;
            j -= 1;
        } else {
            if at(&t, i - 1, j) > at(&t, i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let match_len = (a_end - a_start + 1) as i64;
            if deferred.is_some() && (minmatchlen == 0 || match_len >= minmatchlen) {
                reply.array(2 + usize::from(withmatchlen));
                reply.array(2);
                reply.int(a_start as i64);
                reply.int(a_end as i64);
                reply.array(2);
                reply.int(b_start as i64);
                reply.int(b_end as i64);
                if withmatchlen {
                    reply.int(match_len);
                }
                ranges += 1;
            }
            a_start = alen;
        }
    }
    if let Some(d) = deferred {
        reply.bulk(b"len");
        reply.int(i64::from(total));
        // The deferred array header goes before the ranges, i.e. right after "matches".
        reply.end_deferred_array(d, ranges);
    } else if getlen {
        reply.int(i64::from(total));
    } else {
        reply.bulk(&result);
    }
    Ok(())
}

/// Whether `lazyfree-lazy-expire` is on: keys deleted because their expiry time is already
/// past are then propagated as UNLINK instead of DEL, as Redis does.
pub fn lazy_expire(c: &Ctx) -> bool {
    c.srv.config.read().get_bool("lazyfree-lazy-expire") == Some(true)
}
