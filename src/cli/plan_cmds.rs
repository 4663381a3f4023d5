//! `init` and `check`: writing and reading the plan. `init` proposes
//! slices as `plan --from-dbt` does for a dbt project (`plan_propose`), and
//! otherwise (or when dbt cannot parse the project) as `plan` does, one per
//! folder (`domain::planning::from_folders`, through
//! `starter::suggest_slices`).

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use super::plan_propose::{self, PlanOptions, Source};
use crate::domain::order::merge_order;
use crate::domain::{Plan, SliceName};
use crate::git::GitRepo;
use crate::plan_file::{self, PLAN_FILE, starter};
use crate::workspace::{GitFacts, Workspace};

pub fn init(
    cwd: &Path,
    force: bool,
    project_dir: Option<String>,
    base: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let git = GitRepo::discover(cwd)?;
    let path = git.root().join(PLAN_FILE);
    if path.exists() && !force {
        anyhow::bail!(
            "{} already exists; edit it, or pass --force to replace it with a starter plan",
            path.display()
        );
    }
    let base = match base {
        Some(base) => base.to_owned(),
        None => git.head_branch().context(
            "HEAD is not on a branch; check out the branch slices should start from, or pass --base",
        )?,
    };
    if !git.branch_exists(&base) {
        anyhow::bail!(
            "branch {base} has no commits yet; commit something first, since slices start from the base branch's tip"
        );
    }
    let files = git.files_at(&base);
    if project_dir.is_some() || !crate::dbt::models::find_projects(&files).is_empty() {
        // A dbt project: slices from its DAG, as `plan --from-dbt` makes them.
        let options = PlanOptions {
            source: Source::Dbt,
            slices: None,
            by_dag: false,
            project_dir,
            explain: false,
            dry_run: false,
            json: false,
            force: true,
            base: Some(base.clone()),
        };
        match plan_propose::plan(cwd, &options) {
            Ok(code) => {
                println!(
                    "next: read it (owned paths, prompts, agent command), then run `sliceboard check` and `sliceboard up`; `sliceboard plan --from-dbt --slices N --force` proposes another split"
                );
                return Ok(code);
            }
            Err(err) => eprintln!(
                "cannot propose slices from the dbt project ({err:#}); writing a starter plan by folder instead"
            ),
        }
    }
    let suggestions = starter::suggest_slices(&files);
    let text = starter::starter(&base, &suggestions);
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    let count = suggestions.len().max(1);
    println!(
        "wrote {} with {count} slice{} starting from {base}",
        path.display(),
        if count == 1 { "" } else { "s" }
    );
    if let Err(err) = plan_file::parse(&path, &text, &GitFacts::new(&git)) {
        eprintln!("{err}");
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "next: edit it (owned paths, prompts, agent command), then run `sliceboard check` and `sliceboard up`"
    );
    Ok(ExitCode::SUCCESS)
}

pub fn check(cwd: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let ws = super::open(cwd)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&resolved_json(&ws))?);
    } else {
        print!("{}", describe(&ws));
    }
    let refusals = sandbox_refusals(&ws);
    for refusal in &refusals {
        eprintln!("error: {refusal}");
    }
    Ok(if refusals.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Each sandbox of the plan that cannot start on this machine: the
/// slices that use it and why.
fn sandbox_refusals(ws: &Workspace) -> Vec<String> {
    use crate::domain::sandbox::{Network, SandboxKind};
    let mut refusals = Vec::new();
    for network in [Network::Host, Network::None] {
        let slices: Vec<String> = ws
            .plan
            .slices
            .iter()
            .filter(|s| ws.plan.box_for(s).kind == SandboxKind::Bubblewrap)
            .filter(|s| ws.plan.box_for(s).network == network)
            .map(|s| s.name.to_string())
            .collect();
        if slices.is_empty() {
            continue;
        }
        if let Err(why) = crate::workspace::probe_sandbox(network) {
            refusals.push(format!(
                "the sandbox of {} cannot start: {why}",
                slices.join(", ")
            ));
        }
    }
    let commanded: Vec<String> = ws
        .plan
        .slices
        .iter()
        .filter(|s| ws.plan.box_for(s).kind == SandboxKind::Command)
        .map(|s| s.name.to_string())
        .collect();
    let program = ws
        .plan
        .agent
        .sandbox
        .command
        .as_deref()
        .and_then(|c| shlex::split(c)?.into_iter().next());
    if let (false, Some(program)) = (commanded.is_empty(), program) {
        let found = program.contains('/') && Path::new(&program).is_file()
            || std::env::var_os("PATH").is_some_and(|path| {
                std::env::split_paths(&path).any(|dir| dir.join(&program).is_file())
            });
        if !found {
            refusals.push(format!(
                "the sandbox of {} cannot start: `{program}`, which `sandbox_command` runs, is not on PATH",
                commanded.join(", ")
            ));
        }
    }
    refusals
}

/// The plan plus what it resolves to for each slice.
fn resolved_json(ws: &Workspace) -> serde_json::Value {
    let repo = crate::domain::plan::repo_name(ws.git.root());
    let slices: Vec<serde_json::Value> = ws
        .plan
        .slices
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "branch": ws.plan.branch_for(&s.name, &repo),
                "worktree": ws.plan.worktree_for(&s.name, ws.git.root()),
                "dbt_target": ws.plan.dbt_target_for(&s.name, &repo),
                "dbt_schema": ws.plan.dbt_schema_for(&s.name, &repo),
                "agent_command": ws.plan.agent_command_for(s),
            })
        })
        .collect();
    serde_json::json!({
        "plan": ws.plan,
        "merge_order": order(&ws.plan),
        "resolved": slices,
    })
}

fn order(plan: &Plan) -> Vec<SliceName> {
    let graph: Vec<(&SliceName, &[SliceName])> = plan
        .workers()
        .map(|s| (&s.name, s.after.as_slice()))
        .collect();
    merge_order(&graph)
}

/// The resolved plan for a person: its settings, then its slices in
/// merge order.
fn describe(ws: &Workspace) -> String {
    let plan = &ws.plan;
    let repo = crate::domain::plan::repo_name(ws.git.root());
    let mut out = String::new();
    let _ = writeln!(out, "{} is valid.", ws.plan_path().display());
    let base_tip = ws
        .git
        .branch_tip(&plan.base)
        .ok()
        .flatten()
        .map(|t| format!(" ({})", crate::domain::short_commit(&t.to_string())))
        .unwrap_or_default();
    let _ = writeln!(out, "  base          {}{base_tip}", plan.base);
    let integration_note = if plan.integration == plan.base {
        " (the base)"
    } else if ws.git.branch_exists(&plan.integration) {
        ""
    } else {
        " (created by `sliceboard up`)"
    };
    let _ = writeln!(
        out,
        "  integration   {}{integration_note}",
        plan.integration
    );
    let _ = writeln!(out, "  worktrees     {}", plan.worktrees);
    let _ = writeln!(out, "  branches      {}", plan.branch);
    let _ = writeln!(out, "  max running   {}", plan.max_running);
    let _ = writeln!(out, "  agent         {}", plan.agent.command);
    if let Some(resume) = &plan.agent.resume {
        let _ = writeln!(out, "  resume with   {resume}");
    }
    let _ = writeln!(
        out,
        "  dbt           project {}, target {}, schema {}",
        plan.dbt.project_dir.display(),
        plan.dbt.target,
        plan.dbt.schema
    );
    let _ = writeln!(
        out,
        "  merge check   {}",
        plan.merge.check.as_deref().unwrap_or("(none)")
    );
    let sandbox = &plan.agent.sandbox;
    let boxes: std::collections::BTreeSet<String> = plan
        .slices
        .iter()
        .map(|s| plan.box_for(s).describe())
        .collect();
    if boxes.len() > 1 || sandbox.kind != crate::domain::sandbox::SandboxKind::None {
        let _ = writeln!(
            out,
            "  sandbox       {}{}",
            crate::domain::sandbox::SliceBox {
                kind: sandbox.kind,
                network: sandbox.network
            }
            .describe(),
            if boxes.len() > 1 {
                " (some slices set their own)"
            } else {
                ""
            }
        );
        if let Some(command) = &sandbox.command {
            let _ = writeln!(out, "  sandbox with  {command}");
        }
        for (what, list) in [
            ("writable", &sandbox.writable),
            ("hidden", &sandbox.hidden),
            ("passes", &sandbox.pass_env),
        ] {
            if !list.is_empty() {
                let _ = writeln!(out, "  {what:<13} {}", list.join(", "));
            }
        }
    }
    if !plan.ports.is_empty() {
        let _ = writeln!(
            out,
            "  ports         {} (one each per slice, as SLICEBOARD_PORT_<NAME>)",
            plan.ports.join(", ")
        );
    }
    for command in &plan.teardown {
        let _ = writeln!(out, "  teardown      {command}");
    }
    if let Some(planner) = plan.planner() {
        let _ = writeln!(
            out,
            "  planner       {} (in the main worktree; owns {}; `sliceboard review` sends it the result)",
            plan.agent_command_for(planner),
            planner.owns.join(", ")
        );
    }
    describe_slices(&mut out, ws, &repo);
    out
}

/// Each slice in merge order: its branch, worktree, variant family, owned
/// paths, dbt target, `after` and agent.
fn describe_slices(out: &mut String, ws: &Workspace, repo: &str) {
    let plan = &ws.plan;
    let _ = writeln!(out, "\n{} slices, in merge order:", plan.workers().count());
    let width = plan
        .slices
        .iter()
        .map(|s| s.name.as_str().len())
        .max()
        .unwrap_or(0);
    for (i, name) in order(plan).iter().enumerate() {
        let Some(slice) = plan.slice(name.as_str()) else {
            continue;
        };
        let pad = " ".repeat(width + 8);
        let _ = writeln!(
            out,
            "  {:>2}. {:<width$}  branch {}, worktree {}",
            i + 1,
            name.as_str(),
            plan.branch_for(name, repo),
            plan.worktree_for(name, ws.git.root()).display()
        );
        if let Some(family) = &slice.variant_of {
            let first = slice.prompt.lines().next().unwrap_or("");
            let _ = writeln!(
                out,
                "{pad}variant of {family} (pick one with `sliceboard pick`){}",
                if first.is_empty() {
                    String::new()
                } else {
                    format!("; prompt: {first}")
                }
            );
        }
        let _ = writeln!(out, "{pad}owns {}", slice.owns.join(", "));
        let _ = writeln!(
            out,
            "{pad}dbt target {}, schema {}",
            plan.dbt_target_for(name, repo),
            plan.dbt_schema_for(name, repo)
        );
        if !slice.after.is_empty() {
            let after: Vec<&str> = slice.after.iter().map(SliceName::as_str).collect();
            let _ = writeln!(out, "{pad}after {}", after.join(", "));
        }
        if let Some(agent) = &slice.agent {
            let _ = writeln!(out, "{pad}agent {agent}");
        }
    }
}
