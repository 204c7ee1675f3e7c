//! The append-only file.
//!
//! **Contract with the command layer** (see [`crate::propagate`]): every execution unit's
//! effects reach [`Aof::feed`] in one call, made while the unit holds its shard locks, so the
//! stream order of conflicting units is their execution order. `feed` appends the unit as RESP
//! commands to the in-memory stream (inserting `SELECT` when the database changes) and returns
//! the stream offset just past it; a client whose replies must wait for the disk
//! (`appendfsync always`) waits until the synced offset reaches it.
//!
//! This module is being built up: today it keeps the stream in memory only.

use crate::propagate::Effect;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// The append-only file's state.
#[derive(Default)]
pub struct Aof {
    /// Effects are being collected (the AOF is on).
    collecting: AtomicBool,
    /// The stream not yet written out.
    stream: Mutex<Stream>,
}

/// The serial stream the units are appended to.
#[derive(Default)]
struct Stream {
    /// Encoded commands not yet written to the file.
    buf: Vec<u8>,
    /// Database the stream's last command applied to (`None` at the start of a file: the
    /// first command is always preceded by a SELECT).
    db: Option<u32>,
    /// Bytes appended since the start (the offset `feed` returns).
    offset: u64,
}

impl Aof {
    /// Whether units must be collected and fed (one atomic load on every command's path).
    #[inline]
    pub fn collecting(&self) -> bool {
        self.collecting.load(Relaxed)
    }

    /// Turns collection on or off.
    pub fn set_collecting(&self, on: bool) {
        self.collecting.store(on, Relaxed);
    }

    /// Appends one execution unit (already wrapped in MULTI/EXEC when it has several
    /// commands) and returns the stream offset just past it.
    pub fn feed(&self, unit: &[Effect]) -> u64 {
        let mut s = self.stream.lock();
        for e in unit {
            if s.db != Some(e.db) {
                let db = e.db.to_string();
                encode_command(&mut s.buf, &[b"SELECT", db.as_bytes()]);
                s.db = Some(e.db);
            }
            let parts: Vec<&[u8]> = e.argv.iter().map(|a| &a[..]).collect();
            encode_command(&mut s.buf, &parts);
        }
        s.offset = s.buf.len() as u64;
        s.offset
    }
}

/// Appends `argv` as a RESP multibulk request.
pub fn encode_command(out: &mut Vec<u8>, argv: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(argv.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}
