//! Disk-native element commands on big field-level collections (docs/disk-engine.md §6).
//!
//! A command in [`try_call`]'s list whose key is stored field-level with at least
//! [`native_min_len`] elements (sorted sets and list pushes/reads: any size; the rest:
//! [`NATIVE_MIN_LEN`]), is live, and is not resident in the unit's shards already runs
//! directly on the disk engine's element operations: a few point reads and one small batch,
//! O(log N) whatever the collection's size, instead of loading the whole value. Each branch
//! reproduces what the memory engine's handler does: reply (RESP2/RESP3 through the same
//! writer), errors, `dirty`, keyspace hits/misses, keyspace events (same classes, names and
//! order), `modified` (WATCH, tracking) and `key_ready` (blocked clients). Anything else (an
//! option not implemented here, an argument error, a hash with field TTLs, a result that
//! needs the handler's own logic) returns [`Outcome::Load`] *before any side effect*, and the
//! load path runs the memory handler as before. A field-level key of the wrong type returns
//! [`Outcome::StandIn`]: the handler then runs on a one-element stand-in of the key's real type
//! and produces its own errors in its own order, without the O(N) load.
//!
//! Compact collections stored as records, and field-level hashes, sets and `quicklist` pops /
//! LSET below [`NATIVE_MIN_LEN`], keep the load path: it does the encoding conversions (e.g. a
//! list shrinking back to listpack) and, for hashes, costs less on tiny keys. Compact
//! collections stored field-level (the engine's compact flag: `listpack` lists, big-enough
//! `listpack` sorted sets) run natively and decide their own conversion from the limits and
//! the metadata ([`native_min_len`], `Native::zset_converts`, `Native::push`).

use super::ClientDisk;
use crate::dispatch::Ctx;
use crate::errors::{self, CmdError, CmdResult};
use crate::{args, notify};
use bytes::Bytes;
use ferrokv_engine_disk::{DiskEngine, DiskError, KeyType, Layout, MetaToken};
use std::borrow::Cow;
use std::collections::HashMap;

/// Field-level hashes and sets with fewer elements than this, and lists for pops and LSET,
/// keep the load / run / write-back path (see [`native_min_len`]).
pub const NATIVE_MIN_LEN: u64 = 1024;

/// The smallest field-level collection of type `kind` that `cmd` runs on natively.
///
/// Sorted sets: any size (a `skiplist` never converts back to `listpack`, so a native write
/// leaves exactly the encoding the handler would, and the rank index exists for every
/// field-level incarnation). Lists: pushes and reads at any size (a push never converts a
/// `quicklist` back; a field-level list is a `quicklist`); pops and LSET keep
/// [`NATIVE_MIN_LEN`] (a pop can shrink a list back to `listpack`, which the handler's
/// conversion decides). Hashes and sets keep [`NATIVE_MIN_LEN`]: a native HSET on the one-field
/// `hashtable` hashes of typical workloads costs more than the load path with the hot-object
/// cache (docs/disk-engine.md §6.1). Field-level keys of the kinds served at any size are never
/// kept resident (`disk::cacheable`), so the native paths never meet a resident copy.
///
/// A *compact* field-level list (`listpack`, the metadata's compact flag and byte size) also
/// pops natively at any size (a `listpack` never converts on removal), but never runs LSET
/// natively (a longer element may convert it: the handler decides).
pub fn native_min_len(kind: KeyType, cmd: &str, compact: bool) -> u64 {
    match (kind, cmd) {
        (KeyType::ZSet, _) => 1,
        (KeyType::List, "lpush" | "rpush" | "lindex" | "llen" | "lrange") => 1,
        (KeyType::List, "lpop" | "rpop" | "blpop" | "brpop") if compact => 1,
        (KeyType::List, "lset") if compact => u64::MAX,
        _ => NATIVE_MIN_LEN,
    }
}

/// Whether field-level keys of type `kind` may be handled natively below [`NATIVE_MIN_LEN`]
/// (then they must never stay resident in the hot-object cache).
pub fn native_at_any_size(kind: KeyType) -> bool {
    matches!(kind, KeyType::ZSet | KeyType::List)
}

/// What [`try_call`] did.
pub enum Outcome {
    /// The command ran natively; its result.
    Done(CmdResult),
    /// Not handled: run the load path with whole values.
    Load,
    /// Not handled: run the load path with stand-ins for field-level keys (the command only
    /// needs their type, existence or expiry).
    StandIn,
}

/// Commands that only read or change the existence, type or expiry of their keys: a
/// field-level key is represented by a stand-in (`store::Origin::Proxy`), so they are O(1)
/// on a collection of any size.
pub fn metadata_only(name: &str) -> bool {
    matches!(
        name,
        "del"
            | "unlink"
            | "exists"
            | "type"
            | "touch"
            | "ttl"
            | "pttl"
            | "expiretime"
            | "pexpiretime"
            | "expire"
            | "pexpire"
            | "expireat"
            | "pexpireat"
            | "persist"
            | "watch"
    )
}

/// Native commands that can run through a key's staged operations (`Native::ov`).
fn overlay_command(name: &str) -> bool {
    matches!(
        name,
        "hset"
            | "hmset"
            | "hget"
            | "hmget"
            | "hdel"
            | "hlen"
            | "hexists"
            | "hincrby"
            | "sadd"
            | "srem"
            | "sismember"
            | "smismember"
            | "hstrlen"
            | "zmscore"
            | "scard"
            | "zadd"
            | "zincrby"
            | "zscore"
            | "zrem"
            | "zcard"
    )
}

/// The type a native command works on (`None`: not a native command).
pub(super) fn kind_of(name: &str) -> Option<KeyType> {
    Some(match name {
        "hset" | "hmset" | "hget" | "hmget" | "hdel" | "hlen" | "hexists" | "hincrby"
        | "hstrlen" => KeyType::Hash,
        "sadd" | "srem" | "sismember" | "smismember" | "scard" => KeyType::Set,
        "zadd" | "zincrby" | "zscore" | "zmscore" | "zrem" | "zcard" | "zrank" | "zrevrank"
        | "zrange" | "zrevrange" | "zrangebyscore" | "zrevrangebyscore" => KeyType::ZSet,
        "lpush" | "rpush" | "lpop" | "rpop" | "blpop" | "brpop" | "lindex" | "llen" | "lset"
        | "lrange" => KeyType::List,
        _ => return None,
    })
}

fn storage(e: DiskError) -> CmdError {
    CmdError(Cow::Owned(format!("ERR disk engine error: {e}")))
}

/// Runs `c`'s command natively when it qualifies (see the module docs).
pub fn try_call(c: &mut Ctx<'_, '_>, eng: &DiskEngine) -> Outcome {
    let Some(kind) = kind_of(c.cmd.name) else {
        return Outcome::Load;
    };
    let db = c.client.db;
    let key = c.arg_bytes(1);
    let staged = c.client.disk.pending.get(&(db, key.clone())).cloned();
    if staged.is_some() && !(kind != KeyType::List && overlay_command(c.cmd.name)) {
        // An earlier command of the unit staged operations on the key and this one cannot
        // read through them (ZRANK, lists): the load path folds them into the loaded value.
        return Outcome::Load;
    }
    let proxied = match residency(&c.client.disk, db, &key) {
        Residency::Absent => false,
        Residency::StandIn => true,
        Residency::Loaded => return Outcome::Load,
    };
    if c.locks.for_key(db, &key).is_none() {
        return Outcome::Load;
    }
    let read = if c.client.disk.want_tokens {
        eng.key_meta_with_token(db as u16, &key, i64::MIN)
    } else {
        eng.key_meta_and_string(db as u16, &key, i64::MIN)
            .map(|r| (r, None))
    };
    let (read, token) = match read {
        Ok(r) => r,
        Err(e) => return Outcome::Done(Err(storage(e))),
    };
    let Some(km) = read.as_ref().map(|(km, _)| km.clone()) else {
        // The load path reuses this read (`ClientDisk::prefetched`) instead of making it again.
        c.client.disk.prefetched = Some((db, key, read, token));
        return Outcome::Load;
    };
    if km.layout != Layout::Fields
        || km.len < native_min_len(km.kind, c.cmd.name, km.compact)
        || km.expire_ms.is_some_and(|t| t <= c.clock.ms)
    {
        c.client.disk.prefetched = Some((db, key, read, token));
        return Outcome::Load;
    }
    if proxied {
        // The unit holds a stand-in (EXEC's WATCHed keys, an earlier TTL...): the disk is still
        // the truth unless the unit deleted the key or changed its expiry (the only changes a
        // command can make to a stand-in; any other command replaced it by the whole value).
        let now = c.clock.ms;
        let same = c
            .locks
            .for_key(db, &key)
            .and_then(|s| {
                s.peek(&key)
                    .filter(|e| !e.is_expired(now))
                    .map(|e| e.expire_at())
            })
            .is_some_and(|exp| exp == km.expire_ms);
        if !same {
            return Outcome::Load;
        }
    }
    if km.kind != kind {
        return Outcome::StandIn;
    }
    if km.has_field_ttl {
        return Outcome::Load;
    }
    let mut n = Native {
        eng,
        db: db as u16,
        key: key.clone(),
        len: km.len,
        now: c.clock.ms,
        stage: c.client.disk.depth > 0,
        expire: km.expire_ms,
        ov: None,
        compact: km.compact,
        lp_bytes: km.listpack_bytes,
        token: if c.client.disk.depth == 0 && staged.is_none() {
            token
        } else {
            None
        },
    };
    if let Some((p, _, len)) = staged {
        n.len = len;
        n.ov = Some(p);
    }
    let r = match c.cmd.name {
        "hset" | "hmset" => n.hset(c),
        "hget" => n.hget(c),
        "hmget" => n.hmget(c),
        "hdel" => n.hdel(c),
        "hlen" | "scard" | "zcard" | "llen" => n.card(c),
        "hexists" => n.hexists(c),
        "hstrlen" => n.hstrlen(c),
        "smismember" => n.smismember(c),
        "zmscore" => n.zmscore(c),
        "hincrby" => n.hincrby(c),
        "sadd" => n.sadd(c),
        "srem" => n.srem(c),
        "sismember" => n.sismember(c),
        "zadd" => n.zadd(c),
        "zincrby" => n.zincrby(c),
        "zscore" => n.zscore(c),
        "zrem" => n.zrem(c),
        "zrank" => n.zrank(c, false),
        "zrevrank" => n.zrank(c, true),
        "zrange" | "zrevrange" | "zrangebyscore" | "zrevrangebyscore" => n.zrange(c),
        "lpush" => n.push(c, true),
        "rpush" => n.push(c, false),
        "lpop" => n.pop(c, true),
        "rpop" => n.pop(c, false),
        "blpop" => n.bpop(c, true),
        "brpop" => n.bpop(c, false),
        "lindex" => n.lindex(c),
        "lrange" => n.lrange(c),
        "lset" => n.lset(c),
        _ => return Outcome::Load,
    };
    if proxied && matches!(r, Ok(Some(()))) {
        // A removal emptied the key: its stand-in goes too.
        match eng.key_meta(db as u16, &key, i64::MIN) {
            Ok(Some(_)) => {}
            Ok(None) => {
                let now = c.clock.ms;
                if let Some(s) = c.locks.for_key(db, &key) {
                    s.remove(&key, now);
                }
            }
            Err(e) => return Outcome::Done(Err(storage(e))),
        }
    }
    match r {
        Ok(Some(())) => Outcome::Done(Ok(())),
        Ok(None) => Outcome::Load,
        Err(e) => Outcome::Done(Err(e)),
    }
}

/// Whether the unit holds `key` in its shards (EXEC's and a script's commands share the
/// shards: a resident value must be served from there).
enum Residency {
    /// Not loaded by the unit: the disk is the truth.
    Absent,
    /// Represented by a stand-in (see `store::Origin::Proxy`).
    StandIn,
    /// Loaded whole (or known missing, or its database loaded whole).
    Loaded,
}

fn residency(st: &ClientDisk, db: u32, key: &Bytes) -> Residency {
    if st.whole.contains(&db) {
        return Residency::Loaded;
    }
    match st.loaded.get(&(db, key.clone())) {
        None => Residency::Absent,
        Some(super::store::Origin::Proxy) => Residency::StandIn,
        Some(_) => Residency::Loaded,
    }
}

/// One native command on a live field-level collection of the expected type. Every method
/// returns `Ok(None)` to fall back to the load path (before any side effect), `Ok(Some(()))`
/// when it replied, `Err` for a command error.
struct Native<'e> {
    eng: &'e DiskEngine,
    db: u16,
    key: Bytes,
    /// Element count before the command.
    len: u64,
    now: i64,
    /// Inside a multi-command unit (MULTI/EXEC, a script): a write is staged in
    /// `ClientDisk::pending` for the unit's one batch instead of committed (atomicity after a
    /// crash); a write that would empty the key, or has no element form (LSET), takes the load
    /// path instead.
    stage: bool,
    /// The key's expiry on disk.
    expire: Option<i64>,
    /// Operations earlier commands of the unit staged on the key (hashes, sets and sorted
    /// sets only): reads go through them (read-your-writes), `len` counts them.
    ov: Option<super::store::Pending>,
    /// The key is stored with the engine's compact flag (a `listpack` sorted set stored
    /// field-level): a write that converts it (Redis's rules, the server's limits) clears
    /// the flag in its batch, or takes the load path inside a multi-command unit.
    compact: bool,
    /// A compact list's listpack byte size (`KeyMeta::listpack_bytes`).
    lp_bytes: u64,
    /// The token of this command's metadata read (top level, nothing staged on the key): a
    /// sorted-set read or write passes it to the engine, which then does not read the key's
    /// metadata again. Taken by the first write (the record changes then).
    token: Option<MetaToken>,
}

type Step = Result<Option<()>, CmdError>;

impl Native<'_> {
    /// Whether a ZADD of `pairs` (score, member) pairs whose longest member has `maxlen` bytes,
    /// adding `added` new members, converts a compact sorted set to `skiplist`: Redis's
    /// `zsetTypeMaybeConvert` on the pair count and longest member, then `zsetAdd`'s check
    /// before each insertion of a new member (the count passes `zset-max-listpack-entries`;
    /// updates never convert: limits lowered by CONFIG SET leave a set compact until it grows).
    fn zset_converts(&self, c: &Ctx<'_, '_>, pairs: usize, maxlen: usize, added: u64) -> bool {
        if !self.compact {
            return false;
        }
        let l = c.limits();
        let entries = l.zset_max_listpack_entries as u64;
        pairs as u64 > entries
            || maxlen > l.zset_max_listpack_value
            || (added > 0 && self.len + added > entries)
    }

    /// The score a sorted set keeps for `s`: a compact (`listpack`) one stores no negative
    /// zero (its text "-0" reads back as the integer 0, as the memory engine's listpack).
    fn stored_score(&self, s: f64) -> f64 {
        if self.compact && s == 0.0 {
            0.0
        } else {
            s
        }
    }

    fn args<'a>(c: &Ctx<'a, '_>, from: usize) -> Vec<&'a [u8]> {
        c.argv.iter().skip(from).map(|b| &b[..]).collect()
    }

    /// Records staged operations on the key for the end of the unit, folded into those of
    /// earlier commands (`store::Pending::merge`); `len`: the key's element count after them.
    fn stage_ops(&self, c: &mut Ctx<'_, '_>, p: super::store::Pending, len: u64) {
        let k = (u32::from(self.db), self.key.clone());
        match c.client.disk.pending.get_mut(&k) {
            // `try_call` lets only hashes, sets and sorted sets reach here with staged
            // operations, which always merge.
            Some(e) => {
                e.0.merge(p);
                e.2 = len;
            }
            None => {
                c.client.disk.pending.insert(k, (p, self.expire, len));
            }
        }
    }

    /// Stages the removal of the (distinct, present) elements `gone`, made into the key's
    /// staged operations by `make`: the number removed, or `None` when it would empty the key
    /// (a staged write never does: the caller takes the load path).
    fn stage_removal(
        &self,
        c: &mut Ctx<'_, '_>,
        gone: Vec<Vec<u8>>,
        make: impl FnOnce(Vec<Vec<u8>>) -> super::store::Pending,
    ) -> Option<u64> {
        let n = gone.len() as u64;
        if n >= self.len {
            return None;
        }
        if n > 0 {
            self.stage_ops(c, make(gone), self.len - n);
        }
        Some(n)
    }

    /// HGET through the unit's staged operations (`ov`), else the stored state.
    fn hget_ov(&self, f: &[u8]) -> Result<Option<Vec<u8>>, DiskError> {
        if let Some(r) = self.ov.as_ref().and_then(|p| p.field(f)) {
            return Ok(r.map(<[u8]>::to_vec));
        }
        self.eng.hget(self.db, &self.key, f, self.now)
    }

    /// HMGET through the staged operations.
    fn hmget_ov(&self, fields: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, DiskError> {
        let Some(p) = &self.ov else {
            return self.eng.hmget(self.db, &self.key, fields, self.now);
        };
        let rest: Vec<&[u8]> = fields
            .iter()
            .copied()
            .filter(|f| p.field(f).is_none())
            .collect();
        let mut stored = self
            .eng
            .hmget(self.db, &self.key, &rest, self.now)?
            .into_iter();
        Ok(fields
            .iter()
            .map(|f| match p.field(f) {
                Some(r) => r.map(<[u8]>::to_vec),
                None => stored.next().flatten(),
            })
            .collect())
    }

    /// SISMEMBER through the staged operations.
    fn sismember_ov(&self, m: &[u8]) -> Result<bool, DiskError> {
        match self.ov.as_ref().and_then(|p| p.member(m)) {
            Some(r) => Ok(r),
            None => self.eng.sismember(self.db, &self.key, m, self.now),
        }
    }

    /// ZSCORE through the staged operations.
    fn zscore_ov(&self, m: &[u8]) -> Result<Option<f64>, DiskError> {
        match (self.ov.as_ref().and_then(|p| p.score(m)), &self.token) {
            (Some(r), _) => Ok(r),
            (None, Some(t)) => self.eng.zscore_known(self.db, &self.key, t, m, self.now),
            (None, None) => self.eng.zscore(self.db, &self.key, m, self.now),
        }
    }

    /// The distinct elements of `items` for which `present` says whether they are stored now.
    fn present<'a>(
        &self,
        items: &[&'a [u8]],
        mut present: impl FnMut(&[u8]) -> Result<bool, DiskError>,
    ) -> Result<Vec<(&'a [u8], bool)>, CmdError> {
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        let mut out = Vec::with_capacity(items.len());
        for it in items {
            if seen.insert(*it) {
                out.push((*it, present(it).map_err(storage)?));
            }
        }
        Ok(out)
    }

    /// The distinct `fields` of the hash, each with whether it is stored now (one metadata
    /// read and one point read per field).
    fn fields_present<'a>(&self, fields: &[&'a [u8]]) -> Result<Vec<(&'a [u8], bool)>, CmdError> {
        let mut seen = std::collections::HashSet::with_capacity(fields.len());
        let distinct: Vec<&[u8]> = fields.iter().copied().filter(|f| seen.insert(*f)).collect();
        let vals = self.hmget_ov(&distinct).map_err(storage)?;
        Ok(distinct
            .into_iter()
            .zip(vals)
            .map(|(f, v)| (f, v.is_some()))
            .collect())
    }

    /// HSET pairs: committed, or staged (see [`Native::stage`]); returns the fields added.
    fn write_hset(&self, c: &mut Ctx<'_, '_>, pairs: &[(&[u8], &[u8])]) -> Result<u64, CmdError> {
        if !self.stage {
            return self
                .eng
                .hset(self.db, &self.key, pairs, self.now)
                .map_err(storage);
        }
        let fields: Vec<&[u8]> = pairs.iter().map(|(f, _)| *f).collect();
        let have = self.fields_present(&fields)?;
        let added = have.iter().filter(|(_, p)| !p).count() as u64;
        let set = pairs
            .iter()
            .map(|(f, v)| (f.to_vec(), v.to_vec()))
            .collect();
        self.stage_ops(
            c,
            super::store::Pending::Hash {
                set,
                del: Vec::new(),
            },
            self.len + added,
        );
        Ok(added)
    }

    /// HLEN / SCARD / ZCARD / LLEN: O(1) from the metadata.
    fn card(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        c.reply.int(self.len as i64);
        c.hit(true);
        Ok(Some(()))
    }

    // ---- hashes ----------------------------------------------------------------------------

    fn hset(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let n = c.argv.len();
        if n % 2 == 1 {
            return Ok(None);
        }
        let hmset = c.cmd.name == "hmset";
        let a = Self::args(c, 2);
        let pairs: Vec<(&[u8], &[u8])> = a.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        let added = self.write_hset(c, &pairs)?;
        if hmset {
            c.reply.ok();
        } else {
            c.reply.int(added as i64);
        }
        c.modified(&self.key);
        c.notify(notify::HASH, "hset", &self.key);
        c.dirty(((n - 2) / 2) as u64);
        Ok(Some(()))
    }

    fn hget(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let v = self.hget_ov(c.arg(2)).map_err(storage)?;
        match v {
            Some(v) => c.reply.bulk(&v),
            None => c.reply.null(),
        }
        c.hit(true);
        Ok(Some(()))
    }

    fn hmget(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let fields = Self::args(c, 2);
        let vals = self.hmget_ov(&fields).map_err(storage)?;
        c.reply.array(vals.len());
        for v in vals {
            match v {
                Some(v) => c.reply.bulk(&v),
                None => c.reply.null(),
            }
        }
        c.hit(true);
        Ok(Some(()))
    }

    fn hexists(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let yes = self
            .hget_ov(c.arg(2))
            .map(|v| v.is_some())
            .map_err(storage)?;
        c.reply.int(i64::from(yes));
        c.hit(true);
        Ok(Some(()))
    }

    fn hstrlen(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let v = self.hget_ov(c.arg(2)).map_err(storage)?;
        c.reply.int(v.map_or(0, |v| v.len() as i64));
        c.hit(true);
        Ok(Some(()))
    }

    fn hdel(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let fields = Self::args(c, 2);
        let removed = if self.stage {
            let have = self.fields_present(&fields)?;
            let gone = owned_where(&have, true);
            let Some(n) = self.stage_removal(c, gone, |del| super::store::Pending::Hash {
                set: Vec::new(),
                del,
            }) else {
                return Ok(None);
            };
            n
        } else {
            self.eng
                .hdel(self.db, &self.key, &fields, self.now)
                .map_err(storage)?
        };
        c.reply.int(removed as i64);
        if removed > 0 {
            c.modified(&self.key);
            c.notify(notify::HASH, "hdel", &self.key);
            if removed >= self.len {
                c.notify(notify::GENERIC, "del", &self.key);
            }
            c.dirty(removed);
        }
        Ok(Some(()))
    }

    fn hincrby(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let incr = args::int(c.arg(3))?;
        let field = c.arg(2);
        let old = match self.hget_ov(field).map_err(storage)? {
            Some(v) => args::parse_i64_strict(&v).ok_or(crate::cmd::hash::HASH_NOT_INTEGER)?,
            None => 0,
        };
        let new = old.checked_add(incr).ok_or(errors::OVERFLOW)?;
        let text = itoa::Buffer::new().format(new).as_bytes().to_vec();
        self.write_hset(c, &[(field, &text)])?;
        c.reply.int(new);
        c.modified(&self.key);
        c.notify(notify::HASH, "hincrby", &self.key);
        c.dirty(1);
        Ok(Some(()))
    }

    // ---- sets ------------------------------------------------------------------------------

    fn sadd(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let members = Self::args(c, 2);
        let added = if self.stage {
            let have = self.present(&members, |m| self.sismember_ov(m))?;
            let add = owned_where(&have, false);
            let n = add.len() as u64;
            if n > 0 {
                self.stage_ops(
                    c,
                    super::store::Pending::Set {
                        add,
                        rem: Vec::new(),
                    },
                    self.len + n,
                );
            }
            n
        } else {
            self.eng
                .sadd(self.db, &self.key, &members, self.now)
                .map_err(storage)?
        };
        if added > 0 {
            c.modified(&self.key);
            c.notify(notify::SET, "sadd", &self.key);
            c.dirty(added);
        }
        c.reply.int(added as i64);
        Ok(Some(()))
    }

    fn srem(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let members = Self::args(c, 2);
        let removed = if self.stage {
            let have = self.present(&members, |m| self.sismember_ov(m))?;
            let gone = owned_where(&have, true);
            let Some(n) = self.stage_removal(c, gone, |rem| super::store::Pending::Set {
                add: Vec::new(),
                rem,
            }) else {
                return Ok(None);
            };
            n
        } else {
            self.eng
                .srem(self.db, &self.key, &members, self.now)
                .map_err(storage)?
        };
        if removed > 0 {
            c.modified(&self.key);
            c.notify(notify::SET, "srem", &self.key);
            if removed >= self.len {
                c.notify(notify::GENERIC, "del", &self.key);
            }
            c.dirty(removed);
        }
        c.reply.int(removed as i64);
        Ok(Some(()))
    }

    fn sismember(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let yes = self.sismember_ov(c.arg(2)).map_err(storage)?;
        c.hit(true);
        c.reply.int(i64::from(yes));
        Ok(Some(()))
    }

    /// SMISMEMBER: one point read per member (the handler loads the whole set).
    fn smismember(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let yes = Self::args(c, 2)
            .iter()
            .map(|m| self.sismember_ov(m))
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        c.hit(true);
        c.reply.array(yes.len());
        for y in yes {
            c.reply.int(i64::from(y));
        }
        Ok(Some(()))
    }

    // ---- sorted sets -----------------------------------------------------------------------

    /// ZMSCORE: one point read per member.
    fn zmscore(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let scores = Self::args(c, 2)
            .iter()
            .map(|m| self.zscore_ov(m))
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        c.hit(true);
        let r = c.out();
        r.array(scores.len());
        for s in scores {
            match s {
                Some(s) => r.double(s),
                None => r.null(),
            }
        }
        Ok(Some(()))
    }

    /// Plain `ZADD key score member [score member ...]` (any flag: load path).
    fn zadd(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let a = Self::args(c, 2);
        if a.is_empty() || a.len() % 2 == 1 {
            return Ok(None);
        }
        let mut items: Vec<(f64, &[u8])> = Vec::with_capacity(a.len() / 2);
        for p in a.chunks_exact(2) {
            // A flag or a bad score: the handler says which error, in its order.
            let Some(s) = crate::cmd::sorted_set::parse_score(p[0]) else {
                return Ok(None);
            };
            items.push((s, p[1]));
        }
        // What the memory engine counts, element by element (a repeated member is added, then
        // updated): the current scores first.
        let mut cur: HashMap<&[u8], Option<f64>> = HashMap::with_capacity(items.len());
        for (_, m) in &items {
            if !cur.contains_key(m) {
                let s = self.zscore_ov(m).map_err(storage)?;
                cur.insert(m, s);
            }
        }
        let before = cur.clone();
        let (mut added, mut updated) = (0u64, 0u64);
        for (s, m) in &items {
            match cur.get(m).copied().flatten() {
                None => added += 1,
                Some(old) if old != *s => updated += 1,
                Some(_) => continue,
            }
            cur.insert(m, Some(*s));
        }
        let maxlen = items.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
        let converts = self.zset_converts(c, items.len(), maxlen, added);
        if converts && self.stage {
            // The staged form cannot carry the conversion: the load path converts.
            return Ok(None);
        }
        let writes: Vec<(f64, &[u8])> = cur
            .iter()
            .filter_map(|(m, s)| {
                let s = (*s)?;
                let changed = match before.get(m).copied().flatten() {
                    None => true,
                    Some(old) => old != s,
                };
                // A set that stays compact keeps no `-0` (one converted first keeps it).
                changed.then_some((if converts { s } else { self.stored_score(s) }, *m))
            })
            .collect();
        if self.stage {
            if !writes.is_empty() {
                let set = writes.iter().map(|(s, m)| (*s, m.to_vec())).collect();
                self.stage_ops(
                    c,
                    super::store::Pending::ZSet {
                        set,
                        rem: Vec::new(),
                    },
                    self.len + added,
                );
            }
        } else if !writes.is_empty() || converts {
            let prev: Vec<Option<f64>> = writes
                .iter()
                .map(|(_, m)| before.get(m).copied().flatten())
                .collect();
            self.write_zset(&writes, &prev, converts)?;
        }
        if added + updated > 0 {
            c.modified(&self.key);
            c.notify(notify::ZSET, "zadd", &self.key);
            c.dirty(added + updated);
        }
        if added > 0 {
            c.key_ready(&self.key);
        }
        c.reply.int(added as i64);
        Ok(Some(()))
    }

    /// Writes `items` (`prev[n]`: the stored score of `items[n]`'s member, as read by this
    /// command) to the disk in one batch; with the command's metadata token, the engine reads
    /// neither again.
    fn write_zset(
        &mut self,
        items: &[(f64, &[u8])],
        prev: &[Option<f64>],
        converts: bool,
    ) -> Result<(), CmdError> {
        let r = match self.token.take() {
            Some(t) => self
                .eng
                .zadd_known(self.db, &self.key, &t, items, prev, self.now, converts),
            None => self
                .eng
                .zadd_ext(self.db, &self.key, items, self.now, converts),
        };
        r.map(|_| ()).map_err(storage)
    }

    fn zincrby(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let Some(incr) = crate::cmd::sorted_set::parse_score(c.arg(2)) else {
            return Ok(None);
        };
        let m = c.arg(3);
        let old = self.zscore_ov(m).map_err(storage)?;
        // A new member takes the increment as its score (Redis's `zsetAdd`: `-0` stays `-0`).
        let new = match old {
            Some(o) => o + incr,
            None => incr,
        };
        if new.is_nan() {
            return Ok(None);
        }
        let reply = new;
        let new = self.stored_score(new);
        let changed = old.is_none_or(|o| o != new);
        let converts = self.zset_converts(c, 1, m.len(), u64::from(old.is_none()));
        if converts && self.stage {
            return Ok(None);
        }
        if changed && self.stage {
            let set = vec![(new, m.to_vec())];
            self.stage_ops(
                c,
                super::store::Pending::ZSet {
                    set,
                    rem: Vec::new(),
                },
                self.len + u64::from(old.is_none()),
            );
        } else if changed || converts {
            self.write_zset(&[(new, m)], &[old], converts)?;
        }
        if changed {
            c.modified(&self.key);
            c.notify(notify::ZSET, "zincr", &self.key);
            c.dirty(1);
        }
        if old.is_none() {
            c.key_ready(&self.key);
        }
        c.reply.double(reply);
        Ok(Some(()))
    }

    fn zscore(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let s = self.zscore_ov(c.arg(2)).map_err(storage)?;
        c.hit(true);
        match s {
            Some(s) => c.reply.double(s),
            None => c.reply.null(),
        }
        Ok(Some(()))
    }

    fn zrem(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let members = Self::args(c, 2);
        let removed = if self.stage {
            let have = self.present(&members, |m| Ok(self.zscore_ov(m)?.is_some()))?;
            let gone = owned_where(&have, true);
            let Some(n) = self.stage_removal(c, gone, |rem| super::store::Pending::ZSet {
                set: Vec::new(),
                rem,
            }) else {
                return Ok(None);
            };
            n
        } else {
            self.eng
                .zrem(self.db, &self.key, &members, self.now)
                .map_err(storage)?
        };
        if removed > 0 {
            c.notify(notify::ZSET, "zrem", &self.key);
            if removed >= self.len {
                c.notify(notify::GENERIC, "del", &self.key);
            }
            c.modified(&self.key);
            c.dirty(removed);
        }
        c.reply.int(removed as i64);
        Ok(Some(()))
    }

    /// ZRANK / ZREVRANK [WITHSCORE].
    fn zrank(&mut self, c: &mut Ctx<'_, '_>, rev: bool) -> Step {
        let withscore = match c.argv.len() {
            3 => false,
            4 if args::is(c.arg(3), "withscore") => true,
            _ => return Ok(None),
        };
        let m = c.arg(2);
        let rank = self
            .eng
            .zrank(self.db, &self.key, m, rev, self.now)
            .map_err(storage)?;
        let score = match (rank, withscore) {
            (Some(_), true) => self.zscore_ov(m).map_err(storage)?,
            _ => None,
        };
        c.hit(true);
        let r = c.out();
        match (rank, score) {
            (Some(rank), Some(s)) => {
                r.array(2);
                r.int(rank as i64);
                r.double(s);
            }
            (Some(rank), None) => r.int(rank as i64),
            (None, _) if withscore => r.null_array(),
            (None, _) => r.null(),
        }
        Ok(Some(()))
    }

    /// ZRANGE (by rank or BYSCORE, REV, LIMIT, WITHSCORES), ZREVRANGE, ZRANGEBYSCORE and
    /// ZREVRANGEBYSCORE: O(log N + returned) through the engine's score and rank indexes instead
    /// of loading the whole sorted set. BYLEX and anything that does not parse take the load
    /// path (the handler then gives its own errors).
    fn zrange(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        use crate::cmd::sorted_set::{self as z, ParsedRange};
        use ferrokv_engine_disk::ScoreBound;
        let Some((rangetype, dir)) = z::range_command(c.cmd.name) else {
            return Ok(None);
        };
        let Ok(req) = z::parse_zrange(c, 2, rangetype, dir, false) else {
            return Ok(None);
        };
        let items = match &req.range {
            ParsedRange::Rank(start, stop) => self
                .eng
                .zrange_by_rank(self.db, &self.key, *start, *stop, req.rev, self.now),
            ParsedRange::Score(r) => {
                if req.offset < 0 {
                    // Redis: a negative offset selects nothing.
                    Ok(Vec::new())
                } else {
                    let bound = |value, exclusive| ScoreBound { value, exclusive };
                    self.eng.zrange_by_score(
                        self.db,
                        &self.key,
                        bound(r.min, r.minex),
                        bound(r.max, r.maxex),
                        req.rev,
                        usize::try_from(req.offset).unwrap_or(usize::MAX),
                        usize::try_from(req.limit).ok(),
                        self.now,
                    )
                }
            }
            ParsedRange::Lex(_) => return Ok(None),
        }
        .map_err(storage)?;
        c.hit(true);
        z::reply_elements(c.out(), &items, req.withscores);
        Ok(Some(()))
    }

    // ---- lists -----------------------------------------------------------------------------

    fn push(&mut self, c: &mut Ctx<'_, '_>, left: bool) -> Step {
        let items = Self::args(c, 2);
        // A compact list converts to quicklist by the memory engine's rule, from the listpack
        // size the metadata carries.
        let converts = self.compact
            && ferrokv_engine::list::append_converts(
                c.limits().list_max_listpack_size,
                usize::try_from(self.lp_bytes).unwrap_or(usize::MAX),
                usize::try_from(self.len).unwrap_or(usize::MAX),
                &items,
            );
        if converts && self.stage {
            // The staged form cannot carry the conversion: the load path converts.
            return Ok(None);
        }
        let len = if self.stage {
            let push = items.iter().map(|v| v.to_vec()).collect();
            let len = self.len + items.len() as u64;
            self.stage_ops(c, super::store::Pending::List { left, pop: 0, push }, len);
            Ok(self.len + items.len() as u64)
        } else {
            self.eng
                .push_ext(self.db, &self.key, &items, left, self.now, converts)
        }
        .map_err(storage)?;
        c.reply.int(len as i64);
        c.dirty(items.len() as u64);
        c.modified(&self.key);
        c.notify(
            notify::LIST,
            if left { "lpush" } else { "rpush" },
            &self.key,
        );
        c.key_ready(&self.key);
        Ok(Some(()))
    }

    /// LPOP / RPOP [count].
    fn pop(&mut self, c: &mut Ctx<'_, '_>, left: bool) -> Step {
        let count = match c.argv.len() {
            2 => None,
            3 => match args::int(c.arg(2)) {
                Ok(v) if v >= 0 => Some(v as u64),
                _ => return Err(errors::NOT_POSITIVE),
            },
            _ => return Ok(None),
        };
        if count == Some(0) {
            c.reply.empty_array();
            return Ok(Some(()));
        }
        let Some(got) = self.take(c, left, count.unwrap_or(1))? else {
            return Ok(None);
        };
        let r = c.out();
        if count.is_some() {
            r.array(got.len());
            for v in &got {
                r.bulk(v);
            }
        } else {
            match got.first() {
                Some(v) => r.bulk(v),
                None => r.null(),
            }
        }
        self.removed(c, left, got.len() as u64);
        Ok(Some(()))
    }

    /// BLPOP / BRPOP whose first key is this (non-empty) list: a pop from it, replied as
    /// `[key, element]` and propagated as `LPOP key` / `RPOP key`, as the handler does (it
    /// never blocks: the key has elements). A bad timeout takes the load path for its error.
    fn bpop(&mut self, c: &mut Ctx<'_, '_>, left: bool) -> Step {
        let last = c.argv.len() - 1;
        if args::timeout(c.arg(last), c.now_ms()).is_err() {
            return Ok(None);
        }
        let Some(got) = self.take(c, left, 1)? else {
            return Ok(None);
        };
        let Some(v) = got.first() else {
            // The metadata said non-empty: the handler decides (blocking included).
            return Ok(None);
        };
        let r = c.out();
        r.array(2);
        r.bulk(&self.key);
        r.bulk(v);
        self.removed(c, left, 1);
        if c.propagating() {
            let name: &'static [u8] = if left { b"LPOP" } else { b"RPOP" };
            c.propagate(vec![Bytes::from_static(name), self.key.clone()]);
        }
        Ok(Some(()))
    }

    /// Removes up to `want` elements from one end (staged inside a multi-command unit): the
    /// elements, or `None` for the load path (a staged pop that would empty the list).
    fn take(
        &mut self,
        c: &mut Ctx<'_, '_>,
        left: bool,
        want: u64,
    ) -> Result<Option<Vec<Vec<u8>>>, CmdError> {
        if self.stage {
            if want >= self.len {
                return Ok(None);
            }
            let n = want as i64;
            let (start, stop) = if left { (0, n - 1) } else { (-n, -1) };
            let mut got = self
                .eng
                .lrange(self.db, &self.key, start, stop, self.now)
                .map_err(storage)?;
            if !left {
                got.reverse();
            }
            self.stage_ops(
                c,
                super::store::Pending::List {
                    left,
                    pop: want,
                    push: Vec::new(),
                },
                self.len - want,
            );
            return Ok(Some(got));
        }
        if left {
            self.eng.lpop(self.db, &self.key, want, self.now)
        } else {
            self.eng.rpop(self.db, &self.key, want, self.now)
        }
        .map(Some)
        .map_err(storage)
    }

    /// What a pop of `n` elements signals, as the handler: the pop event, `del` when the list
    /// emptied, WATCH/tracking, dirty.
    fn removed(&mut self, c: &mut Ctx<'_, '_>, left: bool, n: u64) {
        c.notify(notify::LIST, if left { "lpop" } else { "rpop" }, &self.key);
        if n >= self.len {
            c.notify(notify::GENERIC, "del", &self.key);
        }
        c.modified(&self.key);
        c.dirty(n);
    }

    fn lindex(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        c.hit(true);
        let idx = args::int(c.arg(2))?;
        let v = self
            .eng
            .lindex(self.db, &self.key, idx, self.now)
            .map_err(storage)?;
        match v {
            Some(v) => c.reply.bulk(&v),
            None => c.reply.null(),
        }
        Ok(Some(()))
    }

    /// LRANGE: O(log N + returned) records instead of loading the whole list.
    fn lrange(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let (Ok(start), Ok(stop)) = (args::int(c.arg(2)), args::int(c.arg(3))) else {
            return Ok(None);
        };
        let items = self
            .eng
            .lrange(self.db, &self.key, start, stop, self.now)
            .map_err(storage)?;
        c.hit(true);
        let r = c.out();
        r.array(items.len());
        for v in &items {
            r.bulk(v);
        }
        Ok(Some(()))
    }

    fn lset(&mut self, c: &mut Ctx<'_, '_>) -> Step {
        let idx = args::int(c.arg(2))?;
        if self.stage {
            // A change in the middle of a list has no element form: the load path.
            return Ok(None);
        }
        match self.eng.lset(self.db, &self.key, idx, c.arg(3), self.now) {
            Ok(()) => {}
            Err(DiskError::IndexOutOfRange) => {
                return Err(crate::cmd::list::INDEX_OUT_OF_RANGE);
            }
            Err(e) => return Err(storage(e)),
        }
        c.reply.ok();
        c.modified(&self.key);
        c.notify(notify::LIST, "lset", &self.key);
        c.dirty(1);
        Ok(Some(()))
    }
}

/// The elements of `have` (from [`Native::present`] / `fields_present`) whose presence is
/// `present`, owned: what a staged write records.
fn owned_where(have: &[(&[u8], bool)], present: bool) -> Vec<Vec<u8>> {
    have.iter()
        .filter(|(_, p)| *p == present)
        .map(|(m, _)| m.to_vec())
        .collect()
}
