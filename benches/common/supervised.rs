//! A bench's own supervisor: commands with `HOME` in the bench's folder
//! and no git config, `sliceboard supervise` started for a repository and
//! stopped when dropped, and the first link to it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sliceboard::domain::wire::ClientKind;
use sliceboard::link::Link;

/// The binary benched: `SB_BIN`, or the one cargo built.
pub fn binary() -> PathBuf {
    std::env::var_os("SB_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sliceboard")))
}

/// How many runs the variable `name` asks for, `default` without it.
pub fn runs(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// `sliceboard supervise`, sent SIGTERM and waited for when dropped.
pub struct Supervisor(pub std::process::Child);

impl Drop for Supervisor {
    fn drop(&mut self) {
        // SAFETY: our own child, not yet reaped.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

/// A command with `HOME` in the bench's folder and no git config.
pub fn isolated(mut command: Command, home: &Path) -> Command {
    command
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .env_remove("SLICEBOARD_SOCKET")
        .env_remove("SLICEBOARD_SLICE");
    command
}

/// Starts the supervisor of the repository at `root` and connects to it
/// as the command line does, once it listens.
pub fn supervise(bin: &Path, root: &Path, home: &Path) -> (Supervisor, Link) {
    let socket = root.join(".git/sliceboard/supervisor.sock");
    let supervisor = Supervisor(
        isolated(Command::new(bin), home)
            .arg("supervise")
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let link = loop {
        if let Ok(link) = Link::connect(&socket, ClientKind::Cli) {
            break link;
        }
        assert!(Instant::now() < deadline, "the supervisor never listened");
        std::thread::sleep(Duration::from_millis(20));
    };
    (supervisor, link)
}
