//! Cache prefetch hints: the one place where this crate uses `unsafe`.
//!
//! At pipeline 16, the server spends a third of a GET's CPU waiting for memory: the shard's
//! lock line, then the hash table's control bytes, bucket and entry, each load depending on
//! the one before (docs/performance-notes.md, "Batch prefetch (branch get16)"). The connection
//! loop parses a request ahead of the one it runs ([`crate::squash`]), so it knows the next
//! key's shard early and can ask the CPU to start fetching that shard's lines while the
//! current command runs; the next command then finds them in cache.
//!
//! A prefetch is a hint: it reads nothing into the program, never faults (an unmapped or
//! freed address is simply dropped by the CPU) and changes no memory, so it can be given any
//! address. The intrinsics are nevertheless `unsafe fn`s in `core::arch` (every
//! `#[target_feature]` function is), hence this module's exemption from the workspace's
//! `unsafe_code = "deny"`.
#![allow(unsafe_code)]

/// Starts fetching the cache line holding `p` for writing (the line arrives in exclusive
/// state, so a compare-and-swap on it, such as taking a mutex, does not need a second trip).
#[inline(always)]
pub fn for_write<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHW (or PREFETCHT0 on CPUs without it) is a hint: it does not access
    // memory architecturally, cannot fault on any address and has no other effect. SSE, which
    // the intrinsic is declared to need, is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_ET0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Starts fetching the cache line holding `p` for reading, into all cache levels.
#[inline(always)]
pub fn for_read<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `for_write`: a prefetch is a hint that cannot fault and accesses nothing.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::{for_read, for_write};

    #[test]
    fn any_address_is_accepted() {
        let v = [7u8; 256];
        for_read(v.as_ptr());
        for_write(v.as_ptr().wrapping_add(200));
        // Addresses that are not (or no longer) mapped: a prefetch must not fault on them.
        for_read(std::ptr::null::<u8>());
        for_write(usize::MAX as *const u8);
        let gone = Box::new(5u64);
        let addr: *const u64 = &*gone;
        drop(gone);
        for_read(addr);
        assert_eq!(v[200], 7);
    }
}
