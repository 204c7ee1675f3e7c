//! Crash-test helper: writes numbered records in `Fsync::Always` mode and prints the number of
//! each record once all its writes are acknowledged. The crash test kills it with SIGKILL at a
//! random point and checks that every printed number is still there after reopening.
//!
//! Usage: `disk-crash-writer <dir> <first-number>`

use ferrokv_engine_disk::{DiskEngine, DiskOptions, Fsync, Ttl};
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("missing <dir>")?;
    let first: u64 = args.next().ok_or("missing <first-number>")?.parse()?;
    let e = DiskEngine::open(
        &dir,
        DiskOptions {
            fsync: Fsync::Always,
            cache_bytes: 4 << 20,
            memtable_bytes: 4 << 20,
            ..DiskOptions::default()
        },
    )?;
    let mut out = std::io::stdout().lock();
    for n in first.. {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as i64;
        let k = format!("k{n}");
        let v = format!("value-{n}");
        e.set(0, k.as_bytes(), v.as_bytes(), Ttl::Persist, now)?;
        e.hset(0, b"hash", &[(k.as_bytes(), v.as_bytes())], now)?;
        e.rpush(0, b"list", &[k.as_bytes()], now)?;
        e.zadd(0, b"zset", &[(n as f64, k.as_bytes())], now)?;
        writeln!(out, "{n}")?;
        out.flush()?;
    }
    Ok(())
}
