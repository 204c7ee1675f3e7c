//! Propagation of effects (issue #6), end to end through the append-only file.
//!
//! * **Differential**: a table of command sequences runs on redis-server and on ferrokv, both
//!   with `appendonly yes` / `appendfsync always`; after each case the commands each server
//!   appended to its `*.incr.aof` are compared one by one, after normalising absolute times
//!   (integers within a day of now, in ms or s, become `<ms>` / `<s>`), command names and the
//!   LEFT/RIGHT keywords to upper case. Where ferrokv deliberately follows Redis 7.2+ rather than
//!   the 7.0 oracle (SPOP with a count) or Redis has no such command in 7.0 (hash field TTLs), the
//!   case carries ferrokv's expected commands instead.
//! * **Replay equivalence**: random write sequences (including every rewritten command) on
//!   ferrokv, then a restart that loads the AOF; the dataset (DEBUG DIGEST, and per-key DUMP /
//!   PTTL on a mismatch) must be the one that wrote it.
//!
//! Case line syntax: `@name ` runs the line on connection `name` (default `main`); a leading
//! `&` sends without reading the reply (read it later with `wait name`); `blocked N` polls until
//! N clients are blocked; `aof <command>` polls until the AOF holds that (normalised) command;
//! `"..."` quotes an argument, `\n` in an argument is a newline and `$PAYLOAD` is a DUMP payload
//! of the string "1" written by Redis 7.0.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion

use ferrokv_testkit::{split_case, wait_until, Conn, Gen, ServerProc, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why these tests do not run on the disk engine.
const NO_AOF_ON_DISK: &str =
    "the disk engine keeps no append-only file: its journal is the durability mechanism";

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

/// Key of the marker written after each case (see [`Side::take_case`]).
const MARKER: &str = "aof-effects-case-end";

/// The oracle's AOF settings.
const AOF_ARGS: &[&str] = &[
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--enable-debug-command",
    "yes",
];

/// ferrokv's AOF settings: the oracle's. (Every read of the file also waits for a marker
/// written last, so the comparison would not depend on `always` either.)
const FERROKV_AOF_ARGS: &[&str] = AOF_ARGS;

/// DUMP of the string "1" by Redis 7.0 (RDB version 10), accepted by both servers.
const PAYLOAD: &[u8] = b"\x00\xc0\x01\x0a\x00&x\xe7\xb6\xd1\x01\x11\xfc";

/// One differential case.
struct Case {
    name: &'static str,
    lines: &'static str,
    /// ferrokv's expected effects (normalised, one command per line) when they deliberately
    /// differ from what the 7.0 oracle writes; `None`: the oracle's.
    ferrokv: Option<&'static str>,
    /// Replace the members of SREM (random SPOP picks) by `<m>` before comparing.
    mask_srem: bool,
    /// Run the case on the oracle too (false: commands Redis 7.0 lacks; `ferrokv` is then
    /// the expectation).
    oracle: bool,
}

const fn case(name: &'static str, lines: &'static str) -> Case {
    Case {
        name,
        lines,
        ferrokv: None,
        mask_srem: false,
        oracle: true,
    }
}

const CASES: &[Case] = &[
    case(
        "set_with_expiry_becomes_pxat",
        "SET s1 v EX 100
         SET s1 v PX 100000
         SET s1 v EXAT 9999999999
         SET s1 v PXAT 9999999999000
         SET s1 w KEEPTTL
         SET s1 x GET
         SET s1 y EX 100 GET
         SET s1 z PXAT 9999999999000 GET
         SET s2 v NX EX 100
         SET s2 v NX EX 100
         SET s3 v XX PX 100
         SET s2 w XX PX 100000 GET
         SET s4 v EXAT 1
         aof DEL s4",
    ),
    Case {
        name: "hash_field_ttls_7_4",
        lines: "HSET hf a 1 b 2 c 3 d 4
                HEXPIRE hf 100 FIELDS 2 a b
                HPEXPIRE hf 100000 NX FIELDS 1 c
                HEXPIREAT hf 9999999999 FIELDS 1 d
                HPEXPIREAT hf 9999999999000 FIELDS 2 d nosuch
                HEXPIRE hf 100 NX FIELDS 1 a
                HPERSIST hf FIELDS 1 a
                HEXPIREAT hf 1 FIELDS 1 a",
        // Redis 7.0 has no field TTLs: ferrokv follows 7.4 (HPEXPIREAT; HDEL for a past time).
        ferrokv: Some(
            "HSET hf a 1 b 2 c 3 d 4
             HPEXPIREAT hf <ms> FIELDS 2 a b
             HPEXPIREAT hf <ms> NX FIELDS 1 c
             HPEXPIREAT hf 9999999999000 FIELDS 1 d
             HPEXPIREAT hf 9999999999000 FIELDS 2 d nosuch
             HPERSIST hf FIELDS 1 a
             HDEL hf a",
        ),
        mask_srem: false,
        oracle: false,
    },
    case(
        "setex_psetex_getset",
        "SETEX s5 100 v
         PSETEX s5 100000 w
         GETSET s5 x
         SETNX s5 y
         SETNX s6 y",
    ),
    case(
        "getex_and_getdel",
        "SET g1 v
         GETEX g1
         GETEX g1 EX 100
         GETEX g1 PX 100000
         GETEX g1 EXAT 9999999999
         GETEX g1 PXAT 9999999999000
         GETEX g1 PERSIST
         GETEX g1 PERSIST
         GETEX g1 EXAT 1
         GETEX g1 EX 100
         SET g2 v
         GETDEL g2
         GETDEL g2",
    ),
    case(
        "incrbyfloat_becomes_set_keepttl",
        "SET f1 1.5
         INCRBYFLOAT f1 1
         INCRBYFLOAT f1 0.1
         INCRBYFLOAT f2 3
         INCRBY f3 2
         HSET fh a 1.5
         HINCRBYFLOAT fh a 1
         HINCRBYFLOAT fh b 2.5
         HINCRBY fh c 1",
    ),
    case(
        "expire_family_becomes_pexpireat",
        "SET e1 v
         EXPIRE e1 100
         PEXPIRE e1 100000
         EXPIREAT e1 9999999999
         PEXPIREAT e1 9999999999000
         EXPIRE e1 100 NX
         EXPIRE e1 100 XX
         PEXPIREAT e1 9999999999001 GT
         PERSIST e1
         PERSIST e1
         EXPIRE e1 0
         SET e1 v
         EXPIRE e1 -5
         SET e1 v
         PEXPIREAT e1 1
         EXPIRE missing 100",
    ),
    case(
        "past_expiry_is_unlink_under_lazyfree_lazy_expire",
        "CONFIG SET lazyfree-lazy-expire yes
         SET u1 v
         EXPIRE u1 0
         SET u1 v
         GETEX u1 EXAT 1
         SET u2 v PX 1
         aof UNLINK u2
         CONFIG SET lazyfree-lazy-expire no
         SET u1 v
         EXPIRE u1 0
",
    ),
    case(
        "spop_becomes_srem_or_del",
        "SADD p1 only
         SPOP p1
         SADD p2 a b c
         SPOP p2 0
         SPOP p2 3
         SADD p3 a b
         SPOP p3 10
         SPOP p3
         SADD p4 a b c
         SRANDMEMBER p4
         SRANDMEMBER p4 -5",
    ),
    Case {
        name: "spop_whole_set_is_unlink_under_lazyfree_lazy_server_del_7_2",
        lines: "CONFIG SET lazyfree-lazy-server-del yes
                SADD u3 a b
                SPOP u3 5
                CONFIG SET lazyfree-lazy-server-del no
                SADD u3 a b
                SPOP u3 5",
        // Redis 7.0 writes DEL whatever lazyfree-lazy-server-del says.
        ferrokv: Some("SADD u3 a b\nUNLINK u3\nSADD u3 a b\nDEL u3"),
        mask_srem: false,
        oracle: true,
    },
    Case {
        name: "spop_count_below_size_is_one_srem_7_2",
        lines: "SADD p5 a b c d
                SPOP p5 2",
        // Redis 7.0 writes one SREM per member inside MULTI/EXEC; 7.2+ one SREM per 1024.
        ferrokv: Some("SADD p5 a b c d\nSREM p5 <m> <m>"),
        mask_srem: true,
        oracle: true,
    },
    case(
        "list_pops_and_moves",
        "RPUSH l1 a b c d e f
         LPOP l1
         RPOP l1 2
         LPOP l1 0
         LMOVE l1 l2 LEFT RIGHT
         RPOPLPUSH l1 l2
         LMPOP 2 nolist l1 LEFT COUNT 5
         LMPOP 1 l2 RIGHT
         LPUSHX nolist a",
    ),
    case(
        "blocking_list_commands_served_at_once",
        "RPUSH b1 a b c d e
         BLPOP nolist b1 1
         BRPOP b1 1
         BLMOVE b1 b2 RIGHT LEFT 1
         BRPOPLPUSH b1 b2 1
         BLMPOP 1 2 nolist b2 RIGHT COUNT 10",
    ),
    case(
        "blocking_list_commands_served_later",
        "@c1 &BLPOP w1 0
         blocked 1
         RPUSH w1 a b
         wait c1
         @c1 &BRPOP w2 0
         blocked 1
         LPUSH w2 a
         wait c1
         @c1 &BLMOVE w3 w4 LEFT RIGHT 0
         blocked 1
         RPUSH w3 a
         wait c1
         @c1 &BRPOPLPUSH w5 w4 0
         blocked 1
         RPUSH w5 a
         wait c1
         @c1 &BLMPOP 0 2 nolist w6 RIGHT COUNT 5
         blocked 1
         RPUSH w6 a b c
         wait c1",
    ),
    case(
        "sorted_set_pops",
        "ZADD z1 1 a 2 b 3 c 4 d 5 e 6 f
         ZPOPMIN z1
         ZPOPMAX z1 2
         ZMPOP 1 z1 MIN COUNT 2
         BZPOPMAX z1 1
         BZMPOP 1 2 nozset z1 MIN COUNT 5
         ZADD z2 1 a
         ZADD z2 GT 0 a
         ZINCRBY z2 1.5 a",
    ),
    case(
        "blocking_sorted_set_pops_served_later",
        "@c1 &BZPOPMIN wz1 0
         blocked 1
         ZADD wz1 1 a 2 b
         wait c1
         @c1 &BZMPOP 0 1 wz2 MAX COUNT 2
         blocked 1
         ZADD wz2 1 a 2 b 3 c
         wait c1",
    ),
    case(
        "restore_ttl_becomes_absttl",
        "RESTORE r1 0 $PAYLOAD
         RESTORE r2 100000 $PAYLOAD
         RESTORE r3 9999999999000 $PAYLOAD ABSTTL
         RESTORE r1 0 $PAYLOAD REPLACE IDLETIME 10
         RESTORE r1 1 $PAYLOAD REPLACE ABSTTL
         RESTORE r4 1 $PAYLOAD ABSTTL",
    ),
    case(
        "keyspace_commands_verbatim",
        "SET k1 v
         RENAME k1 k2
         RENAMENX k2 k3
         COPY k3 k4
         MOVE k4 1
         DEL k3 nokey
         DEL nokey
         UNLINK k2
         SADD ks1 a b
         SADD ks2 b c
         SUNIONSTORE ks3 ks1 ks2
         SINTERSTORE ks4 ks1 nokey
         SMOVE ks1 ks2 a
         SMOVE ks1 ks2 nosuch
         SREM ks1 nosuch
         RPUSH ksl 3 1 2
         SORT ksl STORE ksl2
         ZADD ksz 1 a 2 b
         ZRANGESTORE ksz2 ksz 0 -1
         ZUNIONSTORE ksz3 1 ksz
         HSET ksh a 1
         HSETNX ksh a 2
         HDEL ksh nosuch
         MSET ksm1 1 ksm2 2
         MSETNX ksm1 1 ksm3 3
         APPEND ksm1 x
         SETRANGE ksm2 0 y",
    ),
    case(
        "databases",
        "SELECT 2
         SET d1 v
         MULTI
         SET d2 v
         SELECT 3
         SET d3 v
         EXEC
         SELECT 0
         SET d4 v
         SWAPDB 2 3
         SWAPDB 3 2
         SWAPDB 0 0",
    ),
    case(
        "transactions",
        "MULTI
         SET t1 1
         INCR t1
         SPOP nokey
         EXEC
         MULTI
         GET t1
         EXEC
         MULTI
         INCR t1
         EXEC
         MULTI
         SET t2 v EX 100
         INCRBYFLOAT t3 1.5
         EXPIRE t2 200
         EXEC",
    ),
    case(
        "scripts_propagate_their_effects",
        "EVAL \"redis.call('set','sc1','1') redis.call('set','sc2','2')\" 0
         EVAL \"redis.call('set','sc3','1')\" 0
         EVAL \"return redis.call('get','sc3')\" 0
         EVAL \"redis.call('set','sc4','1','EX','100') redis.call('incrbyfloat','sc5','1.5')\" 0
         EVAL \"redis.call('sadd','sc6','a') redis.call('spop','sc6')\" 0
         EVAL \"redis.call('set','sc7','1') redis.call('select','5') redis.call('set','sc8','1')\" 0
         SET sc9 v
         EVALSHA a578672e8e8026164d77faa160b189101b867e9f 0",
    ),
    case(
        "script_set_repl",
        "EVAL \"redis.set_repl(redis.REPL_NONE) redis.call('set','sr1','1')\" 0
         EVAL \"redis.call('set','sr2','1') redis.set_repl(redis.REPL_NONE) redis.call('set','sr3','1') redis.set_repl(redis.REPL_ALL) redis.call('set','sr4','1')\" 0
         EVAL \"redis.set_repl(redis.REPL_AOF) redis.call('set','sr5','1') redis.set_repl(redis.REPL_REPLICA) redis.call('set','sr6','1')\" 0
         EVAL \"redis.replicate_commands() redis.call('set','sr7','1')\" 0",
    ),
    case(
        "functions",
        "FUNCTION LOAD \"#!lua name=efflib\\nredis.register_function('efff', function(k, a) return redis.call('set', k[1], a[1]) end)\"
         FCALL efff 1 fk1 fv
         FUNCTION DELETE efflib
         SCRIPT LOAD \"return 1\"
         SCRIPT FLUSH
         PUBLISH effch msg",
    ),
    case(
        "lazy_and_active_expiry_are_del",
        "SET x1 v PX 1
         aof DEL x1
         SET x3 v",
    ),
    case(
        "key_found_expired_is_del_before_the_command_effect",
        "DEBUG SET-ACTIVE-EXPIRE 0
         SET le1 5 PX 1
         SET le2 v PX 1
         DEBUG SLEEP 0.01
         INCR le1
         MULTI
         SET le3 v
         APPEND le2 w
         EXEC
         EVAL \"redis.call('set', 'le4', 'v', 'PX', '1')\" 0
         DEBUG SLEEP 0.01
         EVAL \"redis.call('incr', 'le5') return redis.call('exists', 'le4')\" 0
         DEBUG SET-ACTIVE-EXPIRE 1",
    ),
    case(
        "flushes_always_propagate",
        "FLUSHDB
         FLUSHDB ASYNC
         FLUSHALL
         FLUSHALL SYNC
         SELECT 4
         FLUSHDB
         SELECT 0",
    ),
];

// ---------------------------------------------------------------------------------------------
// AOF reading and normalisation

/// The `*.incr.aof` file under `<dir>/appendonlydir` (the newest one if several).
fn incr_file(dir: &Path) -> Option<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("appendonlydir"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .collect();
    files.sort_by_key(|p| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .unwrap_or(UNIX_EPOCH)
    });
    files.pop()
}

/// The commands of the incremental AOF of the server whose `--dir` is `dir` (none yet: empty).
fn aof_commands(dir: &Path) -> Vec<Vec<Vec<u8>>> {
    match incr_file(dir) {
        Some(p) => parse_aof(&std::fs::read(p).unwrap_or_default()),
        None => Vec::new(),
    }
}

/// The complete commands of an AOF (a truncated tail is ignored).
fn parse_aof(data: &[u8]) -> Vec<Vec<Vec<u8>>> {
    fn line(d: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let end = d.get(at..)?.windows(2).position(|w| w == b"\r\n")? + at;
        Some((&d[at..end], end + 2))
    }
    let mut out = Vec::new();
    let mut at = 0;
    'cmds: while at < data.len() {
        let Some((head, next)) = line(data, at) else {
            break;
        };
        assert_eq!(head.first(), Some(&b'*'), "AOF: not a multibulk at {at}");
        let n: usize = std::str::from_utf8(&head[1..]).unwrap().parse().unwrap();
        let mut pos = next;
        let mut argv = Vec::with_capacity(n);
        for _ in 0..n {
            let Some((h, p)) = line(data, pos) else {
                break 'cmds;
            };
            let len: usize = std::str::from_utf8(&h[1..]).unwrap().parse().unwrap();
            let Some(arg) = data.get(p..p + len) else {
                break 'cmds;
            };
            argv.push(arg.to_vec());
            pos = p + len + 2;
        }
        if pos > data.len() {
            break;
        }
        out.push(argv);
        at = pos;
    }
    out
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// One command as comparable text: times near now become `<ms>`/`<s>`, the name and the
/// LEFT/RIGHT keywords upper case, SREM members `<m>` when `mask_srem`.
fn normalise(argv: &[Vec<u8>], mask_srem: bool) -> String {
    const DAY_MS: i64 = 86_400_000;
    let now = now_ms();
    let mut parts = Vec::with_capacity(argv.len());
    let is_srem = argv
        .first()
        .is_some_and(|a| a.eq_ignore_ascii_case(b"SREM"));
    for (i, a) in argv.iter().enumerate() {
        let text = ferrokv_testkit::escape(a);
        let int = std::str::from_utf8(a)
            .ok()
            .and_then(|s| s.parse::<i64>().ok());
        let p = match int {
            Some(v) if (v - now).abs() < DAY_MS => "<ms>".to_string(),
            Some(v) if (v - now / 1000).abs() < DAY_MS / 1000 => "<s>".to_string(),
            _ if i == 0 => text.to_ascii_uppercase(),
            _ if mask_srem && is_srem && i >= 2 => "<m>".to_string(),
            _ if a.eq_ignore_ascii_case(b"left") || a.eq_ignore_ascii_case(b"right") => {
                text.to_ascii_uppercase()
            }
            _ => text,
        };
        parts.push(p);
    }
    parts.join(" ")
}

/// A server under test with its connections and how much of its AOF was already compared.
struct Side {
    proc: ServerProc,
    conns: HashMap<String, Conn>,
    seen: usize,
}

impl Side {
    fn new(proc: ServerProc) -> Side {
        Side {
            proc,
            conns: HashMap::new(),
            seen: 0,
        }
    }

    fn conn(&mut self, name: &str) -> &mut Conn {
        let proc = &self.proc;
        self.conns
            .entry(name.to_string())
            .or_insert_with(|| proc.conn())
    }

    fn commands(&self) -> Vec<Vec<Vec<u8>>> {
        aof_commands(self.proc.dir())
    }

    /// The normalised commands appended since the last call.
    /// Ends a case: writes the end marker of case `name`, waits until the AOF holds it, and
    /// returns the normalised commands appended since the previous marker (without it). The
    /// marker orders the case's effects, even those of blocked clients served by another
    /// connection, before the read.
    fn take_case(&mut self, name: &str, mask_srem: bool) -> Result<Vec<String>, String> {
        self.conn("main").cmd(&["SET", MARKER, name]);
        let marker = format!("SET {MARKER} {name}");
        let mut found = None;
        let seen = self.seen;
        let ok = wait_until(Duration::from_secs(5), || {
            let all = self.commands();
            found = all.get(seen..).and_then(|new| {
                new.iter()
                    .position(|c| normalise(c, false) == marker)
                    .map(|i| (all.clone(), seen + i))
            });
            found.is_some()
        });
        let Some((all, at)) = found.filter(|_| ok) else {
            return Err(format!("`{marker}` never reached the AOF"));
        };
        self.seen = at + 1;
        Ok(all[seen..at]
            .iter()
            .map(|c| normalise(c, mask_srem))
            .collect())
    }

    fn blocked_clients(&mut self) -> i64 {
        let v = self.conn("main").cmd(&["INFO", "clients"]);
        let text = String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).to_string();
        text.lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(-1)
    }
}

/// Arguments of a case line, with `\n` and `$PAYLOAD` expanded.
fn line_args(line: &str) -> Vec<Vec<u8>> {
    split_case(line)
        .into_iter()
        .map(|a| {
            if a == "$PAYLOAD" {
                PAYLOAD.to_vec()
            } else {
                a.replace("\\n", "\n").into_bytes()
            }
        })
        .collect()
}

/// Runs one case line on a side; returns an error text for a failed wait.
fn run_line(side: &mut Side, line: &str) -> Result<(), String> {
    if let Some(n) = line.strip_prefix("blocked ") {
        let n: i64 = n.trim().parse().unwrap();
        return wait_until(Duration::from_secs(5), || side.blocked_clients() == n)
            .then_some(())
            .ok_or_else(|| format!("never {n} blocked clients"));
    }
    if let Some(name) = line.strip_prefix("wait ") {
        let v = side.conn(name.trim()).read_value();
        return if v.is_error() {
            Err(format!("{name}: {v:?}"))
        } else {
            Ok(())
        };
    }
    if let Some(cmd) = line.strip_prefix("aof ") {
        let want = cmd.trim().to_string();
        let seen = side.seen;
        return wait_until(Duration::from_secs(5), || {
            side.commands()
                .get(seen..)
                .unwrap_or(&[])
                .iter()
                .any(|c| normalise(c, false) == want)
        })
        .then_some(())
        .ok_or_else(|| format!("the AOF never got `{want}`"));
    }
    let (name, rest) = match line.strip_prefix('@') {
        Some(r) => r.split_once(' ').unwrap(),
        None => ("main", line),
    };
    let (no_read, rest) = match rest.strip_prefix('&') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let args = line_args(rest);
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    let conn = side.conn(name);
    conn.send(&refs);
    if !no_read {
        let v = conn.read_value();
        if v.is_error() {
            return Err(format!("`{rest}` failed: {v:?}"));
        }
    }
    Ok(())
}

#[test]
fn effects_match_redis_aof() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    let Some(rd) = ServerProc::redis(AOF_ARGS) else {
        return;
    };
    let fk = ServerProc::ferrokv(BIN, FERROKV_AOF_ARGS);
    let (mut rd, mut fk) = (Side::new(rd), Side::new(fk));
    let mut failures = Vec::new();
    for case in CASES {
        for (i, side) in [&mut rd, &mut fk].into_iter().enumerate() {
            if i == 0 && !case.oracle {
                continue;
            }
            for line in case.lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if let Err(e) = run_line(side, line) {
                    failures.push(format!("{}: {e}", case.name));
                }
            }
        }
        let mut take = |side: &mut Side| match side.take_case(case.name, case.mask_srem) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{}: {e}", case.name));
                Vec::new()
            }
        };
        let oracle = if case.oracle {
            take(&mut rd)
        } else {
            Vec::new()
        };
        let got = take(&mut fk);
        let want = match case.ferrokv {
            Some(text) => text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            None => oracle,
        };
        if want.is_empty() {
            failures.push(format!(
                "{}: no effect at all in the oracle's AOF",
                case.name
            ));
        }
        if want != got {
            failures.push(format!(
                "{}:\n  redis:\n    {}\n  ferrokv:\n    {}",
                case.name,
                want.join("\n    "),
                got.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Replay equivalence

/// A random write (or read that may expire keys) on a small keyspace, favouring the commands
/// whose propagated form differs from the request. With `short`, some TTLs are under 0.5 s
/// (else they are all a minute or more, or already past).
fn random_command(g: &mut Gen, short: bool) -> Vec<String> {
    let k = g.key();
    let ms = |g: &mut Gen| {
        if short {
            g.int(1, 400).to_string()
        } else {
            g.int(60_000, 120_000).to_string()
        }
    };
    let v = |g: &mut Gen| g.pick(&["a", "b", "c", "1", "2", "1.5", "-3"]);
    let s = |x: &str| x.to_string();
    match g.below(34) {
        0 => vec![s("SET"), k, v(g)],
        1 => vec![s("SET"), k, v(g), s("EX"), g.int(50, 100_000).to_string()],
        2 => vec![s("SET"), k, v(g), s("PX"), ms(g)],
        3 => vec![s("SET"), k, v(g), s("KEEPTTL"), s("GET")],
        4 => vec![s("SETEX"), k, g.int(100, 1000).to_string(), v(g)],
        5 => vec![s("GETEX"), k, s("PX"), ms(g)],
        6 => vec![s("GETEX"), k, s("PERSIST")],
        7 => vec![s("GETDEL"), k],
        8 => vec![s("INCRBYFLOAT"), k, g.pick(&["0.1", "1.5", "-2.25", "3"])],
        9 => vec![s("EXPIRE"), k, g.pick(&["-1", "0", "100", "5000"])],
        10 => vec![s("PEXPIRE"), k, ms(g)],
        11 => vec![s("PERSIST"), k],
        12 => vec![s("HSET"), k, v(g), v(g)],
        13 => vec![s("HINCRBYFLOAT"), k, v(g), s("1.25")],
        14 => vec![s("HDEL"), k, v(g)],
        15 => vec![s("SADD"), k, v(g), v(g), v(g)],
        16 => vec![s("SPOP"), k],
        17 => vec![s("SPOP"), k, g.int(0, 4).to_string()],
        18 => vec![s("RPUSH"), k, v(g), v(g)],
        19 => vec![s("LPOP"), k],
        20 => vec![
            s("LMPOP"),
            s("2"),
            k,
            g.key(),
            s("RIGHT"),
            s("COUNT"),
            s("2"),
        ],
        21 => vec![s("BLMOVE"), k, g.key(), s("LEFT"), s("RIGHT"), s("0.01")],
        22 => vec![s("BRPOP"), k, s("0.01")],
        23 => vec![s("ZADD"), k, g.int(0, 9).to_string(), v(g)],
        24 => vec![s("ZMPOP"), s("1"), k, s("MAX"), s("COUNT"), s("2")],
        25 => vec![s("BZPOPMIN"), k, s("0.01")],
        26 => vec![s("RENAME"), k, g.key()],
        27 => vec![s("COPY"), k, g.key(), s("REPLACE")],
        28 => vec![s("DEL"), k],
        29 => vec![
            s("EVAL"),
            s(
                "redis.call('incrbyfloat', KEYS[1], '0.5') redis.call('spop', KEYS[2]) \
               redis.call('set', KEYS[2], 'x', 'PX', ARGV[1])",
            ),
            s("2"),
            k,
            g.key(),
            ms(g),
        ],
        30 => vec![s("GET"), k],
        31 => vec![s("EXISTS"), k],
        32 => {
            let ttl = if g.chance(30) { s("0") } else { ms(g) };
            vec![s("RESTORE"), k, ttl, s("$PAYLOAD"), s("REPLACE")]
        }
        _ => vec![s("SORT"), k, s("ALPHA"), s("STORE"), g.key()],
    }
}

/// Every key of db 0 and 1 with its value digest (DEBUG DIGEST-VALUE, independent of the
/// encoding) and its absolute expiry time (replayed TTLs are absolute, so equal to the ms).
fn dataset(c: &mut Conn) -> Vec<String> {
    let mut out = Vec::new();
    for db in ["0", "1"] {
        c.cmd(&["SELECT", db]);
        let keys = c.cmd(&["KEYS", "*"]);
        let mut names: Vec<Vec<u8>> = keys
            .as_array()
            .unwrap_or(&[])
            .iter()
            .filter_map(|k| k.as_bytes().map(<[u8]>::to_vec))
            .collect();
        names.sort();
        for k in names {
            let digest = c.cmd_raw(&[b"DEBUG", b"DIGEST-VALUE", &k]);
            let at = c.cmd_raw(&[b"PEXPIRETIME", &k]);
            out.push(format!(
                "db{db} {} {} expires:{}",
                ferrokv_testkit::escape(&k),
                ferrokv_testkit::escape(&digest),
                ferrokv_testkit::escape(&at)
            ));
        }
    }
    c.cmd(&["SELECT", "0"]);
    out
}

/// Keys of db 0 and 1 whose TTL is under 2 s.
fn short_ttls(c: &mut Conn) -> usize {
    let mut n = 0;
    for db in ["0", "1"] {
        c.cmd(&["SELECT", db]);
        let keys = c.cmd(&["KEYS", "*"]);
        for k in keys.as_array().unwrap_or(&[]) {
            let Some(k) = k.as_bytes() else { continue };
            if let Value::Int(t) = parse_int(&c.cmd_raw(&[b"PTTL", k])) {
                if (0..2000).contains(&t) {
                    n += 1;
                }
            }
        }
    }
    c.cmd(&["SELECT", "0"]);
    n
}

fn parse_int(raw: &[u8]) -> Value {
    std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.strip_prefix(':'))
        .and_then(|s| s.trim_end().parse().ok())
        .map(Value::Int)
        .unwrap_or(Value::Null)
}

/// The lines of `a` not in `b`.
fn missing_from<'a>(a: &'a [String], b: &[String]) -> Vec<&'a String> {
    a.iter().filter(|l| !b.contains(l)).collect()
}

/// Runs `n` random commands (a transaction in db 1 every 50) on `c`.
fn random_writes(c: &mut Conn, g: &mut Gen, n: usize, short: bool) {
    for i in 0..n {
        let argv = random_command(g, short);
        let args: Vec<Vec<u8>> = argv
            .iter()
            .map(|a| {
                if a == "$PAYLOAD" {
                    PAYLOAD.to_vec()
                } else {
                    a.clone().into_bytes()
                }
            })
            .collect();
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        if i % 50 == 49 {
            c.cmd(&["SELECT", "1"]);
            c.cmd(&["MULTI"]);
            c.send(&refs);
            c.read_value();
            c.cmd(&["SET", "in-db1", "v", "PX", "100000"]);
            c.cmd(&["EXEC"]);
            c.cmd(&["SELECT", "0"]);
        } else {
            c.send(&refs);
            c.read_value();
        }
    }
}

/// Writes a marker and waits until the AOF of `fk` holds it, so everything before it is in
/// the file (whatever the fsync policy); the marker is then deleted again (in the AOF too).
fn settle_aof(fk: &ServerProc, seed: u64) {
    let mut c = fk.conn();
    let value = format!("seed-{seed}-{}", now_ms());
    c.cmd(&["SET", MARKER, &value]);
    let want = format!("SET {MARKER} {value}");
    assert!(
        wait_until(Duration::from_secs(5), || aof_commands(fk.dir())
            .iter()
            .any(|cmd| normalise(cmd, false) == want)),
        "seed {seed}: the marker never reached the AOF"
    );
    c.cmd(&["DEL", MARKER]);
    let del = format!("DEL {MARKER}");
    assert!(
        wait_until(Duration::from_secs(5), || {
            let cmds: Vec<String> = aof_commands(fk.dir())
                .iter()
                .map(|cmd| normalise(cmd, false))
                .collect();
            cmds.iter()
                .position(|l| *l == want)
                .is_some_and(|at| cmds[at..].contains(&del))
        }),
        "seed {seed}: the marker's DEL never reached the AOF"
    );
}

/// The dataset after a restart of `fk` (which loads its AOF) must be `before` / `digest`.
fn check_restart(fk: &mut ServerProc, seed: u64, before: &[String], digest: &Value) {
    settle_aof(fk, seed);
    fk.restart();
    let mut c = fk.conn();
    let after = dataset(&mut c);
    let after_digest = c.cmd(&["DEBUG", "DIGEST"]);
    assert!(
        before == after && *digest == after_digest,
        "seed {seed}: the dataset differs after a restart on the AOF\n  \
         only before: {:#?}\n  only after: {:#?}",
        missing_from(before, &after),
        missing_from(&after, before)
    );
}

/// Random writes on ferrokv with the AOF on, TTLs a minute or more (or already past): the
/// commands of its AOF, sent by a client to a fresh ferrokv, must rebuild the same dataset
/// (same keys, values and absolute expiry times), and so must a restart, which loads the AOF.
#[test]
fn replaying_the_aof_rebuilds_the_same_dataset() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    for seed in seeds() {
        let mut fk = ServerProc::ferrokv(BIN, FERROKV_AOF_ARGS);
        let mut c = fk.conn();
        let mut g = Gen::new(seed, 6);
        random_writes(&mut c, &mut g, 400, false);
        let digest = c.cmd(&["DEBUG", "DIGEST"]);
        let before = dataset(&mut c);
        assert!(
            before.len() > 2,
            "seed {seed}: almost empty dataset {before:?}"
        );

        settle_aof(&fk, seed);
        let commands = aof_commands(fk.dir());
        assert!(
            commands.len() > 100,
            "seed {seed}: {} commands in the AOF",
            commands.len()
        );
        let replica = ServerProc::ferrokv(BIN, &["--enable-debug-command", "yes"]);
        let mut rc = replica.conn();
        for argv in &commands {
            let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
            rc.send(&refs);
            let v = rc.read_value();
            assert!(
                !v.is_error(),
                "seed {seed}: replaying `{}` failed: {v:?}",
                normalise(argv, false)
            );
        }
        let replayed = dataset(&mut rc);
        rc.cmd(&["SELECT", "0"]);
        let replayed_digest = rc.cmd(&["DEBUG", "DIGEST"]);
        assert!(
            before == replayed && digest == replayed_digest,
            "seed {seed}: replaying the AOF's commands gives another dataset\n  \
             only before: {:#?}\n  only replayed: {:#?}",
            missing_from(&before, &replayed),
            missing_from(&replayed, &before)
        );
        drop(c);
        check_restart(&mut fk, seed, &before, &digest);
    }
}

/// Like [`replaying_the_aof_rebuilds_the_same_dataset`] with short TTLs too (lazy and active
/// expiry as DEL, writes such as PERSIST on keys about to expire); once they passed, a restart
/// must give the same dataset. Only a restart can check this: Redis loads its AOF without
/// expiring keys, so `SET k v PXAT <soon>` + `PERSIST k` gives a persistent k (seed 242216055
/// caught ferrokv's loader expiring keys).
#[test]
fn replaying_short_ttls_after_restart() {
    if ferrokv_testkit::skip_on_disk(NO_AOF_ON_DISK) {
        return;
    }
    for seed in seeds() {
        let mut fk = ServerProc::ferrokv(BIN, FERROKV_AOF_ARGS);
        let mut c = fk.conn();
        let mut g = Gen::new(seed, 6);
        random_writes(&mut c, &mut g, 600, true);
        assert!(
            wait_until(Duration::from_secs(5), || short_ttls(&mut c) == 0),
            "seed {seed}: short TTLs did not pass"
        );
        let digest = c.cmd(&["DEBUG", "DIGEST"]);
        let before = dataset(&mut c);
        drop(c);
        check_restart(&mut fk, seed, &before, &digest);
    }
}

/// The seeds to run: `FERROKV_PROP_CASES` of them (default 3) from `FERROKV_PROP_SEED`.
fn seeds() -> std::ops::Range<u64> {
    let n: u64 = std::env::var("FERROKV_PROP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let first: u64 = std::env::var("FERROKV_PROP_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0xe6f_ec75);
    first..first + n
}
