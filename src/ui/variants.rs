//! Competing variants on the board: the compare overlay (each variant's
//! state, agent, diff, dbt run, flags and time taken, side by side) and
//! the pick key, which asks before approving the selected variant and
//! retiring its siblings (the supervisor's merge queue does the work; see
//! `merge_queue::pick`). Reads the board only.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line as TextLine;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::app::{App, Confirm, Mode};
use super::keymap::Action;
use crate::domain::board::{SliceRow, status_text};
use crate::domain::{Lifecycle, SliceName};

impl App {
    /// Asks to pick the selected slice, when it is a variant.
    pub(super) fn ask_to_pick(&mut self) {
        let Some(row) = self.selected() else {
            return;
        };
        let slice = row.name.clone();
        let Some(family) = row.variant_of.clone() else {
            self.message = Some(format!(
                "{slice} is not a variant; {} approves it",
                self.keymap.key(Action::Approve)
            ));
            return;
        };
        if row.lifecycle == Lifecycle::Retired {
            self.message = Some(format!("{slice} was retired: another variant was picked"));
            return;
        }
        let retired: Vec<SliceName> = self
            .board
            .slices
            .iter()
            .filter(|r| r.variant_of.as_ref() == Some(&family) && r.name != slice)
            .filter(|r| r.lifecycle != Lifecycle::Retired)
            .map(|r| r.name.clone())
            .collect();
        self.mode = Mode::Confirm(Confirm::Pick { slice, retired });
    }
}

impl App {
    /// Whether what is shown counts seconds: the compare overlay with a
    /// variant whose agent runs (its TIME column). The dashboard then
    /// draws every second instead of every minute.
    pub fn shows_seconds(&self) -> bool {
        let Mode::Compare(family) = &self.mode else {
            return false;
        };
        self.board.slices.iter().any(|r| {
            r.variant_of.as_ref() == Some(family)
                && r.agent_started.is_some()
                && r.agent_ended.is_none()
        })
    }

    /// Opens the compare overlay for the selected slice's family.
    pub(super) fn compare_variants(&mut self) {
        let Some(row) = self.selected() else {
            return;
        };
        match row.variant_of.clone() {
            Some(family) => self.mode = Mode::Compare(family),
            None => {
                self.message = Some(format!(
                    "{} has no variants (`variants = N` in the plan runs competing attempts)",
                    row.name
                ));
            }
        }
    }
}

/// The overlay: one line per variant of `family`.
pub(super) fn draw_compare(frame: &mut Frame<'_>, area: Rect, app: &App, family: &SliceName) {
    let now = app.now().timestamp();
    let rows: Vec<[String; 7]> = app
        .board
        .slices
        .iter()
        .filter(|r| r.variant_of.as_ref() == Some(family))
        .map(|r| cells(r, now))
        .collect();
    let header = ["VARIANT", "STATE", "AGENT", "DIFF", "DBT", "FLAGS", "TIME"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 7]| -> String {
        cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut text = vec![TextLine::styled(
        line(&header),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    text.extend(rows.iter().map(|r| TextLine::raw(line(r))));
    text.push(TextLine::raw(""));
    text.push(TextLine::raw(format!(
        "{} on a variant picks it. `sliceboard compare {family} --diff A B` shows how two differ. Any key closes.",
        app.keymap.key(Action::PickVariant)
    )));
    let width =
        (widths.iter().sum::<usize>() + 2 * widths.len() + 2).clamp(40, usize::from(area.width));
    let height = (text.len() + 4).min(usize::from(area.height));
    let popup = super::view::centered(area, width as u16, height as u16);
    frame.render_widget(Clear, popup);
    let table = Paragraph::new(text)
        .wrap(ratatui::widgets::Wrap { trim: false })
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" variants of {family} ")),
        );
    frame.render_widget(table, popup);
}

fn cells(row: &SliceRow, now: jiff::Timestamp) -> [String; 7] {
    let diff = row.diff.as_ref().map_or_else(
        || "-".to_owned(),
        |d| {
            let files = d.files.len();
            format!(
                "{files} file{} +{} -{}",
                if files == 1 { "" } else { "s" },
                d.added(),
                d.removed()
            )
        },
    );
    let dbt = row
        .dbt
        .as_ref()
        .map_or_else(|| "-".to_owned(), |run| run.outcome());
    let time = row.agent_started.map_or_else(
        || "-".to_owned(),
        |started| {
            let end = row.agent_ended.unwrap_or(now);
            crate::domain::board::duration_text(end.as_second() - started.as_second())
        },
    );
    [
        row.name.to_string(),
        row.lifecycle.to_string(),
        status_text(row.status),
        diff,
        dbt,
        row.flags.len().to_string(),
        time,
    ]
}
