//! Element deltas of collections, staged into a unit's one write batch
//! ([`KeyWrite::Delta`](crate::KeyWrite::Delta) of [`DiskEngine::apply`](crate::DiskEngine::apply)).
//!
//! The server writes back a field-level key that a command, a MULTI/EXEC or a script changed as
//! the difference between the value it loaded and the value it ends with. Before this module
//! each element operation (HSET then HDEL, SADD then SREM, ...) and the expiry were separate
//! committed batches, so a crash between them left a unit half applied. A delta is staged with
//! the unit's other writes: the key's metadata is read once, every element record and the new
//! metadata go into the shared batch, and the unit commits once.
//!
//! Order inside one delta: removals (hash `del`, set/zset `rem`, list pops) apply to the stored
//! value first, then additions. An element listed both as removed and as added ends present
//! (its removal is skipped: a batch must not write one record twice). A list delta may not pop
//! and push at the same end (the popped and pushed records could share an index): that is
//! rejected with [`DiskError::Unsupported`] and nothing of the unit is written.

use crate::codec::{KeyType, Meta};
use crate::object::decode_inline;
use crate::zindex::ZIndex;
use crate::{Batch, DiskError, Inner, Result};
use ferrokv_rdb::{HashField, RdbValue};
use std::collections::{HashSet, VecDeque};

/// The element changes of one collection (see the module documentation for their order).
#[derive(Clone, Debug, PartialEq)]
pub enum ElemDelta<'a> {
    /// HSET of `set` (a field's TTL, if any, is cleared, as HSET does) and HDEL of `del`.
    Hash {
        /// (field, value) pairs to set.
        set: Vec<(&'a [u8], &'a [u8])>,
        /// Fields to delete.
        del: Vec<&'a [u8]>,
    },
    /// SADD of `add`, SREM of `rem`.
    Set {
        /// Members to add.
        add: Vec<&'a [u8]>,
        /// Members to remove.
        rem: Vec<&'a [u8]>,
    },
    /// ZADD of `set` (add or rescore), ZREM of `rem`. A NaN score fails the whole unit.
    ZSet {
        /// (score, member) pairs to add or rescore.
        set: Vec<(f64, &'a [u8])>,
        /// Members to remove.
        rem: Vec<&'a [u8]>,
    },
    /// Pops then pushes at the list's ends (never both at the same end).
    List {
        /// Elements to pop from the head.
        pop_left: u64,
        /// Elements to pop from the tail.
        pop_right: u64,
        /// Values to push at the head, each in turn becoming the new head (LPUSH order).
        push_left: Vec<&'a [u8]>,
        /// Values to append at the tail (RPUSH order).
        push_right: Vec<&'a [u8]>,
    },
}

impl ElemDelta<'_> {
    /// The type of collection the delta applies to.
    pub fn kind(&self) -> KeyType {
        match self {
            ElemDelta::Hash { .. } => KeyType::Hash,
            ElemDelta::Set { .. } => KeyType::Set,
            ElemDelta::ZSet { .. } => KeyType::ZSet,
            ElemDelta::List { .. } => KeyType::List,
        }
    }

    /// `v`, a whole collection of the delta's type, with the delta applied in memory, with the
    /// semantics [`KeyWrite::Delta`](crate::KeyWrite::Delta) gives it on disk (the server
    /// folds a delta staged earlier in a unit into a value it loads later). WRONGTYPE for a
    /// value of another type; O(size · changes) for hashes, sets and sorted sets.
    pub fn apply_to(&self, v: RdbValue) -> Result<RdbValue> {
        self.validate()?;
        apply_in_memory(v, self)
    }

    /// Whether the delta changes no element (with an unchanged expiry, a
    /// [`KeyWrite::Delta`](crate::KeyWrite::Delta) of it would still read the key's metadata:
    /// a caller skips it).
    pub fn is_empty(&self) -> bool {
        match self {
            ElemDelta::Hash { set, del } => set.is_empty() && del.is_empty(),
            ElemDelta::Set { add, rem } => add.is_empty() && rem.is_empty(),
            ElemDelta::ZSet { set, rem } => set.is_empty() && rem.is_empty(),
            ElemDelta::List {
                pop_left,
                pop_right,
                push_left,
                push_right,
            } => *pop_left == 0 && *pop_right == 0 && push_left.is_empty() && push_right.is_empty(),
        }
    }

    /// Whether the delta adds an element (so it creates a missing key).
    fn adds(&self) -> bool {
        match self {
            ElemDelta::Hash { set, .. } => !set.is_empty(),
            ElemDelta::Set { add, .. } => !add.is_empty(),
            ElemDelta::ZSet { set, .. } => !set.is_empty(),
            ElemDelta::List {
                push_left,
                push_right,
                ..
            } => !push_left.is_empty() || !push_right.is_empty(),
        }
    }

    /// Checks what would make the unit's batch invalid before anything is staged.
    fn validate(&self) -> Result<()> {
        match self {
            ElemDelta::ZSet { set, .. } if set.iter().any(|(s, _)| s.is_nan()) => {
                Err(DiskError::NanScore)
            }
            ElemDelta::List {
                pop_left,
                pop_right,
                push_left,
                push_right,
            } if (*pop_left > 0 && !push_left.is_empty())
                || (*pop_right > 0 && !push_right.is_empty()) =>
            {
                Err(DiskError::Unsupported(
                    "a list delta cannot pop and push at the same end".into(),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// `rem` without the elements of `keep` (allocates only when both are non-empty).
fn without<'a>(rem: &[&'a [u8]], keep: impl Iterator<Item = &'a [u8]>) -> Vec<&'a [u8]> {
    if rem.is_empty() {
        return Vec::new();
    }
    let keep: HashSet<&[u8]> = keep.collect();
    if keep.is_empty() {
        return rem.to_vec();
    }
    rem.iter().copied().filter(|r| !keep.contains(r)).collect()
}

/// `v` (a decoded inline collection of the delta's type) with the delta applied.
fn apply_in_memory(v: RdbValue, d: &ElemDelta<'_>) -> Result<RdbValue> {
    Ok(match (v, d) {
        (RdbValue::Hash(mut fields), ElemDelta::Hash { set, del }) => {
            let del = without(del, set.iter().map(|(f, _)| *f));
            fields.retain(|f| !del.contains(&f.field.as_slice()));
            for (f, val) in set {
                match fields.iter_mut().find(|x| x.field == *f) {
                    Some(x) => {
                        x.value = val.to_vec();
                        x.expire_ms = None;
                    }
                    None => fields.push(HashField {
                        field: f.to_vec(),
                        value: val.to_vec(),
                        expire_ms: None,
                    }),
                }
            }
            RdbValue::Hash(fields)
        }
        (RdbValue::Set(mut items), ElemDelta::Set { add, rem }) => {
            let rem = without(rem, add.iter().copied());
            items.retain(|m| !rem.contains(&m.as_slice()));
            for a in add {
                if !items.iter().any(|m| m == a) {
                    items.push(a.to_vec());
                }
            }
            RdbValue::Set(items)
        }
        (RdbValue::ZSet(mut pairs), ElemDelta::ZSet { set, rem }) => {
            let rem = without(rem, set.iter().map(|(_, m)| *m));
            pairs.retain(|(m, _)| !rem.contains(&m.as_slice()));
            for (s, mb) in set {
                match pairs.iter_mut().find(|(m, _)| m == mb) {
                    Some(p) => p.1 = *s,
                    None => pairs.push((mb.to_vec(), *s)),
                }
            }
            RdbValue::ZSet(pairs)
        }
        (
            RdbValue::List(items),
            ElemDelta::List {
                pop_left,
                pop_right,
                push_left,
                push_right,
            },
        ) => {
            let mut q: VecDeque<Vec<u8>> = items.into();
            for _ in 0..*pop_left {
                q.pop_front();
            }
            for _ in 0..*pop_right {
                q.pop_back();
            }
            for v in push_left {
                q.push_front(v.to_vec());
            }
            for v in push_right {
                q.push_back(v.to_vec());
            }
            RdbValue::List(q.into())
        }
        _ => return Err(DiskError::WrongType),
    })
}

/// A sorted set whose rank index outgrew its buckets in a unit: split after the commit.
pub(crate) type PendingSplit = (u32, Vec<u8>, Meta, Vec<(u8, Vec<u8>)>);

impl Inner {
    /// Stages the delta `d` of `(pdb, key)`, whose metadata record is `old` as stored now (no
    /// expiry check: the caller decided the key was live when it loaded it), into `b`, with
    /// `expire` as the key's expiry afterwards. Returns the new metadata (`None`: the key ends
    /// absent). Sorted sets whose rank index needs splitting are pushed to `splits`. Caller
    /// holds the key's lock.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn stage_delta(
        &self,
        b: &mut Batch,
        pdb: u32,
        key: &[u8],
        old: Option<&Meta>,
        d: &ElemDelta<'_>,
        expire: Option<i64>,
        splits: &mut Vec<PendingSplit>,
    ) -> Result<Option<Meta>> {
        d.validate()?;
        let kind = d.kind();
        let (mut m, exists) = match old {
            Some(o) if o.kind != kind => return Err(DiskError::WrongType),
            Some(o) if o.inline => return self.stage_inline_delta(b, pdb, key, o, d, expire),
            Some(o) => (o.clone(), true),
            None if !d.adds() => return Ok(None),
            None => (Meta::new_collection(kind, self.new_version(b)?), false),
        };
        m.expire = expire;
        // No record is read past this clock: hash fields are never treated as expired here.
        let now = i64::MIN;
        match d {
            ElemDelta::Hash { set, del } => {
                if exists {
                    let del = without(del, set.iter().map(|(f, _)| *f));
                    self.stage_remove(b, pdb, key, &mut m, None, &del, now)?;
                }
                self.stage_hset(b, pdb, key, exists, &mut m, set, now)?;
            }
            ElemDelta::Set { add, rem } => {
                if exists {
                    let rem = without(rem, add.iter().copied());
                    self.stage_remove(b, pdb, key, &mut m, None, &rem, now)?;
                }
                self.stage_sadd(b, pdb, key, exists, &mut m, add)?;
            }
            ElemDelta::ZSet { set, rem } => {
                let mut zi = m.ranked.then(|| ZIndex::new(self, pdb, key, &m, !exists));
                if exists {
                    let rem = without(rem, set.iter().map(|(_, mb)| *mb));
                    self.stage_remove(b, pdb, key, &mut m, zi.as_mut(), &rem, now)?;
                }
                self.stage_zadd(b, pdb, key, exists, &mut m, zi.as_mut(), set, None)?;
                if let Some(zi) = &zi {
                    if m.size > 0 {
                        zi.write(b);
                        let big = zi.oversized();
                        if !big.is_empty() {
                            splits.push((pdb, key.to_vec(), m.clone(), big));
                        }
                    }
                }
            }
            ElemDelta::List {
                pop_left,
                pop_right,
                push_left,
                push_right,
            } => {
                if exists {
                    self.stage_pop(b, pdb, key, &mut m, *pop_left, true)?;
                    self.stage_pop(b, pdb, key, &mut m, *pop_right, false)?;
                }
                self.stage_push(b, pdb, key, &mut m, push_left, true);
                self.stage_push(b, pdb, key, &mut m, push_right, false);
            }
        }
        self.finish(b, pdb, key, old, &m);
        Ok((m.size > 0).then_some(m))
    }

    /// [`stage_delta`](Self::stage_delta) of an inline collection: decoded, changed in memory
    /// and stored field-level as a new incarnation (what a native element operation's
    /// conversion would do), all in `b`.
    fn stage_inline_delta(
        &self,
        b: &mut Batch,
        pdb: u32,
        key: &[u8],
        old: &Meta,
        d: &ElemDelta<'_>,
        expire: Option<i64>,
    ) -> Result<Option<Meta>> {
        let v = apply_in_memory(decode_inline(old.kind, &old.value)?, d)?;
        if v.is_empty_collection() {
            self.del_meta(b, pdb, key, old);
            return Ok(None);
        }
        let mut m = self.put_fields(b, pdb, key, &v, expire)?;
        m.field_ttl |= old.field_ttl;
        self.put_meta(b, pdb, key, Some(old), &m);
        Ok(Some(m))
    }
}
