//! `sliceboard plan --from-dbt`: a plan proposed from the dbt project's
//! own manifest: slices by model folder, `after` from the refs between
//! them, and the files no slice owns listed with what to do about each.
//! The manifest is dbt's (`target/manifest.json`); when it is missing or
//! older than the project's files, the project's own `dbt parse` makes it.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::SystemTime;

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::domain::ownership::Ownership;
use crate::domain::planning::{Model, Proposal, by_dag, by_folder};
use crate::git::GitRepo;
use crate::plan_file::starter::{Extras, Suggestion, starter_with};
use crate::plan_file::{self, PLAN_FILE};

/// The options of `plan --from-dbt`.
pub struct PlanOptions {
    pub slices: usize,
    /// Group by the DAG rather than by folder.
    pub by_dag: bool,
    pub dry_run: bool,
    pub json: bool,
    pub force: bool,
    pub base: Option<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    project_dir: String,
    proposal: &'a Proposal,
    unowned: Vec<Unowned>,
}

/// Files no proposed slice owns, by folder or file, and what to do.
#[derive(Serialize)]
struct Unowned {
    path: String,
    files: usize,
    suggestion: &'static str,
}

pub fn plan_from_dbt(cwd: &Path, options: &PlanOptions) -> anyhow::Result<ExitCode> {
    let git = GitRepo::discover(cwd)?;
    let root = git.root().to_owned();
    let project = find_project(&root).context(
        "no dbt_project.yml in this repository (looked at its root and one folder down)",
    )?;
    let prefix = project
        .strip_prefix(&root)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    let manifest = fresh_manifest(&project)?;
    let models = read_models(&manifest, &prefix)?;
    if models.is_empty() {
        bail!("the dbt project has no models to split");
    }
    let models_root = common_root(&models, &prefix);
    let proposal = if options.by_dag {
        by_dag(&models, &models_root, options.slices)
    } else {
        by_folder(&models, &models_root, options.slices)
    };

    let base = match &options.base {
        Some(base) => base.clone(),
        None => git.head_branch().context(
            "HEAD is not on a branch; check out the branch slices start from, or pass --base",
        )?,
    };
    let files = git.files_at(&base);
    let unowned = unowned(&proposal, &files);
    if options.json {
        let report = Report {
            project_dir: prefix.trim_end_matches('/').to_owned(),
            proposal: &proposal,
            unowned,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }

    let mut comments = vec![format!(
        "Proposed by `sliceboard plan --from-dbt` from {} models in {}:",
        models.len(),
        if prefix.is_empty() {
            "."
        } else {
            prefix.trim_end_matches('/')
        }
    )];
    comments.extend(proposal.slices.iter().map(|s| {
        format!(
            "  {}: {} model{}",
            s.name,
            s.models,
            if s.models == 1 { "" } else { "s" }
        )
    }));
    comments.extend(proposal.notes.iter().map(|n| format!("Note: {n}")));
    if !unowned.is_empty() {
        comments.push("Owned by no slice (an agent changing them is flagged):".into());
        comments.extend(unowned.iter().map(|u| {
            format!(
                "  {} ({} file{}): {}",
                u.path,
                u.files,
                if u.files == 1 { "" } else { "s" },
                u.suggestion
            )
        }));
    }
    let suggestions: Vec<Suggestion> = proposal
        .slices
        .iter()
        .map(|s| Suggestion {
            name: s.name.clone(),
            folder: s.owns.first().cloned().unwrap_or_default(),
            more: s.owns.iter().skip(1).cloned().collect(),
            after: s.after.clone(),
        })
        .collect();
    let extras = Extras {
        project_dir: Some(if prefix.is_empty() {
            ".".into()
        } else {
            prefix.trim_end_matches('/').to_owned()
        }),
        comments,
    };
    let text = starter_with(&base, &suggestions, &extras);
    let path = root.join(PLAN_FILE);
    if let Err(err) = plan_file::parse(&path, &text, &crate::workspace::GitFacts(&git)) {
        bail!("the proposed plan does not pass check (a bug: please report it):\n{err}\n{text}");
    }
    if options.dry_run {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if path.exists() && !options.force {
        bail!(
            "{} already exists; see the proposal with --dry-run, or pass --force to replace it",
            path.display()
        );
    }
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "wrote {} with {} slices from {} models (`sliceboard check` prints it resolved)",
        path.display(),
        proposal.slices.len(),
        models.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `dbt_project.yml` at the root, else in a folder one level down.
fn find_project(root: &Path) -> Option<PathBuf> {
    if root.join("dbt_project.yml").is_file() {
        return Some(root.to_owned());
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("dbt_project.yml").is_file())
        .collect();
    found.sort();
    found.into_iter().next()
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

/// The project's models, with their files from the repository root and
/// the models they ref.
fn read_models(manifest: &Path, prefix: &str) -> anyhow::Result<Vec<Model>> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        nodes: std::collections::HashMap<String, Node>,
    }
    #[derive(serde::Deserialize)]
    struct Node {
        resource_type: String,
        original_file_path: String,
        #[serde(default)]
        depends_on: DependsOn,
    }
    #[derive(serde::Deserialize, Default)]
    struct DependsOn {
        #[serde(default)]
        nodes: Vec<String>,
    }
    let file = std::fs::File::open(manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let parsed: Manifest = serde_json::from_reader(std::io::BufReader::new(file))
        .with_context(|| format!("{} is not a dbt manifest", manifest.display()))?;
    let mut models: Vec<Model> = parsed
        .nodes
        .into_iter()
        .filter(|(_, n)| n.resource_type == "model")
        .map(|(id, n)| Model {
            id,
            path: format!("{prefix}{}", n.original_file_path),
            depends_on: n
                .depends_on
                .nodes
                .into_iter()
                .filter(|d| d.starts_with("model."))
                .collect(),
        })
        .collect();
    models.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(models)
}

/// The folder every model is under (`models/`, or the project's prefix).
fn common_root(models: &[Model], prefix: &str) -> String {
    let first = |m: &Model| {
        m.path
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('/'))
            .map(|(dir, _)| dir.to_owned())
    };
    let dirs: std::collections::BTreeSet<Option<String>> = models.iter().map(first).collect();
    match dirs.into_iter().collect::<Vec<_>>().as_slice() {
        [Some(dir)] => format!("{prefix}{dir}/"),
        _ => prefix.to_owned(),
    }
}

/// The files of the base branch no proposed slice owns, by top folder (or
/// file), with what to do about each.
fn unowned(proposal: &Proposal, files: &[String]) -> Vec<Unowned> {
    let globs: Vec<(crate::domain::SliceName, Vec<String>)> = proposal
        .slices
        .iter()
        .map(|s| (s.name.clone(), s.owns.clone()))
        .collect();
    let Ok(ownership) = Ownership::new(globs.iter().map(|(n, g)| (n, g.as_slice()))) else {
        return Vec::new();
    };
    let mut by_place: std::collections::BTreeMap<String, usize> = Default::default();
    for file in files {
        if file == PLAN_FILE || file.starts_with('.') || !ownership.owners(file).is_empty() {
            continue;
        }
        let place = match file.split_once('/') {
            Some((dir, _)) => format!("{dir}/"),
            None => file.clone(),
        };
        *by_place.entry(place).or_default() += 1;
    }
    by_place
        .into_iter()
        .map(|(path, files)| {
            let name = path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default();
            let suggestion = match name {
                "macros" => {
                    "shared by every slice: changes need a slice of their own (or the operator)"
                }
                "seeds" => "give them to the slice whose staging models read them",
                "snapshots" => "give them to the slice that owns their sources",
                "tests" => "singular tests: give each to the slice owning what it tests",
                "analyses" => "give them to the slice owning what they read",
                "dbt_project.yml" | "packages.yml" | "dependencies.yml" | "profiles.yml"
                | "selectors.yml" => "project files: keep them out of every slice",
                _ => "outside the dbt project: add a slice for it if agents must change it",
            };
            Unowned {
                path,
                files,
                suggestion,
            }
        })
        .collect()
}
