//! Hash commands against ferrokv alone: encodings and conversion, big hashes, HSCAN and
//! HRANDFIELD properties, Redis 7.4 hash-field expiration (replies, errors, lazy and active
//! expiry) and Redis 8.0's HGETDEL / HGETEX / HSETEX, checked against the documented replies
//! (the 7.0 oracle does not have them; tests/diff_hash.rs covers the rest differentially).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{wait_until, Conn, ServerProc, Value};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn int(n: i64) -> Value {
    Value::Int(n)
}

fn ints(v: &[i64]) -> Value {
    Value::Array(v.iter().map(|&n| Value::Int(n)).collect())
}

fn bulk(s: &str) -> Value {
    Value::bulk(s)
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

fn server() -> ServerProc {
    ServerProc::ferrokv(BIN, &["--enable-debug-command", "yes"])
}

fn hset_many(c: &mut Conn, key: &str, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut argv: Vec<String> = vec!["HSET".into(), key.into()];
        for i in chunk {
            argv.push(format!("f{i}"));
            argv.push(format!("v{i}"));
        }
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        assert!(c.cmd(&refs).as_int().is_some());
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| String::from_utf8(x.as_bytes().unwrap().to_vec()).unwrap())
        .collect()
}

#[test]
fn encodings_follow_the_limits_and_never_convert_back() {
    let s = server();
    let mut c = s.conn();
    c.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "3"]);
    c.cmd(&["CONFIG", "SET", "hash-max-listpack-value", "5"]);
    c.cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "h"]), bulk("listpack"));
    c.cmd(&["HSET", "h", "d", "4"]);
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "h"]), bulk("hashtable"));
    c.cmd(&["HDEL", "h", "a", "b", "c"]);
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "h"]), bulk("hashtable"));
    c.cmd(&["HSET", "v", "f", "12345"]);
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "v"]), bulk("listpack"));
    c.cmd(&["HSET", "v", "f", "123456"]);
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "v"]), bulk("hashtable"));
    c.cmd(&["HSET", "w", "123456", "x"]);
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "w"]), bulk("hashtable"));
    // Small hashes keep insertion order (as Redis's listpack).
    c.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "128"]);
    c.cmd(&["HSET", "o", "z", "1", "a", "2", "m", "3"]);
    c.cmd(&["HSET", "o", "a", "x"]);
    assert_eq!(strings(&c.cmd(&["HKEYS", "o"])), ["z", "a", "m"]);
    // A field TTL makes a small hash listpackex; it stays so after HPERSIST.
    c.cmd(&["HEXPIRE", "o", "100", "FIELDS", "1", "a"]);
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "o"]), bulk("listpackex"));
    c.cmd(&["HPERSIST", "o", "FIELDS", "1", "a"]);
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "o"]), bulk("listpackex"));
    assert_eq!(c.cmd(&["TYPE", "o"]), Value::Simple("hash".into()));
    // Any HEXPIRE on a listpack hash makes it listpackex (even when no TTL is set), as in
    // Redis; HTTL / HPERSIST do not.
    c.cmd(&["HSET", "p", "a", "1"]);
    c.cmd(&["HTTL", "p", "FIELDS", "1", "a"]);
    c.cmd(&["HPERSIST", "p", "FIELDS", "1", "a"]);
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "p"]), bulk("listpack"));
    assert_eq!(
        c.cmd(&["HEXPIRE", "p", "100", "FIELDS", "1", "zz"]),
        ints(&[-2])
    );
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "p"]), bulk("listpackex"));
    // listpackex order (Redis 7.4): fields with a TTL first by expiry, then the others.
    c.cmd(&["HSET", "q", "a", "1", "b", "2", "c", "3", "d", "4"]);
    c.cmd(&["HEXPIRE", "q", "300", "FIELDS", "1", "c"]);
    c.cmd(&["HEXPIRE", "q", "100", "FIELDS", "1", "d"]);
    assert_eq!(strings(&c.cmd(&["HKEYS", "q"])), ["d", "c", "a", "b"]);
    c.cmd(&["HPERSIST", "q", "FIELDS", "1", "d"]);
    assert_eq!(strings(&c.cmd(&["HKEYS", "q"])), ["c", "a", "b", "d"]);
    c.cmd(&["HSET", "q", "c", "x"]);
    assert_eq!(strings(&c.cmd(&["HKEYS", "q"])), ["a", "b", "d", "c"]);
    // Crossing the entry limit converts a listpackex hash too, TTLs kept.
    c.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "4"]);
    c.cmd(&["HEXPIRE", "q", "500", "FIELDS", "1", "a"]);
    c.cmd(&["HSET", "q", "e", "5"]);
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "q"]), bulk("hashtable"));
    assert_eq!(
        c.cmd(&["HTTL", "q", "FIELDS", "2", "a", "e"]),
        ints(&[500, -1])
    );
}

#[test]
fn big_hashes_work_across_conversion() {
    let s = server();
    let mut c = s.conn();
    hset_many(&mut c, "big", 20_000);
    assert_eq!(c.cmd(&["HLEN", "big"]), int(20_000));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "big"]), bulk("hashtable"));
    assert_eq!(c.cmd(&["HGET", "big", "f12345"]), bulk("v12345"));
    let mut argv: Vec<String> = vec!["HDEL".into(), "big".into()];
    for i in (0..20_000).step_by(2) {
        argv.push(format!("f{i}"));
    }
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    assert_eq!(c.cmd(&refs), int(10_000));
    assert_eq!(c.cmd(&["HLEN", "big"]), int(10_000));
    assert_eq!(c.cmd(&["HGET", "big", "f12344"]), Value::Null);
    assert_eq!(c.cmd(&["HGET", "big", "f12345"]), bulk("v12345"));
    let all = c.cmd(&["HGETALL", "big"]);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 20_000);
    let mut m = HashMap::new();
    for p in all.chunks(2) {
        m.insert(
            p[0].as_bytes().unwrap().to_vec(),
            p[1].as_bytes().unwrap().to_vec(),
        );
    }
    assert_eq!(m.len(), 10_000);
    assert!(m.iter().all(|(k, v)| k[1..] == v[1..] && k[0] == b'f'));
    assert_eq!(
        c.cmd(&["HINCRBY", "big", "f1", "5"]),
        err("ERR hash value is not an integer")
    );
    assert_eq!(c.cmd(&["HINCRBY", "big", "n", "5"]), int(5));
    assert_eq!(c.cmd(&["HINCRBYFLOAT", "big", "n", "0.5"]), bulk("5.5"));
    assert_eq!(c.cmd(&["HSTRLEN", "big", "f19999"]), int(6));
}

/// HSCAN over a big hash while it is being modified: every field present for the whole scan
/// is returned at least once (Redis's SCAN guarantee), NOVALUES returns names only.
#[test]
fn hscan_returns_every_stable_field_while_the_hash_changes() {
    let s = server();
    let mut c = s.conn();
    hset_many(&mut c, "h", 5000);
    let mut seen: HashSet<String> = HashSet::new();
    let mut cursor = "0".to_string();
    let mut step = 0;
    loop {
        let r = c.cmd(&["HSCAN", "h", &cursor, "COUNT", "37"]);
        let parts = r.as_array().unwrap();
        cursor = String::from_utf8(parts[0].as_bytes().unwrap().to_vec()).unwrap();
        let items = strings(&parts[1]);
        for p in items.chunks(2) {
            if p[0].starts_with('f') {
                assert_eq!(p[0][1..], p[1][1..]);
            }
            seen.insert(p[0].clone());
        }
        // Churn: delete fields f0..f999 (which may or may not be seen) and add new ones.
        step += 1;
        if step < 1000 {
            c.cmd(&["HDEL", "h", &format!("f{}", step)]);
            c.cmd(&["HSET", "h", &format!("new{step}"), "x"]);
        }
        if cursor == "0" {
            break;
        }
        assert!(step < 100_000);
    }
    for i in 1000..5000 {
        assert!(seen.contains(&format!("f{i}")), "f{i} never returned");
    }
    // NOVALUES and MATCH.
    let r = c.cmd(&[
        "HSCAN", "h", "0", "COUNT", "100000", "MATCH", "f12*", "NOVALUES",
    ]);
    let mut names = strings(&r.as_array().unwrap()[1]);
    names.sort();
    // f12 and f120..f129 were deleted by the churn above.
    let mut want: Vec<String> = (1200..1300).map(|i| format!("f{i}")).collect();
    want.sort();
    assert_eq!(names, want);
    // A small hash: one call, cursor 0, whatever the cursor and COUNT.
    c.cmd(&["HSET", "s", "a", "1", "b", "2", "c", "3"]);
    let r = c.cmd(&["HSCAN", "s", "77", "COUNT", "1", "NOVALUES"]);
    assert_eq!(
        r,
        Value::Array(vec![
            bulk("0"),
            Value::Array(vec![bulk("a"), bulk("b"), bulk("c")])
        ])
    );
    assert_eq!(
        c.cmd(&["HSCAN", "s", "0", "NOVALUES", "x"]),
        err("ERR syntax error")
    );
}

#[test]
fn hrandfield_counts_uniqueness_and_distribution() {
    let s = server();
    let mut c = s.conn();
    for big in [false, true] {
        let key = if big { "big" } else { "small" };
        c.cmd(&["DEL", key]);
        let n = if big { 200 } else { 10 };
        hset_many(&mut c, key, n);
        // Positive counts: distinct fields, min(count, size) of them.
        for count in [1, 3, n / 2, n - 1, n, n + 5] {
            let r = strings(&c.cmd(&["HRANDFIELD", key, &count.to_string()]));
            assert_eq!(r.len(), count.min(n), "{key} {count}");
            let set: HashSet<_> = r.iter().collect();
            assert_eq!(set.len(), r.len(), "{key} {count}: repeated field");
        }
        // WITHVALUES pairs belong together.
        let r = strings(&c.cmd(&["HRANDFIELD", key, "-50", "WITHVALUES"]));
        assert_eq!(r.len(), 100);
        for p in r.chunks(2) {
            assert_eq!(p[0][1..], p[1][1..]);
        }
        // Negative counts may repeat: 20 * size picks must repeat, and every field shows up with
        // a plausible frequency (uniform sampling).
        let picks = 20 * n;
        let r = strings(&c.cmd(&["HRANDFIELD", key, &format!("-{picks}")]));
        assert_eq!(r.len(), picks);
        let mut freq: HashMap<&str, usize> = HashMap::new();
        for f in &r {
            *freq.entry(f.as_str()).or_default() += 1;
        }
        assert!(
            freq.len() > n * 9 / 10,
            "{key}: only {} distinct",
            freq.len()
        );
        assert!(freq.values().all(|&k| k < 20 * 4), "{key}: skewed {freq:?}");
        // Single picks cover the hash.
        let mut single = HashSet::new();
        for _ in 0..(n * 20) {
            single.insert(c.cmd(&["HRANDFIELD", key]).as_bytes().unwrap().to_vec());
        }
        assert!(
            single.len() > n * 8 / 10,
            "{key}: {} distinct single picks",
            single.len()
        );
    }
    // Distinct samples are uniform too: over many HRANDFIELD small 3 calls each field appears.
    let mut freq: HashMap<String, usize> = HashMap::new();
    for _ in 0..300 {
        for f in strings(&c.cmd(&["HRANDFIELD", "small", "3"])) {
            *freq.entry(f).or_default() += 1;
        }
    }
    assert_eq!(freq.len(), 10);
    assert!(freq.values().all(|&k| (30..=160).contains(&k)), "{freq:?}");
}

#[test]
fn hrandfield_and_hgetall_resp3_shapes() {
    let s = server();
    let mut c = s.conn();
    c.hello3();
    c.cmd(&["HSET", "h", "a", "1", "b", "2"]);
    let r = c.cmd(&["HRANDFIELD", "h", "-3", "WITHVALUES"]);
    let items = r.as_array().unwrap();
    assert_eq!(items.len(), 3);
    for it in items {
        let pair = it.as_array().unwrap();
        assert_eq!(pair.len(), 2);
    }
    assert!(c.cmd(&["HGETALL", "h"]).as_map().is_some());
    assert_eq!(c.cmd(&["HGETALL", "nokey"]), Value::Map(vec![]));
    assert_eq!(c.cmd(&["HRANDFIELD", "nokey"]), Value::Null);
}

#[test]
fn hexpire_family_replies_and_errors() {
    let s = server();
    let mut c = s.conn();
    c.cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "100", "FIELDS", "2", "a", "zz"]),
        ints(&[1, -2])
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "nokey", "100", "FIELDS", "2", "a", "b"]),
        ints(&[-2, -2])
    );
    // Conditions: NX (no TTL yet), XX (has TTL), GT/LT (no TTL = infinite).
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "200", "NX", "FIELDS", "2", "a", "b"]),
        ints(&[0, 1])
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "300", "XX", "FIELDS", "2", "a", "c"]),
        ints(&[1, 0])
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "400", "GT", "FIELDS", "2", "a", "c"]),
        ints(&[1, 0])
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "500", "GT", "FIELDS", "1", "a"]),
        ints(&[1])
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "450", "GT", "FIELDS", "1", "a"]),
        ints(&[0])
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "450", "lt", "FIELDS", "2", "a", "c"]),
        ints(&[1, 1])
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "460", "LT", "FIELDS", "1", "a"]),
        ints(&[0])
    );
    let ttl = c.cmd(&["HTTL", "h", "FIELDS", "4", "a", "b", "c", "zz"]);
    let t = ttl.as_array().unwrap();
    assert!((449..=450).contains(&t[0].as_int().unwrap()));
    assert!((199..=200).contains(&t[1].as_int().unwrap()));
    assert_eq!(t[3], int(-2));
    let pt = c
        .cmd(&["HPTTL", "h", "FIELDS", "1", "b"])
        .as_array()
        .unwrap()[0]
        .as_int()
        .unwrap();
    assert!((198_000..=200_000).contains(&pt), "{pt}");
    // Absolute times.
    let at = now_ms() / 1000 + 1000;
    assert_eq!(
        c.cmd(&["HEXPIREAT", "h", &at.to_string(), "FIELDS", "1", "a"]),
        ints(&[1])
    );
    assert_eq!(
        c.cmd(&["HEXPIRETIME", "h", "FIELDS", "1", "a"]),
        ints(&[at])
    );
    assert_eq!(
        c.cmd(&["HPEXPIRETIME", "h", "FIELDS", "1", "a"]),
        ints(&[at * 1000])
    );
    let pat = now_ms() + 5_000_000;
    assert_eq!(
        c.cmd(&["HPEXPIREAT", "h", &pat.to_string(), "FIELDS", "1", "b"]),
        ints(&[1])
    );
    assert_eq!(
        c.cmd(&["HPEXPIRETIME", "h", "FIELDS", "1", "b"]),
        ints(&[pat])
    );
    assert_eq!(
        c.cmd(&["HPEXPIRE", "h", "100000", "FIELDS", "1", "c"]),
        ints(&[1])
    );
    // A time in the past (or 0) deletes the field: code 2; the last field takes the key.
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "0", "FIELDS", "1", "c"]),
        ints(&[2])
    );
    assert_eq!(
        c.cmd(&["HEXPIREAT", "h", "1", "FIELDS", "1", "b"]),
        ints(&[2])
    );
    assert_eq!(c.cmd(&["HLEN", "h"]), int(1));
    assert_eq!(
        c.cmd(&["HPEXPIREAT", "h", "1", "FIELDS", "2", "a", "a"]),
        ints(&[2, -2])
    );
    assert_eq!(c.cmd(&["EXISTS", "h"]), int(0));
    // Errors, in Redis's order.
    c.cmd(&["HSET", "h", "a", "1"]);
    c.cmd(&["SET", "s", "x"]);
    let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
    assert_eq!(
        c.cmd(&["HEXPIRE", "s", "abc", "FIELDS", "1", "a"]),
        err(wrongtype)
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "abc", "FIELDS", "1", "a"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "-1", "FIELDS", "1", "a"]),
        err("ERR invalid expire time, must be >= 0")
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "281474976710655", "FIELDS", "1", "a"]),
        err("ERR invalid expire time in 'hexpire' command")
    );
    assert_eq!(
        c.cmd(&["HPEXPIREAT", "h", "281474976710656", "FIELDS", "1", "a"]),
        err("ERR invalid expire time in 'hpexpireat' command")
    );
    assert_eq!(
        c.cmd(&["HPEXPIREAT", "h", "281474976710655", "FIELDS", "1", "a"]),
        ints(&[1])
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "10", "FIELD", "1", "a"]),
        err("ERR Mandatory argument FIELDS is missing or not at the right position")
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "10", "XY", "FIELDS", "1", "a"]),
        err("ERR Mandatory argument FIELDS is missing or not at the right position")
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "10", "FIELDS", "0", "a"]),
        err("ERR Parameter `numFields` should be greater than 0")
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "10", "FIELDS", "2", "a"]),
        err("ERR The `numfields` parameter must match the number of arguments")
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "10", "NX", "FIELDS", "1"]),
        err("ERR The `numfields` parameter must match the number of arguments")
    );
    assert_eq!(
        c.cmd(&["HEXPIRE", "h", "10", "FIELDS"]),
        err("ERR wrong number of arguments for 'hexpire' command")
    );
}

#[test]
fn httl_and_hpersist_codes() {
    let s = server();
    let mut c = s.conn();
    c.cmd(&["HSET", "h", "a", "1", "b", "2"]);
    c.cmd(&["HEXPIRE", "h", "100", "FIELDS", "1", "a"]);
    for cmd in ["HTTL", "HPTTL", "HEXPIRETIME", "HPEXPIRETIME"] {
        let r = c.cmd(&[cmd, "h", "FIELDS", "2", "b", "zz"]);
        assert_eq!(r, ints(&[-1, -2]), "{cmd}");
        assert_eq!(
            c.cmd(&[cmd, "nokey", "FIELDS", "1", "a"]),
            ints(&[-2]),
            "{cmd}"
        );
        assert_eq!(
            c.cmd(&[cmd, "h", "FIELDS", "0", "a"]),
            err("ERR Number of fields must be a positive integer")
        );
        assert_eq!(
            c.cmd(&[cmd, "h", "FIELDS", "2", "a"]),
            err("ERR The `numfields` parameter must match the number of arguments")
        );
        assert_eq!(
            c.cmd(&[cmd, "h", "FIELDX", "1", "a"]),
            err("ERR Mandatory argument FIELDS is missing or not at the right position")
        );
    }
    assert_eq!(
        c.cmd(&["HPERSIST", "h", "FIELDS", "3", "a", "b", "zz"]),
        ints(&[1, -1, -2])
    );
    assert_eq!(c.cmd(&["HTTL", "h", "FIELDS", "1", "a"]), ints(&[-1]));
    assert_eq!(
        c.cmd(&["HPERSIST", "nokey", "FIELDS", "1", "a"]),
        ints(&[-2])
    );
    // HSET drops a field's TTL; HINCRBY / HINCRBYFLOAT keep it.
    c.cmd(&["HSET", "h", "n", "1"]);
    c.cmd(&["HEXPIRE", "h", "100", "FIELDS", "2", "a", "n"]);
    c.cmd(&["HINCRBY", "h", "n", "1"]);
    c.cmd(&["HINCRBYFLOAT", "h", "n", "1.5"]);
    assert_eq!(c.cmd(&["HTTL", "h", "FIELDS", "1", "n"]), ints(&[100]));
    c.cmd(&["HSET", "h", "a", "x"]);
    assert_eq!(c.cmd(&["HTTL", "h", "FIELDS", "1", "a"]), ints(&[-1]));
    c.cmd(&["SET", "s", "x"]);
    let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
    for cmd in ["HTTL", "HPERSIST", "HGETDEL"] {
        assert_eq!(
            c.cmd(&[cmd, "s", "FIELDS", "1", "a"]),
            err(wrongtype),
            "{cmd}"
        );
    }
    assert_eq!(c.cmd(&["HGETEX", "s", "FIELDS", "1", "a"]), err(wrongtype));
    assert_eq!(
        c.cmd(&["HSETEX", "s", "FIELDS", "1", "a", "b"]),
        err(wrongtype)
    );
}

#[test]
fn expired_fields_are_invisible_before_any_reclaim() {
    let s = server();
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]),
        Value::Simple("OK".into())
    );
    c.cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        c.cmd(&["HPEXPIRE", "h", "50", "FIELDS", "2", "a", "b"]),
        ints(&[1, 1])
    );
    assert!(wait_until(Duration::from_secs(5), || {
        c.cmd(&["HEXISTS", "h", "a"]) == int(0)
    }));
    assert_eq!(c.cmd(&["HGET", "h", "b"]), Value::Null);
    assert_eq!(
        c.cmd(&["HMGET", "h", "a", "b", "c"]),
        Value::Array(vec![Value::Null, Value::Null, bulk("3")])
    );
    assert_eq!(strings(&c.cmd(&["HKEYS", "h"])), ["c"]);
    assert_eq!(strings(&c.cmd(&["HGETALL", "h"])), ["c", "3"]);
    assert_eq!(c.cmd(&["HSTRLEN", "h", "a"]), int(0));
    assert_eq!(c.cmd(&["HTTL", "h", "FIELDS", "1", "a"]), ints(&[-2]));
    assert_eq!(c.cmd(&["HLEN", "h"]), int(1));
    assert_eq!(c.cmd(&["HSETNX", "h", "a", "new"]), int(1));
    assert_eq!(
        c.cmd(&["HRANDFIELD", "h", "10"]).as_array().unwrap().len(),
        2
    );
    // The last field expiring takes the key with it (on access).
    c.cmd(&["HPEXPIRE", "h", "30", "FIELDS", "2", "a", "c"]);
    assert!(wait_until(Duration::from_secs(5), || c.cmd(&["HLEN", "h"]) == int(0)));
    assert_eq!(c.cmd(&["EXISTS", "h"]), int(0));
}

#[test]
fn expired_fields_are_reclaimed_actively() {
    let s = server();
    let mut c = s.conn();
    for k in 0..20 {
        let key = format!("h{k}");
        hset_many(&mut c, &key, if k % 2 == 0 { 5 } else { 300 });
        c.cmd(&["HPEXPIRE", &key, "40", "FIELDS", "2", "f0", "f1"]);
    }
    c.cmd(&["HSET", "gone", "a", "1", "b", "2"]);
    c.cmd(&["HPEXPIRE", "gone", "40", "FIELDS", "2", "a", "b"]);
    // EXISTS and DBSIZE do not reclaim fields: only the active cycle can delete "gone".
    assert!(wait_until(Duration::from_secs(10), || {
        c.cmd(&["EXISTS", "gone"]) == int(0)
    }));
    assert_eq!(c.cmd(&["DBSIZE"]), int(20));
    // The other keys lost exactly their 2 expiring fields.
    for k in 0..20 {
        let key = format!("h{k}");
        let want = if k % 2 == 0 { 3 } else { 298 };
        assert_eq!(c.cmd(&["HLEN", &key]), int(want), "{key}");
    }
}

#[test]
fn hgetdel_returns_and_removes() {
    let s = server();
    let mut c = s.conn();
    c.cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        c.cmd(&["HGETDEL", "h", "FIELDS", "3", "a", "zz", "a"]),
        Value::Array(vec![bulk("1"), Value::Null, Value::Null])
    );
    assert_eq!(c.cmd(&["HLEN", "h"]), int(2));
    assert_eq!(
        c.cmd(&["HGETDEL", "nokey", "FIELDS", "2", "a", "b"]),
        Value::Array(vec![Value::Null, Value::Null])
    );
    assert_eq!(
        c.cmd(&["HGETDEL", "h", "FIELDS", "2", "b", "c"]),
        Value::Array(vec![bulk("2"), bulk("3")])
    );
    assert_eq!(c.cmd(&["EXISTS", "h"]), int(0));
    assert_eq!(
        c.cmd(&["HGETDEL", "h", "FIELD", "1", "a"]),
        err("ERR Mandatory argument FIELDS is missing or not at the right position")
    );
    assert_eq!(
        c.cmd(&["HGETDEL", "h", "FIELDS", "-1", "a"]),
        err("ERR Number of fields must be a positive integer")
    );
    assert_eq!(
        c.cmd(&["HGETDEL", "h", "FIELDS", "2", "a"]),
        err("ERR The `numfields` parameter must match the number of arguments")
    );
    assert_eq!(
        c.cmd(&["HGETDEL", "h", "FIELDS", "1"]),
        err("ERR wrong number of arguments for 'hgetdel' command")
    );
}

#[test]
fn hgetex_sets_or_removes_expiry() {
    let s = server();
    let mut c = s.conn();
    c.cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        c.cmd(&["HGETEX", "h", "EX", "100", "FIELDS", "2", "a", "zz"]),
        Value::Array(vec![bulk("1"), Value::Null])
    );
    assert_eq!(
        c.cmd(&["HTTL", "h", "FIELDS", "2", "a", "b"]),
        ints(&[100, -1])
    );
    c.cmd(&["HGETEX", "h", "PX", "200000", "FIELDS", "1", "b"]);
    let pt = c
        .cmd(&["HPTTL", "h", "FIELDS", "1", "b"])
        .as_array()
        .unwrap()[0]
        .as_int()
        .unwrap();
    assert!((199_000..=200_000).contains(&pt));
    let at = now_ms() / 1000 + 500;
    c.cmd(&["HGETEX", "h", "EXAT", &at.to_string(), "FIELDS", "1", "c"]);
    assert_eq!(
        c.cmd(&["HEXPIRETIME", "h", "FIELDS", "1", "c"]),
        ints(&[at])
    );
    assert_eq!(
        c.cmd(&["HGETEX", "h", "PERSIST", "FIELDS", "2", "a", "c"]),
        Value::Array(vec![bulk("1"), bulk("3")])
    );
    assert_eq!(
        c.cmd(&["HTTL", "h", "FIELDS", "3", "a", "b", "c"])
            .as_array()
            .unwrap()[0],
        int(-1)
    );
    // Plain HGETEX is HMGET.
    assert_eq!(
        c.cmd(&["HGETEX", "h", "FIELDS", "1", "b"]),
        Value::Array(vec![bulk("2")])
    );
    // A time in the past deletes the fields after returning them.
    assert_eq!(
        c.cmd(&["HGETEX", "h", "PXAT", "1", "FIELDS", "1", "a"]),
        Value::Array(vec![bulk("1")])
    );
    assert_eq!(c.cmd(&["HEXISTS", "h", "a"]), int(0));
    c.cmd(&["HGETEX", "h", "EX", "0", "FIELDS", "2", "b", "c"]);
    assert_eq!(c.cmd(&["EXISTS", "h"]), int(0));
    assert_eq!(
        c.cmd(&["HGETEX", "nokey", "EX", "10", "FIELDS", "1", "a"]),
        Value::Array(vec![Value::Null])
    );
    assert_eq!(
        c.cmd(&["HGETEX", "h", "EX", "-1", "FIELDS", "1", "a"]),
        err("ERR invalid expire time, must be >= 0")
    );
    assert_eq!(
        c.cmd(&["HGETEX", "h", "EX", "x", "FIELDS", "1", "a"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.cmd(&["HGETEX", "h", "EXX", "1", "FIELDS", "1", "a"]),
        err("ERR Mandatory argument FIELDS is missing or not at the right position")
    );
    assert_eq!(
        c.cmd(&["HGETEX", "h", "PERSIST", "FIELDS", "3", "a"]),
        err("ERR The `numfields` parameter must match the number of arguments")
    );
}

#[test]
fn hsetex_conditions_and_expiry() {
    let s = server();
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&["HSETEX", "h", "FXX", "FIELDS", "1", "a", "1"]),
        int(0)
    );
    assert_eq!(c.cmd(&["EXISTS", "h"]), int(0));
    assert_eq!(
        c.cmd(&["HSETEX", "h", "FNX", "EX", "100", "FIELDS", "2", "a", "1", "b", "2"]),
        int(1)
    );
    assert_eq!(
        c.cmd(&["HTTL", "h", "FIELDS", "2", "a", "b"]),
        ints(&[100, 100])
    );
    assert_eq!(
        c.cmd(&["HSETEX", "h", "FNX", "FIELDS", "2", "c", "3", "a", "x"]),
        int(0)
    );
    assert_eq!(c.cmd(&["HGET", "h", "a"]), bulk("1"));
    assert_eq!(
        c.cmd(&["HSETEX", "h", "FXX", "KEEPTTL", "FIELDS", "1", "a", "x"]),
        int(1)
    );
    assert_eq!(c.cmd(&["HTTL", "h", "FIELDS", "1", "a"]), ints(&[100]));
    assert_eq!(c.cmd(&["HGET", "h", "a"]), bulk("x"));
    assert_eq!(c.cmd(&["HSETEX", "h", "FIELDS", "1", "a", "y"]), int(1));
    assert_eq!(c.cmd(&["HTTL", "h", "FIELDS", "1", "a"]), ints(&[-1]));
    assert_eq!(
        c.cmd(&["HSETEX", "h", "FXX", "PX", "5000", "FIELDS", "2", "a", "1", "zz", "2"]),
        int(0)
    );
    let pat = now_ms() + 1_000_000;
    assert_eq!(
        c.cmd(&[
            "HSETEX",
            "h",
            "PXAT",
            &pat.to_string(),
            "FIELDS",
            "1",
            "n",
            "1"
        ]),
        int(1)
    );
    assert_eq!(
        c.cmd(&["HPEXPIRETIME", "h", "FIELDS", "1", "n"]),
        ints(&[pat])
    );
    // A time in the past: the fields are set and immediately deleted.
    assert_eq!(
        c.cmd(&["HSETEX", "h", "EXAT", "1", "FIELDS", "1", "p", "1"]),
        int(1)
    );
    assert_eq!(c.cmd(&["HEXISTS", "h", "p"]), int(0));
    assert_eq!(
        c.cmd(&["HSETEX", "g", "PXAT", "1", "FIELDS", "1", "p", "1"]),
        int(1)
    );
    assert_eq!(c.cmd(&["EXISTS", "g"]), int(0));
    // Errors.
    assert_eq!(
        c.cmd(&["HSETEX", "h", "FNX", "FXX", "FIELDS", "1", "a", "1"]),
        err("ERR Only one of FXX or FNX arguments can be specified")
    );
    assert_eq!(
        c.cmd(&["HSETEX", "h", "EX", "10", "PX", "10", "FIELDS", "1", "a", "1"]),
        err("ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified")
    );
    assert_eq!(
        c.cmd(&["HSETEX", "h", "KEEPTTL", "EX", "10", "FIELDS", "1", "a", "1"]),
        err("ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified")
    );
    assert_eq!(
        c.cmd(&["HSETEX", "h", "FIELDS", "0", "a", "1"]),
        err("ERR invalid number of fields")
    );
    assert_eq!(
        c.cmd(&["HSETEX", "h", "FIELDS", "2", "a", "1"]),
        err("ERR wrong number of arguments for 'hsetex' command")
    );
    assert_eq!(
        c.cmd(&["HSETEX", "h", "FIELDS", "1", "a", "1", "b"]),
        err("ERR wrong number of arguments for 'hsetex' command")
    );
    assert_eq!(
        c.cmd(&["HSETEX", "h", "FOO", "FIELDS", "1", "a", "1"]),
        err("ERR unknown argument: FOO")
    );
    assert_eq!(
        c.cmd(&["HSETEX", "h", "EX", "-5", "FIELDS", "1", "a", "1"]),
        err("ERR invalid expire time, must be >= 0")
    );
    assert_eq!(
        c.cmd(&[
            "HSETEX",
            "h",
            "EX",
            "9999999999999",
            "FIELDS",
            "1",
            "a",
            "1"
        ]),
        err("ERR invalid expire time in 'hsetex' command")
    );
}

#[test]
fn new_commands_are_in_command_info() {
    let s = server();
    let mut c = s.conn();
    for (name, arity) in [
        ("hgetdel", -5),
        ("hgetex", -5),
        ("hsetex", -6),
        ("hexpire", -6),
        ("httl", -5),
    ] {
        let r = c.cmd(&["COMMAND", "INFO", name]);
        let info = r.as_array().unwrap()[0].as_array().unwrap().to_vec();
        assert_eq!(info[0], bulk(name));
        assert_eq!(info[1], int(arity), "{name}");
    }
}

/// Random sequences of the field-expiry and Redis 8 commands checked against a model (the
/// oracle has none of them). TTLs are either far in the future or in the past, so the outcome
/// does not depend on timing.
#[test]
fn field_expiry_commands_match_a_model() {
    let s = server();
    let mut c = s.conn();
    c.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "4"]);
    let mut seed: u64 = std::env::var("FERROKV_PROP_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| now_ms() as u64);
    eprintln!("seed {seed}");
    let mut rnd = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    // field -> (value, has_ttl)
    let mut m: std::collections::BTreeMap<String, (String, bool)> = Default::default();
    let far = (now_ms() + 10_000_000).to_string();
    for step in 0..3000 {
        let f = format!("f{}", rnd(8));
        let g = format!("f{}", rnd(8));
        let v = format!("v{step}");
        match rnd(8) {
            0 => {
                let r = c.cmd(&["HSET", "h", &f, &v]);
                assert_eq!(r, int(i64::from(!m.contains_key(&f))));
                m.insert(f, (v, false));
            }
            1 => {
                let past = rnd(3) == 0;
                let t = if past { "1" } else { far.as_str() };
                let r = c.cmd(&["HPEXPIREAT", "h", t, "FIELDS", "2", &f, &g]);
                let mut want = Vec::new();
                for x in [&f, &g] {
                    if !m.contains_key(x.as_str()) {
                        want.push(-2);
                    } else if past {
                        m.remove(x.as_str());
                        want.push(2);
                    } else {
                        m.get_mut(x.as_str()).unwrap().1 = true;
                        want.push(1);
                    }
                }
                assert_eq!(r, ints(&want), "step {step}");
            }
            2 => {
                let r = c.cmd(&["HPERSIST", "h", "FIELDS", "1", &f]);
                let want = match m.get_mut(&f) {
                    None => -2,
                    Some((_, false)) => -1,
                    Some(e) => {
                        e.1 = false;
                        1
                    }
                };
                assert_eq!(r, ints(&[want]), "step {step}");
            }
            3 => {
                let r = c.cmd(&["HGETDEL", "h", "FIELDS", "1", &f]);
                let want = m.remove(&f).map_or(Value::Null, |(v, _)| bulk(&v));
                assert_eq!(r, Value::Array(vec![want]), "step {step}");
            }
            4 => {
                let cond = ["", "FNX", "FXX"][rnd(3) as usize];
                let mut argv = vec!["HSETEX", "h"];
                if !cond.is_empty() {
                    argv.push(cond);
                }
                let keep = rnd(2) == 0;
                if keep {
                    argv.push("KEEPTTL");
                } else {
                    argv.extend(["PXAT", far.as_str()]);
                }
                argv.extend(["FIELDS", "1", &f, &v]);
                let exists = m.contains_key(&f);
                let ok = match cond {
                    "FNX" => !exists,
                    "FXX" => exists,
                    _ => true,
                };
                assert_eq!(c.cmd(&argv), int(i64::from(ok)), "step {step}");
                if ok {
                    let ttl = if keep {
                        m.get(&f).is_some_and(|e| e.1)
                    } else {
                        true
                    };
                    m.insert(f, (v, ttl));
                }
            }
            5 => {
                let r = c.cmd(&["HGETEX", "h", "PERSIST", "FIELDS", "1", &f]);
                let want = m.get_mut(&f).map_or(Value::Null, |e| {
                    e.1 = false;
                    bulk(&e.0)
                });
                assert_eq!(r, Value::Array(vec![want]), "step {step}");
            }
            6 => {
                c.cmd(&["HINCRBY", "h", "n", "1"]);
                let n = m.get("n").map_or(0, |e| e.0.parse::<i64>().unwrap_or(0)) + 1;
                let ttl = m.get("n").is_some_and(|e| e.1);
                m.insert("n".into(), (n.to_string(), ttl));
            }
            _ => {
                let r = c.cmd(&["HPTTL", "h", "FIELDS", "1", &f]);
                let got = r.as_array().unwrap()[0].as_int().unwrap();
                match m.get(&f) {
                    None => assert_eq!(got, -2, "step {step}"),
                    Some((_, false)) => assert_eq!(got, -1, "step {step}"),
                    Some((_, true)) => assert!(got > 1_000_000, "step {step}: {got}"),
                }
            }
        }
        if step % 50 == 0 {
            let all = c.cmd(&["HGETALL", "h"]);
            let mut got: Vec<(String, String)> = strings(&all)
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect();
            got.sort();
            let want: Vec<(String, String)> =
                m.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect();
            assert_eq!(got, want, "step {step}");
            assert_eq!(c.cmd(&["EXISTS", "h"]), int(i64::from(!m.is_empty())));
        }
    }
}
