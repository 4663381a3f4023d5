//! A plan that changed while the supervisor runs: slices added get a slot
//! (their agents start on command once `up` made their worktrees), slices
//! removed keep theirs while their agent runs, and nothing is stopped.
//!
//! Only plans `domain::plan_change` says may be taken live arrive here;
//! the composition root (`supervisor::plan_reload`) reads and checks the file.

use super::{Agents, refused};
use crate::domain::{AgentStatus, Plan, SliceName};
use crate::store::Actor;

impl Agents {
    /// Puts `plan` in force. A removed slice waiting for a slot waits no
    /// more; one whose agent runs goes on running.
    pub(super) fn use_plan(&mut self, plan: Plan) {
        for spec in &plan.slices {
            self.slots.entry(spec.name.clone()).or_default();
        }
        let dropped: Vec<SliceName> = self
            .pending
            .iter()
            .filter(|(name, _)| plan.slice(name.as_str()).is_none())
            .map(|(name, _)| name.clone())
            .collect();
        self.pending
            .retain(|(name, _)| plan.slice(name.as_str()).is_some());
        self.ws.plan = plan;
        for slice in dropped {
            self.set_status(&slice, AgentStatus::NotStarted, Actor::Operator);
        }
        tracing::info!("the changed plan is in force");
    }

    /// A slice the supervisor knows: in the plan, or removed from it but
    /// still holding its agent's screen.
    pub(super) fn known(&self, slice: &SliceName) -> Result<(), super::AgentsError> {
        if self.slots.contains_key(slice) {
            return Ok(());
        }
        self.ws.slice(slice.as_str()).map(|_| ())?;
        Err(refused(slice, "the supervisor has no agent for it"))
    }
}
