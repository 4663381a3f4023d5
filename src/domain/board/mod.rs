//! The board: what every dashboard shows about every slice, as plain data.
//!
//! The supervisor owns the one true [`Board`]; each attached dashboard
//! gets a copy in its hello (the snapshot) and then every
//! [`BoardUpdate`], which it applies with the same [`Board::apply`], so a
//! client can never drift from the supervisor by applying updates
//! differently. Terminal screens are not part of the board: they travel
//! as pane frames (`domain::pane`), only for the panes a client shows.
//!
//! This file owns the board's data and the one way it changes
//! ([`Board::apply`]); `words` says it in text (the Events tab's lines,
//! agent words, durations). Plain data: nothing here may know the socket,
//! the journal's file or a terminal.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::command::Event;
use super::comments::{self, Review};
use super::dbt_run::DbtRun;
use super::diff::{SliceDiff, WatchMode};
use super::ownership::{Ownership, PathFlag};
use super::plan_change::PlanProblem;
use super::queue::{CHECK_LINES_KEPT, QueueBoard};
use super::setup::SetupState;
use super::slice::{Activity, ActivitySource, AgentStatus, Lifecycle, SliceName};

/// What the board and `status` say of a slice the plan no longer lists.
pub const REMOVED_FROM_PLAN: &str = "removed from the plan";

/// How many journal lines the Events tab keeps per slice.
pub const EVENTS_KEPT: usize = 200;

/// How many log lines a slice keeps for the dbt and Logs tabs.
pub const LOG_LINES_KEPT: usize = 5_000;

mod words;

use words::signal_text;
pub use words::{
    AgentReport, LEFT_RUNNING, activity_text, agent_word, describe, duration_text,
    left_running_word, pending_reason, status_text,
};

/// Everything the board shows, for every slice in plan order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Board {
    /// The repository's folder, as the supervisor sees it.
    pub repo: String,
    pub slices: Vec<SliceRow>,
    /// The merge queue: order, each slice's merge state, previews.
    #[serde(default)]
    pub queue: QueueBoard,
    /// Why the plan on disk is not the one in force (it does not load, or
    /// it changes what needs a restart); `None` when they agree.
    #[serde(default)]
    pub plan_problem: Option<PlanProblem>,
    /// A walkthrough to show beside the board (the demo's), from the
    /// state folder's `guide.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guide: Option<super::guide::Guide>,
}

/// One slice as the board shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceRow {
    pub name: SliceName,
    pub lifecycle: Lifecycle,
    pub status: AgentStatus,
    pub activity: Option<Activity>,
    /// Where `activity` came from: the agent's signal, the bell or the screen.
    #[serde(default)]
    pub activity_source: Option<ActivitySource>,
    /// The agent's last signal since the supervisor started, e.g. `idle from claude Stop`:
    /// how the operator checks that hooks arrive.
    #[serde(default)]
    pub last_signal: Option<String>,
    /// Its calls are muted: its transitions show on the board only.
    #[serde(default)]
    pub muted: bool,
    /// What the agent asks while it waits (its screen's last lines when it
    /// started waiting), for the board's peek line.
    #[serde(default)]
    pub asks: Option<String>,
    /// The usage limit its agent hit, until the agent goes on.
    #[serde(default)]
    pub limit: Option<RowLimit>,
    /// What its agents used and cost, once any use is known.
    #[serde(default)]
    pub usage: Option<crate::domain::usage::SliceUsage>,
    /// The running agent's pid (its process group), while it runs.
    #[serde(default)]
    pub pid: Option<i32>,
    pub dbt: Option<DbtRun>,
    /// Journal and live events, newest last.
    pub events: Vec<EventLine>,
    pub worktree: PathBuf,
    /// dbt's log as a person reads it, newest last.
    pub dbt_log: VecDeque<String>,
    /// The slice's extra log files (the plan's `logs` globs), newest last.
    pub logs: VecDeque<String>,
    /// Whether the plan asks this slice to follow any extra logs.
    pub follows_logs: bool,
    /// The live diff; `None` until the first one is read.
    pub diff: Option<Arc<SliceDiff>>,
    pub diff_mode: WatchMode,
    /// Why the last diff failed (the one shown is then the last good one).
    pub diff_error: Option<String>,
    /// Ownership and overlap warnings about the slice's changed paths.
    pub flags: Vec<PathFlag>,
    /// The operator's review comments not yet sent, placed on `diff`, and
    /// their last look.
    #[serde(default)]
    pub review: Review,
    /// The worktree's setup, when the plan has one and it ran.
    #[serde(default)]
    pub setup: Option<SetupState>,
    /// An agent group an earlier supervisor left running in the worktree,
    /// while it lives: no agent starts here until it ends.
    #[serde(default)]
    pub left_running: Option<LeftRunning>,
    /// The slice this one is a competing variant of (`variants` in the plan).
    #[serde(default)]
    pub variant_of: Option<SliceName>,
    /// What its agent runs in (`[agent] sandbox` and `network`).
    #[serde(default)]
    pub sandbox: crate::domain::sandbox::SliceBox,
    /// The ports reserved for it by name (`[worktree] ports`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, u16>,
    /// When its agent first ran in this supervisor's life, and when it
    /// last ended (unset while it runs): the time a variant took.
    #[serde(default)]
    pub agent_started: Option<Timestamp>,
    #[serde(default)]
    pub agent_ended: Option<Timestamp>,
    /// The plan no longer lists the slice; it stays on the board while its
    /// worktree exists or its agent runs.
    #[serde(default)]
    pub removed: bool,
}

/// A usage limit an agent hit: when it resets, and whether the agent goes
/// on by itself then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowLimit {
    pub resets_at: Timestamp,
    pub resumes: bool,
}

/// An agent group left running by an earlier supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftRunning {
    /// Its leader's pid, which is also its process group.
    pub pid: i32,
}

impl SliceRow {
    /// A slice nothing has happened to yet in this run.
    pub fn new(name: SliceName, lifecycle: Lifecycle, worktree: PathBuf) -> Self {
        Self {
            name,
            lifecycle,
            status: AgentStatus::NotStarted,
            activity: None,
            activity_source: None,
            last_signal: None,
            asks: None,
            limit: None,
            usage: None,
            muted: false,
            pid: None,
            dbt: None,
            events: Vec::new(),
            worktree,
            dbt_log: VecDeque::new(),
            logs: VecDeque::new(),
            follows_logs: false,
            diff: None,
            diff_mode: WatchMode::Missing,
            diff_error: None,
            flags: Vec::new(),
            review: Review::default(),
            setup: None,
            left_running: None,
            variant_of: None,
            sandbox: crate::domain::sandbox::SliceBox::default(),
            ports: BTreeMap::new(),
            agent_started: None,
            agent_ended: None,
            removed: false,
        }
    }

    /// Adds lines to a log buffer, dropping the oldest past the limit.
    pub fn append(buffer: &mut VecDeque<String>, lines: Vec<String>) {
        buffer.extend(lines);
        while buffer.len() > LOG_LINES_KEPT {
            buffer.pop_front();
        }
    }
}

/// Ports by name as the board and `status` show them: `web 21363, db 24001`.
pub fn ports_text(ports: &BTreeMap<String, u16>) -> String {
    ports
        .iter()
        .map(|(name, port)| format!("{name} {port}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A change to the board, as the supervisor sends it to every client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "update", rename_all = "snake_case")]
pub enum BoardUpdate {
    /// Something happened (lifecycle, agent status, activity, approval, a
    /// failed command); also written in the journal.
    Event {
        event: Event,
        /// When it happened (the supervisor's clock).
        #[serde(default)]
        at: Option<Timestamp>,
    },
    /// A slice's new live diff, and the ownership flags of every slice
    /// (a change in one slice can add or clear an overlap on another).
    Diff {
        slice: SliceName,
        diff: Arc<SliceDiff>,
        mode: WatchMode,
        error: Option<String>,
        flags: BTreeMap<SliceName, Vec<PathFlag>>,
    },
    /// The slice's latest dbt run, read again.
    Dbt {
        slice: SliceName,
        run: Option<DbtRun>,
    },
    /// New lines of a slice's dbt log and extra logs.
    Lines {
        slice: SliceName,
        dbt: Vec<String>,
        extra: Vec<String>,
    },
    /// Every slice's ownership and overlap flags, computed again because
    /// the plan in force changed (its `owns`, or its list of slices).
    Flags {
        flags: BTreeMap<SliceName, Vec<PathFlag>>,
    },
    /// The merge queue changed (its check output travels apart).
    Queue { queue: QueueBoard },
    /// The plan file changed: slices it added (as planned rows), slices it
    /// removed, and what stops the file's plan from being in force.
    Plan {
        added: Vec<SliceRow>,
        removed: Vec<SliceName>,
        problem: Option<PlanProblem>,
        #[serde(default)]
        at: Option<Timestamp>,
    },
    /// New lines of the merge check's output; `fresh` starts a new attempt's.
    CheckOutput {
        attempt: u64,
        lines: Vec<String>,
        fresh: bool,
    },
    /// The operator muted or unmuted a slice's calls.
    Muted { slice: SliceName, muted: bool },
    /// A slice's review comments or last look changed (placed again on
    /// the diff by whoever applies it).
    Review { slice: SliceName, review: Review },
}

impl Board {
    pub fn row(&self, slice: &SliceName) -> Option<&SliceRow> {
        self.slices.iter().find(|r| &r.name == slice)
    }

    pub fn row_mut(&mut self, slice: &SliceName) -> Option<&mut SliceRow> {
        self.slices.iter_mut().find(|r| &r.name == slice)
    }

    /// Every slice's ownership and overlap flags from the diffs the board
    /// holds, with `fresh` in place of its slice's. A slice removed from
    /// the plan owns nothing and will not merge: it is neither flagged
    /// nor the cause of another's flag.
    pub fn flags(
        &self,
        ownership: &Ownership,
        fresh: Option<(&SliceName, &SliceDiff)>,
    ) -> BTreeMap<SliceName, Vec<PathFlag>> {
        let changed: Vec<(SliceName, Vec<&str>)> = self
            .slices
            .iter()
            .filter(|row| !row.removed)
            .filter_map(|row| {
                let diff = match fresh {
                    Some((slice, diff)) if *slice == row.name => diff,
                    _ => row.diff.as_deref()?,
                };
                Some((row.name.clone(), diff.paths().collect()))
            })
            .collect();
        ownership.flag_changes(&changed)
    }

    /// Whether every slice's flags are already `flags`.
    pub fn flags_are(&self, flags: &BTreeMap<SliceName, Vec<PathFlag>>) -> bool {
        self.slices
            .iter()
            .all(|row| row.flags.as_slice() == flags.get(&row.name).map_or(&[][..], Vec::as_slice))
    }

    fn set_flags(&mut self, flags: &BTreeMap<SliceName, Vec<PathFlag>>) {
        for row in &mut self.slices {
            row.flags = flags.get(&row.name).cloned().unwrap_or_default();
        }
    }

    /// Applies one update.
    pub fn apply(&mut self, update: &BoardUpdate) {
        match update {
            BoardUpdate::Event { event, at } => self.apply_event(event, *at),
            BoardUpdate::Diff {
                slice,
                diff,
                mode,
                error,
                flags,
            } => {
                if let Some(row) = self.row_mut(slice) {
                    row.diff = Some(diff.clone());
                    row.diff_mode = mode.clone();
                    row.diff_error = error.clone();
                    comments::place_all(&mut row.review.comments, Some(diff));
                }
                self.set_flags(flags);
            }
            BoardUpdate::Flags { flags } => self.set_flags(flags),
            BoardUpdate::Dbt { slice, run } => {
                if let Some(row) = self.row_mut(slice) {
                    row.dbt = run.clone();
                }
            }
            BoardUpdate::Lines { slice, dbt, extra } => {
                if let Some(row) = self.row_mut(slice) {
                    SliceRow::append(&mut row.dbt_log, dbt.clone());
                    SliceRow::append(&mut row.logs, extra.clone());
                }
            }
            BoardUpdate::Queue { queue } => {
                let output = std::mem::take(&mut self.queue.check_output);
                self.queue = queue.clone();
                self.queue.check_output = output;
            }
            BoardUpdate::Plan {
                added,
                removed,
                problem,
                at,
            } => self.apply_plan(added, removed, problem, *at),
            BoardUpdate::Muted { slice, muted } => {
                if let Some(row) = self.slices.iter_mut().find(|r| r.name == *slice) {
                    row.muted = *muted;
                }
            }
            BoardUpdate::Review { slice, review } => {
                if let Some(row) = self.row_mut(slice) {
                    row.review = review.clone();
                    comments::place_all(&mut row.review.comments, row.diff.as_deref());
                }
            }
            BoardUpdate::CheckOutput { lines, fresh, .. } => {
                let output = &mut self.queue.check_output;
                if *fresh {
                    output.clear();
                }
                output.extend(lines.iter().cloned());
                while output.len() > CHECK_LINES_KEPT {
                    output.pop_front();
                }
            }
        }
    }

    /// A slice removed from the plan that was never created and runs no
    /// agent leaves the board; any other stays, marked, until it is gone.
    fn apply_plan(
        &mut self,
        added: &[SliceRow],
        removed: &[SliceName],
        problem: &Option<PlanProblem>,
        at: Option<Timestamp>,
    ) {
        self.plan_problem = problem.clone();
        for row in added {
            let text = "added to the plan".to_owned();
            match self.row_mut(&row.name) {
                Some(kept) => {
                    kept.removed = false;
                    kept.events.push(EventLine { at, text });
                }
                None => {
                    let mut row = row.clone();
                    row.events.push(EventLine { at, text });
                    self.slices.push(row);
                }
            }
        }
        for name in removed {
            let gone = self.row(name).is_some_and(|r| {
                r.lifecycle == Lifecycle::Planned
                    && !matches!(
                        r.status,
                        AgentStatus::Running | AgentStatus::Paused | AgentStatus::Pending
                    )
            });
            if gone {
                self.slices.retain(|r| &r.name != name);
            } else if let Some(row) = self.row_mut(name) {
                row.removed = true;
                row.events.push(EventLine {
                    at,
                    text: REMOVED_FROM_PLAN.to_owned(),
                });
            }
        }
    }

    fn apply_event(&mut self, event: &Event, at: Option<Timestamp>) {
        let Some(row) = event.slice().and_then(|s| self.row_mut(s)) else {
            return;
        };
        match event {
            Event::AgentStatusChanged { status, .. } => {
                row.status = *status;
                match status {
                    AgentStatus::Running => {
                        row.agent_started = row.agent_started.or(at);
                        row.agent_ended = None;
                    }
                    AgentStatus::Exited { .. } | AgentStatus::Killed => row.agent_ended = at,
                    _ => {}
                }
                if !matches!(status, AgentStatus::Running | AgentStatus::Paused) {
                    row.activity = None;
                    row.activity_source = None;
                }
                if !matches!(
                    status,
                    AgentStatus::Running | AgentStatus::Paused | AgentStatus::Pending
                ) {
                    row.pid = None;
                }
            }
            Event::Asks { text, .. } => {
                row.asks = Some(text.clone());
                // The peek line, not an Events line.
                return;
            }
            Event::UsageChanged { usage, .. } => {
                let compacted =
                    usage.usage.compactions > row.usage.as_ref().map_or(0, |u| u.usage.compactions);
                let was_known = row.usage.is_some();
                row.usage = Some((**usage).clone());
                // The row's numbers; a compaction (not the first reading of
                // an old transcript) is an Events line.
                if !compacted || !was_known {
                    return;
                }
            }
            Event::AgentStarted { pid, .. } => {
                row.pid = Some(*pid);
                row.limit = None;
                // Not an Events line: the status change that follows is.
                return;
            }
            Event::ActivityChanged {
                activity,
                source,
                origin,
                ..
            } => {
                // What it asks comes apart (`Event::Asks`), while it waits.
                if *activity != Activity::Waiting {
                    row.asks = None;
                }
                // Working again: the limit is behind it.
                if *activity == Activity::Busy {
                    row.limit = None;
                }
                if *source == ActivitySource::Signal {
                    row.last_signal = Some(signal_text(*activity, origin.as_deref()));
                }
                let same = row.activity == Some(*activity) && row.activity_source == Some(*source);
                row.activity = Some(*activity);
                row.activity_source = Some(*source);
                // A hook repeating itself (every tool call) is no news.
                if same {
                    return;
                }
            }
            Event::LifecycleChanged { to, .. } => {
                row.lifecycle = *to;
                // Cleaned or retired on purpose: its ports were released.
                if matches!(to, Lifecycle::Cleaned | Lifecycle::Retired) {
                    row.ports.clear();
                }
            }
            Event::PortsReserved { ports, .. } => row.ports.clone_from(ports),
            Event::SetupFinished { state, .. } => row.setup = Some(state.clone()),
            Event::TeardownRan { lines, .. } => SliceRow::append(
                &mut row.logs,
                lines.iter().map(|l| format!("teardown | {l}")).collect(),
            ),
            Event::WorktreeCreated { path, .. } => row.worktree = path.clone(),
            Event::LimitHit {
                resets_at, resumes, ..
            } => {
                row.limit = Some(RowLimit {
                    resets_at: *resets_at,
                    resumes: *resumes,
                });
            }
            Event::ResumedAfterLimit { .. } => row.limit = None,
            Event::LeftRunningFound { pid, .. } => {
                row.left_running = Some(LeftRunning { pid: *pid })
            }
            // An earlier mark's end leaves a newer one.
            Event::LeftRunningEnded { pid, .. }
                if row.left_running.is_some_and(|left| left.pid == *pid) =>
            {
                row.left_running = None;
            }
            _ => {}
        }
        row.events.push(EventLine {
            at,
            text: describe(event),
        });
        if row.events.len() > EVENTS_KEPT {
            row.events.remove(0);
        }
    }
}

/// One line of a slice's Events tab: when, and what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventLine {
    pub at: Option<Timestamp>,
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::command::LeftRunningEnd;

    fn board() -> Board {
        Board {
            repo: "/r".into(),
            slices: vec![SliceRow::new(
                SliceName::parse("staging").unwrap(),
                Lifecycle::Ready,
                "/r.slices/staging".into(),
            )],
            queue: QueueBoard::default(),
            plan_problem: None,
            guide: None,
        }
    }

    #[test]
    fn usage_updates_the_row_and_only_a_new_compaction_is_an_events_line() {
        use crate::domain::usage::{ContextFill, SliceUsage, Tokens, Usage};
        let slice = SliceName::parse("staging").unwrap();
        let mut board = board();
        let usage = |compactions: u32, output: u64| {
            let mut usage = Usage {
                context: Some(ContextFill {
                    used: 170_000,
                    window: 200_000,
                }),
                compactions,
                ..Usage::default()
            };
            usage.by_model.insert(
                "claude-sonnet-4-5".into(),
                Tokens {
                    output,
                    ..Tokens::default()
                },
            );
            BoardUpdate::Event {
                at: None,
                event: Event::UsageChanged {
                    slice: slice.clone(),
                    usage: Box::new(SliceUsage {
                        usage,
                        ..SliceUsage::default()
                    }),
                },
            }
        };
        // A transcript read for the first time brings its old compactions.
        board.apply(&usage(1, 10));
        board.apply(&usage(1, 20));
        let row = board.row(&slice).unwrap();
        assert!(row.events.is_empty(), "{:?}", row.events);
        assert_eq!(row.usage.as_ref().unwrap().usage.tokens().output, 20);
        board.apply(&usage(2, 30));
        let texts: Vec<&str> = board
            .row(&slice)
            .unwrap()
            .events
            .iter()
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(texts, ["context compacted (now 85% full)"]);
    }

    #[test]
    fn an_agents_first_start_and_last_end_are_kept_for_the_time_it_took() {
        let slice = SliceName::parse("staging").unwrap();
        let mut board = board();
        let at = |t: &str| Some(t.parse::<Timestamp>().unwrap());
        for (when, status) in [
            ("2026-12-01T10:00:00Z", AgentStatus::Running),
            (
                "2026-12-01T10:05:00Z",
                AgentStatus::Exited { code: Some(1) },
            ),
            ("2026-12-01T10:06:00Z", AgentStatus::Running),
            ("2026-12-01T10:09:00Z", AgentStatus::Killed),
        ] {
            board.apply(&BoardUpdate::Event {
                at: at(when),
                event: Event::AgentStatusChanged {
                    slice: slice.clone(),
                    status,
                },
            });
        }
        let row = board.row(&slice).unwrap();
        assert_eq!(row.agent_started, at("2026-12-01T10:00:00Z"));
        assert_eq!(row.agent_ended, at("2026-12-01T10:09:00Z"));
    }

    #[test]
    fn a_repeated_signal_updates_the_last_signal_without_an_events_line() {
        let slice = SliceName::parse("staging").unwrap();
        let mut board = board();
        for origin in ["claude PreToolUse", "claude PostToolUse"] {
            board.apply(&BoardUpdate::Event {
                at: None,
                event: Event::ActivityChanged {
                    slice: slice.clone(),
                    activity: Activity::Busy,
                    source: ActivitySource::Signal,
                    origin: Some(origin.into()),
                },
            });
        }
        let row = &board.slices[0];
        let texts: Vec<&str> = row.events.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["activity busy from claude PreToolUse"]);
        assert_eq!(
            row.last_signal.as_deref(),
            Some("busy from claude PostToolUse")
        );
        board.apply(&BoardUpdate::Event {
            at: None,
            event: Event::ActivityChanged {
                slice,
                activity: Activity::Unknown,
                source: ActivitySource::Screen,
                origin: None,
            },
        });
        let row = &board.slices[0];
        assert_eq!(
            row.events[1].text,
            "activity unknown (a guess from the screen)"
        );
        assert_eq!(row.activity_source, Some(ActivitySource::Screen));
    }

    #[test]
    fn an_ended_agent_loses_its_pid_and_activity() {
        let slice = SliceName::parse("staging").unwrap();
        let mut board = board();
        board.apply(&BoardUpdate::Event {
            at: None,
            event: Event::AgentStarted {
                slice: slice.clone(),
                pid: 42,
            },
        });
        board.apply(&BoardUpdate::Event {
            at: None,
            event: Event::ActivityChanged {
                slice: slice.clone(),
                activity: Activity::Busy,
                source: ActivitySource::Signal,
                origin: Some("claude PreToolUse".into()),
            },
        });
        assert_eq!(board.slices[0].pid, Some(42));
        assert_eq!(
            board.slices[0].last_signal.as_deref(),
            Some("busy from claude PreToolUse")
        );
        board.apply(&BoardUpdate::Event {
            at: None,
            event: Event::AgentStatusChanged {
                slice,
                status: AgentStatus::Killed,
            },
        });
        assert_eq!(board.slices[0].pid, None);
        assert_eq!(board.slices[0].activity, None);
        assert_eq!(
            board.slices[0].events.len(),
            2,
            "the start itself is no Events line"
        );
    }

    #[test]
    fn a_group_left_running_is_marked_until_that_group_ends() {
        let slice = SliceName::parse("staging").unwrap();
        let mut board = board();
        let event = |event| BoardUpdate::Event { at: None, event };
        board.apply(&event(Event::LeftRunningFound {
            slice: slice.clone(),
            pid: 41,
        }));
        assert_eq!(board.slices[0].left_running, Some(LeftRunning { pid: 41 }));
        let report = board.slices[0].agent_report();
        assert_eq!(report.word(), "left running (pid 41)");
        // Another group's end (an earlier mark) leaves this one.
        board.apply(&event(Event::LeftRunningEnded {
            slice: slice.clone(),
            pid: 7,
            how: LeftRunningEnd::ByItself,
        }));
        assert!(board.slices[0].left_running.is_some());
        board.apply(&event(Event::LeftRunningEnded {
            slice,
            pid: 41,
            how: LeftRunningEnd::Terminated,
        }));
        assert_eq!(board.slices[0].left_running, None);
        let texts: Vec<&str> = board.slices[0]
            .events
            .iter()
            .map(|e| e.text.as_str())
            .collect();
        assert!(
            texts[0].contains("agent group 41 was left running by a previous supervisor"),
            "{texts:?}"
        );
        assert_eq!(
            texts[2],
            "agent group 41, left running by a previous supervisor, ended (SIGTERM)"
        );
    }

    #[test]
    fn a_board_round_trips_as_json() {
        let board = board();
        let json = serde_json::to_string(&board).unwrap();
        assert_eq!(serde_json::from_str::<Board>(&json).unwrap(), board);
    }

    #[test]
    fn a_removed_slice_stays_marked_unless_it_was_never_created() {
        let staging = SliceName::parse("staging").unwrap();
        let macros = SliceName::parse("macros").unwrap();
        let mut board = board();
        let plan = |added: Vec<SliceRow>, removed: Vec<SliceName>| BoardUpdate::Plan {
            added,
            removed,
            problem: None,
            at: None,
        };
        board.apply(&plan(
            vec![SliceRow::new(
                macros.clone(),
                Lifecycle::Planned,
                "/r.slices/macros".into(),
            )],
            Vec::new(),
        ));
        assert_eq!(board.slices.len(), 2);
        // staging has a worktree (ready): marked. macros never made: gone.
        board.apply(&plan(Vec::new(), vec![staging.clone(), macros.clone()]));
        assert_eq!(board.slices.len(), 1);
        assert!(board.slices[0].removed);
        assert_eq!(
            board.slices[0].events.last().map(|e| e.text.as_str()),
            Some(REMOVED_FROM_PLAN)
        );
        // Added back, it is the same row, no longer marked.
        let again = SliceRow::new(staging, Lifecycle::Planned, "/elsewhere".into());
        board.apply(&plan(vec![again], Vec::new()));
        assert_eq!(board.slices.len(), 1);
        assert!(!board.slices[0].removed);
        assert_eq!(board.slices[0].lifecycle, Lifecycle::Ready);
    }
}
