//! Whole-value API: `key_meta`, `load_value`, `apply` over both collection layouts (inline and
//! field-level), hash field TTLs, overwrites between layouts, GC of the replaced records, and
//! native element operations on keys of either layout.
#![allow(clippy::unwrap_used)] // tests may unwrap

use ferrokv_engine_disk::{
    DiskEngine, DiskError, DiskOptions, Fsync, KeyType, KeyWrite, Layout, Ttl,
};
use ferrokv_rdb::{HashField, RdbValue};

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

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn hf(f: &str, v: &str, ttl: Option<i64>) -> HashField {
    HashField {
        field: b(f),
        value: b(v),
        expire_ms: ttl,
    }
}

fn put(e: &DiskEngine, key: &[u8], v: &RdbValue, exp: Option<i64>, inline: bool) {
    e.apply(
        &[KeyWrite::Put {
            db: 0,
            key,
            value: v,
            expire_ms: exp,
            inline,
        }],
        NOW,
    )
    .unwrap();
}

/// Values whose stored order is deliberately not byte order, so order preservation shows.
fn samples() -> Vec<(&'static str, RdbValue)> {
    vec![
        ("s", RdbValue::String(b("hello"))),
        ("l", RdbValue::List(vec![b("c"), b("a"), b("b"), b("a")])),
        ("set", RdbValue::Set(vec![b("10"), b("2"), b("x"), b("1")])),
        (
            "z",
            RdbValue::ZSet(vec![
                (b("m2"), -0.0),
                (b("m1"), 1.5),
                (b("inf"), f64::INFINITY),
                (b("a"), 1.5),
            ]),
        ),
        (
            "h",
            RdbValue::Hash(vec![
                hf("zz", "1", None),
                hf("aa", "2", Some(NOW + 10_000)),
                hf("mm", "", None),
            ]),
        ),
    ]
}

/// The order field-level storage returns: list as is, zset by (score, member), others by bytes.
fn fields_order(v: &RdbValue) -> RdbValue {
    match v {
        RdbValue::ZSet(z) => {
            let mut z = z.clone();
            z.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
            RdbValue::ZSet(z)
        }
        other => other.sorted_clone(),
    }
}

#[test]
fn round_trip_every_type_in_both_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    for inline in [true, false] {
        for (k, v) in samples() {
            let key = format!("{k}-{inline}");
            put(&e, key.as_bytes(), &v, Some(NOW + 60_000), inline);
        }
    }
    let check = |e: &DiskEngine| {
        for inline in [true, false] {
            for (k, v) in samples() {
                let key = format!("{k}-{inline}");
                let (got, exp) = e.load_value(0, key.as_bytes(), NOW).unwrap().unwrap();
                assert_eq!(exp, Some(NOW + 60_000), "{key}");
                let is_str = matches!(v, RdbValue::String(_));
                if inline || is_str {
                    // Exact, including order and -0.0.
                    assert_eq!(format!("{got:?}"), format!("{v:?}"), "{key}");
                } else {
                    assert_eq!(got, fields_order(&v), "{key}");
                }
                let m = e.key_meta(0, key.as_bytes(), NOW).unwrap().unwrap();
                let want_layout = if is_str {
                    Layout::String
                } else if inline {
                    Layout::Inline
                } else {
                    Layout::Fields
                };
                assert_eq!(m.layout, want_layout, "{key}");
                assert_eq!(m.expire_ms, Some(NOW + 60_000));
                assert_eq!(m.has_field_ttl, k == "h", "{key}");
                let len = match &v {
                    RdbValue::String(s) => s.len(),
                    RdbValue::List(x) | RdbValue::Set(x) => x.len(),
                    RdbValue::ZSet(x) => x.len(),
                    RdbValue::Hash(x) => x.len(),
                    RdbValue::Stream(_) => 0,
                };
                assert_eq!(m.len, len as u64, "{key}");
                assert_eq!(
                    e.key_type(0, key.as_bytes(), NOW).unwrap(),
                    Some(m.kind),
                    "{key}"
                );
            }
        }
    };
    check(&e);
    // The snapshot sees the same values.
    let snap = e.snapshot();
    let (v, _) = snap.load_value(0, b"l-true").unwrap().unwrap();
    assert_eq!(v, samples()[1].1);
    drop(snap);
    drop(e);
    let e = open(dir.path());
    check(&e);
    // Expiry: past the deadline every key reads as absent.
    for (k, _) in samples() {
        for inline in [true, false] {
            let key = format!("{k}-{inline}");
            assert_eq!(e.key_meta(0, key.as_bytes(), NOW + 60_000).unwrap(), None);
            assert_eq!(e.load_value(0, key.as_bytes(), NOW + 60_000).unwrap(), None);
        }
    }
}

#[test]
fn hash_field_ttls_in_both_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let v = RdbValue::Hash(vec![
        hf("a", "1", Some(NOW + 100)),
        hf("b", "2", None),
        hf("c", "3", Some(NOW + 5_000)),
    ]);
    put(&e, b"hi", &v, None, true);
    put(&e, b"hf", &v, None, false);
    for key in [&b"hi"[..], b"hf"] {
        // load_value returns every field with its TTL, also past it (the caller expires).
        let (got, _) = e.load_value(0, key, NOW + 1_000).unwrap().unwrap();
        assert_eq!(got.sorted_clone(), v.sorted_clone());
    }
    // Native reads hide a field once its TTL passed (the inline key is converted on access).
    for key in [&b"hf"[..], b"hi"] {
        assert_eq!(e.hget(0, key, b"a", NOW).unwrap(), Some(b("1")));
        assert_eq!(e.hget(0, key, b"a", NOW + 100).unwrap(), None);
        assert!(!e.hexists(0, key, b"a", NOW + 100).unwrap());
        assert_eq!(
            e.hmget(0, key, &[b"a", b"b", b"c"], NOW + 100).unwrap(),
            vec![None, Some(b("2")), Some(b("3"))]
        );
        let all: Vec<_> = e
            .hgetall(0, key, NOW + 100)
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(all, vec![(b("b"), b("2")), (b("c"), b("3"))]);
        // HLEN counts fields not reclaimed yet, as Redis does.
        assert_eq!(e.hlen(0, key, NOW + 100).unwrap(), 3);
        // HSET on an expired field adds it (and clears its TTL); HDEL of an expired one is 0.
        assert_eq!(e.hset(0, key, &[(b"a", b"new")], NOW + 100).unwrap(), 1);
        assert_eq!(e.hlen(0, key, NOW + 100).unwrap(), 3);
        assert_eq!(
            e.hget(0, key, b"a", NOW + 1_000_000).unwrap(),
            Some(b("new"))
        );
        assert_eq!(e.hdel(0, key, &[b"c"], NOW + 6_000).unwrap(), 0);
        assert_eq!(e.hlen(0, key, NOW + 6_000).unwrap(), 2);
        assert_eq!(e.hincrby(0, key, b"b", 5, NOW).unwrap(), 7);
        let m = e.key_meta(0, key, NOW).unwrap().unwrap();
        assert_eq!(m.layout, Layout::Fields);
        assert!(m.has_field_ttl);
    }
}

#[test]
fn overwrite_between_layouts_hides_and_collects_old_records() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let big = RdbValue::Hash((0..1000).map(|n| hf(&format!("f{n}"), "v", None)).collect());
    let small = RdbValue::Hash(vec![hf("x", "1", None)]);
    put(&e, b"k", &big, None, false);
    assert_eq!(e.hlen(0, b"k", NOW).unwrap(), 1000);
    put(&e, b"k", &small, None, true);
    assert_eq!(
        e.key_meta(0, b"k", NOW).unwrap().unwrap().layout,
        Layout::Inline
    );
    assert_eq!(e.load_value(0, b"k", NOW).unwrap().unwrap().0, small);
    e.compact_all().unwrap();
    assert_eq!(
        e.debug_record_counts().unwrap()[1],
        0,
        "old field records dropped"
    );
    // Inline → fields → inline of another type, then a string.
    put(&e, b"k", &big, None, false);
    assert_eq!(e.hget(0, b"k", b"x", NOW).unwrap(), None);
    assert_eq!(e.hget(0, b"k", b"f7", NOW).unwrap(), Some(b("v")));
    let set = RdbValue::Set(vec![b("q")]);
    put(&e, b"k", &set, None, true);
    assert_eq!(
        e.hget(0, b"k", b"f7", NOW).unwrap_err(),
        DiskError::WrongType
    );
    assert!(e.sismember(0, b"k", b"q", NOW).unwrap());
    put(&e, b"k", &RdbValue::String(b("str")), None, true);
    assert_eq!(e.get(0, b"k", NOW).unwrap(), Some(b("str")));
    e.compact_all().unwrap();
    let counts = e.debug_record_counts().unwrap();
    assert_eq!(counts[0], 1);
    assert_eq!(counts[1], 0, "no element record survives");
    assert_eq!(counts[2], 0);
}

#[test]
fn apply_is_one_atomic_batch() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    e.set(0, b"a", b"1", Ttl::Persist, NOW).unwrap();
    e.sadd(0, b"gone", &[b"x"], NOW).unwrap();
    let l = RdbValue::List(vec![b("x"), b("y")]);
    let z = RdbValue::ZSet(vec![(b("m"), 1.0)]);
    let s2 = RdbValue::String(b("2"));
    // RENAME-like: delete one key, create two, in another db too; a repeated key: last wins.
    e.apply(
        &[
            KeyWrite::Delete {
                db: 0,
                key: b"gone",
            },
            KeyWrite::Put {
                db: 0,
                key: b"a",
                value: &l,
                expire_ms: None,
                inline: false,
            },
            KeyWrite::Put {
                db: 3,
                key: b"z",
                value: &z,
                expire_ms: Some(NOW + 1),
                inline: true,
            },
            KeyWrite::Put {
                db: 0,
                key: b"a",
                value: &s2,
                expire_ms: None,
                inline: true,
            },
        ],
        NOW,
    )
    .unwrap();
    assert!(!e.exists(0, b"gone", NOW).unwrap());
    assert_eq!(e.get(0, b"a", NOW).unwrap(), Some(b("2")));
    assert_eq!(e.zscore(3, b"z", b"m", NOW).unwrap(), Some(1.0));
    assert_eq!(e.expire_time(3, b"z", NOW).unwrap(), Some(Some(NOW + 1)));
    // An invalid write (a NaN score) rejects the whole batch.
    let st = RdbValue::ZSet(vec![(b("m"), f64::NAN)]);
    let err = e
        .apply(
            &[
                KeyWrite::Delete { db: 0, key: b"a" },
                KeyWrite::Put {
                    db: 0,
                    key: b"st",
                    value: &st,
                    expire_ms: None,
                    inline: true,
                },
            ],
            NOW,
        )
        .unwrap_err();
    assert_eq!(err, DiskError::NanScore);
    assert_eq!(e.get(0, b"a", NOW).unwrap(), Some(b("2")));
    // An empty collection deletes the key.
    let empty = RdbValue::Set(Vec::new());
    put(&e, b"a", &empty, None, true);
    assert!(!e.exists(0, b"a", NOW).unwrap());
    // The active expiry sweep finds inline keys too.
    let swept = e.expire_sweep(NOW + 5, 10).unwrap();
    assert_eq!(swept, vec![(3, b("z"))]);
}

#[test]
fn native_ops_work_on_inline_keys() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    put(
        &e,
        b"l",
        &RdbValue::List(vec![b("b"), b("c")]),
        Some(NOW + 9_000),
        true,
    );
    assert_eq!(e.llen(0, b"l", NOW).unwrap(), 2);
    assert_eq!(e.lpush(0, b"l", &[b"a"], NOW).unwrap(), 3);
    assert_eq!(e.rpush(0, b"l", &[b"d"], NOW).unwrap(), 4);
    assert_eq!(
        e.lrange(0, b"l", 0, -1, NOW).unwrap(),
        vec![b("a"), b("b"), b("c"), b("d")]
    );
    assert_eq!(e.lindex(0, b"l", -2, NOW).unwrap(), Some(b("c")));
    assert_eq!(
        e.expire_time(0, b"l", NOW).unwrap(),
        Some(Some(NOW + 9_000))
    );

    put(&e, b"s", &RdbValue::Set(vec![b("2"), b("1")]), None, true);
    assert_eq!(e.sadd(0, b"s", &[b"1", b"3"], NOW).unwrap(), 1);
    assert_eq!(e.scard(0, b"s", NOW).unwrap(), 3);
    assert_eq!(e.srem(0, b"s", &[b"2"], NOW).unwrap(), 1);

    put(
        &e,
        b"z",
        &RdbValue::ZSet(vec![(b("b"), 2.0), (b("a"), 1.0), (b("c"), 3.0)]),
        None,
        true,
    );
    assert_eq!(e.zrank(0, b"z", b"c", false, NOW).unwrap(), Some(2));
    put(
        &e,
        b"z2",
        &RdbValue::ZSet(vec![(b("b"), 2.0), (b("a"), 1.0)]),
        None,
        true,
    );
    assert_eq!(e.zadd(0, b"z2", &[(0.5, b"c")], NOW).unwrap(), 1);
    assert_eq!(
        e.zrange_by_rank(0, b"z2", 0, -1, false, NOW).unwrap(),
        vec![(b("c"), 0.5), (b("a"), 1.0), (b("b"), 2.0)]
    );
    put(
        &e,
        b"h",
        &RdbValue::Hash(vec![hf("f", "1", None)]),
        None,
        true,
    );
    assert_eq!(e.hincrby(0, b"h", b"f", 2, NOW).unwrap(), 3);
    // The whole value reflects the native writes, in field-level order now.
    assert_eq!(
        e.load_value(0, b"s", NOW).unwrap().unwrap().0,
        RdbValue::Set(vec![b("1"), b("3")])
    );
    // Snapshot readers see inline values.
    put(&e, b"i", &RdbValue::List(vec![b("y"), b("x")]), None, true);
    let snap = e.snapshot();
    assert_eq!(snap.lrange_all(0, b"i").unwrap(), vec![b("y"), b("x")]);
    let el: Vec<_> = snap
        .elements(0, b"i", KeyType::List)
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(el, vec![b("y"), b("x")]);
    drop(snap);
    // TYPE and DEL are metadata-only and keep the layout.
    assert_eq!(e.key_type(0, b"i", NOW).unwrap(), Some(KeyType::List));
    assert_eq!(
        e.key_meta(0, b"i", NOW).unwrap().unwrap().layout,
        Layout::Inline
    );
    assert!(e.del(0, b"i", NOW).unwrap());
}

#[test]
fn inline_cap_stores_big_collections_as_fields() {
    let dir = tempfile::tempdir().unwrap();
    let e = DiskEngine::open(
        dir.path(),
        DiskOptions {
            fsync: Fsync::No,
            inline_max_len: 3,
            ..DiskOptions::default()
        },
    )
    .unwrap();
    let v = RdbValue::List((0..4).map(|n| b(&n.to_string())).collect());
    put(&e, b"l", &v, None, true);
    let m = e.key_meta(0, b"l", NOW).unwrap().unwrap();
    assert_eq!(m.layout, Layout::Fields);
    assert_eq!(e.load_value(0, b"l", NOW).unwrap().unwrap().0, v);
}

/// `KeyWrite::Expire` changes only the expiry (in the same batch as other writes), is a no-op
/// for a missing key, and a field-level sorted set keeps `-0` scores through `load_value`.
#[test]
fn expire_writes_and_negative_zero_scores() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let big: Vec<(Vec<u8>, f64)> = (0..600)
        .map(|i| {
            (
                format!("m{i}").into_bytes(),
                if i == 7 { -0.0 } else { f64::from(i) },
            )
        })
        .collect();
    put(&e, b"z", &RdbValue::ZSet(big.clone()), None, false);
    e.apply(
        &[
            KeyWrite::Expire {
                db: 0,
                key: b"z",
                expire_ms: Some(NOW + 5000),
            },
            KeyWrite::Expire {
                db: 0,
                key: b"missing",
                expire_ms: Some(NOW + 5000),
            },
        ],
        NOW,
    )
    .unwrap();
    let m = e.key_meta(0, b"z", NOW).unwrap().unwrap();
    assert_eq!(m.layout, Layout::Fields);
    assert_eq!(m.expire_ms, Some(NOW + 5000));
    assert_eq!(m.len, 600);
    assert!(e.key_meta(0, b"missing", NOW).unwrap().is_none());
    let (v, exp) = e.load_value(0, b"z", NOW).unwrap().unwrap();
    assert_eq!(exp, Some(NOW + 5000));
    let RdbValue::ZSet(pairs) = v else {
        panic!("not a zset")
    };
    let m7 = pairs.iter().find(|(m, _)| m == b"m7").unwrap();
    assert!(m7.1 == 0.0 && m7.1.is_sign_negative(), "{:?}", m7.1);
    e.apply(
        &[KeyWrite::Expire {
            db: 0,
            key: b"z",
            expire_ms: None,
        }],
        NOW,
    )
    .unwrap();
    assert_eq!(e.key_meta(0, b"z", NOW).unwrap().unwrap().expire_ms, None);
}

/// `apply_tokened` returns tokens of the states it wrote (none for a key left with an expiry);
/// writing again with such a token reads nothing ("blind", counted in the stats) and keeps the
/// key counter and the expiry index exact.
#[test]
fn tokens_of_written_states_allow_blind_writes() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let s = |v: &str| RdbValue::String(b(v));
    let put_w = |v: &'static RdbValue, exp| KeyWrite::Put {
        db: 0,
        key: b"k",
        value: v,
        expire_ms: exp,
        inline: true,
    };
    let v1: &'static RdbValue = Box::leak(Box::new(s("1")));
    let v2: &'static RdbValue = Box::leak(Box::new(s("2")));
    let list: &'static RdbValue = Box::leak(Box::new(RdbValue::List(vec![b("a"), b("b")])));
    let t = e
        .apply_tokened(&[put_w(v1, None)], NOW, |_, _| None)
        .unwrap();
    assert_eq!(t.len(), 1);
    let mut tok = t
        .into_iter()
        .next()
        .unwrap()
        .expect("a token without expiry");
    assert_eq!(e.stats().blind_writes, 0);
    // Blind overwrites, of the same and of another type (inline collection).
    for v in [v2, list, v1] {
        let t = e
            .apply_tokened(&[put_w(v, None)], NOW, |_, _| Some(&tok))
            .unwrap();
        tok = t.into_iter().next().unwrap().unwrap();
    }
    assert_eq!(e.stats().blind_writes, 3);
    assert_eq!(e.dbsize(0, NOW).unwrap(), 1);
    assert_eq!(e.get(0, b"k", NOW).unwrap(), Some(b("1")));
    // A blind write that sets an expiry: indexed (the sweep finds it), and no token after.
    let t = e
        .apply_tokened(&[put_w(v2, Some(NOW + 10))], NOW, |_, _| Some(&tok))
        .unwrap();
    assert!(t[0].is_none(), "no token for a key with an expiry");
    let swept = e.expire_sweep(NOW + 20, 100).unwrap();
    assert_eq!(swept.len(), 1, "{swept:?}");
    assert_eq!(e.dbsize(0, NOW + 20).unwrap(), 0);
    // Delete gives a token of the missing key; creating it blind counts it once.
    let t = e
        .apply_tokened(&[put_w(v1, None)], NOW, |_, _| None)
        .unwrap();
    let tok = t.into_iter().next().unwrap().unwrap();
    let t = e
        .apply_tokened(&[KeyWrite::Delete { db: 0, key: b"k" }], NOW, |_, _| {
            Some(&tok)
        })
        .unwrap();
    let tok = t.into_iter().next().unwrap().unwrap();
    assert_eq!(e.dbsize(0, NOW).unwrap(), 0);
    e.apply_tokened(&[put_w(v2, None)], NOW, |_, _| Some(&tok))
        .unwrap();
    assert_eq!(e.dbsize(0, NOW).unwrap(), 1);
    assert_eq!(e.get(0, b"k", NOW).unwrap(), Some(b("2")));
    // A token of another physical database (after SWAPDB) is ignored: the record is read.
    let t = e
        .apply_tokened(&[put_w(v1, None)], NOW, |_, _| None)
        .unwrap();
    let tok = t.into_iter().next().unwrap().unwrap();
    e.swap_db(0, 1).unwrap();
    let before = e.stats().blind_writes;
    e.apply_tokened(&[put_w(v2, None)], NOW, |_, _| Some(&tok))
        .unwrap();
    assert_eq!(e.stats().blind_writes, before);
    assert_eq!(e.dbsize(0, NOW).unwrap(), 1);
    assert_eq!(e.dbsize(1, NOW).unwrap(), 1);
}

/// `KeyWrite::PutCompact` (issue #7, "disk-compact"): field-level records with the compact flag;
/// a compact list's listpack byte size follows every element write (pushes, pops, LSET, LTRIM,
/// deltas) and survives a reopen; `push_ext` / `zadd_ext` clear the flag one-way, and a compact
/// sorted set gets its rank index when it does; other writes keep the flag.
#[test]
fn compact_flag_and_listpack_bytes() {
    use ferrokv_engine::list::{lp_entry_size, LISTPACK_EMPTY_BYTES};
    let dir = tempfile::tempdir().unwrap();
    let lp = |items: &[&[u8]]| {
        (LISTPACK_EMPTY_BYTES + items.iter().map(|s| lp_entry_size(s)).sum::<usize>()) as u64
    };
    let items: Vec<Vec<u8>> = vec![b("12"), b("abc"), b(&"x".repeat(100)), b("-70000")];
    {
        let e = open(dir.path());
        let l = RdbValue::List(items.clone());
        e.apply(
            &[KeyWrite::PutCompact {
                db: 0,
                key: b"l",
                value: &l,
                expire_ms: None,
            }],
            NOW,
        )
        .unwrap();
        let km = e.key_meta(0, b"l", NOW).unwrap().unwrap();
        assert_eq!(km.layout, Layout::Fields);
        assert!(km.compact);
        let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
        assert_eq!(km.listpack_bytes, lp(&refs));
        // Pushes and pops follow the elements.
        e.lpush(0, b"l", &[b"9", b"hello"], NOW).unwrap();
        assert_eq!(e.rpop(0, b"l", 1, NOW).unwrap(), vec![b("-70000")]);
        e.lset(0, b"l", 1, &"y".repeat(70).into_bytes(), NOW)
            .unwrap();
        let now_items = e.lrange(0, b"l", 0, -1, NOW).unwrap();
        let refs: Vec<&[u8]> = now_items.iter().map(Vec::as_slice).collect();
        let km = e.key_meta(0, b"l", NOW).unwrap().unwrap();
        assert!(km.compact);
        assert_eq!(km.listpack_bytes, lp(&refs));
        e.ltrim(0, b"l", 1, -2, NOW).unwrap();
        let d = ferrokv_engine_disk::ElemDelta::List {
            pop_left: 1,
            pop_right: 0,
            push_left: Vec::new(),
            push_right: vec![b"tail", b"123456789012"],
        };
        e.apply(
            &[KeyWrite::Delta {
                db: 0,
                key: b"l",
                delta: &d,
                expire_ms: None,
            }],
            NOW,
        )
        .unwrap();
        let z = RdbValue::ZSet(vec![(b("a"), 1.0), (b("b"), 2.0)]);
        e.apply(
            &[KeyWrite::PutCompact {
                db: 0,
                key: b"z",
                value: &z,
                expire_ms: None,
            }],
            NOW,
        )
        .unwrap();
        e.zadd(0, b"z", &[(3.0, b"c")], NOW).unwrap();
        assert!(e.key_meta(0, b"z", NOW).unwrap().unwrap().compact);
        assert_eq!(e.zrank(0, b"z", b"c", false, NOW).unwrap(), Some(2));
    }
    // Reopened: the byte size is the stored one, and still exact.
    let e = open(dir.path());
    let now_items = e.lrange(0, b"l", 0, -1, NOW).unwrap();
    let refs: Vec<&[u8]> = now_items.iter().map(Vec::as_slice).collect();
    let km = e.key_meta(0, b"l", NOW).unwrap().unwrap();
    assert!(km.compact);
    assert_eq!(km.listpack_bytes, lp(&refs));
    assert_eq!(
        e.load_value(0, b"l", NOW).unwrap().unwrap().0,
        RdbValue::List(now_items.clone())
    );
    // Clearing is one-way and happens in the element write's batch.
    assert_eq!(
        e.push_ext(0, b"l", &[b"more"], false, NOW, true).unwrap(),
        refs.len() as u64 + 1
    );
    let km = e.key_meta(0, b"l", NOW).unwrap().unwrap();
    assert!(!km.compact);
    assert_eq!(km.listpack_bytes, 0);
    e.rpush(0, b"l", &[b"x"], NOW).unwrap();
    assert!(!e.key_meta(0, b"l", NOW).unwrap().unwrap().compact);
    // A sorted set: the index is built when the flag clears; ranks stay right after.
    assert!(e.key_meta(0, b"z", NOW).unwrap().unwrap().compact);
    e.zadd_ext(0, b"z", &[(0.5, b"first")], NOW, true).unwrap();
    assert!(!e.key_meta(0, b"z", NOW).unwrap().unwrap().compact);
    for (m, r) in [(&b"first"[..], 0), (b"a", 1), (b"b", 2), (b"c", 3)] {
        assert_eq!(e.zrank(0, b"z", m, false, NOW).unwrap(), Some(r));
    }
    e.zadd(0, b"z", &[(2.5, b"d")], NOW).unwrap();
    assert_eq!(e.zrank(0, b"z", b"c", false, NOW).unwrap(), Some(4));
    assert_eq!(e.zrank(0, b"z", b"c", true, NOW).unwrap(), Some(0));
    // A plain Put replaces a compact key by a non-compact one.
    let l = RdbValue::List(vec![b("q")]);
    e.apply(
        &[KeyWrite::PutCompact {
            db: 0,
            key: b"l2",
            value: &l,
            expire_ms: None,
        }],
        NOW,
    )
    .unwrap();
    put(&e, b"l2", &l, None, false);
    assert!(!e.key_meta(0, b"l2", NOW).unwrap().unwrap().compact);
}

/// `zadd_known` / `zscore_known` (issue #7, "diskz"): with the metadata token and the stored
/// scores the caller read, a ZADD leaves exactly what `zadd_ext` leaves (members, scores,
/// count, rank index through several bucket splits); a token that does not describe the key
/// in this physical database (after SWAPDB) is ignored and everything is read again.
#[test]
fn zadd_known_matches_zadd_ext() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let names: Vec<Vec<u8>> = (0..900).map(|i| format!("m{i:04}").into_bytes()).collect();
    let seed: Vec<(f64, &[u8])> = names[..300].iter().map(|m| (1.0, &m[..])).collect();
    for k in [&b"a"[..], b"b"] {
        e.zadd(0, k, &seed, NOW).unwrap();
    }
    // New members, score updates, unchanged scores, a duplicate in one call, -0 after 0.
    let mut calls: Vec<Vec<(f64, &[u8])>> = Vec::new();
    for (i, m) in names.iter().enumerate() {
        calls.push(vec![((i % 7) as f64, &m[..])]);
    }
    for m in names.iter().step_by(3) {
        calls.push(vec![(-1.5, &m[..]), (2.5, &names[0][..]), (-1.5, &m[..])]);
    }
    calls.push(vec![(0.0, &names[5][..])]);
    calls.push(vec![(-0.0, &names[5][..])]);
    for items in &calls {
        let (_, tok) = e.key_meta_with_token(0, b"a", NOW).unwrap();
        let tok = tok.unwrap();
        let prev: Vec<Option<f64>> = items
            .iter()
            .map(|(_, m)| e.zscore_known(0, b"a", &tok, m, NOW).unwrap())
            .collect();
        let got = e
            .zadd_known(0, b"a", &tok, items, &prev, NOW, false)
            .unwrap();
        assert_eq!(got, e.zadd_ext(0, b"b", items, NOW, false).unwrap());
    }
    let (va, vb) = (
        e.load_value(0, b"a", NOW).unwrap(),
        e.load_value(0, b"b", NOW).unwrap(),
    );
    assert_eq!(va, vb);
    assert_eq!(e.zcard(0, b"a", NOW).unwrap(), 900);
    for m in names.iter().step_by(37) {
        for rev in [false, true] {
            let ra = e.zrank(0, b"a", m, rev, NOW).unwrap();
            assert!(ra.is_some());
            assert_eq!(ra, e.zrank(0, b"b", m, rev, NOW).unwrap());
        }
    }
    // A stale token (SWAPDB since): `prev` is not trusted, the member is found stored.
    let (_, tok) = e.key_meta_with_token(0, b"a", NOW).unwrap();
    let tok = tok.unwrap();
    e.swap_db(0, 1).unwrap();
    e.zadd(0, b"a", &[(9.0, b"x")], NOW).unwrap();
    assert_eq!(e.zscore_known(0, b"a", &tok, b"x", NOW).unwrap(), Some(9.0));
    assert_eq!(
        e.zadd_known(0, b"a", &tok, &[(10.0, b"x")], &[None], NOW, false)
            .unwrap(),
        0
    );
    assert_eq!(e.zcard(0, b"a", NOW).unwrap(), 1);
    assert_eq!(e.zscore(0, b"a", b"x", NOW).unwrap(), Some(10.0));
}
