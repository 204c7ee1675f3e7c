//! Test kit for ferrokv's integration and differential tests.
//!
//! Everything here talks to real server processes over TCP, the way clients do:
//! - [`ServerProc`] starts ferrokv (or the `redis-server` oracle) on a free loopback port in its
//!   own temporary directory, waits until it answers `PING`, and kills it on drop.
//! - [`Conn`] is a raw RESP connection that returns the exact bytes of each reply, with a
//!   timeout, so tests can assert on the wire format itself.
//! - [`Value`] / [`parse_value`] parse RESP2 and RESP3 replies, independently of `ferrokv-resp`.
//! - [`Diff`] sends the same commands to ferrokv and redis-server and compares the replies.
//! - [`CaseRunner`] runs table-driven case lines through a [`Diff`].
//! - [`PropRunner`] generates random command sequences from per-command-group templates and
//!   runs them through a [`Diff`].
//!
//! Environment variables: `FERROKV_BIN` (test another ferrokv binary, or `redis-server` itself
//! to validate tests), `REDIS_SERVER_BIN` (oracle binary), `FERROKV_REQUIRE_REDIS=1` (a missing
//! oracle fails instead of skipping), `FERROKV_PROP_SEED` / `FERROKV_PROP_CASES` (property runs),
//! `FERROKV_KEEP_TMP=1` (keep server directories for inspection).
//!
//! # Layout
//! `value.rs` (reply model and parser), `conn.rs` (connection), `server.rs` (processes, ports,
//! polling), `diff.rs` (differential comparison), `prop.rs` (random sequences).

#![warn(missing_docs)]

mod cases;
mod conn;
mod diff;
mod prop;
mod server;
mod value;

pub use cases::{split_case, CaseRunner};
pub use conn::{encode_command, Conn, REPLY_TIMEOUT};
pub use diff::{normalise_doubles, show_command, Compare, Diff};
pub use prop::{Gen, PropRunner, Rng};
pub use server::{
    engine_is_disk, find_in_path, free_port, skip_on_disk, wait_until, wait_until_inside_minute,
    ServerProc, READY_TIMEOUT,
};
pub use value::{escape, parse_reply, parse_value, Value};

/// Starts a [`Diff`] (`diff_or_skip!(bin)`, or `diff_or_skip!(resp3, bin)` for RESP3) or returns from the calling test (the skip message is already printed)
/// when redis-server is not installed.
///
/// ```no_run
/// # fn t() {
/// let mut d = ferrokv_testkit::diff_or_skip!("/path/to/ferrokv-server");
/// d.check(&["SET", "k", "v"]);
/// # }
/// ```
#[macro_export]
macro_rules! diff_or_skip {
    (resp3, $bin:expr) => {
        match $crate::Diff::resp3($bin) {
            Some(d) => d,
            None => return,
        }
    };
    ($bin:expr) => {
        match $crate::Diff::new($bin) {
            Some(d) => d,
            None => return,
        }
    };
}
