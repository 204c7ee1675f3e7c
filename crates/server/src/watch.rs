//! WATCH bookkeeping: the hook commands call when they modify a key (Redis's
//! `signalModifiedKey`), which invalidates the transactions of clients watching it.
//!
//! # Design
//! A server-wide [`Registry`] maps `(db, key)` to the clients watching it. Each client owns one
//! [`WatchState`] (shared through an `Arc` with every registry entry of that client): its
//! `dirty` flag is Redis's `CLIENT_DIRTY_CAS`, set by whichever thread modifies a watched key.
//!
//! Cost when nobody watches: [`signal_modified`] reads one atomic counter (the number of watched
//! `(db, key)` pairs) and returns. The ordering is sound without stronger atomics: WATCH
//! registers a key while holding that key's shard lock, and every writer signals while holding
//! the same shard lock, so the lock orders the registration before any later write.
//!
//! Expiry: the engine removes expired keys silently (lazily or in the active cycle), so instead
//! of a hook on every expiry path, EXEC checks each watched key under its locks: a key that was
//! live when WATCHed and is now expired or gone makes EXEC fail. Every other way a key can go
//! away (DEL, RENAME, FLUSHDB, ...) signals the modification anyway, so this is Redis 7's
//! `isWatchedKeyExpired` plus its signal on expired-key deletion.
//!
//! Lock order: the registry mutex is a leaf lock (taken while shard locks are held, never the
//! other way round).

use crate::client::Client;
use crate::dispatch::Ctx;
use crate::keyspace::{shard_of, LockPlan, LockSet};
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// A client's WATCH flag, shared with the registry entries of its watched keys.
#[derive(Debug, Default)]
pub struct WatchState {
    /// Redis's `CLIENT_DIRTY_CAS`: a watched key was modified; the next EXEC fails.
    pub dirty: AtomicBool,
}

/// One key a client watches.
#[derive(Clone, Debug)]
pub struct WatchedKey {
    /// The database it was WATCHed in.
    pub db: u32,
    /// The key.
    pub key: Bytes,
    /// The key held a live value when WATCHed.
    pub existed: bool,
    /// The key was present but already logically expired when WATCHed (Redis's `wk->expired`).
    pub expired: bool,
}

/// A client's watched keys and flag (`Client::watch`).
#[derive(Debug, Default)]
pub struct ClientWatch {
    /// The watched keys, in WATCH order.
    pub keys: Vec<WatchedKey>,
    /// The flag other clients set.
    pub state: Arc<WatchState>,
}

impl ClientWatch {
    /// Whether a watched key was touched since it was WATCHed (CLIENT_DIRTY_CAS).
    pub fn is_dirty(&self) -> bool {
        self.state.dirty.load(Relaxed)
    }

    /// The shards of every watched key, for EXEC's lock plan.
    pub fn lock_plan(&self) -> LockPlan {
        if self.keys.is_empty() {
            return LockPlan::None;
        }
        LockPlan::Shards(
            self.keys
                .iter()
                .map(|w| (w.db, shard_of(&w.key) as u32))
                .collect(),
        )
        .normalise()
    }
}

/// A watcher of one key: the client's flag, and whether the key was already expired when it
/// was WATCHed (updated as Redis updates `wk->expired` on FLUSHDB / SWAPDB).
type Watcher = (Arc<WatchState>, bool);

/// Who watches what, server-wide.
#[derive(Default)]
pub struct Registry {
    /// Number of watched (db, key) pairs: the fast path of [`signal_modified`].
    count: AtomicUsize,
    /// Number of clients watching at least one key (INFO `watching_clients`).
    clients: AtomicUsize,
    /// db → key → watchers.
    map: Mutex<HashMap<u32, HashMap<Bytes, Vec<Watcher>>>>,
}

impl Registry {
    /// Number of distinct watched (db, key) pairs (INFO `total_watched_keys`).
    pub fn watched_keys(&self) -> usize {
        self.count.load(Relaxed)
    }

    /// Number of clients watching at least one key (INFO `watching_clients`).
    pub fn watching_clients(&self) -> usize {
        self.clients.load(Relaxed)
    }

    fn touch(&self, db: u32, key: &[u8]) {
        let map = self.map.lock();
        if let Some(ws) = map.get(&db).and_then(|d| d.get(key)) {
            for (w, _) in ws {
                w.dirty.store(true, Relaxed);
            }
        }
    }

    fn add(&self, db: u32, key: Bytes, w: &Arc<WatchState>, expired: bool) {
        let mut map = self.map.lock();
        let v = map.entry(db).or_default().entry(key).or_insert_with(|| {
            self.count.fetch_add(1, Relaxed);
            Vec::new()
        });
        v.push((w.clone(), expired));
    }

    fn remove_all(&self, cw: &ClientWatch) {
        let mut map = self.map.lock();
        for wk in &cw.keys {
            let Some(d) = map.get_mut(&wk.db) else {
                continue;
            };
            if let Some(v) = d.get_mut(&wk.key[..]) {
                v.retain(|(w, _)| !Arc::ptr_eq(w, &cw.state));
                if v.is_empty() {
                    d.remove(&wk.key[..]);
                    self.count.fetch_sub(1, Relaxed);
                }
            }
            if d.is_empty() {
                map.remove(&wk.db);
            }
        }
    }
}

/// Records that `key` in database `db` was modified by the running command: every client
/// watching it gets its transaction flagged (EXEC will reply a null array). O(1) when no client
/// watches any key.
#[inline]
pub fn signal_modified(ctx: &mut Ctx<'_, '_>, db: u32, key: &[u8]) {
    crate::disk::note_modified(ctx.client, db, key);
    crate::tracking::invalidate_key(ctx.srv, Some(ctx.client.id), key);
    let reg = &ctx.srv.watches;
    if reg.count.load(Relaxed) == 0 {
        return;
    }
    reg.touch(db, key);
}

/// [`signal_modified`] outside a command (the active expiry cycle): flags the watchers of
/// `key` in `db`. Call it with the key's shard locked (see the module docs on ordering).
pub fn signal_modified_in(reg: &Registry, db: u32, key: &[u8]) {
    if reg.count.load(Relaxed) == 0 {
        return;
    }
    reg.touch(db, key);
}

/// Redis's `touchAllWatchedKeysInDb`: database `emptied` is about to be flushed (or, with
/// `replaced_with`, swapped with that database). Watchers of keys that exist in `emptied` (or in
/// `replaced_with`) get their transactions flagged, with Redis's refinements for keys that were
/// already expired when WATCHed. Call it before the change, with both databases locked.
pub fn touch_all_in_db(
    locks: &mut LockSet<'_>,
    reg: &Registry,
    emptied: u32,
    replaced_with: Option<u32>,
) {
    if reg.count.load(Relaxed) == 0 {
        return;
    }
    let now = crate::util::now_ms();
    let mut map = reg.map.lock();
    let Some(keys) = map.get_mut(&emptied) else {
        return;
    };
    for (key, watchers) in keys.iter_mut() {
        let s = shard_of(key) as u32;
        let in_emptied = locks
            .shard(emptied, s)
            .is_some_and(|sh| sh.peek(key).is_some());
        // Some(expired?) when the key is present in the replacing database.
        let in_replacing = replaced_with.and_then(|r| {
            locks
                .shard(r, s)
                .and_then(|sh| sh.peek(key).map(|e| e.is_expired(now)))
        });
        if !in_emptied && in_replacing.is_none() {
            continue;
        }
        for (w, expired) in watchers.iter_mut() {
            if *expired {
                match in_replacing {
                    // The expired key is deleted: logically no change.
                    None => {
                        *expired = false;
                        continue;
                    }
                    // Replaced by a key that is expired too: still no change.
                    Some(true) => continue,
                    Some(false) => {}
                }
            } else if !in_emptied && in_replacing == Some(true) {
                // A missing key replaced with an already expired one.
                *expired = true;
                continue;
            }
            w.dirty.store(true, Relaxed);
        }
    }
}

/// WATCH of `key` in the client's db: registers it unless already watched. `shard` is the
/// locked shard of the key (WATCH holds the shards of its keys).
pub fn watch_key(
    reg: &Registry,
    client: &mut Client,
    shard: &ferrokv_engine::Shard,
    key: &Bytes,
    now_ms: i64,
) {
    let db = client.db;
    if client
        .watch
        .keys
        .iter()
        .any(|w| w.db == db && w.key == *key)
    {
        return;
    }
    let (existed, expired) = match shard.peek(key) {
        Some(e) if e.is_expired(now_ms) => (false, true),
        Some(_) => (true, false),
        None => (false, false),
    };
    if client.watch.keys.is_empty() {
        reg.clients.fetch_add(1, Relaxed);
    }
    reg.add(db, key.clone(), &client.watch.state, expired);
    client.watch.keys.push(WatchedKey {
        db,
        key: key.clone(),
        existed,
        expired,
    });
}

/// Forgets every watched key of the client (EXEC, DISCARD, UNWATCH, RESET, disconnection) and
/// clears its dirty flag.
pub fn unwatch_all(reg: &Registry, client: &mut Client) {
    if !client.watch.keys.is_empty() {
        reg.remove_all(&client.watch);
        client.watch.keys.clear();
        reg.clients.fetch_sub(1, Relaxed);
    }
    // No registry entry points at the flag any more: nobody else can set it now.
    client.watch.state.dirty.store(false, Relaxed);
}

/// Redis 7's `isWatchedKeyExpired`, extended to keys the engine already removed on expiry: a
/// watched key that was live when WATCHed and is now expired or gone. Needs the shards of the
/// watched keys locked (EXEC's plan includes them).
pub fn watched_key_expired(client: &Client, locks: &mut LockSet<'_>, now_ms: i64) -> bool {
    client.watch.keys.iter().any(|w| {
        if w.expired {
            return false;
        }
        let Some(sh) = locks.shard(w.db, shard_of(&w.key) as u32) else {
            return false;
        };
        match sh.peek(&w.key) {
            Some(e) => e.is_expired(now_ms),
            None => w.existed,
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::client::ClientRegistry;

    fn client(reg: &ClientRegistry) -> Client {
        let a = "127.0.0.1:1".parse().unwrap();
        Client::new(reg.register(a, a), true)
    }

    #[test]
    fn registry_counts_and_flags_watchers() {
        let clients = ClientRegistry::default();
        let reg = Registry::default();
        let shard = ferrokv_engine::Shard::new();
        let (mut a, mut b) = (client(&clients), client(&clients));
        let k = Bytes::from_static(b"k");
        watch_key(&reg, &mut a, &shard, &k, 0);
        watch_key(&reg, &mut a, &shard, &k, 0); // twice: no-op
        watch_key(&reg, &mut b, &shard, &k, 0);
        watch_key(&reg, &mut b, &shard, &Bytes::from_static(b"j"), 0);
        assert_eq!((reg.watched_keys(), reg.watching_clients()), (2, 2));
        assert_eq!(a.watch.keys.len(), 1);
        reg.touch(0, b"j");
        assert!(!a.watch.is_dirty() && b.watch.is_dirty());
        reg.touch(1, b"k"); // another database
        assert!(!a.watch.is_dirty());
        reg.touch(0, b"k");
        assert!(a.watch.is_dirty());
        unwatch_all(&reg, &mut a);
        assert!(!a.watch.is_dirty() && a.watch.keys.is_empty());
        assert_eq!((reg.watched_keys(), reg.watching_clients()), (2, 1));
        unwatch_all(&reg, &mut b);
        unwatch_all(&reg, &mut b);
        assert_eq!((reg.watched_keys(), reg.watching_clients()), (0, 0));
        assert!(reg.map.lock().is_empty());
    }
}
