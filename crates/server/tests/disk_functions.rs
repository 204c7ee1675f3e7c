//! `storage-engine disk` keeps what Redis keeps outside the keyspace: the FUNCTION libraries
//! survive restarts (Redis carries them in its RDB/AOF; the disk engine reads neither at
//! restart), also when they came with an imported RDB file, and `CONFIG SET appendfsync`
//! reaches the disk engine at run time. Every server here uses `--storage-engine disk`.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{wait_until, ServerProc, Value};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

const LIB_A: &str =
    "#!lua name=liba\nredis.register_function('fa', function(keys, args) return 'a' end)";
const LIB_B: &str = "#!lua name=libb\nredis.register_function{function_name='fb', callback=function(keys, args) return redis.call('GET', keys[1]) end, flags={'no-writes'}}";

fn disk(extra: &[&str]) -> ServerProc {
    let mut args = vec!["--storage-engine", "disk"];
    args.extend_from_slice(extra);
    ServerProc::ferrokv(BIN, &args)
}

fn bulk(s: &str) -> Value {
    Value::Bulk(s.as_bytes().to_vec())
}

fn library_names(c: &mut ferrokv_testkit::Conn) -> Vec<String> {
    let mut names: Vec<String> = match c.cmd(&["FUNCTION", "LIST"]) {
        Value::Array(libs) => libs
            .iter()
            .map(|l| match l {
                Value::Array(kv) => String::from_utf8_lossy(kv[1].as_bytes().unwrap()).into_owned(),
                other => panic!("library entry {other:?}"),
            })
            .collect(),
        other => panic!("FUNCTION LIST {other:?}"),
    };
    names.sort();
    names
}

#[test]
fn function_libraries_survive_restarts() {
    let mut s = disk(&[]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", LIB_A]), bulk("liba"));
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", LIB_B]), bulk("libb"));
    assert_eq!(c.cmd(&["SET", "k", "v"]), Value::Simple("OK".into()));
    drop(c);
    // SIGKILL: no RDB is written; the store is the only copy.
    s.restart();
    let mut c = s.conn();
    assert_eq!(library_names(&mut c), ["liba", "libb"]);
    assert_eq!(c.cmd(&["FCALL", "fa", "0"]), bulk("a"));
    assert_eq!(c.cmd(&["FCALL_RO", "fb", "1", "k"]), bulk("v"));
    // Deleting one, replacing one: the store follows.
    assert_eq!(
        c.cmd(&["FUNCTION", "DELETE", "liba"]),
        Value::Simple("OK".into())
    );
    let replaced = LIB_B.replace("redis.call('GET', keys[1])", "'new'");
    assert_eq!(
        c.cmd(&["FUNCTION", "LOAD", "REPLACE", &replaced]),
        bulk("libb")
    );
    drop(c);
    s.restart();
    let mut c = s.conn();
    assert_eq!(library_names(&mut c), ["libb"]);
    assert_eq!(c.cmd(&["FCALL", "fb", "1", "k"]), bulk("new"));
    // DUMP / FLUSH / RESTORE.
    let payload = c.cmd(&["FUNCTION", "DUMP"]);
    let payload = payload.as_bytes().unwrap().to_vec();
    assert_eq!(c.cmd(&["FUNCTION", "FLUSH"]), Value::Simple("OK".into()));
    drop(c);
    s.restart();
    let mut c = s.conn();
    assert!(library_names(&mut c).is_empty());
    let mut restore: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE"];
    restore.push(&payload);
    c.send(&restore);
    assert_eq!(c.read_value(), Value::Simple("OK".into()));
    drop(c);
    s.restart();
    let mut c = s.conn();
    assert_eq!(library_names(&mut c), ["libb"]);
    assert_eq!(c.cmd(&["GET", "k"]), bulk("v"));
}

#[test]
fn libraries_of_an_imported_rdb_file_are_kept() {
    // An RDB written by the memory engine, with a library and a key.
    let mut s = ServerProc::ferrokv(BIN, &["--storage-engine", "memory"]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", LIB_A]), bulk("liba"));
    assert_eq!(c.cmd(&["SET", "k", "v"]), Value::Simple("OK".into()));
    assert_eq!(c.cmd(&["SAVE"]), Value::Simple("OK".into()));
    drop(c);
    // Imported into an empty disk store...
    s.restart_with(&["--storage-engine", "disk"]);
    let mut c = s.conn();
    assert!(wait_until(Duration::from_secs(30), || {
        c.cmd(&["GET", "k"]) == bulk("v")
    }));
    assert_eq!(c.cmd(&["FCALL", "fa", "0"]), bulk("a"));
    drop(c);
    // ...and still there after a restart that does not read the file.
    std::fs::remove_file(s.dir().join("dump.rdb")).unwrap();
    s.restart_with(&["--storage-engine", "disk"]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["FCALL", "fa", "0"]), bulk("a"));
    assert_eq!(c.cmd(&["GET", "k"]), bulk("v"));
}

#[test]
fn appendfsync_changes_at_run_time() {
    let mut s = disk(&["--appendfsync", "everysec"]);
    let mut c = s.conn();
    for policy in ["always", "no", "everysec", "always"] {
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "appendfsync", policy]),
            Value::Simple("OK".into())
        );
        assert_eq!(c.cmd(&["SET", policy, "1"]), Value::Simple("OK".into()));
        assert_eq!(
            c.info_field("disk", "disk_fsync").as_deref(),
            Some(policy),
            "after CONFIG SET appendfsync {policy}"
        );
    }
    drop(c);
    s.restart();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(3));
}
