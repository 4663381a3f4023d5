//! The live-diff thread: owns the watcher, the debounce and each slice's
//! open repository; turns file events into per-path or full re-diffs and
//! sends an update when a slice's diff, mode or error changed. Driven only
//! by [`super::LiveDiffs`]; nothing here is shared with another thread but
//! the update callbacks and the counters.
//!
//! This file holds the loop and a slice's life (added, attached: opened,
//! watched or polled, diffed in full; read anew; announced); `live` is one
//! worktree's state, `events` the watches and what each file event means,
//! `refresh` the re-diff of a due batch.

mod events;
mod live;
mod refresh;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Instant;

use self::live::Live;
use super::{Batch, Debouncer, DiffUpdate, LiveOptions, OnFiles, OnRefs, OnUpdate, Stats, Target};
use crate::domain::SliceName;
use crate::domain::diff::WatchMode;
use crate::git::{Branches, DiffSource, IndexEntries};

pub(super) enum Msg {
    Fs(notify::Result<notify::Event>),
    /// A slice added to the plan while the engine runs.
    Add(Box<Target>),
    /// A slice's worktree was made (again) and is complete now.
    Reread(SliceName),
    /// Diff now whatever changed, quiet time or not, then reply; with a
    /// slice, that slice in full too when it is polled (its files may have
    /// changed since its last poll).
    Flush(mpsc::Sender<()>, Option<SliceName>),
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
    on_refs: OnRefs,
}

impl Engine {
    pub(super) fn new(
        common_dir: &Path,
        branches: Branches<'_>,
        watcher: notify::RecommendedWatcher,
        targets: Vec<Target>,
        options: LiveOptions,
        stats: Arc<Stats>,
        (on_update, on_files, on_refs): (OnUpdate, OnFiles, OnRefs),
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
            on_refs,
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
            let mut flushes = Vec::new();
            while let Some(msg) = next {
                match msg {
                    Msg::Stop => return,
                    Msg::Fs(Ok(event)) => self.on_event(&event),
                    Msg::Fs(Err(err)) => self.on_error(err),
                    Msg::Add(target) => self.add(*target),
                    Msg::Reread(slice) => self.reread(&slice),
                    Msg::Flush(reply, slice) => flushes.push((reply, slice)),
                }
                next = rx.try_recv().ok();
            }
            if !flushes.is_empty() {
                for (i, batch) in self.debouncer.take_all() {
                    self.refresh(i, batch);
                }
                for slice in flushes.iter().filter_map(|(_, slice)| slice.as_ref()) {
                    self.poll_now(slice);
                }
                for (reply, _) in flushes {
                    let _ = reply.send(());
                }
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

    /// A polled slice diffed in full now, its next poll a whole period
    /// away; a watched (or missing) one is left as it is.
    fn poll_now(&mut self, slice: &SliceName) {
        let Some(i) = self.slices.iter().position(|l| &l.target.slice == slice) else {
            return;
        };
        if matches!(self.slices[i].mode, WatchMode::Polling { .. }) {
            self.slices[i].next_poll = Instant::now() + self.options.poll;
            self.diff_in_full(i);
        }
    }

    /// Slice `i` diffed in full: a polled worktree, where anything may
    /// have changed.
    fn diff_in_full(&mut self, i: usize) {
        self.refresh(
            i,
            Batch {
                full: true,
                ..Batch::default()
            },
        );
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
                    // Files written before the watches came are read now,
                    // and the worktree's HEAD.
                    (self.on_files)(&self.slices[i].target.slice);
                    (self.on_refs)();
                }
            } else {
                // Polled: anything may have changed.
                (self.on_files)(&self.slices[i].target.slice);
                (self.on_refs)();
                self.diff_in_full(i);
            }
        }
        if now >= self.next_resync {
            self.next_resync = now + self.options.resync;
            for i in 0..self.slices.len() {
                self.debouncer.full(i, now);
            }
            self.tell_everything_may_have_moved();
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
