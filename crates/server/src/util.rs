//! Small helpers shared by the whole server: clocks, randomness, Redis-style quoting.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds.
#[inline]
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Unix time in microseconds.
#[inline]
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// A random lowercase hex string of `n` characters (run ids, ...).
pub fn random_hex(n: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(n);
    let mut i = 0u64;
    while out.len() < n {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_i64(now_us());
        out.push_str(&format!("{:016x}", h.finish()));
        i += 1;
    }
    out.truncate(n);
    out
}

/// `s` quoted the way Redis's `sdscatrepr` does, as a new string (CONFIG REWRITE, errors).
pub fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    repr_into(&mut out, s);
    out
}

/// Appends `s` quoted the way Redis's `sdscatrepr` does (MONITOR, CLIENT LIST, DEBUG).
pub fn repr_into(out: &mut String, s: &[u8]) {
    out.push('"');
    for &c in s {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c as char),
            c => out.push_str(&format!("\\x{:02x}", c)),
        }
    }
    out.push('"');
}

/// Nice value of background threads (snapshots, lazy free): under CPU contention the
/// scheduler gives them about a tenth of the share of a connection thread, so a snapshot
/// slows down instead of raising client latency. They hold shard locks only for short copies,
/// so a preempted background thread delays at most the few requests to that one shard.
pub const BACKGROUND_NICE: i32 = 10;

/// Gives the calling thread the background priority ([`BACKGROUND_NICE`]); best effort (an
/// error, e.g. under a seccomp filter, leaves the priority unchanged).
pub fn background_priority() {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), BACKGROUND_NICE) {
        crate::log_verbose!("could not lower a background thread's priority: {}", e);
    }
}

/// Applies `disable-thp yes` (Redis's default, and ours): turns transparent huge pages off for
/// the whole process, as redis-server does at startup. Why it matters more here than for
/// Redis's jemalloc: mimalloc asks for huge pages on its arenas (`MADV_HUGEPAGE`), so while
/// the dataset grows every fresh 2 MiB of heap is one page fault that zeroes 2 MiB at once.
/// Measured on the benchmark VM (docs/performance-notes.md, "Tail latency"): one such fault
/// kept the connection worker 5-7.6 ms away from its clients, once per 2 MiB of heap growth: the
/// "periodic stall" of one-key LPUSH at pipeline 16 (p99 6-7 ms against Redis's 1 ms). With 4
/// KiB pages the same zeroing is spread over many small faults. Best effort: a kernel that
/// refuses the flag leaves huge pages on, and a warning is logged. Returns whether THP is off.
pub fn disable_transparent_huge_pages() -> bool {
    match rustix::thread::disable_transparent_huge_pages(true) {
        Ok(()) => true,
        Err(e) => {
            crate::log_warning!(
                "WARNING: could not disable transparent huge pages for this process: {}",
                e
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_escapes_like_sdscatrepr() {
        let mut s = String::new();
        repr_into(&mut s, b"a\"b\\\n\x01 z");
        assert_eq!(s, r#""a\"b\\\n\x01 z""#);
    }

    #[test]
    fn random_hex_has_requested_length() {
        let a = random_hex(40);
        assert_eq!(a.len(), 40);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_hex(40));
    }
}
