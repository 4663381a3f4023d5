//! The socket `sliceboard signal` talks to: `<state dir>/supervisor.sock`,
//! one JSON [`Command`] per line in, one line (`ok` or `error: …`) out.
//!
//! Only `signal` commands are taken from the socket for now: anything that
//! can write the repository's `.git` folder could connect, and a report of
//! activity is all an agent's hook needs to send.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use crate::domain::Command;

/// How long a client waits for the supervisor's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(3);
/// Clients served at once; past this a new client is told to retry.
const MAX_CLIENTS: usize = 32;

/// A command from the socket, and where its answer goes.
pub struct Request {
    pub command: Command,
    pub reply: mpsc::Sender<Result<(), String>>,
}

/// The listening socket; removed when dropped.
pub struct SignalSocket {
    path: PathBuf,
    stop: Arc<AtomicBool>,
}

impl SignalSocket {
    /// Binds `path` (replacing a stale socket left by a dead supervisor:
    /// the caller holds the state lock, so no live one owns it) and serves
    /// it, each client on a thread of its own (so a client that connects
    /// and says nothing delays nobody), handing each command to `deliver`.
    pub fn bind(
        path: &Path,
        deliver: impl Fn(Request) + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let deliver = Arc::new(deliver);
        let clients = Arc::new(AtomicUsize::new(0));
        std::thread::Builder::new()
            .name("signal-socket".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if thread_stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let mut stream = match stream {
                        Ok(stream) => stream,
                        Err(err) => {
                            tracing::warn!(%err, "signal socket accept failed");
                            continue;
                        }
                    };
                    if clients.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
                        clients.fetch_sub(1, Ordering::SeqCst);
                        let _ = stream.write_all(b"error: too many clients; try again\n");
                        continue;
                    }
                    let (deliver, clients) = (deliver.clone(), clients.clone());
                    let spawned = std::thread::Builder::new()
                        .name("signal-client".into())
                        .spawn(move || {
                            serve(stream, &*deliver);
                            clients.fetch_sub(1, Ordering::SeqCst);
                        });
                    if let Err(err) = spawned {
                        tracing::warn!(%err, "cannot serve a signal client");
                    }
                }
            })?;
        Ok(Self {
            path: path.to_owned(),
            stop,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SignalSocket {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and ends.
        let _ = UnixStream::connect(&self.path);
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(stream: UnixStream, deliver: &dyn Fn(Request)) {
    let _ = stream.set_read_timeout(Some(REPLY_TIMEOUT));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
        let answer = match serde_json::from_str::<Command>(line.trim()) {
            Ok(command @ Command::Signal { .. }) => {
                let (reply, answer) = mpsc::channel();
                deliver(Request { command, reply });
                answer
                    .recv_timeout(REPLY_TIMEOUT)
                    .unwrap_or_else(|_| Err("the supervisor did not answer".into()))
            }
            Ok(other) => Err(format!(
                "only signal commands are taken on this socket, not {}",
                serde_json::to_string(&other).unwrap_or_default()
            )),
            Err(err) => Err(format!("not a command: {err}")),
        };
        let reply = match answer {
            Ok(()) => "ok\n".to_owned(),
            Err(message) => format!("error: {message}\n"),
        };
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
        line.clear();
    }
}

/// What became of a command sent by [`send`].
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// No supervisor is listening (none runs for this repository).
    NoSupervisor,
    Refused(String),
}

/// Sends one command to the supervisor at `path` and waits for its answer.
pub fn send(path: &Path, command: &Command) -> std::io::Result<Delivery> {
    let mut stream = match UnixStream::connect(path) {
        Ok(stream) => stream,
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(Delivery::NoSupervisor);
        }
        Err(err) => return Err(err),
    };
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let mut line = serde_json::to_string(command).map_err(std::io::Error::other)?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    let answer = answer.trim();
    Ok(match answer.strip_prefix("error: ") {
        None if answer == "ok" => Delivery::Delivered,
        None => Delivery::Refused(format!("unexpected answer {answer:?}")),
        Some(message) => Delivery::Refused(message.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Activity, SliceName};

    #[test]
    fn a_silent_client_does_not_hold_up_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("supervisor.sock");
        let socket = SignalSocket::bind(&path, |request: Request| {
            let _ = request.reply.send(Ok(()));
        })
        .unwrap();
        // Connects and says nothing, for longer than a client waits.
        let _silent = UnixStream::connect(socket.path()).unwrap();
        let command = Command::Signal {
            slice: SliceName::parse("staging").unwrap(),
            activity: Activity::Waiting,
        };
        assert_eq!(send(socket.path(), &command).unwrap(), Delivery::Delivered);
        let refused = send(
            socket.path(),
            &Command::Approve {
                slice: SliceName::parse("staging").unwrap(),
            },
        )
        .unwrap();
        assert!(matches!(refused, Delivery::Refused(m) if m.contains("only signal commands")));
    }
}
