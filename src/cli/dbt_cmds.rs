//! `sliceboard dbt-state`: builds the environment slices defer to now,
//! before anything merged: the plan's `[merge] check` run in the
//! integration worktree at the integration branch's tip (the base, until
//! a slice merges), then its manifest and DuckDB files published where
//! `SLICEBOARD_DBT_STATE` points. After that, every passing merge check
//! publishes it again by itself.

use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context as _, bail};

use crate::domain::SliceName;
use crate::domain::environment::{INTEGRATION_SLICE, integration_env};
use crate::workspace::Workspace;

pub fn dbt_state(ws: &Workspace) -> anyhow::Result<ExitCode> {
    let Some(check) = ws.plan.merge.check.clone() else {
        bail!(
            "the plan has no `[merge] check`: it is what builds the integration environment (e.g. `check = \"dbt build\"`)"
        );
    };
    if ws.state_dir.attempt_file().exists() {
        bail!("a merge attempt is in progress in the integration worktree; try again when it ends");
    }
    let tip = match ws.git.branch_tip(&ws.plan.integration)? {
        Some(tip) => tip,
        None => ws
            .git
            .branch_tip(&ws.plan.base)?
            .with_context(|| format!("the base branch {} does not exist", ws.plan.base))?,
    };
    crate::merge_queue::reset_integration_worktree(ws, Some(tip))
        .map_err(|err| anyhow::anyhow!("cannot prepare the integration worktree: {err}"))?;
    let worktree = ws.state_dir.integration_worktree();
    let integration = SliceName::parse(INTEGRATION_SLICE)
        .map_err(|problem| anyhow::anyhow!("{INTEGRATION_SLICE} {problem}"))?;
    eprintln!(
        "building the integration environment at {} in {}: {check}",
        crate::domain::short_commit(&tip.to_string()),
        worktree.display()
    );
    // Onto the last published build when there is one; from nothing the
    // first time (then `SLICEBOARD_DBT_SLIM` is empty: a full build).
    ws.seed_dbt_db(INTEGRATION_SLICE, true)
        .context("cannot copy the published dbt database")?;
    let mut env = integration_env(&ws.plan, ws.git.root(), &worktree, &integration);
    env.extend(ws.defer_env(INTEGRATION_SLICE));
    let status = Command::new("sh")
        .args([
            "-c",
            &crate::domain::plan::check_script(&ws.plan.setup, &check),
        ])
        .current_dir(&worktree)
        .envs(env)
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot run `{check}`"))?;
    if !status.success() {
        bail!("`{check}` failed ({status}); nothing published");
    }
    let project = crate::domain::plan::normalize(&worktree.join(&ws.plan.dbt.project_dir));
    let database = ws.state_dir.dbt_db(INTEGRATION_SLICE);
    let files =
        crate::dbt::defer::publish(&project, Some(&database), &ws.state_dir.dbt_state_dir())
            .context("cannot publish the integration build's dbt state")?;
    println!(
        "slices defer to this build: {} files in {}",
        files.len(),
        ws.state_dir.dbt_state_dir().display()
    );
    Ok(ExitCode::SUCCESS)
}
