//! `sliceboard down`: remove a slice's worktree, keeping its branch.
//!
//! Refuses while the worktree holds uncommitted changes or the branch holds
//! commits the integration branch lacks, unless forced. Never removes a
//! worktree sliceboard did not create, forced or not. The record changes
//! through the [`StateStore`] once git is done, never while it works.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::{Progress, Workspace, WorkspaceError};
use crate::domain::{Event, Lifecycle, SliceName, short_commit};
use crate::git::{GitRepo, WorktreeInfo};
use crate::store::{Entry, SliceRecord, StateStore};

#[derive(Debug)]
pub struct DownReport {
    pub path: PathBuf,
    pub branch: String,
    /// False when the folder was already gone and only records were cleared.
    pub removed_folder: bool,
    pub pruned: Vec<String>,
    /// What it journaled, in order.
    pub events: Vec<Event>,
}

impl DownReport {
    /// One line for a person.
    pub fn describe(&self) -> String {
        // How the teardown went, in the words the board and the journal use.
        let teardown = self
            .events
            .iter()
            .find(|event| matches!(event, Event::TeardownRan { .. }))
            .map(|event| format!("; {}", crate::domain::board::describe(event)));
        format!("{}{}", self.removal(), teardown.unwrap_or_default())
    }

    fn removal(&self) -> String {
        if self.removed_folder {
            format!(
                "removed worktree {}; branch {} is kept",
                self.path.display(),
                self.branch
            )
        } else {
            format!(
                "worktree {} was already gone; cleared its records (branch {} is kept)",
                self.path.display(),
                self.branch
            )
        }
    }
}

/// Removes the slice's worktree, changing the state through `state` (and
/// so under its lock).
pub fn down(
    ws: &Workspace,
    state: &StateStore,
    name: &str,
    force: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<DownReport, WorkspaceError> {
    let slice = ws.slice(name)?;
    let name = &slice.name;
    if ws.plan.is_planner(name) {
        return Err(WorkspaceError::Refused(format!(
            "{name} is the planner, which works in the repository itself: there is no worktree of its own to remove"
        )));
    }
    let say = |step: usize, message: String| Progress {
        step,
        total: 2,
        slice: Some(name.clone()),
        message,
    };
    let record = record_of(ws, state, name)?;
    let known = ws.git.worktree_named(&record.worktree_name)?;
    refuse_unless_ours(ws, name, &record, known.as_ref())?;
    let folder_there = known.as_ref().is_some_and(|w| w.valid) && record.worktree.exists();
    if folder_there && !force {
        progress(say(
            1,
            format!("checking {} for unsaved work", record.worktree.display()),
        ));
        refuse_if_unsaved(ws, &record.worktree, &record.branch)?;
    }
    // The slice's services go before its worktree does.
    let cwd = if folder_there {
        record.worktree.clone()
    } else {
        ws.git.root().to_owned()
    };
    let teardown = (!ws.plan.teardown.is_empty())
        .then(|| {
            progress(say(
                1,
                format!("running {} teardown", crate::domain::possessive(name)),
            ));
            super::setup::run_teardown(ws, name, &cwd)
        })
        .flatten();
    if folder_there {
        progress(say(
            2,
            format!(
                "removing worktree {}{}",
                record.worktree.display(),
                if force { " (forced)" } else { "" }
            ),
        ));
        ws.git.remove_worktree(&record.worktree_name)?;
    }
    let pruned = ws.git.prune_stale()?;
    let mut events = record_removed(ws, state, name, &record, force)?;
    if let Some(event) = teardown {
        // Journaled as what the teardown did, before the removal's events.
        if let Err(err) = ws
            .state_dir
            .journal()
            .record(crate::store::Actor::Operator, event.clone())
        {
            tracing::warn!(slice = %name, %err, "teardown not journaled");
        }
        events.insert(0, event);
    }
    Ok(DownReport {
        path: record.worktree,
        branch: record.branch,
        removed_folder: folder_there,
        pruned,
        events,
    })
}

/// The slice's record; refused when it has none.
fn record_of(
    ws: &Workspace,
    state: &StateStore,
    name: &SliceName,
) -> Result<SliceRecord, WorkspaceError> {
    if let Some(record) = state.read(|state| state.slices.get(name).cloned()) {
        return Ok(record);
    }
    let pruned = ws.git.prune_stale()?;
    Err(match ws.git.worktree_named(name.as_str())? {
        Some(w) => not_ours(&w.path),
        None => WorkspaceError::Refused(format!(
            "slice {name} has no worktree{}",
            if pruned.is_empty() {
                ""
            } else {
                " (stale worktree records were pruned)"
            }
        )),
    })
}

/// Refuses to remove a worktree (`known`, git's record of it) that is not
/// sliceboard's to remove: one it did not make, or one moved from where
/// it left it.
fn refuse_unless_ours(
    ws: &Workspace,
    name: &SliceName,
    record: &SliceRecord,
    known: Option<&WorktreeInfo>,
) -> Result<(), WorkspaceError> {
    let Some(w) = known.filter(|w| w.valid) else {
        return Ok(());
    };
    let marked = ws.git.worktree_mark(&record.worktree_name).as_deref() == Some(name.as_str());
    if !record.created_by_sliceboard || !marked {
        return Err(not_ours(&w.path));
    }
    if w.path != record.worktree
        && w.path.canonicalize().ok() != record.worktree.canonicalize().ok()
    {
        return Err(WorkspaceError::Refused(format!(
            "git's worktree {} is at {}, not at {} where sliceboard left it; move it back or remove it with git",
            record.worktree_name,
            w.path.display(),
            record.worktree.display()
        )));
    }
    Ok(())
}

fn not_ours(path: &Path) -> WorkspaceError {
    WorkspaceError::Refused(format!(
        "sliceboard did not create the worktree {} and never removes worktrees it did not create; use `git worktree remove` yourself if you mean it",
        path.display()
    ))
}

/// The slice is `removed`, its branch's tip noted; journaled.
fn record_removed(
    ws: &Workspace,
    state: &StateStore,
    name: &SliceName,
    record: &SliceRecord,
    force: bool,
) -> Result<Vec<Event>, WorkspaceError> {
    let tip = ws.git.branch_tip(&record.branch)?.map(|t| t.to_string());
    let from = record.lifecycle;
    Ok(state.update(|state| {
        if let Some(entry) = state.slices.get_mut(name) {
            entry.lifecycle = Lifecycle::Removed;
            entry.last_seen_tip = tip;
            entry.updated_at = Timestamp::now();
        }
        let mut entries = vec![Entry::operator(Event::WorktreeRemoved {
            slice: name.clone(),
            path: record.worktree.clone(),
            forced: force,
        })];
        if from != Lifecycle::Removed {
            entries.push(Entry::sliceboard(Event::LifecycleChanged {
                slice: name.clone(),
                from,
                to: Lifecycle::Removed,
            }));
        }
        entries
    })?)
}

/// Refuses when removing the worktree would lose work: uncommitted changes,
/// or commits that are not in the integration branch (the base when the
/// integration branch does not exist yet).
fn refuse_if_unsaved(
    ws: &Workspace,
    worktree: &std::path::Path,
    branch: &str,
) -> Result<(), WorkspaceError> {
    let dirt = GitRepo::dirt(worktree)?;
    if !dirt.is_clean() {
        return Err(WorkspaceError::Refused(format!(
            "{} has uncommitted work ({} changed, {} untracked file{}); commit it, or pass --force to discard it",
            worktree.display(),
            dirt.changed,
            dirt.untracked,
            if dirt.untracked == 1 { "" } else { "s" }
        )));
    }
    let Some(tip) = ws.git.branch_tip(branch)? else {
        return Ok(());
    };
    let target = if ws.git.branch_exists(&ws.plan.integration) {
        &ws.plan.integration
    } else {
        &ws.plan.base
    };
    let Some(target_tip) = ws.git.branch_tip(target)? else {
        return Ok(());
    };
    let (ahead, _) = ws.git.ahead_behind(tip, target_tip)?;
    if ahead > 0 {
        return Err(WorkspaceError::Refused(format!(
            "branch {branch} has {ahead} commit{} not in {target} (tip {}); merge it first, or pass --force to remove the worktree anyway (`down` never deletes a branch: {branch} keeps the commits)",
            if ahead == 1 { "" } else { "s" },
            short_commit(&tip.to_string())
        )));
    }
    Ok(())
}
