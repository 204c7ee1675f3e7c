//! Integration tests for transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, over TCP against the
//! real binary, with several clients (WATCH invalidation by other clients, optimistic locking,
//! atomicity of EXEC across shards).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{wait_until, Conn, ServerProc, Value};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn ok() -> Value {
    Value::Simple("OK".into())
}

fn queued() -> Value {
    Value::Simple("QUEUED".into())
}

fn err(s: &str) -> Value {
    Value::Error(s.into())
}

fn int(n: i64) -> Value {
    Value::Int(n)
}

fn bulk(s: &str) -> Value {
    Value::bulk(s)
}

fn server() -> ServerProc {
    ServerProc::ferrokv(BIN, &[])
}

/// WATCH `key` on `a`, let `touch` run on `b`, then MULTI / SET / EXEC on `a`: the EXEC reply.
fn watch_then(a: &mut Conn, b: &mut Conn, key: &str, touch: &[&[&str]]) -> Value {
    assert_eq!(a.cmd(&["WATCH", key]), ok());
    for t in touch {
        let r = b.cmd(t);
        assert!(!r.is_error(), "{t:?}: {r:?}");
    }
    assert_eq!(a.cmd(&["MULTI"]), ok());
    assert_eq!(a.cmd(&["SET", "witness", "1"]), queued());
    a.cmd(&["EXEC"])
}

#[test]
fn multi_exec_basics_and_errors() {
    let srv = server();
    let mut c = srv.conn();
    assert_eq!(c.cmd(&["EXEC"]), err("ERR EXEC without MULTI"));
    assert_eq!(c.cmd(&["DISCARD"]), err("ERR DISCARD without MULTI"));
    assert_eq!(c.cmd(&["MULTI"]), ok());
    assert_eq!(c.cmd(&["MULTI"]), err("ERR MULTI calls can not be nested"));
    assert_eq!(
        c.cmd(&["WATCH", "x"]),
        err("ERR WATCH inside MULTI is not allowed")
    );
    assert_eq!(c.cmd(&["SET", "a", "1"]), queued());
    assert_eq!(c.cmd(&["INCR", "a"]), queued());
    assert_eq!(c.cmd(&["GET", "a"]), queued());
    // Nested MULTI and WATCH errors do not abort the transaction (as Redis).
    assert_eq!(
        c.cmd(&["EXEC"]),
        Value::Array(vec![ok(), int(2), bulk("2")])
    );
    // Runtime errors are returned in place, nothing is rolled back.
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "s", "abc"]);
    c.cmd(&["INCR", "s"]);
    c.cmd(&["APPEND", "s", "d"]);
    assert_eq!(
        c.cmd(&["EXEC"]),
        Value::Array(vec![
            ok(),
            err("ERR value is not an integer or out of range"),
            int(4)
        ])
    );
    assert_eq!(c.cmd(&["GET", "s"]), bulk("abcd"));
    // Empty transaction.
    c.cmd(&["MULTI"]);
    assert_eq!(c.cmd(&["EXEC"]), Value::Array(vec![]));
    // DISCARD drops the queue.
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "d", "1"]);
    assert_eq!(c.cmd(&["DISCARD"]), ok());
    assert_eq!(c.cmd(&["EXISTS", "d"]), int(0));
    assert_eq!(c.cmd(&["EXEC"]), err("ERR EXEC without MULTI"));
}

#[test]
fn execabort_paths() {
    let srv = server();
    let mut c = srv.conn();
    let abort = err("EXECABORT Transaction discarded because of previous errors.");
    for bad in [
        vec!["NOSUCHCOMMAND", "x"],
        vec!["GET"],
        vec!["SET", "k"],
        vec!["CONFIG", "NOSUCHSUB"],
        vec!["SHUTDOWN"],
    ] {
        assert_eq!(c.cmd(&["MULTI"]), ok());
        assert_eq!(c.cmd(&["SET", "k", "v"]), queued());
        let r = c.cmd(&bad);
        assert!(r.is_error(), "{bad:?} -> {r:?}");
        assert_eq!(c.cmd(&["SET", "k2", "v"]), queued());
        assert_eq!(c.cmd(&["EXEC"]), abort, "{bad:?}");
        // Nothing ran, and the transaction is over.
        assert_eq!(c.cmd(&["EXISTS", "k", "k2"]), int(0));
        assert_eq!(c.cmd(&["EXEC"]), err("ERR EXEC without MULTI"));
    }
    c.cmd(&["MULTI"]);
    assert_eq!(
        c.cmd(&["SHUTDOWN"]),
        err("ERR Command not allowed inside a transaction")
    );
    c.cmd(&["DISCARD"]);
    // An EXECABORT also unwatches: a later transaction is not affected by an old WATCH.
    let mut other = srv.conn();
    c.cmd(&["WATCH", "w"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["GET"]);
    assert_eq!(c.cmd(&["EXEC"]), abort);
    other.cmd(&["SET", "w", "1"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["GET", "w"]);
    assert_eq!(c.cmd(&["EXEC"]), Value::Array(vec![bulk("1")]));
}

#[test]
fn watch_is_invalidated_by_other_clients_writes() {
    let srv = server();
    let mut a = srv.conn();
    let mut b = srv.conn();
    let cases: Vec<(&str, Vec<Vec<&str>>)> = vec![
        ("SET", vec![vec!["SET", "k", "2"]]),
        ("DEL", vec![vec!["DEL", "k"]]),
        ("UNLINK", vec![vec!["UNLINK", "k"]]),
        ("EXPIRE", vec![vec!["EXPIRE", "k", "100"]]),
        ("PERSIST", vec![vec!["EXPIRE", "k", "100"]]),
        ("INCR", vec![vec!["INCR", "k"]]),
        ("APPEND", vec![vec!["APPEND", "k", "x"]]),
        ("SETRANGE", vec![vec!["SETRANGE", "k", "0", "x"]]),
        ("MSET", vec![vec!["MSET", "z", "1", "k", "3"]]),
        ("GETDEL", vec![vec!["GETDEL", "k"]]),
        ("GETSET", vec![vec!["GETSET", "k", "9"]]),
        ("RENAME src", vec![vec!["RENAME", "k", "k2"]]),
        (
            "RENAME dst",
            vec![vec!["SET", "o", "1"], vec!["RENAME", "o", "k"]],
        ),
        ("MOVE", vec![vec!["MOVE", "k", "1"]]),
        (
            "COPY dst",
            vec![vec!["SET", "o", "1"], vec!["COPY", "o", "k", "REPLACE"]],
        ),
        ("FLUSHDB", vec![vec!["FLUSHDB"]]),
        ("FLUSHALL", vec![vec!["FLUSHALL"]]),
        ("SWAPDB", vec![vec!["SWAPDB", "0", "1"]]),
    ];
    for (name, touch) in cases {
        a.cmd(&["FLUSHALL"]);
        a.cmd(&["SET", "k", "1"]);
        let touch: Vec<&[&str]> = touch.iter().map(|v| v.as_slice()).collect();
        assert_eq!(
            watch_then(&mut a, &mut b, "k", &touch),
            Value::NullArray,
            "{name} must abort the transaction"
        );
        // The aborted transaction did not run.
        assert_eq!(a.cmd(&["EXISTS", "witness"]), int(0), "{name}");
    }
    // PERSIST on its own (the key has a TTL before WATCH).
    a.cmd(&["FLUSHALL"]);
    a.cmd(&["SET", "k", "1", "EX", "100"]);
    assert_eq!(
        watch_then(&mut a, &mut b, "k", &[&["PERSIST", "k"]]),
        Value::NullArray
    );
}

#[test]
fn watch_survives_unrelated_activity() {
    let srv = server();
    let mut a = srv.conn();
    let mut b = srv.conn();
    let done = Value::Array(vec![ok()]);
    a.cmd(&["SET", "k", "1"]);
    // Reads, writes to other keys, failed writes and no-op writes do not touch the key.
    let touch: &[&[&str]] = &[
        &["GET", "k"],
        &["EXISTS", "k"],
        &["SET", "other", "1"],
        &["SET", "k", "x", "NX"],
        &["DEL", "nokey"],
        &["EXPIRE", "nokey", "10"],
        &["PERSIST", "k"],
        &["RENAME", "k", "k"],
    ];
    assert_eq!(watch_then(&mut a, &mut b, "k", touch), done);
    // FLUSHDB / SWAPDB touch only watched keys that exist (Redis's touchAllWatchedKeysInDb).
    a.cmd(&["FLUSHALL"]);
    assert_eq!(
        watch_then(
            &mut a,
            &mut b,
            "absent",
            &[&["SET", "x", "1"], &["FLUSHDB"]]
        ),
        done
    );
    assert_eq!(
        watch_then(&mut a, &mut b, "absent", &[&["SWAPDB", "0", "1"]]),
        done
    );
    // ... but a key that exists only in the database swapped in does count.
    b.cmd(&["SELECT", "1"]);
    b.cmd(&["SET", "only1", "v"]);
    b.cmd(&["SELECT", "0"]);
    a.cmd(&["SELECT", "0"]);
    assert_eq!(
        watch_then(&mut a, &mut b, "only1", &[&["SWAPDB", "0", "1"]]),
        Value::NullArray
    );
    // A client's own write to its watched key aborts its transaction, as in Redis.
    a.cmd(&["WATCH", "mine"]);
    a.cmd(&["SET", "mine", "1"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["GET", "mine"]);
    assert_eq!(a.cmd(&["EXEC"]), Value::NullArray);
    // UNWATCH forgets the watched keys and the dirty flag.
    a.cmd(&["WATCH", "k"]);
    b.cmd(&["SET", "k", "2"]);
    assert_eq!(a.cmd(&["UNWATCH"]), ok());
    a.cmd(&["MULTI"]);
    a.cmd(&["GET", "k"]);
    assert_eq!(a.cmd(&["EXEC"]), Value::Array(vec![bulk("2")]));
    // EXEC unwatches too: the next transaction is unaffected.
    a.cmd(&["WATCH", "k"]);
    b.cmd(&["SET", "k", "3"]);
    a.cmd(&["MULTI"]);
    assert_eq!(a.cmd(&["EXEC"]), Value::NullArray);
    b.cmd(&["SET", "k", "4"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["GET", "k"]);
    assert_eq!(a.cmd(&["EXEC"]), Value::Array(vec![bulk("4")]));
    // DISCARD unwatches.
    a.cmd(&["WATCH", "k"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["DISCARD"]);
    b.cmd(&["SET", "k", "5"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["GET", "k"]);
    assert_eq!(a.cmd(&["EXEC"]), Value::Array(vec![bulk("5")]));
    // WATCH in another database watches that database's key.
    a.cmd(&["SELECT", "2"]);
    a.cmd(&["WATCH", "k"]);
    a.cmd(&["SELECT", "0"]);
    b.cmd(&["SET", "k", "6"]);
    a.cmd(&["MULTI"]);
    assert_eq!(a.cmd(&["EXEC"]), Value::Array(vec![]));
    a.cmd(&["SELECT", "2"]);
    a.cmd(&["WATCH", "k"]);
    b.cmd(&["SELECT", "2"]);
    b.cmd(&["SET", "k", "7"]);
    a.cmd(&["MULTI"]);
    assert_eq!(a.cmd(&["EXEC"]), Value::NullArray);
}

#[test]
fn watched_key_that_expires_aborts_exec() {
    let srv = server();
    let mut a = srv.conn();
    let mut b = srv.conn();
    // Expired but not yet removed at EXEC time (the check is done under the locks).
    a.cmd(&["SET", "t", "v", "PX", "100"]);
    assert_eq!(a.cmd(&["WATCH", "t"]), ok());
    a.cmd(&["MULTI"]);
    a.cmd(&["SET", "witness", "1"]);
    assert!(wait_until(Duration::from_secs(5), || b.cmd(&["PTTL", "t"]) == int(-2)));
    assert_eq!(a.cmd(&["EXEC"]), Value::NullArray);
    assert_eq!(a.cmd(&["EXISTS", "witness"]), int(0));
    // Expired and already removed (by another client's read) before MULTI.
    a.cmd(&["SET", "t", "v", "PX", "100"]);
    a.cmd(&["WATCH", "t"]);
    assert!(wait_until(Duration::from_secs(5), || b.cmd(&["GET", "t"])
        == Value::Null));
    a.cmd(&["MULTI"]);
    assert_eq!(a.cmd(&["EXEC"]), Value::NullArray);
    // A key with a distant TTL, or no key at all, does not abort.
    a.cmd(&["SET", "t", "v", "EX", "1000"]);
    a.cmd(&["WATCH", "t", "nokey"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["GET", "t"]);
    assert_eq!(a.cmd(&["EXEC"]), Value::Array(vec![bulk("v")]));
}

#[test]
fn optimistic_locking_from_eight_clients_counts_exactly() {
    let srv = server();
    let addr = srv.addr();
    const CLIENTS: usize = 8;
    const EACH: i64 = 100;
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut c = Conn::connect(&addr);
                let mut retries = 0u64;
                for _ in 0..EACH {
                    loop {
                        c.cmd(&["WATCH", "counter"]);
                        let cur = match c.cmd(&["GET", "counter"]) {
                            Value::Null => 0,
                            v => std::str::from_utf8(v.as_bytes().unwrap())
                                .unwrap()
                                .parse::<i64>()
                                .unwrap(),
                        };
                        let next = (cur + 1).to_string();
                        c.cmd(&["MULTI"]);
                        c.cmd(&["SET", "counter", &next]);
                        match c.cmd(&["EXEC"]) {
                            Value::Array(v) if v.len() == 1 => break,
                            Value::NullArray => retries += 1,
                            other => panic!("unexpected EXEC reply {other:?}"),
                        }
                    }
                }
                retries
            })
        })
        .collect();
    let retries: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let mut c = srv.conn();
    assert_eq!(
        c.cmd(&["GET", "counter"]),
        bulk(&(CLIENTS as i64 * EACH).to_string()),
        "(after {retries} retries)"
    );
}

#[test]
fn transfers_across_shards_conserve_the_total() {
    let srv = server();
    let addr = srv.addr();
    // Keys with different hash slots, so they live in different shards.
    let accounts: Vec<String> = (0..16).map(|i| format!("acct:{i}")).collect();
    let mut c = srv.conn();
    for a in &accounts {
        c.cmd(&["SET", a, "1000"]);
    }
    let total = 16 * 1000;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..6u64)
        .map(|w| {
            let addr = addr.clone();
            let accounts = accounts.clone();
            std::thread::spawn(move || {
                let mut c = Conn::connect(&addr);
                let mut rng = ferrokv_testkit::Rng::new(w + 1);
                for _ in 0..300 {
                    let from = &accounts[rng.below(16) as usize];
                    let to = &accounts[rng.below(16) as usize];
                    let amount = (rng.below(50) + 1).to_string();
                    c.cmd(&["MULTI"]);
                    c.cmd(&["DECRBY", from, &amount]);
                    c.cmd(&["INCRBY", to, &amount]);
                    let r = c.cmd(&["EXEC"]);
                    assert_eq!(r.as_array().map(|a| a.len()), Some(2), "{r:?}");
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let addr = addr.clone();
            let accounts = accounts.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = Conn::connect(&addr);
                let mut checks = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || checks == 0 {
                    c.cmd(&["MULTI"]);
                    for a in &accounts {
                        c.cmd(&["GET", a]);
                    }
                    let r = c.cmd(&["EXEC"]);
                    let sum: i64 = r
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| {
                            std::str::from_utf8(v.as_bytes().unwrap())
                                .unwrap()
                                .parse::<i64>()
                                .unwrap()
                        })
                        .sum();
                    assert_eq!(sum, total, "a reader saw a half-applied transfer");
                    // A pair read with MGET (one command) must agree too.
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    let mut args = vec!["MGET"];
    args.extend(accounts.iter().map(|s| s.as_str()));
    let sum: i64 = c
        .cmd(&args)
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            std::str::from_utf8(v.as_bytes().unwrap())
                .unwrap()
                .parse::<i64>()
                .unwrap()
        })
        .sum();
    assert_eq!(sum, total);
}

#[test]
fn thousand_queued_commands() {
    let srv = server();
    let mut c = srv.conn();
    assert_eq!(c.cmd(&["MULTI"]), ok());
    for i in 0..1000 {
        assert_eq!(c.cmd(&["INCR", &format!("n{}", i % 37)]), queued());
    }
    let r = c.cmd(&["EXEC"]);
    let v = r.as_array().unwrap();
    assert_eq!(v.len(), 1000);
    for (i, x) in v.iter().enumerate() {
        assert_eq!(*x, int((i / 37) as i64 + 1), "reply {i}");
    }
    assert_eq!(c.cmd(&["GET", "n0"]), bulk("28"));
}

#[test]
fn select_move_and_swapdb_inside_multi() {
    let srv = server();
    let mut c = srv.conn();
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "a", "db0"]);
    c.cmd(&["SELECT", "1"]);
    c.cmd(&["SET", "a", "db1"]);
    c.cmd(&["GET", "a"]);
    c.cmd(&["SELECT", "99"]);
    c.cmd(&["SET", "b", "still-db1"]);
    c.cmd(&["MOVE", "b", "2"]);
    c.cmd(&["SWAPDB", "0", "3"]);
    c.cmd(&["SCAN", "0"]);
    c.cmd(&["DBSIZE"]);
    let r = c.cmd(&["EXEC"]);
    let v = r.as_array().unwrap();
    assert_eq!(v[0], ok());
    assert_eq!(v[1], ok());
    assert_eq!(v[2], ok());
    assert_eq!(v[3], bulk("db1"));
    assert_eq!(v[4], err("ERR DB index is out of range"));
    assert_eq!(v[5], ok());
    assert_eq!(v[6], int(1));
    assert_eq!(v[7], ok());
    assert!(!v[8].is_error(), "{:?}", v[8]);
    assert_eq!(v[9], int(1));
    // The client stays in the database selected inside the transaction.
    assert_eq!(c.cmd(&["GET", "a"]), bulk("db1"));
    c.cmd(&["SELECT", "2"]);
    assert_eq!(c.cmd(&["GET", "b"]), bulk("still-db1"));
    c.cmd(&["SELECT", "3"]);
    assert_eq!(c.cmd(&["GET", "a"]), bulk("db0"));
    c.cmd(&["SELECT", "0"]);
    assert_eq!(c.cmd(&["DBSIZE"]), int(0));
}

#[test]
fn nonblocking_inside_exec_and_reset() {
    let srv = server();
    let mut c = srv.conn();
    // WAIT answers at once inside a transaction.
    c.cmd(&["MULTI"]);
    c.cmd(&["WAIT", "1", "0"]);
    c.cmd(&["PING"]);
    assert_eq!(
        c.cmd(&["EXEC"]),
        Value::Array(vec![int(0), Value::Simple("PONG".into())])
    );
    // RESET ends the transaction and the watches.
    let mut other = srv.conn();
    c.cmd(&["WATCH", "k"]);
    other.cmd(&["SET", "k", "1"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "x", "1"]);
    assert_eq!(c.cmd(&["RESET"]), Value::Simple("RESET".into()));
    assert_eq!(c.cmd(&["EXEC"]), err("ERR EXEC without MULTI"));
    assert_eq!(c.cmd(&["EXISTS", "x"]), int(0));
    c.cmd(&["MULTI"]);
    c.cmd(&["GET", "k"]);
    assert_eq!(c.cmd(&["EXEC"]), Value::Array(vec![bulk("1")]));
    // QUIT inside MULTI runs at once.
    c.cmd(&["MULTI"]);
    assert_eq!(c.cmd(&["QUIT"]), ok());
    assert!(c.is_closed());
}

#[test]
fn client_list_stats_and_resp3() {
    let srv = server();
    let mut c = srv.conn();
    c.cmd(&["CONFIG", "RESETSTAT"]);
    c.cmd(&["WATCH", "w1", "w2"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["CLIENT", "INFO"]);
    let mut other = srv.conn();
    let list = other.cmd(&["CLIENT", "LIST"]);
    let text = String::from_utf8(list.as_bytes().unwrap().to_vec()).unwrap();
    let line = text.lines().find(|l| l.contains("multi=2")).unwrap_or("");
    assert!(line.contains("flags=x"), "{text}");
    assert!(line.contains("watch=2"), "{text}");
    assert!(line.contains("cmd=client|info"), "{text}");
    let r = c.cmd(&["EXEC"]);
    let v = r.as_array().unwrap();
    let info = String::from_utf8(v[1].as_bytes().unwrap().to_vec()).unwrap();
    assert!(
        info.contains("flags=x") && info.contains("multi=2"),
        "{info}"
    );
    assert!(info.contains("cmd=exec"), "{info}");
    let own = c.cmd(&["CLIENT", "INFO"]);
    let own = String::from_utf8(own.as_bytes().unwrap().to_vec()).unwrap();
    assert!(own.contains("flags=N") && own.contains("multi=-1") && own.contains("watch=0"));
    // Queued commands are counted when EXEC runs them, EXEC and MULTI once each.
    let stats = c.cmd(&["INFO", "commandstats"]);
    let stats = match stats {
        Value::Bulk(b) | Value::Verbatim(_, b) => String::from_utf8(b).unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(stats.contains("cmdstat_set:calls=1,"), "{stats}");
    assert!(stats.contains("cmdstat_exec:calls=1,"), "{stats}");
    assert!(stats.contains("cmdstat_multi:calls=1,"), "{stats}");
    // RESP3: an aborted EXEC is a null.
    c.hello3();
    c.cmd(&["WATCH", "k"]);
    other.cmd(&["SET", "k", "1"]);
    c.cmd(&["MULTI"]);
    assert_eq!(c.cmd_raw(&[b"EXEC"]), b"_\r\n".to_vec());
}

#[test]
fn monitor_shows_the_commands_run_by_exec() {
    let srv = server();
    let mut m = srv.conn();
    assert_eq!(m.cmd(&["MONITOR"]), ok());
    let mut c = srv.conn();
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["GET", "a"]);
    c.cmd(&["EXEC"]);
    let mut tails = Vec::new();
    for _ in 0..20 {
        let line = match m.read_value() {
            Value::Simple(s) => s,
            other => panic!("{other:?}"),
        };
        let tail = line
            .split_once("] ")
            .map(|x| x.1.to_string())
            .unwrap_or_default();
        let end = tail == "\"EXEC\"";
        tails.push(tail);
        if end {
            break;
        }
    }
    // Queued commands show when EXEC runs them, before EXEC itself (Redis's order).
    assert_eq!(
        tails[tails.len().saturating_sub(4)..],
        [
            "\"MULTI\"",
            "\"SET\" \"a\" \"1\"",
            "\"GET\" \"a\"",
            "\"EXEC\""
        ]
    );
}

#[test]
fn shard_walking_commands_inside_exec_do_not_deadlock() {
    let srv = server();
    let mut c = srv.conn();
    let mut other = srv.conn();
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    c.cmd(&["CONFIG", "RESETSTAT"]);
    c.cmd(&["MEMORY", "STATS"]);
    c.cmd(&["INFO", "keyspace"]);
    c.cmd(&["SCAN", "0"]);
    c.cmd(&["MONITOR"]);
    c.cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    let r = c.cmd(&["EXEC"]);
    let v = r.as_array().unwrap();
    assert_eq!(v.len(), 8);
    assert_eq!(v[0], ok());
    assert_eq!(v[1], ok());
    assert_eq!(v[2], ok());
    assert!(matches!(v[3], Value::Array(_)), "{:?}", v[3]);
    assert!(!v[4].is_error() && !v[5].is_error());
    assert_eq!(
        v[6],
        err("ERR MONITOR isn't allowed for DENY BLOCKING client")
    );
    assert_eq!(v[7], ok());
    // The server is still serving everyone.
    assert_eq!(other.cmd(&["GET", "a"]), bulk("1"));
    assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
}

#[test]
fn info_counts_watching_clients_and_keys() {
    let srv = server();
    let mut a = srv.conn();
    let mut b = srv.conn();
    let field = |c: &mut Conn, name: &str| -> String {
        let v = c.cmd(&["INFO", "clients"]);
        let text = match v {
            Value::Bulk(b) | Value::Verbatim(_, b) => String::from_utf8(b).unwrap(),
            other => panic!("{other:?}"),
        };
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
            .unwrap()
    };
    a.cmd(&["WATCH", "x", "y"]);
    b.cmd(&["WATCH", "y", "z"]);
    assert_eq!(field(&mut a, "watching_clients"), "2");
    assert_eq!(field(&mut a, "total_watched_keys"), "3");
    a.cmd(&["UNWATCH"]);
    assert_eq!(field(&mut a, "watching_clients"), "1");
    assert_eq!(field(&mut a, "total_watched_keys"), "2");
    // A disconnected client's watches go away.
    drop(b);
    assert!(wait_until(Duration::from_secs(5), || field(
        &mut a,
        "total_watched_keys"
    ) == "0"));
    assert_eq!(field(&mut a, "watching_clients"), "0");
}
