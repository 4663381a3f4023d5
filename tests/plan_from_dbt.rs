//! `sliceboard plan --from-dbt` on a real dbt project (dbt 1.11 parses
//! it): slices by model folder, `after` from the refs between them, the
//! files no slice owns listed, and a plan that passes `check`.

mod common;

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
    // By the DAG: runs of models by depth, folders owned whole where the
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
        "owns = [\"models/staging/\"]",
        "owns = [\"models/intermediate/\", \"models/marts/dim_items.sql\"]\nprompt",
        "owns = [\"models/marts/fct_orders.sql\"]",
        "after = [\"intermediate\"]",
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
