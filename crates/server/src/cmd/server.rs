//! Server commands: SHUTDOWN, DBSIZE, FLUSHDB, FLUSHALL, INFO, CONFIG, COMMAND, DEBUG, ...

use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::CmdResult;
use crate::log_warning;
use crate::server::Server;

/// Binds the group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("shutdown", shutdown, Locking::None);
    t.add("dbsize", dbsize, Locking::Db);
}

/// Stops the server: no more connections, every client closed.
pub fn shutdown_now(srv: &Server) {
    log_warning!("User requested shutdown...");
    log_warning!("ferrokv is now ready to exit, bye bye...");
    srv.begin_shutdown();
}

fn shutdown(c: &mut Ctx) -> CmdResult {
    shutdown_now(c.srv);
    c.client.close_after_reply = true;
    Ok(())
}

fn dbsize(c: &mut Ctx) -> CmdResult {
    let db = c.db();
    let n: usize = c.locks.db_shards(db).map(|s| s.len()).sum();
    c.reply.int(n as i64);
    Ok(())
}
