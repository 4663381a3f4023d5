//! The merge queue from a shell: `approve`, `withdraw`, `queue`, `merge`,
//! `clean` and `feedback`; and `send`, a prompt to agents. They go through the repository's supervisor,
//! which owns the queue; one started for a command ends by itself when
//! the command is done (unless an agent or a dashboard keeps it). `queue`
//! starts none: with no supervisor it reads the queue directly.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::domain::queue::{DataDiff, QueueBoard};
use crate::domain::short_commit;
use crate::domain::wire::ClientKind;
use crate::domain::{Command, MergeWhich};
use crate::link::{Link, LinkError};
use crate::workspace::Workspace;

/// Sends a queue command, starting the supervisor if none runs, and
/// prints what it said: stdout when done, stderr (exit 1) when refused.
pub fn run(ws: &Workspace, command: Command) -> anyhow::Result<ExitCode> {
    Ok(said(ask(ws, command)?))
}

/// A command sent to the supervisor that runs for the repository at
/// `cwd`, with the plan file as written (`command` names its slices from
/// it) and none of its checks against the repository's files: the
/// supervisor runs the plan it checked. `None` when none runs, the plan
/// does not load so, or `command` gives none (an unknown slice); the full
/// path then opens the workspace, says why, and starts a supervisor.
pub fn run_on_running(
    cwd: &std::path::Path,
    command: impl FnOnce(&Workspace) -> Option<Command>,
) -> Option<anyhow::Result<ExitCode>> {
    let ws = Workspace::open_unchecked(cwd)?;
    let command = command(&ws)?;
    let mut link = Link::connect(&ws.state_dir.socket_file(), ClientKind::Cli).ok()?;
    Some(link.request(command).map(said).map_err(anyhow::Error::from))
}

/// What the supervisor said, printed: stdout when done, stderr (exit 1)
/// when refused.
fn said(answer: Result<String, String>) -> ExitCode {
    match answer {
        Ok(done) => {
            if !done.is_empty() {
                println!("{done}");
            }
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("error: {why}");
            ExitCode::FAILURE
        }
    }
}

/// A supervisor started here for the command ends by itself once it is
/// done, unless an agent or a dashboard keeps it.
pub(super) fn ask(ws: &Workspace, command: Command) -> anyhow::Result<Result<String, String>> {
    let mut link = crate::supervisor::launch::connect_for_command(ws)?;
    Ok(link.request(command)?)
}

/// `sliceboard send SLICE... -- TEXT`: the prompt to each slice's agent,
/// through the supervisor (started if none runs); every slice is checked
/// before anything is sent, and each one's outcome is printed.
pub fn send(ws: &Workspace, slices: &[String], text: &str) -> anyhow::Result<ExitCode> {
    if text.trim().is_empty() {
        anyhow::bail!(
            "the prompt is empty: write it after `--`, e.g. `sliceboard send staging -- rebase on main`"
        );
    }
    let names = slices
        .iter()
        .map(|s| ws.slice(s).map(|spec| spec.name.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut link = crate::supervisor::launch::connect_for_command(ws)?;
    each_slice(&mut link, names, "sent to", |slice| Command::Prompt {
        slice,
        text: text.to_owned(),
        by_itself: false,
    })
}

/// Sends `command` for each slice over `link`, printing `done SLICE` for
/// each one done and the reason for each one refused (exit 1 if any was).
fn each_slice(
    link: &mut Link,
    slices: Vec<crate::domain::SliceName>,
    done: &str,
    command: impl Fn(crate::domain::SliceName) -> Command,
) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for slice in slices {
        match link.request(command(slice.clone()))? {
            Ok(_) => println!("{done} {slice}"),
            Err(why) => {
                eprintln!("error: {slice}: {why}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `sliceboard up --resume`: every agent (of `slices`, or all) whose run
/// was cut off, that is not running now, restarted with the resume
/// command through the supervisor (started if none runs). A run is cut
/// off when it ended with no exit code: a supervisor never saw it end (it
/// is recorded so on the next start) or a signal ended it; an agent the
/// operator killed, or one that exited, is left alone.
pub fn resume(ws: &Workspace, slices: &[String]) -> anyhow::Result<ExitCode> {
    let wanted = slices
        .iter()
        .map(|s| ws.slice(s).map(|spec| spec.name.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut link = crate::supervisor::launch::connect_for_command(ws)?;
    let report = link
        .request(Command::AgentsReport)?
        .map_err(|why| anyhow::anyhow!("cannot read the agents: {why}"))?;
    let agents: std::collections::BTreeMap<
        crate::domain::SliceName,
        crate::domain::board::AgentReport,
    > = serde_json::from_str(&report).context("the supervisor's agents report")?;
    let cut_off: Vec<_> = agents
        .into_iter()
        .filter(|(slice, agent)| {
            (wanted.is_empty() || wanted.contains(slice))
                && agent.status == crate::domain::AgentStatus::Exited { code: None }
                && agent.left_running.is_none()
        })
        .map(|(slice, _)| slice)
        .collect();
    if cut_off.is_empty() {
        println!("no agent's run was cut off: nothing to resume");
        return Ok(ExitCode::SUCCESS);
    }
    each_slice(
        &mut link,
        cut_off,
        "resumed (its resume command):",
        |slice| Command::RestartAgent { slice },
    )
}

/// The queue of a running supervisor, without starting one.
pub fn running_queue(ws: &Workspace) -> Option<QueueBoard> {
    let mut link = Link::connect(&ws.state_dir.socket_file(), ClientKind::Cli).ok()?;
    let text = link.request(Command::QueueReport).ok()?.ok()?;
    serde_json::from_str(&text).ok()
}

/// `sliceboard merge [SLICE | --all] [--dry-run]`.
pub fn merge(
    ws: &Workspace,
    slice: Option<String>,
    all: bool,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let which = match (slice, all) {
        (Some(_), true) => anyhow::bail!("name a slice or pass --all, not both"),
        (Some(name), false) => MergeWhich::One {
            slice: ws.slice(&name)?.name.clone(),
        },
        (None, true) => MergeWhich::All,
        (None, false) => MergeWhich::Head,
    };
    use std::io::IsTerminal as _;
    // While the merge waits for its checks, a person at a terminal sees
    // which checks run and where their output goes.
    let progress = (!dry_run && std::io::stderr().is_terminal()).then(|| Progress::start(ws));
    let ran = run(ws, Command::Merge { which, dry_run });
    drop(progress);
    ran
}

/// One line on stderr for each check the queue starts while a command
/// waits: the slice, what it is checked on, the attempt and its log.
struct Progress {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(ws: &Workspace) -> Self {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let socket = ws.state_dir.socket_file();
        let stop = done.clone();
        let thread = std::thread::spawn(move || {
            let mut said = std::collections::BTreeSet::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let board: Option<QueueBoard> = Link::connect(&socket, ClientKind::Cli)
                    .ok()
                    .and_then(|mut link| link.request(Command::QueueReport).ok()?.ok())
                    .and_then(|text| serde_json::from_str(&text).ok());
                for line in board.as_ref().map(progress_lines).unwrap_or_default() {
                    if said.insert(line.clone()) {
                        eprintln!("{line}");
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        });
        Self {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The checks running on the board, a line each.
fn progress_lines(board: &QueueBoard) -> Vec<String> {
    let mut lines: Vec<String> = board
        .attempt
        .iter()
        .map(|a| {
            format!(
                "checking {} (attempt {}; its output: .git/sliceboard/{})",
                a.slice,
                a.number,
                a.log()
            )
        })
        .collect();
    for (slice, view) in &board.slices {
        if let Some(note) = &view.speculative {
            lines.push(format!("  {slice}: {note}"));
        }
    }
    lines
}

/// `sliceboard queue` when a supervisor runs for the repository at
/// `cwd`, found from the repository alone (the plan is not checked
/// against the repository's files: the board is the supervisor's). False
/// when none runs, it cannot say, or the plan file does not load; the
/// full path then opens the workspace and says why.
pub fn queue_from_running(cwd: &std::path::Path, json: bool) -> bool {
    let socket = if json {
        let Ok(git) = crate::git::GitRepo::discover(cwd) else {
            return false;
        };
        crate::store::StateDir::for_common_dir(git.common_dir()).socket_file()
    } else {
        // A plan file that does not load is said by the full path, beside
        // the queue of the plan in force.
        let Some(ws) = Workspace::open_unchecked(cwd) else {
            return false;
        };
        ws.state_dir.socket_file()
    };
    let Ok(mut link) = Link::connect(&socket, ClientKind::Cli) else {
        return false;
    };
    let Some(board) = link
        .request(Command::QueueReport)
        .ok()
        .and_then(Result::ok)
        .and_then(|text| serde_json::from_str::<QueueBoard>(&text).ok())
    else {
        return false;
    };
    show(&board, json).is_ok()
}

/// The queue on stdout, as JSON or as a person reads it.
fn show(board: &QueueBoard, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(board)?);
    } else {
        print!("{}", describe(board));
    }
    Ok(())
}

/// `sliceboard queue [--json]`: from the running supervisor, or read
/// directly when none runs (it starts none).
pub fn queue(ws: &Workspace, json: bool) -> anyhow::Result<ExitCode> {
    let board = match Link::connect(&ws.state_dir.socket_file(), ClientKind::Cli) {
        Ok(mut link) => {
            let text = link
                .request(Command::QueueReport)?
                .map_err(anyhow::Error::msg)?;
            serde_json::from_str(&text).context("the supervisor sent an unreadable queue")?
        }
        Err(LinkError::NoSupervisor) => crate::merge_queue::read_board(ws)?,
        Err(err) => return Err(err).context("a supervisor runs but cannot be reached"),
    };
    show(&board, json)?;
    Ok(ExitCode::SUCCESS)
}

/// The queue as a person reads it.
pub fn describe(board: &QueueBoard) -> String {
    let mut out = String::new();
    let tip = board.integration_tip.as_deref().map_or_else(
        || "not created yet".to_owned(),
        |t| format!("at {}", short_commit(t)),
    );
    let check = board
        .check
        .as_deref()
        .map_or_else(|| "no check".to_owned(), |c| format!("check `{c}`"));
    let auto = if board.auto { ", auto-merge on" } else { "" };
    out.push_str(&format!(
        "integration {} {tip}; {check}{auto}\n",
        board.integration
    ));
    if board.held {
        out.push_str(
            "HELD: nothing is approved, told or merged by itself (`sliceboard queue --release`)\n",
        );
    } else if !board.runs_itself.is_empty() {
        out.push_str(&format!(
            "runs itself: {} (`sliceboard queue --hold` holds it)\n",
            board.runs_itself.join(" · ")
        ));
    }
    if let Some(published) = &board.published {
        out.push_str(&format!("last published: {published}\n"));
    }
    if let Some(attempt) = &board.attempt {
        out.push_str(&format!(
            "merging {} now (attempt {}; its output: .git/sliceboard/{})\n",
            attempt.slice,
            attempt.number,
            attempt.log()
        ));
    }
    if board.order.is_empty() {
        out.push_str("queue empty: approve slices to queue them\n");
    }
    for (i, slice) in board.order.iter().enumerate() {
        let view = board.slices.get(slice);
        let approved = view
            .and_then(|v| v.approval.as_ref())
            .map_or_else(String::new, |a| {
                format!(" (approved {})", short_commit(&a.commit))
            });
        let state = match view.and_then(|v| v.going_words(slice)) {
            Some(going) => format!(" {going}"),
            None => view
                .and_then(|v| v.state.as_ref())
                .map_or_else(|| ": ?".to_owned(), |s| format!(": {}", s.describe())),
        };
        let note = view
            .and_then(|v| v.speculative.as_deref())
            .map_or_else(String::new, |n| format!(" ({n})"));
        out.push_str(&format!("{:>3}. {slice}{approved}{state}{note}\n", i + 1));
        for line in view
            .and_then(|v| v.data.as_ref())
            .map(DataDiff::lines)
            .unwrap_or_default()
        {
            out.push_str(&format!("       data: {line}\n"));
        }
    }
    for (slice, commit, new_commits) in board.merged_in_order() {
        let since = match new_commits {
            0 => String::new(),
            n => format!(
                " ({} since; approve it again to merge {})",
                crate::domain::queue::new_commits_phrase(n),
                if n == 1 { "it" } else { "them" }
            ),
        };
        out.push_str(&format!(
            "  merged: {slice} in {}{since}\n",
            short_commit(commit)
        ));
        for line in board
            .slices
            .get(slice)
            .and_then(|v| v.data.as_ref())
            .map(DataDiff::lines)
            .unwrap_or_default()
        {
            out.push_str(&format!("       data: {line}\n"));
        }
    }
    for (slice, view) in &board.slices {
        if view.position.is_none() && !view.conflicts.is_empty() {
            out.push_str(&format!(
                "  ! {slice} would conflict with {} in {}\n",
                board.integration,
                view.conflicts.join(", ")
            ));
        }
    }
    for (slice, view) in &board.slices {
        if let Some(note) = &view.autopilot {
            out.push_str(&format!("  {slice}: {note}\n"));
        }
    }
    // Queued ones say it in their line above.
    for view in board.slices.values().filter(|v| v.position.is_none()) {
        if let Some(going) = &view.going {
            out.push_str(&format!("  {going}\n"));
        }
    }
    for pair in &board.pairs {
        out.push_str(&format!(
            "  ! {} and {} conflict with each other in {}\n",
            pair.a,
            pair.b,
            pair.paths.join(", ")
        ));
    }
    out
}
