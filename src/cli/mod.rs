//! The command line: parses arguments, opens the workspace, runs one
//! operation and prints its result. Output formatting lives here; the work
//! itself lives in [`crate::workspace`].
//!
//! Results go to stdout, progress and problems to stderr, so
//! `sliceboard status --json | jq` and `eval "$(sliceboard env x)"` stay clean.

mod args;
mod dbt_cmds;
mod plan_cmds;
mod plan_from_dbt;
mod plan_propose;
mod queue_cmds;
mod review_cmds;
mod signal_cmd;
mod slice_cmds;
mod status_cmd;
mod supervisor_cmds;
mod table;
mod variant_cmds;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;

pub use args::{Args, CommandArgs};

use crate::domain::Command;
use crate::workspace::{Progress, Workspace, WorkspaceError};

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    // A shell asking for completions (`COMPLETE=bash sliceboard -- …`)
    // is answered here, before anything else runs.
    clap_complete::CompleteEnv::with_factory(<Args as clap::CommandFactory>::command).complete();
    let args = Args::parse();
    if ends_quietly_on_a_closed_pipe(args.command.as_ref()) {
        // Rust ignores SIGPIPE, so `println!` to a closed pipe panics
        // (`sliceboard status | head -c 10`); a command that prints ends
        // as git does instead: killed by SIGPIPE, silently. Sockets are
        // written with MSG_NOSIGNAL (`link`) and never raise it.
        crate::os::default_sigpipe();
    }
    match run(args) {
        Ok(code) => code,
        Err(err) => {
            report(&err);
            ExitCode::FAILURE
        }
    }
}

/// Every command that prints a result, i.e. all but the long-lived
/// processes (the dashboard, the supervisor, the proxy, the demo), which
/// keep SIGPIPE ignored so a peer that goes away is an error they handle.
fn ends_quietly_on_a_closed_pipe(command: Option<&CommandArgs>) -> bool {
    !matches!(
        command,
        None | Some(
            CommandArgs::Attach { .. }
                | CommandArgs::Supervise
                | CommandArgs::Proxy
                | CommandArgs::Demo { .. }
        )
    )
}

/// The two stages of the command line: the raw arguments resolved (the
/// folder to work in), then one command dispatched to the module doing it.
fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cwd = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let Some(command) = args.command else {
        return supervisor_cmds::attach(&cwd, args.remote.as_deref());
    };
    match command {
        CommandArgs::Init {
            force,
            project_dir,
            base,
        } => plan_cmds::init(&cwd, force, project_dir, base.as_deref()),
        CommandArgs::Check { json } => plan_cmds::check(&cwd, json),
        CommandArgs::Plan {
            from_dbt,
            slices,
            by,
            project_dir,
            explain,
            dry_run,
            json,
            force,
            base,
        } => plan_propose::plan(
            &cwd,
            &plan_propose::PlanOptions {
                source: if from_dbt {
                    plan_propose::Source::Dbt
                } else {
                    plan_propose::Source::Folders
                },
                slices,
                by_dag: by == "dag",
                project_dir,
                explain,
                dry_run,
                json,
                force,
                base,
            },
        ),
        CommandArgs::Up { slices, resume } => {
            let code = up(&cwd, &slices)?;
            if resume && code == ExitCode::SUCCESS {
                queue_cmds::resume(&open(&cwd)?, &slices)
            } else {
                Ok(code)
            }
        }
        CommandArgs::DbtState => dbt_cmds::dbt_state(&open(&cwd)?),
        CommandArgs::Setup { slice, skip } => setup(&cwd, &slice, skip),
        CommandArgs::Down { slice, force } => down(&cwd, &slice, force),
        CommandArgs::Attach { remote } => {
            supervisor_cmds::attach(&cwd, remote.as_deref().or(args.remote.as_deref()))
        }
        CommandArgs::Stop => supervisor_cmds::stop(&cwd),
        CommandArgs::Proxy => supervisor_cmds::proxy(&cwd),
        CommandArgs::Supervise => supervisor_cmds::supervise(&cwd),
        CommandArgs::Env { slice, json } => slice_cmds::env(&open(&cwd)?, slice, json),
        CommandArgs::Path { slice } => slice_cmds::path(&open(&cwd)?, &slice),
        CommandArgs::Shell {
            slice,
            sandbox,
            command,
        } => slice_cmds::shell(&open(&cwd)?, &slice, &command, sandbox),
        CommandArgs::Status { json: true } if status_cmd::json_from_running(&cwd) => {
            Ok(ExitCode::SUCCESS)
        }
        CommandArgs::Status { json } => status_cmd::status(&open_in_force(&cwd)?, json),
        CommandArgs::Signal {
            activity,
            slice,
            input,
            output,
            cache_write,
            cache_read,
            cost,
            model,
        } => {
            if activity == "usage" {
                let tokens = crate::domain::usage::Tokens {
                    input,
                    output,
                    cache_write,
                    cache_read,
                };
                signal_cmd::usage(&cwd, slice, tokens, cost, model)
            } else {
                signal_cmd::signal(&cwd, &activity, slice)
            }
        }
        CommandArgs::Hook { agent, payload } => Ok(signal_cmd::hook(&cwd, &agent, payload)),
        CommandArgs::Approve { slice, force } => {
            for_slice(&cwd, &slice, |slice| Command::Approve { slice, force })
        }
        CommandArgs::Kill { slice } => kill(&cwd, &slice),
        CommandArgs::Withdraw { slice } => {
            for_slice(&cwd, &slice, |slice| Command::WithdrawApproval { slice })
        }
        CommandArgs::RaiseBudget { slice } => {
            for_slice(&cwd, &slice, |slice| Command::RaiseBudget { slice })
        }
        CommandArgs::Queue { hold, release, .. } if hold || release => {
            to_the_queue(&cwd, Command::HoldQueue { held: hold })
        }
        CommandArgs::Queue { json, .. } if queue_cmds::queue_from_running(&cwd, json) => {
            Ok(ExitCode::SUCCESS)
        }
        CommandArgs::Queue { json, .. } => queue_cmds::queue(&open_in_force(&cwd)?, json),
        CommandArgs::Merge {
            slice,
            all,
            dry_run,
        } => queue_cmds::merge(&open(&cwd)?, slice, all, dry_run),
        CommandArgs::Clean { slice, force } => {
            for_slice(&cwd, &slice, |slice| Command::Clean { slice, force })
        }
        CommandArgs::Review => to_the_queue(&cwd, Command::Review),
        CommandArgs::Publish => to_the_queue(&cwd, Command::Publish),
        CommandArgs::Compare { slice, diff, json } => {
            variant_cmds::compare(&open(&cwd)?, &slice, diff.as_deref(), json)
        }
        CommandArgs::Pick {
            variant,
            force,
            yes,
        } => variant_cmds::pick(&open(&cwd)?, &variant, force, yes),
        CommandArgs::Feedback { slice } => {
            for_slice(&cwd, &slice, |slice| Command::SendFeedback { slice })
        }
        CommandArgs::Comment {
            slice,
            at,
            delete,
            edit,
            text,
        } => review_cmds::comment(
            &open(&cwd)?,
            &slice,
            review_cmds::CommentArgs {
                at: at.as_deref(),
                delete,
                edit,
                text: &text.join(" "),
            },
        ),
        CommandArgs::Comments { slice, json } => review_cmds::list(&open(&cwd)?, &slice, json),
        CommandArgs::ReviewSend { slice } => {
            for_slice(&cwd, &slice, |slice| Command::SendReview { slice })
        }
        CommandArgs::Completions { shell } => completions(&shell),
        CommandArgs::Config { example } => config(example),
        CommandArgs::Man => {
            let page = clap_mangen::Man::new(<Args as clap::CommandFactory>::command());
            page.render(&mut std::io::stdout())
                .context("cannot write the man page")?;
            Ok(ExitCode::SUCCESS)
        }
        CommandArgs::Send { slices, text } => {
            queue_cmds::send(&open(&cwd)?, &slices, &text.join(" "))
        }
        CommandArgs::Demo {
            dir,
            slices,
            with_dbt,
            pace,
            no_open,
            autopilot,
        } => demo(dir, slices, with_dbt, pace, no_open, autopilot),
    }
}

/// `up`: through a running supervisor, directly otherwise.
fn up(cwd: &Path, slices: &[String]) -> anyhow::Result<ExitCode> {
    let ws = open(cwd)?;
    let names = slices
        .iter()
        .map(|s| ws.slice(s).map(|spec| spec.name.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    match supervisor_cmds::through_supervisor(&ws, Command::Up { slices: names })? {
        Some(code) => Ok(code),
        None => slice_cmds::up(&ws, slices),
    }
}

/// `setup`: through a running supervisor, directly otherwise.
fn setup(cwd: &Path, slice: &str, skip: bool) -> anyhow::Result<ExitCode> {
    let ws = open(cwd)?;
    let name = ws.slice(slice)?.name.clone();
    let command = Command::Setup {
        slice: name.clone(),
        skip,
    };
    match supervisor_cmds::through_supervisor(&ws, command)? {
        Some(code) => Ok(code),
        None => slice_cmds::setup(&ws, &name, skip),
    }
}

/// `down`: through a running supervisor, directly otherwise.
fn down(cwd: &Path, slice: &str, force: bool) -> anyhow::Result<ExitCode> {
    let ws = open(cwd)?;
    let name = ws.slice(slice)?.name.clone();
    match supervisor_cmds::through_supervisor(&ws, Command::Down { slice: name, force })? {
        Some(code) => Ok(code),
        None => slice_cmds::down(&ws, slice, force),
    }
}

/// `kill`: also for a slice removed from the plan, which may still have
/// its agent.
fn kill(cwd: &Path, slice: &str) -> anyhow::Result<ExitCode> {
    let ws = open(cwd)?;
    let slice = match ws.slice(slice) {
        Ok(spec) => spec.name.clone(),
        Err(unknown) => crate::domain::SliceName::parse(slice).map_err(|_| unknown)?,
    };
    supervisor_cmds::kill(&ws, &slice)
}

/// One of the queue's commands about no slice in particular.
fn to_the_queue(cwd: &Path, command: Command) -> anyhow::Result<ExitCode> {
    let running = queue_cmds::run_on_running(cwd, |_| Some(command.clone()));
    if let Some(done) = running {
        return done;
    }
    queue_cmds::run(&open(cwd)?, command)
}

/// One of the queue's commands about a slice of the plan.
fn for_slice(
    cwd: &Path,
    slice: &str,
    command: impl Fn(crate::domain::SliceName) -> Command,
) -> anyhow::Result<ExitCode> {
    let running = queue_cmds::run_on_running(cwd, |ws| {
        ws.slice(slice).ok().map(|spec| command(spec.name.clone()))
    });
    if let Some(done) = running {
        return done;
    }
    let ws = open(cwd)?;
    let slice = ws.slice(slice)?.name.clone();
    queue_cmds::run(&ws, command(slice))
}

/// `sliceboard config`: the user's settings file, and whether it loads;
/// `--example` a complete one.
fn config(example: bool) -> anyhow::Result<ExitCode> {
    if example {
        print!("{}", crate::ui::keymap::example_config());
        return Ok(ExitCode::SUCCESS);
    }
    let Some(path) = crate::ui::keymap::Keymap::config_path() else {
        anyhow::bail!("no HOME or XDG_CONFIG_HOME: there is no config file to read");
    };
    println!("{}", path.display());
    if !path.exists() {
        println!(
            "not there: the defaults apply (`sliceboard config --example > {}` writes every one)",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    match crate::ui::keymap::Keymap::load(Some(&path)) {
        Ok(_) => {
            println!("loads: its settings apply to every dashboard started from now on");
            Ok(ExitCode::SUCCESS)
        }
        Err(why) => {
            eprintln!("error: {why}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The shell's registration script for completions, which asks this
/// binary (by its path) for every completion, slice names included.
fn completions(shell: &str) -> anyhow::Result<ExitCode> {
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells
        .completer(shell)
        .with_context(|| format!("no completions for the shell {shell}"))?;
    let bin = std::env::current_exe().ok().map_or_else(
        || "sliceboard".to_owned(),
        |p| p.to_string_lossy().into_owned(),
    );
    let mut out = Vec::new();
    completer
        .write_registration("COMPLETE", "sliceboard", "sliceboard", &bin, &mut out)
        .context("cannot write the completion script")?;
    std::io::Write::write_all(&mut std::io::stdout(), &out)?;
    Ok(ExitCode::SUCCESS)
}

/// Opens the workspace and prints the plan's warnings.
fn open(cwd: &Path) -> Result<Workspace, WorkspaceError> {
    let ws = Workspace::open(cwd)?;
    let plan_path = relative_plan_path(&ws);
    for warning in &ws.warnings {
        eprintln!("{}", warning.display(&plan_path));
    }
    for notice in &ws.notices {
        eprintln!("sliceboard: {notice}");
    }
    Ok(ws)
}

/// The state, under the state lock, for a command that works without a
/// supervisor. Another such command holding the lock (a direct
/// `sliceboard up`) is waited for, up to [`crate::store::LOCK_WAIT`],
/// saying so on stderr.
fn lock_waiting(ws: &Workspace, command: &str) -> Result<crate::store::StateStore, WorkspaceError> {
    ws.state_dir.ensure()?;
    let lock = crate::store::StateLock::acquire_waiting(
        &ws.state_dir.lock_file(),
        command,
        crate::store::LOCK_WAIT,
        crate::store::LockHolder::is_brief,
        |holder| {
            eprintln!(
                "waiting for `{}` (pid {}) to finish…",
                holder.command, holder.pid
            );
        },
    )?;
    Ok(crate::store::StateStore::open(&ws.state_dir, lock)?)
}

/// Opens the workspace for a command that must not be locked out by a
/// broken `sliceboard.toml` (attaching, `proxy`, `status`, `queue`): when
/// the file does not load and a supervisor runs, with the plan that
/// supervisor has in force, after printing the file's problems.
fn open_in_force(cwd: &Path) -> anyhow::Result<Workspace> {
    let (ws, problem) = in_force(cwd)?;
    if let Some(problem) = problem {
        eprintln!("{problem}");
    }
    Ok(ws)
}

/// [`open_in_force`], with what it would print instead of printing it.
fn in_force(cwd: &Path) -> anyhow::Result<(Workspace, Option<String>)> {
    let err = match open(cwd) {
        Err(WorkspaceError::Plan(err)) => err,
        other => return Ok((other?, None)),
    };
    let git = crate::git::GitRepo::discover(cwd)?;
    let socket = crate::store::StateDir::for_common_dir(git.common_dir()).socket_file();
    let Ok(mut link) = crate::link::Link::connect(&socket, crate::domain::wire::ClientKind::Cli)
    else {
        return Err(WorkspaceError::Plan(err).into());
    };
    let text = link
        .request(Command::PlanInForce)?
        .map_err(anyhow::Error::msg)
        .context("the running supervisor did not send its plan")?;
    let plan: crate::domain::Plan =
        serde_json::from_str(&text).context("the supervisor sent an unreadable plan")?;
    let problem = format!(
        "{err}\nsliceboard: using the plan the running supervisor (pid {}) has in force until the file loads again",
        link.welcome.pid
    );
    Ok((Workspace::with_plan(cwd, plan)?, Some(problem)))
}

/// The plan's path as the user would type it, relative to where they are.
fn relative_plan_path(ws: &Workspace) -> PathBuf {
    relative_to_cwd(&ws.plan_path())
}

fn relative_to_cwd(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_owned))
        .unwrap_or_else(|| path.to_owned())
}

/// Prints progress of a long operation to stderr.
fn print_progress(progress: Progress) {
    let slice = progress
        .slice
        .as_ref()
        .map(|s| format!("{s}: "))
        .unwrap_or_default();
    eprintln!(
        "[{}/{}] {slice}{}",
        progress.step, progress.total, progress.message
    );
}

/// Prints an error and its causes; a plan's diagnostics print as they are.
fn report(err: &anyhow::Error) {
    let plan = match err.downcast_ref::<WorkspaceError>() {
        Some(WorkspaceError::Plan(plan)) => Some(plan),
        _ => err.downcast_ref::<crate::plan_file::PlanError>(),
    };
    if let Some(plan) = plan {
        let mut plan = plan.clone();
        plan.file = relative_to_cwd(&plan.file);
        eprintln!("{plan}");
        return;
    }
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

/// `sliceboard demo`: build the sample, create its worktrees, open it.
fn demo(
    dir: Option<PathBuf>,
    slices: usize,
    with_dbt: bool,
    pace: f32,
    no_open: bool,
    autopilot: bool,
) -> anyhow::Result<ExitCode> {
    let dir = dir.unwrap_or_else(|| {
        let stamp = jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S");
        std::env::temp_dir().join(format!("sliceboard-demo-{stamp}"))
    });
    let dbt = if with_dbt {
        Some(crate::demo::install_dbt()?)
    } else {
        None
    };
    let options = crate::demo::DemoOptions {
        dir: dir.clone(),
        slices,
        dbt,
        pace,
        autopilot,
    };
    let repo = crate::demo::create(&options)?;
    eprintln!("demo repository: {}", repo.display());
    let ws = open(&repo)?;
    {
        let state = lock_waiting(&ws, "sliceboard demo")?;
        let report = crate::workspace::up(&ws, &state, &[], &mut print_progress)?;
        if let Some((slice, why)) = report.failed.first() {
            anyhow::bail!("could not create the worktree of {slice}: {why}");
        }
    }
    // The walkthrough beside the board, ticked as it is done (`G`).
    let guide = crate::demo::guide(slices, with_dbt, autopilot);
    crate::store::write_atomic(&ws.state_dir.guide_file(), &serde_json::to_vec(&guide)?)
        .with_context(|| format!("cannot write {}", ws.state_dir.guide_file().display()))?;
    if no_open {
        println!("{}", repo.display());
        eprintln!(
            "open the dashboard with: cd {} && {}",
            repo.display(),
            std::env::current_exe()?.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    use std::io::IsTerminal as _;
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the dashboard needs a terminal; the demo is ready in {}",
            repo.display()
        );
    }
    eprintln!("opening the dashboard: press s on a slice to start its agent, ? for keys");
    drop(ws);
    supervisor_cmds::attach(&repo, None)
}
