//! sliceboard: supervise a large refactor split into parallel slices, each
//! with its own git worktree and branch, coding agent and dbt target.
//!
//! Layers, from the bottom: [`domain`] (plain data and rules), the adapters
//! [`plan_file`], [`git`] and [`store`], the application services in
//! [`workspace`], and the command line in [`cli`]. See ARCHITECTURE.md.

#![deny(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod agents;
pub mod cli;
pub mod dbt;
pub mod demo;
pub mod domain;
pub mod git;
pub mod link;
pub mod log_file;
pub mod merge_queue;
pub mod os;
pub mod plan_file;
pub mod session;
pub mod store;
pub mod supervisor;
pub mod ui;
pub mod watch;
pub mod workspace;
