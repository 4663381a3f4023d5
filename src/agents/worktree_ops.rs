//! `up` and `down` for a running supervisor. They run on a thread of their
//! own when a client asks for them: creating or removing worktrees on a big
//! repository takes seconds, and meanwhile the supervisor's thread must go
//! on serving keys, signals and panes.
//!
//! Every writer of `state.json` in the supervisor process takes
//! [`Ops::writes`] first (these operations, approvals, an agent's first
//! start), so no two ever interleave a read and a write of it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::Outcome;
use crate::domain::{Command, Event, Plan};
use crate::store::StateLock;
use crate::workspace::{Workspace, WorkspaceError};

/// What an operation needs, cheap to clone onto a thread.
#[derive(Clone)]
pub(super) struct Ops {
    pub root: PathBuf,
    /// The plan the supervisor runs: an operation refuses when the file
    /// says something else now.
    pub plan: Plan,
    pub lock: Arc<StateLock>,
    pub writes: Arc<Mutex<()>>,
}

impl Ops {
    /// Runs `Up` or `Down` on this thread: what came of it, and every
    /// event it journaled.
    pub fn run(&self, command: &Command) -> (Outcome, Vec<Event>) {
        // A setup runs for minutes perhaps, and writes no `state.json`.
        let writing = (!matches!(command, Command::Setup { .. }))
            .then(|| self.writes.lock().unwrap_or_else(PoisonError::into_inner));
        let ws = match Workspace::open(&self.root) {
            Ok(ws) => ws,
            Err(err) => return (Err(format!("the plan no longer loads: {err}")), Vec::new()),
        };
        // Following a plan that is not in force would create or remove the
        // wrong worktrees: the file changed in a way that needs a restart,
        // or the supervisor has not read it yet.
        if ws.plan != self.plan {
            return (
                Err("sliceboard.toml changed and its new plan is not in force (the board's header says why); wait a moment and try again, or run `sliceboard stop`, then `sliceboard`, to use it".into()),
                Vec::new(),
            );
        }
        let journal = ws.state_dir.journal();
        let mark = journal.end();
        let outcome = match command {
            Command::Up { slices } => {
                let names: Vec<String> = slices.iter().map(ToString::to_string).collect();
                crate::workspace::up(&ws, &self.lock, &names, &mut |_| {}).map(|report| {
                    // New worktrees get their setup, without the state lock.
                    drop(writing);
                    let mut said = report.describe(&ws.plan.base);
                    let mut ok = report.failed.is_empty();
                    if !ws.plan.setup.is_empty() {
                        for slice in report.created.iter().chain(&report.reused_branch) {
                            let (line, passed) =
                                crate::workspace::setup_journaled(&ws, slice, false);
                            said.push('\n');
                            said.push_str(&line);
                            ok &= passed;
                        }
                    }
                    if ok { Ok(said) } else { Err(said) }
                })
            }
            Command::Setup { slice, skip } => {
                let (line, passed) = crate::workspace::setup_journaled(&ws, slice, *skip);
                Ok(if passed { Ok(line) } else { Err(line) })
            }
            Command::Down { slice, force } => {
                crate::workspace::down(&ws, &self.lock, slice.as_str(), *force, &mut |_| {})
                    .map(|report| Ok(report.describe()))
            }
            other => Ok(Err(format!("not a worktree operation: {other:?}"))),
        }
        .unwrap_or_else(|err: WorkspaceError| Err(err.to_string()));
        let events = journal
            .read_from(mark)
            .map(|read| read.entries.into_iter().map(|e| e.event).collect())
            .unwrap_or_default();
        (outcome, events)
    }
}
