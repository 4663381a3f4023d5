//! `sliceboard plan`: a plan proposed from what the repository holds, the
//! dbt project's models (`--from-dbt`, read in `plan_from_dbt`) or, in any
//! repository, its folders by the rule `init` uses too
//! (`domain::planning::from_folders`: the folders under a dbt project's
//! `models/`, else the top-level ones, such as an Airflow `dags/` folder or
//! a monorepo's packages). Either way the result is a commented
//! `sliceboard.toml` that passes `check`: one slice per group with its
//! size, `after` from the refs between slices (dbt only), the decisions
//! taken, and the files no slice owns with what to do about each. `init`
//! uses the dbt proposal when it finds a dbt project.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde::Serialize;

use super::plan_from_dbt;
use crate::domain::ownership::Ownership;
use crate::domain::planning::{Proposal, SliceCount, from_folders};
use crate::git::GitRepo;
use crate::plan_file::starter::{Extras, starter_with, suggestions};
use crate::plan_file::{self, PLAN_FILE};

/// Where the proposal comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The dbt project's manifest.
    Dbt,
    /// The repository's top-level folders, file by file.
    Folders,
}

/// Slices proposed from a dbt project when no number is asked for.
pub const DBT_SLICES: usize = 4;

/// The options of `plan`.
pub struct PlanOptions {
    pub source: Source,
    /// About how many slices; by default [`DBT_SLICES`] from dbt, one per
    /// folder from folders.
    pub slices: Option<usize>,
    /// Group by the DAG rather than by folder (dbt only).
    pub by_dag: bool,
    pub dry_run: bool,
    pub json: bool,
    pub force: bool,
    pub base: Option<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    /// The dbt project's folder (`.` for the root); absent without dbt.
    #[serde(skip_serializing_if = "Option::is_none")]
    project_dir: Option<String>,
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

/// What was proposed, from what.
struct Proposed {
    proposal: Proposal,
    /// The dbt project's folder, `.` for the root (dbt only).
    project_dir: Option<String>,
    /// "20 models in models", "312 files in 6 folders".
    counted: String,
    /// What the slices' sizes count ("model", "file").
    unit: &'static str,
    total: usize,
}

pub fn plan(cwd: &Path, options: &PlanOptions) -> anyhow::Result<ExitCode> {
    let git = GitRepo::discover(cwd)?;
    let root = git.root().to_owned();
    let base = match &options.base {
        Some(base) => base.clone(),
        None => git.head_branch().context(
            "HEAD is not on a branch; check out the branch slices start from, or pass --base",
        )?,
    };
    let files = git.files_at(&base);
    let proposed = match options.source {
        Source::Dbt => {
            let dbt = plan_from_dbt::propose(
                &root,
                options.slices.unwrap_or(DBT_SLICES),
                options.by_dag,
            )?;
            let project_dir = if dbt.project_dir.is_empty() {
                ".".to_owned()
            } else {
                dbt.project_dir
            };
            Proposed {
                proposal: dbt.proposal,
                counted: format!("{} models in {project_dir}", dbt.models),
                project_dir: Some(project_dir),
                unit: "model",
                total: dbt.models,
            }
        }
        Source::Folders => {
            if options.by_dag {
                bail!("--by dag needs --from-dbt: without dbt there are no refs to order files by");
            }
            from_folders_of(&files, options.slices)?
        }
    };
    let proposal = &proposed.proposal;
    let unowned = unowned(proposal, &files, options.source);
    if options.json {
        let report = Report {
            project_dir: proposed.project_dir.clone(),
            proposal,
            unowned,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }

    let text = plan_text(&base, &proposed, &unowned, options.source);
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
        "wrote {} with {} slices from {} (`sliceboard check` prints it resolved)",
        path.display(),
        proposal.slices.len(),
        proposed.counted,
    );
    Ok(ExitCode::SUCCESS)
}

/// Slices from the tracked files in the repository's folders, by the rule
/// `init` uses too; files at the root stay unowned.
fn from_folders_of(files: &[String], slices: Option<usize>) -> anyhow::Result<Proposed> {
    let count = slices.map_or(SliceCount::PerFolder, SliceCount::About);
    let folders = from_folders(files, count);
    if folders.files == 0 {
        bail!(
            "the base branch has no files in folders to split; commit the code first, or write the plan by hand (`sliceboard init`)"
        );
    }
    let under = if folders.root.is_empty() {
        String::new()
    } else {
        format!(" of {}", folders.root)
    };
    Ok(Proposed {
        proposal: folders.proposal,
        project_dir: None,
        counted: format!(
            "{} files in {} folder{}{under}",
            folders.files,
            folders.folders,
            if folders.folders == 1 { "" } else { "s" }
        ),
        unit: "file",
        total: folders.files,
    })
}

/// The commented plan: the starter's comments, one line per slice with its
/// size, the decisions taken, and the files no slice owns.
fn plan_text(base: &str, proposed: &Proposed, unowned: &[Unowned], source: Source) -> String {
    let command = match source {
        Source::Dbt => "sliceboard plan --from-dbt",
        Source::Folders => "sliceboard plan",
    };
    let mut comments = vec![format!(
        "Proposed by `{command}` from {}:",
        proposed.counted
    )];
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    comments.extend(proposed.proposal.slices.iter().map(|s| {
        format!(
            "  {}: {} {}{}",
            s.name,
            s.models,
            proposed.unit,
            plural(s.models)
        )
    }));
    comments.extend(proposed.proposal.notes.iter().map(|n| format!("Note: {n}")));
    if source == Source::Folders {
        comments.push(
            "No `after` is set: without dbt the order slices merge in is yours to give.".into(),
        );
    }
    if !unowned.is_empty() {
        comments.push("Owned by no slice (an agent changing them is flagged):".into());
        comments.extend(unowned.iter().map(|u| {
            format!(
                "  {} ({} file{}): {}",
                u.path,
                u.files,
                plural(u.files),
                u.suggestion
            )
        }));
    }
    debug_assert!(proposed.total > 0);
    let extras = Extras {
        project_dir: proposed.project_dir.clone(),
        comments,
    };
    starter_with(base, &suggestions(&proposed.proposal), &extras)
}

/// The files of the base branch no proposed slice owns, by top folder (or
/// file), with what to do about each.
fn unowned(proposal: &Proposal, files: &[String], source: Source) -> Vec<Unowned> {
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
            let suggestion = match (source, name) {
                (Source::Folders, _) if !path.ends_with('/') => {
                    "a file at the root: keep it out of every slice, or give it to the slice that must change it"
                }
                (Source::Folders, _) => "add a slice for it if agents must change it",
                (Source::Dbt, name) => dbt_suggestion(name),
            };
            Unowned {
                path,
                files,
                suggestion,
            }
        })
        .collect()
}

/// What to do about a dbt project's folder or file no slice owns.
fn dbt_suggestion(name: &str) -> &'static str {
    match name {
        "macros" => "shared by every slice: changes need a slice of their own (or the operator)",
        "seeds" => "give them to the slice whose staging models read them",
        "snapshots" => "give them to the slice that owns their sources",
        "tests" => "singular tests: give each to the slice owning what it tests",
        "analyses" => "give them to the slice owning what they read",
        "dbt_project.yml" | "packages.yml" | "dependencies.yml" | "profiles.yml"
        | "selectors.yml" => "project files: keep them out of every slice",
        _ => "outside the dbt project: add a slice for it if agents must change it",
    }
}
