//! Differential tests of Pub/Sub against redis-server, in RESP2 and RESP3: subscription
//! confirmations, message frames, PUBLISH counts, the subscribed-mode gate and PUBSUB
//! introspection. Each side has a subscriber connection and a publisher connection; every reply
//! and every delivered frame is compared byte for byte.
//!
//! Not compared here, with the reason:
//! - UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE without arguments while subscribed to several
//!   names: Redis answers in its hash table's order; compared as a multiset instead.
//! - PUBSUB CHANNELS / SHARDCHANNELS: same (compared unordered).
//! - PUBSUB HELP: the help prose is ferrokv's own.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{escape, parse_value, show_command, Conn, Diff, Value};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

/// A subscriber/publisher pair on each server.
struct Sides {
    d: Diff,
    fsub: Conn,
    rsub: Conn,
}

impl Sides {
    fn new(d: Diff) -> Sides {
        let (fsub, rsub) = d.new_pair();
        Sides { d, fsub, rsub }
    }

    /// Sends `args` on both subscriber connections and compares `replies` frames.
    fn sub(&mut self, args: &[&str], replies: usize) {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.fsub.send(&argv);
        self.rsub.send(&argv);
        for i in 0..replies {
            let (f, r) = (self.fsub.read_reply(), self.rsub.read_reply());
            assert_eq!(
                escape(&f),
                escape(&r),
                "subscriber reply {i} of {} (ferrokv left, redis right)",
                show_command(&argv)
            );
        }
    }

    /// Sends `args` on both subscribers and reads `n` confirmations: the names are compared as
    /// a multiset, the running counts in order (they depend only on how many went before).
    fn sub_unordered(&mut self, args: &[&str], n: usize) {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.fsub.send(&argv);
        self.rsub.send(&argv);
        let split = |c: &mut Conn| {
            let mut names = Vec::new();
            let mut counts = Vec::new();
            for _ in 0..n {
                let raw = c.read_reply();
                let v = parse_value(&raw).unwrap().0;
                let parts = match v {
                    Value::Array(p) | Value::Push(p) => p,
                    other => panic!("not a confirmation: {other:?}"),
                };
                names.push((format!("{:?}", parts[0]), format!("{:?}", parts[1])));
                counts.push(format!("{:?}", parts[2]));
                // The frame kind (array or push) must match too.
                names.push((escape(&raw[..1]), String::new()));
            }
            names.sort();
            (names, counts)
        };
        let f = split(&mut self.fsub);
        let r = split(&mut self.rsub);
        assert_eq!(f, r, "{}", show_command(&argv));
    }

    /// Compares the next frame each subscriber receives.
    fn recv(&mut self, what: &str) {
        let (f, r) = (self.fsub.read_reply(), self.rsub.read_reply());
        assert_eq!(escape(&f), escape(&r), "delivered frame: {what}");
    }

    /// Checks that neither subscriber has anything more pending.
    fn quiet(&mut self) {
        let t = Duration::from_millis(100);
        let f = self.fsub.try_read_reply(t);
        let r = self.rsub.try_read_reply(t);
        assert_eq!(f.map(|x| escape(&x)), None, "ferrokv sent an extra frame");
        assert_eq!(r.map(|x| escape(&x)), None, "redis sent an extra frame");
    }
}

fn confirmations_and_messages(s: &mut Sides) {
    // Nothing to unsubscribe from: one confirmation with a null name.
    s.sub(&["UNSUBSCRIBE"], 1);
    s.sub(&["PUNSUBSCRIBE"], 1);
    s.sub(&["SUNSUBSCRIBE"], 1);
    s.sub(&["UNSUBSCRIBE", "nothere"], 1);
    s.sub(&["SUBSCRIBE", "c1", "c2", "c1"], 3);
    s.sub(&["PSUBSCRIBE", "c*", "h?llo", "c*"], 3);
    s.sub(&["SSUBSCRIBE", "s1", "s2"], 2);
    s.d.check(&["PUBLISH", "c1", "hello"]);
    s.recv("message c1");
    s.recv("pmessage c* c1");
    s.d.check(&["PUBLISH", "hallo", ""]);
    s.recv("pmessage h?llo");
    s.d.check(&["PUBLISH", "zzz", "nobody"]);
    s.d.check(&["SPUBLISH", "s2", "shard message"]);
    s.recv("smessage s2");
    s.d.check(&["SPUBLISH", "c1", "shard to a plain channel name"]);
    s.d.check_bin(&[b"PUBLISH", b"c2", b"bin\x00\r\nary"]);
    s.recv("binary message");
    s.recv("binary pmessage");
    s.quiet();
    // Errors and PING while subscribed.
    s.sub(&["GET", "k"], 1);
    s.sub(&["CONFIG", "GET", "maxclients"], 1);
    // RESP2: refused; RESP3: the client's own message and pmessage, then the count.
    let n = if s.d.is_resp3() { 3 } else { 1 };
    s.sub(&["PUBLISH", "c1", "x"], n);
    s.sub(&["NOSUCHCOMMAND"], 1);
    s.sub(&["GET"], 1);
    s.sub(&["SUBSCRIBE"], 1);
    s.sub(&["PING"], 1);
    s.sub(&["PING", "payload"], 1);
    s.sub(&["PING", "a", "b"], 1);
    // Counts as names go away.
    s.sub(&["UNSUBSCRIBE", "c2", "nothere"], 2);
    s.sub(&["PUNSUBSCRIBE", "h?llo"], 1);
    s.sub(&["SUNSUBSCRIBE", "s1"], 1);
    s.d.check(&["PUBSUB", "NUMSUB", "c1", "c2", "s2"]);
    s.d.check(&["PUBSUB", "NUMPAT"]);
    s.d.check(&["PUBSUB", "SHARDNUMSUB", "s1", "s2"]);
    s.d.check(&["PUBSUB", "CHANNELS", "c?"]);
    s.d.check(&["PUBSUB", "SHARDCHANNELS"]);
    s.d.check(&["PUBSUB", "NUMSUB"]);
    s.d.check(&["PUBSUB", "SHARDNUMSUB"]);
    s.d.check_error(&["PUBSUB", "CHANNELS", "a", "b"]);
    s.d.check_error(&["PUBSUB", "SHARDCHANNELS", "a", "b"]);
    s.d.check_error(&["PUBSUB", "NUMPAT", "x"]);
    s.d.check_error(&["PUBSUB", "NOPE"]);
    s.d.check_error(&["PUBSUB"]);
    s.d.check_error(&["PUBLISH", "c"]);
    s.d.check_error(&["SPUBLISH", "c", "m", "x"]);
    s.d.check_error(&["PSUBSCRIBE"]);
    s.d.check_error(&["SSUBSCRIBE"]);
    s.d.check(&["PUBLISH", "c1", "after"]);
    s.recv("message after partial unsubscribe");
    s.recv("pmessage after partial unsubscribe");
    // Unsubscribe from everything (single names left, so the order is fixed).
    s.sub(&["UNSUBSCRIBE"], 1);
    s.sub(&["PUNSUBSCRIBE"], 1);
    s.sub(&["SUNSUBSCRIBE"], 1);
    s.sub(&["PING"], 1);
    s.d.check(&["PUBLISH", "c1", "gone"]);
    s.quiet();
    // Several names: the no-argument form answers in an unspecified order.
    s.sub(&["SUBSCRIBE", "a", "b", "c"], 3);
    s.sub_unordered(&["UNSUBSCRIBE"], 3);
    s.sub(&["SUBSCRIBE", "a"], 1);
    s.sub(&["RESET"], 1);
    s.sub(&["PING"], 1);
    s.d.check(&["PUBLISH", "a", "after reset"]);
    s.quiet();
}

#[test]
fn diff_pubsub_resp2() {
    let d = ferrokv_testkit::diff_or_skip!(BIN);
    let mut s = Sides::new(d);
    confirmations_and_messages(&mut s);
}

#[test]
fn diff_pubsub_resp3() {
    let d = ferrokv_testkit::diff_or_skip!(resp3, BIN);
    let mut s = Sides::new(d);
    confirmations_and_messages(&mut s);
    // RESP3 subscribers can run anything; a publisher subscribed to its own channel gets the
    // push before the PUBLISH reply. (RESET went back to RESP2.)
    s.fsub.hello3();
    s.rsub.hello3();
    s.sub(&["SUBSCRIBE", "me"], 1);
    s.sub(&["SET", "k", "v"], 1);
    s.sub(&["GET", "k"], 1);
    s.sub(&["PUBLISH", "me", "to myself"], 2);
    s.d.check(&["PUBLISH", "me", "from the other connection"]);
    s.recv("push from another client");
    s.sub(&["PUBSUB", "NUMSUB", "me"], 1);
    s.sub(&["PING"], 1);
    s.sub(&["UNSUBSCRIBE", "me"], 1);
    s.quiet();
}
