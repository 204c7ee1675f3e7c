//! Pub/Sub: the server-wide registry of channel, pattern and shard-channel subscriptions, and
//! message delivery across connection threads.
//!
//! # Design
//! - Every client owns a [`Mailbox`] (created with the connection, so client tracking can
//!   redirect invalidations to any client): a byte buffer of encoded frames (`message`,
//!   `pmessage`, `smessage`, invalidation pushes) under a small mutex, plus a
//!   [`tokio::sync::Notify`] its connection task awaits next to the socket read. Only the
//!   first frame queued into an empty buffer wakes the task, which yields once before taking
//!   the buffer so that a burst leaves in few writes. A publisher (running on any worker thread) encodes the
//!   frame once, appends it to each receiver's mailbox *inside* PUBLISH and wakes the receiver:
//!   when PUBLISH returns, every client subscribed at that moment has the message queued, and
//!   messages from one publisher are queued in publish order.
//! - The registry is split: channels and shard channels live in [`CHANNEL_SHARDS`] maps each
//!   behind its own `RwLock` (PUBLISH takes one read lock; subscribers of unrelated channels
//!   never contend), patterns in one list behind an `RwLock` that PUBLISH skips entirely while
//!   no pattern exists (an atomic count).
//! - Memory bound (`client-output-buffer-limit pubsub`): a mailbox whose pending bytes (queued
//!   plus being written) exceed the hard limit, or stay above the soft limit for longer than its
//!   seconds, is closed at once (its buffer freed, the client killed, INFO
//!   `client_output_buffer_limit_disconnections` counted), so a subscriber that never reads
//!   costs at most about twice the hard limit.
//! - A client that publishes to a channel it is itself subscribed to (RESP3) gets the message
//!   written straight into its reply buffer, before the PUBLISH reply, as Redis does.
//!
//! Lock order: a registry lock, then mailbox mutexes. Shard locks may be held by the caller
//! (keyspace notifications); the registry never takes them.

use crate::client::ClientHandle;
use crate::server::Server;
use bytes::{Bytes, BytesMut};
use ferrokv_resp::{Protocol, Reply};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// Number of independently locked channel maps.
pub const CHANNEL_SHARDS: usize = 64;

/// `client-output-buffer-limit` classes, indexes into [`crate::server::Hot::obuf`] (three
/// values each: hard bytes, soft bytes, soft seconds).
pub const CLASS_NORMAL: usize = 0;
/// The replica class.
pub const CLASS_REPLICA: usize = 1;
/// The pubsub class (subscribed clients).
pub const CLASS_PUBSUB: usize = 2;

/// Commands a RESP2 client may run while it has subscriptions.
const SUBSCRIBED_MODE_ALLOWED: [&str; 9] = [
    "subscribe",
    "ssubscribe",
    "sunsubscribe",
    "psubscribe",
    "unsubscribe",
    "punsubscribe",
    "ping",
    "quit",
    "reset",
];

/// Whether command `name` (full lowercase name) may run in RESP2 subscribed mode.
pub fn allowed_in_subscribed_mode(name: &str) -> bool {
    SUBSCRIBED_MODE_ALLOWED.contains(&name)
}

/// The error of a command refused in RESP2 subscribed mode.
pub fn subscribed_mode_error(name: &str) -> crate::errors::CmdError {
    crate::cmd_err!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        name
    )
}

struct MailboxInner {
    buf: BytesMut,
    /// When the pending output first went over the soft limit (cleared when it goes under).
    soft_since: Option<Instant>,
    /// Closed by the output-buffer limit: further messages are dropped.
    closed: bool,
}

/// A subscribed client's queue of undelivered frames, shared between its connection task and
/// every publisher.
pub struct Mailbox {
    /// The client's id.
    pub id: u64,
    handle: Arc<ClientHandle>,
    resp3: AtomicBool,
    inner: Mutex<MailboxInner>,
    /// Bytes taken by the connection and not yet written to the socket.
    inflight: AtomicUsize,
    /// Bytes queued (mirror of the buffer length, read without the lock).
    queued: AtomicUsize,
    /// Woken when frames are queued.
    pub wake: Notify,
}

impl Mailbox {
    /// A mailbox for the client behind `handle`.
    pub fn new(handle: Arc<ClientHandle>, resp3: bool) -> Mailbox {
        Mailbox {
            id: handle.id,
            handle,
            resp3: AtomicBool::new(resp3),
            inner: Mutex::new(MailboxInner {
                buf: BytesMut::new(),
                soft_since: None,
                closed: false,
            }),
            inflight: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            wake: Notify::new(),
        }
    }

    /// Sets the protocol frames are encoded in (the client switched with HELLO).
    #[inline]
    pub fn set_proto(&self, p: Protocol) {
        self.resp3.store(p == Protocol::Resp3, Relaxed);
    }

    /// Whether the client speaks RESP3 (as of its last command).
    #[inline]
    pub fn is_resp3(&self) -> bool {
        self.resp3.load(Relaxed)
    }

    /// Queues a ready-made frame (an array frame starting with `*`, re-headed as a push for
    /// RESP3), with the same output-buffer limit as Pub/Sub messages (client tracking's
    /// invalidations use it).
    pub fn deliver_frame(&self, srv: &Server, frame: &[u8]) {
        self.deliver(srv, frame);
    }

    /// Whether frames are queued (cheap, lock-free).
    #[inline]
    pub fn has_pending(&self) -> bool {
        self.queued.load(Relaxed) > 0
    }

    /// Takes every queued frame for writing; the bytes count as pending output until
    /// [`Mailbox::written`].
    pub fn take(&self) -> Option<Bytes> {
        let mut g = self.inner.lock();
        if g.buf.is_empty() {
            return None;
        }
        let b = g.buf.split().freeze();
        self.queued.store(0, Relaxed);
        self.inflight.store(b.len(), Relaxed);
        Some(b)
    }

    /// Moves every queued frame into `reply` (the frames then leave with the client's replies).
    pub fn drain_into(&self, reply: &mut Reply) {
        let mut g = self.inner.lock();
        if !g.buf.is_empty() {
            reply.raw(&g.buf);
            g.buf.clear();
            self.queued.store(0, Relaxed);
        }
    }

    /// Moves every queued frame to the end of `out`.
    pub fn drain_into_vec(&self, out: &mut Vec<u8>) {
        let mut g = self.inner.lock();
        if !g.buf.is_empty() {
            out.extend_from_slice(&g.buf);
            g.buf.clear();
            self.queued.store(0, Relaxed);
        }
    }

    /// Marks the bytes returned by [`Mailbox::take`] as written.
    pub fn written(&self) {
        self.inflight.store(0, Relaxed);
    }

    /// Queues `frame` (an array frame starting with `*`; re-headed as a push for RESP3) and
    /// wakes the client; applies the pubsub output-buffer limit.
    fn deliver(&self, srv: &Server, frame: &[u8]) {
        let mut g = self.inner.lock();
        if g.closed {
            return;
        }
        // Only the first frame after the buffer was emptied needs a wake-up: until the
        // connection takes the buffer, its pending notification covers later frames too.
        let was_empty = g.buf.is_empty();
        let head = if self.resp3.load(Relaxed) { b'>' } else { b'*' };
        g.buf.extend_from_slice(&[head]);
        g.buf.extend_from_slice(frame.get(1..).unwrap_or_default());
        let queued = g.buf.len();
        self.queued.store(queued, Relaxed);
        let pending = queued + self.inflight.load(Relaxed);
        let (hard, soft, secs) = srv.hot.obuf_limit(CLASS_PUBSUB);
        let mut over = hard > 0 && pending as u64 >= hard;
        if !over && soft > 0 && pending as u64 >= soft {
            match g.soft_since {
                None => g.soft_since = Some(Instant::now()),
                Some(t) => over = t.elapsed().as_secs_f64() > secs as f64,
            }
        } else if soft == 0 || (pending as u64) < soft {
            g.soft_since = None;
        }
        if over {
            g.closed = true;
            g.buf = BytesMut::new();
            self.queued.store(0, Relaxed);
            drop(g);
            srv.stats
                .client_output_buffer_limit_disconnections
                .fetch_add(1, Relaxed);
            crate::log_warning!(
                "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                self.id,
                self.handle.addr
            );
            self.handle.kill();
            return;
        }
        drop(g);
        if was_empty {
            self.wake.notify_one();
        }
    }
}

/// Subscribers of one channel, in subscription order.
type Subs = Vec<Arc<Mailbox>>;

/// A channel map split into independently locked parts.
struct ChannelMap {
    parts: Vec<RwLock<HashMap<Bytes, Subs>>>,
}

fn part_of(ch: &[u8]) -> usize {
    // FNV-1a: cheap, and only spreads lock contention.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in ch {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % CHANNEL_SHARDS as u64) as usize
}

impl ChannelMap {
    fn new() -> ChannelMap {
        ChannelMap {
            parts: (0..CHANNEL_SHARDS)
                .map(|_| RwLock::new(HashMap::new()))
                .collect(),
        }
    }

    fn part(&self, ch: &[u8]) -> &RwLock<HashMap<Bytes, Subs>> {
        &self.parts[part_of(ch)]
    }

    fn add(&self, ch: &Bytes, mb: &Arc<Mailbox>) {
        self.part(ch)
            .write()
            .entry(ch.clone())
            .or_default()
            .push(mb.clone());
    }

    fn remove(&self, ch: &[u8], id: u64) {
        let mut p = self.part(ch).write();
        if let Some(v) = p.get_mut(ch) {
            v.retain(|m| m.id != id);
            if v.is_empty() {
                p.remove(ch);
            }
        }
    }

    fn count(&self, ch: &[u8]) -> usize {
        self.part(ch).read().get(ch).map_or(0, Vec::len)
    }

    fn len(&self) -> usize {
        self.parts.iter().map(|p| p.read().len()).sum()
    }

    fn matching(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut out = Vec::new();
        for p in &self.parts {
            for ch in p.read().keys() {
                if pattern.is_none_or(|pat| crate::glob::glob_match(pat, ch, false)) {
                    out.push(ch.clone());
                }
            }
        }
        out
    }
}

/// Where a publisher's own copy goes when it is subscribed itself (RESP3): a side buffer
/// ([`ClientSubs::self_push`]) that dispatch splices in *before* the running command's reply,
/// where Redis's handlers (which publish before they reply) put it.
pub struct Publisher<'a> {
    /// The publishing client's id.
    pub id: u64,
    /// Whether the publishing client speaks RESP3.
    pub resp3: bool,
    /// The side buffer.
    pub out: &'a mut Vec<u8>,
}

impl<'a> Publisher<'a> {
    /// The publisher of the running command of `client`.
    pub fn of(client: &'a mut crate::client::Client, proto: Protocol) -> Publisher<'a> {
        Publisher {
            id: client.id,
            resp3: proto == Protocol::Resp3,
            out: &mut client.subs.self_push,
        }
    }

    /// A shorter-lived copy, for several publishes in a row.
    pub fn reborrow(&mut self) -> Publisher<'_> {
        Publisher {
            id: self.id,
            resp3: self.resp3,
            out: &mut *self.out,
        }
    }
}

/// Moves the pushes a command published to its own client in front of the command's reply
/// (everything written since `mark`).
#[inline]
pub fn splice_self_pushes(subs: &mut ClientSubs, reply: &mut Reply, mark: usize) {
    if subs.self_push.is_empty() {
        return;
    }
    let tail = reply.as_bytes().get(mark..).unwrap_or_default().to_vec();
    reply.truncate(mark);
    reply.raw(&subs.self_push);
    reply.raw(&tail);
    subs.self_push.clear();
}

/// The server-wide subscription registry.
pub struct Registry {
    channels: ChannelMap,
    shard_channels: ChannelMap,
    /// Unique patterns with their subscribers.
    patterns: RwLock<Vec<(Bytes, Subs)>>,
    pattern_count: AtomicUsize,
    /// Clients with at least one subscription (INFO pubsub_clients).
    clients: AtomicUsize,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            channels: ChannelMap::new(),
            shard_channels: ChannelMap::new(),
            patterns: RwLock::new(Vec::new()),
            pattern_count: AtomicUsize::new(0),
            clients: AtomicUsize::new(0),
        }
    }
}

/// Encodes an array frame of bulk strings (RESP2 header; [`Mailbox::deliver`] re-heads it).
fn frame(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(parts.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for p in parts {
        out.push(b'$');
        out.extend_from_slice(itoa::Buffer::new().format(p.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn send(srv: &Server, mb: &Arc<Mailbox>, frame: &[u8], me: &mut Option<Publisher<'_>>) {
    if let Some(p) = me.as_mut().filter(|p| p.id == mb.id) {
        // Earlier messages first, then this one, then the command's own reply.
        mb.drain_into_vec(p.out);
        p.out.push(if p.resp3 { b'>' } else { b'*' });
        p.out.extend_from_slice(frame.get(1..).unwrap_or_default());
        return;
    }
    mb.deliver(srv, frame);
}

impl Registry {
    /// PUBLISH: delivers `msg` to the subscribers of `channel` and of every matching pattern;
    /// returns the number of receivers (a client matching twice counts twice, as Redis).
    pub fn publish(
        &self,
        srv: &Server,
        channel: &[u8],
        msg: &[u8],
        mut me: Option<Publisher<'_>>,
    ) -> usize {
        let mut n = 0;
        {
            let part = self.channels.part(channel).read();
            if let Some(subs) = part.get(channel) {
                let f = frame(&[b"message", channel, msg]);
                for mb in subs {
                    send(srv, mb, &f, &mut me);
                }
                n += subs.len();
            }
        }
        if self.pattern_count.load(Relaxed) > 0 {
            let pats = self.patterns.read();
            for (pat, subs) in pats.iter() {
                if crate::glob::glob_match(pat, channel, false) {
                    let f = frame(&[b"pmessage", pat, channel, msg]);
                    for mb in subs {
                        send(srv, mb, &f, &mut me);
                    }
                    n += subs.len();
                }
            }
        }
        n
    }

    /// SPUBLISH: delivers `msg` to the subscribers of shard channel `channel`.
    pub fn spublish(
        &self,
        srv: &Server,
        channel: &[u8],
        msg: &[u8],
        mut me: Option<Publisher<'_>>,
    ) -> usize {
        let part = self.shard_channels.part(channel).read();
        let Some(subs) = part.get(channel) else {
            return 0;
        };
        let f = frame(&[b"smessage", channel, msg]);
        for mb in subs {
            send(srv, mb, &f, &mut me);
        }
        subs.len()
    }

    /// Number of subscribers of `channel` (PUBSUB NUMSUB; patterns not counted).
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.channels.count(channel)
    }

    /// Number of subscribers of shard channel `channel`.
    pub fn shard_numsub(&self, channel: &[u8]) -> usize {
        self.shard_channels.count(channel)
    }

    /// Active channels matching `pattern` (all when `None`), in no particular order.
    pub fn channel_names(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels.matching(pattern)
    }

    /// Active shard channels matching `pattern`.
    pub fn shard_channel_names(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.shard_channels.matching(pattern)
    }

    /// Number of channels with at least one subscriber (INFO pubsub_channels).
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Number of shard channels with at least one subscriber.
    pub fn shard_channel_count(&self) -> usize {
        self.shard_channels.len()
    }

    /// Number of distinct patterns subscribed to (PUBSUB NUMPAT, INFO pubsub_patterns).
    pub fn pattern_count(&self) -> usize {
        self.pattern_count.load(Relaxed)
    }

    /// Clients with at least one subscription.
    pub fn client_count(&self) -> usize {
        self.clients.load(Relaxed)
    }

    fn add_pattern(&self, pat: &Bytes, mb: &Arc<Mailbox>) {
        let mut p = self.patterns.write();
        match p.iter_mut().find(|(x, _)| x == pat) {
            Some((_, subs)) => subs.push(mb.clone()),
            None => p.push((pat.clone(), vec![mb.clone()])),
        }
        self.pattern_count.store(p.len(), Relaxed);
    }

    fn remove_pattern(&self, pat: &[u8], id: u64) {
        let mut p = self.patterns.write();
        if let Some(i) = p.iter().position(|(x, _)| x == pat) {
            p[i].1.retain(|m| m.id != id);
            if p[i].1.is_empty() {
                p.remove(i);
            }
        }
        self.pattern_count.store(p.len(), Relaxed);
    }
}

/// The kinds of subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE channels.
    Channel,
    /// PSUBSCRIBE patterns.
    Pattern,
    /// SSUBSCRIBE shard channels.
    Shard,
}

impl Kind {
    /// The confirmation verb of (un)subscribing.
    pub fn verb(self, subscribe: bool) -> &'static [u8] {
        match (self, subscribe) {
            (Kind::Channel, true) => b"subscribe",
            (Kind::Channel, false) => b"unsubscribe",
            (Kind::Pattern, true) => b"psubscribe",
            (Kind::Pattern, false) => b"punsubscribe",
            (Kind::Shard, true) => b"ssubscribe",
            (Kind::Shard, false) => b"sunsubscribe",
        }
    }
}

/// One client's subscriptions (owned by its connection task).
#[derive(Default)]
pub struct ClientSubs {
    /// The client's mailbox, created at its first subscription and kept for its life.
    pub mailbox: Option<Arc<Mailbox>>,
    /// Name → subscription sequence number (for the order of UNSUBSCRIBE without arguments).
    channels: HashMap<Bytes, u64>,
    patterns: HashMap<Bytes, u64>,
    shard: HashMap<Bytes, u64>,
    seq: u64,
    /// Counted in [`Registry::clients`].
    counted: bool,
    /// Pushes the running command published to this client (see [`Publisher`]).
    pub self_push: Vec<u8>,
}

impl ClientSubs {
    /// Channel + pattern subscriptions (the count SUBSCRIBE/PSUBSCRIBE confirmations carry).
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Shard channel subscriptions.
    pub fn shard_count(&self) -> usize {
        self.shard.len()
    }

    /// Channel, pattern and shard channel subscription counts (CLIENT LIST sub/psub/ssub).
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.channels.len(), self.patterns.len(), self.shard.len())
    }

    /// Whether the client has any subscription (Redis's CLIENT_PUBSUB flag).
    pub fn active(&self) -> bool {
        self.count() + self.shard.len() > 0
    }

    /// The running count a confirmation of `kind` carries.
    fn running(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard.len(),
            _ => self.count(),
        }
    }

    fn set(&mut self, kind: Kind) -> &mut HashMap<Bytes, u64> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// Subscribed names of `kind`, in subscription order.
    pub fn names(&self, kind: Kind) -> Vec<Bytes> {
        let m = match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
        };
        let mut v: Vec<(&Bytes, &u64)> = m.iter().collect();
        v.sort_by_key(|x| *x.1);
        v.into_iter().map(|x| x.0.clone()).collect()
    }
}

fn confirm(reply: &mut Reply, verb: &[u8], name: Option<&[u8]>, count: usize) {
    reply.push(3);
    reply.bulk(verb);
    match name {
        Some(n) => reply.bulk(n),
        None => reply.null(),
    }
    reply.int(count as i64);
}

fn note_client(srv: &Server, subs: &mut ClientSubs) {
    let active = subs.active();
    if active && !subs.counted {
        srv.pubsub.clients.fetch_add(1, Relaxed);
        subs.counted = true;
    } else if !active && subs.counted {
        srv.pubsub.clients.fetch_sub(1, Relaxed);
        subs.counted = false;
    }
}

/// SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE: subscribes to each name, one confirmation each.
pub fn subscribe(
    srv: &Server,
    handle: &Arc<ClientHandle>,
    subs: &mut ClientSubs,
    reply: &mut Reply,
    kind: Kind,
    names: &[Bytes],
) {
    let mb = subs
        .mailbox
        .get_or_insert_with(|| Arc::new(Mailbox::new(handle.clone(), false)))
        .clone();
    mb.set_proto(reply.proto());
    for n in names {
        let seq = subs.seq;
        if !subs.set(kind).contains_key(n) {
            subs.seq += 1;
            subs.set(kind).insert(n.clone(), seq);
            match kind {
                Kind::Channel => srv.pubsub.channels.add(n, &mb),
                Kind::Shard => srv.pubsub.shard_channels.add(n, &mb),
                Kind::Pattern => srv.pubsub.add_pattern(n, &mb),
            }
        }
        confirm(reply, kind.verb(true), Some(n), subs.running(kind));
    }
    note_client(srv, subs);
}

/// UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE: unsubscribes from each name (from all when
/// `names` is empty), one confirmation each; with nothing to unsubscribe from, one confirmation
/// with a null name. With `reply` `None` (RESET, disconnection) nothing is written.
pub fn unsubscribe(
    srv: &Server,
    subs: &mut ClientSubs,
    mut reply: Option<&mut Reply>,
    kind: Kind,
    names: &[Bytes],
) {
    let all;
    let list = if names.is_empty() {
        all = subs.names(kind);
        &all[..]
    } else {
        names
    };
    let id = subs.mailbox.as_ref().map_or(0, |m| m.id);
    for n in list {
        if subs.set(kind).remove(n).is_some() {
            match kind {
                Kind::Channel => srv.pubsub.channels.remove(n, id),
                Kind::Shard => srv.pubsub.shard_channels.remove(n, id),
                Kind::Pattern => srv.pubsub.remove_pattern(n, id),
            }
        }
        if let Some(r) = reply.as_deref_mut() {
            confirm(r, kind.verb(false), Some(n), subs.running(kind));
        }
    }
    if list.is_empty() {
        if let Some(r) = reply {
            confirm(r, kind.verb(false), None, subs.running(kind));
        }
    }
    note_client(srv, subs);
}

/// Drops every subscription without replies (RESET, disconnection).
pub fn unsubscribe_all(srv: &Server, subs: &mut ClientSubs) {
    if !subs.active() {
        return;
    }
    for k in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        unsubscribe(srv, subs, None, k, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_resp_arrays_of_bulks() {
        assert_eq!(
            frame(&[b"message", b"ch", b"hi"]),
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n".to_vec()
        );
        assert_eq!(frame(&[b"x", b""]), b"*2\r\n$1\r\nx\r\n$0\r\n\r\n".to_vec());
    }

    #[test]
    fn subscribed_mode_allows_only_the_pubsub_commands() {
        for ok in ["subscribe", "punsubscribe", "ping", "quit", "reset"] {
            assert!(allowed_in_subscribed_mode(ok), "{ok}");
        }
        for no in ["get", "publish", "config|get", "hello"] {
            assert!(!allowed_in_subscribed_mode(no), "{no}");
        }
        assert_eq!(
            subscribed_mode_error("config|get").0,
            "ERR Can't execute 'config|get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        );
    }

    #[test]
    fn channel_parts_spread_names() {
        let used: std::collections::HashSet<usize> = (0..1000)
            .map(|i| part_of(format!("ch{i}").as_bytes()))
            .collect();
        assert!(used.len() > CHANNEL_SHARDS / 2);
    }
}
