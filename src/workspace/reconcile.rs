//! Compares what `state.json` says with what the repository shows, and
//! reports each difference as a [`Drift`]. Never fails: a repository in any
//! shape yields a list, not a crash.

use crate::domain::{Drift, Lifecycle, SliceName};
use crate::git::Oid;
use crate::store::State;

use super::Workspace;

/// Every difference between `state` and the repository, in slice order.
pub fn reconcile(ws: &Workspace, state: &State) -> Vec<(SliceName, Drift)> {
    let worktrees = ws.git.worktrees().unwrap_or_default();
    let mut found = Vec::new();
    for (slice, record) in &state.slices {
        // The planner works in the main worktree, on whatever it is on; a
        // retired variant (it may never have been made) or a cleaned slice
        // has nothing left to check: its worktree and branch went on
        // purpose.
        if matches!(
            record.lifecycle,
            Lifecycle::Planned | Lifecycle::Retired | Lifecycle::Cleaned
        ) || ws.plan.is_planner(slice)
        {
            continue;
        }
        if record.lifecycle.has_worktree() {
            let known = worktrees
                .iter()
                .find(|w| w.name.as_deref() == Some(record.worktree_name.as_str()));
            if !record.worktree.exists() {
                found.push((
                    slice.clone(),
                    Drift::WorktreeMissing {
                        path: record.worktree.clone(),
                    },
                ));
            } else if known.is_none_or(|w| !w.valid) {
                found.push((
                    slice.clone(),
                    Drift::WorktreeUnregistered {
                        path: record.worktree.clone(),
                    },
                ));
            } else if let Some(w) = known
                && w.branch.as_deref() != Some(record.branch.as_str())
            {
                found.push((
                    slice.clone(),
                    Drift::WrongBranch {
                        expected: record.branch.clone(),
                        found: w.branch.clone(),
                    },
                ));
            }
        }
        match ws.git.branch_tip(&record.branch) {
            Ok(None) => found.push((
                slice.clone(),
                Drift::BranchMissing {
                    branch: record.branch.clone(),
                },
            )),
            Ok(Some(tip)) => {
                let Some(was) = record
                    .last_seen_tip
                    .as_deref()
                    .and_then(|s| Oid::from_str(s).ok())
                else {
                    continue;
                };
                if !ws.git.contains(tip, was).unwrap_or(true) {
                    found.push((
                        slice.clone(),
                        Drift::BranchRewritten {
                            branch: record.branch.clone(),
                            was: was.to_string(),
                            now: tip.to_string(),
                        },
                    ));
                }
            }
            Err(_) => {}
        }
    }
    found
}
