//! Differential tests of client-side caching against redis-server, in RESP2 and RESP3: the
//! replies of CLIENT TRACKING / CACHING / TRACKINGINFO / GETREDIR (errors included) and the
//! invalidation frames a tracking client (or its redirect target) receives for writes made by
//! another connection, compared byte for byte.
//!
//! Not compared, with the reason: the client ids themselves (they differ between the servers;
//! each side redirects to its own subscriber's id, and frames carrying an id are compared after
//! replacing it).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{escape, show_command, Conn, Diff};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

/// A second connection on each server (the writer, or a redirect target).
struct Pair {
    f: Conn,
    r: Conn,
}

impl Pair {
    fn new(d: &Diff) -> Pair {
        let (f, r) = d.new_pair();
        Pair { f, r }
    }

    fn check(&mut self, args: &[&str]) {
        let a: Vec<&[u8]> = args.iter().map(|x| x.as_bytes()).collect();
        let (f, r) = (self.f.cmd_raw(&a), self.r.cmd_raw(&a));
        assert_eq!(escape(&f), escape(&r), "{}", show_command(&a));
    }

    fn recv(&mut self, what: &str) {
        let (f, r) = (self.f.read_reply(), self.r.read_reply());
        assert_eq!(escape(&f), escape(&r), "frame: {what}");
    }

    fn ids(&mut self) -> (String, String) {
        let f = self.f.cmd(&["CLIENT", "ID"]).as_int().unwrap();
        let r = self.r.cmd(&["CLIENT", "ID"]).as_int().unwrap();
        (f.to_string(), r.to_string())
    }
}

/// A frame's text with the integer `id` replaced by `ID`.
fn norm(frame: &[u8], id: &str) -> String {
    escape(frame).replace(&format!(":{id}\\r\\n"), ":ID\\r\\n")
}

/// The next frame on each main connection (an invalidation push).
fn recv(d: &mut Diff, what: &str) {
    let (f, r) = (d.ferrokv().read_reply(), d.redis().read_reply());
    assert_eq!(escape(&f), escape(&r), "frame: {what}");
}

fn errors(d: &mut Diff) {
    for case in [
        &["CLIENT", "TRACKING"][..],
        &["CLIENT", "TRACKING", "maybe"],
        &["CLIENT", "TRACKING", "ON", "BLAH"],
        &["CLIENT", "TRACKING", "ON", "PREFIX"],
        &["CLIENT", "TRACKING", "ON", "PREFIX", "a"],
        &["CLIENT", "TRACKING", "ON", "REDIRECT"],
        &["CLIENT", "TRACKING", "ON", "REDIRECT", "x"],
        &["CLIENT", "TRACKING", "ON", "REDIRECT", "99999"],
        &["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"],
        &["CLIENT", "TRACKING", "ON", "BCAST", "OPTOUT"],
        &["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a",
        ],
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "ab",
        ],
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "x", "PREFIX", "x",
        ],
        &["CLIENT", "CACHING"],
        &["CLIENT", "CACHING", "YES"],
        &["CLIENT", "CACHING", "NO"],
        &["CLIENT", "CACHING", "maybe"],
        &["CLIENT", "GETREDIR", "x"],
        &["CLIENT", "TRACKINGINFO", "x"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "GETREDIR"],
        &["CLIENT", "TRACKING", "OFF"],
    ] {
        d.check(case);
    }
}

fn modes(d: &mut Diff) {
    let resp3 = d.is_resp3();
    let mut w = Pair::new(d);
    // Default mode.
    d.check(&["CLIENT", "TRACKING", "ON"]);
    d.check(&["CLIENT", "TRACKINGINFO"]);
    d.check(&["CLIENT", "GETREDIR"]);
    d.check(&["CLIENT", "TRACKING", "ON", "BCAST"]);
    d.check(&["CLIENT", "CACHING", "YES"]);
    d.check(&["GET", "k1"]);
    d.check(&["MGET", "k2", "k3"]);
    w.check(&["MSET", "k1", "1", "k2", "2"]);
    if resp3 {
        recv(d, "k1");
        recv(d, "k2");
    }
    d.check(&["PING"]);
    // Own write after the reply.
    d.check(&["SET", "k3", "x"]);
    if resp3 {
        recv(d, "own k3");
    }
    d.check(&["CLIENT", "TRACKING", "ON", "NOLOOP"]);
    d.check(&["CLIENT", "TRACKINGINFO"]);
    d.check(&["GET", "k3"]);
    d.check(&["SET", "k3", "y"]);
    d.check(&["PING"]);
    d.check(&["CLIENT", "TRACKING", "OFF"]);
    // OPTIN / OPTOUT.
    d.check(&["CLIENT", "TRACKING", "ON", "OPTIN"]);
    d.check(&["CLIENT", "CACHING", "NO"]);
    d.check(&["CLIENT", "CACHING", "YES"]);
    d.check(&["CLIENT", "TRACKINGINFO"]);
    d.check(&["GET", "o1"]);
    d.check(&["GET", "o2"]);
    d.check(&["CLIENT", "TRACKING", "ON", "OPTOUT"]);
    w.check(&["MSET", "o1", "1", "o2", "2"]);
    if resp3 {
        recv(d, "optin o1");
    }
    d.check(&["PING"]);
    d.check(&["CLIENT", "TRACKING", "OFF"]);
    d.check(&["CLIENT", "TRACKING", "ON", "OPTOUT"]);
    d.check(&["CLIENT", "CACHING", "NO"]);
    d.check(&["CLIENT", "TRACKINGINFO"]);
    d.check(&["GET", "o1"]);
    d.check(&["GET", "o2"]);
    w.check(&["MSET", "o1", "1", "o2", "2"]);
    if resp3 {
        recv(d, "optout o2");
    }
    d.check(&["PING"]);
    d.check(&["CLIENT", "TRACKING", "OFF"]);
    // BCAST with prefixes.
    d.check(&[
        "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "b:", "PREFIX", "c:",
    ]);
    d.check(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "b:x"]);
    d.check(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "d:"]);
    d.check(&["CLIENT", "TRACKING", "ON"]);
    d.check(&["CLIENT", "TRACKINGINFO"]);
    w.check(&["MSET", "b:2", "1", "c:1", "1", "zz", "1", "b:1", "1"]);
    if resp3 {
        recv(d, "bcast b:");
        recv(d, "bcast c:");
    }
    d.check(&["PING"]);
    // Flush: a null.
    w.check(&["FLUSHALL"]);
    if resp3 {
        recv(d, "flush");
    }
    d.check(&["PING"]);
    d.check(&["CLIENT", "TRACKING", "OFF"]);
    d.check(&["CLIENT", "TRACKINGINFO"]);
}

fn redirect(d: &mut Diff) {
    let resp3 = d.is_resp3();
    let mut sub = Pair::new(d);
    let mut w = Pair::new(d);
    let (fid, rid) = sub.ids();
    sub.check(&["SUBSCRIBE", "__redis__:invalidate"]);
    let (f, r) = (
        d.ferrokv()
            .cmd_raw(&[b"CLIENT", b"TRACKING", b"ON", b"REDIRECT", fid.as_bytes()]),
        d.redis()
            .cmd_raw(&[b"CLIENT", b"TRACKING", b"ON", b"REDIRECT", rid.as_bytes()]),
    );
    assert_eq!(escape(&f), escape(&r));
    let (f, r) = (
        d.ferrokv().cmd_raw(&[b"CLIENT", b"GETREDIR"]),
        d.redis().cmd_raw(&[b"CLIENT", b"GETREDIR"]),
    );
    assert_eq!(norm(&f, &fid), norm(&r, &rid));
    d.check(&["GET", "r1"]);
    w.check(&["SET", "r1", "1"]);
    sub.recv("redirected r1");
    w.check(&["FLUSHDB"]);
    sub.recv("redirected flush");
    // The target leaves: RESP3 tracking clients hear of it at the next invalidation.
    drop(sub);
    let gone = |c: &mut Conn, id: &str| {
        ferrokv_testkit::wait_until(std::time::Duration::from_secs(5), || {
            c.cmd(&["CLIENT", "LIST", "ID", id])
                .as_bytes()
                .is_some_and(|l| l.is_empty())
        })
    };
    assert!(gone(&mut w.f, &fid) && gone(&mut w.r, &rid));
    d.check(&["GET", "r2"]);
    w.check(&["SET", "r2", "1"]);
    if resp3 {
        let (f, r) = (d.ferrokv().read_reply(), d.redis().read_reply());
        assert_eq!(norm(&f, &fid), norm(&r, &rid));
    }
    d.check(&["PING"]);
    let (f, r) = (
        d.ferrokv().cmd_raw(&[b"CLIENT", b"TRACKINGINFO"]),
        d.redis().cmd_raw(&[b"CLIENT", b"TRACKINGINFO"]),
    );
    assert_eq!(norm(&f, &fid), norm(&r, &rid));
    d.check(&["CLIENT", "TRACKING", "OFF"]);
}

#[test]
fn diff_tracking_resp2() {
    let mut d = ferrokv_testkit::diff_or_skip!(BIN);
    errors(&mut d);
    modes(&mut d);
    redirect(&mut d);
}

#[test]
fn diff_tracking_resp3() {
    let mut d = ferrokv_testkit::diff_or_skip!(resp3, BIN);
    errors(&mut d);
    modes(&mut d);
    redirect(&mut d);
}
