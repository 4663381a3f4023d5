//! The plan file exactly as written: serde structs that reject unknown keys
//! and keep each value's position, so later checks can name the line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    pub base: Option<Spanned<String>>,
    pub integration: Option<Spanned<String>>,
    pub worktrees: Option<Spanned<String>>,
    pub branch: Option<Spanned<String>>,
    pub max_running: Option<Spanned<i64>>,
    pub agent: Option<Spanned<RawAgent>>,
    pub dbt: Option<RawDbt>,
    pub merge: Option<RawMerge>,
    pub notify: Option<RawNotify>,
    pub forge: Option<RawForge>,
    pub worktree: Option<RawWorktree>,
    #[serde(default, rename = "slice")]
    pub slices: Vec<Spanned<RawSlice>>,
    pub planner: Option<Spanned<RawPlanner>>,
}

/// `[forge]`: where `sliceboard publish` pushes, and what it runs then.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawForge {
    pub remote: Option<String>,
    pub command: Option<String>,
    pub when_empty: Option<bool>,
}

/// `[planner]`: an agent in the main worktree whose work is the plan.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlanner {
    pub command: Option<Spanned<String>>,
    pub prompt: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    pub command: Option<Spanned<String>>,
    pub resume: Option<Spanned<String>>,
    #[serde(default)]
    pub env: BTreeMap<Spanned<String>, Spanned<String>>,
    pub scrollback: Option<Spanned<i64>>,
    pub waiting_patterns: Option<Vec<Spanned<String>>>,
    pub hooks: Option<Spanned<String>>,
    pub keep_children: Option<bool>,
    pub resume_after_limit: Option<bool>,
    pub budget: Option<Spanned<crate::domain::usage::Budget>>,
    pub sandbox: Option<Spanned<String>>,
    pub network: Option<Spanned<String>>,
    pub sandbox_command: Option<Spanned<String>>,
    #[serde(default)]
    pub writable: Vec<Spanned<String>>,
    #[serde(default)]
    pub hidden: Vec<Spanned<String>>,
    #[serde(default)]
    pub pass_env: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDbt {
    pub project_dir: Option<Spanned<String>>,
    pub target: Option<Spanned<String>>,
    pub schema: Option<Spanned<String>>,
    pub defer: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorktree {
    pub setup: Option<Vec<Spanned<String>>>,
    pub teardown: Option<Vec<Spanned<String>>>,
    pub ports: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMerge {
    pub check: Option<Spanned<String>>,
    pub auto: Option<bool>,
    pub feedback: Option<String>,
    pub on_failure: Option<Spanned<String>>,
    pub approve: Option<Spanned<String>>,
    pub max_attempts: Option<Spanned<i64>>,
    pub batch: Option<Spanned<i64>>,
    pub parallel: Option<Spanned<i64>>,
    pub data_diff: Option<Spanned<String>>,
}

/// `[notify]`: which transitions call the operator, and how.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    pub on: Option<Vec<Spanned<String>>>,
    pub command: Option<Spanned<String>>,
    pub bell: Option<bool>,
    pub desktop: Option<bool>,
    pub quiet: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlice {
    pub name: Spanned<String>,
    pub owns: Option<Spanned<Vec<Spanned<String>>>>,
    pub prompt: Option<String>,
    pub agent: Option<Spanned<String>>,
    #[serde(default)]
    pub env: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    pub after: Vec<Spanned<String>>,
    #[serde(default)]
    pub logs: Vec<Spanned<String>>,
    /// A number of competing variants, or a list of `{ agent, prompt }`
    /// tables (read in `variants.rs`, which names the line of a bad one).
    pub variants: Option<Spanned<toml::Value>>,
    pub budget: Option<Spanned<crate::domain::usage::Budget>>,
    pub sandbox: Option<Spanned<String>>,
    pub network: Option<Spanned<String>>,
}
