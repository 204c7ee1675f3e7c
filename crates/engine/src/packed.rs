//! A compact sequence of byte strings in one buffer: ferrokv's counterpart of Redis's listpack.
//!
//! Small collections (lists, hashes, sets and sorted sets below the `*-max-listpack-*`
//! thresholds) keep their elements here instead of one heap block per element: a 10-field hash
//! of short strings takes one allocation of ~200 bytes.
//!
//! # Layout
//! ```text
//! element := varint(len) bytes backlen(len)
//! ```
//! `varint` is LEB128 (low 7 bits first, high bit = more). `backlen` is the same LEB128 bytes in
//! reverse order, so the element before any offset can be found by reading backwards: the last
//! byte of an element is the first LEB128 byte. Both ends are therefore O(1) to reach, and
//! walking is possible in both directions.
//!
//! Offsets handed out by [`Packed::offsets`] and [`Packed::find`] are byte positions of an
//! element's start; they stay valid until the next modification.
//!
//! Integers are stored as their decimal text (Redis stores them as binary integers; the
//! difference is a few bytes per element and no client can observe it).

/// Buffers up to this size grow exactly; larger ones grow by doubling.
pub const EXACT_GROWTH_LIMIT: usize = 1024;

/// A sequence of byte strings packed into one buffer.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Packed {
    buf: Vec<u8>,
    count: u32,
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Encodes one element (header, bytes, back length).
fn encode(out: &mut Vec<u8>, s: &[u8]) {
    put_varint(out, s.len());
    out.extend_from_slice(s);
    let start = out.len();
    put_varint(out, s.len());
    out[start..].reverse();
}

/// Encodes one element into `dst`, which is exactly [`encoded_len`] bytes long.
fn encode_into(dst: &mut [u8], s: &[u8]) {
    let mut hdr = [0u8; 10];
    let mut h = 0;
    let mut v = s.len();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            hdr[h] = b;
            h += 1;
            break;
        }
        hdr[h] = b | 0x80;
        h += 1;
    }
    let (head, rest) = dst.split_at_mut(h.min(dst.len()));
    head.copy_from_slice(&hdr[..head.len()]);
    let (data, back) = rest.split_at_mut(s.len().min(rest.len()));
    data.copy_from_slice(&s[..data.len()]);
    for (d, b) in back.iter_mut().zip(hdr[..h].iter().rev()) {
        *d = *b;
    }
}

/// Encoded size of an element of `n` bytes.
#[inline]
pub fn encoded_len(n: usize) -> usize {
    2 * varint_len(n) + n
}

impl Packed {
    /// An empty sequence.
    pub fn new() -> Packed {
        Packed::default()
    }

    /// Builds a sequence from elements, in order.
    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Packed {
        let mut p = Packed::new();
        for s in items {
            p.push_back(s);
        }
        p
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when there are no elements.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes used by the encoded elements.
    #[inline]
    pub fn bytes_len(&self) -> usize {
        self.buf.len()
    }

    /// Heap bytes owned (capacity of the buffer).
    #[inline]
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    /// Gives back spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }

    /// Reads the element at `off`: (its bytes, the offset of the next element).
    #[inline]
    pub fn at(&self, off: usize) -> Option<(&[u8], usize)> {
        let mut len = 0usize;
        let mut shift = 0;
        let mut i = off;
        loop {
            let b = *self.buf.get(i)?;
            i += 1;
            len |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 35 {
                return None;
            }
        }
        let data = self.buf.get(i..i + len)?;
        Some((data, i + len + varint_len(len)))
    }

    /// Offset of the element that ends at `end` (the element before offset `end`).
    #[inline]
    pub fn prev(&self, end: usize) -> Option<usize> {
        if end == 0 {
            return None;
        }
        let mut len = 0usize;
        let mut shift = 0;
        let mut i = end;
        loop {
            i = i.checked_sub(1)?;
            let b = *self.buf.get(i)?;
            len |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 35 {
                return None;
            }
        }
        end.checked_sub(encoded_len(len))
    }

    /// Offset of the first element (0), or `None` when empty.
    #[inline]
    pub fn first(&self) -> Option<usize> {
        (!self.is_empty()).then_some(0)
    }

    /// Offset of the last element, or `None` when empty.
    #[inline]
    pub fn last(&self) -> Option<usize> {
        self.prev(self.buf.len())
    }

    /// Offset just past the last element (where `insert_at` appends).
    #[inline]
    pub fn end(&self) -> usize {
        self.buf.len()
    }

    /// The element at `off` (its bytes only).
    #[inline]
    pub fn get_at(&self, off: usize) -> Option<&[u8]> {
        self.at(off).map(|(d, _)| d)
    }

    /// Offset of the element with index `i` (negative counts from the end), walking from the
    /// nearer end.
    pub fn offset_of(&self, i: i64) -> Option<usize> {
        let n = self.len() as i64;
        let i = if i < 0 { n + i } else { i };
        if i < 0 || i >= n {
            return None;
        }
        if i <= n / 2 {
            let mut off = 0;
            for _ in 0..i {
                off = self.at(off)?.1;
            }
            Some(off)
        } else {
            let mut off = self.last()?;
            for _ in 0..(n - 1 - i) {
                off = self.prev(off)?;
            }
            Some(off)
        }
    }

    /// The element with index `i` (negative counts from the end).
    pub fn get(&self, i: i64) -> Option<&[u8]> {
        self.get_at(self.offset_of(i)?)
    }

    /// Room for `n` more bytes: exact while the sequence is small (like a listpack's realloc,
    /// so a small collection's buffer is not left up to twice as big as its content), amortised
    /// doubling beyond [`EXACT_GROWTH_LIMIT`] (big list nodes take many pushes).
    #[inline]
    fn grow(&mut self, n: usize) {
        if self.buf.len() + n <= EXACT_GROWTH_LIMIT {
            self.buf.reserve_exact(n);
        } else {
            self.buf.reserve(n);
        }
    }

    /// Appends an element.
    pub fn push_back(&mut self, s: &[u8]) {
        self.grow(encoded_len(s.len()));
        encode(&mut self.buf, s);
        self.count += 1;
    }

    /// Prepends an element.
    pub fn push_front(&mut self, s: &[u8]) {
        self.insert_at(0, s);
    }

    /// Inserts an element before the element at `off` (or appends when `off == end()`).
    pub fn insert_at(&mut self, off: usize, s: &[u8]) {
        let off = off.min(self.buf.len());
        let n = encoded_len(s.len());
        self.grow(n);
        let old_len = self.buf.len();
        // Open a gap of `n` bytes at `off` (one memmove of the tail) and encode into it: no
        // temporary buffer (a head push into a full 8 KiB quicklist node is the LPUSH case).
        self.buf.resize(old_len + n, 0);
        self.buf.copy_within(off..old_len, off + n);
        if let Some(dst) = self.buf.get_mut(off..off + n) {
            encode_into(dst, s);
        }
        self.count += 1;
    }

    /// Removes the element at `off`; returns the offset of the element that followed it (now at
    /// `off`), i.e. `off` itself.
    pub fn remove_at(&mut self, off: usize) -> Option<usize> {
        let (_, next) = self.at(off)?;
        self.buf.drain(off..next);
        self.count -= 1;
        Some(off)
    }

    /// Removes `n` elements starting at `off`.
    pub fn remove_range(&mut self, off: usize, n: usize) {
        let mut end = off;
        let mut removed = 0;
        while removed < n {
            match self.at(end) {
                Some((_, next)) => {
                    end = next;
                    removed += 1;
                }
                None => break,
            }
        }
        self.buf.drain(off..end);
        self.count -= removed as u32;
    }

    /// Replaces the element at `off` with `s`; returns the offset of the element after it.
    pub fn replace_at(&mut self, off: usize, s: &[u8]) -> Option<usize> {
        let (_, next) = self.at(off)?;
        let mut enc = Vec::with_capacity(encoded_len(s.len()));
        encode(&mut enc, s);
        let new_next = off + enc.len();
        self.grow(enc.len().saturating_sub(next - off));
        self.buf.splice(off..next, enc);
        Some(new_next)
    }

    /// Removes and returns the first element.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let v = self.get_at(0)?.to_vec();
        self.remove_at(0);
        Some(v)
    }

    /// Removes and returns the last element.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let off = self.last()?;
        let v = self.get_at(off)?.to_vec();
        self.buf.truncate(off);
        self.count -= 1;
        Some(v)
    }

    /// Offset of the first element equal to `s`, looking at every `step`-th element starting
    /// with the first (step 2 over a field/value sequence searches fields only).
    pub fn find(&self, s: &[u8], step: usize) -> Option<usize> {
        let mut off = 0;
        let mut i = 0usize;
        while let Some((d, next)) = self.at(off) {
            if i.is_multiple_of(step.max(1)) && d == s {
                return Some(off);
            }
            off = next;
            i += 1;
        }
        None
    }

    /// Elements front to back (and back to front with `.rev()`).
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            p: self,
            front: 0,
            back: self.buf.len(),
            left: self.len(),
        }
    }

    /// (offset, element) pairs front to back.
    pub fn offsets(&self) -> impl Iterator<Item = (usize, &[u8])> {
        let mut off = 0;
        std::iter::from_fn(move || {
            let (d, next) = self.at(off)?;
            let here = off;
            off = next;
            Some((here, d))
        })
    }

    /// Removes every element.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.count = 0;
    }
}

/// Double-ended iterator over a [`Packed`] sequence.
pub struct Iter<'a> {
    p: &'a Packed,
    front: usize,
    back: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (d, next) = self.p.at(self.front)?;
        self.front = next;
        self.left -= 1;
        Some(d)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let off = self.p.prev(self.back)?;
        self.back = off;
        self.left -= 1;
        self.p.get_at(off)
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(p: &Packed) -> Vec<Vec<u8>> {
        p.iter().map(|s| s.to_vec()).collect()
    }

    #[test]
    fn both_ends_and_indexes() {
        let mut p = Packed::new();
        let long = vec![b'x'; 300];
        p.push_back(b"b");
        p.push_front(b"a");
        p.push_back(&long);
        p.push_back(b"");
        assert_eq!(p.len(), 4);
        assert_eq!(p.get(0), Some(&b"a"[..]));
        assert_eq!(p.get(2), Some(&long[..]));
        assert_eq!(p.get(-1), Some(&b""[..]));
        assert_eq!(p.get(-4), Some(&b"a"[..]));
        assert_eq!(p.get(4), None);
        assert_eq!(p.get(-5), None);
        let rev: Vec<_> = p.iter().rev().map(|s| s.len()).collect();
        assert_eq!(rev, vec![0, 300, 1, 1]);
        assert_eq!(p.pop_back(), Some(vec![]));
        assert_eq!(p.pop_front(), Some(b"a".to_vec()));
        assert_eq!(items(&p), vec![b"b".to_vec(), long.clone()]);
    }

    #[test]
    fn edits_by_offset() {
        let mut p = Packed::from_items([&b"f1"[..], b"v1", b"f2", b"v2"]);
        let off = p.find(b"f2", 2).expect("field");
        let voff = p.at(off).expect("f2").1;
        p.replace_at(voff, b"a much longer value than before");
        assert_eq!(p.get(3), Some(&b"a much longer value than before"[..]));
        assert_eq!(p.find(b"v1", 2), None, "values are skipped with step 2");
        p.remove_range(0, 2);
        assert_eq!(p.len(), 2);
        assert_eq!(p.get(0), Some(&b"f2"[..]));
        p.insert_at(p.end(), b"tail");
        p.insert_at(0, b"head");
        assert_eq!(p.iter().next_back(), Some(&b"tail"[..]));
        assert_eq!(p.get(0), Some(&b"head"[..]));
        let mut it = p.iter();
        assert_eq!(it.next(), Some(&b"head"[..]));
        assert_eq!(it.next_back(), Some(&b"tail"[..]));
        assert_eq!(it.len(), 2);
    }

    #[test]
    fn matches_a_vec_model() {
        // Deterministic pseudo-random edits against Vec<Vec<u8>>.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut p = Packed::new();
        let mut m: Vec<Vec<u8>> = Vec::new();
        for _ in 0..3000 {
            let len = (rnd() % 200) as usize;
            let v: Vec<u8> = (0..len)
                .map(|i| (i as u8).wrapping_add(len as u8))
                .collect();
            match rnd() % 5 {
                0 => {
                    p.push_back(&v);
                    m.push(v);
                }
                1 => {
                    p.push_front(&v);
                    m.insert(0, v);
                }
                2 => assert_eq!(p.pop_back(), m.pop()),
                3 => {
                    let want = if m.is_empty() {
                        None
                    } else {
                        Some(m.remove(0))
                    };
                    assert_eq!(p.pop_front(), want);
                }
                _ => {
                    if !m.is_empty() {
                        let i = (rnd() as usize) % m.len();
                        let off = p.offset_of(i as i64).expect("in range");
                        p.replace_at(off, &v);
                        m[i] = v;
                    }
                }
            }
            assert_eq!(p.len(), m.len());
        }
        assert_eq!(items(&p), m);
        let back: Vec<Vec<u8>> = p.iter().rev().map(|s| s.to_vec()).collect();
        let mut mr = m.clone();
        mr.reverse();
        assert_eq!(back, mr);
    }

    #[test]
    fn insert_at_encodes_like_push_back_at_every_header_size() {
        // Lengths at the LEB128 boundaries (1, 2 and 3 header bytes), at the head, in the
        // middle and at the end; the bytes must equal appending in order.
        for len in [0usize, 1, 127, 128, 129, 16383, 16384, 20000] {
            let v = vec![b'q'; len];
            let mut want = Packed::new();
            for s in [&b"a"[..], &v, b"b", &v, b"c", &v] {
                want.push_back(s);
            }
            let mut p = Packed::from_items([&b"a"[..], b"b", b"c"]);
            p.insert_at(p.end(), &v);
            let c = p.offset_of(2).expect("c");
            p.insert_at(c, &v);
            let b = p.offset_of(1).expect("b");
            p.insert_at(b, &v);
            assert_eq!(p, want, "len {len}");
            let mut q = Packed::new();
            q.push_front(&v);
            q.push_front(b"x");
            assert_eq!(items(&q), vec![b"x".to_vec(), v.clone()], "len {len}");
            assert_eq!(q.pop_back(), Some(v.clone()));
        }
    }
}
