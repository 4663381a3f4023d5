//! The dbt side of `sliceboard plan --from-dbt`: the project's models
//! from its own manifest (`target/manifest.json`; when it is missing or
//! older than the project's files, the project's own `dbt parse` makes it),
//! proposed as slices by folder or by the DAG.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use anyhow::{Context as _, bail};

use crate::dbt::models::{common_root, find_project, read_models};
use crate::domain::planning::{Proposal, by_dag, by_folder};

/// A proposal from the dbt project in `root`, and the project's folder
/// relative to the root (`""` when it is the root).
pub struct DbtProposal {
    pub proposal: Proposal,
    pub project_dir: String,
    pub models: usize,
}

pub fn propose(root: &Path, slices: usize, by_dag_order: bool) -> anyhow::Result<DbtProposal> {
    let project = find_project(root).context(
        "no dbt_project.yml in this repository (looked at its root and one folder down)",
    )?;
    let project_dir = project
        .strip_prefix(root)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = if project_dir.is_empty() {
        String::new()
    } else {
        format!("{project_dir}/")
    };
    let manifest = fresh_manifest(&project)?;
    let models = read_models(&manifest, &prefix)?;
    if models.is_empty() {
        bail!("the dbt project has no models to split");
    }
    let models_root = common_root(&models, &prefix);
    let proposal = if by_dag_order {
        by_dag(&models, &models_root, slices)
    } else {
        by_folder(&models, &models_root, slices)
    };
    Ok(DbtProposal {
        proposal,
        project_dir,
        models: models.len(),
    })
}

/// The project's manifest, made again with `dbt parse` when missing or
/// older than its models, macros or project file.
fn fresh_manifest(project: &Path) -> anyhow::Result<PathBuf> {
    let manifest = project.join("target").join("manifest.json");
    let made = std::fs::metadata(&manifest).and_then(|m| m.modified()).ok();
    let newest = newest_source(project);
    if made.is_some_and(|made| newest.is_none_or(|newest| newest <= made)) {
        return Ok(manifest);
    }
    eprintln!(
        "running `dbt parse` in {} (its manifest is missing or older than its files)…",
        project.display()
    );
    let mut command = Command::new("dbt");
    command
        .arg("parse")
        .current_dir(project)
        .env("DO_NOT_TRACK", "1");
    if project.join("profiles.yml").is_file() {
        command.args(["--profiles-dir", "."]);
    }
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => anyhow::anyhow!(
                "dbt is not installed (no `dbt` on PATH): install dbt-core and your adapter, or run `dbt parse` in {} yourself",
                project.display()
            ),
            _ => anyhow::anyhow!("cannot run `dbt parse`: {err}"),
        })?;
    if !output.status.success() {
        bail!(
            "`dbt parse` failed in {}:\n{}",
            project.display(),
            String::from_utf8_lossy(&output.stdout)
        );
    }
    Ok(manifest)
}

/// The newest modification time of the project's own files.
fn newest_source(project: &Path) -> Option<SystemTime> {
    let mut newest = std::fs::metadata(project.join("dbt_project.yml"))
        .and_then(|m| m.modified())
        .ok();
    let mut stack = vec![project.join("models"), project.join("macros")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                newest = Some(newest.map_or(modified, |n: SystemTime| n.max(modified)));
            }
        }
    }
    newest
}
