//! Sorted sets: ZADD, ZRANGE, ZRANK, ZUNIONSTORE, the blocking BZPOPMIN family, ...
//!
//! Behaviour follows Redis 7.2 (`t_zset.c`): argument checks happen in Redis's order (options,
//! then ranges, then the key's type), scores are parsed like `strtod` (so `inf`, exponents and
//! hexadecimal floats are accepted, overflow is rejected), replies use the RESP3 shapes (pairs
//! of `[member, score]` for WITHSCORES). The storage is [`ferrokv_engine::zset::ZSet`].

use crate::args;
use crate::blocking::TimeoutReply;
use crate::cmd::coll;
use crate::cmd::generic::{parse_cursor, parse_scan_options, ScanExtra, ScanOptions};
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdError, CmdResult};
use crate::glob::glob_match;
use crate::notify;
use ferrokv_engine::zset::{LexBound, LexRange, ScoreRange, ZSet, SCAN_DONE};
use ferrokv_engine::{EncodingLimits, Kind, Value};
use ferrokv_resp::{Protocol, Reply};
use std::collections::HashMap;

/// Binds this group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("zadd", zadd, Locking::Keys);
    t.add("zincrby", zincrby, Locking::Keys);
    t.add("zscore", zscore, Locking::Keys);
    t.add("zmscore", zmscore, Locking::Keys);
    t.add("zcard", zcard, Locking::Keys);
    t.add("zcount", zcount, Locking::Keys);
    t.add("zlexcount", zlexcount, Locking::Keys);
    t.add("zrange", zrange_read, Locking::Keys);
    t.add("zrangestore", zrangestore, Locking::Keys);
    t.add("zrangebyscore", zrange_read, Locking::Keys);
    t.add("zrevrangebyscore", zrange_read, Locking::Keys);
    t.add("zrangebylex", zrange_read, Locking::Keys);
    t.add("zrevrangebylex", zrange_read, Locking::Keys);
    t.add("zrevrange", zrange_read, Locking::Keys);
    t.add("zrank", zrank, Locking::Keys);
    t.add("zrevrank", zrevrank, Locking::Keys);
    t.add("zrem", zrem, Locking::Keys);
    t.add("zremrangebyrank", zremrangebyrank, Locking::Keys);
    t.add("zremrangebyscore", zremrangebyscore, Locking::Keys);
    t.add("zremrangebylex", zremrangebylex, Locking::Keys);
    t.add("zpopmin", zpopmin, Locking::Keys);
    t.add("zpopmax", zpopmax, Locking::Keys);
    t.add("zmpop", zmpop, Locking::Keys);
    t.add("bzpopmin", bzpopmin, Locking::Keys);
    t.add("bzpopmax", bzpopmax, Locking::Keys);
    t.add("bzmpop", bzmpop, Locking::Keys);
    t.add("zrandmember", zrandmember, Locking::Keys);
    t.add("zunion", zunion, Locking::Keys);
    t.add("zinter", zinter, Locking::Keys);
    t.add("zdiff", zdiff, Locking::Keys);
    t.add("zunionstore", zunionstore, Locking::Keys);
    t.add("zinterstore", zinterstore, Locking::Keys);
    t.add("zdiffstore", zdiffstore, Locking::Keys);
    t.add("zintercard", zintercard, Locking::Keys);
    t.add("zscan", zscan, Locking::Keys);
}

/// A BYSCORE range end that is not `[(]<float>` (ZRANGEBYSCORE, ZCOUNT, ZREMRANGEBYSCORE).
pub const MINMAX_NOT_FLOAT: CmdError = CmdError::new("ERR min or max is not a float");
/// A BYLEX range end that is not `-`, `+`, `(x` or `[x`.
pub const MINMAX_NOT_LEX: CmdError = CmdError::new("ERR min or max not valid string range item");
/// ZINCRBY / ZADD INCR whose result would be NaN (`inf` + `-inf`).
pub const SCORE_NAN: CmdError = CmdError::new("ERR resulting score is not a number (NaN)");
const XX_NX: CmdError = CmdError::new("ERR XX and NX options at the same time are not compatible");
const GT_LT_NX: CmdError =
    CmdError::new("ERR GT, LT, and/or NX options at the same time are not compatible");
const INCR_PAIR: CmdError =
    CmdError::new("ERR INCR option supports a single increment-element pair");
const WITHSCORES_BYLEX: CmdError =
    CmdError::new("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
const LIMIT_RANK: CmdError = CmdError::new(
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
);
const NUMKEYS: CmdError = CmdError::new("ERR numkeys should be greater than 0");
const COUNT_POSITIVE: CmdError = CmdError::new("ERR count should be greater than 0");
const WEIGHT_NOT_FLOAT: CmdError = CmdError::new("ERR weight value is not a float");
const LIMIT_NEGATIVE: CmdError = CmdError::new("ERR LIMIT can't be negative");
const OUT_OF_RANGE: CmdError = CmdError::new("ERR value is out of range");
const RANDMEMBER_RANGE: CmdError = CmdError::new(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
);
const LOCK_BUG: CmdError = CmdError::new("ERR internal error: key outside the command's lock plan");

// ---------------------------------------------------------------------------------------------
// Number parsing (strtod rules)

/// What `strtod` makes of the start of `s`: the value, the bytes consumed (0 = no number) and
/// whether it overflowed or underflowed to zero (glibc's ERANGE cases Redis rejects).
fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let start = i;
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let rest = &s[i..];
    let starts = |word: &[u8]| {
        rest.get(..word.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(word))
    };
    if starts(b"infinity") {
        return (sign * f64::INFINITY, i + 8, false);
    }
    if starts(b"inf") {
        return (sign * f64::INFINITY, i + 3, false);
    }
    if starts(b"nan") {
        let mut j = i + 3;
        if s.get(j) == Some(&b'(') {
            let mut k = j + 1;
            while k < s.len() && (s[k].is_ascii_alphanumeric() || s[k] == b'_') {
                k += 1;
            }
            if s.get(k) == Some(&b')') {
                j = k + 1;
            }
        }
        return (f64::NAN, j, false);
    }
    if rest.len() > 2
        && rest[0] == b'0'
        && (rest[1] | 0x20) == b'x'
        && (rest[2].is_ascii_hexdigit()
            || (rest[2] == b'.' && rest.get(3).is_some_and(|c| c.is_ascii_hexdigit())))
    {
        let (v, n, erange) = hex_float(&rest[2..]);
        return (sign * v, i + 2 + n, erange);
    }
    // Decimal: digits [. digits] [e [sign] digits]
    let mut j = i;
    let mut digits = 0;
    let mut nonzero = false;
    while j < s.len() && s[j].is_ascii_digit() {
        nonzero |= s[j] != b'0';
        j += 1;
        digits += 1;
    }
    if s.get(j) == Some(&b'.') {
        j += 1;
        while j < s.len() && s[j].is_ascii_digit() {
            nonzero |= s[j] != b'0';
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return (0.0, 0, false);
    }
    if matches!(s.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(s.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        if s.get(k).is_some_and(|c| c.is_ascii_digit()) {
            while k < s.len() && s[k].is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&s[start..j]).unwrap_or("0");
    let v: f64 = text.parse().unwrap_or(0.0);
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    (v, j, erange)
}

/// A hexadecimal float's digits after `0x`: value, bytes consumed, ERANGE.
fn hex_float(s: &[u8]) -> (f64, usize, bool) {
    let mut mant: f64 = 0.0;
    let mut exp: i64 = 0;
    let mut i = 0;
    let mut nonzero = false;
    while i < s.len() && s[i].is_ascii_hexdigit() {
        let d = f64::from((s[i] as char).to_digit(16).unwrap_or(0));
        nonzero |= d != 0.0;
        mant = mant * 16.0 + d;
        i += 1;
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        while i < s.len() && s[i].is_ascii_hexdigit() {
            let d = f64::from((s[i] as char).to_digit(16).unwrap_or(0));
            nonzero |= d != 0.0;
            mant = mant * 16.0 + d;
            exp -= 4;
            i += 1;
        }
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        let mut k = i + 1;
        let eneg = match s.get(k) {
            Some(b'-') => {
                k += 1;
                true
            }
            Some(b'+') => {
                k += 1;
                false
            }
            _ => false,
        };
        if s.get(k).is_some_and(|c| c.is_ascii_digit()) {
            let mut e: i64 = 0;
            while k < s.len() && s[k].is_ascii_digit() {
                e = (e * 10 + i64::from(s[k] - b'0')).min(100_000);
                k += 1;
            }
            exp += if eneg { -e } else { e };
            i = k;
        }
    }
    // Scale in steps so that subnormal results are not lost to an overflowing 2^-n.
    let mut v = mant;
    let mut e = exp.clamp(-100_000, 100_000);
    while e > 0 && v.is_finite() {
        let step = e.min(1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    while e < 0 && v != 0.0 {
        let step = (-e).min(1000);
        v *= 2f64.powi(-(step as i32));
        e += step;
    }
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    (v, i, erange)
}

/// The common score: an optional sign and 1 to 15 decimal digits, which a double holds
/// exactly, so the value is what `strtod` returns (`-0` included) without the general parser.
#[inline]
fn small_integer(arg: &[u8]) -> Option<f64> {
    let (neg, digits) = match arg.split_first()? {
        (b'-', d) => (true, d),
        (b'+', d) => (false, d),
        _ => (false, arg),
    };
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    let v = v as f64;
    Some(if neg { -v } else { v })
}

/// Parses a score or increment as Redis's `getDoubleFromObject` (string2d) does.
pub fn parse_score(arg: &[u8]) -> Option<f64> {
    if let Some(v) = small_integer(arg) {
        return Some(v);
    }
    if arg.is_empty() || arg[0].is_ascii_whitespace() {
        return None;
    }
    let (v, n, erange) = strtod(arg);
    if n != arg.len() || v.is_nan() || erange {
        return None;
    }
    Some(v)
}

fn score_arg(arg: &[u8]) -> Result<f64, CmdError> {
    parse_score(arg).ok_or(errors::NOT_FLOAT)
}

/// Parses one end of a score range (`zslParseRange`): optional `(`, then strtod up to the end
/// of the C string.
fn range_item(arg: &[u8]) -> Option<(f64, bool)> {
    let (ex, body) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let (v, n, _) = strtod(body);
    let rest = &body[n..];
    if !(rest.is_empty() || rest[0] == 0) || v.is_nan() {
        return None;
    }
    Some((v, ex))
}

/// Parses a score range with Redis's error.
pub fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let (min, minex) = range_item(min).ok_or(MINMAX_NOT_FLOAT)?;
    let (max, maxex) = range_item(max).ok_or(MINMAX_NOT_FLOAT)?;
    Ok(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

fn lex_item(arg: &[u8]) -> Option<LexBound> {
    match arg.first()? {
        b'+' if arg.len() == 1 => Some(LexBound::Max),
        b'-' if arg.len() == 1 => Some(LexBound::Min),
        b'(' => Some(LexBound::Excl(arg[1..].to_vec())),
        b'[' => Some(LexBound::Incl(arg[1..].to_vec())),
        _ => None,
    }
}

/// Parses a lexicographic range with Redis's error.
pub fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    Ok(LexRange {
        min: lex_item(min).ok_or(MINMAX_NOT_LEX)?,
        max: lex_item(max).ok_or(MINMAX_NOT_LEX)?,
    })
}

// ---------------------------------------------------------------------------------------------
// Lookup helpers

/// The sorted set at `key` for reading (counts the keyspace hit/miss), with the reply writer.
fn zread<'c>(
    c: &'c mut Ctx<'_, '_>,
    key: &[u8],
) -> Result<(Option<&'c mut ZSet>, &'c mut Reply), CmdError> {
    let clock = c.clock;
    let db = c.client.db;
    let shard = c.locks.for_key(db, key).ok_or(LOCK_BUG)?;
    match shard.get_mut(key, &clock) {
        None => {
            c.client.batch.misses += 1;
            Ok((None, &mut *c.reply))
        }
        Some(e) => {
            c.client.batch.hits += 1;
            if e.kind() != Kind::ZSet {
                return Err(errors::WRONGTYPE);
            }
            match e.value_mut() {
                Some(Value::ZSet(z)) => Ok((Some(z), &mut *c.reply)),
                _ => Err(errors::WRONGTYPE),
            }
        }
    }
}

/// The sorted set at `key` for writing (no hit statistics).
fn zwrite<'c>(c: &'c mut Ctx<'_, '_>, key: &[u8]) -> Result<Option<&'c mut ZSet>, CmdError> {
    let clock = c.clock;
    let shard = c.shard(key)?;
    match coll::get_typed(shard, key, &clock, Kind::ZSet)? {
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(errors::WRONGTYPE),
        None => Ok(None),
    }
}

/// Deletes `key` when its set became empty, with the `del` event. Returns true if deleted.
fn drop_if_empty(c: &mut Ctx<'_, '_>, key: &[u8]) -> Result<bool, CmdError> {
    let now = c.now_ms();
    let gone = coll::delete_if_empty(c.shard(key)?, key, now);
    if gone {
        c.notify(notify::GENERIC, "del", key);
    }
    Ok(gone)
}

fn is_resp3(r: &Reply) -> bool {
    r.proto() == Protocol::Resp3
}

/// Writes elements as ZRANGE does: members, or member+score (flat in RESP2, pairs in RESP3).
pub(crate) fn reply_elements(r: &mut Reply, items: &[(Vec<u8>, f64)], withscores: bool) {
    if withscores && is_resp3(r) {
        r.array(items.len());
        for (m, s) in items {
            r.array(2);
            r.bulk(m);
            r.double(*s);
        }
    } else {
        r.array(if withscores {
            items.len() * 2
        } else {
            items.len()
        });
        for (m, s) in items {
            r.bulk(m);
            if withscores {
                r.double(*s);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ZADD / ZINCRBY

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

enum AddOut {
    Nop,
    Added(f64),
    Updated(f64),
    Same(f64),
}

/// Redis's `zsetAdd`. `Err` = the result would be NaN.
fn zset_add(
    z: &mut ZSet,
    member: &[u8],
    mut score: f64,
    f: AddFlags,
    limits: &EncodingLimits,
) -> Result<AddOut, CmdError> {
    // One member lookup (skiplist): decide from the current score, then write.
    let mut out = AddOut::Nop;
    z.upsert_with(member, limits, |cur| match cur {
        Some(cur) => {
            if f.nx {
                return Ok(None);
            }
            if f.incr {
                score += cur;
                if score.is_nan() {
                    return Err(SCORE_NAN);
                }
            }
            if (f.lt && score >= cur) || (f.gt && score <= cur) {
                return Ok(None);
            }
            if score != cur {
                out = AddOut::Updated(score);
                Ok(Some(score))
            } else {
                out = AddOut::Same(score);
                Ok(None)
            }
        }
        None if !f.xx => {
            out = AddOut::Added(score);
            Ok(Some(score))
        }
        None => Ok(None),
    })?;
    Ok(out)
}

fn zadd(c: &mut Ctx) -> CmdResult {
    zadd_generic(c, false)
}

fn zincrby(c: &mut Ctx) -> CmdResult {
    zadd_generic(c, true)
}

fn zadd_generic(c: &mut Ctx, incr_cmd: bool) -> CmdResult {
    let key = c.arg(1);
    let mut f = AddFlags {
        incr: incr_cmd,
        ..AddFlags::default()
    };
    let mut idx = 2;
    while idx < c.argv.len() {
        let a = c.arg(idx);
        if args::is(a, "nx") {
            f.nx = true;
        } else if args::is(a, "xx") {
            f.xx = true;
        } else if args::is(a, "ch") {
            f.ch = true;
        } else if args::is(a, "incr") {
            f.incr = true;
        } else if args::is(a, "gt") {
            f.gt = true;
        } else if args::is(a, "lt") {
            f.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = c.argv.len() - idx;
    if elements % 2 == 1 || elements == 0 {
        return Err(errors::SYNTAX);
    }
    let n = elements / 2;
    if f.nx && f.xx {
        return Err(XX_NX);
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(GT_LT_NX);
    }
    if f.incr && n > 1 {
        return Err(INCR_PAIR);
    }
    let mut scores = Vec::with_capacity(n);
    let mut maxlen = 0;
    for j in 0..n {
        scores.push(score_arg(c.arg(idx + 2 * j))?);
        maxlen = maxlen.max(c.arg(idx + 2 * j + 1).len());
    }
    let limits = c.limits();
    let clock = c.clock;
    // Only XX needs to know beforehand whether the key exists (it must not create it);
    // otherwise `get_or_create` below finds or makes the set in one probe.
    let exists = !f.xx || {
        let shard = c.shard(key)?;
        coll::get_typed(shard, key, &clock, Kind::ZSet)?.is_some()
    };
    if !exists {
        if f.incr {
            c.reply.null();
        } else {
            c.reply.int(0);
        }
        return Ok(());
    }
    let argv = c.argv;
    let shard = c.shard(key)?;
    let (v, created) = coll::get_or_create(shard, key, &clock, Kind::ZSet, || {
        Value::ZSet(ZSet::with_hint(n, maxlen, &limits))
    })?;
    let Value::ZSet(z) = v else {
        return Err(errors::WRONGTYPE);
    };
    if !created {
        z.maybe_convert(n, maxlen, &limits);
    }
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    let mut err = None;
    for j in 0..n {
        let m = &argv[idx + 2 * j + 1];
        match zset_add(z, m, scores[j], f, &limits) {
            Ok(out) => match out {
                AddOut::Nop => {}
                AddOut::Added(s) => {
                    added += 1;
                    processed += 1;
                    last = s;
                }
                AddOut::Updated(s) => {
                    updated += 1;
                    processed += 1;
                    last = s;
                }
                AddOut::Same(s) => {
                    processed += 1;
                    last = s;
                }
            },
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    if created {
        c.notify(notify::NEW, "new", key);
    }
    if added + updated > 0 {
        c.modified(key);
        c.notify(notify::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
        c.dirty((added + updated) as u64);
    }
    if created || added > 0 {
        c.key_ready(key);
    }
    if let Some(e) = err {
        if created {
            drop_if_empty(c, key)?;
        }
        return Err(e);
    }
    if f.incr {
        if processed > 0 {
            c.reply.double(last);
        } else {
            c.reply.null();
        }
    } else {
        c.reply.int(if f.ch { added + updated } else { added });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Simple reads

fn zscore(c: &mut Ctx) -> CmdResult {
    let (key, member) = (c.arg(1), c.arg(2));
    let (z, r) = zread(c, key)?;
    match z.and_then(|z| z.score(member)) {
        Some(s) => r.double(s),
        None => r.null(),
    }
    Ok(())
}

fn zmscore(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let argv = c.argv;
    let (z, r) = zread(c, key)?;
    r.array(argv.len() - 2);
    for m in &argv[2..] {
        match z.as_ref().and_then(|z| z.score(m)) {
            Some(s) => r.double(s),
            None => r.null(),
        }
    }
    Ok(())
}

fn zcard(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let (z, r) = zread(c, key)?;
    r.int(z.map_or(0, |z| z.len() as i64));
    Ok(())
}

fn zcount(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let range = parse_score_range(c.arg(2), c.arg(3))?;
    let (z, r) = zread(c, key)?;
    let n = z.map_or(0, |z| {
        let (lo, hi) = z.score_ranks(&range);
        hi - lo
    });
    r.int(n as i64);
    Ok(())
}

fn zlexcount(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let range = parse_lex_range(c.arg(2), c.arg(3))?;
    let (z, r) = zread(c, key)?;
    let n = z.map_or(0, |z| {
        let (lo, hi) = z.lex_ranks(&range);
        hi - lo
    });
    r.int(n as i64);
    Ok(())
}

fn zrank(c: &mut Ctx) -> CmdResult {
    zrank_generic(c, false)
}

fn zrevrank(c: &mut Ctx) -> CmdResult {
    zrank_generic(c, true)
}

fn zrank_generic(c: &mut Ctx, rev: bool) -> CmdResult {
    let (key, member) = (c.arg(1), c.arg(2));
    if c.argv.len() > 4 {
        return Err(errors::wrong_arity(c.cmd.name));
    }
    let withscore = if c.argv.len() == 4 {
        if !args::is(c.arg(3), "withscore") {
            return Err(errors::SYNTAX);
        }
        true
    } else {
        false
    };
    let (z, r) = zread(c, key)?;
    let found = z.and_then(|z| {
        let len = z.len();
        z.rank(member)
            .map(|(rank, s)| (if rev { len - 1 - rank } else { rank }, s))
    });
    match found {
        Some((rank, s)) if withscore => {
            r.array(2);
            r.int(rank as i64);
            r.double(s);
        }
        Some((rank, _)) => r.int(rank as i64),
        None if withscore => r.null_array(),
        None => r.null(),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZRANGE family

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Auto,
    Forward,
    Reverse,
}

/// Resolves a ZRANGE-style request to the ranks it selects, in reply order: `(start, end, rev)`
/// over ascending ranks `[start, end)`.
struct Selection {
    start: usize,
    end: usize,
    rev: bool,
}

/// Applies LIMIT offset/count to ranks `[lo, hi)` read in direction `rev`.
fn apply_limit(lo: usize, hi: usize, rev: bool, offset: i64, limit: i64) -> Selection {
    let total = hi.saturating_sub(lo);
    if offset < 0 || (offset as u64) >= total as u64 {
        return Selection {
            start: 0,
            end: 0,
            rev,
        };
    }
    let offset = offset as usize;
    let avail = total - offset;
    let take = if limit < 0 {
        avail
    } else {
        (limit as u64).min(avail as u64) as usize
    };
    if rev {
        Selection {
            start: hi - offset - take,
            end: hi - offset,
            rev,
        }
    } else {
        Selection {
            start: lo + offset,
            end: lo + offset + take,
            rev,
        }
    }
}

/// Ranks selected by a rank range (start/stop with negative indexes), as zrangeGenericCommand.
fn rank_selection(len: usize, start: i64, end: i64, rev: bool) -> Selection {
    let llen = len as i64;
    let mut start = if start < 0 { start + llen } else { start };
    let mut end = if end < 0 { end + llen } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return Selection {
            start: 0,
            end: 0,
            rev,
        };
    }
    if end >= llen {
        end = llen - 1;
    }
    // `start..=end` counted from the chosen end.
    let (s, e) = if rev {
        ((llen - 1 - end) as usize, (llen - start) as usize)
    } else {
        (start as usize, (end + 1) as usize)
    };
    Selection {
        start: s,
        end: e,
        rev,
    }
}

pub(crate) enum ParsedRange {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

pub(crate) struct RangeReq {
    pub(crate) range: ParsedRange,
    pub(crate) rev: bool,
    pub(crate) withscores: bool,
    pub(crate) offset: i64,
    pub(crate) limit: i64,
}

/// Parses `<min> <max> [options]` starting at `argv[first]` (the min argument), as
/// zrangeGenericCommand.
pub(crate) fn parse_zrange(
    c: &Ctx,
    first: usize,
    mut rangetype: RangeType,
    mut dir: Direction,
    store: bool,
) -> Result<RangeReq, CmdError> {
    let argv = c.argv;
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = first + 2;
    while j < argv.len() {
        let a = &argv[j][..];
        let left = argv.len() - j - 1;
        if !store && args::is(a, "withscores") {
            withscores = true;
        } else if args::is(a, "limit") && left >= 2 {
            offset = args::int(&argv[j + 1])?;
            limit = args::int(&argv[j + 2])?;
            j += 2;
        } else if dir == Direction::Auto && args::is(a, "rev") {
            dir = Direction::Reverse;
        } else if rangetype == RangeType::Auto && args::is(a, "bylex") {
            rangetype = RangeType::Lex;
        } else if rangetype == RangeType::Auto && args::is(a, "byscore") {
            rangetype = RangeType::Score;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    if dir == Direction::Auto {
        dir = Direction::Forward;
    }
    if rangetype == RangeType::Auto {
        rangetype = RangeType::Rank;
    }
    if withscores && rangetype == RangeType::Lex {
        return Err(WITHSCORES_BYLEX);
    }
    if (offset != 0 || limit != -1) && rangetype == RangeType::Rank {
        return Err(LIMIT_RANK);
    }
    let rev = dir == Direction::Reverse;
    let (mut mi, mut ma) = (first, first + 1);
    if rev && rangetype != RangeType::Rank {
        std::mem::swap(&mut mi, &mut ma);
    }
    let range = match rangetype {
        RangeType::Score => ParsedRange::Score(parse_score_range(&argv[mi], &argv[ma])?),
        RangeType::Lex => ParsedRange::Lex(parse_lex_range(&argv[mi], &argv[ma])?),
        _ => ParsedRange::Rank(args::int(&argv[mi])?, args::int(&argv[ma])?),
    };
    Ok(RangeReq {
        range,
        rev,
        withscores,
        offset,
        limit,
    })
}

fn select(z: &ZSet, req: &RangeReq) -> Selection {
    match &req.range {
        ParsedRange::Rank(s, e) => rank_selection(z.len(), *s, *e, req.rev),
        ParsedRange::Score(r) => {
            let (lo, hi) = z.score_ranks(r);
            apply_limit(lo, hi, req.rev, req.offset, req.limit)
        }
        ParsedRange::Lex(r) => {
            let (lo, hi) = z.lex_ranks(r);
            apply_limit(lo, hi, req.rev, req.offset, req.limit)
        }
    }
}

fn collect(z: &ZSet, sel: &Selection) -> Vec<(Vec<u8>, f64)> {
    let mut out = Vec::with_capacity(sel.end.saturating_sub(sel.start));
    z.range(sel.start, sel.end, sel.rev, |m, s| {
        out.push((m.to_vec(), s))
    });
    out
}

fn zrange_generic(c: &mut Ctx, rangetype: RangeType, dir: Direction) -> CmdResult {
    let key = c.arg(1);
    let req = parse_zrange(c, 2, rangetype, dir, false)?;
    let (z, r) = zread(c, key)?;
    let Some(z) = z else {
        r.array(0);
        return Ok(());
    };
    let sel = select(z, &req);
    let withscores = req.withscores;
    let resp3 = is_resp3(r);
    let n = sel.end.saturating_sub(sel.start);
    r.array(if withscores && !resp3 { n * 2 } else { n });
    z.range(sel.start, sel.end, sel.rev, |m, s| {
        if withscores && resp3 {
            r.array(2);
        }
        r.bulk(m);
        if withscores {
            r.double(s);
        }
    });
    Ok(())
}

/// The range type and direction each read of the ZRANGE family starts from (its options may
/// still choose them: ZRANGE's BYSCORE/BYLEX/REV). Shared with the disk engine's native path.
pub(crate) fn range_command(name: &str) -> Option<(RangeType, Direction)> {
    Some(match name {
        "zrange" => (RangeType::Auto, Direction::Auto),
        "zrangebyscore" => (RangeType::Score, Direction::Forward),
        "zrevrangebyscore" => (RangeType::Score, Direction::Reverse),
        "zrangebylex" => (RangeType::Lex, Direction::Forward),
        "zrevrangebylex" => (RangeType::Lex, Direction::Reverse),
        "zrevrange" => (RangeType::Rank, Direction::Reverse),
        _ => return None,
    })
}

/// ZRANGE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX: one handler,
/// the command's starting range type and direction from [`range_command`].
fn zrange_read(c: &mut Ctx) -> CmdResult {
    let (rangetype, dir) = range_command(c.cmd.name).unwrap_or((RangeType::Auto, Direction::Auto));
    zrange_generic(c, rangetype, dir)
}

/// Stores `pairs` at `dst` as a new sorted set (or deletes `dst` when empty), replying the
/// count, with the store event `event`.
fn store_result(c: &mut Ctx, dst: &[u8], pairs: Vec<(Vec<u8>, f64)>, event: &str) -> CmdResult {
    let n = pairs.len();
    if n > 0 {
        let limits = c.limits();
        let z = ZSet::from_pairs(pairs, &limits);
        let clock = c.clock;
        let replaced = coll::store(c.shard(dst)?, dst, Value::ZSet(z), &clock);
        c.modified(dst);
        if !replaced {
            c.notify(notify::NEW, "new", dst);
        }
        c.notify(notify::ZSET, event, dst);
        c.dirty(1);
        c.key_ready(dst);
    } else {
        let now = c.now_ms();
        if let Some(old) = c.shard(dst)?.remove(dst, now) {
            crate::lazyfree::release(old, true);
            c.modified(dst);
            c.notify(notify::GENERIC, "del", dst);
            c.dirty(1);
        }
    }
    c.reply.int(n as i64);
    Ok(())
}

fn zrangestore(c: &mut Ctx) -> CmdResult {
    let (dst, src) = (c.arg(1), c.arg(2));
    let req = parse_zrange(c, 3, RangeType::Auto, Direction::Auto, true)?;
    let (z, _) = zread(c, src)?;
    let pairs = match z {
        Some(z) => collect(z, &select(z, &req)),
        None => Vec::new(),
    };
    store_result(c, dst, pairs, "zrangestore")
}

// ---------------------------------------------------------------------------------------------
// Removal

fn zrem(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let argv = c.argv;
    let mut deleted = 0i64;
    if let Some(z) = zwrite(c, key)? {
        for m in &argv[2..] {
            if z.remove(m).is_some() {
                deleted += 1;
                if z.is_empty() {
                    break;
                }
            }
        }
    }
    if deleted > 0 {
        c.notify(notify::ZSET, "zrem", key);
        drop_if_empty(c, key)?;
        c.modified(key);
        c.dirty(deleted as u64);
    }
    c.reply.int(deleted);
    Ok(())
}

fn zremrange_generic(c: &mut Ctx, kind: RangeType) -> CmdResult {
    let key = c.arg(1);
    let (a, b) = (c.arg(2), c.arg(3));
    let range = match kind {
        RangeType::Score => ParsedRange::Score(parse_score_range(a, b)?),
        RangeType::Lex => ParsedRange::Lex(parse_lex_range(a, b)?),
        _ => ParsedRange::Rank(args::int(a)?, args::int(b)?),
    };
    let Some(z) = zwrite(c, key)? else {
        c.reply.int(0);
        return Ok(());
    };
    let (lo, hi) = match &range {
        ParsedRange::Rank(s, e) => {
            let sel = rank_selection(z.len(), *s, *e, false);
            (sel.start, sel.end)
        }
        ParsedRange::Score(r) => z.score_ranks(r),
        ParsedRange::Lex(r) => z.lex_ranks(r),
    };
    let deleted = z.remove_ranks(lo, hi).len();
    if deleted > 0 {
        let event = match kind {
            RangeType::Score => "zremrangebyscore",
            RangeType::Lex => "zremrangebylex",
            _ => "zremrangebyrank",
        };
        c.notify(notify::ZSET, event, key);
        drop_if_empty(c, key)?;
        c.modified(key);
        c.dirty(deleted as u64);
    }
    c.reply.int(deleted as i64);
    Ok(())
}

fn zremrangebyrank(c: &mut Ctx) -> CmdResult {
    zremrange_generic(c, RangeType::Rank)
}

fn zremrangebyscore(c: &mut Ctx) -> CmdResult {
    zremrange_generic(c, RangeType::Score)
}

fn zremrangebylex(c: &mut Ctx) -> CmdResult {
    zremrange_generic(c, RangeType::Lex)
}

// ---------------------------------------------------------------------------------------------
// Pops

/// How a pop replies (Redis's genericZpopCommand flags).
#[derive(Clone, Copy)]
enum PopShape {
    /// ZPOPMIN/ZPOPMAX: flat member/score list; pairs in RESP3 when a count was given.
    Plain { nested3: bool },
    /// BZPOPMIN/BZPOPMAX: `[key, member, score]`.
    Keyed,
    /// ZMPOP/BZMPOP: `[key, [[member, score], ...]]`.
    Multi,
}

/// Pops up to `count` elements from the first non-empty sorted set of `keys` (WRONGTYPE on
/// the first existing key of another type). Returns whether something was popped (the reply
/// is written then).
fn pop_first(
    c: &mut Ctx,
    keys: &[&[u8]],
    max: bool,
    count: usize,
    shape: PopShape,
) -> Result<bool, CmdError> {
    for &key in keys {
        let Some(z) = zwrite(c, key)? else {
            continue;
        };
        if z.is_empty() {
            continue;
        }
        let len = z.len();
        let n = count.min(len);
        let mut items = if max {
            z.remove_ranks(len - n, len)
        } else {
            z.remove_ranks(0, n)
        };
        if max {
            items.reverse();
        }
        let r = &mut *c.reply;
        let resp3 = is_resp3(r);
        match shape {
            PopShape::Plain { nested3 } => {
                let nested = nested3 && resp3;
                r.array(if nested { items.len() } else { items.len() * 2 });
                for (m, s) in &items {
                    if nested {
                        r.array(2);
                    }
                    r.bulk(m);
                    r.double(*s);
                }
            }
            PopShape::Keyed => {
                r.array(3);
                r.bulk(key);
                for (m, s) in &items {
                    r.bulk(m);
                    r.double(*s);
                }
            }
            PopShape::Multi => {
                r.array(2);
                r.bulk(key);
                r.array(items.len());
                for (m, s) in &items {
                    r.array(2);
                    r.bulk(m);
                    r.double(*s);
                }
            }
        }
        c.notify(notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
        drop_if_empty(c, key)?;
        c.modified(key);
        c.dirty(items.len() as u64);
        // Effects as Redis: BZPOP* → `ZPOP* key`, [B]ZMPOP → `ZPOP* key <popped>`; the
        // direct ZPOPMIN/ZPOPMAX are propagated verbatim.
        let name: &'static [u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        match shape {
            _ if !c.propagating() => {}
            PopShape::Plain { .. } => {}
            PopShape::Keyed => c.propagate(vec![
                bytes::Bytes::from_static(name),
                bytes::Bytes::copy_from_slice(key),
            ]),
            PopShape::Multi => c.propagate(vec![
                bytes::Bytes::from_static(name),
                bytes::Bytes::copy_from_slice(key),
                crate::propagate::int_arg(items.len() as i64),
            ]),
        }
        return Ok(true);
    }
    Ok(false)
}

fn zpop_generic(c: &mut Ctx, max: bool) -> CmdResult {
    if c.argv.len() > 3 {
        return Err(errors::SYNTAX);
    }
    let key = c.arg(1);
    let count = if c.argv.len() == 3 {
        match args::parse_i64_strict(c.arg(2)) {
            Some(v) if v >= 0 => Some(v as usize),
            _ => return Err(errors::NOT_POSITIVE),
        }
    } else {
        None
    };
    // Type check first, then the count of 0, as Redis.
    let exists = zwrite(c, key)?.is_some_and(|z| !z.is_empty());
    if !exists || count == Some(0) {
        c.reply.array(0);
        return Ok(());
    }
    let shape = PopShape::Plain {
        nested3: count.is_some(),
    };
    pop_first(c, &[key], max, count.unwrap_or(1), shape)?;
    Ok(())
}

fn zpopmin(c: &mut Ctx) -> CmdResult {
    zpop_generic(c, false)
}

fn zpopmax(c: &mut Ctx) -> CmdResult {
    zpop_generic(c, true)
}

/// Parses `numkeys key... MIN|MAX [COUNT n]` from `argv[at]`: (keys, max, count).
fn parse_mpop<'a>(c: &Ctx<'a, '_>, at: usize) -> Result<(Vec<&'a [u8]>, bool, usize), CmdError> {
    let numkeys = match args::parse_i64_strict(c.arg(at)) {
        Some(v) if v >= 1 => v as usize,
        _ => return Err(NUMKEYS),
    };
    let where_idx = at
        .checked_add(numkeys)
        .and_then(|v| v.checked_add(1))
        .ok_or(errors::SYNTAX)?;
    if where_idx >= c.argv.len() {
        return Err(errors::SYNTAX);
    }
    let w = c.arg(where_idx);
    let max = if args::is(w, "min") {
        false
    } else if args::is(w, "max") {
        true
    } else {
        return Err(errors::SYNTAX);
    };
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < c.argv.len() {
        let more = c.argv.len() - 1 - j;
        if count.is_none() && args::is(c.arg(j), "count") && more > 0 {
            j += 1;
            match args::parse_i64_strict(c.arg(j)) {
                Some(v) if v >= 1 => count = Some(v as usize),
                _ => return Err(COUNT_POSITIVE),
            }
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let keys = (at + 1..where_idx).map(|i| c.arg(i)).collect();
    Ok((keys, max, count.unwrap_or(1)))
}

fn zmpop(c: &mut Ctx) -> CmdResult {
    let (keys, max, count) = parse_mpop(c, 1)?;
    if !pop_first(c, &keys, max, count, PopShape::Multi)? {
        c.reply.null_array();
    }
    Ok(())
}

fn bzpop_generic(c: &mut Ctx, max: bool) -> CmdResult {
    let last = c.argv.len() - 1;
    let deadline = args::timeout(c.arg(last), c.now_ms())?;
    let keys: Vec<&[u8]> = (1..last).map(|i| c.arg(i)).collect();
    if pop_first(c, &keys, max, 1, PopShape::Keyed)? {
        return Ok(());
    }
    c.block_on(&keys, deadline, TimeoutReply::NullArray)
}

fn bzpopmin(c: &mut Ctx) -> CmdResult {
    bzpop_generic(c, false)
}

fn bzpopmax(c: &mut Ctx) -> CmdResult {
    bzpop_generic(c, true)
}

fn bzmpop(c: &mut Ctx) -> CmdResult {
    let deadline = args::timeout(c.arg(1), c.now_ms())?;
    let (keys, max, count) = parse_mpop(c, 2)?;
    if pop_first(c, &keys, max, count, PopShape::Multi)? {
        return Ok(());
    }
    c.block_on(&keys, deadline, TimeoutReply::NullArray)
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER

fn zrandmember(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    if c.argv.len() == 2 {
        let pick = c.client.next_rand64();
        let (z, r) = zread(c, key)?;
        match z {
            Some(z) if !z.is_empty() => {
                let i = (pick % z.len() as u64) as usize;
                match z.by_rank(i) {
                    Some((m, _)) => r.bulk(m),
                    None => r.null(),
                }
            }
            _ => r.null(),
        }
        return Ok(());
    }
    let count = match args::parse_i64_strict(c.arg(2)) {
        None => return Err(errors::NOT_INTEGER),
        Some(i64::MIN) => return Err(RANDMEMBER_RANGE),
        Some(v) => v,
    };
    let withscores = match c.argv.len() {
        3 => false,
        4 if args::is(c.arg(3), "withscores") => true,
        _ => return Err(errors::SYNTAX),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(OUT_OF_RANGE);
    }
    let mut seed = c.client.next_rand64() | 1;
    let (z, r) = zread(c, key)?;
    let Some(z) = z else {
        r.array(0);
        return Ok(());
    };
    if count == 0 {
        r.array(0);
        return Ok(());
    }
    let len = z.len();
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut items: Vec<(Vec<u8>, f64)> = Vec::new();
    if count < 0 {
        let n = count.unsigned_abs() as usize;
        let resp3 = is_resp3(r);
        r.array(if withscores && !resp3 { n * 2 } else { n });
        for _ in 0..n {
            let i = (rnd() % len as u64) as usize;
            if let Some((m, s)) = z.by_rank(i) {
                if withscores && resp3 {
                    r.array(2);
                }
                r.bulk(m);
                if withscores {
                    r.double(s);
                }
            }
        }
        return Ok(());
    }
    let n = count as u64;
    if n >= len as u64 {
        z.for_each(|m, s| items.push((m.to_vec(), s)));
    } else if n * 3 < len as u64 {
        // Few picks from a big set: random ranks until `n` distinct ones.
        let mut picked = std::collections::HashSet::new();
        while picked.len() < n as usize {
            let rk = (rnd() % len as u64) as usize;
            if picked.insert(rk) {
                if let Some((m, s)) = z.by_rank(rk) {
                    items.push((m.to_vec(), s));
                }
            }
        }
    } else {
        // Partial Fisher-Yates over ranks: distinct picks.
        let mut ranks: Vec<usize> = (0..len).collect();
        for i in 0..n as usize {
            let j = i + (rnd() % (len - i) as u64) as usize;
            ranks.swap(i, j);
        }
        for &rk in &ranks[..n as usize] {
            if let Some((m, s)) = z.by_rank(rk) {
                items.push((m.to_vec(), s));
            }
        }
    }
    reply_elements(r, &items, withscores);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Set algebra

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, v: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v;
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

/// One input of a set operation: its elements (sets have score 1) and weight.
struct Source {
    items: Vec<(Vec<u8>, f64)>,
    weight: f64,
}

/// Reads the inputs (sorted sets or sets; WRONGTYPE for any other type) and parses the
/// options, in Redis's order. Returns (sources, aggregate, withscores, limit).
fn setop_parse(
    c: &mut Ctx,
    numkeys_at: usize,
    op: SetOp,
    store: bool,
    card_only: bool,
) -> Result<(Vec<Source>, Aggregate, bool, usize), CmdError> {
    let argv = c.argv;
    let setnum = args::int(c.arg(numkeys_at))?;
    if setnum < 1 {
        return Err(crate::cmd_err!(
            "ERR at least 1 input key is needed for '{}' command",
            c.cmd.name
        ));
    }
    if setnum as u64 > (argv.len() - numkeys_at - 1) as u64 {
        return Err(errors::SYNTAX);
    }
    let setnum = setnum as usize;
    let clock = c.clock;
    let mut srcs = Vec::with_capacity(setnum);
    for i in 0..setnum {
        let key = &argv[numkeys_at + 1 + i][..];
        let db = c.client.db;
        let shard = c.locks.for_key(db, key).ok_or(LOCK_BUG)?;
        let mut items = Vec::new();
        let found = match shard.get(key, &clock) {
            None => false,
            Some(e) => {
                match e.value() {
                    Some(Value::ZSet(z)) => z.for_each(|m, s| items.push((m.to_vec(), s))),
                    Some(Value::Set(s)) => s.for_each_member(|m| items.push((m.to_vec(), 1.0))),
                    _ => return Err(errors::WRONGTYPE),
                }
                true
            }
        };
        if !store {
            c.hit(found);
        }
        srcs.push(Source { items, weight: 1.0 });
    }
    let mut j = numkeys_at + 1 + setnum;
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0usize;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = &argv[j][..];
        if op != SetOp::Diff && !card_only && remaining > setnum && args::is(a, "weights") {
            j += 1;
            for s in srcs.iter_mut() {
                s.weight = parse_score(&argv[j]).ok_or(WEIGHT_NOT_FLOAT)?;
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && args::is(a, "aggregate") {
            let v = &argv[j + 1][..];
            agg = if args::is(v, "sum") {
                Aggregate::Sum
            } else if args::is(v, "min") {
                Aggregate::Min
            } else if args::is(v, "max") {
                Aggregate::Max
            } else {
                return Err(errors::SYNTAX);
            };
            j += 2;
        } else if !store && !card_only && args::is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && args::is(a, "limit") {
            limit = match args::parse_i64_strict(&argv[j + 1]) {
                Some(v) if v >= 0 => v as usize,
                _ => return Err(LIMIT_NEGATIVE),
            };
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    Ok((srcs, agg, withscores, limit))
}

fn weighted(w: f64, s: f64) -> f64 {
    let v = w * s;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// Computes the operation's result (distinct members with scores, unordered). With
/// `limit` > 0 an intersection stops after that many members (ZINTERCARD).
fn setop_compute(
    mut srcs: Vec<Source>,
    op: SetOp,
    agg: Aggregate,
    limit: usize,
) -> Vec<(Vec<u8>, f64)> {
    match op {
        SetOp::Inter => {
            srcs.sort_by_key(|s| s.items.len());
            if srcs.first().is_none_or(|s| s.items.is_empty()) {
                return Vec::new();
            }
            let maps: Vec<HashMap<&[u8], f64>> = srcs[1..]
                .iter()
                .map(|s| s.items.iter().map(|(m, v)| (&m[..], *v)).collect())
                .collect();
            let mut out = Vec::new();
            'outer: for (m, s) in &srcs[0].items {
                let mut score = weighted(srcs[0].weight, *s);
                for (k, map) in maps.iter().enumerate() {
                    match map.get(&m[..]) {
                        // Redis zeroes a NaN product only for the first input here.
                        Some(v) => aggregate(&mut score, srcs[k + 1].weight * *v, agg),
                        None => continue 'outer,
                    }
                }
                out.push((m.clone(), score));
                if limit > 0 && out.len() >= limit {
                    break;
                }
            }
            out
        }
        SetOp::Union => {
            srcs.sort_by_key(|s| s.items.len());
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for src in srcs {
                let w = src.weight;
                for (m, s) in src.items {
                    let v = weighted(w, s);
                    match acc.get_mut(&m) {
                        Some(t) => aggregate(t, v, agg),
                        None => {
                            acc.insert(m, v);
                        }
                    }
                }
            }
            acc.into_iter().collect()
        }
        SetOp::Diff => {
            let mut it = srcs.into_iter();
            let Some(first) = it.next() else {
                return Vec::new();
            };
            let others: Vec<Source> = it.collect();
            let exclude: std::collections::HashSet<&[u8]> = others
                .iter()
                .flat_map(|s| s.items.iter().map(|(m, _)| &m[..]))
                .collect();
            first
                .items
                .into_iter()
                .filter(|(m, _)| !exclude.contains(&m[..]))
                .collect()
        }
    }
}

fn setop_reply(c: &mut Ctx, op: SetOp) -> CmdResult {
    let (srcs, agg, withscores, _) = setop_parse(c, 1, op, false, false)?;
    let mut res = setop_compute(srcs, op, agg, 0);
    res.sort_by(|a, b| match a.1.partial_cmp(&b.1) {
        Some(std::cmp::Ordering::Equal) | None => a.0.cmp(&b.0),
        Some(o) => o,
    });
    reply_elements(c.reply, &res, withscores);
    Ok(())
}

fn setop_store(c: &mut Ctx, op: SetOp, event: &str) -> CmdResult {
    let dst = c.arg(1);
    let (srcs, agg, _, _) = setop_parse(c, 2, op, true, false)?;
    let res = setop_compute(srcs, op, agg, 0);
    store_result(c, dst, res, event)
}

fn zunion(c: &mut Ctx) -> CmdResult {
    setop_reply(c, SetOp::Union)
}

fn zinter(c: &mut Ctx) -> CmdResult {
    setop_reply(c, SetOp::Inter)
}

fn zdiff(c: &mut Ctx) -> CmdResult {
    setop_reply(c, SetOp::Diff)
}

fn zunionstore(c: &mut Ctx) -> CmdResult {
    setop_store(c, SetOp::Union, "zunionstore")
}

fn zinterstore(c: &mut Ctx) -> CmdResult {
    setop_store(c, SetOp::Inter, "zinterstore")
}

fn zdiffstore(c: &mut Ctx) -> CmdResult {
    setop_store(c, SetOp::Diff, "zdiffstore")
}

fn zintercard(c: &mut Ctx) -> CmdResult {
    let (srcs, agg, _, limit) = setop_parse(c, 1, SetOp::Inter, false, true)?;
    let n = setop_compute(srcs, SetOp::Inter, agg, limit).len();
    c.reply.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZSCAN

fn zscan(c: &mut Ctx) -> CmdResult {
    let key = c.arg(1);
    let cursor = parse_cursor(c.arg(2))?;
    let argv = c.argv;
    let (z, r) = zread(c, key)?;
    let Some(z) = z else {
        r.array(2);
        r.bulk(b"0");
        r.array(0);
        return Ok(());
    };
    let ScanOptions { count, pattern, .. } = parse_scan_options(argv, 3, ScanExtra::None)?;
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    let mut items: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut cur = cursor;
    if z.encoding_name() == "listpack" {
        z.for_each(|m, s| items.push((m.to_vec(), s)));
        cur = SCAN_DONE;
    } else {
        let mut iterations = count.saturating_mul(10);
        loop {
            cur = z.scan_step(cur, |m, s| items.push((m.to_vec(), s)));
            iterations -= 1;
            if cur == SCAN_DONE || iterations <= 0 || items.len() as i64 >= count {
                break;
            }
        }
    }
    if let Some(p) = pattern {
        if p != b"*" {
            items.retain(|(m, _)| glob_match(p, m, false));
        }
    }
    r.array(2);
    r.bulk(itoa::Buffer::new().format(cur).as_bytes());
    r.array(items.len() * 2);
    let mut text = Vec::new();
    for (m, s) in &items {
        r.bulk(m);
        text.clear();
        ferrokv_resp::format_double(*s, &mut text);
        r.bulk(&text);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_string2d() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"0x1p3"), Some(8.0));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"1e3"), Some(1000.0));
        assert!(parse_score(b"1e-310").is_some());
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"1e400",
            b"1e-400",
            b"abc",
            b"1.2.3",
        ] {
            assert_eq!(parse_score(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn integer_fast_path_agrees_with_the_general_parser() {
        let general = |a: &[u8]| {
            let (v, n, erange) = strtod(a);
            (n == a.len() && !v.is_nan() && !erange).then_some(v)
        };
        for a in [
            &b"0"[..],
            b"-0",
            b"+0",
            b"7",
            b"-7",
            b"+12",
            b"007",
            b"123456789012345",
            b"-999999999999999",
            b"1234567890123456",
            b"99999999999999999999",
            b"-",
            b"+",
            b"--1",
            b"1-",
            b"12a",
        ] {
            let got = parse_score(a);
            let want = general(a);
            assert_eq!(
                got.map(f64::to_bits),
                want.map(f64::to_bits),
                "{:?}",
                String::from_utf8_lossy(a)
            );
        }
        assert!(
            small_integer(b"1234567890123456").is_none(),
            "16 digits: general parser"
        );
        assert_eq!(
            parse_score(b"-0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
    }

    #[test]
    fn ranges_parse_like_zslparserange() {
        let r = parse_score_range(b"(1", b"+inf").unwrap();
        assert!(r.minex && !r.maxex && r.min == 1.0 && r.max == f64::INFINITY);
        let r = parse_score_range(b"", b" 2").unwrap();
        assert_eq!((r.min, r.max), (0.0, 2.0));
        assert!(parse_score_range(b"nan", b"1").is_err());
        assert!(parse_score_range(b"1x", b"1").is_err());
        assert!(parse_lex_range(b"-", b"+").is_ok());
        assert!(parse_lex_range(b"a", b"+").is_err());
        assert!(parse_lex_range(b"+x", b"+").is_err());
    }

    #[test]
    fn limits_and_ranks() {
        let s = apply_limit(2, 10, false, 1, 3);
        assert_eq!((s.start, s.end), (3, 6));
        let s = apply_limit(2, 10, true, 1, 3);
        assert_eq!((s.start, s.end), (6, 9));
        let s = rank_selection(5, -2, -1, false);
        assert_eq!((s.start, s.end), (3, 5));
        let s = rank_selection(5, 0, 1, true);
        assert_eq!((s.start, s.end), (3, 5));
    }
}
