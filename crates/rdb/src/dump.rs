//! DUMP / RESTORE payloads: `type byte, value, RDB version (u16 LE),
//! CRC-64 (u64 LE) of everything before it`.

use crate::crc64::crc64;
use crate::decode::Src;
use crate::encode::{encode_value, WriteOptions};
use crate::error::Error;
use crate::{RdbValue, MAX_VERSION};

/// Serialises a value as a DUMP payload. The version written is 10 (what
/// redis-server 7.0 accepts in RESTORE) unless the value is a hash with
/// field TTLs, which needs 12. Strings are LZF-compressed when it helps, as
/// with `rdbcompression yes`.
pub fn dump_value(v: &RdbValue) -> Vec<u8> {
    let version = if v.has_field_ttls() { 12 } else { 10 };
    payload(v, version)
}

/// [`dump_value`] with an explicit RDB version in the footer (10..=12).
/// Fails with [`Error::Unrepresentable`] for field TTLs below 12.
pub fn dump_value_with_version(v: &RdbValue, version: u16) -> Result<Vec<u8>, Error> {
    if version < 12 && v.has_field_ttls() {
        return Err(Error::Unrepresentable(
            "hash field TTLs need RDB version 12",
        ));
    }
    Ok(payload(v, version))
}

/// [`dump_value`] without LZF compression of strings (what `rdbcompression no` writes):
/// for storage layers that compress blocks themselves (the disk engine's records), where
/// compressing every value again on each write costs more CPU than it saves. Read back with
/// [`restore_value`] like any payload.
pub fn dump_value_uncompressed(v: &RdbValue) -> Vec<u8> {
    let version = if v.has_field_ttls() { 12 } else { 10 };
    let opts = WriteOptions {
        compression: false,
        ..WriteOptions::default()
    };
    payload_with(v, version, &opts)
}

fn payload(v: &RdbValue, version: u16) -> Vec<u8> {
    payload_with(v, version, &WriteOptions::default())
}

fn payload_with(v: &RdbValue, version: u16, opts: &WriteOptions) -> Vec<u8> {
    let mut out = vec![0u8];
    out[0] = encode_value(&mut out, v, opts, version >= 12);
    out.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a RESTORE payload: checks the footer (version <= 12, CRC-64),
/// then the value, which must use the whole body and not be an empty
/// collection. Errors for which [`Error::is_version_or_checksum`] is true
/// are Redis's `ERR DUMP payload version or checksum are wrong`; any other
/// error is `ERR Bad data format`.
pub fn restore_value(payload: &[u8]) -> Result<RdbValue, Error> {
    restore_value_with_version(payload).map(|(v, _)| v)
}

/// [`restore_value`], also returning the payload's RDB version.
pub fn restore_value_with_version(payload: &[u8]) -> Result<(RdbValue, u16), Error> {
    if payload.len() < 10 {
        return Err(Error::BadPayload("payload shorter than its footer"));
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if u32::from(version) > MAX_VERSION {
        return Err(Error::UnsupportedVersion(u32::from(version)));
    }
    let mut crc_bytes = [0u8; 8];
    crc_bytes.copy_from_slice(&footer[2..]);
    let stored = u64::from_le_bytes(crc_bytes);
    let computed = crc64(0, &payload[..payload.len() - 8]);
    if stored != computed {
        return Err(Error::Checksum { stored, computed });
    }
    let Some((&t, rest)) = body.split_first() else {
        return Err(Error::Truncated {
            offset: 0,
            context: "type byte",
        });
    };
    let mut src = Src::new(rest, 1);
    let v = src.read_value(t, 0)?;
    if src.pos() != body.len() as u64 {
        return Err(Error::Corrupt {
            offset: src.pos(),
            what: "trailing bytes after the value".into(),
        });
    }
    if v.is_empty_collection() {
        return Err(Error::Corrupt {
            offset: 0,
            what: "empty collection".into(),
        });
    }
    Ok((v, version))
}

impl Error {
    /// True for the errors Redis reports as `ERR DUMP payload version or
    /// checksum are wrong` (short payload, newer version, CRC mismatch).
    pub fn is_version_or_checksum(&self) -> bool {
        matches!(
            self,
            Error::BadPayload(_) | Error::UnsupportedVersion(_) | Error::Checksum { .. }
        )
    }
}
