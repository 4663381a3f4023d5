//! The supervisor process: one per repository, in the background, owning
//! every agent, emulator, watcher and follower, with dashboards and the
//! command line as clients over its socket.
//!
//! This is the composition root. [`Services::start`] takes the state lock
//! (through the [`Agents`]), builds the [`hub::Hub`] that holds the board,
//! the live-diff engine, the dbt and log [`follower`], the merge queue and
//! the plan's watch ([`plan_reload`]), binds the socket and serves it on
//! tokio ([`clients`]); every thread's inbox or handle is named in one
//! [`Senders`]. [`Services::drive`] steps the agents on this thread until
//! `sliceboard stop`, SIGTERM, or a while with no agent running and no
//! dashboard attached; [`Services::shutdown`] stops everything in the one
//! order that loses nothing. [`launch`] starts the process detached.
//!
//! Threads: this one (the agents' steps), the tokio runtime's workers
//! (sockets), the live-diff engine, the file follower, the merge queue,
//! the plan's watch, the signal thread, and each session's own PTY
//! threads. Blocking work (PTY reads, inotify, git2) never runs on tokio.

pub mod clients;
pub mod follower;
pub mod hub;
pub mod launch;
pub mod plan_reload;
pub mod senders;
pub mod view_sizes;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use self::hub::Hub;
use self::senders::Senders;
use crate::agents::{Agents, AgentsOptions};
use crate::domain::board::{Board, EventLine, SliceRow, describe};
use crate::domain::{Command, Lifecycle};
use crate::merge_queue::QueueHandle;
use crate::store::{State, load_state};
use crate::watch::{LiveDiffs, LiveDiffsHandle, LiveOptions};
use crate::workspace::Workspace;

/// How long a supervisor with no agent running and no dashboard attached
/// stays, unless `SLICEBOARD_IDLE_EXIT` (seconds) says otherwise.
pub const IDLE_EXIT: Duration = Duration::from_secs(600);
pub const IDLE_EXIT_ENV: &str = "SLICEBOARD_IDLE_EXIT";

/// The idle time after which a supervisor ends by itself.
pub fn idle_exit() -> Duration {
    std::env::var(IDLE_EXIT_ENV)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(IDLE_EXIT, Duration::from_secs_f64)
}

/// Runs the supervisor in this process until it is told to stop.
pub fn run(ws: Workspace, idle_exit: Duration) -> anyhow::Result<()> {
    crate::log_file::init(&ws.state_dir.log_file());
    let mut services = Services::start(ws)?;
    services.drive(idle_exit);
    services.shutdown();
    Ok(())
}

/// Every service of the supervisor process, started by [`Services::start`]
/// and torn down by [`Services::shutdown`] in the one order that loses
/// nothing: dashboards told goodbye, the merge queue's check stopped, the
/// agents ended, the socket gone before the lock, the watchers and the
/// follower stopped, then the agents (and with them the state lock)
/// dropped, answering anything the queue still asks, before its thread is
/// joined.
pub struct Services {
    /// Every thread's inbox or handle.
    senders: Senders,
    /// Driven on this thread; holds the state lock while it lives.
    agents: Agents,
    socket: Socket,
    follower: Follower,
    plan_watch: crate::watch::PlanWatch,
    reload: Arc<Mutex<plan_reload::PlanReload>>,
    live_diffs: LiveDiffs,
    queue_thread: std::thread::JoinHandle<()>,
}

/// The socket server: its file, the runtime serving it, and how to stop.
struct Socket {
    path: PathBuf,
    runtime: tokio::runtime::Runtime,
    stop_serving: tokio::sync::watch::Sender<bool>,
}

/// The file follower's thread and its stop flag.
struct Follower {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
    /// The agents' way to wake it as a setup command starts, taken away
    /// at shutdown: the follower ends once every sender is gone, and an
    /// operation's thread may outlive the agents' own.
    setups: Arc<Mutex<Option<mpsc::Sender<follower::Wake>>>>,
}

impl Services {
    /// Takes the state lock (through the [`Agents`]) and starts every
    /// service: the hub, the live diffs, the file follower, the merge
    /// queue, the plan's watch and the socket server.
    pub fn start(ws: Workspace) -> anyhow::Result<Self> {
        // Whatever an agent's descendants do (job control, `setsid`, a parent
        // that exits), they stay this process's descendants and in reach of
        // `kill` and `stop`; the orphans among them are reaped on SIGCHLD.
        if let Err(err) = crate::os::process_group::become_subreaper() {
            tracing::warn!(%err, "cannot become a child subreaper; agents' orphaned jobs go to init");
        }
        let state = load_state(&ws.state_dir.state_file())?;
        let hub = Arc::new(Hub::new(
            initial_board(&ws, &state),
            ws.plan.ownership().ok(),
            ws.plan.notify.clone(),
            ws.git.root().to_owned(),
            Some(ws.state_dir.clone()),
        ));
        let plan_file = ws.plan_path();
        let state_dir = ws.state_dir.clone();
        let in_force = ws.plan.clone();
        let followed = follower::followed(&ws, &state);
        let targets = follower::diff_targets(&ws, &state, &followed);
        let socket_path = ws.state_dir.socket_file();

        // Set once the live diffs run: a worktree `up` just made is read anew
        // whole, whatever the watcher saw of it while it was being checked out.
        let rereads: Arc<OnceLock<LiveDiffsHandle>> = Arc::default();
        let mut agents = start_agents(ws, &hub, rereads.clone())?;
        let (wake_tx, wake_rx) = mpsc::channel();
        // A setup's output is in the state folder, which nothing watches:
        // the follower is told as each command starts, and reads on.
        let setups = Arc::new(Mutex::new(Some(wake_tx.clone())));
        let told = setups.clone();
        agents.on_setup(Arc::new(move |slice| {
            if let Some(wake) = told
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .as_ref()
            {
                let _ = wake.send(follower::Wake::Files(slice.clone()));
            }
        }));
        let live_diffs = start_live_diffs(agents.workspace(), targets, &hub, wake_tx.clone())?;
        let _ = rereads.set(live_diffs.handle());
        let stop = Arc::new(AtomicBool::new(false));
        let follower = Follower {
            thread: follower::spawn(followed, wake_rx, hub.clone(), stop.clone())?,
            stop,
            setups,
        };
        let worktrees: Arc<crate::git::OpenWorktrees> = Arc::default();
        let (queue, queue_thread) =
            start_queue(&agents, &hub, live_diffs.handle(), worktrees.clone())?;
        // The queue looks again when what it reads changes, not on a timer.
        let poked = queue.clone();
        hub.on_change(Box::new(move || poked.poke()));
        let senders = Senders {
            hub,
            agents: agents.handle(),
            queue,
            diffs: live_diffs.handle(),
            follower: wake_tx,
        };
        let root = agents.workspace().git.root().to_owned();
        let reload = Arc::new(Mutex::new(plan_reload::PlanReload::new(
            root,
            state_dir,
            in_force,
            senders.clone(),
        )));
        let plan_watch = watch_plan(&plan_file, &reload)?;
        let context = clients::Context {
            hub: senders.hub.clone(),
            agents: senders.agents.clone(),
            queue: senders.queue.clone(),
            screens: agents.screens(),
            uid: crate::link::own_uid(),
            reload: reload.clone(),
            worktrees,
            diffs: senders.diffs.clone(),
        };
        let socket = Socket::serve(socket_path, context)?;
        spawn_signal_thread(senders.agents.clone(), senders.hub.clone())?;
        tracing::info!(pid = std::process::id(), socket = %socket.path.display(), "supervisor started");
        Ok(Self {
            senders,
            agents,
            socket,
            follower,
            plan_watch,
            reload,
            live_diffs,
            queue_thread,
        })
    }

    /// Drives the agents on this thread until they are told to stop, or
    /// until `idle_exit` has passed with no agent running, no dashboard
    /// attached, no command connected and no merge to run.
    pub fn drive(&mut self, idle_exit: Duration) {
        let Self {
            agents, senders, ..
        } = self;
        let mut idle_since = Instant::now();
        // Nothing wakes the step when the last dashboard or command goes:
        // the idle exit is looked at this often at least, unless an agent
        // runs (none can exit then, and an agent's end wakes the step).
        let look = (idle_exit / 2).clamp(Duration::from_secs(1), Duration::from_secs(30));
        while !agents.finished() {
            let longest = if agents.running() > 0 {
                Duration::from_secs(3_600)
            } else {
                look
            };
            agents.step(agents.next_step(longest));
            let hub = &senders.hub;
            if agents.running() > 0
                || hub.clients() > 0
                || hub.commands() > 0
                || senders.queue.busy()
            {
                idle_since = Instant::now();
            } else if idle_since.elapsed() >= idle_exit {
                tracing::info!(
                    ?idle_exit,
                    "no agent running, no dashboard attached, no command waiting and no merge to run; exiting"
                );
                break;
            }
        }
    }

    /// Stops every service, in the order [`Services`] describes.
    pub fn shutdown(self) {
        let Self {
            senders,
            mut agents,
            socket,
            follower,
            plan_watch,
            reload,
            live_diffs,
            queue_thread,
        } = self;
        // Every dashboard hears why, before its connection closes, so it can
        // tell a supervisor that ended from a link that was lost.
        senders.hub.goodbye("ended");
        // A running check stops: its attempt is recorded as interrupted and
        // the integration branch stays where it was.
        senders.queue.stop();
        agents.shutdown();
        socket.close();
        follower.stop.store(true, Ordering::SeqCst);
        // The follower ends once every sender of its wake-ups is gone.
        follower
            .setups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        drop(senders);
        drop(plan_watch);
        drop(reload);
        drop(live_diffs);
        let _ = follower.thread.join();
        // Dropping the agents answers anything the queue still asks them.
        drop(agents);
        let _ = queue_thread.join();
        tracing::info!("supervisor ended");
    }
}

/// The agents, taking the state lock; what happens to them goes to the
/// hub, and a worktree `up` made is read anew by the live diffs.
fn start_agents(
    ws: Workspace,
    hub: &Arc<Hub>,
    rereads: Arc<OnceLock<LiveDiffsHandle>>,
) -> anyhow::Result<Agents> {
    let events = hub.clone();
    let options = AgentsOptions::from_plan(&ws.plan);
    let mut agents = Agents::new(
        ws,
        options,
        Arc::new(move |e| {
            if let crate::domain::Event::WorktreeCreated { slice, .. } = &e
                && let Some(diffs) = rereads.get()
            {
                diffs.reread(slice);
            }
            events.event(e);
        }),
    )
    .context("cannot start the supervisor")?;
    // From here on this process holds the state lock: no other supervisor
    // runs for this repository, so a socket file left behind is stale.
    hub.set_statuses(&agents.statuses());
    let outputs = hub.clone();
    agents.on_output(Arc::new(move |slice| outputs.output(slice)));
    Ok(agents)
}

/// The live-diff engine: diffs go to the hub, changes in a slice's dbt
/// and log folders wake the file follower, moved refs the merge queue.
fn start_live_diffs(
    ws: &Workspace,
    targets: Vec<crate::watch::Target>,
    hub: &Arc<Hub>,
    follower: mpsc::Sender<follower::Wake>,
) -> anyhow::Result<LiveDiffs> {
    let diffs = hub.clone();
    let poke = hub.clone();
    let follower = Mutex::new(follower);
    LiveDiffs::start(
        ws.git.common_dir(),
        crate::git::Branches {
            base: &ws.plan.base,
            integration: &ws.plan.integration,
        },
        targets,
        LiveOptions::default(),
        (
            Arc::new(move |update| diffs.diff(update)),
            Arc::new(move |slice| {
                let _ = follower
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .send(follower::Wake::Files(slice.clone()));
            }),
            // A branch, a worktree's HEAD or its index moved: the queue
            // reads the tips again.
            Arc::new(move || poke.poke()),
        ),
    )
    .context("cannot start watching the worktrees")
}

/// The merge queue on its thread, with the agents' state lock and the
/// mutex every `state.json` writer takes. An approval reads a worktree's
/// uncommitted work among the paths its live diff names (flushed first,
/// so it is as the files are), in the worktrees `status` keeps open.
fn start_queue(
    supervisor: &Agents,
    hub: &Arc<Hub>,
    diffs: LiveDiffsHandle,
    worktrees: Arc<crate::git::OpenWorktrees>,
) -> anyhow::Result<(QueueHandle, std::thread::JoinHandle<()>)> {
    crate::merge_queue::spawn(crate::merge_queue::QueueDeps {
        root: supervisor.workspace().git.root().to_owned(),
        state: supervisor.state_store(),
        board: {
            let hub = hub.clone();
            Arc::new(move || hub.board())
        },
        publish: {
            let hub = hub.clone();
            Arc::new(move |update| hub.publish(update))
        },
        report: {
            let hub = hub.clone();
            Arc::new(move |event| hub.event(event))
        },
        agents: supervisor.handle(),
        dirt: {
            let hub = hub.clone();
            Arc::new(move |slice: &crate::domain::SliceName, worktree: &Path| {
                diffs.flush_slice(slice, clients::DIFF_WAIT);
                let live = hub.board().row(slice).and_then(|row| {
                    (row.worktree == worktree && row.diff_error.is_none())
                        .then(|| row.diff.clone())
                        .flatten()
                });
                match live {
                    // What the live diff never sees is counted too.
                    Some(diff) => {
                        crate::workspace::dirt_from_live(worktree, &diff, &worktrees, true)
                    }
                    None => crate::workspace::whole_status(slice, worktree),
                }
            })
        },
    })
    .context("cannot start the merge queue")
}

/// The plan file is read again whenever it changes (and once now, in case
/// it changed while the services started).
fn watch_plan(
    plan_file: &Path,
    reload: &Arc<Mutex<plan_reload::PlanReload>>,
) -> anyhow::Result<crate::watch::PlanWatch> {
    let reloading = reload.clone();
    let plan_watch = crate::watch::PlanWatch::start(
        plan_file,
        Arc::new(move || {
            reloading
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .reload();
        }),
    )
    .context("cannot watch sliceboard.toml for changes")?;
    reload
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .reload();
    Ok(plan_watch)
}

impl Socket {
    /// Binds the socket, readable and writable by this user only, and
    /// serves it on a runtime of two workers.
    fn serve(path: PathBuf, context: clients::Context) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("socket")
            .enable_all()
            .build()
            .context("cannot start the socket server's runtime")?;
        let listener = bind(&path, &runtime)?;
        let (stop_serving, serving) = tokio::sync::watch::channel(false);
        runtime.spawn(clients::serve(listener, Arc::new(context), serving));
        Ok(Self {
            path,
            runtime,
            stop_serving,
        })
    }

    /// No new client finds this supervisor any more (the socket goes before
    /// the lock, so the next supervisor never loses its own); the last
    /// replies (the one to `stop`) get a moment to reach their clients.
    fn close(self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = self.stop_serving.send(true);
        std::thread::sleep(Duration::from_millis(100));
        self.runtime.shutdown_timeout(Duration::from_millis(500));
    }
}

/// Binds the socket, readable and writable by this user only.
fn bind(
    path: &Path,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<tokio::net::UnixListener> {
    let _ = std::fs::remove_file(path);
    let listener = std::os::unix::net::UnixListener::bind(path)
        .with_context(|| format!("cannot listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot make {} private", path.display()))?;
    listener.set_nonblocking(true)?;
    let _guard = runtime.enter();
    Ok(tokio::net::UnixListener::from_std(listener)?)
}

/// SIGTERM and SIGINT stop the agents and the supervisor; SIGHUP (a
/// terminal that went away) is ignored: surviving it is the point;
/// SIGCHLD reaps the orphans this subreaper inherited.
fn spawn_signal_thread(agents: crate::agents::AgentsHandle, hub: Arc<Hub>) -> anyhow::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGCHLD,
    ])
    .context("cannot watch for signals")?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if signal == signal_hook::consts::SIGCHLD {
                let reaped = crate::os::process_group::reap_orphans();
                if reaped > 0 {
                    tracing::debug!(reaped, "orphans reaped");
                }
                continue;
            }
            if signal == signal_hook::consts::SIGHUP {
                tracing::info!("SIGHUP ignored: the supervisor outlives terminals");
                continue;
            }
            tracing::info!(signal, "stopping on a signal");
            let name = if signal == signal_hook::consts::SIGINT {
                "SIGINT"
            } else {
                "SIGTERM"
            };
            hub.stop_requested(&format!("by {name}"));
            agents.send(Command::Shutdown);
        }
    });
    Ok(())
}

/// The board before any event: lifecycle from state, each slice's journal.
pub fn initial_board(ws: &Workspace, state: &State) -> Board {
    let journal = ws
        .state_dir
        .journal()
        .read_tail(crate::store::JOURNAL_TAIL_BYTES)
        .map(|r| r.entries)
        .unwrap_or_default();
    let slices = ws
        .plan
        .slices
        .iter()
        .map(|spec| {
            let mut row = planned_row(&ws.plan, ws.git.root(), spec, state.slices.get(&spec.name));
            row.setup = crate::workspace::setup_state(ws, &spec.name);
            row.events = journal
                .iter()
                .filter(|e| e.event.slice() == Some(&spec.name))
                .map(|e| EventLine {
                    at: Some(e.at),
                    text: describe(&e.event),
                })
                .collect();
            let keep = crate::domain::board::EVENTS_KEPT;
            if row.events.len() > keep {
                row.events.drain(..row.events.len() - keep);
            }
            row
        })
        .collect::<Vec<_>>();
    // A slice the plan no longer lists stays while its worktree does.
    let mut slices = slices;
    for (name, record) in &state.slices {
        if ws.plan.slice(name.as_str()).is_none() && record.worktree.exists() {
            let mut row = SliceRow::new(name.clone(), record.lifecycle, record.worktree.clone());
            row.removed = true;
            slices.push(row);
        }
    }
    Board {
        repo: ws.git.root().display().to_string(),
        slices,
        queue: Default::default(),
        plan_problem: None,
        guide: std::fs::read_to_string(ws.state_dir.guide_file())
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok()),
    }
}

/// A slice's row as the plan and state describe it, before anything in
/// this run happened to it (also for slices a changed plan adds).
pub(crate) fn planned_row(
    plan: &crate::domain::Plan,
    root: &std::path::Path,
    spec: &crate::domain::plan::SliceSpec,
    record: Option<&crate::store::SliceRecord>,
) -> SliceRow {
    let mut row = SliceRow::new(
        spec.name.clone(),
        record.map_or(Lifecycle::Planned, |r| r.lifecycle),
        record.map_or_else(
            || plan.worktree_for(&spec.name, root),
            |r| r.worktree.clone(),
        ),
    );
    row.follows_logs = !spec.logs.is_empty() || !plan.setup.is_empty();
    row.variant_of = spec.variant_of.clone();
    row.sandbox = plan.box_for(spec);
    if let Some(record) = record {
        row.ports.clone_from(&record.ports);
    }
    row
}
