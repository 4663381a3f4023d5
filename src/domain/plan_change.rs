//! What an edited plan means for a supervisor that is running the old one:
//! which slices it adds, which it removes, and which settings cannot be
//! taken live.
//!
//! The rule is all or nothing. The list of slices and each slice's own
//! settings except `logs` (`owns`, `after`, `prompt`, `agent`, `env`:
//! ownership flags and the merge queue take the new ones at once, an
//! agent reads its command and brief when it next starts) apply live.
//! Every top-level setting (`base`, `integration`, `worktrees`, `branch`,
//! `max_running`, `[agent]`, `[dbt]`, `[merge]`, `[worktree] setup`),
//! which existing worktrees, branches and running agents were made from,
//! and a kept slice's `logs` (the file follower was built from them) need
//! the supervisor restarted; until then the plan in force stays the old
//! one, whole, and the board says which keys wait. Nothing is half-applied.
//!
//! Plain data: no file, no git. `plan_file` checks the file; this only
//! compares two checked plans.

use serde::{Deserialize, Serialize};

use super::plan::{Plan, SliceSpec};
use super::slice::SliceName;

/// How two checked plans differ, as a running supervisor sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanChange {
    /// In the new plan's order.
    pub added: Vec<SliceName>,
    /// In the old plan's order.
    pub removed: Vec<SliceName>,
    /// Keys that changed and need a restart, as a reader finds them in the
    /// file: `base`, `slice "marts" > owns`.
    pub needs_restart: Vec<String>,
    /// A kept slice's live settings changed (owns, after, prompt, agent, env).
    pub edited: bool,
    /// `[notify]` changed; it applies live.
    pub notify: bool,
    /// `[forge]` changed; it applies live (the next `publish` uses it).
    pub forge: bool,
}

impl PlanChange {
    /// Compares the plan in force with the file's new one.
    pub fn between(old: &Plan, new: &Plan) -> Self {
        let mut change = Self::default();
        let top = [
            ("base", old.base == new.base),
            ("integration", old.integration == new.integration),
            ("worktrees", old.worktrees == new.worktrees),
            ("branch", old.branch == new.branch),
            ("max_running", old.max_running == new.max_running),
            ("[agent]", old.agent == new.agent),
            ("[dbt]", old.dbt == new.dbt),
            ("[merge]", old.merge == new.merge),
            ("[worktree] setup", old.setup == new.setup),
        ];
        change.notify = old.notify != new.notify;
        change.forge = old.forge != new.forge;
        change.needs_restart = top
            .iter()
            .filter(|(_, same)| !same)
            .map(|(key, _)| (*key).to_owned())
            .collect();
        for spec in &new.slices {
            match old.slice(spec.name.as_str()) {
                None => change.added.push(spec.name.clone()),
                Some(before) => change.compare_kept(before, spec),
            }
        }
        change.removed = old
            .slices
            .iter()
            .filter(|s| new.slice(s.name.as_str()).is_none())
            .map(|s| s.name.clone())
            .collect();
        change
    }

    fn compare_kept(&mut self, old: &SliceSpec, new: &SliceSpec) {
        if old.logs != new.logs {
            self.needs_restart
                .push(format!("slice \"{}\" > logs", new.name));
        }
        self.edited |= old.owns != new.owns
            || old.after != new.after
            || old.prompt != new.prompt
            || old.agent != new.agent
            || old.env != new.env;
    }

    /// Whether the new plan can be put in force without a restart.
    pub fn live(&self) -> bool {
        self.needs_restart.is_empty()
    }

    /// Whether the plans say the same thing (a comment or spacing edit).
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.live()
            && !self.edited
            && !self.notify
            && !self.forge
    }
}

/// Why the plan on disk is not the plan in force, for the board's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum PlanProblem {
    /// The file does not load; `message` is `plan_file`'s diagnostics
    /// (file, line, key, fix).
    Invalid { message: String },
    /// The file is valid but changes settings a running supervisor cannot
    /// take; `keys` names them.
    NeedsRestart { keys: Vec<String> },
}

impl PlanProblem {
    /// One line for the header: what is wrong and what to do.
    pub fn headline(&self) -> String {
        match self {
            Self::Invalid { message } => {
                let first = message.lines().next().unwrap_or_default();
                let first = first.strip_prefix("error: ").unwrap_or(first);
                format!("plan not reloaded: {first} (the last valid plan stays in force)")
            }
            Self::NeedsRestart { keys } => format!(
                "plan changes {} (needs a restart: `sliceboard stop`, then `sliceboard`)",
                keys.join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::plan::{AgentSpec, DbtSpec};

    fn slice(name: &str) -> SliceSpec {
        SliceSpec {
            name: SliceName::parse(name).expect("valid name"),
            owns: vec![format!("{name}/**")],
            prompt: String::new(),
            agent: None,
            env: Default::default(),
            after: Vec::new(),
            logs: Vec::new(),
            variant_of: None,
            role: Default::default(),
            budget: None,
            sandbox: None,
            network: None,
        }
    }

    fn plan(slices: &[&str]) -> Plan {
        Plan {
            base: "main".into(),
            integration: "main".into(),
            worktrees: "../{repo}.slices/{slice}".into(),
            branch: "slice/{slice}".into(),
            max_running: 4,
            agent: AgentSpec {
                command: "sh".into(),
                resume: None,
                env: Default::default(),
                scrollback: 100,
                waiting_patterns: None,
                hooks: Default::default(),
                keep_children: false,
                resume_after_limit: false,
                budget: Default::default(),
                sandbox: Default::default(),
            },
            dbt: DbtSpec {
                project_dir: ".".into(),
                target: "t".into(),
                schema: "s".into(),
                defer: false,
            },
            merge: Default::default(),
            notify: Default::default(),
            forge: Default::default(),
            setup: Vec::new(),
            teardown: Vec::new(),
            ports: Vec::new(),
            slices: slices.iter().map(|s| slice(s)).collect(),
        }
    }

    #[test]
    fn added_and_removed_slices_apply_live() {
        let change = PlanChange::between(&plan(&["a", "b"]), &plan(&["b", "c"]));
        assert_eq!(change.added, vec![SliceName::parse("c").expect("name")]);
        assert_eq!(change.removed, vec![SliceName::parse("a").expect("name")]);
        assert!(change.live());
    }

    #[test]
    fn base_and_a_kept_slices_logs_need_a_restart() {
        let mut new = plan(&["a", "c"]);
        new.base = "develop".into();
        new.slices[0].logs = vec!["x.log".into()];
        new.slices[0].owns = vec!["x/**".into()];
        let change = PlanChange::between(&plan(&["a"]), &new);
        assert_eq!(change.needs_restart, ["base", "slice \"a\" > logs"]);
        assert!(!change.live());
        assert!(change.edited);
    }

    #[test]
    fn the_same_plan_is_no_change() {
        assert!(PlanChange::between(&plan(&["a"]), &plan(&["a"])).is_empty());
    }
}
