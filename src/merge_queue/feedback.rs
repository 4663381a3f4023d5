//! Telling an agent what the merge queue found.
//!
//! Feedback is one prompt, from the plan's `[merge] feedback` template or
//! the built-in one, about the slice's conflict, failed check or upstream
//! merges; the supervisor pastes it into the agent (starting it with the
//! resume command when it is not running).

use crate::domain::{Command, Event, SliceName};
use crate::store::{Actor, Entry, SliceRecord};

use super::MergeQueue;
use crate::domain::short_commit;

/// The prompt when the plan gives none.
pub const DEFAULT_FEEDBACK: &str =
    "Message from sliceboard's merge queue about slice {slice}:\n\n{what}\n\nWhat to do: {todo}\n";

impl MergeQueue {
    pub(super) fn send_feedback(&mut self, slice: &SliceName) -> Result<String, String> {
        self.send_feedback_as(slice, Actor::Operator)
    }

    /// Feedback sent by `actor`: the operator (`F`), or the queue itself
    /// (`[merge] on_failure = "feedback"`).
    pub(super) fn send_feedback_as(
        &mut self,
        slice: &SliceName,
        actor: Actor,
    ) -> Result<String, String> {
        // Telling an agent may start it again: never in a worktree that
        // is coming down.
        if let Some(going) = self.going(slice) {
            return Err(format!("cannot tell {slice}: {going}"));
        }
        let state = self.state();
        let record = state
            .slices
            .get(slice)
            .ok_or_else(|| format!("{slice} has no worktree yet"))?;
        let previewed = self
            .shown
            .as_ref()
            .and_then(|b| b.slices.get(slice))
            .map(|v| v.conflicts.clone())
            .unwrap_or_default();
        let (about, what, todo) = self.findings(record, &previewed).ok_or_else(|| {
            format!(
                "nothing to tell {} agent: no conflict, failed check or upstream merge",
                crate::domain::possessive(slice)
            )
        })?;
        let template = self
            .ws
            .plan
            .merge
            .feedback
            .as_deref()
            .unwrap_or(DEFAULT_FEEDBACK);
        let text = template
            .replace("{slice}", slice.as_str())
            .replace("{integration}", &self.ws.plan.integration)
            .replace("{what}", &what)
            .replace("{todo}", &todo);
        let outcome = self.ask_agents(Command::Prompt {
            slice: slice.clone(),
            text,
            by_itself: actor == Actor::Sliceboard,
        })?;
        let sent = self.change(|state| {
            if let Some(record) = state.slices.get_mut(slice) {
                record.upstream_merged.clear();
            }
            vec![Entry {
                actor,
                event: Event::FeedbackSent {
                    slice: slice.clone(),
                    about: about.clone(),
                },
            }]
        });
        if let Err(err) = sent {
            tracing::warn!(%slice, %err, "cannot record the feedback sent");
        }
        let mut said = format!(
            "told {} agent about {about}",
            crate::domain::possessive(slice)
        );
        if !outcome.is_empty() {
            said.push_str(&format!(" ({outcome})"));
        }
        Ok(said)
    }

    /// What to tell the agent: (about, what happened, what to do). A
    /// conflict the preview shows counts even before a merge was tried.
    fn findings(
        &self,
        record: &SliceRecord,
        previewed: &[String],
    ) -> Option<(String, String, String)> {
        let integration = &self.ws.plan.integration;
        let conflict: Option<(String, &[String])> = match &record.attention {
            Some(attention) if !attention.paths.is_empty() => Some((
                format!("approved commit {}", short_commit(&attention.approved)),
                &attention.paths,
            )),
            None if !previewed.is_empty() => Some(("branch".to_owned(), previewed)),
            _ => None,
        };
        if let Some((what_of, paths)) = conflict {
            let paths: String = paths.iter().map(|p| format!("\n- {p}")).collect();
            return Some((
                "a merge conflict".into(),
                format!(
                    "Your {what_of} does not merge cleanly into {integration}. These paths conflict:{paths}"
                ),
                format!(
                    "merge {integration} into your branch (`git merge {integration}`), resolve the conflicts in those paths keeping the intent of both sides, run your checks again, commit, and say when you are done."
                ),
            ));
        }
        if let Some(attention) = &record.attention {
            let check = self.ws.plan.merge.check.as_deref().unwrap_or("the check");
            let details: String = attention
                .details
                .iter()
                .map(|d| format!("\n- {d}"))
                .collect();
            let log = attention
                .log
                .as_ref()
                .map(|l| format!("\nThe full output is in {}.", l.display()))
                .unwrap_or_default();
            return Some((
                "a failed merge".into(),
                format!(
                    "Your approved commit {} merged into {integration}, but the merge was not accepted: {}.{details}{log}",
                    short_commit(&attention.approved),
                    attention.reason
                ),
                format!(
                    "fix this in your branch (merge {integration} into it first if the failure comes from how your change combines with it), run `{check}` to confirm, commit, and say when you are done."
                ),
            ));
        }
        if !record.upstream_merged.is_empty() {
            let names: Vec<&str> = record
                .upstream_merged
                .iter()
                .map(SliceName::as_str)
                .collect();
            return Some((
                format!("upstream merges ({})", names.join(", ")),
                format!(
                    "{} merged into {integration}; your slice comes after {}.",
                    names.join(", "),
                    if names.len() == 1 { "it" } else { "them" }
                ),
                format!(
                    "merge {integration} into your branch (`git merge {integration}`) so you build on their work, run dbt again, commit, and say when you are done."
                ),
            ));
        }
        None
    }
}
