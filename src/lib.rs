//! sliceboard: supervise a large refactor split into parallel slices, each
//! with its own git worktree and branch, coding agent and dbt target.
//!
//! Two kinds of process run this library: one **supervisor** per
//! repository, in the background, and any number of **clients** (the
//! dashboard, the command line, agents' hooks) that talk to it over its
//! socket. Dependencies point one way, from the top of this map to the
//! bottom; ARCHITECTURE.md has the full table, and `src/boundaries.rs` (a test)
//! keeps the code to it.
//!
//! Entry points
//! - [`cli`]: arguments, output and exit codes of every command.
//! - [`demo`]: `sliceboard demo`, the sample project and its stand-in agent.
//!
//! The dashboard (a client)
//! - [`ui`]: the board, the panes and the keys; draws what the supervisor sends.
//!
//! The supervisor process
//! - [`supervisor`]: the composition root: the socket server, the hub that
//!   holds the one true board, the clients, the file follower, launching.
//! - [`agents`]: every slice's agent session: starts, the running cap,
//!   restarts, pauses, kills, what an earlier supervisor left running.
//! - [`merge_queue`]: approvals, conflict previews, merge attempts with
//!   their check, feedback, clean and pick.
//!
//! Application services
//! - [`workspace`]: a repository with its plan and state: `up`, `down`,
//!   `status`, approvals, reconcile, briefs, worktree setup.
//!
//! Adapters (each to one outside thing, blocking, tested against the real one)
//! - [`plan_file`]: `sliceboard.toml` read, checked and written.
//! - [`git`]: every git operation, and the merge engine.
//! - [`store`]: `.git/sliceboard/`: `state.json`, the journal, the lock.
//! - [`session`]: one agent in one PTY with its terminal emulator.
//! - [`dbt`]: dbt's logs and artifacts followed into runs; deferral.
//! - [`watch`]: live diffs over every worktree (inotify and git).
//! - [`link`]: how a client reaches the supervisor (socket or ssh).
//! - [`log_file`]: tracing to a file, never to a terminal.
//! - [`os`]: the system calls std does not wrap; the only `unsafe` code.
//!
//! The domain
//! - [`domain`]: plain data and rules (slices, plans, the board, commands
//!   and events, the wire protocol); no I/O.

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

#[cfg(test)]
mod boundaries;
