//! Real `dbt build` runs on DuckDB in real slice worktrees: each slice
//! builds into its own database and schema, two slices build at once
//! without colliding, and what dbt wrote is read back per node.
//!
//! Needs dbt-core and dbt-duckdb 1.11 (`.ci/run` installs them into
//! `.ci/venv`; set SLICEBOARD_DBT to use another dbt).

use crate::common;

use common::dbt::{build, repo};

#[test]
fn two_slices_build_at_once_into_their_own_targets_and_report_each_node() {
    let repo = repo();
    let mut children: Vec<_> = ["staging", "reports"]
        .iter()
        .map(|slice| {
            build(&repo, slice)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("dbt starts")
        })
        .collect();
    let outputs: Vec<_> = children
        .drain(..)
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for (slice, output) in ["staging", "reports"].iter().zip(&outputs) {
        let stdout = String::from_utf8_lossy(&output.stdout);
        // The fixture has one broken model and one failing test: dbt exits 1.
        assert_eq!(output.status.code(), Some(1), "{slice}: {stdout}");
        assert!(
            stdout.contains("Done. PASS=4 WARN=0 ERROR=2 SKIP=1"),
            "{slice}: {stdout}"
        );
        assert!(!stdout.contains("lock"), "{slice} collided: {stdout}");
        // Each slice's own database file, inside its own worktree.
        let own = repo.worktree(slice).join(format!("dev_{slice}.duckdb"));
        assert!(own.exists(), "{} missing", own.display());
    }

    let status = repo.status_json();
    for slice in status["slices"].as_array().unwrap() {
        let name = slice["name"].as_str().unwrap();
        let dbt = &slice["dbt"];
        assert_eq!(dbt["command"], "build", "{name}: {dbt}");
        // dbt's own target (the profile's output), and where it built.
        assert_eq!(dbt["target"], "sliceboard", "{name}: {dbt}");
        assert_eq!(dbt["database"], format!("dev_{name}"), "{name}: {dbt}");
        assert_eq!(dbt["schema"], format!("dbt_{name}"), "{name}: {dbt}");
        assert_eq!(dbt["elsewhere"], serde_json::Value::Null, "{name}: {dbt}");
        assert_eq!(dbt["status"], "failed");
        assert_eq!(dbt["source"], "json_log");
        assert_eq!(dbt["counts"]["passed"], 4);
        assert_eq!(dbt["counts"]["failed"], 2);
        assert_eq!(dbt["counts"]["skipped"], 1);
        let failed: Vec<(&str, &str)> = dbt["failed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["name"].as_str().unwrap(), n["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            failed,
            [
                ("broken_totals", "error"),
                ("not_null_stg_orders_customer", "fail")
            ]
        );
        // Each failure's file and the slice that owns it: reports owns the
        // broken model and schema.yml, so in staging's worktree they are
        // reports' failures, not staging's.
        assert_eq!(dbt["failed"][0]["file"], "models/broken_totals.sql");
        assert_eq!(dbt["failed"][1]["file"], "models/schema.yml");
        assert_eq!(dbt["failed"][0]["owner"], "reports", "{name}: {dbt}");
        assert_eq!(dbt["failed"][1]["owner"], "reports", "{name}: {dbt}");
        let elsewhere = if name == "staging" {
            // Two failures and the skipped customer_report.
            serde_json::json!([{ "slice": "reports", "nodes": 3 }])
        } else {
            serde_json::json!([])
        };
        assert_eq!(dbt["owned_elsewhere"], elsewhere, "{name}: {dbt}");
        let message = dbt["failed"][0]["message"].as_str().unwrap();
        assert!(message.contains("\"customerr\" not found"), "{message}");
        assert_eq!(
            dbt["failed"][0]["compiled_path"],
            "target/compiled/shop/models/broken_totals.sql"
        );
    }
    // dbt's files stay ignored inside the worktrees: the slices are clean.
    let table = repo.sliceboard(&["status"]).ok();
    assert!(
        table.contains("build: 4 ok, 2 failed, 1 skipped, 3 of reports"),
        "{table}"
    );
    assert!(
        table.contains("! staging: dbt model broken_totals (owned by reports): Runtime Error"),
        "{table}"
    );
    assert!(!table.contains("dirty"), "{table}");
}

#[test]
fn a_run_without_json_logs_is_read_from_the_text_log() {
    let repo = repo();
    let output = build(&repo, "staging")
        .env_remove("DBT_LOG_FORMAT_FILE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let status = repo.status_json();
    let dbt = &status["slices"][0]["dbt"];
    assert_eq!(dbt["source"], "text_log", "{dbt}");
    assert_eq!(dbt["counts"]["failed"], 2, "{dbt}");
    assert_eq!(status["slices"][1]["dbt"], serde_json::Value::Null);
}
