//! The dashboard's model: what the board shows and what the keys do.
//!
//! Pure state: events from the supervisor are applied with
//! [`App::apply`], keys turn into [`Command`]s with [`App::on_key`]; drawing
//! lives in `view`, the loop and threads in `ui/mod.rs`. Nothing here
//! touches a terminal, a process or the disk.

use std::collections::VecDeque;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::keymap::{Action, Keymap};
use crate::domain::dbt_run::DbtRun;
use crate::domain::diff::SliceDiff;
use crate::domain::ownership::{Ownership, PathFlag};
use crate::domain::{Activity, AgentStatus, Command, Event, Lifecycle, SliceName};
use crate::session::{Key, Mods};
use crate::watch::WatchMode;

/// How many journal lines the Events tab keeps per slice.
const EVENTS_KEPT: usize = 200;

#[derive(Debug, Clone)]
pub struct SliceRow {
    pub name: SliceName,
    pub lifecycle: Lifecycle,
    pub status: AgentStatus,
    pub activity: Option<Activity>,
    pub dbt: Option<DbtRun>,
    /// Journal and live events, newest last, as text.
    pub events: Vec<String>,
    pub worktree: std::path::PathBuf,
    /// dbt's log as a person reads it, newest last.
    pub dbt_log: VecDeque<String>,
    /// The slice's extra log files (the plan's `logs` globs), newest last.
    pub logs: VecDeque<String>,
    /// Whether the plan asks this slice to follow any extra logs.
    pub follows_logs: bool,
    /// The live diff; `None` until the first one is read.
    pub diff: Option<Arc<SliceDiff>>,
    pub diff_mode: WatchMode,
    /// Why the last diff failed (the one shown is then the last good one).
    pub diff_error: Option<String>,
    /// Ownership and overlap warnings about the slice's changed paths.
    pub flags: Vec<PathFlag>,
}

/// How many log lines a slice keeps for the dbt and Logs tabs.
pub const LOG_LINES_KEPT: usize = 5_000;

impl SliceRow {
    /// Adds lines to a log buffer, dropping the oldest past the limit.
    pub fn append(buffer: &mut VecDeque<String>, lines: Vec<String>) {
        buffer.extend(lines);
        while buffer.len() > LOG_LINES_KEPT {
            buffer.pop_front();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Terminal,
    Diff,
    Dbt,
    Logs,
    Events,
}

impl Tab {
    pub const ALL: [Tab; 5] = [Tab::Terminal, Tab::Diff, Tab::Dbt, Tab::Logs, Tab::Events];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Terminal => "Terminal",
            Tab::Diff => "Diff",
            Tab::Dbt => "dbt",
            Tab::Logs => "Logs",
            Tab::Events => "Events",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The board beside the selected slice's tabs.
    Focus,
    /// Every terminal at once.
    Grid,
    /// The selected terminal alone.
    Full,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    Kill(SliceName),
    Quit { running: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Board,
    /// Keys go to the selected agent.
    Typing,
    Confirm(Confirm),
    Help,
    /// Typing a search of the selected terminal's scrollback.
    Search(String),
}

/// What a key asks of the world outside the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send(Command),
    /// A key for the selected agent, encoded for its terminal's modes by
    /// whoever can see the screen.
    Key {
        slice: SliceName,
        key: Key,
        mods: Mods,
    },
    /// Scroll a slice's terminal by lines (positive: back in history).
    Scroll {
        slice: SliceName,
        lines: i32,
    },
    /// Show the `nth` match (newest first) of `query` in a slice's terminal.
    Search {
        slice: SliceName,
        query: String,
        nth: usize,
    },
    Quit,
}

pub struct App {
    pub repo: String,
    pub slices: Vec<SliceRow>,
    pub selected: usize,
    pub mode: Mode,
    pub tab: Tab,
    pub layout: Layout,
    pub keymap: Keymap,
    /// One line for the status bar: the last thing that happened.
    pub message: Option<String>,
    /// The last search and which of its matches is shown.
    pub search: Option<(String, usize)>,
    /// How far the dbt or Logs tab is scrolled back, in lines; 0 follows
    /// the end.
    pub log_scroll: usize,
    /// Who owns what, for the ownership flags; `None` flags nothing.
    pub ownership: Option<Ownership>,
    /// The file the Diff tab shows, and how far down its hunks it is.
    pub diff_file: usize,
    pub diff_scroll: usize,
    /// Where the view last drew the Diff tab's file list, for mouse clicks.
    pub diff_list: std::cell::Cell<Option<ListArea>>,
}

/// Screen rows a list was drawn on, and the index of its first item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListArea {
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    pub first: usize,
}

impl ListArea {
    /// The item at a screen cell, if the cell is on the list.
    pub fn item_at(&self, column: u16, row: u16) -> Option<usize> {
        let inside = column >= self.x
            && column < self.x + self.width
            && row >= self.y
            && row < self.y + self.height;
        inside.then(|| self.first + usize::from(row - self.y))
    }
}

impl App {
    pub fn new(repo: String, slices: Vec<SliceRow>, keymap: Keymap) -> Self {
        Self {
            repo,
            slices,
            selected: 0,
            mode: Mode::Board,
            tab: Tab::Terminal,
            layout: Layout::Focus,
            keymap,
            message: None,
            search: None,
            log_scroll: 0,
            ownership: None,
            diff_file: 0,
            diff_scroll: 0,
            diff_list: std::cell::Cell::new(None),
        }
    }

    pub fn selected(&self) -> Option<&SliceRow> {
        self.slices.get(self.selected)
    }

    pub fn running(&self) -> usize {
        self.slices
            .iter()
            .filter(|s| matches!(s.status, AgentStatus::Running | AgentStatus::Paused))
            .count()
    }

    /// Applies what the supervisor reported.
    pub fn apply(&mut self, event: &Event) {
        let slice = match event {
            Event::AgentStatusChanged { slice, .. }
            | Event::ActivityChanged { slice, .. }
            | Event::LifecycleChanged { slice, .. }
            | Event::Approved { slice, .. }
            | Event::ApprovalWithdrawn { slice } => Some(slice),
            Event::CommandFailed { command, .. } => command.slice(),
            _ => None,
        };
        let Some(row) = slice.and_then(|s| self.slices.iter_mut().find(|r| &r.name == s)) else {
            if let Event::CommandFailed { message, .. } = event {
                self.message = Some(message.clone());
            }
            return;
        };
        match event {
            Event::AgentStatusChanged { status, .. } => {
                row.status = *status;
                if !matches!(status, AgentStatus::Running | AgentStatus::Paused) {
                    row.activity = None;
                }
            }
            Event::ActivityChanged { activity, .. } => row.activity = Some(*activity),
            Event::LifecycleChanged { to, .. } => row.lifecycle = *to,
            Event::CommandFailed { message, .. } => self.message = Some(message.clone()),
            Event::Approved { slice, commit } => {
                self.message = Some(format!(
                    "approved {slice} at {}",
                    &commit[..commit.len().min(10)]
                ));
            }
            _ => {}
        }
        row.events.push(describe(event));
        if row.events.len() > EVENTS_KEPT {
            row.events.remove(0);
        }
        // Typing into an agent that just ended would go nowhere.
        if let Event::AgentStatusChanged { slice, status } = event
            && !matches!(status, AgentStatus::Running | AgentStatus::Paused)
            && self.mode == Mode::Typing
            && self.selected().is_some_and(|s| &s.name == slice)
        {
            self.mode = Mode::Board;
            self.message = Some(format!("{slice}'s agent ended: {}", status_text(*status)));
        }
    }

    /// Handles one key; returns what must happen outside the model.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        match self.mode.clone() {
            Mode::Typing => self.typing_key(key),
            Mode::Help => {
                self.mode = Mode::Board;
                Vec::new()
            }
            Mode::Search(mut query) => match key.code {
                KeyCode::Esc => {
                    self.mode = Mode::Board;
                    Vec::new()
                }
                KeyCode::Enter => {
                    self.mode = Mode::Board;
                    if query.is_empty() {
                        return Vec::new();
                    }
                    self.search = Some((query.clone(), 0));
                    self.find(query, 0)
                }
                KeyCode::Backspace => {
                    query.pop();
                    self.mode = Mode::Search(query);
                    Vec::new()
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    query.push(c);
                    self.mode = Mode::Search(query);
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Mode::Confirm(confirm) => {
                self.mode = Mode::Board;
                if !matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                    self.message = Some("cancelled".into());
                    return Vec::new();
                }
                match confirm {
                    Confirm::Kill(slice) => vec![Effect::Send(Command::KillAgent { slice })],
                    Confirm::Quit { .. } => vec![Effect::Quit],
                }
            }
            Mode::Board => match self.keymap.action(&key) {
                Some(action) => self.act(action),
                None => Vec::new(),
            },
        }
    }

    fn typing_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(name) = self.selected().map(|r| r.name.clone()) else {
            self.mode = Mode::Board;
            return Vec::new();
        };
        if super::keymap::KeySpec::of(&key) == self.keymap.leave {
            self.mode = Mode::Board;
            self.message = Some(format!("left {name}"));
            return Vec::new();
        }
        let Some((k, mods)) = session_key(&key) else {
            return Vec::new();
        };
        vec![Effect::Key {
            slice: name,
            key: k,
            mods,
        }]
    }

    fn act(&mut self, action: Action) -> Vec<Effect> {
        let count = self.slices.len();
        let slice = self.selected().map(|r| r.name.clone());
        match action {
            Action::Down if count > 0 => {
                self.selected = (self.selected + 1) % count;
                (self.diff_file, self.diff_scroll) = (0, 0);
            }
            Action::Up if count > 0 => {
                self.selected = (self.selected + count - 1) % count;
                (self.diff_file, self.diff_scroll) = (0, 0);
            }
            Action::NextFile | Action::PrevFile | Action::NextHunk | Action::PrevHunk => {
                self.tab = Tab::Diff;
                self.layout = Layout::Focus;
                self.step_diff(
                    matches!(action, Action::NextFile | Action::NextHunk),
                    matches!(action, Action::NextHunk | Action::PrevHunk),
                );
            }
            Action::NextTab | Action::PrevTab => {
                let at = Tab::ALL.iter().position(|t| *t == self.tab).unwrap_or(0);
                let step = if action == Action::NextTab {
                    1
                } else {
                    Tab::ALL.len() - 1
                };
                self.tab = Tab::ALL[(at + step) % Tab::ALL.len()];
                self.log_scroll = 0;
                self.layout = Layout::Focus;
            }
            Action::Grid => {
                self.layout = if self.layout == Layout::Grid {
                    Layout::Focus
                } else {
                    Layout::Grid
                };
            }
            Action::Fullscreen => {
                self.layout = if self.layout == Layout::Full {
                    Layout::Focus
                } else {
                    Layout::Full
                };
                self.tab = Tab::Terminal;
            }
            Action::Help => self.mode = Mode::Help,
            Action::Search => {
                self.mode = Mode::Search(String::new());
                if !matches!(self.tab, Tab::Logs | Tab::Dbt | Tab::Diff) {
                    self.tab = Tab::Terminal;
                }
            }
            Action::SearchNext => {
                let Some((query, nth)) = self.search.as_mut() else {
                    self.message = Some("no search yet: press / to search the terminal".into());
                    return Vec::new();
                };
                *nth += 1;
                let (query, nth) = (query.clone(), *nth);
                return self.find(query, nth);
            }
            Action::Quit => {
                let running = self.running();
                if running == 0 {
                    return vec![Effect::Quit];
                }
                self.mode = Mode::Confirm(Confirm::Quit { running });
            }
            Action::ScrollUp | Action::ScrollDown
                if matches!(self.tab, Tab::Logs | Tab::Dbt | Tab::Diff) =>
            {
                self.scroll_tab(if action == Action::ScrollUp { -10 } else { 10 });
            }
            Action::ScrollUp | Action::ScrollDown => {
                let lines = if action == Action::ScrollUp { 10 } else { -10 };
                return slice
                    .map(|slice| Effect::Scroll { slice, lines })
                    .into_iter()
                    .collect();
            }
            Action::Focus => {
                let Some((name, status)) = self.selected().map(|r| (r.name.clone(), r.status))
                else {
                    return Vec::new();
                };
                if matches!(status, AgentStatus::Running) {
                    self.mode = Mode::Typing;
                    self.tab = Tab::Terminal;
                    self.message = Some(format!(
                        "typing into {name}; {} leaves",
                        self.keymap.leave.display()
                    ));
                } else {
                    self.message = Some(format!(
                        "{name}'s agent is not running; press s to start it"
                    ));
                }
            }
            Action::Start | Action::Restart | Action::Approve | Action::WithdrawApproval => {
                let command = |slice| match action {
                    Action::Start => Command::StartAgent { slice },
                    Action::Restart => Command::RestartAgent { slice },
                    Action::Approve => Command::Approve { slice },
                    _ => Command::WithdrawApproval { slice },
                };
                return slice
                    .map(|s| Effect::Send(command(s)))
                    .into_iter()
                    .collect();
            }
            Action::PauseResume => {
                let Some(row) = self.selected() else {
                    return Vec::new();
                };
                let slice = row.name.clone();
                return vec![Effect::Send(if row.status == AgentStatus::Paused {
                    Command::ResumeAgent { slice }
                } else {
                    Command::PauseAgent { slice }
                })];
            }
            Action::Kill => {
                if let Some(slice) = slice {
                    self.mode = Mode::Confirm(Confirm::Kill(slice));
                }
            }
            Action::Down | Action::Up => {}
        }
        Vec::new()
    }
}

impl App {
    /// The log the current tab shows, if it shows one.
    pub fn log_buffer(&self) -> Option<&VecDeque<String>> {
        let row = self.selected()?;
        match self.tab {
            Tab::Logs => Some(&row.logs),
            Tab::Dbt => Some(&row.dbt_log),
            _ => None,
        }
    }

    /// Shows the `nth` newest match of `query`: in the tab's own log for
    /// the dbt and Logs tabs, in the terminal's scrollback otherwise.
    fn find(&mut self, query: String, nth: usize) -> Vec<Effect> {
        if self.tab == Tab::Diff {
            self.find_in_diff(&query, nth);
            return Vec::new();
        }
        let Some(buffer) = self.log_buffer() else {
            return self
                .selected()
                .map(|row| Effect::Search {
                    slice: row.name.clone(),
                    query,
                    nth,
                })
                .into_iter()
                .collect();
        };
        let hits: Vec<usize> = buffer
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, line)| line.contains(&query))
            .map(|(at, _)| at)
            .collect();
        let len = buffer.len();
        match hits.get(nth % hits.len().max(1)) {
            Some(at) => {
                self.log_scroll = len - 1 - at;
                self.message = Some(format!(
                    "{query:?}: match {} of {} (n: next, pgdn: back)",
                    nth % hits.len() + 1,
                    hits.len()
                ));
            }
            None => self.message = Some(format!("{query:?} not found in this log")),
        }
        Vec::new()
    }
}

/// A crossterm key as the session's key type.
pub fn session_key(key: &KeyEvent) -> Option<(Key, Mods)> {
    let mods = Mods {
        ctrl: key.modifiers.contains(KeyModifiers::CONTROL),
        alt: key.modifiers.contains(KeyModifiers::ALT),
        shift: key.modifiers.contains(KeyModifiers::SHIFT),
    };
    let k = match key.code {
        // Shift is already in the character.
        KeyCode::Char(c) => {
            return Some((
                Key::Char(c),
                Mods {
                    shift: false,
                    ..mods
                },
            ));
        }
        KeyCode::Enter => Key::Enter,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Esc => Key::Esc,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Insert => Key::Insert,
        KeyCode::Delete => Key::Delete,
        KeyCode::F(n) => Key::F(n),
        _ => return None,
    };
    Some((k, mods))
}

/// One line of the Events tab.
pub fn describe(event: &Event) -> String {
    match event {
        Event::AgentStatusChanged { status, .. } => format!("agent {}", status_text(*status)),
        Event::ActivityChanged { activity, .. } => {
            format!("activity {}", activity_text(Some(*activity)))
        }
        Event::LifecycleChanged { from, to, .. } => format!("{from} -> {to}"),
        Event::CommandFailed { message, .. } => format!("failed: {message}"),
        Event::Approved { commit, .. } => {
            format!("approved at {}", &commit[..commit.len().min(10)])
        }
        Event::ApprovalWithdrawn { .. } => "approval withdrawn".into(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

pub fn status_text(status: AgentStatus) -> String {
    match status {
        AgentStatus::NotStarted => "not started".into(),
        AgentStatus::Pending => "pending".into(),
        AgentStatus::Running => "running".into(),
        AgentStatus::Paused => "paused".into(),
        AgentStatus::Exited { code: Some(code) } => format!("exited({code})"),
        AgentStatus::Exited { code: None } => "exited(signal)".into(),
        AgentStatus::Killed => "killed".into(),
    }
}

pub fn activity_text(activity: Option<Activity>) -> &'static str {
    match activity {
        Some(Activity::Busy) => "busy",
        Some(Activity::Waiting) => "WAITING",
        Some(Activity::Idle) => "idle",
        Some(Activity::Done) => "done",
        None => "",
    }
}
