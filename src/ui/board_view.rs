//! The board: one entry per slice, three lines when they all fit (state,
//! then dbt and merge, then the diff), two when that fits (the diff joins
//! the second line), one each when they do not, scrolled so the selected
//! slice is always on screen. Each slice's state
//! is said once: the agent's activity or exit, or the lifecycle before an
//! agent ran; the lifecycle appears again only when it adds something
//! (approved, merged, removed). A slice the plan no longer lists says
//! so on its first line.
//!
//! Records where it drew the slices (`App::board_list`) so a click finds
//! the slice under it, and the first slice shown (`App::board_first`) so
//! scrolling moves only as far as the selection needs.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::activity_view;
use super::app::{App, ListArea, SliceRow};
use super::diff_view;
use super::queue_view;
use crate::domain::Lifecycle;
use crate::domain::dbt_run::RunStatus;

/// Lines per slice in the full layout.
const FULL_LINES: usize = 3;

pub fn draw_board(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let count = app.board.slices.len();
    let block = Block::new().borders(Borders::ALL);
    let inner = block.inner(area);
    app.board_list.set(None);
    if count == 0 {
        frame.render_widget(block.title(" slices "), area);
        frame.render_widget(
            Paragraph::new("The plan has no slices. Add [[slice]] entries to sliceboard.toml.")
                .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    let height = usize::from(inner.height);
    let per_slice = (1..=FULL_LINES)
        .rev()
        .find(|lines| count * lines <= height)
        .unwrap_or(1);
    let shown = (height / per_slice).clamp(1, count);
    let order = app.board_order();
    let selected_at = order.iter().position(|&i| i == app.selected).unwrap_or(0);
    let first = first_shown(app.board_first.get(), selected_at, shown, count);
    app.board_first.set(first);
    let order_word = if app.needs_first {
        "needs you first "
    } else {
        ""
    };
    let title = if shown < count {
        format!(
            " slices {order_word}{}-{} of {count} ",
            first + 1,
            (first + shown).min(count)
        )
    } else {
        format!(" slices {order_word}")
    };
    frame.render_widget(block.title(title), area);

    let mut lines = Vec::new();
    for &i in order.iter().skip(first).take(shown) {
        let row = &app.board.slices[i];
        let selected = i == app.selected;
        let mut head = state_line(row, selected, app.marked.contains(&row.name));
        // A narrow board keeps the name whole: the state's word goes to
        // the next line rather than be cut.
        let width: usize = head.iter().map(Span::width).sum();
        let moved = if per_slice > 1 && width > usize::from(inner.width) {
            head.split_off(STATE_WORD_AT)
        } else {
            Vec::new()
        };
        let detail = |app: &App, row: &SliceRow| {
            let mut spans = detail(app, row);
            if !moved.is_empty() {
                spans.truncate(1);
                spans.extend(moved.iter().cloned());
                spans.extend(detail_after_indent(app, row));
            }
            if per_slice > 1 {
                fit(&mut spans, usize::from(inner.width));
            }
            spans
        };
        let conflicts = app.board.queue.conflict_paths(&row.name);
        if per_slice == FULL_LINES {
            lines.push(TextLine::from(head));
            lines.push(TextLine::from(detail(app, row)));
            lines.push(TextLine::from(diff_view::summary(
                row,
                conflicts,
                inner.width,
            )));
        } else if per_slice == 2 {
            lines.push(TextLine::from(head));
            let mut second = detail(app, row);
            let diff = diff_view::summary(row, conflicts, inner.width);
            second.extend(diff.into_iter().map(|s| {
                let text = s.content.trim_start().to_owned();
                Span::styled(format!(" {text}"), s.style)
            }));
            lines.push(TextLine::from(second));
        } else {
            // One line: the state, then whatever else there is room for.
            head.extend(
                detail(app, row)
                    .into_iter()
                    .skip_while(|s| s.content.trim().is_empty()),
            );
            lines.push(TextLine::from(head));
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
    app.board_list.set(Some(ListArea {
        x: inner.x,
        y: inner.y,
        width: inner.width,
        height: u16::try_from(shown * per_slice).unwrap_or(inner.height),
        first,
        rows_per_item: u16::try_from(per_slice).unwrap_or(1),
    }));
}

/// Cuts a line that is wider than `width` so that it ends in "…": never
/// cut silently at the board's edge (the Queue view and the tabs say the
/// rest).
fn fit(spans: &mut Vec<Span<'static>>, width: usize) {
    let total: usize = spans.iter().map(Span::width).sum();
    if total <= width || width == 0 {
        return;
    }
    let mut room = width - 1;
    let mut kept = Vec::new();
    for span in spans.drain(..) {
        if room == 0 {
            break;
        }
        let mut text = String::new();
        for c in span.content.chars() {
            let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            if w > room {
                room = 0;
                break;
            }
            room -= w;
            text.push(c);
        }
        kept.push(Span::styled(text, span.style));
    }
    let style = kept.last().map(|s| s.style).unwrap_or_default();
    kept.push(Span::styled("…", style));
    *spans = kept;
}

/// The first slice to show: the last one shown, moved just enough to keep
/// the selected slice in view.
fn first_shown(last: usize, selected: usize, shown: usize, count: usize) -> usize {
    let mut first = last.min(count.saturating_sub(shown));
    if selected < first {
        first = selected;
    } else if selected >= first + shown {
        first = selected + 1 - shown;
    }
    first
}

/// Where the state's word starts among a state line's spans (after the
/// marker, the symbol and the name).
const STATE_WORD_AT: usize = 3;

/// The detail line's spans after its indent.
fn detail_after_indent(app: &App, row: &SliceRow) -> Vec<Span<'static>> {
    detail(app, row).into_iter().skip(1).collect()
}

/// `>? staging waiting`: the selection (and mark) marker, the state's
/// symbol, the name and the state's word.
fn state_line(row: &SliceRow, selected: bool, marked: bool) -> Vec<Span<'static>> {
    let (symbol, word, style) = activity_view::badge(row);
    let name_style = if selected {
        Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    };
    let mut spans = vec![
        // Marked for a prompt to several agents: `*`, or `»` when selected too.
        Span::raw(match (selected, marked) {
            (true, true) => "»",
            (true, false) => ">",
            (false, true) => "*",
            (false, false) => " ",
        }),
        Span::styled(format!("{symbol} "), style),
        Span::styled(row.name.to_string(), name_style),
        Span::raw(" "),
        Span::styled(word, style),
    ];
    if row.muted {
        spans.push(Span::styled(
            " (muted)",
            Style::new().add_modifier(Modifier::DIM),
        ));
    }
    if row.removed {
        spans.push(Span::styled(
            format!(" ({})", crate::domain::board::REMOVED_FROM_PLAN),
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        ));
    }
    spans
}

/// What the slice cost (`~$1.20`: estimated), its context's fill as a
/// gauge (yellow near the limit), and its budget spent (red, with the key
/// that raises it, once its agent is paused for it).
fn usage_spans(app: &App, row: &SliceRow) -> Vec<Span<'static>> {
    let Some(usage) = row.usage.as_ref().filter(|u| !u.usage.is_empty()) else {
        return Vec::new();
    };
    let mut spans = vec![Span::raw(format!(" {}", usage.short()))];
    if let Some(context) = usage.usage.context {
        let percent = context.percent();
        let filled = (percent.min(100) as usize).div_ceil(25);
        let gauge: String = "▮".repeat(filled) + &"▯".repeat(4 - filled.min(4));
        let style = if context.near_limit() {
            Style::new().fg(Color::Yellow)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        };
        spans.push(Span::styled(format!(" {gauge}{percent}%"), style));
    }
    if usage.stopped {
        spans.push(Span::styled(
            format!(
                " budget spent, {} raises it",
                app.keymap.key(super::keymap::Action::RaiseBudget)
            ),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    } else if let Some(spent) = usage.spent.filter(|s| *s >= 0.8) {
        spans.push(Span::styled(
            format!(" budget {:.0}%", spent * 100.0),
            Style::new().fg(Color::Yellow),
        ));
    }
    spans
}

/// A usage limit: when it resets, in the viewer's time zone (with the
/// date when it is not today), and whether the agent goes on by itself.
fn limit_text(limit: &crate::domain::board::RowLimit) -> String {
    let now = jiff::ZonedDateTime::now();
    let at = limit.resets_at.to_zoned_datetime(now.time_zone().clone());
    let when = if at.date() == now.date() {
        at.strftime("%H:%M").to_string()
    } else {
        at.strftime("%b %-d %H:%M").to_string()
    };
    let then = if limit.resumes { ", goes on then" } else { "" };
    format!("usage limit: resets {when}{then}")
}

/// The lifecycle when it says more than the state (approved, merged,
/// removed), the last dbt run and the slice's place in the merge queue.
fn detail(app: &App, row: &SliceRow) -> Vec<Span<'static>> {
    let mut spans = vec![Span::raw("   ")];
    // The peek: what a waiting agent asks, first, since it is what the
    // operator must answer.
    if let Some(asks) = row.asks.as_ref().filter(|_| {
        row.status == crate::domain::AgentStatus::Running
            && row.activity == Some(crate::domain::Activity::Waiting)
    }) {
        spans.push(Span::styled(
            format!(" asks: {asks}"),
            Style::new().fg(Color::Yellow),
        ));
    }
    if let Some(limit) = &row.limit {
        spans.push(Span::styled(
            format!(" {}", limit_text(limit)),
            Style::new().fg(Color::Yellow),
        ));
    }
    spans.extend(usage_spans(app, row));
    if row.left_running.is_some() {
        spans.push(Span::styled(
            format!(
                " {} ends it (previous supervisor's)",
                app.keymap.key(super::keymap::Action::EndLeftRunning)
            ),
            Style::new().fg(Color::Red),
        ));
    }
    if matches!(
        row.lifecycle,
        Lifecycle::Approved
            | Lifecycle::Merged
            | Lifecycle::Removed
            | Lifecycle::Retired
            | Lifecycle::Cleaned
    ) {
        let new_commits = app.board.queue.new_commits(&row.name);
        let style = match row.lifecycle {
            Lifecycle::Merged if new_commits > 0 => Style::new().fg(Color::Yellow),
            Lifecycle::Merged => Style::new().fg(Color::Cyan),
            Lifecycle::Approved => Style::new().fg(Color::Green),
            _ => Style::new().add_modifier(Modifier::DIM),
        };
        let word = match row.lifecycle {
            Lifecycle::Merged => crate::domain::queue::merged_word(new_commits),
            other => other.to_string(),
        };
        spans.push(Span::styled(format!(" {word}"), style));
    }
    if let Some(setup) = &row.setup {
        use crate::domain::setup::SetupStatus;
        let (text, style) = match setup.status {
            SetupStatus::Failed => (
                " setup FAILED",
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            ),
            SetupStatus::Running => (" setting up…", Style::new().fg(Color::Yellow)),
            SetupStatus::Passed | SetupStatus::Skipped => ("", Style::new()),
        };
        if !text.is_empty() {
            spans.push(Span::styled(text, style));
        }
    }
    if let Some(run) = &row.dbt {
        let dbt_style = if run.status.is_bad() || run.counts().failed > 0 {
            Style::new().fg(Color::Red)
        } else if run.status == RunStatus::Running {
            Style::new().fg(Color::Yellow)
        } else {
            Style::new().fg(Color::Green)
        };
        spans.push(Span::styled(
            format!(" {}", run.headline(&row.name)),
            dbt_style,
        ));
    }
    if let Some(note) = queue_view::row_note(&app.board.queue, &row.name) {
        spans.push(Span::styled(
            format!(" {}", note.content.trim_start()),
            note.style,
        ));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::first_shown;

    #[test]
    fn the_window_moves_only_as_far_as_the_selection_needs() {
        // 20 slices, 6 shown.
        assert_eq!(first_shown(0, 3, 6, 20), 0);
        assert_eq!(first_shown(0, 6, 6, 20), 1);
        assert_eq!(first_shown(1, 19, 6, 20), 14);
        assert_eq!(first_shown(14, 10, 6, 20), 10);
        assert_eq!(first_shown(10, 12, 6, 20), 10);
        // Wrapping from the last slice to the first.
        assert_eq!(first_shown(14, 0, 6, 20), 0);
        // The board grew taller than the slices left below.
        assert_eq!(first_shown(14, 15, 20, 20), 0);
    }
}
