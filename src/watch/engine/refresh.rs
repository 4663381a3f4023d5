//! Re-diffing a slice: from a due batch (paths, a git move, or "all") to
//! the diff that is sent. Checks first that the worktree is still the one
//! opened, widens a git move into the index entries it really changed (or
//! a full diff when the merge base moved), diffs only the batch's paths
//! with both sides of a rename when it can, splices them into the diff it
//! holds, and announces the result when it is news.
//!
//! It never takes or drops watches but for a worktree that is gone; what
//! to re-diff is decided by `events` and the debouncer.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Engine;
use super::live::Live;
use crate::domain::diff::{SliceDiff, WatchMode};
use crate::git::{DiffSource, GitError, IndexEntries, index_changes};
use crate::watch::{Batch, MAX_PATHS, Stats};

impl Engine {
    /// Diffs what the batch asks for and sends an update if anything changed.
    pub(super) fn refresh(&mut self, i: usize, batch: Batch) {
        if !self.worktree_is_current(i) {
            return;
        }
        let Some((batch, index)) = self.slices[i].what_to_diff(batch) else {
            return;
        };
        let live = &self.slices[i];
        let Some(source) = live.source.as_ref() else {
            return;
        };
        let (result, index) = diff_batch(source, &live.diff, &batch, index, &self.stats);
        if result.is_ok()
            && let Some(entries) = index
        {
            self.slices[i].set_index(entries);
        }
        self.keep_result(i, result);
    }

    /// Whether slice `i`'s worktree is open and still the one opened.
    /// Otherwise it says so (missing, or gone: an empty diff) or reads a
    /// worktree made again anew, and there is nothing more to diff.
    fn worktree_is_current(&mut self, i: usize) -> bool {
        let live = &mut self.slices[i];
        if live.source.is_none() {
            if live.mode != WatchMode::Missing {
                live.mode = WatchMode::Missing;
                self.announce(i);
            }
            return false;
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
            return false;
        }
        if live.identity_now() != live.identity {
            // The worktree went away and came back (`down`, then `up`):
            // its folders' watches died with the old ones, and what was
            // read of it belongs to the old one. Read it again whole.
            tracing::info!(slice = %live.target.slice, "the worktree was made again; reading it anew");
            self.read_anew(i);
            return false;
        }
        true
    }

    /// Keeps a diff that changed and clears the error a good diff ends; a
    /// failure keeps the last good diff with its error. Announces what is
    /// news (and the first diff after attaching, even when empty).
    fn keep_result(&mut self, i: usize, result: Result<SliceDiff, GitError>) {
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
}

impl Live {
    /// The batch as it must really be diffed, with the index read for it.
    /// HEAD, the index or a branch moved: a new merge base changes
    /// everything; otherwise only index entries whose blob or mode changed
    /// matter (`git status` rewrites the index for stat data alone, and a
    /// commit leaves the diff against the base as it was). `None` when
    /// nothing is left to diff (the index read is kept).
    fn what_to_diff(&mut self, mut batch: Batch) -> Option<(Batch, Option<IndexEntries>)> {
        let source = self.source.as_ref()?;
        let mut index = None;
        if !batch.full && batch.git {
            match (source.merge_base(), source.index_entries()) {
                (Ok(base), Ok(entries)) => {
                    if base.map(|o| o.to_string()) != self.diff.base {
                        batch.full = true;
                    } else {
                        batch.paths.extend(index_changes(&self.index, &entries));
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
                self.set_index(entries);
            }
            return None;
        }
        Some((batch, index))
    }
}

/// The diff the batch asks for: in full, or its paths diffed and spliced
/// into `model`; with the index to keep after it (read again when a path
/// diff found the merge base moved and went full).
fn diff_batch(
    source: &DiffSource,
    model: &SliceDiff,
    batch: &Batch,
    index: Option<IndexEntries>,
    stats: &Stats,
) -> (Result<SliceDiff, GitError>, Option<IndexEntries>) {
    if batch.full {
        stats.full_diffs.fetch_add(1, Ordering::Relaxed);
        return (source.full(), index);
    }
    stats.path_diffs.fetch_add(1, Ordering::Relaxed);
    let (paths, fresh) = diff_paths(source, model, batch);
    match fresh {
        Ok(fresh) if fresh.base == model.base => {
            let mut diff = model.clone();
            diff.splice(|p| covers(&paths, p), fresh);
            (Ok(diff), index)
        }
        // The merge base moved: everything may differ.
        Ok(_) => {
            stats.full_diffs.fetch_add(1, Ordering::Relaxed);
            let index = source.index_entries().ok();
            (source.full(), index)
        }
        Err(err) => (Err(err), index),
    }
}

/// Diffs the batch's paths, with both sides of every rename they touch;
/// returns the paths diffed and the fresh diff of them.
fn diff_paths(
    source: &DiffSource,
    model: &SliceDiff,
    batch: &Batch,
) -> (Vec<String>, Result<SliceDiff, GitError>) {
    // Both sides of a rename go together, so the pair is found again.
    let mut paths: BTreeSet<String> = batch.paths.clone();
    for file in &model.files {
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
        let partners = rename_partners(model, first, &paths);
        if !partners.is_empty() {
            paths.extend(partners);
            paths.sort();
            fresh = source.paths(&paths);
        }
    }
    (paths, fresh)
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

/// Whether `path` is one of `covered` or lies under one of them.
fn covers<'a>(covered: impl IntoIterator<Item = &'a String>, path: &str) -> bool {
    covered
        .into_iter()
        .any(|c| path == c || (path.starts_with(c.as_str()) && path[c.len()..].starts_with('/')))
}
