//! `up`, `down` and `env`: the commands that act on slices' worktrees.

use std::process::ExitCode;

use anyhow::Context as _;

use super::print_progress;
use crate::workspace::{self, Workspace};

pub fn up(ws: &Workspace, slices: &[String]) -> anyhow::Result<ExitCode> {
    let lock = ws.lock("sliceboard up")?;
    let report = workspace::up(ws, &lock, slices, &mut print_progress)?;
    for (slice, drift) in &report.drift {
        eprintln!("found: {slice}: {}", drift.describe(slice));
    }
    if !report.pruned.is_empty() {
        eprintln!(
            "pruned stale worktree records: {}",
            report.pruned.join(", ")
        );
    }
    if let Some(branch) = &report.created_integration {
        eprintln!("created integration branch {branch} from {}", ws.plan.base);
    }
    let created = report.created.len() + report.reused_branch.len();
    println!(
        "{created} worktree{} created ({} on new branches, {} on existing branches), {} already there{}",
        if created == 1 { "" } else { "s" },
        report.created.len(),
        report.reused_branch.len(),
        report.already_there.len(),
        match report.failed.len() {
            0 => String::new(),
            n => format!(", {n} failed"),
        }
    );
    if report.failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for (slice, why) in &report.failed {
            eprintln!("error: {slice}: {why}");
        }
        Ok(ExitCode::FAILURE)
    }
}

pub fn down(ws: &Workspace, slice: &str, force: bool) -> anyhow::Result<ExitCode> {
    let lock = ws.lock("sliceboard down")?;
    let report = workspace::down(ws, &lock, slice, force, &mut print_progress)?;
    if report.removed_folder {
        println!(
            "removed worktree {}; branch {} is kept",
            report.path.display(),
            report.branch
        );
    } else {
        println!(
            "worktree {} was already gone; cleared its records (branch {} is kept)",
            report.path.display(),
            report.branch
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn env(ws: &Workspace, slice: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    let name = match slice {
        Some(name) => name,
        None => std::env::var("SLICEBOARD_SLICE")
            .context("name a slice, or run inside a slice's agent where SLICEBOARD_SLICE is set")?,
    };
    let spec = ws.slice(&name)?;
    let env = ws.env(spec)?;
    if json {
        let map: serde_json::Map<String, serde_json::Value> = env
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        println!("{}", serde_json::to_string_pretty(&map)?);
    } else {
        for (key, value) in env {
            let quoted = shlex::try_quote(&value)
                .with_context(|| format!("{key} holds a NUL byte and cannot be exported"))?;
            println!("export {key}={quoted}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
