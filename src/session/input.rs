//! Keys and pastes encoded as a terminal would send them, honouring the
//! modes the program set (application cursor keys, bracketed paste).
//!
//! Knows nothing of crossterm: the dashboard maps its key events onto
//! [`Key`] and [`Mods`], so this stays testable without a terminal.

use super::screen::InputModes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Tab,
    BackTab,
    Backspace,
    Esc,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
    Insert,
    Delete,
    /// F1 to F12.
    F(u8),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mods {
    pub ctrl: bool,
    pub alt: bool,
    pub shift: bool,
}

impl Mods {
    /// xterm's modifier parameter: 1 + shift + 2·alt + 4·ctrl.
    fn param(self) -> u8 {
        1 + u8::from(self.shift) + 2 * u8::from(self.alt) + 4 * u8::from(self.ctrl)
    }

    fn any(self) -> bool {
        self.ctrl || self.alt || self.shift
    }
}

/// The bytes a terminal sends for `key` with `mods` in `modes`.
pub fn encode_key(key: Key, mods: Mods, modes: InputModes) -> Vec<u8> {
    let mut out = Vec::new();
    match key {
        Key::Char(c) => {
            if mods.alt {
                out.push(0x1b);
            }
            if mods.ctrl
                && let Some(byte) = control_byte(c)
            {
                out.push(byte);
                return out;
            }
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        Key::Enter => alt_prefixed(&mut out, mods, b"\r"),
        Key::Tab => alt_prefixed(&mut out, mods, b"\t"),
        Key::BackTab => out.extend_from_slice(b"\x1b[Z"),
        Key::Backspace => alt_prefixed(&mut out, mods, if mods.ctrl { b"\x08" } else { b"\x7f" }),
        Key::Esc => alt_prefixed(&mut out, mods, b"\x1b"),
        Key::Up => cursor(&mut out, b'A', mods, modes),
        Key::Down => cursor(&mut out, b'B', mods, modes),
        Key::Right => cursor(&mut out, b'C', mods, modes),
        Key::Left => cursor(&mut out, b'D', mods, modes),
        Key::Home => cursor(&mut out, b'H', mods, modes),
        Key::End => cursor(&mut out, b'F', mods, modes),
        Key::Insert => tilde(&mut out, 2, mods),
        Key::Delete => tilde(&mut out, 3, mods),
        Key::PageUp => tilde(&mut out, 5, mods),
        Key::PageDown => tilde(&mut out, 6, mods),
        Key::F(n @ 1..=4) => {
            let last = b"PQRS"[usize::from(n - 1)];
            if mods.any() {
                out.extend_from_slice(
                    format!("\x1b[1;{}{}", mods.param(), last as char).as_bytes(),
                );
            } else {
                out.extend_from_slice(&[0x1b, b'O', last]);
            }
        }
        Key::F(n @ 5..=12) => {
            const CODES: [u8; 8] = [15, 17, 18, 19, 20, 21, 23, 24];
            tilde(&mut out, CODES[usize::from(n - 5)], mods);
        }
        Key::F(_) => {}
    }
    out
}

/// A paste, wrapped in bracketed-paste markers when the program asked for
/// them. Markers inside the text are removed so a paste cannot end itself
/// early and smuggle keystrokes.
pub fn encode_paste(text: &str, modes: InputModes) -> Vec<u8> {
    let normalized = text.replace("\r\n", "\r").replace('\n', "\r");
    if !modes.bracketed_paste {
        return normalized.into_bytes();
    }
    let cleaned = normalized.replace("\x1b[200~", "").replace("\x1b[201~", "");
    let mut out = b"\x1b[200~".to_vec();
    out.extend_from_slice(cleaned.as_bytes());
    out.extend_from_slice(b"\x1b[201~");
    out
}

fn control_byte(c: char) -> Option<u8> {
    match c {
        'a'..='z' => Some(c as u8 - b'a' + 1),
        'A'..='Z' => Some(c as u8 - b'A' + 1),
        '@' | ' ' | '2' => Some(0),
        '[' | '3' => Some(0x1b),
        '\\' | '4' => Some(0x1c),
        ']' | '5' => Some(0x1d),
        '^' | '6' => Some(0x1e),
        '_' | '/' | '7' => Some(0x1f),
        '?' | '8' => Some(0x7f),
        _ => None,
    }
}

fn alt_prefixed(out: &mut Vec<u8>, mods: Mods, bytes: &[u8]) {
    if mods.alt {
        out.push(0x1b);
    }
    out.extend_from_slice(bytes);
}

fn cursor(out: &mut Vec<u8>, last: u8, mods: Mods, modes: InputModes) {
    if mods.any() {
        out.extend_from_slice(format!("\x1b[1;{}{}", mods.param(), last as char).as_bytes());
    } else if modes.app_cursor {
        out.extend_from_slice(&[0x1b, b'O', last]);
    } else {
        out.extend_from_slice(&[0x1b, b'[', last]);
    }
}

fn tilde(out: &mut Vec<u8>, code: u8, mods: Mods) {
    if mods.any() {
        out.extend_from_slice(format!("\x1b[{code};{}~", mods.param()).as_bytes());
    } else {
        out.extend_from_slice(format!("\x1b[{code}~").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Mods = Mods {
        ctrl: false,
        alt: false,
        shift: false,
    };
    const CTRL: Mods = Mods {
        ctrl: true,
        alt: false,
        shift: false,
    };

    #[test]
    fn control_keys_and_text() {
        let modes = InputModes::default();
        assert_eq!(encode_key(Key::Char('c'), CTRL, modes), b"\x03");
        assert_eq!(encode_key(Key::Char('é'), NONE, modes), "é".as_bytes());
        assert_eq!(encode_key(Key::Enter, NONE, modes), b"\r");
        assert_eq!(encode_key(Key::Backspace, NONE, modes), b"\x7f");
        let alt = Mods { alt: true, ..NONE };
        assert_eq!(encode_key(Key::Char('b'), alt, modes), b"\x1bb");
    }

    #[test]
    fn cursor_keys_follow_application_mode() {
        let normal = InputModes::default();
        let app = InputModes {
            app_cursor: true,
            ..normal
        };
        assert_eq!(encode_key(Key::Up, NONE, normal), b"\x1b[A");
        assert_eq!(encode_key(Key::Up, NONE, app), b"\x1bOA");
        assert_eq!(encode_key(Key::Left, CTRL, app), b"\x1b[1;5D");
        assert_eq!(encode_key(Key::PageDown, NONE, app), b"\x1b[6~");
        assert_eq!(encode_key(Key::F(1), NONE, app), b"\x1bOP");
        assert_eq!(encode_key(Key::F(5), NONE, app), b"\x1b[15~");
    }

    #[test]
    fn paste_is_bracketed_only_when_asked_and_cannot_escape() {
        let plain = InputModes::default();
        assert_eq!(encode_paste("a\nb", plain), b"a\rb");
        let bracketed = InputModes {
            bracketed_paste: true,
            ..plain
        };
        assert_eq!(
            encode_paste("x\x1b[201~rm -rf /\n", bracketed),
            b"\x1b[200~xrm -rf /\r\x1b[201~"
        );
    }
}
