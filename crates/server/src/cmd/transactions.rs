//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! # Queueing
//! Between MULTI and EXEC, `dispatch::execute` queues every command except EXEC, DISCARD,
//! MULTI, WATCH, QUIT and RESET (Redis's list) and replies `+QUEUED`. A request rejected before
//! it would run (unknown command, wrong arity, NOAUTH, a `no-multi` command) gets its error and
//! flags the transaction (`dirty_exec`): EXEC then fails with EXECABORT.
//!
//! # Atomic execution
//! [`run_atomic`] computes the union of the lock plans of every queued command (with the
//! database each will run in: a queued SELECT changes it for the commands after it; `Manual`
//! commands such as SCAN or INFO take every shard), adds the shards of the watched keys, locks
//! the union once in the global (db, shard) order, checks WATCH under those locks, runs every
//! handler through one [`Ctx`] sharing the lock set, and releases. No command of another client
//! can interleave. Each command is counted (commandstats, errorstats, slow log, MONITOR) as
//! Redis's `call()` counts commands run by EXEC; EXEC itself is counted by the dispatcher after
//! them. While the commands run the client is `nonblocking` (blocking commands answer their
//! timeout reply at once) and WAIT answers at once.

use crate::client::Client;
use crate::dispatch::{lock_plan, CommandTable, Ctx, Locking, Lookup};
use crate::errors::{self, CmdResult};
use crate::keyspace::{LockPlan, LockSet};
use crate::server::Server;
use crate::spec::flags;
use crate::watch;
use bytes::Bytes;
use ferrokv_engine::Clock;
use ferrokv_resp::Reply;

/// Registers the transaction commands.
pub fn register(t: &mut CommandTable) {
    t.add("multi", multi, Locking::None);
    t.add("exec", exec, Locking::None);
    t.add("discard", discard, Locking::None);
    t.add("watch", watch_cmd, Locking::Keys);
    t.add("unwatch", unwatch, Locking::None);
}

/// A client's open transaction (`Client::multi`).
#[derive(Debug, Default)]
pub struct MultiState {
    /// The queued requests, each a full argv.
    pub cmds: Vec<Vec<Bytes>>,
    /// How many commands were queued (kept while EXEC runs, for CLIENT LIST multi=).
    count: usize,
    /// Redis's `CLIENT_DIRTY_EXEC`: a request was rejected while queueing; EXEC must fail.
    pub dirty_exec: bool,
    /// A queued command writes (EXEC waits during CLIENT PAUSE WRITE, as in Redis).
    pub writes: bool,
}

impl MultiState {
    /// Number of queued commands (CLIENT LIST multi=).
    pub fn count(&self) -> usize {
        self.count
    }

    /// Appends a request to the transaction.
    pub fn queue(&mut self, argv: &[Bytes], write: bool) {
        self.cmds.push(argv.to_vec());
        self.count += 1;
        self.writes |= write;
    }
}

/// Whether `name` (a full lowercase command name) runs at once even inside MULTI.
pub fn runs_in_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// The dispatcher's queueing gate: if the client is inside MULTI and `cmd` must be queued,
/// queues it (or rejects a `no-multi` command, flagging the transaction) and writes the reply.
/// Returns `false` when the command must run now.
pub fn queue_if_multi(
    srv: &Server,
    client: &mut Client,
    cmd: &crate::dispatch::Command,
    argv: &[Bytes],
    reply: &mut Reply,
) -> bool {
    let Some(m) = client.multi.as_mut() else {
        return false;
    };
    if runs_in_multi(cmd.name) || runs_in_multi(cmd.name.split('|').next().unwrap_or("")) {
        return false;
    }
    if cmd.has(flags::NO_MULTI) {
        m.dirty_exec = true;
        let e = errors::NOT_IN_MULTI;
        reply.error(e.0.as_bytes());
        srv.stats.count_error(e.code());
        client.batch.record_rejected(cmd.index);
        return true;
    }
    m.queue(argv, cmd.has(flags::WRITE) || cmd.has(flags::MAY_REPLICATE));
    client.last_cmd = cmd.name;
    reply.simple(b"QUEUED");
    true
}

/// Flags the client's transaction, if any, after a request was rejected (Redis's
/// `flagTransaction`): its EXEC will fail with EXECABORT.
pub fn flag_transaction(client: &mut Client) {
    if let Some(m) = client.multi.as_mut() {
        m.dirty_exec = true;
    }
}

/// A rejected EXEC (wrong arity, NOAUTH, ...): Redis's `execCommandAbort` discards the
/// transaction (if any) and replies `EXECABORT Transaction discarded because of: <error>`, the
/// error without its generic `ERR ` prefix.
pub fn abort_exec(srv: &Server, client: &mut Client, e: errors::CmdError) -> errors::CmdError {
    reset_client(srv, client);
    let text = e.0.strip_prefix("ERR ").unwrap_or(&e.0);
    format!("EXECABORT Transaction discarded because of: {text}").into()
}

/// Ends any transaction and forgets every watched key (RESET, disconnection).
pub fn reset_client(srv: &Server, client: &mut Client) {
    client.multi = None;
    watch::unwatch_all(&srv.watches, client);
}

fn multi(c: &mut Ctx) -> CmdResult {
    if c.client.multi.is_some() {
        return Err(errors::NESTED_MULTI);
    }
    c.client.multi = Some(MultiState::default());
    c.reply.ok();
    Ok(())
}

fn discard(c: &mut Ctx) -> CmdResult {
    if c.client.multi.is_none() {
        return Err(errors::DISCARD_WITHOUT_MULTI);
    }
    reset_client(c.srv, c.client);
    c.reply.ok();
    Ok(())
}

fn watch_cmd(c: &mut Ctx) -> CmdResult {
    if c.client.multi.is_some() {
        return Err(errors::WATCH_IN_MULTI);
    }
    let now = c.now_ms();
    for i in 1..c.argv.len() {
        let key = c.arg_bytes(i);
        let db = c.client.db;
        let shard = c.locks.for_key(db, &key).ok_or(LOCK_BUG)?;
        watch::watch_key(&c.srv.watches, c.client, shard, &key, now);
    }
    c.reply.ok();
    Ok(())
}

const LOCK_BUG: errors::CmdError =
    errors::CmdError::new("ERR internal error: key outside the command's lock plan");

fn unwatch(c: &mut Ctx) -> CmdResult {
    watch::unwatch_all(&c.srv.watches, c.client);
    c.reply.ok();
    Ok(())
}

fn exec(c: &mut Ctx) -> CmdResult {
    let Some(state) = c.client.multi.as_mut() else {
        return Err(errors::EXEC_WITHOUT_MULTI);
    };
    if state.dirty_exec {
        reset_client(c.srv, c.client);
        return Err(errors::EXECABORT);
    }
    let cmds = std::mem::take(&mut state.cmds);
    let srv = c.srv;
    let watched = c.client.watch.lock_plan();
    let ran = run_atomic(
        srv,
        c.client,
        c.reply,
        &cmds,
        watched,
        |client, locks, now, reply| {
            if client.watch.is_dirty() || watch::watched_key_expired(client, locks, now) {
                return false;
            }
            // Unwatch before running, as Redis: the transaction's own writes do not dirty it.
            watch::unwatch_all(&srv.watches, client);
            reply.array(cmds.len());
            true
        },
    );
    if !ran {
        c.reply.null_array();
    }
    reset_client(c.srv, c.client);
    Ok(())
}

/// `Locking::None` commands whose handler visits every shard (through the held lock set when
/// it holds them, else one lock at a time): inside EXEC they get every shard.
const WALKS_ALL_SHARDS: &[&str] = &[
    "config|set",
    "config|resetstat",
    "memory|stats",
    "memory|doctor",
];

/// The shards a sequence of requests needs when run in order from database `db`: the union of
/// their plans, each computed for the database it will run in (after the SELECTs before it);
/// `Manual` commands (SCAN, INFO, ...) take every shard, since they may not lock on their own
/// while other shards are held.
pub fn plan_for(srv: &Server, cmds: &[Vec<Bytes>], mut db: u32) -> LockPlan {
    let mut plan = LockPlan::None;
    for argv in cmds {
        let Lookup::Found(cmd) = srv.commands.lookup(argv) else {
            continue;
        };
        let p = match cmd.locking {
            Locking::Manual => LockPlan::All,
            // Commands that walk every shard on their own (CONFIG SET may switch the access
            // mode of every shard): inside EXEC they must find them all held.
            _ if WALKS_ALL_SHARDS.contains(&cmd.name) => LockPlan::All,
            _ => lock_plan(cmd, argv, db),
        };
        plan = plan.union(p);
        if matches!(plan, LockPlan::All) {
            return plan;
        }
        if cmd.name == "select" {
            // Only a SELECT that will succeed changes the database (same parse as SELECT).
            if let Some(d) = argv
                .get(1)
                .and_then(|a| crate::args::parse_i64_strict(a))
                .filter(|d| *d >= 0 && (*d as usize) < srv.keyspace.db_count())
            {
                db = d as u32;
            }
        }
    }
    plan
}

/// Runs `cmds` (each a full argv, command name first) as one atomic unit, for EXEC and for
/// scripts: locks the union of their shards plus `extra` (see [`plan_for`]) once, calls
/// `check(client, locks, now_ms, reply)` under the locks (it may write a header, e.g. EXEC's
/// array length; returning `false` aborts: nothing runs and `run_atomic` returns `false`),
/// then runs every command in order, appending each reply (or its error reply) to `reply`,
/// and releases the locks. Requests are looked up and arity-checked again (an unknown command
/// or a wrong arity becomes that element's error reply). Every command runs at the same clock
/// time, with the client `nonblocking`; per-command statistics, slow log and MONITOR are
/// recorded as for a normal call.
pub fn run_atomic(
    srv: &Server,
    client: &mut Client,
    reply: &mut Reply,
    cmds: &[Vec<Bytes>],
    extra: LockPlan,
    check: impl FnOnce(&mut Client, &mut LockSet<'_>, i64, &mut Reply) -> bool,
) -> bool {
    let plan = plan_for(srv, cmds, client.db).union(extra);
    // A queued script needs the interpreter: take it before the shards (see Scripting::hold).
    let _vm = cmds
        .iter()
        .any(|a| crate::scripting::needs_token(a))
        .then(|| srv.scripting.hold());
    let mut locks = srv.keyspace.lock(&plan);
    let now_us = crate::util::now_us();
    crate::disk::load_watched(srv, client, &mut locks, now_us / 1000);
    if !check(client, &mut locks, now_us / 1000, reply) {
        crate::disk::flush(srv, client, &mut locks, now_us / 1000);
        return false;
    }
    let Some(placeholder) = srv.commands.get("exec") else {
        return false;
    };
    let was_nonblocking = client.nonblocking;
    client.nonblocking = true;
    let mut ctx = Ctx {
        srv,
        client,
        argv: &[],
        reply,
        locks,
        clock: Clock {
            ms: now_us / 1000,
            touch: true,
            rand: 0,
        },
        cmd: placeholder,
    };
    for argv in cmds {
        call_in(&mut ctx, argv);
    }
    // The transaction or script is one unit: propagated before its locks are released.
    crate::propagate::flush_unit(srv, ctx.client);
    crate::disk::end_unit(&mut ctx);
    drop(ctx);
    client.nonblocking = was_nonblocking;
    true
}

fn element_error(srv: &Server, reply: &mut Reply, e: errors::CmdError) {
    reply.error(e.0.as_bytes());
    srv.stats.count_error(e.code());
}

/// Runs one request inside an already locked context (EXEC's loop; a script's `redis.call`):
/// looks the command up, checks its arity, points `ctx` at it and calls its handler under the
/// locks `ctx` holds, then appends its reply or error reply and records it (commandstats,
/// errorstats, slow log, MONITOR) as a normal call. The lock set must cover the command's plan
/// (see [`plan_for`]); a key outside it fails with an internal error rather than locking.
pub fn call_in<'a, 'k: 'a>(ctx: &mut Ctx<'a, 'k>, argv: &'a [Bytes]) {
    let srv = ctx.srv;
    let cmd = match srv.commands.lookup(argv) {
        Lookup::Found(c) => c,
        Lookup::Unknown => {
            element_error(srv, ctx.reply, errors::unknown_command(argv));
            return;
        }
        Lookup::UnknownSub(container) => {
            let sub = argv.get(1).map(|b| &b[..]).unwrap_or(b"");
            element_error(
                srv,
                ctx.reply,
                errors::unknown_subcommand(sub, container.name),
            );
            return;
        }
    };
    let arity = cmd.spec.arity;
    let argc = argv.len() as i32;
    let Some(handler) = cmd
        .handler
        .filter(|_| !((arity > 0 && argc != arity) || argc < -arity))
    else {
        element_error(srv, ctx.reply, errors::wrong_arity(cmd.name));
        ctx.client.batch.record_rejected(cmd.index);
        return;
    };
    ctx.argv = argv;
    ctx.cmd = cmd;
    ctx.clock.touch = !ctx.client.no_touch || cmd.name == "touch";
    ctx.clock.rand = ctx.client.next_rand();
    let mark = ctx.reply.len();
    let start = crate::util::now_us();
    let result = crate::propagate::call_handler(ctx, handler);
    crate::tracking::after_call(srv, ctx.client, cmd, argv);
    let usec = (crate::util::now_us() - start).max(0) as u64;
    ctx.client.batch.record_call(cmd.index, usec);
    if let Err(e) = result {
        ctx.reply.truncate(mark);
        ctx.reply.error(e.0.as_bytes());
        ctx.client.batch.record_failed(cmd.index);
        srv.stats.count_error(e.code());
    }
    // WAIT cannot park inside a transaction: it answers at once.
    if let Some(b) = ctx.client.block_until.take() {
        ctx.reply.int(b.reply_int);
    }
    srv.after_call(ctx.client, cmd, argv, usec);
}
