//! INFO: sections, field formats, and counters that move as commands run.

use ferrokv_testkit::{wait_until, Conn, ServerProc, Value};
use std::collections::HashMap;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

/// The INFO text split into section headers and `field -> value`.
fn info(c: &mut Conn, args: &[&str]) -> (Vec<String>, HashMap<String, String>) {
    let mut argv = vec!["INFO"];
    argv.extend_from_slice(args);
    let v = c.cmd(&argv);
    let text = String::from_utf8(v.as_bytes().expect("bulk or verbatim").to_vec()).expect("utf8");
    assert!(text.is_empty() || text.ends_with("\r\n"), "{text:?}");
    let mut sections = Vec::new();
    let mut fields = HashMap::new();
    for line in text.split("\r\n") {
        if let Some(h) = line.strip_prefix("# ") {
            sections.push(h.to_string());
        } else if let Some((k, v)) = line.split_once(':') {
            assert!(!k.is_empty() && !k.contains(' '), "bad field line {line:?}");
            fields.insert(k.to_string(), v.to_string());
        } else {
            assert!(line.is_empty(), "bad line {line:?}");
        }
    }
    (sections, fields)
}

fn num(f: &HashMap<String, String>, k: &str) -> i64 {
    f.get(k)
        .unwrap_or_else(|| panic!("no field {k}"))
        .parse()
        .unwrap_or_else(|_| panic!("{k} not an integer: {:?}", f.get(k)))
}

/// `calls=1,usec=2,...` into a map.
fn kv(s: &str) -> HashMap<String, String> {
    s.split(',')
        .filter_map(|p| p.split_once('='))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn sections_follow_redis_selection_rules() {
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    let default = [
        "Server",
        "Clients",
        "Memory",
        "Persistence",
        "Stats",
        "Replication",
        "CPU",
        "Modules",
        "Errorstats",
        "Cluster",
        "Keyspace",
    ];
    assert_eq!(info(&mut c, &[]).0, default);
    assert_eq!(info(&mut c, &["default"]).0, default);
    let all = info(&mut c, &["all"]).0;
    assert!(all.contains(&"Commandstats".to_string()) && all.contains(&"Latencystats".to_string()));
    assert_eq!(info(&mut c, &["everything"]).0, all);
    assert_eq!(
        info(&mut c, &["KEYSPACE", "cluster"]).0,
        ["Cluster", "Keyspace"]
    );
    assert!(info(&mut c, &["nosuch"]).0.is_empty());
    let mixed = info(&mut c, &["commandstats", "default"]).0;
    assert_eq!(mixed.len(), default.len() + 1);
}

#[test]
fn server_clients_memory_fields() {
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    let _c2 = srv.conn();
    let (_, f) = info(&mut c, &["everything"]);
    assert_eq!(f["redis_version"], "7.4.0");
    assert_eq!(f["server_name"], "ferrokv");
    assert_eq!(f["redis_mode"], "standalone");
    assert_eq!(f["role"], "master");
    assert_eq!(f["mem_allocator"], "mimalloc");
    assert_eq!(f["cluster_enabled"], "0");
    assert_eq!(f["loading"], "0");
    assert_eq!(f["aof_enabled"], "0");
    let port = srv.addr().rsplit(':').next().expect("port").to_string();
    assert_eq!(f["tcp_port"], port);
    assert_eq!(num(&f, "process_id"), i64::from(srv.pid()));
    assert_eq!(f["run_id"].len(), 40);
    assert_eq!(f["master_replid"].len(), 40);
    assert!(f["listener0"].contains(&format!("port={port}")));
    // Connections are registered asynchronously: poll.
    assert!(wait_until(Duration::from_secs(5), || {
        num(&info(&mut c, &["clients"]).1, "connected_clients") == 2
    }));
    assert!(num(&f, "used_memory") > 0);
    assert!(f["used_memory_human"].ends_with('M') || f["used_memory_human"].ends_with('K'));
    assert!(num(&f, "used_memory_peak") >= num(&f, "used_memory"));
    assert_eq!(num(&f, "maxmemory"), 0);
    assert_eq!(f["maxmemory_human"], "0B");
    assert_eq!(f["maxmemory_policy"], "noeviction");
    assert!(f["used_cpu_user"].parse::<f64>().is_ok());
    assert!(f["used_cpu_sys"].contains('.'));
    assert_eq!(num(&f, "hz"), 10);
    assert_eq!(num(&f, "maxclients"), 10000);
}

#[test]
fn counters_move() {
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    let (_, before) = info(&mut c, &["all"]);
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "b", "2", "EX", "100"]);
    c.cmd(&["GET", "a"]);
    c.cmd(&["GET", "nosuch"]);
    c.cmd(&["GET"]); // rejected: arity
    c.cmd(&["SET", "a", "1", "BADOPT"]); // failed: syntax
    c.cmd(&["NOSUCHCMD"]);
    let (_, f) = info(&mut c, &["all"]);
    assert_eq!(f["db0"], "keys=2,expires=1,avg_ttl=0,subexpiry=0");
    let set = kv(&f["cmdstat_set"]);
    assert_eq!(set["calls"], "3");
    assert_eq!(set["failed_calls"], "1");
    assert_eq!(set["rejected_calls"], "0");
    let get = kv(&f["cmdstat_get"]);
    assert_eq!(get["calls"], "2");
    assert_eq!(get["rejected_calls"], "1");
    assert!(get["usec_per_call"].contains('.'));
    assert_eq!(kv(&f["errorstat_ERR"])["count"], "3");
    assert_eq!(num(&f, "total_error_replies"), 3);
    assert_eq!(num(&f, "keyspace_hits") - num(&before, "keyspace_hits"), 1);
    assert_eq!(
        num(&f, "keyspace_misses") - num(&before, "keyspace_misses"),
        1
    );
    assert_eq!(num(&f, "rdb_changes_since_last_save"), 2);
    assert!(num(&f, "total_commands_processed") >= num(&before, "total_commands_processed") + 5);
    assert!(num(&f, "total_net_input_bytes") > num(&before, "total_net_input_bytes"));
    assert!(num(&f, "total_net_output_bytes") > num(&before, "total_net_output_bytes"));
    assert!(num(&f, "total_connections_received") >= 1);
}

/// `keys=`/`expires=` follow every way a key or its TTL comes and goes, per database (on the
/// disk engine they come from the engine's counters and deadline index, not from a scan).
#[test]
fn keyspace_counts_follow_writes() {
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    let db = |c: &mut Conn, n: &str| info(c, &["keyspace"]).1.get(n).cloned();
    let line = |k: u32, e: u32| Some(format!("keys={k},expires={e},avg_ttl=0,subexpiry=0"));
    c.cmd(&["MSET", "a", "1", "b", "2", "c", "3"]);
    c.cmd(&["EXPIRE", "a", "100"]);
    c.cmd(&["SET", "b", "2", "EX", "100"]);
    c.cmd(&["HSET", "h", "f", "v"]);
    assert_eq!(db(&mut c, "db0"), line(4, 2));
    c.cmd(&["PERSIST", "a"]);
    assert_eq!(db(&mut c, "db0"), line(4, 1));
    c.cmd(&["SET", "b", "x"]); // SET without KEEPTTL drops the TTL
    assert_eq!(db(&mut c, "db0"), line(4, 0));
    c.cmd(&["PEXPIRE", "h", "100000"]);
    c.cmd(&["DEL", "c"]);
    assert_eq!(db(&mut c, "db0"), line(3, 1));
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["SET", "x", "1", "EX", "100"]);
    assert_eq!(db(&mut c, "db3"), line(1, 1));
    c.cmd(&["FLUSHDB"]);
    assert_eq!(db(&mut c, "db3"), None);
    assert_eq!(db(&mut c, "db0"), line(3, 1));
    c.cmd(&["SWAPDB", "0", "3"]);
    assert_eq!(db(&mut c, "db0"), None);
    assert_eq!(db(&mut c, "db3"), line(3, 1));
}

#[test]
fn expired_keys_are_counted() {
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    c.cmd(&["SET", "e", "1", "PX", "1"]);
    // Either the active cycle or this lazy lookup expires it.
    assert!(wait_until(Duration::from_secs(5), || {
        c.cmd(&["GET", "e"]) == Value::Null && num(&info(&mut c, &["stats"]).1, "expired_keys") == 1
    }));
    let (s, f) = info(&mut c, &["keyspace"]);
    assert_eq!(s, ["Keyspace"]);
    assert!(!f.contains_key("db0"));
}

#[test]
fn instantaneous_ops_are_sampled() {
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    assert!(wait_until(Duration::from_secs(10), || {
        for _ in 0..200 {
            c.cmd(&["PING"]);
        }
        num(&info(&mut c, &["stats"]).1, "instantaneous_ops_per_sec") > 0
    }));
    let f = info(&mut c, &["stats"]).1;
    assert!(f["instantaneous_input_kbps"].parse::<f64>().expect("float") >= 0.0);
}

#[test]
fn resp3_reply_is_verbatim_text() {
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    match c.cmd(&["INFO", "cluster"]) {
        Value::Bulk(b) => assert_eq!(b, b"# Cluster\r\ncluster_enabled:0\r\n"),
        other => panic!("RESP2 INFO should be a bulk string: {other:?}"),
    }
    c.hello3();
    match c.cmd(&["INFO", "cluster"]) {
        Value::Verbatim(fmt, b) => {
            assert_eq!(fmt, "txt");
            assert_eq!(b, b"# Cluster\r\ncluster_enabled:0\r\n");
        }
        other => panic!("RESP3 INFO should be verbatim: {other:?}"),
    }
}

#[test]
fn memory_commands() {
    if ferrokv_testkit::skip_on_disk("MEMORY USAGE/STATS describe resident memory-engine objects") {
        return;
    }
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    c.cmd(&["SET", "small", "v"]);
    c.cmd(&["SET", "big", &"x".repeat(10_000)]);
    let small = c.cmd(&["MEMORY", "USAGE", "small"]).as_int().expect("int");
    let big = c
        .cmd(&["MEMORY", "USAGE", "big", "SAMPLES", "0"])
        .as_int()
        .expect("int");
    assert!((1..100).contains(&small), "{small}");
    assert!((10_000..12_000).contains(&big), "{big}");
    assert_eq!(c.cmd(&["MEMORY", "USAGE", "nosuch"]), Value::Null);
    c.hello3();
    let st = c.cmd(&["MEMORY", "STATS"]);
    let m = st.as_map().expect("map");
    let get = |k: &str| {
        m.iter()
            .find(|(n, _)| n.as_str() == Some(k))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("keys.count"), Some(Value::Int(2)));
    assert!(get("peak.allocated").and_then(|v| v.as_int()).expect("int") > 0);
    assert!(matches!(get("fragmentation"), Some(Value::Double(_))));
    assert!(get("db.0").and_then(|v| v.as_map().map(|m| m.len())) == Some(2));
    assert!(matches!(c.cmd(&["MEMORY", "DOCTOR"]), Value::Verbatim(..)));
    assert!(matches!(
        c.cmd(&["MEMORY", "MALLOC-STATS"]),
        Value::Verbatim(..)
    ));
    assert_eq!(c.cmd(&["MEMORY", "PURGE"]), Value::Simple("OK".into()));
    let h = c.cmd(&["MEMORY", "HELP"]);
    assert!(h.as_array().expect("array").len() > 5);
}
