//! No orphans: what an agent leaves running in its process group when it
//! exits (a `nohup` job) is stopped too, unless the plan keeps it; an agent
//! group a killed supervisor left running is shown, blocks a second agent
//! in its worktree, and ends on `kill` (or by itself, which is noticed).

use crate::common;

use std::time::Duration;

use common::procs::alive;
use common::supervised::*;
use common::{TestRepo, poll_ok, poll_until};
use sliceboard::domain::{AgentStatus, Event};

const AGENT: &str = "nohup sleep 300 >/dev/null 2>&1 & echo child=$!; sleep 0.2; exit 0";

/// Starts the staging agent and returns the pid of the job it left.
fn run_agent(keep: bool) -> (i32, Supervise, TestRepo, Dashboard) {
    let mut text = plan(&[("staging", AGENT)]);
    if keep {
        text = text.replace("[agent]\n", "[agent]\nkeep_children = true\n");
    }
    let repo = TestRepo::with_worktrees(&text);
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
            .any(|e| e.text.contains("left 1 process running")),
        "{:?}",
        dash.row("staging").events
    );
    poll_until(
        format!("the nohup job {child} stopped with its agent"),
        WAIT,
        || !alive(child),
    );
}

#[test]
fn keep_children_leaves_them_running() {
    let (child, _sup, _repo, _dash) = run_agent(true);
    // Past the point where a leftover would have been stopped. A sleep,
    // not a wait: what is tested is that nothing happens to the job.
    std::thread::sleep(Duration::from_secs(1));
    assert!(alive(child), "kept job {child} was stopped");
    // SAFETY: signals the test's own stray job.
    unsafe { libc::kill(child, libc::SIGKILL) };
}

/// An agent that ignores the hangup its closed terminal sends, so it
/// outlives a supervisor that dies.
const HUP_PROOF: &str = "trap '' HUP; echo left-$((6*7)); exec sleep 300";

/// Starts the staging agent, kills the supervisor outright, and starts a
/// new one: the agent's group is still alive. Returns its pid.
fn left_by_a_killed_supervisor(f: &mut Fixture) -> (i32, KillGroup) {
    let mut dash = Dashboard::connect(&f.socket());
    dash.view(&["staging"]);
    dash.request(start_agent("staging"))
        .expect("the agent starts");
    dash.wait_until("the agent's pid", |d| d.row("staging").pid.is_some());
    let pid = dash.row("staging").pid.unwrap();
    let guard = KillGroup(pid);
    dash.wait_pane("staging", "left-42");
    drop(dash);
    f.sup.kill();
    assert!(
        alive(pid),
        "the agent ignoring HUP died with its supervisor"
    );
    f.sup = Supervise::start(&f.repo, &[]);
    (pid, guard)
}

/// The journal's events about `slice`, as `event` (`state` for a status).
/// Waits until the slice's journal ends with `expected`: an end and the
/// run's last status are journaled one after the other, and the board can
/// show the first before the second is written.
fn journal_ends_with(repo: &TestRepo, slice: &str, expected: &[&str]) {
    poll_ok(
        format!("{slice}'s journal ending with {expected:?}"),
        Duration::from_secs(10),
        || {
            let events = journaled(repo, slice);
            if events.ends_with(&expected.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>()) {
                Ok(())
            } else {
                Err(format!("{events:?}"))
            }
        },
    );
}

fn journaled(repo: &TestRepo, slice: &str) -> Vec<String> {
    repo.journal()
        .iter()
        .filter(|e| e["slice"] == slice)
        .map(|e| match e["status"]["state"].as_str() {
            Some(state) => format!("{}:{state}", e["event"].as_str().unwrap()),
            None => e["event"].as_str().unwrap().to_owned(),
        })
        .collect()
}

#[test]
fn a_group_left_by_a_killed_supervisor_is_shown_blocks_starts_and_ends_on_kill() {
    let mut f = Fixture::new(&[("staging", HUP_PROOF)], &[]);
    let (pid, _guard) = left_by_a_killed_supervisor(&mut f);

    // The board, its Events and `status` say so, with the pid.
    let mut dash = Dashboard::connect(&f.socket());
    let row = dash.row("staging");
    assert_eq!(row.left_running.map(|l| l.pid), Some(pid));
    assert!(
        row.events.iter().any(|e| e.text.contains(&format!(
            "agent group {pid} was left running by a previous supervisor"
        ))),
        "{:?}",
        row.events
    );
    let json = status_json(&f.repo);
    assert_eq!(json["slices"][0]["agent"]["left_running"]["pid"], pid);
    let table = sliceboard(&f.repo, &["status"]).ok();
    assert!(
        table.contains(&format!("left running (pid {pid})"))
            && table.contains("sliceboard kill staging"),
        "{table}"
    );

    // No second agent starts in its worktree, however it is asked for.
    for command in [
        start_agent("staging"),
        restart_agent("staging"),
        sliceboard::domain::Command::Prompt {
            slice: name("staging"),
            text: "go on".into(),
            by_itself: false,
        },
    ] {
        let why = dash.request(command.clone()).unwrap_err();
        assert!(
            why.contains(&format!("agent group {pid}")) && why.contains("sliceboard kill staging"),
            "{command:?}: {why}"
        );
    }
    assert!(alive(pid));

    // `kill` ends it, and returns once it is gone.
    let said = sliceboard(&f.repo, &["kill", "staging"]).ok();
    assert!(said.contains("staging: killed"), "{said}");
    assert!(!alive(pid), "kill returned before group {pid} was gone");
    dash.wait_until("the mark gone", |d| d.row("staging").left_running.is_none());
    journal_ends_with(
        &f.repo,
        "staging",
        &[
            "left_running_found",
            "left_running_ended",
            "agent_status_changed:killed",
        ],
    );
    dash.request(start_agent("staging"))
        .expect("an agent starts once the group is gone");
    let _new = KillGroup({
        dash.wait_until("the new agent's pid", |d| d.row("staging").pid.is_some());
        dash.row("staging").pid.unwrap()
    });
}

#[test]
fn a_group_left_running_that_ends_by_itself_loses_its_mark() {
    let mut f = Fixture::new(&[("staging", HUP_PROOF)], &[]);
    let (pid, _guard) = left_by_a_killed_supervisor(&mut f);
    let mut dash = Dashboard::connect(&f.socket());
    assert_eq!(dash.row("staging").left_running.map(|l| l.pid), Some(pid));
    // SAFETY: kills the test's own agent group.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    dash.wait_until("the mark gone", |d| d.row("staging").left_running.is_none());
    assert!(
        dash.row("staging")
            .events
            .iter()
            .any(|e| e.text.ends_with("ended by itself")),
        "{:?}",
        dash.row("staging").events
    );
    journal_ends_with(
        &f.repo,
        "staging",
        &["left_running_ended", "agent_status_changed:exited"],
    );
    assert!(
        !f.repo
            .state_dir()
            .join("slices/staging/agent.json")
            .exists()
    );
}

#[test]
fn a_recorded_pid_now_another_process_is_neither_marked_nor_signalled() {
    let repo = TestRepo::with_worktrees(&plan(&[]));
    // A process that got the recorded pid: alive, but started at another
    // time than the record says.
    let mut stranger = std::process::Command::new("sleep")
        .arg("300")
        .spawn()
        .unwrap();
    let record = repo.state_dir().join("slices/staging/agent.json");
    std::fs::create_dir_all(record.parent().unwrap()).unwrap();
    std::fs::write(
        &record,
        format!(r#"{{"pid":{},"started":1}}"#, stranger.id()),
    )
    .unwrap();
    let _sup = Supervise::start(&repo, &[]);
    let dash = Dashboard::connect(&repo.socket());
    assert_eq!(dash.row("staging").left_running, None);
    assert!(!record.exists(), "a stale record is dropped");
    assert!(
        stranger.try_wait().unwrap().is_none(),
        "a stranger was signalled"
    );
    stranger.kill().unwrap();
    stranger.wait().unwrap();
}
