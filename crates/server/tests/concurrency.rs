//! Concurrency tests: many clients at once against one ferrokv, checking atomicity (exact
//! counters, no torn multi-key state, renames never observed half-done) and freedom from
//! deadlock under overlapping multi-key commands.
//!
//! Commands that are not implemented yet (answered with `ERR unknown command`) make the
//! corresponding test print a SKIP message and return, so the file can land before the command
//! groups it exercises.

use ferrokv_testkit::{Conn, Rng, ServerProc, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

/// True if the server knows every one of `cmds` (probed with the bare name: an unknown command
/// is reported before arity, so `ERR unknown command` means "not implemented"). Prints a SKIP
/// line naming the missing ones otherwise.
fn supports(c: &mut Conn, test: &str, cmds: &[&str]) -> bool {
    let missing: Vec<&str> = cmds.iter().copied().filter(|n| unknown(c, n)).collect();
    if missing.is_empty() {
        true
    } else {
        eprintln!("SKIP {test}: not implemented yet: {}", missing.join(", "));
        false
    }
}

/// True if the server answers the bare command name with `ERR unknown command`.
fn unknown(c: &mut Conn, name: &str) -> bool {
    matches!(c.cmd(&[name]), Value::Error(e) if e.starts_with("ERR unknown command"))
}

const THREADS: usize = 16;

#[test]
fn parallel_incr_gives_exact_counts() {
    let s = ServerProc::ferrokv(BIN, &[]);
    if !supports(&mut s.conn(), "parallel_incr_gives_exact_counts", &["INCR"]) {
        return;
    }
    const PER_THREAD: usize = 1000;
    const COUNTERS: usize = 5;
    const BATCH: usize = 50;
    std::thread::scope(|sc| {
        for t in 0..THREADS {
            let addr = s.addr();
            sc.spawn(move || {
                let mut c = Conn::connect(&addr);
                let mut last = [0i64; COUNTERS];
                let mut i = 0;
                while i < PER_THREAD {
                    // Pipelined batches so the server really interleaves clients.
                    let picks: Vec<usize> = (i..i + BATCH).map(|j| (j + t) % COUNTERS).collect();
                    for idx in &picks {
                        c.send(&[b"INCR", format!("counter:{idx}").as_bytes()]);
                    }
                    for &idx in &picks {
                        let v = c.read_value();
                        let Value::Int(v) = v else {
                            panic!("INCR counter:{idx}: {v:?}");
                        };
                        assert!(
                            v > last[idx],
                            "INCR counter:{idx} went from {} to {v}",
                            last[idx]
                        );
                        last[idx] = v;
                    }
                    i += BATCH;
                }
            });
        }
    });
    let mut c = s.conn();
    let each = (THREADS * PER_THREAD / COUNTERS) as i64;
    for k in 0..COUNTERS {
        assert_eq!(
            c.cmd(&["GET", &format!("counter:{k}")]),
            Value::bulk(&each.to_string()),
            "counter:{k}"
        );
    }
}

const ACCOUNTS: usize = 10;

fn accounts() -> Vec<String> {
    // No hash tags: the keys fall into different slots and therefore different shards.
    (0..ACCOUNTS).map(|n| format!("acct:{n}")).collect()
}

#[test]
fn mset_is_never_seen_torn_by_mget() {
    let s = ServerProc::ferrokv(BIN, &[]);
    if !supports(
        &mut s.conn(),
        "mset_is_never_seen_torn_by_mget",
        &["MSET", "MGET"],
    ) {
        return;
    }
    let keys = accounts();
    let stop = AtomicBool::new(false);
    let reads = AtomicU64::new(0);
    let writes = AtomicU64::new(0);
    let run_for = Duration::from_millis(1500);
    std::thread::scope(|sc| {
        for w in 0..THREADS / 2 {
            let (addr, keys, stop, writes) = (s.addr(), &keys, &stop, &writes);
            sc.spawn(move || {
                let mut c = Conn::connect(&addr);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let v = format!("w{w}-{n}");
                    let mut args: Vec<&str> = vec!["MSET"];
                    for k in keys {
                        args.push(k);
                        args.push(&v);
                    }
                    assert_eq!(c.cmd(&args), Value::Simple("OK".into()));
                    n += 1;
                }
                writes.fetch_add(n, Ordering::Relaxed);
            });
        }
        for _ in 0..THREADS / 2 {
            let (addr, keys, stop, reads) = (s.addr(), &keys, &stop, &reads);
            sc.spawn(move || {
                let mut c = Conn::connect(&addr);
                let mut args: Vec<&str> = vec!["MGET"];
                args.extend(keys.iter().map(|k| k.as_str()));
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let v = c.cmd(&args);
                    let Value::Array(vals) = &v else {
                        panic!("MGET: {v:?}");
                    };
                    assert_eq!(vals.len(), ACCOUNTS);
                    assert!(
                        vals.iter().all(|x| x == &vals[0]),
                        "torn MSET observed by MGET: {v:?}"
                    );
                    n += 1;
                }
                reads.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(run_for);
        stop.store(true, Ordering::Relaxed);
    });
    let (r, w) = (reads.into_inner(), writes.into_inner());
    assert!(
        r > 50 && w > 50,
        "too little progress: {r} MGETs, {w} MSETs"
    );
}

#[test]
fn rename_is_atomic_for_readers() {
    let s = ServerProc::ferrokv(BIN, &[]);
    if !supports(
        &mut s.conn(),
        "rename_is_atomic_for_readers",
        &["RENAME", "EXISTS"],
    ) {
        return;
    }
    let (a, b) = ("pingpong:a", "pingpong:b");
    assert_eq!(
        s.conn().cmd(&["SET", a, "ball"]),
        Value::Simple("OK".into())
    );
    let stop = AtomicBool::new(false);
    let renames = AtomicU64::new(0);
    let checks = AtomicU64::new(0);
    std::thread::scope(|sc| {
        // Two renamers racing each other: one of them may find the key already moved
        // ("ERR no such key"), which is fine; what matters is what readers see.
        for _ in 0..2 {
            let (addr, stop, renames) = (s.addr(), &stop, &renames);
            sc.spawn(move || {
                let mut c = Conn::connect(&addr);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for (from, to) in [(a, b), (b, a)] {
                        match c.cmd(&["RENAME", from, to]) {
                            Value::Simple(ok) if ok == "OK" => n += 1,
                            Value::Error(e) if e == "ERR no such key" => {}
                            other => panic!("RENAME {from} {to}: {other:?}"),
                        }
                    }
                }
                renames.fetch_add(n, Ordering::Relaxed);
            });
        }
        for _ in 0..THREADS - 2 {
            let (addr, stop, checks) = (s.addr(), &stop, &checks);
            sc.spawn(move || {
                let mut c = Conn::connect(&addr);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    assert_eq!(
                        c.cmd(&["EXISTS", a, b]),
                        Value::Int(1),
                        "the key must exist under exactly one of its two names"
                    );
                    n += 1;
                }
                checks.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
    });
    let (r, c) = (renames.into_inner(), checks.into_inner());
    assert!(
        r > 50 && c > 50,
        "too little progress: {r} renames, {c} checks"
    );
    let mut c = s.conn();
    let va = c.cmd(&["GET", a]);
    let vb = c.cmd(&["GET", b]);
    assert!(
        (va == Value::bulk("ball")) != (vb == Value::bulk("ball")),
        "after the run: {a}={va:?} {b}={vb:?}"
    );
}

/// One random command over the overlapping key set, chosen among the implemented ones.
fn random_multikey(rng: &mut Rng, have: &[&str]) -> Vec<String> {
    let key = |rng: &mut Rng| format!("dl:{}", rng.below(12));
    let keys = |rng: &mut Rng, lo: u64, hi: u64| {
        let n = lo + rng.below(hi - lo + 1);
        (0..n).map(|_| key(rng)).collect::<Vec<_>>() // repeats on purpose
    };
    let name = have[rng.below(have.len() as u64) as usize];
    let mut argv = vec![name.to_string()];
    match name {
        "MSET" => {
            for k in keys(rng, 1, 6) {
                argv.push(k);
                argv.push(format!("v{}", rng.below(100)));
            }
        }
        "MGET" | "DEL" | "EXISTS" => argv.extend(keys(rng, 1, 8)),
        "RENAME" => argv.extend(keys(rng, 2, 2)),
        "SET" => {
            argv.push(key(rng));
            argv.push("x".into());
        }
        _ => argv.push(key(rng)),
    }
    argv
}

#[test]
fn overlapping_multikey_commands_never_deadlock() {
    let s = ServerProc::ferrokv(BIN, &[]);
    let mut probe = s.conn();
    let (multi, missing): (Vec<&str>, Vec<&str>) = ["MSET", "MGET", "DEL", "RENAME", "EXISTS"]
        .into_iter()
        .partition(|name| !unknown(&mut probe, name));
    if multi.is_empty() {
        eprintln!("SKIP overlapping_multikey_commands_never_deadlock: no multi-key command yet");
        return;
    }
    if !missing.is_empty() {
        eprintln!("overlapping_multikey_commands_never_deadlock: not implemented yet, left out: {missing:?}");
    }
    let mut have = multi.clone();
    have.extend(["SET", "GET"]);
    let done = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs(3);
    std::thread::scope(|sc| {
        for t in 0..THREADS {
            let (addr, have, done) = (s.addr(), &have, &done);
            sc.spawn(move || {
                let mut c = Conn::connect(&addr);
                // A command stuck behind a deadlock fails the test through this timeout.
                c.set_reply_timeout(Duration::from_secs(10));
                let mut rng = Rng::new(0xDEAD_10CC + t as u64);
                let mut n = 0u64;
                while Instant::now() < deadline {
                    // Small pipelines: several lock plans in flight per connection.
                    let batch: Vec<Vec<String>> =
                        (0..8).map(|_| random_multikey(&mut rng, have)).collect();
                    for argv in &batch {
                        let a: Vec<&[u8]> = argv.iter().map(|x| x.as_bytes()).collect();
                        c.send(&a);
                    }
                    for argv in &batch {
                        let v = c.read_value();
                        if let Value::Error(e) = &v {
                            assert!(e == "ERR no such key", "{argv:?} failed unexpectedly: {e}");
                        }
                    }
                    n += batch.len() as u64;
                }
                assert!(n >= 16, "client {t} completed only {n} commands in 3 s");
                done.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    eprintln!(
        "deadlock test: {} commands completed ({})",
        done.into_inner(),
        multi.join(", ")
    );
    // The server is still fully responsive.
    assert_eq!(s.conn().cmd_raw(&[b"PING"]), b"+PONG\r\n");
}
