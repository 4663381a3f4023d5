//! One agent in one pseudo-terminal: spawned through the user's shell in
//! its slice's worktree, as the leader of its own session and process
//! group with the PTY as its controlling terminal, behind a real terminal
//! emulator.
//!
//! Owns the PTY, the emulator ([`screen`], with its compact history in
//! `history` and `spill`), the transcript, the activity reading and input
//! encoding ([`input`] keys and pastes, [`mouse_input`] mouse reports).
//! Pausing, resuming and killing reach the agent's whole
//! [`process_group::Tree`]; the system calls, the subreaper and the reaping
//! of orphans are `os::process_group`'s, not this module's. Knows nothing
//! of git, the plan file or the dashboard: whoever spawns a session hands
//! it a [`SessionSpec`] and an [`EventSink`], and hears back through
//! [`SessionEvent`]s.
//!
//! Threads, per session: a reader (PTY reads block) that feeds the
//! emulator, queues its replies, appends the transcript, notes activity
//! and wakes the sink at most once until someone looks at the screen; a
//! writer that alone writes to the PTY, from a bounded queue, so an agent
//! that does not read its input blocks nobody; a waiter that reaps the
//! child and reports its exit (after a kill, once its whole tree is gone).

pub mod activity;
mod history;
pub mod input;
pub mod mouse_input;
pub mod screen;
mod spill;
pub mod transcript;

use std::io::{Read as _, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};

use crate::os::process_group;
pub use crate::os::process_group::Termination;
pub use activity::{ActivityRules, ActivityTracker, Reading};
pub use input::{Key, Mods, encode_key, encode_paste};
pub use mouse_input::{
    MouseAction, MouseButton, MouseInput, MouseRoute, WHEEL_LINES, encode_mouse, route_mouse,
};
pub use screen::{InputModes, MouseTracking, Screen, Size};

use crate::domain::{Activity, SliceName};

/// How many pending writes (keys, pastes, replies to terminal queries) a
/// session queues for an agent that is not reading its input; past that,
/// input is refused and replies are dropped rather than block anyone.
const INPUT_QUEUE: usize = 256;
/// How many bytes of those writes may wait at most, together.
pub const INPUT_QUEUE_BYTES: usize = 1024 * 1024;

/// The agent's input, written by the session's writer thread: at most
/// [`INPUT_QUEUE`] writes and [`INPUT_QUEUE_BYTES`] bytes wait.
#[derive(Clone)]
struct Input {
    queue: mpsc::SyncSender<Vec<u8>>,
    /// Bytes queued and not yet written; the writer takes off what it wrote.
    queued: Arc<std::sync::atomic::AtomicUsize>,
}

impl Input {
    fn try_send(&self, bytes: Vec<u8>) -> std::io::Result<()> {
        let len = bytes.len();
        let waiting = self.queued.fetch_add(len, Ordering::SeqCst);
        let refuse = |kind, message: String| {
            self.queued.fetch_sub(len, Ordering::SeqCst);
            Err(std::io::Error::new(kind, message))
        };
        if waiting > 0 && waiting + len > INPUT_QUEUE_BYTES || len > INPUT_QUEUE_BYTES {
            return refuse(
                std::io::ErrorKind::WouldBlock,
                format!(
                    "the agent is not reading its input: {} KiB wait for it already, and at most {} KiB may; these {} bytes were not sent",
                    waiting.div_ceil(1024),
                    INPUT_QUEUE_BYTES / 1024,
                    len
                ),
            );
        }
        match self.queue.try_send(bytes) {
            Ok(()) => Ok(()),
            Err(mpsc::TrySendError::Full(_)) => refuse(
                std::io::ErrorKind::WouldBlock,
                format!(
                    "the agent is not reading its input: {INPUT_QUEUE} writes wait for it already; these {len} bytes were not sent"
                ),
            ),
            Err(mpsc::TrySendError::Disconnected(_)) => refuse(
                std::io::ErrorKind::BrokenPipe,
                "the agent's terminal is closed".to_owned(),
            ),
        }
    }

    /// An input that nothing reads: what is sent to it is dropped.
    fn nowhere() -> Self {
        Self {
            queue: mpsc::sync_channel(1).0,
            queued: Arc::default(),
        }
    }
}

/// How much is read from the PTY at once (Linux hands over ~4 KiB anyway).
const READ_BUFFER: usize = 64 * 1024;
/// How long the waiter lets the reader drain after the child exits.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);
/// How long a screen's output stays quiet before its grid gives its
/// spare rows back ([`Screen::compact`]).
pub const COMPACT_AFTER: Duration = Duration::from_secs(1);

/// Everything needed to start one agent.
#[derive(Debug, Clone)]
pub struct SessionSpec {
    pub slice: SliceName,
    /// A shell command line, run with `$SHELL -c` (or `/bin/sh -c`).
    pub command: String,
    pub cwd: PathBuf,
    /// Set on top of the inherited environment (or of the wrapper's).
    pub env: Vec<(String, String)>,
    /// A sandbox the shell runs in, and the environment it starts from.
    pub wrapper: Option<crate::domain::sandbox::Wrapper>,
    pub size: Size,
    /// Lines of scrollback kept by the emulator.
    pub scrollback: usize,
    /// Where the raw output goes, and the size at which it rotates.
    pub transcript: Option<(PathBuf, u64)>,
    pub activity: ActivityRules,
}

/// What a session reports. Output is coalesced: after one `Output`, the next
/// comes only once someone has looked at the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    Output {
        slice: SliceName,
    },
    Bell {
        slice: SliceName,
    },
    /// `pid` tells this run from a later one of the same slice.
    Exited {
        slice: SliceName,
        pid: i32,
        exit: ExitInfo,
    },
}

/// How the agent process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    /// The exit code; for a process ended by a signal, the shell's
    /// convention of 128 + signal is not applied: `code` is 1 and `signal`
    /// names it.
    pub code: i32,
    pub signal: Option<String>,
    /// True when the exit followed [`Session::kill`].
    pub killed: bool,
}

/// Where session events go. A closure, so the caller picks the channel.
pub type EventSink = Arc<dyn Fn(SessionEvent) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the worktree {} of slice {slice} does not exist; run `sliceboard up {slice}`", cwd.display())]
    NoWorktree { slice: SliceName, cwd: PathBuf },
    #[error("cannot start the agent of slice {slice} (`{command}`): {message}")]
    Spawn {
        slice: SliceName,
        command: String,
        message: String,
    },
    #[error("slice {} terminal: {source}", crate::domain::possessive(.slice))]
    Io {
        slice: SliceName,
        #[source]
        source: std::io::Error,
    },
}

/// State shared between the session's owner and its threads.
struct Shared {
    screen: Mutex<Screen>,
    activity: Mutex<ActivityTracker>,
    /// Set by the reader when it has sent `Output` and nobody has looked yet.
    output_pending: AtomicBool,
    killed: AtomicBool,
    /// Set by [`Session::kill`]: says when the whole tree has ended, and
    /// how long that may take. The exit is reported only then.
    tree_ended: Mutex<Option<(mpsc::Receiver<()>, Duration)>>,
    exit: Mutex<Option<ExitInfo>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct Session {
    slice: SliceName,
    pid: i32,
    /// The agent's processes wherever they went (other groups, sessions).
    tree: process_group::Tree,
    shared: Arc<Shared>,
    /// To the writer thread, which keeps the PTY writer for the session's
    /// life (dropping that sends EOF to the child).
    input: Input,
    master: Box<dyn MasterPty + Send>,
    paused: bool,
}

impl Shared {
    /// What the session's threads share, on `screen` (an earlier run's,
    /// or a new one) at the spec's size.
    fn new(spec: &SessionSpec, screen: Option<Screen>) -> Arc<Self> {
        let mut screen = screen.unwrap_or_else(|| Screen::new(spec.size, spec.scrollback));
        if screen.size() != spec.size {
            screen.resize(spec.size);
        }
        Arc::new(Self {
            screen: Mutex::new(screen),
            activity: Mutex::new(ActivityTracker::new(spec.activity.clone())),
            output_pending: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            tree_ended: Mutex::new(None),
            exit: Mutex::new(None),
        })
    }
}

/// The agent's command, run by the user's shell in its worktree with its
/// environment.
fn shell_command(spec: &SessionSpec) -> CommandBuilder {
    let mut cmd = match &spec.wrapper {
        Some(wrapper) if !wrapper.argv.is_empty() => {
            let mut cmd = CommandBuilder::from_argv(
                wrapper.argv.iter().map(std::ffi::OsString::from).collect(),
            );
            cmd.arg(user_shell());
            if let Some(base) = &wrapper.base_env {
                cmd.env_clear();
                for (key, value) in base {
                    cmd.env(key, value);
                }
            }
            cmd
        }
        _ => CommandBuilder::new(user_shell()),
    };
    cmd.arg("-c");
    cmd.arg(&spec.command);
    cmd.cwd(&spec.cwd);
    cmd.env("TERM", "xterm-256color");
    cmd.env("COLORTERM", "truecolor");
    for (key, value) in &spec.env {
        cmd.env(key, value);
    }
    cmd
}

/// The thread that waits for the agent and reports its exit, once its
/// last output landed in the screen and, when it was killed, its whole
/// tree has ended.
fn spawn_waiter(
    slice: SliceName,
    pid: i32,
    mut child: Box<dyn portable_pty::Child + Send + Sync>,
    shared: Arc<Shared>,
    drained: mpsc::Receiver<()>,
    sink: EventSink,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(format!("pty-wait-{slice}"))
        .spawn(move || {
            let status = child.wait();
            process_group::waited(pid);
            // Let the last output land in the screen before reporting.
            let _ = drained.recv_timeout(DRAIN_AFTER_EXIT);
            // A killed agent has ended once its whole tree has.
            let ending = lock(&shared.tree_ended).take();
            if let Some((ended, limit)) = ending {
                let _ = ended.recv_timeout(limit);
            }
            let killed = shared.killed.load(Ordering::SeqCst);
            let exit = match status {
                Ok(status) => ExitInfo {
                    code: i32::try_from(status.exit_code()).unwrap_or(i32::MAX),
                    signal: status.signal().map(str::to_owned),
                    killed,
                },
                Err(err) => {
                    tracing::warn!(%slice, %err, "waiting for the agent failed");
                    ExitInfo {
                        code: -1,
                        signal: None,
                        killed,
                    }
                }
            };
            *lock(&shared.exit) = Some(exit.clone());
            sink(SessionEvent::Exited { slice, pid, exit });
        })
        .map(drop)
}

impl Session {
    /// Starts the agent. `screen`, when given, is the emulator of an earlier
    /// run of the same slice, so a restarted agent continues below what the
    /// previous one printed.
    pub fn spawn(
        spec: SessionSpec,
        screen: Option<Screen>,
        sink: EventSink,
    ) -> Result<Self, SessionError> {
        // portable-pty silently falls back to $HOME for a missing cwd.
        if !spec.cwd.is_dir() {
            return Err(SessionError::NoWorktree {
                slice: spec.slice,
                cwd: spec.cwd,
            });
        }
        let spawn_err = |message: String| SessionError::Spawn {
            slice: spec.slice.clone(),
            command: spec.command.clone(),
            message,
        };
        let pair = native_pty_system()
            .openpty(pty_size(spec.size))
            .map_err(|e| spawn_err(format!("no pseudo-terminal: {e}")))?;
        let cmd = shell_command(&spec);
        // Registered as waited for before a reaper of orphans can look.
        let (child, pid) = process_group::spawn_waited(|| {
            let child = pair
                .slave
                .spawn_command(cmd)
                .map_err(|e| spawn_err(e.to_string()))?;
            let pid = child
                .process_id()
                .and_then(|pid| i32::try_from(pid).ok())
                .ok_or_else(|| spawn_err("the child has no process id".into()))?;
            Ok((child, pid))
        })?;
        // Our copy of the slave must go, or the reader never sees EOF.
        drop(pair.slave);
        let tree = process_group::Tree {
            leader: pid,
            leader_started: process_group::start_time(pid),
            mark: process_group::Mark::from_env(&spec.env),
        };
        let io_err = |source| SessionError::Io {
            slice: spec.slice.clone(),
            source,
        };
        let reader = pair
            .master
            .try_clone_reader()
            .map_err(|e| io_err(std::io::Error::other(e.to_string())))?;
        let writer = pair
            .master
            .take_writer()
            .map_err(|e| io_err(std::io::Error::other(e.to_string())))?;
        let transcript = match &spec.transcript {
            Some((path, max)) => Some(transcript::Transcript::open(path, *max).map_err(io_err)?),
            None => None,
        };

        let shared = Shared::new(&spec, screen);
        let input = spawn_writer(&spec.slice, writer).map_err(io_err)?;
        let (drained_tx, drained_rx) = mpsc::channel::<()>();

        let reader_thread = Reader {
            slice: spec.slice.clone(),
            shared: shared.clone(),
            input: input.clone(),
            transcript,
            sink: sink.clone(),
        };
        std::thread::Builder::new()
            .name(format!("pty-read-{}", spec.slice))
            .spawn(move || {
                reader_thread.run(reader);
                let _ = drained_tx.send(());
            })
            .map_err(io_err)?;

        spawn_waiter(
            spec.slice.clone(),
            pid,
            child,
            shared.clone(),
            drained_rx,
            sink,
        )
        .map_err(io_err)?;

        tracing::info!(slice = %spec.slice, pid, command = %spec.command, "agent started");
        Ok(Self {
            slice: spec.slice,
            pid,
            tree,
            shared,
            input,
            master: pair.master,
            paused: false,
        })
    }

    pub fn slice(&self) -> &SliceName {
        &self.slice
    }

    /// The agent's pid, which is also its process group and session id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Bytes for the agent, already encoded as a terminal would send them.
    pub fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        lock(&self.shared.activity).input(Instant::now());
        self.input.try_send(bytes.to_vec())
    }

    /// Types a key, encoded for the modes the program set.
    pub fn key(&self, key: Key, mods: Mods) -> std::io::Result<()> {
        let modes = lock(&self.shared.screen).input_modes();
        self.write(&encode_key(key, mods, modes))
    }

    /// Pastes text, bracketed when the program asked for it.
    pub fn paste(&self, text: &str) -> std::io::Result<()> {
        let modes = lock(&self.shared.screen).input_modes();
        self.write(&encode_paste(text, modes))
    }

    /// Resizes the emulator and the PTY; the program gets SIGWINCH.
    pub fn resize(&self, size: Size) -> std::io::Result<()> {
        lock(&self.shared.screen).resize(size);
        self.master
            .resize(pty_size(size))
            .map_err(|e| std::io::Error::other(e.to_string()))
    }

    /// SIGSTOP to the whole tree.
    pub fn pause(&mut self) -> std::io::Result<()> {
        process_group::signal_group(self.pid, libc::SIGSTOP)?;
        process_group::signal_tree(&self.tree, libc::SIGSTOP);
        self.paused = true;
        Ok(())
    }

    /// SIGCONT to the whole tree.
    pub fn resume(&mut self) -> std::io::Result<()> {
        process_group::signal_group(self.pid, libc::SIGCONT)?;
        process_group::signal_tree(&self.tree, libc::SIGCONT);
        self.paused = false;
        Ok(())
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// The agent's processes: see [`process_group::Tree`].
    pub fn tree(&self) -> &process_group::Tree {
        &self.tree
    }

    /// Stops the agent's whole tree (every group and session under it):
    /// SIGTERM, then SIGKILL after `grace`. Returns at once; the `Exited`
    /// event (with `killed`) reports the leader's end, and the returned
    /// handle says how it went for the whole tree.
    pub fn kill(&mut self, grace: Duration) -> std::thread::JoinHandle<Termination> {
        let (ended, tree_ended) = mpsc::channel();
        *lock(&self.shared.tree_ended) = Some((tree_ended, grace + process_group::KILL_WAIT * 2));
        self.shared.killed.store(true, Ordering::SeqCst);
        self.paused = false;
        let tree = self.tree.clone();
        std::thread::spawn(move || {
            let termination = process_group::terminate_tree(&tree, grace);
            let _ = ended.send(());
            termination
        })
    }

    /// How the agent ended, once it has.
    pub fn exit(&self) -> Option<ExitInfo> {
        lock(&self.shared.exit).clone()
    }

    /// Runs `f` on the screen. Looking clears the pending-output flag, so
    /// the next output wakes the sink again.
    pub fn with_screen<R>(&self, f: impl FnOnce(&mut Screen) -> R) -> R {
        self.screen_handle().with_screen(f)
    }

    /// A handle on the screen that another thread (the dashboard's) can
    /// keep and draw from while the supervisor owns the session.
    pub fn screen_handle(&self) -> ScreenHandle {
        ScreenHandle {
            shared: self.shared.clone(),
            input: self.input.clone(),
        }
    }

    /// Takes the screen out (for a restart), leaving a blank one.
    pub fn take_screen(&self) -> Screen {
        let mut screen = lock(&self.shared.screen);
        let blank = Screen::new(screen.size(), 0);
        std::mem::replace(&mut *screen, blank)
    }

    /// When the screen may give its grid's spare rows back: once its
    /// output has been quiet for [`COMPACT_AFTER`]. `None` when it holds
    /// none to give.
    pub fn compact_due(&self) -> Option<Instant> {
        if !lock(&self.shared.screen).compactable() {
            return None;
        }
        let last = lock(&self.shared.activity).last_output();
        Some(last.map_or_else(Instant::now, |at| at + COMPACT_AFTER))
    }

    /// Compacts the screen ([`Screen::compact`]) once its output has been
    /// quiet for [`COMPACT_AFTER`]; returns whether rows were freed. Not a
    /// look at the screen: the next output still wakes the sink.
    pub fn compact_if_quiet(&self, now: Instant) -> bool {
        let last = lock(&self.shared.activity).last_output();
        let quiet = last.is_none_or(|at| now >= at + COMPACT_AFTER);
        quiet && lock(&self.shared.screen).compact()
    }

    /// A structured activity report from the agent.
    pub fn signal(&self, activity: Activity) {
        lock(&self.shared.activity).signal(activity, Instant::now());
    }

    /// Re-reads activity from output times, the bell and the screen;
    /// returns the new activity when it changed.
    pub fn update_activity(&self, now: Instant) -> Option<Reading> {
        let tail = {
            let screen = lock(&self.shared.screen);
            screen.tail_lines(8)
        };
        lock(&self.shared.activity).update(now, &tail)
    }

    /// Whether activity can change before the next output, input, bell or
    /// signal; see [`ActivityTracker::settled`].
    pub fn activity_settled(&self, now: Instant) -> bool {
        lock(&self.shared.activity).settled(now)
    }

    pub fn activity(&self) -> Reading {
        lock(&self.shared.activity).reported()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // A session dropped while its agent runs must not leave an orphan
        // group behind: stop it without waiting here.
        if self.exit().is_none() {
            drop(self.kill(Duration::from_secs(2)));
        }
    }
}

/// Shared access to a session's screen; cheap to clone.
#[derive(Clone)]
pub struct ScreenHandle {
    shared: Arc<Shared>,
    input: Input,
}

impl ScreenHandle {
    /// A handle on a screen with no process behind it (an earlier run's
    /// output, or a test's); replies to terminal queries go nowhere.
    pub fn detached(screen: Screen) -> Self {
        Self {
            shared: Arc::new(Shared {
                screen: Mutex::new(screen),
                activity: Mutex::new(ActivityTracker::new(ActivityRules::default())),
                output_pending: AtomicBool::new(false),
                killed: AtomicBool::new(false),
                tree_ended: Mutex::new(None),
                exit: Mutex::new(None),
            }),
            // Nothing reads this end: replies are dropped.
            input: Input::nowhere(),
        }
    }

    /// When a pending synchronized update falls due; see
    /// [`Screen::sync_deadline`]. Reading it does not count as a redraw.
    pub fn sync_deadline(&self) -> Option<std::time::Instant> {
        lock(&self.shared.screen).sync_deadline()
    }

    /// Runs `f` on the screen; see [`Session::with_screen`].
    pub fn with_screen<R>(&self, f: impl FnOnce(&mut Screen) -> R) -> R {
        self.shared.output_pending.store(false, Ordering::SeqCst);
        let mut screen = lock(&self.shared.screen);
        let fed = screen.flush_expired_sync();
        if !fed.replies.is_empty() {
            let _ = self.input.try_send(fed.replies);
        }
        f(&mut screen)
    }
}

/// The reader thread's state.
struct Reader {
    slice: SliceName,
    shared: Arc<Shared>,
    input: Input,
    transcript: Option<transcript::Transcript>,
    sink: EventSink,
}

impl Reader {
    fn run(mut self, mut pty: Box<dyn std::io::Read + Send>) {
        let mut buf = vec![0u8; READ_BUFFER];
        loop {
            let n = match pty.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    tracing::debug!(slice = %self.slice, %err, "pty read ended");
                    break;
                }
            };
            let bytes = &buf[..n];
            if let Some(transcript) = &mut self.transcript
                && let Err(err) = transcript.append(bytes)
            {
                tracing::warn!(slice = %self.slice, %err, "transcript write failed; continuing without it");
                self.transcript = None;
            }
            let now = Instant::now();
            // The output's time is known before the screen shows it, so a
            // reader of the screen never finds bytes newer than the time
            // that decides whether the screen is quiet.
            lock(&self.shared.activity).output(now);
            let (fed, freed) = {
                let mut screen = lock(&self.shared.screen);
                let fed = screen.feed(bytes);
                let freed = screen.follow_flood(fed.lines, now);
                (fed, freed)
            };
            if freed {
                crate::os::release_freed_memory();
            }
            if !fed.replies.is_empty() {
                // Never block the reader: an agent that does not read its
                // input must not stop us draining its output.
                let _ = self.input.try_send(fed.replies);
            }
            if fed.bell {
                lock(&self.shared.activity).bell(now);
                (self.sink)(SessionEvent::Bell {
                    slice: self.slice.clone(),
                });
            }
            if !self.shared.output_pending.swap(true, Ordering::SeqCst) {
                (self.sink)(SessionEvent::Output {
                    slice: self.slice.clone(),
                });
            }
        }
    }
}

/// The thread that owns the PTY writer and writes what the session queues.
/// It blocks when the agent does not read; nobody else does.
fn spawn_writer(slice: &SliceName, mut writer: Box<dyn Write + Send>) -> std::io::Result<Input> {
    let (tx, queue) = mpsc::sync_channel::<Vec<u8>>(INPUT_QUEUE);
    let input = Input {
        queue: tx,
        queued: Arc::default(),
    };
    let queued = input.queued.clone();
    std::thread::Builder::new()
        .name(format!("pty-write-{slice}"))
        .spawn(move || {
            for bytes in queue {
                let written = writer.write_all(&bytes).and_then(|()| writer.flush());
                queued.fetch_sub(bytes.len(), Ordering::SeqCst);
                if written.is_err() {
                    break;
                }
            }
        })?;
    Ok(input)
}

fn pty_size(size: Size) -> PtySize {
    PtySize {
        rows: size.rows.max(1),
        cols: size.cols.max(2),
        pixel_width: 0,
        pixel_height: 0,
    }
}

/// The operator's shell, so agent commands quote the way they expect.
fn user_shell() -> String {
    std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty() && std::path::Path::new(s).exists())
        .unwrap_or_else(|| "/bin/sh".to_owned())
}
