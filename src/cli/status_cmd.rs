//! `status`: the slices as a table for people, or JSON for scripts.

use crate::domain::short_commit;
use std::process::ExitCode;

use std::collections::BTreeMap;

use crate::domain::board::{AgentReport, LEFT_RUNNING, pending_reason};
use crate::domain::wire::ClientKind;
use crate::domain::{AgentStatus, Command, SliceName};
use crate::link::Link;
use crate::workspace::{self, SliceStatus, Workspace};

pub fn status(ws: &Workspace, json: bool) -> anyhow::Result<ExitCode> {
    let report = match supervisor_status(ws) {
        Some(report) => report,
        None => {
            let mut report = workspace::status(ws)?;
            with_running_state(ws, &mut report.slices);
            // No supervisor: the agents' files, read once.
            for slice in &mut report.slices {
                slice.usage = crate::agents::usage::usage_now(ws, &slice.name, &slice.worktree);
            }
            report.total_usage();
            report
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 10]> = report.slices.iter().map(row).collect();
    let header = [
        "SLICE", "STATE", "AGENT", "BRANCH", "AHEAD", "WORKTREE", "DIFF", "DBT", "COST", "MERGE",
    ]
    .map(str::to_owned);
    super::table::print_table(&header, &rows);
    if let Some(total) = report
        .usage_total
        .as_ref()
        .filter(|t| !t.label().is_empty())
    {
        let estimate = if total.estimated {
            " (~: estimated from list prices; your [prices] go over them)"
        } else {
            ""
        };
        println!(
            "total {} over {} tokens{estimate}",
            total.label(),
            crate::domain::usage::count(total.tokens.total())
        );
    }
    let running: Vec<&SliceName> = report
        .slices
        .iter()
        .filter(|s| !ws.plan.is_planner(&s.name))
        .filter(|s| {
            s.agent
                .as_ref()
                .is_some_and(|a| matches!(a.status, AgentStatus::Running | AgentStatus::Paused))
        })
        .map(|s| &s.name)
        .collect();
    for slice in &report.slices {
        print_box(slice);
    }
    for slice in &report.slices {
        print_notes(ws, slice, &running);
    }
    if report
        .slices
        .iter()
        .all(|s| !s.worktree_exists && !s.state.gone_on_purpose())
    {
        println!("no worktrees yet: run `sliceboard up` to create them");
    }
    Ok(ExitCode::SUCCESS)
}

/// A line for a slice in a sandbox or with ports: what its agent runs in
/// and the ports it holds.
fn print_box(slice: &SliceStatus) {
    let sandbox = slice.sandbox.filter(|b| b.is_sandboxed());
    if sandbox.is_none() && slice.ports.is_empty() {
        return;
    }
    let mut parts = Vec::new();
    if let Some(sandbox) = sandbox {
        parts.push(format!("sandbox {}", sandbox.describe()));
    }
    if !slice.ports.is_empty() {
        parts.push(format!(
            "ports {}",
            crate::domain::board::ports_text(&slice.ports)
        ));
    }
    println!("{}: {}", slice.name, parts.join("; "));
}

/// What only a running supervisor knows: each slice's agent, and the
/// merge queue's view of its approval.
fn with_running_state(ws: &Workspace, slices: &mut [SliceStatus]) {
    if let Some(mut agents) = running_agents(ws) {
        for slice in slices.iter_mut() {
            slice.agent = agents.remove(&slice.name);
        }
    }
    if let Some(queue) = super::queue_cmds::running_queue(ws) {
        for slice in slices.iter_mut() {
            if let Some(view) = queue.slices.get(&slice.name) {
                slice.merge = slice.merge.take().map(|merge| merge.with_queue(view));
            }
        }
    }
}

/// The lines under the table about one slice, each starting `! `: why its
/// agent waits or cannot start, dbt's problems, flags on its files, the
/// merge, its diff, the plan.
fn print_notes(ws: &Workspace, slice: &SliceStatus, running: &[&SliceName]) {
    if slice
        .agent
        .as_ref()
        .is_some_and(|a| a.status == AgentStatus::Pending)
    {
        println!(
            "! {}",
            pending_reason(&slice.name, running, ws.plan.max_running)
        );
    }
    if let Some(left) = slice.agent.as_ref().and_then(|a| a.left_running) {
        println!(
            "! {}: agent group {} was {LEFT_RUNNING} and still runs in the worktree; no agent starts there until `sliceboard kill {}` ends it",
            slice.name, left.pid, slice.name
        );
    }
    if let Some(dbt) = &slice.dbt
        && let Some(message) = &dbt.message
    {
        let mut lines = message.lines().filter(|l| !l.trim().is_empty());
        let first = lines.next().unwrap_or_default().trim();
        let second = lines.next().map(str::trim).unwrap_or_default();
        println!(
            "! {}: dbt {}: {first} {second}",
            slice.name,
            dbt.status.as_str()
        );
    }
    if let Some(setup) = slice
        .setup
        .as_ref()
        .filter(|s| s.status == crate::domain::setup::SetupStatus::Failed)
    {
        println!(
            "! {}: {}; its agent waits: `sliceboard setup {}` again, or `--skip`",
            slice.name,
            setup.describe(),
            slice.name
        );
    }
    if let Some(elsewhere) = slice.dbt.as_ref().and_then(|d| d.elsewhere.as_ref()) {
        println!("! {}: dbt {elsewhere}", slice.name);
    }
    for node in slice.dbt.iter().flat_map(|dbt| &dbt.failed) {
        let first = node
            .message
            .as_deref()
            .and_then(|m| m.lines().next())
            .unwrap_or("failed");
        let whose = node
            .owner
            .as_ref()
            .filter(|o| **o != slice.name)
            .map_or_else(String::new, |o| format!(" (owned by {o})"));
        println!(
            "! {}: dbt {} {}{whose}: {first}",
            slice.name,
            node.kind.as_str(),
            node.name
        );
    }
    for flag in &slice.flags {
        println!("! {}: {}: {}", slice.name, flag.path(), flag.describe());
    }
    if let Some(why) = slice.merge.as_ref().and_then(|m| m.attention.as_ref()) {
        println!("! {}: merge failed: {why}", slice.name);
    }
    if let Some(error) = &slice.diff_error {
        println!("! {}: no diff: {error}", slice.name);
    }
    for problem in &slice.problems {
        println!("! {}: {}", slice.name, problem.message);
    }
    if !slice.in_plan {
        println!(
            "! {}: {}; its worktree and branch stay (`sliceboard down {}` needs it back in the plan to remove them)",
            slice.name,
            crate::domain::board::REMOVED_FROM_PLAN,
            slice.name
        );
    }
}

/// The MERGE column: approval, queue position and state.
fn merge_cell(slice: &SliceStatus) -> String {
    let Some(merge) = &slice.merge else {
        return "-".to_owned();
    };
    if merge.state.as_deref() == Some("merged")
        && let Some(commit) = &merge.merged_commit
    {
        return match merge.new_commits.unwrap_or(0) {
            0 => format!("merged {}", short_commit(commit)),
            n => format!(
                "merged {}, {} since",
                short_commit(commit),
                crate::domain::queue::new_commits_phrase(n)
            ),
        };
    }
    let approved = merge
        .approved_commit
        .as_deref()
        .map_or_else(String::new, |c| format!("approved {}", short_commit(c)));
    let position = merge
        .position
        .map_or_else(String::new, |p| format!(" #{p}"));
    let state = merge
        .detail
        .as_deref()
        .map_or_else(String::new, |d| format!(" {d}"));
    format!("{approved}{position}{state}")
}

/// `status --json` when a supervisor runs for the repository at `cwd`,
/// found from the repository alone (as a dashboard attaches): the report
/// is the supervisor's, from the plan it runs, so the plan is neither
/// loaded nor checked here. False when none runs or it cannot say; the
/// full path then opens the workspace.
pub fn json_from_running(cwd: &std::path::Path) -> bool {
    let Ok(git) = crate::git::GitRepo::discover(cwd) else {
        return false;
    };
    let socket = crate::store::StateDir::for_common_dir(git.common_dir()).socket_file();
    let Some(report) = status_over(&socket) else {
        return false;
    };
    match serde_json::to_string_pretty(&report) {
        Ok(text) => {
            println!("{text}");
            true
        }
        Err(_) => false,
    }
}

/// The status as a running supervisor answers it from its board (one
/// round trip); `None` when none runs, or it cannot say.
fn supervisor_status(ws: &Workspace) -> Option<workspace::StatusReport> {
    status_over(&ws.state_dir.socket_file())
}

fn status_over(socket: &std::path::Path) -> Option<workspace::StatusReport> {
    let mut link = Link::connect(socket, ClientKind::Cli).ok()?;
    let text = link.request(Command::StatusReport).ok()?.ok()?;
    serde_json::from_str(&text).ok()
}

/// Every slice's agent from the running supervisor, if one runs.
fn running_agents(ws: &Workspace) -> Option<BTreeMap<SliceName, AgentReport>> {
    let mut link = Link::connect(&ws.state_dir.socket_file(), ClientKind::Cli).ok()?;
    let text = link.request(Command::AgentsReport).ok()?.ok()?;
    serde_json::from_str(&text).ok()
}

/// The AGENT column: the board's word for the agent, `-` with no supervisor.
fn agent_cell(slice: &SliceStatus) -> String {
    slice
        .agent
        .as_ref()
        .map_or_else(|| "-".to_owned(), AgentReport::word)
}

/// The COST column: money (`~` an estimate) or tokens, the context's
/// fill, and the budget spent.
fn cost_cell(slice: &SliceStatus) -> String {
    let Some(usage) = slice.usage.as_ref().filter(|u| !u.usage.is_empty()) else {
        return "-".to_owned();
    };
    let mut cell = usage.short();
    if let Some(context) = usage.usage.context {
        cell.push_str(&format!(" ctx {}%", context.percent()));
    }
    if let Some(spent) = usage.spent {
        cell.push_str(&format!(" budget {:.0}%", spent * 100.0));
    }
    if usage.stopped {
        cell.push_str(" (paused)");
    }
    cell
}

fn row(slice: &SliceStatus) -> [String; 10] {
    let ahead = match slice.ahead {
        Some(n) => format!("+{n}"),
        None => "-".to_owned(),
    };
    let tree = match (slice.worktree_exists, slice.dirty) {
        (false, _) => "none".to_owned(),
        (true, Some(false)) => "clean".to_owned(),
        (true, Some(true)) => format!(
            "dirty ({} changed, {} untracked)",
            slice.changed_files.unwrap_or(0),
            slice.untracked_files.unwrap_or(0)
        ),
        (true, None) => "not sliceboard's".to_owned(),
    };
    let branch = if slice.branch_exists || slice.state == crate::domain::Lifecycle::Planned {
        slice.branch.clone()
    } else if slice.state.gone_on_purpose() {
        format!("{} (deleted)", slice.branch)
    } else {
        format!("{} (missing)", slice.branch)
    };
    [
        slice.name.to_string(),
        match slice.merge.as_ref().and_then(|m| m.new_commits) {
            Some(n) if slice.state == crate::domain::Lifecycle::Merged => {
                crate::domain::queue::merged_word(n)
            }
            _ => slice.state.to_string(),
        },
        agent_cell(slice),
        branch,
        ahead,
        tree,
        slice.diff.as_ref().map_or_else(
            || "-".to_owned(),
            |d| match d.files_changed {
                0 => "none".to_owned(),
                1 => format!("1 file +{} -{}", d.added, d.removed),
                n => format!("{n} files +{} -{}", d.added, d.removed),
            },
        ),
        slice
            .dbt
            .as_ref()
            .map_or_else(|| "-".to_owned(), |dbt| dbt.describe()),
        cost_cell(slice),
        merge_cell(slice),
    ]
}
