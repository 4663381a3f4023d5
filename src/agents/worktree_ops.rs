//! `up` and `down` for a running supervisor. They run on a thread of their
//! own when a client asks for them: creating or removing worktrees on a big
//! repository takes seconds, and meanwhile the supervisor's thread must go
//! on serving keys, signals and panes.
//!
//! They change `state.json` only through the supervisor's [`StateStore`]
//! (never held while git works or a setup runs), and what they journaled
//! comes back from it and from the setup, for the watchers.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use super::Outcome;
use crate::domain::{Command, Event, Plan};
use crate::store::StateStore;
use crate::workspace::{Workspace, WorkspaceError};

/// What an operation needs, cheap to clone onto a thread.
#[derive(Clone)]
pub(super) struct Ops {
    pub root: PathBuf,
    /// The plan the supervisor runs: an operation refuses when the file
    /// says something else now.
    pub plan: Plan,
    pub state: StateStore,
    pub one_at_a_time: OneAtATime,
    /// Told as each setup command starts (its state already says it
    /// runs): whoever shows the setup's output reads it from then on.
    pub on_setup: Option<super::OutputListener>,
}

/// One supervisor's worktree operations take turns, setups included: a
/// `down` that ran while an `up` checked out the same slice's files
/// removed the record and left a folder git no longer knew, and one run
/// during a setup would remove the folder under its commands. (Commands
/// run without a supervisor take turns already, by the state lock.)
#[derive(Clone, Default)]
pub(super) struct OneAtATime(Arc<Mutex<()>>);

impl OneAtATime {
    /// Waits for the operation that runs, if one does.
    fn take(&self) -> MutexGuard<'_, ()> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Ops {
    /// Runs `Up`, `Down` or `Setup` on this thread: what came of it, and
    /// every event it journaled.
    pub fn run(&self, command: &Command) -> (Outcome, Vec<Event>) {
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
        let _turn = self.one_at_a_time.take();
        let mut events = Vec::new();
        let outcome = match command {
            Command::Up { slices } => self.up(&ws, slices, &mut events),
            Command::Setup { slice, skip } => {
                let setup = self.setup(&ws, slice, *skip);
                events.extend(setup.event);
                Ok(if setup.passed {
                    Ok(setup.line)
                } else {
                    Err(setup.line)
                })
            }
            // Its agent may have started while it waited for its turn.
            Command::Down { slice, .. } if ws.state_dir.agent_file(slice).exists() => Ok(Err(format!(
                "slice {slice}: its agent started while this down waited for the worktree operation before it; kill it first"
            ))),
            Command::Down { slice, force } => {
                crate::workspace::down(&ws, &self.state, slice.as_str(), *force, &mut |_| {}).map(
                    |report| {
                        events.extend(report.events.iter().cloned());
                        Ok(report.describe())
                    },
                )
            }
            other => Ok(Err(format!("not a worktree operation: {other:?}"))),
        }
        .unwrap_or_else(|err: WorkspaceError| Err(err.to_string()));
        (outcome, events)
    }

    /// `up`, then the setup of every worktree it made.
    fn up(
        &self,
        ws: &Workspace,
        slices: &[crate::domain::SliceName],
        events: &mut Vec<Event>,
    ) -> Result<Outcome, WorkspaceError> {
        let names: Vec<String> = slices.iter().map(ToString::to_string).collect();
        let mut report = crate::workspace::UpReport::default();
        let done = crate::workspace::up_into(ws, &self.state, &names, &mut |_| {}, &mut report);
        // What was journaled before an error is on the board too.
        events.extend(report.events.iter().cloned());
        done?;
        let mut said = report.describe(&ws.plan.base);
        let mut ok = report.failed.is_empty();
        if !ws.plan.setup.is_empty() {
            for slice in report.created.iter().chain(&report.reused_branch) {
                let setup = self.setup(ws, slice, false);
                said.push('\n');
                said.push_str(&setup.line);
                ok &= setup.passed;
                events.extend(setup.event);
            }
        }
        Ok(if ok { Ok(said) } else { Err(said) })
    }

    /// A slice's setup (or its skip), whoever follows its output told as
    /// each command starts.
    fn setup(
        &self,
        ws: &Workspace,
        slice: &crate::domain::SliceName,
        skip: bool,
    ) -> crate::workspace::SetupOutcome {
        crate::workspace::setup_journaled(ws, slice, skip, &mut |_| {
            if let Some(told) = &self.on_setup {
                told(slice);
            }
        })
    }
}
