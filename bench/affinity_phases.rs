//! Phased load on the SAME connections, to measure connection migration (crates/server/src/
//! affinity.rs): e.g. ZADD on one key at pipeline 16 (connections pile up on one worker), then
//! SET on random keys (they must spread out again, SET must not be slowed).
//!
//! std only; build with `rustc -O -o /tmp/affinity_phases bench/affinity_phases.rs`.
//! Usage: affinity_phases PORT PHASES SECONDS [CONNS] [PIPELINE]
//!   PHASES: comma list of set | zadd | hset; each runs SECONDS on the same connections.
//! Prints the throughput of each phase and of each 0.5 s slice of it, and INFO's
//! `ferrokv_worker_connections` / `ferrokv_connection_migrations` at each phase end (when the
//! server has them).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn cmd(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// 64 different pipelines of `p` requests for `phase`.
fn pipelines(phase: &str, p: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
    (0..64)
        .map(|_| {
            let mut out = Vec::new();
            for _ in 0..p {
                let k = format!("key:{:012}", rng.next() % 100_000);
                let m = format!("element:{:012}", rng.next() % 100_000);
                let s = (rng.next() % 1000).to_string();
                match phase {
                    "set" => cmd(&mut out, &[b"SET", k.as_bytes(), b"xxx"]),
                    "zadd" => cmd(&mut out, &[b"ZADD", b"myzset", s.as_bytes(), m.as_bytes()]),
                    "hset" => cmd(&mut out, &[b"HSET", b"myhash", m.as_bytes(), b"xxx"]),
                    other => panic!("unknown phase {other}"),
                }
            }
            out
        })
        .collect()
}

/// Reads until `n` one-line replies (`+OK`, `:n`) are complete.
fn read_replies(s: &mut TcpStream, n: usize, chunk: &mut [u8]) {
    let mut lines = 0usize;
    while lines < n {
        let r = s.read(chunk).expect("read");
        assert!(r > 0, "server closed");
        lines += chunk[..r].iter().filter(|&&b| b == b'\n').count();
    }
}

fn info(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(b"*2\r\n$4\r\nINFO\r\n$5\r\nstats\r\n").expect("write");
    std::thread::sleep(Duration::from_millis(50));
    let mut buf = vec![0u8; 65536];
    let n = s.read(&mut buf).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.lines()
        .filter(|l| l.starts_with("ferrokv_"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let port: u16 = a.get(1).and_then(|x| x.parse().ok()).expect("PORT");
    let phases: Vec<String> = a.get(2).expect("PHASES").split(',').map(String::from).collect();
    let secs: f64 = a.get(3).and_then(|x| x.parse().ok()).expect("SECONDS");
    let conns: usize = a.get(4).and_then(|x| x.parse().ok()).unwrap_or(50);
    let p: usize = a.get(5).and_then(|x| x.parse().ok()).unwrap_or(16);
    let mut socks: Vec<TcpStream> = (0..conns)
        .map(|_| {
            let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_nodelay(true).expect("nodelay");
            s
        })
        .collect();
    let mut rng = Rng(42);
    let mut buf = vec![0u8; 65536];
    for ph in &phases {
        let pls = pipelines(ph, p, &mut rng);
        let start = Instant::now();
        let mut slice_start = start;
        let mut slice_n = 0u64;
        let mut total = 0u64;
        let mut slices = Vec::new();
        let mut i = 0usize;
        while start.elapsed().as_secs_f64() < secs {
            for s in socks.iter_mut() {
                s.write_all(&pls[i % pls.len()]).expect("write");
                i += 1;
            }
            for s in socks.iter_mut() {
                read_replies(s, p, &mut buf);
            }
            slice_n += (conns * p) as u64;
            total += (conns * p) as u64;
            if slice_start.elapsed() >= Duration::from_millis(500) {
                slices.push(slice_n as f64 / slice_start.elapsed().as_secs_f64() / 1000.0);
                slice_start = Instant::now();
                slice_n = 0;
            }
        }
        let rate = total as f64 / start.elapsed().as_secs_f64();
        let sl: Vec<String> = slices.iter().map(|x| format!("{x:.0}")).collect();
        println!(
            "{ph}: {:.0} req/s  (k req/s per 0.5 s: {})  [{}]",
            rate,
            sl.join(" "),
            info(port)
        );
    }
}
