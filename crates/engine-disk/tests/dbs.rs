//! DBSIZE counters, FLUSHDB / FLUSHALL / SWAPDB through the logical → physical database table:
//! exact counts through every kind of write (also across reopen and counter folds), O(1)
//! flush/swap that survive reopen, and GC of flushed databases.
#![allow(clippy::unwrap_used)] // tests may unwrap

use ferrokv_engine_disk::{DiskEngine, DiskOptions, Fsync, KeyType, KeyWrite, Ttl};
use ferrokv_rdb::RdbValue;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const NOW: i64 = 1_700_000_000_000;

fn open(dir: &std::path::Path) -> DiskEngine {
    DiskEngine::open(
        dir,
        DiskOptions {
            fsync: Fsync::No,
            cache_bytes: 4 << 20,
            memtable_bytes: 8 << 20,
            ..DiskOptions::default()
        },
    )
    .unwrap()
}

/// Every key in `db` through SCAN (expired ones excluded).
fn all_keys(e: &DiskEngine, db: u16, now: i64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cursor = 0;
    loop {
        let (c, mut k) = e.scan(db, cursor, 100, None, None, now).unwrap();
        out.append(&mut k);
        if c == 0 {
            break;
        }
        cursor = c;
    }
    out.sort();
    out
}

#[test]
fn dbsize_stays_exact_through_random_writes_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = open(dir.path());
    let mut rng = StdRng::seed_from_u64(7);
    let mut now = NOW;
    // > FOLD_EVERY (4096) key creations/deletions, so counter folds happen on the way.
    for step in 0..12_000 {
        now += 1;
        let db = rng.gen_range(0..3u16);
        let key = format!("k{}", rng.gen_range(0..400)).into_bytes();
        match rng.gen_range(0..12) {
            0 => e.set(db, &key, b"v", Ttl::Persist, now).map(|_| ()),
            1 => e.set(db, &key, b"v", Ttl::At(now + 5), now).map(|_| ()),
            2 => e.del(db, &key, now).map(|_| ()),
            3 => e.hset(db, &key, &[(b"f", b"v")], now).map(|_| ()),
            4 => e.hdel(db, &key, &[b"f"], now).map(|_| ()),
            5 => e.sadd(db, &key, &[b"a", b"b"], now).map(|_| ()),
            6 => e.srem(db, &key, &[b"a", b"b"], now).map(|_| ()),
            7 => e.rpush(db, &key, &[b"x"], now).map(|_| ()),
            8 => e.lpop(db, &key, 1, now).map(|_| ()),
            9 => {
                let v = RdbValue::ZSet(vec![(b"m".to_vec(), 1.0)]);
                let del = format!("k{}", rng.gen_range(0..400)).into_bytes();
                e.apply(
                    &[
                        KeyWrite::Put {
                            db,
                            key: &key,
                            value: &v,
                            expire_ms: Some(now + 3),
                            inline: rng.gen(),
                        },
                        KeyWrite::Delete { db, key: &del },
                    ],
                    now,
                )
            }
            10 => e.expire_sweep(now, 5).map(|_| ()),
            _ => e.exists(db, &key, now).map(|_| ()),
        }
        .or_else(|err| match err {
            ferrokv_engine_disk::DiskError::WrongType => Ok(()),
            other => Err(other),
        })
        .unwrap();
        if step % 3000 == 2999 {
            drop(e);
            e = open(dir.path());
        }
    }
    for db in 0..3 {
        // DBSIZE counts metadata records, expired or not: compare with a far-past clock.
        assert_eq!(
            e.dbsize(db, now).unwrap(),
            e.count_keys(db, i64::MIN).unwrap(),
            "db {db}"
        );
        assert!(e.dbsize(db, now).unwrap() > 0);
    }
    drop(e);
    let e = open(dir.path());
    for db in 0..3 {
        assert_eq!(
            e.dbsize(db, now).unwrap(),
            e.count_keys(db, i64::MIN).unwrap()
        );
    }
}

fn fill(e: &DiskEngine, db: u16, tag: &str, n: usize) {
    for k in 0..n {
        let key = format!("{tag}{k}");
        e.set(db, key.as_bytes(), tag.as_bytes(), Ttl::Persist, NOW)
            .unwrap();
        e.hset(
            db,
            format!("h{tag}").as_bytes(),
            &[(key.as_bytes(), b"v")],
            NOW,
        )
        .unwrap();
        e.zadd(
            db,
            format!("z{tag}").as_bytes(),
            &[(k as f64, key.as_bytes())],
            NOW,
        )
        .unwrap();
    }
    e.set(db, b"ttl", tag.as_bytes(), Ttl::At(NOW + 1000), NOW)
        .unwrap();
}

#[test]
fn flush_and_swap_are_o1_durable_and_collected() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    fill(&e, 0, "a", 300);
    fill(&e, 1, "b", 200);
    fill(&e, 2, "c", 100);
    assert_eq!(e.dbsize(0, NOW).unwrap(), 303);
    assert_eq!(e.dbsize(1, NOW).unwrap(), 203);

    // A snapshot taken before the flush keeps seeing the old contents.
    let snap = e.snapshot();
    e.flush_db(0).unwrap();
    assert_eq!(e.dbsize(0, NOW).unwrap(), 0);
    assert!(all_keys(&e, 0, NOW).is_empty());
    assert_eq!(e.get(0, b"a1", NOW).unwrap(), None);
    assert_eq!(e.hlen(0, b"ha", NOW).unwrap(), 0);
    assert_eq!(snap.keys(0).count(), 303);
    assert_eq!(snap.get(0, b"a1").unwrap(), Some(b"a".to_vec()));
    drop(snap);
    // The flushed db is writable at once.
    e.set(0, b"new", b"1", Ttl::Persist, NOW).unwrap();
    assert_eq!(e.dbsize(0, NOW).unwrap(), 1);

    e.swap_db(1, 2).unwrap();
    assert_eq!(e.get(1, b"c5", NOW).unwrap(), Some(b"c".to_vec()));
    assert_eq!(e.get(2, b"b5", NOW).unwrap(), Some(b"b".to_vec()));
    assert_eq!(e.zscore(2, b"zb", b"b7", NOW).unwrap(), Some(7.0));
    assert_eq!(e.dbsize(1, NOW).unwrap(), 103);
    assert_eq!(e.dbsize(2, NOW).unwrap(), 203);
    assert_eq!(all_keys(&e, 1, NOW).len(), 103);
    // The expiry sweep reports logical dbs after the swap.
    let mut swept = e.expire_sweep(NOW + 1000, 100).unwrap();
    swept.sort();
    assert_eq!(
        swept,
        vec![(1, b"ttl".to_vec()), (2, b"ttl".to_vec())],
        "db 0's ttl key was flushed"
    );
    drop(e);

    let e = open(dir.path());
    assert_eq!(e.get(0, b"a1", NOW).unwrap(), None);
    assert_eq!(e.get(0, b"new", NOW).unwrap(), Some(b"1".to_vec()));
    assert_eq!(e.get(1, b"c5", NOW).unwrap(), Some(b"c".to_vec()));
    assert_eq!(e.dbsize(1, NOW).unwrap(), 102);
    assert_eq!(e.dbsize(2, NOW).unwrap(), 202);
    // Swap back and forth, flush the swapped one.
    e.swap_db(2, 0).unwrap();
    assert_eq!(e.key_type(0, b"hb", NOW).unwrap(), Some(KeyType::Hash));
    e.flush_db(2).unwrap();
    assert_eq!(e.dbsize(2, NOW).unwrap(), 0);
    assert_eq!(e.dbsize(0, NOW).unwrap(), 202);

    // Everything of the flushed dbs goes at compaction; the live data stays.
    e.compact_all().unwrap();
    let counts = e.debug_record_counts().unwrap();
    assert_eq!(counts[0], 202 + 102, "meta records of dbs 0 and 1");
    assert_eq!(
        counts[1],
        200 + 200 + 100 + 100,
        "hash and zset fields of b and c"
    );
    assert_eq!(counts[2], 200 + 100);
    assert_eq!(e.hlen(0, b"hb", NOW).unwrap(), 200);

    e.flush_all().unwrap();
    for db in 0..4 {
        assert_eq!(e.dbsize(db, NOW).unwrap(), 0);
        assert!(all_keys(&e, db, NOW).is_empty());
    }
    drop(e);
    let e = open(dir.path());
    for db in 0..4 {
        assert_eq!(e.dbsize(db, NOW).unwrap(), 0);
        assert!(all_keys(&e, db, NOW).is_empty());
    }
    e.compact_all().unwrap();
    assert_eq!(e.debug_record_counts().unwrap(), [0, 0, 0, 0]);
}
