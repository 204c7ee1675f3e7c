// Client-matrix check for ioredis: every check with protocol 2, then with protocol 3 (ioredis's
// default, "legacy" reply mapping). Reads REDIS_HOST, REDIS_PORT, REDIS_PASSWORD_FOR_TEST and
// CLIENTS_SKIP; exits non-zero at the first wrong answer. Keys and channels start with "io:".
'use strict';
const assert = require('node:assert');
const Redis = require('ioredis');
const { ReplyError } = require('ioredis');

const HOST = process.env.REDIS_HOST || '127.0.0.1';
const PORT = Number(process.env.REDIS_PORT || 6379);
const PASSWORD = process.env.REDIS_PASSWORD_FOR_TEST || 'ferrokv-matrix-secret';
const SKIP = new Set((process.env.CLIENTS_SKIP || '').split(',').filter(Boolean));
let checks = 0;

function check(what, got, want) {
  try {
    assert.deepStrictEqual(got, want);
  } catch {
    console.log(`FAIL ${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    process.exit(1);
  }
  checks++;
  console.log(`ok   ${what}`);
}

async function expectError(what, promise, prefix) {
  let got;
  try {
    got = await promise;
  } catch (e) {
    if (!(e instanceof ReplyError)) {
      console.log(`FAIL ${what}: ${e.constructor.name} is not a ReplyError: ${e.message}`);
      process.exit(1);
    }
    check(what, e.message.split(' ')[0], prefix);
    return;
  }
  console.log(`FAIL ${what}: no ReplyError, got ${JSON.stringify(got)}`);
  process.exit(1);
}

function client(protocol, extra = {}) {
  const c = new Redis({
    host: HOST, port: PORT, protocol, lazyConnect: true,
    retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: true, ...extra,
  });
  c.on('error', () => {});
  c.defineCommand('incrEcho', {
    numberOfKeys: 1,
    lua: "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}",
  });
  return c;
}

async function drain(stream) {
  const out = [];
  for await (const batch of stream) out.push(...batch);
  return out;
}

async function run(proto) {
  const p = `io:${proto}:`;
  const tag = `[resp${proto}]`;
  const r = client(proto);
  await r.connect();
  check(`${tag} ping`, await r.ping(), 'PONG');
  await r.del(...['s', 'n', 'l', 'h', 'set', 'set2', 'z', 'w', 'e', 'lua', 'bl'].map((k) => p + k));

  // AUTH
  await r.config('SET', 'requirepass', PASSWORD);
  try {
    const noauth = client(proto);
    const seen = [];
    noauth.on('error', (e) => seen.push(e.message));
    try {
      await noauth.connect();
      seen.push(`connected: ${await noauth.get(p + 's')}`);
    } catch (e) {
      seen.push(e.message);
    }
    // ioredis reports the NOAUTH reply to its ready check as an 'error' event, then closes
    const refused = seen.some((m) => /NOAUTH|HELLO must be called/.test(m));
    noauth.disconnect();
    check(`${tag} auth: no password refused`, refused, true);
    const authed = client(proto, { password: PASSWORD });
    await authed.connect();
    check(`${tag} auth: with password`, await authed.ping(), 'PONG');
    authed.disconnect();
  } finally {
    await r.config('SET', 'requirepass', '');
  }

  // strings with TTL
  check(`${tag} set EX`, await r.set(p + 's', 'v1', 'EX', 100), 'OK');
  check(`${tag} get`, await r.get(p + 's'), 'v1');
  const ttl = await r.ttl(p + 's');
  check(`${tag} ttl in (0,100]`, ttl > 0 && ttl <= 100, true);
  check(`${tag} set PX NX on existing`, await r.set(p + 's', 'v2', 'PX', 5000, 'NX'), null);
  await r.set(p + 'n', 10);
  check(`${tag} incrby`, await r.incrby(p + 'n', 5), 15);
  check(`${tag} incrbyfloat`, await r.incrbyfloat(p + 'n', 0.5), '15.5');
  check(`${tag} mget`, await r.mget(p + 's', p + 'missing'), ['v1', null]);
  check(`${tag} persist`, [await r.persist(p + 's'), await r.ttl(p + 's')], [1, -1]);

  // lists
  check(`${tag} rpush`, await r.rpush(p + 'l', 'a', 'b', 'c'), 3);
  check(`${tag} lpush`, await r.lpush(p + 'l', 'z'), 4);
  check(`${tag} lrange`, await r.lrange(p + 'l', 0, -1), ['z', 'a', 'b', 'c']);
  check(`${tag} lpop`, await r.lpop(p + 'l'), 'z');
  check(`${tag} rpop count`, await r.rpop(p + 'l', 2), ['c', 'b']);
  check(`${tag} llen`, await r.llen(p + 'l'), 1);

  // hashes
  check(`${tag} hset object`, await r.hset(p + 'h', { f1: '1', f2: 'two' }), 2);
  check(`${tag} hget`, await r.hget(p + 'h', 'f2'), 'two');
  check(`${tag} hgetall`, await r.hgetall(p + 'h'), { f1: '1', f2: 'two' });
  check(`${tag} hincrby`, await r.hincrby(p + 'h', 'f1', 41), 42);
  check(`${tag} hmget`, await r.hmget(p + 'h', 'f1', 'nope'), ['42', null]);

  if (!SKIP.has('sets')) {
    check(`${tag} sadd`, await r.sadd(p + 'set', 'a', 'b', 'c'), 3);
    check(`${tag} smembers`, (await r.smembers(p + 'set')).sort(), ['a', 'b', 'c']);
    check(`${tag} sismember`, await r.sismember(p + 'set', 'b'), 1);
    check(`${tag} srem/scard`, [await r.srem(p + 'set', 'a'), await r.scard(p + 'set')], [1, 2]);
    await r.sadd(p + 'set2', 'c', 'd');
    check(`${tag} sinter`, await r.sinter(p + 'set', p + 'set2'), ['c']);
  }
  if (!SKIP.has('zsets')) {
    check(`${tag} zadd`, await r.zadd(p + 'z', 1, 'a', 2.5, 'b', 3, 'c'), 3);
    check(`${tag} zrange withscores`, await r.zrange(p + 'z', 0, -1, 'WITHSCORES'), ['a', '1', 'b', '2.5', 'c', '3']);
    check(`${tag} zscore`, await r.zscore(p + 'z', 'b'), '2.5');
    check(`${tag} zincrby`, await r.zincrby(p + 'z', 10, 'a'), '11');
    check(`${tag} zrangebyscore`, await r.zrangebyscore(p + 'z', 2, 5), ['b', 'c']);
    check(`${tag} zrank/zcard`, [await r.zrank(p + 'z', 'a'), await r.zcard(p + 'z')], [2, 3]);
    check(`${tag} zpopmin`, await r.zpopmin(p + 'z'), ['b', '2.5']);
  }

  // a pipeline of 1000 commands
  const pipe = r.pipeline();
  for (let i = 0; i < 1000; i++) {
    if (i % 2 === 0) pipe.set(`${p}pipe:${i}`, i);
    else pipe.get(`${p}pipe:${i - 1}`);
  }
  const res = await pipe.exec();
  check(`${tag} pipeline 1000 replies`, res.length, 1000);
  check(`${tag} pipeline no errors`, res.every(([err]) => err === null), true);
  check(`${tag} pipeline replies`, [...res.slice(0, 4), ...res.slice(-2)].map(([, v]) => v), ['OK', '0', 'OK', '2', 'OK', '998']);
  const dels = await r.pipeline(Array.from({ length: 500 }, (_, i) => ['del', `${p}pipe:${2 * i}`])).exec();
  check(`${tag} pipeline of arrays`, dels.reduce((a, [, v]) => a + v, 0), 500);

  // MULTI/EXEC with WATCH
  await r.set(p + 'w', 1);
  await r.watch(p + 'w');
  const v = Number(await r.get(p + 'w'));
  check(`${tag} multi/exec`, await r.multi().set(p + 'w', v + 1).incr(p + 'w').exec(), [[null, 'OK'], [null, 3]]);
  const other = client(proto);
  await other.connect();
  await r.watch(p + 'w');
  await other.set(p + 'w', 100);
  check(`${tag} watch conflict: exec is null`, await r.multi().incr(p + 'w').exec(), null);
  check(`${tag} watched key unchanged`, await r.get(p + 'w'), '100');
  const mixed = await r.multi().incr(p + 'w').lpush(p + 'w', 'x').get(p + 'w').exec();
  check(`${tag} exec with an error: values`, [mixed[0][1], mixed[2][1]], [101, '101']);
  check(`${tag} exec with an error: ReplyError`, mixed[1][0] instanceof ReplyError && mixed[1][0].message.startsWith('WRONGTYPE'), true);

  // Lua through defineCommand (EVALSHA, falling back to EVAL on NOSCRIPT)
  await r.script('FLUSH');
  await r.set(p + 'lua', 1);
  check(`${tag} script (NOSCRIPT -> EVAL)`, await r.incrEcho(p + 'lua', 2), [p + 'lua', '2', 3]);
  check(`${tag} script again (EVALSHA)`, await r.incrEcho(p + 'lua', 4), [p + 'lua', '4', 7]);
  await expectError(`${tag} script error`, r.eval("return redis.call('LPUSH', KEYS[1], 'x')", 1, p + 'lua'), 'WRONGTYPE');

  // pub/sub with a second connection
  const sub = client(proto);
  await sub.connect();
  const got = [];
  let wake = () => {};
  sub.on('message', (ch, msg) => { got.push(['message', ch, msg]); wake(); });
  sub.on('pmessage', (pat, ch, msg) => { got.push(['pmessage', pat, ch, msg]); wake(); });
  check(`${tag} subscribe count`, await sub.subscribe(p + 'chan'), 1);
  check(`${tag} psubscribe count`, await sub.psubscribe(p + 'pat*'), 2);
  check(`${tag} publish receivers`, await r.publish(p + 'chan', 'hello'), 1);
  check(`${tag} publish to pattern`, await r.publish(p + 'pattern', 'hi'), 1);
  await Promise.race([
    new Promise((resolve) => { wake = () => got.length >= 2 && resolve(); wake(); }),
    new Promise((resolve) => setTimeout(resolve, 5000)),
  ]);
  check(`${tag} messages`, got, [['message', p + 'chan', 'hello'], ['pmessage', p + 'pat*', p + 'pattern', 'hi']]);
  check(`${tag} pubsub numsub`, await r.pubsub('NUMSUB', p + 'chan'), [p + 'chan', 1]);
  sub.disconnect();

  // SCAN streams
  await r.pipeline(Array.from({ length: 120 }, (_, i) => ['set', `${p}scan:${i}`, i])).exec();
  const keys = await drain(r.scanStream({ match: p + 'scan:*', count: 10 }));
  check(`${tag} scanStream`, keys.sort(), Array.from({ length: 120 }, (_, i) => `${p}scan:${i}`).sort());
  await r.del(...keys);
  const fields = {};
  for (let i = 0; i < 300; i++) fields[`f${i}`] = i;
  await r.hset(p + 'hs', fields);
  check(`${tag} hscanStream`, (await drain(r.hscanStream(p + 'hs', { count: 20 }))).length, 600);
  if (!SKIP.has('sets')) {
    await r.sadd(p + 'ss', ...Array.from({ length: 300 }, (_, i) => i));
    check(`${tag} sscanStream`, new Set(await drain(r.sscanStream(p + 'ss', { match: '1*' }))).size, 111);
  }
  if (!SKIP.has('zsets')) {
    await r.zadd(p + 'zs', ...Array.from({ length: 300 }, (_, i) => [i, `m${i}`]).flat());
    const flat = await drain(r.zscanStream(p + 'zs'));
    check(`${tag} zscanStream`, flat.filter((_, i) => i % 2 === 1).reduce((a, s) => a + Number(s), 0), 44850);
  }
  await r.del(p + 'hs', p + 'ss', p + 'zs');

  // blocking pop with a timeout
  check(`${tag} blpop timeout`, await r.blpop(p + 'bl', 0.1), null);
  await r.rpush(p + 'bl', 'x');
  check(`${tag} blpop ready`, await r.blpop(p + 'bl', 1), [p + 'bl', 'x']);
  if (!SKIP.has('blocking')) {
    const blocked = other.blpop(p + 'wake', 5);
    for (let i = 0; i < 500; i++) {
      if (/blocked_clients:[1-9]/.test(await r.info('clients'))) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    await r.rpush(p + 'wake', 'w');
    check(`${tag} blpop woken by rpush`, await blocked, [p + 'wake', 'w']);
  }

  // MONITOR: ioredis parses each line (time, args, source, database)
  const mon = await client(proto).monitor();
  const seen = [];
  let monWake = () => {};
  mon.on('monitor', (time, args, source, database) => {
    if (String(args[1]).startsWith(p + 'mon')) {
      seen.push({ time: Number(time) > 1e9, args, source: /^127\.0\.0\.1:\d+$/.test(source), database });
      monWake();
    }
  });
  await other.set(p + 'mon', 'v "quoted"\n');
  await Promise.race([
    new Promise((resolve) => { monWake = () => seen.length >= 1 && resolve(); monWake(); }),
    new Promise((resolve) => setTimeout(resolve, 5000)),
  ]);
  // (ioredis unquotes \" but leaves \n as the two characters the server wrote)
  check(`${tag} monitor line parsed`, seen, [{ time: true, args: ['set', p + 'mon', 'v "quoted"\\n'], source: true, database: '0' }]);
  mon.disconnect();
  await r.del(p + 'mon');

  // errors
  await r.set(p + 'e', 'string');
  await expectError(`${tag} WRONGTYPE`, r.lpush(p + 'e', 'x'), 'WRONGTYPE');
  await expectError(`${tag} not an integer`, r.incr(p + 'e'), 'ERR');
  await expectError(`${tag} unknown command`, r.call('NOSUCHCOMMAND'), 'ERR');

  await r.del(...['s', 'n', 'l', 'h', 'set', 'set2', 'z', 'w', 'e', 'lua', 'bl'].map((k) => p + k));
  other.disconnect();
  r.disconnect();
}

(async () => {
  await run(2);
  await run(3);
  console.log(`ioredis ${require('ioredis/package.json').version}: ${checks} checks passed`);
  process.exit(0);
})().catch((e) => {
  console.log(`FAIL unexpected exception: ${e && e.stack}`);
  process.exit(1);
});
