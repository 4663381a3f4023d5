//! A plan that changes while the supervisor runs, in the real binary:
//! `sliceboard.toml` saved the way editors save it (a new file renamed
//! over the old one), and a dashboard over the real socket watching what
//! the board does. Every wait polls until a deadline.

use crate::common;

use common::supervised::*;
use sliceboard::domain::plan_change::PlanProblem;
use sliceboard::domain::{AgentStatus, Command, Lifecycle};

const MACROS: &str =
    "\n[[slice]]\nname = \"macros\"\nowns = [\"macros/**\"]\nlogs = [\"logs/*.log\"]\n";

#[test]
fn a_slice_added_to_the_plan_appears_as_planned_and_up_creates_it() {
    let f = Fixture::new(&[], &[]);
    let mut dash = Dashboard::connect(&f.socket());
    assert!(dash.board.row(&name("macros")).is_none());

    f.repo.save_plan(&(plan(&[]) + MACROS));
    dash.wait_until("macros on the board, planned", |d| {
        d.board
            .row(&name("macros"))
            .is_some_and(|r| r.lifecycle == Lifecycle::Planned && !r.removed)
    });
    assert_eq!(dash.board.slices.len(), 4, "{}", dash.recent());
    assert!(!f.repo.worktree("macros").exists());

    // The dashboard's `U` sends this: it creates the missing worktree.
    dash.request(Command::Up { slices: Vec::new() })
        .expect("up creates the added slice");
    dash.wait_until("macros ready", |d| {
        d.row("macros").lifecycle == Lifecycle::Ready
    });
    assert!(f.repo.worktree("macros").is_dir());
    let status = sliceboard(&f.repo, &["status"]).ok();
    assert!(status.contains("macros"), "{status}");

    // Its files are followed like the others': its log and its diff.
    common::write_file(
        &f.repo.worktree("macros").join("logs/agent.log"),
        "hello from macros\n",
    );
    common::write_file(
        &f.repo.worktree("macros").join("macros/cents.sql"),
        "{% macro cents(x) %}{{ x }} * 100{% endmacro %}\n",
    );
    dash.wait_until("macros' log line and diff on the board", |d| {
        let row = d.row("macros");
        row.logs.iter().any(|l| l.contains("hello from macros"))
            && row
                .diff
                .as_ref()
                .is_some_and(|diff| diff.paths().count() == 1)
    });
}

#[test]
fn an_invalid_edit_shows_the_error_and_keeps_the_board() {
    let f = Fixture::new(&[("staging", "echo started; exec sleep 60")], &[]);
    let mut dash = Dashboard::connect(&f.socket());
    dash.view(&["staging"]);
    dash.request(start_agent("staging"))
        .expect("the agent starts");
    dash.wait_pane("staging", "started");
    let before = dash.board.clone();

    // A misspelt key on the plan's first line.
    let bad = plan(&[("staging", "echo started; exec sleep 60")]).replacen("base", "bsae", 1);
    f.repo.save_plan(&(bad + MACROS));
    dash.wait_until("the plan's error on the board", |d| {
        matches!(&d.board.plan_problem, Some(PlanProblem::Invalid { .. }))
    });
    let Some(PlanProblem::Invalid { message }) = &dash.board.plan_problem else {
        unreachable!()
    };
    assert!(message.contains("sliceboard.toml:1"), "{message}");
    assert!(message.contains("bsae"), "{message}");
    // The board is as it was: no slice added, the agent still running.
    assert!(dash.board.row(&name("macros")).is_none());
    assert_eq!(dash.board.slices.len(), before.slices.len());
    assert_eq!(dash.row("staging").status, AgentStatus::Running);
    let pid = dash.row("staging").pid.expect("the agent's pid");
    assert_eq!(unsafe { libc::kill(pid, 0) }, 0, "the agent still runs");
    // `up` refuses to follow a plan that does not load.
    let up = dash.request(Command::Up { slices: Vec::new() });
    assert!(up.as_ref().is_err_and(|e| e.contains("bsae")), "{up:?}");

    // A setting that cannot change live is named, and not applied.
    f.repo.save_plan(
        &plan(&[("staging", "echo started; exec sleep 60")]).replacen(
            "base = \"main\"",
            "base = \"main\"\nmax_running = 1",
            1,
        ),
    );
    dash.wait_until("max_running said to need a restart", |d| {
        d.board.plan_problem
            == Some(PlanProblem::NeedsRestart {
                keys: vec!["max_running".into()],
            })
    });

    // Fixing the file clears the error.
    f.repo
        .save_plan(&plan(&[("staging", "echo started; exec sleep 60")]));
    dash.wait_until("the error cleared", |d| d.board.plan_problem.is_none());
    assert_eq!(dash.row("staging").status, AgentStatus::Running);
}

#[test]
fn removing_a_running_slice_marks_it_and_status_says_so() {
    let mut f = Fixture::new(&[("staging", "echo started; exec sleep 60")], &[]);
    let mut dash = Dashboard::connect(&f.socket());
    dash.view(&["staging"]);
    dash.request(start_agent("staging"))
        .expect("the agent starts");
    dash.wait_pane("staging", "started");

    let without = plan(&[]).replacen(
        "\n[[slice]]\nname = \"staging\"\nowns = [\"models/staging/**\"]\n",
        "",
        1,
    );
    assert!(!without.contains("staging"), "{without}");
    f.repo.save_plan(&without);
    dash.wait_until("staging marked as removed from the plan", |d| {
        d.board.row(&name("staging")).is_some_and(|r| r.removed)
    });
    assert_eq!(dash.row("staging").status, AgentStatus::Running);
    assert!(
        dash.row("staging")
            .events
            .iter()
            .any(|e| e.text == "removed from the plan")
    );
    // Its agent is still the supervisor's: its pane resizes, and it stops.
    dash.request(Command::ResizeAgent {
        slice: name("staging"),
        cols: 100,
        rows: 30,
    })
    .expect("a removed slice's pane still resizes");
    dash.request(Command::KillAgent {
        slice: name("staging"),
    })
    .expect("a removed slice's agent can still be stopped");

    let status = sliceboard(&f.repo, &["status"]).ok();
    assert!(
        status.contains("staging: removed from the plan"),
        "{status}"
    );
    let json = status_json(&f.repo);
    let staging = json["slices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "staging")
        .expect("staging still in status");
    assert_eq!(staging["in_plan"], false);

    // The next supervisor shows it too, from state: its worktree is there.
    drop(dash);
    sliceboard(&f.repo, &["stop"]).ok();
    f.sup.child.wait().unwrap();
    f.sup = Supervise::start(&f.repo, &[]);
    let dash = Dashboard::connect(&f.socket());
    assert!(dash.row("staging").removed, "{:?}", dash.board.slices);
}
