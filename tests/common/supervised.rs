//! Helpers for tests of the supervisor process: starting `sliceboard
//! supervise` for a test repository and always ending it, clients that
//! read on a thread of their own (dashboards, the command line, raw
//! sockets), and waits that poll until a deadline.

#![allow(dead_code)]

use super::poll::{Deadline, poll_until, poll_within};
use super::{BIN, Plan, Run, TestRepo};
use sliceboard::domain::board::{Board, BoardUpdate};
use sliceboard::domain::pane::{PaneView, PaneWant};
use sliceboard::domain::wire::{ClientKind, ClientMsg, PROTOCOL_VERSION, ServerMsg};
use sliceboard::domain::{AgentStatus, Command, Event, SliceName};
use sliceboard::link::{self, Link, LinkError, LinkReader, MAX_SERVER_FRAME, Welcome};
use std::collections::{BTreeMap, VecDeque};
use std::io::{ErrorKind, Read as _, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

pub use super::name;
pub use super::plan::toml_string;
pub use super::poll::WAIT;
pub use super::procs::rss_kib;

// ---------------------------------------------------------------------------
// The repository and its supervisor process

/// A plan over the test repository's slices `staging`, `marts` and `seeds`,
/// whose agents run the commands in `agents` (`cat` where a slice is not
/// named). `$SB` is the sliceboard binary in every agent's environment.
pub fn plan(agents: &[(&str, &str)]) -> String {
    let mut plan = Plan::new("cat").agent(&format!("env = {{ SB = {} }}", toml_string(BIN)));
    for (slice, owns) in [
        ("staging", "models/staging/**"),
        ("marts", "models/marts/**"),
        ("seeds", "seeds/**"),
    ] {
        let agent = agents
            .iter()
            .find(|(s, _)| *s == slice)
            .map(|(_, agent)| format!("agent = {}", toml_string(agent)));
        plan = plan.slice(
            slice,
            &[owns],
            &agent.as_deref().into_iter().collect::<Vec<_>>(),
        );
    }
    plan.to_string()
}

pub fn start_agent(slice: &str) -> Command {
    Command::StartAgent { slice: name(slice) }
}

pub fn kill_agent(slice: &str) -> Command {
    Command::KillAgent { slice: name(slice) }
}

pub fn restart_agent(slice: &str) -> Command {
    Command::RestartAgent { slice: name(slice) }
}

/// A `sliceboard supervise` child process. Dropped, it gets SIGTERM (which
/// stops its agents, as `sliceboard stop` does, without needing its socket
/// to work) and SIGKILL if it is still there at the deadline.
pub struct Supervise {
    pub child: Child,
}

impl Supervise {
    /// Starts the repository's supervisor with `env` added to the test
    /// environment, and waits until it answers on its socket.
    pub fn start(repo: &TestRepo, env: &[(&str, &str)]) -> Self {
        let out_path = repo.top.join("supervise.out");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out_path)
            .unwrap();
        let child = repo
            .command(BIN, &repo.root)
            .arg("supervise")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("sliceboard supervise starts");
        let mut sup = Self { child };
        let socket = repo.socket();
        poll_until(
            format_args!("the supervisor listening on {}", socket.display()),
            WAIT,
            || {
                match Link::connect(&socket, ClientKind::Cli) {
                    Ok(_) => return true,
                    Err(LinkError::NoSupervisor) => {}
                    Err(err) => panic!("the new supervisor cannot be reached: {err}"),
                }
                if let Some(status) = sup.child.try_wait().unwrap() {
                    panic!(
                        "sliceboard supervise exited at start ({status}): {}",
                        std::fs::read_to_string(&out_path).unwrap_or_default()
                    );
                }
                false
            },
        );
        sup
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no cleanup, as a crash or the OOM killer.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Supervise {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // SAFETY: signals our own child, which has not been reaped yet.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        if poll_within(WAIT, || matches!(self.child.try_wait(), Ok(Some(_)))) {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A repository with its plan and worktrees, and its supervisor running.
/// The supervisor is declared first so it goes first, agents and all.
pub struct Fixture {
    pub sup: Supervise,
    pub repo: TestRepo,
}

impl Fixture {
    pub fn new(agents: &[(&str, &str)], env: &[(&str, &str)]) -> Self {
        let repo = TestRepo::with_plan_text(&plan(agents));
        repo.sliceboard(&["up"]).ok();
        let sup = Supervise::start(&repo, env);
        Self { sup, repo }
    }

    pub fn socket(&self) -> PathBuf {
        self.repo.socket()
    }
}

/// Kills an agent's process group when dropped: agents live in their own
/// session, so one whose supervisor was killed can outlive it.
pub struct KillGroup(pub i32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        // SAFETY: sends a signal; a group that is gone already is no harm.
        unsafe { libc::kill(-self.0, libc::SIGKILL) };
    }
}

// ---------------------------------------------------------------------------
// Deadlines for things that block

/// Runs `work` on a thread and fails the test if it is not done by the
/// deadline: a supervisor that hangs must fail a test, not hang it.
pub fn within<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    match rx.recv_timeout(WAIT) {
        Ok(done) => done,
        Err(RecvTimeoutError::Timeout) => panic!("{what}: not done within {WAIT:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// Runs the sliceboard binary in the repository, within the deadline.
pub fn sliceboard(repo: &TestRepo, args: &[&str]) -> Run {
    let mut command = repo.command(BIN, &repo.root);
    command.args(args);
    let what = format!("sliceboard {}", args.join(" "));
    Run::from(within(&what, move || {
        command.output().expect("sliceboard runs")
    }))
}

/// `sliceboard status --json`, parsed, within the deadline.
pub fn status_json(repo: &TestRepo) -> serde_json::Value {
    let out = sliceboard(repo, &["status", "--json"]).ok();
    serde_json::from_str(&out).unwrap_or_else(|err| panic!("status --json ({err}): {out}"))
}

/// Sends one command as the command line does; the supervisor's answer.
pub fn cli(socket: &Path, command: Command) -> Result<String, String> {
    let socket = socket.to_owned();
    within(&format!("the command line's {command:?}"), move || {
        Link::connect(&socket, ClientKind::Cli)
            .expect("the command line reaches the supervisor")
            .request(command)
            .expect("the supervisor answers the command line")
    })
}

/// A command-line request that must be carried out: the supervisor is up
/// and serving.
pub fn assert_serving(socket: &Path) {
    let done = cli(socket, Command::Up { slices: Vec::new() });
    assert!(done.is_ok(), "the supervisor refused `up`: {done:?}");
}

// ---------------------------------------------------------------------------
// Dashboards

/// A dashboard over the socket. Its messages are read on a thread of its
/// own, so a test can wait for one with a deadline; each is applied to the
/// dashboard's copy of the board and panes as it is taken.
pub struct Dashboard {
    pub board: Board,
    pub panes: BTreeMap<SliceName, PaneView>,
    pub writer: Box<dyn Write + Send>,
    pub inbox: mpsc::Receiver<ServerMsg>,
    /// Messages taken (and applied) while waiting for a reply, not yet
    /// looked at by a wait.
    pub unread: VecDeque<ServerMsg>,
    pub next_id: u64,
    /// How long a wait may take.
    pub patience: Duration,
    /// What arrived, briefly, for failure messages.
    pub log: Vec<String>,
}

impl Dashboard {
    pub fn connect(socket: &Path) -> Self {
        let (reader, writer, welcome) = attach(socket);
        Self::reading(reader, writer, welcome)
    }

    /// Starts reading an attached link's messages.
    pub fn reading(
        mut reader: LinkReader,
        writer: Box<dyn Write + Send>,
        welcome: Welcome,
    ) -> Self {
        let (tx, inbox) = mpsc::channel();
        std::thread::spawn(move || {
            while let Ok(Some(message)) = reader.receive() {
                if tx.send(message).is_err() {
                    return;
                }
            }
        });
        Self {
            board: welcome
                .board
                .expect("a dashboard's welcome carries the board"),
            panes: BTreeMap::new(),
            writer,
            inbox,
            unread: VecDeque::new(),
            next_id: 1,
            patience: WAIT,
            log: Vec::new(),
        }
    }

    pub fn send(&mut self, message: &ClientMsg) {
        link::write_frame(&mut self.writer, message)
            .expect("the dashboard writes to the supervisor");
    }

    /// Shows these slices' panes (live, not scrolled back).
    pub fn view(&mut self, slices: &[&str]) {
        let panes = slices
            .iter()
            .map(|slice| PaneWant {
                slice: name(slice),
                scroll: 0,
            })
            .collect();
        self.send(&ClientMsg::View { panes });
    }

    /// Sends a command and waits for its reply.
    pub fn request(&mut self, command: Command) -> Result<String, String> {
        let id = self.next_id;
        self.next_id += 1;
        let what = format!("the reply to {command:?}");
        self.send(&ClientMsg::Request { id, command });
        // What arrives before the reply is left for the next wait.
        let deadline = Deadline::after(self.patience);
        let mut before = Vec::new();
        let result = loop {
            match self.next_message(&what, deadline) {
                ServerMsg::Reply { id: got, result } if got == id => break result,
                other => before.push(other),
            }
        };
        for message in before.into_iter().rev() {
            self.unread.push_front(message);
        }
        result
    }

    /// Takes messages until `pick` finds what it looks for in one.
    pub fn wait_for<T>(&mut self, what: &str, mut pick: impl FnMut(&ServerMsg) -> Option<T>) -> T {
        let deadline = Deadline::after(self.patience);
        loop {
            let message = self.next_message(what, deadline);
            if let Some(found) = pick(&message) {
                return found;
            }
        }
    }

    /// Waits for an update carrying an event that `pick` accepts.
    pub fn wait_event(&mut self, what: &str, pick: impl Fn(&Event) -> bool) {
        self.wait_for(what, |message| match message {
            ServerMsg::Update {
                update: BoardUpdate::Event { event, .. },
            } if pick(event) => Some(()),
            _ => None,
        });
    }

    /// Takes messages until what the dashboard holds satisfies `done`
    /// (however it got there: updates, or the whole board again).
    pub fn wait_until(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = Deadline::after(self.patience);
        while !done(self) {
            self.next_message(what, deadline);
        }
    }

    pub fn wait_pane(&mut self, slice: &str, text: &str) {
        let slice = name(slice);
        self.wait_until(&format!("{slice}'s pane shows {text:?}"), |d| {
            d.pane_text(&slice).contains(text)
        });
    }

    pub fn pane_text(&self, slice: &SliceName) -> String {
        self.panes.get(slice).map_or_else(String::new, |pane| {
            (0..pane.lines.len())
                .map(|row| pane.row_text(row))
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    pub fn row(&self, slice: &str) -> &sliceboard::domain::board::SliceRow {
        self.board
            .row(&name(slice))
            .expect("the slice is on the board")
    }

    /// The next message (applied to the board and panes as it arrived);
    /// fails the test at the deadline or when the supervisor closes the
    /// connection.
    pub fn next_message(&mut self, what: &str, deadline: Deadline) -> ServerMsg {
        if let Some(message) = self.unread.pop_front() {
            return message;
        }
        let message = match self.inbox.recv_timeout(deadline.left()) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => panic!("never: {what}; got:\n{}", self.recent()),
            Err(RecvTimeoutError::Disconnected) => panic!(
                "the supervisor closed the connection before: {what}; got:\n{}",
                self.recent()
            ),
        };
        self.log.push(summary(&message));
        match &message {
            ServerMsg::Update { update } => self.board.apply(update),
            ServerMsg::Resync { board } => self.board = board.clone(),
            ServerMsg::Pane { frame } => self
                .panes
                .entry(frame.slice.clone())
                .or_default()
                .apply(frame.clone()),
            _ => {}
        }
        message
    }

    /// The first message to come within `within` (applied as it arrived),
    /// or `None` when the link stays silent that long.
    pub fn heard_within(&mut self, within: Duration) -> Option<ServerMsg> {
        if let Some(message) = self.unread.pop_front() {
            return Some(message);
        }
        let message = self.inbox.recv_timeout(within).ok()?;
        self.unread.push_back(message);
        Some(self.next_message("a message already taken", Deadline::after(within)))
    }

    pub fn recent(&self) -> String {
        let from = self.log.len().saturating_sub(30);
        self.log[from..].join("\n")
    }
}

/// Attaches as a dashboard, within the deadline, and hands back the two
/// directions without reading anything yet.
pub fn attach(socket: &Path) -> (LinkReader, Box<dyn Write + Send>, Welcome) {
    let socket = socket.to_owned();
    within("a dashboard attaching", move || {
        Link::connect(&socket, ClientKind::Dashboard)
            .expect("a dashboard attaches")
            .split()
    })
}

/// One message as a line of a failure report.
pub fn summary(message: &ServerMsg) -> String {
    match message {
        ServerMsg::Pane { frame } => format!("pane {} ({} rows)", frame.slice, frame.changed.len()),
        ServerMsg::Welcome { .. } => "welcome".into(),
        ServerMsg::Resync { .. } => "resync".into(),
        other => {
            let text = serde_json::to_string(other).unwrap_or_default();
            text.chars().take(200).collect()
        }
    }
}

pub fn status_changed(event: &Event, slice: &str, status: AgentStatus) -> bool {
    matches!(event, Event::AgentStatusChanged { slice: s, status: got } if s.as_str() == slice && *got == status)
}

// ---------------------------------------------------------------------------
// Bare connections

/// A connection that speaks frames by hand; reads and writes give up at
/// the deadline.
pub fn raw(socket: &Path) -> UnixStream {
    let stream = UnixStream::connect(socket).expect("the socket accepts");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

/// Says hello as `kind` and expects the welcome.
pub fn hello(stream: &mut UnixStream, kind: ClientKind) {
    send_hello(stream, PROTOCOL_VERSION, kind);
    let answer: Option<ServerMsg> = link::read_frame(stream, MAX_SERVER_FRAME).unwrap();
    assert!(
        matches!(answer, Some(ServerMsg::Welcome { .. })),
        "expected a welcome, got {answer:?}"
    );
}

pub fn send_hello(stream: &mut UnixStream, protocol: u32, kind: ClientKind) {
    let hello = ClientMsg::Hello {
        protocol,
        kind,
        version: "9.9.9".into(),
        heartbeat: false,
    };
    link::write_frame(stream, &hello).unwrap();
}

/// Reads until the supervisor closes the connection; what it sent before.
pub fn read_until_closed(stream: &mut UnixStream, what: &str) -> Vec<u8> {
    let deadline = Deadline::after(WAIT);
    let mut got = Vec::new();
    let mut buf = [0; 64 * 1024];
    loop {
        stream
            .set_read_timeout(Some(deadline.left().max(Duration::from_millis(1))))
            .unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == ErrorKind::ConnectionReset => return got,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("{what}: the supervisor kept the connection open")
            }
            Err(err) => panic!("{what}: {err}"),
        }
    }
}

/// Connects to `path` from a thread whose effective user is `uid`. Linux
/// keeps credentials per thread, so the raw syscall changes this thread
/// only; its file-system user stays root, so the socket file's mode lets
/// it through and only the supervisor's peer check stands in its way.
pub fn connect_as(uid: u32, path: &Path) -> std::io::Result<UnixStream> {
    let path = path.to_owned();
    std::thread::spawn(move || {
        // SAFETY: plain syscalls on this thread's credentials; the thread
        // ends right after the connect.
        unsafe {
            if libc::syscall(libc::SYS_setresuid, uid, uid, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::syscall(libc::SYS_setfsuid, 0);
        }
        UnixStream::connect(path)
    })
    .join()
    .unwrap()
}

// ---------------------------------------------------------------------------
// The tests
