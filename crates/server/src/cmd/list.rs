//! Lists: LPUSH, RPOP, LRANGE, LMOVE, the blocking BLPOP family, ...

use crate::dispatch::CommandTable;

/// Binds this group's handlers.
pub fn register(t: &mut CommandTable) {
    let _ = t;
}
