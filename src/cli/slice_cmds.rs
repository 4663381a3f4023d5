//! `up`, `down` and `env`: the commands that act on slices' worktrees.

use std::process::ExitCode;

use anyhow::Context as _;

use super::print_progress;
use crate::domain::SliceName;
use crate::workspace::{self, Workspace};

pub fn up(ws: &Workspace, slices: &[String]) -> anyhow::Result<ExitCode> {
    let state = super::lock_waiting(ws, "sliceboard up")?;
    let report = workspace::up(ws, &state, slices, &mut print_progress)?;
    for note in report.notes(&ws.plan.base) {
        eprintln!("{note}");
    }
    println!("{}", report.summary());
    // New worktrees get the plan's setup.
    let mut setup_failed = false;
    if !ws.plan.setup.is_empty() {
        for slice in report.created.iter().chain(&report.reused_branch) {
            eprintln!("{slice}: setup ({} commands)…", ws.plan.setup.len());
            let passed = setup_and_say(ws, slice, false);
            setup_failed |= !passed;
        }
    }
    if setup_failed {
        return Ok(ExitCode::FAILURE);
    }
    if report.failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for failure in report.failures() {
            eprintln!("{failure}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// `sliceboard setup SLICE [--skip]` with no supervisor running.
pub fn setup(ws: &Workspace, slice: &SliceName, skip: bool) -> anyhow::Result<ExitCode> {
    let passed = setup_and_say(ws, slice, skip);
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs (or skips) the slice's setup and says how it ended: on stdout
/// when it passed, on stderr with where its output is when it failed.
fn setup_and_say(ws: &Workspace, slice: &SliceName, skip: bool) -> bool {
    let setup = workspace::setup_journaled(ws, slice, skip, &mut |_| {});
    if setup.passed {
        println!("{}", setup.line);
    } else {
        eprintln!(
            "{} (output: {})",
            setup.line,
            ws.state_dir.setup_log(slice).display()
        );
    }
    setup.passed
}

pub fn down(ws: &Workspace, slice: &str, force: bool) -> anyhow::Result<ExitCode> {
    let state = super::lock_waiting(ws, "sliceboard down")?;
    let report = workspace::down(ws, &state, slice, force, &mut print_progress)?;
    println!("{}", report.describe());
    Ok(ExitCode::SUCCESS)
}

/// The worktree of `slice`, which must exist.
fn existing_worktree(ws: &Workspace, slice: &str) -> anyhow::Result<std::path::PathBuf> {
    let spec = ws.slice(slice)?;
    let worktree = ws.plan.worktree_for(&spec.name, ws.git.root());
    if !worktree.is_dir() {
        anyhow::bail!(
            "{slice} has no worktree yet at {}; run `sliceboard up {slice}`",
            worktree.display()
        );
    }
    Ok(worktree)
}

/// `sliceboard path SLICE`.
pub fn path(ws: &Workspace, slice: &str) -> anyhow::Result<ExitCode> {
    println!("{}", existing_worktree(ws, slice)?.display());
    Ok(ExitCode::SUCCESS)
}

/// `sliceboard shell SLICE [-- COMMAND…]`: replaces this process with the
/// user's shell (or the command) in the worktree, the slice's environment
/// added.
pub fn shell(
    ws: &Workspace,
    slice: &str,
    command: &[String],
    sandbox: bool,
) -> anyhow::Result<ExitCode> {
    use std::os::unix::process::CommandExt as _;
    let worktree = existing_worktree(ws, slice)?;
    let spec = ws.slice(slice)?;
    let mut env = ws.env(spec)?;
    if sandbox {
        let ports = ws.ports_of(&spec.name);
        let line = match command {
            [] => "exec \"${SHELL:-/bin/sh}\"".to_owned(),
            words => shlex::try_join(words.iter().map(String::as_str))
                .context("the command holds a NUL byte")?,
        };
        let line = crate::domain::template::fill_ports(&line, &ports);
        env.push((
            "SLICEBOARD_SOCKET".into(),
            ws.state_dir.socket_file().to_string_lossy().into_owned(),
        ));
        let state = crate::store::load_state(&ws.state_dir.state_file())?;
        let (program, args, base_env) = match ws.boxed(spec, &worktree, &env, &line, &state)? {
            workspace::Boxed::Plain => anyhow::bail!(
                "{slice} has no sandbox: its agent runs as you do (`[agent] sandbox` in the plan; docs/sandbox.md)"
            ),
            workspace::Boxed::Wrapped(wrapper) => {
                let mut argv = wrapper.argv;
                argv.extend(["/bin/sh".to_owned(), "-c".to_owned(), line]);
                let program = argv.remove(0);
                (program, argv, wrapper.base_env)
            }
            workspace::Boxed::Command(filled) => {
                ("/bin/sh".to_owned(), vec!["-c".to_owned(), filled], None)
            }
        };
        if command.is_empty() {
            eprintln!(
                "a shell in {slice}'s sandbox ({}), as its agent sees it; exit to come back",
                worktree.display()
            );
        }
        let mut run = std::process::Command::new(&program);
        if let Some(base) = base_env {
            run.env_clear().envs(base);
        }
        let err = run.args(&args).current_dir(&worktree).envs(env).exec();
        return Err(anyhow::Error::new(err).context(format!("cannot run {program}")));
    }
    let (program, args) = match command.split_first() {
        Some((program, args)) => (program.clone(), args.to_vec()),
        None => {
            eprintln!(
                "a shell in {slice}'s worktree ({}), with its environment; exit to come back",
                worktree.display()
            );
            let shell = std::env::var("SHELL")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/bin/sh".into());
            (shell, Vec::new())
        }
    };
    let err = std::process::Command::new(&program)
        .args(&args)
        .current_dir(&worktree)
        .envs(env)
        .exec();
    Err(anyhow::Error::new(err).context(format!("cannot run {program}")))
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
