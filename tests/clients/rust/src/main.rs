//! Client-matrix check for the `redis` crate (redis-rs, sync API): every check in RESP2, then
//! again in RESP3. Reads REDIS_HOST, REDIS_PORT, REDIS_PASSWORD_FOR_TEST and CLIENTS_SKIP; exits
//! non-zero at the first wrong answer. Keys and channels start with "rs:".

use redis::{Commands, Connection, RedisError, RedisResult, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::time::{Duration, Instant};

struct Ctx {
    host: String,
    port: u16,
    password: String,
    skip: HashSet<String>,
    checks: usize,
}

impl Ctx {
    fn check<T: PartialEq + Debug>(&mut self, what: &str, got: T, want: T) {
        if got != want {
            println!("FAIL {what}: got {got:?}, want {want:?}");
            std::process::exit(1);
        }
        self.checks += 1;
        println!("ok   {what}");
    }

    /// The result must be a server error whose code (first word) is `code`.
    fn expect_error<T: Debug>(&mut self, what: &str, res: RedisResult<T>, code: &str) {
        match res {
            Ok(v) => {
                println!("FAIL {what}: no error, got {v:?}");
                std::process::exit(1);
            }
            Err(e) => self.check(what, error_code(&e), code.to_string()),
        }
    }

    fn skipped(&self, section: &str) -> bool {
        self.skip.contains(section)
    }

    fn url(&self, proto: u8, password: Option<&str>) -> String {
        let auth = password.map(|p| format!(":{p}@")).unwrap_or_default();
        format!(
            "redis://{auth}{}:{}/?protocol={}",
            self.host, self.port, proto
        )
    }

    fn conn(&self, proto: u8) -> Connection {
        self.try_conn(proto, None).unwrap_or_else(|e| {
            println!("FAIL connect: {e}");
            std::process::exit(1)
        })
    }

    fn try_conn(&self, proto: u8, password: Option<&str>) -> RedisResult<Connection> {
        redis::Client::open(self.url(proto, password))?.get_connection()
    }
}

/// The first word of a server error ("WRONGTYPE", "ERR", ...), or the error's description.
fn error_code(e: &RedisError) -> String {
    match e.code() {
        Some(code) => code.to_string(),
        None => e
            .to_string()
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string(),
    }
}

fn run(c: &mut Ctx, proto: u8) -> RedisResult<()> {
    let p = format!("rs:{proto}:");
    let k = |s: &str| format!("{p}{s}");
    let tag = format!("[resp{proto}]");
    let mut r = c.conn(proto);
    let pong: String = redis::cmd("PING").query(&mut r)?;
    c.check(&format!("{tag} ping"), pong, "PONG".into());
    let all: Vec<String> = [
        "s", "n", "l", "h", "set", "set2", "z", "w", "e", "lua", "bl", "wake",
    ]
    .iter()
    .map(|s| k(s))
    .collect();
    let _: i64 = r.del(&all)?;

    // AUTH
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg(&c.password)
        .query(&mut r)?;
    let outcome = (|| -> RedisResult<()> {
        let refused = match c.try_conn(proto, None) {
            Err(e) => Some(e),
            Ok(mut a) => a.get::<_, Option<String>>(k("s")).err(),
        };
        let code = refused.map(|e| error_code(&e)).unwrap_or_default();
        c.check(
            &format!("{tag} auth: refused without password"),
            code == "NOAUTH",
            true,
        );
        let wrong = c
            .try_conn(proto, Some("nope"))
            .and_then(|mut a| redis::cmd("PING").query::<String>(&mut a));
        c.check(
            &format!("{tag} auth: refused with a wrong password"),
            wrong.is_err(),
            true,
        );
        let mut a = c.try_conn(proto, Some(&c.password))?;
        let pong: String = redis::cmd("PING").query(&mut a)?;
        c.check(&format!("{tag} auth: with password"), pong, "PONG".into());
        Ok(())
    })();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("")
        .query(&mut r)?;
    outcome?;

    // strings with TTL
    r.set_ex::<_, _, ()>(k("s"), "v1", 100)?;
    c.check(
        &format!("{tag} get"),
        r.get::<_, String>(k("s"))?,
        "v1".into(),
    );
    let ttl: i64 = r.ttl(k("s"))?;
    c.check(
        &format!("{tag} ttl in (0,100]"),
        ttl > 0 && ttl <= 100,
        true,
    );
    let nx: Option<String> = redis::cmd("SET")
        .arg(k("s"))
        .arg("v2")
        .arg("PX")
        .arg(5000)
        .arg("NX")
        .query(&mut r)?;
    c.check(&format!("{tag} set px nx on existing"), nx, None);
    r.set::<_, _, ()>(k("n"), 10)?;
    c.check(
        &format!("{tag} incr by 5"),
        r.incr::<_, _, i64>(k("n"), 5)?,
        15,
    );
    c.check(
        &format!("{tag} incr by 0.5 (INCRBYFLOAT)"),
        r.incr::<_, _, f64>(k("n"), 0.5)?,
        15.5,
    );
    let mget: Vec<Option<String>> = r.mget(&[k("s"), k("missing")])?;
    c.check(&format!("{tag} mget"), mget, vec![Some("v1".into()), None]);
    c.check(
        &format!("{tag} persist"),
        (r.persist::<_, bool>(k("s"))?, r.ttl::<_, i64>(k("s"))?),
        (true, -1),
    );

    // lists
    c.check(
        &format!("{tag} rpush"),
        r.rpush::<_, _, i64>(k("l"), &["a", "b", "c"])?,
        3,
    );
    c.check(
        &format!("{tag} lpush"),
        r.lpush::<_, _, i64>(k("l"), "z")?,
        4,
    );
    c.check(
        &format!("{tag} lrange"),
        r.lrange::<_, Vec<String>>(k("l"), 0, -1)?,
        vec!["z".to_string(), "a".into(), "b".into(), "c".into()],
    );
    c.check(
        &format!("{tag} lpop"),
        r.lpop::<_, Option<String>>(k("l"), None)?,
        Some("z".into()),
    );
    c.check(
        &format!("{tag} rpop count"),
        r.rpop::<_, Vec<String>>(k("l"), std::num::NonZeroUsize::new(2))?,
        vec!["c".to_string(), "b".into()],
    );
    c.check(&format!("{tag} llen"), r.llen::<_, i64>(k("l"))?, 1);

    // hashes
    r.hset_multiple::<_, _, _, ()>(k("h"), &[("f1", "1"), ("f2", "two")])?;
    c.check(
        &format!("{tag} hget"),
        r.hget::<_, _, String>(k("h"), "f2")?,
        "two".into(),
    );
    let h: HashMap<String, String> = r.hgetall(k("h"))?;
    c.check(
        &format!("{tag} hgetall"),
        h.into_iter().collect::<BTreeMap<_, _>>(),
        BTreeMap::from([
            ("f1".to_string(), "1".to_string()),
            ("f2".into(), "two".into()),
        ]),
    );
    c.check(
        &format!("{tag} hincr"),
        r.hincr::<_, _, _, i64>(k("h"), "f1", 41)?,
        42,
    );
    let hm: Vec<Option<String>> = redis::cmd("HMGET")
        .arg(k("h"))
        .arg("f1")
        .arg("nope")
        .query(&mut r)?;
    c.check(&format!("{tag} hmget"), hm, vec![Some("42".into()), None]);

    if !c.skipped("sets") {
        c.check(
            &format!("{tag} sadd"),
            r.sadd::<_, _, i64>(k("set"), &["a", "b", "c"])?,
            3,
        );
        let m: HashSet<String> = r.smembers(k("set"))?;
        c.check(&format!("{tag} smembers"), m.len(), 3);
        c.check(
            &format!("{tag} sismember"),
            r.sismember::<_, _, bool>(k("set"), "b")?,
            true,
        );
        c.check(
            &format!("{tag} srem/scard"),
            (
                r.srem::<_, _, i64>(k("set"), "a")?,
                r.scard::<_, i64>(k("set"))?,
            ),
            (1, 2),
        );
        let _: i64 = r.sadd(k("set2"), &["c", "d"])?;
        c.check(
            &format!("{tag} sinter"),
            r.sinter::<_, Vec<String>>(&[k("set"), k("set2")])?,
            vec!["c".to_string()],
        );
    }
    if !c.skipped("zsets") {
        c.check(
            &format!("{tag} zadd_multiple"),
            r.zadd_multiple::<_, _, _, i64>(k("z"), &[(1.0, "a"), (2.5, "b"), (3.0, "c")])?,
            3,
        );
        let zr: Vec<(String, f64)> = r.zrange_withscores(k("z"), 0, -1)?;
        c.check(
            &format!("{tag} zrange_withscores"),
            zr,
            vec![("a".into(), 1.0), ("b".into(), 2.5), ("c".into(), 3.0)],
        );
        c.check(
            &format!("{tag} zscore"),
            r.zscore::<_, _, f64>(k("z"), "b")?,
            2.5,
        );
        c.check(
            &format!("{tag} zincr"),
            r.zincr::<_, _, _, f64>(k("z"), "a", 10)?,
            11.0,
        );
        c.check(
            &format!("{tag} zrangebyscore"),
            r.zrangebyscore::<_, _, _, Vec<String>>(k("z"), 2, 5)?,
            vec!["b".to_string(), "c".into()],
        );
        c.check(
            &format!("{tag} zrank/zcard"),
            (
                r.zrank::<_, _, i64>(k("z"), "a")?,
                r.zcard::<_, i64>(k("z"))?,
            ),
            (2, 3),
        );
    }

    // a pipeline of 1000 commands
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        if i % 2 == 0 {
            pipe.set(format!("{p}pipe:{i}"), i);
        } else {
            pipe.get(format!("{p}pipe:{}", i - 1));
        }
    }
    let res: Vec<Value> = pipe.query(&mut r)?;
    c.check(&format!("{tag} pipeline 1000 replies"), res.len(), 1000);
    let last: Option<String> = redis::from_redis_value(res[999].clone()).ok();
    c.check(
        &format!("{tag} pipeline last reply"),
        last,
        Some("998".into()),
    );
    let mut dels = redis::pipe();
    for i in (0..1000).step_by(2) {
        dels.del(format!("{p}pipe:{i}"));
    }
    let n: Vec<i64> = dels.query(&mut r)?;
    c.check(
        &format!("{tag} pipeline of 500 DELs"),
        n.iter().sum::<i64>(),
        500,
    );

    // MULTI/EXEC with WATCH: the transaction helper retries while the watched key changes
    r.set::<_, _, ()>(k("w"), 1)?;
    let mut other = c.conn(proto);
    let mut interfered = false;
    let (v,): (i64,) = redis::transaction(&mut r, &[k("w")], |con, pipe| {
        let old: i64 = con.get(k("w"))?;
        if !interfered {
            interfered = true; // the first attempt must fail: another client writes the key
            other.set::<_, _, ()>(k("w"), 100)?;
        }
        pipe.set(k("w"), old + 1)
            .ignore()
            .incr(k("w"), 1)
            .query(con)
    })?;
    c.check(
        &format!("{tag} transaction retried after a watched write"),
        v,
        102,
    );
    redis::cmd("WATCH").arg(k("w")).exec(&mut r)?;
    other.set::<_, _, ()>(k("w"), 7)?;
    let aborted: Option<(i64,)> = redis::pipe().atomic().incr(k("w"), 1).query(&mut r)?;
    c.check(
        &format!("{tag} exec after a watched write is nil"),
        aborted,
        None,
    );
    c.check(
        &format!("{tag} watched key unchanged"),
        r.get::<_, i64>(k("w"))?,
        7,
    );
    let mixed: RedisResult<(i64, i64)> = redis::pipe()
        .atomic()
        .incr(k("w"), 1)
        .lpush(k("w"), "x")
        .query(&mut r);
    // the crate reports the failed commands of a pipeline as one error listing them
    let failed: Vec<(usize, String)> = match mixed {
        Ok(v) => panic!("exec with an error inside: no error, got {v:?}"),
        Err(e) => e
            .into_server_errors()
            .map(|items| {
                items
                    .iter()
                    .map(|(i, se)| (*i, se.code().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    c.check(
        &format!("{tag} exec with an error inside"),
        failed,
        vec![(1, "WRONGTYPE".to_string())],
    );
    c.check(
        &format!("{tag} exec ran the other command"),
        r.get::<_, i64>(k("w"))?,
        8,
    );

    // Lua through redis::Script (EVALSHA, then EVAL on NOSCRIPT)
    redis::cmd("SCRIPT").arg("FLUSH").exec(&mut r)?;
    r.set::<_, _, ()>(k("lua"), 1)?;
    let script =
        redis::Script::new("return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}");
    let res: (String, String, i64) = script.key(k("lua")).arg(2).invoke(&mut r)?;
    c.check(
        &format!("{tag} script (NOSCRIPT -> EVAL)"),
        res,
        (k("lua"), "2".into(), 3),
    );
    let exists: Vec<bool> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(script.get_hash())
        .query(&mut r)?;
    c.check(&format!("{tag} script cached"), exists, vec![true]);
    let res: (String, String, i64) = script.key(k("lua")).arg(4).invoke(&mut r)?;
    c.check(
        &format!("{tag} script again (EVALSHA)"),
        res,
        (k("lua"), "4".into(), 7),
    );
    let bad = redis::Script::new("return redis.call('LPUSH', KEYS[1], 'x')")
        .key(k("lua"))
        .invoke::<i64>(&mut r);
    c.expect_error(&format!("{tag} script error"), bad, "WRONGTYPE");

    // pub/sub with a second connection
    let mut sub_con = c.conn(proto);
    let mut sub = sub_con.as_pubsub();
    sub.set_read_timeout(Some(Duration::from_secs(5)))?;
    sub.subscribe(k("chan"))?;
    sub.psubscribe(k("pat*"))?;
    c.check(
        &format!("{tag} publish receivers"),
        r.publish::<_, _, i64>(k("chan"), "hello")?,
        1,
    );
    c.check(
        &format!("{tag} publish to pattern"),
        r.publish::<_, _, i64>(k("pattern"), "hi")?,
        1,
    );
    let m1 = sub.get_message()?;
    c.check(
        &format!("{tag} message"),
        (
            m1.get_channel_name().to_string(),
            m1.get_payload::<String>()?,
        ),
        (k("chan"), "hello".into()),
    );
    let m2 = sub.get_message()?;
    c.check(
        &format!("{tag} pmessage"),
        (
            m2.get_pattern::<String>()?,
            m2.get_channel_name().to_string(),
            m2.get_payload::<String>()?,
        ),
        (k("pat*"), k("pattern"), "hi".into()),
    );
    sub.unsubscribe(k("chan"))?;
    sub.punsubscribe(k("pat*"))?;
    drop(sub);

    // SCAN iterators
    let mut setup = redis::pipe();
    for i in 0..120 {
        setup.set(format!("{p}scan:{i}"), i).ignore();
    }
    setup.exec(&mut r)?;
    let mut keys: Vec<String> = r
        .scan_match::<_, String>(format!("{p}scan:*"))?
        .collect::<RedisResult<_>>()?;
    keys.sort();
    let mut want: Vec<String> = (0..120).map(|i| format!("{p}scan:{i}")).collect();
    want.sort();
    c.check(&format!("{tag} scan_match"), keys.clone(), want);
    let _: i64 = r.del(&keys)?;
    let fields: Vec<(String, i64)> = (0..300).map(|i| (format!("f{i}"), i)).collect();
    r.hset_multiple::<_, _, _, ()>(k("hs"), &fields)?;
    let hs: Vec<(String, String)> = r
        .hscan::<_, (String, String)>(k("hs"))?
        .collect::<RedisResult<_>>()?;
    c.check(&format!("{tag} hscan"), hs.len(), 300);
    if !c.skipped("sets") {
        let _: i64 = r.sadd(k("ss"), (0..300).collect::<Vec<i64>>())?;
        let ss: HashSet<String> = r
            .sscan_match::<_, _, String>(k("ss"), "1*")?
            .collect::<RedisResult<_>>()?;
        c.check(&format!("{tag} sscan_match"), ss.len(), 111);
    }
    if !c.skipped("zsets") {
        let items: Vec<(i64, String)> = (0..300).map(|i| (i, format!("m{i}"))).collect();
        let _: i64 = r.zadd_multiple(k("zs"), &items)?;
        let zs: Vec<(String, f64)> = r
            .zscan::<_, (String, f64)>(k("zs"))?
            .collect::<RedisResult<_>>()?;
        c.check(
            &format!("{tag} zscan"),
            zs.iter().map(|(_, s)| s).sum::<f64>(),
            44850.0,
        );
    }
    let _: i64 = r.del(&[k("hs"), k("ss"), k("zs")])?;

    // blocking pop with a timeout
    let started = Instant::now();
    c.check(
        &format!("{tag} blpop timeout"),
        r.blpop::<_, Option<[String; 2]>>(k("bl"), 0.1)?,
        None,
    );
    if !c.skipped("blocking") {
        c.check(
            &format!("{tag} blpop waited for its timeout"),
            started.elapsed() >= Duration::from_millis(90),
            true,
        );
    }
    let _: i64 = r.rpush(k("bl"), "x")?;
    c.check(
        &format!("{tag} blpop ready"),
        r.blpop::<_, Option<[String; 2]>>(k("bl"), 1.0)?,
        Some([k("bl"), "x".into()]),
    );
    if !c.skipped("blocking") {
        let url = c.url(proto, None);
        let key = k("wake");
        let waiter = std::thread::spawn(move || -> RedisResult<Option<[String; 2]>> {
            let mut con = redis::Client::open(url)?.get_connection()?;
            con.blpop(key, 5.0)
        });
        for _ in 0..500 {
            let info: String = redis::cmd("INFO").arg("clients").query(&mut r)?;
            if !info.contains("blocked_clients:0") {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _: i64 = r.rpush(k("wake"), "w")?;
        let got = waiter
            .join()
            .map_err(|_| RedisError::from((redis::ErrorKind::Client, "thread panicked")))??;
        c.check(
            &format!("{tag} blpop woken by rpush"),
            got,
            Some([k("wake"), "w".into()]),
        );
    }

    // errors surface as RedisError with the server's code
    r.set::<_, _, ()>(k("e"), "string")?;
    c.expect_error(
        &format!("{tag} WRONGTYPE"),
        r.lpush::<_, _, i64>(k("e"), "x"),
        "WRONGTYPE",
    );
    c.expect_error(
        &format!("{tag} not an integer"),
        r.incr::<_, _, i64>(k("e"), 1),
        "ERR",
    );
    c.expect_error(
        &format!("{tag} unknown command"),
        redis::cmd("NOSUCHCOMMAND").query::<Value>(&mut r),
        "ERR",
    );

    let _: i64 = r.del(&all)?;
    Ok(())
}

fn main() {
    let mut c = Ctx {
        host: std::env::var("REDIS_HOST").unwrap_or_else(|_| "127.0.0.1".into()),
        port: std::env::var("REDIS_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(6379),
        password: std::env::var("REDIS_PASSWORD_FOR_TEST")
            .unwrap_or_else(|_| "ferrokv-matrix-secret".into()),
        skip: std::env::var("CLIENTS_SKIP")
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        checks: 0,
    };
    for proto in [2, 3] {
        if let Err(e) = run(&mut c, proto) {
            println!("FAIL [resp{proto}] unexpected error: {e}");
            std::process::exit(1);
        }
    }
    println!("rust redis {}: {} checks passed", "1.8.1", c.checks);
}
