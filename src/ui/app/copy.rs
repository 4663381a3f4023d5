//! Copy mode on an agent's pane, as tmux's: a cursor on its screen and
//! history (vi keys), a character, line or block selection from a mark,
//! and a yank that asks the supervisor for the text (wrapped rows joined,
//! no borders) for the host's clipboard. The Diff tab's review mode yanks
//! its lines the same way. Pure: moving the cursor scrolls the pane as
//! far as it needs.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{App, Effect, Mode, Tab};
use crate::domain::pane::{CopyRange, CopyShape};
use crate::domain::{Command, SliceName};
use crate::ui::keymap::Action;

/// Copy mode's state: whose pane, the cursor, and the selection's mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyMode {
    pub slice: SliceName,
    /// (line, column): line 0 is the top of the live screen, negative
    /// lines are history.
    pub cursor: (i64, u16),
    /// Where the selection started, and its shape.
    pub mark: Option<((i64, u16), CopyShape)>,
}

impl CopyMode {
    /// The selection, or the cursor's line when nothing is marked.
    pub fn range(&self) -> CopyRange {
        match self.mark {
            Some((from, shape)) => CopyRange {
                from,
                to: self.cursor,
                shape,
            }
            .ordered(),
            None => CopyRange {
                from: self.cursor,
                to: self.cursor,
                shape: CopyShape::Lines,
            },
        }
    }

    /// Whether (line, column) is selected.
    pub fn selects(&self, line: i64, col: u16) -> bool {
        let Some(_) = self.mark else { return false };
        let r = self.range();
        if line < r.from.0 || line > r.to.0 {
            return false;
        }
        match r.shape {
            CopyShape::Lines => true,
            CopyShape::Block => {
                let (a, b) = (r.from.1.min(r.to.1), r.from.1.max(r.to.1));
                (a..=b).contains(&col)
            }
            CopyShape::Chars => (line, col) >= r.from && (line, col) <= r.to,
        }
    }
}

/// What copy mode's keys do, for the status line.
pub const COPY_KEYS: &str = "h/j/k/l move  w/b/e words  0/$ line ends  g/G top/bottom  / search  n next  v chars  V lines  ctrl-v block  y yank  esc leave";

impl App {
    /// `v` on the board: copy mode on the selected agent's pane.
    pub(super) fn enter_copy(&mut self) {
        let Some(slice) = self.selected().map(|r| r.name.clone()) else {
            return;
        };
        let Some(pane) = self.panes.get(&slice).filter(|p| p.rows > 0) else {
            self.message = Some(format!("{slice} has no terminal to copy from yet"));
            return;
        };
        let scroll = self.scroll.get(&slice).copied().unwrap_or(0) as i64;
        // The agent's cursor when it shows, else the last row with text.
        let (row, col) = pane.cursor.unwrap_or_else(|| {
            let last = pane.lines.iter().rposition(|l| !l.is_empty()).unwrap_or(0);
            (last as u16, 0)
        });
        self.tab = Tab::Terminal;
        self.mode = Mode::Copy(CopyMode {
            slice,
            cursor: (i64::from(row) - scroll, col),
            mark: None,
        });
        self.message = None;
    }

    pub(super) fn copy_key(&mut self, key: KeyEvent, mut copy: CopyMode) -> Vec<Effect> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let Some(pane) = self.panes.get(&copy.slice) else {
            self.mode = super::Mode::Board;
            return Vec::new();
        };
        let (rows, cols, history) = (i64::from(pane.rows), pane.cols, pane.history as i64);
        let half = (rows / 2).max(1);
        let (line, col) = copy.cursor;
        let to = |l: i64, c: u16| {
            if rows == 0 {
                return (0, 0);
            }
            (l.clamp(-history, rows - 1), c.min(cols.saturating_sub(1)))
        };
        copy.cursor = match (key.code, ctrl) {
            (KeyCode::Esc | KeyCode::Char('q'), _) if copy.mark.is_some() => {
                copy.mark = None;
                copy.cursor
            }
            (KeyCode::Esc | KeyCode::Char('q'), _) => {
                self.leave_copy(&copy.slice);
                return Vec::new();
            }
            (KeyCode::Char('y') | KeyCode::Enter, _) => {
                let range = copy.range();
                let slice = copy.slice.clone();
                self.leave_copy(&slice);
                return vec![Effect::Send(Command::CopyText { slice, range })];
            }
            // The terminal's search: the cursor goes to the match.
            (KeyCode::Char('/'), false) => {
                self.copy_search = Some(copy);
                self.mode = Mode::Search(String::new());
                return Vec::new();
            }
            (KeyCode::Char('n'), false) => {
                self.copy_search = Some(copy);
                self.mode = Mode::Board;
                return self.search_next();
            }
            (KeyCode::Char('v'), true) => mark(&mut copy, CopyShape::Block),
            (KeyCode::Char('v'), false) => mark(&mut copy, CopyShape::Chars),
            (KeyCode::Char('V'), _) => mark(&mut copy, CopyShape::Lines),
            (KeyCode::Char('h') | KeyCode::Left, _) => to(line, col.saturating_sub(1)),
            (KeyCode::Char('l') | KeyCode::Right, _) => to(line, col + 1),
            (KeyCode::Char('j') | KeyCode::Down, _) => to(line + 1, col),
            (KeyCode::Char('k') | KeyCode::Up, _) => to(line - 1, col),
            (KeyCode::Char('0') | KeyCode::Home, _) => to(line, 0),
            (KeyCode::Char('$') | KeyCode::End, _) => to(line, u16::MAX),
            (KeyCode::Char(c @ ('w' | 'W' | 'b' | 'B' | 'e' | 'E')), false) => {
                let motion = match c.to_ascii_lowercase() {
                    'w' => Word::Next,
                    'b' => Word::Back,
                    _ => Word::End,
                };
                let shown = |line: i64| {
                    let row = usize::try_from(line + pane.scroll as i64).ok()?;
                    pane.lines.get(row).map(row_cells)
                };
                let (l, c) = word_motion(&shown, (line, col), motion, c.is_ascii_uppercase());
                // No word past the screen's last row or history's first:
                // the cursor stays.
                if l < -history || l >= rows {
                    copy.cursor
                } else {
                    to(l, c)
                }
            }
            (KeyCode::Char('g'), _) => to(-history, 0),
            (KeyCode::Char('G'), _) => to(rows - 1, 0),
            (KeyCode::Char('u'), true) | (KeyCode::PageUp, _) => to(line - half, col),
            (KeyCode::Char('d'), true) | (KeyCode::PageDown, _) => to(line + half, col),
            _ => {
                if self.keymap.action(&key) == Some(Action::Help) {
                    self.mode = Mode::Help;
                    return Vec::new();
                }
                self.message = Some(format!("copy mode: {COPY_KEYS}"));
                copy.cursor
            }
        };
        // The pane scrolls as far as the cursor needs.
        let scroll = self.scroll.get(&copy.slice).copied().unwrap_or(0) as i64;
        let row = copy.cursor.0 + scroll;
        let scroll = if row < 0 {
            -copy.cursor.0
        } else if row >= rows {
            (rows - 1 - copy.cursor.0).max(0)
        } else {
            scroll
        };
        self.scroll
            .insert(copy.slice.clone(), scroll.max(0) as usize);
        self.mode = Mode::Copy(copy);
        Vec::new()
    }

    fn leave_copy(&mut self, slice: &SliceName) {
        self.mode = Mode::Board;
        self.scroll.remove(slice);
    }

    /// The review's marked lines of the Diff tab as text, for a yank.
    pub(super) fn diff_lines_text(&self) -> Option<String> {
        let file = self.selected_file()?;
        let (first, last) = self.review_rows();
        let mut lines = Vec::new();
        let mut row = 0;
        for hunk in file.hunks.iter() {
            row += 1;
            for line in &hunk.lines {
                if (first..=last).contains(&row) && line.kind != crate::domain::diff::LineKind::Note
                {
                    lines.push(line.text.as_str());
                }
                row += 1;
            }
        }
        (!lines.is_empty()).then(|| lines.join("\n"))
    }
}

/// Starts a selection of `shape` at the cursor, or changes the one
/// marked to that shape, or (the same key again) drops it.
fn mark(copy: &mut CopyMode, shape: CopyShape) -> (i64, u16) {
    copy.mark = match copy.mark {
        Some((_, was)) if was == shape => None,
        Some((from, _)) => Some((from, shape)),
        None => Some((copy.cursor, shape)),
    };
    copy.cursor
}

/// A vi word motion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    /// `w`: the next word's start.
    Next,
    /// `b`: this word's start, or the one before.
    Back,
    /// `e`: this word's end, or the next one's.
    End,
}

/// A row's characters with the column each starts at (a wide character
/// takes two; marks that join a cell take none).
fn row_cells(runs: &crate::domain::pane::PaneLine) -> Vec<(u16, char)> {
    use unicode_width::UnicodeWidthChar as _;
    let mut col = 0u16;
    let mut cells = Vec::new();
    for c in runs.iter().flat_map(|run| run.text.chars()) {
        let width = c.width().unwrap_or(0) as u16;
        if width > 0 {
            cells.push((col, c));
            col += width;
        }
    }
    cells
}

/// vi's classes: blank, word characters (letters, digits, `_`), and other
/// marks; a WORD (`W`, `B`, `E`) is any run of non-blanks.
fn class(c: char, big: bool) -> u8 {
    if c.is_whitespace() {
        0
    } else if big || c.is_alphanumeric() || c == '_' {
        1
    } else {
        2
    }
}

/// Where `motion` takes the cursor at `at` = (line, column), reading the
/// rows `shown` gives (`None` past what the pane shows). Crossing lines
/// as vi does, within the rows shown; at their edge, the line beyond at
/// its first column (the pane scrolls there).
fn word_motion(
    shown: &dyn Fn(i64) -> Option<Vec<(u16, char)>>,
    at: (i64, u16),
    motion: Word,
    big: bool,
) -> (i64, u16) {
    let (line, col) = at;
    let Some(cells) = shown(line) else {
        return at;
    };
    let index = cells.iter().rposition(|&(c, _)| c <= col);
    // The first (or, going back, the last) cell matching `is` in `range`
    // of this row, then of each row shown after (before) it.
    let find = |range: std::ops::Range<usize>, is: fn(&[(u16, char)], usize, bool) -> bool| {
        let found = |cells: &[(u16, char)], range: std::ops::Range<usize>| {
            let mut range = range.filter(|&i| is(cells, i, big));
            let i = if motion == Word::Back {
                range.next_back()
            } else {
                range.next()
            };
            i.map(|i| cells[i].0)
        };
        if let Some(c) = found(&cells, range) {
            return Ok((line, c));
        }
        let step = if motion == Word::Back { -1 } else { 1 };
        let mut other = line + step;
        while let Some(cells) = shown(other) {
            if let Some(c) = found(&cells, 0..cells.len()) {
                return Ok((other, c));
            }
            other += step;
        }
        Err(other)
    };
    match motion {
        // Below the rows shown: the pane scrolls down to that line.
        Word::Next => find(index.map_or(0, |i| i + 1)..cells.len(), word_start)
            .unwrap_or_else(|beyond| (beyond, 0)),
        Word::End => find(index.map_or(0, |i| i + 1)..cells.len(), word_end).unwrap_or(at),
        Word::Back => {
            // A cursor past a row's text counts the last word as before it.
            let before = index.map_or(0, |i| if cells[i].0 < col { i + 1 } else { i });
            // Above the rows shown: the pane scrolls up to that line.
            find(0..before, word_start).unwrap_or_else(|beyond| (beyond, 0))
        }
    }
}

/// Whether cell `i` of `cells` starts a word (vi's classes).
fn word_start(cells: &[(u16, char)], i: usize, big: bool) -> bool {
    let kind = |i: usize| class(cells[i].1, big);
    kind(i) != 0 && (i == 0 || kind(i - 1) != kind(i))
}

/// Whether cell `i` of `cells` ends a word.
fn word_end(cells: &[(u16, char)], i: usize, big: bool) -> bool {
    let kind = |i: usize| class(cells[i].1, big);
    kind(i) != 0 && (i + 1 == cells.len() || kind(i + 1) != kind(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows<'a>(text: &'a [&'a str]) -> impl Fn(i64) -> Option<Vec<(u16, char)>> + 'a {
        move |line| {
            let row = usize::try_from(line).ok()?;
            text.get(row).map(|t| {
                let runs = vec![crate::domain::pane::Run {
                    text: (*t).to_owned(),
                    style: Default::default(),
                }];
                row_cells(&runs)
            })
        }
    }

    #[test]
    fn w_b_and_e_move_by_words_across_lines_as_vi_does() {
        let text = ["select id, name_x from t;", "", "  where 中文 = 1"];
        let shown = rows(&text);
        let go = |at, motion, big| word_motion(&shown, at, motion, big);
        // w: id, the comma, name_x, …, then across the blank line.
        assert_eq!(go((0, 0), Word::Next, false), (0, 7));
        assert_eq!(go((0, 7), Word::Next, false), (0, 9));
        assert_eq!(go((0, 9), Word::Next, false), (0, 11));
        assert_eq!(go((0, 7), Word::Next, true), (0, 11), "W skips the comma");
        assert_eq!(
            go((0, 24), Word::Next, false),
            (2, 2),
            "over the empty line"
        );
        // A wide word takes its columns: `=` comes after 中文.
        assert_eq!(go((2, 8), Word::Next, false), (2, 13));
        // e: the end of this word, then the next one's.
        assert_eq!(go((0, 0), Word::End, false), (0, 5));
        assert_eq!(go((0, 7), Word::End, false), (0, 8));
        assert_eq!(go((0, 11), Word::End, true), (0, 16));
        // b: this word's start, then the one before, then up a line.
        assert_eq!(go((0, 13), Word::Back, false), (0, 11));
        assert_eq!(go((0, 11), Word::Back, false), (0, 9));
        assert_eq!(go((2, 2), Word::Back, false), (0, 24));
        // At the last row shown, w goes to the line beyond (the pane scrolls).
        assert_eq!(go((2, 13), Word::Next, false), (2, 15));
        assert_eq!(go((2, 15), Word::Next, false), (3, 0));
        // Past a row's text, b goes to its last word, a lone `;` too.
        assert_eq!(go((0, 30), Word::Back, false), (0, 24));
    }
}
