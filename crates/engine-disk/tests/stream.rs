//! Streams on the disk engine: whole-value round trips (entries, IDs, groups, PELs, consumers)
//! through `apply`/`load_value` and a reopen; native XADD/XRANGE/XDEL/XTRIM semantics against
//! hand-computed expectations; O(1) DEL of a big stream and its GC; per-entry cost that does
//! not grow with the stream.
#![allow(clippy::unwrap_used)] // tests may unwrap

use ferrokv_engine_disk::{
    DiskEngine, DiskError, DiskOptions, Fsync, KeyType, KeyWrite, Layout, StreamTrim, Ttl, XAddId,
    XAddOptions,
};
use ferrokv_rdb::{
    RdbValue, Stream, StreamConsumer, StreamEntry, StreamGroup, StreamId, StreamPending,
};
use std::time::{Duration, Instant};

const NOW: i64 = 1_700_000_000_000;

fn open(dir: &std::path::Path) -> DiskEngine {
    DiskEngine::open(
        dir,
        DiskOptions {
            fsync: Fsync::No,
            cache_bytes: 8 << 20,
            memtable_bytes: 8 << 20,
            ..DiskOptions::default()
        },
    )
    .unwrap()
}

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId { ms, seq }
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn entry(ms: u64, seq: u64, fields: &[(&str, &str)]) -> StreamEntry {
    StreamEntry {
        id: id(ms, seq),
        fields: fields.iter().map(|(f, v)| (b(f), b(v))).collect(),
    }
}

fn put(e: &DiskEngine, key: &[u8], v: &RdbValue, exp: Option<i64>) {
    e.apply(
        &[KeyWrite::Put {
            db: 0,
            key,
            value: v,
            expire_ms: exp,
            inline: true,
        }],
        NOW,
    )
    .unwrap();
}

fn xadd(
    e: &DiskEngine,
    key: &[u8],
    i: XAddId,
    f: &[(&[u8], &[u8])],
) -> Result<StreamId, DiskError> {
    e.xadd(0, key, i, f, XAddOptions::default(), NOW)
        .map(|o| o.unwrap())
}

fn ids(v: &[StreamEntry]) -> Vec<StreamId> {
    v.iter().map(|e| e.id).collect()
}

/// A stream with everything Redis persists: deleted entries (last_id beyond the last entry,
/// max_deleted_id), two groups (one with a PEL entry for a deleted ID and consumers owning
/// PEL entries, one empty), consumers with and without an active time.
fn rich() -> Stream {
    Stream {
        entries: vec![
            entry(5, 0, &[("a", "1"), ("b", "")]),
            entry(5, 1, &[("a", "2"), ("a", "dup"), ("", "empty field")]),
            entry(9, 3, &[("x", "y")]),
        ],
        last_id: id(12, 0),
        first_id: id(5, 0),
        max_deleted_id: id(12, 0),
        entries_added: 6,
        groups: vec![
            StreamGroup {
                name: b("g1"),
                last_id: id(9, 3),
                entries_read: Some(5),
                pending: vec![
                    StreamPending {
                        id: id(5, 0),
                        delivery_time_ms: NOW - 10,
                        delivery_count: 2,
                    },
                    StreamPending {
                        id: id(7, 0), // deleted since delivery
                        delivery_time_ms: NOW - 5,
                        delivery_count: 1,
                    },
                    StreamPending {
                        id: id(9, 3),
                        delivery_time_ms: NOW,
                        delivery_count: 7,
                    },
                ],
                consumers: vec![
                    StreamConsumer {
                        name: b("alice"),
                        seen_time_ms: NOW - 1,
                        active_time_ms: Some(NOW - 2),
                        pending: vec![id(5, 0), id(9, 3)],
                    },
                    StreamConsumer {
                        name: b("bob"),
                        seen_time_ms: NOW - 3,
                        active_time_ms: None,
                        pending: vec![id(7, 0)],
                    },
                    StreamConsumer {
                        name: b("idle"),
                        seen_time_ms: 0,
                        active_time_ms: Some(-1),
                        pending: vec![],
                    },
                ],
            },
            StreamGroup {
                name: b("g2"),
                last_id: id(0, 0),
                entries_read: None,
                pending: vec![],
                consumers: vec![],
            },
        ],
    }
}

/// An empty stream (every entry deleted) that still has a group.
fn empty_with_group() -> Stream {
    Stream {
        entries: vec![],
        last_id: id(3, 3),
        first_id: id(0, 0),
        max_deleted_id: id(3, 3),
        entries_added: 4,
        groups: vec![StreamGroup {
            name: b("only"),
            last_id: id(3, 3),
            entries_read: Some(4),
            pending: vec![StreamPending {
                id: id(3, 3),
                delivery_time_ms: 12,
                delivery_count: 1,
            }],
            consumers: vec![StreamConsumer {
                name: b("c"),
                seen_time_ms: 13,
                active_time_ms: Some(12),
                pending: vec![id(3, 3)],
            }],
        }],
    }
}

#[test]
fn rich_streams_round_trip_through_apply_load_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let samples = [
        ("rich", RdbValue::Stream(Box::new(rich()))),
        ("empty", RdbValue::Stream(Box::new(empty_with_group()))),
        ("bare", RdbValue::Stream(Box::default())),
    ];
    let check = |e: &DiskEngine| {
        for (k, v) in &samples {
            let (got, exp) = e.load_value(0, k.as_bytes(), NOW).unwrap().unwrap();
            assert_eq!(&got, v, "{k}");
            assert_eq!(exp, Some(NOW + 60_000));
            let m = e.key_meta(0, k.as_bytes(), NOW).unwrap().unwrap();
            assert_eq!(m.kind, KeyType::Stream);
            assert_eq!(m.layout, Layout::Fields);
            let RdbValue::Stream(s) = v else {
                unreachable!()
            };
            assert_eq!(m.len, s.entries.len() as u64, "{k}");
            assert_eq!(e.xlen(0, k.as_bytes(), NOW).unwrap(), m.len);
            assert_eq!(
                e.key_type(0, k.as_bytes(), NOW).unwrap(),
                Some(KeyType::Stream)
            );
        }
        let snap = e.snapshot();
        let (got, _) = snap.load_value(0, b"rich").unwrap().unwrap();
        assert_eq!(got, samples[0].1);
        let (_, keys) = e.scan(0, 0, 100, None, Some(KeyType::Stream), NOW).unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(KeyType::Stream.name(), "stream");
    };
    {
        let e = open(dir.path());
        for (k, v) in &samples {
            put(&e, k.as_bytes(), v, Some(NOW + 60_000));
        }
        check(&e);
        let info = e.stream_info(0, b"rich", NOW).unwrap().unwrap();
        assert_eq!(info.length, 3);
        assert_eq!(info.last_id, id(12, 0));
        assert_eq!(info.first_id, id(5, 0));
        assert_eq!(info.max_deleted_id, id(12, 0));
        assert_eq!(info.entries_added, 6);
        assert_eq!(info.groups, 2);
        assert_eq!(info.first_entry.unwrap(), rich().entries[0]);
        assert_eq!(info.last_entry.unwrap(), rich().entries[2]);
        let info = e.stream_info(0, b"empty", NOW).unwrap().unwrap();
        assert_eq!(
            (info.length, info.first_entry, info.last_entry),
            (0, None, None)
        );
    }
    let e = open(dir.path());
    check(&e);
    // Native ops after the reopen continue from the stored metadata.
    assert_eq!(
        xadd(&e, b"rich", XAddId::Explicit(id(12, 0)), &[(b"f", b"v")]),
        Err(DiskError::StreamIdTooSmall)
    );
    assert_eq!(
        xadd(&e, b"rich", XAddId::AutoSeq(12), &[(b"f", b"v")]),
        Ok(id(12, 1))
    );
    let (got, _) = e.load_value(0, b"rich", NOW).unwrap().unwrap();
    let RdbValue::Stream(s) = got else { panic!() };
    assert_eq!(s.entries.len(), 4);
    assert_eq!(s.entries_added, 7);
    assert_eq!(s.groups, rich().groups, "groups untouched by XADD");
    // An expired stream reads as absent.
    assert_eq!(e.xlen(0, b"rich", NOW + 60_000).unwrap(), 0);
    assert!(e.load_value(0, b"rich", NOW + 60_000).unwrap().is_none());
}

#[test]
fn duplicate_ids_and_names_in_a_put_keep_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let mut s = rich();
    s.entries.push(entry(5, 0, &[("a", "again")]));
    s.groups.push(StreamGroup {
        name: b("g2"),
        last_id: id(1, 1),
        entries_read: Some(1),
        pending: vec![],
        consumers: vec![],
    });
    put(&e, b"s", &RdbValue::Stream(Box::new(s)), None);
    let (got, _) = e.load_value(0, b"s", NOW).unwrap().unwrap();
    let RdbValue::Stream(got) = got else { panic!() };
    assert_eq!(got.entries.len(), 3);
    assert_eq!(got.entries[0], entry(5, 0, &[("a", "again")]));
    assert_eq!(got.groups.len(), 2);
    assert_eq!(got.groups[1].last_id, id(1, 1));
    assert_eq!(e.stream_info(0, b"s", NOW).unwrap().unwrap().groups, 2);
}

#[test]
fn xadd_follows_redis_id_rules() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let f: &[(&[u8], &[u8])] = &[(b"f", b"v")];
    // 0-0 is refused before the key is looked up (no key is created).
    assert_eq!(
        xadd(&e, b"s", XAddId::Explicit(id(0, 0)), f),
        Err(DiskError::StreamIdZero)
    );
    assert!(!e.exists(0, b"s", NOW).unwrap());
    assert_eq!(
        DiskError::StreamIdZero.to_string(),
        "ERR The ID specified in XADD must be greater than 0-0"
    );
    // NOMKSTREAM on a missing key: nothing.
    let nomk = XAddOptions {
        nomkstream: true,
        ..XAddOptions::default()
    };
    assert_eq!(e.xadd(0, b"s", XAddId::Auto, f, nomk, NOW).unwrap(), None);
    assert!(!e.exists(0, b"s", NOW).unwrap());
    // <ms>-* on a new stream with ms 0 starts at 0-1.
    assert_eq!(xadd(&e, b"z", XAddId::AutoSeq(0), f), Ok(id(0, 1)));
    assert_eq!(xadd(&e, b"s", XAddId::Explicit(id(1, 1)), f), Ok(id(1, 1)));
    assert_eq!(
        e.xadd(0, b"s", XAddId::Auto, f, nomk, NOW).unwrap(),
        Some(id(NOW as u64, 0))
    );
    e.del(0, b"s", NOW).unwrap();
    assert_eq!(xadd(&e, b"s", XAddId::Explicit(id(1, 1)), f), Ok(id(1, 1)));
    for bad in [id(1, 1), id(1, 0), id(0, 9)] {
        assert_eq!(
            xadd(&e, b"s", XAddId::Explicit(bad), f),
            Err(DiskError::StreamIdTooSmall),
            "{bad:?}"
        );
    }
    assert_eq!(
        DiskError::StreamIdTooSmall.to_string(),
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    );
    assert_eq!(xadd(&e, b"s", XAddId::AutoSeq(1), f), Ok(id(1, 2)));
    assert_eq!(
        xadd(&e, b"s", XAddId::AutoSeq(0), f),
        Err(DiskError::StreamIdTooSmall)
    );
    assert_eq!(xadd(&e, b"s", XAddId::AutoSeq(5), f), Ok(id(5, 0)));
    // `*` with the clock behind the last ID: last ID + 1.
    let r = e.xadd(0, b"s", XAddId::Auto, f, XAddOptions::default(), 3);
    assert_eq!(r.unwrap(), Some(id(5, 1)));
    let r = e.xadd(0, b"s", XAddId::Auto, f, XAddOptions::default(), 10);
    assert_eq!(r.unwrap(), Some(id(10, 0)));
    let r = e.xadd(0, b"s", XAddId::Auto, f, XAddOptions::default(), 10);
    assert_eq!(r.unwrap(), Some(id(10, 1)));
    // Sequence overflow of <ms>-*.
    assert_eq!(
        xadd(&e, b"s", XAddId::Explicit(id(10, u64::MAX)), f),
        Ok(id(10, u64::MAX))
    );
    // (redis-server 7.0.15 answers this one with its "too large" error.)
    assert_eq!(
        xadd(&e, b"s", XAddId::AutoSeq(10), f),
        Err(DiskError::StreamSeqOverflow)
    );
    assert_eq!(
        DiskError::StreamSeqOverflow.to_string(),
        "ERR Elements are too large to be stored"
    );
    let r = e.xadd(0, b"s", XAddId::Auto, f, XAddOptions::default(), 10);
    assert_eq!(r.unwrap(), Some(id(11, 0)));
    // The last possible ID, then nothing more.
    let max = id(u64::MAX, u64::MAX);
    assert_eq!(xadd(&e, b"s", XAddId::Explicit(max), f), Ok(max));
    for i in [
        XAddId::Auto,
        XAddId::AutoSeq(u64::MAX),
        XAddId::Explicit(max),
    ] {
        assert_eq!(xadd(&e, b"s", i, f), Err(DiskError::StreamExhausted));
    }
    assert_eq!(
        DiskError::StreamExhausted.to_string(),
        "ERR The stream has exhausted the last possible ID, unable to add more items"
    );
    let info = e.stream_info(0, b"s", NOW).unwrap().unwrap();
    // 1-1 1-2 5-0 5-1 10-0 10-1 10-max 11-0 max-max
    assert_eq!(info.length, 9);
    assert_eq!(info.entries_added, 9);
    assert_eq!(info.first_id, id(1, 1));
    assert_eq!(info.last_id, max);
    assert_eq!(info.last_entry.unwrap().id, max);
    // Wrong type.
    e.set(0, b"str", b"x", Ttl::Persist, NOW).unwrap();
    assert_eq!(xadd(&e, b"str", XAddId::Auto, f), Err(DiskError::WrongType));
    assert_eq!(e.xlen(0, b"str", NOW), Err(DiskError::WrongType));
    assert_eq!(e.xlen(0, b"missing", NOW), Ok(0));
    // Fields are kept in order, duplicates and empty strings included.
    let ff: &[(&[u8], &[u8])] = &[(b"b", b"1"), (b"a", b""), (b"b", b"2")];
    xadd(&e, b"fields", XAddId::Explicit(id(1, 0)), ff).unwrap();
    let got = e
        .xrange(0, b"fields", id(0, 0), max, None, false, NOW)
        .unwrap();
    assert_eq!(got, vec![entry(1, 0, &[("b", "1"), ("a", ""), ("b", "2")])]);
}

fn filled(e: &DiskEngine, key: &[u8], n: u64) {
    for i in 1..=n {
        let v = i.to_string();
        xadd(e, key, XAddId::Explicit(id(i, 0)), &[(b"n", v.as_bytes())]).unwrap();
    }
}

#[test]
fn xrange_bounds_count_and_reverse() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    filled(&e, b"s", 10);
    let all = |s, t, c, rev| ids(&e.xrange(0, b"s", s, t, c, rev, NOW).unwrap());
    let max = id(u64::MAX, u64::MAX);
    assert_eq!(all(id(0, 0), max, None, false).len(), 10);
    assert_eq!(
        all(id(3, 0), id(5, 0), None, false),
        vec![id(3, 0), id(4, 0), id(5, 0)]
    );
    // Bounds are inclusive, and an ID between entries works.
    assert_eq!(
        all(id(3, 1), id(5, 0), None, false),
        vec![id(4, 0), id(5, 0)]
    );
    assert_eq!(
        all(id(3, 0), id(4, u64::MAX), None, false),
        vec![id(3, 0), id(4, 0)]
    );
    assert_eq!(
        all(id(3, 0), id(9, 0), Some(2), false),
        vec![id(3, 0), id(4, 0)]
    );
    assert_eq!(
        all(id(3, 0), id(9, 0), Some(2), true),
        vec![id(9, 0), id(8, 0)]
    );
    assert_eq!(all(id(0, 0), max, None, true).first(), Some(&id(10, 0)));
    assert!(all(id(5, 0), id(3, 0), None, false).is_empty());
    assert!(all(id(0, 0), max, Some(0), false).is_empty());
    assert!(all(id(11, 0), max, None, false).is_empty());
    let one = e
        .xrange(0, b"s", id(7, 0), id(7, 0), None, false, NOW)
        .unwrap();
    assert_eq!(one, vec![entry(7, 0, &[("n", "7")])]);
    assert!(e
        .xrange(0, b"missing", id(0, 0), max, None, false, NOW)
        .unwrap()
        .is_empty());
}

#[test]
fn xdel_updates_first_id_and_max_deleted_and_keeps_empty_streams() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    filled(&e, b"s", 5);
    let info = |e: &DiskEngine| e.stream_info(0, b"s", NOW).unwrap().unwrap();
    // Deleting a middle entry: first_id stays.
    assert_eq!(e.xdel(0, b"s", &[id(2, 0)], NOW).unwrap(), 1);
    assert_eq!(info(&e).first_id, id(1, 0));
    assert_eq!(info(&e).max_deleted_id, id(2, 0));
    // Deleting the first entry (repeated, plus a missing ID): the next live entry.
    assert_eq!(
        e.xdel(0, b"s", &[id(1, 0), id(1, 0), id(2, 0), id(99, 0)], NOW)
            .unwrap(),
        1
    );
    let i = info(&e);
    assert_eq!(
        (i.length, i.first_id, i.max_deleted_id),
        (3, id(3, 0), id(2, 0))
    );
    assert_eq!(i.first_entry.unwrap().id, id(3, 0));
    // A smaller deleted ID does not lower max_deleted_id; first + next together.
    assert_eq!(e.xdel(0, b"s", &[id(4, 0), id(3, 0)], NOW).unwrap(), 2);
    let i = info(&e);
    assert_eq!(
        (i.length, i.first_id, i.max_deleted_id),
        (1, id(5, 0), id(4, 0))
    );
    // The last entry: the stream stays, empty, with first_id 0-0.
    assert_eq!(e.xdel(0, b"s", &[id(5, 0)], NOW).unwrap(), 1);
    let i = info(&e);
    assert_eq!(
        (
            i.length,
            i.first_id,
            i.max_deleted_id,
            i.last_id,
            i.entries_added
        ),
        (0, id(0, 0), id(5, 0), id(5, 0), 5)
    );
    assert!(e.exists(0, b"s", NOW).unwrap());
    assert_eq!(e.xdel(0, b"s", &[id(5, 0)], NOW).unwrap(), 0);
    assert_eq!(e.xdel(0, b"missing", &[id(5, 0)], NOW).unwrap(), 0);
    // Adding to an emptied stream: IDs still grow from last_id; first_id is the new entry.
    assert_eq!(
        xadd(&e, b"s", XAddId::Explicit(id(5, 0)), &[(b"a", b"b")]),
        Err(DiskError::StreamIdTooSmall)
    );
    assert_eq!(
        xadd(&e, b"s", XAddId::AutoSeq(5), &[(b"a", b"b")]),
        Ok(id(5, 1))
    );
    assert_eq!(info(&e).first_id, id(5, 1));
    // The whole value agrees with the native view.
    let (v, _) = e.load_value(0, b"s", NOW).unwrap().unwrap();
    let RdbValue::Stream(s) = v else { panic!() };
    assert_eq!(
        (
            s.first_id,
            s.max_deleted_id,
            s.entries_added,
            s.entries.len()
        ),
        (id(5, 1), id(5, 0), 6, 1)
    );
}

#[test]
fn xtrim_and_xadd_trimming() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    filled(&e, b"s", 10);
    let info = |e: &DiskEngine| e.stream_info(0, b"s", NOW).unwrap().unwrap();
    assert_eq!(e.xtrim_maxlen(0, b"s", 20, NOW).unwrap(), 0);
    assert_eq!(e.xtrim_maxlen(0, b"s", 7, NOW).unwrap(), 3);
    let i = info(&e);
    assert_eq!(
        (i.length, i.first_id, i.max_deleted_id),
        (7, id(4, 0), id(0, 0))
    );
    assert_eq!(e.xtrim_minid(0, b"s", id(6, 0), NOW).unwrap(), 2);
    assert_eq!(info(&e).first_id, id(6, 0));
    assert_eq!(e.xtrim_minid(0, b"s", id(6, 0), NOW).unwrap(), 0);
    // LIMIT caps the removal.
    assert_eq!(
        e.xtrim(0, b"s", StreamTrim::MaxLen(0), Some(2), NOW)
            .unwrap(),
        2
    );
    assert_eq!(info(&e).first_id, id(8, 0));
    assert_eq!(
        ids(&e
            .xrange(0, b"s", id(0, 0), id(99, 0), None, false, NOW)
            .unwrap()),
        vec![id(8, 0), id(9, 0), id(10, 0)]
    );
    // XADD with MAXLEN trims in the same batch.
    let opts = XAddOptions {
        trim: Some(StreamTrim::MaxLen(2)),
        ..XAddOptions::default()
    };
    let r = e.xadd(
        0,
        b"s",
        XAddId::Explicit(id(11, 0)),
        &[(b"n", b"11")],
        opts,
        NOW,
    );
    assert_eq!(r.unwrap(), Some(id(11, 0)));
    let i = info(&e);
    assert_eq!((i.length, i.first_id, i.entries_added), (2, id(10, 0), 11));
    // MAXLEN 0 trims the new entry too: its ID is returned, the stream stays, empty.
    let opts = XAddOptions {
        trim: Some(StreamTrim::MaxLen(0)),
        ..XAddOptions::default()
    };
    let r = e.xadd(
        0,
        b"s",
        XAddId::Explicit(id(12, 0)),
        &[(b"n", b"12")],
        opts,
        NOW,
    );
    assert_eq!(r.unwrap(), Some(id(12, 0)));
    let i = info(&e);
    assert_eq!(
        (
            i.length,
            i.first_id,
            i.last_id,
            i.entries_added,
            i.last_entry
        ),
        (0, id(0, 0), id(12, 0), 12, None)
    );
    assert_eq!(e.key_meta(0, b"s", NOW).unwrap().unwrap().len, 0);
    // MINID above the new entry with a limit that stops first: the new entry stays.
    filled(&e, b"t", 3);
    let opts = XAddOptions {
        trim: Some(StreamTrim::MinId(id(100, 0))),
        trim_limit: Some(2),
        ..XAddOptions::default()
    };
    let r = e.xadd(
        0,
        b"t",
        XAddId::Explicit(id(50, 0)),
        &[(b"n", b"50")],
        opts,
        NOW,
    );
    assert_eq!(r.unwrap(), Some(id(50, 0)));
    assert_eq!(
        ids(&e
            .xrange(0, b"t", id(0, 0), id(99, 0), None, false, NOW)
            .unwrap()),
        vec![id(3, 0), id(50, 0)]
    );
    assert_eq!(
        e.xtrim(0, b"missing", StreamTrim::MaxLen(0), None, NOW)
            .unwrap(),
        0
    );
}

/// A stream of `n` entries written in one `apply` (fast bulk load for the big-stream tests).
fn bulk(e: &DiskEngine, key: &[u8], n: u64) {
    let s = Stream {
        entries: (1..=n)
            .map(|i| StreamEntry {
                id: id(i, 0),
                fields: vec![(b("field"), format!("value-{i}").into_bytes())],
            })
            .collect(),
        last_id: id(n, 0),
        first_id: id(1, 0),
        max_deleted_id: id(0, 0),
        entries_added: n,
        groups: empty_with_group().groups,
    };
    put(e, key, &RdbValue::Stream(Box::new(s)), None);
}

#[test]
fn del_of_a_big_stream_is_constant_time_and_compaction_reclaims_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    bulk(&e, b"big", 200_000);
    filled(&e, b"keep", 10);
    assert_eq!(e.xlen(0, b"big", NOW).unwrap(), 200_000);
    let before = e.debug_record_counts().unwrap();
    assert!(before[1] >= 200_010, "{before:?}");
    let t = Instant::now();
    assert!(e.del(0, b"big", NOW).unwrap());
    let took = t.elapsed();
    assert!(
        took.as_millis() < 50,
        "DEL of a 200k-entry stream took {took:?}"
    );
    assert!(!e.exists(0, b"big", NOW).unwrap());
    // Re-create: a new incarnation, nothing old visible.
    xadd(&e, b"big", XAddId::Explicit(id(7, 0)), &[(b"a", b"b")]).unwrap();
    assert_eq!(
        ids(&e
            .xrange(
                0,
                b"big",
                id(0, 0),
                id(u64::MAX, u64::MAX),
                None,
                false,
                NOW
            )
            .unwrap()),
        vec![id(7, 0)]
    );
    e.compact_all().unwrap();
    let after = e.debug_record_counts().unwrap();
    assert_eq!(after[1], 11, "stale entries must be gone: {after:?}");
    // The group records (zscore keyspace) of the dead incarnation went too.
    assert_eq!(after[2], 0, "stale group records must be gone: {after:?}");
    assert!(e.stats().gc_dropped >= 200_000);
    assert_eq!(e.xlen(0, b"keep", NOW).unwrap(), 10);
    // An overwrite by another type leaves the stream's records to the GC as well.
    bulk(&e, b"big2", 1000);
    e.set(0, b"big2", b"now a string", Ttl::Persist, NOW)
        .unwrap();
    e.compact_all().unwrap();
    assert_eq!(e.debug_record_counts().unwrap()[1], 11);
    assert_eq!(e.debug_record_counts().unwrap()[2], 0);
}

/// Median time of `f` over `n` calls.
fn median(n: usize, mut f: impl FnMut(usize)) -> Duration {
    let mut t: Vec<Duration> = (0..n)
        .map(|i| {
            let s = Instant::now();
            f(i);
            s.elapsed()
        })
        .collect();
    t.sort();
    t[n / 2]
}

#[test]
fn xadd_and_xrange_cost_does_not_grow_with_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let mut res = Vec::new();
    for (key, n) in [(&b"small"[..], 10_000u64), (&b"large"[..], 200_000)] {
        bulk(&e, key, n);
        let add = median(300, |i| {
            let r = e.xadd(
                0,
                key,
                XAddId::Explicit(id(n + 1 + i as u64, 0)),
                &[(b"f", b"v")],
                XAddOptions::default(),
                NOW,
            );
            assert!(r.is_ok());
        });
        let range = median(300, |i| {
            let at = id(1 + (i as u64 * 7919) % n, 0);
            assert_eq!(e.xrange(0, key, at, at, None, false, NOW).unwrap().len(), 1);
        });
        let trim = median(100, |_| {
            assert_eq!(
                e.xtrim(0, key, StreamTrim::MaxLen(0), Some(1), NOW)
                    .unwrap(),
                1
            );
        });
        res.push((add, range, trim));
    }
    let (small, large) = (res[0], res[1]);
    eprintln!("xadd/xrange/xtrim-1 median: 10k {small:?}, 200k {large:?}");
    let bound = |a: Duration| a * 5 + Duration::from_micros(500);
    assert!(
        large.0 < bound(small.0),
        "XADD grows: {small:?} vs {large:?}"
    );
    assert!(
        large.1 < bound(small.1),
        "XRANGE grows: {small:?} vs {large:?}"
    );
    assert!(
        large.2 < bound(small.2),
        "XTRIM grows: {small:?} vs {large:?}"
    );
}

/// An entry's field/value pairs.
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// The reference: Redis's stream rules on a `BTreeMap`.
#[derive(Default)]
struct Model {
    entries: std::collections::BTreeMap<StreamId, Fields>,
    last_id: StreamId,
    first_id: StreamId,
    max_deleted_id: StreamId,
    entries_added: u64,
}

impl Model {
    fn add(&mut self, i: XAddId, now: u64) -> Result<StreamId, DiskError> {
        let max = id(u64::MAX, u64::MAX);
        if i == XAddId::Explicit(id(0, 0)) {
            return Err(DiskError::StreamIdZero);
        }
        if self.last_id == max {
            return Err(DiskError::StreamExhausted);
        }
        let l = self.last_id;
        let new = match i {
            XAddId::Auto if now > l.ms => id(now, 0),
            XAddId::Auto if l.seq == u64::MAX => id(l.ms + 1, 0),
            XAddId::Auto => id(l.ms, l.seq + 1),
            XAddId::AutoSeq(ms) if ms == l.ms && l.seq == u64::MAX => {
                return Err(DiskError::StreamSeqOverflow)
            }
            XAddId::AutoSeq(ms) if ms == l.ms => id(ms, l.seq + 1),
            XAddId::AutoSeq(ms) => id(ms, 0),
            XAddId::Explicit(x) => x,
        };
        if new <= l {
            return Err(DiskError::StreamIdTooSmall);
        }
        self.entries
            .insert(new, vec![(b("f"), new.ms.to_string().into_bytes())]);
        self.last_id = new;
        self.entries_added += 1;
        if self.entries.len() == 1 {
            self.first_id = new;
        }
        Ok(new)
    }

    fn fix_first(&mut self) {
        self.first_id = self.entries.keys().next().copied().unwrap_or_default();
    }

    fn del(&mut self, ids: &[StreamId]) -> u64 {
        let mut n = 0;
        for x in ids {
            if self.entries.remove(x).is_some() {
                n += 1;
                self.max_deleted_id = self.max_deleted_id.max(*x);
            }
        }
        if n > 0 {
            self.fix_first();
        }
        n
    }

    fn trim(&mut self, t: StreamTrim, limit: Option<u64>) -> u64 {
        let mut n = 0;
        while let Some((&first, _)) = self.entries.iter().next() {
            let go = match t {
                StreamTrim::MaxLen(m) => self.entries.len() as u64 > m,
                StreamTrim::MinId(min) => first < min,
            };
            if !go || limit.is_some_and(|l| n >= l) {
                break;
            }
            self.entries.remove(&first);
            n += 1;
        }
        if n > 0 {
            self.fix_first();
        }
        n
    }

    fn value(&self) -> Stream {
        Stream {
            entries: self
                .entries
                .iter()
                .map(|(k, v)| StreamEntry {
                    id: *k,
                    fields: v.clone(),
                })
                .collect(),
            last_id: self.last_id,
            first_id: self.first_id,
            max_deleted_id: self.max_deleted_id,
            entries_added: self.entries_added,
            groups: vec![],
        }
    }
}

#[test]
fn random_operations_match_the_model() {
    use rand::{Rng, SeedableRng};
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut m = Model::default();
    let max = id(u64::MAX, u64::MAX);
    let mut exists = false;
    for step in 0..3000 {
        let near = |rng: &mut rand::rngs::StdRng, m: &Model| -> StreamId {
            let base = m.last_id.ms.min(1_000_000);
            id(
                base.saturating_sub(3) + rng.gen_range(0..6),
                rng.gen_range(0..3),
            )
        };
        match rng.gen_range(0..100) {
            0..=49 => {
                let i = match rng.gen_range(0..3) {
                    0 => XAddId::Auto,
                    1 => XAddId::AutoSeq(near(&mut rng, &m).ms),
                    _ => XAddId::Explicit(near(&mut rng, &m)),
                };
                let now = m.last_id.ms.saturating_sub(2) + rng.gen_range(0..4);
                let trim = match rng.gen_range(0..10) {
                    0 => Some(StreamTrim::MaxLen(rng.gen_range(0..20))),
                    1 => Some(StreamTrim::MinId(near(&mut rng, &m))),
                    _ => None,
                };
                let limit = rng.gen_bool(0.3).then(|| rng.gen_range(0..5));
                let opts = XAddOptions {
                    nomkstream: false,
                    trim,
                    trim_limit: limit,
                };
                let f = now_fields(&i, &m);
                let got = e.xadd(0, b"s", i, &[(b"f", &f)], opts, now as i64);
                let want = m.add(i, now);
                if let Ok(new) = want {
                    // The model stores the ms as the value; keep the engine's copy identical.
                    m.entries.insert(new, vec![(b("f"), f.clone())]);
                    if let Some(t) = trim {
                        m.trim(t, limit);
                    }
                    exists = true;
                }
                assert_eq!(got.map(|o| o.unwrap()), want, "step {step}: xadd {i:?}");
            }
            50..=69 => {
                let ids: Vec<StreamId> = (0..rng.gen_range(1..4))
                    .map(|_| {
                        if rng.gen_bool(0.7) && !m.entries.is_empty() {
                            let k = rng.gen_range(0..m.entries.len());
                            *m.entries.keys().nth(k).unwrap()
                        } else {
                            near(&mut rng, &m)
                        }
                    })
                    .collect();
                assert_eq!(
                    e.xdel(0, b"s", &ids, 0).unwrap(),
                    m.del(&ids),
                    "step {step}"
                );
            }
            70..=79 => {
                let t = if rng.gen_bool(0.5) {
                    StreamTrim::MaxLen(rng.gen_range(0..30))
                } else {
                    StreamTrim::MinId(near(&mut rng, &m))
                };
                let limit = rng.gen_bool(0.3).then(|| rng.gen_range(0..5));
                assert_eq!(
                    e.xtrim(0, b"s", t, limit, 0).unwrap(),
                    m.trim(t, limit),
                    "step {step}"
                );
            }
            80..=89 => {
                let (s, t) = (near(&mut rng, &m), near(&mut rng, &m));
                let count = rng.gen_bool(0.5).then(|| rng.gen_range(0..5));
                let rev = rng.gen_bool(0.5);
                let got = ids(&e.xrange(0, b"s", s, t, count, rev, 0).unwrap());
                let mut want: Vec<StreamId> = if s <= t {
                    m.entries.range(s..=t).map(|(k, _)| *k).collect()
                } else {
                    vec![]
                };
                if rev {
                    want.reverse();
                }
                want.truncate(count.unwrap_or(usize::MAX));
                assert_eq!(got, want, "step {step}: xrange {s:?} {t:?} {count:?} {rev}");
            }
            _ => {
                // Whole-value round trip: what load_value returns, written back, reads the same.
                if exists {
                    let (v, _) = e.load_value(0, b"s", 0).unwrap().unwrap();
                    assert_eq!(v, RdbValue::Stream(Box::new(m.value())), "step {step}");
                    put(&e, b"s", &v, None);
                }
            }
        }
        if exists {
            let info = e.stream_info(0, b"s", 0).unwrap().unwrap();
            assert_eq!(info.length, m.entries.len() as u64, "step {step}");
            assert_eq!(info.last_id, m.last_id, "step {step}");
            assert_eq!(info.first_id, m.first_id, "step {step}");
            assert_eq!(info.max_deleted_id, m.max_deleted_id, "step {step}");
            assert_eq!(info.entries_added, m.entries_added, "step {step}");
            assert_eq!(
                info.first_entry.map(|x| x.id),
                m.entries.keys().next().copied()
            );
            assert_eq!(
                info.last_entry.map(|x| x.id),
                m.entries.keys().next_back().copied()
            );
        }
    }
    let all = e.xrange(0, b"s", id(0, 0), max, None, false, 0).unwrap();
    assert_eq!(all, m.value().entries);
    eprintln!(
        "model: {} entries added, {} live, last {:?}, max deleted {:?}",
        m.entries_added,
        all.len(),
        m.last_id,
        m.max_deleted_id
    );
    assert!(m.entries_added > 300 && m.max_deleted_id > id(0, 0));
}

/// The field value a model step writes (any bytes; the model keeps what the engine got).
fn now_fields(i: &XAddId, m: &Model) -> Vec<u8> {
    format!("{i:?}/{}", m.entries_added).into_bytes()
}

/// A capped stream (`XADD MAXLEN 100` on every add) deletes at its head continuously; the
/// tombstones of trimmed entries stay until compaction. Head-side reads seek to the first live
/// ID, so adding, trimming, reading the first entry and XRANGE from `-` stay as fast after 30k
/// trimmed entries as at the start.
#[test]
fn a_capped_stream_does_not_slow_down_with_its_trimmed_history() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let opts = XAddOptions {
        trim: Some(StreamTrim::MaxLen(100)),
        ..XAddOptions::default()
    };
    let max = id(u64::MAX, u64::MAX);
    let mut next = 1u64;
    let mut round = |n: usize| {
        median(n, |_| {
            e.xadd(
                0,
                b"cap",
                XAddId::Explicit(id(next, 0)),
                &[(b"f", b"v")],
                opts,
                NOW,
            )
            .unwrap();
            next += 1;
            let head = e
                .xrange(0, b"cap", id(0, 0), max, Some(1), false, NOW)
                .unwrap();
            assert_eq!(head.len(), 1);
            let info = e.stream_info(0, b"cap", NOW).unwrap().unwrap();
            assert!(info.length <= 100);
            assert_eq!(info.first_entry.unwrap().id, head[0].id);
        })
    };
    let early = round(1000);
    round(30_000);
    let late = round(1000);
    eprintln!("capped stream: xadd+xrange-head+info median {early:?} early, {late:?} late");
    assert!(
        late < early * 4 + Duration::from_micros(300),
        "head operations slowed down: {early:?} -> {late:?}"
    );
    assert_eq!(e.xlen(0, b"cap", NOW).unwrap(), 100);
}

#[test]
fn xack_removes_pel_entries_natively() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    put(&e, b"s", &RdbValue::Stream(Box::new(rich())), None);
    let ack = |g: &str, ids: &[StreamId]| e.xack(0, b"s", g.as_bytes(), ids, NOW).unwrap();
    assert_eq!(ack("nogroup", &[id(5, 0)]), 0);
    assert_eq!(ack("g2", &[id(5, 0)]), 0);
    // Repeated and unknown IDs count once / not at all; 7-0 is pending although deleted.
    assert_eq!(ack("g1", &[id(5, 0), id(5, 0), id(6, 0), id(7, 0)]), 2);
    assert_eq!(ack("g1", &[id(5, 0)]), 0);
    assert_eq!(e.xack(0, b"missing", b"g1", &[id(9, 3)], NOW).unwrap(), 0);
    e.set(0, b"str", b"x", Ttl::Persist, NOW).unwrap();
    assert_eq!(
        e.xack(0, b"str", b"g1", &[id(9, 3)], NOW),
        Err(DiskError::WrongType)
    );
    let (v, _) = e.load_value(0, b"s", NOW).unwrap().unwrap();
    let RdbValue::Stream(got) = v else { panic!() };
    let mut want = rich();
    want.groups[0].pending.retain(|p| p.id == id(9, 3));
    want.groups[0].consumers[0].pending = vec![id(9, 3)];
    want.groups[0].consumers[1].pending = vec![];
    assert_eq!(*got, want);
    assert_eq!(got.entries.len(), 3, "entries untouched");
}
