//! How other threads reach the agents: [`AgentsHandle`] sends commands,
//! plans and questions into the agents' inbox ([`Inbox`], read by
//! [`Agents::step`](super::Agents::step) on the supervisor's main thread)
//! and hands back where the answer will arrive.
//!
//! Owns the inbox's message types and the handle; what each message does
//! is the agents' (`mod.rs`, `commands`), never decided here.

use std::sync::mpsc;

use crate::domain::{Command, Event, SliceName};
use crate::session::SessionEvent;

/// What a command came to: `Ok` with what was done (often empty), `Err`
/// with why not.
pub type Outcome = Result<String, String>;

/// Where a command's outcome goes.
pub type Reply = tokio::sync::oneshot::Sender<Outcome>;

/// Whose agent runs in a slice's worktree now, for whoever must wait
/// for it to end before the worktree goes (a pick retiring a variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentPresence {
    /// None: the worktree may be removed.
    Gone,
    /// This supervisor's agent, its pid.
    Ours { pid: i32 },
    /// A group an earlier supervisor left running (`left_running`).
    LeftRunning { pid: i32 },
}

pub(super) enum Inbox {
    Session(SessionEvent),
    Request {
        command: Command,
        reply: Reply,
    },
    Local(Command),
    /// Ending a group left running by an earlier supervisor is over;
    /// `None`: it was gone before it was signalled.
    LeftRunningStopped {
        slice: SliceName,
        pid: i32,
        termination: Option<crate::session::Termination>,
    },
    /// The plan file changed and may be taken live.
    UsePlan(Box<crate::domain::Plan>),
    /// Whose agent runs in the slice now ([`AgentsHandle::agent_presence`]).
    Presence {
        slice: SliceName,
        reply: tokio::sync::oneshot::Sender<AgentPresence>,
    },
    /// A worktree operation ended on its own thread.
    OpDone {
        command: Command,
        outcome: Outcome,
        events: Vec<Event>,
        reply: Option<Reply>,
    },
}

/// Sends commands to a supervisor running on another thread.
#[derive(Clone)]
pub struct AgentsHandle(pub(super) mpsc::Sender<Inbox>);

impl AgentsHandle {
    /// Sends without waiting; a failure comes back as [`Event::CommandFailed`].
    pub fn send(&self, command: Command) {
        let _ = self.0.send(Inbox::Local(command));
    }

    /// Puts a changed plan in force (one `domain::plan_change` allows live).
    pub fn use_plan(&self, plan: crate::domain::Plan) {
        let _ = self.0.send(Inbox::UsePlan(Box::new(plan)));
    }

    /// Sends and hands back where the outcome will arrive; no
    /// `CommandFailed` event is raised, the outcome says it.
    pub fn request(&self, command: Command) -> tokio::sync::oneshot::Receiver<Outcome> {
        let (reply, outcome) = tokio::sync::oneshot::channel();
        if let Err(mpsc::SendError(Inbox::Request { reply, .. })) =
            self.0.send(Inbox::Request { command, reply })
        {
            let _ = reply.send(Err("the supervisor is shutting down".into()));
        }
        outcome
    }

    /// Whose agent runs in `slice`'s worktree now; the receiver errs when
    /// the supervisor is gone or shutting down.
    pub fn agent_presence(
        &self,
        slice: &SliceName,
    ) -> tokio::sync::oneshot::Receiver<AgentPresence> {
        let (reply, presence) = tokio::sync::oneshot::channel();
        let _ = self.0.send(Inbox::Presence {
            slice: slice.clone(),
            reply,
        });
        presence
    }
}
