//! Sets: SADD, SMEMBERS, SINTER, SPOP, ...

use crate::dispatch::CommandTable;

/// Binds this group's handlers.
pub fn register(t: &mut CommandTable) {
    let _ = t;
}
