//! The idle expiry cycle's shortcut (`cron.rs`: no shard is visited while no key or hash field
//! has a TTL) must never skip a TTL: each way of giving a key a TTL is tried on an otherwise
//! idle server, and the key must be reclaimed by the active cycle alone (DBSIZE counts expired
//! keys until they are reclaimed; nothing reads the keys).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{Conn, ServerProc, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn dbsize(c: &mut Conn) -> i64 {
    c.cmd(&["DBSIZE"]).as_int().unwrap()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The active cycle alone must have reclaimed the key `ttl` after it was given its TTL. This
/// cannot be polled: every command that looks at the keyspace (DBSIZE, INFO, ...) locks the
/// shards, and releasing a lock on a shard with a TTL is exactly what re-arms the cycle, so a
/// poll would hide a missed TTL. Hence one look, after the TTL plus ample time for the cycle
/// (`--hz 50`: 50 cycles a second).
fn reclaimed(c: &mut Conn, ttl: Duration, what: &str) {
    std::thread::sleep(ttl + Duration::from_millis(1500));
    assert_eq!(
        dbsize(c),
        0,
        "{what}: the key with a TTL was not reclaimed by the active cycle"
    );
}

/// Each case starts with an empty keyspace; the short idle period before it lets the cycle
/// finish a round that finds no TTL, so the shortcut is in force when the TTL appears.
fn idle(c: &mut Conn) {
    assert_eq!(dbsize(c), 0);
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn every_way_of_setting_a_ttl_is_reclaimed_after_idle() {
    let mut s = ServerProc::ferrokv(BIN, &["--hz", "50"]);
    let mut c = s.conn();

    idle(&mut c);
    assert_eq!(
        c.cmd(&["SET", "ex", "v", "EX", "1"]),
        Value::Simple("OK".into())
    );
    reclaimed(&mut c, Duration::from_secs(1), "SET EX");

    idle(&mut c);
    c.cmd(&["SET", "px", "v"]);
    assert_eq!(c.cmd(&["PEXPIRE", "px", "150"]), Value::Int(1));
    reclaimed(&mut c, Duration::from_millis(150), "PEXPIRE");

    idle(&mut c);
    c.cmd(&["SET", "at", "v"]);
    let at = (now_secs() + 1).to_string();
    assert_eq!(c.cmd(&["EXPIREAT", "at", &at]), Value::Int(1));
    reclaimed(&mut c, Duration::from_secs(1), "EXPIREAT");

    idle(&mut c);
    c.cmd(&["SET", "keep", "a", "PX", "200"]);
    assert_eq!(
        c.cmd(&["SET", "keep", "b", "KEEPTTL"]),
        Value::Simple("OK".into())
    );
    reclaimed(&mut c, Duration::from_millis(200), "SET KEEPTTL");

    // RESTORE with a TTL (the payload of a persistent key made by DUMP).
    c.cmd(&["SET", "src", "v"]);
    let payload = match c.cmd(&["DUMP", "src"]) {
        Value::Bulk(b) => b,
        other => panic!("DUMP: {other:?}"),
    };
    c.cmd(&["DEL", "src"]);
    idle(&mut c);
    let r = c.cmd_raw(&[b"RESTORE", b"restored", b"150", &payload]);
    assert_eq!(r, b"+OK\r\n".to_vec());
    reclaimed(&mut c, Duration::from_millis(150), "RESTORE with TTL");

    // Hash fields with a TTL (Redis 7.4 HPEXPIRE): both fields expire, the hash goes.
    idle(&mut c);
    c.cmd(&["HSET", "h", "f", "1", "g", "2"]);
    assert_eq!(
        c.cmd(&["HPEXPIRE", "h", "150", "FIELDS", "2", "f", "g"]),
        Value::Array(vec![Value::Int(1), Value::Int(1)])
    );
    reclaimed(&mut c, Duration::from_millis(150), "HPEXPIRE");

    // Loaded from an RDB file with a TTL: restart the server on its own snapshot.
    c.cmd(&["SET", "loaded", "v", "PX", "1500"]);
    assert_eq!(c.cmd(&["SAVE"]), Value::Simple("OK".into()));
    s.restart();
    let mut c = s.conn();
    reclaimed(&mut c, Duration::from_millis(1500), "RDB load with TTL");
}
