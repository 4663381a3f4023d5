//! The older part of an agent's scrollback, kept compact: each row as its
//! text plus style spans, packed into blocks of rows.
//!
//! alacritty's grid allocates every row at full width (~24 bytes a cell,
//! blank or not), so a long scrollback in the grid costs tens of MiB an
//! agent. The screen (`screen.rs`) keeps only the most recent history in
//! the grid and moves rows leaving it here, where a row costs its text and
//! 8 bytes a style change (each block keeps the styles it uses once). Rows
//! keep whether they wrap onto the next, so a resize can rewrap them to the
//! new width as the grid reflows its own.
//!
//! Owns storage only: it knows nothing of the emulator or of viewers.

use std::collections::VecDeque;

use unicode_width::UnicodeWidthChar;

use crate::domain::pane::{PaneLine, Run, Style};

/// Rows per block: blocks are allocated and freed whole.
const BLOCK_ROWS: usize = 256;

/// Rows of history, oldest first, at most `cap` of them.
#[derive(Debug, Default)]
pub struct History {
    blocks: VecDeque<Block>,
    /// Rows of the first block already dropped (it is freed once all are).
    skip: usize,
    len: usize,
    cap: usize,
}

#[derive(Debug, Default)]
struct Block {
    text: String,
    rows: Vec<RowEntry>,
    spans: Vec<Span>,
    /// The styles its spans name: output uses a handful, over and over.
    styles: Vec<Style>,
}

/// Of a block's styles, how many of the newest are looked through before
/// a style is added again: a program that paints every cell anew (a
/// gradient) costs a style per span, not a search through them all.
const STYLES_SEARCHED: usize = 32;

/// Where a row's text and spans end in its block.
#[derive(Debug, Clone, Copy)]
struct RowEntry {
    text_end: u32,
    span_end: u32,
    wrapped: bool,
}

/// A style that runs up to `text_end` (a byte offset in the block); the
/// style is the block's `styles[style]`.
#[derive(Debug, Clone, Copy)]
struct Span {
    text_end: u32,
    style: u16,
}

/// One stored row, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct StoredRow<'a> {
    text: &'a str,
    /// Span ends relative to `text`.
    spans: &'a [Span],
    styles: &'a [Style],
    base: u32,
    /// The row continues on the next one (it was cut at the right margin).
    pub wrapped: bool,
}

impl StoredRow<'_> {
    /// The row's text, trailing blanks trimmed.
    pub fn text(&self) -> &str {
        self.text.trim_end()
    }

    /// The row as styled runs, as a pane line is drawn.
    pub fn runs(&self) -> PaneLine {
        self.pieces()
            .map(|(text, style)| Run {
                text: text.to_string(),
                style,
            })
            .collect()
    }

    fn pieces(&self) -> impl Iterator<Item = (&str, Style)> + '_ {
        let mut start = 0usize;
        self.spans.iter().map(move |span| {
            let end = (span.text_end - self.base) as usize;
            let piece = &self.text[start..end];
            start = end;
            (piece, self.styles[usize::from(span.style)])
        })
    }
}

/// A row being written: text in styled pieces.
#[derive(Debug, Default)]
pub struct RowBuilder {
    text: String,
    /// (end in `text`, style) per piece.
    pieces: Vec<(usize, Style)>,
}

impl RowBuilder {
    pub fn clear(&mut self) {
        self.text.clear();
        self.pieces.clear();
    }

    /// Appends `text` in `style`, joining the previous piece when it has
    /// the same style.
    pub fn push_str(&mut self, text: &str, style: Style) {
        if text.is_empty() {
            return;
        }
        self.start_piece(style);
        self.text.push_str(text);
        self.end_pieces();
    }

    pub fn push_char(&mut self, c: char, style: Style) {
        self.start_piece(style);
        self.text.push(c);
        self.end_pieces();
    }

    /// Starts a piece in `style` (or goes on with the last one, when it
    /// has that style) for [`RowBuilder::push_in_piece`]: a row converted
    /// cell by cell works out the style only where it changes.
    pub fn start_piece(&mut self, style: Style) {
        let end = self.text.len();
        if let Some((last_end, last_style)) = self.pieces.last_mut() {
            *last_end = end;
            if *last_style == style {
                return;
            }
        }
        self.pieces.push((end, style));
    }

    /// Appends `c` to the piece begun by [`RowBuilder::start_piece`]; its
    /// end is written by the next `start_piece` or by
    /// [`RowBuilder::end_pieces`].
    pub fn push_in_piece(&mut self, c: char) {
        self.text.push(c);
    }

    /// Ends the last piece at the end of the text.
    pub fn end_pieces(&mut self) {
        let end = self.text.len();
        if let Some((last_end, _)) = self.pieces.last_mut() {
            *last_end = end;
        }
    }

    /// The row's pieces of text, each in its style.
    pub fn pieces(&self) -> impl Iterator<Item = (&str, Style)> + '_ {
        let mut start = 0;
        self.pieces.iter().map(move |&(end, style)| {
            let piece = &self.text[start..end];
            start = end;
            (piece, style)
        })
    }

    /// Drops trailing blanks in the default style (they carry nothing).
    pub fn trim_default_blanks(&mut self) {
        while let Some(&(end, style)) = self.pieces.last() {
            if style != Style::default() {
                return;
            }
            let start = self
                .pieces
                .len()
                .checked_sub(2)
                .map_or(0, |i| self.pieces[i].0);
            let kept = self.text[start..end].trim_end_matches(' ').len() + start;
            self.text.truncate(kept);
            if kept > start {
                self.pieces.last_mut().expect("checked").0 = kept;
                return;
            }
            self.pieces.pop();
        }
    }
}

impl History {
    /// An empty history keeping at most `cap` rows.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes held by the rows (capacity), for measurements.
    pub fn heap_bytes(&self) -> usize {
        self.blocks
            .iter()
            .map(|b| {
                b.text.capacity()
                    + b.rows.capacity() * size_of::<RowEntry>()
                    + b.spans.capacity() * size_of::<Span>()
                    + b.styles.capacity() * size_of::<Style>()
            })
            .sum()
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Keeps at most `cap` rows from now on, dropping the oldest.
    pub fn set_cap(&mut self, cap: usize) {
        self.cap = cap;
        self.drop_excess();
    }

    pub fn clear(&mut self) {
        self.blocks.clear();
        self.skip = 0;
        self.len = 0;
    }

    /// Adds the newest row; the oldest goes when the history is full.
    pub fn push(&mut self, row: &RowBuilder, wrapped: bool) {
        if self.cap == 0 {
            return;
        }
        if self.blocks.back().is_none_or(|block| {
            block.rows.len() >= BLOCK_ROWS
                || block.styles.len() + row.pieces.len() > usize::from(u16::MAX)
        }) {
            // A full block takes no more rows: it gives back what its
            // vectors reserved while growing (up to half of each).
            if let Some(full) = self.blocks.back_mut() {
                full.text.shrink_to_fit();
                full.spans.shrink_to_fit();
                full.styles.shrink_to_fit();
            }
            self.blocks.push_back(Block {
                rows: Vec::with_capacity(BLOCK_ROWS),
                ..Block::default()
            });
        }
        let block = self.blocks.back_mut().expect("just ensured");
        let base = block.text.len();
        block.text.push_str(&row.text);
        for &(end, style) in &row.pieces {
            let style = block.style_index(style);
            block.spans.push(Span {
                text_end: (base + end) as u32,
                style,
            });
        }
        block.rows.push(RowEntry {
            text_end: block.text.len() as u32,
            span_end: block.spans.len() as u32,
            wrapped,
        });
        self.len += 1;
        self.drop_excess();
    }

    fn drop_excess(&mut self) {
        while self.len > self.cap {
            let Some(first) = self.blocks.front() else {
                break;
            };
            let drop = (self.len - self.cap).min(first.rows.len() - self.skip);
            self.skip += drop;
            self.len -= drop;
            if self.skip == first.rows.len() {
                self.blocks.pop_front();
                self.skip = 0;
            }
        }
        if self.len == 0 {
            self.blocks.clear();
            self.skip = 0;
        }
    }

    /// Takes the newest row back out (into `row`), with whether it wraps:
    /// for a screen that grows and refills from its history.
    pub fn pop_newest(&mut self, row: &mut RowBuilder) -> Option<bool> {
        if self.len == 0 {
            return None;
        }
        let block = self.blocks.back_mut()?;
        let last = block.rows.len() - 1;
        let stored = block.row(last);
        row.clear();
        for (text, style) in stored.pieces() {
            row.push_str(text, style);
        }
        let wrapped = stored.wrapped;
        let (text_start, span_start) = match last.checked_sub(1) {
            Some(prev) => (
                block.rows[prev].text_end as usize,
                block.rows[prev].span_end as usize,
            ),
            None => (0, 0),
        };
        block.text.truncate(text_start);
        block.spans.truncate(span_start);
        block.rows.pop();
        let remaining = block.rows.len();
        self.len -= 1;
        // A block goes with its last row (the first one's dropped rows too).
        if remaining == 0 || self.blocks.len() == 1 && remaining == self.skip {
            self.blocks.pop_back();
            if self.blocks.is_empty() {
                self.skip = 0;
            }
        }
        Some(wrapped)
    }

    /// Row `index`, 0 being the oldest kept.
    pub fn row(&self, index: usize) -> Option<StoredRow<'_>> {
        if index >= self.len {
            return None;
        }
        let mut index = index + self.skip;
        for block in &self.blocks {
            if index < block.rows.len() {
                return Some(block.row(index));
            }
            index -= block.rows.len();
        }
        None
    }

    /// Every row, oldest first.
    pub fn rows(&self) -> impl DoubleEndedIterator<Item = StoredRow<'_>> + '_ {
        self.blocks.iter().enumerate().flat_map(move |(i, block)| {
            let first = if i == 0 { self.skip } else { 0 };
            (first..block.rows.len()).map(move |row| block.row(row))
        })
    }

    /// Cuts the rows again at `cols` columns: rows that wrapped are joined
    /// into their logical lines first, as the grid reflows on a resize.
    pub fn rewrap(&mut self, cols: usize) {
        let cols = cols.max(2);
        let old = std::mem::replace(self, History::new(self.cap));
        let mut line = RowBuilder::default();
        let mut row = RowBuilder::default();
        for stored in old.rows() {
            for (text, style) in stored.pieces() {
                line.push_str(text, style);
            }
            if stored.wrapped {
                continue;
            }
            self.push_cut(&line, &mut row, cols, LineEnd::Ended);
            line.clear();
        }
        if !line.text.is_empty() {
            // The line goes on in the grid: keep its end open, so the next
            // rewrap joins it with the rest.
            self.push_cut(&line, &mut row, cols, LineEnd::GoesOn);
        }
    }

    /// Pushes one logical line as rows of at most `cols` cells.
    fn push_cut(&mut self, line: &RowBuilder, row: &mut RowBuilder, cols: usize, end: LineEnd) {
        row.clear();
        let mut width = 0;
        let mut start = 0;
        for &(end, style) in &line.pieces {
            for c in line.text[start..end].chars() {
                let w = c.width().unwrap_or(0);
                if width + w > cols {
                    self.push(row, true);
                    row.clear();
                    width = 0;
                }
                row.push_char(c, style);
                width += w;
            }
            start = end;
        }
        match end {
            LineEnd::Ended => {
                row.trim_default_blanks();
                self.push(row, false);
            }
            LineEnd::GoesOn => self.push(row, true),
        }
    }
}

/// Whether a logical line being cut ends in the compact history or goes
/// on in the grid.
#[derive(Clone, Copy)]
enum LineEnd {
    Ended,
    GoesOn,
}

impl Block {
    /// `style`'s place in the block's styles, added when it is not among
    /// the newest few.
    fn style_index(&mut self, style: Style) -> u16 {
        let from = self.styles.len().saturating_sub(STYLES_SEARCHED);
        let found = self.styles[from..].iter().rposition(|s| *s == style);
        let index = found.map_or_else(
            || {
                self.styles.push(style);
                self.styles.len() - 1
            },
            |i| from + i,
        );
        u16::try_from(index).expect("a block holds at most u16::MAX styles")
    }

    fn row(&self, index: usize) -> StoredRow<'_> {
        let (text_start, span_start) = match index.checked_sub(1) {
            Some(prev) => (
                self.rows[prev].text_end as usize,
                self.rows[prev].span_end as usize,
            ),
            None => (0, 0),
        };
        let entry = self.rows[index];
        StoredRow {
            text: &self.text[text_start..entry.text_end as usize],
            spans: &self.spans[span_start..entry.span_end as usize],
            styles: &self.styles,
            base: text_start as u32,
            wrapped: entry.wrapped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pane::PaneColor;

    fn red() -> Style {
        Style {
            fg: PaneColor::indexed(1),
            ..Style::default()
        }
    }

    fn row(parts: &[(&str, Style)]) -> RowBuilder {
        let mut row = RowBuilder::default();
        for (text, style) in parts {
            row.push_str(text, *style);
        }
        row
    }

    fn texts(history: &History) -> Vec<String> {
        history.rows().map(|r| r.text().to_string()).collect()
    }

    #[test]
    fn rows_keep_their_text_and_styles() {
        let mut h = History::new(10);
        h.push(&row(&[("ok ", Style::default()), ("FAIL", red())]), false);
        h.push(&row(&[]), false);
        let first = h.row(0).unwrap();
        assert_eq!(first.text(), "ok FAIL");
        assert_eq!(
            first.runs(),
            vec![
                Run {
                    text: "ok ".into(),
                    style: Style::default()
                },
                Run {
                    text: "FAIL".into(),
                    style: red()
                },
            ]
        );
        assert_eq!(h.row(1).unwrap().runs(), Vec::new());
        assert!(h.row(2).is_none());
    }

    #[test]
    fn every_cell_in_a_style_of_its_own_keeps_its_style() {
        // A gradient: more styles than a block looks through, and more
        // than a block's u16 can name, so blocks end early.
        let rgb = |i: usize| Style {
            fg: PaneColor::rgb((i >> 8) as u8, i as u8, 7),
            ..Style::default()
        };
        let mut h = History::new(1_000);
        for r in 0..400 {
            let mut line = RowBuilder::default();
            for c in 0..300 {
                line.push_char('x', rgb(r * 300 + c));
            }
            line.push_char('d', Style::default());
            h.push(&line, false);
        }
        assert_eq!(h.len(), 400);
        for (r, stored) in h.rows().enumerate() {
            let runs = stored.runs();
            assert_eq!(runs.len(), 301);
            for (c, run) in runs[..300].iter().enumerate() {
                assert_eq!(run.style, rgb(r * 300 + c), "row {r}, cell {c}");
            }
            assert_eq!(runs[300].style, Style::default());
        }
        assert!(
            h.blocks[0].rows.len() < BLOCK_ROWS,
            "the first block ended early"
        );
        assert!(
            h.blocks
                .iter()
                .all(|b| b.styles.len() <= usize::from(u16::MAX))
        );
    }

    #[test]
    fn the_oldest_rows_go_past_the_cap_and_blocks_are_freed() {
        let mut h = History::new(300);
        for i in 0..1000 {
            h.push(&row(&[(&format!("row {i}"), Style::default())]), false);
        }
        assert_eq!(h.len(), 300);
        assert_eq!(h.row(0).unwrap().text(), "row 700");
        assert_eq!(h.row(299).unwrap().text(), "row 999");
        assert_eq!(texts(&h).len(), 300);
        // 300 rows span two or three blocks of 256, never more.
        assert!(h.blocks.len() <= 3, "{} blocks", h.blocks.len());
        h.set_cap(1);
        assert_eq!(texts(&h), ["row 999"]);
        assert_eq!(h.blocks.len(), 1);
    }

    #[test]
    fn rewrap_joins_wrapped_rows_and_cuts_at_the_new_width() {
        let mut h = History::new(100);
        h.push(&row(&[("abcde", Style::default())]), true);
        h.push(&row(&[("fg", red()), ("hij", Style::default())]), false);
        h.push(&row(&[("漢字漢字", Style::default())]), false);
        h.rewrap(4);
        assert_eq!(texts(&h), ["abcd", "efgh", "ij", "漢字", "漢字"]);
        assert!(h.row(0).unwrap().wrapped && !h.row(2).unwrap().wrapped);
        // The styles follow their characters.
        let second = h.row(1).unwrap().runs();
        assert_eq!(second[1].text, "fg");
        assert_eq!(second[1].style, red());
        h.rewrap(20);
        assert_eq!(texts(&h), ["abcdefghij", "漢字漢字"]);
    }

    #[test]
    fn trailing_default_blanks_are_trimmed_but_styled_ones_kept() {
        let mut r = row(&[("a  ", red()), ("b   ", Style::default())]);
        r.trim_default_blanks();
        assert_eq!(r.text, "a  b");
        let mut r = row(&[("a  ", red()), ("   ", Style::default())]);
        r.trim_default_blanks();
        assert_eq!(r.text, "a  ");
    }
}
