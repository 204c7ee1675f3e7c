//! Lists: LPUSH, RPOP, LRANGE, LMOVE, the blocking BLPOP family, ... (Redis 7.2 semantics).
//!
//! Every handler follows its Redis counterpart in `t_list.c`: the order in which arguments are
//! parsed and keys looked up (which decides the error a bad request gets), the encoding
//! conversions (`convert_for_append` before additions, `convert_for_shrink` after removals,
//! see [`ferrokv_engine::list`]), and the side effects: `dirty` counts every element pushed or
//! popped, keyspace events use Redis's names (`lpush`, `rpop`, `linsert`, ..., and `del` when a
//! list loses its last element and the key is deleted), WATCH is signalled per modified key, and
//! pushes signal the key as ready for blocked clients.
//!
//! Blocking commands follow [`crate::blocking`]: they first do what the non-blocking form does
//! and park on their keys only when nothing could be served.

use crate::args;
use crate::blocking::{self, TimeoutReply};
use crate::cmd::coll;
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdError, CmdResult};
use crate::notify;
use bytes::Bytes;
use ferrokv_engine::list::List;
use ferrokv_engine::{Clock, Kind, Shard, Value};
use ferrokv_resp::Reply;

/// Binds this group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("lpush", lpush, Locking::Keys);
    t.add("rpush", rpush, Locking::Keys);
    t.add("lpushx", lpushx, Locking::Keys);
    t.add("rpushx", rpushx, Locking::Keys);
    t.add("lpop", lpop, Locking::Keys);
    t.add("rpop", rpop, Locking::Keys);
    t.add("llen", llen, Locking::Keys);
    t.add("lrange", lrange, Locking::Keys);
    t.add("lindex", lindex, Locking::Keys);
    t.add("lset", lset, Locking::Keys);
    t.add("linsert", linsert, Locking::Keys);
    t.add("lrem", lrem, Locking::Keys);
    t.add("ltrim", ltrim, Locking::Keys);
    t.add("lpos", lpos, Locking::Keys);
    t.add("lmove", lmove, Locking::Keys);
    t.add("rpoplpush", rpoplpush, Locking::Keys);
    t.add("lmpop", lmpop, Locking::Keys);
    t.add("blpop", blpop, Locking::Keys);
    t.add("brpop", brpop, Locking::Keys);
    t.add("blmove", blmove, Locking::Keys);
    t.add("brpoplpush", brpoplpush, Locking::Keys);
    t.add("blmpop", blmpop, Locking::Keys);
}

pub(crate) const INDEX_OUT_OF_RANGE: CmdError = CmdError::new("ERR index out of range");
const RANK_ZERO: CmdError = CmdError::new(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
);
const RANK_RANGE: CmdError = CmdError::new(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
);
const COUNT_NEGATIVE: CmdError = CmdError::new("ERR COUNT can't be negative");
const MAXLEN_NEGATIVE: CmdError = CmdError::new("ERR MAXLEN can't be negative");
const NUMKEYS: CmdError = CmdError::new("ERR numkeys should be greater than 0");
const COUNT_POSITIVE: CmdError = CmdError::new("ERR count should be greater than 0");

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Head,
    Tail,
}

impl End {
    fn pop_event(self) -> &'static str {
        match self {
            End::Head => "lpop",
            End::Tail => "rpop",
        }
    }

    fn push_event(self) -> &'static str {
        match self {
            End::Head => "lpush",
            End::Tail => "rpush",
        }
    }

    /// LEFT / RIGHT (`getListPositionFromObjectOrReply`).
    fn parse(arg: &[u8]) -> Result<End, CmdError> {
        if args::is(arg, "left") {
            Ok(End::Head)
        } else if args::is(arg, "right") {
            Ok(End::Tail)
        } else {
            Err(errors::SYNTAX)
        }
    }
}

/// The list at `key`: `None` when missing, WRONGTYPE when another type.
fn get_list<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    clock: &Clock,
) -> Result<Option<&'s mut List>, CmdError> {
    match coll::get_typed(shard, key, clock, Kind::List)? {
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(errors::WRONGTYPE),
        None => Ok(None),
    }
}

/// The list at `key`, created empty when missing.
fn get_or_create_list<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    clock: &Clock,
) -> Result<&'s mut List, CmdError> {
    match coll::get_or_create(shard, key, clock, Kind::List, || Value::List(List::new()))? {
        (Value::List(l), _) => Ok(l),
        _ => Err(errors::WRONGTYPE),
    }
}

/// The fill (`list-max-listpack-size`) in force.
fn fill(c: &Ctx) -> i64 {
    c.limits().list_max_listpack_size
}

/// Pushes `items` at `end` of `list`, converting it first if they would not fit a listpack.
fn push_all(list: &mut List, fill: i64, items: &[&[u8]], end: End) {
    list.convert_for_append(fill, items);
    for s in items {
        match end {
            End::Head => list.push_front(s),
            End::Tail => list.push_back(s),
        }
    }
}

/// Call right after removing elements from a list still borrowed: tries the shrinking
/// conversion and tells whether the list is now empty (to pass to [`elements_removed`]).
fn after_removal(list: &mut List, fill: i64) -> bool {
    if list.is_empty() {
        return true;
    }
    list.convert_for_shrink(fill);
    false
}

/// Redis's `listElementsRemoved` once [`after_removal`] ran: the pop event, deletion of an
/// emptied key (with its `del` event), WATCH signal, `n` changes.
fn elements_removed(c: &mut Ctx, key: &[u8], event: &str, n: u64, emptied: bool) -> CmdResult {
    c.notify(notify::LIST, event, key);
    if emptied {
        let now = c.now_ms();
        if let Some(old) = c.shard(key)?.remove(key, now) {
            crate::lazyfree::release(old, true);
        }
        c.notify(notify::GENERIC, "del", key);
    }
    c.modified(key);
    c.dirty(n);
    Ok(())
}

/// Deletes `key` if its list became empty (notifying `del`), otherwise tries the shrinking
/// conversion. Returns whether the key was deleted.
fn removed_tail(c: &mut Ctx, key: &[u8]) -> Result<bool, CmdError> {
    let fill = fill(c);
    let now = c.now_ms();
    let clock = c.clock;
    let shard = c.shard(key)?;
    if coll::delete_if_empty(shard, key, now) {
        c.notify(notify::GENERIC, "del", key);
        return Ok(true);
    }
    if let Some(l) = get_list(shard, key, &clock)? {
        l.convert_for_shrink(fill);
    }
    Ok(false)
}

/// Writes up to `count` elements popped from `end` (head order for the head, tail-first for
/// the tail) as an array and removes them. Returns how many.
fn pop_range(list: &mut List, end: End, count: usize, reply: &mut Reply) -> usize {
    let n = count.min(list.len());
    reply.array(n);
    match end {
        End::Head => {
            for s in list.range(0, n) {
                reply.bulk(s);
            }
            list.delete_range(0, n);
        }
        End::Tail => {
            let len = list.len();
            if n > 0 {
                for s in list.range_rev(len - 1, n) {
                    reply.bulk(s);
                }
            }
            list.delete_range(len - n, n);
        }
    }
    n
}

fn pop_one(list: &mut List, end: End) -> Option<Vec<u8>> {
    match end {
        End::Head => list.pop_front(),
        End::Tail => list.pop_back(),
    }
}

// ---- pushes ---------------------------------------------------------------------------------

/// LPUSH / RPUSH / LPUSHX / RPUSHX (`pushGenericCommand`).
fn push_generic(c: &mut Ctx, end: End, only_existing: bool) -> CmdResult {
    let key = c.arg(1);
    let items: Vec<&[u8]> = c.argv.iter().skip(2).map(|b| &b[..]).collect();
    let fill = fill(c);
    let clock = c.clock;
    let new_key = !only_existing && notify::new_key_pending(c, key);
    let (shard, reply) = c.shard_reply(key)?;
    let list = if only_existing {
        match get_list(shard, key, &clock)? {
            Some(l) => l,
            None => {
                reply.int(0);
                return Ok(());
            }
        }
    } else {
        get_or_create_list(shard, key, &clock)?
    };
    push_all(list, fill, &items, end);
    reply.int(list.len() as i64);
    c.dirty(items.len() as u64);
    c.modified(key);
    if new_key {
        c.notify(notify::NEW, "new", key);
    }
    c.notify(notify::LIST, end.push_event(), key);
    c.key_ready(key);
    Ok(())
}

fn lpush(c: &mut Ctx) -> CmdResult {
    push_generic(c, End::Head, false)
}

fn rpush(c: &mut Ctx) -> CmdResult {
    push_generic(c, End::Tail, false)
}

fn lpushx(c: &mut Ctx) -> CmdResult {
    push_generic(c, End::Head, true)
}

fn rpushx(c: &mut Ctx) -> CmdResult {
    push_generic(c, End::Tail, true)
}

// ---- pops -----------------------------------------------------------------------------------

/// LPOP / RPOP with the optional COUNT (`popGenericCommand`).
fn pop_generic(c: &mut Ctx, end: End) -> CmdResult {
    if c.argv.len() > 3 {
        return Err(errors::wrong_arity(c.cmd.name));
    }
    let has_count = c.argv.len() == 3;
    let count = if has_count {
        match args::int(c.arg(2)) {
            Ok(v) if v >= 0 => v as usize,
            _ => return Err(errors::NOT_POSITIVE),
        }
    } else {
        1
    };
    let key = c.arg(1);
    let clock = c.clock;
    let fill = fill(c);
    let (shard, reply) = c.shard_reply(key)?;
    let Some(list) = get_list(shard, key, &clock)? else {
        if has_count {
            reply.null_array();
        } else {
            reply.null();
        }
        return Ok(());
    };
    if has_count && count == 0 {
        reply.empty_array();
        return Ok(());
    }
    let n = if has_count {
        pop_range(list, end, count, reply)
    } else {
        match pop_one(list, end) {
            Some(v) => reply.bulk(&v),
            None => reply.null(),
        }
        1
    };
    let emptied = after_removal(list, fill);
    elements_removed(c, key, end.pop_event(), n as u64, emptied)
}

fn lpop(c: &mut Ctx) -> CmdResult {
    pop_generic(c, End::Head)
}

fn rpop(c: &mut Ctx) -> CmdResult {
    pop_generic(c, End::Tail)
}

// ---- reads ----------------------------------------------------------------------------------

fn llen(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(key)?;
    let res = get_list(shard, key, &clock).map(|l| {
        reply.int(l.as_ref().map_or(0, |l| l.len() as i64));
        l.is_some()
    });
    count_read(c, res)
}

/// Counts a read lookup as Redis's `lookupKeyRead` does, from what the handler's body returned
/// (`Ok(found)`, or an error, which only happens once the key was found: WRONGTYPE or a bad
/// argument parsed after the lookup), and returns the handler's result.
fn count_read(c: &mut Ctx, res: Result<bool, CmdError>) -> CmdResult {
    c.hit(*res.as_ref().unwrap_or(&true));
    res.map(|_| ())
}

/// Clamps a Redis (start, end) pair to positions: `None` when the range is empty
/// (`addListRangeReply` / LTRIM rules).
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = if start < 0 { llen + start } else { start };
    let mut end = if end < 0 { llen + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, end as usize))
}

fn lrange(c: &mut Ctx) -> CmdResult {
    let start = args::int(c.arg(2))?;
    let end = args::int(c.arg(3))?;
    let key = c.arg(1);
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(key)?;
    let res = get_list(shard, key, &clock).map(|l| {
        let range = l.as_ref().and_then(|l| clamp_range(start, end, l.len()));
        match (l, range) {
            (Some(l), Some((s, e))) => {
                reply.array(e - s + 1);
                for v in l.range(s, e - s + 1) {
                    reply.bulk(v);
                }
            }
            (l, _) => {
                reply.empty_array();
                return l.is_some();
            }
        }
        true
    });
    count_read(c, res)
}

fn lindex(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let clock = c.clock;
    let idx_arg = c.arg(2);
    let (shard, reply) = c.shard_reply(key)?;
    let res = get_list(shard, key, &clock).and_then(|l| {
        let Some(l) = l else {
            reply.null();
            return Ok(false);
        };
        match l.get(args::int(idx_arg)?) {
            Some(v) => reply.bulk(v),
            None => reply.null(),
        }
        Ok(true)
    });
    count_read(c, res)
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].
fn lpos(c: &mut Ctx) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut i = 3;
    while i < c.argv.len() {
        let opt = c.arg(i);
        let more = i + 1 < c.argv.len();
        if args::is(opt, "rank") && more {
            i += 1;
            rank = args::int(c.arg(i))?;
            if rank == i64::MIN {
                return Err(RANK_RANGE);
            }
            if rank == 0 {
                return Err(RANK_ZERO);
            }
        } else if args::is(opt, "count") && more {
            i += 1;
            count = Some(match args::int(c.arg(i)) {
                Ok(v) if v >= 0 => v as usize,
                _ => return Err(COUNT_NEGATIVE),
            });
        } else if args::is(opt, "maxlen") && more {
            i += 1;
            maxlen = match args::int(c.arg(i)) {
                Ok(v) if v >= 0 => v as usize,
                _ => return Err(MAXLEN_NEGATIVE),
            };
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    let from_tail = rank < 0;
    let rank = rank.unsigned_abs();
    let key = c.arg(1);
    let ele = c.arg(2);
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(key)?;
    let l = match get_list(shard, key, &clock) {
        Ok(Some(l)) => l,
        Ok(None) => {
            match count {
                Some(_) => reply.empty_array(),
                None => reply.null(),
            }
            c.hit(false);
            return Ok(());
        }
        Err(e) => {
            c.hit(true);
            return Err(e);
        }
    };
    let len = l.len();
    let limit = if maxlen == 0 { len } else { maxlen.min(len) };
    let iter: Box<dyn Iterator<Item = &[u8]>> = if from_tail {
        Box::new(l.iter().rev())
    } else {
        Box::new(l.iter())
    };
    let mut matches: u64 = 0;
    let mut found: Vec<i64> = Vec::new();
    for (idx, e) in iter.take(limit).enumerate() {
        if e != ele {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        let pos = if from_tail { len - 1 - idx } else { idx };
        found.push(pos as i64);
        match count {
            None => break,
            Some(n) if n != 0 && matches - rank + 1 >= n as u64 => break,
            Some(_) => {}
        }
    }
    match count {
        Some(_) => {
            reply.array(found.len());
            for p in &found {
                reply.int(*p);
            }
        }
        None => match found.first() {
            Some(p) => reply.int(*p),
            None => reply.null(),
        },
    }
    c.hit(true);
    Ok(())
}

// ---- in-place edits -------------------------------------------------------------------------

fn lset(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let value = c.arg(3);
    let idx_arg = c.arg(2);
    let fill = fill(c);
    let clock = c.clock;
    let shard = c.shard(key)?;
    let Some(l) = get_list(shard, key, &clock)? else {
        return Err(errors::NO_SUCH_KEY);
    };
    let index = args::int(idx_arg)?;
    l.convert_for_append(fill, &[value]);
    if !l.set(index, value) {
        return Err(INDEX_OUT_OF_RANGE);
    }
    l.convert_for_shrink(fill);
    c.reply.ok();
    c.modified(key);
    c.notify(notify::LIST, "lset", key);
    c.dirty(1);
    Ok(())
}

fn linsert(c: &mut Ctx) -> CmdResult {
    let after = if args::is(c.arg(2), "after") {
        true
    } else if args::is(c.arg(2), "before") {
        false
    } else {
        return Err(errors::SYNTAX);
    };
    let key = c.arg(1);
    let pivot = c.arg(3);
    let value = c.arg(4);
    let fill = fill(c);
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(key)?;
    let Some(l) = get_list(shard, key, &clock)? else {
        reply.int(0);
        return Ok(());
    };
    l.convert_for_append(fill, &[value]);
    if !l.insert(pivot, value, after) {
        reply.int(-1);
        return Ok(());
    }
    reply.int(l.len() as i64);
    c.modified(key);
    c.notify(notify::LIST, "linsert", key);
    // Redis does not signal here (the list already had elements); harmless and asked for by
    // the blocking contract's list of adders.
    c.key_ready(key);
    c.dirty(1);
    Ok(())
}

fn lrem(c: &mut Ctx) -> CmdResult {
    let count = args::int(c.arg(2))?;
    let key = c.arg(1);
    let value = c.arg(3);
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(key)?;
    let Some(l) = get_list(shard, key, &clock)? else {
        reply.int(0);
        return Ok(());
    };
    let removed = l.remove(value, count);
    reply.int(removed as i64);
    if removed > 0 {
        c.notify(notify::LIST, "lrem", key);
        removed_tail(c, key)?;
        c.modified(key);
        c.dirty(removed as u64);
    }
    Ok(())
}

fn ltrim(c: &mut Ctx) -> CmdResult {
    let start = args::int(c.arg(2))?;
    let end = args::int(c.arg(3))?;
    let key = c.arg(1);
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(key)?;
    let Some(l) = get_list(shard, key, &clock)? else {
        reply.ok();
        return Ok(());
    };
    let len = l.len();
    let (lt, rt) = match clamp_range(start, end, len) {
        Some((s, e)) => (s, len - e - 1),
        None => (len, 0),
    };
    l.trim(lt, rt);
    reply.ok();
    c.notify(notify::LIST, "ltrim", key);
    removed_tail(c, key)?;
    c.modified(key);
    c.dirty((lt + rt) as u64);
    Ok(())
}

// ---- moves ----------------------------------------------------------------------------------

/// LMOVE's core (`lmoveGenericCommand`): pops from `src` at `from`, pushes on `dst` at `to`,
/// replies the element (null when `src` is missing).
fn lmove_generic(c: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> CmdResult {
    let fill = fill(c);
    let clock = c.clock;
    let (shard, reply) = c.shard_reply(src)?;
    if get_list(shard, src, &clock)?.is_none() {
        reply.null();
        return Ok(());
    }
    if src != dst {
        get_list(c.shard(dst)?, dst, &clock)?;
    }
    let shard = c.shard(src)?;
    let Some(value) = get_list(shard, src, &clock)?.and_then(|l| pop_one(l, from)) else {
        c.reply.null();
        return Ok(());
    };
    // Push on the destination (`lmoveHandlePush`).
    let new_key = notify::new_key_pending(c, dst);
    let l = get_or_create_list(c.shard(dst)?, dst, &clock)?;
    push_all(l, fill, &[&value], to);
    c.modified(dst);
    if new_key {
        c.notify(notify::NEW, "new", dst);
    }
    c.notify(notify::LIST, to.push_event(), dst);
    c.key_ready(dst);
    c.reply.bulk(&value);
    c.notify(notify::LIST, from.pop_event(), src);
    removed_tail(c, src)?;
    c.modified(src);
    c.dirty(1);
    Ok(())
}

fn lmove(c: &mut Ctx) -> CmdResult {
    let from = End::parse(c.arg(3))?;
    let to = End::parse(c.arg(4))?;
    let (src, dst) = (c.arg(1), c.arg(2));
    lmove_generic(c, src, dst, from, to)
}

fn rpoplpush(c: &mut Ctx) -> CmdResult {
    let (src, dst) = (c.arg(1), c.arg(2));
    lmove_generic(c, src, dst, End::Tail, End::Head)
}

// ---- multi-key pops -------------------------------------------------------------------------

/// Parsed `numkeys key... LEFT|RIGHT [COUNT n]` (`lmpopGenericCommand`).
struct MpopArgs {
    keys_at: usize,
    numkeys: usize,
    end: End,
    count: usize,
}

fn parse_mpop(c: &Ctx, numkeys_idx: usize) -> Result<MpopArgs, CmdError> {
    let numkeys = match args::int(c.arg(numkeys_idx)) {
        Ok(n) if n >= 1 => n as u64,
        _ => return Err(NUMKEYS),
    };
    let where_idx = (numkeys_idx as u64)
        .checked_add(numkeys)
        .and_then(|v| v.checked_add(1))
        .filter(|&w| w < c.argv.len() as u64)
        .ok_or(errors::SYNTAX)? as usize;
    let end = End::parse(c.arg(where_idx))?;
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < c.argv.len() {
        let more = j + 1 < c.argv.len();
        if count.is_none() && args::is(c.arg(j), "count") && more {
            j += 1;
            count = Some(match args::int(c.arg(j)) {
                Ok(n) if n >= 1 => n as usize,
                _ => return Err(COUNT_POSITIVE),
            });
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(MpopArgs {
        keys_at: numkeys_idx + 1,
        numkeys: numkeys as usize,
        end,
        count: count.unwrap_or(1),
    })
}

/// What a multi-key pop found: the first key holding a list, in argument order.
enum Served {
    /// Nothing to pop from any key.
    Nothing,
    /// Served (the reply is written).
    Done,
}

/// Pops from the first non-empty list among `keys` (`blockingPopGenericCommand`'s serving
/// part / `mpopGenericCommand`): `count` = `None` replies `[key, element]` (BLPOP),
/// `Some(n)` replies `[key, [elements...]]` (LMPOP / BLMPOP).
fn serve_pop(
    c: &mut Ctx,
    keys: &[&[u8]],
    end: End,
    count: Option<usize>,
) -> Result<Served, CmdError> {
    let clock = c.clock;
    let fill = fill(c);
    for &key in keys {
        let (shard, reply) = c.shard_reply(key)?;
        let Some(l) = get_list(shard, key, &clock)? else {
            continue;
        };
        if l.is_empty() {
            continue;
        }
        let n = match count {
            Some(n) => {
                reply.array(2);
                reply.bulk(key);
                pop_range(l, end, n, reply)
            }
            None => {
                let Some(v) = pop_one(l, end) else {
                    continue;
                };
                reply.array(2);
                reply.bulk(key);
                reply.bulk(&v);
                1
            }
        };
        let emptied = after_removal(l, fill);
        elements_removed(c, key, end.pop_event(), n as u64, emptied)?;
        // Effect: `LPOP key` (BLPOP) or `LPOP key <popped>` (LMPOP / BLMPOP), as Redis.
        if c.propagating() {
            let name: &'static [u8] = match end {
                End::Head => b"LPOP",
                End::Tail => b"RPOP",
            };
            let mut argv = vec![Bytes::from_static(name), Bytes::copy_from_slice(key)];
            if count.is_some() {
                argv.push(crate::propagate::int_arg(n as i64));
            }
            c.propagate(argv);
        }
        return Ok(Served::Done);
    }
    Ok(Served::Nothing)
}

fn lmpop(c: &mut Ctx) -> CmdResult {
    let a = parse_mpop(c, 1)?;
    let keys: Vec<&[u8]> = (a.keys_at..a.keys_at + a.numkeys)
        .map(|i| c.arg(i))
        .collect();
    if let Served::Nothing = serve_pop(c, &keys, a.end, Some(a.count))? {
        c.reply.null_array();
    }
    Ok(())
}

// ---- blocking -------------------------------------------------------------------------------

/// BLPOP / BRPOP key [key ...] timeout.
fn bpop_generic(c: &mut Ctx, end: End) -> CmdResult {
    let last = c.argv.len() - 1;
    let deadline = args::timeout(c.arg(last), c.now_ms())?;
    let keys: Vec<&[u8]> = (1..last).map(|i| c.arg(i)).collect();
    if let Served::Nothing = serve_pop(c, &keys, end, None)? {
        return c.block_on(&keys, deadline, TimeoutReply::NullArray);
    }
    Ok(())
}

fn blpop(c: &mut Ctx) -> CmdResult {
    bpop_generic(c, End::Head)
}

fn brpop(c: &mut Ctx) -> CmdResult {
    bpop_generic(c, End::Tail)
}

/// BLMOVE / BRPOPLPUSH (`blmoveGenericCommand`): LMOVE when the source has elements, otherwise
/// block on the source (inside MULTI a null bulk at once, as Redis replies there).
fn blmove_generic(c: &mut Ctx, from: End, to: End, deadline: Option<i64>) -> CmdResult {
    let (src, dst) = (c.arg(1), c.arg(2));
    let clock = c.clock;
    let exists = get_list(c.shard(src)?, src, &clock)?.is_some();
    if exists {
        let dirty = c.client.batch.dirty;
        lmove_generic(c, src, dst, from, to)?;
        if c.client.batch.dirty > dirty && c.propagating() {
            // Effect: LMOVE / RPOPLPUSH without the timeout, as Redis.
            let argv = if c.argv.len() == 6 {
                let mut a = c.argv[..5].to_vec();
                a[0] = Bytes::from_static(b"LMOVE");
                a
            } else {
                let mut a = c.argv[..3].to_vec();
                a[0] = Bytes::from_static(b"RPOPLPUSH");
                a
            };
            c.propagate(argv);
        }
        return Ok(());
    }
    if !blocking::may_block(c) {
        c.reply.null();
        return Ok(());
    }
    c.block_on(&[src], deadline, TimeoutReply::NullArray)
}

fn blmove(c: &mut Ctx) -> CmdResult {
    let from = End::parse(c.arg(3))?;
    let to = End::parse(c.arg(4))?;
    let deadline = args::timeout(c.arg(5), c.now_ms())?;
    blmove_generic(c, from, to, deadline)
}

fn brpoplpush(c: &mut Ctx) -> CmdResult {
    let deadline = args::timeout(c.arg(3), c.now_ms())?;
    blmove_generic(c, End::Tail, End::Head, deadline)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: the timeout is parsed after
/// the other arguments, as Redis does.
fn blmpop(c: &mut Ctx) -> CmdResult {
    let a = parse_mpop(c, 2)?;
    let deadline = args::timeout(c.arg(1), c.now_ms())?;
    let keys: Vec<&[u8]> = (a.keys_at..a.keys_at + a.numkeys)
        .map(|i| c.arg(i))
        .collect();
    if let Served::Nothing = serve_pop(c, &keys, a.end, Some(a.count))? {
        return c.block_on(&keys, deadline, TimeoutReply::NullArray);
    }
    Ok(())
}
