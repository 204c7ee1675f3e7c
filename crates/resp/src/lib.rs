//! `ferrokv-resp`: the Redis wire format (RESP2 and RESP3).
//!
//! Layout:
//!
//! * [`parser`]: [`RequestParser`], an incremental parser for client requests
//!   (multibulk `*<n>\r\n$<len>\r\n...` and inline commands) that reproduces
//!   Redis 7's limits and exact protocol error texts ([`ParseError`],
//!   [`Limits`]).
//! * [`writer`]: [`Reply`], the per-connection output buffer with one typed
//!   method per reply type; it encodes RESP2 or RESP3 according to its
//!   [`Protocol`], including deferred-length aggregates.
//! * [`double`]: [`format_double`], the exact text Redis 7.2+ prints for
//!   doubles (`fpconv_dtoa` rules).
//!
//! Zero-copy design: a connection reads into one `BytesMut`. The parser only
//! records the offsets of the arguments while a request is incomplete (the
//! bytes already checked are never rescanned, so a request arriving in many
//! small reads costs O(length)). When a request is complete, its bytes are cut
//! off the front of the buffer with one `split_to` and frozen; every argument
//! is a `Bytes` slice of that chunk (a reference-count increment, no copy).
//! Only inline words written with quotes/escapes are copied. Nothing is
//! allocated from a length header beyond what has actually been received plus
//! a bounded amount, so an oversized or lying header cannot reserve memory.
//!
//! On the output side every reply of a pipelined batch is appended to one
//! [`Reply`] buffer and taken as a single `Bytes` for one write.

pub mod double;
pub mod parser;
pub mod writer;

pub use double::format_double;
pub use parser::{split_words, string2ll, Limits, ParseError, RequestParser};
pub use writer::{Deferred, Protocol, Reply};
