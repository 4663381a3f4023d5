//! Signals to a whole process group, to an agent's whole tree, and
//! stopping either for good.
//!
//! An agent runs as the leader of its own session and process group
//! (portable-pty calls `setsid`), so its pid is also its group id and one
//! `kill(-pgid, …)` reaches the agent, its children and their background
//! jobs. Descendants escape that group with job control (`set -m` puts
//! each job in a group of its own) or `setsid`; an agent's [`Tree`] finds
//! them all: its session, its group, every descendant still linked by
//! parent, and every process whose environment bears the agent's [`Mark`]
//! (what is left of a tree whose parents are gone). The supervisor makes
//! itself a child subreaper ([`become_subreaper`]), so orphaned
//! descendants become its children rather than init's, and reaps the
//! orphans nobody else waits for ([`reap_orphans`]) without taking the
//! exit status of a child it waits for itself: every child it starts is
//! registered as it is spawned ([`spawn_waited`], and [`spawn`],
//! [`status`] and [`output`] for `std::process`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often a stopping group is checked.
const POLL: Duration = Duration::from_millis(20);
/// How long SIGKILL may take to clear the group.
pub const KILL_WAIT: Duration = Duration::from_secs(3);

/// Sends `signal` to every process in the group. A group that is already
/// gone is not an error.
pub fn signal_group(pgid: i32, signal: i32) -> io::Result<()> {
    if pgid <= 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to signal process group {pgid}"),
        ));
    }
    // SAFETY: kill(2) with a negative pid signals a process group; it reads
    // and writes no memory of ours.
    let rc = unsafe { libc::kill(-pgid, signal) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ESRCH) => Ok(()),
        _ => Err(err),
    }
}

/// The live (not zombie) processes whose process group is `pgid`, read
/// from `/proc`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    all_procs()
        .into_iter()
        .filter(|p| p.live && p.pgrp == pgid)
        .map(|p| p.pid)
        .collect()
}

/// When the process started, in clock ticks since boot (`/proc/PID/stat`
/// field 22): with the pid, it names one process even after pids wrap.
pub fn start_time(pid: i32) -> Option<u64> {
    read_proc(pid).map(|p| p.started)
}

/// Whether the group an agent led still has live processes, given the
/// leader's start time as recorded when it started: a leader alive with
/// that start time, or, once the leader is gone (or a zombie), any live
/// member; a pid is never handed out again while a group still bears it.
/// A leader with another start time is another process that got the pid
/// after the group ended. One `/proc` read while the leader lives; the
/// whole of `/proc` only once it is gone.
pub fn group_alive(pgid: i32, leader_started: u64) -> bool {
    match read_proc(pgid) {
        None => !group_members(pgid).is_empty(),
        Some(leader) if leader.started != leader_started => false,
        Some(leader) if !leader.live => !group_members(pgid).is_empty(),
        Some(_) => true,
    }
}

/// How a group ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// Every process left after SIGTERM.
    Graceful,
    /// SIGKILL was needed.
    Forced,
    /// Processes remained even after SIGKILL (they escaped or are stuck in
    /// the kernel); their pids are logged.
    Stuck,
}

/// SIGTERM to the group (with SIGCONT, so paused processes see it), then
/// SIGKILL once `grace` has passed. Blocks until the group is empty or
/// SIGKILL did not help: call it off the UI thread.
pub fn terminate_group(pgid: i32, grace: Duration) -> Termination {
    let _ = signal_group(pgid, libc::SIGTERM);
    let _ = signal_group(pgid, libc::SIGCONT);
    if wait_empty(pgid, grace) {
        return Termination::Graceful;
    }
    let _ = signal_group(pgid, libc::SIGKILL);
    if wait_empty(pgid, KILL_WAIT) {
        Termination::Forced
    } else {
        tracing::warn!(pgid, members = ?group_members(pgid), "processes survived SIGKILL");
        Termination::Stuck
    }
}

fn wait_empty(pgid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if group_members(pgid).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// What ties a process to one agent when nothing else does: the slice's
/// name and the supervisor's socket (one per repository), both in the
/// environment every agent starts with and its descendants inherit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mark {
    pub slice: String,
    pub socket: String,
}

impl Mark {
    pub const SLICE_VAR: &str = "SLICEBOARD_SLICE";
    pub const SOCKET_VAR: &str = "SLICEBOARD_SOCKET";

    /// The mark an agent started with `env` bears, if it bears one.
    pub fn from_env(env: &[(String, String)]) -> Option<Self> {
        let get = |key: &str| {
            env.iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        Some(Self {
            slice: get(Self::SLICE_VAR)?,
            socket: get(Self::SOCKET_VAR)?,
        })
    }

    /// Whether `/proc/PID/environ` (NUL-separated `KEY=VALUE`) bears it.
    pub fn in_environ(&self, environ: &[u8]) -> bool {
        let slice = format!("{}={}", Self::SLICE_VAR, self.slice);
        let socket = format!("{}={}", Self::SOCKET_VAR, self.socket);
        let mut has_slice = false;
        let mut has_socket = false;
        for entry in environ.split(|&b| b == 0) {
            has_slice |= entry == slice.as_bytes();
            has_socket |= entry == socket.as_bytes();
        }
        has_slice && has_socket
    }
}

/// One agent's processes, wherever they went: see the module's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// The agent's pid: its session and first process group.
    pub leader: i32,
    /// The leader's start time as recorded; a live leader with another one
    /// is a stranger that got the pid, so its session is not the agent's.
    pub leader_started: Option<u64>,
    pub mark: Option<Mark>,
}

/// One process as `/proc/PID/stat` describes it.
#[derive(Debug, Clone, Copy)]
struct Proc {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    session: i32,
    started: u64,
    live: bool,
}

/// One process as `/proc/PID/stat` has it. The fields after the command
/// (which may hold spaces and parens) are state, ppid, pgrp, session, …,
/// and the start time (field 22, the 20th of them).
fn read_proc(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let number = |at: usize| fields.get(at).and_then(|f| f.parse::<i64>().ok());
    Some(Proc {
        pid,
        ppid: i32::try_from(number(1)?).ok()?,
        pgrp: i32::try_from(number(2)?).ok()?,
        session: i32::try_from(number(3)?).ok()?,
        started: u64::try_from(number(19)?).ok()?,
        live: !matches!(fields.first(), Some(&"Z" | &"X")),
    })
}

fn all_procs() -> Vec<Proc> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read_proc)
        .collect()
}

/// The live processes of `tree`, with each one's process group; never
/// this process.
fn tree_procs(tree: &Tree, procs: &[Proc]) -> Vec<Proc> {
    let own = i32::try_from(std::process::id()).unwrap_or(0);
    let leader = procs.iter().find(|p| p.pid == tree.leader);
    // A pid is not handed out again while a session or group bears it, so
    // with the leader gone its session and group are still the agent's.
    let leader_ours = tree.leader > 1
        && leader.is_none_or(|p| tree.leader_started.is_none_or(|s| s == p.started));
    let mut members: HashSet<i32> = procs
        .iter()
        .filter(|p| p.pid != own)
        .filter(|p| {
            leader_ours
                && (p.pid == tree.leader || p.session == tree.leader || p.pgrp == tree.leader)
        })
        .map(|p| p.pid)
        .collect();
    if let Some(mark) = &tree.mark {
        let bearing: Vec<i32> = procs
            .iter()
            .filter(|p| p.live && p.pid != own && !members.contains(&p.pid))
            .filter(|p| {
                std::fs::read(format!("/proc/{}/environ", p.pid))
                    .is_ok_and(|environ| mark.in_environ(&environ))
            })
            .map(|p| p.pid)
            .collect();
        members.extend(bearing);
    }
    // Every descendant still linked by parent.
    let mut children: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for p in procs {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut todo: Vec<i32> = members.iter().copied().collect();
    while let Some(pid) = todo.pop() {
        for &child in children.get(&pid).map_or(&[][..], Vec::as_slice) {
            // Never through this process to its other children.
            if child != own && members.insert(child) {
                todo.push(child);
            }
        }
    }
    procs
        .iter()
        .filter(|p| p.live && p.pid != own && p.pid > 1 && members.contains(&p.pid))
        .copied()
        .collect()
}

/// The live processes of `tree` now (pids, ascending).
pub fn tree_members(tree: &Tree) -> Vec<i32> {
    let mut pids: Vec<i32> = tree_procs(tree, &all_procs())
        .iter()
        .map(|p| p.pid)
        .collect();
    pids.sort_unstable();
    pids
}

/// Sends `signal` to every process of `tree`: whole groups where every
/// live member of the group is the tree's (so a process forked meanwhile
/// is reached too), the others one by one. Returns how many processes
/// the tree had.
pub fn signal_tree(tree: &Tree, signal: i32) -> usize {
    let procs = all_procs();
    let members = tree_procs(tree, &procs);
    let pids: HashSet<i32> = members.iter().map(|p| p.pid).collect();
    // SAFETY: getpgrp(2) reads nothing of ours.
    let own_group = unsafe { libc::getpgrp() };
    let groups: BTreeSet<i32> = members.iter().map(|p| p.pgrp).collect();
    for pgid in groups {
        let whole = pgid > 1
            && pgid != own_group
            && procs
                .iter()
                .filter(|p| p.live && p.pgrp == pgid)
                .all(|p| pids.contains(&p.pid));
        if whole {
            let _ = signal_group(pgid, signal);
        } else {
            for p in members.iter().filter(|p| p.pgrp == pgid) {
                // SAFETY: kill(2) of one pid found in the tree just now.
                unsafe { libc::kill(p.pid, signal) };
            }
        }
    }
    members.len()
}

/// SIGTERM to every process of the tree (with SIGCONT, so paused ones see
/// it), then SIGKILL once `grace` has passed, again to whatever appears
/// meanwhile. Blocks until the tree is empty or SIGKILL did not help:
/// call it off the UI thread.
pub fn terminate_tree(tree: &Tree, grace: Duration) -> Termination {
    signal_tree(tree, libc::SIGTERM);
    signal_tree(tree, libc::SIGCONT);
    if wait_tree_empty(tree, grace, None) {
        return Termination::Graceful;
    }
    if wait_tree_empty(tree, KILL_WAIT, Some(libc::SIGKILL)) {
        Termination::Forced
    } else {
        tracing::warn!(?tree, members = ?tree_members(tree), "processes survived SIGKILL");
        Termination::Stuck
    }
}

/// Waits for the tree to empty, sending `signal` (if any) to what is left
/// at every look.
fn wait_tree_empty(tree: &Tree, limit: Duration, signal: Option<i32>) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let left = match signal {
            Some(signal) => signal_tree(tree, signal),
            None => tree_members(tree).len(),
        };
        if left == 0 {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(TREE_POLL);
    }
}

/// How often a stopping tree is looked at (a whole `/proc` walk).
const TREE_POLL: Duration = Duration::from_millis(50);

/// Every live process bearing `mark`, wherever it is (pids, ascending).
pub fn marked(mark: &Mark) -> Vec<i32> {
    tree_members(&Tree {
        leader: 0,
        leader_started: None,
        mark: Some(mark.clone()),
    })
}

/// Children this process waits for itself (agents through portable-pty,
/// everything `std::process::Command` starts here through [`spawn`],
/// [`status`] or [`output`]), each with how many registrations hold its
/// pid: [`reap_orphans`] leaves them alone. A count, not a set, so that a
/// registration dropped late (after its child was reaped and the pid went
/// to another registered child) cannot remove the newer one.
static WAITED: Mutex<BTreeMap<i32, usize>> = Mutex::new(BTreeMap::new());

fn waited_for() -> std::sync::MutexGuard<'static, BTreeMap<i32, usize>> {
    WAITED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `spawn` (which forks a child and returns its pid) so that
/// [`reap_orphans`] never reaps that child: its pid is registered under
/// the lock the reaper takes, before any reaper can look. Call [`waited`]
/// once the child's status has been collected.
pub fn spawn_waited<T, E>(spawn: impl FnOnce() -> Result<(T, i32), E>) -> Result<(T, i32), E> {
    let mut waited = waited_for();
    let (value, pid) = spawn()?;
    *waited.entry(pid).or_default() += 1;
    Ok((value, pid))
}

/// The status of a child registered by [`spawn_waited`] was collected.
pub fn waited(pid: i32) {
    let mut waited = waited_for();
    if let Some(count) = waited.get_mut(&pid) {
        *count -= 1;
        if *count == 0 {
            waited.remove(&pid);
        }
    }
}

/// A `std::process` child registered as waited for; dropped (after its
/// owner waited for it, or gave up on it), the registration goes, and a
/// child nobody waited for is reaped as an orphan when it ends.
#[derive(Debug)]
pub struct Registered(i32);

impl Drop for Registered {
    fn drop(&mut self) {
        waited(self.0);
    }
}

/// `command.spawn()`, registered so that [`reap_orphans`] leaves the child
/// to whoever waits for it: every `std::process` child of the supervisor
/// process starts here (or through [`status`] or [`output`]). Keep the
/// [`Registered`] until `wait` has returned.
pub fn spawn(command: &mut std::process::Command) -> io::Result<(std::process::Child, Registered)> {
    let (child, pid) = spawn_waited(|| {
        let child = command.spawn()?;
        let pid = i32::try_from(child.id()).map_err(io::Error::other)?;
        Ok::<_, io::Error>((child, pid))
    })?;
    Ok((child, Registered(pid)))
}

/// `command.status()` through [`spawn`].
pub fn status(command: &mut std::process::Command) -> io::Result<std::process::ExitStatus> {
    let (mut child, registered) = spawn(command)?;
    let status = child.wait();
    drop(registered);
    status
}

/// `command.output()` through [`spawn`]: stdout and stderr are captured;
/// stdin is what the caller set (inherited if it set nothing, unlike
/// `Command::output`).
pub fn output(command: &mut std::process::Command) -> io::Result<std::process::Output> {
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let (child, registered) = spawn(command)?;
    let output = child.wait_with_output();
    drop(registered);
    output
}

/// [`output`], but a command still running after `limit` has its process
/// group killed and is an error (`TimedOut`). The command is put in a
/// group of its own.
pub fn output_within(
    command: &mut std::process::Command,
    limit: std::time::Duration,
) -> io::Result<std::process::Output> {
    use std::io::Read as _;
    use std::os::unix::process::CommandExt as _;
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    let (mut child, registered) = spawn(command)?;
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if std::time::Instant::now() >= deadline {
            // SAFETY: kill(2) on the command's own process group.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    drop(registered);
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        Some(status) => Ok(std::process::Output {
            status,
            stdout,
            stderr,
        }),
        None => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("still running after {} s; stopped", limit.as_secs()),
        )),
    }
}

/// Makes this process a child subreaper: its descendants that lose their
/// parent become its children instead of init's, so an agent's tree stays
/// under the supervisor (and in reach) whatever its members do.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl(2) with an integer argument; no memory is passed.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reaps the children that ended and that nobody here waits for: orphans
/// a subreaper inherited, whatever session or group they are in. A child
/// registered as waited for ([`spawn_waited`], [`spawn`]) is left to its
/// owner. Returns how many were reaped.
pub fn reap_orphans() -> usize {
    if !any_zombie_child() {
        return 0;
    }
    let own = i32::try_from(std::process::id()).unwrap_or(0);
    // Held across the walk: a child registered meanwhile is spawned under
    // it, so no pid read here belongs to a child not yet registered.
    let waited = waited_for();
    let mut reaped = 0;
    for p in all_procs() {
        if p.ppid != own || p.live || waited.contains_key(&p.pid) {
            continue;
        }
        let mut status = 0;
        // SAFETY: waitpid(2) on one child that is a zombie nobody waits for.
        if unsafe { libc::waitpid(p.pid, &raw mut status, libc::WNOHANG) } == p.pid {
            reaped += 1;
        }
    }
    reaped
}

/// Whether any child has ended and not been waited for, without reaping
/// it (`waitid` with `WNOWAIT`): spares the walk of `/proc` on a SIGCHLD
/// its owner has already collected.
fn any_zombie_child() -> bool {
    // SAFETY: siginfo_t is plain data; waitid(2) writes into it only.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid(2) with a valid pointer; WNOWAIT leaves the child be.
    let rc = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &raw mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: after a successful waitid, si_pid is set (0 if none ended).
    rc == 0 && unsafe { info.si_pid() } != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn output_within_stops_a_command_that_runs_too_long_and_keeps_what_one_in_time_said() {
        let started = Instant::now();
        let err = output_within(
            std::process::Command::new("sh").args(["-c", "echo begun; sleep 30 & wait"]),
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // Its whole group went, the backgrounded sleep too: the pipes closed.
        assert!(started.elapsed() < Duration::from_secs(5));
        let out = output_within(
            std::process::Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }
}
