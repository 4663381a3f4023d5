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
    /// The dbt project's folder, from the repository root (dbt only).
    pub project_dir: Option<String>,
    /// Print the quality of both groupings instead of a plan (dbt only).
    pub explain: bool,
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
    // The plan file and hidden files are no slice's business.
    let files: Vec<String> = git
        .files_at(&base)
        .into_iter()
        .filter(|f| f != PLAN_FILE && !f.split('/').any(|part| part.starts_with('.')))
        .collect();
    if options.source == Source::Folders && (options.by_dag || options.explain) {
        bail!(
            "--by dag and --explain need --from-dbt: without dbt there are no refs to order files by"
        );
    }
    let proposed = match options.source {
        Source::Dbt => {
            let dir = plan_from_dbt::choose_project(
                &root,
                &files,
                options.project_dir.as_deref(),
                plan_project_dir(&root),
            )?;
            let dbt = plan_from_dbt::read(&root, &dir, files)?;
            let slices = options.slices.unwrap_or(DBT_SLICES);
            if options.explain {
                print!("{}", explain(&dbt, slices));
                return Ok(ExitCode::SUCCESS);
            }
            let models = dbt.project.models.len();
            let project_dir = dbt.plan_dir();
            Proposed {
                proposal: dbt.propose(slices, options.by_dag),
                counted: format!("{models} models of the dbt project in {project_dir}"),
                project_dir: Some(project_dir),
                unit: "model",
                total: models,
            }
        }
        Source::Folders => from_folders_of(&files, options.slices)?,
    };
    let proposal = &proposed.proposal;
    if options.json {
        let report = Report {
            project_dir: proposed.project_dir.clone(),
            proposal,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }

    let text = plan_text(&base, &proposed, options.source);
    let path = root.join(PLAN_FILE);
    if let Err(err) = plan_file::parse(&path, &text, &crate::workspace::GitFacts::new(&git)) {
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

/// The `[dbt] project_dir` of the plan already written, if any.
fn plan_project_dir(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join(PLAN_FILE)).ok()?;
    let value: toml::Value = toml::from_str(&text).ok()?;
    Some(value.get("dbt")?.get("project_dir")?.as_str()?.to_owned())
}

/// Both groupings at `slices`, measured: what `--explain` prints.
fn explain(dbt: &plan_from_dbt::DbtProject, slices: usize) -> String {
    let mut out = format!(
        "{} models of the dbt project in {}, about {slices} slices:\n",
        dbt.project.models.len(),
        dbt.plan_dir()
    );
    for (by, by_dag) in [("folder", false), ("dag", true)] {
        let started = std::time::Instant::now();
        let proposal = dbt.propose(slices, by_dag);
        let took = started.elapsed();
        let q = &proposal.quality;
        let unowned: Vec<String> = q.unowned.iter().map(|(kind, n)| kind.counted(*n)).collect();
        out.push_str(&format!(
            "\n--by {by}: {} slices in {} ms\n  refs crossing slices: {}\n  largest slice: {} model{}, {:.1}x the mean of {:.1}\n  files no slice owns: {}\n  shared YAML: {}\n",
            proposal.slices.len(),
            took.as_millis(),
            q.crossing_refs,
            q.largest,
            plural(q.largest),
            if q.mean > 0.0 { q.largest as f64 / q.mean } else { 0.0 },
            q.mean,
            if unowned.is_empty() { "none".to_owned() } else { unowned.join(", ") },
            q.shared_yaml,
        ));
        for line in slice_lines(&proposal, "model") {
            out.push_str(&format!("  {line}\n"));
        }
        for note in &proposal.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
    }
    out
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

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One line per slice, upstream first: its size, the refs into and out of
/// it, and what it comes after.
fn slice_lines(proposal: &Proposal, unit: &str) -> Vec<String> {
    let width = proposal
        .slices
        .iter()
        .map(|s| s.name.as_str().len())
        .max()
        .unwrap_or(0);
    proposal
        .slices
        .iter()
        .map(|s| {
            let mut line = format!(
                "{:width$}  {} {unit}{}",
                s.name.as_str(),
                s.models,
                plural(s.models)
            );
            if unit == "model" {
                line.push_str(&format!(
                    ", {} YAML; refs in {}, out {}",
                    s.yaml, s.refs_in, s.refs_out
                ));
                if s.after.is_empty() {
                    line.push_str("; first");
                } else {
                    let after: Vec<&str> = s.after.iter().map(|a| a.as_str()).collect();
                    line.push_str(&format!("; after {}", after.join(", ")));
                }
            }
            line
        })
        .collect()
}

/// The commented plan: the starter's comments, one line per slice with its
/// size, the decisions taken, and the files no slice owns.
fn plan_text(base: &str, proposed: &Proposed, source: Source) -> String {
    let command = match source {
        Source::Dbt => "sliceboard plan --from-dbt",
        Source::Folders => "sliceboard plan",
    };
    let proposal = &proposed.proposal;
    let mut comments = vec![format!(
        "Proposed by `{command}` from {}, upstream first:",
        proposed.counted
    )];
    comments.extend(
        slice_lines(proposal, proposed.unit)
            .into_iter()
            .map(|l| format!("  {l}")),
    );
    comments.extend(proposal.notes.iter().map(|n| format!("Note: {n}")));
    if source == Source::Folders {
        comments.push(
            "No `after` is set: without dbt the order slices merge in is yours to give.".into(),
        );
    }
    if !proposal.shared.is_empty() {
        comments.push("Shared by several slices, so owned by none (an edit is flagged):".into());
        comments.extend(
            proposal
                .shared
                .iter()
                .map(|s| format!("  {} ({}): {}", s.path, s.kind.word(), s.advice)),
        );
    }
    if !proposal.unowned.is_empty() {
        comments.push("Owned by no slice (an agent changing them is flagged):".into());
        comments.extend(proposal.unowned.iter().map(|u| {
            format!(
                "  {} ({} file{}): {}",
                u.path,
                u.files,
                plural(u.files),
                u.advice
            )
        }));
    }
    debug_assert!(proposed.total > 0);
    let extras = Extras {
        project_dir: proposed.project_dir.clone(),
        comments,
    };
    starter_with(base, &suggestions(proposal), &extras)
}
