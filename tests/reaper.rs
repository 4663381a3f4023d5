//! The supervisor's reaper of orphans takes every ended child nobody here
//! waits for, and never one that is registered as waited for, whatever
//! session or group either is in. One test in its own process, so no
//! other test's children are about.

mod common;

use std::process::{Command, Stdio};

use common::{WAIT, poll_until};
use sliceboard::os::process_group;

/// The process's state letter (`Z` for a zombie); `None` once reaped.
fn state(pid: u32) -> Option<char> {
    common::procs::stat(pid as i32).map(|s| s.state)
}

#[test]
fn a_registered_child_in_a_session_of_its_own_is_left_to_its_waiter_and_a_stray_is_reaped() {
    // Spawned in our group, `setsid` is no group leader: it calls setsid()
    // in place, so the child we wait for is in a session of its own.
    let (mut waited, registered) = process_group::spawn(
        Command::new("setsid")
            .args(["sh", "-c", "exit 0"])
            .stdin(Stdio::null()),
    )
    .unwrap();
    // In our session and group, and nobody will wait for it.
    let stray = Command::new("true").stdin(Stdio::null()).spawn().unwrap();
    let (waited_pid, stray_pid) = (waited.id(), stray.id());
    drop(stray);
    poll_until("both have ended", WAIT, || {
        state(waited_pid) == Some('Z') && state(stray_pid) == Some('Z')
    });

    assert_eq!(process_group::reap_orphans(), 1);
    assert_eq!(state(stray_pid), None, "the stray is reaped");
    let status = waited
        .wait()
        .expect("the registered child is still ours to wait for");
    assert!(status.success());
    drop(registered);
}
