//! Unit tests for the configuration table, loader, CONFIG GET/SET/REWRITE.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh temp file path (not created).
fn tmp_path(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "ferrokv-cfg-{}-{}-{}.conf",
        std::process::id(),
        tag,
        n
    ))
}

fn write_tmp(tag: &str, content: &str) -> PathBuf {
    let p = tmp_path(tag);
    std::fs::write(&p, content).unwrap();
    p
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn load(v: &[&str]) -> Config {
    Config::from_args(&args(v)).unwrap().0
}

fn load_err(v: &[&str]) -> StartupError {
    Config::from_args(&args(v)).unwrap_err()
}

fn set(c: &mut Config, pairs: &[(&str, &str)]) -> Result<Vec<&'static str>, String> {
    let p: Vec<(&[u8], &[u8])> = pairs
        .iter()
        .map(|(a, b)| (a.as_bytes(), b.as_bytes()))
        .collect();
    c.set_many(&p)
}

fn set_err(c: &mut Config, name: &str, value: &str) -> String {
    set(c, &[(name, value)]).unwrap_err()
}

fn failed(name: &str, msg: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {msg}")
}

#[test]
fn table_has_unique_names_and_valid_defaults() {
    let mut names: Vec<&str> = Vec::new();
    for p in PARAMS {
        for n in std::iter::once(p.name).chain(p.alias) {
            assert!(!names.contains(&n), "duplicate {n}");
            assert_eq!(n, n.to_ascii_lowercase());
            names.push(n);
        }
        if p.kind == Kind::Dir || p.kind == Kind::ReplicaOf {
            continue;
        }
        // Every default must be accepted by its own validator and already be normalised.
        let a: Vec<Vec<u8>> = if p.has(MULTI) {
            if p.default.is_empty() {
                vec![]
            } else {
                p.default
                    .split(' ')
                    .map(|s| s.as_bytes().to_vec())
                    .collect()
            }
        } else {
            vec![p.default.as_bytes().to_vec()]
        };
        let a = if p.kind == Kind::Save || p.kind == Kind::Bind || p.kind == Kind::Percentiles {
            if a.is_empty() {
                vec![vec![]]
            } else {
                a
            }
        } else {
            a
        };
        let n =
            normalize(p, &a, p.default.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        assert_eq!(n, p.default.as_bytes(), "{} default not normalised", p.name);
    }
}

#[test]
fn defaults_and_typed_accessors() {
    let c = Config::defaults();
    assert_eq!(c.port(), 6379);
    assert_eq!(c.bind(), vec!["127.0.0.1", "-::1"]);
    assert_eq!(c.databases(), 16);
    assert_eq!(c.requirepass(), None);
    assert_eq!(c.maxclients(), 10000);
    assert_eq!(c.timeout_secs(), 0);
    assert_eq!(c.hz(), 10);
    assert_eq!(c.loglevel(), LogLevel::Notice);
    assert_eq!(c.logfile(), "");
    assert_eq!(c.slowlog_log_slower_than(), 10000);
    assert_eq!(c.slowlog_max_len(), 128);
    assert_eq!(c.proto_max_bulk_len(), 536870912);
    assert_eq!(c.client_query_buffer_limit(), 1073741824);
    assert_eq!(c.enable_debug_command(), "no");
    assert_eq!(c.maxmemory(), 0);
    assert_eq!(c.maxmemory_policy(), "noeviction");
    assert_eq!(c.storage_engine(), "memory");
    assert_eq!(c.save_params(), vec![(3600, 1), (300, 100), (60, 10000)]);
    assert_eq!(
        c.client_output_buffer_limits()[1],
        ObufLimit {
            hard: 268435456,
            soft: 67108864,
            soft_seconds: 60
        }
    );
    assert_eq!(c.get("slave-read-only").as_deref(), Some("yes"));
    assert_eq!(c.get("LUA-TIME-LIMIT").as_deref(), Some("5000"));
    assert_eq!(c.get("nope"), None);
    assert_eq!(c.get_bool("appendonly"), Some(false));
    assert_eq!(c.get_i64("list-max-ziplist-size"), Some(-2));
    assert!(c.config_file().is_none());
    assert!(Config::is_sensitive(b"requirepass"));
    assert!(Config::is_sensitive(b"MASTERAUTH"));
    assert!(!Config::is_sensitive(b"port"));
    assert_eq!(Config::canonical_name(b"slaveof"), Some("replicaof"));
}

#[test]
fn parse_file_with_comments_quotes_aliases_and_units() {
    let f = write_tmp(
        "basic",
        "# a comment\n\n   port 7001   \r\n\
         requirepass \"p w\\x21\"\n\
         maxmemory 2MB\n\
         hash-max-ziplist-entries 99\n\
         slave-read-only no\n\
         save 900 1\n\
         save 300 10\n\
         SLOWLOG-MAX-LEN 5\n\
         notify-keyspace-events Ex\n\
         client-output-buffer-limit pubsub 1mb 2kb 3\n\
         bind 127.0.0.1 ::1\n\
         list-max-ziplist-entries 4\n\
         rename-command FLUSHALL \"\"\n\
         user alice on >pw ~* +@all\n",
    );
    let c = load(&[f.to_str().unwrap()]);
    assert_eq!(c.port(), 7001);
    assert_eq!(c.requirepass(), Some(b"p w!".to_vec()));
    assert_eq!(c.maxmemory(), 2 * 1024 * 1024);
    assert_eq!(c.get("hash-max-listpack-entries").as_deref(), Some("99"));
    assert_eq!(c.get("replica-read-only").as_deref(), Some("no"));
    assert_eq!(c.save_params(), vec![(900, 1), (300, 10)]);
    assert_eq!(c.slowlog_max_len(), 5);
    assert_eq!(c.notify_keyspace_events(), "xE");
    assert_eq!(
        c.get("client-output-buffer-limit").as_deref(),
        Some("normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 2048 3")
    );
    assert_eq!(c.bind(), vec!["127.0.0.1", "::1"]);
    assert_eq!(
        c.rename_commands(),
        &[("FLUSHALL".to_string(), String::new())]
    );
    assert_eq!(c.users().len(), 1);
    assert_eq!(c.users()[0][0], "alice");
    assert_eq!(c.config_file(), Some(f.as_path()));
    let _ = std::fs::remove_file(&f);
}

#[test]
fn command_line_options() {
    let c = load(&["--port", "7000", "--save", "", "--maxmemory", "1gb"]);
    assert_eq!(c.port(), 7000);
    assert_eq!(c.save_params(), vec![]);
    assert_eq!(c.maxmemory(), 1 << 30);
    // multi-value directive
    let c = load(&["--save", "60", "1000", "--port", "7001"]);
    assert_eq!(c.save_params(), vec![(60, 1000)]);
    // `--save` followed by another option, or last, means ""
    let c = load(&["--save", "--port", "7002"]);
    assert_eq!(c.save_params(), vec![]);
    assert_eq!(c.port(), 7002);
    let c = load(&["--port", "7003", "--save"]);
    assert_eq!(c.save_params(), vec![]);
    // value with spaces as one argument
    let c = load(&["--requirepass", "a b c"]);
    assert_eq!(c.requirepass(), Some(b"a b c".to_vec()));
    let c = load(&["--save", "60 1000 30 5"]);
    assert_eq!(c.save_params(), vec![(60, 1000), (30, 5)]);
    // inline "--name value"
    let c = load(&["--port 7004"]);
    assert_eq!(c.port(), 7004);
    // options override the file
    let f = write_tmp("override", "port 7005\nloglevel warning\n");
    let c = load(&[f.to_str().unwrap(), "--port", "7006"]);
    assert_eq!(c.port(), 7006);
    assert_eq!(c.loglevel(), LogLevel::Warning);
    let _ = std::fs::remove_file(&f);
    // empty args
    let (c, w) = Config::from_args(&[]).unwrap();
    assert_eq!(c.port(), 6379);
    assert!(w.is_empty());
}

#[test]
fn save_accumulates_in_file_and_resets_on_empty() {
    let f = write_tmp("save", "save 900 1\nsave \"\"\nsave 10 2\nsave 20 3\n");
    let c = load(&[f.to_str().unwrap()]);
    assert_eq!(c.save_params(), vec![(10, 2), (20, 3)]);
    let _ = std::fs::remove_file(&f);
    // the command line's save replaces nothing accumulated before it unless first
    let c = load(&["--save", "5", "1", "--save", "6", "2"]);
    assert_eq!(c.save_params(), vec![(5, 1), (6, 2)]);
}

#[test]
fn include_and_wildcard_include() {
    let dir = std::env::temp_dir().join(format!("ferrokv-inc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.part"), "port 7101\n").unwrap();
    std::fs::write(dir.join("b.part"), "port 7102\ntimeout 9\n").unwrap();
    std::fs::write(dir.join("single.conf"), "maxclients 77\n").unwrap();
    let main = dir.join("main.conf");
    std::fs::write(
        &main,
        format!(
            "include {}\ninclude {}/*.part\ninclude {}/*.none\n",
            dir.join("single.conf").display(),
            dir.display(),
            dir.display()
        ),
    )
    .unwrap();
    let c = load(&[main.to_str().unwrap()]);
    assert_eq!(c.maxclients(), 77);
    assert_eq!(c.port(), 7102);
    assert_eq!(c.timeout_secs(), 9);
    // missing non-wildcard include is fatal
    std::fs::write(&main, "include /nonexistent/ferrokv.conf\n").unwrap();
    match load_err(&[main.to_str().unwrap()]) {
        StartupError::CantOpen { path, reason } => {
            assert_eq!(path, "/nonexistent/ferrokv.conf");
            assert_eq!(reason, "No such file or directory");
        }
        e => panic!("{e:?}"),
    }
    // error inside an included file names that file and its own line
    std::fs::write(dir.join("bad.inc"), "# x\nport nope\n").unwrap();
    std::fs::write(
        &main,
        format!("\n\ninclude {}\n", dir.join("bad.inc").display()),
    )
    .unwrap();
    match load_err(&[main.to_str().unwrap()]) {
        StartupError::Directive { source, line, .. } => {
            assert!(source.ends_with("bad.inc"), "{source}");
            assert_eq!(line, 2);
        }
        e => panic!("{e:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn startup_errors() {
    let f = write_tmp("err1", "port 7210\n# c\nfoo bar\n");
    let e = load_err(&[f.to_str().unwrap()]);
    let shown = e.to_string();
    assert!(
        shown.contains("*** FATAL CONFIG FILE ERROR (ferrokv "),
        "{shown}"
    );
    assert!(shown.contains(&format!(
        "Reading the configuration file '{}', at line 3",
        f.display()
    )));
    assert!(shown.contains(">>> 'foo bar'"));
    assert!(shown.ends_with("Bad directive or wrong number of arguments"));
    let _ = std::fs::remove_file(&f);

    let cases: &[(&str, &str)] = &[
        ("port abc", "argument couldn't be parsed into an integer"),
        (
            "port 70000",
            "argument must be between 0 and 65535 inclusive",
        ),
        ("port 1 2", "wrong number of arguments"),
        ("port \"7210", "Unbalanced quotes in configuration line"),
        ("maxmemory 1tb", "argument must be a memory value"),
        ("appendonly maybe", "argument must be 'yes' or 'no'"),
        (
            "loglevel loud",
            "argument(s) must be one of the following: debug, verbose, notice, warning, nothing",
        ),
        ("save 10", "Invalid save parameters"),
        ("dir /nonexistent/ferrokv", "No such file or directory"),
        (
            "sentinel monitor x",
            "sentinel directive while not in sentinel mode",
        ),
        ("include", "Bad directive or wrong number of arguments"),
        (
            "unixsocketperm 999",
            "argument couldn't be parsed as an octal number",
        ),
        (
            "unixsocketperm 1777",
            "argument must be between 0 and 777 inclusive",
        ),
        ("replicaof host", "wrong number of arguments"),
        ("replicaof host port", "Invalid master port"),
        (
            "storage-engine ssd",
            "argument(s) must be one of the following: memory, disk",
        ),
    ];
    for (line, reason) in cases {
        let f = write_tmp("errs", &format!("# first\n{line}\n"));
        match load_err(&[f.to_str().unwrap()]) {
            StartupError::Directive {
                line: n,
                text,
                reason: r,
                ..
            } => {
                assert_eq!(&r, reason, "{line}");
                assert_eq!(n, 2, "{line}");
                assert_eq!(&text, line);
            }
            e => panic!("{line}: {e:?}"),
        }
        let _ = std::fs::remove_file(&f);
    }
    // command-line errors are numbered like Redis (an empty line precedes the options)
    match load_err(&["--port", "7210", "--maxmemory", "2", "3"]) {
        StartupError::Directive {
            source,
            line,
            text,
            reason,
        } => {
            assert_eq!(source, "command line");
            assert_eq!(line, 3);
            assert_eq!(text, "maxmemory \"2\" \"3\"");
            assert_eq!(reason, "wrong number of arguments");
        }
        e => panic!("{e:?}"),
    }
    match load_err(&["/nonexistent/ferrokv.conf"]) {
        e @ StartupError::CantOpen { .. } => assert_eq!(
            e.to_string(),
            "Fatal error, can't open config file '/nonexistent/ferrokv.conf': No such file or directory"
        ),
        e => panic!("{e:?}"),
    }
}

#[test]
fn warnings_for_unimplemented_parameters() {
    let (_, w) = Config::from_args(&args(&[
        "--activedefrag",
        "yes",
        "--port",
        "7001",
        "--appendfsync",
        "everysec",
    ]))
    .unwrap();
    assert_eq!(
        w,
        vec!["parameter 'activedefrag' is accepted but has no effect yet".to_string()]
    );
}

#[test]
fn config_set_errors_match_redis() {
    let mut c = Config::defaults();
    assert_eq!(
        set_err(&mut c, "foo", "1"),
        "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
    );
    assert_eq!(
        set_err(&mut c, "maxmemory", "bogus"),
        failed("maxmemory", "argument must be a memory value")
    );
    assert_eq!(
        set_err(&mut c, "daemonize", "yes"),
        failed("daemonize", "can't set immutable config")
    );
    assert_eq!(
        set_err(&mut c, "slaveof", "no one"),
        failed("slaveof", "can't set immutable config")
    );
    assert_eq!(
        set_err(&mut c, "dir", "/tmp"),
        failed("dir", "can't set protected config")
    );
    assert_eq!(
        set_err(&mut c, "dbfilename", "x.rdb"),
        failed("dbfilename", "can't set protected config")
    );
    // alias: value errors name the alias that was used (lower case, as in the table)
    assert_eq!(
        set_err(&mut c, "HASH-MAX-ZIPLIST-ENTRIES", "bogus"),
        failed(
            "hash-max-ziplist-entries",
            "argument couldn't be parsed into an integer"
        )
    );
    assert_eq!(
        set_err(&mut c, "Hash-Max-Listpack-Entries", "bogus"),
        failed(
            "hash-max-listpack-entries",
            "argument couldn't be parsed into an integer"
        )
    );
    assert_eq!(
        set(&mut c, &[("maxmemory", "1"), ("MAXMEMORY", "2")]).unwrap_err(),
        failed("MAXMEMORY", "duplicate parameter")
    );
    assert_eq!(
        set(&mut c, &[("daemonize", "x"), ("nonexist", "2")]).unwrap_err(),
        failed("daemonize", "can't set immutable config")
    );
    assert_eq!(
        set(
            &mut c,
            &[("maxmemory", "1"), ("nonexist", "2"), ("port", "x")]
        )
        .unwrap_err(),
        "ERR Unknown option or number of arguments for CONFIG SET - 'nonexist'"
    );
    assert_eq!(
        set(&mut c, &[("port", "x"), ("maxmemory", "bogus")]).unwrap_err(),
        failed("port", "argument couldn't be parsed into an integer")
    );
    let cases: &[(&str, &str, &str)] = &[
        ("port", "+7201", "argument couldn't be parsed into an integer"),
        ("port", "07201", "argument couldn't be parsed into an integer"),
        ("port", "-1", "argument must be between 0 and 65535 inclusive"),
        ("timeout", "0x5", "argument couldn't be parsed into an integer"),
        ("activerehashing", "1", "argument must be 'yes' or 'no'"),
        ("maxclients", "0", "argument must be between 1 and 4294967295 inclusive"),
        ("maxmemory", "-0", "argument must be a memory value"),
        ("maxmemory", "1.5k", "argument must be a memory value"),
        (
            "client-query-buffer-limit",
            "99999999999999999999",
            "argument must be between 1048576 and 9223372036854775807 inclusive",
        ),
        ("maxmemory-clients", "-5%", "argument must be a memory or percent value"),
        ("maxmemory-clients", "10 %", "argument must be a memory or percent value"),
        ("maxmemory-clients", "200%", "percentage argument must be less or equal to 100"),
        ("notify-keyspace-events", "q", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
        (
            "shutdown-on-sigint",
            "save nosave",
            "shutdown options SAVE and NOSAVE can't be used simultaneously",
        ),
        (
            "shutdown-on-sigint",
            "save  now",
            "argument(s) must be one of the following: default, save, nosave, now, force",
        ),
        (
            "shutdown-on-sigint",
            "",
            "argument(s) must be one of the following: default, save, nosave, now, force",
        ),
        ("save", "3600", "Invalid save parameters"),
        ("save", "3600 1  300 100", "Invalid save parameters"),
        ("save", "0 1", "Invalid save parameters"),
        ("save", "1 -1", "Invalid save parameters"),
        ("save", " 10 1", "Invalid save parameters"),
        ("save", "10 1 ", "Invalid save parameters"),
        (
            "client-output-buffer-limit",
            "master 1 2 3",
            "Invalid client class specified in buffer limit configuration.",
        ),
        (
            "client-output-buffer-limit",
            "pubsub 1 2",
            "Wrong number of arguments in buffer limit configuration.",
        ),
        (
            "client-output-buffer-limit",
            "normal -1 2 3",
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
        ),
        (
            "client-output-buffer-limit",
            "NORMAL 1kb 2KB 3k",
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
        ),
        (
            "oom-score-adj-values",
            "-2001 0 0",
            "Invalid oom-score-adj-values, elements must be between -2000 and 2000.",
        ),
        ("oom-score-adj-values", "1 2 3 4", "wrong number of arguments"),
        (
            "latency-tracking-info-percentiles",
            "abc",
            "Invalid latency-tracking-info-percentiles parameters",
        ),
        (
            "latency-tracking-info-percentiles",
            "101",
            "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]",
        ),
        (
            "proc-title-template",
            "{bad}",
            "template format is invalid or contains unknown variables",
        ),
        (
            "proc-title-template",
            "",
            "template format is invalid or contains unknown variables",
        ),
        (
            "cluster-announce-hostname",
            "a_b",
            "Hostnames may only contain alphanumeric characters, hyphens or dots",
        ),
        (
            "maxmemory-policy",
            "lru",
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction",
        ),
        ("bind", &"a ".repeat(17), "Too many bind addresses specified."),
    ];
    let before = c.get_matching(&[b"*"]);
    for (name, value, msg) in cases {
        assert_eq!(
            &set_err(&mut c, name, value),
            &failed(name, msg),
            "{name} {value:?}"
        );
    }
    assert_eq!(
        c.get_matching(&[b"*"]),
        before,
        "failed sets must not change anything"
    );
}

#[test]
fn config_set_values_normalised_like_redis() {
    let mut c = Config::defaults();
    let cases: &[(&str, &str, &str)] = &[
        ("maxmemory", "99999999999999999999", "18446744073709551615"),
        ("maxmemory", "", "0"),
        ("maxmemory", "k", "0"),
        ("maxmemory", "1K", "1000"),
        ("maxmemory", "1Kb", "1024"),
        ("maxmemory", "1gB", "1073741824"),
        ("maxmemory", "2B", "2"),
        ("maxmemory-clients", "10%", "10%"),
        ("maxmemory-clients", "0%", "0"),
        ("maxmemory-clients", "100%", "100%"),
        ("maxmemory-clients", "1kb", "1024"),
        ("notify-keyspace-events", "KEA", "AKE"),
        ("notify-keyspace-events", "Ex", "xE"),
        ("notify-keyspace-events", "AKEmn", "AKEm"),
        ("notify-keyspace-events", "Ag$lshzxetd", "A"),
        ("notify-keyspace-events", "xxE", "xE"),
        ("notify-keyspace-events", "nK", "nK"),
        ("notify-keyspace-events", "", ""),
        ("shutdown-on-sigint", "now force", "now force"),
        ("shutdown-on-sigint", "DEFAULT now", "now"),
        ("shutdown-on-sigint", "now save", "save now"),
        ("shutdown-on-sigint", "default", "default"),
        ("save", "3600 1 300 100", "3600 1 300 100"),
        ("save", "", ""),
        (
            "client-output-buffer-limit",
            "normal 1 2 3",
            "normal 1 2 3 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        ),
        (
            "client-output-buffer-limit",
            "replica 1mb 2 3",
            "normal 1 2 3 slave 1048576 2 3 pubsub 33554432 8388608 60",
        ),
        (
            "client-output-buffer-limit",
            "",
            "normal 1 2 3 slave 1048576 2 3 pubsub 33554432 8388608 60",
        ),
        ("oom-score-adj-values", "3 2 1", "3 2 1"),
        (
            "latency-tracking-info-percentiles",
            "1.5 99.99999",
            "1.5 99.99999",
        ),
        ("latency-tracking-info-percentiles", "1e1", "10"),
        ("latency-tracking-info-percentiles", "", ""),
        ("activerehashing", "NO", "no"),
        ("loglevel", "WARNING", "warning"),
        ("loglevel", "nothing", "nothing"),
        ("hz", "1000", "500"),
        ("hz", "0", "1"),
        ("hash-max-ziplist-value", "007", "7"),
        ("list-max-ziplist-size", "-1", "-1"),
        ("slowlog-log-slower-than", "-1", "-1"),
        ("bind", "", ""),
        ("bind", "127.0.0.1 ::1", "127.0.0.1 ::1"),
        ("requirepass", "secret", "secret"),
        ("lua-time-limit", "100", "100"),
    ];
    for (name, value, shown) in cases {
        set(&mut c, &[(name, value)]).unwrap_or_else(|e| panic!("{name} {value:?}: {e}"));
        assert_eq!(c.get(name).as_deref(), Some(*shown), "{name} {value:?}");
    }
    assert_eq!(c.get("busy-reply-threshold").as_deref(), Some("100"));
    assert_eq!(c.requirepass(), Some(b"secret".to_vec()));
}

#[test]
fn config_set_is_atomic_and_reports_changes() {
    let mut c = Config::defaults();
    let err = set(
        &mut c,
        &[("maxmemory", "100"), ("port", "1"), ("timeout", "x")],
    )
    .unwrap_err();
    assert_eq!(
        err,
        failed("timeout", "argument couldn't be parsed into an integer")
    );
    assert_eq!(c.maxmemory(), 0);
    assert_eq!(c.port(), 6379);
    let changed = set(
        &mut c,
        &[
            ("maxmemory", "100"),
            ("port", "6379"),
            ("slave-priority", "5"),
        ],
    )
    .unwrap();
    assert_eq!(changed, vec!["maxmemory", "replica-priority"]);
    assert_eq!(c.maxmemory(), 100);
    // alias and canonical name in one call are distinct arguments (Redis 7.0), last wins
    let changed = set(
        &mut c,
        &[
            ("hash-max-ziplist-entries", "1"),
            ("hash-max-listpack-entries", "2"),
        ],
    )
    .unwrap();
    assert_eq!(changed, vec!["hash-max-listpack-entries"]);
    assert_eq!(c.get_i64("hash-max-ziplist-entries"), Some(2));
}

#[test]
fn protected_configs() {
    let mut c = load(&["--enable-protected-configs", "local"]);
    let here = std::env::current_dir().unwrap();
    let p: &[(&[u8], &[u8])] = &[(b"dir", here.to_str().unwrap().as_bytes())];
    assert_eq!(
        c.set_many_from(p, false).unwrap_err(),
        failed("dir", "can't set protected config")
    );
    c.set_many_from(p, true).unwrap();
    assert_eq!(c.dir(), std::fs::canonicalize(&here).unwrap());
    let bad: &[(&[u8], &[u8])] = &[(b"dir", b"/nonexistent/ferrokv")];
    assert_eq!(
        c.set_many_from(bad, true).unwrap_err(),
        failed("dir", "No such file or directory")
    );
    let c2 = load(&["--enable-protected-configs", "yes"]);
    let mut c2 = c2;
    let p: &[(&[u8], &[u8])] = &[(b"dbfilename", b"a/b")];
    assert_eq!(
        c2.set_many_from(p, false).unwrap_err(),
        failed("dbfilename", "dbfilename can't be a path, just a filename")
    );
}

#[test]
fn get_matching_patterns() {
    let c = Config::defaults();
    let r = c.get_matching(&[b"maxmemory", b"maxmemory-*", b"hash-max-ziplist-*"]);
    let names: Vec<&str> = r.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "maxmemory",
            "maxmemory-policy",
            "maxmemory-samples",
            "maxmemory-eviction-tenacity",
            "maxmemory-clients",
            "hash-max-ziplist-entries",
            "hash-max-ziplist-value"
        ]
    );
    let r = c.get_matching(&[b"hash-max-*"]);
    assert_eq!(r.len(), 4);
    // exact names are echoed as given, deduplicated case-insensitively
    let r = c.get_matching(&[b"port", b"port", b"PORT"]);
    assert_eq!(r, vec![("port".to_string(), "6379".to_string())]);
    let r = c.get_matching(&[b"HASH-MAX-ZIPLIST-ENTRIES"]);
    assert_eq!(
        r,
        vec![("HASH-MAX-ZIPLIST-ENTRIES".to_string(), "512".to_string())]
    );
    // glob is case-insensitive and yields canonical/alias names
    let r = c.get_matching(&[b"SLAVE-READ-*"]);
    assert_eq!(r, vec![("slave-read-only".to_string(), "yes".to_string())]);
    assert!(c.get_matching(&[b"nonexistent"]).is_empty());
    // hidden params: exact only
    assert_eq!(c.get_matching(&[b"key-load-delay"]).len(), 1);
    assert!(c.get_matching(&[b"key-load-*"]).is_empty());
    let all = c.get_matching(&[b"*"]);
    assert!(all.iter().any(|(n, _)| n == "slaveof"));
    assert!(all.iter().any(|(n, _)| n == "replicaof"));
    assert!(!all.iter().any(|(n, _)| n == "watchdog-period"));
}

#[test]
fn rewrite_round_trip() {
    let f = write_tmp(
        "rw",
        "# top comment\nport 7202\nsave 900 1\nsave 300 10\nmaxmemory 1g\n\
         hash-max-ziplist-entries 100\nrequirepass \"a b\"\ninclude /dev/null\n\
         loglevel notice\ntimeout 0\nappendonly no\nhz 10\nhz 11\nslaveof 10.0.0.1 6380\n",
    );
    let mut c = load(&[f.to_str().unwrap()]);
    assert_eq!(c.get("replicaof").as_deref(), Some("10.0.0.1 6380"));
    set(
        &mut c,
        &[
            ("maxmemory-clients", "10%"),
            ("notify-keyspace-events", "KEA"),
            ("client-output-buffer-limit", "pubsub 1mb 2 3"),
            ("loglevel", "warning"),
            ("appendfsync", "always"),
        ],
    )
    .unwrap();
    c.rewrite().unwrap();
    let text = std::fs::read_to_string(&f).unwrap();
    let cwd = c.get("dir").unwrap();
    let expected = format!(
        "# top comment\nport 7202\nsave 900 1\nsave 300 10\nmaxmemory 1000000000\n\
         hash-max-listpack-entries 100\nrequirepass \"a b\"\ninclude /dev/null\n\
         loglevel warning\ntimeout 0\nappendonly no\nhz 11\n\nreplicaof 10.0.0.1 6380\n\n\
         # Generated by CONFIG REWRITE\ndir \"{cwd}\"\nmaxmemory-clients 10%\n\
         appendfsync always\nnotify-keyspace-events \"AKE\"\n\
         client-output-buffer-limit pubsub 1mb 2 3\n"
    );
    assert_eq!(text, expected);
    // Reloading the rewritten file gives the same values. A second rewrite keeps them too, but
    // (like Redis) the first client-output-buffer-limit class reuses the existing line.
    let c2 = load(&[f.to_str().unwrap()]);
    assert_eq!(c2.get_matching(&[b"*"]), c.get_matching(&[b"*"]));
    c2.rewrite().unwrap();
    let text2 = std::fs::read_to_string(&f).unwrap();
    assert!(
        text2.contains("\nclient-output-buffer-limit normal 0 0 0\n"),
        "{text2}"
    );
    assert!(
        text2.ends_with("\nclient-output-buffer-limit pubsub 1mb 2 3\n"),
        "{text2}"
    );
    let c3 = load(&[f.to_str().unwrap()]);
    assert_eq!(c3.get_matching(&[b"*"]), c.get_matching(&[b"*"]));
    let _ = std::fs::remove_file(&f);
}

#[test]
fn rewrite_removes_orphans_and_comments_unknown() {
    let c = {
        let mut c = Config::defaults();
        c.config_file = Some(tmp_path("rw2"));
        set(&mut c, &[("save", ""), ("requirepass", "")]).unwrap();
        c
    };
    let old = "requirepass x\nfoo-bar 1\nsave 1 1\nsave 2 2\n\n\n# Generated by CONFIG REWRITE\nport 6379\n";
    let out = c.rewrite_content(old.as_bytes());
    let cwd = c.get("dir").unwrap();
    assert_eq!(
        out,
        format!(
            "\n# ??? foo-bar 1\nsave \"\"\n\n# Generated by CONFIG REWRITE\nport 6379\ndir \"{cwd}\"\n"
        )
    );
    // no config file
    assert_eq!(
        Config::defaults().rewrite().unwrap_err(),
        "ERR The server is running without a config file"
    );
    // rewriting a missing file creates it
    let p = c.config_file().unwrap().to_path_buf();
    c.rewrite().unwrap();
    let t = std::fs::read_to_string(&p).unwrap();
    assert!(
        t.starts_with("\n# Generated by CONFIG REWRITE\nsave \"\"\n"),
        "{t}"
    );
    let _ = std::fs::remove_file(&p);
}

/// Differential check against the real redis-server (skipped when not installed): CONFIG GET *
/// names and default values must match ours except for the documented differences.
#[test]
fn differential_config_get_against_redis() {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpStream;
    use std::process::{Command, Stdio};
    let Ok(out) = Command::new("redis-server").arg("--version").output() else {
        eprintln!("redis-server not on PATH: skipping differential config test");
        return;
    };
    if !out.status.success() {
        eprintln!("redis-server unusable: skipping differential config test");
        return;
    }
    // Ours-only parameters (Redis 7.2+/7.4+ additions and ferrokv's own).
    const OURS_ONLY: &[&str] = &[
        "storage-engine",
        "disk-cache-size",
        "disk-memtable-size",
        "disk-object-cache-size",
        "disk-compaction-rate",
        "set-max-listpack-entries",
        "set-max-listpack-value",
        "locale-collate",
        "hide-user-data-from-log",
        "max-new-connections-per-cycle",
        "max-new-tls-connections-per-cycle",
        "cluster-announce-human-nodename",
    ];
    // Values that legitimately differ: paths/ports of this run, and `save` (passed as "").
    const VALUE_DIFFS: &[&str] = &["dir", "port", "save", "pidfile", "logfile"];

    let port = (7250..7299)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("free port");
    let mut child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--daemonize",
            "no",
            "--dir",
            std::env::temp_dir().to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stream = None;
    for _ in 0..200 {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            stream = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut s = stream.expect("redis-server did not start");
    s.write_all(b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$1\r\n*\r\n")
        .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let n: usize = line.trim_end()[1..].parse().unwrap();
    let mut items = Vec::new();
    for _ in 0..n {
        line.clear();
        r.read_line(&mut line).unwrap();
        let len: usize = line.trim_end()[1..].parse().unwrap();
        let mut buf = vec![0u8; len + 2];
        std::io::Read::read_exact(&mut r, &mut buf).unwrap();
        buf.truncate(len);
        items.push(String::from_utf8_lossy(&buf).into_owned());
    }
    let _ = s.write_all(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n");
    let _ = child.wait();

    let theirs: Vec<(String, String)> = items
        .chunks_exact(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect();
    let ours = Config::defaults().get_matching(&[b"*"]);
    let mut problems = Vec::new();
    for (name, value) in &theirs {
        match ours.iter().find(|(n, _)| n == name) {
            None => problems.push(format!("missing parameter {name}")),
            Some((_, v)) => {
                let expect = if name == "bind" {
                    "127.0.0.1 -::1"
                } else {
                    value.as_str()
                };
                if v != expect && !VALUE_DIFFS.contains(&name.as_str()) {
                    problems.push(format!("{name}: ours {v:?} theirs {value:?}"));
                }
            }
        }
    }
    for (name, _) in &ours {
        if !theirs.iter().any(|(n, _)| n == name) && !OURS_ONLY.contains(&name.as_str()) {
            problems.push(format!("extra parameter {name}"));
        }
    }
    assert!(problems.is_empty(), "differences:\n{}", problems.join("\n"));
    eprintln!(
        "differential: {} redis parameters compared, {} ours-only tolerated",
        theirs.len(),
        OURS_ONLY.len()
    );
}

/// Minimal RESP client for the differential tests.
struct MiniClient {
    w: std::net::TcpStream,
    r: std::io::BufReader<std::net::TcpStream>,
}

#[derive(Debug, PartialEq)]
enum Reply {
    Ok,
    Err(String),
    Bulk(String),
    Array(Vec<Reply>),
    Other(String),
}

impl MiniClient {
    fn connect(port: u16) -> MiniClient {
        for _ in 0..300 {
            if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                return MiniClient {
                    r: std::io::BufReader::new(s.try_clone().unwrap()),
                    w: s,
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("redis-server did not start on {port}");
    }
    fn cmd(&mut self, args: &[&[u8]]) -> Reply {
        use std::io::Write;
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&out).unwrap();
        self.read()
    }
    fn read(&mut self) -> Reply {
        use std::io::{BufRead, Read};
        let mut line = String::new();
        if self.r.read_line(&mut line).unwrap_or(0) == 0 {
            return Reply::Other("eof".into());
        }
        let body = line[1..].trim_end().to_string();
        match line.as_bytes()[0] {
            b'+' if body == "OK" => Reply::Ok,
            b'-' => Reply::Err(body),
            b'$' => {
                let n: i64 = body.parse().unwrap();
                if n < 0 {
                    return Reply::Other("nil".into());
                }
                let mut buf = vec![0u8; n as usize + 2];
                self.r.read_exact(&mut buf).unwrap();
                buf.truncate(n as usize);
                Reply::Bulk(String::from_utf8_lossy(&buf).into_owned())
            }
            b'*' => {
                let n: usize = body.parse().unwrap();
                Reply::Array((0..n).map(|_| self.read()).collect())
            }
            _ => Reply::Other(body),
        }
    }
}

/// Starts redis-server on a free port in `ports` if it is installed (each test uses its own
/// range so parallel tests don't race for the same port).
fn start_redis(ports: std::ops::Range<u16>) -> Option<(std::process::Child, u16)> {
    use std::process::{Command, Stdio};
    let ok = Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("redis-server not on PATH: skipping differential test");
        return None;
    }
    let port = ports
        .into_iter()
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())?;
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--daemonize",
            "no",
            "--dir",
            std::env::temp_dir().to_str().unwrap(),
        ])
        .stdout(
            std::fs::File::create(
                std::env::temp_dir().join(format!("ferrokv-diff-redis-{port}.log")),
            )
            .map_or(Stdio::null(), Stdio::from),
        )
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some((child, port))
}

/// Differential check of CONFIG SET: for every parameter and a battery of values, the real
/// redis-server and `Config::set_many` must agree on success/error text and on the value that
/// CONFIG GET shows afterwards.
#[test]
fn differential_config_set_against_redis() {
    let Some((mut child, port)) = start_redis(7230..7238) else {
        return;
    };
    let mut cli = MiniClient::connect(port);
    // Parameters whose CONFIG SET has side effects on the test connection or the machine
    // (rebinding, disconnecting us, auth, files), or whose apply step can fail in Redis
    // for reasons outside the configuration table (OS limits, jemalloc support).
    const SKIP: &[&str] = &[
        "port",
        "bind",
        "tls-port",
        "requirepass",
        "client-output-buffer-limit",
        "maxclients",
        "appendonly",
        "activedefrag",
        "cluster-announce-bus-port",
        "cluster-announce-port",
        "cluster-announce-tls-port",
        "maxmemory",
        "maxmemory-clients",
        "oom-score-adj",
        "oom-score-adj-values",
        "timeout",
        "tls-cert-file",
        "tls-key-file",
        "tls-ca-cert-file",
        "tls-ca-cert-dir",
        "tls-dh-params-file",
        "tls-client-cert-file",
        "tls-client-key-file",
        "tls-protocols",
        "tls-ciphers",
        "tls-ciphersuites",
        "tls-key-file-pass",
        "tls-client-key-file-pass",
        "tls-auth-clients",
        "tls-prefer-server-ciphers",
        "tls-session-caching",
        "tls-session-cache-size",
        "tls-session-cache-timeout",
        "tls-replication",
        "tls-cluster",
        "unixsocketperm",
        "dir",
        "ignore-warnings",
    ];
    // Known, intended differences: `loglevel nothing` is accepted (Redis 7.2+).
    const VALUES: &[&str] = &[
        "bogus",
        "-1",
        "0",
        "1",
        "99999999999999999999",
        "",
        "yes",
        "NO",
        "1kb",
        "10%",
        "007",
        "3 2 1",
        "nothing",
        "volatile-lru",
        "A",
        "save now",
        "60 10",
    ];
    let all = match cli.cmd(&[b"CONFIG", b"GET", b"*"]) {
        Reply::Array(v) => v,
        r => panic!("{r:?}"),
    };
    let mut names = Vec::new();
    for pair in all.chunks_exact(2) {
        if let (Reply::Bulk(n), Reply::Bulk(v)) = (&pair[0], &pair[1]) {
            names.push((n.clone(), v.clone()));
        }
    }
    let mut compared = 0;
    let mut problems = Vec::new();
    for (name, orig) in &names {
        if SKIP.contains(&name.as_str()) || Config::canonical_name(name.as_bytes()).is_none() {
            continue;
        }
        let canonical = Config::canonical_name(name.as_bytes()).unwrap();
        if SKIP.contains(&canonical) {
            continue;
        }
        for v in VALUES {
            if *name == "loglevel" && *v == "nothing" {
                continue;
            }
            let theirs = cli.cmd(&[b"CONFIG", b"SET", name.as_bytes(), v.as_bytes()]);
            let theirs_val = cli.cmd(&[b"CONFIG", b"GET", name.as_bytes()]);
            let mut ours_cfg = Config::defaults();
            let ours = ours_cfg.set_many(&[(name.as_bytes(), v.as_bytes())]);
            compared += 1;
            match (&theirs, &ours) {
                (Reply::Ok, Ok(_)) => {
                    let ours_val = ours_cfg.get(name).unwrap();
                    if let Reply::Array(a) = &theirs_val {
                        if a.get(1) != Some(&Reply::Bulk(ours_val.clone())) {
                            problems.push(format!(
                                "{name} {v:?}: value ours {ours_val:?} theirs {a:?}"
                            ));
                        }
                    }
                }
                (Reply::Err(t), Err(o)) if t == o => {}
                // Intended: ferrokv has Redis 7.2's `loglevel nothing`.
                (Reply::Err(t), Err(o))
                    if name == "loglevel" && o.replace(", nothing", "") == *t => {}
                _ => problems.push(format!("{name} {v:?}: ours {ours:?} theirs {theirs:?}")),
            }
            // restore
            cli.cmd(&[b"CONFIG", b"SET", name.as_bytes(), orig.as_bytes()]);
        }
    }
    let _ = cli.cmd(&[b"SHUTDOWN", b"NOSAVE"]);
    let _ = child.wait();
    assert!(compared > 1000, "only {compared} comparisons");
    assert!(problems.is_empty(), "differences:\n{}", problems.join("\n"));
}

/// Differential check of startup errors: redis-server and `Config::from_args` must reject the
/// same config lines with the same reason.
#[test]
fn differential_startup_errors_against_redis() {
    use std::process::{Command, Stdio};
    if !Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
    {
        eprintln!("redis-server not on PATH: skipping differential test");
        return;
    }
    let many_binds = format!("bind {}", "127.0.0.1 ".repeat(17));
    let lines: Vec<&str> = vec![
        "port abc",
        "port 70000",
        "port 1 2",
        "port \"7210",
        "port 'x'y",
        "maxmemory 1tb",
        "maxmemory -1",
        "appendonly maybe",
        "save 10",
        "save 0 1",
        "dir /nonexistent/ferrokv",
        "sentinel monitor x",
        "include",
        "foo bar",
        "unixsocketperm 999",
        "unixsocketperm 1777",
        "replicaof host",
        "replicaof host port",
        "slaveof host 70000",
        &many_binds,
        "client-output-buffer-limit master 1 2 3",
        "client-output-buffer-limit normal 1 2",
        "notify-keyspace-events q",
        "oom-score-adj-values 1 2",
        "latency-tracking-info-percentiles 101",
        "hz x",
        "maxmemory-clients 200%",
        "shutdown-on-sigint save nosave",
        "dbfilename a/b",
        "appendfilename a/b",
        "proc-title-template {x}",
        "maxmemory-policy x",
        "databases 0",
        "io-threads 0",
        "repl-diskless-load maybe",
        "cluster-announce-hostname a_b",
        "rename-command a",
    ];
    let mut problems = Vec::new();
    for line in &lines {
        let f = write_tmp("diffstart", &format!("{line}\n"));
        let ours = match Config::from_args(&args(&[f.to_str().unwrap()])) {
            Err(StartupError::Directive { reason, .. }) => reason,
            Err(e) => format!("{e}"),
            Ok(_) => "ACCEPTED".to_string(),
        };
        let mut child = Command::new("redis-server")
            .arg(&f)
            .arg("--port")
            .arg("7249")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut waited = 0;
        let exited = loop {
            if child.try_wait().unwrap().is_some() {
                break true;
            }
            if waited > 300 {
                break false;
            }
            waited += 1;
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        if !exited {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let theirs = if exited {
            err.trim_end().lines().last().unwrap_or("").to_string()
        } else {
            "ACCEPTED".to_string()
        };
        if ours != theirs {
            problems.push(format!("{line:?}: ours {ours:?} theirs {theirs:?}"));
        }
        let _ = std::fs::remove_file(&f);
    }
    assert!(problems.is_empty(), "differences:\n{}", problems.join("\n"));
}

/// Differential check of `glob_match` against redis-server's KEYS (stringmatchlen): a fixed set
/// of keys with special characters, tricky hand-written patterns and a few thousand random
/// patterns over a small alphabet of metacharacters.
#[test]
fn differential_glob_against_redis_keys() {
    let Some((mut child, port)) = start_redis(7238..7246) else {
        return;
    };
    let mut cli = MiniClient::connect(port);
    let keys: Vec<&[u8]> = vec![
        b"a",
        b"b",
        b"ab",
        b"ba",
        b"abc",
        b"aXc",
        b"A",
        b"-",
        b"]",
        b"[",
        b"^",
        b"\\",
        b"*",
        b"?",
        b"a\\",
        b"[a]",
        b"a-b",
        b"aa",
        b"bb",
        b"abab",
        b"_",
        b"`",
        b"hello",
        b"hallo",
        b"hillo",
        b"x]y",
        b"a^b",
        b"\xff\x00",
        b"ab]",
        b"--",
    ];
    for k in &keys {
        assert_eq!(cli.cmd(&[b"SET", k, b"1"]), Reply::Ok);
    }
    let mut patterns: Vec<Vec<u8>> = [
        "[a-]", "[", "[abc", "[^", "[\\", "a\\", "\\", "[]", "[]a", "[-a]", "[a-", "[z-a]", "\\*",
        "[\\]]", "[a\\-z]", "a*", "h[^e]llo", "h?llo", "*b", "*a*", "a*b*", "[^a-z]", "[]]",
        "[^]]", "**", "*\\", "[\\", "\\[a]", "[[]", "a[", "[a-b-c]", "[b-a]*", "*[", "*]", "[^-]",
        "[]-]", "?*?", "\\\\", "x]y", "[x]]y", "[^\\]]",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let alphabet = b"ab*?[]^-\\";
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..3000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = 1 + (seed >> 60) as usize % 6;
        let mut p = Vec::new();
        let mut s = seed;
        for _ in 0..len {
            s = s.wrapping_mul(2862933555777941757).wrapping_add(3037000493);
            p.push(alphabet[(s >> 33) as usize % alphabet.len()]);
        }
        patterns.push(p);
    }
    let mut problems = Vec::new();
    for p in &patterns {
        let theirs = match cli.cmd(&[b"KEYS", p]) {
            Reply::Array(v) => {
                let mut v: Vec<String> = v
                    .into_iter()
                    .map(|r| match r {
                        Reply::Bulk(s) => s,
                        other => panic!("{other:?}"),
                    })
                    .collect();
                v.sort();
                v
            }
            r => panic!("{r:?}"),
        };
        let mut ours: Vec<String> = keys
            .iter()
            .filter(|k| p.as_slice() == b"*" || crate::glob::glob_match(p, k, false))
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        ours.sort();
        if ours != theirs {
            problems.push(format!(
                "{:?}: ours {ours:?} theirs {theirs:?}",
                String::from_utf8_lossy(p)
            ));
        }
    }
    let _ = cli.cmd(&[b"SHUTDOWN", b"NOSAVE"]);
    let _ = child.wait();
    assert!(problems.is_empty(), "differences:\n{}", problems.join("\n"));
}

/// Differential check of CONFIG REWRITE: the same file and the same CONFIG SETs must produce
/// the same rewritten file as redis-server, except for the order of appended lines (Redis
/// appends in hash-table order) and lines that depend on the process (`dir`, ACL `user`) or on
/// a Redis 7.0 quirk (it always appends `latency-tracking-info-percentiles`).
#[test]
fn differential_rewrite_against_redis() {
    use std::process::{Command, Stdio};
    if !Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
    {
        eprintln!("redis-server not on PATH: skipping differential test");
        return;
    }
    let Some(port) = (7246..7249).find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
    else {
        return;
    };
    let original = format!(
        "# Redis-like config\n\
         port {port}\n\
         bind 127.0.0.1\n\
         save 900 1\n\
         save 300 10\n\
         \n\
         # memory\n\
         maxmemory 1g\n\
         maxmemory 2mb\n\
         hash-max-ziplist-entries 100\n\
         slave-read-only yes\n\
         requirepass \"a b\"\n\
         rename-command CONFIG CONFIG\n\
         loglevel notice\n\
         timeout 0\n\
         appendfsync everysec\n\
         hz 10\n\
         hz 11\n\
         client-output-buffer-limit pubsub 1mb 2kb 3\n\
         notify-keyspace-events Ex\n\
         list-max-ziplist-entries 4\n"
    );
    let f = write_tmp("diffrw", &original);
    let sets: &[(&str, &str)] = &[
        ("maxmemory-clients", "10%"),
        ("notify-keyspace-events", "KEA"),
        ("loglevel", "warning"),
        ("appendfsync", "always"),
        ("masterauth", "xyz"),
        ("slowlog-max-len", "1024"),
        ("proto-max-bulk-len", "1048576"),
        ("replica-priority", "7"),
        ("oom-score-adj-values", "1 2 3"),
        ("shutdown-on-sigterm", "nosave now"),
        ("save", "100 1"),
        ("client-output-buffer-limit", "normal 1 2 3"),
        ("lua-time-limit", "100"),
    ];
    // theirs
    let mut child = Command::new("redis-server")
        .arg(&f)
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut cli = MiniClient::connect(port);
    assert_eq!(cli.cmd(&[b"AUTH", b"a b"]), Reply::Ok);
    for (k, v) in sets {
        assert_eq!(
            cli.cmd(&[b"CONFIG", b"SET", k.as_bytes(), v.as_bytes()]),
            Reply::Ok,
            "{k}"
        );
    }
    assert_eq!(cli.cmd(&[b"CONFIG", b"REWRITE"]), Reply::Ok);
    let _ = cli.cmd(&[b"SHUTDOWN", b"NOSAVE"]);
    let _ = child.wait();
    let theirs = std::fs::read_to_string(&f).unwrap();
    // ours
    std::fs::write(&f, &original).unwrap();
    let mut c = load(&[f.to_str().unwrap()]);
    set(&mut c, sets).unwrap();
    let ours = c.rewrite_content(original.as_bytes());
    let _ = std::fs::remove_file(&f);

    let split = |t: &str| -> (Vec<String>, Vec<String>) {
        let keep = |l: &&str| {
            !l.starts_with("dir ")
                && !l.starts_with("user ")
                && *l != "latency-tracking-info-percentiles 50 99 99.9"
        };
        match t.find(REWRITE_SIGNATURE) {
            Some(i) => {
                let head = t[..i].lines().filter(keep).map(String::from).collect();
                let mut tail: Vec<String> = t[i..].lines().filter(keep).map(String::from).collect();
                tail.sort();
                (head, tail)
            }
            None => (t.lines().filter(keep).map(String::from).collect(), vec![]),
        }
    };
    let (oh, ot) = split(&ours);
    let (th, tt) = split(&theirs);
    assert_eq!(
        oh, th,
        "in-place part differs\nours:\n{ours}\ntheirs:\n{theirs}"
    );
    assert_eq!(
        ot, tt,
        "appended part differs\nours:\n{ours}\ntheirs:\n{theirs}"
    );
}

#[test]
fn binary_string_values_round_trip() {
    let mut c = Config::defaults();
    c.set_many(&[(b"requirepass", b"\xff\x00pw")]).unwrap();
    assert_eq!(c.requirepass(), Some(b"\xff\x00pw".to_vec()));
    assert_eq!(
        c.get_matching_raw(&[b"requirepass"]),
        vec![("requirepass".to_string(), b"\xff\x00pw".to_vec())]
    );
    assert_eq!(c.get_bytes("REQUIREPASS"), Some(&b"\xff\x00pw"[..]));
    // CONFIG REWRITE quotes it so that loading it back gives the same bytes.
    let content = c.rewrite_content(b"requirepass old\n");
    assert_eq!(content, format!("requirepass \"\\xff\\x00pw\"\n\n# Generated by CONFIG REWRITE\nsave 3600 1\nsave 300 100\nsave 60 10000\ndir {}\n", repr(c.get_bytes("dir").unwrap())));
    let f = write_tmp("binpw", &content);
    let c2 = load(&[f.to_str().unwrap()]);
    assert_eq!(c2.requirepass(), Some(b"\xff\x00pw".to_vec()));
    let _ = std::fs::remove_file(&f);
}
