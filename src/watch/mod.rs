//! Live diffs: one inotify watcher over every slice's worktree and git
//! metadata, a per-worktree debounce, and per-path re-diffs; and
//! [`PlanWatch`], the watch on the repository root for `sliceboard.toml`.
//!
//! One thread (`engine`) owns the watcher, the debounce and each worktree's
//! open repository; [`LiveDiffs`] starts and stops it, [`LiveDiffsHandle`]
//! adds a slice while it runs or has a worktree made again read anew. A
//! write fires a raw event; after ~30 ms of quiet in that worktree
//! (`debounce`), only the changed paths are diffed again (~1 ms) and
//! spliced into the slice's diff, sent through `on_update` when it
//! changed. HEAD, index or branch moves re-diff the index entries they
//! changed, or the whole worktree when they move its merge base (the base
//! or integration branch moved, or the slice merged one of them in). A
//! change in a slice's aux folders (dbt's `logs/` and `target/`, the
//! plan's log folders) calls `on_files`, for whoever follows those files;
//! so does a slice's branch, HEAD or index moving, for whoever reads the
//! tips (the merge queue).
//! Read events (`IN_OPEN`, close-after-read) are dropped at the source: our
//! own diffs read files, and reacting to those would refresh forever.
//!
//! Watches are per folder and non-recursive (`tree` walks the folders), so
//! ignored folders (`target/`, `logs/`, .gitignore'd ones) cost nothing;
//! new folders get watches as they appear. Past the inotify budget a
//! worktree falls back to a full diff every few seconds, and its updates
//! say so. An event-queue overflow re-diffs everything. A worktree that
//! goes away shows an empty diff; one that comes back (another folder
//! where it was, as `down` then `up` make) is opened, walked, watched and
//! diffed again from scratch. While nothing changes the thread sleeps; a
//! slow resync every few minutes is the only safety net, and it (like an
//! overflow) also calls `on_files` for every slice and `on_refs`, the
//! safety net of those who follow them.
//!
//! Reads worktrees and git only: never writes to them, never touches the
//! store or a terminal.

mod debounce;
mod engine;
mod plan_watch;
mod tree;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use notify::event::EventKind;

use self::engine::{Engine, Msg};
pub use debounce::{Batch, Debouncer, MAX_PATHS};
pub use plan_watch::{OnPlanChange, PlanWatch};
pub use tree::{folders, is_skipped};

use crate::domain::SliceName;
use crate::domain::diff::{SliceDiff, WatchMode};
use crate::git::Branches;

/// One slice to keep a live diff of.
#[derive(Debug, Clone)]
pub struct Target {
    pub slice: SliceName,
    pub worktree: PathBuf,
    pub branch: String,
    /// The commit the slice started from, for when the base branch is gone.
    pub fallback_base: Option<String>,
    /// Folders whose files matter to someone else (dbt's `logs/` and
    /// `target/`, the plan's log folders): a change there calls `on_files`
    /// even when the folder is ignored.
    pub aux_dirs: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct DiffUpdate {
    pub slice: SliceName,
    pub diff: Arc<SliceDiff>,
    pub mode: WatchMode,
    /// Why the last diff failed, if it did; the diff is then the last good one.
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Quiet time in a worktree before its changes are diffed.
    pub quiet: Duration,
    /// The longest a change waits while writes keep coming.
    pub cap: Duration,
    /// A full re-diff of every worktree, in case an event was lost.
    pub resync: Duration,
    /// How often a worktree without watches is diffed in full, and a missing
    /// one is looked for.
    pub poll: Duration,
    /// How many inotify watches we may take; default half the user's limit.
    pub max_watches: Option<usize>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            quiet: Duration::from_millis(30),
            cap: Duration::from_millis(250),
            resync: Duration::from_secs(300),
            poll: Duration::from_secs(3),
            max_watches: std::env::var("SLICEBOARD_MAX_WATCHES")
                .ok()
                .and_then(|v| v.parse().ok()),
        }
    }
}

/// Counters for tests and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    /// Raw events that got past the read filter.
    pub events: AtomicU64,
    pub full_diffs: AtomicU64,
    pub path_diffs: AtomicU64,
    /// Updates sent (a diff, mode or error changed).
    pub updates: AtomicU64,
    /// inotify watches held.
    pub watches: AtomicU64,
}

pub type OnUpdate = Arc<dyn Fn(DiffUpdate) + Send + Sync>;
pub type OnFiles = Arc<dyn Fn(&SliceName) + Send + Sync>;
/// A branch, a worktree's HEAD or its index moved (the merge queue reads
/// the tips again).
pub type OnRefs = Arc<dyn Fn() + Send + Sync>;

/// The running live-diff thread; dropping it stops the thread.
pub struct LiveDiffs {
    tx: mpsc::Sender<Msg>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<Stats>,
}

impl LiveDiffs {
    /// Starts watching. The first full diffs and the folder walk happen on
    /// the thread; each slice's first update follows shortly.
    pub fn start(
        common_dir: &Path,
        branches: Branches<'_>,
        targets: Vec<Target>,
        options: LiveOptions,
        (on_update, on_files, on_refs): (OnUpdate, OnFiles, OnRefs),
    ) -> anyhow::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let events = tx.clone();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(event) = &res
                && matches!(event.kind, EventKind::Access(_))
            {
                return;
            }
            let _ = events.send(Msg::Fs(res));
        })?;
        let stats = Arc::new(Stats::default());
        let common_dir = common_dir
            .canonicalize()
            .unwrap_or_else(|_| common_dir.to_owned());
        let mut engine = Engine::new(
            &common_dir,
            branches,
            watcher,
            targets,
            options,
            stats.clone(),
            (on_update, on_files, on_refs),
        );
        let thread = std::thread::Builder::new()
            .name("live-diffs".into())
            .spawn(move || engine.run(&rx))?;
        Ok(Self {
            tx,
            thread: Some(thread),
            stats,
        })
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// For adding slices from another thread.
    pub fn handle(&self) -> LiveDiffsHandle {
        LiveDiffsHandle(self.tx.clone())
    }
}

/// Adds slices to a running [`LiveDiffs`] (a plan that changed live).
#[derive(Clone)]
pub struct LiveDiffsHandle(mpsc::Sender<Msg>);

impl LiveDiffsHandle {
    /// Keeps a live diff of one more slice; its worktree may come later.
    pub fn watch(&self, target: Target) {
        let _ = self.0.send(Msg::Add(Box::new(target)));
    }

    /// The slice's worktree was just made (again): open, walk, watch and
    /// diff it anew, whatever was read of it while it was being made.
    pub fn reread(&self, slice: &SliceName) {
        let _ = self.0.send(Msg::Reread(slice.clone()));
    }

    /// Diffs now whatever changed in the worktrees (the quiet time cut
    /// short), so the diffs given out next are as the files are; returns
    /// once they are, or after `wait`.
    pub fn flush(&self, wait: Duration) {
        self.flush_with(None, wait);
    }

    /// [`Self::flush`], and `slice` diffed in full now if its worktree is
    /// polled (past the watch budget: up to a poll period behind).
    pub fn flush_slice(&self, slice: &SliceName, wait: Duration) {
        self.flush_with(Some(slice.clone()), wait);
    }

    fn flush_with(&self, slice: Option<SliceName>, wait: Duration) {
        let (reply, done) = mpsc::channel();
        if self.0.send(Msg::Flush(reply, slice)).is_ok() {
            let _ = done.recv_timeout(wait);
        }
    }
}

impl Drop for LiveDiffs {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
