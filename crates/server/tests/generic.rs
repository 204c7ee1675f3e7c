//! Integration tests for the generic key commands: DEL, UNLINK, EXISTS, TYPE, RENAME(NX), COPY,
//! MOVE, KEYS, SCAN, RANDOMKEY, TOUCH, OBJECT, WAIT.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{wait_until, Conn, ServerProc, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn int(n: i64) -> Value {
    Value::Int(n)
}

fn ok() -> Value {
    Value::Simple("OK".into())
}

fn err(s: &str) -> Value {
    Value::Error(s.into())
}

fn bulk(s: &str) -> Value {
    Value::bulk(s)
}

/// Every key a full SCAN iteration returns (with extra arguments), and the number of calls.
fn scan_all(c: &mut Conn, extra: &[&str]) -> (Vec<Vec<u8>>, usize) {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    let mut calls = 0;
    loop {
        let mut argv = vec!["SCAN", cursor.as_str()];
        argv.extend_from_slice(extra);
        let r = c.cmd(&argv);
        calls += 1;
        let parts = r.as_array().expect("scan reply is an array").to_vec();
        let next = parts[0].as_str().expect("cursor").to_string();
        for k in parts[1].as_array().expect("keys") {
            keys.push(k.as_bytes().expect("key").to_vec());
        }
        if next == "0" {
            return (keys, calls);
        }
        cursor = next;
        assert!(calls < 1_000_000, "scan does not terminate");
    }
}

#[test]
fn del_unlink_exists_count_keys_and_duplicates() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    for k in ["a", "b", "c", "{x}1"] {
        assert_eq!(c.cmd(&["SET", k, "v"]), ok());
    }
    assert_eq!(c.cmd(&["EXISTS", "a", "a", "b", "nokey"]), int(3));
    assert_eq!(c.cmd(&["DEL", "a", "a", "nokey"]), int(1));
    assert_eq!(c.cmd(&["EXISTS", "a"]), int(0));
    assert_eq!(c.cmd(&["UNLINK", "b", "c", "b"]), int(2));
    assert_eq!(c.cmd(&["EXISTS", "b", "c", "{x}1"]), int(1));
    assert_eq!(c.cmd(&["DBSIZE"]), int(1));
    assert_eq!(
        c.cmd(&["DEL"]),
        err("ERR wrong number of arguments for 'del' command")
    );
}

#[test]
fn unlink_of_big_values_frees_them_in_the_background() {
    let s = ServerProc::ferrokv(BIN, &["--lazyfree-lazy-user-del", "yes"]);
    let mut c = s.conn();
    let big = "x".repeat(4 << 20);
    for k in ["big1", "big2", "big3"] {
        assert_eq!(c.cmd(&["SET", k, &big]), ok());
    }
    assert_eq!(c.cmd(&["UNLINK", "big1", "big2"]), int(2));
    // DEL with lazyfree-lazy-user-del behaves like UNLINK.
    assert_eq!(c.cmd(&["DEL", "big3"]), int(1));
    assert_eq!(c.cmd(&["EXISTS", "big1", "big2", "big3"]), int(0));
    assert_eq!(c.cmd(&["DBSIZE"]), int(0));
    assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
}

#[test]
fn type_reports_string_or_none() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    c.cmd(&["SET", "s", "1"]);
    assert_eq!(c.cmd(&["TYPE", "s"]), Value::Simple("string".into()));
    assert_eq!(c.cmd(&["TYPE", "nokey"]), Value::Simple("none".into()));
}

#[test]
fn rename_moves_value_and_ttl_across_shards() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    // Different hash slots, so (almost surely) different shards.
    c.cmd(&["SET", "src", "hello"]);
    c.cmd(&["PEXPIREAT", "src", "99999999999999"]);
    assert_eq!(c.cmd(&["RENAME", "src", "dst-elsewhere"]), ok());
    assert_eq!(c.cmd(&["GET", "dst-elsewhere"]), bulk("hello"));
    assert_eq!(
        c.cmd(&["PEXPIRETIME", "dst-elsewhere"]),
        int(99999999999999)
    );
    assert_eq!(c.cmd(&["EXISTS", "src"]), int(0));
    // Same key: OK for RENAME, 0 for RENAMENX; missing source: error for both.
    assert_eq!(c.cmd(&["RENAME", "dst-elsewhere", "dst-elsewhere"]), ok());
    assert_eq!(
        c.cmd(&["RENAMENX", "dst-elsewhere", "dst-elsewhere"]),
        int(0)
    );
    assert_eq!(c.cmd(&["RENAME", "nokey", "x"]), err("ERR no such key"));
    assert_eq!(
        c.cmd(&["RENAMENX", "nokey", "nokey"]),
        err("ERR no such key")
    );
    // RENAMENX onto an existing key does nothing; RENAME overwrites (and drops the old TTL).
    c.cmd(&["SET", "other", "o"]);
    assert_eq!(c.cmd(&["RENAMENX", "dst-elsewhere", "other"]), int(0));
    assert_eq!(c.cmd(&["GET", "other"]), bulk("o"));
    c.cmd(&["SET", "plain", "p"]);
    c.cmd(&["EXPIRE", "other", "1000"]);
    assert_eq!(c.cmd(&["RENAME", "plain", "other"]), ok());
    assert_eq!(c.cmd(&["TTL", "other"]), int(-1));
    assert_eq!(c.cmd(&["GET", "other"]), bulk("p"));
    assert_eq!(c.cmd(&["RENAMENX", "other", "fresh"]), int(1));
    assert_eq!(c.cmd(&["GET", "fresh"]), bulk("p"));
}

#[test]
fn copy_within_and_across_databases() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    c.cmd(&["SET", "a", "12345"]);
    c.cmd(&["PEXPIREAT", "a", "99999999999999"]);
    assert_eq!(c.cmd(&["COPY", "a", "b"]), int(1));
    assert_eq!(c.cmd(&["GET", "b"]), bulk("12345"));
    assert_eq!(c.cmd(&["PEXPIRETIME", "b"]), int(99999999999999));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "b"]), bulk("int"));
    c.cmd(&["SET", "b", "other"]);
    assert_eq!(c.cmd(&["COPY", "a", "b"]), int(0));
    assert_eq!(c.cmd(&["GET", "b"]), bulk("other"));
    assert_eq!(c.cmd(&["COPY", "a", "b", "REPLACE"]), int(1));
    assert_eq!(c.cmd(&["GET", "b"]), bulk("12345"));
    assert_eq!(c.cmd(&["COPY", "nokey", "b", "REPLACE"]), int(0));
    // To another database, same key name.
    assert_eq!(c.cmd(&["COPY", "a", "a", "DB", "3"]), int(1));
    assert_eq!(c.cmd(&["COPY", "a", "a", "DB", "3"]), int(0));
    assert_eq!(
        c.cmd(&["COPY", "a", "a", "DB", "0"]),
        err("ERR source and destination objects are the same")
    );
    assert_eq!(
        c.cmd(&["COPY", "a", "a", "DB", "16"]),
        err("ERR DB index is out of range")
    );
    assert_eq!(
        c.cmd(&["COPY", "a", "a", "DB", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.cmd(&["COPY", "a", "z", "DB"]), err("ERR syntax error"));
    assert_eq!(c.cmd(&["SELECT", "3"]), ok());
    assert_eq!(c.cmd(&["GET", "a"]), bulk("12345"));
    assert_eq!(c.cmd(&["PEXPIRETIME", "a"]), int(99999999999999));
    assert_eq!(c.cmd(&["DBSIZE"]), int(1));
}

#[test]
fn move_transfers_keys_between_databases() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    c.cmd(&["SET", "k", "v"]);
    c.cmd(&["PEXPIREAT", "k", "99999999999999"]);
    assert_eq!(
        c.cmd(&["MOVE", "k", "0"]),
        err("ERR source and destination objects are the same")
    );
    assert_eq!(
        c.cmd(&["MOVE", "k", "16"]),
        err("ERR DB index is out of range")
    );
    assert_eq!(
        c.cmd(&["MOVE", "k", "-1"]),
        err("ERR DB index is out of range")
    );
    assert_eq!(
        c.cmd(&["MOVE", "k", "1x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.cmd(&["MOVE", "nokey", "1"]), int(0));
    assert_eq!(c.cmd(&["MOVE", "k", "1"]), int(1));
    assert_eq!(c.cmd(&["EXISTS", "k"]), int(0));
    c.cmd(&["SET", "k", "again"]);
    assert_eq!(c.cmd(&["MOVE", "k", "1"]), int(0));
    assert_eq!(c.cmd(&["GET", "k"]), bulk("again"));
    c.cmd(&["SELECT", "1"]);
    assert_eq!(c.cmd(&["GET", "k"]), bulk("v"));
    assert_eq!(c.cmd(&["PEXPIRETIME", "k"]), int(99999999999999));
}

#[test]
fn keys_matches_globs_and_lone_star_matches_the_empty_key() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    for k in ["", "foo", "foobar", "bar", "f?o"] {
        c.cmd(&["SET", k, "1"]);
    }
    let sorted = |v: Value| {
        let mut ks: Vec<Vec<u8>> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_bytes().unwrap().to_vec())
            .collect();
        ks.sort();
        ks
    };
    assert_eq!(sorted(c.cmd(&["KEYS", "*"])).len(), 5);
    assert!(sorted(c.cmd(&["KEYS", "*"])).contains(&Vec::new()));
    assert_eq!(
        sorted(c.cmd(&["KEYS", "foo*"])),
        vec![b"foo".to_vec(), b"foobar".to_vec()]
    );
    assert_eq!(sorted(c.cmd(&["KEYS", "f\\?o"])), vec![b"f?o".to_vec()]);
    assert_eq!(sorted(c.cmd(&["KEYS", "?*"])).len(), 4);
    assert_eq!(c.cmd(&["KEYS", "nomatch*"]), Value::Array(vec![]));
}

#[test]
fn scan_iterates_everything_with_match_type_and_count() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    for i in 0..1000 {
        c.cmd(&["SET", &format!("key:{i}"), "v"]);
    }
    c.cmd(&["SET", "", "empty"]);
    let (keys, calls) = scan_all(&mut c, &[]);
    let set: HashSet<Vec<u8>> = keys.iter().cloned().collect();
    assert_eq!(keys.len(), 1001, "duplicates or misses");
    assert_eq!(set.len(), 1001);
    assert!(set.contains(&Vec::new()));
    assert!(calls > 50, "COUNT 10 should take many calls, took {calls}");
    let (keys, calls) = scan_all(&mut c, &["COUNT", "100000"]);
    assert_eq!((keys.len(), calls), (1001, 1));
    let (keys, _) = scan_all(&mut c, &["MATCH", "key:1*", "COUNT", "7"]);
    assert_eq!(keys.len(), 111);
    let (keys, _) = scan_all(&mut c, &["TYPE", "STRING", "COUNT", "50"]);
    assert_eq!(keys.len(), 1001);
    let (keys, _) = scan_all(&mut c, &["TYPE", "list"]);
    assert!(keys.is_empty());
    // Errors.
    assert_eq!(c.cmd(&["SCAN", "x"]), err("ERR invalid cursor"));
    assert_eq!(c.cmd(&["SCAN", " 1"]), err("ERR invalid cursor"));
    assert_eq!(
        c.cmd(&["SCAN", "18446744073709551616"]),
        err("ERR invalid cursor")
    );
    assert_eq!(c.cmd(&["SCAN", "0", "COUNT", "0"]), err("ERR syntax error"));
    assert_eq!(
        c.cmd(&["SCAN", "0", "COUNT", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.cmd(&["SCAN", "0", "MATCH"]), err("ERR syntax error"));
    assert_eq!(c.cmd(&["SCAN", "0", "FOO", "1"]), err("ERR syntax error"));
}

#[test]
fn scan_returns_every_stable_key_exactly_once_under_concurrent_inserts() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    for i in 0..3000 {
        c.cmd(&["SET", &format!("stable:{i}"), "v"]);
    }
    let addr = s.addr();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut w = Conn::connect(&addr);
        let mut n = 0u64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            // Inserts grow the shards (segment splits) while the scan runs; deletes of
            // other new keys shrink them.
            w.cmd(&["SET", &format!("new:{n}"), "v"]);
            if n.is_multiple_of(3) && n > 0 {
                w.cmd(&["DEL", &format!("new:{}", n - 1)]);
            }
            n += 1;
        }
        n
    });
    let mut rounds = 0;
    let mut inserted_during = 0;
    while rounds < 3 || inserted_during == 0 {
        assert!(rounds < 50, "the writer never inserted during a scan");
        let (keys, _) = scan_all(&mut c, &["COUNT", "5"]);
        let mut seen = HashSet::new();
        for k in &keys {
            assert!(
                seen.insert(k.clone()),
                "key {:?} returned twice",
                String::from_utf8_lossy(k)
            );
        }
        for i in 0..3000 {
            assert!(
                seen.contains(format!("stable:{i}").as_bytes()),
                "stable:{i} missed"
            );
        }
        inserted_during = keys.len() - 3000;
        rounds += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(written > 0);
    assert!(c.cmd(&["DBSIZE"]).as_int().unwrap() > 3000);
}

#[test]
fn randomkey_returns_live_keys_or_null() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["RANDOMKEY"]), Value::Null);
    for i in 0..50 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    let mut seen = HashSet::new();
    for _ in 0..300 {
        let k = c.cmd(&["RANDOMKEY"]);
        let k = k.as_bytes().unwrap().to_vec();
        assert!(k.starts_with(b"k"));
        seen.insert(k);
    }
    assert!(seen.len() > 20, "RANDOMKEY is not random: {}", seen.len());
}

#[test]
fn touch_counts_existing_keys() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "b", "1"]);
    assert_eq!(c.cmd(&["TOUCH", "a", "b", "a", "nokey"]), int(3));
}

#[test]
fn object_subcommands_without_touching_the_key() {
    if ferrokv_testkit::skip_on_disk(
        "reads do not write their LRU/LFU access update back to the disk store",
    ) {
        return;
    }
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    c.cmd(&["SET", "int", "5"]);
    c.cmd(&["SET", "bigint", "10000"]);
    c.cmd(&["SET", "emb", "hello"]);
    c.cmd(&["SET", "raw", &"x".repeat(45)]);
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "int"]), bulk("int"));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "emb"]), bulk("embstr"));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "raw"]), bulk("raw"));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "nokey"]), Value::Null);
    assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", "int"]), int(2147483647));
    assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", "bigint"]), int(1));
    assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", "emb"]), int(1));
    assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", "nokey"]), Value::Null);
    assert_eq!(
        c.cmd(&["OBJECT", "FREQ", "emb"]),
        err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
    );
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "nokey"]), Value::Null);
    assert_eq!(
        c.cmd(&["OBJECT", "FOO", "emb"]),
        err("ERR unknown subcommand 'FOO'. Try OBJECT HELP.")
    );
    assert_eq!(c.cmd(&["OBJECT", "HELP"]).as_array().unwrap().len(), 15);
    // Idle time grows while only OBJECT, EXISTS, TYPE and TTL look at the key.
    assert!(wait_until(Duration::from_secs(10), || {
        c.cmd(&["OBJECT", "IDLETIME", "emb"]).as_int().unwrap() >= 2
    }));
    for cmd in ["EXISTS", "TYPE", "TTL", "PTTL"] {
        c.cmd(&[cmd, "emb"]);
    }
    c.cmd(&["OBJECT", "ENCODING", "emb"]);
    assert!(c.cmd(&["OBJECT", "IDLETIME", "emb"]).as_int().unwrap() >= 2);
    // A read touches it.
    c.cmd(&["GET", "emb"]);
    assert_eq!(c.cmd(&["OBJECT", "IDLETIME", "emb"]), int(0));
}

#[test]
fn object_freq_under_an_lfu_policy() {
    if ferrokv_testkit::skip_on_disk(
        "reads do not write their LRU/LFU access update back to the disk store",
    ) {
        return;
    }
    let s = ServerProc::ferrokv(BIN, &["--maxmemory-policy", "allkeys-lfu"]);
    let mut c = s.conn();
    ferrokv_testkit::wait_until_inside_minute();
    c.cmd(&["SET", "k", "hello"]);
    let initial = c.cmd(&["OBJECT", "FREQ", "k"]).as_int().unwrap();
    assert_eq!(initial, 5, "LFU_INIT_VAL");
    for _ in 0..500 {
        c.cmd(&["GET", "k"]);
    }
    let after = c.cmd(&["OBJECT", "FREQ", "k"]).as_int().unwrap();
    assert!(after > initial, "{after}");
    // OBJECT FREQ itself does not count as an access.
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "k"]).as_int().unwrap(), after);
    assert_eq!(
        c.cmd(&["OBJECT", "IDLETIME", "k"]),
        err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
    );
}

#[test]
fn wait_without_replicas() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["WAIT", "0", "0"]), int(0));
    assert_eq!(c.cmd(&["WAIT", "-3", "100"]), int(0));
    assert_eq!(
        c.cmd(&["WAIT", "x", "0"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.cmd(&["WAIT", "1", "x"]),
        err("ERR timeout is not an integer or out of range")
    );
    assert_eq!(c.cmd(&["WAIT", "1", "-1"]), err("ERR timeout is negative"));
    // One replica requested: blocks for the timeout, then 0; pipelined commands wait behind it.
    let t = Instant::now();
    c.send(&[b"WAIT".as_slice(), b"1", b"200"]);
    c.send(&[b"PING".as_slice()]);
    assert_eq!(c.read_reply(), b":0\r\n");
    assert!(
        t.elapsed() >= Duration::from_millis(190),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(c.read_reply(), b"+PONG\r\n");
    // Timeout 0 blocks until the connection goes away; other clients are served meanwhile.
    c.send(&[b"WAIT".as_slice(), b"1", b"0"]);
    assert!(c.try_read_reply(Duration::from_millis(300)).is_none());
    let mut other = s.conn();
    assert_eq!(other.cmd(&["PING"]), Value::Simple("PONG".into()));
}
