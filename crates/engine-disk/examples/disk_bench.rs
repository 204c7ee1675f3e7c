//! Measurements for the disk engine (run in release):
//!
//! `cargo run --release -p ferrokv-engine-disk --example disk_bench -- big [N]`: per-operation
//! throughput on collections of 10k and N (default 1M) elements, DEL of an N-field hash, disk
//! space reclaimed by compaction.
//!
//! `cargo run --release -p ferrokv-engine-disk --example disk_bench -- mem [MB]`: peak RSS while
//! writing MB (default 400) of string data with a 32 MB budget (16 MB cache + 16 MB memtables),
//! then random GETs; add `unpartitioned` for fjall's default index/filter block layout.

use ferrokv_engine_disk::{DiskEngine, DiskOptions, Fsync, Ttl};
use rand::Rng;
use std::time::Instant;

// The server's allocator, so that RSS figures match what ferrokv-server would show.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn rate(label: &str, n: usize, f: impl FnMut(usize)) {
    let mut f = f;
    let t = Instant::now();
    for i in 0..n {
        f(i);
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{label:<40} {:>10.0} ops/s  ({n} ops, {:.1} us/op)",
        n as f64 / s,
        s * 1e6 / n as f64
    );
}

fn build(e: &DiskEngine, n: usize) {
    let t = now();
    let mut pairs = Vec::with_capacity(1000);
    for base in (0..n).step_by(1000) {
        pairs.clear();
        for i in base..(base + 1000).min(n) {
            pairs.push((
                format!("field:{i:08}").into_bytes(),
                format!("value:{i}").into_bytes(),
            ));
        }
        let hr: Vec<(&[u8], &[u8])> = pairs
            .iter()
            .map(|(a, b)| (a.as_slice(), b.as_slice()))
            .collect();
        e.hset(0, format!("h{n}").as_bytes(), &hr, t)
            .unwrap_or_default();
        let zr: Vec<(f64, &[u8])> = pairs
            .iter()
            .enumerate()
            .map(|(j, (a, _))| ((base + j) as f64, a.as_slice()))
            .collect();
        e.zadd(0, format!("z{n}").as_bytes(), &zr, t)
            .unwrap_or_default();
        let lr: Vec<&[u8]> = pairs.iter().map(|(_, b)| b.as_slice()).collect();
        e.rpush(0, format!("l{n}").as_bytes(), &lr, t)
            .unwrap_or_default();
    }
}

fn big(n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let e = DiskEngine::open(
        dir.path(),
        DiskOptions {
            cache_bytes: 64 << 20,
            memtable_bytes: 64 << 20,
            fsync: Fsync::No,
            ..DiskOptions::default()
        },
    )?;
    let t = Instant::now();
    build(&e, 10_000);
    build(&e, n);
    println!(
        "built 10k + {n}-element hash/zset/list in {:.1}s, RSS {} MB",
        t.elapsed().as_secs_f64(),
        rss_kb() / 1024
    );
    let mut rng = rand::thread_rng();
    let ops = 50_000;
    for size in [10_000usize, n] {
        let (h, z, l) = (format!("h{size}"), format!("z{size}"), format!("l{size}"));
        let tn = now();
        rate(&format!("HSET new field ({size})"), ops, |i| {
            e.hset(
                0,
                h.as_bytes(),
                &[(format!("new:{i}").as_bytes(), b"v")],
                tn,
            )
            .unwrap_or_default();
        });
        rate(&format!("HGET random field ({size})"), ops, |_| {
            let f = format!("field:{:08}", rng.gen_range(0..size));
            let _ = e.hget(0, h.as_bytes(), f.as_bytes(), tn);
        });
        rate(&format!("ZADD update score ({size})"), ops, |_| {
            let m = format!("field:{:08}", rng.gen_range(0..size));
            let _ = e.zadd(
                0,
                z.as_bytes(),
                &[(rng.gen_range(0.0..size as f64), m.as_bytes())],
                tn,
            );
        });
        rate(&format!("ZSCORE random ({size})"), ops, |_| {
            let m = format!("field:{:08}", rng.gen_range(0..size));
            let _ = e.zscore(0, z.as_bytes(), m.as_bytes(), tn);
        });
        rate(&format!("ZRANK random member ({size})"), ops / 5, |_| {
            let m = format!("field:{:08}", rng.gen_range(0..size));
            let _ = e.zrank(0, z.as_bytes(), m.as_bytes(), false, tn);
        });
        rate(
            &format!("ZRANGE by rank, 10 at random offset ({size})"),
            ops / 5,
            |_| {
                let s = rng.gen_range(0..size as i64);
                let _ = e.zrange_by_rank(0, z.as_bytes(), s, s + 9, false, tn);
            },
        );
        // What ZRANK cost before the rank index: walking `rank` index records.
        rate(
            &format!("O(rank) walk: ZRANGEBYSCORE LIMIT rnd 1 ({size})"),
            (2_000_000 / size).clamp(3, 200),
            |_| {
                let off = rng.gen_range(0..size);
                let all = ferrokv_engine_disk::ScoreBound::incl(f64::NEG_INFINITY);
                let top = ferrokv_engine_disk::ScoreBound::incl(f64::INFINITY);
                let _ = e.zrange_by_score(0, z.as_bytes(), all, top, false, off, Some(1), tn);
            },
        );
        rate(&format!("ZRANK top-100 member ({size})"), ops / 10, |_| {
            let _ = e.zrange_by_rank(0, z.as_bytes(), 0, 0, true, tn).map(|v| {
                v.first()
                    .map(|(m, _)| e.zrank(0, z.as_bytes(), m, true, tn))
            });
        });
        rate(&format!("LINDEX random ({size})"), ops, |_| {
            let _ = e.lindex(0, l.as_bytes(), rng.gen_range(0..size as i64), tn);
        });
        rate(&format!("LPUSH one ({size})"), ops, |_| {
            let _ = e.lpush(0, l.as_bytes(), &[b"x"], tn);
        });
        rate(&format!("HLEN ({size})"), ops, |_| {
            let _ = e.hlen(0, h.as_bytes(), tn);
        });
    }
    let hk = format!("h{n}");
    e.compact_all()?;
    let before = e.debug_record_counts()?;
    let disk_before = e.stats().disk_bytes;
    let t = Instant::now();
    e.del(0, hk.as_bytes(), now())?;
    e.del(0, format!("z{n}").as_bytes(), now())?;
    e.del(0, format!("l{n}").as_bytes(), now())?;
    println!(
        "DEL of the {n}-element hash + zset + list: {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    e.compact_all()?;
    let after = e.debug_record_counts()?;
    println!(
        "compaction after DEL: {:.1}s; records meta/data/zscore/expire {before:?} -> {after:?}; disk {} MB -> {} MB",
        t.elapsed().as_secs_f64(),
        disk_before >> 20,
        e.stats().disk_bytes >> 20
    );
    Ok(())
}

fn mem(mb: usize, partition_all_levels: bool) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let e = DiskEngine::open(
        dir.path(),
        DiskOptions {
            cache_bytes: 16 << 20,
            memtable_bytes: 16 << 20,
            fsync: Fsync::No,
            partition_all_levels,
            ..DiskOptions::default()
        },
    )?;
    let value = vec![b'x'; 100];
    let n = mb * 1024 * 1024 / 120;
    let base = rss_kb();
    let mut peak = base;
    let t = Instant::now();
    let mut rng = rand::thread_rng();
    for i in 0..n {
        let mut v = value.clone();
        v[..8].copy_from_slice(&(rng.gen::<u64>()).to_be_bytes());
        e.set(0, format!("key:{i:010}").as_bytes(), &v, Ttl::Persist, 0)?;
        if i % 10_000 == 0 {
            peak = peak.max(rss_kb());
        }
        if i % (n / 10).max(1) == 0 {
            println!(
                "  {i}/{n} keys, {:.0}s, RSS {} MB, peak {} MB",
                t.elapsed().as_secs_f64(),
                rss_kb() / 1024,
                peak / 1024
            );
        }
    }
    println!(
        "wrote {n} keys ({mb} MB of key+value) in {:.1}s; RSS base {} MB, peak {} MB",
        t.elapsed().as_secs_f64(),
        base / 1024,
        peak / 1024
    );
    let t = Instant::now();
    let mut ok = 0;
    for j in 0..100_000 {
        let i = rng.gen_range(0..n);
        if e.get(0, format!("key:{i:010}").as_bytes(), 0)?.is_some() {
            ok += 1;
        }
        if j % 1000 == 0 {
            peak = peak.max(rss_kb());
        }
    }
    println!(
        "100k random GETs: {:.0} ops/s, found {ok}; peak RSS {} MB; disk {} MB",
        100_000.0 / t.elapsed().as_secs_f64(),
        peak / 1024,
        e.stats().disk_bytes >> 20
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    match args.first().map(String::as_str) {
        Some("mem") => mem(
            arg(1, 400),
            args.get(2).is_none_or(|s| s != "unpartitioned"),
        ),
        _ => big(arg(1, 1_000_000)),
    }
}
