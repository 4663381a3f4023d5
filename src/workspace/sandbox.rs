//! A slice's box on this machine: the bubblewrap command its agent runs
//! in (the layout is `domain::sandbox`'s; which paths exist is decided
//! here), the `sandbox_command` line filled in, and whether bubblewrap can
//! start here at all (`sliceboard check`, and before every start, so a
//! sandbox that cannot start is a refusal with its reason, never an agent
//! that dies at once).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Workspace, WorkspaceError};
use crate::domain::SliceSpec;
use crate::domain::sandbox::{
    CommandVars, Hidden, Layout, Network, SECRETS, SYSTEM, SandboxKind, SliceBox, Wrapper,
    bubblewrap_args, env_file_text, expand_home, fill_command, kept_env,
};
use crate::store::State;

/// How the slice's agent starts: wrapped, or its command replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boxed {
    /// No sandbox: the command as it is.
    Plain,
    /// In bubblewrap: the agent's shell and command go after `argv`.
    Wrapped(Wrapper),
    /// Through the plan's `sandbox_command`: this line, run by the shell.
    Command(String),
}

/// bubblewrap's program, from `PATH`.
fn bwrap() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("bwrap"))
        .find(|candidate| candidate.is_file())
}

/// Whether bubblewrap starts a sandbox with `network` here; the reason
/// when it does not. A success is remembered for the process's life.
pub fn probe(network: Network) -> Result<(), String> {
    static STARTED: Mutex<Vec<Network>> = Mutex::new(Vec::new());
    let started = |n| {
        STARTED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&n)
    };
    if started(network) {
        return Ok(());
    }
    let program = bwrap().ok_or_else(|| {
        "bubblewrap (`bwrap`) is not installed or not on PATH: install it (`apt-get install bubblewrap`), or set `sandbox = \"none\"`".to_owned()
    })?;
    let mut command = std::process::Command::new(&program);
    command.args(["--die-with-parent", "--unshare-pid"]);
    if network == Network::None {
        command.arg("--unshare-net");
    }
    command.args(SYSTEM).args(["--", "true"]);
    // Waited for, not polled: an agent's start waits on it.
    let output = crate::os::process_group::output(
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped()),
    )
    .map_err(|err| format!("cannot run {}: {err}", program.display()))?;
    if output.status.success() {
        STARTED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(network);
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    let hint = if said.contains("namespace") || said.contains("Operation not permitted") {
        " (this machine does not let users make namespaces: check `sysctl kernel.unprivileged_userns_clone` and, on Ubuntu 24.04 and later, `kernel.apparmor_restrict_unprivileged_userns`; in a container, it needs to allow them)"
    } else {
        ""
    };
    Err(format!(
        "bubblewrap cannot start a sandbox{} here: {}{hint}",
        if network == Network::None {
            " without network"
        } else {
            ""
        },
        if said.is_empty() {
            format!("it ended with {}", output.status)
        } else {
            said
        }
    ))
}

impl Workspace {
    /// How `spec`'s agent starts in `worktree`, given its environment, its
    /// command line and the state as the caller holds it (the other
    /// slices' worktrees are hidden). Refused when its sandbox cannot
    /// start here.
    pub fn boxed(
        &self,
        spec: &SliceSpec,
        worktree: &Path,
        env: &[(String, String)],
        command: &str,
        state: &State,
    ) -> Result<Boxed, WorkspaceError> {
        let slice_box = self.plan.box_for(spec);
        let refused = |why: String| {
            WorkspaceError::Refused(format!(
                "{} sandbox: {why}",
                crate::domain::possessive(&spec.name)
            ))
        };
        match slice_box.kind {
            SandboxKind::None => Ok(Boxed::Plain),
            SandboxKind::Bubblewrap => {
                probe(slice_box.network).map_err(refused)?;
                let program = bwrap().ok_or_else(|| refused("bwrap is gone from PATH".into()))?;
                let mut argv = vec![program.to_string_lossy().into_owned()];
                argv.extend(bubblewrap_args(
                    &self.layout(spec, worktree, slice_box, state),
                ));
                Ok(Boxed::Wrapped(Wrapper {
                    argv,
                    base_env: Some(kept_env(
                        std::env::vars(),
                        &self.plan.agent.sandbox.pass_env,
                    )),
                }))
            }
            SandboxKind::Command => {
                let template = self
                    .plan
                    .agent
                    .sandbox
                    .command
                    .as_deref()
                    .unwrap_or("{command}");
                let env_file = self.state_dir.slice_dir(&spec.name).join("sandbox.env");
                self.state_dir.write_slice_file(
                    &spec.name,
                    "sandbox.env",
                    env_file_text(env).as_bytes(),
                )?;
                let socket = self.state_dir.socket_file();
                Ok(Boxed::Command(fill_command(
                    template,
                    &CommandVars {
                        command,
                        worktree,
                        git_dir: self.git.common_dir(),
                        slice: spec.name.as_str(),
                        network: slice_box.network,
                        socket_dir: socket.parent().unwrap_or(Path::new("/")),
                        env_file: &env_file,
                    },
                )))
            }
        }
    }

    /// Where `spec`'s agent lives in its bubblewrap sandbox: only what
    /// exists is named (bubblewrap refuses to bind a missing path).
    fn layout(
        &self,
        spec: &SliceSpec,
        worktree: &Path,
        slice_box: SliceBox,
        state: &State,
    ) -> Layout {
        let git_dir = self.git.common_dir().to_owned();
        let worktree_git_dir = state
            .slices
            .get(&spec.name)
            .filter(|r| !r.worktree_name.is_empty())
            .map(|r| git_dir.join("worktrees").join(&r.worktree_name))
            .filter(|dir| dir.is_dir());
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let socket_dir = self.state_dir.socket_file().parent().map(Path::to_owned);
        // The sandbox's /tmp is its own: the folders under the real one
        // that hold the repository, the worktree, the home folder or the
        // socket are shown again, read-only (what is hidden in them is
        // hidden after).
        let mut shown: Vec<PathBuf> = [Some(self.git.root()), Some(worktree), home.as_deref()]
            .into_iter()
            .flatten()
            .chain(socket_dir.as_deref())
            .filter_map(|path| {
                let rest = path.strip_prefix("/tmp").ok()?;
                let first = rest.components().next()?;
                Some(Path::new("/tmp").join(first))
            })
            .filter(|dir| dir.is_dir())
            .collect();
        shown.sort();
        shown.dedup();
        let read_only = [
            git_dir.join("hooks"),
            git_dir.join("config"),
            self.state_dir.root().to_owned(),
        ]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
        let sandbox = &self.plan.agent.sandbox;
        let from_home = |path: &str| home.as_deref().map(|h| expand_home(path, h));
        let mut writable: Vec<PathBuf> = self
            .state_dir
            .dbt_db(spec.name.as_str())
            .parent()
            .map(Path::to_owned)
            .into_iter()
            .collect();
        writable.extend(sandbox.writable.iter().filter_map(|p| from_home(p)));
        writable.retain(|p| p.exists());
        let mut hidden: Vec<Hidden> = state
            .slices
            .iter()
            .filter(|(name, r)| **name != spec.name && r.worktree != worktree)
            .map(|(_, r)| r.worktree.clone())
            .chain(
                SECRETS
                    .iter()
                    .filter_map(|s| home.as_ref().map(|h| h.join(s))),
            )
            .chain(sandbox.hidden.iter().filter_map(|p| from_home(p)))
            .filter_map(|path| {
                let meta = std::fs::metadata(&path).ok()?;
                Some(Hidden {
                    is_dir: meta.is_dir(),
                    path,
                })
            })
            .collect();
        hidden.dedup();
        Layout {
            worktree: worktree.to_owned(),
            repo_root: self.git.root().to_owned(),
            git_dir,
            worktree_git_dir,
            shown,
            read_only,
            writable,
            hidden,
            network: slice_box.network,
            as_root: crate::os::own_uid() == 0,
        }
    }
}
