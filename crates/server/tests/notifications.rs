//! Keyspace notifications compared with redis-server: a scripted sequence of string and
//! generic commands runs on both servers with the same `notify-keyspace-events`, and the
//! notification streams a pattern subscriber receives are compared message by message after
//! every command.
//!
//! Synchronisation: events are published inside the command, so once its reply is back every
//! event is queued for the subscriber; the subscriber then sends PING, whose RESP2
//! subscribed-mode reply (`pong ""`) marks the end of that command's events.
//!
//! Not covered: `A` together with `n` (tested in messaging_fixes.rs); `evicted` (no eviction
//! yet).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{escape, show_command, Conn, Diff};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");
const PONG: &[u8] = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n";

fn diff() -> Option<Diff> {
    let dbg = ["--enable-debug-command", "yes"];
    Diff::with_args(BIN, &dbg, &dbg)
}

/// Every frame the subscriber received before its PING's reply.
fn drain(sub: &mut Conn) -> Vec<String> {
    sub.send(&[b"PING"]);
    let mut out = Vec::new();
    loop {
        let r = sub.read_reply();
        if r == PONG {
            return out;
        }
        out.push(escape(&r));
    }
}

struct Run {
    d: Diff,
    fsub: Conn,
    rsub: Conn,
    events: usize,
    flags: String,
}

impl Run {
    fn start(flags: &str) -> Option<Run> {
        let mut d = diff()?;
        d.check(&["CONFIG", "SET", "notify-keyspace-events", flags]);
        d.check(&["CONFIG", "GET", "notify-keyspace-events"]);
        d.check(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        let (mut fsub, mut rsub) = d.new_pair();
        assert_eq!(
            escape(&fsub.cmd_raw(&[b"PSUBSCRIBE", b"__key*__:*"])),
            escape(&rsub.cmd_raw(&[b"PSUBSCRIBE", b"__key*__:*"]))
        );
        Some(Run {
            d,
            fsub,
            rsub,
            events: 0,
            flags: flags.to_string(),
        })
    }

    /// Runs one command on both servers (replies compared), then compares the events.
    fn step(&mut self, args: &[&str]) {
        self.d.check(args);
        self.compare(args);
    }

    fn compare(&mut self, args: &[&str]) {
        let f = drain(&mut self.fsub);
        let r = drain(&mut self.rsub);
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        assert_eq!(
            f,
            r,
            "events of {} (ferrokv left, redis right)",
            show_command(&argv)
        );
        self.events += f.len();
    }
}

fn script(r: &mut Run) {
    let steps: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["SET", "a", "2", "EX", "100"],
        &["SET", "a", "3", "KEEPTTL"],
        &["SET", "a", "4", "GET"],
        &["SET", "a", "5", "NX"],
        &["SET", "new", "5", "XX"],
        &["SET", "a", "6", "XX", "PX", "100000"],
        &["SETNX", "a", "3"],
        &["SETNX", "b", "3"],
        &["GETSET", "b", "4"],
        &["GETSET", "b2", "4"],
        &["GETDEL", "b"],
        &["GETDEL", "b"],
        &["MSET", "x", "1", "y", "2"],
        &["MSETNX", "x", "1", "z", "2"],
        &["MSETNX", "z1", "1", "z2", "2"],
        &["INCR", "n"],
        &["INCRBY", "n", "5"],
        &["DECR", "n"],
        &["DECRBY", "n", "2"],
        &["INCRBY", "n", "notanumber"],
        &["INCRBYFLOAT", "f", "1.5"],
        &["INCRBYFLOAT", "f", "1"],
        &["INCR", "a"],
        &["APPEND", "s", "abc"],
        &["APPEND", "s", "d"],
        &["SETRANGE", "s", "1", "zz"],
        &["SETRANGE", "s", "1", ""],
        &["SETRANGE", "s2", "2", "q"],
        &["SETRANGE", "s3", "0", ""],
        &["SETEX", "e", "100", "v"],
        &["PSETEX", "e2", "100000", "v"],
        &["SETEX", "e3", "0", "v"],
        &["GETEX", "e"],
        &["GETEX", "e", "PERSIST"],
        &["GETEX", "e", "PERSIST"],
        &["GETEX", "e", "EX", "50"],
        &["GETEX", "e", "PX", "50000"],
        &["GETEX", "e", "EXAT", "99999999999"],
        &["GETEX", "e", "PXAT", "1"],
        &["GETEX", "nokey", "EX", "5"],
        &["EXPIRE", "a", "100"],
        &["PEXPIRE", "a", "1000000"],
        &["EXPIRE", "a", "100", "NX"],
        &["EXPIRE", "a", "100", "GT"],
        &["PERSIST", "a"],
        &["PERSIST", "a"],
        &["EXPIREAT", "a", "99999999999"],
        &["PEXPIREAT", "a", "99999999999999"],
        &["EXPIRE", "a", "-1"],
        &["EXPIRE", "nokey", "10"],
        &["SET", "p", "1"],
        &["PEXPIREAT", "p", "1"],
        &["SET", "r", "1"],
        &["RENAME", "r", "r2"],
        &["SET", "r3", "x"],
        &["RENAME", "r2", "r3"],
        &["RENAME", "r3", "r3"],
        &["RENAMENX", "r3", "x"],
        &["RENAMENX", "r3", "r4"],
        &["RENAME", "nokey", "r5"],
        &["COPY", "x", "xc"],
        &["COPY", "x", "xc"],
        &["COPY", "x", "xc", "REPLACE"],
        &["COPY", "x", "xd", "DB", "1"],
        &["MOVE", "xd", "1"],
        &["MOVE", "y", "1"],
        &["SELECT", "1"],
        &["SET", "y", "in db 1"],
        &["DEL", "y", "xd"],
        &["SELECT", "0"],
        &["DEL", "x", "y", "nope"],
        &["UNLINK", "z1", "z2", "z3"],
        &["TOUCH", "a", "s"],
        &["GET", "s"],
        &["STRLEN", "s"],
    ];
    for s in steps {
        r.step(s);
    }
    // Lazy expiry (active expiry is off): the read that finds the key expired announces it, and
    // a write that finds it expired announces `expired` before its own events.
    r.step(&["SET", "t", "v", "PX", "1"]);
    r.step(&["SET", "t2", "v", "PX", "1"]);
    r.step(&["SET", "t3", "v", "PX", "1"]);
    // The TTLs are 1 ms: let wall-clock time pass.
    std::thread::sleep(Duration::from_millis(20));
    r.step(&["GET", "t"]);
    r.step(&["SET", "t2", "again"]);
    r.step(&["INCR", "t3"]);
    r.step(&["GET", "t"]);
    // Active expiry publishes from the periodic task.
    r.step(&["SET", "act", "v", "PX", "30"]);
    r.d.check(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    let flags = &r.flags;
    let expired = flags.contains('x') || flags.contains('A');
    let frames = if expired {
        usize::from(flags.contains('K')) + usize::from(flags.contains('E'))
    } else {
        0
    };
    if frames == 0 {
        // Nothing to wait for: make sure the key is gone on both before comparing.
        ferrokv_testkit::wait_until(Duration::from_secs(10), || {
            r.d.run(&["DBSIZE"]).0 == r.d.run(&["DBSIZE"]).1
        });
    }
    for i in 0..frames {
        let (f, rd) = (r.fsub.read_reply(), r.rsub.read_reply());
        assert_eq!(escape(&f), escape(&rd), "active expiry event {i}");
    }
    r.compare(&["(after active expiry)"]);
}

#[test]
fn notification_stream_matches_redis_with_kea() {
    let Some(mut r) = Run::start("KEA") else {
        return;
    };
    script(&mut r);
    assert!(r.events > 100, "the script produced {} events", r.events);
}

#[test]
fn notification_stream_matches_redis_with_class_subsets() {
    for flags in ["Kg", "E$", "Ex", "KEg$xn", "gK$n", "Ag"] {
        let Some(mut r) = Run::start(flags) else {
            return;
        };
        script(&mut r);
    }
}

#[test]
fn no_events_when_notifications_are_off() {
    let Some(mut r) = Run::start("") else {
        return;
    };
    r.step(&["SET", "a", "1"]);
    r.step(&["DEL", "a"]);
    assert_eq!(r.events, 0);
    // Classes without K or E publish nothing either.
    r.d.check(&["CONFIG", "SET", "notify-keyspace-events", "g$"]);
    r.step(&["SET", "a", "1"]);
    assert_eq!(r.events, 0);
}

#[test]
fn config_get_prints_the_normalised_flags() {
    let Some(mut d) = diff() else {
        return;
    };
    for flags in [
        "KEA",
        "AKE",
        "Ex",
        "xE",
        "gK",
        "$lshzxetdKE",
        "Ag$",
        "AKEmn",
        "nK",
        "m",
        "KEAm",
        "",
        "EKx$g",
    ] {
        d.check(&["CONFIG", "SET", "notify-keyspace-events", flags]);
        d.check(&["CONFIG", "GET", "notify-keyspace-events"]);
    }
    d.check_error(&["CONFIG", "SET", "notify-keyspace-events", "KEq"]);
}

#[test]
fn a_resp3_client_sees_its_own_events_with_its_reply() {
    // Redis writes the push into the client's output when the handler publishes: before the
    // reply for most commands (SET, DEL, INCR, ...), which ferrokv does for every command.
    // EXPIRE replies first in Redis: compared as a multiset (a known ordering difference).
    let Some(mut d) = diff() else {
        return;
    };
    d.check(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let (mut f, mut r) = d.new_pair();
    f.hello3();
    r.hello3();
    for (cmd, n, exact) in [
        (&["PSUBSCRIBE", "__keyevent@0__:*"][..], 1, true),
        (&["SET", "k", "v"], 2, true),
        (&["INCR", "n"], 2, true),
        (&["APPEND", "k", "w"], 2, true),
        (&["EXPIRE", "k", "100"], 2, false),
        (&["DEL", "k", "n"], 3, true),
        (&["GET", "k"], 1, true),
    ] {
        let argv: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
        f.send(&argv);
        r.send(&argv);
        let mut fv: Vec<String> = (0..n).map(|_| escape(&f.read_reply())).collect();
        let mut rv: Vec<String> = (0..n).map(|_| escape(&r.read_reply())).collect();
        if !exact {
            fv.sort();
            rv.sort();
        }
        assert_eq!(fv, rv, "{}", show_command(&argv));
    }
}
