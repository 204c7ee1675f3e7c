//! The binary's command line and configuration file handling: `--version`, `--help`, config files
//! with overrides, and clear startup errors with a non-zero exit for bad directives.

use ferrokv_testkit::{free_port, ServerProc, Value};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("spawn ferrokv-server");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_and_help_exit_zero() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.contains("redis_version=7.4.0"), "{out}");
    assert!(out.contains(env!("CARGO_PKG_VERSION")), "{out}");
    let (code, _, err) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(err.contains("Usage"), "{err}");
}

#[test]
fn unknown_directive_on_command_line_is_fatal() {
    let (code, out, err) = run(&["--port", "0", "--no-such-directive", "1"]);
    assert_ne!(code, 0);
    let all = format!("{out}{err}");
    assert!(all.contains("FATAL CONFIG FILE ERROR"), "{all}");
    assert!(all.contains("no-such-directive"), "{all}");
}

#[test]
fn bad_value_in_config_file_names_the_line() {
    let dir = std::env::temp_dir().join(format!("ferrokv-startup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("bad.conf");
    std::fs::write(&path, "# comment\nport 7000\nmaxmemory lots\n").expect("write");
    let (code, out, err) = run(&[path.to_str().expect("utf8 path")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_ne!(code, 0);
    let all = format!("{out}{err}");
    assert!(all.contains("line 3"), "{all}");
    assert!(all.contains("maxmemory lots"), "{all}");
}

#[test]
fn config_file_values_apply_and_command_line_overrides_them() {
    let port = free_port();
    let conf = format!("port {port}\ndatabases 4\n");
    let srv = ServerProc::ferrokv_with_config(BIN, &conf, &["--databases", "3"]);
    let mut c = srv.conn();
    assert_eq!(c.cmd(&["SELECT", "2"]), Value::Simple("OK".into()));
    assert!(c.cmd(&["SELECT", "3"]).is_error());
}

#[test]
fn busy_port_is_a_clear_startup_error() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("addr").port().to_string();
    let (code, out, err) = run(&["--port", &port, "--bind", "127.0.0.1"]);
    assert_ne!(code, 0);
    let all = format!("{out}{err}");
    assert!(
        all.contains("Address already in use") || all.contains("in use"),
        "{all}"
    );
}

#[test]
fn disk_store_that_cannot_be_opened_is_fatal() {
    // `<dir>/ferrokv-disk` is a regular file: the store cannot be opened there.
    let root = std::env::temp_dir().join(format!("ferrokv-startup-disk-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("create temp dir");
    std::fs::write(root.join("ferrokv-disk"), b"x").expect("write temp file");
    let dir = root.to_string_lossy().into_owned();
    let (code, out, err) = run(&["--port", "0", "--storage-engine", "disk", "--dir", &dir]);
    let _ = std::fs::remove_dir_all(&root);
    assert_ne!(code, 0);
    let all = format!("{out}{err}");
    assert!(all.contains("disk store"), "{all}");
}

#[test]
fn directives_without_effect_are_reported_in_the_log() {
    let srv = ServerProc::ferrokv(BIN, &["--activedefrag", "yes"]);
    let mut c = srv.conn();
    assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
    let logs = srv.logs();
    assert!(
        logs.contains("'activedefrag' is accepted but has no effect yet"),
        "{logs}"
    );
}

/// The `THP_enabled` line of /proc/<pid>/status (Linux: 0 once `PR_SET_THP_DISABLE` is set).
fn thp_enabled(pid: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("THP_enabled:"))
        .map(|v| v.trim().to_string())
}

/// `disable-thp yes` (the default, as in Redis) turns transparent huge pages off for the
/// process: mimalloc would otherwise fault in 2 MiB at a time and stall a worker for
/// milliseconds (docs/performance-notes.md, "Tail latency"). `no` leaves them as they are.
#[test]
fn disable_thp_turns_huge_pages_off_for_the_process() {
    let Some(own) = thp_enabled("self") else {
        eprintln!("skipped: no THP_enabled line in /proc/self/status");
        return;
    };
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "disable-thp"]),
        Value::Array(vec![
            Value::Bulk(b"disable-thp".to_vec()),
            Value::Bulk(b"yes".to_vec())
        ])
    );
    assert_eq!(thp_enabled(&srv.pid().to_string()).as_deref(), Some("0"));
    let srv = ServerProc::ferrokv(BIN, &["--disable-thp", "no"]);
    assert_eq!(srv.conn().cmd(&["PING"]), Value::Simple("PONG".into()));
    assert_eq!(thp_enabled(&srv.pid().to_string()), Some(own));
    let logs = srv.logs();
    assert!(
        !logs.contains("'disable-thp' is accepted but has no effect"),
        "{logs}"
    );
}
