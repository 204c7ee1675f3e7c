//! A blocking RESP client connection that hands back the exact bytes of each reply.
//!
//! Tests compare bytes, not interpretations: [`Conn::read_reply`] frames exactly one reply
//! (of any RESP2/RESP3 type, however nested) and returns its bytes untouched; bytes that arrive
//! after it stay buffered for the next call, so pipelined replies and push messages are never lost.

use crate::value::{escape, parse_reply, Value};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long [`Conn::read_reply`] waits for one complete reply before failing the test.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A raw RESP connection to a server under test.
///
/// Every method panics on I/O failure or timeout with a message naming the server address:
/// a test that cannot talk to its server has failed.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    addr: String,
    timeout: Duration,
}

impl Conn {
    /// Connects to `addr` (`host:port`); the connection speaks RESP2 until the test sends HELLO 3.
    pub fn connect(addr: &str) -> Conn {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        // Requests are small and tests often measure replies to single commands: do not let Nagle
        // delay them.
        let _ = stream.set_nodelay(true);
        Conn {
            stream,
            buf: Vec::new(),
            addr: addr.to_string(),
            timeout: REPLY_TIMEOUT,
        }
    }

    /// The server address this connection was opened to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Changes how long [`Conn::read_reply`] waits (default [`REPLY_TIMEOUT`]); useful for tests
    /// of blocking commands that legitimately take longer.
    pub fn set_reply_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Encodes `args` as a RESP multibulk request and writes it (no reply is read).
    pub fn send(&mut self, args: &[&[u8]]) {
        let req = encode_command(args);
        self.send_raw(&req);
    }

    /// Writes `bytes` verbatim: for inline commands, pipelines and deliberately malformed input.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes) {
            panic!("write to {}: {e}", self.addr);
        }
    }

    /// Returns the exact bytes of the next complete reply, waiting up to the reply timeout.
    ///
    /// # Panics
    /// On timeout, on a connection closed before a full reply arrived, and on bytes that are not
    /// a valid RESP reply; the message shows what had been received.
    pub fn read_reply(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + self.timeout;
        match self.read_until(deadline) {
            Ok(r) => r,
            Err(ReadEnd::Timeout) => panic!(
                "no complete reply from {} within {:?}; buffered: \"{}\"",
                self.addr,
                self.timeout,
                escape(&self.buf)
            ),
            Err(ReadEnd::Closed) => panic!(
                "connection to {} closed while waiting for a reply; buffered: \"{}\"",
                self.addr,
                escape(&self.buf)
            ),
        }
    }

    /// Like [`Conn::read_reply`] but returns `None` instead of panicking if no complete reply
    /// arrives within `timeout` or the server closes the connection: for asserting that nothing
    /// is delivered (a blocked client, a pub/sub message that must not arrive).
    pub fn try_read_reply(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        self.read_until(Instant::now() + timeout).ok()
    }

    /// Reads and parses the next reply.
    pub fn read_value(&mut self) -> Value {
        let raw = self.read_reply();
        to_value(&raw)
    }

    /// Sends a command given as text arguments and returns the parsed reply.
    pub fn cmd(&mut self, args: &[&str]) -> Value {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let raw = self.cmd_raw(&args);
        to_value(&raw)
    }

    /// The value of `field` in `INFO section`, `None` when the section has no such field
    /// (or the reply is not a bulk string).
    pub fn info_field(&mut self, section: &str, field: &str) -> Option<String> {
        let v = self.cmd(&["INFO", section]);
        let text = String::from_utf8_lossy(v.as_bytes()?).into_owned();
        let prefix = format!("{field}:");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
    }

    /// Connections served by each connection worker (INFO stats
    /// `ferrokv_worker_connections`, ferrokv only).
    ///
    /// # Panics
    /// If the field is missing or not a comma-separated list of numbers.
    pub fn worker_loads(&mut self) -> Vec<usize> {
        self.info_field("stats", "ferrokv_worker_connections")
            .unwrap_or_else(|| panic!("no ferrokv_worker_connections in INFO stats"))
            .split(',')
            .map(|n| n.parse().expect("a number"))
            .collect()
    }

    /// Sends a command with binary arguments and returns the exact reply bytes.
    pub fn cmd_raw(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(args);
        self.read_reply()
    }

    /// Switches the connection to RESP3 (`HELLO 3`) and returns the HELLO reply.
    ///
    /// # Panics
    /// If the server answers with an error.
    pub fn hello3(&mut self) -> Value {
        let v = self.cmd(&["HELLO", "3"]);
        assert!(!v.is_error(), "HELLO 3 failed on {}: {v:?}", self.addr);
        v
    }

    /// True if the server closes the connection within 2 seconds (see [`Conn::is_closed_within`]).
    pub fn is_closed(&mut self) -> bool {
        self.is_closed_within(Duration::from_secs(2))
    }

    /// Polls the socket for up to `bound`: true as soon as the server has closed (EOF or reset),
    /// false if it is still open at the end. Data that arrives meanwhile is kept for
    /// [`Conn::read_reply`]. A `false` answer costs the whole bound.
    pub fn is_closed_within(&mut self, bound: Duration) -> bool {
        let deadline = Instant::now() + bound;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let wait = (deadline - now).min(Duration::from_millis(50));
            if self.stream.set_read_timeout(Some(wait)).is_err() {
                return true;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
    }

    fn read_until(&mut self, deadline: Instant) -> Result<Vec<u8>, ReadEnd> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match parse_reply(&self.buf) {
                Ok(Some((_, used))) => return Ok(self.buf.drain(..used).collect()),
                Ok(None) => {}
                Err(e) => panic!(
                    "malformed reply from {}: {e}; bytes: \"{}\"",
                    self.addr,
                    escape(&self.buf)
                ),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ReadEnd::Timeout);
            }
            if let Err(e) = self.stream.set_read_timeout(Some(deadline - now)) {
                panic!("set_read_timeout on {}: {e}", self.addr);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ReadEnd::Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                    ) =>
                {
                    return Err(ReadEnd::Closed)
                }
                Err(e) => panic!("read from {}: {e}", self.addr),
            }
        }
    }
}

enum ReadEnd {
    Timeout,
    Closed,
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn to_value(raw: &[u8]) -> Value {
    match crate::value::parse_value(raw) {
        Some((v, _)) => v,
        None => panic!("unparseable reply \"{}\"", escape(raw)),
    }
}

/// Encodes a command as a RESP multibulk request (`*N\r\n$len\r\narg\r\n...`).
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}
