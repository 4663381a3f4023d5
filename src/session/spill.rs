//! The parser's handler in front of the emulator: every call goes on to
//! alacritty's `Term` unchanged, but first the grid's history is given
//! room, its oldest rows moving to the compact [`History`].
//!
//! No single call can push more rows into the grid's history than the
//! screen has (a line feed pushes one, a scroll or a clear at most the
//! scrolling region), so keeping `rows` free before each call means the
//! grid never drops a row on its own: every row that leaves the grid's
//! history arrives in the compact one, in order. During a flood (see
//! `Screen::follow_flood`) it is the other way round: nothing moves, the
//! compact rows give way after each call, and the grid, holding the whole
//! scrollback, drops its own oldest rows.

use alacritty_terminal::Term;
use alacritty_terminal::grid::{Dimensions, Row};
use alacritty_terminal::index::{Column, Line};
use alacritty_terminal::term::TermMode;
use alacritty_terminal::term::cell::{Cell, Flags};
use alacritty_terminal::vte::ansi::{
    Attr, CharsetIndex, ClearMode, Color as TermColor, CursorShape, CursorStyle, Handler,
    Hyperlink, KeyboardModes, KeyboardModesApplyBehavior, LineClearMode, Mode, ModifyOtherKeys,
    NamedColor, NamedPrivateMode, PrivateMode, Rgb, ScpCharPath, ScpUpdateMode, StandardCharset,
    TabulationClearMode, cursor_icon::CursorIcon,
};

use super::history::{History, RowBuilder};
use super::screen::{Requests, cell_style};
use crate::domain::pane::Style;

/// Rows moved at once when the grid's history is nearly full: moving in
/// batches keeps the cost per line feed at one comparison.
const BATCH: usize = 256;

/// `Term` as the parser sees it while one chunk of output is read.
pub struct Spill<'a> {
    pub term: &'a mut Term<Requests>,
    pub history: &'a mut History,
    /// Rows of history the grid keeps (its `scrolling_history`).
    pub grid_limit: usize,
    /// Rows the compact history keeps beside the grid's: raised to the
    /// whole scrollback while the grid holds none (`Screen::compact`),
    /// put back here when rows move again.
    pub history_cap: usize,
    pub row: &'a mut RowBuilder,
    /// Set during a flood (see `Screen`'s `Flood`): the grid keeps the
    /// whole `scrollback` itself and nothing moves; the compact history
    /// only gives up its oldest rows as the grid's grow.
    pub flood_scrollback: Option<usize>,
    /// Line feeds seen, for telling a flood.
    pub lines: usize,
    /// The alternate screen's grid is down to one row: it gets its size
    /// back before a program switches to it (`screen/alt.rs`).
    pub alt_spared: &'a mut bool,
}

impl Spill<'_> {
    /// Frees room for one call's worth of rows in the grid's history.
    fn make_room(&mut self) {
        // The plan's share, not the history's bound now: a flood may have
        // lowered that to nothing.
        if self.history_cap == 0 || self.flood_scrollback.is_some() {
            return;
        }
        let grid = self.term.grid();
        let kept = grid.history_size();
        let rows = grid.screen_lines();
        if kept + rows > self.grid_limit {
            if self.history.cap() != self.history_cap {
                self.history.set_cap(self.history_cap);
            }
            let count = (kept + rows + BATCH - self.grid_limit).min(kept);
            move_oldest(self.term, self.history, self.row, count, self.grid_limit);
        }
    }
}

impl Spill<'_> {
    /// During a flood, after each call: the grid's rows are the newest,
    /// so the older compact ones give way to them, and the two together
    /// hold the scrollback. Once the grid holds it all, it drops its own
    /// oldest row as the next comes, never read.
    #[inline]
    fn give_way(&mut self) {
        if let Some(scrollback) = self.flood_scrollback {
            let room = scrollback.saturating_sub(self.term.grid().history_size());
            if self.history.len() > room {
                self.history.set_cap(room);
            }
        }
    }
}

/// Moves the `count` oldest rows of the grid's history into `history`
/// (the active grid's: nothing on the alternate screen, which keeps none),
/// leaving the grid's limit at `grid_limit`.
pub fn move_oldest(
    term: &mut Term<Requests>,
    history: &mut History,
    row: &mut RowBuilder,
    count: usize,
    grid_limit: usize,
) {
    let grid = term.grid_mut();
    let kept = grid.history_size();
    let count = count.min(kept);
    if count == 0 {
        return;
    }
    let columns = grid.columns();
    for i in 0..count {
        let line = Line(i as i32 - kept as i32);
        let wrapped = store_row(&grid[line], columns, row);
        history.push(row, wrapped);
    }
    // Lowering the limit drops the oldest rows; raising it again keeps
    // their memory for the next lines to reuse.
    grid.update_history(kept - count);
    grid.update_history(grid_limit);
}

/// Writes a grid row into `row` as text and styles; returns whether it
/// wraps onto the next row.
///
/// One pass, front to back: the row has usually left the caches by now,
/// so each cell is read once, in the order the prefetcher expects. Blanks
/// in the default style wait until something follows them: trailing ones
/// carry nothing and are dropped (a wrapped row keeps them: they are part
/// of its line).
pub fn store_row(cells: &Row<Cell>, columns: usize, row: &mut RowBuilder) -> bool {
    row.clear();
    let wrapped = columns > 0 && cells[Column(columns - 1)].flags.contains(Flags::WRAPLINE);
    let mut blanks = 0usize;
    // Neighbouring cells mostly look alike: the style is worked out again,
    // and a piece started, only when colors or flags change.
    let mut last: Option<&Cell> = None;
    for col in 0..columns {
        let cell = &cells[Column(col)];
        if cell
            .flags
            .intersects(Flags::WIDE_CHAR_SPACER | Flags::LEADING_WIDE_CHAR_SPACER)
        {
            continue;
        }
        if is_blank(cell) {
            blanks += 1;
            continue;
        }
        if blanks > 0 {
            push_blanks(row, blanks);
            blanks = 0;
            last = None;
        }
        let same = last.is_some_and(|prev| {
            prev.fg == cell.fg && prev.bg == cell.bg && prev.flags == cell.flags
        });
        if !same {
            row.start_piece(cell_style(cell));
            last = Some(cell);
        }
        let c = if cell.c.is_control() || cell.c == '\0' {
            ' '
        } else {
            cell.c
        };
        row.push_in_piece(c);
        if let Some(marks) = cell.zerowidth() {
            for &mark in marks {
                row.push_in_piece(mark);
            }
        }
    }
    if wrapped && blanks > 0 {
        push_blanks(row, blanks);
    }
    row.end_pieces();
    wrapped
}

/// `count` blanks in the default style.
fn push_blanks(row: &mut RowBuilder, count: usize) {
    row.start_piece(Style::default());
    for _ in 0..count {
        row.push_in_piece(' ');
    }
}

/// Writes a stored row back into a grid row of the same width: the
/// inverse of [`store_row`], for a screen refilled from its history.
pub fn load_row(cells: &mut Row<Cell>, row: &RowBuilder, wrapped: bool) {
    let columns = cells.len();
    for col in 0..columns {
        cells[Column(col)] = Cell::default();
    }
    let mut col = 0;
    for (text, style) in row.pieces() {
        let template = styled_cell(style);
        for c in text.chars() {
            let width = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            if width == 0 {
                if col > 0 {
                    let base = if cells[Column(col - 1)]
                        .flags
                        .contains(Flags::WIDE_CHAR_SPACER)
                        && col > 1
                    {
                        col - 2
                    } else {
                        col - 1
                    };
                    cells[Column(base)].push_zerowidth(c);
                }
                continue;
            }
            if col + width > columns {
                break;
            }
            let mut cell = template.clone();
            cell.c = c;
            if width == 2 {
                cell.flags.insert(Flags::WIDE_CHAR);
                let mut spacer = template.clone();
                spacer.c = ' ';
                spacer.flags.insert(Flags::WIDE_CHAR_SPACER);
                cells[Column(col + 1)] = spacer;
            }
            cells[Column(col)] = cell;
            col += width;
        }
    }
    if wrapped && columns > 0 {
        cells[Column(columns - 1)].flags.insert(Flags::WRAPLINE);
    }
}

/// A blank cell in `style`: the inverse of `cell_style`.
fn styled_cell(style: Style) -> Cell {
    use crate::domain::pane::{ColorKind, attrs};
    let color = |c: crate::domain::pane::PaneColor, default: NamedColor| match c.kind() {
        ColorKind::Default => TermColor::Named(default),
        ColorKind::Indexed(i) => TermColor::Indexed(i),
        ColorKind::Rgb(r, g, b) => TermColor::Spec(Rgb { r, g, b }),
    };
    let mut cell = Cell {
        fg: color(style.fg, NamedColor::Foreground),
        bg: color(style.bg, NamedColor::Background),
        ..Cell::default()
    };
    for (bit, flag) in [
        (attrs::BOLD, Flags::BOLD),
        (attrs::DIM, Flags::DIM),
        (attrs::ITALIC, Flags::ITALIC),
        (attrs::UNDERLINE, Flags::UNDERLINE),
        (attrs::INVERSE, Flags::INVERSE),
        (attrs::HIDDEN, Flags::HIDDEN),
        (attrs::STRIKE, Flags::STRIKEOUT),
    ] {
        if style.attrs & bit != 0 {
            cell.flags.insert(flag);
        }
    }
    cell
}

fn is_blank(cell: &Cell) -> bool {
    if cell.c != ' ' && cell.c != '\0' || cell.zerowidth().is_some() {
        return false;
    }
    // Most blanks are untouched cells: the terminal's own colors, no
    // attributes. Only the others need their style worked out.
    let untouched = cell.fg == TermColor::Named(NamedColor::Foreground)
        && cell.bg == TermColor::Named(NamedColor::Background)
        && !cell.flags.intersects(STYLE_FLAGS);
    untouched || cell_style(cell) == Style::default()
}

/// The flags that change how a cell looks (`cell_style` reads them).
const STYLE_FLAGS: Flags = Flags::BOLD
    .union(Flags::DIM)
    .union(Flags::ITALIC)
    .union(Flags::INVERSE)
    .union(Flags::HIDDEN)
    .union(Flags::STRIKEOUT)
    .union(Flags::ALL_UNDERLINES);

macro_rules! delegate {
    ($(fn $name:ident(&mut self $(, $arg:ident: $ty:ty)*);)*) => {
        $(
            #[inline]
            fn $name(&mut self $(, $arg: $ty)*) {
                self.make_room();
                self.term.$name($($arg),*);
                self.give_way();
            }
        )*
    };
}

impl Handler for Spill<'_> {
    #[inline]
    fn linefeed(&mut self) {
        self.lines += 1;
        self.make_room();
        self.term.linefeed();
        self.give_way();
    }

    #[inline]
    fn newline(&mut self) {
        self.lines += 1;
        self.make_room();
        self.term.newline();
        self.give_way();
    }

    fn set_private_mode(&mut self, mode: PrivateMode) {
        let to_alternate = matches!(
            mode,
            PrivateMode::Named(NamedPrivateMode::SwapScreenAndSetRestoreCursor)
        );
        if to_alternate && *self.alt_spared && !self.term.mode().contains(TermMode::ALT_SCREEN) {
            super::screen::alt::restore(self.term);
            *self.alt_spared = false;
        }
        self.term.set_private_mode(mode);
    }

    delegate! {
        fn set_title(&mut self, title: Option<String>);
        fn set_cursor_style(&mut self, style: Option<CursorStyle>);
        fn set_cursor_shape(&mut self, shape: CursorShape);
        fn input(&mut self, c: char);
        fn goto(&mut self, line: i32, col: usize);
        fn goto_line(&mut self, line: i32);
        fn goto_col(&mut self, col: usize);
        fn insert_blank(&mut self, count: usize);
        fn move_up(&mut self, count: usize);
        fn move_down(&mut self, count: usize);
        fn identify_terminal(&mut self, intermediate: Option<char>);
        fn device_status(&mut self, arg: usize);
        fn move_forward(&mut self, col: usize);
        fn move_backward(&mut self, col: usize);
        fn move_down_and_cr(&mut self, row: usize);
        fn move_up_and_cr(&mut self, row: usize);
        fn put_tab(&mut self, count: u16);
        fn backspace(&mut self);
        fn carriage_return(&mut self);
        fn bell(&mut self);
        fn substitute(&mut self);
        fn set_horizontal_tabstop(&mut self);
        fn scroll_up(&mut self, count: usize);
        fn scroll_down(&mut self, count: usize);
        fn insert_blank_lines(&mut self, count: usize);
        fn delete_lines(&mut self, count: usize);
        fn erase_chars(&mut self, count: usize);
        fn delete_chars(&mut self, count: usize);
        fn move_backward_tabs(&mut self, count: u16);
        fn move_forward_tabs(&mut self, count: u16);
        fn save_cursor_position(&mut self);
        fn restore_cursor_position(&mut self);
        fn clear_line(&mut self, mode: LineClearMode);
        fn clear_tabs(&mut self, mode: TabulationClearMode);
        fn set_tabs(&mut self, interval: u16);
        fn reverse_index(&mut self);
        fn terminal_attribute(&mut self, attr: Attr);
        fn set_mode(&mut self, mode: Mode);
        fn unset_mode(&mut self, mode: Mode);
        fn report_mode(&mut self, mode: Mode);
        fn unset_private_mode(&mut self, mode: PrivateMode);
        fn report_private_mode(&mut self, mode: PrivateMode);
        fn set_scrolling_region(&mut self, top: usize, bottom: Option<usize>);
        fn set_keypad_application_mode(&mut self);
        fn unset_keypad_application_mode(&mut self);
        fn set_active_charset(&mut self, index: CharsetIndex);
        fn configure_charset(&mut self, index: CharsetIndex, charset: StandardCharset);
        fn set_color(&mut self, index: usize, rgb: Rgb);
        fn dynamic_color_sequence(&mut self, prefix: String, index: usize, terminator: &str);
        fn reset_color(&mut self, index: usize);
        fn clipboard_store(&mut self, clipboard: u8, data: &[u8]);
        fn clipboard_load(&mut self, clipboard: u8, terminator: &str);
        fn decaln(&mut self);
        fn push_title(&mut self);
        fn pop_title(&mut self);
        fn text_area_size_pixels(&mut self);
        fn text_area_size_chars(&mut self);
        fn set_hyperlink(&mut self, link: Option<Hyperlink>);
        fn set_mouse_cursor_icon(&mut self, icon: CursorIcon);
        fn report_keyboard_mode(&mut self);
        fn push_keyboard_mode(&mut self, mode: KeyboardModes);
        fn pop_keyboard_modes(&mut self, to_pop: u16);
        fn set_keyboard_mode(&mut self, mode: KeyboardModes, behavior: KeyboardModesApplyBehavior);
        fn set_modify_other_keys(&mut self, mode: ModifyOtherKeys);
        fn report_modify_other_keys(&mut self);
        fn set_scp(&mut self, char_path: ScpCharPath, update_mode: ScpUpdateMode);
    }

    /// Clearing the saved lines (`CSI 3 J`) clears the compact history too,
    /// as the grid clears its own.
    fn clear_screen(&mut self, mode: ClearMode) {
        self.make_room();
        if matches!(mode, ClearMode::Saved) && !self.term.mode().contains(alt_screen()) {
            self.history.clear();
        }
        self.term.clear_screen(mode);
    }

    /// A full reset (`ESC c`) forgets the history, in the grid and here.
    fn reset_state(&mut self) {
        self.history.clear();
        self.term.reset_state();
    }
}

fn alt_screen() -> alacritty_terminal::term::TermMode {
    alacritty_terminal::term::TermMode::ALT_SCREEN
}
