//! Glob-style pattern matching with the exact semantics of Redis's `stringmatchlen`.
//!
//! Used by KEYS, SCAN MATCH, CONFIG GET, PSUBSCRIBE and ACL channel/key patterns.
//!
//! Supported syntax:
//! * `*` matches any sequence (including empty), `?` matches exactly one byte;
//! * `[abc]` a set, `[^abc]` its negation, `[a-z]` a range (reversed ranges like `[z-a]` work too),
//!   `\x` inside a set is a literal `x`; a `[` without closing `]` treats the rest of the pattern
//!   as the set (Redis's quirk, reproduced byte for byte);
//! * `\x` outside a set matches `x` literally; a trailing lone `\` matches a literal `\`.
//!
//! Matching works on bytes; `nocase` folds ASCII letters only (like C `tolower` in the C locale).
//! Like Redis 7, recursion deeper than 1000 nested `*` gives up and reports "no match", and once a
//! `*` has failed to place the rest of the pattern anywhere, outer `*`s stop trying longer matches,
//! so pathological patterns cannot cause exponential backtracking.

/// Maximum recursion depth (one level per `*` being expanded) before giving up with "no match".
const MAX_NESTING: u32 = 1000;

/// Returns whether `s` matches the glob `pattern` (see the module docs for the syntax).
///
/// `nocase` makes letters match regardless of ASCII case, including inside sets and ranges.
///
/// Exactly like Redis, an empty `s` matches only an empty pattern: `glob_match(b"*", b"", _)` is
/// `false`. Redis's KEYS and SCAN treat a pattern that is exactly `*` as "everything" without
/// calling the matcher, so callers wanting that behaviour must special-case it too.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, s, nocase, &mut skip_longer, 0)
}

/// Byte at `i`, or 0 past the end: mirrors C reading the NUL terminator after the pattern.
#[inline]
fn at(p: &[u8], i: usize) -> u8 {
    p.get(i).copied().unwrap_or(0)
}

#[inline]
fn fold(c: u8, nocase: bool) -> u8 {
    if nocase {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

fn match_impl(
    pattern: &[u8],
    string: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: u32,
) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    let mut p = 0usize; // index into pattern
    let mut s = 0usize; // index into string
    let plen = pattern.len();
    let slen = string.len();

    while p < plen && s < slen {
        match pattern[p] {
            b'*' => {
                while p + 1 < plen && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == plen {
                    return true;
                }
                while s < slen {
                    if match_impl(
                        &pattern[p + 1..],
                        &string[s..],
                        nocase,
                        skip_longer,
                        nesting + 1,
                    ) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => {
                s += 1;
            }
            b'[' => {
                p += 1;
                let not = p < plen && pattern[p] == b'^';
                if not {
                    p += 1;
                }
                let c = string[s];
                let mut matched = false;
                loop {
                    let remaining = plen.saturating_sub(p);
                    if at(pattern, p) == b'\\' && remaining >= 2 {
                        p += 1;
                        if pattern[p] == c {
                            matched = true;
                        }
                    } else if p < plen && pattern[p] == b']' {
                        break;
                    } else if remaining == 0 {
                        // Unterminated set: step back so the outer advance ends the pattern.
                        p -= 1;
                        break;
                    } else if remaining >= 3 && pattern[p + 1] == b'-' {
                        let mut start = pattern[p];
                        let mut end = pattern[p + 2];
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        let (start, end, ch) = if nocase {
                            (
                                start.to_ascii_lowercase(),
                                end.to_ascii_lowercase(),
                                c.to_ascii_lowercase(),
                            )
                        } else {
                            (start, end, c)
                        };
                        p += 2;
                        if ch >= start && ch <= end {
                            matched = true;
                        }
                    } else if fold(pattern[p], nocase) == fold(c, nocase) {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s += 1;
            }
            b => {
                let lit = if b == b'\\' && plen - p >= 2 {
                    p += 1;
                    pattern[p]
                } else {
                    b
                };
                if fold(lit, nocase) != fold(string[s], nocase) {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == slen {
            while p < plen && pattern[p] == b'*' {
                p += 1;
            }
            break;
        }
    }
    p >= plen && s == slen
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }
    fn mi(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), true)
    }

    #[test]
    fn literals_and_empty() {
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("a", ""));
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abd"));
        assert!(!m("abc", "ab"));
        assert!(!m("ab", "abc"));
    }

    #[test]
    fn star() {
        // Like Redis's stringmatchlen, an empty string matches no non-empty pattern, not even
        // "*" (KEYS/SCAN special-case a lone "*" before calling the matcher).
        assert!(!m("*", ""));
        assert!(m("*", "anything"));
        assert!(!m("**", ""));
        assert!(m("a*", "a"));
        assert!(m("a*", "abc"));
        assert!(!m("a*", "ba"));
        assert!(m("*c", "abc"));
        assert!(m("a*c", "abbbc"));
        assert!(m("a*c", "ac"));
        assert!(!m("a*c", "acb"));
        assert!(m("a**c", "axc"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b*", "xxbxxaxx"));
        assert!(m("h*llo*", "hello world"));
        assert!(m("a*", "a"));
        assert!(m("a***", "a"));
    }

    #[test]
    fn question() {
        assert!(m("?", "a"));
        assert!(!m("?", ""));
        assert!(!m("?", "ab"));
        assert!(m("h?llo", "hallo"));
        assert!(m("??", "ab"));
        assert!(m("*?", "a"));
        assert!(!m("*??", "a"));
    }

    #[test]
    fn sets_and_ranges() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        // reversed range
        assert!(m("[z-a]", "m"));
        assert!(m("[9-0]", "5"));
        assert!(!m("[^a-z]", "q"));
        assert!(m("[^a-z]", "Q"));
        // escapes inside sets
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        assert!(m("[a\\-z]", "-"));
        assert!(!m("[a\\-z]", "b"));
        // ']' first is the end of an empty set (nothing matches)
        assert!(!m("[]", "]"));
        assert!(!m("[]a", "a"));
    }

    #[test]
    fn unterminated_and_odd_sets() {
        // '[' alone never matches.
        assert!(!m("[", "["));
        assert!(!m("[", "a"));
        // Unterminated set: the rest of the pattern is the set.
        assert!(m("[abc", "a"));
        assert!(m("[abc", "c"));
        assert!(!m("[abc", "ab"));
        assert!(!m("[abc", "d"));
        // "[^" matches any single byte (negated empty set).
        assert!(m("[^", "x"));
        assert!(!m("[^", ""));
        assert!(!m("[^", "xy"));
        // "[a-]" is a range from ']' to 'a' (Redis quirk), not {a, -}.
        assert!(m("[a-]", "a"));
        assert!(m("[a-]", "_"));
        assert!(m("[a-]", "]"));
        assert!(!m("[a-]", "-"));
        assert!(!m("[a-]", "b"));
        // "[-a]" is the set {-, a}
        assert!(m("[-a]", "-"));
        assert!(m("[-a]", "a"));
        // Unterminated range at end
        assert!(m("[a-", "a"));
        assert!(m("[a-", "-"));
    }

    #[test]
    fn backslash() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("\\?", "?"));
        assert!(!m("\\?", "x"));
        assert!(m("\\[a]", "[a]"));
        assert!(m("a\\b", "ab"));
        // trailing lone backslash matches a literal backslash
        assert!(m("a\\", "a\\"));
        assert!(!m("a\\", "a"));
        assert!(m("\\", "\\"));
        assert!(m("\\\\", "\\"));
        // '[\' : backslash at end of unterminated set is literal
        assert!(m("[\\", "\\"));
    }

    #[test]
    fn nocase() {
        assert!(mi("HELLO", "hello"));
        assert!(mi("h*O", "HellO"));
        assert!(mi("[A-C]", "b"));
        assert!(mi("[a-c]", "B"));
        assert!(mi("[^A]", "b"));
        assert!(!mi("[^A]", "a"));
        assert!(mi("[xY]", "y"));
        assert!(!m("HELLO", "hello"));
        assert!(!m("[A-C]", "b"));
    }

    #[test]
    fn binary_bytes() {
        assert!(glob_match(b"a\x00*", b"a\x00\xff", false));
        assert!(glob_match(b"[\x80-\xff]", b"\x90", false));
        assert!(!glob_match(b"[\x80-\xff]", b"\x10", false));
    }

    #[test]
    fn pathological_patterns_terminate() {
        let s = "a".repeat(60);
        let p = format!("{}b", "a*".repeat(30));
        assert!(!m(&p, &s));
        let p2 = "*".repeat(20) + "a*".repeat(20).as_str();
        assert!(m(&p2, &s));
        // Deep nesting gives up (no match) rather than recursing unbounded.
        let deep = "*a".repeat(1100);
        let s2 = "a".repeat(1100);
        assert!(!m(&deep, &s2));
        let shallow = "*a".repeat(900);
        let s3 = "a".repeat(900);
        assert!(m(&shallow, &s3));
    }
}
