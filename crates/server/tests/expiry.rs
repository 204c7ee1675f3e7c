//! Key expiry: the EXPIRE/TTL families, lazy expiry (an expired key is never returned) and the
//! active expiry cycle (expired keys are reclaimed without being accessed).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{wait_until, Conn, ServerProc, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn int(n: i64) -> Value {
    Value::Int(n)
}

fn err(s: &str) -> Value {
    Value::Error(s.into())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn dbsize(c: &mut Conn) -> i64 {
    c.cmd(&["DBSIZE"]).as_int().unwrap()
}

#[test]
fn ttl_family_reports_missing_persistent_and_volatile_keys() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(c.cmd(&[cmd, "nokey"]), int(-2), "{cmd}");
    }
    c.cmd(&["SET", "k", "v"]);
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(c.cmd(&[cmd, "k"]), int(-1), "{cmd}");
    }
    assert_eq!(c.cmd(&["PEXPIREAT", "k", "4102444800123"]), int(1));
    assert_eq!(c.cmd(&["PEXPIRETIME", "k"]), int(4102444800123));
    assert_eq!(c.cmd(&["EXPIRETIME", "k"]), int(4102444800));
    assert_eq!(c.cmd(&["EXPIREAT", "k", "4102444800"]), int(1));
    assert_eq!(c.cmd(&["PEXPIRETIME", "k"]), int(4102444800000));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100"]), int(1));
    assert_eq!(c.cmd(&["TTL", "k"]), int(100));
    let pttl = c.cmd(&["PTTL", "k"]).as_int().unwrap();
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    // TTL rounds to the nearest second.
    assert_eq!(c.cmd(&["PEXPIRE", "k", "1300"]), int(1));
    assert_eq!(c.cmd(&["TTL", "k"]), int(1));
    assert_eq!(c.cmd(&["PEXPIRE", "k", "1700"]), int(1));
    assert_eq!(c.cmd(&["TTL", "k"]), int(2));
    // PERSIST.
    assert_eq!(c.cmd(&["PERSIST", "k"]), int(1));
    assert_eq!(c.cmd(&["PERSIST", "k"]), int(0));
    assert_eq!(c.cmd(&["PERSIST", "nokey"]), int(0));
    assert_eq!(c.cmd(&["TTL", "k"]), int(-1));
}

#[test]
fn expire_options_nx_xx_gt_lt() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    c.cmd(&["SET", "k", "v"]);
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "XX"]), int(0));
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "100", "GT"]),
        int(0),
        "no TTL = infinite"
    );
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "LT"]), int(1));
    assert_eq!(c.cmd(&["EXPIRE", "k", "200", "NX"]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "200", "GT"]), int(1));
    assert_eq!(c.cmd(&["EXPIRE", "k", "150", "GT"]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "150", "lt", "xx"]), int(1));
    assert_eq!(c.cmd(&["TTL", "k"]), int(150));
    assert_eq!(c.cmd(&["EXPIRE", "nokey", "10", "NX"]), int(0));
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "10", "NX", "XX"]),
        err("ERR NX and XX, GT or LT options at the same time are not compatible")
    );
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "10", "GT", "LT"]),
        err("ERR GT and LT options at the same time are not compatible")
    );
    assert_eq!(
        c.cmd(&["PEXPIRE", "k", "10", "BOGUS"]),
        err("ERR Unsupported option BOGUS")
    );
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "9223372036854775"]),
        err("ERR invalid expire time in 'expire' command")
    );
    assert_eq!(
        c.cmd(&["PEXPIRE", "k", "9223372036854775807"]),
        err("ERR invalid expire time in 'pexpire' command")
    );
    assert_eq!(
        c.cmd(&["EXPIREAT", "k", "-9223372036854776"]),
        err("ERR invalid expire time in 'expireat' command")
    );
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "abc"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.cmd(&["TTL", "k"]), int(150));
}

#[test]
fn expire_in_the_past_deletes_the_key() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    for (k, args) in [
        ("a", vec!["EXPIRE", "a", "-1"]),
        ("b", vec!["PEXPIRE", "b", "0"]),
        ("c", vec!["EXPIREAT", "c", "1"]),
        ("d", vec!["PEXPIREAT", "d", "-5"]),
    ] {
        c.cmd(&["SET", k, "v"]);
        assert_eq!(c.cmd(&args), int(1), "{args:?}");
        assert_eq!(c.cmd(&["EXISTS", k]), int(0), "{args:?}");
    }
    assert_eq!(
        dbsize(&mut c),
        0,
        "deleted at once, not left for the expiry cycle"
    );
}

#[test]
fn millisecond_precision() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    c.cmd(&["SET", "k", "v"]);
    let start = Instant::now();
    assert_eq!(c.cmd(&["PEXPIRE", "k", "50"]), int(1));
    let pttl = c.cmd(&["PTTL", "k"]).as_int().unwrap();
    assert!((0..=50).contains(&pttl), "{pttl}");
    assert!(wait_until(Duration::from_secs(5), || {
        c.cmd(&["EXISTS", "k"]) == int(0)
    }));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(45),
        "expired too early: {took:?}"
    );
    assert!(
        took < Duration::from_millis(1500),
        "expired too late: {took:?}"
    );
}

#[test]
fn active_cycle_reclaims_expired_keys_without_access() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    for i in 0..2000 {
        c.cmd(&["SET", &format!("vol:{i}"), "v"]);
        c.cmd(&["PEXPIRE", &format!("vol:{i}"), "100"]);
    }
    for i in 0..300 {
        c.cmd(&["SET", &format!("keep:{i}"), "v"]);
    }
    // Another database too.
    c.cmd(&["SELECT", "5"]);
    for i in 0..500 {
        c.cmd(&["SET", &format!("vol:{i}"), "v"]);
        c.cmd(&["PEXPIRE", &format!("vol:{i}"), "100"]);
    }
    assert!(wait_until(Duration::from_secs(10), || dbsize(&mut c) == 0));
    c.cmd(&["SELECT", "0"]);
    assert!(wait_until(Duration::from_secs(10), || dbsize(&mut c) == 300));
    assert_eq!(c.cmd(&["EXISTS", "keep:0", "keep:299"]), int(2));
}

#[test]
fn an_expired_key_is_never_returned() {
    // hz 1: the active cycle runs rarely, so most lookups below find the key still stored and
    // must expire it lazily.
    let s = ServerProc::ferrokv(BIN, &["--hz", "1"]);
    let mut c = s.conn();
    let deadline = now_ms() + 300;
    let at = deadline.to_string();
    for k in [
        "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "k10", "k11", "k12",
    ] {
        c.cmd(&["SET", k, "v"]);
        c.cmd(&["PEXPIREAT", k, &at]);
    }
    c.cmd(&["SET", "live", "v"]);
    assert_eq!(c.cmd(&["EXISTS", "k1"]), int(1));
    // Wait for the expiry time itself (the condition is the clock).
    assert!(wait_until(Duration::from_secs(5), || now_ms() > deadline + 5));
    assert_eq!(c.cmd(&["GET", "k1"]), Value::Null);
    assert_eq!(c.cmd(&["EXISTS", "k2"]), int(0));
    assert_eq!(c.cmd(&["TTL", "k3"]), int(-2));
    assert_eq!(c.cmd(&["PTTL", "k3"]), int(-2));
    assert_eq!(c.cmd(&["TYPE", "k4"]), Value::Simple("none".into()));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "k5"]), Value::Null);
    assert_eq!(c.cmd(&["RENAME", "k6", "x"]), err("ERR no such key"));
    assert_eq!(c.cmd(&["COPY", "k7", "x"]), int(0));
    assert_eq!(c.cmd(&["MOVE", "k8", "1"]), int(0));
    assert_eq!(c.cmd(&["TOUCH", "k9"]), int(0));
    assert_eq!(c.cmd(&["PERSIST", "k10"]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "k11", "100"]), int(0));
    assert_eq!(c.cmd(&["DEL", "k12"]), int(0));
    assert_eq!(
        c.cmd(&["KEYS", "*"]),
        Value::Array(vec![Value::bulk("live")])
    );
    let scan = c.cmd(&["SCAN", "0", "COUNT", "1000"]);
    assert_eq!(
        scan.as_array().unwrap()[1],
        Value::Array(vec![Value::bulk("live")])
    );
    for _ in 0..20 {
        assert_eq!(c.cmd(&["RANDOMKEY"]), Value::bulk("live"));
    }
    assert_eq!(c.cmd(&["SELECT", "1"]), Value::Simple("OK".into()));
    assert_eq!(
        c.cmd(&["DBSIZE"]),
        int(0),
        "MOVE of an expired key moved it"
    );
}

#[test]
fn set_clears_the_ttl_and_rename_keeps_it() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    c.cmd(&["SET", "k", "v"]);
    c.cmd(&["EXPIRE", "k", "100"]);
    c.cmd(&["SET", "k", "w"]);
    assert_eq!(c.cmd(&["TTL", "k"]), int(-1));
    c.cmd(&["EXPIRE", "k", "100"]);
    c.cmd(&["RENAME", "k", "j"]);
    assert_eq!(c.cmd(&["TTL", "j"]), int(100));
}
