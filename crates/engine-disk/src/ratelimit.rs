//! The compaction rate limit (`disk-compaction-rate`).
//!
//! fjall 3.1 has no I/O rate limiter, no compaction priority and no hook around a compaction
//! as a whole, but it runs a compaction filter (module `gc`) on every record a *merging*
//! compaction writes, on the compaction's own worker thread, with no lock held (lsm-tree's
//! `merge_tables` drops the compaction-state and version locks before it iterates). So the
//! filter is where compaction can be paced: each filter counts the bytes (key + value) of the
//! records it passes and hands them to the engine's [`CompactionLimiter`] every [`CHUNK`]
//! bytes; the limiter is a token bucket (kept as a "theoretical arrival time") shared by every
//! keyspace and worker, and sleeps the compacting thread whenever compaction got more than
//! [`BURST`] ahead of the configured rate. Flushes (memtable → level-0 table) never run the
//! filter, so they are not slowed: memory is still released at full speed and the write
//! back-pressure of module `throttle` is unchanged. Trivial moves (a table moved to the next
//! level without rewriting) cost no I/O and are not counted.
//!
//! What is bounded is the rate of *logical* record bytes a compaction rewrites (uncompressed;
//! the device sees the LZ4-compressed tables, plus the reads of the input tables, which are
//! about as large as the output). A rate below the sustained write rate makes level 0 grow
//! until fjall's own stall (20/30 level-0 runs, §8 of docs/disk-engine.md) slows the writers:
//! the limit trades compaction bursts for a lower steady write ceiling, as RocksDB's
//! `rate_limiter` does.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Bytes a filter accumulates before it charges the limiter (one lock per chunk, not per record).
pub(crate) const CHUNK: u64 = 32 << 10;
/// How far compaction may run ahead of the rate before it sleeps (absorbs the chunking and lets
/// a short compaction finish without a pause).
pub(crate) const BURST: Duration = Duration::from_millis(50);
/// Longest single sleep: a sleeping compaction re-reads the rate and the closing flag this often,
/// so CONFIG SET (or closing the engine) takes effect quickly.
const MAX_SLEEP: Duration = Duration::from_millis(50);

/// The engine-wide compaction pacing state.
pub(crate) struct CompactionLimiter {
    /// Bytes per second; 0 = unlimited.
    rate: AtomicU64,
    /// The instant at which every byte charged so far would have been "paid for" at the rate.
    tat: Mutex<Option<Instant>>,
    /// Record bytes passed through compaction filters since open (stats).
    pub(crate) bytes: AtomicU64,
    /// Microseconds compaction threads slept because of the limit since open (stats).
    pub(crate) throttled_us: AtomicU64,
    /// Set when the engine closes: sleeping compactions stop pacing so the close is not delayed.
    pub(crate) closing: AtomicBool,
}

impl CompactionLimiter {
    /// A limiter at `rate` bytes per second (0 = unlimited).
    pub(crate) fn new(rate: u64) -> CompactionLimiter {
        CompactionLimiter {
            rate: AtomicU64::new(rate),
            tat: Mutex::new(None),
            bytes: AtomicU64::new(0),
            throttled_us: AtomicU64::new(0),
            closing: AtomicBool::new(false),
        }
    }

    /// The rate in force (bytes per second, 0 = unlimited).
    pub(crate) fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    /// Changes the rate; a compaction sleeping under the old rate re-paces within
    /// [`MAX_SLEEP`]. The debt accumulated under the old rate is forgotten.
    pub(crate) fn set_rate(&self, rate: u64) {
        self.rate.store(rate, Ordering::Relaxed);
        *self.tat.lock() = None;
    }

    /// Charges `bytes` of compaction output and, if compaction is now more than [`BURST`] ahead
    /// of the rate, sleeps the calling (compaction) thread until it is back within it. With
    /// `may_sleep` false the bytes are only charged (the end of a compaction: the next one pays).
    pub(crate) fn charge(&self, bytes: u64, may_sleep: bool) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let rate = self.rate();
        if rate == 0 {
            return;
        }
        let cost = Duration::from_secs_f64(bytes as f64 / rate as f64);
        let now = Instant::now();
        let due = {
            let mut tat = self.tat.lock();
            let start = match *tat {
                Some(t) if t > now => t,
                _ => now,
            };
            let due = start + cost;
            *tat = Some(due);
            due
        };
        if !may_sleep {
            return;
        }
        let started = Instant::now();
        loop {
            let now = Instant::now();
            let ahead = due.saturating_duration_since(now);
            if ahead <= BURST || self.closing.load(Ordering::Relaxed) || self.rate() != rate {
                break;
            }
            std::thread::sleep((ahead - BURST).min(MAX_SLEEP));
        }
        let slept = started.elapsed().as_micros() as u64;
        if slept > 0 {
            self.throttled_us.fetch_add(slept, Ordering::Relaxed);
        }
    }
}

/// Per-compaction byte counter of one filter: charges the limiter every [`CHUNK`] bytes.
pub(crate) struct Meter {
    pending: u64,
}

impl Meter {
    /// An empty meter.
    pub(crate) fn new() -> Meter {
        Meter { pending: 0 }
    }

    /// Counts one record of `bytes`, pacing through `limiter` once a chunk is full.
    #[inline]
    pub(crate) fn record(&mut self, limiter: &CompactionLimiter, bytes: u64) {
        self.pending += bytes;
        if self.pending >= CHUNK {
            limiter.charge(std::mem::take(&mut self.pending), true);
        }
    }

    /// Charges what is left at the end of a compaction, without sleeping.
    pub(crate) fn finish(&mut self, limiter: &CompactionLimiter) {
        if self.pending > 0 {
            limiter.charge(std::mem::take(&mut self.pending), false);
        }
    }
}

impl crate::DiskEngine {
    /// Sets the compaction rate limit (`CONFIG SET disk-compaction-rate`): bytes of records
    /// that merging compactions may rewrite per second, all keyspaces and worker threads
    /// together; 0 lifts the limit. A compaction running now adopts the new rate within 50 ms.
    pub fn set_compaction_rate(&self, bytes_per_sec: u64) {
        self.inner.gc.limiter.set_rate(bytes_per_sec);
    }

    /// The compaction rate limit in force, bytes per second (0 = unlimited).
    pub fn compaction_rate(&self) -> u64 {
        self.inner.gc.limiter.rate()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_sleeps_and_counts() {
        let l = CompactionLimiter::new(0);
        let t = Instant::now();
        for _ in 0..1000 {
            l.charge(1 << 20, true);
        }
        assert!(t.elapsed() < Duration::from_millis(500));
        assert_eq!(l.bytes.load(Ordering::Relaxed), 1000 << 20);
        assert_eq!(l.throttled_us.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn limited_paces_to_the_rate() {
        // 1 MiB/s, 12 chunks of 32 KiB: 375 ms of budget, of which the burst is free.
        let l = CompactionLimiter::new(1 << 20);
        let t = Instant::now();
        for _ in 0..12 {
            l.charge(CHUNK, true);
        }
        let e = t.elapsed();
        assert!(e >= Duration::from_millis(374) - BURST, "{e:?}");
        assert!(l.throttled_us.load(Ordering::Relaxed) > 0);
    }

    #[test]
    fn lifting_the_limit_wakes_a_sleeper() {
        let l = std::sync::Arc::new(CompactionLimiter::new(1024));
        let l2 = l.clone();
        let t = Instant::now();
        let h = std::thread::spawn(move || l2.charge(1 << 20, true)); // ~1000 s at 1 KiB/s
        std::thread::sleep(Duration::from_millis(100));
        l.set_rate(0);
        h.join().unwrap();
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
