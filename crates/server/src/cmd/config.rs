//! CONFIG GET / SET / RESETSTAT / REWRITE / HELP over [`crate::config::Config`].
//!
//! CONFIG SET validates every pair before changing anything (the config module does that) and
//! then applies the side effects through [`Server::apply_config`](crate::server::Server::apply_config).
//! Protected parameters may be set from loopback clients when `enable-protected-configs` is
//! `local`.

use crate::cmd::help_reply;
use crate::cmd::info::{reset_command_stats, reset_shard_stats};
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{self, CmdError, CmdResult};

/// Binds the group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("config|get", get, Locking::None);
    t.add("config|set", set, Locking::None);
    t.add("config|resetstat", resetstat, Locking::None);
    t.add("config|rewrite", rewrite, Locking::None);
    t.add("config|help", help, Locking::None);
}

fn get(c: &mut Ctx) -> CmdResult {
    let patterns: Vec<&[u8]> = c.argv[2..].iter().map(|b| &b[..]).collect();
    let found = c.srv.config.read().get_matching_raw(&patterns);
    c.reply.map(found.len());
    for (name, value) in found {
        c.reply.bulk(name.as_bytes());
        c.reply.bulk(&value);
    }
    Ok(())
}

fn set(c: &mut Ctx) -> CmdResult {
    if !c.argv.len().is_multiple_of(2) {
        return Err(errors::SYNTAX);
    }
    let pairs: Vec<(&[u8], &[u8])> = c.argv[2..]
        .chunks(2)
        .map(|p| (&p[0][..], &p[1][..]))
        .collect();
    let local = c.client.handle.addr.ip().is_loopback();
    let changed = c
        .srv
        .config
        .write()
        .set_many_from(&pairs, local)
        .map_err(CmdError::from)?;
    c.srv.apply_config_held(&changed, Some(&mut c.locks));
    c.reply.ok();
    Ok(())
}

fn resetstat(c: &mut Ctx) -> CmdResult {
    // Counters this connection has not published yet belong to the period being reset.
    c.srv.flush_batch(c.client);
    c.srv.stats.reset();
    c.srv.metrics.reset();
    reset_command_stats(c.srv);
    reset_shard_stats(c);
    c.reply.ok();
    Ok(())
}

fn rewrite(c: &mut Ctx) -> CmdResult {
    c.srv.config.read().rewrite().map_err(CmdError::from)?;
    crate::log_notice!("CONFIG REWRITE executed with success.");
    c.reply.ok();
    Ok(())
}

fn help(c: &mut Ctx) -> CmdResult {
    help_reply(
        c.reply,
        "CONFIG",
        &[
            "GET <pattern> [<pattern> ...]",
            "    Values of the parameters whose names match the glob-style patterns.",
            "SET <directive> <value> [<directive> <value> ...]",
            "    Change parameters at run time; all of them or none.",
            "RESETSTAT",
            "    Zero the statistics reported by INFO.",
            "REWRITE",
            "    Write the running configuration back to the configuration file.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::server::Server;
    use ferrokv_engine::Clock;

    /// The low byte of a new key's access field: the LFU counter's initial value under LFU.
    fn new_access_low_byte(srv: &Server) -> u32 {
        let s = srv.keyspace.lock_one(0, 7).expect("shard");
        s.new_access(&Clock::at(1_000_000_000)) & 0xff
    }

    #[test]
    fn maxmemory_policy_switches_shard_access_mode() {
        let srv = Server::new(Config::defaults());
        // LRU: seconds (1_000_000 & 0xff = 64).
        assert_eq!(new_access_low_byte(&srv), 64);
        let changed = srv
            .config
            .write()
            .set_many(&[(b"maxmemory-policy", b"allkeys-lfu")])
            .expect("valid");
        assert_eq!(changed, vec!["maxmemory-policy"]);
        srv.apply_config(&changed);
        assert_eq!(new_access_low_byte(&srv), 5);
        let changed = srv
            .config
            .write()
            .set_many(&[(b"maxmemory-policy", b"volatile-lru")])
            .expect("valid");
        srv.apply_config(&changed);
        assert_eq!(new_access_low_byte(&srv), 64);
    }
}
