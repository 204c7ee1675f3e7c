//! Connection commands: PING, ECHO, SELECT, QUIT, AUTH, HELLO, RESET (CLIENT and MONITOR live in
//! [`crate::cmd::client`]).

use crate::client::ReplyMode;
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdResult};
use crate::{args, cmd_err};
use ferrokv_resp::Protocol;

/// Binds the group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("ping", ping, Locking::None);
    t.add("echo", echo, Locking::None);
    t.add("select", select, Locking::None);
    t.add("quit", quit, Locking::None);
    t.add("auth", auth, Locking::None);
    t.add("hello", hello, Locking::None);
    t.add("reset", reset, Locking::None);
}

fn ping(c: &mut Ctx) -> CmdResult {
    // RESP2 subscribed mode answers with a two-element array, as Redis.
    if c.client.subs.active() && c.reply.proto() == Protocol::Resp2 && c.argv.len() <= 2 {
        c.reply.array(2);
        c.reply.bulk(b"pong");
        c.reply.bulk(c.arg(1));
        return Ok(());
    }
    match c.argv.len() {
        1 => c.reply.simple(b"PONG"),
        2 => c.reply.bulk(c.arg(1)),
        _ => return Err(errors::wrong_arity("ping")),
    }
    Ok(())
}

fn echo(c: &mut Ctx) -> CmdResult {
    c.reply.bulk(c.arg(1));
    Ok(())
}

fn select(c: &mut Ctx) -> CmdResult {
    // Redis reads the index as a C int: anything else is "not an integer".
    let Some(db) = args::parse_i64_strict(c.arg(1)).filter(|d| i32::try_from(*d).is_ok()) else {
        return Err(errors::NOT_INTEGER);
    };
    if db < 0 || db as usize >= c.srv.keyspace.db_count() {
        return Err(errors::DB_INDEX);
    }
    c.client.db = db as u32;
    c.reply.ok();
    Ok(())
}

fn quit(c: &mut Ctx) -> CmdResult {
    c.client.close_after_reply = true;
    c.reply.ok();
    Ok(())
}

/// Checks a password for the default user (ACL users come with the ACL work).
fn check_password(c: &mut Ctx, user: Option<&[u8]>, pass: &[u8]) -> CmdResult {
    if let Some(u) = user {
        if u != b"default" {
            return Err(errors::WRONGPASS);
        }
    }
    let expected = c.srv.requirepass.read().clone();
    match expected {
        None if user.is_none() => Err(errors::AUTH_NO_PASSWORD),
        None => {
            c.client.authenticated = true;
            Ok(())
        }
        Some(p) if constant_time_eq(&p, pass) => {
            c.client.authenticated = true;
            Ok(())
        }
        Some(_) => Err(errors::WRONGPASS),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn auth(c: &mut Ctx) -> CmdResult {
    match c.argv.len() {
        2 => check_password(c, None, c.arg(1))?,
        3 => check_password(c, Some(c.arg(1)), c.arg(2))?,
        _ => return Err(errors::SYNTAX),
    }
    c.reply.ok();
    Ok(())
}

/// Redis 7.2+ wording (7.0 lacks the `<proto>`).
const HELLO_NOAUTH: errors::CmdError = errors::CmdError::new(
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
);

fn hello(c: &mut Ctx) -> CmdResult {
    let mut proto = None;
    let mut i = 1;
    if c.argv.len() >= 2 {
        let v = args::parse_i64_strict(c.arg(1)).ok_or(errors::CmdError::new(
            "ERR Protocol version is not an integer or out of range",
        ))?;
        if !(2..=3).contains(&v) {
            return Err(errors::NOPROTO);
        }
        proto = Some(if v == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        });
        i = 2;
    }
    // Options are all parsed (and the name validated) before anything takes effect.
    let mut setname = None;
    let mut credentials = None;
    while i < c.argv.len() {
        let opt = c.arg(i);
        let more = c.argv.len() - i - 1;
        if args::is(opt, "AUTH") && more >= 2 {
            credentials = Some((c.arg(i + 1), c.arg(i + 2)));
            i += 3;
        } else if args::is(opt, "SETNAME") && more >= 1 {
            let name = c.arg_bytes(i + 1);
            validate_client_name(&name)?;
            setname = Some(name);
            i += 2;
        } else {
            return Err(cmd_err!(
                "ERR Syntax error in HELLO option '{}'",
                args::text(opt)
            ));
        }
    }
    if let Some((user, pass)) = credentials {
        check_password(c, Some(user), pass)?;
    }
    if !c.client.authenticated {
        return Err(HELLO_NOAUTH);
    }
    if let Some(n) = setname {
        c.client.name = if n.is_empty() { None } else { Some(n) };
    }
    if let Some(p) = proto {
        c.reply.set_proto(p);
    }
    let r = &mut *c.reply;
    r.map(7);
    r.bulk(b"server");
    r.bulk(b"redis");
    r.bulk(b"version");
    r.bulk(crate::REDIS_VERSION.as_bytes());
    r.bulk(b"proto");
    r.int(if r.proto() == Protocol::Resp3 { 3 } else { 2 });
    r.bulk(b"id");
    r.int(c.client.id as i64);
    r.bulk(b"mode");
    r.bulk(b"standalone");
    r.bulk(b"role");
    r.bulk(b"master");
    r.bulk(b"modules");
    r.empty_array();
    Ok(())
}

/// RESET: back to the state of a fresh connection (db 0, no name, RESP2, reply mode ON,
/// no-evict/no-touch off, MONITOR off, the default user: unauthenticated when it has a
/// password). The library name/version stay, as in Redis (they describe the connection).
/// MULTI and subscriptions belong to their groups: they must be cleared here too once they exist.
fn reset(c: &mut Ctx) -> CmdResult {
    let cl = &mut *c.client;
    cl.db = 0;
    cl.name = None;
    // A reply being skipped by CLIENT REPLY SKIP stays skipped, like Redis's CLIENT_REPLY_SKIP.
    if cl.reply_mode != ReplyMode::Skip {
        cl.reply_mode = ReplyMode::On;
    }
    cl.no_evict = false;
    cl.no_touch = false;
    cl.wants_monitor = false;
    crate::cmd::transactions::reset_client(c.srv, cl);
    crate::pubsub::unsubscribe_all(c.srv, &mut cl.subs);
    crate::tracking::disable(c.srv, cl, Some(&mut c.locks));
    cl.user = "default".into();
    cl.authenticated = !c.srv.auth_required();
    c.reply.set_proto(Protocol::Resp2);
    c.reply.simple(b"RESET");
    Ok(())
}

/// Whether `v` only holds printable ASCII without spaces (client names, library name/version).
pub fn valid_client_attr(v: &[u8]) -> bool {
    v.iter().all(|ch| (b'!'..=b'~').contains(ch))
}

/// Client names cannot contain spaces, newlines or other special characters.
pub fn validate_client_name(n: &[u8]) -> CmdResult {
    if !valid_client_attr(n) {
        return Err(errors::CmdError::new(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}
