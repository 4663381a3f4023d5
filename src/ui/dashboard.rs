//! The dashboard's loop state: the [`App`] model, the terminal it draws on
//! (its modes held by a [`TerminalModes`] guard) and the connection's
//! side of the requests ([`Client`]). [`Dashboard::handle`] applies one
//! message from the inbox, [`Dashboard::draw_if_dirty`] draws at most once
//! per [`FRAME`] and only when something changed, then tells the
//! supervisor which panes are shown (`View`) and at what sizes.
//!
//! Owns the model and the terminal while the dashboard runs; it never
//! blocks on the supervisor (sends go through the writer thread) and
//! never spawns, waits or runs git.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use super::Ended;
use super::app::{self, App, Effect};
use super::inbox::Msg;
use super::terminal::TerminalModes;
use super::{mouse, view};
use crate::domain::pane::PaneWant;
use crate::domain::wire::{ClientMsg, HEARTBEAT, ServerMsg};
use crate::domain::{Command, SliceName};
use crate::session::Size;

/// The shortest time between two draws.
pub const FRAME: Duration = Duration::from_millis(16);

/// How long the supervisor may stay silent (it sends a heartbeat every
/// [`HEARTBEAT`]) before the dashboard shows the link as stalled.
const STALLED: Duration = Duration::from_secs(3 * HEARTBEAT.as_secs());

/// The dashboard between two messages.
pub struct Dashboard {
    app: App,
    client: Client,
    terminal: Terminal<CrosstermBackend<Out>>,
    /// Dropped after the terminal, so the modes go last.
    modes: TerminalModes,
    dirty: bool,
    /// Draw at once, not a frame's time after the last draw: a pane's
    /// first frame came, which is what attaching waits for.
    urgent: bool,
    last_draw: Instant,
    /// The size each agent was last asked to take.
    sizes: BTreeMap<SliceName, Size>,
    /// The panes the supervisor was last told this dashboard shows.
    shown: Vec<PaneWant>,
    last_heard: Instant,
    /// Whether the supervisor sends heartbeats (a link over ssh): only
    /// then does silence mean a stalled link.
    pub heartbeats: bool,
    /// The wall clock's minute at the last draw: shown times move once a
    /// minute.
    drawn_minute: u64,
    /// The window title last set.
    title: String,
    /// Stands the input reader aside while the operator's editor runs.
    gate: super::inbox::InputGate,
}

/// The window's title: `sliceboard: 2 waiting · 5 busy`, so a glance at
/// a tab or a task bar says whether anyone waits.
pub fn window_title(board: &crate::domain::board::Board) -> String {
    use crate::domain::{Activity, AgentStatus};
    let count = |activity| {
        board
            .slices
            .iter()
            .filter(|r| r.status == AgentStatus::Running && r.activity == Some(activity))
            .count()
    };
    let parts: Vec<String> = [
        (count(Activity::Waiting), "waiting"),
        (count(Activity::Busy), "busy"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, word)| format!("{n} {word}"))
    .collect();
    if parts.is_empty() {
        "sliceboard".to_owned()
    } else {
        format!("sliceboard: {}", parts.join(" · "))
    }
}

/// Where frames are written: stdout, with a buffer that takes a whole
/// frame, so a frame reaches the terminal in one write (ratatui flushes
/// after each), not in stdout's 1 KiB pieces.
type Out = std::io::BufWriter<std::io::Stdout>;

fn backend() -> CrosstermBackend<Out> {
    CrosstermBackend::new(std::io::BufWriter::with_capacity(
        FRAME_BUFFER,
        std::io::stdout(),
    ))
}

/// Bytes a frame is written in at most: a full 200x50 screen of coloured
/// text is 40–60 KiB.
const FRAME_BUFFER: usize = 128 * 1024;

impl Dashboard {
    /// A new terminal on a blank screen, so the next draw repaints it all;
    /// not `Terminal::clear`, which asks the terminal where its cursor is
    /// while the input thread reads the answer away.
    fn take_terminal_again(&mut self) -> anyhow::Result<()> {
        crossterm::execute!(
            std::io::stdout(),
            crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
        )?;
        self.terminal = Terminal::new(backend())?;
        self.dirty = true;
        self.title.clear();
        Ok(())
    }

    /// `e`: the operator's editor (`$VISUAL`, `$EDITOR`, else `vi`) on
    /// `path` in the slice's worktree at `line`, with the terminal given
    /// over (modes off, the input reader aside) until it exits, as lazygit
    /// does.
    fn edit(
        &mut self,
        worktree: &std::path::Path,
        path: &str,
        line: Option<u32>,
    ) -> anyhow::Result<()> {
        let file = worktree.join(path);
        if !file.exists() {
            self.app.message = Some(format!(
                "{} is not on this machine (a remote dashboard, or the file was deleted)",
                file.display()
            ));
            self.dirty = true;
            return Ok(());
        }
        let editor = ["VISUAL", "EDITOR"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
            .unwrap_or_else(|| "vi".to_owned());
        let mut args = Vec::new();
        if let Some(line) = line {
            args.push(format!("+{line}"));
        }
        args.push(path.to_owned());
        self.gate.close();
        let ran = self.modes.hand_over(|| {
            std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("{editor} \"$@\""))
                .arg("sh")
                .args(&args)
                .current_dir(worktree)
                .status()
        });
        self.gate.open();
        self.take_terminal_again()?;
        self.app.message = Some(match ran? {
            Ok(status) if status.success() => format!("back from {editor} {}", args.join(" ")),
            Ok(status) => format!("{editor} ended: {status}"),
            Err(err) => format!("cannot run {editor}: {err}"),
        });
        Ok(())
    }

    /// Takes the terminal (every mode on) for `app`, sending through
    /// `outbox`.
    pub fn new(
        app: App,
        outbox: mpsc::Sender<ClientMsg>,
        gate: super::inbox::InputGate,
    ) -> anyhow::Result<Self> {
        // The selected slice's pane is asked for before anything is drawn:
        // its first frame, what attaching waits for, then comes while the
        // terminal is set up and the board drawn. The first draw asks for
        // whatever it really shows.
        let mut shown = Vec::new();
        if let Some(row) = app.selected()
            && app.tab == app::Tab::Terminal
            && app.layout != app::Layout::Grid
        {
            shown.push(PaneWant {
                slice: row.name.clone(),
                scroll: 0,
            });
            let _ = outbox.send(ClientMsg::View {
                panes: shown.clone(),
            });
        }
        let modes = TerminalModes::enable()?;
        let terminal = Terminal::new(backend())?;
        Ok(Self {
            app,
            client: Client {
                outbox,
                next_id: 1,
                pending: HashMap::new(),
            },
            terminal,
            modes,
            dirty: true,
            urgent: false,
            last_draw: Instant::now() - FRAME,
            sizes: BTreeMap::new(),
            shown,
            last_heard: Instant::now(),
            heartbeats: false,
            drawn_minute: wall_minute(),
            title: String::new(),
            gate,
        })
    }

    /// How long the loop may wait for a message: until the next frame when
    /// something is to be drawn; otherwise until the next thing due by
    /// itself: the status line's report going, the next minute (shown
    /// times), the next second while a running variant's time is shown,
    /// and, over ssh, the stall check. Nothing wakes a local
    /// dashboard that nothing happens to more than once a minute.
    pub fn wait(&self) -> Duration {
        if self.dirty && self.urgent {
            return Duration::ZERO;
        }
        if self.dirty {
            return FRAME.saturating_sub(self.last_draw.elapsed());
        }
        let mut wait = until_next_minute();
        if let Some(due) = self.app.report_due(Instant::now()) {
            wait = wait.min(due);
        }
        if self.heartbeats || self.app.shows_seconds() {
            wait = wait.min(Duration::from_secs(1));
        }
        wait
    }

    /// Applies one message; `Some` when it ends the dashboard.
    pub fn handle(&mut self, msg: Msg) -> anyhow::Result<Option<Ended>> {
        self.dirty = true;
        let ended = match msg {
            Msg::Input(TermEvent::Key(key)) => self.on_key(key)?,
            Msg::Input(TermEvent::Paste(text)) => {
                for effect in self.app.on_paste(text) {
                    self.client.apply(effect, &mut self.app);
                }
                None
            }
            Msg::Input(TermEvent::Mouse(event)) => {
                let width = self.terminal.size()?.width;
                for effect in mouse::on_mouse(&mut self.app, event, width) {
                    self.client.apply(effect, &mut self.app);
                }
                None
            }
            Msg::Input(_) => None,
            Msg::Server(message) => {
                self.last_heard = Instant::now();
                if let ServerMsg::Pane { frame } = message.as_ref()
                    && !self.app.panes.contains_key(&frame.slice)
                {
                    self.urgent = true;
                }
                self.client.receive(*message, &mut self.app);
                None
            }
            Msg::Goodbye(why) => Some(Ended::Stopped(why)),
            Msg::Lost(why) => Some(Ended::Lost(why)),
            Msg::InputClosed => Some(Ended::Detached),
        };
        // The changes since the last look, read again when asked for or
        // when the slice's diff moved.
        if let Some(slice) = self.app.since_to_read() {
            self.client.request(
                Command::DiffSince {
                    slice: slice.clone(),
                },
                Pending::Since { slice },
            );
        }
        Ok(ended)
    }

    fn on_key(&mut self, key: KeyEvent) -> anyhow::Result<Option<Ended>> {
        if key.code == KeyCode::Char('z')
            && key.modifiers.contains(KeyModifiers::CONTROL)
            && self.app.mode == app::Mode::Board
        {
            self.modes.suspend()?;
            self.take_terminal_again()?;
        }
        let mut ended = None;
        for effect in self.app.on_key(key) {
            if let app::Effect::Edit {
                worktree,
                path,
                line,
            } = effect
            {
                self.edit(&worktree, &path, line)?;
                continue;
            }
            if self.client.apply(effect, &mut self.app) {
                ended = Some(Ended::Detached);
            }
        }
        Ok(ended)
    }

    /// The model's timers, and the link shown as stalled (or no longer).
    pub fn tick(&mut self) {
        self.dirty |= self.app.tick(Instant::now());
        self.dirty |= wall_minute() != self.drawn_minute || self.app.shows_seconds();
        let stalled = Some(self.last_heard.elapsed())
            .filter(|silent| self.heartbeats && *silent >= STALLED)
            .map(|silent| silent.as_secs());
        if stalled != self.app.link_stalled {
            self.app.link_stalled = stalled;
            self.dirty = true;
        }
    }

    /// Draws when something changed and a frame has passed since the last
    /// draw, then asks for the panes drawn and resizes their agents.
    pub fn draw_if_dirty(&mut self) -> anyhow::Result<()> {
        if !self.dirty || (!self.urgent && self.last_draw.elapsed() < FRAME) {
            return Ok(());
        }
        self.drawn_minute = wall_minute();
        let mut drawn = BTreeMap::new();
        self.terminal
            .draw(|frame| drawn = view::draw(frame, &self.app))?;
        // The buffers take turns: each is looked at once it is next to be
        // drawn into.
        if give_back_spare_cells(self.terminal.current_buffer_mut()) {
            crate::os::release_freed_memory();
        }
        self.client
            .follow(&self.app, &drawn, &mut self.sizes, &mut self.shown);
        let title = window_title(&self.app.board);
        if title != self.title {
            super::terminal::set_title(&title);
            self.title = title;
        }
        self.last_draw = Instant::now();
        self.dirty = false;
        self.urgent = false;
        Ok(())
    }
}

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
    /// The changes since the last look at a slice.
    Since {
        slice: SliceName,
    },
    /// Text copied from an agent's pane, for the clipboard.
    Copy,
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
            Effect::Send(command @ Command::CopyText { .. }) => {
                self.request(command, Pending::Copy);
            }
            Effect::Send(command) => {
                let asked = app::Asked::of(&command);
                self.request(command, Pending::Command { asked });
            }
            Effect::Clipboard(text) => {
                app.message = Some(super::clipboard::put(
                    &text,
                    app.keymap.copy_command.as_deref(),
                ));
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
            // The dashboard runs the editor itself (it owns the terminal).
            Effect::Edit { .. } => {}
        }
        false
    }

    fn receive(&mut self, message: ServerMsg, app: &mut App) {
        match message {
            ServerMsg::Update { update } => app.apply(update),
            ServerMsg::Resync { board } => app.resync(board),
            ServerMsg::Pane { frame } => app.apply_pane(frame),
            ServerMsg::Reply { id, result } => match self.pending.remove(&id) {
                Some(Pending::Command { asked }) => app.reply(result, asked),
                Some(Pending::Since { slice }) => app.since_read(&slice, result),
                Some(Pending::Copy) => {
                    app.message = Some(match result {
                        Ok(text) => {
                            super::clipboard::put(&text, app.keymap.copy_command.as_deref())
                        }
                        Err(why) => format!("nothing copied: {why}"),
                    });
                }
                // Replies nobody waits for (resizes) say nothing.
                Some(Pending::Search { .. }) | None => {}
            },
            ServerMsg::Found { id, slice, hits } => {
                let Some(Pending::Search { query, nth }) = self.pending.remove(&id) else {
                    return;
                };
                app.found(slice, &query, nth, &hits);
            }
            ServerMsg::Call {
                call,
                bell,
                desktop,
            } => super::terminal::call(&call.text(), bell, desktop),
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

/// A terminal that shrank leaves ratatui's buffers holding the cells of
/// its largest size (they are truncated, not freed): a buffer holding
/// more than twice what it draws gives the rest back. Returns whether it
/// did.
fn give_back_spare_cells(buffer: &mut ratatui::buffer::Buffer) -> bool {
    let cells = &mut buffer.content;
    if cells.capacity() <= cells.len().max(1024) * 2 {
        return false;
    }
    cells.shrink_to_fit();
    true
}

/// The wall clock's minutes since the epoch.
fn wall_minute() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60)
}

/// How long until the wall clock's next minute.
fn until_next_minute() -> Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_secs(60 * (now.as_secs() / 60 + 1)).saturating_sub(now)
        + Duration::from_millis(5)
}

#[cfg(test)]
mod tests {
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;

    use super::give_back_spare_cells;

    #[test]
    fn a_buffer_left_large_by_a_shrunk_terminal_gives_its_cells_back() {
        let mut buffer = Buffer::empty(Rect::new(0, 0, 400, 100));
        assert!(
            !give_back_spare_cells(&mut buffer),
            "nothing spare at its size"
        );
        buffer.resize(Rect::new(0, 0, 60, 20));
        assert!(give_back_spare_cells(&mut buffer));
        assert!(buffer.content.capacity() < 60 * 20 * 2);
        assert_eq!(buffer.content.len(), 60 * 20);
        assert!(!give_back_spare_cells(&mut buffer), "once");
        buffer.resize(Rect::new(0, 0, 200, 50));
        assert!(!give_back_spare_cells(&mut buffer), "grown again");
    }
}
