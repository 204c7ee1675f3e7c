//! Fuzz target for RESTORE payload decoding. The input is used both as is
//! and as a value body given a valid footer (version 10..=12 and the right
//! CRC-64), so mutations reach the value decoders. Nothing may panic; a
//! payload that decodes must round-trip through `dump_value` (which writes
//! version 10, so stream consumers lose their 7.2 active time).
#![no_main]

use ferrokv_rdb::{crc64::crc64, dump_value, restore_value, RdbValue};
use libfuzzer_sys::fuzz_target;

fn normalise(v: &RdbValue) -> RdbValue {
    let mut n = v.sorted_clone();
    if let RdbValue::Stream(st) = &mut n {
        for c in st.groups.iter_mut().flat_map(|g| g.consumers.iter_mut()) {
            c.active_time_ms = None;
        }
    }
    n
}

fn check(payload: &[u8]) {
    if let Ok(v) = restore_value(payload) {
        let again = restore_value(&dump_value(&v)).expect("own payload must restore");
        assert_eq!(normalise(&again), normalise(&v));
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let Some((&ver, body)) = data.split_first() else {
        return;
    };
    let mut p = body.to_vec();
    p.extend_from_slice(&(10 + u16::from(ver % 3)).to_le_bytes());
    let crc = crc64(0, &p);
    p.extend_from_slice(&crc.to_le_bytes());
    check(&p);
});
