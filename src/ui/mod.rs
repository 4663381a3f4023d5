//! The dashboard: a client of the repository's supervisor, drawing the
//! board and the panes it sends, and sending the operator's commands.
//!
//! Threads: the terminal's input is read on one, the supervisor's messages
//! on another, and a third writes to the supervisor; all of them feed this
//! loop, which owns the [`App`] model. The loop drains every pending
//! message, then draws at most once per frame (60 a second at most) and
//! only when something changed. After each draw it tells the supervisor
//! which panes it shows (and resizes agents to the space they got), so
//! only those panes' frames come back. Quitting detaches: the agents go on.
//! A supervisor that ends says goodbye (and why) before it closes; a
//! connection that closes without one was lost, and one silent for a few
//! heartbeats shows as stalled.

pub mod activity_view;
pub mod app;
pub mod board_view;
pub mod dbt_view;
pub mod diff_model;
pub mod diff_view;
pub mod help_view;
pub mod highlight;
pub mod keymap;
pub mod mouse;
pub mod queue_view;
pub mod report;
mod variants;
pub mod view;

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crossterm::event::{Event as TermEvent, KeyCode, KeyModifiers};

use self::app::{App, Effect};
use self::keymap::Keymap;
use crate::domain::pane::PaneWant;
use crate::domain::wire::{ClientMsg, HEARTBEAT, ServerMsg};
use crate::domain::{Command, SliceName};
use crate::link::{Link, LinkReader, write_frame};
use crate::session::Size;

const FRAME: Duration = Duration::from_millis(16);

enum Msg {
    Input(TermEvent),
    Server(Box<ServerMsg>),
    /// The supervisor said goodbye: it ends, and why.
    Goodbye(String),
    /// The connection ended without a goodbye: how.
    Lost(String),
    InputClosed,
}

/// How a dashboard session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The operator left; the supervisor and its agents go on.
    Detached,
    /// The supervisor said it ends (stopped, by whom): why.
    Stopped(String),
    /// The connection closed without a goodbye (ssh died, the proxy or
    /// the supervisor was killed): the supervisor may still run.
    Lost(String),
}

/// How long the supervisor may stay silent (it sends a heartbeat every
/// [`HEARTBEAT`]) before the dashboard shows the link as stalled.
const STALLED: Duration = Duration::from_secs(3 * HEARTBEAT.as_secs());

/// What a request is waiting for.
enum Pending {
    /// A command; `asked` says what the operator asked for, when the
    /// footer should report on it.
    Command {
        asked: Option<app::Asked>,
    },
    Search {
        query: String,
        nth: usize,
    },
}

fn send(tx: &Mutex<mpsc::Sender<Msg>>, msg: Msg) {
    let _ = tx
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .send(msg);
}

/// Runs the dashboard on a connected supervisor until the operator leaves
/// or the supervisor goes. Tracing goes to `log_file`.
pub fn run(link: Link, log_file: &Path) -> anyhow::Result<Ended> {
    let keymap = Keymap::load(Keymap::config_path().as_deref()).map_err(anyhow::Error::msg)?;
    crate::log_file::init(log_file);
    let (reader, writer, welcome) = link.split();
    let board = welcome
        .board
        .context("the supervisor sent no board; is it a dashboard connection?")?;
    let (tx, rx) = mpsc::channel::<Msg>();
    let tx = Arc::new(Mutex::new(tx));
    let outbox = spawn_writer(writer);
    spawn_reader(reader, tx.clone());
    let stop = Arc::new(AtomicBool::new(false));
    spawn_input_reader(tx.clone(), stop.clone());
    let signal_flag = watch_signals(tx.clone())?;

    let mut app = App::new(board, keymap);
    // A panic's report goes to the log file too; ratatui's hook (installed
    // by init, around this one) restores the terminal before either runs.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // ratatui's hook restored the screen; mouse and paste modes are ours.
        let _ = crossterm::execute!(
            std::io::stdout(),
            crossterm::event::DisableMouseCapture,
            crossterm::event::DisableBracketedPaste
        );
        tracing::error!(%info, backtrace = %std::backtrace::Backtrace::force_capture(), "panic");
        previous(info);
    }));
    let mut terminal = ratatui::init();
    let _ = crossterm::execute!(
        std::io::stdout(),
        crossterm::event::EnableMouseCapture,
        crossterm::event::EnableBracketedPaste
    );
    let mut client = Client {
        outbox,
        next_id: 1,
        pending: HashMap::new(),
    };
    let result = (|| -> anyhow::Result<Ended> {
        let mut dirty = true;
        let mut last_draw = Instant::now() - FRAME;
        let mut sizes: BTreeMap<SliceName, Size> = BTreeMap::new();
        let mut shown: Vec<PaneWant> = Vec::new();
        let mut last_heard = Instant::now();
        loop {
            let wait = if dirty {
                FRAME.saturating_sub(last_draw.elapsed())
            } else {
                Duration::from_secs(1)
            };
            let mut ended = None;
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
                                if client.apply(effect, &mut app) {
                                    ended = Some(Ended::Detached);
                                }
                            }
                        }
                        Msg::Input(TermEvent::Paste(text)) => {
                            for effect in app.on_paste(text) {
                                client.apply(effect, &mut app);
                            }
                        }
                        Msg::Input(TermEvent::Mouse(mouse)) => {
                            let width = terminal.size()?.width;
                            for effect in mouse::on_mouse(&mut app, mouse, width) {
                                client.apply(effect, &mut app);
                            }
                        }
                        Msg::Input(_) => {}
                        Msg::Server(message) => {
                            last_heard = Instant::now();
                            client.receive(*message, &mut app);
                        }
                        Msg::Goodbye(why) => ended = Some(Ended::Stopped(why)),
                        Msg::Lost(why) => ended = Some(Ended::Lost(why)),
                        Msg::InputClosed => ended = Some(Ended::Detached),
                    }
                    dirty = true;
                    next = rx.try_recv().ok();
                }
            }
            dirty |= app.tick(Instant::now());
            let stalled = Some(last_heard.elapsed())
                .filter(|silent| *silent >= STALLED)
                .map(|silent| silent.as_secs());
            if stalled != app.link_stalled {
                app.link_stalled = stalled;
                dirty = true;
            }
            if signal_flag.load(Ordering::SeqCst) {
                ended = Some(Ended::Detached);
            }
            if let Some(ended) = ended {
                return Ok(ended);
            }
            if dirty && last_draw.elapsed() >= FRAME {
                let mut drawn = BTreeMap::new();
                terminal.draw(|frame| drawn = view::draw(frame, &app))?;
                client.follow(&app, &drawn, &mut sizes, &mut shown);
                last_draw = Instant::now();
                dirty = false;
            }
        }
    })();
    stop.store(true, Ordering::SeqCst);
    let _ = crossterm::execute!(
        std::io::stdout(),
        crossterm::event::DisableMouseCapture,
        crossterm::event::DisableBracketedPaste
    );
    let _ = ratatui::try_restore();
    result
}

/// The dashboard's side of the connection.
struct Client {
    outbox: mpsc::Sender<ClientMsg>,
    next_id: u64,
    pending: HashMap<u64, Pending>,
}

impl Client {
    fn send(&self, message: ClientMsg) {
        let _ = self.outbox.send(message);
    }

    fn request(&mut self, command: Command, pending: Pending) {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(id, pending);
        self.send(ClientMsg::Request { id, command });
    }

    /// Carries out an effect; true when the operator leaves.
    fn apply(&mut self, effect: Effect, app: &mut App) -> bool {
        match effect {
            Effect::Send(command) => {
                let asked = app::Asked::of(&command);
                self.request(command, Pending::Command { asked });
            }
            Effect::Key { slice, key, mods } => {
                let modes = app.panes.get(&slice).map(|p| p.modes).unwrap_or_default();
                let bytes = crate::session::encode_key(key, mods, modes);
                self.request(
                    Command::SendInput { slice, bytes },
                    Pending::Command { asked: None },
                );
            }
            Effect::Paste { slice, text } => {
                let modes = app.panes.get(&slice).map(|p| p.modes).unwrap_or_default();
                let bytes = crate::session::encode_paste(&text, modes);
                self.request(
                    Command::SendInput { slice, bytes },
                    Pending::Command { asked: None },
                );
            }
            Effect::Search { slice, query, nth } => {
                let id = self.next_id;
                self.next_id += 1;
                self.pending.insert(
                    id,
                    Pending::Search {
                        query: query.clone(),
                        nth,
                    },
                );
                self.send(ClientMsg::Search { id, slice, query });
            }
            Effect::Quit => return true,
        }
        false
    }

    fn receive(&mut self, message: ServerMsg, app: &mut App) {
        match message {
            ServerMsg::Update { update } => app.apply(update),
            ServerMsg::Resync { board } => app.resync(board),
            ServerMsg::Pane { frame } => app.apply_pane(frame),
            ServerMsg::Reply { id, result } => {
                // Replies nobody waits for (resizes) say nothing.
                let Some(Pending::Command { asked }) = self.pending.remove(&id) else {
                    return;
                };
                app.reply(result, asked);
            }
            ServerMsg::Found { id, slice, hits } => {
                let Some(Pending::Search { query, nth }) = self.pending.remove(&id) else {
                    return;
                };
                app.message = Some(match hits.get(nth % hits.len().max(1)) {
                    None => format!(
                        "{query:?} not found in {} terminal",
                        crate::domain::possessive(&slice)
                    ),
                    Some(offset) => {
                        app.scroll.insert(slice, *offset);
                        format!(
                            "{query:?}: match {} of {} ({}: next, {}: back)",
                            nth % hits.len() + 1,
                            hits.len(),
                            app.keymap.key(keymap::Action::SearchNext),
                            app.keymap.key(keymap::Action::ScrollDown),
                        )
                    }
                });
            }
            ServerMsg::Welcome { .. }
            | ServerMsg::Refused { .. }
            | ServerMsg::Heartbeat
            | ServerMsg::Goodbye { .. } => {}
        }
    }

    /// After a draw: asks for the panes drawn (when that changed) and
    /// resizes agents whose pane changed size.
    fn follow(
        &self,
        app: &App,
        drawn: &BTreeMap<SliceName, Size>,
        sizes: &mut BTreeMap<SliceName, Size>,
        shown: &mut Vec<PaneWant>,
    ) {
        let wanted = app.wanted(drawn);
        if &wanted != shown {
            // A pane shown again is sized again: the supervisor counts a
            // size only from a dashboard that shows the pane.
            for want in &wanted {
                if !shown.iter().any(|s| s.slice == want.slice) {
                    sizes.remove(&want.slice);
                }
            }
            self.send(ClientMsg::View {
                panes: wanted.clone(),
            });
            *shown = wanted;
        }
        // Out of the grid, agents it made small get this dashboard's pane
        // size back (the supervisor keeps a size another dashboard shows).
        let mut restore = BTreeMap::new();
        if app.layout != app::Layout::Grid
            && let [(_, pane)] = drawn.iter().collect::<Vec<_>>()[..]
        {
            for (slice, size) in sizes.iter() {
                if !drawn.contains_key(slice) && size != pane {
                    restore.insert(slice.clone(), *pane);
                }
            }
        }
        // Every drawn pane, started or not: an agent starts at the size of
        // the pane it will be drawn in.
        for (slice, size) in drawn.iter().chain(&restore) {
            if sizes.get(slice) != Some(size) {
                // Nobody waits for this reply.
                self.send(ClientMsg::Request {
                    id: 0,
                    command: Command::ResizeAgent {
                        slice: slice.clone(),
                        cols: size.cols,
                        rows: size.rows,
                    },
                });
                sizes.insert(slice.clone(), *size);
            }
        }
    }
}

/// Writes what the loop sends, so a supervisor that reads slowly never
/// holds up drawing.
fn spawn_writer(mut writer: Box<dyn std::io::Write + Send>) -> mpsc::Sender<ClientMsg> {
    let (tx, rx) = mpsc::channel::<ClientMsg>();
    std::thread::spawn(move || {
        for message in rx {
            if write_frame(&mut writer, &message).is_err() {
                return;
            }
        }
    });
    tx
}

fn spawn_reader(mut reader: LinkReader, tx: Arc<Mutex<mpsc::Sender<Msg>>>) {
    std::thread::spawn(move || {
        loop {
            match reader.receive() {
                Ok(Some(ServerMsg::Goodbye { reason })) => {
                    send(&tx, Msg::Goodbye(reason));
                    return;
                }
                Ok(Some(message)) => send(&tx, Msg::Server(Box::new(message))),
                Ok(None) => {
                    send(
                        &tx,
                        Msg::Lost("the connection closed without a goodbye".into()),
                    );
                    return;
                }
                Err(err) => {
                    send(&tx, Msg::Lost(err.to_string()));
                    return;
                }
            }
        }
    });
}

/// SIGTERM, SIGHUP, SIGINT and SIGQUIT end the dashboard cleanly (the
/// terminal restored); the agents are the supervisor's and go on.
fn watch_signals(tx: Arc<Mutex<mpsc::Sender<Msg>>>) -> anyhow::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT, SIGQUIT])
        .context("cannot watch for signals")?;
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            set.store(true, Ordering::SeqCst);
            send(&tx, Msg::InputClosed);
        }
    });
    Ok(flag)
}

/// Ctrl-Z: give the terminal back, stop, and take it again on `fg`.
fn suspend(terminal: &mut ratatui::DefaultTerminal) -> anyhow::Result<()> {
    let _ = crossterm::execute!(
        std::io::stdout(),
        crossterm::event::DisableMouseCapture,
        crossterm::event::DisableBracketedPaste
    );
    ratatui::restore();
    let _ = std::io::stdout().flush();
    crate::os::suspend_self();
    // Not ratatui::init again: that would stack another panic hook.
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
    let _ = crossterm::execute!(
        std::io::stdout(),
        crossterm::event::EnableMouseCapture,
        crossterm::event::EnableBracketedPaste
    );
    terminal.clear()?;
    Ok(())
}

fn spawn_input_reader(tx: Arc<Mutex<mpsc::Sender<Msg>>>, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        // Blocks until input comes: an idle dashboard wakes for nothing.
        while !stop.load(Ordering::SeqCst) {
            match crossterm::event::read() {
                Ok(event) => send(&tx, Msg::Input(event)),
                Err(_) => break,
            }
        }
        send(&tx, Msg::InputClosed);
    });
}
