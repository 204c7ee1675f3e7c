//! MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP.
//!
//! MEMORY USAGE reports the key's entry block (key, metadata and value live in one heap block),
//! rounded up to the allocator's size class ([`alloc_size`]), plus its share of the table: one
//! slot (the entry handle) and one control byte. SAMPLES is
//! accepted and validated as Redis does; it changes nothing because strings are measured
//! exactly. MEMORY STATS uses Redis's field names with the figures of INFO memory (see
//! [`crate::cmd::info`] for how memory is measured).

use crate::cmd::help_reply;
use crate::cmd::info::{for_each_shard, memory_figures, MemoryFigures};
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdResult};
use ferrokv_engine::{Clock, Entry};

/// Binds the group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("memory|usage", usage, Locking::Keys);
    t.add("memory|stats", stats, Locking::None);
    t.add("memory|doctor", doctor, Locking::None);
    t.add("memory|malloc-stats", malloc_stats, Locking::None);
    t.add("memory|purge", purge, Locking::None);
    t.add("memory|help", help, Locking::None);
}

/// Bytes a key costs beyond its entry block: its table slot and control byte.
pub const SLOT_BYTES: usize = std::mem::size_of::<Entry>() + 1;

/// The size class an allocation of `n` bytes really takes, modelled on mimalloc's bins: 8-byte
/// steps up to 64 bytes, then four classes per power of two.
pub fn alloc_size(n: usize) -> usize {
    if n <= 64 {
        return n.max(1).div_ceil(8) * 8;
    }
    let top = usize::BITS - 1 - n.leading_zeros();
    let step = 1usize << (top - 2);
    n.div_ceil(step) * step
}

fn usage(c: &mut Ctx) -> CmdResult {
    let mut i = 3;
    while i < c.argv.len() {
        if crate::args::is(c.arg(i), "SAMPLES") && i + 1 < c.argv.len() {
            let n = crate::args::int(c.arg(i + 1))?;
            if n < 0 {
                return Err(errors::SYNTAX);
            }
            i += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let key = c.arg(2);
    let clock = Clock {
        touch: false,
        ..c.clock
    };
    let (shard, reply) = c.shard_reply(key)?;
    match shard.get(key, &clock) {
        Some(e) => reply.int((alloc_size(e.heap_size()) + SLOT_BYTES) as i64),
        None => reply.null(),
    }
    Ok(())
}

/// (db, keys, keys with an expiry) of every non-empty database.
fn key_counts(c: &mut Ctx) -> Vec<(usize, usize, usize)> {
    let mut per_db = vec![(0usize, 0usize); c.srv.keyspace.db_count()];
    for_each_shard(c, |db, s| {
        if let Some(d) = per_db.get_mut(db) {
            d.0 += s.len();
            d.1 += s.volatile_len();
        }
    });
    per_db
        .into_iter()
        .enumerate()
        .filter(|(_, (k, _))| *k > 0)
        .map(|(db, (k, e))| (db, k, e))
        .collect()
}

fn stats(c: &mut Ctx) -> CmdResult {
    let MemoryFigures {
        used,
        peak,
        startup,
        dataset,
    } = memory_figures(c.srv);
    let dbs = key_counts(c);
    let total_keys: usize = dbs.iter().map(|d| d.1).sum();
    let pct = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        }
    };
    let mut f: Vec<(String, Stat)> = Vec::with_capacity(32);
    let mut int = |k: &str, v: u64| f.push((k.to_string(), Stat::Int(v)));
    int("peak.allocated", peak);
    int("total.allocated", used);
    int("startup.allocated", startup);
    for k in [
        "replication.backlog",
        "clients.slaves",
        "clients.normal",
        "cluster.links",
        "aof.buffer",
        "lua.caches",
        "functions.caches",
    ] {
        int(k, 0);
    }
    for (db, keys, expires) in &dbs {
        f.push((
            format!("db.{db}"),
            Stat::Db((keys * SLOT_BYTES) as u64, (expires * SLOT_BYTES) as u64),
        ));
    }
    let per_key = if total_keys == 0 {
        0
    } else {
        dataset / total_keys as u64
    };
    let mut int = |k: &str, v: u64| f.push((k.to_string(), Stat::Int(v)));
    int("overhead.total", startup);
    int("keys.count", total_keys as u64);
    int("keys.bytes-per-key", per_key);
    int("dataset.bytes", dataset);
    f.push((
        "dataset.percentage".into(),
        Stat::Double(pct(dataset, used)),
    ));
    f.push(("peak.percentage".into(), Stat::Double(pct(used, peak))));
    for k in [
        "allocator.allocated",
        "allocator.active",
        "allocator.resident",
    ] {
        f.push((k.into(), Stat::Int(used)));
    }
    for (ratio, bytes) in [
        (
            "allocator-fragmentation.ratio",
            "allocator-fragmentation.bytes",
        ),
        ("allocator-rss.ratio", "allocator-rss.bytes"),
        ("rss-overhead.ratio", "rss-overhead.bytes"),
        ("fragmentation", "fragmentation.bytes"),
    ] {
        f.push((ratio.into(), Stat::Double(1.0)));
        f.push((bytes.into(), Stat::Int(0)));
    }
    let r = &mut *c.reply;
    r.map(f.len());
    for (k, v) in f {
        r.bulk(k.as_bytes());
        match v {
            Stat::Int(n) => r.int(n as i64),
            Stat::Double(d) => r.double(d),
            Stat::Db(main, expires) => {
                r.map(2);
                r.bulk(b"overhead.hashtable.main");
                r.int(main as i64);
                r.bulk(b"overhead.hashtable.expires");
                r.int(expires as i64);
            }
        }
    }
    Ok(())
}

/// One MEMORY STATS value.
enum Stat {
    Int(u64),
    Double(f64),
    /// Per-database table overheads: main and expires.
    Db(u64, u64),
}

fn doctor(c: &mut Ctx) -> CmdResult {
    let f = memory_figures(c.srv);
    let text = if f.dataset < 5 * 1024 * 1024 {
        "Hi there. The dataset of this instance is empty or very small, so there is nothing \
         meaningful to diagnose about its memory yet.\n"
            .to_string()
    } else {
        format!(
            "Hi there. I looked at the memory of this instance and found no problem worth \
             reporting: {} resident, peak {}.\n",
            crate::cmd::info::bytes_to_human(f.used),
            crate::cmd::info::bytes_to_human(f.peak)
        )
    };
    c.reply.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn malloc_stats(c: &mut Ctx) -> CmdResult {
    c.reply
        .verbatim(b"txt", b"Stats not supported for the current allocator");
    Ok(())
}

fn purge(c: &mut Ctx) -> CmdResult {
    c.reply.ok();
    Ok(())
}

fn help(c: &mut Ctx) -> CmdResult {
    help_reply(
        c.reply,
        "MEMORY",
        &[
            "DOCTOR",
            "    A short report on the memory of this instance.",
            "MALLOC-STATS",
            "    Statistics of the memory allocator, when it provides them.",
            "PURGE",
            "    Ask the allocator to release unused memory.",
            "STATS",
            "    Details of the memory in use.",
            "USAGE <key> [SAMPLES <count>]",
            "    Bytes a key and its value take in memory.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::alloc_size;

    #[test]
    fn size_classes() {
        assert_eq!(alloc_size(0), 8);
        assert_eq!(alloc_size(1), 8);
        assert_eq!(alloc_size(9), 16);
        assert_eq!(alloc_size(64), 64);
        assert_eq!(alloc_size(65), 80);
        assert_eq!(alloc_size(128), 128);
        assert_eq!(alloc_size(129), 160);
        assert_eq!(alloc_size(1000), 1024);
    }
}
