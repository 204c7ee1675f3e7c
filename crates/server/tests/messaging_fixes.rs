//! Regression tests of the messaging layer:
//! - `notify-keyspace-events` with `A` and `n`: CONFIG GET prints Redis's text (`AKE`, `A`
//!   hides `n`) but `new` events are still emitted (compared with redis-server);
//! - the active expiry of hash fields (Redis 7.4, no oracle here): `hexpired` and, when the
//!   hash empties, `del` events; WATCH and client tracking see the change;
//! - MONITOR lines of commands run by MULTI/EXEC, in Redis's format and order (compared with
//!   redis-server).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{escape, Conn, ServerProc, Value};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");
const PONG: &[u8] = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n";

/// Every frame a RESP2 subscriber received before the reply to its PING.
fn drain(sub: &mut Conn) -> Vec<String> {
    sub.send(&[b"PING"]);
    let mut out = Vec::new();
    loop {
        let r = sub.read_reply();
        if r == PONG {
            return out;
        }
        out.push(escape(&r));
    }
}

#[test]
fn notify_all_plus_new_keeps_new_events() {
    let mut d = ferrokv_testkit::diff_or_skip!(BIN);
    d.check(&["CONFIG", "SET", "notify-keyspace-events", "KEAn"]);
    d.check(&["CONFIG", "GET", "notify-keyspace-events"]);
    let (mut fsub, mut rsub) = d.new_pair();
    assert_eq!(
        escape(&fsub.cmd_raw(&[b"PSUBSCRIBE", b"__key*__:*"])),
        escape(&rsub.cmd_raw(&[b"PSUBSCRIBE", b"__key*__:*"]))
    );
    for cmd in [
        &["SET", "fresh", "1"][..],
        &["SET", "fresh", "2"],
        &["INCR", "counter"],
        &["COPY", "fresh", "copied"],
        &["RPUSH", "list", "a"],
        &["RPUSH", "list", "b"],
        &["LMOVE", "list", "list2", "LEFT", "RIGHT"],
        &["HSET", "h", "f", "v"],
        &["HSET", "h", "g", "v"],
        &["HINCRBY", "h2", "f", "1"],
        &["HINCRBYFLOAT", "h3", "f", "1.5"],
        &["HSETNX", "h4", "f", "v"],
        &["SADD", "s", "a", "b"],
        &["SADD", "s", "c"],
        &["SMOVE", "s", "s2", "a"],
        &["SINTERSTORE", "s3", "s", "s"],
        &["ZADD", "z", "1", "a", "2", "b"],
        &["ZADD", "z", "3", "c"],
        &["ZINCRBY", "z2", "1", "m"],
        &["ZUNIONSTORE", "z3", "2", "z", "z2"],
        &["SORT", "list2", "ALPHA", "STORE", "sorted"],
    ] {
        d.check(cmd);
        let (f, r) = (drain(&mut fsub), drain(&mut rsub));
        assert_eq!(f, r, "events of {cmd:?}");
        let news = f.iter().filter(|m| m.contains("$3\\r\\nnew\\r\\n")).count();
        let expect_new = !matches!(
            cmd,
            ["SET", "fresh", "2"]
                | ["RPUSH", "list", "b"]
                | ["HSET", "h", "g", "v"]
                | ["SADD", "s", "c"]
                | ["ZADD", "z", "3", "c"]
        );
        assert_eq!(news > 0, expect_new, "{cmd:?}: {f:?}");
    }
    // Without `n`, `A` gives no `new` events.
    d.check(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    d.check(&["CONFIG", "GET", "notify-keyspace-events"]);
    d.check(&["SET", "other", "1"]);
    let (f, r) = (drain(&mut fsub), drain(&mut rsub));
    assert_eq!(f, r);
    assert!(!f.iter().any(|m| m.contains("$3\\r\\nnew\\r\\n")), "{f:?}");
    // Only `n` with `A` survives CONFIG REWRITE-free round trips: `AKEmn` shows `AKEm`.
    d.check(&["CONFIG", "SET", "notify-keyspace-events", "AKEmn"]);
    d.check(&["CONFIG", "GET", "notify-keyspace-events"]);
    d.check(&["CONFIG", "SET", "notify-keyspace-events", "nK"]);
    d.check(&["CONFIG", "GET", "notify-keyspace-events"]);
}

/// The frames of one `message` for channel `ch` with payload `msg`.
fn pmessage(pat: &str, ch: &str, msg: &str) -> String {
    format!(
        "*4\\r\\n$8\\r\\npmessage\\r\\n${}\\r\\n{}\\r\\n${}\\r\\n{}\\r\\n${}\\r\\n{}\\r\\n",
        pat.len(),
        pat,
        ch.len(),
        ch,
        msg.len(),
        msg
    )
}

#[test]
fn active_hash_field_expiry_emits_events_and_invalidates() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let (mut c, mut sub, mut w, mut t) = (s.conn(), s.conn(), s.conn(), s.conn());
    c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    sub.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    c.cmd(&["HSET", "h", "f1", "v", "f2", "v"]);
    assert_eq!(drain(&mut sub).len(), 1); // hset
                                          // A client tracking the hash, and one watching it.
    t.hello3();
    t.cmd(&["CLIENT", "TRACKING", "ON"]);
    t.cmd(&["HGET", "h", "f1"]);
    w.cmd(&["WATCH", "h"]);
    assert_eq!(
        c.cmd(&["HPEXPIRE", "h", "50", "FIELDS", "1", "f1"]),
        Value::Array(vec![Value::Int(1)])
    );
    // `hexpire` (Redis 7.4's name for every HEXPIRE variant) is the command's own event; the cron then expires the field (no read of `h`
    // in between, so nothing lazy).
    let pat = "__keyevent@0__:*";
    sub.set_reply_timeout(Duration::from_secs(5));
    assert_eq!(
        escape(&sub.read_reply()),
        pmessage(pat, "__keyevent@0__:hexpire", "h")
    );
    assert_eq!(
        escape(&sub.read_reply()),
        pmessage(pat, "__keyevent@0__:hexpired", "h")
    );
    // WATCH saw the change: the transaction fails.
    w.cmd(&["MULTI"]);
    w.cmd(&["PING"]);
    assert_eq!(w.cmd(&["EXEC"]), Value::NullArray);
    // The tracking client was told (a key-wide invalidation).
    t.set_reply_timeout(Duration::from_secs(5));
    assert_eq!(
        escape(&t.read_reply()),
        ">2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$1\\r\\nh\\r\\n"
    );
    assert_eq!(c.cmd(&["HLEN", "h"]), Value::Int(1));
    // The last field: `hexpired` then `del`, and the key is gone.
    c.cmd(&["HPEXPIRE", "h", "50", "FIELDS", "1", "f2"]);
    assert_eq!(
        escape(&sub.read_reply()),
        pmessage(pat, "__keyevent@0__:hexpire", "h")
    );
    assert_eq!(
        escape(&sub.read_reply()),
        pmessage(pat, "__keyevent@0__:hexpired", "h")
    );
    assert_eq!(
        escape(&sub.read_reply()),
        pmessage(pat, "__keyevent@0__:del", "h")
    );
    assert_eq!(c.cmd(&["EXISTS", "h"]), Value::Int(0));
}

/// MONITOR lines with the timestamp and address replaced (`+T [db ADDR] ...`).
fn monitor_lines(m: &mut Conn, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let raw = String::from_utf8_lossy(&m.read_reply()).into_owned();
            let db_start = raw.find('[').unwrap() + 1;
            let db_end = db_start + raw[db_start..].find(' ').unwrap();
            let rest = &raw[raw.find(']').unwrap() + 1..];
            format!("+T [{} ADDR]{}", &raw[db_start..db_end], rest)
        })
        .collect()
}

#[test]
fn monitor_shows_transactions_as_redis() {
    let mut d = ferrokv_testkit::diff_or_skip!(BIN);
    let (mut fm, mut rm) = d.new_pair();
    assert_eq!(fm.cmd(&["MONITOR"]), rm.cmd(&["MONITOR"]));
    for cmd in [
        &["MULTI"][..],
        &["SET", "k", "v"],
        &["GET", "k"],
        &["INCR", "k"],
        &["EXEC"],
        &["SELECT", "2"],
        &["MULTI"],
        &["SELECT", "3"],
        &["LPUSH", "l", "x y", "\"q\""],
        &["EXEC"],
        &["SELECT", "0"],
    ] {
        d.check(cmd);
    }
    let f = monitor_lines(&mut fm, 11);
    let r = monitor_lines(&mut rm, 11);
    assert_eq!(f, r);
    assert_eq!(f[0], "+T [0 ADDR] \"MULTI\"\r\n");
    assert_eq!(f[4], "+T [0 ADDR] \"EXEC\"\r\n");
    assert_eq!(
        f[8],
        "+T [3 ADDR] \"LPUSH\" \"l\" \"x y\" \"\\\"q\\\"\"\r\n"
    );
    assert_eq!(f[9], "+T [3 ADDR] \"EXEC\"\r\n");
}
