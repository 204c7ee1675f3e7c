//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, BLMPOP, ...): parking a client on keys and
//! waking it when one of them may serve it.
//!
//! # Contract for handlers
//! A blocking handler first does what its non-blocking form would do. When no key can serve it,
//! it returns `ctx.block_on(keys, deadline, on_timeout)`: the client is parked on those keys (in
//! FIFO order per key) and, when a key is signalled ready (see [`crate::dispatch::Ctx::key_ready`],
//! called by every command that adds elements to a list / sorted set / stream, or creates such a
//! key), the *whole command is executed again* under the same locks; if it still finds nothing,
//! it calls `block_on` again and keeps waiting with its original deadline (the deadline passed
//! on re-execution is ignored). When the deadline passes, `on_timeout` is the reply. Inside
//! MULTI/EXEC or a script `block_on` replies `on_timeout` at once (Redis's rule).

use crate::dispatch::Ctx;
use crate::errors::CmdResult;

/// What a blocked command replies when it times out (or CLIENT UNBLOCK ... TIMEOUT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutReply {
    /// `*-1` (RESP2) / `_` (RESP3): BLPOP, BRPOP, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP, XREAD, and
    /// BLMOVE/BRPOPLPUSH (Redis answers every list block with a null array).
    NullArray,
    /// `$-1` (RESP2) / `_` (RESP3).
    NullBulk,
}

/// Whether the running command may block (not inside MULTI/EXEC or a script).
pub fn may_block(ctx: &Ctx<'_, '_>) -> bool {
    !ctx.client.nonblocking
}

/// Parks the client on `keys` until `deadline_ms` (unix ms; `None` = forever). See the module
/// docs. Until the blocking layer lands this answers as if the timeout had passed.
pub fn block(
    ctx: &mut Ctx<'_, '_>,
    keys: &[&[u8]],
    deadline_ms: Option<i64>,
    on_timeout: TimeoutReply,
) -> CmdResult {
    let _ = (keys, deadline_ms);
    write_timeout(ctx, on_timeout);
    Ok(())
}

/// Writes the timeout reply.
pub fn write_timeout(ctx: &mut Ctx<'_, '_>, on_timeout: TimeoutReply) {
    match on_timeout {
        TimeoutReply::NullArray => ctx.reply.null_array(),
        TimeoutReply::NullBulk => ctx.reply.null(),
    }
}

/// Records that `key` in `db` may now serve blocked clients (Redis's `signalKeyAsReady`).
pub fn signal_ready(ctx: &mut Ctx<'_, '_>, db: u32, key: &[u8]) {
    let _ = (ctx, db, key);
}
