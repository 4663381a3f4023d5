//! The commented starter plan that `sliceboard init` writes, and the text
//! `sliceboard plan` writes around its proposal.
//!
//! The slices come from the caller: `init` takes them from the folder rule
//! it shares with `plan` (`domain::planning::from_folders`, one slice per
//! folder under a dbt project's `models/` or the repository root), so the
//! starter validates as written and shows the shape of a real plan. This
//! module only writes text; it decides no slice.

use std::fmt::Write as _;

use crate::domain::plan::{
    DEFAULT_BRANCH, DEFAULT_DBT_SCHEMA, DEFAULT_DBT_TARGET, DEFAULT_MAX_RUNNING, DEFAULT_WORKTREES,
};
use crate::domain::planning::{Proposal, SliceCount, from_folders};
use crate::domain::slice::SliceName;

/// A slice the starter proposes: its name, what it owns, the slices it
/// comes after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub name: SliceName,
    pub folder: String,
    /// More globs beside `folder`, when the slice owns several.
    pub more: Vec<String>,
    pub after: Vec<SliceName>,
}

/// What a proposed plan adds to the starter: the dbt project's folder and
/// comment lines (files no slice owns, decisions taken).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    pub project_dir: Option<String>,
    pub comments: Vec<String>,
}

/// The slices `init` proposes from the files of the base branch: one per
/// folder, by the rule `plan` uses too.
pub fn suggest_slices(files: &[String]) -> Vec<Suggestion> {
    suggestions(&from_folders(files, SliceCount::PerFolder).proposal)
}

/// A proposal's slices as the starter writes them.
pub fn suggestions(proposal: &Proposal) -> Vec<Suggestion> {
    proposal
        .slices
        .iter()
        .map(|s| Suggestion {
            name: s.name.clone(),
            folder: s.owns.first().cloned().unwrap_or_default(),
            more: s.owns.iter().skip(1).cloned().collect(),
            after: s.after.clone(),
        })
        .collect()
}

/// The starter plan's text.
pub fn starter(base: &str, suggestions: &[Suggestion]) -> String {
    starter_with(base, suggestions, &Extras::default())
}

/// The starter plan's text, with a proposal's extras: the settings, then
/// the comments, then one `[[slice]]` table per suggestion (a single slice
/// owning everything when there is none).
pub fn starter_with(base: &str, suggestions: &[Suggestion], extras: &Extras) -> String {
    let mut out = settings(base, extras.project_dir.as_deref().unwrap_or("."));
    if suggestions.is_empty() {
        let _ = write!(
            out,
            r#"
[[slice]]
name = "everything"
# Globs relative to this folder; no two slices may own the same path.
owns = ["**"]
prompt = "Describe this slice's task here."
"#
        );
    }
    if !extras.comments.is_empty() {
        out.push('\n');
        for line in &extras.comments {
            let _ = writeln!(out, "# {line}");
        }
    }
    for (i, suggestion) in suggestions.iter().enumerate() {
        slice_table(&mut out, suggestion, i == 0);
    }
    out
}

/// The top-level settings, each commented, with the defaults.
fn settings(base: &str, project_dir: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        r#"# sliceboard.toml: the plan for one refactor split into parallel slices.
# Each [[slice]] gets its own git worktree, branch, agent and dbt target.
# Check it with `sliceboard check`; create the worktrees with `sliceboard up`.
# Templates may use {{slice}}, {{slice_ident}} (the name as an SQL identifier)
# and {{repo}} (this repository's folder name).

# The branch every slice starts from.
base = "{base}"
# The branch approved slices merge into (defaults to the base).
# integration = "refactor/integration"
# Where worktrees go, relative to this folder.
worktrees = "{DEFAULT_WORKTREES}"
# Each slice's branch.
branch = "{DEFAULT_BRANCH}"
# How many agents may run at once; the others wait as pending.
max_running = {DEFAULT_MAX_RUNNING}

[agent]
# Runs through your shell in the slice's worktree. {{prompt}} is the slice's
# prompt, shell-quoted; {{brief}} is the path of its brief (what it owns, what
# it must not touch, its dbt target); {{slice}} is its name.
command = "claude {{prompt}}"
# Used when a stopped agent is restarted.
resume = "claude --continue"
# Extra environment for every agent; values may use templates.
# env = {{ DUCKDB_PATH = "/tmp/{{repo}}-{{slice}}.duckdb" }}
# Lines of history each agent's terminal keeps.
# scrollback = 10000
# Regular expressions that mean the agent waits for you (the defaults know
# Claude Code, Codex and aider; see docs/agent-hooks.md for hooks).
# waiting_patterns = ["\\(y/n\\)", "do you want to"]
# Claude Code, Codex and aider get sliceboard's activity hooks added to their
# command line (nothing is written to your settings); "off" leaves them be.
# hooks = "auto"
# What an agent leaves running in its process group when it exits (a
# `nohup` job) is stopped too; true keeps it.
# keep_children = false
# An agent that hit its usage limit (Claude Code and Codex say when it resets)
# goes on by itself then: sent "continue" while it runs, or restarted with the
# resume command once it exited.
# resume_after_limit = false
# What each slice may spend, in US dollars (as estimated from list prices, or
# the agent's own figure) or tokens: the operator is called at 80%, the agent
# paused at 100% until the budget is raised ($ on the board). A slice's own
# `budget` goes over this one.
# budget = {{ usd = 5.0 }}
# Each agent in its own box (docs/sandbox.md): "bubblewrap" lets it write only
# its worktree and the git objects it commits, hides the main checkout, the
# other slices and your keys; network = "none" leaves it only loopback. Claude
# Code needs its own state writable; API keys pass by name.
# sandbox = "bubblewrap"
# network = "none"
# writable = ["~/.claude", "~/.claude.json"]
# pass_env = ["ANTHROPIC_API_KEY"]

[worktree]
# Commands run in each new worktree (and again with `sliceboard setup SLICE`
# or S in the dashboard), in the slice's environment; its agent starts only
# once they pass.
# setup = ["dbt deps", "dbt seed"]
# Commands run before `down` or `clean` removes a worktree.
# teardown = ["docker compose down"]
# A free TCP port per name for each slice, kept across restarts:
# SLICEBOARD_PORT_WEB in its environment, {{port.web}} in commands.
# ports = ["web"]

[dbt]
# The dbt project's folder inside each worktree.
project_dir = "{project_dir}"
# Each slice's dbt target and schema, exported as SLICEBOARD_DBT_TARGET and
# SLICEBOARD_DBT_SCHEMA for profiles.yml to read with env_var() (docs/dbt.md).
target = "{DEFAULT_DBT_TARGET}"
schema = "{DEFAULT_DBT_SCHEMA}"
# Slices build only what they changed, reading the rest from the last
# integration build that passed the merge check: each slice's DuckDB file
# (SLICEBOARD_DBT_DB) starts as a copy of it, and `dbt build
# $SLICEBOARD_DBT_SLIM` builds what changed and its children (docs/dbt.md,
# deferral). `sliceboard dbt-state` makes the first one.
# defer = "integration"

[merge]
# Runs on the merged result, in sliceboard's integration worktree (after the
# [worktree] setup, as in every worktree) with the dbt target of a slice
# named "integration", before the integration branch moves; a failing check
# leaves the branch where it was. With deferral,
# `dbt build $SLICEBOARD_DBT_SLIM` builds what the merge changed and its
# children (a full build until a first integration build is published).
# check = "dbt build"
# Merge ready slices as soon as they are approved and merge cleanly.
# auto = false
# A conflict or a failed check tells the slice's agent at once ("feedback"),
# or waits for you to press F ("wait").
# on_failure = "wait"
# "when-green": a slice approves itself once its agent is done, its dbt run on
# its files passed, it has no ownership or overlap flags, and what it comes
# after merged or is queued; with auto = true and on_failure = "feedback" the
# queue runs from "agents done" to "merged" with no key pressed.
# approve = "human"
# Failed attempts in a row before a slice waits for you (and you are called).
# max_attempts = 3
# Ready slices merged and checked together; a failing batch is bisected to
# find the slice that breaks it.
# batch = 1
# Queue entries checked at once: each on the tip plus the entries ahead of
# it, in a check worktree of its own; the branch still moves in queue order,
# and the entries behind a failed one are checked again without it. With
# batch > 1 too, slices go in batches and a failing batch is bisected with
# up to this many of its prefixes checked at once.
# parallel = 1
# With [dbt] defer: what each merge does to the data (the row counts and
# columns of every model the check built, before and after) in the Queue;
# "block-on-removed-columns" also refuses a merge that drops a column.
# data_diff = "show"
# What the agent is told about a conflict, a failed check or an upstream
# merge; {{slice}}, {{integration}}, {{what}} and {{todo}} are filled in.
# feedback = "..."

[forge]
# `sliceboard publish` pushes the integration branch's checked tip here, then
# runs the command ({{base}}, {{integration}}, {{remote}} are filled in); with
# when_empty = true it does so by itself when the merge queue empties.
# remote = "origin"
# command = "gh pr create --fill --base {{base}} --head {{integration}}"
# when_empty = false

[notify]
# What calls you, once per change (a state flickering back within 5 s calls
# once): waiting, done, failed, dbt_failed, merge_failed, merged, limited, budget, queue_empty.
# on = ["waiting", "done", "failed", "dbt_failed", "merge_failed", "merged", "limited", "budget", "queue_empty"]
# Attached dashboards ring the terminal's bell and send a desktop
# notification (OSC 9 and 777, through tmux too).
# bell = true
# desktop = true
# Run for each call while no dashboard is attached, with
# SLICEBOARD_NOTIFY_SLICE, _REASON, _MESSAGE and _REPO set.
# command = "notify-send sliceboard \"$SLICEBOARD_NOTIFY_MESSAGE\""
# Nothing calls; the board still shows everything.
# quiet = false
"#
    );
    out
}

/// One suggestion's `[[slice]]` table; the first also shows the optional
/// keys, commented out.
fn slice_table(out: &mut String, suggestion: &Suggestion, first: bool) {
    let owns: Vec<String> = std::iter::once(&suggestion.folder)
        .chain(&suggestion.more)
        .map(|glob| format!("\"{glob}\""))
        .collect();
    let _ = write!(
        out,
        r#"
[[slice]]
name = "{name}"
owns = [{owns}]
prompt = "Describe the work on {folder} here."
"#,
        name = suggestion.name,
        owns = owns.join(", "),
        folder = suggestion.folder,
    );
    if !suggestion.after.is_empty() {
        let after: Vec<String> = suggestion
            .after
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect();
        let _ = writeln!(out, "after = [{}]", after.join(", "));
    }
    if first {
        let _ = write!(
            out,
            r#"# Optional: slices that must merge before this one, this slice's own agent
# command and environment, and extra log files (globs in its worktree) to tail.
# after = ["other-slice"]
# agent = "aider --message {{prompt}}"
# env = {{ EXTRA = "1" }}
# logs = ["logs/*.log"]
# budget = {{ tokens = 2000000 }}
"#
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(raw: &[&str]) -> Vec<String> {
        raw.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn suggests_one_slice_per_models_folder_in_a_dbt_project() {
        let got = suggest_slices(&files(&[
            "dbt_project.yml",
            "models/staging/a.sql",
            "models/marts/b.sql",
            "models/root.sql",
            "seeds/x.csv",
        ]));
        let got: Vec<(&str, &str)> = got
            .iter()
            .map(|s| (s.name.as_str(), s.folder.as_str()))
            .collect();
        assert_eq!(
            got,
            [("marts", "models/marts/"), ("staging", "models/staging/")]
        );
    }

    #[test]
    fn falls_back_to_top_level_folders() {
        let got = suggest_slices(&files(&[
            "src/a.rs",
            "docs/x y/b.md",
            ".github/c",
            "README",
        ]));
        let names: Vec<&str> = got.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["docs", "src"]);
    }
}
