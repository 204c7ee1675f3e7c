-- Client-matrix check for redis-lua (Debian lua-redis, Lua 5.1; RESP2).
-- Reads REDIS_HOST, REDIS_PORT, REDIS_PASSWORD_FOR_TEST and CLIENTS_SKIP; exits non-zero at the
-- first wrong answer. redis-lua raises error replies as Lua errors ("redis error: TEXT"); it has
-- no script helper (EVALSHA, then EVAL on NOSCRIPT is done here) and, being single-threaded, no
-- way to wait in BLPOP while another client pushes, so the wake-up case is not covered here.
-- Keys and channels start with "lua:".
local redis = require('redis')
local socket = require('socket')

local host = os.getenv('REDIS_HOST') or '127.0.0.1'
local port = tonumber(os.getenv('REDIS_PORT') or '6379')
local password = os.getenv('REDIS_PASSWORD_FOR_TEST') or 'ferrokv-matrix-secret'
local skip = {}
for s in string.gmatch(os.getenv('CLIENTS_SKIP') or '', '[^,]+') do skip[s] = true end
local checks = 0
-- a command redis-lua does not know, to see the server's error (defined before connecting)
redis.commands.nosuchcommand = redis.command('NOSUCHCOMMAND')

local function show(v)
  if type(v) ~= 'table' then return tostring(v) end
  local keys = {}
  for k in pairs(v) do table.insert(keys, k) end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do table.insert(parts, tostring(k) .. '=' .. show(v[k])) end
  return '{' .. table.concat(parts, ', ') .. '}'
end

local function check(what, got, want)
  if show(got) ~= show(want) then
    print('FAIL ' .. what .. ': got ' .. show(got) .. ', want ' .. show(want))
    os.exit(1)
  end
  checks = checks + 1
  print('ok   ' .. what)
end

-- expect_error: fn must raise a redis-lua error whose reply text starts with prefix.
local function expect_error(what, fn, prefix)
  local ok, err = pcall(fn)
  if ok then
    print('FAIL ' .. what .. ': no error raised')
    os.exit(1)
  end
  check(what, string.match(tostring(err), 'redis error: (%S+)'), prefix)
end

local function client()
  return redis.connect({ host = host, port = port, timeout = 10 })
end

local p = 'lua:'
local keys = {}
for _, k in ipairs({ 's', 'n', 'l', 'h', 'set', 'set2', 'z', 'w', 'e', 'lua', 'bl' }) do
  table.insert(keys, p .. k)
end
local r = client()
check('ping', r:ping(), true)
r:del(unpack(keys))

-- AUTH
r:config('set', 'requirepass', password)
local ok, err = pcall(function()
  local a = client()
  expect_error('auth: no password', function() return a:get(p .. 's') end, 'NOAUTH')
  expect_error('auth: wrong password', function() return a:auth('nope') end, 'WRONGPASS')
  check('auth: right password', a:auth(password), true)
  check('auth: ping', a:ping(), true)
end)
r:config('set', 'requirepass', '')
if not ok then error(err) end

-- strings with TTL
check('set ex', r:set(p .. 's', 'v1', 'EX', 100), true)
check('get', r:get(p .. 's'), 'v1')
local ttl = r:ttl(p .. 's')
check('ttl in (0,100]', ttl > 0 and ttl <= 100, true)
check('set px nx on existing', r:set(p .. 's', 'v2', 'PX', 5000, 'NX'), nil)
r:set(p .. 'n', 10)
check('incrby', r:incrby(p .. 'n', 5), 15)
check('incrbyfloat', r:incrbyfloat(p .. 'n', 0.5), 15.5)
check('mget', r:mget(p .. 's', p .. 'missing'), { 'v1' })
check('persist', { r:persist(p .. 's'), r:ttl(p .. 's') }, { true, -1 })

-- lists
check('rpush', r:rpush(p .. 'l', 'a', 'b', 'c'), 3)
check('lpush', r:lpush(p .. 'l', 'z'), 4)
check('lrange', r:lrange(p .. 'l', 0, -1), { 'z', 'a', 'b', 'c' })
check('lpop', r:lpop(p .. 'l'), 'z')
check('rpop', r:rpop(p .. 'l'), 'c')
check('llen', r:llen(p .. 'l'), 2)

-- hashes
check('hmset', r:hmset(p .. 'h', { f1 = '1', f2 = 'two' }), true)
check('hget', r:hget(p .. 'h', 'f2'), 'two')
check('hgetall', r:hgetall(p .. 'h'), { f1 = '1', f2 = 'two' })
check('hincrby', r:hincrby(p .. 'h', 'f1', 41), 42)
check('hmget', r:hmget(p .. 'h', 'f1', 'f2'), { '42', 'two' })

if not skip.sets then
  check('sadd', r:sadd(p .. 'set', 'a', 'b', 'c'), 3)
  local m = r:smembers(p .. 'set')
  table.sort(m)
  check('smembers', m, { 'a', 'b', 'c' })
  check('sismember', r:sismember(p .. 'set', 'b'), true)
  check('srem/scard', { r:srem(p .. 'set', 'a'), r:scard(p .. 'set') }, { 1, 2 })
  r:sadd(p .. 'set2', 'c', 'd')
  check('sinter', r:sinter(p .. 'set', p .. 'set2'), { 'c' })
end
if not skip.zsets then
  check('zadd', r:zadd(p .. 'z', 1, 'a', 2.5, 'b', 3, 'c'), 3)
  check('zrange withscores', r:zrange(p .. 'z', 0, -1, 'withscores'), { { 'a', 1 }, { 'b', 2.5 }, { 'c', 3 } })
  check('zscore', r:zscore(p .. 'z', 'b'), '2.5')
  check('zincrby', r:zincrby(p .. 'z', 10, 'a'), '11')
  check('zrangebyscore', r:zrangebyscore(p .. 'z', 2, 5), { 'b', 'c' })
  check('zrank/zcard', { r:zrank(p .. 'z', 'a'), r:zcard(p .. 'z') }, { 2, 3 })
end

-- a pipeline of 1000 commands
local res, n = r:pipeline(function(pipe)
  for i = 0, 999 do
    if i % 2 == 0 then pipe:set(p .. 'pipe:' .. i, i) else pipe:get(p .. 'pipe:' .. (i - 1)) end
  end
end)
check('pipeline 1000 replies', n, 1000)
check('pipeline replies', { res[1], res[2], res[3], res[4], res[999], res[1000] }, { true, '0', true, '2', true, '998' })
res = r:pipeline(function(pipe)
  for i = 0, 999, 2 do pipe:del(p .. 'pipe:' .. i) end
end)
local deleted = 0
for _, d in ipairs(res) do deleted = deleted + d end
check('pipeline of 500 DELs', deleted, 500)

-- MULTI/EXEC with WATCH (check-and-set transaction helper; retry = 0 so a conflict raises)
r:set(p .. 'w', 1)
res = r:transaction({ watch = p .. 'w', cas = true, retry = 0 }, function(t)
  local v = tonumber(t:get(p .. 'w'))
  t:multi()
  t:set(p .. 'w', v + 1)
  t:incr(p .. 'w')
end)
check('transaction (cas)', res, { true, 3 })
local other = client()
ok, err = pcall(function()
  return r:transaction({ watch = p .. 'w', cas = true, retry = 0 }, function(t)
    other:set(p .. 'w', 100)
    t:multi()
    t:incr(p .. 'w')
  end)
end)
check('watch conflict aborts the transaction', { ok, string.match(tostring(err), 'aborted by the server') ~= nil }, { false, true })
check('watched key unchanged', r:get(p .. 'w'), '100')

-- Lua: EVALSHA with EVAL fallback
local script = "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}"
local sha = r:script('load', script)
check('script load', #sha, 40)
r:script('flush')
r:set(p .. 'lua', 1)
local used_eval
local function run_script(key, arg)
  used_eval = false
  local okk, reply = pcall(function() return r:evalsha(sha, 1, key, arg) end)
  if okk then return reply end
  if not string.find(tostring(reply), 'NOSCRIPT', 1, true) then error(reply) end
  used_eval = true
  return r:eval(script, 1, key, arg)
end
check('script (NOSCRIPT -> EVAL)', { run_script(p .. 'lua', 2), used_eval }, { { p .. 'lua', '2', 3 }, true })
check('script again (EVALSHA)', { run_script(p .. 'lua', 4), used_eval }, { { p .. 'lua', '4', 7 }, false })
expect_error('script error', function() return r:eval("return redis.call('LPUSH', KEYS[1], 'x')", 1, p .. 'lua') end, 'WRONGTYPE')

-- pub/sub with a second connection
local sub = client()
local got = {}
local published = false
for msg, abort in sub:pubsub({ subscribe = p .. 'chan', psubscribe = p .. 'pat*' }) do
  if msg.kind == 'psubscribe' and not published then
    -- both subscriptions are confirmed (SUBSCRIBE was sent first)
    check('publish receivers', r:publish(p .. 'chan', 'hello'), 1)
    check('publish to pattern', r:publish(p .. 'pattern', 'hi'), 1)
    published = true
  elseif msg.kind == 'message' or msg.kind == 'pmessage' then
    table.insert(got, { msg.kind, msg.pattern or '', msg.channel, msg.payload })
    if #got == 2 then abort() end
  end
end
check('messages', got, { { 'message', '', p .. 'chan', 'hello' }, { 'pmessage', p .. 'pat*', p .. 'pattern', 'hi' } })

-- SCAN loops over the library's SCAN commands
r:pipeline(function(pipe)
  for i = 0, 119 do pipe:set(p .. 'scan:' .. i, i) end
end)
local function scan_all(fn)
  local cursor, all, rounds = '0', {}, 0
  repeat
    local reply = fn(cursor)
    cursor = reply[1]
    for k, v in pairs(reply[2]) do table.insert(all, { k, v }) end
    rounds = rounds + 1
    if rounds > 10000 then error('cursor never returned to 0') end
  until cursor == '0'
  return all
end
local found = {}
for _, kv in ipairs(scan_all(function(c) return r:scan(c, { match = p .. 'scan:*', count = 10 }) end)) do
  table.insert(found, kv[2])
end
check('scan', #found, 120)
r:del(unpack(found))
local fields = {}
for i = 0, 299 do fields['f' .. i] = tostring(i) end
r:hmset(p .. 'hs', fields)
check('hscan', #scan_all(function(c) return r:hscan(p .. 'hs', c, { count = 20 }) end), 300)
if not skip.sets then
  local members = {}
  for i = 0, 299 do table.insert(members, tostring(i)) end
  r:sadd(p .. 'ss', unpack(members))
  local seen, count = {}, 0
  for _, kv in ipairs(scan_all(function(c) return r:sscan(p .. 'ss', c, { match = '1*' }) end)) do
    if not seen[kv[2]] then seen[kv[2]], count = true, count + 1 end
  end
  check('sscan', count, 111)
end
if not skip.zsets then
  local args = {}
  for i = 0, 299 do table.insert(args, i); table.insert(args, 'm' .. i) end
  r:zadd(p .. 'zs', unpack(args))
  local sum = 0
  for _, kv in ipairs(scan_all(function(c) return r:zscan(p .. 'zs', c) end)) do sum = sum + kv[2][2] end
  check('zscan', sum, 44850)
end
r:del(p .. 'hs', p .. 'ss', p .. 'zs')

-- blocking pop with a timeout
local t0 = socket.gettime()
check('blpop timeout', r:blpop(p .. 'bl', 0.1), nil)
if not skip.blocking then
  check('blpop waited for its timeout', socket.gettime() - t0 >= 0.09, true)
end
r:rpush(p .. 'bl', 'x')
check('blpop ready', r:blpop(p .. 'bl', 1), { p .. 'bl', 'x' })

-- errors
r:set(p .. 'e', 'string')
expect_error('WRONGTYPE', function() return r:lpush(p .. 'e', 'x') end, 'WRONGTYPE')
expect_error('not an integer', function() return r:incr(p .. 'e') end, 'ERR')
expect_error('unknown command', function() return r:nosuchcommand() end, 'ERR')

r:del(unpack(keys))
print('lua ' .. redis._VERSION .. ': ' .. checks .. ' checks passed')
