//! Pipelines whose consecutive commands share shards run under one lock acquisition
//! (`crates/server/src/squash.rs`). These tests send such pipelines (keys with one hash tag, so
//! they live in one shard) around the edges the squashing must respect, and compare what every
//! client sees with redis-server 7.0.15 where the harness allows: a blocked client served
//! mid-pipeline, MULTI inside a pipeline, keyspace notifications and MONITOR in command order,
//! CLIENT PAUSE WRITE between batches, WATCH invalidated by an earlier command of the same
//! pipeline, connection-state commands in the middle of a pipeline; and two connections
//! pipelining into one key concurrently (no lost update).

use ferrokv_testkit::{diff_or_skip, encode_command, Conn, ServerProc, Value};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

/// The commands as one pipelined write.
fn pipeline(cmds: &[&[&str]]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in cmds {
        let args: Vec<&[u8]> = c.iter().map(|a| a.as_bytes()).collect();
        out.extend_from_slice(&encode_command(&args));
    }
    out
}

fn blocked_clients(c: &mut Conn) -> i64 {
    c.info_field("clients", "blocked_clients")
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

/// A client blocked in BLPOP is served right after the push that feeds it, before the next
/// command of the pusher's pipeline runs (as Redis does after each command).
#[test]
fn blocked_client_served_mid_pipeline() {
    let mut d = diff_or_skip!(BIN);
    let (mut bf, mut br) = d.new_pair();
    for c in [&mut bf, &mut br] {
        c.send(&[b"BLPOP", b"{t}list", b"0"]);
    }
    let ok = ferrokv_testkit::wait_until(Duration::from_secs(5), || {
        blocked_clients(d.ferrokv()) == 1 && blocked_clients(d.redis()) == 1
    });
    assert!(ok, "BLPOP clients did not block");
    let p = pipeline(&[
        &["SET", "{t}a", "1"],
        &["RPUSH", "{t}list", "x"],
        &["LRANGE", "{t}list", "0", "-1"],
        &["RPUSH", "{t}list", "y", "z"],
        &["INCR", "{t}a"],
        &["LPOP", "{t}list"],
        &["LRANGE", "{t}list", "0", "-1"],
        &["GET", "{t}a"],
    ]);
    d.check_raw(&p, 8);
    let (f, r) = (bf.read_reply(), br.read_reply());
    assert_eq!(f, r, "the blocked client's reply");
    assert_eq!(f, b"*2\r\n$7\r\n{t}list\r\n$1\r\nx\r\n".to_vec());
    d.check(&["LRANGE", "{t}list", "0", "-1"]);
}

/// MULTI inside a pipeline queues the commands after it; EXEC runs them; the commands around
/// the transaction run normally.
#[test]
fn multi_inside_a_pipeline() {
    let mut d = diff_or_skip!(BIN);
    let p = pipeline(&[
        &["SET", "{t}a", "1"],
        &["INCR", "{t}a"],
        &["MULTI"],
        &["INCR", "{t}a"],
        &["RPUSH", "{t}l", "a", "b"],
        &["GET", "{t}a"],
        &["EXEC"],
        &["GET", "{t}a"],
        &["MULTI"],
        &["INCR", "{t}a"],
        &["DISCARD"],
        &["LLEN", "{t}l"],
        &["GET", "{t}a"],
    ]);
    d.check_raw(&p, 13);
}

/// WATCH, then a write to the watched key later in the same pipeline: EXEC fails (the
/// client's own write counts, as in Redis); an unrelated key of the same shard does not.
#[test]
fn watch_invalidated_by_an_earlier_command_of_the_same_pipeline() {
    let mut d = diff_or_skip!(BIN);
    let p = pipeline(&[
        &["SET", "{t}w", "0"],
        &["WATCH", "{t}w"],
        &["SET", "{t}other", "1"],
        &["INCR", "{t}w"],
        &["INCR", "{t}w"],
        &["MULTI"],
        &["INCR", "{t}w"],
        &["EXEC"],
        &["GET", "{t}w"],
        &["WATCH", "{t}w"],
        &["SET", "{t}other", "2"],
        &["MULTI"],
        &["INCR", "{t}w"],
        &["EXEC"],
        &["GET", "{t}w"],
    ]);
    d.check_raw(&p, 15);
    // Another client's pipelined write invalidates this client's WATCH.
    d.run(&["WATCH", "{t}w"]);
    let (mut of, mut or) = d.new_pair();
    let p2 = pipeline(&[&["GET", "{t}w"], &["SET", "{t}w", "9"], &["GET", "{t}w"]]);
    of.send_raw(&p2);
    or.send_raw(&p2);
    for _ in 0..3 {
        assert_eq!(of.read_reply(), or.read_reply());
    }
    d.check(&["MULTI"]);
    d.check(&["GET", "{t}w"]);
    d.check(&["EXEC"]);
}

/// Keyspace events reach a subscriber in command order.
#[test]
fn keyspace_events_in_command_order() {
    let mut d = diff_or_skip!(BIN);
    d.check(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let (mut sf, mut sr) = d.new_pair();
    for c in [&mut sf, &mut sr] {
        c.send(&[b"PSUBSCRIBE", b"__keyevent@0__:*"]);
    }
    assert_eq!(sf.read_reply(), sr.read_reply());
    let p = pipeline(&[
        &["SET", "{t}a", "1"],
        &["INCR", "{t}a"],
        &["RPUSH", "{t}l", "a", "b", "c"],
        &["LPOP", "{t}l"],
        &["HSET", "{t}h", "f", "v"],
        &["SADD", "{t}s", "m"],
        &["ZADD", "{t}z", "1", "m"],
        &["EXPIRE", "{t}a", "100"],
        &["DEL", "{t}a", "{t}h"],
        &["RENAME", "{t}s", "{t}s2"],
        &["PING"],
        &["ZINCRBY", "{t}z", "2", "m"],
    ]);
    d.check_raw(&p, 12);
    // 13 events: set incrby rpush lpop hset sadd zadd expire del del rename_from rename_to zincr
    for i in 0..13 {
        let (f, r) = (sf.read_reply(), sr.read_reply());
        assert_eq!(
            String::from_utf8_lossy(&f),
            String::from_utf8_lossy(&r),
            "event #{i}"
        );
    }
}

/// Strips the timestamp and client address of a MONITOR line (`+<ts> [db addr] "cmd" ...`).
fn monitor_command(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line).to_string();
    match s.find("] ") {
        Some(i) => s[i + 2..].to_string(),
        None => s,
    }
}

/// MONITOR shows a pipeline's commands in order, each once.
#[test]
fn monitor_sees_pipeline_in_order() {
    let mut d = diff_or_skip!(BIN);
    let (mut mf, mut mr) = d.new_pair();
    for m in [&mut mf, &mut mr] {
        m.send(&[b"MONITOR"]);
        assert_eq!(m.read_reply(), b"+OK\r\n".to_vec());
    }
    let p = pipeline(&[
        &["SET", "{t}a", "1"],
        &["GET", "{t}a"],
        &["LPUSH", "{t}l", "x"],
        &["SELECT", "1"],
        &["SET", "{t}a", "2"],
        &["SELECT", "0"],
        &["INCR", "{t}a"],
        &["HSET", "{t}h", "f", "v"],
        &["GET", "{t}a"],
    ]);
    d.check_raw(&p, 9);
    for i in 0..9 {
        let (f, r) = (mf.read_reply(), mr.read_reply());
        assert_eq!(
            monitor_command(&f),
            monitor_command(&r),
            "monitor line #{i}"
        );
    }
}

/// CLIENT PAUSE WRITE set between two pipelines: reads before the first write are answered,
/// the write and everything after it wait for the pause to end.
#[test]
fn client_pause_write_between_pipelines() {
    let mut d = diff_or_skip!(BIN);
    let (mut cf, mut cr) = d.new_pair();
    let first = pipeline(&[&["SET", "{t}a", "1"], &["INCR", "{t}a"], &["GET", "{t}a"]]);
    for c in [&mut cf, &mut cr] {
        c.send_raw(&first);
    }
    for _ in 0..3 {
        assert_eq!(cf.read_reply(), cr.read_reply());
    }
    d.check(&["CLIENT", "PAUSE", "10000", "WRITE"]);
    let second = pipeline(&[
        &["GET", "{t}a"],
        &["GET", "{t}a"],
        &["SET", "{t}a", "5"],
        &["GET", "{t}a"],
    ]);
    for c in [&mut cf, &mut cr] {
        c.send_raw(&second);
    }
    // The two reads are answered at once.
    for _ in 0..2 {
        assert_eq!(cf.read_reply(), cr.read_reply());
    }
    // The write waits (bounded look: it must not arrive while paused).
    assert_eq!(cf.try_read_reply(Duration::from_millis(200)), None);
    assert_eq!(cr.try_read_reply(Duration::from_millis(50)), None);
    d.check(&["GET", "{t}a"]);
    d.check(&["CLIENT", "UNPAUSE"]);
    for _ in 0..2 {
        assert_eq!(cf.read_reply(), cr.read_reply());
    }
}

/// Commands that change the connection's state (SELECT, CLIENT REPLY, PING, HELLO) in the
/// middle of a pipeline of same-shard data commands.
#[test]
fn connection_state_changes_mid_pipeline() {
    let mut d = diff_or_skip!(BIN);
    let p = pipeline(&[
        &["SET", "{t}a", "0"],
        &["SELECT", "1"],
        &["SET", "{t}a", "one"],
        &["GET", "{t}a"],
        &["SELECT", "0"],
        &["GET", "{t}a"],
        &["CLIENT", "REPLY", "SKIP"],
        &["INCR", "{t}a"],
        &["INCR", "{t}a"],
        &["PING", "x"],
        &["MSET", "{t}a", "7", "{t}b", "8"],
        &["MGET", "{t}a", "{t}b", "{t}c"],
        &["LPUSH", "{t}a", "wrongtype"],
        &["GET", "{t}b"],
    ]);
    // CLIENT REPLY SKIP hides its own reply and the next one: 14 - 2 replies.
    d.check_raw(&p, 12);
    d.check(&["GET", "{t}a"]);
}

/// Two connections pipelining increments and pushes into the same keys at the same time: every
/// command is applied exactly once.
#[test]
fn concurrent_pipelines_on_one_key_lose_nothing() {
    let s = ServerProc::ferrokv(BIN, &[]);
    const ROUNDS: usize = 100;
    // Longer than one squashed run (32 commands), in two runs of 20 on each key.
    const DEPTH: usize = 80;
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let mut c = s.conn();
            std::thread::spawn(move || {
                let incr: &[&str] = &["INCR", "{k}n"];
                let push: &[&str] = &["RPUSH", "{k}l", "e"];
                let unit = [[incr; 20], [push; 20]].concat();
                let p = pipeline(&unit.repeat(DEPTH / 40));
                for _ in 0..ROUNDS {
                    c.send_raw(&p);
                    for _ in 0..DEPTH {
                        let r = c.read_reply();
                        assert!(r.starts_with(b":"), "{}", String::from_utf8_lossy(&r));
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let mut c = s.conn();
    let each = (ROUNDS * DEPTH / 2) as i64;
    assert_eq!(
        c.cmd(&["GET", "{k}n"]),
        Value::Bulk((2 * each).to_string().into_bytes())
    );
    assert_eq!(c.cmd(&["LLEN", "{k}l"]), Value::Int(2 * each));
}

/// A same-key pipeline longer than one squashed run, with a command on another key and a
/// failing command in the middle: every reply in order, as Redis gives them.
#[test]
fn long_same_key_pipeline_in_order() {
    let mut d = diff_or_skip!(BIN);
    let mut cmds: Vec<&[&str]> = Vec::new();
    for i in 0..100 {
        cmds.push(match i {
            40 => &["GET", "{t}other"],
            41 => &["LPUSH", "{t}n", "x"],
            70 => &["INCRBY", "{t}n", "notanumber"],
            _ => &["INCR", "{t}n"],
        });
    }
    d.check_raw(&pipeline(&cmds), 100);
    d.check(&["GET", "{t}n"]);
}

/// Commands with subcommands, and one name in several cases, back to back: each request is
/// looked up by its own name and subcommand (the per-connection lookup memo must not map a
/// container's name to the subcommand seen last).
#[test]
fn subcommands_and_name_cases_mid_pipeline() {
    let mut d = diff_or_skip!(BIN);
    let p = pipeline(&[
        &["SET", "{t}a", "1"],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "SETNAME", "nm"],
        &["CLIENT", "GETNAME"],
        &[
            "SCRIPT",
            "EXISTS",
            "0000000000000000000000000000000000000000",
        ],
        &["SCRIPT", "FLUSH"],
        &["OBJECT", "ENCODING", "{t}a"],
        &["OBJECT", "FREQ", "{t}a"],
        &["get", "{t}a"],
        &["GET", "{t}a"],
        &["GeT", "{t}a"],
        &["CONFIG", "GET", "maxmemory-policy"],
        &["CONFIG", "SET", "maxmemory-policy", "noeviction"],
        &["CONFIG", "GET", "maxmemory-policy"],
    ]);
    d.check_raw(&p, 14);
}

/// A command rejected before it locks (wrong arity) between two commands: the lock kept for it
/// must not be reused by the command after it, on another key of the same length in another
/// shard.
#[test]
fn rejected_command_does_not_pass_a_kept_lock_on() {
    let mut d = diff_or_skip!(BIN);
    d.check(&["SET", "jj", "5"]);
    let p = pipeline(&[
        &["INCR", "kk"],
        &["INCR", "kk", "extra"],
        &["GET", "jj"],
        &["SET", "jj", "6"],
        &["INCR", "kk"],
        &["NOSUCHCOMMAND", "kk"],
        &["GET", "jj"],
        &["GET", "kk"],
    ]);
    d.check_raw(&p, 8);
    d.check(&["GET", "jj"]);
    d.check(&["GET", "kk"]);
}

/// Pipelines over many keys in different shards from two connections at once: each command
/// of such a pipeline takes its shard before the request after it is parsed (and prefetches
/// the key's entry), so the two connections keep meeting on shards the other one took early.
/// No update may be lost and every reply must be the command's own.
#[test]
fn concurrent_pipelines_on_many_keys_lose_nothing() {
    let s = ServerProc::ferrokv(BIN, &[]);
    const ROUNDS: usize = 200;
    const KEYS: usize = 48;
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let mut c = s.conn();
            std::thread::spawn(move || {
                let names: Vec<String> = (0..KEYS).map(|i| format!("many:{i}")).collect();
                let mut cmds: Vec<Vec<&str>> = Vec::new();
                for n in &names {
                    cmds.push(vec!["INCR", n]);
                    cmds.push(vec!["GET", "many:absent"]);
                }
                let refs: Vec<&[&str]> = cmds.iter().map(|c| &c[..]).collect();
                let p = pipeline(&refs);
                for _ in 0..ROUNDS {
                    c.send_raw(&p);
                    for i in 0..2 * KEYS {
                        let r = c.read_reply();
                        if i % 2 == 0 {
                            assert!(r.starts_with(b":"), "{}", String::from_utf8_lossy(&r));
                        } else {
                            assert_eq!(r, b"$-1\r\n".to_vec());
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let mut c = s.conn();
    for i in 0..KEYS {
        assert_eq!(
            c.cmd(&["GET", &format!("many:{i}")]),
            Value::Bulk((2 * ROUNDS).to_string().into_bytes()),
            "many:{i}"
        );
    }
}

/// A command whose shard was taken early (before the parse-ahead) and which is then rejected
/// before it runs (wrong arity, wrong type of call) gives the lock back: the commands after it,
/// on the same key and on others, run and reply as on Redis.
#[test]
fn early_lock_of_a_rejected_command_is_released() {
    let mut d = diff_or_skip!(BIN);
    d.check(&["SET", "early:b", "1"]);
    let p = pipeline(&[
        &["SET", "early:a", "1"],
        &["GET", "early:b", "extra"],
        &["INCR", "early:b"],
        &["GET", "early:c", "x", "y"],
        &["SET", "early:c", "v"],
        &["GET", "early:c"],
        &["LPUSH", "early:a", "x"],
        &["GET", "early:a"],
        &["INCR", "early:b"],
    ]);
    d.check_raw(&p, 9);
    d.check(&["MGET", "early:a", "early:b", "early:c"]);
}
