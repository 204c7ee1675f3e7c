//! WATCH bookkeeping: the hook commands call when they modify a key (Redis's
//! `signalModifiedKey`), which invalidates the transactions of clients watching it and the
//! client-side caches tracking it. The transaction layer fills it in.

use crate::dispatch::Ctx;

/// Records that `key` in database `db` was modified by the running command.
pub fn signal_modified(ctx: &mut Ctx<'_, '_>, db: u32, key: &[u8]) {
    let _ = (ctx, db, key);
}
