//! Freeing big things off the hot path (Redis's lazyfree / `bio` thread).
//!
//! A command runs while holding shard locks, so freeing a huge value inline (UNLINK of a big
//! value, FLUSHALL ASYNC of millions of keys) would stall every client of those shards. Such
//! things are handed to one background thread that drops them; the command only pays for a
//! channel send. FLUSHDB/FLUSHALL take whole tables out (an O(1) swap under the locks) and pass
//! them here; UNLINK passes entries whose free effort ([`free_effort`]) is above
//! [`LAZYFREE_THRESHOLD`] (below it, freeing inline is cheaper than the channel round trip, as in
//! Redis). INFO shows `lazyfree_pending_objects` / `lazyfreed_objects`.

use ferrokv_engine::Entry;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};

/// Something to drop on the background thread, with the number of objects it holds.
type Job = (Box<dyn Send>, u64);

static QUEUE: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

fn queue() -> Option<Sender<Job>> {
    let q = QUEUE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("ferrokv-lazyfree".into())
            .spawn(move || {
                while let Ok((obj, n)) = rx.recv() {
                    drop(obj);
                    PENDING.fetch_sub(n, Relaxed);
                    FREED.fetch_add(n, Relaxed);
                }
            });
        if let Err(e) = spawned {
            crate::log_warning!("Cannot start the lazyfree thread: {}", e);
        }
        Mutex::new(tx)
    });
    q.lock().ok().map(|s| s.clone())
}

/// Drops `obj` (holding `objects` keys or elements) on the background thread. Falls back to
/// dropping it right here if the thread could not be started.
pub fn free_later<T: Send + 'static>(obj: T, objects: u64) {
    PENDING.fetch_add(objects, Relaxed);
    let job: Job = (Box::new(obj), objects);
    match queue() {
        Some(tx) => {
            if let Err(mpsc::SendError((obj, n))) = tx.send(job) {
                drop(obj);
                PENDING.fetch_sub(n, Relaxed);
                FREED.fetch_add(n, Relaxed);
            }
        }
        None => {
            let (obj, n) = job;
            drop(obj);
            PENDING.fetch_sub(n, Relaxed);
            FREED.fetch_add(n, Relaxed);
        }
    }
}

/// Objects handed to the background thread and not freed yet (`lazyfree_pending_objects`).
pub fn pending() -> u64 {
    PENDING.load(Relaxed)
}

/// Objects freed by the background thread since start (`lazyfreed_objects`).
pub fn freed() -> u64 {
    FREED.load(Relaxed)
}

/// Drops one value on the background thread.
pub fn drop_later<T: Send + 'static>(v: T) {
    free_later(v, 1);
}

/// Effort above which a value is freed in the background (Redis's LAZYFREE_THRESHOLD is 64
/// allocations; here one unit is a 4 KiB page of a single block, so 256 KiB).
pub const LAZYFREE_THRESHOLD: usize = 64;

/// How costly freeing an entry is, in Redis's "allocations" unit: for the single-block string
/// entries their size in 4 KiB pages (a large block is returned to the OS page by page); for
/// collections the number of allocations their value holds.
pub fn free_effort(e: &Entry) -> usize {
    match e.value() {
        None => e.heap_size() / 4096 + 1,
        Some(_) => e.free_effort().max(e.heap_size() / 4096 + 1),
    }
}

/// Releases a removed entry: in the background when `lazy` and its free effort is above
/// [`LAZYFREE_THRESHOLD`], inline otherwise.
pub fn release(e: Entry, lazy: bool) {
    if lazy && free_effort(&e) > LAZYFREE_THRESHOLD {
        drop_later(e);
    } else {
        drop(e);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_freed_in_background() {
        let before = freed();
        free_later(vec![0u8; 1 << 20], 7);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while freed() < before + 7 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(freed() >= before + 7);
    }

    use std::sync::mpsc;

    struct Probe(mpsc::Sender<String>);

    impl Drop for Probe {
        fn drop(&mut self) {
            let name = std::thread::current().name().unwrap_or("").to_string();
            let _ = self.0.send(name);
        }
    }

    #[test]
    fn drop_later_frees_on_the_background_thread() {
        let (tx, rx) = mpsc::channel();
        let before = freed();
        drop_later(Probe(tx));
        let name = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(name, "ferrokv-lazyfree");
        // The counter is bumped right after the drop returns.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while freed() <= before && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(freed() > before);
    }

    #[test]
    fn small_entries_are_freed_inline_big_ones_are_not() {
        let small = Entry::new_string(b"k", b"v", None, 0);
        assert!(free_effort(&small) <= LAZYFREE_THRESHOLD);
        let big = Entry::new_string(b"k", &vec![b'x'; 1 << 20], None, 0);
        assert!(free_effort(&big) > LAZYFREE_THRESHOLD);
        release(small, true);
        release(big, true);
    }
}
