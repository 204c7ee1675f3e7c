//! Small shared helpers: Redis's strict integer parsing and score text.

/// Parses `s` as Redis's `string2ll` does: optional `-`, decimal digits, no
/// leading zeros (except "0" itself), no "-0", no spaces, fits in `i64`.
/// Only such strings may be stored in integer encodings without changing
/// what a client reads back.
pub fn parse_canonical_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let digit = i64::from(d - b'0');
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(digit)?
        } else {
            v.checked_add(digit)?
        };
    }
    Some(v)
}

/// Parses a score written as text (old ZSET encoding, ziplist/listpack
/// entries): decimal or exponent notation, `inf`/`-inf`. NaN is rejected, as
/// Redis refuses NaN scores when loading.
pub fn parse_score(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    let v: f64 = text.trim().parse().ok()?;
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// Text for a score stored in a listpack/ziplist as a string (non-integral
/// values): the shortest representation that reads back as the same double.
pub fn score_text(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-5..1e17).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn canonical_integers() {
        assert_eq!(parse_canonical_i64(b"0"), Some(0));
        assert_eq!(parse_canonical_i64(b"-5"), Some(-5));
        assert_eq!(parse_canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_canonical_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1.0",
        ] {
            assert_eq!(parse_canonical_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn scores() {
        for v in [
            0.1,
            -2.5,
            1e300,
            3.0e-10,
            12345.678,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(parse_score(score_text(v).as_bytes()), Some(v));
        }
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b"abc"), None);
    }
}
