//! The commands about the supervisor process: the dashboard (`attach`,
//! local or `--remote`), `stop`, `kill`, `proxy` and `supervise`, and
//! sending the other commands through a running supervisor.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::open_in_force;
use crate::domain::Command;
use crate::domain::board::AgentReport;
use crate::domain::wire::ClientKind;
use crate::link::{Link, LinkError};
use crate::store::StateLock;
use crate::ui::Ended;
use crate::workspace::Workspace;

/// The dashboard: attaches to the repository's supervisor (started in the
/// background if none runs), or to a remote one over ssh.
pub fn attach(cwd: &Path, remote: Option<&str>) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!("the dashboard needs a terminal; for scripts use `sliceboard status --json`");
    }
    let (link, log_file) = match remote {
        Some(target) => {
            let link = Link::remote(target, ClientKind::Dashboard)
                .with_context(|| format!("cannot reach the supervisor on {target}"))?;
            let log = dirs_cache().join("client.log");
            (link, log)
        }
        None => attach_running(cwd).map_or_else(
            || {
                let ws = open_in_force(cwd)?;
                attach_local(&ws)
            },
            Ok,
        )?,
    };
    let pid = link.welcome.pid;
    match crate::ui::run(link, &log_file)? {
        Ended::Detached => {
            eprintln!(
                "detached; agents keep running. `sliceboard` attaches again, `sliceboard stop` stops them."
            );
            Ok(ExitCode::SUCCESS)
        }
        Ended::Stopped(why) => {
            eprintln!("the supervisor (pid {pid}) was {why}; its agents were stopped with it");
            Ok(ExitCode::SUCCESS)
        }
        Ended::Lost(why) => {
            eprintln!("{}", lost(remote, pid, &why));
            Ok(ExitCode::FAILURE)
        }
    }
}

/// What a dashboard whose connection was lost says: what is known of the
/// supervisor, and the command that attaches again.
fn lost(remote: Option<&str>, pid: u32, why: &str) -> String {
    match remote {
        Some(target) => format!(
            "lost the connection to the supervisor (pid {pid}) on {target}: {why}. It said no goodbye, so it and its agents probably still run there. Attach again: sliceboard --remote {target}"
        ),
        None if running(pid) => format!(
            "lost the connection to the supervisor (pid {pid}, still running): {why}. Attach again: sliceboard"
        ),
        None => format!(
            "the supervisor (pid {pid}) ended: {why}; it was killed or crashed (see .git/sliceboard/supervisor.out and sliceboard.log). `sliceboard` starts a new one, which finds any agent left running"
        ),
    }
}

/// Starts the supervisor if needed and connects as a dashboard.
/// A dashboard's link to the supervisor already running for the
/// repository at `cwd`, found from the repository alone: the plan, the
/// state and the repository's facts are the supervisor's to read, and
/// attaching waits for none of them. `None` when none runs or it refused
/// (another version…): the full path then says why, or starts one.
fn attach_running(cwd: &Path) -> Option<(Link, std::path::PathBuf)> {
    let git = crate::git::GitRepo::discover(cwd).ok()?;
    let state_dir = crate::store::StateDir::for_common_dir(git.common_dir());
    let link = Link::connect(&state_dir.socket_file(), ClientKind::Dashboard).ok()?;
    Some((link, state_dir.log_file()))
}

pub fn attach_local(ws: &Workspace) -> anyhow::Result<(Link, std::path::PathBuf)> {
    crate::supervisor::launch::ensure_running(ws)?;
    let link = Link::connect(&ws.state_dir.socket_file(), ClientKind::Dashboard)
        .context("cannot attach to the supervisor")?;
    Ok((link, ws.state_dir.log_file()))
}

fn dirs_cache() -> std::path::PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("sliceboard")
}

/// `sliceboard stop`.
pub fn stop(cwd: &Path) -> anyhow::Result<ExitCode> {
    let git = crate::git::GitRepo::discover(cwd)?;
    let socket = crate::store::StateDir::for_common_dir(git.common_dir()).socket_file();
    let state_dir = crate::store::StateDir::for_common_dir(git.common_dir());
    let mut link = match Link::connect(&socket, ClientKind::Cli) {
        Ok(link) => link,
        Err(LinkError::NoSupervisor) => {
            println!("no supervisor is running for {}", git.root().display());
            return Ok(ExitCode::SUCCESS);
        }
        // One of another version (left running across an upgrade) cannot
        // be asked; the lock says who it is, and SIGTERM stops it and its
        // agents the same way.
        Err(LinkError::Refused(why)) => {
            let Some(holder) = StateLock::holder(&state_dir.lock_file())
                .filter(|h| h.command == crate::agents::LOCK_COMMAND)
            else {
                bail!("the supervisor refused: {why}");
            };
            let pid = still_the_supervisor(&holder).with_context(|| {
                format!("the supervisor refused ({why}); nothing was signalled")
            })?;
            // The pid the lock names as a supervisor, checked to be that
            // process still.
            let _ = crate::os::signal_process(pid, libc::SIGTERM);
            wait_gone(holder.pid)?;
            println!(
                "stopped the supervisor (pid {}) of another sliceboard version",
                holder.pid
            );
            return Ok(ExitCode::SUCCESS);
        }
        Err(err) => return Err(err.into()),
    };
    let pid = link.welcome.pid;
    let said = match link.request(Command::Shutdown) {
        Ok(Ok(done)) => done,
        Ok(Err(why)) => bail!("the supervisor refused to stop: {why}"),
        // It may end before its reply gets out; gone is what was asked.
        Err(LinkError::Closed) => "stopped the supervisor".into(),
        Err(err) => return Err(err.into()),
    };
    wait_gone(pid)?;
    println!("{said}");
    Ok(ExitCode::SUCCESS)
}

/// The pid the state lock names, once it is known to be the supervisor
/// that took the lock: more than 1, not this process, and started when the
/// lock says (a lock from a version that did not record that: a process
/// running `supervise`). A pid reused by another process is never
/// signalled.
fn still_the_supervisor(holder: &crate::store::LockHolder) -> anyhow::Result<i32> {
    let pid = i32::try_from(holder.pid).unwrap_or(0);
    if pid <= 1 || holder.pid == std::process::id() {
        bail!("the state lock names pid {pid}, which cannot be a supervisor");
    }
    match holder.started {
        Some(started) => {
            if crate::os::process_group::start_time(pid) != Some(started) {
                bail!(
                    "pid {pid}, named by the state lock, is not the process that took it (it started at another time)"
                );
            }
        }
        None => {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if !cmdline.split(|&b| b == 0).any(|arg| arg == b"supervise") {
                bail!("pid {pid}, named by the state lock, is not running `sliceboard supervise`");
            }
        }
    }
    Ok(pid)
}

/// Returns once process `pid` is gone (its lock released), so whatever
/// runs next works.
fn wait_gone(pid: u32) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while running(pid) {
        if std::time::Instant::now() > deadline {
            bail!("the supervisor (pid {pid}) is still running 20 s after it was asked to stop");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(())
}

/// `sliceboard kill SLICE`: the slice's agent, or the group a previous
/// supervisor left running there (a supervisor is started if none runs:
/// starting is what finds such a group). Returns once it is gone.
pub fn kill(ws: &Workspace, slice: &crate::domain::SliceName) -> anyhow::Result<ExitCode> {
    crate::supervisor::launch::ensure_running(ws)?;
    let mut link = Link::connect(&ws.state_dir.socket_file(), ClientKind::Cli)
        .context("cannot reach the supervisor")?;
    match link.request(Command::KillAgent {
        slice: slice.clone(),
    })? {
        Ok(said) if !said.is_empty() => eprintln!("{said}"),
        Ok(_) => {
            eprintln!("{slice}: killing its agent (SIGTERM, then SIGKILL after the grace period)")
        }
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(ExitCode::FAILURE);
        }
    }
    // The grace period, SIGKILL's own wait, and some slack.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let text = link
            .request(Command::AgentsReport)?
            .map_err(anyhow::Error::msg)?;
        let agents: std::collections::BTreeMap<
            crate::domain::SliceName,
            crate::domain::board::AgentReport,
        > = serde_json::from_str(&text)
            .context("the supervisor sent an unreadable agents report")?;
        let agent = agents.get(slice);
        let alive = agent.is_some_and(|a| {
            a.left_running.is_some()
                || matches!(
                    a.status,
                    crate::domain::AgentStatus::Running | crate::domain::AgentStatus::Paused
                )
        });
        if !alive {
            println!(
                "{slice}: {}",
                agent.map_or_else(|| "gone".to_owned(), AgentReport::word)
            );
            return Ok(ExitCode::SUCCESS);
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "{} agent group still runs 30 s after it was asked to end; see its Events tab, and `ps -g PID`",
                crate::domain::possessive(slice)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `sliceboard proxy`: stdin and stdout become a connection to the
/// supervisor (what `--remote` runs over ssh).
pub fn proxy(cwd: &Path) -> anyhow::Result<ExitCode> {
    // The dashboard at the other end shows the plan's problem; printed
    // here it would land on top of the dashboard's screen.
    let (ws, _problem) = super::in_force(cwd)?;
    crate::supervisor::launch::ensure_running(&ws)?;
    let stream = UnixStream::connect(ws.state_dir.socket_file())
        .context("cannot connect to the supervisor")?;
    let mut upstream = stream.try_clone()?;
    let mut downstream = stream;
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut upstream);
        let _ = upstream.shutdown(std::net::Shutdown::Write);
    });
    let mut buf = vec![0; 64 * 1024];
    let mut out = std::io::stdout().lock();
    loop {
        match downstream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                    break;
                }
            }
        }
    }
    drop(up);
    Ok(ExitCode::SUCCESS)
}

/// `sliceboard supervise`: the supervisor itself, in the foreground.
pub fn supervise(cwd: &Path) -> anyhow::Result<ExitCode> {
    let ws = super::open(cwd)?;
    crate::supervisor::run(ws, crate::supervisor::idle_exit())?;
    Ok(ExitCode::SUCCESS)
}

/// Sends `command` through the running supervisor, if one runs; `None`
/// when none does (the caller then works directly).
pub fn through_supervisor(ws: &Workspace, command: Command) -> anyhow::Result<Option<ExitCode>> {
    let mut link = match Link::connect(&ws.state_dir.socket_file(), ClientKind::Cli) {
        Ok(link) => link,
        Err(LinkError::NoSupervisor) => return Ok(None),
        Err(err) => return Err(err).context("a supervisor runs but cannot be reached"),
    };
    match link.request(command)? {
        Ok(done) => {
            if !done.is_empty() {
                println!("{done}");
            }
            Ok(Some(ExitCode::SUCCESS))
        }
        Err(why) => {
            eprintln!("error: {why}");
            Ok(Some(ExitCode::FAILURE))
        }
    }
}

/// Whether process `pid` still runs (a zombie, waiting to be reaped by
/// whoever started it, does not).
fn running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X"))
}

#[cfg(test)]
mod tests {
    use super::lost;

    #[test]
    fn a_dashboard_whose_supervisor_died_says_so_once_and_what_to_do() {
        // A child of ours, ended and reaped: no process has its pid now.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        let said = lost(None, child.id(), "the connection closed without a goodbye");
        assert_eq!(
            said,
            format!(
                "the supervisor (pid {}) ended: the connection closed without a goodbye; it was killed or crashed (see .git/sliceboard/supervisor.out and sliceboard.log). `sliceboard` starts a new one, which finds any agent left running",
                child.id()
            )
        );
    }
}
