//! The AOF command parser: a pure function over bytes (fuzzed by `fuzz/fuzz_targets/aof_load.rs`,
//! which includes this file by path, so it must not refer to anything else in the crate).
//!
//! An AOF is a sequence of RESP multibulk commands (`*<argc>\r\n` then `$<len>\r\n<bytes>\r\n`
//! per argument), with annotation lines starting with `#` (`#TS:<unix>\r\n` timestamps) between
//! commands. [`next_item`] returns one item at a time with the offset just past it, so the
//! loader knows the last good offset. Nothing is allocated from a length header: arguments are
//! slices of the input, and a header declaring more bytes than remain is reported as
//! truncation (the only reading consistent with a cut-off tail) unless it exceeds
//! [`MAX_BULK`], which no writer produces.

/// Largest argument accepted (Redis's `proto-max-bulk-len` maximum).
pub const MAX_BULK: u64 = 1 << 39;
/// Largest argument count accepted (a header above this is corruption, not data).
pub const MAX_ARGC: u64 = 1 << 31;
/// Longest header or annotation line accepted.
const MAX_LINE: usize = 1 << 16;

/// One item of the file.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A command, name first.
    Command(Vec<&'a [u8]>),
    /// An annotation line (without `#` and the line end), e.g. `TS:1700000000`.
    Annotation(&'a [u8]),
}

/// Why parsing stopped before the end of the input.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum ParseError {
    /// The input ends inside the item starting at `at`: a cut-off tail.
    Truncated {
        /// Offset of the incomplete item's first byte (the last good offset).
        at: usize,
    },
    /// The bytes at `at` cannot be an AOF item.
    Bad {
        /// Offset of the offending byte.
        at: usize,
        /// What is wrong.
        what: &'static str,
    },
}

/// Parses the item starting at `pos`. `Ok(None)` at the end of the input; otherwise the item
/// and the offset just past it.
pub fn next_item(buf: &[u8], pos: usize) -> Result<Option<(Item<'_>, usize)>, ParseError> {
    let Some(&first) = buf.get(pos) else {
        return Ok(None);
    };
    match first {
        b'#' => {
            let (line, next) = line(buf, pos, pos)?;
            Ok(Some((Item::Annotation(&line[1..]), next)))
        }
        b'*' => {
            let (header, mut p) = line(buf, pos, pos)?;
            let argc = number(&header[1..]).ok_or(ParseError::Bad {
                at: pos,
                what: "invalid multibulk length",
            })?;
            if !(1..=MAX_ARGC).contains(&argc) {
                return Err(ParseError::Bad {
                    at: pos,
                    what: "invalid multibulk length",
                });
            }
            // Every argument takes at least 6 bytes (`$0\r\n\r\n`): a count the rest of the
            // input cannot hold is a cut-off tail, and the vector's capacity stays bounded.
            let room = (buf.len() - p) / 6;
            if argc > room as u64 {
                // Still check the arguments that are there, so that corruption inside them
                // is not mistaken for truncation.
                check_prefix(buf, p, pos)?;
                return Err(ParseError::Truncated { at: pos });
            }
            let mut argv = Vec::with_capacity(argc as usize);
            for _ in 0..argc {
                let (arg, next) = bulk(buf, p, pos)?;
                argv.push(arg);
                p = next;
            }
            Ok(Some((Item::Command(argv), p)))
        }
        _ => Err(ParseError::Bad {
            at: pos,
            what: "expected '*' or '#'",
        }),
    }
}

/// Checks the complete arguments from `p` on (used when the input ends inside a command).
fn check_prefix(buf: &[u8], mut p: usize, item: usize) -> Result<(), ParseError> {
    loop {
        match bulk(buf, p, item) {
            Ok((_, next)) => p = next,
            Err(e) => return Err(e),
        }
    }
}

/// One `$<len>\r\n<bytes>\r\n` argument at `p` of the command starting at `item`.
fn bulk(buf: &[u8], p: usize, item: usize) -> Result<(&[u8], usize), ParseError> {
    let Some(&b) = buf.get(p) else {
        return Err(ParseError::Truncated { at: item });
    };
    if b != b'$' {
        return Err(ParseError::Bad {
            at: p,
            what: "expected '$'",
        });
    }
    let (header, start) = line(buf, p, item)?;
    let len = number(&header[1..])
        .filter(|&n| n <= MAX_BULK)
        .ok_or(ParseError::Bad {
            at: p,
            what: "invalid bulk length",
        })?;
    let rest = (buf.len() - start) as u64;
    if len > rest {
        return Err(ParseError::Truncated { at: item });
    }
    let end = start + len as usize;
    match buf.get(end..end + 2) {
        Some(b"\r\n") => Ok((&buf[start..end], end + 2)),
        Some(_) => Err(ParseError::Bad {
            at: end,
            what: "expected CRLF after the argument",
        }),
        None => {
            // What remains must be a prefix of the CRLF.
            if buf.get(end).is_some_and(|&c| c != b'\r') {
                return Err(ParseError::Bad {
                    at: end,
                    what: "expected CRLF after the argument",
                });
            }
            Err(ParseError::Truncated { at: item })
        }
    }
}

/// The line starting at `p` (without its `\r\n`) and the offset after it; `item` is where the
/// enclosing item starts (reported on truncation).
fn line(buf: &[u8], p: usize, item: usize) -> Result<(&[u8], usize), ParseError> {
    let rest = &buf[p..];
    let window = &rest[..rest.len().min(MAX_LINE)];
    match window.iter().position(|&c| c == b'\n') {
        Some(nl) if nl >= 1 && rest[nl - 1] == b'\r' => Ok((&rest[..nl - 1], p + nl + 1)),
        Some(nl) => Err(ParseError::Bad {
            at: p + nl,
            what: "line not terminated by CRLF",
        }),
        None if rest.len() >= MAX_LINE => Err(ParseError::Bad {
            at: p,
            what: "line too long",
        }),
        None => Err(ParseError::Truncated { at: item }),
    }
}

/// A non-negative decimal without sign or leading garbage.
fn number(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut n = 0u64;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(c - b'0');
    }
    Some(n)
}

/// Parses `buf` from `pos` to the end, calling `f` for each item with its start and end
/// offsets. Stops at the first error.
pub fn for_each<'a>(
    buf: &'a [u8],
    mut pos: usize,
    mut f: impl FnMut(Item<'a>, usize, usize),
) -> Result<(), ParseError> {
    while let Some((item, next)) = next_item(buf, pos)? {
        f(item, pos, next);
        pos = next;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(buf: &[u8]) -> (Vec<Vec<Vec<u8>>>, Result<(), ParseError>) {
        let mut out = Vec::new();
        let r = for_each(buf, 0, |it, _, _| {
            if let Item::Command(a) = it {
                out.push(a.iter().map(|x| x.to_vec()).collect());
            }
        });
        (out, r)
    }

    #[test]
    fn parses_commands_and_annotations() {
        let b =
            b"#TS:12\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n";
        let (cmds, r) = all(b);
        assert_eq!(r, Ok(()));
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[1], vec![b"SET".to_vec(), b"k".to_vec(), Vec::new()]);
    }

    #[test]
    fn every_cut_is_truncation_at_the_command_start() {
        let b = b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\n";
        let second = 14;
        for cut in second + 1..b.len() {
            let (cmds, r) = all(&b[..cut]);
            assert_eq!(cmds.len(), 1, "cut {cut}");
            assert_eq!(r, Err(ParseError::Truncated { at: second }), "cut {cut}");
        }
    }

    #[test]
    fn corruption_is_not_truncation() {
        let good = b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n".to_vec();
        for (i, bad) in [(0usize, b'+'), (4, b'%'), (12, b'X'), (13, b'Y'), (1, b'x')] {
            let mut b = good.clone();
            b[i] = bad;
            let (_, r) = all(&b);
            assert!(matches!(r, Err(ParseError::Bad { .. })), "{i}: {r:?}");
        }
        // A huge count or length is corruption, never an allocation.
        assert!(matches!(
            all(b"*99999999999\r\n").1,
            Err(ParseError::Bad { .. })
        ));
        assert!(matches!(
            all(b"*1\r\n$9999999999999\r\nab").1,
            Err(ParseError::Bad { .. })
        ));
    }
}
