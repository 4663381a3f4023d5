//! Reviewing a slice's diff from the keyboard, as a pull request: a
//! cursor on the Diff tab's lines (`Mode::Review`), a range marked from
//! it, a comment written on them (`Mode::Comment`), edited or deleted,
//! the comments stepped through, and the review sent to the agent. The
//! comments themselves are the supervisor's (placed on the live diff on
//! the board); this is only what the keys ask of it. Pure.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{App, Effect, Layout, Mode, Tab};
use crate::domain::Command;
use crate::domain::comments::{Comment, CommentAt, LineRef, Side};
use crate::domain::diff::{FileDiff, LineKind};
use crate::ui::keymap::Action;

/// What each key does in review mode, for a key that does nothing.
const REVIEW_KEYS: &str = "review: j/k move, v marks a range, c comments (or edits), d deletes, n/N go to the next/previous comment, s sends the review, y copies the lines, e opens the editor, f full screen, esc leaves";

/// A comment being written: its text so far and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub text: String,
    pub target: DraftTarget,
    /// The slice it is about, whatever the board selects meanwhile.
    pub slice: crate::domain::SliceName,
    /// Where it goes, as the comment will name it (`path:12-14`).
    pub place: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftTarget {
    /// A new comment on these lines.
    New(CommentAt),
    /// Comment `id`'s new text.
    Edit(u32),
}

/// The line a row of a file's diff (as the Diff tab draws it: each hunk's
/// header, then its lines) shows; `None` for a header or a note.
pub fn line_ref(file: &FileDiff, row: usize) -> Option<LineRef> {
    let line = diff_line(file, row)?;
    match line.kind {
        LineKind::Removed => line.old_line.map(LineRef::old),
        LineKind::Added | LineKind::Context => line.new_line.map(LineRef::new),
        LineKind::Note => None,
    }
}

/// The diff line on row `row` (`None` for a hunk's header).
fn diff_line(file: &FileDiff, row: usize) -> Option<&crate::domain::diff::DiffLine> {
    let mut at = 0;
    for hunk in file.hunks.iter() {
        if row == at {
            return None;
        }
        if row <= at + hunk.lines.len() {
            return hunk.lines.get(row - at - 1);
        }
        at += hunk.lines.len() + 1;
    }
    None
}

impl App {
    /// The Diff tab with a cursor to comment on lines (`c` on the board).
    pub(super) fn enter_review(&mut self) {
        // Comments go on the whole diff, where they are placed.
        if self.since_shown().is_some() {
            self.since = None;
            (self.diff_file, self.diff_scroll) = (0, 0);
        }
        let Some(file) = self.selected_file() else {
            self.message = Some(format!(
                "nothing to review: {} shows no changed file",
                self.selected()
                    .map_or_else(|| "the slice".to_owned(), |r| r.name.to_string())
            ));
            return;
        };
        let rows = super::super::diff_model::file_lines(file);
        let start = self.diff_scroll.min(rows.saturating_sub(1));
        self.tab = Tab::Diff;
        if self.layout != Layout::Full {
            self.layout = Layout::Focus;
        }
        self.mode = Mode::Review;
        self.diff_mark = None;
        self.review_pick = None;
        self.cursor_to(start, true);
        // The status line lists review mode's keys.
        self.message = None;
    }

    /// A key in review mode.
    pub(super) fn review_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.modifiers.contains(KeyModifiers::CONTROL) {
            return Vec::new();
        }
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => {
                self.mode = Mode::Board;
                self.diff_mark = None;
                self.message = Some("left the review; its comments stay until sent".into());
                return Vec::new();
            }
            KeyCode::Char('v') => {
                self.diff_mark = match self.diff_mark {
                    Some(_) => None,
                    None => Some(self.diff_cursor),
                };
                return Vec::new();
            }
            KeyCode::Char('c') | KeyCode::Enter => return self.start_comment(),
            KeyCode::Char('d') => return self.delete_comment(),
            KeyCode::Char('n') => self.step_comment(true),
            KeyCode::Char('N') => self.step_comment(false),
            KeyCode::Char('s') => {
                return self
                    .selected()
                    .map(|row| {
                        Effect::Send(Command::SendReview {
                            slice: row.name.clone(),
                        })
                    })
                    .into_iter()
                    .collect();
            }
            KeyCode::Char('e') => return self.edit_at_cursor(),
            KeyCode::Char('y') => {
                self.diff_mark = None;
                return self
                    .diff_lines_text()
                    .map(Effect::Clipboard)
                    .into_iter()
                    .collect();
            }
            KeyCode::Char('g') | KeyCode::Home => self.cursor_to(0, true),
            KeyCode::Char('G') | KeyCode::End => {
                let last = self
                    .selected_file()
                    .map_or(0, super::super::diff_model::file_lines);
                self.cursor_to(last.saturating_sub(1), false);
            }
            _ => match self.keymap.action(&key) {
                Some(Action::Down) => self.move_cursor(1),
                Some(Action::Up) => self.move_cursor(-1),
                Some(Action::ScrollDown) => self.move_cursor(10),
                Some(Action::ScrollUp) => self.move_cursor(-10),
                Some(
                    action @ (Action::NextFile
                    | Action::PrevFile
                    | Action::NextHunk
                    | Action::PrevHunk),
                ) => {
                    self.step_diff(
                        matches!(action, Action::NextFile | Action::NextHunk),
                        matches!(action, Action::NextHunk | Action::PrevHunk),
                    );
                    self.diff_mark = None;
                    self.cursor_to(self.diff_scroll, true);
                }
                Some(Action::Help) => self.mode = Mode::Help,
                Some(Action::Fullscreen) => {
                    self.layout = if self.layout == Layout::Full {
                        Layout::Focus
                    } else {
                        Layout::Full
                    };
                }
                _ => self.message = Some(REVIEW_KEYS.into()),
            },
        }
        Vec::new()
    }

    /// `e` in review mode: the editor on the cursor's line.
    fn edit_at_cursor(&mut self) -> Vec<Effect> {
        let line = self
            .selected_file()
            .and_then(|f| line_ref(f, self.diff_cursor).map(|r| (f, r)))
            .map(|(f, r)| match r.side {
                Side::New => Some(r.line),
                // A removed line is not in the file: the line after it is.
                Side::Old => super::super::diff_model::line_at(f, self.diff_cursor),
            });
        match (self.selected(), self.selected_file(), line) {
            (Some(row), Some(file), Some(line)) => vec![Effect::Edit {
                worktree: row.worktree.clone(),
                path: file.path.clone(),
                line,
            }],
            _ => Vec::new(),
        }
    }

    /// Moves the cursor by `by` rows, onto a line (never a hunk's header).
    fn move_cursor(&mut self, by: isize) {
        let target = self.diff_cursor.saturating_add_signed(by);
        self.cursor_to(target, by >= 0);
        self.review_pick = None;
    }

    /// Puts the cursor on row `row`, or the nearest line in `forward`'s
    /// direction (then the other), and scrolls it into view.
    pub(super) fn cursor_to(&mut self, row: usize, forward: bool) {
        let Some(file) = self.selected_file() else {
            return;
        };
        let rows = super::super::diff_model::file_lines(file);
        let row = row.min(rows.saturating_sub(1));
        let is_line = |r: usize| line_ref(file, r).is_some();
        let ahead = (row..rows).find(|&r| is_line(r));
        let behind = (0..=row).rev().find(|&r| is_line(r));
        let found = if forward {
            ahead.or(behind)
        } else {
            behind.or(ahead)
        };
        self.diff_cursor = found.unwrap_or(row);
        let shown = self.diff_rows_shown.get().max(1);
        if self.diff_cursor < self.diff_scroll {
            self.diff_scroll = self.diff_cursor.saturating_sub(1);
        } else if self.diff_cursor >= self.diff_scroll + shown {
            self.diff_scroll = self.diff_cursor + 1 - shown;
        }
    }

    /// The rows the cursor and the mark span, first and last.
    pub fn review_rows(&self) -> (usize, usize) {
        let mark = self.diff_mark.unwrap_or(self.diff_cursor);
        (mark.min(self.diff_cursor), mark.max(self.diff_cursor))
    }

    /// The comment the keys act on: the one `n` went to, else the one
    /// whose lines the cursor is on.
    pub fn current_comment(&self) -> Option<&Comment> {
        let row = self.selected()?;
        if let Some(id) = self.review_pick {
            return row.review.comments.iter().find(|c| c.id == id);
        }
        let file = self.selected_file()?;
        row.review.comments.iter().find(|c| {
            c.placed.as_ref().is_some_and(|p| {
                p.path == file.path && (p.rows.0..=p.rows.1).contains(&self.diff_cursor)
            })
        })
    }

    /// `c`: edits the current comment, or writes one on the marked lines.
    fn start_comment(&mut self) -> Vec<Effect> {
        if let (Some(comment), Some(row)) = (self.current_comment(), self.selected()) {
            self.mode = Mode::Comment(Draft {
                text: comment.text.clone(),
                target: DraftTarget::Edit(comment.id),
                place: comment.location(),
                slice: row.name.clone(),
            });
            return Vec::new();
        }
        let Some(file) = self.selected_file() else {
            return Vec::new();
        };
        let (first, last) = self.review_rows();
        let lines: Vec<LineRef> = (first..=last).filter_map(|r| line_ref(file, r)).collect();
        // What the operator sees: the supervisor refuses the comment if the
        // lines changed meanwhile.
        let saw: Vec<String> = (first..=last)
            .filter(|&r| line_ref(file, r).is_some())
            .filter_map(|r| diff_line(file, r).map(|l| l.text.clone()))
            .collect();
        let (Some(&a), Some(&b)) = (lines.first(), lines.last()) else {
            self.message = Some("put the cursor on a line of the diff to comment on it".into());
            return Vec::new();
        };
        // Named as the comment will be: by the slice's lines it holds,
        // by the removed ones only when it holds nothing else.
        let new: Vec<u32> = lines
            .iter()
            .filter(|r| r.side == Side::New)
            .map(|r| r.line)
            .collect();
        let (span, removed) = match (new.first(), new.last()) {
            (Some(&x), Some(&y)) => ((x, y), ""),
            _ => ((a.line, b.line), " (removed)"),
        };
        let place = if span.0 == span.1 {
            format!("{}:{}{removed}", file.path, span.0)
        } else {
            format!("{}:{}-{}{removed}", file.path, span.0, span.1)
        };
        let Some(slice) = self.selected().map(|r| r.name.clone()) else {
            return Vec::new();
        };
        self.mode = Mode::Comment(Draft {
            text: String::new(),
            place,
            slice,
            target: DraftTarget::New(CommentAt {
                path: file.path.clone(),
                first: a,
                last: b,
                saw,
            }),
        });
        Vec::new()
    }

    fn delete_comment(&mut self) -> Vec<Effect> {
        let (Some(row), Some(comment)) = (self.selected(), self.current_comment()) else {
            self.message = Some(
                "no comment here: put the cursor on a commented line, or go to one with n".into(),
            );
            return Vec::new();
        };
        let command = Command::DeleteComment {
            slice: row.name.clone(),
            id: comment.id,
        };
        self.review_pick = None;
        vec![Effect::Send(command)]
    }

    /// `n`/`N`: the next or previous comment, in the order they were
    /// written; one on lines still in the diff gets the cursor, an
    /// outdated one is shown in the tray.
    fn step_comment(&mut self, forward: bool) {
        let Some(row) = self.selected() else { return };
        let comments = &row.review.comments;
        if comments.is_empty() {
            self.message = Some("no comments yet: c writes one on the cursor's lines".into());
            return;
        }
        let now = self
            .current_comment()
            .and_then(|c| comments.iter().position(|o| o.id == c.id));
        let next = match (now, forward) {
            (Some(at), true) => (at + 1) % comments.len(),
            (Some(at), false) => (at + comments.len() - 1) % comments.len(),
            (None, true) => 0,
            (None, false) => comments.len() - 1,
        };
        let comment = comments[next].clone();
        self.review_pick = Some(comment.id);
        self.diff_mark = None;
        match &comment.placed {
            Some(placed) => {
                if let Some(at) = self
                    .selected_diff()
                    .and_then(|d| d.files.iter().position(|f| f.path == placed.path))
                {
                    self.diff_file = at;
                }
                self.cursor_to(placed.rows.0, true);
                self.review_pick = Some(comment.id);
            }
            None => {
                self.message = Some(format!(
                    "#{} is outdated (its lines changed): c rewrites it, d deletes it",
                    comment.id
                ));
            }
        }
    }

    /// A key while writing a comment: Enter saves it, Esc drops it,
    /// alt-enter starts a new line.
    pub(super) fn comment_key(&mut self, key: KeyEvent, mut draft: Draft) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => {
                self.mode = Mode::Review;
                self.message = Some("comment dropped".into());
            }
            KeyCode::Enter if key.modifiers.contains(KeyModifiers::ALT) => {
                draft.text.push('\n');
                self.mode = Mode::Comment(draft);
            }
            KeyCode::Enter => {
                self.mode = Mode::Review;
                let slice = draft.slice.clone();
                if draft.text.trim().is_empty() {
                    self.message = Some("empty comment dropped".into());
                    return Vec::new();
                }
                self.diff_mark = None;
                let text = draft.text;
                return vec![Effect::Send(match draft.target {
                    DraftTarget::New(at) => Command::Comment { slice, at, text },
                    DraftTarget::Edit(id) => Command::EditComment { slice, id, text },
                })];
            }
            KeyCode::Backspace => {
                draft.text.pop();
                self.mode = Mode::Comment(draft);
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                draft.text.push(c);
                self.mode = Mode::Comment(draft);
            }
            _ => self.mode = Mode::Comment(draft),
        }
        Vec::new()
    }
}
