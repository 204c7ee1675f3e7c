//! Self-tests of the kit against real processes: redis-server plays both roles ("ferrokv" and the
//! oracle), so every comparison that should agree must agree, and deliberate divergences must be
//! caught. These run in CI; without redis-server they print SKIP and pass (unless
//! FERROKV_REQUIRE_REDIS=1).

use ferrokv_testkit::{
    find_in_path, wait_until, Compare, Conn, Diff, PropRunner, ServerProc, Value,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// The redis-server binary standing in for ferrokv, or `None` (skip) when it is absent.
fn stand_in() -> Option<String> {
    let p = std::env::var("REDIS_SERVER_BIN")
        .ok()
        .map(Into::into)
        .or_else(|| find_in_path("redis-server"));
    match p {
        Some(p) => Some(p.to_string_lossy().into_owned()),
        None => {
            if std::env::var("FERROKV_REQUIRE_REDIS").as_deref() == Ok("1") {
                panic!("redis-server not installed but FERROKV_REQUIRE_REDIS=1");
            }
            eprintln!("SKIP: redis-server not installed");
            None
        }
    }
}

macro_rules! bin_or_skip {
    () => {
        match stand_in() {
            Some(b) => b,
            None => return,
        }
    };
}

fn panic_text(r: Result<(), Box<dyn std::any::Any + Send>>) -> String {
    match r {
        Ok(()) => panic!("expected a panic"),
        Err(e) => e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default(),
    }
}

#[test]
fn server_starts_answers_and_is_cleaned_up() {
    let bin = bin_or_skip!();
    let s = ServerProc::ferrokv(&bin, &[]);
    assert!(s.port > 0);
    assert_eq!(s.addr(), format!("127.0.0.1:{}", s.port));
    assert!(s.pid() > 0);
    let dir = s.dir().to_path_buf();
    assert!(dir.is_dir());
    let mut c = s.conn();
    assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
    // The base arguments reached the server.
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "save"]),
        Value::Array(vec![Value::bulk("save"), Value::bulk("")])
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "dir"]),
        Value::Array(vec![
            Value::bulk("dir"),
            Value::bulk(&dir.canonicalize().expect("dir").to_string_lossy())
        ])
    );
    let addr = s.addr();
    drop(s);
    assert!(!dir.exists(), "temp dir removed on drop");
    assert!(
        wait_until(Duration::from_secs(5), || std::net::TcpStream::connect(
            &addr
        )
        .is_err()),
        "server killed on drop"
    );
}

#[test]
fn extra_args_are_passed_after_the_base_ones() {
    let bin = bin_or_skip!();
    let s = ServerProc::ferrokv(&bin, &["--maxmemory", "12345678", "--appendonly", "yes"]);
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        Value::Array(vec![Value::bulk("maxmemory"), Value::bulk("12345678")])
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "appendonly"]),
        Value::Array(vec![Value::bulk("appendonly"), Value::bulk("yes")])
    );
}

#[test]
fn early_exit_panics_with_the_server_output() {
    let bin = bin_or_skip!();
    let r = catch_unwind(|| {
        let _s = ServerProc::ferrokv(&bin, &["--no-such-directive", "1"]);
    });
    let msg = panic_text(r);
    assert!(msg.contains("exited early"), "{msg}");
    assert!(msg.contains("no-such-directive"), "{msg}");
}

#[test]
fn restart_keeps_port_and_directory() {
    let bin = bin_or_skip!();
    let mut s = ServerProc::ferrokv(&bin, &[]);
    let port = s.port;
    let mut c = s.conn();
    assert_eq!(c.cmd(&["SET", "k", "v"]), Value::Simple("OK".into()));
    assert_eq!(c.cmd(&["SAVE"]), Value::Simple("OK".into()));
    assert!(s.dir().join("dump.rdb").is_file());
    let old_pid = s.pid();
    s.restart();
    assert_eq!(s.port, port);
    assert_ne!(s.pid(), old_pid);
    assert!(c.is_closed(), "old connection dropped by the kill");
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "k"]), Value::bulk("v"));
    assert!(s.terminate(Duration::from_secs(10)));
    assert!(!s.is_running());
    assert_eq!(s.pid(), 0);
}

#[test]
fn conn_frames_pipelined_and_nested_replies() {
    let bin = bin_or_skip!();
    let s = ServerProc::ferrokv(&bin, &[]);
    let mut c = s.conn();
    c.send_raw(
        b"*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\na\r\nPING\r\n*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n",
    );
    assert_eq!(c.read_reply(), b":1\r\n");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
    assert_eq!(c.read_reply(), b"$-1\r\n");
    c.send(&[b"MULTI"]);
    c.send(&[b"LRANGE", b"l", b"0", b"-1"]);
    c.send(&[b"GET", b"x\r\ny"]);
    c.send(&[b"EXEC"]);
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(c.read_reply(), b"+QUEUED\r\n");
    assert_eq!(c.read_reply(), b"+QUEUED\r\n");
    assert_eq!(c.read_reply(), b"*2\r\n*1\r\n$1\r\na\r\n$-1\r\n");
    assert_eq!(c.cmd_raw(&[b"SET", b"bin", b"\x00\r\n\xff"]), b"+OK\r\n");
    assert_eq!(c.cmd_raw(&[b"GET", b"bin"]), b"$4\r\n\x00\r\n\xff\r\n");
    // Nothing else is pending.
    assert_eq!(c.try_read_reply(Duration::from_millis(100)), None);
}

#[test]
fn conn_reads_every_resp3_type_from_a_live_server() {
    // DEBUG PROTOCOL makes redis-server emit each RESP3 type, attributes included.
    let Some(s) = ServerProc::redis(&[]) else {
        return;
    };
    let mut c = s.conn();
    c.hello3();
    let cases: &[(&str, Value)] = &[
        ("string", Value::bulk("Hello World")),
        ("integer", Value::Int(12345)),
        ("double", Value::Double("3.141".into())),
        (
            "bignum",
            Value::BigNumber("1234567999999999999999999999999999999".into()),
        ),
        ("null", Value::Null),
        ("true", Value::Bool(true)),
        ("false", Value::Bool(false)),
        (
            "verbatim",
            Value::Verbatim("txt".into(), b"This is a verbatim\nstring".to_vec()),
        ),
    ];
    for (kind, want) in cases {
        assert_eq!(&c.cmd(&["DEBUG", "PROTOCOL", kind]), want, "{kind}");
    }
    assert!(matches!(c.cmd(&["DEBUG", "PROTOCOL", "map"]), Value::Map(m) if m.len() == 3));
    assert!(matches!(c.cmd(&["DEBUG", "PROTOCOL", "set"]), Value::Set(m) if m.len() == 3));
    match c.cmd(&["DEBUG", "PROTOCOL", "attrib"]) {
        Value::Attribute(attrs, inner) => {
            assert_eq!(attrs.len(), 1);
            assert_eq!(
                *inner,
                Value::bulk("Some real reply following the attribute")
            );
        }
        other => panic!("expected an attribute, got {other:?}"),
    }
    // Push messages: subscribe confirmation and a published message.
    assert_eq!(
        c.cmd(&["SUBSCRIBE", "ch"]),
        Value::Push(vec![
            Value::bulk("subscribe"),
            Value::bulk("ch"),
            Value::Int(1)
        ])
    );
    let mut p = s.conn();
    assert_eq!(p.cmd(&["PUBLISH", "ch", "hi"]), Value::Int(1));
    assert_eq!(
        c.read_value(),
        Value::Push(vec![
            Value::bulk("message"),
            Value::bulk("ch"),
            Value::bulk("hi")
        ])
    );
}

#[test]
fn is_closed_detects_close_and_open() {
    let bin = bin_or_skip!();
    let s = ServerProc::ferrokv(&bin, &[]);
    let mut open = s.conn();
    let t = Instant::now();
    assert!(!open.is_closed_within(Duration::from_millis(200)));
    assert!(t.elapsed() >= Duration::from_millis(200));
    let mut c = s.conn();
    assert_eq!(c.cmd(&["QUIT"]), Value::Simple("OK".into()));
    assert!(c.is_closed());
    // A reply that arrives while polling is kept for read_reply.
    open.send(&[b"PING"]);
    assert!(!open.is_closed_within(Duration::from_millis(100)));
    assert_eq!(open.read_reply(), b"+PONG\r\n");
}

#[test]
fn read_reply_times_out_with_a_clear_message() {
    let bin = bin_or_skip!();
    let s = ServerProc::ferrokv(&bin, &[]);
    let mut c = s.conn();
    c.set_reply_timeout(Duration::from_millis(300));
    let msg = panic_text(catch_unwind(AssertUnwindSafe(|| {
        c.send(&[b"BLPOP", b"nothing", b"0"]);
        c.read_reply();
    })));
    assert!(msg.contains("no complete reply"), "{msg}");
}

#[test]
fn wait_until_is_bounded() {
    let t = Instant::now();
    assert!(!wait_until(Duration::from_millis(50), || false));
    assert!(t.elapsed() >= Duration::from_millis(50));
    let mut n = 0;
    assert!(wait_until(Duration::from_secs(5), || {
        n += 1;
        n == 3
    }));
}

#[test]
fn diff_agrees_on_identical_servers_resp2() {
    let bin = bin_or_skip!();
    let Some(mut d) = Diff::new(&bin) else { return };
    d.check(&["SET", "s", "hello"]);
    d.check(&["GET", "s"]);
    d.check(&["APPEND", "s", " world"]);
    d.check(&["INCR", "n"]);
    d.check(&["INCRBYFLOAT", "n", "0.1"]);
    d.check_error(&["LPUSH", "s", "x"]);
    d.check_error(&["GET"]);
    d.check_error(&["NOSUCHCOMMAND", "a"]);
    d.run(&["SADD", "set", "a", "b", "c", "d", "1", "2"]);
    d.check_unordered(&["SMEMBERS", "set"]);
    d.run(&["HSET", "h", "f1", "v1", "f2", "v2", "f3", "v3"]);
    d.check_unordered_pairs(&["HGETALL", "h"]);
    d.check_unordered(&["KEYS", "*"]);
    // Random results: only the shape is compared, and the key is dropped afterwards because the
    // two servers now hold different members.
    d.run(&["SADD", "rs", "a", "b", "c"]);
    d.check_with(&["SPOP", "rs"], Compare::Shape);
    d.run(&["DEL", "rs"]);
    d.check_bin(&[b"SET", b"\x00k", b"\xff\r\n"]);
    d.check_bin(&[b"GET", b"\x00k"]);
    d.check_raw(b"PING\r\nECHO hi\r\n", 2);
    d.check_raw(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n", 2);
    d.check(&["ZADD", "z", "0.1", "a", "2.5", "b"]);
    d.check(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
    d.check_keyspace();
}

#[test]
fn diff_agrees_on_identical_servers_resp3() {
    let bin = bin_or_skip!();
    let Some(mut d) = Diff::resp3(&bin) else {
        return;
    };
    assert!(d.is_resp3());
    d.run(&["HSET", "h", "a", "1", "b", "2"]);
    d.check_unordered(&["HGETALL", "h"]);
    assert!(matches!(d.ferrokv().cmd(&["HGETALL", "h"]), Value::Map(_)));
    d.run(&["SADD", "s", "x", "y"]);
    d.check_unordered(&["SMEMBERS", "s"]);
    d.run(&["ZADD", "z", "1.5", "m"]);
    d.check(&["ZSCORE", "z", "m"]);
    assert_eq!(
        d.redis().cmd(&["ZSCORE", "z", "m"]),
        Value::Double("1.5".into())
    );
    d.check(&["GET", "missing"]);
    d.check_error(&["HGET", "s", "x"]);
    // A second pair of connections speaks the same protocol.
    let (mut f, mut r) = d.new_pair();
    assert_eq!(f.cmd(&["GET", "missing"]), Value::Null);
    assert_eq!(r.cmd_raw(&[b"GET", b"missing"]), b"_\r\n");
}

#[test]
fn diff_catches_differences() {
    let bin = bin_or_skip!();
    let Some(mut d) = Diff::new(&bin) else { return };
    d.ferrokv().cmd(&["SET", "k", "a"]);
    d.redis().cmd(&["SET", "k", "b"]);
    let e = d
        .try_check(&["GET", "k"], Compare::Exact)
        .expect_err("must differ");
    assert!(e.contains("GET k"), "{e}");
    assert!(e.contains(r#"ferrokv: "$1\r\na\r\n""#), "{e}");
    assert!(e.contains(r#"redis:   "$1\r\nb\r\n""#), "{e}");
    let msg = panic_text(catch_unwind(AssertUnwindSafe(|| d.check(&["GET", "k"]))));
    assert!(msg.contains("replies differ"), "{msg}");
    // Unordered still compares contents and multiplicity.
    d.ferrokv().cmd(&["RPUSH", "l", "a", "a", "b"]);
    d.redis().cmd(&["RPUSH", "l", "b", "a", "a"]);
    d.check_unordered(&["LRANGE", "l", "0", "-1"]);
    assert!(d
        .try_check(&["LRANGE", "l", "0", "-1"], Compare::Exact)
        .is_err());
    d.ferrokv().cmd(&["RPUSH", "l2", "a", "b", "b"]);
    d.redis().cmd(&["RPUSH", "l2", "a", "a", "b"]);
    assert!(d
        .try_check(&["LRANGE", "l2", "0", "-1"], Compare::Unordered)
        .is_err());
    // Pairs stay pairs.
    d.ferrokv().cmd(&["HSET", "h", "f", "1", "g", "2"]);
    d.redis().cmd(&["HSET", "h", "f", "2", "g", "1"]);
    assert!(d
        .try_check(&["HGETALL", "h"], Compare::UnorderedPairs)
        .is_err());
    // Error mode needs two errors with equal text.
    assert!(d.try_check(&["GET", "k"], Compare::Error).is_err());
    d.redis().cmd(&["SET", "num", "x"]);
    d.ferrokv().cmd(&["SET", "num", "1"]);
    assert!(d.try_check(&["INCR", "num"], Compare::Error).is_err());
    assert!(d.try_check(&["INCR", "num"], Compare::Shape).is_err());
    // The keyspace check sees the divergence.
    assert!(d.try_check_keyspace().is_err());
}

#[test]
fn keyspace_check_sees_ttl_and_type_differences() {
    let bin = bin_or_skip!();
    let Some(mut d) = Diff::new(&bin) else { return };
    d.run(&["SET", "a", "1"]);
    d.check_keyspace();
    d.ferrokv().cmd(&["EXPIRE", "a", "100"]);
    let e = d.try_check_keyspace().expect_err("ttl differs");
    assert!(e.contains("PTTL"), "{e}");
    d.redis().cmd(&["EXPIRE", "a", "50"]);
    d.check_keyspace();
    d.ferrokv().cmd(&["DEL", "b"]);
    d.redis().cmd(&["SADD", "b", "x"]);
    assert!(d.try_check_keyspace().is_err());
}

#[test]
fn double_normalisation_is_numeric_and_opt_in() {
    let bin = bin_or_skip!();
    let Some(mut d) = Diff::new(&bin) else { return };
    // What 7.2+ (ferrokv) and 7.0 (the oracle) print for the same double.
    d.ferrokv().cmd(&["SET", "x", "0.1"]);
    d.redis().cmd(&["SET", "x", "0.10000000000000001"]);
    assert!(d.try_check(&["GET", "x"], Compare::Exact).is_err());
    d.normalise_doubles(true);
    d.check(&["GET", "x"]);
    d.check_unordered(&["MGET", "x", "x"]);
    // A different value is still a difference.
    d.ferrokv().cmd(&["SET", "y", "0.1"]);
    d.redis().cmd(&["SET", "y", "0.10000000000000002"]);
    assert!(d.try_check(&["GET", "y"], Compare::Exact).is_err());
    // Integer-looking texts are never normalised.
    d.ferrokv().cmd(&["SET", "i", "10"]);
    d.redis().cmd(&["SET", "i", "010"]);
    assert!(d.try_check(&["GET", "i"], Compare::Exact).is_err());
    d.ferrokv().cmd(&["SET", "f", "3"]);
    d.redis().cmd(&["SET", "f", "3.0"]);
    d.check(&["GET", "f"]);
    d.normalise_doubles(false);
    assert!(d.try_check(&["GET", "f"], Compare::Exact).is_err());
}

fn string_templates(p: PropRunner) -> PropRunner {
    p.template("set", |g| vec!["SET".into(), g.key(), g.value()])
        .template("get", |g| vec!["GET".into(), g.key()])
        .template("incr", |g| {
            vec!["INCRBY".into(), g.key(), g.int(-5, 5).to_string()]
        })
        .template("append", |g| vec!["APPEND".into(), g.key(), g.value()])
        .template("del", |g| {
            let mut v = vec!["DEL".to_string()];
            v.extend(g.keys(2));
            v
        })
        .template("rpush", |g| {
            vec!["RPUSH".into(), g.key(), g.member(), g.member()]
        })
        .template("lrange", |g| {
            vec!["LRANGE".into(), g.key(), "0".into(), "-1".into()]
        })
        .template("sadd", |g| vec!["SADD".into(), g.key(), g.member()])
        .unordered("smembers", |g| vec!["SMEMBERS".into(), g.key()])
        .add("hset", Compare::Exact, 2, |g| {
            vec!["HSET".into(), g.key(), g.member(), g.value()]
        })
        .add("hgetall", Compare::UnorderedPairs, 1, |g| {
            vec!["HGETALL".into(), g.key()]
        })
        .template("zadd", |g| {
            vec!["ZADD".into(), g.key(), g.float(), g.member()]
        })
        .template("zrange", |g| {
            vec![
                "ZRANGE".into(),
                g.key(),
                "0".into(),
                "-1".into(),
                "WITHSCORES".into(),
            ]
        })
        .template("expire", |g| vec!["EXPIRE".into(), g.key(), "100".into()])
        .template("type", |g| vec!["TYPE".into(), g.key()])
        .add("randomkey", Compare::Shape, 1, |_| vec!["RANDOMKEY".into()])
}

#[test]
fn prop_runner_agrees_on_identical_servers() {
    let bin = bin_or_skip!();
    string_templates(PropRunner::new())
        .cases(400)
        .keyspace_every(100)
        .run(&bin);
    string_templates(PropRunner::new())
        .cases(200)
        .resp3(true)
        .run(&bin);
}

#[test]
fn prop_runner_reports_seed_and_history_on_divergence() {
    let bin = bin_or_skip!();
    // Differently configured servers: hashes have another encoding on "ferrokv".
    let Some(mut d) = Diff::with_args(&bin, &["--hash-max-listpack-entries", "0"], &[]) else {
        return;
    };
    let r = catch_unwind(AssertUnwindSafe(|| {
        PropRunner::new()
            .seed(42)
            .cases(200)
            .template("hset", |g| {
                vec!["HSET".into(), g.key(), g.member(), "v".into()]
            })
            .template("encoding", |g| {
                vec!["OBJECT".into(), "ENCODING".into(), g.key()]
            })
            .run_on(&mut d);
    }));
    let msg = panic_text(r);
    assert!(msg.contains("FERROKV_PROP_SEED=42"), "{msg}");
    assert!(msg.contains("[encoding] OBJECT ENCODING k"), "{msg}");
    assert!(
        msg.contains("hashtable") && msg.contains("listpack"),
        "{msg}"
    );
}

#[test]
fn same_seed_same_sequence() {
    let mut a = ferrokv_testkit::Gen::new(7, 10);
    let mut b = ferrokv_testkit::Gen::new(7, 10);
    let xs: Vec<String> = (0..50).map(|_| a.value() + &a.key()).collect();
    let ys: Vec<String> = (0..50).map(|_| b.value() + &b.key()).collect();
    assert_eq!(xs, ys);
    let mut c = ferrokv_testkit::Gen::new(8, 10);
    let zs: Vec<String> = (0..50).map(|_| c.value() + &c.key()).collect();
    assert_ne!(xs, zs);
    for _ in 0..1000 {
        let n = a.int(-3, 3);
        assert!((-3..=3).contains(&n));
        assert!(a.key().len() == 2);
    }
}

#[test]
fn conn_connects_by_address() {
    let bin = bin_or_skip!();
    let s = ServerProc::ferrokv(&bin, &[]);
    let mut c = Conn::connect(&s.addr());
    assert_eq!(c.addr(), s.addr());
    assert_eq!(c.cmd(&["ECHO", "x"]), Value::bulk("x"));
}

#[test]
fn diff_or_skip_macro_in_both_protocols() {
    let bin = bin_or_skip!();
    let mut d = ferrokv_testkit::diff_or_skip!(&bin);
    assert!(!d.is_resp3());
    d.check(&["PING"]);
    let mut d = ferrokv_testkit::diff_or_skip!(resp3, &bin);
    assert!(d.is_resp3());
    assert_eq!(d.redis().cmd_raw(&[b"GET", b"nope"]), b"_\r\n");
}

#[test]
fn config_file_is_the_first_argument_and_base_args_win() {
    let bin = bin_or_skip!();
    let s = ServerProc::ferrokv_with_config(&bin, "maxmemory 1mb\nport 1\n", &[]);
    assert!(s.dir().join("test.conf").is_file());
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        Value::Array(vec![Value::bulk("maxmemory"), Value::bulk("1048576")])
    );
    let Some(r) = ServerProc::redis_with_config("maxmemory-policy allkeys-lru\n", &[]) else {
        return;
    };
    assert_eq!(
        r.conn().cmd(&["CONFIG", "GET", "maxmemory-policy"]),
        Value::Array(vec![
            Value::bulk("maxmemory-policy"),
            Value::bulk("allkeys-lru")
        ])
    );
}
