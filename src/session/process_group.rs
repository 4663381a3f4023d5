//! Signals to a whole process group, and stopping one for good.
//!
//! An agent runs as the leader of its own session and process group
//! (portable-pty calls `setsid`), so its pid is also its group id and one
//! `kill(-pgid, …)` reaches the agent, its children and their background
//! jobs. Descendants that call `setsid` themselves escape the group; that is
//! documented, not handled.

use std::io;
use std::time::{Duration, Instant};

/// How often a stopping group is checked.
const POLL: Duration = Duration::from_millis(20);
/// How long SIGKILL may take to clear the group.
const KILL_WAIT: Duration = Duration::from_secs(3);

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
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // Fields after the command (which may hold spaces and parens):
            // state, ppid, pgrp, …
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let mut fields = rest.split_whitespace();
            let state = fields.next();
            let pgrp = fields.nth(1).and_then(|f| f.parse::<i32>().ok());
            pgrp == Some(pgid) && state != Some("Z") && state != Some("X")
        })
        .collect()
}

/// When the process started, in clock ticks since boot (`/proc/PID/stat`
/// field 22): with the pid, it names one process even after pids wrap.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    // Field 3 (state) is the first after the command; 22 is the 20th.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the group an agent led still has live processes, given the
/// leader's start time as recorded when it started: a leader alive with
/// that start time, or, once the leader is gone (or a zombie), any live
/// member; a pid is never handed out again while a group still bears it.
/// A leader with another start time is another process that got the pid
/// after the group ended. One `/proc` read while the leader lives; the
/// whole of `/proc` only once it is gone.
pub fn group_alive(pgid: i32, leader_started: u64) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pgid}/stat")).ok();
    let fields: Option<Vec<&str>> = stat
        .as_deref()
        .and_then(|stat| stat.rsplit_once(')'))
        .map(|(_, rest)| rest.split_whitespace().collect());
    let Some(fields) = fields else {
        return !group_members(pgid).is_empty();
    };
    // Field 3 (state) is the first after the command; 22 is the 20th.
    let started = fields.get(19).and_then(|f| f.parse::<u64>().ok());
    if started != Some(leader_started) {
        return false;
    }
    match fields.first() {
        Some(&"Z" | &"X") => !group_members(pgid).is_empty(),
        _ => true,
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
