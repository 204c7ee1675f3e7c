//! Engine-wide settings and named blobs that are not keys: the run-time [`Fsync`] policy and
//! small server records kept in the `sys` keyspace under an `aux/` prefix (the server stores
//! its function libraries there, which Redis keeps in the RDB/AOF: the disk engine has neither
//! at restart).

use crate::{DiskEngine, DiskError, Fsync, Inner, Result};
use fjall::PersistMode;
use std::sync::atomic::Ordering;

/// Prefix of named blobs in `sys` (other `sys` keys are engine bookkeeping).
const AUX_PREFIX: &[u8] = b"aux/";

/// Largest blob accepted by [`DiskEngine::put_aux`] (it is written in one journal entry).
pub const AUX_MAX_BYTES: usize = 64 << 20;

/// The stored form of a policy.
pub(crate) fn fsync_code(f: Fsync) -> u8 {
    match f {
        Fsync::Always => 0,
        Fsync::EverySec => 1,
        Fsync::No => 2,
    }
}

fn fsync_of(code: u8) -> Fsync {
    match code {
        0 => Fsync::Always,
        2 => Fsync::No,
        _ => Fsync::EverySec,
    }
}

fn aux_key(name: &str) -> Vec<u8> {
    let mut k = AUX_PREFIX.to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}

impl Inner {
    /// The journal policy in force now.
    #[inline]
    pub(crate) fn fsync_policy(&self) -> Fsync {
        fsync_of(self.fsync.load(Ordering::Relaxed))
    }
}

impl DiskEngine {
    /// Changes the journal persistence policy (CONFIG SET appendfsync). Batches committed
    /// from now on follow it; switching to `Always` first syncs what earlier batches wrote, so
    /// nothing acknowledged under the old policy stays volatile behind a synced write.
    pub fn set_fsync(&self, policy: Fsync) -> Result<()> {
        if policy == Fsync::Always {
            self.inner.db.persist(PersistMode::SyncData)?;
        }
        self.inner
            .fsync
            .store(fsync_code(policy), Ordering::Relaxed);
        Ok(())
    }

    /// The journal persistence policy in force.
    pub fn fsync(&self) -> Fsync {
        self.inner.fsync_policy()
    }

    /// Stores (`Some`) or removes (`None`) the named blob `name`, durably under the current
    /// policy (fsynced before returning under `Always`).
    pub fn put_aux(&self, name: &str, value: Option<&[u8]>) -> Result<()> {
        let k = aux_key(name);
        match value {
            Some(v) if v.len() > AUX_MAX_BYTES => {
                return Err(DiskError::Storage(format!(
                    "blob '{name}' of {} bytes is over the {AUX_MAX_BYTES}-byte limit",
                    v.len()
                )))
            }
            Some(v) => self.inner.sys.insert(k, v)?,
            None => self.inner.sys.remove(k)?,
        }
        if self.inner.fsync_policy() == Fsync::Always {
            self.inner.db.persist(PersistMode::SyncData)?;
        }
        Ok(())
    }

    /// The named blob `name`, if stored.
    pub fn get_aux(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.inner.sys.get(aux_key(name))?.map(|v| v.to_vec()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed assertion
mod tests {
    use crate::{DiskEngine, DiskOptions, Fsync};

    #[test]
    fn aux_blobs_survive_a_reopen_and_can_be_removed() {
        let dir = tempfile::tempdir().unwrap();
        {
            let e = DiskEngine::open(dir.path(), DiskOptions::default()).unwrap();
            assert_eq!(e.get_aux("functions").unwrap(), None);
            e.put_aux("functions", Some(b"payload")).unwrap();
            e.put_aux("other", Some(b"x")).unwrap();
            e.put_aux("other", None).unwrap();
            // Blobs are not keys.
            assert_eq!(e.dbsize(0, 0).unwrap(), 0);
        }
        let e = DiskEngine::open(dir.path(), DiskOptions::default()).unwrap();
        assert_eq!(
            e.get_aux("functions").unwrap().as_deref(),
            Some(&b"payload"[..])
        );
        assert_eq!(e.get_aux("other").unwrap(), None);
    }

    #[test]
    fn the_fsync_policy_changes_at_run_time() {
        let dir = tempfile::tempdir().unwrap();
        let e = DiskEngine::open(dir.path(), DiskOptions::default()).unwrap();
        assert_eq!(e.fsync(), Fsync::EverySec);
        for p in [Fsync::Always, Fsync::No, Fsync::EverySec] {
            e.set_fsync(p).unwrap();
            assert_eq!(e.fsync(), p);
            e.set(0, b"k", b"v", crate::Ttl::Persist, 0).unwrap();
        }
        assert_eq!(e.get(0, b"k", 0).unwrap().as_deref(), Some(&b"v"[..]));
    }
}
