//! Pipeline squashing: consecutive requests of one connection's read batch that touch the
//! same shards run under one lock acquisition.
//!
//! Without it every command locks its shard(s), runs and unlocks. A pipeline of 16 `LPUSH`es
//! to one list therefore takes the same shard lock 16 times, and when another connection's
//! worker thread wants that shard too, both spin on it and switch threads (issue 8: ~13% lock
//! acquisition + ~9% thread switches in the ZADD P16 profile).
//!
//! [`Squash::run`] takes over the connection loop's call to `dispatch::execute` for a request.
//! It executes the request with a *lock cache*: the command's lock set is not released when
//! it ends but kept ([`keep`]). It then parses the next request of the batch itself; if that
//! one is *eligible* (below), it runs at once, reusing the cached shards when they cover its
//! plan ([`lock`]; otherwise the cache is released first and the command locks as usual, so
//! no thread ever holds a shard while it waits for another). The run ends, and the cache is
//! released, at the first request that is not eligible (it is kept in [`Squash`] and handed to
//! the connection loop by [`Squash::parse`]), at the end of the buffered requests, after
//! [`MAX_RUN`] commands or [`MAX_HOLD_US`] microseconds (other connections wait at most that
//! long for the shard), or after a command that leaves work for the connection loop (a
//! blocked client, a pause, a reply to flush, ...). The connection loop does its usual
//! after-command work for the last command of the run.
//!
//! Why the replies and effects are those of one-command-at-a-time execution:
//!
//! - Each command still runs whole under locks covering its plan, with its own clock, its own
//!   statistics, slow log and MONITOR feed (`Server::after_call`), keyspace notifications and
//!   WATCH invalidations (under the locks, in command order), and its own AOF/replication unit
//!   (`propagate::end_unit`, still one unit per command, fed while the locks are held). A batch
//!   of whole commands under one lock is a serial execution; Redis too runs a client's whole
//!   read batch before it serves another client.
//! - Clients blocked on keys are served between commands, as the connection loop does after
//!   each one (`blocking::after_command`): serving locks shards, so the cache is released first
//!   whenever [`crate::blocking::has_work`] says there is something to serve.
//! - CLIENT PAUSE is checked by `dispatch::execute` before each command; a paused command ends
//!   the run and goes back to the connection loop unexecuted (`Flow::Paused`).
//! - Only requests the connection loop would run with nothing around them are eligible (see
//!   [`eligible`]): no MULTI state, no scripts (they may block or take the interpreter), no
//!   commands that lock on their own or lock whole databases (SCAN, FLUSHALL, INFO, CLIENT,
//!   CONFIG SET, ...: `Locking::None`, `Manual`, `Db`, `All`), replies on (CLIENT REPLY), no
//!   MONITOR or Pub/Sub state, no messages waiting for the client, not killed. The server
//!   must run the memory engine (the disk engine's unit ends with a flush under the locks),
//!   have no client-side-caching clients (their bookkeeping runs after the locks are released)
//!   and no hard output-buffer limit for normal clients (checked by the loop after each reply).

use crate::client::{Client, ReplyMode};
use crate::dispatch::{self, Command, Flow, Locking, Lookup};
use crate::keyspace::{shard_of, LockAbort, LockPlan, LockSet};
use crate::server::Server;
use bytes::{Bytes, BytesMut};
use ferrokv_resp::{Limits, ParseError, Reply, RequestParser};

/// At most this many commands run under one acquisition of the cached shards.
pub const MAX_RUN: u32 = 32;
/// A run stops once it has lasted this long (microseconds, by the commands' own clock), so a
/// connection waiting for one of the cached shards waits at most about this long.
pub const MAX_HOLD_US: i64 = 100;
/// A lock set of more shards than this is released after its command, not kept.
const MAX_KEPT_SHARDS: usize = 16;
/// A run stops once the pending replies reach this size: the connection loop then checks the
/// output limits and flushes (at 64 KiB) as usual.
const MAX_REPLY: usize = 16 * 1024;

/// A request parsed ahead by [`Squash::run`] and not run by it.
enum Ahead {
    None,
    /// In `Squash::spare`.
    Request,
    /// The parser failed on the next request: reported by the next [`Squash::parse`].
    Error(ParseError),
}

/// Per-connection squashing state: a request (or parse error) read ahead and not run yet.
pub struct Squash {
    ahead: Ahead,
    spare: Vec<Bytes>,
}

impl Default for Squash {
    fn default() -> Squash {
        Squash {
            ahead: Ahead::None,
            spare: Vec::new(),
        }
    }
}

impl Squash {
    /// The connection loop's parse step: hands over the request [`Squash::run`] parsed ahead
    /// (or its parse error) if there is one, and otherwise parses the next request from `inbuf`
    /// as `RequestParser::parse` does.
    #[inline]
    pub fn parse(
        &mut self,
        parser: &mut RequestParser,
        inbuf: &mut BytesMut,
        args: &mut Vec<Bytes>,
        lim: &Limits,
        authenticated: bool,
    ) -> Result<bool, ParseError> {
        match std::mem::replace(&mut self.ahead, Ahead::None) {
            Ahead::None => parser.parse(inbuf, args, lim, authenticated),
            Ahead::Request => {
                std::mem::swap(args, &mut self.spare);
                Ok(true)
            }
            Ahead::Error(e) => Err(e),
        }
    }

    /// Executes the request in `args` (what `dispatch::execute` does), then, while the next
    /// buffered requests are eligible, parses and executes them too under the cached locks (see
    /// the module docs). Returns the flow of the last request executed, which is left in
    /// `args`; the connection loop does its after-command work for that one.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        srv: &Server,
        client: &mut Client,
        parser: &mut RequestParser,
        inbuf: &mut BytesMut,
        args: &mut Vec<Bytes>,
        reply: &mut Reply,
        lim: &Limits,
    ) -> Flow {
        let mut cmd = match eligible(srv, client, args) {
            Some(Ok(c)) if server_allows(srv) => c,
            // (The command was looked up: not again.)
            Some(Ok(c) | Err(c)) => {
                return dispatch::execute_with(srv, client, args, reply, None, Some(c))
            }
            None => return dispatch::execute(srv, client, args, reply),
        };
        let mut cache: Option<LockSet<'_>> = None;
        let started = client.clock_us;
        let mut n = 1;
        loop {
            let flow =
                dispatch::execute_with(srv, client, args, reply, Some(&mut cache), Some(cmd));
            if flow != Flow::Continue
                || n >= MAX_RUN
                || client.clock_us - started > MAX_HOLD_US
                || !settled(client, reply)
            {
                return flow;
            }
            // What the connection loop does after each command: serve clients blocked on keys
            // this command made ready (which locks shards: release ours first).
            if crate::blocking::has_work(srv, client) {
                cache = None;
                crate::blocking::after_command(srv, client);
            }
            client.blocking.keep_deadline = None;
            match parser.parse(inbuf, &mut self.spare, lim, client.authenticated) {
                Ok(true) => {}
                Ok(false) => return flow,
                Err(e) => {
                    self.ahead = Ahead::Error(e);
                    return flow;
                }
            }
            cmd = match eligible(srv, client, &self.spare) {
                Some(Ok(c)) if server_allows(srv) => c,
                _ => {
                    self.ahead = Ahead::Request;
                    return flow;
                }
            };
            std::mem::swap(args, &mut self.spare);
            n += 1;
        }
    }
}

/// Server-wide conditions for squashing (see the module docs).
#[inline]
fn server_allows(srv: &Server) -> bool {
    !crate::disk::enabled(srv)
        && srv.tracking.tracking_clients() == 0
        && srv.hot.obuf_limit(crate::pubsub::CLASS_NORMAL).0 == 0
}

/// `Ok(command)` when the connection loop would run `argv` with nothing around it and the
/// command's shards come from its keys (`Locking::Keys` / `Custom`); `Err(command)` when the
/// client's state allows it but the command does not qualify; `None` when the client's state
/// rules it out or the command is unknown (then it was not looked up, or not found).
#[inline]
fn eligible<'s>(
    srv: &'s Server,
    client: &Client,
    argv: &[Bytes],
) -> Option<Result<&'s Command, &'s Command>> {
    if client.reply_mode != ReplyMode::On
        || client.multi.is_some()
        || client.wants_monitor
        || client.subs.active()
        || client.handle.is_killed()
        || client
            .subs
            .mailbox
            .as_ref()
            .is_some_and(|m| m.has_pending())
        || crate::scripting::runs_off_thread(argv)
    {
        return None;
    }
    match srv.commands.lookup(argv) {
        Lookup::Found(cmd) if matches!(cmd.locking, Locking::Keys | Locking::Custom(_)) => {
            Some(Ok(cmd))
        }
        Lookup::Found(cmd) => Some(Err(cmd)),
        _ => None,
    }
}

/// Whether the command just run left nothing for the connection loop to do but the
/// after-command work [`Squash::run`] does itself.
#[inline]
fn settled(client: &Client, reply: &Reply) -> bool {
    client.blocking.parked.is_none()
        && client.block_until.is_none()
        && !client.close_after_reply
        && !client.wants_monitor
        && client.reply_mode == ReplyMode::On
        && reply.len() < MAX_REPLY
}

/// Locks for `cmd` when a lock cache is in use: the cached set in `slot` when it covers the
/// command's shards (re-pointing its key hint at this command's key), otherwise the cache is
/// released and the command's own plan is locked.
pub fn lock<'k>(
    srv: &'k Server,
    cmd: &Command,
    argv: &[Bytes],
    db: u32,
    slot: &mut Option<LockSet<'k>>,
) -> Result<LockSet<'k>, LockAbort> {
    let cached = slot.take();
    match (cmd.locking, dispatch::single_key_index(cmd.spec)) {
        (Locking::Keys, Some(i)) => {
            let Some(key) = argv.get(i) else {
                drop(cached);
                return Ok(srv.keyspace.lock(&LockPlan::None));
            };
            let s = shard_of(key) as u32;
            if let Some(mut set) = cached {
                if set.holds(db, s) {
                    set.rehint(Some((key, s)));
                    return Ok(set);
                }
            }
            srv.keyspace.lock_key_in_shard_checked(db, s, key)
        }
        (Locking::Keys | Locking::Custom(_), _) => {
            let plan = dispatch::lock_plan(cmd, argv, db);
            if let Some(mut set) = cached {
                if set.covers(&plan) {
                    set.rehint(None);
                    return Ok(set);
                }
            }
            srv.keyspace.lock_checked(&plan)
        }
        _ => {
            drop(cached);
            srv.keyspace
                .lock_checked(&dispatch::lock_plan(cmd, argv, db))
        }
    }
}

/// Keeps a command's lock set in the cache for the next command. An empty set is just dropped,
/// and so is a large one (a whole database, locked for a malformed request's unlocatable keys):
/// other connections should not wait for many shards nobody here is likely to use again.
#[inline]
pub fn keep<'k>(slot: &mut Option<LockSet<'k>>, locks: LockSet<'k>) {
    if !locks.is_empty() && locks.len() <= MAX_KEPT_SHARDS {
        *slot = Some(locks);
    }
}
