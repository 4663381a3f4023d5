//! Linked worktrees: list, add, inspect and remove them.
//!
//! git2's worktree name must be one path component; we pass the slice name,
//! which is validated to be one. There is no git2 call for "is this branch
//! checked out somewhere", so we read each worktree's HEAD ourselves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository, Status, StatusOptions, WorktreePruneOptions};

use super::{GitError, GitRepo, doing};

/// A worktree git knows about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorktreeInfo {
    /// git's name for it; `None` for the main worktree.
    pub name: Option<String>,
    pub path: PathBuf,
    /// The branch checked out there, if HEAD is on one.
    pub branch: Option<String>,
    /// The folder exists and links back to this repository.
    pub valid: bool,
    pub locked: bool,
}

/// What [`GitRepo::add_worktree`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// A new worktree; `branch_created` is false when an existing branch was
    /// checked out as it was; `redone` when a half-made one (an interrupted
    /// `up`) was removed first.
    Created { branch_created: bool, redone: bool },
    /// The worktree was already there, on the right branch.
    AlreadyThere,
}

/// Uncommitted work in a worktree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dirt {
    /// Tracked files changed in the index or the working tree.
    pub changed: usize,
    /// Untracked files not ignored.
    pub untracked: usize,
}

impl Dirt {
    /// Untracked files and tracked ones changed, among `statuses`.
    fn of(statuses: &git2::Statuses<'_>) -> Self {
        let mut dirt = Dirt::default();
        for entry in statuses.iter() {
            let status = entry.status();
            if status.contains(Status::WT_NEW) && !status.intersects(Status::INDEX_NEW) {
                dirt.untracked += 1;
            } else if !status.is_empty() && !status.contains(Status::IGNORED) {
                dirt.changed += 1;
            }
        }
        dirt
    }

    pub fn is_clean(&self) -> bool {
        self.changed == 0 && self.untracked == 0
    }
}

impl GitRepo {
    /// The main worktree and every linked one.
    pub fn worktrees(&self) -> Result<Vec<WorktreeInfo>, GitError> {
        let mut all = vec![WorktreeInfo {
            name: None,
            path: self.root().to_owned(),
            branch: self.head_branch(),
            valid: true,
            locked: false,
        }];
        let names = self.raw().worktrees().map_err(doing("list worktrees"))?;
        for name in names.iter().flatten().flatten() {
            let Ok(worktree) = self.raw().find_worktree(name) else {
                continue;
            };
            let head = self.common_dir().join("worktrees").join(name).join("HEAD");
            all.push(WorktreeInfo {
                name: Some(name.to_owned()),
                path: worktree.path().to_owned(),
                branch: branch_in_head_file(&head),
                valid: worktree.validate().is_ok(),
                locked: !matches!(worktree.is_locked(), Ok(git2::WorktreeLockStatus::Unlocked)),
            });
        }
        Ok(all)
    }

    /// The worktree git knows by `name`.
    pub fn worktree_named(&self, name: &str) -> Result<Option<WorktreeInfo>, GitError> {
        Ok(self
            .worktrees()?
            .into_iter()
            .find(|w| w.name.as_deref() == Some(name)))
    }

    /// Adds worktree `name` at `path` on `branch`, creating the branch at
    /// `base` only if it does not exist; an existing branch is never moved.
    /// A new worktree is marked as sliceboard's for slice `name`.
    pub fn add_worktree(
        &self,
        name: &str,
        path: &Path,
        branch: &str,
        base: Oid,
    ) -> Result<AddOutcome, GitError> {
        let redone = self.clear_half_made(name, path)?;
        let worktrees = self.worktrees()?;
        if let Some(existing) = worktrees.iter().find(|w| w.name.as_deref() == Some(name)) {
            if existing.valid && same_path(&existing.path, path) {
                return match existing.branch.as_deref() {
                    Some(b) if b == branch => Ok(AddOutcome::AlreadyThere),
                    other => Err(GitError::Refused(format!(
                        "worktree {} has {} checked out, not {branch}; switch it back with `git -C {} switch {branch}`",
                        path.display(),
                        other.unwrap_or("a detached HEAD"),
                        path.display()
                    ))),
                };
            }
            if existing.valid {
                return Err(GitError::Refused(format!(
                    "git already has a worktree named {name:?} at {}; remove or rename it (`git worktree move`) so sliceboard can use that name",
                    existing.path.display()
                )));
            }
            // A stale record for a folder that is gone: clear it first.
            self.prune_stale()?;
        }
        if let Some(holder) = worktrees
            .iter()
            .find(|w| w.branch.as_deref() == Some(branch) && w.valid)
        {
            return Err(GitError::Refused(format!(
                "branch {branch} is already checked out in {}; git allows a branch in one worktree only",
                holder.path.display()
            )));
        }
        if path.exists() && !is_empty_dir(path) {
            return Err(GitError::Refused(format!(
                "{} already exists and is not this slice's worktree; move it aside or change `worktrees` in the plan",
                path.display()
            )));
        }
        let branch_created = if self.branch_exists(branch) {
            false
        } else {
            self.create_branch(branch, base)?;
            true
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| GitError::Io {
                action: format!("create {}", parent.display()),
                source,
            })?;
        }
        if path.exists() {
            // An empty folder: git2 wants to create it itself.
            let _ = std::fs::remove_dir(path);
        }
        let tip = self
            .raw()
            .find_reference(&format!("refs/heads/{branch}"))
            .and_then(|r| r.peel_to_commit())
            .map_err(doing(format!("read branch {branch}")))?;
        self.make_worktree(name, path, branch, tip.tree_id())?;
        Ok(AddOutcome::Created {
            branch_created,
            redone,
        })
    }

    /// Makes worktree `name` at `path` on `branch` as libgit2's
    /// `git_worktree_add` does, the same files in the same order (so an
    /// interrupted run leaves what [`Self::clear_half_made`] knows), then
    /// checks out the branch's `tree`. With no attributes anywhere and no
    /// `core.autocrlf` or `core.eol`, no filter can apply, and the checkout
    /// runs with filters off: libgit2 otherwise resolves every file's
    /// folder and looks for attributes there, a third of the time of a
    /// large tree's checkout. git2 gives `Repository::worktree` no
    /// checkout options, hence the steps by hand.
    fn make_worktree(
        &self,
        name: &str,
        path: &Path,
        branch: &str,
        tree: Oid,
    ) -> Result<(), GitError> {
        use std::os::unix::ffi::OsStrExt as _;
        let io = |action: String| move |source| GitError::Io { action, source };
        let line =
            |path: &Path, before: &[u8]| [before, path.as_os_str().as_bytes(), b"\n"].concat();
        let common = self
            .common_dir()
            .canonicalize()
            .map_err(io(format!("resolve {}", self.common_dir().display())))?;
        let records = common.join("worktrees");
        std::fs::create_dir_all(&records).map_err(io(format!("create {}", records.display())))?;
        let record = records.join(name);
        // Fails when it exists, as git's own does: never two at one name.
        std::fs::create_dir(&record).map_err(io(format!("create {}", record.display())))?;
        std::fs::create_dir(path).map_err(io(format!("create {}", path.display())))?;
        let folder = path
            .canonicalize()
            .map_err(io(format!("resolve {}", path.display())))?;
        let write = |file: PathBuf, bytes: Vec<u8>| {
            std::fs::write(&file, bytes).map_err(io(format!("write {}", file.display())))
        };
        write(folder.join(".git"), line(&record, b"gitdir: "))?;
        write(record.join("commondir"), line(&common, b""))?;
        write(record.join("gitdir"), line(&folder.join(".git"), b""))?;
        // Ours from the start: one cut off in its checkout is still known
        // as sliceboard's, never taken for the user's.
        self.mark_worktree(name, name)?;
        // HEAD last, and whole (through HEAD.lock): until it is there, the
        // worktree is half-made.
        write(
            record.join("HEAD.lock"),
            format!("ref: refs/heads/{branch}\n").into_bytes(),
        )?;
        std::fs::rename(record.join("HEAD.lock"), record.join("HEAD"))
            .map_err(io(format!("write {}", record.join("HEAD").display())))?;
        let worktree =
            Repository::open(&folder).map_err(doing(format!("open {}", folder.display())))?;
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.disable_filters(!self.filters_may_apply(tree));
        worktree
            .checkout_head(Some(&mut checkout))
            .map_err(doing(format!("check out {branch} in {}", path.display())))
    }

    /// Whether a checkout of `tree` could run a filter: some attributes
    /// file exists (in the tree, the repository's `info/attributes`, the
    /// user's or the system's) or `core.autocrlf`/`core.eol` asks for line
    /// ending conversion. When in doubt, yes.
    fn filters_may_apply(&self, tree: Oid) -> bool {
        let Ok(config) = self.raw().config() else {
            return true;
        };
        let autocrlf = config.get_string("core.autocrlf").ok();
        if autocrlf.is_some_and(|v| !v.eq_ignore_ascii_case("false")) {
            return true;
        }
        if config
            .get_string("core.eol")
            .is_ok_and(|v| !v.eq_ignore_ascii_case("lf") && !v.eq_ignore_ascii_case("native"))
        {
            return true;
        }
        let user_file = config.get_path("core.attributesfile").ok().or_else(|| {
            let config_home = std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
            Some(config_home.join("git").join("attributes"))
        });
        let files = [
            Some(self.common_dir().join("info").join("attributes")),
            user_file,
            Some(PathBuf::from("/etc/gitattributes")),
        ];
        if files.iter().flatten().any(|f| f.exists()) {
            return true;
        }
        let Ok(tree) = self.raw().find_tree(tree) else {
            return true;
        };
        let mut found = false;
        let walked = tree.walk(git2::TreeWalkMode::PreOrder, |_, entry| {
            if entry.name_bytes() == b".gitattributes" {
                found = true;
                return git2::TreeWalkResult::Abort;
            }
            git2::TreeWalkResult::Ok
        });
        found || walked.is_err()
    }

    /// What an `up` killed inside `git worktree add` leaves: a folder that
    /// holds only its `.git` file, pointing at a record of git's with no
    /// `HEAD` yet (or a `HEAD.lock`). Both are removed so the worktree is
    /// made again; anything else in the folder means it is not half-made,
    /// and it is left alone. Returns whether something was removed.
    fn clear_half_made(&self, name: &str, path: &Path) -> Result<bool, GitError> {
        let record = self.common_dir().join("worktrees").join(name);
        let incomplete = !record.join("HEAD").is_file() || record.join("HEAD.lock").exists();
        if !record.is_dir() || !incomplete {
            return Ok(false);
        }
        let only_git_file = std::fs::read_dir(path).is_ok_and(|entries| {
            let names: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
            names.len() == 1 && names[0] == ".git" && path.join(".git").is_file()
        });
        if path.exists() && !only_git_file {
            return Ok(false);
        }
        let io = |action: String| move |source| GitError::Io { action, source };
        if only_git_file {
            std::fs::remove_file(path.join(".git"))
                .map_err(io(format!("remove {}", path.join(".git").display())))?;
            std::fs::remove_dir(path).map_err(io(format!("remove {}", path.display())))?;
        }
        std::fs::remove_dir_all(&record).map_err(io(format!("remove {}", record.display())))?;
        Ok(true)
    }

    /// Removes a worktree's folder and git's record of it. The branch stays.
    /// Callers check for uncommitted work first: this discards it.
    pub fn remove_worktree(&self, name: &str) -> Result<(), GitError> {
        let worktree = self
            .raw()
            .find_worktree(name)
            .map_err(doing(format!("find worktree {name}")))?;
        if !matches!(worktree.is_locked(), Ok(git2::WorktreeLockStatus::Unlocked)) {
            return Err(GitError::Refused(format!(
                "worktree {name} is locked; unlock it with `git worktree unlock {}` first",
                worktree.path().display()
            )));
        }
        let mut options = WorktreePruneOptions::new();
        options.valid(true).working_tree(true);
        worktree.prune(Some(&mut options)).map_err(doing(format!(
            "remove worktree {}",
            worktree.path().display()
        )))
    }

    /// Drops git's records of worktrees whose folders are gone (what
    /// `git worktree prune` does). Returns their names.
    pub fn prune_stale(&self) -> Result<Vec<String>, GitError> {
        let names = self.raw().worktrees().map_err(doing("list worktrees"))?;
        let mut pruned = Vec::new();
        for name in names.iter().flatten().flatten() {
            let Ok(worktree) = self.raw().find_worktree(name) else {
                continue;
            };
            // Default options: only invalid, unlocked worktrees are prunable,
            // so this never touches a folder that still exists.
            if worktree.is_prunable(None).unwrap_or(false) {
                worktree
                    .prune(None)
                    .map_err(doing(format!("prune worktree record {name}")))?;
                pruned.push(name.to_owned());
            }
        }
        Ok(pruned)
    }

    /// Uncommitted changes in the worktree at `path` (untracked files
    /// included, ignored ones not).
    pub fn dirt(path: &Path) -> Result<Dirt, GitError> {
        Self::dirt_and_paths(path).map(|(dirt, _)| dirt)
    }

    /// [`GitRepo::dirt`], and the paths it found (`/`-separated): every
    /// file that differs from HEAD, untracked ones included.
    pub fn dirt_and_paths(path: &Path) -> Result<(Dirt, BTreeSet<String>), GitError> {
        let repo = Repository::open(path).map_err(doing(format!("open {}", path.display())))?;
        let mut options = status_options();
        let statuses = repo
            .statuses(Some(&mut options))
            .map_err(doing(format!("read the status of {}", path.display())))?;
        let paths = statuses
            .iter()
            .filter(|e| !e.status().contains(Status::IGNORED))
            .filter_map(|e| e.path().ok().map(str::to_owned))
            .collect();
        Ok((Dirt::of(&statuses), paths))
    }

    /// [`GitRepo::dirt`] among `paths` only: every file that can differ
    /// from the worktree's HEAD when a diff against some base names them
    /// all (the live diff's paths, and what the branch's commits changed
    /// since that base). The rest of a large worktree is not read.
    pub fn dirt_among(
        path: &Path,
        paths: &BTreeSet<String>,
        open: &OpenWorktrees,
    ) -> Result<Dirt, GitError> {
        if paths.is_empty() {
            return Ok(Dirt::default());
        }
        open.with(path, |repo| {
            let head = worktree_head(repo, path)?;
            dirt_in(repo, path, head.as_ref(), paths)
        })
    }

    /// [`GitRepo::dirt`] of a worktree whose diff against `base` (a
    /// commit) names `paths`, such as a live diff: a file can differ from
    /// the worktree's HEAD only there, or where the commits from `base` to
    /// that HEAD changed it, so only those paths are read.
    pub fn dirt_since(
        path: &Path,
        base: Oid,
        paths: &BTreeSet<String>,
        open: &OpenWorktrees,
    ) -> Result<Dirt, GitError> {
        open.with(path, |repo| {
            let head = worktree_head(repo, path)?;
            let mut paths = paths.clone();
            if let Some(head) = &head {
                let id = head.id();
                if id != base {
                    paths.extend(super::merge::changed_paths(repo, base, id)?);
                }
            }
            if paths.is_empty() {
                return Ok(Dirt::default());
            }
            dirt_in(repo, path, head.as_ref(), &paths)
        })
    }

    /// Untracked files, not ignored, in the worktree's folders that live
    /// diffs leave out and never watch (`SKIPPED_DIRS`: `target`, `logs`,
    /// `node_modules`…): [`GitRepo::dirt_since`] cannot see them. The
    /// worktree's folders are walked (not its files), never into a
    /// skipped one, and each skipped folder found gets a status of its
    /// own (an ignored one is not entered).
    pub fn untracked_in_skipped(path: &Path, open: &OpenWorktrees) -> Result<usize, GitError> {
        let mut skipped = Vec::new();
        skipped_folders(path, "", &mut skipped);
        if skipped.is_empty() {
            return Ok(0);
        }
        open.with(path, |repo| {
            let mut untracked = 0;
            // One folder a status: a pathspec's literal prefix bounds what
            // git2 walks, and several together share none.
            for folder in &skipped {
                let mut options = status_options();
                options.pathspec(folder);
                let statuses = repo
                    .statuses(Some(&mut options))
                    .map_err(doing(format!("read the status of {}", path.display())))?;
                untracked += Dirt::of(&statuses).untracked;
            }
            Ok(untracked)
        })
    }
}

/// The folders under `root`'s `rel` named in `SKIPPED_DIRS`, as
/// `/`-separated paths (`.git` left out), found without entering them.
fn skipped_folders(root: &Path, rel: &str, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    for entry in entries.flatten() {
        // The entry's own type: a symlink to a folder is not followed.
        if !entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if crate::domain::diff::SKIPPED_DIRS.contains(&name.as_str()) {
            if name != ".git" {
                found.push(child);
            }
            continue;
        }
        skipped_folders(root, &child, found);
    }
}

/// A status as `git status` counts: every untracked file (not only its
/// folder), ignored ones and submodules left out.
fn status_options() -> StatusOptions {
    let mut options = StatusOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true);
    options
}

/// The commit a worktree's HEAD is at; `None` on an unborn branch.
fn worktree_head<'r>(
    repo: &'r Repository,
    path: &Path,
) -> Result<Option<git2::Commit<'r>>, GitError> {
    match repo.head() {
        Ok(head) => head
            .peel_to_commit()
            .map(Some)
            .map_err(doing(format!("read the status of {}", path.display()))),
        Err(err) if err.code() == git2::ErrorCode::UnbornBranch => Ok(None),
        Err(err) => Err(doing(format!("read the status of {}", path.display()))(err)),
    }
}

/// [`GitRepo::dirt_among`] in a worktree's open repository, whose HEAD
/// is at `head` (`None` on an unborn branch).
fn dirt_in(
    repo: &Repository,
    path: &Path,
    head: Option<&git2::Commit<'_>>,
    paths: &BTreeSet<String>,
) -> Result<Dirt, GitError> {
    let failed = || doing(format!("read the status of {}", path.display()));
    let tree = head.map(|c| c.tree().map_err(failed())).transpose()?;
    let mut index = repo.index().map_err(failed())?;
    index.read(false).map_err(failed())?;
    let mut staged = BTreeSet::new();
    for name in paths {
        let at = Path::new(name);
        // A folder is never in the index: only files compare.
        let committed = tree
            .as_ref()
            .and_then(|t| t.get_path(at).ok())
            .filter(|e| e.kind() != Some(git2::ObjectType::Tree))
            .map(|e| (e.id(), u32::try_from(e.filemode_raw()).unwrap_or(0)));
        // The index may look names up ignoring case (`core.ignorecase`).
        let indexed = index
            .get_path(at, 0)
            .filter(|e| e.path == name.as_bytes())
            .map(|e| (e.id, e.mode));
        // As git2's status: an entry that is a submodule on every side
        // it has is left out.
        let submodule = [committed, indexed]
            .into_iter()
            .flatten()
            .all(|(_, mode)| mode == GITLINK);
        if committed != indexed && !submodule {
            staged.insert(name.as_str());
        }
    }
    // The index against the files: only the paths asked are read.
    let mut options = git2::DiffOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .ignore_submodules(true)
        .disable_pathspec_match(true);
    for name in paths {
        options.pathspec(name);
    }
    let diff = repo
        .diff_index_to_workdir(Some(&index), Some(&mut options))
        .map_err(failed())?;
    let mut dirt = Dirt::default();
    let mut changed: BTreeSet<&str> = staged.clone();
    for delta in diff.deltas() {
        let Some(name) = delta
            .new_file()
            .path()
            .or_else(|| delta.old_file().path())
            .and_then(Path::to_str)
        else {
            continue;
        };
        let Some(name) = paths.get(name).map(String::as_str) else {
            continue;
        };
        match delta.status() {
            // As git2's status counts it (`Dirt::of`): a file not in
            // the index is untracked, even where the index dropped it
            // from HEAD.
            git2::Delta::Untracked => {
                changed.remove(name);
                dirt.untracked += 1;
            }
            git2::Delta::Ignored | git2::Delta::Unmodified => {}
            _ => {
                changed.insert(name);
            }
        }
    }
    dirt.changed = changed.len();
    Ok(dirt)
}

/// Worktrees kept open between reads: a repository's index (on a large
/// repository, megabytes to read and checksum) is read again only when it
/// changed on disk. Held by a long-lived process, such as the supervisor.
#[derive(Default)]
pub struct OpenWorktrees {
    repos: std::sync::Mutex<std::collections::BTreeMap<PathBuf, Repository>>,
}

impl OpenWorktrees {
    /// Forgets worktrees not in `keep` (removed ones).
    pub fn retain(&self, keep: &BTreeSet<PathBuf>) {
        self.repos
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|path, _| keep.contains(path));
    }

    /// `read` with the worktree at `path` open (opened now if it was not).
    fn with<R>(
        &self,
        path: &Path,
        read: impl FnOnce(&Repository) -> Result<R, GitError>,
    ) -> Result<R, GitError> {
        let mut cache = self
            .repos
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let repo = match cache.entry(path.to_owned()) {
            std::collections::btree_map::Entry::Occupied(kept) => kept.into_mut(),
            std::collections::btree_map::Entry::Vacant(slot) => slot
                .insert(Repository::open(path).map_err(doing(format!("open {}", path.display())))?),
        };
        read(repo)
    }
}

fn branch_in_head_file(head: &Path) -> Option<String> {
    let text = std::fs::read_to_string(head).ok()?;
    text.trim()
        .strip_prefix("ref: refs/heads/")
        .map(str::to_owned)
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path)
        .map(|mut entries| entries.next().is_none())
        .unwrap_or(false)
}

fn same_path(a: &Path, b: &Path) -> bool {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_owned());
    canonical(a) == canonical(b)
}

/// The file in git's record of a worktree that says sliceboard made it.
const MARK_FILE: &str = "sliceboard-slice";

/// A submodule's mode in a tree or the index.
const GITLINK: u32 = 0o160_000;

impl GitRepo {
    /// Notes in git's own record of worktree `name` (never in the user's
    /// tree) that sliceboard created it for `slice`.
    pub fn mark_worktree(&self, name: &str, slice: &str) -> Result<(), GitError> {
        let path = self
            .common_dir()
            .join("worktrees")
            .join(name)
            .join(MARK_FILE);
        std::fs::write(&path, format!("{slice}\n")).map_err(|source| GitError::Io {
            action: format!("write {}", path.display()),
            source,
        })
    }

    /// The slice sliceboard created worktree `name` for, if it did.
    pub fn worktree_mark(&self, name: &str) -> Option<String> {
        let path = self
            .common_dir()
            .join("worktrees")
            .join(name)
            .join(MARK_FILE);
        let text = std::fs::read_to_string(path).ok()?;
        Some(text.trim().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::testing::{git, make_executable, write};

    /// Every kind of uncommitted change, counted path by path as git2's
    /// whole status counts it.
    #[test]
    fn dirt_among_some_paths_counts_as_the_whole_status_does() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(root, &["init", "-q", "-b", "main"]);
        let write = |name: &str, text: &str| write(root, name, text);
        let committed = [
            "a/same.sql",
            "a/edited.sql",
            "a/staged.sql",
            "a/gone.sql",
            "a/removed.sql",
            "a/uncached.sql",
            "a/reverted.sql",
            "a/mode.sh",
            "b/deep/typed.sql",
        ];
        for name in committed {
            write(name, "select 1\n");
        }
        write(".gitignore", "*.log\n");
        git(root, &["add", "."]);
        git(root, &["commit", "-qm", "base"]);

        write("a/edited.sql", "select 2\n");
        write("a/staged.sql", "select 3\n");
        git(root, &["add", "a/staged.sql"]);
        write("a/new_staged.sql", "select 4\n");
        git(root, &["add", "a/new_staged.sql"]);
        write("a/new_staged.sql", "select 5\n");
        std::fs::remove_file(root.join("a/gone.sql")).unwrap();
        git(root, &["rm", "-q", "a/removed.sql"]);
        git(root, &["rm", "-q", "--cached", "a/uncached.sql"]);
        write("a/reverted.sql", "select 9\n");
        write("a/reverted.sql", "select 1\n");
        make_executable(&root.join("a/mode.sh"));
        std::fs::remove_file(root.join("b/deep/typed.sql")).unwrap();
        std::os::unix::fs::symlink("../../a/same.sql", root.join("b/deep/typed.sql")).unwrap();
        write("c/untracked.sql", "select 6\n");
        write("c/run.log", "ignored\n");

        let whole = GitRepo::dirt(root).unwrap();
        assert_eq!(
            whole,
            Dirt {
                changed: 7,
                untracked: 2
            },
            "the case as git2 sees it"
        );
        let open = OpenWorktrees::default();
        let all: BTreeSet<String> = committed
            .into_iter()
            // Folders of HEAD too: a folder is no change.
            .chain([
                "a/new_staged.sql",
                "c/untracked.sql",
                "c/run.log",
                "d/never.sql",
                "b/deep",
                "a",
            ])
            .map(str::to_owned)
            .collect();
        assert_eq!(GitRepo::dirt_among(root, &all, &open).unwrap(), whole);
        // Each path alone counts as it does among the rest.
        let mut summed = Dirt::default();
        for path in &all {
            let one = GitRepo::dirt_among(root, &BTreeSet::from([path.clone()]), &open).unwrap();
            summed.changed += one.changed;
            summed.untracked += one.untracked;
        }
        assert_eq!(summed, whole);
        // Committed, nothing is left; the index is read again.
        git(root, &["add", "-A"]);
        git(root, &["commit", "-qm", "all"]);
        assert_eq!(
            GitRepo::dirt_among(root, &all, &open).unwrap(),
            Dirt::default()
        );
    }
}
