//! SORT and SORT_RO: sorting the elements of a list, set or sorted set, numerically or
//! lexicographically, optionally by the values of other keys (`BY weight_*`, `BY h_*->field`),
//! fetching other keys per element (`GET obj_*`, `GET #`), and storing the result as a list.
//!
//! Follows Redis's `sortCommandGeneric` step by step: options are parsed first (syntax errors
//! before the key is looked up); `BY` with a pattern lacking `*` means "don't sort"; a set that is
//! not sorted but stored is sorted ALPHA anyway (so the stored list is deterministic); lists and
//! sorted sets that are not sorted keep their own order (reversed by DESC) with LIMIT applied to
//! that order; numeric sorting fails with "One or more scores can't be converted into double" if
//! a weight is not a number; equal weights are ordered by the element bytes.
//!
//! Patterns can name any key, so a SORT with `BY`/`GET` patterns locks the whole database (see
//! [`lock_plan`]); without them it locks only its key and destination.

use crate::args;
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdError, CmdResult};
use crate::keyspace::LockPlan;
use bytes::Bytes;
use ferrokv_engine::{Kind, Value};
use std::cmp::Ordering;

/// Binds SORT and SORT_RO.
pub fn register(t: &mut CommandTable) {
    t.add("sort", sort, Locking::Custom(lock_plan));
    t.add("sort_ro", sort_ro, Locking::Custom(lock_plan));
}

const SCORE_ERROR: CmdError =
    CmdError::new("ERR One or more scores can't be converted into double");

/// The whole current db when a `BY` or `GET` pattern may name other keys; else the declared keys.
fn lock_plan(argv: &[Bytes], db: u32) -> LockPlan {
    let mut j = 2;
    while j < argv.len() {
        let a = &argv[j][..];
        if (args::is(a, "by") || args::is(a, "get")) && j + 1 < argv.len() {
            let p = &argv[j + 1][..];
            if p.contains(&b'*') {
                return LockPlan::Db(db);
            }
        }
        j += 1;
    }
    let name: &[u8] = if argv.first().is_some_and(|n| args::is(n, "sort_ro")) {
        b"sort_ro"
    } else {
        b"sort"
    };
    match crate::spec::lookup(name) {
        Some(spec) => crate::dispatch::key_plan(spec, argv, db),
        None => LockPlan::Db(db),
    }
}

fn sort(c: &mut Ctx) -> CmdResult {
    sort_generic(c, false)
}

fn sort_ro(c: &mut Ctx) -> CmdResult {
    sort_generic(c, true)
}

/// Parsed SORT options.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<&'a [u8]>,
    by: Option<&'a [u8]>,
    dontsort: bool,
    gets: Vec<&'a [u8]>,
}

fn parse_options<'a>(c: &Ctx<'a, '_>, readonly: bool) -> Result<Options<'a>, CmdError> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit: None,
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
    };
    let argc = c.argv.len();
    let mut j = 2;
    while j < argc {
        let a = c.arg(j);
        let left = argc - j - 1;
        if args::is(a, "asc") {
            o.desc = false;
        } else if args::is(a, "desc") {
            o.desc = true;
        } else if args::is(a, "alpha") {
            o.alpha = true;
        } else if args::is(a, "limit") && left >= 2 {
            let start = args::int(c.arg(j + 1))?;
            let count = args::int(c.arg(j + 2))?;
            o.limit = Some((start, count));
            j += 2;
        } else if !readonly && args::is(a, "store") && left >= 1 {
            o.store = Some(c.arg(j + 1));
            j += 1;
        } else if args::is(a, "by") && left >= 1 {
            let p = c.arg(j + 1);
            o.by = Some(p);
            o.dontsort = !p.contains(&b'*');
            j += 1;
        } else if args::is(a, "get") && left >= 1 {
            o.gets.push(c.arg(j + 1));
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// One element being sorted, with its weight.
struct Item {
    obj: Vec<u8>,
    score: f64,
    cmp: Option<Vec<u8>>,
}

/// What a pattern resolves to for one element (Redis's `lookupKeyByPattern`): `#` is the element
/// itself; `prefix*suffix` the string at that key; `prefix*suffix->field` a hash field. A
/// pattern without `*` resolves to nothing.
fn lookup_pattern(c: &mut Ctx, pattern: &[u8], subst: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    if pattern == b"#" {
        return Ok(Some(subst.to_vec()));
    }
    let Some(star) = pattern.iter().position(|&b| b == b'*') else {
        return Ok(None);
    };
    let rest = &pattern[star + 1..];
    let arrow = rest
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&i| i + 2 < rest.len());
    let (suffix, field) = match arrow {
        Some(i) => (&rest[..i], Some(&rest[i + 2..])),
        None => (rest, None),
    };
    let mut key = Vec::with_capacity(star + subst.len() + suffix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(suffix);
    let clock = c.clock;
    let now = c.now_ms();
    let shard = c.shard(&key)?;
    let Some(e) = shard.get(&key, &clock) else {
        return Ok(None);
    };
    Ok(match (field, e.value()) {
        (None, None) => Some(e.str_value().to_vec()),
        (Some(f), Some(Value::Hash(h))) => h.get_field(f, now).map(<[u8]>::to_vec),
        _ => None,
    })
}

/// strtod over the whole text, as SORT's numeric weights are read: leading white space is
/// skipped, an empty text is 0, anything left over or NaN is an error.
fn weight(text: &[u8]) -> Option<f64> {
    let t = match text.iter().position(|b| !b.is_ascii_whitespace()) {
        Some(i) => &text[i..],
        None => return Some(0.0),
    };
    args::parse_f64(t)
}

fn sort_generic(c: &mut Ctx, readonly: bool) -> CmdResult {
    let mut o = parse_options(c, readonly)?;
    let key = c.arg(1);
    let clock = c.clock;
    // The elements in their native order, and the type.
    let (kind, elems): (Option<Kind>, Vec<Vec<u8>>) = {
        let shard = c.shard(key)?;
        match shard.get(key, &clock) {
            None => (None, Vec::new()),
            Some(e) => match e.value() {
                Some(Value::List(l)) => (Some(Kind::List), l.iter().map(<[u8]>::to_vec).collect()),
                Some(Value::Set(s)) => {
                    let mut v = Vec::with_capacity(s.len());
                    s.for_each_member(|m| v.push(m.to_vec()));
                    (Some(Kind::Set), v)
                }
                Some(Value::ZSet(z)) => {
                    let mut v = Vec::with_capacity(z.len());
                    z.for_each(|m, _| v.push(m.to_vec()));
                    (Some(Kind::ZSet), v)
                }
                _ => return Err(errors::WRONGTYPE),
            },
        }
    };
    c.hit(kind.is_some());
    if o.dontsort && kind == Some(Kind::Set) && o.store.is_some() {
        // An unsorted set would store an order that depends on the encoding: sort it.
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = elems.len() as i64;
    let (lstart, lcount) = o.limit.unwrap_or((0, -1));
    let mut start = lstart.max(0).min(len);
    let count = lcount.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    let native_order = matches!(kind, Some(Kind::List) | Some(Kind::ZSet) | None);
    let mut items: Vec<Item> = if o.dontsort && native_order {
        // Lists and sorted sets keep their order (reversed by DESC); LIMIT picks from it.
        let mut v = elems;
        if o.desc {
            v.reverse();
        }
        let picked: Vec<Vec<u8>> = if end >= start {
            v.into_iter()
                .skip(start as usize)
                .take((end - start + 1) as usize)
                .collect()
        } else {
            Vec::new()
        };
        end -= start;
        start = 0;
        picked
            .into_iter()
            .map(|obj| Item {
                obj,
                score: 0.0,
                cmp: None,
            })
            .collect()
    } else {
        elems
            .into_iter()
            .map(|obj| Item {
                obj,
                score: 0.0,
                cmp: None,
            })
            .collect()
    };
    let mut bad_score = false;
    if !o.dontsort {
        for it in items.iter_mut() {
            let byval = match o.by {
                Some(p) => match lookup_pattern(c, p, &it.obj)? {
                    Some(v) => v,
                    None => continue,
                },
                None => it.obj.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    it.cmp = Some(byval);
                }
            } else {
                match weight(&byval) {
                    Some(s) => it.score = s,
                    None => bad_score = true,
                }
            }
        }
        let (alpha, by, desc) = (o.alpha, o.by.is_some(), o.desc);
        items.sort_by(|a, b| {
            let ord = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.obj.cmp(&b.obj))
            } else if by {
                match (&a.cmp, &b.cmp) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => x.cmp(y),
                }
            } else {
                a.obj.cmp(&b.obj)
            };
            if desc {
                ord.reverse()
            } else {
                ord
            }
        });
    }
    if bad_score {
        return Err(SCORE_ERROR);
    }
    let window: Vec<Item> = if end >= start {
        items
            .into_iter()
            .skip(start as usize)
            .take((end - start + 1) as usize)
            .collect()
    } else {
        Vec::new()
    };
    // Output: the elements, or per element one value per GET pattern.
    let mut out: Vec<Option<Vec<u8>>> = Vec::new();
    for it in &window {
        if o.gets.is_empty() {
            out.push(Some(it.obj.clone()));
        }
        for g in &o.gets {
            out.push(lookup_pattern(c, g, &it.obj)?);
        }
    }
    match o.store {
        None => {
            c.reply.array(out.len());
            for v in &out {
                match v {
                    Some(b) => c.reply.bulk(b),
                    None => c.reply.null(),
                }
            }
        }
        Some(dst) => {
            let n = out.len();
            let limits = c.limits();
            if n > 0 {
                let items: Vec<Vec<u8>> = out.into_iter().map(Option::unwrap_or_default).collect();
                let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
                let list =
                    ferrokv_engine::list::List::from_items(&refs, limits.list_max_listpack_size);
                let shard = c.shard(dst)?;
                let replaced = crate::cmd::coll::store(shard, dst, Value::List(list), &clock);
                c.modified(dst);
                if !replaced {
                    c.notify(crate::notify::NEW, "new", dst);
                }
                c.notify(crate::notify::LIST, "sortstore", dst);
                c.key_ready(dst);
                c.dirty(n as u64);
            } else {
                let now = c.now_ms();
                let removed = c.shard(dst)?.remove(dst, now);
                if let Some(old) = removed {
                    crate::lazyfree::release(old, true);
                    c.modified(dst);
                    c.notify(crate::notify::GENERIC, "del", dst);
                    c.dirty(1);
                }
            }
            c.reply.int(n as i64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::weight;

    #[test]
    fn weights_are_read_like_strtod_over_the_whole_text() {
        assert_eq!(weight(b""), Some(0.0));
        assert_eq!(weight(b"  2.5"), Some(2.5));
        assert_eq!(weight(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(weight(b"1e3"), Some(1000.0));
        assert_eq!(weight(b"3 "), None);
        assert_eq!(weight(b"abc"), None);
        assert_eq!(weight(b"nan"), None);
    }
}
