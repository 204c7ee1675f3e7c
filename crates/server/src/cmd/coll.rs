//! What the collection families (list, hash, set, sorted_set) share: typed lookup with Redis's
//! WRONGTYPE rule, creation of a missing key, deletion of a collection that became empty, and
//! release of replaced values off the hot path.

use crate::errors::{self, CmdError};
use ferrokv_engine::{Clock, Entry, Kind, Shard, Value};

/// The value at `key` if it exists and has type `kind`. `Ok(None)` when the key is missing (or
/// expired); `Err(WRONGTYPE)` when it holds another type.
pub fn get_typed<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    clock: &Clock,
    kind: Kind,
) -> Result<Option<&'s mut Value>, CmdError> {
    match shard.get_mut(key, clock) {
        None => Ok(None),
        Some(e) if e.kind() == kind => Ok(e.value_mut()),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

const VANISHED: CmdError = CmdError::new("ERR internal error: collection vanished");

/// The value at `key` of type `kind`, creating it with `make` when the key is missing.
/// Returns the value and whether it was created.
pub fn get_or_create<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    clock: &Clock,
    kind: Kind,
    make: impl FnOnce() -> Value,
) -> Result<(&'s mut Value, bool), CmdError> {
    // One probe: the live entry, or a new one in the missing key's slot.
    let (e, created) = shard
        .get_or_insert_mut(key, clock, |access| {
            Entry::new_object(key, make(), None, access)
        })
        .ok_or(VANISHED)?;
    if e.kind() != kind {
        return Err(errors::WRONGTYPE);
    }
    match e.value_mut() {
        Some(v) => Ok((v, created)),
        None => Err(VANISHED),
    }
}

/// Stores `value` at `key`, replacing whatever was there (the `...STORE` commands). The old
/// value is released off the hot path when big. Returns whether a key was replaced.
pub fn store(shard: &mut Shard, key: &[u8], value: Value, clock: &Clock) -> bool {
    let access = shard.new_access(clock);
    match shard.insert(Entry::new_object(key, value, None, access), clock.ms) {
        Some(old) => {
            crate::lazyfree::release(old, true);
            true
        }
        None => false,
    }
}

/// Deletes `key` if its collection is empty (Redis never keeps empty collections). Returns true
/// when it was deleted.
pub fn delete_if_empty(shard: &mut Shard, key: &[u8], now_ms: i64) -> bool {
    let clock = Clock {
        ms: now_ms,
        touch: false,
        rand: 0,
    };
    let empty = matches!(
        shard.get(key, &clock).and_then(Entry::value),
        Some(v) if v.is_empty()
    );
    if empty {
        if let Some(old) = shard.remove(key, now_ms) {
            crate::lazyfree::release(old, true);
        }
    }
    empty
}
