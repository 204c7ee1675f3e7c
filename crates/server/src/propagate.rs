//! Propagation: what the append-only file (and, later, replicas) receive for each execution unit.
//!
//! Like Redis 7, ferrokv propagates *effects*, not requests, so that replaying the stream is
//! deterministic: `SET k v EX 10` becomes `SET k v PXAT <abs ms>`, SPOP becomes SREM of the popped
//! members, a script becomes the writes it made, a key found expired becomes `DEL`.
//!
//! # The model
//! * An **execution unit** is what one top-level request runs atomically: one command, a whole
//!   `EXEC`, or a whole script. Its effects are collected in [`Client::effects`] while it runs and
//!   handed to the AOF in one piece by [`end_unit`] *while the unit still holds its shard locks*,
//!   so two units that touch a common shard reach the file in the order they ran. Units on
//!   disjoint shards commute, so the file is always a prefix-consistent history.
//! * A unit with more than one effect is wrapped in `MULTI` ... `EXEC` so that replay applies it
//!   all or nothing (a truncated tail never leaves half a transaction).
//! * Every handler call goes through [`call_handler`]. After the handler, unless the handler
//!   said otherwise, a call that changed the dataset (its `dirty` counter grew) is propagated
//!   verbatim. A handler overrides that with [`Ctx::propagate`] (emit these commands instead;
//!   may be called several times) or [`Ctx::no_propagate`]. A call whose nested calls (EXEC's
//!   commands, a script's `redis.call`s) already produced effects is never propagated itself.
//! * Keys the call found expired (lazy expiry) are propagated as `DEL` before the call's own
//!   effects, as Redis does.
//! * Each effect carries the database it applies to; the AOF writer inserts `SELECT` when the
//!   database changes in the stream.
//!
//! Collection is off (no cost beyond one atomic load per call) while nothing consumes effects.
//!
//! What each command propagates (the rewrites made by the handlers, and where ferrokv follows
//! Redis 7.2 rather than 7.0) is listed in `docs/propagation.md`; `tests/aof_effects.rs`
//! checks it against the AOF redis-server writes.

use crate::client::Client;
use crate::dispatch::{Ctx, Handler};
use crate::errors::CmdResult;
use crate::server::Server;
use bytes::Bytes;

/// One command to propagate, in the database it applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effect {
    /// Database the command applies to.
    pub db: u32,
    /// The command, name first.
    pub argv: Vec<Bytes>,
}

/// The effects of the execution unit a client is running (see the module docs).
#[derive(Default, Debug)]
pub struct Effects {
    /// Effects collected so far, in order.
    pub unit: Vec<Effect>,
    /// Nesting depth of handler calls (EXEC → its commands, EVAL → `redis.call`).
    depth: u32,
    /// Set by [`Ctx::propagate`] / [`Ctx::no_propagate`] during the innermost call.
    overridden: bool,
    /// Effects produced so far (monotonic; a call compares it before and after to see whether
    /// its nested calls produced any, even if a nested EXEC already flushed them).
    produced: u64,
    /// AOF offset the client's last unit ended at: with `appendfsync always` its replies may
    /// be sent only once the file is synced up to here.
    pub aof_offset: u64,
}

/// Whether anything consumes effects (the AOF is on, or a rewrite is collecting its diff).
#[inline]
pub fn active(srv: &Server) -> bool {
    srv.persist.aof.collecting()
}

/// Calls `handler` for the command in `c`, collecting its effects when propagation is active.
/// Every handler call (top level, inside EXEC, from a script) goes through here.
#[inline]
pub fn call_handler(c: &mut Ctx<'_, '_>, handler: Handler) -> CmdResult {
    if !active(c.srv) {
        return crate::disk::call(c, handler);
    }
    let dirty_before = c.client.batch.dirty;
    let unit_before = c.client.effects.unit.len();
    let produced_before = c.client.effects.produced;
    let outer_override = std::mem::replace(&mut c.client.effects.overridden, false);
    c.client.effects.depth += 1;
    let result = crate::disk::call(c, handler);
    let fx = &mut c.client.effects;
    fx.depth -= 1;
    let overridden = std::mem::replace(&mut fx.overridden, outer_override);
    let nested = fx.produced > produced_before;
    if !overridden && !nested && c.client.batch.dirty > dirty_before {
        let effect = Effect {
            db: c.client.db,
            argv: c.argv.to_vec(),
        };
        fx.unit.push(effect);
        fx.produced += 1;
    }
    let expired = crate::notify::take_expired_for_propagation(c);
    if !expired.is_empty() {
        let name = expired_del_name(c.srv);
        let dels = expired.into_iter().map(|(db, key)| Effect {
            db,
            argv: vec![Bytes::from_static(name), Bytes::from(key.into_vec())],
        });
        let fx = &mut c.client.effects;
        let at = unit_before.min(fx.unit.len());
        let n = fx.unit.len();
        fx.unit.splice(at..at, dels);
        fx.produced += (fx.unit.len() - n) as u64;
    }
    result
}

impl Ctx<'_, '_> {
    /// Whether effects are being collected: handlers test it before building a rewritten
    /// command, so nothing is allocated for propagation while the AOF is off.
    #[inline]
    pub fn propagating(&self) -> bool {
        active(self.srv)
    }

    /// Propagates `argv` (name first) in the current database instead of the request itself.
    /// Call it once per command to emit; the request is then not propagated verbatim.
    pub fn propagate(&mut self, argv: Vec<Bytes>) {
        let db = self.client.db;
        self.propagate_in(db, argv);
    }

    /// [`Ctx::propagate`] for a command that applies to database `db`.
    pub fn propagate_in(&mut self, db: u32, argv: Vec<Bytes>) {
        let fx = &mut self.client.effects;
        fx.overridden = true;
        if active(self.srv) {
            fx.unit.push(Effect { db, argv });
            fx.produced += 1;
        }
    }

    /// The request is not propagated even though it changed the dataset (Redis's
    /// `preventCommandPropagation`).
    pub fn no_propagate(&mut self) {
        self.client.effects.overridden = true;
    }
}

/// Ends the client's execution unit: wraps it in MULTI/EXEC when it has several effects and
/// feeds it to the AOF. Call while the unit's shard locks are still held (see the module docs).
/// Does nothing inside a nested call, or when the unit produced no effect.
pub fn end_unit(srv: &Server, client: &mut Client) {
    if client.effects.depth == 0 {
        flush_unit(srv, client);
    }
}

/// [`end_unit`] even inside a handler call: for EXEC (and anything else that runs a batch of
/// commands under locks it releases before its own handler returns).
pub fn flush_unit(srv: &Server, client: &mut Client) {
    let fx = &mut client.effects;
    if fx.unit.is_empty() {
        return;
    }
    let mut unit = std::mem::take(&mut fx.unit);
    if unit.len() > 1 {
        // MULTI goes in the first effect's database and EXEC in the last one's, so a unit
        // that switched databases (SELECT inside EXEC or a script) adds no SELECT of its own.
        let first = unit.first().map(|e| e.db).unwrap_or(0);
        let last = unit.last().map(|e| e.db).unwrap_or(first);
        unit.insert(
            0,
            Effect {
                db: first,
                argv: vec![Bytes::from_static(b"MULTI")],
            },
        );
        unit.push(Effect {
            db: last,
            argv: vec![Bytes::from_static(b"EXEC")],
        });
    }
    fx.aof_offset = srv.persist.aof.feed(&unit);
    // Reuse the allocation for the next unit.
    unit.clear();
    client.effects.unit = unit;
}

/// Feeds effects produced outside any client (active expiry, eviction) as one unit each.
/// Call while holding the shard lock of the key(s) concerned.
pub fn feed_background(srv: &Server, effects: Vec<Effect>) {
    if effects.is_empty() || !active(srv) {
        return;
    }
    for e in effects {
        srv.persist.aof.feed(std::slice::from_ref(&e));
    }
}

/// `DEL key` in `db`, the effect of a key expiring or being evicted.
pub fn del_effect(db: u32, key: &[u8]) -> Effect {
    Effect {
        db,
        argv: vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(key)],
    }
}

/// The command that propagates the deletion of an expired key (lazily or by the active
/// cycle): `UNLINK` under `lazyfree-lazy-expire yes`, else `DEL`, as Redis's
/// `propagateDeletion`. Reads the configuration: call it once per batch of expired keys.
pub fn expired_del_name(srv: &Server) -> &'static [u8] {
    if srv.config.read().get_bool("lazyfree-lazy-expire") == Some(true) {
        b"UNLINK"
    } else {
        b"DEL"
    }
}

/// The effect of `key` of `db` having expired: `DEL key`, or `UNLINK key` when `name` (from
/// [`expired_del_name`]) says so.
pub fn expired_effect(name: &'static [u8], db: u32, key: &[u8]) -> Effect {
    Effect {
        db,
        argv: vec![Bytes::from_static(name), Bytes::copy_from_slice(key)],
    }
}

/// The argument for an integer (a time, a count) in a propagated command.
pub fn int_arg(v: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(v).as_bytes())
}

/// `PEXPIREAT key <at>`: the effect of any command that gave `key` a TTL.
pub fn pexpireat(key: &[u8], at_ms: i64) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"PEXPIREAT"),
        Bytes::copy_from_slice(key),
        int_arg(at_ms),
    ]
}

/// `DEL key`, or `UNLINK key` when `lazy`: the effect of a command that deleted `key` as a
/// side effect (an expiry time already in the past), following `lazyfree-lazy-expire`.
pub fn del_or_unlink(key: &[u8], lazy: bool) -> Vec<Bytes> {
    let name: &'static [u8] = if lazy { b"UNLINK" } else { b"DEL" };
    vec![Bytes::from_static(name), Bytes::copy_from_slice(key)]
}
