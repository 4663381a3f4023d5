//! The merge queue end to end: real repositories, the real binary, and the
//! repository's background supervisor that the queue's commands start.
//! Approvals and their refusals, merges into the integration branch (merge
//! commits, `after` order, conflicts, checks that fail, stale approvals),
//! the compare-and-swap when someone else moves the branch, a supervisor
//! killed in the middle of a check, `clean` and the feedback an agent gets.
//!
//! Nothing waits a fixed time: every wait polls until a deadline, and
//! every run of the binary is given one ([`sliceboard`]). The supervisor a
//! test starts is stopped when its [`TestRepo`] goes.

use crate::common;

use common::procs::group_alive;
use common::supervised::*;
use common::{BIN, Plan, TestRepo, poll_ok, poll_until};
use serde_json::Value;
use sliceboard::store::StateLock;
use std::process::{Child, Stdio};

// ---------------------------------------------------------------------------
// Repositories and plans

/// A repository with `files` and `plan` committed on `main`, and no dbt
/// project (so approvals have no dbt concern), with every slice's worktree
/// created by `sliceboard up`.
pub(super) fn repo_with(plan: &str, files: &[(&str, &str)]) -> TestRepo {
    let repo = TestRepo::without_dbt_project();
    for (path, contents) in files {
        repo.write(path, contents);
    }
    repo.write("sliceboard.toml", plan);
    repo.commit_all("plan");
    repo.sliceboard(&["up"]).ok();
    repo
}

/// A plan: `base = "main"`, `integration = "integration"`, an agent that
/// does nothing for a long time, `extra` (e.g. a `[merge]` table), and
/// slices as (name, owns, after).
pub(super) fn plan(extra: &str, slices: &[(&str, &[&str], &[&str])]) -> String {
    let mut plan = Plan::new("sleep 600").top("integration = \"integration\"");
    if !extra.is_empty() {
        plan = plan.table(extra);
    }
    for (name, owns, after) in slices {
        let after = (!after.is_empty())
            .then(|| format!("after = {}", serde_json::to_string(after).unwrap()));
        plan = plan.slice(
            name,
            owns,
            &after.as_deref().into_iter().collect::<Vec<_>>(),
        );
    }
    plan.to_string()
}

/// A branch's tip, or `None` when it does not exist.
pub(super) fn tip(repo: &TestRepo, branch: &str) -> Option<String> {
    let out = repo
        .command("git", &repo.root)
        .args([
            "rev-parse",
            "--verify",
            "-q",
            &format!("refs/heads/{branch}"),
        ])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub(super) fn parents(repo: &TestRepo, commit: &str) -> Vec<String> {
    repo.git(&["log", "-1", "--format=%P", commit])
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn is_ancestor(repo: &TestRepo, ancestor: &str, descendant: &str) -> bool {
    repo.command("git", &repo.root)
        .args(["merge-base", "--is-ancestor", ancestor, descendant])
        .status()
        .unwrap()
        .success()
}

/// A slice's branch, as `state.json` has it.
fn branch_of(repo: &TestRepo, slice: &str) -> String {
    repo.state_json()["slices"][slice]["branch"]
        .as_str()
        .expect("the slice's branch in state.json")
        .to_owned()
}

// ---------------------------------------------------------------------------
// The queue and the journal

/// `sliceboard queue --json`.
pub(super) fn queue(repo: &TestRepo) -> Value {
    let out = sliceboard(repo, &["queue", "--json"]).ok();
    serde_json::from_str(&out).unwrap_or_else(|err| panic!("queue --json ({err}): {out}"))
}

/// Polls `queue --json` until `done` holds; the queue that satisfied it.
pub(super) fn wait_queue(repo: &TestRepo, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    poll_ok(what, WAIT, || {
        let board = queue(repo);
        if done(&board) {
            Ok(board)
        } else {
            Err(format!("the queue: {board:#}"))
        }
    })
}

/// A slice's entry state in a queue (`waiting`, `ready`, …), if any.
pub(super) fn state_of<'a>(board: &'a Value, slice: &str) -> Option<&'a str> {
    board["slices"][slice]["state"]["state"].as_str()
}

/// The journal's entries of one kind about one slice.
pub(super) fn events(repo: &TestRepo, kind: &str, slice: &str) -> Vec<Value> {
    repo.journal()
        .into_iter()
        .filter(|e| e["event"] == kind && e["slice"] == slice)
        .collect()
}

pub(super) fn wait_event(
    repo: &TestRepo,
    kind: &str,
    slice: &str,
    pick: impl Fn(&Value) -> bool,
) -> Value {
    poll_ok(format!("{kind} for {slice} in the journal"), WAIT, || {
        events(repo, kind, slice)
            .into_iter()
            .find(|e| pick(e))
            .ok_or_else(|| format!("the journal:\n{}", kinds(repo)))
    })
}

/// The journal, one event kind and slice a line, for failure messages.
pub(super) fn kinds(repo: &TestRepo) -> String {
    repo.journal()
        .iter()
        .map(|e| format!("{} {}", e["event"], e["slice"]))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------
// Background runs and processes

/// The binary running in the background (a merge that waits for its
/// check); killed if the test ends first.
pub(super) struct Background(Option<Child>);

impl Background {
    pub(super) fn start(repo: &TestRepo, args: &[&str]) -> Self {
        let child = repo
            .command(common::BIN, &repo.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sliceboard runs");
        Self(Some(child))
    }

    /// Waits for it to end, within the deadline.
    pub(super) fn finish(mut self, what: &str) -> common::Run {
        let mut child = self.0.take().unwrap();
        common::wait_exit(&mut child, what, WAIT);
        common::Run::from(child.wait_with_output().unwrap())
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `merge/attempt.json`, while it exists.
fn attempt_file(repo: &TestRepo) -> Option<Value> {
    let text = std::fs::read_to_string(repo.state_dir().join("merge/attempt.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Waits for the running attempt's check to have started; the attempt file.
fn wait_check_running(repo: &TestRepo) -> Value {
    poll_ok("a check started", WAIT, || {
        attempt_file(repo)
            .filter(|f| f["check_pid"].is_i64())
            .ok_or_else(|| format!("the journal:\n{}", kinds(repo)))
    })
}

// ---------------------------------------------------------------------------
// The tests

#[test]
fn a_clean_merge_makes_a_merge_commit_of_the_old_tip_and_the_approved_commit() {
    let repo = repo_with(
        &plan(
            "",
            &[
                ("orders", &["orders/**"], &[]),
                ("users", &["users/**"], &[]),
            ],
        ),
        &[],
    );
    let main = tip(&repo, "main").unwrap();
    let approved = repo.commit_in(
        "orders",
        &[("orders/fct_orders.sql", "select 1 as id\n")],
        "orders model",
    );
    let said = sliceboard(&repo, &["approve", "orders"]).ok();
    assert!(said.contains("approved orders at"), "{said}");
    assert_eq!(
        tip(&repo, "integration").as_deref(),
        Some(main.as_str()),
        "`up` created integration at the base's tip"
    );

    let said = sliceboard(&repo, &["merge", "orders"]).ok();
    assert!(said.contains("merged orders into integration"), "{said}");
    let first = tip(&repo, "integration").expect("the merge created integration");
    assert_eq!(
        parents(&repo, &first),
        vec![main.clone(), approved.clone()],
        "the old tip (the base's, where `up` created it) and the approved commit"
    );
    let message = repo.git(&["log", "-1", "--format=%B", &first]);
    assert!(
        message.contains("Merge slice orders into integration") && message.contains(&approved),
        "the message names the slice and the approved commit: {message}"
    );
    assert_eq!(
        repo.git(&["show", &format!("{first}:orders/fct_orders.sql")]),
        "select 1 as id"
    );
    let merged = wait_event(&repo, "merged", "orders", |_| true);
    assert_eq!(merged["commit"], first.as_str());
    assert_eq!(merged["approved"], approved.as_str());
    let board = wait_queue(&repo, "orders shown as merged", |q| {
        state_of(q, "orders") == Some("merged")
    });
    assert_eq!(board["slices"]["orders"]["state"]["commit"], first.as_str());
    assert_eq!(board["integration_tip"], first.as_str());
    assert_eq!(repo.state_json()["slices"]["orders"]["lifecycle"], "merged");

    // The next merge goes on top of the integration tip, not the base.
    let approved = repo.commit_in(
        "users",
        &[("users/dim_users.sql", "select 2 as id\n")],
        "users model",
    );
    sliceboard(&repo, &["approve", "users"]).ok();
    let said = sliceboard(&repo, &["merge"]).ok();
    assert!(said.contains("merged users into integration"), "{said}");
    let second = tip(&repo, "integration").unwrap();
    assert_eq!(parents(&repo, &second), vec![first, approved.clone()]);
    let message = repo.git(&["log", "-1", "--format=%B", &second]);
    assert!(
        message.contains("users") && message.contains(&approved),
        "{message}"
    );
    assert!(
        !repo.state_dir().join("merge/attempt.json").exists(),
        "no attempt file once the attempts are done"
    );
    assert_eq!(tip(&repo, "main").unwrap(), main, "the base never moves");
}

/// Two slices that change the same line of `shared.txt`; `right`'s agent
/// is `right_agent`.
fn conflicting(right_agent: Option<&str>) -> TestRepo {
    conflicting_with("", right_agent)
}

/// As [`conflicting`], with `extra` (a `[merge]` table) in the plan.
fn conflicting_with(extra: &str, right_agent: Option<&str>) -> TestRepo {
    let mut text = plan(
        extra,
        &[
            ("left", &["left/**", "shared.txt"], &[]),
            ("right", &["right/**"], &[]),
        ],
    );
    if let Some(agent) = right_agent {
        text += &format!("agent = {}\n", toml_string(agent));
    }
    let repo = repo_with(&text, &[("shared.txt", "one\ntwo\nthree\n")]);
    repo.commit_in(
        "left",
        &[("shared.txt", "one\nLEFT\nthree\n"), ("left/a.sql", "a\n")],
        "left",
    );
    repo.commit_in(
        "right",
        &[
            ("shared.txt", "one\nRIGHT\nthree\n"),
            ("right/b.sql", "b\n"),
        ],
        "right",
    );
    repo
}

/// Approves and merges `left`, then fails to merge `right`; the
/// integration tip after `left`.
fn merge_left_then_conflict(repo: &TestRepo) -> String {
    sliceboard(repo, &["approve", "left", "--force"]).ok();
    sliceboard(repo, &["approve", "right", "--force"]).ok();
    sliceboard(repo, &["merge", "left"]).ok();
    let after_left = tip(repo, "integration").expect("left merged");
    let why = sliceboard(repo, &["merge", "right"]).fails();
    assert!(
        why.contains("right did not merge")
            && why.contains("conflicts")
            && why.contains("shared.txt"),
        "the refusal names the path: {why}"
    );
    assert_eq!(
        tip(repo, "integration").as_deref(),
        Some(after_left.as_str()),
        "the conflicting attempt left integration where it was"
    );
    after_left
}

#[test]
fn conflicting_slices_are_shown_as_a_pair_and_the_second_merge_is_refused() {
    let repo = conflicting(None);
    let board = wait_queue(&repo, "left and right shown as a conflicting pair", |q| {
        q["pairs"].as_array().is_some_and(|p| !p.is_empty())
    });
    assert_eq!(
        board["pairs"],
        serde_json::json!([{"a": "left", "b": "right", "paths": ["shared.txt"]}]),
        "{board:#}"
    );
    for slice in ["left", "right"] {
        assert!(
            board["slices"][slice]["approval"].is_null(),
            "{slice} is not approved yet"
        );
    }

    let after_left = merge_left_then_conflict(&repo);
    let conflicted = wait_event(&repo, "merge_conflicted", "right", |_| true);
    assert_eq!(conflicted["paths"], serde_json::json!(["shared.txt"]));
    assert!(events(&repo, "merged", "right").is_empty());
    let board = wait_queue(&repo, "right shown as conflicting", |q| {
        state_of(q, "right") == Some("conflicts")
    });
    assert_eq!(
        board["slices"]["right"]["state"]["paths"],
        serde_json::json!(["shared.txt"])
    );
    assert_eq!(board["integration_tip"], after_left.as_str());
    assert!(!repo.state_dir().join("merge/attempt.json").exists());
}

#[test]
fn merge_all_follows_after_order_even_when_the_downstream_slice_was_approved_first() {
    let repo = repo_with(
        &plan(
            "",
            &[
                ("downstream", &["marts/**"], &["upstream"]),
                ("upstream", &["staging/**"], &[]),
            ],
        ),
        &[],
    );
    let up = repo.commit_in("upstream", &[("staging/stg.sql", "select 1\n")], "stg");
    let down = repo.commit_in("downstream", &[("marts/fct.sql", "select 2\n")], "fct");

    let why = sliceboard(&repo, &["approve", "downstream"]).fails();
    assert!(
        why.contains("needs a second look") && why.contains("comes after upstream"),
        "{why}"
    );
    sliceboard(&repo, &["approve", "downstream", "--force"]).ok();
    sliceboard(&repo, &["approve", "upstream"]).ok();
    let board = wait_queue(&repo, "both queued", |q| {
        q["order"].as_array().is_some_and(|o| o.len() == 2)
    });
    assert_eq!(
        board["order"],
        serde_json::json!(["upstream", "downstream"])
    );
    assert_eq!(state_of(&board, "downstream"), Some("waiting"));
    assert_eq!(state_of(&board, "upstream"), Some("ready"));

    let said = sliceboard(&repo, &["merge", "--all"]).ok();
    let (u, d) = (
        said.find("merged upstream").expect(&said),
        said.find("merged downstream").expect(&said),
    );
    assert!(u < d, "upstream is reported merged first: {said}");

    let subjects = repo.git(&["log", "--first-parent", "--format=%s", "integration"]);
    let subjects: Vec<&str> = subjects.lines().collect();
    assert_eq!(
        subjects[..2],
        [
            "Merge slice downstream into integration",
            "Merge slice upstream into integration",
        ],
        "newest first: upstream merged first"
    );
    let top = tip(&repo, "integration").unwrap();
    let below = repo.git(&["rev-parse", &format!("{top}^1")]);
    assert_eq!(parents(&repo, &top)[1], down);
    assert_eq!(parents(&repo, &below)[1], up);
    let board = queue(&repo);
    assert_eq!(board["order"], serde_json::json!([]));
    assert_eq!(state_of(&board, "upstream"), Some("merged"));
    assert_eq!(state_of(&board, "downstream"), Some("merged"));
}

#[test]
fn merge_all_names_the_approved_slice_it_did_not_merge_and_fails() {
    let repo = repo_with(
        &plan(
            "",
            &[
                ("left", &["left/**", "shared.txt"], &[]),
                ("right", &["right/**"], &[]),
                ("other", &["other/**"], &[]),
            ],
        ),
        &[("shared.txt", "one\ntwo\nthree\n")],
    );
    repo.commit_in(
        "left",
        &[("shared.txt", "one\nLEFT\nthree\n"), ("left/a.sql", "a\n")],
        "left",
    );
    let right = repo.commit_in(
        "right",
        &[
            ("shared.txt", "one\nRIGHT\nthree\n"),
            ("right/b.sql", "b\n"),
        ],
        "right",
    );
    let other = repo.commit_in("other", &[("other/c.sql", "c\n")], "other");
    for slice in ["left", "right", "other"] {
        sliceboard(&repo, &["approve", slice, "--force"]).ok();
    }

    let run = sliceboard(&repo, &["merge", "--all"]);
    let said = format!("{}{}", run.stdout, run.stderr);
    let why = run.fails();
    assert!(
        why.contains("1 of 3 approved slices did not merge")
            && why.contains("right")
            && why.contains("conflicts")
            && why.contains("shared.txt"),
        "the conflicting slice is named, with why: {said}"
    );
    assert!(
        said.contains("merged left") && said.contains("merged other"),
        "the others merged and are named: {said}"
    );
    let top = tip(&repo, "integration").expect("integration made");
    assert!(is_ancestor(&repo, &other, &top), "other merged");
    assert!(!is_ancestor(&repo, &right, &top), "right did not merge");
}

#[test]
fn a_failing_check_leaves_integration_alone_and_a_passing_one_moves_it() {
    let repo = repo_with(
        &plan(
            "[merge]\ncheck = \"if [ -e a/FAIL_MARK ]; then echo found FAIL_MARK; exit 3; fi; echo check ok\"",
            &[("alpha", &["a/**"], &[])],
        ),
        &[],
    );
    let before = tip(&repo, "integration").unwrap();
    repo.commit_in(
        "alpha",
        &[("a/model.sql", "select 1\n"), ("a/FAIL_MARK", "x\n")],
        "with the mark",
    );
    sliceboard(&repo, &["approve", "alpha"]).ok();

    let why = sliceboard(&repo, &["merge", "alpha"]).fails();
    assert!(
        why.contains("exited with 3") && why.contains("found FAIL_MARK"),
        "the refusal says why: {why}"
    );
    assert_eq!(tip(&repo, "integration").unwrap(), before);
    let failed = wait_event(&repo, "check_failed", "alpha", |_| true);
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("found FAIL_MARK"),
        "{failed}"
    );
    let attempt = failed["attempt"].as_u64().unwrap();
    let log = std::fs::read_to_string(
        repo.state_dir()
            .join(format!("merge/attempt-{attempt}.log")),
    )
    .expect("the check's log");
    assert!(log.contains("found FAIL_MARK"), "{log}");
    let board = wait_queue(&repo, "alpha shown as failed", |q| {
        state_of(q, "alpha") == Some("failed")
    });
    let reason = board["slices"]["alpha"]["state"]["reason"]
        .as_str()
        .unwrap();
    assert!(
        reason.contains("exited with 3") && reason.contains("found FAIL_MARK"),
        "{reason}"
    );
    assert!(!repo.state_dir().join("merge/attempt.json").exists());

    // Fixed, approved again: the check passes and the branch moves.
    let worktree = repo.worktree("alpha");
    repo.git_in(&worktree, &["rm", "-q", "a/FAIL_MARK"]);
    repo.git_in(&worktree, &["commit", "-q", "-m", "without the mark"]);
    let fixed = repo.git_in(&worktree, &["rev-parse", "HEAD"]);
    sliceboard(&repo, &["approve", "alpha"]).ok();
    sliceboard(&repo, &["merge", "alpha"]).ok();
    let after = tip(&repo, "integration").unwrap();
    assert_eq!(parents(&repo, &after), vec![before, fixed]);
    wait_event(&repo, "check_passed", "alpha", |e| {
        e["merge_commit"] == after.as_str()
    });
    assert_eq!(
        state_of(&queue(&repo), "alpha"),
        Some("merged"),
        "the failure is forgotten once merged"
    );
}

#[test]
fn a_commit_after_approval_makes_the_approval_stale_and_it_does_not_merge() {
    let repo = repo_with(&plan("", &[("alpha", &["a/**"], &[])]), &[]);
    let before = tip(&repo, "integration").unwrap();
    let approved = repo.commit_in("alpha", &[("a/one.sql", "select 1\n")], "one");
    sliceboard(&repo, &["approve", "alpha"]).ok();
    wait_queue(&repo, "alpha ready", |q| {
        state_of(q, "alpha") == Some("ready")
    });

    let now = repo.commit_in("alpha", &[("a/two.sql", "select 2\n")], "two");
    let board = wait_queue(&repo, "alpha's approval stale", |q| {
        state_of(q, "alpha") == Some("stale")
    });
    assert_eq!(board["slices"]["alpha"]["approval"]["stale"], true);
    assert_eq!(
        board["slices"]["alpha"]["approval"]["commit"],
        approved.as_str()
    );
    assert_eq!(board["slices"]["alpha"]["state"]["now"], now.as_str());
    let stale = wait_event(&repo, "approval_stale", "alpha", |_| true);
    assert_eq!(stale["approved"], approved.as_str());
    assert_eq!(stale["now"], now.as_str());

    let why = sliceboard(&repo, &["merge", "alpha"]).fails();
    assert!(why.contains("stale"), "{why}");
    let why = sliceboard(&repo, &["merge", "--all"]).fails();
    assert!(why.contains("stale"), "{why}");
    assert_eq!(tip(&repo, "integration").unwrap(), before);
    assert!(events(&repo, "merge_started", "alpha").is_empty());
    assert_eq!(
        events(&repo, "approval_stale", "alpha").len(),
        1,
        "journaled once"
    );
}

/// A commit on top of `onto` adding `path`, made without any worktree.
fn outside_commit(repo: &TestRepo, onto: &str, path: &str, contents: &str) -> String {
    let file = repo.top.join("outside-blob");
    std::fs::write(&file, contents).unwrap();
    let blob = repo.git(&["hash-object", "-w", file.to_str().unwrap()]);
    let index = repo.top.join("outside-index");
    let git = |args: &[&str]| {
        let out = repo
            .command("git", &repo.root)
            .env("GIT_INDEX_FILE", &index)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["read-tree", onto]);
    git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("100644,{blob},{path}"),
    ]);
    let tree = git(&["write-tree"]);
    git(&["commit-tree", &tree, "-p", onto, "-m", "outside change"])
}

#[test]
fn integration_moved_by_someone_else_during_the_check_loses_no_update() {
    let tmp = tempfile::tempdir().unwrap();
    let go = tmp.path().join("go");
    let check = format!(
        "while [ ! -e '{}' ]; do sleep 0.05; done; echo released",
        go.display()
    );
    let repo = repo_with(
        &plan(
            &format!("[merge]\ncheck = {}", toml_string(&check)),
            &[("alpha", &["a/**"], &[])],
        ),
        &[],
    );
    let before = tip(&repo, "integration").unwrap();
    let approved = repo.commit_in("alpha", &[("a/one.sql", "select 1\n")], "one");
    sliceboard(&repo, &["approve", "alpha"]).ok();

    let merge = Background::start(&repo, &["merge", "alpha"]);
    let attempt = wait_check_running(&repo);
    let _check = KillGroup(attempt["check_pid"].as_i64().unwrap() as i32);
    assert_eq!(attempt["expected"], before.as_str());
    let outside = outside_commit(&repo, &before, "outside.txt", "from elsewhere\n");
    repo.git(&["update-ref", "refs/heads/integration", &outside, &before]);
    std::fs::write(&go, "").unwrap();
    let run = merge.finish("the merge raced by an outside commit");

    let now = tip(&repo, "integration").unwrap();
    assert!(
        is_ancestor(&repo, &outside, &now),
        "the outside commit was lost: integration is at {now}; {run:#?}"
    );
    if run.code == Some(0) {
        assert_eq!(
            parents(&repo, &now),
            vec![outside.clone(), approved.clone()],
            "merged again on the new tip"
        );
        assert_eq!(
            repo.git(&["show", &format!("{now}:outside.txt")]),
            "from elsewhere"
        );
        assert_eq!(repo.git(&["show", &format!("{now}:a/one.sql")]), "select 1");
        let merged = wait_event(&repo, "merged", "alpha", |_| true);
        assert_eq!(merged["from"], outside.as_str());
    } else {
        assert_eq!(now, outside, "{run:#?}");
        assert!(run.stderr.contains("moved"), "{run:#?}");
    }
    // The lost race is on record, and nothing was published from it.
    let lost = wait_event(&repo, "merge_failed", "alpha", |e| {
        e["reason"].as_str().is_some_and(|r| r.contains("moved"))
    });
    assert_eq!(lost["attempt"], attempt["number"]);
    assert!(
        !repo
            .journal()
            .iter()
            .any(|e| e["event"] == "merged" && e["from"] == before.as_str()),
        "a merge was published over the outside commit"
    );
}

#[test]
fn a_supervisor_killed_during_a_check_leaves_integration_and_the_next_one_recovers() {
    let repo = repo_with(
        &plan(
            "[merge]\ncheck = \"sleep 600\"",
            &[("alpha", &["a/**"], &[])],
        ),
        &[],
    );
    let before = tip(&repo, "integration").unwrap();
    repo.commit_in("alpha", &[("a/one.sql", "select 1\n")], "one");
    sliceboard(&repo, &["approve", "alpha"]).ok();
    let lock = repo.state_dir().join("lock");

    for round in 0..4 {
        let merge = Background::start(&repo, &["merge", "alpha"]);
        let attempt = wait_check_running(&repo);
        let number = attempt["number"].as_u64().unwrap();
        let check = attempt["check_pid"].as_i64().unwrap() as i32;
        let _check = KillGroup(check);
        let holder = StateLock::holder(&lock).expect("the supervisor holds the lock");
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", holder.pid)).unwrap_or_default();
        assert!(
            String::from_utf8_lossy(&cmdline).contains("supervise"),
            "round {round}: the lock's holder {} is the supervisor",
            holder.pid
        );
        // SAFETY: signals the repository's supervisor, which the test started.
        assert_eq!(unsafe { libc::kill(holder.pid as i32, libc::SIGKILL) }, 0);
        poll_until("the killed supervisor lets go of the lock", WAIT, || {
            StateLock::holder(&lock).is_none()
        });
        let run = merge.finish("the merge whose supervisor was killed");
        assert_ne!(run.code, Some(0), "round {round}: {run:#?}");
        // Every other round the check is left running for the next
        // supervisor to stop.
        let left_running = round % 2 == 1;
        if !left_running {
            // SAFETY: the check's own process group.
            unsafe { libc::kill(-check, libc::SIGKILL) };
            poll_until("the check's group gone", WAIT, || !group_alive(check));
        }

        assert_eq!(
            tip(&repo, "integration").unwrap(),
            before,
            "round {round}: integration moved"
        );
        repo.state_json();
        let journal_before = repo.journal();
        assert!(
            repo.state_dir().join("merge/attempt.json").exists(),
            "round {round}: the killed supervisor left its attempt file"
        );
        assert!(
            !journal_before
                .iter()
                .any(|e| e["event"] == "merge_interrupted" && e["attempt"] == number),
            "round {round}: nobody recorded the interruption yet"
        );

        // The next supervisor finds the attempt.
        let _supervisor = Supervise::start(&repo, &[]);
        let board = queue(&repo);
        wait_event(&repo, "merge_interrupted", "alpha", |e| {
            e["attempt"] == number
        });
        poll_until("the attempt file removed", WAIT, || {
            !repo.state_dir().join("merge/attempt.json").exists()
        });
        if left_running {
            poll_until(
                "the new supervisor stopped the check left running",
                WAIT,
                || !group_alive(check),
            );
        }
        assert_eq!(board["integration_tip"], before.as_str());
        let board = wait_queue(&repo, "alpha ready again", |q| {
            state_of(q, "alpha") == Some("ready")
        });
        assert!(board["attempt"].is_null(), "{board:#}");
        assert_eq!(tip(&repo, "integration").unwrap(), before);
        assert!(events(&repo, "merged", "alpha").is_empty());
    }
    repo.state_json();
    repo.journal();
}

#[test]
fn approving_a_slice_with_paths_outside_what_it_owns_needs_force() {
    let repo = repo_with(
        &plan("", &[("alpha", &["a/**"], &[]), ("beta", &["b/**"], &[])]),
        &[],
    );
    let commit = repo.commit_in(
        "alpha",
        &[("a/one.sql", "select 1\n"), ("b/theirs.sql", "select 2\n")],
        "one, and beta's file",
    );
    let _supervisor = Supervise::start(&repo, &[]);
    // Flags come from the live diffs; wait until the board has them.
    let mut dash = Dashboard::connect(&repo.socket());
    dash.wait_until("alpha's ownership flags", |d| {
        !d.row("alpha").flags.is_empty()
    });
    drop(dash);

    let why = sliceboard(&repo, &["approve", "alpha"]).fails();
    assert!(
        why.contains("needs a second look")
            && why.contains("paths it does not own: b/theirs.sql")
            && why.contains("--force"),
        "{why}"
    );
    assert!(queue(&repo)["slices"]["alpha"]["approval"].is_null());
    assert!(events(&repo, "approved", "alpha").is_empty());

    let said = sliceboard(&repo, &["approve", "alpha", "--force"]).ok();
    assert!(said.contains("approved alpha"), "{said}");
    let approved = wait_event(&repo, "approved", "alpha", |_| true);
    assert_eq!(approved["commit"], commit.as_str());
    assert!(
        approved["concerns"].to_string().contains("b/theirs.sql"),
        "the journal keeps what was approved over: {approved}"
    );
    let board = queue(&repo);
    assert_eq!(
        board["slices"]["alpha"]["approval"]["commit"],
        commit.as_str()
    );
    assert_eq!(board["order"], serde_json::json!(["alpha"]));
}

#[test]
fn clean_refuses_an_unmerged_slice_and_removes_a_merged_one() {
    let repo = repo_with(
        &plan("", &[("alpha", &["a/**"], &[]), ("beta", &["b/**"], &[])]),
        &[],
    );
    repo.commit_in("alpha", &[("a/one.sql", "select 1\n")], "one");
    repo.commit_in("beta", &[("b/two.sql", "select 2\n")], "two");
    let (alpha_branch, beta_branch) = (branch_of(&repo, "alpha"), branch_of(&repo, "beta"));
    sliceboard(&repo, &["approve", "alpha"]).ok();
    sliceboard(&repo, &["approve", "beta"]).ok();
    sliceboard(&repo, &["merge", "alpha"]).ok();

    let why = sliceboard(&repo, &["clean", "beta"]).fails();
    assert!(why.contains("1 commit not in integration"), "{why}");
    assert!(repo.worktree("beta").is_dir());
    assert!(tip(&repo, &beta_branch).is_some());

    let said = sliceboard(&repo, &["clean", "alpha"]).ok();
    assert!(said.contains("removed alpha's worktree"), "{said}");
    assert!(
        !repo.worktree("alpha").exists(),
        "the worktree folder is gone"
    );
    assert_eq!(tip(&repo, &alpha_branch), None, "the branch is deleted");
    wait_event(&repo, "slice_cleaned", "alpha", |e| e["forced"] == false);
    // What alpha merged stays merged; beta is untouched.
    assert!(is_ancestor(
        &repo,
        &repo.git(&["rev-parse", "integration^2"]),
        "integration"
    ));
    assert!(repo.worktree("beta").is_dir());
    assert!(tip(&repo, &beta_branch).is_some());
}

#[test]
fn the_queue_answers_while_a_clean_waits_for_its_worktrees_teardown() {
    // The teardown runs in the worktree (`shop.slices/alpha`): it says it
    // started, then holds until the test lets it end.
    let repo = repo_with(
        &plan(
            "[worktree]\nteardown = [\"touch ../../teardown-started; while [ ! -e ../../teardown-may-end ]; do sleep 0.05; done\"]",
            &[("alpha", &["a/**"], &[]), ("beta", &["b/**"], &[])],
        ),
        &[],
    );
    repo.commit_in("alpha", &[("a/one.sql", "select 1\n")], "one");
    repo.commit_in("beta", &[("b/two.sql", "select 2\n")], "two");
    let _sup = Supervise::start(&repo, &[]);
    let (mut clean, err) = spawn_with_stderr(&repo, &["clean", "alpha", "--force"]);
    poll_until("alpha's teardown runs", WAIT, || {
        repo.top.join("teardown-started").exists()
    });

    // Meanwhile the queue reads, approves and refuses as ever.
    let queue = sliceboard(&repo, &["queue"]).ok();
    assert!(queue.contains("integration"), "{queue}");
    let said = sliceboard(&repo, &["approve", "beta"]).ok();
    assert!(said.contains("approved beta at"), "{said}");
    let why = sliceboard(&repo, &["clean", "alpha", "--force"]).fails();
    assert!(why.contains("alpha is being cleaned already"), "{why}");
    assert!(
        clean.try_wait().unwrap().is_none(),
        "the first clean waits for its teardown"
    );
    assert!(repo.worktree("alpha").is_dir());

    std::fs::write(repo.top.join("teardown-may-end"), "").unwrap();
    let status = common::wait_exit(&mut clean, "clean alpha", WAIT);
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&err).unwrap()
    );
    assert!(!repo.worktree("alpha").exists(), "alpha's worktree is gone");
    assert!(
        tip(&repo, "sliceboard/cleaned/alpha").is_some(),
        "alpha's commit is kept"
    );
    assert_eq!(repo.state_json()["slices"]["alpha"]["lifecycle"], "cleaned");
    assert_eq!(repo.state_json()["slices"]["beta"]["lifecycle"], "approved");
}

#[test]
fn a_merged_slice_with_a_new_commit_says_so_everywhere_and_merges_again() {
    let repo = repo_with(&plan("", &[("alpha", &["a/**"], &[])]), &[]);
    repo.commit_in("alpha", &[("a/one.sql", "select 1\n")], "one");
    sliceboard(&repo, &["approve", "alpha"]).ok();
    sliceboard(&repo, &["merge", "alpha"]).ok();
    let first_merge = tip(&repo, "integration").unwrap();
    let late = repo.commit_in("alpha", &[("a/two.sql", "select 2\n")], "two");

    let board = wait_queue(&repo, "alpha shows its new commit", |q| {
        q["slices"]["alpha"]["state"]["new_commits"] == 1
    });
    assert_eq!(state_of(&board, "alpha"), Some("merged"), "{board:#}");
    let text = sliceboard(&repo, &["queue"]).ok();
    assert!(
        text.contains("merged: alpha in") && text.contains("1 new commit since"),
        "{text}"
    );
    let status = status_json(&repo);
    let merge = &status["slices"][0]["merge"];
    assert_eq!(merge["new_commits"], 1, "{merge:#}");
    assert!(
        merge["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("merged, 1 new commit since it merged in")),
        "{merge:#}"
    );
    let table = sliceboard(&repo, &["status"]).ok();
    assert!(table.contains("merged, 1 new commit"), "{table}");

    // It is approved and merged again; integration gets the new commit.
    let said = sliceboard(&repo, &["approve", "alpha"]).ok();
    assert!(said.contains("approved alpha"), "{said}");
    sliceboard(&repo, &["merge", "alpha"]).ok();
    let second_merge = tip(&repo, "integration").unwrap();
    assert_ne!(second_merge, first_merge);
    assert!(is_ancestor(&repo, &late, "integration"));
    assert_eq!(
        repo.state_json()["slices"]["alpha"]["merged"]["commit"],
        second_merge.as_str()
    );
    let board = wait_queue(&repo, "alpha is all merged", |q| {
        q["slices"]["alpha"]["state"]["commit"] == second_merge.as_str()
    });
    assert!(
        board["slices"]["alpha"]["state"]["new_commits"].is_null(),
        "{board:#}"
    );
    let status = status_json(&repo);
    assert_eq!(status["slices"][0]["merge"]["new_commits"], 0);
    // All merged: approving again is refused, saying why.
    let why = sliceboard(&repo, &["approve", "alpha"]).fails();
    assert!(why.contains("integration holds every commit"), "{why}");

    // Merging the integration branch in changes nothing: no new commit
    // to speak of.
    let worktree = repo.worktree("alpha");
    repo.git_in(
        &worktree,
        &["merge", "-q", "--no-ff", "-m", "sync", "integration"],
    );
    let synced = repo.git_in(&worktree, &["rev-parse", "HEAD"]);
    let board = wait_queue(&repo, "the synced tip is read", |q| {
        q["slices"]["alpha"]["tip"] == synced.as_str()
    });
    assert!(
        board["slices"]["alpha"]["state"]["new_commits"].is_null(),
        "{board:#}"
    );
}

#[test]
fn clean_force_keeps_a_commit_made_after_the_merge_on_a_branch_and_says_so() {
    let repo = repo_with(&plan("", &[("alpha", &["a/**"], &[])]), &[]);
    repo.commit_in("alpha", &[("a/one.sql", "select 1\n")], "one");
    let branch = branch_of(&repo, "alpha");
    sliceboard(&repo, &["approve", "alpha"]).ok();
    sliceboard(&repo, &["merge", "alpha"]).ok();
    let late = repo.commit_in("alpha", &[("a/two.sql", "select 2\n")], "two");

    let why = sliceboard(&repo, &["clean", "alpha"]).fails();
    assert!(
        why.contains("1 commit not in integration (made after it merged)")
            && why.contains("keeps it on branch sliceboard/cleaned/alpha"),
        "{why}"
    );
    assert_eq!(tip(&repo, &branch).as_deref(), Some(late.as_str()));

    let said = sliceboard(&repo, &["clean", "alpha", "--force"]).ok();
    assert!(
        said.contains("1 commit not in integration is kept on branch sliceboard/cleaned/alpha"),
        "{said}"
    );
    assert!(!repo.worktree("alpha").exists(), "the worktree is gone");
    assert_eq!(tip(&repo, &branch), None, "the slice's own name is free");
    assert_eq!(
        tip(&repo, "sliceboard/cleaned/alpha").as_deref(),
        Some(late.as_str()),
        "the late commit is the tip of a branch"
    );
    wait_event(&repo, "slice_cleaned", "alpha", |e| {
        e["kept_as"] == "sliceboard/cleaned/alpha" && e["forced"] == true
    });

    // Cleaned is what status says, with no advice to bring it back.
    let status = status_json(&repo);
    let alpha = &status["slices"][0];
    assert_eq!(alpha["state"], "cleaned", "{alpha:#}");
    assert_eq!(alpha["problems"], serde_json::json!([]), "{alpha:#}");
    let table = sliceboard(&repo, &["status"]).ok();
    assert!(table.contains("cleaned"), "{table}");
    assert!(!table.contains("sliceboard up"), "{table}");

    // A bare `up` leaves it cleaned; `up alpha` starts it again from main.
    let up = sliceboard(&repo, &["up"]).ok();
    assert!(up.contains("1 cleaned"), "{up}");
    assert!(!repo.worktree("alpha").exists());
    sliceboard(&repo, &["up", "alpha"]).ok();
    assert!(repo.worktree("alpha").is_dir());
    assert_eq!(tip(&repo, &branch), tip(&repo, "main"), "a fresh branch");
    assert_eq!(repo.state_json()["slices"]["alpha"]["lifecycle"], "ready");
    assert_eq!(
        tip(&repo, "sliceboard/cleaned/alpha").as_deref(),
        Some(late.as_str())
    );
}

#[test]
fn feedback_about_a_conflict_is_pasted_into_the_agent_then_entered() {
    let input = tempfile::tempdir().unwrap();
    let log = input.path().join("input.log");
    // Raw mode first, so nothing is translated; then bracketed paste on.
    let agent = format!(
        "stty raw -echo; printf '\\033[?2004h'; exec cat > '{}'",
        log.display()
    );
    let repo = conflicting(Some(&agent));
    merge_left_then_conflict(&repo);

    let said = sliceboard(&repo, &["feedback", "right"]).ok();
    assert!(
        said.contains("told right's agent about a merge conflict"),
        "{said}"
    );
    let read = || std::fs::read(&log).unwrap_or_default();
    poll_until(
        "the agent's input ends with the paste and Enter",
        WAIT,
        || read().ends_with(b"\x1b[201~\r"),
    );
    let got = String::from_utf8_lossy(&read()).into_owned();
    assert!(got.starts_with("\x1b[200~"), "{got:?}");
    let text = got
        .strip_prefix("\x1b[200~")
        .and_then(|t| t.strip_suffix("\x1b[201~\r"))
        .unwrap();
    assert!(
        !text.contains('\x1b'),
        "one paste, nothing else typed: {got:?}"
    );
    assert!(
        text.contains("slice right") && text.contains("shared.txt") && text.contains("conflict"),
        "the prompt names the slice and the path: {got:?}"
    );
    wait_event(&repo, "feedback_sent", "right", |e| {
        e["about"] == "a merge conflict"
    });
}

// ---------------------------------------------------------------------------
// Commands that start nothing, and commands that wait for the lock

/// Whether a supervisor runs for the repository: its socket, or the lock
/// held by one.
fn supervisor_runs(repo: &TestRepo) -> bool {
    repo.socket().exists()
        || StateLock::holder(&repo.state_dir().join("lock"))
            .is_some_and(|h| h.command == "sliceboard supervisor")
}

#[test]
fn queue_and_status_read_the_state_without_starting_a_supervisor() {
    let repo = left_committed_right_not();
    for args in [
        &["queue"][..],
        &["queue", "--json"],
        &["status"],
        &["status", "--json"],
    ] {
        let run = sliceboard(&repo, args);
        assert!(
            !run.stderr.contains("starting the supervisor"),
            "{args:?}: {}",
            run.stderr
        );
        run.ok();
        assert!(!supervisor_runs(&repo), "{args:?} started a supervisor");
    }
    let board = queue(&repo);
    assert_eq!(board["integration"], "integration", "{board:#}");
    assert!(board["slices"]["left"]["tip"].is_string(), "{board:#}");
    assert!(!supervisor_runs(&repo));
}

#[test]
fn approve_with_no_supervisor_leaves_none_running_and_queue_reads_it() {
    let repo = repo_with(&plan("", &[("left", &["left/**"], &[])]), &[]);
    repo.commit_in("left", &[("left/a.sql", "a\n")], "left");
    sliceboard(&repo, &["approve", "left"]).ok();
    poll_until(
        "the supervisor started for `approve` has ended",
        WAIT,
        || !supervisor_runs(&repo),
    );
    let board = queue(&repo);
    assert_eq!(board["order"], serde_json::json!(["left"]), "{board:#}");
    assert_eq!(state_of(&board, "left"), Some("ready"), "{board:#}");
    let text = sliceboard(&repo, &["queue"]).ok();
    assert!(text.contains("1. left (approved"), "{text}");
    assert!(!supervisor_runs(&repo));

    // A commit after the approval: stale, read directly too.
    repo.commit_in("left", &[("left/b.sql", "b\n")], "more");
    assert_eq!(state_of(&queue(&repo), "left"), Some("stale"));

    sliceboard(&repo, &["approve", "left"]).ok();
    sliceboard(&repo, &["merge"]).ok();
    poll_until("the supervisor started for `merge` has ended", WAIT, || {
        !supervisor_runs(&repo)
    });
    assert_eq!(state_of(&queue(&repo), "left"), Some("merged"));
}

/// With `auto = true`, an approval from the shell starts a merge in the
/// supervisor started for it: that supervisor stays until the merge's
/// check has run and the branch moved, then ends.
#[test]
fn an_automatic_merge_outlives_the_command_that_started_its_supervisor() {
    let repo = repo_with(
        &plan(
            "[merge]\nauto = true\ncheck = \"sleep 4\"",
            &[("left", &["left/**"], &[])],
        ),
        &[],
    );
    let tip = repo.commit_in("left", &[("left/a.sql", "a\n")], "left");
    sliceboard(&repo, &["approve", "left"]).ok();
    poll_until("the automatic merge moved integration", WAIT, || {
        repo.command("git", &repo.root)
            .args(["merge-base", "--is-ancestor", &tip, "integration"])
            .status()
            .is_ok_and(|s| s.success())
    });
    poll_until(
        "the supervisor started for `approve` has ended",
        WAIT,
        || !supervisor_runs(&repo),
    );
    let journal = std::fs::read_to_string(repo.state_dir().join("events.jsonl")).unwrap();
    assert!(!journal.contains("interrupted"), "{journal}");
}

/// Two slices, `left` with one commit of its own, `right` with none.
fn left_committed_right_not() -> TestRepo {
    let repo = repo_with(
        &plan(
            "",
            &[("left", &["left/**"], &[]), ("right", &["right/**"], &[])],
        ),
        &[],
    );
    repo.commit_in("left", &[("left/a.sql", "a\n")], "left");
    repo
}

/// Starts the binary in the background, its stderr in a file.
fn spawn_with_stderr(repo: &TestRepo, args: &[&str]) -> (Child, std::path::PathBuf) {
    let err = repo.top.join(format!("stderr-{}", args.join("-")));
    let child = repo
        .command(BIN, &repo.root)
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    (child, err)
}

#[test]
fn approve_and_down_wait_for_a_direct_up_holding_the_lock_then_work() {
    let repo = left_committed_right_not();
    for args in [&["approve", "left"][..], &["down", "right"]] {
        poll_until("no supervisor holds the lock", WAIT, || {
            !supervisor_runs(&repo)
        });
        // The supervisor the last command started removes its socket
        // first and lets go of the lock last.
        let lock = poll_ok("the lock free", WAIT, || {
            StateLock::acquire(&repo.state_dir().join("lock"), "sliceboard up")
        });
        let (mut child, err) = spawn_with_stderr(&repo, args);
        let waiting = format!("waiting for `sliceboard up` (pid {})", std::process::id());
        poll_until(format!("{args:?} says it waits"), WAIT, || {
            std::fs::read_to_string(&err).is_ok_and(|t| t.contains(&waiting))
        });
        assert!(
            child.try_wait().unwrap().is_none(),
            "{args:?} waits while the lock is held"
        );
        drop(lock);
        let status = common::wait_exit(&mut child, &format!("{args:?}"), WAIT);
        assert!(
            status.success(),
            "{args:?} worked once the lock was free: {}",
            std::fs::read_to_string(&err).unwrap()
        );
    }
    let state = repo.state_json();
    assert_eq!(
        state["slices"]["left"]["lifecycle"], "approved",
        "{state:#}"
    );
    assert!(!repo.worktree("right").exists(), "right's worktree removed");
}

#[test]
fn a_batch_of_four_with_one_culprit_lands_three_and_names_the_culprit_with_its_output() {
    let slices: Vec<(String, String)> = ["a", "b", "c", "d"]
        .iter()
        .map(|s| (s.to_string(), format!("{s}/**")))
        .collect();
    let owned: Vec<(&str, [&str; 1], [&str; 0])> = slices
        .iter()
        .map(|(name, glob)| (name.as_str(), [glob.as_str()], []))
        .collect();
    let specs: Vec<(&str, &[&str], &[&str])> = owned
        .iter()
        .map(|(name, owns, after)| (*name, &owns[..], &after[..]))
        .collect();
    let repo = repo_with(
        &plan(
            "[merge]\nbatch = 4\ncheck = \"if grep -rlq --include='*.sql' BROKEN .; then echo orders: 3 rows, want 4 in $(grep -rl --include='*.sql' BROKEN .); exit 1; fi; echo ok\"",
            &specs,
        ),
        &[],
    );
    let before = tip(&repo, "integration").unwrap();
    for (slice, body) in [("a", "fine"), ("b", "fine"), ("c", "BROKEN"), ("d", "fine")] {
        repo.commit_in(slice, &[(&format!("{slice}/model.sql"), body)], slice);
        sliceboard(&repo, &["approve", slice]).ok();
    }

    let said = sliceboard(&repo, &["merge", "--all"]).fails();
    assert!(
        said.contains("1 of 4 approved slices did not merge")
            && said.contains("c did not merge")
            && said.contains("orders: 3 rows, want 4"),
        "{said}"
    );
    for slice in ["a", "b", "d"] {
        assert_eq!(state_of(&queue(&repo), slice), Some("merged"), "{slice}");
    }
    let culprit = wait_event(&repo, "check_failed", "c", |_| true);
    assert!(
        culprit["reason"]
            .as_str()
            .unwrap()
            .contains("found by bisecting its batch"),
        "{culprit}"
    );
    let log = std::fs::read_to_string(repo.state_dir().join(format!(
        "merge/attempt-{}.log",
        culprit["attempt"].as_u64().unwrap()
    )))
    .unwrap();
    assert!(
        log.contains("c/model.sql"),
        "the culprit's own check: {log}"
    );
    // One merge commit per slice, in queue order, on the old tip.
    let after = tip(&repo, "integration").unwrap();
    let subjects = repo.git(&[
        "log",
        "--first-parent",
        "--format=%s",
        &format!("{before}..{after}"),
    ]);
    assert_eq!(
        subjects.lines().collect::<Vec<_>>(),
        [
            "Merge slice d into integration",
            "Merge slice b into integration",
            "Merge slice a into integration"
        ]
    );
    // The branch moved only by compare-and-swap, to checked commits: the
    // batch [a b] once, then d.
    let moves = repo.git(&["reflog", "--format=%gs", "refs/heads/integration"]);
    let moves: Vec<&str> = moves.lines().collect();
    assert!(
        moves[0].starts_with("sliceboard: merge slice d")
            && moves[1].starts_with("sliceboard: merge slice b"),
        "{moves:?}"
    );
    assert_eq!(moves.len(), 3, "created, then two moves: {moves:?}");
    let passed: Vec<String> = repo
        .journal()
        .into_iter()
        .filter(|e| e["event"] == "check_passed")
        .map(|e| e["slice"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(passed, ["b", "d"]);
    // Four checks: a b c d (fails), a b (passes, lands), c (fails: the
    // culprit), d.
    let checks = repo
        .journal()
        .iter()
        .filter(|e| e["event"] == "check_started")
        .count();
    assert_eq!(checks, 4, "{}", kinds(&repo));
}

#[test]
fn a_supervisor_killed_during_a_batch_check_leaves_integration_at_a_checked_commit_and_recovery_names_every_slice()
 {
    let repo = repo_with(
        &plan(
            "[merge]\nbatch = 2\ncheck = \"sleep 600\"",
            &[("alpha", &["a/**"], &[]), ("beta", &["b/**"], &[])],
        ),
        &[],
    );
    let before = tip(&repo, "integration").unwrap();
    repo.commit_in("alpha", &[("a/one.sql", "select 1\n")], "one");
    repo.commit_in("beta", &[("b/one.sql", "select 2\n")], "two");
    sliceboard(&repo, &["approve", "alpha"]).ok();
    sliceboard(&repo, &["approve", "beta"]).ok();
    let lock = repo.state_dir().join("lock");

    let merge = Background::start(&repo, &["merge", "--all"]);
    let attempt = wait_check_running(&repo);
    let number = attempt["number"].as_u64().unwrap();
    let members: Vec<&str> = attempt["batch"]
        .as_array()
        .expect("the attempt file records its batch")
        .iter()
        .map(|m| m["slice"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["alpha", "beta"]);
    let _check = KillGroup(attempt["check_pid"].as_i64().unwrap() as i32);
    let holder = StateLock::holder(&lock).expect("the supervisor holds the lock");
    // SAFETY: signals the repository's supervisor, which the test started.
    assert_eq!(unsafe { libc::kill(holder.pid as i32, libc::SIGKILL) }, 0);
    poll_until("the killed supervisor lets go of the lock", WAIT, || {
        StateLock::holder(&lock).is_none()
    });
    merge.finish("the merge whose supervisor was killed");
    assert_eq!(tip(&repo, "integration").unwrap(), before);

    let _supervisor = Supervise::start(&repo, &[]);
    for slice in ["alpha", "beta"] {
        wait_event(&repo, "merge_interrupted", slice, |e| {
            e["attempt"] == number
        });
    }
    poll_until("the attempt file removed", WAIT, || {
        !repo.state_dir().join("merge/attempt.json").exists()
    });
    let board = wait_queue(&repo, "both ready again", |q| {
        state_of(q, "alpha") == Some("ready") && state_of(q, "beta") == Some("ready")
    });
    assert_eq!(board["integration_tip"], before.as_str());
}

#[test]
fn with_on_failure_feedback_a_queued_slice_that_would_conflict_tells_its_agent_once() {
    let agent = "IFS= read -r line; printf '%s\\n' \"$line\" > got.txt; exec sleep 60";
    let repo = conflicting_with("[merge]\non_failure = \"feedback\"", Some(agent));
    sliceboard(&repo, &["approve", "left", "--force"]).ok();
    sliceboard(&repo, &["merge", "left"]).ok();
    // Approved, right would conflict with the new tip: it never gets an
    // attempt, and its agent (started for it) is told at once.
    sliceboard(&repo, &["approve", "right", "--force"]).ok();
    let got = poll_ok("right's agent told", WAIT, || {
        std::fs::read_to_string(repo.worktree("right").join("got.txt")).map_err(|e| e.to_string())
    });
    assert!(
        got.contains("Message from sliceboard's merge queue about slice right"),
        "{got}"
    );
    let told = events(&repo, "feedback_sent", "right");
    assert_eq!(told.len(), 1, "{}", kinds(&repo));
    assert_eq!(told[0]["actor"], "sliceboard");
    // The same approved commit is not told again.
    let again = common::poll_within(std::time::Duration::from_secs(2), || {
        events(&repo, "feedback_sent", "right").len() > 1
    });
    assert!(!again, "{}", kinds(&repo));
}

#[test]
fn with_on_failure_feedback_a_slice_is_told_when_what_it_comes_after_merged() {
    // The first run ends at once (its work done); told something, it is
    // started again and writes what it read.
    let agent = "if [ -e ../told-once ]; then IFS= read -r line; printf '%s\\n' \"$line\" > got.txt; exec sleep 60; fi; touch ../told-once; exit 0";
    let mut text = plan(
        "[merge]\non_failure = \"feedback\"",
        &[("up", &["u/**"], &[]), ("down", &["d/**"], &["up"])],
    );
    text += &format!("agent = {}\n", toml_string(agent));
    let repo = repo_with(&text, &[]);
    repo.commit_in("up", &[("u/a.sql", "a\n")], "up");
    let _sup = Supervise::start(&repo, &[]);
    cli(&repo.socket(), start_agent("down")).expect("down's agent starts");
    poll_until("down's first run over", WAIT, || {
        repo.last_agent_status("down").as_deref() == Some("exited 0")
    });
    sliceboard(&repo, &["approve", "up"]).ok();
    sliceboard(&repo, &["merge", "up"]).ok();
    let got = poll_ok("down's agent told about up", WAIT, || {
        std::fs::read_to_string(repo.worktree("down").join("got.txt"))
            .map_err(|e| format!("{e}\n{}", kinds(&repo)))
    });
    assert!(got.contains("about slice down"), "{got}");
    let told = events(&repo, "feedback_sent", "down");
    assert_eq!(told.len(), 1, "{}", kinds(&repo));
    assert_eq!(told[0]["actor"], "sliceboard");
    assert!(
        told[0]["about"].as_str().unwrap().contains("up"),
        "{told:?}"
    );
}

#[test]
fn a_slice_that_conflicts_only_with_one_batched_before_it_waits_for_a_later_batch_and_is_told_once()
{
    let agent = "IFS= read -r line; printf '%s\\n' \"$line\" > got.txt; exec sleep 60";
    let repo = conflicting_with("[merge]\nbatch = 2\non_failure = \"feedback\"", Some(agent));
    sliceboard(&repo, &["approve", "left", "--force"]).ok();
    sliceboard(&repo, &["approve", "right", "--force"]).ok();
    let said = sliceboard(&repo, &["merge", "--all"]).fails();
    assert!(said.contains("merged left"), "{said}");
    assert!(
        said.contains("right was skipped: conflicts in shared.txt"),
        "{said}"
    );
    // right conflicts with left, not with the old tip: nothing is said to
    // it until left has landed and it conflicts with the new tip.
    poll_until("right's agent told", WAIT, || {
        repo.worktree("right").join("got.txt").exists()
    });
    let again = common::poll_within(std::time::Duration::from_secs(2), || {
        events(&repo, "feedback_sent", "right").len() > 1
    });
    assert!(!again, "{}", kinds(&repo));
    let journal = repo.journal();
    let at = |kind: &str, slice: &str| {
        journal
            .iter()
            .position(|e| e["event"] == kind && e["slice"] == slice)
            .unwrap_or_else(|| panic!("no {kind} for {slice}: {}", kinds(&repo)))
    };
    assert!(at("merged", "left") < at("feedback_sent", "right"));
}

#[test]
fn the_check_runs_in_a_worktree_set_up_as_every_worktree_is() {
    let repo = repo_with(
        &plan(
            "[worktree]\nsetup = [\"echo ready > .set-up\"]\n\n[merge]\ncheck = \"test -f .set-up && cat .set-up\"",
            &[("orders", &["orders/**"], &[])],
        ),
        &[(".gitignore", ".set-up\n")],
    );
    repo.commit_in(
        "orders",
        &[("orders/fct_orders.sql", "select 1 as id\n")],
        "orders model",
    );
    sliceboard(&repo, &["approve", "orders"]).ok();
    let said = sliceboard(&repo, &["merge", "orders"]).ok();
    assert!(said.contains("merged orders into integration"), "{said}");
    let log = std::fs::read_to_string(repo.state_dir().join("merge/attempt-1.log")).unwrap();
    assert!(
        log.contains("$ echo ready > .set-up\n$ test -f .set-up && cat .set-up\nready\n"),
        "{log}"
    );
}

#[test]
fn a_slice_whose_approval_is_withdrawn_while_its_check_runs_does_not_land() {
    let gate = tempfile::tempdir().unwrap();
    let open = gate.path().join("open");
    let check = format!(
        "[merge]\ncheck = \"while [ ! -e {} ]; do sleep 0.05; done\"",
        open.display()
    );
    let repo = repo_with(&plan(&check, &[("orders", &["orders/**"], &[])]), &[]);
    repo.commit_in(
        "orders",
        &[("orders/fct_orders.sql", "select 1 as id\n")],
        "orders model",
    );
    sliceboard(&repo, &["approve", "orders"]).ok();
    let before = tip(&repo, "integration");
    let merging = Background::start(&repo, &["merge", "orders"]);
    wait_check_running(&repo);
    sliceboard(&repo, &["withdraw", "orders"]).ok();
    std::fs::write(&open, "").unwrap();
    let run = merging.finish("the merge");
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(tip(&repo, "integration"), before, "the branch did not move");
    let failed = events(&repo, "merge_failed", "orders");
    assert!(
        failed.iter().any(|e| e["reason"]
            == "orders' approval was withdrawn while its check ran; nothing was merged"),
        "{failed:?}"
    );
}

/// The queue reads the branches when they move, not on a timer: a commit
/// that leaves the slice's diff as it was (so no new diff reaches the
/// board) still shows the approval stale on an attached board, with no
/// command asked in between.
#[test]
fn a_branch_that_moves_with_the_same_diff_shows_its_approval_stale_by_itself() {
    let repo = repo_with(&plan("", &[("alpha", &["a/**"], &[])]), &[]);
    repo.commit_in("alpha", &[("a/one.sql", "select 1\n")], "one");
    let _sup = Supervise::start(&repo, &[]);
    let mut dash = Dashboard::connect(&repo.socket());
    dash.request(sliceboard::domain::Command::Approve {
        slice: name("alpha"),
        force: false,
    })
    .expect("approves");
    let state = |d: &Dashboard| {
        d.board
            .queue
            .slices
            .get(&name("alpha"))
            .and_then(|v| v.state.clone())
    };
    dash.wait_until("alpha ready on the board", |d| {
        state(d) == Some(sliceboard::domain::queue::EntryState::Ready)
    });
    let worktree = repo.worktree("alpha");
    repo.git_in(
        &worktree,
        &["commit", "-q", "--allow-empty", "-m", "nothing new"],
    );
    let now = repo.git_in(&worktree, &["rev-parse", "HEAD"]);
    dash.patience = std::time::Duration::from_secs(15);
    dash.wait_until("alpha stale on the board", |d| {
        matches!(
            state(d),
            Some(sliceboard::domain::queue::EntryState::Stale { now: Some(ref tip) }) if *tip == now
        )
    });
}
