"""Client-matrix check for redis-py: the whole list of checks in RESP2, then again in RESP3.

Reads REDIS_HOST, REDIS_PORT and REDIS_PASSWORD_FOR_TEST; exits non-zero at the first wrong answer.
Every key and channel starts with "py:" so the languages of the matrix do not collide.
"""

import os
import sys
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

HOST = os.environ.get("REDIS_HOST", "127.0.0.1")
PORT = int(os.environ.get("REDIS_PORT", "6379"))
PASSWORD = os.environ.get("REDIS_PASSWORD_FOR_TEST", "ferrokv-matrix-secret")
checks = 0
# sections to leave out (comma-separated), e.g. CLIENTS_SKIP=sets,zsets,blocking on a server without them
SKIP = set(filter(None, os.environ.get("CLIENTS_SKIP", "").split(",")))


def check(what, got, want):
    global checks
    if got != want:
        print(f"FAIL {what}: got {got!r}, want {want!r}", flush=True)
        sys.exit(1)
    checks += 1
    print(f"ok   {what}", flush=True)


def expect_error(what, fn, cls, prefix):
    try:
        got = fn()
    except cls as e:
        if prefix is not None:
            check(what, str(e).split(" ")[0], prefix)
        else:
            check(what, type(e).__name__, cls.__name__)
        return
    print(f"FAIL {what}: no {cls.__name__}, got {got!r}", flush=True)
    sys.exit(1)


# every key the checks use (after the prefix), deleted before and after
KEYS = ("s", "n", "l", "h", "set", "set2", "z", "w", "e", "lua", "bl", "l2", "l3", "z2", "s2", "ks1", "ks2", "cc",
        "lock", "hs", "ss", "zs", "wake")


def pairs(reply):
    """WITHSCORES replies are tuples in RESP2 and lists in RESP3: compare them as tuples."""
    return [tuple(e) for e in reply]


def client(proto, **kw):
    # no retries: a refused login must fail at once, not after back-off
    return redis.Redis(host=HOST, port=PORT, protocol=proto, decode_responses=True,
                       retry=Retry(NoBackoff(), 0), **kw)


def run(proto):
    p = f"py:{proto}:"
    r = client(proto)
    tag = f"[resp{proto}]"
    check(f"{tag} ping", r.ping(), True)
    r.delete(*[p + k for k in KEYS])

    # auth: set a password, check NOAUTH and a good login, reset it
    r.config_set("requirepass", PASSWORD)
    try:
        expect_error(f"{tag} auth: no password", lambda: client(proto).get(p + "s"),
                     redis.exceptions.AuthenticationError, None)
        authed = client(proto, password=PASSWORD)
        check(f"{tag} auth: with password", authed.ping(), True)
        expect_error(f"{tag} auth: wrong password", lambda: client(proto, password="nope").ping(),
                     redis.exceptions.AuthenticationError, "invalid")
        authed.close()
    finally:
        r.config_set("requirepass", "")
    check(f"{tag} auth: reset", client(proto).ping(), True)

    # strings with TTL
    check(f"{tag} set ex", r.set(p + "s", "v1", ex=100), True)
    check(f"{tag} get", r.get(p + "s"), "v1")
    ttl = r.ttl(p + "s")
    check(f"{tag} ttl in (0,100]", 0 < ttl <= 100, True)
    check(f"{tag} set px nx (exists)", r.set(p + "s", "v2", px=5000, nx=True), None)
    check(f"{tag} incrby", (r.set(p + "n", 10), r.incrby(p + "n", 5))[1], 15)
    check(f"{tag} incrbyfloat", r.incrbyfloat(p + "n", 0.5), 15.5)
    check(f"{tag} mget", r.mget(p + "s", p + "missing"), ["v1", None])
    check(f"{tag} persist", (r.persist(p + "s"), r.ttl(p + "s")), (True, -1))
    check(f"{tag} pexpire/pttl", (r.pexpire(p + "s", 50000), 0 < r.pttl(p + "s") <= 50000), (True, True))

    # lists
    check(f"{tag} rpush", r.rpush(p + "l", "a", "b", "c"), 3)
    check(f"{tag} lpush", r.lpush(p + "l", "z"), 4)
    check(f"{tag} lrange", r.lrange(p + "l", 0, -1), ["z", "a", "b", "c"])
    check(f"{tag} lpop", r.lpop(p + "l"), "z")
    check(f"{tag} rpop count", r.rpop(p + "l", 2), ["c", "b"])
    check(f"{tag} llen", r.llen(p + "l"), 1)
    check(f"{tag} lindex", r.lindex(p + "l", 0), "a")

    # hashes
    check(f"{tag} hset mapping", r.hset(p + "h", mapping={"f1": "1", "f2": "two"}), 2)
    check(f"{tag} hget", r.hget(p + "h", "f2"), "two")
    check(f"{tag} hgetall", r.hgetall(p + "h"), {"f1": "1", "f2": "two"})
    check(f"{tag} hincrby", r.hincrby(p + "h", "f1", 41), 42)
    check(f"{tag} hmget", r.hmget(p + "h", ["f1", "nope"]), ["42", None])
    check(f"{tag} hdel/hlen", (r.hdel(p + "h", "f2"), r.hlen(p + "h")), (1, 1))

    # sets
    if "sets" not in SKIP:
        check(f"{tag} sadd", r.sadd(p + "set", "a", "b", "c"), 3)
        check(f"{tag} smembers", r.smembers(p + "set"), {"a", "b", "c"})
        check(f"{tag} sismember", r.sismember(p + "set", "b"), True)
        check(f"{tag} srem/scard", (r.srem(p + "set", "a"), r.scard(p + "set")), (1, 2))
        r.sadd(p + "set2", "c", "d")
        check(f"{tag} sinter", r.sinter(p + "set", p + "set2"), {"c"})

    # sorted sets
    if "zsets" not in SKIP:
        check(f"{tag} zadd", r.zadd(p + "z", {"a": 1, "b": 2.5, "c": 3}), 3)
        check(f"{tag} zrange withscores", pairs(r.zrange(p + "z", 0, -1, withscores=True)),
              [("a", 1.0), ("b", 2.5), ("c", 3.0)])
        check(f"{tag} zscore", r.zscore(p + "z", "b"), 2.5)
        check(f"{tag} zincrby", r.zincrby(p + "z", 10, "a"), 11.0)
        check(f"{tag} zrangebyscore", r.zrangebyscore(p + "z", 2, 5), ["b", "c"])
        check(f"{tag} zrank/zcard", (r.zrank(p + "z", "a"), r.zcard(p + "z")), (2, 3))
        check(f"{tag} zpopmin", pairs(r.zpopmin(p + "z", 1)), [("b", 2.5)])

    # a pipeline of 1000 commands (not transactional)
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"{p}pipe:{i}", i) if i % 2 == 0 else pipe.get(f"{p}pipe:{i - 1}")
    res = pipe.execute()
    check(f"{tag} pipeline 1000 replies", len(res), 1000)
    check(f"{tag} pipeline replies", res[:4] + res[-2:], [True, "0", True, "2", True, "998"])
    r.delete(*[f"{p}pipe:{i}" for i in range(0, 1000, 2)])

    # MULTI/EXEC with WATCH (the helper retries on WatchError)
    r.set(p + "w", 1)

    def incr_twice(pipe):
        v = int(pipe.get(p + "w"))
        pipe.multi()
        pipe.set(p + "w", v + 1)
        pipe.incr(p + "w")

    check(f"{tag} transaction helper", r.transaction(incr_twice, p + "w"), [True, 3])
    with r.pipeline() as pipe:
        pipe.watch(p + "w")
        r.set(p + "w", 100)  # another client changes the watched key
        pipe.multi()
        pipe.incr(p + "w")
        expect_error(f"{tag} watch conflict", pipe.execute, redis.exceptions.WatchError, "Watched")
    check(f"{tag} watched key unchanged", r.get(p + "w"), "100")
    with r.pipeline() as pipe:
        pipe.multi()
        pipe.incr(p + "w")
        pipe.lpush(p + "w", "x")  # WRONGTYPE inside EXEC
        pipe.get(p + "w")
        res = pipe.execute(raise_on_error=False)
    check(f"{tag} exec with error: results", (res[0], res[2]), (101, "101"))
    check(f"{tag} exec with error: type", isinstance(res[1], redis.exceptions.ResponseError), True)

    # Lua through the script helper: EVALSHA, falling back to EVAL after SCRIPT FLUSH
    r.script_flush()
    script = r.register_script("return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}")
    r.set(p + "lua", 1)
    check(f"{tag} script (NOSCRIPT -> EVAL)", script(keys=[p + "lua"], args=[2]), [p + "lua", "2", 3])
    check(f"{tag} script cached (EVALSHA)", r.script_exists(script.sha), [True])
    check(f"{tag} script again", script(keys=[p + "lua"], args=[4]), [p + "lua", "4", 7])
    expect_error(f"{tag} script error", lambda: r.eval("return redis.call('LPUSH', KEYS[1], 'x')", 1, p + "lua"),
                 redis.exceptions.ResponseError, "WRONGTYPE")

    # pub/sub with a second connection
    sub = client(proto).pubsub()
    sub.subscribe(p + "chan")
    sub.psubscribe(p + "pat*")
    confirmations = [sub.get_message(timeout=5) for _ in range(2)]
    check(f"{tag} subscribe confirmations", sorted(m["type"] for m in confirmations), ["psubscribe", "subscribe"])
    check(f"{tag} publish receivers", r.publish(p + "chan", "hello"), 1)
    msg = sub.get_message(timeout=5)
    check(f"{tag} message", (msg["type"], msg["channel"], msg["data"]), ("message", p + "chan", "hello"))
    check(f"{tag} publish to pattern", r.publish(p + "pattern", "hi"), 1)
    msg = sub.get_message(timeout=5)
    check(f"{tag} pmessage", (msg["type"], msg["pattern"], msg["channel"], msg["data"]),
          ("pmessage", p + "pat*", p + "pattern", "hi"))
    check(f"{tag} pubsub numsub", r.pubsub_numsub(p + "chan"), [(p + "chan", 1)])
    if proto == 2:  # PING while subscribed answers a pong message (redis-py mangles the RESP3 one)
        sub.ping("hello")
        msg = sub.get_message(timeout=5)
        check(f"{tag} ping while subscribed", (msg["type"], msg["data"]), ("pong", "hello"))
    sub.unsubscribe()
    sub.punsubscribe()
    sub.close()
    # sharded pub/sub (Redis 7.0)
    ssub = client(proto).pubsub()
    ssub.ssubscribe(p + "shard")
    check(f"{tag} ssubscribe confirmation", ssub.get_sharded_message(timeout=5)["type"], "ssubscribe")
    check(f"{tag} spublish receivers", r.spublish(p + "shard", "sharded"), 1)
    msg = ssub.get_sharded_message(timeout=5)
    check(f"{tag} smessage", (msg["type"], msg["channel"], msg["data"]), ("smessage", p + "shard", "sharded"))
    ssub.close()

    # SCAN iteration helpers
    pipe = r.pipeline(transaction=False)
    for i in range(120):
        pipe.set(f"{p}scan:{i}", i)
    pipe.execute()
    check(f"{tag} scan_iter", sorted(r.scan_iter(match=p + "scan:*", count=10)),
          sorted(f"{p}scan:{i}" for i in range(120)))
    check(f"{tag} scan_iter type", list(r.scan_iter(match=p + "scan:*", _type="list")), [])
    r.delete(*[f"{p}scan:{i}" for i in range(120)])
    r.hset(p + "hs", mapping={f"f{i}": i for i in range(300)})
    check(f"{tag} hscan_iter", len(dict(r.hscan_iter(p + "hs", count=20))), 300)
    if "sets" not in SKIP:
        r.sadd(p + "ss", *range(300))
        check(f"{tag} sscan_iter", len(set(r.sscan_iter(p + "ss", match="1*"))), 111)
    if "zsets" not in SKIP:
        r.zadd(p + "zs", {f"m{i}": i for i in range(300)})
        check(f"{tag} zscan_iter", sum(s for _, s in r.zscan_iter(p + "zs")), float(sum(range(300))))
    r.delete(p + "hs", p + "ss", p + "zs")

    # blocking pop with a timeout on an empty key
    started = time.monotonic()
    check(f"{tag} blpop timeout", r.blpop([p + "bl"], timeout=0.1), None)
    if "blocking" not in SKIP:
        check(f"{tag} blpop waited for its timeout", time.monotonic() - started >= 0.09, True)
    r.rpush(p + "bl", "x")
    check(f"{tag} blpop ready", tuple(r.blpop([p + "bl"], timeout=1)), (p + "bl", "x"))

    # errors surface as the library's exception types
    r.set(p + "e", "string")
    expect_error(f"{tag} WRONGTYPE", lambda: r.lpush(p + "e", "x"), redis.exceptions.ResponseError, "WRONGTYPE")
    expect_error(f"{tag} not an integer", lambda: r.incr(p + "e"), redis.exceptions.ResponseError, "value")
    expect_error(f"{tag} unknown command", lambda: r.execute_command("NOSUCHCOMMAND"),
                 redis.exceptions.ResponseError, "unknown")

    # what client code reads from the server: INFO parsing, client names, key types, newer options
    info = r.info()
    check(f"{tag} info parses: redis_version", isinstance(info.get("redis_version"), str), True)
    check(f"{tag} info parses: connected_clients", isinstance(info.get("connected_clients"), int), True)
    check(f"{tag} info keyspace section", "db0" in r.info("keyspace"), True)
    named = client(proto, client_name=p + "named")
    check(f"{tag} client_name on connect", named.client_getname(), p + "named")
    check(f"{tag} client_list has the name", any(c["name"] == p + "named" for c in r.client_list()), True)
    named.close()
    check(f"{tag} type", (r.type(p + "e"), r.type(p + "l"), r.type(p + "h")), ("string", "list", "hash"))
    check(f"{tag} getex", (r.getex(p + "e", px=60000), 0 < r.pttl(p + "e") <= 60000), ("string", True))
    check(f"{tag} expire nx", (r.expire(p + "e", 100, nx=True), r.expire(p + "e", 100, xx=True)), (False, True))
    r.delete(p + "l2")
    r.rpush(p + "l2", "a", "b", "c")
    check(f"{tag} lmpop", r.lmpop(2, p + "nothing", p + "l2", direction="RIGHT", count=2), [p + "l2", ["c", "b"]])
    check(f"{tag} lpos", r.lpos(p + "l2", "a"), 0)
    check(f"{tag} copy", (r.copy(p + "l2", p + "l3"), r.lrange(p + "l3", 0, -1)), (True, ["a"]))
    if "zsets" not in SKIP:
        r.delete(p + "z2")
        check(f"{tag} zadd gt ch", (r.zadd(p + "z2", {"a": 1}), r.zadd(p + "z2", {"a": 0}, gt=True, ch=True),
                                    r.zadd(p + "z2", {"a": 5}, gt=True, ch=True)), (1, 0, 1))
        r.zadd(p + "z2", {"b": 2, "c": 3, "d": 0.1})
        check(f"{tag} zrange byscore desc limit", r.zrange(p + "z2", 5, 0, desc=True, byscore=True, offset=1, num=2),
              ["c", "b"])
        check(f"{tag} zscore of 0.1", r.zscore(p + "z2", "d"), 0.1)
        check(f"{tag} zmscore", r.zmscore(p + "z2", ["a", "nope"]), [5.0, None])
        check(f"{tag} zrandmember", r.zrandmember(p + "z2") in {"a", "b", "c", "d"}, True)
    if "sets" not in SKIP:
        r.delete(p + "s2")
        r.sadd(p + "s2", "x", "y")
        check(f"{tag} smismember", r.smismember(p + "s2", ["x", "z"]), [1, 0])
        check(f"{tag} sintercard", r.sintercard(1, [p + "s2"]), 2)
        check(f"{tag} spop count", len(r.spop(p + "s2", 5)), 2)
    check(f"{tag} hrandfield", r.hrandfield(p + "h") in {"f1"}, True)
    check(f"{tag} dbsize is an int", isinstance(r.dbsize(), int), True)
    check(f"{tag} time", len(r.time()), 2)
    check(f"{tag} echo", r.echo("héllo"), "héllo")

    # introspection replies through redis-py's parsers
    commands = r.command()
    check(f"{tag} command: get", (commands["get"]["arity"], "readonly" in commands["get"]["flags"]), (2, True))
    check(f"{tag} command count", r.command_count() == len(commands), True)
    check(f"{tag} command getkeys", r.command_getkeys("MSET", "a", "1", "b", "2"), ["a", "b"])
    check(f"{tag} config get *", "maxmemory" in r.config_get("*"), True)
    check(f"{tag} client_info", int(r.client_info()["db"]), 0)
    server_version = tuple(int(x) for x in info["redis_version"].split(".")[:2])
    if server_version >= (7, 2):  # redis-py sends CLIENT SETINFO on connect (the command is 7.2+)
        ci = r.client_info()
        check(f"{tag} CLIENT SETINFO lib-name/lib-ver", (ci.get("lib-name"), ci.get("lib-ver")),
              ("redis-py", redis.__version__))
    check(f"{tag} slowlog_get parses", isinstance(r.slowlog_get(1), list), True)
    check(f"{tag} memory_usage", isinstance(r.memory_usage(p + "h"), int), True)
    check(f"{tag} lastsave", r.lastsave().year >= 2000, True)

    # redis-py's Lock (SET NX PX plus its own Lua scripts for release/extend/reacquire)
    lock = r.lock(p + "lock", timeout=5, blocking_timeout=1)
    check(f"{tag} lock acquire", lock.acquire(), True)
    check(f"{tag} lock held", (lock.locked(), lock.owned()), (True, True))
    check(f"{tag} second lock waits and fails", r.lock(p + "lock", blocking_timeout=0.1).acquire(), False)
    check(f"{tag} lock extend", (lock.extend(5), 5000 < r.pttl(p + "lock") <= 10000), (True, True))
    lock.release()
    check(f"{tag} lock released", r.exists(p + "lock"), 0)

    # keyspace notifications through pub/sub
    old = r.config_get("notify-keyspace-events")["notify-keyspace-events"]
    r.config_set("notify-keyspace-events", "KEA")
    try:
        ks = client(proto).pubsub(ignore_subscribe_messages=True)
        ks.psubscribe(f"__keyspace@0__:{p}ks*")
        ks.get_message(timeout=1)  # the psubscribe confirmation
        r.set(p + "ks1", "v")
        r.lpush(p + "ks2", "x")
        events = []
        for _ in range(20):
            m = ks.get_message(timeout=1)
            if m:
                events.append((m["channel"], m["data"]))
            if len(events) == 2:
                break
        check(f"{tag} keyspace events", events,
              [(f"__keyspace@0__:{p}ks1", "set"), (f"__keyspace@0__:{p}ks2", "lpush")])
        ks.close()
    finally:
        r.config_set("notify-keyspace-events", old)

    # client-side caching (RESP3, CLIENT TRACKING): redis-py refuses it before Redis 7.4, so the
    # 7.0 oracle cannot run it; ferrokv reports 7.4
    version = tuple(int(x) for x in info["redis_version"].split(".")[:2])
    if proto == 3 and "tracking" not in SKIP and version >= (7, 4):
        from redis.cache import CacheConfig

        cached = client(3, cache_config=CacheConfig())
        r.set(p + "cc", "v1")
        check(f"{tag} cached get", (cached.get(p + "cc"), cached.get(p + "cc")), ("v1", "v1"))
        check(f"{tag} the value is in the local cache", len(cached.get_cache().collection) >= 1, True)
        r.set(p + "cc", "v2")  # another client writes: the server sends an invalidation
        seen = None
        for _ in range(200):
            seen = cached.get(p + "cc")
            if seen == "v2":
                break
            time.sleep(0.01)
        check(f"{tag} invalidation reaches the cache", seen, "v2")
        cached.close()

    r.delete(*[p + k for k in KEYS])
    r.close()


def wakeup(proto):
    """Blocking commands woken by a write from another connection (BLPOP, BLMOVE, BZPOPMIN)."""
    p = f"py:{proto}:"
    r = client(proto)
    r.delete(p + "wake", p + "wake2", p + "wakez")

    def woken_by(what, call, write):
        got = {}
        t = threading.Thread(target=lambda: got.setdefault("v", call(client(proto))))
        before = int(r.info("clients")["blocked_clients"])
        t.start()
        # wait until the other connection is blocked, then write
        for _ in range(500):
            if int(r.info("clients")["blocked_clients"]) > before:
                break
            time.sleep(0.01)
        write()
        t.join()
        return got["v"]

    got = woken_by("blpop", lambda c: c.blpop([p + "wake"], timeout=5), lambda: r.rpush(p + "wake", "w"))
    check(f"[resp{proto}] blpop woken by rpush", list(got), [p + "wake", "w"])
    got = woken_by("blmove", lambda c: c.blmove(p + "wake", p + "wake2", 5, "LEFT", "RIGHT"),
                   lambda: r.rpush(p + "wake", "m"))
    check(f"[resp{proto}] blmove woken by rpush", (got, r.lrange(p + "wake2", 0, -1)), ("m", ["m"]))
    if "zsets" not in SKIP:
        got = woken_by("bzpopmin", lambda c: c.bzpopmin([p + "wakez"], timeout=5),
                       lambda: r.zadd(p + "wakez", {"z": 1.5}))
        check(f"[resp{proto}] bzpopmin woken by zadd", list(got), [p + "wakez", "z", 1.5])
    r.delete(p + "wake", p + "wake2", p + "wakez")


async def run_async(proto):
    """redis.asyncio: the same wire protocol through the asyncio connection code."""
    import asyncio

    import redis.asyncio as aredis

    p = f"py:async:{proto}:"
    tag = f"[asyncio resp{proto}]"
    r = aredis.Redis(host=HOST, port=PORT, protocol=proto, decode_responses=True)
    check(f"{tag} ping", await r.ping(), True)
    async with r.pipeline(transaction=False) as pipe:
        for i in range(1000):
            pipe.incr(p + "counter")
        res = await pipe.execute()
    check(f"{tag} pipeline of 1000 INCRs", (len(res), res[-1]), (1000, 1000))
    async with r.pipeline(transaction=True) as pipe:
        res = await pipe.set(p + "k", "v").get(p + "k").execute()
    check(f"{tag} multi/exec", res, [True, "v"])
    ps = r.pubsub()
    await ps.subscribe(p + "chan")
    check(f"{tag} subscribe", (await ps.get_message(timeout=5))["type"], "subscribe")
    check(f"{tag} publish", await r.publish(p + "chan", "hi"), 1)
    msg = await ps.get_message(timeout=5)
    check(f"{tag} message", (msg["channel"], msg["data"]), (p + "chan", "hi"))
    await ps.aclose()
    if "blocking" not in SKIP:
        waiter = aredis.Redis(host=HOST, port=PORT, protocol=proto, decode_responses=True)
        task = asyncio.create_task(waiter.blpop([p + "wake"], timeout=5))
        for _ in range(500):
            if int((await r.info("clients"))["blocked_clients"]) > 0:
                break
            await asyncio.sleep(0.01)
        await r.rpush(p + "wake", "w")
        check(f"{tag} blpop woken by rpush", list(await task), [p + "wake", "w"])
        await waiter.aclose()
    await r.delete(p + "counter", p + "k", p + "wake")
    await r.aclose()


if __name__ == "__main__":
    import asyncio

    for proto in (2, 3):
        run(proto)
        if "blocking" not in SKIP:
            wakeup(proto)
        asyncio.run(run_async(proto))
    print(f"python redis-py {redis.__version__}: {checks} checks passed")
