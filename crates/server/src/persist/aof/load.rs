//! Loading the AOF at startup.
//!
//! The manifest lists the base (an RDB, or commands) and the incremental files; they are
//! loaded in order. Commands are replayed through the normal dispatch as a fake client (as
//! Redis does), with propagation off. Rules (Redis 7's):
//! * the last file may end inside a command, or inside a MULTI without its EXEC: with
//!   `aof-load-truncated yes` the file is truncated to the last complete command (before the
//!   MULTI) with a warning and loading goes on; with `no` it is an error;
//! * a truncated file that is not the last one, a byte that cannot start an item, a bad
//!   length, an unknown command or a wrong argument count anywhere is an error: the server
//!   exits non-zero rather than run on a partial dataset. A command that fails (e.g.
//!   WRONGTYPE) is ignored, as Redis ignores the fake client's replies.
//! * an old single-file `appendonly.aof` (no directory) is upgraded: moved into the directory
//!   as the base and listed in a new manifest.

use super::manifest::{AofFile, FileType, Manifest};
use super::parse::{next_item, Item, ParseError};
use super::{config_paths, Layout};
use crate::dispatch::{self, Lookup};
use crate::server::Server;
use crate::{log_notice, log_warning};
use bytes::Bytes;
use ferrokv_resp::{Protocol, Reply};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// What [`load_at_startup`] found.
pub enum Found {
    /// No AOF (neither a manifest nor an old single file).
    Nothing,
    /// The files were loaded; the layout is what the writer continues.
    Loaded(Layout),
}

/// Loads the AOF directory into the (empty) keyspace. Errors are the log lines to print
/// before exiting.
pub fn load_at_startup(srv: &Server) -> Result<Found, String> {
    let (dir, prefix) = config_paths(srv);
    let layout = Layout {
        dir,
        prefix,
        manifest: Manifest::default(),
    };
    let mpath = layout.dir.join(layout.manifest_name());
    let text = match std::fs::read_to_string(&mpath) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match upgrade(srv, &layout)? {
            Some(t) => t,
            None => return Ok(Found::Nothing),
        },
        Err(e) => {
            return Err(format!(
                "Can't open the AOF manifest file {}: {}",
                layout.manifest_name(),
                crate::config::io_error_text(&e)
            ))
        }
    };
    let manifest = Manifest::parse(&text)?;
    let layout = Layout { manifest, ..layout };
    load_files(srv, &layout)?;
    Ok(Found::Loaded(layout))
}

/// Moves an old-style `dir/appendfilename` into the AOF directory as the base. Returns the new
/// manifest text, `None` when there is no old file.
fn upgrade(srv: &Server, layout: &Layout) -> Result<Option<String>, String> {
    let old = srv.config.read().dir().join(&layout.prefix);
    if !old.is_file() {
        return Ok(None);
    }
    let io = |e: std::io::Error| {
        format!(
            "Can't upgrade the old-style AOF {}: {}",
            old.display(),
            crate::config::io_error_text(&e)
        )
    };
    std::fs::create_dir_all(&layout.dir).map_err(io)?;
    let m = Manifest {
        base: Some(AofFile {
            name: layout.prefix.clone(),
            seq: 1,
            kind: FileType::Base,
        }),
        ..Manifest::default()
    };
    std::fs::rename(&old, layout.dir.join(&layout.prefix)).map_err(io)?;
    super::manifest::persist(&layout.dir, &layout.manifest_name(), &m).map_err(io)?;
    log_notice!("Successfully migrated an old-style AOF into the AOF directory");
    Ok(Some(m.to_text()))
}

fn load_files(srv: &Server, layout: &Layout) -> Result<(), String> {
    let files = layout.manifest.load_order();
    let p = &srv.persist;
    let mut total = 0u64;
    for f in &files {
        let path = layout.dir.join(&f.name);
        match std::fs::metadata(&path) {
            Ok(m) => total += m.len(),
            Err(e) => {
                return Err(format!(
                    "Can't open the append-only file {}: {}",
                    f.name,
                    crate::config::io_error_text(&e)
                ))
            }
        }
    }
    p.loading_total_bytes.store(total, Relaxed);
    p.loading_loaded_bytes.store(0, Relaxed);
    p.loading_start_time
        .store(crate::util::now_ms() / 1000, Relaxed);
    let started = Instant::now();
    let a: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    let handle = srv.clients.register(a, a);
    let id = handle.id;
    p.aof.set_loader(id);
    // The log replays history: no key expires while it loads (as Redis), or a later command
    // on a key whose TTL has passed since (PERSIST, a new EXPIRE) would find it gone.
    suspend_expiry(srv, true);
    let mut client = crate::client::Client::new(handle, true);
    let mut done = 0u64;
    let mut result = Ok(());
    for (i, f) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let r = load_one(srv, layout, f, last, &mut client, done);
        if let Err(e) = r {
            result = Err(e);
            break;
        }
        done += std::fs::metadata(layout.dir.join(&f.name))
            .map(|m| m.len())
            .unwrap_or(0);
    }
    p.aof.set_loader(0);
    suspend_expiry(srv, false);
    srv.clients.unregister(id);
    result?;
    p.loading_loaded_bytes.store(total, Relaxed);
    log_notice!(
        "DB loaded from append only file: {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn load_one(
    srv: &Server,
    layout: &Layout,
    f: &AofFile,
    last: bool,
    client: &mut crate::client::Client,
    done_before: u64,
) -> Result<(), String> {
    let path = layout.dir.join(&f.name);
    let data = std::fs::read(&path).map_err(|e| {
        format!(
            "Can't open the append-only file {}: {}",
            f.name,
            crate::config::io_error_text(&e)
        )
    })?;
    let kind = if f.kind == FileType::Base {
        "base"
    } else {
        "incr"
    };
    let mut pos = 0usize;
    if data.starts_with(b"REDIS") {
        log_notice!("Reading RDB {} file {}", kind, f.name);
        let (_, used) = crate::persist::load::load_reader(srv, &data[..], data.len() as u64)
            .map_err(|e| format!("Error reading the RDB base file {}: {}", f.name, e))?;
        pos = used as usize;
        log_notice!("Reading the remaining AOF tail...");
    }
    let mut reply = Reply::new(Protocol::Resp2);
    let mut multi_start: Option<usize> = None;
    let mut n = 0u64;
    let truncated_at = loop {
        let (item, next) = match next_item(&data, pos) {
            Ok(Some(x)) => x,
            Ok(None) => match multi_start {
                Some(m) => {
                    log_warning!(
                        "Revert incomplete MULTI/EXEC transaction in AOF file {}",
                        f.name
                    );
                    break Some(m);
                }
                None => break None,
            },
            Err(ParseError::Truncated { at }) => break Some(multi_start.unwrap_or(at)),
            Err(ParseError::Bad { at, what }) => {
                return Err(format!(
                    "Bad file format reading the append only file {} (offset {}: {}): make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
                    f.name, at, what
                ));
            }
        };
        let Item::Command(args) = item else {
            pos = next;
            continue;
        };
        let argv: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        match srv.commands.lookup(&argv) {
            Lookup::Found(cmd) => {
                let arity = cmd.spec.arity;
                let argc = argv.len() as i32;
                if (arity > 0 && argc != arity) || argc < -arity {
                    return Err(format!(
                        "Bad file format reading the append only file {} (offset {}): wrong number of arguments for '{}'",
                        f.name, pos, cmd.name
                    ));
                }
                match cmd.name {
                    "multi" => multi_start = Some(pos),
                    "exec" | "discard" => multi_start = None,
                    _ => {}
                }
            }
            _ => {
                return Err(format!(
                    "Unknown command '{}' reading the append only file {}",
                    String::from_utf8_lossy(&argv[0]),
                    f.name
                ));
            }
        }
        let _ = dispatch::execute(srv, client, &argv, &mut reply);
        if let Some(w) = client.blocking.parked.take() {
            srv.blocking.cancel(&w);
        }
        reply.take();
        pos = next;
        n += 1;
        if n.is_multiple_of(1024) {
            srv.persist
                .loading_loaded_bytes
                .store(done_before + pos as u64, Relaxed);
        }
    };
    if let Some(at) = truncated_at {
        if multi_start.is_some() {
            let _ = dispatch::execute(srv, client, &[Bytes::from_static(b"DISCARD")], &mut reply);
            reply.take();
        }
        if !last {
            return Err(format!(
                "Unexpected end of file reading the append only file {}: the truncated file is not the last one",
                f.name
            ));
        }
        if !srv
            .config
            .read()
            .get_bool("aof-load-truncated")
            .unwrap_or(true)
        {
            return Err(format!(
                "Unrecoverable error reading the append only file {}: unexpected end of file at offset {}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                f.name, at
            ));
        }
        log_warning!(
            "!!! Warning: short read while loading the AOF file {}!!!",
            f.name
        );
        log_warning!("!!! Truncating the AOF {} at offset {} !!!", f.name, at);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|fh| fh.set_len(at as u64).and_then(|()| fh.sync_all()));
        if let Err(e) = file {
            return Err(format!(
                "Error truncating the AOF file {}: {}",
                f.name,
                crate::config::io_error_text(&e)
            ));
        }
        log_warning!(
            "AOF {} loaded anyway because aof-load-truncated is enabled",
            f.name
        );
    }
    log_notice!("DB loaded from {} file {}", kind, f.name);
    Ok(())
}

/// Suspends or resumes key expiry in every shard (see `Shard::set_no_expire`).
fn suspend_expiry(srv: &Server, on: bool) {
    for db in 0..srv.keyspace.db_count() {
        for i in 0..crate::keyspace::SHARDS {
            if let Some(mut s) = srv.keyspace.lock_one(db, i) {
                s.set_no_expire(on);
            }
        }
    }
}
