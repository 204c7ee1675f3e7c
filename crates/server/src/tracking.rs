//! Client-side caching (CLIENT TRACKING): which clients may hold which keys, and the
//! invalidation messages sent when those keys change.
//!
//! # Design
//! - One server-wide [`Registry`] behind a single mutex holds Redis's three structures: the
//!   tracking table (key → ids of the clients that read it, default mode), the prefix table
//!   (BCAST prefix → subscribed clients + keys modified under it and not yet announced) and the
//!   shared view of every tracking client (redirect, BCAST/NOLOOP flags, its mailbox). Keys
//!   are database-agnostic, as in Redis.
//! - Hooks: [`after_call`] (after every command: remembers the keys of a read-only command for
//!   a tracking client, as Redis's `trackingRememberKeys`; clears the CLIENT CACHING flag; sends
//!   the BCAST messages the command caused), [`invalidate_key`] (called by
//!   `watch::signal_modified`, i.e. Redis's `signalModifiedKey` → `trackingInvalidateKey`),
//!   [`invalidate_on_flush`] (FLUSHDB/FLUSHALL: a null key list to every tracking client) and
//!   [`limit_table`] (before a command: `tracking-table-max-keys`).
//! - Cost when nobody tracks: every hook reads one atomic (`in_use`, the number of
//!   remembered keys plus BCAST prefixes, or `clients`) and returns.
//! - Delivery goes through the target's pub/sub [`Mailbox`] (every connection has one): RESP3
//!   clients get a `>2 invalidate [keys]` push; a RESP2 client gets nothing unless it
//!   redirects to a client in Pub/Sub mode, which then gets a `message` on
//!   `__redis__:invalidate` whose payload is the key array. A message to the client running
//!   the command is queued in its own mailbox, so it goes out after the command's reply, as
//!   Redis defers it.
//!
//! Lock order: the registry mutex is taken while shard locks are held (never the other way
//! round); under it only leaf locks are taken (mailboxes, the client table, client info).

use crate::client::{Client, ClientKind};
use crate::pubsub::Mailbox;
use crate::server::Server;
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// The channel RESP2 redirect targets receive invalidations on.
pub const INVALIDATE_CHANNEL: &[u8] = b"__redis__:invalidate";

/// The tracking options of a client, owned by its connection (Redis's `CLIENT_TRACKING*`
/// flags and `client_tracking_redirection`).
#[derive(Clone, Debug, Default)]
pub struct ClientTracking {
    /// CLIENT TRACKING ON.
    pub on: bool,
    /// BCAST mode.
    pub bcast: bool,
    /// OPTIN mode: only keys read right after CLIENT CACHING YES are remembered.
    pub optin: bool,
    /// OPTOUT mode: keys read right after CLIENT CACHING NO are not remembered.
    pub optout: bool,
    /// NOLOOP: no invalidation for keys this client modified itself.
    pub noloop: bool,
    /// CLIENT CACHING YES/NO was given for the next command.
    pub caching: bool,
    /// The client invalidations are sent to (0: this client).
    pub redirect: u64,
}

/// The part of a tracking client other threads need.
struct Tracker {
    mailbox: Arc<Mailbox>,
    redirect: u64,
    bcast: bool,
    noloop: bool,
    /// Redis's `CLIENT_TRACKING_BROKEN_REDIR`: the redirect client went away.
    broken: bool,
    /// BCAST prefixes, in Redis's (sorted) order.
    prefixes: BTreeSet<Bytes>,
}

/// One BCAST prefix.
#[derive(Default)]
struct Prefix {
    clients: Vec<u64>,
    /// Keys modified under the prefix since the last broadcast → who modified them (0: no
    /// client).
    pending: BTreeMap<Bytes, u64>,
}

#[derive(Default)]
struct Inner {
    table: HashMap<Bytes, Vec<u64>>,
    items: usize,
    prefixes: BTreeMap<Bytes, Prefix>,
    clients: HashMap<u64, Tracker>,
}

/// The server-wide tracking state.
#[derive(Default)]
pub struct Registry {
    /// Clients with tracking on (INFO `tracking_clients`).
    clients: AtomicUsize,
    /// Remembered keys + BCAST prefixes: zero means modifications have nothing to do.
    in_use: AtomicUsize,
    /// Some prefix has keys to broadcast.
    bcast_pending: AtomicBool,
    inner: Mutex<Inner>,
}

impl Inner {
    fn sync(&self, reg: &Registry) {
        reg.in_use
            .store(self.table.len() + self.prefixes.len(), Relaxed);
    }
}

impl Registry {
    /// Number of clients with tracking on (INFO `tracking_clients`).
    pub fn tracking_clients(&self) -> usize {
        self.clients.load(Relaxed)
    }

    /// (keys in the tracking table, client ids over all keys, BCAST prefixes): INFO
    /// `tracking_total_keys`, `tracking_total_items`, `tracking_total_prefixes`.
    pub fn totals(&self) -> (usize, usize, usize) {
        if self.in_use.load(Relaxed) == 0 {
            return (0, 0, 0);
        }
        let g = self.inner.lock();
        (g.table.len(), g.items, g.prefixes.len())
    }

    /// The redirect of client `id` as CLIENT LIST `redir=` shows it (-1 when not tracking).
    pub fn redir_of(&self, id: u64) -> i64 {
        if self.clients.load(Relaxed) == 0 {
            return -1;
        }
        self.inner
            .lock()
            .clients
            .get(&id)
            .map_or(-1, |t| t.redirect as i64)
    }

    /// CLIENT LIST flag letters of client `id` (`t`, `R`, `B`, in Redis's order).
    pub fn flags_of(&self, id: u64) -> &'static str {
        if self.clients.load(Relaxed) == 0 {
            return "";
        }
        match self.inner.lock().clients.get(&id) {
            None => "",
            Some(t) => match (t.broken, t.bcast) {
                (false, false) => "t",
                (true, false) => "tR",
                (false, true) => "tB",
                (true, true) => "tRB",
            },
        }
    }

    /// Whether client `id`'s redirect is broken (CLIENT TRACKINGINFO `broken_redirect`).
    pub fn is_broken(&self, id: u64) -> bool {
        self.clients.load(Relaxed) > 0
            && self.inner.lock().clients.get(&id).is_some_and(|t| t.broken)
    }

    /// The BCAST prefixes of client `id`, sorted.
    pub fn prefixes_of(&self, id: u64) -> Vec<Bytes> {
        self.inner
            .lock()
            .clients
            .get(&id)
            .map(|t| t.prefixes.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Whether one of `a`, `b` is a prefix of the other (Redis's `stringCheckPrefix`).
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// Redis's `checkPrefixCollisionsOrReply`: new prefixes must not overlap the client's existing
/// ones nor each other.
pub fn check_prefixes(srv: &Server, id: u64, new: &[Bytes]) -> Result<(), String> {
    let existing = srv.tracking.prefixes_of(id);
    for (i, p) in new.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
            return Err(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(e)
            ));
        }
        if let Some(o) = new
            .get(i + 1..)
            .unwrap_or_default()
            .iter()
            .find(|o| overlap(p, o))
        {
            return Err(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(o)
            ));
        }
    }
    Ok(())
}

/// Redis's `enableTracking`: turns tracking on (or changes its options) for `client`; `opts`
/// carries the new mode, `prefixes` the BCAST prefixes to add (none: the empty prefix).
/// `held`: the shards the running command holds (see [`crate::notify::apply_expired_logging`]).
pub fn enable(
    srv: &Server,
    client: &mut Client,
    opts: ClientTracking,
    prefixes: &[Bytes],
    held: Option<&mut crate::keyspace::LockSet<'_>>,
) {
    let reg = &srv.tracking;
    let id = client.id;
    let mailbox = client.subs.mailbox.clone().unwrap_or_else(|| {
        let mb = Arc::new(Mailbox::new(client.handle.clone(), false));
        client.subs.mailbox = Some(mb.clone());
        mb
    });
    let mut g = reg.inner.lock();
    let first = !client.tracking.on && reg.clients.fetch_add(1, Relaxed) == 0;
    let t = g.clients.entry(id).or_insert_with(|| Tracker {
        mailbox,
        redirect: 0,
        bcast: false,
        noloop: false,
        broken: false,
        prefixes: BTreeSet::new(),
    });
    t.redirect = opts.redirect;
    t.bcast = opts.bcast;
    t.noloop = opts.noloop;
    t.broken = false;
    let mut added = Vec::new();
    if opts.bcast {
        let empty = [Bytes::new()];
        let list = if prefixes.is_empty() {
            &empty[..]
        } else {
            prefixes
        };
        for p in list {
            if t.prefixes.insert(p.clone()) {
                added.push(p.clone());
            }
        }
    }
    for p in added {
        let e = g.prefixes.entry(p).or_default();
        if !e.clients.contains(&id) {
            e.clients.push(id);
        }
    }
    g.sync(reg);
    drop(g);
    client.tracking = ClientTracking {
        on: true,
        caching: false,
        ..opts
    };
    if first {
        // Expired keys must now be invalidated: the shards start recording them.
        crate::notify::apply_expired_logging(srv, held);
    }
}

/// Redis's `disableTracking` (CLIENT TRACKING OFF, RESET, disconnection). Keys the client
/// read stay in the table until they are invalidated, as in Redis.
pub fn disable(srv: &Server, client: &mut Client, held: Option<&mut crate::keyspace::LockSet<'_>>) {
    if !client.tracking.on {
        return;
    }
    let reg = &srv.tracking;
    let mut g = reg.inner.lock();
    if let Some(t) = g.clients.remove(&client.id) {
        for p in t.prefixes {
            if let Some(e) = g.prefixes.get_mut(&p) {
                e.clients.retain(|c| *c != client.id);
                if e.clients.is_empty() {
                    g.prefixes.remove(&p);
                }
            }
        }
    }
    g.sync(reg);
    drop(g);
    let last = reg.clients.fetch_sub(1, Relaxed) == 1;
    client.tracking = ClientTracking::default();
    if last {
        crate::notify::apply_expired_logging(srv, held);
    }
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(b.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// The RESP array of `keys`.
fn key_array<'a>(keys: impl ExactSizeIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(keys.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for k in keys {
        bulk(&mut out, k);
    }
    out
}

/// Redis's `sendTrackingMessage`: sends `payload` (the key array, or a null) to tracking client
/// `t` or to its redirect target.
fn send(srv: &Server, t: &mut Tracker, payload: &[u8]) {
    let mut frame = Vec::with_capacity(payload.len() + 48);
    if t.redirect != 0 {
        let target = srv
            .clients
            .get(t.redirect)
            .filter(|h| !h.is_killed())
            .and_then(|h| {
                h.mailbox
                    .get()
                    .and_then(std::sync::Weak::upgrade)
                    .map(|m| (h, m))
            });
        let Some((h, mb)) = target else {
            t.broken = true;
            if t.mailbox.is_resp3() {
                frame.extend_from_slice(b"*2\r\n");
                bulk(&mut frame, b"tracking-redir-broken");
                frame.push(b':');
                frame.extend_from_slice(itoa::Buffer::new().format(t.redirect).as_bytes());
                frame.extend_from_slice(b"\r\n");
                t.mailbox.deliver_frame(srv, &frame);
            }
            return;
        };
        if mb.is_resp3() {
            frame.extend_from_slice(b"*2\r\n");
            bulk(&mut frame, b"invalidate");
        } else if h.info.lock().kind == ClientKind::PubSub {
            frame.extend_from_slice(b"*3\r\n");
            bulk(&mut frame, b"message");
            bulk(&mut frame, INVALIDATE_CHANNEL);
        } else {
            return;
        }
        frame.extend_from_slice(payload);
        mb.deliver_frame(srv, &frame);
        return;
    }
    if !t.mailbox.is_resp3() {
        return;
    }
    frame.extend_from_slice(b"*2\r\n");
    bulk(&mut frame, b"invalidate");
    frame.extend_from_slice(payload);
    t.mailbox.deliver_frame(srv, &frame);
}

/// Redis's `trackingInvalidateKey`: `key` was modified (by client `by`, if any). Clients that
/// read it get an invalidation; BCAST prefixes matching it queue it for [`broadcast`].
#[inline]
pub fn invalidate_key(srv: &Server, by: Option<u64>, key: &[u8]) {
    let reg = &srv.tracking;
    if reg.in_use.load(Relaxed) == 0 {
        return;
    }
    invalidate_slow(srv, by, key);
}

fn invalidate_slow(srv: &Server, by: Option<u64>, key: &[u8]) {
    let reg = &srv.tracking;
    let mut g = reg.inner.lock();
    let inner = &mut *g;
    if !inner.prefixes.is_empty() {
        let mut any = false;
        for (p, e) in inner.prefixes.iter_mut() {
            if key.starts_with(p) {
                e.pending
                    .insert(Bytes::copy_from_slice(key), by.unwrap_or(0));
                any = true;
            }
        }
        if any {
            reg.bcast_pending.store(true, Relaxed);
        }
    }
    let Some(ids) = inner.table.remove(key) else {
        return;
    };
    inner.items -= ids.len();
    inner.sync(reg);
    let payload = key_array(std::iter::once(key));
    for id in ids {
        let Some(t) = inner.clients.get_mut(&id) else {
            continue;
        };
        if t.bcast || (t.noloop && by == Some(id)) {
            continue;
        }
        send(srv, t, &payload);
    }
}

/// Redis's `trackingBroadcastInvalidationMessages`: for each BCAST prefix with modified keys,
/// one message per subscribed client with the keys (sorted), minus the keys a NOLOOP client
/// modified itself.
#[inline]
pub fn broadcast(srv: &Server) {
    let reg = &srv.tracking;
    // A plain load first: the common case must not write the shared cache line.
    if !reg.bcast_pending.load(Relaxed) || !reg.bcast_pending.swap(false, Relaxed) {
        return;
    }
    let mut g = reg.inner.lock();
    let inner = &mut *g;
    for e in inner.prefixes.values_mut() {
        if e.pending.is_empty() {
            continue;
        }
        let pending = std::mem::take(&mut e.pending);
        let all = key_array(pending.keys().map(|k| &k[..]));
        for id in &e.clients {
            let Some(t) = inner.clients.get_mut(id) else {
                continue;
            };
            if t.noloop {
                let mine: Vec<&[u8]> = pending
                    .iter()
                    .filter(|(_, by)| **by != *id)
                    .map(|(k, _)| &k[..])
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                send(srv, t, &key_array(mine.into_iter()));
            } else {
                send(srv, t, &all);
            }
        }
    }
}

/// Redis's `trackingInvalidateKeysOnFlush`: every tracking client gets a null key list (in
/// its own protocol's null), and the tracking table is emptied.
pub fn invalidate_on_flush(srv: &Server) {
    let reg = &srv.tracking;
    if reg.clients.load(Relaxed) == 0 && reg.in_use.load(Relaxed) == 0 {
        return;
    }
    let mut g = reg.inner.lock();
    let inner = &mut *g;
    for t in inner.clients.values_mut() {
        let null: &[u8] = if t.mailbox.is_resp3() {
            b"_\r\n"
        } else {
            b"$-1\r\n"
        };
        send(srv, t, null);
    }
    inner.table = HashMap::new();
    inner.items = 0;
    inner.sync(reg);
}

/// Redis's `trackingLimitUsedSlots`: while the table holds more keys than
/// `tracking-table-max-keys` (0: no limit), invalidates keys (arbitrary ones) to get back
/// under it. Called before each command while some client tracks.
pub fn limit_table(srv: &Server) {
    let reg = &srv.tracking;
    let max = srv.hot.tracking_table_max_keys.load(Relaxed) as usize;
    if max == 0 || reg.in_use.load(Relaxed) <= max {
        return;
    }
    loop {
        let key = {
            let g = reg.inner.lock();
            if g.table.len() <= max {
                return;
            }
            match g.table.keys().next() {
                Some(k) => k.clone(),
                None => return,
            }
        };
        invalidate_slow(srv, None, &key);
    }
}

/// After a command ran for `client` (directly, in EXEC or from a script): remembers the keys
/// of a read-only command for a default-mode tracking client (honouring OPTIN/OPTOUT and
/// CLIENT CACHING), then clears the CACHING flag unless the command was a CLIENT subcommand or a
/// transaction is open.
#[inline]
pub fn after_call(
    srv: &Server,
    client: &mut Client,
    cmd: &crate::dispatch::Command,
    argv: &[Bytes],
) {
    if !client.tracking.on {
        return;
    }
    remember(srv, client, cmd, argv);
    // Redis's resetClient keeps the flag across any CLIENT subcommand and inside MULTI.
    if client.tracking.caching && !cmd.name.starts_with("client|") && client.multi.is_none() {
        client.tracking.caching = false;
    }
}

/// For a command a script runs: remembers its keys for the calling client like
/// [`after_call`], but leaves the CLIENT CACHING flag alone (it covers the whole script, as in
/// Redis, where the script's commands run on another client).
#[inline]
pub fn remember_in_script(
    srv: &Server,
    client: &mut Client,
    cmd: &crate::dispatch::Command,
    argv: &[Bytes],
) {
    if client.tracking.on {
        remember(srv, client, cmd, argv);
    }
}

fn remember(srv: &Server, client: &Client, cmd: &crate::dispatch::Command, argv: &[Bytes]) {
    use crate::spec::flags;
    let t = &client.tracking;
    if t.bcast || !cmd.has(flags::READONLY) || cmd.has(flags::PUBSUB) {
        return;
    }
    if matches!(cmd.name, "eval_ro" | "evalsha_ro" | "fcall_ro") {
        return;
    }
    if (t.optin && !t.caching) || (t.optout && t.caching) {
        return;
    }
    let args: Vec<&[u8]> = argv.iter().map(|b| &b[..]).collect();
    let keys = crate::spec::keys_for_dispatch(cmd.spec, &args);
    if keys.is_empty() {
        return;
    }
    let reg = &srv.tracking;
    let mut g = reg.inner.lock();
    for (i, _) in keys {
        let Some(k) = argv.get(i) else {
            continue;
        };
        let ids = g.table.entry(k.clone()).or_default();
        if !ids.contains(&client.id) {
            ids.push(client.id);
            g.items += 1;
        }
    }
    g.sync(reg);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_overlap_when_one_starts_the_other() {
        assert!(overlap(b"foo", b"foobar"));
        assert!(overlap(b"foobar", b"foo"));
        assert!(overlap(b"", b"x"));
        assert!(!overlap(b"foo", b"fob"));
    }

    #[test]
    fn key_arrays_are_resp() {
        assert_eq!(
            key_array([&b"a"[..], b"bc"].into_iter()),
            b"*2\r\n$1\r\na\r\n$2\r\nbc\r\n".to_vec()
        );
    }
}
