//! The supervisor as its own process (`sliceboard supervise`), over its
//! real socket, with real clients: agents' hooks (the binary), the command
//! line, dashboards that read and one that stalls, and peers that
//! misbehave (another protocol version, garbage, oversized or endless
//! frames, silence, another user). It also survives being killed.
//!
//! Every test owns its supervisor process ([`Supervise`]) and ends it when
//! it ends, passed or failed. Nothing here waits a fixed time: each wait
//! polls until a deadline, and a client that could hang (a read of the
//! supervisor's answer) runs on a thread the test stops waiting for.

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{ErrorKind, Read as _, Write};
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use common::{BIN, Run, TestRepo};
use sliceboard::domain::board::{Board, BoardUpdate};
use sliceboard::domain::pane::{PaneView, PaneWant};
use sliceboard::domain::wire::{ClientKind, ClientMsg, PROTOCOL_VERSION, ServerMsg};
use sliceboard::domain::{Activity, AgentStatus, Command, Event, Lifecycle, SliceName};
use sliceboard::link::{self, Link, LinkError, LinkReader, MAX_SERVER_FRAME, Welcome};

/// How long anything may take before a test gives up on it.
const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// The repository and its supervisor process

/// A plan over the test repository's slices `staging`, `marts` and `seeds`,
/// whose agents run the commands in `agents` (`cat` where a slice is not
/// named). `$SB` is the sliceboard binary in every agent's environment.
fn plan(agents: &[(&str, &str)]) -> String {
    let mut text = format!(
        "base = \"main\"\n\n[agent]\ncommand = \"cat\"\nenv = {{ SB = {} }}\n",
        toml_string(BIN)
    );
    for (slice, owns) in [
        ("staging", "models/staging/**"),
        ("marts", "models/marts/**"),
        ("seeds", "seeds/**"),
    ] {
        text += &format!("\n[[slice]]\nname = \"{slice}\"\nowns = [\"{owns}\"]\n");
        if let Some((_, agent)) = agents.iter().find(|(s, _)| *s == slice) {
            text += &format!("agent = {}\n", toml_string(agent));
        }
    }
    text
}

/// A TOML basic string (its escapes are JSON's).
fn toml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

fn name(slice: &str) -> SliceName {
    SliceName::parse(slice).unwrap()
}

fn start_agent(slice: &str) -> Command {
    Command::StartAgent { slice: name(slice) }
}

fn kill_agent(slice: &str) -> Command {
    Command::KillAgent { slice: name(slice) }
}

fn restart_agent(slice: &str) -> Command {
    Command::RestartAgent { slice: name(slice) }
}

/// A `sliceboard supervise` child process. Dropped, it gets SIGTERM (which
/// stops its agents, as `sliceboard stop` does, without needing its socket
/// to work) and SIGKILL if it is still there at the deadline.
struct Supervise {
    child: Child,
}

impl Supervise {
    /// Starts the repository's supervisor with `env` added to the test
    /// environment, and waits until it answers on its socket.
    fn start(repo: &TestRepo, env: &[(&str, &str)]) -> Self {
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
        let deadline = Instant::now() + WAIT;
        loop {
            match Link::connect(&socket, ClientKind::Cli) {
                Ok(_) => return sup,
                Err(LinkError::NoSupervisor) => {}
                Err(err) => panic!("the new supervisor cannot be reached: {err}"),
            }
            if let Some(status) = sup.child.try_wait().unwrap() {
                panic!(
                    "sliceboard supervise exited at start ({status}): {}",
                    std::fs::read_to_string(&out_path).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the supervisor never listened on {}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no cleanup, as a crash or the OOM killer.
    fn kill(&mut self) {
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
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A repository with its plan and worktrees, and its supervisor running.
/// The supervisor is declared first so it goes first, agents and all.
struct Fixture {
    sup: Supervise,
    repo: TestRepo,
}

impl Fixture {
    fn new(agents: &[(&str, &str)], env: &[(&str, &str)]) -> Self {
        let repo = TestRepo::with_plan_text(&plan(agents));
        repo.sliceboard(&["up"]).ok();
        let sup = Supervise::start(&repo, env);
        Self { sup, repo }
    }

    fn socket(&self) -> PathBuf {
        self.repo.socket()
    }
}

/// Kills an agent's process group when dropped: agents live in their own
/// session, so one whose supervisor was killed can outlive it.
struct KillGroup(i32);

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
fn within<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
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
fn sliceboard(repo: &TestRepo, args: &[&str]) -> Run {
    let mut command = repo.command(BIN, &repo.root);
    command.args(args);
    let what = format!("sliceboard {}", args.join(" "));
    Run::from(within(&what, move || {
        command.output().expect("sliceboard runs")
    }))
}

/// Sends one command as the command line does; the supervisor's answer.
fn cli(socket: &Path, command: Command) -> Result<String, String> {
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
fn assert_serving(socket: &Path) {
    let done = cli(socket, Command::Up { slices: Vec::new() });
    assert!(done.is_ok(), "the supervisor refused `up`: {done:?}");
}

// ---------------------------------------------------------------------------
// Dashboards

/// A dashboard over the socket. Its messages are read on a thread of its
/// own, so a test can wait for one with a deadline; each is applied to the
/// dashboard's copy of the board and panes as it is taken.
struct Dashboard {
    board: Board,
    panes: BTreeMap<SliceName, PaneView>,
    writer: Box<dyn Write + Send>,
    inbox: mpsc::Receiver<ServerMsg>,
    /// Messages taken (and applied) while waiting for a reply, not yet
    /// looked at by a wait.
    unread: VecDeque<ServerMsg>,
    next_id: u64,
    /// How long a wait may take.
    patience: Duration,
    /// What arrived, briefly, for failure messages.
    log: Vec<String>,
}

impl Dashboard {
    fn connect(socket: &Path) -> Self {
        let (reader, writer, welcome) = attach(socket);
        Self::reading(reader, writer, welcome)
    }

    /// Starts reading an attached link's messages.
    fn reading(mut reader: LinkReader, writer: Box<dyn Write + Send>, welcome: Welcome) -> Self {
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

    fn send(&mut self, message: &ClientMsg) {
        link::write_frame(&mut self.writer, message)
            .expect("the dashboard writes to the supervisor");
    }

    /// Shows these slices' panes (live, not scrolled back).
    fn view(&mut self, slices: &[&str]) {
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
    fn request(&mut self, command: Command) -> Result<String, String> {
        let id = self.next_id;
        self.next_id += 1;
        let what = format!("the reply to {command:?}");
        self.send(&ClientMsg::Request { id, command });
        // What arrives before the reply is left for the next wait.
        let deadline = Instant::now() + self.patience;
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
    fn wait_for<T>(&mut self, what: &str, mut pick: impl FnMut(&ServerMsg) -> Option<T>) -> T {
        let deadline = Instant::now() + self.patience;
        loop {
            let message = self.next_message(what, deadline);
            if let Some(found) = pick(&message) {
                return found;
            }
        }
    }

    /// Waits for an update carrying an event that `pick` accepts.
    fn wait_event(&mut self, what: &str, pick: impl Fn(&Event) -> bool) {
        self.wait_for(what, |message| match message {
            ServerMsg::Update {
                update: BoardUpdate::Event { event },
            } if pick(event) => Some(()),
            _ => None,
        });
    }

    /// Takes messages until what the dashboard holds satisfies `done`
    /// (however it got there: updates, or the whole board again).
    fn wait_until(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + self.patience;
        while !done(self) {
            self.next_message(what, deadline);
        }
    }

    fn wait_pane(&mut self, slice: &str, text: &str) {
        let slice = name(slice);
        self.wait_until(&format!("{slice}'s pane shows {text:?}"), |d| {
            d.pane_text(&slice).contains(text)
        });
    }

    fn pane_text(&self, slice: &SliceName) -> String {
        self.panes.get(slice).map_or_else(String::new, |pane| {
            (0..pane.lines.len())
                .map(|row| pane.row_text(row))
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    fn row(&self, slice: &str) -> &sliceboard::domain::board::SliceRow {
        self.board
            .row(&name(slice))
            .expect("the slice is on the board")
    }

    /// The next message (applied to the board and panes as it arrived);
    /// fails the test at the deadline or when the supervisor closes the
    /// connection.
    fn next_message(&mut self, what: &str, deadline: Instant) -> ServerMsg {
        if let Some(message) = self.unread.pop_front() {
            return message;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let message = match self.inbox.recv_timeout(left) {
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

    fn recent(&self) -> String {
        let from = self.log.len().saturating_sub(30);
        self.log[from..].join("\n")
    }
}

/// Attaches as a dashboard, within the deadline, and hands back the two
/// directions without reading anything yet.
fn attach(socket: &Path) -> (LinkReader, Box<dyn Write + Send>, Welcome) {
    let socket = socket.to_owned();
    within("a dashboard attaching", move || {
        Link::connect(&socket, ClientKind::Dashboard)
            .expect("a dashboard attaches")
            .split()
    })
}

/// One message as a line of a failure report.
fn summary(message: &ServerMsg) -> String {
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

fn status_changed(event: &Event, slice: &str, status: AgentStatus) -> bool {
    matches!(event, Event::AgentStatusChanged { slice: s, status: got } if s.as_str() == slice && *got == status)
}

// ---------------------------------------------------------------------------
// Bare connections

/// A connection that speaks frames by hand; reads and writes give up at
/// the deadline.
fn raw(socket: &Path) -> UnixStream {
    let stream = UnixStream::connect(socket).expect("the socket accepts");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

/// Says hello as `kind` and expects the welcome.
fn hello(stream: &mut UnixStream, kind: ClientKind) {
    send_hello(stream, PROTOCOL_VERSION, kind);
    let answer: Option<ServerMsg> = link::read_frame(stream, MAX_SERVER_FRAME).unwrap();
    assert!(
        matches!(answer, Some(ServerMsg::Welcome { .. })),
        "expected a welcome, got {answer:?}"
    );
}

fn send_hello(stream: &mut UnixStream, protocol: u32, kind: ClientKind) {
    let hello = ClientMsg::Hello {
        protocol,
        kind,
        version: "9.9.9".into(),
    };
    link::write_frame(stream, &hello).unwrap();
}

/// Reads until the supervisor closes the connection; what it sent before.
fn read_until_closed(stream: &mut UnixStream, what: &str) -> Vec<u8> {
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    let mut buf = [0; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
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
fn connect_as(uid: u32, path: &Path) -> std::io::Result<UnixStream> {
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

/// The process's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

// ---------------------------------------------------------------------------
// The tests

#[test]
fn an_agents_signal_hook_reaches_the_supervisor_and_every_dashboard() {
    let f = Fixture::new(
        &[(
            "staging",
            "echo started; \"$SB\" signal waiting && echo signalled; exec sleep 30",
        )],
        &[],
    );
    let mut dash = Dashboard::connect(&f.socket());
    dash.view(&["staging"]);
    dash.request(start_agent("staging"))
        .expect("the agent starts");
    dash.wait_event("staging waiting, from its hook", |e| {
        matches!(e, Event::ActivityChanged { slice, activity: Activity::Waiting } if slice.as_str() == "staging")
    });
    dash.wait_pane("staging", "signalled");
    assert_eq!(dash.row("staging").activity, Some(Activity::Waiting));
}

#[test]
fn a_client_of_another_protocol_is_refused_with_both_versions() {
    let f = Fixture::new(&[], &[]);
    let mut stream = raw(&f.socket());
    send_hello(&mut stream, 999, ClientKind::Cli);
    let answer: Option<ServerMsg> = link::read_frame(&mut stream, MAX_SERVER_FRAME).unwrap();
    let Some(ServerMsg::Refused { message }) = answer else {
        panic!("expected a refusal, got {answer:?}");
    };
    assert!(
        message.contains(&format!("protocol {PROTOCOL_VERSION}"))
            && message.contains("protocol 999"),
        "the refusal names both versions: {message}"
    );
    assert!(
        read_until_closed(&mut stream, "the refused client").is_empty(),
        "nothing follows a refusal"
    );
    assert_serving(&f.socket());
}

#[test]
fn bad_frames_close_only_their_own_connection() {
    let f = Fixture::new(&[], &[]);
    let socket = f.socket();
    let mut dash = Dashboard::connect(&socket);

    let mut garbage = 12_u32.to_be_bytes().to_vec();
    garbage.extend_from_slice(b"{not json}!!");
    let oversized = 0xFFFF_FFF0_u32.to_be_bytes().to_vec();
    for (what, kind, bytes) in [
        ("garbage from the command line", ClientKind::Cli, &garbage),
        ("garbage from a dashboard", ClientKind::Dashboard, &garbage),
        (
            "an oversized length from the command line",
            ClientKind::Cli,
            &oversized,
        ),
        (
            "an oversized length from a dashboard",
            ClientKind::Dashboard,
            &oversized,
        ),
    ] {
        let mut stream = raw(&socket);
        hello(&mut stream, kind);
        stream.write_all(bytes).unwrap();
        read_until_closed(&mut stream, what);
    }

    // Half a frame, and the sender goes quiet: everyone else is served.
    let mut partial = raw(&socket);
    hello(&mut partial, ClientKind::Cli);
    let frame = link::encode(&ClientMsg::Request {
        id: 1,
        command: Command::Up { slices: Vec::new() },
    });
    partial.write_all(&frame[..frame.len() / 2]).unwrap();
    assert_eq!(cli(&socket, start_agent("staging")), Ok(String::new()));
    dash.wait_event(
        "staging running, with half a frame pending elsewhere",
        |e| status_changed(e, "staging", AgentStatus::Running),
    );
    partial.shutdown(std::net::Shutdown::Write).unwrap();
    read_until_closed(&mut partial, "the client that sent half a frame");

    // The dashboard that behaved is still attached and still told things.
    assert_eq!(cli(&socket, kill_agent("staging")), Ok(String::new()));
    dash.wait_event("staging killed, after every bad connection", |e| {
        status_changed(e, "staging", AgentStatus::Killed)
    });
}

#[test]
fn only_this_user_may_connect() {
    let f = Fixture::new(&[], &[]);
    let socket = f.socket();
    let meta = std::fs::metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "{} is private",
        socket.display()
    );

    // The peer check reads the connecting process's user.
    let listener = UnixListener::bind(f.repo.top.join("peer.sock")).unwrap();
    let client = UnixStream::connect(f.repo.top.join("peer.sock")).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    assert_eq!(link::peer_uid(&accepted).unwrap(), link::own_uid());
    assert_eq!(link::peer_uid(&client).unwrap(), link::own_uid());

    const OTHER: u32 = 65534;
    if link::own_uid() != 0 {
        eprintln!("note: not root, so no connection from another user was tried");
        return;
    }
    let stranger = match connect_as(OTHER, &f.repo.top.join("peer.sock")) {
        Ok(stream) => stream,
        Err(err) => {
            eprintln!("note: cannot act as uid {OTHER} here ({err}); skipped that part");
            return;
        }
    };
    let (accepted, _) = listener.accept().unwrap();
    assert_eq!(
        link::peer_uid(&accepted).unwrap(),
        OTHER,
        "the stand-in works"
    );
    drop(stranger);

    let mut stranger = connect_as(OTHER, &socket).expect("the socket file lets root's fs user in");
    stranger.set_read_timeout(Some(WAIT)).unwrap();
    // It may be closed before the hello is even written.
    let _ = link::write_frame(
        &mut stranger,
        &ClientMsg::Hello {
            protocol: PROTOCOL_VERSION,
            kind: ClientKind::Dashboard,
            version: env!("CARGO_PKG_VERSION").into(),
        },
    );
    let got = read_until_closed(&mut stranger, "a connection from another user");
    assert!(
        got.is_empty(),
        "another user got {} bytes (a welcome?)",
        got.len()
    );
    assert_serving(&socket);
}

#[test]
fn a_stalled_dashboard_holds_up_nobody_and_is_sent_the_board_again() {
    // Long, distinct lines on a big pane: every frame of it is large, so
    // the stalled client's socket fills within a few frames.
    let flood = "seq -f '%0390.0f' 1 12000; \
                 for i in $(seq 20); do \"$SB\" signal busy; \"$SB\" signal idle; done; \
                 \"$SB\" signal done; exec sleep 30";
    let f = Fixture::new(&[("staging", flood)], &[("SLICEBOARD_CLIENT_QUEUE", "4")]);
    let socket = f.socket();
    let staging = name("staging");

    let mut reader = Dashboard::connect(&socket);
    reader.patience = Duration::from_secs(90);
    let (stalled_in, mut stalled_out, stalled_welcome) = attach(&socket);
    link::write_frame(
        &mut stalled_out,
        &ClientMsg::View {
            panes: vec![PaneWant {
                slice: staging.clone(),
                scroll: 0,
            }],
        },
    )
    .unwrap();

    reader
        .request(Command::ResizeAgent {
            slice: staging.clone(),
            cols: 400,
            rows: 150,
        })
        .expect("the pane's size is kept for the agent's start");
    reader
        .request(start_agent("staging"))
        .expect("the agent starts");
    // The agent gets through its flood and every signal it sends is taken,
    // while the stalled client reads nothing.
    reader.wait_until("the agent signalled done after its flood", |d| {
        d.row("staging").activity == Some(Activity::Done)
    });

    // The stalled client reads at last: the board again, then updates.
    let mut stalled = Dashboard::reading(stalled_in, stalled_out, stalled_welcome);
    stalled.patience = Duration::from_secs(90);
    stalled.wait_for("the whole board again", |m| {
        matches!(m, ServerMsg::Resync { .. }).then_some(())
    });
    sliceboard(&f.repo, &["signal", "waiting", "--slice", "staging"]).ok();
    let waiting = |d: &Dashboard| d.row("staging").activity == Some(Activity::Waiting);
    stalled.wait_until("staging waiting, after the resync", waiting);
    reader.wait_until("staging waiting", waiting);
    assert_eq!(
        stalled.row("staging").events,
        reader.row("staging").events,
        "the resynced board and the updates after it are the reader's board"
    );
}

#[test]
fn idle_connections_block_neither_hooks_nor_dashboards() {
    let f = Fixture::new(&[], &[]);
    let socket = f.socket();
    assert_eq!(cli(&socket, start_agent("staging")), Ok(String::new()));
    let idle: Vec<UnixStream> = (0..100)
        .map(|_| UnixStream::connect(&socket).expect("the socket accepts"))
        .collect();

    sliceboard(&f.repo, &["signal", "waiting", "--slice", "staging"]).ok();
    let dash = Dashboard::connect(&socket);
    assert_eq!(dash.row("staging").activity, Some(Activity::Waiting));

    // All of that happened while every idle connection was still open.
    for mut conn in idle {
        conn.set_nonblocking(true).unwrap();
        let read = conn.read(&mut [0; 16]);
        assert!(
            matches!(&read, Err(err) if err.kind() == ErrorKind::WouldBlock),
            "an idle connection was still waiting for its hello: {read:?}"
        );
    }
}

#[test]
fn a_client_streaming_without_a_frame_boundary_is_cut_off() {
    let f = Fixture::new(&[], &[]);
    let socket = f.socket();
    assert_serving(&socket);
    let before = rss_kib(f.sup.pid());

    let mut stream = raw(&socket);
    hello(&mut stream, ClientKind::Cli);
    stream.write_all(&0xFFFF_FFF0_u32.to_be_bytes()).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let mut sent: u64 = 0;
    let cut = loop {
        if sent >= 1 << 30 {
            break None;
        }
        match stream.write(&chunk) {
            Ok(n) => sent += n as u64,
            Err(err) => break Some(err),
        }
    };
    let err = cut.unwrap_or_else(|| panic!("never cut off: the supervisor took {sent} bytes"));
    assert!(
        matches!(
            err.kind(),
            ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
        ),
        "cut off, not stalled: {err} after {sent} bytes"
    );

    let after = rss_kib(f.sup.pid());
    assert!(
        after <= before + 64 * 1024,
        "the supervisor grew from {before} KiB to {after} KiB"
    );
    assert_serving(&socket);
}

#[test]
fn a_killed_supervisor_leaves_state_that_the_next_one_picks_up() {
    let mut f = Fixture::new(&[("staging", "echo marker-$((6 * 7)); exec sleep 60")], &[]);
    let socket = f.socket();
    let mut dash = Dashboard::connect(&socket);
    dash.view(&["staging"]);
    dash.request(start_agent("staging"))
        .expect("the agent starts");
    dash.wait_until("the agent's pid", |d| d.row("staging").pid.is_some());
    let _agent = KillGroup(dash.row("staging").pid.unwrap());
    dash.wait_pane("staging", "marker-42");
    drop(dash);

    f.sup.kill();

    f.repo.state_json();
    let journal =
        std::fs::read_to_string(f.repo.state_dir().join("events.jsonl")).expect("the journal");
    for line in journal.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|err| panic!("a journal line is not JSON ({err}): {line}"));
    }
    assert!(socket.exists(), "the killed supervisor left its socket");

    f.sup = Supervise::start(&f.repo, &[]);
    let mut dash = Dashboard::connect(&socket);
    assert_eq!(
        dash.row("staging").status,
        AgentStatus::Exited { code: None },
        "the run nobody saw end is shown as ended"
    );
    dash.view(&["staging"]);
    dash.wait_pane("staging", "marker-42");
    dash.request(restart_agent("staging"))
        .expect("the agent restarts");
    dash.wait_event("staging running again", |e| {
        status_changed(e, "staging", AgentStatus::Running)
    });
}

#[test]
fn two_dashboards_see_the_same_agent_and_both_type_into_it() {
    let f = Fixture::new(&[], &[]);
    let socket = f.socket();
    let mut one = Dashboard::connect(&socket);
    let mut two = Dashboard::connect(&socket);
    one.view(&["staging"]);
    two.view(&["staging"]);

    one.request(start_agent("staging"))
        .expect("the agent starts");
    for dash in [&mut one, &mut two] {
        dash.wait_event("staging running", |e| {
            status_changed(e, "staging", AgentStatus::Running)
        });
    }
    one.request(Command::SendInput {
        slice: name("staging"),
        bytes: b"typed-in-one\n".to_vec(),
    })
    .expect("input from the first dashboard");
    two.request(Command::SendInput {
        slice: name("staging"),
        bytes: b"typed-in-two\n".to_vec(),
    })
    .expect("input from the second dashboard");
    for dash in [&mut one, &mut two] {
        dash.wait_pane("staging", "typed-in-one");
        dash.wait_pane("staging", "typed-in-two");
    }

    two.request(kill_agent("staging"))
        .expect("the agent is killed");
    for dash in [&mut one, &mut two] {
        dash.wait_event("staging killed", |e| {
            status_changed(e, "staging", AgentStatus::Killed)
        });
    }
    assert_eq!(one.board, two.board, "both dashboards hold the same board");
}

#[test]
fn up_and_down_go_through_the_supervisor_a_dashboard_attaches_to() {
    let repo = TestRepo::with_plan_text(&plan(&[]));
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());

    let up = sliceboard(&repo, &["up"]);
    assert!(!up.stderr.contains("lock"), "{up:#?}");
    up.ok();
    let (mut created, mut ready) = (BTreeSet::new(), BTreeSet::new());
    dash.wait_for("every slice's worktree created, and the slice ready", |m| {
        if let ServerMsg::Update {
            update: BoardUpdate::Event { event },
        } = m
        {
            match event {
                Event::WorktreeCreated { slice, .. } => created.insert(slice.to_string()),
                Event::LifecycleChanged {
                    slice,
                    to: Lifecycle::Ready,
                    ..
                } => ready.insert(slice.to_string()),
                _ => false,
            };
        }
        (created.len() == 3 && ready.len() == 3).then_some(())
    });
    for slice in ["staging", "marts", "seeds"] {
        assert!(repo.worktree(slice).is_dir());
        assert_eq!(dash.row(slice).lifecycle, Lifecycle::Ready);
    }

    let down = sliceboard(&repo, &["down", "seeds"]);
    assert!(!down.stderr.contains("lock"), "{down:#?}");
    down.ok();
    dash.wait_event(
        "seeds' worktree, removed",
        |e| matches!(e, Event::WorktreeRemoved { slice, .. } if slice.as_str() == "seeds"),
    );
    assert!(!repo.worktree("seeds").exists());
}
