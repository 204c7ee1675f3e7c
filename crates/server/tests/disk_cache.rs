//! The disk engine's hot-object cache (`disk-object-cache-size`, docs/disk-engine.md §6.0):
//! hits and misses in INFO, the byte budget, switching it off and on, silent eviction, expiry
//! of resident keys, invalidation by whole-dataset commands, and durability of writes to
//! resident keys. Every server here is started with `--storage-engine disk` explicitly.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{wait_until, Conn, ServerProc, Value};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn bulk(s: &str) -> Value {
    Value::Bulk(s.as_bytes().to_vec())
}

fn ok() -> Value {
    Value::Simple("OK".into())
}

fn disk(extra: &[&str]) -> ServerProc {
    let mut args = vec!["--storage-engine", "disk", "--enable-debug-command", "yes"];
    args.extend_from_slice(extra);
    ServerProc::ferrokv(BIN, &args)
}

/// An integer field of INFO (`section`).
fn info_u64(c: &mut Conn, section: &str, field: &str) -> u64 {
    c.info_field(section, field)
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
        .trim()
        .parse()
        .unwrap()
}

fn cache_keys(c: &mut Conn) -> u64 {
    info_u64(c, "disk", "disk_object_cache_keys")
}

#[test]
fn hits_and_misses_are_counted() {
    let s = disk(&[]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["SET", "k", "v"]), ok());
    assert_eq!(cache_keys(&mut c), 1, "a written key stays resident");
    let hits = info_u64(&mut c, "disk", "disk_object_cache_hits");
    for _ in 0..5 {
        assert_eq!(c.cmd(&["GET", "k"]), bulk("v"));
    }
    assert_eq!(info_u64(&mut c, "disk", "disk_object_cache_hits"), hits + 5);
    let misses = info_u64(&mut c, "disk", "disk_object_cache_misses");
    assert_eq!(c.cmd(&["GET", "nosuchkey"]), Value::Null);
    assert_eq!(
        info_u64(&mut c, "disk", "disk_object_cache_misses"),
        misses + 1
    );
    assert_eq!(info_u64(&mut c, "disk", "disk_object_cache_evictions"), 0);
    assert!(info_u64(&mut c, "disk", "disk_object_cache_bytes") > 0);
    // Collections too, compact and field-level (a hash below the native paths' size).
    assert_eq!(c.cmd(&["HSET", "h", "f", "1"]), Value::Int(1));
    let mut args = vec!["HSET".to_string(), "hh".into()];
    for i in 0..300 {
        args.push(format!("f{i}"));
        args.push(format!("{i:0>80}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(c.cmd(&refs), Value::Int(300));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "hh"]), bulk("hashtable"));
    let hits = info_u64(&mut c, "disk", "disk_object_cache_hits");
    assert_eq!(c.cmd(&["HSET", "hh", "f3", "7.5"]), Value::Int(0));
    assert_eq!(c.cmd(&["HGET", "hh", "f3"]), bulk("7.5"));
    assert_eq!(c.cmd(&["HGET", "h", "f"]), bulk("1"));
    assert_eq!(info_u64(&mut c, "disk", "disk_object_cache_hits"), hits + 3);
    // A field-level sorted set is served by the native paths at any size and never resident:
    // its commands are neither hits nor misses.
    let mut args = vec!["ZADD".to_string(), "z".into()];
    for i in 0..300 {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(c.cmd(&refs), Value::Int(300));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "z"]), bulk("skiplist"));
    let (hits, misses) = (
        info_u64(&mut c, "disk", "disk_object_cache_hits"),
        info_u64(&mut c, "disk", "disk_object_cache_misses"),
    );
    assert_eq!(c.cmd(&["ZADD", "z", "7.5", "m3"]), Value::Int(0));
    assert_eq!(c.cmd(&["ZSCORE", "z", "m3"]), bulk("7.5"));
    assert_eq!(info_u64(&mut c, "disk", "disk_object_cache_hits"), hits);
    assert_eq!(info_u64(&mut c, "disk", "disk_object_cache_misses"), misses);
}

#[test]
fn the_budget_is_respected_and_every_key_reads_back() {
    const BUDGET: u64 = 1 << 20;
    let s = disk(&["--disk-object-cache-size", "1mb"]);
    let mut c = s.conn();
    let value = "x".repeat(1000);
    for i in 0..5000 {
        assert_eq!(c.cmd(&["SET", &format!("key:{i}"), &value]), ok());
    }
    let bytes = info_u64(&mut c, "disk", "disk_object_cache_bytes");
    // One entry: its value, key and bookkeeping.
    assert!(bytes <= BUDGET + 2048, "cache bytes {bytes} > budget");
    assert!(info_u64(&mut c, "disk", "disk_object_cache_evictions") > 0);
    let keys = cache_keys(&mut c);
    assert!(keys > 100 && keys < 5000, "resident keys {keys}");
    for i in 0..5000 {
        assert_eq!(
            c.cmd(&["GET", &format!("key:{i}")]),
            bulk(&value),
            "key:{i}"
        );
    }
    let bytes = info_u64(&mut c, "disk", "disk_object_cache_bytes");
    assert!(bytes <= BUDGET + 2048, "cache bytes {bytes} > budget");
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(5000));
    assert_eq!(info_u64(&mut c, "disk", "disk_object_cache_budget"), BUDGET);
}

/// A key that is only read (reads of a resident key run on it in place: no check-out, no
/// check-in) keeps its place while writes of new keys evict the others: the eviction queue
/// gives a read key a second chance. Without it the key, checked in once by its SET, would be
/// the first one evicted from its shard.
#[test]
fn keys_read_in_place_are_not_evicted_first() {
    let s = disk(&["--disk-object-cache-size", "1mb"]);
    let mut c = s.conn();
    let value = "x".repeat(1000);
    assert_eq!(c.cmd(&["SET", "hot", &value]), ok());
    let hot_hits = |c: &mut Conn| info_u64(c, "disk", "disk_object_cache_hits");
    // 12,000 new keys of ~1.4 KB accounted each against a 1 MB budget: every shard (1024 of
    // them) gets writes past the budget, so the hot key's shard evicts many times.
    for round in 0..120 {
        let mut p = Vec::new();
        for i in 0..100 {
            let k = format!("key:{}", round * 100 + i);
            p.extend_from_slice(&ferrokv_testkit::encode_command(&[
                b"SET",
                k.as_bytes(),
                value.as_bytes(),
            ]));
        }
        c.send_raw(&p);
        for _ in 0..100 {
            assert_eq!(c.read_reply(), b"+OK\r\n");
        }
        let hits = hot_hits(&mut c);
        assert_eq!(c.cmd(&["GET", "hot"]), bulk(&value), "round {round}");
        assert_eq!(
            hot_hits(&mut c),
            hits + 1,
            "hot was evicted before round {round}"
        );
    }
    assert!(info_u64(&mut c, "disk", "disk_object_cache_evictions") > 10_000);
    assert!(info_u64(&mut c, "disk", "disk_object_cache_bytes") <= (1 << 20) + 2048);
}

#[test]
fn config_set_to_zero_and_back() {
    let s = disk(&[]);
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "disk-object-cache-size"]),
        Value::Array(vec![bulk("disk-object-cache-size"), bulk("67108864")])
    );
    for i in 0..100 {
        assert_eq!(c.cmd(&["SET", &format!("k{i}"), &i.to_string()]), ok());
    }
    assert_eq!(cache_keys(&mut c), 100);
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "disk-object-cache-size", "0"]),
        ok()
    );
    assert_eq!(cache_keys(&mut c), 0);
    assert_eq!(info_u64(&mut c, "disk", "disk_object_cache_bytes"), 0);
    let hits = info_u64(&mut c, "disk", "disk_object_cache_hits");
    for i in 0..100 {
        assert_eq!(c.cmd(&["INCR", &format!("k{i}")]), Value::Int(i + 1));
    }
    assert_eq!(cache_keys(&mut c), 0, "off: nothing stays resident");
    assert_eq!(info_u64(&mut c, "disk", "disk_object_cache_hits"), hits);
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "disk-object-cache-size", "10mb"]),
        ok()
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "disk-object-cache-size"]),
        Value::Array(vec![bulk("disk-object-cache-size"), bulk("10485760")])
    );
    for i in 0..100 {
        assert_eq!(
            c.cmd(&["GET", &format!("k{i}")]),
            bulk(&(i + 1).to_string())
        );
    }
    assert_eq!(cache_keys(&mut c), 100);
    // Shrinking evicts at once.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "disk-object-cache-size", "2000"]),
        ok()
    );
    assert!(info_u64(&mut c, "disk", "disk_object_cache_bytes") <= 2000);
    assert!(info_u64(&mut c, "disk", "disk_object_cache_evictions") > 0);
    for i in 0..100 {
        assert_eq!(
            c.cmd(&["GET", &format!("k{i}")]),
            bulk(&(i + 1).to_string())
        );
    }
}

/// Evictions are no deletions: no keyspace event, no `dirty`, no expired/evicted statistics,
/// nothing lost. (The disk engine has no append-only file and no replication to propagate
/// to; `rdb_changes_since_last_save` counts what propagation would carry.)
#[test]
fn eviction_is_silent() {
    let s = disk(&["--disk-object-cache-size", "64kb"]);
    let mut c = s.conn();
    for i in 0..500 {
        assert_eq!(c.cmd(&["SET", &format!("key:{i}"), &"v".repeat(500)]), ok());
    }
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
        ok()
    );
    let mut sub = s.conn();
    sub.send(&[b"PSUBSCRIBE", b"__key*__:*"]);
    let _ = sub.read_value();
    let dirty = info_u64(&mut c, "persistence", "rdb_changes_since_last_save");
    let evictions = info_u64(&mut c, "disk", "disk_object_cache_evictions");
    for round in 0..2 {
        for i in 0..500 {
            assert_eq!(
                c.cmd(&["GET", &format!("key:{i}")]),
                bulk(&"v".repeat(500)),
                "round {round} key:{i}"
            );
        }
    }
    assert!(info_u64(&mut c, "disk", "disk_object_cache_evictions") > evictions + 100);
    assert_eq!(
        info_u64(&mut c, "persistence", "rdb_changes_since_last_save"),
        dirty
    );
    assert_eq!(info_u64(&mut c, "stats", "evicted_keys"), 0);
    assert_eq!(info_u64(&mut c, "stats", "expired_keys"), 0);
    // An event published now arrives first: nothing was published before it.
    assert_eq!(c.cmd(&["SET", "marker", "1"]), ok());
    let first = sub.read_value();
    assert!(
        format!("{first:?}").contains("marker"),
        "an event before the marker's: {first:?}"
    );
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(501));
}

fn expired_event(sub: &mut Conn, key: &str) -> bool {
    wait_until(Duration::from_secs(10), || {
        match sub.try_read_reply(Duration::from_millis(100)) {
            Some(r) => {
                let t = String::from_utf8_lossy(&r).into_owned();
                t.contains("expired") && t.contains(key)
            }
            None => false,
        }
    })
}

#[test]
fn resident_keys_with_a_ttl_expire_lazily_and_actively() {
    let s = disk(&[]);
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]),
        ok()
    );
    let mut sub = s.conn();
    sub.send(&[b"SUBSCRIBE", b"__keyevent@0__:expired"]);
    let _ = sub.read_value();
    // Lazy: the active cycle is off, the key is resident when it expires.
    assert_eq!(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), ok());
    assert_eq!(c.cmd(&["SET", "lazy", "v", "PX", "200"]), ok());
    assert_eq!(c.cmd(&["GET", "lazy"]), bulk("v"));
    let before = cache_keys(&mut c);
    assert!(before >= 1);
    std::thread::sleep(Duration::from_millis(300)); // the TTL has to pass
    assert_eq!(c.cmd(&["GET", "lazy"]), Value::Null);
    assert!(expired_event(&mut sub, "lazy"), "no expired event for lazy");
    assert_eq!(c.cmd(&["EXISTS", "lazy"]), Value::Int(0));
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(0));
    assert_eq!(cache_keys(&mut c), 0);
    // Active: never read after it expired.
    assert_eq!(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), ok());
    assert_eq!(c.cmd(&["SET", "active", "v", "PX", "200"]), ok());
    assert_eq!(c.cmd(&["GET", "active"]), bulk("v"));
    assert_eq!(cache_keys(&mut c), 1);
    assert!(
        expired_event(&mut sub, "active"),
        "no expired event for active"
    );
    assert!(wait_until(Duration::from_secs(5), || cache_keys(&mut c) == 0));
    assert_eq!(c.cmd(&["EXISTS", "active"]), Value::Int(0));
    assert_eq!(info_u64(&mut c, "stats", "expired_keys"), 2);
}

#[test]
fn whole_dataset_commands_invalidate() {
    let s = disk(&[]);
    let mut c = s.conn();
    // FLUSHALL (sync and async).
    for mode in ["SYNC", "ASYNC"] {
        assert_eq!(c.cmd(&["SET", "a", "1"]), ok());
        assert_eq!(c.cmd(&["GET", "a"]), bulk("1"));
        assert_eq!(c.cmd(&["FLUSHALL", mode]), ok());
        assert_eq!(c.cmd(&["GET", "a"]), Value::Null, "FLUSHALL {mode}");
        assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(0));
    }
    // FLUSHDB.
    assert_eq!(c.cmd(&["SET", "a", "1"]), ok());
    assert_eq!(c.cmd(&["FLUSHDB"]), ok());
    assert_eq!(c.cmd(&["GET", "a"]), Value::Null);
    // SWAPDB.
    assert_eq!(c.cmd(&["SET", "a", "db0"]), ok());
    assert_eq!(c.cmd(&["SELECT", "1"]), ok());
    assert_eq!(c.cmd(&["SET", "a", "db1"]), ok());
    assert_eq!(c.cmd(&["SET", "b", "only1"]), ok());
    assert_eq!(c.cmd(&["SELECT", "0"]), ok());
    assert_eq!(c.cmd(&["GET", "a"]), bulk("db0"));
    assert_eq!(c.cmd(&["SWAPDB", "0", "1"]), ok());
    assert_eq!(c.cmd(&["GET", "a"]), bulk("db1"));
    assert_eq!(c.cmd(&["GET", "b"]), bulk("only1"));
    assert_eq!(c.cmd(&["SELECT", "1"]), ok());
    assert_eq!(c.cmd(&["GET", "a"]), bulk("db0"));
    assert_eq!(c.cmd(&["GET", "b"]), Value::Null);
    assert_eq!(c.cmd(&["SELECT", "0"]), ok());
    // MOVE and COPY across databases.
    assert_eq!(c.cmd(&["SET", "m", "moved"]), ok());
    assert_eq!(c.cmd(&["MOVE", "m", "2"]), Value::Int(1));
    assert_eq!(c.cmd(&["GET", "m"]), Value::Null);
    assert_eq!(c.cmd(&["COPY", "a", "a2", "DB", "2"]), Value::Int(1));
    assert_eq!(c.cmd(&["SELECT", "2"]), ok());
    assert_eq!(c.cmd(&["GET", "m"]), bulk("moved"));
    assert_eq!(c.cmd(&["GET", "a2"]), bulk("db1"));
    assert_eq!(c.cmd(&["SELECT", "0"]), ok());
    // RESTORE over a resident key.
    let dump = c.cmd(&["DUMP", "a"]);
    let payload = dump.as_bytes().unwrap().to_vec();
    assert_eq!(c.cmd(&["SET", "a", "changed"]), ok());
    assert_eq!(c.cmd(&["GET", "a"]), bulk("changed"));
    let r = c.cmd_raw(&[b"RESTORE", b"a", b"0", &payload, b"REPLACE"]);
    assert_eq!(r, b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "a"]), bulk("db1"));
    // DEBUG RELOAD: the dataset comes back from the dump, resident copies are dropped.
    assert_eq!(c.cmd(&["SET", "r", "before"]), ok());
    assert_eq!(c.cmd(&["DEBUG", "RELOAD"]), ok());
    assert_eq!(c.cmd(&["GET", "r"]), bulk("before"));
    assert_eq!(c.cmd(&["GET", "a"]), bulk("db1"));
    assert_eq!(c.cmd(&["SET", "r", "after"]), ok());
    assert_eq!(c.cmd(&["GET", "r"]), bulk("after"));
    // Whole-database reads see resident keys exactly once (db0: a, b, r).
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(3));
    let keys = c.cmd(&["KEYS", "*"]);
    assert_eq!(format!("{keys:?}").matches("Bulk").count(), 3, "{keys:?}");
    assert_eq!(c.cmd(&["GET", "r"]), bulk("after"));
    let scan = c.cmd(&["SCAN", "0", "COUNT", "1000"]);
    // The cursor and three keys.
    assert_eq!(format!("{scan:?}").matches("Bulk").count(), 4, "{scan:?}");
    assert!(c.cmd(&["RANDOMKEY"]).as_bytes().is_some());
    assert_eq!(c.cmd(&["GET", "r"]), bulk("after"));
    assert!(c
        .info_field("keyspace", "db0")
        .unwrap()
        .starts_with("keys=3,"));
}

#[test]
fn sigkill_after_writes_to_resident_keys_loses_nothing() {
    let mut s = disk(&["--appendfsync", "always"]);
    let mut c = s.conn();
    // Field-level zset below the native paths' size, a compact hash, a string, a list.
    let mut args = vec!["ZADD".to_string(), "z".into()];
    for i in 0..500 {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(c.cmd(&refs), Value::Int(500));
    for i in 0..200 {
        assert_eq!(c.cmd(&["INCR", "n"]), Value::Int(i + 1));
        assert_eq!(
            c.cmd(&["ZADD", "z", &(1000 + i).to_string(), &format!("m{i}")]),
            Value::Int(0)
        );
        assert_eq!(
            c.cmd(&["ZADD", "z", "1", &format!("new{i}")]),
            Value::Int(1)
        );
        assert_eq!(
            c.cmd(&["ZREM", "z", &format!("m{}", 499 - i)]),
            Value::Int(1)
        );
        let r = c.cmd(&["HSET", "h", &format!("f{}", i % 10), &i.to_string()]);
        assert!(r.as_int().is_some(), "{r:?}");
        assert_eq!(c.cmd(&["LPUSH", "l", &i.to_string()]), Value::Int(i + 1));
    }
    // n and h; the field-level zset and the compact list l (field-level with the compact
    // flag since "disk-compact") are native, never resident.
    assert!(cache_keys(&mut c) >= 2);
    drop(c);
    s.kill();
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "n"]), bulk("200"));
    assert_eq!(c.cmd(&["ZCARD", "z"]), Value::Int(500));
    assert_eq!(c.cmd(&["ZSCORE", "z", "m0"]), bulk("1000"));
    assert_eq!(c.cmd(&["ZSCORE", "z", "m199"]), bulk("1199"));
    assert_eq!(c.cmd(&["ZSCORE", "z", "new199"]), bulk("1"));
    assert_eq!(c.cmd(&["ZSCORE", "z", "m499"]), Value::Null);
    assert_eq!(c.cmd(&["ZSCORE", "z", "m250"]), bulk("250"));
    assert_eq!(c.cmd(&["HGET", "h", "f9"]), bulk("199"));
    assert_eq!(c.cmd(&["HLEN", "h"]), Value::Int(10));
    assert_eq!(c.cmd(&["LLEN", "l"]), Value::Int(200));
    assert_eq!(c.cmd(&["LINDEX", "l", "0"]), bulk("199"));
    assert_eq!(
        cache_keys(&mut c),
        2,
        "read back: n and h resident again (not the native zset and compact list)"
    );
}

#[test]
fn multi_exec_and_watch_see_resident_keys() {
    let s = disk(&[]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["SET", "w", "1"]), ok());
    assert_eq!(c.cmd(&["WATCH", "w"]), ok());
    let mut other = s.conn();
    assert_eq!(other.cmd(&["INCR", "w"]), Value::Int(2));
    assert_eq!(c.cmd(&["MULTI"]), ok());
    assert_eq!(c.cmd(&["INCR", "w"]), Value::Simple("QUEUED".into()));
    assert_eq!(
        c.cmd(&["EXEC"]),
        Value::NullArray,
        "WATCH saw the other client's write"
    );
    assert_eq!(c.cmd(&["MULTI"]), ok());
    assert_eq!(c.cmd(&["INCR", "w"]), Value::Simple("QUEUED".into()));
    assert_eq!(c.cmd(&["DEL", "w"]), Value::Simple("QUEUED".into()));
    assert_eq!(c.cmd(&["SET", "w", "9"]), Value::Simple("QUEUED".into()));
    assert_eq!(
        c.cmd(&["EXEC"]),
        Value::Array(vec![Value::Int(3), Value::Int(1), ok()])
    );
    assert_eq!(other.cmd(&["GET", "w"]), bulk("9"));
    // A script on a resident key.
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('INCRBY', KEYS[1], 5)", "1", "w"]),
        Value::Int(14)
    );
    assert_eq!(other.cmd(&["GET", "w"]), bulk("14"));
    // A blocked client served by a push to a resident list.
    assert_eq!(c.cmd(&["RPUSH", "q", "x"]), Value::Int(1));
    assert_eq!(c.cmd(&["LPOP", "q"]), bulk("x"));
    let mut blocked = s.conn();
    blocked.send(&[b"BLPOP", b"q", b"10"]);
    assert!(wait_until(Duration::from_secs(5), || {
        info_u64(&mut c, "clients", "blocked_clients") == 1
    }));
    assert_eq!(c.cmd(&["RPUSH", "q", "y"]), Value::Int(1));
    assert_eq!(
        blocked.read_value(),
        Value::Array(vec![bulk("q"), bulk("y")])
    );
    assert_eq!(c.cmd(&["LLEN", "q"]), Value::Int(0));
    assert_eq!(c.cmd(&["EXISTS", "q"]), Value::Int(0));
}

/// A field-level list (quicklist, below the native paths' size for pops) changed at both ends
/// and in the middle: pushes run natively, the other commands load it (field-level lists are
/// never resident since pushes are native at any size) and write back push/pop deltas, else a
/// rewrite; what is on disk is exactly what the commands produced, as a restart shows.
#[test]
fn resident_field_level_list_deltas_match_after_restart() {
    let mut s = disk(&["--appendfsync", "always"]);
    let mut c = s.conn();
    let item = |i: i64| format!("{i:0>100}");
    let mut model: std::collections::VecDeque<String> = (0..300).map(item).collect();
    let mut args = vec!["RPUSH".to_string(), "l".into()];
    args.extend(model.iter().cloned());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(c.cmd(&refs), Value::Int(300));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "l"]), bulk("quicklist"));
    for i in 0..40i64 {
        match i % 8 {
            0 => {
                assert!(c
                    .cmd(&["LPUSH", "l", &item(1000 + i), &item(2000 + i)])
                    .as_int()
                    .is_some());
                model.push_front(item(1000 + i));
                model.push_front(item(2000 + i));
            }
            1 => {
                assert!(c.cmd(&["RPUSH", "l", &item(3000 + i)]).as_int().is_some());
                model.push_back(item(3000 + i));
            }
            2 => {
                assert_eq!(c.cmd(&["LPOP", "l"]), bulk(&model.pop_front().unwrap()));
            }
            3 => {
                let r = c.cmd(&["RPOP", "l", "2"]);
                let want: Vec<Value> = (0..2).map(|_| bulk(&model.pop_back().unwrap())).collect();
                assert_eq!(r, Value::Array(want));
            }
            4 => {
                assert_eq!(c.cmd(&["LSET", "l", "100", &item(4000 + i)]), ok());
                model[100] = item(4000 + i);
            }
            5 => {
                let pivot = model[50].clone();
                assert!(c
                    .cmd(&["LINSERT", "l", "BEFORE", &pivot, &item(5000 + i)])
                    .as_int()
                    .is_some());
                model.insert(50, item(5000 + i));
            }
            6 => {
                // Same length, rotated: neither end matches the old content.
                assert!(c
                    .cmd(&["LMOVE", "l", "l", "LEFT", "RIGHT"])
                    .as_bytes()
                    .is_some());
                let x = model.pop_front().unwrap();
                model.push_back(x);
            }
            _ => {
                assert_eq!(c.cmd(&["LINDEX", "l", "7"]), bulk(&model[7]));
            }
        }
    }
    let want = Value::Array(model.iter().map(|x| bulk(x)).collect());
    assert_eq!(c.cmd(&["LRANGE", "l", "0", "-1"]), want);
    assert_eq!(
        cache_keys(&mut c),
        0,
        "a field-level list is never resident"
    );
    drop(c);
    s.kill();
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["LRANGE", "l", "0", "-1"]), want);
}

fn blind_writes(c: &mut Conn) -> u64 {
    info_u64(c, "disk", "disk_blind_writes")
}

/// Writes to resident keys reuse the engine's token of the state the previous write-back left
/// (no metadata read): the key counter, the expiry index and deletions must stay exact across
/// TTL changes, deletes, reads in between, MULTI, FLUSHDB and SWAPDB.
#[test]
fn blind_writes_of_resident_keys_stay_exact() {
    let mut s = disk(&[]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["SET", "a", "1"]), ok());
    let b0 = blind_writes(&mut c);
    for i in 2..=5 {
        assert_eq!(c.cmd(&["SET", "a", &i.to_string()]), ok());
    }
    assert!(
        blind_writes(&mut c) >= b0 + 4,
        "writes to a resident key without TTL are blind"
    );
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(1));
    // A read in between hands the token back to the resident copy.
    assert_eq!(c.cmd(&["GET", "a"]), bulk("5"));
    let b1 = blind_writes(&mut c);
    assert_eq!(c.cmd(&["APPEND", "a", "x"]), Value::Int(2));
    assert_eq!(blind_writes(&mut c), b1 + 1, "blind after a read");
    // TTL set on a resident key by a blind write, then kept, removed and set again.
    assert_eq!(c.cmd(&["EXPIRE", "a", "100"]), Value::Int(1));
    assert_eq!(c.cmd(&["SET", "a", "6", "KEEPTTL"]), ok());
    assert!(c.cmd(&["TTL", "a"]).as_int().is_some_and(|t| t > 0));
    assert_eq!(c.cmd(&["PERSIST", "a"]), Value::Int(1));
    assert_eq!(c.cmd(&["TTL", "a"]), Value::Int(-1));
    assert_eq!(c.cmd(&["SET", "a", "7"]), ok());
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(1));
    // A TTL written blind reaches the expiry index: the active cycle deletes the key
    // without anyone reading it.
    assert_eq!(c.cmd(&["SET", "t", "v"]), ok());
    assert_eq!(c.cmd(&["SET", "t", "w", "PX", "150"]), ok());
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(2));
    assert!(
        wait_until(Duration::from_secs(10), || c.cmd(&["DBSIZE"])
            == Value::Int(1)),
        "the expiry index misses a TTL written blind"
    );
    // Delete of a resident key, then created again: counted once.
    assert_eq!(c.cmd(&["DEL", "a"]), Value::Int(1));
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(0));
    assert_eq!(c.cmd(&["SET", "a", "8"]), ok());
    assert_eq!(c.cmd(&["SET", "b", "1"]), ok());
    assert_eq!(c.cmd(&["MSET", "a", "9", "b", "2", "c", "3"]), ok());
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(3));
    // MULTI: reads and writes of resident keys in one unit.
    assert_eq!(c.cmd(&["MULTI"]), ok());
    c.cmd(&["GET", "a"]);
    c.cmd(&["SET", "a", "10"]);
    c.cmd(&["DEL", "c"]);
    c.cmd(&["SET", "d", "1"]);
    let r = c.cmd(&["EXEC"]);
    assert_eq!(format!("{r:?}").matches("Bulk").count(), 1, "{r:?}");
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(3));
    assert_eq!(c.cmd(&["SET", "d", "2"]), ok());
    // FLUSHDB between writes.
    assert_eq!(c.cmd(&["FLUSHDB"]), ok());
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(0));
    assert_eq!(c.cmd(&["SET", "a", "11"]), ok());
    assert_eq!(c.cmd(&["SET", "a", "12"]), ok());
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(1));
    // SWAPDB between writes: the resident copies (and their tokens) are of the old mapping.
    assert_eq!(c.cmd(&["SWAPDB", "0", "1"]), ok());
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(0));
    assert_eq!(c.cmd(&["SET", "a", "db0"]), ok());
    assert_eq!(c.cmd(&["SET", "a", "db0b"]), ok());
    assert_eq!(c.cmd(&["SELECT", "1"]), ok());
    assert_eq!(c.cmd(&["GET", "a"]), bulk("12"));
    assert_eq!(c.cmd(&["SET", "a", "db1"]), ok());
    assert_eq!(c.cmd(&["SET", "a", "db1b"]), ok());
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(1));
    assert_eq!(c.cmd(&["SWAPDB", "0", "1"]), ok());
    assert_eq!(c.cmd(&["SET", "a", "db1c"]), ok());
    assert_eq!(c.cmd(&["GET", "a"]), bulk("db1c"));
    assert_eq!(c.cmd(&["SELECT", "0"]), ok());
    assert_eq!(c.cmd(&["GET", "a"]), bulk("db1b"));
    assert_eq!(c.cmd(&["SET", "a", "db0c"]), ok());
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(1));
    // Everything is on disk as acknowledged (the journal is replayed after a crash).
    drop(c);
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "a"]), bulk("db0c"));
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(1));
    assert_eq!(c.cmd(&["SELECT", "1"]), ok());
    assert_eq!(c.cmd(&["GET", "a"]), bulk("db1c"));
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(1));
}

/// SIGKILL after many acknowledged blind writes (`appendfsync always`): nothing is lost and
/// the key counter matches the keys.
#[test]
fn sigkill_after_blind_writes_loses_nothing() {
    let mut s = disk(&["--appendfsync", "always"]);
    let mut c = s.conn();
    for i in 0..50 {
        assert_eq!(c.cmd(&["SET", &format!("k{i}"), "0"]), ok());
    }
    let b0 = blind_writes(&mut c);
    for round in 1..=20 {
        for i in 0..50 {
            let r = c.cmd(&["INCR", &format!("k{i}")]);
            assert_eq!(r, Value::Int(round));
        }
        // Small collections stored as records (listpacks) are written blind too.
        let r = c.cmd(&["RPUSH", "l", &round.to_string()]);
        assert_eq!(r, Value::Int(round));
        let r = c.cmd(&["HSET", "h", &format!("f{}", round % 7), "v"]);
        assert!(r.as_int().is_some(), "{r:?}");
    }
    assert!(blind_writes(&mut c) >= b0 + 1000);
    assert_eq!(c.cmd(&["DEL", "k0", "k1"]), Value::Int(2));
    drop(c);
    s.kill();
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(50));
    assert_eq!(c.cmd(&["GET", "k0"]), Value::Null);
    for i in 2..50 {
        assert_eq!(c.cmd(&["GET", &format!("k{i}")]), bulk("20"));
    }
    assert_eq!(c.cmd(&["LLEN", "l"]), Value::Int(20));
    assert_eq!(c.cmd(&["LINDEX", "l", "-1"]), bulk("20"));
    assert_eq!(c.cmd(&["HLEN", "h"]), Value::Int(7));
}
