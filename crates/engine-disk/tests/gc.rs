//! Version GC (compaction filter), O(1) deletes, snapshots, expiry and SCAN guarantees.
#![allow(clippy::unwrap_used)] // tests may unwrap

use ferrokv_engine_disk::{DiskEngine, DiskOptions, Fsync, KeyType, Ttl};
use std::collections::BTreeSet;
use std::time::Instant;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn open(dir: &std::path::Path) -> DiskEngine {
    DiskEngine::open(
        dir,
        DiskOptions {
            cache_bytes: 8 << 20,
            memtable_bytes: 8 << 20,
            fsync: Fsync::No,
            ..DiskOptions::default()
        },
    )
    .unwrap()
}

fn fill_hash(e: &DiskEngine, key: &[u8], n: usize) {
    let t = now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = chunk
            .iter()
            .map(|i| (format!("f{i}").into_bytes(), format!("v{i}").into_bytes()))
            .collect();
        let refs: Vec<(&[u8], &[u8])> = pairs
            .iter()
            .map(|(a, b)| (a.as_slice(), b.as_slice()))
            .collect();
        e.hset(0, key, &refs, t).unwrap();
    }
}

#[test]
fn del_of_big_hash_is_constant_time_and_compaction_reclaims_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    fill_hash(&e, b"big", 100_000);
    fill_hash(&e, b"keep", 10);
    assert_eq!(e.hlen(0, b"big", now()).unwrap(), 100_000);
    let t = Instant::now();
    assert!(e.del(0, b"big", now()).unwrap());
    let took = t.elapsed();
    assert!(
        took.as_millis() < 50,
        "DEL of a 100k-field hash took {took:?}"
    );
    assert_eq!(e.hlen(0, b"big", now()).unwrap(), 0);
    assert_eq!(e.hget(0, b"big", b"f5", now()).unwrap(), None);
    // Re-create under the same name: a new incarnation, none of the old fields visible.
    e.hset(0, b"big", &[(b"new", b"1")], now()).unwrap();
    assert_eq!(e.hgetall(0, b"big", now()).unwrap().count(), 1);
    assert_eq!(e.hget(0, b"big", b"f5", now()).unwrap(), None);
    let before = e.debug_record_counts().unwrap();
    assert!(before[1] >= 100_011, "{before:?}");
    e.compact_all().unwrap();
    let after = e.debug_record_counts().unwrap();
    assert_eq!(
        after[1], 11,
        "stale fields must be gone after compaction: {after:?}"
    );
    assert!(e.stats().gc_dropped >= 100_000);
    assert_eq!(
        e.hget(0, b"big", b"new", now()).unwrap(),
        Some(b"1".to_vec())
    );
    assert_eq!(e.hlen(0, b"keep", now()).unwrap(), 10);
}

#[test]
fn overwrite_by_another_type_and_long_expired_keys_are_collected() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let t = now();
    e.zadd(0, b"z", &[(1.0, b"a"), (2.0, b"b"), (3.0, b"c")], t)
        .unwrap();
    e.set(0, b"z", b"now a string", Ttl::Persist, t).unwrap();
    e.sadd(0, b"s", &[b"x", b"y"], t).unwrap();
    // Expired two minutes ago (past the GC grace period).
    e.set_expire(0, b"s", Some(t - 120_000), t).unwrap();
    e.rpush(0, b"l", &[b"1", b"2"], t).unwrap();
    assert_eq!(e.key_type(0, b"z", t).unwrap(), Some(KeyType::String));
    e.compact_all().unwrap();
    let c = e.debug_record_counts().unwrap();
    assert_eq!(c[1], 2, "only the list's elements survive in data: {c:?}");
    assert_eq!(c[2], 0, "the zset score index is gone: {c:?}");
    assert_eq!(
        e.lrange(0, b"l", 0, -1, t).unwrap(),
        vec![b"1".to_vec(), b"2".to_vec()]
    );
}

#[test]
fn snapshot_sees_a_consistent_past_even_across_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    fill_hash(&e, b"h", 1000);
    e.set(0, b"s", b"old", Ttl::Persist, now()).unwrap();
    e.rpush(0, b"l", &[b"a", b"b", b"c"], now()).unwrap();
    e.zadd(0, b"z", &[(2.0, b"two"), (1.0, b"one")], now())
        .unwrap();
    let snap = e.snapshot();
    e.del(0, b"h", now()).unwrap();
    e.set(0, b"s", b"new", Ttl::Persist, now()).unwrap();
    e.lpop(0, b"l", 1, now()).unwrap();
    e.zrem(0, b"z", &[b"one"], now()).unwrap();
    e.compact_all().unwrap();
    assert_eq!(snap.elements(0, b"h", KeyType::Hash).unwrap().count(), 1000);
    assert_eq!(snap.get(0, b"s").unwrap(), Some(b"old".to_vec()));
    assert_eq!(snap.lrange_all(0, b"l").unwrap().len(), 3);
    assert_eq!(
        snap.zrange_all(0, b"z").unwrap(),
        vec![(b"one".to_vec(), 1.0), (b"two".to_vec(), 2.0)]
    );
    let keys: BTreeSet<Vec<u8>> = snap.keys(0).map(|r| r.unwrap().0).collect();
    assert_eq!(keys.len(), 4);
    assert_eq!(e.get(0, b"s", now()).unwrap(), Some(b"new".to_vec()));
    drop(snap);
    e.compact_all().unwrap();
    let c = e.debug_record_counts().unwrap();
    assert_eq!(c[1], 2 + 1, "list has 2 elements, zset 1 member: {c:?}");
}

#[test]
fn lazy_and_active_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let t = now();
    for i in 0..50 {
        e.set(0, format!("k{i}").as_bytes(), b"v", Ttl::At(t + 10 + i), t)
            .unwrap();
    }
    e.hset(1, b"h", &[(b"f", b"v")], t).unwrap();
    e.set_expire(1, b"h", Some(t + 5), t).unwrap();
    e.set(0, b"forever", b"v", Ttl::Persist, t).unwrap();
    assert_eq!(e.debug_record_counts().unwrap()[3], 51);
    // Lazy: reading an expired key deletes its metadata (and logs it when asked to).
    e.set_log_expired(true);
    assert_eq!(e.get(0, b"k0", t + 10).unwrap(), None);
    assert_eq!(e.debug_record_counts().unwrap()[0], 51);
    assert_eq!(e.drain_expired(), vec![(0, b"k0".to_vec())]);
    assert_eq!(e.drain_expired(), vec![]);
    e.set_log_expired(false);
    // Active: bounded batches, across databases, only due keys.
    let first = e.expire_sweep(t + 30, 5).unwrap();
    assert_eq!(first.len(), 5);
    let rest = e.expire_sweep(t + 30, 1000).unwrap();
    let all: BTreeSet<(u16, Vec<u8>)> = first.into_iter().chain(rest).collect();
    let mut want: BTreeSet<(u16, Vec<u8>)> = (1..=20)
        .map(|i| (0u16, format!("k{i}").into_bytes()))
        .collect();
    want.insert((1, b"h".to_vec()));
    assert_eq!(all, want);
    assert_eq!(e.get(0, b"k21", t + 30).unwrap(), Some(b"v".to_vec()));
    assert_eq!(e.expire_sweep(t + 30, 1000).unwrap(), vec![]);
    // PERSIST removes the key from the index; changing the deadline moves it.
    e.set_expire(0, b"k30", None, t + 30).unwrap();
    e.set_expire(0, b"k31", Some(t + 10_000), t + 30).unwrap();
    let later = e.expire_sweep(t + 1000, 1000).unwrap();
    assert_eq!(later.len(), 27, "k21..k49 minus k30, k31");
    assert_eq!(e.expire_time(0, b"k30", t + 1000).unwrap(), Some(None));
    assert_eq!(
        e.expire_time(0, b"k31", t + 1000).unwrap(),
        Some(Some(t + 10_000))
    );
    assert_eq!(e.debug_record_counts().unwrap()[3], 1);
}

#[test]
fn scan_returns_every_key_present_throughout_despite_concurrent_changes() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let t = now();
    for i in 0..2000 {
        e.set(0, format!("stable{i}").as_bytes(), b"v", Ttl::Persist, t)
            .unwrap();
    }
    e.set(1, b"otherdb", b"v", Ttl::Persist, t).unwrap();
    let mut seen = Vec::new();
    let mut cursor = 0;
    let mut round = 0;
    loop {
        let (next, keys) = e.scan(0, cursor, 37, None, None, t).unwrap();
        seen.extend(keys);
        // Churn between calls: add and remove other keys.
        for j in 0..20 {
            e.set(
                0,
                format!("churn{round}-{j}").as_bytes(),
                b"v",
                Ttl::Persist,
                t,
            )
            .unwrap();
            if round > 0 {
                e.del(0, format!("churn{}-{j}", round - 1).as_bytes(), t)
                    .unwrap();
            }
        }
        round += 1;
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let seen_set: BTreeSet<Vec<u8>> = seen.iter().cloned().collect();
    for i in 0..2000 {
        assert!(
            seen_set.contains(format!("stable{i}").as_bytes()),
            "stable{i} missed"
        );
    }
    assert!(!seen_set.contains(b"otherdb".as_slice()));
    // MATCH and TYPE filters.
    e.sadd(0, b"stableset", &[b"m"], t).unwrap();
    let mut got = Vec::new();
    let mut cursor = 0;
    loop {
        let (next, keys) = e.scan(0, cursor, 100, Some(b"stable1?"), None, t).unwrap();
        got.extend(keys);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    got.sort();
    assert_eq!(
        got,
        (10..20)
            .map(|i| format!("stable{i}").into_bytes())
            .collect::<Vec<_>>()
    );
    let (_, sets) = e.scan(0, 0, 100_000, None, Some(KeyType::Set), t).unwrap();
    assert_eq!(sets, vec![b"stableset".to_vec()]);
}

#[test]
fn reopen_keeps_versions_unique() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = open(dir.path());
        e.sadd(0, b"a", &[b"1", b"2"], now()).unwrap();
    }
    let e = open(dir.path());
    // A new key after reopen must not share the version of `a` (else its members would show).
    e.sadd(0, b"b", &[b"3"], now()).unwrap();
    e.del(0, b"a", now()).unwrap();
    e.compact_all().unwrap();
    let m: Vec<Vec<u8>> = e
        .smembers(0, b"b", now())
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(m, vec![b"3".to_vec()]);
    assert_eq!(e.debug_record_counts().unwrap()[1], 1);
}

#[test]
fn wrong_type_errors_and_everysec_mode() {
    let dir = tempfile::tempdir().unwrap();
    let e = DiskEngine::open(
        dir.path(),
        DiskOptions {
            fsync: Fsync::EverySec,
            ..DiskOptions::default()
        },
    )
    .unwrap();
    let t = now();
    e.set(0, b"s", b"x", Ttl::Persist, t).unwrap();
    use ferrokv_engine_disk::DiskError::WrongType;
    assert_eq!(e.hset(0, b"s", &[(b"f", b"v")], t), Err(WrongType));
    assert_eq!(e.sadd(0, b"s", &[b"m"], t), Err(WrongType));
    assert_eq!(e.zadd(0, b"s", &[(1.0, b"m")], t), Err(WrongType));
    assert_eq!(e.lpush(0, b"s", &[b"m"], t), Err(WrongType));
    e.lpush(0, b"l", &[b"m"], t).unwrap();
    assert_eq!(e.get(0, b"l", t), Err(WrongType));
    assert_eq!(
        e.zadd(0, b"z", &[(f64::NAN, b"m")], t),
        Err(ferrokv_engine_disk::DiskError::NanScore)
    );
    assert_eq!(e.exists(0, b"z", t), Ok(false));
    e.set(0, b"n", b"9223372036854775807", Ttl::Persist, t)
        .unwrap();
    assert_eq!(
        e.incr_by(0, b"n", 1, t),
        Err(ferrokv_engine_disk::DiskError::Overflow)
    );
}

#[test]
fn concurrent_writers_on_one_key_are_serialised() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<DiskEngine>();
    send_sync::<ferrokv_engine_disk::DiskSnapshot>();
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let t = now();
    std::thread::scope(|s| {
        for w in 0..4 {
            let e = e.clone();
            s.spawn(move || {
                for i in 0..250 {
                    e.hincrby(0, b"counter", b"n", 1, t).unwrap();
                    e.sadd(0, b"set", &[format!("{w}-{i}").as_bytes()], t)
                        .unwrap();
                    e.rpush(0, b"list", &[b"x"], t).unwrap();
                }
            });
        }
    });
    assert_eq!(
        e.hget(0, b"counter", b"n", t).unwrap(),
        Some(b"1000".to_vec())
    );
    assert_eq!(e.scard(0, b"set", t).unwrap(), 1000);
    assert_eq!(e.smembers(0, b"set", t).unwrap().count(), 1000);
    assert_eq!(e.llen(0, b"list", t).unwrap(), 1000);
    assert_eq!(e.count_keys(0, t).unwrap(), 3);
    assert_eq!(e.count_keys(1, t).unwrap(), 0);
    assert_eq!(e.lrange(0, b"list", 0, -1, t).unwrap().len(), 1000);
}
