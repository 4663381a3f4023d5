//! The state lock: one process at a time may write a repository's state.
//!
//! An advisory `flock` on `<state dir>/lock`, which the kernel drops when the
//! holder exits however it exits, so a crash never leaves a stale lock. The
//! holder writes who it is into the file so a second process can say who
//! holds it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::StoreError;

/// Who holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    /// What it is doing, e.g. `sliceboard up`.
    pub command: String,
    pub since: Timestamp,
    /// The holder's start time (`/proc/PID/stat` field 22), so the pid
    /// is known to be the holder's still before anyone signals it; older
    /// versions did not write it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<u64>,
}

/// Held until dropped.
#[derive(Debug)]
pub struct StateLock {
    file: File,
    path: PathBuf,
}

impl StateLock {
    /// Takes the lock without waiting; [`StoreError::Locked`] names the
    /// holder when another process has it.
    pub fn acquire(path: &Path, command: &str) -> Result<Self, StoreError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(StoreError::io("open", path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(StoreError::Locked {
                    path: path.to_owned(),
                    holder: serde_json::from_str(&text).ok(),
                });
            }
            Err(TryLockError::Error(err)) => return Err(StoreError::io("lock", path)(err)),
        }
        // One made before files were private is narrowed by its holder.
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        let holder = LockHolder {
            pid: std::process::id(),
            command: command.to_owned(),
            since: Timestamp::now(),
            started: own_start_time(),
        };
        let text = serde_json::to_vec(&holder).unwrap_or_default();
        let write = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(&text))
            .and_then(|()| file.flush());
        write.map_err(StoreError::io("write", path))?;
        Ok(Self {
            file,
            path: path.to_owned(),
        })
    }

    /// Who holds the lock at `path` now, if anyone (the file keeps the
    /// last holder's name after it let go, so this checks the lock).
    pub fn holder(path: &Path) -> Option<LockHolder> {
        let mut file = OpenOptions::new().read(true).open(path).ok()?;
        match file.try_lock_shared() {
            // Free: nobody holds it (ours goes with the file).
            Ok(()) => None,
            Err(_) => {
                let mut text = String::new();
                file.read_to_string(&mut text).ok()?;
                serde_json::from_str(&text).ok()
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// This process's start time, in clock ticks since boot.
fn own_start_time() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Leave the file (removing it would race a new holder); just say
        // nobody holds it. The kernel releases the lock with the handle.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_told_who_has_it_and_drop_releases() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = StateLock::acquire(&path, "sliceboard up").unwrap();
        let err = StateLock::acquire(&path, "sliceboard down").unwrap_err();
        match &err {
            StoreError::Locked {
                holder: Some(holder),
                ..
            } => {
                assert_eq!(holder.pid, std::process::id());
                assert_eq!(holder.command, "sliceboard up");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        assert!(err.to_string().contains("`sliceboard up`"), "{err}");
        drop(first);
        StateLock::acquire(&path, "sliceboard down").unwrap();
    }
}
