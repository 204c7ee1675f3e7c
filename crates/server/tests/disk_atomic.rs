//! Crash atomicity of execution units on the disk engine (issue #7): `kill -9` during a stream
//! of MULTI/EXEC transactions, of EVALSHA calls and of SMOVEs, each writing several keys, among
//! them field-level collections above the native paths' size (2000 elements: their element
//! writes are staged in the unit's batch), a field-level one below it (300: loaded and written
//! back as a delta) and a string. With `appendfsync always`, after every restart each key
//! agrees on the same last unit (all or nothing, never half a unit) and nothing acknowledged
//! is lost. Every server here runs with `--storage-engine disk` explicitly.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{encode_command, wait_until, Conn, ServerProc, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");
/// Elements of the big collections (above the native threshold, 1024).
const BIG: usize = 2000;
/// Elements of the medium set (field-level, below the native threshold).
const MID: usize = 300;
const CYCLES: usize = 3;

/// A tiny client that reports a dead connection instead of panicking.
struct Raw {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Raw {
    fn connect(addr: &str) -> Option<Raw> {
        let s = TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
        Some(Raw {
            r: BufReader::new(s.try_clone().ok()?),
            w: s,
        })
    }

    fn send(&mut self, cmds: &[Vec<String>]) -> Option<()> {
        let mut out = Vec::new();
        for a in cmds {
            let args: Vec<&[u8]> = a.iter().map(|s| s.as_bytes()).collect();
            out.extend_from_slice(&encode_command(&args));
        }
        self.w.write_all(&out).ok()
    }

    /// One reply of simple lines (`+`, `-`, `:`, or `*n` and n simple lines); `None` when the
    /// connection died or the reply holds an error.
    fn reply(&mut self) -> Option<()> {
        let mut line = String::new();
        if self.r.read_line(&mut line).ok()? == 0 || line.starts_with('-') {
            return None;
        }
        if let Some(n) = line.trim_end().strip_prefix('*') {
            for _ in 0..n.parse::<usize>().ok()? {
                let mut l = String::new();
                if self.r.read_line(&mut l).ok()? == 0 || l.starts_with('-') {
                    return None;
                }
            }
        }
        Some(())
    }
}

fn v(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Sends `cmds` pipelined and reads every reply (setup).
fn pipeline(c: &mut Conn, cmds: &[Vec<String>]) {
    let mut buf = Vec::new();
    for a in cmds {
        let args: Vec<&[u8]> = a.iter().map(|s| s.as_bytes()).collect();
        buf.extend_from_slice(&encode_command(&args));
    }
    c.send_raw(&buf);
    for _ in cmds {
        c.read_reply();
    }
}

/// `cmd key <prefix>0 [<value>] ... <prefix>(n-1)` in chunks of 500.
fn fill(c: &mut Conn, cmd: &str, key: &str, prefix: &str, n: usize, with_value: bool) {
    let mut cmds = Vec::new();
    for chunk in 0..n.div_ceil(500) {
        let mut a = v(&[cmd, key]);
        for i in chunk * 500..((chunk + 1) * 500).min(n) {
            a.push(format!("{prefix}{i}"));
            if with_value {
                a.push(i.to_string());
            }
        }
        cmds.push(a);
    }
    pipeline(c, &cmds);
}

fn int(v: Value) -> u64 {
    match v {
        Value::Int(n) => n as u64,
        Value::Bulk(b) => String::from_utf8(b).unwrap().parse().unwrap(),
        Value::Null => 0,
        other => panic!("unexpected {other:?}"),
    }
}

fn server() -> ServerProc {
    ServerProc::ferrokv(
        BIN,
        &["--storage-engine", "disk", "--appendfsync", "always"],
    )
}

/// What one unit-writing client did in a cycle.
struct Progress {
    acked: AtomicU64,
    sent: AtomicU64,
}

/// Runs `unit(i)` (the commands of unit `i` and how many replies they give) for i = `start..`
/// on one connection until the server dies or `stop`; records progress.
fn writer(
    addr: String,
    start: u64,
    unit: impl Fn(u64) -> Vec<Vec<String>>,
    p: Arc<Progress>,
    stop: Arc<AtomicBool>,
) {
    let Some(mut c) = Raw::connect(&addr) else {
        return;
    };
    let mut i = start;
    while !stop.load(Ordering::Relaxed) {
        let cmds = unit(i);
        p.sent.store(i, Ordering::SeqCst);
        if c.send(&cmds).is_none() {
            return;
        }
        for _ in &cmds {
            if c.reply().is_none() {
                return;
            }
        }
        p.acked.store(i, Ordering::SeqCst);
        i += 1;
    }
}

/// `kill -9` cycles: `prepare` runs after every (re)start, `unit(i)` is unit `i`, and
/// `verify` returns the last unit present after a restart (checking that the whole state is
/// "units start..=that one applied"). Units are numbered from `first`.
fn crash_cycles(
    first: u64,
    prepare: impl Fn(&mut Conn),
    unit: impl Fn(u64) -> Vec<Vec<String>> + Send + Sync + Clone + 'static,
    verify: impl Fn(&mut Conn) -> u64,
) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("seed {seed}");
    let mut rng = Lcg(seed);
    let mut s = server();
    let mut next = first;
    let mut total = 0;
    for cycle in 0..CYCLES {
        prepare(&mut s.conn());
        let p = Arc::new(Progress {
            acked: AtomicU64::new(next - 1),
            sent: AtomicU64::new(next - 1),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let h = {
            let (addr, unit, p, stop) = (s.addr(), unit.clone(), p.clone(), stop.clone());
            std::thread::spawn(move || writer(addr, next, unit, p, stop))
        };
        let target = next + 10 + rng.below(60);
        assert!(
            wait_until(Duration::from_secs(120), || {
                p.acked.load(Ordering::SeqCst) >= target
            }),
            "cycle {cycle}: the writer did not reach unit {target}"
        );
        s.kill();
        stop.store(true, Ordering::Relaxed);
        h.join().unwrap();
        s.restart();
        let last = verify(&mut s.conn());
        let (acked, sent) = (
            p.acked.load(Ordering::SeqCst),
            p.sent.load(Ordering::SeqCst),
        );
        assert!(
            last >= acked,
            "cycle {cycle}: acknowledged unit {acked} lost (found up to {last})"
        );
        assert!(
            last <= sent,
            "cycle {cycle}: unit {last} present but only {sent} sent"
        );
        total += acked + 1 - next;
        next = last + 1;
    }
    eprintln!("{total} acknowledged units verified over {CYCLES} kill -9 cycles");
}

/// Creates the big hash and sets, the medium set (once).
fn prepare_collections(c: &mut Conn) {
    if c.cmd(&["EXISTS", "bighash"]) == Value::Int(1) {
        return;
    }
    fill(c, "HSET", "bighash", "seed", BIG, true);
    fill(c, "SADD", "bigset", "seed", BIG, false);
    fill(c, "SADD", "midset", "seed", MID, false);
    assert_eq!(
        c.cmd(&["OBJECT", "ENCODING", "midset"]),
        Value::Bulk(b"hashtable".to_vec())
    );
}

/// The state after a restart must be "units 1..=k applied", k = `small`: returns k.
fn verify_collections(c: &mut Conn) -> u64 {
    let k = int(c.cmd(&["GET", "small"]));
    assert_eq!(
        int(c.cmd(&["HGET", "bighash", "last"])),
        k,
        "bighash.last vs small"
    );
    let ks = k.to_string();
    let next = (k + 1).to_string();
    if k > 0 {
        assert_eq!(int(c.cmd(&["HGET", "bighash", &format!("f{ks}")])), k);
        assert_eq!(
            c.cmd(&["SISMEMBER", "bigset", &format!("m{ks}")]),
            Value::Int(1)
        );
        assert_eq!(
            c.cmd(&["SISMEMBER", "midset", &format!("m{ks}")]),
            Value::Int(1)
        );
    }
    assert_eq!(
        c.cmd(&["HEXISTS", "bighash", &format!("f{next}")]),
        Value::Int(0)
    );
    assert_eq!(
        c.cmd(&["SISMEMBER", "bigset", &format!("m{next}")]),
        Value::Int(0)
    );
    assert_eq!(
        c.cmd(&["SISMEMBER", "midset", &format!("m{next}")]),
        Value::Int(0)
    );
    // Exactly units 1..=k: one field / member each (plus `last` once a unit ran).
    let last_field = u64::from(k > 0);
    assert_eq!(
        int(c.cmd(&["HLEN", "bighash"])),
        BIG as u64 + k + last_field
    );
    assert_eq!(int(c.cmd(&["SCARD", "bigset"])), BIG as u64 + k);
    assert_eq!(int(c.cmd(&["SCARD", "midset"])), MID as u64 + k);
    k
}

#[test]
fn kill_9_never_tears_a_multi_exec() {
    crash_cycles(
        1,
        prepare_collections,
        |i| {
            let is = i.to_string();
            vec![
                v(&["MULTI"]),
                v(&["HSET", "bighash", &format!("f{is}"), &is, "last", &is]),
                v(&["SADD", "bigset", &format!("m{is}")]),
                v(&["SADD", "midset", &format!("m{is}")]),
                v(&["SET", "small", &is]),
                v(&["EXEC"]),
            ]
        },
        verify_collections,
    );
}

const SCRIPT: &str = "redis.call('HSET', KEYS[1], 'f' .. ARGV[1], ARGV[1], 'last', ARGV[1]) \
    redis.call('SADD', KEYS[2], 'm' .. ARGV[1]) \
    redis.call('SADD', KEYS[3], 'm' .. ARGV[1]) \
    redis.call('SET', KEYS[4], ARGV[1]) return 1";

/// SHA1 of [`SCRIPT`], from SCRIPT LOAD (scripts do not survive a restart: loaded each cycle).
fn load_script(c: &mut Conn) -> String {
    match c.cmd(&["SCRIPT", "LOAD", SCRIPT]) {
        Value::Bulk(b) => String::from_utf8(b).unwrap(),
        other => panic!("SCRIPT LOAD: {other:?}"),
    }
}

#[test]
fn kill_9_never_tears_an_evalsha() {
    // The SHA1 of a script does not depend on the server: taken from a throwaway one.
    let sha = load_script(&mut server().conn());
    let sha2 = sha.clone();
    crash_cycles(
        1,
        move |c| {
            prepare_collections(c);
            assert_eq!(load_script(c), sha2);
        },
        move |i| {
            let is = i.to_string();
            vec![v(&[
                "EVALSHA", &sha, "4", "bighash", "bigset", "midset", "small", &is,
            ])]
        },
        verify_collections,
    );
}

#[test]
fn kill_9_never_tears_an_smove_between_big_sets() {
    // Unit i (from 0) moves x<i> from `a` to `b`; both stay field-level (>= BIG members).
    const MOVES: usize = 1500;
    crash_cycles(
        1,
        |c| {
            if c.cmd(&["EXISTS", "a"]) == Value::Int(0) {
                fill(c, "SADD", "a", "x", MOVES, false);
                fill(c, "SADD", "a", "pad", BIG, false);
                fill(c, "SADD", "b", "y", BIG, false);
            }
        },
        |i| vec![v(&["SMOVE", "a", "b", &format!("x{}", i - 1)])],
        |c| {
            let in_b = int(c.cmd(&["SCARD", "b"])) - BIG as u64;
            let in_a = int(c.cmd(&["SCARD", "a"])) - BIG as u64;
            assert_eq!(in_a + in_b, MOVES as u64, "a member lost or doubled");
            // Exactly x0..x(k-1) moved, each in one set only.
            let k = in_b;
            for j in [0, k.saturating_sub(1), k, k + 1] {
                if j as usize >= MOVES {
                    continue;
                }
                let m = format!("x{j}");
                let want_b = j < k;
                assert_eq!(
                    c.cmd(&["SISMEMBER", "b", &m]),
                    Value::Int(i64::from(want_b))
                );
                assert_eq!(
                    c.cmd(&["SISMEMBER", "a", &m]),
                    Value::Int(i64::from(!want_b))
                );
            }
            k
        },
    );
}

/// Every native write staged inside MULTI/EXEC and a script (big keys of each type), then read
/// in the same unit (the load path folds the staged operations in), writes that would empty a
/// big key (the load path) and a WATCHed key: replies and the whole keyspace match
/// redis-server, before and after a restart of ferrokv.
#[test]
fn staged_native_writes_match_redis() {
    let dbg = ["--enable-debug-command", "yes"];
    let Some(mut d) = ferrokv_testkit::Diff::with_args(
        BIN,
        &["--storage-engine", "disk", "--appendfsync", "always"],
        &dbg,
    ) else {
        return;
    };
    const N: usize = 1100;
    let build = |c: &mut Conn| {
        fill(c, "HSET", "h", "f", N, true);
        fill(c, "SADD", "s", "m", N, false);
        fill(c, "RPUSH", "l", "e", N, false);
        fill(c, "RPUSH", "l2", "e", N, false);
        let mut z = v(&["ZADD", "z"]);
        for i in 0..N {
            z.push(i.to_string());
            z.push(format!("z{i}"));
        }
        pipeline(c, &[z]);
    };
    build(d.ferrokv());
    build(d.redis());
    let cases: &[&[&str]] = &[
        &["WATCH", "h"],
        &["MULTI"],
        &["HSET", "h", "f1", "x", "new", "y", "new", "z"],
        &["SADD", "s", "m1", "fresh", "fresh"],
        &["ZADD", "z", "5.5", "z1", "-1", "zz"],
        &["LPUSH", "l", "a", "b"],
        &["RPOP", "l2", "3"],
        &["SET", "plain", "1"],
        &["EXEC"],
        &["MULTI"],
        &["HDEL", "h", "f2", "nope", "f2"],
        &["HINCRBY", "s", "x", "1"],
        &["SREM", "s", "m2", "nope"],
        &["ZINCRBY", "z", "2", "z3"],
        &["ZREM", "z", "z4", "nope"],
        &["RPUSH", "l", "c"],
        &["LPOP", "l2"],
        &["EXEC"],
        // Staged, then read or changed again in the same unit.
        &["MULTI"],
        &["HINCRBY", "h", "cnt", "3"],
        &["HGET", "h", "cnt"],
        &["HLEN", "h"],
        &["SADD", "s", "again"],
        &["SCARD", "s"],
        &["SISMEMBER", "s", "again"],
        &["ZADD", "z", "0.5", "mid"],
        &["ZRANK", "z", "mid"],
        &["ZCARD", "z"],
        &["LPUSH", "l", "head"],
        &["LINDEX", "l", "0"],
        &["LLEN", "l"],
        &["LSET", "l", "1", "set"],
        &["EXPIRE", "z", "1000"],
        &["TTL", "z"],
        &["EXEC"],
        &["TTL", "z"],
        // Several native commands on the same key read through the staged operations.
        &["MULTI"],
        &["HSET", "h", "q", "1", "f5", "new"],
        &["HINCRBY", "h", "q", "2"],
        &["HGET", "h", "q"],
        &["HMGET", "h", "q", "f5", "f6", "nope"],
        &["HDEL", "h", "q", "f6"],
        &["HEXISTS", "h", "q"],
        &["HEXISTS", "h", "f6"],
        &["HLEN", "h"],
        &["HSET", "h", "f6", "back"],
        &["HLEN", "h"],
        &["SADD", "s", "q", "r"],
        &["SREM", "s", "q", "m7"],
        &["SISMEMBER", "s", "q"],
        &["SISMEMBER", "s", "r"],
        &["SCARD", "s"],
        &["SADD", "s", "q", "m7"],
        &["SCARD", "s"],
        &["ZADD", "z", "1", "q"],
        &["ZINCRBY", "z", "2", "q"],
        &["ZSCORE", "z", "q"],
        &["ZREM", "z", "q", "z9"],
        &["ZSCORE", "z", "q"],
        &["ZCARD", "z"],
        &["ZADD", "z", "3", "q", "4", "z9"],
        &["ZCARD", "z"],
        &["ZRANK", "z", "q"],
        &["HGETALL", "nope"],
        &["EXEC"],
        &["HGET", "h", "q"],
        &["SISMEMBER", "s", "q"],
        &["ZSCORE", "z", "z9"],
        // A write that would empty a big key, and one on a key deleted in the same unit.
        &["MULTI"],
        &["SADD", "s", "x1", "x2"],
        &["DEL", "s"],
        &["SADD", "s", "after"],
        &["LPUSH", "l2", "q"],
        &["RPOP", "l2", "5000"],
        &["EXEC"],
        &[
            "EVAL",
            "redis.call('HSET', KEYS[1], 'lua', '1'); redis.call('ZADD', KEYS[2], 7, 'lua'); \
             redis.call('RPUSH', KEYS[3], 'lua'); return redis.call('HGET', KEYS[1], 'lua')",
            "3",
            "h",
            "z",
            "l",
        ],
    ];
    for c in cases {
        d.check(c);
    }
    let compare = |d: &mut ferrokv_testkit::Diff| {
        d.check(&["HLEN", "h"]);
        d.check_unordered_pairs(&["HGETALL", "h"]);
        d.check_unordered(&["SMEMBERS", "s"]);
        d.check(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
        d.check(&["LRANGE", "l", "0", "-1"]);
        d.check(&["EXISTS", "l2"]);
        d.check(&["DBSIZE"]);
    };
    compare(&mut d);
    d.ferrokv_proc().restart();
    *d.ferrokv() = d.ferrokv_proc().conn();
    compare(&mut d);
}
