//! A slice's changes against its merge base: which files, how, and the
//! hunks a person reads. Built by `git::diff`, kept live by `watch`, drawn by
//! the dashboard's Diff tab and summarised in `status --json`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Folders whose untracked files the diff leaves out, and the watcher never
/// watches, whatever .gitignore says: build output, logs and tool caches
/// (`dbt compile` alone writes thousands of files into `target/`). Tracked
/// files in them still count.
pub const SKIPPED_DIRS: &[&str] = &[
    ".git",
    "target",
    "logs",
    ".venv",
    "venv",
    "node_modules",
    "dbt_packages",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
];

/// Whether a `/`-separated relative path is, or lies in, a skipped folder.
pub fn in_skipped_dir(path: &str) -> bool {
    path.split('/').any(|part| SKIPPED_DIRS.contains(&part))
}

/// How a slice's diff is kept current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum WatchMode {
    /// File events: refreshed within ~50 ms of a write.
    Events,
    /// Too many folders for inotify: a full diff every few seconds.
    Polling { reason: String },
    /// The worktree does not exist (yet, or any more).
    Missing,
}

/// How many diff lines one file keeps for display; its counts stay exact.
pub const MAX_LINES_PER_FILE: usize = 4_000;

/// Everything a slice changed, sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceDiff {
    /// The merge base the diff is taken against (hex), if one was found.
    pub base: Option<String>,
    pub files: Vec<FileDiff>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
    Renamed,
    /// A file became a symlink or the reverse.
    TypeChanged,
}

impl ChangeKind {
    /// One letter, as `git status --short` writes it.
    pub fn letter(&self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Modified => 'M',
            ChangeKind::Deleted => 'D',
            ChangeKind::Renamed => 'R',
            ChangeKind::TypeChanged => 'T',
        }
    }
}

/// Where a change sits: in a commit on the branch, or still in the worktree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Committed, staged or modified: git knows the file.
    Tracked,
    /// A new file git has never been told about (and .gitignore does not hide).
    Untracked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDiff {
    /// `/`-separated, relative to the worktree root.
    pub path: String,
    /// The path before a rename.
    pub old_path: Option<String>,
    pub kind: ChangeKind,
    pub stage: Stage,
    pub binary: bool,
    pub added: usize,
    pub removed: usize,
    /// Shared, so the live diff's copy-on-splice copies no diff lines.
    pub hunks: Arc<Vec<Hunk>>,
    /// Lines left out of `hunks` past [`MAX_LINES_PER_FILE`].
    pub lines_omitted: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hunk {
    /// `@@ -a,b +c,d @@ context`, without the line end.
    pub header: String,
    pub lines: Vec<DiffLine>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineKind {
    Context,
    Added,
    Removed,
    /// "\ No newline at end of file" and the like.
    Note,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    pub kind: LineKind,
    pub old_line: Option<u32>,
    pub new_line: Option<u32>,
    /// Without the line end.
    pub text: String,
}

impl FileDiff {
    /// Every path the change touches: the new one and, for a rename, the old.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.path.as_str()).chain(self.old_path.as_deref())
    }
}

impl SliceDiff {
    pub fn added(&self) -> usize {
        self.files.iter().map(|f| f.added).sum()
    }

    pub fn removed(&self) -> usize {
        self.files.iter().map(|f| f.removed).sum()
    }

    /// Every path the slice touched, old sides of renames included.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.iter().flat_map(FileDiff::paths)
    }

    /// What scripts see: files with status and counts, no hunks.
    pub fn summary(&self) -> DiffSummary {
        DiffSummary {
            base: self.base.clone(),
            files_changed: self.files.len(),
            added: self.added(),
            removed: self.removed(),
            files: self
                .files
                .iter()
                .map(|f| FileSummary {
                    path: f.path.clone(),
                    old_path: f.old_path.clone(),
                    status: f.kind.clone(),
                    stage: f.stage,
                    binary: f.binary,
                    added: f.added,
                    removed: f.removed,
                })
                .collect(),
        }
    }

    /// Replaces what the diff says about `covered` paths with `fresh`, a
    /// diff limited to them. `covered` answers whether a path was part of
    /// the limited diff.
    pub fn splice(&mut self, covered: impl Fn(&str) -> bool, fresh: SliceDiff) {
        self.files.retain(|f| !f.paths().any(&covered));
        self.files.extend(fresh.files);
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        self.base = fresh.base;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffSummary {
    pub base: Option<String>,
    pub files_changed: usize,
    pub added: usize,
    pub removed: usize,
    pub files: Vec<FileSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSummary {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    pub status: ChangeKind,
    pub stage: Stage,
    pub binary: bool,
    pub added: usize,
    pub removed: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, old: Option<&str>) -> FileDiff {
        FileDiff {
            path: path.into(),
            old_path: old.map(Into::into),
            kind: if old.is_some() {
                ChangeKind::Renamed
            } else {
                ChangeKind::Modified
            },
            stage: Stage::Tracked,
            binary: false,
            added: 1,
            removed: 0,
            hunks: Arc::default(),
            lines_omitted: 0,
        }
    }

    #[test]
    fn splice_replaces_covered_paths_including_rename_sources() {
        let mut diff = SliceDiff {
            base: None,
            files: vec![
                file("a.sql", None),
                file("c.sql", Some("b.sql")),
                file("d.sql", None),
            ],
        };
        let fresh = SliceDiff {
            base: Some("x".into()),
            files: vec![file("b.sql", None)],
        };
        diff.splice(|p| p == "b.sql" || p == "c.sql", fresh);
        let paths: Vec<&str> = diff.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["a.sql", "b.sql", "d.sql"]);
        assert_eq!(diff.base.as_deref(), Some("x"));
    }
}
