//! Differential tests of the connection commands and CLIENT against redis-server 7.0.15.
//!
//! Where Redis 7.2+/7.4 differs from the 7.0 oracle the case is not compared here (and is
//! covered by `tests/connection.rs`): CLIENT SETINFO and CLIENT NO-TOUCH (7.2), CLIENT KILL
//! MAXAGE (7.4), the lib-name/lib-ver fields of CLIENT LIST (7.2), the HELLO NOAUTH text
//! (7.2 mentions `<proto>`), the HELLO version field (ferrokv reports 7.4.0), CLIENT HELP text,
//! and a failing HELLO ... SETNAME (7.0 sets the name anyway; 7.2+ does not).

use ferrokv_testkit::{diff_or_skip, Compare, Diff, Value};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

/// Cases that behave the same in RESP2 and RESP3.
fn common(d: &mut Diff) {
    // PING / ECHO
    d.check(&["PING"]);
    d.check(&["PING", "hello"]);
    d.check(&["PING", ""]);
    d.check_error(&["PING", "a", "b"]);
    d.check(&["ECHO", "x y"]);
    d.check(&["ECHO", ""]);
    d.check_error(&["ECHO"]);
    d.check_error(&["ECHO", "a", "b"]);
    // SELECT
    d.check(&["SELECT", "1"]);
    d.check(&["SET", "k", "v"]);
    d.check(&["SELECT", "0"]);
    d.check(&["GET", "k"]);
    d.check(&["SELECT", "1"]);
    d.check(&["GET", "k"]);
    d.check(&["SELECT", "0"]);
    for bad in ["x", "16", "-1", "1.5", "", " 1", "99999999999999999999"] {
        d.check_error(&["SELECT", bad]);
    }
    d.check_error(&["SELECT"]);
    d.check_error(&["SELECT", "1", "2"]);
    // AUTH without requirepass
    d.check_error(&["AUTH", "pw"]);
    d.check(&["AUTH", "default", "anything"]);
    d.check_error(&["AUTH", "nouser", "pw"]);
    d.check_error(&["AUTH", "a", "b", "c"]);
    d.check_error(&["AUTH"]);
    // HELLO errors
    for bad in ["4", "1", "0", "-1", "x", "", "2.0", "99999999999999999999"] {
        d.check_error(&["HELLO", bad]);
    }
    d.check_error(&["HELLO", "2", "FOO"]);
    d.check_error(&["HELLO", "2", "SETNAME"]);
    d.check_error(&["HELLO", "2", "AUTH", "default"]);
    d.check_error(&["HELLO", "2", "AUTH", "nouser", "pw"]);
    d.check_error(&["HELLO", "2", "SETNAME", "a b"]);
    d.check_error(&["HELLO", "2", "SETNAME", "x", "FOO"]);
    d.check_error(&["HELLO", "4", "SETNAME", "neverset"]);
    // Redis 7.0 sets the name of a failing `HELLO 2 SETNAME x FOO`; 7.2+ (and ferrokv) only once
    // the whole command succeeds (tests/connection.rs): clear it on both before going on.
    d.check(&["CLIENT", "SETNAME", ""]);
    // CLIENT basics
    d.check_error(&["CLIENT"]);
    d.check_error(&["CLIENT", "FOO"]);
    d.check_error(&["CLIENT", "ID", "x"]);
    d.check_error(&["CLIENT", "INFO", "x"]);
    d.check_with(&["CLIENT", "ID"], Compare::Shape);
    d.check(&["CLIENT", "GETNAME"]);
    d.check(&["CLIENT", "SETNAME", "conn-1"]);
    d.check(&["CLIENT", "GETNAME"]);
    d.check_error(&["CLIENT", "SETNAME", "a b"]);
    d.check_error(&["CLIENT", "SETNAME", "a\nb"]);
    d.check_error(&["CLIENT", "SETNAME", "caf\u{e9}"]);
    d.check_error(&["CLIENT", "SETNAME"]);
    d.check_error(&["CLIENT", "SETNAME", "a", "b"]);
    d.check(&["CLIENT", "GETNAME"]);
    d.check(&["CLIENT", "SETNAME", ""]);
    d.check(&["CLIENT", "GETNAME"]);
    d.check_error(&["CLIENT", "GETNAME", "x"]);
    d.check(&["CLIENT", "GETREDIR"]);
    d.check_error(&["CLIENT", "GETREDIR", "x"]);
    d.check(&["CLIENT", "TRACKINGINFO"]);
    // NO-EVICT
    d.check(&["CLIENT", "NO-EVICT", "on"]);
    d.check(&["CLIENT", "NO-EVICT", "OFF"]);
    d.check_error(&["CLIENT", "NO-EVICT", "maybe"]);
    d.check_error(&["CLIENT", "NO-EVICT"]);
    // REPLY (argument errors; the modes are checked with raw pipelines below)
    d.check_error(&["CLIENT", "REPLY", "maybe"]);
    d.check_error(&["CLIENT", "REPLY"]);
    d.check(&["CLIENT", "REPLY", "ON"]);
    // UNBLOCK
    d.check_error(&["CLIENT", "UNBLOCK", "x"]);
    d.check(&["CLIENT", "UNBLOCK", "99"]);
    d.check(&["CLIENT", "UNBLOCK", "-5"]);
    d.check(&["CLIENT", "UNBLOCK", "99", "error"]);
    d.check(&["CLIENT", "UNBLOCK", "99", "TIMEOUT"]);
    d.check_error(&["CLIENT", "UNBLOCK", "99", "foo"]);
    d.check_error(&["CLIENT", "UNBLOCK"]);
    d.check_error(&["CLIENT", "unblock", "1", "TIMEOUT", "x"]);
    d.check_error(&["CLIENT", "REPLY", "on", "x"]);
    d.check_error(&["CLIENT", "no-evict", "on", "x"]);
    // PAUSE errors (a successful pause is timed: see tests/connection.rs)
    d.check_error(&["CLIENT", "PAUSE", "x"]);
    d.check_error(&["CLIENT", "PAUSE", "-1"]);
    d.check_error(&["CLIENT", "PAUSE", "1.5"]);
    d.check_error(&["CLIENT", "PAUSE", "10", "foo"]);
    d.check_error(&["CLIENT", "PAUSE", "10", "WRITE", "x"]);
    d.check_error(&["CLIENT", "PAUSE"]);
    d.check_error(&["CLIENT", "PAUSE", "9223372036854775808"]);
    d.check_error(&["CLIENT", "PAUSE", "10", "all", "extra"]);
    d.check(&["CLIENT", "PAUSE", "9223372036854775807", "WRITE"]);
    d.check(&["GET", "k"]);
    d.check(&["CLIENT", "UNPAUSE"]);
    d.check(&["CLIENT", "PAUSE", "0"]);
    d.check(&["CLIENT", "UNPAUSE"]);
    d.check_error(&["CLIENT", "UNPAUSE", "x"]);
    // LIST argument errors and empty filters
    d.check_error(&["CLIENT", "LIST", "TYPE", "foo"]);
    d.check_error(&["CLIENT", "LIST", "TYPE", "normal", "x"]);
    d.check_error(&["CLIENT", "LIST", "ID"]);
    d.check_error(&["CLIENT", "LIST", "ID", "x"]);
    d.check_error(&["CLIENT", "LIST", "ID", "1", "y"]);
    d.check_error(&["CLIENT", "LIST", "FOO"]);
    d.check_error(&["CLIENT", "LIST", "TYPE"]);
    d.check(&["CLIENT", "LIST", "ID", "0"]);
    d.check_error(&["CLIENT", "LIST", "ID", "1", "TYPE", "normal"]);
    d.check_error(&["CLIENT", "LIST", "TYPE", "normal", "ID", "1"]);
    d.check_error(&["CLIENT", "KILL", "MAXAGE"]);
    d.check(&["CLIENT", "UNBLOCK", "0"]);
    d.check(&["CLIENT", "LIST", "ID", "-3", "1000000"]);
    for t in ["pubsub", "replica", "slave", "MASTER"] {
        d.check(&["CLIENT", "LIST", "TYPE", t]);
    }
    // KILL
    d.check_error(&["CLIENT", "KILL", "1.2.3.4:5"]);
    d.check_error(&["CLIENT", "KILL", "foo"]);
    d.check_error(&["CLIENT", "KILL", "ID"]);
    d.check_error(&["CLIENT", "KILL", "ID", "x"]);
    d.check_error(&["CLIENT", "KILL", "ID", "0"]);
    d.check_error(&["CLIENT", "KILL", "ID", "-1"]);
    d.check(&["CLIENT", "KILL", "ID", "99999"]);
    d.check_error(&["CLIENT", "KILL", "TYPE", "foo"]);
    d.check_error(&["CLIENT", "KILL", "USER", "nouser"]);
    d.check(&["CLIENT", "KILL", "USER", "default", "SKIPME", "yes"]);
    d.check_error(&["CLIENT", "KILL", "SKIPME", "maybe"]);
    d.check(&["CLIENT", "KILL", "ADDR", "1.2.3.4:5"]);
    d.check(&["CLIENT", "KILL", "LADDR", "1.2.3.4:5"]);
    d.check(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    d.check(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "YES"]);
    d.check_error(&["CLIENT", "KILL", "ID", "1", "ID"]);
    d.check_error(&["CLIENT", "KILL", "FOO", "bar"]);
    d.check(&["CLIENT", "KILL", "SKIPME", "yes"]);
    d.check_error(&["CLIENT", "KILL"]);
    // CLIENT REPLY modes over a pipeline: the replies that should be dropped are.
    d.check_raw(b"CLIENT REPLY SKIP\r\nPING a\r\nPING b\r\n", 1);
    d.check_raw(
        b"CLIENT REPLY OFF\r\nPING a\r\nGET\r\nSET x 1\r\nCLIENT REPLY ON\r\nGET x\r\n",
        2,
    );
    d.check_raw(
        b"CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nPING c\r\nCLIENT REPLY ON\r\nPING d\r\n",
        2,
    );
    d.check_raw(
        b"CLIENT REPLY SKIP\r\nCLIENT REPLY SKIP\r\nPING e\r\nPING f\r\n",
        1,
    );
    d.check_raw(b"CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING g\r\n", 2);
}

/// The shape of CLIENT LIST/INFO lines: the field names, in order. ferrokv follows 7.4, which
/// adds `watch` after `multi` and (7.2) appends lib-name and lib-ver; the rest must be the same
/// fields in the same order.
fn field_names(v: &Value) -> Vec<Vec<String>> {
    let text = match v {
        Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Verbatim(fmt, b) => {
            assert_eq!(fmt, "txt");
            String::from_utf8_lossy(b).into_owned()
        }
        other => panic!("not a text reply: {other:?}"),
    };
    assert!(text.ends_with('\n'), "{text:?}");
    text.lines()
        .map(|l| {
            l.split(' ')
                .map(|f| f.split_once('=').expect("field=value").0.to_string())
                .collect()
        })
        .collect()
}

/// Turns a 7.0 CLIENT LIST field list into the 7.4 one.
fn to_74(line: &mut Vec<String>) {
    let multi = line.iter().position(|f| f == "multi").expect("multi field");
    line.insert(multi + 1, "watch".to_string());
    line.extend(["lib-name".to_string(), "lib-ver".to_string()]);
}

fn check_list_shape(d: &mut Diff, args: &[&str]) {
    let (f, r) = d.run(args);
    let f = field_names(&f);
    let mut r = field_names(&r);
    for line in &mut r {
        to_74(line);
    }
    assert_eq!(f, r, "{args:?}");
}

fn info_shapes(d: &mut Diff) {
    d.check(&["CLIENT", "SETNAME", "shape"]);
    check_list_shape(d, &["CLIENT", "LIST"]);
    check_list_shape(d, &["CLIENT", "INFO"]);
    check_list_shape(d, &["CLIENT", "LIST", "TYPE", "normal"]);
    // CLIENT LIST ID <own id>, both servers numbering their own clients.
    let (f, r) = d.run(&["CLIENT", "ID"]);
    let (Some(fid), Some(rid)) = (f.as_int(), r.as_int()) else {
        panic!("CLIENT ID: {f:?} {r:?}");
    };
    let fl = d
        .ferrokv()
        .cmd(&["CLIENT", "LIST", "ID", &fid.to_string(), &fid.to_string()]);
    let rl = d
        .redis()
        .cmd(&["CLIENT", "LIST", "ID", &rid.to_string(), &rid.to_string()]);
    let (fl, mut rl) = (field_names(&fl), field_names(&rl));
    assert_eq!(rl.len(), 2);
    for line in &mut rl {
        to_74(line);
    }
    assert_eq!(fl, rl);
}

/// HELLO replies agree once the version and client id (which legitimately differ) are blanked.
fn check_hello(d: &mut Diff, args: &[&str]) {
    fn blank(v: Value) -> Value {
        let fix = |pairs: Vec<(Value, Value)>| -> Vec<(Value, Value)> {
            pairs
                .into_iter()
                .map(|(k, v)| match k.as_str() {
                    Some("version") => (k, Value::bulk("?")),
                    Some("id") => (k, Value::Int(0)),
                    _ => (k, v),
                })
                .collect()
        };
        match v {
            Value::Map(p) => Value::Map(fix(p)),
            Value::Array(items) => {
                let mut pairs = Vec::new();
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                Value::Array(fix(pairs).into_iter().flat_map(|(k, v)| [k, v]).collect())
            }
            other => other,
        }
    }
    let (f, r) = d.run(args);
    assert!(!f.is_error(), "{args:?}: {f:?}");
    if let Some(ver) = f.as_map().and_then(|m| {
        m.iter()
            .find(|(k, _)| k.as_str() == Some("version"))
            .map(|(_, v)| v.clone())
    }) {
        assert_eq!(ver, Value::bulk("7.4.0"));
    }
    assert_eq!(blank(f), blank(r), "{args:?}");
}

#[test]
fn connection_commands_resp2() {
    let mut d = diff_or_skip!(BIN);
    common(&mut d);
    info_shapes(&mut d);
}

#[test]
fn connection_commands_resp3() {
    let mut d = diff_or_skip!(resp3, BIN);
    common(&mut d);
    info_shapes(&mut d);
}

#[test]
fn hello_variants() {
    let mut d = diff_or_skip!(BIN);
    check_hello(&mut d, &["HELLO"]);
    check_hello(&mut d, &["HELLO", "2"]);
    check_hello(&mut d, &["HELLO", "3"]);
    d.check(&["GET", "missing"]);
    check_hello(&mut d, &["HELLO"]);
    d.check(&["GET", "missing"]);
    check_hello(&mut d, &["HELLO", "3", "SETNAME", "n1"]);
    d.check(&["CLIENT", "GETNAME"]);
    check_hello(
        &mut d,
        &["HELLO", "2", "AUTH", "default", "whatever", "SETNAME", "n2"],
    );
    d.check(&["CLIENT", "GETNAME"]);
    check_hello(
        &mut d,
        &["hello", "3", "setname", "n3", "auth", "default", "x"],
    );
    d.check(&["CLIENT", "GETNAME"]);
    d.check(&["CLIENT", "TRACKINGINFO"]);
    // RESET goes back to RESP2 and forgets the name.
    d.check(&["RESET"]);
    d.check(&["CLIENT", "GETNAME"]);
    d.check(&["GET", "missing"]);
    d.check_error(&["RESET", "x"]);
}

#[test]
fn reset_clears_state() {
    let mut d = diff_or_skip!(resp3, BIN);
    d.check(&["SELECT", "5"]);
    d.check(&["SET", "in5", "v"]);
    d.check(&["CLIENT", "SETNAME", "before-reset"]);
    d.check(&["CLIENT", "NO-EVICT", "on"]);
    d.check(&["RESET"]);
    d.check(&["GET", "in5"]);
    d.check(&["CLIENT", "GETNAME"]);
    d.check(&["SELECT", "5"]);
    d.check(&["GET", "in5"]);
    // RESET while replies are off turns them back on.
    d.check_raw(b"CLIENT REPLY OFF\r\nPING\r\nRESET\r\nPING\r\n", 2);
}

#[test]
fn quit_closes() {
    let mut d = diff_or_skip!(BIN);
    d.check(&["QUIT"]);
    assert!(d.ferrokv().is_closed());
    assert!(d.redis().is_closed());
    let (mut f, mut r) = d.new_pair();
    let fr = f.cmd_raw(&[b"QUIT", b"extra", b"args"]);
    let rr = r.cmd_raw(&[b"QUIT", b"extra", b"args"]);
    assert_eq!(fr, rr);
    assert!(f.is_closed());
}

#[test]
fn kill_old_form_and_self() {
    let mut d = diff_or_skip!(BIN);
    let (mut f2, mut r2) = d.new_pair();
    // Old form on another client: +OK, and that client is closed.
    let addr_of = |c: &mut ferrokv_testkit::Conn| -> String {
        let v = c.cmd(&["CLIENT", "INFO"]);
        let text = String::from_utf8_lossy(v.as_bytes().expect("bulk")).into_owned();
        text.split(' ')
            .find_map(|f| f.strip_prefix("addr="))
            .expect("addr")
            .to_string()
    };
    let fa = addr_of(&mut f2);
    let ra = addr_of(&mut r2);
    let fr = d.ferrokv().cmd(&["CLIENT", "KILL", &fa]);
    let rr = d.redis().cmd(&["CLIENT", "KILL", &ra]);
    assert_eq!(fr, rr);
    assert_eq!(fr, Value::Simple("OK".into()));
    assert!(f2.is_closed());
    assert!(r2.is_closed());
    // New form, killing ourselves: the count comes first, then the connection closes.
    for fk in [true, false] {
        let c = if fk { d.ferrokv() } else { d.redis() };
        assert!(ferrokv_testkit::wait_until(
            std::time::Duration::from_secs(5),
            || text_of(&c.cmd(&["CLIENT", "LIST"])).lines().count() == 1
        ));
    }
    d.check(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no"]);
    assert!(d.ferrokv().is_closed());
    assert!(d.redis().is_closed());
}

/// MONITOR lines agree once the timestamp and client address (which legitimately differ) are
/// dropped: same commands shown, same quoting, same redaction, same database numbers.
#[test]
fn monitor_lines() {
    let mut d = diff_or_skip!(BIN);
    let (mut fm, mut rm) = d.new_pair();
    assert_eq!(fm.cmd(&["MONITOR"]), rm.cmd(&["MONITOR"]));
    let cmds: &[&[&str]] = &[
        &["SET", "k", "v w"],
        &["set", "K2", "\u{1}\"\\\n"],
        &["SELECT", "2"],
        &["AUTH", "x"],
        &["AUTH", "default", "x"],
        &["HELLO", "2", "SETNAME", "nm", "AUTH", "default", "pw"],
        &["HELLO", "2", "AUTH", "default", "pw", "SETNAME", "nm2"],
        &["CLIENT", "LIST"],
        &["CLIENT", "KILL", "ID", "99999"],
        &["CLIENT", "SETNAME", "x"],
        &["CLIENT", "ID"],
        &["GET", "nope"],
        &["NOSUCHCOMMAND", "a"],
        &["GET"],
        &["PING"],
        &["SELECT", "0"],
        &["ECHO", "end"],
    ];
    for c in cmds {
        d.run(c);
    }
    let strip = |c: &mut ferrokv_testkit::Conn| -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let Value::Simple(l) = c.read_value() else {
                panic!("not a monitor line")
            };
            let (_, rest) = l.split_once(" [").expect("[");
            let (db, rest) = rest.split_once(' ').expect("db");
            let (_, args) = rest.split_once("] ").expect("]");
            let done = args == "\"ECHO\" \"end\"";
            out.push(format!("{db} {args}"));
            if done {
                return out;
            }
        }
    };
    let f = strip(&mut fm);
    let r = strip(&mut rm);
    assert_eq!(f, r);
    // The monitor client is flagged O in CLIENT LIST, on both.
    let fl = text_of(&d.ferrokv().cmd(&["CLIENT", "LIST"]));
    let rl = text_of(&d.redis().cmd(&["CLIENT", "LIST"]));
    assert!(fl.contains(" flags=O "), "{fl}");
    assert!(rl.contains(" flags=O "), "{rl}");
}

fn text_of(v: &Value) -> String {
    String::from_utf8_lossy(v.as_bytes().expect("bulk")).into_owned()
}
