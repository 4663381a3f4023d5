//! What a supervisor picks up from the one before it: each slice's last
//! agent status from the journal (a run nobody saw end is recorded as
//! exited), the tail of each transcript on screen, and any agent group the
//! earlier supervisor left running, marked (`left_running`); and the marks
//! a restarted run leaves on its screen.

use std::collections::BTreeMap;

use super::Agents;
use crate::domain::{AgentStatus, Event, SliceName};
use crate::session::{Screen, ScreenHandle, Size, transcript};
use crate::store::Actor;

/// How much of an earlier run's transcript is replayed into a new screen.
const REPLAY_BYTES: u64 = 256 * 1024;

impl Agents {
    /// Each slice's last status from the journal, and its earlier output
    /// on screen. A run whose end nobody recorded (the supervisor that ran
    /// it died) is recorded now as exited, unless its group still runs:
    /// then it is marked as left running, and its end is recorded when it
    /// ends.
    pub(super) fn recover(&mut self) {
        let journal = self
            .ws
            .state_dir
            .journal()
            .read_tail(crate::store::JOURNAL_TAIL_BYTES)
            .unwrap_or_default();
        let mut last: BTreeMap<SliceName, AgentStatus> = BTreeMap::new();
        for entry in journal.entries {
            if let Event::AgentStatusChanged { slice, status } = entry.event {
                last.insert(slice, status);
            }
        }
        let names: Vec<SliceName> = self.slots.keys().cloned().collect();
        let left_running = self.find_left_running(&names);
        for slice in names {
            let status = match last.get(&slice) {
                Some(AgentStatus::Running | AgentStatus::Paused) => {
                    AgentStatus::Exited { code: None }
                }
                Some(AgentStatus::Pending) | None => AgentStatus::NotStarted,
                Some(other) => *other,
            };
            if left_running.contains(&slice) {
                // Shown as no agent of ours; journaled once the group ends.
                if let Some(slot) = self.slots.get_mut(&slice) {
                    slot.status = Some(AgentStatus::Exited { code: None });
                }
            } else if status != AgentStatus::NotStarted {
                if last.get(&slice) != Some(&status) {
                    self.set_status(&slice, status, Actor::Sliceboard);
                } else if let Some(slot) = self.slots.get_mut(&slice) {
                    slot.status = Some(status);
                }
            }
            let transcript = self.ws.state_dir.transcript_file(&slice);
            if let Some(screen) =
                earlier_output(&transcript, self.options.size, self.options.scrollback)
            {
                self.screens
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(slice, ScreenHandle::detached(screen));
            }
        }
    }
}

/// A screen showing the end of what an earlier run printed; `None` when
/// there was no earlier run.
pub(super) fn earlier_output(
    path: &std::path::Path,
    size: Size,
    scrollback: usize,
) -> Option<Screen> {
    let bytes = transcript::read_tail(path, REPLAY_BYTES).ok()?;
    if bytes.is_empty() {
        return None;
    }
    let mut screen = Screen::new(size, scrollback);
    screen.feed(&bytes);
    // Nothing more is printed on it until a restart: its grid's spare rows
    // go at once.
    if screen.compact() {
        crate::os::release_freed_memory();
    }
    Some(screen)
}

/// Prepares a kept screen for a new run to continue on: leaves whatever
/// mode the old run was in (a synchronized update, the alternate screen,
/// the scroll region, colors, application keys, mouse and paste modes),
/// then marks the restart on a line of its own. The alternate screen is
/// left only when it is on: outside it, `ESC[?1049l` would restore a
/// saved cursor and write the mark over the old output.
pub(super) fn mark_restart(screen: &mut Screen) {
    screen.feed(b"\x1b[?2026l");
    if screen.input_modes().alt_screen {
        screen.feed(b"\x1b[?1049l");
    }
    // Resetting the scroll region homes the cursor: put it back.
    let (row, col) = screen.cursor();
    screen.feed(b"\x1b[r\x1b[0m\x1b[?25h\x1b[?1l\x1b[?2004l\x1b[?1000l\x1b[?1006l");
    screen.feed(format!("\x1b[{};{}H", row + 1, col + 1).as_bytes());
    let at_line_start = col == 0;
    if !at_line_start {
        screen.feed(b"\r\n");
    }
    screen.feed(b"\x1b[2m-- earlier output above; agent started again --\x1b[0m\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Size;

    fn screen() -> Screen {
        Screen::new(Size { cols: 60, rows: 6 }, 100)
    }

    const MARK: &str = "-- earlier output above; agent started again --";

    #[test]
    fn the_restart_mark_goes_below_the_old_output_never_over_it() {
        let mut s = screen();
        s.feed(b"line one\r\nline two\r\n");
        mark_restart(&mut s);
        assert_eq!(s.row_text(0), "line one");
        assert_eq!(s.row_text(1), "line two");
        assert_eq!(s.row_text(2), MARK);
        assert_eq!(s.cursor(), (3, 0));

        let mut s = screen();
        s.feed(b"\x1b[2;5rprompt> half a line");
        mark_restart(&mut s);
        assert_eq!(s.row_text(0), "prompt> half a line");
        assert_eq!(s.row_text(1), MARK);
    }

    #[test]
    fn a_run_that_ended_in_the_alternate_screen_leaves_it_first() {
        let mut s = screen();
        s.feed(b"shell line\r\n\x1b[?1049h\x1b[Hfull screen app");
        mark_restart(&mut s);
        assert!(!s.input_modes().alt_screen);
        assert_eq!(s.row_text(0), "shell line");
        assert_eq!(s.row_text(1), MARK);
    }
}
