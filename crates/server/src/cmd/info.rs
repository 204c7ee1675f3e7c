//! INFO: the server's report, in Redis 7.4's sections and field names (tools parse them).
//!
//! Sections: server, clients, memory, persistence, stats, replication, cpu, modules,
//! commandstats, errorstats, latencystats, cluster, keyspace. `INFO` alone and `INFO default`
//! give the default sections, `all` adds commandstats and latencystats, `everything` adds module
//! sections too (there are none); several section names may be given, and their union is
//! reported in the fixed section order. Unknown names add nothing.
//!
//! Memory figures: the global allocator is mimalloc, whose statistics are only reachable through
//! `unsafe` FFI (denied in this workspace). `used_memory` is therefore the process's resident
//! set size (`VmRSS` of /proc/self/status) and `used_memory_peak` its high-water mark (`VmHWM`),
//! so `mem_fragmentation_ratio` is 1.00; `used_memory_startup` is the RSS when the server
//! state was built, `used_memory_dataset` what came after. CPU times come from
//! /proc/self/stat (process) and /proc/thread-self/stat (the thread running INFO).
//!
//! `instantaneous_*` figures come from a sampler the cron task calls every 100 ms
//! ([`cron_sample`]), averaged over the last 16 samples like Redis.

use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::CmdResult;
use crate::keyspace::SHARDS;
use crate::server::Server;
use ferrokv_engine::Shard;
use parking_lot::Mutex;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Binds the group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("info", info, Locking::Manual);
}

/// Samples kept for the instantaneous metrics (Redis's STATS_METRIC_SAMPLES).
const SAMPLES: usize = 16;
/// Minimum interval between two samples, in ms.
const SAMPLE_PERIOD_MS: i64 = 100;

/// One instantaneous metric: the last counter value and per-second rates of recent samples.
#[derive(Default)]
struct Metric {
    last_value: u64,
    rates: [f64; SAMPLES],
}

#[derive(Default)]
struct Sampler {
    last_ms: i64,
    idx: usize,
    filled: usize,
    ops: Metric,
    net_in: Metric,
    net_out: Metric,
}

/// Introspection state the server keeps for INFO and MEMORY: instantaneous-rate samples,
/// replication ids, and the memory figure at startup.
pub struct Metrics {
    sampler: Mutex<Sampler>,
    /// Random replication id (INFO replication master_replid).
    pub replid: String,
    /// Resident memory when the server state was built (used_memory_startup).
    pub startup_memory: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            sampler: Mutex::new(Sampler::default()),
            replid: crate::util::random_hex(40),
            startup_memory: AtomicU64::new(process_memory().rss),
        }
    }
}

impl Metrics {
    /// Forgets the instantaneous-rate samples (CONFIG RESETSTAT); the next sample re-baselines.
    pub fn reset(&self) {
        *self.sampler.lock() = Sampler::default();
    }

    fn instantaneous(&self) -> (f64, f64, f64) {
        let s = self.sampler.lock();
        let avg = |m: &Metric| {
            if s.filled == 0 {
                0.0
            } else {
                m.rates.iter().take(s.filled).sum::<f64>() / s.filled as f64
            }
        };
        (avg(&s.ops), avg(&s.net_in), avg(&s.net_out))
    }
}

/// Takes one sample of the command and network counters if at least 100 ms passed since the
/// last one (called by the cron task at every tick).
pub fn cron_sample(srv: &Server) {
    let now = crate::util::now_ms();
    let st = &srv.stats;
    let values = [
        st.total_commands_processed.load(Relaxed),
        st.net_input_bytes.load(Relaxed),
        st.net_output_bytes.load(Relaxed),
    ];
    let mut s = srv.metrics.sampler.lock();
    if s.last_ms == 0 {
        s.last_ms = now;
        s.ops.last_value = values[0];
        s.net_in.last_value = values[1];
        s.net_out.last_value = values[2];
        return;
    }
    let elapsed = now - s.last_ms;
    if elapsed < SAMPLE_PERIOD_MS {
        return;
    }
    let idx = s.idx;
    let sampler = &mut *s;
    for (m, v) in [&mut sampler.ops, &mut sampler.net_in, &mut sampler.net_out]
        .into_iter()
        .zip(values)
    {
        let delta = v.saturating_sub(m.last_value);
        m.rates[idx] = delta as f64 * 1000.0 / elapsed as f64;
        m.last_value = v;
    }
    s.last_ms = now;
    s.idx = (idx + 1) % SAMPLES;
    s.filled = (s.filled + 1).min(SAMPLES);
}

/// The process's memory as the kernel sees it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcMemory {
    /// Resident set size in bytes.
    pub rss: u64,
    /// Peak resident set size in bytes.
    pub peak: u64,
}

/// Reads VmRSS / VmHWM from /proc/self/status (zeros where unavailable).
pub fn process_memory() -> ProcMemory {
    let mut m = ProcMemory::default();
    if let Ok(s) = std::fs::read_to_string("/proc/self/status") {
        for line in s.lines() {
            let kb = |l: &str| -> u64 {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
                    * 1024
            };
            if line.starts_with("VmRSS:") {
                m.rss = kb(line);
            } else if line.starts_with("VmHWM:") {
                m.peak = kb(line);
            }
        }
    }
    m.peak = m.peak.max(m.rss);
    m
}

/// Total physical memory (MemTotal of /proc/meminfo), 0 when unknown.
fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Redis's bytesToHuman: `123B`, `1.50K`, `2.00M`, ...
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: [(f64, &str); 6] = [
        (1024.0, "K"),
        (1024.0 * 1024.0, "M"),
        (1024.0 * 1024.0 * 1024.0, "G"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0, "T"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0, "P"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0, "E"),
    ];
    let d = n as f64;
    if d < 1024.0 {
        return format!("{n}B");
    }
    for w in UNITS.windows(2) {
        if d < w[1].0 {
            return format!("{:.2}{}", d / w[0].0, w[0].1);
        }
    }
    format!("{:.2}E", d / UNITS[5].0)
}

/// User and system CPU seconds from a /proc `stat` file: (user, sys, children user, children sys).
fn cpu_times(path: &str) -> (f64, f64, f64, f64) {
    const TICKS: f64 = 100.0;
    let Ok(s) = std::fs::read_to_string(path) else {
        return (0.0, 0.0, 0.0, 0.0);
    };
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15,
    // cutime 16, cstime 17 (1-based).
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse::<f64>().unwrap_or(0.0))
        .collect();
    let g = |i: usize| f.get(i - 3).copied().unwrap_or(0.0) / TICKS;
    (g(14), g(15), g(16), g(17))
}

/// Sections in output order, with whether `default` includes them.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    // ferrokv's own, only with `storage-engine disk` (INFO disk / all / everything).
    ("disk", false),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// Which sections a list of INFO arguments selects (Redis 7's genInfoSectionDict semantics).
pub fn selected_sections(args: &[&[u8]]) -> Vec<&'static str> {
    let mut want = [false; SECTIONS.len()];
    let set_default = |w: &mut [bool; SECTIONS.len()]| {
        for (i, (_, d)) in SECTIONS.iter().enumerate() {
            if *d {
                w[i] = true;
            }
        }
    };
    if args.is_empty() {
        set_default(&mut want);
    }
    for a in args {
        let a = String::from_utf8_lossy(a).to_ascii_lowercase();
        match a.as_str() {
            "default" => set_default(&mut want),
            "all" | "everything" => want = [true; SECTIONS.len()],
            name => {
                if let Some(i) = SECTIONS.iter().position(|(n, _)| *n == name) {
                    want[i] = true;
                }
            }
        }
    }
    SECTIONS
        .iter()
        .zip(want)
        .filter(|(_, w)| *w)
        .map(|((n, _), _)| *n)
        .collect()
}

fn info(c: &mut Ctx) -> CmdResult {
    // Publish this connection's pending counters so the report includes earlier pipelined calls.
    c.srv.flush_batch(c.client);
    let args: Vec<&[u8]> = c.argv[1..].iter().map(|b| &b[..]).collect();
    let sections = selected_sections(&args);
    let walk = if sections.iter().any(|s| *s == "stats" || *s == "keyspace") {
        let keyspace = sections.contains(&"keyspace");
        walk_shards(c, keyspace)
    } else {
        ShardWalk::default()
    };
    let text = info_string(c.srv, &sections, &walk);
    c.reply.verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// Visits every shard of every database, one at a time: shards the command already holds
/// (inside MULTI/EXEC) through its lock set, the others by locking each in turn.
pub fn for_each_shard(c: &mut Ctx, mut f: impl FnMut(usize, &mut Shard)) {
    let srv = c.srv;
    for db in 0..srv.keyspace.db_count() {
        for i in 0..SHARDS {
            if let Some(s) = c.locks.shard(db as u32, i as u32) {
                f(db, s);
            } else if let Some(mut s) = srv.keyspace.lock_one(db, i) {
                f(db, &mut s);
            }
        }
    }
}

/// What INFO needs from the shards, gathered in one walk.
#[derive(Default)]
pub struct ShardWalk {
    expired: u64,
    hits: u64,
    misses: u64,
    /// (keys, keys with an expiry) per database.
    dbs: Vec<(usize, usize)>,
}

/// `keyspace`: also the per-database key counts (in disk mode they come from the engine's
/// counters, which INFO stats does not need).
fn walk_shards(c: &mut Ctx, keyspace: bool) -> ShardWalk {
    let mut w = ShardWalk {
        dbs: vec![(0, 0); c.srv.keyspace.db_count()],
        ..ShardWalk::default()
    };
    for_each_shard(c, |db, s| {
        w.expired += s.stats.expired_keys;
        w.hits += s.stats.keyspace_hits;
        w.misses += s.stats.keyspace_misses;
        if let Some(d) = w.dbs.get_mut(db) {
            d.0 += s.len();
            d.1 += s.volatile_len();
        }
    });
    if keyspace {
        crate::disk::keyspace_counts(c.srv, &mut w.dbs);
    }
    w
}

/// The INFO text for the given sections (names as from [`selected_sections`]).
pub fn info_string(srv: &Server, sections: &[&str], walk: &ShardWalk) -> String {
    let mut out = String::with_capacity(4096);
    for name in sections {
        if *name == "disk" && !crate::disk::enabled(srv) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match *name {
            "disk" => crate::disk::info_section(srv, &mut out),
            "server" => server_section(srv, &mut out),
            "clients" => clients_section(srv, &mut out),
            "memory" => memory_section(srv, &mut out),
            "persistence" => persistence_section(srv, &mut out),
            "stats" => stats_section(srv, walk, &mut out),
            "replication" => replication_section(srv, &mut out),
            "cpu" => cpu_section(&mut out),
            "modules" => out.push_str("# Modules\r\n"),
            "commandstats" => commandstats_section(srv, &mut out),
            "errorstats" => errorstats_section(srv, &mut out),
            "latencystats" => out.push_str("# Latencystats\r\n"),
            "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            "keyspace" => keyspace_section(walk, &mut out),
            _ => {}
        }
    }
    out
}

macro_rules! field {
    ($out:expr, $name:expr, $($arg:tt)*) => {{
        let _ = write!($out, "{}:", $name);
        let _ = write!($out, $($arg)*);
        $out.push_str("\r\n");
    }};
}

fn server_section(srv: &Server, out: &mut String) {
    let (hz, configured_hz, bind, port) = {
        let cfg = srv.config.read();
        (
            srv.hot.hz.load(Relaxed),
            cfg.hz(),
            cfg.bind(),
            srv.tcp_port.load(Relaxed),
        )
    };
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let now_us = crate::util::now_us();
    let uptime = srv.started.elapsed().as_secs();
    out.push_str("# Server\r\n");
    field!(out, "redis_version", "{}", crate::REDIS_VERSION);
    field!(out, "server_name", "ferrokv");
    field!(out, "ferrokv_version", "{}", crate::FERROKV_VERSION);
    let engine = if crate::disk::enabled(srv) {
        "disk"
    } else {
        "memory"
    };
    field!(out, "storage_engine", "{}", engine);
    field!(out, "redis_git_sha1", "00000000");
    field!(out, "redis_git_dirty", "0");
    field!(out, "redis_build_id", "{}", build_id());
    field!(out, "redis_mode", "standalone");
    field!(
        out,
        "os",
        "{} {} {}",
        capitalised(std::env::consts::OS),
        release.trim(),
        std::env::consts::ARCH
    );
    field!(out, "arch_bits", "{}", usize::BITS);
    field!(out, "monotonic_clock", "POSIX clock_gettime");
    field!(out, "multiplexing_api", "epoll");
    field!(out, "atomicvar_api", "c11-builtin");
    field!(out, "gcc_version", "0.0.0");
    field!(out, "process_id", "{}", std::process::id());
    field!(out, "process_supervised", "no");
    field!(out, "run_id", "{}", srv.run_id);
    field!(out, "tcp_port", "{}", port);
    field!(out, "server_time_usec", "{}", now_us);
    field!(out, "uptime_in_seconds", "{}", uptime);
    field!(out, "uptime_in_days", "{}", uptime / 86_400);
    field!(out, "hz", "{}", hz);
    field!(out, "configured_hz", "{}", configured_hz);
    field!(
        out,
        "lru_clock",
        "{}",
        (now_us / 1_000_000) & ((1 << 24) - 1)
    );
    field!(out, "executable", "{}", srv.executable);
    field!(
        out,
        "config_file",
        "{}",
        srv.config_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    field!(out, "io_threads_active", "0");
    let mut l = String::from("name=tcp");
    for b in &bind {
        let _ = write!(l, ",bind={b}");
    }
    let _ = write!(l, ",port={port}");
    field!(out, "listener0", "{}", l);
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A stable build identifier derived from the version (Redis prints a hash of its build).
fn build_id() -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in crate::FERROKV_VERSION.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn clients_section(srv: &Server, out: &mut String) {
    let mut max_in = 0usize;
    let mut max_out = 0usize;
    let all = srv.clients.all();
    for h in &all {
        let i = h.info.lock();
        max_in = max_in.max(i.qbuf + i.qbuf_free);
        max_out = max_out.max(i.obl);
    }
    let maxclients = srv.hot.maxclients.load(Relaxed);
    out.push_str("# Clients\r\n");
    field!(out, "connected_clients", "{}", all.len());
    field!(out, "cluster_connections", "0");
    field!(out, "maxclients", "{}", maxclients);
    field!(out, "client_recent_max_input_buffer", "{}", max_in);
    field!(out, "client_recent_max_output_buffer", "{}", max_out);
    field!(out, "blocked_clients", "{}", srv.blocking.blocked_clients());
    field!(
        out,
        "tracking_clients",
        "{}",
        srv.tracking.tracking_clients()
    );
    field!(out, "pubsub_clients", "{}", srv.pubsub.client_count());
    field!(
        out,
        "watching_clients",
        "{}",
        srv.watches.watching_clients()
    );
    field!(
        out,
        "clients_in_timeout_table",
        "{}",
        srv.blocking.timed_clients()
    );
    field!(out, "total_watched_keys", "{}", srv.watches.watched_keys());
    field!(out, "total_blocking_keys", "{}", srv.blocking.total_keys());
    // Only XREADGROUP blocks with "unblock when the key is deleted"; no such waiter yet.
    field!(out, "total_blocking_keys_on_nokey", "0");
}

/// Memory figures shared by INFO memory and MEMORY STATS.
pub struct MemoryFigures {
    /// Bytes reported as used (resident set size).
    pub used: u64,
    /// Peak of `used`.
    pub peak: u64,
    /// `used` right after startup.
    pub startup: u64,
    /// `used` minus startup.
    pub dataset: u64,
}

/// Current memory figures (see the module docs for the method).
pub fn memory_figures(srv: &Server) -> MemoryFigures {
    let m = process_memory();
    let startup = srv.metrics.startup_memory.load(Relaxed).min(m.rss);
    MemoryFigures {
        used: m.rss,
        peak: m.peak,
        startup,
        dataset: m.rss - startup,
    }
}

fn perc(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 * 100.0 / b as f64
    }
}

fn memory_section(srv: &Server, out: &mut String) {
    let m = memory_figures(srv);
    let (maxmemory, policy) = {
        let cfg = srv.config.read();
        (cfg.maxmemory(), cfg.maxmemory_policy().to_string())
    };
    let total = total_system_memory();
    out.push_str("# Memory\r\n");
    field!(out, "used_memory", "{}", m.used);
    field!(out, "used_memory_human", "{}", bytes_to_human(m.used));
    field!(out, "used_memory_rss", "{}", m.used);
    field!(out, "used_memory_rss_human", "{}", bytes_to_human(m.used));
    field!(out, "used_memory_peak", "{}", m.peak);
    field!(out, "used_memory_peak_human", "{}", bytes_to_human(m.peak));
    field!(out, "used_memory_peak_perc", "{:.2}%", perc(m.used, m.peak));
    field!(out, "used_memory_overhead", "{}", m.startup);
    field!(out, "used_memory_startup", "{}", m.startup);
    field!(out, "used_memory_dataset", "{}", m.dataset);
    field!(
        out,
        "used_memory_dataset_perc",
        "{:.2}%",
        perc(m.dataset, m.used)
    );
    field!(out, "allocator_allocated", "{}", m.used);
    field!(out, "allocator_active", "{}", m.used);
    field!(out, "allocator_resident", "{}", m.used);
    field!(out, "total_system_memory", "{}", total);
    field!(
        out,
        "total_system_memory_human",
        "{}",
        bytes_to_human(total)
    );
    // Scripting figures (never waits for a running script).
    let sm = srv.scripting.mem_stats();
    field!(out, "used_memory_lua", "{}", sm.vm_eval);
    field!(out, "used_memory_vm_eval", "{}", sm.vm_eval);
    field!(
        out,
        "used_memory_lua_human",
        "{}",
        bytes_to_human(sm.vm_eval as u64)
    );
    field!(out, "used_memory_scripts_eval", "{}", sm.scripts_eval);
    field!(out, "number_of_cached_scripts", "{}", sm.cached_scripts);
    field!(out, "number_of_functions", "{}", sm.functions);
    field!(out, "number_of_libraries", "{}", sm.libraries);
    field!(out, "used_memory_vm_functions", "{}", sm.vm_functions);
    let vm_total = sm.vm_eval + sm.vm_functions;
    field!(out, "used_memory_vm_total", "{}", vm_total);
    field!(
        out,
        "used_memory_vm_total_human",
        "{}",
        bytes_to_human(vm_total as u64)
    );
    field!(out, "used_memory_functions", "{}", sm.functions_code);
    let scripts = sm.scripts_eval + sm.functions_code;
    field!(out, "used_memory_scripts", "{}", scripts);
    field!(
        out,
        "used_memory_scripts_human",
        "{}",
        bytes_to_human(scripts as u64)
    );
    field!(out, "maxmemory", "{}", maxmemory);
    field!(out, "maxmemory_human", "{}", bytes_to_human(maxmemory));
    field!(out, "maxmemory_policy", "{}", policy);
    field!(out, "allocator_frag_ratio", "1.00");
    field!(out, "allocator_frag_bytes", "0");
    field!(out, "allocator_rss_ratio", "1.00");
    field!(out, "allocator_rss_bytes", "0");
    field!(out, "rss_overhead_ratio", "1.00");
    field!(out, "rss_overhead_bytes", "0");
    field!(out, "mem_fragmentation_ratio", "1.00");
    field!(out, "mem_fragmentation_bytes", "0");
    for f in [
        "mem_not_counted_for_evict",
        "mem_replication_backlog",
        "mem_total_replication_buffers",
        "mem_clients_slaves",
        "mem_clients_normal",
        "mem_cluster_links",
        "mem_aof_buffer",
    ] {
        field!(out, f, "0");
    }
    field!(out, "mem_allocator", "mimalloc");
    field!(out, "mem_overhead_db_hashtable_rehashing", "0");
    field!(out, "active_defrag_running", "0");
    field!(
        out,
        "lazyfree_pending_objects",
        "{}",
        crate::lazyfree::pending()
    );
    field!(out, "lazyfreed_objects", "{}", crate::lazyfree::freed());
}

fn persistence_section(srv: &Server, out: &mut String) {
    out.push_str("# Persistence\r\n");
    let p = &srv.persist;
    let loading = p.loading.load(Relaxed);
    field!(out, "loading", "{}", u8::from(loading));
    field!(out, "async_loading", "0");
    if loading {
        let total = p.loading_total_bytes.load(Relaxed);
        let done = p.loading_loaded_bytes.load(Relaxed);
        let start = p.loading_start_time.load(Relaxed);
        let elapsed = (crate::util::now_ms() / 1000 - start).max(0);
        let perc = if total > 0 {
            done as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        field!(out, "loading_start_time", "{}", start);
        field!(out, "loading_total_bytes", "{}", total);
        field!(out, "loading_rdb_used_mem", "0");
        field!(out, "loading_loaded_bytes", "{}", done);
        field!(out, "loading_loaded_perc", "{:.2}", perc);
        field!(
            out,
            "loading_eta_seconds",
            "{}",
            if done > 0 && elapsed > 0 {
                ((total.saturating_sub(done)) as f64 / (done as f64 / elapsed as f64)) as u64
            } else {
                1
            }
        );
    }
    for f in [
        "current_cow_peak",
        "current_cow_size",
        "current_cow_size_age",
    ] {
        field!(out, f, "0");
    }
    field!(out, "current_fork_perc", "0.00");
    field!(out, "current_save_keys_processed", "0");
    field!(out, "current_save_keys_total", "0");
    field!(
        out,
        "rdb_changes_since_last_save",
        "{}",
        srv.stats.dirty.load(Relaxed)
    );
    let bg = p.bgsave_in_progress.load(Relaxed);
    field!(out, "rdb_bgsave_in_progress", "{}", u8::from(bg));
    field!(
        out,
        "rdb_last_save_time",
        "{}",
        srv.lastsave_unix.load(Relaxed)
    );
    field!(
        out,
        "rdb_last_bgsave_status",
        "{}",
        if p.last_bgsave_ok.load(Relaxed) {
            "ok"
        } else {
            "err"
        }
    );
    field!(
        out,
        "rdb_last_bgsave_time_sec",
        "{}",
        p.last_bgsave_time_sec.load(Relaxed)
    );
    field!(
        out,
        "rdb_current_bgsave_time_sec",
        "{}",
        if bg {
            (crate::util::now_ms() - p.bgsave_started_ms.load(Relaxed)) / 1000
        } else {
            -1
        }
    );
    field!(out, "rdb_saves", "{}", p.rdb_saves.load(Relaxed));
    field!(
        out,
        "rdb_last_snapshot_copy_peak",
        "{}",
        p.snapshot_peak_copy_bytes.load(Relaxed)
    );
    field!(out, "rdb_last_cow_size", "0");
    field!(
        out,
        "rdb_last_load_keys_expired",
        "{}",
        p.last_load_expired.load(Relaxed)
    );
    field!(
        out,
        "rdb_last_load_keys_loaded",
        "{}",
        p.last_load_keys.load(Relaxed)
    );
    let (head, tail) = crate::persist::aof::info_fields(srv);
    for (k, v) in head {
        field!(out, k, "{}", v);
    }
    field!(out, "module_fork_in_progress", "0");
    field!(out, "module_fork_last_cow_size", "0");
    for (k, v) in tail {
        field!(out, k, "{}", v);
    }
}

fn stats_section(srv: &Server, t: &ShardWalk, out: &mut String) {
    let st = &srv.stats;
    let (ops, kin, kout) = srv.metrics.instantaneous();
    out.push_str("# Stats\r\n");
    field!(
        out,
        "total_connections_received",
        "{}",
        st.total_connections_received.load(Relaxed)
    );
    field!(
        out,
        "total_commands_processed",
        "{}",
        st.total_commands_processed.load(Relaxed)
    );
    field!(out, "instantaneous_ops_per_sec", "{}", ops.round() as u64);
    field!(
        out,
        "total_net_input_bytes",
        "{}",
        st.net_input_bytes.load(Relaxed)
    );
    field!(
        out,
        "total_net_output_bytes",
        "{}",
        st.net_output_bytes.load(Relaxed)
    );
    field!(out, "total_net_repl_input_bytes", "0");
    field!(out, "total_net_repl_output_bytes", "0");
    field!(out, "instantaneous_input_kbps", "{:.2}", kin / 1024.0);
    field!(out, "instantaneous_output_kbps", "{:.2}", kout / 1024.0);
    field!(out, "instantaneous_input_repl_kbps", "0.00");
    field!(out, "instantaneous_output_repl_kbps", "0.00");
    field!(
        out,
        "rejected_connections",
        "{}",
        st.rejected_connections.load(Relaxed)
    );
    field!(out, "sync_full", "0");
    field!(out, "sync_partial_ok", "0");
    field!(out, "sync_partial_err", "0");
    field!(out, "expired_keys", "{}", t.expired);
    field!(out, "expired_subkeys", "0");
    field!(out, "expired_stale_perc", "0.00");
    field!(
        out,
        "expired_time_cap_reached_count",
        "{}",
        st.expired_time_cap_reached.load(Relaxed)
    );
    field!(out, "expire_cycle_cpu_milliseconds", "0");
    field!(out, "evicted_keys", "0");
    field!(out, "evicted_clients", "0");
    field!(out, "evicted_scripts", "0");
    field!(out, "total_eviction_exceeded_time", "0");
    field!(out, "current_eviction_exceeded_time", "0");
    field!(
        out,
        "keyspace_hits",
        "{}",
        st.keyspace_hits.load(Relaxed) + t.hits
    );
    field!(
        out,
        "keyspace_misses",
        "{}",
        st.keyspace_misses.load(Relaxed) + t.misses
    );
    field!(out, "pubsub_channels", "{}", srv.pubsub.channel_count());
    field!(out, "pubsub_patterns", "{}", srv.pubsub.pattern_count());
    field!(
        out,
        "pubsubshard_channels",
        "{}",
        srv.pubsub.shard_channel_count()
    );
    for f in [
        "latest_fork_usec",
        "total_forks",
        "migrate_cached_sockets",
        "slave_expires_tracked_keys",
        "active_defrag_hits",
        "active_defrag_misses",
        "active_defrag_key_hits",
        "active_defrag_key_misses",
        "total_active_defrag_time",
        "current_active_defrag_time",
    ] {
        field!(out, f, "0");
    }
    let (tkeys, titems, tprefixes) = srv.tracking.totals();
    field!(out, "tracking_total_keys", "{}", tkeys);
    field!(out, "tracking_total_items", "{}", titems);
    field!(out, "tracking_total_prefixes", "{}", tprefixes);
    field!(out, "unexpected_error_replies", "0");
    field!(
        out,
        "total_error_replies",
        "{}",
        st.total_error_replies.load(Relaxed)
    );
    field!(out, "dump_payload_sanitizations", "0");
    field!(out, "total_reads_processed", "0");
    field!(out, "total_writes_processed", "0");
    field!(out, "io_threaded_reads_processed", "0");
    field!(out, "io_threaded_writes_processed", "0");
    field!(
        out,
        "client_query_buffer_limit_disconnections",
        "{}",
        st.client_query_buffer_limit_disconnections.load(Relaxed)
    );
    field!(
        out,
        "client_output_buffer_limit_disconnections",
        "{}",
        st.client_output_buffer_limit_disconnections.load(Relaxed)
    );
    field!(out, "reply_buffer_shrinks", "0");
    field!(out, "reply_buffer_expands", "0");
    field!(out, "acl_access_denied_auth", "0");
    field!(out, "acl_access_denied_cmd", "0");
    field!(out, "acl_access_denied_key", "0");
    field!(out, "acl_access_denied_channel", "0");
    // ferrokv's own: connections moved between worker threads (crate::affinity).
    field!(
        out,
        "ferrokv_connection_migrations",
        "{}",
        st.connection_migrations.load(Relaxed)
    );
    // (Known on the worker threads only, where INFO runs unless a script calls it.)
    if let Some((loads, contended)) = crate::net::worker_loads() {
        field!(out, "ferrokv_contended_batches", "{}", contended);
        let loads: Vec<String> = loads.iter().map(usize::to_string).collect();
        field!(out, "ferrokv_worker_connections", "{}", loads.join(","));
    }
    if let Some(p) = crate::net::worker_packing() {
        let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        field!(out, "ferrokv_packed", "{}", u8::from(p.packed));
        field!(out, "ferrokv_pack_switches", "{}", p.switches);
        field!(out, "ferrokv_worker_busy_permille", "{}", list(&p.busy));
        field!(
            out,
            "ferrokv_worker_repeat_permille",
            "{}",
            list(&p.repeats)
        );
    }
}

fn replication_section(srv: &Server, out: &mut String) {
    out.push_str("# Replication\r\n");
    field!(out, "role", "master");
    field!(out, "connected_slaves", "0");
    field!(out, "master_failover_state", "no-failover");
    field!(out, "master_replid", "{}", srv.metrics.replid);
    field!(out, "master_replid2", "{}", "0".repeat(40));
    field!(out, "master_repl_offset", "0");
    field!(out, "second_repl_offset", "-1");
    field!(out, "repl_backlog_active", "0");
    field!(out, "repl_backlog_size", "1048576");
    field!(out, "repl_backlog_first_byte_offset", "0");
    field!(out, "repl_backlog_histlen", "0");
}

fn cpu_section(out: &mut String) {
    let (u, s, cu, cs) = cpu_times("/proc/self/stat");
    let (tu, ts, _, _) = cpu_times("/proc/thread-self/stat");
    out.push_str("# CPU\r\n");
    field!(out, "used_cpu_sys", "{:.6}", s);
    field!(out, "used_cpu_user", "{:.6}", u);
    field!(out, "used_cpu_sys_children", "{:.6}", cs);
    field!(out, "used_cpu_user_children", "{:.6}", cu);
    field!(out, "used_cpu_sys_main_thread", "{:.6}", ts);
    field!(out, "used_cpu_user_main_thread", "{:.6}", tu);
}

fn commandstats_section(srv: &Server, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    let mut cmds = srv.commands.all_callables();
    cmds.sort_by_key(|c| c.name);
    for cmd in cmds {
        let s = &cmd.stats;
        let calls = s.calls.load(Relaxed);
        let failed = s.failed.load(Relaxed);
        let rejected = s.rejected.load(Relaxed);
        if calls == 0 && failed == 0 && rejected == 0 {
            continue;
        }
        let usec = s.usec.load(Relaxed);
        let per = if calls == 0 {
            0.0
        } else {
            usec as f64 / calls as f64
        };
        field!(
            out,
            format_args!("cmdstat_{}", cmd.name),
            "calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rejected},failed_calls={failed}"
        );
    }
}

fn errorstats_section(srv: &Server, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    for (code, n) in srv.stats.errorstats.lock().iter() {
        field!(out, format_args!("errorstat_{code}"), "count={n}");
    }
}

fn keyspace_section(walk: &ShardWalk, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    for (db, (keys, expires)) in walk.dbs.iter().enumerate() {
        if *keys > 0 {
            field!(
                out,
                format_args!("db{db}"),
                "keys={keys},expires={expires},avg_ttl=0,subexpiry=0"
            );
        }
    }
}

/// Zeroes every command's statistics (CONFIG RESETSTAT).
pub fn reset_command_stats(srv: &Server) {
    for cmd in srv.commands.all_callables() {
        let s = &cmd.stats;
        s.calls.store(0, Relaxed);
        s.usec.store(0, Relaxed);
        s.failed.store(0, Relaxed);
        s.rejected.store(0, Relaxed);
    }
}

/// Zeroes the per-shard counters (expired keys, hits, misses) of every shard (CONFIG RESETSTAT).
pub fn reset_shard_stats(c: &mut Ctx) {
    for_each_shard(c, |_, s| s.stats = Default::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_follow_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1024), "1.00K");
        assert_eq!(bytes_to_human(1536), "1.50K");
        assert_eq!(bytes_to_human(1024 * 1024 * 3), "3.00M");
        assert_eq!(bytes_to_human(1 << 30), "1.00G");
    }

    #[test]
    fn section_selection() {
        let d = selected_sections(&[]);
        assert!(d.contains(&"server") && !d.contains(&"commandstats"));
        assert_eq!(selected_sections(&[b"default"]), d);
        let all = selected_sections(&[b"ALL"]);
        assert_eq!(all.len(), SECTIONS.len());
        assert_eq!(
            selected_sections(&[b"keyspace", b"cluster", b"nosuch"]),
            vec!["cluster", "keyspace"]
        );
        let mixed = selected_sections(&[b"commandstats", b"default"]);
        assert!(mixed.contains(&"commandstats") && mixed.contains(&"server"));
        assert!(selected_sections(&[b"nosuch"]).is_empty());
    }
}
