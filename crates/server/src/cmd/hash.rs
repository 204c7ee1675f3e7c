//! Hashes: HSET, HGET, HGETALL, hash-field expiry (HEXPIRE, ...), ...

use crate::dispatch::CommandTable;

/// Binds this group's handlers.
pub fn register(t: &mut CommandTable) {
    let _ = t;
}
