//! Fuzz target for the RDB file decoder: arbitrary bytes (behind a valid
//! header when the first byte is odd, so mutations reach the body) must never
//! panic or allocate without bound; every file that loads must survive a
//! write-then-read round trip through `RdbWriter` (version 12) with the same
//! keys/values (a stream consumer without an active time gets its seen time,
//! as Redis does).
#![no_main]

use ferrokv_rdb::{load, RdbValue, RdbWriter, WriteOptions};
use libfuzzer_sys::fuzz_target;

fn normalise(v: &RdbValue) -> RdbValue {
    let mut n = v.sorted_clone();
    if let RdbValue::Stream(st) = &mut n {
        for c in st.groups.iter_mut().flat_map(|g| g.consumers.iter_mut()) {
            c.active_time_ms = Some(c.active_time_ms.unwrap_or(c.seen_time_ms));
        }
    }
    n
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let input: Vec<u8> = if mode & 1 == 1 {
        [b"REDIS0012".as_slice(), rest].concat()
    } else {
        rest.to_vec()
    };
    let Ok(file) = load(&input[..]) else {
        return;
    };
    let opts = WriteOptions {
        version: 12,
        compression: mode & 2 == 0,
        ..WriteOptions::default()
    };
    let mut w = RdbWriter::new(Vec::new(), opts).expect("vec write");
    for (k, v) in &file.aux {
        w.aux(k, v).expect("vec write");
    }
    for f in &file.functions {
        w.function(f).expect("vec write");
    }
    for rec in &file.keys {
        w.select_db(rec.db, 1, 0).expect("vec write");
        w.write_record(rec).expect("v12 represents every value");
    }
    let out = w.finish().expect("vec write");
    let again = load(&out[..]).expect("own output must load");
    assert_eq!(again.aux, file.aux);
    assert_eq!(again.functions, file.functions);
    assert_eq!(again.keys.len(), file.keys.len());
    for (a, b) in again.keys.iter().zip(&file.keys) {
        assert_eq!(a.db, b.db);
        assert_eq!(a.key, b.key);
        assert_eq!(a.expire_ms, b.expire_ms);
        assert_eq!(a.lru_idle, b.lru_idle);
        assert_eq!(a.lfu_freq, b.lfu_freq);
        assert_eq!(normalise(&a.value), normalise(&b.value));
    }
});
