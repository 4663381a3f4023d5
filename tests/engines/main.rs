//! The adapters against real resources, in this process: agent sessions
//! in real pseudo-terminals and the screen they draw, live diffs of real
//! worktrees, real dbt runs on DuckDB, and the agents' supervisor driven
//! step by step. One test binary, so that the crates they all need are
//! linked once.

#[path = "../common/mod.rs"]
mod common;

mod dbt_defer;
mod dbt_outcomes;
mod dbt_runs;
mod diffs;
mod screen_replay;
mod sessions;
mod supervisor;
