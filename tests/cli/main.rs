//! The command line on real repositories: the plan checked and written,
//! worktrees made and removed, output into a closed pipe, and the state
//! files under crashes and concurrent processes. One test binary, so that
//! the crates they all need are linked once.

#[path = "../common/mod.rs"]
mod common;

mod closed_pipe;
mod plan_from_dbt;
mod plan_limits;
mod plan_validation;
mod shell;
mod state_durability;
mod worktrees;
