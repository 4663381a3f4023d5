//! After a reboot: `sliceboard up --resume` restarts, with the resume
//! command, every agent whose run was cut off.

use crate::common::procs::alive;
use crate::common::supervised::{Supervise, cli, start_agent, status_json};
use crate::common::{TestRepo, WAIT, poll_some, poll_until};

const PLAN: &str = r#"base = "main"

[agent]
command = "echo fresh-run; exec sleep 60"
resume = "echo resumed-run; exec sleep 60"

[[slice]]
name = "staging"
owns = ["models/staging/**"]

[[slice]]
name = "marts"
owns = ["models/marts/**"]
"#;

fn agent(repo: &TestRepo, slice: &str) -> serde_json::Value {
    status_json(repo)["slices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == slice)
        .map(|s| s["agent"].clone())
        .unwrap()
}

#[test]
fn up_resume_restarts_the_agents_a_reboot_cut_off_with_their_resume_command() {
    let repo = TestRepo::with_worktrees(PLAN);
    let mut sup = Supervise::start(&repo, &[]);
    cli(&repo.socket(), start_agent("staging")).expect("the agent starts");
    let pid = poll_some("staging's agent running", WAIT, || {
        agent(&repo, "staging")["pid"].as_i64()
    }) as i32;

    // A reboot: the supervisor and the agent are gone, nobody saw it end.
    sup.kill();
    // SAFETY: SIGKILL to the agent's own process group.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    poll_until("the agent gone", WAIT, || !alive(pid));

    let out = repo.sliceboard(&["up", "--resume"]).ok();
    assert!(
        out.contains("resumed (its resume command): staging"),
        "{out}"
    );
    assert!(!out.contains("marts"), "marts never ran: {out}");
    let transcript = repo.state_dir().join("slices/staging/pty.log");
    poll_until("the resume command ran", WAIT, || {
        std::fs::read_to_string(&transcript).is_ok_and(|t| t.contains("resumed-run"))
    });
    assert_eq!(agent(&repo, "staging")["status"]["state"], "running");

    // Nothing cut off now: nothing to resume.
    let again = repo.sliceboard(&["up", "--resume"]).ok();
    assert!(again.contains("nothing to resume"), "{again}");
    repo.sliceboard(&["stop"]).ok();
}
