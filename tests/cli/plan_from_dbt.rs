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
        "name = \"intermediate\"\nowns = [\"models/intermediate/\"]",
        "after = [\"staging\"]",
        "name = \"marts\"\nowns = [\"models/marts/\"]",
        "after = [\"intermediate\", \"staging\"]",
        "name = \"staging\"\nowns = [\"models/staging/\"]",
        "#   macros/ (1 file): shared by every slice",
        "#   seeds/ (1 file): give them to the slice whose staging models read them",
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
        ["intermediate", "marts", "staging-catalog", "staging-core"]
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
        "owns = [\"models/staging/catalog/\"]",
        "owns = [\"models/staging/core/\", \"models/intermediate/\", \"models/marts/dim_items.sql\"]\nprompt",
        "owns = [\"models/marts/fct_orders.sql\"]",
        "after = [\"staging-2\"]",
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
    assert!(run.stdout.contains("from 6 models in ."), "{}", run.stdout);
    let plan = std::fs::read_to_string(repo.root.join("sliceboard.toml")).unwrap();
    for expected in [
        "Proposed by `sliceboard plan --from-dbt` from 6 models in .:",
        "name = \"marts\"\nowns = [\"models/marts/\"]",
        "after = [\"intermediate\", \"staging-catalog\"]",
        "name = \"staging-core\"\nowns = [\"models/staging/core/\"]",
        "#   macros/ (1 file): shared by every slice",
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
        "name = \"dags-1\"\nowns = [\"dags/etl_1.py\", \"dags/etl_2.py\", \"dags/etl_3.py\"]",
        "name = \"dags-3\"\nowns = [\"dags/etl_7.py\", \"dags/etl_8.py\", \"dags/etl_9.py\"]",
        "name = \"plugins\"\nowns = [\"plugins/\"]",
        "#   dags-1: 3 files",
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
    assert!(err.contains("--by dag needs --from-dbt"), "{err}");
}
