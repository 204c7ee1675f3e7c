//! Client-side caching (CLIENT TRACKING) with several clients: reads by a tracking client then
//! writes by another produce invalidation messages (RESP3 pushes, or `__redis__:invalidate`
//! messages to a RESP2 redirect target), in every mode (default, BCAST with prefixes,
//! OPTIN/OPTOUT, NOLOOP), on flushes (null key list), on expiry, and when the tracking table
//! goes over `tracking-table-max-keys`.
//!
//! Synchronisation: an invalidation is queued before the writing command replies, so after the
//! writer's reply the message is read with a bounded wait; "nothing arrives" is asserted by a
//! PING whose reply must come first.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{escape, wait_until, Conn, ServerProc};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn server() -> ServerProc {
    ServerProc::ferrokv(BIN, &[])
}

fn raw(c: &mut Conn, args: &[&str]) -> String {
    let a: Vec<&[u8]> = args.iter().map(|x| x.as_bytes()).collect();
    escape(&c.cmd_raw(&a))
}

fn next(c: &mut Conn) -> String {
    escape(&c.read_reply())
}

/// The RESP3 invalidation push for `keys`.
fn push(keys: &[&str]) -> String {
    let mut s = format!(">2\\r\\n$10\\r\\ninvalidate\\r\\n*{}\\r\\n", keys.len());
    for k in keys {
        s.push_str(&format!("${}\\r\\n{}\\r\\n", k.len(), k));
    }
    s
}

/// Asserts that nothing is pending for `c`: its PING reply comes first.
fn nothing_pending(c: &mut Conn) {
    assert_eq!(raw(c, &["PING"]), "+PONG\\r\\n");
}

fn id(c: &mut Conn) -> i64 {
    c.cmd(&["CLIENT", "ID"]).as_int().unwrap()
}

fn info_field(c: &mut Conn, name: &str) -> i64 {
    let v = c.cmd(&["INFO", "all"]);
    let text = String::from_utf8_lossy(v.as_bytes().unwrap()).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn default_mode_invalidates_keys_read_by_the_client_once() {
    let s = server();
    let (mut a, mut b) = (s.conn(), s.conn());
    a.hello3();
    assert_eq!(raw(&mut a, &["CLIENT", "TRACKING", "ON"]), "+OK\\r\\n");
    raw(&mut a, &["GET", "k1"]);
    raw(&mut a, &["MGET", "k2", "k3"]);
    raw(&mut a, &["SET", "w", "1"]); // a write: not remembered
    assert_eq!(info_field(&mut b, "tracking_clients"), 1);
    assert_eq!(info_field(&mut b, "tracking_total_keys"), 3);
    assert_eq!(info_field(&mut b, "tracking_total_items"), 3);
    raw(&mut b, &["SET", "k1", "x"]);
    assert_eq!(next(&mut a), push(&["k1"]));
    // Forgotten once invalidated: a second write sends nothing.
    raw(&mut b, &["SET", "k1", "y"]);
    raw(&mut b, &["SET", "w", "2"]);
    nothing_pending(&mut a);
    // DEL of two read keys: one message per key.
    assert_eq!(raw(&mut b, &["SET", "k2", "1"]), "+OK\\r\\n");
    assert_eq!(next(&mut a), push(&["k2"]));
    assert_eq!(info_field(&mut b, "tracking_total_keys"), 1);
    // Tracking off: remembered keys stay in the table but nothing is sent.
    raw(&mut a, &["CLIENT", "TRACKING", "OFF"]);
    raw(&mut b, &["SET", "k3", "1"]);
    nothing_pending(&mut a);
    assert_eq!(info_field(&mut b, "tracking_clients"), 0);
    assert_eq!(info_field(&mut b, "tracking_total_keys"), 0);
}

#[test]
fn own_writes_are_invalidated_after_the_reply_unless_noloop() {
    let s = server();
    let mut a = s.conn();
    a.hello3();
    raw(&mut a, &["CLIENT", "TRACKING", "ON"]);
    raw(&mut a, &["GET", "k"]);
    // The push follows the reply of the writing command.
    assert_eq!(raw(&mut a, &["SET", "k", "1"]), "+OK\\r\\n");
    assert_eq!(next(&mut a), push(&["k"]));
    raw(&mut a, &["CLIENT", "TRACKING", "ON", "NOLOOP"]);
    raw(&mut a, &["GET", "k"]);
    raw(&mut a, &["SET", "k", "2"]);
    nothing_pending(&mut a);
    // Another client's write still invalidates.
    let mut b = s.conn();
    raw(&mut a, &["GET", "k"]);
    raw(&mut b, &["SET", "k", "3"]);
    assert_eq!(next(&mut a), push(&["k"]));
}

#[test]
fn bcast_sends_keys_under_the_prefixes_per_prefix() {
    let s = server();
    let (mut a, mut b) = (s.conn(), s.conn());
    a.hello3();
    assert_eq!(
        raw(
            &mut a,
            &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "cd"]
        ),
        "+OK\\r\\n"
    );
    assert_eq!(info_field(&mut b, "tracking_total_prefixes"), 2);
    raw(
        &mut b,
        &["MSET", "ab2", "1", "cd1", "2", "zz", "3", "ab1", "4"],
    );
    // One message per prefix, keys sorted.
    assert_eq!(next(&mut a), push(&["ab1", "ab2"]));
    assert_eq!(next(&mut a), push(&["cd1"]));
    nothing_pending(&mut a);
    // Reads are not remembered in BCAST mode.
    raw(&mut a, &["GET", "zz"]);
    raw(&mut b, &["SET", "zz", "4"]);
    nothing_pending(&mut a);
    // Overlapping prefixes.
    assert_eq!(
        raw(&mut a, &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "abc"]),
        "-ERR Prefix 'abc' overlaps with an existing prefix 'ab'. Prefixes for a single client must not overlap.\\r\\n"
    );
    // NOLOOP: keys the client changed itself are left out.
    raw(&mut a, &["CLIENT", "TRACKING", "OFF"]);
    raw(&mut a, &["CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP"]);
    assert_eq!(raw(&mut a, &["SET", "mine", "1"]), "+OK\\r\\n");
    nothing_pending(&mut a);
    raw(&mut b, &["SET", "theirs", "1"]);
    assert_eq!(next(&mut a), push(&["theirs"]));
    raw(&mut a, &["CLIENT", "TRACKING", "OFF"]);
    assert_eq!(info_field(&mut b, "tracking_total_prefixes"), 0);
}

#[test]
fn optin_and_optout_follow_client_caching() {
    let s = server();
    let (mut a, mut b) = (s.conn(), s.conn());
    a.hello3();
    raw(&mut a, &["CLIENT", "TRACKING", "ON", "OPTIN"]);
    raw(&mut a, &["GET", "plain"]);
    assert_eq!(raw(&mut a, &["CLIENT", "CACHING", "YES"]), "+OK\\r\\n");
    raw(&mut a, &["GET", "cached"]);
    raw(&mut a, &["GET", "after"]); // the flag covered one command only
    raw(&mut b, &["MSET", "plain", "1", "cached", "1", "after", "1"]);
    assert_eq!(next(&mut a), push(&["cached"]));
    nothing_pending(&mut a);
    // CLIENT CACHING YES then a transaction: every read of EXEC is remembered.
    raw(&mut a, &["CLIENT", "CACHING", "YES"]);
    raw(&mut a, &["MULTI"]);
    raw(&mut a, &["GET", "t1"]);
    raw(&mut a, &["GET", "t2"]);
    raw(&mut a, &["EXEC"]);
    raw(&mut b, &["MSET", "t1", "1", "t2", "2"]);
    assert_eq!(next(&mut a), push(&["t1"]));
    assert_eq!(next(&mut a), push(&["t2"]));
    assert_eq!(
        raw(&mut a, &["CLIENT", "CACHING", "NO"]),
        "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\\r\\n"
    );
    raw(&mut a, &["CLIENT", "TRACKING", "OFF"]);
    raw(&mut a, &["CLIENT", "TRACKING", "ON", "OPTOUT"]);
    raw(&mut a, &["CLIENT", "CACHING", "NO"]);
    raw(&mut a, &["GET", "skipped"]);
    raw(&mut a, &["GET", "kept"]);
    raw(&mut b, &["MSET", "skipped", "1", "kept", "1"]);
    assert_eq!(next(&mut a), push(&["kept"]));
    nothing_pending(&mut a);
}

#[test]
fn resp2_redirect_goes_to_the_invalidate_channel() {
    let s = server();
    let (mut r, mut a, mut b) = (s.conn(), s.conn(), s.conn());
    let rid = id(&mut r);
    raw(&mut r, &["SUBSCRIBE", "__redis__:invalidate"]);
    let on = ["CLIENT", "TRACKING", "ON", "REDIRECT", &rid.to_string()];
    assert_eq!(raw(&mut a, &on), "+OK\\r\\n");
    assert_eq!(a.cmd(&["CLIENT", "GETREDIR"]).as_int(), Some(rid));
    raw(&mut a, &["GET", "k"]);
    raw(&mut b, &["SET", "k", "1"]);
    assert_eq!(
        next(&mut r),
        "*3\\r\\n$7\\r\\nmessage\\r\\n$20\\r\\n__redis__:invalidate\\r\\n*1\\r\\n$1\\r\\nk\\r\\n"
    );
    // A flush: a null key list (the tracking client's RESP2 null).
    raw(&mut b, &["FLUSHDB"]);
    assert_eq!(
        next(&mut r),
        "*3\\r\\n$7\\r\\nmessage\\r\\n$20\\r\\n__redis__:invalidate\\r\\n$-1\\r\\n"
    );
    // CLIENT LIST shows the tracking flag and the redirect.
    let line = a.cmd(&["CLIENT", "INFO"]);
    let line = String::from_utf8_lossy(line.as_bytes().unwrap()).into_owned();
    assert!(line.contains(" flags=t "), "{line}");
    assert!(line.contains(&format!(" redir={rid} ")), "{line}");
    // The redirect client goes away: a RESP3 tracking client is told at the next invalidation.
    drop(r);
    assert!(wait_until(Duration::from_secs(5), || {
        b.cmd(&["CLIENT", "LIST", "ID", &rid.to_string()])
            .as_bytes()
            .is_some_and(|l| l.is_empty())
    }));
    a.hello3();
    raw(&mut a, &["GET", "k"]);
    raw(&mut b, &["SET", "k", "2"]);
    assert_eq!(
        next(&mut a),
        format!(">2\\r\\n$21\\r\\ntracking-redir-broken\\r\\n:{rid}\\r\\n")
    );
    let line = a.cmd(&["CLIENT", "INFO"]);
    let line = String::from_utf8_lossy(line.as_bytes().unwrap()).into_owned();
    assert!(line.contains(" flags=tR "), "{line}");
    let on = ["CLIENT", "TRACKING", "ON", "REDIRECT", &rid.to_string()];
    assert_eq!(
        raw(&mut a, &on),
        "-ERR The client ID you want redirect to does not exist\\r\\n"
    );
}

#[test]
fn flushes_send_a_null_to_every_tracking_client() {
    let s = server();
    let (mut a, mut c, mut b) = (s.conn(), s.conn(), s.conn());
    a.hello3();
    c.hello3();
    raw(&mut a, &["CLIENT", "TRACKING", "ON"]);
    raw(&mut c, &["CLIENT", "TRACKING", "ON", "BCAST"]);
    raw(&mut a, &["GET", "k"]);
    raw(&mut b, &["FLUSHALL"]);
    assert_eq!(next(&mut a), ">2\\r\\n$10\\r\\ninvalidate\\r\\n_\\r\\n");
    assert_eq!(next(&mut c), ">2\\r\\n$10\\r\\ninvalidate\\r\\n_\\r\\n");
    assert_eq!(info_field(&mut b, "tracking_total_keys"), 0);
    // The flusher itself gets its null after the reply.
    assert_eq!(raw(&mut a, &["FLUSHDB"]), "+OK\\r\\n");
    assert_eq!(next(&mut a), ">2\\r\\n$10\\r\\ninvalidate\\r\\n_\\r\\n");
    assert_eq!(next(&mut c), ">2\\r\\n$10\\r\\ninvalidate\\r\\n_\\r\\n");
    let line = c.cmd(&["CLIENT", "INFO"]);
    let line = String::from_utf8_lossy(line.as_bytes().unwrap()).into_owned();
    assert!(line.contains(" flags=tB "), "{line}");
}

#[test]
fn tracking_table_max_keys_evicts_by_invalidating() {
    let s = server();
    let mut a = s.conn();
    a.hello3();
    raw(&mut a, &["CONFIG", "SET", "tracking-table-max-keys", "2"]);
    raw(&mut a, &["CLIENT", "TRACKING", "ON"]);
    let mut evicted = 0;
    for k in ["k1", "k2", "k3", "k4", "k5"] {
        // Replies interleave with invalidations of evicted keys: read until the GET's null.
        a.send(&[b"GET", k.as_bytes()]);
        loop {
            let r = next(&mut a);
            if r == "_\\r\\n" {
                break;
            }
            assert!(r.starts_with(">2\\r\\n$10\\r\\ninvalidate"), "{r}");
            evicted += 1;
        }
    }
    // Before the next command the table goes back under the limit.
    a.send(&[b"PING"]);
    loop {
        let r = next(&mut a);
        if r == "+PONG\\r\\n" {
            break;
        }
        evicted += 1;
    }
    let keys = info_field(&mut a, "tracking_total_keys");
    assert_eq!(keys, 2);
    // Three keys over the limit: each eviction was announced before the next reply.
    assert_eq!(evicted, 3);
    let mut b = s.conn();
    raw(
        &mut b,
        &[
            "MSET", "k1", "1", "k2", "1", "k3", "1", "k4", "1", "k5", "1",
        ],
    );
    let mut left = 0;
    while a.try_read_reply(Duration::from_millis(300)).is_some() {
        left += 1;
    }
    assert_eq!(left, 2, "only the two keys still tracked are invalidated");
}

#[test]
fn expired_keys_are_invalidated() {
    let s = server();
    let (mut a, mut b) = (s.conn(), s.conn());
    a.hello3();
    raw(&mut b, &["SET", "e", "1", "PX", "100"]);
    raw(&mut a, &["CLIENT", "TRACKING", "ON"]);
    raw(&mut a, &["GET", "e"]);
    // The active expiry cycle removes it and the client is told.
    a.set_reply_timeout(Duration::from_secs(5));
    assert_eq!(next(&mut a), push(&["e"]));
}

#[test]
fn reset_and_disconnect_turn_tracking_off() {
    let s = server();
    let (mut a, mut b) = (s.conn(), s.conn());
    raw(
        &mut a,
        &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "x"],
    );
    assert_eq!(info_field(&mut b, "tracking_clients"), 1);
    raw(&mut a, &["RESET"]);
    assert_eq!(info_field(&mut b, "tracking_clients"), 0);
    assert_eq!(info_field(&mut b, "tracking_total_prefixes"), 0);
    raw(&mut a, &["CLIENT", "TRACKING", "ON"]);
    drop(a);
    assert!(wait_until(Duration::from_secs(5), || info_field(
        &mut b,
        "tracking_clients"
    ) == 0));
}

#[test]
fn keys_read_by_a_script_are_remembered_for_its_caller() {
    let s = server();
    let (mut a, mut b) = (s.conn(), s.conn());
    a.hello3();
    raw(&mut a, &["CLIENT", "TRACKING", "ON"]);
    raw(
        &mut a,
        &["EVAL", "return redis.call('GET', KEYS[1])", "1", "sk"],
    );
    raw(&mut b, &["SET", "sk", "1"]);
    assert_eq!(next(&mut a), push(&["sk"]));
    // OPTIN: CLIENT CACHING YES covers every read of the next script.
    raw(&mut a, &["CLIENT", "TRACKING", "OFF"]);
    raw(&mut a, &["CLIENT", "TRACKING", "ON", "OPTIN"]);
    raw(&mut a, &["CLIENT", "CACHING", "YES"]);
    let script = "redis.call('GET', KEYS[1]); return redis.call('GET', KEYS[2])";
    raw(&mut a, &["EVAL", script, "2", "s1", "s2"]);
    raw(&mut a, &["GET", "s3"]);
    raw(&mut b, &["MSET", "s1", "1", "s2", "1", "s3", "1"]);
    assert_eq!(next(&mut a), push(&["s1"]));
    assert_eq!(next(&mut a), push(&["s2"]));
    nothing_pending(&mut a);
}
