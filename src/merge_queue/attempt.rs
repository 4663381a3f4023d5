//! One merge attempt, from the approved commit to the integration branch:
//!
//! 1. the approval must stand (branch still at the approved commit), every
//!    slice it comes after must have merged, and any worktree that has the
//!    integration branch checked out must be clean;
//! 2. the merge commit (parents: the integration tip, the approved commit)
//!    is made in memory by the same engine the previews use; a conflict
//!    ends the attempt with its paths;
//! 3. with a `[merge] check`, the integration worktree (detached, owned by
//!    sliceboard, reset for every attempt) is put at the merge commit and
//!    the check runs there in the integration slice's environment, its
//!    output kept in `merge/attempt-N.log` and shown live (`check`);
//! 4. only then does the branch move, by compare-and-swap from the tip the
//!    attempt started on; a branch that moved meanwhile is a lost race and
//!    the attempt is made again on the new tip;
//! 5. a worktree with the branch checked out is brought along (git's own
//!    two-tree `read-tree -m -u`, which refuses to overwrite changes).
//!
//! `merge/attempt.json` exists exactly while an attempt runs. A supervisor
//! killed at any moment leaves the branch at its old tip or at the checked
//! merge commit; the next one finds the file, stops a check left running,
//! finishes the bookkeeping of a merge that landed or records the attempt
//! as interrupted, and resets the integration worktree.
//!
//! Owns the attempt file, the merge commit, the CAS and the record of a
//! merge (through the supervisor's `StateStore`); the check's process
//! belongs to `check`, the queue's order to `refresh`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::queue::EntryState;
use crate::domain::{Event, Lifecycle, MergeWhich, SliceName};
use crate::git::{GitRepo, Made, MoveError, Oid};
use crate::os::process_group;
use crate::store::{Actor, Attention, Entry, MergeRecord, write_atomic};

use super::check::CHECK_GRACE;
use super::{Ended, MergeQueue};

/// The attempt in progress, as `merge/attempt.json` records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptFile {
    pub number: u64,
    pub slice: SliceName,
    pub approved: String,
    /// The tip the merge is made on.
    pub onto: String,
    /// The integration tip the branch must still be at (`None`: the
    /// branch does not exist yet and is created).
    pub expected: Option<String>,
    pub merge_commit: Option<String>,
    /// The check's process group, while it runs.
    pub check_pid: Option<i32>,
    /// When that process started (so a reused pid is never taken for it).
    #[serde(default)]
    pub check_started: Option<u64>,
    pub started: Timestamp,
    /// A batch (`[merge] batch`): every slice merged in this attempt, in
    /// order, each with its own merge commit on the one before;
    /// `merge_commit` is the last one's. Empty for one slice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batch: Vec<BatchMember>,
}

/// One slice of a batch: its approved commit and the merge commit made
/// for it on the one before (the first on the attempt's `onto`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchMember {
    pub slice: SliceName,
    pub approved: String,
    pub merge_commit: String,
}

impl MergeQueue {
    /// Which slice a merge job takes next, or why none.
    pub(super) fn pick(&self, which: &MergeWhich) -> Result<SliceName, String> {
        let board = self.shown.clone().unwrap_or_default();
        let state_of = |slice: &SliceName| board.slices.get(slice).and_then(|v| v.state.clone());
        match which {
            MergeWhich::Head | MergeWhich::All => board
                .order
                .iter()
                .find(|s| state_of(s) == Some(EntryState::Ready))
                .cloned()
                .ok_or_else(|| {
                    if board.order.is_empty() {
                        "nothing to merge: no slice is approved".to_owned()
                    } else {
                        let states: Vec<String> = board
                            .order
                            .iter()
                            .filter_map(|s| state_of(s).map(|st| format!("{s} {}", st.describe())))
                            .collect();
                        format!("no slice is ready to merge ({})", states.join("; "))
                    }
                }),
            MergeWhich::One { slice } => match state_of(slice) {
                Some(
                    EntryState::Ready | EntryState::Failed { .. } | EntryState::Conflicts { .. },
                ) => Ok(slice.clone()),
                Some(EntryState::Merged {
                    commit,
                    new_commits: 0,
                }) => Err(format!(
                    "{slice} already merged in {}",
                    crate::domain::short_commit(&commit)
                )),
                Some(merged @ EntryState::Merged { .. }) => {
                    Err(format!("{slice} is {}", merged.describe()))
                }
                Some(other) => Err(format!("{slice} cannot merge now: {}", other.describe())),
                None => Err(format!(
                    "{slice} is not approved; approve it first (`sliceboard approve {slice}`, or a in the dashboard)"
                )),
            },
        }
    }

    /// The first ready slice in merge order that `merge --all` has not
    /// tried yet; `Err` (with nothing to say) when none is left.
    pub(super) fn pick_untried(&self, tried: &[&SliceName]) -> Result<SliceName, String> {
        let Some(board) = self.shown.as_ref() else {
            return Err(String::new());
        };
        board
            .order
            .iter()
            .filter(|s| !tried.contains(s))
            .find(|s| {
                board
                    .slices
                    .get(*s)
                    .is_some_and(|v| v.state == Some(EntryState::Ready))
            })
            .cloned()
            .ok_or_else(String::new)
    }

    /// How `merge --all` ended: every approved slice it did not merge and
    /// why (its attempt failed, or it was skipped: a conflict, a failed
    /// check, a stale approval, waiting on a slice it comes after), then
    /// what it merged. An error when any approved slice did not merge.
    pub(super) fn all_done(&self, job: &super::Job) -> Result<String, String> {
        let mut missed: Vec<String> = job
            .failed
            .iter()
            .map(|(slice, why)| format!("{slice} did not merge: {why}"))
            .collect();
        if let Some(board) = self.shown.as_ref() {
            for slice in &board.order {
                if job.failed.iter().any(|(s, _)| s == slice) {
                    continue;
                }
                let why = board
                    .slices
                    .get(slice)
                    .and_then(|v| v.state.as_ref())
                    .map_or_else(|| "not ready".to_owned(), EntryState::describe);
                missed.push(format!("{slice} was skipped: {why}"));
            }
        }
        if missed.is_empty() {
            return Ok(job.merged.join("\n"));
        }
        let approved = missed.len() + job.merged.len();
        let mut said = vec![format!(
            "{} of {approved} approved slice{} did not merge",
            missed.len(),
            if approved == 1 { "" } else { "s" }
        )];
        said.extend(missed);
        said.extend(job.merged.iter().cloned());
        Err(said.join("\n"))
    }

    /// What a merge would do now, without doing it.
    pub(super) fn dry_run(&self, which: &MergeWhich) -> Result<String, String> {
        let board = self.shown.clone().unwrap_or_default();
        let onto = board.integration_tip.as_deref().map_or_else(
            || format!("{} (created from {})", board.integration, self.ws.plan.base),
            |t| {
                format!(
                    "{} at {}",
                    board.integration,
                    crate::domain::short_commit(t)
                )
            },
        );
        let check = board
            .check
            .as_deref()
            .map_or_else(|| "no check".to_owned(), |c| format!("check `{c}`"));
        let line = |slice: &SliceName| {
            let view = board.slices.get(slice);
            let state = view.and_then(|v| v.state.clone());
            let approved = view
                .and_then(|v| v.approval.as_ref())
                .map_or("?", |a| crate::domain::short_commit(&a.commit));
            match state {
                Some(EntryState::Ready) => {
                    format!("{slice}: would merge {approved} onto {onto}, then {check}")
                }
                Some(state) => format!("{slice}: {}", state.describe()),
                None => format!("{slice}: not approved"),
            }
        };
        match which {
            MergeWhich::One { slice } => Ok(line(slice)),
            MergeWhich::Head => self.pick(which).map(|s| line(&s)),
            MergeWhich::All if board.order.is_empty() => {
                Err("nothing to merge: no slice is approved".into())
            }
            MergeWhich::All => Ok(board
                .order
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{}. {}", i + 1, line(s)))
                .collect::<Vec<_>>()
                .join("\n")),
        }
    }

    /// Starts an attempt. Returns how it ended when it ended at once (no
    /// check, a conflict, a refusal); `None` while its check runs.
    pub(super) fn begin(&mut self, slice: &SliceName) -> Option<Ended> {
        let failed = |reason: String| {
            Some(Ended::Failed {
                slice: slice.clone(),
                reason,
            })
        };
        let prepared = match self.prepare(slice) {
            Ok(prepared) => prepared,
            Err(reason) => {
                self.refuse(slice, &reason);
                return failed(reason);
            }
        };
        self.refused.remove(slice);
        let mut file = prepared;
        let number = file.number;
        if let Err(err) = self.save_attempt(&file) {
            return failed(err);
        }
        self.record(
            Actor::Operator,
            Event::MergeStarted {
                slice: slice.clone(),
                attempt: number,
                approved: file.approved.clone(),
                onto: file.onto.clone(),
            },
        );
        let (onto, approved) = match (Oid::from_str(&file.onto), Oid::from_str(&file.approved)) {
            (Ok(onto), Ok(approved)) => (onto, approved),
            _ => {
                return Some(self.fail(&file, "a commit id could not be read".into(), Vec::new()));
            }
        };
        let message = self.merge_message(slice, approved);
        let commit = match self.engine.merge_commit(onto, approved, &message) {
            Ok(Made::Commit(commit)) => commit,
            Ok(Made::Conflicts { paths }) => {
                let reason = format!(
                    "conflicts with {} in {}",
                    self.ws.plan.integration,
                    paths.join(", ")
                );
                return Some(self.conflicted(&file, reason, paths));
            }
            Err(err) => return Some(self.fail(&file, err.to_string(), Vec::new())),
        };
        file.merge_commit = Some(commit.to_string());
        if let Err(err) = self.save_attempt(&file) {
            return Some(self.fail(&file, err, Vec::new()));
        }
        let Some(check) = self.ws.plan.merge.check.clone() else {
            return Some(self.publish_merge(&file, commit));
        };
        match self.start_recorded_check(&file, commit, &check) {
            Ok(running) => {
                self.record(
                    Actor::Sliceboard,
                    Event::CheckStarted {
                        slice: slice.clone(),
                        attempt: number,
                        merge_commit: commit.to_string(),
                        command: check,
                    },
                );
                self.running = Some(running);
                self.show_running_output();
                None
            }
            Err(reason) => Some(self.fail(
                &file,
                format!("the check could not start: {reason}"),
                Vec::new(),
            )),
        }
    }

    /// A refusal before an attempt: journaled once while it stays the same,
    /// and holding the queue's own merges of the slice back a while.
    pub(super) fn refuse(&mut self, slice: &SliceName, reason: &str) {
        let again = self
            .refused
            .get(slice)
            .is_some_and(|(last, _)| last == reason);
        if !again {
            self.record(
                Actor::Sliceboard,
                Event::MergeFailed {
                    slice: slice.clone(),
                    attempt: 0,
                    reason: reason.to_owned(),
                },
            );
        }
        self.refused.insert(
            slice.clone(),
            (reason.to_owned(), std::time::Instant::now()),
        );
    }

    /// Checks that the slice may merge and picks the tip to merge onto.
    fn prepare(&self, slice: &SliceName) -> Result<AttemptFile, String> {
        let approved = self.may_merge(slice)?;
        let (onto, integration) = self.merge_onto()?;
        Ok(AttemptFile {
            number: self.next_attempt(),
            slice: slice.clone(),
            approved,
            onto: onto.to_string(),
            expected: integration.map(|o| o.to_string()),
            merge_commit: None,
            check_pid: None,
            check_started: None,
            started: Timestamp::now(),
            batch: Vec::new(),
        })
    }

    /// The approved commit of `slice`, when it may merge now: its approval
    /// stands, what it comes after merged, and no checkout of the
    /// integration branch holds uncommitted work.
    pub(super) fn may_merge(&self, slice: &SliceName) -> Result<String, String> {
        self.may_merge_behind(slice, &[])
    }

    /// [`Self::may_merge`] for a slice merged behind `ahead` (speculative
    /// checks): what it comes after may be among them instead of merged.
    pub(super) fn may_merge_behind(
        &self,
        slice: &SliceName,
        ahead: &[SliceName],
    ) -> Result<String, String> {
        if let Some(going) = self.going(slice) {
            return Err(going);
        }
        let plan = &self.ws.plan;
        let state = self.state();
        let record = state
            .slices
            .get(slice)
            .ok_or_else(|| format!("{slice} has no worktree or branch"))?;
        let approval = record
            .standing_approval()
            .filter(|_| record.lifecycle == Lifecycle::Approved)
            .ok_or_else(|| format!("{slice} is not approved"))?;
        let tip = self.engine.tip(&record.branch).map_err(|e| e.to_string())?;
        if tip.map(|t| t.to_string()).as_deref() != Some(approval.commit.as_str()) || approval.stale
        {
            return Err(format!(
                "its approval is stale: {} moved after {} was approved; approve it again",
                record.branch,
                crate::domain::short_commit(&approval.commit)
            ));
        }
        if let Some(spec) = plan.slice(slice.as_str()) {
            let waiting: Vec<&str> = state
                .in_the_way(&spec.after)
                .into_iter()
                .filter(|s| !ahead.contains(s))
                .map(SliceName::as_str)
                .collect();
            if !waiting.is_empty() {
                return Err(format!(
                    "it comes after {}, not merged yet",
                    waiting.join(", ")
                ));
            }
        }
        self.refuse_dirty_checkouts()?;
        Ok(approval.commit.clone())
    }

    /// What a merge is made on (the integration tip, else the base's), and
    /// the integration tip the branch must still be at when it moves.
    pub(super) fn merge_onto(&self) -> Result<(Oid, Option<Oid>), String> {
        let plan = &self.ws.plan;
        let integration = self
            .engine
            .tip(&plan.integration)
            .map_err(|e| e.to_string())?;
        let onto = match integration {
            Some(tip) => tip,
            None => self
                .engine
                .tip(&plan.base)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("the base branch {} does not exist", plan.base))?,
        };
        Ok((onto, integration))
    }

    /// Refuses while a worktree that has the integration branch checked
    /// out holds uncommitted work: moving the branch would make it look
    /// as if that work undid the merge.
    fn refuse_dirty_checkouts(&self) -> Result<(), String> {
        for path in self.checkouts() {
            let dirt = GitRepo::dirt(&path).map_err(|e| e.to_string())?;
            if dirt.changed > 0 {
                return Err(format!(
                    "{} is checked out in {}, which has uncommitted changes ({} files); commit or stash them there, or switch that worktree to another branch",
                    self.ws.plan.integration,
                    path.display(),
                    dirt.changed
                ));
            }
        }
        Ok(())
    }

    /// Worktrees with the integration branch checked out.
    fn checkouts(&self) -> Vec<PathBuf> {
        self.ws
            .git
            .worktrees()
            .unwrap_or_default()
            .into_iter()
            .filter(|w| w.valid && w.branch.as_deref() == Some(self.ws.plan.integration.as_str()))
            .map(|w| w.path)
            .collect()
    }

    pub(super) fn merge_message(&self, slice: &SliceName, approved: Oid) -> String {
        let owns = self
            .ws
            .plan
            .slice(slice.as_str())
            .map(|s| s.owns.join(", "))
            .unwrap_or_default();
        format!(
            "Merge slice {slice} into {}\n\nApproved commit: {approved}\nOwned paths: {owns}\nMerged by sliceboard's merge queue.\n",
            self.ws.plan.integration
        )
    }

    /// Moves the integration branch to the checked merge commit, if it is
    /// still where the attempt started, and records the merge.
    /// An attempt that lands nothing (the branch moved, an approval went):
    /// journaled with why, ended, to be tried again.
    fn nothing_merged(&mut self, file: &AttemptFile, reason: String) -> Ended {
        self.record(
            Actor::Sliceboard,
            Event::MergeFailed {
                slice: file.slice.clone(),
                attempt: file.number,
                reason: reason.clone(),
            },
        );
        self.remove_attempt();
        Ended::Raced {
            slice: file.slice.clone(),
            reason,
        }
    }

    /// Why an attempt may no longer land: one of its slices' approval of
    /// the commit it merges was withdrawn or replaced meanwhile.
    fn approval_gone(&self, file: &AttemptFile) -> Option<String> {
        let state = self.state();
        let members: Vec<(&SliceName, &str)> = if file.batch.is_empty() {
            vec![(&file.slice, file.approved.as_str())]
        } else {
            file.batch
                .iter()
                .map(|m| (&m.slice, m.approved.as_str()))
                .collect()
        };
        members.into_iter().find_map(|(slice, approved)| {
            let standing = state
                .slices
                .get(slice)
                .and_then(|r| r.standing_approval())
                .map(|a| a.commit.clone());
            match standing {
                Some(commit) if commit == approved => None,
                Some(commit) => Some(format!(
                    "{slice} was approved again at {} while its check ran",
                    crate::domain::short_commit(&commit)
                )),
                None => Some(format!(
                    "{} approval was withdrawn while its check ran",
                    crate::domain::possessive(slice)
                )),
            }
        })
    }

    pub(super) fn publish_merge(&mut self, file: &AttemptFile, commit: Oid) -> Ended {
        let slice = file.slice.clone();
        let plan = self.ws.plan.clone();
        if let Err(reason) = self.refuse_dirty_checkouts() {
            return self.fail(file, reason, Vec::new());
        }
        // The operator's word holds to the last moment: a slice whose
        // approval was withdrawn (or moved to another commit) while its
        // check ran does not land, nor does a batch holding it.
        if let Some(why) = self.approval_gone(file) {
            return self.nothing_merged(file, format!("{why}; nothing was merged"));
        }
        let expected = file.expected.as_deref().and_then(|e| Oid::from_str(e).ok());
        let reflog = format!("sliceboard: merge slice {slice} ({})", file.approved);
        match self
            .engine
            .move_branch(&plan.integration, commit, expected, &reflog)
        {
            Ok(()) => {}
            Err(MoveError::Moved { now, .. }) => {
                let reason = format!(
                    "{} moved to {} during the attempt; nothing was merged",
                    plan.integration,
                    now.map_or("nothing".to_owned(), |n| crate::domain::short_commit(
                        &n.to_string()
                    )
                    .to_owned())
                );
                return self.nothing_merged(file, reason);
            }
            Err(MoveError::Git(err)) => return self.fail(file, err.to_string(), Vec::new()),
        }
        let brought = self.bring_checkouts(expected, commit);
        self.finish_merge(file, commit);
        if let Some(problem) = brought {
            tracing::warn!(%problem, "a checked-out integration branch was not brought along");
        }
        Ended::Merged {
            slice,
            commit: commit.to_string(),
        }
    }

    /// The state and journal of a merge that landed: each slice of a
    /// batch with its own merge commit, in order.
    pub(super) fn finish_merge(&mut self, file: &AttemptFile, commit: Oid) {
        if file.batch.is_empty() {
            self.record_merged(
                &file.slice,
                &file.approved,
                file.number,
                file.expected.clone(),
                commit,
            );
        } else {
            let mut from = file.expected.clone();
            for member in &file.batch {
                let Ok(merge_commit) = Oid::from_str(&member.merge_commit) else {
                    continue;
                };
                self.record_merged(
                    &member.slice,
                    &member.approved,
                    file.number,
                    from.clone(),
                    merge_commit,
                );
                from = Some(member.merge_commit.clone());
            }
        }
        self.remove_attempt();
        self.review_when_all_merged();
    }

    /// One slice's merge, in the state and the journal.
    fn record_merged(
        &mut self,
        slice: &SliceName,
        approved: &str,
        number: u64,
        from: Option<String>,
        commit: Oid,
    ) {
        let slice = slice.clone();
        self.merged_clears_attempts(&slice);
        let plan = self.ws.plan.clone();
        let downstream: Vec<SliceName> = plan
            .slices
            .iter()
            .filter(|s| s.after.contains(&slice))
            .map(|s| s.name.clone())
            .collect();
        let landed = [
            Event::Merged {
                slice: slice.clone(),
                attempt: number,
                approved: approved.to_owned(),
                branch: plan.integration.clone(),
                from,
                commit: commit.to_string(),
            },
            Event::LifecycleChanged {
                slice: slice.clone(),
                from: Lifecycle::Approved,
                to: Lifecycle::Merged,
            },
        ];
        let merged = self.change(|state| {
            if let Some(record) = state.slices.get_mut(&slice) {
                record.lifecycle = Lifecycle::Merged;
                record.attention = None;
                record.merged = Some(MergeRecord {
                    approved: approved.to_owned(),
                    commit: commit.to_string(),
                    branch: plan.integration.clone(),
                    at: Timestamp::now(),
                });
                record.updated_at = Timestamp::now();
            }
            let mut entries = landed
                .iter()
                .cloned()
                .map(Entry::sliceboard)
                .collect::<Vec<_>>();
            for name in &downstream {
                if let Some(record) = state.slices.get_mut(name)
                    && record.lifecycle != Lifecycle::Merged
                    && !record.upstream_merged.contains(&slice)
                {
                    record.upstream_merged.push(slice.clone());
                    entries.push(Entry::sliceboard(Event::UpstreamMerged {
                        slice: name.clone(),
                        upstream: slice.clone(),
                    }));
                }
            }
            entries
        });
        if let Err(err) = merged {
            // The branch moved all the same: the journal says so.
            tracing::warn!(%slice, %err, "cannot record the merge in state.json");
            landed
                .into_iter()
                .for_each(|event| self.record(Actor::Sliceboard, event));
        }
    }

    /// Brings worktrees that have the integration branch checked out from
    /// `old` to `new` (index and files), as `git merge --ff-only` would.
    fn bring_checkouts(&self, old: Option<Oid>, new: Oid) -> Option<String> {
        let old = old?;
        let mut problems = Vec::new();
        for path in self.checkouts() {
            if let Err(err) = git(
                &path,
                &["read-tree", "-m", "-u", &old.to_string(), &new.to_string()],
            ) {
                problems.push(format!(
                    "{} moved, but {} could not be updated ({err}); run `git reset --keep {}` there",
                    self.ws.plan.integration,
                    path.display(),
                    self.ws.plan.integration
                ));
            }
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }

    /// An attempt whose merge conflicts on `paths`: journaled, recorded as
    /// the slice's failure, counted once (the preview of the same conflict
    /// is not counted again), and its agent told as the plan says.
    pub(super) fn conflicted(
        &mut self,
        file: &AttemptFile,
        reason: String,
        paths: Vec<String>,
    ) -> Ended {
        self.record(
            Actor::Sliceboard,
            Event::MergeConflicted {
                slice: file.slice.clone(),
                attempt: file.number,
                paths: paths.clone(),
            },
        );
        let ended = self.fail(file, reason.clone(), paths);
        self.conflict_counted(&file.slice, &file.approved);
        self.after_failed_attempt(&file.slice, &reason);
        ended
    }

    /// Records an attempt that failed before the branch could move.
    pub(super) fn fail(&mut self, file: &AttemptFile, reason: String, paths: Vec<String>) -> Ended {
        let slice = file.slice.clone();
        let failed = paths.is_empty().then(|| Event::MergeFailed {
            slice: slice.clone(),
            attempt: file.number,
            reason: reason.clone(),
        });
        self.attention(
            &slice,
            Attention {
                approved: file.approved.clone(),
                attempt: file.number,
                reason: reason.clone(),
                paths,
                details: Vec::new(),
                log: None,
                at: Timestamp::now(),
            },
            failed,
        );
        self.remove_attempt();
        Ended::Failed { slice, reason }
    }

    /// Records why the slice's attempt failed in its record, with `event`
    /// (what failed) journaled.
    pub(super) fn attention(&self, slice: &SliceName, attention: Attention, event: Option<Event>) {
        let recorded = self.change(|state| {
            if let Some(record) = state.slices.get_mut(slice) {
                record.attention = Some(attention);
            }
            event.into_iter().map(Entry::sliceboard).collect()
        });
        if let Err(err) = recorded {
            tracing::warn!(%slice, %err, "cannot record why the merge failed");
        }
    }

    /// What a supervisor that died during an attempt left: a check still
    /// running is stopped; a merge that landed is recorded; otherwise the
    /// attempt is recorded as interrupted. The integration worktree is reset.
    pub(super) fn recover(&mut self) {
        let path = self.ws.state_dir.attempt_file();
        let Ok(text) = std::fs::read_to_string(&path) else {
            return;
        };
        let Ok(file) = serde_json::from_str::<AttemptFile>(&text) else {
            tracing::warn!(path = %path.display(), "unreadable attempt file; removed");
            self.remove_attempt();
            return;
        };
        stop_recorded_check(&file);
        let landed = file
            .merge_commit
            .as_deref()
            .and_then(|c| Oid::from_str(c).ok())
            .filter(|c| self.engine.tip(&self.ws.plan.integration).ok().flatten() == Some(*c));
        match landed {
            Some(commit) => {
                tracing::info!(
                    attempt = file.number,
                    "an interrupted attempt had merged; recording it"
                );
                self.finish_merge(&file, commit);
            }
            None => {
                let slices: Vec<SliceName> = if file.batch.is_empty() {
                    vec![file.slice.clone()]
                } else {
                    file.batch.iter().map(|m| m.slice.clone()).collect()
                };
                for slice in slices {
                    self.record(
                        Actor::Sliceboard,
                        Event::MergeInterrupted {
                            slice,
                            attempt: file.number,
                        },
                    );
                }
                self.remove_attempt();
            }
        }
        if self.ws.state_dir.integration_worktree().exists()
            && let Err(err) = self.reset_integration_worktree(None)
        {
            tracing::warn!(%err, "cannot reset the integration worktree");
        }
    }

    pub(super) fn reset_integration_worktree(&self, commit: Option<Oid>) -> Result<(), String> {
        reset_integration_worktree(&self.ws, commit)
    }

    pub(super) fn next_attempt(&self) -> u64 {
        let counter = self.ws.state_dir.merge_dir().join("attempts");
        let last: u64 = std::fs::read_to_string(&counter)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        let next = last + 1;
        let _ = crate::os::private::create_dir(&self.ws.state_dir.merge_dir());
        let _ = write_atomic(&counter, format!("{next}\n").as_bytes());
        next
    }

    pub(super) fn save_attempt(&self, file: &AttemptFile) -> Result<(), String> {
        crate::os::private::create_dir(&self.ws.state_dir.merge_dir())
            .map_err(|e| e.to_string())?;
        let text = serde_json::to_vec_pretty(file).map_err(|e| e.to_string())?;
        write_atomic(&self.ws.state_dir.attempt_file(), &text).map_err(|e| e.to_string())
    }

    pub(super) fn remove_attempt(&self) {
        let _ = std::fs::remove_file(self.ws.state_dir.attempt_file());
    }
}

/// Stops the check an attempt file records, when that process still runs
/// (its start time says a reused pid is another process).
pub(super) fn stop_recorded_check(file: &AttemptFile) {
    if let Some(pid) = file.check_pid
        && file.check_started.is_some()
        && process_group::start_time(pid) == file.check_started
    {
        let _ = process_group::terminate_group(pid, CHECK_GRACE);
    }
}

/// Runs git in `dir`; its error output is the error.
pub(super) fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let output = process_group::output(
        std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null()),
    )
    .map_err(|e| format!("cannot run git: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Creates the integration worktree if needed and resets it: at
/// `commit` (detached), or where it is, with no local change and no
/// untracked file (ignored files, such as dbt's `target/` and a local
/// database, are kept).
pub(crate) fn reset_integration_worktree(
    ws: &crate::workspace::Workspace,
    commit: Option<Oid>,
) -> Result<(), String> {
    reset_check_worktree(ws, &ws.state_dir.integration_worktree(), commit)
}

/// [`reset_integration_worktree`] for any check worktree (a lane's).
pub(super) fn reset_check_worktree(
    ws: &crate::workspace::Workspace,
    worktree: &Path,
    commit: Option<Oid>,
) -> Result<(), String> {
    reset_worktree_of(ws.git.root(), worktree, commit)
}

/// [`reset_check_worktree`] for the repository whose main worktree is
/// `root`.
pub(super) fn reset_worktree_of(
    root: &Path,
    worktree: &Path,
    commit: Option<Oid>,
) -> Result<(), String> {
    let worktree = worktree.to_owned();
    let valid =
        worktree.join(".git").is_file() && git(&worktree, &["rev-parse", "--git-dir"]).is_ok();
    if !valid {
        if worktree.exists() {
            std::fs::remove_dir_all(&worktree)
                .map_err(|e| format!("{}: {e}", worktree.display()))?;
        }
        let _ = git(root, &["worktree", "prune"]);
        let at = commit.map_or_else(|| "HEAD".to_owned(), |c| c.to_string());
        git(
            root,
            &["worktree", "add", "--detach", &path_str(&worktree), &at],
        )?;
        // Under the state folder, where only the owner reads (git made it
        // by the umask).
        crate::os::private::create_dir(&worktree)
            .map_err(|e| format!("{}: {e}", worktree.display()))?;
        return Ok(());
    }
    match commit {
        Some(commit) => git(
            &worktree,
            &["checkout", "--force", "--detach", &commit.to_string()],
        )?,
        None => git(&worktree, &["reset", "--hard", "--quiet"])?,
    };
    git(&worktree, &["clean", "-ffd", "--quiet"])?;
    Ok(())
}
