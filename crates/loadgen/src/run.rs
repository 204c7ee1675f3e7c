//! Driving the connections: prefill, the timed closed loop (one tokio task per connection, each
//! writing `pipeline` requests and reading all their replies before the next batch), latency
//! recording and the merged report.

use crate::config::{Config, Distribution, StopAt, Workload};
use crate::keys::{push_key, KeyDist, Rng, Zipf};
use crate::resp::{encode_command, push_decimal, scan_reply};
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

/// The script `evalsha` runs: one INCR through `redis.call`, as in bench/compare.py.
pub const EVALSHA_SCRIPT: &str = "return redis.call('INCR', KEYS[1])";

/// Highest latency the histograms can hold (longer requests are clamped to it).
const MAX_LATENCY_NS: u64 = 120_000_000_000;

/// Keys of successful writes each connection remembers for the report.
const WRITTEN_SAMPLES_PER_CONN: usize = 2;

/// Most keys [`Report::keys_written`] lists.
const WRITTEN_SAMPLES_MAX: usize = 32;

/// Latency and count of one command name.
#[derive(Debug, Clone)]
pub struct OpStats {
    /// Command name (`SET`, `GET`, ...).
    pub name: &'static str,
    /// Replies received, errors included.
    pub count: u64,
    /// Send-to-reply latency of each request in nanoseconds.
    pub hist: Histogram<u64>,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Wall time of the timed part.
    pub elapsed: Duration,
    /// Replies received in the timed part.
    pub requests: u64,
    /// Per-command counts and latency.
    pub ops: Vec<OpStats>,
    /// All requests' latency together.
    pub hist: Histogram<u64>,
    /// Error replies (`-ERR ...`) in the timed part.
    pub errors: u64,
    /// The first error reply or connection failure seen, for diagnosis.
    pub error_sample: Option<String>,
    /// Connections that failed (I/O or protocol error) and stopped early.
    pub connection_errors: u64,
    /// Some keys that were written with a successful reply in the timed part.
    pub keys_written: Vec<String>,
    /// Keys written by `--prefill`, and how long it took.
    pub prefill: Option<(u64, Duration)>,
}

fn new_hist() -> Histogram<u64> {
    // Bounds are constants that are valid for hdrhistogram; fall back to auto-resizing if not.
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
        .or_else(|_| Histogram::new(3))
        .unwrap_or_else(|_| unreachable_hist())
}

#[allow(clippy::panic)]
fn unreachable_hist() -> Histogram<u64> {
    panic!("hdrhistogram rejected 3 significant digits")
}

/// The key prefix and whether the workload writes.
fn prefix(w: Workload) -> &'static [u8] {
    match w {
        Workload::Set | Workload::Get | Workload::Mixed { .. } => b"key:",
        Workload::Incr | Workload::Evalsha => b"counter:",
        Workload::Hset | Workload::Hget => b"hash:",
        Workload::Lpush => b"list:",
        Workload::Sadd => b"set:",
        Workload::Zadd => b"zset:",
    }
}

/// Builds requests of one workload on one connection.
struct Generator {
    workload: Workload,
    /// `EX` argument for SETs, empty for none.
    ttl: Vec<u8>,
    dist: KeyDist,
    keyspace: u64,
    rng: Rng,
    value: Vec<u8>,
    sha: Vec<u8>,
    key: Vec<u8>,
    member: Vec<u8>,
}

impl Generator {
    /// Appends one request to `out`; returns the index of its command in `op_names`, and whether
    /// it writes `self.key`.
    fn push(&mut self, out: &mut Vec<u8>) -> (usize, bool) {
        let idx = self.dist.sample(&mut self.rng);
        self.key.clear();
        push_key(&mut self.key, prefix(self.workload), idx);
        let key = self.key.as_slice();
        match self.workload {
            Workload::Set => {
                encode_set(out, key, &self.value, &self.ttl);
                (0, true)
            }
            Workload::Get => {
                encode_command(out, &[b"GET", key]);
                (0, false)
            }
            Workload::Mixed { set, get } => {
                let total = u64::from(set) + u64::from(get);
                if self.rng.below(total) < u64::from(set) {
                    encode_set(out, key, &self.value, &self.ttl);
                    (0, true)
                } else {
                    encode_command(out, &[b"GET", key]);
                    (1, false)
                }
            }
            Workload::Incr => {
                encode_command(out, &[b"INCR", key]);
                (0, true)
            }
            Workload::Hset => {
                encode_command(out, &[b"HSET", key, b"field", &self.value]);
                (0, true)
            }
            Workload::Hget => {
                encode_command(out, &[b"HGET", key, b"field"]);
                (0, false)
            }
            Workload::Lpush => {
                encode_command(out, &[b"LPUSH", key, &self.value]);
                (0, true)
            }
            Workload::Sadd | Workload::Zadd => {
                let m = self.rng.below(self.keyspace);
                self.member.clear();
                push_key(&mut self.member, b"m:", m);
                if self.workload == Workload::Sadd {
                    encode_command(out, &[b"SADD", key, &self.member]);
                } else {
                    let mut score = Vec::new();
                    push_decimal(&mut score, m);
                    encode_command(out, &[b"ZADD", key, &score, &self.member]);
                }
                (0, true)
            }
            Workload::Evalsha => {
                encode_command(out, &[b"EVALSHA", &self.sha, b"1", key]);
                (0, true)
            }
        }
    }
}

/// `SET key value`, with `EX ttl` when `ttl` is not empty.
fn encode_set(out: &mut Vec<u8>, key: &[u8], value: &[u8], ttl: &[u8]) {
    if ttl.is_empty() {
        encode_command(out, &[b"SET", key, value]);
    } else {
        encode_command(out, &[b"SET", key, value, b"EX", ttl]);
    }
}

/// The `EX` argument for `cfg.ttl` (empty when there is no TTL).
fn ttl_arg(cfg: &Config) -> Vec<u8> {
    let mut t = Vec::new();
    if cfg.ttl > 0 {
        push_decimal(&mut t, cfg.ttl);
    }
    t
}

/// What one connection task hands back.
struct ConnResult {
    ops: Vec<OpStats>,
    errors: u64,
    error_sample: Option<String>,
    failed: bool,
    written: Vec<String>,
}

/// Reads from `stream` into `buf[*len..]`, growing it when full. Errors on EOF.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>, len: &mut usize) -> Result<(), String> {
    if *len == buf.len() {
        let n = buf.len() * 2;
        buf.resize(n, 0);
    }
    let n = stream
        .read(&mut buf[*len..])
        .await
        .map_err(|e| format!("read: {e}"))?;
    if n == 0 {
        return Err("server closed the connection".into());
    }
    *len += n;
    Ok(())
}

/// Sends `count` pre-encoded requests and waits for their replies; returns the first error
/// reply's text if any (the replies must all arrive either way).
async fn roundtrip(
    stream: &mut TcpStream,
    out: &[u8],
    count: usize,
    buf: &mut Vec<u8>,
) -> Result<Option<String>, String> {
    stream
        .write_all(out)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let (mut pos, mut len, mut got) = (0usize, 0usize, 0usize);
    let mut first_err = None;
    while got < count {
        match scan_reply(&buf[pos..len]).map_err(|e| e.to_string())? {
            Some(info) => {
                if info.is_error && first_err.is_none() {
                    first_err = Some(
                        String::from_utf8_lossy(&buf[pos..pos + info.len])
                            .trim_end()
                            .to_string(),
                    );
                }
                pos += info.len;
                got += 1;
            }
            None => {
                buf.copy_within(pos..len, 0);
                len -= pos;
                pos = 0;
                fill(stream, buf, &mut len).await?;
            }
        }
    }
    Ok(first_err)
}

async fn connect(cfg: &Config) -> Result<TcpStream, String> {
    let s = TcpStream::connect((cfg.host.as_str(), cfg.port))
        .await
        .map_err(|e| format!("connect {}:{}: {e}", cfg.host, cfg.port))?;
    s.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    Ok(s)
}

/// Writes every key once (`SET`, `HSET` or, for counters, `SET k 0`), over up to 16 connections.
async fn prefill(cfg: &Config) -> Result<(u64, Duration), String> {
    let t0 = Instant::now();
    let conns = cfg.connections.clamp(1, 16) as u64;
    let per = cfg.keyspace.div_ceil(conns);
    let mut tasks = Vec::new();
    for c in 0..conns {
        let cfg = cfg.clone();
        let (lo, hi) = (c * per, ((c + 1) * per).min(cfg.keyspace));
        tasks.push(tokio::spawn(async move {
            let mut s = connect(&cfg).await?;
            let value = vec![b'x'; cfg.value_size];
            let ttl = ttl_arg(&cfg);
            let (mut out, mut key, mut buf) = (Vec::new(), Vec::new(), vec![0u8; 1 << 16]);
            let mut i = lo;
            while i < hi {
                let end = (i + 512).min(hi);
                out.clear();
                for k in i..end {
                    key.clear();
                    push_key(&mut key, prefix(cfg.workload), k);
                    match cfg.workload {
                        Workload::Hset | Workload::Hget => {
                            encode_command(&mut out, &[b"HSET", &key, b"field", &value])
                        }
                        Workload::Incr | Workload::Evalsha => {
                            encode_command(&mut out, &[b"SET", &key, b"0"])
                        }
                        Workload::Lpush => encode_command(&mut out, &[b"RPUSH", &key, &value]),
                        Workload::Sadd => encode_command(&mut out, &[b"SADD", &key, b"m:0"]),
                        Workload::Zadd => encode_command(&mut out, &[b"ZADD", &key, b"0", b"m:0"]),
                        _ => encode_set(&mut out, &key, &value, &ttl),
                    }
                }
                if let Some(e) = roundtrip(&mut s, &out, (end - i) as usize, &mut buf).await? {
                    return Err(format!("prefill: {e}"));
                }
                i = end;
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| format!("prefill task: {e}"))??;
    }
    Ok((cfg.keyspace, t0.elapsed()))
}

/// `SCRIPT LOAD` of [`EVALSHA_SCRIPT`]; returns the SHA1 the server answers.
async fn load_script(cfg: &Config) -> Result<Vec<u8>, String> {
    let mut s = connect(cfg).await?;
    let mut out = Vec::new();
    encode_command(&mut out, &[b"SCRIPT", b"LOAD", EVALSHA_SCRIPT.as_bytes()]);
    s.write_all(&out).await.map_err(|e| format!("write: {e}"))?;
    let (mut buf, mut len) = (vec![0u8; 256], 0usize);
    loop {
        if let Some(info) = scan_reply(&buf[..len]).map_err(|e| e.to_string())? {
            let reply = &buf[..info.len];
            // "$40\r\n<sha>\r\n"
            return match reply.iter().position(|&b| b == b'\n') {
                Some(nl) if reply.first() == Some(&b'$') => {
                    Ok(reply[nl + 1..reply.len() - 2].to_vec())
                }
                _ => Err(format!(
                    "SCRIPT LOAD answered {:?}",
                    String::from_utf8_lossy(reply)
                )),
            };
        }
        fill(&mut s, &mut buf, &mut len).await?;
    }
}

/// One connection's closed loop until the stop condition. Before it starts, the connection
/// does one untimed `PING` round trip and then waits at `start` for all the others, so that the
/// timed part does not include the server accepting hundreds of connections.
async fn drive(
    mut stream: TcpStream,
    mut gen: Generator,
    pipeline: usize,
    duration: Option<Duration>,
    budget: Arc<AtomicI64>,
    start: Arc<Barrier>,
) -> ConnResult {
    let names = gen.workload.op_names();
    let mut res = ConnResult {
        ops: names
            .iter()
            .map(|&name| OpStats {
                name,
                count: 0,
                hist: new_hist(),
            })
            .collect(),
        errors: 0,
        error_sample: None,
        failed: false,
        written: Vec::new(),
    };
    let mut out = Vec::with_capacity(pipeline * (64 + gen.value.len()));
    let mut kinds: Vec<usize> = Vec::with_capacity(pipeline);
    let mut buf = vec![0u8; 1 << 16];
    let warm = roundtrip(&mut stream, b"*1\r\n$4\r\nPING\r\n", 1, &mut buf).await;
    start.wait().await;
    if let Err(e) = warm {
        res.failed = true;
        res.error_sample = Some(e);
        return res;
    }
    let deadline = duration.map(|d| Instant::now() + d);
    let (mut pos, mut len) = (0usize, 0usize);
    loop {
        let n = match deadline {
            Some(d) => {
                if Instant::now() >= d {
                    break;
                }
                pipeline
            }
            None => {
                let before = budget.fetch_sub(pipeline as i64, Ordering::Relaxed);
                if before <= 0 {
                    break;
                }
                (before as usize).min(pipeline)
            }
        };
        out.clear();
        kinds.clear();
        let mut sample: Option<(usize, Vec<u8>)> = None;
        for i in 0..n {
            let (k, writes) = gen.push(&mut out);
            kinds.push(k);
            if writes && sample.is_none() && res.written.len() < WRITTEN_SAMPLES_PER_CONN {
                sample = Some((i, gen.key.clone()));
            }
        }
        let t0 = Instant::now();
        if let Err(e) = stream.write_all(&out).await {
            res.failed = true;
            res.error_sample.get_or_insert(format!("write: {e}"));
            break;
        }
        let mut got = 0usize;
        let mut now = t0;
        let mut failed = None;
        while got < n {
            match scan_reply(&buf[pos..len]) {
                Ok(Some(info)) => {
                    let op = &mut res.ops[kinds[got]];
                    op.count += 1;
                    let ns = (now - t0).as_nanos().min(u128::from(MAX_LATENCY_NS)) as u64;
                    op.hist.saturating_record(ns.max(1));
                    if info.is_error {
                        res.errors += 1;
                        if res.error_sample.is_none() {
                            let text = String::from_utf8_lossy(&buf[pos..pos + info.len]);
                            res.error_sample = Some(text.trim_end().to_string());
                        }
                    } else if let Some((i, key)) = &sample {
                        if *i == got {
                            res.written.push(String::from_utf8_lossy(key).into_owned());
                        }
                    }
                    pos += info.len;
                    got += 1;
                }
                Ok(None) => {
                    if pos > 0 {
                        buf.copy_within(pos..len, 0);
                        len -= pos;
                        pos = 0;
                    }
                    if let Err(e) = fill(&mut stream, &mut buf, &mut len).await {
                        failed = Some(e);
                        break;
                    }
                    now = Instant::now();
                }
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            }
        }
        if let Some(e) = failed {
            res.failed = true;
            res.error_sample.get_or_insert(e);
            break;
        }
        if pos == len {
            pos = 0;
            len = 0;
        }
    }
    res
}

/// Runs the whole benchmark described by `cfg` on a fresh multi-thread runtime.
pub fn run(cfg: &Config) -> Result<Report, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(run_async(cfg))
}

async fn run_async(cfg: &Config) -> Result<Report, String> {
    let prefilled = if cfg.prefill {
        Some(prefill(cfg).await?)
    } else {
        None
    };
    let sha = if cfg.workload == Workload::Evalsha {
        load_script(cfg).await?
    } else {
        Vec::new()
    };
    let dist = match cfg.distribution {
        Distribution::Uniform => KeyDist::Uniform(cfg.keyspace),
        Distribution::Zipf(s) => KeyDist::Zipf(Arc::new(Zipf::new(cfg.keyspace, s))),
    };
    let mut streams = Vec::with_capacity(cfg.connections);
    for _ in 0..cfg.connections {
        streams.push(connect(cfg).await?);
    }
    let budget = Arc::new(AtomicI64::new(match cfg.stop {
        StopAt::Requests(n) => i64::try_from(n).unwrap_or(i64::MAX),
        StopAt::Duration(_) => 0,
    }));
    let duration = match cfg.stop {
        StopAt::Duration(d) => Some(d),
        StopAt::Requests(_) => None,
    };
    let barrier = Arc::new(Barrier::new(cfg.connections + 1));
    let mut tasks = Vec::with_capacity(cfg.connections);
    for (i, stream) in streams.into_iter().enumerate() {
        let gen = Generator {
            workload: cfg.workload,
            ttl: ttl_arg(cfg),
            dist: dist.clone(),
            keyspace: cfg.keyspace,
            rng: Rng::new(cfg.seed ^ (i as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F)),
            value: vec![b'x'; cfg.value_size],
            sha: sha.clone(),
            key: Vec::with_capacity(32),
            member: Vec::with_capacity(32),
        };
        tasks.push(tokio::spawn(drive(
            stream,
            gen,
            cfg.pipeline,
            duration,
            budget.clone(),
            barrier.clone(),
        )));
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut results = Vec::with_capacity(tasks.len());
    for t in tasks {
        results.push(t.await.map_err(|e| format!("connection task: {e}"))?);
    }
    let elapsed = start.elapsed();
    let mut report = Report {
        elapsed,
        requests: 0,
        ops: cfg
            .workload
            .op_names()
            .iter()
            .map(|&name| OpStats {
                name,
                count: 0,
                hist: new_hist(),
            })
            .collect(),
        hist: new_hist(),
        errors: 0,
        error_sample: None,
        connection_errors: 0,
        keys_written: Vec::new(),
        prefill: prefilled,
    };
    for r in results {
        for (into, from) in report.ops.iter_mut().zip(&r.ops) {
            into.count += from.count;
            // Same bounds on both sides: adding cannot fail except by saturation.
            let _ = into.hist.add(&from.hist);
            let _ = report.hist.add(&from.hist);
        }
        report.errors += r.errors;
        report.connection_errors += u64::from(r.failed);
        if report.error_sample.is_none() {
            report.error_sample = r.error_sample;
        }
        let room = WRITTEN_SAMPLES_MAX.saturating_sub(report.keys_written.len());
        report.keys_written.extend(r.written.into_iter().take(room));
    }
    report.requests = report.ops.iter().map(|o| o.count).sum();
    Ok(report)
}
