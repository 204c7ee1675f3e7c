//! DEBUG: introspection and test helpers, guarded by `enable-debug-command`.
//!
//! `no` (the default) refuses every DEBUG call, `local` allows it from loopback clients only,
//! `yes` allows it from anywhere. The lock plan depends on the subcommand ([`debug_plan`]):
//! POPULATE holds the current database, DIGEST every database, OBJECT / DIGEST-VALUE the shards
//! of their keys, the rest nothing.
//!
//! DEBUG SLEEP blocks the calling connection's worker thread (not the whole server, unlike Redis:
//! other clients keep being served by the other workers).

use crate::args;
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdError, CmdResult};
use crate::keyspace::{shard_of, LockPlan};
use crate::sha1::Sha1;
use crate::{cmd_err, log_notice, log_warning};
use bytes::Bytes;
use ferrokv_engine::{Entry, Kind, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// `DEBUG QUICKLIST-PACKED-THRESHOLD`: elements at least this big go into plain list nodes.
pub static QUICKLIST_PACKED_THRESHOLD: AtomicU64 = AtomicU64::new(1 << 30);
/// `DEBUG REPLYBUFFER RESIZING`: whether the reply buffer resize job runs.
pub static REPLY_BUFFER_RESIZING: AtomicBool = AtomicBool::new(true);
/// `DEBUG REPLYBUFFER PEAK-RESET-TIME` in ms (-1: never).
pub static REPLY_BUFFER_PEAK_RESET_MS: AtomicU64 = AtomicU64::new(5000);

/// Binds the group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("debug", debug, Locking::Custom(debug_plan));
}

/// The shards a DEBUG call needs, by subcommand.
pub fn debug_plan(argv: &[Bytes], db: u32) -> LockPlan {
    let sub = argv.get(1).map(|b| &b[..]).unwrap_or(b"");
    if args::is(sub, "POPULATE") {
        LockPlan::Db(db)
    } else if args::is(sub, "DIGEST") {
        LockPlan::All
    } else if args::is(sub, "OBJECT") || args::is(sub, "DIGEST-VALUE") {
        LockPlan::Shards(
            argv.iter()
                .skip(2)
                .map(|k| (db, shard_of(k) as u32))
                .collect(),
        )
        .normalise()
    } else {
        LockPlan::None
    }
}

fn allowed(c: &Ctx) -> bool {
    let mode = c
        .srv
        .config
        .read()
        .enable_debug_command()
        .to_ascii_lowercase();
    match mode.as_str() {
        "yes" => true,
        "local" => c.client.handle.addr.ip().is_loopback(),
        _ => false,
    }
}

fn debug(c: &mut Ctx) -> CmdResult {
    if !allowed(c) {
        return Err(errors::DEBUG_DISABLED);
    }
    let sub = c.arg(1);
    let argc = c.argv.len();
    let is = |name: &str| args::is(sub, name);
    if is("HELP") && argc == 2 {
        help(c)
    } else if is("SLEEP") && argc == 3 {
        let secs = strtod_prefix(c.arg(2));
        if secs > 0.0 && secs.is_finite() {
            let d = Duration::from_secs_f64(secs.min(1e9));
            // Tell the runtime this worker is about to block, so the other connections it was
            // serving move to another worker meanwhile.
            match tokio::runtime::Handle::try_current() {
                Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                    tokio::task::block_in_place(|| std::thread::sleep(d));
                }
                _ => std::thread::sleep(d),
            }
        }
        c.reply.ok();
        Ok(())
    } else if is("SET-ACTIVE-EXPIRE") && argc == 3 {
        c.srv.hot.active_expire.store(atoi(c.arg(2)) != 0, Relaxed);
        c.reply.ok();
        Ok(())
    } else if is("PAUSE-CRON") && argc == 3 {
        c.srv.hot.pause_cron.store(atoi(c.arg(2)) != 0, Relaxed);
        c.reply.ok();
        Ok(())
    } else if is("OBJECT") && argc == 3 {
        object(c)
    } else if is("DIGEST") && argc == 2 {
        digest(c)
    } else if is("DIGEST-VALUE") && argc >= 2 {
        digest_value(c)
    } else if is("POPULATE") && (3..=5).contains(&argc) {
        populate(c)
    } else if is("PROTOCOL") && argc == 3 {
        protocol(c)
    } else if is("REPLYBUFFER") && argc == 4 {
        replybuffer(c)
    } else if is("QUICKLIST-PACKED-THRESHOLD") && argc == 3 {
        match parse_memory(c.arg(2)) {
            Some(sz) if sz <= (1u64 << 32) - (1 << 20) => {
                let sz = if sz == 0 { 1 << 30 } else { sz };
                QUICKLIST_PACKED_THRESHOLD.store(sz, Relaxed);
                c.reply.ok();
                Ok(())
            }
            _ => Err(CmdError::new(
                "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
            )),
        }
    } else if is("CHANGE-REPL-ID") && argc == 2 {
        log_warning!("Changing replication IDs after receiving DEBUG change-repl-id");
        c.reply.ok();
        Ok(())
    } else if (is("STRINGMATCH-LEN") || is("STRINGMATCH-TEST")) && argc == 2 {
        stringmatch_fuzz(c.client.next_rand64());
        c.reply
            .simple(b"Apparently the server did not crash: test passed");
        Ok(())
    } else if is("LOG") && argc == 3 {
        log_warning!("DEBUG LOG: {}", args::text(c.arg(2)));
        c.reply.ok();
        Ok(())
    } else if is("ERROR") && argc == 3 {
        Err(CmdError::from(args::text(c.arg(2))))
    } else if is("SET-SKIP-CHECKSUM-VALIDATION") && argc == 3 {
        c.reply.ok();
        Ok(())
    } else if is("RELOAD") {
        debug_reload(c)
    } else if is("LOADAOF") {
        Err(cmd_err!(
            "ERR DEBUG {} is not supported: this server has no persistence yet",
            args::text(sub).to_ascii_uppercase()
        ))
    } else {
        Err(errors::bad_subcommand_args(sub, "DEBUG"))
    }
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save the dataset, empty it and load the file back.
fn debug_reload(c: &mut Ctx) -> CmdResult {
    let (mut flush, mut save) = (true, true);
    for a in c.argv.iter().skip(2) {
        if args::is(a, "MERGE") {
            // duplicate keys are refused by the loader in every mode
        } else if args::is(a, "NOFLUSH") {
            flush = false;
        } else if args::is(a, "NOSAVE") {
            save = false;
        } else {
            return Err(CmdError::new(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    let srv = c.srv;
    if save {
        crate::persist::snapshot::wait_background(srv);
        if crate::persist::snapshot::save_now(srv).is_err() {
            return Err(CmdError::new("ERR Error trying to save the DB"));
        }
    }
    if flush {
        let mut locks = srv.keyspace.lock(&LockPlan::All);
        for db in 0..srv.keyspace.db_count() as u32 {
            crate::watch::touch_all_in_db(&mut locks, &srv.watches, db, None);
        }
        let tables: Vec<_> = locks.all_held().map(|(_, s)| s.take_table()).collect();
        drop(locks);
        drop(tables);
        crate::disk::delete_all(srv).map_err(CmdError::from)?;
    }
    let path = crate::persist::rdb_path(srv);
    match crate::persist::load::load_file(srv, &path)
        .and_then(|l| crate::disk::import_loaded_shards(srv).map(|_| l))
    {
        Ok(_) => {
            // The file's libraries replaced the old ones; the disk store keeps them.
            crate::disk::sysdata::save_functions(srv);
            log_notice!("DB reloaded by DEBUG RELOAD");
            c.reply.ok();
            Ok(())
        }
        Err(e) => {
            log_warning!("{}", e);
            Err(CmdError::new(
                "ERR Error trying to load the RDB dump, check server logs.",
            ))
        }
    }
}

/// C's `atoi`: optional sign and leading digits, 0 when there are none.
fn atoi(s: &[u8]) -> i64 {
    let (neg, rest) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for &ch in rest.iter().take_while(|ch| ch.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add(i64::from(ch - b'0'));
    }
    if neg {
        -v
    } else {
        v
    }
}

/// C's `strtod` without an end pointer: the longest numeric prefix, 0 when there is none.
fn strtod_prefix(s: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(s);
    let t = text.trim_start();
    let mut best = 0.0;
    for end in (1..=t.len().min(64)).rev() {
        if let Some(Ok(v)) = t.get(..end).map(str::parse::<f64>) {
            best = v;
            break;
        }
    }
    best
}

/// Redis's `memtoull`: a number with an optional b/k/kb/m/mb/g/gb unit (case-insensitive).
fn parse_memory(s: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(s).ok()?.to_ascii_lowercase();
    let split = text
        .find(|ch: char| !ch.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

/// Redis's LRU clock: unix seconds on 24 bits.
const LRU_CLOCK_MAX: i64 = (1 << 24) - 1;

/// Length of the RDB length prefix for `n`.
fn rdb_len_len(n: usize) -> usize {
    if n < 1 << 6 {
        1
    } else if n < 1 << 14 {
        2
    } else if n <= u32::MAX as usize {
        5
    } else {
        9
    }
}

/// Size of a string value in an RDB file (without LZF compression, which ferrokv does not
/// estimate: long compressible strings report their plain size).
fn serialized_len(value: &[u8]) -> usize {
    if value.len() <= 11 {
        if let Some(v) = args::parse_i64_strict(value) {
            if i8::try_from(v).is_ok() {
                return 2;
            }
            if i16::try_from(v).is_ok() {
                return 3;
            }
            if i32::try_from(v).is_ok() {
                return 5;
            }
        }
    }
    rdb_len_len(value.len()) + value.len()
}

fn object(c: &mut Ctx) -> CmdResult {
    let key = c.arg(2);
    let mut clock = c.clock;
    clock.touch = false;
    let (shared_ok, lfu) = {
        let cfg = c.srv.config.read();
        let policy = cfg.maxmemory_policy().to_ascii_lowercase();
        let lru_lfu = policy.contains("lru") || policy.contains("lfu");
        (cfg.maxmemory() == 0 || !lru_lfu, policy.contains("lfu"))
    };
    let now_ms = c.now_ms();
    let shard = c.shard(key)?;
    let Some(e) = shard.get(key, &clock) else {
        return Err(errors::NO_SUCH_KEY);
    };
    let value = e.str_value();
    let shared = shared_ok
        && e.kind() == Kind::StrInt
        && matches!(args::parse_i64_strict(value), Some(0..=9999));
    let refcount: i64 = if shared { i32::MAX as i64 } else { 1 };
    let lru = i64::from(e.access()) & LRU_CLOCK_MAX;
    let idle = if lfu {
        0
    } else {
        let now = (now_ms / 1000) & LRU_CLOCK_MAX;
        if now >= lru {
            now - lru
        } else {
            now + (LRU_CLOCK_MAX - lru)
        }
    };
    let line = format!(
        "Value at:{:#x} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        e.key().as_ptr() as usize,
        refcount,
        e.encoding_name(),
        serialized_len(value),
        lru,
        idle
    );
    c.reply.simple(line.as_bytes());
    Ok(())
}

/// The digest of one value (type and content; the key and expiry are mixed in by the caller).
/// Ordered types (strings, lists, sorted sets) hash their elements in order; hashes and sets
/// hash a sorted copy, so the digest does not depend on the encoding or insertion history
/// (like Redis's, it only says whether two datasets hold the same data). Hash fields that have
/// expired at `now_ms` are left out; field TTLs are part of the digest.
fn value_digest(e: &Entry, now_ms: i64) -> [u8; 20] {
    fn item(h: &mut Sha1, b: &[u8]) {
        h.update(&(b.len() as u64).to_le_bytes());
        h.update(b);
    }
    let mut h = Sha1::new();
    h.update(e.kind().type_name().as_bytes());
    h.update(&[0]);
    match e.value() {
        None => h.update(e.str_value()),
        Some(Value::List(l)) => {
            for el in l.iter() {
                item(&mut h, el);
            }
        }
        Some(Value::Set(set)) => {
            let mut members = set.members();
            members.sort_unstable();
            for m in &members {
                item(&mut h, m);
            }
        }
        Some(Value::ZSet(z)) => z.for_each(|m, score| {
            item(&mut h, m);
            h.update(&score.to_bits().to_le_bytes());
        }),
        Some(Value::Hash(hash)) => {
            let mut fields: Vec<(Vec<u8>, Vec<u8>, Option<i64>)> = Vec::with_capacity(hash.len());
            hash.for_each(now_ms, |f, v, ttl| {
                fields.push((f.to_vec(), v.to_vec(), ttl))
            });
            fields.sort_unstable();
            for (f, v, ttl) in &fields {
                item(&mut h, f);
                item(&mut h, v);
                h.update(&ttl.unwrap_or(-1).to_le_bytes());
            }
        }
    }
    h.finish()
}

fn hex(d: &[u8; 20]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(c: &mut Ctx) -> CmdResult {
    let now = c.now_ms();
    let mut acc = [0u8; 20];
    for ((db, _), shard) in c.locks.all_held() {
        for e in shard.live_entries(now) {
            let mut h = Sha1::new();
            h.update(&db.to_le_bytes());
            h.update(&(e.key().len() as u64).to_le_bytes());
            h.update(e.key());
            h.update(&value_digest(e, now));
            if let Some(at) = e.expire_at() {
                h.update(&at.to_le_bytes());
            }
            for (a, b) in acc.iter_mut().zip(h.finish()) {
                *a ^= b;
            }
        }
    }
    c.reply.simple(hex(&acc).as_bytes());
    Ok(())
}

fn digest_value(c: &mut Ctx) -> CmdResult {
    let mut clock = c.clock;
    clock.touch = false;
    let mut out = Vec::with_capacity(c.argv.len().saturating_sub(2));
    for i in 2..c.argv.len() {
        let key = c.arg(i);
        let now = clock.ms;
        let d = match c.shard(key)?.get(key, &clock) {
            Some(e) => value_digest(e, now),
            None => [0u8; 20],
        };
        out.push(hex(&d));
    }
    c.reply.array(out.len());
    for d in &out {
        c.reply.simple(d.as_bytes());
    }
    Ok(())
}

fn populate(c: &mut Ctx) -> CmdResult {
    let count = match args::parse_i64_strict(c.arg(2)) {
        Some(n) if n >= 0 => n as u64,
        _ => return Err(errors::NOT_POSITIVE),
    };
    let prefix = if c.argv.len() >= 4 {
        c.arg(3).to_vec()
    } else {
        b"key".to_vec()
    };
    let size = if c.argv.len() == 5 {
        match args::parse_i64_strict(c.arg(4)) {
            Some(n) if n >= 0 => n as usize,
            _ => return Err(errors::NOT_POSITIVE),
        }
    } else {
        0
    };
    let db = c.db();
    let clock = c.clock;
    let mut key = Vec::with_capacity(prefix.len() + 21);
    let mut val = Vec::new();
    for j in 0..count {
        key.clear();
        key.extend_from_slice(&prefix);
        key.push(b':');
        key.extend_from_slice(itoa::Buffer::new().format(j).as_bytes());
        let shard = c
            .locks
            .shard(db, shard_of(&key) as u32)
            .ok_or(CmdError::new("ERR internal error: shard not locked"))?;
        if shard.contains(&key, clock.ms) {
            continue;
        }
        val.clear();
        val.extend_from_slice(b"value:");
        val.extend_from_slice(itoa::Buffer::new().format(j).as_bytes());
        if size > 0 {
            val.resize(size, 0);
        }
        // "value:<n>", whole or cut, never reads as an integer: embstr or raw as in Redis.
        let access = shard.new_access(&clock);
        shard.insert(Entry::new_string(&key, &val, None, access), clock.ms);
    }
    c.reply.ok();
    Ok(())
}

fn protocol(c: &mut Ctx) -> CmdResult {
    let t = args::text(c.arg(2)).to_ascii_lowercase();
    let resp3 = c.reply.proto() == ferrokv_resp::Protocol::Resp3;
    let r = &mut *c.reply;
    match t.as_str() {
        "string" => r.bulk(b"Hello World"),
        "integer" => r.int(12345),
        // Redis's fixed sample value (not meant as pi).
        #[allow(clippy::approx_constant)]
        "double" => r.double(3.141),
        "bignum" => r.big_number(b"1234567999999999999999999999999999999"),
        "null" => r.null(),
        "array" => {
            r.array(3);
            for i in 0..3 {
                r.int(i);
            }
        }
        "set" => {
            r.set(3);
            for i in 0..3 {
                r.int(i);
            }
        }
        "map" => {
            r.map(3);
            for i in 0..3 {
                r.int(i);
                r.boolean(i == 1);
            }
        }
        "attrib" => {
            if resp3 {
                // RESP3 attribute: `|1` then a key-popularity map, then the real reply.
                r.raw(b"|1\r\n");
                r.bulk(b"key-popularity");
                r.array(2);
                r.bulk(b"key:123");
                r.int(90);
            }
            r.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if !resp3 {
                return Err(errors::RESP2_UNSUPPORTED);
            }
            r.push(2);
            r.bulk(b"server-cpu-usage");
            r.int(42);
            r.bulk(b"Some real reply following the push reply");
        }
        "true" => r.boolean(true),
        "false" => r.boolean(false),
        "verbatim" => r.verbatim(b"txt", b"This is a verbatim\nstring"),
        _ => return Err(CmdError::new(
            "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
        )),
    }
    Ok(())
}

fn replybuffer(c: &mut Ctx) -> CmdResult {
    let what = c.arg(2);
    let v = c.arg(3);
    if args::is(what, "PEAK-RESET-TIME") {
        let ms = if args::is(v, "NEVER") {
            u64::MAX
        } else if args::is(v, "RESET") {
            5000
        } else {
            args::int(v)? as u64
        };
        REPLY_BUFFER_PEAK_RESET_MS.store(ms, Relaxed);
    } else if args::is(what, "RESIZING") {
        REPLY_BUFFER_RESIZING.store(atoi(v) != 0, Relaxed);
    } else {
        return Err(errors::bad_subcommand_args(c.arg(1), "DEBUG"));
    }
    c.reply.ok();
    Ok(())
}

/// Matches random patterns against random strings to shake out crashes or hangs in the glob
/// matcher (DEBUG STRINGMATCH-LEN).
fn stringmatch_fuzz(mut seed: u64) {
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    const ALPHABET: &[u8] = b"ab*?[]^-\\";
    for _ in 0..10_000 {
        let plen = (next() % 32) as usize;
        let slen = (next() % 32) as usize;
        let pat: Vec<u8> = (0..plen)
            .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
            .collect();
        let s: Vec<u8> = (0..slen).map(|_| ALPHABET[(next() % 3) as usize]).collect();
        let nocase = next() % 2 == 0;
        let _ = crate::glob::glob_match(&pat, &s, nocase);
    }
}

fn help(c: &mut Ctx) -> CmdResult {
    crate::cmd::help_reply(
        c.reply,
        "DEBUG",
        &[
            "CHANGE-REPL-ID",
            "    Give the instance new replication IDs.",
            "DIGEST",
            "    40 hex characters summarising the whole dataset (all zeros when it is empty).",
            "DIGEST-VALUE <key> [<key> ...]",
            "    A digest of each key's value (all zeros for a missing key).",
            "ERROR <string>",
            "    Reply with <string> as an error.",
            "LOG <message>",
            "    Write <message> to the server log.",
            "OBJECT <key>",
            "    Internal details of the value stored at <key>.",
            "PAUSE-CRON <0|1>",
            "    Stop or resume the periodic background task.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys <prefix>:<num> (prefix 'key' by default) holding",
            "    value:<num>, padded or cut to <size> bytes when given. Existing keys are kept.",
            "PROTOCOL <type>",
            "    Reply with a sample value of <type>: string, integer, double, bignum, null,",
            "    array, set, map, attrib, push, verbatim, true or false.",
            "QUICKLIST-PACKED-THRESHOLD <size>",
            "    Size from which list elements are stored in plain nodes (0: default, 1GB).",
            "REPLYBUFFER PEAK-RESET-TIME <NEVER|RESET|time>",
            "    Interval in milliseconds between reply buffer peak resets.",
            "REPLYBUFFER RESIZING <0|1>",
            "    Enable or disable reply buffer resizing.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Disable (0) or enable (1) the background expiry of keys.",
            "SLEEP <seconds>",
            "    Block the calling connection for <seconds> (decimals allowed).",
            "STRINGMATCH-LEN",
            "    Run a fuzz test of the glob-style pattern matcher.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha1_hex(s: &[u8]) -> String {
        let mut h = Sha1::new();
        h.update(s);
        hex(&h.finish())
    }

    #[test]
    fn sha1_known_vectors() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            sha1_hex(&[b'a'; 1000]),
            "291e9a6c66994949b57ba5e650361e98fc36b1ba"
        );
    }

    #[test]
    fn c_style_number_parsing() {
        assert_eq!(atoi(b"12abc"), 12);
        assert_eq!(atoi(b"abc"), 0);
        assert_eq!(atoi(b"-3"), -3);
        assert_eq!(strtod_prefix(b"0.1x"), 0.1);
        assert_eq!(strtod_prefix(b"abc"), 0.0);
        assert_eq!(parse_memory(b"1k"), Some(1000));
        assert_eq!(parse_memory(b"2gb"), Some(2 << 30));
        assert_eq!(parse_memory(b"1x"), None);
    }

    #[test]
    fn rdb_string_sizes() {
        assert_eq!(serialized_len(b"1"), 2);
        assert_eq!(serialized_len(b"100000"), 5);
        assert_eq!(serialized_len(b"-5"), 2);
        assert_eq!(serialized_len(b"12345678901"), 12);
        assert_eq!(serialized_len(b"hello"), 6);
    }
}
