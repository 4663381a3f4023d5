//! The planner's review: the aggregate result (`domain::review`) gathered
//! from `state.json`, the board and the journal, pasted into the planner
//! agent's terminal. Sent on `Command::Review` (`sliceboard review`, the
//! review key), and by itself after the merge that leaves every slice
//! merged.

use crate::domain::board::status_text;
use crate::domain::review::{ReviewFacts, SliceOutcome, review_prompt};
use crate::domain::{Command, Event, Lifecycle};
use crate::store::{Actor, JOURNAL_TAIL_BYTES};

use super::MergeQueue;

impl MergeQueue {
    pub(super) fn send_review(&mut self) -> Result<String, String> {
        let planner = self
            .ws
            .plan
            .planner()
            .map(|p| p.name.clone())
            .ok_or_else(|| {
                "the plan has no planner: add `[planner] command = \"…\"` to sliceboard.toml"
                    .to_owned()
            })?;
        let facts = self.review_facts()?;
        let merged = facts
            .slices
            .iter()
            .filter(|s| s.lifecycle != Lifecycle::Retired && s.merged_commit.is_some())
            .count();
        let of = facts
            .slices
            .iter()
            .filter(|s| s.lifecycle != Lifecycle::Retired)
            .count();
        let outcome = self.ask_agents(Command::Prompt {
            slice: planner.clone(),
            text: review_prompt(&facts),
            by_itself: true,
        })?;
        self.record(
            Actor::Sliceboard,
            Event::ReviewSent {
                slice: planner.clone(),
                merged,
                of,
            },
        );
        let mut said =
            format!("sent {planner} the aggregate result ({merged} of {of} slices merged)");
        if !outcome.is_empty() {
            said.push_str(&format!(" ({outcome})"));
        }
        Ok(said)
    }

    /// After a merge: the planner reviews once every slice has merged.
    pub(super) fn review_when_all_merged(&mut self) {
        if self.ws.plan.planner().is_none() {
            return;
        }
        let Ok(facts) = self.review_facts() else {
            return;
        };
        if facts.all_merged()
            && let Err(why) = self.send_review()
        {
            tracing::warn!(%why, "cannot send the planner its review");
        }
    }

    fn review_facts(&self) -> Result<ReviewFacts, String> {
        let state = self.state();
        let board = (self.deps.board)();
        let slices = self
            .ws
            .plan
            .workers()
            .map(|spec| {
                let record = state.slices.get(&spec.name);
                let row = board.row(&spec.name);
                SliceOutcome {
                    name: spec.name.clone(),
                    lifecycle: record.map_or(Lifecycle::Planned, |r| r.lifecycle),
                    merged_commit: record.and_then(|r| r.merged.as_ref().map(|m| m.commit.clone())),
                    approved_commit: record.and_then(|r| {
                        r.merged
                            .as_ref()
                            .map(|m| m.approved.clone())
                            .or_else(|| r.standing_approval().map(|a| a.commit.clone()))
                    }),
                    attention: record.and_then(|r| r.attention.as_ref()).map(|a| {
                        if a.paths.is_empty() {
                            a.reason.clone()
                        } else {
                            format!("{} ({})", a.reason, a.paths.join(", "))
                        }
                    }),
                    agent: row.map_or_else(|| "not started".to_owned(), |r| status_text(r.status)),
                    dbt: row.and_then(|r| r.dbt.as_ref()).map(|run| run.outcome()),
                    cost: row.and_then(|r| r.usage.as_ref()).and_then(cost_words),
                    flags: row
                        .map(|r| {
                            r.flags
                                .iter()
                                .map(|f| format!("{}: {}", f.path(), f.describe()))
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            })
            .collect();
        let total = crate::domain::usage::UsageTotal::of(
            board.slices.iter().filter_map(|r| r.usage.as_ref()),
        );
        Ok(ReviewFacts {
            integration: self.ws.plan.integration.clone(),
            check: self.ws.plan.merge.check.clone(),
            last_check: self.last_check(),
            slices,
            total_cost: (!total.label().is_empty()).then(|| {
                format!(
                    "{} ({} tokens)",
                    total.label(),
                    crate::domain::usage::count(total.tokens.total())
                )
            }),
        })
    }

    /// The integration check's last outcome, from the journal's tail.
    fn last_check(&self) -> Option<String> {
        let read = self
            .ws
            .state_dir
            .journal()
            .read_tail(JOURNAL_TAIL_BYTES)
            .ok()?;
        read.entries
            .iter()
            .rev()
            .find_map(|entry| match &entry.event {
                Event::CheckPassed {
                    slice,
                    merge_commit,
                    ..
                } => Some(format!(
                    "passed for {slice} (merge {})",
                    merge_commit.get(..10).unwrap_or(merge_commit)
                )),
                Event::CheckFailed { slice, reason, .. } => {
                    Some(format!("failed for {slice}: {reason}"))
                }
                _ => None,
            })
    }
}

/// A slice's cost for the review: `~$1.20 (45k tokens)`.
fn cost_words(usage: &crate::domain::usage::SliceUsage) -> Option<String> {
    let short = usage.short();
    (!short.is_empty()).then(|| {
        format!(
            "{short} ({} tokens)",
            crate::domain::usage::count(usage.usage.tokens().total())
        )
    })
}
