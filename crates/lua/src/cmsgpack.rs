//! The `cmsgpack` library Redis bundles: MessagePack encoding of Lua values.
//!
//! - `cmsgpack.pack(v1, v2, ...)`: the concatenated encodings of its arguments.
//! - `cmsgpack.unpack(s)`: every value encoded in `s`.
//! - `cmsgpack.unpack_one(s [, offset])` / `cmsgpack.unpack_limit(s, limit [, offset])`: the next
//!   offset (-1 at the end) followed by up to one / `limit` values.
//!
//! Encoding follows lua-cmsgpack: a number with an integral value is an integer in the smallest
//! form (positive/negative fixint, uint/int 8-64), other numbers a float 32 when that is exact,
//! else a float 64; strings use fixstr/str8/str16/str32; a table whose keys are exactly 1..n is
//! an array, any other table a map; nesting deeper than 16 tables encodes `nil`. Decoding accepts
//! every MessagePack type except extensions (bin is decoded as a string).

use mlua::{Lua, LuaString, Result, Table, Value, Variadic};

const MAX_NESTING: usize = 16;

fn err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

fn encode_int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        let u = v as u64;
        if u < 128 {
            out.push(u as u8);
        } else if u <= 0xff {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if v >= -32 {
        out.push(v as i8 as u8);
    } else if v >= -128 {
        out.extend_from_slice(&[0xd0, v as i8 as u8]);
    } else if v >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(v as i16).to_be_bytes());
    } else if v >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(v as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    if n.is_finite()
        && n.fract() == 0.0
        && (-9.223_372_036_854_776e18..1.844_674_407_370_955_2e19).contains(&n)
    {
        if n >= 9.223_372_036_854_776e18 {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        } else {
            encode_int(out, n as i64);
        }
    } else if f64::from(n as f32) == n || n.is_nan() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// The array length if the table's keys are exactly 1..n (n may be 0 for an empty table).
fn array_len(t: &Table) -> Result<Option<usize>> {
    let mut count = 0usize;
    let mut max = 0i64;
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let idx = match k {
            Value::Integer(i) => i,
            Value::Number(n) if n.fract() == 0.0 => n as i64,
            _ => return Ok(None),
        };
        if idx < 1 {
            return Ok(None);
        }
        max = max.max(idx);
        count += 1;
    }
    Ok((max as usize == count).then_some(count))
}

fn encode_value(out: &mut Vec<u8>, v: &Value, depth: usize) -> Result<()> {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_int(out, *i),
        Value::Number(n) => encode_number(out, *n),
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Table(t) if depth < MAX_NESTING => match array_len(t)? {
            Some(n) => {
                if n < 16 {
                    out.push(0x90 | n as u8);
                } else if n <= 0xffff {
                    out.push(0xdc);
                    out.extend_from_slice(&(n as u16).to_be_bytes());
                } else {
                    out.push(0xdd);
                    out.extend_from_slice(&(n as u32).to_be_bytes());
                }
                for i in 1..=n {
                    let item: Value = t.raw_get(i)?;
                    encode_value(out, &item, depth + 1)?;
                }
            }
            None => {
                let pairs: Vec<(Value, Value)> =
                    t.clone().pairs::<Value, Value>().collect::<Result<_>>()?;
                let n = pairs.len();
                if n < 16 {
                    out.push(0x80 | n as u8);
                } else if n <= 0xffff {
                    out.push(0xde);
                    out.extend_from_slice(&(n as u16).to_be_bytes());
                } else {
                    out.push(0xdf);
                    out.extend_from_slice(&(n as u32).to_be_bytes());
                }
                for (k, val) in &pairs {
                    encode_value(out, k, depth + 1)?;
                    encode_value(out, val, depth + 1)?;
                }
            }
        },
        // Too deep, functions, userdata, threads: nil, as lua-cmsgpack does.
        _ => out.push(0xc0),
    }
    Ok(())
}

/// A MessagePack decoder over a byte slice.
struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(e) => {
                let s = &self.data[self.pos..e];
                self.pos = e;
                Ok(s)
            }
            None => Err(err("Missing bytes in input.")),
        }
    }

    fn be(&mut self, n: usize) -> Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn value(&mut self, lua: &Lua, depth: usize) -> Result<Value> {
        if depth > 1000 {
            return Err(err("Too deep nesting in input."));
        }
        let b = self.take(1)?[0];
        Ok(match b {
            0x00..=0x7f => Value::Integer(i64::from(b)),
            0x80..=0x8f => self.map(lua, usize::from(b & 0x0f), depth)?,
            0x90..=0x9f => self.array(lua, usize::from(b & 0x0f), depth)?,
            0xa0..=0xbf => self.string(lua, usize::from(b & 0x1f))?,
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xd9 => {
                let n = self.be(1)? as usize;
                self.string(lua, n)?
            }
            0xda => {
                let n = self.be(2)? as usize;
                self.string(lua, n)?
            }
            0xdb => {
                let n = self.be(4)? as usize;
                self.string(lua, n)?
            }
            0xca => Value::Number(f64::from(f32::from_bits(self.be(4)? as u32))),
            0xcb => Value::Number(f64::from_bits(self.be(8)?)),
            0xcc => Value::Integer(self.be(1)? as i64),
            0xcd => Value::Integer(self.be(2)? as i64),
            0xce => Value::Integer(self.be(4)? as i64),
            0xcf => {
                let u = self.be(8)?;
                match i64::try_from(u) {
                    Ok(i) => Value::Integer(i),
                    Err(_) => Value::Number(u as f64),
                }
            }
            0xd0 => Value::Integer(i64::from(self.be(1)? as u8 as i8)),
            0xd1 => Value::Integer(i64::from(self.be(2)? as u16 as i16)),
            0xd2 => Value::Integer(i64::from(self.be(4)? as u32 as i32)),
            0xd3 => Value::Integer(self.be(8)? as i64),
            0xdc => {
                let n = self.be(2)? as usize;
                self.array(lua, n, depth)?
            }
            0xdd => {
                let n = self.be(4)? as usize;
                self.array(lua, n, depth)?
            }
            0xde => {
                let n = self.be(2)? as usize;
                self.map(lua, n, depth)?
            }
            0xdf => {
                let n = self.be(4)? as usize;
                self.map(lua, n, depth)?
            }
            0xe0..=0xff => Value::Integer(i64::from(b as i8)),
            _ => return Err(err("Bad data format in input.")),
        })
    }

    fn string(&mut self, lua: &Lua, n: usize) -> Result<Value> {
        let s = self.take(n)?;
        Ok(Value::String(lua.create_string(s)?))
    }

    fn array(&mut self, lua: &Lua, n: usize, depth: usize) -> Result<Value> {
        // Every element takes at least one byte: a count beyond the input is corrupt.
        if n > self.data.len() - self.pos {
            return Err(err("Missing bytes in input."));
        }
        let t = lua.create_table_with_capacity(n, 0)?;
        for i in 1..=n {
            let v = self.value(lua, depth + 1)?;
            t.raw_set(i, v)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, n: usize, depth: usize) -> Result<Value> {
        if n.saturating_mul(2) > self.data.len() - self.pos {
            return Err(err("Missing bytes in input."));
        }
        let t = lua.create_table_with_capacity(0, n)?;
        for _ in 0..n {
            let k = self.value(lua, depth + 1)?;
            let v = self.value(lua, depth + 1)?;
            if !matches!(k, Value::Nil) {
                t.raw_set(k, v)?;
            }
        }
        Ok(Value::Table(t))
    }
}

fn pack(lua: &Lua, args: Variadic<Value>) -> Result<LuaString> {
    if args.is_empty() {
        return Err(err(
            "bad argument #0 to 'pack' (MessagePack pack needs input.)",
        ));
    }
    let mut out = Vec::new();
    for v in args.iter() {
        encode_value(&mut out, v, 0)?;
    }
    lua.create_string(&out)
}

/// Decodes up to `limit` values (0 = all) from `offset`; returns (next offset or -1, values).
fn unpack_full(lua: &Lua, s: &[u8], limit: usize, offset: usize) -> Result<(i64, Vec<Value>)> {
    let mut d = Decoder {
        data: s,
        pos: offset.min(s.len()),
    };
    let mut vals = Vec::new();
    while d.pos < s.len() && (limit == 0 || vals.len() < limit) {
        vals.push(d.value(lua, 0)?);
    }
    let next = if d.pos >= s.len() { -1 } else { d.pos as i64 };
    Ok((next, vals))
}

/// Installs `cmsgpack` as a global table.
pub fn install(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lua.create_function(pack)?)?;
    t.set(
        "unpack",
        lua.create_function(|lua, s: LuaString| {
            let (_, vals) = unpack_full(lua, &s.as_bytes(), 0, 0)?;
            Ok(Variadic::from_iter(vals))
        })?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, (s, offset): (LuaString, Option<i64>)| {
            let off = offset.unwrap_or(0).max(0) as usize;
            let (next, vals) = unpack_full(lua, &s.as_bytes(), 1, off)?;
            let mut out = vec![Value::Integer(next)];
            out.extend(vals);
            Ok(Variadic::from_iter(out))
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(|lua, (s, limit, offset): (LuaString, i64, Option<i64>)| {
            let off = offset.unwrap_or(0).max(0) as usize;
            let (next, vals) = unpack_full(lua, &s.as_bytes(), limit.max(0) as usize, off)?;
            let mut out = vec![Value::Integer(next)];
            out.extend(vals);
            Ok(Variadic::from_iter(out))
        })?,
    )?;
    Ok(t)
}
