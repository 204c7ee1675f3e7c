// Client-matrix check for node-redis (npm `redis`): every check in RESP2, then again in RESP3.
// Reads REDIS_HOST, REDIS_PORT, REDIS_PASSWORD_FOR_TEST and CLIENTS_SKIP; exits non-zero at the
// first wrong answer. Keys and channels start with "nr:".
'use strict';
const assert = require('node:assert');
const { createClient, defineScript, ErrorReply, WatchError } = require('redis');

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

async function expectError(what, promise, cls, prefix) {
  let got;
  try {
    got = await promise;
  } catch (e) {
    if (!(e instanceof cls)) {
      console.log(`FAIL ${what}: ${e.constructor.name} is not a ${cls.name}: ${e.message}`);
      process.exit(1);
    }
    check(what, prefix === null ? cls.name : e.message.split(' ')[0], prefix === null ? cls.name : prefix);
    return;
  }
  console.log(`FAIL ${what}: no ${cls.name}, got ${JSON.stringify(got)}`);
  process.exit(1);
}

const scripts = {
  incrEcho: defineScript({
    NUMBER_OF_KEYS: 1,
    SCRIPT: "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}",
    parseCommand(parser, key, n) {
      parser.pushKey(key);
      parser.push(String(n));
    },
    transformReply: (r) => r,
  }),
};

async function client(resp, extra = {}) {
  const c = createClient({
    socket: { host: HOST, port: PORT, reconnectStrategy: false },
    RESP: resp,
    scripts,
    ...extra,
  });
  c.on('error', () => {});
  await c.connect();
  return c;
}

async function run(resp) {
  const p = `nr:${resp}:`;
  const tag = `[resp${resp}]`;
  const r = await client(resp);
  check(`${tag} ping`, await r.ping(), 'PONG');
  await r.del(['s', 'n', 'l', 'h', 'set', 'set2', 'z', 'w', 'e', 'lua', 'bl'].map((k) => p + k));

  // node-redis sends CLIENT SETINFO on connect (the command is Redis 7.2+)
  const version = (await r.info('server')).match(/redis_version:(\d+)\.(\d+)/).slice(1).map(Number);
  if (version[0] > 7 || (version[0] === 7 && version[1] >= 2)) {
    const info = String(await r.sendCommand(['CLIENT', 'INFO']));
    check(`${tag} CLIENT SETINFO lib-name`, /lib-name=node-redis/.test(info), true);
  }

  // AUTH
  await r.configSet('requirepass', PASSWORD);
  try {
    const noauth = createClient({ socket: { host: HOST, port: PORT, reconnectStrategy: false }, RESP: resp });
    noauth.on('error', () => {});
    let refused = false;
    try {
      await noauth.connect();
      await noauth.get(p + 's');
    } catch (e) {
      refused = /NOAUTH|Authentication|HELLO must be called/.test(e.message);
    }
    check(`${tag} auth: no password refused`, refused, true);
    await noauth.destroy?.();
    const authed = await client(resp, { password: PASSWORD });
    check(`${tag} auth: with password`, await authed.ping(), 'PONG');
    await authed.quit();
  } finally {
    await r.configSet('requirepass', '');
  }

  // strings with TTL
  check(`${tag} set EX`, await r.set(p + 's', 'v1', { EX: 100 }), 'OK');
  check(`${tag} get`, await r.get(p + 's'), 'v1');
  const ttl = await r.ttl(p + 's');
  check(`${tag} ttl in (0,100]`, ttl > 0 && ttl <= 100, true);
  check(`${tag} set NX on existing`, await r.set(p + 's', 'v2', { PX: 5000, NX: true }), null);
  await r.set(p + 'n', '10');
  check(`${tag} incrBy`, await r.incrBy(p + 'n', 5), 15);
  check(`${tag} incrByFloat`, String(await r.incrByFloat(p + 'n', 0.5)), '15.5');
  check(`${tag} mGet`, await r.mGet([p + 's', p + 'missing']), ['v1', null]);
  check(`${tag} persist`, [await r.persist(p + 's'), await r.ttl(p + 's')], [1, -1]);

  // lists
  check(`${tag} rPush`, await r.rPush(p + 'l', ['a', 'b', 'c']), 3);
  check(`${tag} lPush`, await r.lPush(p + 'l', 'z'), 4);
  check(`${tag} lRange`, await r.lRange(p + 'l', 0, -1), ['z', 'a', 'b', 'c']);
  check(`${tag} lPop`, await r.lPop(p + 'l'), 'z');
  check(`${tag} rPopCount`, await r.rPopCount(p + 'l', 2), ['c', 'b']);
  check(`${tag} lLen`, await r.lLen(p + 'l'), 1);

  // hashes
  check(`${tag} hSet object`, await r.hSet(p + 'h', { f1: '1', f2: 'two' }), 2);
  check(`${tag} hGet`, await r.hGet(p + 'h', 'f2'), 'two');
  check(`${tag} hGetAll`, { ...(await r.hGetAll(p + 'h')) }, { f1: '1', f2: 'two' });
  check(`${tag} hIncrBy`, await r.hIncrBy(p + 'h', 'f1', 41), 42);
  check(`${tag} hmGet`, await r.hmGet(p + 'h', ['f1', 'nope']), ['42', null]);

  if (!SKIP.has('sets')) {
    check(`${tag} sAdd`, await r.sAdd(p + 'set', ['a', 'b', 'c']), 3);
    check(`${tag} sMembers`, (await r.sMembers(p + 'set')).sort(), ['a', 'b', 'c']);
    check(`${tag} sIsMember`, await r.sIsMember(p + 'set', 'b'), 1);
    check(`${tag} sRem/sCard`, [await r.sRem(p + 'set', 'a'), await r.sCard(p + 'set')], [1, 2]);
    await r.sAdd(p + 'set2', ['c', 'd']);
    check(`${tag} sInter`, await r.sInter([p + 'set', p + 'set2']), ['c']);
  }
  if (!SKIP.has('zsets')) {
    check(`${tag} zAdd`, await r.zAdd(p + 'z', [{ score: 1, value: 'a' }, { score: 2.5, value: 'b' }, { score: 3, value: 'c' }]), 3);
    check(`${tag} zRangeWithScores`, await r.zRangeWithScores(p + 'z', 0, -1),
      [{ value: 'a', score: 1 }, { value: 'b', score: 2.5 }, { value: 'c', score: 3 }]);
    check(`${tag} zScore`, await r.zScore(p + 'z', 'b'), 2.5);
    check(`${tag} zIncrBy`, await r.zIncrBy(p + 'z', 10, 'a'), 11);
    check(`${tag} zRangeByScore`, await r.zRangeByScore(p + 'z', 2, 5), ['b', 'c']);
    check(`${tag} zRank/zCard`, [await r.zRank(p + 'z', 'a'), await r.zCard(p + 'z')], [2, 3]);
    check(`${tag} zPopMin`, await r.zPopMin(p + 'z'), { value: 'b', score: 2.5 });
  }

  // 1000 commands pipelined (node-redis pipelines concurrent commands automatically),
  // and an explicit execAsPipeline batch
  const ops = [];
  for (let i = 0; i < 1000; i++) ops.push(i % 2 === 0 ? r.set(`${p}pipe:${i}`, String(i)) : r.get(`${p}pipe:${i - 1}`));
  const res = await Promise.all(ops);
  check(`${tag} pipeline 1000 replies`, res.length, 1000);
  check(`${tag} pipeline replies`, [...res.slice(0, 4), ...res.slice(-2)], ['OK', '0', 'OK', '2', 'OK', '998']);
  const batch = r.multi();
  for (let i = 0; i < 1000; i += 2) batch.del(`${p}pipe:${i}`);
  const dels = await batch.execAsPipeline();
  check(`${tag} execAsPipeline`, dels.reduce((a, b) => a + b, 0), 500);

  // MULTI/EXEC with WATCH
  await r.set(p + 'w', '1');
  await r.watch(p + 'w');
  const v = Number(await r.get(p + 'w'));
  check(`${tag} multi/exec`, await r.multi().set(p + 'w', String(v + 1)).incr(p + 'w').exec(), ['OK', 3]);
  const other = await client(resp);
  await r.watch(p + 'w');
  await other.set(p + 'w', '100');
  await expectError(`${tag} watch conflict`, r.multi().incr(p + 'w').exec(), WatchError, null);
  check(`${tag} watched key unchanged`, await r.get(p + 'w'), '100');
  const mixed = await r.multi().incr(p + 'w').lPush(p + 'w', 'x').get(p + 'w').exec().catch((e) => e);
  check(`${tag} exec with an error reply`, mixed instanceof Error, true);

  // Lua through defineScript (EVALSHA, falling back to EVAL on NOSCRIPT)
  await r.scriptFlush();
  await r.set(p + 'lua', '1');
  check(`${tag} script (NOSCRIPT -> EVAL)`, await r.incrEcho(p + 'lua', 2), [p + 'lua', '2', 3]);
  check(`${tag} script cached`, await r.scriptExists(scripts.incrEcho.SHA1), [1]);
  check(`${tag} script again (EVALSHA)`, await r.incrEcho(p + 'lua', 4), [p + 'lua', '4', 7]);
  await expectError(`${tag} script error`, r.eval("return redis.call('LPUSH', KEYS[1], 'x')", { keys: [p + 'lua'] }), ErrorReply, 'WRONGTYPE');

  // pub/sub with a second connection
  const sub = r.duplicate();
  sub.on('error', () => {});
  await sub.connect();
  const got = [];
  let wake;
  const arrived = (n) => new Promise((resolve) => { wake = () => got.length >= n && resolve(); wake(); });
  await sub.subscribe(p + 'chan', (msg, ch) => { got.push(['message', ch, msg]); wake && wake(); });
  await sub.pSubscribe(p + 'pat*', (msg, ch) => { got.push(['pmessage', ch, msg]); wake && wake(); });
  check(`${tag} publish receivers`, await r.publish(p + 'chan', 'hello'), 1);
  check(`${tag} publish to pattern`, await r.publish(p + 'pattern', 'hi'), 1);
  await Promise.race([arrived(2), new Promise((res) => setTimeout(res, 5000))]);
  check(`${tag} messages`, got, [['message', p + 'chan', 'hello'], ['pmessage', p + 'pattern', 'hi']]);
  check(`${tag} pubSubNumSub`, { ...(await r.pubSubNumSub(p + 'chan')) }, { [p + 'chan']: 1 });
  await sub.unsubscribe();
  await sub.pUnsubscribe();
  // sharded pub/sub (Redis 7.0)
  await sub.sSubscribe(p + 'shard', (msg, ch) => { got.push(['smessage', ch, msg]); wake && wake(); });
  check(`${tag} sPublish receivers`, await r.sPublish(p + 'shard', 'sharded'), 1);
  await Promise.race([arrived(3), new Promise((res) => setTimeout(res, 5000))]);
  check(`${tag} smessage`, got[2], ['smessage', p + 'shard', 'sharded']);
  check(`${tag} pubSubShardNumSub`, { ...(await r.pubSubShardNumSub(p + 'shard')) }, { [p + 'shard']: 1 });
  await sub.sUnsubscribe();
  await sub.quit();

  // SCAN iterators
  await Promise.all(Array.from({ length: 120 }, (_, i) => r.set(`${p}scan:${i}`, String(i))));
  const keys = [];
  for await (const batchKeys of r.scanIterator({ MATCH: p + 'scan:*', COUNT: 10 })) keys.push(...batchKeys);
  check(`${tag} scanIterator`, keys.sort(), Array.from({ length: 120 }, (_, i) => `${p}scan:${i}`).sort());
  await r.del(keys);
  const fields = {};
  for (let i = 0; i < 300; i++) fields[`f${i}`] = String(i);
  await r.hSet(p + 'hs', fields);
  let n = 0;
  for await (const entries of r.hScanIterator(p + 'hs', { COUNT: 20 })) n += entries.length;
  check(`${tag} hScanIterator`, n, 300);
  if (!SKIP.has('sets')) {
    await r.sAdd(p + 'ss', Array.from({ length: 300 }, (_, i) => String(i)));
    const members = new Set();
    for await (const ms of r.sScanIterator(p + 'ss', { MATCH: '1*' })) ms.forEach((m) => members.add(m));
    check(`${tag} sScanIterator`, members.size, 111);
  }
  if (!SKIP.has('zsets')) {
    await r.zAdd(p + 'zs', Array.from({ length: 300 }, (_, i) => ({ score: i, value: `m${i}` })));
    let sum = 0;
    for await (const ms of r.zScanIterator(p + 'zs')) ms.forEach((m) => { sum += m.score; });
    check(`${tag} zScanIterator`, sum, 44850);
  }
  await r.del([p + 'hs', p + 'ss', p + 'zs']);

  // blocking pop with a timeout
  check(`${tag} blPop timeout`, await r.blPop(p + 'bl', 0.1), null);
  await r.rPush(p + 'bl', 'x');
  check(`${tag} blPop ready`, await r.blPop(p + 'bl', 1), { key: p + 'bl', element: 'x' });
  if (!SKIP.has('blocking')) {
    const blocked = other.blPop(p + 'wake', 5);
    for (let i = 0; i < 500; i++) {
      if (/blocked_clients:[1-9]/.test(await r.info('clients'))) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    await r.rPush(p + 'wake', 'w');
    check(`${tag} blPop woken by rPush`, await blocked, { key: p + 'wake', element: 'w' });
  }

  // errors
  await r.set(p + 'e', 'string');
  await expectError(`${tag} WRONGTYPE`, r.lPush(p + 'e', 'x'), ErrorReply, 'WRONGTYPE');
  await expectError(`${tag} not an integer`, r.incr(p + 'e'), ErrorReply, 'ERR');
  await expectError(`${tag} unknown command`, r.sendCommand(['NOSUCHCOMMAND']), ErrorReply, 'ERR');

  await r.del(['s', 'n', 'l', 'h', 'set', 'set2', 'z', 'w', 'e', 'lua', 'bl'].map((k) => p + k));
  await other.quit();
  await r.quit();
}

(async () => {
  await run(2);
  await run(3);
  console.log(`node-redis ${require('redis/package.json').version}: ${checks} checks passed`);
  process.exit(0);
})().catch((e) => {
  console.log(`FAIL unexpected exception: ${e && e.stack}`);
  process.exit(1);
});
