//! CRC-64 as Redis computes it for RDB files and DUMP payloads.
//!
//! Parameters (the "Jones" polynomial in Redis's `crc64.c`): polynomial
//! `0xad93d23594c935a9`, input and output reflected, initial value 0, no final
//! XOR. The check value over the ASCII text `123456789` is
//! `0xe9c6d914c4b8d9ca`. Implemented with a byte-wise table built at compile
//! time from the reflected polynomial.

/// The polynomial bit-reversed, as used by the reflected algorithm.
const POLY_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;

const fn make_table() -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY_REFLECTED
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static TABLE: [u64; 256] = make_table();

/// Continues a running CRC-64 (`crc` is the value over the bytes before
/// `data`; start with 0) and returns the value over both.
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    for &b in data {
        crc = TABLE[((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::crc64;

    #[test]
    fn check_value_matches_redis() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn incremental_equals_whole() {
        let data = b"This is a test of the emergency broadcast system.";
        let whole = crc64(0, data);
        let (a, b) = data.split_at(17);
        assert_eq!(crc64(crc64(0, a), b), whole);
        assert_eq!(crc64(0, b""), 0);
    }
}
