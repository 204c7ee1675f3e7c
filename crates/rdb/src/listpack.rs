//! Listpack: Redis's compact serialised sequence of strings and integers
//! (used since Redis 7.0 for small hashes, sorted sets, list nodes and, since
//! 7.2, small sets).
//!
//! Layout: `u32` total byte length (LE), `u16` element count (LE; 65535 means
//! "count by walking"), the entries, and a terminating `0xFF` byte. Each entry
//! is an encoding byte (plus data), followed by a "back length": the size of
//! the encoding+data written in 1..=5 bytes of 7 bits each, most significant
//! first, every byte but the first having its high bit set, so that the
//! sequence can also be walked from the end.
//!
//! Encodings: `0xxxxxxx` 7-bit unsigned int; `10xxxxxx` string up to 63
//! bytes; `110xxxxx yyyyyyyy` 13-bit signed int; `1110xxxx yyyyyyyy` string up
//! to 4095 bytes; `0xF0` + `u32` string length; `0xF1`/`0xF2`/`0xF3`/`0xF4`
//! 16/24/32/64-bit signed int (LE).

use crate::util::parse_canonical_i64;

/// One element of a listpack or ziplist: raw bytes or an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry<'a> {
    /// A string element (borrowed from the blob).
    Str(&'a [u8]),
    /// An element stored in one of the integer encodings.
    Int(i64),
}

impl Entry<'_> {
    /// The element as Redis would return it: strings as they are, integers
    /// as decimal text.
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            Entry::Str(s) => s.to_vec(),
            Entry::Int(i) => i.to_string().into_bytes(),
        }
    }
}

fn backlen_size(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2_097_151 {
        3
    } else if l < 268_435_455 {
        4
    } else {
        5
    }
}

fn push_backlen(out: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    // most significant group first, without the continuation bit
    for k in (0..n).rev() {
        let group = ((l >> (7 * k)) & 127) as u8;
        if k == n - 1 {
            out.push(group);
        } else {
            out.push(group | 128);
        }
    }
}

fn read_entry(blob: &[u8], p: usize) -> Result<(Entry<'_>, usize), String> {
    let get = |from: usize, n: usize| -> Result<&[u8], String> {
        blob.get(from..from + n)
            .ok_or_else(|| "listpack entry overflows the blob".to_string())
    };
    let b = blob[p];
    Ok(if b & 0x80 == 0 {
        (Entry::Int(i64::from(b & 0x7f)), 1)
    } else if b & 0xc0 == 0x80 {
        let len = usize::from(b & 0x3f);
        (Entry::Str(get(p + 1, len)?), 1 + len)
    } else if b & 0xe0 == 0xc0 {
        let b1 = get(p + 1, 1)?[0];
        let mut v = (i64::from(b & 0x1f) << 8) | i64::from(b1);
        if v >= 4096 {
            v -= 8192;
        }
        (Entry::Int(v), 2)
    } else if b & 0xf0 == 0xe0 {
        let b1 = get(p + 1, 1)?[0];
        let len = (usize::from(b & 0x0f) << 8) | usize::from(b1);
        (Entry::Str(get(p + 2, len)?), 2 + len)
    } else {
        match b {
            0xf0 => {
                let h = get(p + 1, 4)?;
                let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
                (Entry::Str(get(p + 5, len)?), 5 + len)
            }
            0xf1 => {
                let d = get(p + 1, 2)?;
                (Entry::Int(i64::from(i16::from_le_bytes([d[0], d[1]]))), 3)
            }
            0xf2 => {
                let d = get(p + 1, 3)?;
                let v = i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8;
                (Entry::Int(i64::from(v)), 4)
            }
            0xf3 => {
                let d = get(p + 1, 4)?;
                (
                    Entry::Int(i64::from(i32::from_le_bytes([d[0], d[1], d[2], d[3]]))),
                    5,
                )
            }
            0xf4 => {
                let d = get(p + 1, 8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(d);
                (Entry::Int(i64::from_le_bytes(a)), 9)
            }
            _ => {
                return Err(format!(
                    "listpack entry with invalid encoding byte {b:#04x}"
                ))
            }
        }
    })
}

/// Decodes and validates a whole listpack: header length, every entry's
/// encoding and back length, the terminator and the element count.
pub fn decode(blob: &[u8]) -> Result<Vec<Entry<'_>>, String> {
    if blob.len() < 7 {
        return Err("listpack header truncated".into());
    }
    let total = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    if total != blob.len() {
        return Err("listpack declared size does not match its length".into());
    }
    let count = usize::from(u16::from_le_bytes([blob[4], blob[5]]));
    let mut out = Vec::with_capacity(count.min(blob.len()));
    let mut p = 6usize;
    loop {
        let Some(&b) = blob.get(p) else {
            return Err("listpack without terminator".into());
        };
        if b == 0xff {
            if p + 1 != blob.len() {
                return Err("listpack terminator before its end".into());
            }
            break;
        }
        let (e, enc_len) = read_entry(blob, p)?;
        let bl = backlen_size(enc_len);
        let mut expect = Vec::with_capacity(5);
        push_backlen(&mut expect, enc_len);
        if blob.get(p + enc_len..p + enc_len + bl) != Some(&expect[..]) {
            return Err("listpack entry with a wrong back length".into());
        }
        out.push(e);
        p += enc_len + bl;
    }
    if count != 65535 && count != out.len() {
        return Err("listpack element count does not match its entries".into());
    }
    Ok(out)
}

/// Builds a listpack the way Redis does: strings that are canonical decimal
/// integers are stored with the smallest integer encoding.
#[derive(Debug, Clone)]
pub struct Builder {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// An empty listpack (header space reserved).
    pub fn new() -> Self {
        Builder {
            buf: vec![0; 6],
            count: 0,
        }
    }

    /// Number of elements appended so far.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True before the first append.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size in bytes the finished listpack would have.
    pub fn byte_len(&self) -> usize {
        self.buf.len() + 1
    }

    /// Appends an element, as an integer when it is one in canonical form.
    pub fn push(&mut self, s: &[u8]) {
        match parse_canonical_i64(s) {
            Some(v) => self.push_int(v),
            None => self.push_str(s),
        }
    }

    /// Appends an element always stored as a string.
    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let len = s.len();
        if len < 64 {
            self.buf.push(0x80 | len as u8);
        } else if len < 4096 {
            self.buf.push(0xe0 | (len >> 8) as u8);
            self.buf.push((len & 0xff) as u8);
        } else {
            self.buf.push(0xf0);
            self.buf.extend_from_slice(&(len as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        let enc_len = self.buf.len() - start;
        push_backlen(&mut self.buf, enc_len);
        self.count += 1;
    }

    /// Appends an integer in the smallest encoding that holds it.
    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u16) & 0x1fff;
            self.buf.push(0xc0 | (u >> 8) as u8);
            self.buf.push((u & 0xff) as u8);
        } else if let Ok(x) = i16::try_from(v) {
            self.buf.push(0xf1);
            self.buf.extend_from_slice(&x.to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&v) {
            self.buf.push(0xf2);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if let Ok(x) = i32::try_from(v) {
            self.buf.push(0xf3);
            self.buf.extend_from_slice(&x.to_le_bytes());
        } else {
            self.buf.push(0xf4);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        let enc_len = self.buf.len() - start;
        push_backlen(&mut self.buf, enc_len);
        self.count += 1;
    }

    /// Terminates the listpack and fills in its header.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xff);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(65535) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_all_encodings() {
        let ints = [
            0i64,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -4097,
            32767,
            -32768,
            40000,
            -8_388_608,
            8_388_607,
            8_388_608,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
            i64::MAX,
            i64::MIN,
        ];
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let mut b = Builder::new();
        for v in ints {
            b.push_int(v);
        }
        b.push(b"hello");
        b.push(b"");
        b.push(&mid);
        b.push(&long);
        b.push(b"007");
        b.push(b"-12");
        let blob = b.finish();
        let got = decode(&blob).unwrap();
        let mut want: Vec<Entry> = ints.iter().map(|&v| Entry::Int(v)).collect();
        want.extend([
            Entry::Str(b"hello"),
            Entry::Str(b""),
            Entry::Str(&mid),
            Entry::Str(&long),
            Entry::Str(b"007"),
            Entry::Int(-12),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn known_vector() {
        // a listpack as Redis writes it for the hash f1=v1: "f1","v1"
        let blob = [
            0x0f, 0, 0, 0, 0x02, 0x00, 0x82, b'f', b'1', 0x03, 0x82, b'v', b'1', 0x03, 0xff,
        ];
        assert_eq!(
            decode(&blob).unwrap(),
            vec![Entry::Str(b"f1"), Entry::Str(b"v1")]
        );
        let mut b = Builder::new();
        b.push(b"f1");
        b.push(b"v1");
        assert_eq!(b.finish(), blob);
    }

    #[test]
    fn many_elements_count_saturates() {
        let mut b = Builder::new();
        for i in 0..70_000 {
            b.push_int(i);
        }
        let blob = b.finish();
        assert_eq!(&blob[4..6], &[0xff, 0xff]);
        assert_eq!(decode(&blob).unwrap().len(), 70_000);
    }

    #[test]
    fn rejects_corrupt() {
        let mut b = Builder::new();
        b.push(b"abc");
        b.push_int(1000);
        let blob = b.finish();
        for cut in 0..blob.len() {
            assert!(decode(&blob[..cut]).is_err());
        }
        let mut bad = blob.clone();
        bad[4] = 5; // wrong count
        assert!(decode(&bad).is_err());
        let mut bad = blob.clone();
        bad[6 + 4] = 9; // wrong back length of "abc"
        assert!(decode(&bad).is_err());
        let mut bad = blob;
        bad[6] = 0xf7; // invalid encoding
        assert!(decode(&bad).is_err());
    }
}
