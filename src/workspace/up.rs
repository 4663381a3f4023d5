//! `sliceboard up`: create the missing worktrees and branches.
//!
//! Idempotent: what already exists is left exactly as it is (an existing
//! branch is checked out as it is, never reset), and a run with nothing to
//! do writes nothing. State is saved after each slice, so an interrupted run
//! keeps what it finished.

use crate::domain::short_commit;
use std::time::Instant;

use jiff::Timestamp;

use super::{Progress, Workspace, WorkspaceError, reconcile};
use crate::domain::plan::SliceRole;
use crate::domain::{Drift, Event, Lifecycle, SliceName};
use crate::git::AddOutcome;
use crate::store::{Actor, SliceRecord, StateLock, load_state, save_state};

#[derive(Debug, Default)]
pub struct UpReport {
    pub created: Vec<SliceName>,
    /// Created on a branch that already existed.
    pub reused_branch: Vec<SliceName>,
    pub already_there: Vec<SliceName>,
    /// The integration branch, when this run created it.
    pub created_integration: Option<String>,
    pub pruned: Vec<String>,
    pub drift: Vec<(SliceName, Drift)>,
    pub failed: Vec<(SliceName, String)>,
    /// Half-made worktrees (an interrupted `up`) removed and made again.
    pub redone: Vec<SliceName>,
    /// Variants retired when another was picked: left alone.
    pub retired: Vec<SliceName>,
    /// Slices cleaned on purpose, left alone unless named.
    pub cleaned: Vec<SliceName>,
}

impl UpReport {
    /// What was found and cleaned on the way, one line each.
    pub fn notes(&self, base: &str) -> Vec<String> {
        let mut notes: Vec<String> = self
            .drift
            .iter()
            .map(|(slice, drift)| format!("found: {slice}: {}", drift.describe(slice)))
            .collect();
        if !self.pruned.is_empty() {
            notes.push(format!(
                "pruned stale worktree records: {}",
                self.pruned.join(", ")
            ));
        }
        if let Some(branch) = &self.created_integration {
            notes.push(format!("created integration branch {branch} from {base}"));
        }
        for slice in &self.redone {
            notes.push(format!(
                "{slice}: a half-made worktree (an interrupted `up`) was removed and made again"
            ));
        }
        notes
    }

    /// One line: how many worktrees were created, found, failed.
    pub fn summary(&self) -> String {
        let created = self.created.len() + self.reused_branch.len();
        format!(
            "{created} worktree{} created ({} on new branches, {} on existing branches), {} already there{}",
            if created == 1 { "" } else { "s" },
            self.created.len(),
            self.reused_branch.len(),
            self.already_there.len(),
            match self.retired.len() {
                0 => String::new(),
                n => format!(", {n} retired (another variant was picked)"),
            } + &match self.cleaned.len() {
                0 => String::new(),
                n => format!(", {n} cleaned (name one to start it again)"),
            } + &match self.failed.len() {
                0 => String::new(),
                n => format!(", {n} failed"),
            }
        )
    }

    pub fn failures(&self) -> Vec<String> {
        self.failed
            .iter()
            .map(|(slice, why)| format!("error: {slice}: {why}"))
            .collect()
    }

    /// Everything, as the command line prints it.
    pub fn describe(&self, base: &str) -> String {
        let mut lines = self.notes(base);
        lines.push(self.summary());
        lines.extend(self.failures());
        lines.join("\n")
    }
}

/// Creates worktrees for `names` (all slices when empty). Holds `_lock`.
pub fn up(
    ws: &Workspace,
    _lock: &StateLock,
    names: &[String],
    progress: &mut dyn FnMut(Progress),
) -> Result<UpReport, WorkspaceError> {
    let selected = ws.select(names)?;
    let journal = ws.state_dir.journal();
    let state_file = ws.state_dir.state_file();
    let mut state = load_state(&state_file)?;
    let mut report = UpReport {
        drift: reconcile(ws, &state),
        ..UpReport::default()
    };
    for (slice, drift) in &report.drift {
        journal.record(
            Actor::Sliceboard,
            Event::DriftFound {
                slice: slice.clone(),
                drift: drift.clone(),
            },
        )?;
    }
    report.pruned = ws.git.prune_stale()?;
    if !report.pruned.is_empty() {
        journal.record(
            Actor::Sliceboard,
            Event::WorktreesPruned {
                names: report.pruned.clone(),
            },
        )?;
    }

    let base_tip = ws.git.branch_tip(&ws.plan.base)?.ok_or_else(|| {
        WorkspaceError::Refused(format!(
            "base branch {} does not exist; fix `base` in {}",
            ws.plan.base,
            ws.plan_path().display()
        ))
    })?;
    if ws.plan.integration != ws.plan.base && !ws.git.branch_exists(&ws.plan.integration) {
        ws.git.create_branch(&ws.plan.integration, base_tip)?;
        report.created_integration = Some(ws.plan.integration.clone());
    }

    let repo = crate::domain::plan::repo_name(ws.git.root());
    let total = selected.len();
    for (i, slice) in selected.into_iter().enumerate() {
        let step = i + 1;
        let name = &slice.name;
        let path = ws.plan.worktree_for(name, ws.git.root());
        let branch = ws.plan.branch_for(name, &repo);
        // Cleaned or retired on purpose: a retired variant stays so, a
        // cleaned slice starts again only when named.
        if let Some(gone) = state
            .slices
            .get(name)
            .filter(|r| r.lifecycle.gone_on_purpose())
            .filter(|r| r.lifecycle == Lifecycle::Retired || names.is_empty())
        {
            progress(Progress {
                step,
                total,
                slice: Some(name.clone()),
                message: left_alone(ws, name, gone, &branch),
            });
            match gone.lifecycle {
                Lifecycle::Retired => report.retired.push(name.clone()),
                _ => report.cleaned.push(name.clone()),
            }
            continue;
        }
        ws.write_brief(slice)?;
        let say = |message: String| Progress {
            step,
            total,
            slice: Some(name.clone()),
            message,
        };
        if slice.role == SliceRole::Planner {
            // The planner works in the repository itself: nothing to make
            // but its record.
            if !state.slices.contains_key(name) {
                state.slices.insert(
                    name.clone(),
                    SliceRecord {
                        lifecycle: Lifecycle::Ready,
                        branch: ws.plan.base.clone(),
                        worktree: ws.git.root().to_owned(),
                        worktree_name: String::new(),
                        created_by_sliceboard: false,
                        base_commit: base_tip.to_string(),
                        last_seen_tip: None,
                        approvals: Vec::new(),
                        merged: None,
                        attention: None,
                        upstream_merged: Vec::new(),
                        updated_at: Timestamp::now(),
                    },
                );
                save_state(&state_file, &state)?;
                journal.record(
                    Actor::Sliceboard,
                    Event::LifecycleChanged {
                        slice: name.clone(),
                        from: Lifecycle::Planned,
                        to: Lifecycle::Ready,
                    },
                )?;
            }
            progress(say(format!(
                "the planner works in the main worktree ({})",
                ws.git.root().display()
            )));
            report.already_there.push(name.clone());
            continue;
        }
        let branch_existed = ws.git.branch_exists(&branch);
        progress(say(if branch_existed {
            format!("checking worktree {} on branch {branch}", path.display())
        } else {
            format!(
                "creating worktree {} on new branch {branch} from {} ({})",
                path.display(),
                ws.plan.base,
                short_commit(&base_tip.to_string())
            )
        }));
        let started = Instant::now();
        let outcome = match ws.git.add_worktree(name.as_str(), &path, &branch, base_tip) {
            Ok(outcome) => outcome,
            Err(err) => {
                progress(say(format!("failed: {err}")));
                report.failed.push((name.clone(), err.to_string()));
                continue;
            }
        };
        let tip = ws.git.branch_tip(&branch)?.map(|t| t.to_string());
        let mut previous = state.slices.get(name).cloned();
        let from = previous
            .as_ref()
            .map_or(Lifecycle::Planned, |r| r.lifecycle);
        if from == Lifecycle::Cleaned {
            // Cleaned on purpose: a new start from the base, with none of
            // the old branch's approvals or merges.
            previous = None;
        }
        match outcome {
            AddOutcome::AlreadyThere => {
                report.already_there.push(name.clone());
                progress(say("already there".to_owned()));
                let known = previous
                    .as_ref()
                    .is_some_and(|r| r.lifecycle.has_worktree() && r.worktree == path);
                if known {
                    continue;
                }
            }
            AddOutcome::Created {
                branch_created,
                redone,
            } => {
                if redone {
                    progress(say(
                        "found a half-made worktree (an interrupted `up`): removed it and made it again".to_owned(),
                    ));
                    report.redone.push(name.clone());
                }
                ws.git.mark_worktree(name.as_str(), name.as_str())?;
                if branch_created {
                    report.created.push(name.clone());
                } else {
                    report.reused_branch.push(name.clone());
                }
                progress(say(format!(
                    "ready in {:.1}s{}",
                    started.elapsed().as_secs_f64(),
                    if branch_created {
                        ""
                    } else {
                        " (existing branch kept as it was)"
                    }
                )));
                journal.record(
                    Actor::Operator,
                    Event::WorktreeCreated {
                        slice: name.clone(),
                        path: path.clone(),
                        branch: branch.clone(),
                        branch_created,
                        base_commit: base_tip.to_string(),
                    },
                )?;
            }
        }
        // A new record, or one for a worktree found in place (state lost or
        // a worktree we made before): whether we made it is in git's record.
        let created_by_sliceboard =
            ws.git.worktree_mark(name.as_str()).as_deref() == Some(name.as_str());
        let to = match from {
            Lifecycle::Planned | Lifecycle::Removed | Lifecycle::Cleaned => Lifecycle::Ready,
            other => other,
        };
        let base_commit = previous
            .as_ref()
            .filter(|r| r.branch == branch)
            .map_or_else(|| base_tip.to_string(), |r| r.base_commit.clone());
        let (approvals, merged, attention, upstream_merged) = previous
            .map(|r| (r.approvals, r.merged, r.attention, r.upstream_merged))
            .unwrap_or_default();
        state.slices.insert(
            name.clone(),
            SliceRecord {
                lifecycle: to,
                branch: branch.clone(),
                worktree: path.clone(),
                worktree_name: name.to_string(),
                created_by_sliceboard,
                base_commit,
                last_seen_tip: tip,
                approvals,
                merged,
                attention,
                upstream_merged,
                updated_at: Timestamp::now(),
            },
        );
        save_state(&state_file, &state)?;
        if from != to {
            journal.record(
                Actor::Sliceboard,
                Event::LifecycleChanged {
                    slice: name.clone(),
                    from,
                    to,
                },
            )?;
        }
    }
    Ok(report)
}

/// Why `up` leaves a slice removed on purpose alone, where its commits
/// are, and what `up NAME` would start it on (`branch`, the plan's branch
/// for it: made afresh from the base, or taken as it is if someone made it
/// again).
fn left_alone(ws: &Workspace, name: &SliceName, record: &SliceRecord, branch: &str) -> String {
    let kept = ws.git.branch_exists(&record.branch) && record.branch != branch;
    let again = if ws.git.branch_exists(branch) {
        format!("`sliceboard up {name}` starts it again on the existing branch {branch}")
    } else {
        format!(
            "`sliceboard up {name}` starts it again from {}",
            ws.plan.base
        )
    };
    match record.lifecycle {
        Lifecycle::Retired => format!(
            "retired (another variant was picked; its branch is kept as {})",
            record.branch
        ),
        _ if kept => format!(
            "cleaned (its commits are kept on {}); {again}",
            record.branch
        ),
        _ => format!("cleaned; {again}"),
    }
}
