//! The resolved plan: what `sliceboard.toml` says once it has been parsed,
//! checked and merged over defaults.
//!
//! Every field here is valid by construction (the `plan_file` module is the
//! only producer; a plan read back from the wire is the one a supervisor
//! loaded with it), so callers never re-validate. Reading the file, line
//! numbers and error messages belong to `plan_file`, not here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::agent_hooks::HookMode;
use super::ownership::{BadGlob, Ownership};
use super::slice::SliceName;
use super::template::{self, TemplateVars};

pub const DEFAULT_WORKTREES: &str = "../{repo}.slices/{slice}";
pub const DEFAULT_BRANCH: &str = "slice/{slice}";
pub const DEFAULT_MAX_RUNNING: usize = 4;
pub const DEFAULT_SCROLLBACK: usize = 10_000;
/// More history than this per agent costs over 50 MB of memory each.
pub const MAX_SCROLLBACK: usize = 100_000;
pub const DEFAULT_DBT_TARGET: &str = "dev_{slice_ident}";
pub const DEFAULT_DBT_SCHEMA: &str = "dbt_{slice_ident}";
/// The name the planner agent (`[planner]`) goes by on the board.
pub const PLANNER: &str = "planner";

/// What a slice of the plan is: one of the slices of the work, or the
/// planner agent, which works in the main worktree on the plan itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SliceRole {
    #[default]
    Worker,
    /// `[planner]`: runs in the repository's own worktree, on its current
    /// branch, owns only `sliceboard.toml`, never merges; it gets the
    /// aggregate result to review when the slices are merged.
    Planner,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The branch every slice starts from.
    pub base: String,
    /// The branch approved slices merge into (the base when not set).
    pub integration: String,
    /// Worktree path template, relative to the repository root.
    pub worktrees: String,
    /// Branch name template.
    pub branch: String,
    /// How many agents may run at once; the rest wait as pending.
    pub max_running: usize,
    pub agent: AgentSpec,
    pub dbt: DbtSpec,
    pub merge: MergeSpec,
    /// `[notify]`: which transitions call the operator, and how.
    #[serde(default)]
    pub notify: super::calls::NotifySpec,
    /// `[forge]`: where `sliceboard publish` pushes the integration branch
    /// and what it runs then.
    #[serde(default)]
    pub forge: ForgeSpec,
    /// Shell commands run in each new worktree, in order, in the slice's
    /// environment (`[worktree] setup`, e.g. `dbt deps`).
    pub setup: Vec<String>,
    /// Shell commands run in a worktree before `down` or `clean` removes
    /// it, in the slice's environment (`[worktree] teardown`, e.g. to drop
    /// the slice's schema or stop its container).
    #[serde(default)]
    pub teardown: Vec<String>,
    /// Named TCP ports reserved for each slice (`[worktree] ports`),
    /// exported as `SLICEBOARD_PORT_<NAME>` and filled in for `{port.name}`.
    #[serde(default)]
    pub ports: Vec<String>,
    /// In file order.
    pub slices: Vec<SliceSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSpec {
    /// Run through the user's shell; may use `{prompt}` and `{brief}`.
    pub command: String,
    /// Used instead of `command` when an agent is restarted, e.g. `claude --continue`.
    pub resume: Option<String>,
    pub env: BTreeMap<String, String>,
    /// Lines of history each agent's terminal keeps.
    pub scrollback: usize,
    /// Regular expressions (case-insensitive) that mark a quiet screen as
    /// waiting for the operator; `None` uses the built-in prompts of
    /// Claude Code, Codex and aider.
    pub waiting_patterns: Option<Vec<String>>,
    /// Whether sliceboard adds its activity hooks to Claude Code, Codex
    /// and aider (docs/agent-hooks.md).
    pub hooks: HookMode,
    /// Leave processes an agent started in its group running after it
    /// exits (by default they are stopped: no orphans).
    pub keep_children: bool,
    /// An agent that hit its usage limit goes on when the limit resets:
    /// sent `continue` when it still runs, restarted with the resume
    /// command when it exited (`[agent] resume_after_limit`).
    #[serde(default)]
    pub resume_after_limit: bool,
    /// What each slice may spend (`[agent] budget`); a slice's own
    /// `budget` goes over it.
    #[serde(default)]
    pub budget: crate::domain::usage::Budget,
    /// What the agents run in (`[agent] sandbox`, `network`, `writable`,
    /// `hidden`, `pass_env`, `sandbox_command`).
    #[serde(default)]
    pub sandbox: super::sandbox::SandboxSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbtSpec {
    /// The dbt project's folder inside each worktree.
    pub project_dir: PathBuf,
    pub target: String,
    pub schema: String,
    /// Slices defer to the integration environment: they build what they
    /// changed and read the rest from it (`[dbt] defer = "integration"`).
    pub defer: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeSpec {
    /// Run on the merged result before the integration branch moves.
    pub check: Option<String>,
    /// Merge ready slices as soon as they are approved and clean.
    pub auto: bool,
    /// The prompt sent to an agent about a conflict, a failed check or an
    /// upstream merge; `None` uses the built-in one.
    pub feedback: Option<String>,
    /// What a conflict or a failed check does by itself.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Who approves a slice for the queue.
    #[serde(default)]
    pub approve: ApproveRule,
    /// Failed attempts in a row (since the operator last approved it)
    /// after which a slice waits for the operator, who is called.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Ready slices merged and checked together as one candidate (the
    /// queue's own and `merge --all`'s merges); a failing batch is
    /// bisected to find the slice that breaks it.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Queue entries checked at once, each speculatively on the tip plus
    /// the entries ahead of it, in a check worktree of its own; the branch
    /// still moves in queue order. With `batch` > 1, the prefixes of a
    /// failing batch checked at once instead.
    #[serde(default = "default_parallel")]
    pub parallel: usize,
    /// What a passing check's merge does to the data (dbt with deferral).
    #[serde(default)]
    pub data_diff: DataDiffRule,
}

fn default_parallel() -> usize {
    1
}

/// The most checks run at once.
pub const MAX_PARALLEL: usize = 16;

fn default_batch() -> usize {
    1
}

/// The most slices one batch takes.
pub const MAX_BATCH: usize = 64;

/// `[forge]`: handing the integration branch on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgeSpec {
    /// The git remote the integration branch is pushed to.
    pub remote: String,
    /// Run after the push, through the shell in the repository, e.g.
    /// `gh pr create --fill --base {base} --head {integration}`; `{base}`,
    /// `{integration}` and `{remote}` are filled in (shell-quoted).
    pub command: Option<String>,
    /// Publish by itself when the merge queue empties.
    pub when_empty: bool,
}

impl Default for ForgeSpec {
    fn default() -> Self {
        Self {
            remote: "origin".into(),
            command: None,
            when_empty: false,
        }
    }
}

/// The attempts a slice gets before it needs the operator.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

fn default_max_attempts() -> u32 {
    DEFAULT_MAX_ATTEMPTS
}

impl Default for MergeSpec {
    fn default() -> Self {
        Self {
            check: None,
            auto: false,
            feedback: None,
            on_failure: OnFailure::Wait,
            approve: ApproveRule::Human,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            batch: 1,
            parallel: 1,
            data_diff: DataDiffRule::Off,
        }
    }
}

impl MergeSpec {
    /// Whether the queue acts on its own: approving, telling agents, or
    /// merging without a key pressed.
    pub fn runs_itself(&self) -> bool {
        self.auto
            || self.on_failure == OnFailure::Feedback
            || self.approve == ApproveRule::WhenGreen
    }
}

/// `[merge] on_failure`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// The slice waits for the operator (`F` tells its agent).
    #[default]
    Wait,
    /// The owning agent gets the feedback prompt at once.
    Feedback,
}

/// `[merge] data_diff`: row counts and columns of the models a check
/// built, against the published integration build.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataDiffRule {
    /// Not measured.
    #[default]
    Off,
    /// Measured, journaled and shown in the Queue view.
    Show,
    /// Shown, and a merge that removes a column the integration build has
    /// does not land.
    BlockOnRemovedColumns,
}

/// `[merge] approve`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApproveRule {
    /// Only the operator approves.
    #[default]
    Human,
    /// A slice approves itself once its agent is done, its dbt run on its
    /// commit passed, it has no flags, and what it comes after merged or
    /// is queued.
    WhenGreen,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceSpec {
    pub name: SliceName,
    /// Globs relative to the repository root.
    pub owns: Vec<String>,
    pub prompt: String,
    /// Overrides the plan's agent command for this slice.
    pub agent: Option<String>,
    pub env: BTreeMap<String, String>,
    /// Slices that must merge before this one.
    pub after: Vec<SliceName>,
    /// Extra log files to tail, globs relative to the worktree.
    pub logs: Vec<String>,
    /// Set on each competing variant of one planned slice (`variants` in
    /// the plan): the slice they are variants of. Variants share the
    /// slice's `owns` and may change the same paths as each other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_of: Option<SliceName>,
    pub role: SliceRole,
    /// This slice's own budget, over `[agent] budget`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::domain::usage::Budget>,
    /// This slice's own sandbox and network, over `[agent]`'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<super::sandbox::SandboxKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<super::sandbox::Network>,
}

impl SliceSpec {
    /// A worker slice owning `owns`, with the defaults for everything else:
    /// no prompt, the plan's agent, no extra environment, `after` or logs,
    /// not a variant. Set the rest with struct update syntax, e.g.
    /// `SliceSpec { prompt, ..SliceSpec::new(name, owns) }`.
    pub fn new(name: SliceName, owns: Vec<String>) -> Self {
        Self {
            name,
            owns,
            prompt: String::new(),
            agent: None,
            env: BTreeMap::new(),
            after: Vec::new(),
            logs: Vec::new(),
            variant_of: None,
            role: SliceRole::Worker,
            budget: None,
            sandbox: None,
            network: None,
        }
    }
}

/// The shell script a merge check runs in the integration worktree: the
/// plan's `[worktree] setup` first (the check's worktree needs what every
/// worktree needs: `dbt deps`…), each command said before it runs, then
/// `check`; the first to fail ends it.
pub fn check_script(setup: &[String], check: &str) -> String {
    let mut script = String::from("set -e\n");
    for command in setup.iter().map(String::as_str).chain([check]) {
        let said = shlex::try_quote(&format!("$ {command}"))
            .map_or_else(|_| "''".to_owned(), |q| q.into_owned());
        // In a subshell of its own: a setup's `cd`, `export` or `exit 0`
        // never reaches the check.
        script.push_str(&format!("printf '%s\\n' {said}\n(\n{command}\n)\n"));
    }
    script
}

impl Plan {
    pub fn slice(&self, name: &str) -> Option<&SliceSpec> {
        self.slices.iter().find(|s| s.name.as_str() == name)
    }

    /// Every slice's `owns` globs, compiled (a checked plan's always compile);
    /// variants of one slice never count as overlapping each other.
    pub fn ownership(&self) -> Result<Ownership, BadGlob> {
        let ownership = Ownership::new(self.slices.iter().map(|s| (&s.name, s.owns.as_slice())))?;
        Ok(ownership.with_families(
            self.slices
                .iter()
                .filter_map(|s| Some((s.name.clone(), s.variant_of.clone()?))),
        ))
    }

    /// The variants of `family`, in plan order (none for a plain slice).
    pub fn variants_of(&self, family: &SliceName) -> Vec<&SliceSpec> {
        self.slices
            .iter()
            .filter(|s| s.variant_of.as_ref() == Some(family))
            .collect()
    }

    /// The planner agent, when the plan has one.
    pub fn planner(&self) -> Option<&SliceSpec> {
        self.slices.iter().find(|s| s.role == SliceRole::Planner)
    }

    /// Whether `slice` is the planner agent.
    pub fn is_planner(&self, slice: &SliceName) -> bool {
        self.planner().is_some_and(|p| &p.name == slice)
    }

    /// The slices of the work: every slice but the planner.
    pub fn workers(&self) -> impl Iterator<Item = &SliceSpec> {
        self.slices.iter().filter(|s| s.role == SliceRole::Worker)
    }

    /// The slice's branch; the planner's is the base (it works in the
    /// main worktree).
    pub fn branch_for(&self, slice: &SliceName, repo: &str) -> String {
        if self.is_planner(slice) {
            return self.base.clone();
        }
        template::expand(&self.branch, TemplateVars { slice, repo })
    }

    /// The slice's worktree, absolute, from the repository root; the
    /// planner's is the repository itself.
    pub fn worktree_for(&self, slice: &SliceName, repo_root: &Path) -> PathBuf {
        if self.is_planner(slice) {
            return repo_root.to_owned();
        }
        let relative = template::expand(
            &self.worktrees,
            TemplateVars {
                slice,
                repo: &repo_name(repo_root),
            },
        );
        normalize(&repo_root.join(relative))
    }

    pub fn dbt_target_for(&self, slice: &SliceName, repo: &str) -> String {
        template::expand(&self.dbt.target, TemplateVars { slice, repo })
    }

    pub fn dbt_schema_for(&self, slice: &SliceName, repo: &str) -> String {
        template::expand(&self.dbt.schema, TemplateVars { slice, repo })
    }

    /// What the slice's agent runs in: its own sandbox and network, or the
    /// plan's.
    pub fn box_for(&self, slice: &SliceSpec) -> super::sandbox::SliceBox {
        super::sandbox::SliceBox {
            kind: slice.sandbox.unwrap_or(self.agent.sandbox.kind),
            network: slice.network.unwrap_or(self.agent.sandbox.network),
        }
    }

    /// The agent command for a slice: its own, or the plan's.
    pub fn agent_command_for<'a>(&'a self, slice: &'a SliceSpec) -> &'a str {
        slice.agent.as_deref().unwrap_or(&self.agent.command)
    }
}

/// The repository's folder name, used for `{repo}`.
pub fn repo_name(repo_root: &Path) -> String {
    repo_root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repo".to_owned())
}

/// Resolves `.` and `..` without touching the disk (the worktree may not
/// exist yet, so `canonicalize` is not an option).
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_resolves_parent_components() {
        assert_eq!(
            normalize(Path::new("/w/shop/../shop.slices/./a")),
            PathBuf::from("/w/shop.slices/a")
        );
    }
}
