//! The dbt side of `sliceboard plan --from-dbt`: the project's models
//! from its own manifest (`target/manifest.json`; when it is missing or
//! older than the project's files, the project's own `dbt parse` makes it),
//! proposed as slices by folder or by the DAG.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use anyhow::{Context as _, bail};

use crate::dbt::models::{common_root, find_projects, read_project};
use crate::domain::planning::{Project, Proposal, by_dag, by_folder};

/// The dbt project a proposal comes from: its folder relative to the
/// repository root (`""` when it is the root), its models and files.
pub struct DbtProject {
    pub dir: String,
    pub project: Project,
    /// The folder its models are under (`models/`), for names.
    pub models_root: String,
}

impl DbtProject {
    /// `dir` as the plan writes it: `.` for the root.
    pub fn plan_dir(&self) -> String {
        if self.dir.is_empty() {
            ".".to_owned()
        } else {
            self.dir.clone()
        }
    }

    pub fn propose(&self, slices: usize, by_dag_order: bool) -> Proposal {
        if by_dag_order {
            by_dag(&self.project, &self.models_root, slices)
        } else {
            by_folder(&self.project, &self.models_root, slices)
        }
    }
}

/// Which dbt project to plan from: the one asked for (`--project-dir`),
/// else the plan's `[dbt] project_dir`, else the only one in the
/// repository (its files at the base, or on disk when none is committed);
/// with several, the operator picks one at a terminal, and elsewhere the
/// command says which there are.
pub fn choose_project(
    root: &Path,
    files: &[String],
    asked: Option<&str>,
    from_plan: Option<String>,
) -> anyhow::Result<String> {
    let clean = |dir: &str| -> String {
        let dir = dir.trim().trim_start_matches("./").trim_matches('/');
        if dir == "." {
            String::new()
        } else {
            dir.to_owned()
        }
    };
    if let Some(asked) = asked {
        let dir = clean(asked);
        if !root.join(&dir).join("dbt_project.yml").is_file() {
            bail!(
                "no dbt_project.yml in {} (--project-dir is relative to the repository root)",
                root.join(&dir).display()
            );
        }
        return Ok(dir);
    }
    if let Some(dir) = from_plan.map(|d| clean(&d))
        && root.join(&dir).join("dbt_project.yml").is_file()
    {
        return Ok(dir);
    }
    let mut found: Vec<String> = find_projects(files)
        .into_iter()
        .map(|d| clean(&d))
        .filter(|d| root.join(d).join("dbt_project.yml").is_file())
        .collect();
    if found.is_empty() {
        found = projects_on_disk(root);
    }
    match found.as_slice() {
        [] => bail!(
            "no dbt_project.yml in this repository; name the project's folder with --project-dir"
        ),
        [one] => Ok(one.clone()),
        several => pick(several),
    }
}

/// Asks which project, at a terminal; elsewhere says which there are.
fn pick(several: &[String]) -> anyhow::Result<String> {
    let shown = |d: &String| {
        if d.is_empty() {
            ".".to_owned()
        } else {
            d.clone()
        }
    };
    let list: Vec<String> = several.iter().map(shown).collect();
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        bail!(
            "this repository has {} dbt projects ({}); name one with --project-dir",
            several.len(),
            list.join(", ")
        );
    }
    eprintln!("this repository has {} dbt projects:", several.len());
    for (i, dir) in list.iter().enumerate() {
        eprintln!("  {}) {dir}", i + 1);
    }
    eprint!("which one? [1-{}] ", several.len());
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    let chosen = answer
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=several.len()).contains(n))
        .with_context(|| {
            format!(
                "{:?} is not one of 1 to {}; name the project with --project-dir",
                answer.trim(),
                several.len()
            )
        })?;
    Ok(several[chosen - 1].clone())
}

/// Projects on disk, four folders down at most, for a project not yet
/// committed (hidden folders, packages and build output left out).
fn projects_on_disk(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![(root.to_owned(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        if dir.join("dbt_project.yml").is_file() {
            let rel = dir.strip_prefix(root).unwrap_or(&dir);
            found.push(rel.to_string_lossy().into_owned());
        }
        if depth == 4 {
            continue;
        }
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let skip = name.starts_with('.')
                || [
                    "dbt_packages",
                    "dbt_modules",
                    "node_modules",
                    "target",
                    "logs",
                ]
                .contains(&name.as_str());
            if !skip && entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push((entry.path(), depth + 1));
            }
        }
    }
    found.sort();
    found
}

/// The project in `dir` (from the repository root `root`), its manifest
/// made fresh; `files` are the repository's, for ownership.
pub fn read(root: &Path, dir: &str, files: Vec<String>) -> anyhow::Result<DbtProject> {
    let project_path = root.join(dir);
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    fresh_manifest(&project_path)?;
    let project = read_project(&project_path, &prefix, files)?;
    if project.models.is_empty() {
        bail!(
            "the dbt project in {} has no models of its own to split",
            project_path.display()
        );
    }
    let models_root = common_root(&project.models, &prefix);
    Ok(DbtProject {
        dir: dir.to_owned(),
        project,
        models_root,
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

/// The newest modification time of the project's own files (its
/// `dbt_project.yml` and every file on its paths).
fn newest_source(project: &Path) -> Option<SystemTime> {
    let mut newest = std::fs::metadata(project.join("dbt_project.yml"))
        .and_then(|m| m.modified())
        .ok();
    let config = std::fs::read_to_string(project.join("dbt_project.yml")).unwrap_or_default();
    let mut stack: Vec<PathBuf> = crate::dbt::models::project_paths(&config)
        .into_iter()
        .flat_map(|(_, folders)| folders)
        .map(|folder| project.join(folder))
        .collect();
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
