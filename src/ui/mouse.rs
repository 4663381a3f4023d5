//! Mouse events on the dashboard. Inside an agent's pane the mouse is the
//! agent's, as in a real terminal: reports in the encoding it asked for
//! when it turned mouse tracking on, arrow keys for the wheel on the
//! alternate screen when it did not (`session::route_mouse` decides and
//! encodes). Everything else is the dashboard's: the wheel scrolls what is
//! under it (a terminal's history, or the Diff, dbt and Logs tabs), clicks
//! select a slice, a tab or a changed file. Shift always keeps the mouse
//! for the dashboard, as does a pane scrolled back into its history.
//!
//! Pure, like `app`: reads where the view last drew each pane
//! ([`PaneArea`]) and returns [`Effect`]s.

use crossterm::event::{KeyModifiers, MouseButton as HostButton, MouseEvent, MouseEventKind};

use super::app::{App, Effect, Layout, Mode, Tab};
use crate::domain::{AgentStatus, Command, SliceName};
use crate::session::{Mods, MouseAction, MouseButton, MouseInput, MouseRoute, route_mouse};

/// Where the view drew a terminal's inside (its border left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneArea {
    pub slice: SliceName,
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    /// The agent's first row and column shown there (a pane smaller than
    /// the agent's screen shows the part around its cursor).
    pub top: u16,
    pub left: u16,
}

impl PaneArea {
    fn contains(&self, column: u16, row: u16) -> bool {
        column >= self.x
            && column - self.x < self.width
            && row >= self.y
            && row - self.y < self.height
    }
}

/// What a mouse event does: to the model, and what it sends an agent.
pub fn on_mouse(app: &mut App, mouse: MouseEvent, width: u16) -> Vec<Effect> {
    if let Some(effects) = to_agent(app, &mouse) {
        return effects;
    }
    on_dashboard(app, mouse, width);
    Vec::new()
}

/// The effects of an event that belongs to the agent whose pane it is on;
/// `None` when it is the dashboard's.
fn to_agent(app: &mut App, mouse: &MouseEvent) -> Option<Vec<Effect>> {
    let action = action_of(mouse.kind);
    let grab = match action {
        MouseAction::Motion { .. } => app.mouse_grab.clone(),
        // A press starts afresh; a release ends what its press began.
        MouseAction::Press(_) | MouseAction::Release(_) => app.mouse_grab.take(),
    };
    if mouse.modifiers.contains(KeyModifiers::SHIFT)
        || matches!(app.mode, Mode::Help | Mode::Confirm(_))
    {
        return None;
    }
    let follows_press = matches!(
        action,
        MouseAction::Release(_) | MouseAction::Motion { held: Some(_) }
    );
    let area = {
        let areas = app.pane_areas.borrow();
        let found = if follows_press {
            // Drags and the release go where the press went, clamped to
            // its pane; without a press sent to a pane, nowhere.
            let slice = grab?;
            areas.iter().find(|a| a.slice == slice)
        } else {
            areas.iter().find(|a| a.contains(mouse.column, mouse.row))
        };
        found?.clone()
    };
    let pane = app.panes.get(&area.slice)?;
    let running = app
        .board
        .slices
        .iter()
        .any(|r| r.name == area.slice && r.status == AgentStatus::Running);
    let scrolled = pane.scroll > 0 || app.scroll.get(&area.slice).is_some_and(|s| *s > 0);
    if !running || scrolled {
        return None;
    }
    // The emulator's grid, which may be smaller than the space drawn.
    let (columns, rows) = (area.width.min(pane.cols), area.height.min(pane.rows));
    let (column, row) = (
        mouse.column.saturating_sub(area.x),
        mouse.row.saturating_sub(area.y),
    );
    let (column, row) = if follows_press {
        (
            column.min(columns.saturating_sub(1)),
            row.min(rows.saturating_sub(1)),
        )
    } else if column < columns && row < rows {
        (column, row)
    } else {
        return None;
    };
    let input = MouseInput {
        action,
        column: column + area.left,
        row: row + area.top,
        mods: Mods {
            ctrl: mouse.modifiers.contains(KeyModifiers::CONTROL),
            alt: mouse
                .modifiers
                .intersects(KeyModifiers::ALT | KeyModifiers::META),
            shift: false,
        },
    };
    match route_mouse(input, pane.modes) {
        MouseRoute::Program(bytes) => {
            if let MouseAction::Press(button) = action
                && !button.is_wheel()
            {
                app.mouse_grab = Some(area.slice.clone());
            }
            Some(vec![Effect::Send(Command::SendInput {
                slice: area.slice,
                bytes,
            })])
        }
        MouseRoute::Dropped => Some(Vec::new()),
        MouseRoute::Terminal => None,
    }
}

fn action_of(kind: MouseEventKind) -> MouseAction {
    let button = |b| match b {
        HostButton::Left => MouseButton::Left,
        HostButton::Middle => MouseButton::Middle,
        HostButton::Right => MouseButton::Right,
    };
    match kind {
        MouseEventKind::Down(b) => MouseAction::Press(button(b)),
        MouseEventKind::Up(b) => MouseAction::Release(button(b)),
        MouseEventKind::Drag(b) => MouseAction::Motion {
            held: Some(button(b)),
        },
        MouseEventKind::Moved => MouseAction::Motion { held: None },
        MouseEventKind::ScrollUp => MouseAction::Press(MouseButton::WheelUp),
        MouseEventKind::ScrollDown => MouseAction::Press(MouseButton::WheelDown),
        MouseEventKind::ScrollLeft => MouseAction::Press(MouseButton::WheelLeft),
        MouseEventKind::ScrollRight => MouseAction::Press(MouseButton::WheelRight),
    }
}

/// The slice whose pane was drawn at a screen cell.
fn pane_at(app: &App, column: u16, row: u16) -> Option<SliceName> {
    app.pane_areas
        .borrow()
        .iter()
        .find(|a| a.contains(column, row))
        .map(|a| a.slice.clone())
}

/// What an event the agents do not get does to the dashboard.
fn on_dashboard(app: &mut App, mouse: MouseEvent, width: u16) {
    let tab_scroll = app.layout == Layout::Focus && app.tab != Tab::Terminal;
    match mouse.kind {
        // The wheel scrolls what the tab shows, like PgUp/PgDn.
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown if tab_scroll => {
            let up = matches!(mouse.kind, MouseEventKind::ScrollUp);
            app.scroll_tab(if up { -3 } else { 3 });
        }
        // A terminal's history: the one under the mouse, or the selected.
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
            let slice = pane_at(app, mouse.column, mouse.row)
                .or_else(|| app.selected().map(|r| r.name.clone()));
            if let Some(slice) = slice {
                let up = matches!(mouse.kind, MouseEventKind::ScrollUp);
                app.scroll_terminal(&slice, if up { 3 } else { -3 });
            }
        }
        MouseEventKind::Down(HostButton::Left)
            if app.layout == Layout::Focus
                && app.tab == Tab::Diff
                && let Some(index) = app
                    .diff_list
                    .get()
                    .and_then(|list| list.item_at(mouse.column, mouse.row)) =>
        {
            app.select_file(index);
        }
        MouseEventKind::Down(HostButton::Left)
            if matches!(app.layout, Layout::Focus | Layout::Queue)
                && let Some(index) = app
                    .board_list
                    .get()
                    .and_then(|list| list.item_at(mouse.column, mouse.row))
                    .and_then(|shown| app.board_order().get(shown).copied()) =>
        {
            app.select_slice(index);
        }
        MouseEventKind::Down(HostButton::Left) if app.layout == Layout::Focus => {
            let board_width = (width / 3).clamp(24, 44);
            if mouse.row == 1 {
                // The tab bar: titles separated by " | ".
                let mut x = board_width + 1;
                for tab in Tab::ALL {
                    let end = x + tab.title().len() as u16 + 2;
                    if mouse.column >= x && mouse.column < end {
                        app.tab = tab;
                    }
                    x = end + 1;
                }
            }
        }
        _ => {}
    }
}
