//! MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP.
//!
//! MEMORY USAGE reports the key's entry block (key, metadata and value live in one heap block)
//! plus its share of the table: one slot (the entry handle) and one control byte. SAMPLES is
//! accepted and validated as Redis does; it changes nothing because strings are measured
//! exactly. MEMORY STATS uses Redis's field names with the figures of INFO memory (see
//! [`crate::cmd::info`] for how memory is measured).

use crate::cmd::command::help_reply;
use crate::cmd::info::{memory_figures, MemoryFigures};
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdResult};
use crate::keyspace::SHARDS;
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
        Some(e) => reply.int((e.heap_size() + SLOT_BYTES) as i64),
        None => reply.null(),
    }
    Ok(())
}

/// (db, keys, keys with an expiry) of every non-empty database, each shard locked in turn.
fn key_counts(c: &Ctx) -> Vec<(usize, usize, usize)> {
    let ks = &c.srv.keyspace;
    let mut v = Vec::new();
    for db in 0..ks.db_count() {
        let (mut keys, mut expires) = (0, 0);
        for i in 0..SHARDS {
            if let Some(s) = ks.lock_one(db, i) {
                keys += s.len();
                expires += s.volatile_len();
            }
        }
        if keys > 0 {
            v.push((db, keys, expires));
        }
    }
    v
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
    let r = &mut *c.reply;
    r.map(24 + dbs.len());
    let int = |r: &mut ferrokv_resp::Reply, k: &str, v: u64| {
        r.bulk(k.as_bytes());
        r.int(v as i64);
    };
    let dbl = |r: &mut ferrokv_resp::Reply, k: &str, v: f64| {
        r.bulk(k.as_bytes());
        r.double(v);
    };
    int(r, "peak.allocated", peak);
    int(r, "total.allocated", used);
    int(r, "startup.allocated", startup);
    int(r, "replication.backlog", 0);
    int(r, "clients.slaves", 0);
    int(r, "clients.normal", 0);
    int(r, "cluster.links", 0);
    int(r, "aof.buffer", 0);
    int(r, "lua.caches", 0);
    int(r, "functions.caches", 0);
    for (db, keys, expires) in &dbs {
        r.bulk(format!("db.{db}").as_bytes());
        r.map(2);
        int(r, "overhead.hashtable.main", (keys * SLOT_BYTES) as u64);
        int(
            r,
            "overhead.hashtable.expires",
            (expires * SLOT_BYTES) as u64,
        );
    }
    int(r, "overhead.total", startup);
    int(r, "keys.count", total_keys as u64);
    int(
        r,
        "keys.bytes-per-key",
        if total_keys == 0 {
            0
        } else {
            dataset / total_keys as u64
        },
    );
    int(r, "dataset.bytes", dataset);
    dbl(r, "dataset.percentage", pct(dataset, used));
    dbl(r, "peak.percentage", pct(used, peak));
    int(r, "allocator.allocated", used);
    int(r, "allocator.active", used);
    int(r, "allocator.resident", used);
    dbl(r, "allocator-fragmentation.ratio", 1.0);
    int(r, "allocator-fragmentation.bytes", 0);
    dbl(r, "allocator-rss.ratio", 1.0);
    int(r, "allocator-rss.bytes", 0);
    dbl(r, "rss-overhead.ratio", 1.0);
    int(r, "rss-overhead.bytes", 0);
    dbl(r, "fragmentation", 1.0);
    int(r, "fragmentation.bytes", 0);
    Ok(())
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
