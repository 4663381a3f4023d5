//! A slice's diff: its worktree (committed, staged, unstaged and untracked
//! work) against the merge base of its HEAD with the integration branch,
//! what `git diff integration...HEAD` starts from. An agent that merged
//! the integration branch in (as the feedback prompt asks) sees only its
//! own changes, never what the merge brought from upstream. Where the base
//! branch gives a later merge base (the slice merged the base in, or the
//! integration branch does not exist yet), that one is used.
//!
//! A full diff walks the whole worktree (~70 ms at 20k files); a diff
//! limited to a few changed paths takes about a millisecond, which is what
//! keeps the dashboard's diff within ~35 ms of a write. Nothing here writes
//! to the repository: the index is never refreshed, so an agent's own git
//! never races us for `index.lock`.

use std::path::Path;

use git2::{
    BranchType, Delta, Diff, DiffFindOptions, DiffOptions, ErrorCode, Oid, Patch, Repository,
};

use super::{GitError, doing};
use crate::domain::diff::{
    ChangeKind, DiffLine, FileDiff, Hunk, LineKind, MAX_LINES_PER_FILE, SliceDiff, Stage,
    in_skipped_dir,
};

/// An index as far as the diff cares: `(path, stage)` to `(blob, mode)`.
pub type IndexEntries = std::collections::HashMap<(Vec<u8>, u16), (Oid, u32)>;

/// Paths whose index entry differs between two snapshots.
pub fn index_changes(old: &IndexEntries, new: &IndexEntries) -> std::collections::BTreeSet<String> {
    let mut changed = std::collections::BTreeSet::new();
    for (key, value) in new {
        if old.get(key) != Some(value) {
            changed.insert(String::from_utf8_lossy(&key.0).into_owned());
        }
    }
    for key in old.keys() {
        if !new.contains_key(key) {
            changed.insert(String::from_utf8_lossy(&key.0).into_owned());
        }
    }
    changed
}

/// How often a diff is tried when files change under it while it reads.
const ATTEMPTS: usize = 3;

/// One worktree, opened once, diffed many times.
pub struct DiffSource {
    repo: Repository,
    base_branch: String,
    /// Where approved slices merge; may equal the base, or not exist yet.
    integration: String,
    /// Where the slice started, for when the base branch is gone.
    fallback_base: Option<Oid>,
    /// Keep hunks (the dashboard) or only counts (`status`).
    with_lines: bool,
}

impl DiffSource {
    pub fn open(
        worktree: &Path,
        branches: Branches<'_>,
        fallback_base: Option<&str>,
        with_lines: bool,
    ) -> Result<Self, GitError> {
        let repo = Repository::open(worktree)
            .map_err(doing(format!("open the worktree {}", worktree.display())))?;
        Ok(Self {
            repo,
            base_branch: branches.base.to_owned(),
            integration: branches.integration.to_owned(),
            fallback_base: fallback_base.and_then(|s| Oid::from_str(s).ok()),
            with_lines,
        })
    }

    /// The worktree's own git dir (`<common>/worktrees/<name>/` for a
    /// linked worktree), where its HEAD and index live.
    pub fn git_dir(&self) -> &Path {
        self.repo.path()
    }

    /// Whether git would ignore `path` (relative to the worktree).
    pub fn is_ignored(&self, path: &str) -> bool {
        self.repo.is_path_ignored(path).unwrap_or(false)
    }

    /// Every index entry's blob and mode, keyed by path and stage: what
    /// decides the diff. Stat data, which `git status` rewrites all the
    /// time, is left out, so comparing two of these tells which paths
    /// really changed in the index.
    pub fn index_entries(&self) -> Result<IndexEntries, GitError> {
        let mut index = self.repo.index().map_err(doing("open the index"))?;
        index.read(false).map_err(doing("read the index"))?;
        Ok(index
            .iter()
            .map(|e| ((e.path, (e.flags >> 12) & 0x3), (e.id, e.mode)))
            .collect())
    }

    /// The whole diff.
    pub fn full(&self) -> Result<SliceDiff, GitError> {
        self.attempt(&[])
    }

    /// The same diff as [`Self::full`], reading only the paths that can
    /// differ from the base: `uncommitted` (what the worktree's status
    /// says differs from HEAD, untracked files included) and what HEAD's
    /// commits changed since the base. The rest of a large worktree is
    /// not walked again after its status.
    pub fn full_among(
        &self,
        uncommitted: &std::collections::BTreeSet<String>,
    ) -> Result<SliceDiff, GitError> {
        self.retrying(|| {
            let base = self.merge_base()?;
            let head = self.repo.head().ok().and_then(|h| h.target());
            let (Some(base), Some(head)) = (base, head) else {
                return self.diff_from(base, &[]);
            };
            let mut paths = uncommitted.clone();
            paths.extend(super::merge::changed_paths(&self.repo, base, head)?);
            if paths.is_empty() {
                return Ok(SliceDiff {
                    base: Some(base.to_string()),
                    files: Vec::new(),
                });
            }
            self.diff_from(Some(base), &paths.into_iter().collect::<Vec<_>>())
        })
    }

    /// The diff of `paths` only (files or folders, relative, `/`-separated).
    /// Merge it into a full one with [`SliceDiff::splice`].
    pub fn paths(&self, paths: &[String]) -> Result<SliceDiff, GitError> {
        if paths.is_empty() {
            return Ok(SliceDiff {
                base: self.merge_base()?.map(|o| o.to_string()),
                files: Vec::new(),
            });
        }
        self.attempt(paths)
    }

    /// What changed in the worktree since `commit` (committed or not,
    /// untracked files too): the operator's "since my last look".
    pub fn since(&self, commit: &str) -> Result<SliceDiff, GitError> {
        let oid = Oid::from_str(commit).map_err(doing(format!("read the commit id {commit}")))?;
        self.retrying(|| self.diff_from(Some(oid), &[]))
    }

    fn attempt(&self, paths: &[String]) -> Result<SliceDiff, GitError> {
        self.retrying(|| self.diff(paths))
    }

    fn retrying(
        &self,
        diff: impl Fn() -> Result<SliceDiff, GitError>,
    ) -> Result<SliceDiff, GitError> {
        let mut last = None;
        for _ in 0..ATTEMPTS {
            match diff() {
                Ok(diff) => return Ok(diff),
                // "file changed before we could read it", a vanished file:
                // the agent is writing; the next attempt sees a settled file.
                Err(err) => last = Some(err),
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Err(last.expect("at least one attempt"))
    }

    /// The later of HEAD's merge bases with the integration branch and
    /// with the base branch (see the module's header); the recorded start
    /// when neither can be had; `None` on an unborn branch with no record.
    pub fn merge_base(&self) -> Result<Option<Oid>, GitError> {
        let head = match self.repo.head() {
            Ok(head) => head.target(),
            Err(err) if matches!(err.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => None,
            Err(err) => return Err(doing("read the worktree's HEAD")(err)),
        };
        let Some(head) = head else {
            return Ok(self.fallback_base);
        };
        let tip = |branch: &str| {
            self.repo
                .find_branch(branch, BranchType::Local)
                .ok()
                .and_then(|b| b.get().target())
        };
        let bases = [tip(&self.integration), tip(&self.base_branch)]
            .into_iter()
            .flatten()
            .filter_map(|tip| self.repo.merge_base(head, tip).ok());
        Ok(latest(&self.repo, bases).or(self.fallback_base))
    }

    fn diff(&self, paths: &[String]) -> Result<SliceDiff, GitError> {
        self.diff_from(self.merge_base()?, paths)
    }

    /// The worktree against `base`'s tree (everything, with no base).
    fn diff_from(&self, base: Option<Oid>, paths: &[String]) -> Result<SliceDiff, GitError> {
        let tree = match base {
            Some(oid) => Some(
                self.repo
                    .find_commit(oid)
                    .and_then(|c| c.tree())
                    .map_err(doing(format!("read the commit {oid}")))?,
            ),
            None => None,
        };
        let mut options = DiffOptions::new();
        options
            .include_untracked(true)
            .recurse_untracked_dirs(true)
            .show_untracked_content(true)
            .include_typechange(true)
            .ignore_submodules(true)
            .context_lines(3);
        if !paths.is_empty() {
            options.disable_pathspec_match(true);
            for path in paths {
                options.pathspec(path);
            }
        }
        let mut diff = self
            .repo
            .diff_tree_to_workdir_with_index(tree.as_ref(), Some(&mut options))
            .map_err(doing("diff the worktree"))?;
        let mut find = DiffFindOptions::new();
        find.renames(true).for_untracked(true).rename_limit(1_000);
        diff.find_similar(Some(&mut find))
            .map_err(doing("find renames"))?;
        Ok(SliceDiff {
            base: base.map(|o| o.to_string()),
            files: self.files(&diff)?,
        })
    }

    fn files(&self, diff: &Diff<'_>) -> Result<Vec<FileDiff>, GitError> {
        let mut files = Vec::with_capacity(diff.deltas().len());
        for (index, delta) in diff.deltas().enumerate() {
            let path = delta
                .new_file()
                .path()
                .or_else(|| delta.old_file().path())
                .map(slash_path)
                .unwrap_or_default();
            if delta.status() == Delta::Untracked && in_skipped_dir(&path) {
                continue;
            }
            let (kind, stage) = match delta.status() {
                Delta::Added => (ChangeKind::Added, Stage::Tracked),
                Delta::Untracked => (ChangeKind::Added, Stage::Untracked),
                Delta::Deleted => (ChangeKind::Deleted, Stage::Tracked),
                Delta::Modified => (ChangeKind::Modified, Stage::Tracked),
                Delta::Renamed | Delta::Copied => (
                    ChangeKind::Renamed,
                    rename_stage(&self.repo, delta.new_file().path()),
                ),
                Delta::Typechange => (ChangeKind::TypeChanged, Stage::Tracked),
                // Unmodified, ignored, unreadable, conflicted: nothing to show.
                _ => continue,
            };
            let old_path = (kind == ChangeKind::Renamed)
                .then(|| delta.old_file().path().map(slash_path))
                .flatten();
            let mut file = FileDiff {
                path,
                old_path,
                kind,
                stage,
                binary: delta.flags().is_binary(),
                added: 0,
                removed: 0,
                hunks: Default::default(),
                lines_omitted: 0,
            };
            let patch =
                Patch::from_diff(diff, index).map_err(doing(format!("diff {}", file.path)))?;
            if let Some(patch) = patch {
                file.binary |= patch.delta().flags().is_binary();
                if !file.binary {
                    let (_, added, removed) = patch
                        .line_stats()
                        .map_err(doing(format!("count lines of {}", file.path)))?;
                    file.added = added;
                    file.removed = removed;
                    if self.with_lines {
                        read_hunks(&patch, &mut file)
                            .map_err(doing(format!("read hunks of {}", file.path)))?;
                    }
                }
            }
            files.push(file);
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }
}

/// The two branches a slice's diff is taken against.
#[derive(Debug, Clone, Copy)]
pub struct Branches<'a> {
    /// Where every slice starts (`base`).
    pub base: &'a str,
    /// Where approved slices merge (`integration`, the base when unset).
    pub integration: &'a str,
}

/// The latest of `commits`: one that every other is an ancestor of, or
/// the first given when they are on separate lines of history (the
/// integration branch's merge base comes first).
pub fn latest(repo: &Repository, commits: impl IntoIterator<Item = Oid>) -> Option<Oid> {
    commits.into_iter().reduce(|best, next| {
        if best != next && repo.graph_descendant_of(next, best).unwrap_or(false) {
            next
        } else {
            best
        }
    })
}

/// A rename whose new side is not in the index was made with `mv`, not
/// `git mv`: git has not been told about the new file yet.
fn rename_stage(repo: &Repository, new_path: Option<&Path>) -> Stage {
    let known = new_path.is_some_and(|p| {
        repo.index()
            .ok()
            .is_some_and(|index| index.get_path(p, 0).is_some())
    });
    if known {
        Stage::Tracked
    } else {
        Stage::Untracked
    }
}

fn read_hunks(patch: &Patch<'_>, file: &mut FileDiff) -> Result<(), git2::Error> {
    let mut kept = 0;
    let mut hunks = Vec::with_capacity(patch.num_hunks());
    for h in 0..patch.num_hunks() {
        let (hunk, lines) = patch.hunk(h)?;
        let header = String::from_utf8_lossy(hunk.header()).trim_end().to_owned();
        let mut out = Vec::with_capacity(lines.min(MAX_LINES_PER_FILE));
        for l in 0..lines {
            if kept >= MAX_LINES_PER_FILE {
                file.lines_omitted += 1;
                continue;
            }
            let line = patch.line_in_hunk(h, l)?;
            let kind = match line.origin() {
                '+' => LineKind::Added,
                '-' => LineKind::Removed,
                ' ' => LineKind::Context,
                _ => LineKind::Note,
            };
            let text = String::from_utf8_lossy(line.content());
            out.push(DiffLine {
                kind,
                old_line: line.old_lineno(),
                new_line: line.new_lineno(),
                text: text.trim_end_matches(['\n', '\r']).to_owned(),
            });
            kept += 1;
        }
        hunks.push(Hunk { header, lines: out });
    }
    file.hunks = std::sync::Arc::new(hunks);
    Ok(())
}

fn slash_path(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}
