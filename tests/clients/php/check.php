<?php
// Client-matrix check for phpredis (Debian php-redis 5.x; RESP2).
// Reads REDIS_HOST, REDIS_PORT, REDIS_PASSWORD_FOR_TEST and CLIENTS_SKIP; exits non-zero at the
// first wrong answer. phpredis reports an error reply by returning false and keeping the text in
// getLastError() (RedisException is for connection-level failures such as NOAUTH at connect).
// It has no script object: EVALSHA, then EVAL when the error is NOSCRIPT. Keys start with "php:".

$host = getenv('REDIS_HOST') ?: '127.0.0.1';
$port = (int)(getenv('REDIS_PORT') ?: 6379);
$password = getenv('REDIS_PASSWORD_FOR_TEST') ?: 'ferrokv-matrix-secret';
$skip = array_flip(array_filter(explode(',', getenv('CLIENTS_SKIP') ?: '')));
$checks = 0;

function check(string $what, $got, $want): void
{
    global $checks;
    if ($got !== $want) {
        echo "FAIL $what: got ", var_export($got, true), ", want ", var_export($want, true), "\n";
        exit(1);
    }
    $checks++;
    echo "ok   $what\n";
}

// expect_error: the call returns false and getLastError() starts with $prefix.
function expect_error(string $what, Redis $r, callable $fn, string $prefix): void
{
    $r->clearLastError();
    $got = $fn();
    $err = $r->getLastError() ?? '';
    check($what, [$got, explode(' ', $err)[0]], [false, $prefix]);
}

function client(): Redis
{
    global $host, $port;
    $r = new Redis();
    $r->connect($host, $port, 5.0);
    return $r;
}

$script = "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}";
$sha = sha1($script);
$usedEval = false;
function run_script(Redis $r, string $key, string $arg)
{
    global $script, $sha, $usedEval;
    $usedEval = false;
    $r->clearLastError();
    $res = $r->evalSha($sha, [$key, $arg], 1);
    if ($res === false && str_starts_with($r->getLastError() ?? '', 'NOSCRIPT')) {
        $usedEval = true;
        $res = $r->eval($script, [$key, $arg], 1);
    }
    return $res;
}

$p = 'php:';
$keys = array_map(fn ($k) => $p . $k, ['s', 'n', 'l', 'h', 'set', 'set2', 'z', 'w', 'e', 'lua', 'bl', 'wake']);
$r = client();
check('ping', $r->ping(), true);
$r->del($keys);

// AUTH
$r->config('SET', 'requirepass', $password);
try {
    $a = client();
    try {
        $got = $a->get($p . 's');
        check('auth: no password refused', $got, 'an exception');
    } catch (RedisException $e) {
        check('auth: no password refused', explode(' ', $e->getMessage())[0], 'NOAUTH');
    }
    $b = client();
    try {
        check('auth: wrong password refused', $b->auth('nope'), 'an exception');
    } catch (RedisException $e) {
        check('auth: wrong password refused', explode(' ', $e->getMessage())[0], 'WRONGPASS');
    }
    $c = client();
    check('auth: right password', $c->auth($password), true);
    check('auth: ping', $c->ping(), true);
} finally {
    $r->config('SET', 'requirepass', '');
}

// strings with TTL
check('set ex', $r->set($p . 's', 'v1', ['ex' => 100]), true);
check('get', $r->get($p . 's'), 'v1');
$ttl = $r->ttl($p . 's');
check('ttl in (0,100]', $ttl > 0 && $ttl <= 100, true);
check('set px nx on existing', $r->set($p . 's', 'v2', ['nx', 'px' => 5000]), false);
$r->set($p . 'n', 10);
check('incrby', $r->incrBy($p . 'n', 5), 15);
check('incrbyfloat', $r->incrByFloat($p . 'n', 0.5), 15.5);
check('mget', $r->mget([$p . 's', $p . 'missing']), ['v1', false]);
check('persist', [$r->persist($p . 's'), $r->ttl($p . 's')], [true, -1]);

// lists
check('rpush', $r->rPush($p . 'l', 'a', 'b', 'c'), 3);
check('lpush', $r->lPush($p . 'l', 'z'), 4);
check('lrange', $r->lRange($p . 'l', 0, -1), ['z', 'a', 'b', 'c']);
check('lpop', $r->lPop($p . 'l'), 'z');
check('rpop', $r->rPop($p . 'l'), 'c');
check('llen', $r->lLen($p . 'l'), 2);

// hashes
check('hmset', $r->hMSet($p . 'h', ['f1' => '1', 'f2' => 'two']), true);
check('hget', $r->hGet($p . 'h', 'f2'), 'two');
check('hgetall', $r->hGetAll($p . 'h'), ['f1' => '1', 'f2' => 'two']);
check('hincrby', $r->hIncrBy($p . 'h', 'f1', 41), 42);
check('hmget', $r->hMGet($p . 'h', ['f1', 'nope']), ['f1' => '42', 'nope' => false]);

if (!isset($skip['sets'])) {
    check('sadd', $r->sAdd($p . 'set', 'a', 'b', 'c'), 3);
    $m = $r->sMembers($p . 'set');
    sort($m);
    check('smembers', $m, ['a', 'b', 'c']);
    check('sismember', $r->sIsMember($p . 'set', 'b'), true);
    check('srem/scard', [$r->sRem($p . 'set', 'a'), $r->sCard($p . 'set')], [1, 2]);
    $r->sAdd($p . 'set2', 'c', 'd');
    check('sinter', $r->sInter($p . 'set', $p . 'set2'), ['c']);
}
if (!isset($skip['zsets'])) {
    check('zadd', $r->zAdd($p . 'z', 1, 'a', 2.5, 'b', 3, 'c'), 3);
    check('zrange withscores', $r->zRange($p . 'z', 0, -1, true), ['a' => 1.0, 'b' => 2.5, 'c' => 3.0]);
    check('zscore', $r->zScore($p . 'z', 'b'), 2.5);
    check('zincrby', $r->zIncrBy($p . 'z', 10, 'a'), 11.0);
    check('zrangebyscore', $r->zRangeByScore($p . 'z', 2, 5), ['b', 'c']);
    check('zrank/zcard', [$r->zRank($p . 'z', 'a'), $r->zCard($p . 'z')], [2, 3]);
    check('zpopmin', $r->zPopMin($p . 'z'), ['b' => 2.5]);
}

// a pipeline of 1000 commands
$pipe = $r->pipeline();
for ($i = 0; $i < 1000; $i++) {
    $i % 2 === 0 ? $pipe->set("{$p}pipe:$i", (string)$i) : $pipe->get("{$p}pipe:" . ($i - 1));
}
$res = $pipe->exec();
check('pipeline 1000 replies', count($res), 1000);
check('pipeline replies', array_merge(array_slice($res, 0, 4), array_slice($res, -2)), [true, '0', true, '2', true, '998']);
$pipe = $r->pipeline();
for ($i = 0; $i < 1000; $i += 2) {
    $pipe->del("{$p}pipe:$i");
}
check('pipeline of 500 DELs', array_sum($pipe->exec()), 500);

// MULTI/EXEC with WATCH
$r->set($p . 'w', 1);
$r->watch($p . 'w');
$v = (int)$r->get($p . 'w');
check('watch + multi/exec', $r->multi()->set($p . 'w', (string)($v + 1))->incr($p . 'w')->exec(), [true, 3]);
$other = client();
$r->watch($p . 'w');
$other->set($p . 'w', 100);
check('watch conflict: exec is false', $r->multi()->incr($p . 'w')->exec(), false);
check('watched key unchanged', $r->get($p . 'w'), '100');
check('exec with an error inside', $r->multi()->incr($p . 'w')->lPush($p . 'w', 'x')->exec(), [101, false]);

// Lua: EVALSHA with EVAL fallback
$r->script('flush');
$r->set($p . 'lua', 1);
check('script (NOSCRIPT -> EVAL)', [run_script($r, $p . 'lua', '2'), $usedEval], [[$p . 'lua', '2', 3], true]);
check('script again (EVALSHA)', [run_script($r, $p . 'lua', '4'), $usedEval], [[$p . 'lua', '4', 7], false]);
expect_error('script error', $r, fn () => $r->eval("return redis.call('LPUSH', KEYS[1], 'x')", [$p . 'lua'], 1), 'WRONGTYPE');

// pub/sub with a second connection: subscribe() blocks, so a forked child publishes once the
// subscriptions exist
$pid = pcntl_fork();
if ($pid === 0) {
    $pub = client();
    for ($i = 0; $i < 500 && ($pub->pubsub('numsub', [$p . 'chan'])[$p . 'chan'] ?? 0) == 0; $i++) {
        usleep(10000);
    }
    $pub->publish($p . 'chan', 'hello');
    for ($i = 0; $i < 500 && $pub->pubsub('numpat') == 0; $i++) {
        usleep(10000);
    }
    $pub->publish($p . 'pattern', 'hi');
    exit(0);
}
// phpredis 5 leaves subscribe() only by a read timeout (unsubscribing inside the callback does
// not end the loop): give it two seconds after the message, and check what the callback saw.
$got = [];
$listen = function (string $kind, array $names) use (&$got) {
    $sub = client();
    $sub->setOption(Redis::OPT_READ_TIMEOUT, 2);
    try {
        if ($kind === 'subscribe') {
            $sub->subscribe($names, function ($redis, $chan, $msg) use (&$got) {
                $got[] = ['message', $chan, $msg];
            });
        } else {
            $sub->psubscribe($names, function ($redis, $pat, $chan, $msg) use (&$got) {
                $got[] = ['pmessage', $pat, $chan, $msg];
            });
        }
    } catch (RedisException $e) {
        // the read timeout that ends the loop
    }
};
$pattern = $p . 'pat*';
$listen('subscribe', [$p . 'chan']);
$listen('psubscribe', [$pattern]);
pcntl_waitpid($pid, $status);
check('messages', $got, [['message', $p . 'chan', 'hello'], ['pmessage', $pattern, $p . 'pattern', 'hi']]);

// SCAN iteration (OPT_SCAN = SCAN_RETRY: the iterator loops until it has elements or is done)
$r->setOption(Redis::OPT_SCAN, Redis::SCAN_RETRY);
$pipe = $r->pipeline();
for ($i = 0; $i < 120; $i++) {
    $pipe->set("{$p}scan:$i", (string)$i);
}
$pipe->exec();
$found = [];
$it = null;
while (($batch = $r->scan($it, "{$p}scan:*", 10)) !== false) {
    array_push($found, ...$batch);
}
sort($found);
$want = array_map(fn ($i) => "{$p}scan:$i", range(0, 119));
sort($want);
check('scan', $found, $want);
$r->del($found);
$fields = [];
for ($i = 0; $i < 300; $i++) {
    $fields["f$i"] = (string)$i;
}
$r->hMSet($p . 'hs', $fields);
$n = 0;
$it = null;
while (($batch = $r->hScan($p . 'hs', $it, '*', 20)) !== false) {
    $n += count($batch);
}
check('hscan', $n, 300);
if (!isset($skip['sets'])) {
    $r->sAdd($p . 'ss', ...range(0, 299));
    $seen = [];
    $it = null;
    while (($batch = $r->sScan($p . 'ss', $it, '1*')) !== false) {
        foreach ($batch as $m) {
            $seen[$m] = true;
        }
    }
    check('sscan', count($seen), 111);
}
if (!isset($skip['zsets'])) {
    $args = [];
    for ($i = 0; $i < 300; $i++) {
        array_push($args, $i, "m$i");
    }
    $r->zAdd($p . 'zs', ...$args);
    $sum = 0;
    $it = null;
    while (($batch = $r->zScan($p . 'zs', $it)) !== false) {
        $sum += array_sum($batch);
    }
    check('zscan', $sum, 44850.0);
}
$r->del([$p . 'hs', $p . 'ss', $p . 'zs']);

// blocking pop with a timeout
$t0 = microtime(true);
// phpredis 5 takes whole seconds only
check('blpop timeout', $r->blPop([$p . 'bl'], 1), []);
if (!isset($skip['blocking'])) {
    check('blpop waited for its timeout', microtime(true) - $t0 >= 0.95, true);
}
$r->rPush($p . 'bl', 'x');
check('blpop ready', $r->blPop([$p . 'bl'], 1), [$p . 'bl', 'x']);
if (!isset($skip['blocking'])) {
    $pid = pcntl_fork();
    if ($pid === 0) {
        $w = client();
        for ($i = 0; $i < 500; $i++) {
            if ($w->info('clients')['blocked_clients'] > 0) {
                break;
            }
            usleep(10000);
        }
        $w->rPush($p . 'wake', 'w');
        exit(0);
    }
    $res = client()->blPop([$p . 'wake'], 5);
    pcntl_waitpid($pid, $status);
    check('blpop woken by rpush', $res, [$p . 'wake', 'w']);
}

// errors
$r->set($p . 'e', 'string');
expect_error('WRONGTYPE', $r, fn () => $r->lPush($p . 'e', 'x'), 'WRONGTYPE');
expect_error('not an integer', $r, fn () => $r->incr($p . 'e'), 'ERR');
expect_error('unknown command', $r, fn () => $r->rawCommand('NOSUCHCOMMAND'), 'ERR');

$r->del($keys);
echo 'php phpredis ', phpversion('redis'), ": $checks checks passed\n";
