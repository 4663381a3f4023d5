//! Starting the supervisor in the background: `sliceboard supervise` in a
//! session of its own (so the terminal's hangup never reaches it), stdin
//! closed, what it prints appended to `supervisor.out` in the state dir.

use std::os::unix::process::CommandExt as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::domain::wire::ClientKind;
use crate::link::{Link, LinkError};
use crate::store::StateLock;
use crate::workspace::Workspace;

/// How long a new supervisor may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Makes sure a supervisor runs for the workspace: connects to the one
/// that runs, or starts one and waits until it listens. Says whether it
/// started one.
pub fn ensure_running(ws: &Workspace) -> anyhow::Result<bool> {
    let socket = ws.state_dir.socket_file();
    match Link::connect(&socket, ClientKind::Cli) {
        Ok(_) => return Ok(false),
        Err(LinkError::NoSupervisor) => {}
        Err(err) => return Err(err).context("a supervisor runs but cannot be reached"),
    }
    ws.state_dir.ensure()?;
    eprintln!("starting the supervisor for {}…", ws.git.root().display());
    let deadline = Instant::now() + START_TIMEOUT;
    let mut child = spawn(ws)?;
    loop {
        match Link::connect(&socket, ClientKind::Cli) {
            Ok(_) => break,
            Err(LinkError::NoSupervisor) => {}
            Err(err) => return Err(err).context("the new supervisor cannot be reached"),
        }
        if let Some(status) = child.process.try_wait()? {
            match StateLock::holder(&ws.state_dir.lock_file()) {
                // Another supervisor holds the lock: one started at the same
                // moment (it will listen soon), or one that is ending.
                Some(holder) if holder.command == crate::supervisor::LOCK_COMMAND => {}
                // The lock is free again (the one ending has ended): ours
                // lost a race that is over; start again.
                None => {
                    std::thread::sleep(Duration::from_millis(200));
                    child = spawn(ws)?;
                }
                Some(holder) => bail!(
                    "the supervisor could not start: `{}` (pid {}) holds the state lock; wait for it to finish",
                    holder.command,
                    holder.pid
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
    }
    let mut process = child.process;
    // Reap it when it ends, so it never lingers as a zombie of ours.
    std::thread::spawn(move || process.wait());
    Ok(true)
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

/// Starts `sliceboard supervise` detached: its own session, stdin closed,
/// output appended to `supervisor.out`.
fn spawn(ws: &Workspace) -> anyhow::Result<Started> {
    let out_path = ws.state_dir.supervisor_output_file();
    let out = crate::store::private::open_append(&out_path)
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
    // SAFETY: setsid is async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let process = command.spawn().context("cannot start the supervisor")?;
    Ok(Started {
        process,
        out_path,
        start,
    })
}
