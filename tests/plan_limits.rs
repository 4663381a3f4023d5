//! What sliceboard reads is bounded and stays where it belongs: the plan
//! must be a regular file of sane size (a FIFO would hang `check`,
//! `/dev/zero` behind a symlink would eat memory), `logs` globs stay inside
//! the worktree, and a prompt too large for one argument reaches the agent
//! through `{prompt_file}`.

mod common;

use std::time::{Duration, Instant};

use common::TestRepo;
use common::supervised::*;

/// Runs `sliceboard check` on a thread, so a hang fails the test instead
/// of stalling it.
fn check_within(repo: &TestRepo) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut command = repo.command(common::BIN, &repo.root);
    command.arg("check");
    std::thread::spawn(move || {
        let _ = tx.send(command.output());
    });
    let out = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("check answers instead of hanging")
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
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
        let plan = format!(
            "base = \"main\"\n\n[agent]\ncommand = \"claude\"\n\n[[slice]]\nname = \"staging\"\nowns = [\"models/**\"]\nlogs = [{}]\n",
            toml_string(glob)
        );
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
        format!(
            "base = \"main\"\n\n[agent]\ncommand = {}\n\n[[slice]]\nname = \"staging\"\nowns = [\"models/staging/**\"]\nprompt = \"{prompt}\"\n",
            toml_string(command)
        )
    };
    let repo = TestRepo::with_plan_text(&text("claude {prompt}"));
    let refused = repo.sliceboard(&["check"]).fails();
    assert!(
        refused.contains("slice.prompt: of slice `staging` is 200 KiB")
            && refused.contains("{prompt_file}"),
        "{refused}"
    );

    let repo = TestRepo::with_plan_text(&text(
        "echo prompt-bytes=$(wc -c < {prompt_file}); exec sleep 60",
    ));
    repo.sliceboard(&["up"]).ok();
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());
    dash.view(&["staging"]);
    dash.request(start_agent("staging"))
        .expect("the agent starts");
    dash.wait_pane("staging", "prompt-bytes=204800");
}
