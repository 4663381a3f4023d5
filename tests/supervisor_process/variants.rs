//! Competing variants of one slice (`variants` in the plan), in the real
//! binary with its supervisor: three variants are made and run (scripted
//! agents that each commit a different amount of work), `compare` shows
//! each one's numbers and the diff between two, and `pick` approves one
//! and retires the others, whose branches stay listed.

use crate::common;

use common::supervised::{Supervise, cli, start_agent};
use common::{Plan, TestRepo, poll_until, toml_string};
use sliceboard::domain::Lifecycle;
use std::time::Duration;

/// How long a variant's agent, merge or pick may take.
const PATIENCE: Duration = Duration::from_secs(30);

/// Variant N writes N files and commits them.
const MAKE: &str = "n=$1; i=1; while [ $i -le $n ]; do echo \"select $i as id\" > models/staging/v${n}_$i.sql; i=$((i+1)); done; git add -A; git -c user.name=agent -c user.email=a@example.com commit -qm \"variant $n\"; echo made $n";

fn plan() -> String {
    let variant = |n: usize| format!("{{ agent = {} }}", toml_string(&format!("sh make.sh {n}")));
    Plan::new("cat")
        .staging(&[
            "prompt = \"Rename the staging models\"",
            &format!(
                "variants = [{}, {}, {}]",
                variant(1),
                variant(2),
                variant(3)
            ),
        ])
        .marts(&["after = [\"staging\"]"])
        .to_string()
}

#[test]
fn three_variants_run_compare_and_one_is_picked_the_others_retired() {
    let repo = TestRepo::new();
    repo.write("make.sh", MAKE);
    repo.write("sliceboard.toml", &plan());
    repo.commit_all("plan with variants");

    // The plan resolves to three variants owning the same paths, and
    // `after = ["staging"]` waits for each of them.
    let check: serde_json::Value =
        serde_json::from_str(&repo.sliceboard(&["check", "--json"]).ok()).unwrap();
    let names: Vec<&str> = check["resolved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["staging.1", "staging.2", "staging.3", "marts"]);
    let human = repo.sliceboard(&["check"]).ok();
    assert!(human.contains("variant of staging"), "{human}");
    assert!(
        human.contains("after staging.1, staging.2, staging.3"),
        "{human}"
    );

    let up = repo.sliceboard(&["up"]).ok();
    assert!(up.contains("4 worktrees created"), "{up}");
    let sup = Supervise::start(&repo, &[]);
    let socket = repo.socket();
    for n in 1..=3 {
        cli(&socket, start_agent(&format!("staging.{n}"))).expect("the variant's agent starts");
    }
    // Each ran in its own worktree and committed on its own branch.
    for n in 1..=3 {
        let branch = format!("slice/staging.{n}");
        poll_until(format!("staging.{n}'s commit"), PATIENCE, || {
            repo.git(&["log", "-1", "--format=%s", &branch]).trim() == format!("variant {n}")
        });
    }
    // Their agents are done: the board says so before we compare.
    poll_until("every variant's agent to exit", PATIENCE, || {
        let status = repo.sliceboard(&["status"]).ok();
        status.matches("exited(0)").count() == 3
    });

    // What each one cost, as a wrapper reports it.
    for (n, cost) in [(1, "0.25"), (2, "0.5"), (3, "0.75")] {
        repo.sliceboard(&[
            "signal",
            "usage",
            "--slice",
            &format!("staging.{n}"),
            "--output",
            "1000",
            "--cost",
            cost,
        ])
        .ok();
    }

    // Compare: each one's numbers.
    let compare = repo.sliceboard(&["compare", "staging"]).ok();
    for (n, diff, cost) in [
        (1, "1 file +1 -0", "$0.25"),
        (2, "2 files +2 -0", "$0.50"),
        (3, "3 files +3 -0", "$0.75"),
    ] {
        let line = compare
            .lines()
            .find(|l| l.starts_with(&format!("staging.{n} ")))
            .unwrap_or_else(|| panic!("no line for staging.{n}:\n{compare}"));
        assert!(line.contains(diff), "{line}");
        assert!(line.contains(cost), "{line}");
        assert!(line.contains("exited(0)"), "{line}");
        assert!(line.contains(&format!("agent `sh make.sh {n}`")), "{line}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&repo.sliceboard(&["compare", "staging.1", "--json"]).ok()).unwrap();
    assert_eq!(json[2]["files_changed"], 3);
    assert_eq!(json[2]["usage"]["cost"]["usd"], 0.75);
    assert_eq!(json[2]["usage"]["cost"]["estimated"], false);
    assert_eq!(json[2]["commits"], 1);
    // The diff between two variants.
    let diff = repo
        .sliceboard(&["compare", "staging", "--diff", "staging.1", "staging.2"])
        .ok();
    assert!(diff.contains("models/staging/v2_2.sql"), "{diff}");
    assert!(diff.contains("+select 2 as id"), "{diff}");

    // Picking asks first; with no terminal to ask on it changes nothing.
    let refused = repo.sliceboard(&["pick", "staging.2"]).fails();
    assert!(refused.contains("pass --yes"), "{refused}");
    assert!(repo.worktree("staging.1").exists());
    let not_variant = repo.sliceboard(&["pick", "marts", "--yes"]).fails();
    assert!(not_variant.contains("not a variant"), "{not_variant}");

    let picked = repo
        .sliceboard(&["pick", "staging.2", "--yes", "--force"])
        .ok();
    assert!(picked.contains("approved staging.2"), "{picked}");
    assert!(
        picked.contains("retired staging.1: branch kept as sliceboard/retired/staging.1"),
        "{picked}"
    );
    // The others: worktrees gone, branches kept (with their commits) under
    // the retired namespace, records retired.
    for n in [1, 3] {
        assert!(!repo.worktree(&format!("staging.{n}")).exists());
        let kept = format!("sliceboard/retired/staging.{n}");
        assert_eq!(
            repo.git(&["log", "-1", "--format=%s", &kept]).trim(),
            format!("variant {n}")
        );
        assert!(
            repo.git(&["branch", "--list", &format!("slice/staging.{n}")])
                .trim()
                .is_empty()
        );
    }
    let state = repo.state_json();
    assert_eq!(state["slices"]["staging.1"]["lifecycle"], "retired");
    assert_eq!(state["slices"]["staging.2"]["lifecycle"], "approved");
    let status = repo.sliceboard(&["status"]).ok();
    let line = status
        .lines()
        .find(|l| l.starts_with("staging.3 "))
        .unwrap();
    assert!(
        line.contains("retired") && line.contains("sliceboard/retired/staging.3"),
        "{line}"
    );
    // `up` leaves retired variants alone.
    let up = repo.sliceboard(&["up"]).ok();
    assert!(up.contains("retired"), "{up}");
    assert!(!repo.worktree("staging.1").exists());
    // The journal keeps who was retired for whom.
    let journal = std::fs::read_to_string(repo.state_dir().join("events.jsonl")).unwrap();
    assert!(journal.contains("\"event\":\"slice_retired\""), "{journal}");
    assert_eq!(
        Lifecycle::Retired.as_str(),
        state["slices"]["staging.3"]["lifecycle"]
    );
    drop(sup);
}

/// Two variants, each with one commit of its own, made without agents.
fn two_committed_variants(repo: &TestRepo, merge: &str) {
    let mut plan = Plan::new("cat");
    if !merge.is_empty() {
        plan = plan.table(merge);
    }
    repo.write(
        "sliceboard.toml",
        &plan.staging(&["variants = 2"]).to_string(),
    );
    repo.commit_all("plan with variants");
    repo.sliceboard(&["up"]).ok();
    for n in 1..=2 {
        repo.commit_in(
            &format!("staging.{n}"),
            &[("models/staging/stg.sql", &format!("select {n} as id\n"))],
            &format!("variant {n}"),
        );
    }
}

#[test]
fn a_pick_waits_for_a_siblings_merge_check_and_never_retires_a_merged_sibling() {
    let tmp = tempfile::tempdir().unwrap();
    let go = tmp.path().join("go");
    let check = format!("while [ ! -e '{}' ]; do sleep 0.05; done", go.display());
    let repo = TestRepo::new();
    two_committed_variants(&repo, &format!("[merge]\ncheck = {}", toml_string(&check)));
    let _sup = Supervise::start(&repo, &[]);
    let socket = repo.socket();
    repo.sliceboard(&["approve", "staging.1", "--force"]).ok();
    let merging = {
        let socket = socket.clone();
        std::thread::spawn(move || {
            cli(
                &socket,
                sliceboard::domain::Command::Merge {
                    which: sliceboard::domain::MergeWhich::One {
                        slice: common::supervised::name("staging.1"),
                    },
                    dry_run: false,
                },
            )
        })
    };
    let attempt = repo.state_dir().join("merge/attempt.json");
    poll_until("staging.1's merge check to run", PATIENCE, || {
        std::fs::read_to_string(&attempt).is_ok_and(|a| a.contains("check_pid"))
    });

    // While staging.1's check runs, picking staging.2 would retire a
    // variant that is about to land: refused, nothing changed.
    let refused = repo
        .sliceboard(&["pick", "staging.2", "--yes", "--force"])
        .fails();
    assert!(refused.contains("staging.1"), "{refused}");
    assert!(repo.worktree("staging.1").exists());
    std::fs::write(&go, "").unwrap();
    merging.join().unwrap().expect("staging.1 merges");
    let state = repo.state_json();
    assert_eq!(state["slices"]["staging.1"]["lifecycle"], "merged");
    assert_ne!(state["slices"]["staging.2"]["lifecycle"], "retired");
    assert_ne!(state["slices"]["staging.2"]["lifecycle"], "approved");

    // Once a variant is merged, picking another is refused too: it would
    // put both into the integration branch.
    let refused = repo
        .sliceboard(&["pick", "staging.2", "--yes", "--force"])
        .fails();
    assert!(refused.contains("staging.1 is merged"), "{refused}");
    let state = repo.state_json();
    assert_eq!(state["slices"]["staging.1"]["lifecycle"], "merged");
    assert_ne!(state["slices"]["staging.2"]["lifecycle"], "retired");
    assert_ne!(state["slices"]["staging.2"]["lifecycle"], "approved");
}

/// A variant never made is retired all the same: `up` leaves it alone, and
/// a slice after the family merges once the pick has.
#[test]
fn a_variant_never_made_is_retired_and_holds_nothing_up() {
    let repo = TestRepo::new();
    repo.write(
        "sliceboard.toml",
        &Plan::new("cat")
            .staging(&["variants = 3"])
            .marts(&["after = [\"staging\"]"])
            .to_string(),
    );
    repo.commit_all("plan with variants");
    repo.sliceboard(&["up", "staging.1", "staging.2", "marts"])
        .ok();
    let commit = |slice: &str, path: &str| {
        repo.commit_in(slice, &[(path, "select 1 as id\n")], slice);
    };
    commit("staging.2", "models/staging/stg.sql");
    commit("marts", "models/marts/fct.sql");
    let _sup = Supervise::start(&repo, &[]);
    let picked = repo
        .sliceboard(&["pick", "staging.2", "--yes", "--force"])
        .ok();
    assert!(picked.contains("approved staging.2"), "{picked}");
    assert_eq!(
        repo.state_json()["slices"]["staging.3"]["lifecycle"],
        "retired"
    );
    let up = repo.sliceboard(&["up"]).ok();
    assert!(up.contains("2 retired"), "{up}");
    assert!(!repo.worktree("staging.3").exists());
    repo.sliceboard(&["merge", "staging.2"]).ok();
    // marts waits for the family no more: its approval has no concern
    // about what it comes after.
    let approved = repo.sliceboard(&["approve", "marts"]);
    assert!(
        !approved.stderr.contains("comes after") && !approved.stdout.contains("comes after"),
        "{approved:?}"
    );
    repo.sliceboard(&["approve", "marts", "--force"]).ok();
    let merged = repo.sliceboard(&["merge", "marts"]).ok();
    assert!(merged.contains("merged marts"), "{merged}");
}

/// `merge/pick.json` as a pick of staging.1 leaves it before retiring
/// staging.2; its path.
fn leave_a_half_done_pick(repo: &TestRepo) -> std::path::PathBuf {
    let record = repo.state_dir().join("merge/pick.json");
    std::fs::create_dir_all(record.parent().unwrap()).unwrap();
    std::fs::write(
        &record,
        r#"{"picked": "staging.1", "retire": ["staging.2"], "started": "2026-12-01T12:00:00Z"}"#,
    )
    .unwrap();
    record
}

/// The journal's `pick_resumed` event.
fn pick_resumed(repo: &TestRepo) -> serde_json::Value {
    let journal = std::fs::read_to_string(repo.state_dir().join("events.jsonl")).unwrap();
    journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "pick_resumed")
        .unwrap_or_else(|| panic!("no pick_resumed in the journal:\n{journal}"))
}

/// A pick cut off by SIGKILL after the pick was approved and before its
/// sibling was retired (its `merge/pick.json` left behind, as the pick
/// writes it) is finished by the next supervisor, and journaled.
#[test]
fn a_pick_cut_off_by_a_killed_supervisor_is_finished_by_the_next_one() {
    let repo = TestRepo::new();
    two_committed_variants(&repo, "");
    let sibling_tip = repo.git(&["rev-parse", "slice/staging.2"]);
    let mut sup = Supervise::start(&repo, &[]);
    repo.sliceboard(&["approve", "staging.1", "--force"]).ok();
    sup.kill();
    let record = leave_a_half_done_pick(&repo);

    let _sup = Supervise::start(&repo, &[]);
    poll_until("the next supervisor to finish the pick", PATIENCE, || {
        !record.exists() && repo.state_json()["slices"]["staging.2"]["lifecycle"] == "retired"
    });
    assert!(!repo.worktree("staging.2").exists(), "its worktree is gone");
    assert_eq!(
        repo.git(&["rev-parse", "sliceboard/retired/staging.2"]),
        sibling_tip,
        "its commit is kept on the retired branch"
    );
    assert_eq!(
        repo.state_json()["slices"]["staging.1"]["lifecycle"],
        "approved"
    );
    let resumed = pick_resumed(&repo);
    assert_eq!(resumed["slice"], "staging.1");
    assert_eq!(resumed["retired"], serde_json::json!(["staging.2"]));
    assert_eq!(resumed["left"], serde_json::json!([]));
}

/// Two variants whose agents run `agent`; staging.2's is started, then
/// `pick staging.1` is cut off by SIGKILL to the supervisor while it
/// retires staging.2 (whose agent ignores SIGTERM, so that takes the
/// kill's grace period). Returns the pick's record and the agent's pid.
fn pick_killed_while_retiring(repo: &TestRepo, agent: &str) -> (std::path::PathBuf, i32) {
    two_committed_variants(repo, "");
    let plan = std::fs::read_to_string(repo.root.join("sliceboard.toml"))
        .unwrap()
        .replace(
            "command = \"cat\"",
            &format!("command = {}", toml_string(agent)),
        );
    repo.write("sliceboard.toml", &plan);
    repo.commit_all("agents that ignore SIGTERM");
    let mut sup = Supervise::start(repo, &[]);
    cli(&repo.socket(), start_agent("staging.2")).expect("the sibling's agent starts");
    let agent_file = repo.state_dir().join("slices/staging.2/agent.json");
    poll_until("the sibling's agent record", PATIENCE, || {
        agent_file.exists()
    });
    let agent: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&agent_file).unwrap()).unwrap();
    let pid = agent["pid"].as_i64().unwrap() as i32;
    let mut picking = pick_staging_1(repo);
    let record = repo.state_dir().join("merge/pick.json");
    poll_until("the pick's record", PATIENCE, || record.exists());
    sup.kill();
    let _ = picking.wait();
    assert!(record.exists(), "the killed pick left its record");
    assert_ne!(
        repo.state_json()["slices"]["staging.2"]["lifecycle"],
        "retired"
    );
    (record, pid)
}

/// The same, for real: the pick writes its record before retiring a
/// sibling whose agent ignores SIGTERM (so retiring it takes the kill's
/// grace period), the supervisor is killed then, and the next one
/// finishes the pick.
#[test]
fn a_pick_killed_while_retiring_a_stubborn_sibling_is_finished_on_restart() {
    let repo = TestRepo::new();
    let (record, _) =
        pick_killed_while_retiring(&repo, "trap '' TERM; while :; do sleep 0.1; done");

    let _sup = Supervise::start(&repo, &[]);
    poll_until("the next supervisor to finish the pick", PATIENCE, || {
        !record.exists() && repo.state_json()["slices"]["staging.2"]["lifecycle"] == "retired"
    });
    assert!(!repo.worktree("staging.2").exists());
    assert!(
        !repo
            .git(&["rev-parse", "sliceboard/retired/staging.2"])
            .is_empty()
    );
}

/// The sibling's agent ignores SIGHUP too, so it outlives the killed
/// supervisor: the next one finds it left running, and finishing the pick
/// ends it (the operator chose to retire it), then removes the worktree
/// and keeps the branch.
#[test]
fn a_pick_whose_siblings_agent_outlived_the_supervisor_ends_that_agent_on_restart() {
    let repo = TestRepo::new();
    let (record, pid) =
        pick_killed_while_retiring(&repo, "trap '' TERM HUP; while :; do sleep 0.1; done");
    assert!(
        common::procs::alive(pid),
        "the sibling's agent outlived the supervisor"
    );

    let _sup = Supervise::start(&repo, &[]);
    poll_until("the next supervisor to finish the pick", PATIENCE, || {
        !record.exists()
    });
    let resumed = pick_resumed(&repo);
    assert_eq!(resumed["left"], serde_json::json!([]), "{resumed}");
    assert_eq!(resumed["retired"], serde_json::json!(["staging.2"]));
    assert!(
        !common::procs::alive(pid),
        "the sibling's agent {pid} is ended"
    );
    assert_eq!(
        repo.state_json()["slices"]["staging.2"]["lifecycle"],
        "retired"
    );
    assert!(!repo.worktree("staging.2").exists(), "its worktree is gone");
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s", "sliceboard/retired/staging.2"])
            .trim(),
        "variant 2",
        "its commit is kept on the retired branch"
    );
}

/// A teardown that says it started, then holds until the test lets it
/// end (a minute at most, so a test that fails before it does leaves
/// nothing running).
struct HeldTeardown {
    _dir: tempfile::TempDir,
    started: std::path::PathBuf,
    may_end: std::path::PathBuf,
}

impl HeldTeardown {
    fn let_it_end(&self) {
        std::fs::write(&self.may_end, "").unwrap();
    }
}

/// [`two_committed_variants`] whose worktrees' teardown is held.
fn two_variants_held_in_teardown(repo: &TestRepo) -> HeldTeardown {
    let dir = tempfile::tempdir().unwrap();
    let (started, may_end) = (dir.path().join("started"), dir.path().join("may-end"));
    let teardown = format!(
        "touch '{}'; i=0; while [ ! -e '{}' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done",
        started.display(),
        may_end.display()
    );
    two_committed_variants(
        repo,
        &format!("[worktree]\nteardown = [{}]", toml_string(&teardown)),
    );
    HeldTeardown {
        _dir: dir,
        started,
        may_end,
    }
}

/// `sliceboard pick staging.1 --yes --force`, left running.
fn pick_staging_1(repo: &TestRepo) -> std::process::Child {
    repo.command(common::BIN, &repo.root)
        .args(["pick", "staging.1", "--yes", "--force"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// A sibling's teardown holds the pick: the queue answers meanwhile, and
/// refuses what would touch the sibling on its way out.
#[test]
fn the_queue_answers_while_a_pick_waits_for_its_siblings_teardown() {
    let repo = TestRepo::new();
    let held = two_variants_held_in_teardown(&repo);
    let _sup = Supervise::start(&repo, &[]);
    // An approved sibling is retired all the same, and never merges
    // meanwhile.
    repo.sliceboard(&["approve", "staging.2", "--force"]).ok();
    let mut picking = pick_staging_1(&repo);
    poll_until("staging.2's teardown runs", PATIENCE, || {
        held.started.exists()
    });

    // Meanwhile the queue reads, and refuses what would touch staging.2.
    let queue = repo.sliceboard(&["queue"]).ok();
    let queued = queue
        .lines()
        .find(|l| l.trim_start().starts_with("1. staging.2"))
        .unwrap_or_else(|| panic!("staging.2 is not queued:\n{queue}"));
    assert!(
        queued
            .ends_with(") is being retired: staging.1 was picked, and its worktree is coming down"),
        "{queue}"
    );
    let why = repo
        .sliceboard(&["approve", "staging.2", "--force"])
        .fails();
    assert!(
        why.contains("staging.2 is being retired: staging.1 was picked"),
        "{why}"
    );
    let why = repo.sliceboard(&["clean", "staging.2", "--force"]).fails();
    assert!(why.contains("staging.2 is being retired"), "{why}");
    let why = repo.sliceboard(&["merge", "staging.2"]).fails();
    assert!(why.contains("staging.2 is being retired"), "{why}");
    let why = repo.sliceboard(&["clean", "staging.1", "--force"]).fails();
    assert!(
        why.contains("its pick is still retiring its siblings"),
        "{why}"
    );
    let why = repo
        .sliceboard(&["pick", "staging.2", "--yes", "--force"])
        .fails();
    assert!(
        why.contains("the pick of staging.1 is still retiring staging.2"),
        "{why}"
    );
    assert!(
        picking.try_wait().unwrap().is_none(),
        "the pick waits for the teardown"
    );
    assert!(repo.worktree("staging.2").is_dir());

    held.let_it_end();
    let status = common::wait_exit(&mut picking, "pick staging.1", PATIENCE);
    let out = picking.wait_with_output().unwrap();
    assert!(status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("retired staging.2: branch kept as sliceboard/retired/staging.2"),
        "{said}"
    );
    assert!(!repo.worktree("staging.2").exists());
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s", "sliceboard/retired/staging.2"])
            .trim(),
        "variant 2"
    );
    let state = repo.state_json();
    assert_eq!(state["slices"]["staging.2"]["lifecycle"], "retired");
    assert_eq!(state["slices"]["staging.1"]["lifecycle"], "approved");
    assert!(!repo.state_dir().join("merge/pick.json").exists());
}

/// A pick an earlier supervisor left half done is finished by the next
/// one off the queue's thread: while the sibling's teardown holds, the
/// queue answers and the sibling is shown on its way out.
#[test]
fn a_pick_finished_on_start_leaves_the_queue_answering_while_its_sibling_comes_down() {
    let repo = TestRepo::new();
    let held = two_variants_held_in_teardown(&repo);
    let record = leave_a_half_done_pick(&repo);

    let _sup = Supervise::start(&repo, &[]);
    poll_until("staging.2's teardown runs", PATIENCE, || {
        held.started.exists()
    });
    let queue = repo.sliceboard(&["queue"]).ok();
    assert!(
        queue.contains("staging.2 is being retired: staging.1 was picked"),
        "{queue}"
    );
    let why = repo
        .sliceboard(&["approve", "staging.2", "--force"])
        .fails();
    assert!(why.contains("staging.2 is being retired"), "{why}");
    assert!(record.exists(), "the pick is not finished yet");

    held.let_it_end();
    poll_until("the pick to be finished", PATIENCE, || {
        !record.exists() && repo.state_json()["slices"]["staging.2"]["lifecycle"] == "retired"
    });
    assert!(!repo.worktree("staging.2").exists());
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s", "sliceboard/retired/staging.2"])
            .trim(),
        "variant 2"
    );
    let resumed = pick_resumed(&repo);
    assert_eq!(resumed["retired"], serde_json::json!(["staging.2"]));
    assert_eq!(resumed["left"], serde_json::json!([]));
}

/// A supervisor stopped while a pick's sibling comes down: the stop ends
/// (after the queue's 10 s for what comes down), the pick's record is
/// kept with the sibling not retired, and the next supervisor finishes
/// the pick once the teardown can end.
#[test]
fn a_pick_cut_off_by_a_stop_keeps_its_record_and_the_next_supervisor_finishes_it() {
    let repo = TestRepo::new();
    let held = two_variants_held_in_teardown(&repo);
    let sup = Supervise::start(&repo, &[]);
    let picking = pick_staging_1(&repo);
    poll_until("staging.2's teardown runs", PATIENCE, || {
        held.started.exists()
    });
    let said = repo.sliceboard(&["stop"]).ok();
    assert!(said.contains("stopped"), "{said}");
    let picked = picking.wait_with_output().unwrap();
    assert!(!picked.status.success(), "the pick was cut off: {picked:?}");
    drop(sup);
    let record = repo.state_dir().join("merge/pick.json");
    assert!(record.exists(), "the pick's record is kept");
    assert_ne!(
        repo.state_json()["slices"]["staging.2"]["lifecycle"],
        "retired"
    );

    held.let_it_end();
    let _sup = Supervise::start(&repo, &[]);
    poll_until("the next supervisor to finish the pick", PATIENCE, || {
        !record.exists() && repo.state_json()["slices"]["staging.2"]["lifecycle"] == "retired"
    });
    assert!(!repo.worktree("staging.2").exists());
    assert_eq!(
        pick_resumed(&repo)["retired"],
        serde_json::json!(["staging.2"])
    );
}
