//! Host uids for sandboxes: each live sandbox holds one of its own from a configured range, so
//! no two sandboxes share a host uid, and nothing outside their namespaces (signals, `/proc`,
//! files, per-uid kernel limits such as `RLIMIT_NPROC`) lets one reach another.
//!
//! A uid is claimed with an exclusive `flock` on a per-uid lock file in a host-wide directory
//! ([`DEFAULT_LOCK_DIR`]), held for the sandbox's life. That makes the claim hold across every
//! provider in the process and every runtime on the host that uses the same range, and it is
//! released by the kernel when the holder dies, even by `kill -9`: no stale claims. Candidates
//! are tried round-robin from after the last one handed out, so a released uid is reused only
//! after the whole range has been cycled.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use rustix::fs::FlockOperation;

use crate::error::SandboxError;

/// Where uid claims live: a root-only directory on the host's runtime tmpfs.
pub const DEFAULT_LOCK_DIR: &str = "/run/agent-runtime/uids";

/// Hands out host uids from `first .. first + count`.
#[derive(Debug)]
pub(crate) struct UidPool {
    first: u32,
    count: u32,
    lock_dir: PathBuf,
    /// Offset of the next candidate.
    cursor: AtomicU32,
}

/// A claimed uid; dropping it releases the claim.
#[derive(Debug)]
pub(crate) struct UidLease {
    pub(crate) uid: u32,
    /// The locked file; closing it releases the lock.
    _lock: File,
}

impl UidPool {
    /// A pool over `first .. first + count`, claiming in `lock_dir` (created 0700 if missing).
    pub(crate) fn new(first: u32, count: u32, lock_dir: &Path) -> Result<Self, SandboxError> {
        if first == 0 || count == 0 || first.checked_add(count).is_none() {
            return Err(SandboxError::InvalidConfig(format!(
                "invalid sandbox uid range: {count} uids from {first}"
            )));
        }
        std::fs::create_dir_all(lock_dir)
            .and_then(|()| {
                std::fs::set_permissions(lock_dir, std::fs::Permissions::from_mode(0o700))
            })
            .map_err(|e| SandboxError::io(format!("preparing {}", lock_dir.display()), e))?;
        // Start somewhere else in each pool, so that pools of different processes (runtimes,
        // test binaries) do not all probe the same few uids first.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let start = (std::process::id().wrapping_mul(7919) ^ nanos) % count;
        Ok(Self {
            first,
            count,
            lock_dir: lock_dir.to_owned(),
            cursor: AtomicU32::new(start),
        })
    }

    /// The range as text, e.g. `600000-665535`.
    pub(crate) fn describe(&self) -> String {
        format!("{}-{}", self.first, self.first + (self.count - 1))
    }

    /// Claims a free uid. Blocking (file locks); quick.
    pub(crate) fn claim(&self) -> Result<UidLease, SandboxError> {
        for _ in 0..self.count {
            let offset = self.cursor.fetch_add(1, Ordering::Relaxed) % self.count;
            let uid = self.first + offset;
            let path = self.lock_dir.join(uid.to_string());
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| SandboxError::io(format!("claiming uid {uid}"), e))?;
            match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(UidLease { uid, _lock: file }),
                Err(rustix::io::Errno::WOULDBLOCK) => continue,
                Err(e) => {
                    return Err(SandboxError::io(
                        format!("claiming uid {uid}"),
                        std::io::Error::from(e),
                    ))
                }
            }
        }
        Err(SandboxError::InvalidConfig(format!(
            "every sandbox uid in {} is in use; widen the range",
            self.describe()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let a = UidPool::new(700_000, 2, dir.path()).unwrap();
        let b = UidPool::new(700_000, 2, dir.path()).unwrap();
        let first = a.claim().unwrap();
        let second = b.claim().unwrap();
        assert_ne!(first.uid, second.uid);
        assert!(a.claim().is_err(), "the range is exhausted");
        assert!(b.claim().is_err(), "the range is exhausted");
        let freed = first.uid;
        drop(first);
        assert_eq!(b.claim().unwrap().uid, freed);
    }

    #[test]
    fn invalid_ranges_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(UidPool::new(0, 10, dir.path()).is_err());
        assert!(UidPool::new(10, 0, dir.path()).is_err());
        assert!(UidPool::new(u32::MAX, 2, dir.path()).is_err());
        assert_eq!(
            UidPool::new(600_000, 65_536, dir.path())
                .unwrap()
                .describe(),
            "600000-665535"
        );
    }
}
