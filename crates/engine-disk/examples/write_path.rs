//! The engine's write path in isolation, for profiling (perf, callgrind) and before/after
//! comparisons (docs/disk-engine.md "Write path"):
//!
//! `cargo run --release -p ferrokv-engine-disk --example write_path -- <op> [N] [size]`
//!
//! - `set`: what the server does for SET of a one-record key: one metadata read with a token
//!   (`key_meta_with_token`) then `apply_known` of the new string value, N times over 10,000
//!   keys (so most writes overwrite), values of `size` bytes (default 64);
//! - `hset`, `zadd`, `lpush`: one native element write per call on a key already holding
//!   2,000 elements (field-level), N calls;
//! - `zadd-native`, `zadd-native-known`: a native ZADD of one member as the server makes it
//!   (metadata read with a token, ZSCORE, write) with the engine re-reading both
//!   (`zadd_ext`), or not (`zscore_known` + `zadd_known`).
//!
//! Prints ops/s; under `valgrind --tool=callgrind` the instruction count divided by N is the
//! cost per operation (the setup is small next to N = 100,000).

use ferrokv_engine_disk::{DiskEngine, DiskOptions, Fsync, KeyWrite};
use ferrokv_rdb::RdbValue;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let op = args.get(1).map_or("set", String::as_str).to_string();
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let size: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(64);
    let dir = tempfile::tempdir()?;
    let e = DiskEngine::open(
        dir.path(),
        DiskOptions {
            fsync: Fsync::No,
            ..DiskOptions::default()
        },
    )?;
    let t = now();
    let value = vec![b'v'; size];
    let keys: Vec<Vec<u8>> = (0..10_000)
        .map(|i| format!("key:{i}").into_bytes())
        .collect();
    let fields: Vec<Vec<u8>> = (0..n.max(2000))
        .map(|i| format!("m:{i:08}").into_bytes())
        .collect();
    // Setup: the big collections.
    for chunk in fields[..2000].chunks(500) {
        let pairs: Vec<(&[u8], &[u8])> = chunk.iter().map(|f| (&f[..], &value[..])).collect();
        e.hset(0, b"bighash", &pairs, t)?;
        let items: Vec<(f64, &[u8])> = chunk.iter().map(|f| (1.0, &f[..])).collect();
        e.zadd(0, b"bigzset", &items, t)?;
        let vals: Vec<&[u8]> = chunk.iter().map(|_| &value[..]).collect();
        e.rpush(0, b"biglist", &vals, t)?;
    }
    let start = Instant::now();
    match op.as_str() {
        "set" => {
            let v = RdbValue::String(value.clone());
            for i in 0..n {
                let key = &keys[i % keys.len()];
                let (_, tok) = e.key_meta_with_token(0, key, t)?;
                let w = [KeyWrite::Put {
                    db: 0,
                    key,
                    value: &v,
                    expire_ms: None,
                    inline: true,
                }];
                e.apply_known(&w, t, |_, _| tok.as_ref())?;
            }
        }
        "hset" => {
            for f in fields.iter().take(n) {
                e.hset(0, b"bighash", &[(&f[..], &value[..])], t)?;
            }
        }
        "zadd" => {
            for (i, f) in fields.iter().take(n).enumerate() {
                e.zadd(0, b"bigzset", &[(i as f64, &f[..])], t)?;
            }
        }
        // What the server's native ZADD of one member does: its metadata read (with a
        // token), the member's score, the write; `-known` passes both reads to the engine.
        "zadd-native" | "zadd-native-known" => {
            let known = op.ends_with("-known");
            for (i, f) in fields.iter().take(n).enumerate() {
                let (_, tok) = e.key_meta_with_token(0, b"bigzset", t)?;
                let tok = tok.ok_or("no token")?;
                let item = [(i as f64, &f[..])];
                if known {
                    let prev = e.zscore_known(0, b"bigzset", &tok, f, t)?;
                    e.zadd_known(0, b"bigzset", &tok, &item, &[prev], t, false)?;
                } else {
                    e.zscore(0, b"bigzset", f, t)?;
                    e.zadd_ext(0, b"bigzset", &item, t, false)?;
                }
            }
        }
        "lpush" => {
            for _ in 0..n {
                e.lpush(0, b"biglist", &[&value[..]], t)?;
            }
        }
        other => return Err(format!("unknown op {other}").into()),
    }
    let s = start.elapsed().as_secs_f64();
    println!(
        "{op}: {n} ops in {s:.2} s: {:.0} ops/s, {:.2} us/op",
        n as f64 / s,
        s * 1e6 / n as f64
    );
    Ok(())
}
