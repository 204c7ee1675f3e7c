//! The command table and the path every request takes.
//!
//! `execute` follows Redis's `processCommand` order: lookup → arity → authentication → gates
//! (pause, ...) → lock the shards the command declares → call the handler → after-call work
//! (command statistics, error statistics, slow log, MONITOR feed). Handlers are plain functions
//! `fn(&mut Ctx) -> CmdResult`; an `Err` becomes the error reply and counts as a failed call.
//!
//! Metadata (arity, flags, key specs) comes from [`crate::spec`]; this table only binds handlers
//! to names and says how the command's shards are locked.

use crate::client::Client;
use crate::errors::{self, CmdError, CmdResult};
use crate::keyspace::{shard_of, LockPlan, LockSet};
use crate::server::Server;
use crate::spec::{self, BeginSearch, CommandSpec, FindKeys};
use bytes::Bytes;
use ferrokv_engine::{Clock, Shard};
use ferrokv_resp::Reply;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// A command implementation.
pub type Handler = fn(&mut Ctx<'_, '_>) -> CmdResult;

/// How a command's shards are locked before it runs.
#[derive(Clone, Copy, Debug)]
pub enum Locking {
    /// Touches no key.
    None,
    /// The shards of the keys its key specs locate (in the client's current database).
    Keys,
    /// Every shard of the client's current database (KEYS, DBSIZE, FLUSHDB, RANDOMKEY, ...).
    Db,
    /// Every shard of every database (FLUSHALL, SWAPDB, ...).
    All,
    /// The handler locks on its own, one shard at a time (SCAN, INFO keyspace): not atomic over
    /// the whole keyspace, like Redis's SCAN. Inside MULTI/EXEC or a script these get the whole db.
    Manual,
    /// A command-specific plan computed from the arguments and the current db (MOVE, COPY ... DB,
    /// which touch two databases). Must return a normalised plan.
    Custom(fn(&[Bytes], u32) -> LockPlan),
}

/// Per-command counters (INFO commandstats). Updated once per connection batch, not per call.
#[derive(Default)]
pub struct CmdStats {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
    /// Calls per duration bucket (LATENCY HISTOGRAM; see `cmd::latency::hist_bucket`).
    pub hist: [AtomicU64; crate::cmd::latency::HIST_BUCKETS],
}

/// One entry of the command table.
pub struct Command {
    /// Metadata (arity, flags, key specs, ...).
    pub spec: &'static CommandSpec,
    /// Full lowercase name, `get` or `config|get`.
    pub name: &'static str,
    /// Dense index (for per-client statistics buffers).
    pub index: usize,
    /// The implementation; `None` for a container (CONFIG, CLIENT, ...) whose subcommands run.
    pub handler: Option<Handler>,
    /// Lock discipline.
    pub locking: Locking,
    /// Subcommands by lowercase name.
    pub subs: NameMap<Command>,
    /// Statistics (shared with [`CommandTable::stats_by_index`]).
    pub stats: Arc<CmdStats>,
}

impl Command {
    /// Whether the command has a flag (`spec::flags::*`).
    #[inline]
    pub fn has(&self, flag: u64) -> bool {
        self.spec.flags & flag != 0
    }
}

/// Result of looking up a request's command.
pub enum Lookup<'a> {
    Found(&'a Command),
    Unknown,
    UnknownSub(&'a Command),
}

/// Command names to commands. foldhash rather than the default SipHash: lookups run several
/// times per request (dispatch, then the statistics flush by index) on 3-16 byte names, where
/// SipHash cost ~8% of the user-space instructions of a SET; the table only ever holds the
/// fixed command names, so no flooding resistance is needed.
pub type NameMap<V> = HashMap<&'static [u8], V, foldhash::fast::RandomState>;

/// All implemented commands.
#[derive(Default)]
pub struct CommandTable {
    map: NameMap<Command>,
    count: usize,
    /// Full name of each command index.
    names: Vec<&'static str>,
    /// Each command index as (parent name, subcommand name): `by_index` without a '|' search.
    paths: Vec<(&'static [u8], Option<&'static [u8]>)>,
    /// Each command index's statistics: the per-batch flush reaches them without a name lookup.
    stats: Vec<Arc<CmdStats>>,
}

impl CommandTable {
    /// Binds `handler` to the command `name` (lowercase; `parent|sub` for a subcommand). Fails if
    /// the metadata table has no such command (a programming error caught by a unit test).
    pub fn add(&mut self, name: &'static str, handler: Handler, locking: Locking) {
        let (parent, sub) = match name.split_once('|') {
            Some((p, s)) => (p, Some(s)),
            None => (name, None),
        };
        let Some(pspec) = spec::lookup(parent.as_bytes()) else {
            crate::log_warning!("command table: no metadata for '{}'", parent);
            return;
        };
        let index = self.count;
        match sub {
            None => {
                self.count += 1;
                self.names.push(pspec.name);
                self.paths.push((pspec.name.as_bytes(), None));
                let stats = Arc::new(CmdStats::default());
                self.stats.push(stats.clone());
                // Keep subcommands registered before the container's own handler (COMMAND).
                let subs = self
                    .map
                    .remove(pspec.name.as_bytes())
                    .map(|c| c.subs)
                    .unwrap_or_default();
                self.map.insert(
                    pspec.name.as_bytes(),
                    Command {
                        spec: pspec,
                        name: pspec.name,
                        index,
                        handler: Some(handler),
                        locking,
                        subs,
                        stats,
                    },
                );
            }
            Some(s) => {
                let Some(sspec) = spec::lookup_sub(pspec, s.as_bytes()) else {
                    crate::log_warning!("command table: no metadata for '{}'", name);
                    return;
                };
                let container = self
                    .map
                    .entry(pspec.name.as_bytes())
                    .or_insert_with(|| Command {
                        spec: pspec,
                        name: pspec.name,
                        index: usize::MAX,
                        handler: None,
                        locking: Locking::None,
                        subs: NameMap::default(),
                        stats: Arc::default(),
                    });
                self.count += 1;
                self.names.push(sspec.name);
                let sub_name = sspec.name.rsplit('|').next().unwrap_or(sspec.name);
                self.paths
                    .push((pspec.name.as_bytes(), Some(sub_name.as_bytes())));
                let stats = Arc::new(CmdStats::default());
                self.stats.push(stats.clone());
                container.subs.insert(
                    sub_name.as_bytes(),
                    Command {
                        spec: sspec,
                        name: sspec.name,
                        index,
                        handler: Some(handler),
                        locking,
                        subs: NameMap::default(),
                        stats,
                    },
                );
            }
        }
    }

    /// The command with dense index `i`.
    pub fn by_index(&self, i: usize) -> Option<&Command> {
        let &(parent, sub) = self.paths.get(i)?;
        let cmd = self.map.get(parent)?;
        match sub {
            None => Some(cmd),
            Some(s) => cmd.subs.get(s),
        }
    }

    /// The statistics of the command with dense index `i` (what `by_index(i)?.stats` is,
    /// without the two name lookups).
    #[inline]
    pub fn stats_by_index(&self, i: usize) -> Option<&CmdStats> {
        self.stats.get(i).map(|s| &**s)
    }

    /// Number of command slots (for per-client statistics buffers).
    pub fn slots(&self) -> usize {
        self.count
    }

    /// Finds the command of `argv` without allocating (names are lowercased on the stack).
    pub fn lookup(&self, argv: &[Bytes]) -> Lookup<'_> {
        let Some(name) = argv.first() else {
            return Lookup::Unknown;
        };
        let mut buf = [0u8; 32];
        let Some(lower) = lower_into(name, &mut buf) else {
            return Lookup::Unknown;
        };
        let Some(cmd) = self.map.get(lower) else {
            return Lookup::Unknown;
        };
        // A command without subcommands, or a container called without a subcommand (which
        // fails the arity check unless it has a handler of its own, like COMMAND), as in Redis.
        let Some(sub) = argv.get(1).filter(|_| !cmd.subs.is_empty()) else {
            return Lookup::Found(cmd);
        };
        let mut buf2 = [0u8; 32];
        match lower_into(sub, &mut buf2).and_then(|s| cmd.subs.get(s)) {
            Some(c) => Lookup::Found(c),
            None => Lookup::UnknownSub(cmd),
        }
    }

    /// Looks up by lowercase name (`get`, `config|get`).
    pub fn get(&self, name: &str) -> Option<&Command> {
        match name.split_once('|') {
            None => self.map.get(name.as_bytes()),
            Some((p, s)) => self.map.get(p.as_bytes())?.subs.get(s.as_bytes()),
        }
    }

    /// Every top-level command.
    pub fn iter(&self) -> impl Iterator<Item = &Command> {
        self.map.values()
    }

    /// Every command and subcommand that has a handler.
    pub fn all_callables(&self) -> Vec<&Command> {
        let mut v = Vec::new();
        for c in self.map.values() {
            if c.handler.is_some() {
                v.push(c);
            }
            v.extend(c.subs.values());
        }
        v
    }
}

fn lower_into<'b>(name: &[u8], buf: &'b mut [u8; 32]) -> Option<&'b [u8]> {
    let dst = buf.get_mut(..name.len())?;
    for (d, s) in dst.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some(dst)
}

/// Everything a handler needs while it runs.
/// `'a` bounds the borrows of one call (client, request, reply); `'k` the shard locks, which
/// a script keeps across the many calls it makes.
pub struct Ctx<'a, 'k> {
    /// Shared server state.
    pub srv: &'k Server,
    /// The calling client (its selected db, protocol, name, ...).
    pub client: &'a mut Client,
    /// The request, command name included.
    pub argv: &'a [Bytes],
    /// Where the reply goes.
    pub reply: &'a mut Reply,
    /// The shards this command holds.
    pub locks: LockSet<'k>,
    /// The time the command runs at.
    pub clock: Clock,
    /// The command being run.
    pub cmd: &'a Command,
}

impl<'a, 'k> Ctx<'a, 'k> {
    /// The client's selected database.
    #[inline]
    pub fn db(&self) -> u32 {
        self.client.db
    }

    /// Argument `i` (0 is the command name); empty if absent (arity was checked before).
    #[inline]
    pub fn arg(&self, i: usize) -> &'a [u8] {
        self.argv.get(i).map(|b| &b[..]).unwrap_or(&[])
    }

    /// Argument `i` as shared bytes.
    #[inline]
    pub fn arg_bytes(&self, i: usize) -> Bytes {
        self.argv.get(i).cloned().unwrap_or_default()
    }

    /// Current time in unix milliseconds.
    #[inline]
    pub fn now_ms(&self) -> i64 {
        self.clock.ms
    }

    /// Whether an absolute expiry time `when` is already past, so that the command deletes the
    /// key instead of setting its TTL (Redis's `checkAlreadyExpired`). Never while the AOF
    /// loads: replay must rebuild the history, and a later command of the log may still touch
    /// the key (expiry is suspended during loading, see `Shard::set_no_expire`).
    #[inline]
    pub fn already_expired(&self, when: i64) -> bool {
        when <= self.clock.ms && !self.replaying()
    }

    /// Whether this command is replayed from the append-only file at startup.
    #[inline]
    pub fn replaying(&self) -> bool {
        self.srv.persist.aof.is_loader(self.client.id)
    }

    /// The locked shard holding `key` in the current database.
    #[inline]
    pub fn shard(&mut self, key: &[u8]) -> Result<&mut Shard, CmdError> {
        let db = self.client.db;
        self.locks.for_key(db, key).ok_or(LOCK_BUG)
    }

    /// The locked shard holding `key` and the reply writer, borrowed together.
    #[inline]
    pub fn shard_reply(&mut self, key: &[u8]) -> Result<(&mut Shard, &mut Reply), CmdError> {
        let db = self.client.db;
        let shard = self.locks.for_key(db, key).ok_or(LOCK_BUG)?;
        Ok((shard, &mut *self.reply))
    }

    /// The locked shard holding `key` in database `db`.
    pub fn shard_in(&mut self, db: u32, key: &[u8]) -> Result<&mut Shard, CmdError> {
        self.locks.for_key(db, key).ok_or(LOCK_BUG)
    }

    /// Records `n` changes to the dataset (rdb_changes_since_last_save).
    #[inline]
    pub fn dirty(&mut self, n: u64) {
        self.client.batch.dirty += n;
    }

    /// Records a keyspace hit or miss (INFO keyspace_hits / keyspace_misses).
    #[inline]
    pub fn hit(&mut self, found: bool) {
        if found {
            self.client.batch.hits += 1;
        } else {
            self.client.batch.misses += 1;
        }
    }

    /// Emits a keyspace event (`class` from [`crate::notify`], Redis's event name) for `key` in
    /// the current database. Call it right after the change, as Redis does.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        crate::notify::keyspace_event(self, class, event, key);
    }

    /// Signals that `key` in the current database was modified (Redis's `signalModifiedKey`:
    /// WATCH and client-side caching). Call once per modified key per command.
    #[inline]
    pub fn modified(&mut self, key: &[u8]) {
        let db = self.client.db;
        crate::watch::signal_modified(self, db, key);
    }

    /// Signals that `key` in the current database may serve blocked clients (a list, sorted
    /// set or stream got elements or was created). See [`crate::blocking`].
    #[inline]
    pub fn key_ready(&mut self, key: &[u8]) {
        let db = self.client.db;
        crate::blocking::signal_ready(self, db, key);
    }

    /// [`Ctx::key_ready`] for a key of database `db` (MOVE, COPY ... DB).
    #[inline]
    pub fn key_ready_in(&mut self, db: u32, key: &[u8]) {
        crate::blocking::signal_ready(self, db, key);
    }

    /// Parks the client on `keys` (see [`crate::blocking`] for the contract).
    pub fn block_on(
        &mut self,
        keys: &[&[u8]],
        deadline_ms: Option<i64>,
        on_timeout: crate::blocking::TimeoutReply,
    ) -> CmdResult {
        crate::blocking::block(self, keys, deadline_ms, on_timeout)
    }

    /// The encoding thresholds (`*-max-listpack-*`, ...) in force.
    #[inline]
    pub fn limits(&self) -> ferrokv_engine::EncodingLimits {
        self.srv.hot.encoding_limits()
    }

    /// A reply with the RESP3-aware writer, for the handler's success path.
    #[inline]
    pub fn out(&mut self) -> &mut Reply {
        self.reply
    }
}

const LOCK_BUG: CmdError = CmdError::new("ERR internal error: key outside the command's lock plan");

/// What the connection loop must do after `execute`.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// Go on with the next request.
    Continue,
    /// Flush and close the connection (QUIT, protocol error, CLIENT KILL of self).
    Close,
    /// The command was not run because clients are paused; wait and run it again.
    Paused,
}

/// Runs one request and appends its reply.
pub fn execute(srv: &Server, client: &mut Client, argv: &[Bytes], reply: &mut Reply) -> Flow {
    execute_with(srv, client, argv, reply, None, None)
}

/// [`execute`] with a lock cache (see [`crate::squash`]): with `Some(cache)`, the lock the
/// previous command left in `cache` is reused for this command's key (or released first), and
/// this command's lock set is left in `cache` instead of being released when the cache asks
/// for it. `found` is the command of `argv` when the caller already looked it up.
pub fn execute_with<'k>(
    srv: &'k Server,
    client: &mut Client,
    argv: &[Bytes],
    reply: &mut Reply,
    mut cache: Option<&mut crate::squash::LockCache<'k>>,
    found: Option<&'k Command>,
) -> Flow {
    let looked_up = match found {
        Some(c) => Lookup::Found(c),
        None => srv.commands.lookup(argv),
    };
    let cmd = match looked_up {
        Lookup::Found(c) => c,
        Lookup::Unknown => {
            reject(srv, client, reply, None, errors::unknown_command(argv));
            return Flow::Continue;
        }
        Lookup::UnknownSub(container) => {
            let e = errors::unknown_subcommand(
                argv.get(1).map(|b| &b[..]).unwrap_or(b""),
                container.name,
            );
            reject(srv, client, reply, None, e);
            return Flow::Continue;
        }
    };
    let arity = cmd.spec.arity;
    let argc = argv.len() as i32;
    if (arity > 0 && argc != arity) || argc < -arity || cmd.handler.is_none() {
        reject(srv, client, reply, Some(cmd), errors::wrong_arity(cmd.name));
        return Flow::Continue;
    }
    if !client.authenticated && !cmd.has(spec::flags::NO_AUTH) {
        reject(srv, client, reply, Some(cmd), errors::NOAUTH);
        return Flow::Continue;
    }
    if client.subs.active()
        && reply.proto() == ferrokv_resp::Protocol::Resp2
        && !crate::pubsub::allowed_in_subscribed_mode(cmd.name)
    {
        let e = crate::pubsub::subscribed_mode_error(cmd.name);
        reject(srv, client, reply, Some(cmd), e);
        return Flow::Continue;
    }
    if srv.pause.blocks(cmd, client)
        || (cmd.name == "exec"
            && client.multi.as_ref().is_some_and(|m| m.writes)
            && srv.pause.writes_paused())
    {
        return Flow::Paused;
    }
    if srv
        .persist
        .loading
        .load(std::sync::atomic::Ordering::Relaxed)
        && !cmd.has(spec::flags::LOADING)
        && !srv.persist.aof.is_loader(client.id)
    {
        reject(srv, client, reply, Some(cmd), errors::LOADING);
        return Flow::Continue;
    }
    if !srv
        .persist
        .last_bgsave_ok
        .load(std::sync::atomic::Ordering::Relaxed)
        && (cmd.has(spec::flags::WRITE) || cmd.name == "ping")
        && crate::persist::writes_refused(srv)
    {
        reject(srv, client, reply, Some(cmd), errors::MISCONF);
        return Flow::Continue;
    }
    if cmd.has(spec::flags::WRITE) || cmd.name == "ping" {
        if let Some(e) = srv.persist.aof.write_error() {
            reject(srv, client, reply, Some(cmd), errors::CmdError::from(e));
            return Flow::Continue;
        }
    }
    if srv.scripting.busy() && !cmd.has(spec::flags::ALLOW_BUSY) {
        reject(srv, client, reply, Some(cmd), srv.scripting.busy_error());
        return Flow::Continue;
    }
    if client.multi.is_some()
        && crate::cmd::transactions::queue_if_multi(srv, client, cmd, argv, reply)
    {
        return Flow::Continue;
    }
    let Some(handler) = cmd.handler else {
        return Flow::Continue;
    };
    if srv.tracking.tracking_clients() > 0 {
        crate::tracking::limit_table(srv);
        // Invalidations of evicted keys sent to this client precede the reply, as in Redis.
        if let Some(mb) = client.subs.mailbox.as_ref().filter(|m| m.has_pending()) {
            mb.drain_into(reply);
        }
    }
    // One clock read per command: it ends the previous command of the batch and starts this one.
    let start_us = client.clock_us;
    let reply_mark = reply.len();
    let result = {
        let locked = match (
            cmd.locking,
            single_key_index(cmd.spec),
            cache.as_deref_mut(),
        ) {
            (_, _, Some(c)) => crate::squash::lock(srv, cmd, argv, client.db, c.take()),
            (Locking::Keys, Some(i), None) => match argv.get(i) {
                Some(k) => srv.keyspace.lock_key_checked(client.db, k),
                None => Ok(srv.keyspace.lock(&LockPlan::None)),
            },
            _ => lock_for_call(srv, cmd, argv, client.db),
        };
        let locks = match locked {
            Ok(l) => l,
            Err(crate::keyspace::LockAbort::Busy) => {
                reject(srv, client, reply, Some(cmd), srv.scripting.busy_error());
                return Flow::Continue;
            }
        };
        let mut ctx = Ctx {
            srv,
            client: &mut *client,
            argv,
            reply: &mut *reply,
            locks,
            clock: Clock {
                ms: start_us / 1000,
                touch: true,
                rand: 0,
            },
            cmd,
        };
        ctx.clock.touch = !ctx.client.no_touch || ctx.cmd.name == "touch";
        ctx.clock.rand = ctx.client.next_rand();
        let r = crate::propagate::call_handler(&mut ctx, handler);
        crate::notify::after_command(&mut ctx);
        crate::propagate::end_unit(srv, ctx.client);
        if let Some(slot) = cache {
            crate::squash::keep(slot, cmd, argv, ctx.locks);
        }
        r
    };
    crate::tracking::after_call(srv, client, cmd, argv);
    crate::tracking::broadcast(srv);
    let end_us = crate::util::now_us();
    client.clock_us = end_us;
    let usec = (end_us - start_us).max(0) as u64;
    // A call that blocked the client is counted when it completes (crate::blocking).
    let blocked = result.is_ok() && client.blocking.blocked_now();
    if !blocked {
        client.batch.record_call(cmd.index, usec);
    }
    if let Err(e) = result {
        // A handler that parked the client and then failed does not leave it blocked.
        if let Some(w) = client.blocking.parked.take() {
            srv.blocking.cancel(&w);
        }
        reply.truncate(reply_mark);
        reply.error(e.0.as_bytes());
        client.batch.record_failed(cmd.index);
        srv.stats.count_error(e.code());
    }
    crate::pubsub::splice_self_pushes(&mut client.subs, reply, reply_mark);
    if blocked {
        srv.after_blocked_call(client, cmd, argv);
    } else {
        srv.after_call(client, cmd, argv, usec);
    }
    if client.close_after_reply {
        Flow::Close
    } else {
        Flow::Continue
    }
}

fn reject(
    srv: &Server,
    client: &mut Client,
    reply: &mut Reply,
    cmd: Option<&Command>,
    e: CmdError,
) {
    crate::cmd::transactions::flag_transaction(client);
    let e = match cmd {
        Some(c) if c.name == "exec" => crate::cmd::transactions::abort_exec(srv, client, e),
        _ => e,
    };
    reply.error(e.0.as_bytes());
    srv.stats.count_error(e.code());
    if let Some(c) = cmd {
        client.batch.record_rejected(c.index);
    }
}

/// For commands with exactly one key at a fixed position (GET, SET, INCR, ...): that position.
#[inline]
pub(crate) fn single_key_index(spec: &CommandSpec) -> Option<usize> {
    match spec.key_specs {
        [ks] => match (&ks.begin, &ks.find) {
            (
                BeginSearch::Index(first),
                FindKeys::Range {
                    lastkey: 0,
                    step: _,
                    limit: 0,
                },
            ) if *first > 0 => Some(*first as usize),
            _ => None,
        },
        _ => None,
    }
}

/// The argument positions of a command's keys when its only key spec is a fixed index with a
/// range find (GET, SET, MSET, DEL, ...): `(first, last, step)`, `last` clamped to the last
/// argument. `Some(Err(()))` when the range's end lies before the start of `argv` (malformed
/// request), `None` for other key specs.
#[inline]
pub(crate) fn key_range(
    spec: &CommandSpec,
    argc: usize,
) -> Option<Result<(usize, usize, usize), ()>> {
    let [ks] = spec.key_specs else {
        return None;
    };
    let (
        BeginSearch::Index(first),
        FindKeys::Range {
            lastkey,
            step,
            limit,
        },
    ) = (&ks.begin, &ks.find)
    else {
        return None;
    };
    if *first <= 0 || *step <= 0 || *limit != 0 {
        return None;
    }
    let first = *first as usize;
    let last = if *lastkey >= 0 {
        first + *lastkey as usize
    } else {
        match argc.checked_sub((-*lastkey) as usize) {
            Some(l) => l,
            None => return Some(Err(())),
        }
    };
    Some(Ok((
        first,
        last.min(argc.saturating_sub(1)),
        *step as usize,
    )))
}

/// Number of positions `first, first + step, ...` up to `last` (0 when `last < first`).
#[inline]
fn range_len(first: usize, last: usize, step: usize) -> usize {
    if last < first {
        0
    } else {
        (last - first) / step + 1
    }
}

/// Locks what [`lock_plan`] says for a command about to run with `argv`. For a command with
/// several keys at fixed positions (MSET, DEL, EXISTS, ...) each key's shard is computed once
/// here and handed to the lock set ([`LockSet::set_key_shards`]), so the handler's
/// `for_key` does not hash the keys again.
pub fn lock_for_call<'k>(
    srv: &'k Server,
    cmd: &Command,
    argv: &[Bytes],
    db: u32,
) -> Result<LockSet<'k>, crate::keyspace::LockAbort> {
    if let (Locking::Keys, Some(Ok((first, last, step)))) =
        (cmd.locking, key_range(cmd.spec, argv.len()))
    {
        let n = range_len(first, last, step);
        if n > 1 {
            let mut plan = Vec::with_capacity(n);
            let mut keys = Vec::with_capacity(n);
            for k in argv.iter().take(last + 1).skip(first).step_by(step) {
                let s = shard_of(k) as u32;
                plan.push((db, s));
                keys.push((k.as_ptr() as usize, k.len(), s));
            }
            let mut set = srv
                .keyspace
                .lock_checked(&LockPlan::Shards(plan).normalise())?;
            set.set_key_shards(keys.into_boxed_slice());
            return Ok(set);
        }
    }
    srv.keyspace.lock_checked(&lock_plan(cmd, argv, db))
}

/// The shards a command must hold, from its locking mode and key specs.
pub fn lock_plan(cmd: &Command, argv: &[Bytes], db: u32) -> LockPlan {
    match cmd.locking {
        Locking::None | Locking::Manual => LockPlan::None,
        Locking::Db => LockPlan::Db(db),
        Locking::All => LockPlan::All,
        Locking::Keys => key_plan(cmd.spec, argv, db),
        Locking::Custom(f) => f(argv, db),
    }
}

/// The shards of the keys of `argv`, per the command's key specs. Falls back to the whole db
/// when the keys cannot be located (malformed request: the handler will reject it anyway).
pub fn key_plan(spec: &CommandSpec, argv: &[Bytes], db: u32) -> LockPlan {
    // Fast path: one key spec, fixed index, range find (GET, SET, MSET, DEL, ...): no allocation
    // beyond the plan itself.
    match key_range(spec, argv.len()) {
        Some(Ok((first, last, step))) => {
            let mut v = Vec::with_capacity(range_len(first, last, step));
            for k in argv.iter().take(last + 1).skip(first).step_by(step) {
                v.push((db, shard_of(k) as u32));
            }
            return LockPlan::Shards(v).normalise();
        }
        Some(Err(())) => return LockPlan::Db(db),
        None => {}
    }
    let args: Vec<&[u8]> = argv.iter().map(|b| &b[..]).collect();
    let keys = spec::keys_for_dispatch(spec, &args);
    if keys.is_empty() && spec::has_keys(spec) && argv.len() > 1 {
        // Keys could not be located (malformed request): hold the whole db, the handler rejects it.
        return LockPlan::Db(db);
    }
    LockPlan::Shards(
        keys.iter()
            .filter_map(|(i, _)| argv.get(*i))
            .map(|k| (db, shard_of(k) as u32))
            .collect(),
    )
    .normalise()
}
