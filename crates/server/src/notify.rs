//! Keyspace notifications (`notify-keyspace-events`): the event classes, the hook every
//! command calls after it changes a key, and their delivery through Pub/Sub.
//!
//! Handlers call [`crate::dispatch::Ctx::notify`] with a class below and Redis's event name
//! (`"lpush"`, `"hset"`, `"del"`, ...), right after the change, as Redis's
//! `notifyKeyspaceEvent` is called. When the class is enabled the event is published at once
//! (synchronously, like Redis) on `__keyspace@<db>__:<key>` (message: the event) if `K` is set
//! and on `__keyevent@<db>__:<event>` (message: the key) if `E` is set.
//!
//! `expired` events: while class `x` is enabled (or some client tracks keys, see
//! [`crate::tracking`]: expired keys are invalidated) every shard records the keys it expires
//! (`Shard::set_log_expired`); the records are drained and published before each event of the
//! command that caused them (so a lazily expired key's `expired` comes before the command's own
//! events, as in Redis), after each command, and by the active expiry cycle. The cycle's hash
//! field expiry publishes `hexpired` (and `del` for an emptied hash) through
//! [`publish_hash_expired`].
//!
//! `new` (class `n`): commands that create a key emit it before their own event; collection
//! commands check [`new_key_pending`] before creating their key.

use crate::dispatch::Ctx;
use crate::pubsub::Publisher;
use crate::server::Server;
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
/// What `A` stands for.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Class bits of a `notify-keyspace-events` string (Redis's `keyspaceEventsStringToFlags`);
/// unknown characters are ignored (the configuration layer has already rejected them).
pub fn parse_flags(s: &str) -> u32 {
    s.bytes().fold(0, |f, c| {
        f | match c {
            b'A' => ALL,
            b'g' => GENERIC,
            b'$' => STRING,
            b'l' => LIST,
            b's' => SET,
            b'h' => HASH,
            b'z' => ZSET,
            b'x' => EXPIRED,
            b'e' => EVICTED,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            b't' => STREAM,
            b'm' => KEY_MISS,
            b'd' => MODULE,
            b'n' => NEW,
            _ => 0,
        }
    })
}

/// Whether `expired` events are wanted (class `x` and at least one of `K`/`E`).
#[inline]
pub fn expired_wanted(flags: u32) -> bool {
    flags & EXPIRED != 0 && flags & (KEYSPACE | KEYEVENT) != 0
}

/// Whether the shards record the keys they expire: for `expired` events, because some client
/// tracks keys (an expired key is invalidated, as Redis's expiry calls `signalModifiedKey`), or
/// because expired keys are propagated as `DEL` (see [`crate::propagate`]).
#[inline]
pub fn expired_logging(srv: &Server) -> bool {
    expired_wanted(srv.hot.notify_flags.load(Relaxed))
        || srv.tracking.tracking_clients() > 0
        || crate::propagate::active(srv)
}

/// Turns the shards' expired-key records on or off to match the configuration and client
/// tracking (at startup, when `notify-keyspace-events` changes, when the first client turns
/// tracking on and the last one off). Shards in `held` (a transaction's locks) are updated
/// through it; the others are locked one at a time.
pub fn apply_expired_logging(srv: &Server, mut held: Option<&mut crate::keyspace::LockSet<'_>>) {
    let on = expired_logging(srv);
    for db in 0..srv.keyspace.db_count() {
        for i in 0..crate::keyspace::SHARDS {
            if let Some(s) = held
                .as_deref_mut()
                .and_then(|h| h.shard(db as u32, i as u32))
            {
                s.set_log_expired(on);
            } else if let Some(mut s) = srv.keyspace.lock_one(db, i) {
                s.set_log_expired(on);
            }
        }
    }
}

/// Publishes one event (both channel kinds, as enabled by `flags`) for `key` in `db`.
pub fn publish_event(
    srv: &Server,
    flags: u32,
    db: u32,
    event: &str,
    key: &[u8],
    mut me: Option<Publisher<'_>>,
) {
    if flags & KEYSPACE != 0 {
        let mut ch = Vec::with_capacity(key.len() + 20);
        ch.extend_from_slice(b"__keyspace@");
        ch.extend_from_slice(itoa::Buffer::new().format(db).as_bytes());
        ch.extend_from_slice(b"__:");
        ch.extend_from_slice(key);
        let me1 = me.as_mut().map(Publisher::reborrow);
        srv.pubsub.publish(srv, &ch, event.as_bytes(), me1);
    }
    if flags & KEYEVENT != 0 {
        let mut ch = Vec::with_capacity(event.len() + 20);
        ch.extend_from_slice(b"__keyevent@");
        ch.extend_from_slice(itoa::Buffer::new().format(db).as_bytes());
        ch.extend_from_slice(b"__:");
        ch.extend_from_slice(event.as_bytes());
        srv.pubsub.publish(srv, &ch, key, me);
    }
}

/// Whether events of `class` are published right now (to skip work, such as checking whether
/// a key is new, that only an event needs).
#[inline]
pub fn wants(ctx: &Ctx<'_, '_>, class: u32) -> bool {
    let flags = ctx.srv.hot.notify_flags.load(Relaxed);
    flags & class != 0 && flags & (KEYSPACE | KEYEVENT) != 0
}

/// Whether creating `key` (in the current database) now would be a `new` event (class `n`
/// enabled and no live key there): collection commands call it before they create their key,
/// then emit `new` before their own event, as Redis's `dbAdd` does.
pub fn new_key_pending(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> bool {
    if !wants(ctx, NEW) {
        return false;
    }
    let now = ctx.clock.ms;
    ctx.shard(key)
        .is_ok_and(|s| s.peek(key).is_none_or(|e| e.is_expired(now)))
}

/// Publishes a keyspace event for `key` in the client's current database if the class is
/// enabled.
pub fn keyspace_event(ctx: &mut Ctx<'_, '_>, class: u32, event: &str, key: &[u8]) {
    let db = ctx.client.db;
    keyspace_event_in(ctx, db, class, event, key);
}

/// [`keyspace_event`] for a key of database `db` (MOVE, COPY ... DB).
pub fn keyspace_event_in(ctx: &mut Ctx<'_, '_>, db: u32, class: u32, event: &str, key: &[u8]) {
    let flags = ctx.srv.hot.notify_flags.load(Relaxed);
    if flags & class == 0 || flags & (KEYSPACE | KEYEVENT) == 0 {
        return;
    }
    if flags & EXPIRED != 0 {
        flush_expired(ctx);
    }
    let me = Publisher::of(ctx.client, ctx.reply.proto());
    publish_event(ctx.srv, flags, db, event, key, Some(me));
}

/// Publishes `expired` events for the keys the shards held by the running command expired
/// (and invalidates them for tracking clients).
pub fn flush_expired(ctx: &mut Ctx<'_, '_>) {
    drain_expired(ctx);
}

/// Drains the keys the command expired (see [`flush_expired`]) and returns them, for
/// propagation as `DEL`s (see [`crate::propagate`]).
pub fn take_expired_for_propagation(ctx: &mut Ctx<'_, '_>) -> Vec<(u32, Box<[u8]>)> {
    drain_expired(ctx)
}

/// Publishes and returns the keys the held shards expired since the last drain.
fn drain_expired(ctx: &mut Ctx<'_, '_>) -> Vec<(u32, Box<[u8]>)> {
    let flags = ctx.srv.hot.notify_flags.load(Relaxed);
    if !expired_logging(ctx.srv) {
        return Vec::new();
    }
    let mut keys: Vec<(u32, Box<[u8]>)> = Vec::new();
    for ((db, _), shard) in ctx.locks.all_held() {
        for k in shard.drain_expired() {
            crate::tracking::invalidate_key(ctx.srv, None, &k);
            keys.push((db, k));
        }
    }
    if expired_wanted(flags) {
        for (db, k) in &keys {
            let me = Publisher::of(ctx.client, ctx.reply.proto());
            publish_event(ctx.srv, flags, *db, "expired", k, Some(me));
        }
    }
    keys
}

/// After a command: publishes what it expired and did not announce yet.
#[inline]
pub fn after_command(ctx: &mut Ctx<'_, '_>) {
    if ctx.srv.hot.notify_flags.load(Relaxed) & EXPIRED != 0
        || ctx.srv.tracking.tracking_clients() > 0
    {
        flush_expired(ctx);
    }
}

/// Publishes `expired` events for keys expired outside a command (the active expiry cycle),
/// and invalidates them for tracking clients.
pub fn publish_expired(srv: &Server, db: u32, keys: &[Box<[u8]>]) {
    for k in keys {
        crate::tracking::invalidate_key(srv, None, k);
    }
    let flags = srv.hot.notify_flags.load(Relaxed);
    if !expired_wanted(flags) {
        return;
    }
    for k in keys {
        publish_event(srv, flags, db, "expired", k, None);
    }
}

/// Events of the active hash-field expiry (Redis 7.4): `hexpired` for each hash that lost
/// fields, then `del` when that emptied it (`keys`: (key, deleted)).
pub fn publish_hash_expired(srv: &Server, db: u32, keys: &[(Box<[u8]>, bool)]) {
    let flags = srv.hot.notify_flags.load(Relaxed);
    if keys.is_empty() || flags & (KEYSPACE | KEYEVENT) == 0 {
        return;
    }
    for (k, deleted) in keys {
        if flags & HASH != 0 {
            publish_event(srv, flags, db, "hexpired", k, None);
        }
        if *deleted && flags & GENERIC != 0 {
            publish_event(srv, flags, db, "del", k, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_as_redis() {
        assert_eq!(parse_flags(""), 0);
        assert_eq!(parse_flags("KEA"), KEYSPACE | KEYEVENT | ALL);
        assert_eq!(parse_flags("Ex"), KEYEVENT | EXPIRED);
        assert_eq!(parse_flags("A") & (NEW | KEY_MISS), 0);
        assert_eq!(parse_flags("Kgn$"), KEYSPACE | GENERIC | NEW | STRING);
        assert!(expired_wanted(parse_flags("Kx")));
        assert!(!expired_wanted(parse_flags("x")));
        assert!(!expired_wanted(parse_flags("KEg")));
    }
}
