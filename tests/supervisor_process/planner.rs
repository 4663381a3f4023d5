//! The planner agent (`[planner]`), in the real binary with its
//! supervisor: it runs in the main worktree with a brief about its job,
//! the plan's format and the DAG; it never merges; and once every slice
//! has merged it is sent the aggregate result, checked with a scripted
//! planner that records what reaches its terminal.

use crate::common;

use common::supervised::{Supervise, cli, sliceboard, start_agent, status_json};
use common::{Plan, TestRepo, poll_until, slice_status, toml_string};
use std::path::Path;
use std::time::Duration;

/// How long the planner may take to hear of a merge.
const PATIENCE: Duration = Duration::from_secs(30);

fn plan(recording: &Path) -> String {
    let planner = format!(
        "[planner]\ncommand = {}\nprompt = \"Move the shop's models to DuckDB.\"",
        toml_string(&format!("cat > '{}'", recording.display()))
    );
    Plan::new("sleep 600")
        .table(&planner)
        .staging(&[])
        .marts(&["after = [\"staging\"]"])
        .to_string()
}

fn commit_in(repo: &TestRepo, slice: &str, path: &str, message: &str) {
    repo.commit_in(slice, &[(path, "select 42 as id\n")], message);
}

#[test]
fn the_planner_plans_in_the_main_worktree_and_reviews_once_all_merged() {
    let repo = TestRepo::new();
    let recording = repo.top.join("planner-input.txt");
    repo.write("sliceboard.toml", &plan(&recording));
    repo.commit_all("plan with a planner");

    let check = repo.sliceboard(&["check"]).ok();
    assert!(check.contains("planner       cat >"), "{check}");
    assert!(check.contains("2 slices, in merge order"), "{check}");
    let up = repo.sliceboard(&["up"]).ok();
    assert!(up.contains("2 worktrees created"), "{up}");
    // Its brief: the job, the plan's format, the slices planned now, and
    // what is known of the DAG (no manifest here: how to make one).
    let brief = std::fs::read_to_string(repo.state_dir().join("slices/planner/brief.md")).unwrap();
    for expected in [
        "# Planner",
        "write `sliceboard.toml` at the repository root",
        "## The plan's format",
        "- `staging`: `models/staging/**`",
        "- `marts`: `models/marts/**`, after `staging`",
        "Move the shop's models to DuckDB.",
        "## The dbt DAG",
        "No manifest at",
    ] {
        assert!(brief.contains(expected), "{expected:?} in:\n{brief}");
    }

    let _sup = Supervise::start(&repo, &[]);
    let socket = repo.socket();
    cli(&socket, start_agent("planner")).expect("the planner starts");
    let status = status_json(&repo);
    let planner = slice_status(&status, "planner").clone();
    assert_eq!(planner["worktree"], repo.root.display().to_string());
    assert_eq!(planner["branch"], "main");
    assert_eq!(planner["agent"]["status"]["state"], "running");
    // It never merges, and its worktree is never removed.
    let refused = sliceboard(&repo, &["approve", "planner"]).fails();
    assert!(refused.contains("is the planner"), "{refused}");
    let refused = sliceboard(&repo, &["down", "planner"]).fails();
    assert!(refused.contains("is the planner"), "{refused}");

    // The slices do their work and merge; the planner hears nothing yet.
    commit_in(
        &repo,
        "staging",
        "models/staging/stg_new.sql",
        "staging done",
    );
    sliceboard(&repo, &["approve", "staging", "--force"]).ok();
    sliceboard(&repo, &["merge", "staging"]).ok();
    // A sleep, not a wait: what is tested is that nothing arrives, so the
    // planner is given a moment in which it must hear nothing.
    std::thread::sleep(Duration::from_millis(300));
    let heard = std::fs::read_to_string(&recording).unwrap_or_default();
    assert!(!heard.contains("Review the aggregate"), "{heard}");
    commit_in(&repo, "marts", "models/marts/fct_new.sql", "marts done");
    sliceboard(&repo, &["approve", "marts", "--force"]).ok();
    sliceboard(&repo, &["merge", "marts"]).ok();

    // The last merge sends the review by itself.
    let main = repo.git(&["rev-parse", "main"]);
    poll_until("the planner to get the review", PATIENCE, || {
        std::fs::read_to_string(&recording)
            .unwrap_or_default()
            .contains("Review the merged result")
    });
    let heard = std::fs::read_to_string(&recording).unwrap();
    for expected in [
        "Review the aggregate result of the refactor (sent by sliceboard): 2 of 2 slices merged into `main`.",
        &format!("- marts: merge commit {}", &main.trim()[..10]),
        "- staging: merge commit",
        "- none configured (`[merge] check`)",
        "Ownership flags still open:",
    ] {
        assert!(heard.contains(expected), "{expected:?} in:\n{heard}");
    }
    // And again on request.
    let said = sliceboard(&repo, &["review"]).ok();
    assert!(
        said.contains("sent planner the aggregate result (2 of 2 slices merged)"),
        "{said}"
    );
    poll_until("the second review", PATIENCE, || {
        std::fs::read_to_string(&recording)
            .unwrap_or_default()
            .matches("Review the aggregate result")
            .count()
            == 2
    });
    let journal = std::fs::read_to_string(repo.state_dir().join("events.jsonl")).unwrap();
    assert_eq!(
        journal.matches("\"event\":\"review_sent\"").count(),
        2,
        "{journal}"
    );
}

#[test]
fn the_planner_takes_no_running_slot_and_a_waiting_slice_says_whose_slots_are_full() {
    let repo = TestRepo::new();
    let recording = repo.top.join("planner-input.txt");
    let text =
        plan(&recording).replacen("base = \"main\"\n", "base = \"main\"\nmax_running = 1\n", 1);
    repo.write("sliceboard.toml", &text);
    repo.commit_all("plan with a planner and one slot");
    repo.sliceboard(&["up"]).ok();
    let _sup = Supervise::start(&repo, &[]);
    let socket = repo.socket();
    cli(&socket, start_agent("planner")).expect("the planner starts");
    // The planner runs, and the one slot is still free for a slice.
    let started = cli(&socket, start_agent("staging")).expect("staging starts");
    assert!(!started.contains("pending"), "{started}");
    let waits = cli(&socket, start_agent("marts")).expect("marts waits");
    assert!(
        waits.contains("marts: pending: 1 of 1 running (staging)"),
        "{waits}"
    );
    let status = status_json(&repo);
    let state = |slice: &str| slice_status(&status, slice)["agent"]["status"]["state"].clone();
    assert_eq!(state("planner"), "running");
    assert_eq!(state("staging"), "running");
    assert_eq!(state("marts"), "pending");
    // `status` says why, for a person.
    let table = sliceboard(&repo, &["status"]).ok();
    assert!(
        table.contains("! marts: pending: 1 of 1 running (staging); it starts when one ends"),
        "{table}"
    );
    // The slice's events on the board say why too.
    let dashboard = common::supervised::Dashboard::connect(&socket);
    let events: Vec<&str> = dashboard
        .row("marts")
        .events
        .iter()
        .map(|e| e.text.as_str())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e.contains("pending: 1 of 1 running (staging)")),
        "{events:?}"
    );
}
