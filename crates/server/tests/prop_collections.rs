//! Property-based differential test mixing every data type on one small keyspace: strings,
//! lists, hashes, sets and sorted sets share the same 8 keys, so commands constantly meet keys
//! of another type (WRONGTYPE paths), keys are created and deleted by emptying collections,
//! overwritten by *STORE / SORT STORE / SET, renamed, copied and expired. Every reply is
//! compared with redis-server and the whole keyspace (type, content, TTL presence) is compared
//! every 200 commands and at the end.
//!
//! Not generated, with the reason: random-choice commands (SPOP/SRANDMEMBER/HRANDFIELD/
//! ZRANDMEMBER/RANDOMKEY), whose picks differ by design; OBJECT ENCODING, where 7.0 and 7.2+
//! differ (small lists and non-integer sets; see docs/testing.md); blocking commands with a
//! timeout, which would stall the oracle.
//!
//! Replay a failure with `FERROKV_PROP_SEED=<seed>`; run longer with `FERROKV_PROP_CASES=<n>`.

use ferrokv_testkit::{Compare, Gen, PropRunner};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn m(g: &mut Gen) -> String {
    g.pick(&["a", "b", "c", "d", "1", "2", "10", "-3", "x:y"])
}

fn score(g: &mut Gen) -> String {
    g.pick(&["0", "1", "2.5", "-1", "3", "10", "inf", "-inf", "1e2"])
}

fn runner() -> PropRunner {
    PropRunner::new()
        .keys(8)
        .keyspace_every(200)
        .normalise_doubles(true)
        // strings and generic
        .template("SET", |g| vec!["SET".into(), g.key(), g.value()])
        .template("GET", |g| vec!["GET".into(), g.key()])
        .template("APPEND", |g| vec!["APPEND".into(), g.key(), "z".into()])
        .template("INCR", |g| vec!["INCR".into(), g.key()])
        .template("DEL", |g| vec!["DEL".into(), g.key(), g.key()])
        .template("TYPE", |g| vec!["TYPE".into(), g.key()])
        .template("EXISTS", |g| vec!["EXISTS".into(), g.key()])
        .template("RENAME", |g| vec!["RENAME".into(), g.key(), g.key()])
        .template("COPY", |g| {
            vec!["COPY".into(), g.key(), g.key(), "REPLACE".into()]
        })
        .template("EXPIRE", |g| {
            vec!["EXPIRE".into(), g.key(), g.int(1000, 100_000).to_string()]
        })
        .template("PERSIST", |g| vec!["PERSIST".into(), g.key()])
        // lists
        .template("LPUSH", |g| vec!["LPUSH".into(), g.key(), m(g), m(g)])
        .template("RPUSH", |g| vec!["RPUSH".into(), g.key(), m(g)])
        .template("LPOP", |g| vec!["LPOP".into(), g.key()])
        .template("RPOP", |g| vec!["RPOP".into(), g.key(), "2".into()])
        .template("LRANGE", |g| {
            vec!["LRANGE".into(), g.key(), "0".into(), "-1".into()]
        })
        .template("LREM", |g| vec!["LREM".into(), g.key(), "0".into(), m(g)])
        .template("LMOVE", |g| {
            vec![
                "LMOVE".into(),
                g.key(),
                g.key(),
                g.pick(&["LEFT", "RIGHT"]),
                g.pick(&["LEFT", "RIGHT"]),
            ]
        })
        // hashes
        .template("HSET", |g| vec!["HSET".into(), g.key(), m(g), g.value()])
        .template("HDEL", |g| vec!["HDEL".into(), g.key(), m(g)])
        .template("HGET", |g| vec!["HGET".into(), g.key(), m(g)])
        .add("HGETALL", Compare::UnorderedPairs, 1, |g| {
            vec!["HGETALL".into(), g.key()]
        })
        .template("HINCRBY", |g| {
            vec!["HINCRBY".into(), g.key(), m(g), "3".into()]
        })
        .template("HLEN", |g| vec!["HLEN".into(), g.key()])
        // sets
        .template("SADD", |g| vec!["SADD".into(), g.key(), m(g), m(g)])
        .template("SREM", |g| vec!["SREM".into(), g.key(), m(g)])
        .unordered("SMEMBERS", |g| vec!["SMEMBERS".into(), g.key()])
        .template("SCARD", |g| vec!["SCARD".into(), g.key()])
        .template("SMOVE", |g| vec!["SMOVE".into(), g.key(), g.key(), m(g)])
        .template("SINTERSTORE", |g| {
            vec!["SINTERSTORE".into(), g.key(), g.key(), g.key()]
        })
        .unordered("SUNION", |g| vec!["SUNION".into(), g.key(), g.key()])
        // sorted sets
        .template("ZADD", |g| {
            vec!["ZADD".into(), g.key(), score(g), m(g), score(g), m(g)]
        })
        .template("ZINCRBY", |g| {
            vec!["ZINCRBY".into(), g.key(), "1".into(), m(g)]
        })
        .template("ZREM", |g| vec!["ZREM".into(), g.key(), m(g)])
        .template("ZRANGE", |g| {
            vec![
                "ZRANGE".into(),
                g.key(),
                "0".into(),
                "-1".into(),
                "WITHSCORES".into(),
            ]
        })
        .template("ZRANK", |g| vec!["ZRANK".into(), g.key(), m(g)])
        .template("ZPOPMIN", |g| vec!["ZPOPMIN".into(), g.key()])
        .template("ZUNIONSTORE", |g| {
            vec!["ZUNIONSTORE".into(), g.key(), "2".into(), g.key(), g.key()]
        })
        // SORT across types
        .template("SORT", |g| {
            vec![
                "SORT".into(),
                g.key(),
                "ALPHA".into(),
                "LIMIT".into(),
                "0".into(),
                "5".into(),
            ]
        })
        .template("SORT STORE", |g| {
            vec![
                "SORT".into(),
                g.key(),
                "ALPHA".into(),
                "STORE".into(),
                g.key(),
            ]
        })
}

#[test]
fn mixed_types_match_redis_resp2() {
    runner().seed(7).cases(4000).run(BIN);
}

#[test]
fn mixed_types_match_redis_resp3() {
    runner().seed(11).cases(4000).resp3(true).run(BIN);
}
