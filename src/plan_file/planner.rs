//! `[planner]`: the planner agent as a slice of role
//! [`SliceRole::Planner`], named `planner`, owning only the plan file,
//! added after the other slices.
//!
//! Part of the plan's [`Checker`]: where the planner lives and what it may
//! do (its worktree, branch, brief, review) is decided by the domain and
//! the workspace, never here; the other slices are `slices`'s.

use toml::Spanned;

use super::diagnostic::Diagnostic;
use super::load::Checker;
use super::raw::RawPlanner;
use crate::domain::plan::{PLANNER, SliceRole, SliceSpec};
use crate::domain::slice::SliceName;

impl Checker<'_> {
    /// `[planner]`: the planner agent as a slice of its own role, after the
    /// others; its name must not be taken.
    pub(super) fn planner(
        &mut self,
        raw: Option<Spanned<RawPlanner>>,
        slices: &[SliceSpec],
    ) -> Option<SliceSpec> {
        let raw = raw?;
        let line = self.line(raw.span());
        let raw = raw.into_inner();
        let command = match raw.command {
            Some(command) if !command.get_ref().trim().is_empty() => {
                self.command_placeholders(&command, "planner > command");
                command.into_inner()
            }
            other => {
                let line = other.map_or(line, |c| self.line(c.span()));
                self.push(
                    Diagnostic::error(line, "planner > command", "is missing or empty")
                        .fix("give the planner agent's command, e.g. `command = \"claude {prompt}\"`; its brief (`{brief}`) tells it what to do"),
                );
                return None;
            }
        };
        if slices.iter().any(|s| s.name.as_str() == PLANNER) {
            self.push(
                Diagnostic::error(
                    line,
                    "planner",
                    format!("a slice is already named `{PLANNER}`"),
                )
                .fix("rename that slice: the planner agent goes by that name on the board"),
            );
            return None;
        }
        Some(SliceSpec {
            prompt: raw.prompt.unwrap_or_default(),
            agent: Some(command),
            role: SliceRole::Planner,
            ..SliceSpec::new(
                SliceName::parse(PLANNER).expect("a valid name"),
                vec![super::PLAN_FILE.to_owned()],
            )
        })
    }
}
