//! Low-level text helpers shared by the config loader, CONFIG SET and CONFIG REWRITE. Redis's
//! argument splitting (`sdssplitargs`), quoting (`sdscatrepr`) and strict integer parsing
//! (`string2ll`) are the crate-wide ones, re-exported here; memory-unit parsing (`memtoull`) and
//! the rest are config-specific.

pub use crate::args::parse_i64_strict as string2ll;
pub use crate::util::repr;
pub use ferrokv_resp::split_words as split_args;

/// Parses a memory value like Redis's `memtoull`: decimal digits followed by an optional
/// case-insensitive unit `b`, `k` (1000), `kb` (1024), `m`, `mb`, `g`, `gb`. Quirks kept:
/// an empty number counts as 0 (`""`, `"k"`), leading zeros are fine, an overflowing number
/// saturates to `u64::MAX` (like `strtoull`), and an overflowing product is an error.
pub fn memtoull(s: &[u8]) -> Option<u64> {
    if s.first() == Some(&b'-') {
        return None;
    }
    let ndigits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let unit = std::str::from_utf8(&s[ndigits..])
        .ok()?
        .to_ascii_lowercase();
    let mul: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if ndigits >= 128 {
        return None;
    }
    let mut val: u64 = 0;
    for &d in &s[..ndigits] {
        val = val
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .unwrap_or(u64::MAX);
    }
    val.checked_mul(mul)
}

/// Formats a byte count the way CONFIG REWRITE writes memory values: `gb`/`mb`/`kb` when
/// exactly divisible (binary units), plain bytes otherwise.
pub fn format_memory(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    const GB: u64 = 1024 * 1024 * 1024;
    if bytes != 0 && bytes.is_multiple_of(GB) {
        format!("{}gb", bytes / GB)
    } else if bytes != 0 && bytes.is_multiple_of(MB) {
        format!("{}mb", bytes / MB)
    } else if bytes != 0 && bytes.is_multiple_of(KB) {
        format!("{}kb", bytes / KB)
    } else {
        bytes.to_string()
    }
}

/// C `isspace` in the "C" locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// `strtoll(s, &end, 10)` followed by "end must be the terminator": optional leading spaces
/// and sign, at least zero digits (an empty string parses as 0, as in C).
pub fn strtoll_full(s: &[u8]) -> Option<i64> {
    let t = s
        .iter()
        .position(|c| !is_space(*c))
        .map_or(&s[s.len()..], |p| &s[p..]);
    let (neg, d) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if d.iter().any(|c| !c.is_ascii_digit()) {
        return None;
    }
    if d.is_empty() {
        // strtoll with no digits leaves end at the start: only OK if the whole input was empty.
        return if s.is_empty() { Some(0) } else { None };
    }
    let mut v: i128 = 0;
    for &c in d {
        v = (v * 10 + i128::from(c - b'0')).min(i128::from(i64::MAX) + 1);
    }
    let v = if neg { -v } else { v };
    Some(v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sa(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|x| String::from_utf8_lossy(&x).into_owned())
                .collect()
        })
    }

    #[test]
    fn split_args_cases() {
        assert_eq!(sa("port 6379"), Some(vec!["port".into(), "6379".into()]));
        assert_eq!(sa("  a   b  "), Some(vec!["a".into(), "b".into()]));
        assert_eq!(sa("save \"\""), Some(vec!["save".into(), "".into()]));
        assert_eq!(
            sa("x \"a b\\n\\x41\" 'c\\'d'"),
            Some(vec!["x".into(), "a b\nA".into(), "c'd".into()])
        );
        assert_eq!(sa("x \"abc"), None);
        assert_eq!(sa("x 'abc"), None);
        assert_eq!(sa("x \"a\"b"), None);
        assert_eq!(sa(""), Some(vec![]));
        assert_eq!(sa("a\"b\" c"), Some(vec!["ab".into(), "c".into()]));
    }

    #[test]
    fn repr_cases() {
        assert_eq!(repr(b"a b"), "\"a b\"");
        assert_eq!(repr(b"q\"\\\n\x01"), "\"q\\\"\\\\\\n\\x01\"");
    }

    #[test]
    fn string2ll_cases() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(string2ll(b"9223372036854775808"), None);
        for bad in ["", "+1", "01", "-0", " 1", "1 ", "1a", "-", "0x1"] {
            assert_eq!(string2ll(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn memtoull_cases() {
        assert_eq!(memtoull(b"100"), Some(100));
        assert_eq!(memtoull(b"1k"), Some(1000));
        assert_eq!(memtoull(b"1K"), Some(1000));
        assert_eq!(memtoull(b"1kb"), Some(1024));
        assert_eq!(memtoull(b"1Kb"), Some(1024));
        assert_eq!(memtoull(b"2m"), Some(2_000_000));
        assert_eq!(memtoull(b"2MB"), Some(2 * 1024 * 1024));
        assert_eq!(memtoull(b"1g"), Some(1_000_000_000));
        assert_eq!(memtoull(b"1gB"), Some(1 << 30));
        assert_eq!(memtoull(b"2B"), Some(2));
        assert_eq!(memtoull(b"007"), Some(7));
        assert_eq!(memtoull(b""), Some(0));
        assert_eq!(memtoull(b"k"), Some(0));
        assert_eq!(memtoull(b"99999999999999999999"), Some(u64::MAX));
        assert_eq!(memtoull(b"99999999999999999999k"), None);
        for bad in ["-1", "-0", "+5", " 5", "5 ", "1.5k", "0x10", "1t", "1kbb"] {
            assert_eq!(memtoull(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn format_memory_cases() {
        assert_eq!(format_memory(0), "0");
        assert_eq!(format_memory(1000), "1000");
        assert_eq!(format_memory(1024), "1kb");
        assert_eq!(format_memory(3 << 20), "3mb");
        assert_eq!(format_memory(1 << 30), "1gb");
        assert_eq!(format_memory(1_000_000_000), "1000000000");
    }

    #[test]
    fn strtoll_full_cases() {
        assert_eq!(strtoll_full(b"10"), Some(10));
        assert_eq!(strtoll_full(b"-1"), Some(-1));
        assert_eq!(strtoll_full(b""), Some(0));
        assert_eq!(strtoll_full(b"x"), None);
        assert_eq!(strtoll_full(b"1 "), None);
    }
}
