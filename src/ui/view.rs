//! Drawing the dashboard from the model: the board, the focused slice's
//! tabs, the grid of terminals, the help overlay and confirmations.
//!
//! Reads the [`App`] and the sessions' screens; changes nothing but the
//! frame. Every state is told apart by a symbol and a word as well as a
//! color, so the board reads without color too.

use std::collections::BTreeMap;

use alacritty_terminal::index::{Column, Line};
use alacritty_terminal::term::cell::Flags;
use alacritty_terminal::vte::ansi::{Color as TermColor, NamedColor};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Direction, Layout as Split, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Tabs, Widget, Wrap};

use super::app::{App, Confirm, Layout, ListArea, Mode, SliceRow, Tab, status_text};
use super::highlight::{self, Lang};
use crate::domain::dbt_run::NodeStatus;
use crate::domain::diff::{ChangeKind, FileDiff, LineKind};
use crate::domain::ownership::PathFlag;
use crate::domain::{Activity, AgentStatus, SliceName};
use crate::session::{Screen, ScreenHandle, Size};
use crate::watch::WatchMode;

/// Where each visible terminal was drawn, so the loop can resize agents to
/// the space they get.
pub type PaneSizes = BTreeMap<SliceName, Size>;

pub fn draw(
    frame: &mut Frame<'_>,
    app: &App,
    screens: &BTreeMap<SliceName, ScreenHandle>,
) -> PaneSizes {
    let mut panes = PaneSizes::new();
    let area = frame.area();
    let [title, body, status] = Split::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(title_line(app), title);
    match app.layout {
        Layout::Grid => draw_grid(frame, body, app, screens, &mut panes),
        Layout::Full => {
            if let Some(row) = app.selected() {
                draw_terminal(frame, body, row, screens.get(&row.name), app, &mut panes);
            }
        }
        Layout::Focus => {
            let board_width = (body.width / 3).clamp(24, 44).min(body.width);
            let [board, detail] =
                Split::horizontal([Constraint::Length(board_width), Constraint::Min(10)])
                    .areas(body);
            draw_board(frame, board, app);
            draw_detail(frame, detail, app, screens, &mut panes);
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
    let waiting = app
        .slices
        .iter()
        .filter(|s| s.status == AgentStatus::Running && s.activity == Some(Activity::Waiting))
        .count();
    let mut spans = vec![
        Span::styled(
            " sliceboard ",
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ),
        Span::raw(format!(
            " {}  {} slices  {} running",
            app.repo,
            app.slices.len(),
            app.running()
        )),
    ];
    if waiting > 0 {
        spans.push(Span::styled(
            format!("  ? {waiting} waiting for you"),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    Paragraph::new(TextLine::from(spans))
}

fn status_line(app: &App) -> Paragraph<'static> {
    let hint = match &app.mode {
        Mode::Search(query) => format!("search {}: {query}_   (enter: find, esc: cancel)", app.selected().map(|s| s.name.to_string()).unwrap_or_default()),
        Mode::Typing => format!(
            "TYPING into {} - {} leaves",
            app.selected().map(|s| s.name.to_string()).unwrap_or_default(),
            app.keymap.leave.display()
        ),
        _ => "j/k move  enter type  s start  p pause  x kill  r restart  a approve  g grid  tab tabs  ? help  q quit".into(),
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

/// The symbol, word and color of a slice's state.
fn badge(row: &SliceRow) -> (&'static str, String, Style) {
    let activity = row.activity;
    match row.status {
        AgentStatus::Running if activity == Some(Activity::Waiting) => (
            "?",
            "waiting".into(),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ),
        AgentStatus::Running if activity == Some(Activity::Busy) => {
            ("*", "busy".into(), Style::new().fg(Color::Green))
        }
        AgentStatus::Running if activity == Some(Activity::Done) => {
            ("+", "done".into(), Style::new().fg(Color::Cyan))
        }
        AgentStatus::Running => ("-", "idle".into(), Style::new().fg(Color::Blue)),
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

fn draw_board(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let block = Block::new().borders(Borders::ALL).title(" slices ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.slices.is_empty() {
        frame.render_widget(
            Paragraph::new("The plan has no slices. Add [[slice]] entries to sliceboard.toml.")
                .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    let mut lines = Vec::new();
    for (i, row) in app.slices.iter().enumerate() {
        let (symbol, word, style) = badge(row);
        let selected = i == app.selected;
        let marker = if selected { ">" } else { " " };
        let name_style = if selected {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        };
        lines.push(TextLine::from(vec![
            Span::raw(marker),
            Span::styled(format!("{symbol} "), style),
            Span::styled(row.name.to_string(), name_style),
            Span::raw(" "),
            Span::styled(word, style),
        ]));
        let mut detail = vec![Span::styled(
            format!("    {}", row.lifecycle),
            Style::new().add_modifier(Modifier::DIM),
        )];
        if let Some(run) = &row.dbt {
            let counts = run.counts();
            let dbt_style = if counts.failed > 0 {
                Style::new().fg(Color::Red)
            } else {
                Style::new().fg(Color::Green)
            };
            let text = if counts.running > 0 {
                format!("  dbt running ({} done)", counts.passed + counts.failed)
            } else if counts.failed > 0 {
                format!("  dbt {} FAILED", counts.failed)
            } else {
                format!("  dbt {} ok", counts.passed)
            };
            detail.push(Span::styled(text, dbt_style));
        }
        lines.push(TextLine::from(detail));
        lines.push(TextLine::from(diff_summary(row, inner.width)));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_detail(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    screens: &BTreeMap<SliceName, ScreenHandle>,
    panes: &mut PaneSizes,
) {
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
        Tab::Terminal => draw_terminal(frame, content, row, screens.get(&row.name), app, panes),
        Tab::Diff => draw_diff(frame, content, app, row),
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
            let lines: Vec<TextLine> = row
                .events
                .iter()
                .rev()
                .map(|e| TextLine::raw(e.clone()))
                .collect();
            let text = if lines.is_empty() {
                vec![TextLine::raw("Nothing has happened to this slice yet.")]
            } else {
                lines
            };
            frame.render_widget(
                Paragraph::new(text).block(
                    Block::new()
                        .borders(Borders::ALL)
                        .title(" events, newest first "),
                ),
                content,
            );
        }
    }
}

/// The board's third line for a slice: diff size and ownership warnings.
fn diff_summary(row: &SliceRow, width: u16) -> Vec<Span<'static>> {
    let dim = Style::new().add_modifier(Modifier::DIM);
    let Some(diff) = &row.diff else {
        return vec![Span::styled("    diff: reading…", dim)];
    };
    let mut spans = match diff.files.len() {
        0 => vec![Span::styled("    no changes", dim)],
        n => vec![
            Span::raw(format!("    {n} file{} ", if n == 1 { "" } else { "s" })),
            Span::styled(format!("+{}", diff.added()), Style::new().fg(Color::Green)),
            Span::raw(" "),
            Span::styled(format!("-{}", diff.removed()), Style::new().fg(Color::Red)),
        ],
    };
    let outside = row
        .flags
        .iter()
        .filter(|f| matches!(f, PathFlag::Outside { .. }))
        .count();
    let shared = row.flags.len() - outside;
    let warn = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
    let mut words = Vec::new();
    if outside > 0 {
        words.push(format!("!{outside} outside"));
    }
    if shared > 0 {
        words.push(format!("!{shared} shared"));
    }
    let used: usize = spans.iter().map(Span::width).sum();
    let long = format!(" {}", words.join(" "));
    if !words.is_empty() {
        // Narrow boards get the count alone; the Diff tab says the rest.
        if used + long.len() <= usize::from(width) {
            spans.push(Span::styled(long, warn));
        } else {
            spans.push(Span::styled(format!(" !{}", row.flags.len()), warn));
        }
    }
    match &row.diff_mode {
        WatchMode::Polling { .. } => spans.push(Span::styled("  (polled)", dim)),
        WatchMode::Missing => spans.push(Span::styled("  (no worktree)", dim)),
        WatchMode::Events => {}
    }
    spans
}

/// The Diff tab: a summary line, the changed files, and the selected
/// file's hunks.
fn draw_diff(frame: &mut Frame<'_>, area: Rect, app: &App, row: &SliceRow) {
    let dim = Style::new().add_modifier(Modifier::DIM);
    let block = Block::new()
        .borders(Borders::ALL)
        .title(" diff  ([ ] file  { } hunk  pgup/pgdn scroll) ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    app.diff_list.set(None);
    let Some(diff) = &row.diff else {
        let text = match &row.diff_mode {
            WatchMode::Missing => format!(
                "{} has no worktree yet: run `sliceboard up`.",
                row.worktree.display()
            ),
            _ => "Reading the diff…".to_owned(),
        };
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), inner);
        return;
    };
    let mut head = vec![
        Span::styled(
            format!("{} files ", diff.files.len()),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!("+{}", diff.added()), Style::new().fg(Color::Green)),
        Span::raw(" "),
        Span::styled(format!("-{}", diff.removed()), Style::new().fg(Color::Red)),
        Span::styled(
            format!(
                "  vs merge base {}",
                diff.base
                    .as_deref()
                    .map_or("(none)", |b| &b[..b.len().min(10)])
            ),
            dim,
        ),
    ];
    match &row.diff_mode {
        WatchMode::Events => head.push(Span::styled("  live", dim)),
        WatchMode::Polling { reason } => head.push(Span::styled(
            format!("  polled: {reason}"),
            Style::new().fg(Color::Yellow),
        )),
        WatchMode::Missing => head.push(Span::styled(
            "  worktree missing; showing the last diff",
            Style::new().fg(Color::Yellow),
        )),
    }
    let mut top = vec![TextLine::from(head)];
    if let Some(error) = &row.diff_error {
        top.push(TextLine::styled(
            format!("diff failed: {error}"),
            Style::new().fg(Color::Red),
        ));
    }
    if diff.files.is_empty() {
        top.push(TextLine::styled(
            "Nothing changed against the merge base yet.",
            dim,
        ));
        frame.render_widget(Paragraph::new(top).wrap(Wrap { trim: true }), inner);
        return;
    }
    // The file list takes up to a third of the height, scrolled so the
    // selected file shows.
    let list_height = diff.files.len().min(usize::from(inner.height / 3).max(1));
    let first = (app.diff_file + 1).saturating_sub(list_height);
    for (i, file) in diff.files.iter().enumerate().skip(first).take(list_height) {
        top.push(file_line(file, i == app.diff_file, &row.flags));
    }
    let top_height = (top.len() as u16).min(inner.height);
    let [list_area, hunk_area] =
        Split::vertical([Constraint::Length(top_height), Constraint::Min(0)]).areas(inner);
    let shown = list_height.min(diff.files.len().saturating_sub(first)) as u16;
    app.diff_list.set(Some(ListArea {
        x: list_area.x,
        y: list_area.y + list_area.height.saturating_sub(shown),
        width: list_area.width,
        height: shown.min(list_area.height),
        first,
    }));
    frame.render_widget(Paragraph::new(top), list_area);
    if let Some(file) = diff.files.get(app.diff_file) {
        draw_hunks(frame, hunk_area, file, app.diff_scroll, &row.flags);
    }
}

fn file_line(file: &FileDiff, selected: bool, flags: &[PathFlag]) -> TextLine<'static> {
    let color = match file.kind {
        ChangeKind::Added => Color::Green,
        ChangeKind::Deleted => Color::Red,
        ChangeKind::Modified | ChangeKind::TypeChanged => Color::Yellow,
        ChangeKind::Renamed => Color::Cyan,
    };
    let marker = if selected { ">" } else { " " };
    let path = match &file.old_path {
        Some(old) => format!("{old} -> {}", file.path),
        None => file.path.clone(),
    };
    let mut name_style = Style::new();
    if selected {
        name_style = name_style.add_modifier(Modifier::REVERSED);
    }
    let untracked = if file.stage == crate::domain::diff::Stage::Untracked {
        "?"
    } else {
        " "
    };
    let mut spans = vec![
        Span::raw(marker),
        Span::styled(
            format!("{}{untracked} ", file.kind.letter()),
            Style::new().fg(color),
        ),
        Span::styled(path, name_style),
        Span::raw(" "),
    ];
    if file.binary {
        spans.push(Span::styled(
            "binary",
            Style::new().add_modifier(Modifier::DIM),
        ));
    } else {
        spans.push(Span::styled(
            format!("+{}", file.added),
            Style::new().fg(Color::Green),
        ));
        spans.push(Span::raw(" "));
        spans.push(Span::styled(
            format!("-{}", file.removed),
            Style::new().fg(Color::Red),
        ));
    }
    for flag in flags.iter().filter(|f| file.paths().any(|p| p == f.path())) {
        spans.push(Span::styled(
            format!("  ! {}", flag.describe()),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    TextLine::from(spans)
}

fn draw_hunks(
    frame: &mut Frame<'_>,
    area: Rect,
    file: &FileDiff,
    scroll: usize,
    flags: &[PathFlag],
) {
    let dim = Style::new().add_modifier(Modifier::DIM);
    let block = Block::new()
        .borders(Borders::TOP)
        .title(format!(" {} ", file.path));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines: Vec<TextLine> = Vec::new();
    for flag in flags.iter().filter(|f| file.paths().any(|p| p == f.path())) {
        lines.push(TextLine::styled(
            format!("! {}: {}", flag.path(), flag.describe()),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    if file.binary {
        lines.push(TextLine::styled("Binary file: no text diff.", dim));
    } else if file.hunks.is_empty() {
        lines.push(TextLine::styled(
            "No content change (mode, rename or empty file).",
            dim,
        ));
    }
    let lang = Lang::of(&file.path);
    let number = |n: Option<u32>| n.map_or_else(|| "    ".to_owned(), |n| format!("{n:>4}"));
    let mut drawn = 0usize;
    let height = usize::from(inner.height).saturating_sub(lines.len());
    'hunks: for hunk in file.hunks.iter() {
        for at in 0..=hunk.lines.len() {
            if drawn >= scroll + height {
                break 'hunks;
            }
            let keep = drawn >= scroll;
            drawn += 1;
            if !keep {
                continue;
            }
            if at == 0 {
                lines.push(TextLine::styled(
                    hunk.header.clone(),
                    Style::new().fg(Color::Cyan),
                ));
                continue;
            }
            let line = &hunk.lines[at - 1];
            let (sign, base) = match line.kind {
                LineKind::Added => ("+", Style::new().fg(Color::Green)),
                LineKind::Removed => ("-", Style::new().fg(Color::Red)),
                LineKind::Context => (" ", Style::new()),
                LineKind::Note => ("\\", dim),
            };
            let mut spans = vec![
                Span::styled(
                    format!("{} {} ", number(line.old_line), number(line.new_line)),
                    dim,
                ),
                Span::styled(sign, base),
            ];
            let text = line.text.replace('\t', "    ");
            spans.extend(highlight::spans(&text, lang, base));
            lines.push(TextLine::from(spans));
        }
    }
    if file.lines_omitted > 0 && drawn < scroll + height {
        lines.push(TextLine::styled(
            format!("… {} more lines not shown", file.lines_omitted),
            dim,
        ));
    }
    frame.render_widget(Paragraph::new(lines), inner);
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

fn draw_grid(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    screens: &BTreeMap<SliceName, ScreenHandle>,
    panes: &mut PaneSizes,
) {
    let count = app.slices.len().max(1);
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
            if let Some(row) = app.slices.get(r * cols + c) {
                draw_terminal(frame, *cell, row, screens.get(&row.name), app, panes);
            }
        }
    }
}

fn draw_terminal(
    frame: &mut Frame<'_>,
    area: Rect,
    row: &SliceRow,
    screen: Option<&ScreenHandle>,
    app: &App,
    panes: &mut PaneSizes,
) {
    let (symbol, word, style) = badge(row);
    let selected = app.selected().is_some_and(|s| s.name == row.name);
    let typing = selected && app.mode == Mode::Typing;
    let border = if typing {
        Style::new().fg(Color::Yellow)
    } else if selected {
        Style::new().add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(border)
        .title(TextLine::from(vec![
            Span::raw(format!(" {} ", row.name)),
            Span::styled(format!("{symbol} {word} "), style),
        ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(screen) = screen else {
        frame.render_widget(
            Paragraph::new(match row.lifecycle {
                crate::domain::Lifecycle::Planned => {
                    "No worktree yet: run `sliceboard up` in a shell, then press s to start the agent."
                }
                _ => "No agent has run here yet. Press s to start it.",
            })
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    };
    if inner.width < 2 || inner.height < 1 {
        return;
    }
    panes.insert(
        row.name.clone(),
        Size {
            cols: inner.width,
            rows: inner.height,
        },
    );
    screen.with_screen(|s| {
        render_screen(s, inner, frame.buffer_mut());
        if typing && s.display_offset() == 0 {
            let (line, col) = s.cursor();
            if line < usize::from(inner.height) && col < usize::from(inner.width) {
                frame.set_cursor_position((inner.x + col as u16, inner.y + line as u16));
            }
        }
    });
}

/// Walks the visible grid of an agent's screen into the frame's buffer.
/// Only characters and styles are copied: no byte of the agent's output
/// reaches the host terminal.
pub fn render_screen(screen: &Screen, area: Rect, buf: &mut Buffer) {
    let term = screen.term();
    let grid = term.grid();
    let offset = grid.display_offset() as i32;
    let rows = usize::from(area.height).min(screen.size().rows as usize);
    let cols = usize::from(area.width).min(screen.size().cols as usize);
    for row in 0..rows {
        let line = Line(row as i32 - offset);
        for col in 0..cols {
            let cell = &grid[line][Column(col)];
            if cell.flags.contains(Flags::WIDE_CHAR_SPACER) {
                continue;
            }
            let mut style = Style::new().fg(color(cell.fg)).bg(color(cell.bg));
            if cell.flags.contains(Flags::BOLD) {
                style = style.add_modifier(Modifier::BOLD);
            }
            if cell.flags.contains(Flags::ITALIC) {
                style = style.add_modifier(Modifier::ITALIC);
            }
            if cell.flags.intersects(Flags::ALL_UNDERLINES) {
                style = style.add_modifier(Modifier::UNDERLINED);
            }
            if cell.flags.contains(Flags::INVERSE) {
                style = style.add_modifier(Modifier::REVERSED);
            }
            if cell.flags.contains(Flags::DIM) {
                style = style.add_modifier(Modifier::DIM);
            }
            let c = if cell.c.is_control() { ' ' } else { cell.c };
            if let Some(target) = buf.cell_mut((area.x + col as u16, area.y + row as u16)) {
                target.set_char(c).set_style(style);
            }
        }
    }
}

fn color(c: TermColor) -> Color {
    match c {
        TermColor::Spec(rgb) => Color::Rgb(rgb.r, rgb.g, rgb.b),
        TermColor::Indexed(i) => Color::Indexed(i),
        TermColor::Named(named) => match named {
            NamedColor::Black | NamedColor::DimBlack => Color::Black,
            NamedColor::Red | NamedColor::DimRed => Color::Red,
            NamedColor::Green | NamedColor::DimGreen => Color::Green,
            NamedColor::Yellow | NamedColor::DimYellow => Color::Yellow,
            NamedColor::Blue | NamedColor::DimBlue => Color::Blue,
            NamedColor::Magenta | NamedColor::DimMagenta => Color::Magenta,
            NamedColor::Cyan | NamedColor::DimCyan => Color::Cyan,
            NamedColor::White | NamedColor::DimWhite => Color::Gray,
            NamedColor::BrightBlack => Color::DarkGray,
            NamedColor::BrightRed => Color::LightRed,
            NamedColor::BrightGreen => Color::LightGreen,
            NamedColor::BrightYellow => Color::LightYellow,
            NamedColor::BrightBlue => Color::LightBlue,
            NamedColor::BrightMagenta => Color::LightMagenta,
            NamedColor::BrightCyan => Color::LightCyan,
            NamedColor::BrightWhite => Color::White,
            _ => Color::Reset,
        },
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
    let lines: Vec<TextLine> = help
        .iter()
        .map(|(keys, what)| {
            TextLine::from(vec![
                Span::styled(
                    format!("{keys:>key_width$}  "),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    let popup = centered(area, 76, lines.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::new()
                .borders(Borders::ALL)
                .title(" keys (any key closes) "),
        ),
        popup,
    );
}

fn draw_confirm(frame: &mut Frame<'_>, area: Rect, confirm: &Confirm) {
    let text = match confirm {
        Confirm::Kill(slice) => format!(
            "Kill {slice}'s agent? SIGTERM to its whole process group, SIGKILL after the grace period. Its commits and files stay.\n\ny: kill   any other key: cancel"
        ),
        Confirm::Quit { running } => format!(
            "{running} agent(s) still run. Quitting stops them (SIGTERM, then SIGKILL); their worktrees, commits and output (.git/sliceboard/slices/*/pty.log) stay.\n\ny: quit   any other key: cancel"
        ),
    };
    let popup = centered(area, 64, 7);
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
