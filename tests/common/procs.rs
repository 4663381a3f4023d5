//! Processes as `/proc` shows them, read here rather than through
//! sliceboard's own reader, so that a test can catch that reader out:
//! whether a process lives, its group and terminal, its children, its
//! memory.

use std::time::Duration;

use super::poll::poll_until;

/// The fields of `/proc/PID/stat` the tests look at.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    /// `R`, `S`, `T` (stopped), `Z` (a zombie), …
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    /// The foreground process group of the process's terminal (`tpgid`).
    pub tpgid: i32,
}

/// The process's `stat`; `None` once it is gone (reaped).
pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: fields start after
    // its last `)`. Then: state ppid pgrp session tty_nr tpgid.
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let number = |i: usize| fields.get(i)?.parse().ok();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: number(1)?,
        pgrp: number(2)?,
        tpgid: number(5)?,
    })
}

/// Whether the process runs (or is stopped): it exists and is no zombie.
pub fn alive(pid: i32) -> bool {
    stat(pid).is_some_and(|s| !matches!(s.state, 'Z' | 'X'))
}

/// Every process id in `/proc`.
pub fn all_pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// Whether any live process is in process group `pgid`.
pub fn group_alive(pgid: i32) -> bool {
    all_pids()
        .into_iter()
        .any(|pid| stat(pid).is_some_and(|s| s.pgrp == pgid && !matches!(s.state, 'Z' | 'X')))
}

/// The zombies whose parent is `pid`.
pub fn zombie_children(pid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|child| stat(*child).is_some_and(|s| s.state == 'Z' && s.ppid == pid))
        .collect()
}

/// The process's command line, its arguments joined by spaces; empty once
/// it is gone.
pub fn cmdline(pid: i32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

/// The process's resident memory, in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// Waits until the terminal of `pid` (a shell) has handed its foreground
/// to a job running `program`: keys such as Ctrl-C typed now reach that
/// job, not the shell.
pub fn wait_foreground(pid: i32, program: &str, timeout: Duration) {
    poll_until(
        format_args!("{program} in the foreground of {pid}'s terminal"),
        timeout,
        || {
            stat(pid).is_some_and(|shell| {
                shell.tpgid > 0
                    && shell.tpgid != shell.pgrp
                    && std::fs::read_to_string(format!("/proc/{}/comm", shell.tpgid))
                        .is_ok_and(|comm| comm.trim() == program)
            })
        },
    );
}
