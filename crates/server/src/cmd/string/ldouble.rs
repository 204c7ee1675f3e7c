//! INCRBYFLOAT arithmetic exactly as Redis does it on x86-64: parse with `strtold` rules into an
//! 80-bit x87 `long double`, add with 64-bit-significand rounding, print with `"%.17Lf"` and trim
//! trailing zeros. `f64` gives different texts (e.g. `10.5 + 0.1`), so the arithmetic runs on
//! `rustc_apfloat`'s software `X87DoubleExtended` and the decimal printing is exact integer math.

use rustc_apfloat::ieee::X87DoubleExtended as Ld;
use rustc_apfloat::{Float, Round};

/// Redis's MAX_LONG_DOUBLE_CHARS: inputs this long or longer are rejected.
const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// An 80-bit extended-precision value.
#[derive(Clone, Copy, Debug)]
pub struct LongDouble(Ld);

impl LongDouble {
    /// An integer value (exact: every i64 fits in a 64-bit significand).
    pub fn from_i64(v: i64) -> LongDouble {
        let r = Ld::from_i128_r(i128::from(v), Round::NearestTiesToEven);
        LongDouble(r.value)
    }

    /// Parses like Redis's `string2ld`: `strtold` syntax (decimal, hex, `inf`/`infinity`), the
    /// whole input consumed (it stops at a NUL byte as C does), no leading space, no NaN, and
    /// no result that overflowed to infinity or underflowed to zero.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= MAX_LONG_DOUBLE_CHARS {
            return None;
        }
        // strtold stops at a NUL byte, and Redis requires the whole input to be consumed.
        if s.contains(&0) {
            return None;
        }
        let (neg, body) = match s.first() {
            Some(b'-') => (true, s.get(1..)?),
            Some(b'+') => (false, s.get(1..)?),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            let v = Ld::INFINITY;
            return Some(LongDouble(if neg { -v } else { v }));
        }
        let (text, nonzero) =
            if body.len() > 2 && (body.starts_with(b"0x") || body.starts_with(b"0X")) {
                normalise_hex(body.get(2..)?)?
            } else {
                normalise_dec(body)?
            };
        let r = Ld::from_str_r(&text, Round::NearestTiesToEven).ok()?;
        let v = r.value;
        if v.is_nan() || v.is_infinite() {
            return None; // overflow: strtold returns HUGE_VAL with ERANGE
        }
        if v.is_zero() && nonzero {
            return None; // underflow to zero with ERANGE
        }
        Some(LongDouble(if neg { -v } else { v }))
    }

    /// `self + other`, rounded to nearest-even as the x87 FPU does.
    pub fn add(self, other: LongDouble) -> LongDouble {
        LongDouble((self.0 + other.0).value)
    }

    /// True for NaN and infinities (INCRBYFLOAT refuses to store them).
    pub fn is_nan_or_inf(self) -> bool {
        self.0.is_nan() || self.0.is_infinite()
    }

    /// Redis's `ld2string(.., LD_STR_HUMAN)`: `"%.17Lf"`, trailing zeros (and a trailing dot)
    /// removed, "-0" printed as "0". Only meaningful for finite values.
    pub fn to_human(self) -> String {
        let bits = self.0.to_bits();
        let neg = (bits >> 79) & 1 == 1;
        let biased = ((bits >> 64) & 0x7fff) as i64;
        let sig = (bits & u128::from(u64::MAX)) as u64;
        // value = sig * 2^exp
        let exp = if biased == 0 {
            1 - 16383 - 63
        } else {
            biased - 16383 - 63
        };
        let mut out = String::new();
        if neg {
            out.push('-');
        }
        if exp >= 0 {
            out.push_str(&big_shl_decimal(sig, exp as usize));
        } else {
            let scaled = u128::from(sig) * 100_000_000_000_000_000u128; // < 2^121
            let shift = (-exp) as u32;
            let q = if shift > 121 {
                0
            } else {
                let q = scaled >> shift;
                let rem = scaled - (q << shift);
                let half = 1u128 << (shift - 1);
                if rem > half || (rem == half && q & 1 == 1) {
                    q + 1
                } else {
                    q
                }
            };
            let int = q / 100_000_000_000_000_000u128;
            let frac = q % 100_000_000_000_000_000u128;
            out.push_str(&format!("{}.{:017}", int, frac));
            while out.ends_with('0') {
                out.pop();
            }
            if out.ends_with('.') {
                out.pop();
            }
        }
        if out == "-0" {
            out = "0".to_string();
        }
        out
    }
}

/// Checks the `strtold` decimal syntax (digits, optional '.', optional exponent) and returns a
/// text the APFloat parser reads identically, plus whether any mantissa digit is nonzero.
fn normalise_dec(b: &[u8]) -> Option<(String, bool)> {
    let mut i = 0;
    let mut mant = String::new();
    let mut digits = 0;
    let mut nonzero = false;
    let mut dot = false;
    while let Some(&c) = b.get(i) {
        if c.is_ascii_digit() {
            digits += 1;
            nonzero |= c != b'0';
            mant.push(c as char);
        } else if c == b'.' && !dot {
            dot = true;
            mant.push('.');
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    let mut exp: i64 = 0;
    if let Some(&c) = b.get(i) {
        if c != b'e' && c != b'E' {
            return None;
        }
        i += 1;
        let mut eneg = false;
        match b.get(i) {
            Some(b'-') => {
                eneg = true;
                i += 1;
            }
            Some(b'+') => i += 1,
            _ => {}
        }
        let start = i;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                return None;
            }
            exp = (exp * 10 + i64::from(c - b'0')).min(1_000_000);
            i += 1;
        }
        if i == start {
            return None;
        }
        if eneg {
            exp = -exp;
        }
    }
    if mant.starts_with('.') {
        mant.insert(0, '0');
    }
    if mant.ends_with('.') {
        mant.push('0');
    }
    Some((format!("{}e{}", mant, exp), nonzero))
}

/// Checks the `strtold` hexadecimal syntax after "0x" (hex digits, optional '.', optional
/// binary exponent `p`) and returns an APFloat hex literal.
fn normalise_hex(b: &[u8]) -> Option<(String, bool)> {
    let mut i = 0;
    let mut mant = String::new();
    let mut digits = 0;
    let mut nonzero = false;
    let mut dot = false;
    while let Some(&c) = b.get(i) {
        if c.is_ascii_hexdigit() {
            digits += 1;
            nonzero |= c != b'0';
            mant.push(c as char);
        } else if c == b'.' && !dot {
            dot = true;
            mant.push('.');
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    let mut exp: i64 = 0;
    if let Some(&c) = b.get(i) {
        if c != b'p' && c != b'P' {
            return None;
        }
        i += 1;
        let mut eneg = false;
        match b.get(i) {
            Some(b'-') => {
                eneg = true;
                i += 1;
            }
            Some(b'+') => i += 1,
            _ => {}
        }
        let start = i;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                return None;
            }
            exp = (exp * 10 + i64::from(c - b'0')).min(1_000_000);
            i += 1;
        }
        if i == start {
            return None;
        }
        if eneg {
            exp = -exp;
        }
    }
    if mant.starts_with('.') {
        mant.insert(0, '0');
    }
    if mant.ends_with('.') {
        mant.pop();
    }
    Some((format!("0x{}p{}", mant, exp), nonzero))
}

/// Decimal text of `sig * 2^shift` (arbitrary size, little-endian u32 limbs).
fn big_shl_decimal(sig: u64, shift: usize) -> String {
    let mut limbs: Vec<u32> = vec![0; shift / 32];
    let bit = shift % 32;
    let wide = u128::from(sig) << bit;
    let mut w = wide;
    while w != 0 {
        limbs.push((w & 0xffff_ffff) as u32);
        w >>= 32;
    }
    if limbs.iter().all(|&l| l == 0) {
        return "0".to_string();
    }
    let mut chunks: Vec<u32> = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u64 = 0;
        for l in limbs.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*l);
            *l = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
    }
    let mut s = String::new();
    for (i, c) in chunks.iter().rev().enumerate() {
        if i == 0 {
            s.push_str(&c.to_string());
        } else {
            s.push_str(&format!("{:09}", c));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> Option<String> {
        let x = LongDouble::parse(a.as_bytes())?;
        let y = LongDouble::parse(b.as_bytes())?;
        let r = x.add(y);
        if r.is_nan_or_inf() {
            return None;
        }
        Some(r.to_human())
    }

    #[test]
    fn matches_redis_texts() {
        assert_eq!(incr("10.5", "0.1").as_deref(), Some("10.6"));
        assert_eq!(incr("5.0e3", "2.0e2").as_deref(), Some("5200"));
        assert_eq!(incr("1e308", "1e308").as_deref().map(str::len), Some(309));
        assert_eq!(incr("0", "0.1").as_deref(), Some("0.1"));
        assert_eq!(incr("-0.0", "-0.0").as_deref(), Some("0"));
        assert_eq!(incr("3", "-3").as_deref(), Some("0"));
        assert_eq!(incr("0x10", "0").as_deref(), Some("16"));
        assert_eq!(incr("inf", "1"), None);
        assert!(LongDouble::parse(b"nan").is_none());
        assert!(LongDouble::parse(b" 1").is_none());
        assert!(LongDouble::parse(b"1 ").is_none());
        assert!(LongDouble::parse(b"1e").is_none());
        assert!(LongDouble::parse(b".").is_none());
        assert!(LongDouble::parse(b"1e99999").is_none());
        assert!(LongDouble::parse(b"1e-99999").is_none());
        assert!(LongDouble::parse(b"0e-99999").is_some());
        assert!(LongDouble::parse(b"1.").is_some());
        assert!(LongDouble::parse(b".5").is_some());
        assert!(LongDouble::parse(b"+5").is_some());
    }
}
