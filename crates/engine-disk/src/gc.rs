//! Garbage collection of stale subkey records through fjall's compaction filters.
//!
//! A `data` or `zscore` record is stale when the metadata record of its key is gone, belongs to a
//! different incarnation (version mismatch, e.g. after DEL + re-create or after the key was
//! overwritten by another type), or expired more than [`EXPIRY_GRACE_MS`] ago. Such records are
//! never deleted in the foreground: the filter drops them whenever fjall compacts the table that
//! holds them. An `expire` index record is dropped when the key no longer carries that deadline.
//!
//! The same filters meter compaction for the rate limit (module `ratelimit`): every record a
//! merging compaction writes passes through one, in every keyspace (`sys` gets a keep-all
//! filter for that purpose alone).
//!
//! Two guards keep the filter from dropping records that somebody can still see:
//! - while any engine snapshot is open, the filter keeps everything (fjall's filter sees only the
//!   newest version of a record, not which snapshots still need it);
//! - a record whose version is at or above the "version floor" taken when the compaction started
//!   is kept: its key may be in a write batch whose metadata is not published yet.

use crate::codec::{self, Meta};
use crate::dbs::DbMap;
use crate::ratelimit::{CompactionLimiter, Meter};
use fjall::compaction::filter::{CompactionFilter, Context, Factory, ItemAccessor, Verdict};
use fjall::Keyspace;
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// A key counts as gone for GC purposes only this long after its deadline, so that a command
/// running with a slightly older cached clock never finds its records dropped under it.
pub const EXPIRY_GRACE_MS: i64 = 60_000;

/// State shared by the engine and the compaction filters.
pub(crate) struct GcShared {
    /// The `meta` keyspace, set once the database is open and cleared when the engine is
    /// dropped (the database holds this struct through its filter factories: the handle must
    /// not outlive the engine or the database would never close).
    pub meta: RwLock<Option<Keyspace>>,
    /// Next version to hand out.
    pub next_version: AtomicU64,
    /// Versions handed out whose batch is not committed yet (version -> refcount).
    pub inflight: Mutex<BTreeMap<u64, u32>>,
    /// Open engine snapshots.
    pub snapshots: AtomicUsize,
    /// Records dropped by the filters since open (stats).
    pub dropped: AtomicU64,
    /// Element records made unreachable since open (stats).
    pub orphaned: AtomicU64,
    /// Databases flushed since open (stats).
    pub flushed: AtomicU64,
    /// The logical → physical database table (module `dbs`).
    pub dbmap: RwLock<DbMap>,
    /// Paces compaction (`disk-compaction-rate`).
    pub limiter: CompactionLimiter,
}

impl GcShared {
    pub fn new() -> GcShared {
        GcShared {
            meta: RwLock::new(None),
            next_version: AtomicU64::new(1),
            inflight: Mutex::new(BTreeMap::new()),
            snapshots: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            orphaned: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            dbmap: RwLock::new(DbMap::new()),
            limiter: CompactionLimiter::new(0),
        }
    }

    /// Marks version `v` as no longer in flight (its batch was committed or abandoned).
    pub fn release_version(&self, v: u64) {
        let mut inflight = self.inflight.lock();
        if let Some(c) = inflight.get_mut(&v) {
            *c -= 1;
            if *c == 0 {
                inflight.remove(&v);
            }
        }
    }

    /// Lowest version that may belong to an unpublished batch.
    fn version_floor(&self) -> u64 {
        let next = self.next_version.load(Ordering::SeqCst);
        let inflight = self.inflight.lock();
        inflight
            .keys()
            .next()
            .copied()
            .map_or(next, |m| m.min(next))
    }
}

/// Which keyspace a filter works on.
#[derive(Clone, Copy)]
pub(crate) enum Space {
    /// `meta`: only records of dead physical databases are dropped.
    Meta,
    /// `data` and `zscore`: versioned subkey records.
    Sub,
    /// `expire`: deadline index.
    Expire,
    /// `sys`: nothing is ever dropped; the filter only meters the compaction.
    Sys,
}

pub(crate) struct GcFactory {
    pub shared: AssertUnwindSafe<Arc<GcShared>>,
    pub space: Space,
}

impl Factory for GcFactory {
    fn name(&self) -> &str {
        match self.space {
            Space::Meta => "ferrokv-meta-gc",
            Space::Sub => "ferrokv-subkey-gc",
            Space::Expire => "ferrokv-expire-gc",
            Space::Sys => "ferrokv-sys-meter",
        }
    }

    fn make_filter(&self, _ctx: &Context) -> Box<dyn CompactionFilter> {
        let keep_all = self.shared.snapshots.load(Ordering::SeqCst) > 0;
        let floor = self.shared.version_floor();
        Box::new(GcFilter {
            shared: Arc::clone(&self.shared),
            meta: self.shared.meta.read().clone(),
            space: self.space,
            keep_all,
            dbmap: self.shared.dbmap.read().clone(),
            floor,
            now: now_ms(),
            last: None,
            meter: Meter::new(),
        })
    }
}

struct GcFilter {
    shared: Arc<GcShared>,
    meta: Option<Keyspace>,
    space: Space,
    keep_all: bool,
    /// The database table when the compaction began: records under dead physical ids go.
    dbmap: DbMap,
    floor: u64,
    now: i64,
    /// Cache of the last meta lookup (records of one key are adjacent): (meta key, live version).
    last: Option<(Vec<u8>, Option<u64>)>,
    /// Bytes passed since the last charge to the compaction rate limiter.
    meter: Meter,
}

impl GcFilter {
    /// Version of the live incarnation of `(db, key)`, `None` if gone or long expired.
    fn live_version(&mut self, db: u32, key: &[u8]) -> fjall::Result<Option<u64>> {
        let mk = codec::meta_key(db, key);
        if let Some((k, v)) = &self.last {
            if *k == mk {
                return Ok(*v);
            }
        }
        let Some(meta) = &self.meta else {
            return Ok(Some(u64::MAX));
        };
        let v = match meta.get(&mk)? {
            None => None,
            Some(raw) => match Meta::peek_version(&raw) {
                None => Some(u64::MAX),
                Some((_, Some(at), _)) if at.saturating_add(EXPIRY_GRACE_MS) < self.now => None,
                Some((_, _, version)) => Some(version),
            },
        };
        self.last = Some((mk, v));
        Ok(v)
    }

    fn drop_verdict(&self, ctx: &Context) -> Verdict {
        self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        if ctx.is_last_level {
            // Nothing older lies below the last level: no tombstone needed.
            Verdict::Destroy
        } else {
            Verdict::Remove
        }
    }
}

impl CompactionFilter for GcFilter {
    fn filter_item(
        &mut self,
        item: ItemAccessor<'_>,
        ctx: &Context,
    ) -> fjall::compaction::filter::CompactionFilterResult {
        let key = item.key();
        // The value is an in-memory slice here (no key-value separation): cheap to look at.
        let vlen = item.value().map_or(0, |v| v.len());
        self.meter
            .record(&self.shared.limiter, (key.len() + vlen) as u64);
        if self.keep_all || matches!(self.space, Space::Sys) {
            return Ok(Verdict::Keep);
        }
        let Some((pdb, _)) = codec::get_pdb(key) else {
            return Ok(Verdict::Keep);
        };
        if !self.dbmap.maybe_live(pdb) {
            // A flushed (or swapped-out and flushed) physical database.
            return Ok(self.drop_verdict(ctx));
        }
        match self.space {
            Space::Meta | Space::Sys => Ok(Verdict::Keep),
            Space::Sub => {
                let Some((db, user_key, version)) = codec::split_sub_key(key) else {
                    return Ok(Verdict::Keep);
                };
                if version >= self.floor {
                    return Ok(Verdict::Keep);
                }
                match self.live_version(db, user_key) {
                    Ok(Some(v)) if v == version || v == u64::MAX => Ok(Verdict::Keep),
                    Ok(_) => Ok(self.drop_verdict(ctx)),
                    Err(_) => Ok(Verdict::Keep),
                }
            }
            Space::Expire => {
                let Some((db, at, user_key)) = codec::split_expire_key(key) else {
                    return Ok(Verdict::Keep);
                };
                let Some(meta) = &self.meta else {
                    return Ok(Verdict::Keep);
                };
                match meta.get(codec::meta_key(db, user_key)) {
                    Ok(Some(raw)) => match Meta::peek_version(&raw) {
                        Some((_, exp, _)) if exp != Some(at) => Ok(self.drop_verdict(ctx)),
                        _ => Ok(Verdict::Keep),
                    },
                    // The key is gone: its index entry is dead (a re-created key writes a new
                    // entry in the same batch that creates it).
                    Ok(None) => Ok(self.drop_verdict(ctx)),
                    Err(_) => Ok(Verdict::Keep),
                }
            }
        }
    }

    fn finish(mut self: Box<Self>) {
        self.meter.finish(&self.shared.limiter);
    }
}

/// Wall clock in unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
