//! Test support, shared by every test binary: real git repositories in
//! temporary folders, with a fixed git environment (author, dates, branch
//! `main`, no user or system config, no signing), and the real
//! `sliceboard` binary run against them.
//!
//! Beside this file: `poll` (every wait, until a deadline), `plan` (plans
//! written as text), `procs` (processes as `/proc` shows them), `dbt`
//! (real dbt projects), `supervised` (the supervisor process and its
//! clients), `sshd` (a real ssh server on the loopback interface) and `ui`
//! (the dashboard drawn on a test backend).

// Each test binary uses some of this support, none all of it.
#![allow(dead_code, unused_imports)]

pub mod dbt;
pub mod plan;
pub mod poll;
pub mod procs;
pub mod sshd;
pub mod supervised;
pub mod ui;

pub use plan::{Plan, toml_string};
pub use poll::{Deadline, WAIT, poll_ok, poll_some, poll_until, poll_within};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_sliceboard");

/// A repository `shop` in a temporary folder, beside which sliceboard puts
/// its worktrees (`shop.slices/`).
pub struct TestRepo {
    _dir: tempfile::TempDir,
    /// The folder holding the repository and its worktrees.
    pub top: PathBuf,
    pub root: PathBuf,
    home: PathBuf,
}

/// A small dbt-like tree: staging and marts models, seeds, a macro.
pub const FILES: &[(&str, &str)] = &[
    ("dbt_project.yml", "name: shop\nprofile: shop\n"),
    (
        "models/staging/stg_orders.sql",
        "select * from {{ ref('orders') }}\n",
    ),
    (
        "models/staging/stg_users.sql",
        "select * from {{ ref('users') }}\n",
    ),
    (
        "models/marts/fct_orders.sql",
        "select * from {{ ref('stg_orders') }}\n",
    ),
    (
        "models/marts/dim_users.sql",
        "select * from {{ ref('stg_users') }}\n",
    ),
    ("seeds/orders.csv", "id,user_id\n1,1\n"),
    ("seeds/users.csv", "id,name\n1,ada\n"),
    (
        "macros/dates.sql",
        "{% macro today() %}getdate(){% endmacro %}\n",
    ),
];

/// A valid plan over [`FILES`]: three slices, marts after staging.
pub const PLAN: &str = r#"base = "main"

[agent]
command = "sh -c 'echo working on $SLICEBOARD_SLICE'"

[dbt]
target = "dev_{slice_ident}"

[[slice]]
name = "staging"
owns = ["models/staging/**"]
prompt = "Migrate the staging models."

[[slice]]
name = "marts"
owns = ["models/marts/**"]
after = ["staging"]
prompt = "Migrate the marts."

[[slice]]
name = "seeds"
owns = ["seeds/**", "macros/**"]
"#;

impl TestRepo {
    /// A repository with [`FILES`] committed on `main`, and no plan.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let top = dir.path().canonicalize().expect("canonical tempdir");
        let root = top.join("shop");
        let home = top.join("home");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        let repo = Self {
            _dir: dir,
            top,
            root,
            home,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        for (path, contents) in FILES {
            repo.write(path, contents);
        }
        repo.commit_all("initial");
        repo
    }

    /// A repository with [`FILES`] and [`PLAN`] committed.
    pub fn with_plan() -> Self {
        let repo = Self::new();
        repo.write("sliceboard.toml", PLAN);
        repo.commit_all("plan");
        repo
    }

    /// A repository with [`FILES`] and the given plan committed.
    pub fn with_plan_text(plan: &str) -> Self {
        let repo = Self::new();
        repo.write("sliceboard.toml", plan);
        repo.commit_all("plan");
        repo
    }

    /// A repository with [`FILES`] and the given plan committed, and
    /// every slice's worktree made by `sliceboard up`.
    pub fn with_worktrees(plan: &str) -> Self {
        let repo = Self::with_plan_text(plan);
        repo.sliceboard(&["up"]).ok();
        repo
    }

    /// A repository with [`FILES`] less `dbt_project.yml` (removed, not
    /// committed yet), so approvals have no dbt concern.
    pub fn without_dbt_project() -> Self {
        let repo = Self::new();
        repo.git(&["rm", "-q", "dbt_project.yml"]);
        repo
    }

    /// Writes `files` into a slice's worktree and commits them there; the
    /// new commit.
    pub fn commit_in(&self, slice: &str, files: &[(&str, &str)], message: &str) -> String {
        let worktree = self.worktree(slice);
        for (path, contents) in files {
            write_file(&worktree.join(path), contents);
        }
        self.git_in(&worktree, &["add", "-A"]);
        self.git_in(&worktree, &["commit", "-q", "-m", message]);
        self.git_in(&worktree, &["rev-parse", "HEAD"])
    }

    /// Saves the plan as an editor does: writes a new file and renames it
    /// over `sliceboard.toml`.
    pub fn save_plan(&self, text: &str) {
        let new = self.root.join(".sliceboard.toml.swp");
        std::fs::write(&new, text).unwrap();
        std::fs::rename(&new, self.root.join("sliceboard.toml")).unwrap();
    }

    /// The test's `HOME`.
    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn write(&self, path: &str, contents: &str) {
        write_file(&self.root.join(path), contents);
    }

    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }

    /// Runs git in the repository; panics on failure.
    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.root, args)
    }

    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let output = self
            .command("git", dir)
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?} in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Runs the sliceboard binary in the repository.
    pub fn sliceboard(&self, args: &[&str]) -> Run {
        self.sliceboard_in(&self.root, args)
    }

    pub fn sliceboard_in(&self, dir: &Path, args: &[&str]) -> Run {
        let output = self
            .command(BIN, dir)
            .args(args)
            .output()
            .expect("sliceboard runs");
        Run::from(output)
    }

    /// A command with the fixed environment, started in `dir`.
    pub fn command(&self, program: &str, dir: &Path) -> Command {
        let mut command = Command::new(program);
        command.current_dir(dir);
        for var in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_COMMON_DIR",
            "SLICEBOARD_SLICE",
        ] {
            command.env_remove(var);
        }
        command
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Test Author")
            .env("GIT_AUTHOR_EMAIL", "author@example.com")
            .env("GIT_COMMITTER_NAME", "Test Author")
            .env("GIT_COMMITTER_EMAIL", "author@example.com")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "commit.gpgsign")
            .env("GIT_CONFIG_VALUE_0", "false")
            // A supervisor a test forgot ends by itself.
            .env("SLICEBOARD_IDLE_EXIT", "120");
        command
    }

    /// The fixed environment as shell lines (`export K=V`, `unset K`), for
    /// a script that runs where the environment is not passed along (a
    /// login over ssh, a stand-in for ssh).
    pub fn env_script(&self) -> String {
        let mut script = String::new();
        for (key, value) in self.command("sh", &self.root).get_envs() {
            let key = key.to_str().unwrap();
            match value {
                Some(value) => {
                    let value = shlex::try_quote(value.to_str().unwrap()).unwrap();
                    script += &format!("export {key}={value}\n");
                }
                None => script += &format!("unset {key}\n"),
            }
        }
        script
    }

    /// A slice's last agent status in the journal: `running`, `killed`,
    /// `exited 3`, `exited null`.
    pub fn last_agent_status(&self, slice: &str) -> Option<String> {
        std::fs::read_to_string(self.state_dir().join("events.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|e| e["event"] == "agent_status_changed" && e["slice"] == slice)
            .map(|e| {
                let status = &e["status"];
                match status["state"].as_str().unwrap() {
                    "exited" => format!("exited {}", status["code"]),
                    other => other.to_owned(),
                }
            })
            .next_back()
    }

    /// Every journal entry (`events.jsonl`), none while there is no
    /// journal; fails on a line that is not JSON.
    pub fn journal(&self) -> Vec<serde_json::Value> {
        let text =
            std::fs::read_to_string(self.state_dir().join("events.jsonl")).unwrap_or_default();
        text.lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|err| panic!("a journal line is not JSON ({err}): {line:?}"))
            })
            .collect()
    }

    /// `sliceboard status --json`, parsed.
    pub fn status_json(&self) -> serde_json::Value {
        let out = self.sliceboard(&["status", "--json"]).ok();
        serde_json::from_str(&out).unwrap_or_else(|err| panic!("status --json ({err}): {out}"))
    }

    /// Where the repository's supervisor listens.
    pub fn socket(&self) -> PathBuf {
        self.state_dir().join("supervisor.sock")
    }

    /// Where sliceboard puts a slice's worktree with the default template.
    pub fn worktree(&self, slice: &str) -> PathBuf {
        self.top.join("shop.slices").join(slice)
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".git").join("sliceboard")
    }

    pub fn state_json(&self) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.state_dir().join("state.json")).expect("state.json");
        serde_json::from_str(&text).expect("state.json parses")
    }

    /// Replaces temporary paths so output can be compared across runs.
    pub fn mask(&self, text: &str) -> String {
        text.replace(&self.top.display().to_string(), "[TMP]")
    }
}

pub fn write_file(path: &Path, contents: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, contents).unwrap();
}

/// A slice's name, which the test knows is valid.
pub fn name(slice: &str) -> sliceboard::domain::SliceName {
    sliceboard::domain::SliceName::parse(slice).unwrap()
}

/// A slice's entry in `status --json`.
pub fn slice_status<'a>(status: &'a serde_json::Value, slice: &str) -> &'a serde_json::Value {
    status["slices"]
        .as_array()
        .expect("status --json lists slices")
        .iter()
        .find(|s| s["name"] == slice)
        .unwrap_or_else(|| panic!("{slice} in status: {status:#}"))
}

/// Waits for a child process to end, within `timeout`; its status. A
/// child still running then is killed, and the test fails naming `what`.
pub fn wait_exit(child: &mut Child, what: &str, timeout: Duration) -> ExitStatus {
    let mut status = None;
    let ended = poll_within(timeout, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if !ended {
        let _ = child.kill();
        let _ = child.wait();
        panic!("never: {what} ended (within {timeout:?})");
    }
    status.expect("the child ended")
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts success and returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(self.code, Some(0), "expected success:\n{self:#?}");
        self.stdout
    }

    /// Asserts failure and returns stderr.
    pub fn fails(self) -> String {
        assert_eq!(self.code, Some(1), "expected failure:\n{self:#?}");
        self.stderr
    }
}

impl Drop for TestRepo {
    /// Stops the repository's supervisor, if a test started one (the
    /// dashboard starts it in the background), and its agents.
    fn drop(&mut self) {
        if self.socket().exists() {
            let _ = self
                .command(BIN, &self.root)
                .args(["stop"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}
