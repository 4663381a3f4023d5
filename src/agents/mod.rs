//! The agents, inside the supervisor process: every slice's agent
//! session, started within the plan's `max_running` cap (the rest wait as
//! pending), paused, resumed, killed and restarted on command, with
//! activity read from the agents' own signals, the bell and the screen.
//!
//! Owns the sessions and, while it lives, the [`StateStore`] (the state
//! lock and `state.json`'s contents), which it shares with every service
//! of the process that changes state. Commands come in through
//! [`Agents::execute`] (`commands`: what each does) or an [`AgentsHandle`]
//! (`handle`: the inbox other threads send to; the socket server's clients
//! and the merge queue hold one); what happens goes out as
//! [`domain::Event`](crate::domain::Event)s through a callback and into the
//! journal. Driven by its owner calling [`Agents::step`] in a loop on a
//! thread of its own: kills and spawns are quick here, but git and disk
//! work (`up`, `down`) run on threads of their own (`worktree_ops`). This
//! file holds the [`Agents`] type, the step and the inbox's handling, and
//! shutdown.
//!
//! On start it shows what an earlier supervisor left: each slice's last
//! agent status from the journal (a run the earlier supervisor never saw
//! end is recorded as exited), the tail of its transcript on screen, and
//! agent groups it left running (`left_running`), which block new agents
//! in their slice until the operator ends them or they end.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::domain::{AgentStatus, Command, Event, SliceName};
use crate::session::{
    ActivityRules, Reading, ScreenHandle, Session, SessionEvent, Size, transcript,
};
mod agent_events;
mod agent_hooks;
mod commands;
mod handle;
mod left_running;
mod limits;
mod live_plan;
mod recover;
mod start;
pub mod usage;
pub mod usage_files;
mod worktree_ops;

use recover::{earlier_output, mark_restart};

use handle::Inbox;
pub use handle::{AgentPresence, AgentsHandle, Outcome, Reply};

use crate::store::{Actor, StateStore};
use crate::workspace::{Workspace, WorkspaceError};

/// How long a prompt for a starting agent waits for it to ask for
/// bracketed paste before it is typed anyway.
const PROMPT_WAIT: Duration = Duration::from_secs(3);
/// How often the agents' usage files are read while every agent is quiet.
/// They are read at every step, four times a second while an agent's
/// activity may still change, and an agent's usage grows only while it
/// works: this is a safety net, not how usage is followed.
const USAGE_EVERY: Duration = Duration::from_secs(300);

/// A prompt as one paste (bracketed when the agent asked for it), then Enter.
impl Agents {
    /// While an agent waits, what it asks follows its screen (a hook may
    /// say it waits before the question is drawn): reported when it
    /// changes.
    fn follow_asks(&mut self) {
        let mut changed = Vec::new();
        for (name, slot) in &mut self.slots {
            let now = slot
                .session
                .as_ref()
                .filter(|s| s.exit().is_none())
                .and_then(|s| waiting_on(s, s.activity().activity));
            if now != slot.asks {
                slot.asks.clone_from(&now);
                if let Some(text) = now {
                    changed.push((name.clone(), text));
                }
            }
        }
        for (slice, text) in changed {
            (self.report)(Event::Asks { slice, text });
        }
    }
}

/// For a waiting agent, what it asks, from its screen now.
fn waiting_on(session: &Session, activity: crate::domain::Activity) -> Option<String> {
    if activity != crate::domain::Activity::Waiting {
        return None;
    }
    session
        .with_screen(|screen| crate::domain::calls::asks(&screen.tail_logical_lines(6).join("\n")))
}

fn deliver(session: &Session, text: &str) -> std::io::Result<()> {
    session.paste(text)?;
    session.write(b"\r")
}

#[derive(Debug, Clone)]
pub struct AgentsOptions {
    /// The size agents start at, until the dashboard resizes them.
    pub size: Size,
    pub scrollback: usize,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    pub transcript_max: u64,
    pub activity: ActivityRules,
    /// The executable agents' hooks run (`sliceboard hook …`); this
    /// process's own by default. `None` adds no hooks.
    pub sliceboard: Option<std::path::PathBuf>,
    /// What tokens cost, for estimates and budgets.
    pub prices: crate::domain::usage::Prices,
}

impl AgentsOptions {
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
            prices: usage::user_prices(),
            ..Self::default()
        }
    }
}

impl Default for AgentsOptions {
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
            sliceboard: std::env::current_exe().ok(),
            prices: Default::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentsError {
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
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// What a supervisor writes in the lock file as its command: a launcher
/// that finds it there knows another supervisor holds the repository.
pub const LOCK_COMMAND: &str = "sliceboard supervisor";

/// Every slice's screen, for whoever draws them.
pub type Screens = Arc<std::sync::Mutex<BTreeMap<SliceName, ScreenHandle>>>;

/// Called when a slice's agent printed something (coalesced: again only
/// after its screen was looked at).
pub type OutputListener = Arc<dyn Fn(&SliceName) + Send + Sync>;

/// How an agent starts: its command, or the plan's resume command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Launch {
    Fresh,
    Resume,
}

/// SIGSTOP or SIGCONT to an agent's group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hold {
    Pause,
    Resume,
}

#[derive(Default)]
struct Slot {
    session: Option<Session>,
    status: Option<AgentStatus>,
    restart_when_exited: bool,
    /// The size the operator last gave its pane; a restart starts there.
    size: Option<Size>,
    /// A prompt for an agent being started, and since when it waits.
    prompt: Option<(String, Instant)>,
    /// An agent group an earlier supervisor left running here.
    left_running: Option<left_running::LeftGroup>,
    /// What its agent asks, as last reported, while it waits.
    asks: Option<String>,
    /// When the usage limit its agent hit resets, until it goes on.
    limit: Option<jiff::Timestamp>,
    /// The last line that reported a limit (kept across restarts: an
    /// agent resumed with its conversation draws it again).
    limit_line: Option<String>,
    /// What its agents used and cost, and its budget.
    usage: usage::SlotUsage,
}

pub struct Agents {
    ws: Workspace,
    /// `state.json`'s owner in this process, holding the state lock.
    state: StateStore,
    options: AgentsOptions,
    slots: BTreeMap<SliceName, Slot>,
    /// Slices waiting for a free slot, and whether they resume.
    pending: VecDeque<(SliceName, Launch)>,
    inbox: mpsc::Receiver<Inbox>,
    inbox_tx: mpsc::Sender<Inbox>,
    report: EventSink,
    on_output: Option<OutputListener>,
    screens: Screens,
    /// Set once `Shutdown` was handled: the owner's loop ends.
    finished: bool,
    /// When groups left running were last looked at.
    left_checked: Instant,
    /// When the agents' usage files were last read (`None` before the
    /// first read).
    usage_read: Option<Instant>,
    /// Held by the worktree operation that runs (`up`'s worktrees, a
    /// `down`), so two never interleave on one slice's record and folder.
    worktree_op: worktree_ops::OneAtATime,
    /// Slices whose `down` runs or waits for its turn (how many of them):
    /// no agent starts there until they are done.
    coming_down: BTreeMap<SliceName, usize>,
    on_setup: Option<OutputListener>,
}

impl Agents {
    /// Takes the state lock, and picks up what an earlier supervisor left
    /// (see the module's header).
    pub fn new(
        ws: Workspace,
        options: AgentsOptions,
        report: EventSink,
    ) -> Result<Self, AgentsError> {
        let state = ws.lock_state(LOCK_COMMAND)?;
        let (inbox_tx, inbox) = mpsc::channel();
        let slots = ws
            .plan
            .slices
            .iter()
            .map(|s| (s.name.clone(), Slot::default()))
            .collect();
        let mut supervisor = Self {
            ws,
            state,
            options,
            slots,
            pending: VecDeque::new(),
            inbox,
            inbox_tx,
            report,
            on_output: None,
            screens: Screens::default(),
            finished: false,
            left_checked: Instant::now(),
            usage_read: None,
            worktree_op: worktree_ops::OneAtATime::default(),
            coming_down: BTreeMap::new(),
            on_setup: None,
        };
        supervisor.recover();
        Ok(supervisor)
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
    pub fn handle(&self) -> AgentsHandle {
        AgentsHandle(self.inbox_tx.clone())
    }

    /// Every slice's current screen (kept after the agent exits).
    pub fn screens(&self) -> Screens {
        self.screens.clone()
    }

    pub fn on_output(&mut self, listener: OutputListener) {
        self.on_output = Some(listener);
    }

    /// Told as each command of a slice's setup starts (the setup's state
    /// already says it runs).
    pub fn on_setup(&mut self, listener: OutputListener) {
        self.on_setup = Some(listener);
    }

    pub fn workspace(&self) -> &Workspace {
        &self.ws
    }

    /// The state, under the lock this supervisor holds, for services that
    /// change it.
    pub fn state_store(&self) -> StateStore {
        self.state.clone()
    }

    pub fn status(&self, slice: &SliceName) -> AgentStatus {
        self.slots
            .get(slice)
            .and_then(|s| s.status)
            .unwrap_or(AgentStatus::NotStarted)
    }

    pub fn activity(&self, slice: &SliceName) -> Option<Reading> {
        self.session(slice).map(Session::activity)
    }

    pub fn session(&self, slice: &SliceName) -> Option<&Session> {
        self.slots.get(slice).and_then(|s| s.session.as_ref())
    }

    /// `sliceboard up` under this supervisor's lock; what git and the
    /// journal recorded goes to the watchers.
    fn ops(&self) -> worktree_ops::Ops {
        worktree_ops::Ops {
            root: self.ws.git.root().to_owned(),
            plan: self.ws.plan.clone(),
            state: self.state.clone(),
            one_at_a_time: self.worktree_op.clone(),
            on_setup: self.on_setup.clone(),
        }
    }

    /// Refuses to remove the worktree of an agent that runs in it, or of
    /// a group an earlier supervisor left running there.
    fn check_down(&self, command: &Command) -> Result<(), AgentsError> {
        match command {
            Command::Down { slice, .. } if self.ws.plan.is_planner(slice) => Err(refused(
                slice,
                "it is the planner, which works in the repository itself: there is no worktree of its own to remove",
            )),
            Command::Down { slice, .. }
                if self.session(slice).is_some_and(|s| s.exit().is_none()) =>
            {
                Err(refused(slice, "its agent is running; kill it first"))
            }
            Command::Down { slice, .. } => self.check_left_running(slice),
            _ => Ok(()),
        }
    }

    /// `up` or `down` on a thread of its own; the outcome comes back
    /// through the inbox.
    fn spawn_op(&mut self, command: Command, reply: Option<Reply>) {
        if let Err(err) = self.check_down(&command) {
            self.finish_op(command, Err(err.to_string()), Vec::new(), reply);
            return;
        }
        let down = match &command {
            Command::Down { slice, .. } => Some(slice.clone()),
            _ => None,
        };
        if let Some(slice) = &down {
            *self.coming_down.entry(slice.clone()).or_default() += 1;
        }
        let ops = self.ops();
        let inbox = self.inbox_tx.clone();
        let spawned = std::thread::Builder::new()
            .name("worktree-op".into())
            .spawn(move || {
                let (outcome, events) = ops.run(&command);
                let _ = inbox.send(Inbox::OpDone {
                    command,
                    outcome,
                    events,
                    reply,
                });
            });
        if let Err(err) = spawned {
            tracing::warn!(%err, "cannot start a worktree operation");
            if let Some(slice) = &down {
                self.down_done(slice);
            }
        }
    }

    /// A worktree operation's thread is done: a `down` no longer holds
    /// its slice's starts back, and the rest is [`Agents::finish_op`]'s.
    fn op_done(
        &mut self,
        command: Command,
        outcome: Outcome,
        events: Vec<Event>,
        reply: Option<Reply>,
    ) {
        if let Command::Down { slice, .. } = &command {
            self.down_done(slice);
        }
        self.finish_op(command, outcome, events, reply);
    }

    /// One of the slice's `down`s is over.
    fn down_done(&mut self, slice: &SliceName) {
        if let Some(count) = self.coming_down.get_mut(slice) {
            *count -= 1;
            if *count == 0 {
                self.coming_down.remove(slice);
            }
        }
    }

    /// What a worktree operation did goes to the watchers, its outcome to
    /// whoever asked.
    fn finish_op(
        &self,
        command: Command,
        outcome: Outcome,
        events: Vec<Event>,
        reply: Option<Reply>,
    ) {
        events.into_iter().for_each(|e| (self.report)(e));
        match (reply, outcome) {
            (Some(reply), outcome) => {
                let _ = reply.send(outcome);
            }
            (None, Err(message)) => (self.report)(Event::CommandFailed {
                command: Box::new(command),
                message,
            }),
            (None, Ok(_)) => {}
        }
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
        self.deliver_prompts();
        let now = Instant::now();
        self.poll_left_running(now);
        // A program that starts a synchronized update and stalls must still
        // be drawn when the update times out. It is applied here, not only
        // by a viewer that draws it: with none, its deadline would stay
        // past and the step would never sleep.
        for (name, slot) in &self.slots {
            let Some(handle) = slot.session.as_ref().map(Session::screen_handle) else {
                continue;
            };
            if handle.sync_deadline().is_some_and(|due| due <= now) {
                handle.with_screen(|_| ());
                if let Some(listener) = &self.on_output {
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
        for (slice, reading) in changed {
            self.limit_after_activity(&slice, reading.activity);
            (self.report)(Event::ActivityChanged {
                slice,
                activity: reading.activity,
                source: reading.source,
                origin: None,
            });
        }
        self.follow_asks();
        self.resume_after_limits();
        self.follow_usage();
        self.usage_read = Some(Instant::now());
        self.compact_quiet_screens(now);
    }

    /// Screens whose output went quiet give their grids' spare rows back
    /// (1,000 rows: 4.8 MiB a screen at 200 columns), and the allocator
    /// gives the memory back to the system, once for all of them.
    fn compact_quiet_screens(&self, now: Instant) {
        let freed = self
            .slots
            .values()
            .filter_map(|slot| slot.session.as_ref())
            .fold(false, |freed, s| s.compact_if_quiet(now) | freed);
        if freed {
            crate::os::release_freed_memory();
        }
    }

    /// How long the owner's next [`Agents::step`] may wait, at most
    /// `longest`: a quarter second while some agent's activity may still
    /// change on its own or a prompt waits for its agent to read it; until
    /// the next thing due by itself otherwise (a stalled synchronized
    /// update drawn, a group left running looked at, a usage limit's
    /// reset, the agents' usage files read again, a screen gone quiet
    /// compacted). An agent's output, a hook, a command or an agent's end
    /// wakes the step at once.
    pub fn next_step(&self, longest: Duration) -> Duration {
        let now = Instant::now();
        let running = || {
            self.slots
                .values()
                .filter_map(|slot| slot.session.as_ref())
                .filter(|s| s.exit().is_none())
        };
        let settled = running().all(|s| s.activity_settled(now));
        let prompting = self.slots.values().any(|slot| slot.prompt.is_some());
        let usage_due = self.usage_read.map_or(Duration::ZERO, |at| {
            USAGE_EVERY.saturating_sub(at.elapsed())
        });
        let mut step = if !settled || prompting {
            Duration::from_millis(250)
        } else {
            longest.min(usage_due)
        };
        if self.slots.values().any(|slot| slot.left_running.is_some()) {
            step = step.min(left_running::CHECK_EVERY);
        }
        if let Some(due) = running()
            .filter_map(|s| s.screen_handle().sync_deadline())
            .min()
        {
            step = step.min(due.saturating_duration_since(now));
        }
        if let Some(due) = self
            .slots
            .values()
            .filter_map(|slot| slot.session.as_ref()?.compact_due())
            .min()
        {
            step = step.min(due.saturating_duration_since(now));
        }
        self.next_limit_reset()
            .map_or(step, |reset| step.min(reset))
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
                Ok(message) => self.refuse(message),
                Err(_) => break,
            }
        }
        // Whoever is still waiting hears why nothing will happen.
        while let Ok(message) = self.inbox.try_recv() {
            self.refuse(message);
        }
    }

    /// Answers a message that arrives while shutting down: requests are
    /// refused, a worktree operation that ended is reported.
    fn refuse(&mut self, message: Inbox) {
        match message {
            Inbox::Request { reply, .. } => {
                let _ = reply.send(Err("the supervisor is shutting down".into()));
            }
            Inbox::OpDone {
                command,
                outcome,
                events,
                reply,
            } => self.op_done(command, outcome, events, reply),
            message @ (Inbox::Session(SessionEvent::Exited { .. })
            | Inbox::LeftRunningStopped { .. }) => self.receive(message),
            Inbox::Session(_) | Inbox::Local(_) | Inbox::UsePlan(_) | Inbox::Presence { .. } => {}
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
            // Already told to whoever draws, by the session's sink; here
            // it only woke the step.
            Inbox::Session(SessionEvent::Output { .. } | SessionEvent::Bell { .. }) => {}
            Inbox::Local(
                command @ (Command::Up { .. } | Command::Down { .. } | Command::Setup { .. }),
            ) => {
                self.spawn_op(command, None);
            }
            Inbox::Request {
                command:
                    command @ (Command::Up { .. } | Command::Down { .. } | Command::Setup { .. }),
                reply,
            } => self.spawn_op(command, Some(reply)),
            Inbox::OpDone {
                command,
                outcome,
                events,
                reply,
            } => self.op_done(command, outcome, events, reply),
            Inbox::LeftRunningStopped {
                slice,
                pid,
                termination,
            } => self.left_running_stopped(&slice, pid, termination),
            Inbox::UsePlan(plan) => self.use_plan(*plan),
            Inbox::Presence { slice, reply } => {
                let _ = reply.send(self.agent_presence(&slice));
            }
            Inbox::Local(command) => {
                if let Err(err) = self.execute(command.clone()) {
                    (self.report)(Event::CommandFailed {
                        command: Box::new(command),
                        message: err.to_string(),
                    });
                }
            }
            Inbox::Request { command, reply } => {
                let _ = reply.send(self.execute(command).map_err(|e| e.to_string()));
            }
        }
    }

    /// Whose agent runs in `slice`: ours, or a group left running.
    fn agent_presence(&self, slice: &SliceName) -> AgentPresence {
        if let Ok(session) = self.live(slice) {
            return AgentPresence::Ours { pid: session.pid() };
        }
        match self.left_running(slice) {
            Some(left) => AgentPresence::LeftRunning { pid: left.pid },
            None => AgentPresence::Gone,
        }
    }

    fn live(&self, slice: &SliceName) -> Result<&Session, AgentsError> {
        self.session(slice)
            .filter(|s| s.exit().is_none())
            .ok_or_else(|| AgentsError::Refused {
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

    /// The slices whose running agents count toward `max_running`: the
    /// planner's does not (it is no slice's agent, and a full house of
    /// workers must not keep it from reviewing them).
    fn slots_taken(&self) -> Vec<&SliceName> {
        self.slots
            .iter()
            .filter(|(name, _)| !self.ws.plan.is_planner(name))
            .filter(|(_, s)| s.session.as_ref().is_some_and(|s| s.exit().is_none()))
            .map(|(name, _)| name)
            .collect()
    }

    /// Why a slice waits, when it does: the slots and who holds them.
    fn pending_reason(&self, slice: &SliceName) -> Option<String> {
        if !self.pending.iter().any(|(p, _)| p == slice) {
            return None;
        }
        Some(crate::domain::board::pending_reason(
            slice,
            &self.slots_taken(),
            self.ws.plan.max_running,
        ))
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
        (self.report)(event);
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn refused(slice: &SliceName, message: impl std::fmt::Display) -> AgentsError {
    AgentsError::Refused {
        slice: slice.clone(),
        message: message.to_string(),
    }
}
