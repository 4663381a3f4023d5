//! Files 0600 and folders 0700 under `.git/sliceboard`, whatever the
//! umask: every command run at umask 000, through `up`, an agent's run, a
//! merge with a check and `stop`, leaves nothing there that group or others
//! may read (the integration worktree's files are git's, behind its 0700
//! folder).

use crate::common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use common::supervised::*;
use common::{BIN, Plan, Run, TestRepo, poll_until};

/// `sliceboard ARGS` at umask 000.
fn at_umask_000(repo: &TestRepo, args: &[&str]) -> Run {
    let output = repo
        .command("sh", &repo.root)
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(args)
        .output()
        .unwrap();
    Run::from(output)
}

/// Everything under `dir` whose mode lets group or others in; the
/// integration worktree is looked at, not into.
fn open_to_others(dir: &Path, found: &mut Vec<(PathBuf, u32)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            found.push((path.clone(), mode));
        }
        if meta.is_dir() && entry.file_name() != "sliceboard-integration" {
            open_to_others(&path, found);
        }
    }
}

#[test]
fn nothing_under_the_state_folder_is_open_to_others_at_umask_000() {
    let repo = TestRepo::without_dbt_project();
    repo.write(
        "sliceboard.toml",
        &Plan::new("echo ran; exec sleep 300")
            .top("integration = \"integration\"")
            .table("[merge]\ncheck = \"echo check ok\"")
            .slice("alpha", &["a/**"], &[])
            .to_string(),
    );
    repo.commit_all("plan");
    at_umask_000(&repo, &["up"]).ok();

    // The supervisor `approve` starts runs at umask 000 too.
    repo.commit_in("alpha", &[("a/model.sql", "select 1\n")], "alpha");
    at_umask_000(&repo, &["approve", "alpha"]).ok();

    let mut dash = Dashboard::connect(&repo.socket());
    dash.view(&["alpha"]);
    dash.request(start_agent("alpha"))
        .expect("the agent starts");
    dash.wait_pane("alpha", "ran");
    assert!(repo.state_dir().join("slices/alpha/agent.json").is_file());
    at_umask_000(&repo, &["approve", "alpha"]).ok();
    at_umask_000(&repo, &["merge", "alpha"]).ok();
    let state = repo.state_dir();
    assert!(state.join("merge/attempt-1.log").is_file());
    assert!(state.join("sliceboard-integration").is_dir());
    assert!(state.join("slices/alpha/pty.log").is_file());

    // While the supervisor runs (its socket, `agent.json` had its turn)
    // and once it is gone.
    let mut found = Vec::new();
    open_to_others(&state, &mut found);
    assert_eq!(found, Vec::new(), "open to group or others while running");
    at_umask_000(&repo, &["stop"]).ok();
    poll_until("the supervisor gone with its socket", WAIT, || {
        !state.join("supervisor.sock").exists()
    });
    let mut found = Vec::new();
    open_to_others(&state, &mut found);
    assert_eq!(found, Vec::new(), "open to group or others");
}
