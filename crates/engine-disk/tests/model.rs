//! Random operation sequences over every family, compared against an in-memory model (BTreeMap),
//! with compactions (GC filter runs) and reopenings mixed in: any live record the GC drops, any
//! stale record that resurfaces, any lost write across reopen shows up as a difference.
#![allow(clippy::unwrap_used)] // tests may unwrap

use ferrokv_engine_disk::{DiskEngine, DiskError, DiskOptions, Fsync, KeyType, ScoreBound, Ttl};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Clone, Debug)]
enum MVal {
    Str(Vec<u8>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    ZSet(BTreeMap<Vec<u8>, f64>),
    List(VecDeque<Vec<u8>>),
}

impl MVal {
    fn kind(&self) -> KeyType {
        match self {
            MVal::Str(_) => KeyType::String,
            MVal::Hash(_) => KeyType::Hash,
            MVal::Set(_) => KeyType::Set,
            MVal::ZSet(_) => KeyType::ZSet,
            MVal::List(_) => KeyType::List,
        }
    }
    fn len(&self) -> usize {
        match self {
            MVal::Str(_) => 1,
            MVal::Hash(h) => h.len(),
            MVal::Set(s) => s.len(),
            MVal::ZSet(z) => z.len(),
            MVal::List(l) => l.len(),
        }
    }
}

type K = (u16, Vec<u8>);

#[derive(Default)]
struct Model {
    m: BTreeMap<K, (MVal, Option<i64>)>,
}

impl Model {
    fn live(&mut self, k: &K, now: i64) -> Option<&mut (MVal, Option<i64>)> {
        if matches!(self.m.get(k), Some((_, Some(at))) if *at <= now) {
            self.m.remove(k);
        }
        self.m.get_mut(k)
    }
    /// The value of the wanted kind, `Err(WrongType)` for another kind, `Ok(None)` if absent.
    fn typed(&mut self, k: &K, now: i64, kind: KeyType) -> Result<Option<&mut MVal>, DiskError> {
        match self.live(k, now) {
            None => Ok(None),
            Some((v, _)) if v.kind() != kind => Err(DiskError::WrongType),
            Some((v, _)) => Ok(Some(v)),
        }
    }
    fn typed_or(&mut self, k: &K, now: i64, empty: MVal) -> Result<&mut MVal, DiskError> {
        let kind = empty.kind();
        self.typed(k, now, kind)?;
        Ok(&mut self.m.entry(k.clone()).or_insert((empty, None)).0)
    }
    fn drop_empty(&mut self, k: &K) {
        if matches!(self.m.get(k), Some((v, _)) if v.len() == 0) {
            self.m.remove(k);
        }
    }
}

fn zsorted(z: &BTreeMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
    let mut v: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
    v
}

fn norm(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let s = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let e = if stop < 0 {
        len + stop
    } else {
        stop.min(len - 1)
    };
    (s <= e && s < len).then_some((s as usize, e as usize))
}

fn opts() -> DiskOptions {
    DiskOptions {
        cache_bytes: 4 << 20,
        memtable_bytes: 4 << 20,
        fsync: Fsync::No,
        ..DiskOptions::default()
    }
}

fn run(seed: u64, steps: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut e = DiskEngine::open(dir.path(), opts()).unwrap();
    let mut model = Model::default();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let keys: Vec<Vec<u8>> = (0..6).map(|i| format!("key{i}").into_bytes()).collect();
    let elem = |rng: &mut StdRng| format!("e{}", rng.gen_range(0..12)).into_bytes();
    for step in 0..steps {
        now += 1;
        let db: u16 = rng.gen_range(0..2);
        let key = keys[rng.gen_range(0..keys.len())].clone();
        let k: K = (db, key.clone());
        let op = rng.gen_range(0..40);
        let ctx = format!(
            "seed {seed} step {step} op {op} key {:?}",
            String::from_utf8_lossy(&key)
        );
        match op {
            0 => {
                let v = elem(&mut rng);
                let ttl = match rng.gen_range(0..4) {
                    0 => Ttl::At(now + rng.gen_range(1..30)),
                    1 => Ttl::Keep,
                    _ => Ttl::Persist,
                };
                e.set(db, &key, &v, ttl, now).unwrap();
                let old = model.live(&k, now).and_then(|x| x.1);
                let exp = match ttl {
                    Ttl::At(a) => Some(a),
                    Ttl::Keep => old,
                    Ttl::Persist => None,
                };
                model.m.insert(k.clone(), (MVal::Str(v), exp));
            }
            1 => {
                let want = model.typed(&k, now, KeyType::String).map(|o| {
                    o.map(|v| match v {
                        MVal::Str(s) => s.clone(),
                        _ => unreachable!(),
                    })
                });
                assert_eq!(e.get(db, &key, now), want, "{ctx}");
            }
            2 => {
                let want = model.live(&k, now).is_some();
                model.m.remove(&k);
                assert_eq!(e.del(db, &key, now).unwrap(), want, "{ctx}");
            }
            3 => {
                let at = if rng.gen_bool(0.3) {
                    None
                } else {
                    Some(now + rng.gen_range(1..40))
                };
                let want = match model.live(&k, now) {
                    Some(x) => {
                        x.1 = at;
                        true
                    }
                    None => false,
                };
                assert_eq!(e.set_expire(db, &key, at, now).unwrap(), want, "{ctx}");
            }
            4 => {
                let want = model.live(&k, now).map(|x| x.1);
                assert_eq!(e.expire_time(db, &key, now).unwrap(), want, "{ctx}");
                let want = model.live(&k, now).map(|x| x.0.kind());
                assert_eq!(e.key_type(db, &key, now).unwrap(), want, "{ctx}");
            }
            5 | 6 => {
                let n = rng.gen_range(1..4);
                let pairs: Vec<(Vec<u8>, Vec<u8>)> =
                    (0..n).map(|_| (elem(&mut rng), elem(&mut rng))).collect();
                let refs: Vec<(&[u8], &[u8])> = pairs
                    .iter()
                    .map(|(a, b)| (a.as_slice(), b.as_slice()))
                    .collect();
                let got = e.hset(db, &key, &refs, now);
                let want = model
                    .typed_or(&k, now, MVal::Hash(BTreeMap::new()))
                    .map(|v| {
                        let MVal::Hash(h) = v else { unreachable!() };
                        pairs
                            .iter()
                            .filter(|(f, v)| h.insert(f.clone(), v.clone()).is_none())
                            .count() as u64
                    });
                model.drop_empty(&k);
                assert_eq!(got, want, "{ctx}");
            }
            7 => {
                let f = elem(&mut rng);
                let want = model.typed(&k, now, KeyType::Hash).map(|o| {
                    o.and_then(|v| match v {
                        MVal::Hash(h) => h.get(&f).cloned(),
                        _ => unreachable!(),
                    })
                });
                assert_eq!(e.hget(db, &key, &f, now), want, "{ctx}");
                let fs = [f.clone(), elem(&mut rng)];
                let fr: Vec<&[u8]> = fs.iter().map(|x| x.as_slice()).collect();
                let want = model.typed(&k, now, KeyType::Hash).map(|o| match o {
                    Some(MVal::Hash(h)) => fs.iter().map(|f| h.get(f).cloned()).collect(),
                    _ => vec![None, None],
                });
                assert_eq!(e.hmget(db, &key, &fr, now), want, "{ctx}");
            }
            8 => {
                let fs = [elem(&mut rng), elem(&mut rng)];
                let fr: Vec<&[u8]> = fs.iter().map(|x| x.as_slice()).collect();
                let want = model.typed(&k, now, KeyType::Hash).map(|o| match o {
                    Some(MVal::Hash(h)) => {
                        fs.iter().filter(|f| h.remove(*f).is_some()).count() as u64
                    }
                    _ => 0,
                });
                model.drop_empty(&k);
                assert_eq!(e.hdel(db, &key, &fr, now), want, "{ctx}");
            }
            9 => {
                let want = model.typed(&k, now, KeyType::Hash).map(|o| match o {
                    Some(MVal::Hash(h)) => h.clone().into_iter().collect::<Vec<_>>(),
                    _ => Vec::new(),
                });
                let got = e
                    .hgetall(db, &key, now)
                    .map(|it| it.map(|r| r.unwrap()).collect::<Vec<_>>());
                assert_eq!(got, want, "{ctx}");
                let want = want.map(|v| v.len() as u64);
                assert_eq!(e.hlen(db, &key, now), want, "{ctx}");
            }
            10 => {
                let f = elem(&mut rng);
                let d = rng.gen_range(-5..6);
                let got = e.hincrby(db, &key, &f, d, now);
                let want = model
                    .typed_or(&k, now, MVal::Hash(BTreeMap::new()))
                    .and_then(|v| {
                        let MVal::Hash(h) = v else { unreachable!() };
                        let cur = match h.get(&f) {
                            Some(x) => std::str::from_utf8(x)
                                .ok()
                                .and_then(|s| s.parse::<i64>().ok())
                                .ok_or(DiskError::NotInteger)?,
                            None => 0,
                        };
                        h.insert(f.clone(), (cur + d).to_string().into_bytes());
                        Ok(cur + d)
                    });
                model.drop_empty(&k);
                assert_eq!(got, want, "{ctx}");
            }
            11 | 12 => {
                let ms: Vec<Vec<u8>> = (0..rng.gen_range(1..4)).map(|_| elem(&mut rng)).collect();
                let mr: Vec<&[u8]> = ms.iter().map(|x| x.as_slice()).collect();
                let got = e.sadd(db, &key, &mr, now);
                let want = model
                    .typed_or(&k, now, MVal::Set(BTreeSet::new()))
                    .map(|v| {
                        let MVal::Set(s) = v else { unreachable!() };
                        ms.iter().filter(|m| s.insert((*m).clone())).count() as u64
                    });
                assert_eq!(got, want, "{ctx}");
            }
            13 => {
                let ms = [elem(&mut rng), elem(&mut rng)];
                let mr: Vec<&[u8]> = ms.iter().map(|x| x.as_slice()).collect();
                let want = model.typed(&k, now, KeyType::Set).map(|o| match o {
                    Some(MVal::Set(s)) => ms.iter().filter(|m| s.remove(*m)).count() as u64,
                    _ => 0,
                });
                model.drop_empty(&k);
                assert_eq!(e.srem(db, &key, &mr, now), want, "{ctx}");
            }
            14 => {
                let m = elem(&mut rng);
                let want = model
                    .typed(&k, now, KeyType::Set)
                    .map(|o| matches!(o, Some(MVal::Set(s)) if s.contains(&m)));
                assert_eq!(e.sismember(db, &key, &m, now), want, "{ctx}");
                let want = model.typed(&k, now, KeyType::Set).map(|o| match o {
                    Some(MVal::Set(s)) => s.iter().cloned().collect::<Vec<_>>(),
                    _ => Vec::new(),
                });
                let got = e
                    .smembers(db, &key, now)
                    .map(|it| it.map(|r| r.unwrap().0).collect::<Vec<_>>());
                assert_eq!(got, want, "{ctx}");
                assert_eq!(
                    e.scard(db, &key, now),
                    want.map(|v| v.len() as u64),
                    "{ctx}"
                );
            }
            15 | 16 => {
                let items: Vec<(f64, Vec<u8>)> = (0..rng.gen_range(1..4))
                    .map(|_| (rng.gen_range(-4..5) as f64 / 2.0, elem(&mut rng)))
                    .collect();
                let ir: Vec<(f64, &[u8])> = items.iter().map(|(s, m)| (*s, m.as_slice())).collect();
                let got = e.zadd(db, &key, &ir, now);
                let want = model
                    .typed_or(&k, now, MVal::ZSet(BTreeMap::new()))
                    .map(|v| {
                        let MVal::ZSet(z) = v else { unreachable!() };
                        items
                            .iter()
                            .filter(|(s, m)| z.insert(m.clone(), *s).is_none())
                            .count() as u64
                    });
                assert_eq!(got, want, "{ctx}");
            }
            17 => {
                let ms = [elem(&mut rng), elem(&mut rng)];
                let mr: Vec<&[u8]> = ms.iter().map(|x| x.as_slice()).collect();
                let want = model.typed(&k, now, KeyType::ZSet).map(|o| match o {
                    Some(MVal::ZSet(z)) => {
                        ms.iter().filter(|m| z.remove(*m).is_some()).count() as u64
                    }
                    _ => 0,
                });
                model.drop_empty(&k);
                assert_eq!(e.zrem(db, &key, &mr, now), want, "{ctx}");
            }
            18 => {
                let m = elem(&mut rng);
                let want = model.typed(&k, now, KeyType::ZSet).map(|o| match o {
                    Some(MVal::ZSet(z)) => z.get(&m).copied(),
                    _ => None,
                });
                assert_eq!(e.zscore(db, &key, &m, now), want, "{ctx}");
                let rev = rng.gen_bool(0.5);
                let want = model.typed(&k, now, KeyType::ZSet).map(|o| match o {
                    Some(MVal::ZSet(z)) => {
                        let mut v = zsorted(z);
                        if rev {
                            v.reverse();
                        }
                        v.iter().position(|x| x.0 == m).map(|p| p as u64)
                    }
                    _ => None,
                });
                assert_eq!(e.zrank(db, &key, &m, rev, now), want, "{ctx} rev {rev}");
            }
            19 => {
                let (a, b) = (rng.gen_range(-8..8), rng.gen_range(-8..8));
                let rev = rng.gen_bool(0.5);
                let want = model.typed(&k, now, KeyType::ZSet).map(|o| match o {
                    Some(MVal::ZSet(z)) => {
                        let mut v = zsorted(z);
                        if rev {
                            v.reverse();
                        }
                        match norm(a, b, v.len()) {
                            Some((s, t)) => v[s..=t].to_vec(),
                            None => Vec::new(),
                        }
                    }
                    _ => Vec::new(),
                });
                assert_eq!(
                    e.zrange_by_rank(db, &key, a, b, rev, now),
                    want,
                    "{ctx} {a} {b} {rev}"
                );
                assert_eq!(
                    e.zcard(db, &key, now),
                    want.as_ref()
                        .map(|_| model
                            .typed(&k, now, KeyType::ZSet)
                            .unwrap()
                            .map_or(0, |v| v.len() as u64))
                        .map_err(|e| e.clone()),
                    "{ctx}"
                );
            }
            20 => {
                let lo = ScoreBound {
                    value: rng.gen_range(-3..3) as f64 / 2.0,
                    exclusive: rng.gen_bool(0.3),
                };
                let hi = ScoreBound {
                    value: rng.gen_range(-3..4) as f64 / 2.0,
                    exclusive: rng.gen_bool(0.3),
                };
                let rev = rng.gen_bool(0.5);
                let off = rng.gen_range(0..3);
                let cnt = if rng.gen_bool(0.5) {
                    None
                } else {
                    Some(rng.gen_range(0..4))
                };
                let want = model.typed(&k, now, KeyType::ZSet).map(|o| match o {
                    Some(MVal::ZSet(z)) => {
                        let mut v: Vec<_> = zsorted(z)
                            .into_iter()
                            .filter(|(_, s)| {
                                (if lo.exclusive {
                                    *s > lo.value
                                } else {
                                    *s >= lo.value
                                }) && (if hi.exclusive {
                                    *s < hi.value
                                } else {
                                    *s <= hi.value
                                })
                            })
                            .collect();
                        if rev {
                            v.reverse();
                        }
                        v.into_iter()
                            .skip(off)
                            .take(cnt.unwrap_or(usize::MAX))
                            .collect()
                    }
                    _ => Vec::new(),
                });
                assert_eq!(
                    e.zrange_by_score(db, &key, lo, hi, rev, off, cnt, now),
                    want,
                    "{ctx}"
                );
            }
            21 => {
                let m = elem(&mut rng);
                let d = rng.gen_range(-4..5) as f64 / 2.0;
                let got = e.zincrby(db, &key, d, &m, now);
                let want = model
                    .typed_or(&k, now, MVal::ZSet(BTreeMap::new()))
                    .map(|v| {
                        let MVal::ZSet(z) = v else { unreachable!() };
                        let n = z.get(&m).copied().unwrap_or(0.0) + d;
                        z.insert(m.clone(), n);
                        n
                    });
                assert_eq!(got, want, "{ctx}");
            }
            22..=25 => {
                let vs: Vec<Vec<u8>> = (0..rng.gen_range(1..4)).map(|_| elem(&mut rng)).collect();
                let vr: Vec<&[u8]> = vs.iter().map(|x| x.as_slice()).collect();
                let left = op % 2 == 0;
                let got = if left {
                    e.lpush(db, &key, &vr, now)
                } else {
                    e.rpush(db, &key, &vr, now)
                };
                let want = model
                    .typed_or(&k, now, MVal::List(VecDeque::new()))
                    .map(|v| {
                        let MVal::List(l) = v else { unreachable!() };
                        for x in &vs {
                            if left {
                                l.push_front(x.clone())
                            } else {
                                l.push_back(x.clone())
                            }
                        }
                        l.len() as u64
                    });
                assert_eq!(got, want, "{ctx}");
            }
            26 | 27 => {
                let n = rng.gen_range(1..4);
                let left = op == 26;
                let got = if left {
                    e.lpop(db, &key, n, now)
                } else {
                    e.rpop(db, &key, n, now)
                };
                let want = model.typed(&k, now, KeyType::List).map(|o| match o {
                    Some(MVal::List(l)) => (0..n)
                        .filter_map(|_| if left { l.pop_front() } else { l.pop_back() })
                        .collect(),
                    _ => Vec::new(),
                });
                model.drop_empty(&k);
                assert_eq!(got, want, "{ctx}");
            }
            28 => {
                let (a, b) = (rng.gen_range(-8..8), rng.gen_range(-8..8));
                let want = model.typed(&k, now, KeyType::List).map(|o| match o {
                    Some(MVal::List(l)) => match norm(a, b, l.len()) {
                        Some((s, t)) => l.range(s..=t).cloned().collect(),
                        None => Vec::new(),
                    },
                    _ => Vec::new(),
                });
                assert_eq!(e.lrange(db, &key, a, b, now), want, "{ctx} {a} {b}");
                let i = rng.gen_range(-6..6);
                let want = model.typed(&k, now, KeyType::List).map(|o| match o {
                    Some(MVal::List(l)) => {
                        let p = if i < 0 { l.len() as i64 + i } else { i };
                        (p >= 0).then(|| l.get(p as usize).cloned()).flatten()
                    }
                    _ => None,
                });
                assert_eq!(e.lindex(db, &key, i, now), want, "{ctx} {i}");
                assert_eq!(
                    e.llen(db, &key, now),
                    want.map(|_| model
                        .typed(&k, now, KeyType::List)
                        .unwrap()
                        .map_or(0, |v| v.len() as u64)),
                    "{ctx}"
                );
            }
            29 => {
                let i = rng.gen_range(-6..6);
                let v = elem(&mut rng);
                let want = match model.typed(&k, now, KeyType::List) {
                    Err(e) => Err(e),
                    Ok(None) => Err(DiskError::NoSuchKey),
                    Ok(Some(MVal::List(l))) => {
                        let p = if i < 0 { l.len() as i64 + i } else { i };
                        match (p >= 0).then(|| l.get_mut(p as usize)).flatten() {
                            Some(slot) => {
                                *slot = v.clone();
                                Ok(())
                            }
                            None => Err(DiskError::IndexOutOfRange),
                        }
                    }
                    Ok(Some(_)) => unreachable!(),
                };
                assert_eq!(e.lset(db, &key, i, &v, now), want, "{ctx}");
            }
            30 => {
                let d = rng.gen_range(-3..4);
                let got = e.incr_by(db, &key, d, now);
                let want = match model.typed(&k, now, KeyType::String) {
                    Err(e) => Err(e),
                    Ok(cur) => {
                        let c = match cur {
                            Some(MVal::Str(s)) => std::str::from_utf8(s)
                                .ok()
                                .and_then(|s| s.parse::<i64>().ok()),
                            _ => Some(0),
                        };
                        match c {
                            None => Err(DiskError::NotInteger),
                            Some(c) => {
                                let exp = model.live(&k, now).and_then(|x| x.1);
                                model.m.insert(
                                    k.clone(),
                                    (MVal::Str((c + d).to_string().into_bytes()), exp),
                                );
                                Ok(c + d)
                            }
                        }
                    }
                };
                assert_eq!(got, want, "{ctx}");
            }
            31 => {
                // Full SCAN of the db equals the model's live keys.
                let mut got = BTreeSet::new();
                let mut cur = 0;
                loop {
                    let (next, ks) = e.scan(db, cur, 2, None, None, now).unwrap();
                    got.extend(ks);
                    if next == 0 {
                        break;
                    }
                    cur = next;
                }
                let want: BTreeSet<Vec<u8>> = model
                    .m
                    .iter()
                    .filter(|((d, _), (_, exp))| *d == db && !matches!(exp, Some(a) if *a <= now))
                    .map(|((_, k), _)| k.clone())
                    .collect();
                assert_eq!(got, want, "{ctx}");
            }
            32 => {
                let swept = e.expire_sweep(now, 100).unwrap();
                for (d, k) in swept {
                    let m = model.m.remove(&(d, k.clone()));
                    assert!(
                        matches!(m, Some((_, Some(at))) if at <= now),
                        "{ctx}: swept a live key {k:?}"
                    );
                }
            }
            33 if step % 7 == 0 => {
                e.compact_all().unwrap();
            }
            34 if step % 5 == 0 => {
                drop(e);
                e = DiskEngine::open(dir.path(), opts()).unwrap();
            }
            _ => {}
        }
    }
    // Final check: every model key reads back identically after a compaction and a reopen.
    e.compact_all().unwrap();
    drop(e);
    let e = DiskEngine::open(dir.path(), opts()).unwrap();
    for ((db, key), (v, exp)) in &model.m {
        if matches!(exp, Some(a) if *a <= now) {
            continue;
        }
        assert_eq!(e.expire_time(*db, key, now).unwrap(), Some(*exp));
        match v {
            MVal::Str(s) => assert_eq!(e.get(*db, key, now).unwrap().as_ref(), Some(s)),
            MVal::Hash(h) => {
                let got: BTreeMap<_, _> = e
                    .hgetall(*db, key, now)
                    .unwrap()
                    .map(|r| r.unwrap())
                    .collect();
                assert_eq!(&got, h);
            }
            MVal::Set(s) => {
                let got: BTreeSet<_> = e
                    .smembers(*db, key, now)
                    .unwrap()
                    .map(|r| r.unwrap().0)
                    .collect();
                assert_eq!(&got, s);
            }
            MVal::ZSet(z) => assert_eq!(
                e.zrange_by_rank(*db, key, 0, -1, false, now).unwrap(),
                zsorted(z)
            ),
            MVal::List(l) => assert_eq!(
                e.lrange(*db, key, 0, -1, now).unwrap(),
                l.iter().cloned().collect::<Vec<_>>()
            ),
        }
    }
}

#[test]
fn model_seed_1() {
    run(1, 3000);
}

#[test]
fn model_seed_2() {
    run(2, 3000);
}

#[test]
fn model_seed_3() {
    run(3, 3000);
}
