//! Where the `redis.call` / `redis.pcall` registered once per Lua state find the run in
//! progress.
//!
//! Both are plain `'static` functions created in [`super::vm::Vm::new`]; the context of a run
//! (the connection's `Ctx`, the reply buffer, the run's flags: a [`CallCtx`] borrowing the
//! caller's stack frame) is reached through a pointer that [`RunSlot::during`] sets for exactly
//! the duration of one run and clears after it, also when the run fails or panics. A scoped
//! callback per run (mlua's `Lua::scope`) did the same safely, but creating it, dropping the
//! scope and collecting its userdata cost ~3.1k instructions per EVALSHA (see
//! docs/performance-notes.md, "EVALSHA: a `redis.call` registered once").
//!
//! One of the two modules of the server that allow `unsafe` (the other is `call_args`), for
//! one block: the dereference of the pointer (storing it, with its lifetimes erased, is a
//! safe cast).
#![allow(unsafe_code)]

use super::vm::CallCtx;
use std::cell::Cell;

/// The erased type of the pointer: lifetimes are not part of a raw pointer's layout, and
/// [`RunSlot::with`] only hands the pointee to code generic over every lifetime.
type Erased = CallCtx<'static, 'static, 'static>;

/// The run context of one Lua state (each `Vm` owns one, shared with its two callbacks).
pub struct RunSlot {
    ptr: Cell<*const Erased>,
}

impl Default for RunSlot {
    fn default() -> RunSlot {
        RunSlot {
            ptr: Cell::new(std::ptr::null()),
        }
    }
}

/// Restores the slot's previous pointer when the run ends (normally, by error or by unwind).
struct Restore<'s> {
    slot: &'s RunSlot,
    prev: *const Erased,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.slot.ptr.set(self.prev);
    }
}

impl RunSlot {
    /// Runs `f` (the script) with `ctx` reachable through [`RunSlot::with`]. The previous
    /// pointer (null outside runs; runs do not nest, since `Vm::run` takes the `Vm` by `&mut`
    /// and `redis.call` refuses EVAL/FCALL) is put back after `f`, however `f` ends.
    pub fn during<R>(&self, ctx: &CallCtx<'_, '_, '_>, f: impl FnOnce() -> R) -> R {
        let erased: *const CallCtx<'_, '_, '_> = ctx;
        let restore = Restore {
            slot: self,
            prev: self.ptr.replace(erased.cast::<Erased>()),
        };
        let out = f();
        drop(restore);
        out
    }

    /// Calls `f` with the context of the run in progress, or answers `None` outside a run
    /// (a `redis.call` kept by a script and called when no run is on the stack).
    pub fn with<R>(
        &self,
        f: impl for<'r, 'c, 'a, 'k> FnOnce(&'r CallCtx<'c, 'a, 'k>) -> R,
    ) -> Option<R> {
        let p = self.ptr.get();
        if p.is_null() {
            return None;
        }
        // SAFETY: a non-null pointer was stored by `during`, whose `Restore` guard clears it
        // (puts back the previous value, null outside runs) before `during` returns or unwinds,
        // so the pointee — borrowed by `during` for its whole call — is alive here. The slot
        // belongs to one Lua state, and the state and its callbacks are !Send (mlua without
        // its `send` feature), so `with` runs on the thread running `during`, inside `f` there.
        // Only a shared reference is formed: `run` does not touch the `CallCtx` while `during`
        // is on the stack, and the pointee's mutable parts are behind `RefCell`s, whose
        // borrow checks catch re-entry. The real lifetimes were erased to 'static; `f` is
        // generic over every lifetime and `R` cannot name them, so nothing borrowed from the
        // context outlives this call.
        let ctx: &CallCtx<'_, '_, '_> = unsafe { &*p };
        Some(f(ctx))
    }
}
