//! String commands: GET, SET and the rest of the family.

use crate::args;
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdResult};
use ferrokv_engine::Entry;

/// Binds the group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("get", get, Locking::Keys);
    t.add("set", set, Locking::Keys);
}

fn get(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
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

/// Expiry requested by SET/GETEX-style options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireOpt {
    None,
    Keep,
    /// Absolute unix time in ms.
    At(i64),
}

/// Converts a relative/absolute expiry argument into an absolute ms time, with Redis's checks.
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
    if absolute {
        Ok(ms)
    } else {
        ms.checked_add(c.now_ms())
            .ok_or_else(|| errors::invalid_expire(cmd))
    }
}

fn set(c: &mut Ctx) -> CmdResult {
    let mut nx = false;
    let mut xx = false;
    let mut get = false;
    let mut exp = ExpireOpt::None;
    let mut i = 3;
    while i < c.argv.len() {
        let a = c.arg(i);
        let next = c.argv.get(i + 1).map(|b| &b[..]);
        if args::is(a, "NX") && !xx {
            nx = true;
        } else if args::is(a, "XX") && !nx {
            xx = true;
        } else if args::is(a, "GET") {
            get = true;
        } else if args::is(a, "KEEPTTL") && exp == ExpireOpt::None {
            exp = ExpireOpt::Keep;
        } else if exp == ExpireOpt::None
            && next.is_some()
            && (args::is(a, "EX")
                || args::is(a, "PX")
                || args::is(a, "EXAT")
                || args::is(a, "PXAT"))
        {
            let unit = if args::is(a, "EX") || args::is(a, "EXAT") {
                1000
            } else {
                1
            };
            let absolute = args::is(a, "EXAT") || args::is(a, "PXAT");
            exp = ExpireOpt::At(expire_at(c, unit, absolute, next.unwrap_or(b""), "set")?);
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    let key = c.arg(1);
    let val = c.arg(2);
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(key)?;
    let (exists, old_expire) = match shard.get(key, &clock) {
        Some(e) => {
            if get && !e.kind().is_string() {
                return Err(errors::WRONGTYPE);
            }
            (true, e.expire_at())
        }
        None => (false, None),
    };
    if get {
        match shard.get(key, &clock) {
            Some(e) => reply.bulk(e.str_value()),
            None => reply.null(),
        }
    }
    if (nx && exists) || (xx && !exists) {
        if !get {
            reply.null();
        }
        return Ok(());
    }
    let at = match exp {
        ExpireOpt::None => None,
        ExpireOpt::Keep => old_expire,
        ExpireOpt::At(t) => Some(t),
    };
    let access = shard.new_access(&clock);
    shard.insert(Entry::new_string(key, val, at, access), clock.ms);
    if !get {
        reply.ok();
    }
    c.dirty(1);
    Ok(())
}
