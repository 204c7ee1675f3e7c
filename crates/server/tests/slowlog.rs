//! Integration tests of SLOWLOG GET / LEN / RESET / HELP and of what gets recorded.

use ferrokv_testkit::{ServerProc, Value};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn start(extra: &[&str]) -> ServerProc {
    ServerProc::ferrokv(BIN, extra)
}

fn int(v: &Value) -> i64 {
    v.as_int()
        .unwrap_or_else(|| panic!("not an integer: {v:?}"))
}

fn bulk(s: &str) -> Value {
    Value::Bulk(s.as_bytes().to_vec())
}

fn entries(v: &Value) -> Vec<Vec<Value>> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v:?}"))
        .iter()
        .map(|e| e.as_array().expect("entry").to_vec())
        .collect()
}

#[test]
fn entries_have_redis_shape_newest_first() {
    let s = start(&["--slowlog-log-slower-than", "0"]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["SLOWLOG", "RESET"]), Value::Simple("OK".into()));
    c.cmd(&["CLIENT", "SETNAME", "tester"]);
    c.cmd(&["SET", "k", "v"]);
    c.cmd(&["GET", "k"]);
    let v = c.cmd(&["SLOWLOG", "GET", "2"]);
    let e = entries(&v);
    assert_eq!(e.len(), 2);
    let (newest, older) = (&e[0], &e[1]);
    assert_eq!(newest.len(), 6);
    assert!(int(&newest[0]) > int(&older[0]));
    assert!(int(&newest[1]) > 1_600_000_000);
    assert!(int(&newest[2]) >= 0);
    assert_eq!(newest[3], Value::Array(vec![bulk("GET"), bulk("k")]));
    assert_eq!(
        older[3],
        Value::Array(vec![bulk("SET"), bulk("k"), bulk("v")])
    );
    let addr = newest[4].as_str().expect("addr");
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    // CLIENT SETNAME may not exist yet in this build; the name field is a bulk either way.
    assert!(matches!(newest[5], Value::Bulk(_)));
    // The SLOWLOG GET call itself was logged too.
    let len = int(&c.cmd(&["SLOWLOG", "LEN"]));
    assert!(len >= 4, "{len}");
    // Default count is 10; -1 means all.
    for _ in 0..20 {
        c.cmd(&["PING"]);
    }
    assert_eq!(entries(&c.cmd(&["SLOWLOG", "GET"])).len(), 10);
    let all = entries(&c.cmd(&["SLOWLOG", "GET", "-1"])).len();
    assert!(all > 20, "{all}");
    assert_eq!(c.cmd(&["SLOWLOG", "GET", "0"]), Value::Array(vec![]));
    c.cmd(&["SLOWLOG", "RESET"]);
    // Only the RESET itself remains.
    assert_eq!(int(&c.cmd(&["SLOWLOG", "LEN"])), 1);
}

#[test]
fn long_commands_are_truncated_like_redis() {
    let s = start(&["--slowlog-log-slower-than", "0"]);
    let mut c = s.conn();
    let long = "a".repeat(200);
    c.cmd(&["GET", &long]);
    let mut del = vec!["LATENCY".to_string(), "RESET".to_string()];
    del.extend((0..40).map(|i| format!("x{i}")));
    let del_ref: Vec<&str> = del.iter().map(String::as_str).collect();
    c.cmd(&del_ref);
    let e = entries(&c.cmd(&["SLOWLOG", "GET", "2"]));
    let args = e[0][3].as_array().expect("args");
    assert_eq!(args.len(), 32);
    assert_eq!(args[30], bulk("x28"));
    assert_eq!(args[31], bulk("... (11 more arguments)"));
    let args = e[1][3].as_array().expect("args");
    let expected = format!("{}... (72 more bytes)", "a".repeat(128));
    assert_eq!(args[1], bulk(&expected));
}

#[test]
fn threshold_and_max_len_are_honoured() {
    let s = start(&["--slowlog-log-slower-than", "-1"]);
    let mut c = s.conn();
    c.cmd(&["SET", "a", "1"]);
    assert_eq!(int(&c.cmd(&["SLOWLOG", "LEN"])), 0);
    drop(c);
    let s = start(&["--slowlog-log-slower-than", "0", "--slowlog-max-len", "3"]);
    let mut c = s.conn();
    for _ in 0..10 {
        c.cmd(&["PING"]);
    }
    assert_eq!(int(&c.cmd(&["SLOWLOG", "LEN"])), 3);
    let s = start(&["--slowlog-log-slower-than", "1000000"]);
    let mut c = s.conn();
    c.cmd(&["PING"]);
    assert_eq!(int(&c.cmd(&["SLOWLOG", "LEN"])), 0);
}

#[test]
fn errors_and_help() {
    let s = start(&[]);
    let mut c = s.conn();
    for bad in ["-2", "abc", "1.5"] {
        assert_eq!(
            c.cmd(&["SLOWLOG", "GET", bad]).error_text(),
            Some("ERR count should be greater than or equal to -1")
        );
    }
    assert_eq!(
        c.cmd(&["SLOWLOG", "GET", "1", "2"]).error_text(),
        Some("ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.")
    );
    assert_eq!(
        c.cmd(&["SLOWLOG", "LEN", "x"]).error_text(),
        Some("ERR wrong number of arguments for 'slowlog|len' command")
    );
    assert_eq!(
        c.cmd(&["SLOWLOG", "foo"]).error_text(),
        Some("ERR unknown subcommand 'foo'. Try SLOWLOG HELP.")
    );
    assert_eq!(
        c.cmd(&["SLOWLOG"]).error_text(),
        Some("ERR wrong number of arguments for 'slowlog' command")
    );
    let help = c.cmd(&["SLOWLOG", "HELP"]);
    let lines = help.as_array().expect("array");
    assert_eq!(
        lines[0],
        Value::Simple("SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".into())
    );
    assert_eq!(
        lines.last(),
        Some(&Value::Simple("    Prints this help.".into()))
    );
}
