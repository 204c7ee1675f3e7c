//! The compaction rate limit (`DiskOptions::compaction_rate`, `set_compaction_rate`): compaction
//! progress, as the engine's own metrics count it, stays within the rate over a time window, and
//! lifting the limit releases a paced compaction.
#![allow(clippy::unwrap_used)] // tests may unwrap

use ferrokv_engine_disk::{DiskEngine, DiskOptions, Fsync};
use std::time::{Duration, Instant};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn open(dir: &std::path::Path, rate: u64) -> DiskEngine {
    DiskEngine::open(
        dir,
        DiskOptions {
            cache_bytes: 8 << 20,
            memtable_bytes: 8 << 20,
            fsync: Fsync::No,
            compaction_rate: rate,
            ..DiskOptions::default()
        },
    )
    .unwrap()
}

/// Writes `n` hash fields of ~120 bytes each (field-level records in the `data` keyspace).
fn fill(e: &DiskEngine, n: usize) {
    let value = vec![b'x'; 100];
    for base in (0..n).step_by(1000) {
        let names: Vec<Vec<u8>> = (base..(base + 1000).min(n))
            .map(|i| format!("field:{i:08}").into_bytes())
            .collect();
        let pairs: Vec<(&[u8], &[u8])> = names
            .iter()
            .map(|f| (f.as_slice(), value.as_slice()))
            .collect();
        e.hset(0, b"big", &pairs, now()).unwrap();
    }
}

#[test]
fn the_rate_is_set_at_open_and_changes_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), 3 << 20);
    assert_eq!(e.compaction_rate(), 3 << 20);
    assert_eq!(e.stats().compaction_rate, 3 << 20);
    e.set_compaction_rate(0);
    assert_eq!(e.compaction_rate(), 0);
    assert_eq!(e.stats().compaction_rate, 0);
    drop(e);
    let e = open(dir.path(), 0);
    assert_eq!(e.compaction_rate(), 0, "the rate is not persisted");
}

#[test]
fn compaction_progress_is_bounded_by_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), 0);
    fill(&e, 50_000); // ~6 MB of records
    let rate: u64 = 2 << 20;
    e.set_compaction_rate(rate);
    let before = e.stats();
    let t = Instant::now();
    e.compact_all().unwrap();
    let elapsed = t.elapsed();
    let after = e.stats();
    let moved = after.compaction_bytes - before.compaction_bytes;
    eprintln!("compacted {moved} bytes in {elapsed:?} at {rate} B/s");
    assert!(
        moved >= 5 << 20,
        "a full compaction rewrites every record: {moved} bytes"
    );
    // The bucket lets compaction run 50 ms ahead, and each of the (at most 8) concurrent
    // filters may have charged one 32 KiB chunk it has not slept for yet.
    let allowed = rate as f64 * (elapsed.as_secs_f64() + 0.05) + 8.0 * 32768.0;
    assert!(
        (moved as f64) <= allowed,
        "{moved} bytes compacted in {elapsed:?} at {rate} B/s (allowed {allowed:.0})"
    );
    assert!(
        after.compaction_throttled_ms > before.compaction_throttled_ms,
        "the limit must have made compaction wait: {after:?}"
    );
    assert_eq!(e.hlen(0, b"big", now()).unwrap(), 50_000);
}

#[test]
fn lifting_the_limit_releases_a_paced_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), 0);
    fill(&e, 50_000);
    // At 128 KiB/s the full compaction would take ~45 s.
    e.set_compaction_rate(128 << 10);
    let t = Instant::now();
    let e2 = e.clone();
    let h = std::thread::spawn(move || e2.compact_all().unwrap());
    // Wait (bounded) until the limit has made compaction sleep at least once.
    let deadline = Instant::now() + Duration::from_secs(30);
    while e.stats().compaction_throttled_ms == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(e.stats().compaction_throttled_ms > 0, "never paced");
    e.set_compaction_rate(0);
    h.join().unwrap();
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(25),
        "the compaction kept its old pace after the limit was lifted: {took:?}"
    );
    assert_eq!(e.hlen(0, b"big", now()).unwrap(), 50_000);
}
