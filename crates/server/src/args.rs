//! Typed parsing of command arguments, with Redis's exact error texts.
//!
//! Numbers are parsed as Redis parses them: integers with `string2ll` rules (no '+', no spaces,
//! no leading zeros except "0"), doubles with `strtod` rules minus the things Redis rejects
//! (leading/trailing space, "nan", empty input).

use crate::errors::{self, CmdError};
use bytes::Bytes;

pub use ferrokv_engine::entry::parse_i64_strict;

/// Parses an i64 or fails with "value is not an integer or out of range".
pub fn int(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64_strict(arg).ok_or(errors::NOT_INTEGER)
}

/// Parses an i64 that must be >= 0, with Redis's "must be positive" error.
pub fn non_negative(arg: &[u8]) -> Result<i64, CmdError> {
    match int(arg)? {
        v if v < 0 => Err(errors::NOT_POSITIVE),
        v => Ok(v),
    }
}

/// Parses a double as Redis's `string2d`/`getDoubleFromObject` does; `None` on bad input.
/// Accepts "inf", "+inf", "-inf", "infinity" (any case); rejects "nan", spaces and empty input.
pub fn parse_f64(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.is_empty() || s.len() > 5000 {
        return None;
    }
    let first = s.as_bytes().first().copied()?;
    let last = s.as_bytes().last().copied()?;
    if first.is_ascii_whitespace() || last.is_ascii_whitespace() {
        return None;
    }
    let v = if let Some(hex) = strip_hex(s) {
        hex
    } else {
        s.parse::<f64>().ok()?
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

/// strtod also reads hexadecimal floats ("0x1p3"); Redis inherits that. Integers-only hex here.
fn strip_hex(s: &str) -> Option<f64> {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let digits = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))?;
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut v = 0f64;
    for c in digits.bytes() {
        v = v * 16.0 + f64::from((c as char).to_digit(16)?);
    }
    Some(if neg { -v } else { v })
}

/// Parses a double or fails with "value is not a valid float".
pub fn float(arg: &[u8]) -> Result<f64, CmdError> {
    parse_f64(arg).ok_or(errors::NOT_FLOAT)
}

/// Parses a blocking command's timeout in seconds (BLPOP, BZPOPMIN, ...) as Redis's
/// `getTimeoutFromObjectOrReply` does: a non-negative decimal (fractions allowed); returns the
/// absolute deadline in unix ms, or `None` for 0 (block forever).
pub fn timeout(arg: &[u8], now_ms: i64) -> Result<Option<i64>, CmdError> {
    let secs = parse_f64(arg).ok_or(errors::TIMEOUT_NOT_FLOAT)?;
    let ms = secs * 1000.0;
    if ms > i64::MAX as f64 {
        return Err(errors::TIMEOUT_OUT_OF_RANGE);
    }
    let ms = ms.ceil() as i64;
    if ms < 0 {
        return Err(errors::TIMEOUT_NEGATIVE);
    }
    if ms == 0 {
        return Ok(None);
    }
    if ms > i64::MAX - now_ms {
        return Err(errors::TIMEOUT_OUT_OF_RANGE);
    }
    Ok(Some(now_ms + ms))
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
#[inline]
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// Lossy text of an argument for messages.
pub fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

/// A cursor over a command's arguments (after the command name), for option parsing.
pub struct ArgCursor<'a> {
    args: &'a [Bytes],
    pos: usize,
}

impl<'a> ArgCursor<'a> {
    /// Starts at argument index `pos` of the full argv.
    pub fn new(args: &'a [Bytes], pos: usize) -> Self {
        ArgCursor { args, pos }
    }

    /// The next argument, if any.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<&'a Bytes> {
        let a = self.args.get(self.pos)?;
        self.pos += 1;
        Some(a)
    }

    /// The next argument, or a syntax error when missing.
    pub fn required(&mut self) -> Result<&'a Bytes, CmdError> {
        self.next().ok_or(errors::SYNTAX)
    }

    /// True when no argument remains.
    pub fn done(&self) -> bool {
        self.pos >= self.args.len()
    }

    /// Number of arguments left.
    pub fn remaining(&self) -> usize {
        self.args.len().saturating_sub(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_follow_redis_rules() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        for bad in [&b""[..], b" 1", b"1 ", b"nan", b"abc", b"1.2.3"] {
            assert_eq!(parse_f64(bad), None, "{:?}", bad);
        }
    }
}
