//! The dashboard: one keyboard-driven screen over every slice.
//!
//! Threads: the supervisor runs on its own (it owns the agents), the
//! terminal's input is read on another, the live-diff engine (`watch`)
//! watches every worktree, and a fourth reads dbt's files and the extra logs
//! when the watcher says they changed; all of them send typed messages to
//! this loop, which owns the [`App`] model. The loop drains every pending message, then draws at most
//! once per frame (60 a second at most) and only when something changed.

pub mod app;
pub mod diff_model;
pub mod diff_view;
pub mod highlight;
pub mod keymap;
pub mod view;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crossterm::event::{Event as TermEvent, KeyCode, KeyModifiers, MouseButton, MouseEventKind};

use self::app::{App, Effect, Layout, SliceRow};
use self::keymap::Keymap;
use crate::dbt::DbtWatch;
use crate::dbt::extra_logs::LogFollower;
use crate::domain::dbt_run::DbtRun;
use crate::domain::{AgentStatus, Command, Event, Lifecycle, SliceName};
use crate::session::Size;
use crate::store::{State, load_state};
use crate::supervisor::{Supervisor, SupervisorOptions};
use crate::watch::{DiffUpdate, LiveDiffs, LiveOptions, Target, WatchMode};
use crate::workspace::Workspace;

const FRAME: Duration = Duration::from_millis(16);
/// The dbt follower reads every worktree's files this often even when no
/// file event woke it (a log in a folder nobody watches, a lost event).
const FOLLOW_SAFETY: Duration = Duration::from_secs(10);
/// After a wake-up the follower waits this long, so a burst of writes is
/// read in one go.
const FOLLOW_COALESCE: Duration = Duration::from_millis(50);

enum Msg {
    Input(TermEvent),
    Supervisor(Event),
    Output,
    Diff(DiffUpdate),
    Dbt(SliceName, Option<DbtRun>),
    /// New lines of a slice's dbt log and extra logs.
    Lines {
        slice: SliceName,
        dbt: Vec<String>,
        extra: Vec<String>,
    },
    InputClosed,
}

/// Sends from any thread (std's Sender is Send + Sync).
fn sender(tx: &mpsc::Sender<Msg>) -> Arc<Mutex<mpsc::Sender<Msg>>> {
    Arc::new(Mutex::new(tx.clone()))
}

fn send(tx: &Mutex<mpsc::Sender<Msg>>, msg: Msg) {
    let _ = tx
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .send(msg);
}

/// Runs the dashboard until the operator quits.
pub fn run(ws: Workspace) -> anyhow::Result<()> {
    let keymap = Keymap::load(Keymap::config_path().as_deref()).map_err(anyhow::Error::msg)?;
    init_logging(&ws);
    let state = load_state(&ws.state_dir.state_file())?;
    let rows = initial_rows(&ws, &state);
    let repo = ws.git.root().display().to_string();
    let ownership = ws.plan.ownership().ok();
    let followed: Vec<Followed> = rows
        .iter()
        .map(|r| Followed {
            slice: r.name.clone(),
            dbt_dir: r.worktree.join(&ws.plan.dbt.project_dir),
            worktree: r.worktree.clone(),
            log_globs: ws
                .plan
                .slice(r.name.as_str())
                .map(|s| s.logs.clone())
                .unwrap_or_default(),
        })
        .collect();
    let targets = diff_targets(&ws, &state, &followed);

    let (tx, rx) = mpsc::channel::<Msg>();
    let (wake_tx, wake_rx) = mpsc::channel::<SliceName>();
    let diffs_tx = sender(&tx);
    let wake_tx = Mutex::new(wake_tx);
    let live_diffs = LiveDiffs::start(
        ws.git.common_dir(),
        &ws.plan.base,
        targets,
        LiveOptions::default(),
        Arc::new(move |update| send(&diffs_tx, Msg::Diff(update))),
        Arc::new(move |slice| {
            let _ = wake_tx
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .send(slice.clone());
        }),
    )
    .context("cannot start watching the worktrees")?;
    let events = sender(&tx);
    let options = SupervisorOptions::from_plan(&ws.plan);
    let mut supervisor = Supervisor::new(
        ws,
        options,
        Arc::new(move |e| send(&events, Msg::Supervisor(e))),
    )?;
    let outputs = sender(&tx);
    supervisor.on_output(Arc::new(move |_| send(&outputs, Msg::Output)));
    let handle = supervisor.handle_sender();
    let screens = supervisor.screens();
    let stop = Arc::new(AtomicBool::new(false));

    let supervisor_stop = stop.clone();
    let supervisor_thread = std::thread::Builder::new()
        .name("supervisor".into())
        .spawn(move || {
            while !supervisor_stop.load(Ordering::SeqCst) {
                supervisor.step(Duration::from_millis(100));
            }
            // Dropping it stops every agent and waits for them.
            drop(supervisor);
        })?;
    spawn_file_follower(followed, wake_rx, sender(&tx), stop.clone());
    spawn_input_reader(sender(&tx), stop.clone());

    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ])
    .context("cannot watch for SIGTERM")?;
    let signal_flag = Arc::new(AtomicBool::new(false));
    {
        let flag = signal_flag.clone();
        let wake = sender(&tx);
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                flag.store(true, Ordering::SeqCst);
                send(&wake, Msg::InputClosed);
            }
        });
    }

    let mut app = App::new(repo, rows, keymap);
    app.ownership = ownership;
    // A panic's report goes to the log file too; ratatui's hook (installed
    // by init, around this one) restores the terminal before either runs.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!(%info, backtrace = %std::backtrace::Backtrace::force_capture(), "panic");
        previous(info);
    }));
    let mut terminal = ratatui::init();
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture);
    let result = (|| -> anyhow::Result<()> {
        let mut dirty = true;
        let mut last_draw = Instant::now() - FRAME;
        let mut pane_sizes: BTreeMap<SliceName, Size> = BTreeMap::new();
        loop {
            // A program that starts a synchronized update and stalls must
            // still be drawn when the update times out.
            let mut sync_due = None;
            for screen in screens
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .values()
            {
                match screen.sync_deadline() {
                    Some(due) if due <= Instant::now() => {
                        // Applies the timed-out update; drawn below.
                        screen.with_screen(|_| ());
                        dirty = true;
                    }
                    Some(due) => sync_due = Some(sync_due.map_or(due, |d: Instant| d.min(due))),
                    None => {}
                }
            }
            let mut wait = if dirty {
                FRAME.saturating_sub(last_draw.elapsed())
            } else {
                Duration::from_secs(1)
            };
            if let Some(due) = sync_due {
                wait = wait
                    .min(due.saturating_duration_since(Instant::now()) + Duration::from_millis(1));
            }
            let mut quit = false;
            if let Ok(first) = rx.recv_timeout(wait) {
                let mut next = Some(first);
                while let Some(msg) = next {
                    match msg {
                        Msg::Input(TermEvent::Key(key)) => {
                            if key.code == KeyCode::Char('z')
                                && key.modifiers.contains(KeyModifiers::CONTROL)
                                && app.mode == app::Mode::Board
                            {
                                suspend(&mut terminal)?;
                            }
                            for effect in app.on_key(key) {
                                match apply_effect(effect, &handle, &screens) {
                                    Applied::Quit => quit = true,
                                    Applied::Say(message) => app.message = Some(message),
                                    Applied::Done => {}
                                }
                            }
                        }
                        Msg::Input(TermEvent::Mouse(mouse)) => {
                            on_mouse(&mut app, mouse, &screens, terminal.size()?.width);
                        }
                        Msg::Input(_) | Msg::Output => {}
                        Msg::Supervisor(event) => app.apply(&event),
                        Msg::Lines { slice, dbt, extra } => {
                            if let Some(row) = app.slices.iter_mut().find(|r| r.name == slice) {
                                SliceRow::append(&mut row.dbt_log, dbt);
                                SliceRow::append(&mut row.logs, extra);
                            }
                        }
                        Msg::Diff(update) => app.apply_diff(update),
                        Msg::Dbt(slice, run) => {
                            if let Some(row) = app.slices.iter_mut().find(|r| r.name == slice) {
                                row.dbt = run;
                            }
                        }
                        Msg::InputClosed => quit = true,
                    }
                    dirty = true;
                    next = rx.try_recv().ok();
                }
            }
            if quit || signal_flag.load(Ordering::SeqCst) {
                return Ok(());
            }
            if dirty && last_draw.elapsed() >= FRAME {
                let visible = screens
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone();
                let mut drawn = BTreeMap::new();
                terminal.draw(|frame| drawn = view::draw(frame, &app, &visible))?;
                for (slice, size) in drawn {
                    if pane_sizes.get(&slice) != Some(&size) {
                        handle.send(Command::ResizeAgent {
                            slice: slice.clone(),
                            cols: size.cols,
                            rows: size.rows,
                        });
                        pane_sizes.insert(slice, size);
                    }
                }
                last_draw = Instant::now();
                dirty = false;
            }
        }
    })();
    // Stop the agents before touching the terminal again: after a hangup
    // every write to it fails, and nothing may stand between us and
    // stopping them.
    stop.store(true, Ordering::SeqCst);
    drop(live_diffs);
    let _ = supervisor_thread.join();
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
    let _ = ratatui::try_restore();
    result
}

enum Applied {
    Done,
    Quit,
    /// Something for the status line.
    Say(String),
}

/// Carries out an effect.
fn apply_effect(
    effect: Effect,
    handle: &crate::supervisor::SupervisorHandle,
    screens: &crate::supervisor::Screens,
) -> Applied {
    let screen = |slice: &SliceName| {
        screens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(slice)
            .cloned()
    };
    match effect {
        Effect::Send(command) => handle.send(command),
        Effect::Key { slice, key, mods } => {
            let modes = screens
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&slice)
                .map(|s| s.with_screen(|s| s.input_modes()))
                .unwrap_or_default();
            handle.send(Command::SendInput {
                slice,
                bytes: crate::session::encode_key(key, mods, modes),
            });
        }
        Effect::Scroll { slice, lines } => {
            if let Some(screen) = screen(&slice) {
                screen.with_screen(|s| s.scroll(lines));
            }
        }
        Effect::Search { slice, query, nth } => {
            let Some(screen) = screen(&slice) else {
                return Applied::Say(format!("{slice} has no terminal output to search"));
            };
            return Applied::Say(screen.with_screen(|s| {
                let hits = s.search(&query);
                let Some(offset) = hits.get(nth % hits.len().max(1)) else {
                    return format!("{query:?} not found in {slice}'s terminal");
                };
                s.scroll_to_bottom();
                s.scroll(*offset as i32);
                format!(
                    "{query:?}: match {} of {} (n: next, pgdn: back)",
                    nth % hits.len() + 1,
                    hits.len()
                )
            }));
        }
        Effect::Quit => return Applied::Quit,
    }
    Applied::Done
}

fn on_mouse(
    app: &mut App,
    mouse: crossterm::event::MouseEvent,
    screens: &crate::supervisor::Screens,
    width: u16,
) {
    let selected = app.selected().map(|r| r.name.clone());
    let scroll = |lines: i32| {
        if let Some(screen) = selected.as_ref().and_then(|s| {
            screens
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(s)
                .cloned()
        }) {
            screen.with_screen(|s| s.scroll(lines));
        }
    };
    let tab_scroll = app.layout == Layout::Focus && app.tab != app::Tab::Terminal;
    match mouse.kind {
        // The wheel scrolls what the tab shows, like PgUp/PgDn.
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown if tab_scroll => {
            let up = matches!(mouse.kind, MouseEventKind::ScrollUp);
            app.scroll_tab(if up { -3 } else { 3 });
        }
        MouseEventKind::ScrollUp => scroll(3),
        MouseEventKind::ScrollDown => scroll(-3),
        MouseEventKind::Down(MouseButton::Left)
            if app.layout == Layout::Focus
                && app.tab == app::Tab::Diff
                && let Some(index) = app
                    .diff_list
                    .get()
                    .and_then(|list| list.item_at(mouse.column, mouse.row)) =>
        {
            app.select_file(index);
        }
        MouseEventKind::Down(MouseButton::Left) if app.layout == Layout::Focus => {
            let board_width = (width / 3).clamp(24, 44);
            if mouse.column < board_width && mouse.row >= 2 {
                let index = usize::from(mouse.row - 2) / 3;
                app.select_slice(index);
            } else if mouse.row == 1 {
                // The tab bar: titles separated by " | ".
                let mut x = board_width + 1;
                for tab in app::Tab::ALL {
                    let end = x + tab.title().len() as u16 + 2;
                    if mouse.column >= x && mouse.column < end {
                        app.tab = tab;
                    }
                    x = end + 1;
                }
            }
        }
        _ => {}
    }
}

/// Ctrl-Z: give the terminal back, stop, and take it again on `fg`.
fn suspend(terminal: &mut ratatui::DefaultTerminal) -> anyhow::Result<()> {
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
    ratatui::restore();
    let _ = std::io::stdout().flush();
    // SAFETY: raising SIGTSTP on ourselves stops the process as the shell
    // expects; no memory is involved.
    unsafe {
        libc::raise(libc::SIGTSTP);
    }
    *terminal = ratatui::init();
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture);
    terminal.clear()?;
    Ok(())
}

fn spawn_input_reader(tx: Arc<Mutex<mpsc::Sender<Msg>>>, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match crossterm::event::poll(Duration::from_millis(200)) {
                Ok(true) => match crossterm::event::read() {
                    Ok(event) => send(&tx, Msg::Input(event)),
                    Err(_) => break,
                },
                Ok(false) => {}
                Err(_) => break,
            }
        }
        send(&tx, Msg::InputClosed);
    });
}

/// What the file follower watches for one slice.
struct Followed {
    slice: SliceName,
    dbt_dir: PathBuf,
    worktree: PathBuf,
    log_globs: Vec<String>,
}

/// What the live-diff engine watches for each slice: its worktree, and
/// dbt's and the plan's log folders for the follower.
fn diff_targets(ws: &Workspace, state: &State, followed: &[Followed]) -> Vec<Target> {
    let repo = crate::domain::plan::repo_name(ws.git.root());
    followed
        .iter()
        .map(|f| {
            let record = state.slices.get(&f.slice);
            let mut aux_dirs = vec![f.dbt_dir.join("logs"), f.dbt_dir.join("target")];
            aux_dirs.extend(
                LogFollower::new(&f.worktree, &f.log_globs)
                    .folders()
                    .map(std::path::Path::to_owned),
            );
            Target {
                slice: f.slice.clone(),
                worktree: f.worktree.clone(),
                branch: record
                    .map_or_else(|| ws.plan.branch_for(&f.slice, &repo), |r| r.branch.clone()),
                fallback_base: record.map(|r| r.base_commit.clone()),
                aux_dirs,
            }
        })
        .collect()
}

/// Reads dbt's files and the extra logs of the slices the watcher names,
/// and of every slice now and then in case an event never came.
fn spawn_file_follower(
    followed: Vec<Followed>,
    wake: mpsc::Receiver<SliceName>,
    tx: Arc<Mutex<mpsc::Sender<Msg>>>,
    stop: Arc<AtomicBool>,
) {
    std::thread::spawn(move || {
        let mut watches: Vec<(SliceName, DbtWatch, LogFollower)> = followed
            .into_iter()
            .map(|f| {
                let logs = LogFollower::new(&f.worktree, &f.log_globs);
                (f.slice, DbtWatch::new(&f.dbt_dir), logs)
            })
            .collect();
        // Everything once at the start.
        let mut woken: Option<std::collections::BTreeSet<SliceName>> = None;
        while !stop.load(Ordering::SeqCst) {
            for (name, watch, logs) in &mut watches {
                if woken.as_ref().is_some_and(|w| !w.contains(name)) {
                    continue;
                }
                if watch.poll() {
                    send(&tx, Msg::Dbt(name.clone(), watch.last_run()));
                }
                let dbt = watch.take_log_lines();
                let extra = logs.poll();
                if !dbt.is_empty() || !extra.is_empty() {
                    send(
                        &tx,
                        Msg::Lines {
                            slice: name.clone(),
                            dbt,
                            extra,
                        },
                    );
                }
            }
            woken = match wake.recv_timeout(FOLLOW_SAFETY) {
                Ok(first) => {
                    std::thread::sleep(FOLLOW_COALESCE);
                    let mut set = std::collections::BTreeSet::from([first]);
                    set.extend(wake.try_iter());
                    Some(set)
                }
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
        }
    });
}

/// The board before any event: lifecycle from state, the slice's journal.
fn initial_rows(ws: &Workspace, state: &State) -> Vec<SliceRow> {
    let journal = ws
        .state_dir
        .journal()
        .read()
        .map(|r| r.entries)
        .unwrap_or_default();
    ws.plan
        .slices
        .iter()
        .map(|spec| {
            let record = state.slices.get(&spec.name);
            let events = journal
                .iter()
                .filter(|e| {
                    serde_json::to_value(&e.event)
                        .ok()
                        .and_then(|v| v["slice"].as_str().map(str::to_owned))
                        .as_deref()
                        == Some(spec.name.as_str())
                })
                .map(|e| format!("{} {}", e.at.strftime("%H:%M:%S"), app::describe(&e.event)))
                .collect();
            SliceRow {
                name: spec.name.clone(),
                lifecycle: record.map_or(Lifecycle::Planned, |r| r.lifecycle),
                status: AgentStatus::NotStarted,
                activity: None,
                dbt: None,
                events,
                dbt_log: Default::default(),
                logs: Default::default(),
                follows_logs: !spec.logs.is_empty(),
                diff: None,
                diff_mode: WatchMode::Missing,
                diff_error: None,
                flags: Vec::new(),
                worktree: record.map_or_else(
                    || ws.plan.worktree_for(&spec.name, ws.git.root()),
                    |r| r.worktree.clone(),
                ),
            }
        })
        .collect()
}

/// Tracing to `<state dir>/sliceboard.log`; never to the screen.
fn init_logging(ws: &Workspace) {
    let path = ws.state_dir.log_file();
    let _ = ws.state_dir.ensure();
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .try_init();
}
