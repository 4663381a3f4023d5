//! The dashboard's model drawn on ratatui's `TestBackend`, as the UI
//! tests use it: a whole frame of an emulated terminal handed to a pane,
//! the screen drawn into a buffer, a key pressed, text found on screen.

pub use super::name;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use sliceboard::domain::SliceName;
use sliceboard::domain::pane::PaneFrame;
use sliceboard::session::Screen;
use sliceboard::ui::app::App;
use sliceboard::ui::view;

/// The whole of `screen`, live (not scrolled back), as the supervisor
/// sends a pane the first time: every row in `changed`.
pub fn whole_frame(screen: &Screen, slice: &SliceName) -> PaneFrame {
    let (mut frame, lines) = screen.frame(slice, 0);
    frame.changed = (0..).zip(lines).collect();
    frame
}

/// The dashboard drawn on a `width` x `height` screen.
pub fn draw(app: &App, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| {
            view::draw(frame, app);
        })
        .unwrap();
    terminal.backend().buffer().clone()
}

/// A key pressed with no modifier.
pub fn press(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

/// Where `text` starts in the buffer, scanning rows top to bottom.
pub fn find(buffer: &Buffer, text: &str) -> Option<(u16, u16)> {
    let area = buffer.area;
    let first = text.chars().next()?.to_string();
    (0..area.height).find_map(|y| {
        (0..area.width).find_map(|x| {
            let here = (0..text.chars().count() as u16)
                .map_while(|i| (x + i < area.width).then(|| buffer[(x + i, y)].symbol()))
                .collect::<String>();
            (buffer[(x, y)].symbol() == first && here == text).then_some((x, y))
        })
    })
}
