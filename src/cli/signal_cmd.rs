//! `sliceboard signal` and `sliceboard hook`: an agent (or its hooks)
//! reports its activity to the supervisor over its socket.
//!
//! Needs no plan and takes no lock, so it is quick and works from any
//! worktree of the repository; inside an agent, `SLICEBOARD_SOCKET` names
//! the socket, so not even the repository is looked up. A hook must never
//! break the agent: when no supervisor runs, it says so on stderr and
//! exits 0, and `hook` always exits 0 and never prints to stdout (Claude
//! Code adds a hook's stdout to the conversation).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::domain::agent_hooks::{self, AgentKind};
use crate::domain::wire::ClientKind;
use crate::domain::{Activity, Command, SliceName};
use crate::git::GitRepo;
use crate::link::{Link, LinkError};
use crate::store::StateDir;

/// The largest hook event read from stdin; Claude Code's tool events
/// carry the tool's input and output.
const MAX_PAYLOAD: u64 = 16 << 20;

pub fn signal(cwd: &Path, activity: &str, slice: Option<String>) -> anyhow::Result<ExitCode> {
    let activity: Activity = serde_json::from_value(serde_json::Value::String(activity.into()))
        .with_context(|| format!("{activity:?} is not an activity"))?;
    let slice = which_slice(slice)?;
    send(
        cwd,
        Command::Signal {
            slice,
            activity,
            origin: Some("sliceboard signal".into()),
        },
    )
}

/// `sliceboard signal usage`: what the agent used, added to its slice's.
pub fn usage(
    cwd: &Path,
    slice: Option<String>,
    tokens: crate::domain::usage::Tokens,
    usd: Option<f64>,
    model: Option<String>,
) -> anyhow::Result<ExitCode> {
    if usd.is_some_and(|usd| !(usd >= 0.0 && usd.is_finite())) {
        bail!("--cost must be a number of US dollars, zero or more");
    }
    if tokens.total() == 0 && usd.is_none() {
        bail!("say what was used: --input, --output, --cache-write, --cache-read or --cost");
    }
    let slice = which_slice(slice)?;
    send(
        cwd,
        Command::ReportUsage {
            slice,
            tokens,
            model,
            usd,
        },
    )
}

/// Runs as an agent's hook: reads the agent's event (stdin for Claude
/// Code, the argument for Codex) and sends the activity it means.
pub fn hook(cwd: &Path, agent: &str, payload: Option<String>) -> ExitCode {
    let result = (|| {
        let kind = AgentKind::parse(agent)
            .with_context(|| format!("{agent:?} is not an agent sliceboard has hooks for"))?;
        let payload = match payload {
            Some(payload) => payload,
            None if kind == AgentKind::Claude => {
                let mut text = String::new();
                std::io::stdin()
                    .take(MAX_PAYLOAD)
                    .read_to_string(&mut text)
                    .context("cannot read the hook's event on stdin")?;
                text
            }
            None => String::new(),
        };
        let Some(reading) = agent_hooks::read_hook(kind, &payload) else {
            return Ok(ExitCode::SUCCESS);
        };
        let slice = which_slice(None)?;
        send(
            cwd,
            Command::Signal {
                slice,
                activity: reading.activity,
                origin: Some(reading.origin),
            },
        )
    })();
    if let Err(err) = result {
        eprintln!("sliceboard hook: {err:#}");
    }
    ExitCode::SUCCESS
}

fn which_slice(slice: Option<String>) -> anyhow::Result<SliceName> {
    let Some(raw) = slice.or_else(|| std::env::var("SLICEBOARD_SLICE").ok()) else {
        bail!(
            "which slice? pass --slice NAME, or run this from a slice's agent, where SLICEBOARD_SLICE is set"
        );
    };
    SliceName::parse(&raw).map_err(|problem| anyhow::anyhow!("the slice name {raw:?} {problem}"))
}

/// The supervisor's socket: the agent's `SLICEBOARD_SOCKET`, or the one of
/// the repository around `cwd`.
fn socket(cwd: &Path) -> anyhow::Result<PathBuf> {
    if let Some(socket) = std::env::var_os("SLICEBOARD_SOCKET").filter(|s| !s.is_empty()) {
        return Ok(PathBuf::from(socket));
    }
    let git = GitRepo::discover(cwd)?;
    Ok(StateDir::for_common_dir(git.common_dir()).socket_file())
}

fn send(cwd: &Path, command: Command) -> anyhow::Result<ExitCode> {
    let socket = socket(cwd)?;
    let mut link = match Link::connect(&socket, ClientKind::Signal) {
        Ok(link) => link,
        Err(LinkError::NoSupervisor) => {
            eprintln!(
                "sliceboard: no supervisor is running (nothing listens on {}); signal not delivered",
                socket.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        Err(err) => {
            return Err(err)
                .with_context(|| format!("cannot reach the supervisor at {}", socket.display()));
        }
    };
    match link.request(command) {
        Ok(Ok(_)) => Ok(ExitCode::SUCCESS),
        Ok(Err(message)) => bail!("the supervisor refused the signal: {message}"),
        // A busy or stopped supervisor must not fail the agent's hook.
        Err(err) => {
            eprintln!(
                "sliceboard: the supervisor did not take the signal in time ({err}); not delivered"
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
