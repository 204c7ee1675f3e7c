//! CONFIG GET/SET/RESETSTAT/REWRITE/HELP and the run-time effects of CONFIG SET.

use ferrokv_testkit::{ServerProc, Value};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn info_field(c: &mut ferrokv_testkit::Conn, section: &str, name: &str) -> Option<String> {
    let v = c.cmd(&["INFO", section]);
    let text = String::from_utf8_lossy(v.as_bytes().expect("bulk")).to_string();
    text.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
}

#[test]
fn get_and_set_round_trip() {
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "hz", "25", "timeout", "7"]),
        Value::Simple("OK".into())
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "hz", "timeout"]),
        Value::Array(vec![
            Value::bulk("hz"),
            Value::bulk("25"),
            Value::bulk("timeout"),
            Value::bulk("7")
        ])
    );
    // Applied: INFO shows the new hz.
    assert_eq!(info_field(&mut c, "server", "hz").as_deref(), Some("25"));
    c.hello3();
    let m = c.cmd(&["CONFIG", "GET", "maxmemory*"]);
    let m = m.as_map().expect("RESP3 map");
    assert!(m
        .iter()
        .any(|(k, _)| k.as_str() == Some("maxmemory-policy")));
    // Atomic: a failing pair leaves everything unchanged.
    let e = c.cmd(&["CONFIG", "SET", "timeout", "50", "hz", "abc"]);
    assert!(e.is_error());
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "timeout"]).as_map().expect("map")[0].1,
        Value::bulk("7")
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "hz", "10", "timeout"])
            .error_text(),
        Some("ERR syntax error")
    );
    let h = c.cmd(&["CONFIG", "HELP"]);
    assert!(h.as_array().expect("array")[0]
        .as_str()
        .unwrap_or("")
        .starts_with("CONFIG <subcommand>"));
}

#[test]
fn set_has_run_time_effects() {
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    c.cmd(&[
        "CONFIG",
        "SET",
        "maxmemory-policy",
        "allkeys-lfu",
        "maxmemory",
        "10mb",
    ]);
    assert_eq!(
        info_field(&mut c, "memory", "maxmemory_policy").as_deref(),
        Some("allkeys-lfu")
    );
    assert_eq!(
        info_field(&mut c, "memory", "maxmemory").as_deref(),
        Some("10485760")
    );
    assert_eq!(
        info_field(&mut c, "memory", "maxmemory_human").as_deref(),
        Some("10.00M")
    );
    c.cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    c.cmd(&["CONFIG", "SET", "loglevel", "warning"]);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "loglevel"]),
        Value::Array(vec![Value::bulk("loglevel"), Value::bulk("warning")])
    );
    c.cmd(&["CONFIG", "SET", "maxclients", "123"]);
    assert_eq!(
        info_field(&mut c, "clients", "maxclients").as_deref(),
        Some("123")
    );
    // requirepass applies to new connections at once.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "requirepass", "s3cret"]),
        Value::Simple("OK".into())
    );
    let mut other = srv.conn();
    assert_eq!(
        other.cmd(&["GET", "k"]).error_text(),
        Some("NOAUTH Authentication required.")
    );
    assert_eq!(other.cmd(&["AUTH", "s3cret"]), Value::Simple("OK".into()));
    assert_eq!(other.cmd(&["GET", "k"]), Value::Null);
}

#[test]
fn resetstat_zeroes_statistics() {
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["GET", "a"]);
    c.cmd(&["GET", "b"]);
    c.cmd(&["NOSUCH"]);
    assert!(info_field(&mut c, "commandstats", "cmdstat_get").is_some());
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]), Value::Simple("OK".into()));
    assert_eq!(info_field(&mut c, "commandstats", "cmdstat_get"), None);
    assert_eq!(info_field(&mut c, "commandstats", "cmdstat_set"), None);
    assert_eq!(info_field(&mut c, "errorstats", "errorstat_ERR"), None);
    assert_eq!(
        info_field(&mut c, "stats", "keyspace_hits").as_deref(),
        Some("0")
    );
    assert_eq!(
        info_field(&mut c, "stats", "keyspace_misses").as_deref(),
        Some("0")
    );
    assert_eq!(
        info_field(&mut c, "stats", "total_error_replies").as_deref(),
        Some("0")
    );
    // The data and rdb_changes_since_last_save are not statistics.
    assert_eq!(c.cmd(&["GET", "a"]), Value::bulk("1"));
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_changes_since_last_save").as_deref(),
        Some("1")
    );
}

#[test]
fn rewrite_writes_the_config_file() {
    let srv = ServerProc::ferrokv_with_config(BIN, "hz 12\n# a comment\n", &[]);
    let mut c = srv.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "hz", "33"]),
        Value::Simple("OK".into())
    );
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), Value::Simple("OK".into()));
    let text = std::fs::read_to_string(srv.dir().join("test.conf")).expect("config file");
    assert!(text.contains("hz 33"), "{text}");
    assert!(text.contains("# a comment"), "{text}");
    let plain = ServerProc::ferrokv(BIN, &[]);
    assert_eq!(
        plain.conn().cmd(&["CONFIG", "REWRITE"]).error_text(),
        Some("ERR The server is running without a config file")
    );
}
