//! Streaming RDB decoder.
//!
//! [`Src`] wraps the caller's reader: it counts bytes (for error offsets and
//! the progress callback) and keeps the running CRC-64. Values are decoded by
//! [`Src::read_value`], shared with DUMP payloads. Allocation from length
//! headers is bounded: strings are read in 64 KiB chunks (so a lying length
//! fails at end of input having allocated at most what was present plus one
//! chunk), vectors reserve at most [`PREALLOC`] elements up front, and an LZF
//! string's declared size must be reachable from its compressed size.

use std::collections::HashSet;
use std::io::Read;

use crate::crc64::crc64;
use crate::error::Error;
use crate::listpack::Entry;
use crate::types::*;
use crate::util::{parse_canonical_i64, parse_score};
use crate::{intset, listpack, lzf, ziplist};
use crate::{Event, HashField, KeyRecord, RdbValue, MAX_VERSION};

/// Most elements reserved before they are actually read.
const PREALLOC: u64 = 1024;
/// Read granularity for long strings.
const CHUNK: u64 = 1 << 16;
/// Largest hash field expiry Redis accepts (`EB_EXPIRE_TIME_MAX`, 2^48 - 1 ms).
pub(crate) const MAX_FIELD_TTL: i64 = (1 << 48) - 1;
/// Progress callback period in bytes.
const REPORT_EVERY: u64 = 1 << 20;

type Progress = Box<dyn FnMut(u64) + Send>;

/// A length header or a special string encoding.
enum Len {
    Len(u64),
    Enc(u8),
}

pub(crate) struct Src<R> {
    r: R,
    pos: u64,
    crc: u64,
    progress: Option<Progress>,
    next_report: u64,
}

fn cap(n: u64) -> usize {
    n.min(PREALLOC) as usize
}

impl<R: Read> Src<R> {
    pub(crate) fn new(r: R, start: u64) -> Self {
        Src {
            r,
            pos: start,
            crc: 0,
            progress: None,
            next_report: REPORT_EVERY,
        }
    }

    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    fn corrupt(&self, offset: u64, what: impl Into<String>) -> Error {
        let _ = self;
        Error::Corrupt {
            offset,
            what: what.into(),
        }
    }

    fn fill(&mut self, buf: &mut [u8], context: &'static str) -> Result<(), Error> {
        if let Err(e) = self.r.read_exact(buf) {
            return Err(if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Error::Truncated {
                    offset: self.pos,
                    context,
                }
            } else {
                Error::Io {
                    offset: self.pos,
                    source: e,
                }
            });
        }
        self.crc = crc64(self.crc, buf);
        self.pos += buf.len() as u64;
        if self.pos >= self.next_report {
            self.next_report = self.pos + REPORT_EVERY;
            if let Some(cb) = self.progress.as_mut() {
                cb(self.pos);
            }
        }
        Ok(())
    }

    pub(crate) fn u8(&mut self, context: &'static str) -> Result<u8, Error> {
        let mut b = [0u8; 1];
        self.fill(&mut b, context)?;
        Ok(b[0])
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        context: &'static str,
    ) -> Result<[u8; N], Error> {
        let mut b = [0u8; N];
        self.fill(&mut b, context)?;
        Ok(b)
    }

    fn bytes(&mut self, n: u64, context: &'static str) -> Result<Vec<u8>, Error> {
        let mut v = Vec::with_capacity(n.min(CHUNK) as usize);
        let mut left = n;
        while left > 0 {
            let k = left.min(CHUNK) as usize;
            let s = v.len();
            v.resize(s + k, 0);
            self.fill(&mut v[s..], context)?;
            left -= k as u64;
        }
        Ok(v)
    }

    fn len_or_enc(&mut self, context: &'static str) -> Result<Len, Error> {
        let at = self.pos;
        let b = self.u8(context)?;
        Ok(match b >> 6 {
            0 => Len::Len(u64::from(b & 0x3f)),
            1 => {
                let b1 = self.u8(context)?;
                Len::Len((u64::from(b & 0x3f) << 8) | u64::from(b1))
            }
            2 => match b {
                0x80 => Len::Len(u64::from(u32::from_be_bytes(self.array(context)?))),
                0x81 => Len::Len(u64::from_be_bytes(self.array(context)?)),
                _ => return Err(self.corrupt(at, format!("unknown length encoding {b:#04x}"))),
            },
            _ => Len::Enc(b & 0x3f),
        })
    }

    pub(crate) fn length(&mut self, context: &'static str) -> Result<u64, Error> {
        let at = self.pos;
        match self.len_or_enc(context)? {
            Len::Len(n) => Ok(n),
            Len::Enc(_) => Err(self.corrupt(
                at,
                format!("string encoding where a length was expected ({context})"),
            )),
        }
    }

    pub(crate) fn string(&mut self, context: &'static str) -> Result<Vec<u8>, Error> {
        let at = self.pos;
        match self.len_or_enc(context)? {
            Len::Len(n) => self.bytes(n, context),
            Len::Enc(0) => Ok((self.u8(context)? as i8).to_string().into_bytes()),
            Len::Enc(1) => Ok(i16::from_le_bytes(self.array(context)?)
                .to_string()
                .into_bytes()),
            Len::Enc(2) => Ok(i32::from_le_bytes(self.array(context)?)
                .to_string()
                .into_bytes()),
            Len::Enc(3) => {
                let clen = self.length(context)?;
                let ulen = self.length(context)?;
                if clen == 0 || ulen > clen.saturating_mul(lzf::MAX_EXPANSION) {
                    return Err(self.corrupt(at, "LZF string with impossible lengths"));
                }
                let data = self.bytes(clen, context)?;
                let ulen =
                    usize::try_from(ulen).map_err(|_| self.corrupt(at, "LZF string too long"))?;
                lzf::decompress(&data, ulen).map_err(|e| self.corrupt(at, e.to_string()))
            }
            Len::Enc(e) => Err(self.corrupt(at, format!("unknown string encoding {e}"))),
        }
    }

    fn text_double(&mut self) -> Result<f64, Error> {
        let at = self.pos;
        let n = self.u8("score")?;
        let v = match n {
            255 => f64::NEG_INFINITY,
            254 => f64::INFINITY,
            253 => f64::NAN,
            _ => {
                let b = self.bytes(u64::from(n), "score")?;
                parse_score(&b).ok_or_else(|| self.corrupt(at, "invalid score"))?
            }
        };
        if v.is_nan() {
            return Err(self.corrupt(at, "NaN score"));
        }
        Ok(v)
    }

    fn binary_double(&mut self) -> Result<f64, Error> {
        let at = self.pos;
        let v = f64::from_le_bytes(self.array("score")?);
        if v.is_nan() {
            return Err(self.corrupt(at, "NaN score"));
        }
        Ok(v)
    }

    fn strings(&mut self, context: &'static str) -> Result<Vec<Vec<u8>>, Error> {
        let n = self.length(context)?;
        let mut v = Vec::with_capacity(cap(n));
        for _ in 0..n {
            v.push(self.string(context)?);
        }
        Ok(v)
    }

    /// Skips a module-serialised value (sequence of typed items up to EOF).
    fn skip_module_value(&mut self) -> Result<(), Error> {
        loop {
            let at = self.pos;
            match self.length("module value")? {
                0 => return Ok(()),
                1 | 2 => {
                    self.length("module value")?;
                }
                3 => {
                    self.array::<4>("module value")?;
                }
                4 => {
                    self.array::<8>("module value")?;
                }
                5 => {
                    self.string("module value")?;
                }
                op => return Err(self.corrupt(at, format!("unknown module opcode {op}"))),
            }
        }
    }

    /// Reads the value of type `t` (whose type byte was at `at`).
    pub(crate) fn read_value(&mut self, t: u8, at: u64) -> Result<RdbValue, Error> {
        let v = match t {
            STRING => RdbValue::String(self.string("string value")?),
            LIST => RdbValue::List(self.strings("list element")?),
            SET => {
                let v = self.strings("set member")?;
                unique(v.iter().map(Vec::as_slice), at, "set")?;
                RdbValue::Set(v)
            }
            ZSET | ZSET_2 => {
                let n = self.length("zset length")?;
                let mut v = Vec::with_capacity(cap(n));
                for _ in 0..n {
                    let m = self.string("zset member")?;
                    let s = if t == ZSET {
                        self.text_double()?
                    } else {
                        self.binary_double()?
                    };
                    v.push((m, s));
                }
                unique(v.iter().map(|(m, _)| m.as_slice()), at, "zset")?;
                RdbValue::ZSet(v)
            }
            HASH => {
                let n = self.length("hash length")?;
                let mut v = Vec::with_capacity(cap(n));
                for _ in 0..n {
                    let field = self.string("hash field")?;
                    let value = self.string("hash value")?;
                    v.push(HashField {
                        field,
                        value,
                        expire_ms: None,
                    });
                }
                hash_value(v, at)?
            }
            HASH_METADATA | HASH_METADATA_PRE_GA => {
                let min = if t == HASH_METADATA {
                    i64::from_le_bytes(self.array("hash min expire")?)
                } else {
                    0
                };
                let n = self.length("hash length")?;
                let mut v = Vec::with_capacity(cap(n));
                for _ in 0..n {
                    let ttl_at = self.pos;
                    let ttl = self.length("hash field ttl")?;
                    let expire_ms = if ttl == 0 {
                        None
                    } else {
                        let abs = if t == HASH_METADATA {
                            i64::try_from(ttl)
                                .ok()
                                .and_then(|x| x.checked_add(min))
                                .and_then(|x| x.checked_sub(1))
                        } else {
                            i64::try_from(ttl).ok()
                        };
                        Some(
                            abs.filter(|e| (1..=MAX_FIELD_TTL).contains(e))
                                .ok_or_else(|| self.corrupt(ttl_at, "invalid field TTL"))?,
                        )
                    };
                    let field = self.string("hash field")?;
                    let value = self.string("hash value")?;
                    v.push(HashField {
                        field,
                        value,
                        expire_ms,
                    });
                }
                hash_value(v, at)?
            }
            HASH_ZIPMAP => {
                let blob = self.string("zipmap")?;
                let pairs = ziplist::decode_zipmap(&blob).map_err(|e| self.corrupt(at, e))?;
                hash_value(
                    pairs
                        .into_iter()
                        .map(|(field, value)| HashField {
                            field,
                            value,
                            expire_ms: None,
                        })
                        .collect(),
                    at,
                )?
            }
            LIST_ZIPLIST => {
                let blob = self.string("ziplist")?;
                let items = ziplist::decode(&blob).map_err(|e| self.corrupt(at, e))?;
                RdbValue::List(items.into_iter().map(Entry::to_bytes).collect())
            }
            SET_INTSET => {
                let blob = self.string("intset")?;
                let ints = intset::decode(&blob).map_err(|e| self.corrupt(at, e))?;
                RdbValue::Set(ints.iter().map(|i| i.to_string().into_bytes()).collect())
            }
            SET_LISTPACK => {
                let blob = self.string("listpack")?;
                let items = listpack::decode(&blob).map_err(|e| self.corrupt(at, e))?;
                let v: Vec<Vec<u8>> = items.into_iter().map(Entry::to_bytes).collect();
                unique(v.iter().map(Vec::as_slice), at, "set")?;
                RdbValue::Set(v)
            }
            ZSET_ZIPLIST | ZSET_LISTPACK => {
                let blob = self.string("zset blob")?;
                let items = if t == ZSET_ZIPLIST {
                    ziplist::decode(&blob)
                } else {
                    listpack::decode(&blob)
                }
                .map_err(|e| self.corrupt(at, e))?;
                if items.len() % 2 != 0 {
                    return Err(self.corrupt(at, "zset blob with an odd number of entries"));
                }
                let mut v = Vec::with_capacity(items.len() / 2);
                for pair in items.chunks_exact(2) {
                    let score = match pair[1] {
                        Entry::Int(i) => i as f64,
                        Entry::Str(s) => {
                            parse_score(s).ok_or_else(|| self.corrupt(at, "invalid score"))?
                        }
                    };
                    v.push((pair[0].to_bytes(), score));
                }
                unique(v.iter().map(|(m, _)| m.as_slice()), at, "zset")?;
                RdbValue::ZSet(v)
            }
            HASH_ZIPLIST | HASH_LISTPACK => {
                let blob = self.string("hash blob")?;
                let items = if t == HASH_ZIPLIST {
                    ziplist::decode(&blob)
                } else {
                    listpack::decode(&blob)
                }
                .map_err(|e| self.corrupt(at, e))?;
                if items.len() % 2 != 0 {
                    return Err(self.corrupt(at, "hash blob with an odd number of entries"));
                }
                let v = items
                    .chunks_exact(2)
                    .map(|p| HashField {
                        field: p[0].to_bytes(),
                        value: p[1].to_bytes(),
                        expire_ms: None,
                    })
                    .collect();
                hash_value(v, at)?
            }
            HASH_LISTPACK_EX | HASH_LISTPACK_EX_PRE_GA => {
                if t == HASH_LISTPACK_EX {
                    self.array::<8>("hash min expire")?;
                }
                let blob = self.string("hash listpack")?;
                let items = listpack::decode(&blob).map_err(|e| self.corrupt(at, e))?;
                if items.len() % 3 != 0 {
                    return Err(self.corrupt(at, "hash listpack with TTLs not made of triplets"));
                }
                let mut v = Vec::with_capacity(items.len() / 3);
                for t3 in items.chunks_exact(3) {
                    let ttl = match t3[2] {
                        Entry::Int(i) => Some(i),
                        Entry::Str(s) => parse_canonical_i64(s),
                    }
                    .filter(|e| (0..=MAX_FIELD_TTL).contains(e))
                    .ok_or_else(|| self.corrupt(at, "invalid field TTL"))?;
                    v.push(HashField {
                        field: t3[0].to_bytes(),
                        value: t3[1].to_bytes(),
                        expire_ms: (ttl != 0).then_some(ttl),
                    });
                }
                hash_value(v, at)?
            }
            LIST_QUICKLIST | LIST_QUICKLIST_2 => {
                let n = self.length("quicklist length")?;
                let mut v = Vec::new();
                for _ in 0..n {
                    let container = if t == LIST_QUICKLIST_2 {
                        self.length("quicklist container")?
                    } else {
                        2
                    };
                    let blob = self.string("quicklist node")?;
                    match container {
                        1 => v.push(blob),
                        2 => {
                            if blob.is_empty() {
                                return Err(self.corrupt(at, "empty quicklist node"));
                            }
                            let items = if t == LIST_QUICKLIST {
                                ziplist::decode(&blob)
                            } else {
                                listpack::decode(&blob)
                            }
                            .map_err(|e| self.corrupt(at, e))?;
                            v.extend(items.into_iter().map(Entry::to_bytes));
                        }
                        _ => return Err(self.corrupt(at, "unknown quicklist container")),
                    }
                }
                RdbValue::List(v)
            }
            STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 => {
                RdbValue::Stream(Box::new(self.read_stream(t, at)?))
            }
            MODULE_PRE_GA | MODULE_2 => {
                let id = self.length("module id")?;
                return Err(Error::UnsupportedType {
                    offset: at,
                    type_byte: t,
                    what: format!("value of module {}", module_name(id)),
                });
            }
            _ => {
                return Err(Error::UnknownType {
                    offset: at,
                    type_byte: t,
                })
            }
        };
        Ok(v)
    }
}

fn unique<'a>(items: impl Iterator<Item = &'a [u8]>, at: u64, what: &str) -> Result<(), Error> {
    let mut seen = HashSet::new();
    for i in items {
        if !seen.insert(i) {
            return Err(Error::Corrupt {
                offset: at,
                what: format!("duplicate {what} element"),
            });
        }
    }
    Ok(())
}

fn hash_value(v: Vec<HashField>, at: u64) -> Result<RdbValue, Error> {
    unique(v.iter().map(|f| f.field.as_slice()), at, "hash")?;
    Ok(RdbValue::Hash(v))
}

/// The 9-character name Redis derives from a 64-bit module type id.
pub(crate) fn module_name(id: u64) -> String {
    const CSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = id >> 10;
    let mut name = [0u8; 9];
    for slot in name.iter_mut().rev() {
        *slot = CSET[(id & 63) as usize];
        id >>= 6;
    }
    String::from_utf8_lossy(&name).into_owned()
}

/// Streaming decoder of a whole RDB file.
///
/// Created with [`RdbReader::new`] (which reads and checks the header), then
/// [`RdbReader::next_event`] until it returns `Ok(None)`: at that point the
/// EOF opcode and the checksum (version >= 5, unless stored as 0) have been
/// verified. The reader does no buffering of its own: wrap files in a
/// `BufReader`. After the end, [`RdbReader::into_inner`] gives back the
/// reader positioned just after the checksum (an AOF with an RDB preamble
/// continues there).
pub struct RdbReader<R> {
    src: Src<R>,
    version: u32,
    db: u64,
    done: bool,
}

impl<R: Read> RdbReader<R> {
    /// Reads the 9-byte header: `REDIS` + 4 digits (versions 1..=12), or
    /// `VALKEY` + 3 digits (Valkey 9's own numbering, decoded on a
    /// best-effort basis with the same value types).
    pub fn new(reader: R) -> Result<Self, Error> {
        let mut src = Src::new(reader, 0);
        let head: [u8; 9] = src.array("header").map_err(|e| match e {
            Error::Truncated { .. } => Error::BadHeader,
            other => other,
        })?;
        let digits = |d: &[u8]| -> Option<u32> {
            if d.iter().all(u8::is_ascii_digit) {
                std::str::from_utf8(d).ok()?.parse().ok()
            } else {
                None
            }
        };
        let version = if &head[..5] == b"REDIS" {
            let v = digits(&head[5..]).ok_or(Error::BadHeader)?;
            if v == 0 || v > MAX_VERSION {
                return Err(Error::UnsupportedVersion(v));
            }
            v
        } else if &head[..6] == b"VALKEY" {
            digits(&head[6..]).ok_or(Error::BadHeader)?
        } else {
            return Err(Error::BadHeader);
        };
        Ok(RdbReader {
            src,
            version,
            db: 0,
            done: false,
        })
    }

    /// Installs a callback called with the number of bytes read so far,
    /// about every MiB and once at the end (for INFO's loading fields).
    pub fn set_progress(&mut self, callback: impl FnMut(u64) + Send + 'static) {
        self.src.progress = Some(Box::new(callback));
    }

    /// The RDB version from the header.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Bytes consumed so far (the offset of the next byte).
    pub fn bytes_read(&self) -> u64 {
        self.src.pos
    }

    /// Gives back the underlying reader.
    pub fn into_inner(self) -> R {
        self.src.r
    }

    /// Reads the next item; `Ok(None)` once EOF and the checksum have been
    /// read and verified (and on every later call).
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        if self.done {
            return Ok(None);
        }
        let mut expire_ms: Option<i64> = None;
        let mut lru_idle: Option<u64> = None;
        let mut lfu_freq: Option<u8> = None;
        loop {
            let at = self.src.pos;
            let t = self.src.u8("type or opcode")?;
            match t {
                OP_EXPIRETIME => {
                    let secs = i32::from_le_bytes(self.src.array("expire time")?);
                    expire_ms = Some(i64::from(secs) * 1000);
                }
                OP_EXPIRETIME_MS => {
                    expire_ms = Some(i64::from_le_bytes(self.src.array("expire time")?));
                }
                OP_FREQ => lfu_freq = Some(self.src.u8("LFU frequency")?),
                OP_IDLE => lru_idle = Some(self.src.length("LRU idle time")?),
                OP_EOF => {
                    if self.version >= 5 {
                        let computed = self.src.crc;
                        let stored = u64::from_le_bytes(self.src.array("checksum")?);
                        if stored != 0 && stored != computed {
                            return Err(Error::Checksum { stored, computed });
                        }
                    }
                    self.done = true;
                    let pos = self.src.pos;
                    if let Some(cb) = self.src.progress.as_mut() {
                        cb(pos);
                    }
                    return Ok(None);
                }
                OP_SELECTDB => {
                    self.db = self.src.length("database number")?;
                    return Ok(Some(Event::SelectDb(self.db)));
                }
                OP_RESIZEDB => {
                    let db_size = self.src.length("resize hint")?;
                    let expires_size = self.src.length("resize hint")?;
                    return Ok(Some(Event::ResizeDb {
                        db_size,
                        expires_size,
                    }));
                }
                OP_SLOT_INFO => {
                    let slot = self.src.length("slot info")?;
                    let size = self.src.length("slot info")?;
                    let expires_size = self.src.length("slot info")?;
                    return Ok(Some(Event::SlotInfo {
                        slot,
                        size,
                        expires_size,
                    }));
                }
                OP_AUX => {
                    let key = self.src.string("aux field name")?;
                    let value = self.src.string("aux field value")?;
                    return Ok(Some(Event::Aux { key, value }));
                }
                OP_MODULE_AUX => {
                    let id = self.src.length("module id")?;
                    let when_op = self.src.length("module aux")?;
                    self.src.length("module aux")?;
                    if when_op != 2 {
                        return Err(self.src.corrupt(at, "bad module aux header"));
                    }
                    self.src.skip_module_value()?;
                    return Ok(Some(Event::ModuleAux {
                        module: module_name(id),
                    }));
                }
                OP_FUNCTION2 => {
                    let code = self.src.string("function library")?;
                    return Ok(Some(Event::Function(code)));
                }
                OP_FUNCTION_PRE_GA => {
                    return Err(Error::UnsupportedType {
                        offset: at,
                        type_byte: t,
                        what: "pre-GA function library".into(),
                    })
                }
                _ => {
                    if t > HASH_LISTPACK_EX {
                        return Err(Error::UnknownType {
                            offset: at,
                            type_byte: t,
                        });
                    }
                    let key = self.src.string("key")?;
                    let value = self.src.read_value(t, at)?;
                    let db = self.db;
                    if value.is_empty_collection() {
                        return Ok(Some(Event::EmptyKey { db, key }));
                    }
                    return Ok(Some(Event::Key(KeyRecord {
                        db,
                        key,
                        value,
                        expire_ms,
                        lru_idle,
                        lfu_freq,
                    })));
                }
            }
        }
    }
}

/// A whole RDB file, as collected by [`load`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RdbFile {
    /// RDB version from the header.
    pub version: u32,
    /// Auxiliary fields in file order.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// Function library sources.
    pub functions: Vec<Vec<u8>>,
    /// Every key, in file order.
    pub keys: Vec<KeyRecord>,
    /// Keys skipped because their collection was empty (db, key).
    pub empty_keys: Vec<(u64, Vec<u8>)>,
    /// Names of modules whose aux data was skipped.
    pub module_aux: Vec<String>,
}

/// Decodes a whole RDB file into memory (see [`RdbReader`] for streaming).
pub fn load<R: Read>(reader: R) -> Result<RdbFile, Error> {
    let mut r = RdbReader::new(reader)?;
    let mut file = RdbFile {
        version: r.version(),
        ..RdbFile::default()
    };
    while let Some(ev) = r.next_event()? {
        match ev {
            Event::Aux { key, value } => file.aux.push((key, value)),
            Event::Function(code) => file.functions.push(code),
            Event::Key(k) => file.keys.push(k),
            Event::EmptyKey { db, key } => file.empty_keys.push((db, key)),
            Event::ModuleAux { module } => file.module_aux.push(module),
            Event::SelectDb(_) | Event::ResizeDb { .. } | Event::SlotInfo { .. } => {}
        }
    }
    Ok(file)
}
