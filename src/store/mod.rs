//! State on disk, under the repository's common git dir
//! (`<common dir>/sliceboard/`), so every worktree sees the same state and
//! nothing lands in the user's tree.
//!
//! ```text
//! .git/sliceboard/
//!   state.json          lifecycle of every slice (atomic writes)
//!   events.jsonl        append-only journal
//!   lock                held by the process allowed to write state
//!   supervisor.sock     where `sliceboard signal` reaches a running supervisor
//!   sliceboard.log      tracing output
//!   slices/<name>/      per-slice files (brief.md, pty.log, review.json, ...)
//!   muted.json          the slices whose calls are muted
//!   dbt-state/          with [dbt] defer: the integration build's manifest and database
//!   dbt-db/<owner>/     with [dbt] defer: each slice's (and the check's) sliceboard.duckdb
//! ```
//!
//! In a process holding the lock, [`StateStore`] is the one owner of
//! `state.json`'s contents: the only writer, and what that process reads.
//!
//! Knows serde and the filesystem; knows nothing of git or terminals.

mod journal;
mod lock;
mod state;
mod state_store;

use std::path::{Path, PathBuf};

pub use journal::{Actor, Journal, JournalEntry, JournalRead, TAIL_BYTES as JOURNAL_TAIL_BYTES};
pub use lock::{LOCK_WAIT, LockHolder, StateLock};
pub use state::{
    Approval, Attention, MergeRecord, SCHEMA_VERSION, SliceRecord, State, load_state, save_state,
};
pub use state_store::{Entry, Snapshot, StateStore};

use crate::domain::SliceName;

/// The name of every DuckDB file sliceboard keeps for dbt with `[dbt]
/// defer` (the slices', the merge check's, the published snapshot): its
/// stem is the database name dbt records, `sliceboard`.
pub const DBT_DB_FILE: &str = "sliceboard.duckdb";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not valid state ({source}); move it aside to start from an empty state, or restore it from backup", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} was written by a newer sliceboard (schema {found}, this one reads {SCHEMA_VERSION}); upgrade sliceboard", path.display())]
    NewerSchema { path: PathBuf, found: u32 },
    #[error("{}", describe_locked(holder.as_ref(), path))]
    Locked {
        path: PathBuf,
        holder: Option<LockHolder>,
    },
}

fn describe_locked(holder: Option<&LockHolder>, path: &Path) -> String {
    match holder {
        Some(h) => format!(
            "another sliceboard process (pid {}, `{}`, since {}) holds the state lock {}; wait for it to finish or stop it",
            h.pid,
            h.command,
            h.since.strftime("%Y-%m-%d %H:%M:%S UTC"),
            path.display()
        ),
        None => format!(
            "another sliceboard process holds the state lock {}; wait for it to finish or stop it",
            path.display()
        ),
    }
}

impl StoreError {
    pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_owned();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    }
}

/// The integration worktree's folder name, and so git's name for it.
pub const INTEGRATION_WORKTREE: &str = "sliceboard-integration";

/// The layout of the state folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// The state folder of the repository whose common git dir is given.
    pub fn for_common_dir(common_git_dir: &Path) -> Self {
        Self {
            root: common_git_dir.join("sliceboard"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// The slices whose calls the operator muted (`z`), kept across
    /// supervisors.
    pub fn muted_file(&self) -> PathBuf {
        self.root.join("muted.json")
    }

    /// The muted slices, none when the file is missing or unreadable.
    pub fn muted(&self) -> std::collections::BTreeSet<SliceName> {
        std::fs::read(self.muted_file())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    pub fn save_muted(
        &self,
        muted: &std::collections::BTreeSet<SliceName>,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(muted).unwrap_or_default();
        write_atomic(&self.muted_file(), &bytes)
    }

    /// A slice's review comments not yet sent and the operator's last
    /// look at it, kept across dashboards and supervisors.
    pub fn review_file(&self, slice: &SliceName) -> PathBuf {
        self.slice_dir(slice).join("review.json")
    }

    /// A slice's review; empty when there is none. One that cannot be read
    /// is kept aside as `review.json.unreadable` (never overwritten by
    /// the next comment) and said in the log.
    pub fn review(&self, slice: &SliceName) -> crate::domain::comments::Review {
        let path = self.review_file(slice);
        let Ok(bytes) = std::fs::read(&path) else {
            return Default::default();
        };
        serde_json::from_slice(&bytes).unwrap_or_else(|err| {
            let aside = path.with_extension("json.unreadable");
            tracing::warn!(%slice, %err, aside = %aside.display(), "a review file could not be read; kept aside");
            let _ = std::fs::rename(&path, &aside);
            Default::default()
        })
    }

    pub fn save_review(
        &self,
        slice: &SliceName,
        review: &crate::domain::comments::Review,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(review).unwrap_or_default();
        self.write_slice_file(slice, "review.json", &bytes)
            .map(|_| ())
    }

    pub fn journal_file(&self) -> PathBuf {
        self.root.join("events.jsonl")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }

    pub fn log_file(&self) -> PathBuf {
        self.root.join("sliceboard.log")
    }

    /// Where a running supervisor listens; see [`socket_path`].
    pub fn socket_file(&self) -> PathBuf {
        socket_path(&self.root)
    }

    /// Where a supervisor started in the background writes what it prints.
    pub fn supervisor_output_file(&self) -> PathBuf {
        self.root.join("supervisor.out")
    }

    pub fn transcript_file(&self, slice: &SliceName) -> PathBuf {
        self.slice_dir(slice).join("pty.log")
    }

    /// The running agent's pid and start time, while a supervisor runs it.
    pub fn agent_file(&self, slice: &SliceName) -> PathBuf {
        self.slice_dir(slice).join("agent.json")
    }

    /// Where a slice's worktree setup stands (`setup.json`) and what it
    /// printed (`setup.log`).
    pub fn setup_file(&self, slice: &SliceName) -> PathBuf {
        self.slice_dir(slice).join("setup.json")
    }

    /// The environment slices defer to: the integration build's manifest
    /// and DuckDB files (`[dbt] defer`).
    pub fn dbt_state_dir(&self) -> PathBuf {
        self.root.join("dbt-state")
    }

    /// The DuckDB file `owner` (a slice, or `integration` for the merge
    /// check) builds into with `[dbt] defer`: under a folder of its own,
    /// with the same name for everyone ([`DBT_DB_FILE`]), so dbt records
    /// the same database name in every manifest.
    pub fn dbt_db(&self, owner: &str) -> PathBuf {
        self.root.join("dbt-db").join(owner).join(DBT_DB_FILE)
    }

    pub fn setup_log(&self, slice: &SliceName) -> PathBuf {
        self.slice_dir(slice).join("setup.log")
    }

    pub fn slice_dir(&self, slice: &SliceName) -> PathBuf {
        self.root.join("slices").join(slice.as_str())
    }

    pub fn brief_file(&self, slice: &SliceName) -> PathBuf {
        self.slice_dir(slice).join("brief.md")
    }

    /// The merge queue's folder: the attempt in progress, check logs.
    pub fn merge_dir(&self) -> PathBuf {
        self.root.join("merge")
    }

    /// The merge attempt in progress; present only while one runs (or
    /// after a supervisor died during one).
    pub fn attempt_file(&self) -> PathBuf {
        self.merge_dir().join("attempt.json")
    }

    /// The output of attempt `number`'s check.
    pub fn check_log(&self, number: u64) -> PathBuf {
        self.merge_dir().join(format!("attempt-{number}.log"))
    }

    /// A walkthrough to show beside the board (the demo writes one).
    pub fn guide_file(&self) -> PathBuf {
        self.root.join("guide.json")
    }

    /// The integration worktree sliceboard owns, where checks run.
    pub fn integration_worktree(&self) -> PathBuf {
        self.root.join(INTEGRATION_WORKTREE)
    }

    pub fn journal(&self) -> Journal {
        Journal::new(self.journal_file())
    }

    /// Creates the folder if needed.
    pub fn ensure(&self) -> Result<(), StoreError> {
        crate::os::private::create_dir(&self.root).map_err(StoreError::io("create", &self.root))
    }

    /// Writes a file whole, atomically (see [`write_atomic`]).
    pub fn write_slice_file(
        &self,
        slice: &SliceName,
        name: &str,
        contents: &[u8],
    ) -> Result<PathBuf, StoreError> {
        let dir = self.slice_dir(slice);
        crate::os::private::create_dir(&dir).map_err(StoreError::io("create", &dir))?;
        let path = dir.join(name);
        write_atomic(&path, contents)?;
        Ok(path)
    }
}

/// Replaces `path` with `contents` so that a crash at any instant leaves the
/// old file or the new one, never a mix: write a temporary file beside it,
/// fsync it, rename it over the target, fsync the folder.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), StoreError> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = crate::os::private::create(&tmp).map_err(StoreError::io("create", &tmp))?;
        file.write_all(contents)
            .map_err(StoreError::io("write", &tmp))?;
        file.sync_all().map_err(StoreError::io("sync", &tmp))?;
        std::fs::rename(&tmp, path).map_err(StoreError::io("replace", path))?;
        if let Ok(dir) = std::fs::File::open(dir) {
            // Makes the rename itself durable; not every filesystem allows it.
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    } else {
        remove_orphaned_temporaries(dir, &file_name);
    }
    result
}

/// Deletes temporary files that writers killed mid-write left behind
/// (`.<name>.<pid>.tmp` whose process is gone).
fn remove_orphaned_temporaries(dir: &Path, file_name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{file_name}.");
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        if !crate::os::process_alive(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Where the supervisor of the state dir `root` listens: `supervisor.sock`
/// in it, or, when that path is too long for a Unix socket (108 bytes), a
/// name derived from it in a folder only this user can enter, so the
/// supervisor and every client agree on it and no other user can plant
/// one: `$HOME/.cache/sliceboard/run`, or `<tmp>/sliceboard-<uid>` without
/// a home. Never `$XDG_RUNTIME_DIR`: logind removes it when the user's last
/// session ends, which is when a supervisor must go on (and cron or `su`
/// see another value). Never a folder relative to the working directory:
/// clients start from any folder.
pub fn socket_path(root: &Path) -> PathBuf {
    socket_path_under(root, &run_dir(std::env::var_os("HOME").as_deref()))
}

/// [`socket_path`] with the private folder for long paths given.
fn socket_path_under(root: &Path, run_dir: &Path) -> PathBuf {
    const MAX_SOCKET_PATH: usize = 100;
    let path = root.join("supervisor.sock");
    if path.as_os_str().len() <= MAX_SOCKET_PATH || !make_private(run_dir) {
        // A path too long fails to bind, saying so: better than a socket
        // in a folder another user could enter.
        return path;
    }
    // FNV-1a: stable across builds, unlike std's hasher.
    let hash = root
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
    run_dir.join(format!("{hash:016x}.sock"))
}

/// The private folder for sockets whose path would be too long.
fn run_dir(home: Option<&std::ffi::OsStr>) -> PathBuf {
    match home.filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache/sliceboard/run"),
        None => std::env::temp_dir().join(format!("sliceboard-{}", crate::os::own_uid())),
    }
}

/// Creates `dir` 0700 (narrowing it if it was there) and says whether it is
/// ours and private.
fn make_private(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    if crate::os::private::create_dir(dir).is_err() {
        return false;
    }
    std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == crate::os::own_uid() && m.mode() & 0o077 == 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_long_state_dir_gets_a_private_short_socket_under_home() {
        let home = tempfile::tempdir().unwrap();
        let run = super::run_dir(Some(home.path().as_os_str()));
        assert_eq!(run, home.path().join(".cache/sliceboard/run"));
        let long = PathBuf::from("/").join("x".repeat(120));
        let path = super::socket_path_under(&long, &run);
        assert!(path.as_os_str().len() < 108, "{}", path.display());
        assert_eq!(path.parent(), Some(run.as_path()));
        assert_eq!(path, super::socket_path_under(&long, &run));
        // Never a predictable name in a shared folder: a 0700 folder of ours.
        use std::os::unix::fs::PermissionsExt as _;
        let folder = std::fs::metadata(&run).unwrap();
        assert_eq!(folder.permissions().mode() & 0o777, 0o700);
        let short = PathBuf::from("/repo/.git/sliceboard");
        assert_eq!(
            super::socket_path_under(&short, &run),
            short.join("supervisor.sock")
        );
    }

    #[test]
    fn without_a_home_the_run_dir_is_the_users_own_in_tmp_never_relative() {
        let run = super::run_dir(None);
        assert!(run.is_absolute(), "{}", run.display());
        assert!(run.starts_with(std::env::temp_dir()));
        assert!(run.ends_with(format!("sliceboard-{}", crate::os::own_uid())));
        assert_eq!(run, super::run_dir(Some(std::ffi::OsStr::new(""))));
    }

    #[test]
    fn a_run_dir_that_is_not_private_is_not_used() {
        let shared = tempfile::tempdir().unwrap();
        let run = shared.path().join("run");
        std::fs::create_dir(&run).unwrap();
        std::os::unix::fs::symlink(&run, shared.path().join("link")).unwrap();
        let long = PathBuf::from("/").join("x".repeat(120));
        // A symlink is not a folder of ours: the long path is kept.
        let path = super::socket_path_under(&long, &shared.path().join("link"));
        assert_eq!(path, long.join("supervisor.sock"));
    }

    use super::*;

    #[test]
    fn the_socket_stays_within_the_unix_path_limit() {
        let short = StateDir::for_common_dir(Path::new("/r/.git"));
        assert_eq!(
            short.socket_file(),
            Path::new("/r/.git/sliceboard/supervisor.sock")
        );
        let deep = format!("/{}/.git", "very-long-folder-name/".repeat(8));
        let long = StateDir::for_common_dir(Path::new(&deep));
        let socket = long.socket_file();
        assert!(socket.as_os_str().len() < 108, "{}", socket.display());
        // The supervisor and a hook compute the same path.
        assert_eq!(
            socket,
            StateDir::for_common_dir(Path::new(&deep)).socket_file()
        );
        assert_ne!(
            socket,
            StateDir::for_common_dir(Path::new("/other/.git")).socket_file()
        );
    }
}
