//! Drawing a slice's live diff: the board's diff line, and the Diff tab
//! (summary, file list with counts and ownership flags, hunks with line
//! numbers and light highlighting). Reads the model; changes nothing but the
//! frame and the file list's position, kept for mouse clicks.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout as Split, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::{App, ListArea, Mode, SliceRow};
use super::highlight::{self, Lang};
use super::keymap::Action;
use super::review_view;
use super::side_by_side;
use super::word_diff;
use crate::domain::diff::WatchMode;
use crate::domain::diff::{ChangeKind, FileDiff, LineKind, SliceDiff};
use crate::domain::ownership::PathFlag;

/// The board's third line for a slice: diff size, ownership warnings and
/// the paths that would conflict (with the integration tip or another
/// slice).
pub fn summary(row: &SliceRow, conflicts: usize, width: u16) -> Vec<Span<'static>> {
    let dim = Style::new().add_modifier(Modifier::DIM);
    let Some(diff) = &row.diff else {
        return vec![Span::styled("    diff: reading…", dim)];
    };
    let counted = !diff.files.is_empty();
    let mut spans = match diff.files.len() {
        0 => vec![Span::styled("    no changes", dim)],
        n => vec![
            Span::raw(format!("    {n} file{} ", if n == 1 { "" } else { "s" })),
            Span::styled(format!("+{}", diff.added()), Style::new().fg(Color::Green)),
            Span::raw(" "),
            Span::styled(format!("-{}", diff.removed()), Style::new().fg(Color::Red)),
        ],
    };
    // The operator's comments waiting to be sent.
    let comments = row.review.comments.len();
    if comments > 0 {
        let outdated = row.review.outdated();
        spans.push(Span::styled(
            if outdated > 0 {
                format!(" ┃{comments}({outdated} outdated)")
            } else {
                format!(" ┃{comments}")
            },
            Style::new().fg(Color::Magenta),
        ));
    }
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
    if conflicts > 0 {
        words.push(format!("!{conflicts} conflicts"));
    }
    let used: usize = spans.iter().map(Span::width).sum();
    if !words.is_empty() {
        // Narrower boards get shorter words, outside, shared and
        // conflicts still apart; the Diff tab and the Queue say the rest.
        let part = |n: usize, word: &str| (n > 0).then(|| format!("!{n}{word}"));
        let forms = [
            format!(" {}", words.join(" ")),
            [
                part(outside, " out"),
                part(shared, " shr"),
                part(conflicts, " cnf"),
            ]
            .into_iter()
            .flatten()
            .fold(String::new(), |a, p| format!("{a} {p}")),
            [part(outside, "o"), part(shared, "s"), part(conflicts, "c")]
                .into_iter()
                .flatten()
                .fold(String::new(), |a, p| format!("{a} {p}")),
        ];
        let fits = forms
            .iter()
            .find(|f| used + f.chars().count() <= usize::from(width));
        let chosen = match fits {
            Some(form) => form.clone(),
            None => {
                // Narrowest: the line's indent gives way before the flags,
                // then the line counts, then the word "files".
                if let Some(first) = spans.first_mut()
                    && let Some(rest) = first.content.strip_prefix("    ")
                {
                    first.content = format!("  {rest}").into();
                }
                let room = usize::from(width).saturating_sub(forms[2].chars().count());
                let used = |spans: &[Span<'_>]| spans.iter().map(Span::width).sum::<usize>();
                if used(&spans) > room && counted {
                    // "+6", " ", "-3" follow the file count.
                    spans.drain(1..4);
                    let first = spans[0].content.trim_end().to_owned();
                    spans[0].content = first.into();
                }
                if used(&spans) > room
                    && let Some(first) = spans.first_mut()
                {
                    let short = first.content.replace(" files", "f").replace(" file", "f");
                    first.content = short.into();
                }
                forms[2].clone()
            }
        };
        spans.push(Span::styled(chosen, warn));
    }
    match &row.diff_mode {
        WatchMode::Polling { .. } => spans.push(Span::styled("  (polled)", dim)),
        WatchMode::Missing if row.lifecycle.gone_on_purpose() => {}
        WatchMode::Missing => spans.push(Span::styled("  (no worktree)", dim)),
        WatchMode::Events => {}
    }
    spans
}

/// The Diff tab: a summary line, the changed files, and the selected
/// file's hunks.
pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, row: &SliceRow) {
    let dim = Style::new().add_modifier(Modifier::DIM);
    let block = diff_block(app);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    app.diff_list.set(None);
    let since = app.since_shown();
    let shown = match since {
        Some(since) => since.shown.as_deref(),
        None => row.diff.as_deref(),
    };
    let Some(diff) = shown else {
        let text = match since {
            Some(_) => "Reading what changed since your last look…".to_owned(),
            None => no_diff_text(row),
        };
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), inner);
        return;
    };
    let mut top = vec![diff_summary(diff, row, app)];
    if let Some(error) = &row.diff_error {
        top.push(TextLine::styled(
            format!("diff failed: {error}"),
            Style::new().fg(Color::Red),
        ));
    }
    if diff.files.is_empty() {
        top.push(TextLine::styled(
            if since.is_some() {
                "Nothing changed since your last look."
            } else {
                "Nothing changed against the merge base yet."
            },
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
        rows_per_item: 1,
    }));
    frame.render_widget(Paragraph::new(top), list_area);
    // Reviewing, the slice's comments are listed under the hunks.
    let tray = if matches!(app.mode, Mode::Review | Mode::Comment(_)) {
        review_view::tray_height(row, hunk_area.height)
    } else {
        0
    };
    let [hunk_area, tray_area] =
        Split::vertical([Constraint::Min(0), Constraint::Length(tray)]).areas(hunk_area);
    if let Some(file) = diff.files.get(app.diff_file) {
        draw_hunks(frame, hunk_area, app, row, file);
    }
    if tray > 0 {
        review_view::draw_tray(frame, tray_area, app, row);
    }
}

/// The tab's frame, titled with its keys.
fn diff_block(app: &App) -> Block<'static> {
    let keys = &app.keymap;
    if matches!(app.mode, Mode::Review | Mode::Comment(_)) {
        return Block::new()
            .borders(Borders::ALL)
            .border_style(Style::new().fg(Color::Magenta))
            .title(" review: the keys are on the status line ");
    }
    Block::new().borders(Borders::ALL).title(format!(
        " diff  ({} {} file  {} {} hunk  {}/{} scroll) ",
        keys.key(Action::PrevFile),
        keys.key(Action::NextFile),
        keys.key(Action::PrevHunk),
        keys.key(Action::NextHunk),
        keys.key(Action::ScrollUp),
        keys.key(Action::ScrollDown),
    ))
}

/// Why there is no diff to show.
fn no_diff_text(row: &SliceRow) -> String {
    match &row.diff_mode {
        WatchMode::Missing if row.lifecycle.gone_on_purpose() => format!(
            "{} is {}: sliceboard removed its worktree on purpose.",
            row.name, row.lifecycle
        ),
        WatchMode::Missing => format!(
            "{} has no worktree yet: run `sliceboard up`.",
            row.worktree.display()
        ),
        _ => "Reading the diff…".to_owned(),
    }
}

/// The summary line: files, lines added and removed, the merge base, and
/// how the diff is kept up to date.
fn diff_summary(diff: &SliceDiff, row: &SliceRow, app: &App) -> TextLine<'static> {
    let dim = Style::new().add_modifier(Modifier::DIM);
    let against = match app.since_shown() {
        Some(since) => Span::styled(
            format!(
                "  {}  ({}: whole diff)",
                App::since_words(since),
                app.keymap.key(Action::DiffSince)
            ),
            Style::new().fg(Color::Yellow),
        ),
        None => Span::styled(
            format!(
                "  vs merge base {}",
                diff.base
                    .as_deref()
                    .map_or("(none)", |b| &b[..b.len().min(10)])
            ),
            dim,
        ),
    };
    let mut head = vec![
        Span::styled(
            format!("{} files ", diff.files.len()),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!("+{}", diff.added()), Style::new().fg(Color::Green)),
        Span::raw(" "),
        Span::styled(format!("-{}", diff.removed()), Style::new().fg(Color::Red)),
        against,
    ];
    match &row.diff_mode {
        WatchMode::Events => head.push(Span::styled("  live", dim)),
        WatchMode::Polling { reason } => head.push(Span::styled(
            format!("  polled: {reason}"),
            Style::new().fg(Color::Yellow),
        )),
        WatchMode::Missing if row.lifecycle.gone_on_purpose() => head.push(Span::styled(
            format!("  {}; showing its last diff", row.lifecycle),
            dim,
        )),
        WatchMode::Missing => head.push(Span::styled(
            "  worktree missing; showing the last diff",
            Style::new().fg(Color::Yellow),
        )),
    }
    TextLine::from(head)
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

/// Columns before a diff line's text: two line numbers, the comment
/// mark and the sign.
const GUTTER: usize = 11;

/// `spans` cut into rows of at most `width` columns (a wide character
/// never split), each keeping its style.
pub(super) fn wrap_spans(spans: Vec<Span<'static>>, width: usize) -> Vec<Vec<Span<'static>>> {
    use unicode_width::UnicodeWidthChar as _;
    let mut rows = vec![Vec::new()];
    let mut used = 0;
    for span in spans {
        let mut piece = String::new();
        for c in span.content.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > width && used > 0 {
                if !piece.is_empty()
                    && let Some(row) = rows.last_mut()
                {
                    row.push(Span::styled(std::mem::take(&mut piece), span.style));
                }
                rows.push(Vec::new());
                used = 0;
            }
            piece.push(c);
            used += w;
        }
        if !piece.is_empty()
            && let Some(row) = rows.last_mut()
        {
            row.push(Span::styled(piece, span.style));
        }
    }
    rows
}

/// One file's hunks: flags, the operator's outdated comments on it, then
/// the rows from the scroll (or from where the review cursor shows),
/// each line with its numbers, wrapped, with its comments under it.
fn draw_hunks(frame: &mut Frame<'_>, area: Rect, app: &App, row: &SliceRow, file: &FileDiff) {
    let dim = Style::new().add_modifier(Modifier::DIM);
    let block = Block::new()
        .borders(Borders::TOP)
        .title(format!(" {} ", file.path));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width).max(8);
    let mut lines: Vec<TextLine> = Vec::new();
    for flag in row
        .flags
        .iter()
        .filter(|f| file.paths().any(|p| p == f.path()))
    {
        let text = Span::styled(
            format!("! {}: {}", flag.path(), flag.describe()),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        );
        for row in wrap_spans(vec![text], width) {
            lines.push(TextLine::from(row));
        }
    }
    let review = review_view::Shown::of(app, row, file);
    lines.extend(review.outdated_lines(width));
    if file.binary {
        lines.push(TextLine::styled("Binary file: no text diff.", dim));
    } else if file.hunks.is_empty() {
        lines.push(TextLine::styled(
            "No content change (mode, rename or empty file).",
            dim,
        ));
    }
    let height = usize::from(inner.height).saturating_sub(lines.len());
    if app.side_by_side && review.cursor.is_none() && width >= side_by_side::MIN_WIDTH {
        let (rows, whole) = side_by_side::lines(file, app.diff_scroll, width, height);
        app.diff_rows_shown.set(whole.max(1));
        lines.extend(rows);
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    }
    let rows = row_index(file);
    let total = rows.len();
    let mut start = app.diff_scroll.min(total.saturating_sub(1));
    let cursor = review.cursor.map(|c| c.min(total.saturating_sub(1)));
    if let Some(c) = cursor {
        start = start.min(c);
    }
    // Rows up to the cursor, dropping the first ones until it shows;
    // then as many as fit.
    let lang = Lang::of(&file.path);
    let mut blocks: std::collections::VecDeque<Vec<TextLine>> = Default::default();
    let mut used = 0;
    let mut next = start;
    let take = |r: usize, blocks: &mut std::collections::VecDeque<Vec<TextLine>>| {
        let drawn = row_lines(file, rows[r], r, lang, width, &review);
        let n = drawn.len();
        blocks.push_back(drawn);
        n
    };
    if let Some(c) = cursor {
        while next <= c {
            used += take(next, &mut blocks);
            next += 1;
        }
        while used > height && blocks.len() > 1 {
            used -= blocks.pop_front().map_or(0, |b| b.len());
        }
    }
    while used < height && next < total {
        used += take(next, &mut blocks);
        next += 1;
    }
    let whole = blocks.len() - usize::from(used > height);
    app.diff_rows_shown.set(whole.max(1));
    lines.extend(blocks.into_iter().flatten());
    lines.truncate(usize::from(inner.height));
    if file.lines_omitted > 0 && lines.len() < usize::from(inner.height) {
        lines.push(TextLine::styled(
            format!("… {} more lines not shown", file.lines_omitted),
            dim,
        ));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// Each row of a file's diff as drawn: its hunk, and its line in the
/// hunk (`None`: the hunk's header).
fn row_index(file: &FileDiff) -> Vec<(usize, Option<usize>)> {
    let mut rows = Vec::new();
    for (h, hunk) in file.hunks.iter().enumerate() {
        rows.push((h, None));
        rows.extend((0..hunk.lines.len()).map(|l| (h, Some(l))));
    }
    rows
}

/// The screen lines of one row: a hunk's header, or a line with its
/// numbers and sign, wrapped (`↪`), then the comments that end on it.
fn row_lines(
    file: &FileDiff,
    (hunk, at): (usize, Option<usize>),
    row: usize,
    lang: Lang,
    width: usize,
    review: &review_view::Shown<'_>,
) -> Vec<TextLine<'static>> {
    let dim = Style::new().add_modifier(Modifier::DIM);
    let hunk = &file.hunks[hunk];
    let Some(at) = at else {
        return vec![TextLine::styled(
            hunk.header.clone(),
            Style::new().fg(Color::Cyan),
        )];
    };
    let line = &hunk.lines[at];
    let (sign, base) = match line.kind {
        LineKind::Added => ("+", Style::new().fg(Color::Green)),
        LineKind::Removed => ("-", Style::new().fg(Color::Red)),
        LineKind::Context => (" ", Style::new()),
        LineKind::Note => ("\\", dim),
    };
    let number = |n: Option<u32>| n.map_or_else(|| "    ".to_owned(), |n| format!("{n:>4}"));
    // Room for a line's text beside its gutter (two numbers, the comment
    // mark and the sign); a longer line goes on in rows of its own,
    // marked `↪`, never cut.
    let room = width.saturating_sub(GUTTER).max(8);
    let text = line.text.replace('\t', "    ");
    let mut out = Vec::new();
    let gutter_style = review.gutter_style(row, dim);
    let mut spans = highlight::spans(&text, lang, base);
    // The words a removed line and the added line in its place differ by.
    if let Some(partner) = word_diff::partner(&hunk.lines, at)
        && let Some(range) =
            word_diff::changed(&text, &hunk.lines[partner].text.replace('\t', "    "))
    {
        let emphasis = match line.kind {
            LineKind::Removed => Style::new().bg(Color::Indexed(52)),
            _ => Style::new().bg(Color::Indexed(22)),
        };
        spans = word_diff::emphasize(spans, range, emphasis.add_modifier(Modifier::BOLD));
    }
    for (i, piece) in wrap_spans(spans, room).into_iter().enumerate() {
        let mut spans = if i == 0 {
            vec![
                Span::styled(
                    format!("{} {}", number(line.old_line), number(line.new_line)),
                    gutter_style,
                ),
                review.mark(row),
                Span::styled(sign, base),
            ]
        } else {
            vec![Span::styled(format!("{:>w$}", "↪", w = GUTTER), dim)]
        };
        spans.extend(piece);
        out.push(TextLine::from(spans));
    }
    out.extend(review.comments_after(row, width));
    out
}
