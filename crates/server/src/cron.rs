//! The periodic task (Redis's `serverCron`): runs `hz` times per second and does the active expiry
//! cycle within a CPU budget.

use crate::keyspace::SHARDS;
use crate::server::Server;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Share of each cron period the active expiry cycle may use (Redis: 25%).
const EXPIRE_TIME_PERCENT: u64 = 25;
/// Entries examined per shard visit.
const CHECKS_PER_VISIT: usize = 256;
/// Shard visits between two clock reads when the visits find nothing to examine.
const CLOCK_EVERY: usize = 32;

/// Runs until shutdown.
pub async fn run(srv: Arc<Server>) {
    srv.persist.attach(&srv);
    let mut cursor = 0usize;
    loop {
        let hz = srv.hot.hz.load(Relaxed).max(1);
        let period = Duration::from_micros(1_000_000 / hz);
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = srv.shutdown_signal() => return,
        }
        if srv.shutting_down.load(Relaxed) {
            return;
        }
        if srv.hot.pause_cron.load(Relaxed) {
            continue;
        }
        crate::cmd::info::cron_sample(&srv);
        crate::persist::cron_check(&srv);
        if srv.hot.active_expire.load(Relaxed) && !srv.pause.writes_paused() {
            let budget = period * EXPIRE_TIME_PERCENT as u32 / 100;
            if crate::disk::enabled(&srv) {
                crate::disk::active_expire(&srv, CHECKS_PER_VISIT);
                crate::disk::active_expire_fields(&srv);
            } else {
                cursor = active_expire_cycle(&srv, cursor, budget);
            }
        }
    }
}

/// One active expiry cycle: visits shards round-robin from `cursor` until the time budget is
/// spent or a whole round found few expired keys. Returns where the next cycle starts.
pub fn active_expire_cycle(srv: &Server, mut cursor: usize, budget: Duration) -> usize {
    let start = Instant::now();
    let total = srv.keyspace.db_count() * SHARDS;
    if total == 0 {
        return 0;
    }
    let mut round_checked = 0usize;
    let mut round_expired = 0usize;
    let mut visited = 0usize;
    // The clock is read again after a visit that examined keys, else every CLOCK_EVERY
    // visits: most shards hold no volatile key, and two clock reads per empty shard were
    // half of an idle server's CPU.
    let mut now = crate::util::now_ms();
    let mut stale = false;
    loop {
        // A full round starts: when no lock released since the last round started left a TTL
        // behind and that round found none either, there is nothing to visit (expired-key
        // logging drains records left by lazy expiry outside commands, so it always walks).
        if cursor == 0 && !srv.keyspace.take_expiry_work() && !crate::notify::expired_logging(srv) {
            crate::tracking::broadcast(srv);
            return 0;
        }
        let (db, shard) = (cursor / SHARDS % srv.keyspace.db_count(), cursor % SHARDS);
        cursor = (cursor + 1) % total;
        visited += 1;
        if stale {
            now = crate::util::now_ms();
            stale = false;
        }
        if let Some(mut s) = srv.keyspace.lock_one(db, shard) {
            let (c, e) = s.active_expire(now, CHECKS_PER_VISIT);
            // Hash fields with a TTL (Redis 7.4): reclaimed by their own bounded step.
            let mut hashes = Vec::new();
            s.active_expire_fields_into(now, CHECKS_PER_VISIT, &mut hashes);
            for (k, _) in &hashes {
                // Redis's signalModifiedKey, under the shard lock as every writer does.
                crate::watch::signal_modified_in(&srv.watches, db as u32, k);
                crate::tracking::invalidate_key(srv, None, k);
            }
            round_checked += c;
            round_expired += e;
            stale = c > 0 || !hashes.is_empty();
            let keys = if crate::notify::expired_logging(srv) {
                s.drain_expired()
            } else {
                Vec::new()
            };
            // Expired keys, and hashes emptied by field expiry, reach the AOF as DEL while the
            // shard is still locked (ordered against the commands that touch it).
            if crate::propagate::active(srv) && (!keys.is_empty() || !hashes.is_empty()) {
                let name = crate::propagate::expired_del_name(srv);
                let dels = keys
                    .iter()
                    .map(|k| &k[..])
                    .chain(hashes.iter().filter(|(_, gone)| *gone).map(|(k, _)| &k[..]))
                    .map(|k| crate::propagate::expired_effect(name, db as u32, k))
                    .collect();
                crate::propagate::feed_background(srv, dels);
            }
            drop(s);
            crate::notify::publish_expired(srv, db as u32, &keys);
            crate::notify::publish_hash_expired(srv, db as u32, &hashes);
        }
        crate::tracking::broadcast(srv);
        if !stale && !visited.is_multiple_of(CLOCK_EVERY) && !visited.is_multiple_of(total) {
            continue;
        }
        stale = true;
        if start.elapsed() >= budget {
            srv.stats.expired_time_cap_reached.fetch_add(1, Relaxed);
            return cursor;
        }
        if visited.is_multiple_of(total) {
            // A full round: continue only while more than 10% of examined keys were expired.
            if round_checked == 0 || round_expired * 10 <= round_checked {
                return cursor;
            }
            round_checked = 0;
            round_expired = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use ferrokv_engine::Entry;

    /// How many shards currently hold keys with a TTL (each locked in turn).
    fn volatile_shards(srv: &Server) -> usize {
        let mut n = 0;
        for db in 0..srv.keyspace.db_count() {
            srv.keyspace
                .for_each_shard(db, |_, s| n += usize::from(s.volatile_len() > 0));
        }
        n
    }

    /// One cycle from cursor 0 with an ample budget: a whole round (or none when idle).
    fn full_round(srv: &Server) {
        assert_eq!(active_expire_cycle(srv, 0, Duration::from_secs(30)), 0);
    }

    #[test]
    fn idle_cycle_skips_until_a_ttl_appears_and_still_reclaims_it() {
        let srv = Server::new(Config::defaults());
        // Nothing volatile: the cycle returns at once, without visiting a shard.
        assert!(!srv.keyspace.take_expiry_work());
        assert_eq!(active_expire_cycle(&srv, 0, Duration::from_secs(5)), 0);

        // A persistent key changes nothing.
        {
            let mut set = srv.keyspace.lock_key(3, b"plain");
            let shard = set.for_key(3, b"plain").expect("held");
            shard.insert(Entry::new_string(b"plain", b"v", None, 0), 0);
        }
        assert!(!srv.keyspace.take_expiry_work());

        // A key with a past TTL in db 5: releasing the lock flags the keyspace, the next
        // round visits the shards and reclaims it.
        {
            let mut set = srv.keyspace.lock_key(5, b"gone");
            let shard = set.for_key(5, b"gone").expect("held");
            shard.insert(Entry::new_string(b"gone", b"v", Some(1), 0), 0);
        }
        assert_eq!(volatile_shards(&srv), 1);
        full_round(&srv);
        assert_eq!(volatile_shards(&srv), 0);
        // The round that removed the last TTL left the flag clear: the idle state again.
        assert!(!srv.keyspace.take_expiry_work());

        // A TTL far in the future keeps the flag set round after round.
        {
            let mut s = srv.keyspace.lock_one(0, 9).expect("shard");
            s.insert(Entry::new_string(b"later", b"v", Some(i64::MAX / 2), 0), 0);
        }
        for _ in 0..3 {
            full_round(&srv);
            assert_eq!(volatile_shards(&srv), 1);
        }
        // Each round took the flag and set it again when it met the TTL.
        assert!(srv.keyspace.take_expiry_work());

        // Hash field TTLs count too (a hash tracked for field expiry, no key TTL).
        {
            let mut s = srv.keyspace.lock_one(0, 9).expect("shard");
            s.remove(b"later", 0);
            s.track_field_expiry(b"h");
        }
        assert!(srv.keyspace.take_expiry_work());
    }

    #[test]
    fn a_ttl_set_mid_round_behind_the_cursor_is_seen_next_round() {
        let srv = Server::new(Config::defaults());
        {
            let mut s = srv.keyspace.lock_one(0, 0).expect("shard");
            s.insert(Entry::new_string(b"a", b"v", Some(i64::MAX / 2), 0), 0);
        }
        // Start a round: it takes the flag and visits a few shards, then stops (no budget).
        let cursor = active_expire_cycle(&srv, 0, Duration::ZERO);
        assert_ne!(cursor, 0);
        // A TTL appears in a shard the round already passed.
        {
            let mut s = srv.keyspace.lock_one(0, 0).expect("shard");
            s.insert(Entry::new_string(b"b", b"v", Some(1), 0), 0);
        }
        // The rest of this round, then the next one up to the same point: shard 0 is visited
        // again (no skip at cursor 0) and the expired key reclaimed.
        assert_eq!(
            active_expire_cycle(&srv, cursor, Duration::from_secs(30)),
            cursor
        );
        let s = srv.keyspace.lock_one(0, 0).expect("shard");
        assert_eq!(
            s.volatile_len(),
            1,
            "the expired key was reclaimed, the other kept"
        );
    }
}
