//! Loads the RDB files of the shared fixtures directory (see
//! `shared/fixtures/README.md`) and checks their documented contents.
//! Skips (with a message) when the directory is absent.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use std::fs::File;
use std::io::{BufReader, Read};

use common::{find, fixtures_dir, normalise, strs};
use ferrokv_rdb::{load, Error, Event, HashField, RdbReader, RdbValue};

macro_rules! fixture_or_skip {
    ($name:expr) => {{
        let Some(dir) = fixtures_dir() else {
            eprintln!("SKIP: fixtures directory not found (set FERROKV_FIXTURES)");
            return;
        };
        let path = dir.join($name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }};
}

fn hash(pairs: &[(&str, &str)]) -> RdbValue {
    normalise(&RdbValue::Hash(
        pairs
            .iter()
            .map(|(f, v)| HashField {
                field: f.as_bytes().to_vec(),
                value: v.as_bytes().to_vec(),
                expire_ms: None,
            })
            .collect(),
    ))
}

fn zset(pairs: &[(&str, f64)]) -> RdbValue {
    normalise(&RdbValue::ZSet(
        pairs
            .iter()
            .map(|(m, s)| (m.as_bytes().to_vec(), *s))
            .collect(),
    ))
}

fn set(items: &[&str]) -> RdbValue {
    normalise(&RdbValue::Set(strs(items)))
}

#[test]
fn encodings_rdb_every_legacy_encoding() {
    let data = fixture_or_skip!("encodings.rdb");
    let f = load(&data[..]).unwrap();
    assert_eq!(f.version, 4);
    assert_eq!(f.keys.len(), 13);
    assert!(f.keys.iter().all(|k| k.db == 0 && k.expire_ms.is_none()));
    let get = |n: &str| normalise(&find(&f.keys, n).value);
    // README says 130 'a'; the bytes (LZF, declared length 137) and
    // redis-server 7.0 (see redis_interop) say 137.
    assert_eq!(get("compressible"), RdbValue::String(vec![b'a'; 137]));
    assert_eq!(get("string"), RdbValue::String(b"Hello World".to_vec()));
    assert_eq!(get("number"), RdbValue::String(b"10".to_vec()));
    assert_eq!(
        get("hash"),
        hash(&[
            ("a", "1"),
            ("aa", "10"),
            ("aaa", "100"),
            ("b", "2"),
            ("bb", "20"),
            ("bbb", "200"),
            ("c", "3"),
            ("cc", "30"),
            ("ccc", "300"),
            ("ddd", "400"),
            ("eee", "5000000000"),
        ])
    );
    assert_eq!(
        get("hash_zipped"),
        hash(&[("a", "1"), ("b", "2"), ("c", "3")])
    );
    let eight = ["1", "2", "3", "a", "b", "c", "100000", "6000000000"];
    let mut list24 = Vec::new();
    for _ in 0..3 {
        list24.extend(strs(&eight));
    }
    assert_eq!(get("list"), RdbValue::List(list24));
    assert_eq!(get("list_zipped"), RdbValue::List(strs(&eight)));
    assert_eq!(get("set"), set(&eight));
    assert_eq!(get("set_zipped_1"), set(&["1", "2", "3", "4"]));
    assert_eq!(
        get("set_zipped_2"),
        set(&["100000", "200000", "300000", "400000"])
    );
    assert_eq!(
        get("set_zipped_3"),
        set(&[
            "1000000000",
            "2000000000",
            "3000000000",
            "4000000000",
            "5000000000",
            "6000000000"
        ])
    );
    assert_eq!(
        get("zset"),
        zset(&[
            ("a", 1.0),
            ("aa", 10.0),
            ("aaa", 100.0),
            ("aaaa", 1000.0),
            ("b", 2.0),
            ("bb", 20.0),
            ("bbb", 200.0),
            ("bbbb", 5_000_000_000.0),
            ("c", 3.0),
            ("cc", 30.0),
            ("ccc", 300.0),
            ("cccc", 123_456_789.0),
        ])
    );
    assert_eq!(
        get("zset_zipped"),
        zset(&[("a", 1.0), ("b", 2.0), ("c", 3.0)])
    );
}

#[test]
fn hash_zipmap_and_ziplist() {
    for name in ["hash-zipmap.rdb", "hash-ziplist.rdb"] {
        let data = fixture_or_skip!(name);
        let f = load(&data[..]).unwrap();
        assert_eq!(f.keys.len(), 1, "{name}");
        assert_eq!(
            normalise(&find(&f.keys, "hash").value),
            hash(&[("f1", "v1"), ("f2", "v2")]),
            "{name}"
        );
    }
}

#[test]
fn zset_ziplist_v10() {
    let data = fixture_or_skip!("zset-ziplist.rdb");
    let f = load(&data[..]).unwrap();
    assert_eq!(f.version, 10);
    assert_eq!(f.keys.len(), 1);
    assert_eq!(
        normalise(&find(&f.keys, "zset").value),
        zset(&[("one", 1.0), ("two", 2.0)])
    );
    let aux: Vec<&[u8]> = f.aux.iter().map(|(k, _)| k.as_slice()).collect();
    assert!(aux.contains(&&b"redis-ver"[..]));
    assert!(f.aux.iter().any(|(k, v)| k == b"redis-bits" && v == b"64"));
}

#[test]
fn list_quicklist_v8() {
    let data = fixture_or_skip!("list-quicklist.rdb");
    let f = load(&data[..]).unwrap();
    assert_eq!(f.version, 8);
    assert_eq!(f.keys.len(), 2);
    assert_eq!(find(&f.keys, "x").value, RdbValue::String(b"7".to_vec()));
    assert_eq!(find(&f.keys, "list").value, RdbValue::List(strs(&["7"])));
}

#[test]
fn scriptbackup_has_lua_aux_and_no_keys() {
    let data = fixture_or_skip!("scriptbackup.rdb");
    let f = load(&data[..]).unwrap();
    assert!(f.keys.is_empty());
    assert!(f
        .aux
        .iter()
        .any(|(k, v)| k == b"lua" && v == b"return redis.call('set', 'foo', 'bar')"));
}

#[test]
fn corrupt_ziplist_is_refused() {
    let data = fixture_or_skip!("corrupt_ziplist.rdb");
    match load(&data[..]) {
        Err(Error::Corrupt { what, .. }) => assert!(what.contains("ziplist"), "{what}"),
        other => panic!("expected a corruption error, got {other:?}"),
    }
}

#[test]
fn corrupt_empty_keys_are_reported_not_loaded() {
    let data = fixture_or_skip!("corrupt_empty_keys.rdb");
    let f = load(&data[..]).unwrap();
    assert!(f.keys.is_empty(), "{:?}", f.keys);
    let mut names: Vec<String> = f
        .empty_keys
        .iter()
        .map(|(_, k)| String::from_utf8_lossy(k).into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "hash",
            "hash_ziplist",
            "list_quicklist",
            "list_quicklist_empty_ziplist",
            "list_ziplist",
            "set",
            "zset",
            "zset_listpack",
            "zset_ziplist"
        ]
    );
}

#[test]
fn aof_preamble_rdb_then_commands() {
    let data = fixture_or_skip!("rdb-preamble.aof");
    let mut r = RdbReader::new(&data[..]).unwrap();
    let mut keys = Vec::new();
    let mut aof_base = None;
    while let Some(ev) = r.next_event().unwrap() {
        match ev {
            Event::Key(k) => keys.push((k.key, k.value)),
            Event::Aux { key, value } if key == b"aof-preamble" => aof_base = Some(value),
            _ => {}
        }
    }
    assert_eq!(aof_base.as_deref(), Some(&b"1"[..]));
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        keys,
        vec![
            (b"k1".to_vec(), RdbValue::String(b"v1".to_vec())),
            (b"k2".to_vec(), RdbValue::String(b"v2".to_vec()))
        ]
    );
    let mut rest = Vec::new();
    r.into_inner().read_to_end(&mut rest).unwrap();
    assert!(rest.starts_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n"));
}

/// Every fixture, truncated at every offset or with any byte flipped, fails
/// cleanly (or, for flips that keep it valid with checksum off, loads).
#[test]
fn damaged_fixtures_never_panic() {
    let Some(dir) = fixtures_dir() else {
        eprintln!("SKIP: fixtures directory not found");
        return;
    };
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str());
        if !matches!(ext, Some("rdb") | Some("aof")) {
            continue;
        }
        let mut data = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut data).unwrap();
        for cut in 0..data.len() {
            let _ = load(&data[..cut]);
        }
        for i in 0..data.len() {
            for bit in [0x01u8, 0x80, 0xff] {
                let mut d = data.clone();
                d[i] ^= bit;
                let _ = load(BufReader::new(&d[..]));
            }
        }
    }
}
