//! Text of a double reply, as Redis 7.2+ prints it (`d2string`).
//!
//! Redis 7.2 (PR #10587) replaced `snprintf("%.17g")` by the `fpconv_dtoa`
//! formatter (Grisu2 shortest round-trip digits). The exact rules of
//! `d2string` + `fpconv_dtoa`, reproduced here:
//!
//! 1. `nan`, `inf`, `-inf`; zero prints `0` or `-0` (negative zero).
//! 2. Integral values with `|d| <= 2^62` (`LLONG_MAX/2`) print as integers
//!    (`3`, not `3.0`; `-1000000`).
//! 3. Otherwise take the shortest digit string `D` (n digits) with
//!    `d = D * 10^K`; let `E = |K + n - 1|` (the decimal exponent):
//!    * `K >= 0` and `E < n + 7`: plain integer, `D` followed by `K` zeros
//!      (`123456789012345680000` for 1.2345678901234568e20);
//!    * `K < 0` and (`K > -7` or `E < 4`): plain decimal (`0.1`,
//!      `0.000015` for 1.5e-5, `3.14`, `1.2345678901234567`);
//!    * else scientific `d.ddde+E` / `d.ddde-E` with the exponent printed
//!      without padding (`1e+20`, `1.5e-7`, `1.2345678901234567e+4`,
//!      `1e+300`, `5e-324`).
//!
//! Digits come from `ryu` (shortest round-trip). Grisu2 is also round-trip
//! exact but, for a tiny fraction of values (~0.1%), emits one more digit
//! than the shortest; for those rare values the text here can be shorter than
//! Redis's while denoting the same double.

/// `LLONG_MAX / 2` as Redis's `double2ll` compares it (as a double: 2^62).
const LL_SAFE: f64 = (i64::MAX / 2) as f64;

/// Append the text Redis 7.2+ uses for a double reply (see module docs for
/// the exact notation rules): integers without `.0`, shortest round-trip
/// digits, scientific notation only outside the fpconv plain ranges,
/// `inf`/`-inf`/`nan`, `-0` for negative zero.
pub fn format_double(d: f64, out: &mut Vec<u8>) {
    if d.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if d.is_infinite() {
        out.extend_from_slice(if d < 0.0 { b"-inf" } else { b"inf" });
        return;
    }
    if d == 0.0 {
        out.extend_from_slice(if d.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    if (-LL_SAFE..=LL_SAFE).contains(&d) && d.trunc() == d {
        let mut ib = itoa::Buffer::new();
        out.extend_from_slice(ib.format(d as i64).as_bytes());
        return;
    }
    let (digits, k) = shortest_digits(d.abs());
    if d.is_sign_negative() {
        out.push(b'-');
    }
    emit(&digits, k, out);
}

/// Shortest round-trip digits `D` (no leading/trailing zeros) and exponent
/// `K` such that `v = D * 10^K`, for a finite positive `v`.
fn shortest_digits(v: f64) -> (Vec<u8>, i32) {
    let mut rb = ryu::Buffer::new();
    let text = rb.format_finite(v).as_bytes();
    let (mantissa, exp) = match text.iter().position(|&c| c == b'e' || c == b'E') {
        Some(i) => {
            let e = text.get(i + 1..).unwrap_or(&[]);
            let (neg, e) = match e.split_first() {
                Some((b'-', rest)) => (true, rest),
                Some((b'+', rest)) => (false, rest),
                _ => (false, e),
            };
            let mut n: i32 = 0;
            for &c in e {
                n = n.saturating_mul(10).saturating_add(i32::from(c - b'0'));
            }
            (text.get(..i).unwrap_or(&[]), if neg { -n } else { n })
        }
        None => (text, 0),
    };
    let mut digits = Vec::with_capacity(24);
    let mut before_point: Option<i32> = None;
    for &c in mantissa {
        if c == b'.' {
            before_point = Some(digits.len() as i32);
        } else {
            digits.push(c);
        }
    }
    let total = digits.len() as i32;
    let point = before_point.unwrap_or(total);
    let mut k = point - total + exp;
    // strip trailing zeros (each one moves into the exponent)
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
        k += 1;
    }
    // strip leading zeros (value unchanged)
    let lead = digits
        .iter()
        .take_while(|&&c| c == b'0')
        .count()
        .min(digits.len().saturating_sub(1));
    digits.drain(..lead);
    (digits, k)
}

/// fpconv's `emit_digits` notation rules (see module docs).
fn emit(digits: &[u8], k: i32, out: &mut Vec<u8>) {
    let n = digits.len() as i32;
    let exp = (k + n - 1).abs();
    if k >= 0 && exp < n + 7 {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', k as usize));
        return;
    }
    if k < 0 && (k > -7 || exp < 4) {
        let offset = n + k; // n - |k|
        if offset <= 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-offset) as usize));
            out.extend_from_slice(digits);
        } else {
            let (int_part, frac_part) = digits.split_at((offset as usize).min(digits.len()));
            out.extend_from_slice(int_part);
            out.push(b'.');
            out.extend_from_slice(frac_part);
        }
        return;
    }
    let (first, rest) = digits.split_first().unwrap_or((&b'0', &[]));
    out.push(*first);
    if !rest.is_empty() {
        out.push(b'.');
        out.extend_from_slice(rest);
    }
    out.push(b'e');
    out.push(if k + n - 1 < 0 { b'-' } else { b'+' });
    let mut ib = itoa::Buffer::new();
    out.extend_from_slice(ib.format(exp).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::format_double;

    fn f(d: f64) -> String {
        let mut v = Vec::new();
        format_double(d, &mut v);
        String::from_utf8(v).expect("ascii")
    }

    #[test]
    fn specials() {
        assert_eq!(f(f64::NAN), "nan");
        assert_eq!(f(-f64::NAN), "nan");
        assert_eq!(f(f64::INFINITY), "inf");
        assert_eq!(f(f64::NEG_INFINITY), "-inf");
        assert_eq!(f(0.0), "0");
        assert_eq!(f(-0.0), "-0");
    }

    #[test]
    fn integers() {
        assert_eq!(f(3.0), "3");
        assert_eq!(f(-1000000.0), "-1000000");
        assert_eq!(f(1e15), "1000000000000000");
        assert_eq!(f(4611686018427387904.0), "4611686018427387904");
        // beyond 2^62: fpconv rules
        assert_eq!(f(1e19), "1e+19");
        assert_eq!(f(1e20), "1e+20");
        assert_eq!(f(-1e20), "-1e+20");
        assert_eq!(f(123456789012345680000.0), "123456789012345680000");
        assert_eq!(f(4.7e18), "4.7e+18");
    }

    #[test]
    fn fractions() {
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(1.5), "1.5");
        assert_eq!(f(-2.5), "-2.5");
        assert_eq!(f(3.25), "3.25");
        assert_eq!(f(2.5e-3), "0.0025");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(1.5e-5), "0.000015");
        assert_eq!(f(1e-6), "0.000001");
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(1.5e-7), "1.5e-7");
        assert_eq!(f(1.2345678901234567), "1.2345678901234567");
        assert_eq!(f(1234567.5), "1234567.5");
        assert_eq!(f(12345.678901234567), "1.2345678901234567e+4");
        assert_eq!(f(0.30000000000000004), "0.30000000000000004");
        assert_eq!(f(1e300), "1e+300");
        assert_eq!(f(1.7976931348623157e308), "1.7976931348623157e+308");
        assert_eq!(f(5e-324), "5e-324");
        assert_eq!(f(-1.5e-300), "-1.5e-300");
        assert_eq!(f(1e100), "1e+100");
    }

    #[test]
    fn round_trips() {
        let mut x = 1.0e-310f64;
        while x < 1e300 {
            for v in [x, -x, x * 1.2345678901, x / 3.0] {
                let s = f(v);
                let back: f64 = s.parse().expect("parses");
                assert_eq!(back, v, "{s}");
            }
            x *= 7.77;
        }
    }
}
