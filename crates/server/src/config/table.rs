//! The one table of configuration parameters: name, alias, type (with bounds), default and flags.
//!
//! Defaults are written in the exact form `CONFIG GET` shows them (memory values in bytes,
//! enums by name). The list is Redis 7.0's `CONFIG GET *` plus the 7.2/7.4 additions a user may
//! put in a config file, plus ferrokv's own parameters.

/// Cannot be changed with CONFIG SET ("can't set immutable config").
pub const IMMUTABLE: u8 = 1;
/// Only settable when `enable-protected-configs` allows it ("can't set protected config").
pub const PROTECTED: u8 = 2;
/// Value is a secret (redacted from command logs by the server).
pub const SENSITIVE: u8 = 4;
/// Not listed by glob patterns in CONFIG GET (exact name still works).
pub const HIDDEN: u8 = 8;
/// Takes several arguments (CONFIG SET splits its value on single spaces).
pub const MULTI: u8 = 16;

/// Extra validation for string parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrCheck {
    /// Any bytes.
    Any,
    /// Must be a file name without `/` or `\`; the text is the error message.
    NoPath(&'static str),
    /// `proc-title-template` syntax.
    ProcTitle,
    /// Announced hostname: < 256 chars of `[A-Za-z0-9.-]`.
    Hostname,
}

/// Value type of a parameter, with the validation rules Redis applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `yes` / `no` (case-insensitive).
    Bool,
    /// Plain integer (strict syntax) within inclusive bounds.
    Int {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// Memory value (units allowed) within inclusive bounds; shown in bytes.
    Mem {
        /// Smallest accepted byte count.
        min: u64,
        /// Largest accepted byte count.
        max: u64,
    },
    /// Memory value or `N%` (N <= max_pct); `maxmemory-clients`.
    MemPercent {
        /// Largest accepted byte count.
        max: u64,
        /// Largest accepted percentage.
        max_pct: i64,
    },
    /// Octal integer within bounds; shown in octal (`unixsocketperm`).
    Octal {
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// One of the listed names (case-insensitive), shown in lower case.
    Enum(&'static [&'static str]),
    /// Shutdown flags: any combination of `save nosave now force`, or `default`.
    ShutdownFlags,
    /// String (may be empty).
    Str(StrCheck),
    /// `save`: pairs of seconds (>= 1) and changes (>= 0), or "".
    Save,
    /// `client-output-buffer-limit`: groups of `<class> <hard> <soft> <seconds>`.
    ClientOutputBufferLimit,
    /// `bind`: up to 16 addresses.
    Bind,
    /// `oom-score-adj-values`: three integers in -2000..=2000.
    OomScoreAdjValues,
    /// `notify-keyspace-events` flag characters, normalised.
    NotifyKeyspaceEvents,
    /// `dir`: changes the working directory.
    Dir,
    /// `replicaof <host> <port>` or `no one`.
    ReplicaOf,
    /// `latency-tracking-info-percentiles`: doubles in 0..=100.
    Percentiles,
}

/// One configuration parameter.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// Canonical name (what CONFIG REWRITE writes).
    pub name: &'static str,
    /// Old name accepted everywhere and listed by CONFIG GET too.
    pub alias: Option<&'static str>,
    /// Type and validation.
    pub kind: Kind,
    /// Default in CONFIG GET form.
    pub default: &'static str,
    /// Bit set of [`IMMUTABLE`], [`PROTECTED`], [`SENSITIVE`], [`HIDDEN`], [`MULTI`].
    pub flags: u8,
}

impl Param {
    /// Whether `flag` is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

const I32: (i64, i64) = (i32::MIN as i64, i32::MAX as i64);
const LL: i64 = i64::MAX;
const ULL: u64 = u64::MAX;
const INT_MAX: i64 = i32::MAX as i64;

const fn b(name: &'static str, default: &'static str, flags: u8) -> Param {
    Param {
        name,
        alias: None,
        kind: Kind::Bool,
        default,
        flags,
    }
}
const fn ba(name: &'static str, alias: &'static str, default: &'static str, flags: u8) -> Param {
    Param {
        name,
        alias: Some(alias),
        kind: Kind::Bool,
        default,
        flags,
    }
}
const fn i(name: &'static str, min: i64, max: i64, default: &'static str, flags: u8) -> Param {
    Param {
        name,
        alias: None,
        kind: Kind::Int { min, max },
        default,
        flags,
    }
}
const fn ia(
    name: &'static str,
    alias: &'static str,
    min: i64,
    max: i64,
    default: &'static str,
) -> Param {
    Param {
        name,
        alias: Some(alias),
        kind: Kind::Int { min, max },
        default,
        flags: 0,
    }
}
const fn m(name: &'static str, min: u64, max: u64, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind: Kind::Mem { min, max },
        default,
        flags: 0,
    }
}
const fn ma(name: &'static str, alias: &'static str, default: &'static str) -> Param {
    Param {
        name,
        alias: Some(alias),
        kind: Kind::Mem {
            min: 0,
            max: LL as u64,
        },
        default,
        flags: 0,
    }
}
const fn e(
    name: &'static str,
    values: &'static [&'static str],
    default: &'static str,
    flags: u8,
) -> Param {
    Param {
        name,
        alias: None,
        kind: Kind::Enum(values),
        default,
        flags,
    }
}
const fn s(name: &'static str, default: &'static str, flags: u8) -> Param {
    Param {
        name,
        alias: None,
        kind: Kind::Str(StrCheck::Any),
        default,
        flags,
    }
}
const fn sp(name: &'static str, kind: Kind, default: &'static str, flags: u8) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        flags,
    }
}

const YES_NO_LOCAL: &[&str] = &["no", "yes", "local"];

/// Every parameter ferrokv knows, in the order CONFIG REWRITE processes them.
pub static PARAMS: &[Param] = &[
    // ---- ferrokv's own ----
    e("storage-engine", &["memory", "disk"], "memory", IMMUTABLE),
    // Disk engine budget (block cache; memtables), read once at startup.
    Param {
        name: "disk-cache-size",
        alias: None,
        kind: Kind::Mem {
            min: 1 << 20,
            max: ULL,
        },
        default: "67108864",
        flags: IMMUTABLE,
    },
    Param {
        name: "disk-memtable-size",
        alias: None,
        kind: Kind::Mem {
            min: 1 << 20,
            max: ULL,
        },
        default: "67108864",
        flags: IMMUTABLE,
    },
    // Disk mode: bytes of recently used keys kept resident in memory between commands (0: off).
    m("disk-object-cache-size", 0, ULL, "67108864"),
    // Disk engine compaction rate limit, bytes of records per second (0 = unlimited); CONFIG
    // SET applies it at run time (crates/engine-disk/src/ratelimit.rs).
    Param {
        name: "disk-compaction-rate",
        alias: None,
        kind: Kind::Mem { min: 0, max: ULL },
        default: "0",
        flags: 0,
    },
    // ---- general / networking ----
    // Redis without a config file binds every interface; ferrokv defaults to loopback like the
    // redis.conf Redis ships (`bind 127.0.0.1 -::1`), so a bare start is never exposed.
    sp("bind", Kind::Bind, "127.0.0.1 -::1", MULTI),
    s("bind-source-addr", "", 0),
    b("protected-mode", "yes", 0),
    i("port", 0, 65535, "6379", 0),
    i("tcp-backlog", 0, INT_MAX, "511", IMMUTABLE),
    s("unixsocket", "", IMMUTABLE),
    sp(
        "unixsocketperm",
        Kind::Octal { min: 0, max: 0o777 },
        "0",
        IMMUTABLE,
    ),
    i("timeout", 0, INT_MAX, "0", 0),
    i("tcp-keepalive", 0, INT_MAX, "300", 0),
    i("socket-mark-id", 0, u32::MAX as i64, "0", IMMUTABLE),
    i("max-new-connections-per-cycle", 1, 1000, "10", 0),
    i("max-new-tls-connections-per-cycle", 1, 1000, "1", 0),
    // ---- TLS ----
    i("tls-port", 0, 65535, "0", 0),
    s("tls-cert-file", "", 0),
    s("tls-key-file", "", 0),
    s("tls-key-file-pass", "", SENSITIVE),
    s("tls-client-cert-file", "", 0),
    s("tls-client-key-file", "", 0),
    s("tls-client-key-file-pass", "", SENSITIVE),
    s("tls-dh-params-file", "", 0),
    s("tls-ca-cert-file", "", 0),
    s("tls-ca-cert-dir", "", 0),
    e("tls-auth-clients", &["no", "yes", "optional"], "yes", 0),
    b("tls-replication", "no", 0),
    b("tls-cluster", "no", 0),
    s("tls-protocols", "", 0),
    s("tls-ciphers", "", 0),
    s("tls-ciphersuites", "", 0),
    b("tls-prefer-server-ciphers", "no", 0),
    b("tls-session-caching", "yes", 0),
    i("tls-session-cache-size", 0, INT_MAX, "20480", 0),
    i("tls-session-cache-timeout", 0, INT_MAX, "300", 0),
    // ---- process ----
    b("daemonize", "no", IMMUTABLE),
    e(
        "supervised",
        &["upstart", "systemd", "auto", "no"],
        "no",
        IMMUTABLE,
    ),
    s("pidfile", "", IMMUTABLE),
    e(
        "loglevel",
        &["debug", "verbose", "notice", "warning", "nothing"],
        "notice",
        0,
    ),
    s("logfile", "", IMMUTABLE),
    b("syslog-enabled", "no", IMMUTABLE),
    s("syslog-ident", "redis", IMMUTABLE),
    e(
        "syslog-facility",
        &[
            "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
        ],
        "local0",
        IMMUTABLE,
    ),
    b("crash-log-enabled", "yes", 0),
    b("crash-memcheck-enabled", "yes", 0),
    i("databases", 1, INT_MAX, "16", IMMUTABLE),
    b("always-show-logo", "no", IMMUTABLE),
    b("set-proc-title", "yes", IMMUTABLE),
    sp(
        "proc-title-template",
        Kind::Str(StrCheck::ProcTitle),
        "{title} {listen-addr} {server-mode}",
        0,
    ),
    s("locale-collate", "", 0),
    b("hide-user-data-from-log", "no", 0),
    e("enable-protected-configs", YES_NO_LOCAL, "no", IMMUTABLE),
    e("enable-debug-command", YES_NO_LOCAL, "no", IMMUTABLE),
    e("enable-module-command", YES_NO_LOCAL, "no", IMMUTABLE),
    s("ignore-warnings", "", 0),
    // ---- snapshotting ----
    sp("save", Kind::Save, "3600 1 300 100 60 10000", MULTI),
    b("stop-writes-on-bgsave-error", "yes", 0),
    b("rdbcompression", "yes", 0),
    b("rdbchecksum", "yes", IMMUTABLE),
    e("sanitize-dump-payload", &["no", "yes", "clients"], "no", 0),
    sp(
        "dbfilename",
        Kind::Str(StrCheck::NoPath(
            "dbfilename can't be a path, just a filename",
        )),
        "dump.rdb",
        PROTECTED,
    ),
    b("rdb-del-sync-files", "no", 0),
    sp("dir", Kind::Dir, "", PROTECTED),
    // ---- replication ----
    Param {
        name: "replicaof",
        alias: Some("slaveof"),
        kind: Kind::ReplicaOf,
        default: "",
        flags: IMMUTABLE | MULTI,
    },
    s("masteruser", "", 0),
    s("masterauth", "", SENSITIVE),
    ba(
        "replica-serve-stale-data",
        "slave-serve-stale-data",
        "yes",
        0,
    ),
    ba("replica-read-only", "slave-read-only", "yes", 0),
    b("repl-diskless-sync", "yes", 0),
    i("repl-diskless-sync-delay", 0, INT_MAX, "5", 0),
    i("repl-diskless-sync-max-replicas", 0, INT_MAX, "0", 0),
    e(
        "repl-diskless-load",
        &["disabled", "on-empty-db", "swapdb"],
        "disabled",
        0,
    ),
    ia(
        "repl-ping-replica-period",
        "repl-ping-slave-period",
        1,
        INT_MAX,
        "10",
    ),
    i("repl-timeout", 1, INT_MAX, "60", 0),
    b("repl-disable-tcp-nodelay", "no", 0),
    m("repl-backlog-size", 1, LL as u64, "1048576"),
    i("repl-backlog-ttl", 0, LL, "3600", 0),
    ia("replica-priority", "slave-priority", 0, INT_MAX, "100"),
    b("replica-announced", "yes", 0),
    ia(
        "min-replicas-to-write",
        "min-slaves-to-write",
        0,
        INT_MAX,
        "0",
    ),
    ia(
        "min-replicas-max-lag",
        "min-slaves-max-lag",
        0,
        INT_MAX,
        "10",
    ),
    Param {
        name: "replica-announce-ip",
        alias: Some("slave-announce-ip"),
        kind: Kind::Str(StrCheck::Any),
        default: "",
        flags: 0,
    },
    ia(
        "replica-announce-port",
        "slave-announce-port",
        0,
        65535,
        "0",
    ),
    ba(
        "replica-ignore-maxmemory",
        "slave-ignore-maxmemory",
        "yes",
        0,
    ),
    ba("replica-lazy-flush", "slave-lazy-flush", "no", 0),
    b("replica-ignore-disk-write-errors", "no", 0),
    e(
        "propagation-error-behavior",
        &["ignore", "panic", "panic-on-replicas"],
        "ignore",
        0,
    ),
    // ---- security / clients ----
    s("requirepass", "", SENSITIVE),
    s("aclfile", "", IMMUTABLE),
    i("acllog-max-len", 0, LL, "128", 0),
    e(
        "acl-pubsub-default",
        &["allchannels", "resetchannels"],
        "resetchannels",
        0,
    ),
    i("maxclients", 1, u32::MAX as i64, "10000", 0),
    // ---- memory management ----
    m("maxmemory", 0, ULL, "0"),
    e(
        "maxmemory-policy",
        &[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ],
        "noeviction",
        0,
    ),
    i("maxmemory-samples", 1, INT_MAX, "5", 0),
    i("maxmemory-eviction-tenacity", 0, 100, "10", 0),
    sp(
        "maxmemory-clients",
        Kind::MemPercent {
            max: LL as u64,
            max_pct: 100,
        },
        "0",
        0,
    ),
    b("lazyfree-lazy-eviction", "no", 0),
    b("lazyfree-lazy-expire", "no", 0),
    b("lazyfree-lazy-server-del", "no", 0),
    b("lazyfree-lazy-user-del", "no", 0),
    b("lazyfree-lazy-user-flush", "no", 0),
    i("lfu-log-factor", 0, INT_MAX, "10", 0),
    i("lfu-decay-time", 0, INT_MAX, "1", 0),
    i("active-expire-effort", 1, 10, "1", 0),
    // ---- threads / kernel ----
    i("io-threads", 1, 128, "1", IMMUTABLE),
    b("io-threads-do-reads", "no", IMMUTABLE),
    e(
        "oom-score-adj",
        &["no", "yes", "relative", "absolute"],
        "no",
        0,
    ),
    sp(
        "oom-score-adj-values",
        Kind::OomScoreAdjValues,
        "0 200 800",
        MULTI,
    ),
    b("disable-thp", "yes", IMMUTABLE),
    s("server_cpulist", "", IMMUTABLE),
    s("bio_cpulist", "", IMMUTABLE),
    s("aof_rewrite_cpulist", "", IMMUTABLE),
    s("bgsave_cpulist", "", IMMUTABLE),
    b("jemalloc-bg-thread", "yes", 0),
    // ---- append only file ----
    b("appendonly", "no", 0),
    sp(
        "appendfilename",
        Kind::Str(StrCheck::NoPath(
            "appendfilename can't be a path, just a filename",
        )),
        "appendonly.aof",
        IMMUTABLE,
    ),
    sp(
        "appenddirname",
        Kind::Str(StrCheck::NoPath(
            "appenddirname can't be a path, just a directory name",
        )),
        "appendonlydir",
        IMMUTABLE,
    ),
    e("appendfsync", &["everysec", "always", "no"], "everysec", 0),
    b("no-appendfsync-on-rewrite", "no", 0),
    i("auto-aof-rewrite-percentage", 0, INT_MAX, "100", 0),
    m("auto-aof-rewrite-min-size", 0, LL as u64, "67108864"),
    b("aof-load-truncated", "yes", 0),
    b("aof-use-rdb-preamble", "yes", 0),
    b("aof-timestamp-enabled", "no", 0),
    b("aof-disable-auto-gc", "no", 0),
    b("aof-rewrite-incremental-fsync", "yes", 0),
    b("rdb-save-incremental-fsync", "yes", 0),
    // ---- shutdown ----
    i("shutdown-timeout", 0, INT_MAX, "10", 0),
    sp("shutdown-on-sigint", Kind::ShutdownFlags, "default", MULTI),
    sp("shutdown-on-sigterm", Kind::ShutdownFlags, "default", MULTI),
    // ---- scripting ----
    Param {
        name: "busy-reply-threshold",
        alias: Some("lua-time-limit"),
        kind: Kind::Int { min: 0, max: LL },
        default: "5000",
        flags: 0,
    },
    // ---- cluster ----
    b("cluster-enabled", "no", IMMUTABLE),
    s("cluster-config-file", "nodes.conf", IMMUTABLE),
    i("cluster-node-timeout", 0, LL, "15000", 0),
    i("cluster-port", 0, 65535, "0", IMMUTABLE),
    ia(
        "cluster-replica-validity-factor",
        "cluster-slave-validity-factor",
        0,
        INT_MAX,
        "10",
    ),
    i("cluster-migration-barrier", 0, INT_MAX, "1", 0),
    b("cluster-allow-replica-migration", "yes", 0),
    b("cluster-require-full-coverage", "yes", 0),
    ba(
        "cluster-replica-no-failover",
        "cluster-slave-no-failover",
        "no",
        0,
    ),
    b("cluster-allow-reads-when-down", "no", 0),
    b("cluster-allow-pubsubshard-when-down", "yes", 0),
    m("cluster-link-sendbuf-limit", 0, ULL, "0"),
    s("cluster-announce-ip", "", 0),
    sp(
        "cluster-announce-hostname",
        Kind::Str(StrCheck::Hostname),
        "",
        0,
    ),
    s("cluster-announce-human-nodename", "", 0),
    i("cluster-announce-port", 0, 65535, "0", 0),
    i("cluster-announce-bus-port", 0, 65535, "0", 0),
    i("cluster-announce-tls-port", 0, 65535, "0", 0),
    e(
        "cluster-preferred-endpoint-type",
        &["ip", "hostname", "unknown-endpoint"],
        "ip",
        0,
    ),
    // ---- slow log / latency ----
    i("slowlog-log-slower-than", -1, LL, "10000", 0),
    i("slowlog-max-len", 0, LL, "128", 0),
    i("latency-monitor-threshold", 0, LL, "0", 0),
    b("latency-tracking", "yes", 0),
    sp(
        "latency-tracking-info-percentiles",
        Kind::Percentiles,
        "50 99 99.9",
        MULTI,
    ),
    // ---- events ----
    sp("notify-keyspace-events", Kind::NotifyKeyspaceEvents, "", 0),
    // ---- data structure encodings ----
    Param {
        name: "hash-max-listpack-entries",
        alias: Some("hash-max-ziplist-entries"),
        kind: Kind::Int { min: 0, max: LL },
        default: "512",
        flags: 0,
    },
    ma("hash-max-listpack-value", "hash-max-ziplist-value", "64"),
    ia(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        I32.0,
        I32.1,
        "-2",
    ),
    i("list-compress-depth", 0, INT_MAX, "0", 0),
    i("set-max-intset-entries", 0, LL, "512", 0),
    i("set-max-listpack-entries", 0, LL, "128", 0),
    m("set-max-listpack-value", 0, LL as u64, "64"),
    Param {
        name: "zset-max-listpack-entries",
        alias: Some("zset-max-ziplist-entries"),
        kind: Kind::Int { min: 0, max: LL },
        default: "128",
        flags: 0,
    },
    ma("zset-max-listpack-value", "zset-max-ziplist-value", "64"),
    m("hll-sparse-max-bytes", 0, LL as u64, "3000"),
    m("stream-node-max-bytes", 0, LL as u64, "4096"),
    i("stream-node-max-entries", 0, LL, "100", 0),
    b("activerehashing", "yes", 0),
    // ---- client limits ----
    sp(
        "client-output-buffer-limit",
        Kind::ClientOutputBufferLimit,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        MULTI,
    ),
    m(
        "client-query-buffer-limit",
        1024 * 1024,
        LL as u64,
        "1073741824",
    ),
    m("proto-max-bulk-len", 1024 * 1024, LL as u64, "536870912"),
    i("hz", 0, INT_MAX, "10", 0),
    b("dynamic-hz", "yes", 0),
    i("tracking-table-max-keys", 0, LL, "1000000", 0),
    // ---- active defrag ----
    b("activedefrag", "no", 0),
    m("active-defrag-ignore-bytes", 1, LL as u64, "104857600"),
    i("active-defrag-threshold-lower", 0, 1000, "10", 0),
    i("active-defrag-threshold-upper", 0, 1000, "100", 0),
    i("active-defrag-cycle-min", 1, 99, "1", 0),
    i("active-defrag-cycle-max", 1, 99, "25", 0),
    i("active-defrag-max-scan-fields", 1, LL, "1000", 0),
    // ---- hidden / debugging ----
    i("key-load-delay", I32.0, I32.1, "0", HIDDEN),
    i("rdb-key-save-delay", I32.0, I32.1, "0", HIDDEN),
    i("watchdog-period", 0, INT_MAX, "0", HIDDEN),
    Param {
        name: "loading-process-events-interval-bytes",
        alias: None,
        kind: Kind::Mem {
            min: 1024,
            max: INT_MAX as u64,
        },
        default: "2097152",
        flags: HIDDEN,
    },
];

/// Parameters that ferrokv actually implements. Setting any other parameter to a non-default
/// value at startup produces an "accepted but has no effect yet" warning. Edit this list as
/// features land.
pub static EFFECTIVE: &[&str] = &[
    "appendonly",
    "appendfilename",
    "appenddirname",
    "appendfsync",
    "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size",
    "aof-load-truncated",
    "aof-timestamp-enabled",
    "aof-disable-auto-gc",
    "list-max-listpack-size",
    "list-compress-depth",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "set-max-intset-entries",
    "set-max-listpack-entries",
    "set-max-listpack-value",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "storage-engine",
    "disk-cache-size",
    "disk-memtable-size",
    "disk-object-cache-size",
    "disk-compaction-rate",
    "bind",
    "port",
    "protected-mode",
    "timeout",
    "loglevel",
    "logfile",
    "databases",
    "dir",
    "requirepass",
    "maxclients",
    "maxmemory-policy",
    "lfu-log-factor",
    "lfu-decay-time",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "latency-monitor-threshold",
    "latency-tracking",
    "client-query-buffer-limit",
    "proto-max-bulk-len",
    "hz",
    "enable-debug-command",
    "lazyfree-lazy-user-del",
    "lazyfree-lazy-user-flush",
    "save",
    "dbfilename",
    "rdbcompression",
    "rdbchecksum",
    "stop-writes-on-bgsave-error",
    "sanitize-dump-payload",
    "disable-thp",
    "lazyfree-lazy-server-del",
];

/// Directives Redis still accepts in config files but ignores (name, min argc, max argc,
/// counting the directive itself).
pub static DEPRECATED: &[(&str, usize, usize)] = &[
    ("list-max-ziplist-entries", 2, 2),
    ("list-max-ziplist-value", 2, 2),
    ("lua-replicate-commands", 2, 2),
];

/// Finds a parameter by canonical name or alias (ASCII case-insensitive). Returns its index in
/// [`PARAMS`] and whether the alias was used. Uses a lazily built hash index.
pub fn lookup(name: &[u8]) -> Option<(usize, bool)> {
    static INDEX: std::sync::OnceLock<std::collections::HashMap<&'static [u8], (usize, bool)>> =
        std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut m = std::collections::HashMap::new();
        for (idx, p) in PARAMS.iter().enumerate() {
            m.insert(p.name.as_bytes(), (idx, false));
            if let Some(a) = p.alias {
                m.insert(a.as_bytes(), (idx, true));
            }
        }
        m
    });
    if let Some(hit) = index.get(name) {
        return Some(*hit);
    }
    if name.iter().any(u8::is_ascii_uppercase) {
        return index.get(name.to_ascii_lowercase().as_slice()).copied();
    }
    None
}
