//! Scripting and Functions against the real binary (ferrokv only): BUSY while a script runs
//! past `busy-reply-threshold` (for every other connection, whichever worker thread it is
//! on), SCRIPT KILL / FUNCTION KILL texts, UNKILLABLE after a write, SHUTDOWN NOSAVE while
//! busy, the Lua memory limit, atomicity of scripts (declared and undeclared keys) against
//! concurrent MULTI/EXEC and plain commands, SELECT inside scripts, EVAL inside MULTI,
//! MONITOR and commandstats for commands run by scripts; `redis.call` from coroutines,
//! metamethods and library callbacks, its argument conversion and errors on both the
//! script-thread and the inline path, a `redis.call` kept past its run (in a library's
//! upvalue or a global), `redis.pcall` in call-heavy loops and the Lua heap over many runs.
//!
//! The servers get `FERROKV_LUA_MEMORY_LIMIT` (see `scripting::vm::memory_limit`) so the
//! memory test is quick; the same value for every test of this file.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{wait_until, Conn, ServerProc, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");
const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const BUSY_FN: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

fn server(extra: &[&str]) -> ServerProc {
    // Same value for every test of this binary (tests share the process environment).
    std::env::set_var("FERROKV_LUA_MEMORY_LIMIT", "67108864");
    ServerProc::ferrokv(BIN, extra)
}

fn err(v: Value) -> String {
    match v {
        Value::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn bulk_str(v: Value) -> String {
    match v {
        Value::Bulk(b) => String::from_utf8(b).unwrap(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn int(v: Value) -> i64 {
    match v {
        Value::Int(i) => i,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// Waits until `c` gets `text` as the error reply of PING.
fn wait_busy(c: &mut Conn, text: &str) {
    assert!(
        wait_until(Duration::from_secs(10), || {
            matches!(c.cmd(&["PING"]), Value::Error(e) if e == text)
        }),
        "never got {text}"
    );
}

#[test]
fn busy_script_is_killed_and_every_client_sees_busy() {
    let srv = server(&["--busy-reply-threshold", "100"]);
    let mut runner = srv.conn();
    runner.set_reply_timeout(Duration::from_secs(30));
    runner.send(&[b"EVAL", b"local i = 0\nwhile true do i = i + 1 end", b"0"]);
    // Many connections: some share the runner's worker thread (the script runs on a
    // blocking-pool thread, so they are served and get BUSY).
    let mut others: Vec<Conn> = (0..8).map(|_| srv.conn()).collect();
    for c in others.iter_mut() {
        wait_busy(c, BUSY);
    }
    let mut o = srv.conn();
    assert_eq!(err(o.cmd(&["GET", "x"])), BUSY);
    assert_eq!(err(o.cmd(&["FUNCTION", "KILL"])), BUSY);
    assert_eq!(o.cmd(&["SCRIPT", "KILL"]), Value::Simple("OK".into()));
    let killed = err(runner.read_value());
    assert_eq!(
        killed,
        "ERR Script killed by user with SCRIPT KILL... script: 05ee8e4d8e0d3e9d5cbf52ad05ad1a7eb8d1c5a8, on @user_script:2."
            .replace("05ee8e4d8e0d3e9d5cbf52ad05ad1a7eb8d1c5a8", &sha1_of(&mut o, "local i = 0\nwhile true do i = i + 1 end"))
    );
    for c in others.iter_mut() {
        assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
    }
    assert_eq!(
        err(o.cmd(&["SCRIPT", "KILL"])),
        "NOTBUSY No scripts in execution right now."
    );
    // The interpreter still works.
    assert_eq!(runner.cmd(&["EVAL", "return 7", "0"]), Value::Int(7));
}

#[test]
fn busy_reply_threshold_set_at_runtime_applies_to_the_next_script() {
    // Started with the default (5 s); CONFIG SET lowers it for the next run, and the alias
    // lua-time-limit sets the same value.
    let srv = server(&[]);
    let mut admin = srv.conn();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "lua-time-limit", "100"]),
        Value::Simple("OK".into())
    );
    let mut runner = srv.conn();
    runner.set_reply_timeout(Duration::from_secs(30));
    let started = std::time::Instant::now();
    runner.send(&[b"EVAL", b"while true do end", b"0"]);
    let mut other = srv.conn();
    wait_busy(&mut other, BUSY);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "BUSY came after {:?}: the 5 s default was used",
        started.elapsed()
    );
    assert_eq!(other.cmd(&["SCRIPT", "KILL"]), Value::Simple("OK".into()));
    assert!(err(runner.read_value()).starts_with("ERR Script killed by user"));
}

/// Lua numbers given to `redis.call` become the text Redis 7.2+ makes of them (the oracle,
/// 7.0, prints 17 significant digits, so this is not a differential test): integral values
/// within ±2^62 as integers, everything else as the shortest text that reads back as the
/// same double, never Lua's lossy 14 digits.
#[test]
fn numbers_passed_to_redis_call_read_as_in_redis_7_2() {
    let srv = server(&[]);
    let mut c = srv.conn();
    let cases = [
        ("1/3", "0.3333333333333333"),
        ("0.1", "0.1"),
        ("-2.5", "-2.5"),
        ("1e15 + 0.5", "1000000000000000.5"),
        ("1e9", "1000000000"),
        ("2^53", "9007199254740992"),
        ("2^63", "9223372036854776000"),
        ("1e100", "1e+100"),
        ("1.5e-7", "1.5e-7"),
        ("-0.0", "0"),
    ];
    for (expr, want) in cases {
        let body = format!("redis.call('SET', KEYS[1], {expr}); return redis.call('GET', KEYS[1])");
        assert_eq!(
            c.cmd(&["EVAL", &body, "1", "n"]),
            Value::Bulk(want.as_bytes().to_vec()),
            "{expr}"
        );
    }
}

fn sha1_of(c: &mut Conn, body: &str) -> String {
    bulk_str(c.cmd(&["EVAL", "return redis.sha1hex(ARGV[1])", "0", body]))
}

#[test]
fn a_script_that_wrote_is_unkillable_and_shutdown_nosave_works() {
    let mut srv = server(&["--busy-reply-threshold", "100"]);
    let mut runner = srv.conn();
    runner.send(&[
        b"EVAL",
        b"redis.call('set', 'k', 'v')\nwhile true do end",
        b"0",
    ]);
    let mut o = srv.conn();
    wait_busy(&mut o, BUSY);
    assert_eq!(err(o.cmd(&["SCRIPT", "KILL"])), UNKILLABLE);
    assert_eq!(err(o.cmd(&["FUNCTION", "KILL"])), UNKILLABLE);
    o.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(
        srv.wait_exit(Duration::from_secs(10)),
        "server did not exit"
    );
}

#[test]
fn busy_function_is_killed_with_function_kill() {
    let srv = server(&["--busy-reply-threshold", "100"]);
    let mut runner = srv.conn();
    runner.set_reply_timeout(Duration::from_secs(30));
    assert_eq!(
        runner.cmd(&[
            "FUNCTION",
            "LOAD",
            "#!lua name=loops\nredis.register_function('loop', function()\n  while true do end\nend)"
        ]),
        Value::Bulk(b"loops".to_vec())
    );
    runner.send(&[b"FCALL", b"loop", b"0"]);
    let mut o = srv.conn();
    wait_busy(&mut o, BUSY_FN);
    assert_eq!(err(o.cmd(&["SCRIPT", "KILL"])), BUSY_FN);
    // FUNCTION STATS names the running function and its command.
    let stats = format!("{:?}", o.cmd(&["FUNCTION", "STATS"]));
    assert!(
        stats.contains("loop") && stats.to_lowercase().contains("fcall"),
        "{stats}"
    );
    assert_eq!(o.cmd(&["FUNCTION", "KILL"]), Value::Simple("OK".into()));
    assert_eq!(
        err(runner.read_value()),
        "ERR Script killed by user with SCRIPT KILL... script: loop, on @user_function:3."
    );
    assert_eq!(o.cmd(&["PING"]), Value::Simple("PONG".into()));
}

#[test]
fn memory_limit_stops_the_script_and_the_server_keeps_serving() {
    let srv = server(&[]);
    let mut c = srv.conn();
    c.set_reply_timeout(Duration::from_secs(60));
    let e = err(c.cmd(&[
        "EVAL",
        "local t = {}\nfor i = 1, 100000000 do t[i] = string.rep('x', 64) .. i end\nreturn #t",
        "0",
    ]));
    assert!(
        e.starts_with("ERR ") && e.contains("not enough memory"),
        "{e}"
    );
    assert_eq!(
        c.cmd(&["EVAL", "return 'alive'", "0"]),
        Value::Bulk(b"alive".to_vec())
    );
    assert_eq!(c.cmd(&["SET", "k", "v"]), Value::Simple("OK".into()));
    // Functions have their own state and limit.
    c.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=hog\nredis.register_function('hog', function()\n  local t = {}\n  for i = 1, 100000000 do t[i] = string.rep('y', 64) .. i end\nend)",
    ]);
    let e = err(c.cmd(&["FCALL", "hog", "0"]));
    assert!(e.contains("not enough memory"), "{e}");
    assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
}

/// Blocking commands run from scripts never block (Redis 7.2+ allows them; 7.0 refused).
#[test]
fn blocking_commands_in_scripts_do_not_block() {
    let srv = server(&[]);
    let mut c = srv.conn();
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('blpop', 'nolist', '0')", "0"]),
        Value::Null
    );
    c.cmd(&["RPUSH", "l", "a"]);
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('blpop', 'l', '0')", "0"]),
        Value::Array(vec![Value::Bulk(b"l".to_vec()), Value::Bulk(b"a".to_vec())])
    );
}

/// `os` has only `clock` (Redis 7.2+; 7.0 has no `os`).
#[test]
fn os_clock_exists() {
    let srv = server(&[]);
    let mut c = srv.conn();
    assert_eq!(
        c.cmd(&["EVAL", "return type(os.clock())", "0"]),
        Value::Bulk(b"number".to_vec())
    );
    assert_eq!(
        c.cmd(&["EVAL", "return os.time == nil", "0"]),
        Value::Int(1)
    );
}

#[test]
fn select_inside_a_script_does_not_leak_to_the_client() {
    let srv = server(&[]);
    let mut c = srv.conn();
    assert_eq!(
        c.cmd(&["EVAL", "redis.call('select', 3)\nredis.call('set', 'in3', 'x')\nreturn redis.call('get', 'in3')", "0"]),
        Value::Bulk(b"x".to_vec())
    );
    assert_eq!(c.cmd(&["GET", "in3"]), Value::Null);
    c.cmd(&["SELECT", "3"]);
    assert_eq!(c.cmd(&["GET", "in3"]), Value::Bulk(b"x".to_vec()));
    // Keys of several dbs in one script.
    c.cmd(&["SELECT", "0"]);
    c.cmd(&["SET", "in0", "y"]);
    assert_eq!(
        c.cmd(&["EVAL", "local a = redis.call('get', 'in0')\nredis.call('select', 3)\nreturn {a, redis.call('get', 'in3')}", "0"]),
        Value::Array(vec![Value::Bulk(b"y".to_vec()), Value::Bulk(b"x".to_vec())])
    );
}

#[test]
fn monitor_and_commandstats_see_script_commands() {
    let srv = server(&[]);
    let mut m = srv.conn();
    assert_eq!(m.cmd(&["MONITOR"]), Value::Simple("OK".into()));
    let mut c = srv.conn();
    c.cmd(&["CONFIG", "RESETSTAT"]);
    c.cmd(&[
        "EVAL",
        "redis.call('set', 'mk', 'mv')\nreturn redis.call('get', 'mk')",
        "0",
    ]);
    let mut lines = Vec::new();
    for _ in 0..3 {
        match m.read_value() {
            Value::Simple(s) => lines.push(s),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("[0 lua] \"set\" \"mk\" \"mv\"")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.ends_with("[0 lua] \"get\" \"mk\"")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"EVAL\"") || l.contains("\"eval\"")),
        "{lines:?}"
    );
    let stats = bulk_str(c.cmd(&["INFO", "commandstats"]));
    assert!(stats.contains("cmdstat_set:calls=1,"), "{stats}");
    assert!(stats.contains("cmdstat_get:calls=1,"), "{stats}");
    assert!(stats.contains("cmdstat_eval:calls=1,"), "{stats}");
}

#[test]
fn info_reports_scripting_fields() {
    let srv = server(&[]);
    let mut c = srv.conn();
    c.cmd(&["SCRIPT", "LOAD", "return 1"]);
    c.cmd(&["SCRIPT", "LOAD", "return 2"]);
    c.cmd(&["FUNCTION", "LOAD", "#!lua name=l\nredis.register_function('a', function() return 1 end)\nredis.register_function('b', function() return 1 end)"]);
    let info = bulk_str(c.cmd(&["INFO", "memory"]));
    assert!(info.contains("number_of_cached_scripts:2\r\n"), "{info}");
    assert!(info.contains("used_memory_lua:"), "{info}");
    assert!(info.contains("used_memory_vm_functions:"), "{info}");
    assert!(info.contains("number_of_functions:2\r\n"), "{info}");
    assert!(info.contains("number_of_libraries:1\r\n"), "{info}");
}

const N_ACCOUNTS: usize = 8;
const START: i64 = 1000;

fn account(i: usize) -> String {
    // Different hash slots, so different shards.
    format!("acct:{i}:{}", i * 7919)
}

/// Moves value between keys: declared keys, undeclared keys (names in ARGV), EVALSHA, FCALL,
/// MULTI/EXEC and EVAL inside MULTI, while readers check the total with a read-only script,
/// MULTI + GETs and MGET; plain INCR and a script's GET+SET on the same counter must not lose
/// updates. Without atomicity across shards, readers would see a wrong total and the counter
/// would lose increments.
#[test]
fn scripts_are_atomic_against_transactions_and_plain_commands() {
    let srv = server(&[]);
    let mut setup = srv.conn();
    let names: Vec<String> = (0..N_ACCOUNTS).map(account).collect();
    for n in &names {
        setup.cmd(&["SET", n, &START.to_string()]);
    }
    setup.cmd(&["SET", "counter", "0"]);
    let transfer = "local a = tonumber(redis.call('get', KEYS[1]))\nlocal b = tonumber(redis.call('get', KEYS[2]))\nlocal n = tonumber(ARGV[1])\nredis.call('set', KEYS[1], a - n)\nredis.call('set', KEYS[2], b + n)\nreturn a - n";
    let undeclared = "local a = tonumber(redis.call('get', ARGV[1]))\nlocal b = tonumber(redis.call('get', ARGV[2]))\nredis.call('set', ARGV[1], a - 3)\nredis.call('set', ARGV[2], b + 3)\nreturn 1";
    let sum = "local s = 0\nfor i, k in ipairs(ARGV) do s = s + tonumber(redis.call('get', k)) end\nreturn s";
    let bump = "local v = tonumber(redis.call('get', KEYS[1]))\nredis.call('set', KEYS[1], v + 1)\nreturn v + 1";
    let bump_undeclared = "local v = tonumber(redis.call('get', 'counter'))\nredis.call('set', 'counter', v + 1)\nreturn v + 1";
    let transfer_sha = bulk_str(setup.cmd(&["SCRIPT", "LOAD", transfer]));
    setup.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=bank\nredis.register_function('move', function(keys, args)\n  local a = tonumber(redis.call('get', keys[1]))\n  local b = tonumber(redis.call('get', keys[2]))\n  redis.call('set', keys[1], a - 2)\n  redis.call('set', keys[2], b + 2)\n  return 1\nend)",
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    let bumps = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for w in 0..7usize {
        let mut c = srv.conn();
        let names = names.clone();
        let stop = stop.clone();
        let bumps = bumps.clone();
        let (transfer, undeclared, bump, bump_undeclared, sha) = (
            transfer.to_string(),
            undeclared.to_string(),
            bump.to_string(),
            bump_undeclared.to_string(),
            transfer_sha.clone(),
        );
        handles.push(std::thread::spawn(move || {
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let a = &names[i % N_ACCOUNTS];
                let b = &names[(i * 3 + 1) % N_ACCOUNTS];
                if a == b {
                    continue;
                }
                let r = match w {
                    0 => c.cmd(&["EVAL", &transfer, "2", a, b, "5"]),
                    1 => c.cmd(&["EVAL", &undeclared, "0", a, b]),
                    2 => c.cmd(&["EVALSHA", &sha, "2", a, b, "1"]),
                    3 => c.cmd(&["FCALL", "move", "2", a, b]),
                    4 => {
                        c.cmd(&["MULTI"]);
                        c.cmd(&["DECRBY", a, "4"]);
                        c.cmd(&["INCRBY", b, "4"]);
                        c.cmd(&["EXEC"])
                    }
                    5 => {
                        c.cmd(&["MULTI"]);
                        c.cmd(&["EVAL", &transfer, "2", a, b, "6"]);
                        c.cmd(&["INCR", "counter"]);
                        let r = c.cmd(&["EXEC"]);
                        bumps.fetch_add(1, Ordering::Relaxed);
                        r
                    }
                    _ => {
                        // Lost-update check: plain INCR racing scripts' GET+SET.
                        c.cmd(&["INCR", "counter"]);
                        c.cmd(&["EVAL", &bump, "1", "counter"]);
                        c.cmd(&["EVAL", &bump_undeclared, "0"]);
                        bumps.fetch_add(3, Ordering::Relaxed);
                        Value::Int(0)
                    }
                };
                assert!(!matches!(r, Value::Error(_)), "worker {w}: {r:?}");
            }
        }));
    }
    for r in 0..3usize {
        let mut c = srv.conn();
        let names = names.clone();
        let stop = stop.clone();
        let bad = bad.clone();
        let sum = sum.to_string();
        handles.push(std::thread::spawn(move || {
            let expect = START * N_ACCOUNTS as i64;
            while !stop.load(Ordering::Relaxed) {
                let total = match r {
                    0 => {
                        let mut a: Vec<&str> = vec!["EVAL_RO", &sum, "0"];
                        a.extend(names.iter().map(|s| s.as_str()));
                        int(c.cmd(&a))
                    }
                    1 => {
                        c.cmd(&["MULTI"]);
                        for n in &names {
                            c.cmd(&["GET", n]);
                        }
                        match c.cmd(&["EXEC"]) {
                            Value::Array(vs) => vs
                                .into_iter()
                                .map(|v| bulk_str(v).parse::<i64>().unwrap())
                                .sum(),
                            other => panic!("{other:?}"),
                        }
                    }
                    _ => {
                        let mut a: Vec<&str> = vec!["MGET"];
                        a.extend(names.iter().map(|s| s.as_str()));
                        match c.cmd(&a) {
                            Value::Array(vs) => vs
                                .into_iter()
                                .map(|v| bulk_str(v).parse::<i64>().unwrap())
                                .sum(),
                            other => panic!("{other:?}"),
                        }
                    }
                };
                if total != expect {
                    bad.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(3)); // the workload's duration, not synchronisation
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        bad.load(Ordering::Relaxed),
        0,
        "readers saw a partial transfer"
    );
    let mut a: Vec<&str> = vec!["MGET"];
    a.extend(names.iter().map(|s| s.as_str()));
    let total: i64 = match setup.cmd(&a) {
        Value::Array(vs) => vs
            .into_iter()
            .map(|v| bulk_str(v).parse::<i64>().unwrap())
            .sum(),
        other => panic!("{other:?}"),
    };
    assert_eq!(total, START * N_ACCOUNTS as i64);
    let counter: u64 = bulk_str(setup.cmd(&["GET", "counter"])).parse().unwrap();
    assert_eq!(
        counter,
        bumps.load(Ordering::Relaxed),
        "lost updates on the counter"
    );
    assert!(counter > 0);
}

/// Runs `body` (no keys) `n` times: the first run goes to the script thread, the later ones
/// run inline on the connection's worker (the script is then known fast). Returns the replies.
fn eval_n(c: &mut Conn, body: &str, keys: &[&str], n: usize) -> Vec<Value> {
    let nk = keys.len().to_string();
    let mut args = vec!["EVAL", body, nk.as_str()];
    args.extend_from_slice(keys);
    (0..n).map(|_| c.cmd(&args)).collect()
}

#[test]
fn redis_call_from_coroutines_metamethods_and_callbacks_within_the_run() {
    let srv = server(&[]);
    let mut c = srv.conn();
    let co = "local co = coroutine.create(function(k) \
                coroutine.yield(redis.call('INCR', k)) \
                return redis.call('INCR', k) end) \
              local _, a = coroutine.resume(co, KEYS[1]) \
              local _, b = coroutine.resume(co) \
              return {a, b}";
    let got = eval_n(&mut c, co, &["co"], 4);
    for (i, v) in got.into_iter().enumerate() {
        let i = i as i64;
        assert_eq!(
            v,
            Value::Array(vec![Value::Int(2 * i + 1), Value::Int(2 * i + 2)])
        );
    }
    let meta = "local t = setmetatable({}, {__index = function(_, k) \
                  return redis.call('INCRBY', k, 10) end}) return t[KEYS[1]]";
    let got = eval_n(&mut c, meta, &["m"], 3);
    assert_eq!(got, vec![Value::Int(10), Value::Int(20), Value::Int(30)]);
    let gsub =
        "return (string.gsub('a b', '%a', function(x) return redis.call('ECHO', x .. '!') end))";
    for v in eval_n(&mut c, gsub, &[], 3) {
        assert_eq!(bulk_str(v), "a! b!");
    }
}

#[test]
fn redis_call_arguments_and_errors_on_every_path() {
    let srv = server(&[]);
    let mut c = srv.conn();
    // Many calls per run, with argument counts growing past what the argument vector keeps
    // between calls, then small again.
    let grow = "local args = {} \
                for i = 1, 150 do args[i] = 'e' .. i end \
                local a = redis.call('RPUSH', KEYS[1], unpack(args)) \
                local b = redis.call('RPUSH', KEYS[1], 1, 2.5, 'x') \
                redis.call('DEL', KEYS[1]) \
                return {a, b, redis.call('INCR', KEYS[2])}";
    for (i, v) in eval_n(&mut c, grow, &["l", "n"], 4).into_iter().enumerate() {
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Int(150),
                Value::Int(153),
                Value::Int(i as i64 + 1)
            ])
        );
    }
    assert_eq!(
        c.cmd(&["LRANGE", "l", "0", "-1"]),
        Value::Array(vec![]),
        "the list was deleted by the last run"
    );
    // Errors raised by redis.call, caught by pcall, returned by redis.pcall.
    let caught = "local ok, e = pcall(redis.call, 'INCR') return {tostring(ok), e}";
    for v in eval_n(&mut c, caught, &[], 3) {
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Bulk(b"false".to_vec()),
                Value::Bulk(b"ERR Wrong number of args calling Redis command from script".to_vec()),
            ])
        );
    }
    for v in eval_n(&mut c, "return redis.pcall('SET', {})", &[], 3) {
        assert_eq!(
            err(v),
            "ERR Lua redis lib command arguments must be strings or integers"
        );
    }
    for v in eval_n(&mut c, "return redis.call('GET', nil)", &[], 3) {
        assert!(err(v).starts_with(
            "ERR Lua redis lib command arguments must be strings or integers script: "
        ),);
    }
    for v in eval_n(&mut c, "return redis.call()", &[], 3) {
        assert!(err(v).starts_with(
            "ERR Please specify at least one argument for this redis lib call script: "
        ));
    }
    // No recursion into the scripting engine.
    for v in eval_n(&mut c, "return redis.call('EVAL', 'return 1', '0')", &[], 3) {
        assert!(err(v).starts_with("ERR This Redis command is not allowed from script script: "));
    }
    // A command error keeps its code; the script's frame reports the line.
    c.cmd(&["SET", "s", "text"]);
    for v in eval_n(&mut c, "\nreturn redis.call('INCR', KEYS[1])", &["s"], 3) {
        assert!(err(v).starts_with("ERR value is not an integer or out of range script: "));
    }
    assert_eq!(bulk_str(c.cmd(&["GET", "s"])), "text");
}

#[test]
fn the_string_metatable_is_read_only() {
    let srv = server(&[]);
    let mut c = srv.conn();
    // As in Redis: neither the metatable nor the `string` table behind it can be changed, so
    // no script can alter string methods or leave a value there for a later run.
    for script in [
        "getmetatable('').x = 1 return 1",
        "getmetatable('').__index.x = 1 return 1",
        "rawset(getmetatable(''), 'x', 1) return 1",
        "setmetatable(getmetatable(''), {}) return 1",
    ] {
        for v in eval_n(&mut c, script, &[], 2) {
            assert!(
                err(v).contains("Attempt to modify a readonly table"),
                "{script}"
            );
        }
    }
    assert_eq!(
        eval_n(
            &mut c,
            "return ('a'):upper() .. type(getmetatable('').__index)",
            &[],
            1
        ),
        vec![Value::Bulk(b"Atable".to_vec())]
    );
    assert_eq!(
        eval_n(&mut c, "return getmetatable('').x", &[], 1),
        vec![Value::Null]
    );
}

#[test]
fn a_redis_call_kept_past_its_run_runs_in_the_later_run() {
    let srv = server(&[]);
    let mut c = srv.conn();
    // A function library's upvalues outlive each FCALL. `redis.call` is one function per
    // interpreter (registered once, as in Redis): a reference kept by one run works in a
    // later run, on the later run's context (its client, locks and reply), never the dead
    // one's.
    let lib = "#!lua name=keep\n\
               local kept, co\n\
               redis.register_function('stash', function() \
                 kept = redis.call return redis.call('INCR', 'kept') end)\n\
               redis.register_function('later', function(keys) \
                 kept('SELECT', keys[1]) return kept('INCR', 'kept') end)\n\
               redis.register_function('park', function() \
                 co = coroutine.create(function() \
                   coroutine.yield(1) return redis.call('INCR', 'resumed') end) \
                 coroutine.resume(co) return 0 end)\n\
               redis.register_function('resume', function() \
                 local ok, v = coroutine.resume(co) return v end)";
    assert_eq!(
        c.cmd(&["FUNCTION", "LOAD", lib]),
        Value::Bulk(b"keep".to_vec())
    );
    for i in 0..4 {
        assert_eq!(c.cmd(&["FCALL", "stash", "0"]), Value::Int(i + 1));
        // The kept function runs in this run: its SELECT applies to this run only (the
        // caller's db is restored after it), its INCR counts in db 1.
        assert_eq!(c.cmd(&["FCALL", "later", "1", "1"]), Value::Int(i + 1));
        assert_eq!(
            c.cmd(&["GET", "kept"]),
            Value::Bulk((i + 1).to_string().into_bytes())
        );
    }
    assert_eq!(c.cmd(&["SELECT", "1"]), Value::Simple("OK".into()));
    assert_eq!(c.cmd(&["GET", "kept"]), Value::Bulk(b"4".to_vec()));
    assert_eq!(c.cmd(&["SELECT", "0"]), Value::Simple("OK".into()));
    // A coroutine left suspended by one run and resumed by a later one reaches the later
    // run's redis.call through the `redis` table.
    for i in 0..3 {
        assert_eq!(c.cmd(&["FCALL", "park", "0"]), Value::Int(0));
        assert_eq!(c.cmd(&["FCALL", "resume", "0"]), Value::Int(i + 1));
    }
    assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
}

/// A chunk compiled by `loadstring` sees the scripts' protected globals (Redis 7's globals are
/// read-only): it cannot leave `redis.call` (or anything) in a global for a later run.
#[test]
fn a_loadstring_chunk_cannot_leave_a_global() {
    let srv = server(&[]);
    let mut c = srv.conn();
    let keep = "loadstring('kept_call = redis.call')() return 1";
    let use_kept = "return loadstring('return kept_call')()";
    // Each worker thread has its own interpreter: try enough runs to reach both.
    for _ in 0..10 {
        match c.cmd(&["EVAL", keep, "0"]) {
            Value::Error(e) => assert!(e.contains("Attempt to modify a readonly table"), "{e}"),
            other => panic!("got {other:?}"),
        }
        match c.cmd(&["EVAL", use_kept, "0"]) {
            Value::Error(e) => assert!(
                e.contains("Script attempted to access nonexistent global variable 'kept_call'"),
                "{e}"
            ),
            other => panic!("got {other:?}"),
        }
    }
    // The chunk still runs, with the script's globals readable.
    assert_eq!(
        c.cmd(&[
            "EVAL",
            r#"return loadstring("return redis.call('PING')")()"#,
            "0"
        ]),
        Value::Simple("PONG".into())
    );
}

/// `redis.pcall` (and `pcall(redis.call, ...)`) in loops of many calls: every failed call is
/// an error table or a caught error with the command's text, every other call runs.
#[test]
fn pcall_in_call_heavy_loops() {
    let srv = server(&[]);
    let mut c = srv.conn();
    let body = "local errs, last = 0, nil \
                for i = 1, 3000 do \
                  local r = redis.pcall('INCR', KEYS[1]) \
                  if type(r) ~= 'number' then return 'bad ' .. tostring(r) end \
                  local e = redis.pcall('LPUSH', KEYS[1], 'x') \
                  if type(e) == 'table' and e.err then errs = errs + 1 end \
                  local ok, m = pcall(redis.call, 'HSET', KEYS[1], 'f', 'v') \
                  if not ok then errs = errs + 1 last = m end \
                end \
                return {errs, redis.call('GET', KEYS[1]), last}";
    for round in 1..=3 {
        match c.cmd(&["EVAL", body, "1", "n"]) {
            Value::Array(v) => {
                assert_eq!(v[0], Value::Int(6000), "{v:?}");
                assert_eq!(
                    v[1],
                    Value::Bulk((round * 3000).to_string().into_bytes()),
                    "{v:?}"
                );
                assert_eq!(
                    v[2],
                    Value::Bulk(
                        b"WRONGTYPE Operation against a key holding the wrong kind of value"
                            .to_vec()
                    ),
                    "{v:?}"
                );
            }
            other => panic!("got {other:?}"),
        }
    }
}

/// Many runs of a script that leaves garbage (tables, strings, closures) keep the
/// interpreters' heaps bounded: the collector keeps up without a full collection per run.
#[test]
fn the_lua_heap_stays_bounded_over_many_runs() {
    let srv = server(&[]);
    let mut c = srv.conn();
    let body = "local t = {} \
                for i = 1, 50 do t[i] = {string.rep('x', 64) .. i .. ARGV[1], function() return i end} end \
                return redis.call('INCR', KEYS[1])";
    let sha = bulk_str(c.cmd(&["SCRIPT", "LOAD", body]));
    let heap = |c: &mut Conn| -> usize {
        c.info_field("memory", "used_memory_lua")
            .unwrap_or_else(|| panic!("no used_memory_lua"))
            .parse()
            .unwrap()
    };
    let mut highest = 0;
    for i in 0..4000 {
        let n = i.to_string();
        assert_eq!(c.cmd(&["EVALSHA", &sha, "1", "k", &n]), Value::Int(i + 1));
        if i % 500 == 499 {
            highest = highest.max(heap(&mut c));
        }
    }
    // A few interpreters with their libraries (~20-40 KiB each) and one cycle's garbage
    // (~10 KiB per run up to the collector's pause); 4000 runs' worth (~40 MB) would not fit.
    assert!(highest < 8 << 20, "used_memory_lua reached {highest}");
}

/// A `redis.call` on the script's one declared key skips the lock plan and the key's hash
/// (the lock set's first-key hint is pointed at the call's copy of the key, then back): calls
/// on other keys of the same length in between, whose copies may land at the address a
/// previous copy had, must still reach their own shards. (Enough calls that the allocator
/// reuses freed blocks of the keys' size: without the hint put back this fails.)
#[test]
fn calls_on_the_declared_key_and_on_other_keys_of_the_same_length_reach_their_shards() {
    let srv = server(&[]);
    let mut c = srv.conn();
    let body = "local n = 0 \
                for j = 1, 3000 do \
                  local i = j % 40 + 1 \
                  n = redis.call('INCR', KEYS[1]) \
                  redis.call('SET', string.format('othr:key:%04d', i), i) \
                  redis.call('INCRBY', string.format('othr:key:%04d', i), n) \
                end \
                return {n, redis.call('GET', KEYS[1]), redis.call('GET', 'othr:key:0040')}";
    // First run on the script thread, the later ones inline on the worker.
    for (run, v) in eval_n(&mut c, body, &["decl:key:0000"], 4)
        .into_iter()
        .enumerate()
    {
        let n = 3000 * (run as i64 + 1);
        // Key 40 was last written at j = 2999, as 40 + (n - 1).
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Int(n),
                Value::Bulk(n.to_string().into_bytes()),
                Value::Bulk((39 + n).to_string().into_bytes()),
            ])
        );
    }
    // Plain commands find every key where the script left it: key i was last written by
    // the last run's iteration j = 9000 + (i - 1) + 40 * k with the largest such j <= 12000,
    // as i + (value of the counter then) = i + j.
    assert_eq!(bulk_str(c.cmd(&["GET", "decl:key:0000"])), "12000");
    for i in 1..=40i64 {
        let key = format!("othr:key:{i:04}");
        let last_j = (1..=12000i64).rev().find(|j| j % 40 + 1 == i).unwrap();
        assert_eq!(
            bulk_str(c.cmd(&["GET", &key])),
            (i + last_j).to_string(),
            "{key}"
        );
    }
    assert_eq!(int(c.cmd(&["DBSIZE"])), 41);
}

/// KEYS and ARGV reach the script as sent: text and binary items, none, and many.
#[test]
fn keys_and_argv_reach_the_script_as_sent() {
    let srv = server(&[]);
    let mut c = srv.conn();
    let body: &[u8] = b"return {#KEYS, #ARGV, KEYS[1], KEYS[2], ARGV[1], ARGV[2]}";
    for _ in 0..3 {
        let reply = c.cmd_raw(&[b"EVAL", body, b"2", b"\xff\x00k", b"abc", b"x", b"\xfe"]);
        assert_eq!(
            reply,
            b"*6\r\n:2\r\n:2\r\n$3\r\n\xff\x00k\r\n$3\r\nabc\r\n$1\r\nx\r\n$1\r\n\xfe\r\n".to_vec()
        );
    }
    for v in eval_n(&mut c, "return {#KEYS, #ARGV}", &[], 3) {
        assert_eq!(v, Value::Array(vec![Value::Int(0), Value::Int(0)]));
    }
    // Without arguments ARGV is built on its first read (rawget sees it too); a function has
    // no ARGV global at all.
    let lazy = "local raw = type(rawget(_G, 'ARGV')) \
                local t = ARGV t[1] = 'x' \
                return {raw, #ARGV, tostring(t == ARGV)}";
    for v in eval_n(&mut c, lazy, &["k"], 3) {
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Bulk(b"table".to_vec()),
                Value::Int(1),
                Value::Bulk(b"true".to_vec()),
            ])
        );
    }
    c.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=argvlib\nredis.register_function('argv_f', function(keys, args) return #ARGV end)",
    ]);
    for _ in 0..2 {
        let e = err(c.cmd(&["FCALL", "argv_f", "0"]));
        assert!(
            e.contains("Script attempted to access nonexistent global variable 'ARGV'"),
            "{e}"
        );
    }
    // A script that changes its KEYS/ARGV tables leaves nothing for the next run.
    let dirty = "local before = {#KEYS, #ARGV, tostring(KEYS.extra)} \
                 KEYS[2] = 'x' KEYS.extra = 1 ARGV[5] = 'y' \
                 return before";
    for v in eval_n(&mut c, dirty, &["k"], 3) {
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Int(1),
                Value::Int(0),
                Value::Bulk(b"nil".to_vec())
            ])
        );
    }
    let many: Vec<String> = (0..300).map(|i| format!("a{i}")).collect();
    let mut args: Vec<&str> = vec!["EVAL", "return {#KEYS, #ARGV, KEYS[100], ARGV[200]}", "100"];
    args.extend(many.iter().map(String::as_str));
    for _ in 0..3 {
        assert_eq!(
            c.cmd(&args),
            Value::Array(vec![
                Value::Int(100),
                Value::Int(200),
                Value::Bulk(b"a99".to_vec()),
                Value::Bulk(b"a299".to_vec()),
            ])
        );
    }
}
