//! Differential testing: the same commands go to ferrokv and to a real redis-server, and the
//! replies must match byte for byte (or under an explicitly chosen, documented normalisation).

use crate::conn::Conn;
use crate::server::ServerProc;
use crate::value::{escape, parse_value, Value};

/// How two replies to the same command are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// Byte-for-byte equality (after double normalisation, if switched on).
    Exact,
    /// The top-level array/set/map/push is compared as a multiset: for replies whose order Redis
    /// does not define (SMEMBERS, HKEYS, KEYS, SUNION...). Nested aggregates keep their order.
    Unordered,
    /// Like [`Compare::Unordered`] but applied at every nesting level.
    UnorderedDeep,
    /// A flat RESP2 array of field/value pairs (HGETALL, CONFIG GET) compared as a multiset of
    /// pairs; a RESP3 map is compared as a multiset of its pairs.
    UnorderedPairs,
    /// Both replies must be errors, with equal texts.
    Error,
    /// Both replies must have the same RESP type (and, for aggregates, the same length); for
    /// commands with random results (SPOP, SRANDMEMBER, RANDOMKEY) that must still be well-formed.
    Shape,
    /// Nothing is compared (setup, or commands whose reply legitimately differs).
    Skip,
}

/// A ferrokv process and a redis-server process, one connection to each.
///
/// Every `check*` method sends the same command on both connections, reads one reply from each
/// and panics (showing the command and both replies, escaped) when they differ.
pub struct Diff {
    fk_proc: ServerProc,
    rd_proc: ServerProc,
    fk: Conn,
    rd: Conn,
    doubles: bool,
    resp3: bool,
}

impl Diff {
    /// Starts both servers with default arguments, connections in RESP2. `None` (after printing
    /// `SKIP: redis-server not installed`) when there is no redis-server.
    pub fn new(ferrokv_bin: &str) -> Option<Diff> {
        Self::with_args(ferrokv_bin, &[], &[])
    }

    /// Like [`Diff::new`], with both connections switched to RESP3 by `HELLO 3` (the HELLO replies
    /// are not compared: server name and version legitimately differ).
    pub fn resp3(ferrokv_bin: &str) -> Option<Diff> {
        let mut d = Self::new(ferrokv_bin)?;
        d.fk.hello3();
        d.rd.hello3();
        d.resp3 = true;
        Some(d)
    }

    /// Starts both servers with extra arguments each (e.g. the same `--maxmemory` for both).
    pub fn with_args(
        ferrokv_bin: &str,
        ferrokv_extra: &[&str],
        redis_extra: &[&str],
    ) -> Option<Diff> {
        let rd_proc = ServerProc::redis(redis_extra)?;
        let fk_proc = ServerProc::ferrokv(ferrokv_bin, ferrokv_extra);
        let fk = fk_proc.conn();
        let rd = rd_proc.conn();
        Some(Diff {
            fk_proc,
            rd_proc,
            fk,
            rd,
            doubles: false,
            resp3: false,
        })
    }

    /// Whether the connections were switched to RESP3.
    pub fn is_resp3(&self) -> bool {
        self.resp3
    }

    /// When on, bulk strings and RESP3 doubles that contain `.`, `e`/`E`, `inf` or `nan` and
    /// parse as an `f64` compare by numeric value instead of by text.
    ///
    /// Why: ferrokv follows Redis 7.2+, which prints doubles (ZSCORE, WITHSCORES, RESP3 doubles,
    /// INCRBYFLOAT...) as the shortest text that round-trips (`0.1`), while the 7.0 oracle prints
    /// 17 significant digits (`0.10000000000000001`). Both texts parse to the same `f64`, so this
    /// comparison is exact about the value. Integer-looking strings (`"10"`, `"010"`) are never
    /// normalised.
    pub fn normalise_doubles(&mut self, on: bool) {
        self.doubles = on;
    }

    /// The connection to ferrokv (for commands that must not be compared, or extra assertions).
    pub fn ferrokv(&mut self) -> &mut Conn {
        &mut self.fk
    }

    /// The connection to redis-server.
    pub fn redis(&mut self) -> &mut Conn {
        &mut self.rd
    }

    /// The ferrokv process.
    pub fn ferrokv_proc(&mut self) -> &mut ServerProc {
        &mut self.fk_proc
    }

    /// The redis-server process.
    pub fn redis_proc(&mut self) -> &mut ServerProc {
        &mut self.rd_proc
    }

    /// Opens a second pair of connections (ferrokv, redis) in the same protocol as the first,
    /// e.g. for a subscriber and a publisher, or a blocked client and the client that wakes it.
    pub fn new_pair(&self) -> (Conn, Conn) {
        let mut f = self.fk_proc.conn();
        let mut r = self.rd_proc.conn();
        if self.resp3 {
            f.hello3();
            r.hello3();
        }
        (f, r)
    }

    /// Sends the command to both servers and returns both parsed replies (ferrokv, redis),
    /// without comparing them: for setup.
    pub fn run(&mut self, args: &[&str]) -> (Value, Value) {
        (self.fk.cmd(args), self.rd.cmd(args))
    }

    /// Exact comparison of the replies (see [`Compare::Exact`]).
    pub fn check(&mut self, args: &[&str]) {
        self.check_with(args, Compare::Exact);
    }

    /// Exact comparison with binary arguments.
    pub fn check_bin(&mut self, args: &[&[u8]]) {
        if let Err(e) = self.try_check_bin(args, Compare::Exact) {
            panic!("{e}");
        }
    }

    /// Multiset comparison of the top-level aggregate (see [`Compare::Unordered`]).
    pub fn check_unordered(&mut self, args: &[&str]) {
        self.check_with(args, Compare::Unordered);
    }

    /// Multiset-of-pairs comparison (see [`Compare::UnorderedPairs`]).
    pub fn check_unordered_pairs(&mut self, args: &[&str]) {
        self.check_with(args, Compare::UnorderedPairs);
    }

    /// Both replies must be errors with the same text.
    pub fn check_error(&mut self, args: &[&str]) {
        self.check_with(args, Compare::Error);
    }

    /// Compares with the given mode; panics on a difference.
    pub fn check_with(&mut self, args: &[&str], mode: Compare) {
        if let Err(e) = self.try_check(args, mode) {
            panic!("{e}");
        }
    }

    /// Sends `bytes` verbatim to both servers (inline commands, malformed requests, pipelines of
    /// several commands) and compares the next `replies` replies exactly.
    pub fn check_raw(&mut self, bytes: &[u8], replies: usize) {
        self.fk.send_raw(bytes);
        self.rd.send_raw(bytes);
        for i in 0..replies {
            let f = self.fk.read_reply();
            let r = self.rd.read_reply();
            if let Err(e) = self.compare(&f, &r, Compare::Exact) {
                panic!(
                    "raw request \"{}\", reply #{i}: {e}\n  ferrokv: \"{}\"\n  redis:   \"{}\"",
                    escape(bytes),
                    escape(&f),
                    escape(&r)
                );
            }
        }
    }

    /// Non-panicking [`Diff::check_with`]: `Err` carries the failure message.
    pub fn try_check(&mut self, args: &[&str], mode: Compare) -> Result<(), String> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.try_check_bin(&args, mode)
    }

    /// Non-panicking comparison with binary arguments.
    pub fn try_check_bin(&mut self, args: &[&[u8]], mode: Compare) -> Result<(), String> {
        let f = self.fk.cmd_raw(args);
        let r = self.rd.cmd_raw(args);
        self.compare(&f, &r, mode).map_err(|why| {
            format!(
                "replies differ ({why}) for command: {}\n  ferrokv: \"{}\"\n  redis:   \"{}\"",
                show_command(args),
                escape(&f),
                escape(&r)
            )
        })
    }

    /// Compares every key's type, content and TTL class on both servers: the keyspaces must be
    /// the same set of keys (current database), each of the same type with the same content
    /// (sets and hashes as multisets), and each key must either have a TTL on both or on neither.
    pub fn check_keyspace(&mut self) {
        if let Err(e) = self.try_check_keyspace() {
            panic!("{e}");
        }
    }

    /// Non-panicking [`Diff::check_keyspace`].
    pub fn try_check_keyspace(&mut self) -> Result<(), String> {
        self.try_check(&["KEYS", "*"], Compare::Unordered)?;
        let keys = self.rd.cmd(&["KEYS", "*"]);
        let keys: Vec<Vec<u8>> = keys
            .as_array()
            .unwrap_or(&[])
            .iter()
            .filter_map(|k| k.as_bytes().map(|b| b.to_vec()))
            .collect();
        for key in keys {
            let k = key.as_slice();
            self.try_check_bin(&[b"TYPE", k], Compare::Exact)?;
            let ty = self.rd.cmd_raw(&[b"TYPE", k]);
            let reads: &[(&[&[u8]], Compare)] = match ty.as_slice() {
                b"+string\r\n" => &[(&[b"GET"], Compare::Exact)],
                b"+list\r\n" => &[(&[b"LRANGE", b"0", b"-1"], Compare::Exact)],
                b"+set\r\n" => &[(&[b"SMEMBERS"], Compare::Unordered)],
                b"+hash\r\n" => &[(&[b"HGETALL"], Compare::UnorderedPairs)],
                b"+zset\r\n" => &[(&[b"ZRANGE", b"0", b"-1", b"WITHSCORES"], Compare::Exact)],
                b"+stream\r\n" => &[(&[b"XRANGE", b"-", b"+"], Compare::Exact)],
                _ => &[],
            };
            for (cmd, mode) in reads {
                let mut argv: Vec<&[u8]> = vec![cmd[0], k];
                argv.extend_from_slice(&cmd[1..]);
                self.try_check_bin(&argv, *mode)?;
            }
            // TTLs tick independently on the two servers: compare only whether there is one.
            let class = |v: Value| match v.as_int() {
                Some(n) if n >= 0 => 1,
                Some(n) => n,
                None => i64::MIN,
            };
            let f = class(self.fk.cmd_raw_value(&[b"PTTL", k]));
            let r = class(self.rd.cmd_raw_value(&[b"PTTL", k]));
            if f != r {
                return Err(format!(
                    "key \"{}\": PTTL class differs (ferrokv {f}, redis {r}; 1 = has a TTL)",
                    escape(k)
                ));
            }
        }
        Ok(())
    }

    fn compare(&self, f: &[u8], r: &[u8], mode: Compare) -> Result<(), String> {
        if mode == Compare::Skip {
            return Ok(());
        }
        if mode == Compare::Exact && (!self.doubles || f == r) {
            return if f == r { Ok(()) } else { Err("bytes".into()) };
        }
        let (Some((fv, _)), Some((rv, _))) = (parse_value(f), parse_value(r)) else {
            return Err("unparseable reply".into());
        };
        match mode {
            Compare::Error => match (&fv, &rv) {
                (Value::Error(a), Value::Error(b)) if a == b => Ok(()),
                (Value::Error(_), Value::Error(_)) => Err("error texts".into()),
                _ => Err("expected two errors".into()),
            },
            Compare::Shape => {
                if shape(&fv) == shape(&rv) {
                    Ok(())
                } else {
                    Err(format!("shape {} vs {}", shape(&fv), shape(&rv)))
                }
            }
            _ => {
                let norm = |v: Value| {
                    let v = if self.doubles {
                        normalise_doubles(v)
                    } else {
                        v
                    };
                    match mode {
                        Compare::Unordered => sort_top(v, false),
                        Compare::UnorderedDeep => sort_deep(v),
                        Compare::UnorderedPairs => sort_top(v, true),
                        _ => v,
                    }
                };
                if norm(fv).encode() == norm(rv).encode() {
                    Ok(())
                } else {
                    Err(format!("{mode:?} comparison"))
                }
            }
        }
    }
}

impl Conn {
    fn cmd_raw_value(&mut self, args: &[&[u8]]) -> Value {
        let raw = self.cmd_raw(args);
        parse_value(&raw).map(|(v, _)| v).unwrap_or(Value::Null)
    }
}

/// The command as a readable line: arguments escaped and quoted when they need it.
pub fn show_command(args: &[&[u8]]) -> String {
    args.iter()
        .map(|a| {
            let e = escape(a);
            if a.is_empty() || e.len() != a.len() || a.contains(&b' ') {
                format!("\"{e}\"")
            } else {
                e
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Type and (for aggregates) length, e.g. `array(3)`, for [`Compare::Shape`].
fn shape(v: &Value) -> String {
    match v {
        Value::Array(a) => format!("array({})", a.len()),
        Value::Set(a) => format!("set({})", a.len()),
        Value::Push(a) => format!("push({})", a.len()),
        Value::Map(m) => format!("map({})", m.len()),
        Value::Simple(_) => "simple".into(),
        Value::Error(_) => "error".into(),
        Value::Int(_) => "int".into(),
        Value::Bulk(_) => "bulk".into(),
        Value::Null => "null".into(),
        Value::NullArray => "null-array".into(),
        Value::Double(_) => "double".into(),
        Value::Bool(_) => "bool".into(),
        Value::BigNumber(_) => "bignum".into(),
        Value::Verbatim(..) => "verbatim".into(),
        Value::Attribute(_, v) => shape(v),
    }
}

/// Canonical text of a double-looking string, or `None` when it should be compared as text.
fn canonical_double(s: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(s).ok()?;
    let lower = s.to_ascii_lowercase();
    let floaty = lower.contains('.')
        || lower.contains('e')
        || lower.contains("inf")
        || lower.contains("nan");
    if !floaty || !lower.bytes().all(|b| b"0123456789+-.einfa".contains(&b)) {
        return None;
    }
    let f: f64 = lower.parse().ok()?;
    Some(if f.is_nan() {
        "nan".into()
    } else {
        // Rust's Display for f64 is the shortest text that round-trips.
        format!("{f}")
    })
}

/// Rewrites every double-looking bulk string / RESP3 double to its canonical text.
pub fn normalise_doubles(v: Value) -> Value {
    match v {
        Value::Bulk(b) => match canonical_double(&b) {
            Some(c) => Value::Bulk(c.into_bytes()),
            None => Value::Bulk(b),
        },
        Value::Double(s) => match canonical_double(s.as_bytes()) {
            Some(c) => Value::Double(c),
            None => Value::Double(s),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(normalise_doubles).collect()),
        Value::Set(a) => Value::Set(a.into_iter().map(normalise_doubles).collect()),
        Value::Push(a) => Value::Push(a.into_iter().map(normalise_doubles).collect()),
        Value::Map(m) => Value::Map(
            m.into_iter()
                .map(|(k, v)| (normalise_doubles(k), normalise_doubles(v)))
                .collect(),
        ),
        Value::Attribute(a, v) => Value::Attribute(a, Box::new(normalise_doubles(*v))),
        other => other,
    }
}

fn sort_values(mut a: Vec<Value>) -> Vec<Value> {
    a.sort_by_cached_key(|v| v.encode());
    a
}

fn sort_pairs(mut m: Vec<(Value, Value)>) -> Vec<(Value, Value)> {
    m.sort_by_cached_key(|(k, v)| {
        let mut e = k.encode();
        e.extend(v.encode());
        e
    });
    m
}

/// Sorts the top-level aggregate; with `pairs`, a flat array is sorted as (field, value) pairs.
fn sort_top(v: Value, pairs: bool) -> Value {
    match v {
        Value::Array(a) if pairs && a.len() % 2 == 0 => {
            let mut it = a.into_iter();
            let mut ps = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                ps.push((k, v));
            }
            Value::Array(
                sort_pairs(ps)
                    .into_iter()
                    .flat_map(|(k, v)| [k, v])
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(sort_values(a)),
        Value::Set(a) => Value::Set(sort_values(a)),
        Value::Push(a) => Value::Push(sort_values(a)),
        Value::Map(m) => Value::Map(sort_pairs(m)),
        other => other,
    }
}

fn sort_deep(v: Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(sort_values(a.into_iter().map(sort_deep).collect())),
        Value::Set(a) => Value::Set(sort_values(a.into_iter().map(sort_deep).collect())),
        Value::Push(a) => Value::Push(sort_values(a.into_iter().map(sort_deep).collect())),
        Value::Map(m) => Value::Map(sort_pairs(
            m.into_iter()
                .map(|(k, v)| (sort_deep(k), sort_deep(v)))
                .collect(),
        )),
        other => other,
    }
}
