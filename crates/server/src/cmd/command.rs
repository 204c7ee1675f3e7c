//! COMMAND and its subcommands: introspection of the command table.
//!
//! Everything is answered from [`crate::spec`] metadata, restricted to what this server really
//! implements (`srv.commands`): COMMAND, COMMAND COUNT, COMMAND LIST and the subcommand part of
//! an INFO entry only show commands and subcommands that have handlers, and COMMAND INFO of a
//! name we do not implement answers a nil entry like Redis does for an unknown name. COMMAND
//! GETKEYS works from the key specs of every known command, implemented or not.

use crate::dispatch::{Command, CommandTable, Ctx, Locking};
use crate::errors::{self, CmdError, CmdResult};
use crate::glob::glob_match;
use crate::spec::{self, Doc};
use ferrokv_resp::Reply;

/// Binds the group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("command", command, Locking::None);
    t.add("command|count", count, Locking::None);
    t.add("command|info", info, Locking::None);
    t.add("command|list", list, Locking::None);
    t.add("command|docs", docs, Locking::None);
    t.add("command|getkeys", getkeys, Locking::None);
    t.add("command|getkeysandflags", getkeysandflags, Locking::None);
    t.add("command|help", help, Locking::None);
}

/// Writes a Doc tree with the RESP2/RESP3-aware writer (maps and sets flatten to arrays in RESP2).
pub fn render_doc(r: &mut Reply, d: &Doc) {
    match d {
        Doc::Int(n) => r.int(*n),
        Doc::Simple(s) => r.simple(s.as_bytes()),
        Doc::Bulk(s) => r.bulk(s.as_bytes()),
        Doc::Array(v) => {
            r.array(v.len());
            for x in v {
                render_doc(r, x);
            }
        }
        Doc::Set(v) => {
            r.set(v.len());
            for x in v {
                render_doc(r, x);
            }
        }
        Doc::Map(v) => {
            r.map(v.len());
            for (k, x) in v {
                r.bulk(k.as_bytes());
                render_doc(r, x);
            }
        }
        Doc::Null => r.null(),
    }
}

/// The COMMAND INFO entry of an implemented command: the spec's entry with the subcommand part
/// limited to the subcommands that have handlers.
pub fn info_doc(cmd: &Command) -> Doc {
    let mut d = spec::command_info(cmd.spec);
    if let Doc::Array(items) = &mut d {
        if let Some(last) = items.get_mut(9) {
            let mut subs: Vec<&Command> = cmd.subs.values().collect();
            subs.sort_by_key(|s| s.name);
            *last = Doc::Set(subs.into_iter().map(info_doc).collect());
        }
    }
    d
}

/// The COMMAND DOCS value of an implemented command, subcommands limited to implemented ones.
pub fn docs_doc(cmd: &Command) -> Doc {
    let mut d = spec::command_docs(cmd.spec);
    if let Doc::Map(m) = &mut d {
        if let Some(pos) = m.iter().position(|(k, _)| k == "subcommands") {
            let mut subs: Vec<&Command> = cmd.subs.values().collect();
            subs.sort_by_key(|s| s.name);
            if subs.is_empty() {
                m.remove(pos);
            } else {
                m[pos].1 = Doc::Map(
                    subs.into_iter()
                        .map(|s| (s.name.to_string(), docs_doc(s)))
                        .collect(),
                );
            }
        }
    }
    d
}

/// Top-level commands, sorted by name (a stable order for COMMAND / COMMAND DOCS).
fn sorted_top(t: &CommandTable) -> Vec<&Command> {
    let mut v: Vec<&Command> = t.iter().collect();
    v.sort_by_key(|c| c.name);
    v
}

/// Finds an implemented command or subcommand by its full name (`get`, `config|get`),
/// case-insensitively.
fn find<'t>(t: &'t CommandTable, name: &[u8]) -> Option<&'t Command> {
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    t.get(&lower)
}

fn command(c: &mut Ctx) -> CmdResult {
    let all = sorted_top(&c.srv.commands);
    c.reply.array(all.len());
    for cmd in all {
        render_doc(c.reply, &info_doc(cmd));
    }
    Ok(())
}

fn count(c: &mut Ctx) -> CmdResult {
    c.reply.int(c.srv.commands.iter().count() as i64);
    Ok(())
}

fn info(c: &mut Ctx) -> CmdResult {
    if c.argv.len() == 2 {
        return command(c);
    }
    let t = &c.srv.commands;
    c.reply.array(c.argv.len() - 2);
    for name in &c.argv[2..] {
        match find(t, name) {
            Some(cmd) => render_doc(c.reply, &info_doc(cmd)),
            None => c.reply.null(),
        }
    }
    Ok(())
}

fn docs(c: &mut Ctx) -> CmdResult {
    let t = &c.srv.commands;
    let chosen: Vec<&Command> = if c.argv.len() == 2 {
        sorted_top(t)
    } else {
        c.argv[2..].iter().filter_map(|n| find(t, n)).collect()
    };
    c.reply.map(chosen.len());
    for cmd in chosen {
        c.reply.bulk(cmd.name.as_bytes());
        render_doc(c.reply, &docs_doc(cmd));
    }
    Ok(())
}

/// A COMMAND LIST filter.
enum Filter<'a> {
    None,
    Module,
    AclCat(Option<u64>),
    Pattern(&'a [u8]),
}

fn list(c: &mut Ctx) -> CmdResult {
    let filter = match c.argv.len() {
        2 => Filter::None,
        5 if crate::args::is(c.arg(2), "FILTERBY") => {
            let kind = c.arg(3);
            let v = c.arg(4);
            if crate::args::is(kind, "MODULE") {
                Filter::Module
            } else if crate::args::is(kind, "ACLCAT") {
                let name = String::from_utf8_lossy(v).to_ascii_lowercase();
                Filter::AclCat(spec::acl::from_name(&name))
            } else if crate::args::is(kind, "PATTERN") {
                Filter::Pattern(v)
            } else {
                return Err(errors::SYNTAX);
            }
        }
        _ => return Err(errors::SYNTAX),
    };
    let mut names: Vec<&'static str> = Vec::new();
    for cmd in sorted_top(&c.srv.commands) {
        let mut subs: Vec<&Command> = cmd.subs.values().collect();
        subs.sort_by_key(|s| s.name);
        for x in std::iter::once(cmd).chain(subs) {
            let keep = match &filter {
                Filter::None => true,
                // No modules are ever loaded.
                Filter::Module => false,
                Filter::AclCat(cat) => cat.is_some_and(|b| x.spec.acl & b != 0),
                Filter::Pattern(p) => glob_match(p, x.name.as_bytes(), true),
            };
            if keep {
                names.push(x.name);
            }
        }
    }
    c.reply.array(names.len());
    for n in names {
        c.reply.bulk(n.as_bytes());
    }
    Ok(())
}

/// The spec a GETKEYS request names: `argv` starts at the command name. A container with an
/// unknown subcommand, or an unknown command, is an invalid command.
fn getkeys_spec(argv: &[&[u8]]) -> Result<&'static spec::CommandSpec, CmdError> {
    let invalid = || CmdError::new(spec::ERR_UNKNOWN_COMMAND);
    let first = argv.first().ok_or_else(invalid)?;
    let top = spec::lookup_ci(first).ok_or_else(invalid)?;
    if top.subcommands.is_empty() || argv.len() < 2 {
        return Ok(top);
    }
    spec::lookup_sub_ci(top, argv[1]).ok_or_else(invalid)
}

fn getkeys_common(c: &mut Ctx, with_flags: bool) -> CmdResult {
    let argv: Vec<&[u8]> = c.argv[2..].iter().map(|b| &b[..]).collect();
    let s = getkeys_spec(&argv)?;
    let keys = spec::get_keys(s, &argv).map_err(CmdError::new)?;
    c.reply.array(keys.len());
    for (pos, fl) in keys {
        let key = argv.get(pos).copied().unwrap_or(b"");
        if with_flags {
            c.reply.array(2);
            c.reply.bulk(key);
            let names: Vec<&str> = spec::ksflags::names(fl).collect();
            c.reply.set(names.len());
            for n in names {
                c.reply.simple(n.as_bytes());
            }
        } else {
            c.reply.bulk(key);
        }
    }
    Ok(())
}

fn getkeys(c: &mut Ctx) -> CmdResult {
    getkeys_common(c, false)
}

fn getkeysandflags(c: &mut Ctx) -> CmdResult {
    getkeys_common(c, true)
}

fn help(c: &mut Ctx) -> CmdResult {
    crate::cmd::help_reply(
        c.reply,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Describe every command of this server.",
            "COUNT",
            "    Number of commands of this server.",
            "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
            "    Names of the commands of this server, optionally filtered.",
            "INFO [<command-name> ...]",
            "    Describe the given commands (every command when none is given).",
            "DOCS [<command-name> ...]",
            "    Documentation of the given commands (every command when none is given).",
            "GETKEYS <full-command>",
            "    The key arguments of a full command.",
            "GETKEYSANDFLAGS <full-command>",
            "    The key arguments of a full command, with their access flags.",
        ],
    );
    Ok(())
}
