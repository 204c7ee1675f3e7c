//! Command-line options of `ferrokv-loadgen` and the workloads it can generate.

use std::time::Duration;

/// The usage text printed by `--help` and after an invalid option.
pub const USAGE: &str = "\
Usage: ferrokv-loadgen [options]

  --host H               server address (default 127.0.0.1)
  --port P               server port (default 6379)
  --connections N        connections (default 50)
  --threads T            worker threads driving the connections (default: CPUs)
  --pipeline P           requests per write on each connection (default 1)
  --duration S           run for S seconds (default 10, unless --requests)
  --requests N           stop after N requests in total instead
  --workload W           set | get | mixed | incr | hset | hget | lpush | sadd | zadd | evalsha
                         (default mixed)
  --ratio SET:GET        for mixed: e.g. 1:10 (default)
  --keyspace K           keys key:000000000000 .. K-1 (default 1000000)
  --distribution D       uniform | zipf (default uniform)
  --zipf-exponent S      (default 0.99)
  --value-size B         bytes per value (default 16)
  --prefill              write every key once before the timed part
  --ttl S                SET with EX S (prefill and the set/mixed workloads; default none)
  --seed N               seed of the key sequence (default 1)
  --json                 print the report as JSON on stdout
";

/// What each request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `SET key:<k> <value>`.
    Set,
    /// `GET key:<k>`.
    Get,
    /// SET and GET on the same keys, `set` SETs for every `get` GETs on average.
    Mixed {
        /// SET weight.
        set: u32,
        /// GET weight.
        get: u32,
    },
    /// `INCR counter:<k>`.
    Incr,
    /// `HSET hash:<k> field <value>`.
    Hset,
    /// `HGET hash:<k> field`.
    Hget,
    /// `LPUSH list:<k> <value>`.
    Lpush,
    /// `SADD set:<k> <member>` with a random member out of `keyspace`.
    Sadd,
    /// `ZADD zset:<k> <score> <member>` with a random member out of `keyspace`.
    Zadd,
    /// `EVALSHA <sha> 1 counter:<k>` of `return redis.call('INCR', KEYS[1])`.
    Evalsha,
}

impl Workload {
    /// The workload named on the command line (`ratio` is used by `mixed`).
    pub fn parse(name: &str, ratio: (u32, u32)) -> Result<Workload, String> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "set" => Workload::Set,
            "get" => Workload::Get,
            "mixed" => Workload::Mixed {
                set: ratio.0,
                get: ratio.1,
            },
            "incr" => Workload::Incr,
            "hset" => Workload::Hset,
            "hget" => Workload::Hget,
            "lpush" => Workload::Lpush,
            "sadd" => Workload::Sadd,
            "zadd" => Workload::Zadd,
            "evalsha" => Workload::Evalsha,
            other => return Err(format!("unknown workload {other:?}")),
        })
    }

    /// The command names this workload sends, in the order of the per-command counters.
    pub fn op_names(self) -> &'static [&'static str] {
        match self {
            Workload::Set => &["SET"],
            Workload::Get => &["GET"],
            Workload::Mixed { .. } => &["SET", "GET"],
            Workload::Incr => &["INCR"],
            Workload::Hset => &["HSET"],
            Workload::Hget => &["HGET"],
            Workload::Lpush => &["LPUSH"],
            Workload::Sadd => &["SADD"],
            Workload::Zadd => &["ZADD"],
            Workload::Evalsha => &["EVALSHA"],
        }
    }

    /// Short name for reports (`mixed` includes its ratio).
    pub fn label(self) -> String {
        match self {
            Workload::Mixed { set, get } => format!("mixed {set}:{get}"),
            other => other.op_names()[0].to_ascii_lowercase(),
        }
    }
}

/// Which keys requests touch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    /// All keys equally likely.
    Uniform,
    /// Zipf with the given exponent: key 0 is the hottest.
    Zipf(f64),
}

/// When the timed part ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAt {
    /// After this much wall time (requests in flight are completed).
    Duration(Duration),
    /// After this many requests over all connections.
    Requests(u64),
}

/// Every option of one run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Number of client connections.
    pub connections: usize,
    /// Worker threads of the runtime that drives the connections.
    pub threads: usize,
    /// Requests written together on one connection before its replies are awaited.
    pub pipeline: usize,
    /// End of the timed part.
    pub stop: StopAt,
    /// What the requests do.
    pub workload: Workload,
    /// Number of distinct keys.
    pub keyspace: u64,
    /// How keys are chosen.
    pub distribution: Distribution,
    /// Bytes per written value.
    pub value_size: usize,
    /// Write every key once before timing starts.
    pub prefill: bool,
    /// `EX` seconds added to every string SET (prefill, `set`, `mixed`); 0 = no TTL.
    pub ttl: u64,
    /// Seed of every connection's key sequence.
    pub seed: u64,
    /// Print JSON instead of text.
    pub json: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            host: "127.0.0.1".into(),
            port: 6379,
            connections: 50,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            pipeline: 1,
            stop: StopAt::Duration(Duration::from_secs(10)),
            workload: Workload::Mixed { set: 1, get: 10 },
            keyspace: 1_000_000,
            distribution: Distribution::Uniform,
            value_size: 16,
            prefill: false,
            ttl: 0,
            seed: 1,
            json: false,
        }
    }
}

/// Parses `SET:GET` such as `1:10`; at least one side must be non-zero.
pub fn parse_ratio(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("bad --ratio {s:?} (want SET:GET, e.g. 1:10)");
    let (a, b) = s.split_once(':').ok_or_else(bad)?;
    let a: u32 = a.trim().parse().map_err(|_| bad())?;
    let b: u32 = b.trim().parse().map_err(|_| bad())?;
    if a == 0 && b == 0 {
        return Err(bad());
    }
    Ok((a, b))
}

/// Parses the command line (without the program name). `Ok(None)` means `--help` was asked.
pub fn parse_args(args: &[String]) -> Result<Option<Config>, String> {
    let mut c = Config::default();
    let mut workload = "mixed".to_string();
    let mut ratio = (1, 10);
    let mut dist = "uniform".to_string();
    let mut exponent = 0.99f64;
    let mut it = args.iter();
    while let Some(opt) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("bad value {v:?} for {name}"))
        }
        match opt.as_str() {
            "-h" | "--help" => return Ok(None),
            "--host" => c.host = val(opt)?,
            "--port" | "-p" => c.port = num(opt, val(opt)?)?,
            "--connections" | "-c" => c.connections = num(opt, val(opt)?)?,
            "--threads" => c.threads = num(opt, val(opt)?)?,
            "--pipeline" | "-P" => c.pipeline = num(opt, val(opt)?)?,
            "--duration" => {
                let s: f64 = num(opt, val(opt)?)?;
                if !(s > 0.0 && s < 1e6) {
                    return Err("--duration must be > 0".into());
                }
                c.stop = StopAt::Duration(Duration::from_secs_f64(s));
            }
            "--requests" | "-n" => c.stop = StopAt::Requests(num(opt, val(opt)?)?),
            "--workload" => workload = val(opt)?,
            "--ratio" => ratio = parse_ratio(&val(opt)?)?,
            "--keyspace" => c.keyspace = num(opt, val(opt)?)?,
            "--distribution" => dist = val(opt)?,
            "--zipf-exponent" => exponent = num(opt, val(opt)?)?,
            "--value-size" | "-d" => c.value_size = num(opt, val(opt)?)?,
            "--prefill" => c.prefill = true,
            "--ttl" => c.ttl = num(opt, val(opt)?)?,
            "--seed" => c.seed = num(opt, val(opt)?)?,
            "--json" => c.json = true,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    c.workload = Workload::parse(&workload, ratio)?;
    c.distribution = match dist.as_str() {
        "uniform" => Distribution::Uniform,
        "zipf" => {
            if !(exponent >= 0.0 && exponent.is_finite()) {
                return Err("--zipf-exponent must be >= 0".into());
            }
            Distribution::Zipf(exponent)
        }
        other => return Err(format!("unknown distribution {other:?} (uniform or zipf)")),
    };
    if c.connections == 0 || c.threads == 0 || c.pipeline == 0 || c.keyspace == 0 {
        return Err("--connections, --threads, --pipeline and --keyspace must be >= 1".into());
    }
    if c.stop == StopAt::Requests(0) {
        return Err("--requests must be >= 1".into());
    }
    Ok(Some(c))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults_and_options() {
        let c = parse_args(&[]).unwrap().unwrap();
        assert_eq!(c.connections, 50);
        assert_eq!(c.keyspace, 1_000_000);
        assert_eq!(c.workload, Workload::Mixed { set: 1, get: 10 });
        let c = parse_args(&args(
            "--port 7000 -c 500 --pipeline 16 --requests 99 --workload mixed --ratio 3:1 \
             --distribution zipf --zipf-exponent 1.1 --value-size 1024 --prefill --seed 9 --json \
             --ttl 60",
        ))
        .unwrap()
        .unwrap();
        assert_eq!((c.port, c.connections, c.pipeline), (7000, 500, 16));
        assert_eq!(c.stop, StopAt::Requests(99));
        assert_eq!(c.workload, Workload::Mixed { set: 3, get: 1 });
        assert_eq!(c.distribution, Distribution::Zipf(1.1));
        assert!(c.prefill && c.json && c.seed == 9 && c.value_size == 1024 && c.ttl == 60);
        assert!(parse_args(&args("--help")).unwrap().is_none());
    }

    #[test]
    fn rejects_bad_values() {
        for bad in [
            "--workload nope",
            "--ratio 1",
            "--ratio 0:0",
            "--connections 0",
            "--port",
            "--distribution normal",
            "--duration -1",
            "--bogus",
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad}");
        }
    }
}
