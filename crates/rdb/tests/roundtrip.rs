//! Writer/reader round trips and hostile-input behaviour, without Redis.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use common::{normalise, strs};
use ferrokv_rdb::crc64::crc64;
use ferrokv_rdb::{
    dump_value, dump_value_with_version, load, restore_value, restore_value_with_version, Error,
    Event, HashField, KeyRecord, RdbReader, RdbValue, RdbWriter, Stream, StreamConsumer,
    StreamEntry, StreamGroup, StreamId, StreamPending, WriteOptions,
};

fn hf(f: &str, v: &str, ttl: Option<i64>) -> HashField {
    HashField {
        field: f.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
        expire_ms: ttl,
    }
}

fn sample_stream() -> RdbValue {
    let id = |ms, seq| StreamId { ms, seq };
    let entries: Vec<StreamEntry> = (0..150u64)
        .map(|i| StreamEntry {
            id: id(1000 + i, i % 2),
            fields: if i % 5 == 0 {
                vec![(b"x".to_vec(), i.to_string().into_bytes())]
            } else {
                vec![
                    (b"a".to_vec(), b"1".to_vec()),
                    (b"b".to_vec(), vec![b'z'; i as usize]),
                ]
            },
        })
        .collect();
    RdbValue::Stream(Box::new(Stream {
        last_id: id(2000, 0),
        first_id: entries[0].id,
        max_deleted_id: id(1500, 3),
        entries_added: 160,
        entries,
        groups: vec![StreamGroup {
            name: b"g".to_vec(),
            last_id: id(1001, 1),
            entries_read: Some(2),
            pending: vec![
                StreamPending {
                    id: id(1000, 0),
                    delivery_time_ms: 1_700_000_000_000,
                    delivery_count: 3,
                },
                StreamPending {
                    id: id(1001, 1),
                    delivery_time_ms: 1_700_000_000_001,
                    delivery_count: 1,
                },
            ],
            consumers: vec![StreamConsumer {
                name: b"c".to_vec(),
                seen_time_ms: 1_700_000_000_002,
                active_time_ms: None,
                pending: vec![id(1000, 0), id(1001, 1)],
            }],
        }],
    }))
}

fn values() -> Vec<(&'static str, RdbValue)> {
    vec![
        ("str", RdbValue::String(b"plain".to_vec())),
        ("int", RdbValue::String(b"-129".to_vec())),
        ("long", RdbValue::String(b"xyz".repeat(100))),
        (
            "list",
            RdbValue::List(strs(&["1", "two", "-3", "", "4000000000"])),
        ),
        (
            "biglist",
            RdbValue::List((0..5000).map(|i| format!("e{i}").into_bytes()).collect()),
        ),
        ("intset", RdbValue::Set(strs(&["5", "-1", "300000"]))),
        ("set", RdbValue::Set(strs(&["a", "1", "b"]))),
        (
            "zset",
            RdbValue::ZSet(vec![
                (b"a".to_vec(), 0.5),
                (b"b".to_vec(), -0.0),
                (b"c".to_vec(), f64::INFINITY),
            ]),
        ),
        (
            "bigzset",
            RdbValue::ZSet(
                (0..200)
                    .map(|i| (format!("m{i}").into_bytes(), f64::from(i) / 7.0))
                    .collect(),
            ),
        ),
        (
            "hash",
            RdbValue::Hash(vec![hf("f", "v", None), hf("n", "10", None)]),
        ),
        (
            "bighash",
            RdbValue::Hash((0..200).map(|i| hf(&format!("f{i}"), "v", None)).collect()),
        ),
        ("stream", sample_stream()),
    ]
}

fn write_file(opts: WriteOptions, keys: &[(&str, RdbValue, Option<i64>)]) -> Vec<u8> {
    let mut w = RdbWriter::new(Vec::new(), opts).unwrap();
    w.standard_aux("7.0.15", 1, 2, false).unwrap();
    w.select_db(0, keys.len() as u64, 0).unwrap();
    for (k, v, e) in keys {
        w.write_key(k.as_bytes(), v, *e).unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn writer_output_reads_back_v10_and_v12() {
    for version in [10, 11, 12] {
        for compression in [true, false] {
            let keys: Vec<(&str, RdbValue, Option<i64>)> = values()
                .into_iter()
                .enumerate()
                .map(|(i, (k, v))| (k, v, (i % 2 == 0).then_some(1_900_000_000_000 + i as i64)))
                .collect();
            let bytes = write_file(
                WriteOptions {
                    version,
                    compression,
                    ..WriteOptions::default()
                },
                &keys,
            );
            assert_eq!(&bytes[..9], format!("REDIS{version:04}").as_bytes());
            let f = load(&bytes[..]).unwrap();
            assert_eq!(f.version, version);
            assert_eq!(f.keys.len(), keys.len());
            for ((k, v, e), rec) in keys.iter().zip(&f.keys) {
                assert_eq!(rec.key, k.as_bytes());
                let mut want = normalise(v);
                if let RdbValue::Stream(st) = &mut want {
                    // version 12 (type 21) stores the active time, Redis's
                    // default for it being the seen time
                    for c in st.groups.iter_mut().flat_map(|g| g.consumers.iter_mut()) {
                        if version >= 12 {
                            c.active_time_ms = c.active_time_ms.or(Some(c.seen_time_ms));
                        }
                    }
                }
                assert!(normalise(&rec.value) == want, "{k} v{version}");
                assert_eq!(rec.expire_ms, *e);
            }
            let aux: Vec<&[u8]> = f.aux.iter().map(|(k, _)| k.as_slice()).collect();
            assert_eq!(
                aux,
                [
                    &b"redis-ver"[..],
                    b"redis-bits",
                    b"ctime",
                    b"used-mem",
                    b"aof-base"
                ]
            );
        }
    }
}

#[test]
fn field_ttls_need_v12() {
    let small = RdbValue::Hash(vec![
        hf("a", "1", Some(5_000)),
        hf("b", "2", None),
        hf("c", "3", Some(4_000)),
    ]);
    let big = RdbValue::Hash(
        (0..300)
            .map(|i| hf(&format!("f{i}"), "v", (i % 3 == 0).then_some(1_000_000 + i)))
            .collect(),
    );
    let mut w = RdbWriter::new(Vec::new(), WriteOptions::default()).unwrap();
    assert!(matches!(
        w.write_key(b"k", &small, None),
        Err(Error::Unrepresentable(_))
    ));
    assert!(matches!(
        dump_value_with_version(&small, 10),
        Err(Error::Unrepresentable(_))
    ));
    let bytes = write_file(
        WriteOptions {
            version: 12,
            ..WriteOptions::default()
        },
        &[("small", small.clone(), None), ("big", big.clone(), None)],
    );
    let f = load(&bytes[..]).unwrap();
    assert_eq!(normalise(&f.keys[0].value), normalise(&small));
    assert_eq!(normalise(&f.keys[1].value), normalise(&big));
    // DUMP picks version 12 by itself, 10 otherwise
    let p = dump_value(&small);
    assert_eq!(&p[p.len() - 10..p.len() - 8], &[12, 0]);
    assert_eq!(p[0], 25, "HASH_LISTPACK_EX");
    let p = dump_value(&big);
    assert_eq!(p[0], 24, "HASH_METADATA");
    assert_eq!(normalise(&restore_value(&p).unwrap()), normalise(&big));
    let p = dump_value(&RdbValue::String(b"x".to_vec()));
    assert_eq!(&p[p.len() - 10..p.len() - 8], &[10, 0]);
    // out-of-range expiries are clamped into Redis's 1..2^48-1
    let odd = RdbValue::Hash(vec![hf("a", "1", Some(-5)), hf("b", "2", Some(i64::MAX))]);
    let back = restore_value(&dump_value(&odd)).unwrap();
    let want = RdbValue::Hash(vec![
        hf("a", "1", Some(1)),
        hf("b", "2", Some((1 << 48) - 1)),
    ]);
    assert_eq!(normalise(&back), normalise(&want));
}

#[test]
fn dump_payloads_round_trip_and_footer_is_checked() {
    for (k, v) in values() {
        let p = dump_value(&v);
        let (back, ver) = restore_value_with_version(&p).unwrap();
        assert_eq!(normalise(&back), normalise(&v), "{k}");
        assert_eq!(ver, 10);
    }
    let p = dump_value(&RdbValue::String(b"hello".to_vec()));
    // newer version (with a valid CRC) is refused
    let mut newer = p[..p.len() - 10].to_vec();
    newer.extend_from_slice(&13u16.to_le_bytes());
    let crc = crc64(0, &newer);
    newer.extend_from_slice(&crc.to_le_bytes());
    let e = restore_value(&newer).unwrap_err();
    assert!(matches!(e, Error::UnsupportedVersion(13)) && e.is_version_or_checksum());
    // bad CRC
    let mut bad = p.clone();
    bad[1] ^= 1;
    assert!(restore_value(&bad).unwrap_err().is_version_or_checksum());
    // too short
    assert!(restore_value(&p[..9]).unwrap_err().is_version_or_checksum());
    // trailing garbage inside a valid footer: bad data format, not checksum
    let mut trail = p[..p.len() - 10].to_vec();
    trail.push(0);
    trail.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64(0, &trail);
    trail.extend_from_slice(&crc.to_le_bytes());
    let e = restore_value(&trail).unwrap_err();
    assert!(!e.is_version_or_checksum(), "{e}");
    // an empty collection is bad data
    let mut empty = vec![2u8, 0];
    empty.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64(0, &empty);
    empty.extend_from_slice(&crc.to_le_bytes());
    assert!(!restore_value(&empty).unwrap_err().is_version_or_checksum());
}

/// Builds a file from a raw body: header, body, EOF, CRC.
fn craft(version: u32, body: &[u8]) -> Vec<u8> {
    let mut f = format!("REDIS{version:04}").into_bytes();
    f.extend_from_slice(body);
    f.push(0xff);
    let crc = crc64(0, &f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

#[test]
fn checksum_verified_unless_zero() {
    let mut f = craft(10, &[0, 1, b'k', 1, b'v']);
    assert!(load(&f[..]).is_ok());
    let n = f.len();
    f[n - 1] ^= 0x10;
    assert!(matches!(load(&f[..]), Err(Error::Checksum { .. })));
    f[n - 8..].fill(0);
    assert_eq!(load(&f[..]).unwrap().keys.len(), 1);
    // before version 5 there is no checksum at all
    let mut old = b"REDIS0004".to_vec();
    old.extend_from_slice(&[0, 1, b'k', 1, b'v', 0xff]);
    assert_eq!(load(&old[..]).unwrap().keys.len(), 1);
}

#[test]
fn headers() {
    assert!(matches!(load(&b"REDIS"[..]), Err(Error::BadHeader)));
    assert!(matches!(load(&b"RODIS0010"[..]), Err(Error::BadHeader)));
    assert!(matches!(load(&b"REDIS00x0"[..]), Err(Error::BadHeader)));
    assert!(matches!(
        load(&craft(13, &[])[..]),
        Err(Error::UnsupportedVersion(13))
    ));
    for v in 1..=12 {
        assert!(load(&craft(v, &[])[..]).is_ok(), "version {v}");
    }
    // Valkey 9 style header: VALKEY + 3 digits
    let mut f = b"VALKEY080".to_vec();
    f.extend_from_slice(&[0, 1, b'k', 1, b'v', 0xff]);
    let crc = crc64(0, &f);
    f.extend_from_slice(&crc.to_le_bytes());
    let file = load(&f[..]).unwrap();
    assert_eq!((file.version, file.keys.len()), (80, 1));
}

#[test]
fn hostile_lengths_fail_cleanly() {
    // string claiming 2^64-1 bytes
    let mut body = vec![0u8, 1, b'k', 0x81];
    body.extend_from_slice(&u64::MAX.to_be_bytes());
    let r = load(&craft(10, &body)[..]);
    assert!(matches!(r, Err(Error::Truncated { .. })), "{r:?}");
    // list claiming 2^60 elements
    let mut body = vec![1u8, 1, b'k', 0x81];
    body.extend_from_slice(&(1u64 << 60).to_be_bytes());
    // (the EOF byte is then read as a string header: bad encoding)
    let r = load(&craft(10, &body)[..]);
    assert!(matches!(r, Err(Error::Corrupt { .. })), "{r:?}");
    let r = load(&body[..]);
    assert!(matches!(r, Err(Error::BadHeader)), "{r:?}");
    let mut file = b"REDIS0010".to_vec();
    file.extend_from_slice(&body);
    let r = load(&file[..]);
    assert!(matches!(r, Err(Error::Truncated { .. })), "{r:?}");
    // LZF string claiming a huge decompressed size
    let mut body = vec![0u8, 1, b'k', 0xc3, 2, 0x81];
    body.extend_from_slice(&(1u64 << 40).to_be_bytes());
    body.extend_from_slice(&[0, b'a']);
    assert!(matches!(
        load(&craft(10, &body)[..]),
        Err(Error::Corrupt { .. })
    ));
    // unknown type byte
    assert!(matches!(
        load(&craft(10, &[30, 1, b'k'])[..]),
        Err(Error::UnknownType { type_byte: 30, .. })
    ));
    // duplicate set members
    let body = [2u8, 1, b'k', 2, 1, b'a', 1, b'a'];
    assert!(matches!(
        load(&craft(10, &body)[..]),
        Err(Error::Corrupt { .. })
    ));
    // NaN score
    let body = [3u8, 1, b'k', 1, 1, b'a', 253];
    assert!(matches!(
        load(&craft(10, &body)[..]),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn opcodes_and_hints() {
    let mut body = Vec::new();
    body.extend_from_slice(&[0xfa, 3, b'a', b'b', b'c', 0xc0, 7]); // aux abc=7
    body.extend_from_slice(&[0xf4, 5, 6, 7]); // slot info
    body.extend_from_slice(&[0xf5, 4, b'c', b'o', b'd', b'e']); // function
                                                                // module aux: id, when_opcode=2, when=2, then uint, string, EOF
    body.push(0xf7);
    body.push(0x81);
    body.extend_from_slice(&(1u64 << 10).to_be_bytes());
    body.extend_from_slice(&[2, 2, 2, 5, 5, 2, b'h', b'i', 0]);
    body.extend_from_slice(&[0xfe, 3, 0xfb, 1, 1]); // select 3, resize
    body.push(0xfd);
    body.extend_from_slice(&1_000i32.to_le_bytes()); // expire in seconds
    body.extend_from_slice(&[0xf8, 0x40, 0x80, 0xf9, 9]); // idle 128, freq 9
    body.extend_from_slice(&[0, 1, b'k', 1, b'v']);
    body.extend_from_slice(&[
        3, 1, b'z', 3, 1, b'a', 254, 1, b'b', 255, 1, b'c', 3, b'1', b'.', b'5',
    ]);
    let f = craft(10, &body);
    let mut r = RdbReader::new(&f[..]).unwrap();
    let mut events = Vec::new();
    while let Some(e) = r.next_event().unwrap() {
        events.push(e);
    }
    assert_eq!(
        events[0],
        Event::Aux {
            key: b"abc".to_vec(),
            value: b"7".to_vec()
        }
    );
    assert_eq!(
        events[1],
        Event::SlotInfo {
            slot: 5,
            size: 6,
            expires_size: 7
        }
    );
    assert_eq!(events[2], Event::Function(b"code".to_vec()));
    assert_eq!(
        events[3],
        Event::ModuleAux {
            module: "AAAAAAAAB".into()
        }
    );
    assert_eq!(events[4], Event::SelectDb(3));
    assert_eq!(
        events[5],
        Event::ResizeDb {
            db_size: 1,
            expires_size: 1
        }
    );
    let rec = KeyRecord {
        db: 3,
        key: b"k".to_vec(),
        value: RdbValue::String(b"v".to_vec()),
        expire_ms: Some(1_000_000),
        lru_idle: Some(128),
        lfu_freq: Some(9),
    };
    assert_eq!(events[6], Event::Key(rec.clone()));
    assert_eq!(
        events[7],
        Event::Key(KeyRecord {
            db: 3,
            key: b"z".to_vec(),
            value: RdbValue::ZSet(vec![
                (b"a".to_vec(), f64::INFINITY),
                (b"b".to_vec(), f64::NEG_INFINITY),
                (b"c".to_vec(), 1.5)
            ]),
            expire_ms: None,
            lru_idle: None,
            lfu_freq: None,
        })
    );
    // hints survive the writer
    let mut w = RdbWriter::new(Vec::new(), WriteOptions::default()).unwrap();
    w.select_db(3, 1, 1).unwrap();
    w.write_record(&rec).unwrap();
    let out = w.finish().unwrap();
    assert_eq!(load(&out[..]).unwrap().keys, vec![rec]);
    // pre-GA function records are refused clearly
    let e = load(&craft(10, &[0xf6, 1, b'x'])[..]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::UnsupportedType {
                type_byte: 0xf6,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn progress_reports_every_mib_and_at_the_end() {
    let big = RdbValue::String((0..3_000_000u32).map(|i| (i % 251) as u8).collect());
    let bytes = write_file(
        WriteOptions {
            compression: false,
            ..WriteOptions::default()
        },
        &[("big", big, None)],
    );
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let mut r = RdbReader::new(&bytes[..]).unwrap();
    r.set_progress(move |n| s2.lock().unwrap().push(n));
    while r.next_event().unwrap().is_some() {}
    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 3, "{seen:?}");
    assert_eq!(*seen.last().unwrap(), bytes.len() as u64);
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(r.bytes_read(), bytes.len() as u64);
}
