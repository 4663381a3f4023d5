//! `sliceboard down`: remove a slice's worktree, keeping its branch.
//!
//! Refuses while the worktree holds uncommitted changes or the branch holds
//! commits the integration branch lacks, unless forced. Never removes a
//! worktree sliceboard did not create, forced or not.

use std::path::PathBuf;

use jiff::Timestamp;

use super::{Progress, Workspace, WorkspaceError};
use crate::domain::short_commit;
use crate::domain::{Event, Lifecycle};
use crate::git::GitRepo;
use crate::store::{Actor, StateLock, load_state, save_state};

#[derive(Debug)]
pub struct DownReport {
    pub path: PathBuf,
    pub branch: String,
    /// False when the folder was already gone and only records were cleared.
    pub removed_folder: bool,
    pub pruned: Vec<String>,
}

impl DownReport {
    /// One line for a person.
    pub fn describe(&self) -> String {
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

pub fn down(
    ws: &Workspace,
    _lock: &StateLock,
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
    let state_file = ws.state_dir.state_file();
    let mut state = load_state(&state_file)?;
    let say = |step: usize, message: String| Progress {
        step,
        total: 2,
        slice: Some(name.clone()),
        message,
    };

    let Some(record) = state.slices.get(name).cloned() else {
        let pruned = ws.git.prune_stale()?;
        return Err(WorkspaceError::Refused(
            match ws.git.worktree_named(name.as_str())? {
                Some(w) => format!(
                    "sliceboard did not create the worktree {} and never removes worktrees it did not create; use `git worktree remove` yourself if you mean it",
                    w.path.display()
                ),
                None => format!(
                    "slice {name} has no worktree{}",
                    if pruned.is_empty() {
                        ""
                    } else {
                        " (stale worktree records were pruned)"
                    }
                ),
            },
        ));
    };
    let marked = ws.git.worktree_mark(&record.worktree_name).as_deref() == Some(name.as_str());
    let known = ws.git.worktree_named(&record.worktree_name)?;
    if let Some(w) = &known
        && w.valid
        && (!record.created_by_sliceboard || !marked)
    {
        return Err(WorkspaceError::Refused(format!(
            "sliceboard did not create the worktree {} and never removes worktrees it did not create; use `git worktree remove` yourself if you mean it",
            w.path.display()
        )));
    }
    if let Some(w) = &known
        && w.valid
        && w.path != record.worktree
        && w.path.canonicalize().ok() != record.worktree.canonicalize().ok()
    {
        return Err(WorkspaceError::Refused(format!(
            "git's worktree {} is at {}, not at {} where sliceboard left it; move it back or remove it with git",
            record.worktree_name,
            w.path.display(),
            record.worktree.display()
        )));
    }

    let folder_there = known.as_ref().is_some_and(|w| w.valid) && record.worktree.exists();
    if folder_there && !force {
        progress(say(
            1,
            format!("checking {} for unsaved work", record.worktree.display()),
        ));
        refuse_if_unsaved(ws, &record.worktree, &record.branch)?;
    }
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

    let from = record.lifecycle;
    if let Some(entry) = state.slices.get_mut(name) {
        entry.lifecycle = Lifecycle::Removed;
        entry.last_seen_tip = ws.git.branch_tip(&record.branch)?.map(|t| t.to_string());
        entry.updated_at = Timestamp::now();
    }
    save_state(&state_file, &state)?;
    let journal = ws.state_dir.journal();
    journal.record(
        Actor::Operator,
        Event::WorktreeRemoved {
            slice: name.clone(),
            path: record.worktree.clone(),
            forced: force,
        },
    )?;
    if from != Lifecycle::Removed {
        journal.record(
            Actor::Sliceboard,
            Event::LifecycleChanged {
                slice: name.clone(),
                from,
                to: Lifecycle::Removed,
            },
        )?;
    }
    Ok(DownReport {
        path: record.worktree,
        branch: record.branch,
        removed_folder: folder_there,
        pruned,
    })
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
