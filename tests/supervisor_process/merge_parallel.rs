//! Speculative checks (`[merge] parallel`), end to end: several queue
//! entries checked at once, each on the tip plus the entries ahead of it in
//! a check worktree of its own; the entries behind a failing one checked
//! again without it; the branch moved in queue order by compare-and-swap;
//! a supervisor killed while checks run.

use crate::common;

use super::merge_queue::{
    Background, events, kinds, parents, plan, repo_with, state_of, tip, wait_event, wait_queue,
};
use common::supervised::*;
use common::{TestRepo, poll_ok, poll_until};
use serde_json::Value;
use sliceboard::store::StateLock;

/// The position of the first journal entry that `pick` holds.
fn first(journal: &[Value], pick: impl Fn(&Value) -> bool) -> Option<usize> {
    journal.iter().position(pick)
}

/// `merge/lanes.json` once it holds what `want` asks.
fn wait_lanes(repo: &TestRepo, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let lanes_file = repo.state_dir().join("merge/lanes.json");
    poll_ok(what, WAIT, || {
        let read = std::fs::read_to_string(&lanes_file).map_err(|e| e.to_string())?;
        let lanes: Value = serde_json::from_str(&read).map_err(|e| e.to_string())?;
        if want(&lanes) { Ok(lanes) } else { Err(read) }
    })
}

/// SIGKILLs the repository's supervisor, waits for its lock to be free,
/// and lets the command it was serving end.
fn kill_supervisor(repo: &TestRepo, command: Background) {
    let lock = repo.state_dir().join("lock");
    let holder = StateLock::holder(&lock).expect("the supervisor holds the lock");
    // SAFETY: signals the repository's supervisor, which the test started.
    assert_eq!(unsafe { libc::kill(holder.pid as i32, libc::SIGKILL) }, 0);
    poll_until("the killed supervisor lets go of the lock", WAIT, || {
        StateLock::holder(&lock).is_none()
    });
    command.finish("the merge whose supervisor was killed");
}

/// Slices `names`, each owning its own folder, with `extra` as `[merge]`.
fn repo_of(extra: &str, names: &[&str]) -> TestRepo {
    let globs: Vec<String> = names.iter().map(|n| format!("{n}/**")).collect();
    let owns: Vec<[&str; 1]> = globs.iter().map(|g| [g.as_str()]).collect();
    let specs: Vec<(&str, &[&str], &[&str])> = names
        .iter()
        .zip(&owns)
        .map(|(name, owns)| (*name, &owns[..], &[][..]))
        .collect();
    repo_with(&plan(extra, &specs), &[])
}

#[test]
fn with_parallel_3_the_first_entry_fails_and_the_two_behind_are_checked_again_without_it_and_land_in_order()
 {
    // A check that fails fast on the broken model, and records where each
    // passing check ran.
    let check = "if grep -rlq --include='*.sql' BROKEN .; then echo orders: 3 rows, want 4 in $(grep -rl --include='*.sql' BROKEN .); exit 1; fi; echo \\\"$SLICEBOARD_MERGING $(pwd) $SLICEBOARD_DBT_TARGET\\\" >> \\\"$SLICEBOARD_REPO/../lanes.txt\\\"; echo ok";
    let repo = repo_of(
        &format!("[merge]\nparallel = 3\ncheck = \"{check}\""),
        &["a", "b", "c"],
    );
    let before = tip(&repo, "integration").unwrap();
    for (slice, body) in [("a", "BROKEN"), ("b", "fine"), ("c", "fine")] {
        repo.commit_in(slice, &[(&format!("{slice}/model.sql"), body)], slice);
        sliceboard(&repo, &["approve", slice]).ok();
    }

    let said = sliceboard(&repo, &["merge", "--all"]).fails();
    assert!(
        said.contains("1 of 3 approved slices did not merge")
            && said.contains("a did not merge")
            && said.contains("orders: 3 rows, want 4"),
        "{said}"
    );
    let board = wait_queue(&repo, "b and c merged", |q| {
        state_of(q, "b") == Some("merged") && state_of(q, "c") == Some("merged")
    });
    assert_eq!(state_of(&board, "a"), Some("failed"), "{board:#}");

    // The three checks ran at once: all started before any ended.
    let journal = repo.journal();
    let started: Vec<usize> = journal
        .iter()
        .enumerate()
        .filter(|(_, e)| e["event"] == "check_started")
        .map(|(i, _)| i)
        .collect();
    let ended = first(&journal, |e| {
        e["event"] == "check_failed" || e["event"] == "check_passed" || e["event"] == "progress"
    })
    .unwrap();
    assert!(
        started.len() >= 5 && started[2] < ended,
        "three checks at once, then b and c again: {}",
        kinds(&repo)
    );
    // Only a is blamed; b and c were checked again without it.
    assert_eq!(
        events(&repo, "check_failed", "a").len(),
        1,
        "{}",
        kinds(&repo)
    );
    assert!(events(&repo, "check_failed", "b").is_empty());
    assert!(events(&repo, "check_failed", "c").is_empty());
    assert!(
        journal.iter().any(|e| e["event"] == "progress"
            && e["slice"] == "b"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("it assumed a, whose check failed"))),
        "{}",
        kinds(&repo)
    );

    // In queue order, one merge commit each, c's made on b's, b's on the
    // old tip; each move a compare-and-swap from what its check assumed.
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
            "Merge slice c into integration",
            "Merge slice b into integration"
        ]
    );
    let b_merge = parents(&repo, &after)[0].clone();
    assert_eq!(parents(&repo, &b_merge)[0], before);
    let moves = repo.git(&["reflog", "--format=%gs", "refs/heads/integration"]);
    let moves: Vec<&str> = moves.lines().collect();
    assert!(
        moves.len() == 3
            && moves[0].starts_with("sliceboard: merge slice c")
            && moves[1].starts_with("sliceboard: merge slice b"),
        "created, then b, then c: {moves:?}"
    );

    // b's and c's passing checks ran at once in two check worktrees, each
    // with its own dbt target.
    let lanes = std::fs::read_to_string(repo.top.join("lanes.txt")).unwrap();
    let runs: Vec<Vec<&str>> = lanes.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(runs.len(), 2, "{lanes}");
    assert_ne!(runs[0][1], runs[1][1], "two worktrees: {lanes}");
    assert_ne!(runs[0][2], runs[1][2], "two dbt targets: {lanes}");
    assert!(
        runs.iter()
            .any(|r| r[1].ends_with("sliceboard-integration+2") && r[2].ends_with("_lane2")),
        "{lanes}"
    );
    assert!(
        !repo.state_dir().join("merge/lanes.json").exists(),
        "nothing left in play"
    );
}

#[test]
fn a_slice_that_comes_after_an_entry_in_play_is_checked_behind_it_at_once() {
    let repo = repo_with(
        &plan(
            "[merge]\nparallel = 2\ncheck = \"sleep 1\"",
            &[("up", &["u/**"], &[]), ("down", &["d/**"], &["up"])],
        ),
        &[],
    );
    repo.commit_in("up", &[("u/a.sql", "a\n")], "up");
    repo.commit_in("down", &[("d/a.sql", "d\n")], "down");
    sliceboard(&repo, &["approve", "up"]).ok();
    sliceboard(&repo, &["approve", "down"]).ok();
    let said = sliceboard(&repo, &["merge", "--all"]).ok();
    assert!(
        said.contains("merged up") && said.contains("merged down"),
        "{said}"
    );
    let journal = repo.journal();
    let down_started = first(&journal, |e| {
        e["event"] == "check_started" && e["slice"] == "down"
    })
    .unwrap();
    let up_passed = first(&journal, |e| {
        e["event"] == "check_passed" && e["slice"] == "up"
    })
    .unwrap();
    assert!(
        down_started < up_passed,
        "down is checked on the tip + up while up's check runs: {}",
        kinds(&repo)
    );
    assert!(
        journal[down_started]["command"]
            .as_str()
            .unwrap()
            .contains("the tip + up"),
        "{}",
        journal[down_started]
    );
}

#[test]
fn a_supervisor_killed_during_speculative_checks_leaves_a_checked_tip_and_recovery_names_what_was_in_play()
 {
    let repo = repo_of(
        "[merge]\nparallel = 2\ncheck = \"if [ \\\"$SLICEBOARD_MERGING\\\" = beta ]; then sleep 600; fi\"",
        &["alpha", "beta"],
    );
    repo.commit_in("alpha", &[("alpha/one.sql", "select 1\n")], "one");
    repo.commit_in("beta", &[("beta/one.sql", "select 2\n")], "two");
    sliceboard(&repo, &["approve", "alpha"]).ok();
    sliceboard(&repo, &["approve", "beta"]).ok();

    let merge = Background::start(&repo, &["merge", "--all"]);
    let merged = wait_event(&repo, "merged", "alpha", |_| true);
    let lanes_file = repo.state_dir().join("merge/lanes.json");
    // The record is written again once alpha has landed: read it then,
    // with beta alone in play.
    let in_play = wait_lanes(&repo, "beta's check recorded alone", |lanes| {
        lanes
            .as_array()
            .is_some_and(|l| l.len() == 1 && l[0]["slice"] == "beta")
    });
    let beta = &in_play[0];
    assert_eq!(beta["slice"], "beta", "{in_play:#}");
    assert_eq!(
        beta["onto"], merged["commit"],
        "beta is checked on alpha's merge commit"
    );
    let _check = KillGroup(beta["check_pid"].as_i64().unwrap() as i32);
    kill_supervisor(&repo, merge);
    assert_eq!(
        tip(&repo, "integration").as_deref(),
        merged["commit"].as_str(),
        "the branch sits at alpha's checked merge commit"
    );

    let _supervisor = Supervise::start(&repo, &[]);
    wait_event(&repo, "merge_interrupted", "beta", |e| {
        e["attempt"] == beta["number"]
    });
    poll_until("the record of the checks in play removed", WAIT, || {
        !lanes_file.exists()
    });
    let board = wait_queue(&repo, "beta ready again", |q| {
        state_of(q, "beta") == Some("ready")
    });
    assert_eq!(state_of(&board, "alpha"), Some("merged"));
    assert_eq!(
        events(&repo, "merged", "alpha").len(),
        1,
        "{}",
        kinds(&repo)
    );
    assert!(events(&repo, "merge_interrupted", "alpha").is_empty());
}

#[test]
fn with_batch_4_and_parallel_3_a_failing_batch_is_bisected_by_three_checks_at_once() {
    let check = "if grep -rlq --include='*.sql' BROKEN .; then echo orders: 3 rows, want 4 in $(grep -rl --include='*.sql' BROKEN .); exit 1; fi; echo ok";
    let repo = repo_of(
        &format!("[merge]\nbatch = 4\nparallel = 3\ncheck = \"{check}\""),
        &["a", "b", "c", "d"],
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
    let board = wait_queue(&repo, "a, b and d merged", |q| {
        ["a", "b", "d"]
            .iter()
            .all(|s| state_of(q, s) == Some("merged"))
    });
    assert_eq!(state_of(&board, "c"), Some("failed"), "{board:#}");
    let culprit = wait_event(&repo, "check_failed", "c", |_| true);
    assert!(
        culprit["reason"]
            .as_str()
            .unwrap()
            .contains("found by bisecting its batch"),
        "{culprit}"
    );

    // The whole batch, then its prefixes of 1, 2 and 3 at once (all three
    // started before any ended), then d alone.
    let journal = repo.journal();
    let checks: Vec<(usize, &Value)> = journal
        .iter()
        .enumerate()
        .filter(|(_, e)| e["event"] == "check_started")
        .collect();
    assert_eq!(checks.len(), 5, "{}", kinds(&repo));
    let bisecting: Vec<&str> = checks[1..4]
        .iter()
        .map(|(_, e)| e["slice"].as_str().unwrap())
        .collect();
    assert_eq!(bisecting, ["a", "b", "c"], "{}", kinds(&repo));
    let first_end = journal
        .iter()
        .enumerate()
        .skip(checks[1].0)
        .find(|(_, e)| e["event"] == "check_passed" || e["event"] == "check_failed")
        .map(|(i, _)| i)
        .unwrap();
    assert!(checks[3].0 < first_end, "{}", kinds(&repo));

    // The branch moved twice, by compare-and-swap: to b's merge commit (the
    // passing prefix), then to d's.
    let moves = repo.git(&["reflog", "--format=%gs", "refs/heads/integration"]);
    let moves: Vec<&str> = moves.lines().collect();
    assert!(
        moves.len() == 3
            && moves[0].starts_with("sliceboard: merge slice d")
            && moves[1].starts_with("sliceboard: merge slice b"),
        "{moves:?}"
    );
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
}

#[test]
fn a_supervisor_killed_while_a_batch_is_bisected_in_parallel_leaves_the_tip_and_recovery_names_the_prefixes()
 {
    // The batch fails at once; its prefixes (without the broken model)
    // then run until killed.
    let repo = repo_of(
        "[merge]\nbatch = 3\nparallel = 2\ncheck = \"if grep -rlq --include='*.sql' BROKEN .; then exit 1; fi; sleep 600\"",
        &["a", "b", "c"],
    );
    let before = tip(&repo, "integration").unwrap();
    for (slice, body) in [("a", "fine"), ("b", "fine"), ("c", "BROKEN")] {
        repo.commit_in(slice, &[(&format!("{slice}/model.sql"), body)], slice);
        sliceboard(&repo, &["approve", slice]).ok();
    }
    let merge = Background::start(&repo, &["merge", "--all"]);
    let lanes_file = repo.state_dir().join("merge/lanes.json");
    let probes = wait_lanes(&repo, "two prefixes being checked", |v| {
        v.as_array().is_some_and(|a| a.len() == 2)
    });
    let lens: Vec<usize> = probes
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["batch"].as_array().unwrap().len())
        .collect();
    assert_eq!(lens, [1, 2], "{probes:#}");
    let _checks: Vec<KillGroup> = probes
        .as_array()
        .unwrap()
        .iter()
        .map(|p| KillGroup(p["check_pid"].as_i64().unwrap() as i32))
        .collect();
    kill_supervisor(&repo, merge);
    assert_eq!(tip(&repo, "integration").unwrap(), before);

    let _supervisor = Supervise::start(&repo, &[]);
    for slice in ["a", "b"] {
        wait_event(&repo, "merge_interrupted", slice, |_| true);
    }
    poll_until("the record of the checks in play removed", WAIT, || {
        !lanes_file.exists()
    });
    for pid in probes
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["check_pid"].as_i64().unwrap() as i32)
    {
        poll_until("the prefix's check stopped", WAIT, || {
            !common::procs::group_alive(pid)
        });
    }
    let board = wait_queue(&repo, "a and b ready again", |q| {
        state_of(q, "a") == Some("ready") && state_of(q, "b") == Some("ready")
    });
    assert_eq!(board["integration_tip"], before.as_str());
}
