//! The domain: slices and the states they and their agents move through,
//! the plan as resolved data (and what an edited one changes), ownership
//! and `after` ordering, the diff model, dbt runs, the merge queue and the
//! planner's review as plain data, proposals of slices (`planning`), each
//! slice's environment and brief, and the board every dashboard shows.
//! `command` is the vocabulary of what anyone asks for and what happened
//! (`Command`, `Event`); `wire` is the socket protocol that carries them,
//! with the board's updates and the panes (`pane`).
//!
//! Plain Rust only. Nothing in here may use git2, tokio, ratatui, crossterm,
//! portable-pty or the filesystem; adapters and the UI depend on this
//! module, never the other way round.

#![forbid(unsafe_code)]

pub mod agent_hooks;
pub mod board;
pub mod calls;
pub mod command;
pub mod comments;
pub mod dbt_run;
pub mod diff;
pub mod environment;
pub mod guide;
pub mod order;
pub mod ownership;
pub mod pane;
pub mod plan;
pub mod plan_change;
pub mod planning;
pub mod queue;
pub mod review;
pub mod sandbox;
pub mod setup;
pub mod slice;
pub mod template;
pub mod usage;
pub mod usage_limit;
pub mod wire;

pub use command::{Command, Drift, Event, MergeWhich};
pub use plan::{AgentSpec, DbtSpec, MergeSpec, Plan, SliceSpec};
pub use slice::{Activity, ActivitySource, AgentStatus, Lifecycle, SliceName, possessive};

/// The first ten characters of a commit id, as every view and message
/// shows one (never splits a character).
pub fn short_commit(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}
