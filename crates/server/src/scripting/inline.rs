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

use super::Scripting;
use crate::client::Client;
use crate::dispatch::{self, Flow};
use crate::server::Server;
use bytes::Bytes;
use ferrokv_resp::Reply;
use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::{Duration, Instant};

/// A run shorter than this marks its script as safe to run inline.
pub const INLINE_BUDGET: Duration = Duration::from_millis(1);

/// How long a worker waits for the script token before handing the call to the script thread.
const INTERPRETER_WAIT: Duration = Duration::from_micros(50);

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

/// Runs the script call `argv` right here (in this thread's interpreter) if its script is
/// known fast and the script token is free; `None` when it must go to the script thread
/// instead.
pub fn try_inline(
    srv: &Server,
    client: &mut Client,
    argv: &[Bytes],
    reply: &mut Reply,
) -> Option<Flow> {
    let sc = &srv.scripting;
    if !sc.is_known_fast(argv) {
        return None;
    }
    // The token is reentrant: EVAL's own acquisition below succeeds on this thread. A
    // known-fast script running on the other worker ends within a few microseconds; a
    // longer wait means a long script holds it: then go to the script thread.
    let held = sc.token.try_lock_for(INTERPRETER_WAIT)?;
    let start = Instant::now();
    let flow = dispatch::execute(srv, client, argv, reply);
    drop(held);
    let took = start.elapsed();
    // A known-fast script that ran fast stays known fast: no need to look it up again.
    if took > INLINE_BUDGET {
        sc.note_run(argv, took);
    }
    Some(flow)
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
