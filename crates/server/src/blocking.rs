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
//!
//! # How it works
//! * **Parking.** `block_on` (running under the command's shard locks) builds a [`Waiter`] (the
//!   request, the client's db / protocol / name, the deadline) and appends it to the FIFO queue
//!   of each of its keys in the server-wide [`Registry`], then leaves it in
//!   [`ClientState::parked`]. The connection loop (net.rs) takes it after `dispatch::execute`
//!   returns, flushes what it owes the client and awaits the waiter's mailbox, its deadline,
//!   CLIENT UNBLOCK, CLIENT KILL and the socket (to notice a disconnect). Requests pipelined
//!   after the blocking one stay unparsed in the input buffer meanwhile.
//! * **Signalling.** `key_ready` is O(1) when no client is blocked anywhere (one atomic load);
//!   otherwise it looks the key up in the registry's map and, when someone waits on it, records
//!   it in the *calling client's* ready list. Because parking happens under the waited key's
//!   shard lock and signalling under the writer's lock of the same shard, a push either sees the
//!   waiter or happened before the blocking command looked at the key: no lost wake-up.
//! * **Serving.** After the top-level `dispatch::execute` returns (so after a whole EXEC or
//!   script), net.rs calls [`after_command`]: the ready keys go to the registry's pending list
//!   and the thread that wins the registry's serve lock drains it. For each key, in FIFO order,
//!   it *claims* the first parked waiter (atomic PARKED → CLAIMED), re-executes the waiter's
//!   command with the waiter's identity through `dispatch::execute` (normal lock plan), then
//!   either delivers the reply bytes to the waiter's mailbox and removes it from every queue, or
//!   (the command blocked again: the key has nothing left) puts it back to PARKED at its place
//!   and moves on to the next key. Keys the re-executed commands make ready (BLMOVE's
//!   destination) are served in the same loop.
//! * **Races.** The parked connection ends the wait itself only by winning PARKED → DONE
//!   ([`Registry::cancel`]); if a server claimed the waiter first, the connection waits for the
//!   delivery instead, so exactly one of served reply / timeout / UNBLOCKED reaches the client
//!   and a popped element is never dropped for a client that is still connected.
//! * **Pause.** A waiter served while writes are paused is not run: it receives a *retry*
//!   delivery and re-executes its command on its own connection once the pause ends (with its
//!   original deadline). While a script is busy (past its time limit) ready keys are kept
//!   pending and served after the next command completes (the script's own EVAL at the latest).
//! * **While parked** the connection still reads its socket (a disconnect or the query buffer
//!   limit ends the wait), delivers Pub/Sub messages (RESP3 subscribers may block) and is not
//!   subject to the idle `timeout`.
//! * **Statistics.** The call that blocks is not counted; the call is counted once when it
//!   completes (served, timed out or unblocked), as Redis does.

use crate::client::{Client, ClientHandle, UNBLOCK_ERROR};
use crate::dispatch::Ctx;
use crate::errors::CmdResult;
use crate::server::Server;
use bytes::Bytes;
use ferrokv_resp::{Protocol, Reply};
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// The error a blocked client gets from `CLIENT UNBLOCK <id> ERROR`.
pub const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

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

/// Waiter states.
const PARKED: u8 = 0;
const CLAIMED: u8 = 1;
const DONE: u8 = 2;

/// What a server thread hands a parked connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The reply of the re-executed command, in the client's protocol.
    Reply(Vec<u8>),
    /// The command could not run now (clients paused): run it again on the client's own
    /// connection, keeping the original deadline.
    Retry,
}

/// A client parked on keys: everything needed to run its command again on its behalf.
pub struct Waiter {
    /// The blocked connection.
    pub handle: Arc<ClientHandle>,
    /// The client's selected database when it blocked.
    pub db: u32,
    /// The keys it waits on (duplicates removed, in argument order).
    keys: Vec<Bytes>,
    /// The blocked request, command name included.
    pub argv: Vec<Bytes>,
    /// The client's protocol (the reply is written in it).
    pub proto: Protocol,
    name: Option<Bytes>,
    user: String,
    no_touch: bool,
    /// Unix ms at which the block times out; `None` waits forever.
    pub deadline_ms: Option<i64>,
    /// The reply on timeout.
    pub on_timeout: TimeoutReply,
    /// Command table index of the blocked command (statistics when it completes).
    pub cmd_index: usize,
    state: AtomicU8,
    mailbox: Mutex<Option<Delivery>>,
    /// Fired when a delivery is made or a claim is released.
    pub notify: Notify,
}

impl Waiter {
    /// The delivery a server made, if any (taken once).
    pub fn take_delivery(&self) -> Option<Delivery> {
        self.mailbox.lock().take()
    }

    /// Whether a server thread is running the command right now (the connection must wait
    /// for its delivery rather than end the wait itself).
    pub fn is_claimed(&self) -> bool {
        self.state.load(Ordering::Acquire) == CLAIMED
    }

    /// The keys this waiter is queued on.
    pub fn keys(&self) -> &[Bytes] {
        &self.keys
    }

    fn claim(&self) -> bool {
        self.state
            .compare_exchange(PARKED, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn release_claim(&self) {
        self.state.store(PARKED, Ordering::Release);
        self.notify.notify_one();
    }

    fn deliver(&self, d: Delivery) {
        *self.mailbox.lock() = Some(d);
        self.state.store(DONE, Ordering::Release);
        self.notify.notify_one();
    }
}

/// Per-connection blocking state, a field of [`Client`].
#[derive(Default)]
pub struct ClientState {
    /// Set by `block_on`; the connection loop takes it and waits.
    pub parked: Option<Arc<Waiter>>,
    /// Keys (db, key) this client's commands made ready since the last top-level command.
    pub ready: Vec<(u32, Bytes)>,
    /// This client is a stand-in running a waiter's command on its behalf.
    pub serving: bool,
    /// Set when a command run on a waiter's behalf blocked again.
    pub reblocked: bool,
    /// The deadline to keep when a waiter re-runs its command after a [`Delivery::Retry`].
    pub keep_deadline: Option<Option<i64>>,
}

impl ClientState {
    /// Whether the command that just ran left the client blocked (its call is not counted).
    pub fn blocked_now(&self) -> bool {
        self.parked.is_some() || self.reblocked
    }
}

/// One database's waiters: per key, the FIFO queue of clients parked on it.
type DbQueues = HashMap<Bytes, VecDeque<Arc<Waiter>>>;

/// The server-wide table of blocked clients.
#[derive(Default)]
pub struct Registry {
    /// Parked waiters (INFO blocked_clients); 0 makes `key_ready` a single load.
    parked: AtomicUsize,
    /// Parked waiters with a deadline (INFO clients_in_timeout_table).
    timed: AtomicUsize,
    /// Per db, per key: the FIFO queue of waiters.
    /// Read-locked by the hot paths (`key_ready`, claims); written when parking / unparking.
    queues: RwLock<HashMap<u32, DbQueues>>,
    /// Ready keys no server has handled yet.
    pending: Mutex<Vec<(u32, Bytes)>>,
    has_pending: AtomicBool,
    /// Held by the one thread serving ready keys.
    serve_lock: Mutex<()>,
}

impl Registry {
    /// Number of parked clients (INFO `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.parked.load(Ordering::Relaxed)
    }

    /// Number of parked clients with a timeout (INFO `clients_in_timeout_table`).
    pub fn timed_clients(&self) -> usize {
        self.timed.load(Ordering::Relaxed)
    }

    /// Number of distinct (db, key) with waiters (INFO `total_blocking_keys`).
    pub fn total_keys(&self) -> usize {
        if self.blocked_clients() == 0 {
            return 0;
        }
        self.queues.read().values().map(|m| m.len()).sum()
    }

    /// Whether some client waits on `key` in `db`.
    pub fn is_waited(&self, db: u32, key: &[u8]) -> bool {
        if self.parked.load(Ordering::Acquire) == 0 {
            return false;
        }
        self.queues
            .read()
            .get(&db)
            .is_some_and(|m| m.contains_key(key))
    }

    /// The keys of `db` someone waits on.
    pub fn waited_keys(&self, db: u32) -> Vec<Bytes> {
        if self.parked.load(Ordering::Acquire) == 0 {
            return Vec::new();
        }
        self.queues
            .read()
            .get(&db)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Queues `w` at the tail of each of its keys.
    pub fn park(&self, w: &Arc<Waiter>) {
        let mut q = self.queues.write();
        let m = q.entry(w.db).or_default();
        for k in &w.keys {
            m.entry(k.clone()).or_default().push_back(w.clone());
        }
        if w.deadline_ms.is_some() {
            self.timed.fetch_add(1, Ordering::Relaxed);
        }
        self.parked.fetch_add(1, Ordering::AcqRel);
        // A CLIENT UNBLOCK aimed at an earlier wait must not end this one.
        w.handle.unblock_reason.store(0, Ordering::Relaxed);
        w.handle.set_blocked(true);
    }

    /// Takes `w` out of every queue (once: the caller made the DONE transition).
    fn unqueue(&self, w: &Arc<Waiter>) {
        let mut q = self.queues.write();
        if let Some(m) = q.get_mut(&w.db) {
            for k in &w.keys {
                if let Some(list) = m.get_mut(&k[..]) {
                    // Usually at the front (the oldest waiter of the key being served).
                    if let Some(pos) = list.iter().position(|x| Arc::ptr_eq(x, w)) {
                        list.remove(pos);
                    }
                    if list.is_empty() {
                        m.remove(&k[..]);
                    }
                }
            }
            if m.is_empty() {
                q.remove(&w.db);
            }
        }
        drop(q);
        if w.deadline_ms.is_some() {
            self.timed.fetch_sub(1, Ordering::Relaxed);
        }
        self.parked.fetch_sub(1, Ordering::AcqRel);
        w.handle.set_blocked(false);
    }

    /// Ends the wait from the connection's side (timeout, CLIENT UNBLOCK, kill, disconnect):
    /// true if it won (the waiter was parked and is now gone from every queue), false if a
    /// server claimed or served it first (then a delivery is or will be in the mailbox).
    pub fn cancel(&self, w: &Arc<Waiter>) -> bool {
        if w.state
            .compare_exchange(PARKED, DONE, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        self.unqueue(w);
        true
    }

    /// Claims the first parked waiter of (db, key), in FIFO order.
    fn claim_first(&self, db: u32, key: &[u8]) -> Option<Arc<Waiter>> {
        let q = self.queues.read();
        let list = q.get(&db)?.get(key)?;
        list.iter().find(|w| w.claim()).cloned()
    }

    /// Hands the ready keys to the serving thread's list.
    fn add_pending(&self, keys: &mut Vec<(u32, Bytes)>) {
        let mut p = self.pending.lock();
        for k in keys.drain(..) {
            if !p.contains(&k) {
                p.push(k);
            }
        }
        self.has_pending.store(true, Ordering::Release);
    }

    fn take_pending(&self) -> Vec<(u32, Bytes)> {
        let mut p = self.pending.lock();
        self.has_pending.store(false, Ordering::Release);
        std::mem::take(&mut *p)
    }
}

/// Ends the wait of a parked waiter when dropped, unless it already ended: a connection task
/// that goes away while parked leaves no waiter behind.
pub struct ParkGuard<'a> {
    /// The registry the waiter is parked in.
    pub reg: &'a Registry,
    /// The parked waiter.
    pub waiter: Arc<Waiter>,
}

impl Drop for ParkGuard<'_> {
    fn drop(&mut self) {
        self.reg.cancel(&self.waiter);
    }
}

/// Parks the client on `keys` until `deadline_ms` (unix ms; `None` = forever). See the module
/// docs. Inside MULTI/EXEC or a script it replies `on_timeout` at once.
pub fn block(
    ctx: &mut Ctx<'_, '_>,
    keys: &[&[u8]],
    deadline_ms: Option<i64>,
    on_timeout: TimeoutReply,
) -> CmdResult {
    if !may_block(ctx) {
        write_timeout(ctx, on_timeout);
        return Ok(());
    }
    if ctx.client.blocking.serving {
        // Re-executed on a waiter's behalf and still nothing: the waiter stays where it is.
        ctx.client.blocking.reblocked = true;
        return Ok(());
    }
    if let Some(old) = ctx.client.blocking.parked.take() {
        // A handler that blocks twice keeps only its last wait.
        ctx.srv.blocking.cancel(&old);
    }
    let deadline_ms = ctx
        .client
        .blocking
        .keep_deadline
        .take()
        .unwrap_or(deadline_ms);
    let mut uniq: Vec<Bytes> = Vec::with_capacity(keys.len());
    for k in keys {
        if !uniq.iter().any(|u| &u[..] == *k) {
            uniq.push(Bytes::copy_from_slice(k));
        }
    }
    let w = Arc::new(Waiter {
        handle: ctx.client.handle.clone(),
        db: ctx.client.db,
        keys: uniq,
        argv: ctx.argv.to_vec(),
        proto: ctx.reply.proto(),
        name: ctx.client.name.clone(),
        user: ctx.client.user.clone(),
        no_touch: ctx.client.no_touch,
        deadline_ms,
        on_timeout,
        cmd_index: ctx.cmd.index,
        state: AtomicU8::new(PARKED),
        mailbox: Mutex::new(None),
        notify: Notify::new(),
    });
    ctx.srv.blocking.park(&w);
    ctx.client.blocking.parked = Some(w);
    Ok(())
}

/// Writes the timeout reply.
pub fn write_timeout(ctx: &mut Ctx<'_, '_>, on_timeout: TimeoutReply) {
    write_timeout_reply(ctx.reply, on_timeout);
}

/// Writes the timeout reply into a reply buffer (the parked connection's).
pub fn write_timeout_reply(reply: &mut Reply, on_timeout: TimeoutReply) {
    match on_timeout {
        TimeoutReply::NullArray => reply.null_array(),
        TimeoutReply::NullBulk => reply.null(),
    }
}

/// Writes the reply of a wait ended by CLIENT UNBLOCK with `reason`
/// ([`crate::client::UNBLOCK_TIMEOUT`] or [`UNBLOCK_ERROR`]); true if it is an error.
pub fn write_unblocked_reply(reply: &mut Reply, reason: u8, on_timeout: TimeoutReply) -> bool {
    if reason == UNBLOCK_ERROR {
        reply.error(UNBLOCKED.as_bytes());
        true
    } else {
        write_timeout_reply(reply, on_timeout);
        false
    }
}

/// Counts the blocked call of `w` once it ends without being served, as Redis's
/// `updateStatsOnUnblock` does: a timeout is a plain call; a call ended by CLIENT UNBLOCK
/// (`unblocked`, either reason) is a failed call, and the ERROR form (`error_reply`) also
/// counts in the error statistics (`errorstat_UNBLOCKED`).
pub fn count_unserved_call(
    srv: &Server,
    client: &mut Client,
    w: &Waiter,
    unblocked: bool,
    error_reply: bool,
) {
    client.batch.record_call(w.cmd_index, 0);
    if srv.hot.latency_tracking.load(Ordering::Relaxed) {
        client.batch.record_latency(w.cmd_index, 0);
    }
    if unblocked {
        client.batch.record_failed(w.cmd_index);
    }
    if error_reply {
        srv.stats.count_error("UNBLOCKED");
    }
}

/// Records that `key` in `db` may now serve blocked clients (Redis's `signalKeyAsReady`). A
/// single atomic load when nobody is blocked; served after the top-level command completes.
pub fn signal_ready(ctx: &mut Ctx<'_, '_>, db: u32, key: &[u8]) {
    if ctx.srv.blocking.parked.load(Ordering::Acquire) == 0 {
        return;
    }
    if !ctx.srv.blocking.is_waited(db, key) {
        return;
    }
    let ready = &mut ctx.client.blocking.ready;
    if !ready.iter().any(|(d, k)| *d == db && &k[..] == key) {
        ready.push((db, Bytes::copy_from_slice(key)));
    }
}

/// Whether creating a key of this type may serve blocked clients (Redis's `dbAdd` signals
/// lists, sorted sets and streams).
pub fn kind_may_serve(kind: ferrokv_engine::Kind) -> bool {
    matches!(
        kind,
        ferrokv_engine::Kind::List | ferrokv_engine::Kind::ZSet
    )
}

/// Signals every waited key of `db` (SWAPDB: the db's content changed wholesale; Redis's
/// `scanDatabaseForReadyKeys`). A waiter whose key holds nothing simply stays blocked.
pub fn signal_db_ready(ctx: &mut Ctx<'_, '_>, db: u32) {
    for k in ctx.srv.blocking.waited_keys(db) {
        signal_ready(ctx, db, &k);
    }
}

/// Whether [`after_command`] has anything to do (keys this client made ready, or keys other
/// threads handed over). Serving locks shards, so a caller holding shard locks across commands
/// ([`crate::squash`]) must release them first when this is true.
#[inline]
pub fn has_work(srv: &Server, client: &Client) -> bool {
    !client.blocking.ready.is_empty() || srv.blocking.has_pending.load(Ordering::Acquire)
}

/// Top-level after-command work (net.rs calls it after each `dispatch::execute`): serves the
/// keys the command made ready. O(1) when there is nothing to do.
pub fn after_command(srv: &Server, client: &mut Client) {
    let reg = &srv.blocking;
    if client.blocking.ready.is_empty() && !reg.has_pending.load(Ordering::Acquire) {
        return;
    }
    if !client.blocking.ready.is_empty() {
        reg.add_pending(&mut client.blocking.ready);
    }
    serve_pending(srv);
}

/// Drains the pending ready keys if no other thread is doing it. The thread that holds the
/// serve lock re-checks the pending list (under its mutex) after releasing it, so keys handed
/// over while it was serving are never stranded.
pub fn serve_pending(srv: &Server) {
    let reg = &srv.blocking;
    loop {
        let Some(guard) = reg.serve_lock.try_lock() else {
            return;
        };
        let mut work: VecDeque<(u32, Bytes)> = reg.take_pending().into();
        while let Some((db, key)) = work.pop_front() {
            if srv.scripting.busy() {
                // A script past its time limit holds the server (Redis serves nobody while a
                // script runs): hand the keys back; the next command that completes anywhere
                // (the script's own EVAL, SCRIPT KILL, ...) serves them.
                work.push_front((db, key));
                let mut rest: Vec<(u32, Bytes)> = work.into();
                reg.add_pending(&mut rest);
                return;
            }
            serve_key(srv, db, &key, &mut work);
        }
        drop(guard);
        // Checked under the pending list's lock, not through the flag: a thread that handed
        // keys over after this check will find the serve lock free.
        if reg.pending.lock().is_empty() {
            return;
        }
    }
}

/// Outcome of running a waiter's command on its behalf.
enum Run {
    Served(Vec<u8>),
    Reblocked,
    Paused,
}

/// Serves the waiters of one ready key, in FIFO order, while the key can serve them.
fn serve_key(srv: &Server, db: u32, key: &[u8], work: &mut VecDeque<(u32, Bytes)>) {
    let reg = &srv.blocking;
    while let Some(w) = reg.claim_first(db, key) {
        let (run, mut ready) = run_for(srv, &w);
        for k in ready.drain(..) {
            if !work.contains(&k) {
                work.push_back(k);
            }
        }
        match run {
            Run::Served(bytes) => {
                reg.unqueue(&w);
                w.deliver(Delivery::Reply(bytes));
            }
            Run::Paused => {
                reg.unqueue(&w);
                w.deliver(Delivery::Retry);
            }
            Run::Reblocked => {
                w.release_claim();
                return;
            }
        }
    }
}

/// Runs the waiter's command as the waiter (its id, db, protocol, name) through the normal
/// dispatch path, and publishes the statistics of that call.
fn run_for(srv: &Server, w: &Waiter) -> (Run, Vec<(u32, Bytes)>) {
    let mut c = Client::new(w.handle.clone(), true);
    c.db = w.db;
    c.name.clone_from(&w.name);
    c.user.clone_from(&w.user);
    c.no_touch = w.no_touch;
    c.blocking.serving = true;
    let mut reply = Reply::new(w.proto);
    let flow = crate::dispatch::execute(srv, &mut c, &w.argv, &mut reply);
    srv.flush_batch(&mut c);
    let ready = std::mem::take(&mut c.blocking.ready);
    let run = if flow == crate::dispatch::Flow::Paused {
        Run::Paused
    } else if c.blocking.reblocked {
        Run::Reblocked
    } else {
        Run::Served(reply.take().to_vec())
    };
    (run, ready)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::client::ClientRegistry;

    fn waiter(reg: &ClientRegistry, db: u32, keys: &[&[u8]]) -> Arc<Waiter> {
        let a = "127.0.0.1:1".parse().unwrap();
        Arc::new(Waiter {
            handle: reg.register(a, a),
            db,
            keys: keys.iter().map(|k| Bytes::copy_from_slice(k)).collect(),
            argv: vec![Bytes::from_static(b"blpop")],
            proto: Protocol::Resp2,
            name: None,
            user: "default".into(),
            no_touch: false,
            deadline_ms: None,
            on_timeout: TimeoutReply::NullArray,
            cmd_index: 0,
            state: AtomicU8::new(PARKED),
            mailbox: Mutex::new(None),
            notify: Notify::new(),
        })
    }

    #[test]
    fn claims_follow_fifo_order_and_skip_claimed_waiters() {
        let clients = ClientRegistry::default();
        let reg = Registry::default();
        let w1 = waiter(&clients, 0, &[b"k"]);
        let w2 = waiter(&clients, 0, &[b"k", b"other"]);
        let w3 = waiter(&clients, 0, &[b"k"]);
        for w in [&w1, &w2, &w3] {
            reg.park(w);
        }
        assert_eq!(reg.blocked_clients(), 3);
        assert_eq!(reg.total_keys(), 2);
        assert!(w1.handle.blocked.load(Ordering::Relaxed));
        let a = reg.claim_first(0, b"k").unwrap();
        assert!(Arc::ptr_eq(&a, &w1));
        // w1 is claimed: the next claim on the key gets w2, then w3.
        let b = reg.claim_first(0, b"k").unwrap();
        assert!(Arc::ptr_eq(&b, &w2));
        // w2 is claimed, so the other key has nobody to give.
        assert!(reg.claim_first(0, b"other").is_none());
        let c = reg.claim_first(0, b"k").unwrap();
        assert!(Arc::ptr_eq(&c, &w3));
        assert!(reg.claim_first(0, b"k").is_none());
        // Serving w1 removes it; releasing w2 puts it back at its place (before w3).
        reg.unqueue(&w1);
        w1.deliver(Delivery::Reply(b"+x\r\n".to_vec()));
        w2.release_claim();
        w3.release_claim();
        let again = reg.claim_first(0, b"k").unwrap();
        assert!(Arc::ptr_eq(&again, &w2));
        assert_eq!(reg.blocked_clients(), 2);
        assert_eq!(
            w1.take_delivery(),
            Some(Delivery::Reply(b"+x\r\n".to_vec()))
        );
        assert!(!w1.handle.blocked.load(Ordering::Relaxed));
    }

    #[test]
    fn cancel_loses_to_a_claim_and_wins_over_a_parked_waiter() {
        let clients = ClientRegistry::default();
        let reg = Registry::default();
        let w1 = waiter(&clients, 0, &[b"k"]);
        let w2 = waiter(&clients, 0, &[b"k"]);
        reg.park(&w1);
        reg.park(&w2);
        let claimed = reg.claim_first(0, b"k").unwrap();
        assert!(Arc::ptr_eq(&claimed, &w1));
        assert!(w1.is_claimed());
        assert!(!reg.cancel(&w1), "a claimed waiter cannot time out");
        assert!(reg.cancel(&w2));
        assert!(!reg.cancel(&w2), "cancel happens once");
        assert_eq!(reg.blocked_clients(), 1);
        reg.unqueue(&w1);
        w1.deliver(Delivery::Retry);
        assert!(!reg.cancel(&w1));
        assert_eq!(reg.blocked_clients(), 0);
        assert_eq!(reg.total_keys(), 0);
        assert!(reg.queues.read().is_empty());
    }

    #[test]
    fn waiters_are_per_database() {
        let clients = ClientRegistry::default();
        let reg = Registry::default();
        assert!(!reg.is_waited(0, b"k"));
        let w = waiter(&clients, 3, &[b"k"]);
        reg.park(&w);
        assert!(!reg.is_waited(0, b"k"));
        assert!(reg.is_waited(3, b"k"));
        assert!(reg.claim_first(0, b"k").is_none());
        assert_eq!(reg.waited_keys(3), vec![Bytes::from_static(b"k")]);
        let guard = ParkGuard {
            reg: &reg,
            waiter: w,
        };
        drop(guard);
        assert_eq!(reg.blocked_clients(), 0);
        assert!(!reg.is_waited(3, b"k"));
    }

    #[test]
    fn pending_keys_are_deduplicated() {
        let reg = Registry::default();
        let mut v = vec![
            (0, Bytes::from_static(b"a")),
            (0, Bytes::from_static(b"a")),
            (1, Bytes::from_static(b"a")),
        ];
        reg.add_pending(&mut v);
        assert!(v.is_empty());
        assert!(reg.has_pending.load(Ordering::Relaxed));
        assert_eq!(reg.take_pending().len(), 2);
        assert!(!reg.has_pending.load(Ordering::Relaxed));
    }
}
