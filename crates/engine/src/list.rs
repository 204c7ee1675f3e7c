//! Lists: OBJECT ENCODING `listpack` while small, `quicklist` (a deque of packed nodes) when big,
//! with Redis 7.2's conversion rules.
//!
//! # Representation
//! Both encodings are a deque of [`Packed`] nodes: the `listpack` encoding is exactly one node
//! (none when empty), the `quicklist` encoding any number of non-empty nodes. Pushes and pops at
//! either end touch one node (O(1) amortised); index lookups skip whole nodes by their counts.
//!
//! # Sizes and conversions
//! Redis decides node splits and encoding conversions from the byte size of its listpacks
//! (`lpBytes`), so each node tracks the size the same elements would take in a Redis listpack
//! ([`lp_entry_size`]: integers in their compact encodings, strings with their length header and
//! back-length), independently of how [`Packed`] stores them. With that the rules below follow
//! Redis 7.2 (`t_list.c` / `quicklist.c`):
//!
//! - `list-max-listpack-size` (the *fill*): positive = at most that many entries per node (and
//!   never more than 8 KiB, the safety limit); -1..-5 = at most 4/8/16/32/64 KiB per node;
//! - a listpack becomes a quicklist before an addition that would make it exceed one node's
//!   limit ([`List::convert_for_append`], `listTypeTryConvertListpack`);
//! - a quicklist becomes a listpack again after a removal when it has one node left holding at
//!   most half of a node's limit, in bytes and in entries ([`List::convert_for_shrink`]);
//! - a new quicklist keeps the fill in force when it was created (as `quicklistSetOptions`),
//!   new nodes are started when the end node cannot take an element (`_quicklistNodeAllowInsert`,
//!   with its 8-byte overestimate), middle inserts split and merge nodes as `_quicklistInsert`.

use crate::entry::parse_i64_strict;
use crate::packed::Packed;
use std::collections::VecDeque;

/// Header (6) + end marker (1) of a Redis listpack.
const LP_OVERHEAD: usize = 7;
/// `SIZE_SAFETY_LIMIT`: count-limited nodes never grow beyond this many bytes.
const SIZE_SAFETY_LIMIT: usize = 8192;
/// `SIZE_ESTIMATE_OVERHEAD`: the per-insert overestimate of `_quicklistNodeAllowInsert`.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// The largest fill a quicklist keeps (`FILL_MAX`).
const FILL_MAX: i64 = (1 << 15) - 1;
/// Byte limits of fills -1..-5.
const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// Bytes a Redis listpack uses for the back-length of an entry of `l` bytes.
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Bytes element `s` takes in a Redis listpack (encoding header, data, back-length).
pub fn lp_entry_size(s: &[u8]) -> usize {
    let enc = match parse_i64_strict(s) {
        Some(v) if (0..=127).contains(&v) => 1,
        Some(v) if (-4096..=4095).contains(&v) => 2,
        Some(v) if i16::try_from(v).is_ok() => 3,
        Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => 4,
        Some(v) if i32::try_from(v).is_ok() => 5,
        Some(_) => 9,
        None if s.len() < 64 => 1 + s.len(),
        None if s.len() < 4096 => 2 + s.len(),
        None => 5 + s.len(),
    };
    enc + backlen_size(enc)
}

/// (byte limit, count limit) of one node for a fill (`quicklistNodeLimit`).
fn node_limit(fill: i64) -> (usize, usize) {
    if fill >= 0 {
        (usize::MAX, if fill == 0 { 1 } else { fill as usize })
    } else {
        let i = ((-fill - 1) as usize).min(OPTIMIZATION_LEVEL.len() - 1);
        (OPTIMIZATION_LEVEL[i], usize::MAX)
    }
}

/// Whether a node of `bytes` bytes and `count` entries is over the fill's limit
/// (`quicklistNodeExceedsLimit`).
fn exceeds_limit(fill: i64, bytes: usize, count: usize) -> bool {
    let (sz, n) = node_limit(fill);
    if sz != usize::MAX {
        bytes > sz
    } else {
        bytes > SIZE_SAFETY_LIMIT || count > n
    }
}

/// Bytes of an empty Redis listpack (header and end marker): a `listpack` list of elements
/// `e` takes `LISTPACK_EMPTY_BYTES + Σ lp_entry_size(e)` bytes.
pub const LISTPACK_EMPTY_BYTES: usize = LP_OVERHEAD;

/// Whether adding `items` to a `listpack` list of `len` elements taking `lp_bytes` bytes (as
/// `lpBytes` counts them) converts it to a `quicklist` under fill `fill`
/// (`listTypeTryConversionAppend`: the raw lengths of the new elements are added). The rule of
/// [`List::convert_for_append`], for callers that keep a list elsewhere (the disk engine).
pub fn append_converts(fill: i64, lp_bytes: usize, len: usize, items: &[&[u8]]) -> bool {
    let add: usize = items.iter().map(|s| s.len()).sum();
    exceeds_limit(fill, lp_bytes + add, len + items.len())
}

/// One packed node and its Redis listpack size.
#[derive(Clone, Debug, Default)]
struct Node {
    p: Packed,
    /// What `lpBytes` would say for the same elements.
    bytes: usize,
}

impl Node {
    fn new() -> Node {
        Node {
            p: Packed::new(),
            bytes: LP_OVERHEAD,
        }
    }

    fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Node {
        let mut n = Node::new();
        for s in items {
            n.push_back(s);
        }
        n
    }

    fn len(&self) -> usize {
        self.p.len()
    }

    fn push_back(&mut self, s: &[u8]) {
        self.bytes += lp_entry_size(s);
        self.p.push_back(s);
    }

    fn push_front(&mut self, s: &[u8]) {
        self.bytes += lp_entry_size(s);
        self.p.push_front(s);
    }

    fn pop_front(&mut self) -> Option<Vec<u8>> {
        let v = self.p.pop_front()?;
        self.bytes -= lp_entry_size(&v);
        Some(v)
    }

    fn pop_back(&mut self) -> Option<Vec<u8>> {
        let v = self.p.pop_back()?;
        self.bytes -= lp_entry_size(&v);
        Some(v)
    }

    /// Removes the element at byte offset `off`; returns `off` (now the next element).
    fn remove_at(&mut self, off: usize) -> usize {
        if let Some(s) = self.p.get_at(off) {
            self.bytes -= lp_entry_size(s);
            self.p.remove_at(off);
        }
        off
    }

    fn insert_at(&mut self, off: usize, s: &[u8]) {
        self.bytes += lp_entry_size(s);
        self.p.insert_at(off, s);
    }

    fn replace_at(&mut self, off: usize, s: &[u8]) {
        if let Some(old) = self.p.get_at(off) {
            self.bytes = self.bytes - lp_entry_size(old) + lp_entry_size(s);
            self.p.replace_at(off, s);
        }
    }

    /// Removes `n` elements starting at element index `i`.
    fn remove_range(&mut self, i: usize, n: usize) {
        let Some(off) = self.p.offset_of(i as i64) else {
            return;
        };
        let mut end = off;
        for _ in 0..n {
            match self.p.at(end) {
                Some((s, next)) => {
                    self.bytes -= lp_entry_size(s);
                    end = next;
                }
                None => break,
            }
        }
        self.p.remove_range(off, n);
    }

    /// Whether this node may take one more element of `sz` bytes (`_quicklistNodeAllowInsert`).
    fn allow_insert(&self, fill: i64, sz: usize) -> bool {
        !exceeds_limit(
            fill,
            self.bytes + sz + SIZE_ESTIMATE_OVERHEAD,
            self.len() + 1,
        )
    }
}

/// Whether nodes `a` and `b` may merge (`_quicklistNodeAllowMerge`).
fn allow_merge(fill: i64, a: &Node, b: &Node) -> bool {
    !exceeds_limit(fill, a.bytes + b.bytes - LP_OVERHEAD, a.len() + b.len())
}

/// A list (OBJECT ENCODING `listpack` when small, `quicklist` when big).
#[derive(Clone, Debug, Default)]
pub struct List {
    /// One node (or none) when `quick` is false; non-empty nodes otherwise.
    nodes: VecDeque<Node>,
    /// Total elements.
    len: usize,
    /// The quicklist's fill, fixed when it was created (fits: it is clamped to -5..=FILL_MAX).
    fill: i32,
    /// True for the `quicklist` encoding.
    quick: bool,
}

impl List {
    /// An empty list (listpack encoded).
    pub fn new() -> List {
        List::default()
    }

    /// A list holding `items` in order, encoded as Redis would encode the same elements pushed
    /// by one RPUSH under fill `fill` (RDB loading, tests).
    pub fn from_items(items: &[&[u8]], fill: i64) -> List {
        let mut l = List::new();
        l.convert_for_append(fill, items);
        for s in items {
            l.push_back(s);
        }
        l
    }

    /// A list holding `items` in the `quicklist` encoding whatever their size: a value Redis
    /// keeps as a quicklist after it shrank (quicklists convert back only on removals), rebuilt
    /// by the disk engine's loader. The fill is clamped as `quicklistSetFill` does.
    pub fn quicklist_from_items(items: &[&[u8]], fill: i64) -> List {
        let mut l = List::new();
        l.quick = true;
        l.fill = fill.clamp(-5, FILL_MAX) as i32;
        l.nodes.retain(|n| n.len() > 0);
        for s in items {
            l.push_back(s);
        }
        l
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The OBJECT ENCODING name: `listpack` or `quicklist`.
    pub fn encoding_name(&self) -> &'static str {
        if self.quick {
            "quicklist"
        } else {
            "listpack"
        }
    }

    /// Number of quicklist nodes (1 for a non-empty listpack): DEBUG and tests.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Heap bytes owned (for MEMORY USAGE / INFO).
    pub fn heap_size(&self) -> usize {
        let node = std::mem::size_of::<Node>();
        self.nodes.capacity() * node + self.nodes.iter().map(|n| n.p.heap_size()).sum::<usize>()
    }

    /// How many separate allocations freeing this value costs (lazy-free decisions): one per
    /// node, as Redis counts quicklist nodes.
    pub fn free_effort(&self) -> usize {
        self.nodes.len().max(1)
    }

    /// Elements from head to tail (SORT, RDB, DEBUG DIGEST use this; keep the signature).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.nodes.iter().flat_map(|n| n.p.iter())
    }

    /// Converts a listpack to a quicklist if adding `items` would exceed one node's limit under
    /// fill `fill` (Redis's `listTypeTryConversionAppend`). Call before adding elements.
    pub fn convert_for_append(&mut self, fill: i64, items: &[&[u8]]) {
        if self.quick {
            return;
        }
        let bytes = self.nodes.front().map_or(LP_OVERHEAD, |n| n.bytes);
        if append_converts(fill, bytes, self.len, items) {
            self.quick = true;
            // quicklistSetFill's clamp.
            self.fill = fill.clamp(-5, FILL_MAX) as i32;
            self.nodes.retain(|n| n.len() > 0);
        }
    }

    /// Converts a quicklist back to a listpack when one node is left and it holds at most half of
    /// a node's limit under fill `fill` (Redis's shrinking `listTypeTryConversion`). Call after
    /// removing elements.
    pub fn convert_for_shrink(&mut self, fill: i64) {
        if !self.quick || self.nodes.len() != 1 {
            return;
        }
        let (sz, n) = node_limit(fill);
        let Some(node) = self.nodes.front() else {
            return;
        };
        if node.bytes > sz / 2 || self.len > n / 2 {
            return;
        }
        self.quick = false;
    }

    /// Adds an element at the head.
    pub fn push_front(&mut self, s: &[u8]) {
        self.len += 1;
        if !self.quick {
            match self.nodes.front_mut() {
                Some(n) => n.push_front(s),
                None => {
                    // A listpack list has one node: no spare slots in the deque.
                    self.nodes.reserve_exact(1);
                    self.nodes.push_back(Node::from_items([s]))
                }
            }
            return;
        }
        match self.nodes.front_mut() {
            Some(n) if n.allow_insert(i64::from(self.fill), s.len()) => n.push_front(s),
            _ => self.nodes.push_front(Node::from_items([s])),
        }
    }

    /// Adds an element at the tail.
    pub fn push_back(&mut self, s: &[u8]) {
        self.len += 1;
        if !self.quick {
            match self.nodes.front_mut() {
                Some(n) => n.push_back(s),
                None => {
                    // A listpack list has one node: no spare slots in the deque.
                    self.nodes.reserve_exact(1);
                    self.nodes.push_back(Node::from_items([s]))
                }
            }
            return;
        }
        match self.nodes.back_mut() {
            Some(n) if n.allow_insert(i64::from(self.fill), s.len()) => n.push_back(s),
            _ => self.nodes.push_back(Node::from_items([s])),
        }
    }

    /// Drops empty nodes at `i` (a quicklist never keeps an empty node; an empty listpack is
    /// dropped too, the list being empty).
    fn drop_if_empty(&mut self, i: usize) {
        if self.nodes.get(i).is_some_and(|n| n.len() == 0) {
            self.nodes.remove(i);
        }
    }

    /// Removes and returns the head element.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let v = self.nodes.front_mut()?.pop_front()?;
        self.len -= 1;
        self.drop_if_empty(0);
        Some(v)
    }

    /// Removes and returns the tail element.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let v = self.nodes.back_mut()?.pop_back()?;
        self.len -= 1;
        let last = self.nodes.len().saturating_sub(1);
        self.drop_if_empty(last);
        Some(v)
    }

    /// Resolves a Redis index (negative counts from the tail) to a position `0..len`.
    fn resolve(&self, index: i64) -> Option<usize> {
        let n = self.len as i64;
        let i = if index < 0 {
            n.checked_add(index)?
        } else {
            index
        };
        (0..n).contains(&i).then_some(i as usize)
    }

    /// (node index, index inside the node) of position `pos` (< len), walking whole nodes from
    /// the nearer end.
    fn locate(&self, pos: usize) -> Option<(usize, usize)> {
        if pos >= self.len {
            return None;
        }
        if pos <= self.len / 2 {
            let mut left = pos;
            for (i, n) in self.nodes.iter().enumerate() {
                if left < n.len() {
                    return Some((i, left));
                }
                left -= n.len();
            }
            None
        } else {
            let mut from_end = self.len - 1 - pos;
            for (i, n) in self.nodes.iter().enumerate().rev() {
                if from_end < n.len() {
                    return Some((i, n.len() - 1 - from_end));
                }
                from_end -= n.len();
            }
            None
        }
    }

    /// The element at `index` (negative counts from the tail).
    pub fn get(&self, index: i64) -> Option<&[u8]> {
        let (ni, j) = self.locate(self.resolve(index)?)?;
        self.nodes.get(ni)?.p.get(j as i64)
    }

    /// Replaces the element at `index` (negative counts from the tail); false when out of range.
    /// The element is replaced inside its node whatever its size, as `quicklistReplaceEntry`
    /// does for elements below the 1 GiB plain-node threshold.
    pub fn set(&mut self, index: i64, s: &[u8]) -> bool {
        let Some((ni, j)) = self.resolve(index).and_then(|p| self.locate(p)) else {
            return false;
        };
        let Some(node) = self.nodes.get_mut(ni) else {
            return false;
        };
        let Some(off) = node.p.offset_of(j as i64) else {
            return false;
        };
        node.replace_at(off, s);
        true
    }

    /// Merges `a` and `a + 1` when they fit together; returns whether it did.
    fn try_merge(&mut self, a: usize) -> bool {
        let ok = match (self.nodes.get(a), self.nodes.get(a + 1)) {
            (Some(x), Some(y)) => allow_merge(i64::from(self.fill), x, y),
            _ => false,
        };
        if ok {
            if let Some(y) = self.nodes.remove(a + 1) {
                if let Some(x) = self.nodes.get_mut(a) {
                    for s in y.p.iter() {
                        x.push_back(s);
                    }
                }
            }
        }
        ok
    }

    /// `_quicklistMergeNodes` around node `center`.
    fn merge_around(&mut self, mut center: usize) {
        if center >= 2 && self.try_merge(center - 2) {
            center -= 1;
        }
        self.try_merge(center + 1);
        let target = if center >= 1 && self.try_merge(center - 1) {
            center - 1
        } else {
            center
        };
        self.try_merge(target);
    }

    /// Inserts `s` before (or `after`) the first element equal to `pivot`, searching from the
    /// head. Returns false when the pivot is missing.
    pub fn insert(&mut self, pivot: &[u8], s: &[u8], after: bool) -> bool {
        let mut found = None;
        'outer: for (ni, n) in self.nodes.iter().enumerate() {
            for (j, (off, e)) in n.p.offsets().enumerate() {
                if e == pivot {
                    found = Some((ni, j, off));
                    break 'outer;
                }
            }
        }
        let Some((ni, j, off)) = found else {
            return false;
        };
        self.len += 1;
        let fill = i64::from(self.fill);
        if !self.quick {
            if let Some(n) = self.nodes.get_mut(ni) {
                let at = if after {
                    n.p.at(off).map_or(off, |(_, next)| next)
                } else {
                    off
                };
                n.insert_at(at, s);
            }
            return true;
        }
        let (full, count) = match self.nodes.get(ni) {
            Some(n) => (!n.allow_insert(fill, s.len()), n.len()),
            None => return false,
        };
        let at_tail = after && j == count - 1;
        let at_head = !after && j == 0;
        let avail_next = at_tail
            && self
                .nodes
                .get(ni + 1)
                .is_some_and(|n| n.allow_insert(fill, s.len()));
        let avail_prev = at_head
            && ni > 0
            && self
                .nodes
                .get(ni - 1)
                .is_some_and(|n| n.allow_insert(fill, s.len()));
        if !full {
            if let Some(n) = self.nodes.get_mut(ni) {
                let at = if after {
                    n.p.at(off).map_or(off, |(_, next)| next)
                } else {
                    off
                };
                n.insert_at(at, s);
            }
        } else if at_tail && avail_next {
            if let Some(n) = self.nodes.get_mut(ni + 1) {
                n.push_front(s);
            }
        } else if at_head && avail_prev {
            if let Some(n) = self.nodes.get_mut(ni - 1) {
                n.push_back(s);
            }
        } else if at_tail || at_head {
            let pos = if after { ni + 1 } else { ni };
            self.nodes.insert(pos, Node::from_items([s]));
        } else {
            // Split the node at the pivot; the new element goes to the split-off part.
            let Some(node) = self.nodes.get(ni) else {
                return false;
            };
            let items: Vec<Vec<u8>> = node.p.iter().map(<[u8]>::to_vec).collect();
            let mut center = ni;
            if after {
                let keep = Node::from_items(items.iter().take(j + 1).map(Vec::as_slice));
                let mut new = Node::from_items([s]);
                for e in items.iter().skip(j + 1) {
                    new.push_back(e);
                }
                self.nodes[ni] = keep;
                self.nodes.insert(ni + 1, new);
            } else {
                let keep = Node::from_items(items.iter().skip(j).map(Vec::as_slice));
                let mut new = Node::from_items(items.iter().take(j).map(Vec::as_slice));
                new.push_back(s);
                self.nodes[ni] = keep;
                self.nodes.insert(ni, new);
                center = ni + 1;
            }
            self.merge_around(center);
        }
        true
    }

    /// Removes up to `count` elements equal to `s` (`count` > 0: from the head, < 0: from the
    /// tail, 0: all). Returns how many were removed.
    pub fn remove(&mut self, s: &[u8], count: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().try_into().unwrap_or(usize::MAX)
        };
        let mut removed = 0;
        if count >= 0 {
            let mut ni = 0;
            while ni < self.nodes.len() && removed < limit {
                let node = &mut self.nodes[ni];
                let mut off = 0;
                while removed < limit {
                    match node.p.at(off) {
                        Some((e, next)) => {
                            if e == s {
                                off = node.remove_at(off);
                                removed += 1;
                            } else {
                                off = next;
                            }
                        }
                        None => break,
                    }
                }
                if node.len() == 0 {
                    self.nodes.remove(ni);
                } else {
                    ni += 1;
                }
            }
        } else {
            let mut ni = self.nodes.len();
            while ni > 0 && removed < limit {
                ni -= 1;
                let node = &mut self.nodes[ni];
                let mut end = node.p.end();
                while removed < limit {
                    let Some(off) = node.p.prev(end) else {
                        break;
                    };
                    if node.p.get_at(off) == Some(s) {
                        node.remove_at(off);
                        removed += 1;
                    }
                    end = off;
                }
                if node.len() == 0 {
                    self.nodes.remove(ni);
                }
            }
        }
        self.len -= removed;
        removed
    }

    /// Removes `n` elements starting at position `start` (`quicklistDelRange`: whole nodes are
    /// dropped, partly covered ones trimmed, nothing merged).
    pub fn delete_range(&mut self, start: usize, n: usize) {
        let n = n.min(self.len.saturating_sub(start));
        if n == 0 {
            return;
        }
        let Some((mut ni, mut j)) = self.locate(start) else {
            return;
        };
        let mut left = n;
        while left > 0 && ni < self.nodes.len() {
            let node = &mut self.nodes[ni];
            let take = left.min(node.len() - j);
            if j == 0 && take == node.len() {
                self.nodes.remove(ni);
            } else {
                node.remove_range(j, take);
                ni += 1;
            }
            left -= take;
            j = 0;
        }
        self.len -= n - left;
    }

    /// Keeps `len - ltrim - rtrim` elements: removes `ltrim` from the head and `rtrim` from
    /// the tail (LTRIM).
    pub fn trim(&mut self, ltrim: usize, rtrim: usize) {
        self.delete_range(0, ltrim);
        let rtrim = rtrim.min(self.len);
        self.delete_range(self.len - rtrim, rtrim);
    }

    /// Up to `count` elements from position `start` towards the tail, skipping whole nodes
    /// to reach `start`.
    pub fn range(&self, start: usize, count: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let (ni, j) = self.locate(start).unwrap_or((self.nodes.len(), 0));
        self.nodes
            .range(ni..)
            .flat_map(|n| n.p.iter())
            .skip(j)
            .take(count)
    }

    /// Up to `count` elements from position `start` towards the head (reverse order), skipping
    /// whole nodes to reach `start`.
    pub fn range_rev(&self, start: usize, count: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let (ni, j, nlen) = match self.locate(start) {
            Some((ni, j)) => (ni + 1, j, self.nodes.get(ni).map_or(0, Node::len)),
            None => (0, 0, 0),
        };
        self.nodes
            .range(..ni)
            .rev()
            .flat_map(|n| n.p.iter().rev())
            .skip(nlen.saturating_sub(j + 1))
            .take(count)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct Rnd(u64);
    impl Rnd {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    fn value(r: &mut Rnd) -> Vec<u8> {
        match r.below(4) {
            0 => r.below(300).to_string().into_bytes(),
            1 => vec![b'a' + r.below(3) as u8],
            2 => vec![b'x'; r.below(200) as usize],
            _ => format!("v{}", r.below(20)).into_bytes(),
        }
    }

    fn check(l: &List, m: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), m.len());
        let got: Vec<&[u8]> = l.iter().collect();
        let want: Vec<&[u8]> = m.iter().map(Vec::as_slice).collect();
        assert_eq!(got, want);
        let back: Vec<&[u8]> = l.iter().rev().collect();
        let wback: Vec<&[u8]> = m.iter().rev().map(Vec::as_slice).collect();
        assert_eq!(back, wback);
        if l.quick {
            assert!(l.nodes.iter().all(|n| n.len() > 0), "empty quicklist node");
        } else {
            assert!(l.nodes.len() <= 1);
        }
        for n in &l.nodes {
            let b: usize = LP_OVERHEAD + n.p.iter().map(lp_entry_size).sum::<usize>();
            assert_eq!(n.bytes, b);
        }
    }

    fn model_run(fill: i64, seed: u64, steps: usize) {
        let mut r = Rnd(seed);
        let mut l = List::new();
        let mut m: VecDeque<Vec<u8>> = VecDeque::new();
        let mut saw_quick = false;
        for _ in 0..steps {
            let op = r.below(12);
            match op {
                0..=2 => {
                    let vals: Vec<Vec<u8>> = (0..1 + r.below(5)).map(|_| value(&mut r)).collect();
                    let refs: Vec<&[u8]> = vals.iter().map(Vec::as_slice).collect();
                    l.convert_for_append(fill, &refs);
                    for v in vals {
                        if op == 0 {
                            l.push_front(&v);
                            m.push_front(v);
                        } else {
                            l.push_back(&v);
                            m.push_back(v);
                        }
                    }
                }
                3 => {
                    assert_eq!(l.pop_front(), m.pop_front());
                    l.convert_for_shrink(fill);
                }
                4 => {
                    assert_eq!(l.pop_back(), m.pop_back());
                    l.convert_for_shrink(fill);
                }
                5 => {
                    let i = r.below(m.len() as u64 * 2 + 2) as i64 - m.len() as i64 - 1;
                    let want = if i < 0 {
                        m.len().checked_sub(i.unsigned_abs() as usize)
                    } else {
                        Some(i as usize).filter(|&i| i < m.len())
                    };
                    assert_eq!(l.get(i), want.map(|w| m[w].as_slice()));
                    let v = value(&mut r);
                    l.convert_for_append(fill, &[&v]);
                    assert_eq!(l.set(i, &v), want.is_some());
                    if let Some(w) = want {
                        m[w] = v;
                    }
                    l.convert_for_shrink(fill);
                }
                6 => {
                    let pivot = value(&mut r);
                    let v = value(&mut r);
                    let after = r.below(2) == 0;
                    l.convert_for_append(fill, &[&v]);
                    let pos = m.iter().position(|e| *e == pivot);
                    assert_eq!(l.insert(&pivot, &v, after), pos.is_some());
                    if let Some(p) = pos {
                        m.insert(if after { p + 1 } else { p }, v);
                    }
                }
                7 => {
                    let v = value(&mut r);
                    let count = r.below(5) as i64 - 2;
                    let n = l.remove(&v, count);
                    let mut removed = 0;
                    let limit = if count == 0 {
                        usize::MAX
                    } else {
                        count.unsigned_abs() as usize
                    };
                    if count >= 0 {
                        let mut i = 0;
                        while i < m.len() && removed < limit {
                            if m[i] == v {
                                m.remove(i);
                                removed += 1;
                            } else {
                                i += 1;
                            }
                        }
                    } else {
                        let mut i = m.len();
                        while i > 0 && removed < limit {
                            i -= 1;
                            if m[i] == v {
                                m.remove(i);
                                removed += 1;
                            }
                        }
                    }
                    assert_eq!(n, removed);
                    l.convert_for_shrink(fill);
                }
                8 => {
                    let a = r.below(m.len() as u64 / 4 + 2) as usize;
                    let b = r.below(m.len() as u64 / 4 + 2) as usize;
                    l.trim(a, b);
                    let a = a.min(m.len());
                    m.drain(..a);
                    let b = b.min(m.len());
                    m.truncate(m.len() - b);
                    l.convert_for_shrink(fill);
                }
                9 => {
                    let s = r.below(m.len() as u64 + 2) as usize;
                    let c = r.below(m.len() as u64 + 2) as usize;
                    let got: Vec<&[u8]> = l.range(s, c).collect();
                    let want: Vec<&[u8]> = m.iter().skip(s).take(c).map(Vec::as_slice).collect();
                    assert_eq!(got, want);
                    if s < m.len() {
                        let got: Vec<&[u8]> = l.range_rev(s, c).collect();
                        let want: Vec<&[u8]> = m
                            .iter()
                            .take(s + 1)
                            .rev()
                            .take(c)
                            .map(Vec::as_slice)
                            .collect();
                        assert_eq!(got, want);
                    }
                }
                10 => {
                    let s = r.below(m.len() as u64 + 1) as usize;
                    let c = r.below(10) as usize;
                    l.delete_range(s, c);
                    let e = (s + c).min(m.len());
                    m.drain(s.min(m.len())..e);
                    l.convert_for_shrink(fill);
                }
                _ => {
                    // A burst of pushes to reach the big encoding.
                    for i in 0..r.below(200) {
                        let v = format!("burst{i}-{}", "y".repeat(60)).into_bytes();
                        l.convert_for_append(fill, &[&v]);
                        l.push_back(&v);
                        m.push_back(v);
                    }
                }
            }
            saw_quick |= l.quick;
            check(&l, &m);
        }
        assert!(
            saw_quick,
            "fill {fill}: the run never reached the quicklist encoding"
        );
    }

    #[test]
    fn matches_a_deque_model_under_every_fill() {
        for (i, fill) in [-2i64, -1, -3, 0, 1, 5, 128].into_iter().enumerate() {
            model_run(fill, 0x5eed_0000 + i as u64 * 7919, 3000);
        }
    }

    #[test]
    fn conversions_follow_redis_thresholds() {
        // Count-limited fill: the 129th element converts; back at half (64) with one node.
        let mut l = List::new();
        for i in 0..128 {
            let v = i.to_string();
            l.convert_for_append(128, &[v.as_bytes()]);
            l.push_back(v.as_bytes());
        }
        assert_eq!(l.encoding_name(), "listpack");
        l.convert_for_append(128, &[b"x"]);
        l.push_back(b"x");
        assert_eq!(l.encoding_name(), "quicklist");
        assert_eq!(l.node_count(), 2);
        l.pop_back();
        l.convert_for_shrink(128);
        assert_eq!(l.encoding_name(), "quicklist", "128 > 64 stays");
        while l.len() > 64 {
            l.pop_back();
            l.convert_for_shrink(128);
        }
        assert_eq!(l.encoding_name(), "listpack");
        // Size-limited fill: 8 KiB.
        let mut l = List::new();
        let big = vec![b'x'; 5000];
        l.convert_for_append(-2, &[&big]);
        l.push_back(&big);
        assert_eq!(l.encoding_name(), "listpack");
        l.convert_for_append(-2, &[&big]);
        l.push_back(&big);
        assert_eq!(l.encoding_name(), "quicklist");
        assert_eq!(l.node_count(), 2);
        l.pop_back();
        l.convert_for_shrink(-2);
        assert_eq!(l.encoding_name(), "quicklist", "5000 bytes > 4096 stays");
        l.pop_back();
        l.push_back(b"small");
        l.convert_for_shrink(-2);
        assert_eq!(l.encoding_name(), "listpack");
    }

    #[test]
    fn big_lists_use_many_nodes_and_index_fast() {
        let mut l = List::new();
        for i in 0..100_000u32 {
            let v = i.to_string();
            l.convert_for_append(-2, &[v.as_bytes()]);
            l.push_back(v.as_bytes());
        }
        assert!(l.node_count() > 50, "{} nodes", l.node_count());
        assert_eq!(l.get(0), Some(&b"0"[..]));
        assert_eq!(l.get(-1), Some(&b"99999"[..]));
        assert_eq!(l.get(50_000), Some(&b"50000"[..]));
        let got: Vec<&[u8]> = l.range(70_000, 2).collect();
        assert_eq!(got, vec![&b"70000"[..], b"70001"]);
        assert_eq!(lp_entry_size(b"127"), 2);
        assert_eq!(lp_entry_size(b"-4096"), 3);
        assert_eq!(lp_entry_size(b"hello"), 7);
        assert_eq!(lp_entry_size(&[b'a'; 64]), 66 + 1);
    }
}
