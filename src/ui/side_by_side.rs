//! The Diff tab side by side, at 160 columns or more: the merge base's
//! lines on the left, the slice's on the right, unchanged lines on both,
//! a removed line beside the added line that replaced it (the words they
//! differ by emphasized), each side wrapped in its own half. Reads the
//! diff; changes nothing.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TextLine, Span};

use super::diff_view::wrap_spans;
use super::highlight::{self, Lang};
use super::word_diff;
use crate::domain::diff::{DiffLine, FileDiff, LineKind};

/// The narrowest Diff tab that is drawn side by side.
pub const MIN_WIDTH: usize = 160;

/// One row of the side-by-side view: a hunk's header, or a line on
/// either side or both; with the unified row it starts at, so the scroll
/// means the same in both views.
enum Pair<'a> {
    Header(&'a str),
    Lines {
        left: Option<&'a DiffLine>,
        right: Option<&'a DiffLine>,
    },
}

/// Every row of `file` side by side, each with its unified row.
fn pairs(file: &FileDiff) -> Vec<(usize, Pair<'_>)> {
    let mut out = Vec::new();
    let mut row = 0;
    for hunk in file.hunks.iter() {
        out.push((row, Pair::Header(&hunk.header)));
        let lines = &hunk.lines;
        let mut at = 0;
        while at < lines.len() {
            let line = &lines[at];
            match line.kind {
                LineKind::Removed | LineKind::Added => {
                    // A run of removed lines, then the added ones in their place.
                    let removed_end = (at..lines.len())
                        .find(|&i| lines[i].kind != LineKind::Removed)
                        .unwrap_or(lines.len());
                    let added_end = (removed_end..lines.len())
                        .find(|&i| lines[i].kind != LineKind::Added)
                        .unwrap_or(lines.len());
                    let (removed, added) = (removed_end - at, added_end - removed_end);
                    for k in 0..removed.max(added) {
                        let first = if k < removed { at + k } else { removed_end + k };
                        out.push((
                            row + 1 + first,
                            Pair::Lines {
                                left: (k < removed).then(|| &lines[at + k]),
                                right: (k < added).then(|| &lines[removed_end + k]),
                            },
                        ));
                    }
                    at = added_end;
                }
                LineKind::Context | LineKind::Note => {
                    out.push((
                        row + 1 + at,
                        Pair::Lines {
                            left: Some(line),
                            right: Some(line),
                        },
                    ));
                    at += 1;
                }
            }
        }
        row += lines.len() + 1;
    }
    out
}

/// The rows from the unified row `scroll` on, up to `height` screen lines
/// at `width` columns; with how many rows were drawn whole.
pub fn lines(
    file: &FileDiff,
    scroll: usize,
    width: usize,
    height: usize,
) -> (Vec<TextLine<'static>>, usize) {
    let lang = Lang::of(&file.path);
    let half = (width.saturating_sub(1)) / 2;
    let mut out = Vec::new();
    let mut whole = 0;
    let all = pairs(file);
    let start = all.iter().rposition(|(row, _)| *row <= scroll).unwrap_or(0);
    for (_, pair) in &all[start..] {
        if out.len() >= height {
            break;
        }
        let drawn = match pair {
            Pair::Header(header) => vec![TextLine::styled(
                (*header).to_owned(),
                Style::new().fg(Color::Cyan),
            )],
            Pair::Lines { left, right } => {
                let (left, right) = (*left, *right);
                let text = |line: Option<&DiffLine>| line.map(|l| l.text.replace('\t', "    "));
                let left_rows = side(left, text(right), lang, half, true);
                let right_rows = side(right, text(left), lang, half, false);
                let n = left_rows.len().max(right_rows.len());
                (0..n)
                    .map(|i| {
                        let mut spans = left_rows.get(i).cloned().unwrap_or_default();
                        let used: usize = spans.iter().map(Span::width).sum();
                        spans.push(Span::raw(" ".repeat(half.saturating_sub(used))));
                        spans.push(Span::styled("│", Style::new().add_modifier(Modifier::DIM)));
                        spans.extend(right_rows.get(i).cloned().unwrap_or_default());
                        TextLine::from(spans)
                    })
                    .collect()
            }
        };
        if out.len() + drawn.len() <= height {
            whole += 1;
        }
        out.extend(drawn);
    }
    out.truncate(height);
    (out, whole)
}

/// One side of a row: its line's number, sign and text, wrapped to
/// `width`; nothing when the line is on the other side only.
fn side(
    line: Option<&DiffLine>,
    other: Option<String>,
    lang: Lang,
    width: usize,
    left: bool,
) -> Vec<Vec<Span<'static>>> {
    let dim = Style::new().add_modifier(Modifier::DIM);
    let Some(line) = line else {
        return Vec::new();
    };
    let (sign, base) = match line.kind {
        LineKind::Added => ("+", Style::new().fg(Color::Green)),
        LineKind::Removed => ("-", Style::new().fg(Color::Red)),
        LineKind::Context => (" ", Style::new()),
        LineKind::Note => ("\\", dim),
    };
    let number = if left { line.old_line } else { line.new_line };
    let number = number.map_or_else(|| "    ".to_owned(), |n| format!("{n:>4}"));
    let text = line.text.replace('\t', "    ");
    let mut spans = highlight::spans(&text, lang, base);
    if line.kind != LineKind::Context
        && let Some(other) = other
        && let Some(range) = word_diff::changed(&text, &other)
    {
        let emphasis = if line.kind == LineKind::Removed {
            Style::new().bg(Color::Indexed(52))
        } else {
            Style::new().bg(Color::Indexed(22))
        };
        spans = word_diff::emphasize(spans, range, emphasis.add_modifier(Modifier::BOLD));
    }
    let gutter = 6;
    let mut rows = Vec::new();
    for (i, piece) in wrap_spans(spans, width.saturating_sub(gutter).max(4))
        .into_iter()
        .enumerate()
    {
        let mut row = if i == 0 {
            vec![
                Span::styled(format!("{number} "), dim),
                Span::styled(sign, base),
            ]
        } else {
            vec![Span::styled(format!("{:>5} ", "↪"), dim)]
        };
        row.extend(piece);
        rows.push(row);
    }
    rows
}
