//! `sliceboard plan --from-dbt` on a real dbt project (dbt 1.11 parses
//! it): slices by model folder, `after` from the refs between them, the
//! files no slice owns listed, and a plan that passes `check`.

use crate::common;

use common::TestRepo;
use common::dbt::with_dbt;

fn project() -> TestRepo {
    let repo = common::dbt::empty_project();
    repo.write(
        "profiles.yml",
        "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: dev.duckdb\n",
    );
    repo.write("seeds/raw_orders.csv", "id\n1\n");
    repo.write(
        "macros/cents.sql",
        "{% macro cents(c) %}{{ c }} / 100{% endmacro %}\n",
    );
    for (path, sql) in [
        (
            "models/staging/core/stg_orders.sql",
            "select * from {{ ref('raw_orders') }}",
        ),
        ("models/staging/core/stg_users.sql", "select 1 as id"),
        ("models/staging/catalog/stg_items.sql", "select 1 as id"),
        (
            "models/intermediate/int_orders.sql",
            "select * from {{ ref('stg_orders') }}",
        ),
        (
            "models/marts/fct_orders.sql",
            "select * from {{ ref('int_orders') }}",
        ),
        (
            "models/marts/dim_items.sql",
            "select * from {{ ref('stg_items') }}",
        ),
    ] {
        repo.write(path, &format!("{sql}\n"));
    }
    repo.commit_all("a dbt project");
    repo
}

#[test]
fn folders_become_slices_ordered_by_their_refs() {
    let repo = project();
    let run = with_dbt(&repo, &["plan", "--from-dbt", "--slices", "3"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stderr.contains("running `dbt parse`"), "{}", run.stderr);
    let plan = std::fs::read_to_string(repo.root.join("sliceboard.toml")).unwrap();
    for expected in [
        // Upstream first; a seed goes with the model that reads it.
        "#   staging       3 models, 0 YAML; refs in 2, out 0; first\n#   intermediate  1 model, 0 YAML; refs in 1, out 1; after staging\n#   marts         2 models, 0 YAML; refs in 0, out 2; after intermediate\n",
        "name = \"staging\"\nowns = [\"models/staging/\", \"seeds/raw_orders.csv\"]",
        "name = \"intermediate\"\nowns = [\"models/intermediate/\"]",
        "after = [\"staging\"]",
        // marts refs staging too, but after intermediate says so already.
        "name = \"marts\"\nowns = [\"models/marts/\"]",
        "after = [\"intermediate\"]",
        "#   macros/ (1 file): macros: shared by every slice",
        "#   dbt_project.yml (1 file): project files",
    ] {
        assert!(plan.contains(expected), "{expected:?} in:\n{plan}");
    }
    // It passes check, and up creates the slices it names.
    repo.sliceboard(&["check"]).ok();

    // Four slices: the largest folder is split.
    let run = with_dbt(&repo, &["plan", "--from-dbt", "--slices", "4", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = json["proposal"]["slices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["staging-catalog", "staging-core", "intermediate", "marts"]
    );
    // By the DAG: runs of models by depth, cut where the fewest refs
    // cross (one after stg_items, one before fct_orders; a cut at the
    // depth boundary would cross two), folders owned whole where the
    // slice holds every model in them, files one by one otherwise.
    let run = with_dbt(
        &repo,
        &[
            "plan",
            "--from-dbt",
            "--by",
            "dag",
            "--slices",
            "3",
            "--dry-run",
        ],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    for expected in [
        "name = \"staging-catalog\"\nowns = [\"models/staging/catalog/\"]",
        // Named for the layers it holds, upstream first.
        "name = \"staging-to-marts\"\nowns = [\"models/intermediate/\", \"models/marts/dim_items.sql\", \"models/staging/core/\", \"seeds/raw_orders.csv\"]\nprompt",
        "name = \"marts-orders\"\nowns = [\"models/marts/fct_orders.sql\"]",
        "after = [\"staging-to-marts\"]",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} in:\n{}",
            run.stdout
        );
    }
    // An existing plan is kept unless --force.
    let kept = with_dbt(&repo, &["plan", "--from-dbt"]);
    assert_eq!(kept.code, Some(1));
    assert!(kept.stderr.contains("already exists"), "{}", kept.stderr);
}

#[test]
fn without_dbt_it_says_so() {
    let repo = project();
    let output = repo
        .command(common::BIN, &repo.root)
        .args(["plan", "--from-dbt", "--dry-run"])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("dbt is not installed"), "{err}");
}

#[test]
fn init_on_a_dbt_project_proposes_the_slices_from_its_dag() {
    let repo = project();
    let run = with_dbt(&repo, &["init"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("from 6 models of the dbt project in ."),
        "{}",
        run.stdout
    );
    let plan = std::fs::read_to_string(repo.root.join("sliceboard.toml")).unwrap();
    for expected in [
        "Proposed by `sliceboard plan --from-dbt` from 6 models of the dbt project in ., upstream first:",
        "name = \"marts\"\nowns = [\"models/marts/\"]",
        "after = [\"staging-catalog\", \"intermediate\"]",
        "name = \"staging-core\"\nowns = [\"models/staging/core/\", \"seeds/raw_orders.csv\"]",
        "#   macros/ (1 file): macros: shared by every slice",
    ] {
        assert!(plan.contains(expected), "{expected:?} in:\n{plan}");
    }
    repo.sliceboard(&["check"]).ok();
    // Without dbt, init says why and writes the starter by folder.
    std::fs::remove_file(repo.root.join("sliceboard.toml")).unwrap();
    std::fs::remove_dir_all(repo.root.join("target")).unwrap();
    let output = repo
        .command(common::BIN, &repo.root)
        .arg("init")
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(
        err.contains("dbt is not installed") && err.contains("writing a starter plan by folder"),
        "{err}"
    );
    repo.sliceboard(&["check"]).ok();
}

/// Any repository, no dbt: the top-level folders, a flat one cut into
/// file lists, the files at the root listed as owned by no slice.
#[test]
fn without_dbt_plan_groups_the_top_level_folders() {
    let repo = common::dbt::without_dbt_files();
    for i in 1..=9 {
        repo.write(&format!("dags/etl_{i}.py"), "from airflow import DAG\n");
    }
    repo.write("plugins/hooks.py", "\n");
    repo.write("README.md", "# pipelines\n");
    repo.commit_all("an Airflow repository");
    let output = repo
        .command(common::BIN, &repo.root)
        .args(["plan", "--slices", "4"])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        out.contains("with 4 slices from 10 files in 2 folders"),
        "{out}"
    );
    let plan = std::fs::read_to_string(repo.root.join("sliceboard.toml")).unwrap();
    for expected in [
        "name = \"dags\"\nowns = [\"dags/etl_1.py\", \"dags/etl_2.py\", \"dags/etl_3.py\"]",
        "name = \"dags-3\"\nowns = [\"dags/etl_7.py\", \"dags/etl_8.py\", \"dags/etl_9.py\"]",
        "name = \"plugins\"\nowns = [\"plugins/\"]",
        "#   dags     3 files\n",
        "#   README.md (1 file): a file at the root",
        "No `after` is set",
    ] {
        assert!(plan.contains(expected), "{expected:?} in:\n{plan}");
    }
    assert!(!plan.contains("[dbt]\n") || plan.contains("project_dir = \".\""));
    repo.sliceboard(&["check"]).ok();
    let err = repo
        .sliceboard(&["plan", "--by", "dag", "--dry-run"])
        .fails();
    assert!(
        err.contains("--by dag and --explain need --from-dbt"),
        "{err}"
    );
}

/// A project two folders down its repository (`analytics/transform`):
/// staging and marts with their YAML, a YAML documenting models of both, a
/// singular test in the project's `data-tests/`, a model reading an
/// installed package's model (in `dbt_packages/`, never committed, never
/// fetched), a macro, and files outside the project.
fn nested_project() -> TestRepo {
    let repo = common::dbt::without_dbt_files();
    let at = |path: &str| format!("analytics/transform/{path}");
    repo.write(
        &at("dbt_project.yml"),
        "name: shop\nversion: \"1.0.0\"\nprofile: shop\nmodel-paths: [\"models\"]\ntest-paths: [\"data-tests\"]\n",
    );
    repo.write(
        &at("profiles.yml"),
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/dbt_project/profiles.yml"),
        )
        .unwrap(),
    );
    repo.write(
        &at(".gitignore"),
        "target/\nlogs/\ndbt_packages/\n*.duckdb\n",
    );
    repo.write(
        &at("dbt_packages/evaluator/dbt_project.yml"),
        "name: evaluator\nversion: \"1.0.0\"\nconfig-version: 2\n",
    );
    repo.write(
        &at("dbt_packages/evaluator/models/graph/ev_b.sql"),
        "select 1 as id\n",
    );
    repo.write(
        &at("dbt_packages/evaluator/models/graph/ev_a.sql"),
        "select * from {{ ref('ev_b') }}\n",
    );
    for (path, text) in [
        ("models/staging/stg_orders.sql", "select 1 as id"),
        ("models/staging/stg_items.sql", "select 1 as id"),
        (
            "models/marts/fct_orders.sql",
            "select o.id from {{ ref('stg_orders') }} o cross join {{ ref('evaluator', 'ev_a') }}",
        ),
        (
            "models/marts/dim_items.sql",
            "select * from {{ ref('stg_items') }}",
        ),
        (
            "models/staging/_staging.yml",
            "version: 2\nmodels:\n  - name: stg_orders\n    columns:\n      - name: id\n        data_tests: [not_null]",
        ),
        (
            "models/marts/_marts.yml",
            "version: 2\nmodels:\n  - name: fct_orders",
        ),
        (
            "models/_misc.yml",
            "version: 2\nmodels:\n  - name: stg_items\n  - name: dim_items",
        ),
        (
            "data-tests/assert_orders.sql",
            "select * from {{ ref('fct_orders') }} where id is null",
        ),
        (
            "macros/cents.sql",
            "{% macro cents(c) %}{{ c }} / 100{% endmacro %}",
        ),
    ] {
        repo.write(&at(path), &format!("{text}\n"));
    }
    repo.write("airflow/dags/daily.py", "# runs dbt build\n");
    repo.commit_all("a dbt project two folders down");
    repo
}

#[test]
fn a_project_two_folders_down_is_found_and_only_its_own_files_are_planned() {
    let repo = nested_project();
    // Found by the search, with no option.
    let run = with_dbt(&repo, &["plan", "--from-dbt", "--slices", "2", "--dry-run"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let plan = run.stdout;
    for expected in [
        // The package's two models are neither counted nor owned.
        "from 4 models of the dbt project in analytics/transform, upstream first:",
        "#   staging  2 models, 1 YAML; refs in 2, out 0; first",
        "#   marts    2 models, 1 YAML; refs in 0, out 2; after staging",
        "project_dir = \"analytics/transform\"",
        "name = \"staging\"\nowns = [\"analytics/transform/models/staging/\"]",
        // Its singular test goes with the model it refs.
        "name = \"marts\"\nowns = [\"analytics/transform/models/marts/\", \"analytics/transform/data-tests/assert_orders.sql\"]",
        "after = [\"staging\"]",
        "#   analytics/transform/models/_misc.yml (YAML): documents models of staging and marts: split it",
        "#   analytics/transform/macros/ (1 file): macros: shared by every slice",
        "#   analytics/transform/dbt_project.yml (1 file): project files",
        "#   airflow/ (1 file): outside the dbt project",
    ] {
        assert!(plan.contains(expected), "{expected:?} in:\n{plan}");
    }
    for absent in ["evaluator", "dbt_packages", "models/ (", "data-tests/ ("] {
        assert!(!plan.contains(absent), "{absent:?} in:\n{plan}");
    }
    std::fs::write(repo.root.join("sliceboard.toml"), &plan).unwrap();
    let check = repo.sliceboard(&["check"]);
    assert!(!check.stderr.contains("warning"), "{check:?}");
    check.ok();
    std::fs::remove_file(repo.root.join("sliceboard.toml")).unwrap();

    // --explain measures both groupings.
    let run = with_dbt(&repo, &["plan", "--from-dbt", "--slices", "2", "--explain"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    for expected in [
        "4 models of the dbt project in analytics/transform, about 2 slices:",
        "--by folder: 2 slices",
        "--by dag: 2 slices",
        "refs crossing slices: 2",
        "largest slice: 2 models, 1.0x the mean of 2.0",
        "files no slice owns: 1 macro, 2 project files, 1 outside",
        "shared YAML: 1",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} in:\n{}",
            run.stdout
        );
    }

    // A second project: the search names both and asks for one.
    repo.write(
        "tools/dbt_project.yml",
        "name: tools\nversion: \"1.0.0\"\nprofile: shop\n",
    );
    repo.commit_all("a second dbt project");
    let run = with_dbt(&repo, &["plan", "--from-dbt", "--dry-run"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains("2 dbt projects (analytics/transform, tools); name one with --project-dir"),
        "{}",
        run.stderr
    );
    let run = with_dbt(
        &repo,
        &[
            "plan",
            "--from-dbt",
            "--project-dir",
            "analytics/transform/",
            "--dry-run",
        ],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("project_dir = \"analytics/transform\""));
    let err = with_dbt(&repo, &["plan", "--from-dbt", "--project-dir", "analytics"]);
    assert!(err.stderr.contains("no dbt_project.yml in"), "{err:?}");
}

#[test]
fn init_finds_a_project_two_folders_down_and_its_dbt_runs_reach_the_board() {
    let repo = nested_project();
    let run = with_dbt(&repo, &["init"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let plan = std::fs::read_to_string(repo.root.join("sliceboard.toml")).unwrap();
    assert!(
        plan.contains("project_dir = \"analytics/transform\""),
        "{plan}"
    );
    // Agents that do nothing, so the slices only need their worktrees.
    let plan = plan.replace("command = \"claude {prompt}\"", "command = \"true\"");
    std::fs::write(repo.root.join("sliceboard.toml"), plan).unwrap();
    repo.commit_all("the plan");
    repo.sliceboard(&["up"]).ok();
    // Four slices of one model each: the one holding fct_orders, with the
    // package installed as `dbt deps` would (it is never committed).
    let project = repo.worktree("marts-orders").join("analytics/transform");
    common::dbt::copy_dir(&repo.root.join("analytics/transform/dbt_packages"), &{
        let to = project.join("dbt_packages");
        std::fs::create_dir_all(&to).unwrap();
        to
    });
    let mut build = common::dbt::build(&repo, "marts-orders");
    let output = build.current_dir(&project).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let status = repo.status_json();
    let marts = status["slices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "marts-orders")
        .unwrap()
        .clone();
    assert_eq!(marts["dbt"]["counts"]["failed"], 0, "{marts}");
    assert!(
        marts["dbt"]["counts"]["passed"].as_u64().unwrap_or(0) >= 3,
        "{marts}"
    );
}
