//! The live-diff thread: owns the watcher, the debounce and each slice's
//! open repository; turns file events into per-path or full re-diffs and
//! sends an update when a slice's diff, mode or error changed. Driven only
//! by [`super::LiveDiffs`]; nothing here is shared with another thread but
//! the update callbacks and the counters.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Instant;

use notify::event::{CreateKind, EventKind, ModifyKind, RemoveKind, RenameMode};
use notify::{RecursiveMode, Watcher as _};

use super::{
    Batch, Debouncer, DiffUpdate, LiveOptions, MAX_PATHS, OnFiles, OnUpdate, Stats, Target,
    folders, is_skipped,
};
use crate::domain::SliceName;
use crate::domain::diff::SliceDiff;
use crate::domain::diff::WatchMode;
use crate::git::{Branches, DiffSource, IndexEntries, index_changes};

pub(super) enum Msg {
    Fs(notify::Result<notify::Event>),
    /// A slice added to the plan while the engine runs.
    Add(Box<Target>),
    /// A slice's worktree was made (again) and is complete now.
    Reread(SliceName),
    Stop,
}

/// Half the user's inotify watch limit: the rest belongs to their editor,
/// language servers and everything else they run.
fn default_budget() -> usize {
    std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .map_or(8_192, |max| max / 2)
}

struct Live {
    target: Target,
    root: PathBuf,
    /// The worktree's own git dir, where its HEAD and index live.
    git_dir: Option<PathBuf>,
    source: Option<DiffSource>,
    diff: Arc<SliceDiff>,
    mode: WatchMode,
    error: Option<String>,
    /// Folders we hold a watch on.
    dirs: HashSet<PathBuf>,
    /// The index as of the last diff, to tell which entries a HEAD or
    /// index move really changed.
    index: IndexEntries,
    /// Folders holding tracked files (and their parents), relative: watched
    /// and listened to even when ignored or skipped.
    tracked_dirs: HashSet<String>,
    next_poll: Instant,
    /// Whether anyone has heard of this slice yet.
    announced: bool,
    /// The worktree folder and its git dir as opened: another folder in
    /// the same place (`down` then `up`) is another worktree.
    identity: Option<Identity>,
}

/// Which folders a path names now: `(device, inode)` of each.
type Identity = Vec<(u64, u64)>;

fn identity(paths: &[&Path]) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt as _;
    paths
        .iter()
        .map(|p| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino())))
        .collect()
}

impl Live {
    fn set_index(&mut self, index: IndexEntries) {
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
    fn is_tracked(&self, relative: &str) -> bool {
        self.tracked_dirs.contains(relative)
            || self.index.contains_key(&(relative.as_bytes().to_vec(), 0))
    }

    /// Every folder to watch: those git looks at, those holding tracked
    /// files, the worktree's git dir and the aux folders.
    fn wanted_dirs(&self) -> Vec<PathBuf> {
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

    fn new(target: Target) -> Self {
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
    fn identity_now(&self) -> Option<Identity> {
        let git_dir = self.git_dir.as_deref()?;
        identity(&[&self.root, git_dir])
    }
}

pub(super) struct Engine {
    common_dir: PathBuf,
    heads_dir: PathBuf,
    packed_refs: PathBuf,
    base_branch: String,
    integration: String,
    watcher: notify::RecommendedWatcher,
    budget: usize,
    debouncer: Debouncer<usize>,
    next_resync: Instant,
    options: LiveOptions,
    slices: Vec<Live>,
    /// Watched folders of the shared git dir (refs/heads and below).
    meta_dirs: HashSet<PathBuf>,
    stats: Arc<Stats>,
    on_update: OnUpdate,
    on_files: OnFiles,
}

impl Engine {
    pub(super) fn new(
        common_dir: &Path,
        branches: Branches<'_>,
        watcher: notify::RecommendedWatcher,
        targets: Vec<Target>,
        options: LiveOptions,
        stats: Arc<Stats>,
        (on_update, on_files): (OnUpdate, OnFiles),
    ) -> Self {
        Self {
            heads_dir: common_dir.join("refs").join("heads"),
            packed_refs: common_dir.join("packed-refs"),
            common_dir: common_dir.to_owned(),
            base_branch: branches.base.to_owned(),
            integration: branches.integration.to_owned(),
            watcher,
            budget: options.max_watches.unwrap_or_else(default_budget),
            debouncer: Debouncer::new(options.quiet, options.cap),
            next_resync: Instant::now() + options.resync,
            options,
            slices: targets.into_iter().map(Live::new).collect(),
            meta_dirs: HashSet::new(),
            stats,
            on_update,
            on_files,
        }
    }

    pub(super) fn run(&mut self, rx: &mpsc::Receiver<Msg>) {
        self.watch_meta();
        for i in 0..self.slices.len() {
            self.attach(i);
        }
        loop {
            let now = Instant::now();
            let deadline = self.next_deadline();
            let first = match rx.recv_timeout(deadline.saturating_duration_since(now)) {
                Ok(msg) => Some(msg),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            let mut next = first;
            while let Some(msg) = next {
                match msg {
                    Msg::Stop => return,
                    Msg::Fs(Ok(event)) => self.on_event(&event),
                    Msg::Fs(Err(err)) => self.on_error(err),
                    Msg::Add(target) => self.add(*target),
                    Msg::Reread(slice) => self.reread(&slice),
                }
                next = rx.try_recv().ok();
            }
            self.work(Instant::now());
        }
    }

    /// Starts watching one more slice; a worktree not made yet is looked
    /// for like any missing one.
    fn add(&mut self, target: Target) {
        if self.slices.iter().any(|l| l.target.slice == target.slice) {
            return;
        }
        self.slices.push(Live::new(target));
        self.attach(self.slices.len() - 1);
    }

    /// Reads a slice's worktree anew: what was read while `up` was still
    /// checking it out (files not there yet, folders made after the walk,
    /// so never watched) is dropped with the old watches.
    fn reread(&mut self, slice: &SliceName) {
        let Some(i) = self.slices.iter().position(|l| &l.target.slice == slice) else {
            return;
        };
        self.read_anew(i);
    }

    /// Forgets what was read of slice `i`'s worktree (the source, the
    /// diff, the index, the watches) and attaches it again from scratch.
    fn read_anew(&mut self, i: usize) {
        let live = &mut self.slices[i];
        live.source = None;
        live.identity = None;
        live.diff = Arc::default();
        live.set_index(IndexEntries::new());
        self.unwatch_slice(i);
        self.attach(i);
    }

    fn next_deadline(&self) -> Instant {
        let mut at = self.next_resync;
        if let Some(due) = self.debouncer.next_due() {
            at = at.min(due);
        }
        for live in &self.slices {
            if !matches!(live.mode, WatchMode::Events) {
                at = at.min(live.next_poll);
            }
        }
        at
    }

    fn work(&mut self, now: Instant) {
        for (i, batch) in self.debouncer.take_due(now) {
            self.refresh(i, batch);
        }
        for i in 0..self.slices.len() {
            let live = &mut self.slices[i];
            if matches!(live.mode, WatchMode::Events) || live.next_poll > now {
                continue;
            }
            live.next_poll = now + self.options.poll;
            if live.mode == WatchMode::Missing {
                if live.target.worktree.exists() {
                    self.attach(i);
                    // Files written before the watches came are read now.
                    (self.on_files)(&self.slices[i].target.slice);
                }
            } else {
                (self.on_files)(&self.slices[i].target.slice);
                self.refresh(
                    i,
                    Batch {
                        full: true,
                        ..Batch::default()
                    },
                );
            }
        }
        if now >= self.next_resync {
            self.next_resync = now + self.options.resync;
            for i in 0..self.slices.len() {
                self.debouncer.full(i, now);
            }
        }
    }

    /// Watches the branch refs and `packed-refs`, so commits and branch
    /// moves are seen.
    fn watch_meta(&mut self) {
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

    /// Opens a slice's worktree, watches it (or decides to poll it), and
    /// diffs it in full.
    fn attach(&mut self, i: usize) {
        let live = &mut self.slices[i];
        live.next_poll = Instant::now() + self.options.poll;
        if !live.target.worktree.exists() {
            live.mode = WatchMode::Missing;
            self.announce(i);
            return;
        }
        let root = live
            .target
            .worktree
            .canonicalize()
            .unwrap_or_else(|_| live.target.worktree.clone());
        // Events name canonical paths: rebase the aux folders onto the root.
        let worktree = live.target.worktree.clone();
        for dir in &mut live.target.aux_dirs {
            if let Ok(rest) = dir.strip_prefix(&worktree) {
                *dir = root.join(rest);
            }
        }
        live.root = root;
        match DiffSource::open(
            &live.root,
            Branches {
                base: &self.base_branch,
                integration: &self.integration,
            },
            live.target.fallback_base.as_deref(),
            true,
        ) {
            Ok(source) => {
                let git_dir = source.git_dir().to_owned();
                live.git_dir = Some(git_dir.canonicalize().unwrap_or(git_dir));
                live.identity = live.identity_now();
                if let Ok(index) = source.index_entries() {
                    live.set_index(index);
                }
                live.source = Some(source);
            }
            Err(err) => {
                live.mode = WatchMode::Missing;
                live.error = Some(err.to_string());
                self.announce(i);
                return;
            }
        }
        let wanted = live.wanted_dirs();
        let held: usize =
            self.slices.iter().map(|l| l.dirs.len()).sum::<usize>() + self.meta_dirs.len();
        if held + wanted.len() + 1 > self.budget {
            let reason = format!(
                "{} folders would pass the inotify budget of {} watches; diffing every {} s",
                wanted.len(),
                self.budget,
                self.options.poll.as_secs()
            );
            self.slices[i].mode = WatchMode::Polling { reason };
        } else {
            self.slices[i].mode = WatchMode::Events;
            self.watch_dirs(i, wanted);
        }
        // The first diff after attaching is news even when it is empty.
        self.slices[i].announced = false;
        self.refresh(
            i,
            Batch {
                full: true,
                ..Batch::default()
            },
        );
    }

    /// Adds watches; past the kernel's limit the slice falls back to polling.
    fn watch_dirs(&mut self, i: usize, dirs: Vec<PathBuf>) {
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
    fn unwatch_slice(&mut self, i: usize) {
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

    fn on_error(&mut self, err: notify::Error) {
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

    fn on_event(&mut self, event: &notify::Event) {
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
            self.on_path(path, new_dir && is_real_dir(path), gone_dir, now);
        }
    }

    fn on_path(&mut self, path: &Path, new_dir: bool, gone_dir: bool, now: Instant) {
        if path == self.packed_refs {
            for i in 0..self.slices.len() {
                self.debouncer.git(i, now);
            }
            return;
        }
        if let Ok(branch) = path.strip_prefix(&self.heads_dir) {
            if new_dir {
                self.watch_ref_dirs(path);
            }
            if gone_dir {
                // `git pack-refs` removes folders; they may come back.
                self.meta_dirs.retain(|d| !d.starts_with(path));
            }
            let branch = branch.to_string_lossy();
            if branch.ends_with(".lock") {
                return;
            }
            // The base or integration branch moving (a merge) can move
            // every slice's merge base; a folder of branches appearing may
            // hold one whose own event came before its watch.
            let shared = new_dir || branch == self.base_branch || branch == self.integration;
            for i in 0..self.slices.len() {
                if shared || self.slices[i].target.branch == branch {
                    self.debouncer.git(i, now);
                }
            }
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
            }
            return;
        }
        let Some(i) = self.owner_of(path) else {
            return;
        };
        let live = &self.slices[i];
        let Ok(relative) = path.strip_prefix(&live.root).map(Path::to_owned) else {
            return;
        };
        if relative.as_os_str().is_empty() {
            // The worktree itself went away or moved.
            self.debouncer.full(i, now);
            return;
        }
        if live.target.aux_dirs.iter().any(|d| path.starts_with(d)) {
            (self.on_files)(&live.target.slice);
            if new_dir && live.target.aux_dirs.iter().any(|d| d == path) {
                self.watch_dirs(i, vec![path.to_owned()]);
            }
        }
        let live = &self.slices[i];
        if relative == Path::new(".git") {
            return;
        }
        let relative = relative.to_string_lossy().replace('\\', "/");
        // Ignored and skipped paths cannot change the diff, unless git
        // tracks them (a .gitignore added after the fact).
        let hidden = is_skipped(Path::new(&relative))
            || live
                .source
                .as_ref()
                .is_some_and(|s| s.is_ignored(&relative));
        if hidden && !live.is_tracked(&relative) {
            return;
        }
        if gone_dir {
            let prefix = path.to_owned();
            self.slices[i].dirs.retain(|d| !d.starts_with(&prefix));
        }
        if new_dir && self.slices[i].mode == WatchMode::Events {
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
        if path.file_name().is_some_and(|n| n == ".gitignore") {
            // What the folder ignores changed: everything under it may
            // appear or vanish, and newly visible folders need watches.
            match relative.rsplit_once('/') {
                Some((folder, _)) => self.debouncer.path(i, folder.to_owned(), now),
                None => self.debouncer.full(i, now),
            }
            if self.slices[i].mode == WatchMode::Events
                && let Some(parent) = path.parent()
            {
                self.watch_dirs(i, folders(parent));
            }
            return;
        }
        self.debouncer.path(i, relative, now);
    }

    /// Diffs what the batch asks for and sends an update if anything changed.
    fn refresh(&mut self, i: usize, batch: Batch) {
        let live = &mut self.slices[i];
        if live.source.is_none() {
            if live.mode != WatchMode::Missing {
                live.mode = WatchMode::Missing;
                self.announce(i);
            }
            return;
        }
        if !live.root.exists() {
            // Nothing of the old diff is true any more: no files, no flags.
            live.mode = WatchMode::Missing;
            live.source = None;
            live.identity = None;
            live.diff = Arc::default();
            live.set_index(IndexEntries::new());
            live.error = Some(format!("the worktree {} is gone", live.root.display()));
            self.unwatch_slice(i);
            self.announce(i);
            return;
        }
        if live.identity_now() != live.identity {
            // The worktree went away and came back (`down`, then `up`):
            // its folders' watches died with the old ones, and what was
            // read of it belongs to the old one. Read it again whole.
            tracing::info!(slice = %live.target.slice, "the worktree was made again; reading it anew");
            self.read_anew(i);
            return;
        }
        let source = live.source.as_ref().expect("checked above");
        let mut batch = batch;
        let mut index = None;
        if !batch.full && batch.git {
            // HEAD, the index or a branch moved. A new merge base changes
            // everything; otherwise only index entries whose blob or mode
            // changed matter (`git status` rewrites the index for stat data
            // alone, and a commit leaves the diff against the base as it was).
            match (source.merge_base(), source.index_entries()) {
                (Ok(base), Ok(entries)) => {
                    if base.map(|o| o.to_string()) != live.diff.base {
                        batch.full = true;
                    } else {
                        batch.paths.extend(index_changes(&live.index, &entries));
                        batch.full = batch.paths.len() > MAX_PATHS;
                    }
                    index = Some(entries);
                }
                _ => batch.full = true,
            }
        }
        if batch.full {
            // Read before the diff: a change after it fires another event.
            index = source.index_entries().ok();
        } else if batch.paths.is_empty() {
            if let Some(entries) = index {
                live.set_index(entries);
            }
            return;
        }
        let result = if batch.full {
            self.stats.full_diffs.fetch_add(1, Ordering::Relaxed);
            source.full()
        } else {
            self.stats.path_diffs.fetch_add(1, Ordering::Relaxed);
            // Both sides of a rename go together, so the pair is found again.
            let mut paths: BTreeSet<String> = batch.paths.clone();
            for file in &live.diff.files {
                if file.paths().any(|p| covers(&batch.paths, p)) {
                    paths.extend(file.paths().map(str::to_owned));
                }
            }
            let mut paths: Vec<String> = paths.into_iter().collect();
            let mut fresh = source.paths(&paths);
            // A new file may be the far side of a rename whose other side
            // changed earlier (and the reverse): diff again with the
            // unpaired opposites, so the pair is found as a full diff would.
            if let Ok(first) = &fresh {
                let partners = rename_partners(&live.diff, first, &paths);
                if !partners.is_empty() {
                    paths.extend(partners);
                    paths.sort();
                    fresh = source.paths(&paths);
                }
            }
            match fresh {
                Ok(fresh) if fresh.base == live.diff.base => {
                    let mut diff = (*live.diff).clone();
                    diff.splice(|p| covers(&paths, p), fresh);
                    Ok(diff)
                }
                // The merge base moved: everything may differ.
                Ok(_) => {
                    self.stats.full_diffs.fetch_add(1, Ordering::Relaxed);
                    index = source.index_entries().ok();
                    source.full()
                }
                Err(err) => Err(err),
            }
        };
        if result.is_ok()
            && let Some(entries) = index
        {
            self.slices[i].set_index(entries);
        }
        let live = &mut self.slices[i];
        let news = match result {
            Ok(diff) => {
                let cleared = live.error.take().is_some();
                let changed = diff != *live.diff;
                if changed {
                    live.diff = Arc::new(diff);
                }
                changed || cleared || !live.announced
            }
            Err(err) => {
                let message = err.to_string();
                tracing::warn!(slice = %live.target.slice, %message, "diff failed");
                let new = live.error.as_ref() != Some(&message);
                live.error = Some(message);
                new
            }
        };
        if news {
            self.announce(i);
        }
    }

    /// Sends the slice's diff, mode and error as they stand.
    fn announce(&mut self, i: usize) {
        let live = &mut self.slices[i];
        live.announced = true;
        self.stats.updates.fetch_add(1, Ordering::Relaxed);
        (self.on_update)(DiffUpdate {
            slice: live.target.slice.clone(),
            diff: live.diff.clone(),
            mode: live.mode.clone(),
            error: live.error.clone(),
        });
    }
}

/// Paths in `model` that could pair with a fresh addition or deletion into a
/// rename: its unpaired deletions for a new file, its unpaired additions for
/// a deleted one. Empty in the common case, an edit of a known file.
fn rename_partners(model: &SliceDiff, fresh: &SliceDiff, covered: &[String]) -> Vec<String> {
    use crate::domain::diff::ChangeKind;
    let added = fresh.files.iter().any(|f| f.kind == ChangeKind::Added);
    let deleted = fresh.files.iter().any(|f| f.kind == ChangeKind::Deleted);
    model
        .files
        .iter()
        .filter(|f| {
            (added && f.kind == ChangeKind::Deleted) || (deleted && f.kind == ChangeKind::Added)
        })
        .filter(|f| !covers(covered, &f.path))
        .map(|f| f.path.clone())
        .collect()
}

/// Whether `path` is a folder itself, not a symlink to one.
fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// Whether `path` is one of `covered` or lies under one of them.
fn covers<'a>(covered: impl IntoIterator<Item = &'a String>, path: &str) -> bool {
    covered
        .into_iter()
        .any(|c| path == c || (path.starts_with(c.as_str()) && path[c.len()..].starts_with('/')))
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
