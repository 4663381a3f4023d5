//! The supervisor as its own process (`sliceboard supervise`) over a real
//! repository, with real clients: agents and their hooks and process
//! trees, dashboards over the socket, the command line, the merge queue,
//! variants and the planner, plan edits, setup commands, and every way a
//! run ends. One test binary, so that the crates they all need are linked
//! once; every test owns its supervisor process and ends it.

#[path = "../common/mod.rs"]
mod common;

mod agent_hooks;
mod agent_trees;
mod bounded;
mod diff_truth;
mod merge_autopilot;
mod merge_parallel;
mod merge_queue;
mod notify;
mod orphans;
mod plan_reload;
mod planner;
mod private_files;
mod prompts;
mod resume;
mod review_comments;
mod run_endings;
mod sandbox;
mod supervisor_process;
mod usage;
mod usage_limit;
mod variants;
mod worktree_setup;
