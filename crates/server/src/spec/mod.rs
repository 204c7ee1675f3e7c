//! The command metadata table: one static description of every command.
//!
//! "Metadata is data": dispatch gates (arity, flags), ACL checks, key extraction (shard locking,
//! MULTI, scripts, cluster slots) and the `COMMAND` family (INFO, COUNT, LIST, GETKEYS, DOCS) all
//! read [`COMMANDS`]. The table itself lives in `generated.rs`, produced by
//! `tools/gen_command_spec.py` from JSON facts; our own one-line summaries live in `summaries.rs`.
//!
//! Replies are built as a protocol-neutral [`Doc`] tree that the server renders as RESP2 or RESP3.
//!
//! Regenerate the table with `python3 tools/gen_command_spec.py <dir with the command JSON files>`
//! (the generated file is committed; building never needs the JSON). The generator drops
//! Valkey-only commands and arguments, and adds the Redis 7.4 hash-field expiration commands the
//! data lacks. `tests.rs` compares COMMAND INFO / GETKEYS / GETKEYSANDFLAGS / DOCS with a real
//! `redis-server` 7.0 when one is on PATH.

#[rustfmt::skip]
mod generated;
mod keys;
mod summaries;
#[cfg(test)]
mod tests;

pub use generated::COMMANDS;
pub use keys::{
    get_keys, keys_for_dispatch, keys_for_dispatch_into, legacy_range, not_key_positions,
    ERR_ARITY, ERR_INVALID, ERR_NO_KEYS, ERR_UNKNOWN_COMMAND,
};
pub use summaries::summary;

/// Command flags (`CommandSpec::flags`). Bit positions are ours, not Redis's; names follow Redis.
pub mod flags {
    /// May modify the keyspace.
    pub const WRITE: u64 = 1 << 0;
    /// Never modifies the keyspace.
    pub const READONLY: u64 = 1 << 1;
    /// May grow memory: refused when over `maxmemory`.
    pub const DENYOOM: u64 = 1 << 2;
    /// Implemented by a module.
    pub const MODULE: u64 = 1 << 3;
    /// Administrative command (implies `@admin` and `@dangerous`).
    pub const ADMIN: u64 = 1 << 4;
    /// Pub/Sub related (implies `@pubsub`).
    pub const PUBSUB: u64 = 1 << 5;
    /// Not allowed from scripts.
    pub const NOSCRIPT: u64 = 1 << 6;
    /// May block the client.
    pub const BLOCKING: u64 = 1 << 7;
    /// Allowed while the dataset is loading.
    pub const LOADING: u64 = 1 << 8;
    /// Allowed on a replica with stale data.
    pub const STALE: u64 = 1 << 9;
    /// Not propagated to MONITOR.
    pub const SKIP_MONITOR: u64 = 1 << 10;
    /// Not recorded in the slow log.
    pub const SKIP_SLOWLOG: u64 = 1 << 11;
    /// Allowed on an importing slot after ASKING (cluster).
    pub const ASKING: u64 = 1 << 12;
    /// O(1) or O(log N) command (implies `@fast`).
    pub const FAST: u64 = 1 << 13;
    /// Allowed before authentication.
    pub const NO_AUTH: u64 = 1 << 14;
    /// May replicate even though it is not a write (hidden in COMMAND INFO).
    pub const MAY_REPLICATE: u64 = 1 << 15;
    /// Available in sentinel mode (hidden).
    pub const SENTINEL: u64 = 1 << 16;
    /// Available only in sentinel mode (hidden).
    pub const ONLY_SENTINEL: u64 = 1 << 17;
    /// Key arguments may all be absent.
    pub const NO_MANDATORY_KEYS: u64 = 1 << 18;
    /// Protected by `enable-*-command` configs (hidden).
    pub const PROTECTED: u64 = 1 << 19;
    /// Refused while loading asynchronously (replica diskless load).
    pub const NO_ASYNC_LOADING: u64 = 1 << 20;
    /// Not allowed inside MULTI.
    pub const NO_MULTI: u64 = 1 << 21;
    /// Key positions cannot be computed from (first, last, step) alone. Never stored in the
    /// table: computed by [`super::is_movable`] and shown by [`super::command_info`].
    pub const MOVABLE_KEYS: u64 = 1 << 22;
    /// Allowed while a script or function is busy.
    pub const ALLOW_BUSY: u64 = 1 << 23;
    /// May touch keys not declared as arguments (scripts, functions) (hidden).
    pub const TOUCHES_ARBITRARY_KEYS: u64 = 1 << 24;

    /// The flags COMMAND INFO shows, with their names, in Redis's reply order. Flags not listed
    /// here (MAY_REPLICATE, SENTINEL, ONLY_SENTINEL, PROTECTED, TOUCHES_ARBITRARY_KEYS) are hidden.
    pub const SHOWN: &[(u64, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (MODULE, "module"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories as bits, in Redis's order (which is also the order replies list them in).
pub mod acl {
    /// `@keyspace`
    pub const KEYSPACE: u64 = 1 << 0;
    /// `@read`
    pub const READ: u64 = 1 << 1;
    /// `@write`
    pub const WRITE: u64 = 1 << 2;
    /// `@set`
    pub const SET: u64 = 1 << 3;
    /// `@sortedset`
    pub const SORTEDSET: u64 = 1 << 4;
    /// `@list`
    pub const LIST: u64 = 1 << 5;
    /// `@hash`
    pub const HASH: u64 = 1 << 6;
    /// `@string`
    pub const STRING: u64 = 1 << 7;
    /// `@bitmap`
    pub const BITMAP: u64 = 1 << 8;
    /// `@hyperloglog`
    pub const HYPERLOGLOG: u64 = 1 << 9;
    /// `@geo`
    pub const GEO: u64 = 1 << 10;
    /// `@stream`
    pub const STREAM: u64 = 1 << 11;
    /// `@pubsub`
    pub const PUBSUB: u64 = 1 << 12;
    /// `@admin`
    pub const ADMIN: u64 = 1 << 13;
    /// `@fast`
    pub const FAST: u64 = 1 << 14;
    /// `@slow` (every command that is not `@fast`)
    pub const SLOW: u64 = 1 << 15;
    /// `@blocking`
    pub const BLOCKING: u64 = 1 << 16;
    /// `@dangerous`
    pub const DANGEROUS: u64 = 1 << 17;
    /// `@connection`
    pub const CONNECTION: u64 = 1 << 18;
    /// `@transaction`
    pub const TRANSACTION: u64 = 1 << 19;
    /// `@scripting`
    pub const SCRIPTING: u64 = 1 << 20;

    /// Every category as (lowercase name without `@`, bit), in Redis's order.
    pub const ALL: &[(&str, u64)] = &[
        ("keyspace", KEYSPACE),
        ("read", READ),
        ("write", WRITE),
        ("set", SET),
        ("sortedset", SORTEDSET),
        ("list", LIST),
        ("hash", HASH),
        ("string", STRING),
        ("bitmap", BITMAP),
        ("hyperloglog", HYPERLOGLOG),
        ("geo", GEO),
        ("stream", STREAM),
        ("pubsub", PUBSUB),
        ("admin", ADMIN),
        ("fast", FAST),
        ("slow", SLOW),
        ("blocking", BLOCKING),
        ("dangerous", DANGEROUS),
        ("connection", CONNECTION),
        ("transaction", TRANSACTION),
        ("scripting", SCRIPTING),
    ];

    /// Lowercase name (without `@`) of a single category bit; `""` if `bit` is not exactly one
    /// known category.
    pub fn name(bit: u64) -> &'static str {
        ALL.iter()
            .find(|(_, b)| *b == bit)
            .map(|(n, _)| *n)
            .unwrap_or("")
    }

    /// The bit of a category name given without `@`, compared case-insensitively (as ACL SETUSER
    /// does).
    pub fn from_name(name: &str) -> Option<u64> {
        ALL.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, b)| *b)
    }
}

/// Key-spec flags (`KeySpec::flags`, and the flags [`get_keys`] reports per key).
pub mod ksflags {
    /// Read-only access to the key's value.
    pub const RO: u32 = 1 << 0;
    /// Read-write access.
    pub const RW: u32 = 1 << 1;
    /// Overwrite: the old value is not read.
    pub const OW: u32 = 1 << 2;
    /// Removes the key.
    pub const RM: u32 = 1 << 3;
    /// Returns, copies or uses user data from the value.
    pub const ACCESS: u32 = 1 << 4;
    /// Updates an existing value.
    pub const UPDATE: u32 = 1 << 5;
    /// Adds data to the value without modifying existing data.
    pub const INSERT: u32 = 1 << 6;
    /// Deletes data from the value.
    pub const DELETE: u32 = 1 << 7;
    /// Not really a key (e.g. a shard channel), but hashed like one for cluster routing.
    pub const NOT_KEY: u32 = 1 << 8;
    /// The spec may miss some keys; a getkeys procedure must be used.
    pub const INCOMPLETE: u32 = 1 << 9;
    /// The actual flags depend on other arguments.
    pub const VARIABLE_FLAGS: u32 = 1 << 10;

    /// Flag names in Redis's reply order.
    pub const NAMES: &[(u32, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];

    /// Names of the set flags, in reply order (as COMMAND INFO and GETKEYSANDFLAGS show them).
    pub fn names(flags: u32) -> impl Iterator<Item = &'static str> {
        NAMES
            .iter()
            .filter(move |(b, _)| flags & b != 0)
            .map(|(_, n)| *n)
    }
}

/// Argument flags (`Arg::flags`).
pub mod argflags {
    /// The argument may be omitted.
    pub const OPTIONAL: u8 = 1 << 0;
    /// The argument may be repeated.
    pub const MULTIPLE: u8 = 1 << 1;
    /// With MULTIPLE: the token is repeated before every occurrence.
    pub const MULTIPLE_TOKEN: u8 = 1 << 2;
}

/// Documentation flags (`CommandSpec::doc_flags`).
pub mod docflags {
    /// The command is deprecated (see `deprecated_since` / `replaced_by`).
    pub const DEPRECATED: u8 = 1 << 0;
    /// A system command not meant to be called by users (e.g. PSYNC, REPLCONF).
    pub const SYSCMD: u8 = 1 << 1;
}

/// Where a key spec's first key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginSearch {
    /// At this argv index (0 is the command name).
    Index(i32),
    /// Right after the first occurrence of `keyword` (case-insensitive), scanning from
    /// `startfrom` forwards, or, if negative, from `argc + startfrom` backwards.
    Keyword {
        /// The keyword that precedes the keys.
        keyword: &'static str,
        /// Where the scan starts (negative counts from the end).
        startfrom: i32,
    },
    /// Cannot be described; a getkeys procedure is needed.
    Unknown,
}

/// How the remaining keys of a key spec follow its first key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindKeys {
    /// Keys from the first key up to `lastkey` (relative to the first if >= 0, else from the
    /// end of argv: -1 is the last argument), every `step` arguments; with `lastkey == -1`, a
    /// `limit` > 1 keeps only the first 1/limit of the remaining arguments.
    Range {
        /// Last key, relative to the first key, or negative from the end.
        lastkey: i32,
        /// Distance between keys.
        step: i32,
        /// Fraction limit for open ranges (0 or 1: no limit).
        limit: i32,
    },
    /// A count argument at `first + keynumidx`, then that many keys starting at
    /// `first + firstkey`, every `step` arguments.
    Keynum {
        /// Offset of the key count from the first position.
        keynumidx: i32,
        /// Offset of the first key from the first position.
        firstkey: i32,
        /// Distance between keys.
        step: i32,
    },
    /// Cannot be described; a getkeys procedure is needed.
    Unknown,
}

/// One key specification: where some of the command's keys are and how they are accessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// [`ksflags`] bits.
    pub flags: u32,
    /// Where the first key is.
    pub begin: BeginSearch,
    /// Where the other keys are.
    pub find: FindKeys,
}

/// The type of a documented argument (COMMAND DOCS `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// Any string.
    String,
    /// An integer.
    Integer,
    /// A floating point number.
    Double,
    /// A key name (see `Arg::key_spec_index`).
    Key,
    /// A glob-style pattern.
    Pattern,
    /// A unix time (seconds or milliseconds).
    UnixTime,
    /// A fixed token with no value.
    PureToken,
    /// Exactly one of the nested arguments.
    Oneof,
    /// A group of nested arguments.
    Block,
}

impl ArgKind {
    /// The name COMMAND DOCS uses for this type.
    pub fn as_str(self) -> &'static str {
        match self {
            ArgKind::String => "string",
            ArgKind::Integer => "integer",
            ArgKind::Double => "double",
            ArgKind::Key => "key",
            ArgKind::Pattern => "pattern",
            ArgKind::UnixTime => "unix-time",
            ArgKind::PureToken => "pure-token",
            ArgKind::Oneof => "oneof",
            ArgKind::Block => "block",
        }
    }
}

/// One node of a command's documented argument tree.
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    /// Identifier, unique among siblings.
    pub name: &'static str,
    /// Argument type.
    pub kind: ArgKind,
    /// How to display the value in syntax help, when it differs from `name`.
    pub display_text: Option<&'static str>,
    /// Index into the command's key specs for `Key` arguments, else -1.
    pub key_spec_index: i32,
    /// Literal token preceding the value (or the whole argument for `PureToken`).
    pub token: Option<&'static str>,
    /// Version that introduced the argument.
    pub since: Option<&'static str>,
    /// Version that deprecated the argument.
    pub deprecated_since: Option<&'static str>,
    /// [`argflags`] bits.
    pub flags: u8,
    /// Nested arguments of `Oneof` / `Block`.
    pub args: &'static [Arg],
}

/// Which special key-extraction procedure a command has besides its key specs (Redis's
/// `getkeys_proc`). Used when specs are incomplete, unknown or have variable flags, and as the
/// fallback when the specs fail; its presence also makes a command "movablekeys".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetKeysProc {
    /// Key specs alone describe the keys.
    None,
    /// BITFIELD: RO or RW depending on subcommands.
    Bitfield,
    /// BLMPOP / BZMPOP: numkeys at 2, keys from 3.
    Blmpop,
    /// BZMPOP (same layout as BLMPOP).
    Bzmpop,
    /// EVAL family: numkeys at 2, keys from 3.
    Eval,
    /// FCALL family: numkeys at 2, keys from 3.
    Function,
    /// GEORADIUS(BYMEMBER): key at 1 plus STORE/STOREDIST target.
    Georadius,
    /// LMPOP: numkeys at 1, keys from 2.
    Lmpop,
    /// MIGRATE: key at 3, or the keys after KEYS.
    Migrate,
    /// SET: OW, or RW with GET.
    Set,
    /// SINTERCARD: numkeys at 1, keys from 2.
    Sintercard,
    /// SORT: key at 1 plus the last STORE target.
    Sort,
    /// SORT_RO: key at 1.
    SortRo,
    /// XREAD / XREADGROUP: the first half of the arguments after STREAMS.
    Xread,
    /// ZUNION / ZINTER / ZDIFF / ZINTERCARD: numkeys at 1, keys from 2.
    ZunionInterDiff,
    /// ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE: destination at 1, numkeys at 2, keys from 3.
    ZunionInterDiffStore,
    /// ZMPOP: numkeys at 1, keys from 2.
    Zmpop,
}

/// Static description of one command or subcommand.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// Lowercase name; subcommands are `parent|sub` (e.g. `config|get`).
    pub name: &'static str,
    /// Lowercase parent name for subcommands.
    pub container: Option<&'static str>,
    /// Documentation group (`string`, `server`, `sorted_set`, ...).
    pub group: &'static str,
    /// Version that introduced the command.
    pub since: &'static str,
    /// Time complexity as documented.
    pub complexity: Option<&'static str>,
    /// Redis arity: exact argc if positive, minimum argc if negative (argv[0] counts; for a
    /// subcommand argv[0] is the parent and argv[1] the subcommand).
    pub arity: i32,
    /// [`flags`] bits as declared (never includes `MOVABLE_KEYS`).
    pub flags: u64,
    /// Final [`acl`] category bits, implicit categories included.
    pub acl: u64,
    /// Key specifications, in Redis's order (`Arg::key_spec_index` points into this).
    pub key_specs: &'static [KeySpec],
    /// Lowercase command tips (e.g. `request_policy:all_shards`).
    pub tips: &'static [&'static str],
    /// Special key-extraction procedure.
    pub getkeys: GetKeysProc,
    /// [`docflags`] bits.
    pub doc_flags: u8,
    /// Version that deprecated the command.
    pub deprecated_since: Option<&'static str>,
    /// What to use instead of a deprecated command.
    pub replaced_by: Option<&'static str>,
    /// Documented argument tree (after the command / subcommand name).
    pub args: &'static [Arg],
    /// Subcommands, sorted by name.
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// True if every flag bit in `f` is set.
    pub fn has(&self, f: u64) -> bool {
        self.flags & f == f
    }

    /// Whether `argc` (argv length, command name included) satisfies the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        if a >= 0 {
            argc == a as usize
        } else {
            argc >= a.unsigned_abs() as usize
        }
    }

    /// The subcommand's own name (`get` for `config|get`), or the whole name otherwise.
    pub fn short_name(&self) -> &'static str {
        match self.name.rfind('|') {
            Some(i) => &self.name[i + 1..],
            None => self.name,
        }
    }
}

/// Finds a top-level command by its lowercase name (binary search, no allocation).
pub fn lookup(name_lowercase: &[u8]) -> Option<&'static CommandSpec> {
    COMMANDS
        .binary_search_by(|c| c.name.as_bytes().cmp(name_lowercase))
        .ok()
        .map(|i| &COMMANDS[i])
}

/// Finds a subcommand of `parent` by its lowercase own name (e.g. `b"get"` under `config`).
pub fn lookup_sub(parent: &CommandSpec, sub_lowercase: &[u8]) -> Option<&'static CommandSpec> {
    let skip = parent.name.len() + 1;
    parent
        .subcommands
        .binary_search_by(|c| c.name.as_bytes()[skip..].cmp(sub_lowercase))
        .ok()
        .map(|i| &parent.subcommands[i])
}

/// Case-insensitive [`lookup`] that lowercases into a stack buffer (names longer than 32 bytes
/// never match).
pub fn lookup_ci(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    let low = lower_into(name, &mut buf)?;
    lookup(low)
}

/// Case-insensitive [`lookup_sub`].
pub fn lookup_sub_ci(parent: &CommandSpec, sub: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    let low = lower_into(sub, &mut buf)?;
    lookup_sub(parent, low)
}

/// Resolves argv to the command or, for containers with a subcommand argument, the subcommand
/// (case-insensitive). Returns the container itself if argv[1] is missing or unknown, as the
/// caller must then report the container's own error.
pub fn resolve(argv: &[&[u8]]) -> Option<&'static CommandSpec> {
    let top = lookup_ci(argv.first()?)?;
    if top.subcommands.is_empty() {
        return Some(top);
    }
    match argv.get(1).and_then(|s| lookup_sub_ci(top, s)) {
        Some(sub) => Some(sub),
        None => Some(top),
    }
}

fn lower_into<'a>(name: &[u8], buf: &'a mut [u8; 32]) -> Option<&'a [u8]> {
    if name.len() > buf.len() {
        return None;
    }
    let out = &mut buf[..name.len()];
    for (o, c) in out.iter_mut().zip(name) {
        *o = c.to_ascii_lowercase();
    }
    Some(out)
}

/// Visits every command and subcommand (parents before their subcommands).
pub fn all_commands() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
}

/// Whether the command is "movablekeys": its keys cannot be found from the legacy
/// (first, last, step) triple alone. Mirrors Redis's populateCommandMovableKeys plus the flag
/// set by populateCommandLegacyRangeSpec.
pub fn is_movable(spec: &CommandSpec) -> bool {
    if spec.getkeys != GetKeysProc::None {
        return true;
    }
    let non_range = |k: &KeySpec| {
        !matches!(k.begin, BeginSearch::Index(_)) || !matches!(k.find, FindKeys::Range { .. })
    };
    if spec.key_specs.iter().any(non_range) {
        return true;
    }
    keys::legacy_range_movable(spec)
}

/// All flags as COMMAND INFO reports them: the declared ones plus `MOVABLE_KEYS` if movable.
pub fn effective_flags(spec: &CommandSpec) -> u64 {
    if is_movable(spec) {
        spec.flags | flags::MOVABLE_KEYS
    } else {
        spec.flags
    }
}

/// Whether the command has key arguments at all (a getkeys procedure, or a key spec that is not
/// `NOT_KEY`): COMMAND GETKEYS refuses commands without.
pub fn has_keys(spec: &CommandSpec) -> bool {
    spec.getkeys != GetKeysProc::None
        || spec
            .key_specs
            .iter()
            .any(|k| k.flags & ksflags::NOT_KEY == 0)
}

/// A protocol-neutral reply tree; the server renders it in RESP2 (maps and sets become arrays)
/// or RESP3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Doc {
    /// Integer reply.
    Int(i64),
    /// Simple (status) string.
    Simple(&'static str),
    /// Bulk string.
    Bulk(String),
    /// Array.
    Array(Vec<Doc>),
    /// Map with bulk-string keys.
    Map(Vec<(String, Doc)>),
    /// Set.
    Set(Vec<Doc>),
    /// Null.
    Null,
}

fn bulk(s: &str) -> Doc {
    Doc::Bulk(s.to_string())
}

/// The COMMAND INFO entry of a command, shaped as Redis 7 replies it: name, arity, flags (set),
/// first key, last key, step, ACL categories (set of `@name`), tips (set), key specs (set of
/// maps) and subcommand entries (set).
pub fn command_info(spec: &CommandSpec) -> Doc {
    let fl = effective_flags(spec);
    let flag_names = flags::SHOWN
        .iter()
        .filter(|(b, _)| fl & b != 0)
        .map(|(_, n)| Doc::Simple(n))
        .collect();
    let cats = ACL_AT_NAMES
        .iter()
        .zip(acl::ALL)
        .filter(|(_, (_, b))| spec.acl & b != 0)
        .map(|(n, _)| Doc::Simple(n))
        .collect();
    let (first, last, step) = legacy_range(spec);
    Doc::Array(vec![
        bulk(spec.name),
        Doc::Int(spec.arity as i64),
        Doc::Set(flag_names),
        Doc::Int(first),
        Doc::Int(last),
        Doc::Int(step),
        Doc::Set(cats),
        Doc::Set(spec.tips.iter().map(|t| bulk(t)).collect()),
        Doc::Set(spec.key_specs.iter().map(key_spec_doc).collect()),
        Doc::Set(spec.subcommands.iter().map(command_info).collect()),
    ])
}

/// `@`-prefixed category names, parallel to [`acl::ALL`].
const ACL_AT_NAMES: &[&str] = &[
    "@keyspace",
    "@read",
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@hash",
    "@string",
    "@bitmap",
    "@hyperloglog",
    "@geo",
    "@stream",
    "@pubsub",
    "@admin",
    "@fast",
    "@slow",
    "@blocking",
    "@dangerous",
    "@connection",
    "@transaction",
    "@scripting",
];

fn key_spec_doc(k: &KeySpec) -> Doc {
    let (bt, bs) = match k.begin {
        BeginSearch::Index(pos) => ("index", vec![("index".to_string(), Doc::Int(pos as i64))]),
        BeginSearch::Keyword { keyword, startfrom } => (
            "keyword",
            vec![
                ("keyword".to_string(), bulk(keyword)),
                ("startfrom".to_string(), Doc::Int(startfrom as i64)),
            ],
        ),
        BeginSearch::Unknown => ("unknown", vec![]),
    };
    let (ft, fs) = match k.find {
        FindKeys::Range {
            lastkey,
            step,
            limit,
        } => (
            "range",
            vec![
                ("lastkey".to_string(), Doc::Int(lastkey as i64)),
                ("keystep".to_string(), Doc::Int(step as i64)),
                ("limit".to_string(), Doc::Int(limit as i64)),
            ],
        ),
        FindKeys::Keynum {
            keynumidx,
            firstkey,
            step,
        } => (
            "keynum",
            vec![
                ("keynumidx".to_string(), Doc::Int(keynumidx as i64)),
                ("firstkey".to_string(), Doc::Int(firstkey as i64)),
                ("keystep".to_string(), Doc::Int(step as i64)),
            ],
        ),
        FindKeys::Unknown => ("unknown", vec![]),
    };
    Doc::Map(vec![
        (
            "flags".to_string(),
            Doc::Set(ksflags::names(k.flags).map(Doc::Simple).collect()),
        ),
        (
            "begin_search".to_string(),
            Doc::Map(vec![
                ("type".to_string(), bulk(bt)),
                ("spec".to_string(), Doc::Map(bs)),
            ]),
        ),
        (
            "find_keys".to_string(),
            Doc::Map(vec![
                ("type".to_string(), bulk(ft)),
                ("spec".to_string(), Doc::Map(fs)),
            ]),
        ),
    ])
}

/// The COMMAND DOCS entry of a command (the value; the caller pairs it with the name): summary,
/// since, group, complexity, doc_flags, deprecated_since, replaced_by, arguments, subcommands.
/// History is never included (we keep none).
pub fn command_docs(spec: &CommandSpec) -> Doc {
    let mut m = vec![
        ("summary".to_string(), bulk(summary(spec.name))),
        ("since".to_string(), bulk(spec.since)),
        ("group".to_string(), bulk(spec.group)),
    ];
    if let Some(c) = spec.complexity {
        m.push(("complexity".to_string(), bulk(c)));
    }
    if spec.doc_flags != 0 {
        let mut v = Vec::new();
        if spec.doc_flags & docflags::DEPRECATED != 0 {
            v.push(Doc::Simple("deprecated"));
        }
        if spec.doc_flags & docflags::SYSCMD != 0 {
            v.push(Doc::Simple("syscmd"));
        }
        m.push(("doc_flags".to_string(), Doc::Set(v)));
    }
    if let Some(d) = spec.deprecated_since {
        m.push(("deprecated_since".to_string(), bulk(d)));
    }
    if let Some(r) = spec.replaced_by {
        m.push(("replaced_by".to_string(), bulk(r)));
    }
    if !spec.args.is_empty() {
        m.push(("arguments".to_string(), args_doc(spec.args)));
    }
    if !spec.subcommands.is_empty() {
        m.push((
            "subcommands".to_string(),
            Doc::Map(
                spec.subcommands
                    .iter()
                    .map(|s| (s.name.to_string(), command_docs(s)))
                    .collect(),
            ),
        ));
    }
    Doc::Map(m)
}

fn args_doc(args: &[Arg]) -> Doc {
    Doc::Array(
        args.iter()
            .map(|a| {
                let mut m = vec![
                    ("name".to_string(), bulk(a.name)),
                    ("type".to_string(), bulk(a.kind.as_str())),
                ];
                if let Some(d) = a.display_text {
                    m.push(("display_text".to_string(), bulk(d)));
                }
                if a.key_spec_index >= 0 {
                    m.push((
                        "key_spec_index".to_string(),
                        Doc::Int(a.key_spec_index as i64),
                    ));
                }
                if let Some(t) = a.token {
                    m.push(("token".to_string(), bulk(t)));
                }
                if let Some(s) = a.since {
                    m.push(("since".to_string(), bulk(s)));
                }
                if let Some(s) = a.deprecated_since {
                    m.push(("deprecated_since".to_string(), bulk(s)));
                }
                if a.flags != 0 {
                    let mut v = Vec::new();
                    if a.flags & argflags::OPTIONAL != 0 {
                        v.push(Doc::Simple("optional"));
                    }
                    if a.flags & argflags::MULTIPLE != 0 {
                        v.push(Doc::Simple("multiple"));
                    }
                    if a.flags & argflags::MULTIPLE_TOKEN != 0 {
                        v.push(Doc::Simple("multiple_token"));
                    }
                    m.push(("flags".to_string(), Doc::Set(v)));
                }
                if matches!(a.kind, ArgKind::Oneof | ArgKind::Block) {
                    m.push(("arguments".to_string(), args_doc(a.args)));
                }
                Doc::Map(m)
            })
            .collect(),
    )
}
