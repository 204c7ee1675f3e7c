//! LZF compression as used for RDB strings (Redis's `lzf_c.c`/`lzf_d.c`
//! format; this is an independent implementation of the format).
//!
//! The compressed stream is a sequence of items, each starting with a control
//! byte `c`:
//! * `c < 32`: a literal run; the next `c + 1` bytes are copied as is;
//! * otherwise a back reference: length `c >> 5` (7 means "7 plus the next
//!   byte"), then one more byte `b`; the `len + 2` bytes are copied from
//!   `((c & 31) << 8) + b + 1` bytes before the current output position
//!   (the source may overlap the destination).

/// Errors from [`decompress`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LzfError {
    /// The input ends inside an item.
    Truncated,
    /// A back reference points before the start of the output.
    BadReference,
    /// The output would exceed the expected length.
    TooLong,
    /// The output is shorter than the expected length.
    TooShort,
}

impl std::fmt::Display for LzfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LzfError::Truncated => "LZF data truncated",
            LzfError::BadReference => "LZF back reference out of range",
            LzfError::TooLong => "LZF data longer than its declared length",
            LzfError::TooShort => "LZF data shorter than its declared length",
        })
    }
}

/// An upper bound on the ratio between decompressed and compressed size
/// (the best item, a 3-byte long back reference, yields 264 bytes).
/// Callers use it to reject impossible declared lengths before allocating.
pub const MAX_EXPANSION: u64 = 132;

/// Decompresses `input`, which must expand to exactly `out_len` bytes.
///
/// The output buffer is allocated up front, so callers must have checked
/// `out_len` against `input.len() * MAX_EXPANSION` (the RDB decoder does).
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, LzfError> {
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut i = 0usize;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(i..i + run).ok_or(LzfError::Truncated)?;
            if out.len() + run > out_len {
                return Err(LzfError::TooLong);
            }
            out.extend_from_slice(lit);
            i += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
                i += 1;
            }
            let low = usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            let len = len + 2;
            if back > out.len() {
                return Err(LzfError::BadReference);
            }
            if out.len() + len > out_len {
                return Err(LzfError::TooLong);
            }
            let start = out.len() - back;
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    if out.len() != out_len {
        return Err(LzfError::TooShort);
    }
    Ok(out)
}

/// Largest hash table (2^14 slots); small inputs use a smaller one so that
/// compressing many short strings does not cost a big table each.
const MAX_HASH_BITS: u32 = 14;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3); // 264 = 7 + 255 + 2

fn hash3(a: u8, b: u8, c: u8, bits: u32) -> usize {
    let v = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
    (v.wrapping_mul(2_654_435_761) >> (32 - bits)) as usize
}

fn push_literals(out: &mut Vec<u8>, mut lits: &[u8]) {
    while !lits.is_empty() {
        let n = lits.len().min(32);
        out.push((n - 1) as u8);
        out.extend_from_slice(&lits[..n]);
        lits = &lits[n..];
    }
}

/// Compresses `input`; returns `None` when the result would not be at least
/// 5 bytes shorter than the input (Redis stores such strings uncompressed),
/// which includes every input of 4 bytes or fewer.
pub fn compress(input: &[u8]) -> Option<Vec<u8>> {
    let n = input.len();
    if n <= 4 {
        return None;
    }
    let limit = n - 4;
    let mut out = Vec::with_capacity(limit);
    // positions + 1 (0 = empty slot)
    let bits = (usize::BITS - n.leading_zeros()).clamp(4, MAX_HASH_BITS);
    let mut table = vec![0usize; 1 << bits];
    let mut lit_start = 0usize;
    let mut i = 0usize;
    while i + 2 < n {
        let h = hash3(input[i], input[i + 1], input[i + 2], bits);
        let cand = table[h];
        table[h] = i + 1;
        if cand != 0 {
            let r = cand - 1;
            let off = i - r - 1;
            if off < MAX_OFF && input[r..r + 3] == input[i..i + 3] {
                let max = (n - i).min(MAX_REF);
                let mut len = 3;
                while len < max && input[r + len] == input[i + len] {
                    len += 1;
                }
                push_literals(&mut out, &input[lit_start..i]);
                let l = len - 2;
                if l < 7 {
                    out.push(((l << 5) | (off >> 8)) as u8);
                } else {
                    out.push(((7 << 5) | (off >> 8)) as u8);
                    out.push((l - 7) as u8);
                }
                out.push((off & 0xff) as u8);
                // index the positions inside the match (cheap, better ratio)
                let end = i + len;
                let mut j = i + 1;
                while j + 2 < n && j < end {
                    table[hash3(input[j], input[j + 1], input[j + 2], bits)] = j + 1;
                    j += 1;
                }
                i = end;
                lit_start = i;
                if out.len() > limit {
                    return None;
                }
                continue;
            }
        }
        i += 1;
    }
    push_literals(&mut out, &input[lit_start..]);
    if out.len() >= limit {
        return None;
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_repetitive() {
        let data = vec![b'a'; 1000];
        let c = compress(&data).unwrap();
        assert!(c.len() < 40, "{}", c.len());
        assert_eq!(decompress(&c, data.len()).unwrap(), data);
    }

    #[test]
    fn round_trip_mixed() {
        let mut data = Vec::new();
        for i in 0..5000u32 {
            data.extend_from_slice(format!("key:{}:{} ", i % 97, i % 13).as_bytes());
        }
        let c = compress(&data).unwrap();
        assert!(c.len() < data.len() / 2);
        assert_eq!(decompress(&c, data.len()).unwrap(), data);
    }

    #[test]
    fn incompressible_returns_none() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 7919 % 251) as u8).collect();
        if let Some(c) = compress(&data) {
            assert_eq!(decompress(&c, data.len()).unwrap(), data);
        }
        assert_eq!(compress(b"abcd"), None);
        assert_eq!(compress(b"abcdefgh"), None);
    }

    #[test]
    fn decodes_redis_vector() {
        // "compressible" from the encodings.rdb fixture: 137 x 'a'
        let c = [0x01, 0x61, 0x61, 0xe0, 0x7c, 0x00, 0x01, 0x61, 0x61];
        assert_eq!(decompress(&c, 137).unwrap(), vec![b'a'; 137]);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(decompress(&[0x05, 1, 2], 6), Err(LzfError::Truncated));
        assert_eq!(decompress(&[0x20, 0x00], 3), Err(LzfError::BadReference));
        assert_eq!(decompress(&[0x00, 1], 0), Err(LzfError::TooLong));
        assert_eq!(decompress(&[0x00, 1], 2), Err(LzfError::TooShort));
        assert_eq!(decompress(&[0xe0], 10), Err(LzfError::Truncated));
    }
}
