//! No orphans: what an agent leaves running in its process group when it
//! exits (a `nohup` job) is stopped too, unless the plan keeps it.

mod common;

use std::time::{Duration, Instant};

use common::TestRepo;
use common::supervised::*;
use sliceboard::domain::{AgentStatus, Event};

const AGENT: &str = "nohup sleep 300 >/dev/null 2>&1 & echo child=$!; sleep 0.2; exit 0";

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

/// Starts the staging agent and returns the pid of the job it left.
fn run_agent(keep: bool) -> (i32, Supervise, TestRepo, Dashboard) {
    let mut text = plan(&[("staging", AGENT)]);
    if keep {
        text = text.replace("[agent]\n", "[agent]\nkeep_children = true\n");
    }
    let repo = TestRepo::with_plan_text(&text);
    repo.sliceboard(&["up"]).ok();
    let sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());
    dash.view(&["staging"]);
    dash.request(start_agent("staging")).unwrap();
    dash.wait_event("the agent exits", |e| {
        matches!(
            e,
            Event::AgentStatusChanged {
                status: AgentStatus::Exited { .. },
                ..
            }
        )
    });
    let text = dash.pane_text(&name("staging"));
    let child: i32 = text
        .split("child=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no child pid on screen:\n{text}"));
    (child, sup, repo, dash)
}

#[test]
fn a_job_the_agent_left_in_its_group_is_stopped_when_it_exits() {
    let (child, _sup, _repo, dash) = run_agent(false);
    // Said in the slice's Events, before its exit.
    assert!(
        dash.row("staging")
            .events
            .iter()
            .any(|e| e.text.contains("left 1 process running in its group")),
        "{:?}",
        dash.row("staging").events
    );
    let deadline = Instant::now() + WAIT;
    while alive(child) {
        assert!(
            Instant::now() < deadline,
            "the nohup job {child} outlived its agent"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn keep_children_leaves_them_running() {
    let (child, _sup, _repo, _dash) = run_agent(true);
    // Past the point where a leftover would have been stopped.
    std::thread::sleep(Duration::from_secs(1));
    assert!(alive(child), "kept job {child} was stopped");
    // SAFETY: signals the test's own stray job.
    unsafe { libc::kill(child, libc::SIGKILL) };
}
