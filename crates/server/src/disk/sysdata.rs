//! What the disk engine keeps besides keys: the function libraries, and the journal policy.
//!
//! With `storage-engine memory` Redis's RDB/AOF carry the FUNCTION libraries across a restart.
//! On the disk engine the store is the dataset and no RDB is read at restart (one is only
//! imported into an empty store), so every change of the libraries (FUNCTION LOAD / DELETE /
//! FLUSH / RESTORE, an RDB import) is written to the store as one blob in FUNCTION DUMP's
//! payload format, and loaded back when the server starts. `CONFIG SET appendfsync` changes the
//! engine's journal policy at run time ([`apply_fsync`]).

use crate::scripting::functions::{dump_payload, parse_payload};
use crate::server::Server;
use ferrokv_engine_disk::Fsync;

/// Name of the libraries' blob in the store.
const FUNCTIONS: &str = "functions";

/// Serialises [`save_functions`] calls, so the last write carries the latest libraries.
static SAVE_LOCK: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// Writes the current function libraries to the disk store (no-op on the memory engine).
/// Called after every change of the libraries; a failure is logged (the change stays in
/// effect in memory, as a failed AOF write would leave it).
pub fn save_functions(srv: &Server) {
    let Some(eng) = super::engine(srv) else {
        return;
    };
    let _order = SAVE_LOCK.lock();
    let codes = srv.scripting.library_codes();
    let payload = (!codes.is_empty()).then(|| dump_payload(&codes));
    if let Err(e) = eng.put_aux(FUNCTIONS, payload.as_deref()) {
        crate::log_warning!(
            "Writing the function libraries to the disk store failed: {}",
            e
        );
    }
}

/// Loads the libraries the disk store holds (startup, disk engine). An unreadable blob is an
/// error: the server must not start without libraries its data may rely on.
pub fn load_functions(srv: &Server) -> Result<(), String> {
    let Some(eng) = super::engine(srv) else {
        return Ok(());
    };
    let Some(payload) = eng
        .get_aux(FUNCTIONS)
        .map_err(|e| format!("Reading the function libraries from the disk store: {e}"))?
    else {
        return Ok(());
    };
    let codes = parse_payload(&payload).map_err(|e| {
        format!(
            "The disk store's function libraries are unreadable: {}",
            e.0
        )
    })?;
    srv.scripting
        .install_all(&codes)
        .map_err(|e| format!("Loading the disk store's function libraries: {}", e.0))
}

/// Applies `disk-compaction-rate` to the engine (CONFIG SET at run time).
pub fn apply_compaction_rate(srv: &Server) {
    if let Some(eng) = super::engine(srv) {
        let rate = srv
            .config
            .read()
            .get_u64("disk-compaction-rate")
            .unwrap_or(0);
        eng.set_compaction_rate(rate);
    }
}

/// Applies `appendfsync` to the engine's journal (CONFIG SET at run time).
pub fn apply_fsync(srv: &Server) {
    let Some(eng) = super::engine(srv) else {
        return;
    };
    let policy = match srv
        .config
        .read()
        .get_str("appendfsync")
        .unwrap_or("everysec")
    {
        "always" => Fsync::Always,
        "no" => Fsync::No,
        _ => Fsync::EverySec,
    };
    if let Err(e) = eng.set_fsync(policy) {
        crate::log_warning!("Changing the disk engine's journal policy failed: {}", e);
    }
}
