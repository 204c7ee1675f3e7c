//! Differential tests of MULTI / EXEC / DISCARD / WATCH / UNWATCH against redis-server, in RESP2
//! and RESP3: reply shapes, every error text, EXECABORT, in-place runtime errors, and WATCH
//! invalidation by a second client.
//!
//! Not compared here, with the reason:
//! - SUBSCRIBE and the collection commands inside MULTI: implemented by other groups (their
//!   own suites cover them); only string / generic / server commands are queued here.
//! - CLIENT INFO inside EXEC: connection-specific fields (addr, fd, memory) differ by design;
//!   tests/transactions.rs checks flags=x, multi= and cmd=exec instead.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{Conn, Diff, Value};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn cases(d: &mut Diff) {
    d.check_error(&["EXEC"]);
    d.check_error(&["DISCARD"]);
    d.check_error(&["EXEC", "x"]);
    d.check_error(&["MULTI", "x"]);
    d.check_error(&["WATCH"]);
    d.check(&["UNWATCH"]);
    d.check_error(&["UNWATCH", "x"]);
    // Queueing, nested MULTI, WATCH inside MULTI, results in place.
    d.check(&["MULTI"]);
    d.check_error(&["MULTI"]);
    d.check_error(&["WATCH", "a"]);
    d.check(&["SET", "a", "1"]);
    d.check(&["INCR", "a"]);
    d.check(&["INCRBYFLOAT", "a", "0.5"]);
    d.check(&["GET", "a"]);
    d.check(&["GET", "nokey"]);
    d.check(&["DEL", "nokey"]);
    d.check(&["PING"]);
    d.check(&["ECHO", "hi"]);
    d.check(&["EXEC"]);
    // Runtime errors in place, no rollback.
    d.check(&["MULTI"]);
    d.check(&["SET", "s", "abc"]);
    d.check(&["INCR", "s"]);
    d.check(&["APPEND", "s", "d"]);
    d.check(&["SETRANGE", "s", "-1", "x"]);
    d.check(&["RENAME", "nokey", "x"]);
    d.check(&["GET", "s"]);
    d.check(&["EXEC"]);
    d.check(&["GET", "s"]);
    // Empty transaction, DISCARD.
    d.check(&["MULTI"]);
    d.check(&["EXEC"]);
    d.check(&["MULTI"]);
    d.check(&["SET", "d", "1"]);
    d.check(&["DISCARD"]);
    d.check(&["EXISTS", "d"]);
    d.check_error(&["EXEC"]);
    // EXECABORT after each kind of rejection.
    for bad in [
        &["NOSUCHCOMMAND", "x"][..],
        &["GET"][..],
        &["SET", "k"][..],
        &["CONFIG", "NOSUCHSUB"][..],
        &["SHUTDOWN"][..],
    ] {
        d.check(&["MULTI"]);
        d.check(&["SET", "k", "v"]);
        d.check_error(bad);
        d.check(&["SET", "k2", "v"]);
        d.check_error(&["EXEC"]);
        d.check(&["EXISTS", "k", "k2"]);
    }
    // A rejected EXEC discards the transaction (Redis's execCommandAbort); a rejected DISCARD
    // flags it.
    d.check(&["MULTI"]);
    d.check(&["SET", "e", "1"]);
    d.check_error(&["EXEC", "x"]);
    d.check_error(&["EXEC"]);
    d.check(&["EXISTS", "e"]);
    d.check(&["MULTI"]);
    d.check(&["SET", "e", "1"]);
    d.check_error(&["DISCARD", "x"]);
    d.check_error(&["EXEC"]);
    d.check(&["EXISTS", "e"]);
    // Arity errors of the commands that run at once inside MULTI flag it too.
    for bad in [&["WATCH"][..], &["MULTI", "x"][..], &["UNWATCH", "x"][..]] {
        d.check(&["MULTI"]);
        d.check_error(bad);
        d.check(&["SET", "f", "1"]);
        d.check_error(&["EXEC"]);
        d.check(&["EXISTS", "f"]);
    }
    // DISCARD after a rejection ends the transaction cleanly.
    d.check(&["MULTI"]);
    d.check_error(&["GET"]);
    d.check(&["DISCARD"]);
    d.check(&["MULTI"]);
    d.check(&["EXEC"]);
    // A nested MULTI or WATCH error does not abort the transaction.
    d.check(&["MULTI"]);
    d.check_error(&["MULTI"]);
    d.check_error(&["WATCH", "x"]);
    d.check(&["SET", "n", "1"]);
    d.check(&["EXEC"]);
    // UNWATCH inside MULTI is queued.
    d.check(&["MULTI"]);
    d.check(&["UNWATCH"]);
    d.check(&["EXEC"]);
    // SELECT inside MULTI, errors of SELECT in place.
    d.check(&["MULTI"]);
    d.check(&["SELECT", "1"]);
    d.check(&["SET", "a", "db1"]);
    d.check(&["SELECT", "99"]);
    d.check(&["SELECT", "x"]);
    d.check(&["GET", "a"]);
    d.check(&["SELECT", "0"]);
    d.check(&["GET", "a"]);
    d.check(&["EXEC"]);
    // WAIT answers at once inside a transaction.
    d.check(&["MULTI"]);
    d.check(&["WAIT", "1", "0"]);
    d.check(&["EXEC"]);
    // WATCH on a key modified by the client itself.
    d.check(&["WATCH", "w", "w", "other"]);
    d.check(&["SET", "w", "1"]);
    d.check(&["MULTI"]);
    d.check(&["GET", "w"]);
    d.check(&["EXEC"]);
    d.check(&["MULTI"]);
    d.check(&["GET", "w"]);
    d.check(&["EXEC"]);
    // RESET ends a transaction.
    d.check(&["MULTI"]);
    d.check(&["SET", "r", "1"]);
    d.check(&["RESET"]);
    if d.is_resp3() {
        d.run(&["HELLO", "3"]); // version and id differ by design
    }
    d.check_error(&["EXEC"]);
    d.check(&["EXISTS", "r"]);
    d.check_keyspace();
}

/// Runs `args` on a second pair of connections (ferrokv, redis) and checks they agree.
fn both(f: &mut Conn, r: &mut Conn, args: &[&str]) {
    let (a, b) = (f.cmd(args), r.cmd(args));
    assert_eq!(a, b, "{args:?}");
}

fn watch_cases(d: &mut Diff) {
    let (mut f, mut r) = d.new_pair();
    let touches: &[&[&[&str]]] = &[
        &[&["SET", "k", "2"]],
        &[&["DEL", "k"]],
        &[&["EXPIRE", "k", "100"]],
        &[&["RENAME", "k", "k2"]],
        &[&["SET", "o", "1"], &["RENAME", "o", "k"]],
        &[&["FLUSHDB"]],
        &[&["FLUSHALL"]],
        &[&["SWAPDB", "0", "1"]],
        &[&["MOVE", "k", "1"]],
        // Not modifications:
        &[&["GET", "k"]],
        &[&["SET", "k", "x", "NX"]],
        &[&["SET", "other", "1"]],
        &[&["PERSIST", "k"]],
        &[&["SELECT", "1"], &["FLUSHDB"], &["SELECT", "0"]],
        &[&["DEL", "k"], &["FLUSHDB"]],
    ];
    for touch in touches {
        d.run(&["FLUSHALL"]);
        d.check(&["SET", "k", "1"]);
        d.check(&["WATCH", "k"]);
        for t in *touch {
            both(&mut f, &mut r, t);
        }
        d.check(&["MULTI"]);
        d.check(&["GET", "k"]);
        d.check(&["EXEC"]);
    }
    // A watched key that expires.
    d.run(&["FLUSHALL"]);
    d.check(&["SET", "t", "v", "PX", "50"]);
    d.check(&["WATCH", "t"]);
    assert!(ferrokv_testkit::wait_until(
        std::time::Duration::from_secs(5),
        || d.run(&["PTTL", "t"]) == (Value::Int(-2), Value::Int(-2))
    ));
    d.check(&["MULTI"]);
    d.check(&["GET", "t"]);
    d.check(&["EXEC"]);
    // Watching a missing key that stays missing.
    d.check(&["WATCH", "missing"]);
    d.check(&["MULTI"]);
    d.check(&["EXEC"]);
    assert!(matches!(d.run(&["PING"]).0, Value::Simple(_)));
}

#[test]
fn diff_transactions_resp2() {
    let mut d = ferrokv_testkit::diff_or_skip!(BIN);
    cases(&mut d);
    watch_cases(&mut d);
}

#[test]
fn diff_transactions_resp3() {
    let mut d = ferrokv_testkit::diff_or_skip!(resp3, BIN);
    cases(&mut d);
    watch_cases(&mut d);
}

/// One random step for client `a` (the transaction side) or `b` (the interfering side).
fn random_step(g: &mut ferrokv_testkit::Gen, transactional: bool) -> Vec<String> {
    let k = g.key();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    if transactional {
        match g.below(14) {
            0 | 1 => s(&["MULTI"]),
            2 | 3 => s(&["EXEC"]),
            4 => s(&["DISCARD"]),
            5 | 6 => s(&["WATCH", &k]),
            7 => s(&["UNWATCH"]),
            8 => s(&["GET"]), // a rejection
            9 => s(&["INCR", &k]),
            10 => s(&["SET", &k, &g.value()]),
            11 => s(&["GET", &k]),
            12 => s(&["APPEND", &k, "x"]),
            _ => s(&["SELECT", &g.int(0, 2).to_string()]),
        }
    } else {
        let k2 = g.key();
        match g.below(12) {
            0 => s(&["SET", &k, &g.value()]),
            1 => s(&["DEL", &k]),
            2 => s(&["INCR", &k]),
            3 => s(&["RENAME", &k, &k2]),
            4 => s(&["GET", &k]),
            5 => s(&["EXPIRE", &k, "100"]),
            6 => s(&["PERSIST", &k]),
            7 => s(&["SET", &k, "v", "NX"]),
            8 => s(&["MOVE", &k, "1"]),
            9 => s(&["FLUSHDB"]),
            10 => s(&["SWAPDB", "0", "1"]),
            _ => s(&["MSET", &k, "1", &k2, "2"]),
        }
    }
}

/// Random interleavings of a transactional client and an interfering one, every reply
/// compared with redis-server.
fn random_interleavings(d: &mut Diff, seed: u64) {
    let (mut f, mut r) = d.new_pair();
    let mut g = ferrokv_testkit::Gen::new(seed, 6);
    for step in 0..1500 {
        let transactional = g.chance(70);
        let argv = random_step(&mut g, transactional);
        let argv: Vec<&str> = argv.iter().map(|s| s.as_str()).collect();
        if transactional {
            if let Err(e) = d.try_check(&argv, ferrokv_testkit::Compare::Exact) {
                panic!("seed {seed} step {step}: {e}");
            }
        } else {
            let (a, b) = (f.cmd(&argv), r.cmd(&argv));
            assert_eq!(a, b, "seed {seed} step {step}: {argv:?}");
        }
    }
    d.run(&["DISCARD"]);
    d.run(&["SELECT", "0"]);
    d.check_keyspace();
}

#[test]
fn diff_transactions_random_interleavings() {
    let mut d = ferrokv_testkit::diff_or_skip!(BIN);
    for seed in 1..=4 {
        random_interleavings(&mut d, seed);
    }
    let mut d = ferrokv_testkit::diff_or_skip!(resp3, BIN);
    random_interleavings(&mut d, 99);
}
