//! Tests of the command table: self-consistency, and a differential comparison of COMMAND INFO /
//! COMMAND GETKEYS / COMMAND GETKEYSANDFLAGS against a real `redis-server` (7.0) when one is on
//! PATH.

use super::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// Commands (or subcommands) whose metadata legitimately differs between Redis 7.0 and the
/// Redis 7.2+/7.4 facts we carry. Each entry is skipped by the differential COMMAND INFO test,
/// and must really differ (a stale entry fails the test).
const KNOWN_7_0_DIFFERENCES: &[(&str, &str)] = &[
    // Containers: differ only because a subcommand below differs or is new in 7.2.
    (
        "acl",
        "subcommands acl|deluser, acl|save, acl|setuser differ",
    ),
    (
        "client",
        "7.2 added CLIENT NO-TOUCH and CLIENT SETINFO; client|setname differs",
    ),
    (
        "cluster",
        "7.2 added CLUSTER MYSHARDID; several subcommands differ",
    ),
    (
        "command",
        "command|getkeys and command|getkeysandflags differ",
    ),
    ("config", "config|resetstat and config|rewrite differ"),
    ("latency", "latency|reset differs"),
    // Request/response policy tips added after 7.0.
    (
        "acl|deluser",
        "7.2+: request_policy:all_nodes / response_policy:all_succeeded tips",
    ),
    (
        "acl|save",
        "7.2+: request_policy:all_nodes / response_policy:all_succeeded tips",
    ),
    (
        "acl|setuser",
        "7.2+: request_policy:all_nodes / response_policy:all_succeeded tips",
    ),
    (
        "client|setname",
        "7.2+: request_policy:all_nodes / response_policy:all_succeeded tips",
    ),
    (
        "config|resetstat",
        "7.2+: request_policy:all_nodes / response_policy:all_succeeded tips",
    ),
    (
        "config|rewrite",
        "7.2+: request_policy:all_nodes / response_policy:all_succeeded tips",
    ),
    (
        "latency|reset",
        "7.2+: response policy agg_sum (it replies a count) instead of all_succeeded",
    ),
    (
        "msetnx",
        "7.2+: multi_shard/agg_min tips dropped (MSETNX must stay atomic)",
    ),
    ("randomkey", "7.2+: response_policy:special tip"),
    ("scan", "7.2+: response_policy:special tip"),
    // Flags.
    (
        "bitfield",
        "7.2+: commands with a getkeys procedure are reported as movablekeys",
    ),
    (
        "set",
        "7.2+: commands with a getkeys procedure are reported as movablekeys",
    ),
    (
        "blmove",
        "7.2+: blocking commands lost noscript (run non-blocking in scripts)",
    ),
    (
        "blpop",
        "7.2+: blocking commands lost noscript (run non-blocking in scripts)",
    ),
    (
        "brpop",
        "7.2+: blocking commands lost noscript (run non-blocking in scripts)",
    ),
    (
        "brpoplpush",
        "7.2+: blocking commands lost noscript (run non-blocking in scripts)",
    ),
    (
        "bzpopmax",
        "7.2+: blocking commands lost noscript (run non-blocking in scripts)",
    ),
    (
        "bzpopmin",
        "7.2+: blocking commands lost noscript (run non-blocking in scripts)",
    ),
    (
        "wait",
        "7.2+: WAIT is blocking (and @blocking), no longer noscript",
    ),
    ("multi", "7.2+: MULTI carries no_multi"),
    ("watch", "7.2+: WATCH carries no_multi"),
    ("cluster|info", "7.2+: allowed while loading"),
    ("cluster|myid", "7.2+: allowed while loading"),
    ("cluster|nodes", "7.2+: allowed while loading"),
    ("cluster|shards", "7.2+: allowed while loading"),
    ("cluster|slots", "7.2+: allowed while loading"),
    // Arity / key specs.
    (
        "command|getkeys",
        "7.2+: arity -3 (a command without arguments may be asked about)",
    ),
    (
        "command|getkeysandflags",
        "7.2+: arity -3 (a command without arguments may be asked about)",
    ),
    ("zrank", "7.2: WITHSCORE made arity -3"),
    ("zrevrank", "7.2: WITHSCORE made arity -3"),
    (
        "sinterstore",
        "7.2+: destination key spec is OW (like SUNIONSTORE/SDIFFSTORE), 7.0 says RW",
    ),
];

/// Representative argvs whose COMMAND GETKEYS answers differ between 7.0 and our (7.2+) facts.
const KNOWN_7_0_GETKEYS_DIFFERENCES: &[(&str, &str)] = &[
    ("zrank", "7.2: WITHSCORE made arity -3"),
    ("zrevrank", "7.2: WITHSCORE made arity -3"),
    (
        "sinterstore",
        "7.2+: destination key spec is OW, 7.0 says RW",
    ),
];

// ---------------------------------------------------------------------------------------------
// Self-consistency (no server needed).

#[test]
fn table_is_sorted_and_lookups_work() {
    for w in COMMANDS.windows(2) {
        assert!(w[0].name < w[1].name, "{} !< {}", w[0].name, w[1].name);
    }
    for c in COMMANDS {
        assert!(c.container.is_none());
        assert_eq!(lookup(c.name.as_bytes()).map(|s| s.name), Some(c.name));
        for w in c.subcommands.windows(2) {
            assert!(w[0].name < w[1].name);
        }
        for s in c.subcommands {
            assert_eq!(s.container, Some(c.name));
            assert_eq!(
                lookup_sub(c, s.short_name().as_bytes()).map(|x| x.name),
                Some(s.name)
            );
        }
    }
    assert!(lookup(b"nosuchcommand").is_none());
    assert_eq!(lookup_ci(b"GeT").map(|c| c.name), Some("get"));
    let argv: [&[u8]; 3] = [b"CONFIG", b"GET", b"x"];
    assert_eq!(resolve(&argv).map(|c| c.name), Some("config|get"));
    let argv: [&[u8]; 2] = [b"CONFIG", b"nope"];
    assert_eq!(resolve(&argv).map(|c| c.name), Some("config"));
    assert!(lookup(b"get").is_some_and(|g| g.has(flags::READONLY | flags::FAST)));
}

#[test]
fn excluded_valkey_only_commands_are_absent() {
    let client = lookup(b"client").expect("client");
    assert!(lookup_sub(client, b"capa").is_none());
    let cluster = lookup(b"cluster").expect("cluster");
    assert!(lookup_sub(cluster, b"slot-stats").is_none());
    let script = lookup(b"script").expect("script");
    assert!(lookup_sub(script, b"show").is_none());
    assert!(lookup(b"commandlog").is_none());
    // Redis 7.2 additions are present.
    assert!(lookup_sub(client, b"no-touch").is_some());
    assert!(lookup(b"waitaof").is_some());
    // Redis 7.4 hash-field expiration commands (hand-written facts in the generator).
    for n in [
        "hexpire",
        "hpexpire",
        "hexpireat",
        "hpexpireat",
        "httl",
        "hpttl",
        "hexpiretime",
        "hpexpiretime",
        "hpersist",
    ] {
        let c = lookup(n.as_bytes()).expect("7.4 command");
        assert_eq!(c.since, "7.4.0");
        assert_eq!(c.acl & acl::HASH, acl::HASH);
        let words: Vec<&str> = if c.arity == -6 {
            vec![n, "h", "10", "FIELDS", "1", "f"]
        } else {
            vec![n, "h", "FIELDS", "1", "f"]
        };
        let v = argv(&words);
        assert!(c.arity_ok(v.len()), "{n}");
        assert_eq!(keys_for_dispatch(c, &v).len(), 1);
    }
}

#[test]
fn redis_8_hash_commands_are_present() {
    for (n, words) in [
        ("hgetdel", vec!["hgetdel", "h", "FIELDS", "1", "f"]),
        (
            "hgetex",
            vec!["hgetex", "h", "EX", "10", "FIELDS", "1", "f"],
        ),
        (
            "hsetex",
            vec!["hsetex", "h", "FNX", "FIELDS", "1", "f", "v"],
        ),
    ] {
        let c = lookup(n.as_bytes()).expect("8.0 command");
        assert_eq!(c.since, "8.0.0");
        assert_eq!(c.acl & (acl::HASH | acl::WRITE), acl::HASH | acl::WRITE);
        let v = argv(&words);
        assert!(c.arity_ok(v.len()), "{n}");
        assert!(!c.arity_ok(4), "{n}");
        assert_eq!(keys_for_dispatch(c, &v).len(), 1);
    }
}

#[test]
fn key_spec_indexes_are_in_range_and_summaries_exist() {
    fn walk(args: &[Arg], nspecs: usize, name: &str) {
        for a in args {
            if a.kind == ArgKind::Key {
                assert!(
                    a.key_spec_index >= 0 && (a.key_spec_index as usize) < nspecs,
                    "{name}: {}",
                    a.name
                );
            }
            walk(a.args, nspecs, name);
        }
    }
    for c in all_commands() {
        walk(c.args, c.key_specs.len(), c.name);
        assert!(!summary(c.name).is_empty(), "no summary for {}", c.name);
        assert!(c.acl & (acl::FAST | acl::SLOW) != 0, "{}", c.name);
    }
}

#[test]
fn acl_names_round_trip() {
    for (n, b) in acl::ALL {
        assert_eq!(acl::name(*b), *n);
        assert_eq!(acl::from_name(&n.to_ascii_uppercase()), Some(*b));
    }
    assert_eq!(acl::from_name("nope"), None);
    assert_eq!(acl::name(acl::READ | acl::WRITE), "");
}

fn argv<'a>(v: &'a [&'a str]) -> Vec<&'a [u8]> {
    v.iter().map(|s| s.as_bytes()).collect()
}

fn positions(spec: &CommandSpec, v: &[&str]) -> Result<Vec<usize>, &'static str> {
    get_keys(spec, &argv(v)).map(|k| k.into_iter().map(|(p, _)| p).collect())
}

#[test]
fn get_keys_examples() {
    let cmd = |n: &str| lookup(n.as_bytes()).expect("command");
    assert_eq!(positions(cmd("get"), &["get", "a"]), Ok(vec![1]));
    assert_eq!(
        positions(cmd("mset"), &["mset", "a", "1", "b", "2"]),
        Ok(vec![1, 3])
    );
    assert_eq!(
        positions(cmd("zunionstore"), &["zunionstore", "d", "2", "a", "b"]),
        Ok(vec![1, 3, 4])
    );
    assert_eq!(
        positions(cmd("zunionstore"), &["zunionstore", "d", "0", "a"]),
        Err(keys::ERR_INVALID)
    );
    assert_eq!(
        positions(
            cmd("sort"),
            &["sort", "a", "by", "store", "store", "x", "store", "y"]
        ),
        Ok(vec![1, 7])
    );
    assert_eq!(
        positions(
            cmd("migrate"),
            &["migrate", "h", "1", "", "0", "5", "auth", "keys", "keys", "k1", "k2"]
        ),
        Ok(vec![9, 10])
    );
    assert_eq!(
        positions(
            cmd("xread"),
            &["xread", "count", "2", "streams", "s1", "s2", "0", "0"]
        ),
        Ok(vec![4, 5])
    );
    assert_eq!(positions(cmd("ping"), &["ping"]), Err(keys::ERR_NO_KEYS));
    assert_eq!(positions(cmd("get"), &["get"]), Err(keys::ERR_ARITY));
    let set = get_keys(cmd("set"), &argv(&["set", "k", "v", "GET"])).expect("keys");
    assert_eq!(
        set,
        vec![(1, ksflags::RW | ksflags::ACCESS | ksflags::UPDATE)]
    );
    let bf = get_keys(cmd("bitfield"), &argv(&["bitfield", "k", "get", "u8", "0"]));
    assert_eq!(bf, Ok(vec![(1, ksflags::RO | ksflags::ACCESS)]));
    assert_eq!(legacy_range(cmd("mset")), (1, -1, 2));
    assert_eq!(legacy_range(cmd("get")), (1, 1, 1));
    assert_eq!(legacy_range(cmd("ping")), (0, 0, 0));
    let sp = argv(&["ssubscribe", "a", "b"]);
    assert_eq!(not_key_positions(cmd("ssubscribe"), &sp), vec![1, 2]);
    assert!(keys_for_dispatch(cmd("ssubscribe"), &sp).is_empty());
    assert!(not_key_positions(cmd("get"), &argv(&["get", "a"])).is_empty());
    assert!(is_movable(cmd("sort")));
    assert!(!is_movable(cmd("mget")));
}

// ---------------------------------------------------------------------------------------------
// Tiny RESP2 renderer and reader.

/// Renders a [`Doc`] the way a RESP2 connection would see it.
fn render(d: &Doc, out: &mut Vec<u8>) {
    match d {
        Doc::Int(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
        Doc::Simple(s) => out.extend_from_slice(format!("+{s}\r\n").as_bytes()),
        Doc::Bulk(s) => {
            out.extend_from_slice(format!("${}\r\n{s}\r\n", s.len()).as_bytes());
        }
        Doc::Array(v) | Doc::Set(v) => {
            out.extend_from_slice(format!("*{}\r\n", v.len()).as_bytes());
            for x in v {
                render(x, out);
            }
        }
        Doc::Map(v) => {
            out.extend_from_slice(format!("*{}\r\n", v.len() * 2).as_bytes());
            for (k, x) in v {
                out.extend_from_slice(format!("${}\r\n{k}\r\n", k.len()).as_bytes());
                render(x, out);
            }
        }
        Doc::Null => out.extend_from_slice(b"$-1\r\n"),
    }
}

/// A parsed RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
enum R {
    Int(i64),
    Simple(String),
    Err(String),
    Bulk(Vec<u8>),
    Nil,
    Arr(Vec<R>),
}

fn read_reply(r: &mut impl BufRead) -> R {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).expect("read");
    assert!(line.ends_with(b"\r\n"), "truncated reply");
    let body = String::from_utf8_lossy(&line[1..line.len() - 2]).to_string();
    match line[0] {
        b':' => R::Int(body.parse().expect("int")),
        b'+' => R::Simple(body),
        b'-' => R::Err(body),
        b'$' => {
            let n: i64 = body.parse().expect("len");
            if n < 0 {
                return R::Nil;
            }
            let mut buf = vec![0; n as usize + 2];
            r.read_exact(&mut buf).expect("bulk");
            buf.truncate(n as usize);
            R::Bulk(buf)
        }
        b'*' => {
            let n: i64 = body.parse().expect("len");
            if n < 0 {
                return R::Nil;
            }
            R::Arr((0..n).map(|_| read_reply(r)).collect())
        }
        c => panic!("unexpected reply type {c}"),
    }
}

fn render_r(x: &R, out: &mut Vec<u8>) {
    match x {
        R::Int(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
        R::Simple(s) => out.extend_from_slice(format!("+{s}\r\n").as_bytes()),
        R::Err(s) => out.extend_from_slice(format!("-{s}\r\n").as_bytes()),
        R::Bulk(b) => {
            out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        R::Nil => out.extend_from_slice(b"$-1\r\n"),
        R::Arr(v) => {
            out.extend_from_slice(format!("*{}\r\n", v.len()).as_bytes());
            for e in v {
                render_r(e, out);
            }
        }
    }
}

fn bytes_of(x: &R) -> Vec<u8> {
    let mut v = Vec::new();
    render_r(x, &mut v);
    v
}

fn parse_bytes(b: &[u8]) -> R {
    read_reply(&mut BufReader::new(b))
}

/// Canonical form of a COMMAND INFO entry: key-spec `notes` (prose we do not carry) removed,
/// subcommands (a dict in Redis, so in hash order) sorted.
fn normalise_info(e: &mut R) {
    let R::Arr(items) = e else { return };
    if items.len() != 10 {
        return;
    }
    if let R::Arr(specs) = &mut items[8] {
        for s in specs.iter_mut() {
            if let R::Arr(kv) = s {
                if kv.first() == Some(&R::Bulk(b"notes".to_vec())) {
                    kv.drain(0..2);
                }
            }
        }
    }
    if let R::Arr(subs) = &mut items[9] {
        for s in subs.iter_mut() {
            normalise_info(s);
        }
        subs.sort_by_key(bytes_of);
    }
}

struct Redis {
    child: Child,
    conn: BufReader<TcpStream>,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Redis {
    fn start() -> Option<Redis> {
        static NEXT_PORT: AtomicU16 = AtomicU16::new(7150);
        let path = std::env::var_os("PATH")?;
        let bin = std::env::split_paths(&path)
            .map(|p| p.join("redis-server"))
            .find(|p| p.is_file())?;
        // Distinct ports per test in this process, in our range 7150-7199; a server that dies
        // (port taken by someone else) makes us try the next one.
        loop {
            let port = NEXT_PORT.fetch_add(1, Ordering::SeqCst);
            if port >= 7200 {
                return None;
            }
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue;
            }
            // An empty working dir, so no stray dump.rdb gets loaded.
            let dir = std::env::temp_dir().join(format!("ferrokv-spec-test-{port}"));
            std::fs::create_dir_all(&dir).ok()?;
            let mut child = Command::new(&bin)
                .current_dir(&dir)
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                ])
                .args(["--appendonly", "no", "--daemonize", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()?;
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited: try another port
                }
                if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                    return Some(Redis {
                        child,
                        conn: BufReader::new(s),
                    });
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("redis-server did not start on port {port}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// True if the server is Redis 7.0.x, the version the known-difference lists describe.
    fn is_7_0(&mut self) -> bool {
        match self.cmd(&[b"INFO", b"server"]) {
            R::Bulk(b) => String::from_utf8_lossy(&b).contains("redis_version:7.0."),
            _ => false,
        }
    }

    fn cmd(&mut self, args: &[&[u8]]) -> R {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.conn.get_mut().write_all(&out).expect("write");
        read_reply(&mut self.conn)
    }
}

// ---------------------------------------------------------------------------------------------
// Representative argvs from the argument tree.

fn sample_args(args: &[Arg], with_optional: bool, out: &mut Vec<String>, keyn: &mut usize) {
    for a in args {
        if a.flags & argflags::OPTIONAL != 0 && !with_optional {
            continue;
        }
        if let Some(t) = a.token {
            out.push(t.to_string());
        }
        match a.kind {
            ArgKind::PureToken => {}
            ArgKind::Key => {
                *keyn += 1;
                out.push(format!("key{keyn}"));
            }
            ArgKind::Integer => out.push("1".into()),
            ArgKind::Double => out.push("1.5".into()),
            ArgKind::UnixTime => out.push("1700000000".into()),
            ArgKind::Pattern => out.push("p*".into()),
            ArgKind::String => out.push(format!("s{}", out.len())),
            ArgKind::Oneof => {
                if let Some(first) = a.args.first() {
                    sample_args(std::slice::from_ref(first), true, out, keyn);
                }
            }
            ArgKind::Block => sample_args(a.args, with_optional, out, keyn),
        }
    }
}

/// Argvs for COMMAND GETKEYS: required arguments only, everything optional included, and some
/// hand-written cases for commands with special key procedures.
fn sample_argvs(c: &CommandSpec) -> Vec<Vec<String>> {
    let mut prefix: Vec<String> = c.name.split('|').map(str::to_string).collect();
    if prefix.len() == 1 && !c.subcommands.is_empty() {
        prefix.push("help".into());
    }
    let mut res = Vec::new();
    for opt in [false, true] {
        let mut v = prefix.clone();
        let mut keyn = 0;
        sample_args(c.args, opt, &mut v, &mut keyn);
        if !res.contains(&v) {
            res.push(v);
        }
    }
    res
}

const HAND_ARGVS: &[&[&str]] = &[
    &["sort", "k", "by", "w_*", "get", "#", "store", "d"],
    &["sort", "k", "limit", "0", "1", "store", "a", "store", "b"],
    &["sort", "k", "store"],
    &["sort_ro", "k", "by", "x"],
    &["migrate", "h", "1", "", "0", "5", "copy", "keys", "a", "b"],
    &["migrate", "h", "1", "k", "0", "5", "keys", "a", "b"],
    &[
        "migrate", "h", "1", "", "0", "5", "auth2", "u", "keys", "keys", "x",
    ],
    &["migrate", "h", "1", "k", "0", "5"],
    &["georadius", "k", "1", "2", "3", "m", "store", "d"],
    &[
        "georadius",
        "k",
        "1",
        "2",
        "3",
        "m",
        "storedist",
        "d",
        "store",
        "e",
    ],
    &["georadiusbymember", "k", "m", "3", "km", "STORE", "d"],
    &["xread", "streams", "a", "b", "0", "0"],
    &["xread", "block", "0", "streams", "a", "0"],
    &["xread", "streams", "a", "b", "0"],
    &["xreadgroup", "group", "g", "c", "streams", "a", "0"],
    &[
        "xreadgroup",
        "group",
        "streams",
        "c",
        "streams",
        "streams",
        "0",
    ],
    &["set", "k", "v", "get"],
    &["set", "k", "v", "ex", "10"],
    &["bitfield", "k", "get", "u8", "0"],
    &["bitfield", "k", "set", "u8", "0", "1"],
    &["bitfield", "k", "overflow", "wrap", "get", "u8", "0"],
    &["bitfield", "k", "bogus"],
    &["zunionstore", "d", "2", "a", "b", "weights", "1", "2"],
    &["zunionstore", "d", "0", "a"],
    &["zunionstore", "d", "x", "a"],
    &["zunionstore", "d", "3", "a"],
    &["zinter", "2", "a", "b"],
    &["zdiff", "-1", "a"],
    &["zintercard", "2", "a", "b", "limit", "3"],
    &["sintercard", "1", "a"],
    &["eval", "return 1", "2", "a", "b", "c"],
    &["eval", "return 1", "0"],
    &["eval", "return 1", "3", "a"],
    &["evalsha_ro", "abc", "1", "a"],
    &["fcall", "f", "1", "a", "b"],
    &["fcall_ro", "f", "2", "a", "b"],
    &["lmpop", "2", "a", "b", "left", "count", "2"],
    &["blmpop", "0", "2", "a", "b", "right"],
    &["bzmpop", "0", "1", "a", "min"],
    &["zmpop", "1", "a", "max"],
    &["mset", "a", "1", "b", "2"],
    &["mset", "a", "1", "b"],
    &["mget", "a", "b", "c"],
    &["del", "a", "b"],
    &["rename", "a", "b"],
    &["blpop", "a", "b", "0"],
    &["pfcount", "a", "b"],
    &["object", "encoding", "k"],
    &["memory", "usage", "k"],
    &["xinfo", "stream", "s", "full"],
    &["xgroup", "create", "s", "g", "$", "mkstream"],
    &["spublish", "ch", "msg"],
    &["ssubscribe", "a", "b"],
    &["publish", "ch", "m"],
    &["lcs", "a", "b"],
    &["copy", "a", "b", "db", "1"],
    &["bitop", "and", "d", "a", "b"],
    &["georadius_ro", "k", "1", "2", "3", "m", "store", "d"],
    &[
        "geosearchstore",
        "d",
        "s",
        "frommember",
        "m",
        "byradius",
        "1",
        "m",
    ],
    &["smove", "a", "b", "m"],
    &["msetnx", "a", "1"],
    &["watch", "a", "b"],
    &["touch", "a"],
    &["exists", "a", "a"],
    // Edge cases where the specs fail and the getkeys procedures decide.
    &["zunionstore", "d", "1x", "a"],
    &["zinterstore", "d", " 2", "a", "b"],
    &["eval", "s", "1x", "k"],
    &["eval", "s", "-1", "k"],
    &["eval", "s", "01", "k"],
    &["fcall", "f", "+1", "k"],
    &["lmpop", "1x", "a", "left"],
    &["bzmpop", "0", "2x", "a", "b", "min"],
    &["sintercard", "2x", "a", "b"],
    &["xread", "streams", "a"],
    &["xread", "count", "streams", "streams", "a", "0"],
    &["migrate", "h", "1", "", "0", "5", "keys"],
    &[
        "migrate", "h", "1", "", "0", "5", "replace", "auth", "keys", "keys", "a",
    ],
    &["sort", "k", "store", "a", "limit"],
    &["sort", "k", "get", "store", "store", "x"],
    &["bitfield", "k", "get", "u8"],
    &["bitfield", "k", "incrby", "u8", "0", "1"],
    &["bitfield_ro", "k", "get", "u8", "0"],
    &["set", "k", "v", "nx", "get"],
    &["set", "k", "get"],
    &["georadius", "k", "1", "2", "3", "m", "store"],
    &["mset", "a"],
    &["zrangestore", "d", "s", "0", "-1"],
    &["object", "freq", "k"],
    &["xinfo", "groups", "k"],
    &["xgroup", "setid", "k", "g", "$"],
    &["pfmerge", "d", "a", "b"],
    &["memory", "usage", "k", "samples", "5"],
];

fn lookup_argv(v: &[String]) -> Option<&'static CommandSpec> {
    let b: Vec<&[u8]> = v.iter().map(|s| s.as_bytes()).collect();
    resolve(&b)
}

/// Our answer to COMMAND GETKEYS / GETKEYSANDFLAGS for `v`, rendered like Redis would.
fn our_getkeys(spec: &CommandSpec, v: &[String], with_flags: bool) -> R {
    let b: Vec<&[u8]> = v.iter().map(|s| s.as_bytes()).collect();
    match get_keys(spec, &b) {
        Err(e) => R::Err(e.to_string()),
        Ok(keys) => R::Arr(
            keys.into_iter()
                .map(|(p, f)| {
                    let k = R::Bulk(v[p].as_bytes().to_vec());
                    if with_flags {
                        let fl = ksflags::names(f).map(|n| R::Simple(n.into())).collect();
                        R::Arr(vec![k, R::Arr(fl)])
                    } else {
                        k
                    }
                })
                .collect(),
        ),
    }
}

#[test]
fn differential_against_redis_server() {
    let Some(mut redis) = Redis::start() else {
        println!("redis-server not on PATH (or no free port): skipping differential test");
        return;
    };
    if !redis.is_7_0() {
        println!("redis-server is not 7.0.x: the known-difference lists do not apply, skipping");
        return;
    }
    let known: Vec<&str> = KNOWN_7_0_DIFFERENCES.iter().map(|(n, _)| *n).collect();
    let mut compared = 0;
    let mut matching = 0;
    let mut only_ours = Vec::new();
    let mut mismatches = Vec::new();
    let mut known_seen = Vec::new();
    for c in all_commands() {
        let reply = redis.cmd(&[b"COMMAND", b"INFO", c.name.as_bytes()]);
        let R::Arr(mut entries) = reply else {
            panic!("COMMAND INFO {}: unexpected reply", c.name)
        };
        let mut theirs = entries.remove(0);
        if theirs == R::Nil {
            only_ours.push(c.name);
            continue;
        }
        compared += 1;
        let mut ours_bytes = Vec::new();
        render(&command_info(c), &mut ours_bytes);
        let mut ours = parse_bytes(&ours_bytes);
        normalise_info(&mut ours);
        normalise_info(&mut theirs);
        if ours == theirs {
            matching += 1;
            assert!(
                !known.contains(&c.name),
                "{} is listed in KNOWN_7_0_DIFFERENCES but matches",
                c.name
            );
        } else if known.contains(&c.name) {
            known_seen.push(c.name);
        } else {
            mismatches.push(format!(
                "{}:\n  ours:   {}\n  theirs: {}",
                c.name,
                String::from_utf8_lossy(&bytes_of(&ours)).replace("\r\n", " "),
                String::from_utf8_lossy(&bytes_of(&theirs)).replace("\r\n", " ")
            ));
        }
    }
    // Commands Redis has that we do not.
    let R::Arr(names) = redis.cmd(&[b"COMMAND", b"LIST"]) else {
        panic!("COMMAND LIST")
    };
    let mut only_theirs = Vec::new();
    for n in names {
        if let R::Bulk(b) = n {
            let parts: Vec<&[u8]> = b.split(|c| *c == b'|').collect();
            if resolve(&parts).is_none_or(|c| c.short_name().as_bytes() != parts[parts.len() - 1]) {
                only_theirs.push(String::from_utf8_lossy(&b).to_string());
            }
        }
    }
    println!(
        "COMMAND INFO: compared {compared}, matching {matching}, known 7.0 differences {}, \
         only in our table: {only_ours:?}, only in redis-server: {only_theirs:?}",
        known_seen.len()
    );

    // COMMAND GETKEYS / GETKEYSANDFLAGS.
    let mut argvs: Vec<Vec<String>> = Vec::new();
    for c in all_commands() {
        argvs.extend(sample_argvs(c));
    }
    for h in HAND_ARGVS {
        argvs.push(h.iter().map(|s| s.to_string()).collect());
    }
    let known_gk: Vec<&str> = KNOWN_7_0_GETKEYS_DIFFERENCES
        .iter()
        .map(|(n, _)| *n)
        .collect();
    let mut gk_compared = 0;
    let mut gk_matching = 0;
    for v in &argvs {
        let Some(spec) = lookup_argv(v) else {
            panic!("unknown command in sample {v:?}")
        };
        // 7.0's COMMAND GETKEYS needs at least one argument after the command name.
        if v.len() < 2 || only_ours.contains(&spec.name) || known_gk.contains(&spec.name) {
            continue;
        }
        for (sub, with_flags) in [(&b"GETKEYS"[..], false), (&b"GETKEYSANDFLAGS"[..], true)] {
            let mut req: Vec<&[u8]> = vec![b"COMMAND", sub];
            req.extend(v.iter().map(|s| s.as_bytes()));
            let theirs = redis.cmd(&req);
            let ours = our_getkeys(spec, v, with_flags);
            gk_compared += 1;
            if ours == theirs {
                gk_matching += 1;
            } else {
                mismatches.push(format!(
                    "COMMAND {} {}:\n  ours:   {}\n  theirs: {}",
                    String::from_utf8_lossy(sub),
                    v.join(" "),
                    String::from_utf8_lossy(&bytes_of(&ours)).replace("\r\n", " "),
                    String::from_utf8_lossy(&bytes_of(&theirs)).replace("\r\n", " ")
                ));
            }
        }
    }
    println!("COMMAND GETKEYS[ANDFLAGS]: compared {gk_compared}, matching {gk_matching}");
    assert!(compared > 200, "too few commands compared: {compared}");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Removes prose and 7.2-only fields from a COMMAND DOCS entry (a flat key/value array), recursively.
fn normalise_docs(e: &mut R) {
    let R::Arr(kv) = e else { return };
    let mut i = 0;
    while i + 1 < kv.len() {
        let key = match &kv[i] {
            R::Bulk(k) => String::from_utf8_lossy(k).to_string(),
            _ => String::new(),
        };
        if key == "summary" || key == "history" || key == "display_text" {
            kv.drain(i..i + 2);
            continue;
        }
        match key.as_str() {
            "arguments" => {
                if let R::Arr(args) = &mut kv[i + 1] {
                    for a in args.iter_mut() {
                        normalise_docs(a);
                    }
                }
            }
            "subcommands" => {
                if let R::Arr(subs) = &mut kv[i + 1] {
                    let mut pairs: Vec<(R, R)> = Vec::new();
                    for ch in subs.chunks(2) {
                        let mut v = ch[1].clone();
                        normalise_docs(&mut v);
                        pairs.push((ch[0].clone(), v));
                    }
                    pairs.sort_by_key(|(k, _)| bytes_of(k));
                    *subs = pairs.into_iter().flat_map(|(k, v)| [k, v]).collect();
                }
            }
            _ => {}
        }
        i += 2;
    }
}

#[test]
fn docs_against_redis_server() {
    let Some(mut redis) = Redis::start() else {
        println!("redis-server not on PATH (or no free port): skipping COMMAND DOCS test");
        return;
    };
    if !redis.is_7_0() {
        println!("redis-server is not 7.0.x: the known-difference lists do not apply, skipping");
        return;
    }
    let mut compared = 0;
    let mut diffs = Vec::new();
    let mut field_mismatches = Vec::new();
    for c in COMMANDS {
        let R::Arr(mut reply) = redis.cmd(&[b"COMMAND", b"DOCS", c.name.as_bytes()]) else {
            panic!("COMMAND DOCS {}", c.name)
        };
        if reply.len() != 2 {
            continue;
        }
        let mut theirs = reply.remove(1);
        compared += 1;
        let mut b = Vec::new();
        render(&command_docs(c), &mut b);
        let mut ours = parse_bytes(&b);
        normalise_docs(&mut ours);
        normalise_docs(&mut theirs);
        for key in ["since", "group", "doc_flags"] {
            // Newer than 7.0: QUIT deprecated in 7.2; SETEX/SETNX/PSETEX marked deprecated in
            // the 7.2+ facts.
            if ["quit", "setex", "setnx", "psetex"].contains(&c.name) && key == "doc_flags" {
                continue;
            }
            if field(&ours, key) != field(&theirs, key) {
                field_mismatches.push(format!(
                    "{} {key}: ours {:?} theirs {:?}",
                    c.name,
                    field(&ours, key),
                    field(&theirs, key)
                ));
            }
        }
        if ours != theirs {
            diffs.push(format!(
                "{}:\n  ours:   {}\n  theirs: {}",
                c.name,
                String::from_utf8_lossy(&bytes_of(&ours)).replace("\r\n", " "),
                String::from_utf8_lossy(&bytes_of(&theirs)).replace("\r\n", " ")
            ));
        }
    }
    println!(
        "COMMAND DOCS (summary/history/display_text ignored): compared {compared}, \
         differing {} (argument names, token case and complexity wording follow the 7.2+ facts)",
        diffs.len()
    );
    assert!(compared > 200);
    assert!(
        field_mismatches.is_empty(),
        "since/group/doc_flags mismatches:\n{}",
        field_mismatches.join("\n")
    );
}

/// Value of `key` in a flat key/value array.
fn field<'a>(e: &'a R, key: &str) -> Option<&'a R> {
    let R::Arr(kv) = e else { return None };
    kv.chunks(2)
        .find(|ch| ch[0] == R::Bulk(key.as_bytes().to_vec()))
        .map(|ch| &ch[1])
}
