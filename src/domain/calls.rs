//! When sliceboard calls the operator: the transitions worth a bell, a
//! desktop notification or the plan's `[notify] command`, found by
//! comparing what the board said before an update with what it says
//! after, so a call comes once per transition, never per poll; and the
//! debounce that keeps a state flickering back within a few seconds from
//! calling twice.
//!
//! Pure: the supervisor's hub keeps a [`Glance`] of its board and a
//! [`Debounce`], and decides where each [`Call`] goes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::board::{Board, BoardUpdate, SliceRow};
use super::command::Event;
use super::slice::{Activity, AgentStatus, Lifecycle, SliceName};

/// Why sliceboard calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// An agent started waiting for the operator.
    Waiting,
    /// An agent's turn is over (idle or done after busy).
    Done,
    /// An agent exited with an error.
    Failed,
    /// A slice's dbt run failed, errored or was aborted.
    DbtFailed,
    /// A merge conflicted or its check failed.
    MergeFailed,
    /// A slice merged.
    Merged,
    /// An agent hit its usage limit.
    Limited,
    /// A slice spent 80% of its budget, or all of it (its agent paused).
    Budget,
    /// The merge queue has nothing left queued.
    QueueEmpty,
}

impl Reason {
    pub const ALL: [Reason; 9] = [
        Reason::Waiting,
        Reason::Done,
        Reason::Failed,
        Reason::DbtFailed,
        Reason::MergeFailed,
        Reason::Merged,
        Reason::Limited,
        Reason::Budget,
        Reason::QueueEmpty,
    ];

    /// The name the plan's `[notify] on` and the command's environment use.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Waiting => "waiting",
            Reason::Done => "done",
            Reason::Failed => "failed",
            Reason::DbtFailed => "dbt_failed",
            Reason::MergeFailed => "merge_failed",
            Reason::Merged => "merged",
            Reason::Limited => "limited",
            Reason::Budget => "budget",
            Reason::QueueEmpty => "queue_empty",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Whether the call comes from a state that can flicker back (and is
    /// debounced), rather than from an event that happened once (a merge,
    /// a failed check, a limit hit: each one calls).
    pub fn debounced(self) -> bool {
        matches!(
            self,
            Reason::Waiting | Reason::Done | Reason::Failed | Reason::DbtFailed
        )
    }
}

/// One call to the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The slice it is about (none for the queue emptying).
    pub slice: Option<SliceName>,
    pub reason: Reason,
    /// What happened, in a few words, without the slice's name.
    pub message: String,
}

impl Call {
    /// The call as one line, for a notification's body.
    pub fn text(&self) -> String {
        match &self.slice {
            Some(slice) => format!("{slice}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// What of a board can call the operator, and nothing more, so it is
/// cheap to take after every update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Glance {
    slices: BTreeMap<SliceName, SliceGlance>,
    queued: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SliceGlance {
    activity: Option<Activity>,
    /// How the agent failed, while its last run is a failure.
    failed: Option<String>,
    /// The failed dbt run (its invocation, or its start), while the
    /// slice's last run is a failure.
    dbt_failed: Option<(String, String)>,
}

impl Glance {
    pub fn of(board: &Board) -> Self {
        let slices = board
            .slices
            .iter()
            .map(|row| {
                let running = row.status == AgentStatus::Running;
                let failed = match row.status {
                    AgentStatus::Exited { code: Some(0) } => None,
                    AgentStatus::Exited { code: Some(code) } => {
                        Some(format!("its agent exited with code {code}"))
                    }
                    AgentStatus::Exited { code: None } => {
                        Some("its agent was ended by a signal".to_owned())
                    }
                    _ => None,
                };
                let dbt_failed = row
                    .dbt
                    .as_ref()
                    .filter(|run| run.status.is_bad())
                    .map(|run| {
                        let id = run
                            .invocation_id
                            .clone()
                            .or_else(|| run.started_at.clone())
                            .unwrap_or_default();
                        (id, run.outcome())
                    });
                let glance = SliceGlance {
                    activity: row.activity.filter(|_| running),
                    failed,
                    dbt_failed,
                };
                (row.name.clone(), glance)
            })
            .collect();
        Self {
            slices,
            queued: board.queue.order.len(),
        }
    }
}

/// Whether `update` can change what a [`Glance`] sees: events, dbt runs,
/// the queue and the plan can; diffs, flags, log lines and the check's
/// output (most updates, while agents work) cannot, so no glance is taken.
pub fn may_call(update: &BoardUpdate) -> bool {
    match update {
        BoardUpdate::Event { .. }
        | BoardUpdate::Dbt { .. }
        | BoardUpdate::Queue { .. }
        | BoardUpdate::Plan { .. } => true,
        BoardUpdate::Diff { .. }
        | BoardUpdate::Lines { .. }
        | BoardUpdate::Flags { .. }
        | BoardUpdate::CheckOutput { .. }
        | BoardUpdate::Muted { .. }
        | BoardUpdate::Review { .. } => false,
    }
}

/// The calls between two glances of the board, around `update`.
pub fn calls(before: &Glance, after: &Glance, update: &BoardUpdate) -> Vec<Call> {
    let mut calls = Vec::new();
    let call = |slice: &SliceName, reason, message: String| Call {
        slice: Some(slice.clone()),
        reason,
        message,
    };
    for (slice, now) in &after.slices {
        let was = before.slices.get(slice).cloned().unwrap_or_default();
        if now.activity == Some(Activity::Waiting) && was.activity != Some(Activity::Waiting) {
            calls.push(call(slice, Reason::Waiting, "waits for you".into()));
        }
        if was.activity == Some(Activity::Busy)
            && matches!(now.activity, Some(Activity::Idle | Activity::Done))
        {
            let word = if now.activity == Some(Activity::Done) {
                "says it is done"
            } else {
                "finished its turn"
            };
            calls.push(call(slice, Reason::Done, word.into()));
        }
        if let Some(how) = now.failed.as_ref().filter(|_| was.failed.is_none()) {
            calls.push(call(slice, Reason::Failed, how.clone()));
        }
        if let Some((id, outcome)) = &now.dbt_failed
            && was
                .dbt_failed
                .as_ref()
                .is_none_or(|(was_id, _)| was_id != id)
        {
            let message = if outcome.starts_with("dbt ") {
                outcome.clone()
            } else {
                format!("dbt {outcome}")
            };
            calls.push(call(slice, Reason::DbtFailed, message));
        }
    }
    if let BoardUpdate::Event { event, .. } = update {
        match event {
            Event::MergeConflicted { slice, paths, .. } => calls.push(call(
                slice,
                Reason::MergeFailed,
                format!("its merge conflicts in {}", paths.join(", ")),
            )),
            Event::CheckFailed { slice, reason, .. } => calls.push(call(
                slice,
                Reason::MergeFailed,
                format!("its merge check failed: {reason}"),
            )),
            Event::Merged { slice, branch, .. } => {
                calls.push(call(slice, Reason::Merged, format!("merged into {branch}")));
            }
            Event::HandedOver {
                slice,
                attempts,
                reason,
            } => calls.push(call(
                slice,
                Reason::MergeFailed,
                format!("needs you: {attempts} merge attempts failed in a row ({reason})"),
            )),
            Event::LimitHit {
                slice,
                line,
                resumes,
                ..
            } => {
                let then = if *resumes {
                    "; it goes on when the limit resets"
                } else {
                    ""
                };
                calls.push(call(
                    slice,
                    Reason::Limited,
                    format!("hit its usage limit ({line}){then}"),
                ));
            }
            Event::BudgetNear {
                slice,
                budget,
                spent,
            } => calls.push(call(
                slice,
                Reason::Budget,
                format!(
                    "spent {:.0}% of its budget ({})",
                    spent * 100.0,
                    budget.label()
                ),
            )),
            Event::BudgetReached { slice, budget } => calls.push(call(
                slice,
                Reason::Budget,
                format!(
                    "spent its budget ({}); its agent is paused until you raise it",
                    budget.label()
                ),
            )),
            _ => {}
        }
    }
    if before.queued > 0 && after.queued == 0 {
        calls.push(Call {
            slice: None,
            reason: Reason::QueueEmpty,
            message: "the merge queue is empty".into(),
        });
    }
    calls
}

/// What a slice needs from the operator, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    /// Its running agent waits for an answer.
    Waiting,
    /// Its agent exited with an error, or its last dbt run failed.
    Failed,
    /// Its agent finished (idle, done, or exited cleanly) and nobody has
    /// approved the work yet.
    Done,
}

/// What `row` needs from the operator, if anything.
pub fn need(row: &SliceRow) -> Option<Need> {
    let running = row.status == AgentStatus::Running;
    if running && row.activity == Some(Activity::Waiting) {
        return Some(Need::Waiting);
    }
    let failed_exit = matches!(row.status, AgentStatus::Exited { code } if code != Some(0));
    if failed_exit || row.dbt.as_ref().is_some_and(|run| run.status.is_bad()) {
        return Some(Need::Failed);
    }
    let finished = (running && matches!(row.activity, Some(Activity::Idle | Activity::Done)))
        || row.status == (AgentStatus::Exited { code: Some(0) });
    let reviewed = !matches!(row.lifecycle, Lifecycle::Ready | Lifecycle::Active);
    (finished && !reviewed).then_some(Need::Done)
}

/// The slice to go to after `selected`: the waiting ones first, then the
/// failed, then the finished and unreviewed, each in board order, going
/// round; `None` when nobody needs the operator.
pub fn next_needing(board: &Board, selected: usize) -> Option<usize> {
    let mut order: Vec<(Need, usize)> = board
        .slices
        .iter()
        .enumerate()
        .filter_map(|(i, row)| need(row).map(|n| (n, i)))
        .collect();
    order.sort_unstable();
    let next = match order.iter().position(|(_, i)| *i == selected) {
        Some(at) => order.get((at + 1) % order.len()),
        None => order.first(),
    };
    next.map(|(_, i)| *i)
}

/// What a waiting agent asks, from the last lines of its screen: the last
/// line with a question mark among them and what follows it (its
/// choices), at most three lines, else the last line, on one line; `None`
/// for a blank screen.
pub fn asks(screen: &str) -> Option<String> {
    const LOOK: usize = 6;
    const LINES: usize = 3;
    const CHARS: usize = 200;
    let mut last: Vec<&str> = screen
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .rev()
        .take(LOOK)
        .collect();
    last.reverse();
    let from = last
        .iter()
        .rposition(|l| l.contains('?'))
        .unwrap_or(last.len().saturating_sub(1));
    let text = last[from..]
        .iter()
        .take(LINES)
        .copied()
        .collect::<Vec<_>>()
        .join(" · ");
    if text.is_empty() {
        return None;
    }
    Some(if text.chars().count() > CHARS {
        let cut: String = text.chars().take(CHARS - 1).collect();
        format!("{cut}…")
    } else {
        text
    })
}

/// The bytes that answer what a waiting agent asks with `key`, when its
/// question takes that answer: `y` or `n` (and Enter) for a yes/no
/// question, a digit for a numbered choice that offers it (alone in a
/// menu drawn with `❯`, which takes the digit at once; with Enter
/// otherwise). `None` when the key is no answer to it.
pub fn quick_answer(asks: &str, key: char) -> Option<Vec<u8>> {
    let lower = asks.to_lowercase();
    match key {
        'y' | 'n' if lower.contains("y/n") => Some(format!("{key}\r").into_bytes()),
        '1'..='9' => {
            let offered = [format!("{key}."), format!("{key})")].iter().any(|choice| {
                asks.match_indices(choice.as_str()).any(|(at, _)| {
                    let before = asks[..at].chars().next_back();
                    let after = asks[at + choice.len()..].chars().next();
                    before.is_none_or(|c| !c.is_ascii_digit())
                        && after.is_none_or(char::is_whitespace)
                })
            });
            offered.then(|| {
                if asks.contains('❯') {
                    vec![key as u8]
                } else {
                    format!("{key}\r").into_bytes()
                }
            })
        }
        _ => None,
    }
}

/// How long a call keeps the same slice and reason from calling again.
pub const DEBOUNCE: Duration = Duration::from_secs(5);

/// Calls once per slice and reason within a window: a state that
/// flickers back (waiting, busy, waiting) does not call twice.
#[derive(Debug)]
pub struct Debounce {
    window: Duration,
    last: BTreeMap<(Option<SliceName>, Reason), Instant>,
}

impl Debounce {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            last: BTreeMap::new(),
        }
    }

    /// Whether `call` goes out at `now`; remembered when it does. A call
    /// from an event always goes out.
    pub fn admit(&mut self, call: &Call, now: Instant) -> bool {
        if !call.reason.debounced() {
            return true;
        }
        let key = (call.slice.clone(), call.reason);
        if self
            .last
            .get(&key)
            .is_some_and(|at| now.duration_since(*at) < self.window)
        {
            return false;
        }
        self.last
            .retain(|_, at| now.duration_since(*at) < self.window);
        self.last.insert(key, now);
        true
    }
}

/// `[notify]`: which reasons call, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifySpec {
    /// The reasons that call; the rest only show on the board.
    pub on: BTreeSet<Reason>,
    /// Run by the supervisor for each call while no dashboard is attached,
    /// with `SLICEBOARD_NOTIFY_*` in its environment.
    pub command: Option<String>,
    /// The host terminal's bell, from attached dashboards.
    pub bell: bool,
    /// OSC 9 and OSC 777 desktop notifications, from attached dashboards.
    pub desktop: bool,
    /// Nothing calls (the board still shows everything).
    pub quiet: bool,
}

impl Default for NotifySpec {
    fn default() -> Self {
        Self {
            on: Reason::ALL.into_iter().collect(),
            command: None,
            bell: true,
            desktop: true,
            quiet: false,
        }
    }
}

impl NotifySpec {
    /// Whether a call for `reason` goes out at all.
    pub fn calls(&self, reason: Reason) -> bool {
        !self.quiet && self.on.contains(&reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::board::SliceRow;
    use crate::domain::dbt_run::{DbtRun, RunSource, RunStatus};
    use crate::domain::slice::{ActivitySource, Lifecycle};

    fn name(s: &str) -> SliceName {
        SliceName::parse(s).unwrap()
    }

    fn board(rows: &[(&str, AgentStatus, Option<Activity>)]) -> Board {
        let mut board = Board::default();
        for (slice, status, activity) in rows {
            let mut row = SliceRow::new(name(slice), Lifecycle::Active, "/w".into());
            row.status = *status;
            row.activity = *activity;
            board.slices.push(row);
        }
        board
    }

    fn activity(slice: &str, activity: Activity) -> BoardUpdate {
        BoardUpdate::Event {
            event: Event::ActivityChanged {
                slice: name(slice),
                activity,
                source: ActivitySource::Signal,
                origin: None,
            },
            at: None,
        }
    }

    fn reasons(calls: &[Call]) -> Vec<Reason> {
        calls.iter().map(|c| c.reason).collect()
    }

    #[test]
    fn an_agent_calls_once_when_it_starts_waiting_and_when_its_turn_ends() {
        let mut board = board(&[("a", AgentStatus::Running, Some(Activity::Busy))]);
        let mut glance = Glance::of(&board);
        let mut step = |board: &mut Board, update: BoardUpdate| {
            board.apply(&update);
            let after = Glance::of(board);
            let found = calls(&glance, &after, &update);
            glance = after;
            found
        };
        assert_eq!(
            reasons(&step(&mut board, activity("a", Activity::Waiting))),
            [Reason::Waiting]
        );
        // The same state again is no transition.
        assert!(step(&mut board, activity("a", Activity::Waiting)).is_empty());
        assert!(step(&mut board, activity("a", Activity::Busy)).is_empty());
        let done = step(&mut board, activity("a", Activity::Idle));
        assert_eq!(reasons(&done), [Reason::Done]);
        assert_eq!(done[0].text(), "a: finished its turn");
    }

    #[test]
    fn a_failed_exit_a_failed_dbt_run_and_the_queue_emptying_call() {
        let before = board(&[
            ("a", AgentStatus::Running, Some(Activity::Busy)),
            ("b", AgentStatus::Running, None),
        ]);
        let mut after = board(&[
            (
                "a",
                AgentStatus::Exited { code: Some(2) },
                Some(Activity::Busy),
            ),
            ("b", AgentStatus::Running, None),
        ]);
        let mut run = DbtRun::new(RunSource::RunResults, RunStatus::Failed);
        run.invocation_id = Some("i1".into());
        after.slices[1].dbt = Some(run.clone());
        let mut queued = before.clone();
        queued.queue.order = vec![name("a")];
        let found = calls(
            &Glance::of(&queued),
            &Glance::of(&after),
            &BoardUpdate::Flags {
                flags: BTreeMap::new(),
            },
        );
        assert_eq!(
            reasons(&found),
            [Reason::Failed, Reason::DbtFailed, Reason::QueueEmpty]
        );
        assert_eq!(found[0].message, "its agent exited with code 2");
        // The same failed run read again does not call; a new one does.
        let mut again = after.clone();
        let update = BoardUpdate::Flags {
            flags: BTreeMap::new(),
        };
        assert!(calls(&Glance::of(&after), &Glance::of(&again), &update).is_empty());
        run.invocation_id = Some("i2".into());
        again.slices[1].dbt = Some(run);
        assert_eq!(
            reasons(&calls(&Glance::of(&after), &Glance::of(&again), &update)),
            [Reason::DbtFailed]
        );
    }

    #[test]
    fn merges_call_from_their_events() {
        let board = board(&[("a", AgentStatus::NotStarted, None)]);
        let glance = Glance::of(&board);
        let event = |event| BoardUpdate::Event { event, at: None };
        let conflict = event(Event::MergeConflicted {
            slice: name("a"),
            attempt: 1,
            paths: vec!["m.sql".into()],
        });
        let merged = event(Event::Merged {
            slice: name("a"),
            attempt: 2,
            approved: "c".into(),
            branch: "migration".into(),
            from: None,
            commit: "d".into(),
        });
        let found = calls(&glance, &glance, &conflict);
        assert_eq!(found[0].text(), "a: its merge conflicts in m.sql");
        assert_eq!(reasons(&calls(&glance, &glance, &merged)), [Reason::Merged]);
    }

    #[test]
    fn a_call_flickering_back_within_the_window_is_let_through_once() {
        let mut debounce = Debounce::new(Duration::from_secs(5));
        let call = |slice: &str| Call {
            slice: Some(name(slice)),
            reason: Reason::Waiting,
            message: "waits for you".into(),
        };
        let t0 = Instant::now();
        assert!(debounce.admit(&call("a"), t0));
        assert!(!debounce.admit(&call("a"), t0 + Duration::from_secs(2)));
        // Another slice is another call.
        assert!(debounce.admit(&call("b"), t0 + Duration::from_secs(2)));
        assert!(debounce.admit(&call("a"), t0 + Duration::from_secs(6)));
    }

    #[test]
    fn the_jump_goes_round_the_waiting_then_the_failed_then_the_finished() {
        let mut board = board(&[
            ("done", AgentStatus::Running, Some(Activity::Idle)),
            ("busy", AgentStatus::Running, Some(Activity::Busy)),
            ("w1", AgentStatus::Running, Some(Activity::Waiting)),
            ("failed", AgentStatus::Exited { code: Some(1) }, None),
            ("w2", AgentStatus::Running, Some(Activity::Waiting)),
            ("approved", AgentStatus::Exited { code: Some(0) }, None),
        ]);
        board.slices[5].lifecycle = Lifecycle::Approved;
        let mut at = 1;
        let mut visited = Vec::new();
        for _ in 0..5 {
            at = next_needing(&board, at).unwrap();
            visited.push(board.slices[at].name.to_string());
        }
        assert_eq!(visited, ["w1", "w2", "failed", "done", "w1"]);
        let calm = super::tests::board(&[("busy", AgentStatus::Running, Some(Activity::Busy))]);
        assert_eq!(next_needing(&calm, 0), None);
    }

    #[test]
    fn a_waiting_agents_question_is_its_last_lines_on_one_line() {
        let screen = "working...\n\nDo you want to run dbt build?\n  1. Yes\n  2. No\n\n\n";
        assert_eq!(
            asks(screen).as_deref(),
            Some("Do you want to run dbt build? · 1. Yes · 2. No")
        );
        let demo = "## What you own\nChange only these paths\n● Found 4 models\n? Migrate GETDATE()? [y/n]\n";
        assert_eq!(asks(demo).as_deref(), Some("? Migrate GETDATE()? [y/n]"));
        assert_eq!(asks("compiling\n> ").as_deref(), Some(">"));
        assert_eq!(asks("\n  \n"), None);
        let long = "x".repeat(300);
        assert_eq!(asks(&long).map(|t| t.chars().count()), Some(200));
    }

    #[test]
    fn quick_answers_fit_the_question() {
        let menu = "Do you want to proceed? · ❯ 1. Yes · 2. No, and tell Claude";
        assert_eq!(quick_answer(menu, '1'), Some(b"1".to_vec()));
        assert_eq!(quick_answer(menu, '2'), Some(b"2".to_vec()));
        assert_eq!(quick_answer(menu, '3'), None);
        assert_eq!(quick_answer(menu, 'y'), None);
        let yes_no = "? Migrate GETDATE()? [y/n]";
        assert_eq!(quick_answer(yes_no, 'y'), Some(b"y\r".to_vec()));
        assert_eq!(quick_answer(yes_no, 'n'), Some(b"n\r".to_vec()));
        assert_eq!(quick_answer(yes_no, '1'), None);
        let numbered = "Pick one: 1) staging 2) marts 12) docs";
        assert_eq!(quick_answer(numbered, '2'), Some(b"2\r".to_vec()));
        assert_eq!(quick_answer("version 1.2?", '1'), None);
        assert_eq!(quick_answer("only 12) here", '2'), None);
    }

    #[test]
    fn reasons_have_one_name_each_both_ways() {
        for reason in Reason::ALL {
            assert_eq!(Reason::parse(reason.name()), Some(reason));
        }
        assert_eq!(Reason::parse("bell"), None);
        let quiet = NotifySpec {
            quiet: true,
            ..NotifySpec::default()
        };
        assert!(!quiet.calls(Reason::Waiting));
        assert!(NotifySpec::default().calls(Reason::Waiting));
    }
}
