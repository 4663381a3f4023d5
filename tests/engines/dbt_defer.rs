//! Slices that build only what they changed: with `[dbt] defer =
//! "integration"`, the integration environment (built by `sliceboard
//! dbt-state` before anything merged, and by every passing merge check)
//! is published into the state folder, each slice's environment points
//! at it, and a downstream slice's `state:modified+ --defer` build runs
//! its own models only, reading its upstream from the integration build.
//! Real dbt 1.11 on DuckDB.

use crate::common;

use std::process::Command;

use common::TestRepo;
use common::dbt::dbt;
use serde_json::Value;

const PROFILES: &str = r#"shop:
  target: sliceboard
  outputs:
    sliceboard:
      type: duckdb
      path: "{{ env_var('SLICEBOARD_DBT_TARGET', 'dev') }}.duckdb"
      schema: "{{ env_var('SLICEBOARD_DBT_SCHEMA', 'main') }}"
      threads: 1
    defer:
      type: duckdb
      path: "{{ env_var('SLICEBOARD_DBT_TARGET', 'dev') }}.duckdb"
      schema: "{{ env_var('SLICEBOARD_DBT_SCHEMA', 'main') }}"
      threads: 1
      attach:
        - path: "{{ env_var('SLICEBOARD_DBT_DEFER_DB') }}"
          read_only: true
"#;

const PLAN: &str = r#"base = "main"

[agent]
command = "true"

[dbt]
defer = "integration"

[merge]
check = "dbt build --profiles-dir ."

[[slice]]
name = "staging"
owns = ["models/stg_*", "seeds/**"]

[[slice]]
name = "reports"
owns = ["models/customer_report.sql"]
after = ["staging"]
"#;

fn repo() -> TestRepo {
    let repo = common::dbt::empty_project();
    repo.write("profiles.yml", PROFILES);
    repo.write(
        "seeds/orders.csv",
        "id,customer,amount\n1,ada,10\n2,bo,20\n3,ada,5\n",
    );
    repo.write(
        "models/stg_orders.sql",
        "select id, customer, amount from {{ ref('orders') }}\n",
    );
    repo.write(
        "models/customer_report.sql",
        "select customer, sum(amount) as total from {{ ref('stg_orders') }} group by customer\n",
    );
    repo.write("sliceboard.toml", PLAN);
    repo.commit_all("a dbt project that defers");
    repo.sliceboard(&["up"]).ok();
    repo
}

/// dbt in the reports worktree with the slice's environment.
fn reports_dbt(repo: &TestRepo, args: &[&str]) -> std::process::Output {
    let env: serde_json::Map<String, Value> =
        serde_json::from_str(&repo.sliceboard(&["env", "reports", "--json"]).ok()).unwrap();
    Command::new(dbt())
        .args(args)
        .current_dir(repo.worktree("reports"))
        .envs(
            env.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())),
        )
        .output()
        .unwrap()
}

#[test]
fn a_downstream_slice_builds_only_what_it_changed_against_the_integration_build() {
    let repo = repo();
    // Before anything merged: the base's build is what slices defer to.
    let run = common::dbt::with_dbt(&repo, &["dbt-state"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let state = repo.state_dir().join("dbt-state");
    assert!(state.join("manifest.json").is_file());
    assert!(state.join("dev_integration.duckdb").is_file());
    let env: serde_json::Map<String, Value> =
        serde_json::from_str(&repo.sliceboard(&["env", "reports", "--json"]).ok()).unwrap();
    assert_eq!(env["SLICEBOARD_DBT_STATE"], state.to_str().unwrap());
    assert_eq!(
        env["SLICEBOARD_DBT_DEFER_DB"],
        state.join("dev_integration.duckdb").to_str().unwrap()
    );

    // The reports slice changes its model.
    let worktree = repo.worktree("reports");
    std::fs::write(
        worktree.join("models/customer_report.sql"),
        "select customer, sum(amount) as total, count(*) as orders from {{ ref('stg_orders') }} group by customer\n",
    )
    .unwrap();
    // Without deferral its upstream is not in its database: it fails.
    let alone = reports_dbt(
        &repo,
        &[
            "build",
            "--profiles-dir",
            ".",
            "--select",
            "customer_report",
        ],
    );
    assert!(!alone.status.success());
    // Deferred: its model alone is built, reading stg_orders from the
    // integration build.
    let state_dir = state.to_str().unwrap();
    let deferred = reports_dbt(
        &repo,
        &[
            "build",
            "--profiles-dir",
            ".",
            "--target",
            "defer",
            "--select",
            "state:modified+",
            "--defer",
            "--state",
            state_dir,
        ],
    );
    let stdout = String::from_utf8_lossy(&deferred.stdout);
    assert!(deferred.status.success(), "{stdout}");
    assert!(
        stdout.contains("Done. PASS=1 WARN=0 ERROR=0 SKIP=0"),
        "{stdout}"
    );
    let status = repo.status_json();
    let dbt = &status["slices"][1]["dbt"];
    assert_eq!(dbt["status"], "success", "{dbt}");
    assert_eq!(dbt["selected"], 1, "{dbt}");
}

#[test]
fn a_plan_without_deferral_exports_nothing_for_it() {
    let repo = TestRepo::new();
    repo.write(
        "sliceboard.toml",
        &PLAN.replace("defer = \"integration\"", "defer = \"off\""),
    );
    repo.commit_all("plan");
    let env = repo.sliceboard(&["env", "reports", "--json"]).ok();
    assert!(!env.contains("SLICEBOARD_DBT_STATE"), "{env}");
    repo.write(
        "sliceboard.toml",
        &PLAN.replace("defer = \"integration\"", "defer = \"sometimes\""),
    );
    let err = repo.sliceboard(&["check"]).fails();
    assert!(err.contains("dbt.defer"), "{err}");
}
