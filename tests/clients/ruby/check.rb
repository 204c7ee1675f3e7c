# Client-matrix check for redis-rb (Debian ruby-redis; 4.x speaks RESP2 only).
# Reads REDIS_HOST, REDIS_PORT, REDIS_PASSWORD_FOR_TEST and CLIENTS_SKIP; exits non-zero at the
# first wrong answer. redis-rb has no script object, so the program does what Ruby code commonly
# does: EVALSHA, and EVAL on Redis::CommandError NOSCRIPT. Keys and channels start with "rb:".
require 'redis'
require 'digest/sha1'

HOST = ENV.fetch('REDIS_HOST', '127.0.0.1')
PORT = Integer(ENV.fetch('REDIS_PORT', '6379'))
PASSWORD = ENV.fetch('REDIS_PASSWORD_FOR_TEST', 'ferrokv-matrix-secret')
SKIP = ENV.fetch('CLIENTS_SKIP', '').split(',')
$checks = 0
Redis.sadd_returns_boolean = false if Redis.respond_to?(:sadd_returns_boolean=)

def check(what, got, want)
  if got != want
    puts "FAIL #{what}: got #{got.inspect}, want #{want.inspect}"
    exit 1
  end
  $checks += 1
  puts "ok   #{what}"
end

def expect_error(what, cls, prefix)
  got = yield
  puts "FAIL #{what}: no #{cls}, got #{got.inspect}"
  exit 1
rescue cls => e
  check(what, prefix.nil? ? e.class : e.message.split(' ').first, prefix.nil? ? cls : prefix)
end

def client(**kw)
  Redis.new(host: HOST, port: PORT, reconnect_attempts: 0, **kw)
end

SCRIPT = "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}".freeze
SHA = Digest::SHA1.hexdigest(SCRIPT)
$used_eval = false
def run_script(r, key, arg)
  $used_eval = false
  r.evalsha(SHA, keys: [key], argv: [arg])
rescue Redis::CommandError => e
  raise unless e.message.start_with?('NOSCRIPT')

  $used_eval = true
  r.eval(SCRIPT, keys: [key], argv: [arg])
end

p = 'rb:'
keys = %w[s n l h set set2 z w e lua bl wake].map { |k| p + k }
r = client
check('ping', r.ping, 'PONG')
r.del(*keys)

# AUTH
r.config(:set, 'requirepass', PASSWORD)
begin
  expect_error('auth: no password', Redis::CommandError, 'NOAUTH') { client.get(p + 's') }
  expect_error('auth: wrong password', Redis::CommandError, 'WRONGPASS') { client(password: 'nope').ping }
  check('auth: with password', client(password: PASSWORD).ping, 'PONG')
ensure
  r.config(:set, 'requirepass', '')
end

# strings with TTL
check('set ex', r.set(p + 's', 'v1', ex: 100), 'OK')
check('get', r.get(p + 's'), 'v1')
check('ttl in (0,100]', (1..100).cover?(r.ttl(p + 's')), true)
check('set px nx on existing', r.set(p + 's', 'v2', px: 5000, nx: true), false)
r.set(p + 'n', 10)
check('incrby', r.incrby(p + 'n', 5), 15)
check('incrbyfloat', r.incrbyfloat(p + 'n', 0.5), 15.5)
check('mget', r.mget(p + 's', p + 'missing'), ['v1', nil])
check('persist', [r.persist(p + 's'), r.ttl(p + 's')], [true, -1])

# lists
check('rpush', r.rpush(p + 'l', %w[a b c]), 3)
check('lpush', r.lpush(p + 'l', 'z'), 4)
check('lrange', r.lrange(p + 'l', 0, -1), %w[z a b c])
check('lpop', r.lpop(p + 'l'), 'z')
check('rpop count', r.rpop(p + 'l', 2), %w[c b])
check('llen', r.llen(p + 'l'), 1)

# hashes
check('hset', r.hset(p + 'h', 'f1', '1', 'f2', 'two'), 2)
check('hget', r.hget(p + 'h', 'f2'), 'two')
check('hgetall', r.hgetall(p + 'h'), { 'f1' => '1', 'f2' => 'two' })
check('hincrby', r.hincrby(p + 'h', 'f1', 41), 42)
check('hmget', r.hmget(p + 'h', 'f1', 'nope'), ['42', nil])

unless SKIP.include?('sets')
  check('sadd', r.sadd(p + 'set', %w[a b c]), 3)
  check('smembers', r.smembers(p + 'set').sort, %w[a b c])
  check('sismember', r.sismember(p + 'set', 'b'), true)
  check('srem/scard', [r.srem(p + 'set', ['a']), r.scard(p + 'set')], [1, 2])
  r.sadd(p + 'set2', %w[c d])
  check('sinter', r.sinter(p + 'set', p + 'set2'), ['c'])
end
unless SKIP.include?('zsets')
  check('zadd', r.zadd(p + 'z', [[1, 'a'], [2.5, 'b'], [3, 'c']]), 3)
  check('zrange withscores', r.zrange(p + 'z', 0, -1, with_scores: true), [['a', 1.0], ['b', 2.5], ['c', 3.0]])
  check('zscore', r.zscore(p + 'z', 'b'), 2.5)
  check('zincrby', r.zincrby(p + 'z', 10, 'a'), 11.0)
  check('zrangebyscore', r.zrangebyscore(p + 'z', 2, 5), %w[b c])
  check('zrank/zcard', [r.zrank(p + 'z', 'a'), r.zcard(p + 'z')], [2, 3])
  check('zpopmin', r.zpopmin(p + 'z'), ['b', 2.5])
end

# a pipeline of 1000 commands
res = r.pipelined do |pipe|
  1000.times { |i| i.even? ? pipe.set("#{p}pipe:#{i}", i) : pipe.get("#{p}pipe:#{i - 1}") }
end
check('pipeline 1000 replies', res.size, 1000)
check('pipeline replies', res[0, 4] + res[-2, 2], %w[OK 0 OK 2 OK 998])
dels = r.pipelined { |pipe| (0...1000).step(2) { |i| pipe.del("#{p}pipe:#{i}") } }
check('pipeline of 500 DELs', dels.sum, 500)

# MULTI/EXEC with WATCH
r.set(p + 'w', 1)
res = r.watch(p + 'w') do
  v = r.get(p + 'w').to_i
  r.multi do |tx|
    tx.set(p + 'w', v + 1)
    tx.incr(p + 'w')
  end
end
check('watch + multi/exec', res, ['OK', 3])
other = client
res = r.watch(p + 'w') do
  other.set(p + 'w', 100)
  r.multi { |tx| tx.incr(p + 'w') }
end
check('watch conflict: exec is nil', res, nil)
check('watched key unchanged', r.get(p + 'w'), '100')
expect_error('exec with an error inside raises', Redis::CommandError, 'WRONGTYPE') do
  r.multi do |tx|
    tx.incr(p + 'w')
    tx.lpush(p + 'w', 'x')
  end
end
check('exec ran the other command', r.get(p + 'w'), '101')

# Lua: EVALSHA with EVAL fallback
r.script(:flush)
r.set(p + 'lua', 1)
check('script (NOSCRIPT -> EVAL)', [run_script(r, p + 'lua', 2), $used_eval], [[p + 'lua', '2', 3], true])
check('script exists', r.script(:exists, SHA), true)
check('script again (EVALSHA)', [run_script(r, p + 'lua', 4), $used_eval], [[p + 'lua', '4', 7], false])
expect_error('script error', Redis::CommandError, 'WRONGTYPE') do
  r.eval("return redis.call('LPUSH', KEYS[1], 'x')", keys: [p + 'lua'])
end

# pub/sub with a second connection (subscribe blocks: run it in a thread)
got = Queue.new
sub = client
subscribed = Queue.new
listener = Thread.new do
  sub.psubscribe(p + 'pat*') do |on|
    on.psubscribe { |_pat, _n| subscribed << :p }
    on.pmessage { |pat, ch, msg| got << ['pmessage', pat, ch, msg]; sub.punsubscribe }
  end
end
subscriber = Thread.new do
  s2 = client
  s2.subscribe(p + 'chan') do |on|
    on.subscribe { |_ch, _n| subscribed << :s }
    on.message { |ch, msg| got << ['message', ch, msg]; s2.unsubscribe }
  end
end
2.times { subscribed.pop }
check('publish receivers', r.publish(p + 'chan', 'hello'), 1)
check('publish to pattern', r.publish(p + 'pattern', 'hi'), 1)
msgs = [got.pop, got.pop].sort
check('messages', msgs, [['message', p + 'chan', 'hello'], ['pmessage', p + 'pat*', p + 'pattern', 'hi']])
[listener, subscriber].each { |t| t.join(5) || (puts 'FAIL unsubscribe: thread still running'; exit 1) }
check('pubsub numsub after unsubscribe', r.pubsub(:numsub, p + 'chan'), [p + 'chan', 0])

# SCAN iterators
r.pipelined { |pipe| 120.times { |i| pipe.set("#{p}scan:#{i}", i) } }
found = r.scan_each(match: p + 'scan:*', count: 10).to_a
check('scan_each', found.sort, (0...120).map { |i| "#{p}scan:#{i}" }.sort)
r.del(*found)
r.mapped_hmset(p + 'hs', (0...300).to_h { |i| ["f#{i}", i] })
check('hscan_each', r.hscan_each(p + 'hs', count: 20).to_a.size, 300)
unless SKIP.include?('sets')
  r.sadd(p + 'ss', (0...300).to_a)
  check('sscan_each', r.sscan_each(p + 'ss', match: '1*').to_a.uniq.size, 111)
end
unless SKIP.include?('zsets')
  r.zadd(p + 'zs', (0...300).map { |i| [i, "m#{i}"] })
  check('zscan_each', r.zscan_each(p + 'zs').sum { |_m, s| s }, 44_850.0)
end
r.del(p + 'hs', p + 'ss', p + 'zs')

# blocking pop with a timeout
started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
check('blpop timeout', r.blpop(p + 'bl', timeout: 0.1), nil)
unless SKIP.include?('blocking')
  check('blpop waited for its timeout', Process.clock_gettime(Process::CLOCK_MONOTONIC) - started >= 0.09, true)
end
r.rpush(p + 'bl', 'x')
check('blpop ready', r.blpop(p + 'bl', timeout: 1), [p + 'bl', 'x'])
unless SKIP.include?('blocking')
  t = Thread.new { client.blpop(p + 'wake', timeout: 5) }
  500.times do
    break if r.info('clients')['blocked_clients'].to_i.positive?

    sleep 0.01
  end
  r.rpush(p + 'wake', 'w')
  check('blpop woken by rpush', t.value, [p + 'wake', 'w'])
end

# errors
r.set(p + 'e', 'string')
expect_error('WRONGTYPE', Redis::CommandError, 'WRONGTYPE') { r.lpush(p + 'e', 'x') }
expect_error('not an integer', Redis::CommandError, 'ERR') { r.incr(p + 'e') }
expect_error('unknown command', Redis::CommandError, 'ERR') { r.call('NOSUCHCOMMAND') }

r.del(*keys)
puts "ruby redis-rb #{Redis::VERSION}: #{$checks} checks passed"
