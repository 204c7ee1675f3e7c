//! RDB encoder.
//!
//! Encoding choices (all loadable by redis-server 7.0, RDB version 10):
//! strings int-encoded when they are canonical integers of up to 32 bits,
//! LZF-compressed (when enabled) if longer than 20 bytes and it saves space;
//! lists as QUICKLIST_2 with listpack nodes of about
//! [`WriteOptions::list_max_listpack_bytes`] (plain nodes for elements of
//! 1 GiB or more); sets as INTSET when every member is a canonical integer
//! and they are few enough, else SET; hashes as HASH_LISTPACK or HASH; sorted
//! sets as ZSET_LISTPACK or ZSET_2 (by the `*-max-listpack-*` thresholds).
//! Hashes with field TTLs need version 12: HASH_LISTPACK_EX (small) or
//! HASH_METADATA; writing one at an older version is an error.

use std::io::Write;

use crate::crc64::crc64;
use crate::error::Error;
use crate::types::*;
use crate::util::{parse_canonical_i64, score_text};
use crate::{intset, listpack, lzf};
use crate::{HashField, KeyRecord, RdbValue};

/// List elements at least this long go to plain quicklist nodes (Redis's
/// default `packed_threshold`).
const PLAIN_THRESHOLD: usize = 1 << 30;

/// Settings of an [`RdbWriter`] (and of DUMP payload encoding). The
/// thresholds only pick encodings; Redis re-checks its own when loading.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// RDB version written in the header: 10 (Redis 7.0, the default), 11 or
    /// 12. Only 12 allows hash fields with TTLs.
    pub version: u32,
    /// `rdbcompression`: LZF-compress long strings when it saves space.
    pub compression: bool,
    /// `rdbchecksum`: write the CRC-64 (otherwise 0, which readers accept).
    pub checksum: bool,
    /// `hash-max-listpack-entries`.
    pub hash_max_listpack_entries: usize,
    /// `hash-max-listpack-value`.
    pub hash_max_listpack_value: usize,
    /// `zset-max-listpack-entries`.
    pub zset_max_listpack_entries: usize,
    /// `zset-max-listpack-value`.
    pub zset_max_listpack_value: usize,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: usize,
    /// Target size of a list's listpack node (8 KiB = `list-max-listpack-size -2`).
    pub list_max_listpack_bytes: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            version: 10,
            compression: true,
            checksum: true,
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            set_max_intset_entries: 512,
            list_max_listpack_bytes: 8192,
        }
    }
}

pub(crate) fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.push(0x40 | (n >> 8) as u8);
        out.push((n & 0xff) as u8);
    } else if let Ok(n32) = u32::try_from(n) {
        out.push(0x80);
        out.extend_from_slice(&n32.to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

pub(crate) fn put_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(v) = parse_canonical_i64(s) {
            if let Ok(x) = i8::try_from(v) {
                out.push(0xc0);
                out.push(x as u8);
                return;
            }
            if let Ok(x) = i16::try_from(v) {
                out.push(0xc1);
                out.extend_from_slice(&x.to_le_bytes());
                return;
            }
            if let Ok(x) = i32::try_from(v) {
                out.push(0xc2);
                out.extend_from_slice(&x.to_le_bytes());
                return;
            }
        }
    }
    if compress && s.len() > 20 {
        if let Some(c) = lzf::compress(s) {
            out.push(0xc3);
            put_len(out, c.len() as u64);
            put_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Field expiry times Redis can hold are 1..=2^48-1 ms; others are
/// clamped into that range (a field whose expiry is <= 0 is already expired).
fn clamp_ttl(e: i64) -> i64 {
    e.clamp(1, crate::decode::MAX_FIELD_TTL)
}

fn push_score(lp: &mut listpack::Builder, v: f64) {
    if v == 0.0 && v.is_sign_negative() {
        lp.push_str(b"-0");
    } else if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        lp.push_int(v as i64);
    } else {
        lp.push_str(score_text(v).as_bytes());
    }
}

/// Serialises `v` (type byte returned, body appended to `out`). Hash field
/// TTLs are written only when `ttl_types` (version >= 12); the caller checks.
pub(crate) fn encode_value(
    out: &mut Vec<u8>,
    v: &RdbValue,
    o: &WriteOptions,
    ttl_types: bool,
) -> u8 {
    let c = o.compression;
    match v {
        RdbValue::String(s) => {
            put_string(out, s, c);
            STRING
        }
        RdbValue::List(items) => {
            // nodes: (plain?, payload)
            let mut nodes: Vec<(bool, Vec<u8>)> = Vec::new();
            let mut lp = listpack::Builder::new();
            for it in items {
                if it.len() >= PLAIN_THRESHOLD {
                    if !lp.is_empty() {
                        nodes.push((false, std::mem::take(&mut lp).finish()));
                    }
                    nodes.push((true, it.clone()));
                    continue;
                }
                if !lp.is_empty() && lp.byte_len() + it.len() + 11 > o.list_max_listpack_bytes {
                    nodes.push((false, std::mem::take(&mut lp).finish()));
                }
                lp.push(it);
            }
            if !lp.is_empty() {
                nodes.push((false, lp.finish()));
            }
            put_len(out, nodes.len() as u64);
            for (plain, data) in nodes {
                put_len(out, if plain { 1 } else { 2 });
                put_string(out, &data, c);
            }
            LIST_QUICKLIST_2
        }
        RdbValue::Set(members) => {
            let ints: Option<Vec<i64>> = if members.len() <= o.set_max_intset_entries {
                members.iter().map(|m| parse_canonical_i64(m)).collect()
            } else {
                None
            };
            if let Some(ints) = ints {
                put_string(out, &intset::encode(&ints), c);
                SET_INTSET
            } else {
                put_len(out, members.len() as u64);
                for m in members {
                    put_string(out, m, c);
                }
                SET
            }
        }
        RdbValue::ZSet(pairs) => {
            let small = pairs.len() <= o.zset_max_listpack_entries
                && pairs
                    .iter()
                    .all(|(m, _)| m.len() <= o.zset_max_listpack_value);
            if small {
                let mut lp = listpack::Builder::new();
                for (m, s) in pairs {
                    lp.push(m);
                    push_score(&mut lp, *s);
                }
                put_string(out, &lp.finish(), c);
                ZSET_LISTPACK
            } else {
                put_len(out, pairs.len() as u64);
                for (m, s) in pairs.iter().rev() {
                    put_string(out, m, c);
                    out.extend_from_slice(&s.to_le_bytes());
                }
                ZSET_2
            }
        }
        RdbValue::Stream(st) => {
            crate::stream::encode_stream(out, st, c, ttl_types);
            if ttl_types {
                STREAM_LISTPACKS_3
            } else {
                STREAM_LISTPACKS_2
            }
        }
        RdbValue::Hash(fields) => {
            let small = fields.len() <= o.hash_max_listpack_entries
                && fields.iter().all(|f| {
                    f.field.len() <= o.hash_max_listpack_value
                        && f.value.len() <= o.hash_max_listpack_value
                });
            let min_ttl = fields
                .iter()
                .filter_map(|f| f.expire_ms)
                .min()
                .map(clamp_ttl);
            match (min_ttl, ttl_types) {
                (Some(min), true) if small => {
                    // TTL'd fields first by expiry, then the others, as
                    // Redis keeps a listpackEx ordered
                    let mut sorted: Vec<&HashField> = fields.iter().collect();
                    sorted.sort_by_key(|f| (f.expire_ms.is_none(), f.expire_ms.unwrap_or(0)));
                    out.extend_from_slice(&min.to_le_bytes());
                    let mut lp = listpack::Builder::new();
                    for f in sorted {
                        lp.push(&f.field);
                        lp.push(&f.value);
                        lp.push_int(f.expire_ms.map_or(0, clamp_ttl));
                    }
                    put_string(out, &lp.finish(), c);
                    HASH_LISTPACK_EX
                }
                (Some(min), true) => {
                    out.extend_from_slice(&min.to_le_bytes());
                    put_len(out, fields.len() as u64);
                    for f in fields {
                        // relative to the minimum, + 1 (0 means "no TTL")
                        let rel = f.expire_ms.map_or(0, |e| (clamp_ttl(e) - min + 1) as u64);
                        put_len(out, rel);
                        put_string(out, &f.field, c);
                        put_string(out, &f.value, c);
                    }
                    HASH_METADATA
                }
                _ if small => {
                    let mut lp = listpack::Builder::new();
                    for f in fields {
                        lp.push(&f.field);
                        lp.push(&f.value);
                    }
                    put_string(out, &lp.finish(), c);
                    HASH_LISTPACK
                }
                _ => {
                    put_len(out, fields.len() as u64);
                    for f in fields {
                        put_string(out, &f.field, c);
                        put_string(out, &f.value, c);
                    }
                    HASH
                }
            }
        }
    }
}

/// Streaming RDB file writer. Call order, as Redis writes: [`RdbWriter::new`]
/// (header), aux fields, function libraries, then for each database
/// [`RdbWriter::select_db`] and its keys, and [`RdbWriter::finish`] (EOF and
/// checksum). Wrap files in a `BufWriter`.
pub struct RdbWriter<W: Write> {
    w: W,
    crc: u64,
    written: u64,
    opts: WriteOptions,
    buf: Vec<u8>,
}

impl<W: Write> RdbWriter<W> {
    /// Writes the header `REDIS00NN` for `opts.version`.
    pub fn new(w: W, opts: WriteOptions) -> std::io::Result<Self> {
        let mut me = RdbWriter {
            w,
            crc: 0,
            written: 0,
            opts,
            buf: Vec::new(),
        };
        let head = format!("REDIS{:04}", me.opts.version);
        me.raw(head.as_bytes())?;
        Ok(me)
    }

    fn raw(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.w.write_all(b)?;
        self.crc = crc64(self.crc, b);
        self.written += b.len() as u64;
        Ok(())
    }

    fn flush_buf(&mut self) -> std::io::Result<()> {
        let b = std::mem::take(&mut self.buf);
        let r = self.raw(&b);
        self.buf = b;
        self.buf.clear();
        r
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// An auxiliary field; values that are canonical integers are stored
    /// int-encoded, as Redis does for `redis-bits`, `ctime`, ...
    pub fn aux(&mut self, key: &[u8], value: &[u8]) -> std::io::Result<()> {
        self.buf.push(OP_AUX);
        put_string(&mut self.buf, key, false);
        put_string(&mut self.buf, value, false);
        self.flush_buf()
    }

    /// The aux fields Redis 7.0 writes at the start of every RDB file:
    /// `redis-ver`, `redis-bits` (64), `ctime` (Unix seconds), `used-mem`,
    /// `aof-base` (1 when the file is an AOF base/preamble).
    pub fn standard_aux(
        &mut self,
        redis_ver: &str,
        ctime_secs: i64,
        used_mem: u64,
        aof_base: bool,
    ) -> std::io::Result<()> {
        self.aux(b"redis-ver", redis_ver.as_bytes())?;
        self.aux(b"redis-bits", b"64")?;
        self.aux(b"ctime", ctime_secs.to_string().as_bytes())?;
        self.aux(b"used-mem", used_mem.to_string().as_bytes())?;
        self.aux(b"aof-base", if aof_base { b"1" } else { b"0" })
    }

    /// A function library (FUNCTION2 opcode): its whole source code.
    pub fn function(&mut self, code: &[u8]) -> std::io::Result<()> {
        self.buf.push(OP_FUNCTION2);
        put_string(&mut self.buf, code, self.opts.compression);
        self.flush_buf()
    }

    /// Starts database `db`: SELECTDB and the RESIZEDB size hints.
    pub fn select_db(&mut self, db: u64, db_size: u64, expires_size: u64) -> std::io::Result<()> {
        self.buf.push(OP_SELECTDB);
        put_len(&mut self.buf, db);
        self.buf.push(OP_RESIZEDB);
        put_len(&mut self.buf, db_size);
        put_len(&mut self.buf, expires_size);
        self.flush_buf()
    }

    /// Writes a key with its value and absolute expiry (Unix ms).
    /// Fails with [`Error::Unrepresentable`] for hash field TTLs below
    /// version 12 (nothing is written then), [`Error::Io`] on write errors.
    pub fn write_key(
        &mut self,
        key: &[u8],
        value: &RdbValue,
        expire_ms: Option<i64>,
    ) -> Result<(), Error> {
        self.write_key_with_hints(key, value, expire_ms, None, None)
    }

    /// [`RdbWriter::write_key`] for a [`KeyRecord`], including its LRU idle
    /// time / LFU frequency hints (IDLE / FREQ opcodes) when present.
    pub fn write_record(&mut self, rec: &KeyRecord) -> Result<(), Error> {
        self.write_key_with_hints(
            &rec.key,
            &rec.value,
            rec.expire_ms,
            rec.lru_idle,
            rec.lfu_freq,
        )
    }

    fn write_key_with_hints(
        &mut self,
        key: &[u8],
        value: &RdbValue,
        expire_ms: Option<i64>,
        idle: Option<u64>,
        freq: Option<u8>,
    ) -> Result<(), Error> {
        let ttl_types = self.opts.version >= 12;
        if !ttl_types && value.has_field_ttls() {
            return Err(Error::Unrepresentable(
                "hash field TTLs need RDB version 12",
            ));
        }
        let mut out = std::mem::take(&mut self.buf);
        out.clear();
        if let Some(ms) = expire_ms {
            out.push(OP_EXPIRETIME_MS);
            out.extend_from_slice(&ms.to_le_bytes());
        }
        if let Some(idle) = idle {
            out.push(OP_IDLE);
            put_len(&mut out, idle);
        }
        if let Some(freq) = freq {
            out.push(OP_FREQ);
            out.push(freq);
        }
        let type_at = out.len();
        out.push(0);
        put_string(&mut out, key, self.opts.compression);
        out[type_at] = encode_value(&mut out, value, &self.opts, ttl_types);
        self.buf = out;
        let offset = self.written;
        self.flush_buf()
            .map_err(|source| Error::Io { offset, source })
    }

    /// Writes EOF and the checksum, flushes, and returns the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.raw(&[OP_EOF])?;
        let crc = if self.opts.checksum { self.crc } else { 0 };
        self.w.write_all(&crc.to_le_bytes())?;
        self.w.flush()?;
        Ok(self.w)
    }
}
