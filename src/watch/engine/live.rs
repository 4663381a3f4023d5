//! One slice's worktree as the live-diff thread holds it: its target, the
//! repository opened on it, the diff and mode last sent, the index as of
//! that diff (and the folders holding tracked files), the folders it
//! watches, and which folders it was opened in (its identity).
//!
//! Only state and questions about it (what to watch, whether git tracks a
//! path, whether the folder is still the one opened); taking watches,
//! diffing and announcing are the engine's.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::super::{Target, folders};
use crate::domain::diff::{SliceDiff, WatchMode};
use crate::git::{DiffSource, IndexEntries};

pub(super) struct Live {
    pub(super) target: Target,
    pub(super) root: PathBuf,
    /// The worktree's own git dir, where its HEAD and index live.
    pub(super) git_dir: Option<PathBuf>,
    pub(super) source: Option<DiffSource>,
    pub(super) diff: Arc<SliceDiff>,
    pub(super) mode: WatchMode,
    pub(super) error: Option<String>,
    /// Folders we hold a watch on.
    pub(super) dirs: HashSet<PathBuf>,
    /// The index as of the last diff, to tell which entries a HEAD or
    /// index move really changed.
    pub(super) index: IndexEntries,
    /// Folders holding tracked files (and their parents), relative: watched
    /// and listened to even when ignored or skipped.
    pub(super) tracked_dirs: HashSet<String>,
    pub(super) next_poll: Instant,
    /// Whether anyone has heard of this slice yet.
    pub(super) announced: bool,
    /// The worktree folder and its git dir as opened: another folder in
    /// the same place (`down` then `up`) is another worktree.
    pub(super) identity: Option<Identity>,
}

/// Which folders a path names now: `(device, inode)` of each.
pub(super) type Identity = Vec<(u64, u64)>;

fn identity(paths: &[&Path]) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt as _;
    paths
        .iter()
        .map(|p| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino())))
        .collect()
}

impl Live {
    pub(super) fn set_index(&mut self, index: IndexEntries) {
        self.tracked_dirs.clear();
        for (path, _) in index.keys() {
            let path = String::from_utf8_lossy(path);
            let mut rest = path.as_ref();
            while let Some((parent, _)) = rest.rsplit_once('/') {
                if !self.tracked_dirs.insert(parent.to_owned()) {
                    break;
                }
                rest = parent;
            }
        }
        self.index = index;
    }

    /// Whether git tracks `relative` (a file) or something under it.
    pub(super) fn is_tracked(&self, relative: &str) -> bool {
        self.tracked_dirs.contains(relative)
            || self.index.contains_key(&(relative.as_bytes().to_vec(), 0))
    }

    /// Every folder to watch: those git looks at, those holding tracked
    /// files, the worktree's git dir and the aux folders.
    pub(super) fn wanted_dirs(&self) -> Vec<PathBuf> {
        let mut all = folders(&self.root);
        let mut seen: HashSet<PathBuf> = all.iter().cloned().collect();
        let tracked = self.tracked_dirs.iter().map(|d| self.root.join(d));
        let aux = self.target.aux_dirs.iter().cloned();
        for dir in tracked.chain(aux).chain(self.git_dir.clone()) {
            if is_real_dir(&dir) && seen.insert(dir.clone()) {
                all.push(dir);
            }
        }
        all
    }

    pub(super) fn new(target: Target) -> Self {
        let root = target
            .worktree
            .canonicalize()
            .unwrap_or_else(|_| target.worktree.clone());
        Self {
            target,
            root,
            git_dir: None,
            source: None,
            diff: Arc::default(),
            mode: WatchMode::Missing,
            error: None,
            dirs: HashSet::new(),
            index: IndexEntries::new(),
            tracked_dirs: HashSet::new(),
            next_poll: Instant::now(),
            announced: false,
            identity: None,
        }
    }

    /// The worktree's folders as they are now.
    pub(super) fn identity_now(&self) -> Option<Identity> {
        let git_dir = self.git_dir.as_deref()?;
        identity(&[&self.root, git_dir])
    }
}

/// Whether `path` is a folder itself, not a symlink to one.
pub(super) fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}
