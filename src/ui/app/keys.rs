//! What the keys and pastes do to the dashboard's model: [`App::on_key`]
//! and [`App::on_paste`] turn them into changes of the model and
//! [`Effect`]s for the loop to carry out, by mode (a question, search,
//! typing into an agent, the board) and by [`Action`].
//!
//! Pure like the rest of `app`: it owns the meaning of keys, not the
//! model's other updates (the supervisor's messages are `app`'s), and
//! never touches a terminal, a socket or a process.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{App, Confirm, Effect, Layout, Mode, Tab};
use crate::domain::board::status_text;
use crate::domain::{AgentStatus, Command, MergeWhich, SliceName};
use crate::session::{Key, Mods};
use crate::ui::keymap::Action;

impl App {
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
            Mode::Comment(draft) => {
                draft.text.extend(
                    text.chars()
                        .map(|c| if c == '\r' { '\n' } else { c })
                        .filter(|c| *c == '\n' || !c.is_control()),
                );
                Vec::new()
            }
            Mode::Search(query) | Mode::Prompt(query) => {
                // One line: a pasted newline is a space.
                query.extend(
                    text.chars()
                        .map(|c| if c == '\n' { ' ' } else { c })
                        .filter(|c| !c.is_control()),
                );
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
                    // Back to copy mode when the search was its.
                    self.mode = self.copy_search.take().map_or(Mode::Board, Mode::Copy);
                    Vec::new()
                }
                KeyCode::Enter => {
                    self.mode = Mode::Board;
                    if query.is_empty() {
                        if let Some(copy) = self.copy_search.take() {
                            self.mode = Mode::Copy(copy);
                        }
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
            Mode::Prompt(text) => self.prompt_key(key, text),
            Mode::Review => self.review_key(key),
            Mode::Copy(copy) => self.copy_key(key, copy),
            Mode::Comment(draft) => self.comment_key(key, draft),
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
            Mode::Board => {
                if let Some(answer) = self.quick_answer(&key) {
                    return answer;
                }
                match self.keymap.action(&key) {
                    Some(action) => self.act(action),
                    None => Vec::new(),
                }
            }
        }
    }

    /// A digit, `y` or `n` on a slice whose agent waits on a question
    /// that takes it (as its row's `asks:` shows it) answers the agent
    /// directly, before the key means anything on the board.
    fn quick_answer(&mut self, key: &KeyEvent) -> Option<Vec<Effect>> {
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return None;
        }
        let KeyCode::Char(c) = key.code else {
            return None;
        };
        let row = self.selected().filter(|r| {
            r.status == AgentStatus::Running && r.activity == Some(crate::domain::Activity::Waiting)
        })?;
        let bytes = crate::domain::calls::quick_answer(row.asks.as_deref()?, c)?;
        let slice = row.name.clone();
        self.message = Some(format!("{slice}: answered {c}"));
        Some(vec![Effect::Send(Command::SendInput { slice, bytes })])
    }

    fn typing_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(name) = self.selected().map(|r| r.name.clone()) else {
            self.mode = Mode::Board;
            return Vec::new();
        };
        if crate::ui::keymap::KeySpec::of(&key) == self.keymap.leave {
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
            | Action::NextNeedingYou
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
            | Action::QuickPrompt
            | Action::Mark
            | Action::BoardOrder
            | Action::Guide
            | Action::SideBySide
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
            | Action::HoldQueue
            | Action::CreateWorktrees => self.act_on_repository(action),
            Action::Start
            | Action::Restart
            | Action::Feedback
            | Action::Approve
            | Action::WithdrawApproval
            | Action::Setup
            | Action::Focus
            | Action::PauseResume
            | Action::MuteCalls
            | Action::RaiseBudget
            | Action::Edit
            | Action::Comment
            | Action::DiffSince
            | Action::CopyMode
            | Action::Kill
            | Action::EndLeftRunning => self.act_on_slice(action),
        }
    }

    /// The last search's next match.
    pub(super) fn search_next(&mut self) -> Vec<Effect> {
        let Some((query, nth)) = self.search.as_mut() else {
            self.message = Some(format!(
                "no search yet: press {} to search the terminal",
                self.keymap.key(Action::Search)
            ));
            // Copy mode waits for nothing then.
            if let Some(copy) = self.copy_search.take() {
                self.mode = Mode::Copy(copy);
            }
            return Vec::new();
        };
        *nth += 1;
        let (query, nth) = (query.clone(), *nth);
        self.find(query, nth)
    }

    /// A key while typing a quick prompt: Enter sends it to every marked
    /// slice's agent (the selected one's when none is marked), Esc drops it.
    fn prompt_key(&mut self, key: KeyEvent, mut text: String) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => {
                self.mode = Mode::Board;
                self.message = Some("prompt dropped".into());
            }
            KeyCode::Enter => {
                self.mode = Mode::Board;
                if text.trim().is_empty() {
                    self.message = Some("nothing to send".into());
                    return Vec::new();
                }
                let targets = self.prompt_targets();
                self.message = Some(format!(
                    "sending to {}",
                    targets
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                self.marked.clear();
                return targets
                    .into_iter()
                    .map(|slice| {
                        Effect::Send(Command::Prompt {
                            slice,
                            text: text.clone(),
                            by_itself: false,
                        })
                    })
                    .collect();
            }
            KeyCode::Backspace => {
                text.pop();
                self.mode = Mode::Prompt(text);
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                text.push(c);
                self.mode = Mode::Prompt(text);
            }
            _ => self.mode = Mode::Prompt(text),
        }
        Vec::new()
    }

    /// Who a quick prompt goes to: the marked slices still on the board,
    /// in board order, else the selected one.
    pub fn prompt_targets(&self) -> Vec<SliceName> {
        let marked: Vec<SliceName> = self
            .board
            .slices
            .iter()
            .filter(|r| self.marked.contains(&r.name))
            .map(|r| r.name.clone())
            .collect();
        if marked.is_empty() {
            self.selected()
                .map(|r| r.name.clone())
                .into_iter()
                .collect()
        } else {
            marked
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
            Action::Down | Action::Up if count > 0 => {
                // Along the board as shown.
                let order = self.board_order();
                let at = order.iter().position(|&i| i == self.selected).unwrap_or(0);
                let step = if action == Action::Down { 1 } else { count - 1 };
                self.select_slice(order[(at + step) % count]);
            }
            Action::SideBySide => {
                self.side_by_side = !self.side_by_side;
                self.tab = Tab::Diff;
                self.message = Some(if self.side_by_side {
                    format!(
                        "diff side by side where the tab has {} columns or more",
                        crate::ui::side_by_side::MIN_WIDTH
                    )
                } else {
                    "diff unified".into()
                });
            }
            Action::Guide => {
                if self.board.guide.is_some() {
                    self.guide_open = !self.guide_open;
                } else {
                    self.message = Some("no walkthrough here: `sliceboard demo` writes one".into());
                }
            }
            Action::BoardOrder => {
                self.needs_first = !self.needs_first;
                self.message = Some(if self.needs_first {
                    "board: who needs you first (waiting, failed, finished), then the rest".into()
                } else {
                    "board: the plan's order".into()
                });
            }
            Action::NextNeedingYou => {
                match crate::domain::calls::next_needing(&self.board, self.selected) {
                    Some(next) => self.select_slice(next),
                    None => {
                        self.message = Some(
                            "nobody needs you: no agent waits, failed or finished unreviewed"
                                .into(),
                        );
                    }
                }
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
            // The tab shown goes full screen (the grid and the queue show
            // no tab: the terminal does).
            Action::Fullscreen => {
                if self.layout != Layout::Focus && self.layout != Layout::Full {
                    self.tab = Tab::Terminal;
                }
                self.layout = if self.layout == Layout::Full {
                    Layout::Focus
                } else {
                    Layout::Full
                };
            }
            Action::Help => self.mode = Mode::Help,
            Action::Search => {
                self.mode = Mode::Search(String::new());
            }
            Action::QuickPrompt if !self.prompt_targets().is_empty() => {
                self.mode = Mode::Prompt(String::new());
            }
            Action::Mark => {
                if let Some(slice) = slice.clone() {
                    if !self.marked.remove(&slice) {
                        self.marked.insert(slice);
                    }
                    self.message = Some(if self.marked.is_empty() {
                        "no slice marked".into()
                    } else {
                        format!(
                            "marked: {} ({} tells them all)",
                            self.prompt_targets()
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", "),
                            self.keymap.key(Action::QuickPrompt)
                        )
                    });
                }
                if !matches!(self.tab, Tab::Logs | Tab::Dbt | Tab::Diff) {
                    self.tab = Tab::Terminal;
                }
            }
            Action::SearchNext => return self.search_next(),
            Action::Queue => {
                self.layout = if self.layout == Layout::Queue {
                    Layout::Focus
                } else {
                    Layout::Queue
                };
            }
            Action::ScrollUp | Action::ScrollDown if self.layout == Layout::Queue => {
                let most = self.board.queue.check_output.len();
                self.queue_scroll = if action == Action::ScrollUp {
                    (self.queue_scroll + 10).min(most)
                } else {
                    self.queue_scroll.saturating_sub(10)
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
            Action::HoldQueue => {
                return vec![Effect::Send(Command::HoldQueue {
                    held: !self.board.queue.held,
                })];
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
            Action::Edit => {
                let shown = self.selected_file().map(|file| {
                    (
                        file.path.clone(),
                        crate::ui::diff_model::line_at(file, self.diff_scroll),
                    )
                });
                match (self.selected(), shown) {
                    (Some(row), Some((path, line))) => {
                        return vec![Effect::Edit {
                            worktree: row.worktree.clone(),
                            path,
                            line,
                        }];
                    }
                    _ => {
                        self.message = Some(format!(
                            "nothing to edit: {} shows no changed file",
                            crate::domain::possessive(
                                slice.map_or_else(|| "the slice".to_owned(), |s| s.to_string())
                            )
                        ));
                    }
                }
            }
            Action::Comment => self.enter_review(),
            Action::DiffSince => self.toggle_since(),
            Action::CopyMode => self.enter_copy(),
            Action::Setup => {
                if let Some(slice) = slice.clone() {
                    self.message = Some(format!("{slice}: running its setup…"));
                    return vec![Effect::Send(Command::Setup { slice, skip: false })];
                }
            }
            Action::Focus => self.focus(),
            Action::RaiseBudget => {
                if let Some(slice) = slice.clone() {
                    return vec![Effect::Send(Command::RaiseBudget { slice })];
                }
            }
            Action::MuteCalls => {
                if let Some(row) = self.selected() {
                    return vec![Effect::Send(Command::MuteCalls {
                        slice: row.name.clone(),
                        muted: !row.muted,
                    })];
                }
            }
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
