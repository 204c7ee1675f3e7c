//! Kill -9 under write load in `Fsync::Always` mode: every acknowledged write survives.
#![allow(clippy::unwrap_used)] // tests may unwrap

use ferrokv_engine_disk::{DiskEngine, DiskOptions, Fsync};
use ferrokv_rdb::StreamId;
use rand::Rng;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the writer on `dir` from number `next`, kills it with SIGKILL at a random point and
/// returns the numbers it acknowledged.
fn run_and_kill(dir: &std::path::Path, next: u64, mode: &str, cycle: usize) -> Vec<u64> {
    let mut rng = rand::thread_rng();
    let mut acked = Vec::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_disk-crash-writer"))
        .arg(dir)
        .arg(next.to_string())
        .arg(mode)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line.trim().parse().unwrap()).is_err() {
                break;
            }
        }
    });
    let target = rng.gen_range(5..60);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = 0;
    while got < target && Instant::now() < deadline {
        if let Ok(n) = rx.recv_timeout(Duration::from_millis(100)) {
            acked.push(n);
            got += 1;
        }
    }
    assert!(got > 0, "cycle {cycle}: the writer acknowledged nothing");
    std::thread::sleep(Duration::from_millis(rng.gen_range(0..20)));
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    acked.extend(rx.try_iter());
    acked
}

#[test]
fn sigkill_never_tears_a_multi_key_apply() {
    let dir = tempfile::tempdir().unwrap();
    let mut next: u64 = 1;
    let mut acked: Vec<u64> = Vec::new();
    for cycle in 0..4 {
        acked.extend(run_and_kill(dir.path(), next, "apply", cycle));
        let max = *acked.iter().max().unwrap();
        next = max + 2;
        let e = DiskEngine::open(
            dir.path(),
            DiskOptions {
                fsync: Fsync::No,
                ..DiskOptions::default()
            },
        )
        .unwrap();
        let now = 0;
        for n in &acked {
            assert!(e.exists(0, format!("a{n}").as_bytes(), now).unwrap());
        }
        // Every batch is all or nothing: a<n> and h<n> (3 fields) together, and exactly one
        // cur<n> per run of consecutive numbers (each batch moves it).
        let mut keys = Vec::new();
        let mut cursor = 0;
        loop {
            let (c, mut k) = e.scan(0, cursor, 1000, None, None, now).unwrap();
            keys.append(&mut k);
            if c == 0 {
                break;
            }
            cursor = c;
        }
        let mut curs = 0;
        for k in &keys {
            let k = String::from_utf8(k.clone()).unwrap();
            if let Some(n) = k.strip_prefix('a') {
                let h = e.hlen(0, format!("h{n}").as_bytes(), now).unwrap();
                assert_eq!(h, 3, "cycle {cycle}: torn batch {n}");
                next = next.max(n.parse::<u64>().unwrap() + 2);
            } else if let Some(n) = k.strip_prefix('h') {
                assert!(e.exists(0, format!("a{n}").as_bytes(), now).unwrap());
            } else if k.starts_with("cur") {
                curs += 1;
            }
        }
        assert_eq!(
            e.dbsize(0, now).unwrap(),
            keys.len() as u64,
            "cycle {cycle}: DBSIZE counter after SIGKILL"
        );
        assert_eq!(curs, cycle + 1, "cycle {cycle}: one cur key per writer run");
    }
}

#[test]
fn sigkill_never_tears_a_unit_of_deltas() {
    let dir = tempfile::tempdir().unwrap();
    let mut next: u64 = 1;
    let mut acked: Vec<u64> = Vec::new();
    for cycle in 0..4 {
        acked.extend(run_and_kill(dir.path(), next, "delta", cycle));
        let e = DiskEngine::open(
            dir.path(),
            DiskOptions {
                fsync: Fsync::No,
                ..DiskOptions::default()
            },
        )
        .unwrap();
        let now = 0;
        // The last unit that reached the journal: `small`, `bh.last`, `bh.f<k>`, `bs.m<k>`
        // all agree on it (the unit after it, if any, is absent from all of them).
        let k: u64 = String::from_utf8(e.get(0, b"small", now).unwrap().unwrap())
            .unwrap()
            .parse()
            .unwrap();
        let last = e.hget(0, b"bh", b"last", now).unwrap().unwrap();
        assert_eq!(last, k.to_string().into_bytes(), "cycle {cycle}: torn unit");
        assert!(e
            .hget(0, b"bh", format!("f{k}").as_bytes(), now)
            .unwrap()
            .is_some());
        assert!(e
            .sismember(0, b"bs", format!("m{k}").as_bytes(), now)
            .unwrap());
        let after = format!("{}", k + 1);
        assert!(e
            .hget(0, b"bh", format!("f{after}").as_bytes(), now)
            .unwrap()
            .is_none());
        assert!(!e
            .sismember(0, b"bs", format!("m{after}").as_bytes(), now)
            .unwrap());
        // Nothing acknowledged is lost, and every unit is whole.
        for n in &acked {
            assert!(*n <= k, "cycle {cycle}: acknowledged {n} beyond {k}");
            let v = e.hget(0, b"bh", format!("f{n}").as_bytes(), now).unwrap();
            assert_eq!(
                v,
                Some(n.to_string().into_bytes()),
                "cycle {cycle}: lost {n}"
            );
            assert!(e
                .sismember(0, b"bs", format!("m{n}").as_bytes(), now)
                .unwrap());
        }
        let (hl, sl) = (
            e.hlen(0, b"bh", now).unwrap(),
            e.scard(0, b"bs", now).unwrap(),
        );
        assert_eq!(hl, sl + 1, "cycle {cycle}: element counts disagree");
        next = k + 2;
    }
}

#[test]
fn sigkill_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::thread_rng();
    let mut next: u64 = 0;
    let mut acked: Vec<u64> = Vec::new();
    for cycle in 0..5 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_disk-crash-writer"))
            .arg(dir.path())
            .arg(next.to_string())
            .arg("plain")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line.trim().parse().unwrap()).is_err() {
                    break;
                }
            }
        });
        // Wait until the child has acknowledged a random number of records, then kill it.
        let target = rng.gen_range(5..60);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut got = 0;
        while got < target && Instant::now() < deadline {
            if let Ok(n) = rx.recv_timeout(Duration::from_millis(100)) {
                acked.push(n);
                got += 1;
            }
        }
        assert!(got > 0, "cycle {cycle}: the writer acknowledged nothing");
        // Let it run on a random moment more, mid-write.
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..20)));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        acked.extend(rx.try_iter());
        next = acked.iter().max().unwrap() + 1;

        let e = DiskEngine::open(
            dir.path(),
            DiskOptions {
                fsync: Fsync::No,
                ..DiskOptions::default()
            },
        )
        .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let list: BTreeSet<Vec<u8>> = e
            .lrange(0, b"list", 0, -1, now)
            .unwrap()
            .into_iter()
            .collect();
        for n in &acked {
            let k = format!("k{n}");
            let v = format!("value-{n}").into_bytes();
            assert_eq!(
                e.get(0, k.as_bytes(), now).unwrap(),
                Some(v.clone()),
                "cycle {cycle}: {k}"
            );
            assert_eq!(
                e.hget(0, b"hash", k.as_bytes(), now).unwrap(),
                Some(v),
                "cycle {cycle}: hash {k}"
            );
            assert!(list.contains(k.as_bytes()), "cycle {cycle}: list lost {k}");
            assert_eq!(
                e.zscore(0, b"zset", k.as_bytes(), now).unwrap(),
                Some(*n as f64),
                "cycle {cycle}: zset {k}"
            );
        }
        let max = StreamId {
            ms: u64::MAX,
            seq: u64::MAX,
        };
        let entries = e
            .xrange(0, b"stream", StreamId::default(), max, None, false, now)
            .unwrap();
        let stream_ms: BTreeSet<u64> = entries.iter().map(|x| x.id.ms).collect();
        for n in &acked {
            assert!(
                stream_ms.contains(&(n + 1)),
                "cycle {cycle}: stream lost {n}"
            );
        }
        // The stream's O(1) metadata agrees with its entry records.
        let info = e.stream_info(0, b"stream", now).unwrap().unwrap();
        assert_eq!(info.length as usize, entries.len(), "cycle {cycle}");
        assert_eq!(info.first_id, entries[0].id, "cycle {cycle}");
        assert_eq!(info.last_id, entries[entries.len() - 1].id, "cycle {cycle}");
        assert_eq!(info.entries_added as usize, entries.len(), "cycle {cycle}");
        assert_eq!(
            e.dbsize(0, now).unwrap(),
            e.count_keys(0, now).unwrap(),
            "cycle {cycle}: DBSIZE counter after SIGKILL"
        );
        // Counts agree with the records (a batch is all or nothing).
        assert_eq!(
            e.hlen(0, b"hash", now).unwrap() as usize,
            e.hgetall(0, b"hash", now).unwrap().count()
        );
        assert_eq!(
            e.llen(0, b"list", now).unwrap() as usize,
            list.len()
                .max(e.lrange(0, b"list", 0, -1, now).unwrap().len())
        );
        assert_eq!(
            e.zcard(0, b"zset", now).unwrap() as usize,
            e.zrange_by_rank(0, b"zset", 0, -1, false, now)
                .unwrap()
                .len()
        );
    }
    assert!(acked.len() >= 5);
}
