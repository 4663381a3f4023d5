//! Text copied out of a screen and its history, as a person selected it:
//! characters, whole lines or a block, each row's cells by column (a wide
//! character once), rows the terminal wrapped joined back into the line
//! the program wrote, trailing blanks dropped. Read-only.

use alacritty_terminal::grid::Dimensions;
use alacritty_terminal::index::{Column, Line};
use alacritty_terminal::term::cell::Flags;

use super::{At, Screen};
use crate::domain::pane::{CopyRange, CopyShape};

/// One row as cells by column: what each column shows ("" for the second
/// half of a wide character), and whether the row wraps onto the next.
struct Cells {
    cells: Vec<String>,
    wrapped: bool,
}

impl Screen {
    /// The text in `range`.
    pub fn copy(&self, range: &CopyRange) -> String {
        let range = range.ordered();
        let columns = self.term.grid().columns();
        // A viewer's idea of the screen may be a resize old.
        let top = -(self.history_len() as i64);
        let bottom = self.term.screen_lines() as i64 - 1;
        let (mut first, mut last) = (
            range.from.0.clamp(top, bottom),
            range.to.0.clamp(top, bottom),
        );
        if bottom < 0 {
            return String::new();
        }
        // Whole lines are the lines the program wrote: every row of them.
        if range.shape == CopyShape::Lines {
            let wraps =
                |line: i64| i32::try_from(line).is_ok_and(|l| self.cells(l, columns).wrapped);
            while first > top && wraps(first - 1) {
                first -= 1;
            }
            while last < bottom && wraps(last) {
                last += 1;
            }
        }
        let mut out = String::new();
        for line in first..=last {
            let Ok(line32) = i32::try_from(line) else {
                continue;
            };
            let row = self.cells(line32, columns);
            let (from, to) = match range.shape {
                CopyShape::Lines => (0, columns),
                CopyShape::Block => {
                    let (a, b) = (range.from.1.min(range.to.1), range.from.1.max(range.to.1));
                    (usize::from(a), usize::from(b) + 1)
                }
                CopyShape::Chars => (
                    if line == first {
                        usize::from(range.from.1)
                    } else {
                        0
                    },
                    if line == last {
                        usize::from(range.to.1) + 1
                    } else {
                        columns
                    },
                ),
            };
            let piece: String = row
                .cells
                .get(from.min(row.cells.len())..to.min(row.cells.len()))
                .unwrap_or_default()
                .concat();
            // A row that wraps goes on in the next one: no line break, and
            // its blanks are the line's own.
            let joins = row.wrapped && range.shape != CopyShape::Block && line != last;
            if joins {
                out.push_str(&piece);
            } else {
                out.push_str(piece.trim_end());
                if line != last {
                    out.push('\n');
                }
            }
        }
        out
    }

    fn cells(&self, line: i32, columns: usize) -> Cells {
        match self.at(line) {
            Some(At::Grid(line)) => {
                let grid = self.term.grid();
                let row = &grid[Line(line.0)];
                let cells = (0..columns)
                    .map(|col| {
                        let cell = &row[Column(col)];
                        if cell
                            .flags
                            .intersects(Flags::WIDE_CHAR_SPACER | Flags::LEADING_WIDE_CHAR_SPACER)
                        {
                            return String::new();
                        }
                        let mut text = cell.c.to_string();
                        if let Some(zero_width) = cell.zerowidth() {
                            text.extend(zero_width);
                        }
                        text
                    })
                    .collect();
                let wrapped =
                    columns > 0 && row[Column(columns - 1)].flags.contains(Flags::WRAPLINE);
                Cells { cells, wrapped }
            }
            Some(At::Stored(row)) => {
                let mut cells = Vec::with_capacity(columns);
                for c in row.text().chars() {
                    cells.push(c.to_string());
                    if unicode_width::UnicodeWidthChar::width(c) == Some(2) {
                        cells.push(String::new());
                    }
                }
                cells.resize(cells.len().max(columns), " ".to_owned());
                Cells {
                    cells,
                    wrapped: row.wrapped,
                }
            }
            None => Cells {
                cells: Vec::new(),
                wrapped: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Size;

    fn screen(bytes: &str) -> Screen {
        let mut screen = Screen::new(Size { cols: 10, rows: 4 }, 100);
        screen.feed(bytes.as_bytes());
        screen
    }

    fn range(from: (i64, u16), to: (i64, u16), shape: CopyShape) -> CopyRange {
        CopyRange { from, to, shape }
    }

    #[test]
    fn a_wrapped_line_is_copied_whole_and_rows_end_in_line_breaks() {
        let s = screen("abcdefghijKLMNO\r\nxy  \r\nz");
        assert_eq!(
            s.copy(&range((0, 0), (3, 0), CopyShape::Lines)),
            "abcdefghijKLMNO\nxy\nz"
        );
        assert_eq!(
            s.copy(&range((1, 1), (0, 3), CopyShape::Chars)),
            "defghijKL"
        );
        // A line's row is its whole line, wrapped rows and all.
        assert_eq!(
            s.copy(&range((1, 4), (1, 4), CopyShape::Lines)),
            "abcdefghijKLMNO"
        );
        assert_eq!(s.copy(&range((0, 1), (1, 2), CopyShape::Block)), "bc\nLM");
    }

    #[test]
    fn history_and_wide_characters_copy_by_column() {
        // Twelve lines on a four-row screen: the first ones are history.
        let text: String = (0..12).map(|i| format!("line {i}\r\n")).collect();
        let s = screen(&format!("{text}日本語ok"));
        let history = s.history_len() as i64;
        assert_eq!(
            s.copy(&range((-history, 0), (-history + 1, 9), CopyShape::Lines)),
            "line 0\nline 1"
        );
        assert_eq!(s.copy(&range((3, 2), (3, 7), CopyShape::Chars)), "本語ok");
    }
}
