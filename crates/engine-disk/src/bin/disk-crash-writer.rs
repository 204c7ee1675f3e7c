//! Crash-test helper: writes numbered records in `Fsync::Always` mode and prints the number of
//! each record once all its writes are acknowledged. The crash test kills it with SIGKILL at a
//! random point and checks that every printed number is still there after reopening.
//!
//! Usage: `disk-crash-writer <dir> <first-number> [apply]`. In the default mode each number
//! writes a string, a hash field, a list element, a sorted-set member and a stream entry
//! (`<n+1>-*` in `stream`), each its own batch. In `apply` mode each number is one
//! multi-key [`DiskEngine::apply`] batch: string `a<n>`, field-level hash `h<n>` (3 fields),
//! inline list `cur<n>` and the deletion of `cur<n-1>`, so a torn batch would show up as `a<n>`
//! without `h<n>` or as two (or zero) `cur` keys. In `delta` mode each number is one `apply`
//! of element deltas ([`KeyWrite::Delta`]) on two field-level collections created first with
//! 1024 elements (hash `bh`: `f<n>` and `last` = n; set `bs`: `m<n>`) and a Put of the string
//! `small` = n, so a torn unit would show up as `small` disagreeing with `bh`/`bs`.

use ferrokv_engine_disk::{
    DiskEngine, DiskOptions, ElemDelta, Fsync, KeyWrite, Ttl, XAddId, XAddOptions,
};
use ferrokv_rdb::{HashField, RdbValue};
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("missing <dir>")?;
    let first: u64 = args.next().ok_or("missing <first-number>")?.parse()?;
    let mode = args.next();
    let apply_mode = mode.as_deref() == Some("apply");
    let delta_mode = mode.as_deref() == Some("delta");
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
    if delta_mode && !e.exists(0, b"bh", 0)? {
        let names: Vec<Vec<u8>> = (0..1024).map(|i| format!("seed{i}").into_bytes()).collect();
        let hv = RdbValue::Hash(
            names
                .iter()
                .map(|f| HashField {
                    field: f.clone(),
                    value: f.clone(),
                    expire_ms: None,
                })
                .collect(),
        );
        let sv = RdbValue::Set(names);
        let put = |key: &'static [u8], value| KeyWrite::Put {
            db: 0,
            key,
            value,
            expire_ms: None,
            inline: false,
        };
        e.apply(&[put(b"bh", &hv), put(b"bs", &sv)], 0)?;
    }
    for n in first.. {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as i64;
        if delta_mode {
            let (f, m, v) = (format!("f{n}"), format!("m{n}"), n.to_string());
            let hd = ElemDelta::Hash {
                set: vec![(f.as_bytes(), v.as_bytes()), (b"last", v.as_bytes())],
                del: Vec::new(),
            };
            let sd = ElemDelta::Set {
                add: vec![m.as_bytes()],
                rem: Vec::new(),
            };
            let small = RdbValue::String(v.clone().into_bytes());
            e.apply(
                &[
                    KeyWrite::Delta {
                        db: 0,
                        key: b"bh",
                        delta: &hd,
                        expire_ms: None,
                    },
                    KeyWrite::Delta {
                        db: 0,
                        key: b"bs",
                        delta: &sd,
                        expire_ms: None,
                    },
                    KeyWrite::Put {
                        db: 0,
                        key: b"small",
                        value: &small,
                        expire_ms: None,
                        inline: true,
                    },
                ],
                now,
            )?;
            writeln!(out, "{n}")?;
            out.flush()?;
            continue;
        }
        if apply_mode {
            let (a, h, cur) = (format!("a{n}"), format!("h{n}"), format!("cur{n}"));
            let prev = format!("cur{}", n.wrapping_sub(1));
            let sv = RdbValue::String(format!("value-{n}").into_bytes());
            let hv = RdbValue::Hash(
                (0..3)
                    .map(|f| HashField {
                        field: format!("f{f}").into_bytes(),
                        value: n.to_string().into_bytes(),
                        expire_ms: None,
                    })
                    .collect(),
            );
            let lv = RdbValue::List(vec![n.to_string().into_bytes()]);
            e.apply(
                &[
                    KeyWrite::Put {
                        db: 0,
                        key: a.as_bytes(),
                        value: &sv,
                        expire_ms: None,
                        inline: true,
                    },
                    KeyWrite::Put {
                        db: 0,
                        key: h.as_bytes(),
                        value: &hv,
                        expire_ms: None,
                        inline: false,
                    },
                    KeyWrite::Delete {
                        db: 0,
                        key: prev.as_bytes(),
                    },
                    KeyWrite::Put {
                        db: 0,
                        key: cur.as_bytes(),
                        value: &lv,
                        expire_ms: None,
                        inline: true,
                    },
                ],
                now,
            )?;
            writeln!(out, "{n}")?;
            out.flush()?;
            continue;
        }
        let k = format!("k{n}");
        let v = format!("value-{n}");
        e.set(0, k.as_bytes(), v.as_bytes(), Ttl::Persist, now)?;
        e.hset(0, b"hash", &[(k.as_bytes(), v.as_bytes())], now)?;
        e.rpush(0, b"list", &[k.as_bytes()], now)?;
        e.zadd(0, b"zset", &[(n as f64, k.as_bytes())], now)?;
        // `<n+1>-*`: a rerun that repeats a number written but not acknowledged before the
        // kill gets `<n+1>-1` instead of an ID error.
        e.xadd(
            0,
            b"stream",
            XAddId::AutoSeq(n + 1),
            &[(b"k", k.as_bytes())],
            XAddOptions::default(),
            now,
        )?;
        writeln!(out, "{n}")?;
        out.flush()?;
    }
    Ok(())
}
