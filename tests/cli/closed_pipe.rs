//! A command whose reader went away ends quietly, as git does
//! (`sliceboard status | head -c 1`): no panic, no exit status 101.

use crate::common;

use std::os::unix::process::ExitStatusExt as _;

use common::{BIN, TestRepo};

/// Runs `sliceboard ARGS` with a stdout whose reading end is closed before
/// it starts, so its first write finds the pipe closed.
fn into_a_closed_pipe(repo: &TestRepo, args: &[&str]) -> (std::process::ExitStatus, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = repo
        .command(BIN, &repo.root)
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn status_and_queue_into_a_closed_pipe_end_without_a_panic() {
    let repo = TestRepo::with_plan();
    repo.sliceboard(&["up"]).ok();
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["queue"],
        &["check"],
    ] {
        let (status, stderr) = into_a_closed_pipe(&repo, args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(status.code(), Some(101), "{args:?}: {stderr}");
        // Ended by SIGPIPE, like git, or an error it reported.
        assert!(
            status.signal() == Some(libc::SIGPIPE) || status.code() == Some(1),
            "{args:?}: {status:?} {stderr}"
        );
    }
}

#[test]
fn status_piped_into_head_exits_without_a_panic() {
    let repo = TestRepo::with_plan();
    repo.sliceboard(&["up"]).ok();
    let output = repo
        .command("bash", &repo.root)
        .args([
            "-c",
            &format!("set -o pipefail; '{BIN}' status | head -c 1 >/dev/null; echo \"exit=$?\""),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stdout.contains("exit=101"), "{stdout}");
}
