//! The plan's `[worktree] setup`: run after `up` creates a worktree, in
//! the slice's environment, with its output kept and shown in the Logs
//! tab; an agent whose setup failed does not start until the setup passes
//! (`sliceboard setup`, S in the dashboard) or the operator skips it.

use crate::common;

use common::supervised::*;
use common::{Plan, TestRepo, poll_until};
use sliceboard::domain::Command;
use sliceboard::domain::setup::SetupStatus;
use sliceboard::domain::wire::{ClientMsg, ServerMsg};

fn plan(setup: &[&str]) -> String {
    let setup: Vec<String> = setup.iter().map(|c| toml_string(c)).collect();
    Plan::new("echo agent-started; exec sleep 600")
        .table(&format!("[worktree]\nsetup = [{}]", setup.join(", ")))
        .staging(&[])
        .marts(&[])
        .to_string()
}

#[test]
fn up_runs_the_setup_in_each_new_worktree_with_the_slice_environment() {
    let repo = TestRepo::with_plan_text(&plan(&[
        "echo \"set up $SLICEBOARD_SLICE in $PWD\" > setup-ran.txt",
        "echo hello-from-setup",
    ]));
    let out = repo.sliceboard(&["up"]).ok();
    assert!(out.contains("staging: setup passed"), "{out}");
    for slice in ["staging", "marts"] {
        let worktree = repo.worktree(slice);
        let ran = std::fs::read_to_string(worktree.join("setup-ran.txt")).unwrap();
        assert_eq!(
            ran.trim(),
            format!("set up {slice} in {}", worktree.display())
        );
        let log =
            std::fs::read_to_string(repo.state_dir().join(format!("slices/{slice}/setup.log")))
                .unwrap();
        assert!(
            log.contains("$ echo hello-from-setup\nhello-from-setup\n"),
            "{log}"
        );
    }
    let status = repo.status_json();
    assert_eq!(status["slices"][0]["setup"]["status"], "passed");
    let journal =
        std::fs::read_to_string(repo.state_dir().join("events.jsonl")).unwrap_or_default();
    assert!(journal.contains("\"setup_finished\""), "{journal}");
    // A second `up` finds the worktrees there and runs nothing again.
    std::fs::remove_file(repo.worktree("staging").join("setup-ran.txt")).unwrap();
    repo.sliceboard(&["up"]).ok();
    assert!(!repo.worktree("staging").join("setup-ran.txt").exists());
}

#[test]
fn a_failing_setup_holds_the_agent_back_until_it_passes_or_is_skipped() {
    let repo = TestRepo::with_plan_text(&plan(&[
        "echo preparing",
        "test -f ready.flag || { echo 'packages not ready' >&2; exit 3; }",
    ]));
    let out = repo.sliceboard(&["up"]).fails();
    assert!(
        out.contains("staging: setup FAILED: `test -f ready.flag"),
        "{out}"
    );
    assert!(out.contains("exited 3"), "{out}");
    let table = repo.sliceboard(&["status"]).ok();
    assert!(
        table.contains("! staging: setup FAILED") && table.contains("its agent waits"),
        "{table}"
    );

    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());
    assert_eq!(
        dash.row("staging").setup.as_ref().map(|s| s.status),
        Some(SetupStatus::Failed)
    );
    // Its output is in the Logs tab.
    dash.wait_until("the setup's output in the Logs tab", |d| {
        d.row("staging")
            .logs
            .iter()
            .any(|l| l == "setup | packages not ready")
    });
    let refused = dash.request(start_agent("staging")).unwrap_err();
    assert!(
        refused.contains("setup FAILED") && refused.contains("sliceboard setup staging"),
        "{refused}"
    );

    // Fixed, and run again: the agent starts.
    std::fs::write(repo.worktree("staging").join("ready.flag"), "").unwrap();
    let said = dash
        .request(Command::Setup {
            slice: name("staging"),
            skip: false,
        })
        .unwrap();
    assert_eq!(said, "staging: setup passed");
    dash.wait_until("the board knows", |d| {
        d.row("staging").setup.as_ref().map(|s| s.status) == Some(SetupStatus::Passed)
    });
    dash.request(start_agent("staging")).expect("starts now");

    // The operator may skip a failed setup instead.
    assert!(dash.request(start_agent("marts")).is_err());
    repo.sliceboard(&["setup", "marts", "--skip"]).ok();
    dash.request(start_agent("marts"))
        .expect("starts when skipped");
}

/// Runs `staging`'s setup through a running supervisor (a subreaper that
/// reaps orphans on SIGCHLD) and returns what it said.
fn setup_through_supervisor(repo: &TestRepo) -> (Supervise, String) {
    let sup = Supervise::start(repo, &[]);
    let said = cli(
        &repo.socket(),
        Command::Setup {
            slice: name("staging"),
            skip: false,
        },
    )
    .unwrap_or_else(|err| err);
    (sup, said)
}

#[test]
fn a_setup_command_in_a_session_of_its_own_is_waited_for_not_reaped_as_an_orphan() {
    // `sh -c` execs `setsid`, which is no group leader, so it calls
    // setsid() in place: the supervisor's direct child leaves its session.
    let repo = TestRepo::with_plan_text(&plan(&["setsid sh -c 'exit 0'"]));
    repo.sliceboard(&["up"]).ok();
    let (_sup, said) = setup_through_supervisor(&repo);
    assert_eq!(said, "staging: setup passed");
}

#[test]
fn an_orphan_the_setup_left_in_a_group_of_its_own_is_reaped_when_it_ends() {
    // `timeout` leads a group of its own in the supervisor's session; once
    // the setup's shell exits it is the supervisor's child, and nobody's
    // to wait for.
    let repo = TestRepo::with_plan_text(&plan(&[
        "timeout 30 sleep 0.3 >/dev/null 2>&1 & echo $! > timeout.pid",
    ]));
    repo.sliceboard(&["up"]).ok();
    let (sup, said) = setup_through_supervisor(&repo);
    assert_eq!(said, "staging: setup passed");
    let pid = std::fs::read_to_string(repo.worktree("staging").join("timeout.pid")).unwrap();
    let pid: i32 = pid.trim().parse().unwrap();
    poll_until(
        format!("the orphan {pid} reaped (by supervisor {})", sup.pid()),
        WAIT,
        || common::procs::stat(pid).is_none(),
    );
}

/// A setup run through the supervisor shows its output in the Logs tab as
/// it runs, not when it ends: its files are in the state folder, which
/// nothing watches, so the follower is told as each command starts.
#[test]
fn a_setup_running_through_the_supervisor_shows_its_output_as_it_comes() {
    let held = tempfile::tempdir().unwrap();
    let hold = held.path().join("hold.flag");
    let repo = TestRepo::with_plan_text(&plan(&[&format!(
        "echo first-line; while [ -f {} ]; do sleep 0.05; done; echo second-line",
        hold.display()
    )]));
    repo.sliceboard(&["up"]).ok();
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());
    dash.wait_until("the first setup's output", |d| {
        d.row("staging")
            .logs
            .iter()
            .any(|l| l == "setup | second-line")
    });
    std::fs::write(&hold, "").unwrap();
    let mut setup = repo.command(common::BIN, &repo.root);
    setup
        .args(["setup", "staging"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut setup = setup.spawn().unwrap();
    let count =
        |d: &Dashboard, line: &str| d.row("staging").logs.iter().filter(|l| *l == line).count();
    // The second run's first line, while it runs (the first run's lines
    // are still in the tab).
    dash.wait_until("the first line again, while it runs", |d| {
        count(d, "setup | first-line") == 2 && count(d, "setup | second-line") == 1
    });
    assert!(setup.try_wait().unwrap().is_none(), "still running");
    std::fs::remove_file(&hold).unwrap();
    dash.wait_until("the second line again", |d| {
        count(d, "setup | second-line") == 2
    });
    assert!(setup.wait().unwrap().success());
}

/// A `down` waits for the worktree operation before it (here marts'
/// setup). Meanwhile no agent starts in the worktree it is about to
/// remove; once the down is done the slice's record says so.
#[test]
fn no_agent_starts_in_a_worktree_whose_down_waits_its_turn() {
    let held = tempfile::tempdir().unwrap();
    let hold = held.path().join("hold.flag");
    let started = held.path().join("setup-started");
    let repo = TestRepo::with_plan_text(&plan(&[&format!(
        "if [ -f {hold} ]; then touch {started}; while [ -f {hold} ]; do sleep 0.05; done; fi",
        hold = hold.display(),
        started = started.display()
    )]));
    repo.sliceboard(&["up"]).ok();
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());
    std::fs::write(&hold, "").unwrap();
    dash.send(&ClientMsg::Request {
        id: 1_000,
        command: Command::Setup {
            slice: name("marts"),
            skip: false,
        },
    });
    poll_until("marts' setup holds the turn", WAIT, || started.exists());
    // In the order they came: the down, then the start.
    dash.send(&ClientMsg::Request {
        id: 1_001,
        command: Command::Down {
            slice: name("staging"),
            force: false,
        },
    });
    let why = dash.request(start_agent("staging")).unwrap_err();
    assert!(why.contains("its worktree is coming down"), "{why}");
    std::fs::remove_file(&hold).unwrap();
    let down = dash.wait_for("the down's reply", |message| match message {
        ServerMsg::Reply { id: 1_001, result } => Some(result.clone()),
        _ => None,
    });
    assert!(down.is_ok(), "{down:?}");
    assert!(!repo.worktree("staging").exists());
    // Done: the slice may start again (its worktree is gone, and it says so).
    let why = dash.request(start_agent("staging")).unwrap_err();
    assert!(!why.contains("coming down"), "{why}");
}
