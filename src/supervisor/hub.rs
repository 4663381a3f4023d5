//! The hub: the supervisor process's one true [`Board`] and the clients
//! attached to it.
//!
//! Every change to the board goes through [`Hub::publish`], which applies
//! it and queues the same update, serialized once, to every attached
//! dashboard, all under one lock, so a client's snapshot and its stream of
//! updates never overlap or leave a gap. Each client's queue is bounded: a
//! client that does not keep up is marked behind instead of slowing anyone,
//! and gets the whole board again ([`Hub::resync`]) once it reads.
//!
//! Each update is also where the operator gets called: the hub compares a
//! [`Glance`] of the board before and after it, so a transition calls
//! once, never per poll; a debounce keeps a state flickering back from
//! calling twice. A call goes to every attached dashboard (which rings the
//! host terminal's bell and sends a desktop notification), or, with none
//! attached, to the plan's `[notify] command` (`notify_command`).
//!
//! Pane output is not queued: an agent's output only marks its pane dirty
//! for every client ([`Hub::output`]); each client renders the panes it
//! shows when it is ready to send, so a slow client always gets the
//! latest screen, never a backlog.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::mpsc;

use crate::domain::board::{Board, BoardUpdate};
use crate::domain::calls::{self, Call, Debounce, Glance, NotifySpec};
use crate::domain::ownership::Ownership;
use crate::domain::wire::ServerMsg;
use crate::domain::{AgentStatus, Event, SliceName};
use crate::link::encode;
use crate::store::StateDir;
use crate::watch::DiffUpdate;

mod reviews;

/// Board updates a client may have queued before it counts as behind
/// (`SLICEBOARD_CLIENT_QUEUE` overrides it, for tests).
const CLIENT_QUEUE: usize = 1024;
/// Bytes of updates a client may have queued before it counts as behind:
/// a diff update carries the slice's whole diff.
const CLIENT_QUEUE_BYTES: usize = 16 << 20;

fn client_queue() -> usize {
    std::env::var("SLICEBOARD_CLIENT_QUEUE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(CLIENT_QUEUE)
}

/// One encoded frame, shared by every client it goes to.
pub type Frame = Arc<Vec<u8>>;

/// What the hub keeps of an attached client.
struct Slot {
    id: u64,
    updates: mpsc::Sender<Frame>,
    behind: Arc<AtomicBool>,
    queued: Arc<AtomicUsize>,
    panes: Arc<DirtyPanes>,
}

/// Panes with new output a client has not rendered yet.
#[derive(Default)]
pub struct DirtyPanes {
    slices: Mutex<BTreeSet<SliceName>>,
    pub wake: tokio::sync::Notify,
}

impl DirtyPanes {
    pub fn mark(&self, slice: &SliceName) {
        lock(&self.slices).insert(slice.clone());
        self.wake.notify_one();
    }

    pub fn take(&self) -> BTreeSet<SliceName> {
        std::mem::take(&mut *lock(&self.slices))
    }
}

/// An attached client's end.
pub struct Attached {
    pub id: u64,
    pub board: Board,
    pub updates: mpsc::Receiver<Frame>,
    pub behind: Arc<AtomicBool>,
    /// Bytes in `updates`; subtract what is taken out ([`Attached::took`]).
    pub queued: Arc<AtomicUsize>,
    pub panes: Arc<DirtyPanes>,
}

impl Attached {
    /// Accounts for a frame taken out of the queue.
    pub fn took(&self, frame: &Frame) {
        self.queued.fetch_sub(frame.len(), Ordering::SeqCst);
    }
}

struct Inner {
    board: Board,
    clients: Vec<Slot>,
    next_id: u64,
    /// What of the board can call, as of the last update.
    glance: Glance,
    debounce: Debounce,
    notify: Notify,
    /// Slices whose calls the operator muted.
    muted: BTreeSet<SliceName>,
    /// Where the muted slices and the reviews are kept across supervisors.
    kept_in: Option<StateDir>,
    /// Told when something the merge queue reads changed (an event, a
    /// diff, a dbt run, flags, the plan), so it looks again then instead
    /// of on a timer.
    on_change: Option<Poke>,
}

/// Wakes a thread that reads the board (the merge queue).
pub type Poke = Box<dyn Fn() + Send + Sync>;

/// Where calls go: the plan's `[notify]` and the repository they are about.
struct Notify {
    spec: NotifySpec,
    repo: std::path::PathBuf,
}

impl Inner {
    /// Queues a frame to every client that keeps up. A client whose queue
    /// is full (in updates or bytes) is marked behind and gets nothing more
    /// until it has been sent the whole board again.
    fn send(&self, frame: &Frame) {
        for client in &self.clients {
            if client.behind.load(Ordering::SeqCst) {
                continue;
            }
            let room = client.queued.load(Ordering::SeqCst) + frame.len() <= CLIENT_QUEUE_BYTES;
            if room && client.updates.try_send(frame.clone()).is_ok() {
                client.queued.fetch_add(frame.len(), Ordering::SeqCst);
            } else {
                client.behind.store(true, Ordering::SeqCst);
                // Wake it, so it resyncs as soon as it can write again.
                client.panes.wake.notify_one();
            }
        }
    }
}

pub struct Hub {
    inner: Mutex<Inner>,
    /// The plan's `owns` globs; replaced when the plan changes live.
    ownership: Mutex<Option<Arc<Ownership>>>,
    /// Command-line connections open now (one waiting for a merge's check
    /// keeps the supervisor from its idle exit).
    commands: AtomicUsize,
    /// The size each dashboard shows each agent at.
    view_sizes: Mutex<super::view_sizes::ViewSizes>,
    /// Who asked the supervisor to stop, once someone did.
    stop_reason: Mutex<Option<String>>,
    /// The last word to every dashboard: set once, as the supervisor ends.
    goodbye: tokio::sync::watch::Sender<Option<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether the merge queue reads what `update` changes on `board` (as it
/// was before): its own board, check output, log lines, mutes and reviews
/// aside, and of the events those it never reads (what an agent asks,
/// its usage, progress lines, prompts sent). Of an agent's activity it
/// reads only whether the agent is done (idle or done, for the
/// autopilot), so a busy agent's turns between working and waiting do
/// not move it.
fn moves_the_queue(board: &Board, update: &BoardUpdate) -> bool {
    use crate::domain::Activity;
    let settled =
        |activity: Option<Activity>| matches!(activity, Some(Activity::Idle | Activity::Done));
    match update {
        BoardUpdate::Event { event, .. } => match event {
            Event::Asks { .. }
            | Event::UsageChanged { .. }
            | Event::Progress { .. }
            | Event::PromptSent { .. } => false,
            Event::ActivityChanged {
                slice, activity, ..
            } => settled(board.row(slice).and_then(|row| row.activity)) != settled(Some(*activity)),
            _ => true,
        },
        BoardUpdate::Diff { .. }
        | BoardUpdate::Dbt { .. }
        | BoardUpdate::Flags { .. }
        | BoardUpdate::Plan { .. } => true,
        _ => false,
    }
}

impl Hub {
    /// `notify` and `repo`: where the operator's calls go ([`Hub::set_notify`]).
    pub fn new(
        board: Board,
        ownership: Option<Ownership>,
        notify: NotifySpec,
        repo: std::path::PathBuf,
        kept_in: Option<StateDir>,
    ) -> Self {
        let mut board = board;
        let muted = kept_in.as_ref().map(StateDir::muted).unwrap_or_default();
        for row in &mut board.slices {
            row.muted = muted.contains(&row.name);
            if let Some(dir) = &kept_in {
                row.review = dir.review(&row.name);
            }
        }
        Self {
            inner: Mutex::new(Inner {
                glance: Glance::of(&board),
                board,
                clients: Vec::new(),
                next_id: 1,
                debounce: Debounce::new(calls::DEBOUNCE),
                muted,
                kept_in,
                notify: Notify { spec: notify, repo },
                on_change: None,
            }),
            ownership: Mutex::new(ownership.map(Arc::new)),
            commands: AtomicUsize::new(0),
            view_sizes: Mutex::default(),
            stop_reason: Mutex::new(None),
            goodbye: tokio::sync::watch::Sender::new(None),
        }
    }

    /// The sizes dashboards show agents at ([`super::view_sizes`]).
    pub fn view_sizes(&self) -> MutexGuard<'_, super::view_sizes::ViewSizes> {
        lock(&self.view_sizes)
    }

    /// Records who asked the supervisor to stop (the first one counts),
    /// for the goodbye its dashboards get.
    pub fn stop_requested(&self, by: &str) {
        lock(&self.stop_reason).get_or_insert_with(|| by.to_owned());
    }

    /// Tells every dashboard the supervisor ends and why; each closes its
    /// connection after saying so. `otherwise` is the reason when nobody
    /// asked it to stop.
    pub fn goodbye(&self, otherwise: &str) {
        let reason = lock(&self.stop_reason)
            .clone()
            .map_or_else(|| otherwise.to_owned(), |by| format!("stopped {by}"));
        self.goodbye.send_replace(Some(reason));
    }

    /// Waits for the goodbye; the reason.
    pub async fn farewell(&self) -> String {
        let mut watch = self.goodbye.subscribe();
        let reason = watch
            .wait_for(Option::is_some)
            .await
            .map(|reason| reason.clone());
        match reason {
            Ok(reason) => reason.unwrap_or_default(),
            // The hub outlives every client task; never reached.
            Err(_) => std::future::pending().await,
        }
    }

    fn ownership(&self) -> Option<Arc<Ownership>> {
        lock(&self.ownership).clone()
    }

    /// The plan file changed: the new plan's ownership (when it is in
    /// force) and what the board shows of the change; then every slice's
    /// flags again, with the plan in force, if they differ (an `owns`
    /// edited, a slice renamed, removed or added back).
    pub fn plan_changed(&self, ownership: Option<Ownership>, update: BoardUpdate) {
        if let Some(ownership) = ownership {
            *lock(&self.ownership) = Some(Arc::new(ownership));
        }
        let mut inner = lock(&self.inner);
        Self::send_update(&mut inner, update);
        if let Some(ownership) = self.ownership() {
            let flags = inner.board.flags(&ownership, None);
            if !inner.board.flags_are(&flags) {
                Self::send_update(&mut inner, BoardUpdate::Flags { flags });
            }
        }
    }

    /// Applies an update and sends it to every attached client.
    pub fn publish(&self, update: BoardUpdate) {
        Self::send_update(&mut lock(&self.inner), update);
    }

    /// Who is told when the board changes in a way the merge queue reads.
    pub fn on_change(&self, poke: Poke) {
        lock(&self.inner).on_change = Some(poke);
    }

    /// Tells the merge queue to look again (a branch moved).
    pub fn poke(&self) {
        if let Some(poke) = &lock(&self.inner).on_change {
            poke();
        }
    }

    fn send_update(inner: &mut Inner, update: BoardUpdate) {
        let moves = moves_the_queue(&inner.board, &update);
        inner.board.apply(&update);
        if let (Some(poke), true) = (&inner.on_change, moves) {
            poke();
        }
        let found = if calls::may_call(&update) {
            let glance = Glance::of(&inner.board);
            let found = calls::calls(&inner.glance, &glance, &update);
            inner.glance = glance;
            found
        } else {
            Vec::new()
        };
        let frame: Frame = Arc::new(encode(&ServerMsg::Update { update }));
        inner.send(&frame);
        for call in found {
            Self::call(inner, call);
        }
    }

    /// Sends a call where it goes now: to the attached dashboards, or to
    /// the plan's command when none is attached.
    fn call(inner: &mut Inner, call: Call) {
        let spec = &inner.notify.spec;
        let muted = call.slice.as_ref().is_some_and(|s| inner.muted.contains(s));
        if muted
            || !spec.calls(call.reason)
            || !inner.debounce.admit(&call, std::time::Instant::now())
        {
            return;
        }
        tracing::info!(slice = ?call.slice, reason = call.reason.name(), "{}", call.message);
        if inner.clients.is_empty() {
            if let Some(command) = &spec.command {
                notify_command(command, &call, &inner.notify.repo);
            }
            return;
        }
        let frame: Frame = Arc::new(encode(&ServerMsg::Call {
            call,
            bell: spec.bell,
            desktop: spec.desktop,
        }));
        inner.send(&frame);
    }

    /// Mutes or unmutes a slice's calls; the board shows it.
    pub fn mute(&self, slice: &SliceName, muted: bool) {
        let mut inner = lock(&self.inner);
        if muted {
            inner.muted.insert(slice.clone());
        } else {
            inner.muted.remove(slice);
        }
        if let Some(dir) = &inner.kept_in
            && let Err(err) = dir.save_muted(&inner.muted)
        {
            tracing::warn!(%err, "the muted slices could not be saved");
        }
        Self::send_update(
            &mut inner,
            BoardUpdate::Muted {
                slice: slice.clone(),
                muted,
            },
        );
    }

    /// The plan's `[notify]` changed (it applies live).
    pub fn set_notify(&self, spec: NotifySpec) {
        lock(&self.inner).notify.spec = spec;
    }

    /// A slice's latest dbt run, each node attributed to the slice that
    /// owns its file.
    pub fn dbt(&self, slice: &SliceName, mut run: Option<crate::domain::dbt_run::DbtRun>) {
        if let (Some(run), Some(ownership)) = (run.as_mut(), self.ownership()) {
            run.attribute(&ownership);
        }
        self.publish(BoardUpdate::Dbt {
            slice: slice.clone(),
            run,
        });
    }

    pub fn event(&self, event: Event) {
        // The operator's approval is their last look at the slice.
        let looked = match &event {
            Event::Approved {
                slice,
                commit,
                by_itself: false,
                ..
            } => Some((slice.clone(), commit.clone())),
            _ => None,
        };
        self.publish(BoardUpdate::Event {
            event,
            at: Some(jiff::Timestamp::now()),
        });
        if let Some((slice, commit)) = looked {
            self.looked(&slice, commit, "approved");
        }
    }

    /// A slice's new diff, with every slice's ownership flags again, in one
    /// critical section with its publication.
    pub fn diff(&self, update: DiffUpdate) {
        let mut inner = lock(&self.inner);
        let flags = self
            .ownership()
            .map(|o| inner.board.flags(&o, Some((&update.slice, &update.diff))))
            .unwrap_or_default();
        let update = BoardUpdate::Diff {
            slice: update.slice,
            diff: update.diff,
            mode: update.mode,
            error: update.error,
            flags,
        };
        Self::send_update(&mut inner, update);
    }

    /// A slice's agent printed something: every client that shows its
    /// pane renders it when it can.
    pub fn output(&self, slice: &SliceName) {
        for client in &lock(&self.inner).clients {
            client.panes.mark(slice);
        }
    }

    /// Registers a dashboard and hands it the board as of now; every later
    /// update reaches its queue.
    pub fn attach(&self) -> Attached {
        let mut inner = lock(&self.inner);
        let id = inner.next_id;
        inner.next_id += 1;
        let (tx, rx) = mpsc::channel(client_queue());
        let behind = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicUsize::new(0));
        let panes = Arc::new(DirtyPanes::default());
        inner.clients.push(Slot {
            id,
            updates: tx,
            behind: behind.clone(),
            queued: queued.clone(),
            panes: panes.clone(),
        });
        Attached {
            id,
            board: inner.board.clone(),
            updates: rx,
            behind,
            queued,
            panes,
        }
    }

    pub fn detach(&self, id: u64) {
        lock(&self.inner).clients.retain(|c| c.id != id);
    }

    /// For a client that fell behind: drops what it has queued and hands
    /// back the board as of now (both under the lock, so nothing between
    /// the two is lost or repeated).
    pub fn resync(&self, client: &mut Attached) -> Board {
        let inner = lock(&self.inner);
        while client.updates.try_recv().is_ok() {}
        client.queued.store(0, Ordering::SeqCst);
        client.behind.store(false, Ordering::SeqCst);
        inner.board.clone()
    }

    /// Sets every slice's agent status without telling anyone: for the
    /// board a new supervisor starts from, before clients attach.
    pub fn set_statuses(&self, statuses: &BTreeMap<SliceName, AgentStatus>) {
        let mut inner = lock(&self.inner);
        for row in &mut inner.board.slices {
            if let Some(status) = statuses.get(&row.name) {
                row.status = *status;
            }
        }
    }

    /// Dashboards attached now.
    pub fn clients(&self) -> usize {
        lock(&self.inner).clients.len()
    }

    /// A command-line connection opened.
    pub fn command_opened(&self) {
        self.commands.fetch_add(1, Ordering::SeqCst);
    }

    /// A command-line connection closed.
    pub fn command_closed(&self) {
        self.commands.fetch_sub(1, Ordering::SeqCst);
    }

    /// Command-line connections open now.
    pub fn commands(&self) -> usize {
        self.commands.load(Ordering::SeqCst)
    }

    /// Every slice's agent as the board shows it, by slice.
    pub fn agents(&self) -> BTreeMap<SliceName, crate::domain::board::AgentReport> {
        lock(&self.inner)
            .board
            .slices
            .iter()
            .map(|row| (row.name.clone(), row.agent_report()))
            .collect()
    }

    pub fn board(&self) -> Board {
        lock(&self.inner).board.clone()
    }
}

/// Runs the plan's `[notify] command` for a call, on a thread of its own
/// (the hub never waits for it), through `sh -c` with the call in its
/// environment: `SLICEBOARD_NOTIFY_SLICE` (empty for the queue),
/// `SLICEBOARD_NOTIFY_REASON`, `SLICEBOARD_NOTIFY_MESSAGE` (the call as one
/// line) and `SLICEBOARD_NOTIFY_REPO`.
fn notify_command(command: &str, call: &Call, repo: &std::path::Path) {
    let mut process = std::process::Command::new("sh");
    process
        .arg("-c")
        .arg(command)
        .current_dir(repo)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .env(
            "SLICEBOARD_NOTIFY_SLICE",
            call.slice
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        )
        .env("SLICEBOARD_NOTIFY_REASON", call.reason.name())
        .env("SLICEBOARD_NOTIFY_MESSAGE", call.text())
        .env("SLICEBOARD_NOTIFY_REPO", repo);
    let reason = call.reason.name();
    let spawned = std::thread::Builder::new()
        .name("notify".into())
        .spawn(
            move || match crate::os::process_group::status(&mut process) {
                Ok(status) if !status.success() => {
                    tracing::warn!(%status, reason, "the [notify] command failed");
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(%err, reason, "cannot run the [notify] command"),
            },
        );
    if let Err(err) = spawned {
        tracing::warn!(%err, "cannot start a thread for the [notify] command");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::board::SliceRow;
    use crate::domain::{Activity, ActivitySource, Lifecycle};

    fn event(event: Event) -> BoardUpdate {
        BoardUpdate::Event { event, at: None }
    }

    #[test]
    fn the_queue_moves_for_what_it_reads_and_not_for_an_agents_chatter() {
        let slice = SliceName::parse("orders").unwrap();
        let mut row = SliceRow::new(slice.clone(), Lifecycle::Active, "/tmp/orders".into());
        row.activity = Some(Activity::Busy);
        let board = Board {
            slices: vec![row],
            ..Board::default()
        };
        let activity = |activity| {
            event(Event::ActivityChanged {
                slice: slice.clone(),
                activity,
                source: ActivitySource::Signal,
                origin: None,
            })
        };
        assert!(!moves_the_queue(&board, &activity(Activity::Waiting)));
        assert!(moves_the_queue(&board, &activity(Activity::Idle)));
        assert!(moves_the_queue(&board, &activity(Activity::Done)));
        let asks = event(Event::Asks {
            slice: slice.clone(),
            text: "Proceed? (y/n)".into(),
        });
        assert!(!moves_the_queue(&board, &asks));
        assert!(moves_the_queue(
            &board,
            &event(Event::Approved {
                slice: slice.clone(),
                commit: "abc".into(),
                concerns: Vec::new(),
                by_itself: false,
            })
        ));

        // An agent that was done and starts again moves it too.
        let mut settled = board.clone();
        settled.slices[0].activity = Some(Activity::Idle);
        assert!(moves_the_queue(&settled, &activity(Activity::Busy)));
        assert!(!moves_the_queue(&settled, &activity(Activity::Done)));
    }
}
