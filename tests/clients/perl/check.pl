#!/usr/bin/perl
# Client-matrix check for the Perl Redis module (Debian libredis-perl; RESP2).
# Reads REDIS_HOST, REDIS_PORT, REDIS_PASSWORD_FOR_TEST and CLIENTS_SKIP; exits non-zero at the
# first wrong answer. Redis.pm reports error replies by dying with "[command] ERROR TEXT, ";
# it has no script or scan helpers, so the program does EVALSHA-then-EVAL and SCAN loops itself.
# Keys and channels start with "pl:".
use strict;
use warnings;
use Redis;
use Digest::SHA qw(sha1_hex);
use Time::HiRes qw(time sleep);

my $server   = ($ENV{REDIS_HOST} // '127.0.0.1') . ':' . ($ENV{REDIS_PORT} // 6379);
my $password = $ENV{REDIS_PASSWORD_FOR_TEST} // 'ferrokv-matrix-secret';
my %skip     = map { $_ => 1 } split /,/, ($ENV{CLIENTS_SKIP} // '');
my $checks   = 0;
$| = 1;

sub show {
    my ($v) = @_;
    return 'undef' unless defined $v;
    return '[' . join(', ', map { show($_) } @$v) . ']' if ref $v eq 'ARRAY';
    return "'$v'";
}

sub check {
    my ($what, $got, $want) = @_;
    if (show($got) ne show($want)) {
        print "FAIL $what: got ", show($got), ", want ", show($want), "\n";
        exit 1;
    }
    $checks++;
    print "ok   $what\n";
}

# expect_error: runs $code, which must die with Redis.pm's "[command] PREFIX..." message.
sub expect_error {
    my ($what, $code, $prefix) = @_;
    my $got = eval { $code->() };
    my $err = $@;
    if (!$err) {
        print "FAIL $what: no error, got ", show($got), "\n";
        exit 1;
    }
    check($what, ($err =~ /\[[^\]]*\] (\S+)/ ? $1 : $err), $prefix);
}

sub client { Redis->new(server => $server, reconnect => 0, @_) }

my $script = "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}";
my $sha    = sha1_hex($script);
my $used_eval;
sub run_script {
    my ($r, $key, $arg) = @_;
    $used_eval = 0;
    my @res = eval { $r->evalsha($sha, 1, $key, $arg) };
    return \@res unless $@;
    die $@ unless $@ =~ /NOSCRIPT/;
    $used_eval = 1;
    return [$r->eval($script, 1, $key, $arg)];
}

# scan_all: SCAN-family loop until the cursor is 0; returns every element.
sub scan_all {
    my ($r, $cmd, @args) = @_;
    my ($cursor, @all) = (0);
    my $rounds = 0;
    do {
        my ($next, $items) = $cmd eq 'scan' ? $r->scan($cursor, @args) : $r->$cmd($args[0], $cursor, @args[1 .. $#args]);
        $cursor = $next;
        push @all, @$items;
        die "cursor never returned to 0" if ++$rounds > 10000;
    } while ($cursor ne '0');
    return @all;
}

my $p    = 'pl:';
my @keys = map { "$p$_" } qw(s n l h set set2 z w e lua bl wake);
my $r    = client();
check('ping', $r->ping, 'PONG');
$r->del(@keys);

# AUTH
$r->config_set('requirepass', $password);
my $ok = eval {
    my $a = client();
    expect_error('auth: no password', sub { $a->get("${p}s") }, 'NOAUTH');
    expect_error('auth: wrong password', sub { client(password => 'nope') }, 'WRONGPASS');
    check('auth: with password', client(password => $password)->ping, 'PONG');
    1;
};
$r->config_set('requirepass', '');
die $@ unless $ok;

# strings with TTL
check('set ex', $r->set("${p}s", 'v1', 'EX', 100), 'OK');
check('get', $r->get("${p}s"), 'v1');
my $ttl = $r->ttl("${p}s");
check('ttl in (0,100]', ($ttl > 0 && $ttl <= 100) ? 1 : 0, 1);
check('set px nx on existing', $r->set("${p}s", 'v2', 'PX', 5000, 'NX'), undef);
$r->set("${p}n", 10);
check('incrby', $r->incrby("${p}n", 5), 15);
check('incrbyfloat', $r->incrbyfloat("${p}n", 0.5), '15.5');
check('mget', [$r->mget("${p}s", "${p}missing")], ['v1', undef]);
check('persist', [$r->persist("${p}s"), $r->ttl("${p}s")], [1, -1]);

# lists
check('rpush', $r->rpush("${p}l", qw(a b c)), 3);
check('lpush', $r->lpush("${p}l", 'z'), 4);
check('lrange', [$r->lrange("${p}l", 0, -1)], [qw(z a b c)]);
check('lpop', $r->lpop("${p}l"), 'z');
check('rpop count', [$r->rpop("${p}l", 2)], [qw(c b)]);
check('llen', $r->llen("${p}l"), 1);

# hashes
check('hset', $r->hset("${p}h", f1 => 1, f2 => 'two'), 2);
check('hget', $r->hget("${p}h", 'f2'), 'two');
my %h = $r->hgetall("${p}h");
check('hgetall', [map { ($_, $h{$_}) } sort keys %h], [f1 => 1, f2 => 'two']);
check('hincrby', $r->hincrby("${p}h", 'f1', 41), 42);
check('hmget', [$r->hmget("${p}h", 'f1', 'nope')], ['42', undef]);

unless ($skip{sets}) {
    check('sadd', $r->sadd("${p}set", qw(a b c)), 3);
    check('smembers', [sort $r->smembers("${p}set")], [qw(a b c)]);
    check('sismember', $r->sismember("${p}set", 'b'), 1);
    check('srem/scard', [$r->srem("${p}set", 'a'), $r->scard("${p}set")], [1, 2]);
    $r->sadd("${p}set2", qw(c d));
    check('sinter', [$r->sinter("${p}set", "${p}set2")], ['c']);
}
unless ($skip{zsets}) {
    check('zadd', $r->zadd("${p}z", 1, 'a', 2.5, 'b', 3, 'c'), 3);
    check('zrange withscores', [$r->zrange("${p}z", 0, -1, 'WITHSCORES')], [a => 1, b => 2.5, c => 3]);
    check('zscore', $r->zscore("${p}z", 'b'), '2.5');
    check('zincrby', $r->zincrby("${p}z", 10, 'a'), '11');
    check('zrangebyscore', [$r->zrangebyscore("${p}z", 2, 5)], [qw(b c)]);
    check('zrank/zcard', [$r->zrank("${p}z", 'a'), $r->zcard("${p}z")], [2, 3]);
    check('zpopmin', [$r->zpopmin("${p}z")], [b => 2.5]);
}

# a pipeline of 1000 commands: callbacks, then wait_all_responses
my @res;
for my $i (0 .. 999) {
    my $cb = sub { my ($reply, $err) = @_; push @res, defined $err ? "ERROR $err" : $reply };
    $i % 2 == 0 ? $r->set("${p}pipe:$i", $i, $cb) : $r->get("${p}pipe:" . ($i - 1), $cb);
}
$r->wait_all_responses;
check('pipeline 1000 replies', scalar @res, 1000);
check('pipeline replies', [@res[0 .. 3], @res[998, 999]], [qw(OK 0 OK 2 OK 998)]);
my $deleted = 0;
$r->del("${p}pipe:" . (2 * $_), sub { $deleted += $_[0] }) for 0 .. 499;
$r->wait_all_responses;
check('pipeline of 500 DELs', $deleted, 500);

# MULTI/EXEC with WATCH
$r->set("${p}w", 1);
$r->watch("${p}w");
my $v = $r->get("${p}w");
$r->multi;
$r->set("${p}w", $v + 1);
$r->incr("${p}w");
check('watch + multi/exec', [$r->exec], ['OK', 3]);
my $other = client();
$r->watch("${p}w");
$other->set("${p}w", 100);
$r->multi;
$r->incr("${p}w");
check('watch conflict: exec is nil', scalar $r->exec, undef);
check('watched key unchanged', $r->get("${p}w"), '100');
$r->multi;
$r->incr("${p}w");
$r->lpush("${p}w", 'x');
my @pairs;
$r->exec(sub { my ($reply) = @_; @pairs = @$reply });
$r->wait_all_responses;
check('exec in a pipeline: value', $pairs[0][0], 101);
check('exec in a pipeline: error', ($pairs[1][1] // '') =~ /^WRONGTYPE/ ? 1 : 0, 1);

# Lua: EVALSHA with EVAL fallback
$r->script_flush;
$r->set("${p}lua", 1);
check('script (NOSCRIPT -> EVAL)', [@{ run_script($r, "${p}lua", 2) }, $used_eval], ["${p}lua", 2, 3, 1]);
check('script again (EVALSHA)', [@{ run_script($r, "${p}lua", 4) }, $used_eval], ["${p}lua", 4, 7, 0]);
expect_error('script error', sub { $r->eval("return redis.call('LPUSH', KEYS[1], 'x')", 1, "${p}lua") }, 'WRONGTYPE');

# pub/sub with a second connection
my $sub = client();
my @got;
$sub->subscribe("${p}chan", sub { my ($msg, $topic) = @_; push @got, ['message', $topic, $msg] });
$sub->psubscribe("${p}pat*", sub { my ($msg, $topic, $pattern) = @_; push @got, ['pmessage', $pattern, $topic, $msg] });
check('publish receivers', $r->publish("${p}chan", 'hello'), 1);
check('publish to pattern', $r->publish("${p}pattern", 'hi'), 1);
my $deadline = time + 5;
$sub->wait_for_messages(0.5) while @got < 2 && time < $deadline;
check('messages', \@got, [['message', "${p}chan", 'hello'], ['pmessage', "${p}pat*", "${p}pattern", 'hi']]);

# SCAN loops
$r->set("${p}scan:$_", $_, sub { }) for 0 .. 119;
$r->wait_all_responses;
my @found = scan_all($r, 'scan', MATCH => "${p}scan:*", COUNT => 10);
check('scan', [sort @found], [sort map { "${p}scan:$_" } 0 .. 119]);
$r->del(@found);
$r->hset("${p}hs", map { ("f$_", $_) } 0 .. 299);
check('hscan', scalar(my @hs = scan_all($r, 'hscan', "${p}hs", COUNT => 20)), 600);
unless ($skip{sets}) {
    $r->sadd("${p}ss", 0 .. 299);
    my %seen = map { $_ => 1 } scan_all($r, 'sscan', "${p}ss", MATCH => '1*');
    check('sscan', scalar keys %seen, 111);
}
unless ($skip{zsets}) {
    $r->zadd("${p}zs", map { ($_, "m$_") } 0 .. 299);
    my @zs = scan_all($r, 'zscan', "${p}zs");
    my $sum = 0;
    $sum += $zs[$_] for grep { $_ % 2 } 0 .. $#zs;
    check('zscan', $sum, 44850);
}
$r->del("${p}hs", "${p}ss", "${p}zs");

# blocking pop with a timeout
my $t0 = time;
check('blpop timeout', scalar $r->blpop("${p}bl", 0.1), undef);
check('blpop waited for its timeout', (time - $t0 >= 0.09) ? 1 : 0, 1) unless $skip{blocking};
$r->rpush("${p}bl", 'x');
check('blpop ready', [$r->blpop("${p}bl", 1)], ["${p}bl", 'x']);
unless ($skip{blocking}) {
    my $blocked = client();
    my @woken;
    $blocked->blpop("${p}wake", 5, sub { @woken = @{ $_[0] } });    # sent, reply read later
    for (1 .. 500) {
        last if $r->info('clients')->{blocked_clients} > 0;
        sleep 0.01;
    }
    $r->rpush("${p}wake", 'w');
    $blocked->wait_all_responses;
    check('blpop woken by rpush', \@woken, ["${p}wake", 'w']);
}

# errors
$r->set("${p}e", 'string');
expect_error('WRONGTYPE', sub { $r->lpush("${p}e", 'x') }, 'WRONGTYPE');
expect_error('not an integer', sub { $r->incr("${p}e") }, 'ERR');
expect_error('unknown command', sub { $r->nosuchcommand }, 'ERR');

$r->del(@keys);
print "perl Redis $Redis::VERSION: $checks checks passed\n";
