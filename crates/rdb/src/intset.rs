//! Intset: Redis's sorted array of integers used for small all-integer sets.
//!
//! Layout (little endian): `u32` element width in bytes (2, 4 or 8), `u32`
//! element count, then the elements in ascending order, each of that width.
//! Every element uses the width of the widest one.

/// Decodes an intset blob into its integers, checking the header, the length
/// and (as Redis's deep sanitisation does) that elements strictly ascend.
pub fn decode(blob: &[u8]) -> Result<Vec<i64>, String> {
    if blob.len() < 8 {
        return Err("intset header truncated".into());
    }
    let width = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    let count = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(format!("intset with invalid encoding {width}"));
    }
    let body = &blob[8..];
    if count.checked_mul(width) != Some(body.len()) {
        return Err("intset length does not match its element count".into());
    }
    let mut out = Vec::with_capacity(count);
    for chunk in body.chunks_exact(width) {
        let v = match width {
            2 => i64::from(i16::from_le_bytes([chunk[0], chunk[1]])),
            4 => i64::from(i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]])),
            _ => {
                let mut b = [0u8; 8];
                b.copy_from_slice(chunk);
                i64::from_le_bytes(b)
            }
        };
        if let Some(&prev) = out.last() {
            if v <= prev {
                return Err("intset elements not in ascending order".into());
            }
        }
        out.push(v);
    }
    Ok(out)
}

/// Encodes integers as an intset (sorted, duplicates removed, narrowest
/// width that holds them all).
pub fn encode(values: &[i64]) -> Vec<u8> {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.dedup();
    let width: usize = if v.iter().all(|&x| i16::try_from(x).is_ok()) {
        2
    } else if v.iter().all(|&x| i32::try_from(x).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * v.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    for x in v {
        out.extend_from_slice(&x.to_le_bytes()[..width]);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_each_width() {
        for set in [
            vec![1i64, 2, 3, -4],
            vec![100_000, -5, 7],
            vec![6_000_000_000, 1, i64::MIN, i64::MAX],
            vec![],
        ] {
            let blob = encode(&set);
            let mut sorted = set.clone();
            sorted.sort_unstable();
            assert_eq!(decode(&blob).unwrap(), sorted);
        }
        assert_eq!(encode(&[1, 2])[0], 2);
        assert_eq!(encode(&[1, 70_000])[0], 4);
        assert_eq!(encode(&[1, 1 << 40])[0], 8);
    }

    #[test]
    fn known_vector_from_fixture() {
        // set_zipped_1 of encodings.rdb: 16-bit intset 1,2,3,4
        let blob = [2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 2, 0, 3, 0, 4, 0];
        assert_eq!(decode(&blob).unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(encode(&[4, 3, 2, 1]), blob);
    }

    #[test]
    fn rejects_corrupt() {
        assert!(decode(&[2, 0, 0]).is_err());
        assert!(decode(&[3, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode(&[2, 0, 0, 0, 2, 0, 0, 0, 1, 0]).is_err());
        assert!(decode(&[2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 1, 0]).is_err());
        assert!(decode(&[2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
