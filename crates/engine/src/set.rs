//! Sets, with Redis 7.2's three encodings and its conversion rules.
//!
//! - `intset`: a sorted array of integers (members that read as an i64 by `string2ll` rules),
//!   stored at the smallest width (16, 32 or 64 bits) that holds every member, as Redis's
//!   intset does; SMEMBERS lists them in ascending order.
//! - `listpack`: a [`Packed`] sequence in insertion order, for small sets with non-integer
//!   members (at most `set-max-listpack-entries` members of at most `set-max-listpack-value`
//!   bytes).
//! - `hashtable`: a segmented hash table (members packed in per-segment arenas: no allocation
//!   per member) whose iteration by SSCAN is in hash order, so a cursor stays valid while the
//!   set grows or shrinks.
//!
//! Conversions happen where Redis makes them (`setTypeCreate`, `setTypeMaybeConvert`,
//! `setTypeAdd`, `maybeConvertToIntset`); an encoding never goes back to a smaller one except
//! through [`Set::maybe_to_intset`] (SINTERSTORE) or a rebuilt value (SPOP with a count).

use crate::entry::parse_i64_strict;
use crate::packed::Packed;
use crate::table::hash_key;
use crate::value::EncodingLimits;
use hashbrown::HashTable;

/// Redis caps the intset size limit at 2^30 entries (`intsetMaxEntries`).
const INTSET_HARD_MAX: usize = 1 << 30;

/// A hashtable segment splits when an insert would take it past this many members.
const SEGMENT_MAX: usize = 896;

/// SPOP with a count rebuilds the set from the members that stay when fewer than
/// count / SPOP_MOVE_STRATEGY_MUL would remain (Redis's constant).
const SPOP_MOVE_STRATEGY_MUL: usize = 5;

/// SRANDMEMBER with a positive count copies the set and removes members when the count is
/// more than size / SRANDMEMBER_SUB_STRATEGY_MUL (Redis's constant).
const SRANDMEMBER_SUB_STRATEGY_MUL: usize = 3;

fn intset_max(lim: &EncodingLimits) -> usize {
    lim.set_max_intset_entries.min(INTSET_HARD_MAX)
}

/// Decimal text of an integer into a stack buffer (members of an intset are given as text).
struct IntText {
    buf: [u8; 20],
    start: usize,
}

impl IntText {
    fn new(v: i64) -> IntText {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        let neg = v < 0;
        let mut u = v.unsigned_abs();
        loop {
            i -= 1;
            if let Some(b) = buf.get_mut(i) {
                *b = b'0' + (u % 10) as u8;
            }
            u /= 10;
            if u == 0 {
                break;
            }
        }
        if neg {
            i -= 1;
            if let Some(b) = buf.get_mut(i) {
                *b = b'-';
            }
        }
        IntText { buf, start: i }
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or(&[])
    }
}

/// Number of characters of the decimal text of `v` (Redis's `sdigits10`, sign included).
fn digits10(v: i64) -> usize {
    IntText::new(v).as_bytes().len()
}

/// A small deterministic generator (splitmix64) for random member selection, seeded by the
/// caller (the server seeds it from the client's generator once per command).
#[derive(Clone, Debug)]
pub struct SetRng(u64);

impl SetRng {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> SetRng {
        SetRng(seed)
    }

    /// 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform number in `0..n` (`n > 0`; 0 when `n == 0`).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        // Lemire's multiply-shift: unbiased enough for n far below 2^64.
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// Picks `k` distinct positions out of `0..n` (`k <= n`), in increasing order (Knuth's
/// selection sampling: one pass, each subset equally likely).
fn sample_positions(n: usize, k: usize, rng: &mut SetRng) -> Vec<usize> {
    let mut out = Vec::with_capacity(k);
    let mut need = k;
    for i in 0..n {
        if need == 0 {
            break;
        }
        let left = n - i;
        if rng.below(left) < need {
            out.push(i);
            need -= 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// intset

/// Sorted integers at the smallest width holding them all (Redis's intset; the width only grows).
#[derive(Clone, Debug)]
enum IntSet {
    W16(Vec<i16>),
    W32(Vec<i32>),
    W64(Vec<i64>),
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet::W16(Vec::new())
    }
}

impl IntSet {
    fn len(&self) -> usize {
        match self {
            IntSet::W16(v) => v.len(),
            IntSet::W32(v) => v.len(),
            IntSet::W64(v) => v.len(),
        }
    }

    fn get(&self, i: usize) -> Option<i64> {
        match self {
            IntSet::W16(v) => v.get(i).map(|&x| i64::from(x)),
            IntSet::W32(v) => v.get(i).map(|&x| i64::from(x)),
            IntSet::W64(v) => v.get(i).copied(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }

    fn min(&self) -> Option<i64> {
        self.get(0)
    }

    fn max(&self) -> Option<i64> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// Position of `v` (Ok) or where it would go (Err), at the current width.
    fn search(&self, v: i64) -> Result<usize, usize> {
        match self {
            IntSet::W16(s) => match i16::try_from(v) {
                Ok(x) => s.binary_search(&x),
                Err(_) => Err(if v < 0 { 0 } else { s.len() }),
            },
            IntSet::W32(s) => match i32::try_from(v) {
                Ok(x) => s.binary_search(&x),
                Err(_) => Err(if v < 0 { 0 } else { s.len() }),
            },
            IntSet::W64(s) => s.binary_search(&v),
        }
    }

    fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    /// Widens the storage so that `v` fits.
    fn upgrade_for(&mut self, v: i64) {
        let need = if i16::try_from(v).is_ok() {
            0
        } else if i32::try_from(v).is_ok() {
            1
        } else {
            2
        };
        let have = match self {
            IntSet::W16(_) => 0,
            IntSet::W32(_) => 1,
            IntSet::W64(_) => 2,
        };
        if need <= have {
            return;
        }
        let all: Vec<i64> = self.iter().collect();
        *self = if need == 1 {
            IntSet::W32(all.iter().filter_map(|&x| i32::try_from(x).ok()).collect())
        } else {
            IntSet::W64(all)
        };
    }

    fn insert(&mut self, v: i64) -> bool {
        self.upgrade_for(v);
        let Err(at) = self.search(v) else {
            return false;
        };
        match self {
            IntSet::W16(s) => {
                if let Ok(x) = i16::try_from(v) {
                    s.insert(at, x);
                }
            }
            IntSet::W32(s) => {
                if let Ok(x) = i32::try_from(v) {
                    s.insert(at, x);
                }
            }
            IntSet::W64(s) => s.insert(at, v),
        }
        true
    }

    fn remove(&mut self, v: i64) -> bool {
        let Ok(at) = self.search(v) else {
            return false;
        };
        match self {
            IntSet::W16(s) => {
                s.remove(at);
            }
            IntSet::W32(s) => {
                s.remove(at);
            }
            IntSet::W64(s) => {
                s.remove(at);
            }
        }
        true
    }

    fn heap_size(&self) -> usize {
        match self {
            IntSet::W16(v) => v.capacity() * 2,
            IntSet::W32(v) => v.capacity() * 4,
            IntSet::W64(v) => v.capacity() * 8,
        }
    }

    fn shrink_to_fit(&mut self) {
        match self {
            IntSet::W16(v) => v.shrink_to_fit(),
            IntSet::W32(v) => v.shrink_to_fit(),
            IntSet::W64(v) => v.shrink_to_fit(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// hashtable

/// One segment: its members packed in an arena (`len` as LEB128, then the bytes), a dense
/// vector of their offsets (uniform random picks are O(1)) and a hash index into that vector.
/// Removal leaves a hole in the arena; the arena is compacted when holes make up half of it.
#[derive(Clone)]
struct Segment {
    /// Number of leading hash bits every member of this segment shares.
    depth: u32,
    arena: Vec<u8>,
    offs: Vec<usize>,
    index: HashTable<u32>,
    /// Bytes of the arena no member uses any more.
    garbage: usize,
}

fn arena_put(arena: &mut Vec<u8>, m: &[u8]) {
    let mut v = m.len();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            arena.push(b);
            break;
        }
        arena.push(b | 0x80);
    }
    arena.extend_from_slice(m);
}

/// The member starting at `off` and the size of its encoding.
fn arena_get(arena: &[u8], off: usize) -> (&[u8], usize) {
    let mut len = 0usize;
    let mut shift = 0u32;
    let mut p = off;
    while let Some(&b) = arena.get(p) {
        p += 1;
        if shift < usize::BITS {
            len |= usize::from(b & 0x7f) << shift;
        }
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let m = arena.get(p..p + len).unwrap_or(&[]);
    (m, p + len - off)
}

impl Segment {
    fn new(depth: u32, cap: usize) -> Segment {
        Segment {
            depth,
            arena: Vec::new(),
            offs: Vec::with_capacity(cap),
            index: HashTable::with_capacity(cap),
            garbage: 0,
        }
    }

    fn len(&self) -> usize {
        self.offs.len()
    }

    /// The `i`-th member in dense order.
    fn get(&self, i: usize) -> Option<&[u8]> {
        self.offs.get(i).map(|&o| arena_get(&self.arena, o).0)
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.offs.iter().map(|&o| arena_get(&self.arena, o).0)
    }

    fn hash_of(arena: &[u8], offs: &[usize], i: u32) -> u64 {
        offs.get(i as usize)
            .map_or(0, |&o| hash_key(arena_get(arena, o).0))
    }

    fn find(&self, h: u64, m: &[u8]) -> Option<usize> {
        let (arena, offs) = (&self.arena, &self.offs);
        self.index
            .find(h, |&i| {
                offs.get(i as usize)
                    .is_some_and(|&o| arena_get(arena, o).0 == m)
            })
            .map(|&i| i as usize)
    }

    /// Adds a member known to be absent.
    fn push(&mut self, h: u64, m: &[u8]) {
        let idx = self.offs.len() as u32;
        self.offs.push(self.arena.len());
        arena_put(&mut self.arena, m);
        let (arena, offs) = (&self.arena, &self.offs);
        self.index
            .insert_unique(h, idx, |&i| Segment::hash_of(arena, offs, i));
    }

    fn remove(&mut self, h: u64, m: &[u8]) -> bool {
        let (arena, offs) = (&self.arena, &self.offs);
        let Ok(found) = self.index.find_entry(h, |&i| {
            offs.get(i as usize)
                .is_some_and(|&o| arena_get(arena, o).0 == m)
        }) else {
            return false;
        };
        let (idx, _) = found.remove();
        let idx = idx as usize;
        let last = self.offs.len() - 1;
        if let Some(&o) = self.offs.get(idx) {
            self.garbage += arena_get(&self.arena, o).1;
        }
        self.offs.swap_remove(idx);
        if idx != last {
            // The former last member now sits at `idx`: repoint its index slot.
            if let Some(&o) = self.offs.get(idx) {
                let mh = hash_key(arena_get(&self.arena, o).0);
                if let Some(slot) = self.index.find_mut(mh, |&i| i as usize == last) {
                    *slot = idx as u32;
                }
            }
        }
        if self.garbage > 64 && self.garbage * 2 > self.arena.len() {
            self.compact();
        }
        if self.index.capacity() > 64 && self.offs.len() * 8 < self.index.capacity() {
            self.offs.shrink_to(self.offs.len() * 2);
            let (arena, offs) = (&self.arena, &self.offs);
            self.index
                .shrink_to(offs.len() * 2, |&i| Segment::hash_of(arena, offs, i));
        }
        true
    }

    /// Rewrites the arena without holes (dense positions, hence the index, are unchanged).
    fn compact(&mut self) {
        let mut arena = Vec::with_capacity(self.arena.len() - self.garbage);
        for o in self.offs.iter_mut() {
            let m = arena_get(&self.arena, *o).0;
            *o = arena.len();
            arena_put(&mut arena, m);
        }
        self.arena = arena;
        self.garbage = 0;
    }

    fn heap_size(&self) -> usize {
        self.arena.capacity()
            + self.offs.capacity() * std::mem::size_of::<usize>()
            + self.index.capacity() * (std::mem::size_of::<u32>() + 1)
    }
}

/// The `hashtable` encoding: a directory of `2^depth` slots indexed by the top bits of a
/// member's hash, pointing at segments that split one at a time as the set grows. A member's
/// place in hash order never changes, so SSCAN uses the hash as its cursor: a full iteration
/// returns every member present throughout exactly once.
#[derive(Clone)]
struct Members {
    dir: Vec<u32>,
    depth: u32,
    segs: Vec<Segment>,
    len: usize,
}

impl std::fmt::Debug for Members {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

fn dir_index(hash: u64, depth: u32) -> usize {
    if depth == 0 {
        0
    } else {
        (hash >> (64 - depth)) as usize
    }
}

/// The last hash of the range a segment of `depth` bits containing `from` covers.
fn seg_range_end(from: u64, depth: u32) -> u64 {
    if depth == 0 {
        u64::MAX
    } else {
        from | (u64::MAX >> depth)
    }
}

impl Default for Members {
    fn default() -> Self {
        Members {
            dir: vec![0],
            depth: 0,
            segs: vec![Segment::new(0, 0)],
            len: 0,
        }
    }
}

impl Members {
    fn with_capacity(n: usize) -> Members {
        Members {
            dir: vec![0],
            depth: 0,
            segs: vec![Segment::new(0, n.min(SEGMENT_MAX))],
            len: 0,
        }
    }

    fn seg_of(&self, hash: u64) -> usize {
        self.dir
            .get(dir_index(hash, self.depth))
            .copied()
            .unwrap_or(0) as usize
    }

    fn contains(&self, m: &[u8]) -> bool {
        let h = hash_key(m);
        self.segs
            .get(self.seg_of(h))
            .is_some_and(|s| s.find(h, m).is_some())
    }

    fn insert(&mut self, m: &[u8]) -> bool {
        let h = hash_key(m);
        let mut s = self.seg_of(h);
        let Some(seg) = self.segs.get(s) else {
            return false;
        };
        if seg.find(h, m).is_some() {
            return false;
        }
        if seg.len() >= SEGMENT_MAX {
            self.split(s);
            s = self.seg_of(h);
        }
        let Some(seg) = self.segs.get_mut(s) else {
            return false;
        };
        seg.push(h, m);
        self.len += 1;
        true
    }

    fn remove(&mut self, m: &[u8]) -> bool {
        let h = hash_key(m);
        let s = self.seg_of(h);
        let removed = self.segs.get_mut(s).is_some_and(|seg| seg.remove(h, m));
        if removed {
            self.len -= 1;
        }
        removed
    }

    fn split(&mut self, s: usize) {
        let Some(old_depth) = self.segs.get(s).map(|x| x.depth) else {
            return;
        };
        if old_depth >= 63 {
            return;
        }
        if old_depth == self.depth {
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
        let old = std::mem::replace(seg, Segment::new(new_depth, 0));
        let half = old.len() / 2 + 1;
        let mut low = Segment::new(new_depth, half);
        let mut high = Segment::new(new_depth, half);
        for m in old.iter() {
            let h = hash_key(m);
            if h & bit == 0 {
                low.push(h, m);
            } else {
                high.push(h, m);
            }
        }
        *seg = low;
        self.segs.push(high);
        let shift = self.depth - new_depth;
        for (i, slot) in self.dir.iter_mut().enumerate() {
            if *slot as usize == s && (i >> shift) & 1 == 1 {
                *slot = new_idx;
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.segs.iter().flat_map(|s| s.iter())
    }

    /// A uniformly chosen member. While segments are reasonably full: a random segment, then a
    /// random slot of `SEGMENT_MAX` until one holds a member (rejection sampling keeps every
    /// member equally likely, O(1) expected); in a sparse table, a walk over segment sizes.
    fn random(&self, rng: &mut SetRng) -> Option<&[u8]> {
        if self.len == 0 {
            return None;
        }
        if self.len * 4 >= self.segs.len() * SEGMENT_MAX {
            loop {
                let seg = self.segs.get(rng.below(self.segs.len()))?;
                let j = rng.below(SEGMENT_MAX.max(seg.len()));
                if let Some(m) = seg.get(j) {
                    return Some(m);
                }
            }
        }
        let mut n = rng.below(self.len);
        for seg in &self.segs {
            if n < seg.len() {
                return seg.get(n);
            }
            n -= seg.len();
        }
        None
    }

    /// Visits members in hash order from hash `from`, stopping once `budget` members were
    /// visited (members sharing the last visited hash are all included). Returns the hash to
    /// continue from, or `None` at the end.
    fn scan_from(&self, mut from: u64, budget: usize, mut visit: impl FnMut(&[u8])) -> Option<u64> {
        let mut seen = 0usize;
        let mut batch: Vec<(u64, &[u8])> = Vec::new();
        loop {
            let s = self.dir.get(dir_index(from, self.depth)).copied()? as usize;
            let seg = self.segs.get(s)?;
            let range_end = seg_range_end(from, seg.depth);
            batch.clear();
            batch.extend(seg.iter().filter_map(|m| {
                let h = hash_key(m);
                (h >= from).then_some((h, m))
            }));
            let want = budget.saturating_sub(seen).max(1);
            if batch.len() > want {
                batch.select_nth_unstable_by_key(want - 1, |x| x.0);
                let cut = batch.get(want - 1).map(|x| x.0).unwrap_or(u64::MAX);
                batch.retain(|x| x.0 <= cut);
                batch.sort_unstable_by_key(|x| x.0);
                for (_, m) in &batch {
                    visit(m);
                }
                return cut.checked_add(1);
            }
            batch.sort_unstable_by_key(|x| x.0);
            seen += batch.len();
            for (_, m) in &batch {
                visit(m);
            }
            from = range_end.checked_add(1)?;
            if seen >= budget {
                return Some(from);
            }
        }
    }

    fn heap_size(&self) -> usize {
        let segs: usize = self.segs.iter().map(Segment::heap_size).sum();
        segs + self.dir.capacity() * 4 + self.segs.capacity() * std::mem::size_of::<Segment>()
    }
}

// ---------------------------------------------------------------------------------------------
// Set

#[derive(Clone, Debug)]
enum Repr {
    Int(IntSet),
    Pack(Packed),
    /// Boxed: a big set pays one pointer, and every collection value stays small.
    Table(Box<Members>),
}

/// A set (`intset`, `listpack` or `hashtable`); see the module documentation.
#[derive(Clone, Debug)]
pub struct Set {
    repr: Repr,
}

impl Default for Set {
    fn default() -> Self {
        Set {
            repr: Repr::Int(IntSet::default()),
        }
    }
}

/// The encoding a new, empty set starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// `intset`
    IntSet,
    /// `listpack`
    Listpack,
    /// `hashtable`
    HashTable,
}

impl Set {
    /// An empty set in the `intset` encoding (members added later convert it as needed).
    pub fn new() -> Set {
        Set::default()
    }

    /// An empty set in the given encoding (the *STORE commands pick their result's encoding
    /// up front as Redis does).
    pub fn with_encoding(enc: Encoding) -> Set {
        Set {
            repr: match enc {
                Encoding::IntSet => Repr::Int(IntSet::default()),
                Encoding::Listpack => Repr::Pack(Packed::new()),
                Encoding::HashTable => Repr::Table(Box::default()),
            },
        }
    }

    /// An empty set in the encoding Redis's `setTypeCreate` picks for a set about to receive
    /// `size_hint` members, the first being `first`: `intset` when `first` is an integer and
    /// the hint fits the intset limit, `listpack` when the hint fits the listpack limit,
    /// `hashtable` (pre-sized) otherwise.
    pub fn for_first(first: &[u8], size_hint: usize, lim: &EncodingLimits) -> Set {
        let repr = if parse_i64_strict(first).is_some() && size_hint <= intset_max(lim) {
            Repr::Int(IntSet::default())
        } else if size_hint <= lim.set_max_listpack_entries {
            Repr::Pack(Packed::new())
        } else {
            Repr::Table(Box::new(Members::with_capacity(size_hint)))
        };
        Set { repr }
    }

    /// The current encoding.
    pub fn encoding(&self) -> Encoding {
        match self.repr {
            Repr::Int(_) => Encoding::IntSet,
            Repr::Pack(_) => Encoding::Listpack,
            Repr::Table(_) => Encoding::HashTable,
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Int(s) => s.len(),
            Repr::Pack(p) => p.len(),
            Repr::Table(t) => t.len,
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The OBJECT ENCODING name.
    pub fn encoding_name(&self) -> &'static str {
        match self.repr {
            Repr::Int(_) => "intset",
            Repr::Pack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Heap bytes owned (for MEMORY USAGE / INFO).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Int(s) => s.heap_size(),
            Repr::Pack(p) => p.heap_size(),
            Repr::Table(t) => t.heap_size(),
        }
    }

    /// How many separate allocations freeing this value costs (lazy-free decisions): one for
    /// the compact encodings; for a hashtable three per segment (arena, offsets, index) plus
    /// its directory, since members are packed in the segments' arenas.
    pub fn free_effort(&self) -> usize {
        match &self.repr {
            Repr::Table(t) => t.segs.len() * 3 + 2,
            _ => 1,
        }
    }

    /// Every member, in the set's internal order (SORT, ZUNIONSTORE over sets, RDB use this;
    /// keep the signature). Integers of an intset are given as their decimal text.
    pub fn for_each_member(&self, mut f: impl FnMut(&[u8])) {
        match &self.repr {
            Repr::Int(s) => {
                for v in s.iter() {
                    f(IntText::new(v).as_bytes());
                }
            }
            Repr::Pack(p) => {
                for m in p.iter() {
                    f(m);
                }
            }
            Repr::Table(t) => {
                for m in t.iter() {
                    f(m);
                }
            }
        }
    }

    /// Every member as an owned string, in the set's internal order (ascending for an intset,
    /// insertion order for a listpack).
    pub fn members(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each_member(|m| out.push(m.to_vec()));
        out
    }

    /// Whether `m` is a member.
    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.repr {
            Repr::Int(s) => parse_i64_strict(m).is_some_and(|v| s.contains(v)),
            Repr::Pack(p) => p.find(m, 1).is_some(),
            Repr::Table(t) => t.contains(m),
        }
    }

    /// Redis's `setTypeMaybeConvert`: before adding `size_hint` members, a compact set whose
    /// limit the hint alone exceeds becomes a hashtable at once.
    pub fn maybe_convert(&mut self, size_hint: usize, lim: &EncodingLimits) {
        let convert = match self.repr {
            Repr::Pack(_) => size_hint > lim.set_max_listpack_entries,
            Repr::Int(_) => size_hint > intset_max(lim),
            Repr::Table(_) => false,
        };
        if convert {
            self.convert_to_table(size_hint);
        }
    }

    /// Converts to a hashtable sized for `cap` members.
    fn convert_to_table(&mut self, cap: usize) {
        let mut t = Members::with_capacity(cap.max(self.len()));
        self.for_each_member(|m| {
            t.insert(m);
        });
        self.repr = Repr::Table(Box::new(t));
    }

    /// Adds `m` (Redis's `setTypeAdd`), converting the encoding as Redis does: an intset
    /// taking a non-integer becomes a listpack when the result fits the listpack limits
    /// (integers first, ascending, then `m`) or a hashtable; an intset past
    /// `set-max-intset-entries` and a listpack past its limits become hashtables. Returns
    /// whether `m` was new.
    pub fn add(&mut self, m: &[u8], lim: &EncodingLimits) -> bool {
        match &mut self.repr {
            Repr::Table(t) => t.insert(m),
            Repr::Pack(p) => {
                if p.find(m, 1).is_some() {
                    return false;
                }
                if p.len() < lim.set_max_listpack_entries && m.len() <= lim.set_max_listpack_value {
                    p.push_back(m);
                } else {
                    let cap = p.len() + 1;
                    self.convert_to_table(cap);
                    if let Repr::Table(t) = &mut self.repr {
                        t.insert(m);
                    }
                }
                true
            }
            Repr::Int(s) => {
                if let Some(v) = parse_i64_strict(m) {
                    if !s.insert(v) {
                        return false;
                    }
                    if s.len() > intset_max(lim) {
                        let cap = s.len();
                        self.convert_to_table(cap);
                    }
                    return true;
                }
                let n = s.len();
                let maxelelen = match (s.min(), s.max()) {
                    (Some(a), Some(b)) => digits10(a).max(digits10(b)),
                    _ => 0,
                };
                if n < lim.set_max_listpack_entries
                    && m.len() <= lim.set_max_listpack_value
                    && maxelelen <= lim.set_max_listpack_value
                {
                    let mut p = Packed::new();
                    for v in s.iter() {
                        p.push_back(IntText::new(v).as_bytes());
                    }
                    p.push_back(m);
                    self.repr = Repr::Pack(p);
                } else {
                    self.convert_to_table(n + 1);
                    if let Repr::Table(t) = &mut self.repr {
                        t.insert(m);
                    }
                }
                true
            }
        }
    }

    /// Removes `m`; returns whether it was a member. The encoding never changes.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Int(s) => parse_i64_strict(m).is_some_and(|v| s.remove(v)),
            Repr::Pack(p) => match p.find(m, 1) {
                Some(off) => {
                    p.remove_at(off);
                    true
                }
                None => false,
            },
            Repr::Table(t) => t.remove(m),
        }
    }

    /// Redis's `maybeConvertToIntset` (end of SINTERSTORE): a set whose members are all
    /// integers and that fits `set-max-intset-entries` becomes an intset.
    pub fn maybe_to_intset(&mut self, lim: &EncodingLimits) {
        if matches!(self.repr, Repr::Int(_)) || self.len() > intset_max(lim) {
            return;
        }
        let mut s = IntSet::default();
        let mut all = true;
        self.for_each_member(|m| match parse_i64_strict(m) {
            Some(v) if all => {
                s.insert(v);
            }
            _ => all = false,
        });
        if all {
            self.repr = Repr::Int(s);
        }
    }

    /// Releases spare capacity (after a bulk build).
    pub fn shrink_to_fit(&mut self) {
        match &mut self.repr {
            Repr::Int(s) => s.shrink_to_fit(),
            Repr::Pack(p) => p.shrink_to_fit(),
            Repr::Table(_) => {}
        }
    }

    /// The `i`-th member in internal order (`i < len()`), for the compact encodings.
    fn nth_compact(&self, i: usize) -> Option<Vec<u8>> {
        match &self.repr {
            Repr::Int(s) => s.get(i).map(|v| IntText::new(v).as_bytes().to_vec()),
            Repr::Pack(p) => p.get(i as i64).map(<[u8]>::to_vec),
            Repr::Table(_) => None,
        }
    }

    /// A uniformly chosen member (SRANDMEMBER without a count); `None` when empty.
    pub fn random_member(&self, rng: &mut SetRng) -> Option<Vec<u8>> {
        match &self.repr {
            Repr::Table(t) => t.random(rng).map(<[u8]>::to_vec),
            _ => {
                let n = self.len();
                if n == 0 {
                    return None;
                }
                self.nth_compact(rng.below(n))
            }
        }
    }

    /// Removes and returns a uniformly chosen member (SPOP without a count).
    pub fn pop_random(&mut self, rng: &mut SetRng) -> Option<Vec<u8>> {
        let m = self.random_member(rng)?;
        self.remove(&m);
        Some(m)
    }

    /// SRANDMEMBER with a count, following Redis's strategies: a negative count gives
    /// `|count|` independent picks (repeats possible, random order); a count at least the
    /// size gives the whole set in internal order; a listpack gives a random subset in its own
    /// order; otherwise `count` distinct random members.
    pub fn random_members(&self, count: i64, rng: &mut SetRng) -> Vec<Vec<u8>> {
        let size = self.len();
        if count == 0 || size == 0 {
            return Vec::new();
        }
        if count < 0 || count == 1 {
            let n = count.unsigned_abs() as usize;
            let mut out = Vec::with_capacity(n.min(1 << 20));
            if let Repr::Pack(p) = &self.repr {
                // One walk over the listpack, then O(1) per pick.
                let items: Vec<&[u8]> = p.iter().collect();
                for _ in 0..n {
                    if let Some(m) = items.get(rng.below(items.len())) {
                        out.push(m.to_vec());
                    }
                }
                return out;
            }
            for _ in 0..n {
                if let Some(m) = self.random_member(rng) {
                    out.push(m);
                }
            }
            return out;
        }
        let count = count as usize;
        if count >= size {
            return self.members();
        }
        if let Repr::Pack(p) = &self.repr {
            let picks = sample_positions(size, count, rng);
            let mut picks = picks.into_iter().peekable();
            let mut out = Vec::with_capacity(count);
            for (i, m) in p.iter().enumerate() {
                if picks.peek() == Some(&i) {
                    picks.next();
                    out.push(m.to_vec());
                }
            }
            return out;
        }
        if count * SRANDMEMBER_SUB_STRATEGY_MUL > size {
            // Copy everything, keep a random `count` of it (partial Fisher-Yates).
            let mut all = self.members();
            for i in 0..count {
                let j = i + rng.below(size - i);
                all.swap(i, j);
            }
            all.truncate(count);
            return all;
        }
        let mut seen: hashbrown::HashSet<Vec<u8>> = hashbrown::HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let Some(m) = self.random_member(rng) else {
                break;
            };
            if seen.insert(m.clone()) {
                out.push(m);
            }
        }
        out
    }

    /// SPOP with a count smaller than the size (the caller handles `count >= len()` by taking
    /// the whole set): Redis's strategies, including their effect on the encoding. When many
    /// members remain, `count` random members are removed in place (a listpack's in its own
    /// order); when few remain, the remaining members are drawn at random into a new set
    /// (an intset stays an intset, a listpack or hashtable restarts as a listpack) and every
    /// other member is returned in the old set's order.
    pub fn pop_many(
        &mut self,
        count: usize,
        rng: &mut SetRng,
        lim: &EncodingLimits,
    ) -> Vec<Vec<u8>> {
        let size = self.len();
        if count == 0 || size == 0 {
            return Vec::new();
        }
        if count >= size {
            let out = self.members();
            *self = Set::new();
            return out;
        }
        let remaining = size - count;
        if remaining * SPOP_MOVE_STRATEGY_MUL > count {
            if let Repr::Pack(p) = &mut self.repr {
                let picks = sample_positions(size, count, rng);
                let mut out = Vec::with_capacity(count);
                let mut kept = Packed::new();
                let mut picks = picks.into_iter().peekable();
                for (i, m) in p.iter().enumerate() {
                    if picks.peek() == Some(&i) {
                        picks.next();
                        out.push(m.to_vec());
                    } else {
                        kept.push_back(m);
                    }
                }
                *p = kept;
                return out;
            }
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                if let Some(m) = self.pop_random(rng) {
                    out.push(m);
                }
            }
            return out;
        }
        let mut newset = match &self.repr {
            Repr::Int(_) => Set::with_encoding(Encoding::IntSet),
            _ => Set::with_encoding(Encoding::Listpack),
        };
        if let Repr::Pack(p) = &self.repr {
            let picks = sample_positions(size, remaining, rng);
            let mut picks = picks.into_iter().peekable();
            let mut out = Vec::with_capacity(count);
            for (i, m) in p.iter().enumerate() {
                if picks.peek() == Some(&i) {
                    picks.next();
                    newset.add(m, lim);
                } else {
                    out.push(m.to_vec());
                }
            }
            *self = newset;
            return out;
        }
        for _ in 0..remaining {
            if let Some(m) = self.pop_random(rng) {
                newset.add(&m, lim);
            }
        }
        let out = self.members();
        *self = newset;
        out
    }

    /// SSCAN: visits members from `cursor`, about `count` of them, and returns the cursor to
    /// continue from (0 when done). The compact encodings are visited whole in one call with
    /// cursor 0 returned, as Redis does; a hashtable is visited in hash order, so every member
    /// present for a whole iteration is returned exactly once.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8])) -> u64 {
        match &self.repr {
            Repr::Table(t) => t.scan_from(cursor, count.max(1), &mut f).unwrap_or(0),
            _ => {
                self.for_each_member(f);
                0
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn lim() -> EncodingLimits {
        EncodingLimits::default()
    }

    fn model_of(s: &Set) -> BTreeSet<Vec<u8>> {
        let mut out = BTreeSet::new();
        s.for_each_member(|m| {
            assert!(out.insert(m.to_vec()), "duplicate {:?}", m);
        });
        out
    }

    #[test]
    fn intset_widths_and_order() {
        let l = lim();
        let mut s = Set::for_first(b"5", 1, &l);
        assert_eq!(s.encoding_name(), "intset");
        for m in [
            "5",
            "-3",
            "70000",
            "1",
            "-9223372036854775808",
            "9223372036854775807",
        ] {
            assert!(s.add(m.as_bytes(), &l));
        }
        assert!(!s.add(b"70000", &l));
        assert_eq!(s.encoding_name(), "intset");
        let got: Vec<String> = s
            .members()
            .into_iter()
            .map(|m| String::from_utf8(m).unwrap())
            .collect();
        assert_eq!(
            got,
            [
                "-9223372036854775808",
                "-3",
                "1",
                "5",
                "70000",
                "9223372036854775807"
            ]
        );
        assert!(s.contains(b"-3"));
        assert!(!s.contains(b"-03"));
        assert!(!s.contains(b"abc"));
        assert!(s.remove(b"70000"));
        assert!(!s.remove(b"70000"));
        assert_eq!(s.len(), 5);
        assert!(matches!(s.repr, Repr::Int(IntSet::W64(_))));
    }

    #[test]
    fn intset_to_listpack_keeps_sorted_prefix() {
        let l = lim();
        let mut s = Set::new();
        for m in ["3", "1", "2"] {
            s.add(m.as_bytes(), &l);
        }
        s.add(b"a", &l);
        assert_eq!(s.encoding_name(), "listpack");
        assert_eq!(
            s.members(),
            vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec(), b"a".to_vec()]
        );
        // A not-canonical integer is a string.
        let mut s = Set::new();
        s.add(b"1", &l);
        s.add(b"01", &l);
        assert_eq!(s.encoding_name(), "listpack");
    }

    #[test]
    fn conversions_follow_limits() {
        let l = EncodingLimits {
            set_max_intset_entries: 4,
            set_max_listpack_entries: 3,
            set_max_listpack_value: 5,
            ..EncodingLimits::default()
        };
        let mut s = Set::new();
        for i in 0..4 {
            s.add(i.to_string().as_bytes(), &l);
        }
        assert_eq!(s.encoding_name(), "intset");
        s.add(b"4", &l);
        assert_eq!(s.encoding_name(), "hashtable");
        // intset of 3 + string: listpack limit 3 entries -> hashtable.
        let mut s = Set::new();
        for i in 0..3 {
            s.add(i.to_string().as_bytes(), &l);
        }
        s.add(b"x", &l);
        assert_eq!(s.encoding_name(), "hashtable");
        // intset holding a long integer + string: too long for the listpack -> hashtable.
        let mut s = Set::new();
        s.add(b"123456", &l);
        s.add(b"x", &l);
        assert_eq!(s.encoding_name(), "hashtable");
        // listpack: value too long, then too many.
        let mut s = Set::for_first(b"a", 1, &l);
        assert_eq!(s.encoding_name(), "listpack");
        s.add(b"a", &l);
        s.add(b"abcdef", &l);
        assert_eq!(s.encoding_name(), "hashtable");
        let mut s = Set::for_first(b"a", 1, &l);
        for m in ["a", "b", "c"] {
            s.add(m.as_bytes(), &l);
        }
        assert_eq!(s.encoding_name(), "listpack");
        s.add(b"d", &l);
        assert_eq!(s.encoding_name(), "hashtable");
        // Creation hints.
        assert_eq!(Set::for_first(b"1", 4, &l).encoding_name(), "intset");
        assert_eq!(Set::for_first(b"1", 5, &l).encoding_name(), "hashtable");
        assert_eq!(Set::for_first(b"a", 3, &l).encoding_name(), "listpack");
        assert_eq!(Set::for_first(b"a", 4, &l).encoding_name(), "hashtable");
        let mut s = Set::for_first(b"a", 1, &l);
        s.add(b"a", &l);
        s.maybe_convert(4, &l);
        assert_eq!(s.encoding_name(), "hashtable");
        assert_eq!(s.len(), 1);
        // SINTERSTORE's final conversion.
        let mut s = Set::with_encoding(Encoding::Listpack);
        s.add(b"7", &l);
        s.add(b"-2", &l);
        s.maybe_to_intset(&l);
        assert_eq!(s.encoding_name(), "intset");
        assert_eq!(s.members(), vec![b"-2".to_vec(), b"7".to_vec()]);
    }

    #[test]
    fn random_model_against_btreeset() {
        let l = EncodingLimits {
            set_max_intset_entries: 20,
            set_max_listpack_entries: 10,
            ..EncodingLimits::default()
        };
        let mut rng = SetRng::new(42);
        for round in 0..30 {
            let mut s = Set::new();
            let mut model = BTreeSet::new();
            for _ in 0..3000 {
                let v = rng.below(if round % 2 == 0 { 60 } else { 3000 });
                let m = if rng.below(4) == 0 {
                    format!("m{v}")
                } else {
                    v.to_string()
                }
                .into_bytes();
                match rng.below(5) {
                    0..=2 => assert_eq!(s.add(&m, &l), model.insert(m.clone())),
                    3 => assert_eq!(s.remove(&m), model.remove(&m)),
                    _ => assert_eq!(s.contains(&m), model.contains(&m)),
                }
                assert_eq!(s.len(), model.len());
            }
            assert_eq!(model_of(&s), model);
            if let Repr::Table(t) = &s.repr {
                let garbage_ok = t
                    .segs
                    .iter()
                    .all(|g| g.garbage * 2 <= g.arena.len().max(128));
                assert!(garbage_ok);
                assert_eq!(t.len, t.iter().count());
            }
        }
    }

    #[test]
    fn hashtable_survives_churn_splits_and_compaction() {
        let l = lim();
        let mut rng = SetRng::new(99);
        let mut s = Set::for_first(b"x", 1000, &l);
        let mut model = BTreeSet::new();
        for round in 0..6 {
            for _ in 0..6000 {
                let len = 1 + rng.below(if round % 2 == 0 { 8 } else { 300 });
                let m: Vec<u8> = (0..len).map(|_| b'a' + rng.below(3) as u8).collect();
                if rng.below(3) == 0 {
                    assert_eq!(s.remove(&m), model.remove(&m));
                } else {
                    assert_eq!(s.add(&m, &l), model.insert(m));
                }
            }
            assert_eq!(s.len(), model.len());
            assert_eq!(model_of(&s), model);
            assert!(model.iter().all(|m| s.contains(m)));
            let mut scanned = BTreeSet::new();
            let mut cursor = 0;
            loop {
                cursor = s.scan(cursor, 37, |m| {
                    assert!(scanned.insert(m.to_vec()));
                });
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(scanned, model);
            assert!(s.heap_size() > 0);
        }
        assert_eq!(s.encoding_name(), "hashtable");
    }

    #[test]
    fn pop_and_random_are_distinct_and_complete() {
        let l = lim();
        let mut rng = SetRng::new(7);
        for (n, ints) in [
            (10usize, true),
            (10, false),
            (300, true),
            (2000, false),
            (700, true),
        ] {
            for count in [1usize, 3, n / 2, n - 1, n, n + 5] {
                let mut s = Set::new();
                for i in 0..n {
                    let m = if ints { i.to_string() } else { format!("x{i}") };
                    s.add(m.as_bytes(), &l);
                }
                let before = model_of(&s);
                let r = s.random_members(count as i64, &mut rng);
                let rs: BTreeSet<_> = r.iter().cloned().collect();
                assert_eq!(r.len(), count.min(n));
                assert_eq!(rs.len(), r.len(), "distinct");
                assert!(rs.is_subset(&before));
                let neg = s.random_members(-(count as i64), &mut rng);
                assert_eq!(neg.len(), count);
                assert!(neg.iter().all(|m| before.contains(m)));
                let popped = s.pop_many(count, &mut rng, &l);
                let ps: BTreeSet<_> = popped.iter().cloned().collect();
                assert_eq!(popped.len(), count.min(n));
                assert_eq!(ps.len(), popped.len());
                let after = model_of(&s);
                assert!(ps.is_disjoint(&after));
                let union: BTreeSet<_> = ps.union(&after).cloned().collect();
                assert_eq!(union, before);
                assert_eq!(s.len(), after.len());
            }
        }
    }

    #[test]
    fn random_member_is_roughly_uniform() {
        let l = lim();
        // Dense segments (rejection sampling) and sparse ones (walk over segment sizes).
        for (total, removed) in [(1000usize, 0usize), (3000, 2000), (20_000, 19_000)] {
            let mut s = Set::new();
            for i in 0..total {
                s.add(format!("m{i}").as_bytes(), &l);
            }
            for i in 0..removed {
                s.remove(format!("m{i}").as_bytes());
            }
            let mut rng = SetRng::new(1);
            let mut hits = std::collections::HashMap::new();
            for _ in 0..100_000 {
                let m = s.random_member(&mut rng).unwrap();
                *hits.entry(m).or_insert(0u32) += 1;
            }
            assert_eq!(hits.len(), 1000);
            assert!(
                hits.values().all(|&c| c > 40 && c < 200),
                "{total}/{removed}: {:?}",
                (hits.values().min(), hits.values().max())
            );
        }
    }

    #[test]
    fn scan_returns_each_member_once_while_growing() {
        let l = lim();
        let mut s = Set::new();
        for i in 0..5000 {
            s.add(format!("k{i}").as_bytes(), &l);
        }
        let mut seen = BTreeSet::new();
        let mut cursor = 0u64;
        let mut i = 5000;
        loop {
            cursor = s.scan(cursor, 10, |m| {
                assert!(seen.insert(m.to_vec()), "twice: {:?}", m);
            });
            // Grow and shrink meanwhile (members k0..k999 are removed and never come back).
            for _ in 0..20 {
                s.add(format!("k{i}").as_bytes(), &l);
                i += 1;
            }
            if i < 6000 {
                s.remove(format!("k{}", i - 5000).as_bytes());
            }
            if cursor == 0 {
                break;
            }
        }
        for j in 1000..5000 {
            assert!(seen.contains(format!("k{j}").as_bytes()), "missed k{j}");
        }
        // Compact encodings: everything at once.
        let mut small = Set::new();
        small.add(b"1", &l);
        small.add(b"2", &l);
        let mut n = 0;
        assert_eq!(small.scan(0, 1, |_| n += 1), 0);
        assert_eq!(n, 2);
    }
}
