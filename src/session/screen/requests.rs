//! What a program asks of its terminal while it prints: the listener that
//! collects alacritty's requests during a parse, and the replies they
//! become (device attributes and cursor position as alacritty writes them,
//! colors from the palette or xterm's defaults, the text area's size),
//! returned by `Screen::feed` for the caller to write to the PTY.
//!
//! Requests that would reach the operator's own terminal (window title,
//! clipboard) are dropped here. Nothing here writes to the PTY or touches
//! the grid.

use std::sync::{Arc, Mutex, PoisonError};

use alacritty_terminal::event::{Event as TermEvent, EventListener, WindowSize};
use alacritty_terminal::vte::ansi::{NamedColor, Rgb};

use super::Screen;

/// Cell size reported to programs that ask for the text area in pixels.
const CELL_WIDTH: u16 = 8;
const CELL_HEIGHT: u16 = 16;

/// What one chunk of output asked of us.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// Bytes to write back to the PTY, in order.
    pub replies: Vec<u8>,
    /// The program rang the bell.
    pub bell: bool,
    /// Line feeds in the chunk, for [`Screen::follow_flood`](super::Screen::follow_flood).
    pub lines: usize,
}

type ColorFormatter = Arc<dyn Fn(Rgb) -> String + Send + Sync>;
type SizeFormatter = Arc<dyn Fn(WindowSize) -> String + Send + Sync>;

enum Request {
    Write(String),
    Color(usize, ColorFormatter),
    TextAreaSize(SizeFormatter),
    Bell,
}

/// Collects the terminal's requests while the parser runs.
#[derive(Clone, Default)]
pub struct Requests(Arc<Mutex<Vec<Request>>>);

impl EventListener for Requests {
    fn send_event(&self, event: TermEvent) {
        let request = match event {
            TermEvent::PtyWrite(text) => Request::Write(text),
            TermEvent::ColorRequest(index, format) => Request::Color(index, format),
            TermEvent::TextAreaSizeRequest(format) => Request::TextAreaSize(format),
            TermEvent::Bell => Request::Bell,
            // Title, clipboard and the rest would reach the host terminal: dropped.
            _ => return,
        };
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
    }
}

impl Screen {
    /// Turns the requests the last parse collected into replies.
    pub(super) fn take_requests(&mut self) -> Fed {
        let requests = std::mem::take(
            &mut *self
                .requests
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let mut fed = Fed::default();
        for request in requests {
            match request {
                Request::Write(text) => fed.replies.extend_from_slice(text.as_bytes()),
                Request::Color(index, format) => {
                    let rgb = self.term.colors()[index].unwrap_or_else(|| default_color(index));
                    fed.replies.extend_from_slice(format(rgb).as_bytes());
                }
                Request::TextAreaSize(format) => {
                    let size = WindowSize {
                        num_lines: self.size.rows,
                        num_cols: self.size.cols,
                        cell_width: CELL_WIDTH,
                        cell_height: CELL_HEIGHT,
                    };
                    fed.replies.extend_from_slice(format(size).as_bytes());
                }
                Request::Bell => fed.bell = true,
            }
        }
        fed
    }
}

/// The color a program sees when it asks and nothing set it: xterm's
/// palette, light grey on black.
fn default_color(index: usize) -> Rgb {
    const ANSI: [(u8, u8, u8); 16] = [
        (0, 0, 0),
        (205, 0, 0),
        (0, 205, 0),
        (205, 205, 0),
        (0, 0, 238),
        (205, 0, 205),
        (0, 205, 205),
        (229, 229, 229),
        (127, 127, 127),
        (255, 0, 0),
        (0, 255, 0),
        (255, 255, 0),
        (92, 92, 255),
        (255, 0, 255),
        (0, 255, 255),
        (255, 255, 255),
    ];
    let rgb = |(r, g, b): (u8, u8, u8)| Rgb { r, g, b };
    match index {
        0..16 => rgb(ANSI[index]),
        16..232 => {
            let i = index - 16;
            let level = |v: usize| if v == 0 { 0 } else { (55 + v * 40) as u8 };
            rgb((level(i / 36), level(i / 6 % 6), level(i % 6)))
        }
        232..256 => {
            let v = (8 + (index - 232) * 10) as u8;
            rgb((v, v, v))
        }
        _ if index == NamedColor::Background as usize => rgb((0, 0, 0)),
        _ => rgb((229, 229, 229)),
    }
}
