//! The terminal's modes while the dashboard owns it: raw mode, the
//! alternate screen, mouse capture and bracketed paste, turned on together
//! by [`TerminalModes::enable`] and turned off together, in one place,
//! whichever way the dashboard lets go of the terminal: the guard dropped
//! (the operator left, the link was lost, an error), Ctrl-Z
//! ([`TerminalModes::suspend`], on again after `fg`), or a panic (the hook
//! restores the terminal before the panic is logged and printed).
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

impl Drop for TerminalModes {
    fn drop(&mut self) {
        restore();
    }
}

fn turn_on() -> std::io::Result<()> {
    ENABLED.store(true, Ordering::SeqCst);
    enable_raw_mode()?;
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
    let _ = stdout.flush();
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
