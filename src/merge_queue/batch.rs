//! Batches (`[merge] batch = N`): the next N ready slices merged onto the
//! tip in queue order, each with its own merge commit on the one before,
//! and checked once, at the last. A passing batch moves the integration
//! branch once, by compare-and-swap, to the last merge commit, so the
//! history keeps one merge commit per slice. A slice that conflicts while
//! the batch is made is taken out (and told, as a single merge would be)
//! before any check runs.
//!
//! A failing batch is bisected over its prefixes, in order: the first half
//! is checked; a passing prefix lands at once (its commits are already on
//! the tip's line) and the search goes on in the rest; a failing one
//! narrows it. When a single slice is left that is known to fail (the
//! prefix up to it passed, the one ending at it failed), it is the culprit:
//! it gets the failure, with the output of the smallest failing check that
//! held it, as a failed merge would; the slices behind it stay queued and
//! are batched again on the new tip. `merge/attempt.json` records each
//! check's batch, so a supervisor killed during one leaves the branch at a
//! checked commit and the next records every slice of it as interrupted
//! (or merged, when the move had happened).

use std::path::PathBuf;

use jiff::Timestamp;

use super::attempt::{AttemptFile, BatchMember};
use super::check::{Lane, Running};
use super::{Ended, MergeQueue};
use crate::domain::queue::EntryState;
use crate::domain::{Event, SliceName};
use crate::git::{Made, Oid};
use crate::store::{Actor, Attention};

/// A batch on its way: what is still in play and what is known.
pub(super) struct Batch {
    /// The slices still in play, in queue order, chained on `onto`.
    members: Vec<BatchMember>,
    onto: Oid,
    /// The integration tip the branch must be at when it moves.
    expected: Option<Oid>,
    /// How many of `members`, from the first, are known to fail together.
    bad: Option<usize>,
    /// The last failing check: why, what failed, its log and attempt.
    failure: Option<Failure>,
    /// What landed and what failed so far, for whoever asked.
    merged: Vec<(SliceName, String)>,
    failed: Vec<(SliceName, String)>,
    /// With `[merge] parallel`, the prefixes being checked at once while
    /// a failing batch is bisected, and the results of those that ended.
    probes: Vec<Running>,
    probed: Vec<Probed>,
}

/// A prefix checked during a parallel bisection: passed (its check kept
/// for the branch to move to it) or failed.
struct Probed {
    len: usize,
    check: Running,
    failure: Option<Failure>,
}

impl Batch {
    /// The slices of every prefix being checked.
    pub(super) fn probing(&self) -> Vec<SliceName> {
        self.probes
            .iter()
            .map(|p| p.file().batch.len())
            .max()
            .map(|len| {
                self.members[..len.min(self.members.len())]
                    .iter()
                    .map(|m| m.slice.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn probe_mut(&mut self, attempt: u64) -> Option<&mut Running> {
        self.probes.iter_mut().find(|p| p.number == attempt)
    }

    pub(super) fn probes(&self) -> &[Running] {
        &self.probes
    }
}

#[derive(Clone)]
struct Failure {
    attempt: u64,
    merge_commit: String,
    reason: String,
    details: Vec<String>,
    log: PathBuf,
}

impl MergeQueue {
    /// The next `count` ready slices in queue order, `tried` left out.
    pub(super) fn pick_batch(&self, tried: &[&SliceName], count: usize) -> Vec<SliceName> {
        let Some(board) = self.shown.as_ref() else {
            return Vec::new();
        };
        board
            .order
            .iter()
            .filter(|s| !tried.contains(s))
            .filter(|s| {
                board
                    .slices
                    .get(*s)
                    .is_some_and(|v| v.state == Some(EntryState::Ready))
            })
            .take(count)
            .cloned()
            .collect()
    }

    /// Makes the batch's merge commits on the tip (taking out what
    /// conflicts) and starts its check; `None` while the check runs.
    pub(super) fn begin_batch(&mut self, slices: Vec<SliceName>) -> Option<Ended> {
        let first = slices.first()?.clone();
        let (onto, expected) = match self.merge_onto() {
            Ok(found) => found,
            Err(reason) => {
                return Some(Ended::Failed {
                    slice: first,
                    reason,
                });
            }
        };
        let mut batch = Batch {
            members: Vec::new(),
            onto,
            expected,
            bad: None,
            failure: None,
            merged: Vec::new(),
            failed: Vec::new(),
            probes: Vec::new(),
            probed: Vec::new(),
        };
        let mut top = onto;
        for slice in slices {
            let approved = match self.may_merge(&slice) {
                Ok(approved) => approved,
                Err(reason) => {
                    // Journaled once, and holding the queue's own merges
                    // back a while, as a single merge's refusal.
                    self.refuse(&slice, &reason);
                    batch.failed.push((slice, reason));
                    continue;
                }
            };
            self.refused.remove(&slice);
            let Ok(commit) = Oid::from_str(&approved) else {
                continue;
            };
            let message = self.merge_message(&slice, commit);
            match self.engine.merge_commit(top, commit, &message) {
                Ok(Made::Commit(merge)) => {
                    batch.members.push(BatchMember {
                        slice,
                        approved,
                        merge_commit: merge.to_string(),
                    });
                    top = merge;
                }
                // Against the tip itself, it is the slice's own conflict;
                // against a slice batched before it, it only waits for a
                // later batch (nothing to tell, nothing counted).
                Ok(Made::Conflicts { paths }) => {
                    match self.engine.merge_commit(onto, commit, &message) {
                        Ok(Made::Conflicts { paths }) => {
                            let reason =
                                self.batch_conflict(&slice, &approved, onto, expected, paths);
                            batch.failed.push((slice, reason));
                        }
                        _ => tracing::info!(
                            %slice,
                            paths = %paths.join(", "),
                            "conflicts with a slice batched before it: left for a later batch"
                        ),
                    }
                }
                Err(err) => batch.failed.push((slice, err.to_string())),
            }
        }
        if batch.members.is_empty() {
            return Some(Ended::Batch {
                merged: Vec::new(),
                failed: batch.failed,
            });
        }
        let all = batch.members.len();
        self.batch = Some(batch);
        self.check_prefix(all)
    }

    /// A slice that conflicts with the batch's tip: recorded as a
    /// conflicting attempt of its own, and told.
    fn batch_conflict(
        &mut self,
        slice: &SliceName,
        approved: &str,
        onto: Oid,
        expected: Option<Oid>,
        paths: Vec<String>,
    ) -> String {
        let reason = format!(
            "conflicts with {} (and the slices batched before it) in {}",
            self.ws.plan.integration,
            paths.join(", ")
        );
        let file = AttemptFile {
            number: self.next_attempt(),
            slice: slice.clone(),
            approved: approved.to_owned(),
            onto: onto.to_string(),
            expected: expected.map(|e| e.to_string()),
            merge_commit: None,
            check_pid: None,
            check_started: None,
            started: Timestamp::now(),
            batch: Vec::new(),
        };
        self.conflicted(&file, reason.clone(), paths);
        reason
    }

    /// Checks the first `len` slices in play (or, with no check, moves the
    /// branch to them at once).
    fn check_prefix(&mut self, len: usize) -> Option<Ended> {
        let batch = self.batch.as_ref()?;
        let members: Vec<BatchMember> = batch.members[..len].to_vec();
        let last = members.last()?.clone();
        let file = AttemptFile {
            number: self.next_attempt(),
            slice: last.slice.clone(),
            approved: last.approved.clone(),
            onto: batch.onto.to_string(),
            expected: batch.expected.map(|e| e.to_string()),
            merge_commit: Some(last.merge_commit.clone()),
            check_pid: None,
            check_started: None,
            started: Timestamp::now(),
            batch: members.clone(),
        };
        let top = Oid::from_str(&last.merge_commit).ok()?;
        if let Err(err) = self.save_attempt(&file) {
            return self.end_batch_with(&last.slice, err);
        }
        for member in &members {
            self.record(
                Actor::Sliceboard,
                Event::MergeStarted {
                    slice: member.slice.clone(),
                    attempt: file.number,
                    approved: member.approved.clone(),
                    onto: file.onto.clone(),
                },
            );
        }
        let Some(check) = self.ws.plan.merge.check.clone() else {
            let ended = self.publish_merge(&file, top);
            return self.after_batch_move(&file, ended);
        };
        match self.start_recorded_check(&file, top, &check) {
            Ok(running) => {
                self.record(
                    Actor::Sliceboard,
                    Event::CheckStarted {
                        slice: last.slice.clone(),
                        attempt: file.number,
                        merge_commit: top.to_string(),
                        command: format!("{check} (batch of {})", batch_words(&members)),
                    },
                );
                self.running = Some(running);
                self.show_running_output();
                None
            }
            Err(reason) => {
                let ended = self.fail(
                    &file,
                    format!("the check could not start: {reason}"),
                    Vec::new(),
                );
                self.after_batch_move(&file, ended)
            }
        }
    }

    /// A batch's check ended: the prefix lands, or the search narrows.
    pub(super) fn batch_check_exited(
        &mut self,
        running: Running,
        code: Option<i32>,
    ) -> Option<Ended> {
        let file = running.file().clone();
        let top = running.merge_commit();
        let (reason, details) = match self.verdict(&running, code) {
            Ok(()) => {
                self.publish_dbt_state(running.lane());
                let ended = self.publish_merge(&file, top);
                return self.after_batch_move(&file, ended);
            }
            Err(failure) => failure,
        };
        self.record(
            Actor::Sliceboard,
            Event::Progress {
                slice: None,
                message: format!(
                    "batch check {} failed ({}): looking for the slice that breaks it",
                    file.number,
                    batch_words(&file.batch)
                ),
            },
        );
        self.remove_attempt();
        let len = file.batch.len();
        let batch = self.batch.as_mut()?;
        batch.bad = Some(len);
        batch.failure = Some(Failure {
            attempt: file.number,
            merge_commit: top.to_string(),
            reason,
            details,
            log: running.log().to_owned(),
        });
        self.narrow()
    }

    /// After the branch moved (or failed to) for a prefix.
    fn after_batch_move(&mut self, file: &AttemptFile, ended: Ended) -> Option<Ended> {
        match ended {
            Ended::Merged { commit, .. } => {
                let landed = file.batch.len();
                let batch = self.batch.as_mut()?;
                for member in batch.members.drain(..landed.min(batch.members.len())) {
                    batch.merged.push((member.slice, member.merge_commit));
                }
                batch.bad = batch.bad.map(|bad| bad.saturating_sub(landed));
                if let Ok(tip) = Oid::from_str(&commit) {
                    batch.onto = tip;
                    batch.expected = Some(tip);
                }
                self.narrow()
            }
            other => {
                // A lost race or a refusal: what is left starts over later;
                // what landed already is said.
                let batch = self.batch.take()?;
                if batch.merged.is_empty() {
                    return Some(other);
                }
                let mut failed = batch.failed;
                if let Ended::Failed { slice, reason } | Ended::Raced { slice, reason } = other {
                    failed.push((slice, reason));
                }
                Some(Ended::Batch {
                    merged: batch.merged,
                    failed,
                })
            }
        }
    }

    /// Goes on with what is known: nothing left to find (the batch ends),
    /// the culprit found, or the next prefix to check.
    fn narrow(&mut self) -> Option<Ended> {
        let batch = self.batch.as_ref()?;
        match batch.bad {
            None | Some(0) => self.finish_batch(),
            _ if batch.members.is_empty() => self.finish_batch(),
            Some(1) => {
                self.blame();
                self.finish_batch()
            }
            Some(bad) if self.ws.plan.merge.parallel > 1 && bad > 2 => self.probe(bad),
            Some(bad) => self.check_prefix(bad / 2),
        }
    }

    /// With `[merge] parallel = K`: checks up to K prefixes shorter than
    /// the `bad` one that failed, at once, evenly spread, each in a lane
    /// of its own (a K-ary search in place of halving).
    fn probe(&mut self, bad: usize) -> Option<Ended> {
        let lanes = self.ws.plan.merge.parallel.max(1);
        let lens: Vec<usize> = if bad - 1 <= lanes {
            (1..bad).collect()
        } else {
            let mut lens: Vec<usize> = (1..=lanes).map(|i| i * bad / (lanes + 1)).collect();
            lens.retain(|&len| len > 0 && len < bad);
            lens.dedup();
            lens
        };
        let Some(check) = self.ws.plan.merge.check.clone() else {
            return self.check_prefix(bad / 2);
        };
        self.prepare_lanes();
        let batch = self.batch.as_ref()?;
        let (onto, expected) = (batch.onto, batch.expected);
        let members = batch.members.clone();
        let mut files = Vec::new();
        for (lane, &len) in lens.iter().enumerate() {
            let prefix: Vec<BatchMember> = members[..len].to_vec();
            let Some(last) = prefix.last().cloned() else {
                continue;
            };
            let Ok(top) = Oid::from_str(&last.merge_commit) else {
                continue;
            };
            let file = AttemptFile {
                number: self.next_attempt(),
                slice: last.slice.clone(),
                approved: last.approved.clone(),
                onto: onto.to_string(),
                expected: expected.map(|e| e.to_string()),
                merge_commit: Some(last.merge_commit.clone()),
                check_pid: None,
                check_started: None,
                started: Timestamp::now(),
                batch: prefix.clone(),
            };
            match self.start_check(&file, top, &check, Lane(lane)) {
                Ok(running) => {
                    self.record(
                        Actor::Sliceboard,
                        Event::CheckStarted {
                            slice: last.slice.clone(),
                            attempt: file.number,
                            merge_commit: top.to_string(),
                            command: format!(
                                "{check} (bisecting: the first {len} of the failed batch, {})",
                                batch_words(&prefix)
                            ),
                        },
                    );
                    files.push(running.file().clone());
                    if let Some(batch) = self.batch.as_mut() {
                        batch.probes.push(running);
                    }
                }
                Err(reason) => tracing::warn!(%reason, len, "a bisecting check could not start"),
            }
        }
        self.save_probes(&files);
        let first = self
            .batch
            .as_ref()
            .and_then(|b| b.probes.first())
            .map(|p| (p.view(), p.tail().clone()));
        match first {
            Some((view, tail)) => {
                self.show_output(view, &tail);
                None
            }
            // Not one could start: halving, one at a time.
            None => self.check_prefix(bad / 2),
        }
    }

    /// A bisecting check ended (`None` when it was not one, or others
    /// still run); when the last ends, the longest passing prefix below
    /// the shortest failing one lands and the search goes on.
    pub(super) fn probe_exited(&mut self, attempt: u64, code: Option<i32>) -> Option<Ended> {
        let batch = self.batch.as_mut()?;
        let index = batch.probes.iter().position(|p| p.number == attempt)?;
        let check = batch.probes.remove(index);
        let len = check.file().batch.len();
        let failure = match self.verdict(&check, code) {
            Ok(()) => None,
            Err((reason, details)) => Some(Failure {
                attempt,
                merge_commit: check.merge_commit().to_string(),
                reason,
                details,
                log: check.log().to_owned(),
            }),
        };
        let batch = self.batch.as_mut()?;
        batch.probed.push(Probed {
            len,
            check,
            failure,
        });
        if !batch.probes.is_empty() {
            let next = batch.probes.first().map(|p| (p.view(), p.tail().clone()));
            if let Some((view, tail)) = next {
                self.show_output(view, &tail);
            }
            return None;
        }
        let mut probed = std::mem::take(&mut batch.probed);
        probed.sort_by_key(|p| p.len);
        let failing = probed.iter().position(|p| p.failure.is_some());
        if let Some(at) = failing {
            batch.bad = Some(probed[at].len);
            batch.failure = probed[at].failure.clone();
        }
        let bad = batch.bad.unwrap_or(usize::MAX);
        self.remove_probes();
        let passing = probed
            .into_iter()
            .filter(|p| p.failure.is_none() && p.len < bad)
            .max_by_key(|p| p.len);
        let Some(passing) = passing else {
            return self.narrow();
        };
        let file = passing.check.file().clone();
        self.publish_dbt_state(passing.check.lane());
        let ended = self.publish_merge(&file, passing.check.merge_commit());
        self.after_batch_move(&file, ended)
    }

    fn probes_file(&self) -> std::path::PathBuf {
        self.ws.state_dir.merge_dir().join("lanes.json")
    }

    /// Records the bisecting checks in play, as speculative checks are,
    /// for recovery.
    fn save_probes(&self, files: &[AttemptFile]) {
        let saved = serde_json::to_vec_pretty(files)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                crate::store::write_atomic(&self.probes_file(), &text).map_err(|e| e.to_string())
            });
        if let Err(err) = saved {
            tracing::warn!(%err, "cannot record the bisecting checks in play");
        }
    }

    fn remove_probes(&self) {
        let _ = std::fs::remove_file(self.probes_file());
    }

    /// Shutting down during a parallel bisection: the checks stop, and
    /// every slice of the batch still in play is interrupted.
    pub(super) fn interrupt_probes(&mut self) {
        let Some(batch) = self.batch.as_ref() else {
            return;
        };
        if batch.probes.is_empty() {
            return;
        }
        for probe in &batch.probes {
            probe.stop();
        }
        let number = batch.probes[0].number;
        let slices: Vec<SliceName> = batch.members.iter().map(|m| m.slice.clone()).collect();
        for slice in slices {
            self.record(
                Actor::Sliceboard,
                Event::MergeInterrupted {
                    slice,
                    attempt: number,
                },
            );
        }
        self.batch = None;
        self.remove_probes();
    }

    /// The first slice in play is the one that breaks the batch: it gets
    /// the failure, as a failed merge would.
    fn blame(&mut self) {
        let Some(batch) = self.batch.as_mut() else {
            return;
        };
        if batch.members.is_empty() {
            return;
        }
        let culprit = batch.members.remove(0);
        let failure = batch.failure.clone();
        batch.bad = None;
        let Some(failure) = failure else {
            return;
        };
        let reason = failure.reason.clone();
        batch.failed.push((culprit.slice.clone(), reason.clone()));
        self.attention(
            &culprit.slice,
            Attention {
                approved: culprit.approved.clone(),
                attempt: failure.attempt,
                reason: reason.clone(),
                paths: Vec::new(),
                details: failure.details,
                log: Some(failure.log),
                at: Timestamp::now(),
            },
            Some(Event::CheckFailed {
                slice: culprit.slice.clone(),
                attempt: failure.attempt,
                merge_commit: failure.merge_commit,
                reason: format!("{reason} (found by bisecting its batch)"),
            }),
        );
        self.after_failed_attempt(&culprit.slice, &reason);
    }

    /// The batch is over: the slices still in play (behind a culprit) stay
    /// queued and are batched again on the new tip.
    fn finish_batch(&mut self) -> Option<Ended> {
        let batch = self.batch.take()?;
        Some(Ended::Batch {
            merged: batch.merged,
            failed: batch.failed,
        })
    }

    fn end_batch_with(&mut self, slice: &SliceName, reason: String) -> Option<Ended> {
        self.batch = None;
        Some(Ended::Failed {
            slice: slice.clone(),
            reason,
        })
    }
}

/// "a, b and c".
fn batch_words(members: &[BatchMember]) -> String {
    let names: Vec<SliceName> = members.iter().map(|m| m.slice.clone()).collect();
    crate::domain::queue::and_words(&names)
}
