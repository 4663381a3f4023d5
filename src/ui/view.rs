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
use super::keymap::Action;
use super::mouse::PaneArea;
use super::{activity_view, board_view, dbt_view, diff_view, help_view};
use crate::domain::SliceName;
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
    // The walkthrough, below everything else, while it is open.
    let guide_rows = super::guide_view::height(app, body.width, body.height);
    let [body, guide] =
        Split::vertical([Constraint::Min(3), Constraint::Length(guide_rows)]).areas(body);
    if guide_rows > 0 {
        super::guide_view::draw(frame, guide, app);
    }
    match app.layout {
        Layout::Grid => draw_grid(frame, body, app, &mut panes),
        // The tab shown, whole: the terminal, or the diff, dbt, logs or
        // events with the tab bar.
        Layout::Full if app.tab != Tab::Terminal => draw_detail(frame, body, app, &mut panes),
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
        Mode::Help => help_view::draw_help(frame, area, app),
        Mode::Confirm(confirm) => draw_confirm(frame, area, confirm, app),
        Mode::Compare(family) => super::variants::draw_compare(frame, area, app, family),
        Mode::Board
        | Mode::Typing
        | Mode::Search(_)
        | Mode::Prompt(_)
        | Mode::Review
        | Mode::Comment(_)
        | Mode::Copy(_) => {}
    }
    panes
}

/// The pane's right-hand title: the slice's sandbox and ports, when it
/// has either (` bubblewrap, network none · web 21363 `).
fn box_title(row: &SliceRow) -> Option<String> {
    let sandbox = row.sandbox.is_sandboxed().then(|| row.sandbox.describe());
    let ports = (!row.ports.is_empty()).then(|| crate::domain::board::ports_text(&row.ports));
    let parts: Vec<String> = sandbox.into_iter().chain(ports).collect();
    (!parts.is_empty()).then(|| format!(" {} ", parts.join(" · ")))
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
    // First, so a narrow screen never cuts it off.
    if let Some(seconds) = app.link_stalled {
        spans.insert(
            1,
            Span::styled(
                format!(" link stalled: nothing from the supervisor for {seconds} s "),
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            ),
        );
    }
    if let Some(problem) = &app.board.plan_problem {
        spans.push(Span::styled(
            format!("  {}", problem.headline()),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
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
        Mode::Prompt(text) => format!(
            "tell {}: {text}_   (enter: send, esc: cancel)",
            app.prompt_targets()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Mode::Review => {
            let n = app.selected().map_or(0, |r| r.review.comments.len());
            format!(
                "REVIEW {}: j/k move  v range  c comment  d delete  n/N comments  s send {n}  e editor  esc leave",
                app.selected()
                    .map(|s| s.name.to_string())
                    .unwrap_or_default(),
            )
        }
        Mode::Copy(copy) => format!("COPY {}: {}", copy.slice, super::app::COPY_KEYS),
        Mode::Comment(draft) => format!(
            "{}: {}_   (enter: save, alt-enter: new line, esc: drop)",
            match &draft.target {
                super::app::DraftTarget::New(_) => format!("comment on {}", draft.place),
                super::app::DraftTarget::Edit(id) => format!("comment #{id}"),
            },
            draft.text.replace('\n', " ⏎ ")
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
        Some(message) if !matches!(app.mode, Mode::Typing | Mode::Comment(_)) => {
            format!("{message}  |  {hint}")
        }
        _ => hint,
    };
    let style = if app.mode == Mode::Typing {
        Style::new().fg(Color::Black).bg(Color::Yellow)
    } else if matches!(app.mode, Mode::Review | Mode::Comment(_) | Mode::Copy(_)) {
        Style::new().fg(Color::Black).bg(Color::Magenta)
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
            dbt_view::draw_dbt(frame, nodes, row);
            draw_log(
                frame,
                log,
                app,
                " dbt.log ",
                &row.dbt_log,
                "dbt has written no log here yet.",
            );
        }
        Tab::Logs => {
            let empty = if row.follows_logs {
                "No lines yet in this slice's log files."
            } else {
                "This slice follows no extra logs. Add `logs = [\"logs/*.log\"]` (globs in its worktree) to its [[slice]] in sliceboard.toml."
            };
            draw_log(frame, content, app, " logs ", &row.logs, empty);
        }
        Tab::Events => {
            let now = app.now();
            let dim = Style::new().add_modifier(Modifier::DIM);
            let mut text = Vec::from(activity_view::signal_lines(row));
            text.extend(activity_view::usage_lines(row));
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
    app: &App,
    title: &str,
    lines: &std::collections::VecDeque<String>,
    empty: &str,
) {
    let scroll = app.log_scroll;
    let state = if scroll == 0 {
        "following".to_owned()
    } else {
        format!(
            "scrolled back; {} to follow",
            app.keymap.key(Action::ScrollDown)
        )
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
    let mut block = Block::new()
        .borders(Borders::ALL)
        .border_style(border)
        .title(TextLine::from(title));
    if let Some(boxed) = box_title(row) {
        block = block.title_top(
            TextLine::from(Span::styled(boxed, Style::new().fg(Color::DarkGray))).right_aligned(),
        );
    }
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
    let (top, left) = pane.map_or((0, 0), |p| pane_origin(p, inner));
    app.pane_areas.borrow_mut().push(PaneArea {
        slice: row.name.clone(),
        x: inner.x,
        y: inner.y,
        width: inner.width,
        height: inner.height,
        top,
        left,
    });
    let Some(pane) = pane.filter(|p| p.rows > 0) else {
        let keys = &app.keymap;
        let start = keys.key(Action::Start);
        frame.render_widget(
            Paragraph::new(match row.lifecycle {
                crate::domain::Lifecycle::Planned => format!(
                    "No worktree yet: press {} (or run `sliceboard up`), then {start} to start the agent.",
                    keys.key(Action::CreateWorktrees)
                ),
                crate::domain::Lifecycle::Cleaned => format!(
                    "Cleaned: its worktree was removed on purpose. `sliceboard up {}` starts it again.",
                    row.name
                ),
                _ => format!("No agent has run here yet. Press {start} to start it."),
            })
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    };
    render_pane(pane, inner, frame.buffer_mut());
    if let Mode::Copy(copy) = &app.mode
        && copy.slice == row.name
    {
        draw_copy(copy, pane, inner, frame.buffer_mut());
    }
    if typing
        && let Some((line, col)) = pane.cursor
        && let (Some(line), Some(col)) = (line.checked_sub(top), col.checked_sub(left))
        && line < inner.height
        && col < inner.width
    {
        frame.set_cursor_position((inner.x + col, inner.y + line));
    }
}

/// Copy mode over a pane: the selection reversed, the cursor on yellow.
fn draw_copy(copy: &super::app::CopyMode, pane: &PaneView, area: Rect, buf: &mut Buffer) {
    let (top, left) = pane_origin(pane, area);
    for r in 0..area.height {
        let line = i64::from(r) + i64::from(top) - pane.scroll as i64;
        for c in 0..area.width {
            let col = c + left;
            let cell = &mut buf[(area.x + c, area.y + r)];
            if copy.cursor == (line, col) {
                cell.set_style(Style::new().fg(Color::Black).bg(Color::Yellow));
            } else if copy.selects(line, col) {
                cell.set_style(Style::new().add_modifier(Modifier::REVERSED));
            }
        }
    }
}

/// The agent's first row and column a pane drawn in `area` shows. A pane
/// smaller than the agent's screen shows the part around its cursor, as
/// tmux does for a smaller client, so a prompt at the bottom stays in
/// view: the rows that end at the cursor's (or, with the cursor hidden,
/// at the last row with text), and the columns that hold the cursor. A
/// pane scrolled back into history shows its top.
pub fn pane_origin(pane: &PaneView, area: Rect) -> (u16, u16) {
    if pane.scroll > 0 {
        return (0, 0);
    }
    let anchor = pane.cursor.unwrap_or_else(|| {
        let last = pane.lines.iter().rposition(|line| !line.is_empty());
        (last.map_or(0, |row| row as u16), 0)
    });
    let start = |at: u16, size: u16, visible: u16| {
        if size <= visible {
            0
        } else {
            (at + 1).saturating_sub(visible).min(size - visible)
        }
    };
    (
        start(anchor.0, pane.rows, area.height),
        start(anchor.1, pane.cols, area.width),
    )
}

/// Draws a pane the supervisor rendered. Only characters and styles are
/// copied: no byte of the agent's output reaches the host terminal.
pub fn render_pane(pane: &PaneView, area: Rect, buf: &mut Buffer) {
    let (top, left) = pane_origin(pane, area);
    let rows = pane.lines.iter().skip(usize::from(top));
    for (row, runs) in rows.enumerate().take(usize::from(area.height)) {
        let y = area.y + row as u16;
        let mut x = area.x;
        let right = area.x + area.width.min(pane.cols.saturating_sub(left));
        // Cells left of the first column shown are skipped.
        let mut skip = usize::from(left);
        for run in runs {
            if x >= right {
                break;
            }
            let (shown, cut) = skip_columns(&run.text, &mut skip);
            if cut && x < right {
                // The right half of a wide character cut by the first
                // column shown: a blank, so what follows keeps its column.
                buf[(x, y)]
                    .set_symbol(" ")
                    .set_style(cell_style(&run.style));
                x += 1;
            }
            if shown.is_empty() {
                continue;
            }
            let hidden = run.style.attrs & attrs::HIDDEN != 0;
            x = put_cells(buf, (x, y), right, shown, cell_style(&run.style), hidden);
        }
    }
}

/// Writes `text` into row `y` from column `x` cell by cell, as the
/// emulator laid it out: each character with a width starts a cell, and
/// zero-width ones (combining marks, VS16, ZWJ) join the cell before, so
/// `👍🏽` is two wide cells and `🇫🇷` two narrow ones there as here. Where
/// its marks would make the host draw a cell wider than the emulator did
/// (`❤` + VS16 is one column there), the cell is drawn without them, so
/// nothing after it shifts. Concealed text is drawn blank; a control
/// character as a space. Returns the column after the last cell.
fn put_cells(
    buf: &mut Buffer,
    (mut x, y): (u16, u16),
    right: u16,
    text: &str,
    style: Style,
    hidden: bool,
) -> u16 {
    use unicode_width::{UnicodeWidthChar as _, UnicodeWidthStr as _};
    let mut chars = text.chars().peekable();
    let mut symbol = String::new();
    while let Some(c) = chars.next() {
        let c = if c.is_control() { ' ' } else { c };
        symbol.clear();
        symbol.push(c);
        while let Some(&mark) = chars.peek().filter(|m| m.width() == Some(0)) {
            symbol.push(mark);
            chars.next();
        }
        let width = c.width().unwrap_or(0) as u16;
        if width == 0 {
            // A mark with no cell before it in this row: nothing to join.
            continue;
        }
        if x + width > right {
            break;
        }
        if hidden {
            symbol.clear();
            symbol.push(' ');
        } else if symbol.width() != usize::from(width) {
            symbol.truncate(c.len_utf8());
        }
        buf[(x, y)].set_symbol(&symbol).set_style(style);
        // The columns a wide cell covers hold nothing of their own.
        for covered in x + 1..x + width {
            buf[(covered, y)].reset();
        }
        x += width;
    }
    x
}

/// What is left of `text` once `skip` columns are taken off its front,
/// and whether a wide character was cut in two there (it goes whole, so
/// one column of it is owed); lowers `skip` by what it took.
fn skip_columns<'a>(text: &'a str, skip: &mut usize) -> (&'a str, bool) {
    let mut chars = text.chars();
    while *skip > 0 {
        let Some(c) = chars.next() else { break };
        let width = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if width > *skip {
            *skip = 0;
            return (chars.as_str(), true);
        }
        *skip -= width;
    }
    (chars.as_str(), false)
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

/// A rectangle of at most `width` x `height`, centered in `area`.
pub(super) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

fn draw_confirm(frame: &mut Frame<'_>, area: Rect, confirm: &Confirm, app: &App) {
    let text = match confirm {
        Confirm::Kill(slice) => format!(
            "Kill {whose} agent? SIGTERM to its whole process group, SIGKILL after the grace period. Its commits and files stay.\n\ny: kill   any other key: cancel",
            whose = crate::domain::possessive(slice)
        ),
        Confirm::EndLeftRunning { slice, pid } => format!(
            "End agent group {pid} in {slice}? A previous supervisor left it running; nothing reaches its terminal. SIGTERM to the whole group (SIGCONT first), SIGKILL after the grace period. Its commits and files stay.\n\ny: end it   any other key: cancel"
        ),
        // Its concerns are folded to fit below (`fold_concerns`).
        Confirm::Approve { slice, .. } => format!(
            "Approve {slice} anyway? It needs a second look:\n\ny: approve   any other key: cancel"
        ),
        Confirm::Clean(slice) => format!(
            "Remove {slice}'s worktree and delete its branch? Only a merged slice is removed; its commits stay in the integration branch.\n\ny: clean   any other key: cancel"
        ),
        Confirm::Pick { slice, retired } => format!(
            "Pick {slice}? It is approved for the merge queue, and the other variants are retired: {}. Their agents stop and their worktrees are removed (uncommitted work in them is lost); their branches are kept under sliceboard/retired/.\n\ny: pick   any other key: cancel",
            if retired.is_empty() {
                "none left".to_owned()
            } else {
                retired
                    .iter()
                    .map(SliceName::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        Confirm::StopAll { running } => format!(
            "Stop the supervisor and its {running} running agent(s)? Each process group gets SIGTERM, then SIGKILL; worktrees, commits and pty.log stay. ({} only detaches.)\n\ny: stop all   any other key: cancel",
            app.keymap.key(Action::Quit)
        ),
    };
    // The key line has a row of its own at the bottom: however long the
    // question, it is never cut off.
    let (body, keys) = text.rsplit_once("\n\n").unwrap_or((text.as_str(), ""));
    let width = area.width.min(72);
    let inner_width = width.saturating_sub(2);
    // Borders, the blank line and the key line take 4 rows.
    let most = area.height.min(20).saturating_sub(4);
    let body = match confirm {
        Confirm::Approve { concerns, .. } => fold_concerns(body, concerns, inner_width, most),
        _ => body.to_owned(),
    };
    let height = (wrapped_rows(&body, inner_width) + 4).clamp(8, 20);
    let popup = centered(area, width, height);
    frame.render_widget(Clear, popup);
    let block = Block::new()
        .borders(Borders::ALL)
        .title(" confirm ")
        .border_style(Style::new().fg(Color::Yellow));
    let inner = block.inner(popup);
    block.render(popup, frame.buffer_mut());
    let [body_area, _, keys_area] = Split::vertical([
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    Paragraph::new(body)
        .wrap(Wrap { trim: true })
        .render(body_area, frame.buffer_mut());
    Paragraph::new(keys.to_owned()).render(keys_area, frame.buffer_mut());
}

/// The approval question's header and as many of its concerns as fit in
/// `rows` rows of `width` columns; the rest folded into "… and N more".
fn fold_concerns(header: &str, concerns: &[String], width: u16, rows: u16) -> String {
    let mut used = wrapped_rows(header, width);
    let mut lines = vec![header.to_owned()];
    for (i, concern) in concerns.iter().enumerate() {
        let line = format!("- {concern}");
        let more = i + 1 < concerns.len();
        let need = wrapped_rows(&line, width) + u16::from(more);
        if used + need > rows {
            lines.push(format!("… and {} more", concerns.len() - i));
            break;
        }
        used += wrapped_rows(&line, width);
        lines.push(line);
    }
    lines.join("\n")
}

/// About how many rows `text` takes wrapped at word boundaries into
/// `width` columns.
fn wrapped_rows(text: &str, width: u16) -> u16 {
    let width = usize::from(width.max(1));
    let rows: usize = text
        .lines()
        .map(|line| {
            let (mut rows, mut column) = (1, 0);
            for word in line.split_whitespace() {
                let len = word.chars().count();
                if column > 0 && column + 1 + len <= width {
                    column += 1 + len;
                    continue;
                }
                if column > 0 {
                    rows += 1;
                }
                // A word longer than the line takes rows of its own.
                let extra = len.saturating_sub(1) / width;
                rows += extra;
                column = len - extra * width;
            }
            rows
        })
        .sum();
    u16::try_from(rows).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::skip_columns;

    #[test]
    fn a_wide_character_cut_by_the_first_column_shown_owes_a_column() {
        let mut skip = 2;
        assert_eq!(skip_columns("a中b", &mut skip), ("b", true));
        let mut skip = 3;
        assert_eq!(skip_columns("a中b", &mut skip), ("b", false));
        let mut skip = 1;
        assert_eq!(skip_columns("ab", &mut skip), ("b", false));
        assert_eq!(skip, 0);
    }
}
