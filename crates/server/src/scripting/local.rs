//! One EVAL interpreter per thread.
//!
//! Every thread that runs an EVAL-family script (the connection workers for known-fast
//! scripts run inline and for EXEC, the script thread for everything else) runs it in its own
//! Lua state, created on first use with the same sandbox as any other ([`vm::Vm::new`]). The
//! interpreter never changes cores, so its heap stays in the cache of the core that uses it;
//! with one shared state, two workers pipelining EVALSHA passed the Lua heap's cache lines
//! back and forth on every call.
//!
//! Scripts still run one at a time: the *script token* ([`super::Scripting::hold`]) is taken
//! before any interpreter is used, exactly as the single interpreter's lock was, so the run
//! flags (BUSY, SCRIPT KILL), the lock order (token, then shards) and the keyspace's
//! escalation rule ("only one script at a time escalates") are unchanged.
//!
//! Nothing a script can observe differs between the interpreters: the globals and library
//! tables are read-only, so a script cannot leave state behind; every state is built by the
//! same code; `math.random` uses the C library's generator, which is process-wide (a
//! continuing sequence, as Redis 7's is); `os.clock` counts from one process-wide instant.
//!
//! Caching: each interpreter compiles a script the first time it runs it there (from the
//! body cache, [`super::Scripting`]'s `bodies`). SCRIPT FLUSH empties the body cache and bumps
//! a generation counter, under the token; an interpreter built under an older generation is
//! dropped and rebuilt by its thread at its next use, so no interpreter keeps a script that
//! was flushed. Because runs and flushes both happen under the token, "compiled in a current
//! interpreter" still implies "body cached".
//!
//! Memory: the heap limit applies to each interpreter on its own. INFO's `used_memory_lua` /
//! `used_memory_vm_eval` report the sum of the heaps of the current interpreters (those built
//! since the last SCRIPT FLUSH), as of each one's last run.

use super::vm::Vm;
use super::Scripting;
use crate::errors::CmdError;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering::Acquire, Ordering::Relaxed};
use std::sync::{Arc, Weak};

/// This thread's interpreter and what it was built for.
struct Local {
    /// The [`Scripting::id`] of the server it belongs to (tests run several in a process).
    owner: u64,
    /// The flush generation it was built under.
    generation: u64,
    vm: Vm,
    /// Its heap size as of its last run, summed by [`Scripting::mem_stats`].
    heap: Arc<AtomicUsize>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// The interpreters' heap sizes, for INFO (a slot per live, current interpreter).
#[derive(Default)]
pub struct Heaps {
    slots: parking_lot::Mutex<Vec<Weak<AtomicUsize>>>,
}

impl Heaps {
    /// Sum of the heaps of the interpreters still alive and current.
    pub fn total(&self) -> usize {
        let mut slots = self.slots.lock();
        slots.retain(|w| w.strong_count() > 0);
        slots
            .iter()
            .filter_map(Weak::upgrade)
            .map(|h| h.load(Relaxed))
            .sum()
    }

    /// Forgets every interpreter (SCRIPT FLUSH: the old ones are rebuilt at their next use and
    /// register again).
    pub fn forget_all(&self) {
        self.slots.lock().clear();
    }

    /// Adds a live interpreter's heap slot to the sum.
    pub(super) fn register(&self, slot: &Arc<AtomicUsize>) {
        let mut slots = self.slots.lock();
        slots.retain(|w| w.strong_count() > 0);
        slots.push(Arc::downgrade(slot));
    }
}

/// Runs `f` with this thread's interpreter for `sc`, building it first if this thread has
/// none, has one of another server, or has one older than the last SCRIPT FLUSH. The caller
/// holds the script token. After `f`, the interpreter's heap size is recorded for INFO.
///
/// Fails with "ERR Lua interpreter busy" if the interpreter is already in use on this thread
/// (a script cannot start a script: EVAL and FCALL are refused inside scripts, so this is a
/// safeguard).
pub fn with_vm<R>(
    sc: &Scripting,
    f: impl FnOnce(&mut Vm) -> Result<R, CmdError>,
) -> Result<R, CmdError> {
    LOCAL.with(|cell| {
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| CmdError::new("ERR Lua interpreter busy"))?;
        let generation = sc.flush_generation.load(Acquire);
        let current = matches!(&*slot, Some(l) if l.owner == sc.id && l.generation == generation);
        if !current {
            // The old state goes first: its memory is freed before the new one is built.
            *slot = None;
            let vm = Vm::new(sc.flags.clone())
                .map_err(|e| crate::cmd_err!("ERR cannot start the Lua interpreter: {}", e))?;
            let heap = Arc::new(AtomicUsize::new(vm.lua().used_memory()));
            sc.heaps.register(&heap);
            *slot = Some(Local {
                owner: sc.id,
                generation,
                vm,
                heap,
            });
        }
        let Some(local) = slot.as_mut() else {
            return Err(CmdError::new("ERR Lua interpreter unavailable"));
        };
        let out = f(&mut local.vm);
        local.heap.store(local.vm.lua().used_memory(), Relaxed);
        out
    })
}

/// Drops this thread's interpreter if it belongs to `sc` (SCRIPT FLUSH frees the flushing
/// thread's state at once; the other threads' go at their next use). Does nothing while the
/// interpreter is in use on this thread.
pub fn drop_current(sc: &Scripting) {
    LOCAL.with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            if slot.as_ref().is_some_and(|l| l.owner == sc.id) {
                *slot = None;
            }
        }
    });
}
