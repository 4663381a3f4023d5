//! The repository: discovery from any of its worktrees, branches, commits.

use std::path::{Path, PathBuf};

use git2::{BranchType, ErrorCode, Oid, Repository};

use super::{GitError, doing};

/// The main repository (never a linked worktree), however it was found.
pub struct GitRepo {
    repo: Repository,
    root: PathBuf,
    common_dir: PathBuf,
}

impl GitRepo {
    /// Finds the repository containing `from`. From inside a slice's
    /// worktree this still opens the main repository, where the plan lives.
    pub fn discover(from: &Path) -> Result<Self, GitError> {
        let found = Repository::discover(from).map_err(|err| match err.code() {
            ErrorCode::NotFound => GitError::NotARepository {
                path: from.to_owned(),
            },
            _ => doing(format!("open the repository at {}", from.display()))(err),
        })?;
        let common_dir = found.commondir().to_owned();
        let repo = Repository::open(&common_dir)
            .map_err(doing(format!("open {}", common_dir.display())))?;
        let root = repo
            .workdir()
            .ok_or_else(|| GitError::Bare {
                path: common_dir.clone(),
            })?
            .to_owned();
        let root = root.canonicalize().unwrap_or(root);
        let common_dir = common_dir.canonicalize().unwrap_or(common_dir);
        Ok(Self {
            repo,
            root,
            common_dir,
        })
    }

    pub fn raw(&self) -> &Repository {
        &self.repo
    }

    /// The main worktree's root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The git dir shared by all worktrees (`<root>/.git`).
    pub fn common_dir(&self) -> &Path {
        &self.common_dir
    }

    /// The branch checked out in the main worktree, if HEAD is on one.
    pub fn head_branch(&self) -> Option<String> {
        let head = self.repo.find_reference("HEAD").ok()?;
        let target = head.symbolic_target().ok()??;
        target.strip_prefix("refs/heads/").map(str::to_owned)
    }

    pub fn branch_exists(&self, name: &str) -> bool {
        self.repo.find_branch(name, BranchType::Local).is_ok()
    }

    /// Local branch names, sorted.
    pub fn branches(&self) -> Vec<String> {
        let Ok(branches) = self.repo.branches(Some(BranchType::Local)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = branches
            .filter_map(Result::ok)
            .filter_map(|(b, _)| b.name().ok().flatten().map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    /// The commit a local branch points at.
    pub fn branch_tip(&self, name: &str) -> Result<Option<Oid>, GitError> {
        match self.repo.find_branch(name, BranchType::Local) {
            Ok(branch) => Ok(branch.get().target()),
            Err(err) if err.code() == ErrorCode::NotFound => Ok(None),
            Err(err) => Err(doing(format!("read branch {name}"))(err)),
        }
    }

    /// Creates a local branch at `at`; refuses to move an existing one.
    pub fn create_branch(&self, name: &str, at: Oid) -> Result<(), GitError> {
        let commit = self
            .repo
            .find_commit(at)
            .map_err(doing(format!("find commit {at}")))?;
        self.repo
            .branch(name, &commit, false)
            .map_err(doing(format!("create branch {name}")))?;
        Ok(())
    }

    /// Deletes a local branch; false when there was none.
    pub fn delete_branch(&self, name: &str) -> Result<bool, GitError> {
        match self.repo.find_branch(name, BranchType::Local) {
            Ok(mut branch) => branch
                .delete()
                .map(|()| true)
                .map_err(doing(format!("delete branch {name}"))),
            Err(err) if err.code() == ErrorCode::NotFound => Ok(false),
            Err(err) => Err(doing(format!("read branch {name}"))(err)),
        }
    }

    /// Renames branch `from` to `to` (which must not exist).
    pub fn rename_branch(&self, from: &str, to: &str) -> Result<(), GitError> {
        let mut branch = self
            .repo
            .find_branch(from, BranchType::Local)
            .map_err(doing(format!("read branch {from}")))?;
        branch
            .rename(to, false)
            .map(|_| ())
            .map_err(doing(format!("rename branch {from} to {to}")))
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    pub fn contains(&self, descendant: Oid, ancestor: Oid) -> Result<bool, GitError> {
        if descendant == ancestor {
            return Ok(true);
        }
        self.repo
            .graph_descendant_of(descendant, ancestor)
            .map_err(doing("compare commits"))
    }

    /// Commits on `tip` that `other` lacks, and the reverse.
    pub fn ahead_behind(&self, tip: Oid, other: Oid) -> Result<(usize, usize), GitError> {
        self.repo
            .graph_ahead_behind(tip, other)
            .map_err(doing("count commits"))
    }

    /// Every file path at the tip of `branch`, `/`-separated; empty when the
    /// branch does not exist.
    pub fn files_at(&self, branch: &str) -> Vec<String> {
        let Ok(Some(tip)) = self.branch_tip(branch) else {
            return Vec::new();
        };
        let Ok(tree) = self.repo.find_commit(tip).and_then(|c| c.tree()) else {
            return Vec::new();
        };
        let mut files = Vec::new();
        let _ = tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(git2::ObjectType::Blob)
                && let Ok(name) = entry.name()
            {
                files.push(format!("{dir}{name}"));
            }
            git2::TreeWalkResult::Ok
        });
        files
    }

    pub fn is_valid_branch_name(name: &str) -> bool {
        git2::Branch::name_is_valid(name).unwrap_or(false)
    }
}
