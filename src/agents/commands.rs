//! What the operator's commands do to the agents: [`Agents::execute`]
//! runs one (start, restart, pause and resume, input, resize, signals,
//! prompts, kill, shutdown; `up`, `down` and `setup` through
//! `worktree_ops`), and says what was done or why not.
//!
//! Owns the meaning of each command for a slice's agent; the merge
//! queue's commands are refused here (they go to the queue), and the
//! worktree operations' locking is `worktree_ops`'s, never touched here.

use super::{Actor, Agents, AgentsError, Hold, Launch, refused};
use crate::domain::command::Service;
use crate::domain::{AgentStatus, Command, SliceName};
use crate::session::Size;

/// The terminal sizes a client may ask for: an emulator allocates every
/// cell of its grid, history included, so the size is bounded.
const MIN_COLS: u16 = 2;
const MAX_COLS: u16 = 1000;
const MAX_ROWS: u16 = 500;

impl Agents {
    /// Carries out one command from the operator; says what was done when
    /// there is more to say than "done".
    pub fn execute(&mut self, command: Command) -> Result<String, AgentsError> {
        self.dispatch(command).map(Option::unwrap_or_default)
    }

    fn dispatch(&mut self, command: Command) -> Result<Option<String>, AgentsError> {
        let done = |result: Result<(), AgentsError>| result.map(|()| None);
        match command {
            command @ (Command::Up { .. } | Command::Down { .. } | Command::Setup { .. }) => {
                self.check_down(&command)?;
                let (outcome, events) = self.ops().run(&command);
                events.into_iter().for_each(|e| (self.report)(e));
                outcome.map(Some).map_err(AgentsError::Failed)
            }
            Command::KillAgent { slice } => self.kill(&slice),
            Command::RaiseBudget { slice } => self.raise_budget(&slice).map(Some),
            Command::StartAgent { slice } => {
                self.start(&slice, Launch::Fresh)?;
                Ok(self.pending_reason(&slice))
            }
            Command::Shutdown => {
                let stopped = self.running_count();
                self.shutdown();
                self.finished = true;
                Ok(Some(format!(
                    "stopped {stopped} agent{} and the supervisor",
                    if stopped == 1 { "" } else { "s" }
                )))
            }
            other => done(self.act(other)),
        }
    }

    fn act(&mut self, command: Command) -> Result<(), AgentsError> {
        match command {
            Command::StartAgent { slice } => self.start(&slice, Launch::Fresh),
            Command::RestartAgent { slice } => self.restart(&slice),
            Command::PauseAgent { slice } => self.hold(&slice, Hold::Pause),
            Command::ResumeAgent { slice } => self.hold(&slice, Hold::Resume),
            Command::SendInput { slice, bytes } => {
                let session = self.live(&slice)?;
                session.write(&bytes).map_err(|e| refused(&slice, e))
            }
            Command::ResizeAgent { slice, cols, rows } => {
                self.resize(&slice, Size { cols, rows })?;
                // The reflowed screen is drawn again even if the agent
                // prints nothing more.
                if let Some(listener) = &self.on_output {
                    listener(&slice);
                }
                Ok(())
            }
            Command::Signal {
                slice,
                activity,
                origin,
            } => self.signal(&slice, activity, origin),
            Command::ReportUsage {
                slice,
                tokens,
                model,
                usd,
            } => self.report_usage(&slice, tokens, model, usd),
            Command::Prompt {
                slice,
                text,
                by_itself,
            } => {
                let actor = if by_itself {
                    Actor::Sliceboard
                } else {
                    Actor::Operator
                };
                self.prompt(&slice, text, actor)
            }
            // Up, Down, Setup, KillAgent and Shutdown are `dispatch`'s
            // before it gets here; the rest are not the agents' at all
            // (`Command::served_by`).
            other => Err(AgentsError::Unsupported(match other.served_by() {
                Service::MergeQueue => "merge-queue commands",
                Service::Board => "questions the socket server answers from the board",
                Service::Agents => "this command here",
            })),
        }
    }

    fn resize(&mut self, slice: &SliceName, size: Size) -> Result<(), AgentsError> {
        if !(MIN_COLS..=MAX_COLS).contains(&size.cols) || !(1..=MAX_ROWS).contains(&size.rows) {
            return Err(refused(
                slice,
                format!(
                    "a terminal of {}x{} is out of range ({MIN_COLS} to {MAX_COLS} columns, 1 to {MAX_ROWS} rows)",
                    size.cols, size.rows
                ),
            ));
        }
        self.known(slice)?;
        if let Some(slot) = self.slots.get_mut(slice) {
            slot.size = Some(size);
        }
        let Some(session) = self.session(slice) else {
            // An earlier supervisor's screen reflows; nothing else to do.
            if let Some(screen) = self
                .screens
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(slice)
            {
                screen.with_screen(|s| s.resize(size));
            }
            return Ok(());
        };
        let resized = session.resize(size);
        // An ended agent's screen still reflows; its PTY is gone.
        if session.exit().is_none() {
            resized.map_err(|e| refused(slice, e))?;
        }
        Ok(())
    }

    fn restart(&mut self, slice: &SliceName) -> Result<(), AgentsError> {
        self.ws.slice(slice.as_str())?;
        let grace = self.options.kill_grace;
        let slot = self.slots.entry(slice.clone()).or_default();
        match slot.session.as_mut() {
            Some(session) if session.exit().is_none() => {
                slot.restart_when_exited = true;
                drop(session.kill(grace));
                Ok(())
            }
            _ => self.start(slice, Launch::Resume),
        }
    }

    pub(super) fn hold(&mut self, slice: &SliceName, hold: Hold) -> Result<(), AgentsError> {
        let grace_slot = self.slots.get_mut(slice);
        let Some(session) = grace_slot
            .and_then(|s| s.session.as_mut())
            .filter(|s| s.exit().is_none())
        else {
            return Err(refused(slice, "its agent is not running"));
        };
        let (result, status) = match hold {
            Hold::Pause => (session.pause(), AgentStatus::Paused),
            Hold::Resume => (session.resume(), AgentStatus::Running),
        };
        result.map_err(|e| refused(slice, e))?;
        self.set_status(slice, status, Actor::Operator);
        Ok(())
    }

    /// Kills the slice's agent; with none running, ends the group an
    /// earlier supervisor left running there.
    fn kill(&mut self, slice: &SliceName) -> Result<Option<String>, AgentsError> {
        if let Some(at) = self.pending.iter().position(|(p, _)| p == slice) {
            self.pending.remove(at);
            self.set_status(slice, AgentStatus::NotStarted, Actor::Operator);
            return Ok(None);
        }
        let live = self.session(slice).is_some_and(|s| s.exit().is_none());
        if !live && self.left_running(slice).is_some() {
            return self.end_left_running(slice).map(Some);
        }
        let grace = self.options.kill_grace;
        let slot = self.slots.get_mut(slice);
        let Some(session) = slot
            .and_then(|s| {
                s.restart_when_exited = false;
                s.session.as_mut()
            })
            .filter(|s| s.exit().is_none())
        else {
            return Err(refused(slice, "its agent is not running"));
        };
        // The end is reported by the session's exit event.
        drop(session.kill(grace));
        Ok(None)
    }
}
