//! Starting the supervisor in the background: `sliceboard supervise` in a
//! session of its own (so the terminal's hangup never reaches it), stdin
//! closed, what it prints appended to `supervisor.out` in the state dir.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::domain::wire::ClientKind;
use crate::link::{Link, LinkError};
use crate::store::StateLock;
use crate::workspace::Workspace;

/// How long a new supervisor may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a supervisor started for one command stays once nothing
/// needs it any more: no agent running, no dashboard, no command connected.
pub const ONE_COMMAND_IDLE: Duration = Duration::from_secs(2);

/// Makes sure a supervisor runs for the workspace: connects to the one
/// that runs, or starts one and waits until it listens. Says whether it
/// started one.
pub fn ensure_running(ws: &Workspace) -> anyhow::Result<bool> {
    ensure(ws, None).map(|(started, _)| started)
}

/// A connection to the workspace's supervisor for one command. One that
/// is started here for it ends by itself [`ONE_COMMAND_IDLE`] after the
/// command is done, unless an agent or a dashboard keeps it (so nothing
/// stays behind a command, and no agent someone started meanwhile ends).
pub fn connect_for_command(ws: &Workspace) -> anyhow::Result<Link> {
    ensure(ws, Some(ONE_COMMAND_IDLE)).map(|(_, link)| link)
}

/// [`ensure_running`], starting one with `idle_exit` if given; the
/// connection that found it listening.
fn ensure(ws: &Workspace, idle_exit: Option<Duration>) -> anyhow::Result<(bool, Link)> {
    let socket = ws.state_dir.socket_file();
    match Link::connect(&socket, ClientKind::Cli) {
        Ok(link) => return Ok((false, link)),
        Err(LinkError::NoSupervisor) => {}
        Err(err) => return Err(err).context("a supervisor runs but cannot be reached"),
    }
    ws.state_dir.ensure()?;
    eprintln!("starting the supervisor for {}…", ws.git.root().display());
    let mut deadline = Instant::now() + START_TIMEOUT;
    let mut child = spawn(ws, idle_exit)?;
    let link = loop {
        match Link::connect(&socket, ClientKind::Cli) {
            Ok(link) => break link,
            Err(LinkError::NoSupervisor) => {}
            Err(err) => return Err(err).context("the new supervisor cannot be reached"),
        }
        if let Some(status) = child.process.try_wait()? {
            let lock = ws.state_dir.lock_file();
            let supervisor =
                |h: &crate::store::LockHolder| h.command == crate::agents::LOCK_COMMAND;
            // A command working without a supervisor (a direct `sliceboard
            // up`) holds the lock: wait for it, within a bound.
            let waited = Instant::now();
            let holder = StateLock::wait_free(
                &lock,
                crate::store::LOCK_WAIT,
                crate::store::LockHolder::is_brief,
                |h| eprintln!("waiting for `{}` (pid {}) to finish…", h.command, h.pid),
            );
            deadline += waited.elapsed();
            match holder {
                // Another supervisor holds the lock: one started at the same
                // moment (it will listen soon), or one that is ending.
                Some(holder) if supervisor(&holder) => {}
                // The lock is free again (the one ending has ended, or the
                // command waited for is done): start again.
                None => {
                    std::thread::sleep(Duration::from_millis(200));
                    child = spawn(ws, idle_exit)?;
                }
                Some(holder) => bail!(
                    "the supervisor could not start: `{}` (pid {}) still holds the state lock after {:?}; wait for it to finish",
                    holder.command,
                    holder.pid,
                    crate::store::LOCK_WAIT
                ),
            }
            if Instant::now() > deadline {
                bail!(
                    "the supervisor exited at start ({status}): {}",
                    child.said().trim()
                );
            }
        }
        if Instant::now() > deadline {
            bail!(
                "the supervisor did not listen within {START_TIMEOUT:?}; see {}",
                ws.state_dir.log_file().display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut process = child.process;
    // Reap it when it ends, so it never lingers as a zombie of ours.
    std::thread::spawn(move || process.wait());
    Ok((true, link))
}

/// A `sliceboard supervise` we started, and where its output goes.
struct Started {
    process: std::process::Child,
    out_path: std::path::PathBuf,
    /// Where its output starts in the file.
    start: u64,
}

impl Started {
    /// What it printed.
    fn said(&self) -> String {
        std::fs::read(&self.out_path)
            .map(|b| String::from_utf8_lossy(&b[(self.start as usize).min(b.len())..]).into_owned())
            .unwrap_or_default()
    }
}

/// A variable sliceboard sets in an agent's environment, as opposed to a
/// setting of the user's (`SLICEBOARD_IDLE_EXIT`, `SLICEBOARD_MAX_WATCHES`…).
fn is_agent_variable(key: &str) -> bool {
    const SETTINGS: [&str; 5] = [
        crate::supervisor::IDLE_EXIT_ENV,
        "SLICEBOARD_MAX_WATCHES",
        "SLICEBOARD_CLIENT_QUEUE",
        crate::link::REMOTE_SHELL_ENV,
        crate::link::REMOTE_BIN_ENV,
    ];
    key.starts_with(crate::domain::environment::RESERVED_PREFIX) && !SETTINGS.contains(&key)
}

/// Starts `sliceboard supervise` detached: its own session, stdin closed,
/// output appended to `supervisor.out`.
fn spawn(ws: &Workspace, idle_exit: Option<Duration>) -> anyhow::Result<Started> {
    let out_path = ws.state_dir.supervisor_output_file();
    let out = crate::os::private::open_append(&out_path)
        .with_context(|| format!("cannot open {}", out_path.display()))?;
    let start = out.metadata().map_or(0, |m| m.len());
    let exe = std::env::current_exe().context("cannot find the sliceboard binary")?;
    let mut command = std::process::Command::new(exe);
    command
        .arg("-C")
        .arg(ws.git.root())
        .arg("supervise")
        .current_dir(ws.git.root())
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    // Started from inside an agent (its `sliceboard merge`, say), the
    // supervisor must not carry that agent's environment: its mark would
    // make the supervisor look like a member of the agent's tree.
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(is_agent_variable) {
            command.env_remove(key);
        }
    }
    if let Some(idle) = idle_exit {
        command.env(
            crate::supervisor::IDLE_EXIT_ENV,
            idle.as_secs_f64().to_string(),
        );
    }
    crate::os::in_new_session(&mut command);
    let process = command.spawn().context("cannot start the supervisor")?;
    Ok(Started {
        process,
        out_path,
        start,
    })
}
