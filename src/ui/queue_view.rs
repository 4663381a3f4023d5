//! The Queue view and the merge state on the board: drawn from the
//! `QueueBoard` the supervisor's merge queue publishes, never computed
//! here.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout as Split, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::App;
use super::keymap::Action;
use crate::domain::SliceName;
use crate::domain::queue::{EntryState, QueueBoard};
use crate::domain::short_commit;

/// The color of a queue state.
fn state_style(state: &EntryState) -> Style {
    match state {
        EntryState::Ready => Style::new().fg(Color::Green),
        EntryState::Waiting { .. } => Style::new().add_modifier(Modifier::DIM),
        EntryState::Checking => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        EntryState::Conflicts { .. } | EntryState::Failed { .. } => {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        }
        EntryState::Stale { .. } => Style::new().fg(Color::Yellow),
        EntryState::Merged { .. } => Style::new().fg(Color::Cyan),
    }
}

/// The board's merge note for a slice: its queue position and state, or
/// an early warning that it would conflict.
pub fn row_note(queue: &QueueBoard, slice: &SliceName) -> Option<Span<'static>> {
    let view = queue.slices.get(slice);
    if let Some(going) = view.and_then(|v| v.going_words(slice)) {
        return Some(Span::styled(
            format!("  {going}"),
            Style::new().fg(Color::Yellow),
        ));
    }
    if let Some(state) = view.and_then(|v| v.state.as_ref()) {
        // The lifecycle beside it already says "merged".
        if matches!(state, EntryState::Merged { .. }) {
            return None;
        }
        let view = view?;
        let position = view.position.map_or_else(String::new, |p| format!("#{p} "));
        return Some(Span::styled(
            format!("  {position}{}", state.label()),
            state_style(state),
        ));
    }
    let paired = queue
        .pairs
        .iter()
        .filter_map(|p| {
            if &p.a == slice {
                Some(p.b.as_str())
            } else if &p.b == slice {
                Some(p.a.as_str())
            } else {
                None
            }
        })
        .collect::<Vec<_>>();
    if view.is_some_and(|v| !v.conflicts.is_empty()) {
        return Some(Span::styled(
            format!("  ! conflicts with {}", queue.integration),
            Style::new().fg(Color::Red),
        ));
    }
    (!paired.is_empty()).then(|| {
        Span::styled(
            format!("  ! conflicts with {}", paired.join(", ")),
            Style::new().fg(Color::Red),
        )
    })
}

/// The Queue view: the integration branch, each queued slice with its
/// state, merged slices, early conflict warnings, and the check's output.
pub fn draw_queue(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let queue = &app.board.queue;
    let mut lines = vec![header(queue)];
    if let Some(published) = &queue.published {
        lines.push(TextLine::styled(
            format!("published: {published}"),
            Style::new().fg(Color::Cyan),
        ));
    }
    if let Some(line) = runs_itself(app) {
        lines.push(line);
    }
    lines.push(TextLine::default());
    queued(app, &mut lines);
    not_queued(queue, &mut lines);
    upstream_merged(app, &mut lines);
    merged(queue, &mut lines);
    early_conflicts(queue, &mut lines);
    lines.push(TextLine::default());
    lines.push(hints(app));

    let output_height = if queue.check_output.is_empty() {
        0
    } else {
        (area.height / 2).max(4)
    };
    let [top, bottom] =
        Split::vertical([Constraint::Min(3), Constraint::Length(output_height)]).areas(area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::ALL).title(" merge queue ")),
        top,
    );
    if output_height > 0 {
        draw_check(frame, bottom, app, output_height);
    }
}

/// What the queue does by itself, or that the operator held it.
fn runs_itself(app: &App) -> Option<TextLine<'static>> {
    let queue = &app.board.queue;
    let hold = key(app, Action::HoldQueue);
    if queue.held {
        return Some(TextLine::styled(
            format!("HELD: nothing is approved, told or merged by itself ({hold} lets it go on)"),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    (!queue.runs_itself.is_empty()).then(|| {
        TextLine::styled(
            format!(
                "runs itself: {} ({hold} holds it)",
                queue.runs_itself.join(" · ")
            ),
            Style::new().fg(Color::Green),
        )
    })
}

/// Slices the queue, running itself, would approve, and what each waits
/// for (or that it needs the operator); slices not queued on their way
/// out, and how.
fn not_queued(queue: &QueueBoard, lines: &mut Vec<TextLine<'static>>) {
    let notes: Vec<(&SliceName, &str)> = queue
        .slices
        .iter()
        .filter_map(|(slice, view)| {
            let going = view.going_words(slice).filter(|_| view.position.is_none());
            going
                .or(view.autopilot.as_deref())
                .map(|note| (slice, note))
        })
        .collect();
    if notes.is_empty() {
        return;
    }
    lines.push(TextLine::default());
    for (slice, note) in notes {
        let style = if note.starts_with("needs you") {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        };
        lines.push(TextLine::from(vec![
            Span::raw("     "),
            Span::styled(slice.to_string(), Style::new().add_modifier(Modifier::BOLD)),
            Span::raw("  "),
            Span::styled(note.to_owned(), style),
        ]));
    }
}

/// The integration branch: where it is, its check, auto-merge.
fn header(queue: &QueueBoard) -> TextLine<'static> {
    let tip = queue.integration_tip.as_deref().map_or_else(
        || "not created yet".to_owned(),
        |t| format!("at {}", short_commit(t)),
    );
    let check = queue.check.as_deref().map_or_else(
        || "no check: a clean merge moves it".to_owned(),
        |c| format!("check `{c}`"),
    );
    TextLine::from(vec![
        Span::styled(
            format!("{} ", queue.integration),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            "{tip}; {check}{}",
            if queue.auto { "; auto-merge on" } else { "" }
        )),
    ])
}

/// Each queued slice with its state, or how to queue one.
fn queued(app: &App, lines: &mut Vec<TextLine<'static>>) {
    let queue = &app.board.queue;
    let selected = app.selected().map(|r| r.name.clone());
    if queue.order.is_empty() {
        lines.push(TextLine::styled(
            format!(
                "Nothing queued. Approve a slice ({}) to queue it.",
                key(app, Action::Approve)
            ),
            Style::new().add_modifier(Modifier::DIM),
        ));
    }
    for (i, slice) in queue.order.iter().enumerate() {
        let Some(view) = queue.slices.get(slice) else {
            continue;
        };
        let marker = if selected.as_ref() == Some(slice) {
            ">"
        } else {
            " "
        };
        let approved = view
            .approval
            .as_ref()
            .map_or_else(String::new, |a| format!(" {}", short_commit(&a.commit)));
        let mut spans = vec![
            Span::raw(format!("{marker}{:>2}. ", i + 1)),
            Span::styled(slice.to_string(), Style::new().add_modifier(Modifier::BOLD)),
            Span::styled(approved, Style::new().add_modifier(Modifier::DIM)),
            Span::raw("  "),
        ];
        if let Some(going) = view.going_words(slice) {
            spans.push(Span::styled(
                going.to_owned(),
                Style::new().fg(Color::Yellow),
            ));
        } else if let Some(state) = &view.state {
            spans.push(Span::styled(state.describe(), state_style(state)));
        }
        if let Some(note) = &view.speculative {
            spans.push(Span::styled(
                format!("  {note}"),
                Style::new().add_modifier(Modifier::DIM),
            ));
        }
        lines.push(TextLine::from(spans));
        data_lines(view.data.as_ref(), lines);
        if matches!(
            view.state,
            Some(EntryState::Failed { .. } | EntryState::Conflicts { .. })
        ) {
            lines.push(TextLine::styled(
                format!(
                    "       to retry: fix it ({} tells the agent), then approve it again ({})",
                    key(app, Action::Feedback),
                    key(app, Action::Approve)
                ),
                Style::new().add_modifier(Modifier::DIM),
            ));
        }
    }
}

/// What a merge did (or, checked, would do) to the data: each changed
/// model, a removed column in yellow.
fn data_lines(diff: Option<&crate::domain::queue::DataDiff>, lines: &mut Vec<TextLine<'static>>) {
    let Some(diff) = diff else { return };
    for line in diff.lines() {
        let style = if line.contains("; removed ") {
            Style::new().fg(Color::Yellow)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        };
        lines.push(TextLine::styled(format!("       data: {line}"), style));
    }
}

/// Slices whose upstream (what they come after) merged since their agent
/// was last told: their branch lacks it until they merge it in.
fn upstream_merged(app: &App, lines: &mut Vec<TextLine<'static>>) {
    let queue = &app.board.queue;
    let waiting: Vec<(&SliceName, &[SliceName])> = queue
        .slices
        .iter()
        .filter(|(_, v)| {
            !v.upstream_merged.is_empty() && !matches!(v.state, Some(EntryState::Merged { .. }))
        })
        .map(|(slice, v)| (slice, v.upstream_merged.as_slice()))
        .collect();
    if waiting.is_empty() {
        return;
    }
    lines.push(TextLine::default());
    lines.push(TextLine::styled(
        format!(
            "upstream merged ({} tells the agent to merge it in):",
            key(app, Action::Feedback)
        ),
        Style::new().add_modifier(Modifier::BOLD),
    ));
    for (slice, upstream) in waiting {
        let names: Vec<&str> = upstream.iter().map(SliceName::as_str).collect();
        lines.push(TextLine::from(vec![
            Span::raw("     "),
            Span::styled(slice.to_string(), Style::new().add_modifier(Modifier::BOLD)),
            Span::styled(
                format!("  after {} merged", names.join(", ")),
                Style::new().fg(Color::Yellow),
            ),
        ]));
    }
}

/// Merged slices, and the commits they got since.
fn merged(queue: &QueueBoard, lines: &mut Vec<TextLine<'static>>) {
    let merged = queue.merged_in_order();
    if !merged.is_empty() {
        lines.push(TextLine::default());
        for (slice, commit, new_commits) in merged {
            let (since, color) = match new_commits {
                0 => (String::new(), Color::Cyan),
                n => (
                    format!(
                        ", {} since (approve it again)",
                        crate::domain::queue::new_commits_phrase(n)
                    ),
                    Color::Yellow,
                ),
            };
            lines.push(TextLine::styled(
                format!("  merged  {slice} in {}{since}", short_commit(commit)),
                Style::new().fg(color),
            ));
            data_lines(queue.slices.get(slice).and_then(|v| v.data.as_ref()), lines);
        }
    }
}

/// Conflicts seen before anything is queued: with the integration branch,
/// and between slices.
fn early_conflicts(queue: &QueueBoard, lines: &mut Vec<TextLine<'static>>) {
    let early: Vec<String> = queue
        .slices
        .iter()
        .filter(|(_, v)| v.position.is_none() && v.state.is_none() && !v.conflicts.is_empty())
        .map(|(slice, v)| {
            format!(
                "  ! {slice} would conflict with {} in {}",
                queue.integration,
                v.conflicts.join(", ")
            )
        })
        .chain(queue.pairs.iter().map(|p| {
            format!(
                "  ! {} and {} conflict with each other in {}",
                p.a,
                p.b,
                p.paths.join(", ")
            )
        }))
        .collect();
    if !early.is_empty() {
        lines.push(TextLine::default());
        for line in early {
            lines.push(TextLine::styled(line, Style::new().fg(Color::Red)));
        }
    }
}

/// The queue's keys.
fn hints(app: &App) -> TextLine<'static> {
    TextLine::styled(
        format!(
            "{} merge the first ready slice  {} merge every ready slice  {} tell the agent  {} clean a merged slice  {} withdraw  {} hold  pgup/pgdn the check's output",
            key(app, Action::MergeHead),
            key(app, Action::MergeAll),
            key(app, Action::Feedback),
            key(app, Action::Clean),
            key(app, Action::WithdrawApproval),
            key(app, Action::HoldQueue),
        ),
        Style::new().add_modifier(Modifier::DIM),
    )
}

/// The check's output: the attempt running, or the last one, scrolled
/// back `queue_scroll` lines, with the file that holds all of it.
fn draw_check(frame: &mut Frame<'_>, area: Rect, app: &App, output_height: u16) {
    let queue = &app.board.queue;
    let log = queue
        .output_of
        .as_ref()
        .map_or_else(String::new, |a| format!(" · .git/sliceboard/{}", a.log()));
    let title = match (&queue.attempt, &queue.output_of) {
        (Some(attempt), _) => format!(
            " checking {} (attempt {}){log} ",
            attempt.slice, attempt.number
        ),
        (None, Some(last)) => format!(
            " last check: {} (attempt {}){log} ",
            last.slice, last.number
        ),
        (None, None) => " last check ".to_owned(),
    };
    let inner_height = usize::from(output_height.saturating_sub(2));
    let end = queue
        .check_output
        .len()
        .saturating_sub(app.queue_scroll.min(queue.check_output.len()));
    let skip = end.saturating_sub(inner_height);
    let title = if app.queue_scroll > 0 {
        format!("{title}(scrolled back {}) ", app.queue_scroll)
    } else {
        title
    };
    // Long lines wrap (each at least one row, so the last `inner_height`
    // lines hold every row shown), the newest row at the bottom.
    let width = usize::from(area.width.saturating_sub(2)).max(1);
    let mut rows: Vec<TextLine> = queue
        .check_output
        .iter()
        .take(end)
        .skip(skip)
        .flat_map(|l| wrap_row(l, width))
        .collect();
    let extra = rows.len().saturating_sub(inner_height);
    let text = rows.split_off(extra);
    frame.render_widget(
        Paragraph::new(text).block(Block::new().borders(Borders::ALL).title(title)),
        area,
    );
}

/// One output line as rows of `width` columns, the rows after the first
/// marked as its continuation; nothing is cut at the pane's edge.
fn wrap_row(line: &str, width: usize) -> Vec<TextLine<'static>> {
    const MARK: &str = "↪ ";
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut used = 0;
    for c in line.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width && !row.is_empty() {
            rows.push(std::mem::take(&mut row));
            row.push_str(MARK);
            used = 2;
        }
        row.push(c);
        used += w;
    }
    rows.push(row);
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| match r.strip_prefix(MARK) {
            Some(rest) if i > 0 => TextLine::from(vec![
                Span::styled(MARK, Style::new().add_modifier(Modifier::DIM)),
                Span::raw(rest.to_owned()),
            ]),
            _ => TextLine::raw(r),
        })
        .collect()
}

fn key(app: &App, action: Action) -> String {
    app.keymap
        .key_for(action)
        .unwrap_or_else(|| "(unbound)".into())
}
