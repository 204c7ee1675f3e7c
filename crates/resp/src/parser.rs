//! Incremental request parser (client -> server direction).
//!
//! Two request forms exist, chosen by the first byte of a request exactly as
//! Redis does:
//!
//! * **multibulk** (`*`): `*<count>\r\n` followed by `count` bulk strings
//!   `$<len>\r\n<len bytes>\r\n`. This is what every real client sends.
//! * **inline** (anything else): one line terminated by `\n` (a single `\r`
//!   before it is stripped), split into words like `sdssplitargs` does
//!   (double quotes with escapes, single quotes).
//!
//! The parser mirrors the quirks of Redis 7's `processMultibulkBuffer` /
//! `processInlineBuffer`, checked against redis-server 7.0.15:
//!
//! * Lengths are parsed like `string2ll`: no `+`, no leading zeros (except a
//!   lone `0`), no spaces, no `-0`, at most 20 characters.
//! * A header line is found by searching for `\r`; the byte after it is not
//!   checked (Redis skips two bytes). The two bytes after bulk data are not
//!   checked either.
//! * Redis searches with `strchr`, which stops at a NUL byte: a NUL before the
//!   line terminator means the line never completes (the client waits until the
//!   size limit error). This parser does the same.
//! * `*<n>` with `n <= 0` and empty inline lines are consumed silently.
//! * "too big" errors are raised, as in Redis, only when more than
//!   [`Limits::max_inline_len`] bytes are buffered and the line terminator is
//!   not among them. So, exactly like Redis, whether a 70 KB inline line
//!   passes depends on how much of it one read delivered (redis-server 7.0.15
//!   accepted a 70000-byte inline `ECHO` sent in one write and reset the
//!   connection at 100000 bytes).
//!
//! Progress is kept between calls (`pos`, how far the terminator search got,
//! the argument ranges found so far), so a request arriving in many small
//! reads costs O(total bytes), not O(n^2).
//!
//! Contract with the caller: between calls the caller may only *append* to the
//! buffer (as a socket reader does). After an `Err` the connection must be
//! closed; the parser state is then unspecified (but using it never panics).

use bytes::{Buf, Bytes, BytesMut};
use std::fmt;

/// Redis's `PROTO_INLINE_MAX_SIZE`: 64 KiB.
pub const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;

/// Largest amount the parser reserves in the buffer at once while waiting for
/// bulk data; the rest of a big bulk grows the buffer as it arrives.
const MAX_RESERVE_HINT: usize = 64 * 1024;

/// Argument ranges kept between requests are dropped when their capacity
/// exceeds this many entries (so one huge request does not pin memory).
const KEEP_RANGES_CAPACITY: usize = 4096;

/// Protocol limits applied while parsing (the `proto-max-bulk-len` family).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest accepted bulk length (`proto-max-bulk-len`); larger gives
    /// "Protocol error: invalid bulk length". Default 512 MiB.
    pub max_bulk_len: u64,
    /// Largest accepted multibulk count; larger gives "Protocol error: invalid
    /// multibulk length". Default `i32::MAX` (2147483647), which is what Redis
    /// 7.0.15 really enforces (`ll > INT_MAX`); nothing is allocated from this
    /// count beyond `min(count, 1024)` slots, so the large default is safe.
    pub max_multibulk_len: u64,
    /// Largest line (inline request, or `*`/`$` header) that may sit in the
    /// buffer without its terminator; exceeding it gives one of the "too big"
    /// errors. Default 64 KiB (`PROTO_INLINE_MAX_SIZE`).
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as u64,
            max_inline_len: PROTO_INLINE_MAX_SIZE,
        }
    }
}

/// A fatal protocol error: Redis replies `-ERR <Display text>` and closes the
/// connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The text Redis sends after `-ERR `, e.g.
    /// `"Protocol error: invalid multibulk length"`.
    Protocol(&'static str),
    /// `Protocol error: expected '$', got '<byte>'`, carrying the offending
    /// byte (`\r` and `\n` are shown as a space, as Redis sanitizes them). For
    /// bytes >= 0x80 Redis sends the raw byte, which a `str` cannot hold: use
    /// [`ParseError::to_bytes`] for the exact wire text.
    ExpectedDollar(u8),
}

impl ParseError {
    /// Append the complete error reply Redis sends for this error,
    /// `-ERR <text>\r\n`, byte-exact (the connection is then closed).
    pub fn write_reply(&self, reply: &mut crate::writer::Reply) {
        let mut line = b"ERR ".to_vec();
        line.extend_from_slice(&self.to_bytes());
        reply.error(&line);
    }

    /// The exact error text Redis sends after `-ERR ` (raw bytes, so a
    /// non-UTF-8 byte in [`ParseError::ExpectedDollar`] is reproduced exactly).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            ParseError::Protocol(s) => s.as_bytes().to_vec(),
            ParseError::ExpectedDollar(b) => {
                let mut v = b"Protocol error: expected '$', got '".to_vec();
                v.push(shown_byte(*b));
                v.push(b'\'');
                v
            }
        }
    }
}

/// Redis replaces `\r` and `\n` by spaces in formatted error texts.
fn shown_byte(b: u8) -> u8 {
    if b == b'\r' || b == b'\n' {
        b' '
    } else {
        b
    }
}

/// Shows the text Redis sends after `-ERR `.
impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Protocol(s) => f.write_str(s),
            ParseError::ExpectedDollar(b) => {
                // Bytes >= 0x80 are shown as the Latin-1 character of the same
                // value (lossy; `to_bytes` is exact).
                write!(
                    f,
                    "Protocol error: expected '$', got '{}'",
                    char::from(shown_byte(*b))
                )
            }
        }
    }
}

impl std::error::Error for ParseError {}

pub(crate) const E_INVALID_MBULK: &str = "Protocol error: invalid multibulk length";
pub(crate) const E_INVALID_BULK: &str = "Protocol error: invalid bulk length";
pub(crate) const E_UNAUTH_MBULK: &str = "Protocol error: unauthenticated multibulk length";
pub(crate) const E_UNAUTH_BULK: &str = "Protocol error: unauthenticated bulk length";
pub(crate) const E_BIG_MBULK: &str = "Protocol error: too big mbulk count string";
pub(crate) const E_BIG_BULK: &str = "Protocol error: too big bulk count string";
pub(crate) const E_BIG_INLINE: &str = "Protocol error: too big inline request";
pub(crate) const E_UNBALANCED: &str = "Protocol error: unbalanced quotes in request";

/// Redis 7 limits for clients that still have to authenticate.
const UNAUTH_MAX_MULTIBULK: i64 = 10;
const UNAUTH_MAX_BULK: i64 = 16384;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// No request started: the next byte decides the form.
    Idle,
    Inline,
    /// Waiting for the `*<n>\r\n` header line.
    MultiHeader,
    /// Reading the bulk strings of a multibulk.
    MultiArgs,
}

/// Outcome of a terminator search.
enum Scan {
    Found(usize),
    Missing,
}

/// Incremental parser for client requests; one per connection.
///
/// See the module docs for the exact Redis behaviours reproduced.
#[derive(Debug)]
pub struct RequestParser {
    kind: Kind,
    /// Offset in the buffer of the next unparsed element (header line or bulk
    /// data) of the current request.
    pos: usize,
    /// Terminator search resumes here (everything in `pos..scanned` was
    /// already looked at).
    scanned: usize,
    /// A NUL byte was met before the terminator of the current line: like
    /// Redis's `strchr`, the line can then never complete.
    nul_seen: bool,
    /// Bulk strings of the current multibulk still to read.
    remaining: u64,
    /// Length of the bulk whose `$<len>` header has been parsed.
    bulk_len: Option<usize>,
    /// Ranges (relative to the buffer start) of the arguments read so far.
    ranges: Vec<(usize, usize)>,
    /// Whether a request that is completely buffered may take the one-pass path
    /// ([`RequestParser::fast_multibulk`]); off only in tests that compare both paths.
    fast: bool,
}

impl Default for RequestParser {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestParser {
    /// A parser positioned at the start of a request.
    pub fn new() -> Self {
        RequestParser {
            kind: Kind::Idle,
            pos: 0,
            scanned: 0,
            nul_seen: false,
            remaining: 0,
            bulk_len: None,
            ranges: Vec::new(),
            fast: true,
        }
    }

    /// A parser that never takes the one-pass path (tests compare the two).
    #[cfg(test)]
    fn without_fast_path() -> Self {
        RequestParser {
            fast: false,
            ..Self::new()
        }
    }

    /// True when part of a request has been seen (a partially received
    /// request is pending). Useful to decide whether EOF is "clean".
    pub fn in_progress(&self) -> bool {
        self.kind != Kind::Idle
    }

    fn reset(&mut self) {
        self.kind = Kind::Idle;
        self.pos = 0;
        self.scanned = 0;
        self.nul_seen = false;
        self.remaining = 0;
        self.bulk_len = None;
        if self.ranges.capacity() > KEEP_RANGES_CAPACITY {
            self.ranges = Vec::new();
        } else {
            self.ranges.clear();
        }
    }

    /// Search `buf[pos..]` for `target`, stopping at a NUL byte like `strchr`.
    /// Resumes where the previous unsuccessful search stopped.
    fn find(&mut self, buf: &[u8], target: u8) -> Scan {
        if self.nul_seen {
            return Scan::Missing;
        }
        let from = self.scanned.max(self.pos);
        let hay = buf.get(from..).unwrap_or(&[]);
        match hay.iter().position(|&b| b == target || b == 0) {
            Some(i) => {
                let at = from + i;
                if hay.get(i) == Some(&0) {
                    self.nul_seen = true;
                    self.scanned = at;
                    Scan::Missing
                } else {
                    self.scanned = at;
                    Scan::Found(at)
                }
            }
            None => {
                self.scanned = buf.len();
                Scan::Missing
            }
        }
    }

    /// Parse ONE complete request from the front of `buf`.
    ///
    /// On success the request's bytes are removed from `buf`, `args` is
    /// cleared and filled with the arguments (zero-copy slices of one frozen
    /// chunk split off `buf`; inline words containing quotes are the only
    /// copies) and `Ok(true)` is returned. `Ok(false)` means no complete
    /// request is buffered yet; progress is remembered, so call again after
    /// appending more data. Empty inline lines and multibulks with a count
    /// `<= 0` are consumed silently. `authenticated == false` applies Redis 7's
    /// limits for unauthenticated clients (at most 10 arguments, bulks of at
    /// most 16384 bytes).
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        args: &mut Vec<Bytes>,
        limits: &Limits,
        authenticated: bool,
    ) -> Result<bool, ParseError> {
        if self.kind == Kind::Idle && self.fast && buf.first() == Some(&b'*') {
            if let Some(end) = self.fast_multibulk(buf, limits, authenticated) {
                self.emit(buf, end, args);
                return Ok(true);
            }
            // Incomplete, empty, unusual or erroneous: the incremental path below starts
            // over from the request's first byte and keeps its progress from here on, so
            // this pass runs at most once per request.
        }
        loop {
            if self.kind == Kind::Idle {
                let Some(&first) = buf.first() else {
                    return Ok(false);
                };
                self.pos = 0;
                self.scanned = 0;
                self.nul_seen = false;
                self.kind = if first == b'*' {
                    Kind::MultiHeader
                } else {
                    Kind::Inline
                };
            }
            match self.kind {
                Kind::Idle => continue,
                Kind::Inline => match self.parse_inline(buf, args, limits)? {
                    Step::Done => return Ok(true),
                    Step::NeedMore => return Ok(false),
                    Step::Skipped => continue,
                },
                Kind::MultiHeader => {
                    match self.parse_multibulk_header(buf, limits, authenticated)? {
                        Step::Done => {} // header read: go on with the bulks
                        Step::NeedMore => return Ok(false),
                        Step::Skipped => continue,
                    }
                }
                Kind::MultiArgs => {
                    return self.parse_bulks(buf, args, limits, authenticated);
                }
            }
        }
    }

    /// One pass over a multibulk request that is completely buffered and plain: a count
    /// of 1 or more, every header `$<len>` with a length `string2ll` accepts, within the
    /// limits, and all the data present. Fills `self.ranges` and returns the request's end
    /// offset. `None` (nothing consumed, `self.kind` still `Idle`) for anything else,
    /// including every error: the incremental path then gives Redis's exact outcome. What
    /// this accepts, the incremental path would accept with the same arguments (the
    /// random differential test in `parser/tests.rs` checks it).
    #[inline]
    fn fast_multibulk(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        authenticated: bool,
    ) -> Option<usize> {
        let (count, mut i) = header_number(buf, 1)?;
        // Each bulk takes at least 6 bytes (`$0\r\n\r\n`): a larger count is not all here.
        if count == 0
            || count > limits.max_multibulk_len
            || (count > UNAUTH_MAX_MULTIBULK as u64 && !authenticated)
            || count > (buf.len() / 6) as u64
        {
            return None;
        }
        self.ranges.clear();
        for _ in 0..count {
            if buf.get(i) != Some(&b'$') {
                return None;
            }
            let (len, start) = header_number(buf, i + 1)?;
            if len > limits.max_bulk_len || (len > UNAUTH_MAX_BULK as u64 && !authenticated) {
                return None;
            }
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            let next = end.checked_add(2)?;
            if next > buf.len() {
                return None;
            }
            self.ranges.push((start, end));
            i = next;
        }
        Some(i)
    }

    /// Splits the request `buf[..end]` off as one frozen chunk and fills `args` with
    /// slices of it at `self.ranges`. The last argument takes the chunk itself (narrowed),
    /// which saves one reference count increment and decrement per request.
    fn emit(&mut self, buf: &mut BytesMut, end: usize, args: &mut Vec<Bytes>) {
        let mut chunk = buf.split_to(end.min(buf.len())).freeze();
        args.clear();
        if let Some((&(ls, le), init)) = self.ranges.split_last() {
            let len = chunk.len();
            // A plain loop: `extend` over the mapped iterator cost ~90 instructions for the
            // one argument of a GET (callgrind).
            args.reserve(init.len() + 1);
            for &(s, e) in init {
                args.push(chunk.slice(s.min(e)..e.min(len)));
            }
            chunk.truncate(le.min(len));
            chunk.advance(ls.min(le).min(chunk.len()));
            args.push(chunk);
        }
        if self.ranges.capacity() > KEEP_RANGES_CAPACITY {
            self.ranges = Vec::new();
        } else {
            self.ranges.clear();
        }
    }

    fn parse_inline(
        &mut self,
        buf: &mut BytesMut,
        args: &mut Vec<Bytes>,
        limits: &Limits,
    ) -> Result<Step, ParseError> {
        let nl = match self.find(buf, b'\n') {
            Scan::Found(i) => i,
            Scan::Missing => {
                if buf.len().saturating_sub(self.pos) > limits.max_inline_len {
                    return Err(ParseError::Protocol(E_BIG_INLINE));
                }
                return Ok(Step::NeedMore);
            }
        };
        let consumed = nl + 1;
        let mut line_end = nl;
        if nl > 0 && buf.get(nl - 1) == Some(&b'\r') {
            line_end = nl - 1;
        }
        let line = buf.get(..line_end).unwrap_or(&[]);
        let tokens = split_args(line).ok_or(ParseError::Protocol(E_UNBALANCED))?;
        if tokens.is_empty() {
            buf.advance(consumed.min(buf.len()));
            self.reset();
            return Ok(Step::Skipped);
        }
        let chunk = buf.split_to(consumed.min(buf.len())).freeze();
        args.clear();
        args.extend(tokens.into_iter().map(|t| match t {
            Token::Range(s, e) => chunk.slice(s..e),
            Token::Owned(v) => Bytes::from(v),
        }));
        self.reset();
        Ok(Step::Done)
    }

    /// Locate a complete header line starting at `self.pos`: returns the index
    /// of its `\r` when the byte after it is also buffered.
    fn header_line(
        &mut self,
        buf: &BytesMut,
        limits: &Limits,
        too_big: &'static str,
    ) -> Result<Option<usize>, ParseError> {
        match self.find(buf, b'\r') {
            Scan::Found(cr) => {
                // Redis only requires one more byte after '\r' (it does not
                // check that it is '\n').
                if cr + 1 < buf.len() {
                    Ok(Some(cr))
                } else {
                    Ok(None)
                }
            }
            Scan::Missing => {
                if buf.len().saturating_sub(self.pos) > limits.max_inline_len {
                    Err(ParseError::Protocol(too_big))
                } else {
                    Ok(None)
                }
            }
        }
    }

    fn parse_multibulk_header(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
        authenticated: bool,
    ) -> Result<Step, ParseError> {
        let Some(cr) = self.header_line(buf, limits, E_BIG_MBULK)? else {
            return Ok(Step::NeedMore);
        };
        let digits = buf.get(self.pos + 1..cr).unwrap_or(&[]);
        let count = match string2ll(digits) {
            Some(n) if n <= 0 || (n as u64) <= limits.max_multibulk_len => n,
            _ => return Err(ParseError::Protocol(E_INVALID_MBULK)),
        };
        if count > UNAUTH_MAX_MULTIBULK && !authenticated {
            return Err(ParseError::Protocol(E_UNAUTH_MBULK));
        }
        let after = cr + 2;
        if count <= 0 {
            buf.advance(after.min(buf.len()));
            self.reset();
            return Ok(Step::Skipped);
        }
        self.pos = after;
        self.scanned = after;
        self.remaining = count as u64;
        self.bulk_len = None;
        self.ranges.clear();
        self.ranges.reserve((count as usize).min(1024));
        self.kind = Kind::MultiArgs;
        Ok(Step::Done)
    }

    fn parse_bulks(
        &mut self,
        buf: &mut BytesMut,
        args: &mut Vec<Bytes>,
        limits: &Limits,
        authenticated: bool,
    ) -> Result<bool, ParseError> {
        while self.remaining > 0 {
            let len = match self.bulk_len {
                Some(len) => len,
                None => {
                    let Some(cr) = self.header_line(buf, limits, E_BIG_BULK)? else {
                        return Ok(false);
                    };
                    let first = buf.get(self.pos).copied().unwrap_or(b'\r');
                    if first != b'$' {
                        return Err(ParseError::ExpectedDollar(first));
                    }
                    let digits = buf.get(self.pos + 1..cr).unwrap_or(&[]);
                    let len = match string2ll(digits) {
                        Some(n) if n >= 0 && (n as u64) <= limits.max_bulk_len => n,
                        _ => return Err(ParseError::Protocol(E_INVALID_BULK)),
                    };
                    if len > UNAUTH_MAX_BULK && !authenticated {
                        return Err(ParseError::Protocol(E_UNAUTH_BULK));
                    }
                    let len =
                        usize::try_from(len).map_err(|_| ParseError::Protocol(E_INVALID_BULK))?;
                    self.pos = cr + 2;
                    self.scanned = self.pos;
                    self.bulk_len = Some(len);
                    len
                }
            };
            // data plus the two trailing bytes (not checked, as in Redis)
            let end = self
                .pos
                .checked_add(len)
                .ok_or(ParseError::Protocol(E_INVALID_BULK))?;
            let need = end
                .checked_add(2)
                .ok_or(ParseError::Protocol(E_INVALID_BULK))?;
            if buf.len() < need {
                // Bounded hint so the reader's next read has room; a big bulk
                // grows the buffer as its bytes actually arrive.
                let missing = need - buf.len();
                buf.reserve(missing.min(MAX_RESERVE_HINT));
                return Ok(false);
            }
            self.ranges.push((self.pos, end));
            self.pos = need;
            self.scanned = need;
            self.bulk_len = None;
            self.remaining -= 1;
        }
        let end = self.pos;
        self.emit(buf, end, args);
        self.reset();
        Ok(true)
    }
}

/// Result of one parsing step.
enum Step {
    /// A request (or, for the multibulk header, the header) is complete.
    Done,
    /// More bytes are needed.
    NeedMore,
    /// An empty request was consumed; parse the next one.
    Skipped,
}

/// A decimal header number at `buf[at..]` followed by `\r` and one more byte (not checked,
/// as in Redis): the value and the offset after those two bytes. Only what `string2ll`
/// accepts as a non-negative number of at most 18 digits (`0`, or no leading zero); `None`
/// for anything else or when the line is not all buffered.
#[inline]
fn header_number(buf: &[u8], at: usize) -> Option<(u64, usize)> {
    let digits = buf.get(at..)?;
    let mut v = u64::from(digits.first()?.wrapping_sub(b'0'));
    if v > 9 {
        return None;
    }
    let mut n = 1;
    loop {
        let d = digits.get(n)?.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if v == 0 || n >= 18 {
            return None;
        }
        v = v * 10 + u64::from(d);
        n += 1;
    }
    // digits[n] is the first non-digit: it must be the '\r', and one more byte must follow.
    if digits.get(n) != Some(&b'\r') || digits.len() < n + 2 {
        return None;
    }
    Some((v, at + n + 2))
}

/// Redis's `string2ll`: strict decimal `i64` parsing. Accepts `0`, or an
/// optional `-` followed by a digit 1-9 and more digits; nothing else (no `+`,
/// no spaces, no leading zeros, no `-0`), at most 20 characters.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (&first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &c in rest {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i128).wrapping_neg() as i64)
    } else {
        i64::try_from(v).ok()
    }
}

/// One word of an inline request.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    /// Unquoted word: a range of the line (zero-copy).
    Range(usize, usize),
    /// Word that contained quotes (escapes decoded): an owned copy.
    Owned(Vec<u8>),
}

/// C `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits a line into owned words exactly like Redis's `sdssplitargs` (the rules inline requests
/// use; Redis also reads configuration lines with it). `None` for unbalanced quotes or a closing
/// quote not followed by a space / the end; a NUL byte ends the line.
pub fn split_words(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let tokens = split_args(line)?;
    Some(
        tokens
            .into_iter()
            .map(|t| match t {
                Token::Range(a, b) => line.get(a..b).unwrap_or(&[]).to_vec(),
                Token::Owned(v) => v,
            })
            .collect(),
    )
}

/// Split an inline line like Redis's `sdssplitargs`. Returns `None` for
/// unbalanced quotes (or a closing quote not followed by a space / end).
/// A NUL byte ends the line (C string semantics).
fn split_args(line: &[u8]) -> Option<Vec<Token>> {
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut out = Vec::new();
    let mut p = 0usize;
    loop {
        while at(p) != 0 && is_c_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Some(out);
        }
        let start = p;
        // Set once the word contains a quote: from then on bytes are copied.
        let mut owned: Option<Vec<u8>> = None;
        let (mut inq, mut insq) = (false, false);
        let mut unquoted_end = None;
        loop {
            let c = at(p);
            if inq {
                let hex = (at(p + 1) == b'x')
                    .then(|| Some(hex_val(at(p + 2))? * 16 + hex_val(at(p + 3))?))
                    .flatten();
                if c == b'\\' && hex.is_some() {
                    if let (Some(v), Some(h)) = (owned.as_mut(), hex) {
                        v.push(h);
                    }
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    let e = match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    };
                    if let Some(v) = owned.as_mut() {
                        v.push(e);
                    }
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else if let Some(v) = owned.as_mut() {
                    v.push(c);
                }
            } else if insq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    if let Some(v) = owned.as_mut() {
                        v.push(b'\'');
                    }
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else if let Some(v) = owned.as_mut() {
                    v.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        unquoted_end = Some(p);
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' | b'\'' => {
                        if owned.is_none() {
                            owned = Some(line.get(start..p).unwrap_or(&[]).to_vec());
                        }
                        if c == b'"' {
                            inq = true;
                        } else {
                            insq = true;
                        }
                    }
                    _ => {
                        if let Some(v) = owned.as_mut() {
                            v.push(c);
                        }
                    }
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        match owned {
            Some(v) => out.push(Token::Owned(v)),
            None => out.push(Token::Range(start, unquoted_end.unwrap_or(p))),
        }
    }
}

#[cfg(test)]
mod tests;
