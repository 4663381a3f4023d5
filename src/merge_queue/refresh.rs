//! What the queue knows about the branches, read again every tick: the
//! tips, approvals that went stale, conflict previews (each queued or
//! active slice against the integration tip, and active slices against
//! each other), and the [`QueueBoard`] built from them. The state comes
//! from the supervisor's store, taken again only when it changed; nothing
//! here reads `state.json` but [`read_board`], for a command with no
//! supervisor.
//!
//! Reading a few refs is cheap; previews are cached by the pair of commits
//! merged, so a tick where no branch moved costs no merge at all. Pairs of
//! slices whose changes touch no common path are never merged: they cannot
//! conflict.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::domain::board::BoardUpdate;
use crate::domain::queue::{
    ApprovalView, AttemptView, EntryFacts, EntryState, MergeView, PairConflict, QueueBoard, Queued,
    entry_state, queue_order,
};
use crate::domain::{Event, Lifecycle, SliceName};
use crate::git::{Oid, Preview};
use crate::store::{Entry, SliceRecord, State};

use super::MergeQueue;
use super::check::Running;
use crate::git::MergeEngine;
use crate::workspace::Workspace;

/// Cached answers about commits (they never change for a given pair).
#[derive(Default)]
pub struct Facts {
    previews: HashMap<(Oid, Oid), Preview>,
    /// Paths a slice's tip changed since its merge base with the target.
    changed: HashMap<(Oid, Oid), BTreeSet<String>>,
    /// Commits a merged slice's tip has that the integration tip lacks.
    ahead: HashMap<(Oid, Oid), usize>,
}

/// What one refresh read.
pub struct Tips {
    /// The integration branch's tip (`None` before the first merge).
    pub integration: Option<Oid>,
    /// What slices merge onto: the integration tip, else the base's.
    pub target: Option<Oid>,
    pub slices: BTreeMap<SliceName, Option<Oid>>,
}

impl MergeQueue {
    /// Reads the tips, marks stale approvals, recomputes previews that
    /// changed, and publishes the board if it changed.
    pub(super) fn refresh(&mut self) {
        let started = std::time::Instant::now();
        let mut state = self.state_for_tick();
        let tips = self.reader().tips(&state);
        if self.mark_stale(&state, &tips) {
            state = self.state_for_tick();
        }
        let mut board = self.reader().build_board(&state, &tips);
        board.runs_itself = self.runs_itself();
        board.held = self.held();
        board.output_of = self.output_of.clone();
        board.published = self.published.clone();
        for (slice, note) in &self.autopilot.notes {
            if let Some(view) = board.slices.get_mut(slice) {
                view.autopilot = Some(note.clone());
            }
        }
        for (slice, diff) in &self.data_diffs {
            if let Some(view) = board.slices.get_mut(slice) {
                view.data = Some(diff.clone());
            }
        }
        for (slice, note) in self.speculation_notes() {
            if let Some(view) = board.slices.get_mut(&slice) {
                view.speculative = Some(note);
            }
        }
        for (slice, view) in &mut board.slices {
            view.going = self.going(slice);
        }
        if self.shown.as_ref() != Some(&board) {
            (self.deps.publish)(BoardUpdate::Queue {
                queue: board.clone(),
            });
            self.shown = Some(board);
        }
        let took = started.elapsed();
        if took > std::time::Duration::from_millis(100) {
            tracing::info!(ms = took.as_millis() as u64, "slow merge-queue refresh");
        }
    }

    /// The queue as last published, with the check's output.
    pub(super) fn board(&self) -> QueueBoard {
        let mut board = self.shown.clone().unwrap_or_default();
        board.check_output = self.check_output.clone();
        board
    }

    /// The parts of the queue that read the board.
    fn reader(&mut self) -> BoardReader<'_> {
        let mut checking = self
            .running
            .as_ref()
            .map(Running::slices)
            .unwrap_or_default();
        checking.extend(self.speculating());
        if let Some(batch) = self.batch.as_ref() {
            checking.extend(batch.probing());
        }
        let attempt = self
            .running
            .as_ref()
            .map(Running::view)
            .or_else(|| self.speculation_attempt())
            .or_else(|| {
                self.batch
                    .as_ref()
                    .and_then(|b| b.probes().first())
                    .map(Running::view)
            });
        BoardReader {
            ws: &self.ws,
            engine: &self.engine,
            facts: &mut self.facts,
            checking,
            attempt,
        }
    }
}

/// What building the board reads: the plan, the branches, the cached
/// previews and the attempt running. The supervisor's queue holds one;
/// [`read_board`] makes one for a command with no supervisor.
pub(super) struct BoardReader<'a> {
    ws: &'a Workspace,
    engine: &'a MergeEngine,
    facts: &'a mut Facts,
    /// The slices whose merge is being checked now.
    checking: Vec<SliceName>,
    /// The attempt whose check the board shows as running.
    attempt: Option<AttemptView>,
}

impl BoardReader<'_> {
    pub(super) fn tips(&self, state: &State) -> Tips {
        let plan = &self.ws.plan;
        let integration = self.engine.tip(&plan.integration).ok().flatten();
        let target = integration.or_else(|| self.engine.tip(&plan.base).ok().flatten());
        let slices = state
            .slices
            .iter()
            .map(|(name, record)| (name.clone(), self.engine.tip(&record.branch).ok().flatten()))
            .collect();
        Tips {
            integration,
            target,
            slices,
        }
    }
}

impl MergeQueue {
    /// An approval whose branch moved is stale: journaled once, never
    /// merged. True when one was marked.
    fn mark_stale(&self, state: &State, tips: &Tips) -> bool {
        let mut marked_any = false;
        for (slice, record) in &state.slices {
            let Some(approval) = record.standing_approval() else {
                continue;
            };
            if record.lifecycle != Lifecycle::Approved || approval.stale {
                continue;
            }
            let now = tips.slices.get(slice).copied().flatten();
            if now.map(|o| o.to_string()).as_deref() == Some(approval.commit.as_str()) {
                continue;
            }
            let approved = approval.commit.clone();
            let marked = self.change(|state| {
                if let Some(a) = state
                    .slices
                    .get_mut(slice)
                    .and_then(|r| r.standing_approval_mut())
                    .filter(|a| a.commit == approved)
                {
                    a.stale = true;
                }
                vec![Entry::sliceboard(Event::ApprovalStale {
                    slice: slice.clone(),
                    approved: approved.clone(),
                    now: now.map(|o| o.to_string()),
                })]
            });
            marked_any |= marked.is_ok();
        }
        marked_any
    }
}

impl BoardReader<'_> {
    /// Previews `tip` into `onto`, from the cache when asked before.
    fn preview(&mut self, onto: Oid, tip: Oid, used: &mut BTreeSet<(Oid, Oid)>) -> Option<Preview> {
        used.insert((onto, tip));
        if let Some(known) = self.facts.previews.get(&(onto, tip)) {
            return Some(known.clone());
        }
        match self.engine.previews(&[(onto, tip)]) {
            Ok(mut found) => {
                let preview = found.pop()?;
                self.facts.previews.insert((onto, tip), preview.clone());
                Some(preview)
            }
            Err(err) => {
                tracing::warn!(%err, "cannot preview a merge");
                None
            }
        }
    }

    /// Previews every uncached pair in one batch: one scratch repository
    /// whose object cache serves them all (one call per pair reads and
    /// parses the shared trees again each time: 7–11 ms a pair at 20,000
    /// files, docs/benchmarks.md).
    fn warm(&mut self, pairs: &[(Oid, Oid)]) {
        let missing: Vec<(Oid, Oid)> = pairs
            .iter()
            .filter(|pair| !self.facts.previews.contains_key(pair))
            .copied()
            .collect();
        if missing.is_empty() {
            return;
        }
        match self.engine.previews(&missing) {
            Ok(found) => {
                for (pair, preview) in missing.into_iter().zip(found) {
                    self.facts.previews.insert(pair, preview);
                }
            }
            Err(err) => tracing::warn!(%err, "cannot preview merges"),
        }
    }

    /// Commits on `tip` that `integration` lacks, when they change
    /// something: a branch that only merged `integration` in since has
    /// nothing new to merge.
    fn ahead(&mut self, tip: Oid, integration: Oid) -> usize {
        if let Some(known) = self.facts.ahead.get(&(tip, integration)) {
            return *known;
        }
        let mut ahead = self.engine.ahead(tip, integration).unwrap_or_else(|err| {
            tracing::warn!(%err, "cannot count a merged slice's new commits");
            0
        });
        if ahead > 0 && self.changed(integration, tip).is_empty() {
            ahead = 0;
        }
        self.facts.ahead.insert((tip, integration), ahead);
        ahead
    }

    /// Paths `tip` changed since it left `target`'s history.
    fn changed(&mut self, target: Oid, tip: Oid) -> BTreeSet<String> {
        if let Some(known) = self.facts.changed.get(&(target, tip)) {
            return known.clone();
        }
        let paths = self
            .engine
            .merge_base(target, tip)
            .ok()
            .flatten()
            .and_then(|base| self.engine.changed_paths(base, tip).ok())
            .unwrap_or_default();
        self.facts.changed.insert((target, tip), paths.clone());
        paths
    }

    pub(super) fn build_board(&mut self, state: &State, tips: &Tips) -> QueueBoard {
        let plan = self.ws.plan.clone();
        let mut used = BTreeSet::new();
        self.warm_targets(state, tips);
        let (mut views, active) = self.views(state, tips, &mut used);
        let pairs = match tips.target {
            Some(target) => self.pairs(target, &active, &mut used),
            None => Vec::new(),
        };
        self.forget_unused(tips, &active, &used);
        let order = self.place_queued(state, &mut views);
        QueueBoard {
            integration: plan.integration.clone(),
            integration_tip: tips.integration.map(|o| o.to_string()),
            check: plan.merge.check.clone(),
            auto: plan.merge.auto,
            order,
            slices: views,
            pairs,
            attempt: self.attempt.clone(),
            check_output: Default::default(),
            runs_itself: Vec::new(),
            held: false,
            output_of: None,
            published: None,
        }
    }

    /// Previews every unmerged slice with commits against the target, in
    /// one batch.
    fn warm_targets(&mut self, state: &State, tips: &Tips) {
        let Some(target) = tips.target else {
            return;
        };
        let wanted: Vec<(Oid, Oid)> = state
            .slices
            .iter()
            .filter(|(_, r)| {
                matches!(
                    r.lifecycle,
                    Lifecycle::Ready | Lifecycle::Active | Lifecycle::Approved
                )
            })
            .filter_map(|(slice, r)| {
                let tip = tips.slices.get(slice).copied().flatten()?;
                (tip.to_string() != r.base_commit).then_some((target, tip))
            })
            .collect();
        self.warm(&wanted);
    }

    /// Every slice's view but its place in the queue, and the slices with
    /// commits of their own not merged (previewed against the target).
    fn views(
        &mut self,
        state: &State,
        tips: &Tips,
        used: &mut BTreeSet<(Oid, Oid)>,
    ) -> (BTreeMap<SliceName, MergeView>, Vec<(SliceName, Oid)>) {
        let mut views = BTreeMap::new();
        let mut active = Vec::new();
        for (slice, record) in &state.slices {
            // The planner's branch is the base: nothing of its own to merge.
            if self.ws.plan.is_planner(slice) {
                continue;
            }
            let tip = tips.slices.get(slice).copied().flatten();
            let (mut view, new_commits) = self.view(record, tip, tips.integration);
            let has_commits = tip.is_some_and(|t| t.to_string() != record.base_commit);
            // A merged slice with new commits has work to merge again.
            let unmerged = matches!(
                record.lifecycle,
                Lifecycle::Ready | Lifecycle::Active | Lifecycle::Approved
            ) || (record.lifecycle == Lifecycle::Merged && new_commits > 0);
            if let (Some(target), Some(tip), true) = (tips.target, tip, has_commits)
                && unmerged
            {
                if let Some(Preview::Conflicts { paths }) = self.preview(target, tip, used) {
                    view.conflicts = paths;
                }
                active.push((slice.clone(), tip));
            }
            views.insert(slice.clone(), view);
        }
        (views, active)
    }

    /// One slice's view from its record and tip, and how many commits a
    /// merged one has that the integration branch lacks.
    fn view(
        &mut self,
        record: &SliceRecord,
        tip: Option<Oid>,
        integration: Option<Oid>,
    ) -> (MergeView, usize) {
        let mut view = MergeView {
            tip: tip.map(|o| o.to_string()),
            approval: record.standing_approval().map(|a| ApprovalView {
                commit: a.commit.clone(),
                at: a.at,
                stale: a.stale,
            }),
            upstream_merged: record.upstream_merged.clone(),
            merged_at: record.merged.as_ref().map(|m| m.at),
            ..MergeView::default()
        };
        let mut new_commits = 0;
        if let Some(merged) = &record.merged
            && matches!(record.lifecycle, Lifecycle::Merged | Lifecycle::Removed)
        {
            new_commits = match (tip, integration) {
                (Some(tip), Some(integration)) => self.ahead(tip, integration),
                _ => 0,
            };
            view.state = Some(EntryState::Merged {
                commit: merged.commit.clone(),
                new_commits,
            });
        }
        (view, new_commits)
    }

    /// Drops cached answers no live pair of commits asks any more.
    fn forget_unused(
        &mut self,
        tips: &Tips,
        active: &[(SliceName, Oid)],
        used: &BTreeSet<(Oid, Oid)>,
    ) {
        self.facts.previews.retain(|key, _| used.contains(key));
        let live: BTreeSet<(Oid, Oid)> = active
            .iter()
            .filter_map(|(_, tip)| tips.target.map(|t| (t, *tip)))
            .collect();
        self.facts.changed.retain(|key, _| live.contains(key));
        let merged: BTreeSet<(Oid, Oid)> = tips
            .integration
            .map(|integration| {
                tips.slices
                    .values()
                    .flatten()
                    .map(|tip| (*tip, integration))
                    .collect()
            })
            .unwrap_or_default();
        self.facts.ahead.retain(|key, _| merged.contains(key));
    }

    /// The approved slices in merge order, each view given its position
    /// and what its entry is doing; returns the order.
    fn place_queued(
        &self,
        state: &State,
        views: &mut BTreeMap<SliceName, MergeView>,
    ) -> Vec<SliceName> {
        let plan = &self.ws.plan;
        let queued: Vec<Queued<'_>> = state
            .slices
            .iter()
            .filter(|(_, r)| r.lifecycle == Lifecycle::Approved)
            .filter_map(|(slice, record)| {
                let approval = record.standing_approval()?;
                let spec = plan.slice(slice.as_str())?;
                Some(Queued {
                    slice,
                    after: &spec.after,
                    approved_at: approval.at,
                })
            })
            .collect();
        let order = queue_order(&queued);
        let checking = &self.checking;
        for (position, slice) in order.iter().enumerate() {
            let Some(record) = state.slices.get(slice) else {
                continue;
            };
            let approval = record.standing_approval();
            let unmerged_upstream = plan
                .slice(slice.as_str())
                .map(|spec| state.in_the_way(&spec.after).into_iter().cloned().collect())
                .unwrap_or_default();
            let view = views.entry(slice.clone()).or_default();
            let facts = EntryFacts {
                unmerged_upstream,
                moved: approval.filter(|a| a.stale).map(|_| view.tip.clone()),
                checking: checking.contains(slice),
                failed: record
                    .attention
                    .as_ref()
                    .filter(|a| approval.is_some_and(|ap| ap.commit == a.approved))
                    .filter(|a| a.paths.is_empty())
                    .map(|a| a.reason.clone()),
                conflicts: view.conflicts.clone(),
            };
            view.position = Some(position + 1);
            view.state = Some(entry_state(&facts));
        }
        order
    }

    /// Active slices that would conflict with each other.
    fn pairs(
        &mut self,
        target: Oid,
        active: &[(SliceName, Oid)],
        used: &mut BTreeSet<(Oid, Oid)>,
    ) -> Vec<PairConflict> {
        let changed: Vec<BTreeSet<String>> = active
            .iter()
            .map(|(_, tip)| self.changed(target, *tip))
            .collect();
        // Variants of one slice compete by design: only one will merge.
        let family = |slice: &SliceName| {
            self.ws
                .plan
                .slice(slice.as_str())
                .and_then(|s| s.variant_of.clone())
        };
        let mut overlapping = Vec::new();
        for i in 0..active.len() {
            for j in i + 1..active.len() {
                let rivals = family(&active[i].0).is_some_and(|f| Some(f) == family(&active[j].0));
                if !rivals && !changed[i].is_disjoint(&changed[j]) {
                    overlapping.push((i, j));
                }
            }
        }
        let wanted: Vec<(Oid, Oid)> = overlapping
            .iter()
            .map(|&(i, j)| (active[i].1, active[j].1))
            .collect();
        self.warm(&wanted);
        let mut pairs = Vec::new();
        for (i, j) in overlapping {
            {
                let ((a, a_tip), (b, b_tip)) = (&active[i], &active[j]);
                if let Some(Preview::Conflicts { paths }) = self.preview(*a_tip, *b_tip, used) {
                    pairs.push(PairConflict {
                        a: a.clone(),
                        b: b.clone(),
                        paths,
                    });
                }
            }
        }
        pairs
    }
}

/// The queue as a command with no supervisor reads it: from `state.json`
/// and the branches, writing nothing. An approval whose branch moved shows
/// as stale (the supervisor journals that when it next runs).
pub fn read_board(ws: &Workspace) -> anyhow::Result<QueueBoard> {
    let mut state = crate::store::load_state(&ws.state_dir.state_file())?;
    let engine = MergeEngine::open(ws.git.common_dir())?;
    let mut facts = Facts::default();
    let mut reader = BoardReader {
        ws,
        engine: &engine,
        facts: &mut facts,
        checking: Vec::new(),
        attempt: None,
    };
    let tips = reader.tips(&state);
    for (slice, record) in &mut state.slices {
        let now = tips
            .slices
            .get(slice)
            .copied()
            .flatten()
            .map(|o| o.to_string());
        if record.lifecycle != Lifecycle::Approved {
            continue;
        }
        if let Some(approval) = record.standing_approval_mut()
            && now.as_deref() != Some(approval.commit.as_str())
        {
            approval.stale = true;
        }
    }
    Ok(reader.build_board(&state, &tips))
}
