//! How a process reaches the repository's supervisor: where its socket
//! lives, who may connect, the frames on the wire, and the blocking client
//! the command line and the dashboard use (over the socket, or over
//! `ssh HOST sliceboard proxy`).
//!
//! Knows the protocol (`domain::wire`) and the transport; knows nothing of
//! what the supervisor does with a command or how a dashboard draws.

pub mod frame;

pub use crate::os::{own_uid, peer_uid};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Stdio};

use crate::domain::Command;
use crate::domain::board::Board;
use crate::domain::wire::{ClientKind, ClientMsg, PROTOCOL_VERSION, ServerMsg};
pub use frame::{FrameError, MAX_CLIENT_FRAME, MAX_SERVER_FRAME, encode, read_frame, write_frame};

/// The program ssh runs remotely, and the transport itself, both
/// replaceable (tests use a stand-in for ssh).
pub const REMOTE_SHELL_ENV: &str = "SLICEBOARD_REMOTE_SHELL";
pub const REMOTE_BIN_ENV: &str = "SLICEBOARD_REMOTE_BIN";

/// How long a client waits for the supervisor's hello.
const HELLO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long an agent's hook waits for its signal's answer.
const SIGNAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Nobody listens: no supervisor runs for this repository.
    #[error("no supervisor is running for this repository")]
    NoSupervisor,
    #[error("the supervisor refused: {0}")]
    Refused(String),
    #[error("the supervisor closed the connection")]
    Closed,
    /// The remote command ended before the supervisor answered: ssh could
    /// not log in, or `sliceboard` is not where the login looks.
    #[error("{0}")]
    Remote(String),
    #[error("talking to the supervisor: {0}")]
    Frame(#[from] FrameError),
    #[error("talking to the supervisor: {0}")]
    Io(#[from] std::io::Error),
}

/// What the supervisor said on hello.
#[derive(Debug, Clone)]
pub struct Welcome {
    pub protocol: u32,
    pub version: String,
    pub pid: u32,
    pub board: Option<Board>,
}

/// A connection to a supervisor, after hello.
pub struct Link {
    reader: Box<dyn Read + Send>,
    writer: Box<dyn Write + Send>,
    pub welcome: Welcome,
    /// The ssh process of a remote link; ended with the link.
    child: Option<ChildGuard>,
    next_id: u64,
    /// Whether it asked the supervisor for heartbeats.
    heartbeat: bool,
}

impl Link {
    /// Connects to the supervisor listening at `socket`.
    pub fn connect(socket: &Path, kind: ClientKind) -> Result<Self, LinkError> {
        Self::connect_with(socket, kind, false)
    }

    /// Connects as [`Link::connect`] does; a dashboard with `heartbeat`
    /// hears from the supervisor every [`crate::domain::wire::HEARTBEAT`]
    /// even when nothing happens (a link over ssh asks for it).
    pub fn connect_with(
        socket: &Path,
        kind: ClientKind,
        heartbeat: bool,
    ) -> Result<Self, LinkError> {
        let stream = match UnixStream::connect(socket) {
            Ok(stream) => stream,
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Err(LinkError::NoSupervisor);
            }
            Err(err) => return Err(err.into()),
        };
        // A stopped or wedged supervisor must not hang a hook or a command
        // forever: the hello is answered at once by a live one, and an
        // agent's hook waits a few seconds at most for its answer.
        stream.set_read_timeout(Some(HELLO_TIMEOUT))?;
        let reader = stream.try_clone()?;
        let writer = NoSignal(stream.try_clone()?);
        let link = Self::hello(Box::new(reader), Box::new(writer), None, kind, heartbeat)?;
        stream.set_read_timeout(match kind {
            ClientKind::Signal => Some(SIGNAL_TIMEOUT),
            // `up` on a big repository takes as long as it takes; a
            // dashboard reads on a thread of its own.
            ClientKind::Cli | ClientKind::Dashboard => None,
        })?;
        Ok(link)
    }

    /// Runs `ssh HOST sliceboard -C PATH proxy` (or the stand-in named by
    /// `SLICEBOARD_REMOTE_SHELL`) and speaks the protocol over its stdio.
    pub fn remote(target: &str, kind: ClientKind) -> Result<Self, LinkError> {
        let (host, path) = match target.split_once(':') {
            Some((host, path)) if !path.is_empty() => (host, Some(path)),
            Some((host, _)) => (host, None),
            None => (target, None),
        };
        if host.is_empty() || host.starts_with('-') {
            return Err(LinkError::Refused(format!(
                "{host:?} is not a host name; write HOST or HOST:PATH"
            )));
        }
        let shell = std::env::var(REMOTE_SHELL_ENV).unwrap_or_else(|_| "ssh".into());
        let mut words = shlex::split(&shell)
            .filter(|w| !w.is_empty())
            .ok_or_else(|| {
                LinkError::Refused(format!("{REMOTE_SHELL_ENV}={shell:?} is not a command"))
            })?;
        let program = words.remove(0);
        let bin = std::env::var(REMOTE_BIN_ENV).unwrap_or_else(|_| "sliceboard".into());
        let mut remote = vec![bin];
        if let Some(path) = path {
            remote.push("-C".into());
            remote.push(remote_path_word(path));
        }
        remote.push("proxy".into());
        let mut child = std::process::Command::new(&program)
            .args(&words)
            .arg(host)
            .arg(remote.join(" "))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|err| {
                LinkError::Refused(format!("cannot run {program} to reach {host}: {err}"))
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(LinkError::Closed);
        };
        // Over ssh a link can stall without closing: a dashboard hears
        // heartbeats, and shows the link stalled when they stop.
        let heartbeat = kind == ClientKind::Dashboard;
        match Self::hello(Box::new(stdout), Box::new(stdin), None, kind, heartbeat) {
            Ok(mut link) => {
                link.child = Some(ChildGuard(child));
                Ok(link)
            }
            // A frame that cannot be read is the far end's output (a
            // login script printing to stdout), and says so itself.
            Err(err @ (LinkError::Closed | LinkError::Io(_))) => {
                let guard = ChildGuard(child);
                Err(remote_ended(guard, &program, host, &remote[0]).unwrap_or(err))
            }
            Err(err) => Err(err),
        }
    }

    fn hello(
        mut reader: Box<dyn Read + Send>,
        mut writer: Box<dyn Write + Send>,
        child: Option<Child>,
        kind: ClientKind,
        heartbeat: bool,
    ) -> Result<Self, LinkError> {
        let wrote = write_frame(
            &mut writer,
            &ClientMsg::Hello {
                protocol: PROTOCOL_VERSION,
                kind,
                version: env!("CARGO_PKG_VERSION").into(),
                heartbeat,
            },
        );
        // A peer that refuses may close before it reads our hello: its
        // refusal, if it sent one, says more than the broken pipe.
        let answer = read_frame::<ServerMsg>(&mut reader, MAX_SERVER_FRAME);
        if let (Err(err), Err(_) | Ok(None)) = (&wrote, &answer) {
            return Err(LinkError::Io(std::io::Error::new(
                err.kind(),
                err.to_string(),
            )));
        }
        let welcome = match answer? {
            Some(ServerMsg::Welcome {
                protocol,
                version,
                pid,
                board,
            }) => Welcome {
                protocol,
                version,
                pid,
                board,
            },
            Some(ServerMsg::Refused { message }) => return Err(LinkError::Refused(message)),
            Some(_) | None => return Err(LinkError::Closed),
        };
        Ok(Self {
            reader,
            writer,
            welcome,
            child: child.map(ChildGuard),
            next_id: 1,
            heartbeat,
        })
    }

    /// Sends a command and waits for its reply: `Ok` with what was done,
    /// `Err` with why it was refused.
    pub fn request(&mut self, command: Command) -> Result<Result<String, String>, LinkError> {
        let id = self.next_id;
        self.next_id += 1;
        write_frame(&mut self.writer, &ClientMsg::Request { id, command })?;
        loop {
            match read_frame::<ServerMsg>(&mut self.reader, MAX_SERVER_FRAME)? {
                Some(ServerMsg::Reply { id: got, result }) if got == id => return Ok(result),
                Some(ServerMsg::Refused { message }) => return Err(LinkError::Refused(message)),
                Some(_) => continue,
                None => return Err(LinkError::Closed),
            }
        }
    }

    /// Whether the supervisor sends this link heartbeats (a dashboard
    /// over ssh).
    pub fn heartbeats(&self) -> bool {
        self.heartbeat
    }

    /// The two directions, for a client that reads on one thread and
    /// writes on another; the ssh process (if any) goes with the reader.
    pub fn split(self) -> (LinkReader, Box<dyn Write + Send>, Welcome) {
        (
            LinkReader {
                reader: self.reader,
                _child: self.child,
            },
            self.writer,
            self.welcome,
        )
    }
}

/// Reads the supervisor's messages.
pub struct LinkReader {
    reader: Box<dyn Read + Send>,
    _child: Option<ChildGuard>,
}

impl LinkReader {
    /// The next message; `None` when the supervisor closed the connection.
    pub fn receive(&mut self) -> Result<Option<ServerMsg>, LinkError> {
        Ok(read_frame(&mut self.reader, MAX_SERVER_FRAME)?)
    }
}

/// Writes to a Unix socket with `MSG_NOSIGNAL`: a supervisor that went
/// away is a `BrokenPipe` error, never a SIGPIPE, even in a command that
/// restored SIGPIPE's default to end quietly on a closed stdout.
struct NoSignal(UnixStream);

impl Write for NoSignal {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        crate::os::send_no_signal(&self.0, buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `PATH` as a word of the remote shell's command line: quoted, except a
/// leading `~/` (or a lone `~`), which the remote shell expands to the
/// login's home, as `scp` and `rsync` read `HOST:~/src`.
fn remote_path_word(path: &str) -> String {
    let quote = |p: &str| shlex::try_quote(p).map_or_else(|_| p.to_owned(), |q| q.into_owned());
    match path.strip_prefix("~/") {
        _ if path == "~" => "~".into(),
        Some("") => "~/".into(),
        Some(rest) => format!("~/{}", quote(rest)),
        None => quote(path),
    }
}

/// Why a remote link closed before the hello, from how its ssh ended:
/// `None` while it still runs (the far end closed the link itself).
fn remote_ended(mut guard: ChildGuard, program: &str, host: &str, bin: &str) -> Option<LinkError> {
    // Its stdout is closed, so it is ending: give it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let status = loop {
        match guard.0.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            _ => return None,
        }
    };
    let why = match status.code() {
        Some(127) => format!(
            "`{bin}` was not found on {host}: install sliceboard there, on the PATH a \
             non-interactive login gets (`ssh {host} 'echo $PATH'`), or set {REMOTE_BIN_ENV} \
             to its path"
        ),
        Some(126) => format!("`{bin}` on {host} cannot be run (not executable)"),
        Some(255) if program.ends_with("ssh") => format!(
            "{program} could not reach {host}, or lost it (exit status 255); its own message is above"
        ),
        Some(0) => format!("`{bin} proxy` on {host} ended without an answer"),
        Some(code) => format!(
            "`{bin} proxy` on {host} ended with exit status {code} before the supervisor \
             answered; its message is above"
        ),
        None => format!("{program} to {host} was killed by a signal"),
    };
    Some(LinkError::Remote(why))
}

struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_path_is_quoted_but_its_home_is_left_to_the_remote_shell() {
        assert_eq!(remote_path_word("/srv/my shop"), "'/srv/my shop'");
        assert_eq!(remote_path_word("~/src/shop"), "~/src/shop");
        assert_eq!(remote_path_word("~/my shop"), "~/'my shop'");
        assert_eq!(remote_path_word("~"), "~");
        assert_eq!(remote_path_word("~other/x"), "'~other/x'");
    }

    #[test]
    fn the_peer_of_a_socket_pair_is_this_user() {
        let (a, _b) = UnixStream::pair().unwrap();
        assert_eq!(peer_uid(&a).unwrap(), own_uid());
    }
}
