//! Property-based differential test over the Foundation's string and generic-key commands:
//! random command sequences on a 10-key keyspace, every reply compared with redis-server, and
//! the whole keyspace compared periodically and at the end.
//!
//! Commands ferrokv does not implement yet (answered with `ERR unknown command`) are probed once
//! at the start and left out; the test prints which. When the commands the keyspace comparison
//! needs (KEYS, TYPE, PTTL) are missing, the sequence still runs and replies are still compared,
//! but the keyspace is only compared through GET of every key.
//!
//! Replay a failure with `FERROKV_PROP_SEED=<seed>`; run longer with `FERROKV_PROP_CASES=<n>`.

use ferrokv_testkit::{Compare, Diff, Gen, PropRunner, Value};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

type GenFn = fn(&mut Gen) -> Vec<String>;

/// One template: its name (the command it sends), how replies compare, weight, generator.
struct T {
    name: &'static str,
    compare: Compare,
    weight: u32,
    gen: GenFn,
}

const fn t(name: &'static str, weight: u32, gen: GenFn) -> T {
    T {
        name,
        compare: Compare::Exact,
        weight,
        gen,
    }
}

const fn t_with(name: &'static str, compare: Compare, weight: u32, gen: GenFn) -> T {
    T {
        name,
        compare,
        weight,
        gen,
    }
}

fn v(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// Expiry amounts that keep keys alive for the whole run (so both servers agree), plus the
/// invalid and already-past ones, which are deterministic too.
fn ttl_secs(g: &mut Gen) -> String {
    match g.below(10) {
        0 => "0".into(),
        1 => "-5".into(),
        2 => "abc".into(),
        3 => "9223372036854775807".into(),
        _ => g.int(1000, 100_000).to_string(),
    }
}

/// Unix time far in the future (seconds), or in the past (expires at once).
fn at_secs(g: &mut Gen) -> String {
    if g.chance(20) {
        g.int(1, 1_000_000).to_string()
    } else {
        g.int(4_000_000_000, 5_000_000_000).to_string()
    }
}

/// Unix time far in the future (seconds). SET with a time in the past leaves the key in the
/// database until active expiry reclaims it (Redis 7.0 through 7.4), so DBSIZE / RANDOMKEY
/// would depend on the timing of each server's expiry cycle: SET gets future times only.
fn future_at_secs(g: &mut Gen) -> String {
    g.int(4_000_000_000, 5_000_000_000).to_string()
}

/// SET with a random (sometimes invalid) combination of options.
fn gen_set(g: &mut Gen) -> Vec<String> {
    let mut a = vec!["SET".into(), g.key(), g.value()];
    match g.below(9) {
        0 => a.extend(["EX".into(), ttl_secs(g)]),
        1 => a.extend(["PX".into(), format!("{}000", ttl_secs(g))]),
        2 => a.extend(["EXAT".into(), future_at_secs(g)]),
        3 => a.extend(["PXAT".into(), format!("{}000", future_at_secs(g))]),
        4 => a.push("KEEPTTL".into()),
        5 => a.extend(["EX".into(), "100000".into(), "KEEPTTL".into()]), // syntax error
        _ => {}
    }
    match g.below(4) {
        0 => a.push("NX".into()),
        1 => a.push("XX".into()),
        _ => {}
    }
    if g.chance(25) {
        a.push("GET".into());
    }
    if g.chance(3) {
        a.push(g.pick(&["PX", "NX", "XX", "bogus"]));
    }
    a
}

fn gen_getex(g: &mut Gen) -> Vec<String> {
    let mut a = vec!["GETEX".into(), g.key()];
    match g.below(7) {
        0 => a.extend(["EX".into(), ttl_secs(g)]),
        1 => a.extend(["PX".into(), format!("{}000", ttl_secs(g))]),
        2 => a.extend(["EXAT".into(), at_secs(g)]),
        3 => a.push("PERSIST".into()),
        4 => a.push("KEEPTTL".into()), // not a GETEX option: syntax error
        _ => {}
    }
    a
}

fn gen_expire(g: &mut Gen) -> Vec<String> {
    let cmd = g.pick(&["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"]);
    let amount = match cmd.as_str() {
        "EXPIRE" => ttl_secs(g),
        "PEXPIRE" => format!("{}000", ttl_secs(g)),
        "EXPIREAT" => at_secs(g),
        _ => format!("{}000", at_secs(g)),
    };
    let mut a = vec![cmd, g.key(), amount];
    if g.chance(30) {
        a.push(g.pick(&["NX", "XX", "GT", "LT", "nx", "BAD"]));
    }
    a
}

fn gen_mset(g: &mut Gen) -> Vec<String> {
    let n = 1 + g.below(4);
    let mut a = vec![g.pick(&["MSET", "MSET", "MSETNX"])];
    for _ in 0..n {
        a.push(g.key());
        a.push(g.value());
    }
    if g.chance(5) {
        a.push(g.key()); // odd argument count: arity error
    }
    a
}

fn gen_multi(name: &str, g: &mut Gen) -> Vec<String> {
    let n = 1 + g.below(4);
    let mut a = vec![name.to_string()];
    a.extend(g.keys(n));
    a
}

/// An integer-ish increment, sometimes invalid or overflowing.
fn incr_amount(g: &mut Gen) -> String {
    match g.below(10) {
        0 => "9223372036854775807".into(),
        1 => "-9223372036854775808".into(),
        2 => "1.5".into(),
        3 => "x".into(),
        _ => g.int(-100, 100).to_string(),
    }
}

fn templates() -> Vec<T> {
    vec![
        t("SET", 6, gen_set),
        t("GET", 5, |g| vec!["GET".into(), g.key()]),
        t("SETNX", 1, |g| vec!["SETNX".into(), g.key(), g.value()]),
        t("SETEX", 1, |g| {
            vec!["SETEX".into(), g.key(), ttl_secs(g), g.value()]
        }),
        t("PSETEX", 1, |g| {
            vec![
                "PSETEX".into(),
                g.key(),
                format!("{}000", ttl_secs(g)),
                g.value(),
            ]
        }),
        t("GETSET", 1, |g| vec!["GETSET".into(), g.key(), g.value()]),
        t("GETDEL", 1, |g| vec!["GETDEL".into(), g.key()]),
        t("GETEX", 1, gen_getex),
        t("MGET", 2, |g| gen_multi("MGET", g)),
        t("MSET", 2, gen_mset),
        t("MSETNX", 1, gen_mset),
        t("INCR", 3, |g| vec!["INCR".into(), g.key()]),
        t("DECR", 1, |g| vec!["DECR".into(), g.key()]),
        t("INCRBY", 2, |g| {
            vec!["INCRBY".into(), g.key(), incr_amount(g)]
        }),
        t("DECRBY", 1, |g| {
            vec!["DECRBY".into(), g.key(), incr_amount(g)]
        }),
        t("INCRBYFLOAT", 1, |g| {
            let inc = match g.below(6) {
                0 => g.pick(&["inf", "nan", "1e400", "x"]),
                _ => g.float(),
            };
            vec!["INCRBYFLOAT".into(), g.key(), inc]
        }),
        t("APPEND", 2, |g| vec!["APPEND".into(), g.key(), g.value()]),
        t("STRLEN", 1, |g| vec!["STRLEN".into(), g.key()]),
        t("GETRANGE", 2, |g| {
            let (a, b) = (g.int(-12, 12), g.int(-12, 12));
            vec!["GETRANGE".into(), g.key(), a.to_string(), b.to_string()]
        }),
        t("SUBSTR", 1, |g| {
            let (a, b) = (g.int(-5, 8), g.int(-5, 8));
            vec!["SUBSTR".into(), g.key(), a.to_string(), b.to_string()]
        }),
        t("SETRANGE", 2, |g| {
            let off = match g.below(8) {
                0 => "-1".to_string(),
                1 => "536870912".to_string(), // past proto-max-bulk-len: error
                _ => g.int(0, 20).to_string(),
            };
            vec!["SETRANGE".into(), g.key(), off, g.value()]
        }),
        t("LCS", 1, |g| {
            let mut a = vec!["LCS".into(), g.key(), g.key()];
            if g.chance(30) {
                a.push("LEN".into());
            }
            a
        }),
        t("DEL", 2, |g| gen_multi("DEL", g)),
        t("UNLINK", 1, |g| gen_multi("UNLINK", g)),
        t("EXISTS", 2, |g| gen_multi("EXISTS", g)),
        t("TOUCH", 1, |g| gen_multi("TOUCH", g)),
        t("TYPE", 1, |g| vec!["TYPE".into(), g.key()]),
        t("RENAME", 1, |g| vec!["RENAME".into(), g.key(), g.key()]),
        t("RENAMENX", 1, |g| vec!["RENAMENX".into(), g.key(), g.key()]),
        t("COPY", 1, |g| {
            let mut a = vec!["COPY".into(), g.key(), g.key()];
            if g.chance(40) {
                a.push("REPLACE".into());
            }
            a
        }),
        t("EXPIRE", 3, gen_expire),
        t("PERSIST", 1, |g| vec!["PERSIST".into(), g.key()]),
        // TTLs tick independently on the two servers: compare the reply type only (the
        // keyspace comparison checks the TTL class of every key).
        t_with("TTL", Compare::Shape, 1, |g| vec!["TTL".into(), g.key()]),
        t_with("PTTL", Compare::Shape, 1, |g| vec!["PTTL".into(), g.key()]),
        t_with("EXPIRETIME", Compare::Shape, 1, |g| {
            vec!["EXPIRETIME".into(), g.key()]
        }),
        t("OBJECT", 1, |g| v(&["OBJECT", "ENCODING", &g.key()])),
        t("DBSIZE", 1, |_| v(&["DBSIZE"])),
        t_with("RANDOMKEY", Compare::Shape, 1, |_| v(&["RANDOMKEY"])),
        t_with("KEYS", Compare::Unordered, 1, |g| {
            vec!["KEYS".into(), g.pick(&["*", "k1*", "k[0-4]", "?", "*9"])]
        }),
    ]
}

/// Splits the templates into those ferrokv implements and the names of the missing ones.
fn probe(d: &mut Diff, all: Vec<T>) -> (Vec<T>, Vec<&'static str>) {
    let mut have = Vec::new();
    let mut missing = Vec::new();
    let mut known = std::collections::HashMap::new();
    for t in all {
        let ok = *known.entry(t.name).or_insert_with(|| {
            !matches!(d.ferrokv().cmd(&[t.name]),
                Value::Error(e) if e.starts_with("ERR unknown command"))
        });
        if ok {
            have.push(t);
        } else if !missing.contains(&t.name) {
            missing.push(t.name);
        }
    }
    (have, missing)
}

fn run(resp3: bool, cases: usize, seed: u64) {
    let d = if resp3 {
        Diff::resp3(BIN)
    } else {
        Diff::new(BIN)
    };
    let Some(mut d) = d else { return };
    let (have, missing) = probe(&mut d, templates());
    let label = if resp3 { "RESP3" } else { "RESP2" };
    if !missing.is_empty() {
        eprintln!(
            "prop_foundation ({label}): not implemented yet, skipped: {}",
            missing.join(" ")
        );
    }
    let keyspace_ok = ["KEYS", "TYPE", "PTTL"].iter().all(|c| {
        !matches!(d.ferrokv().cmd(&[c]),
            Value::Error(e) if e.starts_with("ERR unknown command"))
    });
    eprintln!(
        "prop_foundation ({label}): running {}",
        have.iter().map(|t| t.name).collect::<Vec<_>>().join(" ")
    );
    if keyspace_ok {
        let mut r = PropRunner::new()
            .cases(cases)
            .seed(seed)
            .keyspace_every(250);
        for t in have {
            r = r.add(t.name, t.compare, t.weight, t.gen);
        }
        r.run_on(&mut d);
    } else {
        eprintln!(
            "prop_foundation ({label}): KEYS/TYPE/PTTL missing: keyspace compared by GET only"
        );
        run_without_keyspace_check(&mut d, &have, cases, seed);
    }
}

/// The PropRunner loop without its KEYS-based keyspace comparison (for branches where KEYS,
/// TYPE or PTTL do not exist yet); the final state is compared by GET of every key.
fn run_without_keyspace_check(d: &mut Diff, have: &[T], cases: usize, seed: u64) {
    let cases = std::env::var("FERROKV_PROP_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(cases);
    let seed = std::env::var("FERROKV_PROP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(seed);
    let total: u64 = have.iter().map(|t| u64::from(t.weight)).sum();
    let mut g = Gen::new(seed, 10);
    let mut recent: Vec<String> = Vec::new();
    for case in 0..cases {
        let mut pick = g.rng.below(total);
        let t = have
            .iter()
            .find(|t| {
                let hit = pick < u64::from(t.weight);
                pick = pick.saturating_sub(u64::from(t.weight));
                hit
            })
            .unwrap_or(&have[0]);
        let argv = (t.gen)(&mut g);
        let args: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        recent.push(ferrokv_testkit::show_command(&args));
        if recent.len() > 30 {
            recent.remove(0);
        }
        if let Err(e) = d.try_check_bin(&args, t.compare) {
            panic!(
                "command #{case} (seed {seed}, replay with FERROKV_PROP_SEED={seed}):\n  {}\n{e}",
                recent.join("\n  ")
            );
        }
    }
    for k in 0..10 {
        let key = format!("k{k}");
        if let Err(e) = d.try_check_bin(&[b"GET", key.as_bytes()], Compare::Exact) {
            panic!("final state differs (seed {seed}): {e}");
        }
    }
}

#[test]
fn foundation_commands_match_redis_resp2() {
    run(false, 3000, 0xF00D_5EED);
}

#[test]
fn foundation_commands_match_redis_resp3() {
    run(true, 800, 0x0003_5EED);
}

/// Found by the property run: Redis parses all of SET's options first (a conflicting or unknown
/// option is a syntax error) and only then validates the expire time, so the syntax error wins.
#[test]
fn set_syntax_error_wins_over_bad_expire() {
    let mut d = ferrokv_testkit::diff_or_skip!(BIN);
    d.check(&["SET", "k", "v", "EX", "0", "XX", "NX"]);
    d.check(&["SET", "k", "v", "EX", "abc", "NX", "XX"]);
    d.check(&["SET", "k", "v", "PX", "-5", "bogus"]);
    d.check(&["SET", "k", "v", "EX", "9223372036854775807", "GET", "PX"]);
    d.check(&["SET", "k", "v", "EX", "0"]);
    d.check(&["SET", "k", "v", "EX", "abc"]);
    d.check(&["DBSIZE"]);
}
