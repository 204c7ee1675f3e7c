// Client-matrix check for C++: Debian packages no C++ Redis client (redis-plus-plus is not in
// Debian 12), so this is what C++ code does with hiredis: RAII around redisContext/redisReply,
// std::thread for the second connection. RESP2 (hiredis 0.14). Reads REDIS_HOST, REDIS_PORT,
// REDIS_PASSWORD_FOR_TEST and CLIENTS_SKIP; exits non-zero at the first wrong answer. Keys and
// channels start with "cpp:".
#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

int checks = 0;
std::string skip;

struct ReplyFree {
    void operator()(redisReply *r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

[[noreturn]] void fail(const std::string &what, const std::string &why) {
    std::cout << "FAIL " << what << ": " << why << std::endl;
    std::exit(1);
}

template <typename T>
void check(const std::string &what, const T &got, const T &want) {
    if (!(got == want)) {
        std::ostringstream s;
        s << "got " << got << ", want " << want;
        fail(what, s.str());
    }
    checks++;
    std::cout << "ok   " << what << "\n";
}

bool skipped(const std::string &section) { return ("," + skip + ",").find("," + section + ",") != std::string::npos; }

// A connection: every command goes through argv (binary-safe), replies are RAII.
class Conn {
  public:
    Conn() {
        const char *host = std::getenv("REDIS_HOST");
        const char *port = std::getenv("REDIS_PORT");
        timeval tv{5, 0};
        ctx_.reset(redisConnectWithTimeout(host ? host : "127.0.0.1", port ? std::atoi(port) : 6379, tv));
        if (!ctx_ || ctx_->err) fail("connect", ctx_ ? ctx_->errstr : "out of memory");
    }
    Reply cmd(const std::vector<std::string> &args) {
        append(args);
        return get();
    }
    void append(const std::vector<std::string> &args) {
        std::vector<const char *> argv;
        std::vector<size_t> lens;
        for (const auto &a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(args.size()), argv.data(), lens.data()) != REDIS_OK)
            fail(args[0], ctx_->errstr);
    }
    Reply get() {
        void *r = nullptr;
        if (redisGetReply(ctx_.get(), &r) != REDIS_OK) fail("reply", ctx_->errstr);
        return Reply(static_cast<redisReply *>(r));
    }

  private:
    struct CtxFree {
        void operator()(redisContext *c) const { redisFree(c); }
    };
    std::unique_ptr<redisContext, CtxFree> ctx_;
};

// text: a reply as one comparable string: strings/statuses as is, integers as :N, nil as (nil),
// errors as !TEXT, arrays as [a,b].
std::string text(const redisReply *r) {
    switch (r->type) {
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
            return std::string(r->str, r->len);
        case REDIS_REPLY_INTEGER:
            return ":" + std::to_string(r->integer);
        case REDIS_REPLY_NIL:
            return "(nil)";
        case REDIS_REPLY_ERROR:
            return "!" + std::string(r->str, r->len);
        case REDIS_REPLY_ARRAY: {
            std::string s = "[";
            for (size_t i = 0; i < r->elements; i++) s += (i ? "," : "") + text(r->element[i]);
            return s + "]";
        }
    }
    return "?";
}

void want(Conn &c, const std::string &what, const std::vector<std::string> &args, const std::string &expected) {
    check(what, text(c.cmd(args).get()), expected);
}

void want_error(Conn &c, const std::string &what, const std::vector<std::string> &args, const std::string &prefix) {
    std::string t = text(c.cmd(args).get());
    check(what, t.substr(0, prefix.size() + 1), "!" + prefix);
}

std::vector<std::string> scan_all(Conn &c, const std::vector<std::string> &before, const std::vector<std::string> &after) {
    std::string cursor = "0";
    std::vector<std::string> all;
    for (int rounds = 0;; rounds++) {
        std::vector<std::string> args = before;
        args.push_back(cursor);
        args.insert(args.end(), after.begin(), after.end());
        Reply r = c.cmd(args);
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) fail(before[0], "bad reply " + text(r.get()));
        cursor = r->element[0]->str;
        for (size_t i = 0; i < r->element[1]->elements; i++) all.emplace_back(r->element[1]->element[i]->str);
        if (cursor == "0") return all;
        if (rounds > 10000) fail(before[0], "cursor never returned to 0");
    }
}

}  // namespace

int main() {
    skip = std::getenv("CLIENTS_SKIP") ? std::getenv("CLIENTS_SKIP") : "";
    const std::string password = std::getenv("REDIS_PASSWORD_FOR_TEST") ? std::getenv("REDIS_PASSWORD_FOR_TEST") : "ferrokv-matrix-secret";
    const std::string p = "cpp:";
    Conn r;
    want(r, "ping", {"PING"}, "PONG");
    r.cmd({"DEL", p + "s", p + "n", p + "l", p + "h", p + "set", p + "set2", p + "z", p + "w", p + "e", p + "lua", p + "bl", p + "wake"});

    // AUTH
    want(r, "config set requirepass", {"CONFIG", "SET", "requirepass", password}, "OK");
    {
        Conn a;
        want_error(a, "auth: no password", {"GET", p + "s"}, "NOAUTH");
        want_error(a, "auth: wrong password", {"AUTH", "nope"}, "WRONGPASS");
        want(a, "auth: right password", {"AUTH", password}, "OK");
    }
    want(r, "config reset requirepass", {"CONFIG", "SET", "requirepass", ""}, "OK");

    // strings with TTL (and a binary value)
    want(r, "set ex", {"SET", p + "s", "v1", "EX", "100"}, "OK");
    want(r, "get", {"GET", p + "s"}, "v1");
    long long ttl = r.cmd({"TTL", p + "s"})->integer;
    check("ttl in (0,100]", ttl > 0 && ttl <= 100, true);
    want(r, "set px nx on existing", {"SET", p + "s", "v2", "PX", "5000", "NX"}, "(nil)");
    const std::string binary("a\0b\r\n", 5);
    want(r, "set binary", {"SET", p + "n", binary}, "OK");
    want(r, "get binary", {"GET", p + "n"}, binary);
    want(r, "set n", {"SET", p + "n", "10"}, "OK");
    want(r, "incrby", {"INCRBY", p + "n", "5"}, ":15");
    want(r, "incrbyfloat", {"INCRBYFLOAT", p + "n", "0.5"}, "15.5");
    want(r, "mget", {"MGET", p + "s", p + "missing"}, "[v1,(nil)]");

    // lists, hashes
    want(r, "rpush", {"RPUSH", p + "l", "a", "b", "c"}, ":3");
    want(r, "lrange", {"LRANGE", p + "l", "0", "-1"}, "[a,b,c]");
    want(r, "rpop count", {"RPOP", p + "l", "2"}, "[c,b]");
    want(r, "hset", {"HSET", p + "h", "f1", "1", "f2", "two"}, ":2");
    want(r, "hgetall", {"HGETALL", p + "h"}, "[f1,1,f2,two]");
    want(r, "hincrby", {"HINCRBY", p + "h", "f1", "41"}, ":42");
    if (!skipped("sets")) {
        want(r, "sadd", {"SADD", p + "set", "a", "b", "c"}, ":3");
        want(r, "sismember", {"SISMEMBER", p + "set", "b"}, ":1");
        want(r, "sadd 2", {"SADD", p + "set2", "c", "d"}, ":2");
        want(r, "sinter", {"SINTER", p + "set", p + "set2"}, "[c]");
    }
    if (!skipped("zsets")) {
        want(r, "zadd", {"ZADD", p + "z", "1", "a", "2.5", "b", "3", "c"}, ":3");
        want(r, "zrange withscores", {"ZRANGE", p + "z", "0", "-1", "WITHSCORES"}, "[a,1,b,2.5,c,3]");
        want(r, "zincrby", {"ZINCRBY", p + "z", "10", "a"}, "11");
        want(r, "zpopmin", {"ZPOPMIN", p + "z"}, "[b,2.5]");
    }

    // a pipeline of 1000 commands
    for (int i = 0; i < 1000; i++) {
        if (i % 2 == 0) r.append({"SET", p + "pipe:" + std::to_string(i), std::to_string(i)});
        else r.append({"GET", p + "pipe:" + std::to_string(i - 1)});
    }
    for (int i = 0; i < 1000; i++) {
        std::string t = text(r.get().get());
        if (t != (i % 2 == 0 ? "OK" : std::to_string(i - 1))) fail("pipeline", "reply " + std::to_string(i) + " is " + t);
    }
    check("pipeline of 1000 commands", true, true);
    for (int i = 0; i < 1000; i += 2) r.append({"DEL", p + "pipe:" + std::to_string(i)});
    long long deleted = 0;
    for (int i = 0; i < 500; i++) deleted += r.get()->integer;
    check("pipeline of 500 DELs", deleted, 500LL);

    // MULTI/EXEC with WATCH
    Conn other;
    want(r, "set w", {"SET", p + "w", "1"}, "OK");
    want(r, "watch", {"WATCH", p + "w"}, "OK");
    want(other, "other client writes", {"SET", p + "w", "100"}, "OK");
    want(r, "multi", {"MULTI"}, "OK");
    want(r, "queued", {"INCR", p + "w"}, "QUEUED");
    want(r, "exec after a watched write is nil", {"EXEC"}, "(nil)");
    want(r, "multi 2", {"MULTI"}, "OK");
    want(r, "queued incr", {"INCR", p + "w"}, "QUEUED");
    want(r, "queued lpush", {"LPUSH", p + "w", "x"}, "QUEUED");
    std::string exec = text(r.cmd({"EXEC"}).get());
    check("exec with an error inside", exec.substr(0, 15), std::string("[:101,!WRONGTYP"));

    // Lua: EVALSHA, then EVAL on NOSCRIPT
    const std::string script = "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}";
    std::string sha = text(r.cmd({"SCRIPT", "LOAD", script}).get());
    want(r, "script flush", {"SCRIPT", "FLUSH"}, "OK");
    want(r, "set lua", {"SET", p + "lua", "1"}, "OK");
    auto run_script = [&](const std::string &arg, bool &used_eval) {
        Reply res = r.cmd({"EVALSHA", sha, "1", p + "lua", arg});
        used_eval = res->type == REDIS_REPLY_ERROR && std::string(res->str).rfind("NOSCRIPT", 0) == 0;
        if (used_eval) res = r.cmd({"EVAL", script, "1", p + "lua", arg});
        return text(res.get());
    };
    bool used_eval = false;
    std::string first = run_script("2", used_eval);
    check("script (NOSCRIPT -> EVAL)", first + (used_eval ? " eval" : ""), "[" + p + "lua,2,:3] eval");
    std::string second = run_script("4", used_eval);
    check("script again (EVALSHA)", second + (used_eval ? " eval" : ""), "[" + p + "lua,4,:7]");

    // pub/sub with a second connection on another thread
    std::vector<std::string> got;
    std::thread listener([&] {
        Conn s;
        s.cmd({"SUBSCRIBE", p + "chan"});
        s.cmd({"PSUBSCRIBE", p + "pat*"});
        for (int i = 0; i < 2; i++) got.push_back(text(s.get().get()));
    });
    for (int i = 0; i < 500; i++) {
        if (text(r.cmd({"PUBSUB", "NUMPAT"}).get()) == ":1") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    want(r, "publish", {"PUBLISH", p + "chan", "hello"}, ":1");
    want(r, "publish to pattern", {"PUBLISH", p + "pattern", "hi"}, ":1");
    listener.join();
    check("message", got.at(0), "[message," + p + "chan,hello]");
    check("pmessage", got.at(1), "[pmessage," + p + "pat*," + p + "pattern,hi]");

    // SCAN loops
    for (int i = 0; i < 120; i++) r.append({"SET", p + "scan:" + std::to_string(i), "x"});
    for (int i = 0; i < 120; i++) r.get();
    auto keys = scan_all(r, {"SCAN"}, {"MATCH", p + "scan:*", "COUNT", "10"});
    check("scan", std::set<std::string>(keys.begin(), keys.end()).size(), size_t{120});
    for (const auto &k : keys) r.append({"DEL", k});
    for (size_t i = 0; i < keys.size(); i++) r.get();
    if (!skipped("sets")) {
        for (int i = 0; i < 300; i++) r.append({"SADD", p + "ss", std::to_string(i)});
        for (int i = 0; i < 300; i++) r.get();
        auto ms = scan_all(r, {"SSCAN", p + "ss"}, {"MATCH", "1*"});
        check("sscan", std::set<std::string>(ms.begin(), ms.end()).size(), size_t{111});
        r.cmd({"DEL", p + "ss"});
    }

    // blocking pop with a timeout, and a wake-up from another thread
    auto t0 = std::chrono::steady_clock::now();
    want(r, "blpop timeout", {"BLPOP", p + "bl", "0.1"}, "(nil)");
    if (!skipped("blocking")) {
        check("blpop waited for its timeout", std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(90), true);
        std::string woken;
        std::thread waiter([&] {
            Conn w;
            woken = text(w.cmd({"BLPOP", p + "wake", "5"}).get());
        });
        for (int i = 0; i < 500; i++) {
            if (text(r.cmd({"INFO", "clients"}).get()).find("blocked_clients:0") == std::string::npos) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        want(r, "rpush wakes", {"RPUSH", p + "wake", "w"}, ":1");
        waiter.join();
        check("blpop woken by rpush", woken, "[" + p + "wake,w]");
    }

    // errors
    want(r, "set e", {"SET", p + "e", "string"}, "OK");
    want_error(r, "WRONGTYPE", {"LPUSH", p + "e", "x"}, "WRONGTYPE");
    want_error(r, "not an integer", {"INCR", p + "e"}, "ERR value is not an integer");
    want_error(r, "unknown command", {"NOSUCHCOMMAND"}, "ERR unknown command");

    r.cmd({"DEL", p + "s", p + "n", p + "l", p + "h", p + "set", p + "set2", p + "z", p + "w", p + "e", p + "lua", p + "bl", p + "wake"});
    std::cout << "c++ over hiredis " << HIREDIS_MAJOR << "." << HIREDIS_MINOR << "." << HIREDIS_PATCH << ": " << checks
              << " checks passed" << std::endl;
    return 0;
}
