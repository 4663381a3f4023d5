//! `sliceboard up`: create the missing worktrees and branches.
//!
//! Idempotent: what already exists is left exactly as it is (an existing
//! branch is checked out as it is, never reset), and a run with nothing to
//! do writes nothing. State is saved after each slice, so an interrupted run
//! keeps what it finished.
//!
//! In phases: what state says is reconciled with the repository (drift
//! journaled, stale worktree records pruned), the integration branch made
//! if missing, then each slice's turn: left alone when gone on purpose,
//! else its brief written; then the worktrees made, as many at once as
//! there are cores, each recorded as it is done through the
//! [`StateStore`] (never held while git works), which journals what
//! happened. Touches no agent and no terminal.

use std::path::PathBuf;
use std::time::Instant;

use jiff::Timestamp;

use super::{Progress, Workspace, WorkspaceError, reconcile};
use crate::domain::plan::SliceRole;
use crate::domain::{Drift, Event, Lifecycle, SliceName, SliceSpec, short_commit};
use crate::git::{AddOutcome, Oid};
use crate::store::{Entry, SliceRecord, StateStore};

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
    /// What this run journaled, in order.
    pub events: Vec<Event>,
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

/// Creates worktrees for `names` (all slices when empty), changing the
/// state through `state` (and so under its lock).
pub fn up(
    ws: &Workspace,
    state: &StateStore,
    names: &[String],
    progress: &mut dyn FnMut(Progress),
) -> Result<UpReport, WorkspaceError> {
    let mut report = UpReport::default();
    up_into(ws, state, names, progress, &mut report).map(|()| report)
}

/// [`up`], filling `report` as it goes: what was done and journaled
/// before an error stays in it, so a supervisor still tells its board.
pub fn up_into(
    ws: &Workspace,
    state: &StateStore,
    names: &[String],
    progress: &mut dyn FnMut(Progress),
    report: &mut UpReport,
) -> Result<(), WorkspaceError> {
    let selected = ws.select(names)?;
    reconcile_and_prune(ws, state, report)?;
    let base_tip = base_and_integration(ws, report)?;
    let repo = crate::domain::plan::repo_name(ws.git.root());
    let total = selected.len();
    let mut adds = Vec::new();
    for (i, slice) in selected.into_iter().enumerate() {
        let turn = Turn {
            ws,
            state,
            slice,
            path: ws.plan.worktree_for(&slice.name, ws.git.root()),
            branch: ws.plan.branch_for(&slice.name, &repo),
            base_tip,
            step: i + 1,
            total,
        };
        if turn.prepare(names, report, progress)? {
            adds.push(turn);
        }
    }
    add_worktrees(ws, &adds, report, progress)
}

/// Makes the worktrees of `turns`, as many at once as there are cores
/// (each a checkout of the whole tree, disk and CPU bound: on a large
/// repository, seconds each), every thread with its own repository.
/// Each is recorded as it is done, in the order they finish; the state
/// is saved after each, so an interrupted run keeps what it finished.
fn add_worktrees(
    ws: &Workspace,
    turns: &[Turn<'_>],
    report: &mut UpReport,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), WorkspaceError> {
    for turn in turns {
        progress(turn.say(turn.announce()));
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(2, 8)
        .min(turns.len());
    // What each thread needs, apart from the workspace (whose repository
    // is this thread's).
    let jobs: Vec<(&str, &std::path::Path, &str, Oid)> = turns
        .iter()
        .map(|t| {
            (
                t.name().as_str(),
                t.path.as_path(),
                t.branch.as_str(),
                t.base_tip,
            )
        })
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (done, finished) = std::sync::mpsc::channel();
    let root = ws.git.root();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let done = done.clone();
            let (next, jobs) = (&next, &jobs);
            scope.spawn(move || {
                let git = crate::git::GitRepo::discover(root);
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(name, path, branch, base)) = jobs.get(i) else {
                        return;
                    };
                    let started = Instant::now();
                    let outcome = git.as_ref().map_err(ToString::to_string).and_then(|git| {
                        git.add_worktree(name, path, branch, base)
                            .map_err(|err| err.to_string())
                    });
                    if done.send((i, outcome, started)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done);
        // Every worktree made is recorded, even after one failed to be.
        let mut failed = Ok(());
        for (i, outcome, started) in finished {
            let recorded = turns[i].finish(outcome, started, report, progress);
            if failed.is_ok() {
                failed = recorded;
            }
        }
        failed
    })
}

/// What state says that the repository does not (journaled), and git's
/// stale worktree records pruned.
fn reconcile_and_prune(
    ws: &Workspace,
    state: &StateStore,
    report: &mut UpReport,
) -> Result<(), WorkspaceError> {
    report.drift = state.read(|state| reconcile(ws, state));
    let drift = report
        .drift
        .iter()
        .map(|(slice, drift)| {
            Entry::sliceboard(Event::DriftFound {
                slice: slice.clone(),
                drift: drift.clone(),
            })
        })
        .collect();
    report.events.extend(state.update(|_| drift)?);
    report.pruned = ws.git.prune_stale()?;
    if !report.pruned.is_empty() {
        let pruned = Entry::sliceboard(Event::WorktreesPruned {
            names: report.pruned.clone(),
        });
        report.events.extend(state.update(|_| vec![pruned])?);
    }
    Ok(())
}

/// The base branch's tip, with the integration branch made from it when
/// it does not exist yet.
fn base_and_integration(ws: &Workspace, report: &mut UpReport) -> Result<Oid, WorkspaceError> {
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
    Ok(base_tip)
}

/// One slice's turn in `up`: where its worktree and branch go, and its
/// place among the steps.
struct Turn<'a> {
    ws: &'a Workspace,
    state: &'a StateStore,
    slice: &'a SliceSpec,
    path: PathBuf,
    branch: String,
    base_tip: Oid,
    step: usize,
    total: usize,
}

impl Turn<'_> {
    fn name(&self) -> &SliceName {
        &self.slice.name
    }

    fn say(&self, message: String) -> Progress {
        Progress {
            step: self.step,
            total: self.total,
            slice: Some(self.name().clone()),
            message,
        }
    }

    /// Leaves a slice gone on purpose alone, or records the planner, or
    /// writes the brief: true when its worktree is to be made.
    fn prepare(
        &self,
        names: &[String],
        report: &mut UpReport,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<bool, WorkspaceError> {
        if self.left_alone(names, report, progress) {
            return Ok(false);
        }
        self.ws.write_brief(self.slice)?;
        if self.slice.role == SliceRole::Planner {
            self.record_planner(report, progress)?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Records what making the worktree came to: a refusal, or the
    /// worktree counted and the slice's record changed.
    fn finish(
        &self,
        outcome: Result<AddOutcome, String>,
        started: Instant,
        report: &mut UpReport,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), WorkspaceError> {
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(err) => {
                progress(self.say(format!("failed: {err}")));
                report.failed.push((self.name().clone(), err));
                return Ok(());
            }
        };
        let created = self.count(outcome, started, report, progress)?;
        self.record(outcome, created, report)
    }

    /// Cleaned or retired on purpose: a retired variant stays so, a
    /// cleaned slice starts again only when named. True when left alone.
    fn left_alone(
        &self,
        names: &[String],
        report: &mut UpReport,
        progress: &mut dyn FnMut(Progress),
    ) -> bool {
        let name = self.name();
        let gone = self.state.read(|state| {
            state
                .slices
                .get(name)
                .filter(|r| r.lifecycle.gone_on_purpose())
                .filter(|r| r.lifecycle == Lifecycle::Retired || names.is_empty())
                .cloned()
        });
        let Some(gone) = gone else {
            return false;
        };
        progress(self.say(left_alone(self.ws, name, &gone, &self.branch)));
        match gone.lifecycle {
            Lifecycle::Retired => report.retired.push(name.clone()),
            _ => report.cleaned.push(name.clone()),
        }
        true
    }

    /// The planner works in the repository itself: nothing to make but
    /// its record.
    fn record_planner(
        &self,
        report: &mut UpReport,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), WorkspaceError> {
        let (ws, name) = (self.ws, self.name());
        let events = self.state.update(|state| {
            if state.slices.contains_key(name) {
                return Vec::new();
            }
            state.slices.insert(
                name.clone(),
                SliceRecord {
                    lifecycle: Lifecycle::Ready,
                    branch: ws.plan.base.clone(),
                    worktree: ws.git.root().to_owned(),
                    worktree_name: String::new(),
                    created_by_sliceboard: false,
                    base_commit: self.base_tip.to_string(),
                    last_seen_tip: None,
                    approvals: Vec::new(),
                    merged: None,
                    attention: None,
                    upstream_merged: Vec::new(),
                    ports: std::collections::BTreeMap::new(),
                    updated_at: Timestamp::now(),
                },
            );
            vec![Entry::sliceboard(Event::LifecycleChanged {
                slice: name.clone(),
                from: Lifecycle::Planned,
                to: Lifecycle::Ready,
            })]
        })?;
        report.events.extend(events);
        progress(self.say(format!(
            "the planner works in the main worktree ({})",
            ws.git.root().display()
        )));
        report.already_there.push(name.clone());
        Ok(())
    }

    /// What making its worktree will do, for the progress line.
    fn announce(&self) -> String {
        let (ws, branch) = (self.ws, &self.branch);
        if ws.git.branch_exists(branch) {
            format!(
                "checking worktree {} on branch {branch}",
                self.path.display()
            )
        } else {
            format!(
                "creating worktree {} on new branch {branch} from {} ({})",
                self.path.display(),
                ws.plan.base,
                short_commit(&self.base_tip.to_string())
            )
        }
    }

    /// Counts the worktree in the report and says how it went; a new one
    /// is marked as sliceboard's. Returns the journal's word on a new one.
    fn count(
        &self,
        outcome: AddOutcome,
        started: Instant,
        report: &mut UpReport,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Option<Entry>, WorkspaceError> {
        let name = self.name();
        let AddOutcome::Created {
            branch_created,
            redone,
        } = outcome
        else {
            report.already_there.push(name.clone());
            progress(self.say("already there".to_owned()));
            return Ok(None);
        };
        if redone {
            progress(self.say(
                "found a half-made worktree (an interrupted `up`): removed it and made it again"
                    .to_owned(),
            ));
            report.redone.push(name.clone());
        }
        if branch_created {
            report.created.push(name.clone());
        } else {
            report.reused_branch.push(name.clone());
        }
        progress(self.say(format!(
            "ready in {:.1}s{}",
            started.elapsed().as_secs_f64(),
            if branch_created {
                ""
            } else {
                " (existing branch kept as it was)"
            }
        )));
        Ok(Some(Entry::operator(Event::WorktreeCreated {
            slice: name.clone(),
            path: self.path.clone(),
            branch: self.branch.clone(),
            branch_created,
            base_commit: self.base_tip.to_string(),
        })))
    }

    /// The slice's record for its worktree: a new one, or one for a
    /// worktree found in place (state lost, or a worktree we made before).
    fn record(
        &self,
        outcome: AddOutcome,
        created: Option<Entry>,
        report: &mut UpReport,
    ) -> Result<(), WorkspaceError> {
        let (ws, name) = (self.ws, self.name());
        let tip = ws.git.branch_tip(&self.branch)?.map(|t| t.to_string());
        // Whether we made it is in git's record.
        let created_by_sliceboard =
            ws.git.worktree_mark(name.as_str()).as_deref() == Some(name.as_str());
        let events = self.state.update(|state| {
            let mut previous = state.slices.get(name).cloned();
            let from = previous
                .as_ref()
                .map_or(Lifecycle::Planned, |r| r.lifecycle);
            if from == Lifecycle::Cleaned {
                // Cleaned on purpose: a new start from the base, with none
                // of the old branch's approvals or merges.
                previous = None;
            }
            let known = previous
                .as_ref()
                .is_some_and(|r| r.lifecycle.has_worktree() && r.worktree == self.path);
            if outcome == AddOutcome::AlreadyThere && known {
                return super::ports::fill(&ws.plan.ports, name, state)
                    .into_iter()
                    .collect();
            }
            let to = match from {
                Lifecycle::Planned | Lifecycle::Removed | Lifecycle::Cleaned => Lifecycle::Ready,
                other => other,
            };
            let base_commit = previous
                .as_ref()
                .filter(|r| r.branch == self.branch)
                .map_or_else(|| self.base_tip.to_string(), |r| r.base_commit.clone());
            let (approvals, merged, attention, upstream_merged, ports) = previous
                .map(|r| {
                    (
                        r.approvals,
                        r.merged,
                        r.attention,
                        r.upstream_merged,
                        r.ports,
                    )
                })
                .unwrap_or_default();
            state.slices.insert(
                name.clone(),
                SliceRecord {
                    lifecycle: to,
                    branch: self.branch.clone(),
                    worktree: self.path.clone(),
                    worktree_name: name.to_string(),
                    created_by_sliceboard,
                    base_commit,
                    last_seen_tip: tip,
                    approvals,
                    merged,
                    attention,
                    upstream_merged,
                    ports,
                    updated_at: Timestamp::now(),
                },
            );
            let ports = super::ports::fill(&ws.plan.ports, name, state);
            let changed = (from != to).then(|| {
                Entry::sliceboard(Event::LifecycleChanged {
                    slice: name.clone(),
                    from,
                    to,
                })
            });
            created.into_iter().chain(changed).chain(ports).collect()
        })?;
        report.events.extend(events);
        Ok(())
    }
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
