//! Conversions between RESP and Lua values, with Redis's rules.
//!
//! **RESP → Lua** (a command's reply inside `redis.call`): integer → number, bulk → string,
//! null bulk / null array → `false` (RESP2) or `nil` (RESP3 null), array → table, status →
//! `{ok=...}`, error → `{err=...}`; RESP3 only: map → `{map={...}}`, set → `{set={m=true}}`,
//! boolean → boolean, double → `{double=n}`, big number → `{big_number="..."}`, verbatim →
//! `{verbatim_string={format=..., string=...}}`.
//!
//! **Lua → RESP** (the script's return value): string → bulk, number → integer (truncated),
//! `true` → 1 and `false` → null in RESP2 (booleans in RESP3), `nil` → null, table with `err` →
//! error, with `ok` → status, with `double` / `big_number` / `map` / `set` / `verbatim_string` →
//! those types, any other table → array of its items up to the first `nil`.

use ferrokv_lua::mlua::{Lua, Result as LuaResult, Table, Value};
use ferrokv_resp::Reply;

/// Reads one RESP value from `buf` at `*pos` (our own writer's output, so well formed; errors
/// are reported as Lua errors anyway).
pub fn resp_to_lua(lua: &Lua, buf: &[u8], pos: &mut usize) -> LuaResult<Value> {
    let bad = || ferrokv_lua::mlua::Error::RuntimeError("bad reply from command".into());
    // The first "\r\n": found by its '\r' (one byte compare per byte; a line of a reply
    // the server wrote has no other '\r'), by the pair when a lone '\r' comes first.
    let rest = buf.get(*pos..).ok_or_else(bad)?;
    let line_end = match rest.iter().position(|&b| b == b'\r') {
        Some(i) if rest.get(i + 1) == Some(&b'\n') => i,
        _ => rest.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?,
    };
    let kind = *buf.get(*pos).ok_or_else(bad)?;
    let line = &buf[*pos + 1..*pos + line_end];
    *pos += line_end + 2;
    let int = |l: &[u8]| -> LuaResult<i64> {
        // Canonical integers (all the server writes) by Redis's strict parser; anything else
        // as Rust parses it (e.g. `+5`), as before.
        ferrokv_resp::string2ll(l)
            .or_else(|| std::str::from_utf8(l).ok().and_then(|t| t.parse().ok()))
            .ok_or_else(bad)
    };
    Ok(match kind {
        b':' => Value::Number(int(line)? as f64),
        b'+' => {
            let t = lua.create_table()?;
            t.raw_set("ok", lua.create_string(line)?)?;
            Value::Table(t)
        }
        b'-' => {
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(line)?)?;
            Value::Table(t)
        }
        b'$' | b'=' => {
            let n = int(line)?;
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let n = n as usize;
            let data = buf.get(*pos..*pos + n).ok_or_else(bad)?;
            *pos += n + 2;
            if kind == b'=' {
                let t = lua.create_table()?;
                let inner = lua.create_table()?;
                let (fmt, s) = if data.len() >= 4 {
                    (&data[..3], &data[4..])
                } else {
                    (&b"txt"[..], data)
                };
                inner.raw_set("format", lua.create_string(fmt)?)?;
                inner.raw_set("string", lua.create_string(s)?)?;
                t.raw_set("verbatim_string", inner)?;
                Value::Table(t)
            } else {
                Value::String(lua.create_string(data)?)
            }
        }
        b'*' | b'>' => {
            let n = int(line)?;
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table()?;
            for i in 1..=n {
                let v = resp_to_lua(lua, buf, pos)?;
                t.raw_set(i, v)?;
            }
            Value::Table(t)
        }
        b'%' => {
            let n = int(line)?;
            let inner = lua.create_table()?;
            for _ in 0..n {
                let k = resp_to_lua(lua, buf, pos)?;
                let v = resp_to_lua(lua, buf, pos)?;
                inner.raw_set(k, v)?;
            }
            let t = lua.create_table()?;
            t.raw_set("map", inner)?;
            Value::Table(t)
        }
        b'~' => {
            let n = int(line)?;
            let inner = lua.create_table()?;
            for _ in 0..n {
                let k = resp_to_lua(lua, buf, pos)?;
                inner.raw_set(k, true)?;
            }
            let t = lua.create_table()?;
            t.raw_set("set", inner)?;
            Value::Table(t)
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(line == b"t"),
        b',' => {
            let text = std::str::from_utf8(line).unwrap_or("0");
            let d = match text {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                t => t.parse().unwrap_or(0.0),
            };
            let t = lua.create_table()?;
            t.raw_set("double", d)?;
            Value::Table(t)
        }
        b'(' => {
            let t = lua.create_table()?;
            t.raw_set("big_number", lua.create_string(line)?)?;
            Value::Table(t)
        }
        _ => return Err(bad()),
    })
}

/// Replaces CR and LF by spaces (error and status texts must stay on one line).
fn one_line(b: &[u8]) -> Vec<u8> {
    b.iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect()
}

fn field(t: &Table, name: &str) -> Value {
    t.raw_get::<Value>(name).unwrap_or(Value::Nil)
}

/// Writes the script's return value `v` as the reply. `resp3` is the script's own protocol
/// (`redis.setresp`): booleans are RESP3 booleans only after `redis.setresp(3)`, otherwise
/// `true` is 1 and `false` a null (as Redis); everything else follows the caller's protocol.
pub fn lua_to_reply(v: &Value, reply: &mut Reply, resp3: bool, depth: usize) {
    if depth > 1000 {
        reply.error(b"ERR reached lua stack limit");
        return;
    }
    match v {
        Value::String(s) => reply.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if resp3 {
                reply.boolean(*b);
            } else if *b {
                reply.int(1);
            } else {
                reply.null();
            }
        }
        Value::Integer(i) => reply.int(*i),
        Value::Number(n) => reply.int(truncate(*n)),
        Value::Table(t) => {
            if let Value::String(e) = field(t, "err") {
                reply.error(&one_line(&e.as_bytes()));
                return;
            }
            if let Value::String(s) = field(t, "ok") {
                reply.simple(&one_line(&s.as_bytes()));
                return;
            }
            match field(t, "double") {
                Value::Number(d) => return reply.double(d),
                Value::Integer(i) => return reply.double(i as f64),
                _ => {}
            }
            if let Value::String(s) = field(t, "big_number") {
                reply.big_number(&s.as_bytes());
                return;
            }
            if let Value::Table(m) = field(t, "map") {
                let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().flatten().collect();
                reply.map(pairs.len());
                for (k, val) in &pairs {
                    lua_to_reply(k, reply, resp3, depth + 1);
                    lua_to_reply(val, reply, resp3, depth + 1);
                }
                return;
            }
            if let Value::Table(m) = field(t, "set") {
                let keys: Vec<Value> = m
                    .pairs::<Value, Value>()
                    .flatten()
                    .map(|(k, _)| k)
                    .collect();
                reply.set(keys.len());
                for k in &keys {
                    lua_to_reply(k, reply, resp3, depth + 1);
                }
                return;
            }
            if let Value::Table(vs) = field(t, "verbatim_string") {
                let fmt = match field(&vs, "format") {
                    Value::String(f) => f.as_bytes().to_vec(),
                    _ => b"txt".to_vec(),
                };
                let s = match field(&vs, "string") {
                    Value::String(s) => s.as_bytes().to_vec(),
                    _ => Vec::new(),
                };
                let mut f3 = [b' '; 3];
                for (d, c) in f3.iter_mut().zip(fmt.iter()) {
                    *d = *c;
                }
                reply.verbatim(&f3, &s);
                return;
            }
            let mut items = Vec::new();
            let mut i = 1;
            loop {
                match t.raw_get::<Value>(i) {
                    Ok(Value::Nil) | Err(_) => break,
                    Ok(v) => items.push(v),
                }
                i += 1;
            }
            reply.array(items.len());
            for it in &items {
                lua_to_reply(it, reply, resp3, depth + 1);
            }
        }
        _ => reply.null(),
    }
}

/// Lua numbers become integers by truncation toward zero; NaN and values out of the `i64`
/// range give `i64::MIN`, as Redis's C cast does on x86-64.
pub fn truncate(n: f64) -> i64 {
    if n.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        return i64::MIN;
    }
    n.trunc() as i64
}
