//! Interoperability with the real redis-server 7.0 (skipped when it is not
//! installed; `REDIS_SERVER` overrides the binary path):
//! * data written with commands and SAVEd by Redis decodes to exactly what
//!   was written (every type, compact and non-compact encodings, int and
//!   compressed strings, TTLs, two databases, a function library);
//! * the same data written by [`RdbWriter`] loads into a fresh redis-server
//!   with every key, type, value and TTL intact;
//! * DUMP payloads from Redis decode with `restore_value`, and `dump_value`
//!   payloads RESTORE into Redis;
//! * the shared fixture files decode to what redis-server itself loads.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{fixtures_dir, normalise};
use ferrokv_rdb::{dump_value, load, restore_value, HashField, RdbValue, RdbWriter, WriteOptions};

// ---------------------------------------------------------------- client

#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    fn bytes(self) -> Vec<u8> {
        match self {
            Reply::Bulk(Some(b)) => b,
            Reply::Status(s) => s.into_bytes(),
            other => panic!("expected a bulk string, got {other:?}"),
        }
    }
    fn array(self) -> Vec<Reply> {
        match self {
            Reply::Array(Some(a)) => a,
            other => panic!("expected an array, got {other:?}"),
        }
    }
    fn int(self) -> i64 {
        match self {
            Reply::Int(i) => i,
            other => panic!("expected an integer, got {other:?}"),
        }
    }
}

struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    fn connect(port: u16) -> std::io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            r: BufReader::new(s.try_clone()?),
            w: s,
        })
    }

    fn cmd(&mut self, args: &[&[u8]]) -> Reply {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&out).unwrap();
        self.read()
    }

    fn ok(&mut self, args: &[&[u8]]) {
        let r = self.cmd(args);
        assert!(
            !matches!(r, Reply::Error(_)),
            "{:?} -> {r:?}",
            String::from_utf8_lossy(args[0])
        );
    }

    fn read(&mut self) -> Reply {
        let mut line = Vec::new();
        self.r.read_until(b'\n', &mut line).unwrap();
        assert!(line.ends_with(b"\r\n"), "bad reply line {line:?}");
        let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        match line[0] {
            b'+' => Reply::Status(body),
            b'-' => Reply::Error(body),
            b':' => Reply::Int(body.parse().unwrap()),
            b'$' => {
                let n: i64 = body.parse().unwrap();
                if n < 0 {
                    return Reply::Bulk(None);
                }
                let mut b = vec![0u8; n as usize + 2];
                self.r.read_exact(&mut b).unwrap();
                b.truncate(n as usize);
                Reply::Bulk(Some(b))
            }
            b'*' => {
                let n: i64 = body.parse().unwrap();
                if n < 0 {
                    return Reply::Array(None);
                }
                Reply::Array(Some((0..n).map(|_| self.read()).collect()))
            }
            other => panic!("unexpected reply type {other}"),
        }
    }
}

// ---------------------------------------------------------------- server

struct Redis {
    child: Child,
    dir: PathBuf,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn redis_binary() -> Option<String> {
    let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "/usr/bin/redis-server".into());
    Path::new(&bin).exists().then_some(bin)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn tmp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ferrokv-rdb-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts redis-server on `dir/dbfilename` (loading it if present).
fn start_redis(bin: &str, dir: &Path, dbfilename: &str) -> (Redis, Conn) {
    let port = free_port();
    let child = Command::new(bin)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args([
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dbfilename",
            dbfilename,
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let redis = Redis {
        child,
        dir: dir.to_path_buf(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut c) = Conn::connect(port) {
            match c.cmd(&[b"PING"]) {
                Reply::Status(s) if s == "PONG" => return (redis, c),
                _ => {}
            }
        }
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

macro_rules! redis_or_skip {
    () => {
        match redis_binary() {
            Some(b) => b,
            None => {
                eprintln!("SKIP: redis-server not installed");
                return;
            }
        }
    };
}

// ---------------------------------------------------------------- data

struct Item {
    db: u64,
    key: Vec<u8>,
    value: RdbValue,
    expire_ms: Option<i64>,
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn hf(f: Vec<u8>, v: Vec<u8>) -> HashField {
    HashField {
        field: f,
        value: v,
        expire_ms: None,
    }
}

/// Values of every type, sized to hit both the compact and the general
/// encodings of Redis 7.0 with default thresholds.
fn dataset() -> Vec<Item> {
    let far = 4_102_444_800_000i64; // 2100-01-01
    let mut v = Vec::new();
    let mut add = |db: u64, key: &str, value: RdbValue, expire_ms: Option<i64>| {
        v.push(Item {
            db,
            key: b(key),
            value,
            expire_ms,
        })
    };
    let s = |x: &str| RdbValue::String(b(x));
    add(0, "s:small", s("hello"), None);
    add(0, "s:empty", s(""), None);
    add(0, "s:int8", s("-7"), None);
    add(0, "s:int16", s("12345"), None);
    add(0, "s:int32", s("-2000000000"), Some(far));
    add(0, "s:int64", s("123456789012"), None);
    add(0, "s:notint", s("0012"), None);
    add(
        0,
        "s:long",
        RdbValue::String(b"abcdefgh".repeat(500)),
        Some(far + 1),
    );
    add(
        0,
        "s:binary",
        RdbValue::String((0..=255u8).chain(0..=255u8).collect()),
        None,
    );
    add(0, "s:float", s("3.14"), None);
    add(
        0,
        "l:small",
        RdbValue::List(vec![b("a"), b("1"), b("-5"), b("hello world"), b("")]),
        None,
    );
    let mut big_list: Vec<Vec<u8>> = (0..3000)
        .map(|i| format!("item-{i}").into_bytes())
        .collect();
    big_list.push(vec![b'x'; 20_000]);
    big_list.extend((0..500).map(|i| (i * 1_000_003i64).to_string().into_bytes()));
    add(0, "l:big", RdbValue::List(big_list), Some(far + 2));
    add(
        0,
        "set:intset",
        RdbValue::Set(
            (1..=100)
                .map(|i| (i * 3).to_string().into_bytes())
                .collect(),
        ),
        None,
    );
    add(
        0,
        "set:intset64",
        RdbValue::Set(vec![b("6000000000"), b("-1"), b("70000")]),
        None,
    );
    add(
        0,
        "set:small",
        RdbValue::Set(vec![b("a"), b("b"), b("1")]),
        None,
    );
    add(
        0,
        "set:big",
        RdbValue::Set(
            (0..700)
                .map(|i| format!("member:{i}").into_bytes())
                .collect(),
        ),
        None,
    );
    add(
        0,
        "set:manyints",
        RdbValue::Set((0..600).map(|i| i.to_string().into_bytes()).collect()),
        None,
    );
    add(
        0,
        "h:small",
        RdbValue::Hash(
            (0..10)
                .map(|i| hf(format!("f{i}").into_bytes(), i.to_string().into_bytes()))
                .collect(),
        ),
        Some(far + 3),
    );
    add(
        0,
        "h:bigvalue",
        RdbValue::Hash(vec![hf(b("k"), vec![b'v'; 100]), hf(b("n"), b("42"))]),
        None,
    );
    add(
        0,
        "h:big",
        RdbValue::Hash(
            (0..300)
                .map(|i| {
                    hf(
                        format!("field:{i}").into_bytes(),
                        format!("value:{i}").into_bytes(),
                    )
                })
                .collect(),
        ),
        None,
    );
    add(
        0,
        "z:small",
        RdbValue::ZSet(vec![
            (b("a"), 1.5),
            (b("b"), -3.0),
            (b("c"), 0.1),
            (b("d"), f64::INFINITY),
            (b("e"), f64::NEG_INFINITY),
            (b("f"), 1e300),
            (b("g"), 12345678901234.0),
            (b("h"), 2.5e-8),
        ]),
        None,
    );
    add(
        0,
        "z:big",
        RdbValue::ZSet(
            (0..300)
                .map(|i| (format!("m{i}").into_bytes(), f64::from(i) * 0.37 - 50.0))
                .collect(),
        ),
        Some(far + 4),
    );
    add(
        0,
        "z:longmember",
        RdbValue::ZSet(vec![(vec![b'q'; 100], 7.0)]),
        None,
    );
    add(1, "db1:string", s("in db one"), None);
    add(
        1,
        "db1:list",
        RdbValue::List(vec![b("x"), b("y")]),
        Some(far + 5),
    );
    v
}

const FUNCTION: &str =
    "#!lua name=rdbtestlib\nredis.register_function('rdbtestf', function() return 1 end)";

fn write_with_commands(c: &mut Conn, data: &[Item]) {
    let mut cur_db = 0;
    c.ok(&[b"SELECT", b"0"]);
    for it in data {
        if it.db != cur_db {
            c.ok(&[b"SELECT", it.db.to_string().as_bytes()]);
            cur_db = it.db;
        }
        let k = it.key.as_slice();
        match &it.value {
            RdbValue::String(s) => c.ok(&[b"SET", k, s]),
            RdbValue::List(items) => {
                for chunk in items.chunks(100) {
                    let mut a: Vec<&[u8]> = vec![b"RPUSH", k];
                    a.extend(chunk.iter().map(Vec::as_slice));
                    c.ok(&a);
                }
            }
            RdbValue::Set(m) => {
                for chunk in m.chunks(100) {
                    let mut a: Vec<&[u8]> = vec![b"SADD", k];
                    a.extend(chunk.iter().map(Vec::as_slice));
                    c.ok(&a);
                }
            }
            RdbValue::Hash(f) => {
                for h in f {
                    c.ok(&[b"HSET", k, &h.field, &h.value]);
                }
            }
            RdbValue::ZSet(z) => {
                for (m, s) in z {
                    let sc = if s.is_infinite() {
                        if *s > 0.0 {
                            "+inf".to_string()
                        } else {
                            "-inf".to_string()
                        }
                    } else {
                        format!("{s:e}")
                    };
                    c.ok(&[b"ZADD", k, sc.as_bytes(), m]);
                }
            }
            RdbValue::Stream(_) => unreachable!("streams are tested separately"),
        }
        if let Some(ms) = it.expire_ms {
            c.ok(&[b"PEXPIREAT", k, ms.to_string().as_bytes()]);
        }
    }
    c.ok(&[b"SELECT", b"0"]);
}

/// Reads a key back from Redis into the neutral model.
fn read_back(c: &mut Conn, key: &[u8]) -> RdbValue {
    let t = c.cmd(&[b"TYPE", key]).bytes();
    match &t[..] {
        b"string" => RdbValue::String(c.cmd(&[b"GET", key]).bytes()),
        b"list" => RdbValue::List(
            c.cmd(&[b"LRANGE", key, b"0", b"-1"])
                .array()
                .into_iter()
                .map(Reply::bytes)
                .collect(),
        ),
        b"set" => RdbValue::Set(
            c.cmd(&[b"SMEMBERS", key])
                .array()
                .into_iter()
                .map(Reply::bytes)
                .collect(),
        ),
        b"hash" => {
            let a = c.cmd(&[b"HGETALL", key]).array();
            RdbValue::Hash(
                a.chunks(2)
                    .map(|p| hf(p[0].clone().bytes(), p[1].clone().bytes()))
                    .collect(),
            )
        }
        b"zset" => {
            let a = c.cmd(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]).array();
            RdbValue::ZSet(
                a.chunks(2)
                    .map(|p| {
                        let s = String::from_utf8(p[1].clone().bytes()).unwrap();
                        (p[0].clone().bytes(), s.parse::<f64>().unwrap())
                    })
                    .collect(),
            )
        }
        other => panic!(
            "unexpected type {:?} for {:?}",
            String::from_utf8_lossy(other),
            key
        ),
    }
}

fn assert_same(got: &RdbValue, want: &RdbValue, key: &[u8]) {
    assert_eq!(
        normalise(got),
        normalise(want),
        "value of {:?}",
        String::from_utf8_lossy(key)
    );
}

// ---------------------------------------------------------------- tests

#[test]
fn redis_save_decodes_and_writer_output_loads() {
    let bin = redis_or_skip!();
    let data = dataset();

    // 1. Redis writes, we read.
    let dir_a = tmp_dir("save");
    let (redis_a, mut c) = start_redis(&bin, &dir_a, "x.rdb");
    write_with_commands(&mut c, &data);
    c.ok(&[b"FUNCTION", b"LOAD", FUNCTION.as_bytes()]);
    // the file really holds both the compact and the general encodings
    let mut encodings: Vec<String> = data
        .iter()
        .filter(|i| i.db == 0)
        .map(|i| String::from_utf8(c.cmd(&[b"OBJECT", b"ENCODING", &i.key]).bytes()).unwrap())
        .collect();
    encodings.sort();
    encodings.dedup();
    assert_eq!(
        encodings,
        [
            "embstr",
            "hashtable",
            "int",
            "intset",
            "listpack",
            "quicklist",
            "raw",
            "skiplist"
        ]
    );
    c.ok(&[b"SAVE"]);
    let bytes = std::fs::read(redis_a.dir.join("x.rdb")).unwrap();
    let progress = std::sync::Arc::new(std::sync::Mutex::new(0u64));
    let p2 = progress.clone();
    let mut reader = ferrokv_rdb::RdbReader::new(&bytes[..]).unwrap();
    reader.set_progress(move |n| *p2.lock().unwrap() = n);
    let mut keys = Vec::new();
    let mut functions = Vec::new();
    while let Some(ev) = reader.next_event().unwrap() {
        match ev {
            ferrokv_rdb::Event::Key(k) => keys.push(k),
            ferrokv_rdb::Event::Function(f) => functions.push(f),
            _ => {}
        }
    }
    assert_eq!(*progress.lock().unwrap(), bytes.len() as u64);
    assert_eq!(reader.version(), 10);
    assert_eq!(functions, vec![FUNCTION.as_bytes().to_vec()]);
    assert_eq!(keys.len(), data.len());
    for it in &data {
        let k = keys
            .iter()
            .find(|k| k.key == it.key && k.db == it.db)
            .unwrap_or_else(|| panic!("missing {:?}", String::from_utf8_lossy(&it.key)));
        assert_same(&k.value, &it.value, &it.key);
        assert_eq!(
            k.expire_ms,
            it.expire_ms,
            "expiry of {:?}",
            String::from_utf8_lossy(&it.key)
        );
    }

    // 2. DUMP from Redis -> restore_value; dump_value -> RESTORE.
    for it in data.iter().filter(|i| i.db == 0) {
        let payload = c.cmd(&[b"DUMP", &it.key]).bytes();
        let v = restore_value(&payload)
            .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(&it.key)));
        assert_same(&v, &it.value, &it.key);
        let mine = dump_value(&it.value);
        let newkey = [b"restored:".as_slice(), &it.key].concat();
        let r = c.cmd(&[b"RESTORE", &newkey, b"0", &mine]);
        assert_eq!(
            r,
            Reply::Status("OK".into()),
            "RESTORE of {:?}",
            String::from_utf8_lossy(&it.key)
        );
        assert_same(&read_back(&mut c, &newkey), &it.value, &newkey);
        // corrupted payloads are refused by both
        let mut bad = mine.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x55;
        assert!(restore_value(&bad).unwrap_err().is_version_or_checksum());
        match c.cmd(&[b"RESTORE", b"bad", b"0", &bad]) {
            Reply::Error(e) => assert!(e.contains("checksum"), "{e}"),
            other => panic!("{other:?}"),
        }
    }
    drop(c);
    drop(redis_a);

    // 3. We write, Redis reads.
    for (name, opts) in [
        ("write-default", WriteOptions::default()),
        (
            "write-plain",
            WriteOptions {
                compression: false,
                checksum: false,
                hash_max_listpack_entries: 4,
                zset_max_listpack_entries: 4,
                set_max_intset_entries: 8,
                list_max_listpack_bytes: 64,
                ..WriteOptions::default()
            },
        ),
    ] {
        let dir_b = tmp_dir(name);
        let file = std::fs::File::create(dir_b.join("y.rdb")).unwrap();
        let mut w = RdbWriter::new(std::io::BufWriter::new(file), opts).unwrap();
        w.standard_aux("7.0.15", 1_700_000_000, 1_000_000, false)
            .unwrap();
        w.function(FUNCTION.as_bytes()).unwrap();
        for db in [0u64, 1] {
            let items: Vec<&Item> = data.iter().filter(|i| i.db == db).collect();
            let exp = items.iter().filter(|i| i.expire_ms.is_some()).count() as u64;
            w.select_db(db, items.len() as u64, exp).unwrap();
            for it in items {
                w.write_key(&it.key, &it.value, it.expire_ms).unwrap();
            }
        }
        w.finish().unwrap();
        // our own reader agrees
        let ours = load(std::fs::File::open(dir_b.join("y.rdb")).unwrap()).unwrap();
        assert_eq!(ours.keys.len(), data.len());

        let (_redis_b, mut c) = start_redis(&bin, &dir_b, "y.rdb");
        for db in [0u64, 1] {
            c.ok(&[b"SELECT", db.to_string().as_bytes()]);
            let n = data.iter().filter(|i| i.db == db).count() as i64;
            assert_eq!(c.cmd(&[b"DBSIZE"]).int(), n, "{name}: dbsize of db {db}");
            for it in data.iter().filter(|i| i.db == db) {
                assert_same(&read_back(&mut c, &it.key), &it.value, &it.key);
                let t = c.cmd(&[b"PEXPIRETIME", &it.key]).int();
                assert_eq!(
                    t,
                    it.expire_ms.unwrap_or(-1),
                    "{name}: expiry of {:?}",
                    String::from_utf8_lossy(&it.key)
                );
            }
        }
        let libs = c.cmd(&[b"FUNCTION", b"LIST"]).array();
        assert_eq!(libs.len(), 1, "{name}: function library loaded");
        assert_eq!(c.cmd(&[b"FCALL", b"rdbtestf", b"0"]), Reply::Int(1));
    }
}

#[test]
fn fixtures_decode_like_redis_loads_them() {
    let bin = redis_or_skip!();
    let Some(fdir) = fixtures_dir() else {
        eprintln!("SKIP: fixtures directory not found");
        return;
    };
    for name in [
        "encodings.rdb",
        "hash-zipmap.rdb",
        "hash-ziplist.rdb",
        "zset-ziplist.rdb",
        "list-quicklist.rdb",
    ] {
        let dir = tmp_dir(&format!("fx-{name}"));
        std::fs::copy(fdir.join(name), dir.join("f.rdb")).unwrap();
        let decoded = load(std::fs::File::open(dir.join("f.rdb")).unwrap()).unwrap();
        let (_r, mut c) = start_redis(&bin, &dir, "f.rdb");
        assert_eq!(
            c.cmd(&[b"DBSIZE"]).int(),
            decoded.keys.len() as i64,
            "{name}"
        );
        for k in &decoded.keys {
            assert_same(&read_back(&mut c, &k.key), &k.value, &k.key);
        }
    }
}

/// Field/value pairs of a stream entry.
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// XINFO STREAM FULL without the fields that depend on node splitting.
fn stream_info(c: &mut Conn, key: &[u8]) -> Vec<Reply> {
    let a = c.cmd(&[b"XINFO", b"STREAM", key, b"FULL"]).array();
    let mut out = Vec::new();
    for p in a.chunks(2) {
        let name = p[0].clone().bytes();
        if name != b"radix-tree-keys" && name != b"radix-tree-nodes" {
            out.extend_from_slice(p);
        }
    }
    out
}

#[test]
fn streams_round_trip_through_redis() {
    let bin = redis_or_skip!();
    let dir_a = tmp_dir("stream-save");
    let (redis_a, mut c) = start_redis(&bin, &dir_a, "s.rdb");
    let mut expected = Vec::new();
    for i in 1..=250u64 {
        let id = format!("{}-{}", 1000 + i / 3, i % 3);
        let fields: Vec<(Vec<u8>, Vec<u8>)> = if i % 7 == 0 {
            vec![(b("other"), format!("v{i}").into_bytes())]
        } else {
            vec![
                (b("name"), format!("n{i}").into_bytes()),
                (b("n"), i.to_string().into_bytes()),
            ]
        };
        let mut args: Vec<&[u8]> = vec![b"XADD", b"s", id.as_bytes()];
        for (f, v) in &fields {
            args.push(f);
            args.push(v);
        }
        c.ok(&args);
        expected.push((id, fields));
    }
    for del in ["1002-0", "1010-1", "1083-1"] {
        assert_eq!(c.cmd(&[b"XDEL", b"s", del.as_bytes()]).int(), 1);
        expected.retain(|(id, _)| id != del);
    }
    c.ok(&[b"XGROUP", b"CREATE", b"s", b"g1", b"0"]);
    c.ok(&[
        b"XREADGROUP",
        b"GROUP",
        b"g1",
        b"alice",
        b"COUNT",
        b"5",
        b"STREAMS",
        b"s",
        b">",
    ]);
    c.ok(&[
        b"XREADGROUP",
        b"GROUP",
        b"g1",
        b"bob",
        b"COUNT",
        b"3",
        b"STREAMS",
        b"s",
        b">",
    ]);
    c.ok(&[b"XACK", b"s", b"g1", b"1000-2"]);
    c.ok(&[b"XGROUP", b"CREATE", b"s", b"g2", b"$"]);
    c.ok(&[b"XGROUP", b"CREATECONSUMER", b"s", b"g2", b"idle"]);
    c.ok(&[b"XGROUP", b"CREATE", b"empty", b"g", b"$", b"MKSTREAM"]);
    c.ok(&[b"SAVE"]);

    let file = load(std::fs::File::open(redis_a.dir.join("s.rdb")).unwrap()).unwrap();
    let RdbValue::Stream(st) = &file.keys.iter().find(|k| k.key == b"s").unwrap().value else {
        panic!("not a stream");
    };
    let got: Vec<(String, Fields)> = st
        .entries
        .iter()
        .map(|e| (format!("{}-{}", e.id.ms, e.id.seq), e.fields.clone()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!((st.last_id.ms, st.last_id.seq), (1083, 1));
    assert_eq!((st.max_deleted_id.ms, st.max_deleted_id.seq), (1083, 1));
    assert_eq!(st.entries_added, 250);
    assert_eq!(st.groups.len(), 2);
    let g1 = &st.groups[0];
    assert_eq!(g1.name, b"g1");
    assert_eq!(g1.pending.len(), 7);
    let owners: Vec<(Vec<u8>, usize)> = g1
        .consumers
        .iter()
        .map(|c| (c.name.clone(), c.pending.len()))
        .collect();
    assert_eq!(owners, vec![(b("alice"), 4), (b("bob"), 3)]);
    assert!(g1.pending.iter().all(|p| p.delivery_count == 1));
    let empty = &file.keys.iter().find(|k| k.key == b"empty").unwrap().value;
    assert!(matches!(empty, RdbValue::Stream(e) if e.entries.is_empty() && e.groups.len() == 1));

    // DUMP from Redis decodes to the same; our payload RESTOREs to the same.
    let payload = c.cmd(&[b"DUMP", b"s"]).bytes();
    let v = restore_value(&payload).unwrap();
    assert_eq!(&v, &file.keys.iter().find(|k| k.key == b"s").unwrap().value);
    let info_a = stream_info(&mut c, b"s");
    let empty_a = stream_info(&mut c, b"empty");
    c.ok(&[b"RESTORE", b"s2", b"0", &dump_value(&v)]);
    assert_eq!(stream_info(&mut c, b"s2"), info_a);
    drop(c);
    drop(redis_a);

    // Our file loads into Redis with identical stream state.
    let dir_b = tmp_dir("stream-write");
    let f = std::fs::File::create(dir_b.join("t.rdb")).unwrap();
    let mut w = RdbWriter::new(std::io::BufWriter::new(f), WriteOptions::default()).unwrap();
    w.select_db(0, file.keys.len() as u64, 0).unwrap();
    for k in &file.keys {
        w.write_record(k).unwrap();
    }
    w.finish().unwrap();
    let (_redis_b, mut c) = start_redis(&bin, &dir_b, "t.rdb");
    assert_eq!(stream_info(&mut c, b"s"), info_a);
    assert_eq!(stream_info(&mut c, b"empty"), empty_a);
}

#[test]
fn lru_and_lfu_hints_from_redis() {
    let bin = redis_or_skip!();
    for (policy, lfu) in [("allkeys-lru", false), ("allkeys-lfu", true)] {
        let dir = tmp_dir(policy);
        let (redis, mut c) = start_redis(&bin, &dir, "h.rdb");
        c.ok(&[b"CONFIG", b"SET", b"maxmemory-policy", policy.as_bytes()]);
        c.ok(&[b"SET", b"k", b"v"]);
        for _ in 0..20 {
            c.ok(&[b"GET", b"k"]);
        }
        c.ok(&[b"SAVE"]);
        let f = load(std::fs::File::open(redis.dir.join("h.rdb")).unwrap()).unwrap();
        let k = &f.keys[0];
        if lfu {
            assert!(
                k.lfu_freq.is_some_and(|f| f > 0) && k.lru_idle.is_none(),
                "{k:?}"
            );
        } else {
            assert!(k.lru_idle.is_some() && k.lfu_freq.is_none(), "{k:?}");
        }
    }
}
