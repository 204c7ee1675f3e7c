//! ferrokv-server: a Redis-compatible server.
//!
//! # Layout
//! - [`net`]: listeners and the per-connection loop (parse every buffered request, write once).
//! - [`dispatch`]: the command table and the path of a request (lookup, arity, auth, gates,
//!   locking, call, statistics).
//! - [`spec`]: command metadata (arity, flags, key specs, ACL categories, docs) as data.
//! - [`cmd`]: handlers, one file per command group.
//! - [`keyspace`]: databases split into shards, and the lock discipline that makes commands atomic.
//! - [`config`]: the parameter table, config file and command-line parsing, CONFIG GET/SET/REWRITE.
//! - [`server`], [`client`], [`cron`]: shared state, client state, periodic work.
//! - [`pubsub`]: the subscription registry and cross-thread message delivery.
//! - [`errors`], [`args`]: error texts and argument parsing.
//! - Hooks every writing command calls: [`notify`] (keyspace events), [`watch`] (modified keys
//!   for WATCH and client tracking), [`blocking`] (keys ready for blocked clients).

pub mod affinity;
pub mod args;
pub mod blocking;
pub mod client;
pub mod cmd;
pub mod config;
pub mod crc16;
pub mod cron;
pub mod disk;
pub mod dispatch;
pub mod errors;
pub mod glob;
pub mod keyspace;
pub mod lazyfree;
pub mod logging;
pub mod net;
pub mod notify;
pub mod persist;
pub mod prefetch;
pub mod propagate;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod sha1;
pub mod spec;
pub mod squash;
pub mod tracking;
pub mod util;
pub mod watch;

/// The Redis version ferrokv presents to clients (they feature-detect on it).
pub const REDIS_VERSION: &str = "7.4.0";
/// ferrokv's own version.
pub const FERROKV_VERSION: &str = env!("CARGO_PKG_VERSION");
