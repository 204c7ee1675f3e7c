//! Sets: SADD, SREM, SISMEMBER, SMISMEMBER, SMEMBERS, SCARD, SPOP, SRANDMEMBER, SMOVE, SINTER,
//! SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF, SDIFFSTORE, SSCAN.
//!
//! Behaviour follows Redis 7.2's `t_set.c`: the same lookups (read lookups count keyspace
//! hits and misses, write lookups do not), the same order of argument checks, the same
//! encodings for results (see [`ferrokv_engine::set`]), the same keyspace events and dirty
//! counts. Multi-key commands read one key at a time (each key's shard is locked for the whole
//! command by the lock plan, but only one shard is borrowed at a time), copying out only what
//! the result needs.

use crate::args;
use crate::cmd::coll;
use crate::cmd::generic::{parse_cursor, parse_scan_options, ScanExtra, ScanOptions};
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdError, CmdResult};
use crate::glob::glob_match;
use crate::notify;
use bytes::Bytes;
use ferrokv_engine::set::{Encoding, Set, SetRng};
use ferrokv_engine::{Kind, Value};
use ferrokv_resp::Reply;

/// Binds this group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("sadd", sadd, Locking::Keys);
    t.add("srem", srem, Locking::Keys);
    t.add("sismember", sismember, Locking::Keys);
    t.add("smismember", smismember, Locking::Keys);
    t.add("smembers", smembers, Locking::Keys);
    t.add("scard", scard, Locking::Keys);
    t.add("spop", spop, Locking::Keys);
    t.add("srandmember", srandmember, Locking::Keys);
    t.add("smove", smove, Locking::Keys);
    t.add("sinter", sinter, Locking::Keys);
    t.add("sintercard", sintercard, Locking::Keys);
    t.add("sinterstore", sinterstore, Locking::Keys);
    t.add("sunion", sunion, Locking::Keys);
    t.add("sunionstore", sunionstore, Locking::Keys);
    t.add("sdiff", sdiff, Locking::Keys);
    t.add("sdiffstore", sdiffstore, Locking::Keys);
    t.add("sscan", sscan, Locking::Keys);
}

/// `SINTERCARD`'s numkeys error.
const NUMKEYS: CmdError = CmdError::new("ERR numkeys should be greater than 0");
/// `SINTERCARD`'s LIMIT error.
const LIMIT_NEGATIVE: CmdError = CmdError::new("ERR LIMIT can't be negative");
/// `SINTERCARD` with more keys announced than given.
const NUMKEYS_TOO_BIG: CmdError =
    CmdError::new("ERR Number of keys can't be greater than number of args");
/// SRANDMEMBER's count outside [-LONG_MAX, LONG_MAX].
const SRAND_RANGE: CmdError = CmdError::new(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
);

/// Looks `key` up as Redis's `lookupKeyRead` + `checkType` do (a hit or a miss is counted,
/// WRONGTYPE for another type), then runs `f` on the set (or `None` when missing) with the
/// reply writer.
fn read<R>(
    c: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(Option<&mut Set>, &mut Reply) -> R,
) -> Result<R, CmdError> {
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(key)?;
    let (found, out) = match coll::get_typed(shard, key, &clock, Kind::Set) {
        Err(e) => (true, Err(e)),
        Ok(None) => (false, Ok(f(None, reply))),
        Ok(Some(Value::Set(s))) => (true, Ok(f(Some(s), reply))),
        Ok(Some(_)) => (true, Err(errors::WRONGTYPE)),
    };
    c.hit(found);
    out
}

/// Like [`read`] for a write lookup (`lookupKeyWrite`: no hit/miss accounting).
fn write<R>(c: &mut Ctx, key: &[u8], f: impl FnOnce(Option<&mut Set>) -> R) -> Result<R, CmdError> {
    let clock = c.clock;
    let shard = c.shard(key)?;
    match coll::get_typed(shard, key, &clock, Kind::Set)? {
        None => Ok(f(None)),
        Some(Value::Set(s)) => Ok(f(Some(s))),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

/// Deletes `key` when its set became empty; returns whether it did.
fn drop_if_empty(c: &mut Ctx, key: &[u8]) -> Result<bool, CmdError> {
    let now = c.now_ms();
    let shard = c.shard(key)?;
    Ok(coll::delete_if_empty(shard, key, now))
}

fn rng(c: &mut Ctx) -> SetRng {
    SetRng::new(c.client.next_rand64())
}

fn reply_members(reply: &mut Reply, members: &[Vec<u8>], as_set: bool) {
    if as_set {
        reply.set(members.len());
    } else {
        reply.array(members.len());
    }
    for m in members {
        reply.bulk(m);
    }
}

fn sadd(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let members = c.argv.get(2..).unwrap_or(&[]);
    let first = members.first().map(|b| &b[..]).unwrap_or(&[]);
    let lim = c.limits();
    let clock = c.clock;
    let shard = c.shard(key)?;
    let (v, created) = coll::get_or_create(shard, key, &clock, Kind::Set, || {
        Value::Set(Set::for_first(first, members.len(), &lim))
    })?;
    let Value::Set(s) = v else {
        return Err(errors::WRONGTYPE);
    };
    if !created {
        s.maybe_convert(members.len(), &lim);
    }
    let mut added = 0i64;
    for m in members {
        if s.add(m, &lim) {
            added += 1;
        }
    }
    if created {
        c.notify(notify::NEW, "new", key);
    }
    if added > 0 {
        c.modified(key);
        c.notify(notify::SET, "sadd", key);
        c.dirty(added as u64);
    }
    c.reply.int(added);
    Ok(())
}

fn srem(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let members = c.argv.get(2..).unwrap_or(&[]);
    let removed = write(c, key, |s| {
        let Some(s) = s else {
            return 0i64;
        };
        let mut n = 0;
        for m in members {
            if s.remove(m) {
                n += 1;
                if s.is_empty() {
                    break;
                }
            }
        }
        n
    })?;
    if removed > 0 {
        let deleted = drop_if_empty(c, key)?;
        c.modified(key);
        c.notify(notify::SET, "srem", key);
        if deleted {
            c.notify(notify::GENERIC, "del", key);
        }
        c.dirty(removed as u64);
    }
    c.reply.int(removed);
    Ok(())
}

fn sismember(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let m = c.arg(2);
    let yes = read(c, key, |s, _| s.is_some_and(|s| s.contains(m)))?;
    c.reply.int(i64::from(yes));
    Ok(())
}

fn smismember(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let members = c.argv.get(2..).unwrap_or(&[]);
    read(c, key, |s, reply| {
        reply.array(members.len());
        for m in members {
            let yes = s.as_ref().is_some_and(|s| s.contains(m));
            reply.int(i64::from(yes));
        }
    })
}

fn smembers(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    read(c, key, |s, reply| match s {
        None => reply.set(0),
        Some(s) => {
            reply.set(s.len());
            s.for_each_member(|m| reply.bulk(m));
        }
    })
}

fn scard(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let n = read(c, key, |s, _| s.map_or(0, |s| s.len()))?;
    c.reply.int(n as i64);
    Ok(())
}

fn spop(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    match c.argv.len() {
        2 => {}
        3 => return spop_count(c),
        _ => return Err(errors::SYNTAX),
    }
    let mut r = rng(c);
    let popped = write(c, key, |s| s.and_then(|s| s.pop_random(&mut r)))?;
    let Some(m) = popped else {
        c.reply.null();
        return Ok(());
    };
    c.notify(notify::SET, "spop", key);
    c.reply.bulk(&m);
    if c.propagating() {
        c.propagate(vec![
            Bytes::from_static(b"SREM"),
            Bytes::copy_from_slice(key),
            Bytes::copy_from_slice(&m),
        ]);
    }
    if drop_if_empty(c, key)? {
        c.notify(notify::GENERIC, "del", key);
    }
    c.modified(key);
    c.dirty(1);
    Ok(())
}

/// Members per propagated SREM of an SPOP with a count (Redis 7.2's batch size).
const SPOP_PROPAGATE_BATCH: usize = 1024;

fn spop_count(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    // Redis's getPositiveLongFromObjectOrReply: one text for non-integers and negatives.
    let count = match args::parse_i64_strict(c.arg(2)) {
        Some(n) if n >= 0 => n as u64,
        _ => return Err(errors::NOT_POSITIVE),
    };
    let lim = c.limits();
    let mut r = rng(c);
    // (size before, popped members) or None when the key is missing.
    let res = write(c, key, |s| {
        let s = s?;
        let size = s.len();
        if count == 0 {
            return Some((size, Vec::new()));
        }
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        Some((size, s.pop_many(count, &mut r, &lim)))
    })?;
    let Some((size, popped)) = res else {
        c.reply.set(0);
        return Ok(());
    };
    if count == 0 {
        c.reply.set(0);
        return Ok(());
    }
    c.notify(notify::SET, "spop", key);
    c.dirty(popped.len() as u64);
    reply_members(c.reply, &popped, true);
    if popped.len() >= size {
        // The whole set: DEL, or UNLINK under lazyfree-lazy-server-del (Redis 7.2; 7.0
        // always wrote DEL).
        let lazy = c.srv.config.read().get_bool("lazyfree-lazy-server-del") == Some(true);
        c.propagate(crate::propagate::del_or_unlink(key, lazy));
        drop_if_empty(c, key)?;
        c.notify(notify::GENERIC, "del", key);
    } else {
        // SREM of the popped members in batches of 1024 (Redis 7.2; 7.0 wrote one SREM per
        // member in a MULTI/EXEC).
        for batch in popped.chunks(SPOP_PROPAGATE_BATCH) {
            let mut argv = Vec::with_capacity(batch.len() + 2);
            argv.push(Bytes::from_static(b"SREM"));
            argv.push(Bytes::copy_from_slice(key));
            argv.extend(batch.iter().map(|m| Bytes::copy_from_slice(m)));
            c.propagate(argv);
        }
    }
    c.modified(key);
    Ok(())
}

fn srandmember(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    match c.argv.len() {
        2 => {}
        3 => return srandmember_count(c),
        _ => return Err(errors::SYNTAX),
    }
    let mut r = rng(c);
    let m = read(c, key, |s, _| s.and_then(|s| s.random_member(&mut r)))?;
    match m {
        Some(m) => c.reply.bulk(&m),
        None => c.reply.null(),
    }
    Ok(())
}

fn srandmember_count(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let count = args::int(c.arg(2))?;
    if count == i64::MIN {
        return Err(SRAND_RANGE);
    }
    let mut r = rng(c);
    let members = read(c, key, |s, _| {
        s.map(|s| s.random_members(count, &mut r))
            .unwrap_or_default()
    })?;
    reply_members(c.reply, &members, false);
    Ok(())
}

fn smove(c: &mut Ctx) -> CmdResult {
    let src = c.arg(1);
    let dst = c.arg(2);
    let m = c.arg(3);
    let lim = c.limits();
    let clock = c.clock;
    // Redis looks both keys up first: a missing source answers 0 before any type check.
    let src_kind = c.shard(src)?.get(src, &clock).map(|e| e.kind());
    let dst_kind = c.shard(dst)?.get(dst, &clock).map(|e| e.kind());
    let Some(src_kind) = src_kind else {
        c.reply.int(0);
        return Ok(());
    };
    if src_kind != Kind::Set || dst_kind.is_some_and(|k| k != Kind::Set) {
        return Err(errors::WRONGTYPE);
    }
    if src == dst {
        let yes = write(c, src, |s| s.is_some_and(|s| s.contains(m)))?;
        c.reply.int(i64::from(yes));
        return Ok(());
    }
    if !write(c, src, |s| s.is_some_and(|s| s.remove(m)))? {
        c.reply.int(0);
        return Ok(());
    }
    c.notify(notify::SET, "srem", src);
    if drop_if_empty(c, src)? {
        c.notify(notify::GENERIC, "del", src);
    }
    let shard = c.shard(dst)?;
    let (v, dst_created) = coll::get_or_create(shard, dst, &clock, Kind::Set, || {
        Value::Set(Set::for_first(m, 1, &lim))
    })?;
    let added = match v {
        Value::Set(s) => s.add(m, &lim),
        _ => false,
    };
    c.modified(src);
    c.dirty(1);
    if dst_created {
        c.notify(notify::NEW, "new", dst);
    }
    if added {
        c.dirty(1);
        c.modified(dst);
        c.notify(notify::SET, "sadd", dst);
    }
    c.reply.int(1);
    Ok(())
}

/// What a multi-key operation learned about one source key.
struct Source {
    key: bytes::Bytes,
    /// `None` when the key is missing.
    len: Option<usize>,
    enc: Encoding,
}

/// Looks every key up in order (counting hits/misses) and fails with WRONGTYPE at the first
/// key of another type, as Redis's loops do (missing keys do not stop the loop).
fn sources(c: &mut Ctx, keys: &[bytes::Bytes]) -> Result<Vec<Source>, CmdError> {
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let info = read(c, k, |s, _| s.map(|s| (s.len(), s.encoding())))?;
        out.push(Source {
            key: k.clone(),
            len: info.map(|x| x.0),
            enc: info.map_or(Encoding::IntSet, |x| x.1),
        });
    }
    Ok(out)
}

/// Runs `f` on the (existing) set at `key` without hit accounting (the key was looked up
/// already by [`sources`]).
fn with_source<R>(
    c: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(&Set) -> R,
) -> Result<Option<R>, CmdError> {
    write(c, key, |s| s.map(|s| f(s)))
}

/// The intersection of `srcs` (none missing), in the iteration order of the smallest set
/// (ties keep the keys' order), at most `limit` members (0 = no limit).
fn intersect(
    c: &mut Ctx,
    srcs: &[Source],
    limit: usize,
) -> Result<(Vec<Vec<u8>>, usize), CmdError> {
    let mut order: Vec<usize> = (0..srcs.len()).collect();
    order.sort_by_key(|&i| srcs.get(i).and_then(|s| s.len).unwrap_or(0));
    let Some(&first) = order.first() else {
        return Ok((Vec::new(), 0));
    };
    let first_key = srcs.get(first).map(|s| s.key.clone()).unwrap_or_default();
    let mut cand = with_source(c, &first_key, Set::members)?.unwrap_or_default();
    for &i in order.iter().skip(1) {
        if cand.is_empty() {
            break;
        }
        let Some(src) = srcs.get(i) else { continue };
        if src.key == first_key {
            continue;
        }
        let key = src.key.clone();
        cand = with_source(c, &key, |s| {
            cand.into_iter().filter(|m| s.contains(m)).collect()
        })?
        .unwrap_or_default();
    }
    if limit > 0 {
        cand.truncate(limit);
    }
    Ok((cand, first))
}

/// Deletes the destination of a *STORE whose result is empty (Redis: `dbDelete` + events).
fn store_empty(c: &mut Ctx, dst: &[u8]) -> CmdResult {
    let now = c.now_ms();
    let shard = c.shard(dst)?;
    if let Some(old) = shard.remove(dst, now) {
        crate::lazyfree::release(old, true);
        c.dirty(1);
        c.modified(dst);
        c.notify(notify::GENERIC, "del", dst);
    }
    c.reply.int(0);
    Ok(())
}

/// Stores a non-empty result at `dst`, overwriting whatever was there.
fn store_result(c: &mut Ctx, dst: &[u8], mut set: Set, event: &str) -> CmdResult {
    set.shrink_to_fit();
    let n = set.len();
    let clock = c.clock;
    let shard = c.shard(dst)?;
    let replaced = coll::store(shard, dst, Value::Set(set), &clock);
    c.modified(dst);
    c.reply.int(n as i64);
    if !replaced {
        c.notify(notify::NEW, "new", dst);
    }
    c.notify(notify::SET, event, dst);
    c.dirty(1);
    Ok(())
}

/// SINTER / SINTERCARD / SINTERSTORE.
fn inter_generic(
    c: &mut Ctx,
    keys: &[bytes::Bytes],
    dst: Option<&[u8]>,
    card_only: bool,
    limit: usize,
) -> CmdResult {
    let srcs = sources(c, keys)?;
    if srcs.iter().any(|s| s.len.is_none()) {
        if let Some(dst) = dst {
            return store_empty(c, dst);
        }
        if card_only {
            c.reply.int(0);
        } else {
            c.reply.set(0);
        }
        return Ok(());
    }
    let (members, first) = intersect(c, &srcs, if card_only { limit } else { 0 })?;
    if card_only {
        c.reply.int(members.len() as i64);
        return Ok(());
    }
    let Some(dst) = dst else {
        reply_members(c.reply, &members, true);
        return Ok(());
    };
    if members.is_empty() {
        return store_empty(c, dst);
    }
    let lim = c.limits();
    let mut set = Set::with_encoding(match srcs.get(first).map(|s| s.enc) {
        Some(Encoding::IntSet) => Encoding::IntSet,
        _ => Encoding::Listpack,
    });
    for m in &members {
        set.add(m, &lim);
    }
    set.maybe_to_intset(&lim);
    store_result(c, dst, set, "sinterstore")
}

fn sinter(c: &mut Ctx) -> CmdResult {
    let keys = c.argv.get(1..).unwrap_or(&[]);
    inter_generic(c, keys, None, false, 0)
}

fn sinterstore(c: &mut Ctx) -> CmdResult {
    let dst = c.arg(1);
    let keys = c.argv.get(2..).unwrap_or(&[]);
    inter_generic(c, keys, Some(dst), false, 0)
}

fn sintercard(c: &mut Ctx) -> CmdResult {
    let numkeys = match args::parse_i64_strict(c.arg(1)) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(NUMKEYS),
    };
    let given = c.argv.len().saturating_sub(2) as u64;
    if numkeys > given {
        return Err(NUMKEYS_TOO_BIG);
    }
    let nk = numkeys as usize;
    let mut limit = 0usize;
    let mut i = 2 + nk;
    while i < c.argv.len() {
        let more = c.argv.len() - 1 - i;
        if args::is(c.arg(i), "limit") && more > 0 {
            i += 1;
            match args::parse_i64_strict(c.arg(i)) {
                Some(n) if n >= 0 => limit = usize::try_from(n).unwrap_or(usize::MAX),
                _ => return Err(LIMIT_NEGATIVE),
            }
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    let keys = c.argv.get(2..2 + nk).unwrap_or(&[]);
    inter_generic(c, keys, None, true, limit)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Diff,
}

/// SUNION / SDIFF and their STORE forms (Redis's `sunionDiffGenericCommand`).
fn union_diff(c: &mut Ctx, keys: &[bytes::Bytes], dst: Option<&[u8]>, op: Op) -> CmdResult {
    let srcs = sources(c, keys)?;
    let lim = c.limits();
    let all_intsets = srcs
        .iter()
        .all(|s| s.len.is_none() || s.enc == Encoding::IntSet);
    let mut out = if dst.is_none() && !all_intsets {
        Set::with_encoding(Encoding::HashTable)
    } else {
        Set::with_encoding(Encoding::IntSet)
    };
    let first = srcs.first();
    let sameset =
        first.is_some_and(|f| f.len.is_some() && srcs.iter().skip(1).any(|s| s.key == f.key));
    match op {
        Op::Union => {
            for s in &srcs {
                if s.len.is_some() {
                    with_source(c, &s.key, |set| {
                        set.for_each_member(|m| {
                            out.add(m, &lim);
                        })
                    })?;
                }
            }
        }
        Op::Diff if sameset => {}
        Op::Diff => {
            if let Some(f) = first.filter(|f| f.len.is_some()) {
                let first_len = f.len.unwrap_or(0);
                let mut one = 0usize;
                let mut two = 0usize;
                for s in &srcs {
                    if let Some(n) = s.len {
                        one += first_len;
                        two += n;
                    }
                }
                let algo_one = one / 2 <= two;
                let others: Vec<bytes::Bytes> = srcs
                    .iter()
                    .skip(1)
                    .filter(|s| s.len.is_some())
                    .map(|s| s.key.clone())
                    .collect();
                let fkey = f.key.clone();
                if algo_one {
                    let mut cand = with_source(c, &fkey, Set::members)?.unwrap_or_default();
                    for k in &others {
                        if cand.is_empty() {
                            break;
                        }
                        cand = with_source(c, k, |s| {
                            cand.into_iter().filter(|m| !s.contains(m)).collect()
                        })?
                        .unwrap_or_default();
                    }
                    for m in &cand {
                        out.add(m, &lim);
                    }
                } else {
                    with_source(c, &fkey, |set| {
                        set.for_each_member(|m| {
                            out.add(m, &lim);
                        })
                    })?;
                    for k in &others {
                        if out.is_empty() {
                            break;
                        }
                        with_source(c, k, |set| {
                            set.for_each_member(|m| {
                                out.remove(m);
                            })
                        })?;
                    }
                }
            }
        }
    }
    match dst {
        None => {
            c.reply.set(out.len());
            let reply = &mut *c.reply;
            out.for_each_member(|m| reply.bulk(m));
            if out.free_effort() > crate::lazyfree::LAZYFREE_THRESHOLD {
                crate::lazyfree::drop_later(out);
            }
            Ok(())
        }
        Some(dst) if out.is_empty() => store_empty(c, dst),
        Some(dst) => store_result(
            c,
            dst,
            out,
            if op == Op::Union {
                "sunionstore"
            } else {
                "sdiffstore"
            },
        ),
    }
}

fn sunion(c: &mut Ctx) -> CmdResult {
    let keys = c.argv.get(1..).unwrap_or(&[]);
    union_diff(c, keys, None, Op::Union)
}

fn sunionstore(c: &mut Ctx) -> CmdResult {
    let dst = c.arg(1);
    let keys = c.argv.get(2..).unwrap_or(&[]);
    union_diff(c, keys, Some(dst), Op::Union)
}

fn sdiff(c: &mut Ctx) -> CmdResult {
    let keys = c.argv.get(1..).unwrap_or(&[]);
    union_diff(c, keys, None, Op::Diff)
}

fn sdiffstore(c: &mut Ctx) -> CmdResult {
    let dst = c.arg(1);
    let keys = c.argv.get(2..).unwrap_or(&[]);
    union_diff(c, keys, Some(dst), Op::Diff)
}

fn sscan(c: &mut Ctx) -> CmdResult {
    let cursor = parse_cursor(c.arg(2))?;
    let key = c.arg(1);
    let argv = c.argv;
    read(c, key, |s, reply| {
        let Some(s) = s else {
            reply.array(2);
            reply.bulk(b"0");
            reply.array(0);
            return Ok(());
        };
        let ScanOptions { count, pattern, .. } = parse_scan_options(argv, 3, ScanExtra::None)?;
        let mut found: Vec<Vec<u8>> = Vec::new();
        let next = s.scan(cursor, count, |m| {
            if pattern.is_none_or(|p| glob_match(p, m, false)) {
                found.push(m.to_vec());
            }
        });
        reply.array(2);
        reply.bulk(itoa::Buffer::new().format(next).as_bytes());
        reply.array(found.len());
        for m in &found {
            reply.bulk(m);
        }
        Ok(())
    })?
}
