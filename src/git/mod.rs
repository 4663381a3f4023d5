//! Everything sliceboard asks of git, through git2: finding the repository,
//! branches, worktrees and how far a branch has moved.
//!
//! Plain blocking functions on real repositories; callers that must not
//! block (the dashboard) run them on a worker thread. Knows nothing of plans
//! or state files beyond the names it is handed.

mod diff;
mod merge;
mod repo;
mod worktree;

pub use diff::{Branches, DiffSource, IndexEntries, index_changes, latest};
pub use git2::Oid;
pub use merge::{Made, MergeEngine, MoveError, Preview};
pub use repo::GitRepo;
pub use worktree::{AddOutcome, Dirt, OpenWorktrees, WorktreeInfo};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{} is not inside a git repository; run sliceboard from your repository, or `git init` one first", path.display())]
    NotARepository { path: PathBuf },
    #[error("the repository at {} has no working tree; sliceboard needs a non-bare repository", path.display())]
    Bare { path: PathBuf },
    #[error("cannot {action}: {source}")]
    Git {
        action: String,
        #[source]
        source: git2::Error,
    },
    #[error("cannot {action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Refused(String),
}

/// Wraps a git2 error with what we were doing.
pub(crate) fn doing(action: impl Into<String>) -> impl FnOnce(git2::Error) -> GitError {
    let action = action.into();
    move |source| GitError::Git { action, source }
}

/// What the git module's tests share: git itself, run as a user with no
/// configuration, and files written or made executable.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;
    use std::process::Command;

    /// Runs git in `dir`; its output, trimmed. Fails the test when git does.
    pub fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Writes `text` to `name` under `root`, its folders made.
    pub fn write(root: &Path, name: &str, text: &str) {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn make_executable(path: &Path) {
        let mut perms = std::fs::metadata(path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(path, perms).unwrap();
    }
}
