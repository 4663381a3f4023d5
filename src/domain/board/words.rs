//! The board's words: how every dashboard, `status` and the Events tab
//! put an event, an agent's state, a duration or a pending slot into
//! text, so they all say the same thing the same way.
//!
//! Pure functions of the board's data; nothing here changes a [`Board`]
//! (that is `Board::apply`, in the parent module) or knows a terminal.
//!
//! [`Board`]: super::Board

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{LeftRunning, SliceRow};
use crate::domain::command::{Event, LeftRunningEnd};
use crate::domain::short_commit;
use crate::domain::slice::{Activity, ActivitySource, AgentStatus, SliceName};

/// One line of the Events tab.
pub fn describe(event: &Event) -> String {
    match event {
        Event::AgentStatusChanged { status, .. } => format!("agent {}", status_text(*status)),
        Event::ActivityChanged {
            activity,
            source,
            origin,
            ..
        } => activity_change_text(*activity, *source, origin.as_deref()),
        Event::LifecycleChanged { from, to, .. } => format!("{from} -> {to}"),
        Event::CommandFailed { message, .. } => format!("failed: {message}"),
        Event::Approved {
            commit, by_itself, ..
        } => {
            let who = if *by_itself {
                " by itself (agent done, green, no flags)"
            } else {
                ""
            };
            format!("approved at {}{who}", short_commit(commit))
        }
        Event::HandedOver {
            attempts, reason, ..
        } => format!("needs you: {attempts} merge attempts failed in a row; the last: {reason}"),
        Event::Published {
            remote,
            branch,
            commit,
            url,
            ..
        } => {
            let url = url
                .as_deref()
                .map_or_else(String::new, |u| format!("; {u}"));
            format!(
                "published {branch} ({}) to {remote}{url}",
                short_commit(commit)
            )
        }
        Event::QueueHeld { held: true } => "merge queue held".into(),
        Event::QueueHeld { held: false } => "merge queue going on".into(),
        Event::ApprovalWithdrawn { .. } => "approval withdrawn".into(),
        Event::ApprovalStale { approved, now, .. } => format!(
            "approval of {} is stale: the branch moved to {}",
            short_commit(approved),
            now.as_deref().map_or("nothing", short_commit)
        ),
        Event::MergeStarted {
            attempt,
            approved,
            onto,
            ..
        } => format!(
            "merge attempt {attempt}: {} onto {}",
            short_commit(approved),
            short_commit(onto)
        ),
        Event::MergeConflicted { paths, .. } => format!("merge conflicts in {}", paths.join(", ")),
        Event::CheckStarted { command, .. } => format!("check started: {command}"),
        Event::CheckPassed { merge_commit, .. } => {
            format!("check passed on {}", short_commit(merge_commit))
        }
        Event::CheckFailed { reason, .. } => format!("check failed: {reason}"),
        Event::Merged { branch, commit, .. } => {
            format!("merged into {branch} ({})", short_commit(commit))
        }
        Event::MergeFailed { reason, .. } => format!("merge failed: {reason}"),
        Event::MergeInterrupted { attempt, .. } => {
            format!("merge attempt {attempt} was interrupted (the supervisor stopped)")
        }
        Event::UpstreamMerged { upstream, .. } => format!("upstream {upstream} merged"),
        Event::FeedbackSent { about, .. } => format!("agent told about {about}"),
        Event::Asks { text, .. } => format!("asks: {text}"),
        Event::LimitHit { line, resumes, .. } => {
            let then = if *resumes {
                " (goes on by itself when it resets)"
            } else {
                ""
            };
            format!("usage limit hit: {line}{then}")
        }
        Event::ResumedAfterLimit { how, .. } => format!("usage limit reset: {how}"),
        Event::UsageChanged { usage, .. } => match usage.usage.context {
            Some(context) => format!("context compacted (now {}% full)", context.percent()),
            None => "context compacted".to_owned(),
        },
        Event::BudgetNear { budget, spent, .. } => format!(
            "{:.0}% of its budget ({}) spent",
            spent * 100.0,
            budget.label()
        ),
        Event::BudgetReached { budget, .. } => format!(
            "paused: its budget ({}) is spent; raise it to go on",
            budget.label()
        ),
        Event::BudgetRaised { budget, .. } => format!("budget raised to {}", budget.label()),
        Event::PromptSent { text, .. } => {
            let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let short: String = line.chars().take(60).collect();
            let more = if short.len() < line.len() || text.trim().lines().count() > 1 {
                "…"
            } else {
                ""
            };
            format!("prompt sent: {short}{more}")
        }
        Event::SliceCleaned {
            branch, kept_as, ..
        } => cleaned_text(branch, kept_as.as_deref()),
        Event::ReviewSent { merged, of, .. } => {
            format!("sent the aggregate result to review ({merged} of {of} slices merged)")
        }
        Event::SliceRetired { picked, branch, .. } => {
            format!("retired: {picked} was picked; worktree removed, branch kept as {branch}")
        }
        Event::PickResumed { retired, left, .. } => pick_resumed_text(retired, left),
        Event::Progress { message, .. } => message.clone(),
        Event::AgentStarted { pid, .. } => format!("agent started (pid {pid})"),
        Event::WorktreeCreated {
            path,
            branch,
            branch_created,
            base_commit,
            ..
        } => worktree_created_text(path, branch, *branch_created, base_commit),
        Event::WorktreeRemoved { path, forced, .. } => format!(
            "worktree {} removed{}",
            path.display(),
            if *forced { " (forced)" } else { "" }
        ),
        Event::WorktreesPruned { names } => {
            format!("stale worktree records pruned: {}", names.join(", "))
        }
        Event::DriftFound { slice, drift } => format!("drift: {}", drift.describe(slice)),
        Event::SetupFinished { state, .. } => state.describe(),
        Event::PortsReserved { ports, .. } => {
            format!("ports reserved: {}", super::ports_text(ports))
        }
        Event::TeardownRan {
            slice,
            passed: true,
            lines,
            ..
        } => format!(
            "teardown passed{}",
            if lines.is_empty() {
                String::new()
            } else {
                format!(" (its output is in {})", teardown_log(slice))
            }
        ),
        Event::TeardownRan {
            slice,
            failed,
            code,
            ..
        } => format!(
            "teardown failed: `{}` {}; the worktree was removed all the same (its output is in {})",
            failed.as_deref().unwrap_or("?"),
            code.map_or_else(
                || "did not finish".to_owned(),
                |c| format!("exited with {c}")
            ),
            teardown_log(slice)
        ),
        Event::LeftRunningFound { slice, pid } => format!(
            "agent group {pid} was {LEFT_RUNNING}: nothing reaches its terminal, and no agent starts here until it ends (`sliceboard kill {slice}` ends it)"
        ),
        Event::LeftRunningEnded { pid, how, .. } => left_running_ended_text(*pid, *how),
    }
}

/// Where a slice's teardown output is: the Logs tab, and its file under
/// the state folder, for a `down` run with no dashboard.
fn teardown_log(slice: &SliceName) -> String {
    format!("the Logs tab and in .git/sliceboard/slices/{slice}/teardown.log")
}

/// A new activity, with where it came from: a signal (and its origin),
/// the bell, or a guess from the screen.
fn activity_change_text(
    activity: Activity,
    source: ActivitySource,
    origin: Option<&str>,
) -> String {
    match source {
        ActivitySource::Signal => format!("activity {}", signal_text(activity, origin)),
        ActivitySource::Bell => {
            format!("activity {} (the bell rang)", activity_text(Some(activity)))
        }
        ActivitySource::Screen => format!(
            "activity {} (a guess from the screen)",
            activity_text(Some(activity))
        ),
    }
}

/// A cleaned slice: its branch deleted, or kept under another name.
fn cleaned_text(branch: &str, kept_as: Option<&str>) -> String {
    match kept_as {
        Some(kept) => {
            format!("cleaned: worktree removed, unmerged commits kept on branch {kept}")
        }
        None => {
            format!("cleaned: worktree removed, branch {branch} deleted (all of it merged)")
        }
    }
}

/// A pick cut off by a crash, finished (or not) on the next start.
fn pick_resumed_text(retired: &[SliceName], left: &[String]) -> String {
    let names = |list: &[SliceName]| {
        list.iter()
            .map(SliceName::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let retired = if retired.is_empty() {
        "nothing more".to_owned()
    } else {
        names(retired)
    };
    if left.is_empty() {
        format!("an interrupted pick was finished: {retired} retired")
    } else {
        format!(
            "an interrupted pick was not finished: {} ({retired} retired)",
            left.join("; ")
        )
    }
}

/// Where a worktree was made, on a new branch or an existing one.
fn worktree_created_text(
    path: &Path,
    branch: &str,
    branch_created: bool,
    base_commit: &str,
) -> String {
    let how = if branch_created {
        format!("new branch {branch} from {}", short_commit(base_commit))
    } else {
        format!("existing branch {branch}")
    };
    format!("worktree created at {} on {how}", path.display())
}

/// How a group an earlier supervisor left running ended.
fn left_running_ended_text(pid: i32, how: LeftRunningEnd) -> String {
    match how {
        LeftRunningEnd::ByItself => {
            format!("agent group {pid}, {LEFT_RUNNING}, ended by itself")
        }
        LeftRunningEnd::Terminated => {
            format!("agent group {pid}, {LEFT_RUNNING}, ended (SIGTERM)")
        }
        LeftRunningEnd::Killed => {
            format!("agent group {pid}, {LEFT_RUNNING}, ended (SIGKILL after the grace period)")
        }
    }
}

/// How the board, `status` and the Events tab name a group an earlier
/// supervisor left running.
pub const LEFT_RUNNING: &str = "left running by a previous supervisor";

/// A duration for a person: `45s`, `2m05s`, `1h20m`.
pub fn duration_text(seconds: i64) -> String {
    match seconds.max(0) {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// Why a pending slice waits: the agents holding the `max_running` slots
/// (the planner takes none).
pub fn pending_reason(slice: &SliceName, running: &[&SliceName], max_running: usize) -> String {
    let names: Vec<&str> = running.iter().map(|n| n.as_str()).collect();
    format!(
        "{slice}: pending: {} of {max_running} running ({}); it starts when one ends (`max_running` in sliceboard.toml)",
        running.len(),
        names.join(", ")
    )
}

pub fn status_text(status: AgentStatus) -> String {
    match status {
        AgentStatus::NotStarted => "not started".into(),
        AgentStatus::Pending => "pending".into(),
        AgentStatus::Running => "running".into(),
        AgentStatus::Paused => "paused".into(),
        AgentStatus::Exited { code: Some(code) } => format!("exited({code})"),
        AgentStatus::Exited { code: None } => "exited(signal)".into(),
        AgentStatus::Killed => "killed".into(),
    }
}

/// What `status` shows of a slice's agent, from the supervisor's board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentReport {
    pub status: AgentStatus,
    pub activity: Option<Activity>,
    pub source: Option<ActivitySource>,
    pub last_signal: Option<String>,
    pub pid: Option<i32>,
    /// An agent group an earlier supervisor left running, while it lives.
    #[serde(default)]
    pub left_running: Option<LeftRunning>,
}

impl AgentReport {
    /// The word `status` shows for the agent: the group left running
    /// first, since nothing else can start until it ends.
    pub fn word(&self) -> String {
        match self.left_running {
            Some(left) => left_running_word(left),
            None => agent_word(self.status, self.activity, self.source),
        }
    }
}

/// `left running (pid 41873)`: the board's and `status`'s word for a
/// group an earlier supervisor left running.
pub fn left_running_word(left: LeftRunning) -> String {
    format!("left running (pid {})", left.pid)
}

impl SliceRow {
    pub fn agent_report(&self) -> AgentReport {
        AgentReport {
            status: self.status,
            activity: self.activity,
            source: self.activity_source,
            last_signal: self.last_signal.clone(),
            pid: self.pid,
            left_running: self.left_running,
        }
    }
}

/// One word for an agent's state, the same on the board and in `status`:
/// a running agent's activity (`~busy` when guessed from the screen,
/// `waiting (bell)` from the bell, `unknown` when nothing is known),
/// otherwise its status.
pub fn agent_word(
    status: AgentStatus,
    activity: Option<Activity>,
    source: Option<ActivitySource>,
) -> String {
    if status != AgentStatus::Running {
        return status_text(status);
    }
    let activity = activity.unwrap_or(Activity::Unknown);
    let word = activity_text(Some(activity));
    match source {
        _ if activity == Activity::Unknown => word.to_owned(),
        Some(ActivitySource::Screen) | None => format!("~{word}"),
        Some(ActivitySource::Bell) => format!("{word} (bell)"),
        Some(ActivitySource::Signal) => word.to_owned(),
    }
}

/// The word for an activity, the same on the board, in its header counts,
/// in the Events tab and in help.
pub fn activity_text(activity: Option<Activity>) -> &'static str {
    match activity {
        Some(Activity::Busy) => "busy",
        Some(Activity::Waiting) => "waiting",
        Some(Activity::Idle) => "idle",
        Some(Activity::Done) => "done",
        Some(Activity::Unknown) => "unknown",
        None => "",
    }
}

/// A signal as the Events tab and the agent's title show it.
pub(super) fn signal_text(activity: Activity, origin: Option<&str>) -> String {
    match origin {
        Some(origin) => format!("{} from {origin}", activity_text(Some(activity))),
        None => format!("{} (signal)", activity_text(Some(activity))),
    }
}
