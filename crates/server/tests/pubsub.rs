//! Pub/Sub against the real binary: fan-out with exact receiver counts and ordering, patterns,
//! RESP3 pushes interleaved with replies, the RESP2 subscribed-mode gate, PUBSUB introspection,
//! shard channels, and the output-buffer limit that disconnects a subscriber that never reads.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{encode_command, wait_until, Conn, ServerProc, Value};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn server() -> ServerProc {
    ServerProc::ferrokv(BIN, &[])
}

fn b(s: &str) -> Value {
    Value::bulk(s)
}

/// A RESP2 message frame.
fn message(ch: &str, msg: &str) -> Value {
    Value::Array(vec![b("message"), b(ch), b(msg)])
}

fn info_field(c: &mut Conn, section: &str, field: &str) -> String {
    let v = c.cmd(&["INFO", section]);
    let text = String::from_utf8(v.as_bytes().unwrap().to_vec()).unwrap();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(&format!("{field}:")) {
            return rest.to_string();
        }
    }
    panic!("INFO {section} has no {field}: {text}");
}

#[test]
fn fan_out_to_200_subscribers_counts_every_receiver_and_keeps_order() {
    let srv = server();
    let mut subs: Vec<Conn> = (0..200).map(|_| srv.conn()).collect();
    for s in subs.iter_mut() {
        assert_eq!(
            s.cmd(&["SUBSCRIBE", "news"]),
            Value::Array(vec![b("subscribe"), b("news"), Value::Int(1)])
        );
    }
    let mut p = srv.conn();
    assert_eq!(
        p.cmd(&["PUBSUB", "NUMSUB", "news"]).as_array().unwrap()[1],
        Value::Int(200)
    );
    for i in 0..100 {
        let n = p.cmd(&["PUBLISH", "news", &format!("m{i}")]);
        assert_eq!(n, Value::Int(200), "message {i}");
    }
    assert_eq!(p.cmd(&["PUBLISH", "other", "x"]), Value::Int(0));
    for (k, s) in subs.iter_mut().enumerate() {
        for i in 0..100 {
            assert_eq!(
                s.read_value(),
                message("news", &format!("m{i}")),
                "subscriber {k}"
            );
        }
        // Nothing else was delivered (PING's reply comes next).
        s.send(&[b"PING"]);
        assert_eq!(s.read_value(), Value::Array(vec![b("pong"), b("")]));
    }
}

#[test]
fn a_message_published_before_publish_returns_is_already_queued() {
    // PUBLISH returns only once the message sits in every subscriber's mailbox: a subscriber that
    // pings right after reads the message before its PONG.
    let srv = server();
    let mut s = srv.conn();
    s.cmd(&["SUBSCRIBE", "c"]);
    let mut p = srv.conn();
    for i in 0..200 {
        assert_eq!(p.cmd(&["PUBLISH", "c", &i.to_string()]), Value::Int(1));
        s.send(&[b"PING", b"x"]);
        assert_eq!(s.read_value(), message("c", &i.to_string()));
        assert_eq!(s.read_value(), Value::Array(vec![b("pong"), b("x")]));
    }
}

#[test]
fn patterns_count_each_match_and_arrive_after_the_channel_message() {
    let srv = server();
    let mut a = srv.conn();
    a.cmd(&["SUBSCRIBE", "news.tech"]);
    assert_eq!(
        a.cmd(&["PSUBSCRIBE", "news.*"]),
        Value::Array(vec![b("psubscribe"), b("news.*"), Value::Int(2)])
    );
    let mut c = srv.conn();
    c.cmd(&["PSUBSCRIBE", "news.*"]);
    c.cmd(&["PSUBSCRIBE", "n?ws.[st]ech"]);
    let mut p = srv.conn();
    // a: channel + pattern (counted twice); c: two patterns.
    assert_eq!(p.cmd(&["PUBLISH", "news.tech", "hi"]), Value::Int(4));
    assert_eq!(p.cmd(&["PUBLISH", "news.art", "yo"]), Value::Int(2));
    assert_eq!(p.cmd(&["PUBLISH", "nope", "x"]), Value::Int(0));
    assert_eq!(a.read_value(), message("news.tech", "hi"));
    let pm = |pat: &str, ch: &str, m: &str| Value::Array(vec![b("pmessage"), b(pat), b(ch), b(m)]);
    assert_eq!(a.read_value(), pm("news.*", "news.tech", "hi"));
    assert_eq!(a.read_value(), pm("news.*", "news.art", "yo"));
    assert_eq!(c.read_value(), pm("news.*", "news.tech", "hi"));
    assert_eq!(c.read_value(), pm("n?ws.[st]ech", "news.tech", "hi"));
    assert_eq!(c.read_value(), pm("news.*", "news.art", "yo"));
    // Distinct patterns, not subscriptions.
    assert_eq!(p.cmd(&["PUBSUB", "NUMPAT"]), Value::Int(2));
    assert_eq!(
        a.cmd(&["PUNSUBSCRIBE", "news.*"]),
        Value::Array(vec![b("punsubscribe"), b("news.*"), Value::Int(1)])
    );
    assert_eq!(p.cmd(&["PUBSUB", "NUMPAT"]), Value::Int(2));
    c.cmd(&["PUNSUBSCRIBE", "news.*"]);
    assert_eq!(p.cmd(&["PUBSUB", "NUMPAT"]), Value::Int(1));
    assert_eq!(p.cmd(&["PUBLISH", "news.tech", "again"]), Value::Int(2));
}

#[test]
fn resp3_subscribers_get_pushes_while_running_other_commands() {
    let srv = server();
    let mut s = srv.conn();
    s.hello3();
    assert_eq!(
        s.cmd(&["SUBSCRIBE", "ch"]),
        Value::Push(vec![b("subscribe"), b("ch"), Value::Int(1)])
    );
    assert_eq!(s.cmd(&["SET", "k", "v"]), Value::Simple("OK".into()));
    let mut p = srv.conn();
    assert_eq!(p.cmd(&["PUBLISH", "ch", "one"]), Value::Int(1));
    // The push is delivered before the reply of the subscriber's next command.
    s.send(&[b"GET", b"k"]);
    assert_eq!(
        s.read_value(),
        Value::Push(vec![b("message"), b("ch"), b("one")])
    );
    assert_eq!(s.read_value(), b("v"));
    // Publishing to itself: the push comes before PUBLISH's own reply, as in Redis.
    s.send(&[b"PUBLISH", b"ch", b"self"]);
    assert_eq!(
        s.read_value(),
        Value::Push(vec![b("message"), b("ch"), b("self")])
    );
    assert_eq!(s.read_value(), Value::Int(1));
    // An idle subscriber is woken by a publish from another thread.
    assert_eq!(p.cmd(&["PUBLISH", "ch", "two"]), Value::Int(1));
    assert_eq!(
        s.read_value(),
        Value::Push(vec![b("message"), b("ch"), b("two")])
    );
    assert_eq!(s.cmd(&["PING"]), Value::Simple("PONG".into()));
}

#[test]
fn resp2_subscribed_mode_only_allows_pubsub_commands() {
    let srv = server();
    let mut s = srv.conn();
    s.cmd(&["SSUBSCRIBE", "sh"]);
    for cmd in [
        vec!["GET", "k"],
        vec!["CONFIG", "GET", "port"],
        vec!["HELLO", "3"],
    ] {
        let name = if cmd[0] == "CONFIG" {
            "config|get".to_string()
        } else {
            cmd[0].to_lowercase()
        };
        assert_eq!(
            s.cmd(&cmd).error_text(),
            Some(format!("ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context").as_str())
        );
    }
    // Unknown commands and arity errors come first, as in Redis.
    assert!(s
        .cmd(&["NOPE"])
        .error_text()
        .unwrap()
        .starts_with("ERR unknown command"));
    assert_eq!(
        s.cmd(&["GET"]).error_text(),
        Some("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(s.cmd(&["PING"]), Value::Array(vec![b("pong"), b("")]));
    assert_eq!(
        s.cmd(&["PING", "hi"]),
        Value::Array(vec![b("pong"), b("hi")])
    );
    // RESET leaves subscribed mode without confirmations.
    assert_eq!(s.cmd(&["RESET"]), Value::Simple("RESET".into()));
    assert_eq!(s.cmd(&["GET", "k"]), parse_null());
    let mut p = srv.conn();
    assert_eq!(p.cmd(&["SPUBLISH", "sh", "x"]), Value::Int(0));
    // Unsubscribing from everything also leaves it.
    s.cmd(&["SUBSCRIBE", "a"]);
    assert_eq!(
        s.cmd(&["UNSUBSCRIBE"]),
        Value::Array(vec![b("unsubscribe"), b("a"), Value::Int(0)])
    );
    assert_eq!(s.cmd(&["PING"]), Value::Simple("PONG".into()));
    // QUIT is allowed.
    s.cmd(&["SUBSCRIBE", "a"]);
    assert_eq!(s.cmd(&["QUIT"]), Value::Simple("OK".into()));
    assert!(s.is_closed());
}

/// A RESP2 null bulk string.
fn parse_null() -> Value {
    ferrokv_testkit::parse_value(b"$-1\r\n").unwrap().0
}

#[test]
fn introspection_reports_channels_patterns_and_clients() {
    let srv = server();
    let mut a = srv.conn();
    let mut c = srv.conn();
    a.cmd(&["SUBSCRIBE", "alpha", "beta"]);
    a.cmd(&["PSUBSCRIBE", "al*"]);
    c.cmd(&["SUBSCRIBE", "alpha"]);
    c.cmd(&["SSUBSCRIBE", "s1", "s2"]);
    let mut p = srv.conn();
    let mut names: Vec<Vec<u8>> = p
        .cmd(&["PUBSUB", "CHANNELS"])
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_bytes().unwrap().to_vec())
        .collect();
    names.sort();
    assert_eq!(names, vec![b"alpha".to_vec(), b"beta".to_vec()]);
    assert_eq!(
        p.cmd(&["PUBSUB", "CHANNELS", "a*"]),
        Value::Array(vec![b("alpha")])
    );
    assert_eq!(
        p.cmd(&["PUBSUB", "NUMSUB", "alpha", "beta", "none"]),
        Value::Array(vec![
            b("alpha"),
            Value::Int(2),
            b("beta"),
            Value::Int(1),
            b("none"),
            Value::Int(0)
        ])
    );
    assert_eq!(p.cmd(&["PUBSUB", "NUMSUB"]), Value::Array(vec![]));
    assert_eq!(p.cmd(&["PUBSUB", "NUMPAT"]), Value::Int(1));
    assert_eq!(
        p.cmd(&["PUBSUB", "SHARDCHANNELS", "*2"]),
        Value::Array(vec![b("s2")])
    );
    assert_eq!(
        p.cmd(&["PUBSUB", "SHARDNUMSUB", "s1", "alpha"]),
        Value::Array(vec![b("s1"), Value::Int(1), b("alpha"), Value::Int(0)])
    );
    assert_eq!(
        p.cmd(&["PUBSUB", "CHANNELS", "a", "b"]).error_text(),
        Some(
            "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."
        )
    );
    assert_eq!(info_field(&mut p, "stats", "pubsub_channels"), "2");
    assert_eq!(info_field(&mut p, "stats", "pubsub_patterns"), "1");
    assert_eq!(info_field(&mut p, "stats", "pubsubshard_channels"), "2");
    assert_eq!(info_field(&mut p, "clients", "pubsub_clients"), "2");
    let list = p.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]);
    let list = String::from_utf8(list.as_bytes().unwrap().to_vec()).unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains("flags=P db=0 sub=2 psub=1 ssub=0"), "{list}");
    assert!(list.contains("flags=P db=0 sub=1 psub=0 ssub=2"), "{list}");
    // A subscriber that disconnects leaves the registry.
    drop(a);
    drop(c);
    assert!(wait_until(Duration::from_secs(5), || {
        p.cmd(&["PUBSUB", "NUMSUB", "alpha"]).as_array().unwrap()[1] == Value::Int(0)
    }));
    assert_eq!(p.cmd(&["PUBSUB", "NUMPAT"]), Value::Int(0));
    assert_eq!(p.cmd(&["PUBSUB", "CHANNELS"]), Value::Array(vec![]));
    assert_eq!(p.cmd(&["PUBSUB", "SHARDCHANNELS"]), Value::Array(vec![]));
    assert_eq!(info_field(&mut p, "clients", "pubsub_clients"), "0");
}

#[test]
fn shard_channels_are_separate_from_channels() {
    let srv = server();
    let mut s = srv.conn();
    assert_eq!(
        s.cmd(&["SSUBSCRIBE", "x", "y"]),
        Value::Array(vec![b("ssubscribe"), b("x"), Value::Int(1)])
    );
    assert_eq!(
        s.read_value(),
        Value::Array(vec![b("ssubscribe"), b("y"), Value::Int(2)])
    );
    // SUBSCRIBE counts do not include shard channels.
    s.send(&[b"SUBSCRIBE", b"x"]);
    assert_eq!(
        s.read_value(),
        Value::Array(vec![b("subscribe"), b("x"), Value::Int(1)])
    );
    let mut p = srv.conn();
    assert_eq!(p.cmd(&["SPUBLISH", "x", "shard"]), Value::Int(1));
    assert_eq!(p.cmd(&["PUBLISH", "x", "plain"]), Value::Int(1));
    assert_eq!(p.cmd(&["SPUBLISH", "z", "nobody"]), Value::Int(0));
    assert_eq!(
        s.read_value(),
        Value::Array(vec![b("smessage"), b("x"), b("shard")])
    );
    assert_eq!(s.read_value(), message("x", "plain"));
    s.send(&[b"SUNSUBSCRIBE"]);
    let got = [s.read_value(), s.read_value()];
    let mut names: Vec<Value> = got
        .iter()
        .map(|v| v.as_array().unwrap()[1].clone())
        .collect();
    names.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(names, vec![b("x"), b("y")]);
    assert_eq!(got[0].as_array().unwrap()[2], Value::Int(1));
    assert_eq!(got[1].as_array().unwrap()[2], Value::Int(0));
    assert_eq!(
        s.cmd(&["SUNSUBSCRIBE"]),
        Value::Array(vec![b("sunsubscribe"), parse_null(), Value::Int(0)])
    );
    assert_eq!(p.cmd(&["SPUBLISH", "x", "gone"]), Value::Int(0));
}

fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    for line in status.lines() {
        if let Some(v) = line.strip_prefix("VmHWM:") {
            return v.trim().trim_end_matches("kB").trim().parse().unwrap();
        }
    }
    panic!("no VmHWM in /proc/{pid}/status");
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    for line in status.lines() {
        if let Some(v) = line.strip_prefix("VmRSS:") {
            return v.trim().trim_end_matches("kB").trim().parse().unwrap();
        }
    }
    panic!("no VmRSS in /proc/{pid}/status");
}

/// Publishes `total` bytes in 64 KB messages on `ch`, pipelined in groups; returns the receiver
/// counts.
fn publish_bytes(p: &mut Conn, ch: &str, total: usize) -> Vec<i64> {
    let payload = vec![b'x'; 64 * 1024];
    let n = total / payload.len();
    let mut counts = Vec::new();
    for chunk in 0..n.div_ceil(16) {
        let k = 16.min(n - chunk * 16);
        let mut req = Vec::new();
        for _ in 0..k {
            req.extend_from_slice(&encode_command(&[b"PUBLISH", ch.as_bytes(), &payload]));
        }
        p.send_raw(&req);
        for _ in 0..k {
            counts.push(p.read_value().as_int().unwrap());
        }
    }
    counts
}

#[test]
fn a_subscriber_that_never_reads_is_disconnected_and_memory_stays_bounded() {
    let srv = server();
    let pid = srv.pid();
    let mut p = srv.conn();
    assert_eq!(
        p.cmd(&["CONFIG", "GET", "client-output-buffer-limit"])
            .as_array()
            .unwrap()[1],
        b("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
    );
    p.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 4mb 2mb 60",
    ]);
    let mut slow = srv.conn();
    slow.cmd(&["SUBSCRIBE", "firehose"]);
    let mut healthy = srv.conn();
    healthy.cmd(&["SUBSCRIBE", "other"]);
    let base = rss_kb(pid);
    // 50 MB into a subscriber that never reads.
    let counts = publish_bytes(&mut p, "firehose", 50 * 1024 * 1024);
    assert_eq!(counts[0], 1);
    assert_eq!(
        *counts.last().unwrap(),
        0,
        "the slow subscriber was dropped"
    );
    assert_eq!(
        info_field(&mut p, "stats", "client_output_buffer_limit_disconnections"),
        "1"
    );
    assert!(slow.is_closed_within(Duration::from_secs(10)));
    let peak = peak_rss_kb(pid);
    // Socket buffers absorb a few MB, the mailbox at most the 4 MB hard limit (plus one chunk
    // being written): far below the 50 MB published.
    assert!(
        peak < base + 30 * 1024,
        "peak RSS {peak} kB, {base} kB before publishing"
    );
    // Other subscribers are unaffected.
    assert_eq!(p.cmd(&["PUBLISH", "other", "still here"]), Value::Int(1));
    assert_eq!(healthy.read_value(), message("other", "still here"));
    assert!(
        srv.logs().contains("output buffer limits"),
        "{}",
        srv.logs()
    );
}

#[test]
fn the_soft_limit_disconnects_after_its_seconds() {
    let srv = server();
    let mut p = srv.conn();
    p.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 0 1mb 1",
    ]);
    assert_eq!(
        p.cmd(&["CONFIG", "GET", "client-output-buffer-limit"])
            .as_array()
            .unwrap()[1],
        b("normal 0 0 0 slave 268435456 67108864 60 pubsub 0 1048576 1")
    );
    let mut slow = srv.conn();
    slow.cmd(&["SUBSCRIBE", "c"]);
    // Enough to fill the socket buffers and go over 1 MB queued; no hard limit, so the client
    // stays until it has been over the soft limit for more than a second (publishing may take
    // that long on a loaded machine: then it is dropped while we publish).
    let start = std::time::Instant::now();
    let counts = publish_bytes(&mut p, "c", 24 * 1024 * 1024);
    assert_eq!(counts[0], 1);
    assert!(wait_until(Duration::from_secs(10), || {
        p.cmd(&["PUBLISH", "c", "tick"]) == Value::Int(0)
    }));
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "dropped before the soft limit's seconds"
    );
    assert_eq!(
        info_field(&mut p, "stats", "client_output_buffer_limit_disconnections"),
        "1"
    );
    assert!(slow.is_closed_within(Duration::from_secs(10)));
}

#[test]
fn the_normal_class_hard_limit_closes_a_client_with_a_huge_reply() {
    let srv = server();
    let mut c = srv.conn();
    c.cmd(&["SET", "big", &"v".repeat(2 * 1024 * 1024)]);
    c.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "normal 1mb 0 0",
    ]);
    c.send(&[b"GET", b"big"]);
    assert!(c.is_closed());
    let mut d = srv.conn();
    assert_eq!(
        info_field(&mut d, "stats", "client_output_buffer_limit_disconnections"),
        "1"
    );
    d.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "normal 0 0 0",
    ]);
    assert_eq!(d.cmd(&["STRLEN", "big"]), Value::Int(2 * 1024 * 1024));
}

#[test]
fn concurrent_publishers_lose_nothing_and_keep_each_publishers_order() {
    let srv = server();
    let mut subs: Vec<Conn> = (0..20).map(|_| srv.conn()).collect();
    for s in subs.iter_mut() {
        s.cmd(&["SUBSCRIBE", "multi"]);
    }
    let addr = srv.addr();
    let publishers: Vec<_> = (0..4)
        .map(|p| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut c = Conn::connect(&addr);
                for i in 0..500 {
                    let n = c.cmd(&["PUBLISH", "multi", &format!("{p}:{i}")]);
                    assert_eq!(n, Value::Int(20));
                }
            })
        })
        .collect();
    for t in publishers {
        t.join().unwrap();
    }
    for s in subs.iter_mut() {
        let mut next = [0usize; 4];
        for _ in 0..2000 {
            let v = s.read_value();
            let parts = v.as_array().unwrap();
            let text = parts[2].as_str().unwrap().to_string();
            let (p, i) = text.split_once(':').unwrap();
            let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
            assert_eq!(i, next[p], "publisher {p}'s messages out of order");
            next[p] += 1;
        }
        assert_eq!(next, [500; 4]);
    }
}
