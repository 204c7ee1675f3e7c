//! Back-pressure on fjall's whole write buffer.
//!
//! fjall 3.1 seals a full memtable asynchronously (it queues a rotation request for its worker
//! pool) and stalls writers only on *sealed* memtables (4 per keyspace) and level-0 runs. While
//! every worker is busy with a long compaction the rotation request waits, the active memtable
//! keeps growing, and nothing stalls: with one worker thread a sustained writer pushed 600 MB
//! into memtables (docs/disk-engine.md §8). This module adds the missing bound: after a batch
//! commits, its writer waits while the write buffer (every memtable, active and sealed) is above
//! a limit derived from the configured memtable budget, so memory stays bounded whatever the
//! workers are doing.

use fjall::Database;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Keyspaces the engine opens (meta, data, zscore, zcount, zbound, expire, sys).
const KEYSPACES: u64 = 7;
/// How long one writer waits at most. The write buffer shrinks only when a flush completes, so
/// a bound keeps a pathological case (every memtable active and below its rotation size while
/// above the limit) from blocking forever; the waits still throttle the writer.
const MAX_WAIT: Duration = Duration::from_secs(5);
/// Poll interval while waiting for flushes.
const POLL: Duration = Duration::from_millis(2);

/// The write-buffer bound of one engine and how often it made writers wait.
pub(crate) struct WriteThrottle {
    /// Bytes of memtables (active + sealed) above which a committing writer waits.
    pub(crate) limit: u64,
    /// Commits that had to wait for the write buffer to shrink.
    pub(crate) waits: AtomicU64,
}

impl WriteThrottle {
    /// The bound for a memtable budget of `memtable_bytes` split into memtables of
    /// `per_memtable` bytes: twice the budget, and never below two memtables per keyspace (the
    /// 1 MiB floor of `per_memtable` makes small budgets hold more than the budget says, and
    /// active memtables below their size are never flushed, so a lower bound could not be met).
    pub(crate) fn new(memtable_bytes: u64, per_memtable: u64) -> WriteThrottle {
        WriteThrottle {
            limit: (2 * memtable_bytes).max(2 * KEYSPACES * per_memtable),
            waits: AtomicU64::new(0),
        }
    }

    /// Blocks the calling writer (at most [`MAX_WAIT`]) while `db`'s write buffer is above the
    /// limit, polling as fjall's own stalls do.
    pub(crate) fn wait(&self, db: &Database) {
        if db.write_buffer_size() <= self.limit {
            return;
        }
        self.waits.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + MAX_WAIT;
        while db.write_buffer_size() > self.limit && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
    }
}

/// fjall's worker-thread count for `requested` (`DiskOptions::worker_threads`): as asked, or for
/// 0 fjall's default min(cores, 4) raised to at least 3. With a single worker, a flush (and the
/// memtable rotation before it) waits behind every compaction queued before it: measured on
/// this machine, a sustained writer either grew the write buffer to 600 MB (without
/// [`WriteThrottle`]) or, with it, waited minutes for one flush. With two, fjall 3.1's worker 0
/// (which hands every compaction request on to the others, to stay free for flushes) spins on
/// its queue, re-sending the request to itself, for as long as the only other worker is busy
/// compacting: a whole core burnt during every compaction (docs/disk-engine.md §9, "Blind
/// writes"). A third worker takes the request at once and the spin stops.
pub(crate) fn worker_threads(requested: usize) -> usize {
    if requested > 0 {
        return requested;
    }
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(3, 4)
}
