//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT.
//!
//! # Execution and atomicity
//! Each thread that runs scripts has its own Lua 5.1 state (see [`vm`] and [`local`]), but
//! scripts run one at a time, as in Redis: a script first takes the script token (one
//! reentrant mutex, [`Scripting::hold`]), then locks the shards of its declared KEYS (the
//! same ordered acquisition as any command), and runs to completion. When `redis.call` reaches a
//! shard it did not declare (scripts may use undeclared keys, as in Redis outside cluster mode),
//! [`crate::keyspace::LockSet::acquire_more`] takes it on demand: free shards are simply taken;
//! a contended one is waited for under "escalation", during which every other multi-shard
//! acquisition in progress backs off, so the script only waits for commands already running.
//! Everything the script touched stays locked until it ends, so no client sees a partial effect
//! and nothing interleaves with it.
//!
//! Top-level scripts not yet known to be fast run on the script thread (net.rs; known-fast ones
//! run inline, see [`inline`]), so the connection's worker thread keeps serving its other clients: after `busy-reply-threshold` ms they get `-BUSY` (from the
//! dispatch gate, or from a lock wait on one of the script's shards), and SCRIPT KILL /
//! SHUTDOWN NOSAVE work from any connection.
//!
//! # Errors
//! Texts follow Redis 7: compile errors `ERR Error compiling script (new function): ...`,
//! runtime errors `ERR user_script:<line>: <msg> script: <sha>, on @user_script:<line>.`,
//! errors raised by `redis.call` keep the command's error text with the same suffix.

mod call_args;
pub mod convert;
pub mod functions;
pub mod inline;
pub mod local;
mod run_ctx;
pub mod vm;

use crate::args;
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{CmdError, CmdResult};
use crate::keyspace::LockPlan;
use bytes::Bytes;
use parking_lot::{ReentrantMutex, ReentrantMutexGuard, RwLock};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU64, AtomicU8,
    Ordering::{Relaxed, Release},
};
use std::sync::Arc;

/// State shared between the running script, its instruction hook and SCRIPT KILL.
#[derive(Default)]
pub struct RunFlags {
    /// A script is executing.
    pub running: AtomicBool,
    /// SCRIPT KILL asked the running script to stop.
    pub kill: AtomicBool,
    /// The running script called a write command (it can no longer be killed).
    pub wrote: AtomicBool,
    /// Unix ms at which the running script started.
    pub started_ms: AtomicI64,
    /// `busy-reply-threshold` in ms (0: never busy); set from the configuration at start-up and
    /// on every CONFIG SET (`Server::refresh_hot_values`).
    pub busy_threshold_ms: AtomicI64,
    /// Set once the running script passed the threshold; shared with the keyspace so waiters
    /// for the script's shards give up with `-BUSY`.
    pub busy: Arc<AtomicBool>,
    /// Client id of the caller of the running script.
    pub caller: AtomicU64,
    /// The running code is a function (FCALL), not an EVAL script.
    pub is_function: AtomicBool,
    /// The running script's `redis.set_repl` flags ([`REPL_AOF`] | [`REPL_REPLICA`]); reset to
    /// both when a script starts. Writes made without [`REPL_AOF`] are not propagated.
    pub repl: AtomicU8,
}

/// `redis.REPL_AOF`: the script's writes reach the AOF.
pub const REPL_AOF: u8 = 1;
/// `redis.REPL_REPLICA`: the script's writes reach replicas.
pub const REPL_REPLICA: u8 = 2;

/// Scripting figures for INFO memory.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemStats {
    /// Heaps of the EVAL Lua states (bytes, summed over the threads, each as of its last run).
    pub vm_eval: usize,
    /// Heaps of the functions' Lua states (bytes, summed over the threads, each as of its
    /// last load or call).
    pub vm_functions: usize,
    /// Bytes of cached script bodies.
    pub scripts_eval: usize,
    /// Number of cached scripts.
    pub cached_scripts: usize,
    /// Bytes of library code.
    pub functions_code: usize,
    /// Number of functions.
    pub functions: usize,
    /// Number of libraries.
    pub libraries: usize,
}

/// A job for the script executor thread.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// The thread that runs top-level EVAL/FCALL calls (net.rs hands them over so the connection's
/// worker keeps serving). Scripts run one at a time anyway (one interpreter); a single thread
/// avoids many pool threads contending for the interpreter lock.
struct Executor {
    tx: std::sync::mpsc::Sender<Job>,
}

impl Executor {
    fn start() -> Option<Executor> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("ferrokv-scripts".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            })
            .ok()?;
        Some(Executor { tx })
    }
}

/// The scripting engine of a server.
pub struct Scripting {
    /// The script token: held while any EVAL script or function runs (whichever thread's
    /// interpreter it runs in, see [`local`]), by SCRIPT LOAD/FLUSH and by EXEC with queued
    /// scripts. Reentrant so that EXEC can take it before locking its shards (taking it after
    /// would let a running script wait for EXEC's shards while EXEC waits for the token); the
    /// EVAL inside then takes it again.
    token: ReentrantMutex<()>,
    /// Bumped by SCRIPT FLUSH (under the token): interpreters built before are rebuilt.
    flush_generation: AtomicU64,
    /// Tells this engine's interpreters from another server's in a thread (tests run several
    /// servers in one process).
    id: u64,
    /// Heap sizes of the per-thread EVAL interpreters (INFO).
    heaps: local::Heaps,
    /// The connection worker that last took the token for an inline run (`affinity::NONE`
    /// for none): a worker that finds the token busy notes a wait for this worker, so
    /// connections that keep running scripts gather on one worker ([`crate::affinity`]).
    vm_holder: std::sync::atomic::AtomicU8,
    /// Script bodies by lowercase SHA1 hex (EVAL caches, SCRIPT LOAD adds).
    bodies: RwLock<HashMap<String, Bytes, foldhash::fast::RandomState>>,
    /// Run state shared with the instruction hook and SCRIPT/FUNCTION KILL.
    pub flags: Arc<RunFlags>,
    /// Function libraries' metadata.
    pub registry: RwLock<functions::Registry>,
    /// Bumped (after the registry changed) by every FUNCTION LOAD/DELETE/FLUSH/RESTORE: each
    /// thread's functions state built before is rebuilt from the registry at its next use
    /// (see [`functions`]).
    fn_generation: AtomicU64,
    /// Serialises the writers of the function registry (FUNCTION LOAD/DELETE/FLUSH/RESTORE,
    /// loading a file's libraries). Never held while waiting for the token or a shard.
    fn_write: parking_lot::Mutex<()>,
    /// The running function's name, command and start (FUNCTION STATS).
    pub running_fn: parking_lot::Mutex<Option<(String, Vec<Bytes>, i64)>>,
    /// Heap sizes of the per-thread functions states (INFO).
    fn_heaps: local::Heaps,
    /// The script thread, started on first use.
    executor: parking_lot::Mutex<Option<Executor>>,
    /// Scripts that may run inline on a worker thread (see [`inline`]).
    known_fast: inline::KnownFast,
}

impl Scripting {
    /// An engine whose busy flag is `busy` (the keyspace's `script_busy`).
    pub fn new(busy: Arc<AtomicBool>) -> Scripting {
        Scripting {
            token: ReentrantMutex::new(()),
            flush_generation: AtomicU64::new(0),
            id: {
                static NEXT_ID: AtomicU64 = AtomicU64::new(1);
                NEXT_ID.fetch_add(1, Relaxed)
            },
            heaps: local::Heaps::default(),
            vm_holder: std::sync::atomic::AtomicU8::new(crate::affinity::NONE),
            bodies: RwLock::new(HashMap::default()),
            registry: RwLock::new(functions::Registry::default()),
            fn_generation: AtomicU64::new(0),
            fn_write: parking_lot::Mutex::new(()),
            running_fn: parking_lot::Mutex::new(None),
            fn_heaps: local::Heaps::default(),
            executor: parking_lot::Mutex::new(None),
            known_fast: inline::KnownFast::default(),
            flags: Arc::new(RunFlags {
                busy,
                busy_threshold_ms: AtomicI64::new(5000),
                ..RunFlags::default()
            }),
        }
    }

    /// Whether a script is running past the busy threshold.
    pub fn busy(&self) -> bool {
        self.flags.busy.load(Relaxed)
    }

    /// The BUSY error for other clients: names FUNCTION KILL while a function runs.
    pub fn busy_error(&self) -> CmdError {
        if self.flags.is_function.load(Relaxed) {
            BUSY_FUNCTION
        } else {
            BUSY
        }
    }

    /// Runs `f` on the script thread and returns its result (`None` if the thread is gone).
    /// net.rs runs top-level EVAL/FCALL this way.
    pub async fn run_on_script_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done_tx.send(f());
        });
        let unsent: Option<Job> = {
            let mut ex = self.executor.lock();
            if ex.is_none() {
                *ex = Executor::start();
            }
            let sent = match ex.as_ref() {
                Some(e) => e.tx.send(job).map_err(|e| e.0),
                None => Err(job),
            };
            match sent {
                Ok(()) => None,
                Err(job) => {
                    *ex = None;
                    Some(job)
                }
            }
        };
        if let Some(job) = unsent {
            // No script thread: fall back to the blocking pool.
            tokio::task::spawn_blocking(job).await.ok()?;
        }
        done_rx.await.ok()
    }

    /// Figures for INFO memory; never waits for a running script.
    pub fn mem_stats(&self) -> MemStats {
        let (scripts_eval, cached_scripts) = {
            let b = self.bodies.read();
            (b.values().map(|v| v.len()).sum(), b.len())
        };
        let reg = self.registry.read();
        MemStats {
            vm_eval: self.heaps.total(),
            vm_functions: self.fn_heaps.total(),
            scripts_eval,
            cached_scripts,
            functions_code: reg.libs.values().map(|l| l.code.len()).sum(),
            functions: reg.function_count(),
            libraries: reg.libs.len(),
        }
    }

    /// Stops the running script or function, whether or not it wrote (SHUTDOWN).
    pub fn abort_for_shutdown(&self) {
        if self.flags.running.load(Relaxed) {
            self.flags.kill.store(true, Relaxed);
        }
    }

    /// Takes the script token for the caller's thread (EXEC with queued scripts does this
    /// before locking shards; see the field's docs).
    pub fn hold(&self) -> ReentrantMutexGuard<'_, ()> {
        self.token.lock()
    }

    /// Number of cached scripts (INFO `number_of_cached_scripts`).
    pub fn cached(&self) -> usize {
        self.bodies.read().len()
    }
}

/// Whether `argv` is a script invocation, which the connection runs off its worker thread.
pub fn runs_off_thread(argv: &[Bytes]) -> bool {
    argv.first().is_some_and(|n| {
        args::is(n, "eval")
            || args::is(n, "evalsha")
            || args::is(n, "eval_ro")
            || args::is(n, "evalsha_ro")
            || args::is(n, "fcall")
            || args::is(n, "fcall_ro")
    })
}

/// Whether running `argv` takes the script token: script calls, and SCRIPT LOAD / SCRIPT FLUSH
/// (they compile or drop scripts under it). EXEC takes the token before its shards when a
/// queued command does (see [`Scripting::hold`]): taken after, a running script that reaches
/// one of EXEC's shards would wait for EXEC while EXEC waits for the token.
pub fn needs_token(argv: &[Bytes]) -> bool {
    runs_off_thread(argv)
        || (argv.first().is_some_and(|n| args::is(n, "script"))
            && argv
                .get(1)
                .is_some_and(|s| args::is(s, "load") || args::is(s, "flush")))
}

/// Binds the scripting commands.
pub fn register(t: &mut CommandTable) {
    t.add("eval", eval, Locking::Manual);
    t.add("evalsha", evalsha, Locking::Manual);
    t.add("eval_ro", eval_ro, Locking::Manual);
    t.add("evalsha_ro", evalsha_ro, Locking::Manual);
    t.add("script|load", script_load, Locking::None);
    t.add("script|exists", script_exists, Locking::None);
    t.add("script|flush", script_flush, Locking::None);
    t.add("script|kill", script_kill, Locking::None);
    t.add("script|help", script_help, Locking::None);
    functions::register(t);
}

const NOSCRIPT: CmdError = CmdError::new("NOSCRIPT No matching script. Please use EVAL.");
const NOTBUSY: CmdError = CmdError::new("NOTBUSY No scripts in execution right now.");
const UNKILLABLE: CmdError = CmdError::new("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
const NUMKEYS_TOO_BIG: CmdError =
    CmdError::new("ERR Number of keys can't be greater than number of args");
const NUMKEYS_NEGATIVE: CmdError = CmdError::new("ERR Number of keys can't be negative");

fn eval(c: &mut Ctx) -> CmdResult {
    eval_generic(c, false, false)
}

fn evalsha(c: &mut Ctx) -> CmdResult {
    eval_generic(c, true, false)
}

fn eval_ro(c: &mut Ctx) -> CmdResult {
    eval_generic(c, false, true)
}

fn evalsha_ro(c: &mut Ctx) -> CmdResult {
    eval_generic(c, true, true)
}

/// Script flags from a `#!lua flags=...` first line.
#[derive(Clone, Copy, Default)]
pub struct ScriptFlags {
    /// The script starts with a `#!lua` line.
    pub shebang: bool,
    /// The shebang declares `no-writes`.
    pub no_writes: bool,
}

/// Parses the shebang line, if any: returns the flags and the body to compile (the shebang
/// line blanked so line numbers stay the same).
pub fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, Vec<u8>), CmdError> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::default(), body.to_vec()));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err(CmdError::new("ERR Invalid script shebang"));
    };
    let line = String::from_utf8_lossy(&body[..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(crate::cmd_err!(
            "ERR Unexpected engine in script shebang: {}",
            engine
        ));
    }
    let mut f = ScriptFlags {
        shebang: true,
        no_writes: false,
    };
    for p in parts {
        let Some(list) = p.strip_prefix("flags=") else {
            return Err(crate::cmd_err!("ERR Unknown lua shebang option: {}", p));
        };
        for flag in list.split(',').filter(|x| !x.is_empty()) {
            match flag {
                "no-writes" => f.no_writes = true,
                "allow-oom" | "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => {
                    return Err(crate::cmd_err!(
                        "ERR Unexpected flag in script shebang: {}",
                        other
                    ))
                }
            }
        }
    }
    let mut out = body[end..].to_vec();
    out.insert(0, b' ');
    Ok((f, out))
}

/// `*_RO` calls refuse scripts whose shebang does not declare `no-writes`.
fn check_ro(readonly: bool, flags: ScriptFlags) -> Result<(), CmdError> {
    if readonly && flags.shebang && !flags.no_writes {
        return Err(CmdError::new(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    Ok(())
}

fn parse_numkeys(c: &Ctx) -> Result<usize, CmdError> {
    let n = args::int(c.arg(2))?;
    if n > c.argv.len() as i64 - 3 {
        return Err(NUMKEYS_TOO_BIG);
    }
    if n < 0 {
        return Err(NUMKEYS_NEGATIVE);
    }
    Ok(n as usize)
}

fn eval_generic(c: &mut Ctx, by_sha: bool, readonly: bool) -> CmdResult {
    let numkeys = parse_numkeys(c)?;
    let srv = c.srv;
    let sc = &srv.scripting;
    // EVALSHA: the SHA lowercased on the stack, and only an existence check here: the body
    // is needed (cloned) only when the compiled function is not cached. EVAL: the body given.
    let mut lower = [0u8; 40];
    let (sha, body): (Cow<str>, Option<Bytes>) = if by_sha {
        let arg = c.arg(1);
        let sha = match lower.get_mut(..arg.len()) {
            Some(dst) if arg.is_ascii() => {
                dst.copy_from_slice(arg);
                dst.make_ascii_lowercase();
                Cow::Borrowed(std::str::from_utf8(dst).unwrap_or_default())
            }
            _ => Cow::Owned(String::from_utf8_lossy(arg).to_ascii_lowercase()),
        };
        (sha, None)
    } else {
        let body = c.arg_bytes(1);
        (Cow::Owned(crate::sha1::hex(&body)), Some(body))
    };
    // The token first, then the shards: a script waiting for the token holds no shard, so the
    // running script's on-demand acquisitions can always complete.
    let held = sc.token.lock();
    let out = local::with_vm(sc, |vm| {
        run_script(c, vm, &sha, body.as_ref(), numkeys, readonly)
    });
    drop(held);
    out
}

/// Compiles (or finds) and runs an EVAL script in `vm`, this thread's interpreter; the
/// caller holds the script token.
fn run_script(
    c: &mut Ctx,
    vm: &mut vm::Vm,
    sha: &str,
    body: Option<&Bytes>,
    numkeys: usize,
    readonly: bool,
) -> CmdResult {
    let sc = &c.srv.scripting;
    // A script compiled in a current interpreter is in the body cache too (SCRIPT FLUSH
    // drops the bodies and retires the interpreters, under the token), so a cached function
    // needs no look-up of the bodies (a shared lock both workers would write to on every
    // call).
    let (func, flags) = match vm.cached(sha) {
        Some((func, flags)) => {
            check_ro(readonly, flags)?;
            (func, flags)
        }
        None => {
            let body = match body {
                Some(b) => b.clone(),
                None => sc.bodies.read().get(sha).cloned().ok_or(NOSCRIPT)?,
            };
            let (flags, source) = parse_shebang(&body)?;
            check_ro(readonly, flags)?;
            let func = vm.function(sha, &source, flags)?;
            if !sc.bodies.read().contains_key(sha) {
                sc.bodies.write().entry(sha.to_string()).or_insert(body);
            }
            (func, flags)
        }
    };
    run_prepared(
        c,
        vm,
        func,
        sha,
        numkeys,
        readonly || flags.no_writes,
        false,
    )
}

/// Runs a compiled script or function (`function`) with the caller's KEYS and ARGV: locks
/// the declared keys' shards, sets the run flags (busy/kill bookkeeping) and runs it. The
/// caller holds the interpreter.
fn run_prepared(
    c: &mut Ctx,
    vm: &mut vm::Vm,
    func: ferrokv_lua::mlua::Function,
    name: &str,
    numkeys: usize,
    readonly: bool,
    function: bool,
) -> CmdResult {
    let srv = c.srv;
    let sc = &srv.scripting;
    if srv.monitor_count.load(Relaxed) > 0 {
        let origin = c.client.handle.addr.to_string();
        srv.feed_monitors_always(c.client.db, &origin, c.cmd, c.argv);
    }
    let all: &[Bytes] = c.argv;
    let (keys, argv) = all[3..].split_at(numkeys);
    let db = c.client.db;
    let mut declared = None;
    if let ([key], true) = (keys, c.locks.is_empty()) {
        // One key (the usual case): its shard, without building a plan.
        c.locks = srv.keyspace.lock_key(db, key);
        declared = Some((db, &key[..]));
    } else {
        let plan = LockPlan::Shards(
            keys.iter()
                .map(|k| (db, crate::keyspace::shard_of(k) as u32))
                .collect(),
        )
        .normalise();
        if c.locks.is_empty() {
            c.locks = srv.keyspace.lock(&plan);
        } else {
            // Inside EXEC: the transaction's lock set already covers the whole db.
            c.locks.acquire_more(&plan);
        }
    }
    let f = &sc.flags;
    f.kill.store(false, Relaxed);
    f.wrote.store(false, Relaxed);
    // `busy_threshold_ms` is kept current by `Server::refresh_hot_values` (start-up and every
    // CONFIG SET), not read from the configuration per run.
    // A call run inline started at the command's clock (read when the previous command
    // ended, microseconds ago); elsewhere (script thread, EXEC) the call may have waited for
    // the token or the thread since then.
    let started_ms = if inline::clock_is_fresh() {
        c.clock.ms
    } else {
        crate::util::now_ms()
    };
    f.started_ms.store(started_ms, Relaxed);
    f.caller.store(c.client.id, Relaxed);
    f.repl.store(REPL_AOF | REPL_REPLICA, Relaxed);
    f.running.store(true, Relaxed);
    let saved_nonblocking = c.client.nonblocking;
    c.client.nonblocking = true;
    let run = vm::Run {
        sha: name,
        readonly,
        resp3: false,
        function,
        declared,
    };
    let outcome = vm.run(c, func, keys, argv, run);
    // Scripts propagate their effects (the writes they made), never themselves (Redis 7).
    c.no_propagate();
    c.client.db = db;
    c.client.nonblocking = saved_nonblocking;
    f.running.store(false, Relaxed);
    f.kill.store(false, Relaxed);
    if f.busy.swap(false, Relaxed) {
        crate::log_notice!("Slow script detected: the script that ran for too long has ended.");
    }
    outcome
}

fn script_load(c: &mut Ctx) -> CmdResult {
    let body = c.arg_bytes(2);
    let (flags, source) = parse_shebang(&body)?;
    let sha = crate::sha1::hex(&body);
    let sc = &c.srv.scripting;
    {
        let _held = sc.token.lock();
        // Compiled here to check it (and ready on this thread); the other interpreters
        // compile it at their first run.
        local::with_vm(sc, |vm| vm.function(&sha, &source, flags).map(drop))?;
        // Under the token: a compiled script always has its body cached (see `run_script`).
        sc.bodies.write().entry(sha.clone()).or_insert(body);
    }
    c.reply.bulk(sha.as_bytes());
    Ok(())
}

fn script_exists(c: &mut Ctx) -> CmdResult {
    let n = c.argv.len() - 2;
    let found: Vec<bool> = {
        let b = c.srv.scripting.bodies.read();
        c.argv[2..]
            .iter()
            .map(|s| b.contains_key(&String::from_utf8_lossy(s).to_ascii_lowercase()))
            .collect()
    };
    c.reply.array(n);
    for f in found {
        c.reply.int(i64::from(f));
    }
    Ok(())
}

fn script_flush(c: &mut Ctx) -> CmdResult {
    match c.argv.len() {
        2 => {}
        3 if args::is(c.arg(2), "sync") || args::is(c.arg(2), "async") => {}
        _ => {
            return Err(CmdError::new(
                "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
            ))
        }
    }
    let sc = &c.srv.scripting;
    // Bodies and compiled functions go together, under the token (a compiled script must
    // never outlive its body: see `run_script`): every interpreter built before this is
    // rebuilt at its next use (this thread's is dropped now).
    let held = sc.token.lock();
    sc.bodies.write().clear();
    sc.flush_generation.fetch_add(1, Release);
    sc.heaps.forget_all();
    local::drop_current(sc);
    drop(held);
    c.reply.ok();
    Ok(())
}

fn script_kill(c: &mut Ctx) -> CmdResult {
    let f = &c.srv.scripting.flags;
    if !f.running.load(Relaxed) {
        return Err(NOTBUSY);
    }
    if f.wrote.load(Relaxed) {
        return Err(UNKILLABLE);
    }
    if f.is_function.load(Relaxed) {
        return Err(BUSY_FUNCTION);
    }
    f.kill.store(true, Relaxed);
    c.reply.ok();
    Ok(())
}

fn script_help(c: &mut Ctx) -> CmdResult {
    crate::cmd::help_reply(
        c.reply,
        "SCRIPT",
        &[
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}

/// The BUSY error while a function (FCALL) is busy.
pub const BUSY_FUNCTION: CmdError = CmdError::new(
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
);

/// The BUSY error for a command arriving while a script is busy.
pub const BUSY: CmdError = CmdError::new(
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
);

/// Runs one `redis.call` from the script in `c`, writing the command's reply (an error reply
/// for command errors) into `reply` (emptied first; its protocol is the script's), or returns
/// an error text for calls Redis refuses before running them.
///
/// `declared` is the script's one declared key and its db when the script's lock set was
/// taken for that key alone (`Keyspace::lock_key`, whose first-key hint names it): a one-key
/// command on that very key then needs no lock plan (its shard is held) and its handler no
/// CRC16 (the hint is pointed at this call's copy of the key for the call, and back after).
pub fn call_command(
    c: &mut Ctx,
    argv: &[Bytes],
    reply: &mut ferrokv_resp::Reply,
    readonly: bool,
    declared: Option<(u32, &[u8])>,
) -> Result<(), String> {
    use crate::dispatch::Lookup;
    use crate::spec::flags;
    let srv = c.srv;
    let cmd = match srv.commands.lookup(argv) {
        Lookup::Found(cmd) => cmd,
        _ => return Err("ERR Unknown Redis command called from script".into()),
    };
    let arity = cmd.spec.arity;
    let argc = argv.len() as i32;
    if (arity > 0 && argc != arity) || argc < -arity || cmd.handler.is_none() {
        return Err("ERR Wrong number of args calling Redis command from script".into());
    }
    if cmd.has(flags::NOSCRIPT) {
        return Err("ERR This Redis command is not allowed from script".into());
    }
    if cmd.has(flags::WRITE) {
        if readonly {
            return Err("ERR Write commands are not allowed from read-only scripts.".into());
        }
        srv.scripting.flags.wrote.store(true, Relaxed);
    }
    let Some(handler) = cmd.handler else {
        return Err("ERR Unknown Redis command called from script".into());
    };
    let db = c.client.db;
    let rehinted = match (cmd.locking, declared) {
        (Locking::Keys, Some((ddb, dkey))) if ddb == db => {
            match crate::dispatch::key_range(cmd.spec, argv.len()) {
                Some(Ok((first, last, _))) if first == last => argv
                    .get(first)
                    .is_some_and(|k| k[..] == *dkey && c.locks.rehint_same_key(db, k)),
                _ => false,
            }
        }
        _ => false,
    };
    if !rehinted {
        let plan = match cmd.locking {
            Locking::Manual => LockPlan::Db(db),
            _ => crate::dispatch::lock_plan(cmd, argv, db),
        };
        c.locks.acquire_more(&plan);
    }
    reply.truncate(0);
    let locks = std::mem::replace(&mut c.locks, srv.keyspace.lock(&LockPlan::None));
    let start = crate::util::now_us();
    let mut inner = Ctx {
        srv,
        client: &mut *c.client,
        argv,
        reply: &mut *reply,
        locks,
        clock: c.clock,
        cmd,
    };
    srv.feed_monitors_from(inner.client.db, "lua", cmd, argv);
    let effects_before = inner.client.effects.unit.len();
    let result = crate::propagate::call_handler(&mut inner, handler);
    if srv.scripting.flags.repl.load(Relaxed) & REPL_AOF == 0 {
        // `redis.set_repl` without REPL_AOF: this call's effects are dropped.
        inner.client.effects.unit.truncate(effects_before);
    }
    crate::tracking::remember_in_script(srv, inner.client, cmd, argv);
    c.locks = inner.locks;
    if let (true, Some((ddb, dkey))) = (rehinted, declared) {
        // Back to the declared key's bytes, which outlive the run (this call's copy does not,
        // and a later copy at the same address must not inherit the hint).
        c.locks.rehint_same_key(ddb, dkey);
    }
    let usec = (crate::util::now_us() - start).max(0) as u64;
    c.client.batch.record_call(cmd.index, usec);
    if let Err(e) = result {
        reply.truncate(0);
        reply.error(e.0.as_bytes());
        c.client.batch.record_failed(cmd.index);
        srv.stats.count_error(e.code());
    }
    Ok(())
}

/// Whether a command's reply is an error.
pub fn is_error_reply(bytes: &[u8]) -> bool {
    bytes.first() == Some(&b'-')
}

/// Text of an error reply (without '-' and CRLF).
pub fn error_text(bytes: &[u8]) -> &[u8] {
    let b = bytes.strip_prefix(b"-").unwrap_or(bytes);
    b.strip_suffix(b"\r\n").unwrap_or(b)
}
