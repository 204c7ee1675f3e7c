//! `KeyWrite::Delta`: element deltas of collections staged in the same atomic batch as a
//! unit's whole-key writes (one `apply` = one commit, all or nothing).
#![allow(clippy::unwrap_used)] // tests may unwrap

use ferrokv_engine_disk::{
    DiskEngine, DiskError, DiskOptions, ElemDelta, Fsync, KeyType, KeyWrite, Layout,
};
use ferrokv_rdb::{HashField, RdbValue};
use std::collections::BTreeMap;

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

fn hash(n: usize) -> RdbValue {
    RdbValue::Hash(
        (0..n)
            .map(|i| HashField {
                field: format!("f{i}").into_bytes(),
                value: i.to_string().into_bytes(),
                expire_ms: None,
            })
            .collect(),
    )
}

fn set(n: usize) -> RdbValue {
    RdbValue::Set((0..n).map(|i| format!("m{i}").into_bytes()).collect())
}

fn zset(n: usize) -> RdbValue {
    RdbValue::ZSet(
        (0..n)
            .map(|i| (format!("z{i}").into_bytes(), i as f64))
            .collect(),
    )
}

fn list(n: usize) -> RdbValue {
    RdbValue::List((0..n).map(|i| i.to_string().into_bytes()).collect())
}

fn put(e: &DiskEngine, key: &[u8], v: &RdbValue, inline: bool) {
    e.apply(
        &[KeyWrite::Put {
            db: 0,
            key,
            value: v,
            expire_ms: None,
            inline,
        }],
        NOW,
    )
    .unwrap();
}

/// A hash as a field → value map.
fn hmap(e: &DiskEngine, key: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    match e.load_value(0, key, NOW).unwrap() {
        Some((RdbValue::Hash(f), _)) => f.into_iter().map(|f| (f.field, f.value)).collect(),
        None => BTreeMap::new(),
        other => panic!("not a hash: {other:?}"),
    }
}

fn members(e: &DiskEngine, key: &[u8]) -> Vec<Vec<u8>> {
    match e.load_value(0, key, NOW).unwrap() {
        Some((RdbValue::Set(mut m), _)) => {
            m.sort();
            m
        }
        None => Vec::new(),
        other => panic!("not a set: {other:?}"),
    }
}

#[test]
fn mixed_writes_and_deltas_commit_together() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    put(&e, b"h", &hash(600), false);
    put(&e, b"s", &set(600), false);
    put(&e, b"z", &zset(600), false);
    put(&e, b"l", &list(600), false);
    put(&e, b"gone", &set(3), false);
    let hd = ElemDelta::Hash {
        set: vec![(b"f1", b"one"), (b"new", b"x")],
        del: vec![b"f2", b"f3"],
    };
    let sd = ElemDelta::Set {
        add: vec![b"m1000", b"m0"],
        rem: vec![b"m1", b"m0", b"absent"],
    };
    let zd = ElemDelta::ZSet {
        set: vec![(-1.0, b"z599"), (1000.5, b"zz")],
        rem: vec![b"z0"],
    };
    let ld = ElemDelta::List {
        pop_left: 2,
        pop_right: 0,
        push_left: Vec::new(),
        push_right: vec![b"a", b"b"],
    };
    let new_set = ElemDelta::Set {
        add: vec![b"x", b"y"],
        rem: Vec::new(),
    };
    let empty = ElemDelta::Set {
        add: Vec::new(),
        rem: vec![b"m0", b"m1", b"m2"],
    };
    let sv = RdbValue::String(b"v".to_vec());
    let writes = [
        KeyWrite::Put {
            db: 0,
            key: b"str",
            value: &sv,
            expire_ms: None,
            inline: true,
        },
        KeyWrite::Delta {
            db: 0,
            key: b"h",
            delta: &hd,
            expire_ms: Some(NOW + 60_000),
        },
        KeyWrite::Delta {
            db: 0,
            key: b"s",
            delta: &sd,
            expire_ms: None,
        },
        KeyWrite::Delta {
            db: 0,
            key: b"z",
            delta: &zd,
            expire_ms: None,
        },
        KeyWrite::Delta {
            db: 0,
            key: b"l",
            delta: &ld,
            expire_ms: None,
        },
        KeyWrite::Delta {
            db: 0,
            key: b"created",
            delta: &new_set,
            expire_ms: None,
        },
        KeyWrite::Delta {
            db: 0,
            key: b"gone",
            delta: &empty,
            expire_ms: None,
        },
    ];
    let tokens = e.apply_tokened(&writes, NOW, |_, _| None).unwrap();
    assert_eq!(e.get(0, b"str", NOW).unwrap(), Some(b"v".to_vec()));
    let h = hmap(&e, b"h");
    assert_eq!(h.len(), 600 - 2 + 1);
    assert_eq!(h.get(&b"f1"[..]), Some(&b"one".to_vec()));
    assert_eq!(h.get(&b"new"[..]), Some(&b"x".to_vec()));
    assert!(!h.contains_key(&b"f2"[..]) && !h.contains_key(&b"f3"[..]));
    assert_eq!(e.hlen(0, b"h", NOW).unwrap(), 599);
    assert_eq!(
        e.expire_time(0, b"h", NOW).unwrap(),
        Some(Some(NOW + 60_000))
    );
    // m0 both removed and added: present; m1 removed; m1000 added.
    let s = members(&e, b"s");
    assert_eq!(s.len(), 600);
    assert!(s.contains(&b"m0".to_vec()) && s.contains(&b"m1000".to_vec()));
    assert!(!s.contains(&b"m1".to_vec()));
    assert_eq!(e.scard(0, b"s", NOW).unwrap(), 600);
    // Sorted set: rank index agrees with the change.
    assert_eq!(e.zcard(0, b"z", NOW).unwrap(), 600);
    assert_eq!(e.zrank(0, b"z", b"z599", false, NOW).unwrap(), Some(0));
    assert_eq!(e.zrank(0, b"z", b"zz", false, NOW).unwrap(), Some(599));
    assert_eq!(e.zrank(0, b"z", b"z1", false, NOW).unwrap(), Some(1));
    assert_eq!(e.zscore(0, b"z", b"z0", NOW).unwrap(), None);
    // List: two popped from the head, two appended.
    let l = e.lrange(0, b"l", 0, -1, NOW).unwrap();
    assert_eq!(l.len(), 600);
    assert_eq!(l[0], b"2".to_vec());
    assert_eq!(l[598..], [b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(members(&e, b"created"), vec![b"x".to_vec(), b"y".to_vec()]);
    assert!(!e.exists(0, b"gone", NOW).unwrap());
    assert_eq!(e.dbsize(0, NOW).unwrap(), 6);
    // Tokens: a delta whose key ends without an expiry gets one, one with an expiry none.
    assert!(tokens[1].is_none());
    assert!(tokens[2].is_some() && tokens[5].is_some() && tokens[6].is_some());

    // The token of a delta's state allows a blind write of the key afterwards.
    let blind0 = e.stats().blind_writes;
    let more = ElemDelta::Set {
        add: vec![b"m2000"],
        rem: Vec::new(),
    };
    let t = tokens[2].clone().unwrap();
    e.apply_known(
        &[KeyWrite::Delta {
            db: 0,
            key: b"s",
            delta: &more,
            expire_ms: None,
        }],
        NOW,
        |_, k| (k == b"s").then_some(&t),
    )
    .unwrap();
    assert_eq!(e.stats().blind_writes, blind0 + 1);
    assert_eq!(e.scard(0, b"s", NOW).unwrap(), 601);
}

#[test]
fn an_invalid_delta_writes_nothing_of_the_unit() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    put(&e, b"h", &hash(600), false);
    put(&e, b"str", &RdbValue::String(b"old".to_vec()), true);
    let sv = RdbValue::String(b"new".to_vec());
    let hd = ElemDelta::Hash {
        set: vec![(b"f1", b"changed")],
        del: vec![b"f2"],
    };
    let nan = ElemDelta::ZSet {
        set: vec![(f64::NAN, b"m")],
        rem: Vec::new(),
    };
    let wrong = ElemDelta::Set {
        add: vec![b"m"],
        rem: Vec::new(),
    };
    let same_end = ElemDelta::List {
        pop_left: 1,
        pop_right: 0,
        push_left: vec![b"x"],
        push_right: Vec::new(),
    };
    let cases: [(&[u8], &ElemDelta<'_>, DiskError); 3] = [
        (b"z", &nan, DiskError::NanScore),
        // "h" is a hash: a set delta on it fails.
        (b"h", &wrong, DiskError::WrongType),
        (
            b"l",
            &same_end,
            DiskError::Unsupported("a list delta cannot pop and push at the same end".into()),
        ),
    ];
    for (key, bad, err) in cases {
        let mut writes = vec![KeyWrite::Put {
            db: 0,
            key: b"str",
            value: &sv,
            expire_ms: None,
            inline: true,
        }];
        if key != b"h" {
            writes.push(KeyWrite::Delta {
                db: 0,
                key: b"h",
                delta: &hd,
                expire_ms: None,
            });
        }
        writes.push(KeyWrite::Delta {
            db: 0,
            key,
            delta: bad,
            expire_ms: None,
        });
        assert_eq!(e.apply(&writes, NOW).unwrap_err(), err);
        assert_eq!(e.get(0, b"str", NOW).unwrap(), Some(b"old".to_vec()));
        let h = hmap(&e, b"h");
        assert_eq!(h.len(), 600);
        assert_eq!(h.get(&b"f1"[..]), Some(&b"1".to_vec()));
    }
    assert_eq!(e.dbsize(0, NOW).unwrap(), 2);
}

#[test]
fn deltas_on_inline_keys_and_lists_at_both_ends() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    put(&e, b"ih", &hash(3), true);
    put(&e, b"il", &list(4), true);
    put(&e, b"l", &list(5), false);
    assert_eq!(
        e.key_meta(0, b"ih", NOW).unwrap().unwrap().layout,
        Layout::Inline
    );
    let hd = ElemDelta::Hash {
        set: vec![(b"f0", b"zero"), (b"f9", b"nine")],
        del: vec![b"f1"],
    };
    let ild = ElemDelta::List {
        pop_left: 1,
        pop_right: 1,
        push_left: Vec::new(),
        push_right: Vec::new(),
    };
    let ld = ElemDelta::List {
        pop_left: 0,
        pop_right: 2,
        push_left: vec![b"x", b"y"],
        push_right: Vec::new(),
    };
    e.apply(
        &[
            KeyWrite::Delta {
                db: 0,
                key: b"ih",
                delta: &hd,
                expire_ms: None,
            },
            KeyWrite::Delta {
                db: 0,
                key: b"il",
                delta: &ild,
                expire_ms: Some(NOW + 5000),
            },
            KeyWrite::Delta {
                db: 0,
                key: b"l",
                delta: &ld,
                expire_ms: None,
            },
        ],
        NOW,
    )
    .unwrap();
    let km = e.key_meta(0, b"ih", NOW).unwrap().unwrap();
    assert_eq!(
        (km.kind, km.layout, km.len),
        (KeyType::Hash, Layout::Fields, 3)
    );
    let h = hmap(&e, b"ih");
    assert_eq!(h.get(&b"f0"[..]), Some(&b"zero".to_vec()));
    assert_eq!(h.get(&b"f9"[..]), Some(&b"nine".to_vec()));
    assert!(!h.contains_key(&b"f1"[..]));
    assert_eq!(
        e.lrange(0, b"il", 0, -1, NOW).unwrap(),
        vec![b"1".to_vec(), b"2".to_vec()]
    );
    assert_eq!(
        e.expire_time(0, b"il", NOW).unwrap(),
        Some(Some(NOW + 5000))
    );
    // LPUSH order: y is the new head.
    assert_eq!(
        e.lrange(0, b"l", 0, -1, NOW).unwrap(),
        [&b"y"[..], b"x", b"0", b"1", b"2"]
            .iter()
            .map(|v| v.to_vec())
            .collect::<Vec<_>>()
    );
    // A delta that removes nothing from a missing key writes nothing.
    let rem = ElemDelta::Hash {
        set: Vec::new(),
        del: vec![b"f"],
    };
    e.apply(
        &[KeyWrite::Delta {
            db: 0,
            key: b"missing",
            delta: &rem,
            expire_ms: None,
        }],
        NOW,
    )
    .unwrap();
    assert!(!e.exists(0, b"missing", NOW).unwrap());
    assert_eq!(e.dbsize(0, NOW).unwrap(), 3);
}

#[test]
fn many_sorted_set_deltas_keep_the_rank_index_exact() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    put(&e, b"z", &zset(2000), false);
    let mut model: BTreeMap<Vec<u8>, f64> = (0..2000)
        .map(|i| (format!("z{i}").into_bytes(), i as f64))
        .collect();
    // Enough inserts into one bucket to force rank-index splits after the commits.
    for round in 0..4 {
        let names: Vec<Vec<u8>> = (0..400)
            .map(|i| format!("n{round}-{i}").into_bytes())
            .collect();
        let set: Vec<(f64, &[u8])> = names.iter().map(|n| (10.5, n.as_slice())).collect();
        let gone: Vec<Vec<u8>> = (0..50)
            .map(|i| format!("z{}", round * 50 + i).into_bytes())
            .collect();
        let rem: Vec<&[u8]> = gone.iter().map(Vec::as_slice).collect();
        let d = ElemDelta::ZSet { set, rem };
        e.apply(
            &[KeyWrite::Delta {
                db: 0,
                key: b"z",
                delta: &d,
                expire_ms: None,
            }],
            NOW,
        )
        .unwrap();
        for n in &names {
            model.insert(n.clone(), 10.5);
        }
        for g in &gone {
            model.remove(g);
        }
    }
    let mut ordered: Vec<(Vec<u8>, f64)> = model.into_iter().collect();
    ordered.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    assert_eq!(e.zcard(0, b"z", NOW).unwrap(), ordered.len() as u64);
    for probe in [0, 1, 17, 300, 900, 1500, ordered.len() - 1] {
        let (m, _) = &ordered[probe];
        assert_eq!(
            e.zrank(0, b"z", m, false, NOW).unwrap(),
            Some(probe as u64),
            "rank of {}",
            String::from_utf8_lossy(m)
        );
    }
    let page = e.zrange_by_rank(0, b"z", 700, 709, false, NOW).unwrap();
    assert_eq!(page, ordered[700..710].to_vec());
}
