//! The dbt tab's upper pane: the slice's last dbt run (command, outcome,
//! counts, target, time), dbt's own error in full when the run ended in
//! one, then every node, failures first, each with its whole message,
//! wrapped to the pane.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::SliceRow;
use crate::domain::dbt_run::{DbtRun, NodeStatus, RunStatus};

pub fn draw_dbt(frame: &mut Frame<'_>, area: Rect, row: &SliceRow) {
    let block = Block::new().borders(Borders::ALL).title(" dbt ");
    let Some(run) = &row.dbt else {
        frame.render_widget(
            Paragraph::new(format!(
                "No dbt run in this worktree yet ({}/logs/dbt.log).",
                row.worktree.display()
            ))
            .block(block)
            .wrap(Wrap { trim: false }),
            area,
        );
        return;
    };
    let dim = Style::new().add_modifier(Modifier::DIM);
    let mut lines = vec![headline(run)];
    let mut about = Vec::new();
    if let Some(target) = &run.target {
        about.push(format!("target {target}"));
    }
    if let Some(schema) = &run.schema {
        let database = run
            .database
            .as_deref()
            .map_or_else(String::new, |d| format!("{d}."));
        about.push(format!("into {database}{schema}"));
    }
    if let Some(started) = &run.started_at {
        about.push(format!("started {started}"));
    }
    if let Some(seconds) = run.elapsed_seconds {
        about.push(format!("{seconds:.1}s"));
    }
    if !about.is_empty() {
        lines.push(TextLine::styled(about.join(", "), dim));
    }
    if let Some(message) = &run.message {
        let red = Style::new().fg(Color::Red);
        lines.extend(message.lines().map(|l| TextLine::styled(l.to_owned(), red)));
    }
    for node in run.nodes_by_urgency() {
        let style = match node.status {
            NodeStatus::Error | NodeStatus::Fail => Style::new().fg(Color::Red),
            NodeStatus::Warn | NodeStatus::Skipped => Style::new().fg(Color::Yellow),
            _ => Style::new(),
        };
        let mut spans = vec![Span::styled(
            format!(
                "{:<8} {:<9} {} {}",
                format!("{:?}", node.status).to_lowercase(),
                node.kind.as_str(),
                node.name,
                node.execution_seconds
                    .map(|s| format!("{s:.2}s"))
                    .unwrap_or_default()
            ),
            style,
        )];
        if let Some(owner) = node.owner.as_ref().filter(|o| **o != row.name) {
            spans.push(Span::styled(
                format!("  ({})", crate::domain::possessive(owner)),
                Style::new().fg(Color::Cyan),
            ));
        }
        lines.push(TextLine::from(spans));
        if let Some(message) = &node.message {
            lines.extend(
                message
                    .lines()
                    .map(|line| TextLine::styled(format!("    {line}"), dim)),
            );
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// `dbt build --select x  interrupted  6 ok, 0 failed, 0 skipped (6 of 27 ran)`.
fn headline(run: &DbtRun) -> TextLine<'static> {
    let counts = run.counts();
    let status_style = match run.status {
        RunStatus::Success => Style::new().fg(Color::Green),
        RunStatus::Running => Style::new().fg(Color::Yellow),
        _ => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
    };
    let mut text = format!(
        "  {} ok, {} failed, {} skipped",
        counts.passed, counts.failed, counts.skipped
    );
    if counts.no_op > 0 {
        text.push_str(&format!(", {} no-op", counts.no_op));
    }
    if let (Some(total), RunStatus::Interrupted | RunStatus::Aborted | RunStatus::Running) =
        (run.selected, run.status)
    {
        text.push_str(&format!(
            " ({} of {total} ran)",
            counts.passed + counts.failed + counts.warned
        ));
    }
    TextLine::from(vec![
        Span::raw(format!(
            "{} ",
            run.invocation
                .as_deref()
                .or(run.command.as_deref())
                .unwrap_or("dbt")
        )),
        Span::styled(run.status.as_str(), status_style),
        Span::raw(text),
    ])
}
