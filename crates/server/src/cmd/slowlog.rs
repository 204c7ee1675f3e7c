//! SLOWLOG GET / LEN / RESET / HELP.
//!
//! Entries are recorded by [`crate::server::Server::after_call`] for every command slower than
//! `slowlog-log-slower-than` microseconds (negative: never, 0: always), newest first, at most
//! `slowlog-max-len` of them, with arguments cut like Redis (32 arguments, 128 bytes each).

use crate::args;
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdResult};

/// Binds the group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("slowlog|get", get, Locking::None);
    t.add("slowlog|len", len, Locking::None);
    t.add("slowlog|reset", reset, Locking::None);
    t.add("slowlog|help", help, Locking::None);
}

fn get(c: &mut Ctx) -> CmdResult {
    let count = match c.argv.len() {
        2 => 10,
        3 => match args::parse_i64_strict(c.arg(2)) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => return Err(errors::SLOWLOG_COUNT),
        },
        _ => return Err(errors::bad_subcommand_args(c.arg(1), "SLOWLOG")),
    };
    let log = c.srv.slowlog.lock();
    let n = log.entries.len().min(count);
    let r = &mut *c.reply;
    r.array(n);
    for e in log.entries.iter().take(n) {
        r.array(6);
        r.int(e.id as i64);
        r.int(e.time_secs);
        r.int(e.usec as i64);
        r.array(e.argv.len());
        for a in &e.argv {
            r.bulk(a);
        }
        r.bulk(e.addr.as_bytes());
        r.bulk(&e.name);
    }
    Ok(())
}

fn len(c: &mut Ctx) -> CmdResult {
    let n = c.srv.slowlog.lock().entries.len();
    c.reply.int(n as i64);
    Ok(())
}

fn reset(c: &mut Ctx) -> CmdResult {
    c.srv.slowlog.lock().entries.clear();
    c.reply.ok();
    Ok(())
}

fn help(c: &mut Ctx) -> CmdResult {
    crate::cmd::help_reply(
        c.reply,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}
