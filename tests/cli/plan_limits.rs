//! What sliceboard reads is bounded and stays where it belongs: the plan
//! must be a regular file of sane size (a FIFO would hang `check`,
//! `/dev/zero` behind a symlink would eat memory), `logs` globs stay inside
//! the worktree, and a prompt too large for one argument reaches the agent
//! through `{prompt_file}`.

use crate::common;

use std::time::{Duration, Instant};

use common::supervised::*;
use common::{Plan, TestRepo};

/// Runs `sliceboard check` within the deadline, so a hang fails the test
/// instead of stalling it; `check` must fail.
fn check_within(repo: &TestRepo) -> String {
    sliceboard(repo, &["check"]).fails()
}

#[test]
fn a_fifo_or_a_device_as_the_plan_is_refused_at_once() {
    let repo = TestRepo::new();
    let plan = repo.root.join("sliceboard.toml");
    let status = std::process::Command::new("mkfifo")
        .arg(&plan)
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let err = check_within(&repo);
    assert!(err.contains("is not a regular file"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
    std::fs::remove_file(&plan).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &plan).unwrap();
    let err = check_within(&repo);
    assert!(err.contains("is not a regular file"), "{err}");
}

#[test]
fn logs_globs_outside_the_worktree_are_refused() {
    for glob in ["../../outside/*.log", "/var/log/*.log", "logs/../../x.log"] {
        let plan = Plan::new("claude")
            .slice(
                "staging",
                &["models/**"],
                &[&format!("logs = [{}]", toml_string(glob))],
            )
            .to_string();
        let repo = TestRepo::new();
        repo.write("sliceboard.toml", &plan);
        let err = repo.sliceboard(&["check"]).fails();
        assert!(
            err.contains("reaches outside the worktree"),
            "{glob}: {err}"
        );
    }
}

/// A prompt too large for one argument reaches the agent through
/// `{prompt_file}`; given as `{prompt}`, `check` refuses it up front.
#[test]
fn a_200_kib_prompt_reaches_the_agent_through_prompt_file() {
    let prompt = "x".repeat(200 * 1024);
    let text = |command: &str| {
        Plan::new(command)
            .staging(&[&format!("prompt = \"{prompt}\"")])
            .to_string()
    };
    let repo = TestRepo::with_plan_text(&text("claude {prompt}"));
    let refused = repo.sliceboard(&["check"]).fails();
    assert!(
        refused.contains("slice.prompt: of slice `staging` is 200 KiB")
            && refused.contains("{prompt_file}"),
        "{refused}"
    );

    let repo = TestRepo::with_worktrees(&text(
        "echo prompt-bytes=$(wc -c < {prompt_file}); exec sleep 60",
    ));
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());
    dash.view(&["staging"]);
    dash.request(start_agent("staging"))
        .expect("the agent starts");
    dash.wait_pane("staging", "prompt-bytes=204800");
}
