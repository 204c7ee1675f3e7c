//! Stream values (RDB types 15, 19, 21).
//!
//! Layout: the number of listpack nodes; per node its master ID (16 bytes,
//! big-endian ms and seq) and the listpack; the entry count; the last ID;
//! (types 19+) the first ID, the largest deleted ID and the entries-added
//! counter; then the consumer groups: name, last delivered ID, (19+) entries
//! read, the group PEL (count, then 16-byte ID + 8-byte LE delivery time +
//! delivery count each), the consumers (name, 8-byte seen time, (21) 8-byte
//! active time, and their PEL as bare 16-byte IDs).
//!
//! A node's listpack starts with a master entry: live count, deleted count,
//! number of master fields, the field names, and a 0. Each entry follows as:
//! flags (1 = deleted, 2 = same fields as the master), ID deltas from the
//! master ID (ms, seq; wrapping), then either the values only (same fields)
//! or a field count and field/value pairs, and finally the number of
//! listpack elements the entry used (excluding that last one).

use std::collections::HashSet;
use std::io::Read;

use crate::decode::Src;
use crate::encode::{put_len, put_string};
use crate::error::Error;
use crate::listpack::{self, Entry};
use crate::types::{STREAM_LISTPACKS, STREAM_LISTPACKS_3};
use crate::{Stream, StreamConsumer, StreamEntry, StreamGroup, StreamId, StreamPending};

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;
const PREALLOC: u64 = 1024;

fn corrupt(at: u64, what: &str) -> Error {
    Error::Corrupt {
        offset: at,
        what: format!("stream: {what}"),
    }
}

fn raw_id(b: &[u8]) -> Option<StreamId> {
    if b.len() != 16 {
        return None;
    }
    let mut ms = [0u8; 8];
    let mut seq = [0u8; 8];
    ms.copy_from_slice(&b[..8]);
    seq.copy_from_slice(&b[8..]);
    Some(StreamId {
        ms: u64::from_be_bytes(ms),
        seq: u64::from_be_bytes(seq),
    })
}

fn put_raw_id(out: &mut Vec<u8>, id: StreamId) {
    out.extend_from_slice(&id.ms.to_be_bytes());
    out.extend_from_slice(&id.seq.to_be_bytes());
}

struct Cursor<'a> {
    items: Vec<Entry<'a>>,
    p: usize,
    at: u64,
}

impl<'a> Cursor<'a> {
    fn next(&mut self, what: &str) -> Result<Entry<'a>, Error> {
        let e = self.items.get(self.p).copied();
        self.p += 1;
        e.ok_or_else(|| corrupt(self.at, what))
    }

    fn int(&mut self, what: &str) -> Result<i64, Error> {
        match self.next(what)? {
            Entry::Int(i) => Ok(i),
            Entry::Str(s) => {
                crate::util::parse_canonical_i64(s).ok_or_else(|| corrupt(self.at, what))
            }
        }
    }

    fn count(&mut self, what: &str) -> Result<usize, Error> {
        let n = self.int(what)?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.items.len())
            .ok_or_else(|| corrupt(self.at, what))
    }
}

/// Decodes one node's listpack, appending its live entries to `out`.
fn decode_node(
    master: StreamId,
    blob: &[u8],
    at: u64,
    out: &mut Vec<StreamEntry>,
) -> Result<(), Error> {
    let items = listpack::decode(blob).map_err(|e| corrupt(at, &e))?;
    if items.is_empty() {
        return Err(corrupt(at, "empty listpack node"));
    }
    let mut c = Cursor { items, p: 0, at };
    let count = c.count("master count")?;
    let deleted = c.count("master deleted count")?;
    let nfields = c.count("master field count")?;
    let mut master_fields = Vec::with_capacity(nfields);
    for _ in 0..nfields {
        master_fields.push(c.next("master field")?.to_bytes());
    }
    if c.int("master terminator")? != 0 {
        return Err(corrupt(at, "bad master entry terminator"));
    }
    let mut live = 0usize;
    let mut dead = 0usize;
    while c.p < c.items.len() {
        let start = c.p;
        let flags = c.int("entry flags")?;
        let dms = c.int("entry id")?;
        let dseq = c.int("entry id")?;
        let id = StreamId {
            ms: master.ms.wrapping_add(dms as u64),
            seq: master.seq.wrapping_add(dseq as u64),
        };
        let mut fields = Vec::new();
        if flags & FLAG_SAMEFIELDS != 0 {
            for f in &master_fields {
                fields.push((f.clone(), c.next("entry value")?.to_bytes()));
            }
        } else {
            let n = c.count("entry field count")?;
            for _ in 0..n {
                let f = c.next("entry field")?.to_bytes();
                let v = c.next("entry value")?.to_bytes();
                fields.push((f, v));
            }
        }
        let used = c.p - start;
        if usize::try_from(c.int("entry lp-count")?).ok() != Some(used) {
            return Err(corrupt(at, "entry lp-count mismatch"));
        }
        if flags & FLAG_DELETED != 0 {
            dead += 1;
        } else {
            if out.last().is_some_and(|last| id <= last.id) {
                return Err(corrupt(at, "entry IDs not ascending"));
            }
            live += 1;
            out.push(StreamEntry { id, fields });
        }
    }
    if live != count || dead != deleted {
        return Err(corrupt(at, "node counters do not match its entries"));
    }
    Ok(())
}

impl<R: Read> Src<R> {
    fn stream_id(&mut self) -> Result<StreamId, Error> {
        let ms = self.length("stream id")?;
        let seq = self.length("stream id")?;
        Ok(StreamId { ms, seq })
    }

    fn raw_stream_id(&mut self) -> Result<StreamId, Error> {
        let b: [u8; 16] = self.array("stream id")?;
        raw_id(&b).ok_or_else(|| corrupt(self.pos(), "bad raw id"))
    }

    pub(crate) fn read_stream(&mut self, t: u8, at: u64) -> Result<Stream, Error> {
        let nodes = self.length("stream nodes")?;
        let mut s = Stream::default();
        let mut last_master: Option<StreamId> = None;
        for _ in 0..nodes {
            let key = self.string("stream node key")?;
            let master = raw_id(&key).ok_or_else(|| corrupt(at, "node key is not a 16-byte ID"))?;
            if last_master.is_some_and(|m| master <= m) {
                return Err(corrupt(at, "node keys not ascending"));
            }
            last_master = Some(master);
            let blob = self.string("stream node")?;
            decode_node(master, &blob, at, &mut s.entries)?;
        }
        let length = self.length("stream length")?;
        if length != s.entries.len() as u64 {
            return Err(corrupt(at, "length does not match the entries"));
        }
        s.last_id = self.stream_id()?;
        if s.entries.last().is_some_and(|e| e.id > s.last_id) {
            return Err(corrupt(at, "last ID smaller than an entry"));
        }
        if t == STREAM_LISTPACKS {
            s.first_id = s.entries.first().map(|e| e.id).unwrap_or_default();
            s.entries_added = length;
        } else {
            s.first_id = self.stream_id()?;
            s.max_deleted_id = self.stream_id()?;
            s.entries_added = self.length("stream entries added")?;
        }
        let ngroups = self.length("stream groups")?;
        let mut names = HashSet::new();
        for _ in 0..ngroups {
            let name = self.string("group name")?;
            if !names.insert(name.clone()) {
                return Err(corrupt(at, "duplicate group"));
            }
            let last_id = self.stream_id()?;
            let entries_read = if t == STREAM_LISTPACKS {
                None
            } else {
                Some(self.length("group entries read")?).filter(|&n| n != u64::MAX)
            };
            let npel = self.length("group PEL")?;
            let mut pending = Vec::with_capacity(npel.min(PREALLOC) as usize);
            let mut pel_ids = HashSet::new();
            for _ in 0..npel {
                let id = self.raw_stream_id()?;
                let delivery_time_ms = i64::from_le_bytes(self.array("delivery time")?);
                let delivery_count = self.length("delivery count")?;
                if !pel_ids.insert(id) {
                    return Err(corrupt(at, "duplicate PEL entry"));
                }
                pending.push(StreamPending {
                    id,
                    delivery_time_ms,
                    delivery_count,
                });
            }
            let ncons = self.length("consumers")?;
            let mut consumers = Vec::with_capacity(ncons.min(PREALLOC) as usize);
            let mut owned = HashSet::new();
            for _ in 0..ncons {
                let cname = self.string("consumer name")?;
                let seen_time_ms = i64::from_le_bytes(self.array("seen time")?);
                let active_time_ms = if t == STREAM_LISTPACKS_3 {
                    Some(i64::from_le_bytes(self.array("active time")?))
                } else {
                    None
                };
                let n = self.length("consumer PEL")?;
                let mut ids = Vec::with_capacity(n.min(PREALLOC) as usize);
                for _ in 0..n {
                    let id = self.raw_stream_id()?;
                    if !pel_ids.contains(&id) || !owned.insert(id) {
                        return Err(corrupt(at, "consumer PEL entry not in the group PEL"));
                    }
                    ids.push(id);
                }
                consumers.push(StreamConsumer {
                    name: cname,
                    seen_time_ms,
                    active_time_ms,
                    pending: ids,
                });
            }
            s.groups.push(StreamGroup {
                name,
                last_id,
                entries_read,
                pending,
                consumers,
            });
        }
        Ok(s)
    }
}

/// Entries per listpack node (`stream-node-max-entries`).
const NODE_MAX_ENTRIES: usize = 100;
/// Bytes per listpack node (`stream-node-max-bytes`).
const NODE_MAX_BYTES: usize = 4096;

fn encode_node(entries: &[StreamEntry]) -> Vec<u8> {
    let master = entries[0].id;
    let mfields: Vec<&[u8]> = entries[0]
        .fields
        .iter()
        .map(|(f, _)| f.as_slice())
        .collect();
    let mut lp = listpack::Builder::new();
    lp.push_int(entries.len() as i64);
    lp.push_int(0);
    lp.push_int(mfields.len() as i64);
    for f in &mfields {
        lp.push(f);
    }
    lp.push_int(0);
    for e in entries {
        let same = e.fields.len() == mfields.len()
            && e.fields.iter().zip(&mfields).all(|((f, _), m)| f == m);
        lp.push_int(if same { FLAG_SAMEFIELDS } else { 0 });
        lp.push_int(e.id.ms.wrapping_sub(master.ms) as i64);
        lp.push_int(e.id.seq.wrapping_sub(master.seq) as i64);
        if same {
            for (_, v) in &e.fields {
                lp.push(v);
            }
            lp.push_int(e.fields.len() as i64 + 3);
        } else {
            lp.push_int(e.fields.len() as i64);
            for (f, v) in &e.fields {
                lp.push(f);
                lp.push(v);
            }
            lp.push_int(2 * e.fields.len() as i64 + 4);
        }
    }
    lp.finish()
}

/// Appends the body of a stream value (type 19, or 21 when `v3`).
pub(crate) fn encode_stream(out: &mut Vec<u8>, s: &Stream, compress: bool, v3: bool) {
    // split entries into nodes by count and approximate size
    let mut bounds = Vec::new();
    let mut start = 0usize;
    let mut bytes = 0usize;
    for (i, e) in s.entries.iter().enumerate() {
        let sz: usize = 8 + e
            .fields
            .iter()
            .map(|(f, v)| f.len() + v.len() + 4)
            .sum::<usize>();
        if i > start && (i - start >= NODE_MAX_ENTRIES || bytes + sz > NODE_MAX_BYTES) {
            bounds.push((start, i));
            start = i;
            bytes = 0;
        }
        bytes += sz;
    }
    if start < s.entries.len() {
        bounds.push((start, s.entries.len()));
    }
    put_len(out, bounds.len() as u64);
    for (a, b) in bounds {
        let mut key = Vec::with_capacity(16);
        put_raw_id(&mut key, s.entries[a].id);
        put_string(out, &key, false);
        put_string(out, &encode_node(&s.entries[a..b]), compress);
    }
    put_len(out, s.entries.len() as u64);
    for id in [s.last_id, s.first_id, s.max_deleted_id] {
        put_len(out, id.ms);
        put_len(out, id.seq);
    }
    put_len(out, s.entries_added);
    put_len(out, s.groups.len() as u64);
    for g in &s.groups {
        put_string(out, &g.name, false);
        put_len(out, g.last_id.ms);
        put_len(out, g.last_id.seq);
        put_len(out, g.entries_read.unwrap_or(u64::MAX));
        put_len(out, g.pending.len() as u64);
        for p in &g.pending {
            put_raw_id(out, p.id);
            out.extend_from_slice(&p.delivery_time_ms.to_le_bytes());
            put_len(out, p.delivery_count);
        }
        put_len(out, g.consumers.len() as u64);
        for c in &g.consumers {
            put_string(out, &c.name, false);
            out.extend_from_slice(&c.seen_time_ms.to_le_bytes());
            if v3 {
                out.extend_from_slice(&c.active_time_ms.unwrap_or(c.seen_time_ms).to_le_bytes());
            }
            put_len(out, c.pending.len() as u64);
            for id in &c.pending {
                put_raw_id(out, *id);
            }
        }
    }
}
