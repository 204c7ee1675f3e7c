//! Integration tests of the set commands against the real ferrokv binary: Redis 7.2's
//! encodings and conversions (which the 7.0 oracle cannot check), results of the *STORE
//! commands, big sets, the randomness of SPOP / SRANDMEMBER, SSCAN's guarantee over a big set
//! that changes during the iteration, RESP3 reply types and keyspace hit accounting.

use ferrokv_testkit::{Conn, ServerProc, Value};
use std::collections::{BTreeSet, HashMap, HashSet};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn server() -> (ServerProc, Conn) {
    let s = ServerProc::ferrokv(BIN, &[]);
    let c = s.conn();
    (s, c)
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

fn strs(v: &Value) -> Vec<String> {
    let items: &[Value] = match v {
        Value::Array(a) | Value::Set(a) => a,
        other => panic!("not an aggregate: {other:?}"),
    };
    items
        .iter()
        .map(|x| String::from_utf8(x.as_bytes().expect("bulk").to_vec()).expect("utf8"))
        .collect()
}

fn encoding(c: &mut Conn, key: &str) -> String {
    c.cmd(&["OBJECT", "ENCODING", key])
        .as_str()
        .unwrap_or("?")
        .to_string()
}

/// SADD of many members, in batches of 1000.
fn fill(c: &mut Conn, key: &str, members: &[String]) {
    for chunk in members.chunks(1000) {
        let mut args: Vec<&str> = vec!["SADD", key];
        args.extend(chunk.iter().map(String::as_str));
        assert_eq!(c.cmd(&args), int(chunk.len() as i64));
    }
}

#[test]
fn small_sets_use_intset_and_listpack_in_redis_order() {
    let (_s, mut c) = server();
    c.cmd(&["SADD", "i", "30", "-2", "10", "7"]);
    assert_eq!(encoding(&mut c, "i"), "intset");
    assert_eq!(strs(&c.cmd(&["SMEMBERS", "i"])), ["-2", "7", "10", "30"]);
    // A non-integer turns a small intset into a listpack: integers ascending, then the rest
    // in insertion order.
    c.cmd(&["SADD", "i", "b", "a", "5"]);
    assert_eq!(encoding(&mut c, "i"), "listpack");
    assert_eq!(
        strs(&c.cmd(&["SMEMBERS", "i"])),
        ["-2", "7", "10", "30", "b", "a", "5"]
    );
    // Removing the strings does not bring the intset back.
    c.cmd(&["SREM", "i", "a", "b"]);
    assert_eq!(encoding(&mut c, "i"), "listpack");
    c.cmd(&["SADD", "s", "zeta", "alpha", "mid"]);
    assert_eq!(encoding(&mut c, "s"), "listpack");
    assert_eq!(strs(&c.cmd(&["SMEMBERS", "s"])), ["zeta", "alpha", "mid"]);
    // Non-canonical integers are strings.
    c.cmd(&["SADD", "nc", "007"]);
    assert_eq!(encoding(&mut c, "nc"), "listpack");
    c.cmd(&["SADD", "big", "9223372036854775808"]);
    assert_eq!(encoding(&mut c, "big"), "listpack");
    c.cmd(&[
        "SADD",
        "edge",
        "-9223372036854775808",
        "9223372036854775807",
    ]);
    assert_eq!(encoding(&mut c, "edge"), "intset");
}

#[test]
fn conversions_follow_the_configured_limits() {
    let (_s, mut c) = server();
    let set = |c: &mut Conn, k: &str, v: &str| {
        assert_eq!(c.cmd(&["CONFIG", "SET", k, v]), Value::Simple("OK".into()));
    };
    set(&mut c, "set-max-intset-entries", "3");
    set(&mut c, "set-max-listpack-entries", "4");
    set(&mut c, "set-max-listpack-value", "5");
    c.cmd(&["SADD", "i", "1", "2", "3"]);
    assert_eq!(encoding(&mut c, "i"), "intset");
    c.cmd(&["SADD", "i", "4"]);
    assert_eq!(encoding(&mut c, "i"), "hashtable");
    // More members announced than an intset / listpack may hold: hashtable at once.
    c.cmd(&["SADD", "h", "1", "2", "3", "4"]);
    assert_eq!(encoding(&mut c, "h"), "listpack");
    c.cmd(&["SADD", "h2", "1", "2", "3", "4", "5"]);
    assert_eq!(encoding(&mut c, "h2"), "hashtable");
    c.cmd(&["SADD", "h3", "1"]);
    c.cmd(&["SADD", "h3", "1", "2", "3", "4"]);
    assert_eq!(encoding(&mut c, "h3"), "hashtable");
    // Listpack limits: entries and value length.
    c.cmd(&["SADD", "l", "a", "b", "c", "d"]);
    assert_eq!(encoding(&mut c, "l"), "listpack");
    c.cmd(&["SADD", "l", "e"]);
    assert_eq!(encoding(&mut c, "l"), "hashtable");
    c.cmd(&["SADD", "v", "abcde"]);
    assert_eq!(encoding(&mut c, "v"), "listpack");
    c.cmd(&["SADD", "v", "abcdef"]);
    assert_eq!(encoding(&mut c, "v"), "hashtable");
    // An intset whose integers are longer than the listpack value limit goes to hashtable.
    c.cmd(&["SADD", "w", "123456"]);
    c.cmd(&["SADD", "w", "x"]);
    assert_eq!(encoding(&mut c, "w"), "hashtable");
    // intset + string: a listpack only while the result fits the listpack limits.
    c.cmd(&["SADD", "q", "1", "2", "3"]);
    c.cmd(&["SADD", "q2", "1", "2", "3"]);
    c.cmd(&["SADD", "q", "x"]);
    assert_eq!(encoding(&mut c, "q"), "listpack");
    assert_eq!(strs(&c.cmd(&["SMEMBERS", "q"])), ["1", "2", "3", "x"]);
    set(&mut c, "set-max-listpack-entries", "3");
    c.cmd(&["SADD", "q2", "x"]);
    assert_eq!(encoding(&mut c, "q2"), "hashtable");
    set(&mut c, "set-max-listpack-entries", "4");
    // SMOVE creates its destination like SADD of one member.
    c.cmd(&["SADD", "src", "abc", "7"]);
    c.cmd(&["SMOVE", "src", "d1", "7"]);
    assert_eq!(encoding(&mut c, "d1"), "intset");
    c.cmd(&["SMOVE", "src", "d2", "abc"]);
    assert_eq!(encoding(&mut c, "d2"), "listpack");
    assert_eq!(c.cmd(&["EXISTS", "src"]), int(0));
}

#[test]
fn store_results_get_redis_encodings_and_overwrite_any_type() {
    let (_s, mut c) = server();
    c.cmd(&["SADD", "a", "c", "1", "b", "2", "a"]);
    c.cmd(&["SADD", "b", "a", "2", "c", "9"]);
    // SINTERSTORE walks the smallest set (ties: the first key) and keeps its order.
    assert_eq!(c.cmd(&["SINTERSTORE", "d", "a", "b"]), int(3));
    assert_eq!(encoding(&mut c, "d"), "listpack");
    assert_eq!(strs(&c.cmd(&["SMEMBERS", "d"])), ["a", "2", "c"]);
    // An all-integer intersection becomes an intset.
    c.cmd(&["SADD", "n1", "x", "5", "3", "1"]);
    c.cmd(&["SADD", "n2", "1", "3", "5", "y"]);
    assert_eq!(c.cmd(&["SINTERSTORE", "d", "n1", "n2"]), int(3));
    assert_eq!(encoding(&mut c, "d"), "intset");
    assert_eq!(strs(&c.cmd(&["SMEMBERS", "d"])), ["1", "3", "5"]);
    // SUNIONSTORE starts from an intset (ascending) that becomes a listpack at the first
    // string; later members are appended.
    c.cmd(&["SADD", "i", "9", "4"]);
    assert_eq!(c.cmd(&["SUNIONSTORE", "u", "i", "a"]), int(7));
    assert_eq!(encoding(&mut c, "u"), "listpack");
    assert_eq!(
        strs(&c.cmd(&["SMEMBERS", "u"])),
        ["4", "9", "c", "1", "b", "2", "a"]
    );
    assert_eq!(c.cmd(&["SDIFFSTORE", "df", "a", "b"]), int(2));
    assert_eq!(strs(&c.cmd(&["SMEMBERS", "df"])), ["1", "b"]);
    // Destinations of any type are overwritten; an empty result deletes them.
    c.cmd(&["SET", "str", "v"]);
    c.cmd(&["RPUSH", "lst", "v"]);
    assert_eq!(c.cmd(&["SUNIONSTORE", "str", "i"]), int(2));
    assert_eq!(c.cmd(&["TYPE", "str"]), Value::Simple("set".into()));
    c.cmd(&["SET", "str", "v"]);
    assert_eq!(c.cmd(&["SINTERSTORE", "str", "a", "nokey"]), int(0));
    assert_eq!(c.cmd(&["EXISTS", "str"]), int(0));
    c.cmd(&["SET", "str", "v"]);
    assert_eq!(c.cmd(&["SDIFFSTORE", "str", "a", "a"]), int(0));
    assert_eq!(c.cmd(&["EXISTS", "str"]), int(0));
    // A missing source is an empty set, a wrong-typed one is an error.
    c.cmd(&["SET", "str", "v"]);
    assert!(c.cmd(&["SUNIONSTORE", "d", "a", "str"]).is_error());
    assert!(c.cmd(&["SINTER", "nokey", "str"]).is_error());
}

#[test]
fn big_sets_convert_and_answer() {
    let (_s, mut c) = server();
    let ints: Vec<String> = (0..600).map(|i| (i * 3).to_string()).collect();
    fill(&mut c, "ints", &ints[..500]);
    assert_eq!(encoding(&mut c, "ints"), "intset");
    fill(&mut c, "ints", &ints[500..]);
    assert_eq!(encoding(&mut c, "ints"), "hashtable");
    let members: Vec<String> = (0..20_000).map(|i| format!("member:{i}")).collect();
    fill(&mut c, "big", &members);
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    assert_eq!(c.cmd(&["SCARD", "big"]), int(20_000));
    assert_eq!(c.cmd(&["SISMEMBER", "big", "member:19999"]), int(1));
    assert_eq!(c.cmd(&["SISMEMBER", "big", "member:20000"]), int(0));
    let all: BTreeSet<String> = strs(&c.cmd(&["SMEMBERS", "big"])).into_iter().collect();
    assert_eq!(all.len(), 20_000);
    assert_eq!(c.cmd(&["SINTERCARD", "2", "big", "big"]), int(20_000));
    assert_eq!(
        c.cmd(&["SINTERCARD", "2", "big", "big", "LIMIT", "77"]),
        int(77)
    );
    assert_eq!(c.cmd(&["SUNIONSTORE", "u", "big", "ints"]), int(20_600));
    assert_eq!(c.cmd(&["SDIFFSTORE", "d", "u", "ints"]), int(20_000));
    assert_eq!(c.cmd(&["SINTERSTORE", "x", "u", "ints"]), int(600));
    // 600 integers exceed the intset limit: the intersection stays a hashtable.
    assert_eq!(encoding(&mut c, "x"), "hashtable");
    // Removing almost everything keeps the hashtable.
    let mut args = vec!["SREM", "big"];
    args.extend(members[1..].iter().map(String::as_str));
    assert_eq!(c.cmd(&args), int(19_999));
    assert_eq!(strs(&c.cmd(&["SMEMBERS", "big"])), ["member:0"]);
    assert_eq!(c.cmd(&["SREM", "big", "member:0"]), int(1));
    assert_eq!(c.cmd(&["EXISTS", "big"]), int(0));
}

#[test]
fn spop_and_srandmember_are_distinct_complete_and_spread() {
    let (_s, mut c) = server();
    for (key, members) in [
        ("ints", (0..300).map(|i| i.to_string()).collect::<Vec<_>>()),
        ("small", (0..50).map(|i| format!("s{i}")).collect()),
        ("big", (0..3000).map(|i| format!("b{i}")).collect()),
    ] {
        fill(&mut c, key, &members);
        let n = members.len();
        let universe: HashSet<String> = members.iter().cloned().collect();
        for count in [1, 2, n / 4, n / 2, n - 1, n, n + 10] {
            let got = strs(&c.cmd(&["SRANDMEMBER", key, &count.to_string()]));
            let uniq: HashSet<&String> = got.iter().collect();
            assert_eq!(got.len(), count.min(n), "{key} {count}");
            assert_eq!(uniq.len(), got.len(), "{key} {count}: repeats");
            assert!(got.iter().all(|m| universe.contains(m)));
            let neg = strs(&c.cmd(&["SRANDMEMBER", key, &format!("-{count}")]));
            assert_eq!(neg.len(), count);
            assert!(neg.iter().all(|m| universe.contains(m)));
        }
        // Distribution: every member is picked about as often as the others (60 draws each
        // on average, asked for in replies of at most 10000 members).
        let mut left_draws = 60 * n;
        let mut hits: HashMap<String, usize> = HashMap::new();
        while left_draws > 0 {
            let k = left_draws.min(10_000);
            left_draws -= k;
            for m in strs(&c.cmd(&["SRANDMEMBER", key, &format!("-{k}")])) {
                *hits.entry(m).or_default() += 1;
            }
        }
        assert_eq!(hits.len(), n, "{key}: some member never drawn");
        assert!(
            hits.values().all(|&h| (20..=120).contains(&h)),
            "{key}: skewed draws {:?}",
            (hits.values().min(), hits.values().max())
        );
        // SPOP with counts across the strategies: distinct, removed, nothing lost.
        let mut left = universe.clone();
        for count in [1usize, 3, n / 10, n / 2] {
            let popped = match c.cmd(&["SPOP", key, &count.to_string()]) {
                v @ Value::Array(_) => strs(&v),
                other => panic!("{other:?}"),
            };
            assert_eq!(popped.len(), count.min(left.len()));
            for m in &popped {
                assert!(left.remove(m), "{key}: popped {m} twice or never there");
            }
            assert_eq!(c.cmd(&["SCARD", key]), int(left.len() as i64));
        }
        let m = c.cmd(&["SPOP", key]);
        let m = String::from_utf8(m.as_bytes().expect("member").to_vec()).expect("utf8");
        assert!(left.remove(&m));
        let rest: HashSet<String> = strs(&c.cmd(&["SMEMBERS", key])).into_iter().collect();
        assert_eq!(rest, left);
        let all = strs(&c.cmd(&["SPOP", key, "1000000"]));
        assert_eq!(all.into_iter().collect::<HashSet<_>>(), left);
        assert_eq!(c.cmd(&["EXISTS", key]), int(0));
        assert_eq!(c.cmd(&["SPOP", key, "3"]), Value::Array(vec![]));
        assert_eq!(c.cmd(&["SPOP", key]), Value::Null);
    }
}

#[test]
fn spop_leaving_few_members_rebuilds_the_set() {
    let (_s, mut c) = server();
    let members: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    fill(&mut c, "h", &members);
    assert_eq!(encoding(&mut c, "h"), "hashtable");
    assert_eq!(strs(&c.cmd(&["SPOP", "h", "990"])).len(), 990);
    assert_eq!(encoding(&mut c, "h"), "listpack");
    assert_eq!(c.cmd(&["SCARD", "h"]), int(10));
    let ints: Vec<String> = (0..500).map(|i| i.to_string()).collect();
    fill(&mut c, "i", &ints);
    assert_eq!(strs(&c.cmd(&["SPOP", "i", "495"])).len(), 495);
    assert_eq!(encoding(&mut c, "i"), "intset");
    let rest = strs(&c.cmd(&["SMEMBERS", "i"]));
    let mut sorted = rest.clone();
    sorted.sort_by_key(|s| s.parse::<i64>().unwrap_or(0));
    assert_eq!(rest, sorted);
}

#[test]
fn sscan_returns_every_member_of_a_changing_big_set() {
    let (_s, mut c) = server();
    let members: Vec<String> = (0..10_000).map(|i| format!("k{i}")).collect();
    fill(&mut c, "s", &members);
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    let mut extra = 0;
    loop {
        let reply = c.cmd(&["SSCAN", "s", &cursor, "COUNT", "50"]);
        let parts = reply.as_array().expect("array").to_vec();
        cursor = String::from_utf8(parts[0].as_bytes().expect("cursor").to_vec()).expect("utf8");
        for m in strs(&parts[1]) {
            *seen.entry(m).or_default() += 1;
        }
        calls += 1;
        // Meanwhile: add new members and remove some of the first thousand.
        c.cmd(&[
            "SADD",
            "s",
            &format!("new{extra}"),
            &format!("new{}", extra + 1),
        ]);
        extra += 2;
        if calls <= 500 {
            c.cmd(&["SREM", "s", &format!("k{}", calls - 1)]);
        }
        if cursor == "0" {
            break;
        }
        assert!(calls < 10_000, "SSCAN does not end");
    }
    // Members present for the whole iteration come back, and exactly once here.
    for m in &members[500..] {
        assert_eq!(seen.get(m), Some(&1), "{m}");
    }
    assert!(seen
        .keys()
        .all(|m| m.starts_with('k') || m.starts_with("new")));
    assert!(
        calls > 100,
        "COUNT 50 over 10000 members took only {calls} calls"
    );
    // MATCH filters; small sets come back whole with cursor 0 whatever COUNT says.
    let r = c.cmd(&["SSCAN", "s", "0", "MATCH", "k99*", "COUNT", "100000"]);
    let parts = r.as_array().expect("array");
    let mut got = strs(&parts[1]);
    got.sort();
    let mut want: Vec<String> = members[500..]
        .iter()
        .filter(|m| m.starts_with("k99"))
        .cloned()
        .collect();
    want.sort();
    assert_eq!(got, want);
    c.cmd(&["SADD", "small", "a", "b", "c", "d", "e"]);
    let r = c.cmd(&["SSCAN", "small", "0", "COUNT", "1"]);
    let parts = r.as_array().expect("array");
    assert_eq!(parts[0].as_bytes(), Some(&b"0"[..]));
    assert_eq!(strs(&parts[1]), ["a", "b", "c", "d", "e"]);
}

#[test]
fn resp3_reply_types() {
    let (_s, mut c) = server();
    c.hello3();
    c.cmd(&["SADD", "a", "1", "2", "x"]);
    c.cmd(&["SADD", "b", "2", "x", "y"]);
    for cmd in [
        vec!["SMEMBERS", "a"],
        vec!["SINTER", "a", "b"],
        vec!["SUNION", "a", "b"],
        vec!["SDIFF", "a", "b"],
        vec!["SMEMBERS", "nokey"],
        vec!["SPOP", "nokey", "2"],
    ] {
        assert!(matches!(c.cmd(&cmd), Value::Set(_)), "{cmd:?}");
    }
    assert!(matches!(c.cmd(&["SRANDMEMBER", "a", "2"]), Value::Array(_)));
    assert!(matches!(
        c.cmd(&["SRANDMEMBER", "a", "-5"]),
        Value::Array(_)
    ));
    assert!(matches!(
        c.cmd(&["SMISMEMBER", "a", "1", "9"]),
        Value::Array(_)
    ));
    assert_eq!(c.cmd(&["SRANDMEMBER", "nokey"]), Value::Null);
    assert!(matches!(c.cmd(&["SPOP", "b", "2"]), Value::Set(_)));
    assert!(matches!(c.cmd(&["SPOP", "b", "5"]), Value::Set(_)));
}

#[test]
fn reads_count_keyspace_hits_and_misses() {
    let (_s, mut c) = server();
    let stat = |c: &mut Conn, name: &str| -> i64 {
        let info = c.cmd(&["INFO", "stats"]);
        let text = String::from_utf8_lossy(info.as_bytes().unwrap_or(b"")).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(-1)
    };
    c.cmd(&["SADD", "a", "1"]);
    let (h0, m0) = (
        stat(&mut c, "keyspace_hits"),
        stat(&mut c, "keyspace_misses"),
    );
    if h0 < 0 {
        eprintln!("SKIP hit accounting: INFO stats has no keyspace_hits");
        return;
    }
    c.cmd(&["SISMEMBER", "a", "1"]);
    c.cmd(&["SCARD", "nokey"]);
    c.cmd(&["SINTER", "a", "nokey", "a"]);
    // Writes do not count.
    c.cmd(&["SADD", "a", "2"]);
    c.cmd(&["SREM", "nokey", "2"]);
    assert_eq!(stat(&mut c, "keyspace_hits") - h0, 3);
    assert_eq!(stat(&mut c, "keyspace_misses") - m0, 2);
}
