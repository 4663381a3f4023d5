//! The merge queue as plain data: which approved slices merge in which
//! order, what each one waits for, and what the board shows about merging.
//!
//! The order is the plan's `after` graph first, approval time second: a
//! slice never merges before a slice it comes after, however early it was
//! approved. What each entry is doing (waiting, ready, conflicting,
//! checking, failed, merged) is computed by [`entry_state`] from facts
//! the merge-queue service gathers (git, the check); nothing here reads
//! git or files.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::ownership::PathFlag;
use super::short_commit;
use super::slice::{Lifecycle, SliceName};

/// How many lines of the running check the board keeps.
pub const CHECK_LINES_KEPT: usize = 2_000;

/// Everything the board shows about merging.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueBoard {
    /// The branch approved slices merge into.
    pub integration: String,
    /// Its tip, or `None` before the first merge creates it.
    pub integration_tip: Option<String>,
    /// The plan's `[merge] check`, if any.
    pub check: Option<String>,
    /// `[merge] auto`: ready slices merge without a key.
    pub auto: bool,
    /// Queued slices (approved, not merged), in merge order.
    pub order: Vec<SliceName>,
    /// Every slice with a branch.
    pub slices: BTreeMap<SliceName, MergeView>,
    /// Active slices whose branches would conflict with each other.
    pub pairs: Vec<PairConflict>,
    /// The attempt running now.
    pub attempt: Option<AttemptView>,
    /// The running (or last) check's output, newest last.
    pub check_output: VecDeque<String>,
    /// What the queue does by itself (`[merge] approve`, `on_failure`,
    /// `auto`), in words; empty when it does nothing by itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs_itself: Vec<String>,
    /// The operator held the queue: nothing automatic happens.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
    /// What the last `publish` did (pushed where, the forge command's URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// The attempt `check_output` is the output of (running or the last
    /// one); its whole output is `merge/attempt-N.log` in the state folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_of: Option<AttemptView>,
}

/// One slice as far as merging goes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MergeView {
    /// The branch's tip now.
    pub tip: Option<String>,
    pub approval: Option<ApprovalView>,
    /// Position in the queue, from 1; `None` when not queued.
    pub position: Option<usize>,
    /// `None` for a slice that is neither queued nor merged.
    pub state: Option<EntryState>,
    /// Paths that conflict with the integration tip (the preview), for
    /// every slice with commits, queued or not.
    pub conflicts: Vec<String>,
    /// Slices it comes after that merged since it was last told.
    pub upstream_merged: Vec<SliceName>,
    /// When it last reached the integration branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_at: Option<Timestamp>,
    /// What the queue, running itself, waits for before it approves the
    /// slice, or that the slice needs the operator (and why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autopilot: Option<String>,
    /// Its speculative check (`[merge] parallel`): on what it runs, or
    /// that it passed or failed and waits for the entries ahead of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speculative: Option<String>,
    /// What its last passing check's merge did to the data
    /// (`[merge] data_diff`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataDiff>,
    /// It is on its way out, and how: a clean or a pick takes its
    /// worktree down (its approval and merge refused meanwhile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub going: Option<String>,
}

impl MergeView {
    /// How `slice` is on its way out, in words after its name ("is being
    /// retired: …"), for places that name the slice already.
    pub fn going_words(&self, slice: &SliceName) -> Option<&str> {
        let going = self.going.as_deref()?;
        Some(
            going
                .strip_prefix(slice.as_str())
                .map_or(going, str::trim_start),
        )
    }
}

/// What a merge does to the data (`[merge] data_diff`): the models its
/// check built, each with its rows and columns in the published
/// integration build (before) and in the check's build (after).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataDiff {
    /// The attempt whose check built them.
    pub attempt: u64,
    /// The models whose rows or columns differ, in build order.
    pub models: Vec<ModelDelta>,
    /// How many models the check built that did not change.
    pub unchanged: usize,
    /// Why no diff could be made, when none was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// One model's rows and columns before and after a merge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelDelta {
    pub model: String,
    /// `None`: the relation did not exist (before: a new model).
    pub rows_before: Option<u64>,
    pub rows_after: Option<u64>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl ModelDelta {
    /// "mart_001: 12 → 10 rows (−2); added v; removed last_id".
    pub fn describe(&self) -> String {
        let rows = match (self.rows_before, self.rows_after) {
            (None, Some(after)) => format!("new, {after} rows"),
            (Some(before), None) => format!("gone (had {before} rows)"),
            (Some(before), Some(after)) if before == after => format!("{after} rows"),
            (Some(before), Some(after)) => {
                let change = i128::from(after) - i128::from(before);
                let sign = if change > 0 { "+" } else { "−" };
                format!("{before} → {after} rows ({sign}{})", change.unsigned_abs())
            }
            (None, None) => "no table".to_owned(),
        };
        let mut said = format!("{}: {rows}", self.model);
        if !self.added.is_empty() && self.rows_before.is_some() {
            said.push_str(&format!("; added {}", self.added.join(", ")));
        }
        if !self.removed.is_empty() && self.rows_after.is_some() {
            said.push_str(&format!("; removed {}", self.removed.join(", ")));
        }
        said
    }
}

impl DataDiff {
    /// `model.column` for every column the merge removes from a model
    /// the integration build has.
    pub fn removed_columns(&self) -> Vec<String> {
        self.models
            .iter()
            .filter(|m| m.rows_before.is_some() && m.rows_after.is_some())
            .flat_map(|m| m.removed.iter().map(move |c| format!("{}.{c}", m.model)))
            .collect()
    }

    /// The diff in lines for a person: each changed model, then how many
    /// did not change.
    pub fn lines(&self) -> Vec<String> {
        if let Some(why) = &self.unavailable {
            return vec![format!("no data diff: {why}")];
        }
        let mut lines: Vec<String> = self.models.iter().map(ModelDelta::describe).collect();
        match (lines.is_empty(), self.unchanged) {
            (true, 0) => lines.push("the check built no model".to_owned()),
            (true, n) => lines.push(format!(
                "no change in rows or columns ({n} model{} built)",
                if n == 1 { "" } else { "s" }
            )),
            (false, 0) => {}
            (false, n) => lines.push(format!("{n} more built with no change")),
        }
        lines
    }
}

impl QueueBoard {
    /// How many paths of `slice` would conflict: with the integration
    /// tip, or with another active slice.
    pub fn conflict_paths(&self, slice: &SliceName) -> usize {
        let mut paths: std::collections::BTreeSet<&str> = self
            .slices
            .get(slice)
            .map(|v| v.conflicts.iter().map(String::as_str).collect())
            .unwrap_or_default();
        for pair in self.pairs.iter().filter(|p| &p.a == slice || &p.b == slice) {
            paths.extend(pair.paths.iter().map(String::as_str));
        }
        paths.len()
    }

    /// The merged slices and their merge commits, in the order they
    /// merged (by merge time, then name).
    /// Each merged slice with its merge commit and the commits its branch
    /// got since, in the order they merged.
    pub fn merged_in_order(&self) -> Vec<(&SliceName, &str, usize)> {
        let mut merged: Vec<(&SliceName, &MergeView, &str, usize)> = self
            .slices
            .iter()
            .filter_map(|(slice, view)| match &view.state {
                Some(EntryState::Merged {
                    commit,
                    new_commits,
                }) => Some((slice, view, commit.as_str(), *new_commits)),
                _ => None,
            })
            .collect();
        merged.sort_by_key(|(slice, view, _, _)| (view.merged_at, *slice));
        merged
            .into_iter()
            .map(|(slice, _, commit, new_commits)| (slice, commit, new_commits))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalView {
    pub commit: String,
    pub at: Timestamp,
    /// The branch moved after the approval: it will not merge.
    pub stale: bool,
}

/// Where a queued (or merged) slice stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EntryState {
    /// A slice it comes after has not merged yet.
    Waiting { on: Vec<SliceName> },
    /// Merges cleanly into the integration tip; next in line or behind others.
    Ready,
    /// Would conflict with the integration tip on these paths.
    Conflicts { paths: Vec<String> },
    /// Being merged and checked now.
    Checking,
    /// The last attempt failed; the slice needs attention.
    Failed { reason: String },
    /// The branch moved after the approval; approve again to queue it.
    Stale { now: Option<String> },
    /// Reached the integration branch in this merge commit; the branch
    /// has `new_commits` since that the integration branch lacks (approve
    /// it again to merge them).
    Merged {
        commit: String,
        #[serde(default, skip_serializing_if = "is_zero")]
        new_commits: usize,
    },
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// "merged", or "merged, N new commit(s)" once the branch moved on.
pub fn merged_word(new_commits: usize) -> String {
    match new_commits {
        0 => "merged".to_owned(),
        n => format!("merged, {}", new_commits_phrase(n)),
    }
}

/// "1 new commit", "N new commits".
pub fn new_commits_phrase(n: usize) -> String {
    if n == 1 {
        "1 new commit".to_owned()
    } else {
        format!("{n} new commits")
    }
}

impl EntryState {
    /// One word for the board.
    pub fn label(&self) -> &'static str {
        match self {
            EntryState::Waiting { .. } => "waiting",
            EntryState::Ready => "ready",
            EntryState::Conflicts { .. } => "conflicts",
            EntryState::Checking => "checking",
            EntryState::Failed { .. } => "failed",
            EntryState::Stale { .. } => "stale",
            EntryState::Merged { .. } => "merged",
        }
    }

    /// The state and its detail, for a person.
    pub fn describe(&self) -> String {
        match self {
            EntryState::Waiting { on } => format!("waiting for {}", names(on)),
            EntryState::Ready => "ready".into(),
            EntryState::Conflicts { paths } => format!("conflicts in {}", paths.join(", ")),
            EntryState::Checking => "checking".into(),
            EntryState::Failed { reason } => format!("failed: {reason}"),
            EntryState::Stale { now } => match now {
                Some(now) => format!(
                    "stale: the branch moved to {} after approval; approve again",
                    short_commit(now)
                ),
                None => "stale: the branch is gone".into(),
            },
            EntryState::Merged {
                commit,
                new_commits: 0,
            } => format!("merged in {}", short_commit(commit)),
            EntryState::Merged {
                commit,
                new_commits,
            } => format!(
                "{} since it merged in {}; approve it again to merge {}",
                merged_word(*new_commits),
                short_commit(commit),
                if *new_commits == 1 { "it" } else { "them" }
            ),
        }
    }
}

impl QueueBoard {
    /// Commits a merged slice's branch has that the integration branch
    /// lacks; 0 for a slice that is not merged.
    pub fn new_commits(&self, slice: &SliceName) -> usize {
        match self.slices.get(slice).and_then(|v| v.state.as_ref()) {
            Some(EntryState::Merged { new_commits, .. }) => *new_commits,
            _ => 0,
        }
    }
}

/// Two active slices whose branches conflict with each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairConflict {
    pub a: SliceName,
    pub b: SliceName,
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    pub slice: SliceName,
    pub number: u64,
    pub started: Timestamp,
}

impl AttemptView {
    /// Its check's whole output, relative to the state folder.
    pub fn log(&self) -> String {
        format!("merge/attempt-{}.log", self.number)
    }
}

/// What decides a queued slice's place and state.
#[derive(Debug, Clone)]
pub struct Queued<'a> {
    pub slice: &'a SliceName,
    pub after: &'a [SliceName],
    pub approved_at: Timestamp,
}

/// Approved slices in merge order: never before a slice they come after
/// (when both are queued), otherwise by approval time, then name.
pub fn queue_order(queued: &[Queued<'_>]) -> Vec<SliceName> {
    let names: BTreeSet<&SliceName> = queued.iter().map(|q| q.slice).collect();
    let mut placed: BTreeSet<&SliceName> = BTreeSet::new();
    let mut order = Vec::with_capacity(queued.len());
    while order.len() < queued.len() {
        let next = queued
            .iter()
            .filter(|q| !placed.contains(q.slice))
            .filter(|q| {
                q.after
                    .iter()
                    .all(|dep| !names.contains(dep) || placed.contains(dep))
            })
            .min_by_key(|q| (q.approved_at, q.slice));
        // A cycle (the plan refuses those) falls back to approval order.
        let next = next.or_else(|| {
            queued
                .iter()
                .filter(|q| !placed.contains(q.slice))
                .min_by_key(|q| (q.approved_at, q.slice))
        });
        let Some(next) = next else { break };
        placed.insert(next.slice);
        order.push(next.slice.clone());
    }
    order
}

/// The facts about one queued slice that decide its state.
#[derive(Debug, Clone, Default)]
pub struct EntryFacts {
    /// Slices it comes after that have not merged.
    pub unmerged_upstream: Vec<SliceName>,
    /// Its branch is no longer at the approved commit (`Some(now)`), or gone.
    pub moved: Option<Option<String>>,
    pub checking: bool,
    /// Why the last attempt at this approval failed.
    pub failed: Option<String>,
    /// Paths the preview says conflict with the integration tip.
    pub conflicts: Vec<String>,
}

/// A queued slice's state: stale beats waiting beats checking beats
/// failed beats conflicts; otherwise ready.
pub fn entry_state(facts: &EntryFacts) -> EntryState {
    if let Some(now) = &facts.moved {
        return EntryState::Stale { now: now.clone() };
    }
    if !facts.unmerged_upstream.is_empty() {
        return EntryState::Waiting {
            on: facts.unmerged_upstream.clone(),
        };
    }
    if facts.checking {
        return EntryState::Checking;
    }
    if let Some(reason) = &facts.failed {
        return EntryState::Failed {
            reason: reason.clone(),
        };
    }
    if !facts.conflicts.is_empty() {
        return EntryState::Conflicts {
            paths: facts.conflicts.clone(),
        };
    }
    EntryState::Ready
}

/// Why approving a slice deserves a second look: each reason is one line.
#[derive(Debug, Clone, Default)]
pub struct ApprovalFacts<'a> {
    pub flags: &'a [PathFlag],
    /// The last dbt run's verdict; `None` when the slice has no dbt project.
    pub dbt: Option<DbtVerdict>,
    /// Slices it comes after, with their lifecycle.
    pub upstream: Vec<(SliceName, Lifecycle)>,
    /// The operator's review comments on it not sent yet.
    pub unsent_comments: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbtVerdict {
    Passed,
    NeverRan,
    Failed {
        summary: String,
    },
    StillRunning,
    /// Files of the commit changed after the last run started.
    Outdated {
        newest: String,
    },
}

pub fn approval_concerns(facts: &ApprovalFacts<'_>) -> Vec<String> {
    let mut reasons = Vec::new();
    let outside: Vec<&str> = facts
        .flags
        .iter()
        .filter(|f| matches!(f, PathFlag::Outside { .. }))
        .map(PathFlag::path)
        .collect();
    if !outside.is_empty() {
        reasons.push(format!(
            "it changed paths it does not own: {}",
            list(&outside)
        ));
    }
    let shared: Vec<String> = facts
        .flags
        .iter()
        .filter_map(|f| match f {
            PathFlag::Overlap { path, other } => Some(format!("{path} (also {other})")),
            PathFlag::Outside { .. } => None,
        })
        .collect();
    if !shared.is_empty() {
        let shared: Vec<&str> = shared.iter().map(String::as_str).collect();
        reasons.push(format!(
            "it changed paths other slices also change: {}",
            list(&shared)
        ));
    }
    match &facts.dbt {
        None | Some(DbtVerdict::Passed) => {}
        Some(DbtVerdict::NeverRan) => reasons.push("dbt never ran in its worktree".into()),
        Some(DbtVerdict::Failed { summary }) => {
            reasons.push(format!("its last dbt run failed ({summary})"));
        }
        Some(DbtVerdict::StillRunning) => reasons.push("its dbt run has not finished".into()),
        Some(DbtVerdict::Outdated { newest }) => reasons.push(format!(
            "dbt has not run on its current commit ({newest} changed after the last run)"
        )),
    }
    let pending: Vec<SliceName> = facts
        .upstream
        .iter()
        .filter(|(_, l)| {
            !matches!(
                l,
                Lifecycle::Approved | Lifecycle::Merged | Lifecycle::Retired
            )
        })
        .map(|(name, _)| name.clone())
        .collect();
    if !pending.is_empty() {
        reasons.push(format!(
            "it comes after {}, not approved or merged yet",
            names(&pending)
        ));
    }
    match facts.unsent_comments {
        0 => {}
        n => reasons.push(format!(
            "{n} review comment{} on it not sent yet (s in the Diff tab's review, or `sliceboard review-send`)",
            if n == 1 { "" } else { "s" }
        )),
    }
    reasons
}

/// What a refused approval says; the dashboard turns it into a question.
pub const SECOND_LOOK: &str = "needs a second look before approval:";

/// The refusal of an approval that has concerns, one per line.
pub fn concerns_refusal(slice: &SliceName, concerns: &[String]) -> String {
    let mut text = format!("{slice} {SECOND_LOOK}\n");
    for concern in concerns {
        text.push_str(&format!("- {concern}\n"));
    }
    text.push_str("approve anyway with --force");
    text
}

/// The concerns in a refusal made by [`concerns_refusal`].
pub fn parse_concerns(text: &str) -> Option<Vec<String>> {
    let mut lines = text.lines();
    if !lines.next()?.ends_with(SECOND_LOOK) {
        return None;
    }
    Some(
        lines
            .filter_map(|l| l.strip_prefix("- "))
            .map(str::to_owned)
            .collect(),
    )
}

fn list(paths: &[&str]) -> String {
    const SHOWN: usize = 5;
    let mut text = paths[..paths.len().min(SHOWN)].join(", ");
    if paths.len() > SHOWN {
        text.push_str(&format!(" and {} more", paths.len() - SHOWN));
    }
    text
}

/// "a, b and c".
pub fn and_words(slices: &[SliceName]) -> String {
    let names: Vec<&str> = slices.iter().map(SliceName::as_str).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

/// "a, b, c".
pub fn names(slices: &[SliceName]) -> String {
    slices
        .iter()
        .map(SliceName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> SliceName {
        SliceName::parse(s).unwrap()
    }

    #[test]
    fn after_order_beats_approval_time() {
        let (a, b, c) = (name("a"), name("b"), name("c"));
        let after_a = [a.clone()];
        let t = |s: i64| Timestamp::from_second(s).unwrap();
        // b comes after a but was approved first; c was approved last.
        let queued = [
            Queued {
                slice: &b,
                after: &after_a,
                approved_at: t(1),
            },
            Queued {
                slice: &c,
                after: &[],
                approved_at: t(3),
            },
            Queued {
                slice: &a,
                after: &[],
                approved_at: t(2),
            },
        ];
        assert_eq!(queue_order(&queued), vec![a.clone(), b.clone(), c.clone()]);
        // Without a queued upstream, approval time decides.
        let queued = [
            Queued {
                slice: &b,
                after: &after_a,
                approved_at: t(1),
            },
            Queued {
                slice: &c,
                after: &[],
                approved_at: t(0),
            },
        ];
        assert_eq!(queue_order(&queued), vec![c, b]);
    }

    #[test]
    fn stale_and_waiting_come_first() {
        let facts = EntryFacts {
            moved: Some(Some("abc".into())),
            unmerged_upstream: vec![name("a")],
            ..EntryFacts::default()
        };
        assert_eq!(entry_state(&facts).label(), "stale");
        let facts = EntryFacts {
            unmerged_upstream: vec![name("a")],
            conflicts: vec!["x".into()],
            ..EntryFacts::default()
        };
        assert_eq!(entry_state(&facts).describe(), "waiting for a");
        let facts = EntryFacts {
            conflicts: vec!["x.sql".into()],
            ..EntryFacts::default()
        };
        assert_eq!(entry_state(&facts).describe(), "conflicts in x.sql");
        assert_eq!(entry_state(&EntryFacts::default()), EntryState::Ready);
    }
}
