//! Ziplist (Redis < 7.0 compact sequence) and zipmap (Redis < 2.6 compact
//! hash): decoders for loading old files, plus a ziplist encoder used to
//! build test input.
//!
//! Ziplist layout (LE): `u32` total bytes, `u32` offset of the last entry,
//! `u16` entry count (65535 = unknown), entries, `0xFF`. Each entry holds the
//! previous entry's size (1 byte, or `0xFE` + `u32`), an encoding header and
//! the data: `00pppppp` / `01pppppp qqqqqqqq` / `0x80` + `u32` BE are strings
//! of 6/14/32-bit length; `0xC0` i16, `0xD0` i32, `0xE0` i64, `0xF0` 24-bit,
//! `0xFE` i8 (all LE); `0xF1..=0xFD` an immediate 0..=12.
//!
//! Zipmap layout: a 1-byte count, then `len key len free value [free bytes]`
//! records, terminated by `0xFF`; lengths are 1 byte (< 254) or `0xFE` + `u32`.

pub use crate::listpack::Entry;
use crate::util::parse_canonical_i64;

const HEADER: usize = 10;

/// Decodes and validates a ziplist (header sizes, tail offset, every entry's
/// previous-length field, terminator, count).
pub fn decode(blob: &[u8]) -> Result<Vec<Entry<'_>>, String> {
    if blob.len() < HEADER + 1 {
        return Err("ziplist header truncated".into());
    }
    let total = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    let tail = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as usize;
    let count = usize::from(u16::from_le_bytes([blob[8], blob[9]]));
    if total != blob.len() {
        return Err("ziplist declared size does not match its length".into());
    }
    let err = |m: &str| Err(format!("ziplist {m}"));
    let mut out = Vec::with_capacity(count.min(blob.len()));
    let mut p = HEADER;
    let mut prev_len = 0usize;
    let mut last_start = HEADER;
    loop {
        let Some(&b) = blob.get(p) else {
            return err("without terminator");
        };
        if b == 0xff {
            if p + 1 != blob.len() {
                return err("terminator before its end");
            }
            break;
        }
        let start = p;
        let (pl, pls) = if b < 254 {
            (usize::from(b), 1)
        } else if b == 254 {
            let h = blob.get(p + 1..p + 5).ok_or("ziplist entry truncated")?;
            (u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize, 5)
        } else {
            return err("entry with invalid previous length");
        };
        if pl != prev_len {
            return err("entry whose previous length is wrong");
        }
        p += pls;
        let e = *blob.get(p).ok_or("ziplist entry truncated")?;
        let data = |from: usize, n: usize| -> Result<&[u8], String> {
            blob.get(from..from + n)
                .ok_or_else(|| "ziplist entry overflows the blob".to_string())
        };
        let (entry, size) = match e >> 6 {
            0 => {
                let n = usize::from(e & 0x3f);
                (Entry::Str(data(p + 1, n)?), 1 + n)
            }
            1 => {
                let n = (usize::from(e & 0x3f) << 8) | usize::from(data(p + 1, 1)?[0]);
                (Entry::Str(data(p + 2, n)?), 2 + n)
            }
            2 => {
                let h = data(p + 1, 4)?;
                let n = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
                (Entry::Str(data(p + 5, n)?), 5 + n)
            }
            _ => match e {
                0xc0 => {
                    let d = data(p + 1, 2)?;
                    (Entry::Int(i64::from(i16::from_le_bytes([d[0], d[1]]))), 3)
                }
                0xd0 => {
                    let d = data(p + 1, 4)?;
                    (
                        Entry::Int(i64::from(i32::from_le_bytes([d[0], d[1], d[2], d[3]]))),
                        5,
                    )
                }
                0xe0 => {
                    let d = data(p + 1, 8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(d);
                    (Entry::Int(i64::from_le_bytes(a)), 9)
                }
                0xf0 => {
                    let d = data(p + 1, 3)?;
                    let v = i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8;
                    (Entry::Int(i64::from(v)), 4)
                }
                0xfe => (Entry::Int(i64::from(data(p + 1, 1)?[0] as i8)), 2),
                0xf1..=0xfd => (Entry::Int(i64::from(e & 0x0f) - 1), 1),
                _ => return err("entry with invalid encoding"),
            },
        };
        p += size;
        prev_len = p - start;
        last_start = start;
        out.push(entry);
    }
    if tail != last_start {
        return err("tail offset is wrong");
    }
    if count != 65535 && count != out.len() {
        return err("entry count does not match its entries");
    }
    Ok(out)
}

/// Encodes elements as a ziplist the way Redis did (canonical integers in
/// integer encodings). Used to build old-format test data.
pub fn encode(items: &[&[u8]]) -> Vec<u8> {
    let mut buf = vec![0u8; HEADER];
    let mut prev_len = 0usize;
    let mut last_start = HEADER;
    for item in items {
        let start = buf.len();
        if prev_len < 254 {
            buf.push(prev_len as u8);
        } else {
            buf.push(254);
            buf.extend_from_slice(&(prev_len as u32).to_le_bytes());
        }
        match parse_canonical_i64(item) {
            Some(v) if (0..=12).contains(&v) => buf.push(0xf1 + v as u8),
            Some(v) if i8::try_from(v).is_ok() => {
                buf.push(0xfe);
                buf.push(v as u8);
            }
            Some(v) if i16::try_from(v).is_ok() => {
                buf.push(0xc0);
                buf.extend_from_slice(&(v as i16).to_le_bytes());
            }
            Some(v) if (-8_388_608..=8_388_607).contains(&v) => {
                buf.push(0xf0);
                buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            Some(v) if i32::try_from(v).is_ok() => {
                buf.push(0xd0);
                buf.extend_from_slice(&(v as i32).to_le_bytes());
            }
            Some(v) => {
                buf.push(0xe0);
                buf.extend_from_slice(&v.to_le_bytes());
            }
            None => {
                let n = item.len();
                if n <= 63 {
                    buf.push(n as u8);
                } else if n <= 16383 {
                    buf.push(0x40 | (n >> 8) as u8);
                    buf.push((n & 0xff) as u8);
                } else {
                    buf.push(0x80);
                    buf.extend_from_slice(&(n as u32).to_be_bytes());
                }
                buf.extend_from_slice(item);
            }
        }
        prev_len = buf.len() - start;
        last_start = start;
    }
    buf.push(0xff);
    let total = buf.len() as u32;
    buf[0..4].copy_from_slice(&total.to_le_bytes());
    buf[4..8].copy_from_slice(&(last_start as u32).to_le_bytes());
    let count = items.len().min(65535) as u16;
    buf[8..10].copy_from_slice(&count.to_le_bytes());
    buf
}

/// Field/value pairs of a decoded zipmap.
pub type ZipmapPairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Decodes a zipmap into field/value pairs.
pub fn decode_zipmap(blob: &[u8]) -> Result<ZipmapPairs, String> {
    fn len_at(blob: &[u8], p: usize) -> Result<(usize, usize), String> {
        match blob.get(p) {
            Some(&b) if b < 254 => Ok((usize::from(b), 1)),
            Some(&254) => {
                let h = blob.get(p + 1..p + 5).ok_or("zipmap length truncated")?;
                Ok((u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize, 5))
            }
            _ => Err("zipmap with invalid length".into()),
        }
    }
    if blob.len() < 2 {
        return Err("zipmap truncated".into());
    }
    let mut out = Vec::new();
    let mut p = 1usize;
    loop {
        match blob.get(p) {
            None => return Err("zipmap without terminator".into()),
            Some(0xff) => {
                if p + 1 != blob.len() {
                    return Err("zipmap terminator before its end".into());
                }
                break;
            }
            Some(_) => {}
        }
        let (klen, s) = len_at(blob, p)?;
        p += s;
        let key = blob.get(p..p + klen).ok_or("zipmap key truncated")?;
        p += klen;
        let (vlen, s) = len_at(blob, p)?;
        p += s;
        let free = usize::from(*blob.get(p).ok_or("zipmap value truncated")?);
        p += 1;
        let val = blob.get(p..p + vlen).ok_or("zipmap value truncated")?;
        p += vlen + free;
        out.push((key.to_vec(), val.to_vec()));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let big = vec![b'z'; 20_000];
        let mid = vec![b'm'; 300];
        let items: Vec<&[u8]> = vec![
            b"a",
            b"0",
            b"12",
            b"13",
            b"-100",
            b"1000",
            b"100000",
            b"10000000",
            b"6000000000",
            b"",
            &mid,
            &big,
            b"tail",
        ];
        let blob = encode(&items);
        let got: Vec<Vec<u8>> = decode(&blob)
            .unwrap()
            .into_iter()
            .map(Entry::to_bytes)
            .collect();
        let want: Vec<Vec<u8>> = items.iter().map(|s| s.to_vec()).collect();
        assert_eq!(got, want);
        assert_eq!(decode(&encode(&[])).unwrap(), vec![]);
    }

    #[test]
    fn known_vector_from_fixture() {
        // hash-ziplist.rdb: f1,v1,f2,v2
        let blob = [
            0x1b, 0, 0, 0, 0x16, 0, 0, 0, 4, 0, 0, 2, b'f', b'1', 4, 2, b'v', b'1', 4, 2, b'f',
            b'2', 4, 2, b'v', b'2', 0xff,
        ];
        let got = decode(&blob).unwrap();
        assert_eq!(
            got,
            vec![
                Entry::Str(b"f1"),
                Entry::Str(b"v1"),
                Entry::Str(b"f2"),
                Entry::Str(b"v2")
            ]
        );
        assert_eq!(encode(&[b"f1", b"v1", b"f2", b"v2"]), blob);
    }

    #[test]
    fn rejects_corrupt() {
        let blob = encode(&[b"abc", b"1000", b"x"]);
        for cut in 0..blob.len() {
            assert!(decode(&blob[..cut]).is_err());
        }
        let mut bad = blob.clone();
        bad[4] = 11; // tail offset
        assert!(decode(&bad).is_err());
        let mut bad = blob;
        bad[HEADER + 5] = 7; // prevlen of the second entry
        assert!(decode(&bad).is_err());
    }

    #[test]
    fn zipmap_vector() {
        let blob = [
            2, 2, b'f', b'1', 2, 0, b'v', b'1', 2, b'f', b'2', 2, 1, b'v', b'2', b'?', 0xff,
        ];
        assert_eq!(
            decode_zipmap(&blob).unwrap(),
            vec![
                (b"f1".to_vec(), b"v1".to_vec()),
                (b"f2".to_vec(), b"v2".to_vec())
            ]
        );
        assert!(decode_zipmap(&blob[..10]).is_err());
        assert!(decode_zipmap(&[2, 5, b'a']).is_err());
    }
}
