//! The plan changing under a running supervisor: the file is read again
//! when [`PlanWatch`](crate::watch::PlanWatch) says it changed, checked as
//! `sliceboard check` would, and compared with the plan in force
//! ([`PlanChange`]).
//!
//! - It does not load: the board shows the diagnostics (file, line, key)
//!   and everything goes on under the last plan that did.
//! - It changes what needs a restart: the board names the keys, and the
//!   plan in force stays the old one, whole.
//! - Otherwise it is put in force everywhere at once: the supervisor (new
//!   slots, the commands and briefs agents start with), the merge queue
//!   (`after`, new slices), the hub (ownership), the live diffs (new
//!   slices' worktrees, once `up` makes them) and the board (slices added
//!   as planned, slices removed marked).
//!
//! Runs on the watch's thread; it reads the file and git's branches, and
//! only sends to the services it tells.

use std::path::{Path, PathBuf};

use super::follower::{self, Wake};
use super::senders::Senders;
use crate::domain::Plan;
use crate::domain::board::{BoardUpdate, SliceRow};
use crate::domain::plan_change::{PlanChange, PlanProblem};
use crate::git::GitRepo;
use crate::plan_file::{PLAN_FILE, load};
use crate::store::{StateDir, load_state};
use crate::workspace::GitFacts;

pub struct PlanReload {
    root: PathBuf,
    state_dir: StateDir,
    in_force: Plan,
    /// What the board shows now, so a save that changes nothing is quiet.
    problem: Option<PlanProblem>,
    /// Who hears of a plan put in force.
    services: Senders,
}

impl PlanReload {
    pub fn new(root: PathBuf, state_dir: StateDir, in_force: Plan, services: Senders) -> Self {
        Self {
            root,
            state_dir,
            in_force,
            problem: None,
            services,
        }
    }

    /// The plan everything runs with now (the file's may not load).
    pub fn in_force(&self) -> &Plan {
        &self.in_force
    }

    /// Reads the plan file again and acts on what changed.
    pub fn reload(&mut self) {
        let (plan, problem) = match self.read() {
            Err(message) => (None, Some(PlanProblem::Invalid { message })),
            Ok(plan) => {
                let change = PlanChange::between(&self.in_force, &plan);
                if change.live() {
                    (Some((plan, change)), None)
                } else {
                    let keys = change.needs_restart;
                    (None, Some(PlanProblem::NeedsRestart { keys }))
                }
            }
        };
        let at = Some(jiff::Timestamp::now());
        match plan {
            Some((plan, change)) if !change.is_empty() => {
                tracing::info!(added = ?change.added, removed = ?change.removed, "plan reloaded");
                let added = self.rows(&plan, &change);
                self.in_force = plan.clone();
                self.problem = None;
                let ownership = plan.ownership().ok();
                self.follow(&plan, &change);
                self.services.agents.use_plan(plan.clone());
                self.services.hub.set_notify(plan.notify.clone());
                self.services.queue.use_plan(plan);
                self.services.hub.plan_changed(
                    ownership,
                    BoardUpdate::Plan {
                        added,
                        removed: change.removed,
                        problem: None,
                        at,
                    },
                );
            }
            _ if problem != self.problem => {
                tracing::info!(?problem, "the plan file changed");
                self.problem = problem.clone();
                self.services.hub.plan_changed(
                    None,
                    BoardUpdate::Plan {
                        added: Vec::new(),
                        removed: Vec::new(),
                        problem,
                        at,
                    },
                );
            }
            _ => {}
        }
    }

    /// The file's plan, checked, or what is wrong with it.
    fn read(&self) -> Result<Plan, String> {
        let git = GitRepo::discover(&self.root).map_err(|e| e.to_string())?;
        load(&self.root.join(PLAN_FILE), &GitFacts::new(&git))
            .map(|loaded| loaded.plan)
            .map_err(|err| {
                // The board has no room for the repository's path.
                let shown = Path::new(PLAN_FILE);
                let lines: Vec<String> = err
                    .diagnostics
                    .iter()
                    .filter(|d| d.is_error())
                    .map(|d| d.display(shown).to_string())
                    .collect();
                lines.join("\n")
            })
    }

    /// The added slices as the board first shows them: planned, unless
    /// state remembers them (a slice removed and added back).
    fn rows(&self, plan: &Plan, change: &PlanChange) -> Vec<SliceRow> {
        let state = load_state(&self.state_dir.state_file()).unwrap_or_default();
        change
            .added
            .iter()
            .filter_map(|name| plan.slice(name.as_str()))
            .map(|spec| super::planned_row(plan, &self.root, spec, state.slices.get(&spec.name)))
            .collect()
    }

    /// Live diffs and the file follower for the added slices, whose
    /// worktrees `up` makes later.
    fn follow(&self, plan: &Plan, change: &PlanChange) {
        let state = load_state(&self.state_dir.state_file()).unwrap_or_default();
        for spec in change
            .added
            .iter()
            .filter_map(|name| plan.slice(name.as_str()))
        {
            let followed = follower::follow(plan, &self.root, &self.state_dir, &state, spec);
            let target = follower::diff_target(plan, &self.root, &state, &followed);
            self.services.diffs.watch(target);
            let _ = self
                .services
                .follower
                .send(Wake::Follow(Box::new(followed)));
        }
    }
}
