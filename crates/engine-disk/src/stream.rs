//! Streams stored field-level: one `data` record per entry, O(1) metadata, consumer groups in
//! their own records.
//!
//! Layout of one stream incarnation (`P` = `codec::sub_prefix(pdb, key, version)`):
//! - `meta`: the usual header (`version`, `size` = entry count), then a fixed 80-byte tail:
//!   `last_id` `first_id` `max_deleted_id` (16 bytes each: ms, seq as u64 BE) `entries_added:u64`
//!   `groups:u64` (number of consumer groups) `head` (16: the ID of the first live entry, 0-0
//!   when empty). Everything XLEN/XINFO STREAM needs is O(1).
//! - `data`: `P` + entry ID (16 bytes BE, so key order = ID order) → the entry's field/value
//!   pairs (varint count, then varint-length-prefixed field and value, insertion order).
//! - `zscore` (unused by streams otherwise; sharing it keeps the GC, the memtable budget and the
//!   keyspace list unchanged): the consumer groups, one record per group, per PEL entry and
//!   per consumer, so that a huge PEL never makes one record O(PEL):
//!   - `P` `G` name → `last_id` (16) `entries_read` (`0` | `1` + u64);
//!   - `P` `P` len(name):u32 name ID(16) → `delivery_time_ms:i64` `delivery_count:u64`
//!     owner (`0` | `1` + consumer name);
//!   - `P` `C` len(name):u32 name consumer → `seen_time_ms:i64` active time (`0` | `1` + i64).
//!
//! Groups come back ordered by name, consumers by name, PELs by ID: Redis's own orders (its
//! radix trees), so a value read from an RDB file round-trips exactly. A consumer's pending list
//! is the group PEL entries it owns.
//!
//! DEL/overwrite of a stream is O(1) like every other collection: the records of the old
//! incarnation carry its version and the compaction filter drops them (module `gc`, which treats
//! `data` and `zscore` records alike). Trimming deletes from the head: O(k log N) for k entries.
//!
//! **Tombstones at the head.** A stream trimmed by every XADD (`MAXLEN`) deletes at its head all
//! the time; an LSM range scan from the start of the stream would step over every tombstone not
//! yet compacted away, so head operations would slow down with the stream's history. Every
//! head-side read (trimming, the new first entry after XDEL, the first entry of XINFO, XRANGE
//! from `-`) therefore seeks to `head`, which the metadata keeps exact (it equals Redis's
//! `first_id` for every stream Redis can produce, but is kept separately so that a value with
//! an inconsistent `first_id` still round-trips exactly).

use crate::codec::{self, KeyType, Meta};
use crate::ops::{self, View};
use crate::{Batch, DiskEngine, DiskError, Inner, Result};
use ferrokv_rdb::{Stream, StreamConsumer, StreamEntry, StreamGroup, StreamId, StreamPending};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// The ID argument of XADD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XAddId {
    /// `*`: milliseconds from the command's clock (or the last ID's if the clock is behind),
    /// sequence 0 or the last ID's sequence + 1.
    Auto,
    /// `<ms>-*`: the given milliseconds, sequence 0 or the last ID's sequence + 1 when the
    /// last ID has the same milliseconds.
    AutoSeq(u64),
    /// `<ms>-<seq>`: exactly this ID (must be greater than the stream's last ID and than 0-0).
    Explicit(StreamId),
}

/// A trimming strategy (XTRIM, XADD's trimming arguments). Trimming is always exact here (no
/// radix-tree nodes on disk); `~` can be served by the same call, optionally with a `LIMIT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamTrim {
    /// `MAXLEN n`: remove entries from the head while the length exceeds `n`.
    MaxLen(u64),
    /// `MINID id`: remove entries from the head whose ID is lower than `id`.
    MinId(StreamId),
}

/// Options of [`DiskEngine::xadd`] besides the ID and the fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XAddOptions {
    /// `NOMKSTREAM`: do not create a missing stream (the call returns `Ok(None)`).
    pub nomkstream: bool,
    /// Trim after adding, in the same atomic batch (the new entry itself may be trimmed, e.g.
    /// `MAXLEN 0`, as in Redis).
    pub trim: Option<StreamTrim>,
    /// Remove at most this many entries when trimming (`LIMIT`); `None` = no limit.
    pub trim_limit: Option<u64>,
}

/// What XINFO STREAM reports that lives outside the consumer groups, all O(1) or O(log N).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    /// Number of entries (XLEN).
    pub length: u64,
    /// Last ID ever generated (`last-generated-id`).
    pub last_id: StreamId,
    /// `recorded-first-entry-id` (0-0 when empty).
    pub first_id: StreamId,
    /// `max-deleted-entry-id`.
    pub max_deleted_id: StreamId,
    /// `entries-added`: entries ever added.
    pub entries_added: u64,
    /// Number of consumer groups (`groups`).
    pub groups: u64,
    /// The first live entry (`first-entry`), `None` when empty.
    pub first_entry: Option<StreamEntry>,
    /// The last live entry (`last-entry`), `None` when empty.
    pub last_entry: Option<StreamEntry>,
}

/// Length of the stream tail of the metadata record.
const SMETA_LEN: usize = 80;
const MAX_ID: StreamId = StreamId {
    ms: u64::MAX,
    seq: u64::MAX,
};
const ZERO_ID: StreamId = StreamId { ms: 0, seq: 0 };

/// The stream-specific part of a stream's metadata (held in `Meta::value`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SMeta {
    last_id: StreamId,
    first_id: StreamId,
    max_deleted_id: StreamId,
    entries_added: u64,
    groups: u64,
    /// ID of the first live entry (0-0 when empty): where head-side scans start.
    head: StreamId,
}

impl SMeta {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(SMETA_LEN);
        v.extend_from_slice(&id_bytes(self.last_id));
        v.extend_from_slice(&id_bytes(self.first_id));
        v.extend_from_slice(&id_bytes(self.max_deleted_id));
        v.extend_from_slice(&self.entries_added.to_be_bytes());
        v.extend_from_slice(&self.groups.to_be_bytes());
        v.extend_from_slice(&id_bytes(self.head));
        v
    }

    fn decode(b: &[u8]) -> Result<SMeta> {
        if b.len() != SMETA_LEN {
            return Err(corrupt("stream metadata"));
        }
        let id = |o: usize| dec_id(&b[o..o + 16]).ok_or_else(|| corrupt("stream metadata"));
        Ok(SMeta {
            last_id: id(0)?,
            first_id: id(16)?,
            max_deleted_id: id(32)?,
            entries_added: u64_at(b, 48)?,
            groups: u64_at(b, 56)?,
            head: id(64)?,
        })
    }
}

fn corrupt(what: &str) -> DiskError {
    DiskError::Corrupt(what.to_string())
}

fn u64_at(b: &[u8], o: usize) -> Result<u64> {
    let a: [u8; 8] = b
        .get(o..o + 8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| corrupt("stream record"))?;
    Ok(u64::from_be_bytes(a))
}

/// The 16-byte big-endian encoding of an ID (byte order = ID order).
fn id_bytes(id: StreamId) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..8].copy_from_slice(&id.ms.to_be_bytes());
    a[8..].copy_from_slice(&id.seq.to_be_bytes());
    a
}

fn dec_id(b: &[u8]) -> Option<StreamId> {
    Some(StreamId {
        ms: u64::from_be_bytes(b.get(..8)?.try_into().ok()?),
        seq: u64::from_be_bytes(b.get(8..16)?.try_into().ok()?),
    })
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn get_varint(b: &[u8], pos: &mut usize) -> Result<u64> {
    let mut n: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos).ok_or_else(|| corrupt("stream entry"))?;
        *pos += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(n);
        }
    }
    Err(corrupt("stream varint"))
}

fn get_bytes(b: &[u8], pos: &mut usize) -> Result<Vec<u8>> {
    let n = usize::try_from(get_varint(b, pos)?).map_err(|_| corrupt("stream entry"))?;
    let end = pos.checked_add(n).ok_or_else(|| corrupt("stream entry"))?;
    let s = b.get(*pos..end).ok_or_else(|| corrupt("stream entry"))?;
    *pos = end;
    Ok(s.to_vec())
}

fn enc_fields<'a>(fields: impl ExactSizeIterator<Item = (&'a [u8], &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, fields.len() as u64);
    for (f, v) in fields {
        put_varint(&mut out, f.len() as u64);
        out.extend_from_slice(f);
        put_varint(&mut out, v.len() as u64);
        out.extend_from_slice(v);
    }
    out
}

fn dec_fields(b: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut pos = 0;
    let n = get_varint(b, &mut pos)?;
    let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(b.len()));
    for _ in 0..n {
        let f = get_bytes(b, &mut pos)?;
        let v = get_bytes(b, &mut pos)?;
        out.push((f, v));
    }
    if pos != b.len() {
        return Err(corrupt("trailing bytes in stream entry"));
    }
    Ok(out)
}

fn entry_key(db: u32, key: &[u8], version: u64, id: StreamId) -> Vec<u8> {
    let mut k = codec::sub_prefix(db, key, version);
    k.extend_from_slice(&id_bytes(id));
    k
}

/// The 16-byte ID that ends record key `k` after a prefix of `plen` bytes (`what` names the
/// record kind in the corruption error).
fn id_after(k: &[u8], plen: usize, what: &str) -> Result<StreamId> {
    k.get(plen..)
        .filter(|s| s.len() == 16)
        .and_then(dec_id)
        .ok_or_else(|| corrupt(what))
}

/// Decodes an entry record given the length of the incarnation prefix.
fn dec_entry(k: &[u8], v: &[u8], plen: usize) -> Result<StreamEntry> {
    let id = id_after(k, plen, "stream entry key")?;
    Ok(StreamEntry {
        id,
        fields: dec_fields(v)?,
    })
}

/// Subkey of a group-level record: tag + (for `P`/`C`) u32 name length + name.
fn group_sub(tag: u8, group: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(5 + group.len());
    s.push(tag);
    if tag != b'G' {
        s.extend_from_slice(&(group.len() as u32).to_be_bytes());
    }
    s.extend_from_slice(group);
    s
}

fn put_opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        None => out.push(0),
        Some(n) => {
            out.push(1);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn get_opt_u64(b: &[u8], o: usize) -> Result<(Option<u64>, usize)> {
    match b.get(o) {
        Some(0) => Ok((None, o + 1)),
        Some(1) => Ok((Some(u64_at(b, o + 1)?), o + 9)),
        _ => Err(corrupt("stream group record")),
    }
}

/// The smallest ID greater than `id` (Redis's `streamIncrID`); `None` at the maximum.
fn incr_id(id: StreamId) -> Option<StreamId> {
    if id.seq < u64::MAX {
        Some(StreamId {
            ms: id.ms,
            seq: id.seq + 1,
        })
    } else if id.ms < u64::MAX {
        Some(StreamId {
            ms: id.ms + 1,
            seq: 0,
        })
    } else {
        None
    }
}

impl Inner {
    /// The stream metadata of `m` (a stream's metadata record).
    fn smeta(m: &Meta) -> Result<SMeta> {
        SMeta::decode(&m.value)
    }

    /// Writes `s` as a new stream incarnation (fresh version) into `b`; returns the metadata to
    /// write. Duplicate entry IDs, group names, consumer names or PEL IDs: the last one wins
    /// (a batch must not write a record twice).
    pub(crate) fn put_stream(
        &self,
        b: &mut Batch,
        db: u32,
        key: &[u8],
        s: &Stream,
        expire: Option<i64>,
    ) -> Result<Meta> {
        let version = self.new_version(b)?;
        let mut m = Meta::new_collection(KeyType::Stream, version);
        m.expire = expire;
        let entries: BTreeMap<StreamId, &StreamEntry> =
            s.entries.iter().map(|e| (e.id, e)).collect();
        for (id, e) in &entries {
            let v = enc_fields(e.fields.iter().map(|(f, v)| (f.as_slice(), v.as_slice())));
            b.b.insert(&self.data, entry_key(db, key, version, *id), v);
        }
        m.size = entries.len() as u64;
        let groups: BTreeMap<&[u8], &StreamGroup> =
            s.groups.iter().map(|g| (g.name.as_slice(), g)).collect();
        let p = codec::sub_prefix(db, key, version);
        let rec = |sub: &[u8]| -> Vec<u8> {
            let mut k = p.clone();
            k.extend_from_slice(sub);
            k
        };
        for (name, g) in &groups {
            let mut v = id_bytes(g.last_id).to_vec();
            put_opt_u64(&mut v, g.entries_read);
            b.b.insert(&self.zscore, rec(&group_sub(b'G', name)), v);
            let mut owner: BTreeMap<StreamId, &[u8]> = BTreeMap::new();
            let mut consumers: BTreeMap<&[u8], &StreamConsumer> = BTreeMap::new();
            for c in &g.consumers {
                consumers.insert(&c.name, c);
            }
            for c in consumers.values() {
                for id in &c.pending {
                    owner.insert(*id, &c.name);
                }
                let mut v = c.seen_time_ms.to_be_bytes().to_vec();
                put_opt_u64(&mut v, c.active_time_ms.map(|t| t as u64));
                let mut sub = group_sub(b'C', name);
                sub.extend_from_slice(&c.name);
                b.b.insert(&self.zscore, rec(&sub), v);
            }
            let pel: BTreeMap<StreamId, &StreamPending> =
                g.pending.iter().map(|pe| (pe.id, pe)).collect();
            for (id, pe) in pel {
                let mut v = pe.delivery_time_ms.to_be_bytes().to_vec();
                v.extend_from_slice(&pe.delivery_count.to_be_bytes());
                match owner.get(&id) {
                    None => v.push(0),
                    Some(c) => {
                        v.push(1);
                        v.extend_from_slice(c);
                    }
                }
                let mut sub = group_sub(b'P', name);
                sub.extend_from_slice(&id_bytes(id));
                b.b.insert(&self.zscore, rec(&sub), v);
            }
        }
        m.value = SMeta {
            last_id: s.last_id,
            first_id: s.first_id,
            max_deleted_id: s.max_deleted_id,
            entries_added: s.entries_added,
            groups: groups.len() as u64,
            head: entries.keys().next().copied().unwrap_or(ZERO_ID),
        }
        .encode();
        Ok(m)
    }

    /// Reads a whole stream incarnation (entries, metadata, groups with PELs and consumers).
    pub(crate) fn read_stream(
        &self,
        view: View<'_>,
        db: u32,
        key: &[u8],
        m: &Meta,
    ) -> Result<Stream> {
        let sm = Inner::smeta(m)?;
        let p = codec::sub_prefix(db, key, m.version);
        let mut entries = Vec::with_capacity(usize::try_from(m.size).unwrap_or(0).min(1 << 16));
        for g in view.prefix(&self.data, &p) {
            let (k, v) = g.into_inner()?;
            entries.push(dec_entry(&k, &v, p.len())?);
        }
        let mut groups = Vec::new();
        let mut gp = p.clone();
        gp.push(b'G');
        for g in view.prefix(&self.zscore, &gp) {
            let (k, v) = g.into_inner()?;
            let name = k[gp.len()..].to_vec();
            let last_id = dec_id(&v).ok_or_else(|| corrupt("stream group"))?;
            let (entries_read, _) = get_opt_u64(&v, 16)?;
            groups.push(self.read_group(view, &p, name, last_id, entries_read)?);
        }
        Ok(Stream {
            entries,
            last_id: sm.last_id,
            first_id: sm.first_id,
            max_deleted_id: sm.max_deleted_id,
            entries_added: sm.entries_added,
            groups,
        })
    }

    /// Reads one group's PEL and consumers (`p`: the incarnation prefix).
    fn read_group(
        &self,
        view: View<'_>,
        p: &[u8],
        name: Vec<u8>,
        last_id: StreamId,
        entries_read: Option<u64>,
    ) -> Result<StreamGroup> {
        let mut cp = p.to_vec();
        cp.extend_from_slice(&group_sub(b'C', &name));
        let mut consumers = Vec::new();
        let mut by_name: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
        for g in view.prefix(&self.zscore, &cp) {
            let (k, v) = g.into_inner()?;
            let cname = k[cp.len()..].to_vec();
            let seen = u64_at(&v, 0)? as i64;
            let (active, _) = get_opt_u64(&v, 8)?;
            by_name.insert(cname.clone(), consumers.len());
            consumers.push(StreamConsumer {
                name: cname,
                seen_time_ms: seen,
                active_time_ms: active.map(|t| t as i64),
                pending: Vec::new(),
            });
        }
        let mut pp = p.to_vec();
        pp.extend_from_slice(&group_sub(b'P', &name));
        let mut pending = Vec::new();
        for g in view.prefix(&self.zscore, &pp) {
            let (k, v) = g.into_inner()?;
            let id = id_after(&k, pp.len(), "stream PEL key")?;
            let delivery_time_ms = u64_at(&v, 0)? as i64;
            let delivery_count = u64_at(&v, 8)?;
            match v.get(16) {
                Some(0) => {}
                Some(1) => {
                    if let Some(&ci) = by_name.get(&v[17..]) {
                        consumers[ci].pending.push(id);
                    }
                }
                _ => return Err(corrupt("stream PEL owner")),
            }
            pending.push(StreamPending {
                id,
                delivery_time_ms,
                delivery_count,
            });
        }
        Ok(StreamGroup {
            name,
            last_id,
            entries_read,
            pending,
            consumers,
        })
    }

    /// Deletes entries from the head of a stream for `trim` (at most `limit`), in `b`.
    /// `extra`: an entry being added by the same batch (after every stored one, not readable
    /// from the store yet). Returns (entries removed, whether `extra` was removed, the new first
    /// stored entry's ID if one remains among the stored entries).
    #[allow(clippy::too_many_arguments)]
    fn trim_head(
        &self,
        b: &mut Batch,
        db: u32,
        key: &[u8],
        m: &Meta,
        trim: StreamTrim,
        limit: Option<u64>,
        extra: Option<StreamId>,
    ) -> Result<(u64, bool, Option<StreamId>)> {
        let limit = limit.unwrap_or(u64::MAX);
        let stored = m.size - u64::from(extra.is_some());
        let mut removed = 0u64;
        let mut first = None;
        let wants = |removed: u64, id: StreamId| -> bool {
            removed < limit
                && match trim {
                    StreamTrim::MaxLen(n) => m.size - removed > n,
                    StreamTrim::MinId(min) => id < min,
                }
        };
        if stored > 0 {
            let (plen, entries) = self.entries_from_head(db, key, m)?;
            for g in entries {
                let k = g.key()?;
                let id = id_after(&k, plen, "stream entry key")?;
                if !wants(removed, id) {
                    first = Some(id);
                    break;
                }
                b.b.remove(&self.data, k.to_vec());
                removed += 1;
            }
        }
        let mut extra_gone = false;
        if let Some(id) = extra {
            if first.is_none() && removed == stored && wants(removed, id) {
                removed += 1;
                extra_gone = true;
            }
        }
        Ok((removed, extra_gone, first))
    }

    /// First live entry of a stream, skipping IDs in `skip` (deleted by the caller's batch).
    fn first_id_skipping(
        &self,
        db: u32,
        key: &[u8],
        m: &Meta,
        skip: &BTreeSet<StreamId>,
    ) -> Result<Option<StreamId>> {
        let (plen, entries) = self.entries_from_head(db, key, m)?;
        for g in entries {
            let k = g.key()?;
            let id = id_after(&k, plen, "stream entry key")?;
            if !skip.contains(&id) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// One end entry of a stream (`last`: the highest ID).
    fn edge_entry(&self, db: u32, key: &[u8], m: &Meta, last: bool) -> Result<Option<StreamEntry>> {
        let (plen, mut it) = self.entries_from_head(db, key, m)?;
        let g = if last { it.next_back() } else { it.next() };
        match g {
            None => Ok(None),
            Some(g) => {
                let (k, v) = g.into_inner()?;
                dec_entry(&k, &v, plen).map(Some)
            }
        }
    }

    /// The entry records of stream incarnation `m` from its first live ID on (records before
    /// it are trimmed ones the compaction filter has not dropped yet), and the length of the
    /// key prefix before each record's ID.
    fn entries_from_head(&self, db: u32, key: &[u8], m: &Meta) -> Result<(usize, fjall::Iter)> {
        let p = codec::sub_prefix(db, key, m.version);
        let lo = entry_key(db, key, m.version, Inner::smeta(m)?.head);
        let it = self
            .data
            .range::<Vec<u8>, _>((Bound::Included(lo), ops::prefix_end(&p)));
        Ok((p.len(), it))
    }

    /// Stream metadata of a live stream, `None` if the key is absent (WRONGTYPE otherwise).
    fn stream_meta(&self, db: u16, key: &[u8], now: i64) -> Result<Option<Meta>> {
        self.typed(db, key, now, KeyType::Stream)
    }
}

/// Stream operations (native, O(log N) per entry touched; see the module documentation). Of
/// the consumer-group commands only XACK is native; the others go through the whole value.
impl DiskEngine {
    /// XADD: appends one entry and returns its ID; `Ok(None)` only when `opts.nomkstream` is set
    /// and the key does not exist. Creates the stream if missing. Errors, in Redis's order:
    /// [`DiskError::StreamIdZero`] for an explicit 0-0 (checked before the key is looked up),
    /// WRONGTYPE, [`DiskError::StreamExhausted`] when the last ID is the maximum,
    /// [`DiskError::StreamSeqOverflow`] for `<ms>-*` when the last ID is `<ms>-<max>`,
    /// [`DiskError::StreamIdTooSmall`] when the ID is not greater than the last ID. With
    /// `opts.trim`, trims from the head in the same batch (see [`XAddOptions`]). O(log N) plus
    /// O(k log N) for k trimmed entries.
    pub fn xadd(
        &self,
        db: u16,
        key: &[u8],
        id: XAddId,
        fields: &[(&[u8], &[u8])],
        opts: XAddOptions,
        now_ms: i64,
    ) -> Result<Option<StreamId>> {
        if id == XAddId::Explicit(ZERO_ID) {
            return Err(DiskError::StreamIdZero);
        }
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let mut b = i.batch();
        let old = i.stream_meta(db, key, now_ms)?;
        let mut m = match &old {
            Some(m) => m.clone(),
            None if opts.nomkstream => return Ok(None),
            None => {
                let mut m = Meta::new_collection(KeyType::Stream, i.new_version(&mut b)?);
                m.value = SMeta::default().encode();
                m
            }
        };
        let mut sm = Inner::smeta(&m)?;
        if sm.last_id == MAX_ID {
            return Err(DiskError::StreamExhausted);
        }
        let new_id = match id {
            XAddId::Auto => {
                let ms = u64::try_from(now_ms).unwrap_or(0);
                if ms > sm.last_id.ms {
                    StreamId { ms, seq: 0 }
                } else {
                    incr_id(sm.last_id).ok_or(DiskError::StreamIdTooSmall)?
                }
            }
            XAddId::AutoSeq(ms) if ms == sm.last_id.ms => {
                if sm.last_id.seq == u64::MAX {
                    return Err(DiskError::StreamSeqOverflow);
                }
                StreamId {
                    ms,
                    seq: sm.last_id.seq + 1,
                }
            }
            XAddId::AutoSeq(ms) => StreamId { ms, seq: 0 },
            XAddId::Explicit(id) => id,
        };
        if new_id <= sm.last_id {
            return Err(DiskError::StreamIdTooSmall);
        }
        m.size += 1;
        sm.entries_added += 1;
        sm.last_id = new_id;
        if m.size == 1 {
            sm.first_id = new_id;
            sm.head = new_id;
        }
        let mut keep_new = true;
        if let Some(trim) = opts.trim {
            let (removed, extra_gone, first) =
                i.trim_head(&mut b, p, key, &m, trim, opts.trim_limit, Some(new_id))?;
            if removed > 0 {
                m.size -= removed;
                keep_new = !extra_gone;
                sm.first_id = match first {
                    Some(f) => f,
                    None if keep_new => new_id,
                    None => ZERO_ID,
                };
                sm.head = sm.first_id;
            }
        }
        if keep_new {
            let v = enc_fields(fields.iter().copied());
            b.b.insert(&i.data, entry_key(p, key, m.version, new_id), v);
        }
        m.value = sm.encode();
        i.put_meta(&mut b, p, key, old.as_ref(), &m);
        i.commit(b)?;
        Ok(Some(new_id))
    }

    /// XLEN: the number of entries (0 for a missing key). O(1).
    pub fn xlen(&self, db: u16, key: &[u8], now_ms: i64) -> Result<u64> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        Ok(i.stream_meta(db, key, now_ms)?.map_or(0, |m| m.size))
    }

    /// XRANGE / XREVRANGE: the entries with `start <= ID <= end` (both inclusive; the caller
    /// turns `-`, `+` and exclusive `(` bounds into IDs), at most `count` of them, in ascending
    /// ID order, or descending from `end` when `rev` (XREVRANGE's `end start` arguments map to
    /// `start`, `end` here). Empty for a missing key, `start > end` or `count == Some(0)`.
    /// O(log N + returned).
    #[allow(clippy::too_many_arguments)]
    pub fn xrange(
        &self,
        db: u16,
        key: &[u8],
        start: StreamId,
        end: StreamId,
        count: Option<usize>,
        rev: bool,
        now_ms: i64,
    ) -> Result<Vec<StreamEntry>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let Some(m) = i.stream_meta(db, key, now_ms)? else {
            return Ok(Vec::new());
        };
        let count = count.unwrap_or(usize::MAX);
        if start > end || count == 0 {
            return Ok(Vec::new());
        }
        let p = codec::sub_prefix(i.pdb(db), key, m.version);
        // Nothing lives below `head`: starting there skips head tombstones.
        let start = start.max(Inner::smeta(&m)?.head);
        if start > end {
            return Ok(Vec::new());
        }
        let it = i.data.range::<Vec<u8>, _>((
            Bound::Included(entry_key(i.pdb(db), key, m.version, start)),
            Bound::Included(entry_key(i.pdb(db), key, m.version, end)),
        ));
        let mut out = Vec::new();
        let mut push = |g: fjall::Guard| -> Result<()> {
            let (k, v) = g.into_inner()?;
            out.push(dec_entry(&k, &v, p.len())?);
            Ok(())
        };
        if rev {
            for g in it.rev().take(count) {
                push(g)?;
            }
        } else {
            for g in it.take(count) {
                push(g)?;
            }
        }
        Ok(out)
    }

    /// XDEL: deletes the entries with these IDs; returns how many existed. Updates
    /// `max_deleted_id`, and `first_id` when the first entry goes (0-0 when the stream becomes
    /// empty; the empty stream is kept, as in Redis). Consumer-group PELs are untouched (Redis
    /// keeps PEL entries of deleted IDs too). O(k log N).
    pub fn xdel(&self, db: u16, key: &[u8], ids: &[StreamId], now_ms: i64) -> Result<u64> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(old) = i.stream_meta(db, key, now_ms)? else {
            return Ok(0);
        };
        let mut m = old.clone();
        let mut sm = Inner::smeta(&m)?;
        let mut b = i.batch();
        let mut deleted = BTreeSet::new();
        let mut first_gone = false;
        let mut head_gone = false;
        for id in ids.iter().copied().collect::<BTreeSet<_>>() {
            let k = entry_key(p, key, m.version, id);
            if i.data.get(&k)?.is_some() {
                b.b.remove(&i.data, k);
                deleted.insert(id);
                first_gone |= id == sm.first_id;
                head_gone |= id == sm.head;
                sm.max_deleted_id = sm.max_deleted_id.max(id);
            }
        }
        if deleted.is_empty() {
            return Ok(0);
        }
        m.size -= deleted.len() as u64;
        if m.size == 0 {
            sm.first_id = ZERO_ID;
            sm.head = ZERO_ID;
        } else if first_gone || head_gone {
            let first = i
                .first_id_skipping(p, key, &m, &deleted)?
                .ok_or_else(|| corrupt("stream length"))?;
            sm.head = first;
            if first_gone {
                sm.first_id = first;
            }
        }
        m.value = sm.encode();
        i.put_meta(&mut b, p, key, Some(&old), &m);
        i.commit(b)?;
        Ok(deleted.len() as u64)
    }

    /// XTRIM: removes entries from the head per `trim`, at most `limit` of them; returns how
    /// many were removed. Updates `first_id` (0-0 when the stream becomes empty; it is kept);
    /// `max_deleted_id` is not changed (Redis changes it only on XDEL). O(k log N).
    pub fn xtrim(
        &self,
        db: u16,
        key: &[u8],
        trim: StreamTrim,
        limit: Option<u64>,
        now_ms: i64,
    ) -> Result<u64> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(old) = i.stream_meta(db, key, now_ms)? else {
            return Ok(0);
        };
        let mut b = i.batch();
        let (removed, _, first) = i.trim_head(&mut b, p, key, &old, trim, limit, None)?;
        if removed == 0 {
            return Ok(0);
        }
        let mut m = old.clone();
        let mut sm = Inner::smeta(&m)?;
        m.size -= removed;
        sm.first_id = first.unwrap_or(ZERO_ID);
        sm.head = sm.first_id;
        m.value = sm.encode();
        i.put_meta(&mut b, p, key, Some(&old), &m);
        i.commit(b)?;
        Ok(removed)
    }

    /// XTRIM MAXLEN `maxlen` (exact, no limit): see [`xtrim`](Self::xtrim).
    pub fn xtrim_maxlen(&self, db: u16, key: &[u8], maxlen: u64, now_ms: i64) -> Result<u64> {
        self.xtrim(db, key, StreamTrim::MaxLen(maxlen), None, now_ms)
    }

    /// XTRIM MINID `min` (exact, no limit): see [`xtrim`](Self::xtrim).
    pub fn xtrim_minid(&self, db: u16, key: &[u8], min: StreamId, now_ms: i64) -> Result<u64> {
        self.xtrim(db, key, StreamTrim::MinId(min), None, now_ms)
    }

    /// XACK: removes these IDs from the group's pending entries list (and so from their
    /// consumers' lists); returns how many were pending. 0 for a missing key or group, as in
    /// Redis; WRONGTYPE for another type. The entries themselves are untouched. O(k log N).
    pub fn xack(
        &self,
        db: u16,
        key: &[u8],
        group: &[u8],
        ids: &[StreamId],
        now_ms: i64,
    ) -> Result<u64> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(m) = i.stream_meta(db, key, now_ms)? else {
            return Ok(0);
        };
        let mut prefix = codec::sub_prefix(p, key, m.version);
        let mut gk = prefix.clone();
        gk.extend_from_slice(&group_sub(b'G', group));
        if i.zscore.get(&gk)?.is_none() {
            return Ok(0);
        }
        prefix.extend_from_slice(&group_sub(b'P', group));
        let mut b = i.batch();
        let mut acked = 0;
        for id in ids.iter().copied().collect::<BTreeSet<_>>() {
            let mut k = prefix.clone();
            k.extend_from_slice(&id_bytes(id));
            if i.zscore.get(&k)?.is_some() {
                b.b.remove(&i.zscore, k);
                acked += 1;
            }
        }
        if acked > 0 {
            i.commit(b)?;
        }
        Ok(acked)
    }

    /// XINFO STREAM's stream-level fields (no group details): `None` for a missing key.
    /// O(1) metadata + one seek for each of the first and last entries.
    pub fn stream_info(&self, db: u16, key: &[u8], now_ms: i64) -> Result<Option<StreamInfo>> {
        let i = &self.inner;
        let _g = i.lock(db, key);
        let p = i.pdb(db);
        let Some(m) = i.stream_meta(db, key, now_ms)? else {
            return Ok(None);
        };
        let sm = Inner::smeta(&m)?;
        Ok(Some(StreamInfo {
            length: m.size,
            last_id: sm.last_id,
            first_id: sm.first_id,
            max_deleted_id: sm.max_deleted_id,
            entries_added: sm.entries_added,
            groups: sm.groups,
            first_entry: i.edge_entry(p, key, &m, false)?,
            last_entry: i.edge_entry(p, key, &m, true)?,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn id_encoding_orders_like_ids() {
        let ids = [
            ZERO_ID,
            StreamId { ms: 0, seq: 1 },
            StreamId {
                ms: 0,
                seq: u64::MAX,
            },
            StreamId { ms: 1, seq: 0 },
            StreamId { ms: 256, seq: 3 },
            MAX_ID,
        ];
        for w in ids.windows(2) {
            assert!(id_bytes(w[0]) < id_bytes(w[1]));
        }
        for id in ids {
            assert_eq!(dec_id(&id_bytes(id)), Some(id));
        }
        assert_eq!(
            incr_id(StreamId {
                ms: 4,
                seq: u64::MAX
            }),
            Some(StreamId { ms: 5, seq: 0 })
        );
        assert_eq!(incr_id(MAX_ID), None);
    }

    #[test]
    fn fields_and_meta_roundtrip() {
        let f: Vec<(&[u8], &[u8])> = vec![(b"a", b""), (b"", b"x"), (b"a", b"dup")];
        let enc = enc_fields(f.iter().copied());
        let dec = dec_fields(&enc).unwrap();
        assert_eq!(dec.len(), 3);
        assert_eq!(dec[2], (b"a".to_vec(), b"dup".to_vec()));
        assert!(dec_fields(&enc[..enc.len() - 1]).is_err());
        let sm = SMeta {
            last_id: StreamId { ms: 9, seq: 2 },
            first_id: StreamId { ms: 1, seq: 0 },
            max_deleted_id: MAX_ID,
            entries_added: 77,
            groups: 3,
            head: StreamId { ms: 2, seq: 0 },
        };
        assert_eq!(SMeta::decode(&sm.encode()).unwrap(), sm);
        assert!(SMeta::decode(&[0; 5]).is_err());
    }
}
