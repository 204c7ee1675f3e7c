//! The `struct` library Redis bundles: `struct.pack(fmt, ...)`, `struct.unpack(fmt, s [, pos])`
//! and `struct.size(fmt)`, converting between Lua values and C-struct-like binary strings.
//!
//! Format options: `>` big endian, `<` little endian (the default, as on x86-64), `![n]` maximum
//! alignment (default 1, i.e. packed), `x` one pad byte, `b`/`B` signed/unsigned char, `h`/`H`
//! short, `l`/`L` long (8 bytes), `T` size_t (8), `i[n]`/`I[n]` integer of n bytes (default 4),
//! `f` float, `d` double, `c[n]` n raw bytes (`c0`: the whole string when packing, a length
//! taken from the previous unpacked number when unpacking), `s` zero-terminated string, and
//! spaces (ignored).

use mlua::{Lua, LuaString, Result, Table, Value, Variadic};

const MAX_INT_SIZE: usize = 32;
const MAX_ALIGN: usize = 8;

struct Header {
    little: bool,
    align: usize,
    /// Name of the calling function, for argument errors.
    func: &'static str,
}

/// One parsed option of a format string.
struct Opt {
    code: u8,
    size: usize,
}

fn err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

/// Reads an optional decimal count at `*i`.
fn get_num(fmt: &[u8], i: &mut usize, default: usize) -> usize {
    if !fmt.get(*i).is_some_and(u8::is_ascii_digit) {
        return default;
    }
    let mut n: usize = 0;
    while let Some(d) = fmt.get(*i).filter(|d| d.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(usize::from(d - b'0'));
        *i += 1;
    }
    n
}

/// Parses the next option; header options (`<`, `>`, `!`, space) are applied and yield `None`.
fn next_opt(fmt: &[u8], i: &mut usize, h: &mut Header) -> Result<Option<Opt>> {
    let Some(&c) = fmt.get(*i) else {
        return Ok(None);
    };
    *i += 1;
    let size = match c {
        b'b' | b'B' | b'x' => 1,
        b'h' | b'H' => 2,
        b'l' | b'L' | b'T' => 8,
        b'f' => 4,
        b'd' => 8,
        b'c' => get_num(fmt, i, 1),
        b's' => 0,
        b'i' | b'I' => {
            let n = get_num(fmt, i, 4);
            if n > MAX_INT_SIZE {
                return Err(err(format!(
                    "integral size {n} is larger than limit of {MAX_INT_SIZE}"
                )));
            }
            n
        }
        b' ' => {
            return Ok(Some(Opt {
                code: b' ',
                size: 0,
            }))
        }
        b'<' => {
            h.little = true;
            return Ok(Some(Opt {
                code: b' ',
                size: 0,
            }));
        }
        b'>' => {
            h.little = false;
            return Ok(Some(Opt {
                code: b' ',
                size: 0,
            }));
        }
        b'!' => {
            let a = get_num(fmt, i, MAX_ALIGN);
            if !a.is_power_of_two() {
                return Err(err("alignment must be power of 2"));
            }
            h.align = a;
            return Ok(Some(Opt {
                code: b' ',
                size: 0,
            }));
        }
        other => {
            return Err(err(format!(
                "bad argument #1 to '{}' (invalid format option '{}')",
                h.func,
                char::from(other)
            )))
        }
    };
    Ok(Some(Opt { code: c, size }))
}

/// Padding needed before an item of `size` at offset `len`.
fn to_align(len: usize, h: &Header, opt: &Opt) -> usize {
    if opt.size <= 1 || opt.code == b'c' {
        return 0;
    }
    let align = opt.size.min(h.align);
    if !align.is_power_of_two() {
        return 0;
    }
    (align - (len & (align - 1))) & (align - 1)
}

fn number(v: &Value, pos: usize) -> Result<f64> {
    match v {
        Value::Integer(i) => Ok(*i as f64),
        Value::Number(n) => Ok(*n),
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .ok_or_else(|| crate::bit::bad_arg(pos, "pack", "number", v)),
        _ => Err(crate::bit::bad_arg(pos, "pack", "number", v)),
    }
}

fn put_int(out: &mut Vec<u8>, n: f64, little: bool, size: usize) {
    let v: u64 = if n < 0.0 { (n as i64) as u64 } else { n as u64 };
    let neg = n < 0.0;
    let mut bytes = Vec::with_capacity(size);
    for k in 0..size {
        bytes.push(if k < 8 {
            (v >> (8 * k)) as u8
        } else if neg {
            0xff
        } else {
            0
        });
    }
    if !little {
        bytes.reverse();
    }
    out.extend_from_slice(&bytes);
}

fn pack(lua: &Lua, args: Variadic<Value>) -> Result<LuaString> {
    let fmt = match args.first() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        other => {
            return Err(crate::bit::bad_arg(
                1,
                "pack",
                "string",
                other.unwrap_or(&Value::Nil),
            ))
        }
    };
    let mut h = Header {
        func: "pack",
        little: true,
        align: 1,
    };
    let mut out = Vec::new();
    let mut i = 0;
    let mut argi = 1;
    while let Some(opt) = next_opt(&fmt, &mut i, &mut h)? {
        if opt.code == b' ' {
            continue;
        }
        let pad = to_align(out.len(), &h, &opt);
        out.resize(out.len() + pad, 0);
        let v = args.get(argi).cloned().unwrap_or(Value::Nil);
        match opt.code {
            b'x' => out.push(0),
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = number(&v, argi + 1)?;
                argi += 1;
                put_int(&mut out, n, h.little, opt.size);
            }
            b'f' => {
                let n = number(&v, argi + 1)? as f32;
                argi += 1;
                let mut b = n.to_le_bytes();
                if !h.little {
                    b.reverse();
                }
                out.extend_from_slice(&b);
            }
            b'd' => {
                let n = number(&v, argi + 1)?;
                argi += 1;
                let mut b = n.to_le_bytes();
                if !h.little {
                    b.reverse();
                }
                out.extend_from_slice(&b);
            }
            b'c' | b's' => {
                let s = match &v {
                    Value::String(s) => s.as_bytes().to_vec(),
                    Value::Integer(_) | Value::Number(_) => lua
                        .coerce_string(v.clone())?
                        .map(|s| s.as_bytes().to_vec())
                        .unwrap_or_default(),
                    _ => return Err(crate::bit::bad_arg(argi + 1, "pack", "string", &v)),
                };
                argi += 1;
                if opt.code == b'c' {
                    let size = if opt.size == 0 { s.len() } else { opt.size };
                    if s.len() < size {
                        return Err(err(format!(
                            "bad argument #{argi} to 'pack' (string too short)"
                        )));
                    }
                    out.extend_from_slice(&s[..size]);
                } else {
                    if s.contains(&0) {
                        return Err(err(format!(
                            "bad argument #{argi} to 'pack' (string contains zeros)"
                        )));
                    }
                    out.extend_from_slice(&s);
                    out.push(0);
                }
            }
            _ => {}
        }
    }
    lua.create_string(&out)
}

fn get_int(data: &[u8], little: bool, signed: bool, size: usize) -> Result<f64> {
    let mut bytes = data.to_vec();
    if !little {
        bytes.reverse();
    }
    // bytes is little endian now.
    if size > 8 {
        let sign_fill = if signed && bytes.get(7).is_some_and(|b| b & 0x80 != 0) {
            0xff
        } else {
            0
        };
        if bytes[8..].iter().any(|&b| b != sign_fill) {
            return Err(err(format!(
                "{size}-byte integer does not fit into Lua Integer"
            )));
        }
    }
    let mut v: u64 = 0;
    for (k, b) in bytes.iter().take(8).enumerate() {
        v |= u64::from(*b) << (8 * k);
    }
    if signed && size < 8 && size > 0 {
        let shift = 64 - 8 * size as u32;
        return Ok((((v << shift) as i64) >> shift) as f64);
    }
    Ok(if signed { v as i64 as f64 } else { v as f64 })
}

fn unpack(
    lua: &Lua,
    (fmt, data, init): (LuaString, LuaString, Option<i64>),
) -> Result<Variadic<Value>> {
    let fmt = fmt.as_bytes().to_vec();
    let data = data.as_bytes().to_vec();
    let mut pos = match init {
        Some(p) if p > 0 => (p - 1) as usize,
        Some(_) => {
            return Err(err(
                "bad argument #3 to 'unpack' (offset must be 1 or greater)",
            ))
        }
        None => 0,
    };
    let mut h = Header {
        func: "unpack",
        little: true,
        align: 1,
    };
    let mut out: Variadic<Value> = Variadic::new();
    let mut i = 0;
    let too_short = || err("bad argument #2 to 'unpack' (data string too short)");
    while let Some(opt) = next_opt(&fmt, &mut i, &mut h)? {
        if opt.code == b' ' {
            continue;
        }
        pos += to_align(pos, &h, &opt);
        let mut size = opt.size;
        match opt.code {
            b'x' => {}
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let chunk = data.get(pos..pos + size).ok_or_else(too_short)?;
                let signed = opt.code.is_ascii_lowercase();
                out.push(Value::Number(get_int(chunk, h.little, signed, size)?));
            }
            b'f' => {
                let chunk = data.get(pos..pos + 4).ok_or_else(too_short)?;
                let mut b = [0u8; 4];
                b.copy_from_slice(chunk);
                if !h.little {
                    b.reverse();
                }
                out.push(Value::Number(f64::from(f32::from_le_bytes(b))));
            }
            b'd' => {
                let chunk = data.get(pos..pos + 8).ok_or_else(too_short)?;
                let mut b = [0u8; 8];
                b.copy_from_slice(chunk);
                if !h.little {
                    b.reverse();
                }
                out.push(Value::Number(f64::from_le_bytes(b)));
            }
            b'c' => {
                if size == 0 {
                    size = match out.pop() {
                        Some(Value::Number(n)) if n >= 0.0 => n as usize,
                        Some(Value::Integer(n)) if n >= 0 => n as usize,
                        _ => return Err(err("format 'c0' needs a previous size")),
                    };
                }
                let chunk = data.get(pos..pos + size).ok_or_else(too_short)?;
                out.push(Value::String(lua.create_string(chunk)?));
            }
            b's' => {
                let rest = data.get(pos..).unwrap_or(&[]);
                let end = rest
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or_else(|| err("unfinished string in data"))?;
                out.push(Value::String(lua.create_string(&rest[..end])?));
                size = end + 1;
            }
            _ => {}
        }
        pos += size;
    }
    out.push(Value::Number((pos + 1) as f64));
    Ok(out)
}

fn size(_: &Lua, fmt: LuaString) -> Result<f64> {
    let fmt = fmt.as_bytes().to_vec();
    let mut h = Header {
        func: "size",
        little: true,
        align: 1,
    };
    let mut total = 0usize;
    let mut i = 0;
    while let Some(opt) = next_opt(&fmt, &mut i, &mut h)? {
        if opt.code == b' ' {
            continue;
        }
        if opt.code == b's' || (opt.code == b'c' && opt.size == 0) {
            return Err(err(
                "bad argument #1 to 'size' (options 'c0' - 's' have undefined sizes)",
            ));
        }
        total += to_align(total, &h, &opt) + opt.size;
    }
    Ok(total as f64)
}

/// Installs `struct` as a global table.
pub fn install(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lua.create_function(pack)?)?;
    t.set("unpack", lua.create_function(unpack)?)?;
    t.set("size", lua.create_function(size)?)?;
    Ok(t)
}
