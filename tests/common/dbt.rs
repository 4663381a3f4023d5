//! Real dbt projects for tests: the fixture dbt project (tests/fixtures/
//! dbt_project: a seed, a broken model, a failing test) in a repository
//! with two slices and their worktrees, and dbt run in a slice's worktree
//! with exactly the environment its agent gets.
//!
//! Needs dbt-core and dbt-duckdb 1.11 (`.ci/run` installs them into
//! `.ci/venv`; set SLICEBOARD_DBT to use another dbt).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use super::TestRepo;

pub const PLAN: &str = r#"base = "main"

[agent]
command = "true"

[dbt]
target = "dev_{slice_ident}"
schema = "dbt_{slice_ident}"

[[slice]]
name = "staging"
owns = ["models/stg_*", "seeds/**"]

[[slice]]
name = "reports"
owns = ["models/broken_totals.sql", "models/customer_report.sql", "models/schema.yml"]
after = ["staging"]
"#;

pub fn dbt() -> PathBuf {
    if let Some(dbt) = std::env::var_os("SLICEBOARD_DBT") {
        return dbt.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/venv/bin/dbt");
    if venv.exists() {
        return venv;
    }
    panic!(
        "dbt is not installed: run `bash .ci/run` once (it installs dbt-core and dbt-duckdb 1.11 into .ci/venv), or set SLICEBOARD_DBT"
    );
}

/// Runs sliceboard in the repository with dbt's folder first on PATH, for
/// commands that run the plan's own `dbt …` (the check, `dbt parse`).
pub fn with_dbt(repo: &TestRepo, args: &[&str]) -> super::Run {
    let path = format!(
        "{}:{}",
        dbt().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    repo.command(super::BIN, &repo.root)
        .args(args)
        .env("PATH", path)
        .output()
        .unwrap()
        .into()
}

/// A repository whose dbt-shaped files are gone, for a test to write a
/// real project of its own (nothing committed yet).
pub fn without_dbt_files() -> TestRepo {
    let repo = TestRepo::new();
    repo.git(&[
        "rm",
        "-r",
        "-q",
        "models",
        "seeds",
        "macros",
        "dbt_project.yml",
    ]);
    repo
}

/// `without_dbt_files` plus a `dbt_project.yml` for project `shop` and a
/// `.gitignore` for dbt's and DuckDB's files.
pub fn empty_project() -> TestRepo {
    let repo = without_dbt_files();
    repo.write(
        "dbt_project.yml",
        "name: shop\nversion: \"1.0.0\"\nprofile: shop\nmodel-paths: [\"models\"]\nseed-paths: [\"seeds\"]\n",
    );
    repo.write(".gitignore", "target/\nlogs/\n*.duckdb\n");
    repo
}

/// A repository holding the fixture dbt project, with worktrees for both slices.
pub fn repo() -> TestRepo {
    // Replace the common dbt-shaped files with a real, runnable project.
    let repo = without_dbt_files();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dbt_project");
    copy_dir(&fixture, &repo.root);
    repo.write("sliceboard.toml", PLAN);
    repo.commit_all("dbt project and plan");
    repo.sliceboard(&["up"]).ok();
    repo
}

pub fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `dbt build` in a slice's worktree with exactly the environment its
/// agent gets.
pub fn build(repo: &TestRepo, slice: &str) -> Command {
    let env: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&repo.sliceboard(&["env", slice, "--json"]).ok()).unwrap();
    let mut command = Command::new(dbt());
    command
        .args(["build", "--profiles-dir", "."])
        .current_dir(repo.worktree(slice))
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false");
    for (key, value) in env {
        command.env(key, value.as_str().unwrap());
    }
    command
}
