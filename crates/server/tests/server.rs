//! Integration tests of the server commands: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, LASTSAVE,
//! SHUTDOWN (and exit on SIGTERM), LATENCY.

use ferrokv_testkit::{free_port, wait_until, Conn, ServerProc, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn start(extra: &[&str]) -> ServerProc {
    ServerProc::ferrokv(BIN, extra)
}

fn ok(v: Value) {
    assert_eq!(v, Value::Simple("OK".into()));
}

fn int(v: Value) -> i64 {
    v.as_int()
        .unwrap_or_else(|| panic!("not an integer: {v:?}"))
}

fn err(v: Value) -> String {
    v.error_text()
        .unwrap_or_else(|| panic!("not an error: {v:?}"))
        .to_string()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn fill(c: &mut Conn, prefix: &str, n: usize) {
    for i in 0..n {
        ok(c.cmd(&["SET", &format!("{prefix}{i}"), "v"]));
    }
}

#[test]
fn dbsize_and_flushdb_only_touch_the_current_db() {
    let s = start(&[]);
    let mut c = s.conn();
    assert_eq!(int(c.cmd(&["DBSIZE"])), 0);
    fill(&mut c, "a", 10);
    ok(c.cmd(&["SELECT", "1"]));
    fill(&mut c, "b", 5);
    assert_eq!(int(c.cmd(&["DBSIZE"])), 5);
    ok(c.cmd(&["FLUSHDB"]));
    assert_eq!(int(c.cmd(&["DBSIZE"])), 0);
    ok(c.cmd(&["SELECT", "0"]));
    assert_eq!(int(c.cmd(&["DBSIZE"])), 10);
    ok(c.cmd(&["FLUSHDB", "async"]));
    assert_eq!(int(c.cmd(&["DBSIZE"])), 0);
    assert_eq!(c.cmd(&["GET", "a1"]), Value::Null);
    ok(c.cmd(&["FLUSHDB", "SYNC"]));
    assert_eq!(err(c.cmd(&["FLUSHDB", "foo"])), "ERR syntax error");
    assert_eq!(
        err(c.cmd(&["FLUSHDB", "sync", "async"])),
        "ERR syntax error"
    );
    assert_eq!(
        err(c.cmd(&["DBSIZE", "x"])),
        "ERR wrong number of arguments for 'dbsize' command"
    );
}

#[test]
fn flushall_empties_every_db_in_all_modes() {
    let s = start(&[]);
    let mut c = s.conn();
    for mode in [None, Some("SYNC"), Some("async")] {
        for db in ["0", "3", "15"] {
            ok(c.cmd(&["SELECT", db]));
            fill(&mut c, "k", 7);
        }
        let mut cmd = vec!["FLUSHALL"];
        cmd.extend(mode);
        ok(c.cmd(&cmd));
        for db in ["0", "3", "15"] {
            ok(c.cmd(&["SELECT", db]));
            assert_eq!(int(c.cmd(&["DBSIZE"])), 0, "db {db} after {cmd:?}");
        }
        // Writes after the flush land in fresh tables.
        ok(c.cmd(&["SET", "after", "1"]));
        assert_eq!(c.cmd(&["GET", "after"]), Value::Bulk(b"1".to_vec()));
        ok(c.cmd(&["FLUSHALL"]));
    }
    assert_eq!(err(c.cmd(&["FLUSHALL", "now"])), "ERR syntax error");
}

#[test]
fn big_flush_frees_in_background_and_server_stays_responsive() {
    if ferrokv_testkit::skip_on_disk("times the lazy freeing of 200k in-memory entries; on disk FLUSH* loads the database first (O(keys) stopgap)") {
        return;
    }
    let s = start(&["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    let mut other = s.conn();
    ok(c.cmd(&["DEBUG", "POPULATE", "200000"]));
    assert_eq!(int(c.cmd(&["DBSIZE"])), 200_000);
    ok(c.cmd(&["FLUSHALL", "SYNC"]));
    assert_eq!(int(c.cmd(&["DBSIZE"])), 0);
    assert_eq!(other.cmd(&["PING"]), Value::Simple("PONG".into()));
    ok(c.cmd(&["DEBUG", "POPULATE", "200000"]));
    ok(c.cmd(&["FLUSHDB", "ASYNC"]));
    assert_eq!(int(other.cmd(&["DBSIZE"])), 0);
    // New keys can be written at once, whatever the background thread is doing.
    ok(other.cmd(&["SET", "key:1", "x"]));
    assert_eq!(int(c.cmd(&["DBSIZE"])), 1);
}

#[test]
fn swapdb_swaps_contents_and_validates_indexes() {
    let s = start(&[]);
    let mut c = s.conn();
    ok(c.cmd(&["SET", "in0", "zero"]));
    ok(c.cmd(&["SELECT", "1"]));
    ok(c.cmd(&["SET", "in1", "one"]));
    ok(c.cmd(&["SET", "in1b", "one"]));
    let mut watcher = s.conn();
    ok(c.cmd(&["SWAPDB", "0", "1"]));
    // The connection stays on db 1, which now holds db 0's old content.
    assert_eq!(int(c.cmd(&["DBSIZE"])), 1);
    assert_eq!(c.cmd(&["GET", "in0"]), Value::Bulk(b"zero".to_vec()));
    assert_eq!(watcher.cmd(&["GET", "in1"]), Value::Bulk(b"one".to_vec()));
    assert_eq!(int(watcher.cmd(&["DBSIZE"])), 2);
    ok(c.cmd(&["SWAPDB", "1", "1"]));
    assert_eq!(int(c.cmd(&["DBSIZE"])), 1);
    ok(c.cmd(&["SWAPDB", "15", "1"]));
    assert_eq!(int(c.cmd(&["DBSIZE"])), 0);
    assert_eq!(
        err(c.cmd(&["SWAPDB", "x", "0"])),
        "ERR invalid first DB index"
    );
    assert_eq!(
        err(c.cmd(&["SWAPDB", "0", "1.5"])),
        "ERR invalid second DB index"
    );
    assert_eq!(
        err(c.cmd(&["SWAPDB", "0", "99999999999"])),
        "ERR invalid second DB index"
    );
    assert_eq!(
        err(c.cmd(&["SWAPDB", "0", "16"])),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err(c.cmd(&["SWAPDB", "-1", "0"])),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err(c.cmd(&["SWAPDB", "0"])),
        "ERR wrong number of arguments for 'swapdb' command"
    );
}

#[test]
fn time_and_lastsave() {
    let s = start(&[]);
    let mut c = s.conn();
    let before = unix_now();
    let v = c.cmd(&["TIME"]);
    let parts = v.as_array().expect("TIME is an array");
    assert_eq!(parts.len(), 2);
    let secs: i64 = parts[0]
        .as_str()
        .and_then(|x| x.parse().ok())
        .expect("secs");
    let usec: i64 = parts[1]
        .as_str()
        .and_then(|x| x.parse().ok())
        .expect("usec");
    assert!((before - 1..=unix_now() + 1).contains(&secs), "{secs}");
    assert!((0..1_000_000).contains(&usec), "{usec}");
    let last = int(c.cmd(&["LASTSAVE"]));
    assert!(last <= unix_now() && last > before - 120, "{last}");
    assert!(err(c.cmd(&["TIME", "x"])).starts_with("ERR wrong number of arguments"));
}

#[test]
fn shutdown_argument_errors_keep_the_server_running() {
    let s = start(&[]);
    let mut c = s.conn();
    for args in [
        &["SHUTDOWN", "foo"][..],
        &["SHUTDOWN", "SAVE", "NOSAVE"],
        &["SHUTDOWN", "ABORT", "NOW"],
        &["SHUTDOWN", "NOSAVE", "ABORT"],
    ] {
        assert_eq!(err(c.cmd(args)), "ERR syntax error", "{args:?}");
    }
    assert_eq!(
        err(c.cmd(&["SHUTDOWN", "ABORT"])),
        "ERR No shutdown in progress."
    );
    // A save that fails (its directory is gone) refuses the shutdown.
    if let Err(e) = std::fs::remove_dir_all(s.dir()) {
        panic!("remove {}: {e}", s.dir().display());
    }
    assert_eq!(
        err(c.cmd(&["SHUTDOWN", "SAVE"])),
        "ERR Errors trying to SHUTDOWN. Check logs."
    );
    assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
}

/// Starts the binary directly (not through ServerProc) so the exit status can be checked.
fn spawn_raw() -> (Child, String, tempdir::Dir) {
    let dir = tempdir::Dir::new();
    let port = free_port().to_string();
    let child = Command::new(BIN)
        .args([
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            dir.path(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ferrokv-server");
    let addr = format!("127.0.0.1:{port}");
    assert!(
        wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(
            &addr
        )
        .is_ok()),
        "server did not start"
    );
    (child, addr, dir)
}

mod tempdir {
    /// A scratch directory removed on drop.
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let p = std::env::temp_dir().join(format!(
                "ferrokv-admin-{}-{}",
                std::process::id(),
                ferrokv_testkit::free_port()
            ));
            std::fs::create_dir_all(&p).expect("mkdir");
            Dir(p)
        }
        pub fn path(&self) -> &str {
            self.0.to_str().unwrap_or(".")
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn wait_status(child: &mut Child, bound: Duration) -> Option<std::process::ExitStatus> {
    let mut status = None;
    wait_until(bound, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    status
}

#[test]
fn shutdown_exits_with_status_zero_and_closes_clients() {
    let (mut child, addr, _dir) = spawn_raw();
    let mut idle = Conn::connect(&addr);
    assert_eq!(idle.cmd(&["PING"]), Value::Simple("PONG".into()));
    let mut c = Conn::connect(&addr);
    c.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(c.is_closed(), "the SHUTDOWN connection stays open");
    assert!(idle.is_closed(), "other clients are not disconnected");
    let status = wait_status(&mut child, Duration::from_secs(5)).expect("process did not exit");
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn shutdown_save_force_exits_even_without_persistence() {
    let (mut child, addr, _dir) = spawn_raw();
    let mut c = Conn::connect(&addr);
    c.send(&[b"SHUTDOWN", b"SAVE", b"FORCE", b"NOW"]);
    assert!(c.is_closed());
    let status = wait_status(&mut child, Duration::from_secs(5)).expect("process did not exit");
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn sigterm_exits_with_status_zero() {
    let (mut child, addr, _dir) = spawn_raw();
    let mut c = Conn::connect(&addr);
    assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = wait_status(&mut child, Duration::from_secs(5)).expect("process did not exit");
    assert!(status.success(), "exit status {status:?}");
    assert!(c.is_closed());
}

#[test]
fn shutdown_via_serverproc_wait_exit() {
    let mut s = start(&[]);
    let mut c = s.conn();
    c.send(&[b"SHUTDOWN"]);
    assert!(s.wait_exit(Duration::from_secs(5)));
}

#[test]
fn latency_monitor_records_slow_commands() {
    let s = start(&[
        "--enable-debug-command",
        "yes",
        "--latency-monitor-threshold",
        "10",
    ]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["LATENCY", "LATEST"]), Value::Array(vec![]));
    ok(c.cmd(&["DEBUG", "SLEEP", "0.03"]));
    let latest = c.cmd(&["LATENCY", "LATEST"]);
    let events = latest.as_array().expect("array");
    assert_eq!(events.len(), 1, "{latest:?}");
    let ev = events[0].as_array().expect("event");
    assert_eq!(ev[0], Value::Bulk(b"command".to_vec()));
    let t = int(ev[1].clone());
    assert!((unix_now() - 5..=unix_now() + 1).contains(&t));
    assert!(int(ev[2].clone()) >= 30, "{ev:?}");
    assert!(int(ev[3].clone()) >= 30, "{ev:?}");
    // Fast commands under the threshold add nothing.
    c.cmd(&["PING"]);
    let hist = c.cmd(&["LATENCY", "HISTORY", "command"]);
    let samples = hist.as_array().expect("array");
    assert_eq!(samples.len(), 1);
    assert_eq!(c.cmd(&["LATENCY", "HISTORY", "nope"]), Value::Array(vec![]));
    let g = c.cmd(&["LATENCY", "GRAPH", "command"]);
    let text = String::from_utf8_lossy(g.as_bytes().expect("text")).into_owned();
    assert!(text.starts_with("command - high "), "{text}");
    assert_eq!(
        err(c.cmd(&["LATENCY", "GRAPH", "nope"])),
        "ERR No samples available for event 'nope'"
    );
    let d = c.cmd(&["LATENCY", "DOCTOR"]);
    let text = String::from_utf8_lossy(d.as_bytes().expect("text")).into_owned();
    assert!(text.contains("command: 1 latency spikes"), "{text}");
    assert_eq!(int(c.cmd(&["LATENCY", "RESET", "nope"])), 0);
    assert_eq!(int(c.cmd(&["LATENCY", "RESET"])), 1);
    assert_eq!(c.cmd(&["LATENCY", "LATEST"]), Value::Array(vec![]));
    assert_eq!(
        err(c.cmd(&["LATENCY", "foo"])),
        "ERR unknown subcommand 'foo'. Try LATENCY HELP."
    );
    let help = c.cmd(&["LATENCY", "HELP"]);
    assert!(help.as_array().expect("array").len() > 5);
}

#[test]
fn latency_histogram_counts_calls_per_command() {
    let s = start(&[]);
    let mut c = s.conn();
    for _ in 0..5 {
        ok(c.cmd(&["SET", "a", "1"]));
    }
    c.cmd(&["GET", "a"]);
    let v = c.cmd(&["LATENCY", "HISTOGRAM", "set", "GET", "nosuch"]);
    let top = v.as_array().expect("RESP2 flat map");
    assert_eq!(top.len(), 4, "{v:?}");
    assert_eq!(top[0], Value::Bulk(b"set".to_vec()));
    let inner = top[1].as_array().expect("inner");
    assert_eq!(inner[0], Value::Bulk(b"calls".to_vec()));
    assert_eq!(inner[1], Value::Int(5));
    assert_eq!(inner[2], Value::Bulk(b"histogram_usec".to_vec()));
    let buckets = inner[3].as_array().expect("buckets");
    assert!(!buckets.is_empty() && buckets.len().is_multiple_of(2));
    // Cumulative counts over increasing bounds (Redis's labels), ending at the number of calls.
    let pairs: Vec<(i64, i64)> = buckets
        .chunks(2)
        .map(|p| (int(p[0].clone()), int(p[1].clone())))
        .collect();
    assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
    let labels = [
        1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454, 16908,
    ];
    assert!(pairs.iter().all(|p| labels.contains(&p.0)), "{pairs:?}");
    assert_eq!(pairs.last().map(|p| p.1), Some(5));
    assert_eq!(top[2], Value::Bulk(b"get".to_vec()));
    // A container name covers its subcommands; RESP3 gives nested maps.
    c.cmd(&["LATENCY", "LATEST"]);
    c.hello3();
    let v = c.cmd(&["LATENCY", "HISTOGRAM", "latency"]);
    let m = v.as_map().expect("RESP3 map");
    assert!(m
        .iter()
        .any(|(k, _)| *k == Value::Bulk(b"latency|latest".to_vec())));
    assert!(m.iter().all(|(_, v)| v.as_map().is_some()));
    assert_eq!(
        c.cmd(&["LATENCY", "HISTOGRAM", "nosuch"]),
        Value::Map(vec![])
    );
    let all = c.cmd(&["LATENCY", "HISTOGRAM"]);
    assert!(all.as_map().expect("map").len() >= 4);
}
