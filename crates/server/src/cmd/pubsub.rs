//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE,
//! PUBLISH, SPUBLISH and the PUBSUB introspection subcommands. The registry and delivery are
//! in [`crate::pubsub`].

use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdResult};
use crate::pubsub::{self, Kind, Publisher};
use bytes::Bytes;

/// Binds the Pub/Sub commands.
pub fn register(t: &mut CommandTable) {
    t.add("subscribe", subscribe, Locking::None);
    t.add("unsubscribe", unsubscribe, Locking::None);
    t.add("psubscribe", psubscribe, Locking::None);
    t.add("punsubscribe", punsubscribe, Locking::None);
    t.add("ssubscribe", ssubscribe, Locking::None);
    t.add("sunsubscribe", sunsubscribe, Locking::None);
    t.add("publish", publish, Locking::None);
    t.add("spublish", spublish, Locking::None);
    t.add("pubsub|channels", channels, Locking::None);
    t.add("pubsub|shardchannels", shardchannels, Locking::None);
    t.add("pubsub|numsub", numsub, Locking::None);
    t.add("pubsub|shardnumsub", shardnumsub, Locking::None);
    t.add("pubsub|numpat", numpat, Locking::None);
    t.add("pubsub|help", help, Locking::None);
}

fn sub(c: &mut Ctx, kind: Kind) -> CmdResult {
    let names = c.argv.get(1..).unwrap_or_default();
    let handle = c.client.handle.clone();
    pubsub::subscribe(c.srv, &handle, &mut c.client.subs, c.reply, kind, names);
    Ok(())
}

fn unsub(c: &mut Ctx, kind: Kind) -> CmdResult {
    let names: &[Bytes] = c.argv.get(1..).unwrap_or_default();
    pubsub::unsubscribe(c.srv, &mut c.client.subs, Some(c.reply), kind, names);
    Ok(())
}

fn subscribe(c: &mut Ctx) -> CmdResult {
    sub(c, Kind::Channel)
}

fn psubscribe(c: &mut Ctx) -> CmdResult {
    sub(c, Kind::Pattern)
}

fn ssubscribe(c: &mut Ctx) -> CmdResult {
    sub(c, Kind::Shard)
}

fn unsubscribe(c: &mut Ctx) -> CmdResult {
    unsub(c, Kind::Channel)
}

fn punsubscribe(c: &mut Ctx) -> CmdResult {
    unsub(c, Kind::Pattern)
}

fn sunsubscribe(c: &mut Ctx) -> CmdResult {
    unsub(c, Kind::Shard)
}

fn publish(c: &mut Ctx) -> CmdResult {
    let (ch, msg) = (c.arg(1), c.arg(2));
    let me = Publisher::of(c.client, c.reply.proto());
    let n = c.srv.pubsub.publish(c.srv, ch, msg, Some(me));
    c.reply.int(n as i64);
    Ok(())
}

fn spublish(c: &mut Ctx) -> CmdResult {
    let (ch, msg) = (c.arg(1), c.arg(2));
    let me = Publisher::of(c.client, c.reply.proto());
    let n = c.srv.pubsub.spublish(c.srv, ch, msg, Some(me));
    c.reply.int(n as i64);
    Ok(())
}

/// The optional pattern of PUBSUB CHANNELS / SHARDCHANNELS (at most one).
fn pattern_arg<'a>(c: &Ctx<'a, '_>) -> Result<Option<&'a [u8]>, errors::CmdError> {
    match c.argv.len() {
        2 => Ok(None),
        3 => Ok(Some(c.arg(2))),
        _ => Err(errors::bad_subcommand_args(c.arg(1), "PUBSUB")),
    }
}

fn list_names(c: &mut Ctx, names: Vec<Bytes>) {
    c.reply.array(names.len());
    for n in names {
        c.reply.bulk(&n);
    }
}

fn channels(c: &mut Ctx) -> CmdResult {
    let pat = pattern_arg(c)?;
    let names = c.srv.pubsub.channel_names(pat);
    list_names(c, names);
    Ok(())
}

fn shardchannels(c: &mut Ctx) -> CmdResult {
    let pat = pattern_arg(c)?;
    let names = c.srv.pubsub.shard_channel_names(pat);
    list_names(c, names);
    Ok(())
}

fn numsub(c: &mut Ctx) -> CmdResult {
    // An array of (channel, count) pairs in both protocols, as Redis 7.0 replies.
    let chans = c.argv.get(2..).unwrap_or_default();
    c.reply.array(chans.len() * 2);
    for ch in chans {
        c.reply.bulk(ch);
        c.reply.int(c.srv.pubsub.numsub(ch) as i64);
    }
    Ok(())
}

fn shardnumsub(c: &mut Ctx) -> CmdResult {
    let chans = c.argv.get(2..).unwrap_or_default();
    c.reply.array(chans.len() * 2);
    for ch in chans {
        c.reply.bulk(ch);
        c.reply.int(c.srv.pubsub.shard_numsub(ch) as i64);
    }
    Ok(())
}

fn numpat(c: &mut Ctx) -> CmdResult {
    c.reply.int(c.srv.pubsub.pattern_count() as i64);
    Ok(())
}

const HELP: &[&str] = &[
    "CHANNELS [<pattern>]",
    "    List the channels that have subscribers, optionally only those matching <pattern>.",
    "NUMPAT",
    "    Count the distinct patterns clients are subscribed to.",
    "NUMSUB [<channel> ...]",
    "    For each <channel>, its number of direct subscribers (pattern subscribers are not",
    "    counted).",
    "SHARDCHANNELS [<pattern>]",
    "    List the shard channels that have subscribers, optionally only those matching <pattern>.",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    For each shard channel, its number of subscribers.",
];

fn help(c: &mut Ctx) -> CmdResult {
    crate::cmd::help_reply(c.reply, "PUBSUB", HELP);
    Ok(())
}
