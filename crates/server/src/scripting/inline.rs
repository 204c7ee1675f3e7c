//! Where a top-level script call runs: inline on the connection's worker thread, or on the
//! script thread.
//!
//! Handing a call to the script thread costs two thread switches (there and back), which
//! dominated short scripts (a one-`redis.call` EVALSHA ran at a fifth of Redis's speed when
//! pipelined). But a script that runs long must not run on a worker: the worker's other
//! connections would not be served, so they could neither get `-BUSY` nor send SCRIPT KILL.
//!
//! The choice is made from history: a script body (EVAL) or SHA (EVALSHA) is *known fast* once
//! one of its runs finished within [`INLINE_BUDGET`]. A known-fast script runs inline, in the
//! worker's own interpreter (see [`super::local`]), provided the script token is free within
//! 50 µs (a worker never waits long for another thread's script); everything else (first
//! runs, scripts that once ran long, FCALL, the token held elsewhere) goes to the script
//! thread as before. A run that exceeds the budget drops
//! the script from the known-fast set, so its next call goes back to the script thread.
//!
//! What this gives up: a known-fast script that suddenly runs long (its running time depends
//! on its data) delays the other connections of its worker until it ends; connections on the
//! other workers still get `-BUSY` and can SCRIPT KILL it.
//!
//! The script token is one resource shared by the workers: a worker that finds it taken notes
//! a wait for the worker that last held it (`affinity::SCRIPT_INTERPRETER`), so connections
//! that keep calling scripts migrate to one worker instead of handing the token back and forth.

use super::Scripting;
use crate::affinity;
use crate::client::Client;
use crate::dispatch::{self, Flow};
use crate::server::Server;
use crate::squash::Squash;
use bytes::{Bytes, BytesMut};
use ferrokv_resp::{Limits, Reply, RequestParser};
use parking_lot::ReentrantMutexGuard;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::Duration;

/// A run shorter than this marks its script as safe to run inline.
pub const INLINE_BUDGET: Duration = Duration::from_millis(1);

/// How long a worker waits for the script token before handing the call to the script thread.
/// (A run of calls on the other worker may hold the token longer, up to [`MAX_HOLD`]; but the
/// run releases it fairly, to a parked waiter, and 250 µs measured no better under load: a
/// token handed to a descheduled thread makes every connection of the other worker wait.)
const INTERPRETER_WAIT: Duration = Duration::from_micros(50);

/// At most this many consecutive script calls of a connection run under one acquisition of
/// the token.
pub const MAX_RUN: u32 = 32;

/// A run of calls stops once it has lasted this long (the other worker waits at most about
/// this long for the token).
pub const MAX_HOLD: Duration = Duration::from_micros(100);

/// A run of calls stops once the pending replies reach this size (the connection loop then
/// checks the output limits and flushes).
const MAX_REPLY: usize = 16 * 1024;

/// The known-fast set is cleared when it grows past this many entries (EVAL of generated
/// bodies must not grow it forever).
const MAX_KNOWN: usize = 4096;

/// Scripts known to finish quickly, keyed by the call's second argument (the SHA of EVALSHA or
/// the body of EVAL), exactly as sent.
///
/// Each thread remembers the last script it found in the set, with the set's generation at
/// that time: a repeated call of the same script checks that key and one atomic load that
/// nobody writes between changes, instead of taking the set's read lock (an atomic
/// read-modify-write on a cache line both workers would pass back and forth at pipeline 16).
pub struct KnownFast {
    set: parking_lot::RwLock<HashSet<Bytes, foldhash::fast::RandomState>>,
    /// Bumped, under the write lock, whenever the set changes.
    generation: AtomicU64,
    /// Tells this set from another server's in the threads' caches (tests run several
    /// servers in one process).
    id: u64,
}

impl Default for KnownFast {
    fn default() -> KnownFast {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        KnownFast {
            set: parking_lot::RwLock::default(),
            generation: AtomicU64::new(0),
            id: NEXT_ID.fetch_add(1, Relaxed),
        }
    }
}

thread_local! {
    /// The last script this thread found known fast: (set id, set generation, key).
    static LAST_FAST: RefCell<Option<(u64, u64, Bytes)>> = const { RefCell::new(None) };
    /// Set while [`try_inline`] runs a call (see [`clock_is_fresh`]).
    static INLINE_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Whether the script call running on this thread runs inline, with the token taken before
/// the command started: then the command's clock (`Ctx::clock`) is the script's start time
/// and need not be read again.
pub fn clock_is_fresh() -> bool {
    INLINE_CALL.with(Cell::get)
}

/// Whether `argv` is an EVAL-family call whose script may be remembered (FCALL is not: a
/// function's running time is not tracked).
fn script_key(argv: &[Bytes]) -> Option<&Bytes> {
    let name = argv.first()?;
    let eval = crate::args::is(name, "evalsha")
        || crate::args::is(name, "eval")
        || crate::args::is(name, "evalsha_ro")
        || crate::args::is(name, "eval_ro");
    if eval {
        argv.get(1)
    } else {
        None
    }
}

impl Scripting {
    /// Records how long a top-level run of `argv` took (wherever it ran).
    pub fn note_run(&self, argv: &[Bytes], took: Duration) {
        let Some(key) = script_key(argv) else {
            return;
        };
        let fast = took <= INLINE_BUDGET;
        if fast == self.known_fast.set.read().contains(key) {
            return;
        }
        let kf = &self.known_fast;
        let mut set = kf.set.write();
        if fast {
            if set.len() >= MAX_KNOWN {
                set.clear();
            }
            set.insert(Bytes::copy_from_slice(key));
        } else {
            set.remove(key);
        }
        kf.generation.fetch_add(1, Release);
    }

    fn is_known_fast(&self, argv: &[Bytes]) -> bool {
        let Some(key) = script_key(argv) else {
            return false;
        };
        let kf = &self.known_fast;
        // Loaded before the set is read: a change after this load bumps the generation, so
        // what is cached below is not trusted past that change.
        let generation = kf.generation.load(Acquire);
        let hit = LAST_FAST.with(|c| {
            matches!(&*c.borrow(), Some((id, g, k)) if *id == kf.id && *g == generation && k == key)
        });
        if hit {
            return true;
        }
        let fast = kf.set.read().contains(key);
        if fast {
            // A copy: the key's bytes may share the connection's read buffer.
            let entry = (kf.id, generation, Bytes::copy_from_slice(key));
            LAST_FAST.with(|c| *c.borrow_mut() = Some(entry));
        }
        fast
    }
}

/// What [`try_inline`] needs to run the connection's next buffered requests too: the
/// connection's squashing state (it parses ahead), parser, input buffer and limits.
pub type Batch<'a, 's> = (
    &'a mut Squash<'s>,
    &'a mut RequestParser,
    &'a mut BytesMut,
    &'a Limits,
);

/// Runs the script call in `args` right here (in this thread's interpreter) if its script is
/// known fast and the script token is free; `None` when it must go to the script thread
/// instead.
///
/// While holding the token it also runs the connection's next buffered requests, as long as
/// they are known-fast script calls too (a pipeline of EVALSHAs takes the token once, not once
/// per call: with two workers pipelining, the token changed hands on almost every call, and
/// each change cost a wait, a thread switch or a hand-over to the script thread). The run
/// stops at the first other request (left for the connection loop, see
/// [`Squash::peek`]), after [`MAX_RUN`] calls or [`MAX_HOLD`], or after a call that leaves work
/// for the connection loop; between calls it does the loop's after-command work (serving
/// clients blocked on keys). Returns the flow of the last call run, whose request is left in
/// `args`.
pub fn try_inline(
    srv: &Server,
    client: &mut Client,
    batch: Batch<'_, '_>,
    args: &mut Vec<Bytes>,
    reply: &mut Reply,
) -> Option<Flow> {
    let sc = &srv.scripting;
    if !sc.is_known_fast(args) {
        return None;
    }
    // The token is reentrant: EVAL's own acquisition below succeeds on this thread. A
    // known-fast script (or a bounded run of them) on the other worker ends soon; a longer
    // wait means a long script holds it: then go to the script thread.
    // Released fairly at the end of the run: a worker that waits for the token gets it
    // before this thread can take it again for its next connection's run (an unfair unlock
    // let one worker chain runs of all its connections while the other timed out into the
    // script thread).
    let held = match sc.token.try_lock() {
        Some(held) => held,
        None => {
            // Two workers taking turns at the token cost more than the scripts (measured:
            // 8.7 µs of CPU per EVALSHA at P16 with two workers, half that with one): let the
            // connection migrate to the worker that runs the scripts.
            affinity::note_wait(affinity::SCRIPT_INTERPRETER, sc.vm_holder.load(Relaxed));
            sc.token.try_lock_for(INTERPRETER_WAIT)?
        }
    };
    let me = affinity::worker();
    if sc.vm_holder.load(Relaxed) != me {
        sc.vm_holder.store(me, Relaxed);
    }
    affinity::note_taken(affinity::SCRIPT_INTERPRETER);
    let (squash, parser, inbuf, lim) = batch;
    // No clock read of its own: `dispatch::execute` reads the clock once per command and
    // leaves the time in `client.clock_us` (the end of the previous command is the start of
    // the next one).
    let first = client.clock_us;
    let mut start = first;
    let mut n = 1;
    loop {
        INLINE_CALL.with(|f| f.set(true));
        let flow = dispatch::execute(srv, client, args, reply);
        INLINE_CALL.with(|f| f.set(false));
        let end = client.clock_us;
        let took = Duration::from_micros(end.saturating_sub(start).max(0) as u64);
        // A known-fast script that ran fast stays known fast: no need to look it up again.
        if took > INLINE_BUDGET {
            sc.note_run(args, took);
        }
        if flow != Flow::Continue
            || n >= MAX_RUN
            || end.saturating_sub(first) > MAX_HOLD.as_micros() as i64
            || !settled(srv, client, reply)
        {
            ReentrantMutexGuard::unlock_fair(held);
            return Some(flow);
        }
        let next_fits = squash
            .peek(parser, inbuf, lim, client.authenticated)
            .is_some_and(|next| super::runs_off_thread(next) && sc.is_known_fast(next));
        if !next_fits {
            ReentrantMutexGuard::unlock_fair(held);
            return Some(flow);
        }
        // What the connection loop does after each command (serving clients blocked on keys
        // locks their shards: we hold none between calls, only the token, which comes first).
        crate::blocking::after_command(srv, client);
        client.blocking.keep_deadline = None;
        squash.take_ahead(args);
        start = end;
        n += 1;
    }
}

/// Whether the call just run left nothing for the connection loop to do but the
/// after-command work [`try_inline`] does itself, so the next call may run right away.
fn settled(srv: &Server, client: &Client, reply: &Reply) -> bool {
    client.is_plain()
        && client.blocking.parked.is_none()
        && client.block_until.is_none()
        && !client.close_after_reply
        && reply.len() < MAX_REPLY
        // The loop checks the output-buffer limit after each command.
        && srv.hot.obuf_limit(crate::pubsub::CLASS_NORMAL).0 == 0
        && !srv.scripting.busy()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    fn argv(parts: &[&str]) -> Vec<Bytes> {
        parts
            .iter()
            .map(|p| Bytes::copy_from_slice(p.as_bytes()))
            .collect()
    }

    #[test]
    fn a_script_is_inline_only_after_a_fast_run_and_until_a_slow_one() {
        let sc = Scripting::new(Arc::new(AtomicBool::new(false)));
        let call = argv(&["EVALSHA", "abc", "0"]);
        assert!(
            !sc.is_known_fast(&call),
            "unknown scripts go to the script thread"
        );
        sc.note_run(&call, Duration::from_micros(50));
        assert!(sc.is_known_fast(&call));
        // Keyed by the exact argument: another SHA is still unknown.
        assert!(!sc.is_known_fast(&argv(&["evalsha", "abd", "0"])));
        assert!(sc.is_known_fast(&argv(&["evalsha_ro", "abc", "0"])));
        sc.note_run(&call, INLINE_BUDGET + Duration::from_millis(1));
        assert!(
            !sc.is_known_fast(&call),
            "a slow run sends it back off-thread"
        );
        // FCALL is never remembered.
        let fcall = argv(&["FCALL", "f", "0"]);
        sc.note_run(&fcall, Duration::from_micros(1));
        assert!(!sc.is_known_fast(&fcall));
    }
}
