//! The CLIENT command family and MONITOR.
//!
//! CLIENT LIST/INFO lines follow Redis 7.4's field order (with 7.2's lib-name/lib-ver and 7.4's
//! watch). Values ferrokv does not track (reply
//! buffer peaks, multi memory, ...) are shown as Redis shows them for an idle plain client;
//! tracking flags (`t`, `R`, `B`) and `redir=` come from [`crate::tracking`]. The calling client is rendered from its live state (so `cmd=` shows the
//! running command); other clients from what their connection published after its last batch.

use crate::client::{ClientHandle, ClientKind, ReplyMode, UNBLOCK_ERROR, UNBLOCK_TIMEOUT};
use crate::cmd::connection::{valid_client_attr, validate_client_name};
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdError, CmdResult};
use crate::{args, cmd_err};
use ferrokv_resp::Protocol;
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

/// Binds the group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("client|id", id, Locking::None);
    t.add("client|setname", setname, Locking::None);
    t.add("client|getname", getname, Locking::None);
    t.add("client|list", list, Locking::None);
    t.add("client|info", info, Locking::None);
    t.add("client|kill", kill, Locking::None);
    t.add("client|setinfo", setinfo, Locking::None);
    t.add("client|no-evict", no_evict, Locking::None);
    t.add("client|no-touch", no_touch, Locking::None);
    t.add("client|reply", reply, Locking::None);
    t.add("client|pause", pause, Locking::None);
    t.add("client|unpause", unpause, Locking::None);
    t.add("client|getredir", getredir, Locking::None);
    t.add("client|trackinginfo", trackinginfo, Locking::None);
    t.add("client|tracking", tracking, Locking::None);
    t.add("client|caching", caching, Locking::None);
    t.add("client|unblock", unblock, Locking::None);
    t.add("client|help", help, Locking::None);
    t.add("monitor", monitor, Locking::None);
}

fn id(c: &mut Ctx) -> CmdResult {
    c.reply.int(c.client.id as i64);
    Ok(())
}

fn setname(c: &mut Ctx) -> CmdResult {
    let name = c.arg_bytes(2);
    validate_client_name(&name)?;
    c.client.name = if name.is_empty() { None } else { Some(name) };
    c.reply.ok();
    Ok(())
}

fn getname(c: &mut Ctx) -> CmdResult {
    match c.client.name.clone() {
        Some(n) => c.reply.bulk(&n),
        None => c.reply.null(),
    }
    Ok(())
}

/// The `TYPE` names Redis accepts (`slave` is the old name of `replica`).
fn parse_kind(name: &[u8]) -> Result<ClientKind, CmdError> {
    if args::is(name, "normal") {
        Ok(ClientKind::Normal)
    } else if args::is(name, "replica") || args::is(name, "slave") {
        Ok(ClientKind::Replica)
    } else if args::is(name, "master") {
        Ok(ClientKind::Master)
    } else if args::is(name, "pubsub") {
        Ok(ClientKind::PubSub)
    } else {
        Err(cmd_err!("ERR Unknown client type '{}'", args::text(name)))
    }
}

/// The class a client is listed and killed under (a MONITOR client counts as normal, as in Redis).
fn kind_of(h: &ClientHandle) -> ClientKind {
    h.info.lock().kind
}

/// Appends the CLIENT LIST line of `h` (without the trailing newline). `me` is the calling
/// context when `h` is the caller itself.
fn info_line(out: &mut String, srv: &crate::server::Server, h: &ClientHandle, me: Option<&Ctx>) {
    let now = crate::util::now_ms();
    let mut i = h.info.lock().clone();
    let age = h.created.elapsed().as_secs();
    let mut name = i.name.clone();
    let mut db = i.db;
    let mut cmd = i.last_cmd;
    let mut resp = i.resp;
    let mut no_evict = i.no_evict;
    let mut no_touch = i.no_touch;
    let mut monitor = i.monitor;
    let mut lib_name = i.lib_name.clone();
    let mut lib_ver = i.lib_ver.clone();
    let mut idle = (now - h.last_interaction_ms.load(Relaxed) as i64).max(0) / 1000;
    let mut argv_mem = 0;
    if let Some(c) = me {
        name.clone_from(&c.client.name);
        db = c.client.db;
        cmd = c.cmd.name;
        resp = if c.reply.proto() == Protocol::Resp3 {
            3
        } else {
            2
        };
        no_evict = c.client.no_evict;
        i.multi = c.client.multi.as_ref().map_or(-1, |m| m.count() as i64);
        if i.multi >= 0 {
            // Inside EXEC, Redis's last command is still EXEC.
            cmd = "exec";
        }
        i.watch = c.client.watch.keys.len();
        no_touch = c.client.no_touch;
        monitor = c.client.wants_monitor;
        lib_name.clone_from(&c.client.lib_name);
        lib_ver.clone_from(&c.client.lib_ver);
        idle = 0;
        argv_mem = c.argv.iter().map(|a| a.len()).sum::<usize>();
    }
    let mut flags = String::new();
    if monitor {
        flags.push('O');
    }
    if i.kind == ClientKind::PubSub {
        flags.push('P');
    }
    if i.multi >= 0 {
        flags.push('x');
    }
    if h.blocked.load(Relaxed) {
        flags.push('b');
    }
    flags.push_str(srv.tracking.flags_of(h.id));
    // Letters other features publish (tracking, close-after-reply, ...).
    for ch in i.flags.chars() {
        if !flags.contains(ch) {
            flags.push(ch);
        }
    }
    if no_evict {
        flags.push('e');
    }
    if no_touch {
        flags.push('T');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let text = |b: &Option<bytes::Bytes>| {
        b.as_ref()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };
    let rbs = 1024;
    let tot_mem = i.qbuf + i.qbuf_free + rbs + i.omem + argv_mem + 1024;
    let _ = write!(
        out,
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} \
         multi={} watch={} qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs={} rbp=0 obl={} oll=0 omem={} \
         tot-mem={} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
        h.id,
        h.addr,
        h.laddr,
        h.fd.load(Relaxed),
        text(&name),
        age,
        idle,
        flags,
        db,
        i.sub,
        i.psub,
        i.ssub,
        i.multi,
        i.watch,
        i.qbuf,
        i.qbuf_free,
        argv_mem,
        rbs,
        if me.is_some() { 0 } else { i.obl },
        i.omem,
        tot_mem,
        cmd,
        i.user,
        srv.tracking.redir_of(h.id),
        resp,
        text(&lib_name),
        text(&lib_ver),
    );
}

/// Writes CLIENT LIST/INFO text: a verbatim string in RESP3, a bulk string in RESP2.
fn reply_text(c: &mut Ctx, s: &str) {
    c.reply.verbatim(b"txt", s.as_bytes());
}

fn list(c: &mut Ctx) -> CmdResult {
    let argc = c.argv.len();
    let mut out = String::new();
    let push = |c: &Ctx, out: &mut String, h: &ClientHandle| {
        if h.is_killed() {
            return;
        }
        let me = (h.id == c.client.id).then_some(c);
        info_line(out, c.srv, h, me);
        out.push('\n');
    };
    if argc == 4 && args::is(c.arg(2), "TYPE") {
        let kind = parse_kind(c.arg(3))?;
        for h in c.srv.clients.all() {
            if kind_of(&h) == kind {
                push(c, &mut out, &h);
            }
        }
    } else if argc > 3 && args::is(c.arg(2), "ID") {
        let mut ids = Vec::with_capacity(argc - 3);
        for i in 3..argc {
            let id =
                args::parse_i64_strict(c.arg(i)).ok_or(CmdError::new("ERR Invalid client ID"))?;
            ids.push(id);
        }
        for id in ids {
            if let Some(h) = u64::try_from(id).ok().and_then(|id| c.srv.clients.get(id)) {
                push(c, &mut out, &h);
            }
        }
    } else if argc != 2 {
        return Err(errors::SYNTAX);
    } else {
        for h in c.srv.clients.all() {
            push(c, &mut out, &h);
        }
    }
    reply_text(c, &out);
    Ok(())
}

fn info(c: &mut Ctx) -> CmdResult {
    let mut out = String::new();
    let h = c.client.handle.clone();
    info_line(&mut out, c.srv, &h, Some(c));
    out.push('\n');
    reply_text(c, &out);
    Ok(())
}

/// Filters of the new CLIENT KILL form; `None` fields match everything.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    kind: Option<ClientKind>,
    user: Option<String>,
    skipme: bool,
    max_age: Option<u64>,
}

fn kill(c: &mut Ctx) -> CmdResult {
    let argc = c.argv.len();
    if argc == 3 {
        // Old form: CLIENT KILL addr:port.
        let addr = args::text(c.arg(2));
        let Some(h) = c
            .srv
            .clients
            .all()
            .into_iter()
            .find(|h| !h.is_killed() && h.addr.to_string() == addr)
        else {
            return Err(CmdError::new("ERR No such client"));
        };
        if h.id == c.client.id {
            c.client.close_after_reply = true;
        } else {
            h.kill();
        }
        c.reply.ok();
        return Ok(());
    }
    let mut f = KillFilter {
        skipme: true,
        ..KillFilter::default()
    };
    let mut i = 2;
    while i < argc {
        let opt = c.arg(i);
        let Some(val) = c.argv.get(i + 1).map(|v| &v[..]) else {
            return Err(errors::SYNTAX);
        };
        if args::is(opt, "ID") {
            match args::parse_i64_strict(val) {
                Some(n) if n > 0 => f.id = Some(n as u64),
                _ => return Err(CmdError::new("ERR client-id should be greater than 0")),
            }
        } else if args::is(opt, "TYPE") {
            f.kind = Some(parse_kind(val)?);
        } else if args::is(opt, "ADDR") {
            f.addr = Some(args::text(val));
        } else if args::is(opt, "LADDR") {
            f.laddr = Some(args::text(val));
        } else if args::is(opt, "USER") {
            // Only the default user exists until ACLs arrive.
            if val != b"default" {
                return Err(cmd_err!("ERR No such user '{}'", args::text(val)));
            }
            f.user = Some(args::text(val));
        } else if args::is(opt, "SKIPME") {
            if args::is(val, "yes") {
                f.skipme = true;
            } else if args::is(val, "no") {
                f.skipme = false;
            } else {
                return Err(errors::SYNTAX);
            }
        } else if args::is(opt, "MAXAGE") {
            match args::parse_i64_strict(val) {
                Some(n) if n >= 0 => f.max_age = Some(n as u64),
                _ => return Err(errors::NOT_INTEGER),
            }
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    let mut killed = 0;
    for h in c.srv.clients.all() {
        let me = h.id == c.client.id;
        // A client already killed is gone for Redis (freed at once), even if its task still runs.
        if h.is_killed() {
            continue;
        }
        if f.id.is_some_and(|id| id != h.id)
            || f.addr.as_ref().is_some_and(|a| *a != h.addr.to_string())
            || f.laddr.as_ref().is_some_and(|a| *a != h.laddr.to_string())
            || f.kind.is_some_and(|k| k != kind_of(&h))
            || f.user.as_ref().is_some_and(|u| {
                let user = if me {
                    c.client.user.clone()
                } else {
                    h.info.lock().user.clone()
                };
                *u != user
            })
            || f.max_age
                .is_some_and(|m| m != 0 && h.created.elapsed().as_secs() <= m)
            || (me && f.skipme)
        {
            continue;
        }
        if me {
            c.client.close_after_reply = true;
        } else {
            h.kill();
        }
        killed += 1;
    }
    c.reply.int(killed);
    Ok(())
}

fn setinfo(c: &mut Ctx) -> CmdResult {
    let attr = c.arg(2);
    let val = c.arg_bytes(3);
    let lib_name = if args::is(attr, "lib-name") {
        true
    } else if args::is(attr, "lib-ver") {
        false
    } else {
        return Err(cmd_err!("ERR Unrecognized option '{}'", args::text(attr)));
    };
    if !valid_client_attr(&val) {
        return Err(cmd_err!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            args::text(attr)
        ));
    }
    let v = if val.is_empty() { None } else { Some(val) };
    if lib_name {
        c.client.lib_name = v;
    } else {
        c.client.lib_ver = v;
    }
    c.reply.ok();
    Ok(())
}

/// Redis's reply to a subcommand called with an argument count it does not handle.
fn sub_syntax(c: &Ctx) -> CmdError {
    cmd_err!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(c.arg(1))
            .chars()
            .take(128)
            .collect::<String>(),
        args::text(c.arg(0)).to_ascii_uppercase()
    )
}

/// Parses `ON`/`OFF` (syntax error otherwise).
fn on_off(arg: &[u8]) -> Result<bool, CmdError> {
    if args::is(arg, "on") {
        Ok(true)
    } else if args::is(arg, "off") {
        Ok(false)
    } else {
        Err(errors::SYNTAX)
    }
}

fn no_evict(c: &mut Ctx) -> CmdResult {
    c.client.no_evict = on_off(c.arg(2))?;
    c.reply.ok();
    Ok(())
}

fn no_touch(c: &mut Ctx) -> CmdResult {
    c.client.no_touch = on_off(c.arg(2))?;
    c.reply.ok();
    Ok(())
}

/// CLIENT REPLY: the connection loop drops replies according to the mode set here.
fn reply(c: &mut Ctx) -> CmdResult {
    let mode = c.arg(2);
    if args::is(mode, "on") {
        c.client.reply_mode = ReplyMode::On;
        c.reply.ok();
    } else if args::is(mode, "off") {
        c.client.reply_mode = ReplyMode::Off;
    } else if args::is(mode, "skip") {
        if c.client.reply_mode != ReplyMode::Off {
            c.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(errors::SYNTAX);
    }
    Ok(())
}

fn pause(c: &mut Ctx) -> CmdResult {
    let argc = c.argv.len();
    let ms = args::parse_i64_strict(c.arg(2)).ok_or(CmdError::new(
        "ERR timeout is not an integer or out of range",
    ))?;
    if ms < 0 {
        return Err(errors::TIMEOUT_NEGATIVE);
    }
    let all = match argc {
        3 => true,
        4 if args::is(c.arg(3), "all") => true,
        4 if args::is(c.arg(3), "write") => false,
        4 => return Err(CmdError::new("ERR CLIENT PAUSE mode must be WRITE or ALL")),
        _ => return Err(sub_syntax(c)),
    };
    let until = c.now_ms().saturating_add(ms);
    c.srv.pause.pause(until, all);
    c.reply.ok();
    Ok(())
}

fn unpause(c: &mut Ctx) -> CmdResult {
    c.srv.pause.unpause();
    c.reply.ok();
    Ok(())
}

fn getredir(c: &mut Ctx) -> CmdResult {
    let t = &c.client.tracking;
    c.reply.int(if t.on { t.redirect as i64 } else { -1 });
    Ok(())
}

fn trackinginfo(c: &mut Ctx) -> CmdResult {
    let t = c.client.tracking.clone();
    let mut flags: Vec<&[u8]> = vec![if t.on { b"on" } else { b"off" }];
    if t.bcast {
        flags.push(b"bcast");
    }
    if t.optin {
        flags.push(b"optin");
        if t.caching {
            flags.push(b"caching-yes");
        }
    }
    if t.optout {
        flags.push(b"optout");
        if t.caching {
            flags.push(b"caching-no");
        }
    }
    if t.noloop {
        flags.push(b"noloop");
    }
    if t.on && c.srv.tracking.is_broken(c.client.id) {
        flags.push(b"broken_redirect");
    }
    let prefixes = if t.on {
        c.srv.tracking.prefixes_of(c.client.id)
    } else {
        Vec::new()
    };
    let r = &mut *c.reply;
    r.map(3);
    r.bulk(b"flags");
    r.set(flags.len());
    for f in flags {
        r.bulk(f);
    }
    r.bulk(b"redirect");
    r.int(if t.on { t.redirect as i64 } else { -1 });
    r.bulk(b"prefixes");
    r.array(prefixes.len());
    for p in prefixes {
        r.bulk(&p);
    }
    Ok(())
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP], with
/// Redis's checks in Redis's order.
fn tracking(c: &mut Ctx) -> CmdResult {
    let argc = c.argv.len();
    let mut redirect: i64 = 0;
    let mut opts = crate::tracking::ClientTracking::default();
    let mut prefixes: Vec<bytes::Bytes> = Vec::new();
    let mut j = 3;
    while j < argc {
        let a = c.arg(j);
        let more = j + 1 < argc;
        if args::is(a, "redirect") && more {
            j += 1;
            if redirect != 0 {
                return Err(CmdError::new(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            redirect = args::parse_i64_strict(c.arg(j)).ok_or(errors::NOT_INTEGER)?;
            let exists = u64::try_from(redirect)
                .ok()
                .and_then(|id| c.srv.clients.get(id))
                .is_some_and(|h| !h.is_killed());
            if !exists {
                return Err(CmdError::new(
                    "ERR The client ID you want redirect to does not exist",
                ));
            }
        } else if args::is(a, "bcast") {
            opts.bcast = true;
        } else if args::is(a, "optin") {
            opts.optin = true;
        } else if args::is(a, "optout") {
            opts.optout = true;
        } else if args::is(a, "noloop") {
            opts.noloop = true;
        } else if args::is(a, "prefix") && more {
            j += 1;
            prefixes.push(c.arg_bytes(j));
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let cur = c.client.tracking.clone();
    if args::is(c.arg(2), "on") {
        if !opts.bcast && !prefixes.is_empty() {
            return Err(CmdError::new(
                "ERR PREFIX option requires BCAST mode to be enabled",
            ));
        }
        if cur.on && cur.bcast != opts.bcast {
            return Err(CmdError::new(
                "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
            ));
        }
        if opts.bcast && (opts.optin || opts.optout) {
            return Err(CmdError::new(
                "ERR OPTIN and OPTOUT are not compatible with BCAST",
            ));
        }
        if opts.optin && opts.optout {
            return Err(CmdError::new(
                "ERR You can't specify both OPTIN mode and OPTOUT mode",
            ));
        }
        if (opts.optin && cur.optout) || (opts.optout && cur.optin) {
            return Err(CmdError::new(
                "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
            ));
        }
        if opts.bcast {
            crate::tracking::check_prefixes(c.srv, c.client.id, &prefixes)
                .map_err(CmdError::from)?;
        }
        opts.redirect = redirect as u64;
        crate::tracking::enable(c.srv, c.client, opts, &prefixes, Some(&mut c.locks));
    } else if args::is(c.arg(2), "off") {
        crate::tracking::disable(c.srv, c.client, Some(&mut c.locks));
    } else {
        return Err(errors::SYNTAX);
    }
    c.reply.ok();
    Ok(())
}

/// CLIENT CACHING YES|NO: the next command's keys are (OPTIN) or are not (OPTOUT) remembered.
fn caching(c: &mut Ctx) -> CmdResult {
    let opt = c.arg(2);
    let t = &mut c.client.tracking;
    if !t.on {
        return Err(CmdError::new(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    }
    if args::is(opt, "yes") {
        if !t.optin {
            return Err(CmdError::new(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if args::is(opt, "no") {
        if !t.optout {
            return Err(CmdError::new(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(errors::SYNTAX);
    }
    t.caching = true;
    c.reply.ok();
    Ok(())
}

/// CLIENT UNBLOCK: wakes a client blocked by a blocking command (which must watch
/// `ClientHandle::unblock_notify` and `unblock_reason`). Replies 1 when a blocked client was
/// woken, 0 otherwise.
fn unblock(c: &mut Ctx) -> CmdResult {
    if c.argv.len() > 4 {
        return Err(sub_syntax(c));
    }
    let id = args::int(c.arg(2))?;
    let reason = match c.argv.len() {
        3 => UNBLOCK_TIMEOUT,
        _ if args::is(c.arg(3), "timeout") => UNBLOCK_TIMEOUT,
        _ if args::is(c.arg(3), "error") => UNBLOCK_ERROR,
        _ => {
            return Err(CmdError::new(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    let target = u64::try_from(id).ok().and_then(|id| c.srv.clients.get(id));
    let woke = match target {
        Some(h) if h.blocked.load(Relaxed) => {
            h.unblock_reason.store(reason, Relaxed);
            h.unblock_notify.notify_one();
            1
        }
        _ => 0,
    };
    c.reply.int(woke);
    Ok(())
}

/// The subcommand syntax lines are Redis's; the descriptions are ferrokv's own.
const HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Turn tracking of the next command's keys on or off (OPTIN/OPTOUT tracking).",
    "GETREDIR",
    "    Show the id of the client receiving this connection's invalidations.",
    "GETNAME",
    "    Show this connection's name.",
    "ID",
    "    Show this connection's id.",
    "INFO",
    "    Show the CLIENT LIST line of this connection.",
    "KILL <ip:port>",
    "    Close the connection coming from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Close every connection matching all the given filters:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Client address.",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Server address the client connected to.",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Client class.",
    "    * USER <username>",
    "      User the connection is authenticated as.",
    "    * SKIPME (YES|NO)",
    "      Whether to spare the calling connection (yes by default).",
    "    * ID <client-id>",
    "      Client id.",
    "    * MAXAGE <maxage>",
    "      Only connections older than <maxage> seconds.",
    "LIST [options ...]",
    "    Show one line per connection. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Only clients of this class.",
    "    * ID <client-id> [client-id ...]",
    "      Only these clients.",
    "UNPAUSE",
    "    End a client pause now.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Hold every command, or only writes, for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Choose whether this connection receives replies.",
    "SETINFO <option> <value>",
    "    Record the client library: LIB-NAME or LIB-VER.",
    "SETNAME <name>",
    "    Name this connection <name>.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Wake a client waiting in a blocking command.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Turn server-assisted client-side caching on or off.",
    "TRACKINGINFO",
    "    Show this connection's tracking settings.",
    "NO-EVICT (ON|OFF)",
    "    Exempt this connection from client eviction, or not.",
    "NO-TOUCH (ON|OFF)",
    "    Whether this connection's commands leave keys' access time unchanged.",
    "HELP",
    "    Print this help.",
];

fn help(c: &mut Ctx) -> CmdResult {
    c.reply.array(HELP.len());
    for line in HELP {
        c.reply.simple(line.as_bytes());
    }
    Ok(())
}

/// MONITOR: from the next batch on, the connection streams every command the server runs.
/// A client already monitoring gets no reply, as in Redis.
fn monitor(c: &mut Ctx) -> CmdResult {
    if c.client.nonblocking {
        // Inside EXEC (Redis's CLIENT_DENY_BLOCKING): a reply per command is expected.
        return Err(crate::errors::CmdError::new(
            "ERR MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    if c.client.wants_monitor {
        return Ok(());
    }
    c.client.wants_monitor = true;
    c.reply.ok();
    Ok(())
}
