//! Command implementations, one file per command group (as Redis's documentation groups them).
//!
//! Each group file has a `register` function that binds its handlers in the table; the metadata
//! (arity, flags, key specs, ...) comes from [`crate::spec`]. To add a command: write the handler
//! in its group file, add one `t.add(...)` line to that file's `register`, and add tests in
//! `tests/<group>.rs` and the differential suite.

use crate::dispatch::CommandTable;

pub mod client;
pub mod coll;
pub mod command;
pub mod config;
pub mod connection;
pub mod debug;
pub mod generic;
pub mod hash;
pub mod info;
pub mod latency;
pub mod list;
pub mod memory;
pub mod persistence;
pub mod pubsub;
pub mod server;
pub mod set;
pub mod slowlog;
pub mod sort;
pub mod sorted_set;
pub mod string;
pub mod transactions;

/// Writes a `<CMD> HELP` reply the way Redis formats it: a header line naming the command,
/// `lines` (subcommand syntax lines, each followed by indented explanations), then HELP itself,
/// each as a status string.
pub fn help_reply(reply: &mut ferrokv_resp::Reply, cmd_upper: &str, lines: &[&str]) {
    reply.array(lines.len() + 3);
    reply.simple(
        format!("{cmd_upper} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:").as_bytes(),
    );
    for l in lines {
        reply.simple(l.as_bytes());
    }
    reply.simple(b"HELP");
    reply.simple(b"    Prints this help.");
}

/// Builds the table of every implemented command.
pub fn table() -> CommandTable {
    let mut t = CommandTable::default();
    connection::register(&mut t);
    client::register(&mut t);
    string::register(&mut t);
    generic::register(&mut t);
    server::register(&mut t);
    command::register(&mut t);
    info::register(&mut t);
    config::register(&mut t);
    memory::register(&mut t);
    slowlog::register(&mut t);
    latency::register(&mut t);
    debug::register(&mut t);
    crate::scripting::register(&mut t);
    list::register(&mut t);
    hash::register(&mut t);
    set::register(&mut t);
    sorted_set::register(&mut t);
    sort::register(&mut t);
    transactions::register(&mut t);
    pubsub::register(&mut t);
    persistence::register(&mut t);
    t
}
