//! Server processes for tests: ferrokv or the redis-server oracle, each on its own free loopback
//! port and in its own temporary directory, killed and cleaned up when the handle is dropped.

use crate::conn::Conn;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a started server gets to answer `PING` with `+PONG` before the test fails.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Returns a TCP port on 127.0.0.1 that was free a moment ago (the OS picked it for a listener
/// that is closed before returning). Another process may take it before the caller binds it;
/// [`ServerProc`] retries with a new port when its server fails with "address in use".
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind 127.0.0.1:0: {e}"));
    match l.local_addr() {
        Ok(a) => a.port(),
        Err(e) => panic!("local_addr: {e}"),
    }
}

/// Calls `f` every 10 ms until it returns true (→ true) or `timeout` passes (→ false).
/// `f` is always called at least once, and once more at the deadline.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(10)));
    }
}

/// Waits (polling the wall clock, at most ~7 s) until the current second of the minute is
/// below 54, and panics if it never is. Servers keep LFU access times on a minute clock and
/// decay the counter once per elapsed minute, so a test that reads `OBJECT FREQ` right after
/// a write calls this first: its next few commands then cannot straddle a minute boundary.
pub fn wait_until_inside_minute() {
    let second_of_minute = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() % 60)
            .unwrap_or(0)
    };
    assert!(
        wait_until(Duration::from_secs(7), || second_of_minute() < 54),
        "the wall clock did not reach a new minute"
    );
}

/// Finds an executable called `name` on `PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// True when the environment demands that the oracle be present (`FERROKV_REQUIRE_REDIS=1`, which
/// `.ci/run` sets): then a missing redis-server fails the test instead of skipping it, so that CI
/// can never go green by silently skipping every differential test.
fn redis_required() -> bool {
    matches!(
        std::env::var("FERROKV_REQUIRE_REDIS").as_deref(),
        Ok("1") | Ok("true")
    )
}

/// The redis-server binary: `REDIS_SERVER_BIN` if set, else `redis-server` from `PATH`.
fn redis_bin() -> Option<PathBuf> {
    match std::env::var_os("REDIS_SERVER_BIN") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)).filter(|p| p.is_file()),
        _ => find_in_path("redis-server"),
    }
}

/// A server process started for one test.
///
/// The server listens on 127.0.0.1:[`ServerProc::port`], writes its files (RDB, AOF, logs) into
/// [`ServerProc::dir`], and has answered `PING` before the constructor returns. Dropping the
/// handle kills the process (SIGKILL) and deletes the directory (kept if `FERROKV_KEEP_TMP=1`).
pub struct ServerProc {
    /// The loopback port the server listens on.
    pub port: u16,
    child: Option<Child>,
    dir: PathBuf,
    bin: PathBuf,
    args: Vec<String>,
    /// Config file passed as the first argument, if the test supplied one.
    conf: Option<PathBuf>,
}

static DIR_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Whether the ferrokv servers of this test run use the disk engine (env
/// `FERROKV_TEST_ENGINE=disk`): [`ServerProc::ferrokv`] then starts them with
/// `--storage-engine disk`. Tests of memory-engine internals skip themselves with
/// [`skip_on_disk`].
pub fn engine_is_disk() -> bool {
    std::env::var("FERROKV_TEST_ENGINE").is_ok_and(|v| v == "disk")
}

/// For a test that checks memory-engine internals: returns `true` (and prints why, as a
/// `SKIP:` line) when the suite runs on the disk engine, so the test can return early.
pub fn skip_on_disk(reason: &str) -> bool {
    if engine_is_disk() {
        eprintln!("SKIP on the disk engine: {reason}");
        return true;
    }
    false
}

/// Extra server arguments for disk-engine runs, from `FERROKV_TEST_DISK_ARGS`
/// (whitespace-separated), e.g. `--disk-object-cache-size 4kb` to run a suite with the
/// hot-object cache evicting all the time. Empty when unset.
fn disk_args() -> &'static [String] {
    static ARGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    ARGS.get_or_init(|| {
        std::env::var("FERROKV_TEST_DISK_ARGS")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    })
}

/// `extra` with `--storage-engine disk` (and [`disk_args`]) in front when [`engine_is_disk`]
/// and `bin` is ferrokv (never for the redis-server oracle given as `FERROKV_BIN`). The test's
/// own arguments come last, so they win over the environment's.
fn with_engine<'a>(bin: &std::path::Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = Vec::with_capacity(extra.len() + 2);
    let is_redis = bin
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains("redis"));
    if engine_is_disk() && !is_redis {
        v.extend_from_slice(&["--storage-engine", "disk"]);
        v.extend(disk_args().iter().map(String::as_str));
    }
    v.extend_from_slice(extra);
    v
}

fn make_temp_dir() -> PathBuf {
    let n = DIR_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir =
        std::env::temp_dir().join(format!("ferrokv-test-{}-{n}-{nanos:x}", std::process::id()));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

impl ServerProc {
    /// Starts ferrokv: the binary named by env `FERROKV_BIN` if set, else `bin` (tests pass
    /// `env!("CARGO_BIN_EXE_ferrokv-server")`), with
    /// `--port P --bind 127.0.0.1 --save "" --appendonly no --dir <tempdir>` followed by `extra`
    /// (later arguments override earlier ones, as in redis-server).
    ///
    /// These arguments are all valid redis-server arguments too, so `FERROKV_BIN=redis-server`
    /// turns every ferrokv test into a check of the test itself against the oracle.
    pub fn ferrokv(bin: &str, extra: &[&str]) -> ServerProc {
        let bin = match std::env::var("FERROKV_BIN") {
            Ok(b) if !b.is_empty() => PathBuf::from(b),
            _ => PathBuf::from(bin),
        };
        let args = with_engine(&bin, extra);
        Self::start(bin, None, &args)
    }

    /// Like [`ServerProc::ferrokv`], but first writes `config` (redis.conf syntax) to
    /// `<tempdir>/test.conf` and passes that file as the first argument, as `redis-server`
    /// expects; the base arguments and `extra` still override it. For tests of config-file
    /// parsing, `CONFIG REWRITE` and directives that cannot be given on the command line.
    pub fn ferrokv_with_config(bin: &str, config: &str, extra: &[&str]) -> ServerProc {
        let bin = match std::env::var("FERROKV_BIN") {
            Ok(b) if !b.is_empty() => PathBuf::from(b),
            _ => PathBuf::from(bin),
        };
        let args = with_engine(&bin, extra);
        Self::start(bin, Some(config), &args)
    }

    /// Starts the oracle, `redis-server` from `PATH` (or env `REDIS_SERVER_BIN`), with the same
    /// base arguments as [`ServerProc::ferrokv`] plus `--enable-debug-command yes`, then `extra`.
    ///
    /// Returns `None` after printing `SKIP: redis-server not installed` when there is no
    /// redis-server, unless `FERROKV_REQUIRE_REDIS=1`, in which case it panics.
    pub fn redis(extra: &[&str]) -> Option<ServerProc> {
        let Some(bin) = redis_bin() else {
            if redis_required() {
                panic!("redis-server not installed but FERROKV_REQUIRE_REDIS=1");
            }
            eprintln!("SKIP: redis-server not installed");
            return None;
        };
        let mut args = vec!["--enable-debug-command", "yes"];
        args.extend_from_slice(extra);
        Some(Self::start(bin, None, &args))
    }

    /// Like [`ServerProc::redis`] with a config file, as [`ServerProc::ferrokv_with_config`].
    pub fn redis_with_config(config: &str, extra: &[&str]) -> Option<ServerProc> {
        let Some(bin) = redis_bin() else {
            if redis_required() {
                panic!("redis-server not installed but FERROKV_REQUIRE_REDIS=1");
            }
            eprintln!("SKIP: redis-server not installed");
            return None;
        };
        let mut args = vec!["--enable-debug-command", "yes"];
        args.extend_from_slice(extra);
        Some(Self::start(bin, Some(config), &args))
    }

    /// Starts `bin` with the base arguments and `extra`, retrying on a fresh port if the chosen
    /// one was taken in the meantime.
    fn start(bin: PathBuf, config: Option<&str>, extra: &[&str]) -> ServerProc {
        let dir = make_temp_dir();
        let conf = config.map(|text| {
            let path = dir.join("test.conf");
            fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            path
        });
        let args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let mut last_logs = String::new();
        for _attempt in 0..5 {
            // Fresh logs per attempt, so a stale "address in use" is not misread later.
            let _ = fs::remove_file(dir.join("stdout.log"));
            let _ = fs::remove_file(dir.join("stderr.log"));
            let mut p = ServerProc {
                port: free_port(),
                child: None,
                dir: dir.clone(),
                bin: bin.clone(),
                args: args.clone(),
                conf: conf.clone(),
            };
            match p.spawn_and_wait() {
                Ok(()) => return p,
                Err(StartError::AddrInUse(logs)) => {
                    last_logs = logs;
                    // Keep the directory for the next attempt; forget it so Drop leaves it.
                    p.dir = PathBuf::new();
                }
                Err(StartError::Failed(msg)) => panic!("{msg}"),
            }
        }
        let _ = fs::remove_dir_all(&dir);
        panic!(
            "{} could not bind a free port after 5 attempts; last output:\n{last_logs}",
            bin.display()
        );
    }

    fn full_args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        if let Some(c) = &self.conf {
            a.push(c.to_string_lossy().into_owned());
        }
        a.extend(
            [
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        a.push(self.dir.to_string_lossy().into_owned());
        a.extend(self.args.iter().cloned());
        a
    }

    fn spawn_and_wait(&mut self) -> Result<(), StartError> {
        let open = |name: &str| {
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(name))
                .map_err(|e| StartError::Failed(format!("open log file {name}: {e}")))
        };
        let stdout = open("stdout.log")?;
        let stderr = open("stderr.log")?;
        let args = self.full_args();
        let child = Command::new(&self.bin)
            .args(&args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| StartError::Failed(format!("cannot start {}: {e}", self.bin.display())))?;
        self.child = Some(child);
        self.wait_ready()
    }

    /// Polls PING until +PONG (or the process dies, or [`READY_TIMEOUT`] passes).
    fn wait_ready(&mut self) -> Result<(), StartError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = self.addr();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    let logs = self.logs();
                    if logs.contains("Address already in use") || logs.contains("AddrInUse") {
                        return Err(StartError::AddrInUse(logs));
                    }
                    return Err(StartError::Failed(format!(
                        "{} {:?} exited early with {status}; output:\n{logs}",
                        self.bin.display(),
                        self.full_args()
                    )));
                }
            }
            if ping_ok(&addr) {
                // Another test's server may have taken the port between `free_port` and our
                // server's bind (ours then exits with "address in use"): only a server whose
                // `dir` is our directory counts.
                let ours = self
                    .dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if serves_dir(&addr, &ours) != Some(false) {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                let logs = self.logs();
                self.kill();
                return Err(StartError::Failed(format!(
                    "{} did not answer PING with +PONG on {addr} within {READY_TIMEOUT:?}; output:\n{logs}",
                    self.bin.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Opens a new RESP2 connection to the server.
    pub fn conn(&self) -> Conn {
        Conn::connect(&self.addr())
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The OS process id (0 once the process has been stopped by [`ServerProc::kill`]).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// The server's working directory (`--dir`): where RDB/AOF files and `stdout.log` /
    /// `stderr.log` go.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything the server wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        let (out, err) = (read("stdout.log"), read("stderr.log"));
        if err.is_empty() {
            out
        } else {
            format!("{out}--- stderr ---\n{err}")
        }
    }

    /// Whether this handle runs ferrokv (not the redis-server oracle).
    fn is_ferrokv(&self) -> bool {
        !self
            .bin
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("redis"))
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the process with SIGKILL (a crash: nothing is flushed) and reaps it. The directory
    /// stays, so [`ServerProc::restart`] can reload what was persisted.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM (a graceful shutdown, which saves if save points are configured) and waits
    /// up to `timeout` for the process to exit; returns whether it exited. If it did not, the
    /// process is still running and owned by this handle.
    pub fn terminate(&mut self, timeout: Duration) -> bool {
        let Some(c) = self.child.as_mut() else {
            return true;
        };
        let pid = c.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let exited = wait_until(timeout, || matches!(c.try_wait(), Ok(Some(_))));
        if exited {
            self.child = None;
        }
        exited
    }

    /// Waits up to `timeout` for the process to exit by itself (e.g. after `SHUTDOWN`); returns
    /// whether it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let Some(c) = self.child.as_mut() else {
            return true;
        };
        let exited = wait_until(timeout, || matches!(c.try_wait(), Ok(Some(_))));
        if exited {
            self.child = None;
        }
        exited
    }

    /// Stops the process if it is still running (SIGKILL), then starts the same binary again
    /// with the same arguments, port and directory, and waits until it answers PING: for
    /// persistence tests (write, restart, read back).
    pub fn restart(&mut self) {
        self.kill();
        match self.spawn_and_wait() {
            Ok(()) => {}
            Err(StartError::AddrInUse(logs)) | Err(StartError::Failed(logs)) => {
                panic!("restart of {} failed:\n{logs}", self.bin.display())
            }
        }
    }

    /// Like [`ServerProc::restart`] but replaces the extra arguments first (e.g. to turn
    /// `--appendonly yes` on for the second run).
    pub fn restart_with(&mut self, extra: &[&str]) {
        self.args = if self.is_ferrokv() {
            with_engine(&self.bin, extra)
        } else {
            extra.to_vec()
        }
        .iter()
        .map(|s| s.to_string())
        .collect();
        self.restart();
    }
}

enum StartError {
    AddrInUse(String),
    Failed(String),
}

/// One PING round trip with short timeouts; true only on an exact `+PONG\r\n`.
fn ping_ok(addr: &str) -> bool {
    let Ok(sock) = addr.parse() else {
        return false;
    };
    let Ok(mut s) = TcpStream::connect_timeout(&sock, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
        return false;
    }
    let mut got = Vec::new();
    let mut chunk = [0u8; 64];
    while !got.ends_with(b"\r\n") && got.len() < 256 {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    got == b"+PONG\r\n"
}

/// Whether the server at `addr` runs in a directory whose path contains `needle` (`CONFIG GET
/// dir`); `None` when that cannot be asked (an error reply, e.g. NOAUTH, or no reply).
fn serves_dir(addr: &str, needle: &str) -> Option<bool> {
    let sock = addr.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_millis(200)).ok()?;
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    s.write_all(b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$3\r\ndir\r\n")
        .ok()?;
    let mut got = Vec::new();
    let mut chunk = [0u8; 256];
    // An array of two bulk strings: four CRLF-terminated lines (or an error line).
    while got.windows(2).filter(|w| w == b"\r\n").count() < 5 && got.len() < 8192 {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
        if got.first() == Some(&b'-') && got.ends_with(b"\r\n") {
            return None;
        }
    }
    if got.first() != Some(&b'*') {
        return None;
    }
    let text = String::from_utf8_lossy(&got);
    Some(text.contains(needle))
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.kill();
        if self.dir.as_os_str().is_empty() {
            return;
        }
        let keep = matches!(std::env::var("FERROKV_KEEP_TMP").as_deref(), Ok("1"));
        if keep {
            eprintln!("kept server dir {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
