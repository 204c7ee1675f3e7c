//! Differential tests of the administrative commands against redis-server: FLUSHDB/FLUSHALL,
//! SWAPDB, SHUTDOWN errors, SLOWLOG (times, ids and addresses normalised), LATENCY errors and
//! empty states, DEBUG PROTOCOL in RESP2 and RESP3 and the deterministic DEBUG subcommands.

use ferrokv_testkit::{Diff, Value};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn diff(extra: &[&str]) -> Option<Diff> {
    let mut fk = vec!["--enable-debug-command", "yes"];
    fk.extend_from_slice(extra);
    Diff::with_args(BIN, &fk, extra)
}

macro_rules! diff_or_return {
    ($extra:expr) => {
        match diff($extra) {
            Some(d) => d,
            None => return,
        }
    };
}

#[test]
fn flush_variants() {
    let mut d = diff_or_return!(&[]);
    for cmd in [
        &["FLUSHDB"][..],
        &["FLUSHDB", "sync"],
        &["FLUSHDB", "ASYNC"],
        &["FLUSHALL"],
        &["FLUSHALL", "SYNC"],
        &["FLUSHALL", "async"],
    ] {
        d.check(&["SET", "a", "1"]);
        d.check(&["SELECT", "5"]);
        d.check(&["SET", "b", "1"]);
        d.check(cmd);
        d.check(&["DBSIZE"]);
        d.check(&["SELECT", "0"]);
        d.check(&["DBSIZE"]);
        d.check(&["FLUSHALL"]);
    }
    d.check_error(&["FLUSHDB", "foo"]);
    d.check_error(&["FLUSHDB", "SYNC", "ASYNC"]);
    d.check_error(&["FLUSHALL", "NOW"]);
    d.check_error(&["FLUSHALL", "ASYNC", "x"]);
    d.check_error(&["DBSIZE", "x"]);
}

#[test]
fn swapdb_semantics_and_errors() {
    let mut d = diff_or_return!(&[]);
    d.check(&["SET", "k0", "zero"]);
    d.check(&["SELECT", "1"]);
    d.check(&["SET", "k1", "one"]);
    d.check(&["SET", "k1b", "one"]);
    d.check(&["SWAPDB", "0", "1"]);
    d.check(&["DBSIZE"]);
    d.check(&["GET", "k0"]);
    d.check(&["GET", "k1"]);
    d.check(&["SELECT", "0"]);
    d.check(&["GET", "k1"]);
    d.check(&["DBSIZE"]);
    d.check(&["SWAPDB", "0", "0"]);
    d.check(&["DBSIZE"]);
    d.check(&["SWAPDB", "15", "0"]);
    d.check(&["DBSIZE"]);
    for args in [
        &["SWAPDB", "x", "0"][..],
        &["SWAPDB", "0", "x"],
        &["SWAPDB", "x", "y"],
        &["SWAPDB", "0", "16"],
        &["SWAPDB", "16", "0"],
        &["SWAPDB", "-1", "0"],
        &["SWAPDB", "0", "-1"],
        &["SWAPDB", "0", "99999999999"],
        &["SWAPDB", "1.0", "0"],
        &["SWAPDB", "0"],
        &["SWAPDB", "0", "1", "2"],
    ] {
        d.check_error(args);
    }
}

#[test]
fn shutdown_and_misc_errors() {
    let mut d = diff_or_return!(&[]);
    for args in [
        &["SHUTDOWN", "foo"][..],
        &["SHUTDOWN", "SAVE", "NOSAVE"],
        &["SHUTDOWN", "ABORT", "NOW"],
        &["SHUTDOWN", "NOSAVE", "ABORT"],
        &["SHUTDOWN", "ABORT"],
        &["SHUTDOWN", "abort"],
        &["TIME", "x"],
        &["LASTSAVE", "x"],
    ] {
        d.check_error(args);
    }
}

/// Replaces what legitimately differs in a SLOWLOG GET reply: ids become relative to the
/// newest entry, timestamps and durations 0, the client address a fixed text.
fn normalise_slowlog(v: Value) -> Value {
    let Value::Array(entries) = v else {
        return v;
    };
    let top = entries
        .first()
        .and_then(|e| e.as_array())
        .and_then(|e| e.first())
        .and_then(Value::as_int)
        .unwrap_or(0);
    Value::Array(
        entries
            .into_iter()
            .map(|e| match e {
                Value::Array(mut f) if f.len() == 6 => {
                    f[0] = Value::Int(top - f[0].as_int().unwrap_or(0));
                    f[1] = Value::Int(0);
                    f[2] = Value::Int(0);
                    f[4] = Value::Bulk(b"addr".to_vec());
                    Value::Array(f)
                }
                other => other,
            })
            .collect(),
    )
}

#[test]
fn slowlog_shapes() {
    let mut d = diff_or_return!(&["--slowlog-log-slower-than", "0"]);
    d.check(&["SLOWLOG", "RESET"]);
    d.check(&["SET", "k", "v"]);
    d.check(&["GET", "k"]);
    let long = "z".repeat(300);
    d.check(&["GET", &long]);
    let mut many: Vec<String> = vec!["LATENCY".into(), "RESET".into()];
    many.extend((0..50).map(|i| format!("e{i}")));
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    d.check(&many);
    d.check(&["SLOWLOG", "LEN"]);
    for args in [
        &["SLOWLOG", "GET"][..],
        &["SLOWLOG", "GET", "2"],
        &["SLOWLOG", "GET", "-1"],
        &["SLOWLOG", "GET", "0"],
    ] {
        let (f, r) = d.run(args);
        assert_eq!(
            normalise_slowlog(f.clone()),
            normalise_slowlog(r.clone()),
            "{args:?}\nferrokv: {f:?}\nredis: {r:?}"
        );
    }
    d.check(&["SLOWLOG", "LEN"]);
    d.check(&["SLOWLOG", "RESET"]);
    d.check(&["SLOWLOG", "LEN"]);
    d.check(&["SLOWLOG", "HELP"]);
    for args in [
        &["SLOWLOG", "GET", "-2"][..],
        &["SLOWLOG", "GET", "abc"],
        &["SLOWLOG", "GET", "1", "2"],
        &["SLOWLOG", "get", "1", "2"],
        &["SLOWLOG", "LEN", "x"],
        &["SLOWLOG", "RESET", "x"],
        &["SLOWLOG", "HELP", "x"],
        &["SLOWLOG", "foo"],
        &["SLOWLOG"],
    ] {
        d.check_error(args);
    }
}

#[test]
fn slowlog_disabled_and_max_len() {
    let mut d = diff_or_return!(&["--slowlog-log-slower-than", "-1", "--slowlog-max-len", "2"]);
    d.check(&["SET", "a", "1"]);
    d.check(&["SLOWLOG", "LEN"]);
    d.check(&["SLOWLOG", "GET"]);
}

#[test]
fn latency_without_events() {
    let mut d = diff_or_return!(&[]);
    d.check(&["LATENCY", "LATEST"]);
    d.check(&["LATENCY", "HISTORY", "command"]);
    d.check(&["LATENCY", "RESET"]);
    d.check(&["LATENCY", "RESET", "command", "foo"]);
    d.check(&["LATENCY", "HELP"]);
    d.check(&["LATENCY", "HISTOGRAM", "nosuchcommand"]);
    for args in [
        &["LATENCY", "GRAPH", "command"][..],
        &["LATENCY", "foo"],
        &["LATENCY"],
        &["LATENCY", "HISTORY"],
        &["LATENCY", "GRAPH"],
        &["LATENCY", "LATEST", "x"],
    ] {
        d.check_error(args);
    }
}

#[test]
fn debug_protocol_resp2() {
    let mut d = diff_or_return!(&[]);
    for t in [
        "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib",
        "verbatim", "true", "false", "STRING",
    ] {
        d.check(&["DEBUG", "PROTOCOL", t]);
    }
    d.check_error(&["DEBUG", "PROTOCOL", "push"]);
    d.check_error(&["DEBUG", "PROTOCOL", "nope"]);
    d.check_error(&["DEBUG", "PROTOCOL"]);
    d.check_error(&["DEBUG", "PROTOCOL", "map", "x"]);
}

#[test]
fn debug_protocol_resp3() {
    let mut d = diff_or_return!(&[]);
    d.ferrokv().hello3();
    d.redis().hello3();
    for t in [
        "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib",
        "verbatim", "true", "false",
    ] {
        d.check(&["DEBUG", "PROTOCOL", t]);
    }
    // PUSH sends a push message followed by a normal reply.
    d.check_raw(b"*3\r\n$5\r\nDEBUG\r\n$8\r\nPROTOCOL\r\n$4\r\npush\r\n", 2);
    d.check_error(&["DEBUG", "PROTOCOL", "nope"]);
}

#[test]
fn debug_deterministic_subcommands() {
    let mut d = diff_or_return!(&[]);
    d.check(&["DEBUG", "DIGEST"]);
    d.check(&["DEBUG", "DIGEST-VALUE", "nokey", "other"]);
    d.check(&["SET", "key:1", "mine"]);
    d.check(&["DEBUG", "POPULATE", "5"]);
    d.check(&["DBSIZE"]);
    d.check(&["GET", "key:0"]);
    d.check(&["GET", "key:1"]);
    d.check(&["DEBUG", "POPULATE", "3", "pre", "12"]);
    d.check(&["GET", "pre:2"]);
    d.check(&["DEBUG", "POPULATE", "2", "short", "2"]);
    d.check(&["GET", "short:1"]);
    d.check(&["DEBUG", "POPULATE", "2", "big", "100"]);
    d.check(&["GET", "big:1"]);
    d.check(&["DEBUG", "POPULATE", "0"]);
    d.check(&["DBSIZE"]);
    for args in [
        &["DEBUG", "POPULATE", "-1"][..],
        &["DEBUG", "POPULATE", "abc"],
        &["DEBUG", "POPULATE", "1", "p", "-1"],
        &["DEBUG", "POPULATE", "1", "p", "x"],
        &["DEBUG", "POPULATE"],
        &["DEBUG", "POPULATE", "1", "a", "1", "x"],
        &["DEBUG", "OBJECT", "nokey"],
        &["DEBUG", "OBJECT"],
        &["DEBUG", "SLEEP"],
        &["DEBUG", "LOG"],
        &["DEBUG", "CHANGE-REPL-ID", "x"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "5gb"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "abc"],
        &["DEBUG", "REPLYBUFFER", "foo", "1"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "abc"],
        &["DEBUG", "REPLYBUFFER", "RESIZING"],
        &["DEBUG", "ERROR", "CUSTOM text here"],
        &["DEBUG", "nosuchsub"],
        &["DEBUG"],
    ] {
        d.check_error(args);
    }
    for args in [
        &["DEBUG", "SLEEP", "0"][..],
        &["DEBUG", "SLEEP", "abc"],
        &["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
        &["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
        &["DEBUG", "PAUSE-CRON", "0"],
        &["DEBUG", "REPLYBUFFER", "RESIZING", "1"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "never"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "reset"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100mb"],
        &["DEBUG", "CHANGE-REPL-ID"],
        &["DEBUG", "LOG", "from the differential test"],
    ] {
        d.check(args);
    }
}

/// DEBUG OBJECT with the address and LRU fields (which legitimately differ) masked.
fn object_line(v: &Value) -> String {
    let Value::Simple(s) = v else {
        return format!("{v:?}");
    };
    s.split(' ')
        .filter(|w| !w.starts_with("at:") && !w.starts_with("lru"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Values are chosen without repeated substrings: Redis LZF-compresses strings longer than 20
/// bytes when that saves space, and ferrokv's serializedlength does not model compression.
#[test]
fn debug_object_fields() {
    let mut d = diff_or_return!(&[]);
    for (k, v) in [
        ("small", "7"),
        ("neg", "-100"),
        ("mid", "40000"),
        ("wide", "3000000000"),
        ("long", "12345678901234"),
        ("str", "hello world"),
        ("emb", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH"),
        (
            "raw",
            "the quick brown fox jumps over a lazy dog: 0123456789 ABCDEFGHIJ",
        ),
    ] {
        d.check(&["SET", k, v]);
        let (f, r) = d.run(&["DEBUG", "OBJECT", k]);
        assert_eq!(object_line(&f), object_line(&r), "{k}");
    }
}

#[test]
fn slowlog_and_latency_resp3() {
    let mut d = diff_or_return!(&["--slowlog-log-slower-than", "0"]);
    d.ferrokv().hello3();
    d.redis().hello3();
    d.check(&["SLOWLOG", "RESET"]);
    d.check(&["SET", "k", "v"]);
    let (f, r) = d.run(&["SLOWLOG", "GET", "3"]);
    assert_eq!(
        normalise_slowlog(f.clone()),
        normalise_slowlog(r.clone()),
        "ferrokv: {f:?}\nredis: {r:?}"
    );
    d.check(&["SLOWLOG", "LEN"]);
    d.check(&["SLOWLOG", "HELP"]);
    d.check(&["LATENCY", "LATEST"]);
    d.check(&["LATENCY", "HISTORY", "command"]);
    d.check(&["LATENCY", "HISTOGRAM", "nosuchcommand"]);
    d.check(&["TIME", "x"]);
    d.check_error(&["SLOWLOG", "GET", "-5"]);
    d.check_error(&["LATENCY", "GRAPH", "command"]);
}
