//! Approving a slice: the operator's word that its branch, at the commit
//! it has now, may merge. Recorded in `state.json` and the journal; the
//! merge itself belongs to the merge queue, not here. Only a commit is
//! approved, so work still uncommitted in the worktree is refused. A
//! merged slice whose branch has new commits may be approved again.

use jiff::Timestamp;

use super::{Workspace, WorkspaceError};
use crate::domain::{Event, Lifecycle, SliceName};
use crate::git::GitRepo;
use crate::store::{Actor, Approval, StateLock, load_state, save_state};

/// Approves `slice` at its branch tip, recording the `concerns` the
/// operator approved over; returns the commit and the events it journaled.
/// Approving again (after the branch moved) replaces the standing
/// approval. Holds `_lock`.
pub fn approve(
    ws: &Workspace,
    _lock: &StateLock,
    slice: &SliceName,
    concerns: Vec<String>,
) -> Result<(String, Vec<Event>), WorkspaceError> {
    let path = ws.state_dir.state_file();
    let mut state = load_state(&path)?;
    let refused = |why: String| WorkspaceError::Refused(format!("cannot approve {slice}: {why}"));
    let record = state.slices.get_mut(slice).ok_or_else(|| {
        refused(format!(
            "it has no worktree yet; run `sliceboard up {slice}`"
        ))
    })?;
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
            return Err(refused(format!(
                "it is merged, and {} holds every commit of its branch",
                ws.plan.integration
            )));
        }
    } else if !matches!(
        record.lifecycle,
        Lifecycle::Ready | Lifecycle::Active | Lifecycle::Approved
    ) {
        return Err(refused(format!("it is {}", record.lifecycle)));
    }
    let dirt = GitRepo::dirt(&record.worktree)?;
    if !dirt.is_clean() {
        return Err(refused(format!(
            "its worktree has uncommitted work ({} changed, {} untracked); only commits are approved, so have the agent commit first",
            dirt.changed, dirt.untracked
        )));
    }
    let tip = ws
        .git
        .branch_tip(&record.branch)?
        .ok_or_else(|| refused(format!("its branch {} is missing", record.branch)))?;
    let commit = tip.to_string();
    if commit == record.base_commit {
        return Err(refused(
            "its branch has no commits beyond the base yet".into(),
        ));
    }
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
    save_state(&path, &state)?;
    let mut events = vec![Event::Approved {
        slice: slice.clone(),
        commit: commit.clone(),
        concerns,
    }];
    if from != Lifecycle::Approved {
        events.push(Event::LifecycleChanged {
            slice: slice.clone(),
            from,
            to: Lifecycle::Approved,
        });
    }
    record_all(ws, &events)?;
    Ok((commit, events))
}

/// Withdraws the slice's standing approval; it becomes active again.
/// Returns the events it journaled.
pub fn withdraw(
    ws: &Workspace,
    _lock: &StateLock,
    slice: &SliceName,
) -> Result<Vec<Event>, WorkspaceError> {
    let path = ws.state_dir.state_file();
    let mut state = load_state(&path)?;
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
    save_state(&path, &state)?;
    let events = vec![
        Event::ApprovalWithdrawn {
            slice: slice.clone(),
        },
        Event::LifecycleChanged {
            slice: slice.clone(),
            from: Lifecycle::Approved,
            to: Lifecycle::Active,
        },
    ];
    record_all(ws, &events)?;
    Ok(events)
}

/// Journals the operator's events, in order.
fn record_all(ws: &Workspace, events: &[Event]) -> Result<(), WorkspaceError> {
    let journal = ws.state_dir.journal();
    for event in events {
        journal.record(Actor::Operator, event.clone())?;
    }
    Ok(())
}
