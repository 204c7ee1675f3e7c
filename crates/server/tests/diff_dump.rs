//! DUMP and RESTORE compared with redis-server: payload bytes for values whose encoding is
//! deterministic, payloads moved both ways (DUMP on one server, RESTORE on the other, contents
//! compared), RESTORE's options (REPLACE, ABSTTL, IDLETIME, FREQ) and every error path in
//! Redis's order of checks (BUSYKEY before the TTL, then the footer, then the body).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{parse_value, Conn, Diff, Value};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn cmd_bin(c: &mut Conn, args: &[&[u8]]) -> Value {
    let raw = c.cmd_raw(args);
    parse_value(&raw).unwrap().0
}

fn dump(c: &mut Conn, key: &str) -> Vec<u8> {
    match c.cmd(&["DUMP", key]) {
        Value::Bulk(b) => b,
        other => panic!("DUMP {key}: {other:?}"),
    }
}

/// Setup commands run on both servers (replies compared).
fn setup(d: &mut Diff) {
    d.check(&["SET", "s_int", "12345"]);
    d.check(&["SET", "s_neg", "-2147483648"]);
    d.check(&["SET", "s_bigint", "123456789012"]);
    d.check(&["SET", "s_small", "hello"]);
    d.check(&["SET", "s_comp", &"abc".repeat(100)]);
    d.check(&["SET", "s_empty", ""]);
    d.check(&[
        "RPUSH",
        "l_small",
        "a",
        "1",
        "-5",
        "300000",
        "9999999999",
        "x",
    ]);
    let many: Vec<String> = (0..3000).map(|i| format!("element-{i}")).collect();
    let mut args = vec!["RPUSH", "l_big"];
    args.extend(many.iter().map(String::as_str));
    d.check(&args);
    d.check(&["HSET", "h_small", "f1", "v1", "f2", "22", "f3", ""]);
    let fields: Vec<String> = (0..700).map(|i| format!("field{i}")).collect();
    let mut args = vec!["HSET", "h_big"];
    for f in &fields {
        args.push(f);
        args.push(f);
    }
    d.check(&args);
    d.check(&["SADD", "set_int", "5", "1", "-3", "70000", "5000000000"]);
    d.check(&["SADD", "set_str", "a", "b", "c"]);
    let members: Vec<String> = (0..700).map(|i| format!("member{i}")).collect();
    let mut args = vec!["SADD", "set_big"];
    args.extend(members.iter().map(String::as_str));
    d.check(&args);
    d.check(&[
        "ZADD", "z_small", "1", "a", "2.5", "b", "-inf", "c", "3", "d",
    ]);
    let scores: Vec<String> = (0..700).map(|i| format!("{i}.25")).collect();
    let mut args = vec!["ZADD", "z_big"];
    for (s, m) in scores.iter().zip(&members) {
        args.push(s);
        args.push(m);
    }
    d.check(&args);
}

const KEYS: &[&str] = &[
    "s_int", "s_neg", "s_bigint", "s_small", "s_comp", "s_empty", "l_small", "l_big", "h_small",
    "h_big", "set_int", "set_str", "set_big", "z_small", "z_big",
];

/// Values whose payload bytes are deterministic (no hash-table order) are byte-identical.
#[test]
fn dump_payloads_match_redis() {
    let Some(mut d) = Diff::new(BIN) else { return };
    setup(&mut d);
    // s_comp and l_big are left out: their LZF output depends on the compressor's match
    // choices (both decode either; payloads_move_both_ways checks that).
    for k in [
        "s_int", "s_neg", "s_bigint", "s_small", "s_empty", "l_small", "h_small",
    ] {
        d.check(&["DUMP", k]);
    }
    d.check(&["DUMP", "missing"]);
    d.check(&["DUMP"]);
    d.check(&["DUMP", "a", "b"]);
}

/// Payloads move both ways: DUMP on one side, RESTORE on the other, same contents.
#[test]
fn payloads_move_both_ways() {
    let Some(mut d) = Diff::new(BIN) else { return };
    setup(&mut d);
    for k in KEYS {
        let from_redis = dump(d.redis(), k);
        let from_fk = dump(d.ferrokv(), k);
        let dst = format!("copy:{k}");
        let r = cmd_bin(
            d.ferrokv(),
            &[b"RESTORE", dst.as_bytes(), b"0", &from_redis],
        );
        assert_eq!(r, Value::Simple("OK".into()), "{k}");
        let r = cmd_bin(d.redis(), &[b"RESTORE", dst.as_bytes(), b"0", &from_fk]);
        assert_eq!(r, Value::Simple("OK".into()), "{k}");
        d.check(&["TYPE", &dst]);
        // Known differences: 7.0 reports small lists as quicklist and small non-integer sets
        // as hashtable; 7.2+ (ferrokv) says listpack for both.
        if !k.starts_with("l_") && *k != "set_str" {
            d.check(&["OBJECT", "ENCODING", &dst]);
        }
    }
    for k in KEYS {
        let dst = format!("copy:{k}");
        match d.ferrokv().cmd(&["TYPE", k]).as_str().unwrap() {
            "string" => d.check(&["GET", &dst]),
            "list" => d.check(&["LRANGE", &dst, "0", "-1"]),
            "hash" => d.check_unordered_pairs(&["HGETALL", &dst]),
            "set" => d.check_unordered(&["SMEMBERS", &dst]),
            "zset" => d.check(&["ZRANGE", &dst, "0", "-1", "WITHSCORES"]),
            t => panic!("{t}"),
        }
    }
    // ferrokv also reads its own payloads back.
    let p = dump(d.ferrokv(), "h_big");
    let r = cmd_bin(d.ferrokv(), &[b"RESTORE", b"self", b"0", &p]);
    assert_eq!(r, Value::Simple("OK".into()));
    assert_eq!(d.ferrokv().cmd(&["HLEN", "self"]), Value::Int(700));
}

fn both(d: &mut Diff, args: &[&[u8]]) {
    d.check_bin(args);
}

#[test]
fn restore_options_and_errors_match_redis() {
    let Some(mut d) = Diff::new(BIN) else { return };
    d.check(&["SET", "src", "value"]);
    d.check(&["RPUSH", "lsrc", "a", "b"]);
    let p = dump(d.redis(), "src");
    let lp = dump(d.redis(), "lsrc");
    assert_eq!(p, dump(d.ferrokv(), "src"));
    // Existing key: BUSYKEY comes before the TTL and payload checks.
    both(&mut d, &[b"RESTORE", b"src", b"0", &p]);
    both(&mut d, &[b"RESTORE", b"src", b"abc", b"junk"]);
    both(&mut d, &[b"RESTORE", b"src", b"0", &p, b"REPLACE"]);
    d.check(&["GET", "src"]);
    // TTL checks.
    both(&mut d, &[b"RESTORE", b"n1", b"abc", &p]);
    both(&mut d, &[b"RESTORE", b"n1", b"-1", &p]);
    both(&mut d, &[b"RESTORE", b"n1", b"99999999999999999999", &p]);
    both(&mut d, &[b"RESTORE", b"n1", b"100000", &p]);
    let (a, b) = (
        d.ferrokv().cmd(&["PTTL", "n1"]).as_int().unwrap(),
        d.redis().cmd(&["PTTL", "n1"]).as_int().unwrap(),
    );
    assert!(a > 99_000 && b > 99_000 && a <= 100_000 && b <= 100_000);
    // ABSTTL: a time in the past deletes (REPLACE) or creates nothing, still OK.
    both(&mut d, &[b"RESTORE", b"n2", b"1", &p, b"ABSTTL"]);
    d.check(&["EXISTS", "n2"]);
    both(
        &mut d,
        &[b"RESTORE", b"src", b"1", &p, b"ABSTTL", b"REPLACE"],
    );
    d.check(&["EXISTS", "src"]);
    both(
        &mut d,
        &[b"RESTORE", b"n3", b"99999999999999", &p, b"ABSTTL"],
    );
    d.check(&["PEXPIRETIME", "n3"]);
    // IDLETIME / FREQ.
    both(&mut d, &[b"RESTORE", b"n4", b"0", &p, b"IDLETIME", b"1000"]);
    // Both servers keep idle time on a seconds clock, so a second boundary between the
    // RESTORE and the read adds one on either side: compare with that tolerance.
    let idle = |c: &mut Conn| c.cmd(&["OBJECT", "IDLETIME", "n4"]).as_int().unwrap();
    let (f, r) = (idle(d.ferrokv()), idle(d.redis()));
    assert!((1000..=1002).contains(&r), "redis-server idle {r}");
    assert!(
        (f - r).abs() <= 1,
        "OBJECT IDLETIME: ferrokv {f}, redis-server {r}"
    );
    both(&mut d, &[b"RESTORE", b"n5", b"0", &p, b"IDLETIME", b"-1"]);
    both(&mut d, &[b"RESTORE", b"n5", b"0", &p, b"IDLETIME", b"x"]);
    both(&mut d, &[b"RESTORE", b"n5", b"0", &p, b"FREQ", b"256"]);
    both(&mut d, &[b"RESTORE", b"n5", b"0", &p, b"FREQ", b"-1"]);
    both(&mut d, &[b"RESTORE", b"n5", b"0", &p, b"FREQ", b"10"]);
    both(
        &mut d,
        &[
            b"RESTORE",
            b"n6",
            b"0",
            &p,
            b"FREQ",
            b"10",
            b"IDLETIME",
            b"5",
        ],
    );
    both(
        &mut d,
        &[
            b"RESTORE",
            b"n6",
            b"0",
            &p,
            b"IDLETIME",
            b"5",
            b"FREQ",
            b"10",
        ],
    );
    both(&mut d, &[b"RESTORE", b"n6", b"0", &p, b"IDLETIME"]);
    both(&mut d, &[b"RESTORE", b"n6", b"0", &p, b"BOGUS"]);
    // Damaged payloads.
    let mut bad_crc = p.clone();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 1;
    both(&mut d, &[b"RESTORE", b"n7", b"0", &bad_crc]);
    let mut newer = p[..p.len() - 10].to_vec();
    newer.extend_from_slice(&99u16.to_le_bytes());
    let crc = ferrokv_rdb::crc64::crc64(0, &newer);
    newer.extend_from_slice(&crc.to_le_bytes());
    both(&mut d, &[b"RESTORE", b"n7", b"0", &newer]);
    // A body that does not decode, with a valid footer.
    let mut garbage = vec![0u8, 0x80, 0xff, 0xff];
    garbage.extend_from_slice(&10u16.to_le_bytes());
    let crc = ferrokv_rdb::crc64::crc64(0, &garbage);
    garbage.extend_from_slice(&crc.to_le_bytes());
    both(&mut d, &[b"RESTORE", b"n7", b"0", &garbage]);
    // Trailing bytes after the value: redis-server accepts them (it only checks the footer);
    // ferrokv's decoder insists on the exact body and answers Bad data format. Not compared.
    let mut trailing = lp[..lp.len() - 10].to_vec();
    trailing.push(0);
    trailing.extend_from_slice(&10u16.to_le_bytes());
    let crc = ferrokv_rdb::crc64::crc64(0, &trailing);
    trailing.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(
        cmd_bin(d.ferrokv(), &[b"RESTORE", b"n7", b"0", &trailing]),
        Value::Error("ERR Bad data format".into())
    );
    both(&mut d, &[b"RESTORE", b"n7", b"0", b"short"]);
    both(&mut d, &[b"RESTORE", b"n7", b"0", b""]);
    d.check(&["EXISTS", "n7"]);
    d.check(&["RESTORE", "k", "0"]);
    // Restored lists work as lists afterwards.
    both(&mut d, &[b"RESTORE", b"l2", b"0", &lp]);
    d.check(&["LPUSH", "l2", "z"]);
    d.check(&["LRANGE", "l2", "0", "-1"]);
    d.check(&["DBSIZE"]);
}

/// A hash with field TTLs needs RDB 12 (Redis 7.4); ferrokv round-trips it (no oracle: 7.0
/// refuses version 12 payloads, which the version check above covers).
#[test]
fn field_ttl_hash_round_trip() {
    let s = ferrokv_testkit::ServerProc::ferrokv(BIN, &[]);
    let mut c = s.conn();
    c.cmd(&["HSET", "h", "a", "1", "b", "2"]);
    c.cmd(&["HPEXPIRE", "h", "500000", "FIELDS", "1", "a"]);
    let p = dump(&mut c, "h");
    assert_eq!(&p[p.len() - 10..p.len() - 8], &12u16.to_le_bytes());
    let r = cmd_bin(&mut c, &[b"RESTORE", b"h2", b"0", &p]);
    assert_eq!(r, Value::Simple("OK".into()));
    let ttl = c.cmd(&["HPTTL", "h2", "FIELDS", "2", "a", "b"]);
    let t = ttl.as_array().unwrap();
    assert!(t[0].as_int().unwrap() > 400_000);
    assert_eq!(t[1], Value::Int(-1));
    if let Some(r) = ferrokv_testkit::ServerProc::redis(&[]) {
        let mut rc = r.conn();
        let e = cmd_bin(&mut rc, &[b"RESTORE", b"h", b"0", &p]);
        assert_eq!(
            e,
            Value::Error("ERR DUMP payload version or checksum are wrong".into())
        );
    }
}
