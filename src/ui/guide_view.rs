//! The walkthrough beside the board (`G`, the demo's): its steps, each
//! ticked once the board shows it done, the next one to do in bold and
//! whole (the others by their first line); below the panes, so the keys
//! it names still work on the board.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::App;
use super::keymap::Action;
use crate::domain::guide::Guide;

/// The lines the panel wants: its steps with their ticks, then the notes.
fn lines(guide: &Guide, app: &App) -> Vec<TextLine<'static>> {
    let ticks = guide.ticks(&app.board);
    let next = ticks
        .iter()
        .zip(&guide.steps)
        .position(|(done, step)| !done && !step.done_when.is_empty());
    let mut out = Vec::new();
    for (i, (step, done)) in guide.steps.iter().zip(&ticks).enumerate() {
        let style = if *done {
            Style::new().fg(Color::Green).add_modifier(Modifier::DIM)
        } else if Some(i) == next {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        // The step to do next is shown whole; the others by their first
        // line, so the panel stays small beside the panes.
        let shown = if Some(i) == next { usize::MAX } else { 1 };
        for (n, line) in step.text.lines().take(shown).enumerate() {
            let mark = match (n, done) {
                (0, true) => "✓ ",
                (0, false) if Some(i) == next => "→ ",
                _ => "  ",
            };
            out.push(TextLine::from(vec![
                Span::styled(mark, style),
                Span::styled(line.to_owned(), style),
            ]));
        }
    }
    if next.is_none() {
        for note in &guide.notes {
            out.push(TextLine::styled(
                format!("  {note}"),
                Style::new().add_modifier(Modifier::DIM),
            ));
        }
    }
    out
}

/// How many rows the panel takes out of an area `width` wide and `height`
/// high: all its lines (wrapped) when they fit in half of it, else half.
pub fn height(app: &App, width: u16, height: u16) -> u16 {
    let Some(guide) = app.board.guide.as_ref().filter(|_| app.guide_open) else {
        return 0;
    };
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = lines(guide, app)
        .iter()
        .map(|line| line.width().div_ceil(inner).max(1))
        .sum();
    u16::try_from(rows + 2).unwrap_or(u16::MAX).min(height / 2)
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let Some(guide) = app.board.guide.as_ref() else {
        return;
    };
    let lines = lines(guide, app);
    let done = guide.ticks(&app.board).iter().filter(|d| **d).count();
    let steps = guide
        .steps
        .iter()
        .filter(|s| !s.done_when.is_empty())
        .count();
    // The title's words before its details: "The demo, step by step".
    let name = guide
        .title
        .split(" (")
        .next()
        .unwrap_or_default()
        .trim_end_matches(':');
    let title = format!(
        " {name} · {done} of {steps} done · {} hides ",
        app.keymap.key(Action::Guide)
    );
    // Scrolled so that the step to do next is in view.
    let first_open = lines
        .iter()
        .position(|l| l.spans.first().is_some_and(|s| s.content == "→ "))
        .unwrap_or(0);
    let inner = area.height.saturating_sub(2);
    let width = usize::from(area.width.saturating_sub(2)).max(1);
    let rows: usize = lines
        .iter()
        .map(|line| line.width().div_ceil(width).max(1))
        .sum();
    let scroll = if rows <= usize::from(inner) {
        0
    } else {
        u16::try_from(first_open)
            .unwrap_or(0)
            .saturating_sub(inner / 3)
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(
                Block::new()
                    .borders(Borders::ALL)
                    .border_style(Style::new().fg(Color::Cyan))
                    .title(title),
            ),
        area,
    );
}
