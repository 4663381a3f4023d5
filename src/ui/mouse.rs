//! Mouse events on the dashboard: the wheel scrolls what is under it (a
//! terminal's history, or the Diff, dbt and Logs tabs), clicks select a
//! slice, a tab or a changed file. Pure, like `app`.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};

use super::app::{App, Layout, Tab};

/// What a mouse event does to the model.
pub fn on_mouse(app: &mut App, mouse: MouseEvent, width: u16) {
    let selected = app.selected().map(|r| r.name.clone());
    let tab_scroll = app.layout == Layout::Focus && app.tab != Tab::Terminal;
    match mouse.kind {
        // The wheel scrolls what the tab shows, like PgUp/PgDn.
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown if tab_scroll => {
            let up = matches!(mouse.kind, MouseEventKind::ScrollUp);
            app.scroll_tab(if up { -3 } else { 3 });
        }
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
            if let Some(slice) = &selected {
                let up = matches!(mouse.kind, MouseEventKind::ScrollUp);
                app.scroll_terminal(slice, if up { 3 } else { -3 });
            }
        }
        MouseEventKind::Down(MouseButton::Left)
            if app.layout == Layout::Focus
                && app.tab == Tab::Diff
                && let Some(index) = app
                    .diff_list
                    .get()
                    .and_then(|list| list.item_at(mouse.column, mouse.row)) =>
        {
            app.select_file(index);
        }
        MouseEventKind::Down(MouseButton::Left)
            if matches!(app.layout, Layout::Focus | Layout::Queue)
                && let Some(index) = app
                    .board_list
                    .get()
                    .and_then(|list| list.item_at(mouse.column, mouse.row)) =>
        {
            app.select_slice(index);
        }
        MouseEventKind::Down(MouseButton::Left) if app.layout == Layout::Focus => {
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
