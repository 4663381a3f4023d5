//! The dashboard's model: what the board shows and what the keys do.
//!
//! Pure state: the board as the supervisor sent it, updated with
//! [`App::apply`]; the panes it shows, patched with [`App::apply_pane`];
//! replies and found searches reported in the footer. What keys and
//! pastes do ([`App::on_key`], [`App::on_paste`], the actions) is in
//! `keys`. Drawing lives in `view`, the loop in `ui::dashboard`, the
//! connection's threads in `ui::inbox`. Nothing here touches a terminal,
//! a socket, a process or the disk.

use crate::domain::short_commit;
use std::collections::{BTreeMap, VecDeque};

use super::keymap::{Action, Keymap};
use super::mouse::PaneArea;
use crate::domain::board::{Board, BoardUpdate};
use crate::domain::pane::{PaneFrame, PaneView, PaneWant};
use crate::domain::{AgentStatus, Command, Event, SliceName};
use crate::session::{Key, Mods};

pub use crate::domain::board::{LOG_LINES_KEPT, SliceRow};
pub use keys::session_key;

mod copy;
mod keys;
mod review;
mod since;

pub use copy::{COPY_KEYS, CopyMode};
pub use review::{Draft, DraftTarget, line_ref};
pub use since::Since;

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
    /// Typing a one-line prompt for the marked slices' agents (the
    /// selected one's when none is marked).
    Prompt(String),
    /// A cursor on the Diff tab's lines, to comment on them.
    Review,
    /// Writing a review comment.
    Comment(Draft),
    /// Copy mode on an agent's pane.
    Copy(CopyMode),
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
    /// Open `path` (relative to `worktree`) in the operator's editor at
    /// `line`; the dashboard gives the terminal over until it exits.
    Edit {
        worktree: std::path::PathBuf,
        path: String,
        line: Option<u32>,
    },
    /// Text for the host's clipboard (OSC 52, the clipboard file, the
    /// user's `[copy] command`).
    Clipboard(String),
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
            Command::Prompt { slice, .. } => (slice, "send the prompt", "prompt sent"),
            Command::Clean { slice, .. } => (slice, "clean", "cleaned"),
            Command::Setup { slice, .. } => (slice, "run its setup", "setup passed"),
            Command::Comment { slice, .. } => (slice, "comment", "comment written"),
            Command::EditComment { slice, .. } => (slice, "change the comment", "comment changed"),
            Command::DeleteComment { slice, .. } => {
                (slice, "delete the comment", "comment deleted")
            }
            Command::SendReview { slice } => (slice, "send the review", "review sent"),
            Command::RaiseBudget { slice } => (slice, "raise its budget", "budget raised"),
            Command::CopyText { slice, .. } => (slice, "copy", "copied"),
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
    /// How far the Queue view's check output is scrolled back, in lines;
    /// 0 follows the end.
    pub queue_scroll: usize,
    /// The file the Diff tab shows, and how far down its hunks it is.
    pub diff_file: usize,
    pub diff_scroll: usize,
    /// The Diff tab's cursor in review mode (a row of the file's diff),
    /// and where a range marked with `v` starts.
    pub diff_cursor: usize,
    pub diff_mark: Option<usize>,
    /// The comment `n` went to, until the cursor moves.
    pub review_pick: Option<u32>,
    /// The Diff tab shows a slice's changes since the last look (`L`).
    pub since: Option<Since>,
    /// Copy mode waiting for its search (`/` in copy mode) to come back.
    pub copy_search: Option<CopyMode>,
    /// The Diff tab side by side, where it is wide enough (`|`).
    pub side_by_side: bool,
    /// How many rows of the file's diff the view last drew, to keep the
    /// cursor in view.
    pub diff_rows_shown: std::cell::Cell<usize>,
    /// Where the view last drew the Diff tab's file list, for mouse clicks.
    pub diff_list: std::cell::Cell<Option<ListArea>>,
    /// Where the view last drew the board's slices, for mouse clicks.
    pub board_list: std::cell::Cell<Option<ListArea>>,
    /// The first slice the board showed: it scrolls only as far as the
    /// selection needs.
    pub board_first: std::cell::Cell<usize>,
    /// The walkthrough beside the board is shown (`G`).
    pub guide_open: bool,
    /// How far the help overlay is scrolled, when it is taller than the
    /// screen.
    pub help_scroll: usize,
    /// Slices marked (space) for a prompt to several agents at once.
    pub marked: std::collections::BTreeSet<SliceName>,
    /// The board puts the slices that need the operator first (`O`).
    pub needs_first: bool,
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
            // A walkthrough shows at the first start; `G` hides it.
            guide_open: board.guide.is_some(),
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
            queue_scroll: 0,
            diff_file: 0,
            diff_scroll: 0,
            diff_cursor: 0,
            diff_mark: None,
            review_pick: None,
            since: None,
            copy_search: None,
            side_by_side: false,
            diff_rows_shown: std::cell::Cell::new(10),
            diff_list: std::cell::Cell::new(None),
            board_list: std::cell::Cell::new(None),
            board_first: std::cell::Cell::new(0),
            pane_areas: std::cell::RefCell::new(Vec::new()),
            mouse_grab: None,
            fixed_now: None,
            help_scroll: 0,
            marked: Default::default(),
            needs_first: false,
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
            BoardUpdate::Diff { slice, .. } => {
                self.after_diff(slice);
                self.since_moved(slice);
            }
            // A new last look (a review sent, an approval): what changed
            // since is read again from there.
            BoardUpdate::Review { slice, review }
                if self
                    .since
                    .as_ref()
                    .is_some_and(|s| &s.slice == slice && s.looked != review.looked) =>
            {
                self.since_moved(slice);
            }
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

    /// The board's slices (indices into `board.slices`) in the order
    /// shown: the plan's, or with `needs_first` the waiting, then the
    /// failed, then the finished and unreviewed, then the rest, each group
    /// in the plan's order.
    pub fn board_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.board.slices.len()).collect();
        if self.needs_first {
            order.sort_by_key(|&i| {
                let need = crate::domain::calls::need(&self.board.slices[i]);
                (need.is_none(), need)
            });
        }
        order
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

    /// `"q": match 2 of 5 (n: next, pgdn: back)`.
    fn match_said(&self, query: &str, nth: usize, count: usize) -> String {
        format!(
            "{query:?}: match {} of {count} ({}: next, {}: back)",
            nth % count.max(1) + 1,
            self.keymap.key(Action::SearchNext),
            self.keymap.key(Action::ScrollDown),
        )
    }

    /// A search of a slice's terminal came back: the `nth` match (newest
    /// first) is shown; in copy mode, the cursor goes to it.
    pub fn found(&mut self, slice: SliceName, query: &str, nth: usize, hits: &[usize]) {
        let copying = self.copy_search.take();
        let Some(offset) = hits.get(nth % hits.len().max(1)).copied() else {
            self.message = Some(format!(
                "{query:?} not found in {} terminal",
                crate::domain::possessive(&slice)
            ));
            if let Some(copy) = copying {
                self.mode = Mode::Copy(copy);
            }
            return;
        };
        self.scroll.insert(slice.clone(), offset);
        self.message = Some(self.match_said(query, nth, hits.len()));
        // The match is the view's top line (a match on the live screen:
        // its row there, the newest): the copy cursor goes to it.
        if let Some(mut copy) = copying.filter(|c| c.slice == slice) {
            let on_screen = (offset == 0)
                .then(|| {
                    self.panes.get(&slice)?.lines.iter().rposition(|runs| {
                        runs.iter()
                            .map(|r| r.text.as_str())
                            .collect::<String>()
                            .contains(query)
                    })
                })
                .flatten();
            copy.cursor = (on_screen.map_or(-(offset as i64), |row| row as i64), 0);
            self.mode = Mode::Copy(copy);
        }
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
                self.message = Some(self.match_said(&query, nth, hits.len()));
            }
            None => self.message = Some(format!("{query:?} not found in this log")),
        }
        Vec::new()
    }
}

pub use crate::domain::board::{activity_text, describe, status_text};
