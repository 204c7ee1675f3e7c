//! RDB persistence end to end: SAVE/BGSAVE and restart, INFO persistence fields, save points,
//! SHUTDOWN SAVE, DEBUG RELOAD, refusing corrupt files, point-in-time consistency of a BGSAVE
//! taken while a client keeps moving value between keys with MULTI, the fixture files, and
//! interop with redis-server 7.0 in both directions (files written by one loaded by the other).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{wait_until, Conn, ServerProc, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn bulk(s: &str) -> Value {
    Value::Bulk(s.as_bytes().to_vec())
}

fn info_field(c: &mut Conn, name: &str) -> String {
    c.info_field("persistence", name)
        .unwrap_or_else(|| panic!("no {name} in INFO persistence"))
}

fn wait_bgsave_done(c: &mut Conn) {
    assert!(
        wait_until(Duration::from_secs(120), || info_field(
            c,
            "rdb_bgsave_in_progress"
        ) == "0"),
        "BGSAVE did not finish"
    );
}

/// A dataset of every type ferrokv holds today, in two databases, with TTLs.
fn populate(c: &mut Conn) {
    assert_eq!(c.cmd(&["SET", "str", "hello"]), Value::Simple("OK".into()));
    c.cmd(&["SET", "int", "12345"]);
    c.cmd(&["SET", "neg", "-7"]);
    c.cmd(&["SET", "big", &"x".repeat(5000)]);
    c.cmd(&["SET", "ttl", "v", "PX", "100000000"]);
    c.cmd(&["RPUSH", "list", "a", "1", "b", "22222222222"]);
    let many: Vec<String> = (0..2000).map(|i| format!("elem-{i}")).collect();
    let mut args = vec!["RPUSH", "biglist"];
    args.extend(many.iter().map(String::as_str));
    c.cmd(&args);
    c.cmd(&["HSET", "hash", "f1", "v1", "f2", "2"]);
    let fields: Vec<String> = (0..600).map(|i| format!("f{i}")).collect();
    let mut args = vec!["HSET", "bighash"];
    for f in &fields {
        args.push(f);
        args.push(f);
    }
    c.cmd(&args);
    c.cmd(&["SADD", "iset", "1", "2", "3", "-100000", "9999999999"]);
    c.cmd(&["SADD", "sset", "a", "b", "c"]);
    let members: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    let mut args = vec!["SADD", "bigset"];
    args.extend(members.iter().map(String::as_str));
    c.cmd(&args);
    c.cmd(&[
        "ZADD", "zset", "1", "a", "2.5", "b", "-inf", "c", "1e300", "d",
    ]);
    let mut args = vec!["ZADD", "bigzset"];
    let scores: Vec<String> = (0..1000).map(|i| format!("{}.5", i)).collect();
    for (s, m) in scores.iter().zip(&members) {
        args.push(s);
        args.push(m);
    }
    c.cmd(&args);
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["SET", "in3", "three"]);
    c.cmd(&["SELECT", "0"]);
}

fn check_populated(c: &mut Conn) {
    assert_eq!(c.cmd(&["GET", "str"]), bulk("hello"));
    assert_eq!(c.cmd(&["GET", "int"]), bulk("12345"));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "int"]), bulk("int"));
    assert_eq!(c.cmd(&["GET", "neg"]), bulk("-7"));
    assert_eq!(c.cmd(&["STRLEN", "big"]), Value::Int(5000));
    let pttl = c.cmd(&["PTTL", "ttl"]).as_int().unwrap();
    assert!(pttl > 99_000_000 && pttl <= 100_000_000, "{pttl}");
    assert_eq!(
        c.cmd(&["LRANGE", "list", "0", "-1"]),
        Value::Array(vec![bulk("a"), bulk("1"), bulk("b"), bulk("22222222222")])
    );
    assert_eq!(c.cmd(&["LLEN", "biglist"]), Value::Int(2000));
    assert_eq!(c.cmd(&["LINDEX", "biglist", "1999"]), bulk("elem-1999"));
    assert_eq!(c.cmd(&["HGET", "hash", "f2"]), bulk("2"));
    assert_eq!(c.cmd(&["HLEN", "bighash"]), Value::Int(600));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "bighash"]), bulk("hashtable"));
    let mut set = c.cmd(&["SMEMBERS", "iset"]).as_array().unwrap().to_vec();
    set.sort_by(|a, b| a.as_bytes().cmp(&b.as_bytes()));
    assert_eq!(
        set,
        vec![
            bulk("-100000"),
            bulk("1"),
            bulk("2"),
            bulk("3"),
            bulk("9999999999")
        ]
    );
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "iset"]), bulk("intset"));
    assert_eq!(c.cmd(&["SCARD", "sset"]), Value::Int(3));
    assert_eq!(c.cmd(&["SISMEMBER", "sset", "b"]), Value::Int(1));
    assert_eq!(c.cmd(&["SCARD", "bigset"]), Value::Int(1000));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "bigset"]), bulk("hashtable"));
    assert_eq!(
        c.cmd(&["ZRANGE", "zset", "0", "-1"]),
        Value::Array(vec![bulk("c"), bulk("a"), bulk("b"), bulk("d")])
    );
    assert_eq!(c.cmd(&["ZSCORE", "zset", "b"]), bulk("2.5"));
    assert_eq!(c.cmd(&["ZSCORE", "zset", "c"]), bulk("-inf"));
    assert_eq!(c.cmd(&["ZCARD", "bigzset"]), Value::Int(1000));
    assert_eq!(c.cmd(&["ZSCORE", "bigzset", "m999"]), bulk("999.5"));
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "bigzset"]), bulk("skiplist"));
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(14));
    c.cmd(&["SELECT", "3"]);
    assert_eq!(c.cmd(&["GET", "in3"]), bulk("three"));
    c.cmd(&["SELECT", "0"]);
}

#[test]
fn save_then_restart_keeps_everything() {
    if ferrokv_testkit::skip_on_disk(
        "restart keeps the disk store: the RDB file is not reloaded over it",
    ) {
        return;
    }
    let mut s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    populate(&mut c);
    let before = c.cmd(&["LASTSAVE"]).as_int().unwrap();
    assert_eq!(c.cmd(&["SAVE"]), Value::Simple("OK".into()));
    assert!(c.cmd(&["LASTSAVE"]).as_int().unwrap() >= before);
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert_eq!(info_field(&mut c, "rdb_saves"), "1");
    // Written after the save: lost by the restart below.
    c.cmd(&["SET", "unsaved", "1"]);
    s.restart();
    let mut c = s.conn();
    check_populated(&mut c);
    assert_eq!(c.cmd(&["EXISTS", "unsaved"]), Value::Int(0));
    assert!(s.logs().contains("DB loaded from disk"), "{}", s.logs());
}

#[test]
fn hash_field_ttls_survive_and_use_version_12() {
    let mut s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    c.cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        c.cmd(&["HPEXPIRE", "h", "100000000", "FIELDS", "1", "a"]),
        Value::Array(vec![Value::Int(1)])
    );
    c.cmd(&["SAVE"]);
    let head = std::fs::read(s.dir().join("dump.rdb")).unwrap();
    assert_eq!(&head[..9], b"REDIS0012");
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["HLEN", "h"]), Value::Int(3));
    let ttl = c.cmd(&["HPTTL", "h", "FIELDS", "2", "a", "b"]);
    let a = ttl.as_array().unwrap();
    assert!(a[0].as_int().unwrap() > 99_000_000);
    assert_eq!(a[1], Value::Int(-1));
    // Without field TTLs the file is version 10 (Redis 7.0 reads it).
    c.cmd(&["DEL", "h"]);
    c.cmd(&["SET", "x", "1"]);
    c.cmd(&["SAVE"]);
    let head = std::fs::read(s.dir().join("dump.rdb")).unwrap();
    assert_eq!(&head[..9], b"REDIS0010");
}

#[test]
fn bgsave_replies_and_info_fields() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    populate(&mut c);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_time_sec"), "-1");
    assert_ne!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert_eq!(
        c.cmd(&["BGSAVE"]),
        Value::Simple("Background saving started".into())
    );
    wait_bgsave_done(&mut c);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&mut c, "rdb_saves"), "1");
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert_eq!(info_field(&mut c, "rdb_current_bgsave_time_sec"), "-1");
    assert_ne!(info_field(&mut c, "rdb_last_bgsave_time_sec"), "-1");
    assert_eq!(info_field(&mut c, "loading"), "0");
    assert!(c.cmd(&["BGSAVE", "NOW"]).is_error());
    let f = ferrokv_rdb::load(std::fs::File::open(s.dir().join("dump.rdb")).unwrap()).unwrap();
    assert_eq!(f.keys.len(), 15);
    assert!(s
        .logs()
        .contains("Background saving terminated with success"));
}

#[test]
fn save_points_trigger_background_saves() {
    let s = ServerProc::ferrokv(BIN, &["--save", "1 2"]);
    let mut c = s.conn();
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "b", "1"]);
    c.cmd(&["SET", "c", "1"]);
    assert!(wait_until(Duration::from_secs(10), || info_field(
        &mut c,
        "rdb_saves"
    ) != "0"));
    wait_bgsave_done(&mut c);
    assert!(s.dir().join("dump.rdb").exists());
    assert!(s.logs().contains("changes in 1 seconds. Saving..."));
}

#[test]
fn shutdown_save_and_nosave() {
    if ferrokv_testkit::skip_on_disk(
        "restart keeps the disk store: the RDB file is not reloaded over it",
    ) {
        return;
    }
    let mut s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    c.cmd(&["SET", "k", "v1"]);
    c.send(&[b"SHUTDOWN", b"SAVE"]);
    assert!(s.wait_exit(Duration::from_secs(10)));
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "k"]), bulk("v1"));
    c.cmd(&["SET", "k", "v2"]);
    c.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(s.wait_exit(Duration::from_secs(10)));
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "k"]), bulk("v1"));
}

#[test]
fn debug_reload_round_trips() {
    let s = ServerProc::ferrokv(BIN, &["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    populate(&mut c);
    assert_eq!(c.cmd(&["DEBUG", "RELOAD"]), Value::Simple("OK".into()));
    check_populated(&mut c);
    assert!(s.dir().join("dump.rdb").exists());
}

#[test]
fn flushall_with_save_points_saves_the_empty_dataset() {
    let mut s = ServerProc::ferrokv(BIN, &["--save", "3600 1"]);
    let mut c = s.conn();
    c.cmd(&["SET", "k", "v"]);
    c.cmd(&["SAVE"]);
    c.cmd(&["FLUSHALL"]);
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(0));
}

/// Starts the binary on `dir` (holding a prepared dump.rdb) and expects it to exit non-zero.
fn expect_refusal(dir: &Path) -> String {
    let port = ferrokv_testkit::free_port().to_string();
    let out = std::process::Command::new(BIN)
        .args([
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "server started on a corrupt file");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ferrokv-persist-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn corrupt_or_truncated_files_stop_the_server() {
    // A valid file from a real save, then damaged in two ways.
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    populate(&mut c);
    c.cmd(&["SAVE"]);
    let good = std::fs::read(s.dir().join("dump.rdb")).unwrap();
    drop(c);
    drop(s);
    let d = temp_dir("corrupt");
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    std::fs::write(d.join("dump.rdb"), &flipped).unwrap();
    let log = expect_refusal(&d);
    assert!(log.contains("Fatal error loading the DB"), "{log}");
    std::fs::write(d.join("dump.rdb"), &good[..good.len() - 20]).unwrap();
    let log = expect_refusal(&d);
    assert!(log.contains("Fatal error loading the DB"), "{log}");
    std::fs::write(d.join("dump.rdb"), b"not an rdb file at all").unwrap();
    expect_refusal(&d);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn expired_keys_are_dropped_on_load() {
    if ferrokv_testkit::skip_on_disk(
        "restart keeps the disk store: the RDB file is not reloaded over it",
    ) {
        return;
    }
    let mut s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    c.cmd(&["SET", "short", "v", "PX", "300"]);
    c.cmd(&["SET", "long", "v", "EX", "1000"]);
    c.cmd(&["SAVE"]);
    std::thread::sleep(Duration::from_millis(400)); // let the stored TTL pass (not a sync)
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["EXISTS", "short"]), Value::Int(0));
    assert_eq!(c.cmd(&["EXISTS", "long"]), Value::Int(1));
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(1));
    assert_eq!(info_field(&mut c, "rdb_last_load_keys_loaded"), "1");
    assert_eq!(info_field(&mut c, "rdb_last_load_keys_expired"), "1");
}

/// BGSAVE of a large dataset while a client moves value between accounts with MULTI: the file
/// holds one consistent instant (the total is intact), and the writes really overlapped the save.
#[test]
fn bgsave_is_point_in_time_consistent_under_writes() {
    let s = ServerProc::ferrokv(BIN, &["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    let keys: usize = std::env::var("FERROKV_SNAPSHOT_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        // The disk engine writes each populated key through the journal (debug build: slow).
        .unwrap_or(if ferrokv_testkit::engine_is_disk() {
            100_000
        } else {
            1_000_000
        });
    c.set_reply_timeout(Duration::from_secs(300));
    assert_eq!(
        c.cmd(&["DEBUG", "POPULATE", &keys.to_string()]),
        Value::Simple("OK".into())
    );
    const ACCOUNTS: usize = 200;
    for i in 0..ACCOUNTS {
        c.cmd(&["SET", &format!("acct:{i}"), "1000"]);
    }
    c.cmd(&["SET", "transfers", "0"]);
    let addr = s.addr();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut w = Conn::connect(&addr);
        let mut n = 0u64;
        let mut x = 12345u64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let a = (x >> 33) as usize % ACCOUNTS;
            let b = (x >> 13) as usize % ACCOUNTS;
            let amt = ((x >> 50) % 50 + 1).to_string();
            w.cmd(&["MULTI"]);
            w.cmd(&["DECRBY", &format!("acct:{a}"), &amt]);
            w.cmd(&["INCRBY", &format!("acct:{b}"), &amt]);
            w.cmd(&["INCR", "transfers"]);
            let r = w.cmd(&["EXEC"]);
            assert_eq!(r.as_array().map(|a| a.len()), Some(3), "{r:?}");
            // And keys spread over every shard change too (serialize-before-mutate path).
            w.cmd(&["SET", &format!("key:{}", x % keys as u64), "changed"]);
            n += 1;
        }
        n
    });
    // Let the writer get going, then snapshot.
    let mut probe = s.conn();
    assert!(wait_until(Duration::from_secs(10), || probe
        .cmd(&["GET", "transfers"])
        .as_bytes()
        .is_some_and(|b| b != b"0")));
    let before = probe.cmd(&["GET", "transfers"]);
    assert_eq!(
        c.cmd(&["BGSAVE"]),
        Value::Simple("Background saving started".into())
    );
    wait_bgsave_done(&mut c);
    let after = probe.cmd(&["GET", "transfers"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let done = writer.join().unwrap();
    assert!(done > 0);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    let parse = |v: &Value| -> i64 {
        std::str::from_utf8(v.as_bytes().unwrap())
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(
        parse(&after) > parse(&before),
        "no transfer happened while the snapshot ran"
    );
    let f = ferrokv_rdb::load(std::io::BufReader::new(
        std::fs::File::open(s.dir().join("dump.rdb")).unwrap(),
    ))
    .unwrap();
    assert_eq!(f.keys.len(), keys + ACCOUNTS + 1);
    let mut total = 0i64;
    let mut transfers = None;
    for k in &f.keys {
        if let ferrokv_rdb::RdbValue::String(v) = &k.value {
            if k.key.starts_with(b"acct:") {
                total += std::str::from_utf8(v).unwrap().parse::<i64>().unwrap();
            } else if k.key == b"transfers" {
                transfers = Some(std::str::from_utf8(v).unwrap().parse::<i64>().unwrap());
            }
        }
    }
    assert_eq!(total, 1000 * ACCOUNTS as i64, "snapshot is not consistent");
    let t = transfers.unwrap();
    assert!(t >= parse(&before) && t <= parse(&after), "{t}");
}

/// Where the shared fixture files are (`../shared/fixtures` beside the clone), if present.
fn fixtures() -> Option<PathBuf> {
    for p in [
        "/work/shared/fixtures",
        "../../../shared/fixtures",
        "../shared/fixtures",
    ] {
        let p = PathBuf::from(p);
        if p.join("README.md").exists() {
            return Some(p);
        }
    }
    println!("SKIP: fixture directory not found");
    None
}

/// Starts ferrokv on a copy of fixture `name` as its dump.rdb.
fn on_fixture(dir: &Path, name: &str) -> ServerProc {
    let s = ServerProc::ferrokv(BIN, &["--dbfilename", "unused.rdb"]);
    std::fs::copy(dir.join(name), s.dir().join("fixture.rdb")).unwrap();
    let mut s = s;
    s.restart_with(&["--dbfilename", "fixture.rdb"]);
    s
}

#[test]
fn fixture_files_load() {
    let Some(dir) = fixtures() else { return };
    let mut s = on_fixture(&dir, "hash-zipmap.rdb");
    let mut c = s.conn();
    assert_eq!(c.cmd(&["HGET", "hash", "f2"]), bulk("v2"));
    assert_eq!(c.cmd(&["HLEN", "hash"]), Value::Int(2));
    drop(c);
    s.kill();
    let s = on_fixture(&dir, "hash-ziplist.rdb");
    let mut c = s.conn();
    assert_eq!(c.cmd(&["HGET", "hash", "f1"]), bulk("v1"));
    let s = on_fixture(&dir, "list-quicklist.rdb");
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "x"]), bulk("7"));
    assert_eq!(
        c.cmd(&["LRANGE", "list", "0", "-1"]),
        Value::Array(vec![bulk("7")])
    );
    let s = on_fixture(&dir, "zset-ziplist.rdb");
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&["ZRANGE", "zset", "0", "-1", "WITHSCORES"]),
        Value::Array(vec![bulk("one"), bulk("1"), bulk("two"), bulk("2")])
    );
    let s = on_fixture(&dir, "encodings.rdb");
    let mut c = s.conn();
    let comp = c.cmd(&["GET", "compressible"]);
    let comp = comp.as_bytes().unwrap();
    assert!(comp.len() > 100 && comp.iter().all(|&b| b == b'a'));
    assert_eq!(c.cmd(&["GET", "string"]), bulk("Hello World"));
    assert_eq!(c.cmd(&["GET", "number"]), bulk("10"));
    assert_eq!(c.cmd(&["HGET", "hash", "eee"]), bulk("5000000000"));
    assert_eq!(c.cmd(&["HLEN", "hash"]), Value::Int(11));
    assert_eq!(c.cmd(&["HGET", "hash_zipped", "c"]), bulk("3"));
    assert_eq!(c.cmd(&["LLEN", "list"]), Value::Int(24));
    assert_eq!(c.cmd(&["LINDEX", "list_zipped", "7"]), bulk("6000000000"));
    assert_eq!(c.cmd(&["SCARD", "set"]), Value::Int(8));
    assert_eq!(
        c.cmd(&["SISMEMBER", "set_zipped_3", "6000000000"]),
        Value::Int(1)
    );
    assert_eq!(c.cmd(&["ZSCORE", "zset", "bbbb"]), bulk("5000000000"));
    assert_eq!(c.cmd(&["ZCARD", "zset"]), Value::Int(12));
    assert_eq!(c.cmd(&["ZSCORE", "zset_zipped", "c"]), bulk("3"));
    let s = on_fixture(&dir, "corrupt_empty_keys.rdb");
    let mut c = s.conn();
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(0));
    assert!(s.logs().contains("skipping empty key"), "{}", s.logs());
    let s = on_fixture(&dir, "scriptbackup.rdb");
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&[
            "SCRIPT",
            "EXISTS",
            "a0c38691e9fffe4563723c32ba77a34398e090e6"
        ]),
        Value::Array(vec![Value::Int(0)])
    );
}

#[test]
fn corrupt_fixture_is_refused() {
    let Some(dir) = fixtures() else { return };
    let d = temp_dir("fixture");
    std::fs::copy(dir.join("corrupt_ziplist.rdb"), d.join("dump.rdb")).unwrap();
    let log = expect_refusal(&d);
    assert!(log.contains("Fatal error loading the DB"), "{log}");
    let _ = std::fs::remove_dir_all(&d);
}

/// A file written by redis-server 7.0 loads with every key, value and TTL (the types ferrokv
/// holds; sets and sorted sets join when their families land).
#[test]
fn redis_written_file_loads_into_ferrokv() {
    let Some(r) = ServerProc::redis(&[]) else {
        return;
    };
    let mut rc = r.conn();
    populate(&mut rc);
    assert_eq!(rc.cmd(&["SAVE"]), Value::Simple("OK".into()));
    let mut s = ServerProc::ferrokv(BIN, &[]);
    std::fs::copy(r.dir().join("dump.rdb"), s.dir().join("dump.rdb")).unwrap();
    s.restart();
    let mut c = s.conn();
    check_populated(&mut c);
}

/// A file written by ferrokv loads into redis-server 7.0.
#[test]
fn ferrokv_written_file_loads_into_redis() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    populate(&mut c);
    c.cmd(&["SAVE"]);
    let Some(mut r) = ServerProc::redis(&[]) else {
        return;
    };
    std::fs::copy(s.dir().join("dump.rdb"), r.dir().join("dump.rdb")).unwrap();
    r.restart();
    let mut rc = r.conn();
    // 7.0 encodes small lists as quicklist: compare everything but that encoding.
    assert_eq!(
        rc.cmd(&["OBJECT", "ENCODING", "bighash"]),
        bulk("hashtable")
    );
    check_populated(&mut rc);
}

/// While a big file loads the server answers: INFO shows `loading:1` with progress fields and
/// other commands get -LOADING; at the end every key is there and the log says so.
#[test]
fn loading_is_visible_in_info_and_gates_commands() {
    if ferrokv_testkit::skip_on_disk(
        "restart keeps the disk store: the RDB file is not reloaded over it",
    ) {
        return;
    }
    let s = ServerProc::ferrokv(BIN, &["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    c.set_reply_timeout(Duration::from_secs(300));
    c.cmd(&["DEBUG", "POPULATE", "1500000", "key", "100"]);
    assert_eq!(c.cmd(&["SAVE"]), Value::Simple("OK".into()));
    drop(c);
    let d = temp_dir("loading");
    std::fs::copy(s.dir().join("dump.rdb"), d.join("dump.rdb")).unwrap();
    drop(s);
    let port = ferrokv_testkit::free_port();
    let mut child = std::process::Command::new(BIN)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
        ])
        .arg(&d)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until(Duration::from_secs(10), || {
        std::net::TcpStream::connect(&addr).is_ok()
    }));
    let mut c = Conn::connect(&addr);
    let mut saw_loading = false;
    let done = wait_until(Duration::from_secs(120), || {
        // One INFO reply per check: the load may end between two of them, and the
        // loading_* details are only listed while it runs.
        let v = c.cmd(&["INFO", "persistence"]);
        let info = String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned();
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
        };
        if field("loading").as_deref() == Some("1") {
            saw_loading = true;
            let total = field("loading_total_bytes").expect("loading_total_bytes while loading");
            assert_ne!(total, "0");
            assert!(field("loading_loaded_perc").is_some(), "{info}");
            let r = c.cmd(&["DBSIZE"]);
            // The load may end between the two commands.
            assert!(
                r == Value::Error("LOADING Redis is loading the dataset in memory".into())
                    || r == Value::Int(1_500_000),
                "{r:?}"
            );
            false
        } else {
            true
        }
    });
    assert!(done);
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(1_500_000));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&d);
    assert!(saw_loading, "the load ended before INFO could see it");
}

/// Function libraries are saved (FUNCTION2 records) and loaded back, and a library saved by
/// redis-server loads into ferrokv.
#[test]
fn function_libraries_survive_restarts() {
    const LIB: &str = "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return args[1] end)";
    let mut s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", LIB]), bulk("mylib"));
    c.cmd(&["SET", "k", "v"]);
    c.cmd(&["SAVE"]);
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["FCALL", "myfunc", "0", "hello"]), bulk("hello"));
    assert_eq!(c.cmd(&["GET", "k"]), bulk("v"));
    if ferrokv_testkit::skip_on_disk(
        "the rest loads a new RDB file over a store that has data (the disk store ignores it)",
    ) {
        return;
    }
    let Some(r) = ServerProc::redis(&[]) else {
        return;
    };
    let mut rc = r.conn();
    assert_eq!(rc.cmd(&["FUNCTION", "LOAD", LIB]), bulk("mylib"));
    rc.cmd(&["SAVE"]);
    std::fs::copy(r.dir().join("dump.rdb"), s.dir().join("dump.rdb")).unwrap();
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["FCALL", "myfunc", "0", "again"]), bulk("again"));
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(0));
}

/// Under an LRU `maxmemory-policy` keys carry their idle time through the file (IDLE hints),
/// under LFU their frequency (FREQ hints), as Redis writes and reads them.
#[test]
fn access_hints_survive_restarts() {
    if ferrokv_testkit::skip_on_disk(
        "restart keeps the disk store: the RDB file is not reloaded over it",
    ) {
        return;
    }
    let mut s = ServerProc::ferrokv(BIN, &["--maxmemory-policy", "allkeys-lru"]);
    let mut c = s.conn();
    c.cmd(&["SET", "src", "v"]);
    let p = match c.cmd(&["DUMP", "src"]) {
        Value::Bulk(b) => b,
        other => panic!("{other:?}"),
    };
    let raw = c.cmd_raw(&[b"RESTORE", b"old", b"0", &p, b"IDLETIME", b"5000"]);
    assert_eq!(raw, b"+OK\r\n");
    c.cmd(&["SAVE"]);
    s.restart();
    let mut c = s.conn();
    let idle = c.cmd(&["OBJECT", "IDLETIME", "old"]).as_int().unwrap();
    assert!((5000..5100).contains(&idle), "{idle}");
    assert!(c.cmd(&["OBJECT", "IDLETIME", "src"]).as_int().unwrap() < 100);
    s.restart_with(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut c = s.conn();
    // The counter decays once per minute boundary crossed before the read.
    ferrokv_testkit::wait_until_inside_minute();
    let raw = c.cmd_raw(&[b"RESTORE", b"hot", b"0", &p, b"FREQ", b"200"]);
    assert_eq!(raw, b"+OK\r\n");
    c.cmd(&["SAVE"]);
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "hot"]), Value::Int(200));
}
