//! Differential tests of the disk engine's native element paths (`disk/native.rs`) and stand-ins
//! (metadata-only commands and expired keys on field-level collections) against redis-server.
//!
//! Big collections (more elements than `NATIVE_MIN_LEN`, 1024) of every type are built on both
//! servers, then every native command is compared byte for byte, in RESP2 and RESP3: replies,
//! errors (WRONGTYPE, bad arguments, out of range), missing fields and keys, an expired big key,
//! the keyspace events a subscriber receives, a WATCH aborted by a native write, and BLPOP /
//! MULTI / scripts mixing native and loaded commands on the same key. ferrokv always runs on
//! the disk engine here, whatever `FERROKV_TEST_ENGINE` says.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{encode_command, escape, Conn, Diff, Value};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

/// Elements of each big collection (above the native threshold of 1024).
const N: usize = 3000;

fn diff(resp3: bool) -> Option<Diff> {
    let dbg = ["--enable-debug-command", "yes"];
    let mut d = Diff::with_args(
        BIN,
        &["--storage-engine", "disk", "--enable-debug-command", "yes"],
        &dbg,
    )?;
    if resp3 {
        d.ferrokv().hello3();
        d.redis().hello3();
    }
    d.normalise_doubles(true);
    Some(d)
}

/// Sends `cmds` pipelined and reads every reply (setup only: replies are not compared).
fn pipeline(c: &mut Conn, cmds: &[Vec<String>]) {
    let mut buf = Vec::new();
    for a in cmds {
        let args: Vec<&[u8]> = a.iter().map(|s| s.as_bytes()).collect();
        buf.extend_from_slice(&encode_command(&args));
    }
    c.send_raw(&buf);
    for _ in cmds {
        c.read_reply();
    }
}

/// Builds the hash `h`, sorted set `z`, set `s` and list `l` with `n` elements each.
fn build(c: &mut Conn, n: usize) {
    let mut cmds = Vec::new();
    for chunk in 0..n.div_ceil(500) {
        let r = chunk * 500..((chunk + 1) * 500).min(n);
        let mut h = vec!["HSET".to_string(), "h".into()];
        let mut z = vec!["ZADD".to_string(), "z".into()];
        let mut s = vec!["SADD".to_string(), "s".into()];
        let mut l = vec!["RPUSH".to_string(), "l".into()];
        for i in r {
            h.push(format!("f{i}"));
            h.push(format!("v{i}"));
            z.push(format!("{}", i % 700));
            z.push(format!("m{i}"));
            s.push(format!("m{i}"));
            l.push(format!("e{i}"));
        }
        cmds.extend([h, z, s, l]);
    }
    pipeline(c, &cmds);
}

fn build_both(d: &mut Diff) {
    build(d.ferrokv(), N);
    build(d.redis(), N);
    d.check(&["HLEN", "h"]);
    d.check(&["SET", "str", "x"]);
}

/// Every native command, hits and misses, errors, on big keys of each type.
const CASES: &[&[&str]] = &[
    // hashes
    &["HLEN", "h"],
    &["HGET", "h", "f5"],
    &["HGET", "h", "nope"],
    &["HSET", "h", "f5", "x", "new1", "y"],
    &["HMSET", "h", "new2", "a", "new3", "b"],
    &["HSET", "h", "dup", "1", "dup", "2"],
    &["HGET", "h", "dup"],
    &["HSET", "h", "odd"],
    &["HMGET", "h", "f1", "nope", "new1", "f2"],
    &["HEXISTS", "h", "f3"],
    &["HEXISTS", "h", "nope"],
    &["HSTRLEN", "h", "f3"],
    &["HSTRLEN", "h", "nope"],
    &["HINCRBY", "h", "cnt", "5"],
    &["HINCRBY", "h", "cnt", "-7"],
    &["HINCRBY", "h", "f1", "1"],
    &["HINCRBY", "h", "cnt", "notanint"],
    &["HSET", "h", "big", "9223372036854775807"],
    &["HINCRBY", "h", "big", "1"],
    &["HDEL", "h", "f1", "f1", "nope"],
    &["HDEL", "h", "nope"],
    &["HLEN", "h"],
    // sorted sets
    &["ZCARD", "z"],
    &["ZSCORE", "z", "m5"],
    &["ZSCORE", "z", "nope"],
    &["ZMSCORE", "z", "m5", "nope", "m6"],
    &["ZADD", "z", "5", "m5"],
    &[
        "ZADD", "z", "6", "m5", "7", "m5", "1.5", "new", "-0", "zero",
    ],
    &["ZADD", "z", "0", "zero"],
    &["ZSCORE", "z", "zero"],
    &["ZMSCORE", "z", "zero", "new"],
    &["ZADD", "z", "nx", "1", "m1"],
    &["ZADD", "z", "xx", "ch", "100", "m1"],
    &["ZADD", "z", "notafloat", "m1"],
    &["ZADD", "z", "1"],
    &["ZRANK", "z", "m7"],
    &["ZRANK", "z", "m1"],
    &["ZREVRANK", "z", "m7"],
    &["ZRANK", "z", "nope"],
    &["ZREVRANK", "z", "nope"],
    &["ZINCRBY", "z", "2.5", "m3"],
    &["ZINCRBY", "z", "0", "m3"],
    &["ZINCRBY", "z", "1", "brandnew"],
    &["ZINCRBY", "z", "nan", "m3"],
    &["ZINCRBY", "z", "inf", "m4"],
    &["ZINCRBY", "z", "-inf", "m4"],
    &["ZREM", "z", "m3", "nope", "m3"],
    &["ZREM", "z", "nope"],
    &["ZCARD", "z"],
    &["ZRANK", "z", "m2999"],
    // sorted-set range reads (ranks, REV, BYSCORE with bounds and LIMIT, WITHSCORES, errors)
    &["ZRANGE", "z", "0", "9"],
    &["ZRANGE", "z", "0", "9", "WITHSCORES"],
    &["ZRANGE", "z", "-5", "-1", "WITHSCORES"],
    &["ZRANGE", "z", "2990", "5000"],
    &["ZRANGE", "z", "5000", "6000"],
    &["ZRANGE", "z", "-100000", "2"],
    &["ZRANGE", "z", "5", "2"],
    &["ZRANGE", "z", "2900", "-1", "WITHSCORES"],
    &["ZRANGE", "z", "0", "9", "REV", "WITHSCORES"],
    &["ZRANGE", "z", "-3", "-1", "REV"],
    &["ZREVRANGE", "z", "0", "4", "WITHSCORES"],
    &["ZREVRANGE", "z", "-2", "-1"],
    &["ZREVRANGE", "z", "1", "0"],
    &["ZRANGE", "z", "10", "20", "BYSCORE", "WITHSCORES"],
    &["ZRANGE", "z", "(10", "20", "BYSCORE", "LIMIT", "2", "5"],
    &[
        "ZRANGE",
        "z",
        "20",
        "10",
        "BYSCORE",
        "REV",
        "LIMIT",
        "0",
        "3",
        "WITHSCORES",
    ],
    &[
        "ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "2990", "100",
    ],
    &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "5"],
    &[
        "ZRANGE",
        "z",
        "(698",
        "+inf",
        "BYSCORE",
        "LIMIT",
        "0",
        "-1",
        "WITHSCORES",
    ],
    &["ZRANGEBYSCORE", "z", "5", "(6", "WITHSCORES"],
    &["ZRANGEBYSCORE", "z", "(699", "+inf"],
    &["ZRANGEBYSCORE", "z", "1", "0"],
    &["ZRANGEBYSCORE", "z", "(5", "(5"],
    &["ZRANGEBYSCORE", "z", "-inf", "0", "LIMIT", "1", "2"],
    &["ZRANGEBYSCORE", "z", "-inf", "-1"],
    &["ZRANGEBYSCORE", "z", "nan", "1"],
    &["ZRANGEBYSCORE", "z", "1", "2", "LIMIT", "0"],
    &["ZRANGEBYSCORE", "z", "1", "2", "LIMIT", "x", "1"],
    &[
        "ZREVRANGEBYSCORE",
        "z",
        "20",
        "10",
        "LIMIT",
        "1",
        "3",
        "WITHSCORES",
    ],
    &["ZREVRANGEBYSCORE", "z", "+inf", "(698"],
    &["ZREVRANGEBYSCORE", "z", "10", "20"],
    &["ZRANGE", "z", "0", "9", "LIMIT", "0", "1"],
    &["ZRANGE", "z", "0", "1", "WITHSCORES", "BYLEX"],
    &["ZRANGE", "z", "0", "x"],
    &["ZRANGE", "z", "0", "1", "bogus"],
    // the load path reads the whole set: the `-0` of "zero" must survive it too
    &["ZRANGESTORE", "zdst", "z", "0", "9"],
    &["ZRANGE", "zdst", "0", "-1", "WITHSCORES"],
    // sets
    &["SCARD", "s"],
    &["SADD", "s", "a", "m1", "a"],
    &["SADD", "s", "m1"],
    &["SREM", "s", "m1", "b", "m1"],
    &["SREM", "s", "nope"],
    &["SISMEMBER", "s", "m2"],
    &["SISMEMBER", "s", "m1"],
    &["SMISMEMBER", "s", "m2", "nope", "m1", "m2"],
    &["SCARD", "s"],
    // lists
    &["LLEN", "l"],
    &["LPUSH", "l", "a", "b"],
    &["RPUSH", "l", "c"],
    &["RPOP", "l", "2"],
    &["LPOP", "l"],
    &["RPOP", "l"],
    &["LPOP", "l", "3"],
    &["LPOP", "l", "0"],
    &["LPOP", "l", "-1"],
    &["LPOP", "l", "x"],
    // blocking pops of a list with elements: a pop, never a block
    &["BLPOP", "l", "0"],
    &["BRPOP", "l", "0.5"],
    &["BLPOP", "l", "missing", "0"],
    &["BRPOP", "l", "l", "1"],
    &["BLPOP", "l", "-1"],
    &["BLPOP", "l", "x"],
    &["LINDEX", "l", "-1"],
    &["LINDEX", "l", "0"],
    &["LINDEX", "l", "100000"],
    &["LINDEX", "l", "x"],
    &["LSET", "l", "5", "X"],
    &["LSET", "l", "-1", "Y"],
    &["LSET", "l", "99999", "X"],
    &["LSET", "l", "x", "X"],
    &["LINDEX", "l", "5"],
    &["LINDEX", "l", "-1"],
    &["LLEN", "l"],
    // list range reads
    &["LRANGE", "l", "0", "9"],
    &["LRANGE", "l", "-5", "-1"],
    &["LRANGE", "l", "2990", "4000"],
    &["LRANGE", "l", "5", "2"],
    &["LRANGE", "l", "-100000", "1"],
    &["LRANGE", "l", "100000", "100001"],
    &["LRANGE", "l", "0", "x"],
    // wrong types (each big key against the other families)
    &["HGET", "z", "a"],
    &["HSET", "l", "a", "b"],
    &["HINCRBY", "s", "a", "x"],
    &["HLEN", "z"],
    &["SADD", "h", "a"],
    &["SISMEMBER", "l", "a"],
    &["SCARD", "h"],
    &["ZADD", "h", "1", "a"],
    &["ZADD", "s", "x", "a"],
    &["ZSCORE", "l", "a"],
    &["ZRANK", "s", "a"],
    &["ZINCRBY", "h", "1", "a"],
    &["LPUSH", "z", "a"],
    &["LPOP", "h"],
    &["BLPOP", "h", "0"],
    &["BRPOP", "z", "l", "0"],
    &["LINDEX", "s", "0"],
    &["LINDEX", "s", "x"],
    &["LSET", "h", "0", "a"],
    &["LLEN", "z"],
    &["HSTRLEN", "z", "a"],
    &["SMISMEMBER", "h", "a"],
    &["ZMSCORE", "s", "a"],
    &["LRANGE", "z", "0", "1"],
    &["ZRANGE", "l", "0", "1"],
    &["ZRANGEBYSCORE", "h", "0", "1"],
    &["GET", "h"],
    &["HGET", "str", "a"],
    // missing keys
    &["HGET", "missing", "a"],
    &["HLEN", "missing"],
    &["ZSCORE", "missing", "a"],
    &["ZRANK", "missing", "a"],
    &["LPOP", "missing"],
    &["LSET", "missing", "0", "a"],
    &["LRANGE", "missing", "0", "-1"],
    &["HSTRLEN", "missing", "a"],
    &["SMISMEMBER", "missing", "a", "b"],
    &["ZMSCORE", "missing", "a"],
    &["ZRANGE", "missing", "0", "-1", "WITHSCORES"],
    &["ZREVRANGEBYSCORE", "missing", "+inf", "-inf"],
    // load-path writes on big keys (written back as element deltas), then native reads
    &["HSETNX", "h", "f9", "x"],
    &["HSETNX", "h", "nx1", "x"],
    &["HINCRBYFLOAT", "h", "cnt", "1.5"],
    &["HGET", "h", "cnt"],
    &["HLEN", "h"],
    &["ZREMRANGEBYRANK", "z", "0", "9"],
    &["ZADD", "z", "XX", "CH", "1000", "m500", "-0", "m501"],
    &["ZSCORE", "z", "m501"],
    &["ZRANK", "z", "m500"],
    &["ZCARD", "z"],
    &["ZRANGE", "z", "0", "12", "WITHSCORES"],
    &["ZRANGEBYSCORE", "z", "999", "1000", "WITHSCORES"],
    &["SMOVE", "s", "s2", "m7"],
    &["SISMEMBER", "s", "m7"],
    &["SCARD", "s"],
    &["SINTERCARD", "2", "s", "s2"],
    &["LINSERT", "l", "BEFORE", "e10", "ins"],
    &["LINDEX", "l", "8"],
    &["LLEN", "l"],
    &["LRANGE", "l", "5", "12"],
    // metadata (stand-ins)
    &["TYPE", "h"],
    &["TYPE", "z"],
    &["TYPE", "s"],
    &["TYPE", "l"],
    &["EXISTS", "h", "z", "missing", "s", "str", "l"],
    &["TTL", "h"],
    &["PTTL", "z"],
    &["EXPIRE", "h", "1000"],
    &["TTL", "h"],
    &["EXPIRE", "h", "2000", "NX"],
    &["EXPIRE", "h", "2000", "GT"],
    &["TTL", "h"],
    &["EXPIRE", "h", "1", "LT", "XX"],
    &["EXPIRE", "h", "1", "bogus"],
    &["PERSIST", "h"],
    &["PERSIST", "h"],
    &["TTL", "h"],
    &["HGET", "h", "f5"],
    &["PEXPIREAT", "s", "99999999999999"],
    &["PEXPIRETIME", "s"],
    &["SCARD", "s"],
    &["TOUCH", "h", "s", "missing"],
    &["UNLINK", "s", "missing"],
    &["SCARD", "s"],
    &["EXISTS", "s"],
    &["EXPIRE", "z", "-1"],
    &["EXISTS", "z"],
    &["DEL", "h", "l", "str", "missing"],
    &["EXISTS", "h", "l", "str"],
    &["HLEN", "h"],
    &["DBSIZE"],
];

fn run_cases(resp3: bool) {
    let Some(mut d) = diff(resp3) else {
        return;
    };
    build_both(&mut d);
    for c in CASES {
        d.check(c);
    }
    d.check_keyspace();
}

#[test]
fn native_commands_match_redis_resp2() {
    run_cases(false);
}

#[test]
fn native_commands_match_redis_resp3() {
    run_cases(true);
}

/// Reads frames from `sub` until the message on channel `end` (included).
fn frames_until_end(sub: &mut Conn) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let f = escape(&sub.read_reply());
        let done = f.contains("$3\\r\\nend\\r\\n");
        out.push(f);
        if done {
            return out;
        }
    }
}

/// Keyspace events of native commands, stand-ins and an expired big key, as a subscriber sees
/// them, plus WATCH aborted by a native write.
#[test]
fn native_events_watch_and_expiry_match_redis() {
    let Some(mut d) = diff(false) else {
        return;
    };
    build_both(&mut d);
    d.check(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    d.check(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let (mut fsub, mut rsub) = d.new_pair();
    for sub in [&mut fsub, &mut rsub] {
        sub.cmd_raw(&[b"PSUBSCRIBE", b"__key*__:*"]);
        sub.cmd_raw(&[b"SUBSCRIBE", b"end"]);
    }
    let script: &[&[&str]] = &[
        &["HSET", "h", "f1", "x", "n", "y"],
        &["HSET", "h", "f1", "x"],
        &["HDEL", "h", "f1", "nope"],
        &["HDEL", "h", "nope"],
        &["HINCRBY", "h", "c", "2"],
        &["HGET", "h", "f2"],
        &["ZADD", "z", "1", "m1", "5", "new"],
        &["ZADD", "z", "5", "new"],
        &["ZINCRBY", "z", "1", "m1"],
        &["ZINCRBY", "z", "0", "m1"],
        &["ZREM", "z", "m1", "nope"],
        &["SADD", "s", "m1", "x"],
        &["SADD", "s", "m1"],
        &["SREM", "s", "x", "nope"],
        &["LPUSH", "l", "a"],
        &["RPUSH", "l", "b"],
        &["LPOP", "l"],
        &["RPOP", "l", "2"],
        &["BLPOP", "l", "0"],
        &["BRPOP", "l", "missing", "0"],
        &["LSET", "l", "3", "q"],
        &["EXPIRE", "h", "1000"],
        &["PERSIST", "h"],
        &["PEXPIRE", "z", "30"],
        &["EXPIRE", "s", "0"],
        &["DEL", "l", "missing"],
    ];
    for c in script {
        d.check(c);
    }
    // The big sorted set expires: a read finds it gone, with one `expired` event.
    std::thread::sleep(Duration::from_millis(60));
    d.check(&["ZSCORE", "z", "m5"]);
    d.check(&["ZCARD", "z"]);
    d.check(&["EXISTS", "z"]);
    d.check(&["PUBLISH", "end", "end"]);
    let (f, r) = (frames_until_end(&mut fsub), frames_until_end(&mut rsub));
    assert_eq!(f, r, "keyspace events differ");
    assert!(f.iter().any(|e| e.contains("expired")), "{f:?}");

    // WATCH aborted by a native write of another client.
    build(d.ferrokv(), N);
    build(d.redis(), N);
    let (mut fw, mut rw) = d.new_pair();
    let (mut fo, mut ro) = d.new_pair();
    for (w, other) in [(&mut fw, &mut fo), (&mut rw, &mut ro)] {
        assert_eq!(w.cmd(&["WATCH", "h", "z"]), Value::Simple("OK".into()));
        other.cmd(&["ZADD", "z", "1", "watched"]);
        assert_eq!(w.cmd(&["MULTI"]), Value::Simple("OK".into()));
        w.cmd(&["HGET", "h", "f2"]);
        assert_eq!(w.cmd(&["EXEC"]), Value::NullArray);
        // Not touched by anyone: EXEC runs.
        assert_eq!(w.cmd(&["WATCH", "h"]), Value::Simple("OK".into()));
        w.cmd(&["MULTI"]);
        w.cmd(&["HSET", "h", "f2", "w"]);
        assert_eq!(w.cmd(&["EXEC"]), Value::Array(vec![Value::Int(0)]));
    }
    d.check(&["HGET", "h", "f2"]);
}

/// Native and loaded commands on the same big key inside MULTI and scripts, and BLPOP, see
/// each other's effects; a stand-in upgraded to the whole value keeps its new TTL.
#[test]
fn native_mixed_with_load_path_in_units() {
    let Some(mut d) = diff(false) else {
        return;
    };
    build_both(&mut d);
    let units: &[&[&str]] = &[
        &["MULTI"],
        &["HSET", "h", "m", "1"],
        &["EXPIRE", "h", "500"],
        &["HGET", "h", "m"],
        &["HGETALL", "nope"],
        &["HINCRBY", "h", "m", "1"],
        &["TTL", "h"],
        &["HLEN", "h"],
        &["EXEC"],
        &["TTL", "h"],
        &["HGET", "h", "m"],
        &["MULTI"],
        &["LPUSH", "l", "x"],
        &["LRANGE", "l", "0", "2"],
        &["LPOP", "l"],
        &["EXEC"],
        &["MULTI"],
        &["TTL", "z"],
        &["ZCOUNT", "z", "0", "5"],
        &["ZADD", "z", "0", "first"],
        &["ZRANK", "z", "first"],
        &["ZMSCORE", "z", "first", "m5", "nope"],
        &["ZRANGE", "z", "0", "2", "WITHSCORES"],
        &["EXEC"],
        &["MULTI"],
        &["SADD", "s", "staged1"],
        &["SREM", "s", "m2"],
        &["SMISMEMBER", "s", "staged1", "m2", "m3"],
        &["HSET", "h", "f4", "longer value"],
        &["HSTRLEN", "h", "f4"],
        &["EXEC"],
        &["MULTI"],
        &["DEL", "s"],
        &["SADD", "s", "fresh"],
        &["EXEC"],
        &["SMEMBERS", "s"],
        &[
            "EVAL",
            "redis.call('HSET', KEYS[1], 'sc', 'v'); return redis.call('HGET', KEYS[1], 'sc')",
            "1",
            "h",
        ],
        &["EVAL", "return redis.call('HLEN', KEYS[1])", "1", "h"],
        &["BLPOP", "l", "0"],
        &["BRPOP", "l", "0"],
        &["LLEN", "l"],
        &["RENAME", "h", "h2"],
        &["HLEN", "h2"],
        &["HGET", "h2", "f3"],
        &["EXISTS", "h"],
    ];
    for c in units {
        d.check(c);
    }
    // The TTL given inside the transaction survives (the stand-in's expiry was written back).
    d.ferrokv().cmd(&["EXPIRE", "z", "777"]);
    let t = d.ferrokv().cmd(&["TTL", "z"]);
    assert_eq!(t, Value::Int(777));
    assert_eq!(d.ferrokv().cmd(&["ZCARD", "z"]), Value::Int(N as i64 + 1));
}

/// The data written by native commands survives a restart.
#[test]
fn native_writes_survive_restart() {
    let Some(mut d) = diff(false) else {
        return;
    };
    build_both(&mut d);
    for c in [
        &["HSET", "h", "persist", "1"][..],
        &["ZADD", "z", "42", "persist"],
        &["SADD", "s", "persist"],
        &["RPUSH", "l", "persist"],
        &["EXPIRE", "s", "5000"],
    ] {
        d.check(c);
    }
    d.ferrokv_proc().restart();
    let mut c = d.ferrokv_proc().conn();
    assert_eq!(c.cmd(&["HGET", "h", "persist"]), Value::Bulk(b"1".to_vec()));
    assert_eq!(
        c.cmd(&["ZSCORE", "z", "persist"]),
        Value::Bulk(b"42".to_vec())
    );
    assert_eq!(c.cmd(&["SISMEMBER", "s", "persist"]), Value::Int(1));
    assert_eq!(
        c.cmd(&["LINDEX", "l", "-1"]),
        Value::Bulk(b"persist".to_vec())
    );
    assert_eq!(c.cmd(&["HLEN", "h"]), Value::Int(N as i64 + 1));
    assert!(matches!(c.cmd(&["TTL", "s"]), Value::Int(t) if t > 4000));
    assert_eq!(
        c.cmd(&["OBJECT", "ENCODING", "h"]),
        Value::Bulk(b"hashtable".to_vec())
    );
}

/// WATCHed big keys (stand-ins during EXEC) are served natively inside the transaction, and a
/// stand-in whose TTL the transaction changed is not.
#[test]
fn native_commands_on_watched_keys_inside_exec() {
    let Some(mut d) = diff(false) else {
        return;
    };
    build_both(&mut d);
    let steps: &[&[&str]] = &[
        &["WATCH", "h", "z", "l", "s"],
        &["MULTI"],
        &["HSET", "h", "w1", "a"],
        &["HGET", "h", "w1"],
        &["HLEN", "h"],
        &["ZADD", "z", "3", "w"],
        &["ZRANK", "z", "w"],
        &["EXPIRE", "s", "100"],
        &["SADD", "s", "w"],
        &["SCARD", "s"],
        &["TTL", "s"],
        &["DEL", "l"],
        &["LPUSH", "l", "fresh"],
        &["LLEN", "l"],
        &["EXEC"],
        &["HGET", "h", "w1"],
        &["ZSCORE", "z", "w"],
        &["TTL", "s"],
        &["SISMEMBER", "s", "w"],
        &["LRANGE", "l", "0", "-1"],
    ];
    for c in steps {
        d.check(c);
    }
    d.check_keyspace();
}
