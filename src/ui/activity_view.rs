//! How a slice's agent state reads on the board: one symbol and word per
//! slice, the header's counts, the legend in help and the Events tab's
//! first line. A guess from the screen is drawn with a leading `~`, dim
//! and italic, so it is never mistaken for the agent's own signal.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TextLine, Span};

use super::app::{SliceRow, status_text};
use crate::domain::board::{Board, activity_text, agent_word, left_running_word};
use crate::domain::dbt_run::RunStatus;
use crate::domain::{Activity, ActivitySource, AgentStatus};

/// The activities a running agent can be in, in the header's order.
const COUNTED: [Activity; 5] = [
    Activity::Waiting,
    Activity::Busy,
    Activity::Done,
    Activity::Idle,
    Activity::Unknown,
];

fn symbol_and_style(activity: Activity) -> (&'static str, Style) {
    match activity {
        Activity::Waiting => (
            "?",
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ),
        Activity::Busy => ("*", Style::new().fg(Color::Green)),
        Activity::Done => (
            "✓",
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ),
        Activity::Idle => ("-", Style::new().fg(Color::Blue)),
        Activity::Unknown => ("·", Style::new().add_modifier(Modifier::DIM)),
    }
}

/// A running agent's activity: `None` (nothing read yet) is unknown.
fn running_activity(row: &SliceRow) -> Activity {
    if dbt_runs(row) {
        return Activity::Busy;
    }
    row.activity.unwrap_or(Activity::Unknown)
}

/// A dbt run in progress in the slice's worktree makes its agent busy,
/// whatever its screen looks like, unless it asks the operator something.
fn dbt_runs(row: &SliceRow) -> bool {
    row.dbt
        .as_ref()
        .is_some_and(|run| run.status == RunStatus::Running)
        && row.activity != Some(Activity::Waiting)
}

/// The symbol, word and style of a slice's state on the board.
pub fn badge(row: &SliceRow) -> (&'static str, String, Style) {
    if let Some(left) = row.left_running {
        return (
            "!",
            left_running_word(left),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        );
    }
    match row.status {
        AgentStatus::Running => {
            let activity = running_activity(row);
            let (symbol, style) = symbol_and_style(activity);
            let word = if dbt_runs(row) {
                "busy (dbt)".to_owned()
            } else {
                agent_word(row.status, row.activity, row.activity_source)
            };
            let guessed = word.starts_with('~');
            let style = if guessed {
                style.add_modifier(Modifier::DIM | Modifier::ITALIC)
            } else {
                style
            };
            (symbol, word, style)
        }
        AgentStatus::Paused => ("=", "paused".into(), Style::new().fg(Color::Magenta)),
        AgentStatus::Pending => (
            ".",
            "pending".into(),
            Style::new().add_modifier(Modifier::DIM),
        ),
        AgentStatus::Exited { code: Some(0) } => {
            ("+", "exited(0)".into(), Style::new().fg(Color::Cyan))
        }
        AgentStatus::Exited { .. } | AgentStatus::Killed => {
            ("x", status_text(row.status), Style::new().fg(Color::Red))
        }
        AgentStatus::NotStarted => (
            " ",
            row.lifecycle.to_string(),
            Style::new().add_modifier(Modifier::DIM),
        ),
    }
}

/// The header's agent counts: running (and paused), then each activity
/// that some running agent is in, waiting first.
pub fn header_counts(board: &Board) -> Vec<Span<'static>> {
    let running: Vec<&SliceRow> = board
        .slices
        .iter()
        .filter(|s| s.status == AgentStatus::Running)
        .collect();
    let paused = board
        .slices
        .iter()
        .filter(|s| s.status == AgentStatus::Paused)
        .count();
    let mut spans = vec![Span::raw(format!("  {} running", running.len()))];
    if paused > 0 {
        spans.push(Span::styled(
            format!(" ({paused} paused)"),
            Style::new().fg(Color::Magenta),
        ));
    }
    for activity in COUNTED {
        let n = running
            .iter()
            .filter(|row| running_activity(row) == activity)
            .count();
        if n == 0 {
            continue;
        }
        let (symbol, style) = symbol_and_style(activity);
        let word = match activity {
            Activity::Waiting => "waiting for you",
            other => activity_text(Some(other)),
        };
        spans.push(Span::raw("  "));
        spans.push(Span::styled(format!("{symbol} {n} {word}"), style));
    }
    // What the whole refactor cost so far (`~`: estimated).
    let total =
        crate::domain::usage::UsageTotal::of(board.slices.iter().filter_map(|s| s.usage.as_ref()));
    let label = total.label();
    if !label.is_empty() {
        spans.push(Span::raw(format!("  {label}")));
    }
    spans
}

/// What the symbols mean, for the help overlay.
pub fn legend() -> Vec<TextLine<'static>> {
    let mut spans = vec![Span::raw("agents: ")];
    for activity in COUNTED {
        let (symbol, style) = symbol_and_style(activity);
        spans.push(Span::styled(
            format!("{symbol} {}", activity_text(Some(activity))),
            style,
        ));
        spans.push(Span::raw("  "));
    }
    vec![
        TextLine::from(spans),
        TextLine::from(vec![
            Span::styled(
                "~busy",
                Style::new().add_modifier(Modifier::DIM | Modifier::ITALIC),
            ),
            Span::raw(" = a guess from the screen; no mark = the agent's own signal (hooks)"),
        ]),
    ]
}

/// The Events tab's first lines: the activity, its source and the last
/// signal, so the operator can check that the agent's hooks arrive.
/// The Events tab's usage section: what the slice cost, its context and
/// budget, then its tokens by model.
pub fn usage_lines(row: &SliceRow) -> Vec<TextLine<'static>> {
    use crate::domain::usage::count;
    let dim = Style::new().add_modifier(Modifier::DIM);
    let Some(usage) = row.usage.as_ref().filter(|u| !u.usage.is_empty()) else {
        return vec![TextLine::from(Span::styled("usage: none known yet", dim))];
    };
    let tokens = usage.usage.tokens();
    let money = match usage.cost {
        Some(cost) if cost.estimated => {
            format!("{} (estimated from the price table)", cost.label())
        }
        Some(cost) => format!("{} (the agent's own figure)", cost.label()),
        None => "money unknown (a model has no price: add it to [prices])".to_owned(),
    };
    let mut head = format!("usage: {money}, {} tokens", count(tokens.total()));
    if let Some(context) = usage.usage.context {
        head.push_str(&format!(
            "; context {}% of {}",
            context.percent(),
            count(context.window)
        ));
    }
    if usage.usage.compactions > 0 {
        head.push_str(&format!(", compacted {}x", usage.usage.compactions));
    }
    if let (Some(budget), Some(spent)) = (usage.budget, usage.spent) {
        head.push_str(&format!(
            "; budget {}, {:.0}% spent{}",
            budget.label(),
            spent * 100.0,
            if usage.stopped { ", agent paused" } else { "" }
        ));
    }
    let mut lines = vec![TextLine::from(Span::styled(
        head,
        dim.add_modifier(Modifier::BOLD),
    ))];
    for (model, t) in &usage.usage.by_model {
        let model = if model.is_empty() {
            "(model not said)"
        } else {
            model
        };
        lines.push(TextLine::from(Span::styled(
            format!(
                "  {model}: {} in, {} out, {} cache write, {} cache read",
                count(t.input),
                count(t.output),
                count(t.cache_write),
                count(t.cache_read)
            ),
            dim,
        )));
    }
    lines
}

pub fn signal_lines(row: &SliceRow) -> [TextLine<'static>; 2] {
    let dim = Style::new().add_modifier(Modifier::DIM);
    let source = match row.activity_source {
        Some(ActivitySource::Signal) => "the agent's signal",
        Some(ActivitySource::Bell) => "the terminal bell",
        Some(ActivitySource::Screen) => "a guess from the screen",
        None => "nothing read yet",
    };
    let now = if row.status == AgentStatus::Running {
        format!(
            "now: {} ({source})",
            activity_text(Some(running_activity(row)))
        )
    } else {
        format!("agent {}", status_text(row.status))
    };
    let last = match &row.last_signal {
        Some(signal) => format!("last signal: {signal}"),
        None => "no signal yet (docs/agent-hooks.md)".to_owned(),
    };
    let bold = dim.add_modifier(Modifier::BOLD);
    [
        TextLine::from(Span::styled(now, bold)),
        TextLine::from(Span::styled(last, bold)),
    ]
}
