//! The state lock: one process at a time may write a repository's state.
//!
//! An advisory `flock` on `<state dir>/lock`, which the kernel drops when the
//! holder exits however it exits, so a crash never leaves a stale lock. The
//! holder writes who it is into the file so a second process can say who
//! holds it, or wait for it to let go (within a bound, [`LOCK_WAIT`]).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::StoreError;

/// How long a command waits for the lock held by another command (a
/// `sliceboard up` working without a supervisor) before it gives up.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);
/// How often a waiting command looks again.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// Holders that let go by themselves once one piece of work is done (a
/// `sliceboard up` or `down` working without a supervisor): a command that
/// meets one waits for it ([`LOCK_WAIT`]), not for a supervisor or anyone
/// unknown.
const BRIEF_HOLDERS: &[&str] = &[
    "sliceboard up",
    "sliceboard down",
    "sliceboard demo",
    "rebuilding state.json",
];

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

impl LockHolder {
    /// Whether it lets go by itself soon: worth waiting for.
    pub fn is_brief(&self) -> bool {
        BRIEF_HOLDERS.contains(&self.command.as_str())
    }
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

    /// Takes the lock, waiting up to `bound` while it is held by someone
    /// `wait_for` accepts (a holder not yet named is waited for too);
    /// `waiting` is told once, when the wait begins. Past the bound, or
    /// held by someone not worth waiting for, it fails as [`Self::acquire`].
    pub fn acquire_waiting(
        path: &Path,
        command: &str,
        bound: Duration,
        wait_for: impl Fn(&LockHolder) -> bool,
        mut waiting: impl FnMut(&LockHolder),
    ) -> Result<Self, StoreError> {
        let deadline = Instant::now() + bound;
        let mut told = false;
        loop {
            match Self::acquire(path, command) {
                Err(StoreError::Locked { holder, .. })
                    if holder.as_ref().is_none_or(&wait_for) && Instant::now() < deadline =>
                {
                    if let Some(holder) = holder.as_ref().filter(|_| !told) {
                        waiting(holder);
                        told = true;
                    }
                    std::thread::sleep(LOCK_POLL);
                }
                other => return other,
            }
        }
    }

    /// Waits up to `bound` for a holder `wait_for` accepts to let go
    /// (`waiting` is told once, when the wait begins). Returns who holds
    /// the lock then, `None` when it is free.
    pub fn wait_free(
        path: &Path,
        bound: Duration,
        wait_for: impl Fn(&LockHolder) -> bool,
        mut waiting: impl FnMut(&LockHolder),
    ) -> Option<LockHolder> {
        let deadline = Instant::now() + bound;
        let mut told = false;
        loop {
            let holder = Self::holder(path)?;
            if !wait_for(&holder) || Instant::now() >= deadline {
                return Some(holder);
            }
            if !told {
                waiting(&holder);
                told = true;
            }
            std::thread::sleep(LOCK_POLL);
        }
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
