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
//! Collections (lists, hashes, sets, sorted sets) and the disk engine plug in behind the same
//! shard-level operations in later work; nothing here knows about the network or RESP.

pub mod entry;
pub mod shard;
pub mod table;

pub use entry::{Entry, Kind};
pub use shard::{AccessMode, Clock, Shard, ShardStats};
