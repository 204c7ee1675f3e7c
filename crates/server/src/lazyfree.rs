//! Freeing big things off the hot path (Redis's lazyfree / `bio` thread).
//!
//! FLUSHALL ASYNC, FLUSHDB ASYNC (and large synchronous flushes) take the shards' tables out
//! while holding the locks — an O(1) swap — and hand them to one background thread that drops
//! them. Clients never wait for the deallocation of millions of keys, and the pending count is
//! visible as INFO's `lazyfree_pending_objects` / `lazyfreed_objects`.

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

#[cfg(test)]
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
}
