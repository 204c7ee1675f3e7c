//! Redis Functions compared with redis-server 7.0 (RESP2 and RESP3): FUNCTION LOAD (metadata
//! and registration errors, the load-time environment), FCALL/FCALL_RO with flags, error
//! texts with `@user_function:N`, FUNCTION LIST/STATS/DELETE/FLUSH/DUMP/RESTORE; plus
//! ferrokv-only checks (payload round trips, restoring redis-server's own dump).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{Compare, Diff, ServerProc, Value};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

struct Cases<'d> {
    d: &'d mut Diff,
    failures: Vec<String>,
}

impl Cases<'_> {
    fn cmd(&mut self, args: &[&str]) {
        if let Err(e) = self.d.try_check(args, Compare::Exact) {
            self.failures.push(e);
        }
    }

    /// Function order inside a library follows Redis's dict order: compared as multisets.
    fn unordered(&mut self, args: &[&str]) {
        if let Err(e) = self.d.try_check(args, Compare::UnorderedDeep) {
            self.failures.push(e);
        }
    }

    /// FUNCTION LOAD of `#!lua name=<lib>\n<body>`.
    fn load(&mut self, lib: &str, body: &str) {
        let code = format!("#!lua name={lib}\n{body}");
        self.cmd(&["FUNCTION", "LOAD", &code]);
    }

    /// Loads `body` as library `probe`, then deletes it.
    fn probe(&mut self, body: &str) {
        self.load("probe", body);
        self.cmd(&["FUNCTION", "DELETE", "probe"]);
    }
}

const LOAD_ERRORS: &[&str] = &[
    "return 1",
    "local x = string.len('x')",
    "local x = math.floor(1)",
    "local x = type",
    "local x = tostring",
    "local x = redis.call",
    "local x = redis.pcall",
    "local x = redis.setresp",
    "local x = redis.sha1hex",
    "local x = redis.error_reply",
    "local x = redis.set_repl",
    "local x = _G",
    "local x = KEYS",
    "local x = os",
    "local x = cjson",
    "local x = error",
    "x = 1",
    "redis.x = 1",
    "local x = nosuch",
    "return (",
    "error('at load')",
    "redis.register_function('f5', function() end)\nredis.register_function('f5', function() end)",
    "redis.register_function('f5', 'notfn')",
    "redis.register_function('f5')",
    "redis.register_function()",
    "redis.register_function(1, 2, 3)",
    "redis.register_function('f5', function() end, 3)",
    "redis.register_function('bad name', function() end)",
    "redis.register_function('', function() end)",
    "redis.register_function{function_name='f5', callback=function() end, flags={'bogus'}}",
    "redis.register_function{function_name='f5', callback=function() end, flags={1}}",
    "redis.register_function{function_name='f5', callback=function() end, flags='no-writes'}",
    "redis.register_function{function_name='f5', callback=function() end, foo=1}",
    "redis.register_function{callback=function() end}",
    "redis.register_function{function_name='f5'}",
    "redis.register_function{function_name='f5', callback='x'}",
    "redis.register_function{function_name='f5', callback=function() end, description=1}",
    "redis.register_function{function_name='f5', callback=function() end, description={}}",
    "redis.register_function{function_name=1, callback=function() end}",
    "redis.register_function('ok_1', function() return 1 end)",
    "while true do end",
    "redis.log(redis.LOG_NOTICE, 'loading')\nredis.register_function('ok_2', function() return 1 end)",
    "local v = redis.REDIS_VERSION\nredis.register_function('ok_3', function() return 1 end)",
    "local a = {}\nlocal function h() return #a end\nredis.register_function('ok_4', h)",
];

fn suite(d: &mut Diff) -> Vec<String> {
    let mut c = Cases {
        d,
        failures: Vec::new(),
    };
    // Metadata errors.
    c.cmd(&["FUNCTION", "LOAD", "return 1"]);
    c.cmd(&["FUNCTION", "LOAD", "#!lua\nreturn 1"]);
    c.cmd(&["FUNCTION", "LOAD", "#!lua name=lib5"]);
    c.cmd(&["FUNCTION", "LOAD", "#!lua name=lib3 foo=bar\nreturn 1"]);
    c.cmd(&["FUNCTION", "LOAD", "#!lua name=bad-name!\nreturn 1"]);
    c.cmd(&["FUNCTION", "LOAD", "#!lua name=\nreturn 1"]);
    c.cmd(&["FUNCTION", "LOAD", "#!python name=x\nreturn 1"]);
    c.cmd(&["FUNCTION", "LOAD"]);
    c.cmd(&["FUNCTION", "LOAD", "BOGUS", "#!lua name=x\nreturn 1"]);
    for body in LOAD_ERRORS {
        c.probe(body);
    }
    // A library with several functions and flags.
    c.load(
        "mylib",
        "redis.register_function{function_name='fa', callback=function(keys, args) return {keys[1], args[1], #keys, #args} end, flags={'no-writes','allow-stale'}, description='desc a'}\n\
         redis.register_function('fb', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n\
         redis.register_function{function_name='fc', callback=function() return redis.call('get', 'kk') end, flags={'allow-oom', 'no-cluster', 'allow-cross-slot-keys', 'no-writes'}}\n\
         redis.register_function('ferr', function()\n  local x = 1\n  error('boom')\nend)\n\
         redis.register_function('fcallerr', function()\n  return redis.call('nosuch')\nend)\n\
         redis.register_function('fwrite_ro', function() return redis.call('set', 'a', 'b') end)\n\
         redis.register_function{function_name='fro_write', callback=function() return redis.call('set', 'a', 'b') end, flags={'no-writes'}}\n\
         redis.register_function('fglobal', function() return nosuch end)\n\
         redis.register_function('fpcall', function() return redis.pcall('incr', 'kk') end)\n\
         redis.register_function('fresp3', function() redis.setresp(3); return redis.call('hgetall', 'hh') end)\n\
         redis.register_function('ftypes', function() return {1, 2.5, 'x', true, false, {ok='fine'}} end)",
    );
    c.unordered(&["FUNCTION", "LIST"]);
    c.unordered(&["FUNCTION", "LIST", "WITHCODE"]);
    c.unordered(&["FUNCTION", "LIST", "LIBRARYNAME", "my*"]);
    c.cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "x*"]);
    c.unordered(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "mylib"]);
    c.cmd(&["FUNCTION", "LIST", "LIBRARYNAME"]);
    c.cmd(&["FUNCTION", "LIST", "BOGUS"]);
    c.cmd(&["FUNCTION", "STATS"]);
    c.cmd(&["FCALL", "fa", "2", "k1", "k2", "a1"]);
    c.cmd(&["FCALL_RO", "fa", "0", "x"]);
    c.cmd(&["FCALL", "fb", "1", "kk", "vv"]);
    c.cmd(&["FCALL_RO", "fb", "1", "kk", "vv"]);
    c.cmd(&["FCALL_RO", "fc", "0"]);
    c.cmd(&["FCALL", "ferr", "0"]);
    c.cmd(&["FCALL", "fcallerr", "0"]);
    c.cmd(&["FCALL", "fwrite_ro", "0"]);
    c.cmd(&["FCALL", "fro_write", "0"]);
    c.cmd(&["FCALL", "fglobal", "0"]);
    c.cmd(&["FCALL", "fpcall", "0"]);
    c.cmd(&["HSET", "hh", "f", "v"]);
    c.cmd(&["FCALL", "fresp3", "0"]);
    c.cmd(&["FCALL", "ftypes", "0"]);
    c.cmd(&["FCALL", "nosuch", "0"]);
    c.cmd(&["FCALL", "fa", "-1"]);
    c.cmd(&["FCALL", "fa", "5", "a"]);
    c.cmd(&["FCALL", "fa", "x"]);
    c.cmd(&["FCALL", "fa"]);
    c.cmd(&["EVAL", "return redis.call('fcall', 'fa', 0)", "0"]);
    c.cmd(&["EVAL", "return redis.call('function', 'list')", "0"]);
    // Collisions and REPLACE.
    c.load(
        "mylib",
        "redis.register_function('fz', function() return 1 end)",
    );
    c.load(
        "other",
        "redis.register_function('fa', function() return 1 end)",
    );
    c.cmd(&[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=other\nredis.register_function('fa', function() return 1 end)",
    ]);
    c.cmd(&[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=mylib\nredis.register_function('fa', function() return 'replaced' end)",
    ]);
    c.cmd(&["FCALL", "fa", "0"]);
    c.cmd(&["FCALL", "fb", "0"]);
    c.unordered(&["FUNCTION", "LIST"]);
    c.load(
        "second",
        "redis.register_function('s1', function() return 's1' end)",
    );
    c.cmd(&["FUNCTION", "STATS"]);
    // DUMP / RESTORE (the payloads themselves are compared in a separate test).
    c.cmd(&["FUNCTION", "RESTORE", "xx"]);
    c.cmd(&["FUNCTION", "RESTORE", "xx", "bogus"]);
    c.cmd(&["FUNCTION", "RESTORE"]);
    c.cmd(&["FUNCTION", "DELETE", "nolib"]);
    c.cmd(&["FUNCTION", "DELETE", "second"]);
    c.cmd(&["FCALL", "s1", "0"]);
    c.cmd(&["FUNCTION", "DELETE"]);
    c.cmd(&["FUNCTION", "FLUSH", "bogus"]);
    c.cmd(&["FUNCTION", "KILL"]);
    c.cmd(&["FUNCTION", "HELP"]);
    c.cmd(&["FUNCTION", "BOGUS"]);
    c.cmd(&["FUNCTION", "FLUSH", "ASYNC"]);
    c.unordered(&["FUNCTION", "LIST"]);
    c.cmd(&["FCALL", "fa", "0"]);
    c.cmd(&["FUNCTION", "FLUSH"]);
    c.cmd(&["FUNCTION", "FLUSH", "SYNC"]);
    // Inside MULTI.
    c.load(
        "tx",
        "redis.register_function('incr_it', function(keys) return redis.call('incr', keys[1]) end)",
    );
    c.cmd(&["MULTI"]);
    c.cmd(&["FCALL", "incr_it", "1", "cnt"]);
    c.cmd(&["FCALL", "incr_it", "1", "cnt"]);
    c.cmd(&["EXEC"]);
    c.cmd(&["FUNCTION", "FLUSH"]);
    c.cmd(&["FLUSHALL"]);
    c.failures
}

fn report(failures: Vec<String>) {
    for f in &failures {
        eprintln!("{f}\n");
    }
    assert!(failures.is_empty(), "{} differences", failures.len());
}

#[test]
fn functions_match_redis_resp2() {
    let mut d = ferrokv_testkit::diff_or_skip!(BIN);
    report(suite(&mut d));
}

#[test]
fn functions_match_redis_resp3() {
    let mut d = ferrokv_testkit::diff_or_skip!(resp3, BIN);
    report(suite(&mut d));
}

fn bulk(v: Value) -> Vec<u8> {
    match v {
        Value::Bulk(b) => b,
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

/// FUNCTION DUMP writes the same bytes as redis-server for the same libraries, each server
/// restores the other's payload, and the policies FLUSH / APPEND / REPLACE behave.
#[test]
fn dump_and_restore_payloads() {
    let mut d = ferrokv_testkit::diff_or_skip!(BIN);
    let long = format!(
        "#!lua name=big\n-- {}\nredis.register_function('big_f', function() return 'big' end)",
        "padding ".repeat(40)
    );
    for code in [
        "#!lua name=small\nredis.register_function('small_f', function() return 1 end)",
        long.as_str(),
    ] {
        d.check(&["FUNCTION", "LOAD", code]);
    }
    let fk_dump = bulk(d.ferrokv().cmd(&["FUNCTION", "DUMP"]));
    let rd_dump = bulk(d.redis().cmd(&["FUNCTION", "DUMP"]));
    // Library order in the payload follows each server's dict order; compare as sets by
    // restoring across.
    assert_eq!(fk_dump.len(), rd_dump.len(), "payload sizes differ");
    let fk = d.ferrokv();
    // The first library of the payload that exists is named (payload order is redis's).
    let raw = fk.cmd_raw(&[b"FUNCTION", b"RESTORE", &rd_dump]);
    assert!(
        raw == b"-ERR Library small already exists\r\n".to_vec()
            || raw == b"-ERR Library big already exists\r\n".to_vec(),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    assert_eq!(
        fk.cmd_raw(&[b"FUNCTION", b"RESTORE", &rd_dump, b"REPLACE"]),
        b"+OK\r\n".to_vec()
    );
    assert_eq!(fk.cmd_raw(&[b"FUNCTION", b"FLUSH"]), b"+OK\r\n".to_vec());
    assert_eq!(
        fk.cmd_raw(&[b"FUNCTION", b"RESTORE", &rd_dump]),
        b"+OK\r\n".to_vec()
    );
    assert_eq!(
        fk.cmd(&["FCALL", "big_f", "0"]),
        Value::Bulk(b"big".to_vec())
    );
    assert_eq!(fk.cmd(&["FCALL", "small_f", "0"]), Value::Int(1));
    let rd = d.redis();
    assert_eq!(rd.cmd_raw(&[b"FUNCTION", b"FLUSH"]), b"+OK\r\n".to_vec());
    assert_eq!(
        rd.cmd_raw(&[b"FUNCTION", b"RESTORE", &fk_dump]),
        b"+OK\r\n".to_vec()
    );
    assert_eq!(
        rd.cmd(&["FCALL", "big_f", "0"]),
        Value::Bulk(b"big".to_vec())
    );
    // FLUSH policy drops the others; a corrupt payload is refused.
    let fk = d.ferrokv();
    fk.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=extra\nredis.register_function('extra_f', function() return 2 end)",
    ]);
    let mut one = fk_dump.clone();
    assert_eq!(
        fk.cmd_raw(&[b"FUNCTION", b"RESTORE", &one, b"FLUSH"]),
        b"+OK\r\n".to_vec()
    );
    assert!(
        matches!(fk.cmd(&["FCALL", "extra_f", "0"]), Value::Error(e) if e == "ERR Function not found")
    );
    let last = one.len() - 1;
    one[last] ^= 0xff;
    assert_eq!(
        fk.cmd_raw(&[b"FUNCTION", b"RESTORE", &one]),
        b"-ERR DUMP payload version or checksum are wrong\r\n".to_vec()
    );
    // An empty registry dumps to a payload that restores to nothing.
    fk.cmd(&["FUNCTION", "FLUSH"]);
    let empty = bulk(fk.cmd(&["FUNCTION", "DUMP"]));
    d.redis().cmd(&["FUNCTION", "FLUSH"]);
    assert_eq!(empty, bulk(d.redis().cmd(&["FUNCTION", "DUMP"])));
    assert_eq!(
        d.ferrokv().cmd_raw(&[b"FUNCTION", b"RESTORE", &empty]),
        b"+OK\r\n".to_vec()
    );
}

/// Functions run in their own Lua state: globals of EVAL scripts and SCRIPT FLUSH do not touch
/// them; FUNCTION FLUSH does not touch the script cache.
#[test]
fn functions_and_scripts_are_separate() {
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    c.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=l\nredis.register_function('f', function() return 'f' end)",
    ]);
    let sha = c.cmd(&["SCRIPT", "LOAD", "return 's'"]);
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH"]), Value::Simple("OK".into()));
    assert_eq!(c.cmd(&["FCALL", "f", "0"]), Value::Bulk(b"f".to_vec()));
    let Value::Bulk(sha) = sha else { panic!("sha") };
    let sha = String::from_utf8(sha).unwrap();
    c.cmd(&["SCRIPT", "LOAD", "return 's'"]);
    assert_eq!(c.cmd(&["FUNCTION", "FLUSH"]), Value::Simple("OK".into()));
    assert_eq!(c.cmd(&["EVALSHA", &sha, "0"]), Value::Bulk(b"s".to_vec()));
    assert!(matches!(c.cmd(&["FCALL", "f", "0"]), Value::Error(_)));
}
