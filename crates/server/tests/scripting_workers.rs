//! One EVAL interpreter per thread (`scripting/local.rs`), against the real binary: known-fast
//! scripts run inline in the interpreter of the connection's worker thread, everything else
//! in the script thread's. These tests use many connections (so both workers of a
//! two-thread server run scripts) and check what must not depend on which interpreter runs
//! a script: exact results of many pipelined EVALSHA INCRs, SCRIPT FLUSH reaching every
//! interpreter, SCRIPT KILL / BUSY for a known-fast script that runs long inline, the Lua
//! memory limit in a worker's interpreter, INFO's script figures, and the sandbox (read-only
//! globals, the strings' metatable) in every interpreter.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{wait_until, Conn, ServerProc, Value};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");
const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// Connections per test: enough that both worker threads serve several.
const CONNS: usize = 8;

fn server(extra: &[&str]) -> ServerProc {
    // Same values for every test of this binary (tests share the process environment): two
    // workers dealt connections round robin (packing off), and a small Lua heap limit so the
    // memory test is quick.
    std::env::set_var("FERROKV_THREADS", "2");
    std::env::set_var("FERROKV_PACK", "0");
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

fn load(c: &mut Conn, body: &str) -> String {
    bulk_str(c.cmd(&["SCRIPT", "LOAD", body]))
}

fn info_usize(c: &mut Conn, field: &str) -> usize {
    c.info_field("memory", field)
        .unwrap_or_else(|| panic!("no {field} in INFO memory"))
        .parse()
        .unwrap()
}

/// Runs `sha` a few times on every connection so it is known fast and every worker has
/// compiled it in its own interpreter.
fn warm(conns: &mut [Conn], sha: &str, args: &[&str]) {
    for c in conns.iter_mut() {
        for _ in 0..3 {
            let mut argv = vec!["EVALSHA", sha];
            argv.extend_from_slice(args);
            let v = c.cmd(&argv);
            assert!(!matches!(v, Value::Error(_)), "{v:?}");
        }
    }
}

#[test]
fn pipelined_evalsha_from_many_connections_counts_exactly() {
    let srv = server(&[]);
    let mut admin = srv.conn();
    let sha = load(&mut admin, "return redis.call('INCR', KEYS[1])");
    const CLIENTS: usize = 50;
    const PER_CLIENT: usize = 2000;
    const PIPELINE: usize = 16;
    let addr = admin.addr().to_string();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (addr, sha) = (addr.clone(), sha.clone());
            std::thread::spawn(move || {
                let mut c = Conn::connect(&addr);
                c.set_reply_timeout(Duration::from_secs(60));
                let mut last = 0;
                for _ in 0..PER_CLIENT / PIPELINE {
                    for _ in 0..PIPELINE {
                        c.send(&[b"EVALSHA", sha.as_bytes(), b"1", b"wk:counter"]);
                    }
                    for _ in 0..PIPELINE {
                        let n = int(c.read_value());
                        // INCR replies of one connection only grow.
                        assert!(n > last, "{n} after {last}");
                        last = n;
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        admin.cmd(&["GET", "wk:counter"]),
        Value::Bulk((CLIENTS * PER_CLIENT).to_string().into_bytes())
    );
}

#[test]
fn script_flush_reaches_every_workers_interpreter() {
    let srv = server(&[]);
    let mut conns: Vec<Conn> = (0..CONNS).map(|_| srv.conn()).collect();
    let body = "return 'v1:' .. ARGV[1]";
    let sha = load(&mut conns[0], body);
    warm(&mut conns, &sha, &["0", "x"]);
    assert_eq!(
        conns[0]
            .info_field("memory", "number_of_cached_scripts")
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        conns[1].cmd(&["SCRIPT", "FLUSH"]),
        Value::Simple("OK".into())
    );
    for c in conns.iter_mut() {
        // Compiled in this connection's worker interpreter before the flush: gone now.
        assert_eq!(err(c.cmd(&["EVALSHA", &sha, "0", "x"])), NOSCRIPT);
        assert_eq!(
            c.cmd(&["SCRIPT", "EXISTS", &sha]),
            Value::Array(vec![Value::Int(0)])
        );
    }
    assert_eq!(
        conns[0]
            .info_field("memory", "number_of_cached_scripts")
            .as_deref(),
        Some("0")
    );
    // Loaded again (from one connection), it runs everywhere.
    assert_eq!(load(&mut conns[2], body), sha);
    for c in conns.iter_mut() {
        assert_eq!(
            c.cmd(&["EVALSHA", &sha, "0", "y"]),
            Value::Bulk(b"v1:y".to_vec())
        );
    }
    // EVAL caches its body too, and a flush drops it from every interpreter.
    for c in conns.iter_mut() {
        for _ in 0..3 {
            assert_eq!(c.cmd(&["EVAL", "return 42", "0"]), Value::Int(42));
        }
    }
    let sha42 = bulk_str(conns[0].cmd(&["EVAL", "return redis.sha1hex('return 42')", "0"]));
    assert_eq!(
        conns[3].cmd(&["SCRIPT", "FLUSH", "ASYNC"]),
        Value::Simple("OK".into())
    );
    for c in conns.iter_mut() {
        assert_eq!(err(c.cmd(&["EVALSHA", &sha42, "0"])), NOSCRIPT);
    }
}

#[test]
fn script_kill_stops_a_known_fast_script_running_inline_on_a_worker() {
    let srv = server(&["--busy-reply-threshold", "100"]);
    let mut conns: Vec<Conn> = (0..CONNS).map(|_| srv.conn()).collect();
    // Fast unless told to loop: known fast after the warm-up, so the looping call runs
    // inline on its connection's worker, in that worker's interpreter.
    let sha = load(
        &mut conns[0],
        "if ARGV[1] == 'loop' then while true do end end\nreturn 1",
    );
    warm(&mut conns, &sha, &["0", "no"]);
    let mut runner = conns.remove(0);
    runner.set_reply_timeout(Duration::from_secs(30));
    runner.send(&[b"EVALSHA", sha.as_bytes(), b"0", b"loop"]);
    // Connections on the other worker get BUSY and can kill it (those on the runner's own
    // worker wait: the known-fast script blocks its worker, see inline.rs).
    let mut killed = false;
    for c in conns.iter_mut() {
        c.set_reply_timeout(Duration::from_millis(300));
    }
    assert!(
        wait_until(Duration::from_secs(20), || {
            for c in conns.iter_mut() {
                c.send(&[b"PING"]);
                match c.try_read_reply(Duration::from_millis(200)) {
                    Some(r) if r == format!("-{BUSY}\r\n").into_bytes() => {
                        c.send(&[b"SCRIPT", b"KILL"]);
                        let r = c.try_read_reply(Duration::from_secs(5));
                        assert_eq!(r.as_deref(), Some(&b"+OK\r\n"[..]));
                        killed = true;
                        return true;
                    }
                    _ => {}
                }
            }
            false
        }),
        "no connection got BUSY"
    );
    assert!(killed);
    let e = err(runner.read_value());
    assert_eq!(
        e,
        format!("ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:1.")
    );
    // Every connection is served again (replies to the PINGs sent while blocked come first).
    let mut fresh: Vec<Conn> = (0..CONNS).map(|_| srv.conn()).collect();
    for c in fresh.iter_mut() {
        assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
        assert_eq!(
            c.cmd(&["EVALSHA", &sha, "0", "no"]),
            Value::Int(1),
            "the interpreter works after the kill"
        );
    }
    assert_eq!(
        err(fresh[0].cmd(&["SCRIPT", "KILL"])),
        "NOTBUSY No scripts in execution right now."
    );
}

#[test]
fn memory_limit_applies_in_a_workers_interpreter() {
    let srv = server(&[]);
    let mut conns: Vec<Conn> = (0..CONNS).map(|_| srv.conn()).collect();
    // Allocates ARGV[1] strings: small during the warm-up (known fast), then far past the
    // 64 MiB limit, inline on a worker.
    let sha = load(
        &mut conns[0],
        "local t = {}\nfor i = 1, tonumber(ARGV[1]) do t[i] = string.rep('x', 64) .. i end\nreturn #t",
    );
    warm(&mut conns, &sha, &["0", "10"]);
    for c in conns.iter_mut().take(3) {
        c.set_reply_timeout(Duration::from_secs(60));
        let e = err(c.cmd(&["EVALSHA", &sha, "0", "100000000"]));
        assert!(
            e.starts_with("ERR ") && e.contains("not enough memory"),
            "{e}"
        );
        assert_eq!(c.cmd(&["EVALSHA", &sha, "0", "5"]), Value::Int(5));
        assert_eq!(c.cmd(&["SET", "k", "v"]), Value::Simple("OK".into()));
    }
    // The failed runs' garbage is collected: the reported heaps are far below the limit.
    let lua = info_usize(&mut conns[0], "used_memory_lua");
    assert!(lua < 32 << 20, "used_memory_lua {lua}");
}

#[test]
fn info_reports_the_interpreters_heaps_and_the_cached_scripts() {
    let srv = server(&[]);
    let mut conns: Vec<Conn> = (0..CONNS).map(|_| srv.conn()).collect();
    let a = load(&mut conns[0], "return 1");
    let b = load(&mut conns[0], "return 2");
    warm(&mut conns, &a, &["0"]);
    warm(&mut conns, &b, &["0"]);
    let c = &mut conns[0];
    assert_eq!(
        c.info_field("memory", "number_of_cached_scripts")
            .as_deref(),
        Some("2")
    );
    let lua = info_usize(c, "used_memory_lua");
    let vm_eval = info_usize(c, "used_memory_vm_eval");
    assert_eq!(lua, vm_eval);
    // At least one interpreter with its libraries (~20 KiB each); a few of them at most.
    assert!(lua > 16 << 10 && lua < 8 << 20, "used_memory_lua {lua}");
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH"]), Value::Simple("OK".into()));
    assert_eq!(
        c.info_field("memory", "number_of_cached_scripts")
            .as_deref(),
        Some("0")
    );
    let after = info_usize(c, "used_memory_lua");
    assert!(after <= lua, "{after} > {lua} after SCRIPT FLUSH");
}

#[test]
fn every_interpreter_has_the_same_sandbox() {
    let srv = server(&[]);
    let mut conns: Vec<Conn> = (0..CONNS).map(|_| srv.conn()).collect();
    let probes: &[(&str, Value)] = &[
        ("x = 1", Value::Error("ERR user_script:1: Attempt to modify a readonly table script: {sha}, on @user_script:1.".into())),
        ("return type(loadstring)", Value::Bulk(b"function".to_vec())),
        ("return string.upper('a')", Value::Bulk(b"A".to_vec())),
        ("return ('b'):upper()", Value::Bulk(b"B".to_vec())),
        ("local ok, e = pcall(function() getmetatable('').__index = {} end) return tostring(ok)", Value::Bulk(b"false".to_vec())),
        ("local ok = pcall(function() string.upper = nil end) return tostring(ok)", Value::Bulk(b"false".to_vec())),
        ("return type(os.clock())", Value::Bulk(b"number".to_vec())),
        ("return redis.setresp(3)", Value::Null),
    ];
    for (body, want) in probes {
        let sha = load(&mut conns[0], body);
        let want = match want {
            Value::Error(e) => Value::Error(e.replace("{sha}", &sha)),
            other => other.clone(),
        };
        for c in conns.iter_mut() {
            for _ in 0..3 {
                assert_eq!(c.cmd(&["EVALSHA", &sha, "0"]), want, "{body}");
            }
        }
    }
    // `redis.setresp(3)` in one run does not leak into the next run in that interpreter.
    for c in conns.iter_mut() {
        assert_eq!(
            c.cmd(&["EVAL", "return redis.call('HGETALL', 'nokey')", "0"]),
            Value::Array(vec![])
        );
    }
    // os.clock never goes back between runs, wherever they run.
    let mut last = 0.0f64;
    for round in 0..3 {
        for c in conns.iter_mut() {
            let t: f64 = bulk_str(c.cmd(&["EVAL", "return tostring(os.clock())", "0"]))
                .parse()
                .unwrap();
            assert!(t >= last, "os.clock {t} after {last} (round {round})");
            last = t;
        }
    }
}

/// Runs of consecutive known-fast script calls share one token acquisition
/// (`inline::try_inline`); whatever follows them in the pipeline still runs in order, with
/// its own reply, and clients blocked on keys a call made ready are served as after any
/// command.
#[test]
fn pipelined_script_runs_keep_the_order_of_replies_and_effects() {
    let srv = server(&[]);
    let mut c = srv.conn();
    let push = load(&mut c, "return redis.call('RPUSH', KEYS[1], ARGV[1])");
    let get = load(&mut c, "return redis.call('LRANGE', KEYS[1], 0, -1)");
    warm(&mut [srv.conn()], &get, &["1", "warm"]);
    warm(&mut [srv.conn()], &push, &["1", "warm", "x"]);
    // A client blocked on the list the pipeline pushes to gets the first element pushed.
    let mut blocked = srv.conn();
    blocked.send(&[b"BLPOP", b"pl", b"10"]);
    assert!(
        wait_until(Duration::from_secs(5), || c
            .info_field("clients", "blocked_clients")
            .as_deref()
            == Some("1")),
        "BLPOP did not block"
    );
    let mut bytes = Vec::new();
    for i in 0..40 {
        let item = format!("e{i}");
        bytes.extend(ferrokv_testkit::encode_command(&[
            b"EVALSHA",
            push.as_bytes(),
            b"1",
            b"pl",
            item.as_bytes(),
        ]));
        if i % 10 == 9 {
            bytes.extend(ferrokv_testkit::encode_command(&[b"LLEN", b"pl"]));
            bytes.extend(ferrokv_testkit::encode_command(&[
                b"EVALSHA",
                get.as_bytes(),
                b"1",
                b"pl",
            ]));
        }
    }
    c.send_raw(&bytes);
    let mut len = 0;
    for i in 0..40 {
        // e0 went to the BLPOP client, so the list holds e1..=ei (its length after RPUSH
        // is counted before that).
        let n = int(c.read_value());
        assert_eq!(n, if i == 0 { 1 } else { len + 1 }, "RPUSH of e{i}");
        len = if i == 0 { 0 } else { n };
        if i % 10 == 9 {
            assert_eq!(int(c.read_value()), i, "LLEN after e{i}");
            let items: Vec<Value> = (1..=i)
                .map(|j| Value::Bulk(format!("e{j}").into_bytes()))
                .collect();
            assert_eq!(c.read_value(), Value::Array(items), "LRANGE after e{i}");
        }
    }
    assert_eq!(
        blocked.read_value(),
        Value::Array(vec![
            Value::Bulk(b"pl".to_vec()),
            Value::Bulk(b"e0".to_vec())
        ])
    );
    // CLIENT REPLY SKIP in the middle of a run of scripts skips exactly the next reply.
    let mut bytes = Vec::new();
    for (i, cmd) in [["1", "a"], ["skip", ""], ["1", "b"], ["1", "c"]]
        .iter()
        .enumerate()
    {
        let _ = i;
        if cmd[0] == "skip" {
            bytes.extend(ferrokv_testkit::encode_command(&[
                b"CLIENT", b"REPLY", b"SKIP",
            ]));
        } else {
            bytes.extend(ferrokv_testkit::encode_command(&[
                b"EVALSHA",
                push.as_bytes(),
                b"1",
                b"sk",
                cmd[1].as_bytes(),
            ]));
        }
    }
    bytes.extend(ferrokv_testkit::encode_command(&[b"PING"]));
    c.send_raw(&bytes);
    assert_eq!(int(c.read_value()), 1);
    assert_eq!(int(c.read_value()), 3, "the reply to 'b' is skipped");
    assert_eq!(c.read_value(), Value::Simple("PONG".into()));
    // A protocol error after a run of script calls: their replies, then the error.
    let mut bytes = Vec::new();
    for _ in 0..5 {
        bytes.extend(ferrokv_testkit::encode_command(&[
            b"EVALSHA",
            push.as_bytes(),
            b"1",
            b"pe",
            b"x",
        ]));
    }
    bytes.extend_from_slice(b"*1\r\n$x\r\n");
    c.send_raw(&bytes);
    for i in 1..=5 {
        assert_eq!(int(c.read_value()), i);
    }
    assert!(err(c.read_value()).starts_with("ERR Protocol error"));
}

/// Runs `FCALL name 0` inside MULTI/EXEC on `c` (EXEC runs it on the connection's worker, in
/// that thread's functions state) and returns the call's reply.
fn fcall_in_exec(c: &mut Conn, name: &str) -> Value {
    assert_eq!(c.cmd(&["MULTI"]), Value::Simple("OK".into()));
    assert_eq!(c.cmd(&["FCALL", name, "0"]), Value::Simple("QUEUED".into()));
    match c.cmd(&["EXEC"]) {
        Value::Array(mut v) if v.len() == 1 => v.remove(0),
        other => panic!("EXEC answered {other:?}"),
    }
}

/// Each thread has its own functions state (mlua is built without `send`): a top-level FCALL
/// runs in the script thread's, an FCALL inside EXEC in the worker's. Every change of the
/// libraries, made from any connection, must reach all of them.
#[test]
fn function_changes_reach_every_threads_functions_state() {
    let srv = server(&[]);
    let mut conns: Vec<Conn> = (0..CONNS).map(|_| srv.conn()).collect();
    let lib = |v: &str| {
        format!(
            "#!lua name=wlib\nredis.register_function('ver', function() return '{v}' end)\n\
             redis.register_function('twice', function(k, a) return #k + 2 * #a end)"
        )
    };
    assert_eq!(
        conns[0].cmd(&["FUNCTION", "LOAD", &lib("v1")]),
        Value::Bulk(b"wlib".to_vec())
    );
    for c in conns.iter_mut() {
        assert_eq!(c.cmd(&["FCALL", "ver", "0"]), Value::Bulk(b"v1".to_vec()));
        assert_eq!(fcall_in_exec(c, "ver"), Value::Bulk(b"v1".to_vec()));
        assert_eq!(
            c.cmd(&["FCALL", "twice", "1", "k", "a", "b"]),
            Value::Int(5)
        );
    }
    let heap = info_usize(&mut conns[0], "used_memory_vm_functions");
    assert!(heap > 0, "used_memory_vm_functions {heap}");
    // Replaced from another connection: every state (built with v1) now runs v2.
    assert_eq!(
        conns[5].cmd(&["FUNCTION", "LOAD", "REPLACE", &lib("v2")]),
        Value::Bulk(b"wlib".to_vec())
    );
    for c in conns.iter_mut() {
        assert_eq!(fcall_in_exec(c, "ver"), Value::Bulk(b"v2".to_vec()));
        assert_eq!(c.cmd(&["FCALL", "ver", "0"]), Value::Bulk(b"v2".to_vec()));
    }
    let dump = match conns[1].cmd(&["FUNCTION", "DUMP"]) {
        Value::Bulk(b) => b,
        other => panic!("FUNCTION DUMP answered {other:?}"),
    };
    // Deleted: gone from every state.
    assert_eq!(
        conns[2].cmd(&["FUNCTION", "DELETE", "wlib"]),
        Value::Simple("OK".into())
    );
    for c in conns.iter_mut() {
        assert_eq!(err(c.cmd(&["FCALL", "ver", "0"])), "ERR Function not found");
        assert_eq!(err(fcall_in_exec(c, "ver")), "ERR Function not found");
    }
    // Restored from the dump (binary argument: sent raw).
    conns[3].send(&[b"FUNCTION", b"RESTORE", &dump]);
    assert_eq!(conns[3].read_value(), Value::Simple("OK".into()));
    for c in conns.iter_mut() {
        assert_eq!(fcall_in_exec(c, "ver"), Value::Bulk(b"v2".to_vec()));
        assert_eq!(c.cmd(&["FCALL", "ver", "0"]), Value::Bulk(b"v2".to_vec()));
    }
    // Flushed: nothing left, and no state's heap is reported any more.
    assert_eq!(
        conns[4].cmd(&["FUNCTION", "FLUSH"]),
        Value::Simple("OK".into())
    );
    assert_eq!(info_usize(&mut conns[0], "used_memory_vm_functions"), 0);
    for c in conns.iter_mut() {
        assert_eq!(err(c.cmd(&["FCALL", "ver", "0"])), "ERR Function not found");
        assert_eq!(err(fcall_in_exec(c, "ver")), "ERR Function not found");
    }
}

/// KEYS and ARGV hold exactly the call's items, for any split of them (text items take a
/// faster path than binary ones: both mixed here), and a run never sees what an earlier run
/// did to its tables.
#[test]
fn keys_and_argv_are_exact_and_fresh_in_every_run() {
    let srv = server(&[]);
    let mut c = srv.conn();
    let body = "local out = {#KEYS, #ARGV} \
                for _, k in ipairs(KEYS) do out[#out + 1] = k end \
                for _, a in ipairs(ARGV) do out[#out + 1] = a end \
                local extra = 0 for _ in pairs(KEYS) do extra = extra + 1 end \
                out[#out + 1] = extra \
                KEYS[#KEYS + 1] = 'leak' KEYS.x = 1 ARGV[#ARGV + 1] = 'leak' \
                return out";
    let sha = load(&mut c, body);
    for total in [0usize, 1, 2, 3, 5, 63, 64, 65, 200] {
        for nk in [0, 1, 2, 3, total / 2, total] {
            if nk > total {
                continue;
            }
            let items: Vec<Vec<u8>> = (0..total)
                .map(|i| {
                    if i % 7 == 3 {
                        vec![0xff, b'b', i as u8, 0xfe]
                    } else {
                        format!("item{i}").into_bytes()
                    }
                })
                .collect();
            let nks = nk.to_string();
            // Twice: the second run must not see the first one's additions.
            for _ in 0..2 {
                let mut argv: Vec<&[u8]> = vec![b"EVALSHA", sha.as_bytes(), nks.as_bytes()];
                argv.extend(items.iter().map(|v| v.as_slice()));
                c.send(&argv);
                let mut want = vec![Value::Int(nk as i64), Value::Int((total - nk) as i64)];
                want.extend(items.iter().map(|v| Value::Bulk(v.clone())));
                want.push(Value::Int(nk as i64));
                assert_eq!(c.read_value(), Value::Array(want), "{nk} keys of {total}");
            }
        }
    }
}

/// EXEC with a queued SCRIPT LOAD takes the script token before its shards, as it does for
/// queued scripts: taken after, a running function that reaches one of EXEC's keys waited for
/// EXEC while EXEC waited for the token, forever (both connections hung).
#[test]
fn exec_with_script_load_does_not_deadlock_with_a_running_script() {
    let srv = server(&[]);
    let mut admin = srv.conn();
    let lib = "#!lua name=slow\nredis.register_function('slow', function() \
               local s = tonumber(redis.call('TIME')[1]) \
               while tonumber(redis.call('TIME')[1]) < s + 2 do end \
               return redis.call('SET', 'exec-key', 'from-function') end)";
    assert_eq!(
        admin.cmd(&["FUNCTION", "LOAD", lib]),
        Value::Bulk(b"slow".to_vec())
    );
    // No declared keys: the function holds the token and no shard until its SET.
    let mut runner = srv.conn();
    runner.send(&[b"FCALL", b"slow", b"0"]);
    let mut watcher = srv.conn();
    let running = wait_until(Duration::from_secs(5), || {
        !matches!(
            watcher.cmd(&["FUNCTION", "STATS"]),
            Value::Array(ref v) if v.get(1) == Some(&Value::Null)
        )
    });
    assert!(running, "FUNCTION STATS never showed the running function");
    let mut tx = srv.conn();
    tx.set_reply_timeout(Duration::from_secs(20));
    runner.set_reply_timeout(Duration::from_secs(20));
    assert_eq!(tx.cmd(&["MULTI"]), Value::Simple("OK".into()));
    assert_eq!(
        tx.cmd(&["SET", "exec-key", "from-exec"]),
        Value::Simple("QUEUED".into())
    );
    assert_eq!(
        tx.cmd(&["SCRIPT", "LOAD", "return 1"]),
        Value::Simple("QUEUED".into())
    );
    tx.send(&[b"EXEC"]);
    assert_eq!(runner.read_value(), Value::Simple("OK".into()));
    assert!(matches!(tx.read_value(), Value::Array(v) if v.len() == 2));
    // EXEC waited for the function: its SET came last.
    assert_eq!(
        admin.cmd(&["GET", "exec-key"]),
        Value::Bulk(b"from-exec".to_vec())
    );
}
