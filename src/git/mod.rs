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
