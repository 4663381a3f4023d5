//! Agent sessions against real programs in real pseudo-terminals: what
//! they print lands in the emulator, input and resizes reach them, pause
//! and kill act on the whole process group, and garbage never panics.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use common::procs::{stat, wait_foreground};
use common::{Deadline, poll_ok, poll_until};
use sliceboard::domain::SliceName;
use sliceboard::os::process_group::group_members;
use sliceboard::session::{
    ActivityRules, EventSink, Key, Mods, Screen, Session, SessionEvent, SessionSpec, Size,
    Termination,
};

const WAIT: Duration = Duration::from_secs(10);

struct Harness {
    dir: tempfile::TempDir,
    events: mpsc::Receiver<SessionEvent>,
    sink: EventSink,
}

impl Harness {
    fn new() -> Self {
        let (tx, events) = mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let sink: EventSink = Arc::new(move |event| {
            let _ = tx.lock().unwrap().send(event);
        });
        Self {
            dir: tempfile::tempdir().unwrap(),
            events,
            sink,
        }
    }

    fn spec(&self, command: &str, size: Size) -> SessionSpec {
        SessionSpec {
            slice: SliceName::parse("staging").unwrap(),
            command: command.to_owned(),
            cwd: self.dir.path().to_owned(),
            env: vec![
                ("PS1".into(), "$ ".into()),
                ("SLICE_TEST".into(), "yes".into()),
            ],
            wrapper: None,
            size,
            scrollback: 1000,
            transcript: Some((self.transcript(), 1 << 20)),
            activity: ActivityRules::default(),
        }
    }

    fn transcript(&self) -> PathBuf {
        self.dir.path().join("state/pty.log")
    }

    fn spawn(&self, command: &str) -> Session {
        self.spawn_sized(command, Size { cols: 80, rows: 24 })
    }

    fn spawn_sized(&self, command: &str, size: Size) -> Session {
        Session::spawn(self.spec(command, size), None, self.sink.clone()).expect("session starts")
    }

    /// Waits for the session's exit event.
    fn exited(&self) -> sliceboard::session::ExitInfo {
        let deadline = Deadline::after(WAIT);
        while let Ok(event) = self.events.recv_timeout(deadline.left()) {
            if let SessionEvent::Exited { exit, .. } = event {
                return exit;
            }
        }
        panic!("no exit event within {WAIT:?}");
    }
}

/// Polls the screen until `want` holds; panics with the screen otherwise.
fn wait_screen(session: &Session, what: &str, want: impl Fn(&Screen) -> bool) {
    poll_ok(format!("the screen showing {what}"), WAIT, || {
        session.with_screen(|s| if want(s) { Ok(()) } else { Err(s.text()) })
    });
}

fn wait_text(session: &Session, needle: &str) {
    wait_screen(session, needle, |s| s.text().contains(needle));
}

#[test]
fn colors_and_cursor_movement_land_in_the_screen() {
    let h = Harness::new();
    let session = h.spawn(r"printf '\033[31mred\033[0m plain\033[5;10Hmoved\033[1;1H'; sleep 5");
    wait_text(&session, "moved");
    session.with_screen(|s| {
        assert_eq!(s.row_text(0), "red plain");
        assert_eq!(s.row_text(4), "         moved");
        let cell = &s.term().grid()[alacritty_terminal::index::Line(0)]
            [alacritty_terminal::index::Column(0)];
        assert_eq!(
            cell.fg,
            alacritty_terminal::vte::ansi::Color::Named(
                alacritty_terminal::vte::ansi::NamedColor::Red
            )
        );
        assert_eq!(s.cursor(), (0, 0));
    });
}

#[test]
fn the_environment_and_working_directory_are_the_slices() {
    let h = Harness::new();
    let session = h.spawn("echo \"$SLICE_TEST $TERM $(pwd)\"; sleep 5");
    let dir = h.dir.path().canonicalize().unwrap();
    wait_text(&session, &format!("yes xterm-256color {}", dir.display()));
}

#[test]
fn input_is_echoed_and_ctrl_c_reaches_the_foreground_job() {
    let h = Harness::new();
    let session = h.spawn("exec sh");
    session.write(b"echo hel''lo\r").unwrap();
    wait_text(&session, "hello");
    // Job control: Ctrl-C interrupts the foreground job, not the shell.
    session.write(b"sleep 100\r").unwrap();
    wait_foreground(session.pid(), "sleep", WAIT);
    session
        .key(
            Key::Char('c'),
            Mods {
                ctrl: true,
                ..Mods::default()
            },
        )
        .unwrap();
    session.write(b"echo after-$((40+2))\r").unwrap();
    wait_text(&session, "after-42");
    session.write(b"exit 3\r").unwrap();
    let exit = h.exited();
    assert_eq!((exit.code, exit.killed), (3, false));
}

#[test]
fn a_resize_reaches_the_program() {
    let h = Harness::new();
    let session = h.spawn("exec sh");
    session.write(b"stty size\r").unwrap();
    wait_text(&session, "24 80");
    session
        .resize(Size {
            cols: 120,
            rows: 40,
        })
        .unwrap();
    session.write(b"stty size; tput cols\r").unwrap();
    wait_text(&session, "40 120");
    wait_screen(&session, "tput cols = 120", |s| {
        (0..40).any(|row| s.row_text(row) == "120")
    });
}

#[test]
fn pause_stops_output_and_resume_continues_it() {
    let h = Harness::new();
    let mut session = h.spawn("i=0; while :; do i=$((i+1)); echo \"tick $i\"; sleep 0.05; done");
    wait_text(&session, "tick 3");
    session.pause().unwrap();
    assert!(session.is_paused());
    // Once every process of the group has stopped, what it printed before
    // lands ahead of the terminal's echo of a mark typed now: when the
    // mark shows, nothing is in flight.
    poll_until("every process of the agent stopped", WAIT, || {
        group_members(session.pid())
            .into_iter()
            .all(|pid| stat(pid).is_none_or(|s| matches!(s.state, 'T' | 'Z')))
    });
    session.write(b"paused-mark").unwrap();
    wait_text(&session, "paused-mark");
    let frozen = session.with_screen(|s| s.tail_lines(1));
    // A sleep, not a wait: what is tested is that nothing is printed
    // while paused, so the agent is watched for a second.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(session.with_screen(|s| s.tail_lines(1)), frozen);
    let state = std::fs::read_to_string(format!("/proc/{}/stat", session.pid())).unwrap();
    let state = state
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(state, "T", "the agent is stopped");

    session.resume().unwrap();
    wait_screen(&session, "new ticks", |s| s.tail_lines(1) != frozen);
}

#[test]
fn kill_leaves_no_process_of_the_group_behind() {
    let h = Harness::new();
    // A shell that ignores SIGTERM, a background grandchild, and a
    // foreground child that also ignores SIGTERM.
    let mut session = h.spawn(
        "trap '' TERM; sleep 1000 & sh -c 'trap \"\" TERM; echo started; while :; do sleep 1; done'",
    );
    wait_text(&session, "started");
    let pgid = session.pid();
    assert!(group_members(pgid).len() >= 3, "{:?}", group_members(pgid));

    let termination = session.kill(Duration::from_millis(300)).join().unwrap();
    assert_eq!(termination, Termination::Forced);
    let exit = h.exited();
    assert!(exit.killed);
    assert_eq!(
        exit.signal
            .as_deref()
            .map(|s| s.contains("Killed") || s.contains("KILL")),
        Some(true),
        "{exit:?}"
    );
    assert!(group_members(pgid).is_empty(), "{:?}", group_members(pgid));
}

#[test]
fn kill_of_a_cooperative_agent_is_graceful_even_when_paused() {
    let h = Harness::new();
    let mut session = h.spawn("echo ready; sleep 1000");
    wait_text(&session, "ready");
    session.pause().unwrap();
    let termination = session.kill(Duration::from_secs(5)).join().unwrap();
    assert_eq!(termination, Termination::Graceful);
    assert!(h.exited().killed);
    assert!(group_members(session.pid()).is_empty());
}

#[test]
fn a_flood_of_random_bytes_never_panics() {
    let h = Harness::new();
    // Random bytes may leave a string sequence open or switch charsets;
    // CAN and a full reset (RIS) end that, as `reset` would.
    let session = h.spawn(r"head -c 4000000 /dev/urandom; printf '\030\033c'; echo survived");
    let exit = h.exited();
    assert_eq!(exit.code, 0);
    wait_text(&session, "survived");
    // The transcript rotated at its 1 MiB limit instead of growing.
    let current = std::fs::metadata(h.transcript()).unwrap().len();
    let older = std::fs::metadata(sliceboard::session::transcript::rotated(&h.transcript()))
        .unwrap()
        .len();
    assert!(current <= 1 << 20 && older <= 1 << 20, "{current} {older}");
    assert!(current + older > 1 << 20, "{current} {older}");
}

#[test]
fn output_is_kept_in_the_transcript() {
    let h = Harness::new();
    let session = h.spawn(r"printf '\033[32mgreen\033[0m line\n'");
    let exit = h.exited();
    assert_eq!(exit.code, 0);
    let raw = std::fs::read(h.transcript()).unwrap();
    assert!(
        raw.windows(b"\x1b[32mgreen".len())
            .any(|w| w == b"\x1b[32mgreen"),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );
    drop(session);
}

#[test]
fn a_missing_worktree_is_refused_instead_of_running_in_home() {
    let h = Harness::new();
    let mut spec = h.spec("true", Size { cols: 80, rows: 24 });
    spec.cwd = Path::new("/nonexistent/worktree").to_owned();
    let err = Session::spawn(spec, None, h.sink.clone())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("sliceboard up staging"), "{err}");
}

#[test]
fn a_real_full_screen_program_draws_and_restores() {
    let h = Harness::new();
    std::fs::write(h.dir.path().join("notes.txt"), "first line\nsecond line\n").unwrap();
    let session = h.spawn_sized("vim -u NONE -N notes.txt", Size { cols: 60, rows: 12 });
    wait_text(&session, "second line");
    wait_screen(&session, "vim's status line", |s| {
        s.row_text(11).contains("notes.txt")
    });
    assert!(session.with_screen(|s| s.input_modes().alt_screen));
    assert_eq!(session.with_screen(|s| s.row_text(2)), "~");
    session.write(b":q!\r").unwrap();
    assert_eq!(h.exited().code, 0);
    assert!(!session.with_screen(|s| s.input_modes().alt_screen));
}

#[test]
fn an_agent_that_never_reads_its_input_blocks_nobody() {
    let h = Harness::new();
    // Raw mode, no echo, asking for the cursor position forever and never
    // reading the answers: the PTY's input buffer fills up.
    let mut session = h.spawn(
        r"stty raw -echo; i=0; while :; do i=$((i+1)); printf '\033[6nline %d\r\n' $i; done",
    );
    wait_text(&session, "line 2");
    let refused = (0..5000).any(|_| session.write(b"typed!!!").is_err());
    assert!(
        refused,
        "input to a stuck agent is refused, not queued forever"
    );
    // Output still drains while its input is stuck.
    let before = session.with_screen(|s| s.tail_lines(1));
    wait_screen(&session, "more output", |s| s.tail_lines(1) != before);
    drop(session.kill(Duration::from_millis(200)).join());
    assert!(h.exited().killed);
}

/// Every line of the scrollback and the live screen, oldest first, read
/// as a viewer scrolls.
fn every_line(screen: &mut Screen) -> Vec<String> {
    let history = screen.history_len();
    screen.scroll(i32::try_from(history).unwrap());
    let mut lines = Vec::new();
    for _ in 0..history {
        lines.push(screen.row_text(0));
        screen.scroll(-1);
    }
    lines.extend((0..usize::from(screen.size().rows)).map(|row| screen.row_text(row)));
    lines
}

#[test]
fn a_screen_gone_quiet_gives_its_grid_back_and_keeps_every_line() {
    let h = Harness::new();
    let mut spec = h.spec(
        "seq 1 3000; echo done; sleep 30",
        Size { cols: 80, rows: 24 },
    );
    spec.scrollback = 5_000;
    let session = Session::spawn(spec, None, h.sink.clone()).expect("session starts");
    // The whole line, its newline too: bytes still coming would move the
    // time the screen goes quiet.
    wait_screen(&session, "done and the cursor below it", |s| {
        let (row, col) = s.cursor();
        row > 0 && col == 0 && s.row_text(row - 1) == "done"
    });
    let due = session.compact_due().expect("the grid holds history");
    assert!(
        !session.compact_if_quiet(due - Duration::from_millis(1)),
        "compacted while the output was fresh"
    );
    let before = session.with_screen(every_line);
    assert!(session.compact_if_quiet(due));
    assert_eq!(session.compact_due(), None, "nothing left to give back");
    session.with_screen(|s| {
        assert!(!s.compactable());
        use alacritty_terminal::grid::Dimensions;
        assert_eq!(
            s.term().grid().history_size(),
            0,
            "the grid keeps the screen only"
        );
    });
    let after = session.with_screen(every_line);
    assert_eq!(after, before);
    let numbers: Vec<usize> = after.iter().filter_map(|l| l.parse().ok()).collect();
    assert_eq!(numbers, (1..=3000).collect::<Vec<_>>());
}
