//! Drawing the operator's review on the Diff tab: the cursor and the
//! marked range in the gutter, a mark beside every commented line, each
//! comment under its last line (the one being written too), the file's
//! outdated comments above its hunks, and the tray of every comment of
//! the slice. Reads the model; changes nothing.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::{App, Draft, DraftTarget, Mode, SliceRow};
use super::diff_view::wrap_spans;
use crate::domain::comments::Comment;
use crate::domain::diff::FileDiff;

fn comment_style() -> Style {
    Style::new().fg(Color::Magenta)
}

/// What of the review one file's hunks show.
pub struct Shown<'a> {
    /// The cursor's row, in review mode.
    pub cursor: Option<usize>,
    /// The rows marked (cursor and mark), in review mode.
    range: Option<(usize, usize)>,
    /// The slice's comments placed in this file.
    placed: Vec<&'a Comment>,
    /// The slice's outdated comments written on this file.
    outdated: Vec<&'a Comment>,
    current: Option<u32>,
    draft: Option<&'a Draft>,
}

impl<'a> Shown<'a> {
    pub fn of(app: &'a App, row: &'a SliceRow, file: &FileDiff) -> Self {
        let reviewing = matches!(app.mode, Mode::Review | Mode::Comment(_));
        // Comments sit on the whole diff, not on the changes since the
        // last look.
        let comments: &[Comment] = if app.since_shown().is_some() {
            &[]
        } else {
            &row.review.comments
        };
        Shown {
            cursor: reviewing.then_some(app.diff_cursor),
            range: reviewing.then(|| app.review_rows()),
            placed: comments
                .iter()
                .filter(|c| c.placed.as_ref().is_some_and(|p| p.path == file.path))
                .collect(),
            outdated: comments
                .iter()
                .filter(|c| c.outdated() && file.paths().any(|p| p == c.path))
                .collect(),
            current: reviewing
                .then(|| app.current_comment().map(|c| c.id))
                .flatten(),
            draft: match &app.mode {
                Mode::Comment(draft) => Some(draft),
                _ => None,
            },
        }
    }

    /// The line numbers' style on row `row`: the cursor reversed, a
    /// marked range on magenta.
    pub fn gutter_style(&self, row: usize, dim: Style) -> Style {
        if self.cursor == Some(row) {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else if self
            .range
            .is_some_and(|(a, b)| a != b && (a..=b).contains(&row))
        {
            Style::new().fg(Color::Black).bg(Color::Magenta)
        } else {
            dim
        }
    }

    /// The column between the numbers and the sign: `┃` on a commented line.
    pub fn mark(&self, row: usize) -> Span<'static> {
        let commented = self.placed.iter().any(|c| {
            c.placed
                .as_ref()
                .is_some_and(|p| (p.rows.0..=p.rows.1).contains(&row))
        });
        if commented {
            Span::styled("┃", comment_style().add_modifier(Modifier::BOLD))
        } else {
            Span::raw(" ")
        }
    }

    /// The comments whose lines end on row `row`, and the comment being
    /// written there.
    pub fn comments_after(&self, row: usize, width: usize) -> Vec<TextLine<'static>> {
        let mut out = Vec::new();
        for comment in &self.placed {
            if comment.placed.as_ref().is_some_and(|p| p.rows.1 == row) {
                let editing = self
                    .draft
                    .filter(|d| d.target == DraftTarget::Edit(comment.id));
                out.extend(comment_block(
                    &format!("#{}", comment.id),
                    editing.map_or(&comment.text, |d| &d.text),
                    editing.is_some(),
                    self.current == Some(comment.id),
                    width,
                ));
            }
        }
        if let Some(draft) = self.draft
            && matches!(draft.target, DraftTarget::New(_))
            && self.range.is_some_and(|(_, last)| last == row)
        {
            out.extend(comment_block("new", &draft.text, true, true, width));
        }
        out
    }

    /// The file's outdated comments, above its hunks.
    pub fn outdated_lines(&self, width: usize) -> Vec<TextLine<'static>> {
        let mut out = Vec::new();
        for comment in &self.outdated {
            let editing = self
                .draft
                .filter(|d| d.target == DraftTarget::Edit(comment.id));
            out.extend(comment_block(
                &format!("#{} outdated ({})", comment.id, comment.location()),
                editing.map_or(&comment.text, |d| &d.text),
                editing.is_some(),
                self.current == Some(comment.id),
                width,
            ));
        }
        out
    }
}

/// A comment as drawn under its lines: `┗ #1 text`, wrapped, indented
/// past the gutter; the one being written ends in a cursor.
fn comment_block(
    label: &str,
    text: &str,
    writing: bool,
    current: bool,
    width: usize,
) -> Vec<TextLine<'static>> {
    let mut style = comment_style();
    if current {
        style = style.add_modifier(Modifier::BOLD);
    }
    if writing {
        style = style.add_modifier(Modifier::REVERSED);
    }
    let indent = "          ";
    let room = width.saturating_sub(indent.len() + 2).max(8);
    let mut body = format!("{label} {text}");
    if writing {
        body.push('_');
    }
    let mut out = Vec::new();
    for (i, part) in body.split('\n').enumerate() {
        for (k, piece) in wrap_spans(vec![Span::raw(part.to_owned())], room)
            .into_iter()
            .enumerate()
        {
            let lead = if i == 0 && k == 0 { "┗ " } else { "  " };
            let mut spans = vec![Span::raw(indent), Span::styled(lead, comment_style())];
            spans.extend(piece.into_iter().map(|s| Span::styled(s.content, style)));
            out.push(TextLine::from(spans));
        }
    }
    out
}

/// How many rows the tray wants in an area `height` tall.
pub fn tray_height(row: &SliceRow, height: u16) -> u16 {
    let n = row.review.comments.len() as u16;
    if n == 0 {
        return 0;
    }
    (n + 2).min(height / 3).max(3)
}

/// The tray: every comment of the slice, where it sits (or that it is
/// outdated) and its text; the current one marked; how to send them.
pub fn draw_tray(frame: &mut Frame<'_>, area: Rect, app: &App, row: &SliceRow) {
    let comments = &row.review.comments;
    let outdated = row.review.outdated();
    let block = Block::new().borders(Borders::TOP).title(format!(
        " review: {} comment{}{}  s sends them to the agent as one review ",
        comments.len(),
        if comments.len() == 1 { "" } else { "s" },
        if outdated > 0 {
            format!(", {outdated} outdated")
        } else {
            String::new()
        }
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let current = app.current_comment().map(|c| c.id);
    let at = current
        .and_then(|id| comments.iter().position(|c| c.id == id))
        .unwrap_or(0);
    let height = usize::from(inner.height);
    let first = (at + 1).saturating_sub(height);
    let lines: Vec<TextLine> = comments
        .iter()
        .skip(first)
        .take(height)
        .map(|c| {
            let mut style = Style::new();
            if Some(c.id) == current {
                style = style.add_modifier(Modifier::REVERSED);
            }
            let state = if c.outdated() { " (outdated)" } else { "" };
            TextLine::from(vec![
                Span::styled(format!("#{} ", c.id), comment_style()),
                Span::styled(format!("{}{state}  ", c.location()), style),
                Span::styled(c.text.replace('\n', " ⏎ "), style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
