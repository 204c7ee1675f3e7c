//! The little RESP the load generator needs: encoding commands as arrays of bulk strings, and
//! finding where one reply ends in a read buffer without building any value from it.
//!
//! The scanner is deliberately independent of the server's `ferrokv-resp` crate, so a bug in the
//! server's parser cannot hide behind the same bug in the tool that measures it.

/// Nesting depth at which [`scan_reply`] gives up (a server never sends replies this deep to the
/// commands the load generator issues).
const MAX_DEPTH: usize = 64;

/// Appends `args` as one RESP array of bulk strings, the form in which clients send commands.
pub fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    push_decimal(out, args.len() as u64);
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        push_decimal(out, a.len() as u64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends the decimal digits of `n` (no sign, no padding).
pub fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Where one complete reply ends, and whether it is an error reply (`-...` or RESP3 `!...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyInfo {
    /// Bytes the reply occupies at the start of the scanned buffer, CRLFs included.
    pub len: usize,
    /// True for a top-level simple or blob error.
    pub is_error: bool,
}

/// A byte sequence that is not RESP: the connection cannot be read any further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "protocol error: {}", self.0)
    }
}

/// Measures the first reply in `buf`: `Ok(None)` when more bytes are needed to complete it.
/// Understands RESP2 and the RESP3 types (maps, sets, pushes, attributes count as prefixes).
pub fn scan_reply(buf: &[u8]) -> Result<Option<ReplyInfo>, ProtocolError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    Ok(scan_at(buf, 0, 0)?.map(|len| ReplyInfo {
        len,
        is_error: matches!(first, b'-' | b'!'),
    }))
}

/// Index of the `\r` of the first CRLF at or after `from`.
fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    let rest = buf.get(from..)?;
    let mut i = 0;
    while let Some(p) = rest[i..].iter().position(|&b| b == b'\r') {
        let at = i + p;
        match rest.get(at + 1) {
            Some(b'\n') => return Some(from + at),
            Some(_) => i = at + 1,
            None => return None,
        }
    }
    None
}

/// A signed decimal header such as the `12` of `$12` or the `-1` of `*-1`.
fn parse_int(s: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(|| ProtocolError(format!("bad length {:?}", String::from_utf8_lossy(s))))
}

/// End offset of the reply starting at `pos`, or `None` if it is incomplete.
fn scan_at(buf: &[u8], pos: usize, depth: usize) -> Result<Option<usize>, ProtocolError> {
    if depth > MAX_DEPTH {
        return Err(ProtocolError("reply nested too deeply".into()));
    }
    let Some(&t) = buf.get(pos) else {
        return Ok(None);
    };
    let Some(eol) = line_end(buf, pos + 1) else {
        return Ok(None);
    };
    let after = eol + 2;
    match t {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Ok(Some(after)),
        b'$' | b'!' | b'=' => {
            let n = parse_int(&buf[pos + 1..eol])?;
            if n < 0 {
                return Ok(Some(after));
            }
            let end = after + n as usize + 2;
            if buf.len() < end {
                return Ok(None);
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Err(ProtocolError("bulk string not followed by CRLF".into()));
            }
            Ok(Some(end))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = parse_int(&buf[pos + 1..eol])?;
            if n < 0 {
                return Ok(Some(after));
            }
            let count = if matches!(t, b'%' | b'|') { 2 * n } else { n };
            let mut p = after;
            for _ in 0..count {
                match scan_at(buf, p, depth + 1)? {
                    Some(e) => p = e,
                    None => return Ok(None),
                }
            }
            if t == b'|' {
                // An attribute map is followed by the reply it annotates.
                return scan_at(buf, p, depth + 1);
            }
            Ok(Some(p))
        }
        other => Err(ProtocolError(format!("unexpected type byte {other:#04x}"))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn enc(args: &[&str]) -> Vec<u8> {
        let v: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let mut out = Vec::new();
        encode_command(&mut out, &v);
        out
    }

    #[test]
    fn encodes_arrays_of_bulk_strings() {
        assert_eq!(enc(&["GET", "k"]), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        assert_eq!(
            enc(&["SET", "", "0123456789"]),
            b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$10\r\n0123456789\r\n"
        );
        assert_eq!(enc(&[]), b"*0\r\n");
    }

    #[test]
    fn push_decimal_writes_plain_digits() {
        for n in [0u64, 7, 10, 12345, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn scans_every_reply_type_and_waits_for_incomplete_ones() {
        let cases: &[(&[u8], bool)] = &[
            (b"+OK\r\n", false),
            (b"-ERR nope\r\n", true),
            (b":42\r\n", false),
            (b"$5\r\nhello\r\n", false),
            (b"$-1\r\n", false),
            (b"$4\r\na\r\nb\r\n", false),
            (b"*-1\r\n", false),
            (b"*2\r\n$1\r\na\r\n:1\r\n", false),
            (b"*2\r\n*1\r\n+x\r\n$0\r\n\r\n", false),
            (b"%1\r\n+k\r\n:1\r\n", false),
            (b"_\r\n", false),
            (b"!3\r\nbad\r\n", true),
            (b"|1\r\n+a\r\n+b\r\n:5\r\n", false),
        ];
        for &(reply, err) in cases {
            let mut buf = reply.to_vec();
            buf.extend_from_slice(b"+NEXT\r\n");
            let info = scan_reply(&buf).unwrap().unwrap();
            assert_eq!(
                info.len,
                reply.len(),
                "{:?}",
                String::from_utf8_lossy(reply)
            );
            assert_eq!(info.is_error, err);
            for cut in 0..reply.len() {
                assert_eq!(
                    scan_reply(&reply[..cut]).unwrap(),
                    None,
                    "cut {cut} of {reply:?}"
                );
            }
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(scan_reply(b"hello\r\n").is_err());
        assert!(scan_reply(b"$x\r\n").is_err());
        assert!(scan_reply(b"$2\r\nabcd\r\n").is_err());
    }
}
