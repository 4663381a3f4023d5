//! Drawing the dashboard from the model: the board, the focused slice's
//! tabs, the grid of terminals, the help overlay and confirmations.
//!
//! Reads the [`App`] (the board and the panes the supervisor sent);
//! changes nothing but the frame. Every state is told apart by a symbol and a word as well as a
//! color, so the board reads without color too.

use std::collections::BTreeMap;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Direction, Layout as Split, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Tabs, Widget, Wrap};

use super::app::{App, Confirm, Layout, Mode, SliceRow, Tab};
use super::mouse::PaneArea;
use super::{activity_view, board_view, diff_view};
use crate::domain::SliceName;
use crate::domain::dbt_run::NodeStatus;
use crate::domain::pane::{ColorKind, PaneColor, PaneView, attrs};
use crate::session::Size;

/// Where each visible terminal was drawn: the loop asks the supervisor for
/// these panes and resizes agents to the space they get.
pub type PaneSizes = BTreeMap<SliceName, Size>;

pub fn draw(frame: &mut Frame<'_>, app: &App) -> PaneSizes {
    let mut panes = PaneSizes::new();
    app.pane_areas.borrow_mut().clear();
    let area = frame.area();
    let [title, body, status] = Split::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(title_line(app), title);
    match app.layout {
        Layout::Grid => draw_grid(frame, body, app, &mut panes),
        Layout::Full => {
            if let Some(row) = app.selected() {
                draw_terminal(frame, body, row, app, &mut panes);
            }
        }
        Layout::Queue => {
            let board_width = (body.width / 3).clamp(24, 44).min(body.width);
            let [board, detail] =
                Split::horizontal([Constraint::Length(board_width), Constraint::Min(10)])
                    .areas(body);
            board_view::draw_board(frame, board, app);
            super::queue_view::draw_queue(frame, detail, app);
        }
        Layout::Focus => {
            let board_width = (body.width / 3).clamp(24, 44).min(body.width);
            let [board, detail] =
                Split::horizontal([Constraint::Length(board_width), Constraint::Min(10)])
                    .areas(body);
            board_view::draw_board(frame, board, app);
            draw_detail(frame, detail, app, &mut panes);
        }
    }
    frame.render_widget(status_line(app), status);
    match &app.mode {
        Mode::Help => draw_help(frame, area, app),
        Mode::Confirm(confirm) => draw_confirm(frame, area, confirm),
        Mode::Board | Mode::Typing | Mode::Search(_) => {}
    }
    panes
}

fn title_line(app: &App) -> Paragraph<'static> {
    let mut spans = vec![
        Span::styled(
            " sliceboard ",
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ),
        Span::raw(format!(
            " {}  {} slices",
            repo_name(&app.board.repo),
            app.board.slices.len(),
        )),
    ];
    spans.extend(activity_view::header_counts(&app.board));
    Paragraph::new(TextLine::from(spans))
}

/// When an event happened, in the viewer's time zone: the time of day,
/// with the date in front when it was not today.
fn event_time(at: Option<jiff::Timestamp>, now: &jiff::ZonedDateTime) -> String {
    let Some(at) = at else {
        return "--:--:--".to_owned();
    };
    let local = at.to_zoned_datetime(now.time_zone().clone());
    if local.date() == now.date() {
        local.strftime("%H:%M:%S").to_string()
    } else {
        local.strftime("%Y-%m-%d %H:%M:%S").to_string()
    }
}

/// The repository's folder name: the header has no room for its path.
fn repo_name(repo: &str) -> &str {
    repo.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|name| !name.is_empty())
        .unwrap_or(repo)
}

fn status_line(app: &App) -> Paragraph<'static> {
    let hint = match &app.mode {
        Mode::Search(query) => format!(
            "search {}: {query}_   (enter: find, esc: cancel)",
            app.selected()
                .map(|s| s.name.to_string())
                .unwrap_or_default()
        ),
        Mode::Typing => format!(
            "TYPING into {} - {} leaves",
            app.selected()
                .map(|s| s.name.to_string())
                .unwrap_or_default(),
            app.keymap.leave.display()
        ),
        _ => app.keymap.hints(),
    };
    let text = match &app.message {
        Some(message) if app.mode != Mode::Typing => format!("{message}  |  {hint}"),
        _ => hint,
    };
    let style = if app.mode == Mode::Typing {
        Style::new().fg(Color::Black).bg(Color::Yellow)
    } else {
        Style::new().add_modifier(Modifier::DIM)
    };
    Paragraph::new(text).style(style)
}

fn draw_detail(frame: &mut Frame<'_>, area: Rect, app: &App, panes: &mut PaneSizes) {
    let Some(row) = app.selected() else {
        frame.render_widget(Paragraph::new("No slice selected."), area);
        return;
    };
    let [tabs_area, content] =
        Split::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let titles: Vec<&str> = Tab::ALL.iter().map(|t| t.title()).collect();
    let at = Tab::ALL.iter().position(|t| *t == app.tab).unwrap_or(0);
    frame.render_widget(
        Tabs::new(titles)
            .select(at)
            .highlight_style(Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)),
        tabs_area,
    );
    match app.tab {
        Tab::Terminal => draw_terminal(frame, content, row, app, panes),
        Tab::Diff => diff_view::draw(frame, content, app, row),
        Tab::Dbt => {
            let [nodes, log] =
                Split::vertical([Constraint::Percentage(60), Constraint::Percentage(40)])
                    .areas(content);
            draw_dbt(frame, nodes, row);
            draw_log(
                frame,
                log,
                " dbt.log ",
                &row.dbt_log,
                app.log_scroll,
                "dbt has written no log here yet.",
            );
        }
        Tab::Logs => {
            let empty = if row.follows_logs {
                "No lines yet in this slice's log files."
            } else {
                "This slice follows no extra logs. Add `logs = [\"logs/*.log\"]` (globs in its worktree) to its [[slice]] in sliceboard.toml."
            };
            draw_log(frame, content, " logs ", &row.logs, app.log_scroll, empty);
        }
        Tab::Events => {
            let now = app.now();
            let dim = Style::new().add_modifier(Modifier::DIM);
            let mut text = Vec::from(activity_view::signal_lines(row));
            text.extend(row.events.iter().rev().map(|e| {
                TextLine::from(vec![
                    Span::styled(format!("{} ", event_time(e.at, &now)), dim),
                    Span::raw(e.text.clone()),
                ])
            }));
            if row.events.is_empty() {
                text.push(TextLine::raw("Nothing has happened to this slice yet."));
            }
            frame.render_widget(
                Paragraph::new(text).wrap(Wrap { trim: false }).block(
                    Block::new()
                        .borders(Borders::ALL)
                        .title(" events, newest first "),
                ),
                content,
            );
        }
    }
}

/// A log's last lines (or, scrolled back, earlier ones), wrapped to fit.
fn draw_log(
    frame: &mut Frame<'_>,
    area: Rect,
    title: &str,
    lines: &std::collections::VecDeque<String>,
    scroll: usize,
    empty: &str,
) {
    let state = if scroll == 0 {
        "following"
    } else {
        "scrolled back; pgdn to follow"
    };
    let block = Block::new()
        .borders(Borders::ALL)
        .title(format!("{title}({state}) "));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if lines.is_empty() {
        frame.render_widget(Paragraph::new(empty).wrap(Wrap { trim: true }), inner);
        return;
    }
    let end = lines.len().saturating_sub(scroll);
    let start = end.saturating_sub(usize::from(inner.height));
    let shown: Vec<TextLine> = lines
        .range(start..end)
        .map(|l| TextLine::raw(l.clone()))
        .collect();
    frame.render_widget(Paragraph::new(shown), inner);
}

fn draw_dbt(frame: &mut Frame<'_>, area: Rect, row: &SliceRow) {
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
    let counts = run.counts();
    let mut lines = vec![TextLine::from(format!(
        "{} {:?}  {} ok, {} failed, {} skipped{}",
        run.invocation
            .as_deref()
            .or(run.command.as_deref())
            .unwrap_or("dbt"),
        run.status,
        counts.passed,
        counts.failed,
        counts.skipped,
        run.elapsed_seconds
            .map(|s| format!(", {s:.1}s"))
            .unwrap_or_default()
    ))];
    for node in run.nodes_by_urgency() {
        let style = match node.status {
            NodeStatus::Error | NodeStatus::Fail => Style::new().fg(Color::Red),
            NodeStatus::Warn | NodeStatus::Skipped => Style::new().fg(Color::Yellow),
            _ => Style::new(),
        };
        lines.push(TextLine::styled(
            format!(
                "{:<8} {:<9} {} {}",
                format!("{:?}", node.status).to_lowercase(),
                format!("{:?}", node.kind).to_lowercase(),
                node.name,
                node.execution_seconds
                    .map(|s| format!("{s:.2}s"))
                    .unwrap_or_default()
            ),
            style,
        ));
        if let Some(message) = &node.message {
            for line in message.lines().take(4) {
                lines.push(TextLine::styled(
                    format!("    {line}"),
                    Style::new().add_modifier(Modifier::DIM),
                ));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_grid(frame: &mut Frame<'_>, area: Rect, app: &App, panes: &mut PaneSizes) {
    let count = app.board.slices.len().max(1);
    let cols = (1..=count).find(|c| c * c >= count).unwrap_or(1);
    let rows = count.div_ceil(cols);
    let row_areas = Split::new(
        Direction::Vertical,
        vec![Constraint::Ratio(1, rows as u32); rows],
    )
    .split(area);
    for (r, row_area) in row_areas.iter().enumerate() {
        let cells = Split::new(
            Direction::Horizontal,
            vec![Constraint::Ratio(1, cols as u32); cols],
        )
        .split(*row_area);
        for (c, cell) in cells.iter().enumerate() {
            if let Some(row) = app.board.slices.get(r * cols + c) {
                draw_terminal(frame, *cell, row, app, panes);
            }
        }
    }
}

fn draw_terminal(
    frame: &mut Frame<'_>,
    area: Rect,
    row: &SliceRow,
    app: &App,
    panes: &mut PaneSizes,
) {
    let (symbol, word, style) = activity_view::badge(row);
    let selected = app.selected().is_some_and(|s| s.name == row.name);
    let typing = selected && app.mode == Mode::Typing;
    let border = if typing {
        Style::new().fg(Color::Yellow)
    } else if selected {
        Style::new().add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    let pane = app.panes.get(&row.name);
    let mut title = vec![
        Span::raw(format!(" {} ", row.name)),
        Span::styled(format!("{symbol} {word} "), style),
    ];
    if let Some(scroll) = pane.map(|p| p.scroll).filter(|s| *s > 0) {
        title.push(Span::styled(
            format!("↑ {scroll} lines "),
            Style::new().fg(Color::Cyan),
        ));
    }
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(border)
        .title(TextLine::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width < 2 || inner.height < 1 {
        return;
    }
    // Asked for whether or not a screen exists yet: the supervisor sends
    // one as soon as there is something to show.
    panes.insert(
        row.name.clone(),
        Size {
            cols: inner.width,
            rows: inner.height,
        },
    );
    app.pane_areas.borrow_mut().push(PaneArea {
        slice: row.name.clone(),
        x: inner.x,
        y: inner.y,
        width: inner.width,
        height: inner.height,
    });
    let Some(pane) = pane.filter(|p| p.rows > 0) else {
        frame.render_widget(
            Paragraph::new(match row.lifecycle {
                crate::domain::Lifecycle::Planned => {
                    "No worktree yet: press U (or run `sliceboard up`), then s to start the agent."
                }
                _ => "No agent has run here yet. Press s to start it.",
            })
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    };
    render_pane(pane, inner, frame.buffer_mut());
    if typing
        && let Some((line, col)) = pane.cursor
        && line < inner.height
        && col < inner.width
    {
        frame.set_cursor_position((inner.x + col, inner.y + line));
    }
}

/// Draws a pane the supervisor rendered. Only characters and styles are
/// copied: no byte of the agent's output reaches the host terminal.
pub fn render_pane(pane: &PaneView, area: Rect, buf: &mut Buffer) {
    for (row, runs) in pane.lines.iter().enumerate().take(usize::from(area.height)) {
        let y = area.y + row as u16;
        let mut x = area.x;
        let right = area.x + area.width.min(pane.cols);
        for run in runs {
            if x >= right {
                break;
            }
            let hidden = run.style.attrs & attrs::HIDDEN != 0;
            let style = cell_style(&run.style);
            let text: std::borrow::Cow<'_, str> = if hidden {
                " ".repeat(run.text.chars().count()).into()
            } else if run.text.chars().any(char::is_control) {
                run.text
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect::<String>()
                    .into()
            } else {
                run.text.as_str().into()
            };
            let (end, _) = buf.set_stringn(x, y, &text, usize::from(right - x), style);
            x = end;
        }
    }
}

fn cell_style(style: &crate::domain::pane::Style) -> Style {
    let mut out = Style::new().fg(color(style.fg)).bg(color(style.bg));
    for (bit, modifier) in [
        (attrs::BOLD, Modifier::BOLD),
        (attrs::DIM, Modifier::DIM),
        (attrs::ITALIC, Modifier::ITALIC),
        (attrs::UNDERLINE, Modifier::UNDERLINED),
        (attrs::INVERSE, Modifier::REVERSED),
        (attrs::STRIKE, Modifier::CROSSED_OUT),
    ] {
        if style.attrs & bit != 0 {
            out = out.add_modifier(modifier);
        }
    }
    out
}

fn color(c: PaneColor) -> Color {
    const NAMED: [Color; 16] = [
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];
    match c.kind() {
        ColorKind::Default => Color::Reset,
        ColorKind::Indexed(i) if i < 16 => NAMED[usize::from(i)],
        ColorKind::Indexed(i) => Color::Indexed(i),
        ColorKind::Rgb(r, g, b) => Color::Rgb(r, g, b),
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

fn draw_help(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let help = app.keymap.help();
    let key_width = help.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let line = |(keys, what): &(String, &'static str)| {
        TextLine::from(vec![
            Span::styled(
                format!("{keys:>key_width$}  "),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::raw(*what),
        ])
    };
    let legend = activity_view::legend();
    let extra = legend.len() + 1;
    // Two columns when one does not fit the terminal's height.
    let fits = help.len() + extra + 2 <= usize::from(area.height);
    let columns: usize = if fits || area.width < 100 { 1 } else { 2 };
    let per_column = help.len().div_ceil(columns);
    let width = if columns == 1 {
        76
    } else {
        area.width.min(160)
    };
    let popup = centered(
        area,
        width,
        u16::try_from(per_column + extra + 2).unwrap_or(u16::MAX),
    );
    frame.render_widget(Clear, popup);
    let block = Block::new()
        .borders(Borders::ALL)
        .title(" keys (any key closes) ");
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let [keys, legend_area] = Split::vertical([
        Constraint::Min(1),
        Constraint::Length(u16::try_from(extra).unwrap_or(u16::MAX)),
    ])
    .areas(inner);
    let mut legend_lines = vec![TextLine::raw("")];
    legend_lines.extend(legend);
    frame.render_widget(
        Paragraph::new(legend_lines).wrap(Wrap { trim: true }),
        legend_area,
    );
    let inner = keys;
    let halves =
        Split::horizontal(vec![Constraint::Ratio(1, columns as u32); columns]).split(inner);
    for (column, chunk) in help.chunks(per_column.max(1)).enumerate() {
        if let Some(rect) = halves.get(column) {
            frame.render_widget(
                Paragraph::new(chunk.iter().map(line).collect::<Vec<_>>()),
                *rect,
            );
        }
    }
}

fn draw_confirm(frame: &mut Frame<'_>, area: Rect, confirm: &Confirm) {
    let text = match confirm {
        Confirm::Kill(slice) => format!(
            "Kill {slice}'s agent? SIGTERM to its whole process group, SIGKILL after the grace period. Its commits and files stay.\n\ny: kill   any other key: cancel"
        ),
        Confirm::Approve { slice, concerns } => format!(
            "Approve {slice} anyway? It needs a second look:\n{}\n\ny: approve   any other key: cancel",
            concerns
                .iter()
                .map(|c| format!("- {c}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        Confirm::Clean(slice) => format!(
            "Remove {slice}'s worktree and delete its branch? Only a merged slice is removed; its commits stay in the integration branch.\n\ny: clean   any other key: cancel"
        ),
        Confirm::StopAll { running } => format!(
            "Stop the supervisor and its {running} running agent(s)? Each process group gets SIGTERM, then SIGKILL; worktrees, commits and pty.log stay. (q only detaches.)\n\ny: stop all   any other key: cancel"
        ),
    };
    let height = u16::try_from(text.lines().count() + 6)
        .unwrap_or(u16::MAX)
        .clamp(8, 20);
    let popup = centered(area, 72, height);
    frame.render_widget(Clear, popup);
    Paragraph::new(text)
        .wrap(Wrap { trim: true })
        .block(
            Block::new()
                .borders(Borders::ALL)
                .title(" confirm ")
                .border_style(Style::new().fg(Color::Yellow)),
        )
        .render(popup, frame.buffer_mut());
}
