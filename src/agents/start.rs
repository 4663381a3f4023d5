//! Starting an agent: within the running cap (the rest pending), only on
//! a worktree whose setup passed and where no earlier supervisor's agent
//! group still runs, at the size of the pane it will be drawn
//! in, with sliceboard's hooks added to the agents that take them, below
//! what its last run printed; and the slice becomes `active` (through the
//! supervisor's `StateStore`, which journals it).

use std::sync::Arc;

use super::{
    Actor, Agents, AgentsError, Inbox, Launch, agent_hooks, earlier_output, mark_restart, refused,
};
use crate::domain::{AgentStatus, Event, Lifecycle, SliceName};
use crate::session::{EventSink, Session, SessionEvent, SessionSpec};
use crate::store::Entry;

/// What an agent starts with, read from the plan and the state.
struct Prepared {
    worktree: std::path::PathBuf,
    env: Vec<(String, String)>,
    command: String,
    /// What the hooks added, for the operator.
    hooks_note: Option<String>,
    /// The sandbox it runs in, if any.
    wrapper: Option<crate::domain::sandbox::Wrapper>,
    transcript_path: std::path::PathBuf,
}

impl Agents {
    pub(super) fn start(&mut self, slice: &SliceName, launch: Launch) -> Result<(), AgentsError> {
        let spec = self.ws.slice(slice.as_str())?.clone();
        self.check_can_start(slice)?;
        if self.wait_for_slot(slice, launch) {
            return Ok(());
        }
        self.pending.retain(|(p, _)| p != slice);
        self.check_setup(slice)?;
        let Prepared {
            worktree,
            env,
            command,
            hooks_note,
            transcript_path,
            wrapper,
        } = self.prepare(&spec, slice, launch)?;

        // Refuse before touching the old screen, so a failed restart keeps it.
        if !worktree.is_dir() {
            return Err(crate::session::SessionError::NoWorktree {
                slice: slice.clone(),
                cwd: worktree,
            }
            .into());
        }
        let sink = self.session_sink();
        let slot = self.slots.entry(slice.clone()).or_default();
        let size = slot.size.unwrap_or(self.options.size);
        // A restarted agent continues below what the last one printed.
        let screen = match slot.session.take() {
            Some(old) => Some(old.take_screen()),
            None => earlier_output(&transcript_path, size, self.options.scrollback),
        }
        .map(|mut screen| {
            mark_restart(&mut screen);
            screen
        });
        let session_spec = SessionSpec {
            slice: slice.clone(),
            command,
            cwd: worktree,
            env,
            wrapper,
            size,
            scrollback: self.options.scrollback,
            transcript: Some((transcript_path, self.options.transcript_max)),
            activity: self.options.activity.clone(),
        };
        let session = Session::spawn(session_spec, screen, sink)?;
        self.screens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(slice.clone(), session.screen_handle());
        // Output may have come before the screen was there to draw (its
        // mark found nothing, and marks come only once until someone
        // draws): mark it again now that it is.
        if let Some(listener) = &self.on_output {
            listener(slice);
        }
        let pid = session.pid();
        let mark = session.tree().mark.clone();
        slot.session = Some(session);
        self.remember_agent(slice, pid, mark);
        (self.report)(Event::AgentStarted {
            slice: slice.clone(),
            pid,
        });
        self.set_status(slice, AgentStatus::Running, Actor::Operator);
        if let Some(message) = hooks_note {
            (self.report)(Event::Progress {
                slice: Some(slice.clone()),
                message,
            });
        }
        self.mark_active(slice);
        Ok(())
    }

    /// Refuses a start where an agent runs or is paused, an earlier
    /// supervisor's group runs, the slice was cleaned, or its last run's
    /// processes still end.
    fn check_can_start(&self, slice: &SliceName) -> Result<(), AgentsError> {
        if self.session(slice).is_some_and(|s| s.exit().is_none()) {
            let paused = self
                .slots
                .get(slice)
                .is_some_and(|slot| slot.status == Some(AgentStatus::Paused));
            return Err(refused(
                slice,
                if paused {
                    "its agent is paused, not ended: press p on the dashboard to resume it"
                } else {
                    "its agent is already running"
                },
            ));
        }
        // Never an agent in a worktree that is being removed.
        if self.coming_down.contains_key(slice) {
            return Err(refused(
                slice,
                "its worktree is coming down (a `down` runs or waits for the worktree operation before it); start it again once that is done",
            ));
        }
        // Never a second agent in a worktree where an earlier one runs.
        self.check_left_running(slice)?;
        let cleaned = self
            .state
            .read(|state| state.slices.get(slice).map(|r| r.lifecycle))
            == Some(Lifecycle::Cleaned);
        if cleaned {
            return Err(refused(
                slice,
                format!(
                    "it was cleaned: its worktree was removed on purpose; `sliceboard up {slice}` starts it again"
                ),
            ));
        }
        self.check_last_run_gone(slice)?;
        Ok(())
    }

    /// With every slot taken, the slice waits as pending (a planner never
    /// does): true when it does.
    fn wait_for_slot(&mut self, slice: &SliceName, launch: Launch) -> bool {
        if self.slots_taken().len() >= self.ws.plan.max_running && !self.ws.plan.is_planner(slice) {
            match self.pending.iter_mut().find(|(p, _)| p == slice) {
                // A resume asked for while waiting wins over a fresh start.
                Some(queued) if launch == Launch::Resume => queued.1 = launch,
                Some(_) => {}
                None => self.pending.push_back((slice.clone(), launch)),
            }
            self.set_status(slice, AgentStatus::Pending, Actor::Operator);
            if let Some(message) = self.pending_reason(slice) {
                (self.report)(Event::Progress {
                    slice: Some(slice.clone()),
                    message,
                });
            }
            return true;
        }
        false
    }

    /// An agent starts on a worktree whose setup passed (or was skipped).
    fn check_setup(&self, slice: &SliceName) -> Result<(), AgentsError> {
        if let Some(setup) = crate::workspace::setup_state(&self.ws, slice) {
            use crate::domain::setup::SetupStatus;
            match setup.status {
                SetupStatus::Failed => {
                    return Err(refused(
                        slice,
                        format!(
                            "its {}; see the Logs tab, fix it and run the setup again (`sliceboard setup {slice}`), or start without it (`sliceboard setup {slice} --skip`)",
                            setup.describe()
                        ),
                    ));
                }
                SetupStatus::Running => {
                    return Err(refused(slice, "its worktree's setup is still running"));
                }
                SetupStatus::Passed | SetupStatus::Skipped => {}
            }
        }
        Ok(())
    }

    /// Where the agent runs, its environment and command (hooks added),
    /// and its transcript.
    fn prepare(
        &self,
        spec: &crate::domain::SliceSpec,
        slice: &SliceName,
        launch: Launch,
    ) -> Result<Prepared, AgentsError> {
        let worktree = self
            .state
            .read(|state| state.slices.get(slice).map(|r| r.worktree.clone()))
            .unwrap_or_else(|| self.ws.plan.worktree_for(slice, self.ws.git.root()));
        // With deferral, a slice's database starts as the published
        // integration build (nothing runs in it yet).
        if let Err(err) = self.ws.seed_dbt_db(slice.as_str(), false) {
            tracing::warn!(%slice, %err, "the slice's dbt database could not be made from the published build");
        }
        // Ports first: the environment reads them from the state.
        let mut reserved = Vec::new();
        let ports = self.ws.reserve_ports(&self.state, slice, &mut reserved)?;
        reserved.into_iter().for_each(|e| (self.report)(e));
        let mut env = self.ws.env(spec)?;
        // For hooks: no repository lookup, and no need for sliceboard on PATH.
        env.push((
            "SLICEBOARD_SOCKET".into(),
            self.ws
                .state_dir
                .socket_file()
                .to_string_lossy()
                .into_owned(),
        ));
        if let Some(exe) = &self.options.sliceboard {
            env.push(("SLICEBOARD_BIN".into(), exe.to_string_lossy().into_owned()));
        }
        let brief = self.ws.state_dir.brief_file(slice);
        let command = self
            .ws
            .context(spec, &brief)
            .agent_command(launch == Launch::Resume);
        let (command, hooks_note) = agent_hooks::hooked_command(
            &self.ws,
            slice,
            command,
            self.options.sliceboard.as_deref(),
        );
        let mut command = crate::domain::template::fill_ports(&command, &ports);
        let state = self.state.snapshot().state;
        let wrapper = match self.ws.boxed(spec, &worktree, &env, &command, &state)? {
            crate::workspace::Boxed::Plain => None,
            crate::workspace::Boxed::Wrapped(wrapper) => Some(wrapper),
            crate::workspace::Boxed::Command(line) => {
                command = line;
                None
            }
        };
        let transcript_path = self.ws.state_dir.transcript_file(slice);
        Ok(Prepared {
            worktree,
            env,
            command,
            hooks_note,
            transcript_path,
            wrapper,
        })
    }

    /// Where a session's events go: the output listener straight from the
    /// reader thread, and this thread's inbox.
    fn session_sink(&self) -> EventSink {
        let inbox = std::sync::Mutex::new(self.inbox_tx.clone());
        let on_output = self.on_output.clone();
        Arc::new(move |event| {
            // Straight from the reader thread: a pane is drawn again even
            // while this thread is busy (an `up` on a big repository).
            if let (SessionEvent::Output { slice } | SessionEvent::Bell { slice }, Some(listener)) =
                (&event, &on_output)
            {
                listener(slice);
            }
            // And here too, so the step reads activity soon.
            let _ = inbox
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .send(Inbox::Session(event));
        })
    }

    /// Refuses to start while processes of the slice's last run (ending
    /// after a kill, or left behind by an agent that exited) still live,
    /// unless the plan keeps such children.
    fn check_last_run_gone(&self, slice: &SliceName) -> Result<(), AgentsError> {
        if self.ws.plan.agent.keep_children {
            return Ok(());
        }
        let Some(session) = self.session(slice) else {
            return Ok(());
        };
        let left = crate::os::process_group::tree_members(session.tree());
        if left.is_empty() {
            return Ok(());
        }
        Err(refused(
            slice,
            format!(
                "processes of its last run are still ending (pids {}); try again once they are gone, or `sliceboard kill {slice}`",
                left.iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }

    /// A slice whose agent started is `active` from then on.
    pub(super) fn mark_active(&self, slice: &SliceName) {
        let result = self.state.update(|state| {
            let Some(record) = state
                .slices
                .get_mut(slice)
                .filter(|r| r.lifecycle == Lifecycle::Ready)
            else {
                return Vec::new();
            };
            record.lifecycle = Lifecycle::Active;
            record.updated_at = jiff::Timestamp::now();
            vec![Entry::sliceboard(Event::LifecycleChanged {
                slice: slice.clone(),
                from: Lifecycle::Ready,
                to: Lifecycle::Active,
            })]
        });
        match result {
            Ok(events) => events.into_iter().for_each(|e| (self.report)(e)),
            Err(err) => tracing::warn!(%slice, %err, "could not record the slice as active"),
        }
    }
}
