//! The merge queue: approved slices merge into the integration branch in
//! `after` order, each merge made in memory, checked in an integration
//! worktree sliceboard owns, and published by a compare-and-swap of the
//! branch, so the integration branch only ever moves to a commit that
//! merged cleanly and passed the check.
//!
//! Runs in the supervisor process on a thread of its own ([`spawn`]); the
//! socket server hands it the queue's commands (approve, withdraw, merge,
//! clean, feedback, the queue report) through a [`QueueHandle`]. It owns
//! the integration worktree, the check process and `merge/` in the state
//! folder; it changes `state.json` only through the supervisor's
//! [`StateStore`] (which journals those changes), reading the state from
//! it again only when the store's generation moved (branch tips are still
//! read every tick), journals everything else it does, and publishes the board's
//! [`QueueBoard`]. Agents are reached only through the supervisor's
//! handle (feedback prompts, `down` for `clean`).
//!
//! - `review`: what approving a slice should make the operator look at.
//! - `refresh`: branch tips, stale approvals, conflict previews (against
//!   the integration tip and between active slices) and the board.
//! - `attempt`: one merge: in-memory merge commit, the CAS, the
//!   checked-out integration worktree, and recovery after a crash.
//! - `check`: the attempt's `[merge] check`: started in the integration
//!   worktree, its output live, what its end means.
//! - `speculate`: `[merge] parallel`: queue entries checked at once, each
//!   on the tip plus the entries ahead of it, landing in order.
//! - `data`: `[merge] data_diff`: rows and columns before and after.
//! - `feedback`: the prompt an agent gets.
//! - `clean`: a worktree removed on purpose; its branch deleted only when
//!   the integration branch holds all of it, else kept under
//!   `sliceboard/cleaned/`.

mod attempt;
mod autopilot;
mod batch;
mod check;
mod clean;
mod data;
mod feedback;
mod pick;
mod planner_review;
mod publish;

pub use clean::CLEANED_PREFIX;
pub use pick::RETIRED_PREFIX;
mod refresh;
pub use refresh::read_board;
mod review;
mod speculate;

pub(crate) use attempt::reset_integration_worktree;

use crate::domain::short_commit;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::agents::{AgentsHandle, EventSink, Outcome, Reply};
use crate::domain::board::{Board, BoardUpdate};
use crate::domain::queue::QueueBoard;
use crate::domain::{Command, Event, Lifecycle, MergeWhich, SliceName};
use crate::git::MergeEngine;
use crate::store::{Actor, Entry, Snapshot, State, StateStore};
use crate::workspace::Workspace;

use check::Running;
use refresh::Facts;

/// How the queue reads a slice's uncommitted work (see [`QueueDeps::dirt`]).
pub type DirtReader =
    Arc<dyn Fn(&SliceName, &std::path::Path) -> Result<crate::git::Dirt, String> + Send + Sync>;

/// What the queue needs from the process it runs in.
pub struct QueueDeps {
    /// The repository's main worktree.
    pub root: PathBuf,
    /// The supervisor's state (and its lock, held for the process's life).
    pub state: StateStore,
    /// The board as the hub holds it (flags, dbt runs), for approvals.
    pub board: Arc<dyn Fn() -> Board + Send + Sync>,
    /// Board updates out (the queue's own part of the board).
    pub publish: Arc<dyn Fn(BoardUpdate) + Send + Sync>,
    /// Journaled events out to the dashboards.
    pub report: EventSink,
    /// The agents, for feedback prompts and removing worktrees.
    pub agents: AgentsHandle,
    /// A slice's uncommitted work, for approvals: read through the live
    /// diffs, as fresh as the files.
    pub dirt: DirtReader,
}

/// How often branch tips are read again when nothing says they moved: a
/// safety net for a lost file event. The hub and the live diffs poke the
/// queue when what it reads changes, and the live diffs also when their
/// events overflowed and at their own resync (every five minutes).
const SAFETY: Duration = Duration::from_secs(600);
/// How often while a merge asked for waits its turn.
const TICK: Duration = Duration::from_secs(1);
/// The least time between two reads of the tips: a burst of pokes (an
/// agent writing files, a dbt run's log) is read once.
const MIN_GAP: Duration = Duration::from_millis(200);
/// How long an automatic merge that was refused waits before it is tried
/// again (the operator's key tries at once).
const AUTO_RETRY: Duration = Duration::from_secs(30);
/// How long a stopping queue waits for the cleans whose worktrees are
/// coming down.
const CLEAN_AT_STOP: Duration = Duration::from_secs(10);
/// How often while a check runs (its output arrives by itself).
const CHECK_TICK: Duration = Duration::from_millis(200);

enum Msg {
    Request {
        command: Command,
        reply: Reply,
    },
    CheckOutput {
        attempt: u64,
        lines: Vec<String>,
    },
    CheckExited {
        attempt: u64,
        code: Option<i32>,
    },
    /// The plan file changed and the new plan is in force.
    UsePlan(Box<crate::domain::Plan>),
    /// A clean's `down` answered: the rest of the clean.
    Downed(Box<clean::Cleaning>, Outcome),
    /// The pick's siblings came down (or did not, and why): the rest of
    /// the pick.
    SiblingsDown(pick::Downs),
    /// Something the queue reads changed: look again.
    Poke,
    Stop,
}

/// Waits for the agents' answer to a request (blocking: the queue's
/// thread, or a thread of its own).
fn answer(outcome: tokio::sync::oneshot::Receiver<Outcome>) -> Outcome {
    outcome
        .blocking_recv()
        .unwrap_or_else(|_| Err("the supervisor did not answer".into()))
}

/// Sends commands to the queue's thread.
#[derive(Clone)]
pub struct QueueHandle {
    tx: mpsc::Sender<Msg>,
    /// A merge runs or waits to, or a clean or a pick waits for worktrees
    /// to come down: the supervisor must not end by itself.
    busy: Arc<AtomicBool>,
}

impl QueueHandle {
    /// Sends a queue command; the outcome arrives when it is done (a
    /// merge's after its check).
    pub fn request(&self, command: Command) -> tokio::sync::oneshot::Receiver<Outcome> {
        let (reply, outcome) = tokio::sync::oneshot::channel();
        if let Err(mpsc::SendError(Msg::Request { reply, .. })) =
            self.tx.send(Msg::Request { command, reply })
        {
            let _ = reply.send(Err("the merge queue has stopped".into()));
        }
        outcome
    }

    /// Puts a plan that changed live in force: slices it added can be
    /// approved and merged, `after` is read from it.
    pub fn use_plan(&self, plan: crate::domain::Plan) {
        let _ = self.tx.send(Msg::UsePlan(Box::new(plan)));
    }

    /// Says something the queue reads changed (a branch, an agent's state,
    /// a dbt run): it looks again soon.
    pub fn poke(&self) {
        let _ = self.tx.send(Msg::Poke);
    }

    /// Stops the queue: a running check is stopped and its attempt
    /// recorded as interrupted.
    pub fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
    }

    /// Whether a merge attempt runs, a merge (asked for, or `auto`'s)
    /// waits for its turn, or a clean or a pick waits for worktrees to
    /// come down.
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }
}

/// Starts the queue on a thread of its own.
pub fn spawn(deps: QueueDeps) -> anyhow::Result<(QueueHandle, std::thread::JoinHandle<()>)> {
    let (tx, inbox) = mpsc::channel();
    let busy = Arc::new(AtomicBool::new(false));
    let handle = QueueHandle {
        tx: tx.clone(),
        busy: busy.clone(),
    };
    let ws = Workspace::open(&deps.root)?;
    let engine = MergeEngine::open(ws.git.common_dir())?;
    let thread = std::thread::Builder::new()
        .name("merge-queue".into())
        .spawn(move || {
            let mut queue = MergeQueue {
                deps,
                ws,
                engine,
                inbox,
                inbox_tx: tx,
                jobs: VecDeque::new(),
                busy,
                running: None,
                facts: Facts::default(),
                seen: None,
                shown: None,
                check_output: VecDeque::new(),
                output_of: None,
                refused: BTreeMap::new(),
                autopilot: autopilot::Autopilot::default(),
                published: None,
                published_commit: None,
                batch: None,
                speculation: None,
                data_diffs: BTreeMap::new(),
                cleaning: BTreeSet::new(),
                retiring: BTreeMap::new(),
                picking: None,
                stopping: false,
            };
            queue.run();
        })?;
    Ok((handle, thread))
}

/// A merge someone asked for (or `auto` started), until it is answered.
struct Job {
    which: MergeWhich,
    reply: Option<Reply>,
    /// What this job merged so far (`All` goes on after each).
    merged: Vec<String>,
    /// Slices this job tried and could not merge, and why (`All` goes on
    /// past them and names them at the end).
    failed: Vec<(SliceName, String)>,
    /// Attempts lost to someone else moving the integration branch.
    lost_races: u32,
}

/// How an attempt ended.
enum Ended {
    Merged {
        slice: SliceName,
        commit: String,
    },
    Failed {
        slice: SliceName,
        reason: String,
    },
    /// The integration branch moved during the attempt; nothing was lost,
    /// the slice may be tried again on the new tip.
    Raced {
        slice: SliceName,
        reason: String,
    },
    /// A batch is over: what landed (with each merge commit) and what
    /// failed and why.
    Batch {
        merged: Vec<(SliceName, String)>,
        failed: Vec<(SliceName, String)>,
    },
}

struct MergeQueue {
    deps: QueueDeps,
    ws: Workspace,
    engine: MergeEngine,
    inbox: mpsc::Receiver<Msg>,
    inbox_tx: mpsc::Sender<Msg>,
    jobs: VecDeque<Job>,
    /// Shared with every [`QueueHandle`]: set while `running` or `jobs` hold anything.
    busy: Arc<AtomicBool>,
    running: Option<Running>,
    facts: Facts,
    /// The state as the queue last took it; taken again only when the
    /// store says it changed.
    seen: Option<Snapshot>,
    /// The board last published.
    shown: Option<QueueBoard>,
    check_output: VecDeque<String>,
    /// The attempt `check_output` is the output of.
    output_of: Option<crate::domain::queue::AttemptView>,
    /// The last refusal before an attempt, per slice: journaled once, and
    /// holding automatic merges back a while.
    refused: BTreeMap<SliceName, (String, Instant)>,
    /// What the queue remembers about running itself.
    autopilot: autopilot::Autopilot,
    /// What the last publish did, for the Queue view, and the commit it
    /// pushed (publishing by itself skips a tip already published).
    published: Option<String>,
    published_commit: Option<String>,
    /// The batch being checked or bisected.
    batch: Option<batch::Batch>,
    /// The speculative checks in play (`[merge] parallel`).
    speculation: Option<speculate::Speculation>,
    /// What each slice's last passing check did to the data.
    data_diffs: BTreeMap<SliceName, crate::domain::queue::DataDiff>,
    /// Slices whose clean waits for their worktree to come down.
    cleaning: BTreeSet<SliceName>,
    /// Variants a pick retires whose worktrees are coming down, and the
    /// variant picked.
    retiring: BTreeMap<SliceName, SliceName>,
    /// The pick whose siblings those are, until it answers.
    picking: Option<pick::Picking>,
    /// The queue is on its way out: the agents refuse what it asks.
    stopping: bool,
}

impl MergeQueue {
    fn run(&mut self) {
        self.recover();
        self.recover_lanes();
        self.recover_pick();
        self.read_hold();
        self.refresh();
        let mut last = std::time::Instant::now();
        'run: loop {
            // Pokes wait out the gap since the last look; anything else,
            // or a deadline, is acted on at once.
            let mut poked = false;
            let mut act = false;
            let wait = self.idle_wait();
            match self.inbox.recv_timeout(wait) {
                Ok(Msg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break 'run,
                Ok(Msg::Poke) => poked = true,
                Ok(message) => {
                    self.receive(message);
                    act = true;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => act = true,
            }
            // A poke waits out the gap; a request in the meantime is
            // served at once (a command's round trip never waits on it).
            while poked && !act {
                let gap = MIN_GAP.saturating_sub(last.elapsed());
                if gap.is_zero() {
                    break;
                }
                match self.inbox.recv_timeout(gap) {
                    Ok(Msg::Poke) => {}
                    Ok(Msg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break 'run,
                    Ok(message) => {
                        self.receive(message);
                        act = true;
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                }
            }
            while let Ok(next) = self.inbox.try_recv() {
                match next {
                    Msg::Stop => {
                        self.stop();
                        return;
                    }
                    Msg::Poke => {}
                    other => self.receive(other),
                }
            }
            last = std::time::Instant::now();
            self.refresh();
            let board = self.board_for_autopilot();
            let notes = self.autopilot.notes.clone();
            self.approve_green(board.as_ref());
            self.tell_upstream_merged(board.as_ref());
            self.conflicts_in_the_queue();
            self.advance();
            // What the autopilot did and says goes out now, not with the
            // next thing that wakes the queue (maybe minutes away).
            let seen = self.seen.as_ref().map(|s| s.generation);
            if self.autopilot.notes != notes || seen != Some(self.deps.state.generation()) {
                self.refresh();
            }
            self.busy.store(
                self.checks_running() || !self.jobs.is_empty() || self.taking_down(),
                Ordering::SeqCst,
            );
        }
        self.stop();
    }

    /// How long the queue may sleep when nothing arrives: a check's
    /// output and end come as messages, but its lanes are looked at
    /// often; a merge waiting its turn is tried every second; a refused
    /// automatic merge is tried again when its wait is over; otherwise
    /// only the safety net.
    fn idle_wait(&self) -> Duration {
        if self.checks_running() {
            return CHECK_TICK;
        }
        if !self.jobs.is_empty() {
            return TICK;
        }
        self.refused
            .values()
            .filter(|(_, at)| at.elapsed() < AUTO_RETRY)
            .map(|(_, at)| AUTO_RETRY.saturating_sub(at.elapsed()) + Duration::from_millis(10))
            .chain([SAFETY])
            .min()
            .unwrap_or(SAFETY)
    }

    fn receive(&mut self, message: Msg) {
        match message {
            Msg::Request { command, reply } => self.request(command, reply),
            Msg::CheckOutput { attempt, lines } => self.check_output(attempt, lines),
            Msg::CheckExited { attempt, code } => {
                if let Some(ended) = self.check_exited(attempt, code) {
                    self.conclude(ended);
                }
            }
            Msg::UsePlan(plan) => self.ws.plan = *plan,
            Msg::Downed(cleaning, down) => self.cleaned(*cleaning, down),
            Msg::SiblingsDown(downs) => self.siblings_down(downs),
            Msg::Poke | Msg::Stop => {}
        }
    }

    fn request(&mut self, command: Command, reply: Reply) {
        let outcome = match command {
            Command::Merge {
                which,
                dry_run: false,
            } => {
                self.jobs.push_back(Job {
                    which,
                    reply: Some(reply),
                    merged: Vec::new(),
                    failed: Vec::new(),
                    lost_races: 0,
                });
                self.refresh();
                self.advance();
                return;
            }
            Command::Merge {
                which,
                dry_run: true,
            } => self.dry_run(&which),
            Command::Approve { slice, force } => {
                let approved = self.approve(&slice, force);
                if approved.is_ok() {
                    self.approved_by_operator(&slice);
                }
                approved
            }
            Command::WithdrawApproval { slice } => {
                let tip = self
                    .state()
                    .slices
                    .get(&slice)
                    .and_then(|r| self.engine.tip(&r.branch).ok().flatten())
                    .map(|t| t.to_string());
                let withdrawn = self.withdraw(&slice);
                if withdrawn.is_ok() {
                    self.withdrawn_by_operator(&slice, tip);
                }
                withdrawn
            }
            Command::HoldQueue { held } => self.hold(held),
            Command::Publish => self.publish(Actor::Operator),
            Command::Clean { slice, force } => {
                self.clean(&slice, force, reply);
                return;
            }
            Command::Pick { slice, force } => {
                self.pick_variant(&slice, force, reply);
                return;
            }
            Command::Review => self.send_review(),
            Command::SendFeedback { slice } => self.send_feedback(&slice),
            Command::QueueReport => {
                self.refresh();
                serde_json::to_string_pretty(&self.board()).map_err(|e| e.to_string())
            }
            other => Err(format!("the merge queue does not handle {other:?}")),
        };
        self.refresh();
        let _ = reply.send(outcome);
    }

    /// Whether a check runs (or speculative checks are in play).
    fn checks_running(&self) -> bool {
        self.running.is_some()
            || self.speculation.is_some()
            || self.batch.as_ref().is_some_and(|b| !b.probes().is_empty())
    }

    /// Starts what the jobs at the front ask for, one attempt at a time
    /// (or, with `[merge] parallel`, speculative checks that take ready
    /// slices as lanes free up).
    fn advance(&mut self) {
        if self.speculation.is_some() {
            if let Some(ended) = self.settle() {
                self.conclude(ended);
                self.refresh();
            } else {
                return;
            }
        }
        let mut auto_asked = false;
        while !self.checks_running() {
            if self.jobs.is_empty() {
                // At most one automatic merge per pass: a refused one
                // must not spin.
                if auto_asked || !self.auto_job() {
                    return;
                }
                auto_asked = true;
            }
            let Some(job) = self.jobs.front() else { return };
            // `merge --all` and the queue's own merges go in batches, or
            // are checked speculatively.
            let own = job.which == MergeWhich::Head && job.reply.is_none();
            let many = job.which == MergeWhich::All || own;
            let merge = &self.ws.plan.merge;
            if many && merge.parallel > 1 && merge.batch == 1 && merge.check.is_some() {
                let tried: Vec<SliceName> = job.failed.iter().map(|(s, _)| s.clone()).collect();
                let slices = self.pick_batch(&tried.iter().collect::<Vec<_>>(), merge.parallel);
                if !slices.is_empty() {
                    if let Some(ended) = self.begin_speculation(slices, tried, own) {
                        self.conclude(ended);
                    }
                    self.refresh();
                    continue;
                }
            }
            let batched = self.ws.plan.merge.batch > 1 && many;
            if batched {
                let tried: Vec<&SliceName> = job.failed.iter().map(|(s, _)| s).collect();
                let slices = self.pick_batch(&tried, self.ws.plan.merge.batch);
                if slices.len() > 1 {
                    if let Some(ended) = self.begin_batch(slices) {
                        self.conclude(ended);
                    }
                    self.refresh();
                    continue;
                }
            }
            let pick = match job.which {
                MergeWhich::All if !job.merged.is_empty() || !job.failed.is_empty() => {
                    let tried: Vec<&SliceName> = job.failed.iter().map(|(s, _)| s).collect();
                    self.pick_untried(&tried)
                }
                _ => self.pick(&job.which),
            };
            match pick {
                Ok(slice) => {
                    if let Some(ended) = self.begin(&slice) {
                        self.conclude(ended);
                    }
                }
                Err(why) => {
                    let Some(job) = self.jobs.pop_front() else {
                        return;
                    };
                    let outcome = if job.merged.is_empty() && job.failed.is_empty() {
                        Err(why)
                    } else {
                        self.all_done(&job)
                    };
                    if let Some(reply) = job.reply {
                        let _ = reply.send(outcome);
                    }
                }
            }
            self.refresh();
        }
    }

    /// With `[merge] auto`, a job for the queue's head once it is ready
    /// (a head whose automatic merge was refused waits [`AUTO_RETRY`]).
    fn auto_job(&mut self) -> bool {
        if !self.ws.plan.merge.auto || self.held() {
            return false;
        }
        let Ok(head) = self.pick(&MergeWhich::Head) else {
            return false;
        };
        if self
            .refused
            .get(&head)
            .is_some_and(|(_, at)| at.elapsed() < AUTO_RETRY)
        {
            return false;
        }
        self.jobs.push_back(Job {
            which: MergeWhich::Head,
            reply: None,
            merged: Vec::new(),
            failed: Vec::new(),
            lost_races: 0,
        });
        true
    }

    /// What an ended attempt means for the job that asked for it.
    fn conclude(&mut self, ended: Ended) {
        self.refresh();
        let landed = match &ended {
            Ended::Merged { .. } => true,
            Ended::Batch { merged, .. } => !merged.is_empty(),
            _ => false,
        };
        if landed {
            self.publish_when_empty();
        }
        let Some(job) = self.jobs.front_mut() else {
            return;
        };
        let finished = match ended {
            Ended::Merged { slice, commit } => {
                job.merged.push(format!(
                    "merged {slice} into {} ({})",
                    self.ws.plan.integration,
                    short_commit(&commit)
                ));
                match job.which {
                    MergeWhich::All => None,
                    _ => Some(Ok(job.merged.join("\n"))),
                }
            }
            Ended::Batch { merged, failed } => {
                let integration = self.ws.plan.integration.clone();
                job.merged.extend(merged.into_iter().map(|(slice, commit)| {
                    format!(
                        "merged {slice} into {integration} ({})",
                        short_commit(&commit)
                    )
                }));
                match job.which {
                    MergeWhich::All => {
                        job.failed.extend(failed);
                        None
                    }
                    _ if failed.is_empty() => Some(Ok(job.merged.join("\n"))),
                    _ => {
                        let mut said = job.merged.clone();
                        said.extend(
                            failed
                                .iter()
                                .map(|(slice, why)| format!("{slice} did not merge: {why}")),
                        );
                        Some(Err(said.join("\n")))
                    }
                }
            }
            Ended::Raced { reason, .. } if job.lost_races < 3 => {
                job.lost_races += 1;
                tracing::info!(%reason, "trying the merge again on the new tip");
                None
            }
            // `All` goes on with the next ready slice, and names this one
            // at the end.
            Ended::Raced { slice, reason } | Ended::Failed { slice, reason }
                if job.which == MergeWhich::All =>
            {
                job.lost_races = 0;
                job.failed.push((slice, reason));
                None
            }
            Ended::Raced { slice, reason } | Ended::Failed { slice, reason } => {
                let mut said = job.merged.clone();
                said.push(format!("{slice} did not merge: {reason}"));
                Some(Err(said.join("\n")))
            }
        };
        if let Some(outcome) = finished
            && let Some(job) = self.jobs.pop_front()
            && let Some(reply) = job.reply
        {
            let _ = reply.send(outcome);
        }
    }

    /// On the way out: a running check is stopped, its attempt recorded
    /// as interrupted, and whoever waits is told.
    fn stop(&mut self) {
        self.stopping = true;
        self.interrupt();
        for job in self.jobs.drain(..) {
            if let Some(reply) = job.reply {
                let _ = reply.send(Err("the supervisor is shutting down".into()));
            }
        }
        self.finish_downs();
    }

    /// Whether a clean or a pick waits for worktrees to come down.
    fn taking_down(&self) -> bool {
        !self.cleaning.is_empty() || !self.retiring.is_empty()
    }

    /// Why `slice` is on its way out (a clean or a pick takes its
    /// worktree down), for refusals; `None` when it is not.
    fn going(&self, slice: &SliceName) -> Option<String> {
        if self.cleaning.contains(slice) {
            return Some(format!(
                "{slice} is being cleaned: its worktree is coming down"
            ));
        }
        self.retiring.get(slice).map(|picked| {
            format!(
                "{slice} is being retired: {picked} was picked, and its worktree is coming down"
            )
        })
    }

    /// Runs `work` on a thread of its own and hands its message to the
    /// queue's inbox, so that waiting for agents and worktrees never holds
    /// the queue. When no thread can start, the work is done here.
    fn off_thread(&mut self, name: &str, work: Box<dyn FnOnce() -> Msg + Send>) {
        let (job, next) = mpsc::channel::<Box<dyn FnOnce() -> Msg + Send>>();
        let inbox = self.inbox_tx.clone();
        let spawned = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                if let Ok(work) = next.recv() {
                    let _ = inbox.send(work());
                }
            });
        match spawned {
            Ok(_) => {
                let _ = job.send(work);
            }
            Err(err) => {
                tracing::warn!(%err, name, "no thread for the wait; waiting on the queue's own");
                self.receive(work());
            }
        }
    }

    /// A clean or a pick whose worktrees are coming down is finished
    /// before the queue ends (the agents stop after it, so its `down` can
    /// still answer): otherwise a worktree would go and its branch and
    /// record stay as they were. Bounded: what does not answer in time
    /// stays so, and says so (a pick's record finishes it on the next
    /// start).
    fn finish_downs(&mut self) {
        let deadline = std::time::Instant::now() + CLEAN_AT_STOP;
        while self.taking_down() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.inbox.recv_timeout(left) {
                Ok(Msg::Downed(cleaning, down)) => self.cleaned(*cleaning, down),
                Ok(Msg::SiblingsDown(downs)) => self.siblings_down(downs),
                Ok(Msg::Request { reply, .. }) => {
                    let _ = reply.send(Err("the supervisor is shutting down".into()));
                }
                Ok(_) => {}
                Err(_) => {
                    for slice in &self.cleaning {
                        tracing::warn!(%slice, "the supervisor ended before this clean's worktree came down; run `sliceboard clean` again");
                    }
                    for (slice, picked) in &self.retiring {
                        tracing::warn!(%slice, %picked, "the supervisor ended before this retired variant's worktree came down; the next supervisor finishes the pick");
                    }
                    self.pick_cut_off();
                    break;
                }
            }
        }
    }

    /// Journals an event and shows it on the board.
    fn record(&self, actor: Actor, event: Event) {
        if let Err(err) = self.ws.state_dir.journal().record(actor, event.clone()) {
            tracing::warn!(%err, "cannot journal a merge-queue event");
        }
        (self.deps.report)(event);
    }

    /// Changes the state through the store; what the change journaled
    /// goes to the dashboards too.
    fn change(&self, change: impl FnOnce(&mut State) -> Vec<Entry>) -> Result<(), String> {
        let events = self.deps.state.update(change).map_err(|e| e.to_string())?;
        events.into_iter().for_each(|e| (self.deps.report)(e));
        Ok(())
    }

    /// The state as it is now (in memory: nothing is read from disk).
    fn state(&self) -> Arc<State> {
        self.deps.state.snapshot().state
    }

    /// The state for a tick: the one last taken, unless the store's
    /// generation says it changed since.
    fn state_for_tick(&mut self) -> Arc<State> {
        let store = &self.deps.state;
        let seen = match self.seen.take() {
            Some(seen) => store.changed_since(seen.generation).unwrap_or(seen),
            None => store.snapshot(),
        };
        let state = seen.state.clone();
        self.seen = Some(seen);
        state
    }

    /// Sends a command to the agents' supervisor and waits for its
    /// outcome, on the queue's thread.
    fn ask_agents(&self, command: Command) -> Outcome {
        answer(self.deps.agents.request(command))
    }

    /// The record of a slice whose worktree went on purpose (`to` is
    /// `Cleaned` or `Retired`): its branch is the name its commits are
    /// kept under (unchanged when `None`), and no tip is watched any more;
    /// `entries` say so in the journal.
    fn record_gone_on_purpose(
        &self,
        slice: &SliceName,
        to: Lifecycle,
        kept_as: Option<&str>,
        entries: Vec<Entry>,
    ) -> Result<(), String> {
        self.change(|state| {
            if let Some(record) = state.slices.get_mut(slice) {
                record.lifecycle = to;
                if let Some(kept) = kept_as {
                    kept.clone_into(&mut record.branch);
                }
                record.last_seen_tip = None;
                // Its ports are free for other slices again.
                record.ports.clear();
                record.updated_at = jiff::Timestamp::now();
            }
            entries
        })
    }
}
