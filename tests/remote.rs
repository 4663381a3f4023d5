//! `--remote`: a dashboard reaches a repository's supervisor through
//! `ssh HOST sliceboard -C PATH proxy`. Here the transport is a stand-in
//! for ssh that runs the remote command on this machine, so everything
//! else is real: the proxy, the supervisor it starts, the protocol over
//! the stand-in's pipes.
//!
//! Its own test binary: `Link::remote` reads the transport from this
//! process's environment, which no other test may see changed.

mod common;

use std::os::unix::fs::PermissionsExt as _;

use common::{BIN, TestRepo};
use sliceboard::domain::Command;
use sliceboard::domain::wire::ClientKind;
use sliceboard::link::{Link, LinkError, REMOTE_BIN_ENV, REMOTE_SHELL_ENV};

/// A stand-in for ssh: drops the host, and runs the remote command with
/// the test repository's fixed environment.
fn fake_ssh(repo: &TestRepo) -> std::path::PathBuf {
    let script = format!("#!/bin/sh\nshift\n{}exec sh -c \"$*\"\n", repo.env_script());
    let path = repo.top.join("fake-ssh");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_remote_dashboard_goes_through_the_proxy_which_starts_the_supervisor() {
    let repo = TestRepo::with_plan();
    let socket = repo.socket();
    assert!(
        matches!(
            Link::connect(&socket, ClientKind::Cli),
            Err(LinkError::NoSupervisor)
        ),
        "no supervisor runs before"
    );
    let ssh = fake_ssh(&repo);
    // SAFETY: the only test in this binary, and no other thread reads the
    // environment while it is set.
    unsafe {
        std::env::set_var(REMOTE_SHELL_ENV, &ssh);
        std::env::set_var(REMOTE_BIN_ENV, BIN);
    }

    let target = format!("somehost:{}", repo.root.display());
    let mut link = Link::remote(&target, ClientKind::Dashboard).expect("the remote link opens");
    let board = link
        .welcome
        .board
        .clone()
        .expect("a dashboard gets the board");
    let slices: Vec<&str> = board.slices.iter().map(|row| row.name.as_str()).collect();
    assert_eq!(slices, ["staging", "marts", "seeds"]);
    let done = link
        .request(Command::Up { slices: Vec::new() })
        .expect("the request crosses the proxy and back");
    assert!(done.is_ok(), "up through the remote link: {done:?}");
    assert!(repo.worktree("seeds").is_dir());

    // The proxy started a supervisor of its own, which outlives the link.
    let pid = link.welcome.pid;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("supervise"),
        "the welcome came from a supervisor: {}",
        String::from_utf8_lossy(&cmdline)
    );
    drop(link);
    let local = Link::connect(&socket, ClientKind::Cli).expect("the supervisor still runs");
    assert_eq!(local.welcome.pid, pid);
}
