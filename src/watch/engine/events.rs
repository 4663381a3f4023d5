//! From file events to work for the live-diff thread: the watches it holds
//! (the shared branch refs, each worktree's folders; taken, dropped, and
//! given up for polling past the inotify limit) and what each changed path
//! means (a branch moved, a worktree's HEAD or index, a file to re-diff,
//! an aux folder someone follows).
//!
//! It only queues work in the debouncer, and calls `on_files` for a
//! change in an aux folder and `on_refs` for a branch, HEAD or index that
//! moved; the diffing itself is `refresh`'s.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use notify::event::{CreateKind, EventKind, ModifyKind, RemoveKind, RenameMode};
use notify::{RecursiveMode, Watcher as _};

use super::Engine;
use super::live::is_real_dir;
use crate::domain::diff::WatchMode;
use crate::watch::{folders, is_skipped};

/// What an event says of the folder at its path.
#[derive(Debug, Clone, Copy)]
struct DirChange {
    /// A folder appeared there (made, or renamed to it).
    new_dir: bool,
    /// A folder went away from there (removed, or renamed from it).
    gone_dir: bool,
}

impl Engine {
    /// Watches the branch refs and `packed-refs`, so commits and branch
    /// moves are seen.
    pub(super) fn watch_meta(&mut self) {
        if self
            .watcher
            .watch(&self.common_dir, RecursiveMode::NonRecursive)
            .is_ok()
        {
            self.meta_dirs.insert(self.common_dir.clone());
            self.stats.watches.fetch_add(1, Ordering::Relaxed);
        }
        self.watch_ref_dirs(&self.heads_dir.clone());
    }

    fn watch_ref_dirs(&mut self, from: &Path) {
        for dir in walk_dirs(from) {
            if !self.meta_dirs.contains(&dir)
                && self
                    .watcher
                    .watch(&dir, RecursiveMode::NonRecursive)
                    .is_ok()
            {
                self.meta_dirs.insert(dir);
                self.stats.watches.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Adds watches; past the kernel's limit the slice falls back to polling.
    pub(super) fn watch_dirs(&mut self, i: usize, dirs: Vec<PathBuf>) {
        for dir in dirs {
            let live = &self.slices[i];
            // A symlink must never lead the watcher out of the worktree.
            let ours = dir.starts_with(&live.root) || live.git_dir.as_ref() == Some(&dir);
            if !ours || live.dirs.contains(&dir) {
                continue;
            }
            match self.watcher.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.slices[i].dirs.insert(dir);
                    self.stats.watches.fetch_add(1, Ordering::Relaxed);
                }
                Err(err) if matches!(err.kind, notify::ErrorKind::MaxFilesWatch) => {
                    self.fall_back(
                        i,
                        "the system's inotify watch limit (fs.inotify.max_user_watches) is reached",
                    );
                    return;
                }
                // Gone between the walk and the watch: nothing to watch.
                Err(_) => {}
            }
        }
    }

    /// Drops every watch a slice holds on its worktree's folders.
    pub(super) fn unwatch_slice(&mut self, i: usize) {
        let dirs: Vec<PathBuf> = self.slices[i].dirs.drain().collect();
        for dir in &dirs {
            let _ = self.watcher.unwatch(dir);
        }
        self.stats
            .watches
            .fetch_sub(dirs.len() as u64, Ordering::Relaxed);
    }

    fn fall_back(&mut self, i: usize, why: &str) {
        self.unwatch_slice(i);
        let live = &mut self.slices[i];
        live.mode = WatchMode::Polling {
            reason: format!("{why}; diffing every {} s", self.options.poll.as_secs()),
        };
        live.next_poll = Instant::now();
        tracing::warn!(slice = %live.target.slice, "{why}; polling");
        self.announce(i);
    }

    pub(super) fn on_error(&mut self, err: notify::Error) {
        if matches!(err.kind, notify::ErrorKind::MaxFilesWatch) {
            let hit = err.paths.first().and_then(|p| self.owner_of(p));
            if let Some(i) = hit {
                self.fall_back(i, "the system's inotify watch limit is reached");
            }
        } else {
            tracing::warn!(%err, "file watch error");
        }
    }

    fn owner_of(&self, path: &Path) -> Option<usize> {
        self.slices
            .iter()
            .enumerate()
            .filter(|(_, l)| path.starts_with(&l.root))
            .max_by_key(|(_, l)| l.root.as_os_str().len())
            .map(|(i, _)| i)
    }

    pub(super) fn on_event(&mut self, event: &notify::Event) {
        self.stats.events.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        if event.need_rescan() {
            // Events were lost: folders may have come and gone unseen, so
            // every watch is taken again from a fresh walk.
            for dir in std::mem::take(&mut self.meta_dirs) {
                let _ = self.watcher.unwatch(&dir);
                self.stats.watches.fetch_sub(1, Ordering::Relaxed);
            }
            self.watch_meta();
            for i in 0..self.slices.len() {
                if self.slices[i].mode == WatchMode::Events {
                    self.unwatch_slice(i);
                    let wanted = self.slices[i].wanted_dirs();
                    self.watch_dirs(i, wanted);
                }
                self.debouncer.full(i, now);
            }
            self.tell_everything_may_have_moved();
            return;
        }
        let new_dir = matches!(
            event.kind,
            EventKind::Create(CreateKind::Folder)
                | EventKind::Modify(ModifyKind::Name(RenameMode::To))
        );
        let gone_dir = matches!(
            event.kind,
            EventKind::Remove(RemoveKind::Folder)
                | EventKind::Modify(ModifyKind::Name(RenameMode::From))
        );
        for path in &event.paths {
            let dir = DirChange {
                new_dir: new_dir && is_real_dir(path),
                gone_dir,
            };
            self.on_path(path, dir, now);
        }
    }

    /// Events were lost, or the resync's time came: whoever follows the
    /// slices' files and refs reads them again.
    pub(super) fn tell_everything_may_have_moved(&self) {
        for live in &self.slices {
            (self.on_files)(&live.target.slice);
        }
        (self.on_refs)();
    }

    /// Where a changed path belongs: the shared branch refs, a worktree's
    /// HEAD or index, or a file in a worktree.
    fn on_path(&mut self, path: &Path, dir: DirChange, now: Instant) {
        if path == self.packed_refs {
            for i in 0..self.slices.len() {
                self.debouncer.git(i, now);
            }
            (self.on_refs)();
            return;
        }
        if let Ok(branch) = path.strip_prefix(&self.heads_dir) {
            self.on_branch_ref(path, &branch.to_string_lossy(), dir, now);
            return;
        }
        if let Some(parent) = path.parent()
            && let Some(i) = self
                .slices
                .iter()
                .position(|l| l.git_dir.as_deref() == Some(parent))
        {
            let name = path.file_name().unwrap_or_default();
            if name == "HEAD" || name == "index" {
                self.debouncer.git(i, now);
                (self.on_refs)();
            }
            return;
        }
        if let Some(i) = self.owner_of(path) {
            self.on_worktree_path(i, path, dir, now);
        }
    }

    /// A branch ref (or a folder of them) under `refs/heads` changed.
    fn on_branch_ref(&mut self, path: &Path, branch: &str, dir: DirChange, now: Instant) {
        if dir.new_dir {
            self.watch_ref_dirs(path);
        }
        if dir.gone_dir {
            // `git pack-refs` removes folders; they may come back.
            self.meta_dirs.retain(|d| !d.starts_with(path));
        }
        if branch.ends_with(".lock") {
            return;
        }
        // The base or integration branch moving (a merge) can move
        // every slice's merge base; a folder of branches appearing may
        // hold one whose own event came before its watch.
        let shared = dir.new_dir || branch == self.base_branch || branch == self.integration;
        let mut moved = false;
        for i in 0..self.slices.len() {
            if shared || self.slices[i].target.branch == branch {
                self.debouncer.git(i, now);
                moved = true;
            }
        }
        if moved {
            // The merge queue reads the tips again.
            (self.on_refs)();
        }
    }

    /// A path in slice `i`'s worktree changed: tell whoever follows its
    /// aux folders, keep its watches in step with its folders, and queue
    /// the path for a re-diff unless git cannot see it.
    fn on_worktree_path(&mut self, i: usize, path: &Path, dir: DirChange, now: Instant) {
        let live = &self.slices[i];
        let Ok(relative) = path.strip_prefix(&live.root).map(Path::to_owned) else {
            return;
        };
        if relative.as_os_str().is_empty() {
            // The worktree itself went away or moved.
            self.debouncer.full(i, now);
            return;
        }
        self.on_aux_path(i, path, dir);
        if relative == Path::new(".git") {
            return;
        }
        let relative = relative.to_string_lossy().replace('\\', "/");
        if self.is_hidden(i, &relative) {
            return;
        }
        self.follow_folders(i, path, dir);
        if path.file_name().is_some_and(|n| n == ".gitignore") {
            self.on_gitignore(i, path, &relative, now);
            return;
        }
        self.debouncer.path(i, relative, now);
    }

    /// A change under one of the slice's aux folders (dbt's `logs/` and
    /// `target/`, the plan's log folders) calls `on_files`; an aux folder
    /// made anew is watched.
    fn on_aux_path(&mut self, i: usize, path: &Path, dir: DirChange) {
        let live = &self.slices[i];
        if live.target.aux_dirs.iter().any(|d| path.starts_with(d)) {
            (self.on_files)(&live.target.slice);
            if dir.new_dir && live.target.aux_dirs.iter().any(|d| d == path) {
                self.watch_dirs(i, vec![path.to_owned()]);
            }
        }
    }

    /// Whether a path cannot change the diff: ignored or skipped, and not
    /// tracked by git (a .gitignore added after the fact).
    fn is_hidden(&self, i: usize, relative: &str) -> bool {
        let live = &self.slices[i];
        let hidden = is_skipped(Path::new(relative))
            || live.source.as_ref().is_some_and(|s| s.is_ignored(relative));
        hidden && !live.is_tracked(relative)
    }

    /// A folder that went loses its watches; one that came (while the
    /// slice is watched by events) gets watches, with the aux folders
    /// made inside it.
    fn follow_folders(&mut self, i: usize, path: &Path, dir: DirChange) {
        if dir.gone_dir {
            let prefix = path.to_owned();
            self.slices[i].dirs.retain(|d| !d.starts_with(&prefix));
        }
        if dir.new_dir && self.slices[i].mode == WatchMode::Events {
            let mut dirs = folders(path);
            // Aux folders created inside the new one are watched too.
            dirs.extend(
                self.slices[i]
                    .target
                    .aux_dirs
                    .iter()
                    .filter(|d| d.starts_with(path) && d.is_dir())
                    .cloned(),
            );
            self.watch_dirs(i, dirs);
        }
    }

    /// What the folder ignores changed: everything under it may appear or
    /// vanish, and newly visible folders need watches.
    fn on_gitignore(&mut self, i: usize, path: &Path, relative: &str, now: Instant) {
        match relative.rsplit_once('/') {
            Some((folder, _)) => self.debouncer.path(i, folder.to_owned(), now),
            None => self.debouncer.full(i, now),
        }
        if self.slices[i].mode == WatchMode::Events
            && let Some(parent) = path.parent()
        {
            self.watch_dirs(i, folders(parent));
        }
    }
}

/// A folder and every folder under it.
fn walk_dirs(from: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![from.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
        out.push(dir);
    }
    out
}
