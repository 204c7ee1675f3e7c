//! RESP2/RESP3 reply values as a test sees them, and an independent parser for them.
//!
//! This parser is written separately from `ferrokv-resp` on purpose: a bug shared by the server's
//! writer and the test's reader would otherwise cancel out. It is strict: anything that is not a
//! well-formed reply (missing `\r\n`, bad length, unknown type byte) is reported as an error rather
//! than guessed at, so a malformed reply fails the test that received it.

use std::fmt;

/// One parsed reply, covering every RESP2 and RESP3 type that a Redis server sends.
///
/// RESP2 `$-1` and RESP3 `_` both parse to [`Value::Null`]; RESP2 `*-1` parses to
/// [`Value::NullArray`]. A RESP3 blob error (`!`) parses to [`Value::Error`] like a simple error.
#[derive(Clone, PartialEq)]
pub enum Value {
    /// `+text` simple string.
    Simple(String),
    /// `-text` simple error or `!len` blob error; the text without the leading `-`.
    Error(String),
    /// `:n` integer.
    Int(i64),
    /// `$len` bulk string.
    Bulk(Vec<u8>),
    /// `$-1` (RESP2 null bulk) or `_` (RESP3 null).
    Null,
    /// `*n` array.
    Array(Vec<Value>),
    /// `%n` RESP3 map, pairs in wire order.
    Map(Vec<(Value, Value)>),
    /// `~n` RESP3 set, elements in wire order.
    Set(Vec<Value>),
    /// `>n` RESP3 push message (pub/sub, invalidation, monitor).
    Push(Vec<Value>),
    /// `,text` RESP3 double, kept as the exact text the server wrote (`inf`, `-inf`, `nan`, `1.5`).
    Double(String),
    /// `#t` / `#f` RESP3 boolean.
    Bool(bool),
    /// `(digits` RESP3 big number, as text.
    BigNumber(String),
    /// `=len` RESP3 verbatim string: the 3-letter format (`txt`, `mkd`) and the payload after `fmt:`.
    Verbatim(String, Vec<u8>),
    /// `*-1` RESP2 null array (e.g. a timed-out BLPOP or an aborted EXEC).
    NullArray,
    /// `|n` RESP3 attribute map followed by the reply it annotates (both are one reply on the wire).
    Attribute(Vec<(Value, Value)>, Box<Value>),
}

impl Value {
    /// True for [`Value::Error`].
    pub fn is_error(&self) -> bool {
        matches!(self, Value::Error(_))
    }

    /// The error text (without `-`) if this is an error.
    pub fn error_text(&self) -> Option<&str> {
        match self {
            Value::Error(e) => Some(e),
            _ => None,
        }
    }

    /// The integer if this is [`Value::Int`].
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The raw bytes of a bulk, simple, verbatim, double or big-number reply.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bulk(b) | Value::Verbatim(_, b) => Some(b),
            Value::Simple(s) | Value::Double(s) | Value::BigNumber(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// Like [`Value::as_bytes`] but only when the bytes are valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The elements of an array, set or push reply (a map is not included: use [`Value::as_map`]).
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(v) | Value::Set(v) | Value::Push(v) => Some(v),
            _ => None,
        }
    }

    /// The pairs of a RESP3 map.
    pub fn as_map(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Builds a bulk string value from text (handy for expected values in assertions).
    pub fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    /// Serialises the value back to RESP bytes (RESP3 markers for RESP3 types, `_` for
    /// [`Value::Null`], `*-1` for [`Value::NullArray`], `-` for every error).
    ///
    /// For a reply that used neither a blob error nor a RESP2 null bulk, `parse` then `encode`
    /// gives the original bytes back; the differential runner uses the encoding as a canonical
    /// form when it has to compare normalised or reordered replies.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        fn head(out: &mut Vec<u8>, marker: u8, n: usize) {
            out.push(marker);
            out.extend_from_slice(n.to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        fn line(out: &mut Vec<u8>, marker: u8, text: &[u8]) {
            out.push(marker);
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
        match self {
            Value::Simple(s) => line(out, b'+', s.as_bytes()),
            Value::Error(s) => line(out, b'-', s.as_bytes()),
            Value::Int(n) => line(out, b':', n.to_string().as_bytes()),
            Value::Bulk(b) => {
                head(out, b'$', b.len());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Value::Null => out.extend_from_slice(b"_\r\n"),
            Value::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Value::Array(v) | Value::Set(v) | Value::Push(v) => {
                let marker = match self {
                    Value::Array(_) => b'*',
                    Value::Set(_) => b'~',
                    _ => b'>',
                };
                head(out, marker, v.len());
                for e in v {
                    e.encode_into(out);
                }
            }
            Value::Map(m) => {
                head(out, b'%', m.len());
                for (k, v) in m {
                    k.encode_into(out);
                    v.encode_into(out);
                }
            }
            Value::Double(s) => line(out, b',', s.as_bytes()),
            Value::Bool(b) => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Value::BigNumber(s) => line(out, b'(', s.as_bytes()),
            Value::Verbatim(f, b) => {
                head(out, b'=', b.len() + 4);
                out.extend_from_slice(f.as_bytes());
                out.push(b':');
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Value::Attribute(attrs, v) => {
                head(out, b'|', attrs.len());
                for (k, a) in attrs {
                    k.encode_into(out);
                    a.encode_into(out);
                }
                v.encode_into(out);
            }
        }
    }
}

impl fmt::Debug for Value {
    /// Prints byte strings escaped (`"a\r\n"`) rather than as lists of numbers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Simple(s) => write!(f, "Simple({s:?})"),
            Value::Error(s) => write!(f, "Error({s:?})"),
            Value::Int(n) => write!(f, "Int({n})"),
            Value::Bulk(b) => write!(f, "Bulk(\"{}\")", escape(b)),
            Value::Null => write!(f, "Null"),
            Value::NullArray => write!(f, "NullArray"),
            Value::Array(v) => f.debug_tuple("Array").field(v).finish(),
            Value::Set(v) => f.debug_tuple("Set").field(v).finish(),
            Value::Push(v) => f.debug_tuple("Push").field(v).finish(),
            Value::Map(m) => f.debug_tuple("Map").field(m).finish(),
            Value::Double(s) => write!(f, "Double({s})"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::BigNumber(s) => write!(f, "BigNumber({s})"),
            Value::Verbatim(k, b) => write!(f, "Verbatim({k}, \"{}\")", escape(b)),
            Value::Attribute(a, v) => f.debug_tuple("Attribute").field(a).field(v).finish(),
        }
    }
}

/// Renders bytes for a failure message: printable ASCII as is, `\r`, `\n`, `\t`, `\\`, `\"`
/// escaped, everything else as `\xNN`, so two replies that differ only in invisible bytes
/// still look different.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// Parses one complete reply at the start of `bytes`, returning it and the number of bytes it
/// used. `None` when the bytes are incomplete *or* malformed; use [`parse_reply`] to tell the two
/// apart.
pub fn parse_value(bytes: &[u8]) -> Option<(Value, usize)> {
    parse_reply(bytes).ok().flatten()
}

/// Parses one reply at the start of `bytes`: `Ok(Some((value, used)))` when complete,
/// `Ok(None)` when more bytes are needed, `Err(description)` when the bytes cannot be the start
/// of a valid reply.
pub fn parse_reply(bytes: &[u8]) -> Result<Option<(Value, usize)>, String> {
    let mut p = Parser { buf: bytes, pos: 0 };
    match p.value(0) {
        Ok(v) => Ok(Some((v, p.pos))),
        Err(Incomplete::More) => Ok(None),
        Err(Incomplete::Bad(e)) => Err(e),
    }
}

enum Incomplete {
    More,
    Bad(String),
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// Nesting limit: deeper replies are treated as malformed rather than risking a stack overflow.
const MAX_DEPTH: usize = 512;

impl Parser<'_> {
    fn bad<T>(&self, what: &str) -> Result<T, Incomplete> {
        Err(Incomplete::Bad(format!("{what} at byte {}", self.pos)))
    }

    /// The line starting at `pos` (without `\r\n`), advancing past it.
    fn line(&mut self) -> Result<&[u8], Incomplete> {
        let rest = &self.buf[self.pos..];
        let Some(i) = rest.iter().position(|&b| b == b'\n') else {
            return Err(Incomplete::More);
        };
        if i == 0 || rest[i - 1] != b'\r' {
            return self.bad("line not terminated by \\r\\n");
        }
        let start = self.pos;
        self.pos += i + 1;
        Ok(&self.buf[start..start + i - 1])
    }

    fn text(&mut self) -> Result<String, Incomplete> {
        let l = self.line()?;
        match std::str::from_utf8(l) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => self.bad("non-UTF-8 text in a line reply"),
        }
    }

    fn int(&mut self) -> Result<i64, Incomplete> {
        let s = self.text()?;
        match s.parse::<i64>() {
            Ok(n) if !s.starts_with('+') => Ok(n),
            _ => self.bad(&format!("invalid integer {s:?}")),
        }
    }

    fn len(&mut self) -> Result<Option<usize>, Incomplete> {
        let n = self.int()?;
        if n == -1 {
            return Ok(None);
        }
        match usize::try_from(n) {
            Ok(n) => Ok(Some(n)),
            Err(_) => self.bad(&format!("invalid length {n}")),
        }
    }

    /// `len` bytes followed by `\r\n`.
    fn blob(&mut self, len: usize) -> Result<Vec<u8>, Incomplete> {
        let end = self.pos.checked_add(len).and_then(|e| e.checked_add(2));
        let Some(end) = end else {
            return self.bad("length overflow");
        };
        if self.buf.len() < end {
            return Err(Incomplete::More);
        }
        if &self.buf[end - 2..end] != b"\r\n" {
            self.pos = end - 2;
            return self.bad("blob not followed by \\r\\n");
        }
        let data = self.buf[self.pos..end - 2].to_vec();
        self.pos = end;
        Ok(data)
    }

    fn items(&mut self, n: usize, depth: usize) -> Result<Vec<Value>, Incomplete> {
        // Do not trust `n` for the allocation: a corrupt header must not allocate gigabytes.
        let mut v = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            v.push(self.value(depth + 1)?);
        }
        Ok(v)
    }

    fn pairs(&mut self, n: usize, depth: usize) -> Result<Vec<(Value, Value)>, Incomplete> {
        let mut v = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let k = self.value(depth + 1)?;
            let val = self.value(depth + 1)?;
            v.push((k, val));
        }
        Ok(v)
    }

    fn value(&mut self, depth: usize) -> Result<Value, Incomplete> {
        if depth > MAX_DEPTH {
            return self.bad("reply nested too deeply");
        }
        let Some(&marker) = self.buf.get(self.pos) else {
            return Err(Incomplete::More);
        };
        self.pos += 1;
        match marker {
            b'+' => Ok(Value::Simple(self.text()?)),
            b'-' => Ok(Value::Error(self.text()?)),
            b':' => Ok(Value::Int(self.int()?)),
            b'$' => match self.len()? {
                None => Ok(Value::Null),
                Some(n) => Ok(Value::Bulk(self.blob(n)?)),
            },
            b'*' => match self.len()? {
                None => Ok(Value::NullArray),
                Some(n) => Ok(Value::Array(self.items(n, depth)?)),
            },
            b'~' | b'>' => match self.len()? {
                None => self.bad("negative aggregate length"),
                Some(n) => {
                    let items = self.items(n, depth)?;
                    Ok(if marker == b'~' {
                        Value::Set(items)
                    } else {
                        Value::Push(items)
                    })
                }
            },
            b'%' | b'|' => match self.len()? {
                None => self.bad("negative map length"),
                Some(n) => {
                    let pairs = self.pairs(n, depth)?;
                    if marker == b'%' {
                        Ok(Value::Map(pairs))
                    } else {
                        let inner = self.value(depth + 1)?;
                        Ok(Value::Attribute(pairs, Box::new(inner)))
                    }
                }
            },
            b'_' => {
                let l = self.line()?;
                if !l.is_empty() {
                    return self.bad("RESP3 null with a payload");
                }
                Ok(Value::Null)
            }
            b'#' => match self.line()? {
                b"t" => Ok(Value::Bool(true)),
                b"f" => Ok(Value::Bool(false)),
                _ => self.bad("invalid boolean"),
            },
            b',' => Ok(Value::Double(self.text()?)),
            b'(' => {
                let s = self.text()?;
                let digits = s.strip_prefix('-').unwrap_or(&s);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return self.bad(&format!("invalid big number {s:?}"));
                }
                Ok(Value::BigNumber(s))
            }
            b'!' => match self.len()? {
                None => self.bad("negative blob error length"),
                Some(n) => {
                    let b = self.blob(n)?;
                    Ok(Value::Error(String::from_utf8_lossy(&b).into_owned()))
                }
            },
            b'=' => match self.len()? {
                None => self.bad("negative verbatim length"),
                Some(n) => {
                    let b = self.blob(n)?;
                    if b.len() < 4 || b[3] != b':' {
                        return self.bad("verbatim string without a 3-byte format prefix");
                    }
                    let fmt = String::from_utf8_lossy(&b[..3]).into_owned();
                    Ok(Value::Verbatim(fmt, b[4..].to_vec()))
                }
            },
            other => {
                self.pos -= 1;
                self.bad(&format!("unknown reply type byte 0x{other:02x}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_vs_bad() {
        assert_eq!(parse_reply(b"$3\r\nab"), Ok(None));
        assert_eq!(parse_reply(b""), Ok(None));
        assert!(parse_reply(b"$3\r\nabcd\r\n").is_err());
        assert!(parse_reply(b"?x\r\n").is_err());
        assert!(parse_reply(b":12\n").is_err());
    }
}
