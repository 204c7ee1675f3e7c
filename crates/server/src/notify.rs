//! Keyspace notifications (`notify-keyspace-events`): the event classes and the hook every
//! command calls after it changes a key.
//!
//! Handlers call [`crate::dispatch::Ctx::notify`] with a class below and Redis's event name
//! (`"lpush"`, `"hset"`, `"del"`, ...), right after the change, as Redis's
//! `notifyKeyspaceEvent` is called. Delivery (publishing on `__keyspace@<db>__:<key>` and
//! `__keyevent@<db>__:<event>`) belongs to the Pub/Sub layer; until it lands the hook only
//! checks the configured classes.

use crate::dispatch::Ctx;
use std::sync::atomic::Ordering::Relaxed;

// Class bits, as Redis numbers them (server.h NOTIFY_*).
pub const KEYSPACE: u32 = 1 << 0; // K
pub const KEYEVENT: u32 = 1 << 1; // E
pub const GENERIC: u32 = 1 << 2; // g
pub const STRING: u32 = 1 << 3; // $
pub const LIST: u32 = 1 << 4; // l
pub const SET: u32 = 1 << 5; // s
pub const HASH: u32 = 1 << 6; // h
pub const ZSET: u32 = 1 << 7; // z
pub const EXPIRED: u32 = 1 << 8; // x
pub const EVICTED: u32 = 1 << 9; // e
pub const STREAM: u32 = 1 << 10; // t
pub const KEY_MISS: u32 = 1 << 11; // m (not part of A)
pub const LOADED: u32 = 1 << 12; // module only
pub const MODULE: u32 = 1 << 13; // d
pub const NEW: u32 = 1 << 14; // n (not part of A)

/// Publishes a keyspace event for `key` in the client's current database if the class is
/// enabled.
pub fn keyspace_event(ctx: &mut Ctx<'_, '_>, class: u32, event: &str, key: &[u8]) {
    let flags = ctx.srv.hot.notify_flags.load(Relaxed);
    if flags & class == 0 || flags & (KEYSPACE | KEYEVENT) == 0 {
        return;
    }
    // Delivery lands with Pub/Sub.
    let _ = (event, key);
}
