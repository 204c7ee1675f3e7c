//! The error type of every decoding operation.

use std::fmt;

/// What went wrong while reading an RDB file or a DUMP payload. Every
/// variant that concerns the input carries the byte offset (from the start
/// of the file or payload) where the problem was found.
#[derive(Debug)]
pub enum Error {
    /// The underlying reader failed (not end of input).
    Io {
        /// Offset reached when the read failed.
        offset: u64,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The input ended in the middle of something.
    Truncated {
        /// Offset where more bytes were needed.
        offset: u64,
        /// What was being read.
        context: &'static str,
    },
    /// The file does not start with `REDIS` + 4 digits (or `VALKEY` + 3).
    BadHeader,
    /// The RDB version is newer than this crate understands.
    UnsupportedVersion(u32),
    /// A byte that is neither an opcode nor a known value type.
    UnknownType {
        /// Offset of the type byte.
        offset: u64,
        /// The byte.
        type_byte: u8,
    },
    /// A value type that is known but cannot be represented (streams,
    /// module values, pre-GA function records).
    UnsupportedType {
        /// Offset of the type byte.
        offset: u64,
        /// The type byte.
        type_byte: u8,
        /// What it is.
        what: String,
    },
    /// The data violates the format (bad lengths, bad encodings, duplicates,
    /// an invalid score, ...).
    Corrupt {
        /// Offset of the object being decoded.
        offset: u64,
        /// Description.
        what: String,
    },
    /// The CRC-64 stored after EOF (or in a DUMP footer) does not match.
    Checksum {
        /// Value stored in the input.
        stored: u64,
        /// Value computed over the input.
        computed: u64,
    },
    /// A DUMP payload shorter than its 10-byte footer, or with bytes after
    /// the value.
    BadPayload(&'static str),
    /// The value cannot be written at the chosen RDB version (hash fields
    /// with TTLs need version 12).
    Unrepresentable(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { offset, source } => write!(f, "I/O error at offset {offset}: {source}"),
            Error::Truncated { offset, context } => {
                write!(
                    f,
                    "unexpected end of input at offset {offset} reading {context}"
                )
            }
            Error::BadHeader => f.write_str("wrong signature: not an RDB file"),
            Error::UnsupportedVersion(v) => write!(f, "can't handle RDB format version {v}"),
            Error::UnknownType { offset, type_byte } => {
                write!(f, "unknown RDB type {type_byte} at offset {offset}")
            }
            Error::UnsupportedType {
                offset,
                type_byte,
                what,
            } => write!(
                f,
                "unsupported RDB type {type_byte} ({what}) at offset {offset}"
            ),
            Error::Corrupt { offset, what } => {
                write!(f, "corrupt RDB data at offset {offset}: {what}")
            }
            Error::Checksum { stored, computed } => write!(
                f,
                "wrong RDB checksum: expected {stored:#018x}, got {computed:#018x}"
            ),
            Error::BadPayload(what) => write!(f, "bad DUMP payload: {what}"),
            Error::Unrepresentable(what) => write!(f, "value not representable: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
