//! Competing variants from the command line: `sliceboard compare SLICE`
//! (each variant's numbers side by side, and the diff between two) and
//! `sliceboard pick VARIANT` (approve it, retire the others, after a
//! confirmation that says what goes).

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use jiff::Timestamp;
use serde::Serialize;

use crate::domain::board::{duration_text, status_text};
use crate::domain::{AgentStatus, Command, Event, SliceName};
use crate::workspace::{self, SliceStatus, Workspace};

/// One variant's numbers.
#[derive(Debug, Serialize)]
struct VariantRow {
    name: SliceName,
    state: String,
    /// The prompt's first line, or the agent command when that is what
    /// differs.
    differs_by: String,
    files_changed: Option<usize>,
    added: Option<usize>,
    removed: Option<usize>,
    commits: Option<usize>,
    dbt: Option<String>,
    /// From the agent's first start to its last end (or now, if it runs).
    agent_seconds: Option<i64>,
    agent: Option<String>,
    flags: usize,
    /// What its agents used and cost (`estimated` from the price table).
    usage: Option<crate::domain::usage::SliceUsage>,
}

/// `sliceboard compare SLICE [--diff A B] [--json]`.
pub fn compare(
    ws: &Workspace,
    family: &str,
    diff: Option<&[String]>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let family = family_name(ws, family)?;
    let variants: Vec<SliceName> = ws
        .plan
        .variants_of(&family)
        .into_iter()
        .map(|s| s.name.clone())
        .collect();
    if let Some([a, b]) = diff {
        return diff_between(ws, &variants, a, b);
    }
    let report = workspace::status(ws)?;
    let times = agent_times(ws);
    let rows: Vec<VariantRow> = variants
        .iter()
        .filter_map(|name| report.slices.iter().find(|s| &s.name == name))
        .map(|status| row(ws, status, times.get(&status.name)))
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let header = [
        "VARIANT",
        "STATE",
        "DIFF",
        "COMMITS",
        "DBT",
        "AGENT",
        "TIME",
        "COST",
        "FLAGS",
        "DIFFERS BY",
    ]
    .map(str::to_owned);
    let cells: Vec<[String; 10]> = rows
        .iter()
        .map(|r| {
            [
                r.name.to_string(),
                r.state.clone(),
                match (r.files_changed, r.added, r.removed) {
                    (Some(files), Some(added), Some(removed)) => format!(
                        "{files} file{} +{added} -{removed}",
                        if files == 1 { "" } else { "s" }
                    ),
                    _ => "-".into(),
                },
                r.commits.map_or("-".into(), |c| c.to_string()),
                r.dbt.clone().unwrap_or_else(|| "-".into()),
                r.agent.clone().unwrap_or_else(|| "-".into()),
                r.agent_seconds.map_or("-".into(), duration_text),
                r.usage
                    .as_ref()
                    .map(|u| u.short())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "-".into()),
                r.flags.to_string(),
                r.differs_by.clone(),
            ]
        })
        .collect();
    super::table::print_table(&header, &cells);
    println!(
        "\n`sliceboard compare {family} --diff A B` shows how two variants differ; `sliceboard pick VARIANT` approves one and retires the others"
    );
    Ok(ExitCode::SUCCESS)
}

/// `sliceboard pick VARIANT [--force] [--yes]`.
pub fn pick(ws: &Workspace, variant: &str, force: bool, yes: bool) -> anyhow::Result<ExitCode> {
    let spec = ws.slice(variant)?;
    let Some(family) = spec.variant_of.clone() else {
        bail!(
            "{variant} is not a variant: only slices with `variants` in the plan are picked; approve it with `sliceboard approve {variant}`"
        );
    };
    let picked = spec.name.clone();
    let report = workspace::status(ws)?;
    let others: Vec<&SliceStatus> = ws
        .plan
        .variants_of(&family)
        .into_iter()
        .filter(|s| s.name != picked)
        .filter_map(|s| report.slices.iter().find(|r| r.name == s.name))
        .filter(|r| r.state != crate::domain::Lifecycle::Retired)
        .collect();
    if !yes {
        println!("picking {picked} approves it and retires:");
        for other in &others {
            let dirt = match (other.changed_files, other.untracked_files) {
                (Some(0), Some(0)) | (None, None) => String::new(),
                (changed, untracked) => format!(
                    "; {} changed and {} untracked files not committed are lost",
                    changed.unwrap_or(0),
                    untracked.unwrap_or(0)
                ),
            };
            println!(
                "  {}: agent stopped, worktree {} removed, branch {} kept as {}{}{dirt}",
                other.name,
                other.worktree.display(),
                other.branch,
                crate::merge_queue::RETIRED_PREFIX,
                other.name
            );
        }
        if !std::io::stdin().is_terminal() {
            bail!(
                "not a terminal to confirm on: pass --yes to pick {picked} and retire the others"
            );
        }
        print!("go on? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("nothing changed");
            return Ok(ExitCode::FAILURE);
        }
    }
    super::queue_cmds::run(
        ws,
        Command::Pick {
            slice: picked,
            force,
        },
    )
}

/// The slice with variants that `name` names (or a variant of it).
fn family_name(ws: &Workspace, name: &str) -> anyhow::Result<SliceName> {
    if let Some(spec) = ws.plan.slice(name) {
        return spec.variant_of.clone().with_context(|| {
            format!("{name} has no variants: give it `variants = N` in the plan to compare competing attempts")
        });
    }
    let family = SliceName::parse(name).map_err(|e| anyhow::anyhow!("{name}: the name {e}"))?;
    if ws.plan.variants_of(&family).is_empty() {
        bail!("no slice named {name} has variants in the plan");
    }
    Ok(family)
}

fn row(ws: &Workspace, status: &SliceStatus, times: Option<&AgentTimes>) -> VariantRow {
    let spec = ws.plan.slice(status.name.as_str());
    let differs_by = match spec {
        Some(spec) => differences(ws, spec),
        None => String::new(),
    };
    let dbt = status.dbt.as_ref().map(|d| {
        format!(
            "{} {} ({} passed, {} failed)",
            d.command.as_deref().unwrap_or("dbt"),
            d.status.as_str(),
            d.counts.passed,
            d.counts.failed
        )
    });
    let agent = status
        .agent
        .as_ref()
        .map(|a| status_text(a.status))
        .or_else(|| times.and_then(|t| t.last.map(status_text)));
    let agent_seconds = times.map(|t| {
        let end = t.ended.unwrap_or_else(Timestamp::now);
        end.as_second() - t.started.as_second()
    });
    VariantRow {
        name: status.name.clone(),
        state: status.state.to_string(),
        differs_by,
        files_changed: status.diff.as_ref().map(|d| d.files_changed),
        added: status.diff.as_ref().map(|d| d.added),
        removed: status.diff.as_ref().map(|d| d.removed),
        commits: status.ahead,
        dbt,
        agent_seconds,
        agent,
        flags: status.flags.len(),
        usage: crate::agents::usage::usage_now(ws, &status.name, &status.worktree),
    }
}

/// What sets this variant apart from its siblings: its agent command when
/// the variants' commands differ, its prompt's first line when theirs do.
fn differences(ws: &Workspace, spec: &crate::domain::plan::SliceSpec) -> String {
    let Some(family) = &spec.variant_of else {
        return String::new();
    };
    let siblings = ws.plan.variants_of(family);
    let agent = |s: &crate::domain::plan::SliceSpec| {
        s.agent
            .clone()
            .unwrap_or_else(|| ws.plan.agent.command.clone())
    };
    let mut said = Vec::new();
    if siblings.iter().any(|s| agent(s) != agent(spec)) {
        said.push(format!("agent `{}`", clip(&agent(spec), 40)));
    }
    if siblings.iter().any(|s| s.prompt != spec.prompt) {
        let first = spec.prompt.lines().next().unwrap_or("");
        said.push(format!("prompt \"{}\"", clip(first, 40)));
    }
    said.join("; ")
}

/// At most `chars` characters, with an ellipsis when cut.
fn clip(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(chars - 1).collect();
    format!("{cut}…")
}

/// When each slice's agent first started, and when it last ended.
struct AgentTimes {
    started: Timestamp,
    ended: Option<Timestamp>,
    last: Option<AgentStatus>,
}

fn agent_times(ws: &Workspace) -> BTreeMap<SliceName, AgentTimes> {
    let mut times: BTreeMap<SliceName, AgentTimes> = BTreeMap::new();
    let Ok(read) = ws.state_dir.journal().read() else {
        return times;
    };
    for entry in read.entries {
        let Event::AgentStatusChanged { slice, status } = entry.event else {
            continue;
        };
        let running = matches!(status, AgentStatus::Running | AgentStatus::Paused);
        let times = times.entry(slice).or_insert(AgentTimes {
            started: entry.at,
            ended: None,
            last: None,
        });
        times.ended = (!running).then_some(entry.at);
        times.last = Some(status);
    }
    times
}

/// `git diff A B`: what one variant's branch has that the other's lacks.
fn diff_between(
    ws: &Workspace,
    variants: &[SliceName],
    a: &str,
    b: &str,
) -> anyhow::Result<ExitCode> {
    let state = crate::store::load_state(&ws.state_dir.state_file())?;
    let branch = |name: &str| -> anyhow::Result<String> {
        let slice = variants
            .iter()
            .find(|v| v.as_str() == name)
            .with_context(|| format!("{name} is not one of the variants ({})", join(variants)))?;
        state
            .slices
            .get(slice)
            .map(|r| r.branch.clone())
            .with_context(|| format!("{name} has no branch yet; run `sliceboard up`"))
    };
    let (from, to) = (branch(a)?, branch(b)?);
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(ws.git.root())
        .args(["diff", "--stat", "--patch", &from, &to, "--"])
        .status()
        .context("cannot run git")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn join(names: &[SliceName]) -> String {
    names
        .iter()
        .map(SliceName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}
