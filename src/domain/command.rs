//! The vocabulary of commands and events: what anyone may ask of the
//! supervisor ([`Command`]) and what happened as a result or on its own
//! ([`Event`]), with the small types they carry ([`MergeWhich`],
//! [`LeftRunningEnd`], [`Drift`]).
//!
//! Dashboards, the command line and agents' hooks send [`Command`]s; the
//! agents, the workspace services and the merge queue report [`Event`]s,
//! which the hub applies to the board (`BoardUpdate::Event`) and the
//! journal (`events.jsonl`) stores, so what the operator did and what
//! happened share one vocabulary. Both are plain serde data with named
//! fields. How they travel is not decided here: the socket's messages
//! that carry them are `domain::wire`; this module knows no socket, file
//! or thread.

use super::short_commit;
use jiff::Timestamp;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::comments::CommentAt;
use super::setup::SetupState;
use super::slice::{Activity, ActivitySource, AgentStatus, Lifecycle, SliceName};

/// What the operator (or a script) asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Create missing worktrees and branches; all slices when `slices` is empty.
    Up {
        slices: Vec<SliceName>,
    },
    /// Remove a slice's worktree; `force` discards uncommitted or unmerged work.
    Down {
        slice: SliceName,
        force: bool,
    },
    StartAgent {
        slice: SliceName,
    },
    PauseAgent {
        slice: SliceName,
    },
    ResumeAgent {
        slice: SliceName,
    },
    KillAgent {
        slice: SliceName,
    },
    RestartAgent {
        slice: SliceName,
    },
    /// Bytes for the agent's terminal, already encoded as a terminal would.
    SendInput {
        slice: SliceName,
        bytes: Vec<u8>,
    },
    ResizeAgent {
        slice: SliceName,
        cols: u16,
        rows: u16,
    },
    /// An activity report from the agent itself (`sliceboard signal`, or
    /// `sliceboard hook` run by the agent's hooks).
    Signal {
        slice: SliceName,
        activity: Activity,
        /// What sent it, e.g. `claude Stop` (the hook's event).
        #[serde(default)]
        origin: Option<String>,
    },
    /// An agent's own count of what it used (`sliceboard signal usage`),
    /// added to the slice's.
    ReportUsage {
        slice: SliceName,
        tokens: crate::domain::usage::Tokens,
        #[serde(default)]
        model: Option<String>,
        /// Money it says this cost, US dollars.
        #[serde(default)]
        usd: Option<f64>,
    },
    /// Raises the slice's budget by its own size again, and resumes an
    /// agent paused for it.
    RaiseBudget {
        slice: SliceName,
    },
    /// Approves the slice's branch tip; refused with the reasons when it
    /// deserves a second look, unless `force`.
    Approve {
        slice: SliceName,
        #[serde(default)]
        force: bool,
    },
    WithdrawApproval {
        slice: SliceName,
    },
    /// Merges from the queue; `dry_run` says what would happen.
    Merge {
        which: MergeWhich,
        #[serde(default)]
        dry_run: bool,
    },
    /// Removes a merged slice's worktree and branch (`force`: unmerged too).
    Clean {
        slice: SliceName,
        #[serde(default)]
        force: bool,
    },
    /// Picks one of a slice's competing variants: approves it (`force`:
    /// over its concerns) and retires the others (agents stopped,
    /// worktrees removed, branches kept under `sliceboard/retired/`).
    Pick {
        slice: SliceName,
        #[serde(default)]
        force: bool,
    },
    /// Sends the planner agent the aggregate result to review: what
    /// merged, the integration check, open flags, failed slices.
    Review,
    /// Tells the slice's agent what the merge queue found (a conflict, a
    /// failed check, an upstream merge).
    SendFeedback {
        slice: SliceName,
    },
    /// Pushes the integration branch to `[forge] remote`, then runs
    /// `[forge] command` (e.g. `gh pr create …`).
    Publish,
    /// Holds the queue (nothing it does by itself happens: no automatic
    /// approval, feedback or merge; the operator's commands still work),
    /// or lets it go on.
    HoldQueue {
        held: bool,
    },
    /// Gives the agent a prompt as one paste and Enter; starts it with the
    /// resume command first when it is not running.
    Prompt {
        slice: SliceName,
        text: String,
        /// Sent by sliceboard itself (the merge queue's feedback, a
        /// usage limit's reset), not the operator: the journal says so.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        by_itself: bool,
    },
    /// Mutes (or unmutes) a slice's calls to the operator, for as long as
    /// the supervisor runs; the board still shows everything.
    MuteCalls {
        slice: SliceName,
        muted: bool,
    },
    /// Writes a review comment on lines of the slice's diff (kept until
    /// the review is sent).
    Comment {
        slice: SliceName,
        at: CommentAt,
        text: String,
    },
    /// Rewrites the text of the slice's comment `id`.
    EditComment {
        slice: SliceName,
        id: u32,
        text: String,
    },
    DeleteComment {
        slice: SliceName,
        id: u32,
    },
    /// Sends the slice's comments to its agent as one review, as a
    /// prompt (started with the resume command first when it is not
    /// running); the comments sent go.
    SendReview {
        slice: SliceName,
    },
    /// The text of the slice's terminal (screen and history) in `range`,
    /// wrapped rows joined as the program wrote them, no borders.
    CopyText {
        slice: SliceName,
        range: super::pane::CopyRange,
    },
    /// What changed in the slice's worktree since the operator's last
    /// look (`SinceLook` as JSON).
    DiffSince {
        slice: SliceName,
    },
    /// The slice's review (comments placed on its diff now, last look),
    /// as JSON.
    ReviewReport {
        slice: SliceName,
    },
    /// Runs the plan's `[worktree] setup` in the slice's worktree again;
    /// with `skip`, lets its agent start without a passing setup.
    Setup {
        slice: SliceName,
        #[serde(default)]
        skip: bool,
    },
    /// The merge queue as JSON (`sliceboard queue --json`).
    QueueReport,
    /// Every slice's agent as the board shows it, as JSON.
    AgentsReport,
    /// `status --json` as the supervisor answers it: every slice from its
    /// board (live diff, dbt run, agent, queue), in one round trip.
    StatusReport,
    /// The plan the supervisor runs with, as JSON: what `status`, `queue`
    /// and attaching use while `sliceboard.toml` does not load.
    PlanInForce,
    Shutdown,
}

/// Which queued slices a merge takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "which", rename_all = "snake_case")]
pub enum MergeWhich {
    /// The first ready slice.
    Head,
    /// Every ready slice, in order; one that fails does not stop the
    /// rest, and every approved slice left unmerged is named, with why.
    All,
    One {
        slice: SliceName,
    },
}

impl Command {
    /// The slice the command is about, if any.
    pub fn slice(&self) -> Option<&SliceName> {
        match self {
            Command::Down { slice, .. }
            | Command::Setup { slice, .. }
            | Command::StartAgent { slice }
            | Command::PauseAgent { slice }
            | Command::ResumeAgent { slice }
            | Command::KillAgent { slice }
            | Command::RestartAgent { slice }
            | Command::SendInput { slice, .. }
            | Command::ResizeAgent { slice, .. }
            | Command::Signal { slice, .. }
            | Command::ReportUsage { slice, .. }
            | Command::RaiseBudget { slice }
            | Command::Approve { slice, .. }
            | Command::WithdrawApproval { slice }
            | Command::Clean { slice, .. }
            | Command::Pick { slice, .. }
            | Command::SendFeedback { slice }
            | Command::Prompt { slice, .. }
            | Command::MuteCalls { slice, .. }
            | Command::Comment { slice, .. }
            | Command::EditComment { slice, .. }
            | Command::DeleteComment { slice, .. }
            | Command::SendReview { slice }
            | Command::ReviewReport { slice }
            | Command::DiffSince { slice }
            | Command::CopyText { slice, .. }
            | Command::Merge {
                which: MergeWhich::One { slice },
                ..
            } => Some(slice),
            Command::Up { .. }
            | Command::Merge { .. }
            | Command::Review
            | Command::QueueReport
            | Command::HoldQueue { .. }
            | Command::Publish
            | Command::AgentsReport
            | Command::StatusReport
            | Command::PlanInForce
            | Command::Shutdown => None,
        }
    }

    /// Which part of the supervisor process carries the command out: the
    /// one place that says so, so a new command is given a home here.
    pub fn served_by(&self) -> Service {
        match self {
            Command::Approve { .. }
            | Command::WithdrawApproval { .. }
            | Command::Merge { .. }
            | Command::Clean { .. }
            | Command::Pick { .. }
            | Command::Review
            | Command::SendFeedback { .. }
            | Command::HoldQueue { .. }
            | Command::Publish
            | Command::QueueReport => Service::MergeQueue,
            Command::AgentsReport
            | Command::StatusReport
            | Command::PlanInForce
            | Command::MuteCalls { .. }
            | Command::Comment { .. }
            | Command::EditComment { .. }
            | Command::DeleteComment { .. }
            | Command::SendReview { .. }
            | Command::ReviewReport { .. }
            | Command::DiffSince { .. }
            | Command::CopyText { .. } => Service::Board,
            Command::Up { .. }
            | Command::Down { .. }
            | Command::Setup { .. }
            | Command::StartAgent { .. }
            | Command::PauseAgent { .. }
            | Command::ResumeAgent { .. }
            | Command::KillAgent { .. }
            | Command::RestartAgent { .. }
            | Command::SendInput { .. }
            | Command::ResizeAgent { .. }
            | Command::Signal { .. }
            | Command::ReportUsage { .. }
            | Command::RaiseBudget { .. }
            | Command::Prompt { .. }
            | Command::Shutdown => Service::Agents,
        }
    }
}

/// Who carries a [`Command`] out in the supervisor process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The agents and worktree operations (`agents`).
    Agents,
    /// The merge queue's thread.
    MergeQueue,
    /// The socket server, from the board and the plan in force.
    Board,
}

/// What happened. Background work reports through these; nothing else
/// mutates the model the dashboard draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    LifecycleChanged {
        slice: SliceName,
        from: Lifecycle,
        to: Lifecycle,
    },
    WorktreeCreated {
        slice: SliceName,
        path: PathBuf,
        branch: String,
        /// False when an existing branch was reused.
        branch_created: bool,
        base_commit: String,
    },
    WorktreeRemoved {
        slice: SliceName,
        path: PathBuf,
        forced: bool,
    },
    /// Stale worktree records git kept for folders that no longer exist.
    WorktreesPruned {
        names: Vec<String>,
    },
    AgentStatusChanged {
        slice: SliceName,
        status: AgentStatus,
    },
    /// An agent process started (not journaled: the status change is).
    AgentStarted {
        slice: SliceName,
        pid: i32,
    },
    /// A new activity reading, or a signal (sent even when the activity
    /// stays the same, so the last signal is always known).
    ActivityChanged {
        slice: SliceName,
        activity: Activity,
        source: ActivitySource,
        /// For a signal, what sent it, e.g. `claude Stop`.
        #[serde(default)]
        origin: Option<String>,
    },
    Approved {
        slice: SliceName,
        commit: String,
        /// Approved although these concerns were shown.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        concerns: Vec<String>,
        /// By the queue itself (`[merge] approve = "when-green"`), not the
        /// operator.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        by_itself: bool,
    },
    /// A slice's automatic attempts failed `attempts` times in a row
    /// (`[merge] max_attempts`): nothing automatic happens to it until the
    /// operator approves it again.
    HandedOver {
        slice: SliceName,
        attempts: u32,
        reason: String,
    },
    /// The operator held the queue, or let it go on.
    QueueHeld {
        held: bool,
    },
    /// The integration branch was pushed (`sliceboard publish`, or by
    /// itself when the queue emptied) and `[forge] command` ran: its
    /// output's last lines, and the first URL in it (the pull request's).
    Published {
        remote: String,
        branch: String,
        commit: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        output: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    ApprovalWithdrawn {
        slice: SliceName,
    },
    /// The branch moved after the approval; that approval will not merge.
    ApprovalStale {
        slice: SliceName,
        approved: String,
        now: Option<String>,
    },
    /// A merge attempt began: `approved` onto the integration tip `onto`
    /// (`None`: the branch is created from the base).
    MergeStarted {
        slice: SliceName,
        attempt: u64,
        approved: String,
        onto: String,
    },
    MergeConflicted {
        slice: SliceName,
        attempt: u64,
        paths: Vec<String>,
    },
    /// The check runs on the merge commit in the integration worktree.
    CheckStarted {
        slice: SliceName,
        attempt: u64,
        merge_commit: String,
        command: String,
    },
    CheckPassed {
        slice: SliceName,
        attempt: u64,
        merge_commit: String,
    },
    CheckFailed {
        slice: SliceName,
        attempt: u64,
        merge_commit: String,
        reason: String,
    },
    /// The integration branch moved from `from` to the merge commit.
    Merged {
        slice: SliceName,
        attempt: u64,
        approved: String,
        branch: String,
        from: Option<String>,
        commit: String,
    },
    /// The attempt ended without merging, for `reason`; the integration
    /// branch did not move.
    MergeFailed {
        slice: SliceName,
        attempt: u64,
        reason: String,
    },
    /// An attempt a supervisor never finished (it was killed); found on start.
    MergeInterrupted {
        slice: SliceName,
        attempt: u64,
    },
    /// A slice this one comes after merged.
    UpstreamMerged {
        slice: SliceName,
        upstream: SliceName,
    },
    FeedbackSent {
        slice: SliceName,
        about: String,
    },
    /// What a waiting agent asks, as its screen shows it now (its last
    /// lines); sent again when that changes while it waits. For the
    /// board's peek line; not journaled.
    Asks {
        slice: SliceName,
        text: String,
    },
    /// An agent's screen says it hit its usage limit, and when that
    /// resets; `resumes` when the plan has it go on then by itself
    /// (`[agent] resume_after_limit`).
    LimitHit {
        slice: SliceName,
        resets_at: Timestamp,
        line: String,
        resumes: bool,
    },
    /// A slice's usage as read again (tokens, money, context, budget); for
    /// the board's row, not journaled. A compaction it reports is an
    /// Events line.
    UsageChanged {
        slice: SliceName,
        usage: Box<crate::domain::usage::SliceUsage>,
    },
    /// A slice spent most of its budget (80%): the operator is called.
    BudgetNear {
        slice: SliceName,
        budget: crate::domain::usage::Budget,
        /// Of the budget, 0.8 and up.
        spent: f64,
    },
    /// A slice spent its budget: its agent is paused until the operator
    /// raises it.
    BudgetReached {
        slice: SliceName,
        budget: crate::domain::usage::Budget,
    },
    /// The operator raised a slice's budget (by its own size again).
    BudgetRaised {
        slice: SliceName,
        budget: crate::domain::usage::Budget,
    },
    /// The limit reset and the agent went on (`how`: the prompt sent, or
    /// the restart).
    ResumedAfterLimit {
        slice: SliceName,
        how: String,
    },
    /// A prompt went to the agent (a paste and Enter), from the operator or
    /// the merge queue's feedback; `text` is what was sent.
    PromptSent {
        slice: SliceName,
        text: String,
    },
    /// The worktree's setup ran (or was skipped): how it ended.
    SetupFinished {
        slice: SliceName,
        state: SetupState,
    },
    /// Ports were reserved for the slice (`[worktree] ports`): all it
    /// holds now, by name.
    PortsReserved {
        slice: SliceName,
        ports: std::collections::BTreeMap<String, u16>,
    },
    /// The plan's `[worktree] teardown` ran before the worktree was
    /// removed: whether every command passed, the one that failed and
    /// its exit code, and the last lines it printed.
    TeardownRan {
        slice: SliceName,
        passed: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failed: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        lines: Vec<String>,
    },
    /// A slice's worktree was removed with `clean`; its branch deleted
    /// when the integration branch held all of it, otherwise kept as
    /// `kept_as` (under `sliceboard/cleaned/`) with its unmerged commits.
    SliceCleaned {
        slice: SliceName,
        branch: String,
        forced: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kept_as: Option<String>,
    },
    /// A variant the operator did not pick: its worktree removed, its
    /// branch renamed to `branch` (under `sliceboard/retired/`).
    SliceRetired {
        slice: SliceName,
        picked: SliceName,
        branch: String,
    },
    /// A pick cut off before it retired every sibling (the supervisor was
    /// killed) was finished by the next supervisor: the siblings it
    /// retired then, and the ones left, each with why.
    PickResumed {
        slice: SliceName,
        retired: Vec<SliceName>,
        left: Vec<String>,
    },
    /// The planner was sent the aggregate result to review.
    ReviewSent {
        slice: SliceName,
        merged: usize,
        of: usize,
    },
    /// State and reality disagree; found on start or on a refresh.
    DriftFound {
        slice: SliceName,
        drift: Drift,
    },
    /// An agent group an earlier supervisor started is still alive in the
    /// slice's worktree (it outlived that supervisor; nothing reaches its
    /// terminal). No agent starts in the slice until it ends.
    LeftRunningFound {
        slice: SliceName,
        pid: i32,
    },
    /// That group ended: by itself, or ended by the operator.
    LeftRunningEnded {
        slice: SliceName,
        pid: i32,
        how: LeftRunningEnd,
    },
    /// A long operation's progress, for the status line.
    Progress {
        slice: Option<SliceName>,
        message: String,
    },
    /// A command failed; `message` says what to do.
    CommandFailed {
        command: Box<Command>,
        message: String,
    },
}

impl Event {
    /// The slice the event is about, if any.
    pub fn slice(&self) -> Option<&SliceName> {
        match self {
            Event::LifecycleChanged { slice, .. }
            | Event::SetupFinished { slice, .. }
            | Event::TeardownRan { slice, .. }
            | Event::PortsReserved { slice, .. }
            | Event::WorktreeCreated { slice, .. }
            | Event::WorktreeRemoved { slice, .. }
            | Event::AgentStatusChanged { slice, .. }
            | Event::AgentStarted { slice, .. }
            | Event::ActivityChanged { slice, .. }
            | Event::Approved { slice, .. }
            | Event::HandedOver { slice, .. }
            | Event::ApprovalWithdrawn { slice }
            | Event::ApprovalStale { slice, .. }
            | Event::MergeStarted { slice, .. }
            | Event::MergeConflicted { slice, .. }
            | Event::CheckStarted { slice, .. }
            | Event::CheckPassed { slice, .. }
            | Event::CheckFailed { slice, .. }
            | Event::Merged { slice, .. }
            | Event::MergeFailed { slice, .. }
            | Event::MergeInterrupted { slice, .. }
            | Event::UpstreamMerged { slice, .. }
            | Event::FeedbackSent { slice, .. }
            | Event::PromptSent { slice, .. }
            | Event::LimitHit { slice, .. }
            | Event::UsageChanged { slice, .. }
            | Event::BudgetNear { slice, .. }
            | Event::BudgetReached { slice, .. }
            | Event::BudgetRaised { slice, .. }
            | Event::ResumedAfterLimit { slice, .. }
            | Event::Asks { slice, .. }
            | Event::SliceCleaned { slice, .. }
            | Event::SliceRetired { slice, .. }
            | Event::PickResumed { slice, .. }
            | Event::ReviewSent { slice, .. }
            | Event::DriftFound { slice, .. }
            | Event::LeftRunningFound { slice, .. }
            | Event::LeftRunningEnded { slice, .. } => Some(slice),
            Event::Progress { slice, .. } => slice.as_ref(),
            Event::CommandFailed { command, .. } => command.slice(),
            Event::WorktreesPruned { .. } | Event::QueueHeld { .. } | Event::Published { .. } => {
                None
            }
        }
    }
}

/// How an agent group left running by an earlier supervisor ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftRunningEnd {
    /// Nobody ended it: its processes exited.
    ByItself,
    /// Ended on the operator's word; SIGTERM was enough.
    Terminated,
    /// Ended on the operator's word; SIGKILL was needed.
    Killed,
}

/// A way state and the repository can disagree, found by reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Drift {
    /// The worktree folder is gone though the slice should have one.
    WorktreeMissing { path: PathBuf },
    /// The folder exists but git no longer knows it as a worktree.
    WorktreeUnregistered { path: PathBuf },
    /// The worktree has another branch checked out than the slice's.
    WrongBranch {
        expected: String,
        found: Option<String>,
    },
    /// The slice's branch was deleted.
    BranchMissing { branch: String },
    /// The branch was moved to a commit that does not contain the one we
    /// last saw (reset or rewritten history).
    BranchRewritten {
        branch: String,
        was: String,
        now: String,
    },
}

impl Drift {
    /// One line for a person, with what to do about it.
    pub fn describe(&self, slice: &SliceName) -> String {
        match self {
            Drift::WorktreeMissing { path } => format!(
                "worktree {} was removed outside sliceboard; run `sliceboard up {slice}` to recreate it from its branch, or `sliceboard down {slice} --force` to forget it",
                path.display()
            ),
            Drift::WorktreeUnregistered { path } => format!(
                "folder {} is no longer a git worktree (its record was pruned); move it aside and run `sliceboard up {slice}`",
                path.display()
            ),
            Drift::WrongBranch { expected, found } => format!(
                "worktree has {} checked out instead of {expected}; run `git switch {expected}` in it",
                found.as_deref().unwrap_or("a detached HEAD")
            ),
            Drift::BranchMissing { branch } => format!(
                "branch {branch} was deleted; run `sliceboard up {slice}` to recreate it from the base"
            ),
            Drift::BranchRewritten { branch, was, now } => format!(
                "branch {branch} moved from {} to {}, which does not contain it (reset or rebased outside sliceboard); check the agent's work before approving",
                short_commit(was),
                short_commit(now)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_events_round_trip_as_json_lines() {
        let slice = SliceName::parse("staging").unwrap();
        let command = Command::ResizeAgent {
            slice: slice.clone(),
            cols: 120,
            rows: 40,
        };
        let line = serde_json::to_string(&command).unwrap();
        assert_eq!(
            line,
            r#"{"command":"resize_agent","slice":"staging","cols":120,"rows":40}"#
        );
        assert_eq!(serde_json::from_str::<Command>(&line).unwrap(), command);

        let event = Event::DriftFound {
            slice,
            drift: Drift::BranchMissing {
                branch: "slice/staging".into(),
            },
        };
        let line = serde_json::to_string(&event).unwrap();
        assert_eq!(
            line,
            r#"{"event":"drift_found","slice":"staging","drift":{"kind":"branch_missing","branch":"slice/staging"}}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), event);
    }
}
