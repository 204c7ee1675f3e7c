//! A single-threaded churn benchmark of the big encodings, the engine half of redis-benchmark's
//! `-t zadd` / `-t hset` / `-t sadd` on one key (`-r 100000`): random members `element:<0..N>`
//! (12 digits, as redis-benchmark writes them), random scores, every update on an existing
//! member (after the fill) moving it.
//!
//! `cargo run --release -p ferrokv-engine --example churn -- [zset|hash|set] [ops] [keyspace]`
//! prints nanoseconds per operation: the process's CPU time (`/proc/self/schedstat`, so time
//! spent descheduled on a busy machine does not count) when readable, else wall time.

use ferrokv_engine::hash::Hash;
use ferrokv_engine::set::Set;
use ferrokv_engine::zset::ZSet;
use ferrokv_engine::EncodingLimits;
use std::io::Write;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map(String::as_str).unwrap_or("zset");
    let ops: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let keys: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let limits = EncodingLimits::default();
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut member = Vec::with_capacity(32);
    let mut z = ZSet::new();
    let mut h = Hash::default();
    let mut st = Set::default();
    let mut run = |n: usize, z: &mut ZSet, h: &mut Hash, st: &mut Set| {
        for _ in 0..n {
            member.clear();
            // No allocation per operation: the member is formatted into a reused buffer.
            let _ = write!(member, "element:{:012}", next() % keys);
            let v = next() % keys;
            match which {
                "hash" => {
                    h.set(&member, b"xxx", false, &limits);
                }
                "set" => {
                    st.add(&member, &limits);
                }
                _ => {
                    z.insert(&member, v as f64, &limits);
                }
            }
        }
    };
    run(ops / 4, &mut z, &mut h, &mut st);
    let (t, c) = (Instant::now(), cpu_ns());
    run(ops, &mut z, &mut h, &mut st);
    let el = match (c, cpu_ns()) {
        (Some(a), Some(b)) => b - a,
        _ => t.elapsed().as_nanos() as u64,
    };
    println!(
        "{which}: {:.1} ns/op ({} ops, {} elements)",
        el as f64 / ops as f64,
        ops,
        z.len().max(h.len()).max(st.len())
    );
}

/// CPU time of this process in nanoseconds (Linux's schedstat), if available.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}
