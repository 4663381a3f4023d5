//! Usage limits: an agent whose screen says it hit its limit is reported
//! with the time the limit resets (`Event::LimitHit`, for the board and a
//! call); with `[agent] resume_after_limit`, it goes on by itself once
//! that time has passed: sent `continue`, restarted with the resume
//! command first when it exited (`Event::ResumedAfterLimit`).
//!
//! The screen is read only when an agent stops being busy or exits, never
//! on a poll of its own; the step wakes for a reset when one is due.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp, ZonedDateTime};

use super::Agents;
use crate::domain::{Activity, AgentStatus, Event, SliceName, usage_limit};
use crate::store::Actor;

/// Lines of the screen's end a limit message is looked for in (Claude
/// Code draws its prompt box and status lines below it).
const LIMIT_LINES: usize = 12;

/// How long after the reset time an agent is told to go on: the agent's
/// clock and the provider's are not ours.
const RESET_MARGIN: SignedDuration = SignedDuration::from_secs(3);

/// What a limited agent is sent when its limit resets.
pub(super) const GO_ON: &str = "continue";

impl Agents {
    /// After `slice`'s agent stopped being busy or exited: its screen read
    /// for a usage limit, reported once per line that says so (a resumed
    /// agent that draws the old line again is not limited again).
    pub(super) fn look_for_limit(&mut self, slice: &SliceName) {
        let resumes = self.ws.plan.agent.resume_after_limit;
        let Some(slot) = self.slots.get_mut(slice) else {
            return;
        };
        let Some(session) = slot.session.as_ref() else {
            return;
        };
        let now = ZonedDateTime::now();
        let lines = session.with_screen(|screen| screen.tail_logical_lines(LIMIT_LINES));
        let Some(limit) = usage_limit::find(&lines, &now) else {
            return;
        };
        if slot.limit_line.as_deref() == Some(limit.line.as_str()) {
            return;
        }
        slot.limit_line = Some(limit.line.clone());
        // A reset long past is an old line (the API's unix time) drawn again.
        if limit.resets_at < now.timestamp() - SignedDuration::from_mins(10) {
            return;
        }
        slot.limit = Some(limit.resets_at);
        tracing::info!(%slice, resets_at = %limit.resets_at, "usage limit");
        self.record(
            Actor::Sliceboard,
            Event::LimitHit {
                slice: slice.clone(),
                resets_at: limit.resets_at,
                line: limit.line,
                resumes,
            },
        );
    }

    /// `slice`'s agent changed its activity: busy again means the limit
    /// is behind it (the operator told it to go on); anything else may be
    /// a limit just drawn.
    pub(super) fn limit_after_activity(&mut self, slice: &SliceName, activity: Activity) {
        if activity == Activity::Busy {
            if let Some(slot) = self.slots.get_mut(slice) {
                slot.limit = None;
            }
        } else {
            self.look_for_limit(slice);
            self.look_for_cost(slice);
        }
    }

    /// Every agent whose limit has reset goes on, when the plan says so.
    pub(super) fn resume_after_limits(&mut self) {
        if !self.ws.plan.agent.resume_after_limit {
            return;
        }
        let now = Timestamp::now();
        let due: Vec<SliceName> = self
            .slots
            .iter()
            .filter(|(_, slot)| slot.limit.is_some_and(|at| at + RESET_MARGIN <= now))
            .map(|(name, _)| name.clone())
            .collect();
        for slice in due {
            let status = self.slots.get_mut(&slice).and_then(|slot| {
                slot.limit = None;
                slot.status
            });
            let how = match status {
                Some(AgentStatus::Running) => format!("sent “{GO_ON}”"),
                Some(AgentStatus::Exited { .. }) => {
                    format!("restarted with the resume command and sent “{GO_ON}”")
                }
                other => {
                    let word = other.map_or("not started".to_owned(), |s| {
                        crate::domain::board::status_text(s)
                    });
                    self.record(
                        Actor::Sliceboard,
                        Event::Progress {
                            slice: Some(slice.clone()),
                            message: format!(
                                "{slice}'s usage limit reset; not resumed: its agent is {word}"
                            ),
                        },
                    );
                    continue;
                }
            };
            match self.prompt(&slice, GO_ON.to_owned(), Actor::Sliceboard) {
                Ok(()) => self.record(Actor::Sliceboard, Event::ResumedAfterLimit { slice, how }),
                Err(err) => {
                    tracing::warn!(%slice, %err, "resume after the usage limit failed");
                    self.record(
                        Actor::Sliceboard,
                        Event::Progress {
                            slice: Some(slice.clone()),
                            message: format!(
                                "{slice}'s usage limit reset; resuming it failed: {err}"
                            ),
                        },
                    );
                }
            }
        }
    }

    /// How long until the next limit resets and an agent is due to go on.
    pub(super) fn next_limit_reset(&self) -> Option<Duration> {
        if !self.ws.plan.agent.resume_after_limit {
            return None;
        }
        let now = Timestamp::now();
        self.slots
            .values()
            .filter_map(|slot| slot.limit)
            .map(|at| {
                let wait = (at + RESET_MARGIN).duration_since(now);
                Duration::try_from(wait).unwrap_or(Duration::ZERO)
            })
            .min()
    }
}
