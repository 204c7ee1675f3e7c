//! The append-only file end to end: every data type written and reloaded, SELECT between
//! databases, MULTI/EXEC wrapping, truncated tails (aof-load-truncated yes/no), corruption in
//! the middle (non-zero exit with a clear message), BGREWRITEAOF while writing, CONFIG SET
//! appendonly, INFO fields, and interop with redis-server 7.0 in both directions.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{wait_until, Conn, ServerProc, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Why these tests do not run on the disk engine.
const NO_AOF_ON_DISK: &str =
    "the disk engine keeps no append-only file: its journal is the durability mechanism";

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn bulk(s: &str) -> Value {
    Value::Bulk(s.as_bytes().to_vec())
}

fn info_field(c: &mut Conn, name: &str) -> String {
    c.info_field("persistence", name)
        .unwrap_or_else(|| panic!("no {name} in INFO persistence"))
}

fn aof_dir(s: &ServerProc) -> PathBuf {
    s.dir().join("appendonlydir")
}

fn manifest(s: &ServerProc) -> String {
    std::fs::read_to_string(aof_dir(s).join("appendonly.aof.manifest")).unwrap()
}

/// The last incremental file named by the manifest.
fn last_incr(s: &ServerProc) -> PathBuf {
    let m = manifest(s);
    let name = m
        .lines()
        .rfind(|l| l.ends_with("type i"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .to_string();
    aof_dir(s).join(name)
}

fn populate(c: &mut Conn) {
    c.cmd(&["SET", "str", "hello"]);
    c.cmd(&["SET", "ttl", "v", "PX", "100000000"]);
    c.cmd(&["RPUSH", "list", "a", "1", "b"]);
    c.cmd(&["HSET", "hash", "f1", "v1", "f2", "2"]);
    c.cmd(&["SADD", "set", "a", "b", "c"]);
    c.cmd(&["ZADD", "zset", "1.5", "a", "-2", "b"]);
    c.cmd(&["INCR", "counter"]);
    c.cmd(&["INCR", "counter"]);
    c.cmd(&["LPOP", "list"]);
    c.cmd(&["SELECT", "5"]);
    c.cmd(&["SET", "in5", "five"]);
    c.cmd(&["SELECT", "0"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "m1", "x"]);
    c.cmd(&["SET", "m2", "y"]);
    c.cmd(&["EXEC"]);
}

fn check(c: &mut Conn) {
    assert_eq!(c.cmd(&["GET", "str"]), bulk("hello"));
    let ttl = c.cmd(&["PTTL", "ttl"]);
    assert!(matches!(ttl, Value::Int(n) if n > 90_000_000), "{ttl:?}");
    assert_eq!(
        c.cmd(&["LRANGE", "list", "0", "-1"]),
        Value::Array(vec![bulk("1"), bulk("b")])
    );
    assert_eq!(c.cmd(&["HGET", "hash", "f2"]), bulk("2"));
    assert_eq!(c.cmd(&["SCARD", "set"]), Value::Int(3));
    assert_eq!(c.cmd(&["ZSCORE", "zset", "a"]), bulk("1.5"));
    assert_eq!(c.cmd(&["GET", "counter"]), bulk("2"));
    assert_eq!(c.cmd(&["GET", "m1"]), bulk("x"));
    assert_eq!(c.cmd(&["GET", "m2"]), bulk("y"));
    assert_eq!(c.cmd(&["GET", "in5"]), Value::Null);
    c.cmd(&["SELECT", "5"]);
    assert_eq!(c.cmd(&["GET", "in5"]), bulk("five"));
    c.cmd(&["SELECT", "0"]);
}

#[test]
fn written_and_reloaded_after_kill() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    for policy in ["always", "everysec", "no"] {
        let mut s = ServerProc::ferrokv(BIN, &["--appendonly", "yes", "--appendfsync", policy]);
        let mut c = s.conn();
        assert_eq!(info_field(&mut c, "aof_enabled"), "1");
        populate(&mut c);
        let text = std::fs::read(last_incr(&s)).unwrap();
        let text = String::from_utf8_lossy(&text).to_string();
        if policy == "always" {
            // Acknowledged means written: the last unit is in the file already.
            assert!(text.contains("MULTI"), "{text}");
            assert!(text.contains("m2"), "{text}");
        }
        // Wait until the writer has everything (everysec/no write at once, fsync later).
        assert!(wait_until(Duration::from_secs(5), || {
            String::from_utf8_lossy(&std::fs::read(last_incr(&s)).unwrap()).contains("m2")
        }));
        let incr = String::from_utf8_lossy(&std::fs::read(last_incr(&s)).unwrap()).to_string();
        assert!(
            incr.starts_with("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"),
            "{incr}"
        );
        assert!(incr.contains("*1\r\n$5\r\nMULTI\r\n"), "{incr}");
        s.restart();
        let mut c = s.conn();
        check(&mut c);
    }
}

#[test]
fn manifest_and_file_names_match_redis() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let s = ServerProc::ferrokv(BIN, &["--appendonly", "yes"]);
    let mut c = s.conn();
    c.cmd(&["SET", "a", "1"]);
    assert_eq!(
        manifest(&s),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    assert!(aof_dir(&s).join("appendonly.aof.1.base.rdb").is_file());
    assert_eq!(info_field(&mut c, "aof_last_write_status"), "ok");
    assert_eq!(info_field(&mut c, "aof_rewrites"), "0");
}

#[test]
fn bgrewriteaof_while_writing_then_restart() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let mut s = ServerProc::ferrokv(BIN, &["--appendonly", "yes"]);
    let mut c = s.conn();
    for i in 0..200 {
        c.cmd(&["RPUSH", "seq", &i.to_string()]);
    }
    let addr = s.addr();
    let writer = std::thread::spawn(move || {
        let mut w = Conn::connect(&addr);
        for i in 200..3000 {
            w.cmd(&["RPUSH", "seq", &i.to_string()]);
            w.cmd(&["INCR", "n"]);
        }
    });
    let mut rewrites = 0;
    while !writer.is_finished() || rewrites < 2 {
        let r = c.cmd(&["BGREWRITEAOF"]);
        if r == Value::Simple("Background append only file rewriting started".into()) {
            rewrites += 1;
        }
        assert!(wait_until(Duration::from_secs(30), || info_field(
            &mut c,
            "aof_rewrite_in_progress"
        ) == "0"));
    }
    writer.join().unwrap();
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    let m = manifest(&s);
    assert_eq!(m.lines().count(), 2, "{m}");
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["LLEN", "seq"]), Value::Int(3000));
    assert_eq!(c.cmd(&["LINDEX", "seq", "2999"]), bulk("2999"));
    assert_eq!(c.cmd(&["GET", "n"]), bulk("2800"));
}

#[test]
fn bgrewriteaof_errors() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let s = ServerProc::ferrokv(BIN, &["--appendonly", "yes"]);
    let mut c = s.conn();
    for i in 0..20000 {
        c.send(&[b"SET", format!("k{i}").as_bytes(), b"v"]);
    }
    for _ in 0..20000 {
        c.read_reply();
    }
    let first = c.cmd(&["BGREWRITEAOF"]);
    assert_eq!(
        first,
        Value::Simple("Background append only file rewriting started".into())
    );
    let second = c.cmd(&["BGREWRITEAOF"]);
    if info_field(&mut c, "aof_rewrite_in_progress") == "1" {
        assert_eq!(
            second,
            Value::Error("ERR Background append only file rewriting already in progress".into())
        );
    }
}

/// Starts the binary on `dir` (with an AOF) and waits for it to exit; returns (status, logs).
fn run_expecting_exit(dir: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let port = ferrokv_testkit::free_port().to_string();
    let mut args = vec![
        "--port",
        &port,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = Command::new(BIN)
        .args(&args)
        .output()
        .expect("run ferrokv-server");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn written_dir() -> (ServerProc, PathBuf) {
    let mut s = ServerProc::ferrokv(BIN, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = s.conn();
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "b", "2"]);
    c.cmd(&["SET", "c", "3"]);
    let incr = last_incr(&s);
    s.kill();
    (s, incr)
}

#[test]
fn truncated_tail_is_cut_with_aof_load_truncated_yes() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let (mut s, incr) = written_dir();
    let full = std::fs::read(&incr).unwrap();
    // Cut inside the last SET.
    std::fs::write(&incr, &full[..full.len() - 4]).unwrap();
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "b"]), bulk("2"));
    assert_eq!(c.cmd(&["GET", "c"]), Value::Null);
    assert!(s.logs().contains("Truncating the AOF"), "{}", s.logs());
    // The file was cut at the last complete command and new writes follow it cleanly.
    c.cmd(&["SET", "d", "4"]);
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "d"]), bulk("4"));
    assert_eq!(c.cmd(&["GET", "b"]), bulk("2"));
}

#[test]
fn truncated_tail_is_an_error_with_aof_load_truncated_no() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let (s, incr) = written_dir();
    let full = std::fs::read(&incr).unwrap();
    std::fs::write(&incr, &full[..full.len() - 4]).unwrap();
    let (code, logs) = run_expecting_exit(s.dir(), &["--aof-load-truncated", "no"]);
    assert_eq!(code, Some(1), "{logs}");
    assert!(logs.contains("unexpected end of file"), "{logs}");
}

#[test]
fn incomplete_multi_at_the_end_is_reverted() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let (mut s, incr) = written_dir();
    let mut data = std::fs::read(&incr).unwrap();
    data.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n");
    std::fs::write(&incr, &data).unwrap();
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "x"]), Value::Null);
    assert_eq!(c.cmd(&["GET", "c"]), bulk("3"));
    assert!(
        s.logs().contains("Revert incomplete MULTI/EXEC"),
        "{}",
        s.logs()
    );
}

#[test]
fn corruption_in_the_middle_exits_non_zero() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let (s, incr) = written_dir();
    let full = std::fs::read(&incr).unwrap();
    // Flip bits in structural bytes of the second command ('*' of the SET a 1).
    let second = full
        .windows(4)
        .position(|w| w == b"*3\r\n")
        .expect("a SET in the file");
    for (off, bit) in [(0usize, 0x04u8), (5, 0x10), (1, 0x40)] {
        let mut bad = full.clone();
        bad[second + off] ^= bit;
        std::fs::write(&incr, &bad).unwrap();
        let (code, logs) = run_expecting_exit(s.dir(), &[]);
        assert_eq!(code, Some(1), "flip at {off}: {logs}");
        assert!(
            logs.contains("Bad file format reading the append only file"),
            "{logs}"
        );
    }
    // An unknown command is corruption too.
    let mut bad = full.clone();
    let at = full.windows(3).position(|w| w == b"SET").unwrap();
    bad[at] = b'Q';
    std::fs::write(&incr, &bad).unwrap();
    let (code, logs) = run_expecting_exit(s.dir(), &[]);
    assert_eq!(code, Some(1), "{logs}");
    assert!(logs.contains("Unknown command"), "{logs}");
}

#[test]
fn config_set_appendonly_at_runtime() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let mut s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    c.cmd(&["SET", "before", "1"]);
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "appendonly", "yes"]),
        Value::Simple("OK".into())
    );
    c.cmd(&["SET", "after", "2"]);
    assert!(wait_until(Duration::from_secs(10), || info_field(
        &mut c,
        "aof_rewrite_in_progress"
    ) == "0"));
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    // Make sure everything reached the file before the crash.
    c.cmd(&["CONFIG", "SET", "appendfsync", "always"]);
    c.cmd(&["SET", "last", "3"]);
    s.restart_with(&["--appendonly", "yes"]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "before"]), bulk("1"));
    assert_eq!(c.cmd(&["GET", "after"]), bulk("2"));
    assert_eq!(c.cmd(&["GET", "last"]), bulk("3"));
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "appendonly", "no"]),
        Value::Simple("OK".into())
    );
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
}

#[test]
fn shutdown_flushes_everysec_data() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let mut s = ServerProc::ferrokv(BIN, &["--appendonly", "yes", "--appendfsync", "no"]);
    let mut c = s.conn();
    for i in 0..500 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    c.send(&[b"SHUTDOWN"]);
    assert!(s.wait_exit(Duration::from_secs(10)));
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(500));
}

#[test]
fn old_single_file_is_upgraded() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let mut s = ServerProc::ferrokv(BIN, &[]);
    std::fs::write(
        s.dir().join("appendonly.aof"),
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$3\r\nold\r\n$5\r\nstyle\r\n",
    )
    .unwrap();
    s.restart_with(&["--appendonly", "yes"]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "old"]), bulk("style"));
    let m = manifest(&s);
    assert!(m.starts_with("file appendonly.aof seq 1 type b\n"), "{m}");
    assert!(m.contains("appendonly.aof.1.incr.aof seq 1 type i"), "{m}");
    assert!(!s.dir().join("appendonly.aof").exists());
}

#[test]
fn loads_the_redis_written_preamble_fixture() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let fixture = Path::new("/work/shared/fixtures/rdb-preamble.aof");
    if !fixture.exists() {
        eprintln!("SKIP: {} absent", fixture.display());
        return;
    }
    let mut s = ServerProc::ferrokv(BIN, &[]);
    std::fs::copy(fixture, s.dir().join("appendonly.aof")).unwrap();
    s.restart_with(&["--appendonly", "yes"]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "k1"]), bulk("v1"));
    assert_eq!(c.cmd(&["GET", "k2"]), bulk("v2"));
    assert_eq!(c.cmd(&["GET", "k3"]), bulk("v3"));
}

/// Replaces `to`'s AOF directory with a copy of `from`'s.
fn copy_aof_dir(from: &Path, to: &Path) {
    let (src, dst) = (from.join("appendonlydir"), to.join("appendonlydir"));
    let _ = std::fs::remove_dir_all(&dst);
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
}

#[test]
fn redis_and_ferrokv_load_each_others_aof_dirs() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    // ferrokv writes, redis-server loads.
    let mut f = ServerProc::ferrokv(BIN, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = f.conn();
    populate(&mut c);
    c.cmd(&["BGREWRITEAOF"]);
    assert!(wait_until(Duration::from_secs(10), || info_field(
        &mut c,
        "aof_rewrite_in_progress"
    ) == "0"));
    c.cmd(&["SET", "after-rewrite", "1"]);
    f.kill();
    let Some(mut r) = ServerProc::redis(&["--appendonly", "yes"]) else {
        return;
    };
    r.kill();
    copy_aof_dir(f.dir(), r.dir());
    r.restart();
    let mut rc = r.conn();
    check(&mut rc);
    assert_eq!(rc.cmd(&["GET", "after-rewrite"]), bulk("1"));
    // redis-server writes more (and rewrites), ferrokv loads.
    rc.cmd(&["SET", "from-redis", "yes"]);
    rc.cmd(&["BGREWRITEAOF"]);
    assert!(wait_until(Duration::from_secs(10), || info_field(
        &mut rc,
        "aof_rewrite_in_progress"
    ) == "0"));
    rc.cmd(&["RPUSH", "redis-list", "1", "2"]);
    rc.send(&[b"SHUTDOWN"]);
    assert!(r.wait_exit(Duration::from_secs(10)));
    copy_aof_dir(r.dir(), f.dir());
    f.restart();
    let mut c = f.conn();
    check(&mut c);
    assert_eq!(c.cmd(&["GET", "from-redis"]), bulk("yes"));
    assert_eq!(c.cmd(&["LLEN", "redis-list"]), Value::Int(2));
}

#[test]
fn base_without_rdb_preamble_is_commands() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let mut s = ServerProc::ferrokv(
        BIN,
        &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
    );
    let mut c = s.conn();
    populate(&mut c);
    for i in 0..150 {
        c.cmd(&["RPUSH", "long", &i.to_string()]);
    }
    c.cmd(&["BGREWRITEAOF"]);
    assert!(wait_until(Duration::from_secs(10), || info_field(
        &mut c,
        "aof_rewrite_in_progress"
    ) == "0"));
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    let m = manifest(&s);
    assert!(
        m.starts_with("file appendonly.aof.2.base.aof seq 2 type b\n"),
        "{m}"
    );
    let base = std::fs::read(aof_dir(&s).join("appendonly.aof.2.base.aof")).unwrap();
    assert!(base.starts_with(b"*2\r\n$6\r\nSELECT\r\n"));
    c.cmd(&["CONFIG", "SET", "appendfsync", "always"]);
    c.cmd(&["SET", "tail", "1"]);
    s.restart();
    let mut c = s.conn();
    check(&mut c);
    assert_eq!(c.cmd(&["LLEN", "long"]), Value::Int(150));
    assert_eq!(c.cmd(&["GET", "tail"]), bulk("1"));
}

#[test]
fn bgrewriteaof_with_the_aof_off_writes_a_base_only_directory() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let mut s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    c.cmd(&["SET", "a", "1"]);
    assert_eq!(
        c.cmd(&["BGREWRITEAOF"]),
        Value::Simple("Background append only file rewriting started".into())
    );
    assert!(wait_until(Duration::from_secs(10), || info_field(
        &mut c,
        "aof_rewrite_in_progress"
    ) == "0"));
    assert_eq!(
        manifest(&s),
        "file appendonly.aof.1.base.rdb seq 1 type b\n"
    );
    s.restart_with(&["--appendonly", "yes"]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "a"]), bulk("1"));
}

#[test]
fn failing_disk_turns_writes_into_misconf() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    if !Path::new("/dev/full").exists() {
        eprintln!("SKIP: no /dev/full");
        return;
    }
    let s = ServerProc::ferrokv(BIN, &["--appendonly", "yes", "--appendfsync", "everysec"]);
    let mut c = s.conn();
    c.cmd(&["SET", "a", "1"]);
    // The next incremental file (opened by the rewrite) is the full device: every write fails
    // with ENOSPC.
    std::os::unix::fs::symlink("/dev/full", aof_dir(&s).join("appendonly.aof.2.incr.aof")).unwrap();
    c.cmd(&["BGREWRITEAOF"]);
    assert!(wait_until(Duration::from_secs(10), || info_field(
        &mut c,
        "aof_rewrite_in_progress"
    ) == "0"));
    c.cmd(&["SET", "b", "2"]);
    assert!(wait_until(Duration::from_secs(5), || info_field(
        &mut c,
        "aof_last_write_status"
    ) == "err"));
    assert_eq!(
        c.cmd(&["SET", "c", "3"]),
        Value::Error("MISCONF Errors writing to the AOF file: No space left on device".into())
    );
    // Reads still work.
    assert_eq!(c.cmd(&["GET", "a"]), bulk("1"));
}

#[test]
fn sigterm_flushes_the_aof() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let mut s = ServerProc::ferrokv(BIN, &["--appendonly", "yes", "--appendfsync", "no"]);
    let mut c = s.conn();
    for i in 0..300 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    assert!(s.terminate(Duration::from_secs(10)));
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(300));
}

#[test]
fn timestamp_annotations_are_written_and_skipped_on_load() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let mut s = ServerProc::ferrokv(
        BIN,
        &[
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--aof-timestamp-enabled",
            "yes",
        ],
    );
    let mut c = s.conn();
    c.cmd(&["SET", "a", "1"]);
    let text = String::from_utf8(std::fs::read(last_incr(&s)).unwrap()).unwrap();
    assert!(text.starts_with("#TS:"), "{text}");
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "a"]), bulk("1"));
}

#[test]
fn automatic_rewrite_on_growth() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let s = ServerProc::ferrokv(
        BIN,
        &[
            "--appendonly",
            "yes",
            "--auto-aof-rewrite-min-size",
            "4096",
            "--auto-aof-rewrite-percentage",
            "100",
        ],
    );
    let mut c = s.conn();
    let v = "x".repeat(100);
    for i in 0..100 {
        c.cmd(&["SET", &format!("k{}", i % 5), &v]);
    }
    assert!(
        wait_until(Duration::from_secs(10), || info_field(
            &mut c,
            "aof_rewrites"
        ) != "0"),
        "{}",
        s.logs()
    );
    assert!(s.logs().contains("Starting automatic rewriting of AOF"));
}
