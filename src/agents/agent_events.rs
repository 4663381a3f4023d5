//! What happens to a running agent from the outside and as it ends:
//! prompts pasted into it (held until a starting agent reads), its own
//! activity signals, and its exit (what it left running in its tree is
//! stopped; a restart or a pending agent follows).

use std::time::Instant;

use super::{Actor, Agents, AgentsError, Launch, PROMPT_WAIT, deliver, refused};
use crate::domain::{Activity, ActivitySource, AgentStatus, Command, Event, SliceName};
use crate::os::process_group;

impl Agents {
    /// Gives the agent `text` as one paste, then Enter; an agent that is
    /// not running is started with the resume command and gets it once it
    /// reads its input (it asked for bracketed paste, or 3 s passed).
    pub(super) fn prompt(
        &mut self,
        slice: &SliceName,
        text: String,
        actor: Actor,
    ) -> Result<(), AgentsError> {
        self.ws.slice(slice.as_str())?;
        let sent = Event::PromptSent {
            slice: slice.clone(),
            text: text.clone(),
        };
        if let Some(session) = self.session(slice).filter(|s| s.exit().is_none()) {
            deliver(session, &text).map_err(|e| refused(slice, e))?;
            self.record(actor, sent);
            return Ok(());
        }
        self.start(slice, Launch::Resume)?;
        if let Some(slot) = self.slots.get_mut(slice) {
            slot.prompt = Some((text, Instant::now()));
        }
        self.record(actor, sent);
        Ok(())
    }

    /// Delivers prompts held for agents that were starting.
    pub(super) fn deliver_prompts(&mut self) {
        for (slice, slot) in &mut self.slots {
            let Some(session) = slot.session.as_ref().filter(|s| s.exit().is_none()) else {
                continue;
            };
            let Some((_, since)) = &slot.prompt else {
                continue;
            };
            let reading = session.with_screen(|s| s.input_modes().bracketed_paste);
            if !reading && since.elapsed() < PROMPT_WAIT {
                continue;
            }
            if let Some((text, _)) = slot.prompt.take()
                && let Err(err) = deliver(session, &text)
            {
                tracing::warn!(%slice, %err, "a held prompt could not be delivered");
            }
        }
    }

    pub(super) fn signal(
        &mut self,
        slice: &SliceName,
        activity: Activity,
        origin: Option<String>,
    ) -> Result<(), AgentsError> {
        self.known(slice)?;
        let session = self.live(slice)?;
        session.signal(activity);
        self.limit_after_activity(slice, activity);
        (self.report)(Event::ActivityChanged {
            slice: slice.clone(),
            activity,
            source: ActivitySource::Signal,
            origin,
        });
        Ok(())
    }

    /// What an agent that exited left running in its tree (a `nohup` job,
    /// a server it started, a job in a group or session of its own) is
    /// stopped too, stopped members continued first, unless the plan keeps
    /// them.
    pub(super) fn stop_group_leftovers(&self, slice: &SliceName) {
        if self.ws.plan.agent.keep_children {
            return;
        }
        let Some(tree) = self.session(slice).map(|s| s.tree().clone()) else {
            return;
        };
        let left = process_group::tree_members(&tree).len();
        if left == 0 {
            return;
        }
        (self.report)(Event::Progress {
            slice: Some(slice.clone()),
            message: format!(
                "the agent left {left} process{} running: stopping {} (SIGTERM, then SIGKILL)",
                if left == 1 { "" } else { "es" },
                if left == 1 { "it" } else { "them" }
            ),
        });
        let grace = self.options.kill_grace;
        let spawned = std::thread::Builder::new()
            .name("leftovers".into())
            .spawn(move || process_group::terminate_tree(&tree, grace));
        if let Err(err) = spawned {
            tracing::warn!(%slice, %err, "cannot stop what the agent left running");
        }
    }

    pub(super) fn exited(&mut self, slice: &SliceName, exit: crate::session::ExitInfo) {
        let restart = self
            .slots
            .get_mut(slice)
            .is_some_and(|slot| std::mem::take(&mut slot.restart_when_exited));
        let status = if exit.killed {
            AgentStatus::Killed
        } else {
            AgentStatus::Exited {
                code: exit.signal.is_none().then_some(exit.code),
            }
        };
        tracing::info!(%slice, ?exit, "agent ended");
        // An agent that ends on its limit (`claude -p`) says so last.
        if !exit.killed {
            self.look_for_limit(slice);
        }
        // A kill ends the whole tree already.
        if !exit.killed {
            self.stop_group_leftovers(slice);
        }
        let _ = std::fs::remove_file(self.ws.state_dir.agent_file(slice));
        self.set_status(slice, status, Actor::Sliceboard);
        if restart && let Err(err) = self.start(slice, Launch::Resume) {
            tracing::warn!(%slice, %err, "restart failed");
            (self.report)(Event::CommandFailed {
                command: Box::new(Command::RestartAgent {
                    slice: slice.clone(),
                }),
                message: err.to_string(),
            });
        }
        while self.slots_taken().len() < self.ws.plan.max_running {
            let Some((next, launch)) = self.pending.pop_front() else {
                break;
            };
            if let Err(err) = self.start(&next, launch) {
                tracing::warn!(slice = %next, %err, "pending agent failed to start");
                self.set_status(&next, AgentStatus::NotStarted, Actor::Sliceboard);
                (self.report)(Event::CommandFailed {
                    command: Box::new(Command::StartAgent {
                        slice: next.clone(),
                    }),
                    message: err.to_string(),
                });
            }
        }
    }
}
