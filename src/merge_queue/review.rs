//! Approving and withdrawing: an approval pins the branch's tip, and is
//! refused (unless forced) while something deserves a second look: paths
//! changed outside the slice or shared with another slice, a dbt run that
//! failed, is still running, never ran, or ran before the commit's files
//! last changed, or a slice it comes after that is neither approved nor
//! merged. The reasons come back one per line.

use std::path::Path;

use jiff::Timestamp;

use crate::domain::dbt_run::{DbtRun, DbtSummary, RunStatus};
use crate::domain::queue::{ApprovalFacts, DbtVerdict, approval_concerns, concerns_refusal};
use crate::domain::{Lifecycle, SliceName};
use crate::git::Oid;
use crate::store::SliceRecord;

use super::MergeQueue;

impl MergeQueue {
    pub(super) fn approve(&mut self, slice: &SliceName, force: bool) -> Result<String, String> {
        if let Some(going) = self.going(slice) {
            return Err(format!("cannot approve {slice}: {going}"));
        }
        if self.ws.plan.is_planner(slice) {
            return Err(format!(
                "{slice} is the planner: its work is the plan in the main worktree, which never goes through the merge queue; commit sliceboard.toml yourself"
            ));
        }
        let concerns = self.concerns(slice)?;
        if !concerns.is_empty() && !force {
            return Err(concerns_refusal(slice, &concerns));
        }
        let (commit, events) = crate::workspace::approve(
            &self.ws,
            &self.deps.state,
            slice,
            concerns,
            false,
            &*self.deps.dirt,
        )
        .map_err(|e| e.to_string())?;
        events.into_iter().for_each(|e| (self.deps.report)(e));
        self.refresh();
        let position = self
            .shown
            .as_ref()
            .and_then(|b| b.slices.get(slice))
            .and_then(|v| v.position)
            .map(|p| format!("; queue position {p}"))
            .unwrap_or_default();
        Ok(format!(
            "approved {slice} at {}{position}",
            crate::domain::short_commit(&commit)
        ))
    }

    pub(super) fn withdraw(&mut self, slice: &SliceName) -> Result<String, String> {
        let events =
            crate::workspace::withdraw(&self.deps.state, slice).map_err(|e| e.to_string())?;
        events.into_iter().for_each(|e| (self.deps.report)(e));
        Ok(format!(
            "withdrew {} approval",
            crate::domain::possessive(slice)
        ))
    }

    /// What approving `slice` now should make the operator look at.
    pub(super) fn concerns(&mut self, slice: &SliceName) -> Result<Vec<String>, String> {
        let board = (self.deps.board)();
        self.concerns_on(slice, &board)
    }

    /// [`Self::concerns`] with the hub's board already taken.
    pub(super) fn concerns_on(
        &mut self,
        slice: &SliceName,
        board: &crate::domain::board::Board,
    ) -> Result<Vec<String>, String> {
        self.ws.slice(slice.as_str()).map_err(|e| e.to_string())?;
        let state = self.state();
        let record = state.slices.get(slice).ok_or_else(|| {
            format!("cannot approve {slice}: it has no worktree yet; run `sliceboard up {slice}`")
        })?;
        let row = board.row(slice);
        let flags = row.map(|r| r.flags.clone()).unwrap_or_default();
        let dbt = self.dbt_verdict(record, row.and_then(|r| r.dbt.clone()));
        let upstream = self
            .ws
            .plan
            .slice(slice.as_str())
            .map(|spec| {
                spec.after
                    .iter()
                    .map(|dep| {
                        // Merged, then its worktree removed: still merged.
                        let lifecycle = state.slices.get(dep).map_or(Lifecycle::Planned, |r| {
                            if r.clears_the_way() && !r.lifecycle.clears_the_way() {
                                Lifecycle::Merged
                            } else {
                                r.lifecycle
                            }
                        });
                        (dep.clone(), lifecycle)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(approval_concerns(&ApprovalFacts {
            flags: &flags,
            dbt,
            upstream,
            unsent_comments: row.map_or(0, |r| r.review.comments.len()),
        }))
    }

    /// The last dbt run's verdict on the slice's current commit; `None`
    /// when the worktree has no dbt project.
    fn dbt_verdict(&self, record: &SliceRecord, shown: Option<DbtRun>) -> Option<DbtVerdict> {
        let project =
            crate::domain::plan::normalize(&record.worktree.join(&self.ws.plan.dbt.project_dir));
        if !project.join("dbt_project.yml").is_file() {
            return None;
        }
        let Some(run) = shown.or_else(|| crate::dbt::last_run(&project)) else {
            return Some(DbtVerdict::NeverRan);
        };
        match run.status {
            RunStatus::Running => return Some(DbtVerdict::StillRunning),
            RunStatus::Failed | RunStatus::Error | RunStatus::Interrupted | RunStatus::Aborted => {
                return Some(DbtVerdict::Failed {
                    summary: DbtSummary::of(&run).describe(),
                });
            }
            RunStatus::Success => {}
        }
        let started = run
            .started_at
            .as_deref()
            .and_then(|s| s.parse::<Timestamp>().ok());
        match (started, self.newest_change(record)) {
            (Some(started), Some((path, changed))) if changed > started => {
                Some(DbtVerdict::Outdated { newest: path })
            }
            _ => Some(DbtVerdict::Passed),
        }
    }

    /// The slice's most recently modified changed file, and when: its own
    /// changes only, from its merge base with the integration branch, so
    /// files an upstream merge brought in are not taken for its own.
    fn newest_change(&self, record: &SliceRecord) -> Option<(String, Timestamp)> {
        let tip = self.engine.tip(&record.branch).ok()??;
        let base = Oid::from_str(&record.base_commit).ok()?;
        let integration = self.engine.tip(&self.ws.plan.integration).ok().flatten();
        let bases = [integration, Some(base)]
            .into_iter()
            .flatten()
            .filter_map(|other| self.engine.merge_base(other, tip).ok().flatten());
        let from = crate::git::latest(self.engine.raw(), bases)?;
        let paths = self.engine.changed_paths(from, tip).ok()?;
        paths
            .into_iter()
            .filter_map(|path| {
                let modified = modified(&record.worktree.join(&path))?;
                Some((path, modified))
            })
            .max_by_key(|(_, at)| *at)
    }
}

fn modified(path: &Path) -> Option<Timestamp> {
    let time = std::fs::metadata(path).ok()?.modified().ok()?;
    Timestamp::try_from(time).ok()
}
