//! The dashboard's model: what the board shows and what the keys do.
//!
//! Pure state: the board as the supervisor sent it, updated with
//! [`App::apply`]; the panes it shows, patched with [`App::apply_pane`];
//! keys turn into [`Effect`]s with [`App::on_key`]. Drawing lives in
//! `view`, the loop and the connection in `ui/mod.rs`. Nothing here
//! touches a terminal, a socket, a process or the disk.

use crate::domain::short_commit;
use std::collections::{BTreeMap, VecDeque};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::keymap::{Action, Keymap};
use super::mouse::PaneArea;
use crate::domain::board::{Board, BoardUpdate};
use crate::domain::pane::{PaneFrame, PaneView, PaneWant};
use crate::domain::{AgentStatus, Command, Event, MergeWhich, SliceName};
use crate::session::{Key, Mods};

pub use crate::domain::board::{LOG_LINES_KEPT, SliceRow};

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
    /// The merge queue.
    Queue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    Kill(SliceName),
    /// End the agent group an earlier supervisor left running.
    EndLeftRunning {
        slice: SliceName,
        pid: i32,
    },
    /// Approve although the merge queue listed these concerns.
    Approve {
        slice: SliceName,
        concerns: Vec<String>,
    },
    /// Remove a slice's worktree and branch.
    Clean(SliceName),
    /// Pick a variant; its siblings still in play are retired.
    Pick {
        slice: SliceName,
        retired: Vec<SliceName>,
    },
    /// Stop every agent and the supervisor.
    StopAll {
        running: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Board,
    /// Keys go to the selected agent.
    Typing,
    Confirm(Confirm),
    Help,
    /// A slice's competing variants side by side (any key closes).
    Compare(SliceName),
    /// Typing a search of the selected terminal's scrollback.
    Search(String),
}

/// What a key or the mouse asks of the world outside the model.
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
    /// Text pasted into the selected agent, bracketed if it asked for that.
    Paste {
        slice: SliceName,
        text: String,
    },
    /// Show the `nth` match (newest first) of `query` in a slice's terminal.
    Search {
        slice: SliceName,
        query: String,
        nth: usize,
    },
    Quit,
}

/// What the operator asked of a slice, for the footer's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub slice: SliceName,
    /// What was asked, as a verb: `pause`.
    pub verb: &'static str,
    /// What happened when it worked: `paused`.
    pub done: &'static str,
}

impl Asked {
    /// The report a command deserves, if the operator asked for it by key.
    pub fn of(command: &Command) -> Option<Self> {
        let (slice, verb, done) = match command {
            Command::StartAgent { slice } => (slice, "start the agent", "agent started"),
            Command::PauseAgent { slice } => (
                slice,
                "pause the agent",
                "agent paused (its whole process group is stopped)",
            ),
            Command::ResumeAgent { slice } => (slice, "resume the agent", "agent resumed"),
            Command::KillAgent { slice } => (
                slice,
                "kill the agent",
                "agent killed (SIGTERM to its group, SIGKILL after the grace period)",
            ),
            Command::RestartAgent { slice } => (slice, "restart the agent", "agent restarting"),
            Command::Approve { slice, .. } => (slice, "approve", "approved"),
            Command::WithdrawApproval { slice } => (slice, "withdraw", "approval withdrawn"),
            Command::SendFeedback { slice } => (slice, "tell the agent", "agent told"),
            Command::Clean { slice, .. } => (slice, "clean", "cleaned"),
            Command::Setup { slice, .. } => (slice, "run its setup", "setup passed"),
            _ => return None,
        };
        Some(Self {
            slice: slice.clone(),
            verb,
            done,
        })
    }
}

pub struct App {
    /// What the supervisor says about every slice.
    pub board: Board,
    /// The panes of the terminals shown, as the supervisor last sent them.
    pub panes: BTreeMap<SliceName, PaneView>,
    /// How far each slice's terminal is scrolled back, in lines.
    pub scroll: BTreeMap<SliceName, usize>,
    pub selected: usize,
    pub mode: Mode,
    pub tab: Tab,
    pub layout: Layout,
    pub keymap: Keymap,
    /// One line for the status bar: the last thing that happened, until
    /// it stops being true (`report`).
    pub message: Option<String>,
    pub(super) report: super::report::ReportAge,
    /// The last search and which of its matches is shown.
    pub search: Option<(String, usize)>,
    /// How far the dbt or Logs tab is scrolled back, in lines; 0 follows
    /// the end.
    pub log_scroll: usize,
    /// The file the Diff tab shows, and how far down its hunks it is.
    pub diff_file: usize,
    pub diff_scroll: usize,
    /// Where the view last drew the Diff tab's file list, for mouse clicks.
    pub diff_list: std::cell::Cell<Option<ListArea>>,
    /// Where the view last drew the board's slices, for mouse clicks.
    pub board_list: std::cell::Cell<Option<ListArea>>,
    /// The first slice the board showed: it scrolls only as far as the
    /// selection needs.
    pub board_first: std::cell::Cell<usize>,
    /// How far the help overlay is scrolled, when it is taller than the
    /// screen.
    pub help_scroll: usize,
    /// Where the view last drew each terminal's inside, for the mouse.
    pub pane_areas: std::cell::RefCell<Vec<PaneArea>>,
    /// The pane a forwarded press went to: its drags and release go there
    /// too, wherever the mouse has gone.
    pub mouse_grab: Option<SliceName>,
    /// The clock and time zone times are shown in; the system's when
    /// `None` (tests fix it).
    pub fixed_now: Option<jiff::ZonedDateTime>,
    /// The Diff tab's file while an update is applied.
    pub(super) shown_file: Option<String>,
    /// Seconds since the supervisor was last heard from, once that is
    /// longer than a few heartbeats: the link stalls.
    pub link_stalled: Option<u64>,
}

/// Screen rows a list was drawn on, and the index of its first item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListArea {
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    pub first: usize,
    /// Screen rows each item takes.
    pub rows_per_item: u16,
}

impl ListArea {
    /// The item at a screen cell, if the cell is on the list.
    pub fn item_at(&self, column: u16, row: u16) -> Option<usize> {
        let inside = column >= self.x
            && column < self.x + self.width
            && row >= self.y
            && row < self.y + self.height;
        inside.then(|| self.first + usize::from((row - self.y) / self.rows_per_item.max(1)))
    }
}

impl App {
    pub fn new(board: Board, keymap: Keymap) -> Self {
        Self {
            board,
            panes: BTreeMap::new(),
            scroll: BTreeMap::new(),
            selected: 0,
            mode: Mode::Board,
            tab: Tab::Terminal,
            layout: Layout::Focus,
            keymap,
            message: None,
            report: Default::default(),
            search: None,
            log_scroll: 0,
            diff_file: 0,
            diff_scroll: 0,
            diff_list: std::cell::Cell::new(None),
            board_list: std::cell::Cell::new(None),
            board_first: std::cell::Cell::new(0),
            pane_areas: std::cell::RefCell::new(Vec::new()),
            mouse_grab: None,
            fixed_now: None,
            help_scroll: 0,
            shown_file: None,
            link_stalled: None,
        }
    }

    /// Now, in the time zone times are shown in.
    pub fn now(&self) -> jiff::ZonedDateTime {
        self.fixed_now
            .clone()
            .unwrap_or_else(jiff::ZonedDateTime::now)
    }

    pub fn selected(&self) -> Option<&SliceRow> {
        self.board.slices.get(self.selected)
    }

    /// Whether the selected slice has an agent group an earlier
    /// supervisor left running, which no new agent may start beside; if
    /// so, the status line says how to end it.
    fn left_running_blocks(&mut self) -> bool {
        let Some((name, left)) = self
            .selected()
            .and_then(|row| Some((row.name.clone(), row.left_running?)))
        else {
            return false;
        };
        self.message = Some(format!(
            "{name}: agent group {} was {}; it still runs in the worktree, so no agent starts here: press {} to end it",
            left.pid,
            crate::domain::board::LEFT_RUNNING,
            self.keymap.key(Action::EndLeftRunning)
        ));
        true
    }

    pub fn running(&self) -> usize {
        self.board
            .slices
            .iter()
            .filter(|s| matches!(s.status, AgentStatus::Running | AgentStatus::Paused))
            .count()
    }

    /// Applies what the supervisor reported.
    pub fn apply(&mut self, update: BoardUpdate) {
        if let BoardUpdate::Diff { slice, .. } = &update {
            self.before_diff(slice);
        }
        self.board.apply(&update);
        match &update {
            BoardUpdate::Diff { slice, .. } => self.after_diff(slice),
            BoardUpdate::Event { event, .. } => self.react(event),
            BoardUpdate::Plan {
                added,
                removed,
                problem,
                ..
            } => self.plan_changed(added, removed, problem.as_ref()),
            _ => {}
        }
    }

    /// Says what a changed plan did; rows that left keep the selection
    /// on a slice that is still there.
    fn plan_changed(
        &mut self,
        added: &[SliceRow],
        removed: &[SliceName],
        problem: Option<&crate::domain::plan_change::PlanProblem>,
    ) {
        self.selected = self.selected.min(self.board.slices.len().saturating_sub(1));
        self.message = Some(match problem {
            Some(problem) => problem.headline(),
            None if added.is_empty() && removed.is_empty() => "sliceboard.toml reloaded".into(),
            None => {
                let names = |rows: Vec<String>| rows.join(", ");
                let mut said = Vec::new();
                if !added.is_empty() {
                    said.push(format!(
                        "added {} (press {} to create)",
                        names(added.iter().map(|r| r.name.to_string()).collect()),
                        self.keymap.key(Action::CreateWorktrees)
                    ));
                }
                if !removed.is_empty() {
                    said.push(format!(
                        "removed {}",
                        names(removed.iter().map(ToString::to_string).collect())
                    ));
                }
                format!("plan reloaded: {}", said.join("; "))
            }
        });
    }

    /// Takes the whole board again (after falling behind); the selection
    /// stays on its slice.
    pub fn resync(&mut self, board: Board) {
        let selected = self.selected().map(|r| r.name.clone());
        self.board = board;
        self.selected = selected
            .and_then(|name| self.board.slices.iter().position(|r| r.name == name))
            .unwrap_or(0);
        self.clamp_diff();
    }

    /// Scrolls a slice's terminal by `lines` (positive: back in history),
    /// within the history the supervisor last reported.
    pub fn scroll_terminal(&mut self, slice: &SliceName, lines: i32) {
        let history = self.panes.get(slice).map_or(0, |p| p.history) as i64;
        let now = self.scroll.get(slice).copied().unwrap_or(0) as i64;
        let next = (now + i64::from(lines)).clamp(0, history) as usize;
        self.scroll.insert(slice.clone(), next);
    }

    /// The panes to ask the supervisor for: the terminals just drawn, each
    /// at its scroll.
    pub fn wanted(&self, drawn: &BTreeMap<SliceName, crate::session::Size>) -> Vec<PaneWant> {
        drawn
            .keys()
            .map(|slice| PaneWant {
                slice: slice.clone(),
                scroll: self.scroll.get(slice).copied().unwrap_or(0),
            })
            .collect()
    }

    /// A pane frame from the supervisor.
    pub fn apply_pane(&mut self, frame: PaneFrame) {
        self.panes
            .entry(frame.slice.clone())
            .or_default()
            .apply(frame);
    }

    /// What the supervisor answered to a command this dashboard sent: a
    /// refused approval with concerns becomes a question, anything else
    /// the status line, which names the slice and what was done or why
    /// not.
    pub fn reply(&mut self, result: Result<String, String>, asked: Option<Asked>) {
        let said = match (result, asked) {
            (Ok(done), Some(asked)) if done.trim().is_empty() => {
                format!("{}: {}", asked.slice, asked.done)
            }
            (Ok(done), _) => done,
            (Err(why), Some(asked)) if crate::domain::queue::parse_concerns(&why).is_none() => {
                format!("{}: could not {}: {why}", asked.slice, asked.verb)
            }
            (Err(why), _) => {
                if let Some(concerns) = crate::domain::queue::parse_concerns(&why)
                    && let Some(slice) = why
                        .split_whitespace()
                        .next()
                        .and_then(|s| SliceName::parse(s).ok())
                {
                    self.mode = Mode::Confirm(Confirm::Approve { slice, concerns });
                    return;
                }
                why
            }
        };
        if !said.is_empty() {
            self.message = Some(said.lines().collect::<Vec<_>>().join("; "));
        }
    }

    /// What the status line and the mode make of an event.
    fn react(&mut self, event: &Event) {
        match event {
            Event::CommandFailed { message, .. } => self.message = Some(message.clone()),
            Event::Approved { slice, commit, .. } => {
                self.message = Some(format!("approved {slice} at {}", short_commit(commit)));
            }
            _ => {}
        }
        // Typing into an agent that just ended would go nowhere.
        if let Event::AgentStatusChanged { slice, status } = event
            && !matches!(status, AgentStatus::Running | AgentStatus::Paused)
            && self.mode == Mode::Typing
            && self.selected().is_some_and(|s| &s.name == slice)
        {
            self.mode = Mode::Board;
            self.message = Some(format!(
                "{} agent ended: {}",
                crate::domain::possessive(slice),
                status_text(*status)
            ));
        }
    }

    /// Handles a paste from the host terminal. Only typing mode sends it
    /// on (as one paste); a search takes it as text; anywhere else it is
    /// dropped, never read as keys: a pasted `x` then `y` must not kill an
    /// agent.
    pub fn on_paste(&mut self, text: String) -> Vec<Effect> {
        match &mut self.mode {
            Mode::Typing => {
                let Some(slice) = self.selected().map(|r| r.name.clone()) else {
                    return Vec::new();
                };
                self.scroll.remove(&slice);
                vec![Effect::Paste { slice, text }]
            }
            Mode::Search(query) => {
                query.extend(text.chars().filter(|c| !c.is_control()));
                Vec::new()
            }
            _ => {
                let focus = self
                    .keymap
                    .key_for(Action::Focus)
                    .unwrap_or_else(|| "enter".into());
                self.message = Some(format!(
                    "paste ignored ({} characters): press {focus} to type into the agent, then paste",
                    text.chars().count()
                ));
                Vec::new()
            }
        }
    }

    /// Handles one key; returns what must happen outside the model.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        match self.mode.clone() {
            Mode::Typing => self.typing_key(key),
            Mode::Compare(_) => {
                self.mode = Mode::Board;
                Vec::new()
            }
            // The keys that scroll scroll help taller than the screen; any
            // other key closes it.
            Mode::Help => {
                match self.keymap.action(&key) {
                    Some(Action::Down | Action::ScrollDown) => self.help_scroll += 1,
                    Some(Action::Up | Action::ScrollUp) => {
                        self.help_scroll = self.help_scroll.saturating_sub(1);
                    }
                    _ => {
                        self.mode = Mode::Board;
                        self.help_scroll = 0;
                    }
                }
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
                    Confirm::Kill(slice) | Confirm::EndLeftRunning { slice, .. } => {
                        vec![Effect::Send(Command::KillAgent { slice })]
                    }
                    Confirm::Approve { slice, .. } => {
                        vec![Effect::Send(Command::Approve { slice, force: true })]
                    }
                    Confirm::Clean(slice) => vec![Effect::Send(Command::Clean {
                        slice,
                        force: false,
                    })],
                    Confirm::Pick { slice, .. } => vec![Effect::Send(Command::Pick {
                        slice,
                        force: false,
                    })],
                    Confirm::StopAll { .. } => vec![Effect::Send(Command::Shutdown)],
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
        // Typing returns a scrolled-back pane to the live screen.
        self.scroll.remove(&name);
        vec![Effect::Key {
            slice: name,
            key: k,
            mods,
        }]
    }

    fn act(&mut self, action: Action) -> Vec<Effect> {
        match action {
            // Quitting only detaches: the agents go on in the supervisor.
            Action::Quit => vec![Effect::Quit],
            Action::Down
            | Action::Up
            | Action::NextFile
            | Action::PrevFile
            | Action::NextHunk
            | Action::PrevHunk
            | Action::NextTab
            | Action::PrevTab
            | Action::Grid
            | Action::Fullscreen
            | Action::Help
            | Action::Search
            | Action::SearchNext
            | Action::Queue
            | Action::ScrollUp
            | Action::ScrollDown => self.act_on_view(action),
            Action::StopAll
            | Action::MergeHead
            | Action::MergeAll
            | Action::Clean
            | Action::PickVariant
            | Action::CompareVariants
            | Action::Review
            | Action::CreateWorktrees => self.act_on_repository(action),
            Action::Start
            | Action::Restart
            | Action::Feedback
            | Action::Approve
            | Action::WithdrawApproval
            | Action::Setup
            | Action::Focus
            | Action::PauseResume
            | Action::Kill
            | Action::EndLeftRunning => self.act_on_slice(action),
        }
    }

    /// Typing into the selected agent, or why it cannot be.
    fn focus(&mut self) {
        let Some((name, status)) = self.selected().map(|r| (r.name.clone(), r.status)) else {
            return;
        };
        if matches!(status, AgentStatus::Running) {
            self.mode = Mode::Typing;
            self.tab = Tab::Terminal;
            self.message = Some(format!(
                "typing into {name}; {} leaves",
                self.keymap.leave.display()
            ));
        } else if matches!(status, AgentStatus::Paused) {
            // Keys typed now would act on the dashboard: say so.
            self.message = Some(format!(
                "{name}'s agent is paused: press {} to resume it, then {} to type into it",
                self.keymap.key(Action::PauseResume),
                self.keymap.key(Action::Focus)
            ));
        } else {
            self.message = Some(format!(
                "{} agent is not running; press {} to start it",
                crate::domain::possessive(&name),
                self.keymap.key(Action::Start)
            ));
        }
    }

    /// What is shown: the selection, tabs, layouts, help, search and scrolling.
    fn act_on_view(&mut self, action: Action) -> Vec<Effect> {
        let count = self.board.slices.len();
        let slice = self.selected().map(|r| r.name.clone());
        match action {
            Action::Down if count > 0 => self.select_slice((self.selected + 1) % count),
            Action::Up if count > 0 => self.select_slice((self.selected + count - 1) % count),
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
                    self.message = Some(format!(
                        "no search yet: press {} to search the terminal",
                        self.keymap.key(Action::Search)
                    ));
                    return Vec::new();
                };
                *nth += 1;
                let (query, nth) = (query.clone(), *nth);
                return self.find(query, nth);
            }
            Action::Queue => {
                self.layout = if self.layout == Layout::Queue {
                    Layout::Focus
                } else {
                    Layout::Queue
                };
            }
            Action::ScrollUp | Action::ScrollDown
                if matches!(self.tab, Tab::Logs | Tab::Dbt | Tab::Diff) =>
            {
                self.scroll_tab(if action == Action::ScrollUp { -10 } else { 10 });
            }
            Action::ScrollUp | Action::ScrollDown => {
                let lines = if action == Action::ScrollUp { 10 } else { -10 };
                if let Some(slice) = slice {
                    self.scroll_terminal(&slice, lines);
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// What concerns every slice: stopping, merging, cleaning, variants, review and worktrees.
    fn act_on_repository(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::StopAll => {
                self.mode = Mode::Confirm(Confirm::StopAll {
                    running: self.running(),
                });
            }
            Action::MergeHead | Action::MergeAll => {
                let which = if action == Action::MergeAll {
                    MergeWhich::All
                } else {
                    MergeWhich::Head
                };
                self.message = Some("merging…".into());
                return vec![Effect::Send(Command::Merge {
                    which,
                    dry_run: false,
                })];
            }
            Action::Clean => {
                // Asked only when it can be done: a refusal after "y" would
                // waste the question.
                match self
                    .selected()
                    .map(|row| (row.name.clone(), self.clean_refusal(row)))
                {
                    Some((_, Some(why))) => self.message = Some(why),
                    Some((slice, None)) => self.mode = Mode::Confirm(Confirm::Clean(slice)),
                    None => {}
                }
            }
            Action::PickVariant => self.ask_to_pick(),
            Action::CompareVariants => self.compare_variants(),
            Action::Review => return vec![Effect::Send(Command::Review)],
            Action::CreateWorktrees => {
                self.message = Some("creating missing worktrees…".into());
                return vec![Effect::Send(Command::Up { slices: Vec::new() })];
            }
            _ => {}
        }
        Vec::new()
    }

    /// The selected slice's agent: start, restart, feedback, setup, typing, approval, pause and kill.
    fn act_on_slice(&mut self, action: Action) -> Vec<Effect> {
        let slice = self.selected().map(|r| r.name.clone());
        match action {
            Action::Start | Action::Restart | Action::Feedback if self.left_running_blocks() => {}
            Action::Feedback => {
                return slice
                    .map(|slice| Effect::Send(Command::SendFeedback { slice }))
                    .into_iter()
                    .collect();
            }
            Action::Setup => {
                if let Some(slice) = slice.clone() {
                    self.message = Some(format!("{slice}: running its setup…"));
                    return vec![Effect::Send(Command::Setup { slice, skip: false })];
                }
            }
            Action::Focus => self.focus(),
            Action::Start | Action::Restart | Action::Approve | Action::WithdrawApproval => {
                let command = |slice| match action {
                    Action::Start => Command::StartAgent { slice },
                    Action::Restart => Command::RestartAgent { slice },
                    Action::Approve => Command::Approve {
                        slice,
                        force: false,
                    },
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
            Action::Kill | Action::EndLeftRunning => {
                let Some((slice, status, left)) = self
                    .selected()
                    .map(|row| (row.name.clone(), row.status, row.left_running))
                else {
                    return Vec::new();
                };
                let live = matches!(status, AgentStatus::Running | AgentStatus::Paused);
                // With no agent of its own, the slice's kill ends the group
                // left running there.
                match (left, action) {
                    (Some(left), _) if !live => {
                        let pid = left.pid;
                        self.mode = Mode::Confirm(Confirm::EndLeftRunning { slice, pid });
                    }
                    (_, Action::Kill) if live => self.mode = Mode::Confirm(Confirm::Kill(slice)),
                    (_, Action::Kill) => {
                        self.message = Some(format!(
                            "{slice}: no agent to kill: it is {}",
                            status_text(status)
                        ));
                    }
                    _ => {
                        self.message = Some(format!(
                            "{slice}: no agent group was left running here by a previous supervisor"
                        ));
                    }
                }
            }

            _ => {}
        }
        Vec::new()
    }
}

impl App {
    /// Why cleaning a slice would be refused now, as far as the board
    /// knows: its agent runs, a group was left running there, or it is
    /// not merged (the key cleans merged slices only).
    fn clean_refusal(&self, row: &SliceRow) -> Option<String> {
        let slice = &row.name;
        if matches!(row.status, AgentStatus::Running | AgentStatus::Paused) {
            return Some(format!(
                "{slice}: not cleaned: its agent is {}; kill it first ({})",
                status_text(row.status),
                self.keymap.key(Action::Kill)
            ));
        }
        if let Some(left) = row.left_running {
            return Some(format!(
                "{slice}: not cleaned: agent group {} still runs in its worktree; end it first ({})",
                left.pid,
                self.keymap.key(Action::EndLeftRunning)
            ));
        }
        let merged = self.board.queue.slices.get(slice).is_some_and(|v| {
            matches!(
                v.state,
                Some(crate::domain::queue::EntryState::Merged { .. })
            )
        });
        if row.lifecycle != crate::domain::Lifecycle::Merged && !merged {
            return Some(format!(
                "{slice}: not cleaned: it is not merged ({}); the key cleans merged slices only",
                row.lifecycle
            ));
        }
        None
    }

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
                    "{query:?}: match {} of {} ({}: next, {}: back)",
                    nth % hits.len() + 1,
                    hits.len(),
                    self.keymap.key(Action::SearchNext),
                    self.keymap.key(Action::ScrollDown),
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

pub use crate::domain::board::{activity_text, describe, status_text};
