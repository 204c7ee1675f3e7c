//! Integration tests of the list commands against the real ferrokv binary: Redis 7.2's
//! encodings and conversions (`listpack` / `quicklist`, `list-max-listpack-size`), big lists,
//! WRONGTYPE on every command, deletion of emptied lists, the blocking commands' serve-at-once
//! and timeout paths, and behaviour that differs from the 7.0 oracle (checked here without it).

use ferrokv_testkit::{wait_until, Conn, ServerProc, Value};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn server() -> (ServerProc, Conn) {
    let s = ServerProc::ferrokv(BIN, &["--enable-debug-command", "yes"]);
    let c = s.conn();
    (s, c)
}

fn bulk(s: &str) -> Value {
    Value::Bulk(s.as_bytes().to_vec())
}

fn bulks(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| bulk(s)).collect())
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

fn ok() -> Value {
    Value::Simple("OK".into())
}

/// OBJECT ENCODING of `key`, through DEBUG OBJECT while OBJECT is not implemented.
fn encoding(c: &mut Conn, key: &str) -> String {
    match c.cmd(&["OBJECT", "ENCODING", key]) {
        Value::Bulk(b) => return String::from_utf8_lossy(&b).into_owned(),
        Value::Error(e) if e.starts_with("ERR unknown command") => {}
        other => panic!("OBJECT ENCODING {key}: {other:?}"),
    }
    let v = c.cmd(&["DEBUG", "OBJECT", key]);
    let text = match &v {
        Value::Simple(s) => s.clone(),
        other => panic!("DEBUG OBJECT {key}: {other:?}"),
    };
    text.split(' ')
        .find_map(|w| w.strip_prefix("encoding:"))
        .unwrap_or_default()
        .to_string()
}

fn exists(c: &mut Conn, key: &str) -> bool {
    match c.cmd(&["EXISTS", key]) {
        Value::Int(n) => n == 1,
        other => panic!("EXISTS: {other:?}"),
    }
}

#[test]
fn pushes_pops_and_ranges() {
    let (_s, mut c) = server();
    assert_eq!(c.cmd(&["RPUSH", "l", "a", "b", "c"]), int(3));
    assert_eq!(c.cmd(&["LPUSH", "l", "x", "y"]), int(5));
    assert_eq!(
        c.cmd(&["LRANGE", "l", "0", "-1"]),
        bulks(&["y", "x", "a", "b", "c"])
    );
    assert_eq!(c.cmd(&["LPOP", "l"]), bulk("y"));
    assert_eq!(c.cmd(&["RPOP", "l", "2"]), bulks(&["c", "b"]));
    assert_eq!(c.cmd(&["LPOP", "l", "0"]), Value::Array(vec![]));
    assert_eq!(c.cmd(&["LPOP", "missing", "2"]), Value::NullArray);
    assert_eq!(c.cmd(&["LPUSHX", "missing", "a"]), int(0));
    assert!(!exists(&mut c, "missing"));
    assert_eq!(c.cmd(&["LLEN", "l"]), int(2));
    assert_eq!(c.cmd(&["LINDEX", "l", "-1"]), bulk("a"));
    assert_eq!(c.cmd(&["LSET", "l", "1", "A"]), ok());
    assert_eq!(c.cmd(&["LINSERT", "l", "BEFORE", "A", "m"]), int(3));
    assert_eq!(c.cmd(&["LRANGE", "l", "0", "-1"]), bulks(&["x", "m", "A"]));
    assert_eq!(c.cmd(&["LPOS", "l", "A"]), int(2));
}

#[test]
fn lpop_with_count_on_a_missing_key_is_a_null_array_in_both_protocols() {
    let (_s, mut c) = server();
    assert_eq!(c.cmd_raw(&[b"LPOP", b"nokey", b"1"]), b"*-1\r\n");
    assert_eq!(c.cmd_raw(&[b"LPOP", b"nokey"]), b"$-1\r\n");
    c.hello3();
    assert_eq!(c.cmd_raw(&[b"LPOP", b"nokey", b"1"]), b"_\r\n");
    assert_eq!(c.cmd_raw(&[b"RPOP", b"nokey"]), b"_\r\n");
}

#[test]
fn small_lists_are_listpack_and_convert_at_the_count_limit() {
    let (_s, mut c) = server();
    assert_eq!(c.cmd(&["RPUSH", "l", "a", "b"]), int(2));
    assert_eq!(encoding(&mut c, "l"), "listpack");
    // Redis 7.2's tests: fill 4, the fifth element converts; back at half with one node.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "list-max-listpack-size", "4"]),
        ok()
    );
    c.cmd(&["DEL", "l"]);
    c.cmd(&["RPUSH", "l", "a", "b", "c", "d"]);
    assert_eq!(encoding(&mut c, "l"), "listpack");
    c.cmd(&["RPUSH", "l", "e"]);
    assert_eq!(encoding(&mut c, "l"), "quicklist");
    c.cmd(&["RPOP", "l"]);
    assert_eq!(encoding(&mut c, "l"), "quicklist", "4 entries > half of 4");
    c.cmd(&["RPOP", "l", "2"]);
    assert_eq!(encoding(&mut c, "l"), "listpack", "2 entries = half of 4");
    // One multi-element push that would overflow converts before pushing.
    c.cmd(&["RPUSH", "m", "a", "b", "c", "d", "e"]);
    assert_eq!(encoding(&mut c, "m"), "quicklist");
    assert_eq!(c.cmd(&["RPOP", "m", "3"]), bulks(&["e", "d", "c"]));
    assert_eq!(encoding(&mut c, "m"), "listpack");
    // LINSERT and LSET convert when the new element would not fit.
    c.cmd(&["RPUSH", "n", "a", "b", "c", "d"]);
    assert_eq!(c.cmd(&["LINSERT", "n", "AFTER", "b", "x"]), int(5));
    assert_eq!(encoding(&mut c, "n"), "quicklist");
    assert_eq!(
        c.cmd(&["LRANGE", "n", "0", "-1"]),
        bulks(&["a", "b", "x", "c", "d"])
    );
    // LREM and LTRIM shrink back.
    assert_eq!(c.cmd(&["LREM", "n", "0", "x"]), int(1));
    assert_eq!(encoding(&mut c, "n"), "quicklist");
    assert_eq!(c.cmd(&["LTRIM", "n", "0", "1"]), ok());
    assert_eq!(encoding(&mut c, "n"), "listpack");
}

#[test]
fn size_limited_fill_converts_on_bytes() {
    let (_s, mut c) = server();
    // Default fill -2: 8 KiB per node.
    let big = "x".repeat(5000);
    c.cmd(&["RPUSH", "l", &big]);
    assert_eq!(encoding(&mut c, "l"), "listpack");
    c.cmd(&["RPUSH", "l", &big]);
    assert_eq!(encoding(&mut c, "l"), "quicklist");
    c.cmd(&["RPOP", "l"]);
    assert_eq!(encoding(&mut c, "l"), "quicklist", "5000 bytes > 4 KiB");
    assert_eq!(c.cmd(&["LSET", "l", "0", "small"]), ok());
    assert_eq!(encoding(&mut c, "l"), "listpack", "LSET shrinks too");
    // A single element above the limit makes a quicklist at once.
    let huge = "y".repeat(9000);
    c.cmd(&["RPUSH", "h", &huge]);
    assert_eq!(encoding(&mut c, "h"), "quicklist");
    // Many small integers stay in a listpack up to 8 KiB (2 bytes each: ~4000).
    let mut args: Vec<String> = vec!["RPUSH".into(), "ints".into()];
    args.extend((0..3000).map(|i| (i % 100).to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(c.cmd(&refs), int(3000));
    assert_eq!(encoding(&mut c, "ints"), "listpack");
    // -1 = 4 KiB: the same list no longer fits one node.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "list-max-listpack-size", "-1"]),
        ok()
    );
    let refs: Vec<&str> = refs
        .iter()
        .map(|s| if *s == "ints" { "ints2" } else { s })
        .collect();
    c.cmd(&refs);
    assert_eq!(encoding(&mut c, "ints2"), "quicklist");
}

#[test]
fn big_lists_of_100k_elements() {
    let (_s, mut c) = server();
    for chunk in 0..100 {
        let mut args: Vec<String> = vec!["RPUSH".into(), "big".into()];
        args.extend((0..1000).map(|i| format!("e{}", chunk * 1000 + i)));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(c.cmd(&refs), int((chunk + 1) * 1000));
    }
    assert_eq!(encoding(&mut c, "big"), "quicklist");
    assert_eq!(c.cmd(&["LLEN", "big"]), int(100_000));
    let t = Instant::now();
    for i in [0i64, 1, 49_999, 50_000, 99_999, -1, -50_000] {
        let want = if i < 0 { 100_000 + i } else { i };
        assert_eq!(
            c.cmd(&["LINDEX", "big", &i.to_string()]),
            bulk(&format!("e{want}"))
        );
    }
    assert_eq!(
        c.cmd(&["LRANGE", "big", "70000", "70002"]),
        bulks(&["e70000", "e70001", "e70002"])
    );
    assert_eq!(c.cmd(&["LPOS", "big", "e99998"]), int(99_998));
    assert_eq!(c.cmd(&["LPOS", "big", "e1", "RANK", "-1"]), int(1));
    assert_eq!(c.cmd(&["LSET", "big", "60000", "changed"]), ok());
    assert_eq!(c.cmd(&["LINDEX", "big", "60000"]), bulk("changed"));
    assert_eq!(
        c.cmd(&["LINSERT", "big", "AFTER", "changed", "new"]),
        int(100_001)
    );
    assert_eq!(c.cmd(&["LINDEX", "big", "60001"]), bulk("new"));
    // Pops at both ends: one element each, many at once.
    assert_eq!(c.cmd(&["LPOP", "big"]), bulk("e0"));
    assert_eq!(c.cmd(&["RPOP", "big"]), bulk("e99999"));
    match c.cmd(&["LPOP", "big", "10000"]) {
        Value::Array(a) => {
            assert_eq!(a.len(), 10_000);
            assert_eq!(a[0], bulk("e1"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.cmd(&["LLEN", "big"]), int(89_999));
    assert_eq!(c.cmd(&["LTRIM", "big", "10", "-10"]), ok());
    assert_eq!(c.cmd(&["LLEN", "big"]), int(89_980));
    assert!(t.elapsed() < Duration::from_secs(20));
    // A whole big list is deleted (lazily freed) like any key.
    assert_eq!(c.cmd(&["DEL", "big"]), int(1));
    assert!(!exists(&mut c, "big"));
}

#[test]
fn every_command_rejects_other_types() {
    let (_s, mut c) = server();
    c.cmd(&["SET", "s", "v"]);
    let wrong = "WRONGTYPE Operation against a key holding the wrong kind of value";
    let cmds: &[&[&str]] = &[
        &["LPUSH", "s", "a"],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["RPOP", "s", "2"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "-1"],
        &["LINDEX", "s", "0"],
        &["LSET", "s", "0", "x"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LPOS", "s", "a"],
        &["LMOVE", "s", "d", "LEFT", "LEFT"],
        &["RPOPLPUSH", "s", "d"],
        &["LMPOP", "1", "s", "LEFT"],
        &["BLPOP", "s", "0"],
        &["BRPOP", "nokey", "s", "0"],
        &["BLMOVE", "s", "d", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "s", "d", "0"],
        &["BLMPOP", "0", "2", "nokey", "s", "LEFT"],
    ];
    for cmd in cmds {
        assert_eq!(c.cmd(cmd), Value::Error(wrong.into()), "{cmd:?}");
    }
    // The destination's type is checked before anything is popped.
    c.cmd(&["RPUSH", "src", "a"]);
    assert_eq!(
        c.cmd(&["LMOVE", "src", "s", "LEFT", "LEFT"]),
        Value::Error(wrong.into())
    );
    assert_eq!(c.cmd(&["LLEN", "src"]), int(1));
    assert_eq!(c.cmd(&["GET", "s"]), bulk("v"));
}

#[test]
fn emptied_lists_are_deleted() {
    let (_s, mut c) = server();
    let cases: &[&[&str]] = &[
        &["LPOP", "k"],
        &["RPOP", "k", "5"],
        &["LREM", "k", "0", "a"],
        &["LTRIM", "k", "5", "10"],
        &["LMOVE", "k", "other", "LEFT", "LEFT"],
        &["RPOPLPUSH", "k", "other"],
        &["LMPOP", "1", "k", "LEFT", "COUNT", "9"],
        &["BLPOP", "k", "0"],
        &["BLMPOP", "0", "1", "k", "RIGHT"],
        &["BLMOVE", "k", "other", "LEFT", "LEFT", "0"],
    ];
    for cmd in cases {
        c.cmd(&["DEL", "k"]);
        assert_eq!(c.cmd(&["RPUSH", "k", "a"]), int(1));
        let r = c.cmd(cmd);
        assert!(!r.is_error(), "{cmd:?}: {r:?}");
        assert!(!exists(&mut c, "k"), "{cmd:?} left an empty list");
    }
    // Moving the only element of a list onto itself keeps it.
    c.cmd(&["RPUSH", "self", "x"]);
    assert_eq!(
        c.cmd(&["LMOVE", "self", "self", "LEFT", "RIGHT"]),
        bulk("x")
    );
    assert_eq!(c.cmd(&["LRANGE", "self", "0", "-1"]), bulks(&["x"]));
}

#[test]
fn lpos_rank_limits_follow_redis_7_2() {
    let (_s, mut c) = server();
    c.cmd(&["RPUSH", "l", "a", "b", "a"]);
    // 7.2 rejects LONG_MIN (7.0 negated it and overflowed).
    assert_eq!(
        c.cmd(&["LPOS", "l", "a", "RANK", "-9223372036854775808"]),
        Value::Error(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
                .into()
        )
    );
    assert_eq!(
        c.cmd(&["LPOS", "l", "a", "RANK", "-9223372036854775807"]),
        Value::Null
    );
    assert_eq!(c.cmd(&["LPOS", "l", "a", "RANK", "-1"]), int(2));
    assert_eq!(
        c.cmd(&["LPOS", "l", "a", "RANK", "-1", "COUNT", "0"]),
        Value::Array(vec![int(2), int(0)])
    );
}

#[test]
fn blocking_commands_serve_at_once_when_data_is_there() {
    let (_s, mut c) = server();
    c.cmd(&["RPUSH", "a", "1", "2", "3"]);
    assert_eq!(c.cmd(&["BLPOP", "nokey", "a", "0"]), bulks(&["a", "1"]));
    assert_eq!(c.cmd(&["BRPOP", "a", "nokey", "0"]), bulks(&["a", "3"]));
    assert_eq!(
        c.cmd(&["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"]),
        bulk("2")
    );
    assert!(!exists(&mut c, "a"));
    assert_eq!(c.cmd(&["BRPOPLPUSH", "b", "c", "0"]), bulk("2"));
    c.cmd(&["RPUSH", "m", "x", "y", "z"]);
    assert_eq!(
        c.cmd(&["BLMPOP", "0", "2", "nokey", "m", "RIGHT", "COUNT", "2"]),
        Value::Array(vec![bulk("m"), bulks(&["z", "y"])])
    );
}

#[test]
fn blocking_commands_time_out_with_a_null_array() {
    let (_s, mut c) = server();
    let t = Instant::now();
    assert_eq!(c.cmd_raw(&[b"BLPOP", b"nokey", b"0.05"]), b"*-1\r\n");
    assert_eq!(c.cmd_raw(&[b"BRPOP", b"nokey", b"0.05"]), b"*-1\r\n");
    assert_eq!(
        c.cmd_raw(&[b"BLMOVE", b"nokey", b"d", b"LEFT", b"LEFT", b"0.05"]),
        b"*-1\r\n"
    );
    assert_eq!(
        c.cmd_raw(&[b"BRPOPLPUSH", b"nokey", b"d", b"0.05"]),
        b"*-1\r\n"
    );
    assert_eq!(
        c.cmd_raw(&[b"BLMPOP", b"0.05", b"1", b"nokey", b"LEFT"]),
        b"*-1\r\n"
    );
    assert!(t.elapsed() < Duration::from_secs(10));
    c.hello3();
    assert_eq!(c.cmd_raw(&[b"BLPOP", b"nokey", b"0.05"]), b"_\r\n");
    // Argument errors come before any blocking.
    assert_eq!(
        c.cmd(&["BLPOP", "k", "-1"]),
        Value::Error("ERR timeout is negative".into())
    );
    assert_eq!(
        c.cmd(&["BLMPOP", "abc", "0", "k", "LEFT"]),
        Value::Error("ERR numkeys should be greater than 0".into())
    );
}

/// Needs the blocking layer (the stub answers the timeout reply at once).
#[test]
fn blpop_is_woken_by_a_push_from_another_client() {
    let (s, mut c) = server();
    let mut waiter = s.conn();
    waiter.send(&[b"BLPOP", b"q", b"0"]);
    // The waiter is parked once CLIENT LIST shows it blocked; poll for it.
    wait_until(
        Duration::from_secs(5),
        || matches!(c.cmd(&["INFO", "clients"]), Value::Bulk(b) if String::from_utf8_lossy(&b).contains("blocked_clients:1")),
    );
    assert_eq!(c.cmd(&["RPUSH", "q", "hello"]), int(1));
    assert_eq!(waiter.read_value(), bulks(&["q", "hello"]));
    assert!(!exists(&mut c, "q"));
}
