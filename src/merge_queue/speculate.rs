//! Speculative checks (`[merge] parallel = K`): up to K queue entries are
//! checked at once, entry i on the integration tip plus entries 1..i-1
//! (each entry's merge commit made on the one before it), each in a lane
//! of its own: a check worktree and a dbt database no other check writes.
//!
//! The branch still moves in queue order only: the first entry lands when
//! its check passed, by compare-and-swap from the commit its check
//! assumed, then the next if it passed too. An entry whose check fails
//! while entries ahead of it still run is not blamed yet (its failure may
//! be theirs); the entries behind it assumed it, so their checks are
//! stopped and started again without it. It is blamed (told, and given its
//! failure, as a failed merge would be) once everything ahead of it
//! landed. A lane freed by a landing takes the next ready slice, merged on
//! the last entry in play, so K checks keep running while slices are
//! ready. A slice whose `after` names an entry in play may join behind it.
//!
//! `merge/lanes.json` records every entry in play with its merge commit
//! and check (and, during a parallel bisection, every prefix being
//! checked: `batch`), so a supervisor killed at any moment leaves the branch at a
//! checked commit; the next one stops the checks, records as merged each
//! entry the branch holds, and every other as interrupted.

use std::collections::BTreeSet;
use std::path::PathBuf;

use jiff::Timestamp;

use super::attempt::{AttemptFile, reset_worktree_of};
use super::check::{Lane, Running};
use super::{Ended, MergeQueue};
use crate::domain::queue::{EntryState, and_words};
use crate::domain::{Event, Lifecycle, SliceName};
use crate::git::{Made, Oid};
use crate::store::{Actor, Attention, write_atomic};

/// The speculative checks in play.
pub(super) struct Speculation {
    /// What the first entry's merge is made on (the integration tip, else
    /// the base's), and the tip the branch must be at when it moves
    /// (`None`: it does not exist yet).
    onto: Oid,
    expected: Option<Oid>,
    /// In queue order.
    entries: Vec<Entry>,
    /// Started by the queue itself (`[merge] auto`): the operator's hold
    /// stops it taking more.
    own: bool,
    /// Slices the job asking for this had tried already.
    tried: Vec<SliceName>,
    /// Slices that conflict with an entry ahead of them (not with the
    /// tip): left for when the entries in play have landed.
    later: BTreeSet<SliceName>,
    merged: Vec<(SliceName, String)>,
    failed: Vec<(SliceName, String)>,
}

struct Entry {
    check: Running,
    /// What its merge commit was made on.
    parent: Oid,
    /// The slices ahead of it that its check assumed.
    assumes: Vec<SliceName>,
    outcome: Outcome,
}

enum Outcome {
    Checking,
    Passed,
    /// Failed; blamed once everything ahead of it has landed.
    Failed {
        reason: String,
        details: Vec<String>,
    },
}

impl Speculation {
    /// The entries still assumed by whatever joins behind them.
    fn chain(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| !matches!(e.outcome, Outcome::Failed { .. }))
    }

    /// What the next entry is merged on.
    fn top(&self) -> Oid {
        self.chain()
            .last()
            .map_or(self.onto, |e| e.check.merge_commit())
    }

    fn chain_slices(&self) -> Vec<SliceName> {
        self.chain().map(|e| e.check.slice.clone()).collect()
    }

    /// A lane no check holds (a passed check keeps its lane, its dbt
    /// build, until it lands).
    fn free_lane(&self, lanes: usize) -> Option<Lane> {
        (0..lanes).map(Lane).find(|lane| {
            !self
                .entries
                .iter()
                .any(|e| e.check.lane() == *lane && !matches!(e.outcome, Outcome::Failed { .. }))
        })
    }

    fn holds(&self, slice: &SliceName) -> bool {
        self.entries.iter().any(|e| &e.check.slice == slice)
            || self.failed.iter().any(|(s, _)| s == slice)
            || self.merged.iter().any(|(s, _)| s == slice)
            || self.tried.contains(slice)
            || self.later.contains(slice)
    }
}

impl MergeQueue {
    /// Starts speculative checks of `slices` (ready, in queue order);
    /// `None` while checks run.
    pub(super) fn begin_speculation(
        &mut self,
        slices: Vec<SliceName>,
        tried: Vec<SliceName>,
        own: bool,
    ) -> Option<Ended> {
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
        self.prepare_lanes();
        self.speculation = Some(Speculation {
            onto,
            expected,
            entries: Vec::new(),
            own,
            tried,
            later: BTreeSet::new(),
            merged: Vec::new(),
            failed: Vec::new(),
        });
        for slice in slices {
            self.join(&slice);
        }
        self.settle()
    }

    /// Creates the check worktrees of every lane that has none yet, all at
    /// once (on a large repository each is seconds of checkout), so the
    /// first checks do not wait for each other's.
    pub(super) fn prepare_lanes(&self) {
        let lanes = self.ws.plan.merge.parallel.max(1);
        let missing: Vec<PathBuf> = (0..lanes)
            .map(|n| Lane(n).worktree(&self.ws))
            .filter(|w| !w.join(".git").is_file())
            .collect();
        if missing.len() < 2 {
            return;
        }
        let root = self.ws.git.root();
        std::thread::scope(|scope| {
            for worktree in &missing {
                scope.spawn(move || {
                    if let Err(err) = reset_worktree_of(root, worktree, None) {
                        tracing::warn!(%err, worktree = %worktree.display(), "cannot create a check worktree");
                    }
                });
            }
        });
    }

    /// Merges `slice` on the last entry in play and starts its check in a
    /// free lane. False when it did not join (no lane, refused, a
    /// conflict); a refusal or a conflict with the tip is told and counted.
    fn join(&mut self, slice: &SliceName) -> bool {
        let lanes = self.ws.plan.merge.parallel.max(1);
        let Some(check) = self.ws.plan.merge.check.clone() else {
            return false;
        };
        let Some(spec) = self.speculation.as_ref() else {
            return false;
        };
        let Some(lane) = spec.free_lane(lanes) else {
            return false;
        };
        let (top, onto, expected) = (spec.top(), spec.onto, spec.expected);
        let assumes = spec.chain_slices();
        let approved = match self.may_merge_behind(slice, &assumes) {
            Ok(approved) => approved,
            Err(reason) => {
                self.refuse(slice, &reason);
                self.speculation_failed(slice, reason);
                return false;
            }
        };
        self.refused.remove(slice);
        let Ok(commit) = Oid::from_str(&approved) else {
            return false;
        };
        let file = AttemptFile {
            number: self.next_attempt(),
            slice: slice.clone(),
            approved: approved.clone(),
            onto: top.to_string(),
            expected: if top == onto {
                expected.map(|e| e.to_string())
            } else {
                Some(top.to_string())
            },
            merge_commit: None,
            check_pid: None,
            check_started: None,
            started: Timestamp::now(),
            batch: Vec::new(),
        };
        let message = self.merge_message(slice, commit);
        let merge = match self.engine.merge_commit(top, commit, &message) {
            Ok(Made::Commit(merge)) => merge,
            // Against the tip itself, it is the slice's own conflict;
            // against an entry ahead of it, it waits for them to land.
            Ok(Made::Conflicts { paths }) if top == onto => {
                let reason = format!(
                    "conflicts with {} in {}",
                    self.ws.plan.integration,
                    paths.join(", ")
                );
                self.conflicted(&file, reason.clone(), paths);
                self.speculation_failed(slice, reason);
                return false;
            }
            Ok(Made::Conflicts { paths }) => {
                tracing::info!(
                    %slice,
                    paths = %paths.join(", "),
                    "conflicts with an entry checked ahead of it: left for later"
                );
                if let Some(spec) = self.speculation.as_mut() {
                    spec.later.insert(slice.clone());
                }
                return false;
            }
            Err(err) => {
                self.speculation_failed(slice, err.to_string());
                return false;
            }
        };
        let mut file = file;
        file.merge_commit = Some(merge.to_string());
        self.record(
            Actor::Sliceboard,
            Event::MergeStarted {
                slice: slice.clone(),
                attempt: file.number,
                approved: approved.clone(),
                onto: file.onto.clone(),
            },
        );
        match self.start_check(&file, merge, &check, lane) {
            Ok(running) => {
                self.record(
                    Actor::Sliceboard,
                    Event::CheckStarted {
                        slice: slice.clone(),
                        attempt: file.number,
                        merge_commit: merge.to_string(),
                        command: format!("{check} ({})", assumed_words(&assumes, lane)),
                    },
                );
                if let Some(spec) = self.speculation.as_mut() {
                    spec.entries.push(Entry {
                        check: running,
                        parent: top,
                        assumes,
                        outcome: Outcome::Checking,
                    });
                }
                self.save_lanes();
                true
            }
            Err(reason) => {
                let reason = format!("the check could not start: {reason}");
                self.fail(&file, reason.clone(), Vec::new());
                self.speculation_failed(slice, reason);
                false
            }
        }
    }

    fn speculation_failed(&mut self, slice: &SliceName, reason: String) {
        if let Some(spec) = self.speculation.as_mut() {
            spec.failed.push((slice.clone(), reason));
        }
    }

    /// The running (or passed) speculative check of `attempt`.
    pub(super) fn speculating_mut(&mut self, attempt: u64) -> Option<&mut Running> {
        self.speculation
            .as_mut()?
            .entries
            .iter_mut()
            .find(|e| e.check.number == attempt && matches!(e.outcome, Outcome::Checking))
            .map(|e| &mut e.check)
    }

    /// A speculative check ended (`None` for a check stopped on purpose,
    /// or no speculation).
    pub(super) fn speculative_check_exited(
        &mut self,
        attempt: u64,
        code: Option<i32>,
    ) -> Option<Ended> {
        let spec = self.speculation.as_ref()?;
        let index = spec
            .entries
            .iter()
            .position(|e| e.check.number == attempt && matches!(e.outcome, Outcome::Checking))?;
        let entry = &spec.entries[index];
        let slice = entry.check.slice.clone();
        let merge_commit = entry.check.merge_commit().to_string();
        if code == Some(0) {
            self.record(
                Actor::Sliceboard,
                Event::CheckPassed {
                    slice,
                    attempt,
                    merge_commit,
                },
            );
            if let Some(entry) = self.speculation.as_mut().map(|s| &mut s.entries[index]) {
                entry.outcome = Outcome::Passed;
            }
            return self.settle();
        }
        let (reason, details) = self.check_failure(code, &spec.entries[index].check);
        let ahead = spec.entries[index].assumes.clone();
        if let Some(entry) = self.speculation.as_mut().map(|s| &mut s.entries[index]) {
            entry.outcome = Outcome::Failed {
                reason: reason.clone(),
                details,
            };
        }
        if index > 0 {
            self.record(
                Actor::Sliceboard,
                Event::Progress {
                    slice: Some(slice.clone()),
                    message: format!(
                        "the check of {slice} failed on {} (attempt {attempt}): it is blamed only if {} land{}; the checks behind it start again without it",
                        assumed_words(&ahead, Lane::FIRST),
                        and_words(&ahead),
                        if ahead.len() == 1 { "s" } else { "" },
                    ),
                },
            );
        }
        self.check_again_behind(index, &slice);
        self.settle()
    }

    /// The entries behind entry `index` assumed it: their checks stop and
    /// start again without it, in order.
    fn check_again_behind(&mut self, index: usize, without: &SliceName) {
        self.check_again_from(index + 1, without);
    }

    /// The entries from `start` on assumed what did not hold (`without`
    /// failed, or did not land): their checks stop and start again, in
    /// order, on what is left ahead of them.
    fn check_again_from(&mut self, start: usize, without: &SliceName) {
        let Some(spec) = self.speculation.as_mut() else {
            return;
        };
        let behind: Vec<Entry> = spec.entries.drain(start..).collect();
        // What conflicted with the chain may fit without it.
        spec.later.clear();
        for entry in &behind {
            if matches!(entry.outcome, Outcome::Checking) {
                entry.check.stop();
            }
            self.record(
                Actor::Sliceboard,
                Event::Progress {
                    slice: Some(entry.check.slice.clone()),
                    message: if &entry.check.slice == without {
                        format!(
                            "attempt {} of {without} is checked again: what it assumed did not land",
                            entry.check.number
                        )
                    } else {
                        format!(
                            "attempt {} of {} stopped: it assumed {without}, whose check failed; checking it again without it",
                            entry.check.number, entry.check.slice
                        )
                    },
                },
            );
        }
        for entry in behind {
            self.join(&entry.check.slice);
        }
        self.save_lanes();
    }

    /// Lands what passed at the front, blames a front that failed, fills
    /// free lanes; the speculation's end when nothing is left in play.
    pub(super) fn settle(&mut self) -> Option<Ended> {
        loop {
            let spec = self.speculation.as_ref()?;
            let Some(front) = spec.entries.first() else {
                break;
            };
            match &front.outcome {
                Outcome::Checking => break,
                Outcome::Passed => {
                    if let Some(ended) = self.land_front() {
                        return Some(ended);
                    }
                }
                Outcome::Failed { .. } if front.parent != spec.onto => {
                    // Checked on something that did not land: again, with
                    // everything behind it.
                    let slice = front.check.slice.clone();
                    self.check_again_from(0, &slice);
                }
                Outcome::Failed { .. } => self.blame_front(),
            }
        }
        self.top_up();
        self.show_front_output();
        let spec = self.speculation.as_ref()?;
        if !spec.entries.is_empty() {
            return None;
        }
        let spec = self.speculation.take()?;
        self.remove_lanes();
        Some(Ended::Batch {
            merged: spec.merged,
            failed: spec.failed,
        })
    }

    /// The front passed: the branch moves to its merge commit, from the
    /// commit its check assumed. `Some` when it could not (the
    /// speculation is over).
    fn land_front(&mut self) -> Option<Ended> {
        let spec = self.speculation.as_mut()?;
        let mut entry = spec.entries.remove(0);
        // Measured now, against the build of the very tip it would move.
        if let Err((reason, details)) = self.judge_data(&entry.check) {
            let slice = entry.check.slice.clone();
            entry.outcome = Outcome::Failed { reason, details };
            self.speculation.as_mut()?.entries.insert(0, entry);
            self.check_again_behind(0, &slice);
            return None;
        }
        let spec = self.speculation.as_mut()?;
        let mut file = entry.check.file().clone();
        file.expected = spec.expected.map(|e| e.to_string());
        let commit = entry.check.merge_commit();
        self.publish_dbt_state(entry.check.lane());
        match self.publish_merge(&file, commit) {
            Ended::Merged {
                slice,
                commit: landed,
            } => {
                let spec = self.speculation.as_mut()?;
                spec.merged.push((slice, landed));
                spec.onto = commit;
                spec.expected = Some(commit);
                self.save_lanes();
                None
            }
            other => Some(self.abandon(other)),
        }
    }

    /// The front failed with everything ahead of it landed: it is the
    /// culprit, told as a failed merge would be.
    fn blame_front(&mut self) {
        let Some(spec) = self.speculation.as_mut() else {
            return;
        };
        let entry = spec.entries.remove(0);
        let Outcome::Failed { reason, details } = entry.outcome else {
            return;
        };
        spec.failed
            .push((entry.check.slice.clone(), reason.clone()));
        let file = entry.check.file();
        self.attention(
            &file.slice,
            Attention {
                approved: file.approved.clone(),
                attempt: file.number,
                reason: reason.clone(),
                paths: Vec::new(),
                details,
                log: Some(entry.check.log().to_owned()),
                at: Timestamp::now(),
            },
            Some(Event::CheckFailed {
                slice: file.slice.clone(),
                attempt: file.number,
                merge_commit: entry.check.merge_commit().to_string(),
                reason: reason.clone(),
            }),
        );
        self.after_failed_attempt(&file.slice, &reason);
        self.save_lanes();
    }

    /// Free lanes take the next ready slices, merged on the last entry in
    /// play (a slice whose `after` names only entries in play may join).
    fn top_up(&mut self) {
        let Some(spec) = self.speculation.as_ref() else {
            return;
        };
        if spec.own && (self.held() || !self.ws.plan.merge.auto) {
            return;
        }
        let Some(board) = self.shown.as_ref() else {
            return;
        };
        let chain = spec.chain_slices();
        let candidates: Vec<SliceName> = board
            .order
            .iter()
            .filter(|s| !spec.holds(s))
            .filter(
                |s| match board.slices.get(*s).and_then(|v| v.state.as_ref()) {
                    Some(EntryState::Ready) => true,
                    Some(EntryState::Waiting { on }) => on.iter().all(|o| chain.contains(o)),
                    _ => false,
                },
            )
            .cloned()
            .collect();
        let lanes = self.ws.plan.merge.parallel.max(1);
        for slice in candidates {
            let Some(spec) = self.speculation.as_ref() else {
                return;
            };
            if spec.free_lane(lanes).is_none() {
                return;
            }
            // Waiting on an entry that left the chain meanwhile: next time.
            self.join(&slice);
        }
    }

    /// Shows the front entry's check on the board.
    fn show_front_output(&mut self) {
        let front = self
            .speculation
            .as_ref()
            .and_then(|s| s.entries.first())
            .map(|e| (e.check.view(), e.check.tail().clone()));
        if let Some((view, tail)) = front {
            self.show_output(view, &tail);
        }
    }

    /// The branch could not move for the front (a lost race, a refusal):
    /// every check in play stops; what landed already is said, the rest is
    /// tried again on the new tip.
    fn abandon(&mut self, ended: Ended) -> Ended {
        let Some(spec) = self.speculation.take() else {
            return ended;
        };
        self.remove_lanes();
        for entry in &spec.entries {
            if matches!(entry.outcome, Outcome::Checking) {
                entry.check.stop();
            }
        }
        if !spec.entries.is_empty() {
            let names: Vec<SliceName> =
                spec.entries.iter().map(|e| e.check.slice.clone()).collect();
            self.record(
                Actor::Sliceboard,
                Event::Progress {
                    slice: None,
                    message: format!(
                        "stopped the checks of {}: the integration branch did not move as they assumed; they are tried again",
                        and_words(&names)
                    ),
                },
            );
        }
        if spec.merged.is_empty() && spec.failed.is_empty() {
            return ended;
        }
        let mut failed = spec.failed;
        if let Ended::Failed { slice, reason } | Ended::Raced { slice, reason } = ended {
            failed.push((slice, reason));
        }
        Ended::Batch {
            merged: spec.merged,
            failed,
        }
    }

    /// Shutting down: every check in play stops, and its attempt is
    /// recorded as interrupted.
    pub(super) fn interrupt_speculation(&mut self) {
        let Some(spec) = self.speculation.take() else {
            return;
        };
        for entry in &spec.entries {
            if matches!(entry.outcome, Outcome::Checking) {
                entry.check.stop();
            }
        }
        for entry in &spec.entries {
            self.record(
                Actor::Sliceboard,
                Event::MergeInterrupted {
                    slice: entry.check.slice.clone(),
                    attempt: entry.check.number,
                },
            );
        }
        self.remove_lanes();
    }

    /// The slices whose speculative checks are in play.
    pub(super) fn speculating(&self) -> Vec<SliceName> {
        self.speculation
            .as_ref()
            .map(|s| s.entries.iter().map(|e| e.check.slice.clone()).collect())
            .unwrap_or_default()
    }

    /// Each entry in play, in words, for the Queue view.
    pub(super) fn speculation_notes(&self) -> Vec<(SliceName, String)> {
        let Some(spec) = self.speculation.as_ref() else {
            return Vec::new();
        };
        spec.entries
            .iter()
            .map(|e| {
                let mut on = assumed_words(&e.assumes, Lane::FIRST);
                let lane = e.check.lane().words();
                if !lane.is_empty() {
                    on.push_str(&format!(" · {lane}"));
                }
                on.push_str(&format!(" · attempt {}", e.check.number));
                let note = match &e.outcome {
                    Outcome::Checking => format!("on {on}"),
                    Outcome::Passed => {
                        format!("passed on {on}; lands after {}", and_words(&e.assumes))
                    }
                    Outcome::Failed { .. } => format!(
                        "failed on {on}; blamed if {} land{}",
                        and_words(&e.assumes),
                        if e.assumes.len() == 1 { "s" } else { "" }
                    ),
                };
                (e.check.slice.clone(), note)
            })
            .collect()
    }

    /// The front entry's attempt, for the board.
    pub(super) fn speculation_attempt(&self) -> Option<crate::domain::queue::AttemptView> {
        self.speculation
            .as_ref()?
            .entries
            .iter()
            .find(|e| matches!(e.outcome, Outcome::Checking))
            .map(|e| e.check.view())
    }

    fn lanes_file(&self) -> PathBuf {
        self.ws.state_dir.merge_dir().join("lanes.json")
    }

    /// Records the entries in play (not the failed ones: no commit of
    /// theirs can land), with their checks, for recovery.
    fn save_lanes(&self) {
        let Some(spec) = self.speculation.as_ref() else {
            return;
        };
        let files: Vec<&AttemptFile> = spec.chain().map(|e| e.check.file()).collect();
        let saved = crate::os::private::create_dir(&self.ws.state_dir.merge_dir())
            .map_err(|e| e.to_string())
            .and_then(|()| serde_json::to_vec_pretty(&files).map_err(|e| e.to_string()))
            .and_then(|text| write_atomic(&self.lanes_file(), &text).map_err(|e| e.to_string()));
        if let Err(err) = saved {
            tracing::warn!(%err, "cannot record the speculative checks in play");
        }
    }

    fn remove_lanes(&self) {
        let _ = std::fs::remove_file(self.lanes_file());
    }

    /// What a supervisor killed during speculative checks left: the
    /// checks are stopped; each entry the integration branch holds is
    /// recorded as merged (when it was not yet), every other as
    /// interrupted.
    pub(super) fn recover_lanes(&mut self) {
        let path = self.lanes_file();
        let Ok(text) = std::fs::read_to_string(&path) else {
            return;
        };
        let Ok(files) = serde_json::from_str::<Vec<AttemptFile>>(&text) else {
            tracing::warn!(path = %path.display(), "unreadable record of speculative checks; removed");
            self.remove_lanes();
            return;
        };
        files.iter().for_each(super::attempt::stop_recorded_check);
        let tip = self.engine.tip(&self.ws.plan.integration).ok().flatten();
        let state = self.state();
        let mut interrupted = BTreeSet::new();
        for file in files {
            let commit = file
                .merge_commit
                .as_deref()
                .and_then(|c| Oid::from_str(c).ok());
            let landed = match (commit, tip) {
                (Some(commit), Some(tip)) => {
                    commit == tip
                        || self.engine.merge_base(commit, tip).ok().flatten() == Some(commit)
                }
                _ => false,
            };
            let recorded = state.slices.get(&file.slice).is_some_and(|r| {
                r.lifecycle == Lifecycle::Merged
                    && r.merged.as_ref().map(|m| m.commit.as_str()) == file.merge_commit.as_deref()
            });
            match commit {
                Some(commit) if landed && !recorded => {
                    tracing::info!(
                        attempt = file.number,
                        slice = %file.slice,
                        "a speculative check's merge had landed; recording it"
                    );
                    self.finish_merge(&file, commit);
                }
                _ if landed => {}
                _ => {
                    let slices: Vec<SliceName> = if file.batch.is_empty() {
                        vec![file.slice.clone()]
                    } else {
                        file.batch.iter().map(|m| m.slice.clone()).collect()
                    };
                    for slice in slices {
                        if interrupted.insert(slice.clone()) {
                            self.record(
                                Actor::Sliceboard,
                                Event::MergeInterrupted {
                                    slice,
                                    attempt: file.number,
                                },
                            );
                        }
                    }
                }
            }
        }
        self.remove_lanes();
    }
}

/// "the tip + a, b (check worktree 2)".
fn assumed_words(ahead: &[SliceName], lane: Lane) -> String {
    let mut words = if ahead.is_empty() {
        "the tip".to_owned()
    } else {
        format!(
            "the tip + {}",
            ahead
                .iter()
                .map(SliceName::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let lane = lane.words();
    if !lane.is_empty() {
        words.push_str(&format!(", in {lane}"));
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<SliceName> {
        list.iter().map(|n| SliceName::parse(n).unwrap()).collect()
    }

    #[test]
    fn says_what_a_check_assumed() {
        assert_eq!(assumed_words(&[], Lane::FIRST), "the tip");
        assert_eq!(
            assumed_words(&names(&["a", "b"]), Lane(2)),
            "the tip + a, b, in check worktree 3"
        );
    }
}
