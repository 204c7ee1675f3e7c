//! The `cjson` library Redis bundles (lua-cjson's API): `cjson.encode(v)`, `cjson.decode(s)`,
//! `cjson.null`, and the configuration functions.
//!
//! Encoding rules, as lua-cjson's defaults: numbers with `%.14g`; NaN and infinities are an
//! error; strings escape `"`, `\`, `/`, the control characters and DEL (other bytes are copied
//! as they are); a table whose keys are all positive integers is an array (holes become `null`;
//! an "excessively sparse" one, with its largest index above 10 and above twice the number of
//! items, is an error), any other table an object whose keys must be strings or numbers; an
//! empty table is `{}`; nesting deeper than 1000 is an error. Decoding turns `null` into
//! `cjson.null` and arrays into tables indexed from 1.

use mlua::{LightUserData, Lua, LuaString, Result, Table, Value};
use std::sync::{Arc, Mutex};

fn err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

/// The settings changed by `cjson.encode_max_depth` and friends.
#[derive(Clone, Copy)]
struct Config {
    encode_max_depth: usize,
    decode_max_depth: usize,
    precision: usize,
    sparse_convert: bool,
    sparse_ratio: usize,
    sparse_safe: usize,
    encode_invalid_numbers: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            precision: 14,
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_invalid_numbers: false,
        }
    }
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// C's `%.<p>g`.
pub fn format_g(n: f64, precision: usize) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf" } else { "inf" }.into();
    }
    if n == 0.0 {
        return if n.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let p = precision.max(1);
    // Exponent as %e would print it after rounding to p significant digits.
    let sci = format!("{:.*e}", p - 1, n);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{n:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

fn encode_number(out: &mut Vec<u8>, n: f64, cfg: &Config) -> Result<()> {
    if !n.is_finite() && !cfg.encode_invalid_numbers {
        return Err(err("Cannot serialise number: must not be NaN or Inf"));
    }
    out.extend_from_slice(format_g(n, cfg.precision).as_bytes());
    Ok(())
}

/// The array length when every key is a positive integer (0 for an empty table), `None` for
/// an object.
fn array_length(t: &Table, cfg: &Config) -> Result<Option<usize>> {
    let mut max = 0usize;
    let mut items = 0usize;
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let idx = match k {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(idx);
        items += 1;
    }
    if cfg.sparse_ratio > 0 && max > items * cfg.sparse_ratio && max > cfg.sparse_safe {
        if cfg.sparse_convert {
            return Ok(None);
        }
        return Err(err("Cannot serialise table: excessively sparse array"));
    }
    Ok(Some(max))
}

fn encode_value(out: &mut Vec<u8>, v: &Value, depth: usize, cfg: &Config) -> Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => encode_number(out, *i as f64, cfg)?,
        Value::Number(n) => encode_number(out, *n, cfg)?,
        Value::String(s) => escape_into(out, &s.as_bytes()),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > cfg.encode_max_depth {
                return Err(err(format!(
                    "Cannot serialise, excessive nesting ({depth})"
                )));
            }
            match array_length(t, cfg)? {
                Some(n) if n > 0 => {
                    out.push(b'[');
                    for i in 1..=n {
                        if i > 1 {
                            out.push(b',');
                        }
                        let item: Value = t.raw_get(i)?;
                        encode_value(out, &item, depth, cfg)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.clone().pairs::<Value, Value>() {
                        let (k, val) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => escape_into(out, &s.as_bytes()),
                            Value::Integer(i) => {
                                escape_into(out, format_g(*i as f64, cfg.precision).as_bytes())
                            }
                            Value::Number(n) => {
                                escape_into(out, format_g(*n, cfg.precision).as_bytes())
                            }
                            other => {
                                return Err(err(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    other.type_name()
                                )))
                            }
                        }
                        out.push(b':');
                        encode_value(out, &val, depth, cfg)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )))
        }
    }
    Ok(())
}

/// A JSON parser producing Lua values.
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self
            .s
            .get(self.pos)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
    }

    fn fail(&self, want: &str) -> mlua::Error {
        // lua-cjson names the token it found by its internal type.
        let found = match self.s.get(self.pos) {
            None => "T_END",
            Some(b'{') => "T_OBJ_BEGIN",
            Some(b'}') => "T_OBJ_END",
            Some(b'[') => "T_ARR_BEGIN",
            Some(b']') => "T_ARR_END",
            Some(b',') => "T_COMMA",
            Some(b':') => "T_COLON",
            Some(b'"') => "T_STRING",
            Some(c) if c.is_ascii_digit() || *c == b'-' => "T_NUMBER",
            Some(b't') if self.s[self.pos..].starts_with(b"true") => "T_BOOLEAN",
            Some(b'f') if self.s[self.pos..].starts_with(b"false") => "T_BOOLEAN",
            Some(b'n') if self.s[self.pos..].starts_with(b"null") => "T_NULL",
            _ => "invalid token",
        };
        err(format!(
            "Expected {want} but found {found} at character {}",
            self.pos + 1
        ))
    }

    fn value(&mut self, lua: &Lua, depth: usize) -> Result<Value> {
        self.ws();
        match self.s.get(self.pos) {
            Some(b'{') => self.object(lua, depth + 1),
            Some(b'[') => self.array(lua, depth + 1),
            Some(b'"') => Ok(Value::String(lua.create_string(self.string()?)?)),
            Some(b't') if self.s[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Ok(Value::Boolean(true))
            }
            Some(b'f') if self.s[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Ok(Value::Boolean(false))
            }
            Some(b'n') if self.s[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Ok(null())
            }
            Some(c) if c.is_ascii_digit() || *c == b'-' => self.number(),
            _ => Err(self.fail("value")),
        }
    }

    fn number(&mut self) -> Result<Value> {
        let start = self.pos;
        while self
            .s
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
        {
            self.pos += 1;
        }
        // strtod, which Lua cjson uses, also reads hexadecimal numbers.
        let zero = matches!(self.s.get(start..self.pos), Some(b"0" | b"-0"));
        if zero && matches!(self.s.get(self.pos), Some(b'x' | b'X')) {
            let digits = self.pos + 1;
            let mut end = digits;
            while self.s.get(end).is_some_and(|c| c.is_ascii_hexdigit()) {
                end += 1;
            }
            let hex = std::str::from_utf8(&self.s[digits..end]).unwrap_or("");
            if let Ok(v) = u64::from_str_radix(hex, 16) {
                self.pos = end;
                let v = v as f64;
                return Ok(Value::Number(if self.s[start] == b'-' { -v } else { v }));
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(n) => Ok(Value::Number(n)),
            Err(_) => {
                self.pos = start;
                Err(self.fail("value"))
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let h = self
            .s
            .get(self.pos..self.pos + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.fail("value"))?;
        self.pos += 4;
        Ok(h)
    }

    fn string(&mut self) -> Result<Vec<u8>> {
        let open = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                self.pos = open;
                return Err(self.fail("value"));
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else {
                        return Err(self.fail("value"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xd800..0xdc00).contains(&cp)
                                && self.s.get(self.pos..self.pos + 2) == Some(b"\\u")
                            {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xdc00..0xe000).contains(&lo) {
                                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                }
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            self.pos -= 2;
                            return Err(self.fail("value"));
                        }
                    }
                }
                _ => out.push(c),
            }
        }
    }

    fn check_depth(&self, depth: usize) -> Result<()> {
        if depth > self.max_depth {
            return Err(err(format!(
                "Found too many nested data structures ({depth}) at character {}",
                self.pos + 1
            )));
        }
        Ok(())
    }

    fn array(&mut self, lua: &Lua, depth: usize) -> Result<Value> {
        self.check_depth(depth)?;
        self.pos += 1;
        let t = lua.create_table()?;
        self.ws();
        if self.s.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Value::Table(t));
        }
        let mut i = 1;
        loop {
            let v = self.value(lua, depth)?;
            t.raw_set(i, v)?;
            i += 1;
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                _ => return Err(self.fail("comma or array end")),
            }
        }
    }

    fn object(&mut self, lua: &Lua, depth: usize) -> Result<Value> {
        self.check_depth(depth)?;
        self.pos += 1;
        let t = lua.create_table()?;
        self.ws();
        if self.s.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Value::Table(t));
        }
        loop {
            self.ws();
            if self.s.get(self.pos) != Some(&b'"') {
                return Err(self.fail("object key string"));
            }
            let k = self.string()?;
            self.ws();
            if self.s.get(self.pos) != Some(&b':') {
                return Err(self.fail("colon"));
            }
            self.pos += 1;
            let v = self.value(lua, depth)?;
            t.raw_set(lua.create_string(&k)?, v)?;
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                _ => return Err(self.fail("comma or object end")),
            }
        }
    }
}

/// Installs `cjson` as a global table.
pub fn install(lua: &Lua) -> Result<Table> {
    let cfg = Arc::new(Mutex::new(Config::default()));
    let get = |c: &Arc<Mutex<Config>>| c.lock().map(|g| *g).unwrap_or_default();
    let t = lua.create_table()?;
    let c = cfg.clone();
    t.set(
        "encode",
        lua.create_function(move |lua, v: Value| {
            let conf = get(&c);
            let mut out = Vec::new();
            encode_value(&mut out, &v, 0, &conf)?;
            lua.create_string(&out)
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "decode",
        lua.create_function(move |lua, s: LuaString| {
            let conf = get(&c);
            let bytes = s.as_bytes().to_vec();
            let mut p = Parser {
                s: &bytes,
                pos: 0,
                max_depth: conf.decode_max_depth,
            };
            let v = p.value(lua, 0)?;
            p.ws();
            if p.pos != bytes.len() {
                return Err(p.fail("the end"));
            }
            Ok(v)
        })?,
    )?;
    t.set("null", null())?;
    let c = cfg.clone();
    t.set(
        "encode_max_depth",
        lua.create_function(move |_, n: Option<usize>| {
            let mut g = c.lock().map_err(|_| err("cjson: config lock"))?;
            if let Some(n) = n {
                g.encode_max_depth = n.max(1);
            }
            Ok(g.encode_max_depth)
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "decode_max_depth",
        lua.create_function(move |_, n: Option<usize>| {
            let mut g = c.lock().map_err(|_| err("cjson: config lock"))?;
            if let Some(n) = n {
                g.decode_max_depth = n.max(1);
            }
            Ok(g.decode_max_depth)
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "encode_number_precision",
        lua.create_function(move |_, n: Option<usize>| {
            let mut g = c.lock().map_err(|_| err("cjson: config lock"))?;
            if let Some(n) = n {
                if !(1..=14).contains(&n) {
                    return Err(err(
                        "bad argument #1 to '?' (expected integer between 1 and 14)",
                    ));
                }
                g.precision = n;
            }
            Ok(g.precision)
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "encode_sparse_array",
        lua.create_function(
            move |_, (convert, ratio, safe): (Option<bool>, Option<usize>, Option<usize>)| {
                let mut g = c.lock().map_err(|_| err("cjson: config lock"))?;
                if let Some(v) = convert {
                    g.sparse_convert = v;
                }
                if let Some(v) = ratio {
                    g.sparse_ratio = v;
                }
                if let Some(v) = safe {
                    g.sparse_safe = v;
                }
                Ok((g.sparse_convert, g.sparse_ratio, g.sparse_safe))
            },
        )?,
    )?;
    let c = cfg.clone();
    t.set(
        "encode_invalid_numbers",
        lua.create_function(move |_, v: Option<bool>| {
            let mut g = c.lock().map_err(|_| err("cjson: config lock"))?;
            if let Some(v) = v {
                g.encode_invalid_numbers = v;
            }
            Ok(g.encode_invalid_numbers)
        })?,
    )?;
    t.set(
        "encode_keep_buffer",
        lua.create_function(|_, v: Option<bool>| Ok(v.unwrap_or(true)))?,
    )?;
    t.set(
        "decode_invalid_numbers",
        lua.create_function(|_, v: Option<bool>| Ok(v.unwrap_or(true)))?,
    )?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::format_g;

    #[test]
    fn percent_g_14() {
        assert_eq!(format_g(1.0, 14), "1");
        assert_eq!(format_g(0.1, 14), "0.1");
        assert_eq!(format_g(1.0 / 3.0, 14), "0.33333333333333");
        assert_eq!(format_g(1e20, 14), "1e+20");
        assert_eq!(format_g(123456789012345.0, 14), "1.2345678901234e+14");
        assert_eq!(format_g(0.0001, 14), "0.0001");
        assert_eq!(format_g(0.00001, 14), "1e-05");
        assert_eq!(format_g(-2.5, 14), "-2.5");
        assert_eq!(format_g(100.0, 14), "100");
    }
}
