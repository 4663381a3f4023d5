//! `sliceboard signal`: an agent's hook reports its activity to the
//! supervisor over its socket.
//!
//! Needs no plan and takes no lock, so it is quick and works from any
//! worktree of the repository. A hook must never break the agent: when no
//! supervisor runs, it says so on stderr and exits 0.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::domain::wire::ClientKind;
use crate::domain::{Activity, Command, SliceName};
use crate::git::GitRepo;
use crate::link::{Link, LinkError};
use crate::store::StateDir;

pub fn signal(cwd: &Path, activity: &str, slice: Option<String>) -> anyhow::Result<ExitCode> {
    let activity: Activity = serde_json::from_value(serde_json::Value::String(activity.into()))
        .with_context(|| format!("{activity:?} is not an activity"))?;
    let Some(raw) = slice.or_else(|| std::env::var("SLICEBOARD_SLICE").ok()) else {
        bail!(
            "which slice? pass --slice NAME, or run this from a slice's agent, where SLICEBOARD_SLICE is set"
        );
    };
    let slice = SliceName::parse(&raw)
        .map_err(|problem| anyhow::anyhow!("the slice name {raw:?} {problem}"))?;
    let git = GitRepo::discover(cwd)?;
    let socket = StateDir::for_common_dir(git.common_dir()).socket_file();
    let command = Command::Signal {
        slice: slice.clone(),
        activity,
    };
    let mut link = match Link::connect(&socket, ClientKind::Signal) {
        Ok(link) => link,
        Err(LinkError::NoSupervisor) => {
            eprintln!(
                "sliceboard: no supervisor is running for {}; signal not delivered",
                git.root().display()
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
