//! The operating system's calls that std does not wrap, as safe
//! functions: the one module where `unsafe` is allowed.
//!
//! `private` makes files and folders only their owner reads;
//! `process_group` signals, finds and reaps process groups and an agent's
//! whole tree; the rest are single calls (is a pid alive, who is at the
//! other end of a socket, a send that never raises SIGPIPE, a child in a
//! session of its own, SIGPIPE's default, suspending ourselves, handing
//! freed memory back). Nothing here knows about slices, agents or the
//! supervisor: callers pass pids, sockets and commands.

#![allow(unsafe_code)]

pub mod private;
pub mod process_group;

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt as _;

/// The user's own settings file: `$XDG_CONFIG_HOME/sliceboard/config.toml`,
/// else `~/.config/sliceboard/config.toml` (the keys, the copy command,
/// the prices).
pub fn config_file() -> Option<std::path::PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("sliceboard").join("config.toml"))
}

/// Whether a process with this pid exists (signal 0 checks without sending).
pub fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for the process; it has no
    // effect on it and touches no memory of ours.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Sends `signal` to the one process `pid` (never a group: `pid` must be
/// positive).
pub fn signal_process(pid: i32, signal: i32) -> io::Result<()> {
    if pid <= 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to signal pid {pid}"),
        ));
    }
    // SAFETY: kill(2) of one positive pid; it reads and writes no memory
    // of ours.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The user id of the process at the other end of a Unix socket.
pub fn peer_uid(socket: &impl AsRawFd) -> io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of the sizes given, and
    // the fd is a live socket borrowed for the call.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred.uid)
}

/// This process's user id.
pub fn own_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// Writes `buf` to a socket with `MSG_NOSIGNAL`, retrying on EINTR: a
/// peer that went away is a `BrokenPipe` error, never a SIGPIPE.
pub fn send_no_signal(socket: &impl AsRawFd, buf: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: send(2) reads `buf.len()` bytes of `buf`, which we borrow
        // for the call, from a socket the caller holds open.
        let sent = unsafe {
            libc::send(
                socket.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if let Ok(sent) = usize::try_from(sent) {
            return Ok(sent);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Makes the child `command` spawns the leader of a new session (setsid),
/// so it has no controlling terminal and no signal to our group reaches it.
pub fn in_new_session(command: &mut std::process::Command) {
    // SAFETY: the hook runs between fork and exec and calls only setsid,
    // which is async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Restores SIGPIPE's default action (Rust ignores it), so printing to a
/// closed pipe ends the process quietly, as git does. Call it first thing
/// in `main`, before any other thread exists.
pub fn default_sigpipe() {
    // SAFETY: signal(2) at start, before any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// Stops this process as the shell's job control expects (Ctrl-Z): it
/// returns once the process is continued.
pub fn suspend_self() {
    // SAFETY: raising SIGTSTP on ourselves; no memory is involved.
    unsafe {
        libc::raise(libc::SIGTSTP);
    }
}

/// Gives memory freed by the allocator back to the system (glibc keeps
/// it otherwise, and a process's RSS would only ever grow).
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What [`wait_readable`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readable {
    /// `fd` has something to read (or is at its end).
    Input,
    /// `wake` was written to.
    Woken,
    /// Neither, within the time given.
    TimedOut,
}

/// Blocks until `fd` or `wake` can be read, without reading either: a
/// thread that reads a terminal can be woken (to stand aside while another
/// program uses it) with no timer, so an idle one never wakes.
pub fn wait_readable(fd: RawFd, wake: RawFd) -> io::Result<Readable> {
    wait_readable_for(fd, wake, None)
}

/// As `wait_readable`, giving up after `limit` (`Readable::TimedOut`).
pub fn wait_readable_for(
    fd: RawFd,
    wake: RawFd,
    limit: Option<std::time::Duration>,
) -> io::Result<Readable> {
    let timeout = limit.map_or(-1, |l| i32::try_from(l.as_millis()).unwrap_or(i32::MAX));
    let mut fds = [
        libc::pollfd {
            fd: wake,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: two valid pollfd structs, their count, and a timeout.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if fds[0].revents != 0 {
            return Ok(Readable::Woken);
        }
        if fds[1].revents != 0 {
            return Ok(Readable::Input);
        }
        if n == 0 {
            return Ok(Readable::TimedOut);
        }
    }
}
