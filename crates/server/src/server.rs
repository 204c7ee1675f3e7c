//! Shared server state: keyspace, configuration, command table, clients, statistics, slow log,
//! MONITOR feed and CLIENT PAUSE state.

use crate::client::{Client, ClientRegistry};
use crate::config::Config;
use crate::dispatch::{Command, CommandTable};
use crate::keyspace::Keyspace;
use crate::spec::flags;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed,
};
use std::time::Instant;
use tokio::sync::{mpsc, Notify};

/// Server-wide counters for INFO stats.
#[derive(Default)]
pub struct Stats {
    pub total_connections_received: AtomicU64,
    pub total_commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub total_error_replies: AtomicU64,
    pub errorstats: Mutex<BTreeMap<String, u64>>,
    /// Changes since the last successful save (rdb_changes_since_last_save).
    pub dirty: AtomicU64,
    pub expired_time_cap_reached: AtomicU64,
    pub client_query_buffer_limit_disconnections: AtomicU64,
    /// Clients closed for exceeding `client-output-buffer-limit`.
    pub client_output_buffer_limit_disconnections: AtomicU64,
    /// Connections moved to another worker thread (INFO `ferrokv_connection_migrations`,
    /// see [`crate::affinity`]).
    pub connection_migrations: AtomicU64,
}

impl Stats {
    /// Counts an error reply under its code (INFO errorstats), at most 128 distinct codes as Redis.
    pub fn count_error(&self, code: &str) {
        self.total_error_replies.fetch_add(1, Relaxed);
        let mut m = self.errorstats.lock();
        if let Some(n) = m.get_mut(code) {
            *n += 1;
        } else if m.len() < 128 {
            m.insert(code.to_string(), 1);
        }
    }

    /// Resets what CONFIG RESETSTAT resets.
    pub fn reset(&self) {
        for a in [
            &self.total_connections_received,
            &self.total_commands_processed,
            &self.rejected_connections,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.total_error_replies,
            &self.expired_time_cap_reached,
            &self.client_query_buffer_limit_disconnections,
            &self.client_output_buffer_limit_disconnections,
            &self.connection_migrations,
        ] {
            a.store(0, Relaxed);
        }
        self.errorstats.lock().clear();
    }
}

/// CLIENT PAUSE state.
#[derive(Default)]
pub struct PauseState {
    /// 0: not paused, 1: WRITE, 2: ALL.
    mode: AtomicU8,
    until_ms: AtomicI64,
    /// Woken on CLIENT UNPAUSE.
    pub unpaused: Notify,
}

impl PauseState {
    /// Pauses clients until `until_ms`; `all` pauses every command, else only writes.
    pub fn pause(&self, until_ms: i64, all: bool) {
        let mode = if all { 2 } else { 1 };
        // A new pause never shortens or weakens an active one (Redis keeps the stricter).
        let cur = self.mode.load(Relaxed);
        let active = cur != 0 && self.until_ms.load(Relaxed) > crate::util::now_ms();
        if !active || mode > cur {
            self.mode.store(mode, Relaxed);
        }
        if !active || until_ms > self.until_ms.load(Relaxed) {
            self.until_ms.store(until_ms, Relaxed);
        }
    }

    /// Ends the pause.
    pub fn unpause(&self) {
        self.mode.store(0, Relaxed);
        self.unpaused.notify_waiters();
    }

    /// The deadline of the active pause.
    pub fn until_ms(&self) -> i64 {
        self.until_ms.load(Relaxed)
    }

    /// Whether `cmd` must wait because of an active pause.
    pub fn blocks(&self, cmd: &Command, _client: &Client) -> bool {
        let mode = self.mode.load(Relaxed);
        if mode == 0 {
            return false;
        }
        if self.until_ms.load(Relaxed) <= crate::util::now_ms() {
            self.mode.store(0, Relaxed);
            return false;
        }
        mode == 2 || cmd.has(flags::WRITE) || cmd.has(flags::MAY_REPLICATE)
    }

    /// Whether writes (including expiry) are paused right now.
    pub fn writes_paused(&self) -> bool {
        self.mode.load(Relaxed) != 0 && self.until_ms.load(Relaxed) > crate::util::now_ms()
    }
}

/// Whether argument `i` of a command is hidden as `"(redacted)"` in the MONITOR feed, as Redis
/// redacts secrets: every argument of AUTH, the user and password after HELLO's AUTH option,
/// and the password arguments of MIGRATE's AUTH/AUTH2 options.
pub fn monitor_redacted(name: &str, argv: &[Bytes], i: usize) -> bool {
    let is = |j: usize, w: &str| {
        argv.get(j)
            .is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()))
    };
    match name {
        "auth" => i > 0,
        // HELLO <proto> [AUTH user pass] [SETNAME name]: the option can sit after SETNAME.
        "hello" => {
            let mut j = 2;
            while j < argv.len() {
                if is(j, "AUTH") && j + 2 < argv.len() {
                    if i == j + 1 || i == j + 2 {
                        return true;
                    }
                    j += 3;
                } else {
                    j += 2;
                }
            }
            false
        }
        "migrate" => {
            i >= 1 && (is(i - 1, "AUTH") || is(i - 1, "AUTH2") || (i >= 2 && is(i - 2, "AUTH2")))
        }
        _ => false,
    }
}

/// One SLOWLOG entry.
#[derive(Clone, Debug)]
pub struct SlowEntry {
    pub id: u64,
    pub time_secs: i64,
    pub usec: u64,
    pub argv: Vec<Bytes>,
    pub addr: String,
    pub name: Bytes,
}

/// The slow log.
#[derive(Default)]
pub struct SlowLog {
    pub entries: VecDeque<SlowEntry>,
    pub next_id: u64,
}

/// Values read on hot paths, mirrored from the configuration on every change.
#[derive(Default)]
pub struct Hot {
    pub protected_mode: AtomicBool,
    pub timeout_secs: AtomicU64,
    pub slowlog_slower_than: AtomicI64,
    pub slowlog_max_len: AtomicU64,
    pub maxclients: AtomicU64,
    pub proto_max_bulk_len: AtomicU64,
    pub query_buffer_limit: AtomicU64,
    pub hz: AtomicU64,
    pub active_expire: AtomicBool,
    /// `latency-monitor-threshold` in ms (0: the latency monitor is off).
    pub latency_threshold_ms: AtomicU64,
    /// DEBUG PAUSE-CRON: the periodic task skips its work while set.
    pub pause_cron: AtomicBool,
    /// `latency-tracking`: per-command latency histograms are recorded.
    pub latency_tracking: AtomicBool,
    /// `notify-keyspace-events` as [`crate::notify`] class bits (0: notifications off).
    pub notify_flags: std::sync::atomic::AtomicU32,
    /// `tracking-table-max-keys` (0: no limit).
    pub tracking_table_max_keys: AtomicU64,
    /// The encoding thresholds, in the order of [`Hot::encoding_limits`].
    pub enc: [AtomicI64; 9],
    /// `client-output-buffer-limit`: (hard bytes, soft bytes, soft seconds) for each class of
    /// [`crate::pubsub`] (`CLASS_NORMAL`, `CLASS_REPLICA`, `CLASS_PUBSUB`), flattened.
    pub obuf: [AtomicU64; 9],
}

impl Hot {
    /// (hard bytes, soft bytes, soft seconds) of output-buffer class `class` (0 = no limit).
    #[inline]
    pub fn obuf_limit(&self, class: usize) -> (u64, u64, u64) {
        let g = |i: usize| self.obuf.get(class * 3 + i).map_or(0, |a| a.load(Relaxed));
        (g(0), g(1), g(2))
    }

    /// The compact-encoding thresholds in force.
    pub fn encoding_limits(&self) -> ferrokv_engine::EncodingLimits {
        let g = |i: usize| self.enc[i].load(Relaxed);
        let u = |i: usize| g(i).max(0) as usize;
        ferrokv_engine::EncodingLimits {
            list_max_listpack_size: g(0),
            list_compress_depth: g(1),
            hash_max_listpack_entries: u(2),
            hash_max_listpack_value: u(3),
            set_max_intset_entries: u(4),
            set_max_listpack_entries: u(5),
            set_max_listpack_value: u(6),
            zset_max_listpack_entries: u(7),
            zset_max_listpack_value: u(8),
        }
    }
}

/// Parameters mirrored into [`Hot::enc`], in order.
const ENCODING_PARAMS: [&str; 9] = [
    "list-max-listpack-size",
    "list-compress-depth",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "set-max-intset-entries",
    "set-max-listpack-entries",
    "set-max-listpack-value",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
];

/// The whole server.
pub struct Server {
    pub keyspace: Keyspace,
    pub config: RwLock<Config>,
    pub hot: Hot,
    pub commands: CommandTable,
    pub clients: ClientRegistry,
    pub stats: Stats,
    pub pause: PauseState,
    pub slowlog: Mutex<SlowLog>,
    /// LATENCY events.
    pub latency: crate::cmd::latency::Monitor,
    /// MONITOR clients: (client id, feed).
    pub monitors: Mutex<Vec<(u64, mpsc::Sender<Bytes>)>>,
    pub monitor_count: AtomicUsize,
    /// `requirepass` of the default user (None: no password).
    pub requirepass: RwLock<Option<Bytes>>,
    pub started: Instant,
    pub started_unix_ms: i64,
    pub run_id: String,
    pub tcp_port: AtomicU64,
    /// Set by SHUTDOWN / signals; the accept loop and cron stop.
    pub shutting_down: AtomicBool,
    /// Becomes `true` once at shutdown; tasks wait on it with [`Server::shutdown_signal`] (a
    /// watch channel, so a task that was busy when shutdown began still sees it).
    shutdown_tx: tokio::sync::watch::Sender<bool>,
    pub lastsave_unix: AtomicI64,
    pub config_file: Option<std::path::PathBuf>,
    pub executable: String,
    /// INFO / MEMORY bookkeeping: instantaneous-rate samples, replication id, startup memory.
    pub metrics: crate::cmd::info::Metrics,
    /// Clients parked by blocking commands, and the keys they wait on.
    pub blocking: crate::blocking::Registry,
    /// WATCHed keys of every client (see [`crate::watch`]).
    pub watches: crate::watch::Registry,
    /// Pub/Sub subscriptions and delivery.
    pub pubsub: crate::pubsub::Registry,
    /// Client-side caching (CLIENT TRACKING, see [`crate::tracking`]).
    pub tracking: crate::tracking::Registry,
    /// Lua scripting (EVAL, SCRIPT): the interpreter, the script cache, the busy state.
    pub scripting: crate::scripting::Scripting,
    /// RDB persistence state (see [`crate::persist`]).
    pub persist: crate::persist::Persistence,
    /// The disk engine, set at startup with `storage-engine disk` (see [`crate::disk`]).
    pub disk: std::sync::OnceLock<crate::disk::DiskState>,
}

impl Server {
    /// Builds the server from a loaded configuration.
    pub fn new(config: Config) -> Server {
        let commands = crate::cmd::table();
        let dbs = config.databases();
        let now = crate::util::now_ms();
        let keyspace = Keyspace::new(dbs);
        let scripting = crate::scripting::Scripting::new(keyspace.script_busy.clone());
        let srv = Server {
            keyspace,
            scripting,
            requirepass: RwLock::new(config.requirepass().map(Bytes::from)),
            config_file: config.config_file().map(|p| p.to_path_buf()),
            config: RwLock::new(config),
            hot: Hot::default(),
            commands,
            clients: ClientRegistry::default(),
            stats: Stats::default(),
            pause: PauseState::default(),
            slowlog: Mutex::new(SlowLog::default()),
            latency: crate::cmd::latency::Monitor::default(),
            monitors: Mutex::new(Vec::new()),
            monitor_count: AtomicUsize::new(0),
            started: Instant::now(),
            started_unix_ms: now,
            run_id: crate::util::random_hex(40),
            tcp_port: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
            shutdown_tx: tokio::sync::watch::Sender::new(false),
            lastsave_unix: AtomicI64::new(now / 1000),
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            metrics: crate::cmd::info::Metrics::default(),
            blocking: crate::blocking::Registry::default(),
            watches: crate::watch::Registry::default(),
            pubsub: crate::pubsub::Registry::default(),
            persist: crate::persist::Persistence::default(),
            disk: std::sync::OnceLock::new(),
            tracking: crate::tracking::Registry::default(),
        };
        srv.hot.active_expire.store(true, Relaxed);
        srv.refresh_hot();
        srv.apply_access_mode();
        crate::notify::apply_expired_logging(&srv, None);
        srv
    }

    /// Applies the side effects of configuration changes (CONFIG SET): `changed` holds the
    /// canonical names whose value changed. Hot values are re-read; the log level and file are
    /// switched; a change of `maxmemory-policy` (or of the LFU parameters) switches every
    /// shard's access bookkeeping between LRU and LFU, one shard lock at a time.
    pub fn apply_config(&self, changed: &[&'static str]) {
        self.apply_config_held(changed, None);
    }

    /// [`Server::apply_config`] from a command that may already hold shard locks (inside
    /// MULTI/EXEC): shards in `held` are updated through it instead of being locked again.
    pub fn apply_config_held(
        &self,
        changed: &[&'static str],
        mut held: Option<&mut crate::keyspace::LockSet<'_>>,
    ) {
        // Inside MULTI/EXEC the shards already held must not be locked again.
        match held.as_deref_mut() {
            None => self.refresh_hot(),
            Some(h) => {
                let access = self.refresh_hot_values();
                self.keyspace.set_access_mode_held(access, h);
            }
        }
        let (level, logfile) = {
            let c = self.config.read();
            (c.loglevel(), c.logfile())
        };
        for name in changed {
            match *name {
                "loglevel" => crate::logging::set_level(level),
                "logfile" => crate::logging::set_logfile(&logfile),
                _ => {}
            }
        }
        let mut held = held;
        let locked = held
            .as_deref_mut()
            .is_some_and(|h| h.all_held().next().is_some());
        crate::persist::aof::on_config_change(self, changed, locked);
        if changed.contains(&"appendfsync") {
            crate::disk::sysdata::apply_fsync(self);
        }
        if changed.contains(&"disk-object-cache-size") {
            crate::disk::apply_object_cache_size(self, locked);
        }
        if changed.contains(&"disk-compaction-rate") {
            crate::disk::sysdata::apply_compaction_rate(self);
        }
        if changed.contains(&"notify-keyspace-events") {
            crate::notify::apply_expired_logging(self, held.as_deref_mut());
        }
        if changed
            .iter()
            .any(|n| matches!(*n, "maxmemory-policy" | "lfu-log-factor" | "lfu-decay-time"))
        {
            self.apply_access_mode_held(held);
        }
    }

    /// Sets every shard's access bookkeeping from `maxmemory-policy` (LFU for the `*-lfu`
    /// policies, LRU otherwise), one shard lock at a time.
    pub fn apply_access_mode(&self) {
        self.apply_access_mode_held(None);
    }

    fn apply_access_mode_held(&self, mut held: Option<&mut crate::keyspace::LockSet<'_>>) {
        let mode = {
            let c = self.config.read();
            if c.maxmemory_policy().ends_with("-lfu") {
                ferrokv_engine::AccessMode::Lfu {
                    log_factor: c.get_u64("lfu-log-factor").unwrap_or(10) as u32,
                    decay_minutes: c.get_u64("lfu-decay-time").unwrap_or(1) as u32,
                }
            } else {
                ferrokv_engine::AccessMode::Lru
            }
        };
        for db in 0..self.keyspace.db_count() {
            for i in 0..crate::keyspace::SHARDS {
                if let Some(s) = held
                    .as_deref_mut()
                    .and_then(|h| h.shard(db as u32, i as u32))
                {
                    s.set_access_mode(mode);
                } else if let Some(mut s) = self.keyspace.lock_one(db, i) {
                    s.set_access_mode(mode);
                }
            }
        }
    }

    /// Re-reads the hot configuration values (after startup and CONFIG SET).
    pub fn refresh_hot(&self) {
        let access = self.refresh_hot_values();
        self.keyspace.set_access_mode(access);
    }

    /// [`Server::refresh_hot`] without switching the shards' access mode: returns the mode
    /// the configuration asks for.
    fn refresh_hot_values(&self) -> ferrokv_engine::AccessMode {
        let c = self.config.read();
        let h = &self.hot;
        h.timeout_secs.store(c.timeout_secs(), Relaxed);
        h.protected_mode.store(c.protected_mode(), Relaxed);
        h.slowlog_slower_than
            .store(c.slowlog_log_slower_than(), Relaxed);
        h.slowlog_max_len.store(c.slowlog_max_len(), Relaxed);
        h.maxclients.store(c.maxclients() as u64, Relaxed);
        h.proto_max_bulk_len.store(c.proto_max_bulk_len(), Relaxed);
        h.query_buffer_limit
            .store(c.client_query_buffer_limit(), Relaxed);
        h.hz.store(u64::from(c.hz().clamp(1, 500)), Relaxed);
        let busy_ms = c.get_i64("busy-reply-threshold").unwrap_or(5000);
        self.scripting
            .flags
            .busy_threshold_ms
            .store(busy_ms, Relaxed);
        h.latency_tracking
            .store(c.get_bool("latency-tracking").unwrap_or(true), Relaxed);
        h.tracking_table_max_keys.store(
            c.get_u64("tracking-table-max-keys").unwrap_or(1_000_000),
            Relaxed,
        );
        h.latency_threshold_ms
            .store(c.get_u64("latency-monitor-threshold").unwrap_or(0), Relaxed);
        let defaults = ferrokv_engine::EncodingLimits::default();
        let fallback = [
            defaults.list_max_listpack_size,
            defaults.list_compress_depth,
            defaults.hash_max_listpack_entries as i64,
            defaults.hash_max_listpack_value as i64,
            defaults.set_max_intset_entries as i64,
            defaults.set_max_listpack_entries as i64,
            defaults.set_max_listpack_value as i64,
            defaults.zset_max_listpack_entries as i64,
            defaults.zset_max_listpack_value as i64,
        ];
        for (i, name) in ENCODING_PARAMS.iter().enumerate() {
            h.enc[i].store(c.get_i64(name).unwrap_or(fallback[i]), Relaxed);
        }
        for (i, l) in c.client_output_buffer_limits().iter().enumerate() {
            h.obuf[i * 3].store(l.hard, Relaxed);
            h.obuf[i * 3 + 1].store(l.soft, Relaxed);
            h.obuf[i * 3 + 2].store(l.soft_seconds.max(0) as u64, Relaxed);
        }
        h.notify_flags.store(
            crate::notify::parse_flags(&c.notify_keyspace_events()),
            Relaxed,
        );
        *self.requirepass.write() = c.requirepass().map(Bytes::from);
        let access = crate::keyspace::access_mode_for(
            c.maxmemory_policy(),
            c.get_i64("lfu-log-factor").unwrap_or(10),
            c.get_i64("lfu-decay-time").unwrap_or(1),
        );
        // Shards are locked without holding the configuration lock (see set_access_mode).
        drop(c);
        access
    }

    /// Whether clients must authenticate.
    pub fn auth_required(&self) -> bool {
        self.requirepass.read().is_some()
    }

    /// Publishes a client's batch counters into the shared statistics.
    pub fn flush_batch(&self, client: &mut Client) {
        let b = &mut client.batch;
        if b.commands > 0 {
            self.stats
                .total_commands_processed
                .fetch_add(b.commands, Relaxed);
        }
        if b.dirty > 0 {
            self.stats.dirty.fetch_add(b.dirty, Relaxed);
        }
        if b.hits > 0 {
            self.stats.keyspace_hits.fetch_add(b.hits, Relaxed);
        }
        if b.misses > 0 {
            self.stats.keyspace_misses.fetch_add(b.misses, Relaxed);
        }
        for &(idx, calls, usec, failed, rejected) in &b.cmds {
            if let Some(s) = self.commands.stats_by_index(idx) {
                if calls > 0 {
                    s.calls.fetch_add(calls, Relaxed);
                    s.usec.fetch_add(usec, Relaxed);
                }
                if failed > 0 {
                    s.failed.fetch_add(failed, Relaxed);
                }
                if rejected > 0 {
                    s.rejected.fetch_add(rejected, Relaxed);
                }
            }
        }
        for &(idx, bucket, n) in &b.hist {
            if let Some(h) = self
                .commands
                .stats_by_index(idx)
                .and_then(|s| s.hist.get(usize::from(bucket)))
            {
                h.fetch_add(n, Relaxed);
            }
        }
        b.hist.clear();
        b.cmds.clear();
        b.commands = 0;
        b.dirty = 0;
        b.hits = 0;
        b.misses = 0;
    }

    /// After-call work: slow log and MONITOR feed.
    pub fn after_call(&self, client: &mut Client, cmd: &Command, argv: &[Bytes], usec: u64) {
        client.last_cmd = cmd.name;
        if self.hot.latency_tracking.load(Relaxed) {
            client.batch.record_latency(cmd.index, usec);
        }
        let lt = self.hot.latency_threshold_ms.load(Relaxed);
        if lt > 0 && usec / 1000 >= lt {
            let event = if cmd.has(flags::FAST) {
                "fast-command"
            } else {
                "command"
            };
            self.latency
                .add_sample(event, crate::util::now_ms() / 1000, usec / 1000);
        }
        let threshold = self.hot.slowlog_slower_than.load(Relaxed);
        if threshold >= 0 && usec >= threshold as u64 && !cmd.has(flags::SKIP_SLOWLOG) {
            self.slowlog_push(client, argv, usec);
        }
        // A command re-executed for a blocked client was fed when it first ran (as Redis).
        if self.monitor_count.load(Relaxed) > 0
            && !client.blocking.serving
            && !cmd.has(flags::SKIP_MONITOR)
            && !cmd.has(flags::ADMIN)
        {
            self.feed_monitors(client, cmd, argv);
        }
    }

    /// After-call work for a call that blocked the client: only the MONITOR feed (statistics
    /// and the slow log wait for the call to complete, as Redis does).
    pub fn after_blocked_call(&self, client: &mut Client, cmd: &Command, argv: &[Bytes]) {
        client.last_cmd = cmd.name;
        if self.monitor_count.load(Relaxed) > 0
            && !client.blocking.serving
            && !cmd.has(flags::SKIP_MONITOR)
            && !cmd.has(flags::ADMIN)
        {
            self.feed_monitors(client, cmd, argv);
        }
    }

    fn slowlog_push(&self, client: &Client, argv: &[Bytes], usec: u64) {
        const MAX_ARGC: usize = 32;
        const MAX_STRING: usize = 128;
        let mut args: Vec<Bytes> = Vec::with_capacity(argv.len().min(MAX_ARGC));
        for (i, a) in argv.iter().enumerate() {
            if i == MAX_ARGC - 1 && argv.len() > MAX_ARGC {
                args.push(Bytes::from(format!(
                    "... ({} more arguments)",
                    argv.len() - MAX_ARGC + 1
                )));
                break;
            }
            if a.len() > MAX_STRING {
                let mut s = a.slice(..MAX_STRING).to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes(),
                );
                args.push(Bytes::from(s));
            } else {
                args.push(a.clone());
            }
        }
        let max = self.hot.slowlog_max_len.load(Relaxed) as usize;
        let mut log = self.slowlog.lock();
        let id = log.next_id;
        log.next_id += 1;
        log.entries.push_front(SlowEntry {
            id,
            time_secs: crate::util::now_ms() / 1000,
            usec,
            argv: args,
            addr: client.handle.addr.to_string(),
            name: client.name.clone().unwrap_or_default(),
        });
        log.entries.truncate(max);
    }

    fn feed_monitors(&self, client: &Client, cmd: &Command, argv: &[Bytes]) {
        self.feed_monitors_from(client.db, &client.handle.addr.to_string(), cmd, argv);
    }

    /// Sends a command to MONITOR clients as run from `origin` (a client address, or `lua`
    /// for commands scripts run) in database `db`.
    pub fn feed_monitors_from(&self, db: u32, origin: &str, cmd: &Command, argv: &[Bytes]) {
        if cmd.has(flags::SKIP_MONITOR) || cmd.has(flags::ADMIN) {
            return;
        }
        self.feed_monitors_always(db, origin, cmd, argv);
    }

    /// Sends a command to MONITOR clients even if its flags say SKIP_MONITOR (EVAL and FCALL
    /// show themselves when they start, before the commands they run, as in Redis).
    pub fn feed_monitors_always(&self, db: u32, origin: &str, cmd: &Command, argv: &[Bytes]) {
        if self.monitor_count.load(Relaxed) == 0 {
            return;
        }
        let now = crate::util::now_us();
        let mut line = format!(
            "+{}.{:06} [{} {}]",
            now / 1_000_000,
            now % 1_000_000,
            db,
            origin
        );
        for (i, a) in argv.iter().enumerate() {
            line.push(' ');
            if monitor_redacted(cmd.name, argv, i) {
                line.push_str("\"(redacted)\"");
            } else {
                crate::util::repr_into(&mut line, a);
            }
        }
        line.push_str("\r\n");
        let msg = Bytes::from(line);
        let mut mons = self.monitors.lock();
        // Like Redis, a MONITOR client also sees its own (non-admin) commands.
        mons.retain(|(id, tx)| {
            match tx.try_send(msg.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    // The monitor cannot keep up: disconnect it rather than buffer without bound.
                    if let Some(h) = self.clients.get(*id) {
                        h.kill();
                    }
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        self.monitor_count.store(mons.len(), Relaxed);
    }

    /// Registers a MONITOR client; returns its feed.
    pub fn add_monitor(&self, id: u64) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel(65_536);
        let mut mons = self.monitors.lock();
        mons.push((id, tx));
        self.monitor_count.store(mons.len(), Relaxed);
        rx
    }

    /// Removes a MONITOR client.
    pub fn remove_monitor(&self, id: u64) {
        let mut mons = self.monitors.lock();
        mons.retain(|(i, _)| *i != id);
        self.monitor_count.store(mons.len(), Relaxed);
    }

    /// Completes once shutdown has begun (immediately if it already has).
    pub async fn shutdown_signal(&self) {
        let mut rx = self.shutdown_tx.subscribe();
        let _ = rx.wait_for(|down| *down).await;
    }

    /// Starts a graceful shutdown.
    pub fn begin_shutdown(&self) {
        crate::disk::sync(self);
        self.shutting_down.store(true, Relaxed);
        self.shutdown_tx.send_replace(true);
        for c in self.clients.all() {
            c.kill();
        }
    }
}
