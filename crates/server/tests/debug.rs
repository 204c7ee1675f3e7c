//! Integration tests of DEBUG and its `enable-debug-command` guard.

use ferrokv_testkit::{wait_until, ServerProc, Value};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn start() -> ServerProc {
    ServerProc::ferrokv(BIN, &["--enable-debug-command", "yes"])
}

fn ok(v: Value) {
    assert_eq!(v, Value::Simple("OK".into()));
}

fn simple(v: &Value) -> String {
    match v {
        Value::Simple(s) => s.clone(),
        other => panic!("not a status: {other:?}"),
    }
}

const ZERO: &str = "0000000000000000000000000000000000000000";

#[test]
fn disabled_by_default_and_local_mode() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    let e = c.cmd(&["DEBUG", "DIGEST"]);
    assert!(e
        .error_text()
        .is_some_and(|t| t.starts_with("ERR DEBUG command not allowed.")));
    assert_eq!(
        c.cmd(&["DEBUG"]).error_text(),
        Some("ERR wrong number of arguments for 'debug' command")
    );
    let s = ServerProc::ferrokv(BIN, &["--enable-debug-command", "local"]);
    let mut c = s.conn();
    assert_eq!(simple(&c.cmd(&["DEBUG", "DIGEST"])), ZERO);
}

#[test]
fn digest_is_order_independent_and_tracks_changes() {
    let s = start();
    let mut c = s.conn();
    assert_eq!(simple(&c.cmd(&["DEBUG", "DIGEST"])), ZERO);
    ok(c.cmd(&["SET", "a", "1"]));
    ok(c.cmd(&["SET", "b", "2"]));
    let d1 = simple(&c.cmd(&["DEBUG", "DIGEST"]));
    assert_eq!(d1.len(), 40);
    assert!(d1.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(d1, ZERO);
    // Same content written in the other order on another server: same digest.
    let s2 = start();
    let mut c2 = s2.conn();
    ok(c2.cmd(&["SET", "b", "2"]));
    ok(c2.cmd(&["SET", "a", "1"]));
    assert_eq!(simple(&c2.cmd(&["DEBUG", "DIGEST"])), d1);
    // Value, expiry and database all matter.
    ok(c2.cmd(&["SET", "a", "3"]));
    assert_ne!(simple(&c2.cmd(&["DEBUG", "DIGEST"])), d1);
    ok(c2.cmd(&["SET", "a", "1"]));
    assert_eq!(simple(&c2.cmd(&["DEBUG", "DIGEST"])), d1);
    ok(c2.cmd(&["SWAPDB", "0", "1"]));
    assert_ne!(simple(&c2.cmd(&["DEBUG", "DIGEST"])), d1);
    let v = c.cmd(&["DEBUG", "DIGEST-VALUE", "a", "nokey", "b"]);
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 3);
    assert_eq!(simple(&arr[1]), ZERO);
    assert_ne!(simple(&arr[0]), simple(&arr[2]));
    assert_eq!(c.cmd(&["DEBUG", "DIGEST-VALUE"]), Value::Array(vec![]));
}

#[test]
fn object_reports_encoding_and_sizes() {
    let s = start();
    let mut c = s.conn();
    ok(c.cmd(&["SET", "i", "100000"]));
    ok(c.cmd(&["SET", "small", "5"]));
    ok(c.cmd(&["SET", "e", "hello"]));
    // 50 bytes without repeats (Redis would LZF-compress a repetitive one).
    let raw: String = (0..50u8).map(|i| char::from(b'!' + i)).collect();
    ok(c.cmd(&["SET", "r", &raw]));
    let line = simple(&c.cmd(&["DEBUG", "OBJECT", "i"]));
    assert!(line.starts_with("Value at:0x"), "{line}");
    assert!(
        line.contains(" refcount:1 encoding:int serializedlength:5 lru:"),
        "{line}"
    );
    assert!(line.contains(" lru_seconds_idle:"), "{line}");
    let line = simple(&c.cmd(&["DEBUG", "OBJECT", "small"]));
    assert!(
        line.contains(" refcount:2147483647 encoding:int serializedlength:2 "),
        "{line}"
    );
    let line = simple(&c.cmd(&["DEBUG", "OBJECT", "e"]));
    assert!(
        line.contains(" encoding:embstr serializedlength:6 "),
        "{line}"
    );
    let line = simple(&c.cmd(&["DEBUG", "OBJECT", "r"]));
    assert!(
        line.contains(" encoding:raw serializedlength:51 "),
        "{line}"
    );
    assert_eq!(
        c.cmd(&["DEBUG", "OBJECT", "nokey"]).error_text(),
        Some("ERR no such key")
    );
}

#[test]
fn populate_creates_missing_keys_only() {
    let s = start();
    let mut c = s.conn();
    ok(c.cmd(&["SET", "key:1", "mine"]));
    ok(c.cmd(&["DEBUG", "POPULATE", "3"]));
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(3));
    assert_eq!(c.cmd(&["GET", "key:0"]), Value::Bulk(b"value:0".to_vec()));
    assert_eq!(c.cmd(&["GET", "key:1"]), Value::Bulk(b"mine".to_vec()));
    ok(c.cmd(&["DEBUG", "POPULATE", "2", "p", "10"]));
    assert_eq!(
        c.cmd(&["GET", "p:1"]),
        Value::Bulk(b"value:1\0\0\0".to_vec())
    );
    ok(c.cmd(&["DEBUG", "POPULATE", "1", "q", "3"]));
    assert_eq!(c.cmd(&["GET", "q:0"]), Value::Bulk(b"val".to_vec()));
    ok(c.cmd(&["DEBUG", "POPULATE", "0"]));
    for bad in ["-1", "abc"] {
        assert_eq!(
            c.cmd(&["DEBUG", "POPULATE", bad]).error_text(),
            Some("ERR value is out of range, must be positive")
        );
    }
    assert_eq!(
        c.cmd(&["DEBUG", "POPULATE", "1", "a", "b", "c"])
            .error_text(),
        Some("ERR unknown subcommand or wrong number of arguments for 'POPULATE'. Try DEBUG HELP.")
    );
    ok(c.cmd(&["SELECT", "2"]));
    ok(c.cmd(&["DEBUG", "POPULATE", "1000"]));
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(1000));
}

#[test]
fn sleep_blocks_only_the_caller() {
    let s = start();
    let mut sleeper = s.conn();
    let mut other = s.conn();
    let t = Instant::now();
    sleeper.send(&[b"DEBUG", b"SLEEP", b"0.5"]);
    // Other clients are still served while the sleeper waits.
    assert_eq!(other.cmd(&["PING"]), Value::Simple("PONG".into()));
    ok(sleeper.read_value());
    assert!(t.elapsed() >= Duration::from_millis(500));
    ok(sleeper.cmd(&["DEBUG", "SLEEP", "0"]));
    ok(sleeper.cmd(&["DEBUG", "SLEEP", "abc"]));
}

#[test]
fn set_active_expire_controls_background_expiry() {
    let s = start();
    let mut c = s.conn();
    ok(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]));
    ok(c.cmd(&["SET", "k", "v", "PX", "20"]));
    std::thread::sleep(Duration::from_millis(300));
    // Not reclaimed in the background: DBSIZE still counts it.
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(1));
    ok(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]));
    assert!(wait_until(Duration::from_secs(5), || c.cmd(&["DBSIZE"])
        == Value::Int(0)));
}

#[test]
fn pause_cron_stops_background_expiry() {
    let s = start();
    let mut c = s.conn();
    ok(c.cmd(&["DEBUG", "PAUSE-CRON", "1"]));
    ok(c.cmd(&["SET", "k", "v", "PX", "20"]));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(1));
    ok(c.cmd(&["DEBUG", "PAUSE-CRON", "0"]));
    assert!(wait_until(Duration::from_secs(5), || c.cmd(&["DBSIZE"])
        == Value::Int(0)));
}

#[test]
fn protocol_types_resp2_and_resp3() {
    let s = start();
    let mut c = s.conn();
    assert_eq!(
        c.cmd_raw(&[b"DEBUG", b"PROTOCOL", b"double"]),
        b"$5\r\n3.141\r\n"
    );
    assert_eq!(
        c.cmd(&["DEBUG", "PROTOCOL", "push"]).error_text(),
        Some("ERR RESP2 is not supported by this command")
    );
    c.hello3();
    assert_eq!(
        c.cmd_raw(&[b"DEBUG", b"PROTOCOL", b"double"]),
        b",3.141\r\n"
    );
    assert_eq!(c.cmd_raw(&[b"DEBUG", b"PROTOCOL", b"true"]), b"#t\r\n");
    assert_eq!(
        c.cmd_raw(&[b"DEBUG", b"PROTOCOL", b"map"]),
        b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n"
    );
    let attrib = c.cmd(&["DEBUG", "PROTOCOL", "attrib"]);
    assert!(matches!(attrib, Value::Attribute(_, _)), "{attrib:?}");
    let push = c.cmd(&["DEBUG", "PROTOCOL", "push"]);
    assert!(matches!(push, Value::Push(_)), "{push:?}");
    assert_eq!(
        c.read_value(),
        Value::Bulk(b"Some real reply following the push reply".to_vec())
    );
    assert!(c
        .cmd(&["DEBUG", "PROTOCOL", "nope"])
        .error_text()
        .is_some_and(|e| e.starts_with("ERR Wrong protocol type name.")));
}

#[test]
fn misc_subcommands() {
    let s = start();
    let mut c = s.conn();
    ok(c.cmd(&["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "never"]));
    ok(c.cmd(&["DEBUG", "REPLYBUFFER", "peak-reset-time", "100"]));
    ok(c.cmd(&["DEBUG", "REPLYBUFFER", "RESIZING", "0"]));
    assert_eq!(
        c.cmd(&["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "abc"])
            .error_text(),
        Some("ERR value is not an integer or out of range")
    );
    ok(c.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1k"]));
    ok(c.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"]));
    assert_eq!(
        c.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "5gb"])
            .error_text(),
        Some("ERR argument must be a memory value bigger than 1 and smaller than 4gb")
    );
    ok(c.cmd(&["DEBUG", "CHANGE-REPL-ID"]));
    assert!(matches!(
        c.cmd(&["DEBUG", "STRINGMATCH-LEN"]),
        Value::Simple(_)
    ));
    ok(c.cmd(&["DEBUG", "LOG", "hello from the test"]));
    assert!(wait_until(Duration::from_secs(5), || s
        .logs()
        .contains("DEBUG LOG: hello from the test")));
    assert_eq!(
        c.cmd(&["DEBUG", "ERROR", "MYERR custom"]).error_text(),
        Some("MYERR custom")
    );
    // Persistence exists: RELOAD saves, empties and loads back (tests/persistence.rs).
    assert_eq!(c.cmd(&["DEBUG", "RELOAD"]), Value::Simple("OK".into()));
    assert!(c.cmd(&["DEBUG", "RELOAD", "BOGUS"]).is_error());
    assert_eq!(
        c.cmd(&["DEBUG", "foo"]).error_text(),
        Some("ERR unknown subcommand or wrong number of arguments for 'foo'. Try DEBUG HELP.")
    );
    assert_eq!(
        c.cmd(&["DEBUG", "OBJECT"]).error_text(),
        Some("ERR unknown subcommand or wrong number of arguments for 'OBJECT'. Try DEBUG HELP.")
    );
    let help = c.cmd(&["DEBUG", "HELP"]);
    assert!(help.as_array().expect("array").len() > 10);
}

/// DEBUG DIGEST(-VALUE) covers collection contents: any change of an element, score, field
/// or field TTL changes it; the same data built in another order or encoding does not.
#[test]
fn digest_covers_collection_contents() {
    let s = start();
    let mut c = s.conn();
    let dv = |c: &mut ferrokv_testkit::Conn, k: &str| -> String {
        match c.cmd(&["DEBUG", "DIGEST-VALUE", k]) {
            Value::Array(v) => simple(&v[0]),
            other => panic!("{other:?}"),
        }
    };
    c.cmd(&["RPUSH", "l", "a", "b"]);
    c.cmd(&["SADD", "s", "x", "y", "1"]);
    c.cmd(&["ZADD", "z", "1", "m", "2", "n"]);
    c.cmd(&["HSET", "h", "f", "v", "g", "w"]);
    let before: Vec<String> = ["l", "s", "z", "h"].iter().map(|k| dv(&mut c, k)).collect();
    let total = simple(&c.cmd(&["DEBUG", "DIGEST"]));
    assert!(before.iter().all(|d| d != ZERO));
    // Each kind of change moves the value's digest and the dataset digest.
    for (cmd, key) in [
        (vec!["LSET", "l", "0", "A"], 0),
        (vec!["SADD", "s", "z"], 1),
        (vec!["ZINCRBY", "z", "1", "m"], 2),
        (vec!["HSET", "h", "f", "V"], 3),
    ] {
        c.cmd(&cmd);
        let k = ["l", "s", "z", "h"][key];
        assert_ne!(dv(&mut c, k), before[key], "{cmd:?}");
        assert_ne!(simple(&c.cmd(&["DEBUG", "DIGEST"])), total, "{cmd:?}");
    }
    // A field TTL is part of the digest.
    let h1 = dv(&mut c, "h");
    c.cmd(&["HEXPIRE", "h", "1000", "FIELDS", "1", "g"]);
    assert_ne!(dv(&mut c, "h"), h1);
    // Same members, other insertion order and encoding: same digest.
    c.cmd(&["SADD", "s1", "c", "b", "a"]);
    c.cmd(&["CONFIG", "SET", "set-max-listpack-entries", "1"]);
    c.cmd(&["SADD", "s2", "a", "b", "c"]);
    assert_ne!(
        c.cmd(&["OBJECT", "ENCODING", "s1"]),
        c.cmd(&["OBJECT", "ENCODING", "s2"])
    );
    assert_eq!(dv(&mut c, "s1"), dv(&mut c, "s2"));
}
