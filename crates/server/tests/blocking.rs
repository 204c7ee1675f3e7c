//! Blocking commands end to end (several clients): FIFO service per key, one push serving
//! several waiters, multi-key waits, timeouts, CLIENT UNBLOCK / KILL, databases, wake-ups by
//! RENAME / LMOVE / SWAPDB / EXEC, pipelining behind a blocked request, statistics.
//!
//! Commands not implemented yet (answered with `ERR unknown command`) make the test that needs
//! them print a SKIP line and return.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{wait_until, Conn, ServerProc, Value};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");
const WAIT: Duration = Duration::from_secs(5);
/// How long a client that must stay blocked is watched for an unexpected reply.
const QUIET: Duration = Duration::from_millis(300);

fn supports(c: &mut Conn, test: &str, cmds: &[&str]) -> bool {
    let missing: Vec<&str> = cmds
        .iter()
        .copied()
        .filter(|n| {
            let v = c.cmd(&[n]);
            // The bare probe of MULTI opens a transaction: close it again.
            if n.eq_ignore_ascii_case("multi") && v == Value::Simple("OK".into()) {
                c.cmd(&["DISCARD"]);
            }
            matches!(v, Value::Error(e) if e.starts_with("ERR unknown command"))
        })
        .collect();
    if missing.is_empty() {
        true
    } else {
        eprintln!("SKIP {test}: not implemented yet: {}", missing.join(", "));
        false
    }
}

/// An INFO field as an integer.
fn info_int(c: &mut Conn, section: &str, field: &str) -> i64 {
    let Value::Bulk(b) = c.cmd(&["INFO", section]) else {
        panic!("INFO {section} is not a bulk string");
    };
    let text = String::from_utf8_lossy(&b).to_string();
    let prefix = format!("{field}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{text}"))
}

/// An INFO section's text.
fn info_text(c: &mut Conn, section: &str) -> String {
    let Value::Bulk(b) = c.cmd(&["INFO", section]) else {
        panic!("INFO {section} is not a bulk string");
    };
    String::from_utf8_lossy(&b).to_string()
}

fn blocked(c: &mut Conn) -> i64 {
    info_int(c, "clients", "blocked_clients")
}

/// Waits until exactly `n` clients are blocked.
fn wait_blocked(admin: &mut Conn, n: i64) {
    assert!(
        wait_until(WAIT, || blocked(admin) == n),
        "expected {n} blocked clients, INFO says {}",
        blocked(admin)
    );
}

fn bulk(s: &str) -> Value {
    Value::Bulk(s.as_bytes().to_vec())
}

fn pair(k: &str, v: &str) -> Value {
    Value::Array(vec![bulk(k), bulk(v)])
}

fn send(c: &mut Conn, args: &[&str]) {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    c.send(&a);
}

fn client_id(c: &mut Conn) -> String {
    match c.cmd(&["CLIENT", "ID"]) {
        Value::Int(i) => i.to_string(),
        v => panic!("CLIENT ID: {v:?}"),
    }
}

/// Three clients blocked on one key, in order; one RPUSH of three elements serves all three in
/// the order they blocked.
#[test]
fn fifo_order_and_one_push_serves_three_waiters() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "fifo", &["BLPOP", "RPUSH"]) {
        return;
    }
    let mut waiters: Vec<Conn> = (0..3).map(|_| s.conn()).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        send(w, &["BLPOP", "k", "0"]);
        wait_blocked(&mut admin, i as i64 + 1);
    }
    assert_eq!(info_int(&mut admin, "clients", "total_blocking_keys"), 1);
    assert_eq!(admin.cmd(&["RPUSH", "k", "a", "b", "c"]), Value::Int(3));
    for (w, want) in waiters.iter_mut().zip(["a", "b", "c"]) {
        assert_eq!(w.read_value(), pair("k", want));
    }
    wait_blocked(&mut admin, 0);
    assert_eq!(admin.cmd(&["EXISTS", "k"]), Value::Int(0));
    assert_eq!(info_int(&mut admin, "clients", "total_blocking_keys"), 0);
}

/// A push of fewer elements than waiters serves the first ones; the rest stay blocked, in order.
#[test]
fn short_push_serves_the_oldest_waiters_only() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "short_push", &["BLPOP", "LPUSH"]) {
        return;
    }
    let mut waiters: Vec<Conn> = (0..3).map(|_| s.conn()).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        send(w, &["BLPOP", "k", "0"]);
        wait_blocked(&mut admin, i as i64 + 1);
    }
    // LPUSH x y leaves [y, x]: the first waiter pops y.
    admin.cmd(&["LPUSH", "k", "x", "y"]);
    assert_eq!(waiters[0].read_value(), pair("k", "y"));
    assert_eq!(waiters[1].read_value(), pair("k", "x"));
    wait_blocked(&mut admin, 1);
    assert!(waiters[2].try_read_reply(QUIET).is_none());
    admin.cmd(&["LPUSH", "k", "z"]);
    assert_eq!(waiters[2].read_value(), pair("k", "z"));
}

/// A client blocked on several keys is served by the first key that gets data, and a later
/// client blocked on that key waits behind it.
#[test]
fn multi_key_wait_is_served_by_the_key_that_gets_data() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "multi_key", &["BLPOP", "RPUSH"]) {
        return;
    }
    let mut c1 = s.conn();
    let mut c2 = s.conn();
    send(&mut c1, &["BLPOP", "a", "b", "c", "0"]);
    wait_blocked(&mut admin, 1);
    send(&mut c2, &["BLPOP", "c", "0"]);
    wait_blocked(&mut admin, 2);
    assert_eq!(info_int(&mut admin, "clients", "total_blocking_keys"), 3);
    assert_eq!(
        info_int(&mut admin, "clients", "clients_in_timeout_table"),
        0
    );
    let mut timed = s.conn();
    let id = client_id(&mut timed);
    send(&mut timed, &["BLPOP", "other", "30"]);
    wait_blocked(&mut admin, 3);
    assert_eq!(
        info_int(&mut admin, "clients", "clients_in_timeout_table"),
        1
    );
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), Value::Int(1));
    assert_eq!(timed.read_reply(), b"*-1\r\n");
    wait_blocked(&mut admin, 2);
    assert_eq!(
        info_int(&mut admin, "clients", "clients_in_timeout_table"),
        0
    );
    admin.cmd(&["RPUSH", "c", "v1"]);
    assert_eq!(c1.read_value(), pair("c", "v1"));
    wait_blocked(&mut admin, 1);
    // c1's other keys are released.
    assert_eq!(info_int(&mut admin, "clients", "total_blocking_keys"), 1);
    admin.cmd(&["RPUSH", "a", "v2"]);
    assert!(c2.try_read_reply(QUIET).is_none());
    admin.cmd(&["RPUSH", "c", "v3"]);
    assert_eq!(c2.read_value(), pair("c", "v3"));
    assert_eq!(admin.cmd(&["LLEN", "a"]), Value::Int(1));
}

/// Timeouts are honoured to about 0.1 s and answer with a null array (RESP2) / null (RESP3).
#[test]
fn timeouts_have_sub_second_precision() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    if !supports(&mut c, "timeouts", &["BLPOP"]) {
        return;
    }
    for (secs, ms) in [("0.1", 100u64), ("0.35", 350)] {
        let t = Instant::now();
        let r = c.cmd_raw(&[b"BLPOP", b"nokey", secs.as_bytes()]);
        let took = t.elapsed();
        assert_eq!(r, b"*-1\r\n");
        assert!(
            took >= Duration::from_millis(ms - 5) && took < Duration::from_millis(ms + 400),
            "BLPOP {secs} took {took:?}"
        );
    }
    c.hello3();
    assert_eq!(c.cmd_raw(&[b"BLPOP", b"nokey", b"0.05"]), b"_\r\n");
    let mut admin = s.conn();
    wait_blocked(&mut admin, 0);
    // The blocking call counts once per completed call.
    let Value::Bulk(b) = admin.cmd(&["INFO", "commandstats"]) else {
        panic!("INFO commandstats")
    };
    let text = String::from_utf8_lossy(&b).to_string();
    assert!(text.contains("cmdstat_blpop:calls=3,"), "{text}");
}

/// `0` blocks until a push, however long.
#[test]
fn zero_timeout_blocks_until_a_push() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "zero", &["BLPOP", "RPUSH"]) {
        return;
    }
    let mut c = s.conn();
    send(&mut c, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    assert!(c.try_read_reply(Duration::from_millis(600)).is_none());
    admin.cmd(&["RPUSH", "k", "v"]);
    assert_eq!(c.read_value(), pair("k", "v"));
    // The served call is counted once.
    let Value::Bulk(b) = admin.cmd(&["INFO", "commandstats"]) else {
        panic!("INFO commandstats")
    };
    let text = String::from_utf8_lossy(&b).to_string();
    assert!(text.contains("cmdstat_blpop:calls=1,"), "{text}");
}

/// CLIENT UNBLOCK answers 1 for a blocked client (TIMEOUT: null reply; ERROR: -UNBLOCKED) and
/// 0 for a client that is not blocked; CLIENT LIST shows flags=b while blocked.
#[test]
fn client_unblock_timeout_and_error() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "unblock", &["BLPOP"]) {
        return;
    }
    let mut c = s.conn();
    let id = client_id(&mut c);
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), Value::Int(0));
    send(&mut c, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    let Value::Bulk(list) = admin.cmd(&["CLIENT", "LIST", "ID", &id]) else {
        panic!("CLIENT LIST")
    };
    let list = String::from_utf8_lossy(&list).to_string();
    assert!(list.contains(" flags=b "), "{list}");
    assert!(list.contains(" cmd=blpop "), "{list}");
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), Value::Int(1));
    assert_eq!(c.read_reply(), b"*-1\r\n");
    wait_blocked(&mut admin, 0);

    send(&mut c, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]),
        Value::Int(1)
    );
    assert_eq!(
        c.read_value(),
        Value::Error("UNBLOCKED client unblocked via CLIENT UNBLOCK".into())
    );
    wait_blocked(&mut admin, 0);
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]),
        Value::Int(0)
    );
    // Each blocked call counts once, and both unblocked calls as failed (as Redis counts
    // them); only the ERROR form counts in errorstats.
    let stats = info_text(&mut admin, "commandstats");
    assert!(stats.contains("cmdstat_blpop:calls=2,"), "{stats}");
    assert!(stats.contains("failed_calls=2"), "{stats}");
    let errs = info_text(&mut admin, "errorstats");
    assert!(errs.contains("errorstat_UNBLOCKED:count=1"), "{errs}");
    // The connection goes on normally.
    assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
}

/// A killed or disconnected blocked client leaves no waiter behind: a later push stays in the
/// list.
#[test]
fn killed_or_gone_blocked_client_leaves_no_waiter() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "kill", &["BLPOP", "RPUSH", "LLEN"]) {
        return;
    }
    let mut c = s.conn();
    let id = client_id(&mut c);
    send(&mut c, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "ID", &id]), Value::Int(1));
    wait_blocked(&mut admin, 0);
    assert_eq!(info_int(&mut admin, "clients", "total_blocking_keys"), 0);
    assert!(c.is_closed());

    let mut gone = s.conn();
    send(&mut gone, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    drop(gone);
    wait_blocked(&mut admin, 0);
    admin.cmd(&["RPUSH", "k", "v"]);
    assert_eq!(admin.cmd(&["LLEN", "k"]), Value::Int(1));
}

/// Requests pipelined after a blocking one run only once it is served.
#[test]
fn pipelined_requests_wait_behind_a_blocked_one() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "pipeline", &["BLPOP", "RPUSH"]) {
        return;
    }
    let mut c = s.conn();
    c.send_raw(
        b"*3\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n",
    );
    wait_blocked(&mut admin, 1);
    assert!(c.try_read_reply(QUIET).is_none());
    assert_eq!(admin.cmd(&["EXISTS", "x"]), Value::Int(0));
    admin.cmd(&["RPUSH", "k", "v"]);
    assert_eq!(c.read_value(), pair("k", "v"));
    assert_eq!(c.read_value(), Value::Simple("OK".into()));
    assert_eq!(admin.cmd(&["GET", "x"]), bulk("1"));
}

/// A client blocked in db 1 is not woken by a push to the same key name in db 0; a push in db 1
/// serves it (and its reply is written in its own protocol).
#[test]
fn waiters_are_per_database() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "per_db", &["BLPOP", "RPUSH", "LLEN"]) {
        return;
    }
    let mut c = s.conn();
    c.hello3();
    assert_eq!(c.cmd(&["SELECT", "1"]), Value::Simple("OK".into()));
    send(&mut c, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["RPUSH", "k", "db0"]);
    assert!(c.try_read_reply(QUIET).is_none());
    assert_eq!(admin.cmd(&["LLEN", "k"]), Value::Int(1));
    admin.cmd(&["SELECT", "1"]);
    admin.cmd(&["RPUSH", "k", "db1"]);
    assert_eq!(c.read_reply(), b"*2\r\n$1\r\nk\r\n$3\r\ndb1\r\n");
    admin.cmd(&["SELECT", "0"]);
    assert_eq!(admin.cmd(&["LLEN", "k"]), Value::Int(1));
}

/// RENAME of a list onto the waited key, and LMOVE into it, wake the waiter.
#[test]
fn rename_and_lmove_wake_waiters() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "rename_lmove", &["BLPOP", "RPUSH", "LMOVE"]) {
        return;
    }
    let mut c = s.conn();
    admin.cmd(&["RPUSH", "src", "r1"]);
    send(&mut c, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(
        admin.cmd(&["RENAME", "src", "k"]),
        Value::Simple("OK".into())
    );
    assert_eq!(c.read_value(), pair("k", "r1"));

    admin.cmd(&["RPUSH", "src", "m1"]);
    send(&mut c, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(
        admin.cmd(&["LMOVE", "src", "k", "LEFT", "LEFT"]),
        bulk("m1")
    );
    assert_eq!(c.read_value(), pair("k", "m1"));

    // MOVE and COPY ... DB into another db wake a waiter there.
    let mut d1 = s.conn();
    d1.cmd(&["SELECT", "1"]);
    send(&mut d1, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["RPUSH", "k", "moved"]);
    assert_eq!(admin.cmd(&["MOVE", "k", "1"]), Value::Int(1));
    assert_eq!(d1.read_value(), pair("k", "moved"));
    send(&mut d1, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["RPUSH", "orig", "copied"]);
    assert_eq!(admin.cmd(&["COPY", "orig", "k", "DB", "1"]), Value::Int(1));
    assert_eq!(d1.read_value(), pair("k", "copied"));
}

/// SWAPDB serves clients blocked in either database when the other one had data.
#[test]
fn swapdb_wakes_waiters() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "swapdb", &["BLPOP", "RPUSH"]) {
        return;
    }
    let mut c = s.conn();
    c.cmd(&["SELECT", "1"]);
    send(&mut c, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["RPUSH", "k", "from0"]);
    assert!(c.try_read_reply(QUIET).is_none());
    assert_eq!(admin.cmd(&["SWAPDB", "0", "1"]), Value::Simple("OK".into()));
    assert_eq!(c.read_value(), pair("k", "from0"));
    wait_blocked(&mut admin, 0);
}

/// A push inside MULTI/EXEC wakes the waiter only once EXEC has run all its commands.
#[test]
fn push_inside_exec_wakes_after_exec() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(
        &mut admin,
        "exec",
        &["BLPOP", "RPUSH", "LPOP", "MULTI", "EXEC"],
    ) {
        return;
    }
    let mut c = s.conn();
    send(&mut c, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["MULTI"]);
    admin.cmd(&["RPUSH", "k", "a", "b"]);
    admin.cmd(&["LPOP", "k"]);
    let r = admin.cmd(&["EXEC"]);
    assert_eq!(r, Value::Array(vec![Value::Int(2), bulk("a")]));
    // Served after EXEC: the first element was already gone.
    assert_eq!(c.read_value(), pair("k", "b"));
    // Blocking commands inside EXEC do not block.
    admin.cmd(&["MULTI"]);
    admin.cmd(&["BLPOP", "empty", "0"]);
    assert_eq!(admin.cmd_raw(&[b"EXEC"]), b"*1\r\n*-1\r\n");
}

/// A blocked client is not disconnected by the idle `timeout`.
#[test]
fn idle_timeout_spares_blocked_clients() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "idle", &["BLPOP", "RPUSH"]) {
        return;
    }
    admin.cmd(&["CONFIG", "SET", "timeout", "1"]);
    let mut c = s.conn();
    send(&mut c, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    assert!(c.try_read_reply(Duration::from_millis(2300)).is_none());
    // `admin` itself was idle meanwhile and is gone: a fresh connection checks and pushes.
    let mut fresh = s.conn();
    assert_eq!(blocked(&mut fresh), 1);
    fresh.cmd(&["RPUSH", "k", "late"]);
    assert_eq!(c.read_value(), pair("k", "late"));
}

/// A BLMOVE served by a push feeds a BLPOP waiting on its destination, in the same wake-up.
#[test]
fn blmove_chain_serves_the_destination_waiter() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "blmove_chain", &["BLPOP", "BLMOVE", "RPUSH"]) {
        return;
    }
    let mut dst_waiter = s.conn();
    let mut mover = s.conn();
    send(&mut dst_waiter, &["BLPOP", "dst", "0"]);
    wait_blocked(&mut admin, 1);
    send(&mut mover, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut admin, 2);
    admin.cmd(&["RPUSH", "src", "e"]);
    assert_eq!(mover.read_value(), bulk("e"));
    assert_eq!(dst_waiter.read_value(), pair("dst", "e"));
    wait_blocked(&mut admin, 0);
}

/// Sorted-set waiters: BZPOPMIN clients are served in order by ZADD.
#[test]
fn bzpopmin_waiters_are_served_in_order() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "bzpopmin", &["BZPOPMIN", "ZADD"]) {
        return;
    }
    let mut c1 = s.conn();
    let mut c2 = s.conn();
    send(&mut c1, &["BZPOPMIN", "z", "0"]);
    wait_blocked(&mut admin, 1);
    send(&mut c2, &["BZPOPMIN", "z", "0"]);
    wait_blocked(&mut admin, 2);
    admin.cmd(&["ZADD", "z", "1", "one", "2", "two"]);
    assert_eq!(
        c1.read_value(),
        Value::Array(vec![bulk("z"), bulk("one"), bulk("1")])
    );
    assert_eq!(
        c2.read_value(),
        Value::Array(vec![bulk("z"), bulk("two"), bulk("2")])
    );
    wait_blocked(&mut admin, 0);
}

/// Pushers and waiters with very short timeouts race (served vs timed out): every pushed
/// element is received exactly once, none is lost in a wait that ended concurrently.
#[test]
fn racing_timeouts_never_lose_or_duplicate_elements() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "racing", &["BLPOP", "RPUSH"]) {
        return;
    }
    const PUSHERS: usize = 3;
    const PER: usize = 1000;
    let stop = Arc::new(AtomicBool::new(false));
    let got = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut threads = Vec::new();
    for _ in 0..6 {
        let mut c = s.conn();
        let (stop, got) = (stop.clone(), got.clone());
        threads.push(std::thread::spawn(move || loop {
            match c.cmd(&["BLPOP", "q1", "q2", "0.01"]) {
                Value::Array(v) => match v.get(1) {
                    Some(Value::Bulk(b)) => got
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(b).to_string()),
                    other => panic!("BLPOP element: {other:?}"),
                },
                Value::Null | Value::NullArray => {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                }
                other => panic!("BLPOP: {other:?}"),
            }
        }));
    }
    let mut pushers = Vec::new();
    for p in 0..PUSHERS {
        let mut c = s.conn();
        pushers.push(std::thread::spawn(move || {
            for i in 0..PER {
                let key = if i % 2 == 0 { "q1" } else { "q2" };
                c.cmd(&["RPUSH", key, &format!("{p}-{i}")]);
            }
        }));
    }
    for t in pushers {
        t.join().unwrap();
    }
    let total = PUSHERS * PER;
    assert!(
        wait_until(Duration::from_secs(20), || got.lock().unwrap().len()
            >= total),
        "received {} of {total}",
        got.lock().unwrap().len()
    );
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let mut v = got.lock().unwrap().clone();
    v.sort();
    let mut want: Vec<String> = (0..PUSHERS)
        .flat_map(|p| (0..PER).map(move |i| format!("{p}-{i}")))
        .collect();
    want.sort();
    assert_eq!(v, want);
    wait_blocked(&mut admin, 0);
    assert_eq!(info_int(&mut admin, "clients", "total_blocking_keys"), 0);
}

/// A key made ready while writes are paused serves its waiter only once the pause ends.
#[test]
fn waiter_is_not_served_while_writes_are_paused() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "pause", &["BLPOP", "RPUSH", "MULTI", "EXEC"]) {
        return;
    }
    let mut c = s.conn();
    send(&mut c, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    let t = Instant::now();
    admin.cmd(&["MULTI"]);
    admin.cmd(&["RPUSH", "k", "v"]);
    admin.cmd(&["CLIENT", "PAUSE", "400", "WRITE"]);
    let r = admin.cmd(&["EXEC"]);
    assert!(matches!(r, Value::Array(_)), "{r:?}");
    assert_eq!(c.read_value(), pair("k", "v"));
    assert!(
        t.elapsed() >= Duration::from_millis(350),
        "served during the pause"
    );
}

/// CLIENT REPLY OFF suppresses the served reply; MONITOR shows the blocking call once (when it
/// is issued, not when it is served), as Redis does.
#[test]
fn reply_off_and_monitor_see_the_blocking_call_once() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "reply_monitor", &["BLPOP", "RPUSH", "LLEN"]) {
        return;
    }
    let mut mon = s.conn();
    assert_eq!(mon.cmd(&["MONITOR"]), Value::Simple("OK".into()));
    let mut c = s.conn();
    c.send(&[b"CLIENT", b"REPLY", b"OFF"]);
    send(&mut c, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["RPUSH", "k", "v"]);
    wait_blocked(&mut admin, 0);
    assert_eq!(admin.cmd(&["LLEN", "k"]), Value::Int(0));
    assert_eq!(
        c.cmd(&["CLIENT", "REPLY", "ON"]),
        Value::Simple("OK".into())
    );
    admin.cmd(&["PING"]);
    let mut lines = Vec::new();
    while let Some(r) = mon.try_read_reply(Duration::from_millis(300)) {
        let line = String::from_utf8_lossy(&r).to_string();
        let done = line.contains("\"PING\"");
        lines.push(line);
        if done {
            break;
        }
    }
    let blpops = lines.iter().filter(|l| l.contains("\"BLPOP\"")).count();
    assert_eq!(blpops, 1, "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("\"RPUSH\"")), "{lines:?}");
}

/// One multi-client scenario run against a server: the exact bytes of every reply, and the
/// INFO / statistics figures that do not depend on timing.
fn blocking_transcript(s: &ServerProc) -> Vec<String> {
    let mut out = Vec::new();
    let mut rec = |what: &str, bytes: &[u8]| {
        out.push(format!("{what}: {}", String::from_utf8_lossy(bytes)));
    };
    let mut admin = s.conn();
    admin.cmd(&["CONFIG", "RESETSTAT"]);
    let mut c = s.conn();
    let id = client_id(&mut c);
    // Served by the second key; the rest of the push stays.
    send(&mut c, &["BLPOP", "k1", "k2", "0"]);
    wait_blocked(&mut admin, 1);
    rec("rpush", &admin.cmd_raw(&[b"RPUSH", b"k2", b"a", b"b"]));
    rec("served", &c.read_reply());
    rec("lrange", &admin.cmd_raw(&[b"LRANGE", b"k2", b"0", b"-1"]));
    // Timeout.
    rec("timeout", &c.cmd_raw(&[b"BLPOP", b"k1", b"0.05"]));
    // CLIENT UNBLOCK, both reasons, then on a client that is not blocked.
    send(&mut c, &["BRPOP", "k1", "0"]);
    wait_blocked(&mut admin, 1);
    rec(
        "unblock",
        &admin.cmd_raw(&[b"CLIENT", b"UNBLOCK", id.as_bytes()]),
    );
    rec("unblocked", &c.read_reply());
    send(&mut c, &["BLPOP", "k1", "0"]);
    wait_blocked(&mut admin, 1);
    rec(
        "unblock error",
        &admin.cmd_raw(&[b"CLIENT", b"UNBLOCK", id.as_bytes(), b"ERROR"]),
    );
    rec("unblocked error", &c.read_reply());
    rec(
        "unblock idle",
        &admin.cmd_raw(&[b"CLIENT", b"UNBLOCK", id.as_bytes()]),
    );
    // INFO while one client waits with a timeout and one without.
    let mut c2 = s.conn();
    send(&mut c, &["BLPOP", "k1", "50"]);
    wait_blocked(&mut admin, 1);
    send(&mut c2, &["BLPOP", "k1", "k3", "0"]);
    wait_blocked(&mut admin, 2);
    for f in ["blocked_clients", "clients_in_timeout_table"] {
        let v = info_int(&mut admin, "clients", f);
        rec(f, v.to_string().as_bytes());
    }
    rec("push2", &admin.cmd_raw(&[b"RPUSH", b"k1", b"x", b"y"]));
    rec("first", &c.read_reply());
    rec("second", &c2.read_reply());
    // RESP3 timeout and service.
    let mut c3 = s.conn();
    c3.hello3();
    rec("resp3 timeout", &c3.cmd_raw(&[b"BLPOP", b"k1", b"0.01"]));
    send(&mut c3, &["BLPOP", "k1", "0"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["RPUSH", "k1", "z"]);
    rec("resp3 served", &c3.read_reply());
    // Statistics: calls (each blocking call counted once), rejected and failed calls of the
    // blocking commands (CLIENT UNBLOCK of either kind is a failed call), the UNBLOCKED error.
    let stats = info_text(&mut admin, "commandstats");
    let mut calls: Vec<String> = stats
        .lines()
        .filter(|l| l.starts_with("cmdstat_b"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let pick: Vec<&str> = [f.first(), f.get(3), f.get(4)]
                .into_iter()
                .flatten()
                .copied()
                .collect();
            pick.join(",")
        })
        .collect();
    calls.sort();
    for l in calls {
        rec("calls", l.as_bytes());
    }
    let errs = info_text(&mut admin, "errorstats");
    for l in errs.lines().filter(|l| l.starts_with("errorstat_")) {
        rec("errorstat", l.as_bytes());
    }
    out
}

/// The scenario above gives the same bytes and figures as redis-server.
#[test]
fn blocking_scenario_matches_redis() {
    let f = ServerProc::ferrokv(BIN, &[]);
    if !supports(
        &mut f.conn(),
        "diff",
        &["BLPOP", "BRPOP", "RPUSH", "LRANGE"],
    ) {
        return;
    }
    let Some(r) = ServerProc::redis(&[]) else {
        return;
    };
    let (a, b) = (blocking_transcript(&f), blocking_transcript(&r));
    assert_eq!(a, b);
}

/// Inside a script a blocking command answers at once; a push made by a script wakes a waiter
/// once the script has finished (it sees the script's last state).
#[test]
fn scripts_do_not_block_and_wake_waiters_after_they_end() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(&mut admin, "scripts", &["BLPOP", "RPUSH", "EVAL"]) {
        return;
    }
    assert_eq!(
        admin.cmd(&[
            "EVAL",
            "return redis.call('BLPOP', KEYS[1], 0)",
            "1",
            "empty"
        ]),
        Value::Null
    );
    let mut c = s.conn();
    send(&mut c, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    let script = "redis.call('RPUSH', KEYS[1], 'a', 'b'); redis.call('LPOP', KEYS[1]); return 1";
    assert_eq!(admin.cmd(&["EVAL", script, "1", "k"]), Value::Int(1));
    assert_eq!(c.read_value(), pair("k", "b"));
    wait_blocked(&mut admin, 0);
}

/// A RESP3 subscriber that blocks still receives its Pub/Sub messages while it waits.
#[test]
fn resp3_subscriber_gets_messages_while_blocked() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut admin = s.conn();
    if !supports(
        &mut admin,
        "resp3_pubsub",
        &["BLPOP", "RPUSH", "SUBSCRIBE", "PUBLISH"],
    ) {
        return;
    }
    let mut c = s.conn();
    c.hello3();
    c.send(&[b"SUBSCRIBE", b"ch"]);
    assert!(matches!(c.read_value(), Value::Push(_)));
    send(&mut c, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.cmd(&["PUBLISH", "ch", "hi"]), Value::Int(1));
    assert_eq!(
        c.read_value(),
        Value::Push(vec![bulk("message"), bulk("ch"), bulk("hi")])
    );
    assert_eq!(blocked(&mut admin), 1);
    admin.cmd(&["RPUSH", "k", "v"]);
    assert_eq!(c.read_value(), pair("k", "v"));
}
