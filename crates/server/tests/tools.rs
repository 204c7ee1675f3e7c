//! Redis's own tools against ferrokv: `redis-cli` (plain commands, `--pipe` mass insertion,
//! RESP3 mode) and `redis-benchmark`. Where possible the tool's output against ferrokv is
//! compared with its output against redis-server. Tests skip (with a message) when the tools
//! are not installed, and leave out commands ferrokv does not implement yet.

use ferrokv_testkit::{find_in_path, Conn, ServerProc, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn tool(name: &str) -> Option<PathBuf> {
    let p = find_in_path(name);
    if p.is_none() {
        eprintln!("SKIP: {name} not installed");
    }
    p
}

/// True if the server answers the bare command name with `ERR unknown command`.
fn unknown(c: &mut Conn, name: &str) -> bool {
    matches!(c.cmd(&[name]), Value::Error(e) if e.starts_with("ERR unknown command"))
}

/// Runs `redis-cli -p <port> <args>` with `stdin` and returns its output.
fn cli(cli: &PathBuf, port: u16, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(cli)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start redis-cli");
    if let Some(mut i) = child.stdin.take() {
        i.write_all(stdin).expect("write redis-cli stdin");
    }
    child.wait_with_output().expect("redis-cli output")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn redis_cli_commands_match_redis() {
    let Some(rc) = tool("redis-cli") else { return };
    let fk = ServerProc::ferrokv(BIN, &[]);
    let rd = ServerProc::redis(&[]);
    let runs: &[&[&str]] = &[
        &["ping"],
        &["ping", "hello"],
        &["set", "k", "v"],
        &["get", "k"],
        &["get", "missing"],
        &["echo", "a b\nc"],
        &["dbsize"],
        &["nosuchcommand", "x"],
        &["get"],
        // Formatted (tty-style) output and RESP3 mode.
        &["--no-raw", "get", "k"],
        &["--no-raw", "get", "missing"],
        &["--no-raw", "set", "k2", "v2"],
        &["-3", "ping"],
        &["-3", "get", "k"],
        &["-3", "get", "missing"],
        &["-3", "--no-raw", "get", "missing"],
        &["-3", "--no-raw", "get", "k"],
        &["-3", "--no-raw", "set", "k", "v", "get"],
        &["-n", "3", "set", "db3", "x"],
        &["-n", "3", "get", "db3"],
        &["-n", "3", "dbsize"],
    ];
    for args in runs {
        let f = cli(&rc, fk.port, args, b"");
        match &rd {
            Some(rd) => {
                let r = cli(&rc, rd.port, args, b"");
                assert_eq!(text(&f), text(&r), "redis-cli {args:?} (left ferrokv)");
                assert_eq!(
                    f.status.code(),
                    r.status.code(),
                    "redis-cli {args:?} exit code"
                );
            }
            None => assert!(f.status.success(), "redis-cli {args:?}: {}", text(&f)),
        }
    }
    // Without the oracle, at least the basics are checked literally.
    assert_eq!(text(&cli(&rc, fk.port, &["ping"], b"")), "PONG\n");
    assert_eq!(text(&cli(&rc, fk.port, &["-3", "get", "k"], b"")), "v\n");
    assert_eq!(
        text(&cli(
            &rc,
            fk.port,
            &["-3", "--no-raw", "get", "missing"],
            b""
        )),
        "(nil)\n"
    );
}

#[test]
fn redis_cli_pipe_mass_insertion() {
    let Some(rc) = tool("redis-cli") else { return };
    let fk = ServerProc::ferrokv(BIN, &[]);
    let mut input = Vec::new();
    for i in 0..10_000 {
        let (k, v) = (format!("mass:{i}"), format!("value-{i}"));
        input.extend(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                k.len(),
                v.len()
            )
            .into_bytes(),
        );
    }
    let out = cli(&rc, fk.port, &["--pipe"], &input);
    let t = text(&out);
    assert!(out.status.success(), "redis-cli --pipe failed: {t}");
    assert!(t.contains("errors: 0, replies: 10000"), "{t}");
    let mut c = fk.conn();
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(10_000));
    assert_eq!(c.cmd(&["GET", "mass:0"]), Value::bulk("value-0"));
    assert_eq!(c.cmd(&["GET", "mass:9999"]), Value::bulk("value-9999"));
}

#[test]
fn redis_benchmark_runs_clean() {
    let Some(rb) = tool("redis-benchmark") else {
        return;
    };
    let fk = ServerProc::ferrokv(BIN, &[]);
    let mut probe = fk.conn();
    let (have, missing): (Vec<&str>, Vec<&str>) = ["ping", "set", "get", "incr", "mset"]
        .into_iter()
        .partition(|name| !unknown(&mut probe, name));
    if !missing.is_empty() {
        eprintln!("redis_benchmark_runs_clean: not implemented yet, left out: {missing:?}");
    }
    let out = Command::new(&rb)
        .args(["-h", "127.0.0.1", "-p", &fk.port.to_string()])
        .args(["-t", &have.join(","), "-n", "2000", "-q"])
        .stdin(Stdio::null())
        .output()
        .expect("run redis-benchmark");
    let t = text(&out);
    assert!(out.status.success(), "redis-benchmark failed: {t}");
    assert!(!t.contains("ERR"), "error in redis-benchmark output: {t}");
    // `-q` prints one "requests per second" line per test (PING has an inline and a bulk one).
    for name in &have {
        let label = match *name {
            "ping" => "PING_MBULK".to_string(),
            "mset" => "MSET (10 keys)".to_string(),
            other => other.to_ascii_uppercase(),
        };
        assert!(
            t.contains(&format!("{label}: ")) && t.contains("requests per second"),
            "no result line for {label}: {t}"
        );
    }
    assert_eq!(probe.cmd_raw(&[b"PING"]), b"+PONG\r\n");
}
