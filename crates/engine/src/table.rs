//! A segmented (extendible) hash table of [`Entry`]s with cursors in hash order.
//!
//! The table is a directory of `2^depth` slots indexed by the top bits of a key's 64-bit hash,
//! pointing at segments; each segment is a small `hashbrown` table holding the keys whose hash
//! starts with the segment's prefix. A full segment splits in two on the next prefix bit (the
//! directory doubles when needed), so growth moves at most one segment's worth of entries at a
//! time: there is never a stop-the-world rehash of a huge table.
//!
//! Because a key's place in *hash order* never changes, SCAN can use the hash itself as its
//! cursor: a scan emits keys in increasing hash order, and a full iteration returns every key
//! present throughout, exactly once, however the table grows or shrinks meanwhile (Redis gives
//! "at least once"; this is stronger).

use crate::entry::Entry;
use hashbrown::HashTable;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// Scan positions are kept at this many bits of precision (the low bits of the 64-bit hash are
/// ignored), so that a position fits in a SCAN cursor next to a shard index; keys whose hashes
/// share the top `SCAN_POSITION_BITS` are always visited together.
pub const SCAN_POSITION_BITS: u32 = 48;
const SCAN_LOW_MASK: u64 = (1u64 << (64 - SCAN_POSITION_BITS)) - 1;

/// A segment splits when an insert would take it past this many entries.
/// hashbrown holds 896 entries in 1024 buckets, so segments stay between ~45% and ~88% full.
const SEGMENT_MAX: usize = 896;

/// The hasher shared by every table of the process (random seed: no hash flooding).
fn hasher() -> &'static foldhash::quality::FixedState {
    static STATE: OnceLock<foldhash::quality::FixedState> = OnceLock::new();
    STATE.get_or_init(|| {
        let seed = std::collections::hash_map::RandomState::new().hash_one(0x6b65_7973u64);
        foldhash::quality::FixedState::with_seed(seed)
    })
}

/// The 64-bit hash of a key, as used for table placement and scan order.
pub fn hash_key(key: &[u8]) -> u64 {
    let mut h = hasher().build_hasher();
    h.write(key);
    h.finish()
}

struct Segment {
    /// Number of leading hash bits all keys of this segment share.
    depth: u32,
    map: HashTable<Entry>,
    /// Entries of this segment with an expiry (so the expiry cycle can skip segments without any).
    volatile: usize,
}

impl Segment {
    fn new(depth: u32, cap: usize) -> Segment {
        Segment {
            depth,
            map: HashTable::with_capacity(cap),
            volatile: 0,
        }
    }
}

/// Result of [`Table::lookup_mut`].
pub enum Probe<'a> {
    /// The key exists and has not expired.
    Live(&'a mut Entry),
    /// The key had expired: it was removed, here is its entry.
    Expired(Entry),
    /// No such key.
    Missing,
}

/// What [`Table::modify_or_upsert`] did.
#[derive(Debug)]
pub enum Upsert {
    /// The existing entry was rewritten in place.
    Modified,
    /// The existing entry was replaced; here it is.
    Replaced(Entry),
    /// The key was absent and the new entry was added.
    Inserted,
}

/// The hash-ordered table of one shard.
pub struct Table {
    dir: Vec<u32>,
    depth: u32,
    segs: Vec<Segment>,
    len: usize,
    volatile: usize,
    /// Where the only segment's hash table lives, for prefetching (see [`Table::prefetch_hint`]).
    hint: u64,
}

/// Bits of a [`Table::prefetch_hint`] holding the control-byte address (x86_64 and aarch64
/// user-space addresses fit in 48 bits); the bits above hold log2 of the bucket count.
const HINT_ADDR_BITS: u32 = 56;
const HINT_ADDR_MASK: u64 = (1 << HINT_ADDR_BITS) - 1;

/// The hint of a hashbrown table whose bucket `index` is at `at`, or 0 (no hint).
///
/// hashbrown lays a table out as `[bucket n-1, ..., bucket 1, bucket 0 | control bytes]`: the
/// control byte of bucket `i` is at `ctrl + i` and the bucket at `ctrl - (i + 1) * size_of::<T>()`
/// (`RawTable::data_end` in its source). This is not public API, which is fine for what the
/// hint is used for: addresses handed to a prefetch instruction, never dereferenced, so a
/// different layout would only make the prefetch useless.
#[inline]
fn make_hint(at: *const Entry, index: usize, buckets: usize) -> u64 {
    let ctrl = (at as usize).wrapping_add((index + 1) * std::mem::size_of::<Entry>()) as u64;
    if ctrl & !HINT_ADDR_MASK != 0 || !buckets.is_power_of_two() {
        return 0;
    }
    ctrl | (u64::from(buckets.trailing_zeros()) << HINT_ADDR_BITS)
}

/// For a [`Table::prefetch_hint`] and a key's [`hash_key`]: the address of the first control
/// byte the key's probe reads and of the bucket it starts at (the key itself usually sits in
/// that bucket or one of the next few, at lower addresses). `None` for a zero hint. The
/// addresses are only good for prefetching: the table may have changed since the hint was
/// taken.
#[inline]
pub fn hint_addresses(hint: u64, hash: u64) -> Option<(usize, usize)> {
    let shift = hint >> HINT_ADDR_BITS;
    if hint == 0 || shift >= 64 {
        return None;
    }
    let ctrl = (hint & HINT_ADDR_MASK) as usize;
    // hashbrown's first probe position: the low bits of the hash (`h1`) masked to the table.
    let pos = (hash as usize) & ((1usize << shift) - 1);
    let bucket = ctrl.wrapping_sub((pos + 1) * std::mem::size_of::<Entry>());
    Some((ctrl.wrapping_add(pos), bucket))
}

impl Default for Table {
    fn default() -> Self {
        Self::new()
    }
}

fn dir_index(hash: u64, depth: u32) -> usize {
    if depth == 0 {
        0
    } else {
        (hash >> (64 - depth)) as usize
    }
}

impl Table {
    /// An empty table (one empty segment, no allocation for entries yet).
    pub fn new() -> Table {
        Table {
            dir: vec![0],
            depth: 0,
            segs: vec![Segment::new(0, 0)],
            len: 0,
            volatile: 0,
            hint: 0,
        }
    }

    /// Where this table's keys live, for a prefetch ahead of a lookup ([`hint_addresses`]):
    /// taken by the last lookup that found a key (GET, SET, ... on an existing key) while the
    /// table had one segment, 0 when there is none. It may be stale (the table grew since),
    /// which only makes a prefetch miss.
    pub fn prefetch_hint(&self) -> u64 {
        self.hint
    }

    /// The address of the header of the segment `hash` falls in (its hash table's pointer and
    /// size), for a prefetch; it moves only when the directory grows.
    pub fn segment_addr(&self, hash: u64) -> usize {
        self.segs.as_ptr().wrapping_add(self.seg_of(hash)) as usize
    }

    /// The block address of the entry a key with this hash most likely has ([`Entry::block_addr`]), for a
    /// prefetch ahead of the lookup: the first bucket of the key's probe whose 7-bit hash tag
    /// matches, found from the control bytes and the bucket alone, without reading any entry
    /// (a tag collision gives another key's block, a missing key usually none).
    /// `hash` is the key's [`hash_key`].
    pub fn entry_addr(&self, hash: u64) -> Option<usize> {
        let h = hash;
        let seg = self.segs.get(self.seg_of(h))?;
        seg.map.iter_hash(h).next().map(Entry::block_addr)
    }

    /// Records the hint from a found bucket of the segment `seg` (see [`make_hint`]); only a
    /// single-segment table has one.
    #[inline]
    fn note_found(&mut self, at: *const Entry, index: usize, buckets: usize) {
        self.hint = if self.depth == 0 {
            make_hint(at, index, buckets)
        } else {
            0
        };
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of keys with an expiry.
    pub fn volatile_len(&self) -> usize {
        self.volatile
    }

    fn seg_of(&self, hash: u64) -> usize {
        self.dir
            .get(dir_index(hash, self.depth))
            .copied()
            .unwrap_or(0) as usize
    }

    /// Looks a key up.
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        let h = hash_key(key);
        let seg = self.segs.get(self.seg_of(h))?;
        seg.map.find(h, |e| e.key() == key)
    }

    /// Looks a key up for modification in place (the key and expiry must not change through it).
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let h = hash_key(key);
        let s = self.seg_of(h);
        let seg = self.segs.get_mut(s)?;
        seg.map.find_mut(h, |e| e.key() == key)
    }

    /// Looks a key up for modification with a single hash and probe; an expired key is removed
    /// on the way and handed back as [`Probe::Expired`].
    pub fn lookup_mut(&mut self, key: &[u8], now_ms: i64) -> Probe<'_> {
        let h = hash_key(key);
        let s = self.seg_of(h);
        let Some(seg) = self.segs.get_mut(s) else {
            return Probe::Missing;
        };
        let buckets = seg.map.num_buckets();
        match seg.map.find_entry(h, |e| e.key() == key) {
            Err(_) => Probe::Missing,
            Ok(found) if found.get().is_expired(now_ms) => {
                let (old, _) = found.remove();
                seg.volatile -= 1;
                self.volatile -= 1;
                self.len -= 1;
                Probe::Expired(old)
            }
            Ok(found) => {
                let index = found.bucket_index();
                let e = found.into_mut();
                let at: *const Entry = e;
                self.hint = if self.depth == 0 {
                    make_hint(at, index, buckets)
                } else {
                    0
                };
                Probe::Live(e)
            }
        }
    }

    /// The live entry of `key`, or a new one from `make` when the key is missing or expired,
    /// with one hash and one probe (a second probe only when the key's segment is full and must
    /// split first). Returns the entry and what was there: [`Probe::Live`] is never returned;
    /// `Probe::Expired(old)` when an expired entry was replaced, `Probe::Missing` when the key
    /// was absent. `None` (which a well-formed table never returns) when there is no segment.
    pub fn get_or_insert_with(
        &mut self,
        key: &[u8],
        now_ms: i64,
        make: impl FnOnce() -> Entry,
    ) -> Option<(&mut Entry, Option<Probe<'static>>)> {
        use hashbrown::hash_table::Entry as Slot;
        let h = hash_key(key);
        let mut s = self.seg_of(h);
        let full = self.segs.get(s)?.map.len() >= SEGMENT_MAX;
        if full && self.segs.get(s)?.map.find(h, |e| e.key() == key).is_none() {
            self.split(s);
            s = self.seg_of(h);
        }
        let seg = self.segs.get_mut(s)?;
        match seg.map.entry(h, |e| e.key() == key, |e| hash_key(e.key())) {
            Slot::Occupied(o) if !o.get().is_expired(now_ms) => Some((o.into_mut(), None)),
            Slot::Occupied(mut o) => {
                let entry = make();
                let new_volatile = entry.expire_at().is_some();
                let old = std::mem::replace(o.get_mut(), entry);
                match (old.expire_at().is_some(), new_volatile) {
                    (false, true) => {
                        seg.volatile += 1;
                        self.volatile += 1;
                    }
                    (true, false) => {
                        seg.volatile -= 1;
                        self.volatile -= 1;
                    }
                    _ => {}
                }
                Some((o.into_mut(), Some(Probe::Expired(old))))
            }
            Slot::Vacant(v) => {
                let entry = make();
                if entry.expire_at().is_some() {
                    seg.volatile += 1;
                    self.volatile += 1;
                }
                self.len += 1;
                Some((v.insert(entry).into_mut(), Some(Probe::Missing)))
            }
        }
    }

    /// Inserts or replaces the entry for its key; returns the previous one.
    pub fn insert(&mut self, entry: Entry) -> Option<Entry> {
        let h = hash_key(entry.key());
        let mut s = self.seg_of(h);
        let new_volatile = entry.expire_at().is_some();
        {
            let seg = self.segs.get_mut(s)?;
            if let Some(slot) = seg.map.find_mut(h, |e| e.key() == entry.key()) {
                let old = std::mem::replace(slot, entry);
                count_volatile_change(seg, &mut self.volatile, &old, new_volatile);
                return Some(old);
            }
        }
        if self
            .segs
            .get(s)
            .is_some_and(|seg| seg.map.len() >= SEGMENT_MAX)
        {
            self.split(s);
            s = self.seg_of(h);
        }
        let seg = self.segs.get_mut(s)?;
        seg.map.insert_unique(h, entry, |e| hash_key(e.key()));
        if new_volatile {
            seg.volatile += 1;
            self.volatile += 1;
        }
        self.len += 1;
        None
    }

    /// Inserts or replaces the entry of `key` with one hash computation: `make` receives the
    /// current entry (if any, expired or not) and builds the new one, which must have the same
    /// key. Returns the replaced entry.
    pub fn upsert(
        &mut self,
        key: &[u8],
        make: impl FnOnce(Option<&Entry>) -> Entry,
    ) -> Option<Entry> {
        match self.modify_or_upsert(key, |_| false, make) {
            Upsert::Replaced(old) => Some(old),
            Upsert::Modified | Upsert::Inserted => None,
        }
    }

    /// [`Table::upsert`] that first offers the existing entry to `in_place`, with the same
    /// single lookup: when `in_place` returns true it has rewritten the entry where it is
    /// (it must not change whether the entry has an expiry) and `make` is not called.
    pub fn modify_or_upsert(
        &mut self,
        key: &[u8],
        in_place: impl FnOnce(&mut Entry) -> bool,
        make: impl FnOnce(Option<&Entry>) -> Entry,
    ) -> Upsert {
        let h = hash_key(key);
        let mut s = self.seg_of(h);
        if let Some(seg) = self.segs.get_mut(s) {
            let buckets = seg.map.num_buckets();
            if let Ok(mut found) = seg.map.find_entry(h, |e| e.key() == key) {
                let at: *const Entry = found.get();
                let index = found.bucket_index();
                let slot = found.get_mut();
                let outcome = if in_place(slot) {
                    Upsert::Modified
                } else {
                    let entry = make(Some(slot));
                    let new_volatile = entry.expire_at().is_some();
                    let old = std::mem::replace(slot, entry);
                    count_volatile_change(seg, &mut self.volatile, &old, new_volatile);
                    Upsert::Replaced(old)
                };
                self.note_found(at, index, buckets);
                return outcome;
            }
            if seg.map.len() >= SEGMENT_MAX {
                self.split(s);
                s = self.seg_of(h);
            }
        }
        let entry = make(None);
        let volatile = entry.expire_at().is_some();
        let Some(seg) = self.segs.get_mut(s) else {
            return Upsert::Inserted;
        };
        seg.map.insert_unique(h, entry, |e| hash_key(e.key()));
        if volatile {
            seg.volatile += 1;
            self.volatile += 1;
        }
        self.len += 1;
        Upsert::Inserted
    }

    /// Removes a key; returns its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let h = hash_key(key);
        let s = self.seg_of(h);
        let seg = self.segs.get_mut(s)?;
        let found = seg.map.find_entry(h, |e| e.key() == key).ok()?;
        let (old, _) = found.remove();
        if old.expire_at().is_some() {
            seg.volatile -= 1;
            self.volatile -= 1;
        }
        self.len -= 1;
        if seg.map.capacity() > 64 && seg.map.len() * 8 < seg.map.capacity() {
            seg.map.shrink_to(seg.map.len() * 2, |e| hash_key(e.key()));
        }
        Some(old)
    }

    /// Splits segment `s` on its next prefix bit, doubling the directory if needed.
    fn split(&mut self, s: usize) {
        let Some(old_depth) = self.segs.get(s).map(|x| x.depth) else {
            return;
        };
        if old_depth >= 63 {
            return; // cannot happen with a sane hash; keep growing the segment instead
        }
        if old_depth == self.depth {
            // Double the directory: each slot i becomes slots 2i and 2i+1.
            let mut nd = Vec::with_capacity(self.dir.len() * 2);
            for &x in &self.dir {
                nd.push(x);
                nd.push(x);
            }
            self.dir = nd;
            self.depth += 1;
        }
        let new_depth = old_depth + 1;
        let bit = 1u64 << (63 - old_depth);
        let new_idx = self.segs.len() as u32;
        let Some(seg) = self.segs.get_mut(s) else {
            return;
        };
        let old_map = std::mem::replace(&mut seg.map, HashTable::new());
        let half = old_map.len() / 2 + 1;
        let mut low = Segment::new(new_depth, half);
        let mut high = Segment::new(new_depth, half);
        for e in old_map {
            let h = hash_key(e.key());
            let target = if h & bit == 0 { &mut low } else { &mut high };
            if e.expire_at().is_some() {
                target.volatile += 1;
            }
            target.map.insert_unique(h, e, |x| hash_key(x.key()));
        }
        *seg = low;
        self.segs.push(high);
        // Directory slots of the old segment whose next bit is 1 now point at the new segment.
        let shift = self.depth - new_depth;
        for (i, slot) in self.dir.iter_mut().enumerate() {
            if *slot as usize == s && (i >> shift) & 1 == 1 {
                *slot = new_idx;
            }
        }
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        *self = Table::new();
    }

    /// Iterates over all entries (unordered).
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.segs.iter().flat_map(|s| s.map.iter())
    }

    /// Visits entries in hash order starting at hash `from`, stopping after `budget` entries
    /// have been visited (all entries sharing the last visited position, see
    /// [`SCAN_POSITION_BITS`], are included). Returns the hash to continue from (a multiple of
    /// the position granularity), or `None` when the end of the table was reached.
    pub fn scan_from(
        &self,
        mut from: u64,
        budget: usize,
        mut visit: impl FnMut(&Entry),
    ) -> Option<u64> {
        from &= !SCAN_LOW_MASK;
        let mut seen = 0usize;
        let mut batch: Vec<(u64, &Entry)> = Vec::new();
        loop {
            let di = dir_index(from, self.depth);
            let s = self.dir.get(di).copied()? as usize;
            let seg = self.segs.get(s)?;
            // The hash range this segment covers: its prefix, then all ones.
            let range_end = seg_range_end(from, seg.depth);
            batch.clear();
            batch.extend(seg.map.iter().filter_map(|e| {
                let h = hash_key(e.key());
                (h >= from).then_some((h, e))
            }));
            let want = budget.saturating_sub(seen);
            if batch.len() > want {
                // Only the `want` smallest hashes are needed, plus ties with the last one.
                batch.select_nth_unstable_by_key(want.saturating_sub(1), |x| x.0);
                let cut = batch
                    .get(want.saturating_sub(1))
                    .map(|x| x.0)
                    .unwrap_or(u64::MAX)
                    | SCAN_LOW_MASK;
                batch.retain(|x| x.0 <= cut);
                batch.sort_unstable_by_key(|x| x.0);
                for (_, e) in &batch {
                    visit(e);
                }
                return cut.checked_add(1);
            }
            batch.sort_unstable_by_key(|x| x.0);
            seen += batch.len();
            for (_, e) in &batch {
                visit(e);
            }
            match range_end.checked_add(1) {
                None => return None,
                Some(next) => from = next,
            }
            if seen >= budget {
                return Some(from);
            }
        }
    }

    /// The entries of segment `s` (for the active expiry cycle, which walks segments in turn).
    pub fn segment_entries(&self, s: usize) -> Option<(usize, impl Iterator<Item = &Entry>)> {
        let seg = self.segs.get(s)?;
        Some((seg.volatile, seg.map.iter()))
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segs.len()
    }

    /// The `n`-th entry of the table in segment order (for RANDOMKEY); `n < len()`.
    pub fn nth(&self, mut n: usize) -> Option<&Entry> {
        for seg in &self.segs {
            if n < seg.map.len() {
                return seg.map.iter().nth(n);
            }
            n -= seg.map.len();
        }
        None
    }

    /// Approximate bytes used by the table's slots and control bytes (not the entries' blocks).
    pub fn overhead_bytes(&self) -> usize {
        let slot = std::mem::size_of::<Entry>() + 1;
        self.segs
            .iter()
            .map(|s| s.map.capacity() * slot)
            .sum::<usize>()
            + self.dir.len() * 4
    }
}

/// Keeps the volatile counters right when `old` was replaced in `seg` by an entry that has an
/// expiry (`new_volatile`) or not.
fn count_volatile_change(seg: &mut Segment, total: &mut usize, old: &Entry, new_volatile: bool) {
    match (old.expire_at().is_some(), new_volatile) {
        (false, true) => {
            seg.volatile += 1;
            *total += 1;
        }
        (true, false) => {
            seg.volatile -= 1;
            *total -= 1;
        }
        _ => {}
    }
}

/// The last hash covered by the segment of depth `depth` that contains `h`.
fn seg_range_end(h: u64, depth: u32) -> u64 {
    if depth == 0 {
        u64::MAX
    } else {
        h | (u64::MAX >> depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(k: &str) -> Entry {
        Entry::new_string(k.as_bytes(), b"v", None, 0)
    }

    /// The hint a found key leaves points its probe at that key's control byte and bucket:
    /// the bucket address from [`hint_addresses`] is the entry's own slot, or a few slots
    /// before it when the key sits past its home position.
    #[test]
    fn prefetch_hint_points_at_the_found_bucket() {
        let mut t = Table::new();
        assert_eq!(t.prefetch_hint(), 0);
        assert_eq!(hint_addresses(0, 12345), None);
        let n = 600;
        for i in 0..n {
            t.insert(e(&format!("key:{i}")));
        }
        let (mut exact, mut near) = (0, 0);
        for i in 0..n {
            let k = format!("key:{i}");
            let at = match t.lookup_mut(k.as_bytes(), 0) {
                Probe::Live(found) => found as *const Entry as usize,
                _ => panic!("{k} missing"),
            };
            let hint = t.prefetch_hint();
            assert_ne!(hint, 0, "a one-segment table has a hint after a hit");
            let (ctrl, bucket) = hint_addresses(hint, hash_key(k.as_bytes())).unwrap_or_default();
            // The control bytes follow bucket 0; the home bucket is below them.
            assert!(bucket < ctrl, "{k}");
            exact += usize::from(at == bucket);
            // At most one group (16 buckets) away, at lower addresses, or wrapped around.
            near += usize::from(at <= bucket && bucket - at < 16 * 16);
        }
        assert!(
            exact * 2 > n,
            "only {exact} of {n} keys at their home bucket"
        );
        assert!(near * 10 > n * 9, "only {near} of {n} keys within a group");
        // A write through `upsert` on an existing key leaves the same kind of hint.
        t.upsert(b"key:7", |_| e("key:7"));
        let (_, bucket) = hint_addresses(t.prefetch_hint(), hash_key(b"key:7")).unwrap_or_default();
        let at = t.get(b"key:7").map_or(0, |x| x as *const Entry as usize);
        assert!(at <= bucket && bucket - at < 16 * 16);
        // A table that has split gives no hint.
        for i in n..5_000 {
            t.insert(e(&format!("key:{i}")));
        }
        assert!(matches!(t.lookup_mut(b"key:1", 0), Probe::Live(_)));
        assert_eq!(t.prefetch_hint(), 0);
    }

    #[test]
    fn insert_get_remove_across_splits() {
        let mut t = Table::new();
        for i in 0..20_000 {
            assert!(t.insert(e(&format!("key:{i}"))).is_none());
        }
        assert_eq!(t.len(), 20_000);
        assert!(t.segment_count() > 16);
        for i in 0..20_000 {
            assert!(t.get(format!("key:{i}").as_bytes()).is_some(), "{i}");
        }
        assert!(t.insert(e("key:5")).is_some());
        assert_eq!(t.len(), 20_000);
        for i in (0..20_000).step_by(2) {
            assert!(t.remove(format!("key:{i}").as_bytes()).is_some());
        }
        assert_eq!(t.len(), 10_000);
        assert!(t.get(b"key:4").is_none());
        assert!(t.get(b"key:5").is_some());
    }

    #[test]
    fn volatile_counts_track_inserts_and_removes() {
        let mut t = Table::new();
        for i in 0..3000 {
            let exp = (i % 3 == 0).then_some(1000);
            t.insert(Entry::new_string(format!("k{i}").as_bytes(), b"v", exp, 0));
        }
        assert_eq!(t.volatile_len(), 1000);
        t.insert(Entry::new_string(b"k0", b"v", None, 0));
        assert_eq!(t.volatile_len(), 999);
        t.remove(b"k3");
        assert_eq!(t.volatile_len(), 998);
        let per_seg: usize = (0..t.segment_count())
            .filter_map(|s| t.segment_entries(s).map(|x| x.0))
            .sum();
        assert_eq!(per_seg, 998);
    }

    #[test]
    fn scan_returns_each_key_once_while_table_grows() {
        let mut t = Table::new();
        for i in 0..1000 {
            t.insert(e(&format!("a{i}")));
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = Some(0u64);
        let mut added = 0;
        while let Some(c) = cursor {
            let mut got = Vec::new();
            cursor = t.scan_from(c, 10, |x| got.push(x.key().to_vec()));
            for k in got {
                assert!(seen.insert(k), "duplicate key from scan");
            }
            // Grow the table during the iteration, forcing splits.
            for _ in 0..30 {
                t.insert(e(&format!("b{added}")));
                added += 1;
            }
        }
        for i in 0..1000 {
            assert!(seen.contains(format!("a{i}").as_bytes()), "a{i} missed");
        }
    }

    #[test]
    fn nth_reaches_every_entry() {
        let mut t = Table::new();
        for i in 0..2000 {
            t.insert(e(&format!("k{i}")));
        }
        let mut all = std::collections::HashSet::new();
        for n in 0..t.len() {
            all.insert(t.nth(n).map(|x| x.key().to_vec()));
        }
        assert_eq!(all.len(), 2000);
        assert!(t.nth(2000).is_none());
    }
}

#[cfg(test)]
mod size_probe {
    use super::*;

    #[test]
    #[ignore = "prints table overhead; run by hand"]
    fn print_overhead_per_key() {
        let mut t = Table::new();
        for i in 0..1_000_000u64 {
            t.insert(Entry::new_string(
                format!("key:{i:012}").as_bytes(),
                &[b'x'; 16],
                None,
                0,
            ));
        }
        let slots: usize = t.segs.iter().map(|s| s.map.capacity()).sum();
        println!(
            "segments {} slots(cap) {} overhead/key {:.1} entry {}",
            t.segs.len(),
            slots,
            t.overhead_bytes() as f64 / t.len() as f64,
            t.get(b"key:000000000001")
                .map(|e| e.heap_size())
                .unwrap_or(0)
        );
    }
}
