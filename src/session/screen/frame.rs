//! The screen as viewers see it: rows of styled runs (`domain::pane`)
//! read straight from the grid and the compact history at any scroll, the
//! frame's header (size, history, cursor, input modes), and the mapping of
//! alacritty's cell flags and colors to pane styles.
//!
//! Read-only: nothing here changes the emulator, the history or this
//! screen's own scroll.

use alacritty_terminal::grid::Dimensions;
use alacritty_terminal::index::{Column, Line};
use alacritty_terminal::term::TermMode;
use alacritty_terminal::term::cell::Flags;
use alacritty_terminal::vte::ansi::{Color as TermColor, NamedColor};

use super::{At, Screen};
use crate::domain::SliceName;
use crate::domain::pane::{PaneColor, PaneFrame, PaneLine, Run, Style, attrs as pane_attrs};

impl Screen {
    /// The rows a viewer `scroll` lines back into history sees, as styled
    /// runs (see `domain::pane`), whatever this screen's own scroll is.
    /// Returns the scroll actually used (clamped to the history).
    pub fn frame_lines(&self, scroll: usize) -> (Vec<PaneLine>, usize) {
        let scroll = scroll.min(self.history_len());
        let rows = self.term.screen_lines();
        let lines = (0..rows)
            .map(|row| self.pane_line(row as i32 - scroll as i32))
            .collect();
        (lines, scroll)
    }

    /// A whole pane for a viewer `scroll` lines back: the frame's header
    /// (with no rows in it) and every row, for the caller to send whole or
    /// compare with what it sent before.
    pub fn frame(&self, slice: &SliceName, scroll: usize) -> (PaneFrame, Vec<PaneLine>) {
        let (lines, scroll) = self.frame_lines(scroll);
        let frame = PaneFrame {
            slice: slice.clone(),
            cols: self.size.cols,
            rows: self.size.rows,
            scroll,
            history: self.history_len(),
            cursor: self.visible_cursor(scroll),
            modes: self.input_modes(),
            full: true,
            changed: Vec::new(),
        };
        (frame, lines)
    }

    /// The cursor (row, column) when the program shows it and the live
    /// screen is in view.
    pub fn visible_cursor(&self, scroll: usize) -> Option<(u16, u16)> {
        if scroll > 0 || !self.term.mode().contains(TermMode::SHOW_CURSOR) {
            return None;
        }
        let (row, col) = self.cursor();
        Some((row as u16, col as u16))
    }

    fn pane_line(&self, line: i32) -> PaneLine {
        match self.at(line) {
            Some(At::Grid(line)) => self.grid_pane_line(line),
            Some(At::Stored(row)) => row.runs(),
            None => PaneLine::new(),
        }
    }

    fn grid_pane_line(&self, line: Line) -> PaneLine {
        let grid = self.term.grid();
        let row = &grid[line];
        // Trailing blanks in the default style carry nothing.
        let mut end = grid.columns();
        while end > 0 {
            let cell = &row[Column(end - 1)];
            let blank = (cell.c == ' ' || cell.c == '\0')
                && cell_style(cell) == Style::default()
                && cell.zerowidth().is_none();
            if !blank {
                break;
            }
            end -= 1;
        }
        let mut runs: PaneLine = Vec::new();
        for col in 0..end {
            let cell = &row[Column(col)];
            if cell.flags.contains(Flags::WIDE_CHAR_SPACER) {
                continue;
            }
            let style = cell_style(cell);
            let run = match runs.last_mut() {
                Some(run) if run.style == style => run,
                _ => {
                    runs.push(Run {
                        text: String::new(),
                        style,
                    });
                    runs.last_mut().expect("just pushed")
                }
            };
            run.text.push(if cell.c.is_control() || cell.c == '\0' {
                ' '
            } else {
                cell.c
            });
            if let Some(marks) = cell.zerowidth() {
                run.text.extend(marks);
            }
        }
        runs
    }
}

pub(in crate::session) fn cell_style(cell: &alacritty_terminal::term::cell::Cell) -> Style {
    let flags = cell.flags;
    let mut attrs = 0;
    for (flag, bit) in [
        (Flags::BOLD, pane_attrs::BOLD),
        (Flags::DIM, pane_attrs::DIM),
        (Flags::ITALIC, pane_attrs::ITALIC),
        (Flags::INVERSE, pane_attrs::INVERSE),
        (Flags::HIDDEN, pane_attrs::HIDDEN),
        (Flags::STRIKEOUT, pane_attrs::STRIKE),
    ] {
        if flags.contains(flag) {
            attrs |= bit;
        }
    }
    if flags.intersects(Flags::ALL_UNDERLINES) {
        attrs |= pane_attrs::UNDERLINE;
    }
    Style {
        fg: pane_color(cell.fg),
        bg: pane_color(cell.bg),
        attrs,
    }
}

fn pane_color(color: TermColor) -> PaneColor {
    match color {
        TermColor::Spec(rgb) => PaneColor::rgb(rgb.r, rgb.g, rgb.b),
        TermColor::Indexed(i) => PaneColor::indexed(i),
        TermColor::Named(named) => {
            let index = named as usize;
            let dim = NamedColor::DimBlack as usize;
            match index {
                0..16 => PaneColor::indexed(index as u8),
                // Dim colors draw as their base color (the DIM flag dims).
                _ if (dim..dim + 8).contains(&index) => PaneColor::indexed((index - dim) as u8),
                _ => PaneColor::DEFAULT,
            }
        }
    }
}
