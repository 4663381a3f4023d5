//! The merge queue running itself (`[merge] on_failure = "feedback"`,
//! `approve = "when-green"`, `auto`, `max_attempts`): from an agent's
//! commit to a merged slice with no command but the agent's start, and a
//! slice that keeps failing handed to the operator, who is called.

use crate::common;

use common::supervised::{Supervise, cli, start_agent};
use common::{BIN, Plan, TestRepo, WAIT, poll_ok, toml_string};
use serde_json::Value;

/// The agent: commits its work and says it is done; then, each time it
/// is told something (the queue's feedback, as a paste), it commits
/// `models/staging/fix_N.sql` and says it is done again. The check passes
/// once `fix_$FIXED_AT.sql` is in the merge.
fn agent() -> String {
    "echo 'select 1 as id' > models/staging/orders.sql && git add -A && git commit -qm work && \
     \"$SB\" signal idle; n=0; while IFS= read -r line; do \
       case \"$line\" in *'merge queue'*) ;; *) continue ;; esac; \
       sleep 0.5; n=$((n+1)); echo \"select $n\" > models/staging/fix_$n.sql; \
       git add -A && git commit -qm \"fix $n\"; \"$SB\" signal busy; \"$SB\" signal idle; \
     done"
        .to_owned()
}

/// A check that passes once the agent's `fix_N.sql` is in the merge.
fn repo(fixed_at: u32, extra: &str) -> TestRepo {
    repo_checked(
        &format!(
            "test -f models/staging/fix_{fixed_at}.sql || {{ echo 'orders: 3 rows, want 4'; exit 1; }}"
        ),
        extra,
    )
}

fn repo_checked(check: &str, extra: &str) -> TestRepo {
    let plan = Plan::new(&agent())
        .top("integration = \"integration\"")
        .agent(&format!("env = {{ SB = {} }}", toml_string(BIN)))
        .table(&format!(
            "[merge]\ncheck = {}\nauto = true\non_failure = \"feedback\"\napprove = \"when-green\"\n{extra}",
            toml_string(check)
        ))
        .slice("staging", &["models/staging/**"], &[])
        .to_string();
    staging_repo(&plan)
}

/// A repository with `plan` (its one slice owning `models/staging/`),
/// its worktrees made.
fn staging_repo(plan: &str) -> TestRepo {
    let repo = TestRepo::without_dbt_project();
    repo.write("models/staging/.keep", "");
    repo.write("sliceboard.toml", plan);
    repo.commit_all("plan");
    repo.sliceboard(&["up"]).ok();
    repo
}

fn events(repo: &TestRepo, kind: &str) -> Vec<Value> {
    repo.journal()
        .into_iter()
        .filter(|e| e["event"] == kind && e["slice"] == "staging")
        .collect()
}

fn journal_kinds(repo: &TestRepo) -> String {
    repo.journal()
        .iter()
        .map(|e| format!("{} {} {}", e["actor"], e["event"], e["slice"]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_failed_check_tells_the_agent_and_its_fix_is_approved_and_merged_with_no_command() {
    let repo = repo(1, "");
    let _sup = Supervise::start(&repo, &[]);
    cli(&repo.socket(), start_agent("staging")).expect("the agent starts");

    let merged = poll_ok("staging merged by itself", WAIT * 3, || {
        events(&repo, "merged")
            .into_iter()
            .next()
            .ok_or_else(|| journal_kinds(&repo))
    });
    // The journal tells the story: approved by itself, the check failed,
    // the agent told by the queue, its fix approved by itself, merged.
    let approvals = events(&repo, "approved");
    assert_eq!(approvals.len(), 2, "{}", journal_kinds(&repo));
    assert!(
        approvals
            .iter()
            .all(|a| a["by_itself"] == true && a["actor"] == "sliceboard"),
        "{approvals:?}"
    );
    let failed = events(&repo, "check_failed");
    assert_eq!(failed.len(), 1, "{}", journal_kinds(&repo));
    assert!(
        failed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("orders: 3 rows, want 4"),
        "{failed:?}"
    );
    let told = events(&repo, "feedback_sent");
    assert_eq!(told.len(), 1);
    assert_eq!(told[0]["actor"], "sliceboard");
    let prompt = events(&repo, "prompt_sent");
    assert_eq!(
        prompt[0]["actor"], "sliceboard",
        "the queue sent it: {prompt:?}"
    );
    assert!(
        prompt[0]["text"]
            .as_str()
            .unwrap()
            .contains("orders: 3 rows, want 4"),
        "the agent is told what failed: {prompt:?}"
    );
    // The merged commit holds the fix.
    let commit = merged["commit"].as_str().unwrap();
    let files = repo.git(&["ls-tree", "-r", "--name-only", commit]);
    assert!(files.contains("models/staging/fix_1.sql"), "{files}");
    assert_eq!(
        repo.git(&["rev-parse", "integration"]).trim(),
        commit,
        "the integration branch is the merge"
    );
}

#[test]
fn a_slice_that_keeps_failing_is_handed_to_the_operator_who_is_called() {
    let calls = tempfile::NamedTempFile::new().unwrap();
    let notify = format!(
        "[notify]\non = [\"merge_failed\"]\ncommand = {}",
        toml_string(&format!(
            "echo \"$SLICEBOARD_NOTIFY_MESSAGE\" >> {}",
            calls.path().display()
        ))
    );
    // The check never passes (fix_9 never comes).
    let repo = repo(9, &format!("max_attempts = 2\n\n{notify}"));
    let _sup = Supervise::start(&repo, &[]);
    cli(&repo.socket(), start_agent("staging")).expect("the agent starts");

    let handed = poll_ok("staging handed to the operator", WAIT * 3, || {
        events(&repo, "handed_over")
            .into_iter()
            .next()
            .ok_or_else(|| journal_kinds(&repo))
    });
    assert_eq!(handed["attempts"], 2);
    assert_eq!(handed["actor"], "sliceboard");
    poll_ok("the operator called", WAIT, || {
        let text = std::fs::read_to_string(calls.path()).unwrap_or_default();
        text.lines()
            .find(|l| l.contains("needs you: 2 merge attempts failed in a row"))
            .map(str::to_owned)
            .ok_or(text)
    });
    // Two attempts, one message to the agent (after the first); the agent
    // fixed again after the second failure only if told, and it was not.
    assert_eq!(events(&repo, "check_failed").len(), 2);
    assert_eq!(events(&repo, "feedback_sent").len(), 1);
    // The queue says why it does nothing more.
    let queue: Value = serde_json::from_str(&repo.sliceboard(&["queue", "--json"]).ok()).unwrap();
    assert!(
        queue["slices"]["staging"]["autopilot"]
            .as_str()
            .is_some_and(|note| note.starts_with("needs you")),
        "{queue:#}"
    );
}

#[test]
fn a_held_queue_approves_nothing_by_itself_until_it_goes_on_and_the_hold_outlives_the_supervisor() {
    let repo = repo_checked("true", "");
    let sup = Supervise::start(&repo, &[]);
    let said = repo.sliceboard(&["queue", "--hold"]).ok();
    assert!(said.starts_with("merge queue held"), "{said}");
    // A new supervisor holds it too.
    drop(sup);
    let _sup = Supervise::start(&repo, &[]);
    cli(&repo.socket(), start_agent("staging")).expect("the agent starts");
    let queue = poll_ok("staging waiting for the hold", WAIT, || {
        let out = repo.sliceboard(&["queue"]).ok();
        if out.contains("staging: the queue is held") {
            Ok(out)
        } else {
            Err(out)
        }
    });
    assert!(queue.contains("HELD"), "{queue}");
    assert!(
        events(&repo, "approved").is_empty(),
        "{}",
        journal_kinds(&repo)
    );

    repo.sliceboard(&["queue", "--release"]).ok();
    poll_ok("staging merged once the queue goes on", WAIT, || {
        events(&repo, "merged")
            .into_iter()
            .next()
            .ok_or_else(|| journal_kinds(&repo))
    });
    let holds: Vec<Value> = repo
        .journal()
        .into_iter()
        .filter(|e| e["event"] == "queue_held")
        .map(|e| e["held"].clone())
        .collect();
    assert_eq!(holds, [true, false]);
}

#[test]
fn publish_pushes_the_checked_integration_tip_and_runs_the_forge_command_by_itself_when_the_queue_empties()
 {
    let remote = tempfile::tempdir().unwrap();
    let gh = remote.path().join("gh");
    let args_file = remote.path().join("gh-args");
    std::fs::write(
        &gh,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> {}\necho 'Creating pull request for integration into main'\necho 'https://github.com/acme/shop/pull/7'\n",
            args_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&gh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let bare = remote.path().join("shop.git");
    let forge = format!(
        "\n[forge]\nremote = \"hub\"\ncommand = {}\nwhen_empty = true\n",
        toml_string(&format!(
            "{} pr create --fill --base {{base}} --head {{integration}}",
            gh.display()
        ))
    );
    let repo = repo_checked("true", &forge);
    repo.git(&["init", "-q", "--bare", bare.to_str().unwrap()]);
    repo.git(&["remote", "add", "hub", bare.to_str().unwrap()]);
    let _sup = Supervise::start(&repo, &[]);
    cli(&repo.socket(), start_agent("staging")).expect("the agent starts");

    // The merge empties the queue: published by itself.
    let published = poll_ok("published by itself", WAIT * 2, || {
        repo.journal()
            .into_iter()
            .find(|e| e["event"] == "published")
            .ok_or_else(|| journal_kinds(&repo))
    });
    assert_eq!(published["actor"], "sliceboard");
    assert_eq!(published["url"], "https://github.com/acme/shop/pull/7");
    let integration = repo.git(&["rev-parse", "integration"]).trim().to_owned();
    assert_eq!(published["commit"], integration.as_str());
    let pushed = repo.git_in(&bare, &["rev-parse", "refs/heads/integration"]);
    assert_eq!(pushed.trim(), integration, "the remote has the checked tip");
    assert_eq!(
        std::fs::read_to_string(&args_file).unwrap(),
        "pr\ncreate\n--fill\n--base\nmain\n--head\nintegration\n"
    );

    // And on demand, from the command line.
    let said = repo.sliceboard(&["publish"]).ok();
    assert!(
        said.contains("pushed integration")
            && said.contains("to hub")
            && said.contains("https://github.com/acme/shop/pull/7"),
        "{said}"
    );
    let by_operator = repo
        .journal()
        .into_iter()
        .filter(|e| e["event"] == "published")
        .map(|e| e["actor"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(by_operator, ["sliceboard", "operator"]);
}

#[test]
fn a_failure_while_the_queue_is_held_is_told_when_it_goes_on() {
    let repo = repo(1, "");
    let _sup = Supervise::start(&repo, &[]);
    repo.sliceboard(&["queue", "--hold"]).ok();
    cli(&repo.socket(), start_agent("staging")).expect("the agent starts");
    // The operator merges by hand while it is held: the check fails.
    // Once the agent has committed its work, the operator approves it
    // (the queue, held, does not).
    poll_ok("the agent's work committed and approved", WAIT, || {
        let out = repo.sliceboard(&["approve", "staging"]);
        if out.code == Some(0) {
            Ok(())
        } else {
            Err(format!("{out:?}"))
        }
    });
    let queue = repo.sliceboard(&["queue"]).ok();
    assert!(queue.contains("HELD"), "{queue}");
    repo.sliceboard(&["merge", "staging"]).fails();
    let told = common::poll_within(std::time::Duration::from_secs(2), || {
        !events(&repo, "feedback_sent").is_empty()
    });
    assert!(!told, "told while held: {}", journal_kinds(&repo));

    repo.sliceboard(&["queue", "--release"]).ok();
    poll_ok("told once the queue goes on, and merged", WAIT * 2, || {
        events(&repo, "merged")
            .into_iter()
            .next()
            .ok_or_else(|| journal_kinds(&repo))
    });
    assert_eq!(events(&repo, "feedback_sent").len(), 1);
}

/// What the queue, running itself, says of a slice reaches an attached
/// dashboard as it changes, with nobody asking: a slice whose agent is
/// done but changed a path it does not own is "not green", not still
/// waiting for its agent.
#[test]
fn the_autopilots_note_reaches_the_dashboard_as_it_changes() {
    let plan = Plan::new(
        "echo 'select 1 as id' > models/staging/orders.sql && echo x > outside.txt && \
         git add -A && git commit -qm work",
    )
    .top("integration = \"integration\"")
    .table("[merge]\napprove = \"when-green\"")
    .slice("staging", &["models/staging/**"], &[])
    .to_string();
    let repo = staging_repo(&plan);
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = common::supervised::Dashboard::connect(&repo.socket());
    cli(&repo.socket(), start_agent("staging")).expect("the agent starts");
    let note = |d: &common::supervised::Dashboard| {
        d.board
            .queue
            .slices
            .get(&common::supervised::name("staging"))
            .and_then(|v| v.autopilot.clone())
            .unwrap_or_default()
    };
    dash.wait_until("the queue's note that staging is not green", |d| {
        note(d).starts_with("not green: it changed paths it does not own: outside.txt")
    });
    assert!(events(&repo, "approved").is_empty());
}
