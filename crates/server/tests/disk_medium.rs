//! Medium collections on the disk engine (issue #7, docs/disk-engine.md §6 "Native element
//! paths"): field-level sorted sets and lists below `NATIVE_MIN_LEN` (1024) are written natively
//! (ZADD/ZINCRBY/ZREM/ZSCORE/ZCARD/ZRANK at any field-level size, LPUSH/RPUSH/LINDEX/LLEN on any
//! field-level list), never kept resident in the hot-object cache, and compact collections are
//! stored as plain-encoded records. Checked against redis-server (replies), against ferrokv's
//! memory engine (OBJECT ENCODING across conversions, which Redis 7.0 reports differently for
//! lists), across a restart, and across SIGKILLs with `appendfsync always`.
//! ferrokv always runs on the disk engine here, whatever `FERROKV_TEST_ENGINE` says.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{encode_command, normalise_doubles, Conn, Diff, ServerProc, Value};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

/// Members / elements of the medium keys: above every compact limit, below 1024.
const N: usize = 300;

fn disk_args() -> Vec<&'static str> {
    vec!["--storage-engine", "disk"]
}

fn pipeline(c: &mut Conn, cmds: &[Vec<String>]) -> Vec<Value> {
    let mut buf = Vec::new();
    for a in cmds {
        let args: Vec<&[u8]> = a.iter().map(|s| s.as_bytes()).collect();
        buf.extend_from_slice(&encode_command(&args));
    }
    c.send_raw(&buf);
    cmds.iter().map(|_| c.read_value()).collect()
}

/// A 64-byte list element (300 of them pass the 8 KB listpack limit: a quicklist).
fn elem(i: usize) -> String {
    format!("{i:0>64}")
}

/// Builds a `skiplist` sorted set `z`, a `quicklist` list `l`, and the small `zs` / `ls`.
fn build(c: &mut Conn) {
    let mut cmds = Vec::new();
    for i in 0..N {
        cmds.push(vec![
            "ZADD".to_string(),
            "z".into(),
            format!("{}", i % 37),
            format!("m{i}"),
        ]);
        cmds.push(vec!["RPUSH".to_string(), "l".into(), elem(i)]);
    }
    for i in 0..5 {
        cmds.push(vec![
            "ZADD".to_string(),
            "zs".into(),
            format!("{i}.5"),
            format!("s{i}"),
        ]);
        cmds.push(vec!["RPUSH".to_string(), "ls".into(), format!("x{i}")]);
    }
    pipeline(c, &cmds);
}

const CASES: &[&[&str]] = &[
    &["ZCARD", "z"],
    &["ZADD", "z", "1.5", "new", "-0", "zero", "2", "m5"],
    &["ZADD", "z", "2", "m5"],
    &["ZSCORE", "z", "m5"],
    &["ZSCORE", "z", "zero"],
    &["ZSCORE", "z", "nope"],
    &["ZRANK", "z", "m5"],
    &["ZREVRANK", "z", "m5"],
    &["ZRANK", "z", "nope"],
    &["ZINCRBY", "z", "2.5", "m7"],
    &["ZINCRBY", "z", "nan", "m7"],
    &["ZINCRBY", "z", "1", "fresh"],
    &["ZREM", "z", "m7", "nope", "m7"],
    &["ZADD", "z", "NX", "9", "m1", "9", "nx"],
    &["ZADD", "z", "XX", "CH", "9", "m1"],
    &["ZADD", "z", "bad", "m1"],
    &["ZRANGE", "z", "0", "5", "WITHSCORES"],
    &["ZRANGE", "z", "-3", "-1"],
    &["ZCARD", "z"],
    &["OBJECT", "ENCODING", "z"],
    &["ZADD", "zs", "1", "n1"],
    &["ZSCORE", "zs", "s3"],
    &["OBJECT", "ENCODING", "zs"],
    &["ZRANGE", "zs", "0", "-1", "WITHSCORES"],
    &["LLEN", "l"],
    &["LPUSH", "l", "a", "b"],
    &["RPUSH", "l", "c"],
    &["LINDEX", "l", "0"],
    &["LINDEX", "l", "-1"],
    &["LINDEX", "l", "150"],
    &["LINDEX", "l", "x"],
    &["LPOP", "l"],
    &["RPOP", "l", "2"],
    &["LSET", "l", "3", "set"],
    &["LRANGE", "l", "0", "4"],
    &["LRANGE", "l", "-3", "-1"],
    &["LLEN", "l"],
    &["LPUSH", "ls", "y"],
    &["LRANGE", "ls", "0", "-1"],
    &["LPUSH", "z", "a"],
    &["ZADD", "l", "1", "a"],
    &["LINDEX", "z", "0"],
    &["ZSCORE", "l", "a"],
    &["TYPE", "z"],
    &["TYPE", "l"],
    &["EXPIRE", "z", "1000"],
    &["ZADD", "z", "3", "withttl"],
    &["TTL", "z"],
    &["DEL", "zs"],
    &["DBSIZE"],
];

/// Replies of native and load-path commands on medium keys match redis-server, before and
/// after a restart.
#[test]
fn medium_keys_match_redis() {
    let Some(mut d) = Diff::with_args(BIN, &disk_args(), &[]) else {
        return;
    };
    d.normalise_doubles(true);
    build(d.ferrokv());
    build(d.redis());
    for c in CASES {
        d.check(c);
    }
    d.check_keyspace();
    d.ferrokv_proc().restart();
    let (mut f, mut r) = d.new_pair();
    for c in [
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"][..],
        &["LRANGE", "l", "0", "-1"],
        &["OBJECT", "ENCODING", "z"],
        &["ZADD", "z", "4", "after"],
        &["ZRANK", "z", "after"],
    ] {
        assert_eq!(
            normalise_doubles(f.cmd(c)),
            normalise_doubles(r.cmd(c)),
            "{c:?} after restart"
        );
    }
}

/// OBJECT ENCODING of lists and sorted sets crossing the compact limits (pushes, pops, native
/// and load-path commands) is the memory engine's, on keys that stay in memory (hot-object
/// cache) and after a restart.
#[test]
fn encodings_follow_the_memory_engine_across_conversions() {
    let mut disk = ServerProc::ferrokv(BIN, &disk_args());
    let mem = ServerProc::ferrokv(BIN, &["--storage-engine", "memory"]);
    let mut cd = disk.conn();
    let mut cm = mem.conn();
    let mut script: Vec<Vec<String>> = Vec::new();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    // List: listpack, grows into a quicklist (byte limit), pops back below half the limit
    // (listpack again), and a count-limited sorted set that converts to skiplist.
    for i in 0..140 {
        script.push(s(&["RPUSH", "l", &elem(i)]));
        script.push(s(&["ZADD", "z", &i.to_string(), &format!("m{i}")]));
        if i % 20 == 0 {
            script.push(s(&["OBJECT", "ENCODING", "l"]));
            script.push(s(&["OBJECT", "ENCODING", "z"]));
        }
    }
    for i in 0..130 {
        script.push(s(&[if i % 2 == 0 { "LPOP" } else { "RPOP" }, "l"]));
        script.push(s(&["ZREM", "z", &format!("m{i}")]));
        if i % 10 == 0 {
            script.push(s(&["OBJECT", "ENCODING", "l"]));
            script.push(s(&["OBJECT", "ENCODING", "z"]));
            script.push(s(&["LLEN", "l"]));
        }
    }
    script.push(s(&["LPUSH", "l", "tail"]));
    for c in [
        &["OBJECT", "ENCODING", "l"][..],
        &["OBJECT", "ENCODING", "z"],
    ] {
        script.push(s(c));
    }
    let rd = pipeline(&mut cd, &script);
    let rm = pipeline(&mut cm, &script);
    for (i, (a, b)) in rd.iter().zip(&rm).enumerate() {
        assert_eq!(a, b, "command {i}: {:?}", script[i]);
    }
    disk.restart();
    let mut cd = disk.conn();
    for k in ["l", "z"] {
        assert_eq!(
            cd.cmd(&["OBJECT", "ENCODING", k]),
            cm.cmd(&["OBJECT", "ENCODING", k]),
            "{k} after restart"
        );
    }
    assert_eq!(
        cd.cmd(&["LRANGE", "l", "0", "-1"]),
        cm.cmd(&["LRANGE", "l", "0", "-1"])
    );
    assert_eq!(
        cd.cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        cm.cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"])
    );
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// SIGKILL during pipelined native writes to medium keys (`appendfsync always`): every
/// acknowledged LPUSH/ZADD is there after the restart, element counts and the rank index agree.
#[test]
fn sigkill_keeps_acknowledged_native_writes_of_medium_keys() {
    let mut srv = ServerProc::ferrokv(
        BIN,
        &["--storage-engine", "disk", "--appendfsync", "always"],
    );
    let mut c = srv.conn();
    build(&mut c);
    let mut acked_l = N as i64;
    let mut acked_z = N as i64;
    for cycle in 0..3 {
        for round in 0..20 {
            let mut cmds = Vec::new();
            for j in 0..10 {
                let tag = format!("c{cycle}r{round}j{j}");
                cmds.push(vec!["LPUSH".to_string(), "l".into(), tag.clone()]);
                cmds.push(vec!["ZADD".to_string(), "z".into(), "7".into(), tag]);
            }
            for (i, r) in pipeline(&mut c, &cmds).iter().enumerate() {
                if i % 2 == 0 {
                    acked_l = int(r);
                } else {
                    assert_eq!(int(r), 1);
                    acked_z += 1;
                }
            }
        }
        // A last batch in flight when the process dies (acknowledged or not: both are fine).
        let mut buf = Vec::new();
        for j in 0..50 {
            let tag = format!("c{cycle}late{j}");
            buf.extend_from_slice(&encode_command(&[b"LPUSH", b"l", tag.as_bytes()]));
            buf.extend_from_slice(&encode_command(&[b"ZADD", b"z", b"7", tag.as_bytes()]));
        }
        c.send_raw(&buf);
        srv.kill();
        srv.restart();
        c = srv.conn();
        let llen = int(&c.cmd(&["LLEN", "l"]));
        let zcard = int(&c.cmd(&["ZCARD", "z"]));
        assert!(
            llen >= acked_l && llen <= acked_l + 50,
            "cycle {cycle}: {llen} vs {acked_l}"
        );
        assert!(
            zcard >= acked_z && zcard <= acked_z + 50,
            "cycle {cycle}: {zcard} vs {acked_z}"
        );
        let all = match c.cmd(&["LRANGE", "l", "0", "-1"]) {
            Value::Array(v) => v.len() as i64,
            other => panic!("{other:?}"),
        };
        assert_eq!(all, llen);
        // The rank index agrees with the count: the last member by rank is the last one.
        let last = c.cmd(&["ZRANGE", "z", "-1", "-1"]);
        let Value::Array(v) = &last else {
            panic!("{last:?}")
        };
        let Some(Value::Bulk(m)) = v.first() else {
            panic!("{last:?}")
        };
        let m = String::from_utf8(m.clone()).unwrap();
        assert_eq!(int(&c.cmd(&["ZRANK", "z", &m])), zcard - 1);
        let tag = format!("c{cycle}r19j9");
        assert_eq!(c.cmd(&["ZSCORE", "z", &tag]), Value::Bulk(b"7".to_vec()));
        acked_l = llen;
        acked_z = zcard;
    }
}
