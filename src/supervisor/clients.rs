//! The socket server, on tokio: one task per client.
//!
//! A connection must come from this user (`SO_PEERCRED`), open with a
//! hello of our protocol version within a few seconds, and send frames
//! under the size limit; anything else closes that connection, with the
//! reason in the log, and touches nothing else. Requests go to the
//! supervisor thread through its handle and are answered by id. A
//! dashboard also gets the board, its updates and the frames of the panes
//! it shows, at most one frame per pane per [`FRAME`] (per `FLOOD_FRAME`
//! while the pane floods), a heartbeat every
//! [`HEARTBEAT`] when it asked for them (a dashboard over ssh), and a
//! goodbye (saying who stopped the supervisor) as the
//! supervisor ends.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::hub::{Attached, Hub};
use super::plan_reload::PlanReload;
use crate::agents::{AgentsHandle, Screens};
use crate::domain::pane::{PaneFrame, PaneLine, PaneWant};
use crate::domain::wire::{
    ClientKind, ClientMsg, HEARTBEAT, PROTOCOL_VERSION, ServerMsg, version_mismatch,
};
use crate::domain::{Command, SliceName};
use crate::link::frame::read_frame_async;
use crate::link::{MAX_CLIENT_FRAME, encode, peer_uid};

/// The shortest time between two frames of one pane to one client.
pub const FRAME: Duration = Duration::from_millis(16);
/// The same while a pane shown floods (`Screen::flooding`): 30 frames a
/// second of text scrolling past too fast to read, and the time the other
/// 30 took (the screen's lock, the dashboard's drawing, the host
/// terminal's) left to the reader.
const FLOOD_FRAME: Duration = FRAME.saturating_mul(2);
/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a comment waits for its slice's first diff.
pub(super) const DIFF_WAIT: Duration = Duration::from_secs(10);
/// How long an agent's hook waits for its signal to be taken.
const SIGNAL_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one write to a dashboard may block before the dashboard is
/// dropped: a client that stopped reading costs a task and a socket, never
/// the supervisor's memory or time.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Writes a frame, giving up after [`WRITE_TIMEOUT`].
async fn write(writer: &mut OwnedWriteHalf, frame: &[u8]) -> std::io::Result<()> {
    match tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(frame)).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the client read nothing for {WRITE_TIMEOUT:?}"),
        )),
    }
}

/// What every client task needs.
pub struct Context {
    pub hub: Arc<Hub>,
    pub agents: AgentsHandle,
    pub queue: crate::merge_queue::QueueHandle,
    pub screens: Screens,
    /// The supervisor's own user: the only one let in.
    pub uid: u32,
    /// Holds the plan in force (the file's may not load).
    pub reload: Arc<Mutex<PlanReload>>,
    /// The slices' worktrees kept open for `status` (their indexes read
    /// again only when they change).
    pub worktrees: Arc<crate::git::OpenWorktrees>,
    /// The live diffs, flushed before `status` reads them.
    pub diffs: crate::watch::LiveDiffsHandle,
}

impl Context {
    /// The plan everything runs with now.
    fn plan(&self) -> crate::domain::Plan {
        self.reload
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .in_force()
            .clone()
    }

    /// Sends a command to whoever carries it out: the merge queue or the
    /// supervisor.
    fn route(&self, command: Command) -> tokio::sync::oneshot::Receiver<crate::agents::Outcome> {
        if command.served_by() == crate::domain::command::Service::MergeQueue {
            self.queue.request(command)
        } else {
            self.agents.request(command)
        }
    }

    /// Carries out a command and says what was done: the ones the board
    /// answers here, from the hub; the rest by the service they belong to.
    async fn carry_out(&self, command: Command) -> Result<String, String> {
        match command {
            Command::PlanInForce => serde_json::to_string(&self.plan())
                .map_err(|err| format!("cannot send the plan: {err}")),
            Command::AgentsReport => serde_json::to_string(&self.hub.agents())
                .map_err(|err| format!("cannot report the agents: {err}")),
            Command::StatusReport => self.status_report().await,
            Command::MuteCalls { slice, muted } => {
                self.hub.mute(&slice, muted);
                Ok(format!(
                    "calls from {slice} {}",
                    if muted { "muted" } else { "on again" }
                ))
            }
            Command::Comment { slice, at, text } => {
                self.diff_read(&slice).await;
                self.hub.comment(&slice, &at, &text)
            }
            Command::ReviewReport { slice } => {
                // Placed on the diff as it is now, not as it was saved.
                self.diff_read(&slice).await;
                self.hub
                    .review(&slice)
                    .and_then(|r| serde_json::to_string(&r).map_err(|e| e.to_string()))
            }
            Command::DiffSince { slice } => self.diff_since(&slice).await,
            Command::CopyText { slice, range } => {
                let handle = screen(self, &slice)
                    .ok_or_else(|| format!("{slice} has no terminal to copy from"))?;
                tokio::task::spawn_blocking(move || handle.with_screen(|s| s.copy(&range)))
                    .await
                    .map_err(|err| format!("the copy failed: {err}"))
            }
            Command::EditComment { slice, id, text } => self.hub.edit_comment(&slice, id, &text),
            Command::DeleteComment { slice, id } => self.hub.delete_comment(&slice, id),
            Command::SendReview { slice } => {
                let review = self.hub.review_to_send(&slice)?;
                let prompt = Command::Prompt {
                    slice: slice.clone(),
                    text: review.text,
                    by_itself: false,
                };
                self.routed(prompt).await?;
                self.hub.review_sent(&slice, &review.ids)
            }
            other => self.routed(other).await,
        }
    }

    /// `status --json` from the board: each slice's live diff, dbt run,
    /// agent and place in the queue as the supervisor holds them, with
    /// what git says now (branch tips, uncommitted files among the paths
    /// that can differ), read off the runtime's workers.
    async fn status_report(&self) -> Result<String, String> {
        let plan = self.plan();
        let open = self.worktrees.clone();
        let diffs = self.diffs.clone();
        let hub = self.hub.clone();
        tokio::task::spawn_blocking(move || {
            // What changed a moment ago is in the diffs, not only what
            // changed before the quiet time passed.
            diffs.flush(DIFF_WAIT);
            let board = hub.board();
            open.retain(&board.slices.iter().map(|r| r.worktree.clone()).collect());
            let ws =
                crate::workspace::Workspace::with_plan(std::path::Path::new(&board.repo), plan)
                    .map_err(|err| err.to_string())?;
            let live: std::collections::BTreeMap<SliceName, crate::workspace::Live> = board
                .slices
                .iter()
                .map(|row| {
                    (
                        row.name.clone(),
                        crate::workspace::Live {
                            diff: row.diff.clone(),
                            diff_error: row.diff_error.clone(),
                            dbt: row.dbt.clone(),
                        },
                    )
                })
                .collect();
            let mut report =
                crate::workspace::status_live(&ws, &live, &open).map_err(|err| err.to_string())?;
            for slice in &mut report.slices {
                let row = board.slices.iter().find(|row| row.name == slice.name);
                slice.agent = row.map(crate::domain::board::SliceRow::agent_report);
                slice.usage = row.and_then(|row| row.usage.clone());
                if let Some(view) = board.queue.slices.get(&slice.name) {
                    slice.merge = slice.merge.take().map(|merge| merge.with_queue(view));
                }
            }
            report.total_usage();
            serde_json::to_string(&report).map_err(|err| format!("cannot send the status: {err}"))
        })
        .await
        .map_err(|err| format!("the status failed: {err}"))?
    }

    /// A command carried out by its service, and its answer.
    async fn routed(&self, command: Command) -> Result<String, String> {
        self.route(command)
            .await
            .unwrap_or_else(|_| Err("the supervisor is shutting down".into()))
    }

    /// What changed in a slice's worktree since the operator's last look,
    /// read from git off the runtime's workers.
    async fn diff_since(&self, slice: &SliceName) -> Result<String, String> {
        let (looked, worktree) = self.hub.last_look(slice)?;
        let plan = self.plan();
        let commit = looked.commit.clone();
        let diff = tokio::task::spawn_blocking(move || {
            let branches = crate::git::Branches {
                base: &plan.base,
                integration: &plan.integration,
            };
            crate::git::DiffSource::open(&worktree, branches, None, true)?.since(&commit)
        })
        .await
        .map_err(|err| format!("the diff since the last look failed: {err}"))?
        .map_err(|err| err.to_string())?;
        serde_json::to_string(&crate::domain::comments::SinceLook { looked, diff })
            .map_err(|err| err.to_string())
    }

    /// Waits a little for a slice's first diff (a supervisor started for
    /// one command has not read it yet); a comment is written against it.
    async fn diff_read(&self, slice: &SliceName) {
        let deadline = Instant::now() + DIFF_WAIT;
        while self.hub.has_diff(slice) == Some(false) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Accepts clients until `stop` turns true.
pub async fn serve(
    listener: tokio::net::UnixListener,
    context: Arc<Context>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(client(stream, context.clone()));
                }
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => return,
        }
    }
}

async fn client(stream: UnixStream, context: Arc<Context>) {
    match peer_uid(&stream) {
        Ok(uid) if uid == context.uid => {}
        Ok(uid) => {
            tracing::warn!(uid, "refused a connection from another user");
            return;
        }
        Err(err) => {
            tracing::warn!(%err, "cannot tell who connected; closed");
            return;
        }
    }
    let (mut reader, mut writer) = stream.into_split();
    let body = match tokio::time::timeout(
        HELLO_TIMEOUT,
        read_frame_async(&mut reader, MAX_CLIENT_FRAME),
    )
    .await
    {
        Ok(Ok(Some(body))) => body,
        Ok(Ok(None)) => return,
        Ok(Err(err)) => {
            tracing::warn!(%err, "a client's hello was not a frame; closed");
            return;
        }
        Err(_) => {
            tracing::info!("a client said nothing for {HELLO_TIMEOUT:?}; closed");
            return;
        }
    };
    let kind = match hello(&body) {
        Ok(kind) => kind,
        Err(Refusal::Version(message)) => {
            tracing::warn!(%message, "refused a client of another protocol");
            let _ = write(&mut writer, &encode(&ServerMsg::Refused { message })).await;
            return;
        }
        Err(Refusal::NotHello(why)) => {
            tracing::warn!(%why, "a client did not open with hello; closed");
            return;
        }
    };
    let (kind, heartbeat) = kind;
    match kind {
        ClientKind::Dashboard => dashboard(reader, writer, &context, heartbeat).await,
        ClientKind::Cli | ClientKind::Signal => requests(reader, writer, &context, kind).await,
    }
}

enum Refusal {
    /// Another protocol version: the message for the client.
    Version(String),
    NotHello(String),
}

/// A hello's client kind. The protocol number is read before anything
/// else, so a client of another version is told so even when the rest of
/// its hello has another shape.
fn hello(body: &[u8]) -> Result<(ClientKind, bool), Refusal> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| Refusal::NotHello(e.to_string()))?;
    if value["msg"] != "hello" {
        return Err(Refusal::NotHello(format!(
            "it opened with {}",
            value["msg"]
        )));
    }
    let protocol = value["protocol"].as_u64().unwrap_or(0);
    if protocol != u64::from(PROTOCOL_VERSION) {
        let version = value["version"].as_str().unwrap_or("unknown");
        return Err(Refusal::Version(version_mismatch(
            std::process::id(),
            PROTOCOL_VERSION,
            protocol,
            version,
        )));
    }
    match serde_json::from_value(value) {
        Ok(ClientMsg::Hello {
            kind, heartbeat, ..
        }) => Ok((kind, heartbeat)),
        Ok(_) => Err(Refusal::NotHello("not a hello".into())),
        Err(err) => Err(Refusal::NotHello(err.to_string())),
    }
}

/// Reads and parses one message; `None` (with the reason logged) when the
/// connection ended or sent something that is not a message.
async fn next(reader: &mut OwnedReadHalf) -> Option<ClientMsg> {
    match read_frame_async(reader, MAX_CLIENT_FRAME).await {
        Ok(Some(body)) => match serde_json::from_slice(&body) {
            Ok(message) => Some(message),
            Err(err) => {
                tracing::warn!(%err, "a client sent a frame that is not a message; closed");
                None
            }
        },
        Ok(None) => None,
        Err(err) => {
            tracing::warn!(%err, "client connection closed");
            None
        }
    }
}

fn welcome(board: Option<crate::domain::board::Board>) -> Vec<u8> {
    encode(&ServerMsg::Welcome {
        protocol: PROTOCOL_VERSION,
        version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
        board,
    })
}

/// A command-line client or an agent's hook: requests, answered in order.
async fn requests(
    mut reader: OwnedReadHalf,
    mut writer: OwnedWriteHalf,
    context: &Context,
    kind: ClientKind,
) {
    let _open = CommandOpen::new(&context.hub);
    if writer.write_all(&welcome(None)).await.is_err() {
        return;
    }
    while let Some(message) = next(&mut reader).await {
        let ClientMsg::Request { id, command } = message else {
            tracing::warn!("a command-line client sent something other than a request; closed");
            return;
        };
        let result = match (kind, &command) {
            (ClientKind::Signal, Command::Signal { .. } | Command::ReportUsage { .. }) => {
                let outcome = context.agents.request(command);
                match tokio::time::timeout(SIGNAL_TIMEOUT, outcome).await {
                    Ok(Ok(result)) => result,
                    Ok(Err(_)) => Err("the supervisor is shutting down".into()),
                    // The signal still lands when the supervisor gets to it.
                    Err(_) => Ok("queued: the supervisor is busy".into()),
                }
            }
            (ClientKind::Signal, _) => {
                Err("an agent's hook may only send signals and usage".into())
            }
            (_, Command::Shutdown) => {
                context.hub.stop_requested("by `sliceboard stop`");
                context.carry_out(command).await
            }
            _ => context.carry_out(command).await,
        };
        let reply = encode(&ServerMsg::Reply { id, result });
        if writer.write_all(&reply).await.is_err() {
            return;
        }
    }
}

/// Counts a command-line connection as open for as long as its task
/// runs, however it ends.
struct CommandOpen<'a>(&'a Hub);

impl<'a> CommandOpen<'a> {
    fn new(hub: &'a Hub) -> Self {
        hub.command_opened();
        Self(hub)
    }
}

impl Drop for CommandOpen<'_> {
    fn drop(&mut self) {
        self.0.command_closed();
    }
}

/// What a client was last sent of one pane.
#[derive(Default)]
struct Sent {
    frame: Option<PaneFrame>,
    lines: Vec<PaneLine>,
    /// When its next frame may go: [`FRAME`], or [`FLOOD_FRAME`] while it
    /// floods, after the last.
    next: Option<Instant>,
}

/// Detaches a client from the hub however its task ends (a panic too),
/// so a dead client never keeps the supervisor from its idle exit.
struct Detach<'a> {
    context: &'a Context,
    id: u64,
}

impl Drop for Detach<'_> {
    fn drop(&mut self) {
        self.context.hub.detach(self.id);
        // The agents it showed go back to the sizes other views show them at.
        let back = self.context.hub.view_sizes().show_only(self.id, &[]);
        resize(self.context, back);
    }
}

/// Resizes agents; nobody waits for the answers.
fn resize(context: &Context, sizes: Vec<(SliceName, crate::session::Size)>) {
    for (slice, size) in sizes {
        context.agents.send(Command::ResizeAgent {
            slice,
            cols: size.cols,
            rows: size.rows,
        });
    }
}

async fn dashboard(
    reader: OwnedReadHalf,
    mut writer: OwnedWriteHalf,
    context: &Arc<Context>,
    heartbeat: bool,
) {
    let mut attached = context.hub.attach();
    let _detach = Detach {
        context,
        id: attached.id,
    };
    let board = std::mem::take(&mut attached.board);
    if write(&mut writer, &welcome(Some(board))).await.is_ok() {
        let (inbox_tx, inbox) = mpsc::channel(64);
        let read = tokio::spawn(read_loop(reader, inbox_tx));
        if let Err(err) = attached_loop(&mut writer, context, &mut attached, inbox, heartbeat).await
        {
            tracing::info!(client = attached.id, %err, "dashboard dropped");
        }
        read.abort();
    }
}

async fn read_loop(mut reader: OwnedReadHalf, inbox: mpsc::Sender<ClientMsg>) {
    while let Some(message) = next(&mut reader).await {
        if inbox.send(message).await.is_err() {
            return;
        }
    }
}

/// Serves one dashboard until it goes or a write fails.
async fn attached_loop(
    writer: &mut OwnedWriteHalf,
    context: &Arc<Context>,
    attached: &mut Attached,
    mut inbox: mpsc::Receiver<ClientMsg>,
    heartbeats: bool,
) -> std::io::Result<()> {
    let (replies_tx, mut replies) = mpsc::unbounded_channel::<Vec<u8>>();
    let (board_commands, mut board_inbox) = mpsc::unbounded_channel::<(u64, Command)>();
    // Ends once the dashboard has gone and what it asked is done: a comment
    // written just before `q` is kept, a review sent is recorded as sent.
    {
        let context = context.clone();
        let replies = replies_tx.clone();
        tokio::spawn(async move {
            while let Some((id, command)) = board_inbox.recv().await {
                let result = context.carry_out(command).await;
                let _ = replies.send(encode(&ServerMsg::Reply { id, result }));
            }
        });
    }
    let mut shown = Shown {
        context,
        replies: replies_tx,
        board_commands,
        wants: Vec::new(),
        sent: HashMap::new(),
        last_frame: Instant::now() - FRAME,
    };
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if attached.behind.load(Ordering::SeqCst) {
            let board = context.hub.resync(attached);
            tracing::info!(
                client = attached.id,
                "client fell behind; sent the board again"
            );
            write(writer, &encode(&ServerMsg::Resync { board })).await?;
        }
        tokio::select! {
            message = inbox.recv() => {
                let Some(message) = message else { return Ok(()) };
                if shown.receive(message, attached, writer).await? == Flow::Close {
                    return Ok(());
                }
            }
            update = attached.updates.recv() => {
                let Some(update) = update else { return Ok(()) };
                attached.took(&update);
                if !attached.behind.load(Ordering::SeqCst) {
                    write(writer, &update).await?;
                }
            }
            Some(reply) = replies.recv() => write(writer, &reply).await?,
            reason = context.hub.farewell() => {
                write(writer, &encode(&ServerMsg::Goodbye { reason })).await?;
                return Ok(());
            }
            _ = heartbeat.tick(), if heartbeats => write(writer, &encode(&ServerMsg::Heartbeat)).await?,
            () = attached.panes.wake.notified() => shown.frames(attached, writer).await?,
        }
    }
}

/// Whether a dashboard's connection goes on after a message.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// One dashboard's side of the panes: what it shows, what it was sent,
/// and where replies to its requests go.
struct Shown<'a> {
    context: &'a Arc<Context>,
    /// Replies to requests, sent as they come (in any order).
    replies: mpsc::UnboundedSender<Vec<u8>>,
    /// The board's own commands (comments, mutes), carried out one after
    /// another in the order they came, on a task of their own.
    board_commands: mpsc::UnboundedSender<(u64, Command)>,
    wants: Vec<PaneWant>,
    sent: HashMap<SliceName, Sent>,
    last_frame: Instant,
}

impl Shown<'_> {
    /// Acts on one message from the dashboard.
    async fn receive(
        &mut self,
        message: ClientMsg,
        attached: &mut Attached,
        writer: &mut OwnedWriteHalf,
    ) -> std::io::Result<Flow> {
        match message {
            ClientMsg::View { panes } => self.view(panes, attached),
            ClientMsg::Request { id, command } => self.request(id, command, attached),
            ClientMsg::Search { id, slice, query } => {
                // A scrollback search holds the screen a while: off the
                // runtime's workers.
                let handle = screen(self.context, &slice);
                let hits = tokio::task::spawn_blocking(move || {
                    handle
                        .map(|s| s.with_screen(|s| s.search(&query)))
                        .unwrap_or_default()
                })
                .await
                .unwrap_or_default();
                write(writer, &encode(&ServerMsg::Found { id, slice, hits })).await?;
            }
            ClientMsg::Hello { .. } => {
                tracing::warn!("a dashboard said hello twice; closed");
                return Ok(Flow::Close);
            }
        }
        Ok(Flow::Continue)
    }

    /// The panes the dashboard shows now; the agents it no longer shows go
    /// back to the sizes other views show them at.
    fn view(&mut self, panes: Vec<PaneWant>, attached: &mut Attached) {
        self.sent
            .retain(|slice, _| panes.iter().any(|w| &w.slice == slice));
        for want in &panes {
            attached.panes.mark(&want.slice);
        }
        let shown: Vec<SliceName> = panes.iter().map(|w| w.slice.clone()).collect();
        let back = self.context.hub.view_sizes().show_only(attached.id, &shown);
        resize(self.context, back);
        self.wants = panes;
    }

    /// Routes a request; its reply comes back through `replies`.
    fn request(&mut self, id: u64, command: Command, attached: &Attached) {
        if command == Command::Shutdown {
            self.context.hub.stop_requested("from a dashboard (`Q`)");
        }
        let command = match command {
            Command::ResizeAgent { slice, cols, rows } => {
                match self.resize_to(attached, slice, crate::session::Size { cols, rows }) {
                    Ok(command) => command,
                    Err(why) => {
                        let reply = ServerMsg::Reply {
                            id,
                            result: Ok(why),
                        };
                        let _ = self.replies.send(encode(&reply));
                        return;
                    }
                }
            }
            command => command,
        };
        if command.served_by() == crate::domain::command::Service::Board {
            let _ = self.board_commands.send((id, command));
            return;
        }
        // Handed over here, in the order they came (keys typed into an
        // agent must not overtake each other); only the answer is awaited
        // apart.
        let outcome = self.context.route(command);
        let replies = self.replies.clone();
        tokio::spawn(async move {
            let result = outcome
                .await
                .unwrap_or_else(|_| Err("the supervisor is shutting down".into()));
            let _ = replies.send(encode(&ServerMsg::Reply { id, result }));
        });
    }

    /// The resize the views allow, or why the agent keeps its size.
    fn resize_to(
        &self,
        attached: &Attached,
        slice: SliceName,
        size: crate::session::Size,
    ) -> Result<Command, String> {
        let shown = self.wants.iter().any(|w| w.slice == slice);
        let given = self
            .context
            .hub
            .view_sizes()
            .resize(attached.id, &slice, size, shown);
        match given {
            Some(size) => Ok(Command::ResizeAgent {
                slice,
                cols: size.cols,
                rows: size.rows,
            }),
            None => Err(format!(
                "{slice} keeps the size of a dashboard that shows it"
            )),
        }
    }

    /// Sends the shown panes that changed, at most once per [`FRAME`];
    /// a pane that floods, once per [`FLOOD_FRAME`] (it stays marked until
    /// its time comes).
    async fn frames(
        &mut self,
        attached: &mut Attached,
        writer: &mut OwnedWriteHalf,
    ) -> std::io::Result<()> {
        tokio::time::sleep_until(self.last_frame + FRAME).await;
        let dirty = attached.panes.take();
        let now = Instant::now();
        for want in self.wants.iter().filter(|w| dirty.contains(&w.slice)) {
            let seen = self.sent.entry(want.slice.clone()).or_default();
            if seen.next.is_some_and(|next| next > now) {
                attached.panes.mark(&want.slice);
                continue;
            }
            let (frame, floods) = render(self.context, want, seen);
            seen.next = Some(now + if floods { FLOOD_FRAME } else { FRAME });
            if let Some(frame) = frame {
                write(writer, &encode(&ServerMsg::Pane { frame })).await?;
            }
        }
        self.last_frame = Instant::now();
        Ok(())
    }
}

fn screen(context: &Context, slice: &SliceName) -> Option<crate::session::ScreenHandle> {
    context
        .screens
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(slice)
        .cloned()
}

/// The pane as the client should see it now, carrying only the rows that
/// changed since `seen` (`None` when nothing did), and whether it floods.
fn render(context: &Context, want: &PaneWant, seen: &mut Sent) -> (Option<PaneFrame>, bool) {
    let Some(handle) = screen(context, &want.slice) else {
        return (None, false);
    };
    let ((mut frame, lines), flooding) =
        handle.with_screen(|s| (s.frame(&want.slice, want.scroll), s.flooding()));
    let full = seen.frame.as_ref().is_none_or(|last| {
        last.rows != frame.rows || last.cols != frame.cols || seen.lines.len() != lines.len()
    });
    frame.full = full;
    frame.changed = lines
        .iter()
        .enumerate()
        .filter(|(row, line)| full || seen.lines.get(*row) != Some(line))
        .map(|(row, line)| (row as u16, line.clone()))
        .collect();
    let unchanged = !full
        && frame.changed.is_empty()
        && seen.frame.as_ref().is_some_and(|last| {
            last.cursor == frame.cursor
                && last.scroll == frame.scroll
                && last.history == frame.history
                && last.modes == frame.modes
        });
    seen.lines = lines;
    if unchanged {
        return (None, flooding);
    }
    seen.frame = Some(PaneFrame {
        changed: Vec::new(),
        ..frame.clone()
    });
    (Some(frame), flooding)
}
