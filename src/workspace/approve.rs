//! Approving a slice: the operator's word that its branch, at the commit
//! it has now, may merge. Recorded in `state.json` and the journal; the
//! merge itself belongs to the merge queue, not here. Only a commit is
//! approved, so work still uncommitted in the worktree is refused. A
//! merged slice whose branch has new commits may be approved again.
//! Both change the state through the [`StateStore`], which journals them.

use std::path::Path;

use jiff::Timestamp;

use super::{Workspace, WorkspaceError};
use crate::domain::{Event, Lifecycle, SliceName};
use crate::git::{Dirt, GitRepo};
use crate::store::{Approval, Entry, SliceRecord, StateStore};

/// Approves `slice` at its branch tip, recording the `concerns` the
/// operator approved over (`by_itself`: the queue approved it, under
/// `[merge] approve = "when-green"`); returns the commit and the events it
/// journaled.
/// Approving again (after the branch moved) replaces the standing
/// approval. Changes the state through `state`; the worktree's
/// uncommitted work is read by `dirt` (the whole status, or the
/// supervisor's way through its live diff), before the state is taken.
pub fn approve(
    ws: &Workspace,
    state: &StateStore,
    slice: &SliceName,
    concerns: Vec<String>,
    by_itself: bool,
    dirt: ReadDirt<'_>,
) -> Result<(String, Vec<Event>), WorkspaceError> {
    let entry = if by_itself {
        Entry::sliceboard
    } else {
        Entry::operator
    };
    let worktree = state.read(|s| s.slices.get(slice).map(|r| r.worktree.clone()));
    let read = worktree.map(|w| (dirt(slice, &w), w));
    let mut approved = String::new();
    let events = state.try_update(|state| {
        let record = state.slices.get_mut(slice).ok_or_else(|| {
            refused(
                slice,
                format!("it has no worktree yet; run `sliceboard up {slice}`"),
            )
        })?;
        let dirt = match &read {
            Some((dirt, read_in)) if *read_in == record.worktree => dirt.clone(),
            // Moved between the read and now: read it again.
            _ => dirt(slice, &record.worktree),
        };
        let commit = approvable_commit(ws, slice, record, dirt)?;
        let from = record.lifecycle;
        if let Some(earlier) = record.standing_approval_mut() {
            earlier.withdrawn = true;
        }
        record.approvals.push(Approval {
            commit: commit.clone(),
            at: Timestamp::now(),
            withdrawn: false,
            stale: false,
        });
        record.attention = None;
        record.lifecycle = Lifecycle::Approved;
        record.updated_at = Timestamp::now();
        let mut entries = vec![entry(Event::Approved {
            slice: slice.clone(),
            commit: commit.clone(),
            concerns,
            by_itself,
        })];
        if from != Lifecycle::Approved {
            entries.push(entry(Event::LifecycleChanged {
                slice: slice.clone(),
                from,
                to: Lifecycle::Approved,
            }));
        }
        approved = commit;
        Ok::<_, WorkspaceError>(entries)
    })?;
    Ok((approved, events))
}

/// How [`approve`] reads a slice's worktree for uncommitted work.
pub type ReadDirt<'a> = &'a dyn Fn(&SliceName, &Path) -> Result<Dirt, String>;

/// [`ReadDirt`] by the worktree's whole status, for a process that keeps
/// no live diffs.
pub fn whole_status(_slice: &SliceName, worktree: &Path) -> Result<Dirt, String> {
    GitRepo::dirt(worktree).map_err(|e| e.to_string())
}

fn refused(slice: &SliceName, why: String) -> WorkspaceError {
    WorkspaceError::Refused(format!("cannot approve {slice}: {why}"))
}

/// The commit `record`'s branch is at, when it may be approved: the slice
/// is ready, active or approved (or merged with new commits since), its
/// worktree holds no uncommitted work and its branch has commits of its own.
fn approvable_commit(
    ws: &Workspace,
    slice: &SliceName,
    record: &SliceRecord,
    dirt: Result<Dirt, String>,
) -> Result<String, WorkspaceError> {
    if record.lifecycle == Lifecycle::Merged {
        // Merged, then the branch moved on: its new commits may merge too.
        let new_commits = match (
            ws.git.branch_tip(&record.branch)?,
            ws.git.branch_tip(&ws.plan.integration)?,
        ) {
            (Some(tip), Some(integration)) => ws.git.ahead_behind(tip, integration)?.0,
            _ => 0,
        };
        if new_commits == 0 {
            return Err(refused(
                slice,
                format!(
                    "it is merged, and {} holds every commit of its branch",
                    ws.plan.integration
                ),
            ));
        }
    } else if !matches!(
        record.lifecycle,
        Lifecycle::Ready | Lifecycle::Active | Lifecycle::Approved
    ) {
        return Err(refused(slice, format!("it is {}", record.lifecycle)));
    }
    let dirt = dirt.map_err(|why| refused(slice, format!("its worktree cannot be read: {why}")))?;
    if !dirt.is_clean() {
        return Err(refused(
            slice,
            format!(
                "its worktree has uncommitted work ({} changed, {} untracked); only commits are approved, so have the agent commit first",
                dirt.changed, dirt.untracked
            ),
        ));
    }
    let tip = ws
        .git
        .branch_tip(&record.branch)?
        .ok_or_else(|| refused(slice, format!("its branch {} is missing", record.branch)))?;
    let commit = tip.to_string();
    if commit == record.base_commit {
        return Err(refused(
            slice,
            "its branch has no commits beyond the base yet".into(),
        ));
    }
    Ok(commit)
}

/// Withdraws the slice's standing approval; it becomes active again.
/// Returns the events it journaled.
pub fn withdraw(state: &StateStore, slice: &SliceName) -> Result<Vec<Event>, WorkspaceError> {
    state.try_update(|state| {
        let record = state
            .slices
            .get_mut(slice)
            .filter(|r| r.lifecycle == Lifecycle::Approved)
            .ok_or_else(|| WorkspaceError::Refused(format!("{slice} is not approved")))?;
        if let Some(last) = record.approvals.iter_mut().rev().find(|a| !a.withdrawn) {
            last.withdrawn = true;
        }
        record.attention = None;
        record.lifecycle = Lifecycle::Active;
        record.updated_at = Timestamp::now();
        Ok(vec![
            Entry::operator(Event::ApprovalWithdrawn {
                slice: slice.clone(),
            }),
            Entry::operator(Event::LifecycleChanged {
                slice: slice.clone(),
                from: Lifecycle::Approved,
                to: Lifecycle::Active,
            }),
        ])
    })
}
