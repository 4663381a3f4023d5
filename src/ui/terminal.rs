//! The terminal's modes while the dashboard owns it: raw mode, the
//! alternate screen, mouse capture and bracketed paste, turned on together
//! by [`TerminalModes::enable`] and turned off together, in one place,
//! whichever way the dashboard lets go of the terminal: the guard dropped
//! (the operator left, the link was lost, an error), Ctrl-Z
//! ([`TerminalModes::suspend`], on again after `fg`), or a panic (the hook
//! restores the terminal before the panic is logged and printed).
//!
//! The window title is saved with them (the xterm title stack) and given
//! back on the way out; [`set_title`] keeps it saying what waits, and
//! [`call`] rings the bell and sends a desktop notification when
//! sliceboard calls the operator (OSC 9 and OSC 777, wrapped for tmux's
//! passthrough when the dashboard runs inside tmux).
//!
//! Owns only those modes and the panic hook that restores them; what is
//! drawn is ratatui's, and nothing here reads input.

use std::io::Write as _;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

/// Whether the modes are on now: the panic hook restores only then.
static ENABLED: AtomicBool = AtomicBool::new(false);
/// The panic hook is installed once per process, however many dashboards
/// run in it.
static HOOK: Once = Once::new();

/// The dashboard's terminal modes, on while this lives.
pub struct TerminalModes {
    _private: (),
}

impl TerminalModes {
    /// Turns every mode on, after installing the panic hook that turns
    /// them off again.
    pub fn enable() -> std::io::Result<Self> {
        install_panic_hook();
        turn_on()?;
        Ok(Self { _private: () })
    }

    /// Ctrl-Z: gives the terminal back as it was, stops this process, and
    /// takes the terminal again when the shell continues it (`fg`). The
    /// caller redraws everything after.
    pub fn suspend(&mut self) -> std::io::Result<()> {
        restore();
        crate::os::suspend_self();
        turn_on()
    }
}

impl TerminalModes {
    /// Gives the terminal back as it was while `run` runs (another
    /// program uses it), then takes it again. The caller redraws after.
    pub fn hand_over<T>(&mut self, run: impl FnOnce() -> T) -> std::io::Result<T> {
        restore();
        let out = run();
        turn_on()?;
        Ok(out)
    }
}

impl Drop for TerminalModes {
    fn drop(&mut self) {
        restore();
    }
}

fn turn_on() -> std::io::Result<()> {
    ENABLED.store(true, Ordering::SeqCst);
    enable_raw_mode()?;
    // Save the window's title, to give it back on the way out.
    let _ = write_flushed(PUSH_TITLE);
    crossterm::execute!(std::io::stdout(), EnterAlternateScreen)?;
    // A terminal without mouse or paste reporting still works.
    let _ = crossterm::execute!(std::io::stdout(), EnableMouseCapture, EnableBracketedPaste);
    Ok(())
}

/// Turns every mode off; does nothing when they are off already.
fn restore() {
    if !ENABLED.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut stdout = std::io::stdout();
    let _ = crossterm::execute!(stdout, DisableMouseCapture, DisableBracketedPaste);
    // Raw mode first: it has more side effects than the alternate screen.
    let _ = disable_raw_mode();
    let _ = crossterm::execute!(stdout, LeaveAlternateScreen);
    let _ = stdout.write_all(POP_TITLE);
    let _ = stdout.flush();
}

/// xterm's title stack (window and icon title): save, and restore.
const PUSH_TITLE: &[u8] = b"\x1b[22;0t";
const POP_TITLE: &[u8] = b"\x1b[23;0t";

fn write_flushed(bytes: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout();
    stdout.write_all(bytes)?;
    stdout.flush()
}

/// Sets the window's title (OSC 2).
pub fn set_title(title: &str) {
    let _ = write_flushed(format!("\x1b]2;{}\x07", printable(title)).as_bytes());
}

/// Calls the operator from the host terminal.
pub fn call(text: &str, bell: bool, desktop: bool) {
    let in_tmux = std::env::var_os("TMUX").is_some();
    let _ = write_flushed(&call_bytes(text, bell, desktop, in_tmux));
}

/// The bytes of a call: the bell (tmux turns it into its own bell, so it
/// is never wrapped), then OSC 9 (iTerm2, WezTerm, kitty, Windows
/// Terminal…) and OSC 777 (foot, rxvt, VTE terminals) with `text`, each
/// wrapped in tmux's passthrough (`allow-passthrough on`) inside tmux.
pub fn call_bytes(text: &str, bell: bool, desktop: bool, in_tmux: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bell {
        out.push(0x07);
    }
    if desktop {
        let text = printable(text);
        for osc in [
            format!("\x1b]9;{text}\x07"),
            format!("\x1b]777;notify;sliceboard;{text}\x07"),
        ] {
            if in_tmux {
                out.extend_from_slice(b"\x1bPtmux;");
                out.extend_from_slice(osc.replace('\x1b', "\x1b\x1b").as_bytes());
                out.extend_from_slice(b"\x1b\\");
            } else {
                out.extend_from_slice(osc.as_bytes());
            }
        }
    }
    out
}

/// `text` with control characters (which could end or inject an escape
/// sequence) as spaces.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A panic restores the terminal, goes to the log file with a backtrace,
/// and is then reported as it would have been (the previous hook).
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            tracing::error!(%info, backtrace = %std::backtrace::Backtrace::force_capture(), "panic");
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_rings_then_notifies_wrapped_for_tmux_inside_it() {
        let plain = call_bytes("a: waits\x1b]2;x", true, true, false);
        assert_eq!(
            String::from_utf8(plain).unwrap(),
            "\x07\x1b]9;a: waits ]2;x\x07\x1b]777;notify;sliceboard;a: waits ]2;x\x07"
        );
        let tmux = String::from_utf8(call_bytes("a: waits", true, true, true)).unwrap();
        assert_eq!(
            tmux,
            "\x07\x1bPtmux;\x1b\x1b]9;a: waits\x07\x1b\\\x1bPtmux;\x1b\x1b]777;notify;sliceboard;a: waits\x07\x1b\\"
        );
        assert_eq!(call_bytes("a", false, false, true), b"");
        assert_eq!(call_bytes("a", true, false, true), b"\x07");
    }
}
