//! The `bit` library (LuaBitOp's API, as Redis bundles it): 32-bit bitwise operations on Lua
//! numbers.
//!
//! Every argument is first normalised to a signed 32-bit integer the way LuaBitOp does it:
//! rounded to the nearest integer (ties to even) and reduced modulo 2^32. Results are signed
//! 32-bit integers (`bit.tobit(0xffffffff) == -1`). Shift counts use their low 5 bits.

use mlua::{Lua, Result, Table, Value, Variadic};

/// Normalises a Lua number to the signed 32-bit value LuaBitOp works on.
pub fn tobit(n: f64) -> i32 {
    if !n.is_finite() {
        return 0;
    }
    let r = n.round_ties_even().rem_euclid(4_294_967_296.0);
    (r as u64 as u32) as i32
}

fn arg(v: &Value, pos: usize, fname: &str) -> Result<i32> {
    match v {
        Value::Integer(i) => Ok(tobit(*i as f64)),
        Value::Number(n) => Ok(tobit(*n)),
        Value::String(s) => match s.to_str().ok().and_then(|t| t.trim().parse::<f64>().ok()) {
            Some(n) => Ok(tobit(n)),
            None => Err(bad_arg(pos, fname, "number", v)),
        },
        _ => Err(bad_arg(pos, fname, "number", v)),
    }
}

/// Lua's "bad argument" error text.
pub(crate) fn bad_arg(pos: usize, fname: &str, want: &str, got: &Value) -> mlua::Error {
    let got = match got {
        Value::Nil => "no value".to_string(),
        other => other.type_name().to_string(),
    };
    mlua::Error::RuntimeError(format!(
        "bad argument #{pos} to '{fname}' ({want} expected, got {got})"
    ))
}

fn first(args: &Variadic<Value>, fname: &str) -> Result<i32> {
    arg(args.first().unwrap_or(&Value::Nil), 1, fname)
}

fn num(v: i32) -> f64 {
    f64::from(v)
}

fn fold(args: Variadic<Value>, fname: &str, f: fn(i32, i32) -> i32) -> Result<f64> {
    let mut acc = first(&args, fname)?;
    for (i, v) in args.iter().enumerate().skip(1) {
        acc = f(acc, arg(v, i + 1, fname)?);
    }
    Ok(num(acc))
}

fn shift(args: &Variadic<Value>, fname: &str) -> Result<(i32, u32)> {
    let x = first(args, fname)?;
    let n = arg(args.get(1).unwrap_or(&Value::Nil), 2, fname)?;
    Ok((x, (n as u32) & 31))
}

/// Installs `bit` as a global table.
pub fn install(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "tobit",
        lua.create_function(|_, a: Variadic<Value>| Ok(num(first(&a, "tobit")?)))?,
    )?;
    t.set(
        "bnot",
        lua.create_function(|_, a: Variadic<Value>| Ok(num(!first(&a, "bnot")?)))?,
    )?;
    t.set(
        "band",
        lua.create_function(|_, a: Variadic<Value>| fold(a, "band", |x, y| x & y))?,
    )?;
    t.set(
        "bor",
        lua.create_function(|_, a: Variadic<Value>| fold(a, "bor", |x, y| x | y))?,
    )?;
    t.set(
        "bxor",
        lua.create_function(|_, a: Variadic<Value>| fold(a, "bxor", |x, y| x ^ y))?,
    )?;
    t.set(
        "lshift",
        lua.create_function(|_, a: Variadic<Value>| {
            let (x, n) = shift(&a, "lshift")?;
            Ok(num(((x as u32) << n) as i32))
        })?,
    )?;
    t.set(
        "rshift",
        lua.create_function(|_, a: Variadic<Value>| {
            let (x, n) = shift(&a, "rshift")?;
            Ok(num(((x as u32) >> n) as i32))
        })?,
    )?;
    t.set(
        "arshift",
        lua.create_function(|_, a: Variadic<Value>| {
            let (x, n) = shift(&a, "arshift")?;
            Ok(num(x >> n))
        })?,
    )?;
    t.set(
        "rol",
        lua.create_function(|_, a: Variadic<Value>| {
            let (x, n) = shift(&a, "rol")?;
            Ok(num((x as u32).rotate_left(n) as i32))
        })?,
    )?;
    t.set(
        "ror",
        lua.create_function(|_, a: Variadic<Value>| {
            let (x, n) = shift(&a, "ror")?;
            Ok(num((x as u32).rotate_right(n) as i32))
        })?,
    )?;
    t.set(
        "bswap",
        lua.create_function(|_, a: Variadic<Value>| {
            Ok(num((first(&a, "bswap")? as u32).swap_bytes() as i32))
        })?,
    )?;
    t.set(
        "tohex",
        lua.create_function(|_, a: Variadic<Value>| {
            let x = first(&a, "tohex")? as u32;
            let n = match a.get(1) {
                None | Some(Value::Nil) => 8,
                Some(v) => arg(v, 2, "tohex")?,
            };
            let upper = n < 0;
            let digits = n.unsigned_abs().min(8) as usize;
            let full = if upper {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            Ok(full[8 - digits..].to_string())
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::tobit;

    #[test]
    fn normalisation_matches_luabitop() {
        assert_eq!(tobit(0xffff_ffffu32 as f64), -1);
        assert_eq!(tobit(4_294_967_296.0 + 5.0), 5);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2.5), 2, "ties to even");
        assert_eq!(tobit(3.5), 4);
        assert_eq!(tobit(-2_147_483_649.0), 2_147_483_647);
    }
}
