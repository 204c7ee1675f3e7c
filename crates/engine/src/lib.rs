//! ferrokv's storage layer.
//!
//! The in-memory engine keeps each database split into shards (the server decides how keys map to
//! shards and locks them); a [`Shard`] is plain single-threaded data:
//!
//! - [`entry`]: one key, its value, expiry and access data in a single allocation;
//! - [`table`]: a segmented hash table whose iteration order is hash order, so SCAN cursors stay
//!   valid while the table grows;
//! - [`shard`]: lazy expiry, the active expiry step, access tracking (LRU/LFU), counters.
//!
//! - [`value`]: the collection types' values ([`list`], [`hash`], [`set`], [`zset`]), built on
//!   [`packed`] (a listpack-like compact sequence) when small.
//!
//! The disk engine plugs in behind the same shard-level operations in later work; nothing here
//! knows about the network or RESP.

pub mod entry;
pub mod hash;
pub mod list;
pub mod packed;
pub mod set;
pub mod shard;
pub mod table;
pub mod value;
pub mod zset;

pub use entry::{Entry, Kind};
pub use shard::{AccessMode, Clock, Shard, ShardStats, SnapshotSink};
pub use value::{EncodingLimits, Value};
