//! Sorted sets: ZADD, ZRANGE, ZRANK, ZUNIONSTORE, the blocking BZPOPMIN family, ...

use crate::dispatch::CommandTable;

/// Binds this group's handlers.
pub fn register(t: &mut CommandTable) {
    let _ = t;
}
