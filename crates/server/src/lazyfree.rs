//! Freeing big values off the hot path (Redis's lazyfree).
//!
//! A command runs while holding shard locks, so freeing a huge value inline (UNLINK of a big
//! collection, FLUSHALL ASYNC) would stall every client of those shards. Values whose release is
//! expensive are instead handed to one dedicated background thread that drops them; the command
//! only pays for a channel send.
//!
//! What counts as "expensive" is the value's free effort ([`free_effort`]): for the current
//! single-block string entries it is their size in 4 KiB pages (a large block is returned to the
//! OS page by page); collections will report their allocation count. Below
//! [`LAZYFREE_THRESHOLD`] the value is freed inline, as Redis does, because a channel round trip
//! costs more than a small `free`.

use ferrokv_engine::Entry;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

/// Effort above which a value is freed in the background (Redis's LAZYFREE_THRESHOLD is 64
/// allocations; here one unit is a 4 KiB page of a single block, so 256 KiB).
pub const LAZYFREE_THRESHOLD: usize = 64;

/// Objects handed to the background thread and not freed yet (INFO `lazyfree_pending_objects`).
static PENDING: AtomicU64 = AtomicU64::new(0);
/// Objects freed by the background thread since startup (INFO `lazyfreed_objects`).
static FREED: AtomicU64 = AtomicU64::new(0);

type Garbage = Box<dyn Send>;

fn sender() -> Option<&'static Sender<Garbage>> {
    static TX: OnceLock<Option<Sender<Garbage>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = channel::<Garbage>();
        let spawned = std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                while let Ok(g) = rx.recv() {
                    drop(g);
                    PENDING.fetch_sub(1, Relaxed);
                    FREED.fetch_add(1, Relaxed);
                }
            });
        spawned.ok().map(|_| tx)
    })
    .as_ref()
}

/// Drops `v` on the background thread (inline if the thread could not be started).
pub fn drop_later<T: Send + 'static>(v: T) {
    let Some(tx) = sender() else {
        drop(v);
        return;
    };
    PENDING.fetch_add(1, Relaxed);
    if let Err(e) = tx.send(Box::new(v)) {
        PENDING.fetch_sub(1, Relaxed);
        drop(e.0);
    }
}

/// How costly freeing an entry is, in Redis's "allocations" unit (see the module docs).
pub fn free_effort(e: &Entry) -> usize {
    e.heap_size() / 4096 + 1
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

/// Objects waiting for the background thread (INFO `lazyfree_pending_objects`).
pub fn pending_objects() -> u64 {
    PENDING.load(Relaxed)
}

/// Objects the background thread has freed (INFO `lazyfreed_objects`).
pub fn freed_objects() -> u64 {
    FREED.load(Relaxed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
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
        let before = freed_objects();
        drop_later(Probe(tx));
        let name = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(name, "lazyfree");
        // The counter is bumped right after the drop returns.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while freed_objects() <= before && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(freed_objects() > before);
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
