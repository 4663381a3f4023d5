//! Every dbt run's real outcome, whatever happens to it, with real dbt
//! 1.11 on DuckDB in a slice's worktree: dbt's own errors before any node
//! (a missing `ref`, a locked database), a run killed or interrupted
//! halfway, a log that rotates during the run, `dbt deps` after a build,
//! a run made without the slice's environment, and an offline run's
//! usage-events noise. Read back through `status --json` and the table,
//! and through the live follower where the live path differs.
//!
//! Needs dbt-core and dbt-duckdb 1.11 (see tests/common/dbt.rs).

use crate::common;

use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::dbt::{build, dbt, repo};
use common::{TestRepo, poll_until};
use serde_json::Value;
use sliceboard::dbt::DbtWatch;
use sliceboard::domain::dbt_run::{NodeStatus, RunStatus};

/// How long a dbt run may take to get somewhere.
const PATIENCE: Duration = Duration::from_secs(60);

fn staging_dbt(repo: &TestRepo) -> Value {
    repo.status_json()["slices"][0]["dbt"].clone()
}

/// Ten slow Python models (two seconds each) in the staging worktree,
/// so a run can be stopped halfway.
fn add_slow_models(repo: &TestRepo) {
    let dir = repo.worktree("staging").join("models/slow");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 1..=10 {
        std::fs::write(
            dir.join(format!("slow_{i:02}.py")),
            // A sleep, not a heavy query: its length does not depend on
            // how loaded the machine is, so the run is still going when
            // the test stops it.
            format!(
                "import time\n\ndef model(dbt, session):\n    time.sleep(2)\n    return session.sql(\"select {i} as id\")\n"
            ),
        )
        .unwrap();
    }
}

/// dbt in the staging worktree with the slice's environment only (no
/// other switch of the test's own).
fn slice_dbt(repo: &TestRepo, args: &[&str]) -> Command {
    let env: serde_json::Map<String, Value> =
        serde_json::from_str(&repo.sliceboard(&["env", "staging", "--json"]).ok()).unwrap();
    let mut command = Command::new(dbt());
    command
        .args(args)
        .current_dir(repo.worktree("staging"))
        .env_remove("DBT_SEND_ANONYMOUS_USAGE_STATS")
        .env_remove("DO_NOT_TRACK")
        .envs(
            env.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())),
        );
    command
}

#[test]
fn an_error_before_any_node_is_an_error_with_dbts_message() {
    let repo = repo();
    let worktree = repo.worktree("staging");
    std::fs::write(
        worktree.join("models/bad_ref.sql"),
        "select * from {{ ref('nope') }}\n",
    )
    .unwrap();
    let out = build(&repo, "staging").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let dbt = staging_dbt(&repo);
    assert_eq!(dbt["status"], "error", "{dbt}");
    let message = dbt["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Compilation Error") && message.contains("named 'nope'"),
        "{dbt}"
    );
    assert_eq!(dbt["failed"], Value::Array(Vec::new()));
    let table = repo.sliceboard(&["status"]).ok();
    assert!(table.contains("build: error"), "{table}");
    assert!(
        table.contains("! staging: dbt error: Compilation Error"),
        "{table}"
    );

    // A database another process holds: dbt's own error too.
    std::fs::remove_file(worktree.join("models/bad_ref.sql")).unwrap();
    let python = common::dbt::dbt().with_file_name("python");
    let mut holder = Command::new(python)
        .args([
            "-c",
            "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); c.execute('create table if not exists held(x int)'); print('held', flush=True); time.sleep(120)",
            "dev_staging.duckdb",
        ])
        .current_dir(&worktree)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "held");
    let out = build(&repo, "staging").output();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_ne!(out.unwrap().status.code(), Some(0));
    let dbt = staging_dbt(&repo);
    assert_eq!(dbt["status"], "error", "{dbt}");
    let message = dbt["message"].as_str().unwrap_or_default();
    assert!(message.to_lowercase().contains("lock"), "{dbt}");
}

/// Starts a build with slow models and waits until `done` of its nodes
/// passed (in this run, not the last one).
fn build_until(repo: &TestRepo, done: u64) -> Child {
    let before = staging_dbt(repo)["started_at"].clone();
    let mut command = build(repo, "staging");
    command.stdout(Stdio::null()).stderr(Stdio::null());
    // The test's SIGINT must reach dbt's own handler. A test run started
    // in the background of a script (`cargo test &`) ignores SIGINT, and
    // an ignored signal stays ignored across exec: dbt then never sees it
    // and runs to the end.
    // SAFETY: signal(2) is async-signal-safe; nothing else runs here.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let child = command.spawn().unwrap();
    poll_until(format!("{done} nodes done"), PATIENCE, || {
        let dbt = staging_dbt(repo);
        dbt["started_at"] != before && dbt["counts"]["passed"].as_u64().is_some_and(|n| n >= done)
    });
    child
}

#[test]
fn a_killed_run_is_aborted_and_an_interrupted_one_says_how_far_it_got() {
    let repo = repo();
    add_slow_models(&repo);

    let mut child = build_until(&repo, 3);
    // SAFETY: signals our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    child.wait().unwrap();
    let dbt = staging_dbt(&repo);
    assert_eq!(dbt["status"], "interrupted", "{dbt}");
    let selected = dbt["selected"].as_u64().unwrap();
    let passed = dbt["counts"]["passed"].as_u64().unwrap();
    assert_eq!(selected, 17, "7 fixture nodes and 10 slow models: {dbt}");
    assert!((3..selected).contains(&passed), "{dbt}");
    let table = repo.sliceboard(&["status"]).ok();
    assert!(
        table.contains(&format!("build: interrupted, {passed} ok")),
        "{table}"
    );

    let mut child = build_until(&repo, 2);
    child.kill().unwrap();
    child.wait().unwrap();
    let dbt = staging_dbt(&repo);
    assert_eq!(dbt["status"], "aborted", "{dbt}");
    // Aborted is a bad outcome: the merge queue refuses it like a failure.
    let refused = repo.sliceboard(&["approve", "staging"]).fails();
    assert!(refused.contains("aborted"), "{refused}");
}

#[test]
fn a_log_that_rotates_during_the_run_still_gives_dbts_exact_counts() {
    let repo = repo();
    let project = repo.worktree("staging");
    let mut watch = DbtWatch::new(&project);
    let mut child = build(&repo, "staging")
        // About three files for this run: dbt keeps five rotated files,
        // so a follower slowed down by a loaded machine (a manifest read
        // between polls) still finds where it was.
        .env("DBT_LOG_FILE_MAX_BYTES", "40000")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Followed live, as the supervisor does, through every rotation: the
    // sleep is the follower's pace, not a wait for anything.
    while child.try_wait().unwrap().is_none() {
        watch.poll();
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("PASS=4 WARN=0 ERROR=2 SKIP=1"), "{stdout}");
    assert!(
        project.join("logs/dbt.log.2").exists(),
        "the log rotated twice"
    );
    watch.poll();
    let logged = watch.log_runs().last().unwrap().clone();
    assert_eq!(logged.command.as_deref(), Some("build"));
    assert!(logged.invocation.is_some());
    let counts = logged.counts();
    assert_eq!(
        (counts.passed, counts.failed, counts.skipped),
        (4, 2, 1),
        "from the log alone: {:?}",
        logged.nodes
    );
    // Read once from the files (the start of the run rotated away): the
    // results of the same invocation complete it.
    let dbt = staging_dbt(&repo);
    assert_eq!(dbt["counts"]["passed"], 4, "{dbt}");
    assert_eq!(dbt["counts"]["failed"], 2, "{dbt}");
    assert_eq!(dbt["counts"]["skipped"], 1, "{dbt}");
    assert_eq!(dbt["command"], "build", "{dbt}");
    assert!(dbt["invocation"].is_string(), "{dbt}");
    // When it started and what it selected are the invocation's, not the
    // last log file's.
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(project.join("target/run_results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        dbt["started_at"], results["metadata"]["invocation_started_at"],
        "{dbt}"
    );
    assert_eq!(dbt["selected"], 7, "{dbt}");
}

#[test]
fn deps_is_listed_but_the_build_stays_the_result() {
    let repo = repo();
    build(&repo, "staging").output().unwrap();
    let out = slice_dbt(&repo, &["deps", "--profiles-dir", "."])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut watch = DbtWatch::new(&repo.worktree("staging"));
    watch.poll();
    let commands: Vec<_> = watch
        .log_runs()
        .iter()
        .map(|r| r.command.clone().unwrap_or_default())
        .collect();
    assert_eq!(commands, ["build", "deps"]);
    let dbt = staging_dbt(&repo);
    assert_eq!(dbt["command"], "build", "{dbt}");
    assert_eq!(dbt["counts"]["passed"], 4, "{dbt}");
    let last = watch.last_run().unwrap();
    assert_eq!(last.status, RunStatus::Failed);
    assert!(last.nodes.iter().any(|n| n.status == NodeStatus::Error));
}

#[test]
fn a_run_outside_the_slices_environment_says_where_it_built() {
    let repo = repo();
    // The slice's environment, less its dbt target and schema.
    let out = build(&repo, "staging")
        .env_remove("SLICEBOARD_DBT_TARGET")
        .env_remove("SLICEBOARD_DBT_SCHEMA")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let dbt = staging_dbt(&repo);
    assert_eq!(dbt["database"], "dev", "{dbt}");
    assert_eq!(dbt["schema"], "main", "{dbt}");
    let elsewhere = dbt["elsewhere"].as_str().unwrap_or_default();
    assert!(
        elsewhere.contains("built into dev.main, not the slice's schema dbt_staging"),
        "{dbt}"
    );
    let table = repo.sliceboard(&["status"]).ok();
    assert!(
        table.contains("! staging: dbt built into dev.main"),
        "{table}"
    );
}

#[test]
fn an_offline_run_with_the_slices_environment_ends_cleanly() {
    let repo = repo();
    let env: serde_json::Map<String, Value> =
        serde_json::from_str(&repo.sliceboard(&["env", "staging", "--json"]).ok()).unwrap();
    assert_eq!(env["DO_NOT_TRACK"], "1");
    assert_eq!(env["DBT_SEND_ANONYMOUS_USAGE_STATS"], "false");
    // Exactly the slice's environment: nothing else turns tracking off.
    let out = slice_dbt(&repo, &["build", "--profiles-dir", "."])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Done. PASS=4"), "{stdout}");
    assert!(!stdout.contains("usage events"), "{stdout}");
}
