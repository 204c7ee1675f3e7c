//! Pipeline squashing: consecutive requests of one connection's read batch that touch the
//! same shards run under one lock acquisition.
//!
//! Without it every command locks its shard(s), runs and unlocks. A pipeline of 16 `LPUSH`es
//! to one list therefore takes the same shard lock 16 times, and when another connection's
//! worker thread wants that shard too, both spin on it and switch threads (issue 8: ~13% lock
//! acquisition + ~9% thread switches in the ZADD P16 profile).
//!
//! [`Squash::run`] takes over the connection loop's call to `dispatch::execute`. Before it runs
//! a request it parses the next one of the batch; when both are single-key commands naming the
//! same key, the first command's lock is not released but kept in a [`LockCache`] ([`keep`]),
//! and the second one reuses it ([`lock`]) without hashing the key or touching the mutex.
//! Any other next request makes the command release its lock as `dispatch::execute` does, so
//! a thread never holds a shard while it waits for another, and a pipeline of commands on
//! different keys pays nothing for the look-ahead but the comparison. (Reusing the lock for
//! different keys of the same shard was measured too: the extra bookkeeping on every miss cost
//! more instructions than the hits saved on random-key pipelines; see
//! docs/performance-notes.md.)
//!
//! The run goes on while the next request is *eligible* (below) and ends, releasing the cache,
//! at the first request that is not (it is kept in [`Squash`] and handed to the connection loop
//! by [`Squash::parse`]), at the end of the buffered requests, after [`MAX_RUN`] commands or
//! [`MAX_HOLD_US`] microseconds (another connection waits at most about that long for the
//! shard), or after a command that leaves work for the connection loop (a blocked client, a
//! pause, a reply to flush, ...). The connection loop does its usual after-command work for
//! the last command of the run.
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
use crate::keyspace::{LockAbort, LockPlan, LockSet};
use crate::server::Server;
use bytes::{Bytes, BytesMut};
use ferrokv_resp::{Limits, ParseError, Reply, RequestParser};

/// At most this many commands run under one acquisition of the cached shards.
pub const MAX_RUN: u32 = 32;
/// A run stops once it has lasted this long (microseconds, by the commands' own clock), so a
/// connection waiting for one of the cached shards waits at most about this long.
pub const MAX_HOLD_US: i64 = 100;
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

/// Per-connection squashing state: a request (or parse error) read ahead and not run yet, and
/// the last command looked up (`'s`: the server the connection belongs to).
pub struct Squash<'s> {
    ahead: Ahead,
    spare: Vec<Bytes>,
    memo: Memo<'s>,
}

impl Default for Squash<'_> {
    fn default() -> Self {
        Squash {
            ahead: Ahead::None,
            spare: Vec::new(),
            memo: Memo {
                name: [0; MEMO_NAME],
                len: 0,
                cmd: None,
            },
        }
    }
}

/// Longest command name (as sent) the lookup memo keeps.
const MEMO_NAME: usize = 16;

/// The last command name a connection sent (its bytes as sent, any case) and its command: a
/// pipeline or a client repeating one command skips the table lookup (~200 instructions:
/// lowercasing, hashing, probing). Commands with subcommands are not memoised (their lookup
/// depends on the second argument).
struct Memo<'s> {
    name: [u8; MEMO_NAME],
    len: usize,
    cmd: Option<&'s Command>,
}

impl<'s> Memo<'s> {
    #[inline]
    fn lookup(&mut self, srv: &'s Server, argv: &[Bytes]) -> Lookup<'s> {
        let Some(name) = argv.first() else {
            return Lookup::Unknown;
        };
        if let Some(cmd) = self.cmd {
            if self.name.get(..self.len).is_some_and(|m| eq_short(m, name)) {
                return Lookup::Found(cmd);
            }
        }
        let found = srv.commands.lookup(argv);
        if let Lookup::Found(cmd) = found {
            if let Some(dst) = self.name.get_mut(..name.len()) {
                // A top-level command without subcommands (a found subcommand, `script|load`,
                // has none either, but its container's name must not map to it).
                if cmd.subs.is_empty() && !cmd.name.contains('|') {
                    dst.copy_from_slice(name);
                    self.len = name.len();
                    self.cmd = Some(cmd);
                }
            }
        }
        found
    }
}

impl<'s> Squash<'s> {
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

    /// Parses the next buffered request ahead (if none is waiting) and returns it; it stays
    /// waiting for [`Squash::parse`] unless [`Squash::take_ahead`] takes it. For the inline
    /// script path (`scripting::inline`), which runs consecutive script calls under one token.
    pub fn peek(
        &mut self,
        parser: &mut RequestParser,
        inbuf: &mut BytesMut,
        lim: &Limits,
        authenticated: bool,
    ) -> Option<&[Bytes]> {
        if let Ahead::None = self.ahead {
            match parser.parse(inbuf, &mut self.spare, lim, authenticated) {
                Ok(true) => self.ahead = Ahead::Request,
                Ok(false) => {}
                Err(e) => self.ahead = Ahead::Error(e),
            }
        }
        matches!(self.ahead, Ahead::Request).then_some(&self.spare[..])
    }

    /// Moves the request [`Squash::peek`] returned into `args` (the caller runs it now).
    pub fn take_ahead(&mut self, args: &mut Vec<Bytes>) {
        if let Ahead::Request = std::mem::replace(&mut self.ahead, Ahead::None) {
            std::mem::swap(args, &mut self.spare);
        }
    }

    /// Executes the request in `args` (what `dispatch::execute` does), then, while the next
    /// buffered requests are eligible, parses and executes them too under the cached locks (see
    /// the module docs). Returns the flow of the last request executed, which is left in
    /// `args`; the connection loop does its after-command work for that one.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        srv: &'s Server,
        client: &mut Client,
        parser: &mut RequestParser,
        inbuf: &mut BytesMut,
        args: &mut Vec<Bytes>,
        reply: &mut Reply,
        lim: &Limits,
    ) -> Flow {
        let mut cmd = match eligible(&mut self.memo, srv, client, args) {
            Some(Ok(c)) if server_allows(srv) => c,
            // (The command was looked up: not again.)
            Some(Ok(c) | Err(c)) => {
                return dispatch::execute_with(srv, client, args, reply, None, Some(c))
            }
            None => return dispatch::execute(srv, client, args, reply),
        };
        let mut cache = LockCache::default();
        let started = client.clock_us;
        let mut n = 1;
        // The shard and table hash of the key of the request in `args`, when the previous
        // iteration computed them for its prefetch (never for the run's first request).
        let mut at: Option<(u32, u64)> = None;
        loop {
            // Only with another request buffered: alone (pipeline 1) there is nothing to
            // overlap the fetch with.
            if cache.set.is_none() && !inbuf.is_empty() {
                lock_early(srv, client.db, cmd, args, at, &mut cache);
            }
            let mut next_at = None;
            // The next request is parsed before this one runs: whether it names the same key
            // decides whether this command's lock is kept for it.
            let mut next = None;
            if n < MAX_RUN {
                match parser.parse(inbuf, &mut self.spare, lim, client.authenticated) {
                    Ok(true) => {
                        self.ahead = Ahead::Request;
                        next = command_of(&mut self.memo, srv, &self.spare);
                    }
                    Ok(false) => {}
                    Err(e) => self.ahead = Ahead::Error(e),
                }
            }
            cache.keep = next.is_some_and(|c| same_key(cmd, args, c, &self.spare));
            if !cache.keep {
                // Another key next: start fetching its shard while this command runs.
                if let Some(key) = next.and_then(|c| single_key(c, &self.spare)) {
                    next_at = Some(srv.keyspace.prefetch_key(client.db, key));
                }
            }
            // Without a lock to keep or to reuse, the plain path (the cache costs ~90
            // instructions per command).
            let with_cache = (cache.keep || cache.set.is_some()).then_some(&mut cache);
            let flow = dispatch::execute_with(srv, client, args, reply, with_cache, Some(cmd));
            if !std::mem::take(&mut cache.kept) {
                cache.set = None;
            }
            let Some(c) = next else {
                return flow;
            };
            if flow != Flow::Continue
                || client.clock_us - started > MAX_HOLD_US
                || !settled(client, reply)
                || !client_allows(client, &self.spare)
                || !server_allows(srv)
            {
                return flow;
            }
            // What the connection loop does after each command: serve clients blocked on keys
            // this command made ready (which locks shards: release ours first).
            if crate::blocking::has_work(srv, client) {
                cache.set = None;
                crate::blocking::after_command(srv, client);
            }
            client.blocking.keep_deadline = None;
            self.ahead = Ahead::None;
            std::mem::swap(args, &mut self.spare);
            cmd = c;
            at = next_at;
            n += 1;
        }
    }
}

/// The lock cache of a run: the lock set kept from the previous command, and whether the
/// command being run must keep its own. Only [`Squash::run`] sets `keep`, and only when it has
/// compared the next request's single key with this command's and found them equal; the kept
/// set is taken by the very next command of the run (which is that request) or released. So a
/// reused set always holds the shard of the key it is reused for, without hashing the key again.
#[derive(Default)]
pub struct LockCache<'k> {
    set: Option<LockSet<'k>>,
    keep: bool,
    /// Set by [`keep`]: the set in `set` was kept by the command that just ran. A command
    /// rejected before it locks neither takes nor replaces the set; [`Squash::run`] then finds
    /// this false and releases the set, so it is never reused by a later command, on a key it
    /// was not kept for.
    kept: bool,
}

impl<'k> LockCache<'k> {
    /// Takes the kept lock set out for the command about to lock (see [`lock`]).
    #[inline]
    pub fn take(&mut self) -> Option<LockSet<'k>> {
        self.set.take()
    }
}

/// Whether `a` (run with `argv`) and `b` (with `next`) are single-key commands on the same key.
/// (Same database: a command that changes it is not eligible, so it cannot sit in between.)
#[inline]
fn same_key(a: &Command, argv: &[Bytes], b: &Command, next: &[Bytes]) -> bool {
    match (single_key(a, argv), single_key(b, next)) {
        (Some(x), Some(y)) => eq_short(x, y),
        _ => false,
    }
}

/// Byte equality without a `memcmp` call for the short strings command names and keys
/// usually are (the call and its dispatch cost ~20 instructions, more than the compare).
#[inline]
fn eq_short(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_ne_bytes)
    };
    match n {
        0..=7 => a.iter().zip(b).all(|(x, y)| x == y),
        // Two overlapping words cover 8..=16 bytes.
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// The key of a single-key command (`Locking::Keys`, one key at a fixed position).
#[inline]
fn single_key<'a>(cmd: &Command, argv: &'a [Bytes]) -> Option<&'a Bytes> {
    match cmd.locking {
        Locking::Keys => argv.get(dispatch::single_key_index(cmd.spec)?),
        _ => None,
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
    memo: &mut Memo<'s>,
    srv: &'s Server,
    client: &Client,
    argv: &[Bytes],
) -> Option<Result<&'s Command, &'s Command>> {
    if !client_allows(client, argv) {
        return None;
    }
    match memo.lookup(srv, argv) {
        Lookup::Found(cmd) if qualifies(cmd) => Some(Ok(cmd)),
        Lookup::Found(cmd) => Some(Err(cmd)),
        _ => None,
    }
}

/// The command of `argv` when it qualifies for squashing by itself (see [`qualifies`]).
#[inline]
fn command_of<'s>(memo: &mut Memo<'s>, srv: &'s Server, argv: &[Bytes]) -> Option<&'s Command> {
    match memo.lookup(srv, argv) {
        Lookup::Found(cmd) if qualifies(cmd) => Some(cmd),
        _ => None,
    }
}

/// Commands whose shards come from their keys (`Locking::Keys` / `Custom`).
#[inline]
fn qualifies(cmd: &Command) -> bool {
    matches!(cmd.locking, Locking::Keys | Locking::Custom(_))
}

/// Whether the client's state lets the connection loop run `argv` with nothing around it.
#[inline]
fn client_allows(client: &Client, argv: &[Bytes]) -> bool {
    client.is_plain() && !crate::scripting::runs_off_thread(argv)
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

/// Locks for `cmd` when a lock cache is in use: `kept`, the set the previous command kept for
/// this very key (its key hint re-pointed at this command's argument), otherwise `kept` (if
/// any) is released and the command locks as `dispatch::execute` does.
pub fn lock<'k>(
    srv: &'k Server,
    cmd: &Command,
    argv: &[Bytes],
    db: u32,
    kept: Option<LockSet<'k>>,
) -> Result<LockSet<'k>, LockAbort> {
    if let Some(mut set) = kept {
        if let Some(key) = single_key(cmd, argv) {
            if set.rehint_same_key(db, key) {
                return Ok(set);
            }
        }
    }
    match (cmd.locking, dispatch::single_key_index(cmd.spec)) {
        (Locking::Keys, Some(i)) => match argv.get(i) {
            Some(k) => srv.keyspace.lock_key_checked(db, k),
            None => Ok(srv.keyspace.lock(&LockPlan::None)),
        },
        _ => dispatch::lock_for_call(srv, cmd, argv, db),
    }
}

/// Before the parse-ahead: takes the lock of a single-key command about to run and starts
/// fetching its key's entry, which the lookup would otherwise wait for (the shard's lock line,
/// control bytes and bucket were prefetched while the previous command ran: see
/// [`crate::keyspace::Keyspace::prefetch_key`]). The set is left in the cache as if the
/// previous command had kept it for this key, and the command takes it through [`lock`]; a
/// command rejected before it locks leaves it there unmarked and [`Squash::run`] releases it.
/// The lock is only held earlier, by the length of one request's parse; a busy shard is not
/// waited for here.
#[inline]
fn lock_early<'k>(
    srv: &'k Server,
    db: u32,
    cmd: &Command,
    argv: &[Bytes],
    at: Option<(u32, u64)>,
    cache: &mut LockCache<'k>,
) {
    let Some(key) = single_key(cmd, argv) else {
        return;
    };
    let (s, hash) = at.unwrap_or_else(|| {
        (
            crate::keyspace::shard_of(key) as u32,
            ferrokv_engine::table::hash_key(key),
        )
    });
    if let Some(mut set) = srv.keyspace.try_lock_key(db, key, s) {
        if let Some(addr) = set.for_key(db, key).and_then(|sh| sh.entry_addr(hash)) {
            crate::prefetch::for_read(addr as *const u8);
        }
        cache.set = Some(set);
    }
}

/// After a command: keeps its lock set in the cache when [`Squash::run`] asked for it (the next
/// request names the same key), otherwise releases it here, as `dispatch::execute` does.
#[inline]
pub fn keep<'k>(cache: &mut LockCache<'k>, cmd: &Command, argv: &[Bytes], locks: LockSet<'k>) {
    if cache.keep && single_key(cmd, argv).is_some() {
        cache.set = Some(locks);
        cache.kept = true;
    }
}

#[cfg(test)]
mod tests {
    use super::eq_short;

    #[test]
    fn eq_short_agrees_with_slice_equality() {
        let base: Vec<u8> = (0u8..40).collect();
        for n in 0..=40 {
            let a = &base[..n];
            assert!(eq_short(a, a));
            for i in 0..n {
                let mut b = a.to_vec();
                b[i] ^= 0x20;
                assert!(!eq_short(a, &b), "len {n}, byte {i}");
            }
            if n > 0 {
                assert!(!eq_short(a, &base[..n - 1]));
            }
        }
    }
}
