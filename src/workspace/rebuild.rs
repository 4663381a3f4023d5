//! A lost `state.json` is rebuilt, never silently emptied: when it is
//! missing (or does not parse) while the journal holds history, each
//! slice's record is made again from the repository (its worktree and
//! branch as git knows them) and the journal (its lifecycle, base commit,
//! approvals and merge), and a notice says what was rebuilt. A file that
//! did not parse is kept beside it as `state.json.corrupt`.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::{Workspace, WorkspaceError};
use crate::domain::{Event, Lifecycle, SliceName};
use crate::store::{
    Approval, MergeRecord, SliceRecord, State, StateLock, StoreError, load_state, save_state,
};

/// Rebuilds the state when it is lost and the journal is not empty;
/// returns a line per rebuilt slice (nothing when there was nothing to
/// do, or another process holds the state lock and will see it first).
pub fn rebuild_lost_state(ws: &Workspace) -> Result<Vec<String>, WorkspaceError> {
    let state_file = ws.state_dir.state_file();
    let corrupt = match load_state(&state_file) {
        Ok(_) if state_file.exists() => return Ok(Vec::new()),
        Ok(_) => false,
        Err(StoreError::Corrupt { .. }) => true,
        Err(err) => return Err(err.into()),
    };
    let journal = ws.state_dir.journal().read_all()?;
    if journal.entries.is_empty() {
        return Ok(Vec::new());
    }
    let Ok(_lock) = StateLock::acquire(&ws.state_dir.lock_file(), "rebuilding state.json") else {
        return Ok(Vec::new());
    };
    let mut notices = Vec::new();
    if corrupt {
        let aside = state_file.with_extension("json.corrupt");
        std::fs::rename(&state_file, &aside).map_err(|source| WorkspaceError::Io {
            what: format!("cannot move {} aside", state_file.display()),
            source,
        })?;
        notices.push(format!(
            "state.json did not parse; kept as {} and rebuilt",
            aside.display()
        ));
    } else {
        notices.push("state.json was missing; rebuilt from the journal and the repository".into());
    }

    // The journal's last word on each slice.
    let mut lifecycle: BTreeMap<SliceName, Lifecycle> = BTreeMap::new();
    let mut base: BTreeMap<SliceName, String> = BTreeMap::new();
    let mut approvals: BTreeMap<SliceName, Vec<Approval>> = BTreeMap::new();
    let mut merged: BTreeMap<SliceName, MergeRecord> = BTreeMap::new();
    for entry in &journal.entries {
        match &entry.event {
            Event::LifecycleChanged { slice, to, .. } => {
                lifecycle.insert(slice.clone(), *to);
            }
            Event::WorktreeCreated {
                slice, base_commit, ..
            } => {
                base.insert(slice.clone(), base_commit.clone());
            }
            Event::Approved { slice, commit, .. } => {
                approvals.entry(slice.clone()).or_default().push(Approval {
                    commit: commit.clone(),
                    at: entry.at,
                    withdrawn: false,
                    stale: false,
                });
            }
            Event::ApprovalWithdrawn { slice } => {
                if let Some(last) = approvals.get_mut(slice).and_then(|a| a.last_mut()) {
                    last.withdrawn = true;
                }
            }
            Event::ApprovalStale { slice, .. } => {
                if let Some(last) = approvals.get_mut(slice).and_then(|a| a.last_mut()) {
                    last.stale = true;
                }
            }
            Event::Merged {
                slice,
                approved,
                branch,
                commit,
                ..
            } => {
                merged.insert(
                    slice.clone(),
                    MergeRecord {
                        approved: approved.clone(),
                        commit: commit.clone(),
                        branch: branch.clone(),
                        at: entry.at,
                    },
                );
            }
            _ => {}
        }
    }

    let repo = crate::domain::plan::repo_name(ws.git.root());
    let base_tip = ws.git.branch_tip(&ws.plan.base)?;
    let mut state = State::default();
    for spec in &ws.plan.slices {
        let name = &spec.name;
        let branch = ws.plan.branch_for(name, &repo);
        let Some(tip) = ws.git.branch_tip(&branch)? else {
            continue;
        };
        let worktree = ws
            .git
            .worktree_named(name.as_str())?
            .filter(|w| w.valid)
            .map(|w| w.path);
        let journaled = lifecycle.get(name).copied();
        let lifecycle = match (&worktree, journaled) {
            (Some(_), Some(Lifecycle::Planned | Lifecycle::Removed) | None) => Lifecycle::Ready,
            (Some(_), Some(other)) => other,
            (None, Some(Lifecycle::Merged)) => Lifecycle::Merged,
            (None, _) => Lifecycle::Removed,
        };
        let base_commit = base
            .get(name)
            .cloned()
            .or_else(|| base_tip.map(|t| t.to_string()))
            .unwrap_or_default();
        let record = SliceRecord {
            lifecycle,
            branch: branch.clone(),
            worktree: worktree
                .clone()
                .unwrap_or_else(|| ws.plan.worktree_for(name, ws.git.root())),
            worktree_name: name.to_string(),
            created_by_sliceboard: ws.git.worktree_mark(name.as_str()).as_deref()
                == Some(name.as_str()),
            base_commit,
            last_seen_tip: Some(tip.to_string()),
            approvals: approvals.remove(name).unwrap_or_default(),
            merged: merged.remove(name),
            attention: None,
            upstream_merged: Vec::new(),
            updated_at: Timestamp::now(),
        };
        notices.push(format!(
            "  {name}: {lifecycle} on {branch}{}{}",
            if worktree.is_some() {
                ""
            } else {
                " (no worktree)"
            },
            match record.standing_approval() {
                Some(approval) => format!(
                    ", approved at {}",
                    crate::domain::short_commit(&approval.commit)
                ),
                None => String::new(),
            }
        ));
        state.slices.insert(name.clone(), record);
    }
    save_state(&state_file, &state)?;
    ws.state_dir.journal().record(
        crate::store::Actor::Sliceboard,
        Event::Progress {
            slice: None,
            message: notices.join("\n"),
        },
    )?;
    Ok(notices)
}
