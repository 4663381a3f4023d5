//! One agent's screen: alacritty_terminal's `Term` and its parser, its
//! size and resizing, and its scrollback read as text (lines, search,
//! this screen's own scroll).
//!
//! History: the grid keeps the newest [`GRID_HISTORY`] rows above the
//! screen; older rows move to a compact [`History`] (text and style spans,
//! see `history.rs`) through the parser's handler (`spill.rs`); during a
//! flood the grid keeps the whole scrollback until it ends. Frames,
//! search and scrolling read both as one scrollback. `frame` renders it
//! for viewers as styled rows; `requests` turns what the program asks of
//! its terminal into replies.
//!
//! Owns terminal emulation only. It never writes to the PTY itself: `feed`
//! returns the replies (device attributes, cursor position, colors, text
//! area size) for the caller to write back. Requests that would reach the
//! operator's own terminal (window title, clipboard) are dropped, so an
//! agent can never change the host terminal.

pub(in crate::session) mod alt;
mod copy;
mod frame;
mod requests;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alacritty_terminal::grid::Dimensions;
use alacritty_terminal::index::{Column, Line};
use alacritty_terminal::term::cell::Flags;
use alacritty_terminal::term::{Config, Term, TermMode};
use alacritty_terminal::vte::ansi::Processor;

use super::history::{History, RowBuilder, StoredRow};
use super::spill::{Spill, load_row, move_oldest};
pub(super) use frame::cell_style;
pub use requests::{Fed, Requests};

/// Rows of history kept in alacritty's grid, at full width. The grid
/// grows its storage 1,000 rows at a time, so fewer would cost the same.
pub const GRID_HISTORY: usize = 1_000;

/// A flood: line feeds at [`FLOOD_LINES`] per [`FLOOD_WINDOW`] or faster
/// (a `cat` of a large file, a verbose build). While one lasts, the grid
/// keeps the whole scrollback itself and no row moves to the compact
/// history: the rows that fall off the end before the output settles,
/// most of a long flood, are never converted at all. When the output
/// slows below half that rate or stops, [`Screen::compact`] moves what
/// the grid holds in one go, and its memory goes back.
const FLOOD_LINES: usize = 2_000;
const FLOOD_WINDOW: Duration = Duration::from_millis(100);

/// What the grids of all flooded screens in this process may hold at
/// full width, at most: a screen whose whole scrollback does not fit in
/// what is left moves its rows out as usual. One 10,000-line scrollback
/// at 200 columns takes 46 MiB.
const FLOOD_BUDGET: usize = 64 << 20;

/// Bytes the flooded screens' grids may take now, of [`FLOOD_BUDGET`].
static FLOOD_HELD: AtomicUsize = AtomicUsize::new(0);

/// A flooded screen's share of [`FLOOD_BUDGET`], given back when dropped.
#[derive(Debug)]
struct FloodHold(usize);

impl FloodHold {
    fn take(bytes: usize) -> Option<Self> {
        FLOOD_HELD
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held + bytes <= FLOOD_BUDGET).then_some(held + bytes)
            })
            .ok()
            .map(|_| Self(bytes))
    }
}

impl Drop for FloodHold {
    fn drop(&mut self) {
        FLOOD_HELD.fetch_sub(self.0, Ordering::AcqRel);
    }
}

/// How fast lines come, and the flood while one lasts.
#[derive(Debug, Default)]
struct Flood {
    /// Line feeds since `since`.
    lines: usize,
    since: Option<Instant>,
    /// Held while the screen is flooded.
    hold: Option<FloodHold>,
}

/// A terminal size in cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub cols: u16,
    pub rows: u16,
}

impl Dimensions for Size {
    fn total_lines(&self) -> usize {
        self.screen_lines()
    }
    fn screen_lines(&self) -> usize {
        usize::from(self.rows.max(1))
    }
    fn columns(&self) -> usize {
        usize::from(self.cols.max(2))
    }
}

pub use crate::domain::pane::{InputModes, MouseTracking};

pub struct Screen {
    term: Term<Requests>,
    parser: Processor,
    requests: Requests,
    size: Size,
    /// Lines of history kept in all (the plan's `scrollback`).
    scrollback: usize,
    /// Of those, how many the grid keeps before they move to `history`.
    grid_limit: usize,
    /// The older rows, compact.
    history: History,
    /// Scratch for the row being moved, reused.
    row: RowBuilder,
    /// How far this screen's own view is scrolled back (`scroll`).
    view: usize,
    flood: Flood,
    /// The alternate screen's grid is down to one row (see `alt.rs`).
    alt_spared: bool,
}

/// A line of the scrollback or the screen, wherever it is kept.
enum At<'a> {
    Grid(Line),
    Stored(StoredRow<'a>),
}

/// The grid's share of `scrollback` at `rows` rows: it must hold a
/// screenful more than one call of the parser can push.
fn grid_limit(scrollback: usize, rows: u16) -> usize {
    scrollback.min(GRID_HISTORY.max(4 * usize::from(rows)))
}

impl Screen {
    /// An empty screen of `size` keeping `scrollback` lines of history.
    pub fn new(size: Size, scrollback: usize) -> Self {
        let requests = Requests::default();
        let grid_limit = grid_limit(scrollback, size.rows);
        let config = Config {
            scrolling_history: grid_limit,
            ..Config::default()
        };
        Self {
            term: Term::new(config, &size, requests.clone()),
            parser: Processor::new(),
            requests,
            size,
            scrollback,
            grid_limit,
            history: History::new(scrollback - grid_limit),
            row: RowBuilder::default(),
            view: 0,
            flood: Flood::default(),
            alt_spared: false,
        }
    }

    /// Parses output from the program and returns what it asked of us.
    pub fn feed(&mut self, bytes: &[u8]) -> Fed {
        let mut spill = Spill {
            term: &mut self.term,
            history: &mut self.history,
            grid_limit: self.grid_limit,
            history_cap: self.scrollback - self.grid_limit,
            row: &mut self.row,
            flood_scrollback: self.flood.hold.as_ref().map(|_| self.scrollback),
            lines: 0,
            alt_spared: &mut self.alt_spared,
        };
        self.parser.advance(&mut spill, bytes);
        let lines = spill.lines;
        let mut fed = self.take_requests();
        fed.lines = lines;
        fed
    }

    /// Counts `lines` line feeds read at `now` (the reader's, from
    /// [`Fed::lines`]); once a [`FLOOD_WINDOW`] has passed, the rate over
    /// it begins a flood, or ends one (at less than half the rate that
    /// began it, so a rate near the line does not flip it every window).
    /// A flood that ends moves the grid's rows out at once; returns
    /// whether memory was freed, for the caller to give back once it let
    /// go of the screen.
    pub fn follow_flood(&mut self, lines: usize, now: Instant) -> bool {
        self.flood.lines += lines;
        let since = *self.flood.since.get_or_insert(now);
        let window = now.duration_since(since);
        if window < FLOOD_WINDOW {
            return false;
        }
        // Lines per window at the rate seen, however long a silence
        // stretched this one.
        let rate = self.flood.lines as u128 * FLOOD_WINDOW.as_nanos() / window.as_nanos().max(1);
        self.flood.lines = 0;
        self.flood.since = Some(now);
        let on = self.flood.hold.is_some();
        if !on && rate >= FLOOD_LINES as u128 {
            self.start_flood();
        } else if on && rate < (FLOOD_LINES / 2) as u128 {
            return self.compact();
        }
        false
    }

    /// The grid takes the whole scrollback, when there is a compact
    /// history to spare and the budget allows.
    fn start_flood(&mut self) {
        if self.scrollback <= self.grid_limit || self.term.mode().contains(TermMode::ALT_SCREEN) {
            return;
        }
        let row_bytes = self.term.grid().columns()
            * std::mem::size_of::<alacritty_terminal::term::cell::Cell>();
        let Some(hold) = FloodHold::take(self.scrollback * row_bytes) else {
            return;
        };
        self.flood.hold = Some(hold);
        self.term.grid_mut().update_history(self.scrollback);
    }

    /// When a synchronized update in progress must be shown even if the
    /// program never ends it.
    pub fn sync_deadline(&self) -> Option<std::time::Instant> {
        self.parser.sync_timeout().sync_timeout()
    }

    /// Applies a synchronized update (DEC mode 2026) whose timeout has
    /// passed; programs that start one and stall must not freeze the pane.
    pub fn flush_expired_sync(&mut self) -> Fed {
        let expired = self
            .parser
            .sync_timeout()
            .sync_timeout()
            .is_some_and(|deadline| deadline <= std::time::Instant::now());
        if expired {
            let mut spill = Spill {
                term: &mut self.term,
                history: &mut self.history,
                grid_limit: self.grid_limit,
                history_cap: self.scrollback - self.grid_limit,
                row: &mut self.row,
                flood_scrollback: self.flood.hold.as_ref().map(|_| self.scrollback),
                lines: 0,
                alt_spared: &mut self.alt_spared,
            };
            self.parser.stop_sync(&mut spill);
        }
        self.take_requests()
    }

    pub fn size(&self) -> Size {
        self.size
    }

    /// Whether a flood lasts (see [`FLOOD_LINES`]).
    pub fn flooding(&self) -> bool {
        self.flood.hold.is_some()
    }

    /// Resizes the grid; lines reflow to the new width, the compact
    /// history's too.
    ///
    /// On a change of width the grid's history moves out first, so the
    /// grid reflows only the screen, and the rows it kept for reuse (at the
    /// old width) are freed: memory follows the current size, whatever
    /// sizes came before. Otherwise the grid's history is given room for
    /// the rows a shorter screen pushes into it, within the new limit.
    /// On the alternate screen the primary grid (out of reach) reflows in
    /// alacritty, so its limit is raised to the whole scrollback until the
    /// alternate screen ends: the next call's `make_room` moves the excess
    /// out and puts the limit back.
    pub fn resize(&mut self, size: Size) {
        let alt = self.term.mode().contains(TermMode::ALT_SCREEN);
        // A flood ends first: what follows counts on the grid's own limit.
        // (On the alternate screen the primary grid keeps the whole
        // scrollback until that ends, flood or not, and a flood holds its
        // share of the budget until then.)
        if self.flood.hold.is_some() && !alt {
            self.compact();
        }
        let below = self.rows_below_cursor();
        let limit = grid_limit(self.scrollback, size.rows);
        let lower = limit.min(self.grid_limit);
        // Whether there is a compact history beside the grid's.
        let tiered = self.scrollback > lower;
        let rewrap = tiered && size.cols != self.size.cols;
        if tiered && !alt {
            let kept = self.term.grid().history_size();
            let room = lower.saturating_sub(self.term.grid().screen_lines());
            let count = if rewrap {
                kept
            } else {
                kept.saturating_sub(room)
            };
            // The two together hold the scrollback: the compact rows leave
            // room only for what stays in the grid (after a compaction or
            // a flood, the grid may hold none, and the compact store all).
            self.history.set_cap(self.scrollback - (kept - count));
            move_oldest(
                &mut self.term,
                &mut self.history,
                &mut self.row,
                count,
                self.grid_limit,
            );
        } else {
            // On the alternate screen the primary grid is out of reach: a
            // compacted store keeps what it holds, and the next spill after
            // the alternate screen ends takes the excess.
            self.history
                .set_cap((self.scrollback - lower).max(self.history.len()));
            if tiered {
                self.term.set_options(Config {
                    scrolling_history: self.scrollback,
                    ..Config::default()
                });
            }
        }
        if rewrap {
            self.history.rewrap(usize::from(size.cols));
            if !alt {
                self.term.grid_mut().truncate();
            }
        }
        // alacritty gives the alternate grid back its size at any resize
        // that changes one.
        // (As alacritty counts the size: clamped to its least.)
        let wanted = (size.columns(), size.screen_lines());
        if (self.term.columns(), self.term.screen_lines()) != wanted {
            self.alt_spared = false;
        }
        self.size = size;
        self.term.resize(size);
        if limit != self.grid_limit {
            self.grid_limit = limit;
            if !alt {
                self.term.set_options(Config {
                    scrolling_history: limit,
                    ..Config::default()
                });
            }
        }
        if tiered && !alt {
            let in_grid = self.term.grid().history_size();
            self.history
                .set_cap(self.scrollback.saturating_sub(in_grid));
        } else {
            self.history
                .set_cap((self.scrollback - limit).max(self.history.len()));
        }
        if !alt {
            self.refill(below);
        }
        if rewrap {
            crate::os::release_freed_memory();
        }
    }

    /// Whether [`Screen::compact`] would give memory back: the grid holds
    /// history, which it keeps in storage grown 1,000 rows at a time, or a
    /// flood's share of the budget.
    pub fn compactable(&self) -> bool {
        !self.term.mode().contains(TermMode::ALT_SCREEN)
            && (self.history_movable() || !self.alt_spared)
    }

    /// Whether the grid holds history (or a flood's share) that can move
    /// to the compact store.
    fn history_movable(&self) -> bool {
        self.scrollback > self.grid_limit
            && (self.term.grid().history_size() > 0 || self.flood.hold.is_some())
    }

    /// Moves the grid's whole history into the compact one and frees the
    /// grid's storage beyond the screen, for a screen whose output has
    /// gone quiet: what it costs is then its screen and its compact rows.
    /// The next line that scrolls grows the grid again. Until the next
    /// batch moves (see `spill.rs`), the scrollback may hold up to the
    /// grid's share more lines than asked; none is lost. Returns whether
    /// rows were freed (the caller gives the memory back to the system,
    /// once for all its screens).
    ///
    /// A flood ends here (on the alternate screen it lasts until that
    /// ends: the primary grid is out of reach).
    pub fn compact(&mut self) -> bool {
        if !self.compactable() {
            return false;
        }
        if self.history_movable() {
            let kept = self.term.grid().history_size();
            self.history.set_cap(self.scrollback);
            move_oldest(
                &mut self.term,
                &mut self.history,
                &mut self.row,
                kept,
                self.grid_limit,
            );
            // (With nothing to move, a flood's limit is put back here.)
            self.term.grid_mut().update_history(self.grid_limit);
            self.term.grid_mut().truncate();
            self.flood.hold = None;
        }
        if !self.alt_spared {
            alt::spare(&mut self.term);
            self.alt_spared = true;
        }
        true
    }

    /// Rows between the cursor and the bottom of the live screen.
    fn rows_below_cursor(&self) -> usize {
        let grid = self.term.grid();
        let line = grid.cursor.point.line.0.max(0) as usize;
        grid.screen_lines().saturating_sub(line + 1)
    }

    /// After a resize, pulls rows down from the compact history until the
    /// cursor is as far from the bottom as it was (`below`), as alacritty
    /// and tmux do from theirs: a pane that grows shows more of what came
    /// before, not blank rows. Only blank rows at the bottom make room.
    fn refill(&mut self, below: usize) {
        let now = self.rows_below_cursor();
        if now <= below || self.history.len() == 0 {
            return;
        }
        let grid = self.term.grid_mut();
        let lines = grid.screen_lines();
        let blank_bottom = (0..lines)
            .rev()
            .take_while(|line| grid[Line(*line as i32)].is_clear())
            .count();
        let pull = (now - below).min(self.history.len()).min(blank_bottom);
        if pull == 0 {
            return;
        }
        let region = Line(0)..Line(lines as i32);
        grid.scroll_down::<alacritty_terminal::vte::ansi::Color>(&region, pull);
        for line in (0..pull).rev() {
            let Some(wrapped) = self.history.pop_newest(&mut self.row) else {
                break;
            };
            load_row(&mut grid[Line(line as i32)], &self.row, wrapped);
        }
        grid.cursor.point.line += pull;
        grid.saved_cursor.point.line =
            (grid.saved_cursor.point.line + pull).min(Line(lines as i32 - 1));
    }

    pub fn input_modes(&self) -> InputModes {
        let mode = self.term.mode();
        InputModes {
            app_cursor: mode.contains(TermMode::APP_CURSOR),
            app_keypad: mode.contains(TermMode::APP_KEYPAD),
            bracketed_paste: mode.contains(TermMode::BRACKETED_PASTE),
            mouse: if mode.contains(TermMode::MOUSE_MOTION) {
                MouseTracking::Motion
            } else if mode.contains(TermMode::MOUSE_DRAG) {
                MouseTracking::Drags
            } else if mode.contains(TermMode::MOUSE_REPORT_CLICK) {
                MouseTracking::Clicks
            } else {
                MouseTracking::Off
            },
            sgr_mouse: mode.contains(TermMode::SGR_MOUSE),
            alt_screen: mode.contains(TermMode::ALT_SCREEN),
        }
    }

    /// The emulator itself, for renderers that walk its grid.
    pub fn term(&self) -> &Term<Requests> {
        &self.term
    }

    /// Scrolls this screen's own view into history (positive) or back
    /// toward the live screen (negative), in lines. (Viewers scroll their
    /// frames instead: see `frame`.)
    pub fn scroll(&mut self, lines: i32) {
        let view = (self.view as i64 + i64::from(lines)).max(0) as usize;
        self.view = view.min(self.history_len());
    }

    pub fn scroll_to_bottom(&mut self) {
        self.view = 0;
    }

    /// How many lines the view is scrolled back; 0 shows the live screen.
    pub fn display_offset(&self) -> usize {
        self.view.min(self.history_len())
    }

    /// Lines of history kept above the screen, in the grid and compact.
    /// The alternate screen has none of its own.
    pub fn history_len(&self) -> usize {
        let grid = self.term.grid().history_size();
        if self.term.mode().contains(TermMode::ALT_SCREEN) {
            grid
        } else {
            self.history.len() + grid
        }
    }

    /// Bytes the compact history holds.
    pub fn compact_history_bytes(&self) -> usize {
        self.history.heap_bytes()
    }

    /// Of the history, the rows kept compact (not in the grid).
    pub fn compact_history_len(&self) -> usize {
        self.history_len() - self.term.grid().history_size()
    }

    /// Where line `line` is kept: 0 is the top of the live screen,
    /// negative lines are history.
    fn at(&self, line: i32) -> Option<At<'_>> {
        let grid = self.term.grid().history_size() as i32;
        if line >= -grid {
            return Some(At::Grid(Line(line)));
        }
        let index = self.history_len() as i32 + line;
        let index = usize::try_from(index).ok()?;
        self.history.row(index).map(At::Stored)
    }

    /// One line of text as shown, `row` counted from the top of the view;
    /// wide characters appear once, trailing blanks are trimmed.
    pub fn row_text(&self, row: usize) -> String {
        let offset = self.display_offset() as i32;
        self.line_text(row as i32 - offset)
    }

    /// A line by position (0 is the top of the live screen, negative
    /// lines are history) as text.
    fn line_text(&self, line: i32) -> String {
        match self.at(line) {
            Some(At::Grid(line)) => self.grid_line_text(line),
            Some(At::Stored(row)) => row.text().to_string(),
            None => String::new(),
        }
    }

    fn grid_line_text(&self, line: Line) -> String {
        let grid = self.term.grid();
        let mut text = String::with_capacity(grid.columns());
        for col in 0..grid.columns() {
            let cell = &grid[line][Column(col)];
            if cell
                .flags
                .intersects(Flags::WIDE_CHAR_SPACER | Flags::LEADING_WIDE_CHAR_SPACER)
            {
                continue;
            }
            text.push(cell.c);
            if let Some(zero_width) = cell.zerowidth() {
                text.extend(zero_width);
            }
        }
        text.truncate(text.trim_end().len());
        text
    }

    /// The visible screen as text, one line per row.
    pub fn text(&self) -> String {
        let rows: Vec<String> = (0..self.term.screen_lines())
            .map(|row| self.row_text(row))
            .collect();
        rows.join("\n")
    }

    /// The last `count` non-blank lines of the live screen (ignoring
    /// scrolling), for prompt detection.
    pub fn tail_lines(&self, count: usize) -> Vec<String> {
        let mut lines: Vec<String> = (0..self.term.screen_lines() as i32)
            .rev()
            .map(|row| self.line_text(row))
            .filter(|line| !line.is_empty())
            .take(count)
            .collect();
        lines.reverse();
        lines
    }

    /// The last `count` non-blank lines of the live screen as the program
    /// wrote them: rows the terminal wrapped are joined again.
    pub fn tail_logical_lines(&self, count: usize) -> Vec<String> {
        let grid = self.term.grid();
        let columns = grid.columns();
        let rows = self.term.screen_lines() as i32;
        let wrapped = |row: i32| {
            columns > 0
                && grid[Line(row)][Column(columns - 1)]
                    .flags
                    .contains(Flags::WRAPLINE)
        };
        let mut lines = Vec::new();
        let mut row = rows - 1;
        while row >= 0 && lines.len() < count {
            // Back to the first row of the logical line that ends here.
            let mut start = row;
            while start > 0 && wrapped(start - 1) {
                start -= 1;
            }
            let text: String = (start..=row).map(|r| self.line_text(r)).collect();
            if !text.trim().is_empty() {
                lines.push(text);
            }
            row = start - 1;
        }
        lines.reverse();
        lines
    }

    /// Lines of history and screen containing `needle`, newest first, as
    /// scroll offsets that bring each to the top of the view.
    pub fn search(&self, needle: &str) -> Vec<usize> {
        if needle.is_empty() {
            return Vec::new();
        }
        let history = self.history_len() as i32;
        let rows = self.term.screen_lines() as i32;
        (-history..rows)
            .rev()
            .filter(|&line| self.line_text(line).contains(needle))
            .map(|line| (-line).max(0) as usize)
            .collect()
    }

    /// Where the cursor is, as (row, column) of the live screen.
    pub fn cursor(&self) -> (usize, usize) {
        let point = self.term.grid().cursor.point;
        (point.line.0.max(0) as usize, point.column.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pane::{PaneColor, Style};

    fn screen(cols: u16, rows: u16) -> Screen {
        Screen::new(Size { cols, rows }, 100)
    }

    #[test]
    fn the_last_lines_as_written_join_the_rows_the_terminal_wrapped() {
        let mut s = screen(10, 5);
        s.feed(b"first\r\nMigrate it to UTC? [y/n]");
        assert_eq!(s.tail_lines(1), ["y/n]"]);
        assert_eq!(
            s.tail_logical_lines(2),
            ["first", "Migrate it to UTC? [y/n]"]
        );
    }

    #[test]
    fn answers_device_attributes_and_cursor_position() {
        let mut s = screen(20, 5);
        let fed = s.feed(b"ab\x1b[6n\x1b[c");
        let replies = String::from_utf8(fed.replies).unwrap();
        assert!(replies.starts_with("\x1b[1;3R"), "{replies:?}");
        assert!(replies.contains("\x1b[?6c"), "{replies:?}");
    }

    #[test]
    fn answers_color_queries_with_a_default_palette() {
        let mut s = screen(20, 5);
        let fed = s.feed(b"\x1b]11;?\x07");
        let replies = String::from_utf8(fed.replies).unwrap();
        assert!(
            replies.starts_with("\x1b]11;rgb:0000/0000/0000"),
            "{replies:?}"
        );
    }

    #[test]
    fn title_and_clipboard_requests_go_nowhere() {
        let mut s = screen(20, 5);
        let fed = s.feed(b"\x1b]0;pwned\x07\x1b]52;c;aGk=\x07x");
        assert_eq!(fed, Fed::default());
        assert_eq!(s.row_text(0), "x");
    }

    #[test]
    fn mouse_tracking_modes_are_told_apart() {
        let mut s = screen(20, 5);
        assert_eq!(s.input_modes(), InputModes::default());
        s.feed(b"\x1b[?1000h");
        assert_eq!(s.input_modes().mouse, MouseTracking::Clicks);
        s.feed(b"\x1b[?1002h\x1b[?1006h");
        assert_eq!(s.input_modes().mouse, MouseTracking::Drags);
        assert!(s.input_modes().sgr_mouse);
        s.feed(b"\x1b[?1003h");
        assert_eq!(s.input_modes().mouse, MouseTracking::Motion);
        s.feed(b"\x1b[?1003l\x1b[?1006l");
        assert_eq!(s.input_modes().mouse, MouseTracking::Off);
        assert!(!s.input_modes().sgr_mouse);
        s.feed(b"\x1b[?1049h\x1b[?1h");
        let modes = s.input_modes();
        assert!(modes.alt_screen && modes.app_cursor, "{modes:?}");
    }

    #[test]
    fn bell_is_reported() {
        let mut s = screen(20, 5);
        assert!(s.feed(b"done?\x07").bell);
    }

    #[test]
    fn wide_characters_appear_once() {
        let mut s = screen(20, 3);
        s.feed("漢字 ok".as_bytes());
        assert_eq!(s.row_text(0), "漢字 ok");
    }

    #[test]
    fn resize_reflows_wrapped_lines() {
        let mut s = screen(10, 4);
        s.feed(b"0123456789abcdef");
        assert_eq!(s.row_text(0), "0123456789");
        s.resize(Size { cols: 20, rows: 4 });
        assert_eq!(s.row_text(0), "0123456789abcdef");
    }

    #[test]
    fn scrollback_is_bounded_and_searchable() {
        let mut s = screen(20, 3);
        for i in 0..300 {
            s.feed(format!("line {i}\r\n").as_bytes());
        }
        assert_eq!(s.history_len(), 100);
        let hits = s.search("line 250");
        assert_eq!(hits.len(), 1);
        s.scroll(hits[0] as i32);
        assert_eq!(s.row_text(0), "line 250");
        s.scroll_to_bottom();
        assert_eq!(s.display_offset(), 0);
    }

    /// Every line of history and screen, oldest first.
    fn all_lines(s: &Screen) -> Vec<String> {
        let history = s.history_len() as i32;
        (-history..i32::from(s.size().rows))
            .map(|line| s.line_text(line))
            .collect()
    }

    fn numbered(lines: &[String]) -> Vec<usize> {
        lines
            .iter()
            .filter_map(|l| l.strip_prefix("line ")?.split(' ').next()?.parse().ok())
            .collect()
    }

    /// Fails naming the first line out of place rather than printing
    /// thousands of numbers.
    fn assert_consecutive(numbers: &[usize], first: usize, last: usize) {
        for (i, n) in numbers.iter().enumerate() {
            assert_eq!(*n, first + i, "line {} is out of place", first + i);
        }
        assert_eq!(numbers.last(), Some(&last), "{} lines kept", numbers.len());
    }

    #[test]
    fn old_history_moves_out_of_the_grid_and_reads_as_one_scrollback() {
        let mut s = Screen::new(Size { cols: 30, rows: 5 }, 5_000);
        for i in 0..4_000 {
            s.feed(format!("line {i} \x1b[31mred\x1b[0m\r\n").as_bytes());
        }
        assert!(
            s.compact_history_len() > 2_000,
            "{}",
            s.compact_history_len()
        );
        assert!(s.term().grid().history_size() <= GRID_HISTORY);
        let lines = all_lines(&s);
        assert_consecutive(&numbered(&lines), 0, 3_999);
        // A compact row keeps its styles in a frame.
        let (rows, scroll) = s.frame_lines(s.history_len());
        assert_eq!(scroll, s.history_len());
        assert_eq!(rows[0][0].text, "line 0 ");
        assert_eq!(rows[0][1].text, "red");
        assert_eq!(rows[0][1].style.fg, PaneColor::indexed(1));
        assert_eq!(s.search("line 12 ").len(), 1);
        s.scroll(i32::MAX);
        assert_eq!(s.row_text(0), "line 0 red");
        // Past the plan's scrollback the oldest go.
        for i in 4_000..7_000 {
            s.feed(format!("line {i}\r\n").as_bytes());
        }
        // The grid moves rows out in batches, so the history is between
        // a batch and a screen short of the scrollback, and the scrollback.
        let kept = s.history_len();
        assert!((5_000 - 300..=5_000).contains(&kept), "{kept}");
        let kept = numbered(&all_lines(&s));
        assert_consecutive(&kept, 7_000 - kept.len(), 6_999);
    }

    /// Feeds `lines` in chunks of 100, the first at `at` and each next
    /// `step` later, as the reader would; returns when the next would be.
    fn feed_timed(
        s: &mut Screen,
        lines: std::ops::Range<usize>,
        mut at: Instant,
        step: Duration,
    ) -> Instant {
        for chunk in lines.collect::<Vec<_>>().chunks(100) {
            let text: String = chunk
                .iter()
                .map(|i| format!("line {i} \x1b[33mwarn\x1b[0m\r\n"))
                .collect();
            let fed = s.feed(text.as_bytes());
            assert_eq!(fed.lines, chunk.len());
            s.follow_flood(fed.lines, at);
            at += step;
        }
        at
    }

    #[test]
    fn a_flood_keeps_its_rows_in_the_grid_and_the_scrollback_stays_whole() {
        let mut s = Screen::new(Size { cols: 30, rows: 5 }, 5_000);
        let start = Instant::now();
        // 1,000 lines a second: no flood; rows move out as usual.
        feed_timed(&mut s, 0..1_500, start, Duration::from_millis(100));
        assert!(s.flood.hold.is_none());
        assert!(s.compact_history_len() > 0);
        // 50,000 lines a second: a flood, once a window has passed.
        let fast = Duration::from_millis(2);
        let at = feed_timed(&mut s, 1_500..8_000, start + Duration::from_secs(20), fast);
        assert!(s.flood.hold.is_some(), "a flood");
        assert!(s.term().grid().history_size() > GRID_HISTORY);
        assert!(s.history_len() <= 5_000, "{}", s.history_len());
        let kept = numbered(&all_lines(&s));
        assert_consecutive(&kept, 8_000 - kept.len(), 7_999);
        assert_eq!(kept.len(), 5_004);
        // Past the scrollback: the compact rows go first, then the grid
        // drops its own oldest; the scrollback reads as one throughout.
        let at = feed_timed(&mut s, 8_000..20_000, at, fast);
        assert_eq!(s.compact_history_len(), 0, "the grid holds it all");
        assert_eq!(s.history_len(), 5_000);
        let kept = numbered(&all_lines(&s));
        assert_consecutive(&kept, 20_000 - kept.len(), 19_999);
        let frame = s.frame_lines(4_000).0;

        // The lines slow down: the flood ends, the grid's rows move out.
        let at = feed_timed(&mut s, 20_000..20_300, at, Duration::from_millis(100));
        assert!(s.flood.hold.is_none(), "the flood is over");
        assert_eq!(s.term().grid().history_size(), 0);
        let kept = numbered(&all_lines(&s));
        assert_consecutive(&kept, 20_300 - kept.len(), 20_299);
        assert_eq!(kept.len(), 5_004);
        // 300 lines later, the same rows as far from the bottom.
        assert_eq!(s.frame_lines(4_300).0, frame);
        feed_timed(&mut s, 20_300..21_500, at, Duration::from_millis(100));
        let kept = numbered(&all_lines(&s));
        assert_consecutive(&kept, 21_500 - kept.len(), 21_499);
        assert!(s.history_len() <= 5_000, "{}", s.history_len());
    }

    /// A flood that filled the grid leaves the compact history no room;
    /// cleared, then ended with nothing in the grid to move, the screen
    /// must still move rows out (and keep them) once lines come slowly.
    #[test]
    fn a_flood_cleared_away_leaves_the_scrollback_working() {
        let mut s = Screen::new(Size { cols: 30, rows: 5 }, 3_000);
        let start = Instant::now();
        let fast = Duration::from_millis(2);
        let at = feed_timed(&mut s, 0..8_000, start, fast);
        assert!(s.flood.hold.is_some());
        assert_eq!(s.compact_history_len(), 0, "the grid holds it all");
        // `clear` as ncurses sends it: the screen and the scrollback.
        s.feed(b"\x1b[H\x1b[2J\x1b[3J");
        assert_eq!(s.history_len(), 0);
        // A prompt, a line a while later: the flood ends with nothing in
        // the grid's history to move.
        let slow = Duration::from_millis(100);
        let at = feed_timed(&mut s, 8_000..8_001, at + Duration::from_secs(1), slow);
        let at = feed_timed(&mut s, 8_001..8_002, at + Duration::from_secs(1), slow);
        assert_eq!(s.term().grid().history_size(), 0);
        assert!(s.flood.hold.is_none(), "the flood is over");
        feed_timed(&mut s, 8_002..10_700, at, slow);
        let kept = numbered(&all_lines(&s));
        assert_consecutive(&kept, 10_700 - kept.len(), 10_699);
        assert_eq!(kept.len(), 2_700, "every line since the clear");
    }

    /// A screen whose grid gave its rows to the compact store (quiet, or
    /// after a flood) keeps every line of its scrollback through resizes.
    #[test]
    fn a_compacted_screen_keeps_its_whole_scrollback_through_a_resize() {
        let mut s = Screen::new(Size { cols: 30, rows: 5 }, 3_000);
        for i in 0..4_000 {
            s.feed(format!("line {i}\r\n").as_bytes());
        }
        assert!(s.compact());
        let first = numbered(&all_lines(&s))[0];
        for (size, case) in [
            (Size { cols: 30, rows: 7 }, "taller"),
            (Size { cols: 30, rows: 4 }, "shorter"),
            (Size { cols: 24, rows: 4 }, "narrower"),
            (Size { cols: 30, rows: 5 }, "as it was"),
        ] {
            s.resize(size);
            let kept = numbered(&all_lines(&s));
            assert_consecutive(&kept, 4_000 - kept.len(), 3_999);
            assert_eq!(kept[0], first, "{case}: the oldest lines went");
        }
        // A resize while a full-screen program runs keeps them too.
        s.feed(b"\x1b[?1049h");
        s.resize(Size { cols: 30, rows: 7 });
        s.feed(b"\x1b[?1049l");
        let kept = numbered(&all_lines(&s));
        assert_eq!(
            kept[0], first,
            "the alternate screen: the oldest lines went"
        );
    }

    #[test]
    fn a_quiet_screen_gives_its_grid_back_and_loses_no_line() {
        let mut s = Screen::new(Size { cols: 30, rows: 5 }, 5_000);
        for i in 0..2_500 {
            s.feed(format!("line {i} \x1b[32mok\x1b[0m\r\n").as_bytes());
        }
        let before = all_lines(&s);
        let (frame_before, _) = s.frame_lines(700);
        assert!(s.compactable());
        assert!(s.compact());
        assert_eq!(s.term().grid().history_size(), 0);
        assert!(!s.compactable(), "nothing left to give back");
        assert!(!s.compact());
        assert_eq!(all_lines(&s), before);
        assert_eq!(s.frame_lines(700).0, frame_before);
        // The grid grows again below the moved rows.
        for i in 2_500..4_000 {
            s.feed(format!("line {i}\r\n").as_bytes());
        }
        assert_consecutive(&numbered(&all_lines(&s)), 0, 3_999);
        // A full scrollback compacted keeps all of it; the next batch
        // puts the plan's bound back.
        for i in 4_000..9_000 {
            s.feed(format!("line {i}\r\n").as_bytes());
        }
        let before = all_lines(&s);
        assert!(s.compact());
        assert_eq!(all_lines(&s), before);
        for i in 9_000..10_500 {
            s.feed(format!("line {i}\r\n").as_bytes());
        }
        assert!(s.history_len() <= 5_000, "{}", s.history_len());
        let kept = numbered(&all_lines(&s));
        assert_consecutive(&kept, 10_500 - kept.len(), 10_499);
    }

    #[test]
    fn rows_moved_out_keep_blanks_styles_wide_and_combining_characters() {
        let mut s = Screen::new(Size { cols: 12, rows: 3 }, 5_000);
        let output = concat!(
            "ab  \x1b[41m  \x1b[0m  \r\n",
            "x\u{301}\u{6f22}\u{5b57}!\r\n",
            "abcdefghij  kl\r\n",
            "\x1b[44m   \x1b[0m\r\n",
            "\r\n",
            "\x1b[1mbold\x1b[0m \x1b[1m\x1b[0mend\r\n",
        );
        s.feed(output.as_bytes());
        s.feed(b"1\r\n2\r\n3\r\n");
        assert!(s.compact());
        let history = s.history_len();
        let stored = |i: usize| s.frame_lines(history - i).0.swap_remove(0);
        let run = |text: &str, style: Style| crate::domain::pane::Run {
            text: text.into(),
            style,
        };
        let plain = Style::default();
        let bg = |index| Style {
            bg: PaneColor::indexed(index),
            ..Style::default()
        };
        let bold = Style {
            attrs: crate::domain::pane::attrs::BOLD,
            ..Style::default()
        };
        // Blanks inside a row stay; trailing default ones go, styled ones stay.
        assert_eq!(stored(0), vec![run("ab  ", plain), run("  ", bg(1))]);
        assert_eq!(stored(1), vec![run("x\u{301}\u{6f22}\u{5b57}!", plain)]);
        // A wrapped row keeps its trailing blanks: they are in its line.
        assert_eq!(stored(2), vec![run("abcdefghij  ", plain)]);
        assert_eq!(stored(3), vec![run("kl", plain)]);
        assert_eq!(stored(4), vec![run("   ", bg(4))]);
        assert_eq!(stored(5), vec![]);
        assert_eq!(stored(6), vec![run("bold", bold), run(" end", plain)]);
    }

    #[test]
    fn no_line_is_lost_when_one_chunk_scrolls_a_screenful_at_a_time() {
        let mut s = Screen::new(Size { cols: 20, rows: 10 }, 20_000);
        // Each numbered line is followed by a scroll of the whole screen
        // (`CSI 10 S`): one call pushing ten rows, in one big chunk.
        let mut chunk = String::new();
        for i in 0..1_500 {
            chunk.push_str(&format!("line {i}\x1b[10S\r\n"));
        }
        s.feed(chunk.as_bytes());
        let lines = all_lines(&s);
        assert_consecutive(&numbered(&lines), 0, 1_499);
    }

    #[test]
    fn compact_history_rewraps_on_resize() {
        let mut s = Screen::new(Size { cols: 10, rows: 3 }, 5_000);
        for i in 0..1_000 {
            s.feed(format!("line {i} abcdefghij\r\n").as_bytes());
        }
        assert!(s.compact_history_len() > 0);
        s.resize(Size { cols: 40, rows: 3 });
        let lines = all_lines(&s);
        assert!(
            lines.contains(&"line 3 abcdefghij".to_string()),
            "{:?}",
            &lines[..5]
        );
        assert_consecutive(&numbered(&lines), 0, 999);
        s.resize(Size { cols: 6, rows: 3 });
        let lines = all_lines(&s);
        let at = lines.iter().position(|l| l == "line 3").unwrap();
        assert_eq!(lines[at + 1..at + 4], [" abcde", "fghij", "line 4"]);
    }

    #[test]
    fn clearing_saved_lines_and_a_reset_forget_the_compact_history_too() {
        let mut s = Screen::new(Size { cols: 20, rows: 3 }, 5_000);
        let fill = |s: &mut Screen| {
            for i in 0..2_000 {
                s.feed(format!("line {i}\r\n").as_bytes());
            }
        };
        fill(&mut s);
        assert!(s.compact_history_len() > 0);
        s.feed(b"\x1b[3J");
        assert_eq!(s.history_len(), 0);
        fill(&mut s);
        s.feed(b"\x1bc");
        assert_eq!(s.history_len(), 0);
        // The alternate screen shows no history, and keeps it for after.
        fill(&mut s);
        let before = s.history_len();
        s.feed(b"\x1b[?1049h");
        assert_eq!(s.history_len(), 0);
        s.feed(b"\x1b[?1049l");
        assert_eq!(s.history_len(), before);
    }

    #[test]
    fn a_line_across_the_tier_boundary_rewraps_whole_twice() {
        let mut s = Screen::new(Size { cols: 10, rows: 3 }, 5_000);
        for i in 0..1_200 {
            s.feed(format!("line {i}\r\n").as_bytes());
        }
        let long: String = (0..50).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        s.feed(long.as_bytes());
        s.resize(Size { cols: 20, rows: 3 });
        for i in 0..1_200 {
            s.feed(format!("\r\nmore {i}").as_bytes());
        }
        s.resize(Size { cols: 60, rows: 3 });
        let lines = all_lines(&s);
        assert!(lines.contains(&long), "{:?}", &lines[1190..1210]);
    }

    #[test]
    fn no_line_is_lost_when_the_screen_shrinks_after_a_scroll_of_a_screenful() {
        let mut s = Screen::new(Size { cols: 20, rows: 40 }, 20_000);
        let mut n = 0;
        // Lines until the grid's history is a screenful short of its
        // limit, then one call (`CSI 40 S`) fills it.
        while n < 2_000 || s.term.grid().history_size() + 40 != s.grid_limit {
            s.feed(format!("line {n}\r\n").as_bytes());
            n += 1;
        }
        s.feed(b"\x1b[40S");
        assert_eq!(s.term.grid().history_size(), s.grid_limit);
        // A shorter screen pushes the rows above the cursor into history.
        s.resize(Size { cols: 20, rows: 10 });
        let numbers: Vec<usize> = all_lines(&s)
            .iter()
            .filter_map(|l| l.strip_prefix("line ")?.parse().ok())
            .collect();
        assert_eq!(numbers, (0..n).collect::<Vec<_>>());
    }

    #[test]
    fn no_line_is_lost_when_the_width_shrinks_on_the_alternate_screen() {
        let mut s = Screen::new(Size { cols: 40, rows: 5 }, 20_000);
        for i in 0..3_000 {
            s.feed(format!("line {i:04} {}\r\n", "x".repeat(25)).as_bytes());
        }
        s.feed(b"\x1b[?1049h");
        s.resize(Size { cols: 20, rows: 5 });
        s.feed(b"\x1b[?1049l");
        let numbers: Vec<usize> = all_lines(&s)
            .iter()
            .filter_map(|l| l.strip_prefix("line ")?.split(' ').next()?.parse().ok())
            .collect();
        assert_eq!(numbers, (0..3_000).collect::<Vec<_>>());
    }

    /// alacritty's own terminal, all history in its grid: what a pane
    /// must show after the same bytes and resizes.
    struct Reference {
        term: Term<Requests>,
        parser: Processor,
    }

    impl Reference {
        fn new(size: Size) -> Self {
            let config = Config {
                scrolling_history: 100_000,
                ..Config::default()
            };
            Reference {
                term: Term::new(config, &size, Requests::default()),
                parser: Processor::new(),
            }
        }

        fn feed(&mut self, bytes: &[u8]) {
            self.parser.advance(&mut self.term, bytes);
        }

        fn rows(&self) -> Vec<String> {
            let grid = self.term.grid();
            (0..grid.screen_lines())
                .map(|line| {
                    let row = &grid[Line(line as i32)];
                    let text: String = (0..grid.columns())
                        .map(|col| &row[Column(col)])
                        .filter(|cell| !cell.flags.contains(Flags::WIDE_CHAR_SPACER))
                        .map(|cell| if cell.c == '\0' { ' ' } else { cell.c })
                        .collect();
                    text.trim_end().to_owned()
                })
                .collect()
        }

        fn cursor(&self) -> (usize, usize) {
            let point = self.term.grid().cursor.point;
            (point.line.0.max(0) as usize, point.column.0)
        }
    }

    /// The live screen's rows as text.
    fn shown_rows(screen: &Screen) -> Vec<String> {
        (0..usize::from(screen.size().rows))
            .map(|r| screen.row_text(r))
            .collect()
    }

    /// A full-screen program's start: the alternate screen, cleared, each
    /// row written from its first column to its last.
    fn full_screen_program(word: &str, cols: u16, rows: u16) -> Vec<u8> {
        let mut program = b"\x1b[?1049h\x1b[H\x1b[2J".to_vec();
        for row in 1..=rows {
            program.extend_from_slice(
                format!("\x1b[{row};1H{word} {row}\x1b[{row};{cols}H|").as_bytes(),
            );
        }
        program
    }

    /// Rows the alternate screen's grid holds now, from the primary one.
    fn alternate_rows(screen: &mut Screen) -> usize {
        let mut rows = 0;
        alt::with_alternate_grid(&mut screen.term, |grid| rows = grid.total_lines());
        rows
    }

    #[test]
    fn a_quiet_screen_spares_the_alternate_grid_and_programs_find_it_whole() {
        let size = Size { cols: 60, rows: 12 };
        let mut screen = Screen::new(size, 1_000);
        let mut reference = Reference::new(size);
        let both = |screen: &mut Screen, reference: &mut Reference, bytes: &[u8]| {
            screen.feed(bytes);
            reference.feed(bytes);
        };
        // A shell's output, the cursor saved (DECSC) at "here", then moved.
        let mut session = Vec::new();
        for i in 0..40 {
            session.extend_from_slice(format!("line {i}\r\n").as_bytes());
        }
        session.extend_from_slice(b"here\x1b7 and on\r\n$ ");
        both(&mut screen, &mut reference, &session);
        assert_eq!(alternate_rows(&mut screen), 12);
        assert!(screen.compact());
        assert_eq!(alternate_rows(&mut screen), 1, "spared once quiet");
        // The saved cursor survives the sparing: DECRC goes back to it.
        both(&mut screen, &mut reference, b"\x1b8X");
        assert_eq!(screen.cursor(), reference.cursor());
        // A full-screen program: the alternate screen, drawn to its last
        // row and column, then left.
        both(
            &mut screen,
            &mut reference,
            &full_screen_program("row", 60, 12),
        );
        assert_eq!(
            shown_rows(&screen),
            reference.rows(),
            "on the alternate screen"
        );
        assert_eq!(screen.cursor(), reference.cursor());
        both(&mut screen, &mut reference, b"\x1b[?1049l");
        assert_eq!(
            shown_rows(&screen),
            reference.rows(),
            "back on the primary screen"
        );
        assert_eq!(screen.cursor(), reference.cursor());
        assert!(screen.compact());
        assert_eq!(alternate_rows(&mut screen), 1);
        // Spared, then resized (alacritty gives it back whole), spared
        // again, resized to the same size (nothing given back), then used.
        let wider = Size { cols: 80, rows: 20 };
        screen.resize(wider);
        reference.term.resize(wider);
        assert_eq!(alternate_rows(&mut screen), 20);
        assert!(screen.compact());
        screen.resize(wider);
        assert_eq!(alternate_rows(&mut screen), 1);
        both(
            &mut screen,
            &mut reference,
            &full_screen_program("wide", 80, 20),
        );
        assert_eq!(
            shown_rows(&screen),
            reference.rows(),
            "on the alternate screen, wider"
        );
        both(
            &mut screen,
            &mut reference,
            b"\x1b[?1049l\x1bcafter reset\r\n",
        );
        assert_eq!(shown_rows(&screen), reference.rows(), "after a reset");
        assert!(screen.compact());
        both(&mut screen, &mut reference, b"\x1b[?1049h\x1b[5;5Hin");
        assert_eq!(
            shown_rows(&screen),
            reference.rows(),
            "after a reset, then the alternate screen"
        );
    }

    #[test]
    fn a_pane_that_grows_refills_from_its_history_as_alacritty_does() {
        // A shell session: prompts, commands, output long enough to wrap,
        // colors and wide characters, well past the grid's own history.
        let mut session = Vec::new();
        for i in 0..1_500 {
            session.extend_from_slice(format!("\x1b[32m$\x1b[0m echo {i}\r\n").as_bytes());
            let long = "ab".repeat(i % 50);
            session.extend_from_slice(format!("out {i} {long} 界\r\n").as_bytes());
        }
        session.extend_from_slice(b"\x1b[32m$\x1b[0m ");
        let start = Size { cols: 80, rows: 24 };
        let mut screen = Screen::new(start, 10_000);
        let mut reference = Reference::new(start);
        screen.feed(&session);
        reference.feed(&session);
        // Narrower, then wider and taller (a grid of panes, then one full
        // screen), then back, then taller only.
        for (cols, rows) in [(40, 10), (120, 40), (80, 24), (80, 50), (30, 8), (200, 60)] {
            let size = Size { cols, rows };
            screen.resize(size);
            reference.term.resize(size);
            assert_eq!(shown_rows(&screen), reference.rows(), "at {cols}x{rows}");
            // Styles too: the prompts' green comes back with the rows.
            let styled =
                |grid: &alacritty_terminal::grid::Grid<alacritty_terminal::term::cell::Cell>| {
                    (0..grid.screen_lines())
                        .flat_map(|line| {
                            let row = &grid[Line(line as i32)];
                            (0..grid.columns())
                                .map(|col| &row[Column(col)])
                                .filter(|cell| cell.c != ' ' && cell.c != '\0')
                                .map(|cell| (line, cell.c, frame::cell_style(cell)))
                                .collect::<Vec<_>>()
                        })
                        .collect::<Vec<_>>()
                };
            assert_eq!(
                styled(screen.term.grid()),
                styled(reference.term.grid()),
                "at {cols}x{rows}"
            );
            assert_eq!(screen.cursor(), reference.cursor(), "at {cols}x{rows}");
            screen.feed(b"ls\r\nfile\r\n\x1b[32m$\x1b[0m ");
            reference.feed(b"ls\r\nfile\r\n\x1b[32m$\x1b[0m ");
        }
    }
}
