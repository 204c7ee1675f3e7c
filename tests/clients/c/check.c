/* Client-matrix check for hiredis (Debian libhiredis-dev, RESP2: hiredis 0.14 has no RESP3).
 * Reads REDIS_HOST, REDIS_PORT, REDIS_PASSWORD_FOR_TEST and CLIENTS_SKIP; exits non-zero at the
 * first wrong answer. hiredis has no script or scan helpers, so this program does what such a
 * helper does: EVALSHA, then EVAL on a NOSCRIPT error; SCAN until the cursor is 0 again.
 * Keys and channels start with "c:". */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *host;
static int port;
static const char *password;
static const char *skip;
static int checks;

static int skipped(const char *section) {
    char buf[256];
    snprintf(buf, sizeof buf, ",%s,", skip);
    char want[64];
    snprintf(want, sizeof want, ",%s,", section);
    return strstr(buf, want) != NULL;
}

static void fail(const char *what, const char *fmt, ...) {
    va_list ap;
    printf("FAIL %s: ", what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    exit(1);
}

static void ok(const char *what) {
    checks++;
    printf("ok   %s\n", what);
}

static redisContext *connect_or_die(void) {
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (c == NULL || c->err) fail("connect", "%s", c ? c->errstr : "out of memory");
    return c;
}

/* cmd: runs a command, fails on a transport error; the caller frees the reply. */
static redisReply *cmd(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r == NULL) fail(fmt, "connection error: %s", c->errstr);
    return r;
}

static void want_status(const char *what, redisReply *r, const char *s) {
    if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, s) != 0)
        fail(what, "type %d '%s', want status %s", r->type, r->str ? r->str : "", s);
    ok(what);
    freeReplyObject(r);
}

static void want_str(const char *what, redisReply *r, const char *s) {
    if (r->type != REDIS_REPLY_STRING || strcmp(r->str, s) != 0)
        fail(what, "type %d '%s', want string '%s'", r->type, r->str ? r->str : "", s);
    ok(what);
    freeReplyObject(r);
}

static void want_int(const char *what, redisReply *r, long long n) {
    if (r->type != REDIS_REPLY_INTEGER || r->integer != n)
        fail(what, "type %d %lld '%s', want integer %lld", r->type, r->integer, r->str ? r->str : "", n);
    ok(what);
    freeReplyObject(r);
}

static void want_nil(const char *what, redisReply *r) {
    if (r->type != REDIS_REPLY_NIL) fail(what, "type %d, want nil", r->type);
    ok(what);
    freeReplyObject(r);
}

static void want_error(const char *what, redisReply *r, const char *prefix) {
    if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, prefix, strlen(prefix)) != 0)
        fail(what, "type %d '%s', want an error starting with %s", r->type, r->str ? r->str : "", prefix);
    ok(what);
    freeReplyObject(r);
}

/* want_strs: an array reply of exactly these bulk strings (NULL in the list = nil). */
static void want_strs(const char *what, redisReply *r, size_t n, ...) {
    va_list ap;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
        fail(what, "type %d with %zu elements, want an array of %zu", r->type, r->elements, n);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        const char *s = va_arg(ap, const char *);
        redisReply *e = r->element[i];
        if (s == NULL ? e->type != REDIS_REPLY_NIL : (e->type != REDIS_REPLY_STRING || strcmp(e->str, s) != 0))
            fail(what, "element %zu is type %d '%s', want '%s'", i, e->type, e->str ? e->str : "", s ? s : "(nil)");
    }
    va_end(ap);
    ok(what);
    freeReplyObject(r);
}

/* A Lua script helper as client libraries have it: EVALSHA, and EVAL when the server says NOSCRIPT. */
static const char *SCRIPT = "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}";
static int used_eval;
static redisReply *run_script(redisContext *c, const char *sha, const char *key, const char *arg) {
    redisReply *r = cmd(c, "EVALSHA %s 1 %s %s", sha, key, arg);
    used_eval = 0;
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        used_eval = 1;
        r = cmd(c, "EVAL %s 1 %s %s", SCRIPT, key, arg);
    }
    return r;
}

/* scan_count: iterates SCAN-like commands until the cursor is 0; counts the elements (pairs
 * count as `per` elements each) and sums numeric second elements of pairs into *sum. */
static long scan_count(redisContext *c, const char *command, const char *key, const char *match, int per, double *sum) {
    char cursor[64] = "0";
    long n = 0;
    int rounds = 0;
    do {
        redisReply *r = key ? cmd(c, "%s %s %s MATCH %s COUNT 20", command, key, cursor, match)
                            : cmd(c, "%s %s MATCH %s COUNT 20", command, cursor, match);
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) fail(command, "bad reply type %d", r->type);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *items = r->element[1];
        for (size_t i = 0; i < items->elements; i += per) {
            n++;
            if (sum && per == 2) *sum += atof(items->element[i + 1]->str);
        }
        freeReplyObject(r);
        if (++rounds > 10000) fail(command, "cursor never returned to 0");
    } while (strcmp(cursor, "0") != 0);
    return n;
}

struct blocked {
    char key[64];
    redisReply *reply;
};

static void *blpop_thread(void *arg) {
    struct blocked *b = arg;
    redisContext *c = connect_or_die();
    b->reply = cmd(c, "BLPOP %s 5", b->key);
    redisFree(c);
    return NULL;
}

int main(void) {
    host = getenv("REDIS_HOST") ? getenv("REDIS_HOST") : "127.0.0.1";
    port = getenv("REDIS_PORT") ? atoi(getenv("REDIS_PORT")) : 6379;
    password = getenv("REDIS_PASSWORD_FOR_TEST") ? getenv("REDIS_PASSWORD_FOR_TEST") : "ferrokv-matrix-secret";
    skip = getenv("CLIENTS_SKIP") ? getenv("CLIENTS_SKIP") : "";
    redisContext *c = connect_or_die();
    redisReply *r;
    want_status("ping", cmd(c, "PING"), "PONG");
    freeReplyObject(cmd(c, "DEL c:s c:n c:l c:h c:set c:set2 c:z c:w c:e c:lua c:bl c:wake"));

    /* AUTH */
    want_status("config set requirepass", cmd(c, "CONFIG SET requirepass %s", password), "OK");
    redisContext *a = connect_or_die();
    want_error("auth: command without AUTH", cmd(a, "GET c:s"), "NOAUTH");
    want_error("auth: wrong password", cmd(a, "AUTH wrong-password"), "WRONGPASS");
    want_status("auth: right password", cmd(a, "AUTH %s", password), "OK");
    want_status("auth: ping", cmd(a, "PING"), "PONG");
    redisFree(a);
    want_status("config reset requirepass", cmd(c, "CONFIG SET requirepass %s", ""), "OK");

    /* strings with TTL */
    want_status("set ex", cmd(c, "SET c:s %s EX 100", "v1"), "OK");
    want_str("get", cmd(c, "GET c:s"), "v1");
    r = cmd(c, "TTL c:s");
    if (r->type != REDIS_REPLY_INTEGER || r->integer <= 0 || r->integer > 100) fail("ttl", "%lld", r->integer);
    ok("ttl in (0,100]");
    freeReplyObject(r);
    want_nil("set px nx on existing", cmd(c, "SET c:s v2 PX 5000 NX"));
    want_status("set", cmd(c, "SET c:n 10"), "OK");
    want_int("incrby", cmd(c, "INCRBY c:n 5"), 15);
    want_str("incrbyfloat", cmd(c, "INCRBYFLOAT c:n 0.5"), "15.5");
    want_strs("mget", cmd(c, "MGET c:s c:missing"), 2, "v1", NULL);
    want_int("persist", cmd(c, "PERSIST c:s"), 1);
    want_int("ttl after persist", cmd(c, "TTL c:s"), -1);
    /* binary-safe values */
    want_status("set binary", cmd(c, "SET c:bin %b", "a\0b\r\n", (size_t)5), "OK");
    r = cmd(c, "GET c:bin");
    if (r->type != REDIS_REPLY_STRING || r->len != 5 || memcmp(r->str, "a\0b\r\n", 5) != 0) fail("get binary", "wrong bytes");
    ok("get binary");
    freeReplyObject(r);

    /* lists */
    want_int("rpush", cmd(c, "RPUSH c:l a b c"), 3);
    want_int("lpush", cmd(c, "LPUSH c:l z"), 4);
    want_strs("lrange", cmd(c, "LRANGE c:l 0 -1"), 4, "z", "a", "b", "c");
    want_str("lpop", cmd(c, "LPOP c:l"), "z");
    want_strs("rpop count", cmd(c, "RPOP c:l 2"), 2, "c", "b");
    want_int("llen", cmd(c, "LLEN c:l"), 1);

    /* hashes */
    want_int("hset", cmd(c, "HSET c:h f1 1 f2 two"), 2);
    want_str("hget", cmd(c, "HGET c:h f2"), "two");
    want_strs("hgetall", cmd(c, "HGETALL c:h"), 4, "f1", "1", "f2", "two");
    want_int("hincrby", cmd(c, "HINCRBY c:h f1 41"), 42);
    want_strs("hmget", cmd(c, "HMGET c:h f1 nope"), 2, "42", NULL);

    if (!skipped("sets")) {
        want_int("sadd", cmd(c, "SADD c:set a b c"), 3);
        want_int("sismember", cmd(c, "SISMEMBER c:set b"), 1);
        want_int("srem", cmd(c, "SREM c:set a"), 1);
        want_int("scard", cmd(c, "SCARD c:set"), 2);
        want_int("sadd 2", cmd(c, "SADD c:set2 c d"), 2);
        want_strs("sinter", cmd(c, "SINTER c:set c:set2"), 1, "c");
    }
    if (!skipped("zsets")) {
        want_int("zadd", cmd(c, "ZADD c:z 1 a 2.5 b 3 c"), 3);
        want_strs("zrange withscores", cmd(c, "ZRANGE c:z 0 -1 WITHSCORES"), 6, "a", "1", "b", "2.5", "c", "3");
        want_str("zscore", cmd(c, "ZSCORE c:z b"), "2.5");
        want_str("zincrby", cmd(c, "ZINCRBY c:z 10 a"), "11");
        want_strs("zrangebyscore", cmd(c, "ZRANGEBYSCORE c:z 2 5"), 2, "b", "c");
        want_int("zrank", cmd(c, "ZRANK c:z a"), 2);
        want_strs("zpopmin", cmd(c, "ZPOPMIN c:z"), 2, "b", "2.5");
    }

    /* a pipeline of 1000 commands: append them all, then read the replies */
    for (int i = 0; i < 1000; i++) {
        if (i % 2 == 0) redisAppendCommand(c, "SET c:pipe:%d %d", i, i);
        else redisAppendCommand(c, "GET c:pipe:%d", i - 1);
    }
    for (int i = 0; i < 1000; i++) {
        if (redisGetReply(c, (void **)&r) != REDIS_OK) fail("pipeline", "%s", c->errstr);
        char want[16];
        snprintf(want, sizeof want, "%d", i - 1);
        if (i % 2 == 0 ? (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "OK") != 0)
                       : (r->type != REDIS_REPLY_STRING || strcmp(r->str, want) != 0))
            fail("pipeline", "reply %d: type %d '%s'", i, r->type, r->str ? r->str : "");
        freeReplyObject(r);
    }
    ok("pipeline of 1000 commands");
    for (int i = 0; i < 1000; i += 2) redisAppendCommand(c, "DEL c:pipe:%d", i);
    for (int i = 0; i < 500; i++) {
        if (redisGetReply(c, (void **)&r) != REDIS_OK) fail("pipeline del", "%s", c->errstr);
        if (r->type != REDIS_REPLY_INTEGER || r->integer != 1) fail("pipeline del", "reply %d", i);
        freeReplyObject(r);
    }
    ok("pipeline of 500 DELs");

    /* MULTI/EXEC with WATCH */
    want_status("set w", cmd(c, "SET c:w 1"), "OK");
    want_status("watch", cmd(c, "WATCH c:w"), "OK");
    want_status("multi", cmd(c, "MULTI"), "OK");
    want_status("queued set", cmd(c, "SET c:w 2"), "QUEUED");
    want_status("queued incr", cmd(c, "INCR c:w"), "QUEUED");
    r = cmd(c, "EXEC");
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1]->integer != 3) fail("exec", "type %d", r->type);
    ok("exec");
    freeReplyObject(r);
    redisContext *other = connect_or_die();
    want_status("watch again", cmd(c, "WATCH c:w"), "OK");
    want_status("other client writes", cmd(other, "SET c:w 100"), "OK");
    want_status("multi 2", cmd(c, "MULTI"), "OK");
    want_status("queued incr 2", cmd(c, "INCR c:w"), "QUEUED");
    r = cmd(c, "EXEC");
    if (r->type != REDIS_REPLY_NIL) fail("exec after a watched write", "type %d, want nil", r->type);
    ok("exec after a watched write is nil");
    freeReplyObject(r);
    want_str("watched key unchanged", cmd(c, "GET c:w"), "100");
    want_status("multi 3", cmd(c, "MULTI"), "OK");
    want_status("queued incr 3", cmd(c, "INCR c:w"), "QUEUED");
    want_status("queued lpush", cmd(c, "LPUSH c:w x"), "QUEUED");
    r = cmd(c, "EXEC");
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->integer != 101 ||
        r->element[1]->type != REDIS_REPLY_ERROR || strncmp(r->element[1]->str, "WRONGTYPE", 9) != 0)
        fail("exec with an error", "type %d", r->type);
    ok("exec with an error inside");
    freeReplyObject(r);
    want_error("exec without multi", cmd(c, "EXEC"), "ERR EXEC without MULTI");

    /* Lua: SHA1 from SCRIPT LOAD on another server state, EVALSHA with EVAL fallback */
    want_status("set lua", cmd(c, "SET c:lua 1"), "OK");
    r = cmd(c, "SCRIPT LOAD %s", SCRIPT);
    if (r->type != REDIS_REPLY_STRING || r->len != 40) fail("script load", "type %d", r->type);
    char sha[41];
    memcpy(sha, r->str, 41);
    freeReplyObject(r);
    ok("script load");
    want_status("script flush", cmd(c, "SCRIPT FLUSH"), "OK");
    r = run_script(c, sha, "c:lua", "2");
    if (!used_eval || r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[2]->integer != 3)
        fail("script NOSCRIPT -> EVAL", "eval %d type %d", used_eval, r->type);
    ok("script NOSCRIPT -> EVAL");
    freeReplyObject(r);
    r = run_script(c, sha, "c:lua", "4");
    if (used_eval || r->type != REDIS_REPLY_ARRAY || r->element[2]->integer != 7)
        fail("script EVALSHA", "eval %d type %d", used_eval, r->type);
    ok("script EVALSHA after EVAL cached it");
    freeReplyObject(r);
    want_error("script error", cmd(c, "EVAL %s 1 c:lua", "return redis.call('LPUSH', KEYS[1], 'x')"), "WRONGTYPE");

    /* pub/sub with a second connection */
    redisContext *s = connect_or_die();
    r = cmd(s, "SUBSCRIBE c:chan");
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || strcmp(r->element[0]->str, "subscribe") != 0) fail("subscribe", "bad");
    ok("subscribe");
    freeReplyObject(r);
    r = cmd(s, "PSUBSCRIBE c:pat*");
    if (r->type != REDIS_REPLY_ARRAY || r->element[2]->integer != 2) fail("psubscribe", "bad");
    ok("psubscribe");
    freeReplyObject(r);
    want_int("publish", cmd(c, "PUBLISH c:chan hello"), 1);
    want_int("publish to pattern", cmd(c, "PUBLISH c:pattern hi"), 1);
    if (redisGetReply(s, (void **)&r) != REDIS_OK) fail("message", "%s", s->errstr);
    want_strs("message", r, 3, "message", "c:chan", "hello");
    if (redisGetReply(s, (void **)&r) != REDIS_OK) fail("pmessage", "%s", s->errstr);
    want_strs("pmessage", r, 4, "pmessage", "c:pat*", "c:pattern", "hi");
    redisFree(s);

    /* SCAN loops */
    for (int i = 0; i < 120; i++) redisAppendCommand(c, "SET c:scan:%d %d", i, i);
    for (int i = 0; i < 120; i++) {
        if (redisGetReply(c, (void **)&r) != REDIS_OK) fail("scan setup", "%s", c->errstr);
        freeReplyObject(r);
    }
    if (scan_count(c, "SCAN", NULL, "c:scan:*", 1, NULL) != 120) fail("scan", "wrong count");
    ok("scan: 120 keys");
    for (int i = 0; i < 300; i++) redisAppendCommand(c, "HSET c:hs f%d %d", i, i);
    for (int i = 0; i < 300; i++) {
        if (redisGetReply(c, (void **)&r) != REDIS_OK) fail("hscan setup", "%s", c->errstr);
        freeReplyObject(r);
    }
    if (scan_count(c, "HSCAN", "c:hs", "*", 2, NULL) != 300) fail("hscan", "wrong count");
    ok("hscan: 300 fields");
    if (!skipped("sets")) {
        for (int i = 0; i < 300; i++) redisAppendCommand(c, "SADD c:ss %d", i);
        for (int i = 0; i < 300; i++) {
            if (redisGetReply(c, (void **)&r) != REDIS_OK) fail("sscan setup", "%s", c->errstr);
            freeReplyObject(r);
        }
        if (scan_count(c, "SSCAN", "c:ss", "1*", 1, NULL) != 111) fail("sscan", "wrong count");
        ok("sscan: 111 members match 1*");
    }
    if (!skipped("zsets")) {
        for (int i = 0; i < 300; i++) redisAppendCommand(c, "ZADD c:zs %d m%d", i, i);
        for (int i = 0; i < 300; i++) {
            if (redisGetReply(c, (void **)&r) != REDIS_OK) fail("zscan setup", "%s", c->errstr);
            freeReplyObject(r);
        }
        double sum = 0;
        if (scan_count(c, "ZSCAN", "c:zs", "*", 2, &sum) != 300 || sum != 44850) fail("zscan", "wrong count/sum");
        ok("zscan: 300 members, scores add up");
    }
    for (int i = 0; i < 120; i++) redisAppendCommand(c, "DEL c:scan:%d", i);
    for (int i = 0; i < 120; i++) {
        if (redisGetReply(c, (void **)&r) != REDIS_OK) fail("scan cleanup", "%s", c->errstr);
        freeReplyObject(r);
    }
    freeReplyObject(cmd(c, "DEL c:hs c:ss c:zs"));

    /* blocking pop with a timeout */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = cmd(c, "BLPOP c:bl 0.1");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (r->type != REDIS_REPLY_NIL) fail("blpop timeout", "type %d", r->type);
    if (!skipped("blocking") && waited < 0.09) fail("blpop timeout", "returned after %.3fs, before its timeout", waited);
    ok("blpop on an empty key times out with nil");
    freeReplyObject(r);
    want_int("rpush bl", cmd(c, "RPUSH c:bl x"), 1);
    want_strs("blpop ready", cmd(c, "BLPOP c:bl 1"), 2, "c:bl", "x");
    if (!skipped("blocking")) {
        struct blocked b = {"c:wake", NULL};
        pthread_t th;
        pthread_create(&th, NULL, blpop_thread, &b);
        for (int i = 0; i < 500; i++) {
            r = cmd(c, "INFO clients");
            int blocked = strstr(r->str, "blocked_clients:0") == NULL;
            freeReplyObject(r);
            if (blocked) break;
            struct timespec ten_ms = {0, 10000000};
            nanosleep(&ten_ms, NULL);
        }
        want_int("rpush wakes the blocked client", cmd(c, "RPUSH c:wake w"), 1);
        pthread_join(th, NULL);
        want_strs("blpop woken by rpush", b.reply, 2, "c:wake", "w");
    }

    /* errors: hiredis reports them as REDIS_REPLY_ERROR replies */
    want_status("set e", cmd(c, "SET c:e string"), "OK");
    want_error("WRONGTYPE", cmd(c, "LPUSH c:e x"), "WRONGTYPE");
    want_error("not an integer", cmd(c, "INCR c:e"), "ERR value is not an integer");
    want_error("unknown command", cmd(c, "NOSUCHCOMMAND"), "ERR unknown command");
    want_error("wrong arity", cmd(c, "GET"), "ERR wrong number of arguments");

    freeReplyObject(cmd(c, "DEL c:s c:n c:l c:h c:set c:set2 c:z c:w c:e c:lua c:bl c:bin c:wake"));
    redisFree(other);
    redisFree(c);
    printf("c hiredis %d.%d.%d: %d checks passed\n", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH, checks);
    return 0;
}
