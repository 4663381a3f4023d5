//! Mouse events as a terminal hands them to the program inside it, the
//! way xterm and alacritty do: reports in the encoding the program asked
//! for (SGR `ESC [ < b ; x ; y M`, or the X10 bytes `ESC [ M b x y`) when
//! it turned mouse tracking on, arrow keys for the wheel on the alternate
//! screen when it did not (xterm's alternateScroll), and otherwise nothing:
//! the event is the terminal's own (its scrollback).
//!
//! Pure, like [`super::input`]: the dashboard says which cell of the pane
//! the event is on and which modifiers were held; this decides what, if
//! anything, the program is sent. Whether the dashboard keeps the mouse for
//! itself (Shift, a pane scrolled back) is the dashboard's business.

use super::input::{Key, Mods, encode_key};
use super::screen::{InputModes, MouseTracking};

/// Lines the wheel moves per notch, as arrow keys on the alternate screen.
pub const WHEEL_LINES: usize = 3;

/// Where X10 reports end: a coordinate is one byte, 32 + x.
const X10_MAX: u16 = 223;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseButton {
    Left,
    Middle,
    Right,
    WheelUp,
    WheelDown,
    WheelLeft,
    WheelRight,
}

impl MouseButton {
    /// xterm's button number: 0–2, or 64–67 for the wheel.
    fn code(self) -> u8 {
        match self {
            MouseButton::Left => 0,
            MouseButton::Middle => 1,
            MouseButton::Right => 2,
            MouseButton::WheelUp => 64,
            MouseButton::WheelDown => 65,
            MouseButton::WheelLeft => 66,
            MouseButton::WheelRight => 67,
        }
    }

    /// The wheel turns in notches: it has presses, never releases.
    pub fn is_wheel(self) -> bool {
        self.code() >= 64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseAction {
    /// A button went down, or the wheel turned a notch.
    Press(MouseButton),
    Release(MouseButton),
    /// The mouse moved, with `held` down if a button is.
    Motion {
        held: Option<MouseButton>,
    },
}

/// One mouse event on a pane: the cell is 0-based, counted from the
/// pane's top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MouseInput {
    pub action: MouseAction,
    pub column: u16,
    pub row: u16,
    pub mods: Mods,
}

/// What becomes of a mouse event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MouseRoute {
    /// These bytes go to the program.
    Program(Vec<u8>),
    /// The program reports the mouse but is not told of this event: motion
    /// it did not ask for, a release of the wheel, a cell X10 cannot say.
    Dropped,
    /// Not the program's: the terminal's own (its scrollback, its clicks).
    Terminal,
}

/// What a terminal in `modes` does with `input`.
pub fn route_mouse(input: MouseInput, modes: InputModes) -> MouseRoute {
    if modes.reports_mouse() {
        return match encode_mouse(input, modes) {
            Some(bytes) => MouseRoute::Program(bytes),
            None => MouseRoute::Dropped,
        };
    }
    let key = match input.action {
        MouseAction::Press(MouseButton::WheelUp) => Key::Up,
        MouseAction::Press(MouseButton::WheelDown) => Key::Down,
        _ => return MouseRoute::Terminal,
    };
    if !modes.alt_screen {
        return MouseRoute::Terminal;
    }
    MouseRoute::Program(encode_key(key, Mods::default(), modes).repeat(WHEEL_LINES))
}

/// The report a terminal sends for `input` when the program turned mouse
/// tracking on; `None` when it sends none (tracking off, motion the mode
/// does not ask for, a wheel release, a cell past 223 in X10 form).
pub fn encode_mouse(input: MouseInput, modes: InputModes) -> Option<Vec<u8>> {
    let wanted = match (modes.mouse, input.action) {
        (MouseTracking::Off, _) => false,
        (_, MouseAction::Press(_)) => true,
        (_, MouseAction::Release(button)) => !button.is_wheel(),
        (MouseTracking::Drags, MouseAction::Motion { held }) => held.is_some(),
        (MouseTracking::Motion, MouseAction::Motion { .. }) => true,
        (MouseTracking::Clicks, MouseAction::Motion { .. }) => false,
    };
    if !wanted {
        return None;
    }
    let button = match input.action {
        MouseAction::Press(button) => button.code(),
        // X10 cannot say which button went up.
        MouseAction::Release(button) if modes.sgr_mouse => button.code(),
        MouseAction::Release(_) => 3,
        MouseAction::Motion { held } => 32 + held.map_or(3, MouseButton::code),
    };
    let mods = input.mods;
    let code =
        button + 4 * u8::from(mods.shift) + 8 * u8::from(mods.alt) + 16 * u8::from(mods.ctrl);
    let (x, y) = (u32::from(input.column) + 1, u32::from(input.row) + 1);
    if modes.sgr_mouse {
        let last = if matches!(input.action, MouseAction::Release(_)) {
            'm'
        } else {
            'M'
        };
        return Some(format!("\x1b[<{code};{x};{y}{last}").into_bytes());
    }
    let x = u8::try_from(x).ok().filter(|x| u16::from(*x) <= X10_MAX)?;
    let y = u8::try_from(y).ok().filter(|y| u16::from(*y) <= X10_MAX)?;
    Some(vec![0x1b, b'[', b'M', 32 + code, 32 + x, 32 + y])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(action: MouseAction, column: u16, row: u16) -> MouseInput {
        MouseInput {
            action,
            column,
            row,
            mods: Mods::default(),
        }
    }

    fn modes(mouse: MouseTracking, sgr_mouse: bool) -> InputModes {
        InputModes {
            mouse,
            sgr_mouse,
            ..InputModes::default()
        }
    }

    const LEFT: MouseAction = MouseAction::Press(MouseButton::Left);

    #[test]
    fn sgr_reports_press_release_and_wheel_at_one_based_cells() {
        let sgr = modes(MouseTracking::Clicks, true);
        assert_eq!(encode_mouse(at(LEFT, 4, 9), sgr).unwrap(), b"\x1b[<0;5;10M");
        let release = MouseAction::Release(MouseButton::Right);
        assert_eq!(
            encode_mouse(at(release, 0, 0), sgr).unwrap(),
            b"\x1b[<2;1;1m"
        );
        let up = MouseAction::Press(MouseButton::WheelUp);
        let down = MouseAction::Press(MouseButton::WheelDown);
        assert_eq!(encode_mouse(at(up, 2, 3), sgr).unwrap(), b"\x1b[<64;3;4M");
        assert_eq!(encode_mouse(at(down, 2, 3), sgr).unwrap(), b"\x1b[<65;3;4M");
        let middle = MouseAction::Press(MouseButton::Middle);
        assert_eq!(
            encode_mouse(at(middle, 1, 1), sgr).unwrap(),
            b"\x1b[<1;2;2M"
        );
        // SGR has no coordinate limit.
        assert_eq!(
            encode_mouse(at(LEFT, 299, 0), sgr).unwrap(),
            b"\x1b[<0;300;1M"
        );
        // The wheel has no release.
        let wheel_up = MouseAction::Release(MouseButton::WheelUp);
        assert_eq!(encode_mouse(at(wheel_up, 1, 1), sgr), None);
    }

    #[test]
    fn x10_reports_are_bytes_offset_by_32_and_end_at_223() {
        let x10 = modes(MouseTracking::Clicks, false);
        assert_eq!(
            encode_mouse(at(LEFT, 4, 9), x10).unwrap(),
            [0x1b, b'[', b'M', 32, 32 + 5, 32 + 10]
        );
        let release = MouseAction::Release(MouseButton::Left);
        assert_eq!(
            encode_mouse(at(release, 0, 0), x10).unwrap(),
            [0x1b, b'[', b'M', 32 + 3, 33, 33]
        );
        let up = MouseAction::Press(MouseButton::WheelUp);
        assert_eq!(
            encode_mouse(at(up, 0, 0), x10).unwrap(),
            [0x1b, b'[', b'M', 32 + 64, 33, 33]
        );
        assert_eq!(
            encode_mouse(at(LEFT, 222, 222), x10).unwrap(),
            [0x1b, b'[', b'M', 32, 255, 255]
        );
        assert_eq!(encode_mouse(at(LEFT, 223, 0), x10), None);
        assert_eq!(encode_mouse(at(LEFT, 0, 223), x10), None);
        assert_eq!(encode_mouse(at(LEFT, u16::MAX, 0), x10), None);
    }

    #[test]
    fn modifiers_add_4_8_and_16() {
        let sgr = modes(MouseTracking::Clicks, true);
        let with = |mods| MouseInput {
            mods,
            ..at(LEFT, 0, 0)
        };
        let shift = Mods {
            shift: true,
            ..Mods::default()
        };
        let alt = Mods {
            alt: true,
            ..Mods::default()
        };
        let ctrl = Mods {
            ctrl: true,
            ..Mods::default()
        };
        let all = Mods {
            ctrl: true,
            alt: true,
            shift: true,
        };
        assert_eq!(encode_mouse(with(shift), sgr).unwrap(), b"\x1b[<4;1;1M");
        assert_eq!(encode_mouse(with(alt), sgr).unwrap(), b"\x1b[<8;1;1M");
        assert_eq!(encode_mouse(with(ctrl), sgr).unwrap(), b"\x1b[<16;1;1M");
        assert_eq!(encode_mouse(with(all), sgr).unwrap(), b"\x1b[<28;1;1M");
        let x10 = modes(MouseTracking::Clicks, false);
        assert_eq!(
            encode_mouse(with(ctrl), x10).unwrap(),
            [0x1b, b'[', b'M', 32 + 16, 33, 33]
        );
    }

    #[test]
    fn motion_is_reported_only_when_the_mode_asks_for_it() {
        let drag = MouseAction::Motion {
            held: Some(MouseButton::Left),
        };
        let hover = MouseAction::Motion { held: None };
        let clicks = modes(MouseTracking::Clicks, true);
        assert_eq!(encode_mouse(at(drag, 1, 1), clicks), None);
        assert_eq!(encode_mouse(at(hover, 1, 1), clicks), None);
        let drags = modes(MouseTracking::Drags, true);
        assert_eq!(
            encode_mouse(at(drag, 1, 1), drags).unwrap(),
            b"\x1b[<32;2;2M"
        );
        assert_eq!(encode_mouse(at(hover, 1, 1), drags), None);
        let motion = modes(MouseTracking::Motion, true);
        assert_eq!(
            encode_mouse(at(drag, 1, 1), motion).unwrap(),
            b"\x1b[<32;2;2M"
        );
        assert_eq!(
            encode_mouse(at(hover, 1, 1), motion).unwrap(),
            b"\x1b[<35;2;2M"
        );
        let right_drag = MouseAction::Motion {
            held: Some(MouseButton::Right),
        };
        assert_eq!(
            encode_mouse(at(right_drag, 0, 0), modes(MouseTracking::Drags, false)).unwrap(),
            [0x1b, b'[', b'M', 32 + 34, 33, 33]
        );
        assert_eq!(encode_mouse(at(LEFT, 0, 0), InputModes::default()), None);
    }

    #[test]
    fn without_tracking_the_wheel_is_arrow_keys_on_the_alternate_screen_only() {
        let up = at(MouseAction::Press(MouseButton::WheelUp), 0, 0);
        let down = at(MouseAction::Press(MouseButton::WheelDown), 0, 0);
        let alt = InputModes {
            alt_screen: true,
            ..InputModes::default()
        };
        assert_eq!(
            route_mouse(up, alt),
            MouseRoute::Program(b"\x1b[A\x1b[A\x1b[A".to_vec())
        );
        let app_cursor = InputModes {
            app_cursor: true,
            ..alt
        };
        assert_eq!(
            route_mouse(down, app_cursor),
            MouseRoute::Program(b"\x1bOB\x1bOB\x1bOB".to_vec())
        );
        assert_eq!(route_mouse(at(LEFT, 0, 0), alt), MouseRoute::Terminal);
        assert_eq!(route_mouse(up, InputModes::default()), MouseRoute::Terminal);
        // Tracking on: the wheel is reported, not turned into keys.
        let tracking = InputModes {
            mouse: MouseTracking::Clicks,
            sgr_mouse: true,
            ..alt
        };
        assert_eq!(
            route_mouse(up, tracking),
            MouseRoute::Program(b"\x1b[<64;1;1M".to_vec())
        );
        let hover = at(MouseAction::Motion { held: None }, 0, 0);
        assert_eq!(route_mouse(hover, tracking), MouseRoute::Dropped);
    }
}
