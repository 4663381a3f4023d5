//! The queue running itself, as far as the plan says (`[merge]`):
//!
//! - `approve = "when-green"`: a slice approves itself once its agent is
//!   done (idle or done while running, or exited cleanly), it has changes,
//!   and nothing the operator's approval would be warned about holds:
//!   no ownership or overlap flags, a dbt run that passed on its current
//!   files, every slice it comes after merged or queued. A slice whose
//!   merge failed and whose agent commits a fix is approved again the same
//!   way (the old approval went stale when the branch moved).
//! - `on_failure = "feedback"`: a conflict or a failed check tells the
//!   owning agent at once (started with the resume command if it is not
//!   running).
//!   A slice that comes after others is also told when they merge, once
//!   its agent is done or has exited (as `F` would), so it merges them in.
//! - `max_attempts`: after that many failed attempts in a row since the
//!   operator last approved it, a slice is handed over: nothing automatic
//!   happens to it until the operator approves it, and they are called.
//!
//! The operator can hold the whole queue (kept in `merge/held`, so a new
//! supervisor holds it too); a withdrawn approval is not taken back by the
//! queue until the branch moves. Every automatic step is journaled by the
//! sliceboard actor.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::board::Board;
use crate::domain::plan::{ApproveRule, OnFailure};
use crate::domain::queue::EntryState;
use crate::domain::{Activity, AgentStatus, Event, Lifecycle, SliceName};
use crate::store::Actor;

use super::MergeQueue;

/// What the queue remembers about running itself.
#[derive(Debug, Default)]
pub(super) struct Autopilot {
    /// Failed attempts in a row per slice since the operator last
    /// approved it.
    failures: BTreeMap<SliceName, u32>,
    /// Slices that used up their attempts: the operator's now.
    handed_over: BTreeSet<SliceName>,
    /// Slices whose approval the operator withdrew, with the tip then: not
    /// approved by the queue again until the branch moves.
    withdrawn_at: BTreeMap<SliceName, Option<String>>,
    /// Why each slice that could approve itself has not yet.
    pub(super) notes: BTreeMap<SliceName, String>,
    /// The operator held the queue.
    pub(super) held: bool,
    /// The upstream merges each slice was last told about by the queue
    /// itself, so a telling that failed is not tried every second.
    upstream_told: BTreeMap<SliceName, Vec<SliceName>>,
    /// The approved commit of each queued slice whose previewed conflict
    /// was taken as a failed attempt (once per commit).
    conflict_seen: BTreeMap<SliceName, String>,
    /// Slices whose failure came while the queue was held: told when it
    /// goes on.
    to_tell: BTreeSet<SliceName>,
}

impl MergeQueue {
    /// What the queue does by itself under the plan in force, in words.
    pub(super) fn runs_itself(&self) -> Vec<String> {
        let merge = &self.ws.plan.merge;
        let mut words = Vec::new();
        if merge.approve == ApproveRule::WhenGreen {
            words.push("approves green slices".to_owned());
        }
        if merge.on_failure == OnFailure::Feedback {
            words.push("tells the agent on a failure".to_owned());
        }
        if merge.auto {
            words.push("merges ready slices".to_owned());
        }
        if merge.approve == ApproveRule::WhenGreen || merge.on_failure == OnFailure::Feedback {
            words.push(format!("{} attempts each", merge.max_attempts));
        }
        words
    }

    /// The hub's board for this tick's automatic steps, taken once (it is a
    /// copy made under the hub's lock), and only when the plan has any.
    pub(super) fn board_for_autopilot(&self) -> Option<Board> {
        let merge = &self.ws.plan.merge;
        (merge.approve == ApproveRule::WhenGreen || merge.on_failure == OnFailure::Feedback)
            .then(|| (self.deps.board)())
    }

    /// Whether nothing automatic may happen now.
    pub(super) fn held(&self) -> bool {
        self.autopilot.held
    }

    pub(super) fn hold(&mut self, held: bool) -> Result<String, String> {
        let file = self.ws.state_dir.merge_dir().join("held");
        let written = if held {
            std::fs::create_dir_all(self.ws.state_dir.merge_dir())
                .and_then(|()| std::fs::write(&file, b"held by the operator\n"))
        } else {
            match std::fs::remove_file(&file) {
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        };
        written.map_err(|err| format!("cannot record the hold in {}: {err}", file.display()))?;
        if self.autopilot.held != held {
            self.autopilot.held = held;
            self.record(Actor::Operator, Event::QueueHeld { held });
        }
        if !held {
            // What failed while it was held is told now.
            for slice in std::mem::take(&mut self.autopilot.to_tell) {
                if let Err(why) = self.send_feedback_as(&slice, Actor::Sliceboard) {
                    tracing::warn!(%slice, %why, "telling a slice after the hold failed");
                }
            }
        }
        Ok(if held {
            "merge queue held: nothing is approved, told or merged by itself until it goes on"
                .to_owned()
        } else {
            "merge queue going on".to_owned()
        })
    }

    /// A new supervisor holds the queue if the last one was told to.
    pub(super) fn read_hold(&mut self) {
        self.autopilot.held = self.ws.state_dir.merge_dir().join("held").is_file();
    }

    /// A conflict of `slice`'s `approved` commit was counted by an attempt:
    /// the queue's preview of the same conflict is not counted again.
    pub(super) fn conflict_counted(&mut self, slice: &SliceName, approved: &str) {
        self.autopilot
            .conflict_seen
            .insert(slice.clone(), approved.to_owned());
    }

    /// The operator approved `slice`: its attempts start again.
    pub(super) fn approved_by_operator(&mut self, slice: &SliceName) {
        self.autopilot.failures.remove(slice);
        self.autopilot.handed_over.remove(slice);
        self.autopilot.withdrawn_at.remove(slice);
    }

    /// `slice` merged: its failures in a row are over.
    pub(super) fn merged_clears_attempts(&mut self, slice: &SliceName) {
        self.autopilot.failures.remove(slice);
        self.autopilot.handed_over.remove(slice);
    }

    /// The operator withdrew `slice`'s approval at `tip`.
    pub(super) fn withdrawn_by_operator(&mut self, slice: &SliceName, tip: Option<String>) {
        self.autopilot.withdrawn_at.insert(slice.clone(), tip);
    }

    /// An attempt at `slice` conflicted or its check failed (already
    /// recorded): counted, then the agent told or the operator handed the
    /// slice, as the plan says.
    pub(super) fn after_failed_attempt(&mut self, slice: &SliceName, reason: &str) {
        let merge = self.ws.plan.merge.clone();
        if merge.approve != ApproveRule::WhenGreen && merge.on_failure != OnFailure::Feedback {
            return;
        }
        let failures = {
            let count = self.autopilot.failures.entry(slice.clone()).or_default();
            *count += 1;
            *count
        };
        if failures >= merge.max_attempts {
            self.autopilot.handed_over.insert(slice.clone());
            self.record(
                Actor::Sliceboard,
                Event::HandedOver {
                    slice: slice.clone(),
                    attempts: failures,
                    reason: reason.to_owned(),
                },
            );
            return;
        }
        if merge.on_failure == OnFailure::Feedback {
            if self.held() {
                self.autopilot.to_tell.insert(slice.clone());
                return;
            }
            if let Err(why) = self.send_feedback_as(slice, Actor::Sliceboard) {
                tracing::warn!(%slice, %why, "automatic feedback failed");
                self.record(
                    Actor::Sliceboard,
                    Event::Progress {
                        slice: Some(slice.clone()),
                        message: format!("{slice}: its agent could not be told: {why}"),
                    },
                );
            }
        }
    }

    /// Under `approve = "when-green"`: approves every slice that is green
    /// now, and notes for the others what it waits for.
    pub(super) fn approve_green(&mut self, board: Option<&Board>) {
        if self.ws.plan.merge.approve != ApproveRule::WhenGreen {
            self.autopilot.notes.clear();
            return;
        }
        let Some(board) = board else {
            return;
        };
        let state = self.state();
        let mut notes = BTreeMap::new();
        let mut green = Vec::new();
        for row in &board.slices {
            let slice = &row.name;
            // The planner never merges; a slice being cleaned or retired
            // is going.
            if self.ws.plan.is_planner(slice) || self.going(slice).is_some() {
                continue;
            }
            let Some(record) = state.slices.get(slice) else {
                continue;
            };
            if self.autopilot.handed_over.contains(slice) {
                notes.insert(
                    slice.clone(),
                    "needs you: its attempts are used up; approve it yourself".to_owned(),
                );
                continue;
            }
            let queued = record
                .standing_approval()
                .is_some_and(|a| !a.stale && record.lifecycle == Lifecycle::Approved);
            if queued
                || !matches!(
                    record.lifecycle,
                    Lifecycle::Active | Lifecycle::Ready | Lifecycle::Approved
                )
            {
                continue;
            }
            let note = if self.held() && self.autopilot.to_tell.contains(slice) {
                Some("failed; its agent is told when the queue goes on".to_owned())
            } else if self.held() {
                Some("the queue is held".to_owned())
            } else if !agent_done(row.status, row.activity) {
                Some("approves itself once its agent is done".to_owned())
            } else if row.diff.as_ref().is_some_and(|d| d.files.is_empty()) {
                Some("no changes to approve".to_owned())
            } else {
                let tip = self
                    .engine
                    .tip(&record.branch)
                    .ok()
                    .flatten()
                    .map(|t| t.to_string());
                if self
                    .autopilot
                    .withdrawn_at
                    .get(slice)
                    .is_some_and(|at| *at == tip)
                {
                    Some(
                        "you withdrew its approval: approves itself again once its branch moves"
                            .to_owned(),
                    )
                } else {
                    match self.concerns_on(slice, board) {
                        Ok(concerns) if concerns.is_empty() => {
                            green.push(slice.clone());
                            None
                        }
                        Ok(concerns) => Some(format!("not green: {}", concerns.join("; "))),
                        Err(why) => Some(why),
                    }
                }
            };
            if let Some(note) = note {
                notes.insert(slice.clone(), note);
            }
        }
        for slice in green {
            match crate::workspace::approve(
                &self.ws,
                &self.deps.state,
                &slice,
                Vec::new(),
                true,
                &*self.deps.dirt,
            ) {
                Ok((_, events)) => events.into_iter().for_each(|e| (self.deps.report)(e)),
                // Work not committed yet, most often: said, and tried again
                // on the next tick.
                Err(err) => {
                    notes.insert(slice.clone(), format!("cannot approve itself: {err}"));
                }
            }
        }
        self.autopilot.notes = notes;
    }
}

impl MergeQueue {
    /// A queued slice the preview shows conflicting with the tip never
    /// gets an attempt of its own: taken as a failed one (counted, and its
    /// agent told under `on_failure = "feedback"`), once per approved
    /// commit.
    pub(super) fn conflicts_in_the_queue(&mut self) {
        let merge = &self.ws.plan.merge;
        if (merge.approve != ApproveRule::WhenGreen && merge.on_failure != OnFailure::Feedback)
            || self.held()
        {
            return;
        }
        let Some(board) = self.shown.clone() else {
            return;
        };
        for slice in &board.order {
            let Some(view) = board.slices.get(slice) else {
                continue;
            };
            let (Some(EntryState::Conflicts { paths }), Some(approval)) =
                (&view.state, &view.approval)
            else {
                continue;
            };
            if self.autopilot.conflict_seen.get(slice) == Some(&approval.commit) {
                continue;
            }
            self.autopilot
                .conflict_seen
                .insert(slice.clone(), approval.commit.clone());
            let reason = format!(
                "conflicts with {} in {}",
                self.ws.plan.integration,
                paths.join(", ")
            );
            self.after_failed_attempt(slice, &reason);
        }
    }

    /// Under `on_failure = "feedback"`: a slice whose upstream merged is
    /// told to merge it in once its agent is done (or has exited).
    pub(super) fn tell_upstream_merged(&mut self, board: Option<&Board>) {
        if self.ws.plan.merge.on_failure != OnFailure::Feedback || self.held() {
            return;
        }
        let Some(board) = board else {
            return;
        };
        let state = self.state();
        let due: Vec<SliceName> = state
            .slices
            .iter()
            .filter(|(slice, record)| {
                !record.upstream_merged.is_empty()
                    && matches!(record.lifecycle, Lifecycle::Active | Lifecycle::Ready)
                    && !self.autopilot.handed_over.contains(*slice)
                    && self.going(slice).is_none()
                    && self.autopilot.upstream_told.get(*slice) != Some(&record.upstream_merged)
                    && board.row(slice).is_some_and(|row| {
                        agent_done(row.status, row.activity)
                            || matches!(row.status, AgentStatus::Exited { .. })
                    })
            })
            .map(|(slice, _)| slice.clone())
            .collect();
        for slice in due {
            if let Some(record) = state.slices.get(&slice) {
                self.autopilot
                    .upstream_told
                    .insert(slice.clone(), record.upstream_merged.clone());
            }
            match self.send_feedback_as(&slice, Actor::Sliceboard) {
                // Told: the same upstream merging again is news again.
                Ok(_) => {
                    self.autopilot.upstream_told.remove(&slice);
                }
                Err(why) => {
                    tracing::warn!(%slice, %why, "telling a slice about its upstream failed");
                    self.record(
                        Actor::Sliceboard,
                        Event::Progress {
                            slice: Some(slice.clone()),
                            message: format!(
                                "{slice}: its agent could not be told about its upstream: {why}"
                            ),
                        },
                    );
                }
            }
        }
    }
}

/// Whether an agent has finished its work: idle or done while it runs, or
/// exited cleanly.
fn agent_done(status: AgentStatus, activity: Option<Activity>) -> bool {
    match status {
        AgentStatus::Running => matches!(activity, Some(Activity::Idle | Activity::Done)),
        AgentStatus::Exited { code: Some(0) } => true,
        _ => false,
    }
}
