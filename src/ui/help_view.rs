//! The help overlay: every key from the keymap with what it does, wrapped
//! (never cut) to the width there is, in one column or two, scrolled with
//! the scroll keys when still taller than the screen, and the legend of
//! the board's symbols beneath.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout as Split, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::activity_view;
use super::app::App;
use super::keymap::Action;
use super::view::centered;

/// The widest one column gets.
const ONE_COLUMN: u16 = 90;
/// The widest two columns get, together.
const TWO_COLUMNS: u16 = 170;

pub fn draw_help(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let help = app.keymap.help();
    let key_width = help
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let legend = activity_view::legend();
    let extra = legend.len() + 1;
    let render = |items: &[(String, &'static str)], width: u16| -> Vec<TextLine<'static>> {
        items
            .iter()
            .flat_map(|(keys, what)| entry(keys, what, key_width, usize::from(width)))
            .collect()
    };
    // Borders take two columns and two rows.
    let one_width = area.width.min(ONE_COLUMN);
    let one = render(&help, one_width.saturating_sub(2));
    let fits = one.len() + extra + 2 <= usize::from(area.height);
    let (width, columns) = if fits || area.width < 100 {
        (one_width, vec![one])
    } else {
        let width = area.width.min(TWO_COLUMNS);
        let half = (width.saturating_sub(2)) / 2;
        let (left, right) = help.split_at(help.len().div_ceil(2));
        (width, vec![render(left, half), render(right, half)])
    };
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
    let popup = centered(
        area,
        width,
        u16::try_from(rows + extra + 2).unwrap_or(u16::MAX),
    );
    frame.render_widget(Clear, popup);
    // Taller than the screen: the scroll keys scroll it.
    let room = usize::from(popup.height).saturating_sub(extra + 2);
    let scroll = app.help_scroll.min(rows.saturating_sub(room));
    let title = if rows > room {
        format!(
            " keys {}-{} of {rows} lines ({}/{} scroll, any other key closes) ",
            scroll + 1,
            (scroll + room).min(rows),
            app.keymap.key(Action::Down),
            app.keymap.key(Action::Up),
        )
    } else {
        " keys (any key closes) ".to_owned()
    };
    let block = Block::new().borders(Borders::ALL).title(title);
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
    let count = u32::try_from(columns.len()).unwrap_or(1);
    let rects = Split::horizontal(vec![Constraint::Ratio(1, count); columns.len()]).split(keys);
    for (lines, rect) in columns.into_iter().zip(rects.iter()) {
        let shown: Vec<TextLine> = lines.into_iter().skip(scroll).collect();
        frame.render_widget(Paragraph::new(shown), *rect);
    }
}

/// One key's entry: the keys right-aligned, then what they do, wrapped at
/// word boundaries to `width` with the continuation under the text.
fn entry(keys: &str, what: &str, key_width: usize, width: usize) -> Vec<TextLine<'static>> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let text_width = width.saturating_sub(key_width + 2).max(12);
    let mut rows: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in what.split_whitespace() {
        let needed =
            current.chars().count() + usize::from(!current.is_empty()) + word.chars().count();
        if !current.is_empty() && needed > text_width {
            rows.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    rows.push(current);
    rows.into_iter()
        .enumerate()
        .map(|(i, text)| {
            let keys = if i == 0 { keys } else { "" };
            TextLine::from(vec![
                Span::styled(format!("{keys:>key_width$}  "), bold),
                Span::raw(text),
            ])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::entry;

    #[test]
    fn a_long_description_wraps_under_itself() {
        let lines = entry(
            "a",
            "approve the slice's current commit for the merge queue (recorded; merged later)",
            3,
            40,
        );
        let text: Vec<String> = lines.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "  a  approve the slice's current commit",
                "     for the merge queue (recorded;",
                "     merged later)",
            ]
        );
    }
}
