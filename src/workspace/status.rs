//! `sliceboard status`: each slice as it stands, from state and the
//! repository together. Read-only: needs no lock, so it works while another
//! sliceboard process runs.
//!
//! A running supervisor answers it from what it already holds
//! ([`status_live`]): each slice's live diff and dbt run come from its
//! board, and the worktree's uncommitted files are read only among the
//! paths that diff and the branch's commits name; without one, every
//! worktree is read whole ([`status`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Workspace, WorkspaceError, reconcile};
use crate::domain::dbt_run::DbtSummary;
use crate::domain::diff::{DiffSummary, SliceDiff};
use crate::domain::ownership::PathFlag;
use crate::domain::{Drift, Lifecycle, SliceName};
use crate::git::{Branches, DiffSource, Dirt, GitRepo};
use crate::store::{SliceRecord, load_state};

/// The version of the `status --json` document; bumped only when a field
/// changes meaning or disappears.
pub const STATUS_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct StatusReport {
    pub schema_version: u32,
    pub repository: PathBuf,
    pub base: String,
    pub integration: String,
    pub slices: Vec<SliceStatus>,
    /// Every slice's usage summed; null when none is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_total: Option<crate::domain::usage::UsageTotal>,
}

impl StatusReport {
    /// `usage_total` from the slices' usage.
    pub fn total_usage(&mut self) {
        let known: Vec<&crate::domain::usage::SliceUsage> = self
            .slices
            .iter()
            .filter_map(|s| s.usage.as_ref())
            .collect();
        self.usage_total =
            (!known.is_empty()).then(|| crate::domain::usage::UsageTotal::of(known.into_iter()));
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SliceStatus {
    pub name: SliceName,
    /// False for a slice state remembers but the plan no longer lists.
    pub in_plan: bool,
    pub state: Lifecycle,
    pub branch: String,
    pub branch_exists: bool,
    pub worktree: PathBuf,
    pub worktree_exists: bool,
    /// The base commit the slice started from.
    pub base_commit: Option<String>,
    /// The branch tip.
    pub head_commit: Option<String>,
    /// Commits on the branch that the base branch lacks.
    pub ahead: Option<usize>,
    /// Commits on the base branch that the slice lacks.
    pub behind: Option<usize>,
    /// Whether the worktree has uncommitted changes; null without a worktree.
    pub dirty: Option<bool>,
    pub changed_files: Option<usize>,
    pub untracked_files: Option<usize>,
    /// The last dbt run in the slice's worktree, read from dbt's own files;
    /// null when dbt has not run there.
    pub dbt: Option<DbtSummary>,
    /// The slice's changes (committed, staged, unstaged, untracked) against
    /// the merge base of its branch with the integration branch (what
    /// `git diff INTEGRATION...BRANCH` starts from; the base branch's when
    /// that is later); null without a worktree.
    pub diff: Option<DiffSummary>,
    /// Why the diff could not be taken, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff_error: Option<String>,
    /// Changed paths outside the slice's `owns` globs, and changed paths
    /// another slice changed too; none for a slice removed from the plan,
    /// whose changes flag no other slice either.
    pub flags: Vec<PathFlag>,
    pub problems: Vec<Problem>,
    /// Approval and merge queue; null for a slice never approved.
    pub merge: Option<MergeStatus>,
    /// The slice's agent as the running supervisor's board shows it; null
    /// when no supervisor runs (filled in by the command line).
    pub agent: Option<crate::domain::board::AgentReport>,
    /// The worktree's setup (`[worktree] setup`); null when it never ran.
    pub setup: Option<crate::domain::setup::SetupState>,
    /// What its agents used and cost, and its budget; null when no use
    /// is known.
    #[serde(default)]
    pub usage: Option<crate::domain::usage::SliceUsage>,
    /// What its agent runs in; null for a slice the plan no longer lists.
    #[serde(default)]
    pub sandbox: Option<crate::domain::sandbox::SliceBox>,
    /// The TCP ports reserved for it, by name (`[worktree] ports`).
    #[serde(default)]
    pub ports: BTreeMap<String, u16>,
}

/// Where a slice stands in the merge queue.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MergeStatus {
    /// The commit the standing approval pinned.
    pub approved_commit: Option<String>,
    pub approved_at: Option<jiff::Timestamp>,
    /// The branch moved after the approval: it will not merge.
    pub stale: bool,
    /// Place in the queue, from 1; null when not queued or when no
    /// supervisor runs to order the queue.
    pub position: Option<usize>,
    /// waiting, ready, conflicts, checking, failed, stale, merged.
    pub state: Option<String>,
    /// The state with its detail, for a person.
    pub detail: Option<String>,
    /// The merge commit on the integration branch, once merged.
    pub merged_commit: Option<String>,
    /// For a merged slice: commits its branch has that the integration
    /// branch lacks (made after it merged; approve it again to merge
    /// them). 0 while it is all merged; null when it is not merged.
    pub new_commits: Option<usize>,
    /// Paths that conflict with the integration tip.
    pub conflicts: Vec<String>,
    /// Why the last merge attempt failed.
    pub attention: Option<String>,
}

impl MergeStatus {
    /// What `state.json` and the branches say (no supervisor to ask for
    /// the queue); `new_commits` as [`MergeStatus::new_commits`].
    fn of(record: &crate::store::SliceRecord, new_commits: Option<usize>) -> Option<Self> {
        let approval = record.standing_approval();
        if approval.is_none() && record.merged.is_none() {
            return None;
        }
        let merged_commit = record.merged.as_ref().map(|m| m.commit.clone());
        let merged = merged_commit.is_some()
            && matches!(
                record.lifecycle,
                Lifecycle::Merged | Lifecycle::Removed | Lifecycle::Cleaned
            );
        let state = if merged {
            Some("merged".to_owned())
        } else if approval.is_some_and(|a| a.stale) {
            Some("stale".to_owned())
        } else {
            None
        };
        Some(Self {
            approved_commit: approval.map(|a| a.commit.clone()),
            approved_at: approval.map(|a| a.at),
            stale: approval.is_some_and(|a| a.stale),
            position: None,
            detail: match (&merged_commit, new_commits) {
                (Some(commit), Some(n)) if merged => Some(
                    crate::domain::queue::EntryState::Merged {
                        commit: commit.clone(),
                        new_commits: n,
                    }
                    .describe(),
                ),
                _ => state.clone(),
            },
            state,
            new_commits: new_commits.filter(|_| merged),
            merged_commit,
            conflicts: Vec::new(),
            attention: record.attention.as_ref().map(|a| a.reason.clone()),
        })
    }

    /// Adds what the running supervisor's queue knows.
    pub fn with_queue(mut self, view: &crate::domain::queue::MergeView) -> Self {
        self.position = view.position;
        if let Some(state) = &view.state {
            self.state = Some(state.label().to_owned());
            self.detail = Some(state.describe());
        }
        self.conflicts.clone_from(&view.conflicts);
        self
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Problem {
    #[serde(flatten)]
    pub drift: Drift,
    pub message: String,
}

/// Fills each slice's ownership and overlap flags from the diffs.
fn flag(ws: &Workspace, diffs: &[(SliceName, SliceDiff)], slices: &mut [SliceStatus]) {
    let Ok(ownership) = ws.plan.ownership() else {
        return;
    };
    let changed: Vec<(SliceName, Vec<&str>)> = diffs
        .iter()
        .map(|(name, diff)| (name.clone(), diff.paths().collect()))
        .collect();
    let mut flags = ownership.flag_changes(&changed);
    for slice in slices.iter_mut() {
        slice.flags = flags.remove(&slice.name).unwrap_or_default();
    }
}

/// For a merged slice, the commits its branch has that the integration
/// branch lacks.
fn new_commits(
    ws: &Workspace,
    record: &crate::store::SliceRecord,
    tip: Option<crate::git::Oid>,
) -> Option<usize> {
    record.merged.as_ref()?;
    let integration = ws.git.branch_tip(&ws.plan.integration).ok()??;
    match tip {
        Some(tip) => ws.git.ahead_behind(tip, integration).ok().map(|(a, _)| a),
        None => Some(0),
    }
}

pub fn status(ws: &Workspace) -> Result<StatusReport, WorkspaceError> {
    status_with(ws, None)
}

/// What a running supervisor holds for a slice, so `status` does not
/// read it again.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The live diff; `None` until the first one is read.
    pub diff: Option<Arc<SliceDiff>>,
    pub diff_error: Option<String>,
    /// The slice's last dbt run, as the follower read it.
    pub dbt: Option<crate::domain::dbt_run::DbtRun>,
}

/// [`status`] from what a running supervisor holds: each slice's live
/// diff and dbt run are taken as they are, and its worktree's uncommitted
/// files are read only among the paths that can differ from HEAD.
pub fn status_live(
    ws: &Workspace,
    live: &BTreeMap<SliceName, Live>,
    open: &crate::git::OpenWorktrees,
) -> Result<StatusReport, WorkspaceError> {
    status_with(ws, Some((live, open)))
}

/// The uncommitted files of the worktree at `worktree`, whose live diff
/// against its base is `diff`: a file can differ from HEAD only where it
/// differs from that base, or where the commits since changed it, so only
/// those paths are read. With `skipped`, untracked files in the folders
/// live diffs leave out are counted too (an approval; `status` leaves them
/// out, as its diff does). A diff without a base, or a base the
/// repository cannot compare, reads the whole worktree.
pub fn dirt_from_live(
    worktree: &Path,
    diff: &SliceDiff,
    open: &crate::git::OpenWorktrees,
    skipped: bool,
) -> Result<Dirt, String> {
    let whole = || GitRepo::dirt(worktree).map_err(|e| e.to_string());
    let base = diff
        .base
        .as_deref()
        .and_then(|b| crate::git::Oid::from_str(b).ok());
    let Some(base) = base else {
        return whole();
    };
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for file in &diff.files {
        paths.insert(file.path.clone());
        paths.extend(file.old_path.clone());
    }
    let Ok(mut dirt) = GitRepo::dirt_since(worktree, base, &paths, open) else {
        return whole();
    };
    if skipped {
        dirt.untracked +=
            GitRepo::untracked_in_skipped(worktree, open).map_err(|e| e.to_string())?;
    }
    Ok(dirt)
}

fn status_with(
    ws: &Workspace,
    live: Option<(&BTreeMap<SliceName, Live>, &crate::git::OpenWorktrees)>,
) -> Result<StatusReport, WorkspaceError> {
    let state = load_state(&ws.state_dir.state_file())?;
    let repo = crate::domain::plan::repo_name(ws.git.root());
    let read = if live.is_some() {
        BTreeMap::new()
    } else {
        let mut work = Vec::new();
        for spec in &ws.plan.slices {
            let record = state.slices.get(&spec.name);
            let worktree = record.map_or_else(
                || ws.plan.worktree_for(&spec.name, ws.git.root()),
                |r| r.worktree.clone(),
            );
            let lifecycle = record.map_or(Lifecycle::Planned, |r| r.lifecycle);
            if worktree.join(".git").exists() {
                work.push((
                    spec.name.clone(),
                    worktree,
                    lifecycle.has_worktree(),
                    record.map(|r| r.base_commit.clone()),
                ));
            }
        }
        for (name, record) in &state.slices {
            if ws.plan.slice(name.as_str()).is_none() && record.worktree.join(".git").exists() {
                work.push((
                    name.clone(),
                    record.worktree.clone(),
                    record.lifecycle.has_worktree(),
                    Some(record.base_commit.clone()),
                ));
            }
        }
        read_worktrees(&ws.plan, &repo, work)
    };
    let mut look = Look {
        ws,
        drift: reconcile(ws, &state),
        base_tip: ws.git.branch_tip(&ws.plan.base)?,
        repo,
        read,
        live: live.map(|(live, _)| live),
        open: live.map(|(_, open)| open),
    };
    let mut names: Vec<(SliceName, bool)> = ws
        .plan
        .slices
        .iter()
        .map(|s| (s.name.clone(), true))
        .collect();
    for name in state.slices.keys() {
        if ws.plan.slice(name.as_str()).is_none() {
            names.push((name.clone(), false));
        }
    }
    let mut slices = Vec::with_capacity(names.len());
    // Each slice's whole diff, for the flags.
    let mut diffs = Vec::new();
    for (name, in_plan) in names {
        let record = state.slices.get(&name);
        let (status, diff) = look.slice(name, in_plan, record)?;
        // A slice removed from the plan owns nothing and will not merge:
        // no flags of its own, none on others.
        if let Some(diff) = diff.filter(|_| in_plan) {
            diffs.push((status.name.clone(), diff));
        }
        slices.push(status);
    }
    flag(ws, &diffs, &mut slices);
    Ok(StatusReport {
        schema_version: STATUS_SCHEMA_VERSION,
        repository: ws.git.root().to_owned(),
        base: ws.plan.base.clone(),
        integration: ws.plan.integration.clone(),
        slices,
        usage_total: None,
    })
}

/// What every slice's status is read against.
struct Look<'a> {
    ws: &'a Workspace,
    drift: Vec<(SliceName, Drift)>,
    base_tip: Option<crate::git::Oid>,
    repo: String,
    /// What a running supervisor holds, by slice.
    live: Option<&'a BTreeMap<SliceName, Live>>,
    /// The worktrees it keeps open, with `live`.
    open: Option<&'a crate::git::OpenWorktrees>,
    /// For the commits' changed paths, with `live`.
    /// Without `live`: each worktree read whole, all of them at once
    /// before the slices are put together.
    read: BTreeMap<SliceName, WorktreeRead>,
}

/// What reading one worktree whole found.
#[derive(Default)]
struct WorktreeRead {
    dirt: Option<Dirt>,
    dbt: Option<DbtSummary>,
    diff: Option<SliceDiff>,
    diff_error: Option<String>,
}

/// Reads every listed worktree whole (its uncommitted files, its last dbt
/// run, its whole diff), as many at once as there are cores: each one
/// opens its own repository, so they share nothing.
fn read_worktrees(
    plan: &crate::domain::Plan,
    repo: &str,
    work: Vec<(SliceName, PathBuf, bool, Option<String>)>,
) -> BTreeMap<SliceName, WorktreeRead> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(work.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let found = std::sync::Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((name, worktree, checked_out, base)) = work.get(i) else {
                        return;
                    };
                    let read =
                        read_worktree(plan, repo, name, worktree, *checked_out, base.as_deref());
                    found
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(name.clone(), read);
                }
            });
        }
    });
    found
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read_worktree(
    plan: &crate::domain::Plan,
    repo: &str,
    name: &SliceName,
    worktree: &Path,
    checked_out: bool,
    base: Option<&str>,
) -> WorktreeRead {
    let status = checked_out
        .then(|| GitRepo::dirt_and_paths(worktree).ok())
        .flatten();
    let dbt = dbt_of(plan, repo, name, worktree);
    let uncommitted = status.as_ref().map(|(_, paths)| paths);
    let dirt = status.as_ref().map(|(dirt, _)| *dirt);
    let (diff, diff_error) = match checked_out.then(|| diff_of(plan, worktree, base, uncommitted)) {
        Some(Ok(diff)) => (Some(diff), None),
        Some(Err(err)) => (None, Some(err)),
        None => (None, None),
    };
    WorktreeRead {
        dirt,
        dbt,
        diff,
        diff_error,
    }
}

impl Look<'_> {
    /// One slice as it stands, with its whole diff when it has a worktree.
    fn slice(
        &mut self,
        name: SliceName,
        in_plan: bool,
        record: Option<&SliceRecord>,
    ) -> Result<(SliceStatus, Option<SliceDiff>), WorkspaceError> {
        let ws = self.ws;
        let branch = record.map_or_else(
            || ws.plan.branch_for(&name, &self.repo),
            |r| r.branch.clone(),
        );
        let worktree = record.map_or_else(
            || ws.plan.worktree_for(&name, ws.git.root()),
            |r| r.worktree.clone(),
        );
        let state = record.map_or(Lifecycle::Planned, |r| r.lifecycle);
        let tip = ws.git.branch_tip(&branch)?;
        let (ahead, behind) = match (tip, self.base_tip) {
            (Some(tip), Some(base)) => {
                let (a, b) = ws.git.ahead_behind(tip, base)?;
                (Some(a), Some(b))
            }
            _ => (None, None),
        };
        let worktree_exists = worktree.join(".git").exists();
        let checked_out = worktree_exists && state.has_worktree();
        // The supervisor's live diff, once it has read one.
        let live = self
            .live
            .and_then(|l| l.get(&name))
            .filter(|l| checked_out && l.diff.is_some());
        let (dirt, dbt, diff, diff_error) = match live {
            Some(live) => {
                let diff = live.diff.as_deref().cloned();
                let dirt = diff
                    .as_ref()
                    .and_then(|d| self.dirt_among(&worktree, d).ok());
                let dbt = live.dbt.clone().map(|run| self.dbt_summary(&name, run));
                (dirt, dbt, diff, live.diff_error.clone())
            }
            None => {
                let read = match self.read.remove(&name) {
                    Some(read) => read,
                    // A supervisor whose live diff of it is not read yet.
                    None if worktree_exists && self.live.is_some() => read_worktree(
                        &ws.plan,
                        &self.repo,
                        &name,
                        &worktree,
                        checked_out,
                        record.map(|r| r.base_commit.as_str()),
                    ),
                    None => WorktreeRead::default(),
                };
                (read.dirt, read.dbt, read.diff, read.diff_error)
            }
        };
        let problems = self
            .drift
            .iter()
            .filter(|(slice, _)| *slice == name)
            .map(|(slice, d)| Problem {
                drift: d.clone(),
                message: d.describe(slice),
            })
            .collect();
        let status = SliceStatus {
            in_plan,
            state,
            branch_exists: tip.is_some(),
            branch,
            worktree,
            worktree_exists,
            base_commit: record.map(|r| r.base_commit.clone()),
            head_commit: tip.map(|t| t.to_string()),
            ahead,
            behind,
            dirty: dirt.map(|d| !d.is_clean()),
            changed_files: dirt.map(|d| d.changed),
            untracked_files: dirt.map(|d| d.untracked),
            dbt,
            diff: diff.as_ref().map(SliceDiff::summary),
            diff_error,
            flags: Vec::new(),
            problems,
            merge: record.and_then(|r| MergeStatus::of(r, new_commits(ws, r, tip))),
            agent: None,
            setup: super::setup_state(ws, &name),
            usage: None,
            sandbox: ws
                .plan
                .slice(name.as_str())
                .map(|spec| ws.plan.box_for(spec)),
            ports: record.map(|r| r.ports.clone()).unwrap_or_default(),
            name,
        };
        Ok((status, diff))
    }

    /// The uncommitted files of a worktree whose live diff is `diff`.
    fn dirt_among(&self, worktree: &Path, diff: &SliceDiff) -> Result<Dirt, String> {
        match self.open {
            Some(open) => dirt_from_live(worktree, diff, open, false),
            None => GitRepo::dirt(worktree).map_err(|e| e.to_string()),
        }
    }

    /// A slice's dbt run, summed up for `status`.
    fn dbt_summary(&self, name: &SliceName, run: crate::domain::dbt_run::DbtRun) -> DbtSummary {
        dbt_summary(&self.ws.plan, &self.repo, name, run)
    }
}

/// A slice's dbt run, summed up for `status`.
fn dbt_summary(
    plan: &crate::domain::Plan,
    repo: &str,
    name: &SliceName,
    mut run: crate::domain::dbt_run::DbtRun,
) -> DbtSummary {
    if let Ok(ownership) = plan.ownership() {
        run.attribute(&ownership);
    }
    let mut summary = DbtSummary::of(&run);
    summary.owned_elsewhere = run
        .owned_elsewhere(name)
        .into_iter()
        .map(|(slice, nodes)| crate::domain::dbt_run::OwnedNodes { slice, nodes })
        .collect();
    // A text log names the target only when given --target; otherwise
    // the profile used the slice's own.
    if summary.source == crate::domain::dbt_run::RunSource::TextLog {
        summary
            .target
            .get_or_insert_with(|| plan.dbt_target_for(name, repo));
    }
    // dbt's default schema may get a suffix (custom schemas), never
    // another prefix.
    let own = plan.dbt_schema_for(name, repo);
    if let Some(schema) = summary.schema.as_deref().filter(|s| !s.starts_with(&own)) {
        summary.elsewhere = Some(format!(
            "built into {}{schema}, not the slice's schema {own}: run without the slice's environment (`eval \"$(sliceboard env {name})\"`)",
            summary
                .database
                .as_deref()
                .map_or_else(String::new, |d| format!("{d}."))
        ));
    }
    summary
}

/// The slice's last dbt run in its worktree, summed up.
fn dbt_of(
    plan: &crate::domain::Plan,
    repo: &str,
    name: &SliceName,
    worktree: &Path,
) -> Option<DbtSummary> {
    let mut watch = crate::dbt::DbtWatch::new(&worktree.join(&plan.dbt.project_dir))
        .with_prefix(&plan.dbt.project_dir);
    watch.poll();
    let run = watch.last_run()?;
    Some(dbt_summary(plan, repo, name, run))
}

/// The slice's whole diff, as the dashboard shows it.
/// The worktree's whole diff; with what its status found `uncommitted`,
/// only those paths and what its commits changed are read.
fn diff_of(
    plan: &crate::domain::Plan,
    worktree: &Path,
    base: Option<&str>,
    uncommitted: Option<&BTreeSet<String>>,
) -> Result<SliceDiff, String> {
    DiffSource::open(
        worktree,
        Branches {
            base: &plan.base,
            integration: &plan.integration,
        },
        base,
        false,
    )
    .and_then(|source| match uncommitted {
        Some(paths) => source.full_among(paths),
        None => source.full(),
    })
    .map_err(|err| err.to_string())
}
