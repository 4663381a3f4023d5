//! The host terminal's input bytes read as events: keys, pastes, the
//! mouse, focus. Our own reader, because crossterm's takes `CSI 1;2R`
//! (Shift+F3, as xterm and tmux send it) for a cursor position report and
//! drops it; the dashboard never asks for the cursor's position, so here
//! every `CSI 1;m P/Q/R/S` is F1–F4 with its modifiers. The events are
//! crossterm's types, as the rest of the dashboard expects.
//!
//! Pure: bytes in, events out. A sequence cut by the end of a read waits
//! for the next one, and `flush` ends the wait; an ESC that ends a read
//! is the Esc key, as in crossterm.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

const ESC: u8 = 0x1b;
const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";

/// Bytes not yet read as events.
#[derive(Debug, Default)]
pub struct TtyInput {
    pending: Vec<u8>,
    /// How far a paste at the front was searched for its end, so a long
    /// paste read in many pieces is searched once.
    paste_searched: usize,
}

/// What the front of the pending bytes holds.
enum Parsed {
    /// An event (or nothing, for a sequence we ignore) and its length.
    Done(Option<Event>, usize),
    /// The bytes so far start a sequence that is not complete.
    Incomplete,
}

impl TtyInput {
    /// Reads `bytes` after what was pending: every event complete so far.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.pending.extend_from_slice(bytes);
        self.take(false)
    }

    /// No more bytes came soon after: what waited is read as it stands (a
    /// lone ESC is the Esc key, a cut sequence its keys).
    pub fn flush(&mut self) -> Vec<Event> {
        self.take(true)
    }

    /// Whether bytes wait for more (a cut sequence, a paste not ended).
    pub fn waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether what waits is a paste not ended yet: its next piece may be
    /// slow to come (a large paste over ssh), and until its end marker
    /// every byte is text, never keys.
    pub fn in_paste(&self) -> bool {
        self.pending.starts_with(PASTE_START)
    }

    fn take(&mut self, at_end: bool) -> Vec<Event> {
        let mut events = Vec::new();
        let mut at = 0;
        while at < self.pending.len() {
            let bytes = &self.pending[at..];
            let parsed = if bytes.starts_with(PASTE_START) {
                let searched = if at == 0 { self.paste_searched } else { 0 };
                parse_paste(bytes, at_end, searched)
            } else {
                parse(bytes, at_end)
            };
            match parsed {
                Parsed::Done(event, used) => {
                    events.extend(event);
                    at += used.max(1);
                }
                Parsed::Incomplete => break,
            }
        }
        self.pending.drain(..at);
        self.paste_searched = if self.in_paste() {
            self.pending.len()
        } else {
            0
        };
        events
    }
}

fn key(code: KeyCode, modifiers: KeyModifiers) -> Option<Event> {
    Some(Event::Key(KeyEvent::new_with_kind(
        code,
        modifiers,
        KeyEventKind::Press,
    )))
}

/// The event at the front of `bytes`. `at_end`: nothing more is coming,
/// so a cut sequence is read as far as it goes.
fn parse(bytes: &[u8], at_end: bool) -> Parsed {
    let none = KeyModifiers::NONE;
    match bytes[0] {
        ESC => parse_escape(bytes, at_end),
        b'\r' => Parsed::Done(key(KeyCode::Enter, none), 1),
        b'\t' => Parsed::Done(key(KeyCode::Tab, none), 1),
        0x7f => Parsed::Done(key(KeyCode::Backspace, none), 1),
        0 => Parsed::Done(key(KeyCode::Char(' '), KeyModifiers::CONTROL), 1),
        // Ctrl+A … Ctrl+Z (Ctrl+J is a newline, Ctrl+H a backspace).
        c @ 0x01..=0x1a => Parsed::Done(
            key(KeyCode::Char((c - 1 + b'a') as char), KeyModifiers::CONTROL),
            1,
        ),
        // Ctrl+\ ] ^ _ as crossterm names them: Ctrl+4 … Ctrl+7.
        c @ 0x1c..=0x1f => Parsed::Done(
            key(
                KeyCode::Char((c - 0x1c + b'4') as char),
                KeyModifiers::CONTROL,
            ),
            1,
        ),
        _ => parse_char(bytes, at_end),
    }
}

/// One UTF-8 character; an uppercase letter carries Shift.
fn parse_char(bytes: &[u8], at_end: bool) -> Parsed {
    let len = match bytes[0] {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        // A stray continuation byte: nothing.
        _ => return Parsed::Done(None, 1),
    };
    // A lead byte whose continuation is not there: it alone is dropped,
    // and what follows is read for what it is.
    let continued = bytes[1..len.min(bytes.len())]
        .iter()
        .all(|b| (0x80..=0xbf).contains(b));
    if !continued {
        return Parsed::Done(None, 1);
    }
    if bytes.len() < len {
        return if at_end {
            Parsed::Done(None, 1)
        } else {
            Parsed::Incomplete
        };
    }
    match std::str::from_utf8(&bytes[..len])
        .ok()
        .and_then(|s| s.chars().next())
    {
        Some(c) => {
            let modifiers = if c.is_uppercase() {
                KeyModifiers::SHIFT
            } else {
                KeyModifiers::NONE
            };
            Parsed::Done(key(KeyCode::Char(c), modifiers), len)
        }
        None => Parsed::Done(None, 1),
    }
}

fn parse_escape(bytes: &[u8], at_end: bool) -> Parsed {
    // An ESC that ends a read is the Esc key: a terminal writes Alt+x or
    // a sequence whole, so what follows in a later read is another key
    // (Esc then q, typed fast, is not Alt+q).
    let Some(&next) = bytes.get(1) else {
        return Parsed::Done(key(KeyCode::Esc, KeyModifiers::NONE), 1);
    };
    match next {
        b'[' => parse_csi(bytes, at_end),
        b'O' => parse_ss3(bytes, at_end),
        // Esc pressed twice: the first is a key of its own.
        ESC => Parsed::Done(key(KeyCode::Esc, KeyModifiers::NONE), 1),
        // ESC before a key is Alt with it.
        _ => match parse(&bytes[1..], at_end) {
            Parsed::Done(Some(Event::Key(mut k)), used) => {
                k.modifiers |= KeyModifiers::ALT;
                Parsed::Done(Some(Event::Key(k)), used + 1)
            }
            Parsed::Done(other, used) => Parsed::Done(other, used + 1),
            Parsed::Incomplete => Parsed::Incomplete,
        },
    }
}

/// `ESC O x`: arrows and Home/End in application mode, F1–F4.
fn parse_ss3(bytes: &[u8], at_end: bool) -> Parsed {
    let Some(&last) = bytes.get(2) else {
        return if at_end {
            // ESC O cut short: Alt+Shift+O.
            Parsed::Done(
                key(KeyCode::Char('O'), KeyModifiers::ALT | KeyModifiers::SHIFT),
                2,
            )
        } else {
            Parsed::Incomplete
        };
    };
    Parsed::Done(
        final_key(last).and_then(|code| key(code, KeyModifiers::NONE)),
        3,
    )
}

/// The key a final byte names, in SS3 and CSI alike: the arrows, Home
/// and End, and F1–F4 (`CSI 1;m R` included: the dashboard never asks
/// where the cursor is, so that is Shift+F3 and its kin, not a report).
fn final_key(last: u8) -> Option<KeyCode> {
    Some(match last {
        b'A' => KeyCode::Up,
        b'B' => KeyCode::Down,
        b'C' => KeyCode::Right,
        b'D' => KeyCode::Left,
        b'H' => KeyCode::Home,
        b'F' => KeyCode::End,
        b'P'..=b'S' => KeyCode::F(1 + last - b'P'),
        _ => return None,
    })
}

/// `CSI params final`, the X10 mouse, and the Linux console's F1–F5.
fn parse_csi(bytes: &[u8], at_end: bool) -> Parsed {
    // X10 mouse: ESC [ M and three bytes.
    if bytes.get(2) == Some(&b'M') {
        return match bytes.get(3..6) {
            Some(&[b, x, y]) => Parsed::Done(x10_mouse(b, x, y), 6),
            _ if at_end => Parsed::Done(None, bytes.len()),
            _ => Parsed::Incomplete,
        };
    }
    // The Linux console: ESC [ [ A … E are F1 … F5.
    if bytes.get(2) == Some(&b'[') {
        return match bytes.get(3) {
            Some(&c @ b'A'..=b'E') => {
                Parsed::Done(key(KeyCode::F(1 + c - b'A'), KeyModifiers::NONE), 4)
            }
            Some(_) => Parsed::Done(None, 3),
            None if at_end => Parsed::Done(None, 3),
            None => Parsed::Incomplete,
        };
    }
    if bytes.len() == 2 && at_end {
        // ESC [ and nothing after: Alt+[.
        return Parsed::Done(key(KeyCode::Char('['), KeyModifiers::ALT), 2);
    }
    // Parameters (0x30–0x3f), then intermediates (0x20–0x2f), then the
    // final byte (0x40–0x7e). Any other byte ends the sequence there,
    // unread; that byte is read for what it is.
    let mut i = 2;
    while bytes.get(i).is_some_and(|b| (0x30..=0x3f).contains(b)) {
        i += 1;
    }
    while bytes.get(i).is_some_and(|b| (0x20..=0x2f).contains(b)) {
        i += 1;
    }
    match bytes.get(i) {
        Some(&last @ 0x40..=0x7e) => Parsed::Done(csi_event(&bytes[2..i], last), i + 1),
        Some(_) => Parsed::Done(None, i),
        None if at_end => Parsed::Done(None, bytes.len()),
        None => Parsed::Incomplete,
    }
}

/// The numbers of `1;5` or `<0;10;3`: each field's first number (a
/// field's `:` sub-parameters are left out).
fn numbers(params: &[u8]) -> Vec<u32> {
    String::from_utf8_lossy(params)
        .split(';')
        .map(|field| {
            field
                .split(':')
                .next()
                .and_then(|n| n.trim_start_matches(['<', '?', '>', '=']).parse().ok())
                .unwrap_or(0)
        })
        .collect()
}

/// xterm's modifier parameter: 1 + a bit each for Shift, Alt, Ctrl, Super.
fn modifiers(param: u32) -> KeyModifiers {
    let bits = param.saturating_sub(1);
    let mut m = KeyModifiers::NONE;
    for (bit, modifier) in [
        (1, KeyModifiers::SHIFT),
        (2, KeyModifiers::ALT),
        (4, KeyModifiers::CONTROL),
        (8, KeyModifiers::SUPER),
        (16, KeyModifiers::HYPER),
        (32, KeyModifiers::META),
    ] {
        if bits & bit != 0 {
            m |= modifier;
        }
    }
    m
}

fn csi_event(params: &[u8], last: u8) -> Option<Event> {
    if params.first() == Some(&b'<') && matches!(last, b'M' | b'm') {
        return sgr_mouse(&numbers(params), last == b'm');
    }
    if params
        .first()
        .is_some_and(|b| matches!(b, b'?' | b'>' | b'='))
    {
        // Answers to queries we never sent (device attributes…): nothing.
        return None;
    }
    let n = numbers(params);
    if last == b'M' && n.len() == 3 {
        // urxvt's mouse (mode 1015): the button 32 above its value.
        return urxvt_mouse(&n);
    }
    // xterm puts the modifiers second (`CSI 1;5A`); old terminals alone
    // (`CSI 5A`).
    let with = match n.as_slice() {
        [_, m, ..] => modifiers(*m),
        [m] if matches!(last, b'A'..=b'H' | b'P'..=b'S') => modifiers(*m),
        _ => KeyModifiers::NONE,
    };
    let code = match last {
        b'E' => KeyCode::KeypadBegin,
        b'Z' => return key(KeyCode::BackTab, KeyModifiers::SHIFT | with),
        b'I' if params.is_empty() => return Some(Event::FocusGained),
        b'O' if params.is_empty() => return Some(Event::FocusLost),
        b'~' => tilde_key(n.first().copied().unwrap_or(0))?,
        b'u' => return csi_u(&n),
        _ => final_key(last)?,
    };
    key(code, with)
}

/// `CSI n ~`: the editing keys and F1–F20.
fn tilde_key(n: u32) -> Option<KeyCode> {
    Some(match n {
        1 | 7 => KeyCode::Home,
        2 => KeyCode::Insert,
        3 => KeyCode::Delete,
        4 | 8 => KeyCode::End,
        5 => KeyCode::PageUp,
        6 => KeyCode::PageDown,
        11..=15 => KeyCode::F((n - 10) as u8),
        17..=21 => KeyCode::F((n - 11) as u8),
        23..=26 => KeyCode::F((n - 12) as u8),
        28 | 29 => KeyCode::F((n - 15) as u8),
        31..=34 => KeyCode::F((n - 17) as u8),
        _ => return None,
    })
}

/// `CSI codepoint ; modifiers u`, as terminals with the fixterms or
/// kitty encoding send some keys.
fn csi_u(n: &[u32]) -> Option<Event> {
    let with = n.get(1).copied().map_or(KeyModifiers::NONE, modifiers);
    let code = match n.first().copied()? {
        9 if with.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
        9 => KeyCode::Tab,
        13 => KeyCode::Enter,
        27 => KeyCode::Esc,
        127 => KeyCode::Backspace,
        c => KeyCode::Char(char::from_u32(c)?),
    };
    key(
        code,
        n.get(1).copied().map_or(KeyModifiers::NONE, modifiers),
    )
}

/// A bracketed paste: its text up to the end marker, searched for from
/// `searched` on (what an earlier read already searched).
fn parse_paste(bytes: &[u8], at_end: bool, searched: usize) -> Parsed {
    let body = &bytes[PASTE_START.len()..];
    let from = searched
        .saturating_sub(PASTE_START.len() + PASTE_END.len())
        .min(body.len());
    let end = body[from..]
        .windows(PASTE_END.len())
        .position(|w| w == PASTE_END)
        .map(|at| from + at);
    match end {
        Some(end) => {
            // Pasted text that held the end marker itself: the terminal
            // sent its own marker after it, with no start between. What
            // came between is the rest of the paste (the inner marker
            // left out, as terminals leave it out), never keys.
            let mut text = body[..end].to_vec();
            let mut used = end + PASTE_END.len();
            while let Some(next) = stray_end(&body[used..]) {
                text.extend_from_slice(&body[used..used + next]);
                used += next + PASTE_END.len();
            }
            Parsed::Done(
                Some(Event::Paste(String::from_utf8_lossy(&text).into_owned())),
                PASTE_START.len() + used,
            )
        }
        // A paste longer than one read: its end comes later.
        None if !at_end => Parsed::Incomplete,
        None => Parsed::Done(
            Some(Event::Paste(String::from_utf8_lossy(body).into_owned())),
            bytes.len(),
        ),
    }
}

/// Where an end marker with no paste started before it is, in what
/// follows a paste's end.
fn stray_end(after: &[u8]) -> Option<usize> {
    let end = after
        .windows(PASTE_END.len())
        .position(|w| w == PASTE_END)?;
    let start = after
        .windows(PASTE_START.len())
        .position(|w| w == PASTE_START);
    start.is_none_or(|start| end < start).then_some(end)
}

/// The mouse's button and modifier bits, as SGR and X10 both send them.
/// Buttons past the wheel (back, forward: 128 and above) are nothing.
fn mouse(button: u32, column: u32, row: u32, released: bool) -> Option<Event> {
    if button >= 128 {
        return None;
    }
    let mut modifiers = KeyModifiers::NONE;
    for (bit, modifier) in [
        (4, KeyModifiers::SHIFT),
        (8, KeyModifiers::ALT),
        (16, KeyModifiers::CONTROL),
    ] {
        if button & bit != 0 {
            modifiers |= modifier;
        }
    }
    let moved = button & 32 != 0;
    let which = match button & 3 {
        0 => MouseButton::Left,
        1 => MouseButton::Middle,
        _ => MouseButton::Right,
    };
    let kind = if button & 64 != 0 {
        match button & 3 {
            0 => MouseEventKind::ScrollUp,
            1 => MouseEventKind::ScrollDown,
            2 => MouseEventKind::ScrollLeft,
            _ => MouseEventKind::ScrollRight,
        }
    } else if moved && button & 3 == 3 {
        MouseEventKind::Moved
    } else if moved {
        MouseEventKind::Drag(which)
    } else if released {
        MouseEventKind::Up(which)
    } else {
        MouseEventKind::Down(which)
    };
    Some(Event::Mouse(MouseEvent {
        kind,
        column: u16::try_from(column.saturating_sub(1)).ok()?,
        row: u16::try_from(row.saturating_sub(1)).ok()?,
        modifiers,
    }))
}

/// `CSI < b ; x ; y M` (pressed, dragged, wheel) or `m` (released).
fn sgr_mouse(n: &[u32], released: bool) -> Option<Event> {
    let [b, x, y] = n else { return None };
    mouse(*b, *x, *y, released)
}

/// `CSI b ; x ; y M` (urxvt): as X10, in numbers.
fn urxvt_mouse(n: &[u32]) -> Option<Event> {
    let [b, x, y] = n else { return None };
    let b = b.saturating_sub(32);
    if b & 3 == 3 && b & (32 | 64) == 0 {
        return mouse(b & !3, *x, *y, true);
    }
    mouse(b, *x, *y, false)
}

/// `CSI M b x y`, each byte 32 above its value; button 3 is a release
/// (of a button it does not name).
fn x10_mouse(b: u8, x: u8, y: u8) -> Option<Event> {
    let b = u32::from(b.saturating_sub(32));
    let (x, y) = (
        u32::from(x.saturating_sub(32)),
        u32::from(y.saturating_sub(32)),
    );
    if b & 3 == 3 && b & (32 | 64) == 0 {
        return mouse(b & !3, x, y, true);
    }
    mouse(b, x, y, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode, modifiers: KeyModifiers) -> Event {
        key(code, modifiers).unwrap()
    }

    fn read(bytes: &[u8]) -> Vec<Event> {
        let mut input = TtyInput::default();
        let mut events = input.feed(bytes);
        events.extend(input.flush());
        events
    }

    const NONE: KeyModifiers = KeyModifiers::NONE;
    const SHIFT: KeyModifiers = KeyModifiers::SHIFT;
    const CTRL: KeyModifiers = KeyModifiers::CONTROL;
    const ALT: KeyModifiers = KeyModifiers::ALT;

    #[test]
    fn shift_f3_is_a_key_not_a_cursor_report() {
        assert_eq!(read(b"\x1b[1;2R"), vec![k(KeyCode::F(3), SHIFT)]);
        assert_eq!(read(b"\x1b[1;5R"), vec![k(KeyCode::F(3), CTRL)]);
        assert_eq!(read(b"\x1bOR"), vec![k(KeyCode::F(3), NONE)]);
        assert_eq!(read(b"\x1b[13;2~"), vec![k(KeyCode::F(3), SHIFT)]);
        assert_eq!(read(b"\x1b[1;2P"), vec![k(KeyCode::F(1), SHIFT)]);
    }

    #[test]
    fn keys_read_as_crossterm_reads_them() {
        assert_eq!(
            read(b"aB\r\t\x7f\x01\x1d\x00"),
            vec![
                k(KeyCode::Char('a'), NONE),
                k(KeyCode::Char('B'), SHIFT),
                k(KeyCode::Enter, NONE),
                k(KeyCode::Tab, NONE),
                k(KeyCode::Backspace, NONE),
                k(KeyCode::Char('a'), CTRL),
                k(KeyCode::Char('5'), CTRL),
                k(KeyCode::Char(' '), CTRL),
            ]
        );
        assert_eq!(
            read("é中".as_bytes()),
            vec![k(KeyCode::Char('é'), NONE), k(KeyCode::Char('中'), NONE)]
        );
        assert_eq!(
            read(b"\x1b[A\x1b[1;5C\x1b[3~\x1b[5;3~\x1b[Z\x1bOB"),
            vec![
                k(KeyCode::Up, NONE),
                k(KeyCode::Right, CTRL),
                k(KeyCode::Delete, NONE),
                k(KeyCode::PageUp, ALT),
                k(KeyCode::BackTab, SHIFT),
                k(KeyCode::Down, NONE),
            ]
        );
        // Alt: ESC before a key. Esc alone, and twice.
        assert_eq!(read(b"\x1bx"), vec![k(KeyCode::Char('x'), ALT)]);
        assert_eq!(read(b"\x1b"), vec![k(KeyCode::Esc, NONE)]);
        assert_eq!(
            read(b"\x1b\x1b"),
            vec![k(KeyCode::Esc, NONE), k(KeyCode::Esc, NONE)]
        );
        // Focus, and answers to queries never sent, which are nothing.
        assert_eq!(read(b"\x1b[I\x1b[?62;22c"), vec![Event::FocusGained]);
    }

    #[test]
    fn a_sequence_cut_between_reads_waits_for_its_end() {
        let mut input = TtyInput::default();
        assert!(input.feed(b"a\x1b[1;").len() == 1);
        assert!(input.waiting());
        assert_eq!(input.feed(b"2R"), vec![k(KeyCode::F(3), SHIFT)]);
        // Half a character, then the rest.
        assert!(input.feed(&"中".as_bytes()[..2]).is_empty());
        assert_eq!(
            input.feed(&"中".as_bytes()[2..]),
            vec![k(KeyCode::Char('中'), NONE)]
        );
        // An ESC that ends a read is Esc, whatever the next read brings.
        assert_eq!(input.feed(b"\x1b"), vec![k(KeyCode::Esc, NONE)]);
        assert_eq!(input.feed(b"q"), vec![k(KeyCode::Char('q'), NONE)]);
        assert!(!input.waiting());
    }

    #[test]
    fn a_paste_is_one_event_even_over_several_reads() {
        let mut input = TtyInput::default();
        assert!(input.feed(b"\x1b[200~line one\r\nline").is_empty());
        assert_eq!(
            input.feed(b" two\x1b[201~x"),
            vec![
                Event::Paste("line one\r\nline two".into()),
                k(KeyCode::Char('x'), NONE)
            ]
        );
    }

    #[test]
    fn a_long_paste_in_many_pieces_is_one_paste_and_says_it_waits() {
        let mut input = TtyInput::default();
        assert!(input.feed(b"\x1b[200~").is_empty());
        let piece = "0123456789\r".repeat(100);
        for _ in 0..50 {
            assert!(input.feed(piece.as_bytes()).is_empty());
            assert!(input.in_paste(), "a paste not ended waits");
        }
        // The end marker split between two reads.
        assert!(input.feed(b"end\x1b[20").is_empty());
        let events = input.feed(b"1~q");
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0], Event::Paste(piece.repeat(50) + "end"));
        assert_eq!(events[1], k(KeyCode::Char('q'), NONE));
        assert!(!input.in_paste() && !input.waiting());
    }

    #[test]
    fn a_paste_holding_the_end_marker_is_whole_and_keys_after_it_are_keys() {
        // `A ESC[201~ g` pasted: the terminal adds its own end marker.
        assert_eq!(
            read(b"\x1b[200~A\x1b[201~g\x1b[201~"),
            vec![Event::Paste("Ag".into())]
        );
        // Enter typed right after a paste, in the same read, is a key.
        assert_eq!(
            read(b"\x1b[200~echo hi\x1b[201~\r"),
            vec![Event::Paste("echo hi".into()), k(KeyCode::Enter, NONE)]
        );
        // Two pastes in one read stay two.
        assert_eq!(
            read(b"\x1b[200~a\x1b[201~\x1b[200~b\x1b[201~"),
            vec![Event::Paste("a".into()), Event::Paste("b".into())]
        );
    }

    #[test]
    fn a_broken_sequence_loses_only_itself() {
        // A lead byte with no continuation: only it goes.
        assert_eq!(read(&[0xe9, b'a']), vec![k(KeyCode::Char('a'), NONE)]);
        // A CSI cut by a byte it cannot hold: what follows is read.
        assert_eq!(
            read("\x1b[1é ab".as_bytes()),
            vec![
                k(KeyCode::Char('é'), NONE),
                k(KeyCode::Char(' '), NONE),
                k(KeyCode::Char('a'), NONE),
                k(KeyCode::Char('b'), NONE),
            ]
        );
    }

    #[test]
    fn other_terminals_ways_of_saying_keys_and_clicks() {
        // The Linux console's F1; an old terminal's Ctrl+Up; Shift+Tab in
        // CSI u.
        assert_eq!(read(b"\x1b[[A"), vec![k(KeyCode::F(1), NONE)]);
        assert_eq!(read(b"\x1b[5A"), vec![k(KeyCode::Up, CTRL)]);
        assert_eq!(read(b"\x1b[9;2u"), vec![k(KeyCode::BackTab, SHIFT)]);
        // Back and forward buttons are nothing, not a click.
        assert_eq!(read(b"\x1b[<128;5;5M"), vec![]);
        // urxvt's mouse: a press, then the release.
        assert_eq!(
            read(b"\x1b[32;3;4M\x1b[35;3;4M"),
            vec![
                Event::Mouse(MouseEvent {
                    kind: MouseEventKind::Down(MouseButton::Left),
                    column: 2,
                    row: 3,
                    modifiers: NONE,
                }),
                Event::Mouse(MouseEvent {
                    kind: MouseEventKind::Up(MouseButton::Left),
                    column: 2,
                    row: 3,
                    modifiers: NONE,
                }),
            ]
        );
    }

    #[test]
    fn the_mouse_in_sgr_and_x10() {
        let at = |kind, column, row, modifiers| {
            Event::Mouse(MouseEvent {
                kind,
                column,
                row,
                modifiers,
            })
        };
        assert_eq!(
            read(
                b"\x1b[<0;10;3M\x1b[<32;11;3M\x1b[<0;11;3m\x1b[<65;1;1M\x1b[<35;5;5M\x1b[<18;2;2M"
            ),
            vec![
                at(MouseEventKind::Down(MouseButton::Left), 9, 2, NONE),
                at(MouseEventKind::Drag(MouseButton::Left), 10, 2, NONE),
                at(MouseEventKind::Up(MouseButton::Left), 10, 2, NONE),
                at(MouseEventKind::ScrollDown, 0, 0, NONE),
                at(MouseEventKind::Moved, 4, 4, NONE),
                at(MouseEventKind::Down(MouseButton::Right), 1, 1, CTRL),
            ]
        );
        assert_eq!(
            read(b"\x1b[M ! \x1b[M#! "),
            vec![
                at(MouseEventKind::Down(MouseButton::Left), 0, 0, NONE),
                at(MouseEventKind::Up(MouseButton::Left), 0, 0, NONE),
            ]
        );
    }
}
