//! Integration tests of the connection commands, CLIENT and MONITOR against the ferrokv binary:
//! behaviour that needs several connections, server options, timing, or that follows Redis
//! 7.2+/7.4 where the 7.0 oracle differs.

use ferrokv_testkit::{free_port, wait_until, Conn, ServerProc, Value};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn server() -> ServerProc {
    ServerProc::ferrokv(BIN, &[])
}

fn ok() -> Value {
    Value::Simple("OK".into())
}

fn err(v: &Value) -> &str {
    v.error_text()
        .unwrap_or_else(|| panic!("expected an error, got {v:?}"))
}

/// The text of a CLIENT LIST/INFO reply (bulk in RESP2, verbatim in RESP3).
fn text(v: &Value) -> String {
    match v {
        Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Verbatim(_, b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("not a text reply: {other:?}"),
    }
}

/// One CLIENT LIST line as field → value, plus the field order.
fn fields(line: &str) -> (Vec<String>, HashMap<String, String>) {
    let mut order = Vec::new();
    let mut map = HashMap::new();
    for f in line.split(' ') {
        let (k, v) = f.split_once('=').expect("field=value");
        order.push(k.to_string());
        map.insert(k.to_string(), v.to_string());
    }
    (order, map)
}

fn my_info(c: &mut Conn) -> HashMap<String, String> {
    let t = text(&c.cmd(&["CLIENT", "INFO"]));
    assert_eq!(t.matches('\n').count(), 1, "{t:?}");
    fields(t.trim_end()).1
}

fn list_lines(c: &mut Conn, args: &[&str]) -> Vec<HashMap<String, String>> {
    let mut a = vec!["CLIENT", "LIST"];
    a.extend_from_slice(args);
    let t = text(&c.cmd(&a));
    t.lines().map(|l| fields(l).1).collect()
}

fn client_id(c: &mut Conn) -> i64 {
    c.cmd(&["CLIENT", "ID"]).as_int().expect("id")
}

#[test]
fn client_list_line_format() {
    let s = server();
    let mut a = s.conn();
    let id = client_id(&mut a);
    let t = text(&a.cmd(&["CLIENT", "LIST"]));
    // The test kit's readiness probe may still be listed: pick our own line.
    let line = t
        .lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .expect("own line");
    let (order, f) = fields(line);
    let expected =
        "id addr laddr fd name age idle flags db sub psub ssub multi watch qbuf qbuf-free \
                    argv-mem multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp \
                    lib-name lib-ver";
    assert_eq!(
        order.join(" "),
        expected.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    assert_eq!(f["laddr"], s.addr());
    assert!(f["fd"].parse::<i64>().expect("fd") > 0);
    assert_eq!(f["flags"], "N");
    assert_eq!(f["multi"], "-1");
    assert_eq!(f["watch"], "0");
    assert_eq!(f["redir"], "-1");
    assert_eq!(f["sub"], "0");
    assert_eq!(f["cmd"], "client|list");
    assert_eq!(f["user"], "default");
    assert_eq!(f["resp"], "2");
    assert_eq!(f["events"], "r");
    assert_eq!(f["lib-name"], "");
}

#[test]
fn client_info_reflects_state() {
    let s = server();
    let mut a = s.conn();
    assert_eq!(a.cmd(&["CLIENT", "SETNAME", "alpha"]), ok());
    assert_eq!(a.cmd(&["SELECT", "3"]), ok());
    assert_eq!(a.cmd(&["CLIENT", "NO-EVICT", "on"]), ok());
    assert_eq!(a.cmd(&["CLIENT", "NO-TOUCH", "on"]), ok());
    assert_eq!(a.cmd(&["CLIENT", "SETINFO", "lib-name", "redis-py"]), ok());
    assert_eq!(a.cmd(&["CLIENT", "SETINFO", "LIB-VER", "5.0.1"]), ok());
    let f = my_info(&mut a);
    assert_eq!(f["name"], "alpha");
    assert_eq!(f["db"], "3");
    assert_eq!(f["flags"], "eT");
    assert_eq!(f["cmd"], "client|info");
    assert_eq!(f["lib-name"], "redis-py");
    assert_eq!(f["lib-ver"], "5.0.1");
    assert_eq!(f["argv-mem"], "10");
    a.hello3();
    let v = a.cmd(&["CLIENT", "INFO"]);
    assert!(
        matches!(&v, Value::Verbatim(fmt, _) if fmt == "txt"),
        "{v:?}"
    );
    assert_eq!(fields(text(&v).trim_end()).1["resp"], "3");
    assert_eq!(a.cmd(&["CLIENT", "NO-TOUCH", "off"]), ok());
    assert_eq!(a.cmd(&["CLIENT", "NO-EVICT", "off"]), ok());
    assert_eq!(my_info(&mut a)["flags"], "N");
    assert_eq!(
        err(&a.cmd(&["CLIENT", "NO-TOUCH", "maybe"])),
        "ERR syntax error"
    );
    // Empty values clear the library fields.
    assert_eq!(a.cmd(&["CLIENT", "SETINFO", "lib-name", ""]), ok());
    assert_eq!(my_info(&mut a)["lib-name"], "");
}

#[test]
fn client_setinfo_errors() {
    let s = server();
    let mut a = s.conn();
    assert_eq!(
        err(&a.cmd(&["CLIENT", "SETINFO", "lib-name", "a b"])),
        "ERR lib-name cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        err(&a.cmd(&["CLIENT", "SETINFO", "LIB-VER", "1\n2"])),
        "ERR LIB-VER cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        err(&a.cmd(&["CLIENT", "SETINFO", "lib-foo", "x"])),
        "ERR Unrecognized option 'lib-foo'"
    );
    assert_eq!(
        err(&a.cmd(&["CLIENT", "SETINFO", "lib-name"])),
        "ERR wrong number of arguments for 'client|setinfo' command"
    );
}

#[test]
fn client_list_sees_other_clients() {
    let s = server();
    let mut a = s.conn();
    let mut b = s.conn();
    let bid = client_id(&mut b);
    assert_eq!(b.cmd(&["CLIENT", "SETNAME", "bee"]), ok());
    assert_eq!(b.cmd(&["SELECT", "2"]), ok());
    assert_eq!(b.cmd(&["GET", "x"]), Value::Null);
    let aid = client_id(&mut a);
    let all = list_lines(&mut a, &[]);
    let ids: Vec<&str> = all.iter().map(|f| f["id"].as_str()).collect();
    assert!(ids.contains(&aid.to_string().as_str()) && ids.contains(&bid.to_string().as_str()));
    let only_b = list_lines(&mut a, &["ID", &bid.to_string(), "999999"]);
    assert_eq!(only_b.len(), 1);
    assert_eq!(only_b[0]["name"], "bee");
    assert_eq!(only_b[0]["db"], "2");
    assert_eq!(only_b[0]["cmd"], "get");
    let twice = list_lines(&mut a, &["ID", &bid.to_string(), &aid.to_string()]);
    assert_eq!(twice[0]["id"], bid.to_string());
    assert_eq!(twice[1]["id"], aid.to_string());
    assert_eq!(twice[1]["cmd"], "client|list");
    assert!(list_lines(&mut a, &["TYPE", "normal"]).len() >= 2);
    assert!(list_lines(&mut a, &["TYPE", "pubsub"]).is_empty());
}

#[test]
fn client_kill_forms() {
    let s = server();
    let mut a = s.conn();
    // Old form: by address.
    let mut b = s.conn();
    let baddr = my_info(&mut b)["addr"].clone();
    assert_eq!(a.cmd(&["CLIENT", "KILL", &baddr]), ok());
    assert!(b.is_closed());
    assert_eq!(
        err(&a.cmd(&["CLIENT", "KILL", &baddr])),
        "ERR No such client"
    );
    // ID form.
    let mut c = s.conn();
    let cid = client_id(&mut c);
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ID", &cid.to_string()]),
        Value::Int(1)
    );
    assert!(c.is_closed());
    // ADDR form and filters that must all match.
    let mut d = s.conn();
    let daddr = my_info(&mut d)["addr"].clone();
    let did = client_id(&mut d).to_string();
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ADDR", &daddr, "ID", "999999"]),
        Value::Int(0)
    );
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ADDR", &daddr, "ID", &did]),
        Value::Int(1)
    );
    assert!(d.is_closed());
    // LADDR (the server address) and USER kill every other client; SKIPME yes spares us.
    let mut e = s.conn();
    let mut f = s.conn();
    assert_eq!(e.cmd(&["PING"]), Value::Simple("PONG".into()));
    assert_eq!(f.cmd(&["PING"]), Value::Simple("PONG".into()));
    assert!(wait_until(Duration::from_secs(5), || list_lines(
        &mut a,
        &[]
    )
    .len()
        == 3));
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "LADDR", &s.addr(), "USER", "default"]),
        Value::Int(2)
    );
    assert!(e.is_closed());
    assert!(f.is_closed());
    assert_eq!(a.cmd(&["PING"]), Value::Simple("PONG".into()));
    // MAXAGE (7.4): only clients older than the bound.
    let mut g = s.conn();
    assert_eq!(g.cmd(&["PING"]), Value::Simple("PONG".into()));
    assert_eq!(a.cmd(&["CLIENT", "KILL", "MAXAGE", "1000"]), Value::Int(0));
    assert_eq!(
        err(&a.cmd(&["CLIENT", "KILL", "MAXAGE", "x"])),
        "ERR value is not an integer or out of range"
    );
    assert!(wait_until(Duration::from_secs(5), || {
        a.cmd(&["CLIENT", "KILL", "MAXAGE", "1"]) == Value::Int(1)
    }));
    assert!(g.is_closed());
    // Killing ourselves: the reply comes first, then the connection closes.
    let aid = client_id(&mut a).to_string();
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ID", &aid, "SKIPME", "no"]),
        Value::Int(1)
    );
    assert!(a.is_closed());
    let mut h = s.conn();
    let haddr = my_info(&mut h)["addr"].clone();
    assert_eq!(h.cmd(&["CLIENT", "KILL", &haddr]), ok());
    assert!(h.is_closed());
}

#[test]
fn client_reply_modes() {
    let s = server();
    let mut a = s.conn();
    a.send(&[b"CLIENT", b"REPLY", b"OFF"]);
    a.send(&[b"SET", b"k", b"1"]);
    a.send(&[b"NOSUCHCOMMAND"]);
    a.send(&[b"CLIENT", b"REPLY", b"ON"]);
    assert_eq!(a.read_value(), ok());
    assert_eq!(a.cmd(&["GET", "k"]), Value::Bulk(b"1".to_vec()));
    a.send(&[b"CLIENT", b"REPLY", b"SKIP"]);
    a.send(&[b"SET", b"k", b"2"]);
    assert_eq!(a.cmd(&["GET", "k"]), Value::Bulk(b"2".to_vec()));
}

#[test]
fn client_simple_subcommands() {
    let s = server();
    let mut a = s.conn();
    let mut b = s.conn();
    let bid = client_id(&mut b);
    // b is not blocked: nothing to unblock.
    assert_eq!(
        a.cmd(&["CLIENT", "UNBLOCK", &bid.to_string()]),
        Value::Int(0)
    );
    assert_eq!(a.cmd(&["CLIENT", "GETREDIR"]), Value::Int(-1));
    let help = a.cmd(&["CLIENT", "HELP"]);
    let lines: Vec<String> = help
        .as_array()
        .expect("array")
        .iter()
        .map(|l| match l {
            Value::Simple(s) => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        lines[0],
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
    for syntax in [
        "KILL <ip:port>",
        "PAUSE <timeout> [WRITE|ALL]",
        "REPLY (ON|OFF|SKIP)",
        "SETINFO <option> <value>",
        "NO-TOUCH (ON|OFF)",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "HELP",
    ] {
        assert!(lines.iter().any(|l| l == syntax), "missing {syntax}");
    }
}

#[test]
fn hello_fields_and_setname() {
    let s = server();
    let mut a = s.conn();
    let id = client_id(&mut a);
    let v = a.cmd(&["HELLO"]);
    let arr = v.as_array().expect("RESP2 array");
    assert_eq!(arr.len(), 14);
    let m: HashMap<String, Value> = arr
        .chunks(2)
        .map(|p| (p[0].as_str().expect("key").to_string(), p[1].clone()))
        .collect();
    assert_eq!(m["server"], Value::bulk("redis"));
    assert_eq!(m["version"], Value::bulk("7.4.0"));
    assert_eq!(m["proto"], Value::Int(2));
    assert_eq!(m["id"], Value::Int(id));
    assert_eq!(m["mode"], Value::bulk("standalone"));
    assert_eq!(m["role"], Value::bulk("master"));
    assert_eq!(m["modules"], Value::Array(vec![]));
    let v = a.cmd(&["HELLO", "3", "SETNAME", "h3"]);
    let map = v.as_map().expect("RESP3 map");
    assert_eq!(map.len(), 7);
    assert_eq!(map[2], (Value::bulk("proto"), Value::Int(3)));
    assert_eq!(a.cmd(&["CLIENT", "GETNAME"]), Value::bulk("h3"));
    // 7.2+: a HELLO that fails sets no name (7.0 did).
    assert!(a.cmd(&["HELLO", "3", "SETNAME", "x", "FOO"]).is_error());
    assert!(a
        .cmd(&["HELLO", "3", "SETNAME", "y", "AUTH", "nouser", "pw"])
        .is_error());
    assert_eq!(a.cmd(&["CLIENT", "GETNAME"]), Value::bulk("h3"));
    assert_eq!(
        err(&a.cmd(&["HELLO", "3", "SETNAME", "a b"])),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
}

#[test]
fn reset_restores_defaults() {
    let s = server();
    let mut a = s.conn();
    a.hello3();
    assert_eq!(a.cmd(&["SELECT", "4"]), ok());
    assert_eq!(a.cmd(&["CLIENT", "SETNAME", "n"]), ok());
    assert_eq!(a.cmd(&["CLIENT", "NO-TOUCH", "on"]), ok());
    assert_eq!(a.cmd(&["CLIENT", "NO-EVICT", "on"]), ok());
    assert_eq!(a.cmd(&["CLIENT", "SETINFO", "lib-name", "lib"]), ok());
    assert_eq!(a.cmd(&["RESET"]), Value::Simple("RESET".into()));
    let f = my_info(&mut a);
    assert_eq!(f["db"], "0");
    assert_eq!(f["name"], "");
    assert_eq!(f["resp"], "2");
    assert_eq!(f["flags"], "N");
    // The library name describes the connection and survives RESET, as in Redis.
    assert_eq!(f["lib-name"], "lib");
    assert_eq!(a.cmd(&["GET", "nothing"]), Value::Null);
}

/// Reads monitor lines until one contains `needle` (bounded by the reply timeout).
fn monitor_line(m: &mut Conn, needle: &str) -> String {
    loop {
        match m.read_value() {
            Value::Simple(s) if s.contains(needle) => return s,
            Value::Simple(_) => continue,
            other => panic!("unexpected monitor output {other:?}"),
        }
    }
}

#[test]
fn monitor_feed() {
    let s = server();
    let mut m = s.conn();
    let mut b = s.conn();
    let baddr = my_info(&mut b)["addr"].clone();
    assert_eq!(m.cmd(&["MONITOR"]), ok());
    // A second MONITOR gets no reply at all (the next thing read is a feed line).
    m.send(&[b"MONITOR"]);
    b.cmd(&["SET", "k", "v w"]);
    b.cmd(&["SELECT", "2"]);
    b.cmd(&["AUTH", "nouser", "pw"]);
    b.cmd(&["HELLO", "2", "SETNAME", "nm", "AUTH", "default", "pw"]);
    b.cmd(&["CLIENT", "LIST"]); // admin: not shown
    b.cmd(&["ECHO", "a\u{1}\""]);
    let l = monitor_line(&mut m, "\"SET\"");
    let (ts, rest) = l.split_once(' ').expect("timestamp");
    let (secs, usec) = ts.split_once('.').expect("secs.usec");
    assert!(secs.parse::<u64>().expect("secs") > 1_600_000_000);
    assert_eq!(usec.len(), 6);
    assert_eq!(rest, format!("[0 {baddr}] \"SET\" \"k\" \"v w\""));
    let l = monitor_line(&mut m, "\"SELECT\"");
    assert!(l.ends_with(&format!("[2 {baddr}] \"SELECT\" \"2\"")), "{l}");
    let l = monitor_line(&mut m, "\"AUTH\"");
    assert!(l.ends_with("\"AUTH\" \"(redacted)\" \"(redacted)\""), "{l}");
    let l = monitor_line(&mut m, "\"HELLO\"");
    assert!(
        l.ends_with("\"HELLO\" \"2\" \"SETNAME\" \"nm\" \"AUTH\" \"(redacted)\" \"(redacted)\""),
        "{l}"
    );
    let l = monitor_line(&mut m, "\"ECHO\"");
    assert!(l.ends_with("\"ECHO\" \"a\\x01\\\"\""), "{l}");
    assert!(!l.contains("CLIENT"));
    // The monitor sees its own commands too, after their replies.
    m.send(&[b"ECHO", b"self"]);
    assert_eq!(m.read_value(), Value::bulk("self"));
    monitor_line(&mut m, "\"ECHO\" \"self\"");
    assert_eq!(my_info(&mut b)["flags"], "N");
    // RESET ends MONITOR mode.
    m.send(&[b"RESET"]);
    monitor_line(&mut m, "\"CLIENT\" \"INFO\"");
    assert_eq!(m.read_value(), Value::Simple("RESET".into()));
    b.cmd(&["SET", "after", "reset"]);
    assert_eq!(m.try_read_reply(Duration::from_millis(300)), None);
}

#[test]
fn pause_write_lets_reads_through() {
    let s = server();
    let mut a = s.conn();
    let mut b = s.conn();
    assert_eq!(a.cmd(&["CLIENT", "PAUSE", "20000", "WRITE"]), ok());
    assert_eq!(b.cmd(&["GET", "k"]), Value::Null);
    // A write waits; the read pipelined behind it waits too (replies stay in order).
    b.send(&[b"SET", b"k", b"1"]);
    b.send(&[b"GET", b"k"]);
    assert_eq!(b.try_read_reply(Duration::from_millis(300)), None);
    assert_eq!(a.cmd(&["CLIENT", "UNPAUSE"]), ok());
    assert_eq!(b.read_value(), ok());
    assert_eq!(b.read_value(), Value::bulk("1"));
}

#[test]
fn pause_ends_at_deadline() {
    let s = server();
    let mut a = s.conn();
    let mut b = s.conn();
    let start = Instant::now();
    assert_eq!(a.cmd(&["CLIENT", "PAUSE", "600", "ALL"]), ok());
    // Under ALL even reads (and the pausing client's own commands) wait for the deadline.
    b.send(&[b"PING"]);
    assert_eq!(a.cmd(&["PING"]), Value::Simple("PONG".into()));
    assert!(
        start.elapsed() >= Duration::from_millis(550),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(b.read_value(), Value::Simple("PONG".into()));
    // A later write pause does not block reads.
    // (A long pause, so that "the read did not wait for it" holds on a loaded machine too.)
    assert_eq!(a.cmd(&["CLIENT", "PAUSE", "1500", "WRITE"]), ok());
    let t = Instant::now();
    assert_eq!(b.cmd(&["GET", "x"]), Value::Null);
    assert!(
        t.elapsed() < Duration::from_millis(1000),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(b.cmd(&["SET", "x", "1"]), ok());
    assert!(
        t.elapsed() >= Duration::from_millis(1450),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn idle_timeout_closes_clients() {
    let s = ServerProc::ferrokv(BIN, &["--timeout", "1"]);
    let mut m = s.conn();
    assert_eq!(m.cmd(&["MONITOR"]), ok());
    let mut a = s.conn();
    assert_eq!(a.cmd(&["PING"]), Value::Simple("PONG".into()));
    let t = Instant::now();
    assert!(a.is_closed_within(Duration::from_secs(5)));
    assert!(t.elapsed() >= Duration::from_millis(900));
    // MONITOR clients are never timed out; it saw the PING.
    assert!(!m.is_closed_within(Duration::from_millis(500)));
    assert!(String::from_utf8_lossy(&m.read_reply()).contains("\"PING\""));
}

#[test]
fn maxclients_rejects_extra_connections() {
    // The limit is set once the readiness probe's connection is gone: with `--maxclients 2`
    // on the command line, a connection made while the server has not yet seen the probe
    // close would be the third and refused (seen on a loaded CI machine).
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut a = s.conn();
    assert!(wait_until(Duration::from_secs(10), || {
        let v = a.cmd(&["CLIENT", "LIST"]);
        !v.is_error() && text(&v).lines().count() == 1
    }));
    assert_eq!(a.cmd(&["CONFIG", "SET", "maxclients", "2"]), ok());
    let mut b = s.conn();
    assert_eq!(b.cmd(&["PING"]), Value::Simple("PONG".into()));
    let mut c = s.conn();
    assert_eq!(err(&c.read_value()), "ERR max number of clients reached");
    assert!(c.is_closed());
    drop(b);
    assert!(wait_until(Duration::from_secs(5), || {
        let mut d = s.conn();
        d.cmd(&["PING"]) == Value::Simple("PONG".into())
    }));
}

/// A ferrokv process started with `requirepass` (the test kit's readiness probe expects PONG,
/// which an unauthenticated PING does not get).
struct AuthServer {
    child: Child,
    port: u16,
}

impl AuthServer {
    fn start(pass: &str) -> AuthServer {
        let port = free_port();
        let child = Command::new(BIN)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                pass,
            ])
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ferrokv");
        let s = AuthServer { child, port };
        assert!(
            wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(
                s.addr()
            )
            .is_ok()),
            "server did not start"
        );
        s
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn conn(&self) -> Conn {
        Conn::connect(&self.addr())
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const NOAUTH: &str = "NOAUTH Authentication required.";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

#[test]
fn requirepass_flow() {
    let s = AuthServer::start("secret");
    let mut a = s.conn();
    assert_eq!(err(&a.cmd(&["PING"])), NOAUTH);
    assert_eq!(a.cmd(&["RESET"]), Value::Simple("RESET".into()));
    assert_eq!(err(&a.cmd(&["GET", "k"])), NOAUTH);
    assert_eq!(err(&a.cmd(&["CLIENT", "ID"])), NOAUTH);
    assert_eq!(
        err(&a.cmd(&["HELLO", "3"])),
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
         HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
         select the RESP protocol version at the same time"
    );
    assert_eq!(err(&a.cmd(&["AUTH", "wrong"])), WRONGPASS);
    assert_eq!(err(&a.cmd(&["AUTH", "default", "wrong"])), WRONGPASS);
    assert_eq!(err(&a.cmd(&["AUTH", "other", "secret"])), WRONGPASS);
    assert_eq!(
        err(&a.cmd(&["HELLO", "3", "AUTH", "default", "wrong"])),
        WRONGPASS
    );
    // A syntax error after valid credentials does not authenticate.
    assert!(a
        .cmd(&["HELLO", "3", "AUTH", "default", "secret", "FOO"])
        .is_error());
    assert_eq!(err(&a.cmd(&["GET", "k"])), NOAUTH);
    assert_eq!(a.cmd(&["AUTH", "secret"]), ok());
    assert_eq!(a.cmd(&["GET", "k"]), Value::Null);
    // A failed AUTH keeps the current authentication.
    assert_eq!(err(&a.cmd(&["AUTH", "bad"])), WRONGPASS);
    assert_eq!(a.cmd(&["GET", "k"]), Value::Null);
    // RESET logs out.
    assert_eq!(a.cmd(&["RESET"]), Value::Simple("RESET".into()));
    assert_eq!(err(&a.cmd(&["GET", "k"])), NOAUTH);
    let v = a.cmd(&[
        "HELLO", "3", "AUTH", "default", "secret", "SETNAME", "authed",
    ]);
    assert_eq!(
        v.as_map().expect("map")[2],
        (Value::bulk("proto"), Value::Int(3))
    );
    assert_eq!(a.cmd(&["CLIENT", "GETNAME"]), Value::bulk("authed"));
    assert_eq!(a.cmd(&["PING"]), Value::Simple("PONG".into()));
    let mut b = s.conn();
    assert_eq!(b.cmd(&["AUTH", "default", "secret"]), ok());
    assert_eq!(b.cmd(&["PING"]), Value::Simple("PONG".into()));
    // QUIT needs no authentication.
    let mut c = s.conn();
    assert_eq!(c.cmd(&["QUIT"]), ok());
    assert!(c.is_closed());
}
