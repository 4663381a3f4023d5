//! Every descendant of an agent is the agent's: jobs that job control put
//! in groups of their own and children that called `setsid` end with it on
//! `x` (`KillAgent`), `sliceboard kill` and `sliceboard stop`; the
//! supervisor reaps the orphans it inherits; and what a killed supervisor
//! left is found by its mark by the next one and ended on `kill`.

use crate::common;

use common::procs::{alive, all_pids, zombie_children};
use common::supervised::*;
use common::{TestRepo, poll_ok, poll_until};
use sliceboard::domain::{AgentStatus, Event};

/// An agent whose jobs each lead a group of their own (`set -m`), two of
/// them in sessions of their own (`setsid`, one through a parent that exits
/// at once, so its child is an orphan).
const SPREADING: &str = "bash -c 'set -m; sleep 300 & sleep 301 & setsid sleep 302 & \
     setsid sh -c \"sleep 303 & exit 0\" & echo spread-$((6*7)); wait'";

/// The processes bearing the test repository's `staging` agent's mark:
/// `SLICEBOARD_SLICE=staging` and the repository's path in the environment.
fn marked(repo: &TestRepo) -> Vec<i32> {
    let root = repo.root.display().to_string();
    all_pids()
        .into_iter()
        .filter(|pid| {
            let live = alive(*pid);
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                return false;
            };
            let environ = String::from_utf8_lossy(&environ);
            live && environ.split('\0').any(|v| v == "SLICEBOARD_SLICE=staging")
                && environ.contains(&root)
        })
        .collect()
}

/// Kills whatever bears the mark when the test ends, passed or not.
struct KillMarked<'a>(&'a TestRepo);

impl Drop for KillMarked<'_> {
    fn drop(&mut self) {
        for pid in marked(self.0) {
            // SAFETY: signals a process of this test's own agent.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Starts the spreading agent and waits until all its processes run.
fn spread(f: &Fixture) -> Dashboard {
    let mut dash = Dashboard::connect(&f.socket());
    dash.view(&["staging"]);
    dash.request(start_agent("staging"))
        .expect("the agent starts");
    dash.wait_pane("staging", "spread-42");
    // bash, three sleeps of its own and the orphaned one of `sh`.
    poll_until("the agent's five processes run", WAIT, || {
        marked(&f.repo).len() >= 5
    });
    dash
}

fn assert_nothing_marked_left(repo: &TestRepo) {
    poll_ok("no process of the killed agent left", WAIT, || {
        let left = marked(repo);
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("left: {left:?}"))
        }
    });
}

#[test]
fn x_ends_every_group_and_session_under_the_agent_and_reaps_the_orphans() {
    let f = Fixture::new(&[("staging", SPREADING)], &[]);
    let _cleanup = KillMarked(&f.repo);
    let mut dash = spread(&f);
    dash.request(kill_agent("staging")).expect("x is taken");
    dash.wait_event("the agent killed", |e| {
        status_changed(e, "staging", AgentStatus::Killed)
    });
    assert_nothing_marked_left(&f.repo);
    // The orphans it inherited are reaped, not left as zombies.
    poll_until("the supervisor reaps its orphans", WAIT, || {
        zombie_children(f.sup.pid() as i32).is_empty()
    });
    // And a new agent may start in the worktree.
    dash.request(start_agent("staging"))
        .expect("a new agent starts once the tree is gone");
}

#[test]
fn sliceboard_kill_returns_once_the_whole_tree_is_gone() {
    let f = Fixture::new(&[("staging", SPREADING)], &[]);
    let _cleanup = KillMarked(&f.repo);
    let _dash = spread(&f);
    let said = sliceboard(&f.repo, &["kill", "staging"]).ok();
    assert!(said.contains("staging: killed"), "{said}");
    assert_eq!(
        marked(&f.repo),
        Vec::<i32>::new(),
        "kill returned too early"
    );
}

#[test]
fn sliceboard_stop_ends_every_process_of_every_agent() {
    let f = Fixture::new(&[("staging", SPREADING)], &[]);
    let _cleanup = KillMarked(&f.repo);
    let _dash = spread(&f);
    let said = sliceboard(&f.repo, &["stop"]).ok();
    assert!(said.contains("stop"), "{said}");
    assert_nothing_marked_left(&f.repo);
}

#[test]
fn a_setsid_child_a_killed_supervisor_left_is_found_by_its_mark_and_ends_on_kill() {
    // The agent's own session dies with its terminal; the child in a
    // session of its own has no terminal to lose.
    let agent = "bash -c 'set -m; setsid sleep 304 & echo spread-$((6*7)); exec sleep 300'";
    let mut f = Fixture::new(&[("staging", agent)], &[]);
    let _cleanup = KillMarked(&f.repo);
    let dash = {
        let mut dash = Dashboard::connect(&f.socket());
        dash.view(&["staging"]);
        dash.request(start_agent("staging")).expect("starts");
        dash.wait_pane("staging", "spread-42");
        poll_until("both processes run", WAIT, || marked(&f.repo).len() >= 2);
        dash
    };
    drop(dash);
    f.sup.kill();
    poll_until(
        "the agent's own session ends with its terminal",
        WAIT,
        || marked(&f.repo).len() == 1,
    );
    let left = marked(&f.repo)[0];
    f.sup = Supervise::start(&f.repo, &[]);

    let mut dash = Dashboard::connect(&f.socket());
    assert_eq!(dash.row("staging").left_running.map(|l| l.pid), Some(left));
    let why = dash.request(start_agent("staging")).unwrap_err();
    assert!(why.contains("sliceboard kill staging"), "{why}");
    let table = sliceboard(&f.repo, &["status"]).ok();
    assert!(
        table.contains(&format!("left running (pid {left})")),
        "{table}"
    );

    let said = sliceboard(&f.repo, &["kill", "staging"]).ok();
    assert!(said.contains("staging: killed"), "{said}");
    assert_eq!(marked(&f.repo), Vec::<i32>::new());
    dash.wait_event("the mark gone", |e| {
        matches!(e, Event::LeftRunningEnded { .. })
    });
}

/// A supervisor that carries an agent's mark (started from inside that
/// agent, by its `sliceboard merge`) is never taken for part of that
/// agent's tree: killing the agent leaves the supervisor and its other
/// agents alone. And a supervisor started from inside an agent does not
/// carry the mark at all.
#[test]
fn a_supervisor_bearing_an_agents_mark_is_not_part_of_its_tree() {
    let repo_plan = [("staging", "sleep 300"), ("marts", "sleep 301")];
    let f = {
        let repo = TestRepo::with_worktrees(&plan(&repo_plan));
        let socket = repo.socket().display().to_string();
        let sup = Supervise::start(
            &repo,
            &[
                ("SLICEBOARD_SLICE", "staging"),
                ("SLICEBOARD_SOCKET", socket.as_str()),
            ],
        );
        Fixture { sup, repo }
    };
    let _cleanup = KillMarked(&f.repo);
    let mut dash = Dashboard::connect(&f.socket());
    dash.request(start_agent("staging"))
        .expect("staging starts");
    dash.request(start_agent("marts")).expect("marts starts");
    dash.wait_until("both agents run", |d| {
        d.row("marts").pid.is_some() && d.row("staging").pid.is_some()
    });
    let marts = dash.row("marts").pid.expect("marts runs");
    dash.request(kill_agent("staging")).expect("x is taken");
    dash.wait_event("staging killed", |e| {
        status_changed(e, "staging", AgentStatus::Killed)
    });
    // SAFETY: signal 0 only asks whether the process exists.
    assert_eq!(
        unsafe { libc::kill(marts, 0) },
        0,
        "marts' agent was killed"
    );
    assert_eq!(
        unsafe { libc::kill(f.sup.pid() as i32, 0) },
        0,
        "the supervisor was killed"
    );
    drop(dash);
    drop(_cleanup);
    drop(f);

    // Started from inside an agent, a supervisor leaves the agent's
    // variables behind.
    let repo = TestRepo::with_worktrees(&plan(&repo_plan));
    let socket = repo.socket().display().to_string();
    repo.command(env!("CARGO_BIN_EXE_sliceboard"), &repo.root)
        .args(["kill", "staging"])
        .env("SLICEBOARD_SLICE", "staging")
        .env("SLICEBOARD_SOCKET", &socket)
        .output()
        .unwrap();
    let holder: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.state_dir().join("lock")).unwrap_or_default(),
    )
    .expect("a supervisor holds the lock");
    let pid = holder["pid"].as_i64().expect("the lock names its pid");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let environ = String::from_utf8_lossy(&environ);
    assert!(
        !environ
            .split('\0')
            .any(|v| v.starts_with("SLICEBOARD_SLICE=")),
        "the supervisor carries the agent's mark"
    );
    let _ = repo.sliceboard(&["stop"]);
}
