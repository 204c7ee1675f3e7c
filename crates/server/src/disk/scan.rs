//! HSCAN / SSCAN / ZSCAN of big collections on the disk engine.
//!
//! The memory engine's cursors are positions in a hash table whose hasher is seeded per table,
//! and in disk mode the table is rebuilt each time the key is loaded: its cursor would not
//! resume where the previous call stopped. For the big encodings (`hashtable`, `skiplist`) the
//! elements are therefore ordered by a fixed 64-bit hash of the element, and the cursor is the
//! hash of the first element not returned yet (elements sharing a hash are returned together).
//! So every element present during the whole iteration is returned at least once, whatever is
//! added or removed meanwhile, as Redis guarantees, and the server keeps no state. Small
//! (listpack / intset) values are answered whole in one call by the memory handler, as in Redis.

use crate::cmd::generic::{parse_scan_options, ScanExtra, ScanOptions};
use crate::dispatch::Ctx;
use crate::errors::CmdResult;
use crate::glob::glob_match;
use ferrokv_rdb::RdbValue;

/// FNV-1a through the splitmix64 finaliser, never 0 (0 is the cursor of a finished scan).
fn element_hash(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    h | 1
}

/// Answers the command natively when it is an element scan of a big collection held by the
/// (already loaded) key; `None` lets the memory handler answer (small encodings, missing key,
/// wrong type).
pub fn try_scan(c: &mut Ctx<'_, '_>) -> Option<CmdResult> {
    let name = c.cmd.name;
    let want = match name {
        "hscan" => "hash",
        "sscan" => "set",
        "zscan" => "zset",
        _ => return None,
    };
    let key = c.arg(1);
    let now = c.now_ms();
    let clock = c.clock;
    let value = {
        let shard = c.shard(key).ok()?;
        let e = shard.get(key, &clock)?;
        if e.kind().type_name() != want || !matches!(e.encoding_name(), "hashtable" | "skiplist") {
            return None;
        }
        crate::persist::convert::entry_to_rdb(e, now)?
    };
    Some(scan_value(c, name, value))
}

fn scan_value(c: &mut Ctx<'_, '_>, name: &str, value: RdbValue) -> CmdResult {
    let cursor = crate::cmd::generic::parse_cursor(c.arg(2))?;
    let extra = if name == "hscan" {
        ScanExtra::NoValues
    } else {
        ScanExtra::None
    };
    let ScanOptions {
        count,
        pattern,
        novalues,
        ..
    } = parse_scan_options(c.argv, 3, extra)?;
    // (hash, element, value text)
    let mut items: Vec<(u64, Vec<u8>, Vec<u8>)> = match value {
        RdbValue::Hash(fields) => fields
            .into_iter()
            .map(|f| (element_hash(&f.field), f.field, f.value))
            .collect(),
        RdbValue::Set(members) => members
            .into_iter()
            .map(|m| (element_hash(&m), m, Vec::new()))
            .collect(),
        RdbValue::ZSet(pairs) => pairs
            .into_iter()
            .map(|(m, s)| {
                let mut text = Vec::new();
                ferrokv_resp::format_double(s, &mut text);
                (element_hash(&m), m, text)
            })
            .collect(),
        _ => Vec::new(),
    };
    items.retain(|(h, _, _)| *h >= cursor);
    items.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let mut end = items.len().min(count);
    while end < items.len() && end > 0 && items[end].0 == items[end - 1].0 {
        end += 1;
    }
    let next = items.get(end).map_or(0, |x| x.0);
    items.truncate(end);
    if let Some(p) = pattern {
        items.retain(|(_, m, _)| glob_match(p, m, false));
    }
    let with_values = name != "sscan" && !novalues;
    let r = c.out();
    r.array(2);
    r.bulk(itoa::Buffer::new().format(next).as_bytes());
    r.array(if with_values {
        items.len() * 2
    } else {
        items.len()
    });
    for (_, m, v) in &items {
        r.bulk(m);
        if with_values {
            r.bulk(v);
        }
    }
    if name == "hscan" {
        c.hit(true);
    }
    Ok(())
}
