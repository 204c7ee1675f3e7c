//! Client state: the part owned by the connection task ([`Client`]) and the part other clients
//! can see (CLIENT LIST / KILL / PAUSE) through the registry ([`ClientHandle`]).

use crate::server::Server;
use bytes::Bytes;
use ferrokv_resp::Protocol;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// CLIENT REPLY mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Skipping the reply of the current command.
    Skip,
}

/// Counters a connection accumulates during one read batch and publishes at its end, so that
/// hot commands do not contend on shared atomics.
#[derive(Default)]
pub struct BatchStats {
    /// (command index, calls, usec, failed, rejected)
    pub cmds: Vec<(usize, u64, u64, u64, u64)>,
    pub commands: u64,
    pub dirty: u64,
    pub hits: u64,
    pub misses: u64,
    /// (command index, latency bucket, calls) for LATENCY HISTOGRAM.
    pub hist: Vec<(usize, u8, u64)>,
}

impl BatchStats {
    fn slot(&mut self, index: usize) -> &mut (usize, u64, u64, u64, u64) {
        let pos = match self.cmds.iter().position(|c| c.0 == index) {
            Some(p) => p,
            None => {
                self.cmds.push((index, 0, 0, 0, 0));
                self.cmds.len() - 1
            }
        };
        &mut self.cmds[pos]
    }

    /// A completed call of command `index` that took `usec`.
    pub fn record_call(&mut self, index: usize, usec: u64) {
        self.commands += 1;
        let s = self.slot(index);
        s.1 += 1;
        s.2 += usec;
    }

    /// A call's duration for the command's latency histogram.
    pub fn record_latency(&mut self, index: usize, usec: u64) {
        let b = crate::cmd::latency::hist_bucket(usec) as u8;
        match self.hist.iter_mut().find(|h| h.0 == index && h.1 == b) {
            Some(h) => h.2 += 1,
            None => self.hist.push((index, b, 1)),
        }
    }

    /// A call that returned an error.
    pub fn record_failed(&mut self, index: usize) {
        self.slot(index).3 += 1;
    }

    /// A call rejected before it ran (arity, auth, ...).
    pub fn record_rejected(&mut self, index: usize) {
        self.slot(index).4 += 1;
    }
}

/// A client parked until a deadline, then answered with an integer (WAIT with no replica able to
/// acknowledge). Set by the handler, which writes no reply; the connection loop waits, then
/// writes the integer and goes on with the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedBlock {
    /// Unix ms at which the block ends; `None` blocks until the connection is killed.
    pub deadline_ms: Option<i64>,
    /// The reply written when the block ends.
    pub reply_int: i64,
}

/// What other clients may read or change about a connection.
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created: Instant,
    /// Set by CLIENT KILL (or shutdown); the connection closes at its next wake-up.
    pub killed: AtomicBool,
    pub kill_notify: Notify,
    /// Unix ms of the last command (CLIENT LIST idle=, and `timeout`).
    pub last_interaction_ms: AtomicU64,
    /// Fields shown by CLIENT LIST/INFO, refreshed by the connection after each batch.
    pub info: Mutex<SharedInfo>,
    /// The socket's file descriptor (CLIENT LIST fd=), -1 until the connection sets it.
    pub fd: AtomicI64,
    /// Set by a blocking command while it waits; CLIENT UNBLOCK only acts on blocked clients.
    pub blocked: AtomicBool,
    /// Why CLIENT UNBLOCK woke the client: 0 not asked, [`UNBLOCK_TIMEOUT`] or [`UNBLOCK_ERROR`].
    pub unblock_reason: AtomicU8,
    /// Woken by CLIENT UNBLOCK; a blocking command waits on it next to its own wake-ups.
    pub unblock_notify: Notify,
    /// The connection's mailbox (set when its [`Client`] is created), for messages other
    /// clients send it outside Pub/Sub (client-tracking redirects).
    pub mailbox: std::sync::OnceLock<std::sync::Weak<crate::pubsub::Mailbox>>,
}

/// CLIENT UNBLOCK ... TIMEOUT (the default): the blocked command replies as if it timed out.
pub const UNBLOCK_TIMEOUT: u8 = 1;
/// CLIENT UNBLOCK ... ERROR: the blocked command fails with `-UNBLOCKED`.
pub const UNBLOCK_ERROR: u8 = 2;

/// The CLIENT LIST view of a connection.
#[derive(Clone, Debug, Default)]
pub struct SharedInfo {
    pub name: Option<Bytes>,
    pub db: u32,
    pub last_cmd: &'static str,
    pub user: String,
    pub resp: u8,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    pub flags: String,
    pub qbuf: usize,
    pub qbuf_free: usize,
    pub obl: usize,
    pub omem: usize,
    pub tot_mem: usize,
    pub multi: i64,
    pub no_evict: bool,
    pub no_touch: bool,
    pub kind: ClientKind,
    /// In MONITOR mode (CLIENT LIST flags=O).
    pub monitor: bool,
    /// Channel, pattern and shard-channel subscription counts (CLIENT LIST sub= psub= ssub=).
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    /// Number of keys WATCHed (CLIENT LIST watch=, Redis 7.4).
    pub watch: usize,
}

/// The class of a client (CLIENT KILL TYPE, CLIENT LIST TYPE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientKind {
    #[default]
    Normal,
    Replica,
    Master,
    PubSub,
}

impl ClientHandle {
    /// Asks the connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Relaxed);
        self.kill_notify.notify_one();
    }

    /// Whether CLIENT KILL (or shutdown) asked this connection to close.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Relaxed)
    }

    /// Marks the connection as waiting in a blocking command (CLIENT LIST flags=b; CLIENT
    /// UNBLOCK only wakes blocked clients). Leaving the blocked state drops any pending request.
    pub fn set_blocked(&self, on: bool) {
        self.blocked.store(on, Relaxed);
        if !on {
            self.unblock_reason.store(0, Relaxed);
        }
    }

    /// The pending CLIENT UNBLOCK request, cleared: 0 (none), [`UNBLOCK_TIMEOUT`] or
    /// [`UNBLOCK_ERROR`]. A blocking command checks it when `unblock_notify` fires.
    pub fn take_unblock(&self) -> u8 {
        self.unblock_reason.swap(0, Relaxed)
    }
}

/// State owned by the connection task.
pub struct Client {
    pub id: u64,
    pub handle: Arc<ClientHandle>,
    pub db: u32,
    pub authenticated: bool,
    pub user: String,
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    pub reply_mode: ReplyMode,
    pub no_evict: bool,
    pub no_touch: bool,
    /// Close the connection once the pending replies are written.
    pub close_after_reply: bool,
    /// Set by MONITOR: the connection starts receiving the feed.
    pub wants_monitor: bool,
    /// Name of the last command run (CLIENT LIST cmd=).
    pub last_cmd: &'static str,
    pub batch: BatchStats,
    /// Set by a handler that blocks the client until a deadline (see [`TimedBlock`]).
    pub block_until: Option<TimedBlock>,
    /// Unix time in microseconds at the end of the previous command of the current batch (set
    /// at the start of each batch); the next command runs at this time.
    pub clock_us: i64,
    /// Set while the client's commands run inside EXEC or a script: blocking commands answer
    /// at once instead of blocking (see [`crate::blocking`]).
    pub nonblocking: bool,
    /// Blocking-command state: the waiter just parked, keys made ready (see [`crate::blocking`]).
    pub blocking: crate::blocking::ClientState,
    /// MULTI state: `Some` from MULTI until EXEC / DISCARD / RESET (kept while EXEC runs, as
    /// Redis keeps `CLIENT_MULTI`: CLIENT LIST shows flags=x multi=N).
    pub multi: Option<crate::cmd::transactions::MultiState>,
    /// WATCHed keys and the DIRTY_CAS flag other clients set (see [`crate::watch`]).
    pub watch: crate::watch::ClientWatch,
    /// Pub/Sub subscriptions and the mailbox messages arrive in.
    pub subs: crate::pubsub::ClientSubs,
    /// CLIENT TRACKING options (see [`crate::tracking`]).
    pub tracking: crate::tracking::ClientTracking,
    /// Effects of the execution unit being run (see [`crate::propagate`]).
    pub effects: crate::propagate::Effects,
    /// The disk-engine execution unit (see [`crate::disk`]).
    pub disk: crate::disk::ClientDisk,
    rng: u64,
}

impl Client {
    /// A new client registered in `srv`.
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Client {
        // Every connection gets its mailbox up front: client tracking may redirect
        // invalidations to any client.
        let mailbox = Arc::new(crate::pubsub::Mailbox::new(handle.clone(), false));
        let _ = handle.mailbox.set(Arc::downgrade(&mailbox));
        let mut subs = crate::pubsub::ClientSubs::default();
        subs.mailbox = Some(mailbox);
        Client {
            id: handle.id,
            rng: handle.id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            handle,
            db: 0,
            authenticated,
            user: "default".into(),
            name: None,
            lib_name: None,
            lib_ver: None,
            reply_mode: ReplyMode::On,
            no_evict: false,
            no_touch: false,
            close_after_reply: false,
            wants_monitor: false,
            last_cmd: "NULL",
            batch: BatchStats::default(),
            clock_us: crate::util::now_us(),
            block_until: None,
            nonblocking: false,
            blocking: crate::blocking::ClientState::default(),
            multi: None,
            watch: crate::watch::ClientWatch::default(),
            subs,
            tracking: crate::tracking::ClientTracking::default(),
            effects: crate::propagate::Effects::default(),
            disk: crate::disk::ClientDisk::default(),
        }
    }

    /// Whether nothing around this client's next command needs the connection loop's general
    /// path: replies on, no MULTI, no MONITOR feed wanted, no Pub/Sub mode, not killed, no
    /// message waiting in its mailbox. The fast paths (squashed runs of commands, inline
    /// script calls) add their own conditions to this one.
    #[inline]
    pub fn is_plain(&self) -> bool {
        self.reply_mode == ReplyMode::On
            && self.multi.is_none()
            && !self.wants_monitor
            && !self.subs.active()
            && !self.handle.is_killed()
            && !self.subs.mailbox.as_ref().is_some_and(|m| m.has_pending())
    }

    /// Pseudo-random bits (xorshift), for LFU increments and random choices.
    pub fn next_rand(&mut self) -> u32 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 32) as u32
    }

    /// 64 pseudo-random bits.
    pub fn next_rand64(&mut self) -> u64 {
        (u64::from(self.next_rand()) << 32) | u64::from(self.next_rand())
    }

    /// Publishes this client's view for CLIENT LIST.
    pub fn publish_info(&self, proto: Protocol, qbuf: usize, qbuf_cap: usize, obl: usize) {
        let mut i = self.handle.info.lock();
        i.name.clone_from(&self.name);
        i.db = self.db;
        i.last_cmd = self.last_cmd;
        i.user.clone_from(&self.user);
        i.resp = if proto == Protocol::Resp3 { 3 } else { 2 };
        i.lib_name.clone_from(&self.lib_name);
        i.lib_ver.clone_from(&self.lib_ver);
        i.qbuf = qbuf;
        i.qbuf_free = qbuf_cap.saturating_sub(qbuf);
        i.obl = obl;
        i.no_evict = self.no_evict;
        i.no_touch = self.no_touch;
        i.monitor = self.wants_monitor;
        i.multi = self.multi.as_ref().map_or(-1, |m| m.count() as i64);
        i.watch = self.watch.keys.len();
        (i.sub, i.psub, i.ssub) = self.subs.counts();
        if self.subs.active() && i.kind == ClientKind::Normal {
            i.kind = ClientKind::PubSub;
        } else if !self.subs.active() && i.kind == ClientKind::PubSub {
            i.kind = ClientKind::Normal;
        }
    }
}

/// All connected clients, by id.
#[derive(Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
}

impl ClientRegistry {
    /// Registers a new connection and returns its handle.
    pub fn register(&self, addr: SocketAddr, laddr: SocketAddr) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Relaxed) + 1;
        let h = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            created: Instant::now(),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
            last_interaction_ms: AtomicU64::new(crate::util::now_ms() as u64),
            info: Mutex::new(SharedInfo {
                user: "default".into(),
                resp: 2,
                last_cmd: "NULL",
                multi: -1,
                ..SharedInfo::default()
            }),
            fd: AtomicI64::new(-1),
            blocked: AtomicBool::new(false),
            unblock_reason: AtomicU8::new(0),
            unblock_notify: Notify::new(),
            mailbox: std::sync::OnceLock::new(),
        });
        self.clients.lock().insert(id, h.clone());
        h
    }

    /// Removes a closed connection.
    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    /// True when no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of every handle, in id order.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.clients.lock().values().cloned().collect()
    }

    /// The handle of client `id`.
    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.clients.lock().get(&id).cloned()
    }
}

/// Unregisters a client when its connection task ends, however it ends.
pub struct RegistrationGuard<'a> {
    pub srv: &'a Server,
    pub id: u64,
}

impl Drop for RegistrationGuard<'_> {
    fn drop(&mut self) {
        self.srv.clients.unregister(self.id);
    }
}
