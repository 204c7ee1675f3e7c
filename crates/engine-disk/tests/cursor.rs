//! HSCAN / SSCAN / ZSCAN cursors over field-level collections, LTRIM, and the pending-GC
//! estimate of the stats.
#![allow(clippy::unwrap_used)] // tests may unwrap

use ferrokv_engine_disk::{DiskEngine, DiskOptions, Fsync, KeyWrite};
use ferrokv_rdb::{HashField, RdbValue};
use std::collections::BTreeSet;

const NOW: i64 = 1_700_000_000_000;

fn open(dir: &std::path::Path) -> DiskEngine {
    DiskEngine::open(
        dir,
        DiskOptions {
            fsync: Fsync::No,
            ..DiskOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn scans_return_every_element_once_across_pages() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    // The empty field sorts first and must not end the iteration.
    let fields: Vec<HashField> = std::iter::once(String::new())
        .chain((0..250).map(|n| format!("f{n}")))
        .map(|f| HashField {
            value: format!("v{f}").into_bytes(),
            field: f.into_bytes(),
            expire_ms: None,
        })
        .collect();
    let mut fields = fields;
    fields[7].expire_ms = Some(NOW - 1); // already past its TTL: never returned
    let v = RdbValue::Hash(fields.clone());
    e.apply(
        &[KeyWrite::Put {
            db: 0,
            key: b"h",
            value: &v,
            expire_ms: None,
            inline: false,
        }],
        NOW,
    )
    .unwrap();
    let mut seen = BTreeSet::new();
    let mut cursor = Vec::new();
    let mut calls = 0;
    loop {
        let (next, items) = e.hscan(0, b"h", &cursor, 17, NOW).unwrap();
        calls += 1;
        assert!(items.len() <= 17);
        for (f, val) in items {
            assert_eq!(val, [b"v".as_slice(), &f].concat());
            assert!(seen.insert(f), "returned twice");
        }
        if next.is_empty() {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 250);
    assert!(!seen.contains(&fields[7].field));
    assert!(seen.contains(&Vec::new()));
    assert_eq!(calls, 251usize.div_ceil(17));

    let members: Vec<Vec<u8>> = (0..100).map(|n| format!("m{n:03}").into_bytes()).collect();
    let refs: Vec<&[u8]> = members.iter().map(Vec::as_slice).collect();
    e.sadd(0, b"s", &refs, NOW).unwrap();
    let z: Vec<(f64, &[u8])> = refs.iter().map(|m| (1.5, *m)).collect();
    e.zadd(0, b"z", &z, NOW).unwrap();
    let (mut all_s, mut all_z, mut cs, mut cz) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    loop {
        let (n, mut items) = e.sscan(0, b"s", &cs, 30, NOW).unwrap();
        all_s.append(&mut items);
        if n.is_empty() {
            break;
        }
        cs = n;
    }
    loop {
        let (n, mut items) = e.zscan(0, b"z", &cz, 30, NOW).unwrap();
        all_z.append(&mut items);
        if n.is_empty() {
            break;
        }
        cz = n;
    }
    assert_eq!(all_s, members);
    assert_eq!(
        all_z,
        members.iter().map(|m| (m.clone(), 1.5)).collect::<Vec<_>>()
    );
    // A missing key: one empty page.
    assert_eq!(
        e.sscan(0, b"nope", b"", 10, NOW).unwrap(),
        (Vec::new(), Vec::new())
    );
}

#[test]
fn ltrim_keeps_the_range_and_deletes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let vals: Vec<Vec<u8>> = (0..10).map(|n| n.to_string().into_bytes()).collect();
    let refs: Vec<&[u8]> = vals.iter().map(Vec::as_slice).collect();
    e.rpush(0, b"l", &refs, NOW).unwrap();
    e.lpush(0, b"l", &[b"-1"], NOW).unwrap();
    e.ltrim(0, b"l", 2, -3, NOW).unwrap();
    let want: Vec<Vec<u8>> = (1..8).map(|n| n.to_string().into_bytes()).collect();
    assert_eq!(e.lrange(0, b"l", 0, -1, NOW).unwrap(), want);
    assert_eq!(e.llen(0, b"l", NOW).unwrap(), 7);
    assert_eq!(e.lindex(0, b"l", 0, NOW).unwrap(), Some(b"1".to_vec()));
    e.rpush(0, b"l", &[b"x"], NOW).unwrap();
    assert_eq!(e.lindex(0, b"l", -1, NOW).unwrap(), Some(b"x".to_vec()));
    e.ltrim(0, b"l", 100, 200, NOW).unwrap();
    assert!(!e.exists(0, b"l", NOW).unwrap());
    assert_eq!(e.dbsize(0, NOW).unwrap(), 0);
    e.compact_all().unwrap();
    assert_eq!(e.debug_record_counts().unwrap()[1], 0);
}

#[test]
fn stats_estimate_pending_gc() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..500)
        .map(|n| (format!("f{n}").into_bytes(), b"v".to_vec()))
        .collect();
    let refs: Vec<(&[u8], &[u8])> = pairs
        .iter()
        .map(|(a, b)| (a.as_slice(), b.as_slice()))
        .collect();
    e.hset(0, b"h", &refs, NOW).unwrap();
    assert_eq!(e.stats().gc_pending_estimate, 0);
    e.del(0, b"h", NOW).unwrap();
    assert_eq!(e.stats().gc_pending_estimate, 500);
    e.compact_all().unwrap();
    assert_eq!(e.stats().gc_pending_estimate, 0);
}
