//! A worktree's setup (`[worktree] setup` in the plan: `dbt deps`, seeds,
//! copying an `.env`): where it stands. Plain data; the runner is
//! `workspace::setup`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupStatus {
    Running,
    Passed,
    /// A command failed: the agent does not start until the setup passes
    /// or the operator skips it.
    Failed,
    /// The operator chose to start the agent without a passing setup.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetupState {
    pub status: SetupStatus,
    /// The command that failed, or is running.
    #[serde(default)]
    pub command: Option<String>,
    /// The failed command's exit code (`None`: killed by a signal).
    #[serde(default)]
    pub code: Option<i32>,
    /// When it ended (RFC 3339), or started while running.
    pub at: String,
    /// The runner's pid while running, so a setup whose runner died is not
    /// taken for one still running.
    #[serde(default)]
    pub pid: Option<u32>,
}

impl SetupState {
    /// One line for the board, the Events tab and `status`.
    pub fn describe(&self) -> String {
        match self.status {
            SetupStatus::Running => format!(
                "setup running: {}",
                self.command.as_deref().unwrap_or("starting")
            ),
            SetupStatus::Passed => "setup passed".to_owned(),
            SetupStatus::Skipped => "setup skipped by the operator".to_owned(),
            SetupStatus::Failed => format!(
                "setup FAILED: `{}` {}",
                self.command.as_deref().unwrap_or("?"),
                self.code
                    .map_or_else(|| "was killed".to_owned(), |c| format!("exited {c}"))
            ),
        }
    }
}
