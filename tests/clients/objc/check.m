/* Client-matrix check for Objective-C: no Objective-C Redis client is packaged in Debian, so this
 * is an Objective-C class over hiredis (the usual route), built with GCC's Objective-C compiler
 * (Debian gobjc) and its runtime, without Foundation. RESP2 (hiredis 0.14). Reads REDIS_HOST,
 * REDIS_PORT, REDIS_PASSWORD_FOR_TEST and CLIENTS_SKIP; exits non-zero at the first wrong
 * answer. Keys and channels start with "objc:". */
#include <hiredis/hiredis.h>
#include <objc/Object.h>
#include <objc/runtime.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int checks;
static const char *skip_list;

static int skipped(const char *section) {
    char list[256], want[64];
    snprintf(list, sizeof list, ",%s,", skip_list);
    snprintf(want, sizeof want, ",%s,", section);
    return strstr(list, want) != NULL;
}

static void fail(const char *what, const char *got, const char *want) {
    printf("FAIL %s: got '%s', want '%s'\n", what, got, want);
    exit(1);
}

/* render: a reply as text: strings as is, :N integers, (nil), !ERROR, [a,b] arrays. */
static void render(const redisReply *r, char *out, size_t cap) {
    size_t n = strlen(out);
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS: snprintf(out + n, cap - n, "%s", r->str); break;
    case REDIS_REPLY_INTEGER: snprintf(out + n, cap - n, ":%lld", r->integer); break;
    case REDIS_REPLY_NIL: snprintf(out + n, cap - n, "(nil)"); break;
    case REDIS_REPLY_ERROR: snprintf(out + n, cap - n, "!%s", r->str); break;
    case REDIS_REPLY_ARRAY:
        snprintf(out + n, cap - n, "[");
        for (size_t i = 0; i < r->elements; i++) {
            if (i) strncat(out, ",", cap - strlen(out) - 1);
            render(r->element[i], out, cap);
        }
        strncat(out, "]", cap - strlen(out) - 1);
        break;
    }
}

/* FKRedis: a connection object. -command: returns the reply rendered as text (caller frees). */
@interface FKRedis : Object {
    redisContext *ctx;
}
+ (id)connect;
- (char *)command:(const char *)fmt, ...;
- (char *)text:(redisReply *)r;
- (void)append:(const char *)fmt, ...;
- (char *)nextReply;
- (redisReply *)rawReply;
- (void)close;
@end

@implementation FKRedis
+ (id)connect {
    FKRedis *c = class_createInstance(self, 0);
    const char *host = getenv("REDIS_HOST") ? getenv("REDIS_HOST") : "127.0.0.1";
    int port = getenv("REDIS_PORT") ? atoi(getenv("REDIS_PORT")) : 6379;
    struct timeval tv = {5, 0};
    c->ctx = redisConnectWithTimeout(host, port, tv);
    if (c->ctx == NULL || c->ctx->err) fail("connect", c->ctx ? c->ctx->errstr : "oom", "a connection");
    return c;
}
- (char *)text:(redisReply *)r {
    if (r == NULL) fail("reply", ctx->errstr, "a reply");
    char *out = calloc(1, 1 << 16);
    render(r, out, 1 << 16);
    freeReplyObject(r);
    return out;
}
- (char *)command:(const char *)fmt, ... {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(ctx, fmt, ap);
    va_end(ap);
    return [self text:r];
}
- (void)append:(const char *)fmt, ... {
    va_list ap;
    va_start(ap, fmt);
    redisvAppendCommand(ctx, fmt, ap);
    va_end(ap);
}
- (char *)nextReply {
    void *r = NULL;
    if (redisGetReply(ctx, &r) != REDIS_OK) fail("reply", ctx->errstr, "a reply");
    return [self text:(redisReply *)r];
}
- (redisReply *)rawReply {
    void *r = NULL;
    if (redisGetReply(ctx, &r) != REDIS_OK) fail("reply", ctx->errstr, "a reply");
    return r;
}
- (void)close {
    redisFree(ctx);
    object_dispose(self);
}
@end

static void want(const char *what, char *got, const char *expected) {
    if (strcmp(got, expected) != 0) fail(what, got, expected);
    free(got);
    checks++;
    printf("ok   %s\n", what);
}

static void want_prefix(const char *what, char *got, const char *prefix) {
    if (strncmp(got, prefix, strlen(prefix)) != 0) fail(what, got, prefix);
    free(got);
    checks++;
    printf("ok   %s\n", what);
}

static void *blpop_waiter(void *arg) {
    FKRedis *w = [FKRedis connect];
    *(char **)arg = [w command:"BLPOP objc:wake 5"];
    [w close];
    return NULL;
}

int main(void) {
    skip_list = getenv("CLIENTS_SKIP") ? getenv("CLIENTS_SKIP") : "";
    const char *password = getenv("REDIS_PASSWORD_FOR_TEST") ? getenv("REDIS_PASSWORD_FOR_TEST") : "ferrokv-matrix-secret";
    FKRedis *r = [FKRedis connect];
    want("ping", [r command:"PING"], "PONG");
    free([r command:"DEL objc:s objc:n objc:l objc:h objc:set objc:set2 objc:z objc:w objc:e objc:lua objc:bl objc:wake"]);

    /* AUTH */
    want("config set requirepass", [r command:"CONFIG SET requirepass %s", password], "OK");
    FKRedis *a = [FKRedis connect];
    want_prefix("auth: no password", [a command:"GET objc:s"], "!NOAUTH");
    want_prefix("auth: wrong password", [a command:"AUTH nope"], "!WRONGPASS");
    want("auth: right password", [a command:"AUTH %s", password], "OK");
    [a close];
    want("config reset requirepass", [r command:"CONFIG SET requirepass %s", ""], "OK");

    /* strings with TTL, lists, hashes, sets, sorted sets */
    want("set ex", [r command:"SET objc:s v1 EX 100"], "OK");
    want("get", [r command:"GET objc:s"], "v1");
    char *ttl = [r command:"TTL objc:s"];
    int t = atoi(ttl + 1);
    free(ttl);
    want("ttl in (0,100]", strdup(t > 0 && t <= 100 ? "yes" : "no"), "yes");
    want("set px nx on existing", [r command:"SET objc:s v2 PX 5000 NX"], "(nil)");
    want("incrbyfloat", [r command:"INCRBYFLOAT objc:n 15.5"], "15.5");
    want("rpush", [r command:"RPUSH objc:l a b c"], ":3");
    want("lrange", [r command:"LRANGE objc:l 0 -1"], "[a,b,c]");
    want("hset", [r command:"HSET objc:h f1 1 f2 two"], ":2");
    want("hgetall", [r command:"HGETALL objc:h"], "[f1,1,f2,two]");
    if (!skipped("sets")) {
        want("sadd", [r command:"SADD objc:set a b c"], ":3");
        want("sismember", [r command:"SISMEMBER objc:set b"], ":1");
    }
    if (!skipped("zsets")) {
        want("zadd", [r command:"ZADD objc:z 1 a 2.5 b"], ":2");
        want("zrange withscores", [r command:"ZRANGE objc:z 0 -1 WITHSCORES"], "[a,1,b,2.5]");
    }

    /* a pipeline of 1000 commands */
    for (int i = 0; i < 1000; i++) {
        if (i % 2 == 0) [r append:"SET objc:pipe:%d %d", i, i];
        else [r append:"GET objc:pipe:%d", i - 1];
    }
    for (int i = 0; i < 1000; i++) {
        char expected[16];
        snprintf(expected, sizeof expected, "%d", i - 1);
        char *got = [r nextReply];
        if (strcmp(got, i % 2 == 0 ? "OK" : expected) != 0) fail("pipeline", got, i % 2 == 0 ? "OK" : expected);
        free(got);
    }
    want("pipeline of 1000 commands", strdup("done"), "done");
    for (int i = 0; i < 1000; i += 2) [r append:"DEL objc:pipe:%d", i];
    int deleted = 0;
    for (int i = 0; i < 500; i++) {
        char *d = [r nextReply];
        deleted += strcmp(d, ":1") == 0;
        free(d);
    }
    want("pipeline of 500 DELs", strdup(deleted == 500 ? "500" : "wrong"), "500");

    /* MULTI/EXEC with WATCH */
    FKRedis *other = [FKRedis connect];
    want("set w", [r command:"SET objc:w 1"], "OK");
    want("watch", [r command:"WATCH objc:w"], "OK");
    want("other client writes", [other command:"SET objc:w 100"], "OK");
    want("multi", [r command:"MULTI"], "OK");
    want("queued", [r command:"INCR objc:w"], "QUEUED");
    want("exec after a watched write is nil", [r command:"EXEC"], "(nil)");
    want("multi 2", [r command:"MULTI"], "OK");
    want("queued incr", [r command:"INCR objc:w"], "QUEUED");
    want("queued lpush", [r command:"LPUSH objc:w x"], "QUEUED");
    want_prefix("exec with an error inside", [r command:"EXEC"], "[:101,!WRONGTYPE");

    /* Lua: EVALSHA, then EVAL on NOSCRIPT */
    const char *script = "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}";
    char *sha = [r command:"SCRIPT LOAD %s", script];
    want("script flush", [r command:"SCRIPT FLUSH"], "OK");
    want("set lua", [r command:"SET objc:lua 1"], "OK");
    char *res = [r command:"EVALSHA %s 1 objc:lua 2", sha];
    if (strncmp(res, "!NOSCRIPT", 9) == 0) {
        free(res);
        res = [r command:"EVAL %s 1 objc:lua 2", script];
    } else {
        fail("evalsha after script flush", res, "!NOSCRIPT");
    }
    want("script (NOSCRIPT -> EVAL)", res, "[objc:lua,2,:3]");
    want("script again (EVALSHA)", [r command:"EVALSHA %s 1 objc:lua 4", sha], "[objc:lua,4,:7]");
    free(sha);

    /* pub/sub with a second connection */
    FKRedis *s = [FKRedis connect];
    want("subscribe", [s command:"SUBSCRIBE objc:chan"], "[subscribe,objc:chan,:1]");
    want("publish", [r command:"PUBLISH objc:chan hello"], ":1");
    want("message", [s nextReply], "[message,objc:chan,hello]");
    [s close];

    /* SCAN until the cursor is 0 */
    for (int i = 0; i < 50; i++) [r append:"SET objc:scan:%d x", i];
    for (int i = 0; i < 50; i++) free([r nextReply]);
    int found = 0, rounds = 0;
    char cursor[32] = "0";
    do {
        [r append:"SCAN %s MATCH objc:scan:* COUNT 7", cursor];
        redisReply *reply = [r rawReply];
        snprintf(cursor, sizeof cursor, "%s", reply->element[0]->str);
        found += (int)reply->element[1]->elements;
        for (size_t i = 0; i < reply->element[1]->elements; i++) free([other command:"DEL %s", reply->element[1]->element[i]->str]);
        freeReplyObject(reply);
        if (++rounds > 10000) fail("scan", "endless", "cursor 0");
    } while (strcmp(cursor, "0") != 0);
    want("scan found every key", strdup(found == 50 ? "50" : "wrong"), "50");

    /* blocking pop with a timeout */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    want("blpop timeout", [r command:"BLPOP objc:bl 0.1"], "(nil)");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!skipped("blocking")) {
        double waited = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
        want("blpop waited for its timeout", strdup(waited >= 0.09 ? "yes" : "no"), "yes");
        char *woken = NULL;
        pthread_t th;
        pthread_create(&th, NULL, blpop_waiter, &woken);
        for (int i = 0; i < 500; i++) {
            char *info = [r command:"INFO clients"];
            int blocked = strstr(info, "blocked_clients:0") == NULL;
            free(info);
            if (blocked) break;
            struct timespec ten_ms = {0, 10000000};
            nanosleep(&ten_ms, NULL);
        }
        want("rpush wakes", [r command:"RPUSH objc:wake w"], ":1");
        pthread_join(th, NULL);
        want("blpop woken by rpush", woken, "[objc:wake,w]");
    }

    /* errors */
    want("set e", [r command:"SET objc:e string"], "OK");
    want_prefix("WRONGTYPE", [r command:"LPUSH objc:e x"], "!WRONGTYPE");
    want_prefix("unknown command", [r command:"NOSUCHCOMMAND"], "!ERR unknown command");

    free([r command:"DEL objc:s objc:n objc:l objc:h objc:set objc:set2 objc:z objc:w objc:e objc:lua objc:bl objc:wake"]);
    [other close];
    [r close];
    printf("objective-c over hiredis %d.%d.%d: %d checks passed\n", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH, checks);
    return 0;
}
