//! A worktree's setup: the plan's `[worktree] setup` commands (`dbt deps`,
//! `dbt seed`, copying an `.env`), run in order through the shell in the
//! slice's worktree with the slice's environment, after `up` creates the
//! worktree and again on demand. Output goes to the slice's `setup.log`
//! (the dashboard's Logs tab follows it); where it stands goes to
//! `setup.json` beside it, which the supervisor reads before starting the
//! agent. Neither is in `state.json`, so a long setup holds no lock.

use std::path::Path;
use std::process::{Command, Stdio};

use jiff::Timestamp;

use super::{Workspace, WorkspaceError};
use crate::domain::SliceName;
use crate::domain::setup::{SetupState, SetupStatus};
use crate::os::process_group;
use crate::store::{load_state, write_atomic};

/// Where the slice's setup stands, if it ever ran. A `running` one whose
/// runner is gone reads as failed.
pub fn setup_state(ws: &Workspace, slice: &SliceName) -> Option<SetupState> {
    let text = std::fs::read(ws.state_dir.setup_file(slice)).ok()?;
    let mut state: SetupState = serde_json::from_slice(&text).ok()?;
    if state.status == SetupStatus::Running
        && state
            .pid
            .is_none_or(|pid| !Path::new(&format!("/proc/{pid}")).exists())
    {
        state.status = SetupStatus::Failed;
        state.code = None;
    }
    Some(state)
}

/// An I/O error about the slice's setup, saying what was being done.
fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> WorkspaceError {
    let what = what.into();
    move |source| WorkspaceError::Io { what, source }
}

fn record(ws: &Workspace, slice: &SliceName, state: &SetupState) -> Result<(), WorkspaceError> {
    crate::os::private::create_dir(&ws.state_dir.slice_dir(slice)).map_err(io(format!(
        "cannot create {} state folder",
        crate::domain::possessive(slice)
    )))?;
    let json = serde_json::to_vec_pretty(state).unwrap_or_default();
    write_atomic(&ws.state_dir.setup_file(slice), &json)?;
    Ok(())
}

/// Marks the slice's setup as skipped: its agent may start.
pub fn skip_setup(ws: &Workspace, slice: &SliceName) -> Result<SetupState, WorkspaceError> {
    let state = SetupState {
        status: SetupStatus::Skipped,
        command: None,
        code: None,
        at: Timestamp::now().to_string(),
        pid: None,
    };
    record(ws, slice, &state)?;
    Ok(state)
}

/// Runs the plan's setup in the slice's worktree; `progress` hears each
/// command as it starts. Refused when the plan has none, the slice has no
/// worktree, or a setup of it is already running.
pub fn run_setup(
    ws: &Workspace,
    slice: &SliceName,
    progress: &mut dyn FnMut(&str),
) -> Result<SetupState, WorkspaceError> {
    if ws.plan.setup.is_empty() {
        return Err(WorkspaceError::Refused(format!(
            "the plan has no setup: add `[worktree] setup = [\"dbt deps\"]` to {}",
            ws.plan_path().display()
        )));
    }
    let spec = ws.slice(slice.as_str())?.clone();
    let state = load_state(&ws.state_dir.state_file())?;
    let worktree = state
        .slices
        .get(slice)
        .filter(|r| r.lifecycle.has_worktree() && r.worktree.is_dir())
        .map(|r| r.worktree.clone())
        .ok_or_else(|| {
            WorkspaceError::Refused(format!(
                "{slice} has no worktree yet: run `sliceboard up {slice}` (it runs the setup)"
            ))
        })?;
    if setup_state(ws, slice).is_some_and(|s| s.status == SetupStatus::Running) {
        return Err(WorkspaceError::Refused(format!(
            "{} setup is already running",
            crate::domain::possessive(slice)
        )));
    }
    let env = ws.env(&spec)?;
    let log_path = ws.state_dir.setup_log(slice);
    crate::os::private::create_dir(&ws.state_dir.slice_dir(slice)).map_err(io(format!(
        "cannot create {} state folder",
        crate::domain::possessive(slice)
    )))?;
    let mut log = crate::os::private::create(&log_path)
        .map_err(io(format!("cannot write {}", log_path.display())))?;
    let log_error = || io(format!("cannot write {}", log_path.display()));
    // With deferral, the slice's database is the published integration
    // build again when a newer one was published: seeds and upstream
    // models included, no `dbt seed`.
    match ws.seed_dbt_db(slice.as_str(), false) {
        Ok(Some(db)) => {
            use std::io::Write as _;
            writeln!(
                log,
                "# dbt database {}: a copy of the published integration build",
                db.display()
            )
            .map_err(log_error())?;
        }
        Ok(None) => {}
        Err(err) => {
            return Err(io(format!(
                "cannot copy the published dbt database for {slice}"
            ))(err));
        }
    }
    let ports = ws.ports_of(slice);
    for command in &ws.plan.setup {
        let command = &crate::domain::template::fill_ports(command, &ports);
        record(
            ws,
            slice,
            &SetupState {
                status: SetupStatus::Running,
                command: Some(command.clone()),
                code: None,
                at: Timestamp::now().to_string(),
                pid: Some(std::process::id()),
            },
        )?;
        // Told once the state says it runs, so a reader woken by it sees so.
        progress(command);
        use std::io::Write as _;
        writeln!(log, "$ {command}").map_err(log_error())?;
        let status = process_group::status(
            Command::new("sh")
                .args(["-c", command])
                .current_dir(&worktree)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(log.try_clone().map_err(log_error())?)
                .stderr(log.try_clone().map_err(log_error())?),
        )
        .map_err(io(format!(
            "cannot run `{command}` in {}",
            worktree.display()
        )))?;
        if !status.success() {
            let state = SetupState {
                status: SetupStatus::Failed,
                command: Some(command.clone()),
                code: status.code(),
                at: Timestamp::now().to_string(),
                pid: None,
            };
            writeln!(log, "{}", state.describe()).map_err(log_error())?;
            record(ws, slice, &state)?;
            return Ok(state);
        }
    }
    let state = SetupState {
        status: SetupStatus::Passed,
        command: None,
        code: None,
        at: Timestamp::now().to_string(),
        pid: None,
    };
    {
        use std::io::Write as _;
        writeln!(log, "{}", state.describe()).map_err(log_error())?;
    }
    record(ws, slice, &state)?;
    Ok(state)
}

/// How a setup run through [`setup_journaled`] ended.
#[derive(Debug)]
pub struct SetupOutcome {
    /// One line for the operator.
    pub line: String,
    /// Whether the agent may start.
    pub passed: bool,
    /// What was journaled (nothing when the setup could not run).
    pub event: Option<crate::domain::Event>,
}

/// Runs (or, with `skip`, skips) the slice's setup and journals how it
/// ended; `progress` as in [`run_setup`].
pub fn setup_journaled(
    ws: &Workspace,
    slice: &SliceName,
    skip: bool,
    progress: &mut dyn FnMut(&str),
) -> SetupOutcome {
    let result = if skip {
        skip_setup(ws, slice)
    } else {
        run_setup(ws, slice, progress)
    };
    match result {
        Ok(state) => {
            let passed = state.status != SetupStatus::Failed;
            let line = format!("{slice}: {}", state.describe());
            let event = crate::domain::Event::SetupFinished {
                slice: slice.clone(),
                state,
            };
            let journaled = ws
                .state_dir
                .journal()
                .record(crate::store::Actor::Operator, event.clone());
            if let Err(err) = &journaled {
                tracing::warn!(%slice, %err, "setup outcome not journaled");
            }
            SetupOutcome {
                line,
                passed,
                event: journaled.ok().map(|()| event),
            }
        }
        Err(err) => SetupOutcome {
            line: format!("{slice}: setup not run: {err}"),
            passed: false,
            event: None,
        },
    }
}

/// The most lines of a teardown's output its event carries (all of it is
/// in `teardown.log`).
const TEARDOWN_LINES: usize = 200;

/// Runs the plan's `[worktree] teardown` for `slice` in `cwd` (its
/// worktree, or the repository when that is gone) with the slice's
/// environment, each command said before it runs, into the slice's
/// `teardown.log`; the first to fail ends it. `None` when the plan has
/// none.
pub fn run_teardown(ws: &Workspace, slice: &SliceName, cwd: &Path) -> Option<crate::domain::Event> {
    if ws.plan.teardown.is_empty() {
        return None;
    }
    let spec = ws.slice(slice.as_str()).ok()?.clone();
    let env = ws.env(&spec).unwrap_or_default();
    let ports = ws.ports_of(slice);
    let mut lines: Vec<String> = Vec::new();
    let mut failed = None;
    for command in &ws.plan.teardown {
        let command = crate::domain::template::fill_ports(command, &ports);
        lines.push(format!("$ {command}"));
        let output = process_group::output_within(
            Command::new("sh")
                .args(["-c", &format!("exec 2>&1\n{command}")])
                .current_dir(cwd)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null()),
            TEARDOWN_LIMIT,
        );
        match output {
            Ok(output) => {
                lines.extend(
                    String::from_utf8_lossy(&output.stdout)
                        .lines()
                        .map(str::to_owned),
                );
                if !output.status.success() {
                    failed = Some((command, output.status.code()));
                    break;
                }
            }
            Err(err) => {
                lines.push(format!("cannot run it: {err}"));
                failed = Some((command, None));
                break;
            }
        }
    }
    match &failed {
        Some((command, Some(code))) => {
            lines.push(format!("teardown failed: `{command}` exited with {code}"))
        }
        // The line before says why: it could not start, ran past the
        // limit, or a signal ended it.
        Some((command, None)) => lines.push(format!("teardown failed: `{command}` did not finish")),
        None => lines.push("teardown passed".to_owned()),
    }
    let mut text = lines.join("\n");
    text.push('\n');
    if let Err(err) = ws
        .state_dir
        .write_slice_file(slice, "teardown.log", text.as_bytes())
    {
        tracing::warn!(%slice, %err, "teardown.log not written");
    }
    let skip = lines.len().saturating_sub(TEARDOWN_LINES);
    let (failed, code) = failed.map_or((None, None), |(c, code)| (Some(c), code));
    Some(crate::domain::Event::TeardownRan {
        slice: slice.clone(),
        passed: failed.is_none(),
        failed,
        code,
        lines: lines.split_off(skip),
    })
}

/// How long one teardown command may take before it is killed: `down`
/// waits for it.
const TEARDOWN_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);
