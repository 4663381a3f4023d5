//! The supervisor process: one per repository, in the background, owning
//! every agent, emulator, watcher and follower, with dashboards and the
//! command line as clients over its socket.
//!
//! This is the composition root: [`run`] takes the state lock (through
//! the [`Agents`]), builds the live-diff engine, the dbt and log
//! follower and the [`hub::Hub`] that holds the board, binds the socket
//! and serves it on tokio ([`clients`]), then drives the supervisor on
//! this thread until `sliceboard stop`, SIGTERM, or a while with no agent
//! running and no dashboard attached. [`launch`] starts it detached.
//!
//! Threads: this one (the supervisor's steps), the tokio runtime's
//! workers (sockets), the live-diff engine, the file follower, and each
//! session's own PTY threads. Blocking work (PTY reads, inotify, git2)
//! never runs on tokio.

pub mod clients;
pub mod follower;
pub mod hub;
pub mod launch;
pub mod plan_reload;
pub mod view_sizes;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use self::hub::Hub;
use crate::agents::{Agents, AgentsOptions};
use crate::domain::board::{Board, EventLine, SliceRow, describe};
use crate::domain::{Command, Lifecycle};
use crate::store::{State, load_state};
use crate::watch::{LiveDiffs, LiveOptions};
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
    ));
    let plan_file = ws.plan_path();
    let root = ws.git.root().to_owned();
    let state_dir = ws.state_dir.clone();
    let in_force = ws.plan.clone();
    let followed = follower::followed(&ws, &state);
    let targets = follower::diff_targets(&ws, &state, &followed);
    let socket_path = ws.state_dir.socket_file();
    let common_dir = ws.git.common_dir().to_owned();
    let base = ws.plan.base.clone();
    let integration = ws.plan.integration.clone();

    let events = hub.clone();
    // Set once the live diffs run: a worktree `up` just made is read anew
    // whole, whatever the watcher saw of it while it was being checked out.
    let rereads: Arc<std::sync::OnceLock<crate::watch::LiveDiffsHandle>> = Arc::default();
    let made = rereads.clone();
    let options = AgentsOptions::from_plan(&ws.plan);
    let mut supervisor = Agents::new(
        ws,
        options,
        Arc::new(move |e| {
            if let crate::domain::Event::WorktreeCreated { slice, .. } = &e
                && let Some(diffs) = made.get()
            {
                diffs.reread(slice);
            }
            events.event(e);
        }),
    )
    .context("cannot start the supervisor")?;
    // From here on this process holds the state lock: no other supervisor
    // runs for this repository, so a socket file left behind is stale.
    hub.set_statuses(&supervisor.statuses());
    let outputs = hub.clone();
    supervisor.on_output(Arc::new(move |slice| outputs.output(slice)));

    let (wake_tx, wake_rx) = mpsc::channel();
    let follow_tx = wake_tx.clone();
    let wake_tx = Mutex::new(wake_tx);
    let diffs = hub.clone();
    let live_diffs = LiveDiffs::start(
        &common_dir,
        crate::git::Branches {
            base: &base,
            integration: &integration,
        },
        targets,
        LiveOptions::default(),
        Arc::new(move |update| diffs.diff(update)),
        Arc::new(move |slice| {
            let _ = wake_tx
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .send(follower::Wake::Files(slice.clone()));
        }),
    )
    .context("cannot start watching the worktrees")?;
    let _ = rereads.set(live_diffs.handle());
    let stop = Arc::new(AtomicBool::new(false));
    let follower = follower::spawn(followed, wake_rx, hub.clone(), stop.clone())?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("socket")
        .enable_all()
        .build()
        .context("cannot start the socket server's runtime")?;
    let listener = bind(&socket_path, &runtime)?;
    let (stop_serving, serving) = tokio::sync::watch::channel(false);
    let (queue, queue_thread) = crate::merge_queue::spawn(crate::merge_queue::QueueDeps {
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
    })
    .context("cannot start the merge queue")?;
    // The plan file is read again whenever it changes (and once now, in
    // case it changed while the services started).
    let reload = Arc::new(Mutex::new(plan_reload::PlanReload::new(
        root,
        state_dir,
        in_force,
        plan_reload::Services {
            hub: hub.clone(),
            supervisor: supervisor.handle(),
            queue: queue.clone(),
            diffs: live_diffs.handle(),
            follower: follow_tx,
        },
    )));
    let reloading = reload.clone();
    let plan_watch = crate::watch::PlanWatch::start(
        &plan_file,
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
    let context = Arc::new(clients::Context {
        plan: {
            let reload = reload.clone();
            Arc::new(move || {
                reload
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .in_force()
                    .clone()
            })
        },
        hub: hub.clone(),
        supervisor: supervisor.handle(),
        queue: queue.clone(),
        screens: supervisor.screens(),
        uid: crate::link::own_uid(),
    });
    runtime.spawn(clients::serve(listener, context, serving));

    // SIGTERM and SIGINT stop the agents and the supervisor; SIGHUP (a
    // terminal that went away) is ignored: surviving it is the point;
    // SIGCHLD reaps the orphans this subreaper inherited.
    let signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGCHLD,
    ])
    .context("cannot watch for signals")?;
    spawn_signal_thread(signals, supervisor.handle(), hub.clone());

    tracing::info!(pid = std::process::id(), socket = %socket_path.display(), "supervisor started");
    let mut idle_since = Instant::now();
    while !supervisor.finished() {
        supervisor.step(supervisor.next_step());
        if supervisor.running() > 0 || hub.clients() > 0 || hub.commands() > 0 || queue.busy() {
            idle_since = Instant::now();
        } else if idle_since.elapsed() >= idle_exit {
            tracing::info!(
                ?idle_exit,
                "no agent running, no dashboard attached, no command waiting and no merge to run; exiting"
            );
            break;
        }
    }
    // Every dashboard hears why, before its connection closes, so it can
    // tell a supervisor that ended from a link that was lost.
    hub.goodbye("ended");
    // A running check stops: its attempt is recorded as interrupted and
    // the integration branch stays where it was.
    queue.stop();
    supervisor.shutdown();
    // No new client finds this supervisor any more (the socket goes before
    // the lock, so the next supervisor never loses its own); the last
    // replies (the one to `stop`) get a moment to reach their clients.
    let _ = std::fs::remove_file(&socket_path);
    let _ = stop_serving.send(true);
    std::thread::sleep(Duration::from_millis(100));
    runtime.shutdown_timeout(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    // The follower ends once every sender of its wake-ups is gone.
    drop(plan_watch);
    drop(reload);
    drop(live_diffs);
    let _ = follower.join();
    // Dropping the supervisor answers anything the queue still asks it.
    drop(supervisor);
    let _ = queue_thread.join();
    tracing::info!("supervisor ended");
    Ok(())
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

fn spawn_signal_thread(
    mut signals: signal_hook::iterator::Signals,
    supervisor: crate::agents::AgentsHandle,
    hub: Arc<Hub>,
) {
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
            supervisor.send(Command::Shutdown);
        }
    });
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
    row
}
