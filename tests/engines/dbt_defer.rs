//! Slices and merge checks that build only what changed: with `[dbt]
//! defer = "integration"`, the integration build (made by `sliceboard
//! dbt-state` before anything merged, and by every passing merge check)
//! is published into the state folder; each slice's DuckDB file starts as
//! a copy of it under the same name, so `$SLICEBOARD_DBT_SLIM`
//! (`--select state:modified+ --defer --state …`) selects what the slice
//! changed and its children, never every model downstream of a source, and
//! needs no `dbt seed` of its own. Real dbt 1.11 on DuckDB, on a generated
//! project of three layers read from sources (benches/gen_dbt_project.py).

use crate::common;

use std::process::Command;

use common::TestRepo;
use common::dbt::dbt;
use serde_json::Value;

/// The profile docs/dbt.md gives for deferral.
const PROFILES: &str = r#"gen:
  target: sliceboard
  outputs:
    sliceboard:
      type: duckdb
      path: "{{ env_var('SLICEBOARD_DBT_DB', 'dev.duckdb') }}"
      schema: "{{ env_var('SLICEBOARD_DBT_SCHEMA', 'main') }}"
      threads: 2
"#;

const PLAN: &str = r#"base = "main"

[agent]
command = "true"

[dbt]
defer = "integration"

[worktree]
setup = ["true"]

[merge]
check = "dbt seed --profiles-dir . && dbt build --profiles-dir . $SLICEBOARD_DBT_SLIM"

[[slice]]
name = "staging"
owns = ["models/staging/**", "seeds/**", "macros/**", "dbt_project.yml", "profiles.yml", ".gitignore"]

[[slice]]
name = "intermediate"
owns = ["models/intermediate/**"]

[[slice]]
name = "marts"
owns = ["models/marts/**"]
"#;

/// Models per layer of the generated project.
const PER_LAYER: &str = "8";

fn repo() -> TestRepo {
    let repo = common::dbt::without_dbt_files();
    let generator =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/gen_dbt_project.py");
    let made = Command::new("python3")
        .arg(&generator)
        .arg(&repo.root)
        .arg(PER_LAYER)
        .status()
        .unwrap();
    assert!(made.success());
    repo.write("profiles.yml", PROFILES);
    repo.write("sliceboard.toml", PLAN);
    repo.commit_all("a generated dbt project that defers");
    repo.sliceboard(&["up"]).ok();
    repo
}

/// A slice's environment, as its agent gets it.
fn env_of(repo: &TestRepo, slice: &str) -> serde_json::Map<String, Value> {
    serde_json::from_str(&repo.sliceboard(&["env", slice, "--json"]).ok()).unwrap()
}

/// `dbt build $SLICEBOARD_DBT_SLIM` in a slice's worktree, through the
/// shell, with the slice's environment.
fn slim_build(repo: &TestRepo, slice: &str) -> std::process::Output {
    Command::new("sh")
        .args([
            "-c",
            &format!(
                "{} build --profiles-dir . $SLICEBOARD_DBT_SLIM",
                dbt().display()
            ),
        ])
        .current_dir(repo.worktree(slice))
        .envs(
            env_of(repo, slice)
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())),
        )
        .output()
        .unwrap()
}

/// The nodes a dbt invocation ran, from its `run_results.json`.
fn ran(dir: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("target/run_results.json")).unwrap();
    let results: Value = serde_json::from_str(&text).unwrap();
    let mut ids: Vec<String> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["unique_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_slice_builds_only_the_model_it_changed_and_its_children_with_no_seed_of_its_own() {
    let repo = repo();
    let state = repo.state_dir().join("dbt-state");
    // Nothing published yet: no slim flags, a full build.
    assert_eq!(env_of(&repo, "marts")["SLICEBOARD_DBT_SLIM"], "");
    let run = common::dbt::with_dbt(&repo, &["dbt-state"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(state.join("manifest.json").is_file());
    assert!(state.join("sliceboard.duckdb").is_file());
    let env = env_of(&repo, "marts");
    assert_eq!(
        env["SLICEBOARD_DBT_DB"],
        repo.state_dir()
            .join("dbt-db/marts/sliceboard.duckdb")
            .to_str()
            .unwrap()
    );
    assert_eq!(
        env["SLICEBOARD_DBT_SLIM"],
        format!(
            "--select state:modified+ --defer --state {}",
            state.display()
        )
    );

    // The slice's setup makes its database a copy of the integration build.
    repo.sliceboard(&["setup", "marts"]).ok();
    assert!(
        repo.state_dir()
            .join("dbt-db/marts/sliceboard.duckdb")
            .is_file()
    );

    // marts changes one mart: only it and its test run, reading its
    // upstream (and the sources' tables) from its copy.
    let worktree = repo.worktree("marts");
    std::fs::write(
        worktree.join("models/marts/mart_003.sql"),
        "select part, count(*) as rows_seen, max(id) as last_id from {{ ref('int_003') }} group by part
",
    )
    .unwrap();
    let built = slim_build(&repo, "marts");
    let stdout = String::from_utf8_lossy(&built.stdout);
    assert!(built.status.success(), "{stdout}");
    let nodes = ran(&worktree);
    assert_eq!(nodes.len(), 2, "the mart and its test: {nodes:?}\n{stdout}");
    // Seeds the project sends to its own `raw` schema are no sign of a run
    // outside the slice's environment.
    let seeded = Command::new(dbt())
        .args(["seed", "--profiles-dir", "."])
        .current_dir(&worktree)
        .envs(
            env_of(&repo, "marts")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())),
        )
        .output()
        .unwrap();
    assert!(seeded.status.success());
    let status = repo.status_json();
    let marts = &status["slices"][2]["dbt"];
    assert_eq!(marts["command"], "seed", "{marts}");
    assert_eq!(marts["elsewhere"], Value::Null, "{marts}");

    // A unit test of the changed mart that fails is named as the unit
    // test it is, not as a test of its model.
    std::fs::write(
        worktree.join("models/marts/unit.yml"),
        "unit_tests:\n  - name: counts_rows_per_part\n    model: mart_003\n    given:\n      - input: ref('int_003')\n        rows:\n          - {id: 1, part: 3, next_part: 4}\n    expect:\n      rows:\n        - {part: 3, rows_seen: 2, last_id: 1}\n",
    )
    .unwrap();
    let built = slim_build(&repo, "marts");
    assert!(!built.status.success());
    let status = repo.status_json();
    let failed = &status["slices"][2]["dbt"]["failed"];
    let named: Vec<String> = failed
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            format!(
                "{} {}",
                n["kind"].as_str().unwrap(),
                n["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(named, ["unit_test counts_rows_per_part"], "{failed}");
    // dbt colors the unit test's diff; no escape reaches the board.
    let message = failed[0]["message"].as_str().unwrap();
    assert!(
        message.contains("actual differs from expected"),
        "{message}"
    );
    assert!(!message.contains('\u{1b}'), "{message:?}");
    assert_eq!(nodes[0], "model.gen.mart_003");
    assert!(
        nodes[1].starts_with("test.gen.not_null_mart_003_part"),
        "{nodes:?}"
    );
    // An intermediate model changed: it and the marts reading it.
    let worktree = repo.worktree("intermediate");
    repo.sliceboard(&["setup", "intermediate"]).ok();
    std::fs::write(
        worktree.join("models/intermediate/int_005.sql"),
        "select id, part, part as next_part from {{ ref('stg_005') }}
",
    )
    .unwrap();
    let built = slim_build(&repo, "intermediate");
    let stdout = String::from_utf8_lossy(&built.stdout);
    assert!(built.status.success(), "{stdout}");
    let models: Vec<String> = ran(&worktree)
        .into_iter()
        .filter(|id| id.starts_with("model."))
        .collect();
    assert_eq!(
        models,
        ["model.gen.int_005", "model.gen.mart_005"],
        "{stdout}"
    );
}

#[test]
fn a_slim_merge_check_passes_a_good_merge_and_refuses_one_that_breaks_a_downstream_model() {
    let repo = repo();
    let run = common::dbt::with_dbt(&repo, &["dbt-state"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let integration = repo.state_dir().join("sliceboard-integration");
    // A good change to one mart merges; its check built that mart alone.
    repo.commit_in(
        "marts",
        &[(
            "models/marts/mart_001.sql",
            "select part, count(*) as rows_seen, 1 as v from {{ ref('int_001') }} group by part
",
        )],
        "a better mart",
    );
    // Through a supervisor that has dbt on its PATH.
    let approved = common::dbt::with_dbt(&repo, &["approve", "marts", "--force"]);
    assert_eq!(approved.code, Some(0), "{approved:?}");
    let merged = common::dbt::with_dbt(&repo, &["merge", "marts"]);
    assert_eq!(merged.code, Some(0), "{merged:?}");
    let models: Vec<String> = ran(&integration)
        .into_iter()
        .filter(|id| id.starts_with("model."))
        .collect();
    assert_eq!(models, ["model.gen.mart_001"]);
    let tip = repo.git(&["rev-parse", "main"]);

    // A change upstream that breaks a mart reading it: the slim check
    // builds both, fails, and the branch stays where it was.
    repo.commit_in(
        "intermediate",
        &[(
            "models/intermediate/int_002.sql",
            "select a.id, a.part as piece from {{ ref('stg_002') }} a
",
        )],
        "rename a column the mart reads",
    );
    let approved = common::dbt::with_dbt(&repo, &["approve", "intermediate", "--force"]);
    assert_eq!(approved.code, Some(0), "{approved:?}");
    let refused = common::dbt::with_dbt(&repo, &["merge", "intermediate"]);
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert_eq!(
        repo.git(&["rev-parse", "main"]),
        tip,
        "the branch did not move"
    );
    let failed = repo.status_json();
    let text = failed.to_string();
    assert!(
        text.contains("mart_002"),
        "the failing mart is named: {text}"
    );
}

#[test]
fn a_plan_without_deferral_exports_nothing_for_it() {
    let repo = TestRepo::new();
    repo.write(
        "sliceboard.toml",
        &PLAN.replace("defer = \"integration\"", "defer = \"off\""),
    );
    repo.commit_all("plan");
    let env = repo.sliceboard(&["env", "marts", "--json"]).ok();
    assert!(!env.contains("SLICEBOARD_DBT_STATE"), "{env}");
    repo.write(
        "sliceboard.toml",
        &PLAN.replace("defer = \"integration\"", "defer = \"sometimes\""),
    );
    let err = repo.sliceboard(&["check"]).fails();
    assert!(err.contains("dbt.defer"), "{err}");
}

#[test]
fn the_queue_shows_what_a_merge_does_to_the_data_and_blocks_one_that_removes_a_column() {
    let repo = repo();
    repo.write(
        "sliceboard.toml",
        &PLAN.replace(
            "[merge]\n",
            "[merge]\ndata_diff = \"block-on-removed-columns\"\n",
        ),
    );
    repo.commit_all("block merges that remove a column");
    let run = common::dbt::with_dbt(&repo, &["dbt-state"]);
    assert_eq!(run.code, Some(0), "{run:?}");

    // Fewer rows and a new column in an intermediate model: it merges,
    // and the queue says what it did to the data.
    repo.commit_in(
        "intermediate",
        &[(
            "models/intermediate/int_001.sql",
            "select a.id, a.part, b.part as next_part, a.id * 2 as double_id from {{ ref('stg_001') }} a\nleft join {{ ref('stg_002') }} b on a.id = b.id\nwhere a.id > 5\n",
        )],
        "only later orders",
    );
    let approved = common::dbt::with_dbt(&repo, &["approve", "intermediate", "--force"]);
    assert_eq!(approved.code, Some(0), "{approved:?}");
    let merged = common::dbt::with_dbt(&repo, &["merge", "intermediate"]);
    assert_eq!(merged.code, Some(0), "{merged:?}");
    let queue: Value =
        serde_json::from_str(&common::dbt::with_dbt(&repo, &["queue", "--json"]).stdout).unwrap();
    let data = &queue["slices"]["intermediate"]["data"];
    let models = data["models"].as_array().expect("a data diff");
    assert_eq!(models.len(), 1, "{data:#}");
    assert_eq!(models[0]["model"], "int_001");
    assert_eq!(models[0]["rows_before"], 27);
    assert_eq!(models[0]["rows_after"], 24);
    assert_eq!(models[0]["added"], serde_json::json!(["double_id"]));
    assert_eq!(data["unchanged"], 1, "mart_001 kept its rows: {data:#}");
    let said = common::dbt::with_dbt(&repo, &["queue"]).stdout;
    assert!(
        said.contains("data: int_001: 27 → 24 rows (−3); added double_id"),
        "{said}"
    );

    // A mart that loses a column does not merge, and says which.
    let tip = repo.git(&["rev-parse", "main"]);
    repo.commit_in(
        "marts",
        &[(
            "models/marts/mart_003.sql",
            "select part from {{ ref('int_003') }} group by part\n",
        )],
        "drop rows_seen",
    );
    let approved = common::dbt::with_dbt(&repo, &["approve", "marts", "--force"]);
    assert_eq!(approved.code, Some(0), "{approved:?}");
    let refused = common::dbt::with_dbt(&repo, &["merge", "marts"]);
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("removes column the integration build has: mart_003.rows_seen"),
        "{refused:?}"
    );
    assert_eq!(
        repo.git(&["rev-parse", "main"]),
        tip,
        "the branch did not move"
    );
}
