//! Protocol-aware reply writer (server -> client direction).
//!
//! [`Reply`] is the output buffer of one connection. Command handlers append
//! replies with typed methods; the RESP2/RESP3 difference is handled here, so
//! handlers never branch on the protocol for the common types:
//!
//! | method        | RESP3                 | RESP2                  |
//! |---------------|-----------------------|------------------------|
//! | `null`        | `_`                   | `$-1`                  |
//! | `null_array`  | `_`                   | `*-1`                  |
//! | `map(n)`      | `%n`                  | `*2n`                  |
//! | `set(n)`      | `~n`                  | `*n`                   |
//! | `push(n)`     | `>n`                  | `*n`                   |
//! | `double`      | `,text`               | bulk string `text`     |
//! | `boolean`     | `#t` / `#f`           | `:1` / `:0`            |
//! | `verbatim`    | `=len\r\nfmt:text`    | bulk string `text`     |
//! | `big_number`  | `(digits`             | bulk string `digits`   |
//!
//! Aggregates whose length is only known after their elements are written use
//! [`Reply::begin_deferred`] / `end_deferred_*`: the header is inserted at the
//! remembered offset when the length is known (the bytes written after it are
//! moved once).

use crate::double::format_double;
use bytes::{Bytes, BytesMut};

/// Wire protocol version negotiated with `HELLO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// RESP2 (the default for a new connection).
    Resp2,
    /// RESP3 (after `HELLO 3`).
    Resp3,
}

/// The output buffer of one connection: every reply of a pipelined batch is
/// appended, then the whole buffer is written to the socket at once.
#[derive(Debug)]
pub struct Reply {
    buf: BytesMut,
    proto: Protocol,
}

/// Placeholder for an aggregate header whose element count is not known yet;
/// returned by [`Reply::begin_deferred`] and consumed by an `end_deferred_*`
/// call.
#[derive(Debug)]
#[must_use = "a deferred header must be completed with an end_deferred_* call"]
pub struct Deferred {
    offset: usize,
}

impl Reply {
    /// An empty output buffer speaking `proto`.
    pub fn new(proto: Protocol) -> Self {
        Reply {
            buf: BytesMut::with_capacity(4096),
            proto,
        }
    }

    /// The protocol replies are currently encoded with.
    pub fn proto(&self) -> Protocol {
        self.proto
    }

    /// Switch protocol (HELLO); affects replies written from now on.
    pub fn set_proto(&mut self, p: Protocol) {
        self.proto = p;
    }

    /// Number of bytes written and not yet taken.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing is waiting to be sent.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drop everything written after the first `len` bytes (no-op if `len` is
    /// not smaller than the current length). Used by CLIENT REPLY OFF/SKIP.
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// Take everything written so far as one immutable chunk; the buffer can
    /// reuse its allocation once the returned `Bytes` is dropped.
    pub fn take(&mut self) -> Bytes {
        self.buf.split().freeze()
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    fn put(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    fn crlf(&mut self) {
        self.put(b"\r\n");
    }

    /// `<prefix><n>\r\n`
    fn header_i64(&mut self, prefix: u8, n: i64) {
        let mut ib = itoa::Buffer::new();
        self.buf.reserve(24);
        self.buf.extend_from_slice(&[prefix]);
        self.put(ib.format(n).as_bytes());
        self.crlf();
    }

    fn header_usize(&mut self, prefix: u8, n: usize) {
        let mut ib = itoa::Buffer::new();
        self.buf.reserve(24);
        self.buf.extend_from_slice(&[prefix]);
        self.put(ib.format(n).as_bytes());
        self.crlf();
    }

    /// `+OK`
    pub fn ok(&mut self) {
        self.put(b"+OK\r\n");
    }

    /// Simple string `+s`. `s` is written as is: it must not contain `\r` or
    /// `\n` (Redis does not sanitize status replies either).
    pub fn simple(&mut self, s: &[u8]) {
        self.buf.reserve(s.len() + 3);
        self.put(b"+");
        self.put(s);
        self.crlf();
    }

    /// Error reply `-s`. `s` starts with its code (`ERR ...`, `WRONGTYPE ...`);
    /// any `\r` or `\n` inside is replaced by a space, as Redis does, so the
    /// reply always stays one line.
    pub fn error(&mut self, s: &[u8]) {
        self.buf.reserve(s.len() + 3);
        self.put(b"-");
        let start = self.buf.len();
        self.put(s);
        if let Some(tail) = self.buf.get_mut(start..) {
            for b in tail.iter_mut() {
                if *b == b'\r' || *b == b'\n' {
                    *b = b' ';
                }
            }
        }
        self.crlf();
    }

    /// Integer reply `:i`.
    pub fn int(&mut self, i: i64) {
        self.header_i64(b':', i);
    }

    /// Bulk string `$len\r\nb\r\n`.
    pub fn bulk(&mut self, b: &[u8]) {
        self.buf.reserve(b.len() + 16);
        self.header_usize(b'$', b.len());
        self.put(b);
        self.crlf();
    }

    /// Bulk string holding the decimal text of `i`.
    pub fn bulk_int(&mut self, i: i64) {
        let mut ib = itoa::Buffer::new();
        let s = ib.format(i);
        self.bulk(s.as_bytes());
    }

    /// Null bulk: RESP2 `$-1`, RESP3 `_`.
    pub fn null(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.put(b"$-1\r\n"),
            Protocol::Resp3 => self.put(b"_\r\n"),
        }
    }

    /// Null array: RESP2 `*-1`, RESP3 `_`.
    pub fn null_array(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.put(b"*-1\r\n"),
            Protocol::Resp3 => self.put(b"_\r\n"),
        }
    }

    /// Array header `*n`; the `n` elements follow.
    pub fn array(&mut self, n: usize) {
        self.header_usize(b'*', n);
    }

    /// `*0`.
    pub fn empty_array(&mut self) {
        self.put(b"*0\r\n");
    }

    /// Map header for `n` key/value pairs: RESP3 `%n`, RESP2 `*2n` (flat array).
    pub fn map(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp3 => self.header_usize(b'%', n),
            Protocol::Resp2 => self.header_usize(b'*', n.saturating_mul(2)),
        }
    }

    /// Set header: RESP3 `~n`, RESP2 `*n`.
    pub fn set(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp3 => self.header_usize(b'~', n),
            Protocol::Resp2 => self.header_usize(b'*', n),
        }
    }

    /// Push header (pub/sub messages, invalidations): RESP3 `>n`, RESP2 `*n`.
    pub fn push(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp3 => self.header_usize(b'>', n),
            Protocol::Resp2 => self.header_usize(b'*', n),
        }
    }

    /// Double: RESP3 `,text`, RESP2 bulk string of the same text; the text is
    /// [`format_double`]'s (`inf`, `-inf`, `nan` for the special values).
    pub fn double(&mut self, d: f64) {
        let mut text = Vec::with_capacity(32);
        format_double(d, &mut text);
        match self.proto {
            Protocol::Resp3 => {
                self.buf.reserve(text.len() + 3);
                self.put(b",");
                self.put(&text);
                self.crlf();
            }
            Protocol::Resp2 => self.bulk(&text),
        }
    }

    /// Boolean: RESP3 `#t`/`#f`, RESP2 `:1`/`:0`.
    pub fn boolean(&mut self, b: bool) {
        let s: &[u8] = match (self.proto, b) {
            (Protocol::Resp3, true) => b"#t\r\n",
            (Protocol::Resp3, false) => b"#f\r\n",
            (Protocol::Resp2, true) => b":1\r\n",
            (Protocol::Resp2, false) => b":0\r\n",
        };
        self.put(s);
    }

    /// Verbatim string: RESP3 `=<len>\r\nfmt:s` (fmt is e.g. `txt`), RESP2 a
    /// plain bulk string `s`.
    pub fn verbatim(&mut self, fmt: &[u8; 3], s: &[u8]) {
        match self.proto {
            Protocol::Resp3 => {
                self.buf.reserve(s.len() + 24);
                self.header_usize(b'=', s.len().saturating_add(4));
                self.put(fmt);
                self.put(b":");
                self.put(s);
                self.crlf();
            }
            Protocol::Resp2 => self.bulk(s),
        }
    }

    /// Big number: RESP3 `(digits`, RESP2 bulk string `digits`.
    pub fn big_number(&mut self, digits: &[u8]) {
        match self.proto {
            Protocol::Resp3 => {
                self.buf.reserve(digits.len() + 3);
                self.put(b"(");
                self.put(digits);
                self.crlf();
            }
            Protocol::Resp2 => self.bulk(digits),
        }
    }

    /// Append pre-encoded protocol bytes unchanged.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.put(bytes);
    }

    /// Start an aggregate whose element count is not known yet: write the
    /// elements, then call one `end_deferred_*` with the count.
    pub fn begin_deferred(&mut self) -> Deferred {
        Deferred {
            offset: self.buf.len(),
        }
    }

    /// Insert `header` at the deferred offset. If the buffer was truncated or
    /// taken in between (so the offset is gone), the header goes at the end.
    fn insert_at(&mut self, d: Deferred, prefix: u8, n: usize) {
        let mut ib = itoa::Buffer::new();
        let digits = ib.format(n).as_bytes();
        let mut header = Vec::with_capacity(digits.len() + 3);
        header.push(prefix);
        header.extend_from_slice(digits);
        header.extend_from_slice(b"\r\n");
        let offset = d.offset.min(self.buf.len());
        self.put(&header);
        if let Some(tail) = self.buf.get_mut(offset..) {
            tail.rotate_right(header.len());
        }
    }

    /// Complete a deferred array of `n` elements (`*n` in both protocols).
    pub fn end_deferred_array(&mut self, d: Deferred, n: usize) {
        self.insert_at(d, b'*', n);
    }

    /// Complete a deferred map of `n_pairs` key/value pairs (RESP3 `%n`, RESP2
    /// `*2n`).
    pub fn end_deferred_map(&mut self, d: Deferred, n_pairs: usize) {
        match self.proto {
            Protocol::Resp3 => self.insert_at(d, b'%', n_pairs),
            Protocol::Resp2 => self.insert_at(d, b'*', n_pairs.saturating_mul(2)),
        }
    }

    /// Complete a deferred set of `n` elements (RESP3 `~n`, RESP2 `*n`).
    pub fn end_deferred_set(&mut self, d: Deferred, n: usize) {
        match self.proto {
            Protocol::Resp3 => self.insert_at(d, b'~', n),
            Protocol::Resp2 => self.insert_at(d, b'*', n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(p: Protocol, f: impl FnOnce(&mut Reply)) -> Vec<u8> {
        let mut r = Reply::new(p);
        f(&mut r);
        r.as_bytes().to_vec()
    }

    fn both(f: impl Fn(&mut Reply)) -> (Vec<u8>, Vec<u8>) {
        (out(Protocol::Resp2, &f), out(Protocol::Resp3, &f))
    }

    #[test]
    fn simple_types() {
        assert_eq!(out(Protocol::Resp2, |r| r.ok()), b"+OK\r\n");
        assert_eq!(out(Protocol::Resp2, |r| r.simple(b"PONG")), b"+PONG\r\n");
        assert_eq!(out(Protocol::Resp2, |r| r.int(-42)), b":-42\r\n");
        assert_eq!(
            out(Protocol::Resp2, |r| r.int(i64::MIN)),
            b":-9223372036854775808\r\n"
        );
        assert_eq!(out(Protocol::Resp2, |r| r.bulk(b"")), b"$0\r\n\r\n");
        assert_eq!(
            out(Protocol::Resp2, |r| r.bulk(b"a\r\nb")),
            b"$4\r\na\r\nb\r\n"
        );
        assert_eq!(out(Protocol::Resp2, |r| r.bulk_int(-7)), b"$2\r\n-7\r\n");
        assert_eq!(out(Protocol::Resp2, |r| r.array(3)), b"*3\r\n");
        assert_eq!(out(Protocol::Resp3, |r| r.empty_array()), b"*0\r\n");
        assert_eq!(out(Protocol::Resp2, |r| r.raw(b"xyz")), b"xyz");
    }

    #[test]
    fn error_sanitized() {
        assert_eq!(
            out(Protocol::Resp2, |r| r.error(b"ERR bad\r\nthing\n")),
            b"-ERR bad  thing \r\n"
        );
        assert_eq!(
            out(Protocol::Resp3, |r| r.error(b"WRONGTYPE Operation")),
            b"-WRONGTYPE Operation\r\n"
        );
    }

    #[test]
    fn protocol_dependent() {
        assert_eq!(both(|r| r.null()), (b"$-1\r\n".to_vec(), b"_\r\n".to_vec()));
        assert_eq!(
            both(|r| r.null_array()),
            (b"*-1\r\n".to_vec(), b"_\r\n".to_vec())
        );
        assert_eq!(both(|r| r.map(2)), (b"*4\r\n".to_vec(), b"%2\r\n".to_vec()));
        assert_eq!(both(|r| r.set(2)), (b"*2\r\n".to_vec(), b"~2\r\n".to_vec()));
        assert_eq!(
            both(|r| r.push(3)),
            (b"*3\r\n".to_vec(), b">3\r\n".to_vec())
        );
        assert_eq!(
            both(|r| r.double(1.5)),
            (b"$3\r\n1.5\r\n".to_vec(), b",1.5\r\n".to_vec())
        );
        assert_eq!(
            both(|r| r.double(f64::INFINITY)),
            (b"$3\r\ninf\r\n".to_vec(), b",inf\r\n".to_vec())
        );
        assert_eq!(
            both(|r| r.double(f64::NEG_INFINITY)),
            (b"$4\r\n-inf\r\n".to_vec(), b",-inf\r\n".to_vec())
        );
        assert_eq!(
            both(|r| r.double(f64::NAN)),
            (b"$3\r\nnan\r\n".to_vec(), b",nan\r\n".to_vec())
        );
        assert_eq!(
            both(|r| r.boolean(true)),
            (b":1\r\n".to_vec(), b"#t\r\n".to_vec())
        );
        assert_eq!(
            both(|r| r.boolean(false)),
            (b":0\r\n".to_vec(), b"#f\r\n".to_vec())
        );
        assert_eq!(
            both(|r| r.verbatim(b"txt", b"hello")),
            (b"$5\r\nhello\r\n".to_vec(), b"=9\r\ntxt:hello\r\n".to_vec())
        );
        assert_eq!(
            both(|r| r.big_number(b"12345678901234567890")),
            (
                b"$20\r\n12345678901234567890\r\n".to_vec(),
                b"(12345678901234567890\r\n".to_vec()
            )
        );
    }

    #[test]
    fn deferred() {
        let f = |r: &mut Reply| {
            r.ok();
            let d = r.begin_deferred();
            r.bulk(b"k");
            r.int(1);
            r.end_deferred_map(d, 1);
            let d = r.begin_deferred();
            r.end_deferred_array(d, 0);
            let d = r.begin_deferred();
            r.bulk(b"a");
            r.end_deferred_set(d, 1);
        };
        let (r2, r3) = both(f);
        assert_eq!(r2, b"+OK\r\n*2\r\n$1\r\nk\r\n:1\r\n*0\r\n*1\r\n$1\r\na\r\n");
        assert_eq!(r3, b"+OK\r\n%1\r\n$1\r\nk\r\n:1\r\n*0\r\n~1\r\n$1\r\na\r\n");
    }

    #[test]
    fn deferred_nested_and_large_count() {
        let mut r = Reply::new(Protocol::Resp2);
        let outer = r.begin_deferred();
        let inner = r.begin_deferred();
        for i in 0..12 {
            r.int(i);
        }
        r.end_deferred_array(inner, 12);
        r.end_deferred_array(outer, 1);
        let mut expect = b"*1\r\n*12\r\n".to_vec();
        for i in 0..12 {
            expect.extend_from_slice(format!(":{i}\r\n").as_bytes());
        }
        assert_eq!(r.as_bytes(), &expect[..]);
    }

    #[test]
    fn deferred_after_truncate_does_not_panic() {
        let mut r = Reply::new(Protocol::Resp2);
        r.ok();
        let d = r.begin_deferred();
        r.int(1);
        r.truncate(0);
        r.end_deferred_array(d, 1);
        assert_eq!(r.as_bytes(), b"*1\r\n");
    }

    #[test]
    fn take_truncate_len() {
        let mut r = Reply::new(Protocol::Resp3);
        assert!(r.is_empty());
        r.ok();
        let mark = r.len();
        r.int(5);
        r.truncate(mark);
        assert_eq!(r.len(), 5);
        let t = r.take();
        assert_eq!(&t[..], b"+OK\r\n");
        assert!(r.is_empty());
        r.set_proto(Protocol::Resp2);
        assert_eq!(r.proto(), Protocol::Resp2);
        r.null();
        assert_eq!(r.as_bytes(), b"$-1\r\n");
    }
}
