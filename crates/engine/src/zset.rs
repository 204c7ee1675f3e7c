//! A sorted set: `listpack` when small, `skiplist` when big.
//!
//! Elements are ordered by (score, member bytes): scores as `f64` (never NaN), ties broken by
//! `memcmp` of the members, as Redis orders them.
//!
//! - `listpack`: a [`Packed`] sequence of `member, score` pairs kept in order; the score is its
//!   8 raw bytes (`f64::to_bits`, little endian), so no precision is lost. Every operation is a
//!   linear walk, which is cheap below the `zset-max-listpack-*` thresholds.
//! - `skiplist`: an arena of skiplist nodes (u32 links, one span per level, so rank and select
//!   are O(log N)) and an intrusive chained hash table over the same nodes (member → node, so
//!   each member is stored once). The hash table's bucket order gives ZSCAN a cursor that stays
//!   valid while the table is resized (Redis's reverse-binary cursor).
//!   A node is one 64-byte cache line holding its score, its three lowest levels, its links
//!   and (up to 22 bytes) its member, so a search step or a hash probe costs one cache miss;
//!   taller towers and longer members live in side arenas. Searches are bound by those
//!   misses, so a moved member's two searches run interleaved (`Big::move_node`).
//!
//! Conversion follows Redis: a listpack becomes a skiplist when an insert would exceed
//! `zset-max-listpack-entries` or brings a member longer than `zset-max-listpack-value`; a
//! skiplist never goes back to a listpack, except for results built from scratch
//! ([`ZSet::from_pairs`], used by the `...STORE` commands), which take the smallest encoding
//! that fits.

use crate::packed::Packed;
use crate::value::EncodingLimits;
use foldhash::fast::RandomState;
use std::cmp::Ordering;
use std::hash::BuildHasher;

/// A score range (`ZRANGEBYSCORE key (1.5 +inf`): bounds, each inclusive or exclusive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
    /// Lower bound is exclusive.
    pub minex: bool,
    /// Upper bound is exclusive.
    pub maxex: bool,
}

impl ScoreRange {
    /// Whether `s` is above the lower bound.
    pub fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    /// Whether `s` is below the upper bound.
    pub fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    /// True when no score can be in the range (Redis's early exit).
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }
}

/// One end of a lexicographic range (`-`, `+`, `[a`, `(a`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    /// `[x`: inclusive.
    Incl(Vec<u8>),
    /// `(x`: exclusive.
    Excl(Vec<u8>),
}

/// A lexicographic range for ZRANGEBYLEX and friends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexRange {
    /// Lower bound.
    pub min: LexBound,
    /// Upper bound.
    pub max: LexBound,
}

impl LexRange {
    /// Whether `m` is above the lower bound.
    pub fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(x) => m >= &x[..],
            LexBound::Excl(x) => m > &x[..],
        }
    }

    /// Whether `m` is below the upper bound.
    pub fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(x) => m <= &x[..],
            LexBound::Excl(x) => m < &x[..],
        }
    }

    /// True when no member can be in the range (Redis's zslIsInLexRange early exit).
    pub fn is_empty(&self) -> bool {
        match (&self.min, &self.max) {
            (LexBound::Max, _) | (_, LexBound::Min) => true,
            (LexBound::Min, _) | (_, LexBound::Max) => false,
            (a, b) => {
                let (av, aex) = bound_parts(a);
                let (bv, bex) = bound_parts(b);
                match av.cmp(bv) {
                    Ordering::Greater => true,
                    Ordering::Equal => aex || bex,
                    Ordering::Less => false,
                }
            }
        }
    }
}

fn bound_parts(b: &LexBound) -> (&[u8], bool) {
    match b {
        LexBound::Incl(x) => (x, false),
        LexBound::Excl(x) => (x, true),
        _ => (&[], false),
    }
}

/// Order of (score, member) pairs: by score, then member bytes.
#[inline]
fn cmp_pair(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    match s1.partial_cmp(&s2) {
        Some(Ordering::Equal) | None => m1.cmp(m2),
        Some(o) => o,
    }
}

/// A score as stored in a listpack: integral scores of magnitude below 2^53 as their decimal
/// text (one byte for 0..9, as Redis's listpack stores small integers compactly), any other
/// value as a 0xFF tag followed by the 8 bytes of the f64 (decimal text never starts with
/// 0xFF, so the two forms cannot be confused).
struct ScoreBuf {
    buf: [u8; 20],
    len: u8,
}

impl std::ops::Deref for ScoreBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

const EXACT_INT_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53

fn score_bytes(s: f64) -> ScoreBuf {
    if s.fract() == 0.0 && s.abs() < EXACT_INT_LIMIT && !(s == 0.0 && s.is_sign_negative()) {
        return itoa_buf(s as i64);
    }
    let mut out = ScoreBuf {
        buf: [0; 20],
        len: 9,
    };
    out.buf[0] = 0xFF;
    out.buf[1..9].copy_from_slice(&s.to_bits().to_le_bytes());
    out
}

/// Decimal text of an i64 without allocating.
fn itoa_buf(v: i64) -> ScoreBuf {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let neg = v < 0;
    let mut u = v.unsigned_abs();
    loop {
        i -= 1;
        tmp[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    let mut out = ScoreBuf {
        buf: [0; 20],
        len: 0,
    };
    let mut n = 0;
    if neg {
        out.buf[0] = b'-';
        n = 1;
    }
    let digits = &tmp[i..];
    out.buf[n..n + digits.len()].copy_from_slice(digits);
    out.len = (n + digits.len()) as u8;
    out
}

fn score_from(b: &[u8]) -> f64 {
    if b.len() == 9 && b[0] == 0xFF {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[1..9]);
        return f64::from_bits(u64::from_le_bytes(a));
    }
    let (neg, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    let mut v: i64 = 0;
    for &c in digits {
        v = v
            .wrapping_mul(10)
            .wrapping_add(i64::from(c.wrapping_sub(b'0')));
    }
    (if neg { -v } else { v }) as f64
}

const MAX_LEVEL: usize = 32;
const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;

#[derive(Clone, Copy, Debug)]
struct Level {
    fwd: u32,
    span: u32,
}

const EMPTY_LEVEL: Level = Level { fwd: NIL, span: 0 };

/// Levels kept inline in the node (a node is this tall or shorter with probability
/// 1 - 0.25^3 ≈ 98.4%); the rest of a taller tower lives in an [`Upper`] slot.
const INLINE_LEVELS: usize = 3;

/// The levels of a tall tower above [`INLINE_LEVELS`] (fixed size: tall towers are rare, so
/// a slot of the largest size costs ~3.7 bytes per element on average and keeps one index).
type Upper = [Level; MAX_LEVEL - INLINE_LEVELS];

/// Member bytes kept in the node itself (members this long or shorter need no allocation).
const INLINE_MEMBER: usize = 22;

/// Inline member bytes of a tall node: the last 4 bytes of `mem` hold its [`Upper`] index.
const INLINE_MEMBER_TALL: usize = INLINE_MEMBER - 4;

/// `Node::mlen` of a member stored out of line (`mem[..4]` is its index in `Big::long`).
const LONG: u8 = u8::MAX;

/// One skiplist element, exactly one cache line: score, the lowest levels, links and the
/// member bytes (when short) are read together by a descent and by a hash-chain probe.
#[derive(Clone, Copy, Debug)]
#[repr(align(64))]
struct Node {
    score: f64,
    lv: [Level; INLINE_LEVELS],
    back: u32,
    /// Next node in the same hash bucket.
    hnext: u32,
    /// Tower height; 0 marks a free arena slot.
    height: u8,
    /// Member length when inline, else [`LONG`].
    mlen: u8,
    mem: [u8; INLINE_MEMBER],
}

const _: () = assert!(std::mem::size_of::<Node>() == 64);

const FREE_NODE: Node = Node {
    score: 0.0,
    lv: [EMPTY_LEVEL; INLINE_LEVELS],
    back: NIL,
    hnext: NIL,
    height: 0,
    mlen: 0,
    mem: [0; INLINE_MEMBER],
};

#[inline]
fn idx4(b: &[u8]) -> usize {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a) as usize
}

#[inline]
fn upper_idx(n: &Node) -> usize {
    idx4(&n.mem[INLINE_MEMBER_TALL..])
}

/// The big encoding: skiplist with spans plus hash index, over one node arena.
#[derive(Clone)]
struct Big {
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// Upper levels of the towers taller than [`INLINE_LEVELS`] (the head's included).
    upper: Vec<Upper>,
    upper_free: Vec<u32>,
    /// Members longer than a node's inline capacity.
    long: Vec<Box<[u8]>>,
    long_free: Vec<u32>,
    tail: u32,
    level: usize,
    len: usize,
    buckets: Vec<u32>,
    hasher: RandomState,
    rng: u64,
    /// Bytes of the members in `long`.
    long_bytes: usize,
}

impl std::fmt::Debug for Big {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Skiplist").field("len", &self.len).finish()
    }
}

impl Big {
    fn new() -> Big {
        let hasher = RandomState::default();
        let seed = hasher.hash_one(0x5eed_u64) | 1;
        let mut b = Big {
            nodes: Vec::new(),
            free: Vec::new(),
            upper: Vec::new(),
            upper_free: Vec::new(),
            long: Vec::new(),
            long_free: Vec::new(),
            tail: NIL,
            level: 1,
            len: 0,
            buckets: vec![NIL; 4],
            hasher,
            rng: seed,
            long_bytes: 0,
        };
        b.new_node(&[], 0.0, MAX_LEVEL);
        b
    }

    /// Allocates an arena slot for a node of `height` levels (all unlinked) holding `member`.
    fn new_node(&mut self, member: &[u8], score: f64, height: usize) -> u32 {
        let mut n = FREE_NODE;
        n.score = score;
        n.height = height as u8;
        let tall = height > INLINE_LEVELS;
        let cap = if tall {
            INLINE_MEMBER_TALL
        } else {
            INLINE_MEMBER
        };
        if member.len() <= cap {
            n.mlen = member.len() as u8;
            n.mem[..member.len()].copy_from_slice(member);
        } else {
            n.mlen = LONG;
            let b: Box<[u8]> = member.into();
            let li = match self.long_free.pop() {
                Some(i) => {
                    self.long[i as usize] = b;
                    i
                }
                None => {
                    self.long.push(b);
                    (self.long.len() - 1) as u32
                }
            };
            n.mem[..4].copy_from_slice(&li.to_le_bytes());
            self.long_bytes += member.len();
        }
        if tall {
            let empty = [EMPTY_LEVEL; MAX_LEVEL - INLINE_LEVELS];
            let ui = match self.upper_free.pop() {
                Some(i) => {
                    self.upper[i as usize] = empty;
                    i
                }
                None => {
                    self.upper.push(empty);
                    (self.upper.len() - 1) as u32
                }
            };
            n.mem[INLINE_MEMBER_TALL..].copy_from_slice(&ui.to_le_bytes());
        }
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = n;
                i
            }
            None => {
                self.nodes.push(n);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Returns node `x`'s slot (and its long member and upper levels) to the free lists.
    fn free_node(&mut self, x: u32) {
        let n = self.nodes[x as usize];
        if n.mlen == LONG {
            let li = idx4(&n.mem);
            self.long_bytes -= self.long[li].len();
            self.long[li] = Box::new([]);
            self.long_free.push(li as u32);
        }
        if usize::from(n.height) > INLINE_LEVELS {
            self.upper_free.push(upper_idx(&n) as u32);
        }
        self.nodes[x as usize] = FREE_NODE;
        self.free.push(x);
    }

    #[inline]
    fn n(&self, i: u32) -> &Node {
        &self.nodes[i as usize]
    }

    #[inline]
    fn nm(&mut self, i: u32) -> &mut Node {
        &mut self.nodes[i as usize]
    }

    /// The member bytes of node `x`.
    #[inline]
    fn member(&self, x: u32) -> &[u8] {
        let n = self.n(x);
        if n.mlen != LONG {
            &n.mem[..usize::from(n.mlen)]
        } else {
            &self.long[idx4(&n.mem)]
        }
    }

    #[inline]
    fn height(&self, x: u32) -> usize {
        usize::from(self.n(x).height)
    }

    /// Level `i` of node `x`'s tower.
    #[inline]
    fn lvl(&self, x: u32, i: usize) -> Level {
        let n = self.n(x);
        if i < INLINE_LEVELS {
            n.lv[i]
        } else {
            self.upper[upper_idx(n)][i - INLINE_LEVELS]
        }
    }

    #[inline]
    fn lvl_mut(&mut self, x: u32, i: usize) -> &mut Level {
        if i < INLINE_LEVELS {
            return &mut self.nodes[x as usize].lv[i];
        }
        let u = upper_idx(self.n(x));
        &mut self.upper[u][i - INLINE_LEVELS]
    }

    #[inline]
    fn fwd(&self, x: u32, lvl: usize) -> u32 {
        self.lvl(x, lvl).fwd
    }

    /// Starts the load of the node a descent standing on `p` at level `i` examines next if it
    /// goes down a level (`p`'s successor at level `i - 1`), while it examines `p`'s successor
    /// at level `i`: whichever way the compare goes, the next node's cache miss is then
    /// already under way. The loaded byte only feeds `acc` (a plain load standing in for a
    /// prefetch instruction, which safe Rust does not offer); levels below [`INLINE_LEVELS`]
    /// are in `p`'s own cache line, so finding the candidate costs nothing.
    #[inline(always)]
    fn touch_below(&self, p: u32, i: usize, acc: &mut u8) {
        if i > 0 {
            let d = self.lvl(p, i - 1).fwd;
            if d != NIL {
                *acc ^= self.n(d).height;
            }
        }
    }

    fn random_level(&mut self) -> usize {
        let mut lvl = 1;
        loop {
            // xorshift64*
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
            // p = 1/4 per level, 16 levels per draw.
            let mut bits = r >> 32;
            for _ in 0..16 {
                if bits & 3 != 0 || lvl >= MAX_LEVEL {
                    return lvl;
                }
                lvl += 1;
                bits >>= 2;
            }
        }
    }

    #[inline]
    fn bucket_of(&self, m: &[u8]) -> usize {
        (self.hasher.hash_one(m) as usize) & (self.buckets.len() - 1)
    }

    fn find(&self, m: &[u8]) -> Option<u32> {
        let mut x = self.buckets[self.bucket_of(m)];
        while x != NIL {
            if self.member(x) == m {
                return Some(x);
            }
            x = self.n(x).hnext;
        }
        None
    }

    fn hash_link(&mut self, x: u32) {
        let b = self.bucket_of(self.member(x));
        let head = self.buckets[b];
        self.nm(x).hnext = head;
        self.buckets[b] = x;
    }

    fn hash_unlink(&mut self, x: u32) {
        let b = self.bucket_of(self.member(x));
        let next = self.n(x).hnext;
        if self.buckets[b] == x {
            self.buckets[b] = next;
            return;
        }
        let mut p = self.buckets[b];
        while p != NIL {
            if self.n(p).hnext == x {
                self.nm(p).hnext = next;
                return;
            }
            p = self.n(p).hnext;
        }
    }

    fn rehash(&mut self, size: usize) {
        self.buckets = vec![NIL; size];
        // Walk the arena in index order (sequential memory) rather than the list; freed
        // slots have height 0.
        for x in 1..self.nodes.len() as u32 {
            if self.n(x).height > 0 {
                self.hash_link(x);
            }
        }
    }

    /// Whether node `x` orders before (`score`, `member`): scores first, the member bytes
    /// only on equal scores.
    #[inline]
    fn less(&self, x: u32, score: f64, member: &[u8]) -> bool {
        let s = self.n(x).score;
        if s < score {
            true
        } else if s > score {
            false
        } else {
            self.member(x) < member
        }
    }

    /// Inserts a member known to be absent.
    fn insert(&mut self, member: &[u8], score: f64) {
        let lvl = self.random_level();
        let new = self.new_node(member, score, lvl);
        self.link(new);
        self.hash_link(new);
        if self.len > self.buckets.len() {
            let size = self.buckets.len() * 2;
            self.rehash(size);
        }
    }

    /// Gives node `x` a new score: in place when its neighbours keep it in order (Redis's
    /// zslUpdateScore shortcut), else by moving the node to its new place.
    fn update_score(&mut self, x: u32, score: f64) {
        let (back, fwd) = (self.n(x).back, self.fwd(x, 0));
        let m = self.member(x);
        let back_ok = back == NIL || self.less(back, score, m);
        let fwd_ok = fwd == NIL || {
            let fs = self.n(fwd).score;
            score < fs || (score == fs && m < self.member(fwd))
        };
        if back_ok && fwd_ok {
            self.nm(x).score = score;
            return;
        }
        self.move_node(x, score);
    }

    /// Moves node `x` to the place of `score`: one pass finds both its predecessors (for
    /// the unlink) and those of its new place, stepping the two searches in turn so that
    /// their cache misses overlap (the searches are memory bound: each step is a load of a
    /// node that is rarely in cache). Each search goes down a level on its own, without
    /// waiting for the other to finish the level, so the pass takes as many steps as the
    /// longer search rather than the sum over levels of the longer of the two. The new
    /// place's search runs on the list with `x` still in it and is then corrected for `x`'s
    /// removal.
    fn move_node(&mut self, x: u32, score: f64) {
        let mut ua = [HEAD; MAX_LEVEL];
        let mut ra = [0u32; MAX_LEVEL];
        let mut ub = [HEAD; MAX_LEVEL];
        let mut rb = [0u32; MAX_LEVEL];
        {
            let (old, m) = (self.n(x).score, self.member(x));
            let (mut pa, mut pb, mut ka, mut kb) = (HEAD, HEAD, 0u32, 0u32);
            // Levels each search has still to finish (its current level is one below).
            let (mut na, mut nb) = (self.level, self.level);
            let mut acc = 0u8;
            while na > 0 || nb > 0 {
                if na > 0 {
                    let i = na - 1;
                    let la = self.lvl(pa, i);
                    self.touch_below(pa, i, &mut acc);
                    if la.fwd != NIL && la.fwd != x && self.less(la.fwd, old, m) {
                        ka += la.span;
                        pa = la.fwd;
                    } else {
                        ua[i] = pa;
                        ra[i] = ka;
                        na = i;
                    }
                }
                if nb > 0 {
                    let i = nb - 1;
                    let lb = self.lvl(pb, i);
                    self.touch_below(pb, i, &mut acc);
                    if lb.fwd != NIL && self.less(lb.fwd, score, m) {
                        kb += lb.span;
                        pb = lb.fwd;
                    } else {
                        ub[i] = pb;
                        rb[i] = kb;
                        nb = i;
                    }
                }
            }
            std::hint::black_box(acc);
            // Without x: a predecessor that is x becomes x's own predecessor, and the rank
            // of one after x drops by one.
            for i in 0..self.level {
                if ub[i] == x {
                    ub[i] = ua[i];
                    rb[i] = ra[i];
                } else if ub[i] != HEAD && !self.less(ub[i], old, m) {
                    rb[i] -= 1;
                }
            }
        }
        self.unlink_at(x, &ua);
        self.nm(x).score = score;
        self.link_at(x, ub, rb);
    }

    /// Takes node `x` (present) out of the skiplist only: its member, hash entry and tower
    /// stay, for [`Big::link`] to put it back (a score update moves the node instead of
    /// freeing it and allocating a new one, as Redis's zslUpdateScore does).
    fn unlink(&mut self, x: u32) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut p = HEAD;
        {
            let (score, member) = (self.n(x).score, self.member(x));
            let mut acc = 0u8;
            for (i, slot) in update.iter_mut().enumerate().take(self.level).rev() {
                loop {
                    let f = self.fwd(p, i);
                    self.touch_below(p, i, &mut acc);
                    if f != NIL && f != x && self.less(f, score, member) {
                        p = f;
                    } else {
                        break;
                    }
                }
                *slot = p;
            }
            std::hint::black_box(acc);
        }
        self.unlink_at(x, &update);
    }

    /// [`Big::unlink`] once `update` holds `x`'s predecessor at each level (below the
    /// list's level).
    fn unlink_at(&mut self, x: u32, update: &[u32; MAX_LEVEL]) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let ul = self.lvl(u, i);
            if ul.fwd == x {
                let xl = self.lvl(x, i);
                *self.lvl_mut(u, i) = Level {
                    fwd: xl.fwd,
                    span: ul.span + xl.span - 1,
                };
            } else {
                self.lvl_mut(u, i).span -= 1;
            }
        }
        let f0 = self.fwd(x, 0);
        let back = self.n(x).back;
        if f0 != NIL {
            self.nm(f0).back = back;
        } else {
            self.tail = back;
        }
        while self.level > 1 && self.fwd(HEAD, self.level - 1) == NIL {
            self.level -= 1;
        }
        self.len -= 1;
    }

    /// Puts node `new` (fresh from [`Big::insert`], or taken out by [`Big::unlink`]) into the
    /// skiplist at the place of its score, with its tower's height unchanged.
    fn link(&mut self, new: u32) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        {
            let (score, member) = (self.n(new).score, self.member(new));
            let mut r = 0u32;
            let mut acc = 0u8;
            for i in (0..self.level).rev() {
                loop {
                    let l = self.lvl(x, i);
                    self.touch_below(x, i, &mut acc);
                    if l.fwd != NIL && self.less(l.fwd, score, member) {
                        r += l.span;
                        x = l.fwd;
                    } else {
                        break;
                    }
                }
                rank[i] = r;
                update[i] = x;
            }
            std::hint::black_box(acc);
        }
        self.link_at(new, update, rank);
    }

    /// [`Big::link`] once `update` holds the predecessor of `new`'s place at each level of
    /// the list and `rank` their ranks (1-based, the head 0).
    fn link_at(&mut self, new: u32, mut update: [u32; MAX_LEVEL], mut rank: [u32; MAX_LEVEL]) {
        let lvl = self.height(new);
        if lvl > self.level {
            for i in self.level..lvl {
                rank[i] = 0;
                update[i] = HEAD;
                self.lvl_mut(HEAD, i).span = self.len as u32;
            }
            self.level = lvl;
        }
        for i in 0..lvl {
            let u = update[i];
            let ul = self.lvl(u, i);
            let d = rank[0] - rank[i];
            *self.lvl_mut(new, i) = Level {
                fwd: ul.fwd,
                span: ul.span - d,
            };
            *self.lvl_mut(u, i) = Level {
                fwd: new,
                span: d + 1,
            };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(lvl) {
            self.lvl_mut(u, i).span += 1;
        }
        self.nm(new).back = if update[0] == HEAD { NIL } else { update[0] };
        let f0 = self.fwd(new, 0);
        if f0 != NIL {
            self.nm(f0).back = new;
        } else {
            self.tail = new;
        }
        self.len += 1;
    }

    /// Removes node `x` (present) from both structures.
    fn remove_node(&mut self, x: u32) {
        self.unlink(x);
        self.hash_unlink(x);
        self.free_node(x);
        if self.len * 8 < self.buckets.len() && self.buckets.len() > 4 {
            let size = (self.len.next_power_of_two()).max(4);
            self.rehash(size);
        }
    }

    /// Number of leading elements for which `pred` holds (`pred` must hold on a prefix).
    fn count_prefix(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut x = HEAD;
        let mut n = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lvl(x, i);
                if l.fwd != NIL && pred(self.n(l.fwd).score, self.member(l.fwd)) {
                    n += l.span as usize;
                    x = l.fwd;
                } else {
                    break;
                }
            }
        }
        n
    }

    /// Node with 0-based rank `r`.
    fn select(&self, r: usize) -> Option<u32> {
        if r >= self.len {
            return None;
        }
        let target = r + 1;
        let mut x = HEAD;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lvl(x, i);
                let span = l.span as usize;
                if l.fwd != NIL && traversed + span <= target {
                    traversed += span;
                    x = l.fwd;
                } else {
                    break;
                }
            }
            if traversed == target {
                return Some(x);
            }
        }
        None
    }

    /// 0-based rank of node `x`.
    fn rank_of(&self, x: u32) -> usize {
        let (score, member) = (self.n(x).score, self.member(x));
        self.count_prefix(|s, m| cmp_pair(s, m, score, member) == Ordering::Less)
    }
}

#[derive(Clone, Debug)]
enum Repr {
    Pack(Packed),
    Skip(Box<Big>),
}

/// A sorted set (`listpack` when small, `skiplist` when big).
#[derive(Clone, Debug)]
pub struct ZSet {
    repr: Repr,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet {
            repr: Repr::Pack(Packed::new()),
        }
    }
}

/// The cursor [`ZSet::scan_step`] returns when the iteration is complete (and the one that
/// starts it).
pub const SCAN_DONE: u64 = 0;

impl ZSet {
    /// An empty value (listpack encoded).
    pub fn new() -> ZSet {
        ZSet::default()
    }

    /// An empty value in the encoding Redis's `zsetTypeCreate` picks for `size_hint` elements
    /// whose longest member has `max_member_len` bytes.
    pub fn with_hint(size_hint: usize, max_member_len: usize, limits: &EncodingLimits) -> ZSet {
        if limits.zset_max_listpack_entries == 0
            || size_hint > limits.zset_max_listpack_entries
            || max_member_len > limits.zset_max_listpack_value
        {
            ZSet {
                repr: Repr::Skip(Box::new(Big::new())),
            }
        } else {
            ZSet::new()
        }
    }

    /// Redis's `zsetTypeMaybeConvert`: a listpack about to receive `size_hint` elements, the
    /// longest of `max_member_len` bytes, becomes a skiplist when either exceeds the limits.
    pub fn maybe_convert(
        &mut self,
        size_hint: usize,
        max_member_len: usize,
        limits: &EncodingLimits,
    ) {
        if matches!(self.repr, Repr::Pack(_))
            && (size_hint > limits.zset_max_listpack_entries
                || max_member_len > limits.zset_max_listpack_value)
        {
            self.convert_to_skiplist();
        }
    }

    /// Builds a set from distinct members (any order), in the smallest encoding the limits
    /// allow (results of ZUNIONSTORE, ZRANGESTORE, ...).
    pub fn from_pairs(mut pairs: Vec<(Vec<u8>, f64)>, limits: &EncodingLimits) -> ZSet {
        let maxlen = pairs.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        if pairs.len() <= limits.zset_max_listpack_entries
            && maxlen <= limits.zset_max_listpack_value
        {
            pairs.sort_by(|a, b| cmp_pair(a.1, &a.0, b.1, &b.0));
            let mut p = Packed::new();
            for (m, s) in &pairs {
                let s = if *s == 0.0 { 0.0 } else { *s };
                p.push_back(m);
                p.push_back(&score_bytes(s));
            }
            ZSet {
                repr: Repr::Pack(p),
            }
        } else {
            let mut b = Big::new();
            let want = pairs.len().next_power_of_two().max(4);
            b.rehash(want);
            for (m, s) in &pairs {
                b.insert(m, *s);
            }
            ZSet {
                repr: Repr::Skip(Box::new(b)),
            }
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.len() / 2,
            Repr::Skip(b) => b.len,
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The OBJECT ENCODING name.
    pub fn encoding_name(&self) -> &'static str {
        match &self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Skip(_) => "skiplist",
        }
    }

    /// Heap bytes owned (for MEMORY USAGE / INFO).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.heap_size(),
            Repr::Skip(b) => {
                std::mem::size_of::<Big>()
                    + b.nodes.capacity() * std::mem::size_of::<Node>()
                    + b.upper.capacity() * std::mem::size_of::<Upper>()
                    + b.long.capacity() * std::mem::size_of::<Box<[u8]>>()
                    + b.long_bytes
                    + b.buckets.capacity() * 4
                    + (b.free.capacity() + b.upper_free.capacity() + b.long_free.capacity()) * 4
            }
        }
    }

    /// How many separate allocations freeing this value costs (lazy-free decisions): one for
    /// a listpack, the element count for a skiplist (as Redis counts it).
    pub fn free_effort(&self) -> usize {
        match &self.repr {
            Repr::Pack(_) => 1,
            Repr::Skip(b) => b.len.max(1),
        }
    }

    /// Every (member, score) pair in ascending score order (SORT, RDB use this; keep the
    /// signature).
    pub fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        self.range(0, self.len(), false, |m, s| f(m, s));
    }

    /// Converts a listpack to a skiplist (no-op when already one).
    pub fn convert_to_skiplist(&mut self) {
        if let Repr::Pack(p) = &self.repr {
            let mut b = Big::new();
            b.rehash((p.len() / 2).next_power_of_two().max(4));
            let mut it = p.iter();
            while let (Some(m), Some(s)) = (it.next(), it.next()) {
                b.insert(m, score_from(s));
            }
            self.repr = Repr::Skip(Box::new(b));
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Pack(p) => {
                let off = p.find(member, 2)?;
                let (_, next) = p.at(off)?;
                p.get_at(next).map(score_from)
            }
            Repr::Skip(b) => b.find(member).map(|x| b.n(x).score),
        }
    }

    /// ZADD's read-decide-write on one member with a single member lookup when the set is a
    /// skiplist: `decide` receives the current score (`None` when absent) and returns the score
    /// to set, or `None` to leave the set unchanged. Then as [`ZSet::insert`]. Returns the
    /// previous score.
    pub fn upsert_with<E>(
        &mut self,
        member: &[u8],
        limits: &EncodingLimits,
        decide: impl FnOnce(Option<f64>) -> Result<Option<f64>, E>,
    ) -> Result<Option<f64>, E> {
        if let Repr::Skip(b) = &mut self.repr {
            return match b.find(member) {
                Some(x) => {
                    let old = b.n(x).score;
                    if let Some(score) = decide(Some(old))? {
                        b.update_score(x, score);
                    }
                    Ok(Some(old))
                }
                None => {
                    if let Some(score) = decide(None)? {
                        b.insert(member, score);
                    }
                    Ok(None)
                }
            };
        }
        let old = self.score(member);
        if let Some(score) = decide(old)? {
            self.insert(member, score, limits);
        }
        Ok(old)
    }

    /// Sets the score of `member` (adding it when absent), converting to a skiplist when the
    /// limits require it. Returns the previous score.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: &EncodingLimits) -> Option<f64> {
        if let Repr::Skip(b) = &mut self.repr {
            return match b.find(member) {
                Some(x) => {
                    let old = b.n(x).score;
                    b.update_score(x, score);
                    Some(old)
                }
                None => {
                    b.insert(member, score);
                    None
                }
            };
        }
        let old = self.remove(member);
        if let Repr::Pack(p) = &self.repr {
            if old.is_none()
                && (p.len() / 2 + 1 > limits.zset_max_listpack_entries
                    || member.len() > limits.zset_max_listpack_value)
            {
                self.convert_to_skiplist();
            }
        }
        match &mut self.repr {
            Repr::Pack(p) => {
                // A listpack keeps no negative zero (Redis stores the score's text "-0",
                // which reads back as the integer 0); a skiplist keeps the double as is.
                let score = if score == 0.0 { 0.0 } else { score };
                let mut pos = p.end();
                let mut off = 0;
                while let Some((m, next)) = p.at(off) {
                    let s = p.get_at(next).map(score_from).unwrap_or(0.0);
                    if cmp_pair(s, m, score, member) == Ordering::Greater {
                        pos = off;
                        break;
                    }
                    off = p.at(next).map(|x| x.1).unwrap_or(p.end());
                }
                p.insert_at(pos, member);
                let (_, after) = p.at(pos).unwrap_or((&[], p.end()));
                p.insert_at(after, &score_bytes(score));
            }
            Repr::Skip(b) => b.insert(member, score),
        }
        old
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Pack(p) => {
                let off = p.find(member, 2)?;
                let (_, next) = p.at(off)?;
                let s = p.get_at(next).map(score_from)?;
                p.remove_range(off, 2);
                Some(s)
            }
            Repr::Skip(b) => {
                let x = b.find(member)?;
                let s = b.n(x).score;
                b.remove_node(x);
                Some(s)
            }
        }
    }

    /// The 0-based ascending rank of `member` and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.repr {
            Repr::Pack(p) => {
                let mut it = p.iter();
                let mut r = 0;
                while let (Some(m), Some(s)) = (it.next(), it.next()) {
                    if m == member {
                        return Some((r, score_from(s)));
                    }
                    r += 1;
                }
                None
            }
            Repr::Skip(b) => {
                let x = b.find(member)?;
                Some((b.rank_of(x), b.n(x).score))
            }
        }
    }

    fn count_prefix(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Pack(p) => {
                let mut it = p.iter();
                let mut n = 0;
                while let (Some(m), Some(s)) = (it.next(), it.next()) {
                    if !pred(score_from(s), m) {
                        break;
                    }
                    n += 1;
                }
                n
            }
            Repr::Skip(b) => b.count_prefix(pred),
        }
    }

    /// Ranks `[lo, hi)` of the elements whose score is in `r`.
    pub fn score_ranks(&self, r: &ScoreRange) -> (usize, usize) {
        if r.is_empty() {
            return (0, 0);
        }
        let lo = self.count_prefix(|s, _| !r.gte_min(s));
        let hi = self.count_prefix(|s, _| r.lte_max(s));
        (lo, hi.max(lo))
    }

    /// Ranks `[lo, hi)` of the elements whose member is in `r` (meaningful when every score
    /// is equal, as Redis documents).
    pub fn lex_ranks(&self, r: &LexRange) -> (usize, usize) {
        if r.is_empty() {
            return (0, 0);
        }
        let lo = self.count_prefix(|_, m| !r.gte_min(m));
        let hi = self.count_prefix(|_, m| r.lte_max(m));
        (lo, hi.max(lo))
    }

    /// The element with 0-based ascending rank `r`.
    pub fn by_rank(&self, r: usize) -> Option<(&[u8], f64)> {
        match &self.repr {
            Repr::Pack(p) => {
                let off = p.offset_of((2 * r) as i64)?;
                let (m, next) = p.at(off)?;
                Some((m, score_from(p.get_at(next)?)))
            }
            Repr::Skip(b) => {
                let x = b.select(r)?;
                Some((b.member(x), b.n(x).score))
            }
        }
    }

    /// Calls `f` on the elements of ranks `[start, end)`, ascending, or descending when `rev`.
    pub fn range(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match &self.repr {
            Repr::Pack(p) => {
                if rev {
                    let mut it = p.iter().rev();
                    let total = p.len() / 2;
                    let mut r = total;
                    while let (Some(s), Some(m)) = (it.next(), it.next()) {
                        r -= 1;
                        if r < start {
                            break;
                        }
                        if r < end {
                            f(m, score_from(s));
                        }
                    }
                } else {
                    let mut it = p.iter();
                    let mut r = 0;
                    while let (Some(m), Some(s)) = (it.next(), it.next()) {
                        if r >= end {
                            break;
                        }
                        if r >= start {
                            f(m, score_from(s));
                        }
                        r += 1;
                    }
                }
            }
            Repr::Skip(b) => {
                let first = if rev { end - 1 } else { start };
                let mut x = match b.select(first) {
                    Some(x) => x,
                    None => return,
                };
                for _ in start..end {
                    if x == NIL {
                        break;
                    }
                    let n = b.n(x);
                    f(b.member(x), n.score);
                    x = if rev { n.back } else { n.lv[0].fwd };
                }
            }
        }
    }

    /// Removes the elements of ranks `[start, end)`; returns them in ascending order.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::new();
        self.range(start, end, false, |m, s| out.push((m.to_vec(), s)));
        if out.is_empty() {
            return out;
        }
        match &mut self.repr {
            Repr::Pack(p) => {
                if let Some(off) = p.offset_of((2 * start) as i64) {
                    p.remove_range(off, 2 * out.len());
                }
            }
            Repr::Skip(b) => {
                for (m, _) in &out {
                    if let Some(x) = b.find(m) {
                        b.remove_node(x);
                    }
                }
            }
        }
        out
    }

    /// Incremental iteration for ZSCAN over a skiplist: visits one hash bucket of `cursor`
    /// and returns the next cursor ([`SCAN_DONE`] when finished). A listpack is visited whole
    /// and returns [`SCAN_DONE`].
    pub fn scan_step(&self, cursor: u64, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match &self.repr {
            Repr::Pack(_) => {
                self.for_each(f);
                SCAN_DONE
            }
            Repr::Skip(b) => {
                let mask = (b.buckets.len() - 1) as u64;
                let mut x = b.buckets[(cursor & mask) as usize];
                while x != NIL {
                    f(b.member(x), b.n(x).score);
                    x = b.n(x).hnext;
                }
                let mut v = cursor | !mask;
                v = v.reverse_bits();
                v = v.wrapping_add(1);
                v.reverse_bits()
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[derive(PartialEq)]
    struct K(f64, Vec<u8>);
    impl Eq for K {}
    impl PartialOrd for K {
        fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for K {
        fn cmp(&self, o: &Self) -> Ordering {
            cmp_pair(self.0, &self.1, o.0, &o.1)
        }
    }

    fn check(z: &ZSet, model: &BTreeSet<K>) {
        assert_eq!(z.len(), model.len());
        let mut got = Vec::new();
        z.for_each(|m, s| got.push((m.to_vec(), s)));
        let want: Vec<_> = model.iter().map(|k| (k.1.clone(), k.0)).collect();
        assert_eq!(got, want);
        let mut rev = Vec::new();
        z.range(0, z.len(), true, |m, s| rev.push((m.to_vec(), s)));
        rev.reverse();
        assert_eq!(rev, want);
        for (i, (m, s)) in want.iter().enumerate() {
            assert_eq!(z.rank(m), Some((i, *s)));
            assert_eq!(z.score(m), Some(*s));
            let (bm, bs) = z.by_rank(i).unwrap();
            assert_eq!((bm, bs), (&m[..], *s));
        }
    }

    /// A xorshift64 generator from `seed` (deterministic test input).
    fn xorshift(mut rng: u64) -> impl FnMut() -> u64 {
        move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        }
    }

    /// Limits under which every sorted set is a skiplist.
    fn skiplist_only() -> EncodingLimits {
        EncodingLimits {
            zset_max_listpack_entries: 0,
            ..EncodingLimits::default()
        }
    }

    fn run_model(limits: EncodingLimits, seed: u64, ops: usize) {
        run_model_with(limits, seed, ops, 0);
    }

    /// The model test with members padded to `pad` + (0..12) bytes (0: short members), so a
    /// skiplist sees inline members, members at the inline limits of short and tall nodes,
    /// and out-of-line ones.
    fn run_model_with(limits: EncodingLimits, seed: u64, ops: usize, pad: usize) {
        let mut z = ZSet::new();
        let mut model: BTreeSet<K> = BTreeSet::new();
        let mut next = xorshift(seed);
        for i in 0..ops {
            let id = next() % 200;
            let m = if pad == 0 {
                format!("m{id}").into_bytes()
            } else {
                let mut m = format!("m{id}").into_bytes();
                m.resize(pad + (id % 12) as usize, b'.');
                m
            };
            let r = next() % 10;
            if r < 3 {
                let s = (next() % 20) as f64 - 10.0;
                let old = z.insert(&m, s, &limits);
                let mold = model.iter().find(|k| k.1 == m).map(|k| k.0);
                assert_eq!(old, mold);
                if let Some(o) = mold {
                    model.remove(&K(o, m.clone()));
                }
                model.insert(K(s, m));
            } else if r < 6 {
                // upsert_with, sometimes deciding to leave the member alone (ZADD GT/NX/XX).
                let s = (next() % 20) as f64 - 10.0;
                let keep = next().is_multiple_of(4);
                let mold = model.iter().find(|k| k.1 == m).map(|k| k.0);
                let mut seen = None;
                let old = z
                    .upsert_with(&m, &limits, |cur| {
                        seen = Some(cur);
                        Ok::<_, ()>((!keep).then_some(s))
                    })
                    .unwrap();
                assert_eq!((old, seen), (mold, Some(mold)));
                if !keep {
                    if let Some(o) = mold {
                        model.remove(&K(o, m.clone()));
                    }
                    model.insert(K(s, m));
                }
            } else if r < 9 {
                let old = z.remove(&m);
                let mold = model.iter().find(|k| k.1 == m).map(|k| k.0);
                assert_eq!(old, mold);
                if let Some(o) = mold {
                    model.remove(&K(o, m));
                }
            } else {
                let a = (next() % 20) as usize;
                let b = a + (next() % 10) as usize;
                let got = z.remove_ranks(a, b);
                let want: Vec<_> = model
                    .iter()
                    .skip(a)
                    .take(b - a)
                    .map(|k| (k.1.clone(), k.0))
                    .collect();
                assert_eq!(got, want);
                for (m, s) in want {
                    model.remove(&K(s, m));
                }
            }
            if i % 50 == 0 {
                check(&z, &model);
                let r = ScoreRange {
                    min: -3.0,
                    max: 4.0,
                    minex: true,
                    maxex: false,
                };
                let (lo, hi) = z.score_ranks(&r);
                let want = model.iter().filter(|k| k.0 > -3.0 && k.0 <= 4.0).count();
                assert_eq!(hi - lo, want);
            }
        }
        check(&z, &model);
    }

    #[test]
    fn listpack_matches_model() {
        run_model(
            EncodingLimits {
                zset_max_listpack_entries: 100_000,
                ..EncodingLimits::default()
            },
            7,
            3000,
        );
    }

    #[test]
    fn skiplist_matches_model() {
        run_model(skiplist_only(), 11, 20000);
    }

    #[test]
    fn skiplist_matches_model_across_member_lengths() {
        for (seed, pad) in [(3, 12), (5, 17), (9, 30)] {
            run_model_with(skiplist_only(), seed, 8000, pad);
        }
    }

    /// A bigger skiplist (towers up to ~7 levels, many of them in upper slots) under random
    /// moves, then removals: order, ranks and spans checked against a model at the end.
    #[test]
    fn big_skiplist_moves_keep_ranks() {
        let limits = skiplist_only();
        let mut next = xorshift(0x2545_F491);
        let mut z = ZSet::new();
        let mut scores = std::collections::HashMap::new();
        for _ in 0..40_000 {
            let id = next() % 4000;
            let m = format!("element:{id:012}").into_bytes();
            let s = (next() % 1000) as f64;
            assert_eq!(z.insert(&m, s, &limits), scores.insert(m, s));
        }
        for id in (0..4000).step_by(3) {
            let m = format!("element:{id:012}").into_bytes();
            assert_eq!(z.remove(&m), scores.remove(&m));
        }
        let model: BTreeSet<K> = scores.into_iter().map(|(m, s)| K(s, m)).collect();
        check(&z, &model);
    }

    /// Moves among heavy ties (3 distinct scores over 3000 members, so most places are decided
    /// by the member bytes): the two searches of a move end at different depths and levels,
    /// and the new place is often next to the old one or the old one itself.
    #[test]
    fn big_skiplist_moves_among_ties_keep_order() {
        let limits = skiplist_only();
        let mut next = xorshift(0x9E37_79B9);
        let mut z = ZSet::new();
        let mut scores = std::collections::HashMap::new();
        for round in 0..30_000 {
            let id = next() % 3000;
            let m = format!("element:{id:012}").into_bytes();
            let s = (next() % 3) as f64;
            assert_eq!(z.insert(&m, s, &limits), scores.insert(m.clone(), s));
            if round % 5000 == 4999 {
                let model: BTreeSet<K> = scores.iter().map(|(m, s)| K(*s, m.clone())).collect();
                check(&z, &model);
                for (i, k) in model.iter().enumerate().step_by(97) {
                    assert_eq!(z.rank(&k.1), Some((i, k.0)));
                }
            }
        }
    }

    #[test]
    fn skiplist_node_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Node>(), 64);
        assert_eq!(std::mem::align_of::<Node>(), 64);
    }

    #[test]
    fn converts_on_entries_and_value() {
        let l = EncodingLimits {
            zset_max_listpack_entries: 3,
            zset_max_listpack_value: 4,
            ..EncodingLimits::default()
        };
        let mut z = ZSet::new();
        for m in ["a", "b", "c"] {
            z.insert(m.as_bytes(), 1.0, &l);
        }
        assert_eq!(z.encoding_name(), "listpack");
        z.insert(b"d", 1.0, &l);
        assert_eq!(z.encoding_name(), "skiplist");
        let mut z = ZSet::new();
        z.insert(b"abcde", 1.0, &l);
        assert_eq!(z.encoding_name(), "skiplist");
        let z = ZSet::from_pairs(vec![(b"a".to_vec(), 2.0), (b"b".to_vec(), 1.0)], &l);
        assert_eq!(z.encoding_name(), "listpack");
        assert_eq!(z.by_rank(0), Some((&b"b"[..], 1.0)));
    }

    #[test]
    fn scan_visits_everything() {
        let l = EncodingLimits::default();
        let mut z = ZSet::new();
        for i in 0..1000 {
            z.insert(format!("m{i}").as_bytes(), i as f64, &l);
        }
        let mut seen = BTreeSet::new();
        let mut c = 0;
        loop {
            c = z.scan_step(c, |m, _| {
                seen.insert(m.to_vec());
            });
            if c == SCAN_DONE {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn lex_and_score_ranges() {
        let l = EncodingLimits::default();
        let mut z = ZSet::new();
        for m in ["a", "b", "c", "d"] {
            z.insert(m.as_bytes(), 0.0, &l);
        }
        let r = LexRange {
            min: LexBound::Excl(b"a".to_vec()),
            max: LexBound::Incl(b"c".to_vec()),
        };
        assert_eq!(z.lex_ranks(&r), (1, 3));
        let r = ScoreRange {
            min: f64::NEG_INFINITY,
            max: 0.0,
            minex: false,
            maxex: true,
        };
        assert_eq!(z.score_ranks(&r), (0, 0));
    }
}
