//! The merge engine: libgit2's in-memory three-way merge, used both to
//! preview (does this slice merge cleanly into that tip?) and to make the
//! real merge commit, so a preview never disagrees with the merge.
//!
//! A preview writes nothing: the merged blobs libgit2 produces go to an
//! in-memory object store (a mempack backend on a repository opened for
//! that batch), never to `.git/objects`, and no index, worktree or ref is
//! touched. A merge writes its tree and commit to the object store and
//! still moves no ref; [`MergeEngine::move_branch`] is the only writer of a
//! ref here, and it is a compare-and-swap.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use git2::{ErrorCode, MergeOptions, Oid, Repository, Signature};

use super::{GitError, doing};

/// What merging `theirs` into `ours` gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preview {
    /// Merges without conflict. `already_in` when `ours` already holds `theirs`.
    Clean { already_in: bool },
    /// These paths conflict, sorted.
    Conflicts { paths: Vec<String> },
}

/// A merge commit made (written to the object store; no ref moved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    Commit(Oid),
    Conflicts { paths: Vec<String> },
}

/// Why a branch did not move.
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// It was not where the caller last saw it (someone moved it).
    #[error("branch {branch} moved to {} meanwhile", now.map_or("nothing (deleted)".to_owned(), |o| o.to_string()))]
    Moved { branch: String, now: Option<Oid> },
    #[error(transparent)]
    Git(#[from] GitError),
}

/// Merges over one repository (its common git dir).
pub struct MergeEngine {
    repo: Repository,
    common_dir: PathBuf,
}

impl MergeEngine {
    pub fn open(common_dir: &Path) -> Result<Self, GitError> {
        let repo = Repository::open(common_dir)
            .map_err(doing(format!("open {}", common_dir.display())))?;
        Ok(Self {
            repo,
            common_dir: common_dir.to_owned(),
        })
    }

    pub fn raw(&self) -> &Repository {
        &self.repo
    }

    /// A local branch's tip, read fresh from disk.
    pub fn tip(&self, branch: &str) -> Result<Option<Oid>, GitError> {
        match self.repo.find_reference(&format!("refs/heads/{branch}")) {
            Ok(reference) => Ok(reference.resolve().ok().and_then(|r| r.target())),
            Err(err) if err.code() == ErrorCode::NotFound => Ok(None),
            Err(err) => Err(doing(format!("read branch {branch}"))(err)),
        }
    }

    /// Paths that differ between two commits' trees (both sides of a
    /// rename), `/`-separated; see [`changed_paths`].
    pub fn changed_paths(&self, from: Oid, to: Oid) -> Result<BTreeSet<String>, GitError> {
        changed_paths(&self.repo, from, to)
    }

    /// Commits reachable from `tip` that `other` lacks.
    pub fn ahead(&self, tip: Oid, other: Oid) -> Result<usize, GitError> {
        self.repo
            .graph_ahead_behind(tip, other)
            .map(|(ahead, _)| ahead)
            .map_err(doing("count commits"))
    }

    /// The merge base of two commits, if they share history.
    pub fn merge_base(&self, one: Oid, two: Oid) -> Result<Option<Oid>, GitError> {
        match self.repo.merge_base(one, two) {
            Ok(oid) => Ok(Some(oid)),
            Err(err) if err.code() == ErrorCode::NotFound => Ok(None),
            Err(err) => Err(doing("find a merge base")(err)),
        }
    }

    /// Previews merging each `(ours, theirs)` pair, writing nothing: the
    /// batch runs on a repository of its own whose new objects stay in
    /// memory and are dropped with it.
    pub fn previews(&self, pairs: &[(Oid, Oid)]) -> Result<Vec<Preview>, GitError> {
        let scratch = Repository::open(&self.common_dir)
            .map_err(doing(format!("open {}", self.common_dir.display())))?;
        let odb = scratch.odb().map_err(doing("open the object store"))?;
        // Highest priority: libgit2 writes to the first backend that can.
        let _in_memory = odb
            .add_new_mempack_backend(1000)
            .map_err(doing("add an in-memory object store"))?;
        pairs
            .iter()
            .map(|&(ours, theirs)| match merge(&scratch, ours, theirs)? {
                Merged::AlreadyIn => Ok(Preview::Clean { already_in: true }),
                Merged::Index(_) => Ok(Preview::Clean { already_in: false }),
                Merged::Conflicts(paths) => Ok(Preview::Conflicts { paths }),
            })
            .collect()
    }

    /// Merges `theirs` into `ours` and writes the merge commit (parents
    /// `ours`, `theirs`, in that order) to the object store; no ref moves.
    /// A `theirs` already in `ours` still gets its merge commit (no fast
    /// forward), so the history names every slice.
    pub fn merge_commit(&self, ours: Oid, theirs: Oid, message: &str) -> Result<Made, GitError> {
        let tree = match merge(&self.repo, ours, theirs)? {
            Merged::Conflicts(paths) => return Ok(Made::Conflicts { paths }),
            Merged::AlreadyIn => self
                .repo
                .find_commit(ours)
                .map_err(doing(format!("find commit {ours}")))?
                .tree_id(),
            Merged::Index(mut index) => index
                .write_tree_to(&self.repo)
                .map_err(doing("write the merged tree"))?,
        };
        let tree = self
            .repo
            .find_tree(tree)
            .map_err(doing("read the merged tree"))?;
        let parents = [ours, theirs]
            .iter()
            .map(|&oid| {
                self.repo
                    .find_commit(oid)
                    .map_err(doing(format!("find commit {oid}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let parents: Vec<_> = parents.iter().collect();
        let signature = signature(&self.repo)?;
        let commit = self
            .repo
            .commit(None, &signature, &signature, message, &tree, &parents)
            .map_err(doing("write the merge commit"))?;
        Ok(Made::Commit(commit))
    }

    /// Moves (or creates) `branch` to `new` only if it is still at
    /// `expected` (`None`: only if it does not exist), atomically under
    /// git's own ref lock.
    pub fn move_branch(
        &self,
        branch: &str,
        new: Oid,
        expected: Option<Oid>,
        reflog: &str,
    ) -> Result<(), MoveError> {
        let name = format!("refs/heads/{branch}");
        let result = match expected {
            Some(old) => self.repo.reference_matching(&name, new, true, old, reflog),
            None => self.repo.reference(&name, new, false, reflog),
        };
        match result {
            Ok(_) => Ok(()),
            Err(err) if matches!(err.code(), ErrorCode::Modified | ErrorCode::Exists) => {
                Err(MoveError::Moved {
                    branch: branch.to_owned(),
                    now: self.tip(branch)?,
                })
            }
            Err(err) => Err(MoveError::Git(doing(format!("move branch {branch}"))(err))),
        }
    }
}

enum Merged {
    AlreadyIn,
    Index(git2::Index),
    Conflicts(Vec<String>),
}

/// The one merge both previews and merge commits use.
fn merge(repo: &Repository, ours: Oid, theirs: Oid) -> Result<Merged, GitError> {
    if ours == theirs || repo.graph_descendant_of(ours, theirs).unwrap_or(false) {
        return Ok(Merged::AlreadyIn);
    }
    let find = |oid: Oid| {
        repo.find_commit(oid)
            .map_err(doing(format!("find commit {oid}")))
    };
    let (our_commit, their_commit) = (find(ours)?, find(theirs)?);
    let mut options = MergeOptions::new();
    options.find_renames(true);
    let index = repo
        .merge_commits(&our_commit, &their_commit, Some(&options))
        .map_err(doing(format!("merge {theirs} into {ours}")))?;
    if !index.has_conflicts() {
        return Ok(Merged::Index(index));
    }
    let mut paths = BTreeSet::new();
    for conflict in index.conflicts().map_err(doing("list conflicts"))? {
        let conflict = conflict.map_err(doing("read a conflict"))?;
        let entry = conflict.our.or(conflict.their).or(conflict.ancestor);
        if let Some(entry) = entry {
            paths.insert(String::from_utf8_lossy(&entry.path).into_owned());
        }
    }
    Ok(Merged::Conflicts(paths.into_iter().collect()))
}

/// Who the merge commit is by: git's environment, then the repository's
/// config, then sliceboard itself.
fn signature(repo: &Repository) -> Result<Signature<'static>, GitError> {
    let name = std::env::var("GIT_COMMITTER_NAME").ok();
    let email = std::env::var("GIT_COMMITTER_EMAIL").ok();
    if let (Some(name), Some(email)) = (name, email) {
        return Signature::now(&name, &email).map_err(doing("make a signature"));
    }
    repo.signature()
        .or_else(|_| Signature::now("sliceboard", "sliceboard@localhost"))
        .map_err(doing("make a signature"))
}

/// Paths that differ between two commits' trees (both sides of a
/// rename), `/`-separated, as git2's tree diff names them.
///
/// Folders whose trees are the same object are never opened: git2's
/// tree diff walks both trees whole, 70% of a `status` through the
/// supervisor on a 20,000-file repository when nothing was committed.
pub fn changed_paths(repo: &Repository, from: Oid, to: Oid) -> Result<BTreeSet<String>, GitError> {
    let tree = |oid: Oid| {
        repo.find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(doing(format!("read the tree of {oid}")))
    };
    let (old, new) = (tree(from)?, tree(to)?);
    let mut paths = BTreeSet::new();
    changed_under(repo, Some(&old), Some(&new), "", &mut paths)
        .map_err(doing("compare two trees"))?;
    Ok(paths)
}

/// The files that differ between `old` and `new` (either may be
/// missing), under `prefix`, into `paths`.
fn changed_under(
    repo: &Repository,
    old: Option<&git2::Tree<'_>>,
    new: Option<&git2::Tree<'_>>,
    prefix: &str,
    paths: &mut BTreeSet<String>,
) -> Result<(), git2::Error> {
    if let (Some(a), Some(b)) = (old, new)
        && a.id() == b.id()
    {
        return Ok(());
    }
    let names: BTreeSet<String> = [old, new]
        .into_iter()
        .flatten()
        .flat_map(|tree| tree.iter().filter_map(|e| e.name().ok().map(str::to_owned)))
        .collect();
    for name in &names {
        let a = old.and_then(|t| t.get_name(name));
        let b = new.and_then(|t| t.get_name(name));
        // Modes as written, as git2's tree diff compares them.
        if let (Some(a), Some(b)) = (&a, &b)
            && a.id() == b.id()
            && a.filemode_raw() == b.filemode_raw()
        {
            continue;
        }
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let subtree = |entry: &Option<git2::TreeEntry<'_>>| match entry {
            Some(e) if e.kind() == Some(git2::ObjectType::Tree) => repo.find_tree(e.id()).map(Some),
            _ => Ok(None),
        };
        let (sub_a, sub_b) = (subtree(&a)?, subtree(&b)?);
        if sub_a.is_some() || sub_b.is_some() {
            changed_under(repo, sub_a.as_ref(), sub_b.as_ref(), &path, paths)?;
        }
        // A file on either side (a folder on the other is a change of
        // kind: the file's path counts, and the folder's files).
        let is_file = |e: &Option<git2::TreeEntry<'_>>| {
            e.as_ref()
                .is_some_and(|e| e.kind() != Some(git2::ObjectType::Tree))
        };
        if is_file(&a) || is_file(&b) {
            paths.insert(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::testing::{git, make_executable, write};

    fn commit_on(dir: &Path, branch: &str, file: &str, text: &str) -> Oid {
        git(dir, &["switch", "-q", branch]);
        std::fs::write(dir.join(file), text).unwrap();
        git(dir, &["add", "."]);
        git(dir, &["commit", "-qm", file]);
        Oid::from_str(&git(dir, &["rev-parse", "HEAD"])).unwrap()
    }

    fn loose_objects(dir: &Path) -> usize {
        walkdir(dir.join(".git/objects"))
    }

    fn walkdir(path: PathBuf) -> usize {
        std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walkdir(e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }

    /// What git2's own tree diff names, as `changed_paths` did before.
    fn tree_diff_paths(engine: &MergeEngine, from: Oid, to: Oid) -> BTreeSet<String> {
        let tree = |oid: Oid| engine.repo.find_commit(oid).unwrap().tree().unwrap();
        let diff = engine
            .repo
            .diff_tree_to_tree(Some(&tree(from)), Some(&tree(to)), None)
            .unwrap();
        diff.deltas()
            .flat_map(|d| [d.old_file(), d.new_file()])
            .filter_map(|f| f.path().and_then(Path::to_str).map(str::to_owned))
            .collect()
    }

    #[test]
    fn changed_paths_name_what_a_whole_tree_diff_names() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        git(dir, &["init", "-q", "-b", "main"]);
        let write = |name: &str, text: &str| write(dir, name, text);
        for name in [
            "a/b/c/deep.sql",
            "a/b/same.sql",
            "gone/one.sql",
            "gone/two/three.sql",
            "moved.sql",
            "kind",
            "mode.sh",
            "top.sql",
        ] {
            write(name, &format!("-- {name}\n"));
        }
        git(dir, &["add", "."]);
        git(dir, &["commit", "-qm", "one"]);
        let one = Oid::from_str(&git(dir, &["rev-parse", "HEAD"])).unwrap();
        write("a/b/c/deep.sql", "-- changed\n");
        std::fs::remove_dir_all(dir.join("gone")).unwrap();
        write("new/x/y.sql", "-- new\n");
        git(dir, &["mv", "moved.sql", "a/moved.sql"]);
        std::fs::remove_file(dir.join("kind")).unwrap();
        write("kind/inside.sql", "-- a folder now\n");
        make_executable(&dir.join("mode.sh"));
        std::os::unix::fs::symlink("top.sql", dir.join("link.sql")).unwrap();
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-qm", "two"]);
        let two = Oid::from_str(&git(dir, &["rev-parse", "HEAD"])).unwrap();

        let engine = MergeEngine::open(&dir.join(".git")).unwrap();
        for (from, to) in [(one, two), (two, one), (one, one)] {
            assert_eq!(
                engine.changed_paths(from, to).unwrap(),
                tree_diff_paths(&engine, from, to),
                "{from} -> {to}"
            );
        }
        assert_eq!(engine.changed_paths(one, two).unwrap().len(), 10);
    }

    #[test]
    fn previews_write_nothing_and_agree_with_the_merge() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        git(dir, &["init", "-q", "-b", "main"]);
        std::fs::write(dir.join("shared.sql"), "a\nb\nc\n").unwrap();
        git(dir, &["add", "."]);
        git(dir, &["commit", "-qm", "base"]);
        git(dir, &["branch", "one"]);
        git(dir, &["branch", "two"]);
        git(dir, &["branch", "three"]);
        let one = commit_on(dir, "one", "shared.sql", "a\nONE\nc\n");
        let two = commit_on(dir, "two", "shared.sql", "a\nTWO\nc\n");
        // Merging both sides of one file in memory makes a new blob.
        let three = commit_on(dir, "three", "shared.sql", "a\nb\nc\nd\n");
        let main = Oid::from_str(&git(dir, &["rev-parse", "main"])).unwrap();
        let engine = MergeEngine::open(&dir.join(".git")).unwrap();

        let before = loose_objects(dir);
        let previews = engine
            .previews(&[(one, two), (one, three), (main, one)])
            .unwrap();
        assert_eq!(
            previews,
            vec![
                Preview::Conflicts {
                    paths: vec!["shared.sql".into()]
                },
                Preview::Clean { already_in: false },
                Preview::Clean { already_in: false },
            ]
        );
        assert_eq!(loose_objects(dir), before, "a preview wrote objects");

        assert_eq!(
            engine.merge_commit(one, two, "m").unwrap(),
            Made::Conflicts {
                paths: vec!["shared.sql".into()]
            }
        );
        let Made::Commit(merged) = engine.merge_commit(one, three, "m").unwrap() else {
            panic!("one and three merge cleanly");
        };
        let parents = git(dir, &["log", "-1", "--format=%P", &merged.to_string()]);
        assert_eq!(parents, format!("{one} {three}"));
        assert_eq!(
            git(dir, &["show", &format!("{merged}:shared.sql")]),
            "a\nONE\nc\nd"
        );
        // No ref moved.
        assert_eq!(engine.tip("one").unwrap(), Some(one));
    }

    #[test]
    fn a_branch_moves_only_from_where_it_was_seen() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        git(dir, &["init", "-q", "-b", "main"]);
        std::fs::write(dir.join("f"), "1").unwrap();
        git(dir, &["add", "."]);
        git(dir, &["commit", "-qm", "base"]);
        let base = engine_tip(dir, "main");
        let next = commit_on(dir, "main", "f", "2");
        let engine = MergeEngine::open(&dir.join(".git")).unwrap();
        // main is at `next`; a move expecting `base` is refused.
        let err = engine
            .move_branch("main", base, Some(base), "test")
            .unwrap_err();
        assert!(matches!(err, MoveError::Moved { now: Some(now), .. } if now == next));
        engine
            .move_branch("main", base, Some(next), "test")
            .unwrap();
        assert_eq!(engine.tip("main").unwrap(), Some(base));
        // Creating: only while it does not exist.
        engine
            .move_branch("integration", base, None, "test")
            .unwrap();
        assert!(matches!(
            engine.move_branch("integration", next, None, "test"),
            Err(MoveError::Moved { .. })
        ));
    }

    fn engine_tip(dir: &Path, branch: &str) -> Oid {
        Oid::from_str(&git(dir, &["rev-parse", branch])).unwrap()
    }
}
