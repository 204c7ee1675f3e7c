//! Key extraction from a request's argv, driven by key specs (Redis 7's getKeysUsingKeySpecs)
//! with the special procedures Redis keeps for commands whose specs cannot say everything, and
//! the legacy (first, last, step) triple of COMMAND INFO.

use super::{ksflags, BeginSearch, CommandSpec, FindKeys, GetKeysProc, KeySpec};

/// Error of COMMAND GETKEYS when the command (or subcommand) does not exist.
pub const ERR_UNKNOWN_COMMAND: &str = "ERR Invalid command specified";
/// Error of COMMAND GETKEYS for a command with no key arguments at all.
pub const ERR_NO_KEYS: &str = "ERR The command has no key arguments";
/// Error of COMMAND GETKEYS when argc does not satisfy the command's arity.
pub const ERR_ARITY: &str = "ERR Invalid number of arguments specified for command";
/// Error of COMMAND GETKEYS when the arguments do not yield the keys the command needs.
pub const ERR_INVALID: &str = "ERR Invalid arguments specified for command";

/// Key positions of a request, with COMMAND GETKEYS semantics.
///
/// `argv[0]` is the command name; for a subcommand the caller passes the whole argv (parent,
/// subcommand, ...). Returns (argv index, [`ksflags`] bits) pairs in Redis's order, or the exact
/// error text COMMAND GETKEYS replies: no key arguments, wrong arity, or keys not found (an empty
/// list is fine for `NO_MANDATORY_KEYS` commands).
pub fn get_keys(spec: &CommandSpec, argv: &[&[u8]]) -> Result<Vec<(usize, u32)>, &'static str> {
    if !super::has_keys(spec) {
        return Err(ERR_NO_KEYS);
    }
    if !spec.arity_ok(argv.len()) {
        return Err(ERR_ARITY);
    }
    let keys = keys_for_dispatch(spec, argv);
    if keys.is_empty() && !spec.has(super::flags::NO_MANDATORY_KEYS) {
        return Err(ERR_INVALID);
    }
    Ok(keys)
}

/// Key positions for dispatch (shard locking, ACL key checks, cluster routing), never failing:
/// Redis's getKeysFromCommandWithSpecs. Key specs are preferred when they exist and have
/// reliable flags; if they fail (unknown / incomplete / out of range), the command's getkeys
/// procedure decides; malformed requests yield whatever was found (often nothing), leaving the
/// command itself to report the syntax error. `NOT_KEY` specs (shard channels) are skipped.
pub fn keys_for_dispatch(spec: &CommandSpec, argv: &[&[u8]]) -> Vec<(usize, u32)> {
    let mut out = Vec::new();
    keys_for_dispatch_into(spec, argv, &mut out);
    out
}

/// [`keys_for_dispatch`] into a caller-owned buffer (cleared first), so a connection can reuse
/// one allocation for every request.
pub fn keys_for_dispatch_into(spec: &CommandSpec, argv: &[&[u8]], out: &mut Vec<(usize, u32)>) {
    out.clear();
    let has_keyspec = spec
        .key_specs
        .iter()
        .any(|k| k.flags & ksflags::NOT_KEY == 0);
    let has_varflags = spec
        .key_specs
        .iter()
        .any(|k| k.flags & ksflags::VARIABLE_FLAGS != 0);
    if has_keyspec && !has_varflags {
        if keys_from_specs_into(spec, argv, false, out) {
            return;
        }
        out.clear();
    }
    out.extend(getkeys_proc(spec.getkeys, argv));
}

/// Positions of the "not really keys" of a request: the shard channels of SPUBLISH, SSUBSCRIBE
/// and SUNSUBSCRIBE, which cluster mode routes by their hash slot like keys. Empty for other
/// commands or when the arguments do not fit the specs.
pub fn not_key_positions(spec: &CommandSpec, argv: &[&[u8]]) -> Vec<usize> {
    if !spec
        .key_specs
        .iter()
        .any(|k| k.flags & ksflags::NOT_KEY != 0)
    {
        return Vec::new();
    }
    let mut all = Vec::new();
    if !keys_from_specs_into(spec, argv, true, &mut all) {
        return Vec::new();
    }
    all.into_iter()
        .filter(|(_, f)| f & ksflags::NOT_KEY != 0)
        .map(|(p, _)| p)
        .collect()
}

/// getKeysUsingKeySpecs into `out`: false when a spec is unknown, incomplete or does not fit
/// argv (then `out` holds partial results the caller must discard).
fn keys_from_specs_into(
    spec: &CommandSpec,
    argv: &[&[u8]],
    include_not_keys: bool,
    out: &mut Vec<(usize, u32)>,
) -> bool {
    match keys_from_specs_filtered(spec, argv, include_not_keys, out) {
        Some(()) => true,
        None => false,
    }
}

fn keys_from_specs_filtered(
    spec: &CommandSpec,
    argv: &[&[u8]],
    include_not_keys: bool,
    out: &mut Vec<(usize, u32)>,
) -> Option<()> {
    let argc = argv.len() as i64;
    for ks in spec.key_specs {
        if ks.flags & ksflags::NOT_KEY != 0 && !include_not_keys {
            continue;
        }
        let mut first: i64 = match ks.begin {
            BeginSearch::Index(pos) => pos as i64,
            BeginSearch::Keyword { keyword, startfrom } => {
                match find_keyword(argv, keyword, startfrom as i64) {
                    Some(i) => i + 1,
                    None => continue,
                }
            }
            BeginSearch::Unknown => return None,
        };
        let (last, step) = match ks.find {
            FindKeys::Range {
                lastkey,
                step,
                limit,
            } => {
                let lastkey = lastkey as i64;
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit as i64 + lastkey)
                };
                (last, step as i64)
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                step,
            } => {
                let idx = first + keynumidx as i64;
                if idx >= argc || idx < 0 {
                    return None;
                }
                let numkeys =
                    crate::args::parse_i64_strict(argv[idx as usize]).filter(|n| *n >= 0)?;
                first += firstkey as i64;
                // Saturating: a huge numkeys (LMPOP 9223372036854775807 ...) is simply out of range.
                (first.saturating_add(numkeys - 1), step as i64)
            }
            FindKeys::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc || step <= 0 {
            return None;
        }
        let mut i = first;
        while i <= last {
            out.push((i as usize, ks.flags));
            i += step;
        }
        if ks.flags & ksflags::INCOMPLETE != 0 {
            return None;
        }
    }
    Some(())
}

/// Index of `keyword` (case-insensitive) scanning from `startfrom` forwards to the end, or for a
/// negative `startfrom` from `argc + startfrom` backwards down to index 2 (index 1 is never
/// checked in that direction, as in Redis).
fn find_keyword(argv: &[&[u8]], keyword: &str, startfrom: i64) -> Option<i64> {
    let argc = argv.len() as i64;
    let (start, end) = if startfrom > 0 {
        (startfrom, argc - 1)
    } else {
        (argc + startfrom, 1)
    };
    let mut i = start;
    while i != end {
        if i >= argc || i < 1 {
            break;
        }
        if argv[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
            return Some(i);
        }
        i = if start <= end { i + 1 } else { i - 1 };
    }
    None
}

/// C's atoi: leading whitespace, optional sign, then digits until the first non-digit; 0 if none.
fn atoi(s: &[u8]) -> i64 {
    let mut i = 0;
    while i < s.len() && (s[i] == b' ' || (b'\t'..=b'\r').contains(&s[i])) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'-' || s[i] == b'+') {
        neg = s[i] == b'-';
        i += 1;
    }
    let mut n: i64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        n = n.saturating_mul(10).saturating_add((s[i] - b'0') as i64);
        i += 1;
    }
    let n = if neg { -n } else { n };
    // atoi returns an int: keep the truncation so huge values behave like Redis.
    n as i32 as i64
}

fn getkeys_proc(proc_: GetKeysProc, argv: &[&[u8]]) -> Vec<(usize, u32)> {
    use GetKeysProc as P;
    match proc_ {
        P::None => Vec::new(),
        P::Eval | P::Function => generic(0, 2, 3, argv),
        P::Lmpop | P::Zmpop | P::Sintercard | P::ZunionInterDiff => generic(0, 1, 2, argv),
        P::Blmpop | P::Bzmpop => generic(0, 2, 3, argv),
        P::ZunionInterDiffStore => generic(1, 2, 3, argv),
        P::Sort => sort_keys(argv),
        P::SortRo => vec![(1, ksflags::RO | ksflags::ACCESS)],
        P::Migrate => migrate_keys(argv),
        P::Georadius => georadius_keys(argv),
        P::Xread => xread_keys(argv),
        P::Set => set_keys(argv),
        P::Bitfield => bitfield_keys(argv),
    }
}

/// genericGetKeys: `numkeys` at `count_ofs` (atoi), keys from `first_ofs`, optional
/// destination at `store_ofs` (reported last).
fn generic(
    store_ofs: usize,
    count_ofs: usize,
    first_ofs: usize,
    argv: &[&[u8]],
) -> Vec<(usize, u32)> {
    let Some(raw) = argv.get(count_ofs) else {
        return Vec::new();
    };
    let num = atoi(raw);
    let avail = argv.len() as i64 - first_ofs as i64;
    if num < 1 || num > avail {
        return Vec::new();
    }
    let mut out: Vec<(usize, u32)> = (0..num as usize).map(|i| (first_ofs + i, 0)).collect();
    if store_ofs != 0 {
        out.push((store_ofs, 0));
    }
    out
}

fn sort_keys(argv: &[&[u8]]) -> Vec<(usize, u32)> {
    let mut out = vec![(1, ksflags::RO | ksflags::ACCESS)];
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"store") && i + 1 < argv.len() {
            // The last STORE wins, as SORT itself does.
            store = Some(i + 1);
        }
        i += 1;
    }
    if let Some(s) = store {
        out.push((s, ksflags::OW | ksflags::UPDATE));
    }
    out
}

fn migrate_keys(argv: &[&[u8]]) -> Vec<(usize, u32)> {
    let fl = ksflags::RW | ksflags::ACCESS | ksflags::DELETE;
    let mut first = 3;
    let mut num = 1;
    if argv.len() > 6 {
        let mut i = 6;
        while i < argv.len() {
            let a = argv[i];
            if a.eq_ignore_ascii_case(b"keys") {
                if argv.get(3).is_some_and(|k| !k.is_empty()) {
                    return Vec::new();
                }
                first = i + 1;
                num = argv.len() - first;
                break;
            } else if a.eq_ignore_ascii_case(b"auth") {
                i += 1;
            } else if a.eq_ignore_ascii_case(b"auth2") {
                i += 2;
            }
            i += 1;
        }
    }
    if first + num > argv.len() {
        return Vec::new();
    }
    (first..first + num).map(|p| (p, fl)).collect()
}

fn georadius_keys(argv: &[&[u8]]) -> Vec<(usize, u32)> {
    let mut stored = None;
    let mut i = 5;
    while i < argv.len() {
        let a = argv[i];
        if (a.eq_ignore_ascii_case(b"store") || a.eq_ignore_ascii_case(b"storedist"))
            && i + 1 < argv.len()
        {
            stored = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    let mut out = vec![(1, ksflags::RO | ksflags::ACCESS)];
    if let Some(s) = stored {
        out.push((s, ksflags::OW | ksflags::UPDATE));
    }
    out
}

fn xread_keys(argv: &[&[u8]]) -> Vec<(usize, u32)> {
    let mut streams_pos = None;
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i];
        if a.eq_ignore_ascii_case(b"block") || a.eq_ignore_ascii_case(b"count") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"group") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"noack") {
        } else if a.eq_ignore_ascii_case(b"streams") {
            streams_pos = Some(i);
            break;
        } else {
            break;
        }
        i += 1;
    }
    let Some(sp) = streams_pos else {
        return Vec::new();
    };
    let num = argv.len() - sp - 1;
    if num == 0 || !num.is_multiple_of(2) {
        return Vec::new();
    }
    (sp + 1..sp + 1 + num / 2).map(|p| (p, 0)).collect()
}

fn set_keys(argv: &[&[u8]]) -> Vec<(usize, u32)> {
    let get = argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
    let fl = if get {
        ksflags::RW | ksflags::ACCESS | ksflags::UPDATE
    } else {
        ksflags::OW | ksflags::UPDATE
    };
    vec![(1, fl)]
}

fn bitfield_keys(argv: &[&[u8]]) -> Vec<(usize, u32)> {
    let mut readonly = true;
    let mut i = 2;
    while i < argv.len() {
        let remargs = argv.len() - i - 1;
        let a = argv[i];
        if a.eq_ignore_ascii_case(b"get") && remargs >= 2 {
            i += 2;
        } else if (a.eq_ignore_ascii_case(b"set") || a.eq_ignore_ascii_case(b"incrby"))
            && remargs >= 3
        {
            readonly = false;
            break;
        } else if a.eq_ignore_ascii_case(b"overflow") && remargs >= 1 {
            i += 1;
        } else {
            // Syntax error: assume the worst (a write).
            readonly = false;
            break;
        }
        i += 1;
    }
    let fl = if readonly {
        ksflags::RO | ksflags::ACCESS
    } else {
        ksflags::RW | ksflags::ACCESS | ksflags::UPDATE
    };
    vec![(1, fl)]
}

fn is_plain_range(k: &KeySpec) -> Option<(i32, i32, i32)> {
    match (k.begin, k.find) {
        (BeginSearch::Index(pos), FindKeys::Range { lastkey, step, .. }) => {
            Some((pos, lastkey, step))
        }
        _ => None,
    }
}

/// Redis's populateCommandLegacyRangeSpec: the (begin index, lastkey relative or negative,
/// movable) that summarise the key specs as one range.
fn legacy(spec: &CommandSpec) -> (Option<(i32, i32, i32)>, bool) {
    let specs = spec.key_specs;
    if specs.is_empty() {
        return (None, false);
    }
    if specs.len() == 1 {
        if let Some((pos, lastkey, step)) = is_plain_range(&specs[0]) {
            return (
                Some((pos, lastkey, step)),
                specs[0].flags & ksflags::INCOMPLETE != 0,
            );
        }
    }
    let mut movable = false;
    let mut firstkey = i32::MAX;
    let mut lastkey: i32 = 0;
    let mut prev_lastkey: i32 = 0;
    for k in specs {
        let Some((pos, lk, step)) = is_plain_range(k) else {
            movable = true;
            continue;
        };
        if step != 1 || (prev_lastkey != 0 && prev_lastkey != pos - 1) {
            movable = true;
            continue;
        }
        if k.flags & ksflags::INCOMPLETE != 0 {
            movable = true;
        }
        firstkey = firstkey.min(pos);
        let abs = if lk >= 0 { lk + pos } else { lk };
        // Unsigned comparison, so a negative (open-ended) lastkey wins.
        lastkey = (lastkey as u32).max(abs as u32) as i32;
        prev_lastkey = lastkey;
    }
    if firstkey == i32::MAX {
        return (None, true);
    }
    let rel = if lastkey < 0 {
        lastkey
    } else {
        lastkey - firstkey
    };
    (Some((firstkey, rel, 1)), movable)
}

/// Whether building the legacy range had to give up on some key spec (sets movablekeys).
pub(super) fn legacy_range_movable(spec: &CommandSpec) -> bool {
    legacy(spec).1
}

/// The legacy (first key, last key, step) of COMMAND INFO, derived from the key specs as Redis
/// does: (0, 0, 0) without a usable range; `last` is absolute, or negative counting from the end.
pub fn legacy_range(spec: &CommandSpec) -> (i64, i64, i64) {
    match legacy(spec).0 {
        None => (0, 0, 0),
        Some((pos, lastkey, step)) => {
            let first = pos as i64;
            let last = if lastkey >= 0 {
                lastkey as i64 + first
            } else {
                lastkey as i64
            };
            (first, last, step as i64)
        }
    }
}
