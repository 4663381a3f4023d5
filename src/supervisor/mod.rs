//! The supervisor: every slice's agent session, started within the plan's
//! `max_running` cap (the rest wait as pending), paused, resumed, killed and
//! restarted on command, with activity read from the agents' own signals,
//! the bell and the screen.
//!
//! Owns the sessions and the state lock while it lives. Commands come in
//! through [`Supervisor::handle`] or a [`SupervisorHandle`] (the socket
//! server's clients hold one); what happens goes out as
//! [`domain::Event`](crate::domain::Event)s through a callback and into the
//! journal. Driven by its owner calling [`Supervisor::step`] in a loop on a
//! thread of its own: kills and spawns are quick here, but git and disk
//! work (`up`, `down`) are not.
//!
//! On start it shows what an earlier supervisor left: each slice's last
//! agent status from the journal (a run the earlier supervisor never saw
//! end is recorded as exited) and the tail of its transcript on screen.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::domain::{Activity, AgentStatus, Command, Event, Lifecycle, SliceName};
use crate::session::{
    ActivityRules, EventSink, Screen, ScreenHandle, Session, SessionEvent, SessionSpec, Size,
    process_group, transcript,
};
use crate::store::{Actor, StateLock, load_state, save_state};
use crate::workspace::{Workspace, WorkspaceError};

/// How much of an earlier run's transcript is replayed into a new screen.
const REPLAY_BYTES: u64 = 256 * 1024;

#[derive(Debug, Clone)]
pub struct SupervisorOptions {
    /// The size agents start at, until the dashboard resizes them.
    pub size: Size,
    pub scrollback: usize,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    pub transcript_max: u64,
    pub activity: ActivityRules,
}

impl SupervisorOptions {
    /// The plan's settings (scrollback, waiting prompts) over the defaults.
    pub fn from_plan(plan: &crate::domain::Plan) -> Self {
        let activity = plan
            .agent
            .waiting_patterns
            .as_deref()
            .and_then(|patterns| ActivityRules::with_patterns(patterns).ok())
            .unwrap_or_default();
        Self {
            scrollback: plan.agent.scrollback,
            activity,
            ..Self::default()
        }
    }
}

impl Default for SupervisorOptions {
    fn default() -> Self {
        Self {
            size: Size {
                cols: 120,
                rows: 40,
            },
            scrollback: 10_000,
            kill_grace: Duration::from_secs(5),
            transcript_max: transcript::DEFAULT_MAX_BYTES,
            activity: ActivityRules::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    #[error("slice {slice}: {message}")]
    Refused { slice: SliceName, message: String },
    #[error("the supervisor does not handle {0} yet")]
    Unsupported(&'static str),
    #[error("{0}")]
    Failed(String),
}

/// Where domain events go.
pub type Notify = Arc<dyn Fn(Event) + Send + Sync>;

/// What a command came to: `Ok` with what was done (often empty), `Err`
/// with why not.
pub type Outcome = Result<String, String>;

/// Where a command's outcome goes.
pub type Reply = tokio::sync::oneshot::Sender<Outcome>;

enum Inbox {
    Session(SessionEvent),
    Request { command: Command, reply: Reply },
    Local(Command),
}

/// Sends commands to a supervisor running on another thread.
#[derive(Clone)]
pub struct SupervisorHandle(mpsc::Sender<Inbox>);

impl SupervisorHandle {
    /// Sends without waiting; a failure comes back as [`Event::CommandFailed`].
    pub fn send(&self, command: Command) {
        let _ = self.0.send(Inbox::Local(command));
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
}

/// Every slice's screen, for whoever draws them.
pub type Screens = Arc<std::sync::Mutex<BTreeMap<SliceName, ScreenHandle>>>;

/// Called when a slice's agent printed something (coalesced: again only
/// after its screen was looked at).
pub type OutputListener = Arc<dyn Fn(&SliceName) + Send + Sync>;

#[derive(Default)]
struct Slot {
    session: Option<Session>,
    status: Option<AgentStatus>,
    restart_when_exited: bool,
    /// The size the operator last gave its pane; a restart starts there.
    size: Option<Size>,
}

pub struct Supervisor {
    ws: Workspace,
    lock: StateLock,
    options: SupervisorOptions,
    slots: BTreeMap<SliceName, Slot>,
    /// Slices waiting for a free slot, and whether they resume.
    pending: VecDeque<(SliceName, bool)>,
    inbox: mpsc::Receiver<Inbox>,
    inbox_tx: mpsc::Sender<Inbox>,
    notify: Notify,
    on_output: Option<OutputListener>,
    screens: Screens,
    /// Set once `Shutdown` was handled: the owner's loop ends.
    finished: bool,
}

impl Supervisor {
    /// Takes the state lock, and picks up what an earlier supervisor left
    /// (see the module's header).
    pub fn new(
        ws: Workspace,
        options: SupervisorOptions,
        notify: Notify,
    ) -> Result<Self, SupervisorError> {
        let lock = ws.lock("sliceboard supervisor")?;
        let (inbox_tx, inbox) = mpsc::channel();
        let slots = ws
            .plan
            .slices
            .iter()
            .map(|s| (s.name.clone(), Slot::default()))
            .collect();
        let mut supervisor = Self {
            ws,
            lock,
            options,
            slots,
            pending: VecDeque::new(),
            inbox,
            inbox_tx,
            notify,
            on_output: None,
            screens: Screens::default(),
            finished: false,
        };
        supervisor.recover();
        Ok(supervisor)
    }

    /// Each slice's last status from the journal, and its earlier output
    /// on screen. A run whose end nobody recorded (the supervisor that ran
    /// it died) is recorded now as exited.
    fn recover(&mut self) {
        let journal = self.ws.state_dir.journal().read().unwrap_or_default();
        let mut last: BTreeMap<SliceName, AgentStatus> = BTreeMap::new();
        for entry in journal.entries {
            if let Event::AgentStatusChanged { slice, status } = entry.event {
                last.insert(slice, status);
            }
        }
        let names: Vec<SliceName> = self.slots.keys().cloned().collect();
        self.stop_leftovers(&names);
        for slice in names {
            let status = match last.get(&slice) {
                Some(AgentStatus::Running | AgentStatus::Paused) => {
                    AgentStatus::Exited { code: None }
                }
                Some(AgentStatus::Pending) | None => AgentStatus::NotStarted,
                Some(other) => *other,
            };
            if status != AgentStatus::NotStarted {
                if last.get(&slice) != Some(&status) {
                    self.set_status(&slice, status, Actor::Sliceboard);
                } else if let Some(slot) = self.slots.get_mut(&slice) {
                    slot.status = Some(status);
                }
            }
            let transcript = self.ws.state_dir.transcript_file(&slice);
            if let Some(screen) =
                earlier_output(&transcript, self.options.size, self.options.scrollback)
            {
                self.screens
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(slice, ScreenHandle::detached(screen));
            }
        }
    }

    /// Agents an earlier supervisor started and that outlived it (one that
    /// ignores the hangup a closed PTY sends): nothing can reach their
    /// terminal any more, so they are stopped, all at once, before anything
    /// can start a second agent in the same worktree.
    fn stop_leftovers(&self, names: &[SliceName]) {
        let grace = self.options.kill_grace;
        let stops: Vec<_> = names
            .iter()
            .filter_map(|slice| {
                let path = self.ws.state_dir.agent_file(slice);
                let record: AgentRecord = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
                let _ = std::fs::remove_file(&path);
                let same = process_group::start_time(record.pid) == Some(record.started);
                same.then(|| (slice.clone(), record.pid))
            })
            .map(|(slice, pid)| {
                tracing::warn!(%slice, pid, "stopping an agent the previous supervisor left running");
                (slice, pid, std::thread::spawn(move || process_group::terminate_group(pid, grace)))
            })
            .collect();
        for (slice, pid, stop) in stops {
            let _ = stop.join();
            (self.notify)(Event::Progress {
                slice: Some(slice),
                message: format!(
                    "stopped agent {pid}, which the previous supervisor left running without a terminal"
                ),
            });
        }
    }

    /// True once `Shutdown` was handled: every agent is stopped.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Agents running or paused now.
    pub fn running(&self) -> usize {
        self.running_count()
    }

    /// Every slice's agent status.
    pub fn statuses(&self) -> BTreeMap<SliceName, AgentStatus> {
        self.slots
            .iter()
            .map(|(name, slot)| (name.clone(), slot.status.unwrap_or(AgentStatus::NotStarted)))
            .collect()
    }

    /// For driving the supervisor from another thread.
    pub fn handle_sender(&self) -> SupervisorHandle {
        SupervisorHandle(self.inbox_tx.clone())
    }

    /// Every slice's current screen (kept after the agent exits).
    pub fn screens(&self) -> Screens {
        self.screens.clone()
    }

    pub fn on_output(&mut self, listener: OutputListener) {
        self.on_output = Some(listener);
    }

    pub fn workspace(&self) -> &Workspace {
        &self.ws
    }

    pub fn status(&self, slice: &SliceName) -> AgentStatus {
        self.slots
            .get(slice)
            .and_then(|s| s.status)
            .unwrap_or(AgentStatus::NotStarted)
    }

    pub fn activity(&self, slice: &SliceName) -> Option<Activity> {
        self.session(slice).map(Session::activity)
    }

    pub fn session(&self, slice: &SliceName) -> Option<&Session> {
        self.slots.get(slice).and_then(|s| s.session.as_ref())
    }

    /// Carries out one command from the operator; says what was done when
    /// there is more to say than "done".
    pub fn handle(&mut self, command: Command) -> Result<String, SupervisorError> {
        self.dispatch(command).map(Option::unwrap_or_default)
    }

    fn dispatch(&mut self, command: Command) -> Result<Option<String>, SupervisorError> {
        let done = |result: Result<(), SupervisorError>| result.map(|()| None);
        match command {
            Command::Up { slices } => self.up(&slices).map(Some),
            Command::Down { slice, force } => self.down(&slice, force).map(Some),
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

    fn act(&mut self, command: Command) -> Result<(), SupervisorError> {
        match command {
            Command::StartAgent { slice } => self.start(&slice, false),
            Command::RestartAgent { slice } => self.restart(&slice),
            Command::PauseAgent { slice } => self.pause(&slice, true),
            Command::ResumeAgent { slice } => self.pause(&slice, false),
            Command::KillAgent { slice } => self.kill(&slice),
            Command::SendInput { slice, bytes } => {
                let session = self.live(&slice)?;
                session.write(&bytes).map_err(|e| refused(&slice, e))
            }
            Command::ResizeAgent { slice, cols, rows } => {
                if let Some(slot) = self.slots.get_mut(&slice) {
                    slot.size = Some(Size { cols, rows });
                }
                // The reflowed screen is drawn again even if the agent
                // prints nothing more.
                if let Some(listener) = &self.on_output {
                    listener(&slice);
                }
                let Some(session) = self.session(&slice) else {
                    // An earlier supervisor's screen reflows; nothing else to do.
                    if let Some(screen) = self
                        .screens
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .get(&slice)
                    {
                        screen.with_screen(|s| s.resize(Size { cols, rows }));
                    }
                    return Ok(());
                };
                let resized = session.resize(Size { cols, rows });
                // An ended agent's screen still reflows; its PTY is gone.
                if session.exit().is_none() {
                    resized.map_err(|e| refused(&slice, e))?;
                }
                Ok(())
            }
            Command::Signal { slice, activity } => self.signal(&slice, activity),
            // The same events that went into the journal go to the watcher.
            Command::Approve { slice } => {
                let (_, events) = crate::workspace::approve(&self.ws, &self.lock, &slice)?;
                events.into_iter().for_each(|e| (self.notify)(e));
                Ok(())
            }
            Command::WithdrawApproval { slice } => {
                let events = crate::workspace::withdraw(&self.ws, &self.lock, &slice)?;
                events.into_iter().for_each(|e| (self.notify)(e));
                Ok(())
            }
            Command::Merge { .. } => Err(SupervisorError::Unsupported("merges")),
            Command::Up { .. } | Command::Down { .. } | Command::Shutdown => {
                unreachable!("dispatched before")
            }
        }
    }

    /// `sliceboard up` under this supervisor's lock; what git and the
    /// journal recorded goes to the watchers.
    /// Refuses work that would follow a plan the operator has changed since
    /// this supervisor read it (it would create or remove the wrong
    /// worktrees). Reloading a changed plan live is not built yet.
    fn same_plan(&self) -> Result<(), SupervisorError> {
        let changed = match Workspace::open(self.ws.git.root()) {
            Ok(now) => now.plan != self.ws.plan,
            Err(err) => {
                return Err(SupervisorError::Failed(format!(
                    "the plan no longer loads: {err}"
                )));
            }
        };
        if changed {
            return Err(SupervisorError::Failed(
                "sliceboard.toml changed since the supervisor started; run `sliceboard stop`, then `sliceboard` again to use the new plan".into(),
            ));
        }
        Ok(())
    }

    fn up(&mut self, slices: &[SliceName]) -> Result<String, SupervisorError> {
        self.same_plan()?;
        let names: Vec<String> = slices.iter().map(ToString::to_string).collect();
        let (report, ok) = self.journaled(|ws, lock| {
            let report = crate::workspace::up(ws, lock, &names, &mut |_| {})?;
            Ok((report.describe(&ws.plan.base), report.failed.is_empty()))
        })?;
        if ok {
            Ok(report)
        } else {
            Err(SupervisorError::Failed(report))
        }
    }

    fn down(&mut self, slice: &SliceName, force: bool) -> Result<String, SupervisorError> {
        self.same_plan()?;
        if self.session(slice).is_some_and(|s| s.exit().is_none()) {
            return Err(refused(slice, "its agent is running; kill it first"));
        }
        self.journaled(|ws, lock| {
            let report = crate::workspace::down(ws, lock, slice.as_str(), force, &mut |_| {})?;
            Ok(report.describe())
        })
    }

    /// Runs a workspace operation and forwards every journal entry it wrote.
    fn journaled<T>(
        &mut self,
        op: impl FnOnce(&Workspace, &StateLock) -> Result<T, WorkspaceError>,
    ) -> Result<T, SupervisorError> {
        let journal = self.ws.state_dir.journal();
        let mark = journal.end();
        let result = op(&self.ws, &self.lock);
        for entry in journal
            .read_from(mark)
            .map(|r| r.entries)
            .unwrap_or_default()
        {
            (self.notify)(entry.event);
        }
        Ok(result?)
    }

    /// Waits up to `timeout` for something to happen, handles everything
    /// that did, and re-reads every agent's activity.
    pub fn step(&mut self, timeout: Duration) {
        if let Ok(first) = self.inbox.recv_timeout(timeout) {
            self.receive(first);
            while let Ok(next) = self.inbox.try_recv() {
                self.receive(next);
            }
        }
        let now = Instant::now();
        // A program that starts a synchronized update and stalls must still
        // be drawn when the update times out.
        if let Some(listener) = &self.on_output {
            for (name, slot) in &self.slots {
                let due = slot
                    .session
                    .as_ref()
                    .and_then(|s| s.screen_handle().sync_deadline());
                if due.is_some_and(|due| due <= now) {
                    listener(name);
                }
            }
        }
        let mut changed = Vec::new();
        for (name, slot) in &self.slots {
            let live = slot
                .session
                .as_ref()
                .filter(|s| s.exit().is_none() && !s.activity_settled(now));
            if let Some(activity) = live.and_then(|s| s.update_activity(now)) {
                changed.push((name.clone(), activity));
            }
        }
        for (slice, activity) in changed {
            (self.notify)(Event::ActivityChanged { slice, activity });
        }
    }

    /// How long the owner's next [`Supervisor::step`] may wait: a quarter
    /// second while some agent's activity may still change on its own,
    /// a second when every one has settled (an agent's output then wakes
    /// the step, or is seen within that second).
    pub fn next_step(&self) -> Duration {
        let now = Instant::now();
        let settled = self
            .slots
            .values()
            .filter_map(|slot| slot.session.as_ref())
            .filter(|s| s.exit().is_none())
            .all(|s| s.activity_settled(now));
        if settled {
            Duration::from_secs(1)
        } else {
            Duration::from_millis(250)
        }
    }

    /// Stops every agent (SIGTERM, then SIGKILL after the grace period) and
    /// waits for them to go.
    pub fn shutdown(&mut self) {
        self.pending.clear();
        let handles: Vec<_> = self
            .slots
            .values_mut()
            .filter_map(|slot| {
                slot.restart_when_exited = false;
                let session = slot.session.as_mut()?;
                session
                    .exit()
                    .is_none()
                    .then(|| session.kill(self.options.kill_grace))
            })
            .collect();
        for handle in handles {
            let _ = handle.join();
        }
        // Each run's end is recorded as it would be while running (killed,
        // in the journal, `agent.json` gone), so the next supervisor tells a
        // stopped agent from one that was lost.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.slots.values().any(|slot| {
            slot.status
                .is_some_and(|s| matches!(s, AgentStatus::Running | AgentStatus::Paused))
        }) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.inbox.recv_timeout(left) {
                Ok(message @ Inbox::Session(SessionEvent::Exited { .. })) => self.receive(message),
                Ok(Inbox::Request { reply, .. }) => {
                    let _ = reply.send(Err("the supervisor is shutting down".into()));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }

    fn receive(&mut self, message: Inbox) {
        match message {
            Inbox::Session(SessionEvent::Exited { slice, pid, exit }) => {
                // A restart may already have replaced the run that ended.
                let current = self.session(&slice).map(Session::pid);
                if current.is_none() || current == Some(pid) {
                    self.exited(&slice, exit);
                }
            }
            Inbox::Session(SessionEvent::Output { slice } | SessionEvent::Bell { slice }) => {
                if let Some(listener) = &self.on_output {
                    listener(&slice);
                }
            }
            Inbox::Local(command) => {
                if let Err(err) = self.handle(command.clone()) {
                    (self.notify)(Event::CommandFailed {
                        command: Box::new(command),
                        message: err.to_string(),
                    });
                }
            }
            Inbox::Request { command, reply } => {
                let _ = reply.send(self.handle(command).map_err(|e| e.to_string()));
            }
        }
    }

    fn live(&self, slice: &SliceName) -> Result<&Session, SupervisorError> {
        self.session(slice)
            .filter(|s| s.exit().is_none())
            .ok_or_else(|| SupervisorError::Refused {
                slice: slice.clone(),
                message: "its agent is not running; start it first".into(),
            })
    }

    fn running_count(&self) -> usize {
        self.slots
            .values()
            .filter(|s| s.session.as_ref().is_some_and(|s| s.exit().is_none()))
            .count()
    }

    fn set_status(&mut self, slice: &SliceName, status: AgentStatus, actor: Actor) {
        if let Some(slot) = self.slots.get_mut(slice) {
            if slot.status == Some(status) {
                return;
            }
            slot.status = Some(status);
        }
        let event = Event::AgentStatusChanged {
            slice: slice.clone(),
            status,
        };
        if let Err(err) = self.ws.state_dir.journal().record(actor, event.clone()) {
            tracing::warn!(%err, "journal write failed");
        }
        (self.notify)(event);
    }

    fn start(&mut self, slice: &SliceName, resume: bool) -> Result<(), SupervisorError> {
        let spec = self.ws.slice(slice.as_str())?.clone();
        if self.session(slice).is_some_and(|s| s.exit().is_none()) {
            return Err(refused(slice, "its agent is already running"));
        }
        if self.running_count() >= self.ws.plan.max_running {
            match self.pending.iter_mut().find(|(p, _)| p == slice) {
                Some(queued) => queued.1 |= resume,
                None => self.pending.push_back((slice.clone(), resume)),
            }
            self.set_status(slice, AgentStatus::Pending, Actor::Operator);
            return Ok(());
        }
        self.pending.retain(|(p, _)| p != slice);

        let state = load_state(&self.ws.state_dir.state_file()).map_err(WorkspaceError::from)?;
        let record = state.slices.get(slice);
        let worktree = record.map_or_else(
            || self.ws.plan.worktree_for(slice, self.ws.git.root()),
            |r| r.worktree.clone(),
        );
        let env = self.ws.env(&spec)?;
        let brief = self.ws.state_dir.brief_file(slice);
        let command = self.ws.context(&spec, &brief).agent_command(resume);
        let transcript_path = self.ws.state_dir.transcript_file(slice);

        // Refuse before touching the old screen, so a failed restart keeps it.
        if !worktree.is_dir() {
            return Err(crate::session::SessionError::NoWorktree {
                slice: slice.clone(),
                cwd: worktree,
            }
            .into());
        }
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
            size,
            scrollback: self.options.scrollback,
            transcript: Some((transcript_path, self.options.transcript_max)),
            activity: self.options.activity.clone(),
        };
        let inbox = std::sync::Mutex::new(self.inbox_tx.clone());
        let sink: EventSink = Arc::new(move |event| {
            let _ = inbox
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .send(Inbox::Session(event));
        });
        let session = Session::spawn(session_spec, screen, sink)?;
        self.screens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(slice.clone(), session.screen_handle());
        let pid = session.pid();
        slot.session = Some(session);
        self.remember_agent(slice, pid);
        (self.notify)(Event::AgentStarted {
            slice: slice.clone(),
            pid,
        });
        self.set_status(slice, AgentStatus::Running, Actor::Operator);
        self.mark_active(slice);
        Ok(())
    }

    /// Writes down the running agent, so the next supervisor can stop it
    /// should this one die without stopping it.
    fn remember_agent(&self, slice: &SliceName, pid: i32) {
        let Some(started) = process_group::start_time(pid) else {
            return;
        };
        let record = AgentRecord { pid, started };
        let result = serde_json::to_vec(&record)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(self.ws.state_dir.agent_file(slice), bytes));
        if let Err(err) = result {
            tracing::warn!(%slice, %err, "cannot record the agent's pid");
        }
    }

    /// A slice whose agent started is `active` from then on.
    fn mark_active(&self, slice: &SliceName) {
        let path = self.ws.state_dir.state_file();
        let result = load_state(&path).and_then(|mut state| {
            let Some(record) = state.slices.get_mut(slice) else {
                return Ok(());
            };
            if record.lifecycle != Lifecycle::Ready {
                return Ok(());
            }
            record.lifecycle = Lifecycle::Active;
            record.updated_at = jiff::Timestamp::now();
            save_state(&path, &state)?;
            let event = Event::LifecycleChanged {
                slice: slice.clone(),
                from: Lifecycle::Ready,
                to: Lifecycle::Active,
            };
            (self.notify)(event.clone());
            self.ws.state_dir.journal().record(Actor::Sliceboard, event)
        });
        if let Err(err) = result {
            tracing::warn!(%slice, %err, "could not record the slice as active");
        }
    }

    fn restart(&mut self, slice: &SliceName) -> Result<(), SupervisorError> {
        self.ws.slice(slice.as_str())?;
        let grace = self.options.kill_grace;
        let slot = self.slots.entry(slice.clone()).or_default();
        match slot.session.as_mut() {
            Some(session) if session.exit().is_none() => {
                slot.restart_when_exited = true;
                drop(session.kill(grace));
                Ok(())
            }
            _ => self.start(slice, true),
        }
    }

    fn pause(&mut self, slice: &SliceName, pause: bool) -> Result<(), SupervisorError> {
        let grace_slot = self.slots.get_mut(slice);
        let Some(session) = grace_slot
            .and_then(|s| s.session.as_mut())
            .filter(|s| s.exit().is_none())
        else {
            return Err(refused(slice, "its agent is not running"));
        };
        let (result, status) = if pause {
            (session.pause(), AgentStatus::Paused)
        } else {
            (session.resume(), AgentStatus::Running)
        };
        result.map_err(|e| refused(slice, e))?;
        self.set_status(slice, status, Actor::Operator);
        Ok(())
    }

    fn kill(&mut self, slice: &SliceName) -> Result<(), SupervisorError> {
        if let Some(at) = self.pending.iter().position(|(p, _)| p == slice) {
            self.pending.remove(at);
            self.set_status(slice, AgentStatus::NotStarted, Actor::Operator);
            return Ok(());
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
        Ok(())
    }

    fn signal(&mut self, slice: &SliceName, activity: Activity) -> Result<(), SupervisorError> {
        self.ws.slice(slice.as_str())?;
        let session = self.live(slice)?;
        session.signal(activity);
        (self.notify)(Event::ActivityChanged {
            slice: slice.clone(),
            activity,
        });
        Ok(())
    }

    fn exited(&mut self, slice: &SliceName, exit: crate::session::ExitInfo) {
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
        let _ = std::fs::remove_file(self.ws.state_dir.agent_file(slice));
        self.set_status(slice, status, Actor::Sliceboard);
        if restart && let Err(err) = self.start(slice, true) {
            tracing::warn!(%slice, %err, "restart failed");
            (self.notify)(Event::CommandFailed {
                command: Box::new(Command::RestartAgent {
                    slice: slice.clone(),
                }),
                message: err.to_string(),
            });
        }
        while self.running_count() < self.ws.plan.max_running {
            let Some((next, resume)) = self.pending.pop_front() else {
                break;
            };
            if let Err(err) = self.start(&next, resume) {
                tracing::warn!(slice = %next, %err, "pending agent failed to start");
                self.set_status(&next, AgentStatus::NotStarted, Actor::Sliceboard);
                (self.notify)(Event::CommandFailed {
                    command: Box::new(Command::StartAgent {
                        slice: next.clone(),
                    }),
                    message: err.to_string(),
                });
            }
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// `slices/<name>/agent.json`: the pid and start time of a running agent.
#[derive(serde::Serialize, serde::Deserialize)]
struct AgentRecord {
    pid: i32,
    started: u64,
}

fn refused(slice: &SliceName, message: impl std::fmt::Display) -> SupervisorError {
    SupervisorError::Refused {
        slice: slice.clone(),
        message: message.to_string(),
    }
}

/// A screen showing the end of what an earlier run printed; `None` when
/// there was no earlier run.
fn earlier_output(path: &std::path::Path, size: Size, scrollback: usize) -> Option<Screen> {
    let bytes = transcript::read_tail(path, REPLAY_BYTES).ok()?;
    if bytes.is_empty() {
        return None;
    }
    let mut screen = Screen::new(size, scrollback);
    screen.feed(&bytes);
    Some(screen)
}

/// Prepares a kept screen for a new run to continue on: leaves whatever
/// mode the old run was in (a synchronized update, the alternate screen,
/// the scroll region, colors, application keys, mouse and paste modes),
/// then marks the restart on a line of its own. The alternate screen is
/// left only when it is on: outside it, `ESC[?1049l` would restore a
/// saved cursor and write the mark over the old output.
fn mark_restart(screen: &mut Screen) {
    screen.feed(b"\x1b[?2026l");
    if screen.input_modes().alt_screen {
        screen.feed(b"\x1b[?1049l");
    }
    // Resetting the scroll region homes the cursor: put it back.
    let (row, col) = screen.cursor();
    screen.feed(b"\x1b[r\x1b[0m\x1b[?25h\x1b[?1l\x1b[?2004l\x1b[?1000l\x1b[?1006l");
    screen.feed(format!("\x1b[{};{}H", row + 1, col + 1).as_bytes());
    let at_line_start = col == 0;
    if !at_line_start {
        screen.feed(b"\r\n");
    }
    screen.feed(b"\x1b[2m-- earlier output above; agent started again --\x1b[0m\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen() -> Screen {
        Screen::new(Size { cols: 60, rows: 6 }, 100)
    }

    const MARK: &str = "-- earlier output above; agent started again --";

    #[test]
    fn the_restart_mark_goes_below_the_old_output_never_over_it() {
        let mut s = screen();
        s.feed(b"line one\r\nline two\r\n");
        mark_restart(&mut s);
        assert_eq!(s.row_text(0), "line one");
        assert_eq!(s.row_text(1), "line two");
        assert_eq!(s.row_text(2), MARK);
        assert_eq!(s.cursor(), (3, 0));

        let mut s = screen();
        s.feed(b"\x1b[2;5rprompt> half a line");
        mark_restart(&mut s);
        assert_eq!(s.row_text(0), "prompt> half a line");
        assert_eq!(s.row_text(1), MARK);
    }

    #[test]
    fn a_run_that_ended_in_the_alternate_screen_leaves_it_first() {
        let mut s = screen();
        s.feed(b"shell line\r\n\x1b[?1049h\x1b[Hfull screen app");
        mark_restart(&mut s);
        assert!(!s.input_modes().alt_screen);
        assert_eq!(s.row_text(0), "shell line");
        assert_eq!(s.row_text(1), MARK);
    }
}
